"""Views of arrays a loop does not change are made once before the loop and leave the tape
(``transform/optimize/invariants.py``); the reversed loop then multiplies by one contiguous
copy of their transpose. Values equal Python's and gradients agree with central differences
on calls 1-3, for 0, 1 and many steps; the entry function is tested on its own, also where
it must leave the code as it is."""

import ast

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform.optimize.invariants import hoist_invariant_views

from .fd import numerical_grad
from .internals import DEFAULT_TIERS


def split_weights(W, xs):
    """Two views of one weight matrix, made in every step."""
    k = W.shape[0]
    h = np.zeros((xs.shape[1], k))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W[:, k:] + h @ W[:, :k])
    return np.sum(h * h)


def transposed_weight(W, xs):
    """A transposed view of the weight, made in every step."""
    h = np.zeros((xs.shape[1], W.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] + h @ W.T)
    return np.sum(h)


def weight_changed_in_the_loop(W, xs):
    """The view's array is rebound in the loop: each step's view differs."""
    k = W.shape[0]
    h = np.zeros((xs.shape[1], k))
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W[:, :k] + xs[t])
        W = W * 0.5
    return np.sum(h * h)


def _args(f, steps, rng):
    if f is transposed_weight:
        return rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((steps, 2, 3))
    return rng.standard_normal((3, 6)) * 0.5, rng.standard_normal((steps, 2, 3))


FUNCTIONS = [split_weights, transposed_weight, weight_changed_in_the_loop]


@pytest.mark.parametrize("steps", [0, 1, 2, 7])
@pytest.mark.parametrize("f", FUNCTIONS)
def test_values_and_gradients(f, steps, rng):
    args = _args(f, steps, rng)
    want = numerical_grad(f, args, 0)
    df = sg.value_and_grad(f)
    for _ in range(3):  # the rank build, then the build for the shapes (optimized)
        value, grad = df(*args)
        assert value == f(*args)
        np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


@DEFAULT_TIERS
def test_the_views_leave_the_tape_and_the_transpose_is_made_once(rng):
    shown = sg.show(split_weights, args=_args(split_weights, 5, rng), optimized=True)
    before, backward = shown.split("    for t in reversed(")
    made, forward = before.split("    for t in range(")
    assert "= W[:, :k]\n" in made  # the taped view, made once
    assert "W[:, :k]" not in forward and forward.count("tape.append(") == 1  # h (xs[t] read again)
    assert backward.count("tape.pop()") == 1
    assert "np.ascontiguousarray(" in made.split("# line")[-1] + forward.split("# line")[-1]
    assert ".T)" not in backward  # a contiguous copy made once, not a transposed view


# -- the entry function on its own


def _run(source, kinds=None):
    node = gast.parse(source).body[0]
    hoist_invariant_views(node, {"W": np.dtype("float64")} if kinds is None else kinds)
    return ast.unparse(gast.gast_to_ast(gast.Module(body=[node], type_ignores=[])))


HOISTED = """
def d(W, xs):
    k = 2
    v = None
    for t in range(n):
        tape.append(v)
        v = W[:, k:]
        h = np.dot(xs[t], v)
    for t in reversed(range(n)):
        g = np.dot(dh, v.T)
        v = tape.pop()
    return g
"""


def test_entry_makes_the_view_once_and_drops_its_tape_entries():
    got = _run(HOISTED)
    assert "    v = W[:, k:]\n    for t in range(n):\n        h = np.dot(xs[t], v)" in got
    assert "tape" not in got


@pytest.mark.parametrize(
    "change, why",
    [
        ("        h = np.dot(xs[t], v)", "        k = k + 1\n        h = np.dot(xs[t], v)"),
        ("    return g", "    return g + v"),  # read after the reversed loop
        ("        v = W[:, k:]", "        v = W[:, xs[t]]"),  # not slices
        ("        g = np.dot(dh, v.T)", "        g = np.dot(dh, v.T)\n        v = 2 * v"),
        ("    k = 2\n", "    if xs:\n        k = 2\n"),  # k not certainly defined before
    ],
)
def test_entry_leaves_what_it_cannot_prove(change, why):
    source = HOISTED.replace(change, why)
    want = ast.unparse(ast.parse(source))
    assert _run(source) == want


def test_entry_leaves_a_view_of_what_is_not_known_to_be_an_array():
    source = HOISTED
    assert _run(source, kinds={}) == ast.unparse(ast.parse(source))
