"""kernels.nvfp4 against a slow scalar definition (numpy float32 arithmetic, nearest-value rounding by brute
force) and every pinned convention: E2M1 ties and saturation, the tensor and block scales, zero blocks,
signed zeros, nibble order."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kernels.fp8 import decode_e4m3
from kernels.nvfp4 import E2M1_VALUES, decode_e2m1, encode_e2m1, nvfp4_dequantize, nvfp4_quantize

CUDA = torch.cuda.is_available()
E4M3_VALUES = [m * 2.0**-9 for m in range(8)] + [(1 + m / 8) * 2.0 ** (e - 7) for e in range(1, 16) for m in range(8)][:-1]


def nearest_code(a: float, values) -> int:
    """Index of the nearest of `values` (increasing) to a >= 0, ties to the even index; beyond the last
    value the last one is nearest (saturation)."""
    d = [abs(a - v) for v in values]
    best = min(d)
    idx = [i for i, di in enumerate(d) if di == best]
    return idx[0] if len(idx) == 1 else next(i for i in idx if i % 2 == 0)


def e2m1_definition(y: float) -> int:
    return nearest_code(min(abs(y), 16.0), E2M1_VALUES) | (8 if math.copysign(1.0, y) < 0 else 0)


def nvfp4_definition(x: np.ndarray):
    """One block at a time, float32 arithmetic through numpy scalars, in the pinned order."""
    f = np.float32
    amax = f(np.abs(x).max())
    ts = amax / f(2688.0) if amax > 0 else f(1.0)
    rows, K = x.shape
    codes = np.zeros((rows, K), dtype=np.uint8)
    scales = np.zeros((rows, K // 16), dtype=np.uint8)
    for r in range(rows):
        for b in range(K // 16):
            blk = x[r, 16 * b : 16 * b + 16]
            t = f(f(np.abs(blk).max()) / f(6.0)) / ts
            code = nearest_code(min(float(t), 1e6), E4M3_VALUES)
            scales[r, b] = code
            s = f(E4M3_VALUES[code]) * ts
            for i in range(16):
                codes[r, 16 * b + i] = 0 if s == 0 else e2m1_definition(float(f(blk[i]) / s))
    return codes, scales, ts


def unpack(packed: torch.Tensor) -> torch.Tensor:
    return torch.stack([packed & 0xF, packed >> 4], dim=-1).reshape(*packed.shape[:-1], -1)


# --- E2M1 -----------------------------------------------------------------------------------------------


def test_e2m1_on_all_float16_values():
    y = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16).to(torch.float32)
    y = y[~torch.isnan(y)]
    want = torch.tensor([e2m1_definition(v) for v in y.tolist()], dtype=torch.uint8)
    assert torch.equal(encode_e2m1(y), want)


def test_e2m1_on_random_float32_near_the_grid():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(100_000, generator=g) * 16 - 8).to(torch.float32)
    ties = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])
    near = torch.cat([ties, torch.nextafter(ties, ties + 1), torch.nextafter(ties, ties - 1)])
    y = torch.cat([y, near, -near])
    want = torch.tensor([e2m1_definition(v) for v in y.tolist()], dtype=torch.uint8)
    assert torch.equal(encode_e2m1(y), want)


@pytest.mark.parametrize(
    ("y", "code"),
    [(0.0, 0), (-0.0, 8), (0.25, 0), (0.75, 2), (1.25, 2), (1.75, 4), (2.5, 4), (3.5, 6), (5.0, 6),
     (-5.0, 14), (5.5, 7), (6.0, 7), (7.0, 7), (1e30, 7), (-0.2, 8), (0.3, 1)],
)
def test_e2m1_ties_saturation_signed_zero(y, code):
    assert int(encode_e2m1(torch.tensor([y]))[0]) == code


def test_e2m1_decode_all_codes():
    assert decode_e2m1(torch.arange(16, dtype=torch.uint8)).tolist() == list(E2M1_VALUES) + [-v for v in E2M1_VALUES]


# --- the whole format -----------------------------------------------------------------------------------


def spread(rows, K, seed, lo=-12, hi=12):
    """Blocks of very different magnitudes (so block scales cover the E4M3 range, subnormals included)."""
    g = torch.Generator().manual_seed(seed)
    mag = torch.exp2(torch.randint(lo, hi, (rows, K // 16, 1), generator=g).float())
    return (torch.randn(rows, K // 16, 16, generator=g) * mag).reshape(rows, K)


@pytest.mark.parametrize(("rows", "K", "seed", "lo", "hi"), [(4, 64, 1, -3, 3), (3, 48, 2, -12, 12), (2, 160, 3, -30, 10)])
def test_matches_the_definition(rows, K, seed, lo, hi):
    x = spread(rows, K, seed, lo, hi)
    x[0, :16] = 0.0  # a zero block
    x[1, 3] = -0.0
    packed, scales, ts = nvfp4_quantize(x)
    codes, want_scales, want_ts = nvfp4_definition(x.numpy())
    assert ts.dtype == torch.float32 and ts.dim() == 0 and float(ts) == float(want_ts)
    assert torch.equal(scales, torch.from_numpy(want_scales))
    assert torch.equal(unpack(packed), torch.from_numpy(codes))


def test_exact_ties_round_to_even():
    """With a power-of-two tensor scale and an E4M3 block scale, x / s hits the E2M1 ties exactly."""
    ties = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0] * 2)
    x = torch.stack([ties * 2.0**-3, ties * 0.75, ties * 2.0**4])  # block maxima 6 * {2^-3, 0.75, 2^4}
    x[2, 0] = 2688.0 * 2.0**2  # amax = 2688 * 4: tensor scale 4 exactly (this block's scale is 448)
    x[2, 1:] = ties[1:] * 448 * 4
    packed, scales, ts = nvfp4_quantize(x)
    assert float(ts) == 4.0
    assert decode_e4m3(scales).flatten().tolist() == [2.0**-5, 0.1875, 448.0]
    assert unpack(packed)[:2].tolist() == [[0, 2, 2, 4, 4, 6, 6, 7] * 2] * 2


def test_nibble_order_low_first():
    x = torch.tensor([[0.5, 6.0] + [0.0] * 14])
    packed, _, _ = nvfp4_quantize(x)
    assert int(packed[0, 0]) == 0x71  # 0.5 (code 1) in the low nibble, 6.0 (code 7) in the high one


def test_zero_tensor_and_tiny_blocks():
    packed, scales, ts = nvfp4_quantize(torch.zeros(2, 32))
    assert float(ts) == 1.0 and (packed == 0).all() and (scales == 0).all()
    x = torch.zeros(1, 32)
    x[0, 0] = 2688.0
    x[0, 16:] = -1e-4  # block scale 1e-4/6 underflows E4M3's 2^-9: s == 0, codes 0
    packed, scales, ts = nvfp4_quantize(x)
    assert int(scales[0, 1]) == 0 and (packed[0, 8:] == 0).all()
    assert (nvfp4_dequantize(packed, scales, ts)[0, 16:] == 0).all()


def test_round_trip_error_is_within_half_a_step():
    x = spread(8, 256, 5, -4, 4)
    packed, scales, ts = nvfp4_quantize(x)
    xh = nvfp4_dequantize(packed, scales, ts)
    s = (decode_e4m3(scales) * ts).repeat_interleave(16, dim=1)
    # the E2M1 grid step around |y| is at most 2 (between 4 and 6); beyond 6 saturation adds at most 0.5
    assert ((xh - x).abs() <= s * 1.0 + 1e-6).all()
    assert torch.equal(xh, nvfp4_dequantize(*nvfp4_quantize(xh)))  # representable values are fixed points


def test_leading_dims_and_validation():
    x = spread(6, 32, 7).reshape(2, 3, 32)
    packed, scales, _ = nvfp4_quantize(x)
    assert packed.shape == (2, 3, 16) and scales.shape == (2, 3, 2)
    with pytest.raises(ValueError):
        nvfp4_quantize(torch.ones(2, 24))
    with pytest.raises(TypeError):
        nvfp4_quantize(torch.ones(2, 32, dtype=torch.float64))


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_matches_cpu():
    x = spread(64, 1024, 9)
    got = nvfp4_quantize(x.cuda())
    want = nvfp4_quantize(x)
    for a, b in zip(got, want, strict=True):
        assert a.device.type == "cuda" and torch.equal(a.cpu(), b)
