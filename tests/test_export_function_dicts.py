"""A global dict of the user's functions (``ACTS = {"tanh": my_tanh, "relu": my_relu}``, read as
``ACTS[name](h)`` in the loss) in an export (issue 17): the dict is written with the functions
copied and read by their names, and the derivative's ``vjp_of`` / ``jvp_of`` find their builds,
in reverse and forward mode and at orders 2 and 3 (the loss takes a default, ``name="tanh"``).
Each export runs by ``python -I -S`` with only NumPy and gives the in-process numbers bit for
bit; the derivatives are checked against central differences (calls 1 to 3). A lambda in such
a dict is refused at the line that reads the dict, with the way out."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from .fd import numerical_grad
from .test_export import run_isolated, same, steady


def my_tanh(z):
    return np.tanh(z) * 1.5


def my_softplus(z):
    return np.log1p(np.exp(z))


ACTS = {"tanh": my_tanh, "softplus": my_softplus}
SQUARES = {"square": lambda z: z * z}


def act_loss(params, x, name="tanh"):
    h = ACTS[name](x @ params["W"])
    return np.sum(ACTS["softplus"](h) ** 2)


def lambda_dict_loss(params, x):
    return np.sum(SQUARES["square"](x @ params["W"]))


def _args():
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((3, 4)) / 2}, rng.standard_normal((5, 3))


def _direction():
    return {"W": np.random.default_rng(3).standard_normal((3, 4))}


def test_the_loss_reads_its_functions_from_the_dict():
    """The value is Python's and the gradient central differences', calls 1 to 3."""
    params, x = _args()
    df = sg.value_and_grad(act_loss)
    want = numerical_grad(lambda w: act_loss({"W": w}, x), (params["W"],), 0)
    for _ in range(3):
        value, g = df(params, x)
        assert value == act_loss(params, x)
        np.testing.assert_allclose(g["W"], want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["reverse", "forward", "order 2", "order 3"])
def test_a_global_dict_of_functions_exports_bit_for_bit(mode, tmp_path):
    args, v = _args(), _direction()
    if mode == "reverse":
        text, extra, ref = sg.export(act_loss, *args), (), sg.value_and_grad(act_loss)
    elif mode == "forward":
        text, extra, ref = sg.export(act_loss, *args, mode="forward"), (v,), sg.jvp(act_loss)
    elif mode == "order 2":
        text, extra, ref = sg.export(act_loss, *args, order=2), (v,), sg.hvp(act_loss)
    else:
        levels = tower(act_loss, (), [0, 0], (0,))
        text, extra = sg.export(act_loss, *args, order=3), (v,)
        ref = lambda *a: levels.evaluate(a[:-1], (a[-1], a[-1]))  # noqa: E731
    assert "import sourcegrad" not in text
    assert 'ACTS = {"tanh": my_tanh, "softplus": my_softplus}' in text
    got = run_isolated(tmp_path, text, "d_act_loss", (*args, *extra))
    assert same(got, steady(ref, *args, *extra)), got


def test_the_hvp_through_the_dict_is_right():
    params, x = _args()
    v, e = _direction(), 1e-5
    g = sg.grad(act_loss)
    fd = g({"W": params["W"] + e * v["W"]}, x)["W"] - g({"W": params["W"] - e * v["W"]}, x)["W"]
    hv = sg.hvp(act_loss)
    for _ in range(3):
        np.testing.assert_allclose(hv(params, x, v)["W"], fd / (2 * e), rtol=1e-5, atol=1e-7)


def test_a_lambda_in_a_global_dict_is_refused_where_the_dict_is_read():
    args = _args()
    assert np.isfinite(sg.grad(lambda_dict_loss)(*args)["W"]).all()
    with pytest.raises(sg.SourcegradError, match="lambda.*def at its module's top level") as e:
        sg.export(lambda_dict_loss, *args)
    assert e.value.filename == __file__
    assert e.value.lineno == lambda_dict_loss.__code__.co_firstlineno + 1
