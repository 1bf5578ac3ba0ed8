"""Mixed partials taken inside a loss (``sg.grad(sg.grad(mixed), wrt=1)(a, b)``, issue 17):
along the other argument, in the other order, along ``wrt=(1,)`` (a tuple of one) and along
``wrt=(0, 1)`` (both partials at once, a tuple). The gradient agrees with central differences
of the loss, the Hessian-vector product with central differences of the gradient, on calls 1
to 3; each exports at orders 1, 2 and 3 and runs by ``python -I -S`` with only NumPy, giving
``sg.value_and_grad``'s and the tower's numbers bit for bit. A gradient along several
arguments and an ``sg.hvp`` taken inside are refused, in process and by the export, at the
line that takes them."""

import re

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower
from tests.fd import numerical_grad
from tests.test_export import run_isolated, same, steady
from tests.test_inner_grad_defaults import mixed, mixed_partial_inside


def other_order_inside(x):
    return np.sum(np.cos(x) * sg.grad(sg.grad(mixed, wrt=1))(x[0] * 1.0, x[1] * 1.0))


def tuple_of_one_inside(x):
    (g,) = sg.grad(sg.grad(mixed), wrt=(1,))(x[0] * 1.0, x[1] * 1.0)
    return np.sum(np.sin(x) * g)


def both_partials_inside(x):
    ga, gb = sg.grad(sg.grad(mixed), wrt=(0, 1))(x[0] * 1.0, x[1] * 1.0)
    return np.sum(np.sin(x) * ga) + np.sum(x**2) * gb


def gradient_along_both_inside(x):
    ga, gb = sg.grad(mixed, wrt=(0, 1))(x[0] * 1.0, x[1] * 1.0)
    return np.sum(np.sin(x) * ga * gb)


def cubic_form(z):
    return np.sum(z**3) + np.sum(np.sin(z))


def hvp_inside(x):
    return np.sum(np.sin(x) * sg.hvp(cubic_form)(x * 1.0, np.cos(x)))


X = np.array([0.3, -1.2, 2.0])
V = np.array([0.7, 0.4, -1.1])
CASES = [mixed_partial_inside, other_order_inside, tuple_of_one_inside, both_partials_inside]


@pytest.mark.parametrize("f", CASES)
def test_gradient_and_hessian_vector_product_on_calls_one_to_three(f):
    df, hv, e = sg.grad(f), sg.hvp(f), 1e-5
    want = numerical_grad(f, (X,), 0)
    want_hv = (df(X + e * V) - df(X - e * V)) / (2 * e)
    for _ in range(3):
        np.testing.assert_allclose(df(X), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(hv(X, V), want_hv, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", CASES)
@pytest.mark.parametrize("order", [1, 2, 3])
def test_it_exports_bit_for_bit(f, order, tmp_path):
    if order == 1:
        text, extra, want = sg.export(f, X), (), steady(sg.value_and_grad(f), X)
    else:
        text, extra = sg.export(f, X, order=order), (V,)
        levels = tower(f, (), [0] * (order - 1), (0,))
        for _ in range(3):
            want = levels.evaluate((X,), (V,) * (order - 1))
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (X, *extra))
    assert same(got, want), (got, want)


def test_both_partials_are_read_from_one_run_of_the_order_2_derivative():
    """``grad(grad(mixed), wrt=(0, 1))``: the stand-in picks both tangents of one run."""
    text = sg.export(both_partials_inside, X)
    assert "    grads = run_grad_grad_mixed(a, b, ta=1.0)\n    return (grads[0], grads[1])\n" in (
        text
    )


@pytest.mark.parametrize(
    "f, message",
    [
        (gradient_along_both_inside, "use one gradient per argument"),
        (hvp_inside, "the sg.hvp() of cubic_form, is called inside a function being"),
    ],
)
@pytest.mark.parametrize("how", ["grad", "export"])
def test_what_is_not_differentiated_inside_is_refused_at_its_line(f, message, how):
    with pytest.raises(sg.SourcegradError, match=re.escape(message)) as info:
        sg.grad(f)(X) if how == "grad" else sg.export(f, X)
    line = f.__code__.co_firstlineno + 1
    assert (info.value.filename, info.value.lineno) == (__file__, line)
