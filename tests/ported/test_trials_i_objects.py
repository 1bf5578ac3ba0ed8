"""Objects and training code as courses write them: a dataclass unpacked by its own
``__iter__`` (``W, b = layer``), a params class with ``__getitem__``, a parameter dataclass
with ``__add__``/``__sub__``/``__rmul__`` stepped by ``p = p - lr * sg.grad(loss)(p, x)``
(the gradient has ``p``'s class; ``lr`` an argument, its default, a cosine schedule of
numbers or a helper's value; ``p`` passed in or built in the function), ``np.copy`` then a write, a Newton iteration ending by ``while True: ... break``,
a GP's predictive variance, a clipped BCE, hard k-means through ``np.argmin`` labels, a
hinge with ``margins[margins < 0] = 0``, InfoNCE on normalised embeddings, moments kept by
``m.update({...})``, and a ``SoftmaxReg.fit`` taking ``sg.grad(self.loss)``. Refused with
their ways out: ``dataclasses.asdict``, ``vars(obj)``, ``copy.deepcopy`` of parameters,
and unpacking through an ``__iter__`` sourcegrad does not follow. Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import operator

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, numerical, params

G = np.random.default_rng(4480)


def r(*s):
    return G.standard_normal(s)


X = r(6, 3)
YB = (G.uniform(size=6) > 0.5).astype(float)
YC = np.array([0, 1, 2, 0, 1, 2])


def newton_break(a, tol=1e-12):
    x = 1.0
    while True:
        step = (x * x - a) / (2 * x)
        x = x - step
        if abs(step) < tol:
            break
    return x * np.sin(x)


def gp_predict_var(log_ell, X, y, Xs):
    ell = np.exp(log_ell)

    def k(A, B):
        return np.exp(-0.5 * np.sum((A[:, None] - B[None]) ** 2, -1) / ell**2)

    K = k(X, X) + 0.1 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    Ks = k(X, Xs)
    mu = Ks.T @ alpha
    v = np.linalg.solve(L, Ks)
    var = 1.0 - np.sum(v**2, axis=0)
    return np.sum(mu**2) + np.sum(np.log(var))


def clipped_bce(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def hard_kmeans(C, X):
    d = np.sum((X[:, None] - C[None]) ** 2, -1)
    labels = np.argmin(d, axis=1)
    loss = 0.0
    for k in range(len(C)):
        members = X[labels == k]
        if len(members):
            loss += np.sum((members - C[k]) ** 2)
    return loss


def hinge_masked_write(W, X, y):
    scores = X @ W
    correct = scores[np.arange(len(y)), y][:, None]
    margins = scores - correct + 1.0
    margins[margins < 0] = 0
    margins[np.arange(len(y)), y] = 0
    return margins.sum() / len(y)


def info_nce(W, X1, X2, tau=0.5):
    z1 = X1 @ W
    z2 = X2 @ W
    z1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    z2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    logits = z1 @ z2.T / tau
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_probs))


def moments_update(params, grads_scale, steps=2):
    m = {k: np.zeros_like(v) for k, v in params.items()}
    for _ in range(steps):
        g = {k: grads_scale * np.tanh(v) for k, v in params.items()}
        m.update({k: 0.9 * m[k] + g[k] for k in m})
        params = {k: params[k] - 0.1 * m[k] for k in params}
    return sum(np.sum(v**2) for v in params.values())


class SoftmaxReg:
    def __init__(self, d, k):
        self.W = np.zeros((d, k))

    def loss(self, W, X, y):
        s = X @ W
        s = s - s.max(1, keepdims=True)
        return -np.mean(s[np.arange(len(y)), y] - np.log(np.exp(s).sum(1)))

    def fit(self, X, y, lr=0.5, epochs=5):
        g = sg.grad(self.loss)
        for _ in range(epochs):
            self.W -= lr * g(self.W, X, y)
        return self


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray

    def __iter__(self):
        yield self.W
        yield self.b


def unpack_dataclass_iter(layer, x):
    W, b = layer
    return np.sum(np.tanh(x @ W + b) ** 2)


class Params:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __getitem__(self, key):
        return getattr(self, key)


def getitem_params(p, x):
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2)


@dataclasses.dataclass
class P:
    W: np.ndarray
    b: np.ndarray

    def __add__(self, other):
        return P(self.W + other.W, self.b + other.b)

    def __sub__(self, other):
        return P(self.W - other.W, self.b - other.b)

    def __rmul__(self, s):
        return P(s * self.W, s * self.b)


def p_loss(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def operator_overloaded_sgd(p, x, lr=0.1, steps=2):
    for _ in range(steps):
        g = sg.grad(p_loss)(p, x)
        p = p - lr * g
    return p_loss(p, x)


def asdict_reg(p, x):
    d = dataclasses.asdict(p)  # REFUSED
    return p_loss(p, x) + sum(np.sum(v**2) for v in d.values())


def vars_reg(p, x):
    return getitem_params(p, x) + sum(np.sum(v**2) for v in vars(p).values())  # REFUSED


def deepcopy_fast_weights(params, x, lr=0.1):
    g = sg.grad(lambda q: np.sum(np.tanh(x @ q["W"]) ** 2))(params)
    fast = copy.deepcopy(params)  # REFUSED
    fast["W"] -= lr * g["W"]
    return np.sum(np.tanh(x @ fast["W"]) ** 2) + np.sum(params["W"] ** 2)


def np_copy_update(params, x):
    W = np.copy(params["W"])
    W[0] += 1.0
    return np.sum(np.tanh(x @ W) ** 2)


def cosine_schedule_objects(p, x, lr0=0.3, steps=3):
    for t in range(steps):
        lr = lr0 * 0.5 * (1 + math.cos(math.pi * t / steps))
        g = sg.grad(p_loss)(p, x)
        p = p - lr * g
    return p_loss(p, x)


def named_gradient_objects(p, x, lr=0.1):
    dloss = sg.grad(p_loss)
    for _ in range(2):
        p = p - lr * dloss(p, x)
    return p_loss(p, x)


@dataclasses.dataclass
class Layer2:
    W: np.ndarray
    b: np.ndarray

    def __iter__(self):
        return iter([self.W, self.b])


def unpack_list_iter(layer, x):
    W, b = layer  # REFUSED
    return np.sum(np.tanh(x @ W + b) ** 2)


def get_lr(t):
    return 0.2 / (1 + t)


def helper_schedule(p, x):
    for t in range(2):
        g = sg.grad(p_loss)(p, x)
        p = p - get_lr(t) * g
    return p_loss(p, x)


def built_inside(W, b, x):
    p = P(W, b)
    for _ in range(2):
        g = sg.grad(p_loss)(p, x)
        p = p - 0.1 * g
    return p_loss(p, x)


def negated(p, x, lr=0.1):
    g = sg.grad(p_loss)(p, x)
    p = p + (-lr) * g
    return p_loss(p, x)


@dataclasses.dataclass
class V:
    W: np.ndarray
    b: np.ndarray

    def __add__(self, o):
        return V(self.W + o.W, self.b + o.b)

    def __radd__(self, o):
        return self if o == 0 else self + o

    def __sub__(self, o):
        return V(self.W - o.W, self.b - o.b)

    def __mul__(self, s):
        return V(self.W * s, self.b * s)

    __rmul__ = __mul__

    def __truediv__(self, s):
        return V(self.W / s, self.b / s)

    def __neg__(self):
        return V(-self.W, -self.b)


def v_loss(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def neg_step(p, x, lr=0.1):
    d = -sg.grad(v_loss)(p, x)
    return v_loss(p + lr * d, x)


def augmented_step(p, x, lr=0.1):
    for _ in range(2):
        g = sg.grad(v_loss)(p, x)
        p -= lr * g
    return v_loss(p, x)


def sum_of_objects(p, xs):
    grads = [sg.grad(v_loss)(p, x) for x in xs]
    mean = sum(grads) / len(grads)  # REFUSED
    return v_loss(p - mean * 0.1, xs[0])


def reduced_objects(p, xs):
    grads = [sg.grad(v_loss)(p, x) for x in xs]
    mean = functools.reduce(operator.add, grads) / len(grads)
    return v_loss(p - mean * 0.1, xs[0])


def looped_sum_of_objects(p, xs):
    grads = [sg.grad(v_loss)(p, x) for x in xs]
    total = grads[0]
    for g in grads[1:]:
        total = total + g
    return v_loss(p - total * (0.1 / len(grads)), xs[0])


def items_of_objects_added(p, xs):
    grads = []
    for x in xs:
        grads.append(sg.grad(v_loss)(p, x))
    return v_loss(p - (grads[0] + grads[1]) * 0.05, xs[1])


def mul_right(p, x):
    g = sg.grad(v_loss)(p, x)
    return v_loss(p - g * 0.1, x)


CASES = [
    Case("unpack_by_own_iter", unpack_dataclass_iter, (Layer(r(3, 2), r(2)), X), order=2),
    Case(
        "unpack_by_iter_of_a_list",
        unpack_list_iter,
        (Layer2(r(3, 2), r(2)), X),
        refused=(sg.UnsupportedSyntaxError, "read the fields by name (`W, b = layer.W, layer.b`)"),
    ),
    Case("getitem_params_class", getitem_params, (Params(r(3, 2), r(2)), X), order=2),
    Case("operator_overloaded_sgd", operator_overloaded_sgd, (P(r(3, 2), r(2)), X), order=2),
    Case(
        "operator_overloaded_sgd_lr",
        operator_overloaded_sgd,
        (P(r(3, 2), r(2)), X, 0.2),
        wrt=(0, 2),
    ),
    Case("cosine_schedule_objects", cosine_schedule_objects, (P(r(3, 2), r(2)), X), order=2),
    Case("helper_schedule_objects", helper_schedule, (P(r(3, 2), r(2)), X), order=2),
    Case("objects_built_inside", built_inside, (r(3, 2), r(2), X), wrt=(0, 1), order=2),
    Case("negated_rate_objects", negated, (P(r(3, 2), r(2)), X), order=2),
    Case("negated_gradient_object", neg_step, (V(r(3, 2), r(2)), X), order=2),
    Case("augmented_object_step", augmented_step, (V(r(3, 2), r(2)), X), order=2),
    Case("object_times_number", mul_right, (V(r(3, 2), r(2)), X), order=2),
    Case(
        "sum_of_gradient_objects",
        sum_of_objects,
        (V(r(3, 2), r(2)), [X, r(6, 3)]),
        refused=(sg.UnsupportedSyntaxError, "`functools.reduce(operator.add, items)`"),
    ),
    Case("reduced_gradient_objects", reduced_objects, (V(r(3, 2), r(2)), [X, r(6, 3)])),
    Case("looped_sum_of_objects", looped_sum_of_objects, (V(r(3, 2), r(2)), [X, r(6, 3)])),
    Case("items_of_objects_added", items_of_objects_added, (V(r(3, 2), r(2)), [X, r(6, 3)])),
    Case("named_gradient_objects", named_gradient_objects, (P(r(3, 2), r(2)), X), order=2),
    Case(
        "asdict_refused",
        asdict_reg,
        (P(r(3, 2), r(2)), X),
        refused=(sg.NoRuleError, "read the fields by name (`p.W`)"),
    ),
    Case(
        "vars_refused",
        vars_reg,
        (Params(r(3, 2), r(2)), X),
        refused=(sg.NoRuleError, "read the fields by name (`obj.W`)"),
    ),
    Case(
        "deepcopy_refused",
        deepcopy_fast_weights,
        ({"W": r(3, 2)}, X),
        refused=(sg.NoRuleError, "copy a dict with `dict(p)` or `{**p}`"),
    ),
    Case("np_copy_then_write", np_copy_update, ({"W": r(3, 2)}, X), order=2),
    Case("newton_while_true_break", newton_break, (2.5,), order=2),
    Case("gp_predictive_variance", gp_predict_var, (0.1, X, r(6), r(3, 3)), order=2),
    Case("clipped_bce", clipped_bce, (r(3), X, YB), order=2),
    Case("hard_kmeans_labels", hard_kmeans, (r(3, 3), X), order=2),
    Case("hinge_masked_write", hinge_masked_write, (r(3, 3), X, YC), order=2),
    Case("info_nce", info_nce, (r(3, 2), X, X + 0.1 * r(6, 3)), order=2),
    Case("moments_dict_update", moments_update, ({"a": r(3), "b": r(2, 2)}, 0.5), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_objects_and_courses(case):
    check(case)


def test_softmax_regression_fit_with_grad_of_a_bound_method():
    """``SoftmaxReg.fit`` steps ``self.W -= lr * sg.grad(self.loss)(self.W, X, y)``: the
    same weights as the loop driven by central differences."""
    model = SoftmaxReg(3, 3).fit(X, YC)
    W = np.zeros((3, 3))
    ref = SoftmaxReg(3, 3)
    for _ in range(5):
        W = W - 0.5 * numerical(ref.loss, (W, X, YC), 0)
    np.testing.assert_allclose(model.W, W, rtol=1e-6, atol=1e-8)
