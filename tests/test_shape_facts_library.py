"""Shape facts of the library's primitives and of splits (``F.linear``, the activations,
``np.split``'s pieces, ``np.zeros_like(a)``): each shape is claimed exactly where NumPy gives
it, and the derivatives specialised with them agree with central differences on the first
call and later ones."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.nn import functional as F

from .fd import numerical_grad
from .internals import analyze, concrete_shapes, normalize, parse


def shapes_of(f, *args, wrt=(0,)):
    core = normalize(parse(f))
    return concrete_shapes(analyze(core, wrt, args), args)


def gates(W, U, b, xs):
    xw = F.linear(xs, W, b)
    h = np.zeros_like(xw[0, :, :2])
    for t in range(len(xw)):
        i, f, g, o = np.split(xw[t] + F.linear(h, U), 4, axis=-1)
        h = F.sigmoid(f) * h + F.sigmoid(i) * np.tanh(g) * F.tanh(o)
    return np.sum(h * h)


def gates_args(rng):
    W, U = rng.standard_normal((8, 3)), 0.5 * rng.standard_normal((8, 2))
    return W, U, rng.standard_normal(8), rng.standard_normal((5, 4, 3))


def test_linear_split_pieces_and_zeros_like_have_numpys_shapes(rng):
    shapes = shapes_of(gates, *gates_args(rng))
    assert shapes["xw"] == (5, 4, 8)  # x.shape[:-1] + (out,)
    assert shapes["h"] == (4, 2)  # np.zeros_like(a slice) and every later h agree
    for piece in ("i", "f", "g", "o"):
        assert shapes[piece] == (4, 2)
    split = [n for n in shapes if shapes[n] == (4,)]  # the tuple itself holds no array
    assert not split, split


def uneven(x):
    a, b, c = np.array_split(x, 3, axis=1)
    d, e = np.split(x, [1], axis=0)
    return np.sum(a) + np.sum(b * b) + np.sum(c) + np.sum(d) + np.sum(e * e)


def test_uneven_pieces_follow_numpy(rng):
    x = rng.standard_normal((2, 7))
    shapes = shapes_of(uneven, x)
    assert (shapes["a"], shapes["b"], shapes["c"]) == ((2, 3), (2, 2), (2, 2))
    assert (shapes["d"], shapes["e"]) == ((1, 7), (1, 7))


def split_by_name(x, k):
    a, b = np.split(x, k)
    return np.sum(a * b)


def test_no_shape_is_claimed_where_numpy_would_decide_at_run_time(rng):
    x = rng.standard_normal((4, 3))
    shapes = shapes_of(split_by_name, x, 2)
    assert "a" not in shapes and "b" not in shapes  # the count is an argument's value


def linear_without_bias(x, W, v):
    return np.sum(F.linear(x, W) * v)


def test_linear_without_bias_has_its_shape(rng):
    shapes = shapes_of(linear_without_bias, *(rng.standard_normal(s) for s in [(2, 3), (4, 3), 4]))
    assert (2, 4) in shapes.values()


def mismatched(x, W, b):
    return np.sum(F.linear(x, W, b))


def test_linear_of_mismatched_operands_has_no_shape(rng):
    x, W = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    for b in (rng.standard_normal(3), rng.standard_normal((2, 4))):  # not (out,): unclaimed
        shapes = shapes_of(mismatched, x, W, b)
        assert set(shapes) == {"x", "W", "b"}


@pytest.mark.parametrize(
    "f, make",
    [(gates, gates_args), (uneven, lambda rng: (rng.standard_normal((2, 7)),))],
)
def test_specialised_derivatives_agree_with_differences(f, make, rng):
    args = make(rng)
    df = sg.grad(f)
    first = df(*args)
    df._entry(args, True)  # the build specialised to these shapes
    later = [df(*args) for _ in range(2)]
    want = numerical_grad(f, args, 0)
    for got in [first, *later]:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    running = sg.show(f, args=args, optimized=True)
    assert "sum_to(" not in running


def test_second_order_through_the_facts(rng):
    W, U, b, xs = gates_args(rng)
    assert sg.gradcheck(gates, W, U, b, xs[:2], order=2)


def transposed(W, x):
    return np.sum(np.tanh(x @ W.T))


def test_a_transpose_attribute_has_the_reversed_shape(rng):
    shapes = shapes_of(transposed, rng.standard_normal((4, 3)), rng.standard_normal((2, 3)))
    assert (3, 4) in shapes.values() and (2, 4) in shapes.values()
