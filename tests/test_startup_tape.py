"""Start-up: the first call's (pure) derivative keeps on its tape only what its adjoint reads.

An array the adjoint reads only as the ``x`` of ``unindex(g, x, idx)`` (the adjoint of its
items: an LSTM's gate pre-activations ``z``, read back as ``z[:, :3H]`` and ``z[:, 3H:]``) is
kept as its shape (``tape.append(shape_of(z))``), as one read only by ``sum_to`` is: the
``Shape`` keeps its dtype and memory layout, and its zeros are those ``np.zeros_like`` of the
array makes (class, dtype, shape and strides), so the gradients are the same bit for bit.
Checked against central differences (3 calls, the hvp too), and the zeros against NumPy's.
"""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.helpers import shape_of, unindex

from .ported.harness import Case, check, params


def gates(W, xs):
    """An LSTM-like step: the pre-activations z read back only through their slices."""
    h = np.zeros((xs.shape[1], W.shape[1] // 2))
    for t in range(xs.shape[0]):
        z = xs[t] @ W
        h = np.tanh(z[:, : h.shape[1]]) * (1.0 / (1.0 + np.exp(-z[:, h.shape[1] :]))) + h
    return np.sum(h * h)


def transposed(W, xs):
    """z is a transpose (Fortran order): its zeros must be in Fortran order too."""
    acc = 0.0
    for t in range(xs.shape[0]):
        z = (xs[t] @ W).T
        acc = acc + np.sum(np.sin(z[1:, :]) * z[0])
    return acc


def strided(W, xs):
    """z is a strided view of a product: its zeros are C-ordered, as NumPy makes them."""
    acc = 0.0
    for t in range(xs.shape[0]):
        z = (xs[t] @ W)[:, ::2]
        acc = acc + np.sum(np.cos(z[:, 1:]) * z[:, 0:1])
    return acc


def picked(W, xs, idx):
    """Integer-array reads of z (repeated indices add up in its adjoint)."""
    acc = 0.0
    for t in range(xs.shape[0]):
        z = np.tanh(xs[t] @ W)
        acc = acc + np.sum(z[idx] ** 2) + np.sum(z[:, 0])
    return acc


def _args(dtype=np.float64):
    rng = np.random.default_rng(3)
    return (
        rng.standard_normal((4, 6)).astype(dtype) * 0.5,
        rng.standard_normal((5, 3, 4)).astype(dtype),
    )


CASES = [
    Case("gates", gates, _args(), order=2),
    Case("transposed", transposed, _args(), order=2),
    Case("strided", strided, _args(), order=2),
    Case("picked", picked, _args() + (np.array([0, 2, 0]),), order=2),
    Case("gates_float32", gates, _args(np.float32), rtol=2e-2, atol=2e-3),
]


@pytest.mark.parametrize("case", params(CASES))
def test_gradients_of_arrays_read_back_by_their_items(case):
    check(case)


@pytest.mark.parametrize("f", [gates, transposed, strided])
def test_the_shown_tape_keeps_the_shape_of_an_array_read_only_by_its_items(f):
    text = sg.source(sg.grad(f), *_args())
    assert "tape.append(shape_of(z))" in text
    assert "tape.append(z)" not in text
    assert "unindex(" in text


def test_an_array_whose_values_the_adjoint_reads_stays_on_the_tape():
    def f(W, xs):
        acc = 0.0
        for t in range(xs.shape[0]):
            z = xs[t] @ W
            acc = acc + np.sum(np.sin(z)) * np.sum(z[:, :2])  # sin's adjoint reads z
        return acc

    text = sg.source(sg.grad(f), *_args())
    assert "tape.append(z)" in text
    first = [sg.value_and_grad(f)(*_args())[1] for _ in range(3)]
    for g in first[1:]:
        np.testing.assert_allclose(g, first[0], rtol=1e-12)


class Marked(np.ndarray):
    """An ndarray subclass: ``np.zeros_like`` keeps it."""


def _layouts():
    base = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    return {
        "c": base,
        "fortran": np.asfortranarray(base),
        "transpose": base.T,
        "permuted": base.transpose(1, 0, 2),
        "permuted_view": base.transpose(2, 0, 1)[::2],
        "row_view": base[:, 1:, ::2],
        "reversed": base[::-1, :, ::-1],
        "length_one": base[:1, :, :1],
        "broadcast": np.broadcast_to(base[:, :1, :], (2, 3, 4)),
        "float32_t": base.astype(np.float32).T,
        "int": np.arange(6).reshape(2, 3),
        "bool_t": (base > 5).T,
        "complex": base.astype(np.complex128)[:, ::2],
        "zero_d": np.array(2.5),
        "empty": np.zeros((0, 3)).T,
        "subclass": np.ones((2, 3)).view(Marked).T,
    }


@pytest.mark.parametrize("name", list(_layouts()))
def test_a_shapes_zeros_are_those_numpy_makes_like_the_array(name):
    x = _layouts()[name]
    want = np.zeros_like(x)
    got = shape_of(x).zeros(np.ones(x.shape))
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.strides == want.strides
    assert not got.any()


def test_unindex_of_a_shape_is_unindex_of_the_array():
    x = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    for idx in (np.s_[:, 1:3], (np.array([0, 0, 2]),), np.s_[1], x > 4):
        g = np.ones_like(x[idx]) * 2.0
        want, got = unindex(g, x, idx), unindex(g, shape_of(x), idx)
        assert got.strides == want.strides and got.dtype == want.dtype
        assert np.array_equal(got, want)


@pytest.mark.parametrize("name", [n for n, x in _layouts().items() if x.ndim and x.size])
def test_unindex_makes_the_zeros_numpy_makes_like_the_array(name):
    x = _layouts()[name]
    g = np.ones_like(x[:1])
    want = np.zeros_like(x)
    want[:1] = g
    for like in (x, shape_of(x)):
        got = unindex(g, like, np.s_[:1])
        assert type(got) is type(want) and got.dtype == want.dtype
        assert got.strides == want.strides
        assert np.array_equal(got, want)


class Duck:
    """An array of another library (as CuPy's): NumPy's functions dispatch to it."""

    def __init__(self, a):
        self.a, self.shape, self.dtype = a, a.shape, a.dtype

    def __array_function__(self, func, types, args, kwargs):
        out = func(*[v.a if isinstance(v, Duck) else v for v in args], **kwargs)
        return Duck(out) if isinstance(out, np.ndarray) else out


def test_a_shapes_zeros_of_another_array_library_are_its_own():
    x = Duck(np.ones((3, 4), np.float32))
    got = shape_of(x).zeros(Duck(np.ones(2)))
    assert type(got) is Duck and got.shape == (3, 4) and got.dtype == np.float32
    assert not got.a.any()
