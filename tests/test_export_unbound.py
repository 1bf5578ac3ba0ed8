"""A function value bound to nothing that varies (``act = pick(params)``, a plain function a
helper returns, called as ``act(h)``: ``vjp_of(act, ("self", 0))``) in an export: the export's
``Unbound`` and forward mode over it (``Unbound.jvp``, order 2) mirror
:mod:`sourcegrad.function_values`' ``_Unbound`` and ``_UnboundJvp``, and forward mode over the
helper's vjp along a tangent seen to be zero when it runs (the function's "gradient", None) is
narrowed as in process (``Narrowed``). Order 3 through it is forward mode over ``_UnboundJvp``
(``ForwardOver``, the receiver's part None) and over ``_Unbound``'s jvp, in process and in the
export (``UnboundOverJvp``, forward mode over ``Narrowed``). Each export runs by ``python -I
-S`` with only NumPy and gives the in-process numbers bit for bit; the derivatives agree with
central differences. Order 4 through it is refused at the user's line."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from .fd import numerical_grad
from .test_export import run_isolated, same, steady


def my_sin(z):
    return np.sin(z) * z


def my_tanh(z):
    return np.tanh(z)


def pick(params):
    return my_sin if params["W"].shape[0] > 2 else my_tanh


def picked_loss(params, x):
    act = pick(params)
    h = act(x @ params["W"])
    return np.sum(h**2)


def _args():
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((3, 4))}, rng.standard_normal((5, 3))


def _direction():
    return {"W": np.random.default_rng(3).standard_normal((3, 4))}


def test_the_derivatives_are_right_on_calls_one_to_three():
    params, x = _args()
    v, e = _direction(), 1e-5
    g, hv = sg.value_and_grad(picked_loss), sg.hvp(picked_loss)
    want = numerical_grad(lambda w: picked_loss({"W": w}, x), (params["W"],), 0)
    plus = sg.grad(picked_loss)({"W": params["W"] + e * v["W"]}, x)["W"]
    minus = sg.grad(picked_loss)({"W": params["W"] - e * v["W"]}, x)["W"]
    for _ in range(3):
        value, got = g(params, x)
        assert value == picked_loss(params, x)
        np.testing.assert_allclose(got["W"], want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(hv(params, x, v)["W"], (plus - minus) / (2 * e), rtol=1e-5)


@pytest.mark.parametrize("order", [1, 2])
def test_a_varying_function_value_bound_to_nothing_exports_bit_for_bit(order, tmp_path):
    args = _args()
    if order == 1:
        text, extra, ref = sg.export(picked_loss, *args), (), sg.value_and_grad(picked_loss)
    else:
        text, extra, ref = (
            sg.export(picked_loss, *args, order=2),
            (_direction(),),
            sg.hvp(picked_loss),
        )
        assert "Narrowed(" in text and "UnboundJvp(" in text
    assert 'vjp_of(act, ("self", 0))' in text
    got = run_isolated(tmp_path, text, "d_picked_loss", (*args, *extra))
    assert same(got, steady(ref, *args, *extra)), got


def test_order_3_is_right_on_calls_one_to_three():
    """The third derivative along v agrees with central differences of ``sg.hvp`` along v."""
    params, x = _args()
    v, e = _direction(), 1e-5
    hv = sg.hvp(picked_loss)
    plus = hv({"W": params["W"] + e * v["W"]}, x, v)["W"]
    minus = hv({"W": params["W"] - e * v["W"]}, x, v)["W"]
    levels = tower(picked_loss, (), [0, 0], (0,))
    for _ in range(3):
        got = levels.evaluate((params, x), (v, v))["W"]
        np.testing.assert_allclose(got, (plus - minus) / (2 * e), rtol=1e-5, atol=1e-6)


def test_order_3_exports_bit_for_bit(tmp_path):
    args, v = _args(), _direction()
    text = sg.export(picked_loss, *args, order=3)
    assert 'vjp_of(act, ("self", 0))' in text
    got = run_isolated(tmp_path, text, "d_picked_loss", (*args, v))
    levels = tower(picked_loss, (), [0, 0], (0,))
    for _ in range(3):
        want = levels.evaluate(args, (v, v))
    assert same(got, want), (got, want)


def test_order_4_through_it_is_refused_at_the_users_call():
    args = _args()
    with pytest.raises(sg.SourcegradError, match="order 4 or more through a layer object") as e:
        sg.export(picked_loss, *args, order=4)
    call = picked_loss.__code__.co_firstlineno + 2  # h = act(x @ params["W"])
    assert (e.value.filename, e.value.lineno) == (__file__, call)
