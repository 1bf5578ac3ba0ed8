"""Networks as ML-From-Scratch, numpy-ml and micrograd-in-NumPy write them: layer objects
(dataclasses) whose parameters live in a ``params`` dict, losses as classes with
``__call__`` and ``gradient``-free ``loss`` methods, an optimizer object whose ``update``
is called inside an unrolled inner loop, batch norm in train mode, dropout with a mask drawn
outside, conv through an im2col helper, multi-head attention written with ``einsum``. Each
against Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7001)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ numpy-ml style layers


@dataclasses.dataclass
class FullyConnected:
    """numpy-ml keeps parameters in ``self.parameters = {"W": ..., "b": ...}``."""

    parameters: dict
    act: str = "relu"

    def forward(self, X):
        Z = X @ self.parameters["W"] + self.parameters["b"]
        if self.act == "relu":
            return np.maximum(Z, 0)
        if self.act == "tanh":
            return np.tanh(Z)
        return Z


@dataclasses.dataclass
class SquaredError:
    def __call__(self, y, y_pred):
        return 0.5 * np.linalg.norm(y_pred - y) ** 2

    @staticmethod
    def loss(y, y_pred):
        return 0.5 * np.sum((y_pred - y) ** 2)


@dataclasses.dataclass
class CrossEntropy:
    eps: float = 1e-12

    def __call__(self, y, y_pred):
        p = np.clip(y_pred, self.eps, 1 - self.eps)
        return -np.sum(y * np.log(p)) / y.shape[0]


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpyml_mlp(w1, b1, w2, b2, X, Y):
    l1 = FullyConnected({"W": w1, "b": b1}, act="tanh")
    l2 = FullyConnected({"W": w2, "b": b2}, act="affine")
    out = l2.forward(l1.forward(X))
    return CrossEntropy()(Y, softmax(out))


def layers_in_list_loss(params_list, X, y):
    layers = [FullyConnected(p, act) for p, act in zip(params_list, ["tanh", "tanh", "affine"])]
    h = X
    for layer in layers:
        h = layer.forward(h)
    return SquaredError()(y, h)


# ------------------------------------------------------------------ ML-From-Scratch style


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    w0: np.ndarray

    def forward_pass(self, X, training=True):
        return X.dot(self.W) + self.w0


@dataclasses.dataclass
class CachingDense:
    """ML-From-Scratch's Dense keeps its input for its own backward pass."""

    W: np.ndarray
    w0: np.ndarray

    def forward_pass(self, X, training=True):
        self.layer_input = X
        return X.dot(self.W) + self.w0


@dataclasses.dataclass
class Sigmoid:
    def __call__(self, x):
        return 1 / (1 + np.exp(-x))


@dataclasses.dataclass
class LeakyReLU:
    alpha: float = 0.2

    def __call__(self, x):
        return np.where(x >= 0, x, self.alpha * x)


def mlfs_network(W, w0, V, v0, X, y):
    hidden = Dense(W, w0)
    out = Dense(V, v0)
    act = Sigmoid()
    y_pred = act(out.forward_pass(act(hidden.forward_pass(X))))
    return SquaredError.loss(y, y_pred) / len(y)


def mlfs_caching_network(W, w0, X, y):
    y_pred = CachingDense(W, w0).forward_pass(X)
    return np.mean((y_pred - y) ** 2)


def leaky_network(W, w0, X, y):
    act = LeakyReLU(0.1)
    h = act(Dense(W, w0).forward_pass(X))
    return np.mean((h.sum(axis=1) - y) ** 2)


# ------------------------------------------------------------------ optimizers as classes


@dataclasses.dataclass
class StochasticGradientDescent:
    learning_rate: float = 0.01
    momentum: float = 0.0

    def update(self, w, grad_wrt_w, w_updt):
        w_updt = self.momentum * w_updt + (1 - self.momentum) * grad_wrt_w
        return w - self.learning_rate * w_updt, w_updt


def unrolled_sgd_momentum(w, X, y, lr):
    """Three momentum steps on a least-squares model, differentiated through the steps."""
    opt = StochasticGradientDescent(learning_rate=lr, momentum=0.9)
    w_updt = np.zeros_like(w)
    for _ in range(3):
        grad = X.T @ (X @ w - y) / len(y)
        w, w_updt = opt.update(w, grad, w_updt)
    return np.sum((X @ w - y) ** 2)


@dataclasses.dataclass
class Adam:
    lr: float = 0.01
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def step(self, w, g, m, v, t):
        m = self.b1 * m + (1 - self.b1) * g
        v = self.b2 * v + (1 - self.b2) * g**2
        m_hat = m / (1 - self.b1**t)
        v_hat = v / (1 - self.b2**t)
        return w - self.lr * m_hat / (np.sqrt(v_hat) + self.eps), m, v


def unrolled_adam(w, target):
    opt = Adam(lr=0.05)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, 4):
        g = 2 * (w - target) + 0.1 * np.sin(w)
        w, m, v = opt.step(w, g, m, v, t)
    return np.sum((w - target) ** 2)


