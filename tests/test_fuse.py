"""Loop fusion (``sourcegrad.transform.optimize.fuse``): a static loop nest adding ``np.einsum`` products
runs as one contraction in the code specialised to shapes, gives the gradient of the loop as
written, and is left alone wherever the conditions for the rewrite do not hold."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import analyze, concrete_shapes, fuse_contractions, normalize, parse, sum_leading


def conv(K, x):
    """A 3x3 valid convolution of NCHW ``x`` as nine shifted slices times kernel taps."""
    ho, wo = x.shape[2] - 2, x.shape[3] - 2
    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])
    return np.sum(np.tanh(h) ** 2)


def rows(A, v, b):
    """One loop level, both operands read by the counter, a non-zero start."""
    acc = b
    for i in range(4):
        acc = acc + np.einsum("ij,j->i", A[i], v[i])
    return np.sum(np.sin(acc))


def _loops(source: str) -> bool:
    return re.search(r"^\s*for ", source, re.M) is not None


def _running(f, *args, wrt=0):
    df = sg.grad(f, wrt)
    df._entry(args, True)
    return df, df._entry(args).pretty(optimized=True)


def _check(f, args, wrt, rtol=1e-6):
    df, running = _running(f, *args, wrt=wrt)
    got = df(*args)
    want = sg.grad(f, wrt, optimize=False)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, numerical_grad(f, args, wrt), rtol=rtol, atol=1e-8)
    return running


def test_a_convolution_loop_runs_as_one_contraction(rng):
    K, x = rng.standard_normal((3, 3, 2, 4)), rng.standard_normal((3, 2, 6, 5))
    running = _check(conv, (K, x), 0)
    assert not _loops(running)
    assert "np.stack(" in running and "K.reshape((9, 2, 4))" in running
    # the forward sums the loop's nine products in its order (Python's value, bit for bit);
    # the adjoint is one contraction, through BLAS
    assert running.count("np.einsum(") == 9 and "contract(" not in running
    assert running.count("uneinsum(") == 1
    shown = sg.show(conv, args=(K, x))
    assert "for i in reversed(range(3))" in shown  # what is shown: the loop as written


def test_fused_gradient_of_the_input_and_float32(rng):
    K = rng.standard_normal((3, 3, 1, 2)).astype(np.float32)
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    df, running = _running(conv, K, x, wrt=1)
    assert "np.stack(" in running
    got = df(K, x)
    assert got.dtype == np.float32
    want = sg.grad(conv, 1, optimize=False)(K, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(
        sg.grad(conv, 1)(K.astype(np.float64), x64),
        numerical_grad(conv, (K.astype(np.float64), x64), 1),
        rtol=1e-6,
        atol=1e-8,
    )


@pytest.mark.parametrize("wrt", [0, 1, 2])
def test_one_level_with_both_operands_reshaped(wrt, rng):
    A, v, b = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(3)
    running = _check(rows, (A, v, b), wrt)
    assert not _loops(running)
    if wrt == 2:  # only the adjoint reads the stacked operands, and it needs none for b
        assert "reshape(" not in running and running.count("np.einsum(") == 4
    else:
        assert "A.reshape((4, 3, 5))" in running and "v.reshape((4, 5))" in running


def test_vjp_of_a_fused_loop(rng):
    def pre(K, x):
        ho, wo = x.shape[2] - 2, x.shape[3] - 2
        h = 0.0
        for i in range(3):
            for j in range(3):
                h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])
        return h

    K, x = rng.standard_normal((3, 3, 2, 3)), rng.standard_normal((2, 2, 5, 6))
    g = rng.standard_normal((2, 3, 4, 3))
    vjp = sg.vjp(pre, 0)
    vjp._entry((K, x, g), True)
    assert "np.stack(" in vjp._entry((K, x, g)).pretty(optimized=True)
    got = vjp(K, x, g)
    np.testing.assert_allclose(got, sg.vjp(pre, 0, optimize=False)(K, x, g), rtol=1e-10)
    np.testing.assert_allclose(
        got, numerical_grad(lambda K, x: np.sum(pre(K, x) * g), (K, x), 0), rtol=1e-6, atol=1e-8
    )


def counter_read_after(A, v):
    acc = 0.0
    for i in range(3):
        acc = acc + np.einsum("ij,j->i", A[i], v[i])
    return np.sum(acc**2) * i


def carried(A, v):
    acc = 0.0
    w = v[0]
    for i in range(3):
        acc = acc + np.einsum("ij,j->i", A[i], w)
        w = v[i]  # read by the next iteration
    return np.sum(acc**2)


def with_a_call(A, v):
    acc = 0.0
    for i in range(3):
        acc = acc + np.einsum("ij,j->i", A[i], np.tanh(v[i]))
    return np.sum(acc**2)


def variable_bound(A, v):
    acc = 0.0
    for i in range(A.shape[0]):
        acc = acc + np.einsum("ij,j->i", A[i], v[i])
    return np.sum(acc**2)


def clipped(A, v):
    """Slices clipped at the edge: operands of different shapes, outputs of one shape."""
    acc = 0.0
    for i in range(3):
        acc = acc + np.einsum("ij,j->i", A[:, i : i + 4], v[i : i + 4])
    return np.sum(acc**2)


def two_accumulators(A, v):
    acc = 0.0
    other = 0.0
    for i in range(3):
        acc = acc + np.einsum("ij,j->i", A[i], v[i])
        other = other + v[i]
    return np.sum(acc**2) + np.sum(other)


@pytest.mark.parametrize(
    "f", [counter_read_after, carried, with_a_call, variable_bound, clipped, two_accumulators]
)
def test_loops_outside_the_conditions_are_kept(f, rng):
    if f is clipped:
        A, v = rng.standard_normal((3, 5)), rng.standard_normal(5)
    else:
        A, v = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4))
    running = _check(f, (A, v), 0)
    assert _loops(running) and "np.stack(" not in running


def test_fuse_pass_entry():
    K, x = np.ones((3, 3, 2, 4)), np.ones((1, 2, 5, 5))
    core = normalize(parse(conv))
    shapes = concrete_shapes(analyze(core, (0,), (K, x)), (K, x))
    fused = normalize(parse(conv))
    stacked = fuse_contractions(fused, shapes).stacked
    assert len(stacked) == 3  # two stacked operands and their product
    assert not any(type(s).__name__ == "For" for s in fused.node.body)
    assert fuse_contractions(normalize(parse(carried)), {}).stacked == []


@pytest.mark.parametrize(
    "shape,k",
    [((6, 4), 1), ((2, 3, 4), 2), ((5, 1), 1), ((3, 4), 0), ((7,), 1), ((2, 3, 4), 1)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_sum_leading_is_a_sum_over_leading_axes(shape, k, dtype, rng):
    g = (rng.standard_normal(shape) * 10).astype(dtype)
    want = g.sum(axis=tuple(range(k)))
    got = sum_leading(g, k)
    assert got.dtype == want.dtype and np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    t = np.asfortranarray(g)  # not C-contiguous: NumPy's own sum
    np.testing.assert_allclose(sum_leading(t, k), want, rtol=1e-5 if dtype == np.float32 else 1e-12)


def conv_swapped(K, x):
    """:func:`conv` with the operands of each product the other way round."""
    ho, wo = x.shape[2] - 2, x.shape[3] - 2
    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("co,nchw->nhwo", K[i, j], x[:, :, i : i + ho, j : j + wo])
    return np.sum(np.tanh(h) ** 2)


@pytest.mark.parametrize("wrt", [0, 1])
def test_stacked_operands_are_laid_out_for_the_product(wrt, rng):
    K, x = rng.standard_normal((3, 3, 2, 4)), rng.standard_normal((3, 2, 6, 5))
    for f in (conv, conv_swapped):
        running = _check(f, (K, x), wrt)
        assert ".transpose((0, 2, 3, 1))" in running or ".transpose((1, 0, 2, 3))" in running
        assert "np.stack(" in running
