"""kernels.gptq against a slow float64 implementation of the definition (explicit inverse of H over the
columns not yet quantized, one column at a time), plus blocking invariance, dead channels and the reason
the lab's cases use structured activations."""

from __future__ import annotations

import pytest
import torch

import kernels.gptq as gptq
from graders.labs.gptq import activation_model, sample_activations
from kernels.gptq import dequantize, gptq_quantize, inverse_cholesky, layer_error

CUDA = torch.cuda.is_available()


def gptq_definition(W, H, bits=4, group_size=128, damp=0.01):
    """The contract, literally, in float64: O(K^4), for small K only."""
    W, H = W.to(torch.float64).clone(), H.to(torch.float64).clone()
    N, K = W.shape
    qmax = 2 ** (bits - 1) - 1
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * H.diagonal().mean() * torch.eye(K, dtype=torch.float64)
    codes = torch.empty(N, K, dtype=torch.int8)
    scales = torch.empty(N, K // group_size, dtype=torch.float64)
    for q in range(K):
        if q % group_size == 0:
            s = (W[:, q : q + group_size].abs().amax(dim=1) / qmax).clamp(min=1e-8)
            scales[:, q // group_size] = s
        c = torch.round(W[:, q] / s).clamp(-qmax - 1, qmax)
        codes[:, q] = c.to(torch.int8)
        Hinv = torch.linalg.inv(H[q:, q:])  # the inverse over the columns not yet quantized
        W[:, q + 1 :] -= ((W[:, q] - c * s) / Hinv[0, 0])[:, None] * Hinv[1:, 0][None, :]
    return codes, scales


def rtn(W, bits, group_size):
    qmax = 2 ** (bits - 1) - 1
    Wg = W.reshape(W.shape[0], -1, group_size)
    s = (Wg.abs().amax(dim=-1, keepdim=True) / qmax).clamp(min=1e-8)
    return (torch.round(Wg / s).clamp(-qmax - 1, qmax) * s).reshape(W.shape)


def problem(N, K, seed, rows=None, dead=0):
    X = sample_activations(activation_model(K, seed), rows or 2 * K, seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    if dead:
        X[:, torch.randperm(K, generator=g)[:dead]] = 0
    W = 0.02 * torch.randn(N, K, generator=g)
    return W, X.T @ X


CASES = [  # N, K, bits, group_size, dead, damp
    (16, 64, 4, 32, 0, 0.01),
    (33, 160, 4, 32, 0, 0.01),
    (24, 128, 3, 64, 0, 0.01),
    (20, 96, 2, 32, 0, 0.01),
    (17, 120, 4, 40, 0, 0.1),
    (9, 240, 4, 80, 0, 0.01),  # groups that straddle 128-column blocks
    (12, 96, 4, 96, 5, 0.01),
    (40, 256, 4, 128, 8, 0.01),
]


@pytest.mark.parametrize(("N", "K", "bits", "g", "dead", "damp"), CASES)
def test_float64_equals_definition(N, K, bits, g, dead, damp):
    W, H = problem(N, K, seed=N + K, dead=dead)
    W, H = W.double(), H.double()
    codes, scales = gptq_quantize(W, H, bits, g, damp)
    want_codes, want_scales = gptq_definition(W, H, bits, g, damp)
    assert codes.dtype == torch.int8 and codes.shape == (N, K)
    assert scales.shape == (N, K // g)
    assert torch.equal(codes, want_codes)
    torch.testing.assert_close(scales, want_scales, rtol=1e-10, atol=0)


@pytest.mark.parametrize(("N", "K", "bits", "g", "dead", "damp"), CASES)
def test_float32_meets_the_lab_rule_against_definition(N, K, bits, g, dead, damp):
    W, H = problem(N, K, seed=3 * K, dead=dead)
    codes, scales = gptq_quantize(W, H, bits, g, damp)
    assert codes.dtype == torch.int8 and scales.dtype == torch.float32
    want_codes, want_scales = gptq_definition(W, H, bits, g, damp)
    assert (codes == want_codes).double().mean() >= 0.999
    err = layer_error(W, dequantize(codes, scales), H)
    want = layer_error(W, dequantize(want_codes, want_scales), H)
    assert abs(err / want - 1) < 1e-3


def test_cholesky_row_is_the_reduced_inverse():
    """Row q of the upper Cholesky factor of H^-1 is [H_F^-1]_{q,F} / sqrt([H_F^-1]_qq), F = {q..K-1}."""
    _, H = problem(4, 48, seed=1)
    U, _ = inverse_cholesky(H, 0.01)
    Hd = H.double() + 0.01 * H.double().diagonal().mean() * torch.eye(48, dtype=torch.float64)
    for q in range(48):
        red = torch.linalg.inv(Hd[q:, q:])
        torch.testing.assert_close(U[q, q:], red[0] / red[0, 0].sqrt(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("block", [1, 32, 64, 96, 10_000])
def test_blocking_does_not_change_the_result(monkeypatch, block):
    W, H = problem(24, 192, seed=5)
    W, H = W.double(), H.double()
    base = gptq_quantize(W, H, 4, 32)
    monkeypatch.setattr(gptq, "BLOCK", block)
    codes, scales = gptq_quantize(W, H, 4, 32)
    assert torch.equal(codes, base[0])
    torch.testing.assert_close(scales, base[1], rtol=1e-12, atol=0)


def test_dead_channels_are_zeroed_and_ignored():
    W, H = problem(16, 128, seed=9, dead=6)
    dead = H.diagonal() == 0
    assert int(dead.sum()) == 6
    codes, scales = gptq_quantize(W, H, 4, 32)
    assert torch.isfinite(scales).all()
    assert (codes[:, dead] == 0).all()
    W2 = W.clone()
    W2[:, dead] = 100.0  # whatever the dead weights are, they are zeroed before anything else
    codes2, scales2 = gptq_quantize(W2, H, 4, 32)
    assert torch.equal(codes, codes2) and torch.equal(scales, scales2)


def test_zero_weights_give_zero_codes_and_floor_scales():
    _, H = problem(4, 64, seed=2)
    codes, scales = gptq_quantize(torch.zeros(4, 64), H, 4, 32)
    assert (codes == 0).all() and torch.equal(scales, torch.full((4, 2), 1e-8))


def test_codes_stay_in_range():
    W, H = problem(64, 128, seed=4)
    for bits in (2, 3, 4, 8):
        codes, _ = gptq_quantize(W, H, bits, 32)
        assert int(codes.min()) >= -(2 ** (bits - 1)) and int(codes.max()) <= 2 ** (bits - 1) - 1
    assert int(gptq_quantize(W, H, 2, 32)[0].min()) == -2  # updates push values past the scale: clamped


def test_layer_error_is_the_calibration_loss():
    X = sample_activations(activation_model(64, 1), 128, 2).double()
    W = torch.randn(8, 64, dtype=torch.float64)
    W_hat = torch.round(W * 4) / 4
    expected = float(((X @ (W - W_hat).T) ** 2).sum())
    assert abs(layer_error(W, W_hat, X.T @ X) / expected - 1) < 1e-10


def test_rejects_groups_that_do_not_divide_k():
    W, H = problem(4, 96, seed=1)
    with pytest.raises(ValueError):
        gptq_quantize(W, H, 4, 64)


def held_out_ratio(K, seed, structured):
    """GPTQ's layer error over RTN's on held-out inputs from the calibration distribution."""
    if structured:
        model = activation_model(K, seed)
        X, X_test = sample_activations(model, 2 * K, seed + 1), sample_activations(model, 8 * K, seed + 2)
    else:
        g = torch.Generator().manual_seed(seed)
        X, X_test = torch.randn(2 * K, K, generator=g), torch.randn(8 * K, K, generator=g)
    W = 0.02 * torch.randn(64, K, generator=torch.Generator().manual_seed(seed + 3))
    codes, scales = gptq_quantize(W, X.T @ X, 4, 64)
    H_test = X_test.T @ X_test
    return layer_error(W, dequantize(codes, scales), H_test) / layer_error(W, rtn(W, 4, 64), H_test)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gptq_beats_rtn_on_held_out_structured_activations(seed):
    assert held_out_ratio(256, seed, structured=True) < 0.5


@pytest.mark.parametrize("seed", [1, 2])
def test_on_isotropic_activations_gptq_fits_noise_and_loses_to_rtn(seed):
    """Why the cases are structured: with isotropic X, GPTQ compensates along sampling noise."""
    assert held_out_ratio(256, seed, structured=False) > 1.1


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_matches_cpu():
    W, H = problem(64, 256, seed=11, dead=3)
    codes, scales = gptq_quantize(W.cuda(), H.cuda(), 4, 64)
    assert codes.device.type == "cuda" and scales.device.type == "cuda"
    ref_codes, ref_scales = gptq_quantize(W, H, 4, 64)
    assert (codes.cpu() == ref_codes).double().mean() >= 0.999
    err = layer_error(W, dequantize(codes.cpu(), scales.cpu()), H)
    assert abs(err / layer_error(W, dequantize(ref_codes, ref_scales), H) - 1) < 1e-3
