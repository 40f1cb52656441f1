"""Asymmetric (affine) INT8 per-channel quantization, uint8 codes 0..255 (the course notes' §2.5, pinned).

For a 2-D float32 ``w`` and ``axis`` (the channel dimension: 0 = one scale per row, 1 = one per column),
every channel ``c`` gets, in float32:

    lo = min(min_c w, 0),  hi = max(max_c w, 0)          # 0 is always inside [lo, hi]
    scale = (hi - lo) / 255, or exactly 1.0 when hi == lo (an all-zero channel)
    zero_point = clamp(round(-lo / scale), 0, 255)        # round half to even (torch.round)
    q = clamp(round(w / scale) + zero_point, 0, 255)      # round first, then add the integer zero point

Scale and zero point keep the reduced dimension (``[R, 1]`` for axis=0, ``[1, C]`` for axis=1) so they
broadcast against ``w``, and dequantization is ``(q - zero_point) * scale`` (an exact integer difference, then one rounding).
Every division is one IEEE float32 division of two tensors: on CUDA, ``t / 255.0`` with a Python scalar
is computed as ``t * (1 / 255)`` and can differ by one ulp, so the divisor is always a tensor here.
Tensor ops only: the same code runs on CPU and CUDA and follows the input's device.
"""

from __future__ import annotations

import torch

QMIN, QMAX = 0, 255


def _axis(w: torch.Tensor, axis: int) -> int:
    if w.dim() != 2:
        raise ValueError(f"expects a 2-D tensor, got shape {list(w.shape)}")
    if axis not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0 or 1, got {axis}")
    return axis % 2


def channel_range(w: torch.Tensor, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo, hi) per channel: the channel's min clamped to <= 0 and max clamped to >= 0."""
    other = 1 - _axis(w, axis)
    return w.amin(dim=other).clamp(max=0.0), w.amax(dim=other).clamp(min=0.0)


def scale_and_zero_point(w: torch.Tensor, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 scale and float32 (integer-valued) zero point per channel (1-D, length w.shape[axis])."""
    lo, hi = channel_range(w, axis)
    span = hi - lo
    scale = span / torch.full_like(span, float(QMAX - QMIN))
    scale = torch.where(span == 0, torch.ones_like(scale), scale)
    zero_point = torch.round(-lo / scale).clamp_(QMIN, QMAX)
    return scale, zero_point


def quantize_int8_asym(w: torch.Tensor, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float32 [R, C] -> (q uint8 [R, C], scale float32, zero_point uint8), scale and zero point with
    keepdim shapes that broadcast against w: [R, 1] for axis=0, [1, C] for axis=1."""
    if w.dtype != torch.float32:
        raise TypeError(f"quantize_int8_asym expects float32, got {w.dtype}")
    axis = _axis(w, axis)
    scale, zero_point = scale_and_zero_point(w, axis)
    s, z = scale.unsqueeze(1 - axis), zero_point.unsqueeze(1 - axis)
    q = torch.round(w / s)
    q += z
    q.clamp_(QMIN, QMAX)
    return q.to(torch.uint8), s, z.to(torch.uint8)


def dequantize_int8_asym(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                         axis: int = 0) -> torch.Tensor:
    """uint8 codes [R, C], float32 scale and uint8 zero point per channel along ``axis`` (keepdim shapes,
    [R, 1] or [1, C], as quantize_int8_asym returns them) -> float32 [R, C]."""
    if q.dtype != torch.uint8 or zero_point.dtype != torch.uint8 or scale.dtype != torch.float32:
        raise TypeError("dequantize_int8_asym expects uint8 q, float32 scale and uint8 zero_point")
    axis = _axis(q, axis)
    want = (q.shape[0], 1) if axis == 0 else (1, q.shape[1])
    if tuple(scale.shape) != want or tuple(zero_point.shape) != want:
        raise ValueError(f"scale and zero_point must have shape {list(want)} for axis={axis}")
    centered = q.to(torch.float32) - zero_point.to(torch.float32)  # an integer in [-255, 255]: exact
    return centered * scale
