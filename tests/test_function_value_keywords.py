"""Function values called with keyword arguments, and nested functions taking ``**kwargs``
(issue 14): bound to their parameters as Python binds them (``inspect.signature(fn).bind``),
defaults and keyword-only parameters included. Each program is written the way people write
models: the value is Python's own, bit for bit, on calls 1-3 (the optimized code runs from the
second call on); the gradient agrees with central differences in float64; ``gradcheck(...,
order=2)`` checks forward mode and the Hessian-vector product too."""

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg

from . import refusal_cases
from .fd import numerical_grad

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 4))
W = 0.5 * RNG.normal(size=(4, 4))
B = 0.1 * RNG.normal(size=4)
S = 0.7


# ------------------------------------------------------------------ activation callables


def leaky_relu(z, *, alpha=0.01):
    return np.where(z > 0, z, alpha * z)


def soft(z, beta=1.0, *, shift=0.0):
    return np.log1p(np.exp(beta * z)) / beta + shift


ACTIVATIONS = {"leaky": leaky_relu, "soft": soft, "tanh": np.tanh}
PLAN = [("leaky", {"alpha": 0.1}), ("soft", {"beta": 2.0}), ("tanh", {})]


def layers_of_a_dict(W, x):
    h = x
    for name in ("leaky", "soft"):
        act = ACTIVATIONS[name]
        h = act(h @ W, beta=1.5) if name == "soft" else act(h @ W, alpha=0.2)
    return np.sum(h * h)


def keyword_only_and_default(W, x):
    act = ACTIVATIONS["soft"]
    h = act(x @ W, shift=0.5)  # beta from its default, shift keyword-only
    return np.sum(np.tanh(h) ** 2)


def closure_with_a_differentiated_keyword(W, x, s):
    def scale(v, *, by=1.0, shift=0.0):
        return v * by + shift

    h = scale(x @ W, by=s, shift=0.1)
    return np.sum(np.tanh(h) ** 2)


def lambda_with_defaults(W, x, s):
    f = lambda z, a=0.5, b=2.0: a * np.sin(b * z)  # noqa: E731
    h = f(x @ W, b=s)
    return np.sum(h * h) + np.sum(f(h, a=s))


def kwargs_helper_nested_in_the_loss(W, x, s):
    def helper(v, **kw):
        return v * kw["gain"] + kw.get("bias", 0.0)

    h = helper(x @ W, gain=s, bias=0.3)
    return np.sum(np.tanh(h) ** 2) + np.sum(helper(h, gain=2.0))


def varargs_and_keyword_only_nested(W, x, s):
    def combine(*vs, weight=1.0, **extra):
        return weight * sum(np.sin(v) for v in vs) + extra.get("offset", 0.0)

    h = x @ W
    return np.sum(combine(h, h * s, weight=s, offset=1.0) ** 2)


def nested_positional_as_keyword(W, x, s):
    def dense(p, v, scale=1.0):
        return np.tanh(v @ p * scale)

    h = dense(v=x, p=W, scale=s)  # every argument by name, in another order
    return np.sum(h * h)


def _module_kwargs(v, **kw):
    return v * kw["gain"] + kw.get("bias", 0.0)


def module_level_kwargs_helper(W, x, s):
    h = _module_kwargs(x @ W, gain=s, bias=0.5)
    return np.sum(np.tanh(h) ** 2)


@dataclasses.dataclass
class Dense:
    """A layer object with a keyword parameter, holding its weights."""

    W: np.ndarray
    b: np.ndarray

    def __call__(self, x, training=False, *, dropout_scale=1.0):
        h = x @ self.W + self.b
        return np.tanh(h) * (dropout_scale if training else 1.0)


@dataclasses.dataclass
class Model:
    layers: list
    act = staticmethod(leaky_relu)

    def loss(self, x):
        h = x
        for layer in self.layers:
            h = self.act(layer(h, training=True, dropout_scale=0.9), alpha=0.3)
        return np.sum(h * h)


def model_of_layer_objects(model, x):
    return model.loss(x)


