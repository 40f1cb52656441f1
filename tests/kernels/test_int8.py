"""kernels.int8 against its specification: a scalar definition in numpy float32 (one rounding per
operation, Python's round() is half to even), exhaustive dequantization over every code and zero point,
exact ties, the clamp, all-zero / constant / one-signed channels, and the course notes' §2.5 errors as
regressions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graders.labs.int8_asym import make_inputs
from kernels.int8 import dequantize_int8_asym, quantize_int8_asym

CUDA = torch.cuda.is_available()
F = np.float32


def definition(w: torch.Tensor, axis: int):
    """Channel by channel, element by element, in numpy float32 scalars: the statement's rules."""
    m = w.numpy() if axis == 0 else w.numpy().T
    q = np.zeros(m.shape, dtype=np.uint8)
    scales, zps = [], []
    for c, row in enumerate(m):
        lo, hi = min(F(row.min()), F(0)), max(F(row.max()), F(0))
        span = F(hi - lo)
        s = F(1.0) if span == 0 else F(span / F(255))
        z = min(max(round(float(F(-lo / s))), 0), 255)
        for j, v in enumerate(row):
            q[c, j] = min(max(round(float(F(v / s))) + z, 0), 255)
        scales.append(s)
        zps.append(z)
    scale = np.array(scales, dtype=np.float32)
    zp = np.array(zps, dtype=np.uint8)
    if axis == 0:
        return q, scale.reshape(-1, 1), zp.reshape(-1, 1)
    return q.T, scale.reshape(1, -1), zp.reshape(1, -1)


CASES = [  # kind, shape, axis
    ("random", [37, 29], 0), ("random", [29, 37], 1), ("offset", [21, 17], 0), ("offset", [17, 21], 1),
    ("zeros", [25, 9], 0), ("zeros", [9, 25], 1), ("ties", [24, 33], 0), ("ties", [33, 24], 1),
    ("magnitudes", [12, 31], 0), ("random", [1, 1], 0), ("random", [1, 50], 1), ("random", [50, 1], 0),
]


@pytest.mark.parametrize(("kind", "shape", "axis"), CASES)
def test_quantize_matches_the_scalar_definition(kind, shape, axis):
    w = make_inputs({"kind": kind, "shape": shape, "axis": axis}, seed=11)["w"]
    q, scale, zp = quantize_int8_asym(w, axis)
    dq, ds, dz = definition(w, axis)
    assert q.dtype == torch.uint8 and scale.dtype == torch.float32 and zp.dtype == torch.uint8
    assert tuple(q.shape) == tuple(shape)
    assert tuple(scale.shape) == tuple(zp.shape) == ((shape[0], 1) if axis == 0 else (1, shape[1]))
    assert np.array_equal(scale.numpy().view(np.int32), ds.view(np.int32))  # bit for bit
    assert np.array_equal(zp.numpy(), dz)
    assert np.array_equal(q.numpy(), dq)


def test_worked_example_of_the_statement():
    w = torch.tensor([[-1.0, 0.0, 0.5, 3.0], [2.0, 3.0, 2.5, 2.0], [0.0, -0.0, 0.0, 0.0]])
    q, scale, zp = quantize_int8_asym(w)
    assert q.tolist() == [[0, 64, 96, 255], [170, 255, 212, 170], [0, 0, 0, 0]]
    assert zp.flatten().tolist() == [64, 0, 0]
    assert scale.view(torch.int32).flatten().tolist()[0] == 0x3C808081 and float(scale[2]) == 1.0
    assert dequantize_int8_asym(q, scale, zp)[0].tolist() == pytest.approx([-1.0039216, 0.0, 0.5019608, 2.9960785])


def test_dequantize_every_code_and_zero_point_exactly():
    q = torch.arange(256, dtype=torch.uint8).repeat(256, 1)  # row z: every code, zero point z
    zp = torch.arange(256, dtype=torch.uint8).reshape(-1, 1)
    for s in (1.0, 4 / 255, 0.1, 3.0e-7, 12345.678):
        scale = torch.full((256, 1), s, dtype=torch.float32)
        got = dequantize_int8_asym(q, scale, zp)
        want = (q.numpy().astype(np.float32) - zp.numpy().astype(np.float32)) * F(s)
        assert np.array_equal(got.numpy().view(np.int32), want.view(np.int32))
        got1 = dequantize_int8_asym(q.t().contiguous(), scale.t().contiguous(), zp.t().contiguous(), axis=1)
        assert torch.equal(got1, got.t())


def test_zero_is_exactly_representable_and_round_trip_error_is_half_a_step():
    w = make_inputs({"kind": "random", "shape": [64, 257]}, seed=3)["w"]
    w[:, 5] = 0.0
    q, scale, zp = quantize_int8_asym(w)
    back = dequantize_int8_asym(q, scale, zp)
    assert torch.equal(q[:, 5:6], zp) and bool((back[:, 5] == 0).all())
    assert bool(((w - back).abs() <= scale * 0.5 * (1 + 1e-5)).all())


