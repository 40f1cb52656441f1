"""Every numeric key in fixtures/, recomputed from its definition rather than from the key's own expression.

A key that is wrong marks right answers wrong, and the self-grading test cannot see it: it answers each part with
its own key. Here every numeric part, every symbolic part whose key is a plain number, and every numeric drill card
has a reference computation written from first principles: formats by enumerating their bit patterns (OCP OFP8,
OCP MX, IEEE binary16), block layouts as byte counts of the structures that store them (llama.cpp's block_q2_K and
block_q4_K), memory from tensor shapes times element sizes, SNRs from the mean squared error of the quantizer
(numerical integration, clipping included where the question clips), rounding by simulation, the OBS update by
solving the constrained least-squares problem directly, hardware ratios from the datasheets' figures.

Parts with per-learner parameters are checked on several sampled variants (`sample_params`, the same function the
pages use), and on every variant when there are few. The key must match the reference within the part's own
tolerance (atol + rtol·|reference|, the grader's rule), so a key the grader would accept for a right answer passes
and a wrong one fails. `test_every_numeric_key_has_a_reference` makes a new numeric part without a reference fail.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from graders.answers import key_number, sample_params
from tests.bank import fixtures_content

SAMPLED_SEEDS = range(24)  # variants per parameterized part when there are too many to try all
ALL_VARIANTS_UP_TO = 300


# ----------------------------------------------------------------------------- number formats, by enumeration


def _float_values(e_bits: int, m_bits: int, bias: int, *, ieee_specials: bool, fn_nan: bool = False,
                  no_specials: bool = False) -> list[tuple[int, float | None]]:
    """(code, value) for every bit pattern of a 1 + e_bits + m_bits float; None for NaN or infinity.

    ieee_specials: the all-ones exponent is Inf (mantissa 0) or NaN (IEEE 754, OFP8 E5M2).
    fn_nan: only the all-ones exponent with the all-ones mantissa is NaN (OFP8 E4M3, 'FN').
    no_specials: every pattern is a number (OCP MX E2M1)."""
    out = []
    top = (1 << e_bits) - 1
    for code in range(1 << (1 + e_bits + m_bits)):
        sign = -1.0 if code >> (e_bits + m_bits) else 1.0
        e = (code >> m_bits) & top
        m = code & ((1 << m_bits) - 1)
        if ieee_specials and e == top:
            out.append((code, None))
            continue
        if fn_nan and e == top and m == (1 << m_bits) - 1:
            out.append((code, None))
            continue
        if e == 0:
            value = sign * (m / (1 << m_bits)) * 2.0 ** (1 - bias)
        else:
            value = sign * (1 + m / (1 << m_bits)) * 2.0 ** (e - bias)
        out.append((code, value))
    assert not no_specials or all(v is not None for _, v in out)
    return out


E4M3 = _float_values(4, 3, 7, ieee_specials=False, fn_nan=True)  # OCP OFP8 Rev. 1.0, Table 1
E5M2 = _float_values(5, 2, 15, ieee_specials=True)  # OCP OFP8 Rev. 1.0, Table 1
E2M1 = _float_values(2, 1, 1, ieee_specials=False, no_specials=True)  # OCP MX v1.0, FP4 element type
FP16 = _float_values(5, 10, 15, ieee_specials=True)  # IEEE 754 binary16


def _finite(fmt):
    return [v for _, v in fmt if v is not None]


def fmt_max(fmt) -> float:
    return max(_finite(fmt))


def fmt_min_normal(fmt, m_bits: int) -> float:
    return min(v for code, v in fmt if v is not None and v > 0 and (code >> m_bits) & 0xFF != 0)


def fmt_min_positive(fmt) -> float:
    return min(v for v in _finite(fmt) if v > 0)


def round_to_format(x: float, fmt, m_bits: int) -> tuple[int, float]:
    """Nearest representable value, ties to the even mantissa (round to nearest even)."""
    candidates = [(code, v) for code, v in fmt if v is not None and math.copysign(1, v) == math.copysign(1, x)]
    best = min(abs(v - x) for _, v in candidates)
    tied = [(code, v) for code, v in candidates if abs(v - x) == best]
    even = [(code, v) for code, v in tied if (code & ((1 << m_bits) - 1)) % 2 == 0]
    return (even or tied)[0]


# ----------------------------------------------------------------------------- block layouts, as byte counts

FP16_BYTES = 2
# llama.cpp ggml/src/ggml-common.h (QK_K = 256 weights per super-block)
BLOCK_Q2_K = {"scales": 256 // 16, "qs": 256 // 4, "d": FP16_BYTES, "dmin": FP16_BYTES}
BLOCK_Q4_K = {"d": FP16_BYTES, "dmin": FP16_BYTES, "scales": 12, "qs": 256 // 2}


def bits_per_weight(block: dict[str, int], weights: int = 256) -> float:
    return sum(block.values()) * 8 / weights


def group_bits(code_bits: float, group: int, *metadata_bits: float) -> float:
    """Bits per weight of `group` codes that share the given per-group metadata (scales, zero points)."""
    return (group * code_bits + sum(metadata_bits)) / group


def two_level_bits(block: int, n_blocks: int, *, block_const_bits: int, second_bits: int) -> float:
    """Quantization-constant bits per weight: one constant per block, one second-level constant per n_blocks blocks."""
    weights = block * n_blocks
    return (n_blocks * block_const_bits + second_bits) / weights


# ----------------------------------------------------------------------------- quantizers and noise


def uniform_noise_variance(step: float, n: int = 200_001) -> float:
    """Mean squared rounding error of a uniform quantizer with this step, by integrating over one step."""
    e = np.linspace(-step / 2, step / 2, n)
    return float(np.trapezoid(e * e, e) / step)


def gaussian_quantizer_snr_db(levels: np.ndarray) -> float:
    """SNR of N(0, 1) rounded to the nearest of `levels` (values beyond the outer levels go to them): clipping
    and rounding error together, by numerical integration."""
    x = np.linspace(-12, 12, 4_800_001)
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    mids = (levels[1:] + levels[:-1]) / 2
    q = levels[np.searchsorted(mids, x)]
    mse = float(np.trapezoid((x - q) ** 2 * pdf, x))
    return 10 * math.log10(1.0 / mse)


def sine_snr_db(bits: int, samples: int = 1 << 20) -> float:
    """A full-scale sine (amplitude 1) through a mid-rise quantizer with 2^bits levels over [-1, 1]."""
    t = (np.arange(samples) + 0.5) / samples
    x = np.sin(2 * np.pi * t)
    step = 2.0 / 2**bits
    q = np.clip(np.floor(x / step) + 0.5, -(2 ** (bits - 1)) + 0.5, 2 ** (bits - 1) - 0.5) * step
    return 10 * math.log10(np.mean(x * x) / np.mean((x - q) ** 2))


def codes_used(lo: float, hi: float, step: float, qmin: int, qmax: int) -> int:
    """Distinct integer codes taken by values in [lo, hi] (round half to even, then clamp)."""
    x = np.linspace(lo, hi, 400_001)
    return len(np.unique(np.clip(np.round(x / step), qmin, qmax)))


def fake_quant(x: float, s: float, qmin: int, qmax: int) -> float:
    return float(s * np.clip(np.round(np.float64(x) / s), qmin, qmax))


def ste_gradient(x: float, s: float, qmin: int, qmax: int, upstream: float) -> float:
    """Derivative of the STE's surrogate clamp(x, s qmin, s qmax), by central differences, times the upstream."""
    h = 1e-6
    f = lambda v: min(max(v, s * qmin), s * qmax)  # noqa: E731
    return upstream * (f(x + h) - f(x - h)) / (2 * h)


