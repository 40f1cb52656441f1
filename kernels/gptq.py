"""GPTQ (Frantar et al., ICLR 2023) for one linear layer: symmetric per-group codes with OBS error feedback.

Semantics (the lab's contract): dead input channels (H_ii = 0) get H_ii = 1 and zero weights; then
H += damp * mean(diag H) * I; columns are quantized left to right; a group's per-row scale is
max|W| over the group's columns of the *current* (already updated) weights / (2^(bits-1) - 1), at least
1e-8; after column q every later column j gets w_j -= (w_q - Q(w_q)) / [H_F^-1]_qq * [H_F^-1]_jq with
F the columns not yet quantized. Row q of the upper Cholesky factor U of H^-1 (H^-1 = U^T U) is
[H_F^-1]_{q,F} / sqrt([H_F^-1]_qq), so the update is err / U_qq * U_qj: one factorization serves all K
steps. Columns are processed in blocks (lazy batch updates: later columns get one matrix product per
block); blocks are whole groups, so every group's scale sees fully updated weights.
"""

from __future__ import annotations

import torch

BLOCK = 128  # columns per lazy-update block (rounded to whole groups)


def inverse_cholesky(H: torch.Tensor, damp: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Dead-channel fix, damping, and the upper Cholesky factor of H^-1 (float64 for stability).

    Returns (U, dead) with U in float64 and dead the mask of channels whose diag(H) was zero."""
    H = H.to(torch.float64).clone()
    diag = H.diagonal()
    dead = diag == 0
    diag[dead] = 1.0
    diag += damp * diag.mean()
    L = torch.linalg.cholesky(H)
    Hinv = torch.cholesky_inverse(L)
    return torch.linalg.cholesky(Hinv, upper=True), dead


def gptq_quantize(W: torch.Tensor, H: torch.Tensor, bits: int = 4, group_size: int = 128, damp: float = 0.01):
    """W [N, K], H [K, K] = X^T X -> (codes int8 [N, K], scales [N, K // group_size]) in W's dtype.

    The weight updates run in W's dtype (float32 by contract; the tests also run float64 to compare
    with the definition); the factorization of H always runs in float64."""
    N, K = W.shape
    if H.shape != (K, K):
        raise ValueError(f"H must be [{K}, {K}], got {list(H.shape)}")
    if K % group_size:
        raise ValueError(f"group_size {group_size} must divide K = {K}")
    qmax = 2 ** (bits - 1) - 1
    U, dead = inverse_cholesky(H, damp)
    U = U.to(W.dtype)
    W = W.clone()
    W[:, dead] = 0
    codes = torch.empty(N, K, dtype=torch.int8, device=W.device)
    scales = torch.empty(N, K // group_size, dtype=W.dtype, device=W.device)
    block = max(1, BLOCK // group_size) * group_size
    for b0 in range(0, K, block):
        b1 = min(b0 + block, K)
        W1 = W[:, b0:b1].clone()  # the block, kept current column by column
        E1 = torch.empty_like(W1)  # scaled errors err / U_qq, replayed on later blocks in one product
        for i in range(b1 - b0):
            q = b0 + i
            if q % group_size == 0:
                s = (W1[:, i : i + group_size].abs().amax(dim=1) / qmax).clamp(min=1e-8)
                scales[:, q // group_size] = s
            w = W1[:, i]
            c = torch.round(w / s).clamp(-qmax - 1, qmax)
            codes[:, q] = c.to(torch.int8)
            err = (w - c * s) / U[q, q]
            W1[:, i + 1 :] -= err[:, None] * U[q, q + 1 : b1][None, :]
            E1[:, i] = err
        W[:, b1:] -= E1 @ U[b0:b1, b1:]
    return codes, scales


def dequantize(codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """codes * scales, each scale expanded over its group's columns."""
    group_size = codes.shape[1] // scales.shape[1]
    return codes.to(scales.dtype) * scales.repeat_interleave(group_size, dim=1)


def layer_error(W: torch.Tensor, W_hat: torch.Tensor, H: torch.Tensor) -> float:
    """tr((W - W_hat) H (W - W_hat)^T) in float64: the calibration loss ||X (W - W_hat)^T||_F^2."""
    D = (W.to(torch.float64) - W_hat.to(torch.float64))
    return float(((D @ H.to(torch.float64)) * D).sum())
