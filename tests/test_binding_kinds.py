"""Whether a name holds an array is decided per binding: a write (an inlined helper's update
``h -= h.mean(axis=0)``, or ``m = n; m += v``) is judged by the bindings of the name that
reach it, not by every binding of the name anywhere in the function. ``h = x @ W;
normalize_(h); h = dense(p, h)`` is followed (the later binding, a helper's result, no
longer hides that ``h`` holds an array at the call), as are arrays made by NumPy's
constructors (``np.arange``, ``np.linspace``, ``np.eye``, ``np.full``, ``np.ones_like``,
``np.asarray`` of a list) and by the user's own functions. Where the kind is known, the
inlined helper reads as one writes it by hand (the caller's name, no ``isinstance`` guard);
where it is not (a number on one branch, an array on the other), the guarded write gives
Python's value. Each program: the value against Python's, the gradient against central
differences in float64, the Hessian-vector product where it fits, three calls each, the
caller's arrays after each call equal to those Python's call leaves."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import check_refusal
from .test_helper_argument_writes_followed import check_followed

R = np.random.default_rng(7)
X = R.standard_normal((5, 3))
W0 = R.standard_normal((3, 4))
W = R.standard_normal((4, 4))
V = np.array([0.7, -1.3, 0.4])
PARAMS = {"W0": W0, "head": {"W": R.standard_normal((4, 2)), "b": R.standard_normal(2)}}


def normalize_(h):
    h -= h.mean(axis=0)


def dense(p, h):
    return np.tanh(h @ p["W"] + p["b"])


def layer(W, h):
    return np.tanh(h @ W)


def bump(n, k):
    n += k


# ------------------------------------------------------------------ rebinding after the write


def rebound_by_a_helper(params, x):
    h = x @ params["W0"]
    normalize_(h)
    h = dense(params["head"], h)
    return np.sum(h**2)


def rebound_by_a_helper_by_hand(params, x):
    h = x @ params["W0"]
    h -= h.mean(axis=0)
    h = dense(params["head"], h)
    return np.sum(h**2)


def rebound_by_a_number(W0, x):
    h = x @ W0
    normalize_(h)
    h = np.sum(h * h)
    return h * 2.0


def rebound_in_a_branch(W0, x):
    h = x @ W0
    normalize_(h)
    if x[0, 0] > 0:
        h = layer(W, h)
    return np.sum(h**2)


def rebound_in_a_loop(W0, x):
    h = x @ W0
    for _ in range(3):
        normalize_(h)
        h = np.tanh(h @ W)
    return np.sum(h**2)


def made_by_a_helper(W0, x):
    h = layer(W0[:, :3], x)
    normalize_(h)
    return np.sum(h * x)


def made_by_a_helper_in_a_loop(W0, x):
    h = x @ W0
    for _ in range(2):
        normalize_(h)
        h = layer(W, h)
    return np.sum(h**2)


def made_on_both_branches(W0, x):
    if x[0, 0] > 0:
        h = x @ W0
    else:
        h = np.tanh(x) @ W0
    normalize_(h)
    return np.sum(h**2)


def linked_by_hand_then_rebound(W0, x):
    h = x @ W0
    g = h
    g -= g.mean(axis=0)
    h = layer(W, h)
    return np.sum(h**2)


def made_in_a_while_and_a_with(W0, x):
    h = np.tanh(x @ W0)
    while np.sum(h) < 3.0:
        normalize_(h)
        h = h + 0.5
    with np.errstate(all="ignore"):
        normalize_(h)
    return np.sum(h**2)


def test_the_users_program_is_followed():
    check_followed(rebound_by_a_helper, (PARAMS, X.copy()), wrt=(0, 1), hvp=False)


@pytest.mark.parametrize(
    "f",
    [
        rebound_by_a_number,
        rebound_in_a_branch,
        rebound_in_a_loop,
        made_by_a_helper,
        made_by_a_helper_in_a_loop,
        made_on_both_branches,
        linked_by_hand_then_rebound,
        made_in_a_while_and_a_with,
    ],
    ids=lambda f: f.__name__,
)
def test_a_write_is_judged_by_the_binding_it_writes_into(f):
    check_followed(f, (W0.copy(), X.copy()), wrt=(0, 1))
    check_followed(f, (W0.copy(), -X), wrt=(0, 1), hvp=False)  # (the other branch)


@pytest.mark.parametrize(
    "f", [rebound_in_a_branch, made_by_a_helper, rebound_in_a_loop], ids=lambda f: f.__name__
)
def test_forward_mode_follows_the_write(f):
    v = R.standard_normal(X.shape)
    jvp = sg.jvp(f, 1)
    want = (f(W0.copy(), X + 1e-6 * v) - f(W0.copy(), X - 1e-6 * v)) / 2e-6
    for _ in range(3):
        x = X.copy()
        value, tangent = jvp(W0.copy(), x, v)
        assert value == f(W0.copy(), X.copy())
        np.testing.assert_allclose(tangent, want, rtol=1e-5)
        np.testing.assert_array_equal(x, X)  # (a local array written, not the argument)


# ------------------------------------------------------------------ arrays NumPy makes


def made_by_arange(v):
    n = np.arange(3.0)
    bump(n, v[0])
    return np.sum(v * n)


def made_by_linspace(v):
    n = np.linspace(0.0, 1.0, 3)
    bump(n, v[1] ** 2)
    return np.sum(v * n)


def made_by_eye(v):
    m = np.eye(3)
    bump(m, v[2])
    return np.sum(m @ v)


def made_by_full(v):
    n = np.full(3, 2.0)
    bump(n, v[0] * v[1])
    return np.sum(v * n)


def made_by_full_of_a_shape(v):
    m = np.full((3, 3), 0.5)
    bump(m, v[0])
    return np.sum(m @ v)


def made_by_ones_like(v):
    n = np.ones_like(v)
    bump(n, v[2])
    return np.sum(v * n)


def made_by_asarray_of_a_list(v):
    n = np.asarray([1.0, 2.0, 3.0])
    bump(n, v[0])
    return np.sum(v * n)


def made_by_array_of_rows(v):
    m = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    bump(m, v[1])
    return np.sum(m @ v)


MADE = [
    made_by_arange,
    made_by_linspace,
    made_by_eye,
    made_by_full,
    made_by_full_of_a_shape,
    made_by_ones_like,
    made_by_asarray_of_a_list,
    made_by_array_of_rows,
]


@pytest.mark.parametrize("f", MADE, ids=lambda f: f.__name__)
def test_an_array_numpy_makes_is_written_by_a_helper(f):
    check_followed(f, (V.copy(),))


@pytest.mark.parametrize("f", MADE, ids=lambda f: f.__name__)
def test_an_array_numpy_makes_is_written_without_a_guard(f):
    shown = sg.show(f, args=(V.copy(),), callees=False)
    assert "isinstance" not in shown, shown
    assert not re.search(r"^\s*[nm]_\d+ = [nm]$", shown, re.M), shown  # (one name for it)


# ------------------------------------------------------------------ kinds not known


def number_or_array(v):
    if v[0] > 0:
        n = 1.5
    else:
        n = np.ones(3)
    bump(n, v[1])
    return np.sum(v * n)


def number_or_array_by_hand(v):
    if v[0] > 0:
        n = 1.5
    else:
        n = np.ones(3)
    m = n
    m += v[1]
    return np.sum(v * n) + np.sum(m)


def a_number_on_the_next_turn(v):
    n = np.ones(3)
    for k in range(2):
        bump(n, v[k])
        n = np.sum(n * v)
    return n


def test_a_number_bound_on_a_loops_next_turn_is_guarded():
    check_followed(a_number_on_the_next_turn, (V.copy(),))
    check_followed(a_number_on_the_next_turn, (-V,), hvp=False)


@pytest.mark.parametrize("f", [number_or_array, number_or_array_by_hand], ids=lambda f: f.__name__)
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["number", "array"])
def test_a_name_bound_to_a_number_and_to_an_array_is_guarded(f, sign):
    check_followed(f, (V * sign,))
    shown = sg.show(f, args=(V * sign,), callees=False)
    assert "isinstance" in shown, shown  # (the kind is not known when the build is made)


# ------------------------------------------------------------------ shown as written


def _body(f) -> list:
    """The lines of ``f``'s shown gradient, its name and the line comments left out."""
    shown = sg.show(f, args=(PARAMS, X.copy()), callees=False)
    lines = [ln for ln in shown.splitlines() if not ln.strip().startswith("# line")]
    return [ln for ln in lines[1:] if ln.strip()]


