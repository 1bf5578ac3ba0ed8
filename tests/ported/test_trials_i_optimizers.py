"""Optimizers and training steps written by hand around ``sg.grad``: heavy-ball momentum,
Nesterov, Adam keeping its moments in dicts, AdaGrad/RMSProp, gradient clipping by global
norm with ``min(1.0, max_norm / norm)``, decoupled weight decay, cosine and step
learning-rate schedules, early stopping by a data-dependent ``break``, an ``Adam``
dataclass with ``init``/``step`` methods, and a window of recent losses (a list sliced;
a ``deque(maxlen=2)`` refused, which was summed as an unbounded list).

Two kinds: training loops run outside (each step's gradient from ``sg.value_and_grad``
checked against central differences, and the run against the same loop with those
differences), and unrolled training differentiated itself (a hypergradient in the learning
rate or the initial weights, ``sg.grad`` taken inside the function), checked as the other
ported cases: Python's value and central differences on calls 1-3."""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator
from collections import deque

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, numerical, params

R = np.random.default_rng(8803)


def r(*s):
    return R.standard_normal(s)


X, Y = r(6, 3), r(6)
XV, YV = r(4, 3), r(4)


def mse(w, X, y):
    return np.mean((X @ w - y) ** 2)


def mlp_loss(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    return np.mean((h @ params["w2"] - y) ** 2)


# ------------------------------------------------------------------ unrolled, differentiated


def momentum_hypergradient(log_lr, w0, X, y, Xv, yv, beta=0.9, steps=4):
    lr = np.exp(log_lr)
    w, v = w0, np.zeros_like(w0)
    for _ in range(steps):
        g = sg.grad(mse)(w, X, y)
        v = beta * v + g
        w = w - lr * v
    return mse(w, Xv, yv)


def nesterov_unrolled(w0, X, y, lr=0.05, mu=0.9, steps=3):
    w = w0
    v = np.zeros_like(w)
    for _ in range(steps):
        lookahead = w + mu * v
        g = sg.grad(mse)(lookahead, X, y)
        v = mu * v - lr * g
        w = w + v
    return mse(w, X, y) + 0.1 * np.sum(w**2)


def adam_dict_unrolled(params, X, y, lr=0.05, b1=0.9, b2=0.999, eps=1e-8, steps=3):
    m = {k: np.zeros_like(v) for k, v in params.items()}
    s = {k: np.zeros_like(v) for k, v in params.items()}
    dloss = sg.grad(mlp_loss)
    for t in range(1, steps + 1):
        grads = dloss(params, X, y)
        new = {}
        for k in params:
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            s[k] = b2 * s[k] + (1 - b2) * grads[k] ** 2
            m_hat = m[k] / (1 - b1**t)
            s_hat = s[k] / (1 - b2**t)
            new[k] = params[k] - lr * m_hat / (np.sqrt(s_hat) + eps)
        params = new
    return mlp_loss(params, X, y)


def clipped_sgd(params, X, y, lr=0.3, max_norm=0.5, steps=3):
    for _ in range(steps):
        grads = sg.grad(mlp_loss)(params, X, y)
        norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
        scale = min(1.0, max_norm / (norm + 1e-6))
        params = {k: p - lr * scale * grads[k] for k, p in params.items()}
    return mlp_loss(params, X, y)


def weight_decay_cosine(w0, X, y, lr0=0.2, wd=0.05, steps=4):
    w = w0
    for t in range(steps):
        lr = lr0 * 0.5 * (1 + math.cos(math.pi * t / steps))
        g = sg.grad(mse)(w, X, y)
        w = w - lr * g - lr * wd * w
    return mse(w, X, y)


def rmsprop_unrolled(w0, X, y, lr=0.05, rho=0.9, eps=1e-6, steps=3):
    w, sq = w0, np.zeros_like(w0)
    for step in range(steps):
        g = sg.grad(mse)(w, X, y)
        sq = rho * sq + (1 - rho) * g * g
        w = w - lr / (1 + step) * g / np.sqrt(sq + eps)
    return mse(w, X, y)


def early_stopping_unrolled(w0, X, y, Xv, yv, lr=0.1, patience=1, max_steps=8):
    w = w0
    best = mse(w, Xv, yv)
    bad = 0
    for _ in range(max_steps):
        w = w - lr * sg.grad(mse)(w, X, y)
        val = mse(w, Xv, yv)
        if val < best - 1e-4:
            best = val
            bad = 0
        else:
            bad += 1
            if bad > patience:
                break
    return mse(w, Xv, yv) + 0.5 * mse(w, X, y)


def value_and_grad_inner(w0, X, y, lr=0.1, steps=3):
    w = w0
    history = []
    for _ in range(steps):
        loss, g = sg.value_and_grad(mse)(w, X, y)  # REFUSED
        history.append(loss)
        w = w - lr * g
    return sum(history) + mse(w, X, y)


def value_then_grad_inner(w0, X, y, lr=0.1, steps=3):
    w = w0
    history = []
    for _ in range(steps):
        loss, g = mse(w, X, y), sg.grad(mse)(w, X, y)
        history.append(loss)
        w = w - lr * g
    return sum(history) + mse(w, X, y)


def mlp2(params, x):
    return np.sum(np.tanh(x @ params["W"]) @ params["v"])


@dataclasses.dataclass
class Adam:
    lr: float = 0.05
    b1: float = 0.9
    b2: float = 0.99
    eps: float = 1e-8

    def init(self, params):
        return {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}

    def step(self, params, grads, state, t):
        new_params, new_state = {}, {}
        for k in params:
            m, s = state[k]
            m = self.b1 * m + (1 - self.b1) * grads[k]
            s = self.b2 * s + (1 - self.b2) * grads[k] ** 2
            mh, sh = m / (1 - self.b1**t), s / (1 - self.b2**t)
            new_params[k] = params[k] - self.lr * mh / (np.sqrt(sh) + self.eps)
            new_state[k] = (m, s)
        return new_params, new_state


def adam_object_unrolled(params, x):
    opt = Adam()
    state = opt.init(params)
    for t in range(1, 3):
        grads = sg.grad(mlp2)(params, x)
        params, state = opt.step(params, grads, state, t)
    return mlp2(params, x) ** 2


def accumulate_operator_mul(scales):
    return sum(itertools.accumulate(scales, operator.mul))


def deque_window(w, xs):
    recent = deque(maxlen=2)
    for x in xs:
        recent.append(np.sum(np.tanh(x @ w)))  # REFUSED
    return sum(recent)


def list_window(w, xs):
    recent = []
    for x in xs:
        recent.append(np.sum(np.tanh(x @ w)))
        recent = recent[-2:]
    return sum(recent)


class Meter:
    def __init__(self):
        self.total = 0.0
        self.count = 0

    def add(self, v):
        self.total = self.total + v
        self.count += 1

    def mean(self):
        return self.total / self.count


def meter_loss(w, xs):
    m = Meter()
    for x in xs:
        m.add(np.sum(np.tanh(x @ w) ** 2))
    return m.mean()


class SumMeter:
    def __init__(self, start):
        self.total = start
        self.n = 0

    def add(self, v, k=1):
        self.total += v * k
        self.n += k
        return self.total

    def mean(self):
        return self.total / self.n


def updating_meter_loss(w, xs):
    m = SumMeter(0.1 * np.sum(w))
    last = 0.0
    for x in xs:
        last = m.add(np.sum(np.sin(x @ w)), k=2)
    return m.mean() + last


def mean_of(meter):
    return meter.total / meter.count


def meter_handed_on(w, xs):
    m = Meter()
    for x in xs:
        m.add(np.sum(np.tanh(x @ w) ** 2))  # REFUSED
    return mean_of(m)


P0 = {"W1": 0.5 * r(3, 4), "b1": 0.1 * r(4), "w2": 0.5 * r(4)}

CASES = [
    Case("momentum_hypergradient", momentum_hypergradient, (-2.0, r(3), X, Y, XV, YV), wrt=(0, 1)),
    Case("nesterov_unrolled", nesterov_unrolled, (r(3), X, Y), order=2),
    Case("adam_dict_unrolled", adam_dict_unrolled, (P0, X, Y), rtol=1e-4, atol=1e-5),
    Case("clipped_sgd", clipped_sgd, (P0, X, Y), rtol=1e-4),
    Case("weight_decay_cosine", weight_decay_cosine, (r(3), X, Y), order=2),
    Case("rmsprop_unrolled", rmsprop_unrolled, (r(3), X, Y), rtol=1e-4),
    Case("early_stopping_unrolled", early_stopping_unrolled, (r(3), X, Y, XV, YV), order=2),
    Case(
        "value_and_grad_inner",
        value_and_grad_inner,
        (r(3), X, Y),
        refused=(sg.SourcegradError, "`mse(...)` for the value and `sg.grad(mse)(...)`"),
    ),
    Case(
        "adam_dataclass_optimizer", adam_object_unrolled, ({"W": r(3, 2), "v": r(2)}, X), rtol=1e-4
    ),
    Case("accumulate_operator_mul", accumulate_operator_mul, ([0.5, 1.5, -0.7],), order=2),
    Case(
        "deque_maxlen_window",
        deque_window,
        (r(3), [X, r(6, 3), r(6, 3)]),
        refused=(sg.UnsupportedSyntaxError, "called for its effect"),
    ),
    Case("list_window", list_window, (r(3), [X, r(6, 3), r(6, 3)]), order=2),
    Case(
        "running_meter_object",
        meter_loss,
        (r(3), [X, r(6, 3)]),
        order=2,
    ),
    Case("updating_meter_object", updating_meter_loss, (0.5 * X[0], [X, 2.0 * X, X]), order=2),
    Case(
        "meter_handed_on",
        meter_handed_on,
        (X[1], [X, 0.5 * X]),
        refused=(sg.UnsupportedSyntaxError, "(`count = m.add(np.sum(np.tanh(x @ w) ** 2))`)"),
    ),
    Case("value_then_grad_inner", value_then_grad_inner, (r(3), X, Y), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_unrolled_training(case):
    check(case)


# ------------------------------------------------------------------ training loops run outside


def _fd_value_and_grad(f):
    def vg(p, *rest):
        return f(p, *rest), numerical(f, (p, *rest), 0)

    return vg


def _train_adam(vg, params, steps=5, lr=0.05, b1=0.9, b2=0.999, eps=1e-8, clip=1.0, wd=1e-2):
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    losses = []
    for t in range(1, steps + 1):
        loss, grads = vg(params, X, Y)
        losses.append(loss)
        total = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
        if total > clip:
            grads = {k: g * (clip / total) for k, g in grads.items()}
        for k in params:
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
            step = m[k] / (1 - b1**t) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
            params = {**params, k: params[k] * (1 - lr * wd) - lr * step}
    return params, losses


def test_adamw_with_clipping_matches_differences():
    """AdamW with global-norm clipping over a dict of parameters: each step's loss and the
    parameters after five steps as the same loop driven by central differences gives."""
    got, losses = _train_adam(sg.value_and_grad(mlp_loss), dict(P0))
    want, want_losses = _train_adam(_fd_value_and_grad(mlp_loss), dict(P0))
    np.testing.assert_allclose(losses, want_losses, rtol=1e-8)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-8)
    assert losses[-1] < losses[0]


class LinearModel:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def loss(self, X, y):
        return np.mean((X @ self.w + self.b - y) ** 2)


def model_loss(model, X, y):
    return model.loss(X, y)


def test_momentum_on_an_object_with_step_decay():
    """Heavy-ball momentum on a plain object's fields (``grads.w``, ``grads.b``) with a
    step-decay schedule and early stopping on a validation loss: the gradient object has the
    model's class, and each step's gradient agrees with central differences."""
    model = LinearModel(r(3), 0.0)
    dloss = sg.grad(model_loss)
    vel_w, vel_b = np.zeros(3), 0.0
    best, lr = np.inf, 0.1
    for epoch in range(6):
        if epoch and epoch % 3 == 0:
            lr *= 0.5
        g = dloss(model, X, Y)
        assert type(g) is LinearModel
        want = numerical(model_loss, (model, X, Y), 0)
        np.testing.assert_allclose(g.w, want.w, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g.b, want.b, rtol=1e-6, atol=1e-8)
        vel_w = 0.9 * vel_w - lr * g.w
        vel_b = 0.9 * vel_b - lr * g.b
        model = LinearModel(model.w + vel_w, model.b + vel_b)
        val = model.loss(XV, YV)
        if val > best + 1.0:
            break
        best = min(best, val)
    assert model.loss(X, Y) < LinearModel(np.zeros(3), 0.0).loss(X, Y) + 10


def test_hvp_newton_step_on_a_list_of_arrays():
    """A damped Newton-CG step (a few conjugate-gradient iterations on ``sg.hvp``) over a list
    of arrays: each Hessian-vector product against differences of ``sg.grad``."""

    def loss(ws, X, y):
        W, v = ws
        return np.mean((np.tanh(X @ W) @ v - y) ** 2) + 1e-2 * (np.sum(W**2) + np.sum(v**2))

    ws = [0.5 * r(3, 2), r(2)]
    g = sg.grad(loss)(ws, X, Y)
    hv = sg.hvp(loss)
    x = [np.zeros_like(w) for w in ws]
    res = [-gi for gi in g]
    p = [ri.copy() for ri in res]
    for _ in range(3):
        Ap = hv(ws, X, Y, p)
        eps = 1e-5
        up = sg.grad(loss)([w + eps * d for w, d in zip(ws, p)], X, Y)
        down = sg.grad(loss)([w - eps * d for w, d in zip(ws, p)], X, Y)
        for a, u, d in zip(Ap, up, down):
            np.testing.assert_allclose(a, (u - d) / (2 * eps), rtol=1e-4, atol=1e-6)
        rr = sum(float(np.sum(ri * ri)) for ri in res)
        pAp = sum(float(np.sum(pi * ai)) for pi, ai in zip(p, Ap))
        if pAp <= 0:
            break
        alpha = rr / pAp
        x = [xi + alpha * pi for xi, pi in zip(x, p)]
        res = [ri - alpha * ai for ri, ai in zip(res, Ap)]
        beta = sum(float(np.sum(ri * ri)) for ri in res) / rr
        p = [ri + beta * pi for ri, pi in zip(res, p)]
    new = [w + xi for w, xi in zip(ws, x)]
    assert loss(new, X, Y) < loss(ws, X, Y)
