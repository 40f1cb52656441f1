"""Problem module of the ``int8-asym`` lab: asymmetric per-channel INT8 (uint8 codes) quantize / dequantize.

Every case has a float32 matrix ``w`` with an ``axis`` to quantize, and independent dequantization inputs
(``dq_q``, ``dq_scale``, ``dq_zero_point``) along the same axis. The check: scales within
``max_scale_ulps`` float32 ulps of the reference's; zero points and codes bit-exact *given the
submission's own scale* (so a scale one ulp off, e.g. from ``x * (1/255)``, is judged on its own
terms); dequantized values exact. On a mismatch it names the known mistake when the outputs match it
(per-tensor, symmetric, wrong axis, 0 outside the range, an epsilon scale for all-zero channels,
rounding half away from zero, missing clamp) and gives one example per class: input, expected, got, rule.
"""

from __future__ import annotations

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("quantize_int8_asym", "dequantize_int8_asym")
QMAX = 255

RULE_RANGE = ("lo = min(min(w_c), 0) and hi = max(max(w_c), 0): the range always contains 0, so 0 is exactly "
              "representable (it dequantizes to exactly 0.0: zero padding, ReLU zeros and pruned weights stay 0)")
RULE_SCALE = "scale = (hi - lo) / 255: one float32 subtraction, one float32 division (IEEE, correctly rounded)"
RULE_ZERO = "an all-zero channel (hi == lo == 0) has scale exactly 1.0 and zero point 0, so its codes are all 0"
RULE_ZP = "zero_point = clamp(round(-lo / scale), 0, 255) with round half to even (torch.round)"
RULE_Q = ("q = clamp(round(w / scale) + zero_point, 0, 255): one float32 division by the channel's scale, "
          "round half to even (torch.round; floor(x + 0.5) and C's round() are not), then add the zero point")
RULE_TIE = ("ties go to the even integer: round(2.5) = 2, round(3.5) = 4, round(-2.5) = -2 (torch.round); "
            "floor(x + 0.5) sends every tie up and round-half-away sends -2.5 to -3")
RULE_CLAMP = ("the sum round(w / scale) + zero_point can reach 256 (when both round up on ties), and must be "
              "clamped to [0, 255] before the cast to uint8 (a cast of 256 wraps to 0)")
RULE_DQ = ("dequantize = (q - zero_point) * scale: the integer difference first (exact in float32), then one "
           "multiplication; q * scale - zero_point * scale rounds twice")


# ----------------------------------------------------------------------------------------- inputs


def _channels(case: dict, g: torch.Generator, c: int, k: int) -> torch.Tensor:
    """Channel-major float32 [c, k]: one row per channel, whatever the axis."""
    kind = case["kind"]
    if kind == "random":  # per-channel magnitudes and offsets, a few outliers, a few one-signed channels
        mag = torch.exp2(torch.rand(c, 1, generator=g, dtype=torch.float64) * 12 - 8)
        x = torch.randn(c, k, generator=g, dtype=torch.float64) * mag
        x += (torch.rand(c, 1, generator=g, dtype=torch.float64) - 0.5) * mag
        outlier = torch.rand(c, k, generator=g) < 0.002
        x = torch.where(outlier, x * 20, x)
        shift = torch.rand(c, generator=g)
        x[shift < 0.1] = x[shift < 0.1].abs() + mag[shift < 0.1]  # all positive
        x[shift > 0.9] = -x[shift > 0.9].abs() - mag[shift > 0.9]  # all negative
        return x.float()
    if kind == "offset":  # every channel one-signed: half all positive, half all negative
        mag = torch.exp2(torch.rand(c, 1, generator=g, dtype=torch.float64) * 8 - 4)
        x = (torch.rand(c, k, generator=g, dtype=torch.float64) + 0.25) * mag
        sign = torch.where(torch.arange(c) % 2 == 0, 1.0, -1.0).to(torch.float64).unsqueeze(1)
        return (x * sign).float()
    if kind == "zeros":  # all-zero, -0.0, constant positive, constant negative and ordinary channels
        x = torch.randn(c, k, generator=g)
        which = torch.arange(c) % 5
        x[which == 0] = 0.0
        x[which == 1] = -0.0
        x[which == 2] = torch.rand(int((which == 2).sum()), 1, generator=g) + 0.5
        x[which == 3] = -(torch.rand(int((which == 3).sum()), 1, generator=g) + 0.5)
        return x
    if kind == "ties":  # power-of-two scales: w / scale and -lo / scale hit exact halves
        x = torch.empty(c, k, dtype=torch.float64)
        e = torch.randint(-12, 3, (c,), generator=g)
        for i in range(c):
            s = 2.0 ** int(e[i])
            z = int(torch.randint(0, 128, (1,), generator=g)) * 2 + 1  # odd: round(z + 0.5) = z + 1
            if i % 3 == 2:  # integer zero point z (no tie there), ties in the codes only
                z -= 1
                lo, hi = -z * s, (255 - z) * s
            else:  # -lo / scale = z + 0.5, hi / scale = 254.5 - z: q at hi is 256 before the clamp
                lo, hi = -(z + 0.5) * s, (254.5 - z) * s
            ks = torch.randint(int(lo / s), int(hi / s), (k,), generator=g, dtype=torch.float64)
            row = (ks + 0.5) * s
            row = torch.where(row > hi, hi, row)
            row[0], row[-1] = lo, hi
            x[i] = row
        return x.float()
    if kind == "magnitudes":  # channels around 1e-30 and 1e30, and ordinary ones
        e = torch.where(torch.arange(c) % 3 == 0, -100.0, torch.where(torch.arange(c) % 3 == 1, 100.0, 0.0))
        e = e + torch.rand(c, generator=g) * 4
        return (torch.randn(c, k, generator=g, dtype=torch.float64) * torch.exp2(e.double()).unsqueeze(1)).float()
    raise ValueError(f"unknown int8-asym case kind {kind!r}")