def test_the_inlined_helper_is_shown_as_one_writes_it():
    shown = "\n".join(_body(rebound_by_a_helper))
    assert "isinstance" not in shown, shown
    assert "in_place_result" not in shown, shown
    assert not re.search(r"^\s*h_\d+ = h$", shown, re.M), shown  # (one name for `h`)
    assert _body(rebound_by_a_helper) == _body(rebound_by_a_helper_by_hand)


# ------------------------------------------------------------------ still refused


def scale_(n, k):
    n *= k


def a_list_or_an_array(v):
    n = [v[0], v[1]] if v[2] > 0 else np.ones(2) * v[0]
    scale_(n, 2)  # REFUSED
    return np.sum(np.asarray(n)[:2] * v[:2])


def test_a_write_into_what_may_be_a_list_quotes_the_users_text():
    """(a list's ``*=`` repeats its items in place; an array's scales them): the refusal
    quotes the call and the helper's update as the user wrote them, not the names the
    inlining made."""
    hint = "`scale_(n, 2)` runs `n *= k` (scale_(), line"
    way_out = "make scale_() return the new value and assign it (`n = scale_(...)`)"
    for v in (V.copy(), -V):
        check_refusal(a_list_or_an_array, (v,), sg.UnsupportedSyntaxError, hint)
        check_refusal(a_list_or_an_array, (v,), sg.UnsupportedSyntaxError, way_out)
        a_list_or_an_array(v)  # (Python runs it either way)
