"""KIVI (Liu et al., ICML 2024) KV-cache quantization: keys per channel, values per token, asymmetric.

Keys have outlier *channels*, so each channel gets its own min/max over a group of `group_size`
consecutive tokens; only whole multiples of `residual` tokens are quantized (the tail stays float32).
Values have no fixed outlier channels but their error mixes across channels in the attention output,
so each token's channels are grouped by `group_size`; the last `residual` tokens stay float32.
Asymmetric: scale = (max - min) / (2^bits - 1), zero point = min, codes round half to even and clamp to
[0, 2^bits - 1]; a constant group has scale 0 and dequantizes to its value. Codes are packed 8/bits
per byte along the channel axis, low bits first. Pure tensor ops, device follows the inputs.
"""

from __future__ import annotations

import torch


def quantized_lengths(L: int, residual: int) -> tuple[int, int]:
    """How many leading tokens are quantized: (keys, values)."""
    keys = L - L % residual if L >= residual else 0
    values = L - residual if L > residual else 0
    return keys, values


def _quantize(x: torch.Tensor, dim: int, bits: int):
    """Asymmetric min/max quantization of x reduced over `dim` -> (codes uint8, scale, zero)."""
    lo = x.amin(dim=dim, keepdim=True)
    hi = x.amax(dim=dim, keepdim=True)
    scale = (hi - lo) / (2**bits - 1)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = torch.round((x - lo) / safe).clamp_(0, 2**bits - 1).to(torch.uint8)
    return codes, scale, lo


def pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack uint8 codes < 2^bits along the last axis, 8/bits per byte, the first code in the low bits."""
    per = 8 // bits
    pad = -codes.shape[-1] % per
    if pad:
        codes = torch.nn.functional.pad(codes, (0, pad))
    codes = codes.reshape(*codes.shape[:-1], codes.shape[-1] // per, per)
    shifts = torch.arange(0, 8, bits, dtype=torch.uint8, device=codes.device)
    return (codes << shifts).sum(dim=-1, dtype=torch.uint8)


def unpack(packed: torch.Tensor, bits: int, n: int) -> torch.Tensor:
    """Inverse of pack: the first n codes along the last axis."""
    shifts = torch.arange(0, 8, bits, dtype=torch.uint8, device=packed.device)
    codes = (packed[..., None] >> shifts) & (2**bits - 1)
    return codes.reshape(*packed.shape[:-1], packed.shape[-1] * len(shifts))[..., :n]


def kivi_quantize(k: torch.Tensor, v: torch.Tensor, bits: int = 2, group_size: int = 32, residual: int = 32):
    """k, v float32 [B, H, L, D] -> cache dict (packed uint8 codes, float32 scales/zeros/full-precision tails)."""
    if 8 % bits or residual % group_size or k.shape[-1] % group_size:
        raise ValueError("bits must divide 8 and group_size must divide residual and D")
    B, H, L, D = k.shape
    lk, lv = quantized_lengths(L, residual)
    g = group_size
    kq = k[:, :, :lk].reshape(B, H, lk // g, g, D)  # per channel: reduce over the g tokens of a group
    k_codes, k_scale, k_zero = _quantize(kq, 3, bits)
    vq = v[:, :, :lv].reshape(B, H, lv, D // g, g)  # per token: reduce over g channels
    v_codes, v_scale, v_zero = _quantize(vq, 4, bits)
    return {
        "bits": torch.tensor(bits, dtype=torch.uint8),
        "group_size": torch.tensor(group_size, dtype=torch.int32),
        "k_codes": pack(k_codes.reshape(B, H, lk, D), bits),
        "k_scale": k_scale.reshape(B, H, lk // g, D),
        "k_zero": k_zero.reshape(B, H, lk // g, D),
        "k_fp": k[:, :, lk:].clone(),
        "v_codes": pack(v_codes.reshape(B, H, lv, D), bits),
        "v_scale": v_scale.reshape(B, H, lv, D // g),
        "v_zero": v_zero.reshape(B, H, lv, D // g),
        "v_fp": v[:, :, lv:].clone(),
    }


def kivi_dequantize(cache: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """cache -> (k_hat, v_hat) float32 [B, H, L, D]: code * scale + zero, then the float32 tails."""
    bits, g = int(cache["bits"]), int(cache["group_size"])
    B, H, _, D = cache["k_fp"].shape
    k_codes = unpack(cache["k_codes"], bits, D).to(torch.float32)
    lk = k_codes.shape[2]
    k = k_codes.reshape(B, H, lk // g, g, D) * cache["k_scale"][:, :, :, None] + cache["k_zero"][:, :, :, None]
    v_codes = unpack(cache["v_codes"], bits, D).to(torch.float32)
    lv = v_codes.shape[2]
    v = v_codes.reshape(B, H, lv, D // g, g) * cache["v_scale"][..., None] + cache["v_zero"][..., None]
    k_hat = torch.cat([k.reshape(B, H, lk, D), cache["k_fp"]], dim=2)
    v_hat = torch.cat([v.reshape(B, H, lv, D), cache["v_fp"]], dim=2)
    return k_hat, v_hat
