"""``np.einsum`` products that are one multiplication per entry run as
``einsum_product`` in the running code: the same bits as einsum's, special values and signed
zeros included, for every layout of the output; and a loss written with them keeps Python's
value bit for bit on calls 1-3."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.linalg_helpers import contract
from sourcegrad.runtime.products import einsum_product

from .fd import numerical_grad

SPECS = [
    ("nchw,co->nhwo", (5, 1, 4, 3), (1, 6)),  # a one-channel convolution's shifted product
    ("co,nchw->nhwo", (1, 6), (5, 1, 4, 3)),
    ("nchw,co->onhw", (5, 1, 4, 3), (1, 6)),
    ("nchw,co->nowh", (5, 1, 4, 3), (1, 6)),
    ("ij,k->ikj", (4, 3), (5,)),
    ("ij,k->ijk", (4, 3), (5,)),
    ("ij,jk->ik", (4, 1), (1, 5)),
    ("bi,bj->bij", (3, 4), (3, 5)),
    ("i,->i", (4,), ()),
    ("ij,jk->ik", (4, 3), (3, 5)),  # a real sum: einsum itself
    ("i,i->", (4,), (4,)),
    ("ij,jk->ik", (4, 1), (3, 5)),  # lengths that differ: einsum itself (an error)
]

_BITS = {np.dtype(np.float64): np.uint64, np.dtype(np.float32): np.uint32}


def _operand(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    specials = [-0.0, 0.0, np.inf, -np.inf, np.nan, np.finfo(dtype).tiny / 4, 3.0]
    for k, v in enumerate(specials[: flat.size]):
        flat[(k * 7) % flat.size] = v
    return x


@pytest.mark.parametrize(
    "dtypes", [("float64", "float64"), ("float32", "float32"), ("float32", "float64")]
)
@pytest.mark.parametrize("spec,shape_a,shape_b", SPECS)
def test_the_same_bits_as_einsum(spec, shape_a, shape_b, dtypes):
    rng = np.random.default_rng(len(spec))
    a, b = _operand(rng, shape_a, dtypes[0]), _operand(rng, shape_b, dtypes[1])
    with np.errstate(all="ignore"):
        try:
            want = np.einsum(spec, a, b)
        except ValueError:
            with pytest.raises(ValueError):
                einsum_product(spec, a, b)
            return
        got = einsum_product(spec, a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    bits = _BITS[want.dtype]
    np.testing.assert_array_equal(np.asarray(got).view(bits), np.asarray(want).view(bits))


def test_integers_and_strided_operands_go_to_einsum():
    a, b = np.arange(6).reshape(2, 3), np.arange(4)
    np.testing.assert_array_equal(einsum_product("ij,k->ijk", a, b), np.einsum("ij,k->ijk", a, b))
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8))[:, :, 1:7:2, ::3]
    k = np.random.default_rng(1).standard_normal((1, 4))
    np.testing.assert_array_equal(
        einsum_product("nchw,co->nhwo", x, k), np.einsum("nchw,co->nhwo", x, k)
    )


def shifted_products(K, x, w):
    ho, wo = x.shape[2] - 1, x.shape[3] - 1
    h = 0.0
    for i in range(2):
        for j in range(2):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(w * np.tanh(h))


def test_a_loop_of_one_channel_products_keeps_pythons_value():
    rng = np.random.default_rng(4)
    K, x = rng.standard_normal((2, 2, 1, 3)), rng.standard_normal((4, 1, 5, 5))
    w = rng.standard_normal((4, 4, 4, 3))
    df = sg.value_and_grad(shifted_products)
    g_fd = numerical_grad(shifted_products, (K, x, w), 0)
    for _ in range(3):
        value, g = df(K, x, w)
        assert value == shifted_products(K, x, w)
        np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-8)
    df(K, x, w)
    text = df.emitted((K, x, w), specialise=True).pretty(optimized=True)
    assert "einsum_product(" in text


def from_zero(K, x):
    """``arctan2(h, -1)`` is ``+pi`` or ``-pi`` at a zero of ``h`` by its sign, so the value
    shows every zero's sign (the output's letters interleaved: products made by ``multiply``,
    which keeps a product's ``-0.0``)."""
    ho, wo = x.shape[2] - 1, x.shape[3] - 1
    h = 0.0
    for i in range(2):
        for j in range(2):
            h = h + np.einsum("nchw,co->nhow", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(np.arctan2(h, -1.0))


def from_negative_zero(K, x):
    ho, wo = x.shape[2] - 1, x.shape[3] - 1
    h = -0.0
    for i in range(2):
        for j in range(2):
            h = h + np.einsum("nchw,co->nhow", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(np.arctan2(h, -1.0))


def from_argument(K, x, h):
    ho, wo = x.shape[2] - 1, x.shape[3] - 1
    for i in range(2):
        for j in range(2):
            h = h + np.einsum("nchw,co->nhow", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(np.arctan2(h, -1.0))


def _signed_zeros(rng, shape):
    """Zeros of random signs, a few finite values among them."""
    x = np.where(rng.random(shape) < 0.5, -0.0, 0.0)
    flat = x.reshape(-1)
    flat[::7] = rng.standard_normal(flat[::7].size)
    return x


@pytest.mark.parametrize(
    "f,extra,left_out",
    [(from_zero, (), True), (from_negative_zero, (), False), (from_argument, (0.0,), False)],
)
def test_a_running_sum_of_products_keeps_every_zeros_sign(f, extra, left_out):
    """From a constant start other than -0.0 the sum leaves out einsum's ``+ 0.0`` on each
    product (``negative_zeros=True``): no bit of the sum changes. From ``-0.0``, or from an
    argument (which may be ``-0.0``), each product keeps it."""
    rng = np.random.default_rng(7)
    K = np.where(rng.random((2, 2, 1, 3)) < 0.5, -1.5, 2.0)
    K[0, 1, 0, 2] = -0.0
    x = _signed_zeros(rng, (3, 1, 5, 5))
    df = sg.value_and_grad(f)
    with np.errstate(all="ignore"):
        want = f(K, x, *extra)
        for _ in range(3):
            value, _ = df(K, x, *extra)
            assert np.asarray(value).view(np.uint64) == np.asarray(want).view(np.uint64)
    text = df.emitted((K, x, *extra), specialise=True).pretty(optimized=True)
    assert "einsum_product(" in text
    assert ("negative_zeros=True" in text) == left_out, text


def test_the_running_sum_without_the_zero_pass_has_the_right_gradient():
    rng = np.random.default_rng(8)
    K, x = rng.standard_normal((2, 2, 1, 3)), rng.standard_normal((4, 1, 5, 5))
    x[0, 0, :2, :2] = -0.0
    df = sg.grad(from_zero)
    g_fd = numerical_grad(from_zero, (K, x), 0)
    for _ in range(3):
        np.testing.assert_allclose(df(K, x), g_fd, rtol=1e-6, atol=1e-8)
    assert "negative_zeros=True" in df.emitted((K, x), specialise=True).pretty(optimized=True)


@pytest.mark.parametrize(
    "spec,shape_a,shape_b",
    [
        ("nhwo,nhwac->aco", (4, 3, 3, 5), (4, 3, 3, 2, 1)),  # the convolution's kernel adjoint
        ("ij,kj->ik", (5, 3), (4, 3)),
        ("ij,jk->ki", (5, 3), (3, 4)),
        ("abc,cb->a", (2, 3, 4), (4, 3)),
        ("ij,ij->", (3, 4), (3, 4)),
    ],
)
def test_an_adjoints_contraction_is_tensordots_bit_for_bit(spec, shape_a, shape_b):
    """``contract`` (the adjoints' einsum through BLAS) runs ``np.tensordot``'s own steps,
    worked out once per shape: the same bits, and tensordot's error for lengths that differ."""
    rng = np.random.default_rng(len(spec))
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    (ta, tb), out = spec.split("->")[0].split(","), spec.split("->")[1]
    shared = [c for c in ta if c in tb]
    want = np.tensordot(a, b, ([ta.index(c) for c in shared], [tb.index(c) for c in shared]))
    free = [c for c in ta if c not in tb] + [c for c in tb if c not in ta]
    want = np.transpose(want, [free.index(c) for c in out])
    for _ in range(2):
        got = contract(spec, a, b)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64))
    with pytest.raises(ValueError, match="shape-mismatch"):
        contract("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
