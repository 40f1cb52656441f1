"""Problem module of the ``hadamard`` lab: the orthonormal fast Walsh–Hadamard transform (natural order).

Every case has one float32 tensor ``x`` [..., n]. ``invoke`` returns the transform ``y`` and ``x_sample``,
up to 4096 evenly spaced elements of the submission's own input read after the call (a copy, [1, k]),
so that the check can see an in-place modification of ``x`` (the worker's inputs are not the ones the
submission ran on; a sample keeps the benchmark outputs within the harness's output cap). The check compares ``y`` with the float64
definition, row by row: max |y - y64| <= rtol * sqrt(log2 n + 1) * rms(x row) (rms(y row) is the same:
the transform is orthonormal). On a failure it names the mistake the output matches (no or double
normalization, sequency / Walsh order, bit-reversed order, the identity for n = 1, reduced precision) and
gives one example: the row, the index, the expected and returned value and the bound.
"""

from __future__ import annotations

import math

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("fwht",)

RULE = ("fwht(x)[..., i] = n^(-1/2) * sum_j (-1)^popcount(i & j) * x[..., j]: the Sylvester matrix H_1 = [1], "
        "H_2n = [[H_n, H_n], [H_n, -H_n]] in natural order, divided by sqrt(n) so that the transform is orthonormal")


# ----------------------------------------------------------------------------------------- inputs


def bit_reverse(n: int) -> torch.Tensor:
    """The bit-reversal permutation of 0..n-1 (n a power of two)."""
    k = n.bit_length() - 1
    i = torch.arange(n)
    r = torch.zeros_like(i)
    for b in range(k):
        r |= ((i >> b) & 1) << (k - 1 - b)
    return r


def sequency_order(n: int) -> torch.Tensor:
    """perm with y_walsh = y_natural[perm]: row s of the sequency-ordered (Walsh) matrix, the one with s sign
    changes, is natural row bitrev(gray(s)), gray(s) = s ^ (s >> 1)."""
    s = torch.arange(n)
    return bit_reverse(n)[s ^ (s >> 1)]


def hadamard_rows(rows: torch.Tensor, n: int) -> torch.Tensor:
    """Rows ``rows`` of the Sylvester matrix H_n, float64 [len(rows), n]: (-1)^popcount(i & j), without
    materializing H_n (2 GiB in float64 at n = 2^14)."""
    a = rows.reshape(-1, 1) & torch.arange(n).reshape(1, -1)
    parity = torch.zeros_like(a)
    while bool(a.any()):
        parity ^= a & 1
        a = a >> 1
    return 1.0 - 2.0 * parity.double()


def _x_for(case: dict, g: torch.Generator) -> torch.Tensor:
    kind = case.get("kind", "random")
    shape = tuple(case["shape"])
    n = shape[-1]
    rows = math.prod(shape[:-1])
    if kind == "random":  # normal, every row its own scale 2^-20 .. 2^20
        scale = torch.exp2(torch.randint(-20, 21, (rows, 1), generator=g).double()
                           + torch.rand(rows, 1, generator=g, dtype=torch.float64))
        x = torch.randn(rows, n, generator=g, dtype=torch.float64) * scale
    elif kind == "spike":  # c * (a row of H) + small noise: the output is concentrated in one element
        pick = torch.randint(0, n, (rows,), generator=g)
        c = (torch.rand(rows, 1, generator=g, dtype=torch.float64) + 0.5) * 4
        x = hadamard_rows(pick, n) * c + torch.randn(rows, n, generator=g, dtype=torch.float64) * 0.01
    elif kind == "hadamard_rows":  # exactly rows of H (times a power of two): the output is exact
        pick = torch.randint(0, n, (rows,), generator=g)
        x = hadamard_rows(pick, n) * torch.exp2(torch.randint(-4, 5, (rows, 1), generator=g).double())
    elif kind == "constant":  # one value per row: all of y is in y[..., 0] = c sqrt(n)
        x = torch.randn(rows, 1, generator=g, dtype=torch.float64).expand(rows, n)
    elif kind == "zeros":  # every other row all zeros (exact zeros expected), the others random
        x = torch.randn(rows, n, generator=g, dtype=torch.float64)
        x[::2] = 0.0
    else:
        raise ValueError(f"unknown hadamard case kind {kind!r}")
    x = x.float().reshape(shape)
    if case.get("transposed"):  # the same values, but the last dimension is not the contiguous one
        x = x.reshape(rows, n).t().contiguous().t().reshape(shape)
    return x


