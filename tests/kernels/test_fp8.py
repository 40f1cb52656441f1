"""kernels.fp8 against the OCP FP8 E4M3FN specification: an independent brute-force definition (nearest of
the 127 finite values, ties to the even code), torch's own cast, and every class of input."""

from __future__ import annotations

import math
import os

import pytest
import torch

from kernels.fp8 import decode_e4m3, encode_e4m3

TORCH_VERSION = torch.__version__
# torch's float32 -> float8_e4m3fn cast saturates only from 2.13; older versions turn overflow into NaN.
TORCH_SATURATES = tuple(int(p) for p in TORCH_VERSION.split("+")[0].split(".")[:2]) >= (2, 13)
CUDA = torch.cuda.is_available()


def torch_codes(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float8_e4m3fn).view(torch.uint8)


def assert_matches_torch(x: torch.Tensor, ours: torch.Tensor) -> None:
    """Bit-for-bit equality with torch's cast, stating torch's version; before 2.13 only where torch's cast
    is defined to agree with the specification (|x| <= 448, NaN)."""
    theirs = torch_codes(x)
    comparable = torch.ones_like(x, dtype=torch.bool) if TORCH_SATURATES else ~(x.abs() > 448)
    wrong = (ours != theirs) & comparable
    examples = [
        f"x={float(x.reshape(-1)[i])!r} (0x{int(x.reshape(-1).view(torch.int32)[i]) & 0xFFFFFFFF:08X}): "
        f"ours 0x{int(ours.reshape(-1)[i]):02X}, torch 0x{int(theirs.reshape(-1)[i]):02X}"
        for i in wrong.reshape(-1).nonzero().flatten()[:5].tolist()
    ]
    scope = "all values" if TORCH_SATURATES else "|x| <= 448 and NaN only (this torch does not saturate)"
    assert not wrong.any(), f"torch {TORCH_VERSION}, compared on {scope}: {int(wrong.sum())} mismatches: {examples}"


# --- an independent definition ------------------------------------------------------------------------

POSITIVE = torch.tensor(
    [m * 2.0**-9 for m in range(8)] + [(1 + m / 8) * 2.0 ** (e - 7) for e in range(1, 16) for m in range(8)][:-1],
    dtype=torch.float64,
)  # the 127 finite non-negative values, in code order 0x00..0x7E


def encode_definition(x: torch.Tensor) -> torch.Tensor:
    """Nearest finite E4M3 value by brute force in float64 (differences of nearby values are exact), ties to
    the even code; beyond 448 the nearest finite value is 448 (saturation); inf saturates; NaN keeps its sign."""
    out = []
    for chunk in x.reshape(-1).split(8192):
        a = chunk.abs().to(torch.float64).clamp(max=2.0**20)  # beyond 448 the nearest stays 448; keeps d exact
        d = (a[:, None] - POSITIVE[None, :]).abs()
        best = d.argmin(dim=1)  # the first minimum: the lower code of a tie
        upper = (best + 1).clamp(max=126)
        tie = (best < 126) & (d.gather(1, upper[:, None])[:, 0] == d.gather(1, best[:, None])[:, 0])
        code = torch.where(tie & (best % 2 == 1), upper, best)
        code = torch.where(torch.isinf(a), 126, code)
        code = torch.where(torch.isnan(a), 127, code)
        out.append(code | torch.where(torch.signbit(chunk), 128, 0))
    return torch.cat(out).to(torch.uint8).reshape(x.shape)


def decode_definition(code: int) -> float:
    s, e, m = code >> 7, (code >> 3) & 15, code & 7
    if e == 15 and m == 7:
        return math.nan
    mag = m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7)
    return -mag if s else mag


def f32_bits(x: torch.Tensor) -> torch.Tensor:
    return x.view(torch.int32)


ALL_FP16 = torch.arange(65536, dtype=torch.int32).to(torch.int16).view(torch.float16).to(torch.float32)


# --- decode ---------------------------------------------------------------------------------------------


def test_decode_all_256_patterns_against_definition_and_torch():
    b = torch.arange(256, dtype=torch.uint8)
    ours = decode_e4m3(b)
    assert ours.dtype == torch.float32 and ours.shape == (256,)
    want = torch.tensor([decode_definition(c) for c in range(256)], dtype=torch.float32)
    nan = torch.isnan(want)
    assert nan.nonzero().flatten().tolist() == [0x7F, 0xFF]
    assert torch.isnan(ours).nonzero().flatten().tolist() == [0x7F, 0xFF]
    assert torch.equal(f32_bits(ours)[~nan], f32_bits(want)[~nan])  # bitwise: -0.0 at 0x80 included
    assert f32_bits(ours)[0x80] == f32_bits(torch.tensor(-0.0))
    assert torch.signbit(ours[0xFF]) and not torch.signbit(ours[0x7F])
    theirs = b.view(torch.float8_e4m3fn).to(torch.float32)
    assert torch.equal(f32_bits(ours)[~nan], f32_bits(theirs)[~nan]), f"torch {TORCH_VERSION}"
    assert float(ours[0x7E]) == 448.0 and float(ours[0x08]) == 2.0**-6 and float(ours[0x01]) == 2.0**-9


