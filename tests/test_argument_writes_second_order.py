"""Second derivatives of a loss that writes in place into its own arguments (``x[0] = v``,
``params["W"] -= v``, ``hs.append(h)``, a running mean kept in a dict): ``hvp``, ``hessian``
and ``jvp(grad(f))`` are those of the function of the arguments' values on entry, checked
against central differences of the (already checked) gradient, and after every call (the
first three: the optimized build runs from the second) the caller's objects hold exactly what
one run of Python's function leaves in them. A gradient called inside a function being
differentiated runs again in that function's derivative: its writes back are refused there."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import assert_tree_close
from .test_argument_writes_mirrored import assert_same_state

R = np.random.default_rng(77)
CALLS = 3


def item_written(x, y):
    x[0] = np.sin(x[1]) * y[0]
    return np.sum(x**2 * y)


def dict_updated(x, params):
    params["W"] -= 0.1 * np.outer(x, x)
    params["steps"] = params["steps"] + 1
    return np.sum(np.tanh(x @ params["W"]))


def appended(x, hs):
    hs.append(np.tanh(x))
    return np.sum(hs[-1] ** 2) + np.sum(x**3)


def running_mean(x, bn):
    bn["m"] = 0.9 * bn["m"] + 0.1 * np.mean(x)
    x += 1.0
    return np.sum(np.sin(x) * bn["m"])


X = R.standard_normal(3)
PROGRAMS = [
    (item_written, lambda: (X.copy(), np.array([0.5, -1.5, 2.0]))),
    (dict_updated, lambda: (X.copy(), {"W": np.eye(3) + 0.1, "steps": 0})),
    (appended, lambda: (X.copy(), [np.ones(3)])),
    (running_mean, lambda: (X.copy(), {"m": np.array(0.5)})),
]
IDS = [f.__name__ for f, _ in PROGRAMS]


def expected_hvp(f, make, v, eps=1e-5):
    """Central differences of the gradient along ``v``, each on fresh arguments."""
    grad = sg.grad(f)

    def at(s):
        args = make()
        args = (args[0] + s * v, *args[1:])
        return grad(*args)

    return (at(eps) - at(-eps)) / (2 * eps)


def python_leaves(f, make):
    plain = make()
    f(*plain)
    return list(plain)


@pytest.mark.parametrize(("f", "make"), PROGRAMS, ids=IDS)
def test_hvp(f, make):
    v = R.standard_normal(3)
    want = expected_hvp(f, make, v)
    hf = sg.hvp(f)
    for call in range(CALLS):
        args = make()
        got = hf(*args, v)
        assert_tree_close(got, want, 1e-5, 1e-6, f"hvp, call {call}")
        assert_same_state(list(args), python_leaves(f, make), f"hvp, call {call}")


@pytest.mark.parametrize(("f", "make"), PROGRAMS, ids=IDS)
def test_jvp_of_the_gradient(f, make):
    v = R.standard_normal(3)
    want = expected_hvp(f, make, v)
    want_grad = sg.grad(f)(*make())
    jf = sg.jvp(sg.grad(f), 0)
    for call in range(CALLS):
        args = make()
        grad, tangent = jf(*args, v)
        assert_tree_close(tangent, want, 1e-5, 1e-6, f"jvp, call {call}")
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-12)
        assert_same_state(list(args), python_leaves(f, make), f"jvp, call {call}")


@pytest.mark.parametrize(("f", "make"), PROGRAMS, ids=IDS)
def test_hessian(f, make):
    want = np.stack([expected_hvp(f, make, e) for e in np.eye(3)], axis=-1)
    hf = sg.hessian(f)
    for call in range(CALLS):
        args = make()
        assert_tree_close(hf(*args), want, 1e-5, 1e-6, f"hessian, call {call}")
        assert_same_state(list(args), python_leaves(f, make), f"hessian, call {call}")


def test_a_hessian_of_a_float_argument_writes_back_once():
    def scaled(s, hs):
        hs.append(s)
        return s**3 * len(hs)

    hs, plain = [], []
    for k in range(CALLS):
        got = sg.hessian(scaled)(1.5, hs)
        scaled(1.5, plain)
        assert got == pytest.approx(6 * 1.5 * (k + 1)) and hs == plain


def gradient_inside(x, bn):
    g = sg.grad(running_mean)(x, bn)
    return np.sum(g * g)


def test_a_gradient_writing_back_called_inside_a_differentiated_function_is_refused():
    """The function's derivative runs the gradient in its forward sweep and forward mode over
    it in its adjoint sweep, which would write back into the caller's objects a second time:
    refused there, the objects holding what the forward sweep's one run left (Python's)."""
    make = PROGRAMS[3][1]
    x, bn = make()
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(gradient_inside)(x, bn)
    assert "copy the arguments first" in str(info.value)
    assert "test_argument_writes_second_order.py:" in str(info.value)
    assert_same_state([x, bn], python_leaves(gradient_inside, make))


@pytest.mark.parametrize(("f", "make"), PROGRAMS, ids=IDS)
def test_the_exported_hvp(f, make):
    module: dict = {}
    exec(compile(sg.export(f, *make(), order=2), "exported", "exec"), module)
    v = R.standard_normal(3)
    want = expected_hvp(f, make, v)
    for call in range(CALLS):
        args = make()
        got = module["d_" + f.__name__](*args, v)
        assert_tree_close(got, want, 1e-5, 1e-6, f"exported hvp, call {call}")
        assert_same_state(list(args), python_leaves(f, make), f"exported hvp, call {call}")
