"""Arguments holding settings rather than arrays: a NumPy scalar class (``np.float32``) or a
dtype in a config object or dict. Their ``.shape``/``.dtype`` are descriptors, not an
array's; the call signature raised ``TypeError`` from inside sourcegrad on them."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg


class Config:
    def __init__(self, precision, dt, scale):
        self.precision = precision
        self.dt = dt
        self.scale = scale


def rounded_loss(w, cfg):
    v = (w * cfg.scale).astype(cfg.precision).astype(cfg.dt)
    return np.sum(v * v) + np.sum(w**3)


def dict_loss(w, settings):
    v = w.astype(settings["dtype"]) * settings["scale"]
    return np.sum(np.sin(v).astype(np.float64))


def _numeric(f, w, *rest, eps=1e-6):
    g = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e.flat[i] = eps
        g.flat[i] = (f(w + e, *rest) - f(w - e, *rest)) / (2 * eps)
    return g


@pytest.mark.parametrize(
    "cfgs",
    [
        [Config(np.float64, np.dtype("float64"), 2.0)] * 3,
        [Config(c, np.dtype(d), 1.5) for c, d in [(np.float64, "f8"), (np.float32, "f8")] * 2],
    ],
)
def test_an_object_holding_a_scalar_class_and_a_dtype(cfgs):
    w = np.linspace(-1.0, 1.0, 5)
    value_and_grad = sg.value_and_grad(rounded_loss)
    for cfg in cfgs:
        value, g = value_and_grad(w, cfg)
        assert value == rounded_loss(w, cfg)
        if cfg.precision is np.float64:
            np.testing.assert_allclose(g, _numeric(rounded_loss, w, cfg), rtol=1e-6)
        else:  # the float32 round trip is the identity's derivative
            np.testing.assert_allclose(g, 2 * 1.5**2 * w + 3 * w**2, rtol=1e-6)


def test_a_dict_holding_a_dtype_switched_between_calls():
    w = np.linspace(-1.0, 1.0, 4)
    grad = sg.grad(dict_loss)
    for dtype in ["float64", "float32", "float64", "float32", "float64"]:
        settings = {"dtype": np.dtype(dtype), "scale": 0.5}
        g = grad(w, settings)
        want = 0.5 * np.cos((w.astype(dtype) * 0.5).astype(np.float64))
        np.testing.assert_allclose(g, want, rtol=1e-6)
        assert sg.value_and_grad(dict_loss)(w, settings)[0] == dict_loss(w, settings)