def test_every_finite_code_round_trips():
    b = torch.arange(256, dtype=torch.uint8)
    finite = (b & 0x7F) != 0x7F
    assert torch.equal(encode_e4m3(decode_e4m3(b))[finite], b[finite])
    assert torch.equal(encode_e4m3(decode_e4m3(b)), b)  # NaN keeps its sign too


# --- encode ---------------------------------------------------------------------------------------------


def test_all_float16_values_against_definition_and_torch():
    ours = encode_e4m3(ALL_FP16)
    assert torch.equal(ours, encode_definition(ALL_FP16))
    assert_matches_torch(ALL_FP16, ours)


def test_ten_million_random_float32_every_exponent_against_torch():
    g = torch.Generator().manual_seed(20240611)
    bits = torch.randint(-(2**31), 2**31, (10_000_000,), generator=g, dtype=torch.int64).to(torch.int32)
    x = bits.view(torch.float32)
    assert torch.unique((bits >> 23) & 0xFF).numel() == 256  # every exponent field, NaN/inf included
    ours = encode_e4m3(x)
    assert_matches_torch(x, ours)
    sample = x[:200_000]
    assert torch.equal(ours[:200_000], encode_definition(sample))


def test_random_in_range_against_definition():
    g = torch.Generator().manual_seed(7)
    e = torch.rand(300_000, generator=g, dtype=torch.float64) * 21 - 11.5  # 2^-11.5 .. 2^9.5: every binade
    x = (torch.exp2(e) * torch.where(torch.rand(300_000, generator=g) < 0.5, -1.0, 1.0)).to(torch.float32)
    assert torch.equal(encode_e4m3(x), encode_definition(x))


def _f(v: float) -> torch.Tensor:
    return torch.tensor([v], dtype=torch.float64).to(torch.float32)


def _next(v: float, toward: float) -> float:
    return float(torch.nextafter(_f(v), _f(toward)))


BOUNDARY = [
    # zeros, infinities, NaN: signs kept, no infinity in E4M3FN
    (0.0, 0x00), (-0.0, 0x80), (math.inf, 0x7E), (-math.inf, 0xFE), (math.nan, 0x7F), (-math.nan, 0xFF),
    # subnormals m * 2^-9 and their ties (to the even m)
    (2.0**-9, 0x01), (2.0**-10, 0x00), (-(2.0**-10), 0x80), (_next(2.0**-10, 1.0), 0x01),
    (3 * 2.0**-10, 0x02), (5 * 2.0**-10, 0x02), (7 * 2.0**-10, 0x04), (13 * 2.0**-10, 0x06),
    (-(2.0**-12), 0x80), (1.401298464324817e-45, 0x00), (-1.401298464324817e-45, 0x80),
    # the boundary 2^-6: the top subnormal tie rounds up into the normal range
    (7 * 2.0**-9, 0x07), (15 * 2.0**-10, 0x08), (_next(15 * 2.0**-10, 0.0), 0x07), (2.0**-6, 0x08),
    (_next(2.0**-6, 0.0), 0x08), (2.0**-6 * (1 + 1 / 16), 0x08), (2.0**-6 * (1 + 3 / 16), 0x0A),
    # normal ties
    (1.0, 0x38), (1.0625, 0x38), (1.1875, 0x3A), (_next(1.0625, 2.0), 0x39), (1.9375, 0x40), (-1.1875, 0xBA),
    # the top binades: exponent field 1111 is a normal exponent, only S.1111.111 is NaN
    (240.0, 0x77), (244.0, 0x77), (248.0, 0x78), (_next(248.0, 0.0), 0x77), (256.0, 0x78), (272.0, 0x78),
    (288.0, 0x79), (300.0, 0x79), (416.0, 0x7D), (431.0, 0x7D), (_next(432.0, 0.0), 0x7D),
    (432.0, 0x7E), (448.0, 0x7E), (-448.0, 0xFE), (-256.0, 0xF8),
    # overflow saturates
    (_next(448.0, 1e9), 0x7E), (464.0, 0x7E), (_next(464.0, 1e9), 0x7E), (480.0, 0x7E), (1e30, 0x7E),
    (3.4028234663852886e38, 0x7E), (-1e30, 0xFE),
]


@pytest.mark.parametrize(("value", "code"), BOUNDARY, ids=[f"{v!r}->0x{c:02X}" for v, c in BOUNDARY])
def test_boundary_classes(value, code):
    x = _f(value)
    assert int(encode_e4m3(x)[0]) == code
    assert int(encode_definition(x)[0]) == code
    assert_matches_torch(x, encode_e4m3(x))