# ------------------------------------------------------------------ micrograd-style MLP


@dataclasses.dataclass
class Neuron:
    w: np.ndarray
    b: float
    nonlin: bool = True

    def __call__(self, x):
        act = np.dot(self.w, x) + self.b
        return np.tanh(act) if self.nonlin else act


@dataclasses.dataclass
class Layer:
    neurons: list

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else np.array(out)


@dataclasses.dataclass
class MLP:
    layers: list

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def micrograd_loss(model, xs, ys):
    ypred = [model(x) for x in xs]
    data_loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    reg = 1e-3 * sum(np.sum(n.w * n.w) for layer in model.layers for n in layer.neurons)
    return data_loss + reg


def micrograd_svm_loss(model, X, y):
    scores = [model(x) for x in X]
    losses = [np.maximum(0.0, 1 + -yi * si) for yi, si in zip(y, scores)]
    return sum(losses) * (1.0 / len(losses))


def make_mlp(sizes):
    layers = []
    for i, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(Layer([Neuron(0.5 * r(nin), float(r(1)[0]), not last) for _ in range(nout)]))
    return MLP(layers)


# ------------------------------------------------------------------ batch norm, dropout, conv


def batchnorm_train(gamma, beta, X, W, eps=1e-5):
    h = X @ W
    mu = h.mean(axis=0)
    var = h.var(axis=0)
    x_hat = (h - mu) / np.sqrt(var + eps)
    out = gamma * x_hat + beta
    return np.sum(np.tanh(out) ** 2)


def dropout_forward(X, W1, W2, mask, p=0.5):
    h = np.maximum(0, X @ W1)
    h = h * mask / (1 - p)
    return np.sum((h @ W2) ** 2) / X.shape[0]


def im2col(x, k):
    """Columns of every k x k patch of the (C, H, W) image x."""
    C, H, Wd = x.shape
    cols = []
    for i in range(H - k + 1):
        for j in range(Wd - k + 1):
            cols.append(x[:, i : i + k, j : j + k].reshape(-1))
    return np.stack(cols, axis=1)


def conv_im2col(filters, bias, x):
    F, C, k, _ = filters.shape
    cols = im2col(x, k)
    out = filters.reshape(F, -1) @ cols + bias[:, None]
    H_out = x.shape[1] - k + 1
    out = out.reshape(F, H_out, -1)
    return np.sum(np.maximum(out, 0) ** 2) + 0.1 * np.sum(out)


def conv_im2col_maxpool(filters, x):
    F, C, k, _ = filters.shape
    cols = im2col(x, k)
    out = (filters.reshape(F, -1) @ cols).reshape(F, x.shape[1] - k + 1, x.shape[2] - k + 1)
    pooled = out.reshape(F, 2, 2, 2, 2).max(axis=(2, 4))
    return np.sum(pooled**2)


# ------------------------------------------------------------------ attention with einsum


def mha_einsum(Wq, Wk, Wv, Wo, x, n_heads=2):
    T, D = x.shape
    hd = D // n_heads
    q = np.einsum("td,dhe->hte", x, Wq.reshape(D, n_heads, hd))
    k = np.einsum("td,dhe->hte", x, Wk.reshape(D, n_heads, hd))
    v = np.einsum("td,dhe->hte", x, Wv.reshape(D, n_heads, hd))
    att = np.einsum("hte,hse->hts", q, k) / math.sqrt(hd)
    att = softmax(att, axis=-1)
    y = np.einsum("hts,hse->the", att, v).reshape(T, D)
    return np.sum(np.einsum("td,de->te", y, Wo) ** 2)


def cross_attention_batched(Wq, Wkv, x, ctx):
    q = np.einsum("btd,de->bte", x, Wq)
    kv = np.einsum("bsd,de->bse", ctx, Wkv)
    k, v = kv[..., : q.shape[-1]], kv[..., q.shape[-1] :]
    w = softmax(np.einsum("bte,bse->bts", q, k))
    return np.mean(np.einsum("bts,bse->bte", w, v) ** 2)


# ------------------------------------------------------------------ sklearn-style fit losses


def logreg_l2_weighted(coef, X, y, sample_weight, alpha):
    """sklearn's _logistic_loss: w[-1] is the intercept."""
    w, c = coef[:-1], coef[-1]
    z = X @ w + c
    yz = y * z
    out = np.sum(sample_weight * np.logaddexp(0, -yz))
    return out + 0.5 * alpha * np.dot(w, w)


def softmax_regression(W, X, Y, l2=0.1):
    logits = X @ W
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0] + l2 * np.sum(W * W)


