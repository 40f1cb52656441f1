"""Reference kernels of the int8-asym and hadamard labs against the course notes' naive versions.

Run: python bench/bench_kernels_more.py [--device cuda] [--repeats N] [--threads N]. CPU rows use one
thread by default, as the grading sandbox does (OMP_NUM_THREADS=1); on a shared machine more threads
make the medians swing by 10x whenever another process takes a core. Every row is measured in this run
on the same inputs, and each naive result is checked against the reference before it is timed (bit for
bit for INT8, within the lab's bound for the Hadamard transform), so a ratio never compares a wrong
answer. The naive INT8 version is the notes' §2.5 code with its errors fixed (each fix labelled below);
the naive Hadamard transform is the dense product with the materialized Sylvester matrix (the matrix
is built once, outside the timed region).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graders.labs.hadamard import bound  # noqa: E402
from kernels.hadamard import fwht, fwht_any, sylvester  # noqa: E402
from kernels.int8 import dequantize_int8_asym, quantize_int8_asym  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kernels import row, timed  # noqa: E402  (one timing method for every kernel bench)

# --- naive versions ----------------------------------------------------------------------------------


def naive_quantize_per_channel_asym(x: torch.Tensor, n_bits: int = 8, channel_dim: int = 0):
    """Notes §2.5 `quantize_per_channel_asym`, with its errors fixed:
    (1) unsigned codes 0..255 stored as uint8 (the notes use -128..127 in int32);
    (2) the range includes 0: x_min clamped to <= 0, x_max to >= 0 (the notes' one-signed channels get a
        zero point outside the code range, clamped, and every code of the channel collapses);
    (3) an all-zero channel gets scale 1.0 (the notes clamp the range to 1e-8, a scale of 3.9e-11, and a
        constant nonzero channel dequantizes to ~1e-8 instead of its value);
    (4) round(x / scale) first, then add the integer zero point (round(x / scale + zp) rounds the float32
        sum, which can create a tie the quotient did not have);
    (5) the scale is one float32 division by a tensor (on CUDA `t / 255` multiplies by the reciprocal)."""
    q_min, q_max = 0, (1 << n_bits) - 1  # fix (1)
    reduce_dims = [d for d in range(x.dim()) if d != channel_dim]
    x_min = x.amin(dim=reduce_dims, keepdim=True).clamp(max=0)  # fix (2)
    x_max = x.amax(dim=reduce_dims, keepdim=True).clamp(min=0)  # fix (2)
    span = x_max - x_min
    scale = span / torch.full_like(span, float(q_max - q_min))  # fix (5)
    scale = torch.where(span == 0, torch.ones_like(scale), scale)  # fix (3)
    zero_point = (q_min - x_min / scale).round().clamp(q_min, q_max)
    q = ((x / scale).round() + zero_point).clamp(q_min, q_max).to(torch.uint8)  # fix (4), fix (1)
    return q, scale, zero_point.to(torch.uint8)


def naive_dequantize_per_channel(q_int: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor):
    """Notes §2.5 `dequantize_per_channel`, unchanged: scale * (q - zero_point)."""
    return scale * (q_int.to(scale.dtype) - zero_point.to(scale.dtype))


def naive_fwht(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The definition as a dense product: x @ H_n / sqrt(n), O(n^2) per row (H materialized beforehand)."""
    n = x.shape[-1]
    return (x.reshape(-1, n) @ h).mul_(1.0 / math.sqrt(n)).reshape(x.shape)


# --- timing ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev, r = torch.device(args.device), args.repeats
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, device {dev}, {torch.get_num_threads()} threads, median of {r}")

    # INT8 asymmetric per channel: the lab's benchmark shapes, rows with their own magnitudes and offsets
    shapes = [((2048, 2048), 0), ((2048, 1024), 1), ((4096, 4096), 0)]
    for (rows, cols), axis in shapes:
        w = (torch.randn(rows, cols, generator=g) * torch.exp2(torch.rand(rows, 1, generator=g) * 8 - 4)
             + torch.randn(rows, 1, generator=g)).to(dev)
        w[: rows // 10] = w[: rows // 10].abs()  # some one-signed channels
        ref = quantize_int8_asym(w, axis)
        naive = naive_quantize_per_channel_asym(w, 8, axis)
        assert all(torch.equal(a, b) for a, b in zip(ref, naive, strict=True)), "naive INT8 disagrees"
        assert torch.equal(dequantize_int8_asym(*ref, axis), naive_dequantize_per_channel(*naive))
        row("quantize_int8_asym", f"{rows}x{cols} axis={axis}", timed(lambda: quantize_int8_asym(w, axis), r, dev),
            [("naive §2.5 (fixed)", timed(lambda: naive_quantize_per_channel_asym(w, 8, axis), r, dev))])
        row("dequantize_int8_asym", f"{rows}x{cols} axis={axis}", timed(lambda: dequantize_int8_asym(*ref, axis), r, dev),
            [("naive §2.5", timed(lambda: naive_dequantize_per_channel(*ref), r, dev))])

    # Hadamard: the lab's benchmark shapes, and a small n where the dense product is competitive
    for rows, n in [(1024, 4096), (128, 16384), (16384, 256), (4096, 64)]:
        x = torch.randn(rows, n, generator=g).to(dev)
        h = sylvester(n, torch.float32, dev)
        y64 = fwht_any(x.double())
        allowed = bound(x.double(), 1e-4)
        for label, y in (("reference", fwht(x)), ("dense", naive_fwht(x, h))):
            assert bool(((y.double() - y64).abs() <= allowed).all()), f"{label} fwht outside the lab's bound"
        row("fwht", f"{rows}x{n}", timed(lambda: fwht(x), r, dev),
            [("dense x @ H / sqrt(n)", timed(lambda: naive_fwht(x, h), r, dev))])


if __name__ == "__main__":
    main()