def make_inputs(case: dict, seed: int) -> dict:
    """w: float32 [R, C] (``shape``), quantized along ``axis`` (default 0); dq_*: dequantization inputs
    of the same shape and axis (uniform codes and zero points with 0 and 255 included, log-uniform scales,
    some exactly 1.0)."""
    g = torch.Generator().manual_seed(seed)
    shape, axis = tuple(case["shape"]), int(case.get("axis", 0))
    c, k = shape[axis], shape[1 - axis]
    m = _channels(case, g, c, k)
    w = m if axis == 0 else m.t()
    q = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    flat = q.view(-1)
    flat[:2] = torch.tensor([0, 255], dtype=torch.uint8)[: flat[:2].numel()]
    zp = torch.randint(0, 256, (c,), generator=g, dtype=torch.uint8)
    zp[:2] = torch.tensor([255, 0], dtype=torch.uint8)[: zp[:2].numel()]
    scale = torch.exp2(torch.rand(c, generator=g, dtype=torch.float64) * 25 - 20).float()
    scale[::7] = 1.0
    keep = (c, 1) if axis == 0 else (1, c)
    return {"w": w.contiguous(), "axis": axis, "dq_q": q, "dq_scale": scale.reshape(keep),
            "dq_zero_point": zp.reshape(keep)}


def invoke(impl, inputs: dict) -> dict:
    q, scale, zero_point = impl.quantize_int8_asym(inputs["w"], inputs["axis"])
    deq = impl.dequantize_int8_asym(inputs["dq_q"], inputs["dq_scale"], inputs["dq_zero_point"], inputs["axis"])
    return {"q": q, "scale": scale, "zero_point": zero_point, "deq": deq}


# ----------------------------------------------------------------------------------------- check