def test_signed_nan_payloads():
    payloads = torch.tensor([1, 0x400000, 0x7FFFFF, 12345], dtype=torch.int32)
    x = torch.cat([(0x7F800000 | payloads).view(torch.float32), (-(2**31) | 0x7F800000 | payloads).view(torch.float32)])
    assert encode_e4m3(x).tolist() == [0x7F] * 4 + [0xFF] * 4


# --- the course notes' encoder, kept as a regression: its bugs must stay out of the reference ------------


def notes_encode(x: float) -> int:
    """The course notes' fp8_e4m3_encode, verbatim in logic (with its bugs)."""
    if math.isnan(x):
        return 0b0_1111_111
    sign = 0 if x >= 0 else 1
    ax = abs(x)
    if ax == 0:
        return sign << 7
    if ax >= 448.0:
        return (sign << 7) | 0b1111_110
    e = int(math.floor(math.log2(ax)))
    m = ax / (2**e)
    biased_e = e + 7
    if biased_e <= 0:
        m_int = int(round((m * 2**-(1 - biased_e)) * 8))
        exp_bits = 0
    else:
        m_int = int(round((m - 1.0) * 8))
        if m_int == 8:
            m_int = 0
            biased_e += 1
        if biased_e >= 15:
            return (sign << 7) | 0b1111_110
        exp_bits = biased_e
    return (sign << 7) | (exp_bits << 3) | m_int


@pytest.mark.parametrize(
    ("value", "notes", "right"),
    [
        (248.0, 0x7E, 0x78),  # the notes saturate every value from 248 up to (not including) 432 ...
        (256.0, 0x7E, 0x78),
        (300.0, 0x7E, 0x79),
        (416.0, 0x7E, 0x7D),
        (431.0, 0x7E, 0x7D),
        (432.0, 0x7E, 0x7E),  # ... 432 itself is a tie between 416 and 448 and goes to the even 0x7E anyway
        (-0.0, 0x00, 0x80),  # the notes drop the sign of -0.0 ...
        (-math.nan, 0x7F, 0xFF),  # ... and of NaN
    ],
)
def test_course_notes_bugs_are_not_in_the_reference(value, notes, right):
    assert notes_encode(value) == notes
    assert int(encode_e4m3(_f(value))[0]) == right


def test_course_notes_encoder_is_right_elsewhere():
    """Outside its three bugs the notes' encoder is correct: it confirms the definition on all float16."""
    x = ALL_FP16[~torch.isnan(ALL_FP16)]
    a = x.abs()
    ok = ~((a >= 248) & (a < 432)) & ~((x == 0) & torch.signbit(x))
    x = x[ok]
    assert [notes_encode(float(v)) for v in x.tolist()] == encode_e4m3(x).tolist()


# --- shapes, devices, dtypes ----------------------------------------------------------------------------


def test_shapes_are_kept():
    x = ALL_FP16[:6 * 35].reshape(6, 35).t()  # non-contiguous
    assert encode_e4m3(x).shape == (35, 6)
    assert torch.equal(encode_e4m3(x), encode_e4m3(x.contiguous()))
    assert encode_e4m3(torch.tensor(1.0)).shape == ()
    assert encode_e4m3(torch.empty(0, 3)).shape == (0, 3)
    b = torch.arange(256, dtype=torch.uint8).reshape(16, 16).t()
    assert torch.equal(f32_bits(decode_e4m3(b)), f32_bits(decode_e4m3(b.contiguous())))
    assert decode_e4m3(torch.empty(2, 0, dtype=torch.uint8)).shape == (2, 0)


def test_rejects_other_dtypes():
    with pytest.raises(TypeError):
        encode_e4m3(torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError):
        decode_e4m3(torch.ones(3, dtype=torch.int32))


@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(3)
    x = torch.randint(-(2**31), 2**31, (1_000_000,), generator=g, dtype=torch.int64).to(torch.int32).view(torch.float32)
    x = torch.cat([x, ALL_FP16])
    got = encode_e4m3(x.cuda())
    assert got.device.type == "cuda"
    assert torch.equal(got.cpu(), encode_e4m3(x))
    b = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(decode_e4m3(b.cuda()).cpu().view(torch.int32), decode_e4m3(b).view(torch.int32))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("QUANTPREP_EXHAUSTIVE"), reason="set QUANTPREP_EXHAUSTIVE=1 (about 2 minutes)")
def test_every_float32_against_torch():
    """All 2^32 float32 bit patterns, in chunks."""
    step = 1 << 24
    for start in range(-(2**31), 2**31, step):
        x = torch.arange(start, start + step, dtype=torch.int64).to(torch.int32).view(torch.float32)
        assert_matches_torch(x, encode_e4m3(x))
