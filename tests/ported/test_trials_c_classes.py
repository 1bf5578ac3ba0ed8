"""Classes as ML-From-Scratch and homework code write them, and what becomes of each: a plain
class built from differentiated values (refused, naming the dataclass to declare) or passed
in ``wrt`` (refused), a plain object used only as a constant (followed), an optimizer's state
kept in a dataclass whose counter is bumped in place (refused: the way out is a local), a
dict of parameters copied and updated by ``p["W"] -= ...`` in an unrolled loop, a loss class
with a ``reduction`` setting, a ``Sequential`` that asks ``getattr(layer, "uses_training")``,
gradient clipping by norm, parameter names built by f-strings, a transposed convolution by
``+=`` into slices. Each against Python's value and central differences on calls 1-3."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7008)


def r(*s):
    return R.standard_normal(s)


class PlainDense:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b


def plain_built_inside(W, b, x):
    layer = PlainDense(W, b)  # REFUSED
    return np.sum(layer.forward(x) ** 2)


def plain_passed_in(layer, x):  # REFUSED
    return np.sum(layer.forward(x) ** 2)


def plain_weights_of_plain(W, layer, x):
    # the object is a constant; W differentiated
    return np.sum((layer.forward(x) @ W) ** 2)


@dataclasses.dataclass
class AdamState:
    m: dict
    v: dict
    t: int = 0


def adam_state_dict_update(params, grads_fn_x, lr=0.1):
    state = AdamState(
        {k: np.zeros_like(p) for k, p in params.items()},
        {k: np.zeros_like(p) for k, p in params.items()},
    )
    for _ in range(2):
        grads = {k: 2 * p * grads_fn_x for k, p in params.items()}
        state.t += 1
        for k in params:
            state.m[k] = 0.9 * state.m[k] + 0.1 * grads[k]  # REFUSED
            state.v[k] = 0.999 * state.v[k] + 0.001 * grads[k] ** 2
            params = {**params, k: params[k] - lr * state.m[k] / (np.sqrt(state.v[k]) + 1e-8)}
    return sum(np.sum(p**2) for p in params.values())


def params_dict_inplace_sgd(params, x, y, lr=0.1):
    p = dict(params)
    for _ in range(2):
        g = 2 * x.T @ (x @ p["W"] - y) / len(y)
        p["W"] = p["W"] - lr * g
    return np.sum((x @ p["W"] - y) ** 2)


def params_dict_augassign(params, x, y, lr=0.1):
    p = {k: v.copy() for k, v in params.items()}
    for _ in range(2):
        g = 2 * x.T @ (x @ p["W"] - y) / len(y)
        p["W"] -= lr * g
    return np.sum((x @ p["W"] - y) ** 2)


@dataclasses.dataclass
class Loss:
    reduction: str = "mean"

    def __call__(self, pred, target):
        err = (pred - target) ** 2
        if self.reduction == "mean":
            return err.mean()
        elif self.reduction == "sum":
            return err.sum()
        return err


def loss_class_reductions(w, x, y):
    pred = x @ w
    return Loss()(pred, y) + Loss("sum")(pred, y) + np.sum(Loss("none")(pred, y) ** 2)


@dataclasses.dataclass
class Sequential:
    layers: list

    def __call__(self, x, training=False):
        for layer in self.layers:
            x = layer(x, training=training) if getattr(layer, "uses_training", False) else layer(x)
        return x


@dataclasses.dataclass
class Lin:
    W: np.ndarray

    def __call__(self, x):
        return x @ self.W


@dataclasses.dataclass
class Drop:
    mask: np.ndarray
    uses_training: bool = True

    def __call__(self, x, training=False):
        return x * self.mask if training else x


@dataclasses.dataclass
class Scaled:
    W: np.ndarray
    scale: np.ndarray

    def __call__(self, x):
        return np.tanh(x @ self.W)


def scaled_layers(layers, x):
    """A differentiated field some layers have and others do not, read with a default."""
    for layer in layers:
        x = layer(x) * getattr(layer, "scale", 1.0)
    return np.sum(x**2)


def seq_getattr(model, x):
    return np.sum(model(x, training=True) ** 2) + np.sum(model(x))


def layer_list_comprehension_zip(Ws, bs, x):
    layers = [(W, b) for W, b in zip(Ws, bs)]
    for W, b in layers[:-1]:
        x = np.maximum(x @ W + b, 0)
    W, b = layers[-1]
    return np.sum(x @ W + b)


def grad_clip_norm(w, x, y, max_norm=1.0):
    g = 2 * x.T @ (x @ w - y)
    n = np.linalg.norm(g)
    if n > max_norm:
        g = g * (max_norm / n)
    w2 = w - 0.1 * g
    return np.sum((x @ w2 - y) ** 2)


def string_format_keys(params, x):
    h = x
    for i in range(2):
        h = np.tanh(h @ params[f"W{i}"] + params[f"b{i}"])
    return np.sum(h**2)


def conv_transpose_upsample(K, x):
    # 1-D transposed conv by scattering into a zero array with +=
    n, k = len(x), len(K)
    out = np.zeros(2 * n + k - 2)
    for i in range(n):
        out[2 * i : 2 * i + k] += x[i] * K
    return np.sum(out**2)


def maxpool_argmax_mask(x):
    X = x.reshape(-1, 2)
    m = X == X.max(axis=1, keepdims=True)
    return np.sum((X * m) ** 2)


def embedding_add_at_style(E, idx, w):
    h = np.zeros(E.shape[1])
    for i in idx:
        h = h + E[i]
    return np.sum(np.tanh(h @ w))


SEQ = Sequential([Lin(r(3, 3)), Drop((r(4, 3) > 0).astype(float)), Lin(r(3, 2))])

CASES = [
    Case(
        "plain_class_built_inside",
        plain_built_inside,
        (r(3, 2), r(2), r(4, 3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("plain_class_in_wrt", plain_passed_in, (PlainDense(r(3, 2), r(2)), r(4, 3)), order=2),
    Case(
        "plain_object_as_constant",
        plain_weights_of_plain,
        (r(2, 2), PlainDense(r(3, 2), r(2)), r(4, 3)),
    ),
    Case(
        "optimizer_state_counter_refused",
        adam_state_dict_update,
        ({"a": r(3), "b": r(2)}, 0.7),
        refused=(sg.UnsupportedSyntaxError, "not into `state.m`"),
    ),
    Case(
        "params_dict_copy_sgd", params_dict_inplace_sgd, ({"W": r(3, 2)}, r(5, 3), r(5, 2)), order=2
    ),
    Case(
        "params_dict_augassign", params_dict_augassign, ({"W": r(3, 2)}, r(5, 3), r(5, 2)), order=2
    ),
    Case("loss_class_reductions", loss_class_reductions, (r(3), r(5, 3), r(5)), order=2),
    Case("sequential_getattr_training", seq_getattr, (SEQ, r(4, 3))),
    Case(
        "sequential_getattr_training_hvp",
        seq_getattr,
        (SEQ, r(4, 3)),
        order=2,
    ),
    Case(
        "scaled_layers_getattr_default",
        scaled_layers,
        ([Lin(r(3, 3)), Scaled(r(3, 3), r(3))], r(4, 3)),
        order=2,
    ),
    Case(
        "layers_zipped_then_sliced",
        layer_list_comprehension_zip,
        ([r(3, 4), r(4, 2)], [r(4), r(2)], r(5, 3)),
        wrt=(0, 1, 2),
    ),
    Case("grad_clip_by_norm", grad_clip_norm, (r(3), r(5, 3), r(5)), order=2),
    Case(
        "fstring_parameter_names",
        string_format_keys,
        ({"W0": r(3, 3), "b0": r(3), "W1": r(3, 2), "b1": r(2)}, r(4, 3)),
        order=2,
    ),
    Case("transposed_conv_slice_add", conv_transpose_upsample, (r(3), r(4)), wrt=(0, 1), order=2),
    Case("maxpool_argmax_mask", maxpool_argmax_mask, (r(6),), order=2),
    Case(
        "embedding_bag_loop",
        embedding_add_at_style,
        (r(5, 3), [0, 2, 2, 4], r(3)),
        wrt=(0, 2),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_classes(case):
    check(case)
