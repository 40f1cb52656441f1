"""NVFP4: E2M1 elements in 16-element blocks along the last axis, an E4M3 scale per block, an FP32 scale
per tensor. Every convention is pinned so that results are bit-exact (see the lab's statement):

  tensor_scale = amax(|x|) / 2688  (448 * 6; 1.0 for an all-zero tensor)
  block byte   = E4M3((block_amax / 6) / tensor_scale), round to nearest even, saturating
  s            = decode(block byte) * tensor_scale
  code         = E2M1(x / s), round to nearest even, saturating at ±6, sign from the sign bit; 0 if s == 0
  packing      = element 2j in the low nibble of byte j, element 2j+1 in the high nibble
  dequantized  = E2M1 value * s

All arithmetic is float32 in exactly this order; E2M1 rounding works on the bit pattern like kernels.fp8.
"""

from __future__ import annotations

import torch

from kernels.fp8 import decode_e4m3, encode_e4m3

BLOCK = 16
E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
_F32_ONE = 0x3F800000
_F32_2_POW_22 = 0x4A800000  # 4194304.0, whose ulp is 0.5: the E2M1 subnormal step


def encode_e2m1(y: torch.Tensor) -> torch.Tensor:
    """float32 -> uint8 codes 0..15 (S.EE.M, bias 1): round to nearest even, |y| beyond 6 saturates."""
    bits = y.view(torch.int32)
    mag = bits & 0x7FFFFFFF
    # |y| >= 1: keep 1 of float32's 23 mantissa bits, round half to even on the pattern, rebias 127 -> 1
    code = mag >> 22
    code &= 1
    code += mag
    code += 0x1FFFFF
    code >>= 22
    code -= 126 << 1
    code.clamp_(max=7)
    # |y| < 1: the code is |y| / 0.5 rounded half to even (adding 2^22 makes the float adder round so)
    sub = y.abs() + 4194304.0
    sub = sub.view(torch.int32) - _F32_2_POW_22
    code = torch.where(mag < _F32_ONE, sub, code)
    code |= (bits >> 28) & 0x8
    return code.to(torch.uint8)


def decode_e2m1(codes: torch.Tensor) -> torch.Tensor:
    """uint8 codes 0..15 -> float32 values."""
    table = torch.tensor(E2M1_VALUES + tuple(-v for v in E2M1_VALUES), dtype=torch.float32, device=codes.device)
    return table[codes.to(torch.int64)]


def nvfp4_quantize(x: torch.Tensor):
    """float32 [..., K] (K a multiple of 16) -> (codes uint8 [..., K/2], block scales uint8 [..., K/16]
    as E4M3 bits, tensor scale float32 0-dim)."""
    if x.dtype != torch.float32:
        raise TypeError(f"nvfp4_quantize expects float32, got {x.dtype}")
    K = x.shape[-1]
    if K % BLOCK or x.numel() == 0:
        raise ValueError(f"the last axis must be a positive multiple of {BLOCK}, got {list(x.shape)}")
    amax = x.abs().amax()
    tensor_scale = torch.where(amax > 0, amax / 2688.0, torch.ones_like(amax))
    blocks = x.reshape(*x.shape[:-1], K // BLOCK, BLOCK)
    scale_bits = encode_e4m3(blocks.abs().amax(dim=-1) / 6.0 / tensor_scale)
    s = decode_e4m3(scale_bits) * tensor_scale
    codes = encode_e2m1(blocks / s[..., None])
    codes = torch.where(s[..., None] == 0, 0, codes).reshape(*x.shape[:-1], K // 2, 2)
    packed = codes[..., 0] | (codes[..., 1] << 4)
    return packed, scale_bits, tensor_scale


def nvfp4_dequantize(codes: torch.Tensor, block_scales: torch.Tensor, tensor_scale: torch.Tensor) -> torch.Tensor:
    """Inverse of nvfp4_quantize: E2M1 value * (E4M3 block scale * tensor scale), float32 [..., K]."""
    pairs = torch.stack([codes & 0xF, codes >> 4], dim=-1)
    values = decode_e2m1(pairs).reshape(*codes.shape[:-1], -1, BLOCK)
    s = decode_e4m3(block_scales) * tensor_scale
    return (values * s[..., None]).reshape(*codes.shape[:-1], codes.shape[-1] * 2)
