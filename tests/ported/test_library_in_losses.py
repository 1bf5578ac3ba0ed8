"""The library inside the user's own losses: ``sg.nn`` layers held in globals and lists,
``sg.util``/``sg.loss`` functions, ``sg.model`` networks, auxiliary outputs, and the Python
around them (a stack popped in a ``while``, recursion on a depth setting, functions made in
a loop with defaults). Each checked against Python's value and central differences on
repeated calls."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError, UnsupportedSyntaxError

from .harness import Case, check, params

R = np.random.default_rng(7)


def r(*shape):
    return R.standard_normal(shape)


LIN1 = sg.nn.Linear(3, 4)
LIN2 = sg.nn.Linear(4, 2)
CE = sg.nn.CrossEntropyLoss()
LN = sg.nn.LayerNorm(4)


# library layers held in globals, params dict of dicts
def lib_mlp(params, x, labels):
    h = sg.nn.ReLU()(LIN1(params["l1"], x))
    return CE(LIN2(params["l2"], h), labels)


# functional API
def lib_functional(params, x, y):
    h = sg.util.log_softmax(x @ params["W"], axis=-1)
    return -np.mean(np.sum(h * y, axis=-1))


# layer norm + gelu layers in a list built in the function
def lib_list(params, x):
    layers = [LIN1, LN, sg.nn.GELU()]
    h = layers[0](params[0], x)
    h = layers[1](params[1], h)
    h = layers[2](h)
    return np.sum(h**2)


# value_and_grad with has_aux dict
def with_aux(w, x, y):
    pred = x @ w
    loss = np.mean((pred - y) ** 2)
    return loss, {"mae": np.mean(np.abs(pred - y)), "pred": pred}


# hessian of a dict-param function
def dict_quad(p):
    return np.sum(p["a"] ** 2 * p["b"]) + np.sum(np.sin(p["a"]))


# model from sg.model
F_MLP, P_MLP = sg.model.NeuralNetwork(
    input_features=3,
    hidden_features=[6, 2],
    activations="Tanh",
    classifier=False,
    rng=np.random.default_rng(1),
)


def model_loss(params, x, y):
    return np.mean((F_MLP(params, x) - y) ** 2)


# one_hot and cross entropy from sg.loss
def loss_module(W, x, labels):
    logits = x @ W
    return sg.loss.cross_entropy(logits, sg.util.one_hot(labels, 3))


# clip gradient-ish: norm of residual with np.linalg.norm total
def resid_norm(w, A, b):
    return np.linalg.norm(A @ w - b)


# nested function defined inside loss with default arg capture
def default_capture(w, xs):
    fs = []
    for k in range(3):

        def f(x, k=k):
            return np.sin(k * x @ w)

        fs.append(f)
    return sum(np.sum(f(x)) for f, x in zip(fs, xs))  # REFUSED


# while loop over a list with pop (stack)
def stack_pop(w, xs):
    stack = list(xs)
    acc = np.zeros_like(w)
    while stack:
        x = stack.pop()
        acc = np.tanh(acc + x * w)
    return np.sum(acc)


# recursion via helper depth param
def tree_sum(w, x, depth):
    if depth == 0:
        return np.sum(np.tanh(x * w))
    return tree_sum(w, x * 0.5, depth - 1) + np.sum(w * x)


def recursion(w, x):
    return tree_sum(w, x, 3)


CASES = [
    Case(
        "lib_mlp",
        lib_mlp,
        (
            {"l1": LIN1.init(np.random.default_rng(0)), "l2": LIN2.init(np.random.default_rng(1))},
            r(5, 3),
            np.array([0, 1, 1, 0, 1]),
        ),
    ),
    Case("lib_functional", lib_functional, ({"W": r(3, 4)}, r(5, 3), np.eye(4)[[0, 1, 2, 3, 0]])),
    Case(
        "lib_list",
        lib_list,
        ([LIN1.init(np.random.default_rng(0)), LN.init(np.random.default_rng(2))], r(5, 3)),
    ),
    Case("dict_quad", dict_quad, ({"a": r(3), "b": r(3)},), order=2),
    Case("model_loss", model_loss, (P_MLP, r(5, 3), r(5, 2))),
    Case("loss_module", loss_module, (r(3, 3), r(5, 3), np.array([0, 2, 1, 1, 0]))),
    Case("resid_norm", resid_norm, (r(3), r(5, 3), r(5)), order=2),
    Case(
        "default_capture",
        default_capture,
        (r(2), [r(4, 2) for _ in range(3)]),
        refused=(UnsupportedSyntaxError, "pass them to it as arguments"),
    ),
    Case("stack_pop", stack_pop, (r(3), [r(3) for _ in range(4)])),
    Case("recursion", recursion, (r(3), r(3))),
]


@pytest.mark.parametrize("case", params(CASES))
def test_trial(case):
    check(case)


def test_aux():
    w, x, y = r(3), r(5, 3), r(5)
    for _ in range(3):
        (loss, aux), g = sg.value_and_grad(with_aux, has_aux=True)(w, x, y)
        want = with_aux(w, x, y)
        assert loss == want[0] and aux["mae"] == want[1]["mae"]
        np.testing.assert_array_equal(aux["pred"], want[1]["pred"])


def test_hessian_of_a_dict_is_refused_with_the_ways_out():
    with pytest.raises(SourcegradError, match="use hvp"):
        sg.hessian(dict_quad)({"a": r(3), "b": r(3)})