def make_inputs(case: dict, seed: int) -> dict:
    """x: float32 of ``shape`` (any leading dims, last a power of two up to 2^14), by ``kind``:
    random | spike | hadamard_rows | constant | zeros; ``transposed: true`` gives a non-contiguous x."""
    g = torch.Generator().manual_seed(seed)
    x = _x_for(case, g)
    return {"x": x if case.get("transposed") else x.contiguous()}


SAMPLE = 4096


def sample(x: torch.Tensor) -> torch.Tensor:
    """Up to SAMPLE evenly spaced elements of x (row-major order), copied, as [1, k]."""
    flat = x.reshape(-1)
    return flat[:: max(1, -(-flat.numel() // SAMPLE))].clone().reshape(1, -1)


def invoke(impl, inputs: dict) -> dict:
    x = inputs["x"]
    y = impl.fwht(x)
    return {"y": y, "x_sample": sample(x)}


# ----------------------------------------------------------------------------------------- check


def row_rms(x64: torch.Tensor) -> torch.Tensor:
    return x64.pow(2).mean(dim=-1, keepdim=True).sqrt()


def bound_factor(n: int, rtol: float) -> float:
    return rtol * math.sqrt(math.log2(n) + 1)


def bound(x64: torch.Tensor, rtol: float) -> torch.Tensor:
    """Allowed |error| per row of x [m, n] (float64): rtol * sqrt(log2 n + 1) * rms of the row."""
    return bound_factor(x64.shape[-1], rtol) * row_rms(x64)


def truth(inputs: dict, expected: dict) -> dict:
    """What the check compares with, made with the expected outputs (so ahead of the job when the worker
    keeps warm): the float64 definition, each row's rms (the bound's scale) and the reference's own largest
    error in rms units."""
    from kernels.hadamard import fwht_any

    x = inputs["x"].detach().cpu()
    n = x.shape[-1]
    m = x.numel() // n if n else 0
    x64 = x.double().reshape(m, n)
    y64, rms = fwht_any(x64), row_rms(x64)
    reference = expected["y"].detach().cpu().reshape(m, n).double()
    reference_error = float(((reference - y64).abs() / rms.clamp(min=1e-300)).max()) if m * n else 0.0
    return {"y64": y64, "rms64": rms, "reference_error_over_rms": reference_error}


def within(y: torch.Tensor, y64: torch.Tensor, allowed: torch.Tensor) -> bool:
    return bool(torch.isfinite(y).all()) and bool(((y.double() - y64).abs() <= allowed).all())


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    rtol = float(accuracy.get("rtol", 1e-4))
    x = inputs["x"].detach().cpu()
    n = x.shape[-1]
    problems, metrics = [], {}
    why = tensor_problem(got, "x_sample", expected["x_sample"])
    before = sample(x).reshape(-1)
    if why:
        problems.append(f"x_sample (your input after the call): {why}")
    elif not torch.equal(got["x_sample"].detach().cpu().reshape(-1).view(torch.int32), before.view(torch.int32)):
        after = got["x_sample"].detach().cpu().reshape(-1)
        changed = after.view(torch.int32) != before.view(torch.int32)
        j = int(changed.nonzero()[0])
        problems.append(f"fwht modified its input x in place ({int(changed.sum())} of {changed.numel()} sampled "
                        f"elements changed, e.g. {float(before[j])!r} became {float(after[j])!r}). The caller still "
                        "owns x: compute into a new tensor (clone first if your algorithm works in place).")
    why = tensor_problem(got, "y", expected["y"], "the input's: all leading dimensions kept")
    if why:
        problems.append(f"fwht: {why}")
        return CaseCheck(False, "\n".join(problems), metrics)
    m = x.numel() // n if n else 0
    known_truth = expected if "y64" in expected else truth(inputs, expected)
    y64 = known_truth["y64"]
    y = got["y"].detach().cpu().reshape(m, n)
    factor = bound_factor(n, rtol)
    allowed = factor * known_truth["rms64"]
    finite = torch.isfinite(y)
    worst = ((y.double() - y64).abs() / allowed.clamp(min=1e-300)).masked_fill(~finite, math.inf)
    ok = worst <= 1.0
    if m:
        metrics["max_error_over_bound"] = float(worst.max()) if m * n else 0.0
        metrics["reference_max_error_over_bound"] = known_truth["reference_error_over_rms"] / factor
    if bool(ok.all()):
        return CaseCheck(not problems, "\n".join(problems) or "within the bound on every row", metrics)

    x64 = x.double().reshape(m, n)
    err = (y.double() - y64).abs()
    known = []
    if n == 1:
        if any(within(y, y64 * f, allowed) for f in (math.sqrt(0.5), math.sqrt(2.0), 0.0)):
            known.append(f"n = 1: H_1 = [1], so fwht is the identity on a last dimension of size 1 (your output is "
                         f"{float(y.reshape(-1)[0])!r} for x = {float(x64.reshape(-1)[0])!r}); a recursion that "
                         "starts at H_2 or a loop that assumes at least one stage gets this case wrong.")
    else:
        for label, candidate in (
                ("not normalized: your output is sqrt(n) times the expected one (x @ H_n without the 1/sqrt(n))",
                 y64 * math.sqrt(n)),
                ("normalized twice: your output is the expected one divided by sqrt(n) again (1/n instead of 1/sqrt(n))",
                 y64 / math.sqrt(n)),
                ("in sequency (Walsh) order: your y[..., s] is the expected y[..., bitrev(gray(s))], the row of H with "
                 "s sign changes. This lab wants natural (Sylvester / Hadamard) order, the one H_2n = [[H, H], [H, -H]] "
                 "builds and the butterfly produces without any reordering", y64[:, sequency_order(n)]),
                ("in bit-reversed order: your y[..., i] is the expected y[..., bitrev(i)]. Unlike an FFT, the "
                 "in-place Hadamard butterfly needs no bit-reversal permutation, of the input or of the output",
                 y64[:, bit_reverse(n)]),
                ("negated", -y64)):
            if within(y, candidate, allowed) and not within(y, y64, allowed):
                known.append(f"The output is {label}.")
                break
    worst_rel = float(((err / (allowed / (rtol * math.sqrt(math.log2(n) + 1))).clamp(min=1e-300))
                       .masked_fill(~finite, math.inf)).max()) if m else 0.0
    if not known and bool(finite.all()) and 2e-4 < worst_rel < 0.1 and bool((err <= 0.1 * y64.abs().max()).all()):
        known.append(f"The largest error is {worst_rel:.1e} of the row's rms: that is the size of a computation in "
                     "reduced precision (float16, bfloat16, or TF32 matmuls, with 10 or 7 mantissa bits), not a "
                     "float32 one; a float32 butterfly stays below log2(n) * 2^-24 * sqrt(n) of it.")
    bad = ~ok
    i, j = (int(v) for v in bad.nonzero()[0])
    lead = list(x.shape[:-1])
    where = (f"x[{', '.join(str(v) for v in _unravel(i, lead))}, :]" if lead else "x")
    example = (f"e.g. row {where} (n = {n}, rms {float(x64[i].pow(2).mean().sqrt())!r}): y[..., {j}] expected "
               f"{float(y64[i, j])!r} (the float64 definition), got {float(y[i, j])!r}; |error| "
               f"{float(err[i, j]) if bool(finite[i, j]) else math.inf:.3g} > allowed {float(allowed[i, 0]):.3g} "
               f"= {rtol:g} * sqrt(log2 n + 1) * rms(row)")
    problems.append(f"fwht is wrong on {int(bad.sum())} of {bad.numel()} outputs ({int(bad.any(dim=1).sum())} of {m} "
                    f"rows), {example}. " + " ".join(known) + f" Rule: {RULE}.")
    return CaseCheck(False, "\n".join(problems), metrics)


def _unravel(i: int, shape: list[int]) -> list[int]:
    out = []
    for d in reversed(shape):
        out.append(i % d)
        i //= d
    return list(reversed(out))