def huber_loss_sklearn(w, X, y, epsilon=1.35, alpha=1e-4):
    """HuberRegressor with sigma fixed: quadratic inside epsilon, linear outside."""
    linear_loss = y - X @ w
    abs_linear_loss = np.abs(linear_loss)
    outliers_mask = abs_linear_loss > epsilon
    squared = np.sum(linear_loss[~outliers_mask] ** 2)
    outliers = np.sum(2 * epsilon * abs_linear_loss[outliers_mask] - epsilon**2)
    return squared + outliers + alpha * np.dot(w, w)


def quantile_pinball(w, X, y, quantile=0.8):
    res = y - X @ w
    return np.mean(np.where(res >= 0, quantile * res, (quantile - 1) * res))


def ridge_closed_form_cv(log_alpha, X, y, Xv, yv):
    """Validation error of the ridge solution, differentiated w.r.t. the log penalty."""
    alpha = math.exp(log_alpha)
    A = X.T @ X + alpha * np.eye(X.shape[1])
    w = np.linalg.solve(A, X.T @ y)
    return float(np.mean((Xv @ w - yv) ** 2))


# ------------------------------------------------------------------ cases

X6 = r(6, 4)
Y6 = np.eye(3)[[0, 1, 2, 0, 1, 2]]
MLP_ = make_mlp([3, 4, 4, 1])
XS = [r(3) for _ in range(4)]
YS = [1.0, -1.0, -1.0, 1.0]
PARAMS3 = [
    {"W": 0.5 * r(4, 5), "b": r(5)},
    {"W": 0.5 * r(5, 5), "b": r(5)},
    {"W": 0.5 * r(5, 2), "b": r(2)},
]
MASK = (np.random.default_rng(3).uniform(size=(6, 5)) > 0.5).astype(float)
Xc = r(2, 5, 5)
Xp = r(2, 6, 6)
Xlog = r(8, 3)
ylog = np.sign(r(8))

CASES = [
    Case(
        "numpyml_fc_crossentropy",
        numpyml_mlp,
        (r(4, 5), r(5), r(5, 3), r(3), X6, Y6),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "numpyml_layers_built_from_dicts",
        layers_in_list_loss,
        (PARAMS3, X6, r(6, 2)),
        order=2,
    ),
    Case(
        "mlfs_dense_sigmoid",
        mlfs_network,
        (r(4, 5), r(5), r(5, 2), r(2), X6, r(6, 2)),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("mlfs_leaky_relu_object", leaky_network, (r(4, 5), r(5), X6, r(6)), wrt=(0, 1)),
    Case(
        "sgd_momentum_object_unrolled",
        unrolled_sgd_momentum,
        (r(4), X6, r(6), 0.1),
        wrt=(0, 3),
        order=2,
    ),
    Case("adam_object_unrolled", unrolled_adam, (r(5), r(5)), order=2),
    Case("micrograd_mlp_objects", micrograd_loss, (MLP_, XS, YS), order=2),
    Case("micrograd_svm_hinge", micrograd_svm_loss, (MLP_, XS, YS)),
    Case(
        "batchnorm_train_mode", batchnorm_train, (r(5), r(5), X6, r(4, 5)), wrt=(0, 1, 3), order=2
    ),
    Case("dropout_given_mask", dropout_forward, (X6, r(4, 5), r(5, 2), MASK), wrt=(1, 2), order=2),
    Case("conv_im2col_relu", conv_im2col, (r(3, 2, 3, 3), r(3), Xc), wrt=(0, 1, 2)),
    Case("conv_im2col_maxpool", conv_im2col_maxpool, (r(2, 2, 3, 3), Xp), wrt=(0, 1)),
    Case(
        "mha_einsum_reshape",
        mha_einsum,
        (r(4, 4), r(4, 4), r(4, 4), r(4, 4), r(3, 4)),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "cross_attention_batched_einsum",
        cross_attention_batched,
        (r(4, 3), r(4, 6), r(2, 3, 4), r(2, 5, 4)),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "sklearn_logistic_l2_sample_weight",
        logreg_l2_weighted,
        (r(4), Xlog, ylog, np.abs(r(8)), 0.3),
        wrt=(0, 4),
        order=2,
    ),
    Case("sklearn_softmax_regression", softmax_regression, (r(4, 3), X6, Y6), order=2),
    Case("sklearn_huber_masks", huber_loss_sklearn, (r(4), X6, 2 * r(6))),
    Case("sklearn_quantile_pinball", quantile_pinball, (r(4), X6, r(6))),
    Case(
        "ridge_closed_form_validation",
        ridge_closed_form_cv,
        (0.2, X6, r(6), r(5, 4), r(5)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_ml_from_scratch(case):
    check(case)


def test_layer_that_stores_its_input_runs_as_written():
    """The layer keeps its input for its own backward pass: kept, as Python keeps it."""
    args = (r(4, 2), r(2), X6, r(6, 2))
    check(Case("mlfs_caching_network", mlfs_caching_network, args, order=2))
    layer = CachingDense(args[0], args[1])
    sg.grad(lambda W: np.sum(layer.forward_pass(X6) * W[0, 0]))(args[0])
    np.testing.assert_array_equal(layer.layer_input, X6)
