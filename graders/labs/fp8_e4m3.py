"""Problem module of the ``fp8-e4m3`` lab: bit-exact OCP FP8 E4M3FN encoding and decoding.

Every case has a float32 tensor ``x`` to encode and a uint8 tensor ``b`` to decode. The check is bit
for bit; on a mismatch it names each class of input the submission gets wrong (ties, subnormals, the
top binade, overflow, infinities, NaN, signed zero, ...) with one example: input, expected and got bits.
"""

from __future__ import annotations

import math

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("encode_e4m3", "decode_e4m3")

# (class name, what the specification says about it): shown to the learner when the class fails
CLASSES = (
    ("NaN", "NaN encodes to S.1111.111 (0x7F, or 0xFF when the sign bit is set): keep the input's sign"),
    ("infinity", "E4M3FN has no infinity: ±inf saturates to ±448 (0x7E / 0xFE)"),
    ("signed zero", "zeros keep their sign: +0.0 is 0x00 and -0.0 is 0x80"),
    ("overflow (|x| > 448)", "finite values beyond ±448 saturate to ±448 (0x7E / 0xFE), never NaN"),
    ("top binades (240 ≤ |x| ≤ 448)",
     "exponent field 1111 is an ordinary normal exponent in E4M3FN (256..448 = 0x78..0x7E); only S.1111.111 "
     "is NaN, and 248 is the tie between 240 (0x77) and 256 (0x78), which goes to the even code 0x78"),
    ("boundary 2^-6", "values near the smallest normal 2^-6 = 0x08: 7.5·2^-9 is a tie between 0x07 and 0x08 "
     "(even: 0x08), and rounding carries a subnormal up into the normal range"),
    ("subnormal tie", "a tie between two subnormals m·2^-9 goes to the even m (2^-10 goes to 0x00)"),
    ("subnormal", "below 2^-6 the exponent field is 0 and the value is m·2^-9: round |x|/2^-9 to nearest"),
    ("normal tie", "a tie between two normals goes to the one with an even mantissa (round half to even)"),
    ("normal", "round to nearest with 3 mantissa bits; a mantissa carry moves to the next exponent"),
)
CLASS_NAMES = tuple(name for name, _ in CLASSES)


def classify(x: torch.Tensor) -> torch.Tensor:
    """Index into CLASSES for each element of float32 x (first matching class wins)."""
    bits = x.view(torch.int32)
    mag = bits & 0x7FFFFFFF
    a = x.abs()
    sub_units = a * 512.0  # exact: |x| in units of the smallest subnormal 2^-9
    conds = (
        torch.isnan(x),
        torch.isinf(x),
        a == 0,
        a > 448.0,
        a >= 240.0,
        (a >= 7 * 2.0**-9) & (a < 9 * 2.0**-9),
        (a < 2.0**-6) & (sub_units - sub_units.floor() == 0.5),
        a < 2.0**-6,
        (mag & 0xFFFFF) == 0x80000,  # round bit set, sticky bits clear: halfway between two normals
        torch.ones_like(a, dtype=torch.bool),
    )
    cls = torch.full(x.shape, len(CLASSES) - 1, dtype=torch.int64)
    for i in reversed(range(len(conds))):
        cls = torch.where(conds[i], i, cls)
    return cls


def _f32(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).to(torch.float32)


def _neighbours(x: torch.Tensor) -> torch.Tensor:
    """x with its float32 neighbours on either side, so that ties are surrounded by near-ties."""
    up = torch.nextafter(x, torch.full_like(x, math.inf))
    down = torch.nextafter(x, torch.full_like(x, -math.inf))
    return torch.cat([x, up, down])


def _signs(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape, generator=g) < 0.5
    return torch.where(flip, -x, x)


def _e4m3_positive_values() -> torch.Tensor:
    """The 127 finite non-negative E4M3 values in code order 0x00..0x7E (which is increasing order)."""
    codes = torch.arange(127)
    exp, man = codes >> 3, codes & 7
    return torch.where(exp == 0, man * 2.0**-9, (8 + man) * torch.exp2(exp - 10.0)).to(torch.float32)


