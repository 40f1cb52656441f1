"""OCP FP8 E4M3FN encode/decode (bias 7, max normal 448 = S.1111.110, NaN = S.1111.111, no infinities).

The encoder rounds once, from the float32 bit pattern, to nearest with ties to even, so no double
rounding can creep in; finite values beyond 448 and infinities saturate to ±448, NaN keeps its sign,
-0.0 gives 0x80. The decoder is a 256-entry table built from the definition. Elementwise tensor ops
only: the same code runs on CPU and CUDA and follows the input's device.
"""

from __future__ import annotations

import torch

MAX_NORMAL = 448.0
MIN_NORMAL = 2.0**-6
MIN_SUBNORMAL = 2.0**-9

_F32_MIN_NORMAL_E4M3 = 0x3C800000  # float32 bits of 2^-6, the smallest E4M3 normal
_F32_INF = 0x7F800000
_F32_2_POW_14 = 0x46800000  # float32 bits of 16384.0, whose ulp is 2^-9
_REBIAS = (127 - 7) << 3  # float32's exponent bias minus E4M3's, in units of the 3-bit mantissa field


_CPU_CHUNK = 1 << 18  # elements per pass on CPU: the temporaries stay in cache, about 3x faster than one pass


def encode_e4m3(x: torch.Tensor) -> torch.Tensor:
    """float32 of any shape and device -> uint8 E4M3FN bit patterns (RNE, saturating)."""
    if x.dtype != torch.float32:
        raise TypeError(f"encode_e4m3 expects float32, got {x.dtype}")
    if x.device.type != "cpu" or x.numel() <= _CPU_CHUNK:
        return _encode(x)
    flat = x.reshape(-1)
    out = torch.empty(flat.shape, dtype=torch.uint8)
    for start in range(0, flat.numel(), _CPU_CHUNK):
        out[start : start + _CPU_CHUNK] = _encode(flat[start : start + _CPU_CHUNK])
    return out.view(x.shape)


def _encode(x: torch.Tensor) -> torch.Tensor:
    bits = x.contiguous().view(torch.int32)
    mag = bits & 0x7FFFFFFF
    # Normal range: drop 20 of float32's 23 mantissa bits, round half to even on the integer pattern
    # (add 0x7FFFF plus the kept lsb); a mantissa carry rolls into the exponent, i.e. the next binade.
    code = mag >> 20
    code &= 1
    code += mag
    code += 0x7FFFF
    code >>= 20
    code -= _REBIAS
    code.clamp_(max=0x7E)  # anything rounding above 448, and inf, saturates to 448
    # Subnormal range (|x| < 2^-6): the code is |x| / 2^-9 rounded half to even. Adding 2^14 (ulp 2^-9)
    # makes the float32 adder do exactly that rounding; the code is then the difference of bit patterns
    # (8 when |x| rounds up to 2^-6, which is also 2^-6's code).
    sub = x.abs()
    sub += 16384.0
    sub = sub.view(torch.int32)
    sub -= _F32_2_POW_14
    code = torch.where(mag < _F32_MIN_NORMAL_E4M3, sub, code)
    code.masked_fill_(mag > _F32_INF, 0x7F)
    code |= (bits >> 24) & 0x80  # the sign, for zeros and NaN too
    return code.to(torch.uint8)


def _decode_definition(b: torch.Tensor) -> torch.Tensor:
    """Decode by the formula: exponent field 0 is man * 2^-9, else (8 + man) * 2^(exp - 10); S.1111.111 is NaN."""
    b = b.to(torch.int32)
    exp = (b >> 3) & 0xF
    man = b & 0x7
    mag = torch.where(exp == 0, man, man + 8).to(torch.float32)
    mag = torch.ldexp(mag, torch.where(exp == 0, -9, exp - 10).to(torch.float32))
    mag = torch.where((exp == 0xF) & (man == 0x7), torch.nan, mag)
    return torch.copysign(mag, torch.where(b >= 0x80, -1.0, 1.0))


_TABLES: dict[torch.device, torch.Tensor] = {}


def decode_e4m3(b: torch.Tensor) -> torch.Tensor:
    """uint8 E4M3FN bit patterns -> float32 (exact: every E4M3 value is a float32); a table lookup."""
    if b.dtype != torch.uint8:
        raise TypeError(f"decode_e4m3 expects uint8, got {b.dtype}")
    table = _TABLES.get(b.device)
    if table is None:
        table = _TABLES[b.device] = _decode_definition(torch.arange(256, dtype=torch.uint8, device=b.device))
    return torch.index_select(table, 0, b.reshape(-1).to(torch.int32)).view(b.shape)
