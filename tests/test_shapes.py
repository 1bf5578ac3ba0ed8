"""Concrete shape inference (``transform/shapes.py``, through :func:`concrete_shapes`) and the
running code specialised with it: a shape is claimed only where every value a name holds has
it, and the specialised gradients agree with central differences."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import analyze, concrete_shapes, normalize, parse


def shapes_of(f, *args, wrt=(0,)):
    core = normalize(parse(f))
    return concrete_shapes(analyze(core, wrt, args), args)


def rnn(W, xs):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h)
    return np.sum(h * h)


def test_loop_carried_state_of_one_shape_is_known(rng):
    W, xs = rng.standard_normal((3, 3)), rng.standard_normal((4, 2, 3))
    shapes = shapes_of(rnn, W, xs)
    assert shapes["h"] == (2, 3)  # np.zeros((xs.shape[1], W.shape[0])) and tanh(...) agree
    assert shapes["W"] == (3, 3) and shapes["xs"] == (4, 2, 3)


def grows(c, x):
    h = c
    for i in range(x.shape[0]):
        h = h + x[i]
    return np.sum(h * h)


def test_a_name_whose_shape_changes_in_a_loop_has_none(rng):
    shapes = shapes_of(grows, rng.standard_normal(1), rng.standard_normal((3, 4)))
    assert "h" not in shapes


def counted(x):
    k = 0
    total = 0.0
    while k < 3:
        k = k + 1
        z = np.zeros((k,)) + x[0]
        total = total + np.sum(z * x[0])
    return total


def test_values_of_names_assigned_twice_are_not_used_for_shapes(rng):
    shapes = shapes_of(counted, rng.standard_normal(4))
    assert "z" not in shapes  # k is 1, 2, 3 in turn: np.zeros((k,)) has no one shape
    assert "k" in shapes and shapes["k"] == ()


def masked(x):
    y = x[x > 0]
    z = np.reshape(x, (2, -1))
    return np.sum(y * y) + np.sum(z)


def test_data_dependent_shapes_are_unknown_and_reshapes_known(rng):
    shapes = shapes_of(masked, rng.standard_normal(6))
    assert "y" not in shapes and shapes["x"] == (6,)
    assert shapes["z"] == (2, 3)  # the -1 worked out from the size
    assert "z" not in shapes_of(masked, rng.standard_normal(7))  # 7 is not 2 * k: unknown


def stacked(x, w):
    s = np.stack((x, x, x), axis=1)
    e = np.einsum("iaj,jk->aik", s, w)
    bad = np.einsum("ij,jk->ik", x, x)
    return np.sum(e) + np.sum(bad)


def test_stack_and_einsum_shapes(rng):
    shapes = shapes_of(stacked, rng.standard_normal((2, 4)), rng.standard_normal((4, 5)))
    assert shapes["s"] == (2, 3, 4) and shapes["e"] == (3, 2, 5)
    assert "bad" not in shapes  # j is 4 in one operand and 2 in the other


def reductions(x, b):
    m = np.max(x, axis=1, keepdims=True)
    s = np.sum(x, axis=(0, 1))
    v = x @ b
    return np.sum(m) + np.sum(s * s) + np.sum(v)


def test_reductions_and_products(rng):
    shapes = shapes_of(reductions, rng.standard_normal((2, 3, 4)), rng.standard_normal(4))
    assert shapes["m"] == (2, 1, 4)
    assert shapes["s"] == (4,)
    assert shapes["v"] == (2, 3)


@pytest.mark.parametrize(
    "f, make",
    [
        (rnn, lambda rng: (rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 2, 3)))),
        (grows, lambda rng: (rng.standard_normal(1), rng.standard_normal((3, 4)))),
        (counted, lambda rng: (rng.standard_normal(4),)),
        (masked, lambda rng: (rng.standard_normal(6),)),
        (reductions, lambda rng: (rng.standard_normal((2, 3, 4)), rng.standard_normal(4))),
    ],
)
def test_specialised_gradients_agree_with_differences(f, make, rng):
    args = make(rng)
    df = sg.grad(f)
    df._entry(args, True)  # specialise now
    got = df(*args)
    np.testing.assert_allclose(got, numerical_grad(f, args, 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, sg.grad(f, optimize=False)(*args), rtol=1e-10)


def recurrent(W, xs):
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] + h @ W)
    return np.sum(h * h)


def test_specialised_rnn_runs_without_sum_to(rng):
    args = (rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 2, 3)))
    running = sg.show(rnn, args=args, optimized=True)
    assert "sum_to(" not in running and "shape_of(" not in running
    assert "out=" in running  # the step's sum is computed in the product's buffer
    running = sg.show(recurrent, args=args, optimized=True)
    assert "W_T = np.ascontiguousarray(W.T)" in running  # made once, before the loop
    assert re.search(r"np\.dot\(dh(_\d+)?, W_T\)", running)  # the loop reads the copy
    df = sg.grad(recurrent)
    df._entry(args, True)
    np.testing.assert_allclose(df(*args), numerical_grad(recurrent, args, 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "source, want",
    [
        ("y * -(1.0 / n)", np.float32),  # Python numbers stay weak through - and /
        ("y * (n * 2)", np.float32),
        ("y * (n - 1.5)", np.float32),
        ("y * -n", np.float32),
        ("y * (f64 * 2.0)", np.float64),  # a float64 array is not weak
        ("y * ((f64 * 2.0) * 3.0)", np.float64),  # nor a float64 scalar NumPy made of it
        ("y * -(f64 * 2.0)", np.float64),
        ("y * np.exp(1.0)", np.float64),  # a NumPy scalar is not weak either
        ("y * (n ** 2)", None),  # an int, or a float for a negative exponent: unknown
    ],
)
def test_expression_dtypes_follow_numpys_promotion(source, want):
    import gast

    from .internals import expression_dtype

    e = gast.parse(source).body[0].value
    dtypes = {"y": np.dtype(np.float32), "n": int, "f64": np.dtype(np.float64)}
    got = expression_dtype(e, dtypes, "np")
    assert got == (None if want is None else np.dtype(want))
    if want is not None:
        env = {"np": np, "y": np.ones(3, np.float32), "n": 4, "f64": np.ones((), np.float64)}
        assert eval(source, env).dtype == got  # noqa: S307 - the test's own expressions
