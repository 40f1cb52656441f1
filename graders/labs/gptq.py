"""Problem module of the ``gptq`` lab: GPTQ codes and scales for one linear layer.

Inputs are a weight W [N, K] and H = X^T X from calibration activations X drawn with the structure of
real ones (a low-rank part with a decaying spectrum, isotropic noise, per-channel scales and a few
outlier channels, at least K rows): on isotropic X, GPTQ fits the sampling noise and loses to
round-to-nearest on held-out inputs, which would teach the wrong lesson. The check compares codes and
the layer error tr((W - W_hat) H (W - W_hat)^T) with the reference's; when it fails, it replays the
known mistakes (no compensation, H instead of H^-1, a flipped sign, an H^-1 never reduced, scales from
the original weights, dead channels kept) and names the one the submission's codes match.
"""

from __future__ import annotations

import math

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("gptq_quantize",)


def activation_model(K: int, seed: int) -> dict:
    """A fixed distribution of K-dim activations: low-rank directions, channel scales, outlier channels."""
    g = torch.Generator().manual_seed(seed)
    rank = max(4, K // 4)
    return {
        "basis": torch.randn(rank, K, generator=g),
        "spectrum": torch.logspace(0, -1.5, rank),
        "channel_scale": torch.exp(0.5 * torch.randn(K, generator=g)),
        "outliers": torch.randperm(K, generator=g)[: max(1, K // 64)],
    }


def sample_activations(model: dict, rows: int, seed: int, noise: float = 1.0) -> torch.Tensor:
    """rows samples [rows, K] (float32) from activation_model's distribution."""
    g = torch.Generator().manual_seed(seed)
    rank, K = model["basis"].shape
    X = (torch.randn(rows, rank, generator=g) * model["spectrum"]) @ model["basis"]
    X += noise * torch.randn(rows, K, generator=g)
    X *= model["channel_scale"]
    X[:, model["outliers"]] *= 20.0
    return X


def make_inputs(case: dict, seed: int) -> dict:
    """Case keys: n, k, group_size, bits, and optionally rows (>= k, default 2k), dead (zero channels), damp."""
    N, K = int(case["n"]), int(case["k"])
    rows = max(K, int(case.get("rows", 2 * K)))
    g = torch.Generator().manual_seed(seed)
    X = sample_activations(activation_model(K, seed), rows, seed + 1)
    dead = int(case.get("dead", 0))
    if dead:
        X[:, torch.randperm(K, generator=g)[:dead]] = 0.0
    W = 0.02 * torch.randn(N, K, generator=g)
    W = torch.where(torch.rand(N, K, generator=g) < 0.002, 6 * W, W)  # a few large weights
    return {
        "W": W,
        "H": X.T @ X,
        "bits": int(case.get("bits", 4)),
        "group_size": int(case.get("group_size", 128)),
        "damp": float(case.get("damp", 0.01)),
    }


def invoke(impl, inputs: dict) -> dict:
    codes, scales = impl.gptq_quantize(
        inputs["W"], inputs["H"], bits=inputs["bits"], group_size=inputs["group_size"], damp=inputs["damp"]
    )
    return {"codes": codes, "scales": scales}




# --- replaying known mistakes (float64, unblocked) to tell the learner which one they made ---------------

MISTAKES = {
    "rtn": "your codes are plain round-to-nearest: there is no error compensation. After quantizing "
    "column q, every later column j must absorb its error: w_j ← w_j − (w_q − Q(w_q)) / [H⁻¹]_qq · [H⁻¹]_jq",
    "hessian": "your codes match compensation with H instead of H⁻¹: the OBS update that minimises "
    "δᵀHδ under the constraint on w_q is δ = −(w_q − Q(w_q)) / [H⁻¹]_qq · H⁻¹e_q, so it needs the inverse",
    "flipped": "your codes match the OBS update with a flipped sign: later columns must move to cancel the "
    "error, w_j ← w_j − (w_q − Q(w_q)) / [H⁻¹]_qq · [H⁻¹]_jq, not add it",
    "unreduced": "this is what happens when H⁻¹ is not reduced as columns are quantized: a quantized column "
    "can no longer move, so the compensation for column q must use the inverse of H restricted to the columns "
    "not yet quantized (drop the quantized rows and columns and invert again, or use row q of the upper "
    "Cholesky factor of H⁻¹, which is that reduced inverse's column q up to a factor). The original H⁻¹ "
    "still counts on the quantized columns to absorb error, so every later update, and with it later codes, "
    "comes out different, and the layer error is worse",
    "stale_scales": "your codes match group scales taken from the original weights (what AutoGPTQ calls "
    "static groups): a valid variant with a similar layer error, but this lab's contract takes each group's "
    "scale as max|W| over its columns of the current weights, after the updates of every earlier column",
    "dead_kept": "your codes differ where diag(H) = 0: those input channels never fire on the calibration "
    "set, so the contract sets H_ii = 1 and zeroes their weights",
}


def _coefficients(H: torch.Tensor, damp: float, mode: str, factor: tuple) -> torch.Tensor:
    """R[q, j] such that after column q, w_j -= (w_q - Q(w_q)) * R[q, j] (float64). ``factor`` is
    inverse_cholesky(H, damp), made once for every mode replayed on the same inputs."""
    U, dead = factor
    if mode in ("ok", "stale_scales", "dead_kept"):
        return U / U.diagonal()[:, None]
    if mode == "flipped":
        return -U / U.diagonal()[:, None]
    if mode == "rtn":
        return torch.zeros_like(U)
    Hd = H.to(torch.float64).clone()
    d = Hd.diagonal()
    d[dead] = 1.0
    d += damp * d.mean()
    M = torch.cholesky_inverse(torch.linalg.cholesky(Hd)) if mode == "unreduced" else Hd
    return (M / M.diagonal()[None, :]).T  # R[q, j] = M[j, q] / M[q, q]


def replay(inputs: dict, mode: str = "ok", factor: tuple | None = None) -> torch.Tensor:
    """Codes of GPTQ with one deliberate mistake (`mode` is a key of MISTAKES, or "ok")."""
    from kernels.gptq import inverse_cholesky
    W, H = inputs["W"].detach().cpu().to(torch.float64), inputs["H"].detach().cpu()
    bits, g, damp = inputs["bits"], inputs["group_size"], inputs["damp"]
    qmax = 2 ** (bits - 1) - 1
    R = _coefficients(H, damp, mode, factor or inverse_cholesky(H, damp))
    W = W.clone()
    if mode != "dead_kept":
        W[:, H.diagonal() == 0] = 0
    W0 = W.clone()
    codes = torch.empty(W.shape, dtype=torch.int8)
    for q in range(W.shape[1]):
        if q % g == 0:
            src = W0 if mode == "stale_scales" else W
            s = (src[:, q : q + g].abs().amax(dim=1) / qmax).clamp(min=1e-8)
        c = torch.round(W[:, q] / s).clamp(-qmax - 1, qmax)
        codes[:, q] = c.to(torch.int8)
        W[:, q + 1 :] -= (W[:, q] - c * s)[:, None] * R[q, q + 1 :][None, :]
    return codes


def _match(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a == b).to(torch.float64).mean()) if a.numel() else 1.0


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    from kernels.gptq import dequantize, layer_error
    min_match = float(accuracy.get("min_code_match", 0.99))
    max_ratio = float(accuracy.get("max_error_ratio", 1.005))
    for name in ("codes", "scales"):
        why = tensor_problem(got, name, expected[name])
        if why:
            return CaseCheck(False, why)
    codes, scales = got["codes"].detach().cpu(), got["scales"].detach().cpu()
    qmax = 2 ** (inputs["bits"] - 1) - 1
    out_of_range = (codes < -qmax - 1) | (codes > qmax)
    if out_of_range.any():
        bad = int(codes[out_of_range][0])
        return CaseCheck(False, f"codes must lie in [{-qmax - 1}, {qmax}] for {inputs['bits']} bits, got {bad}")
    if not bool(torch.isfinite(scales).all()):
        return CaseCheck(False, "scales contain NaN or infinity")
    W, H = inputs["W"].cpu(), inputs["H"].cpu()
    ref_codes = expected["codes"].cpu()
    match = _match(codes, ref_codes)
    err = layer_error(W, dequantize(codes, scales), H)
    ref_err = layer_error(W, dequantize(ref_codes, expected["scales"].cpu()), H)
    ratio = err / ref_err if ref_err > 0 else (1.0 if err == 0 else math.inf)
    metrics = {"code_match": match, "error_ratio": ratio}
    summary = f"codes match {100 * match:.1f}% of the reference's; layer error {_relative(ratio)} the reference's"
    if match >= min_match and ratio <= max_ratio:
        return CaseCheck(True, summary, metrics)
    rule = f"(needs ≥ {100 * min_match:g}% of codes equal and a layer error at most {100 * (max_ratio - 1):g}% above)"
    return CaseCheck(False, f"{summary} {rule}. {_diagnose(inputs, codes, ref_codes, scales, expected)}", metrics)


def _relative(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "is infinitely above"
    pct = 100 * (ratio - 1)
    return f"{abs(pct):.1f}% {'above' if pct >= 0 else 'below'}" if abs(pct) < 1000 else f"{ratio:.1f}× above"


MAX_REPLAY_WORK = 2e9  # N * K^2 above which the float64 replays would take too long in the worker


def _diagnose(inputs, codes, ref_codes, scales, expected) -> str:
    """Name the mistake when the submission's codes match a replayed one; else point at where they diverge."""
    from kernels.gptq import inverse_cholesky
    best, best_match = None, 0.0
    N, K = codes.shape
    if N * K * K <= MAX_REPLAY_WORK:
        factor = inverse_cholesky(inputs["H"].detach().cpu(), inputs["damp"])
        for mode in MISTAKES:
            m = _match(codes, replay(inputs, mode, factor))
            if m > best_match:
                best, best_match = mode, m
            if m == 1.0:  # every code: no other mistake can match better
                break
    if best_match >= 0.98 and best_match > _match(codes, ref_codes):
        return f"Your codes match {100 * best_match:.1f}% of that mistake's: {MISTAKES[best]}."
    g = inputs["group_size"]
    first = _match(codes[:, 0], ref_codes[:, 0])
    if first < 1.0:
        return (
            "Even column 0 differs, and it has no earlier updates: its codes depend only on W, the dead-channel "
            "rule and the first group's scale max|W|/(2^(bits-1)-1); check the scale and round-half-to-even."
        )
    scale_ok = torch.allclose(scales[:, 0], expected["scales"][:, 0].cpu(), rtol=1e-4, atol=1e-12)
    cols = (codes != ref_codes).any(dim=0).nonzero()
    where = f" The first column that differs is {int(cols[0])}." if len(cols) else ""
    hint = "" if scale_ok else " The first group's scales already differ."
    return (
        f"{'No known mistake explains it' if N * K * K <= MAX_REPLAY_WORK else 'Too large a case to replay known mistakes'} "
        f"(group size {g}).{where}{hint} Check the order: quantize column q with its "
        "group's scale, then update every later column with the reduced inverse."
    )