def layer_objects_taking_params(params, x):
    h = x
    for layer in STATELESS:
        h = layer(params, h, training=True)
    return np.sum(h**2)


class Stateless:
    def __init__(self, key):
        self.key = key

    def __call__(self, params, x, training=False):
        h = x @ params[self.key]
        return np.tanh(h) if training else h


STATELESS = [Stateless("a"), Stateless("b")]


def partial_with_keywords(W, x, s):
    act = functools.partial(soft, shift=1.0)
    h = act(x @ W, beta=s)  # beta by keyword, shift from the partial
    return np.sum(h * h)


def rule_function_with_keywords(W, x):
    reducers = {"sum": np.sum, "mean": np.mean}
    red = reducers["mean"]
    h = np.tanh(x @ W)
    return np.sum(red(h * h, axis=0, keepdims=True) ** 2)


def method_value_with_keywords(W, x, s):
    m = Model([])
    return np.sum(m.act(x @ W, alpha=s) ** 2)


def lambdas_in_a_loop(W, x):
    acts = [lambda z, a=1.0: np.tanh(a * z), lambda z, a=1.0, *, b=0.0: np.sin(a * z) + b]
    h = x
    for act in acts:
        h = act(h @ W, a=0.5)
    return np.sum(h * h)


def kwargs_nested_def_made_in_a_loop(W, x):
    h = x
    for k in range(3):

        def step(v, m, *, scale=1.0, **kw):
            return np.tanh(v @ m * scale) + kw.get("shift", 0.0) * k  # noqa: B023

        h = step(h, W, scale=0.9, shift=0.1)
    return np.sum(h * h)


def kwargs_lambda(W, x, s):
    f = lambda v, **kw: v * kw["s"] + kw.get("t", 0.0)  # noqa: E731
    return np.sum(np.tanh(f(x @ W, s=s, t=0.5)) ** 2)


LAYER = Dense(W, B)


def partials_with_keywords_overridden(W, x, s):
    reduce = functools.partial(np.mean, axis=0)  # a function with a rule, through a partial
    act = functools.partial(soft, beta=2.0, shift=0.5)
    h = act(x @ W, beta=s)  # the call's beta wins over the partial's
    return np.sum(reduce(h * h, keepdims=True) ** 2)


def global_layer_object(W, x):
    return np.sum(LAYER(x @ W, training=True) ** 2)


CASES = [
    (lambdas_in_a_loop, (W, X)),
    (kwargs_nested_def_made_in_a_loop, (W, X)),
    (kwargs_lambda, (W, X, S)),
    (global_layer_object, (W, X)),
    (partials_with_keywords_overridden, (W, X, S)),
    (layers_of_a_dict, (W, X)),
    (keyword_only_and_default, (W, X)),
    (closure_with_a_differentiated_keyword, (W, X, S)),
    (lambda_with_defaults, (W, X, S)),
    (kwargs_helper_nested_in_the_loss, (W, X, S)),
    (varargs_and_keyword_only_nested, (W, X, S)),
    (nested_positional_as_keyword, (W, X, S)),
    (module_level_kwargs_helper, (W, X, S)),
    (layer_objects_taking_params, ({"a": W, "b": 0.5 * W}, X)),
    (partial_with_keywords, (W, X, S)),
    (rule_function_with_keywords, (W, X)),
    (method_value_with_keywords, (W, X, S)),
]
IDS = [f.__name__ for f, _ in CASES]


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    return [np.asarray(tree, dtype=np.float64)]


