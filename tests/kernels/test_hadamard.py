"""kernels.hadamard against its specification: the explicit Sylvester matrix in float64 (entry by entry
against (-1)^popcount(i & j), orthogonality H H = n I), the transform against the dense float64 product
for every n from 1 to 2^12 and the involution up to 2^14, the lab's error bound (float32 inside with a
margin, reduced precision outside), the orderings the feedback recognizes, shapes, strides and the
untouched input."""

from __future__ import annotations

import math

import pytest
import torch

from graders.labs.hadamard import bit_reverse, bound, make_inputs, sequency_order
from kernels.hadamard import fwht, fwht_any, fwht_dense, sylvester

CUDA = torch.cuda.is_available()
RTOL = 1e-4  # fixtures/labs/hadamard/lab.toml [accuracy]


def popcount_matrix(n: int) -> torch.Tensor:
    i = torch.arange(n).reshape(-1, 1)
    a = i & i.t()
    bits = torch.zeros_like(a)
    while bool(a.any()):
        bits += a & 1
        a >>= 1
    return torch.where(bits % 2 == 0, 1.0, -1.0).double()


@pytest.mark.parametrize("k", range(0, 11))
def test_sylvester_matrix_is_the_definition_and_orthogonal(k):
    n = 2**k
    h = sylvester(n)
    assert torch.equal(h, popcount_matrix(n))
    assert torch.equal(h, h.t())
    assert torch.equal(h @ h, n * torch.eye(n, dtype=torch.float64))  # integers: exact in float64


