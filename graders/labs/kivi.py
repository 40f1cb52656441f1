"""Problem module of the ``kivi`` lab: KIVI KV-cache quantization (keys per channel, values per token).

The submission's own ``kivi_dequantize(kivi_quantize(k, v))`` is compared with the reference's
dequantization element by element (with the reference's quantization step as the outer bound), its
cache's bytes with the reference's (packing is the learner's choice, storing inputs is not), and the
attention output softmax(q k_hat^T / sqrt(D)) v_hat with the reference's error against full precision.
Feedback says which of keys, values and packing is off, and why when it can tell: a difference only in
the full-precision window, groups laid out per token instead of per channel (or the reverse), group
extremes not reproduced (symmetric instead of asymmetric), codes not packed.
"""

from __future__ import annotations

import math

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("kivi_quantize", "kivi_dequantize")


def make_inputs(case: dict, seed: int) -> dict:
    """Case keys: b, h, l, d, bits, group_size, residual; constant: true adds constant groups."""
    B, H, L, D = (int(case[key]) for key in ("b", "h", "l", "d"))
    bits, gs, residual = int(case.get("bits", 2)), int(case.get("group_size", 32)), int(case.get("residual", 32))
    g = torch.Generator().manual_seed(seed)
    # keys: per-channel offsets and a few outlier channels (what makes per-channel quantization pay)
    k = torch.randn(B, H, L, D, generator=g) + 0.5 * torch.randn(B, H, 1, D, generator=g)
    outliers = torch.randperm(D, generator=g)[: max(1, D // 16)]
    k[..., outliers] = k[..., outliers] * 8 + 4
    # values: no outlier channels, but token magnitudes that vary
    v = torch.randn(B, H, L, D, generator=g) * torch.exp(0.5 * torch.randn(B, H, L, 1, generator=g))
    if case.get("constant"):
        k[..., 0] = 0.75  # a constant channel: every key group of channel 0 has max == min
        k[:, :, : min(L, 2 * gs), 1] = -2.0  # constant in the first groups only
        v[:, :, ::3] = 1.25  # constant tokens: every value group of them has max == min
        v[:, :, 1::3, :gs] = -0.5  # one constant group per token
    return {
        "k": k,
        "v": v,
        "q": torch.randn(B, H, 4, D, generator=g),  # a few decode queries for the attention check
        "bits": bits,
        "group_size": gs,
        "residual": residual,
    }


def invoke(impl, inputs: dict) -> dict:
    cache = impl.kivi_quantize(
        inputs["k"], inputs["v"], bits=inputs["bits"], group_size=inputs["group_size"], residual=inputs["residual"]
    )
    k_hat, v_hat = impl.kivi_dequantize(cache)
    out = {f"cache.{name}": value for name, value in cache.items()}
    out.update(k_hat=k_hat, v_hat=v_hat)
    return out




def cache_bytes(out: dict) -> int | str:
    """Bytes of the cache entries of an invoke() result, or why they cannot be counted."""
    total = 0
    for name, value in out.items():
        if not name.startswith("cache."):
            continue
        if type(value) is torch.Tensor:
            total += value.numel() * value.element_size()
        elif isinstance(value, bool | int | float):
            total += 8
        else:
            return f"cache entry {name[6:]!r} is a {type(value).__name__}: the cache must map names to tensors"
    return total


def _steps(expected: dict, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference's quantization step of every element (0 in the full-precision windows)."""
    from kernels.kivi import quantized_lengths
    k, g = inputs["k"], inputs["group_size"]
    B, H, L, D = k.shape
    lk, lv = quantized_lengths(L, inputs["residual"])
    ks = torch.zeros(B, H, L, D)
    ks[:, :, :lk] = expected["cache.k_scale"].cpu().repeat_interleave(g, dim=2)
    vs = torch.zeros(B, H, L, D)
    vs[:, :, :lv] = expected["cache.v_scale"].cpu().repeat_interleave(g, dim=3)
    return ks, vs


def _attention(q, k, v):
    w = torch.softmax((q.double() @ k.double().transpose(-1, -2)) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ v.double()


def _extremes_kept(x: torch.Tensor, xh: torch.Tensor, group_dim: int) -> float:
    """Fraction of groups (x already reshaped so that `group_dim` runs over a group) whose min and max
    the dequantization reproduces: asymmetric min/max quantization always does. NaN if no groups."""
    if x.numel() == 0:
        return math.nan
    tol = 1e-5 * (x.abs().amax(dim=group_dim) + 1)
    ok = ((xh.amax(dim=group_dim) - x.amax(dim=group_dim)).abs() <= tol) & (
        (xh.amin(dim=group_dim) - x.amin(dim=group_dim)).abs() <= tol
    )
    return float(ok.double().mean())


def _diagnose(name: str, x, xh, bad, n_quant: int, g: int) -> str:
    """Why `name` (keys or values) is off: which window, which grouping, symmetric or not."""
    B, H, L, D = x.shape
    bad_q = bad[:, :, :n_quant]
    if not bad_q.any():
        rule = (
            "of L tokens only the first L − (L mod residual) keys are quantized (none if L < residual)"
            if name == "keys"
            else "all values but the last `residual` tokens are quantized (none if L ≤ residual)"
        )
        return f"all differences are in the last {L - n_quant} tokens, which stay in full precision: {rule}."
    n = n_quant // g * g  # whole token groups, for the per-channel layout
    xq, hq = x[:, :, :n], xh[:, :, :n]
    per_channel = _extremes_kept(xq.reshape(B, H, n // g, g, D), hq.reshape(B, H, n // g, g, D), 3)
    xq, hq = x[:, :, :n_quant], xh[:, :, :n_quant]
    per_token = _extremes_kept(xq.reshape(B, H, n_quant, D // g, g), hq.reshape(B, H, n_quant, D // g, g), 4)
    right, wrong = (per_channel, per_token) if name == "keys" else (per_token, per_channel)
    if not right >= 0.9 and wrong >= 0.9:
        if name == "keys":
            return (
                "keys look quantized per token (groups of channels within a token); KIVI quantizes keys per "
                "channel: each channel gets its own min/max over each group of group_size consecutive tokens, "
                "because key outliers sit in fixed channels."
            )
        return (
            "values look quantized per channel; KIVI quantizes values per token: each token's channels in "
            "groups of group_size, each group with its own min/max."
        )
    if right < 0.9:
        return (
            f"only {100 * right:.0f}% of the {name}' groups reproduce their min and max: asymmetric quantization "
            "maps code 0 to the group's min and code 2^bits − 1 to its max (scale = (max − min)/(2^bits − 1), "
            "zero point = min); a symmetric scale around 0 does not."
        )
    return (
        "groups and extremes are right, so look at the codes: round((x − min)/scale) half to even, clamped "
        "to [0, 2^bits − 1], and a group with max == min dequantizes to that value."
    )


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    from kernels.kivi import quantized_lengths
    rtol = float(accuracy.get("rtol", 1e-5))
    min_close = float(accuracy.get("min_close_fraction", 0.999))
    max_bytes = float(accuracy.get("max_bytes_ratio", 1.1))
    max_att = float(accuracy.get("max_attention_error_ratio", 1.05))
    for name in ("k_hat", "v_hat"):
        why = tensor_problem(got, name, expected[name])
        if why:
            return CaseCheck(False, f"kivi_dequantize: {why}")
    k, v, g = inputs["k"].cpu(), inputs["v"].cpu(), inputs["group_size"]
    L = k.shape[2]
    lk, lv = quantized_lengths(L, inputs["residual"])
    ks, vs = _steps(expected, inputs)
    problems, metrics = [], {}
    for name, x, exp, step, n_quant in (("keys", k, expected["k_hat"], ks, lk), ("values", v, expected["v_hat"], vs, lv)):
        xh, ref = got[name[0] + "_hat"].detach().cpu(), exp.cpu()
        diff = (xh - ref).abs()
        tol = rtol * (x.abs() + 1)
        close = diff <= tol  # NaN compares False
        beyond = ~(diff <= step * (1 + 1e-3) + tol)
        frac = float(close.double().mean()) if close.numel() else 1.0
        metrics[f"{name}_close"] = frac
        if frac < min_close or beyond.any():
            bad = ~close
            i = tuple(int(j) for j in bad.nonzero()[0])
            where = "k" if name == "keys" else "v"
            problems.append(
                f"{name}: {100 * (1 - frac):.2f}% of elements differ from the reference's dequantization "
                f"(allowed {100 * (1 - min_close):.2g}%, and never by more than one quantization step), "
                f"e.g. {where}{list(i)} = {float(x[i]):.6g}: expected {float(ref[i]):.6g}, got {float(xh[i]):.6g}; "
                + _diagnose(name, x, xh, bad, n_quant, g)
            )
    got_bytes, ref_bytes = cache_bytes(got), cache_bytes(expected)
    if isinstance(got_bytes, str):
        problems.append(f"packing: {got_bytes}")
    else:
        metrics["bytes_ratio"] = got_bytes / ref_bytes
        if got_bytes > max_bytes * ref_bytes:
            problems.append(f"packing: the cache holds {got_bytes} bytes, {got_bytes / ref_bytes:.2f}× the reference's "
                            f"{ref_bytes} (allowed {max_bytes:g}×). " + _bytes_hint(inputs, expected, got_bytes, ref_bytes))
    if not problems:
        q = inputs["q"].cpu()
        full = _attention(q, k, v)
        ref_err = float((_attention(q, expected["k_hat"].cpu(), expected["v_hat"].cpu()) - full).norm())
        err = float((_attention(q, got["k_hat"].detach().cpu(), got["v_hat"].detach().cpu()) - full).norm())
        metrics["attention_error_ratio"] = err / ref_err if ref_err > 0 else (1.0 if err == 0 else math.inf)
        if not err <= max_att * ref_err + 1e-6 * float(full.norm()):
            problems.append(f"attention: the output error against full precision is {err:.4g}, the reference's "
                            f"is {ref_err:.4g} (allowed {max_att:g}×)")
    if problems:
        return CaseCheck(False, "\n".join(problems), metrics)
    return CaseCheck(True, f"matches the reference's dequantization; cache {metrics['bytes_ratio']:.2f}× its bytes", metrics)


def _bytes_hint(inputs: dict, expected: dict, got_bytes: int, ref_bytes: int) -> str:
    code_bytes = sum(expected[n].numel() for n in ("cache.k_codes", "cache.v_codes"))
    bits = inputs["bits"]
    input_bytes = 4 * (inputs["k"].numel() + inputs["v"].numel())
    if got_bytes >= input_bytes:
        return ("That is as much as the float32 inputs: the cache must not keep k or v in full precision beyond "
                "the residual window.")
    if bits < 8 and got_bytes >= ref_bytes + 0.9 * (8 // bits - 1) * code_bytes:
        return (f"That is what one code per byte costs: pack {8 // bits} {bits}-bit codes per byte "
                f"(or {32 // bits} per int32).")
    return "Store codes packed, and one float32 scale and zero point per group."
