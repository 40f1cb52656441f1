"""Problem module of the ``nvfp4`` lab: bit-exact NVFP4 block encoding (E2M1 elements, E4M3 block scales,
an FP32 tensor scale, pinned conventions in kernels/nvfp4.py and the statement).

The check compares the tensor scale, every block-scale byte, every 4-bit code and every dequantized
float32 bit for bit, and explains the first thing that differs: the tensor scale's formula, how block
scales are rounded, the nibble order, E2M1 ties, saturation, signed zeros, zero-scale blocks, dequantization.
"""

from __future__ import annotations

import torch

from graders.labs import CaseCheck, last_resort, tensor_problem

ENTRY = ("nvfp4_quantize", "nvfp4_dequantize")
TIES = (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0)


def make_inputs(case: dict, seed: int) -> dict:
    """Case keys: kind (random | ties | tiny_blocks | zeros), shape (last axis a multiple of 16), and for
    random: lo, hi (block magnitudes 2^lo .. 2^hi)."""
    from kernels.fp8 import decode_e4m3
    g = torch.Generator().manual_seed(seed)
    shape = tuple(case["shape"])
    n_blocks = shape[-1] // 16
    lead = shape[:-1]
    kind = case["kind"]
    if kind == "random":
        mag = torch.exp2(torch.randint(int(case.get("lo", -8)), int(case.get("hi", 8)), (*lead, n_blocks, 1), generator=g).float())
        x = torch.randn(*lead, n_blocks, 16, generator=g) * mag
    elif kind == "ties":  # tensor scale 2^2 exactly, E4M3-exact block scales: x / s hits E2M1 ties exactly
        ties = torch.tensor(TIES + (6.0,))
        vals = ties[torch.randint(0, len(ties), (*lead, n_blocks, 16), generator=g)]
        vals[..., 0] = 6.0  # every block's max is 6 s
        vals = torch.where(torch.rand(vals.shape, generator=g) < 0.5, -vals, vals)
        e4m3 = decode_e4m3(torch.randint(0x08, 0x7E, (*lead, n_blocks, 1), generator=g, dtype=torch.uint8))
        x = vals * e4m3 * 4.0
        x.view(-1, 16)[0, 0] = 2688.0 * 4.0  # the tensor's amax: tensor scale exactly 4
    elif kind == "tiny_blocks":  # block scales in E4M3's subnormal range, saturation beyond 6, zero scales
        x = torch.randn(*lead, n_blocks, 16, generator=g) * torch.exp2(-torch.rand(*lead, n_blocks, 1, generator=g) * 18)
        x.view(-1, 16)[0, 0] = 1000.0
    elif kind == "zeros":
        x = torch.zeros(*lead, n_blocks, 16)
        x[..., 1::3] = -0.0
        if case.get("some", False):
            x.view(-1, 16)[0, :8] = torch.randn(8, generator=g)
            x.view(-1, 16)[-1, :] = -1e-9
    else:
        raise ValueError(f"unknown nvfp4 case kind {kind!r}")
    return {"x": x.reshape(shape).contiguous()}


def invoke(impl, inputs: dict) -> dict:
    codes, block_scales, tensor_scale = impl.nvfp4_quantize(inputs["x"])
    x_hat = impl.nvfp4_dequantize(codes, block_scales, tensor_scale)
    return {"codes": codes, "block_scales": block_scales, "tensor_scale": tensor_scale, "x_hat": x_hat}




def _unpack(packed: torch.Tensor) -> torch.Tensor:
    return torch.stack([packed & 0xF, packed >> 4], dim=-1).reshape(*packed.shape[:-1], -1)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int32)