def fwht(x: np.ndarray) -> np.ndarray:
    """Normalized fast Walsh-Hadamard transform (Sylvester order)."""
    y = x.astype(np.float64).copy()
    h = 1
    while h < len(y):
        y = y.reshape(-1, 2, h)
        y = np.stack([y[:, 0] + y[:, 1], y[:, 0] - y[:, 1]], axis=1).reshape(-1)
        h *= 2
    return y / math.sqrt(len(y))


def spike(d: int, magnitude: float) -> np.ndarray:
    v = np.zeros(d)
    v[d // 3] = magnitude
    return v


def obs_compensation(H: np.ndarray, q: int, c: float) -> tuple[np.ndarray, float]:
    """Minimize (1/2) δᵀHδ subject to δ_q = c directly: the free coordinates solve H_FF δ_F = -H_Fq c."""
    free = [i for i in range(len(H)) if i != q]
    delta = np.zeros(len(H))
    delta[q] = c
    delta[free] = np.linalg.solve(H[np.ix_(free, free)], -H[free, q] * c)
    return delta, float(0.5 * delta @ H @ delta)


def spd_with_inverse_diagonal(hinv_qq: float, size: int = 3, seed: int = 0) -> np.ndarray:
    """A symmetric positive definite H whose inverse has [H^-1]_00 = hinv_qq."""
    a = np.random.default_rng(seed).normal(size=(size, size))
    hinv = a @ a.T + size * np.eye(size)
    hinv *= hinv_qq / hinv[0, 0]
    return np.linalg.inv(hinv)


def int_range(bits: int) -> tuple[int, int]:
    """Two's complement range: by reading every bit pattern up to 16 bits, from the sign bit's weight beyond."""
    if bits > 16:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = [code - (1 << bits) if code >> (bits - 1) else code for code in range(1 << bits)]
    return min(values), max(values)


def affine_params(x_min: float, x_max: float, qmin: int, qmax: int) -> tuple[float, int]:
    """Min-max affine quantization: s = (x_max - x_min)/(qmax - qmin), z = round(qmin - x_min/s)."""
    s = (x_max - x_min) / (qmax - qmin)
    return s, int(np.round(qmin - x_min / s))


# ----------------------------------------------------------------------------- shapes and hardware

GB, GIB, KIB = 1e9, 2**30, 1024


def kv_cache_bytes(n_layers, n_kv_heads, d_head, seq_len, batch, dtype_bytes) -> int:
    shape = (n_layers, 2, batch, n_kv_heads, seq_len, d_head)  # K and V per layer
    return math.prod(shape) * dtype_bytes


LLAMA2_70B = {"n_layers": 80, "n_heads": 64, "n_kv_heads": 8, "d_head": 8192 // 64}  # HF config.json
LLAMA2_7B = {"n_layers": 32, "n_kv_heads": 32, "d_head": 4096 // 32}
LLAMA_7B = {"hidden": 4096, "intermediate": 11008, "layers": 32, "vocab": 32000}


def llama_matrices(cfg) -> dict[str, int]:
    d, f = cfg["hidden"], cfg["intermediate"]
    per_layer = {"q": d * d, "k": d * d, "v": d * d, "o": d * d, "gate": d * f, "up": d * f, "down": f * d}
    return per_layer


A100_FP16_DENSE_FLOPS = 312e12  # A100 datasheet, FP16 Tensor Core (dense)
A100_80GB_SXM_BYTES_PER_S = 2.039e12  # A100 datasheet, 80GB SXM: 2,039 GB/s
B200_DENSE_FP4_FLOPS = 18e15 / 2  # HGX B200 datasheet: 18 PFLOPS FP4 with 2:4 sparsity; dense is half
B200_DENSE_FP16_FLOPS = 4.5e15 / 2  # HGX B200 datasheet: 4.5 PFLOPS FP16/BF16 with sparsity
LLM_INT8_THRESHOLD = 6.0  # LLM.int8() §3.2 (alpha = 6.0); bitsandbytes llm_int8_threshold default


def weights_gb(n_params: float, bits: float) -> float:
    return n_params * bits / 8 / GB


# ----------------------------------------------------------------------------- the references, one per part id

E4M3_M, E5M2_M = 3, 2
E4M3_MAX, E5M2_MAX, E2M1_MAX, FP16_MAX = fmt_max(E4M3), fmt_max(E5M2), fmt_max(E2M1), fmt_max(FP16)


def _amax(p):
    return max(p["amax_1"], p["amax_2"], p["amax_3"], p["amax_4"])


def _e4m3_saturating_roundtrip(x: float, scale: float) -> float:
    """Cast x / scale to E4M3 with saturation (the value is clipped to the largest finite one), dequantize."""
    y = min(abs(x) / scale, E4M3_MAX)
    return math.copysign(round_to_format(y, E4M3, E4M3_M)[1] * scale, x)


def _gptq_2x2(p):
    H = np.array([[p["h_d"], p["h_o"]], [p["h_o"], p["h_d"]]], dtype=float)
    return H, 1.0 - p["w_1"]  # c = quant(w_1) - w_1 with quant(w_1) = 1.0


REFERENCE = {
    # --- derivations
    "derivations/fp8-e4m3-encoding:e4m3-max": lambda p: E4M3_MAX,
    "derivations/fp8-e4m3-encoding:code-448": lambda p: round_to_format(448.0, E4M3, E4M3_M)[0],
    "derivations/fp8-e4m3-encoding:round-248": lambda p: round_to_format(248.0, E4M3, E4M3_M)[1],
    "derivations/quantization-snr-derivation:int8": lambda p: sine_snr_db(8),
    "derivations/quantization-snr-derivation:per-bit":
        lambda p: 10 * math.log10(uniform_noise_variance(2 / 2**4) / uniform_noise_variance(2 / 2**5)),
    "derivations/quantization-snr-derivation:int8-clipped":
        lambda p: gaussian_quantizer_snr_db(-3 + 6 / 256 / 2 + 6 / 256 * np.arange(256)),
    # --- interview
    "interview/affine-quant-formula:example-q":
        lambda p: (lambda s, z: int(np.clip(np.round(0.7 / s) + z, -128, 127)))(*affine_params(-0.5, 1.5, -128, 127)),
    "interview/affine-quant-formula:example-xhat":
        lambda p: (lambda s, z: s * (25 - z))(*affine_params(-0.5, 1.5, -128, 127)),
    "interview/awq-core-idea:example": lambda p: math.pow(p["m_x"], p["alpha"]),
    "interview/awq-vs-gptq-tradeoffs:grid-size": lambda p: len([i / p["n_grid"] for i in range(p["n_grid"] + 1)]),
    "interview/fp8-delayed-scaling:scale": lambda p: _amax(p) / E4M3_MAX,
    "interview/fp8-delayed-scaling:gradient-scale": lambda p: _amax(p) / E5M2_MAX,
    "interview/fp8-delayed-scaling:saturation": lambda p: _e4m3_saturating_roundtrip(p["x_new"], _amax(p) / E4M3_MAX),
    "interview/fp8-e4m3-vs-e5m2:e5m2-max": lambda p: E5M2_MAX,
    "interview/fp8-e4m3-vs-e5m2:e4m3-ratio": lambda p: E4M3_MAX / fmt_min_positive(E4M3),
    "interview/fp8-e4m3-vs-e5m2:round-300": lambda p: round_to_format(300.0, E4M3, E4M3_M)[1],
    "interview/gptq-obs-update:example-update":
        lambda p: p["w_2"] + obs_compensation(_gptq_2x2(p)[0], 0, _gptq_2x2(p)[1])[0][1],
    "interview/gptq-obs-update:example-loss": lambda p: obs_compensation(_gptq_2x2(p)[0], 0, _gptq_2x2(p)[1])[1],
    "interview/gptq-vs-rtn:hessian-size": lambda p: p["K"] * p["K"] * np.dtype(np.float32).itemsize / 1e6,
    "interview/hadamard-rotation-outliers:one-outlier": lambda p: float(np.max(np.abs(fwht(spike(p["d"], p["M"]))))),
    "interview/hadamard-rotation-outliers:norm": lambda p: float(np.linalg.norm(fwht(spike(p["d"], p["M"])))),
    "interview/int8-int4-fp8:e4m3-max": lambda p: E4M3_MAX,
    "interview/int8-int4-fp8:int4-range": lambda p: int_range(4)[1],
    "interview/kv-cache-memory:llama2-70b":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 4096, 1, 2) / GB,
    "interview/kv-cache-memory:batch-64":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 4096, 64, 2) / GB,
    "interview/kv-cache-memory:variant":
        lambda p: kv_cache_bytes(p["n_layers"], p["n_kv_heads"], p["d_head"], p["seq_len"], p["batch"], p["dtype_bytes"]) / GB,
    "interview/kv-k-v-granularity:kivi-bits": lambda p: group_bits(p["bits"], p["group"], 16, 16),
    "interview/kv-k-v-granularity:kivi-compression": lambda p: 16 / group_bits(p["bits"], p["group"], 16, 16),
    "interview/llm-harder-than-cnn:noise-factor":
        lambda p: math.sqrt(uniform_noise_variance(60 / 127) / uniform_noise_variance(1 / 127)),
    "interview/llm-harder-than-cnn:levels": lambda p: codes_used(-1, 1, p["ratio"] / 127, -127, 127),
    "interview/llm-int8-decomposition:threshold": lambda p: LLM_INT8_THRESHOLD,
    "interview/nf4-vs-int4:double-quant":
        lambda p: two_level_bits(p["block"], p["n_blocks"], block_const_bits=8, second_bits=32),
    "interview/nf4-vs-int4:saving-65b":
        lambda p: (32 / p["block"] - two_level_bits(p["block"], p["n_blocks"], block_const_bits=8, second_bits=32))
        * 65e9 / 8 / GB,
    "interview/nvfp4-two-level-scaling:e2m1-max": lambda p: E2M1_MAX,
    "interview/nvfp4-two-level-scaling:block-only-max": lambda p: E2M1_MAX * E4M3_MAX,
    "interview/nvfp4-two-level-scaling:tensor-scale": lambda p: p["amax"] / (E2M1_MAX * E4M3_MAX),
    "interview/nvfp4-vs-mxfp4:nvfp4-bits": lambda p: group_bits(4, 16, 8),
    "interview/nvfp4-vs-mxfp4:mxfp4-bits": lambda p: group_bits(4, 32, 8),
    "interview/nvfp4-vs-mxfp4:e2m1-max": lambda p: E2M1_MAX,
    "interview/ptq-vs-qat-when:ternary-bits": lambda p: math.log2(len({-1, 0, 1})),
    "interview/ptq-vs-qat-when:packing": lambda p: 8 / max(k for k in range(1, 9) if 3**k <= 256),
    "interview/qserve-custom-kernels:weights-70b": lambda p: weights_gb(70e9, 4),
    "interview/qserve-custom-kernels:bound": lambda p: FP16_BYTES * 8 / 4,
    "interview/quant-granularity:with-zero-point": lambda p: group_bits(p["bits"], p["group"], 16, p["bits"]),
    "interview/quant-granularity:model-size": lambda p: weights_gb(p["n_params_b"] * 1e9, group_bits(4, p["group"], 16)),
    "interview/smoothquant-gemm-proof:example":
        lambda p: float(np.dot(np.array([p["x_1"], p["x_2"]]) / np.array([p["s_1"], p["s_2"]]),
                               np.array([p["s_1"], p["s_2"]]) * np.array([p["w_1"], p["w_2"]]))),
    "interview/smoothquant-w8a8:example": lambda p: math.pow(p["max_x"], p["alpha"]) / math.pow(p["max_w"], 1 - p["alpha"]),
    "interview/ste-qat:clipped": lambda p: ste_gradient(0.9, 0.1, -8, 7, 2.5),
    "interview/symmetric-vs-asymmetric:codes-used": lambda p: codes_used(0, 6, 6 / 127, -128, 127),
    "interview/symmetric-vs-asymmetric:step-ratio": lambda p: (6 / 127) / (6 / 255),
    "interview/w4-scheme-design:memory-70b": lambda p: weights_gb(70e9, group_bits(4, 128, 16)),
    "interview/w4-scheme-design:calibration-tokens": lambda p: np.zeros((p["n_samples"], p["seq_len"]), np.int8).size,
    # --- qa
    "qa/acceptable-quality-loss:relative": lambda p: float(Fraction(str(p["base"])) - Fraction(str(p["quant"])))
    / p["base"] * 100,
    "qa/acceptable-quality-loss:absolute": lambda p: float(Fraction(str(p["base"])) - Fraction(str(p["quant"]))),
    "qa/attention-quantization-challenges:threshold": lambda p: math.sqrt(FP16_MAX / p["d_head"]),
    "qa/attention-quantization-challenges:int32-terms": lambda p: int_range(32)[1] // (int_range(8)[0] ** 2),
    "qa/awq-vs-gptq:alpha-zero": lambda p: float(np.mean(np.abs(np.random.default_rng(0).normal(size=64)))) ** 0,
    "qa/evaluate-quantized-model:ppl-value": lambda p: math.exp(p["nll"]),
    "qa/gptq-how-it-works:delta-loss":
        lambda p: obs_compensation(spd_with_inverse_diagonal(p["hinv_qq"]), 0, -p["err"])[1],
    "qa/group-vs-per-channel:n-scales": lambda p: p["d_out"] * math.ceil(p["d_in"] / p["group"]),
    "qa/group-vs-per-channel:overhead": lambda p: group_bits(0, p["d_in"], 16),
    "qa/int8-int4-fp16-tradeoffs:fp16-13b": lambda p: weights_gb(13e9, 16),
    "qa/int8-int4-fp16-tradeoffs:int4-13b": lambda p: weights_gb(13e9, 4),
    "qa/int8-vs-int4-when:ratio": lambda p: 8 / group_bits(4, p["group"], 16),
    "qa/kv-cache-quantize-long-context:kv-4k":
        lambda p: kv_cache_bytes(LLAMA2_7B["n_layers"], LLAMA2_7B["n_kv_heads"], LLAMA2_7B["d_head"], 4096, 1, 2) / GB,
    "qa/kv-cache-quantize-long-context:kv-32k-int8":
        lambda p: kv_cache_bytes(LLAMA2_7B["n_layers"], LLAMA2_7B["n_kv_heads"], LLAMA2_7B["d_head"], 32768, 1, 1) / GB,
    "qa/lora-on-quantized-models:adapter-params":
        lambda p: np.zeros((p["d"], p["r"])).size + np.zeros((p["r"], p["d"])).size,
    "qa/lower-bits-not-always-faster:ridge": lambda p: p["peak_tflops"] * 1e12 / (p["bw_tbs"] * 1e12),
    # intensity 2B/b FLOP per byte with b = 2 bytes reaches the ridge at B = ridge * b / 2
    "qa/lower-bits-not-always-faster:batch": lambda p: p["peak_tflops"] / p["bw_tbs"] * FP16_BYTES / 2,
    "qa/minimum-model-size:fp16-500m": lambda p: weights_gb(0.5e9, 16),
    "qa/minimum-model-size:int4-500m": lambda p: weights_gb(0.5e9, 4),
    "qa/outliers-biggest-failure-mode:codes": lambda p: codes_used(-1, 1, p["outlier"] / 127, -127, 127),
    "qa/practical-lower-bound-bits:ternary-bits": lambda p: math.log2(3),
    "qa/practical-lower-bound-bits:packing": lambda p: 8 / max(k for k in range(1, 9) if 3**k <= 256),
    "qa/ptq-vs-qat:qdq-inside": lambda p: fake_quant(p["x_in"], p["s"], *int_range(4)),
    "qa/ptq-vs-qat:qdq-clamp": lambda p: fake_quant(p["x_out"], p["s"], *int_range(4)),
    "qa/ptq-vs-qat:ste-grad": lambda p: ste_gradient(1.0, 0.1, -8, 7, 1.0),
    "qa/quantization-roi:factor": lambda p: 16 / group_bits(4, p["group"], 16),
    "qa/quantization-roi:w4-70b": lambda p: weights_gb(70e9, group_bits(4, 128, 16)),
    "qa/quantization-roi:gpus": lambda p: next(n for n in itertools.count(1) if n * p["gpu_gb"] >= weights_gb(70e9, 16)),
    "qa/quantize-fine-tuned-model:double-quant":
        lambda p: two_level_bits(p["block"], p["n_blocks"], block_const_bits=8, second_bits=32),
    "qa/smoothquant-alpha:s": lambda p: math.sqrt(p["max_x"]) / math.sqrt(p["max_w"]),
    "qa/smoothquant-alpha:x-max": lambda p: math.sqrt(p["max_x"] * p["max_w"]),
    # --- tables
    "tables/bits-per-weight-group:g128": lambda p: group_bits(p["bits"], 128, p["scale_bits"]),
    "tables/bits-per-weight-group:g128-zp16": lambda p: group_bits(p["bits"], 128, p["scale_bits"], 16),
    "tables/bits-per-weight-group:g128-zp4": lambda p: group_bits(4, 128, p["scale_bits"], 4),
    "tables/bits-per-weight-group:q4k": lambda p: bits_per_weight(BLOCK_Q4_K),
    "tables/decode-memory-bound-latency:a100-fp16": lambda p: 7e9 * FP16_BYTES / A100_80GB_SXM_BYTES_PER_S * 1000,
    "tables/decode-memory-bound-latency:own":
        lambda p: p["n_params_b"] * 1e9 * p["bits"] / 8 / (p["bw_tbs"] * 1e12) * 1000,
    "tables/ffn-attention-param-share:ffn-share":
        lambda p: (lambda m: (m["gate"] + m["up"] + m["down"]) / sum(m.values()))(llama_matrices(LLAMA_7B)),
    "tables/ffn-attention-param-share:attn-params":
        lambda p: (lambda m: (m["q"] + m["k"] + m["v"] + m["o"]) / 1e6)(llama_matrices(LLAMA_7B)),
    "tables/ffn-attention-param-share:embed-share":
        lambda p: (lambda m, e: 100 * e / (LLAMA_7B["layers"] * sum(m.values()) + e))(
            llama_matrices(LLAMA_7B), 2 * LLAMA_7B["vocab"] * LLAMA_7B["hidden"]),
    "tables/fp4-e2m1-values:max": lambda p: E2M1_MAX,
    "tables/fp4-e2m1-values:distinct": lambda p: len({abs(v) if v == 0 else v for v in _finite(E2M1)}),
    "tables/fp8-e4m3-range:max": lambda p: E4M3_MAX,
    "tables/fp8-e4m3-range:min-normal": lambda p: fmt_min_normal(E4M3, E4M3_M),
    "tables/fp8-e4m3-range:min-subnormal": lambda p: fmt_min_positive(E4M3),
    "tables/fp8-e5m2-range:max": lambda p: E5M2_MAX,
    "tables/fp8-e5m2-range:min-normal": lambda p: fmt_min_normal(E5M2, E5M2_M),
    "tables/fp8-e5m2-range:min-subnormal": lambda p: fmt_min_positive(E5M2),
    "tables/kv-cache-llama2-70b:per-seq":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 4096, 1, 2) / GB,
    "tables/kv-cache-llama2-70b:batch64":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 4096, 64, 2) / GB,
    "tables/kv-cache-llama2-70b:mha":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_heads"], LLAMA2_70B["d_head"], 4096, 1, 2) / GB,
    "tables/kv-cache-llama2-70b:per-token":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 1, 1, 2) / KIB,
    "tables/kv-cache-parameterized:size":
        lambda p: kv_cache_bytes(p["n_layers"], p["n_kv_heads"], p["d_head"], p["seq_len"], p["batch"], p["dtype_bytes"]) / GB,
    "tables/memory-7b-per-precision:fp16": lambda p: weights_gb(7e9, 16),
    "tables/memory-7b-per-precision:fp16-gib": lambda p: 7e9 * FP16_BYTES / GIB,
    "tables/memory-7b-per-precision:int8": lambda p: weights_gb(7e9, 8),
    "tables/memory-7b-per-precision:int4-g128": lambda p: weights_gb(7e9, group_bits(4, 128, 16)),
    "tables/memory-reduction-factors:w8": lambda p: 16 / 8,
    "tables/memory-reduction-factors:w4-g128": lambda p: 16 / group_bits(4, 128, 16),
    "tables/model-memory-parameterized:gb":
        lambda p: weights_gb(p["n_params_b"] * 1e9, group_bits(p["bits"], p["group"], p["scale_bits"])),
    "tables/model-memory-parameterized:beff": lambda p: group_bits(p["bits"], p["group"], p["scale_bits"]),
    "tables/mx-nvfp4-bits-per-element:mxfp4": lambda p: group_bits(4, 32, 8),
    "tables/mx-nvfp4-bits-per-element:nvfp4": lambda p: group_bits(4, 16, 8),
    "tables/mx-nvfp4-bits-per-element:mxfp8": lambda p: group_bits(8, 32, 8),
    "tables/quantization-snr:db-per-bit":
        lambda p: 10 * math.log10(uniform_noise_variance(1.0) / uniform_noise_variance(0.5)),
    "tables/quantization-snr:int8-3sigma": lambda p: 10 * math.log10(1.0 / uniform_noise_variance(6 / 255)),
    "tables/quantization-snr:int8-3sigma-clipped": lambda p: gaussian_quantizer_snr_db(-3 + 6 / 255 * np.arange(256)),
    # --- drill cards
    "drills/deployment-and-systems:decode-bound-7b": lambda p: 7e9 * FP16_BYTES / A100_80GB_SXM_BYTES_PER_S * 1000,
    "drills/deployment-and-systems:ridge-a100": lambda p: A100_FP16_DENSE_FLOPS / A100_80GB_SXM_BYTES_PER_S,
    "drills/deployment-and-systems:memory-factor-baseline": lambda p: 16 / 8,
    "drills/deployment-and-systems:e4m3-encoder-bug": lambda p: round_to_format(300.0, E4M3, E4M3_M)[1],
    "drills/deployment-and-systems:w4-speedup-ceiling": lambda p: 16 / group_bits(4, 128, 16),
    "drills/deployment-and-systems:qlora-double-quant":
        lambda p: two_level_bits(64, 256, block_const_bits=8, second_bits=32),
    "drills/formats-and-memory:mem-7b-fp16": lambda p: weights_gb(7e9, 16),
    "drills/formats-and-memory:mem-7b-fp16-gib": lambda p: 7e9 * FP16_BYTES / GIB,
    "drills/formats-and-memory:mem-7b-int4": lambda p: weights_gb(7e9, 4),
    "drills/formats-and-memory:mem-7b-3bit": lambda p: weights_gb(7e9, 3),
    "drills/formats-and-memory:q2k-bits": lambda p: weights_gb(7e9, bits_per_weight(BLOCK_Q2_K)),
    "drills/formats-and-memory:bits-g128": lambda p: group_bits(4, 128, 16),
    "drills/formats-and-memory:bits-g32": lambda p: group_bits(4, 32, 16),
    "drills/formats-and-memory:bits-g128-zp": lambda p: group_bits(4, 128, 16, 16),
    "drills/formats-and-memory:int4-levels": lambda p: len(range(int_range(4)[0], int_range(4)[1] + 1)),
    "drills/formats-and-memory:e4m3-max": lambda p: E4M3_MAX,
    "drills/formats-and-memory:e4m3-min-subnormal": lambda p: fmt_min_positive(E4M3),
    "drills/formats-and-memory:e5m2-max": lambda p: E5M2_MAX,
    "drills/formats-and-memory:e5m2-min-normal": lambda p: fmt_min_normal(E5M2, E5M2_M),
    "drills/formats-and-memory:e2m1-max": lambda p: E2M1_MAX,
    "drills/formats-and-memory:mxfp4-bits": lambda p: group_bits(4, 32, 8),
    "drills/formats-and-memory:nvfp4-bits": lambda p: group_bits(4, 16, 8),
    "drills/formats-and-memory:nvfp4-throughput-claim": lambda p: B200_DENSE_FP4_FLOPS / B200_DENSE_FP16_FLOPS,
    "drills/formats-and-memory:kv-llama2-70b":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 4096, 1, 2) / GB,
    "drills/formats-and-memory:kv-per-token-70b":
        lambda p: kv_cache_bytes(LLAMA2_70B["n_layers"], LLAMA2_70B["n_kv_heads"], LLAMA2_70B["d_head"], 1, 1, 2) / KIB,
    "drills/formats-and-memory:gqa-saving": lambda p: LLAMA2_70B["n_heads"] / LLAMA2_70B["n_kv_heads"],
    "drills/formats-and-memory:fp16-to-int2-kv": lambda p: 16 / 2,
    "drills/formats-and-memory:ternary-bits": lambda p: math.log2(3),
    "drills/methods:db-per-bit": lambda p: 10 * math.log10(uniform_noise_variance(1.0) / uniform_noise_variance(0.5)),
    "drills/methods:hadamard-spike": lambda p: float(np.max(np.abs(fwht(spike(4096, 1.0))))),
    "drills/qa-recall:qdq-clamp-example": lambda p: fake_quant(1.0, 0.1, *int_range(4)),
    "drills/qa-recall:outlier-codes": lambda p: codes_used(-1, 1, 100 / 127, -127, 127),
    "drills/qa-recall:relative-drop": lambda p: float(Fraction("70.0") - Fraction("69.3")) / 70.0 * 100,
    "drills/qa-recall:smoothquant-example": lambda p: math.pow(100, 0.5) / math.pow(0.25, 1 - 0.5),
    "drills/qa-recall:ppl-from-nll": lambda p: math.exp(1.737),
}