@pytest.mark.parametrize("k", range(0, 13))
def test_fwht_against_the_dense_float64_product(k):
    n = 2**k
    rows = max(2, min(64, 2**16 // n))
    x64 = torch.randn(rows, n, dtype=torch.float64, generator=torch.Generator().manual_seed(k))
    dense = x64 @ sylvester(n) / math.sqrt(n)
    assert torch.allclose(fwht_any(x64), dense, rtol=0, atol=1e-12 * math.sqrt(n))
    y = fwht(x64.float())
    assert y.dtype == torch.float32 and y.shape == x64.shape
    err = (y.double() - dense).abs()
    assert bool((err <= bound(x64.float().double(), RTOL) / 10).all())  # 10x inside the lab's bound


@pytest.mark.parametrize("k", range(0, 13))
def test_transform_of_the_identity_is_h_over_sqrt_n_and_applying_it_twice_is_the_identity(k):
    n = 2**k
    eye = torch.eye(n, dtype=torch.float64)
    h = fwht_any(eye)
    assert torch.allclose(h, sylvester(n) / math.sqrt(n), rtol=0, atol=1e-15)
    assert torch.allclose(fwht_any(h), eye, rtol=0, atol=1e-12)  # (H / sqrt n)(H / sqrt n) = I
    if k % 2 == 0:  # 1/sqrt(n) is a power of two: the butterfly of integers is exact, so H H = n I exactly
        assert torch.equal(fwht_any(sylvester(n)) * math.sqrt(n), n * eye)


@pytest.mark.parametrize("k", [12, 13, 14])
def test_involution_and_norm_for_the_largest_sizes(k):
    n = 2**k
    x = torch.randn(3, n, generator=torch.Generator().manual_seed(k))
    y = fwht(x)
    assert torch.allclose(y.double().norm(dim=1), x.double().norm(dim=1), rtol=1e-5)
    assert torch.allclose(fwht(y), x, rtol=0, atol=1e-5 * float(x.abs().max()))
    assert torch.allclose(fwht_any(fwht_any(x.double())), x.double(), rtol=0, atol=1e-12)


def test_n_equal_one_is_the_identity_and_small_cases_by_hand():
    x = torch.tensor([[3.0], [-2.5]])
    assert torch.equal(fwht(x), x)
    assert fwht(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist() == [5.0, -1.0, -2.0, 0.0]
    s = 1 / math.sqrt(2)
    assert fwht(torch.tensor([1.0, 0.0])).tolist() == pytest.approx([s, s])
    assert fwht(torch.tensor([0.0, 1.0])).tolist() == pytest.approx([s, -s])


@pytest.mark.parametrize("shape", [[8], [3, 5, 16], [2, 3, 1, 32], [0, 64], [4, 0, 8], [1]])
def test_any_leading_dimensions(shape):
    x = torch.randn(*shape)
    y = fwht(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    n = shape[-1]
    flat = x.reshape(-1, n).double()
    assert torch.allclose(y.reshape(-1, n).double(), flat @ sylvester(n) / math.sqrt(n), rtol=0, atol=1e-5)


def test_non_contiguous_input_and_the_input_is_never_modified():
    base = torch.randn(256, 19)
    x = base.t()  # [19, 256], last dimension strided
    before = x.clone()
    y = fwht(x)
    assert torch.equal(x, before)
    assert torch.allclose(y, fwht(x.contiguous()), rtol=0, atol=0)
    for n in (1, 2, 4096):
        x = torch.randn(5, n)
        before = x.clone()
        fwht(x)
        assert torch.equal(x, before)


def test_rejects_what_the_contract_excludes():
    with pytest.raises(TypeError):
        fwht(torch.zeros(4, dtype=torch.float64))
    for n in (3, 6, 12, 0):
        with pytest.raises(ValueError):
            fwht(torch.zeros(2, n))


def test_concentrated_outputs_stay_inside_the_bound_at_the_largest_size():
    """The worst case for the bound: y concentrated in one element of size sqrt(n) * rms."""
    for kind in ("spike", "constant", "hadamard_rows"):
        x = make_inputs({"kind": kind, "shape": [4, 16384]}, seed=2)["x"]
        x64 = x.double()
        err = (fwht(x).double() - fwht_any(x64)).abs()
        assert bool((err <= bound(x64, RTOL) / 3).all()), kind
    x = make_inputs({"kind": "hadamard_rows", "shape": [4, 1024]}, seed=2)["x"]
    assert torch.equal(fwht(x).double(), fwht_any(x.double()))  # exact: sums of equal magnitudes


def test_zero_rows_give_exact_zeros():
    x = make_inputs({"kind": "zeros", "shape": [6, 512]}, seed=1)["x"]
    assert not fwht(x)[::2].any()


def tf32(x: torch.Tensor) -> torch.Tensor:
    """Round float32 to TF32's 10 mantissa bits (nearest), as a TF32 matmul does with its inputs."""
    b = x.view(torch.int32)
    return ((b + 0x1000) & ~0x1FFF).view(torch.float32)


@pytest.mark.parametrize("n", [256, 4096, 16384])
def test_reduced_precision_fails_the_bound_float32_methods_pass(n):
    x = make_inputs({"kind": "random", "shape": [16, n]}, seed=4)["x"]
    x64 = x.double()
    allowed = bound(x64, RTOL)
    y64 = fwht_any(x64)

    def ok(y):
        return bool(((y.double() - y64).abs() <= allowed).all())

    assert ok(fwht(x))
    if n <= 4096:
        assert ok(fwht_dense(x))
    assert not ok(fwht_any(x.bfloat16()).float())
    assert not ok(fwht(tf32(x)))


@pytest.mark.parametrize("k", range(1, 11))
def test_sequency_and_bit_reversed_orders(k):
    n = 2**k
    h = sylvester(n)
    changes = (h[:, 1:] != h[:, :-1]).sum(1)
    perm = sequency_order(n)
    assert torch.equal(changes[perm], torch.arange(n))  # row s of the Walsh order has s sign changes
    r = bit_reverse(n)
    assert torch.equal(r[r], torch.arange(n))
    assert torch.equal(h[r][:, r], h)  # H is invariant under bit reversal of both indices


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("k", [0, 1, 5, 12, 14])
def test_cuda_follows_the_device_and_agrees_with_cpu(k):
    x = torch.randn(7, 2**k)
    y = fwht(x.cuda())
    assert y.device.type == "cuda"
    assert torch.allclose(y.cpu(), fwht(x), rtol=0, atol=1e-6 * float(x.abs().max()) * 2 ** (k / 2))
