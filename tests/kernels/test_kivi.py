"""kernels.kivi against a slow definition that loops over every group, plus the window lengths, constant
groups, packing and the storage it buys."""

from __future__ import annotations

import pytest
import torch

from graders.labs.kivi import make_inputs
from kernels.kivi import kivi_dequantize, kivi_quantize, pack, quantized_lengths, unpack

CUDA = torch.cuda.is_available()


def qdq_group(x: torch.Tensor, bits: int) -> torch.Tensor:
    """One group, by the definition (float32, same operation order as any straightforward implementation)."""
    lo, hi = x.min(), x.max()
    if hi == lo:
        return torch.full_like(x, float(lo))
    scale = (hi - lo) / (2**bits - 1)
    return torch.round((x - lo) / scale).clamp(0, 2**bits - 1) * scale + lo


def kivi_definition(k, v, bits, g, residual):
    B, H, L, D = k.shape
    lk = L - L % residual if L >= residual else 0
    lv = L - residual if L > residual else 0
    k_hat, v_hat = k.clone(), v.clone()
    for b in range(B):
        for h in range(H):
            for t in range(0, lk, g):  # keys: per channel, over g consecutive tokens
                for d in range(D):
                    k_hat[b, h, t : t + g, d] = qdq_group(k[b, h, t : t + g, d], bits)
            for t in range(lv):  # values: per token, over g consecutive channels
                for d in range(0, D, g):
                    v_hat[b, h, t, d : d + g] = qdq_group(v[b, h, t, d : d + g], bits)
    return k_hat, v_hat


CASES = [  # b, h, l, d, bits, group_size, residual, constant
    (1, 2, 100, 64, 2, 32, 32, False),
    (1, 1, 20, 32, 2, 32, 32, False),  # L < residual: nothing quantized
    (1, 1, 32, 32, 2, 32, 32, False),  # L == residual: all keys, no values
    (1, 1, 33, 32, 2, 32, 32, False),
    (2, 1, 64, 32, 2, 16, 32, False),  # L a multiple of residual
    (1, 2, 96, 64, 2, 32, 32, True),  # constant groups
    (1, 1, 77, 64, 4, 32, 64, False),
    (2, 1, 45, 40, 4, 8, 16, False),
    (1, 1, 50, 16, 8, 16, 16, False),
]


@pytest.mark.parametrize(("b", "h", "l", "d", "bits", "g", "r", "constant"), CASES)
def test_matches_per_group_definition(b, h, l, d, bits, g, r, constant):  # noqa: E741
    inp = make_inputs({"b": b, "h": h, "l": l, "d": d, "bits": bits, "group_size": g, "residual": r,
                       "constant": constant}, seed=l + d)
    k, v = inp["k"], inp["v"]
    k_hat, v_hat = kivi_dequantize(kivi_quantize(k, v, bits, g, r))
    want_k, want_v = kivi_definition(k, v, bits, g, r)
    assert k_hat.dtype == torch.float32 and k_hat.shape == k.shape and v_hat.shape == v.shape
    assert torch.equal(k_hat, want_k)  # bit for bit: same float32 operations, group by group
    assert torch.equal(v_hat, want_v)


@pytest.mark.parametrize(
    ("L", "r", "keys", "values"),
    [(0, 32, 0, 0), (20, 32, 0, 0), (31, 32, 0, 0), (32, 32, 32, 0), (33, 32, 32, 1), (63, 32, 32, 31),
     (64, 32, 64, 32), (100, 32, 96, 68), (517, 128, 512, 389)],
)
def test_window_lengths(L, r, keys, values):
    assert quantized_lengths(L, r) == (keys, values)


def test_full_precision_windows_are_exact_and_quantized_part_within_half_a_step():
    inp = make_inputs({"b": 2, "h": 2, "l": 100, "d": 64}, seed=1)
    k, v = inp["k"], inp["v"]
    cache = kivi_quantize(k, v, 2, 32, 32)
    k_hat, v_hat = kivi_dequantize(cache)
    assert torch.equal(k_hat[:, :, 96:], k[:, :, 96:]) and torch.equal(v_hat[:, :, 68:], v[:, :, 68:])
    k_step = cache["k_scale"].repeat_interleave(32, dim=2)
    v_step = cache["v_scale"].repeat_interleave(32, dim=3)
    assert ((k_hat[:, :, :96] - k[:, :, :96]).abs() <= k_step / 2 * (1 + 1e-4) + 1e-6).all()
    assert ((v_hat[:, :, :68] - v[:, :, :68]).abs() <= v_step / 2 * (1 + 1e-4) + 1e-6).all()
    assert not (k_hat[:, :, :96] == k[:, :, :96]).all()  # it did quantize


