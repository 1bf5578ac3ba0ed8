"""Idioms of deep-learning tutorials in NumPy that the other tutorial files do not show: a
dataclass config passed alongside the parameters, ``Ws, bs = zip(*params)``, ``sorted`` keys,
a ``while t < T`` recurrence, FGSM adversarial training (a gradient inside the loss), weight
normalisation, cosine-similarity embeddings, the SVM loss with the builtin ``max`` and a
softmax with ``math`` on floats, squeeze-and-excitation, group norm by reshapes, a relative
position bias, residual blocks in a comprehension. Each against Python's value and central
differences on calls 1-3 (the optimized code runs from the second call), and the HVP where
smooth."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(99)


def rn(*shape):
    return R.standard_normal(shape)


X = rn(5, 3)
Y = rn(5, 2)


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 4
    activation: str = "tanh"
    l2: float = 1e-3


def configured_mlp(params, x, y, cfg):
    act = np.tanh if cfg.activation == "tanh" else (lambda z: np.maximum(z, 0))
    h = act(x @ params["W1"][:, : cfg.hidden])
    pred = h @ params["W2"][: cfg.hidden]
    return np.mean((pred - y) ** 2) + cfg.l2 * sum(np.sum(w * w) for w in params.values())


def zip_star_params(params, x, y):
    Ws, bs = zip(*params)
    for W, b in zip(Ws[:-1], bs[:-1]):
        x = np.tanh(x @ W + b)
    return np.mean((x @ Ws[-1] + bs[-1] - y) ** 2)


def sorted_keys_l2(params, x):
    h = x
    for name in sorted(params):
        h = np.sin(h @ params[name])
    return np.sum(h**2)


def while_recurrence(W, U, xs):
    h = np.zeros(W.shape[1])
    t, T = 0, len(xs)
    while t < T:
        h = np.tanh(xs[t] @ W + h @ U)
        t += 1
    return np.sum(h)


def mse_loss(W, x, y):
    return np.mean((np.tanh(x @ W) - y) ** 2)


d_mse_dx = sg.grad(mse_loss, wrt=1)


def fgsm_adversarial(W, x, y, eps=0.1):
    x_adv = x + eps * np.sign(d_mse_dx(W, x, y))
    return 0.5 * mse_loss(W, x, y) + 0.5 * mse_loss(W, x_adv, y)


def weight_norm(v, g, x, y):
    W = g * v / np.linalg.norm(v, axis=0, keepdims=True)
    return np.mean((x @ W - y) ** 2)


def cosine_embedding(E, a_idx, b_idx, target):
    a, b = E[a_idx], E[b_idx]
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.mean(np.where(target > 0, 1 - cos, np.maximum(0.0, cos - 0.1)))


def svm_builtin_max(W, X, y):
    loss = 0.0
    for i in range(X.shape[0]):
        scores = X[i] @ W
        for j in range(W.shape[1]):
            if j != y[i]:
                loss += max(0, scores[j] - scores[y[i]] + 1)
    return loss / X.shape[0]


def math_softmax_nll(w, target=1):
    logits = [w[0] * 2.0, w[1] - 0.5, w[2] * w[0]]
    m = max(logits)
    exps = [math.exp(z - m) for z in logits]
    total = sum(exps)
    return -math.log(exps[target] / total)


def squeeze_excitation(p, x):
    s = x.mean(axis=(2, 3))
    s = np.maximum(0, s @ p["W1"])
    s = 1 / (1 + np.exp(-(s @ p["W2"])))
    y = x * s[:, :, None, None]
    return np.sum(y**2)


def group_norm(x, gamma, beta, G=2, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, C // G, H, W)
    mean = xg.mean(axis=(2, 3, 4), keepdims=True)
    var = xg.var(axis=(2, 3, 4), keepdims=True)
    xn = ((xg - mean) / np.sqrt(var + eps)).reshape(N, C, H, W)
    out = xn * gamma.reshape(1, C, 1, 1) + beta.reshape(1, C, 1, 1)
    return np.sum(np.tanh(out))


def relative_position_attention(Wq, Wk, bias, x):
    T = x.shape[0]
    rel = np.arange(T)[:, None] - np.arange(T)[None, :]
    scores = (x @ Wq) @ (x @ Wk).T + bias[rel + T - 1]
    scores -= scores.max(axis=-1, keepdims=True)
    att = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return np.sum(att @ x * x)


def residual_blocks(blocks, x):
    def block(p, h):
        return h + np.tanh(h @ p["W"] + p["b"]) @ p["V"]

    outs = [x]
    for p in blocks:
        outs.append(block(p, outs[-1]))
    return sum(np.sum(o**2) for o in outs[1:])


CASES = [
    Case(
        "dataclass_config",
        configured_mlp,
        ({"W1": rn(3, 6), "W2": rn(6, 2)}, X, Y, Config()),
        order=2,
    ),
    Case(
        "dataclass_config_relu",
        configured_mlp,
        ({"W1": rn(3, 6), "W2": rn(6, 2)}, X, Y, Config(3, "relu")),
    ),
    Case(
        "zip_star_params", zip_star_params, ([(rn(3, 4), rn(4)), (rn(4, 2), rn(2))], X, Y), order=2
    ),
    Case(
        "sorted_keys", sorted_keys_l2, ({"b": rn(3, 3), "a": rn(3, 3), "c": rn(3, 2)}, X), order=2
    ),
    Case("while_recurrence", while_recurrence, (rn(3, 4), 0.5 * rn(4, 4), X), wrt=(0, 1), order=2),
    Case("fgsm_adversarial_training", fgsm_adversarial, (rn(3, 2), X, Y)),
    Case("weight_norm", weight_norm, (rn(3, 2), rn(2), X, Y), wrt=(0, 1), order=2),
    Case(
        "cosine_embedding",
        cosine_embedding,
        (rn(6, 3), np.array([0, 1, 2, 5]), np.array([3, 4, 5, 0]), np.array([1, -1, 1, -1])),
    ),
    Case("svm_builtin_max", svm_builtin_max, (rn(3, 4), X, np.array([0, 3, 1, 2, 2]))),
    Case("math_softmax_nll", math_softmax_nll, (rn(3),), order=2),
    Case(
        "squeeze_excitation", squeeze_excitation, ({"W1": rn(4, 2), "W2": rn(2, 4)}, rn(2, 4, 3, 3))
    ),
    Case(
        "group_norm",
        group_norm,
        (rn(2, 4, 2, 2), 1 + 0.1 * rn(4), 0.1 * rn(4)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "relative_position_bias",
        relative_position_attention,
        (rn(3, 3), rn(3, 3), rn(7), rn(4, 3)),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "residual_blocks_nested_def",
        residual_blocks,
        ([{"W": rn(3, 4), "b": rn(4), "V": 0.5 * rn(4, 3)} for _ in range(2)], X),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_tutorial_idioms(case):
    check(case)
