"""Differentiating a function that takes ``*args`` or ``**kwargs`` itself (``def loss(params,
*batch)``, ``def loss(w, x, **cfg)``; it was refused: "give every argument a name"): the
gradient, vjp, jvp, HVP and Hessian with respect to its named parameters, on repeated calls,
against central differences; ``wrt`` naming a value of ``*batch`` refused with the way out."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

R = np.random.default_rng(12)
W, X, Y = R.standard_normal(3), R.standard_normal((5, 3)), R.standard_normal(5)


def star_loss(w, *batch):
    x, y = batch
    return np.mean((x @ w - y) ** 2)


def starstar_loss(w, x, **cfg):
    return cfg.get("scale", 1.0) * np.sum(np.tanh(x @ w)) + cfg["l2"] * np.sum(w * w)


def both_loss(params, *batch, reg=0.0, **opts):
    total = 0.0
    for x in batch:
        total = total + np.sum(np.sin(x @ params["W"]))
    return total * opts.get("s", 1.0) + reg * np.sum(params["W"] ** 2)


def _fd(f, w, *args, **kwargs):
    g, e = np.zeros_like(w), 1e-6
    for i in np.ndindex(w.shape):
        up, down = w.copy(), w.copy()
        up[i] += e
        down[i] -= e
        g[i] = (f(up, *args, **kwargs) - f(down, *args, **kwargs)) / (2 * e)
    return g


@pytest.mark.parametrize(
    "f, args, kwargs",
    [(star_loss, (X, Y), {}), (starstar_loss, (X,), {"l2": 0.1, "scale": 2.0})],
    ids=["star", "starstar"],
)
def test_gradient_vjp_jvp_hvp(f, args, kwargs):
    want = _fd(f, W, *args, **kwargs)
    v = R.standard_normal(3)
    for _ in range(3):  # the optimized code runs from the second call on
        value, g = sg.value_and_grad(f)(W, *args, **kwargs)
        assert value == f(W, *args, **kwargs)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
        pulled = sg.vjp(f)(W, *args, 1.0, **kwargs)
        np.testing.assert_allclose(pulled, want, rtol=1e-6, atol=1e-8)
        _, tangent = sg.jvp(f)(W, *args, v, **kwargs)
        np.testing.assert_allclose(tangent, want @ v, rtol=1e-6, atol=1e-8)
    e = 1e-5
    hv_fd = (_fd(f, W + e * v, *args, **kwargs) - _fd(f, W - e * v, *args, **kwargs)) / (2 * e)
    np.testing.assert_allclose(sg.hvp(f)(W, *args, v, **kwargs), hv_fd, rtol=1e-4, atol=1e-5)
    H = sg.hessian(f)(W, *args, **kwargs)
    np.testing.assert_allclose(H @ v, sg.hvp(f)(W, *args, v, **kwargs), rtol=1e-10, atol=1e-12)


def test_positional_rest_keyword_only_and_packed_keywords():
    params = {"W": R.standard_normal((3, 2))}
    kwargs = {"reg": 0.3, "s": 0.5}
    want = _fd(lambda w, *a, **k: both_loss({"W": w}, *a, **k), params["W"], X, X * 2, **kwargs)
    for _ in range(3):
        value, g = sg.value_and_grad(both_loss)(params, X, X * 2, **kwargs)
        assert value == both_loss(params, X, X * 2, **kwargs)
        np.testing.assert_allclose(g["W"], want, rtol=1e-6, atol=1e-8)
    no_batch = sg.grad(both_loss)(params, reg=0.3)  # an empty *batch
    np.testing.assert_allclose(no_batch["W"], 0.6 * params["W"])


def test_wrt_naming_a_value_of_star_args_is_refused():
    with pytest.raises(sg.WrtTypeError, match=r"names a value of star_loss\(\)'s \*batch") as e:
        sg.grad(star_loss, 1)(W, X, Y)
    assert e.value.filename == __file__


def test_show_and_export_take_the_arguments_as_the_function_does(tmp_path):
    """The build shown and exported is the one for the call as written: ``batch`` packed (it
    was built for ``batch`` = ``X``, ``x`` = ``X[0]``: a wrong product in the shown code)."""
    from .test_export import run_isolated, same

    shown = sg.show(star_loss, args=(W, X, Y))
    assert "x.T @" in shown
    text = sg.export(star_loss, W, X, Y)
    assert "def d_star_loss(*args, **kwargs):" in text
    got = run_isolated(tmp_path, text, "d_star_loss", (W, X, Y))
    assert same(got, sg.value_and_grad(star_loss)(W, X, Y))
    with pytest.raises(sg.SourcegradError, match="its gradient exports"):
        sg.export(star_loss, W, X, Y, np.ones(3), mode="forward")