@last_resort
def check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
    from kernels.fp8 import decode_e4m3, encode_e4m3
    for name in ("tensor_scale", "block_scales", "codes", "x_hat"):
        why = tensor_problem(got, name, expected[name])
        if why:
            return CaseCheck(False, why)
    x = inputs["x"].cpu()
    exp = {k: v.cpu() for k, v in expected.items()}
    out = {k: got[k].detach().cpu() for k in exp}
    problems = []
    ts, got_ts = float(exp["tensor_scale"]), float(out["tensor_scale"])
    if not torch.equal(_bits(exp["tensor_scale"]), _bits(out["tensor_scale"])):
        amax = float(x.abs().max())
        hint = ""
        if got_ts and abs(got_ts * ts - 1) < 1e-3:
            hint = " That is its reciprocal (the encode scale 2688/amax); this lab stores the decode scale."
        problems.append(f"tensor_scale: expected {ts!r} = amax(|x|)/2688 with amax = {amax!r} (1.0 for an all-zero "
                        f"tensor), got {got_ts!r}.{hint}")
    wrong = exp["block_scales"] != out["block_scales"]
    if wrong.any():
        i = tuple(int(j) for j in wrong.nonzero()[0])
        blocks = x.reshape(*x.shape[:-1], -1, 16)
        bmax = float(blocks[i].abs().max())
        e, g_ = int(exp["block_scales"][i]), int(out["block_scales"][i])
        ev, gv = (float(decode_e4m3(torch.tensor([c], dtype=torch.uint8))[0]) for c in (e, g_))
        no_ts = encode_e4m3(blocks.abs().amax(dim=-1) / 6.0)
        up = (decode_e4m3(out["block_scales"][wrong]) > decode_e4m3(exp["block_scales"][wrong])).double().mean()
        if torch.equal(out["block_scales"], no_ts):
            hint = "These are E4M3(block_amax / 6) without the tensor scale: divide by tensor_scale first."
        elif up == 1:
            hint = ("Every differing scale is larger than the reference's: the block scale is rounded to "
                    "nearest (ties to even), not up; values that then exceed 6 saturate.")
        else:
            hint = "The block scale is E4M3((block_amax / 6) / tensor_scale), rounded to nearest even, saturating."
        problems.append(f"block_scales: {int(wrong.sum())} of {wrong.numel()} differ, e.g. block {list(i)} with "
                        f"amax {bmax!r}: expected 0x{e:02X} ({ev!r}), got 0x{g_:02X} ({gv!r}). {hint}")
    if not problems:
        problems += _codes_problems(x, exp, out)
    if not problems:
        wrong = _bits(exp["x_hat"]) != _bits(out["x_hat"])
        if wrong.any():
            i = tuple(int(j) for j in wrong.nonzero()[0])
            problems.append(f"nvfp4_dequantize: {int(wrong.sum())} of {wrong.numel()} values differ, e.g. {list(i)}: "
                            f"expected {float(exp['x_hat'][i])!r}, got {float(out['x_hat'][i])!r}. The value is the "
                            "E2M1 value times (E4M3 block scale × tensor_scale), in float32.")
    if problems:
        return CaseCheck(False, "\n".join(problems))
    return CaseCheck(True, "bit-exact")


def _codes_problems(x, exp, out) -> list[str]:
    from kernels.fp8 import decode_e4m3
    ec, gc = _unpack(exp["codes"]), _unpack(out["codes"])
    wrong = ec != gc
    if not wrong.any():
        return []
    swapped = torch.stack([exp["codes"] >> 4, exp["codes"] & 0xF], dim=-1).reshape(ec.shape)
    if torch.equal(gc, swapped):
        return ["codes: the nibbles are swapped: element 2j goes in the low 4 bits of byte j and element 2j+1 "
                "in the high 4 bits."]
    s = (decode_e4m3(exp["block_scales"]) * exp["tensor_scale"]).repeat_interleave(16, dim=-1)
    y = x / s
    a = y.abs()
    classes = [
        ("zero-scale block", s == 0, "when the block scale s is 0 (the E4M3 scale underflowed), every code is 0"),
        ("E2M1 tie", (s != 0) & sum(a == t for t in TIES).bool(),
         "a tie between two E2M1 values goes to the one with the even code (0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4)"),
        ("saturation", (s != 0) & (a > 6), "|x/s| beyond 6 encodes 6 (code 7 / 15)"),
        ("signed zero", (s != 0) & (a < 0.25) & torch.signbit(y),
         "a negative value that rounds to zero (and -0.0) keeps its sign: code 8"),
        ("rounding", torch.ones_like(wrong), "code = the nearest E2M1 value to x/s, sign in bit 3"),
    ]
    lines, taken = [], torch.zeros_like(wrong)
    for name, mask, rule in classes:
        sel = wrong & mask & ~taken
        taken |= mask
        if sel.any():
            i = tuple(int(j) for j in sel.nonzero()[0])
            lines.append(f"- {name}: {int(sel.sum())} wrong, e.g. x = {float(x[i])!r}, x/s = {float(y[i])!r}: "
                         f"expected code {int(ec[i])}, got {int(gc[i])}. {rule}.")
    return [f"codes: {int(wrong.sum())} of {wrong.numel()} differ:\n" + "\n".join(lines)]