def _x_for(case: dict, g: torch.Generator) -> torch.Tensor:
    kind = case["kind"]
    n = int(case.get("n", 4096))
    values = _e4m3_positive_values()
    if kind == "all_fp16":
        return torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16).to(torch.float32)
    if kind == "random":  # uniform random bit patterns: every exponent, NaN and inf included
        shape = tuple(case["shape"])
        return torch.randint(-(2**31), 2**31, shape, generator=g, dtype=torch.int32).view(torch.float32)
    if kind == "random_range":  # log-uniform over the E4M3 range, both signs
        shape = tuple(case["shape"])
        e = torch.rand(shape, generator=g, dtype=torch.float64) * 20.5 - 11.0
        return _signs(torch.exp2(e).to(torch.float32), g)
    if kind == "ties_normal":  # halfway between consecutive normals, 0x08/0x09 up to 0x7D/0x7E (432)
        mids = (values[8:-1].double() + values[9:].double()) / 2
        pick = torch.randint(0, len(mids), (n,), generator=g)
        return _signs(torch.cat([mids.float(), mids[pick].float()]), g)
    if kind == "ties_subnormal":  # (m + 1/2)·2^-9 for m = 0..7 and their float32 neighbours
        mids = _f32([(m + 0.5) * 2.0**-9 for m in range(8)])
        x = _neighbours(mids)
        return _signs(x[torch.randint(0, len(x), (n,), generator=g)], g)
    if kind == "boundary":  # around the smallest normal 2^-6
        x = _neighbours(_f32([2.0**-6, 7.5 * 2.0**-9, 2.0**-6 * (1 + 1 / 16), 2.0**-6 * (1 + 3 / 16)]))
        lo, hi = 7 * 2.0**-9, 9 * 2.0**-9
        rnd = (lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)).float()
        return _signs(torch.cat([x, rnd]), g)
    if kind == "near_max":  # every representable step from 240 to 464, midpoints, neighbours, random
        grid = _neighbours(torch.arange(240, 465, 4, dtype=torch.float32))
        rnd = (240 + 224 * torch.rand(n, generator=g, dtype=torch.float64)).float()
        return _signs(torch.cat([grid, _f32([248.0, 432.0, 448.0, 464.0]), rnd]), g)
    if kind == "overflow":  # (448, float32 max], infinities
        e = torch.rand(n, generator=g, dtype=torch.float64) * (127.99 - 8.81) + 8.81
        x = torch.cat([torch.exp2(e).float(), _f32([464.0, 480.0, 3.4028234663852886e38, math.inf])])
        return _signs(torch.cat([x, _f32([-math.inf])]), g)
    if kind == "specials":  # zeros, infinities, NaNs with random payloads and signs, float32 subnormals
        payload = torch.randint(1, 2**22, (n,), generator=g, dtype=torch.int64)
        nan_bits = (0x7F800000 | payload | 0x400000 * (payload % 2)).to(torch.int32)
        nans = _signs(nan_bits.view(torch.float32), g)
        tiny = (torch.randint(1, 2**23, (n,), generator=g, dtype=torch.int64)).to(torch.int32).view(torch.float32)
        fixed = _f32([0.0, -0.0, math.inf, -math.inf, 2.0**-10, -(2.0**-10), 1.401298464324817e-45])
        return torch.cat([fixed, _signs(tiny, g), nans, _f32([math.nan])])
    raise ValueError(f"unknown fp8 case kind {kind!r}")


def make_inputs(case: dict, seed: int) -> dict:
    """x: float32 to encode (shape from the case); b: uint8 patterns to decode (all 256, then random)."""
    g = torch.Generator().manual_seed(seed)
    x = _x_for(case, g)
    b = torch.cat([torch.arange(256, dtype=torch.uint8), torch.randint(0, 256, (x.numel(),), generator=g, dtype=torch.uint8)])
    if x.dim() > 1:
        b = b[: x.numel()].reshape(x.shape)
    return {"x": x.contiguous(), "b": b}


def invoke(impl, inputs: dict) -> dict:
    return {"codes": impl.encode_e4m3(inputs["x"]), "values": impl.decode_e4m3(inputs["b"])}




def _hex(v: int) -> str:
    return f"0x{v:02X}"


def _describe(x: float, bits: int) -> str:
    return f"{x!r} (float32 0x{bits & 0xFFFFFFFF:08X})"


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    x, b = inputs["x"], inputs["b"]
    problems, metrics = [], {}
    why = tensor_problem(got, "codes", expected["codes"], "the input's")
    if why:
        problems.append(f"encode_e4m3: {why}")
    else:
        exp_c, got_c = expected["codes"].cpu(), got["codes"].detach().cpu()
        wrong = exp_c != got_c
        metrics["encode_mismatches"] = int(wrong.sum())
        if wrong.any():
            xf = x.detach().cpu().reshape(-1)
            w = wrong.reshape(-1)
            cls = classify(xf)
            lines = []
            for i, (name, rule) in enumerate(CLASSES):
                sel = (w & (cls == i)).nonzero().flatten()
                if len(sel) == 0:
                    continue
                j = int(sel[0])
                total = int((cls == i).sum())
                lines.append(
                    f"- {name}: {len(sel)} of {total} wrong, e.g. x = {_describe(float(xf[j]), int(xf.view(torch.int32)[j]))}: "
                    f"expected {_hex(int(exp_c.reshape(-1)[j]))}, got {_hex(int(got_c.reshape(-1)[j]))}. {rule}."
                )
            problems.append(f"encode_e4m3 is wrong on {int(w.sum())} of {w.numel()} inputs, in these classes:\n" + "\n".join(lines))
    why = tensor_problem(got, "values", expected["values"], "the input's")
    if why:
        problems.append(f"decode_e4m3: {why}")
    else:
        exp_v, got_v = expected["values"].cpu().reshape(-1), got["values"].detach().cpu().reshape(-1)
        both_nan = exp_v.isnan() & got_v.isnan()
        wrong = (exp_v.view(torch.int32) != got_v.view(torch.int32)) & ~both_nan
        metrics["decode_mismatches"] = int(wrong.sum())
        if wrong.any():
            j = int(wrong.nonzero()[0])
            code = int(b.reshape(-1)[j])
            kind = "NaN" if code & 0x7F == 0x7F else "subnormal (exponent field 0)" if code & 0x78 == 0 else "normal"
            problems.append(
                f"decode_e4m3 is wrong on {int(wrong.sum())} of {wrong.numel()} patterns, e.g. {_hex(code)} ({kind}): "
                f"expected {float(exp_v[j])!r}, got {float(got_v[j])!r}. Normal: (-1)^S·(1 + M/8)·2^(E-7); "
                "subnormal: (-1)^S·(M/8)·2^-6; S.1111.111 is NaN; -0.0 keeps its sign bit."
            )
    allowed = int(accuracy.get("max_mismatches", 0))
    mismatches = metrics.get("encode_mismatches", 0) + metrics.get("decode_mismatches", 0)
    if problems and not (len(metrics) == 2 and mismatches <= allowed):
        return CaseCheck(False, "\n".join(problems), metrics)
    return CaseCheck(True, "bit-exact" if not mismatches else f"{mismatches} mismatches (allowed {allowed})", metrics)
