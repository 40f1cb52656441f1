"""Reference kernels against the course notes' naive versions (corrected) and, for E4M3, torch's own cast.

Run: python bench/bench_kernels.py [--device cuda] [--repeats N]. Every row is measured in this run on the
same inputs; each naive result is checked against the reference before it is timed, so a ratio never
compares a wrong answer. The naive versions are the notes' algorithms with their errors fixed (each fix
labelled below), not our kernels' code.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.fp8 import decode_e4m3, encode_e4m3  # noqa: E402
from kernels.gptq import gptq_quantize  # noqa: E402
from kernels.kivi import kivi_dequantize, kivi_quantize  # noqa: E402
from kernels.nvfp4 import encode_e2m1, nvfp4_dequantize, nvfp4_quantize  # noqa: E402

# --- naive versions: the course notes' code, corrected ---------------------------------------------------


def naive_encode_e4m3_scalar(x: float) -> int:
    """Notes §8.2 `fp8_e4m3_encode`, one Python float at a time, with its two errors fixed:
    (1) the sign comes from the sign bit, so -0.0 gives 0x80 and a negative NaN 0xFF (the notes use x >= 0);
    (2) exponent field 1111 is a normal exponent: only S.1111.111 (mantissa 7) overflows (the notes
        saturate every value from 248 up to 432).
    (frexp replaces floor(log2(x)) / 2**e: the same numbers, without a logarithm.)"""
    sign = 1 if math.copysign(1.0, x) < 0 else 0
    if math.isnan(x):
        return (sign << 7) | 0x7F
    ax = abs(x)
    if ax == 0:
        return sign << 7
    if ax >= 448.0:
        return (sign << 7) | 0x7E
    m, e = math.frexp(ax)  # ax = m * 2^e, m in [0.5, 1)
    m, e = 2 * m, e - 1
    biased_e = e + 7
    if biased_e <= 0:
        return (sign << 7) | round(ax * 2**9)  # subnormal m * 2^-9; round() is half to even; 8 is 2^-6's code
    m_int = round((m - 1.0) * 8)
    if m_int == 8:
        m_int, biased_e = 0, biased_e + 1
    if biased_e > 15 or (biased_e == 15 and m_int == 7):
        return (sign << 7) | 0x7E
    return (sign << 7) | (biased_e << 3) | m_int


def naive_encode_e4m3(x: torch.Tensor) -> torch.Tensor:
    return torch.tensor([naive_encode_e4m3_scalar(v) for v in x.tolist()], dtype=torch.uint8)


def naive_decode_e4m3(b: torch.Tensor) -> torch.Tensor:
    """Notes §8.2 `fp8_e4m3_decode` (correct as written), one byte at a time."""
    def one(c: int) -> float:
        sign = -1.0 if c >> 7 else 1.0
        e, m = (c >> 3) & 15, c & 7
        if e == 15 and m == 7:
            return math.nan
        return sign * (m / 8.0) * 2.0**-6 if e == 0 else sign * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return torch.tensor([one(c) for c in b.tolist()], dtype=torch.float32)


def naive_gptq(W, H, bits=4, group_size=128, damp=0.01):
    """Notes §4.5 `gptq_quantize_layer`: one column at a time, every later column updated right away. Fixes:
    dead channels (H_ii = 0) get H_ii = 1 and zero weights (the notes only damp), and it returns the codes
    and per-group scales (the notes return the dequantized weight)."""
    N, K = W.shape
    W, H = W.clone(), H.clone()
    dead = H.diagonal() == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * H.diagonal().mean() * torch.eye(K, dtype=H.dtype, device=H.device)
    Hinv = torch.linalg.cholesky(torch.linalg.inv(H.double()), upper=True).to(W.dtype)
    qmax = 2 ** (bits - 1) - 1
    codes = torch.empty(N, K, dtype=torch.int8, device=W.device)
    scales = torch.empty(N, K // group_size, dtype=W.dtype, device=W.device)
    for q in range(K):
        if q % group_size == 0:
            s = (W[:, q : q + group_size].abs().amax(dim=1, keepdim=True) / qmax).clamp(min=1e-8)
            scales[:, q // group_size] = s[:, 0]
        w = W[:, q : q + 1]
        q_int = (w / s).round().clamp(-qmax - 1, qmax)
        codes[:, q] = q_int[:, 0].to(torch.int8)
        err = (w - q_int * s) / Hinv[q, q]
        W[:, q + 1 :] -= err @ Hinv[q : q + 1, q + 1 :]
    return codes, scales


def naive_kivi(k, v, bits=2, group_size=32, residual=32):
    """Notes §9.5 `quantize_kv_cache` + `dequantize_kv` corrected to KIVI, one group at a time: asymmetric
    min/max instead of symmetric, groups of group_size (tokens for keys, channels for values) instead of the
    whole sequence or the whole token, and the full-precision windows the notes leave out."""
    B, H, L, D = k.shape
    g, top = group_size, 2**bits - 1
    lk = L - L % residual if L >= residual else 0
    lv = L - residual if L > residual else 0

    def qdq(x):  # one group, reduced over dim 0
        lo, hi = x.amin(dim=0), x.amax(dim=0)
        scale = (hi - lo) / top
        return torch.round((x - lo) / torch.where(scale > 0, scale, 1.0)).clamp(0, top) * scale + lo

    k_hat, v_hat = k.clone(), v.clone()
    for b in range(B):
        for h in range(H):
            for t in range(0, lk, g):
                k_hat[b, h, t : t + g] = qdq(k[b, h, t : t + g])  # every channel its own min/max
            for t in range(lv):
                for c in range(0, D, g):
                    v_hat[b, h, t, c : c + g] = qdq(v[b, h, t, c : c + g])
    return k_hat, v_hat


def naive_nvfp4(x):
    """The notes have no NVFP4 code (§8.4 describes the format only): a plain loop over the 16-element
    blocks, each block vectorized, with the lab's pinned conventions."""
    rows, K = x.shape
    amax = x.abs().max()
    ts = amax / 2688.0 if amax > 0 else torch.ones((), device=x.device)
    codes = torch.empty(rows, K, dtype=torch.uint8, device=x.device)
    scales = torch.empty(rows, K // 16, dtype=torch.uint8, device=x.device)
    for r in range(rows):
        for b in range(K // 16):
            blk = x[r, 16 * b : 16 * b + 16]
            sb = encode_e4m3((blk.abs().max() / 6.0 / ts).reshape(1))
            s = decode_e4m3(sb)[0] * ts
            scales[r, b] = sb[0]
            codes[r, 16 * b : 16 * b + 16] = encode_e2m1(blk / s) if s > 0 else 0
    return codes[:, 0::2] | (codes[:, 1::2] << 4), scales, ts


# --- timing ----------------------------------------------------------------------------------------------


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fmt(t: float) -> str:
    return f"{t * 1e3:9.2f} ms" if t < 10 else f"{t:9.2f} s "


def row(name: str, size: str, ref: float, others: list[tuple[str, float]]) -> None:
    cells = "  ".join(f"{label} {fmt(t)} (reference {t / ref:7.1f}× faster)" if t >= ref else
                      f"{label} {fmt(t)} (reference {ref / t:5.1f}× slower)" for label, t in others)
    print(f"{name:<12} {size:<22} reference {fmt(ref)}  {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dev, r = torch.device(args.device), args.repeats
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, device {dev}, {torch.get_num_threads()} threads, median of {r}")

    # E4M3: random bit patterns (every exponent) for the naive comparison, a large tensor for the native one
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-(2**31), 2**31, (1 << 17,), generator=g, dtype=torch.int64).to(torch.int32).view(torch.float32)
    assert torch.equal(naive_encode_e4m3(x), encode_e4m3(x)), "naive encoder disagrees with the reference"
    xd = x.to(dev)
    native = lambda: xd.to(torch.float8_e4m3fn).view(torch.uint8)  # noqa: E731
    row("encode_e4m3", f"{x.numel():,} float32", timed(lambda: encode_e4m3(xd), r, dev),
        [("naive", timed(lambda: naive_encode_e4m3(x), r, torch.device("cpu"))), ("native .to(float8_e4m3fn)", timed(native, r, dev))])
    big = torch.randint(-(2**31), 2**31, (1 << 24,), generator=g, dtype=torch.int64).to(torch.int32).view(torch.float32).to(dev)
    row("encode_e4m3", f"{big.numel():,} float32", timed(lambda: encode_e4m3(big), r, dev),
        [("native .to(float8_e4m3fn)", timed(lambda: big.to(torch.float8_e4m3fn).view(torch.uint8), r, dev))])
    b = torch.randint(0, 256, (1 << 17,), generator=g, dtype=torch.uint8)
    assert torch.equal(naive_decode_e4m3(b).view(torch.int32)[(b & 0x7F) != 0x7F],
                       decode_e4m3(b).view(torch.int32)[(b & 0x7F) != 0x7F])
    bd = b.to(dev)
    row("decode_e4m3", f"{b.numel():,} bytes", timed(lambda: decode_e4m3(bd), r, dev),
        [("naive", timed(lambda: naive_decode_e4m3(b), r, torch.device("cpu"))),
         ("native .view(float8_e4m3fn).float()", timed(lambda: bd.view(torch.float8_e4m3fn).float(), r, dev))])

    # GPTQ: structured calibration activations as in the lab
    from graders.labs.gptq import activation_model, sample_activations

    N, K, gs = (1024, 2048, 128) if dev.type == "cuda" else (512, 1024, 128)
    X = sample_activations(activation_model(K, 0), 2 * K, 1)
    W, H = (0.02 * torch.randn(N, K, generator=g)).to(dev), (X.T @ X).to(dev)
    c_ref, _ = gptq_quantize(W, H, 4, gs)
    c_naive, _ = naive_gptq(W, H, 4, gs)
    assert (c_ref == c_naive).double().mean() > 0.99, "naive GPTQ disagrees with the reference"
    row("gptq", f"W {N}x{K}, group {gs}", timed(lambda: gptq_quantize(W, H, 4, gs), r, dev),
        [("naive", timed(lambda: naive_gptq(W, H, 4, gs), r, dev))])

    # KIVI
    B, Hh, L, D = (4, 8, 1024, 128) if dev.type == "cuda" else (1, 8, 512, 128)
    k = (torch.randn(B, Hh, L, D, generator=g) * torch.linspace(0.5, 4, D)).to(dev)
    v = torch.randn(B, Hh, L, D, generator=g).to(dev)
    ref = lambda: kivi_dequantize(kivi_quantize(k, v, 2, 32, 128))  # noqa: E731
    k_hat, v_hat = ref()
    nk, nv = naive_kivi(k, v, 2, 32, 128)
    assert torch.allclose(k_hat, nk, atol=1e-5) and torch.allclose(v_hat, nv, atol=1e-5)
    row("kivi", f"{B}x{Hh}x{L}x{D}, 2-bit", timed(ref, r, dev), [("naive", timed(lambda: naive_kivi(k, v, 2, 32, 128), r, dev))])

    # NVFP4 (no native cast to compare with: torch has float4_e2m1fn_x2 but no conversion kernel for it)
    x = (torch.randn(64, 1024, generator=g) * torch.exp2(torch.randint(-6, 6, (64, 64, 1), generator=g).float()).repeat_interleave(16, 1).squeeze(-1)).to(dev)
    got, want = nvfp4_quantize(x), naive_nvfp4(x)
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True)), "naive NVFP4 disagrees with the reference"
    row("nvfp4", f"{x.shape[0]}x{x.shape[1]} float32", timed(lambda: nvfp4_dequantize(*nvfp4_quantize(x)), r, dev),
        [("naive", timed(lambda: naive_nvfp4(x), r, dev))])


if __name__ == "__main__":
    main()