# ----------------------------------------------------------------------------- what is checked


def _is_numeric(spec: dict) -> bool:
    """Numeric parts, and symbolic parts whose key is a plain number (no symbols)."""
    return spec["kind"] == "numeric" or (spec["kind"] == "symbolic" and not spec.get("symbols"))


def _numeric_items() -> dict[str, dict]:
    content = fixtures_content()
    items = {}
    for q in content.questions:
        for p in q.parts:
            if _is_numeric(p.spec):
                items[f"{q.group}/{q.slug}:{p.key}"] = p.spec
    for c in content.cards:
        if c.answer and _is_numeric(c.answer):
            items[f"drills/{c.deck}:{c.id}"] = c.answer
    return items


ITEMS = _numeric_items()


def _variants(spec: dict) -> list[dict]:
    params = spec.get("params") or {}
    if not params:
        return [{}]
    every = []
    names = sorted(params)
    lists = []
    for name in names:
        p = params[name]
        if "choices" in p:
            lists.append(list(p["choices"]))
        else:
            lists.append(None)
    if None not in lists and math.prod(len(v) for v in lists) <= ALL_VARIANTS_UP_TO:
        every = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]
    sampled = [sample_params(spec, seed) for seed in SAMPLED_SEEDS]
    seen, out = set(), []
    for v in every + sampled:
        key = tuple(sorted(v.items()))
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _tolerance(spec: dict, reference: float) -> float:
    if spec["kind"] == "symbolic":  # a plain-number key of a symbolic part must be the number itself
        return 1e-9 * max(1.0, abs(reference))
    return float(spec.get("atol", 0)) + float(spec.get("rtol", 0.01)) * abs(reference)