def test_constant_groups_dequantize_to_their_value():
    k = torch.randn(1, 1, 64, 32)
    v = torch.randn(1, 1, 64, 32)
    k[..., 3] = 0.3  # every key group of channel 3 is constant
    v[:, :, 5] = -7.0  # token 5's value groups are constant
    cache = kivi_quantize(k, v, 2, 32, 32)
    k_hat, v_hat = kivi_dequantize(cache)
    assert torch.isfinite(k_hat).all() and torch.isfinite(v_hat).all()
    assert torch.equal(k_hat[..., 3], k[..., 3]) and torch.equal(v_hat[:, :, 5], v[:, :, 5])
    assert (cache["k_scale"][..., 3] == 0).all()


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("n", [1, 7, 8, 13, 64])
def test_pack_round_trips(bits, n):
    codes = torch.randint(0, 2**bits, (3, 2, n), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
    packed = pack(codes, bits)
    assert packed.dtype == torch.uint8 and packed.shape[-1] == -(-n * bits // 8)
    assert torch.equal(unpack(packed, bits, n), codes)


def test_pack_order_is_low_bits_first():
    assert pack(torch.tensor([[1, 2, 3, 0]], dtype=torch.uint8), 2).tolist() == [[1 | 2 << 2 | 3 << 4]]


@pytest.mark.parametrize(("bits", "L"), [(2, 100), (4, 77), (2, 20)])
def test_cache_bytes(bits, L):
    """Codes at bits/8 bytes each, float32 scale and zero per group, float32 windows: nothing else."""
    B, H, D, g, r = 2, 3, 64, 32, 32
    k, v = torch.randn(B, H, L, D), torch.randn(B, H, L, D)
    cache = kivi_quantize(k, v, bits, g, r)
    lk, lv = quantized_lengths(L, r)
    total = sum(t.numel() * t.element_size() for t in cache.values())
    want = (
        B * H * (lk + lv) * D * bits // 8  # packed codes
        + B * H * (lk // g * D + lv * D // g) * 2 * 4  # scales and zero points
        + B * H * ((L - lk) + (L - lv)) * D * 4  # full-precision windows
        + 1 + 4  # bits and group_size
    )
    assert total == want
    assert cache["k_codes"].dtype == torch.uint8 and cache["k_scale"].dtype == torch.float32


def test_keys_per_channel_beat_keys_per_token_on_outlier_channels():
    """Why KIVI groups keys per channel: the lab's keys have outlier channels (as real keys do)."""
    inp = make_inputs({"b": 1, "h": 4, "l": 256, "d": 64}, seed=3)
    k = inp["k"]
    per_channel, _ = kivi_dequantize(kivi_quantize(k, k, 2, 32, 32))
    _, per_token = kivi_dequantize(kivi_quantize(k, k, 2, 32, 32))  # values are quantized per token
    lk, lv = quantized_lengths(256, 32)
    n = min(lk, lv)
    err_channel = (per_channel[:, :, :n] - k[:, :, :n]).pow(2).mean()
    err_token = (per_token[:, :, :n] - k[:, :, :n]).pow(2).mean()
    assert err_channel < 0.5 * err_token


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_matches_cpu():
    inp = make_inputs({"b": 2, "h": 4, "l": 300, "d": 128, "residual": 128}, seed=5)
    k, v = inp["k"], inp["v"]
    cache = kivi_quantize(k.cuda(), v.cuda(), 2, 32, 128)
    assert all(t.device.type == "cuda" for n, t in cache.items() if n not in ("bits", "group_size"))
    k_hat, v_hat = kivi_dequantize(cache)
    ref_k, ref_v = kivi_dequantize(kivi_quantize(k, v, 2, 32, 128))
    torch.testing.assert_close(k_hat.cpu(), ref_k, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(v_hat.cpu(), ref_v, rtol=1e-5, atol=1e-5)