def _ulps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance in float32 ulps between positive finite float32 tensors (int64)."""
    return (a.view(torch.int32).to(torch.int64) - b.view(torch.int32).to(torch.int64)).abs()


def _f(x: float) -> str:
    return f"{x!r} (float32 0x{torch.tensor([x], dtype=torch.float32).view(torch.int32).item() & 0xFFFFFFFF:08X})"


def _range(w: torch.Tensor, axis: int):
    other = 1 - axis
    mn, mx = w.amin(dim=other), w.amax(dim=other)
    return mn, mx, mn.clamp(max=0.0), mx.clamp(min=0.0)


def _scales(w: torch.Tensor, axis: int, include_zero: bool = True) -> torch.Tensor:
    mn, mx, lo, hi = _range(w, axis)
    if not include_zero:
        lo, hi = mn, mx
    span = hi - lo
    return torch.where(span == 0, torch.ones_like(span), span / torch.full_like(span, 255.0))


def _close(a: torch.Tensor, b: torch.Tensor, ulps: int) -> bool:
    return a.shape == b.shape and bool((_ulps(a, b) <= ulps).all())


def _diagnose(w: torch.Tensor, axis: int, exp_s: torch.Tensor, s: torch.Tensor, zp: torch.Tensor | None,
              ulps: int) -> list[str]:
    """Known mistakes whose scales (or zero points) the submission's reproduce."""
    found = []
    c = exp_s.numel()
    if c > 1 and not bool((exp_s == exp_s[0]).all()) and bool((s == s[0]).all()):
        t = w.reshape(1, -1)
        whole = _scales(t, 0)
        how = "exactly the whole tensor's (hi - lo) / 255" if _close(s[:1], whole, ulps) else f"all {float(s[0])!r}"
        found.append(f"All {c} scales are the same ({how}): that is per-tensor quantization. This lab is "
                     "per-channel: every channel (a row for axis=0, a column for axis=1) gets its own lo, hi, "
                     "scale and zero point, so one outlier channel cannot coarsen the others.")
    if w.shape[0] == w.shape[1] and not _close(s, exp_s, ulps) and _close(s, _scales(w, 1 - axis), ulps):
        found.append(f"The scales are those of the other axis (wrong axis): axis={axis} means one scale per "
                     f"{'row' if axis == 0 else 'column'}, reducing over the {'columns' if axis == 0 else 'rows'}.")
    mn, mx, lo, hi = _range(w, axis)
    one_signed = (mn > 0) | (mx < 0)
    if bool(one_signed.any()):
        sel = one_signed
        raw = _scales(w, axis, include_zero=False)
        if not _close(s[sel], exp_s[sel], ulps) and _close(s[sel], raw[sel], ulps):
            i = int(sel.nonzero()[0])
            found.append(f"Channels whose values are all positive or all negative get (max - min) / 255 "
                         f"(e.g. channel {i}: min {float(mn[i])!r}, max {float(mx[i])!r}): the range [min, max] "
                         f"must include 0. {RULE_RANGE}; with [min, max] alone the zero point falls outside "
                         "0..255 and the clamp that hides it breaks every code of the channel.")
    if zp is not None and c > 1:
        sym = (zp == 128) | (zp == 127)
        exp_zp = torch.round(-lo / exp_s).clamp(0, QMAX)
        if bool(sym.all()) and not bool(((exp_zp == 128) | (exp_zp == 127)).all()):
            found.append(f"Every zero point is {int(zp[0])}: that is symmetric quantization (scale from "
                         "max |w|, zero point fixed in the middle). This lab is asymmetric: the zero point "
                         f"follows each channel's own range; {RULE_ZP}.")
    return found


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    ulps = int(accuracy.get("max_scale_ulps", 1))
    w, axis = inputs["w"].detach().cpu(), int(inputs["axis"])
    other = 1 - axis
    c = w.shape[axis]
    chan = "row" if axis == 0 else "column"
    keep = [w.shape[0], 1] if axis == 0 else [1, w.shape[1]]
    per = f"one per channel, keepdim: {keep} for axis={axis}"
    problems, metrics = [], {}
    bad = {name: tensor_problem(got, name, expected[name], what) for name, what in
           (("q", "w's shape"), ("scale", per), ("zero_point", per), ("deq", "q's shape"))}
    if bad["scale"] and isinstance(got, dict) and type(got.get("scale")) is torch.Tensor \
            and got["scale"].numel() == w.shape[other] and w.shape[0] != w.shape[1]:
        bad["scale"] += f": that is one per channel of axis={other} (wrong axis)"
    problems += [f"quantize_int8_asym: {why}" for name, why in bad.items() if why and name != "deq"]

    if not bad["scale"]:
        exp_s, s = expected["scale"].cpu().reshape(-1), got["scale"].detach().cpu().reshape(-1)
        zp_t = got["zero_point"].detach().cpu().reshape(-1) if not bad["zero_point"] else None
        problems += _diagnose(w, axis, exp_s, s, zp_t, ulps)
        mn, mx, lo, hi = _range(w, axis)
        valid = torch.isfinite(s) & (s > 0)
        ok_s = valid & (_ulps(torch.where(valid, s, 1.0), exp_s) <= ulps)
        metrics["scale_mismatches"] = int((~ok_s).sum())
        if not bool(ok_s.all()):
            zero = hi == lo
            one_signed = (mn > 0) | (mx < 0)
            lines = []
            for label, sel, rule in (
                    ("not positive and finite", ~valid, "a scale is a positive finite float32"),
                    ("all-zero channel", ~ok_s & valid & zero, RULE_ZERO),
                    ("channel without 0 in [min, max]", ~ok_s & valid & ~zero & one_signed, RULE_RANGE),
                    ("channel", ~ok_s & valid & ~zero & ~one_signed, RULE_SCALE)):
                idx = sel.nonzero().flatten()
                if len(idx):
                    i = int(idx[0])
                    lines.append(f"- {label}: {len(idx)} wrong, e.g. {chan} {i} (min {float(mn[i])!r}, max "
                                 f"{float(mx[i])!r}): expected {_f(float(exp_s[i]))}, got {_f(float(s[i]))}. {rule}.")
            problems.append(f"scale is wrong in {int((~ok_s).sum())} of {c} channels (more than {ulps} ulp off):\n"
                            + "\n".join(lines))
        sg = torch.where(ok_s, s, exp_s)  # the submission's own scale where it is acceptable
        if zp_t is not None:
            ratio = -lo / sg
            want_zp = torch.round(ratio).clamp(0, QMAX).to(torch.uint8)
            ok_z = ok_s & (zp_t == want_zp)
            metrics["zero_point_mismatches"] = int((ok_s & ~ok_z).sum())
            if bool((ok_s & ~ok_z).any()):
                tie = (ratio - ratio.floor()) == 0.5
                lines = []
                for label, sel, rule in (("tie (-lo / scale is exactly halfway)", ok_s & ~ok_z & tie, RULE_TIE),
                                         ("channel", ok_s & ~ok_z & ~tie, RULE_ZP)):
                    idx = sel.nonzero().flatten()
                    if len(idx):
                        i = int(idx[0])
                        lines.append(f"- {label}: {len(idx)} wrong, e.g. {chan} {i} (lo {float(lo[i])!r}, scale "
                                     f"{float(sg[i])!r}, -lo / scale = {float(ratio[i])!r}): expected "
                                     f"{int(want_zp[i])}, got {int(zp_t[i])}. {rule}.")
                problems.append(f"zero_point is wrong in {int((ok_s & ~ok_z).sum())} of {c} channels:\n"
                                + "\n".join(lines))
            if not bad["q"]:
                qg = got["q"].detach().cpu()
                sgb, zb = sg.unsqueeze(other), want_zp.to(torch.float32).unsqueeze(other)
                x = w / sgb
                r = torch.round(x)
                want_q = (r + zb).clamp(0, QMAX).to(torch.uint8)
                judged = ok_z.unsqueeze(other).expand_as(w)
                wrong = judged & (qg != want_q)
                metrics["code_mismatches"] = int(wrong.sum())
                if bool(wrong.any()):
                    tie = (x - x.floor()) == 0.5
                    clamped = ((r + zb) > QMAX) | ((r + zb) < 0)
                    lines = []
                    for label, sel, rule in (("clamp (round(w / scale) + zero_point outside 0..255)", wrong & clamped,
                                              RULE_CLAMP),
                                             ("tie (w / scale is exactly halfway)", wrong & ~clamped & tie, RULE_TIE),
                                             ("code", wrong & ~clamped & ~tie, RULE_Q)):
                        idx = sel.nonzero()
                        if len(idx):
                            i, j = int(idx[0, 0]), int(idx[0, 1])
                            ch = i if axis == 0 else j
                            lines.append(f"- {label}: {len(idx)} wrong, e.g. w[{i}, {j}] = {_f(float(w[i, j]))} in "
                                         f"{chan} {ch} (scale {float(sg[ch])!r}, zero point {int(want_zp[ch])}, "
                                         f"w / scale = {float(x[i, j])!r}): expected {int(want_q[i, j])}, got "
                                         f"{int(qg[i, j])}. {rule}.")
                    problems.append(f"q is wrong in {int(wrong.sum())} of {int(judged.sum())} codes checked:\n"
                                    + "\n".join(lines))
            if bool((~ok_z).any()) and not bad["q"]:
                problems.append(f"(codes of the {int((~ok_z).sum())} channels with a wrong scale or zero point "
                                "were not checked: they follow from them.)")

    if bad["deq"]:
        problems.append(f"dequantize_int8_asym: {bad['deq']}")
    else:
        exp_d, got_d = expected["deq"].cpu(), got["deq"].detach().cpu()
        wrong = ~(exp_d == got_d)
        metrics["dequantize_mismatches"] = int(wrong.sum())
        if bool(wrong.any()):
            i, j = (int(v) for v in wrong.nonzero()[0])
            ch = i if axis == 0 else j
            qv = int(inputs["dq_q"][i, j])
            zv, sv = int(inputs["dq_zero_point"].reshape(-1)[ch]), float(inputs["dq_scale"].reshape(-1)[ch])
            problems.append(f"dequantize_int8_asym is wrong on {int(wrong.sum())} of {wrong.numel()} values, e.g. "
                            f"q[{i}, {j}] = {qv} in {chan} {ch} (zero point {zv}, scale {sv!r}): expected "
                            f"{float(exp_d[i, j])!r}, got {float(got_d[i, j])!r}. {RULE_DQ}.")
    if problems:
        return CaseCheck(False, "\n".join(problems), metrics)
    return CaseCheck(True, "codes, zero points and dequantized values exact; scales within "
                           f"{ulps} ulp", metrics)