def test_ties_round_half_to_even_and_the_clamp_binds():
    s = 2.0**-6
    # -lo / s = 3.5 -> zero point 4 (even); hi / s = 251.5 -> 252 (even); 252 + 4 = 256 -> clamped to 255
    row = torch.tensor([[-3.5 * s, 251.5 * s, 0.5 * s, 1.5 * s, 2.5 * s, -0.5 * s, -1.5 * s]], dtype=torch.float32)
    q, scale, zp = quantize_int8_asym(row)
    assert float(scale) == s and int(zp) == 4
    assert q.tolist() == [[0, 255, 4, 6, 6, 4, 2]]  # round(0.5)=0, round(1.5)=2, round(2.5)=2, round(-0.5)=0, round(-1.5)=-2


def test_all_zero_constant_and_one_signed_channels():
    w = torch.tensor([[0.0, 0.0, 0.0], [-0.0, 0.0, -0.0], [2.5, 2.5, 2.5], [-2.5, -2.5, -2.5], [1.0, 2.0, 3.0],
                      [-3.0, -2.0, -1.0]])
    q, scale, zp = quantize_int8_asym(w)
    assert scale[:2].flatten().tolist() == [1.0, 1.0] and zp[:2].flatten().tolist() == [0, 0] and not q[:2].any()
    assert q[2].tolist() == [255] * 3 and int(zp[2]) == 0 and float(scale[2]) == np.float32(2.5) / np.float32(255)
    assert q[3].tolist() == [0] * 3 and int(zp[3]) == 255
    assert int(zp[4]) == 0 and q[4].tolist() == [85, 170, 255]
    assert int(zp[5]) == 255 and q[5].tolist() == [0, 85, 170]


def test_round_then_add_the_zero_point_not_add_then_round():
    # lo = -101, hi = 154: scale exactly 1, zero point 101. w = 0.5 - 2^-20 rounds to 0 -> code 101; the
    # notes' round(w / s + z) rounds the float32 sum 101.5 (a tie created by the addition) to 102.
    w = torch.tensor([[-101.0, 154.0, 0.5 - 2.0**-20]])
    q, scale, zp = quantize_int8_asym(w)
    assert float(scale) == 1.0 and int(zp) == 101 and int(q[0, 2]) == 101
    assert float(torch.round(w[0, 2] / scale[0, 0] + zp[0, 0].float())) == 102.0


def course_notes_2_5(x, n_bits=8, channel_dim=0):
    """§2.5 of the notes verbatim (signed codes -128..127, stored as int32)."""
    q_min, q_max = -(1 << (n_bits - 1)), (1 << (n_bits - 1)) - 1
    reduce_dims = [d for d in range(x.dim()) if d != channel_dim]
    x_min = x.amin(dim=reduce_dims, keepdim=True)
    x_max = x.amax(dim=reduce_dims, keepdim=True)
    scale = (x_max - x_min).clamp(min=1e-8) / (q_max - q_min)
    zero_point = (q_min - x_min / scale).round().clamp(q_min, q_max)
    q = (x / scale + zero_point).round().clamp(q_min, q_max).to(torch.int32)
    return q, scale, zero_point.to(torch.int32)


def test_course_notes_errors_as_regressions():
    # (1) a one-signed channel: the zero point clamps at q_min and every code of the channel collapses
    w = torch.tensor([[1.0, 1.5, 2.0], [-1.0, 0.0, 1.0]])
    q, s, z = course_notes_2_5(w)
    back = s * (q.float() - z.float())
    assert float((w[0] - back[0]).abs().max()) > 0.4  # the notes: 1.0, 1.5 and 2.0 all come back as ~1.0
    q2, s2, z2 = quantize_int8_asym(w)
    assert bool(((w - dequantize_int8_asym(q2, s2, z2)).abs() <= s2 / 2 * (1 + 1e-6)).all())
    # (2) a constant nonzero channel: the epsilon scale makes it dequantize to ~1e-8 instead of 0.5
    q, s, z = course_notes_2_5(torch.full((1, 4), 0.5))
    assert float((s * (q.float() - z.float())).max()) < 1e-7
    q2, s2, z2 = quantize_int8_asym(torch.full((1, 4), 0.5))
    assert torch.equal(dequantize_int8_asym(q2, s2, z2), torch.full((1, 4), 0.5))
    # (3) the notes return scale with keepdim ([N, 1]) although the docstring says [N]
    assert tuple(course_notes_2_5(torch.randn(5, 7))[1].shape) == (5, 1)


def test_rejects_what_the_contract_excludes():
    with pytest.raises(TypeError):
        quantize_int8_asym(torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError):
        quantize_int8_asym(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError):
        quantize_int8_asym(torch.zeros(2, 2), axis=2)


def test_input_is_not_modified():
    w = make_inputs({"kind": "random", "shape": [16, 33]}, seed=5)["w"]
    before = w.clone()
    quantize_int8_asym(w, 1)
    assert torch.equal(w, before)


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize(("kind", "shape", "axis"), CASES)
def test_cuda_matches_cpu_bit_for_bit(kind, shape, axis):
    w = make_inputs({"kind": kind, "shape": shape, "axis": axis}, seed=11)["w"]
    cpu = quantize_int8_asym(w, axis)
    gpu = quantize_int8_asym(w.cuda(), axis)
    assert all(g.device.type == "cuda" for g in gpu)
    for a, b in zip(cpu, gpu, strict=True):
        assert torch.equal(a, b.cpu())
    assert torch.equal(dequantize_int8_asym(*cpu, axis), dequantize_int8_asym(*gpu, axis).cpu())