@pytest.mark.parametrize("f,args", CASES, ids=IDS)
def test_value_and_gradient_on_calls_one_to_three(f, args):
    wrt = tuple(range(len(args))) if isinstance(args[-1], float) else (0,)
    df = sg.value_and_grad(f, wrt)
    for _ in range(3):  # the optimized code runs from the second call on
        value, grads = df(*args)
        assert value == f(*args)
    for i, g in zip(wrt, grads):
        if isinstance(args[i], dict):
            for key in args[i]:
                part = lambda v, k=key, a=args: f({**a[0], k: v}, *a[1:])  # noqa: E731
                np.testing.assert_allclose(
                    g[key], numerical_grad(part, (args[i][key],), 0), rtol=1e-5, atol=1e-7
                )
            continue
        np.testing.assert_allclose(g, numerical_grad(f, args, i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f,args", CASES, ids=IDS)
def test_second_order(f, args):
    assert sg.gradcheck(f, *args, order=2)
    if isinstance(args[-1], float):
        assert sg.gradcheck(f, *args, wrt=len(args) - 1, order=2)


def _model():
    layers = [Dense(W, B), Dense(0.5 * W, -B)]
    return Model(layers)


def test_layer_objects_called_with_keywords_differentiate_their_weights():
    model = _model()
    df = sg.value_and_grad(model_of_layer_objects)
    for _ in range(3):
        value, grads = df(model, X)
        assert value == model_of_layer_objects(model, X)
    for k, layer in enumerate(model.layers):
        for field in ("W", "b"):

            def moved(v, k=k, field=field):
                m = _model()
                setattr(m.layers[k], field, v)
                return model_of_layer_objects(m, X)

            expected = numerical_grad(moved, (getattr(layer, field),), 0)
            np.testing.assert_allclose(
                getattr(grads.layers[k], field), expected, rtol=1e-5, atol=1e-7
            )
    assert sg.gradcheck(model_of_layer_objects, model, X, wrt=1, order=2)
    assert sg.gradcheck(model_of_layer_objects, model, X, wrt=0, order=2)  # the layers' own


def unknown_keyword(W, x):
    act = ACTIVATIONS["leaky"]
    return np.sum(act(x @ W, slope=0.1))


def missing_argument(W, x):
    f = lambda z, a: z * a  # noqa: E731
    return np.sum(f(x @ W))


@pytest.mark.parametrize("f", [unknown_keyword, missing_argument])
def test_a_call_that_does_not_bind_raises_pythons_type_error(f):
    with pytest.raises(TypeError) as python:
        f(W, X)
    with pytest.raises(TypeError) as ours:
        sg.grad(f)(W, X)
    # the same complaint (a lambda remade in the generated code has a longer qualified name),
    # with a note naming the user's line
    assert str(ours.value).split("()")[-1] == str(python.value).split("()")[-1]
    line = f.__code__.co_firstlineno + 2
    assert f"test_function_value_keywords.py:{line}:" in " ".join(ours.value.__notes__)


def test_new_closures_of_the_same_code_read_their_own_keyword_defaults():
    def make(gain):
        def loss(w, x):
            def scaled(v, *, by=gain, **kw):
                return v * by + kw.get("bias", 0.0)

            return np.sum(np.tanh(scaled(x @ w, bias=0.2)) ** 2)

        return loss

    for gain in (2.0, -0.5, 3.0):
        f = make(gain)
        df = sg.value_and_grad(f)
        for _ in range(3):
            value, g = df(W, X)
            assert value == f(W, X)
        np.testing.assert_allclose(g, numerical_grad(f, (W, X), 0), rtol=1e-5, atol=1e-7)


def test_the_kwargs_nested_def_once_refused_differentiates():
    f, x = refusal_cases.calls_helper, np.array([0.5, -1.0, 2.0])
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, g = df(x)
        assert value == f(x)
    np.testing.assert_allclose(g, numerical_grad(f, (x,), 0), rtol=1e-5, atol=1e-7)


def calls_a_derivative_by_keyword(W, x):
    g = sg.grad(lambda w, s=1.0: np.sum(np.sin(w * s)))
    return np.sum(g(W, s=2.0) * W)  # REFUSED


def test_a_derivative_called_by_keyword_is_refused_naming_the_line():
    with pytest.raises(sg.SourcegradError, match="pass its arguments by position") as info:
        sg.grad(calls_a_derivative_by_keyword)(W, X)
    line = calls_a_derivative_by_keyword.__code__.co_firstlineno + 2
    assert f"test_function_value_keywords.py:{line}:" in str(info.value)