def key_mismatches(item_id: str, spec: dict) -> list[str]:
    expression = spec.get("formula", spec.get("answer", spec.get("expected")))
    problems = []
    for params in _variants(spec):
        key = key_number(expression, params)
        reference = float(REFERENCE[item_id](params))
        if not abs(key - reference) <= _tolerance(spec, reference):
            problems.append(f"{item_id} params={params}: key {key!r} != reference {reference!r}")
    return problems


def test_every_numeric_key_has_a_reference():
    assert len(ITEMS) >= 150
    assert set(ITEMS) - set(REFERENCE) == set(), "numeric parts without a reference computation"
    assert set(REFERENCE) - set(ITEMS) == set(), "references for parts that are gone or no longer numeric"


@pytest.mark.parametrize("item_id", sorted(ITEMS))
def test_numeric_key_matches_an_independent_computation(item_id):
    if item_id not in REFERENCE:
        pytest.fail(f"{item_id}: no reference computation")
    assert key_mismatches(item_id, ITEMS[item_id]) == []


def test_the_references_catch_a_wrong_key():
    """The Q2_K card once keyed 2.5625 bits/weight (one FP16 super-block value instead of d and dmin)."""
    wrong = dict(ITEMS["drills/formats-and-memory:q2k-bits"], answer="7e9*2.5625/8/1e9")
    assert key_mismatches("drills/formats-and-memory:q2k-bits", wrong)
    wrong_snr = dict(ITEMS["tables/quantization-snr:int8-3sigma-clipped"], answer="10*log10(12) + 20*log10(255/6)")
    assert key_mismatches("tables/quantization-snr:int8-3sigma-clipped", wrong_snr)


def test_format_enumerations_match_the_specifications():
    assert (E4M3_MAX, fmt_min_normal(E4M3, 3), fmt_min_positive(E4M3)) == (448.0, 2.0**-6, 2.0**-9)
    assert (E5M2_MAX, fmt_min_normal(E5M2, 2), fmt_min_positive(E5M2)) == (57344.0, 2.0**-14, 2.0**-16)
    assert sorted({abs(v) for v in _finite(E2M1)}) == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert FP16_MAX == 65504.0
    assert round_to_format(448.0, E4M3, 3)[0] == 0x7E and round_to_format(300.0, E4M3, 3)[0] == 0x79
    assert (bits_per_weight(BLOCK_Q2_K), bits_per_weight(BLOCK_Q4_K)) == (2.625, 4.5)
