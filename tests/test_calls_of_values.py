"""Calls of function values the derivative finds when it runs: a layer object's ``__call__``,
a bound method, a NumPy function kept in a list, a dict or an attribute. First order on the
first three calls, and the Hessian-vector product."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 3))
PARAMS = [
    {"W": RNG.standard_normal((3, 4)), "b": RNG.standard_normal(4)},
    {"W": RNG.standard_normal((4, 2)), "b": RNG.standard_normal(2)},
]


def softplus(z):
    return np.log1p(np.exp(z))


class Dense:
    def __init__(self, act):
        self.act = act

    def forward(self, p, h):
        return self.act(h @ p["W"] + p["b"])

    def __call__(self, p, h):
        return self.forward(p, h)


class Model:
    def __init__(self):
        self.layers = [Dense(np.tanh), Dense(softplus)]

    def loss(self, params, x):
        h = x
        for layer, p in zip(self.layers, params):
            h = layer(p, h)
        return np.sum(h**2)


MODEL = Model()


def through_forward(params, x, model):
    h = x
    for layer, p in zip(model.layers, params):
        h = layer.forward(p, h)
    return np.sum(h**2)


def activations_from_a_list(params, x):
    h = x
    for act, p in zip([np.tanh, softplus], params):
        h = act(h @ p["W"] + p["b"])
    return np.sum(h**2)


def function_from_a_dict(params, x, fns):
    h = fns["act"](x @ params[0]["W"] + params[0]["b"])
    return np.sum(h**2)


LAYER = Dense(np.tanh)
FORWARD = Dense(softplus).forward


def module_level_objects(params, x):
    return np.sum(FORWARD(params[1], LAYER(params[0], x)) ** 2)


CASES = [
    ("objects in globals", module_level_objects, ()),
    ("bound method", MODEL.loss, ()),
    ("layer.forward", through_forward, (MODEL,)),
    ("ufunc from a list", activations_from_a_list, ()),
    ("ufunc from a dict", function_from_a_dict, ({"act": np.tanh},)),
]


def numerical(f, rest, eps=1e-6):
    out = []
    for p in PARAMS:
        for k in p:
            a = p[k]
            g = np.zeros_like(a)
            for idx in np.ndindex(a.shape):
                old = a[idx]
                a[idx] = old + eps
                up = f(PARAMS, X, *rest)
                a[idx] = old - eps
                down = f(PARAMS, X, *rest)
                a[idx] = old
                g[idx] = (up - down) / (2 * eps)
            out.append(g)
    return out


def flat(tree):
    return [p[k] for p in tree for k in p]


@pytest.mark.parametrize("name,f,rest", CASES, ids=[c[0] for c in CASES])
def test_gradient_on_every_call(name, f, rest):
    want = numerical(f, rest)
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, got = df(PARAMS, X, *rest)
        assert value == pytest.approx(f(PARAMS, X, *rest), rel=1e-12)
        for g, w in zip(flat(got), want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name,f,rest", CASES, ids=[c[0] for c in CASES])
def test_hessian_vector_product(name, f, rest):
    v = [{k: RNG.standard_normal(p[k].shape) for k in p} for p in PARAMS]
    got = sg.hvp(f)(PARAMS, X, *rest, v)
    g = sg.grad(f, optimize=False)
    eps = 1e-5
    plus = g([{k: p[k] + eps * d[k] for k in p} for p, d in zip(PARAMS, v)], X, *rest)
    minus = g([{k: p[k] - eps * d[k] for k in p} for p, d in zip(PARAMS, v)], X, *rest)
    for h, a, b in zip(flat(got), flat(plus), flat(minus)):
        np.testing.assert_allclose(h, (a - b) / (2 * eps), rtol=1e-4, atol=1e-6)


def test_a_compiled_function_without_a_rule_is_refused_with_the_way_out():
    def loss(w, fns):
        return np.sum(fns[0](w))

    with pytest.raises(sg.SourcegradError, match="defvjp"):
        sg.grad(loss)(np.array([0.5, 1.0]), [np.frexp])


def test_a_function_of_an_installed_package_needs_a_rule(tmp_path, monkeypatch):
    """A third-party function is never transformed from its source (its internals are not the
    user's to review, and may use anything): the refusal names the user's call and the way
    out."""
    import importlib
    import os
    import sys

    from .internals import parse_module as parse

    (tmp_path / "thirdparty_scale.py").write_text("def scale(x):\n    return 2.0 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(parse, "_INSTALLED", (os.path.realpath(tmp_path) + os.sep,))
    module = importlib.import_module("thirdparty_scale")
    try:

        def loss(w):
            return np.sum(module.scale(w))

        with pytest.raises(sg.NoRuleError) as info:
            sg.grad(loss)(np.array([1.0, 2.0]))
        assert "test_calls_of_values.py" in str(info.value) and "defvjp" in str(info.value)
    finally:
        sys.modules.pop("thirdparty_scale", None)
