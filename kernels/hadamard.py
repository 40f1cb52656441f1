"""Fast Walsh–Hadamard transform along the last dimension, orthonormal, natural (Sylvester) order.

    fwht(x)[..., i] = n^{-1/2} * sum_j (-1)^{popcount(i & j)} x[..., j],   n = x.shape[-1] = 2^k

which is ``x @ H_n / sqrt(n)`` with the Sylvester matrix H_1 = [1], H_2n = [[H_n, H_n], [H_n, -H_n]]
(symmetric, so x @ H_n = H_n x). The transform is its own inverse: H_n H_n = n I.

The reference is the radix-2 butterfly, O(n log n): stage h = 1, 2, 4, ..., n/2 replaces each pair
(a, b) = (x[j], x[j + h]) inside blocks of 2h by (a + b, a - b), ping-ponging between two buffers;
one multiplication by 1/sqrt(n) at the end. On CPU the rows are processed in chunks of about 2^18
elements so that every stage's operands stay in cache. Tensor ops only: the same code runs on CPU and
CUDA and follows the input's device. The input is never modified.
"""

from __future__ import annotations

import math

import torch

MAX_LOG2 = 14  # the lab's largest size, 16384; the kernel itself has no limit
_CPU_CHUNK = 1 << 18


def _check_size(n: int) -> None:
    if n < 1 or n & (n - 1):
        raise ValueError(f"the last dimension must be a power of two, got {n}")


def _butterfly(rows: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor) -> None:
    """rows [m, n] (any float dtype) -> out [m, n] = rows @ H_n (unnormalized); scratch like out."""
    m, n = rows.shape
    src = rows
    bufs = (out, scratch) if int(math.log2(n)) % 2 == 1 else (scratch, out)  # the last stage lands in out
    h, stage = 1, 0
    if n == 1:
        out.copy_(rows)
        return
    while h < n:
        dst = bufs[stage % 2]
        s = src.reshape(m, n // (2 * h), 2, h)
        d = dst.view(m, n // (2 * h), 2, h)
        a, b = s[:, :, 0, :], s[:, :, 1, :]
        torch.add(a, b, out=d[:, :, 0, :])
        torch.sub(a, b, out=d[:, :, 1, :])
        src, h, stage = dst, 2 * h, stage + 1
    assert src is out


def fwht_any(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal transform for any floating dtype (float64 for checking), computed in x's dtype."""
    n = x.shape[-1]
    _check_size(n)
    rows = x.reshape(-1, n)
    m = rows.shape[0]
    out = torch.empty((m, n), dtype=x.dtype, device=x.device)
    if m:
        chunk = m if x.device.type != "cpu" else max(1, _CPU_CHUNK // n)
        scratch = torch.empty((min(chunk, m), n), dtype=x.dtype, device=x.device)
        for start in range(0, m, chunk):
            stop = min(start + chunk, m)
            _butterfly(rows[start:stop], out[start:stop], scratch[: stop - start])
        out *= 1.0 / math.sqrt(n)
    return out.view(x.shape)


def fwht(x: torch.Tensor) -> torch.Tensor:
    """float32 [..., n], n a power of two -> float32 [..., n]: x @ H_n / sqrt(n), x unchanged."""
    if x.dtype != torch.float32:
        raise TypeError(f"fwht expects float32, got {x.dtype}")
    return fwht_any(x)


def sylvester(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """The explicit n x n Sylvester Hadamard matrix (entries +-1), from the recursion H_2n = [[H, H], [H, -H]]."""
    _check_size(n)
    h = torch.ones((1, 1), dtype=dtype, device=device)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def fwht_dense(x: torch.Tensor) -> torch.Tensor:
    """The definition as a dense product with the materialized matrix, O(n^2) per row (x's dtype)."""
    n = x.shape[-1]
    return (x.reshape(-1, n) @ sylvester(n, x.dtype, x.device)).mul_(1.0 / math.sqrt(n)).view(x.shape)
