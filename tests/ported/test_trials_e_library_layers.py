"""Layers, activations and losses as ML-From-Scratch (eriklindernoren) and numpy-ml
(ddbourgin) write them: an activation class with ``__call__`` and ``gradient``, a
``Layer`` base class with ``forward_pass(X, training=True)`` keeping ``self.layer_input``,
a ``NeuralNetwork`` given its layers, numpy-ml's ``ActivationBase`` with ``fn`` called
from ``__call__``, ``self.parameters`` dicts, ``self.X.append(X)`` caches, static ``loss``
methods, properties, class attributes and subclasses overriding a hook. Each against
Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, marked_line, params

R = np.random.default_rng(9505)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ ML-From-Scratch


class Sigmoid:
    def __call__(self, x):
        return 1 / (1 + np.exp(-x))

    def gradient(self, x):
        return self.__call__(x) * (1 - self.__call__(x))


class Softmax:
    def __call__(self, x):
        e_x = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e_x / np.sum(e_x, axis=-1, keepdims=True)


class TanH:
    def __call__(self, x):
        return 2 / (1 + np.exp(-2 * x)) - 1


class ELU:
    def __init__(self, alpha=0.1):
        self.alpha = alpha

    def __call__(self, x):
        return np.where(x >= 0.0, x, self.alpha * (np.exp(x) - 1))


class SELU:
    def __init__(self):
        self.alpha = 1.6732632423543772848170429916717
        self.scale = 1.0507009873554804934193349852946

    def __call__(self, x):
        return self.scale * np.where(x >= 0.0, x, self.alpha * (np.exp(x) - 1))


class SoftPlus:
    def __call__(self, x):
        return np.log(1 + np.exp(x))


activation_functions = {
    "sigmoid": Sigmoid,
    "softmax": Softmax,
    "tanh": TanH,
    "elu": ELU,
    "selu": SELU,
    "softplus": SoftPlus,
}


class Layer:
    def set_input_shape(self, shape):
        self.input_shape = shape

    def layer_name(self):
        return self.__class__.__name__

    def forward_pass(self, X, training):
        raise NotImplementedError()


class Dense(Layer):
    def __init__(self, W, w0):
        self.W = W
        self.w0 = w0
        self.trainable = True

    def forward_pass(self, X, training=True):
        self.layer_input = X
        return X.dot(self.W) + self.w0


class Activation(Layer):
    def __init__(self, name):
        self.activation_name = name
        self.activation_func = activation_functions[name]()
        self.trainable = True

    def forward_pass(self, X, training=True):
        self.layer_input = X
        return self.activation_func(X)


class BatchNormalization(Layer):
    def __init__(self, gamma, beta, momentum=0.99):
        self.momentum = momentum
        self.eps = 0.01
        self.gamma = gamma
        self.beta = beta

    def forward_pass(self, X, training=True):
        mean = np.mean(X, axis=0)
        var = np.var(X, axis=0)
        self.X_centered = X - mean
        self.stddev_inv = 1 / np.sqrt(var + self.eps)
        X_norm = (X - mean) / np.sqrt(var + self.eps)
        return self.gamma * X_norm + self.beta


class Dropout(Layer):
    def __init__(self, mask, p=0.2):
        self.p = p
        self._mask = mask

    def forward_pass(self, X, training=True):
        c = 1 - self.p
        if training:
            c = self._mask
        return X * c


class Loss:
    def loss(self, y_true, y_pred):
        raise NotImplementedError()


class SquareLoss(Loss):
    def loss(self, y, y_pred):
        return 0.5 * np.power((y - y_pred), 2)


class CrossEntropy(Loss):
    def loss(self, y, p):
        p = np.clip(p, 1e-15, 1 - 1e-15)
        return -y * np.log(p) - (1 - y) * np.log(1 - p)


class NeuralNetwork:
    def __init__(self, layers, loss):
        self.layers = layers
        self.loss_function = loss()

    def _forward_pass(self, X, training=True):
        layer_output = X
        for layer in self.layers:
            layer_output = layer.forward_pass(layer_output, training)
        return layer_output

    def test_on_batch(self, X, y):
        y_pred = self._forward_pass(X, training=False)
        loss = np.mean(self.loss_function.loss(y, y_pred))
        return loss


def mlfs_network(W1, b1, W2, b2, X, y):
    model = NeuralNetwork(
        [Dense(W1, b1), Activation("tanh"), Dense(W2, b2), Activation("softmax")], CrossEntropy
    )
    return model.test_on_batch(X, y)


def mlfs_every_activation(W, b, X, y):
    total = 0.0
    for name in ["sigmoid", "tanh", "elu", "selu", "softplus"]:
        net = NeuralNetwork([Dense(W, b), Activation(name)], SquareLoss)
        total = total + net.test_on_batch(X, y)
    return total


def mlfs_batchnorm_dropout(W, b, gamma, beta, X, y, mask):
    layers = [Dense(W, b), BatchNormalization(gamma, beta), Activation("elu"), Dropout(mask)]
    h = X
    for layer in layers:
        h = layer.forward_pass(h, training=True)
    return np.mean(SquareLoss().loss(y, h))


def mlfs_sigmoid_gradient_as_value(x):
    """The activation's hand-written gradient used as a value (a penalty on it)."""
    s = Sigmoid()
    return np.sum(s(x)) + np.sum(s.gradient(x) ** 2)


# ------------------------------------------------------------------ numpy-ml


class ActivationBase:
    def __call__(self, z):
        if z.ndim == 1:
            z = z.reshape(1, -1)
        return self.fn(z)

    def fn(self, z):
        raise NotImplementedError


class LeakyReLU(ActivationBase):
    def __init__(self, alpha=0.3):
        self.alpha = alpha
        super().__init__()

    def __str__(self):
        return f"Leaky ReLU(alpha={self.alpha})"

    def fn(self, z):
        _z = z.copy()
        _z[z < 0] = _z[z < 0] * self.alpha
        return _z


class GELU(ActivationBase):
    def __init__(self, approximate=True):
        self.approximate = approximate
        super().__init__()

    def fn(self, z):
        pi, sqrt, tanh = np.pi, np.sqrt, np.tanh
        if self.approximate:
            return 0.5 * z * (1 + tanh(sqrt(2 / pi) * (z + 0.044715 * z**3)))
        from scipy.special import erf

        return 0.5 * z * (1 + erf(z / sqrt(2)))


class SoftPlusML(ActivationBase):
    def fn(self, z):
        return np.log(np.exp(z) + 1)


class FullyConnected:
    def __init__(self, W, b, act_fn):
        self.parameters = {"W": W, "b": b}
        self.act_fn = act_fn
        self.X = []

    def forward(self, X, retain_derived=True):
        Y, Z = self._fwd(X)
        if retain_derived:
            self.X.append(X)  # REFUSED
        return Y

    def _fwd(self, X):
        W = self.parameters["W"]
        b = self.parameters["b"]
        Z = X @ W + b
        Y = self.act_fn(Z)
        return Y, Z


class FullyConnectedNoCache(FullyConnected):
    """The same layer with numpy-ml's cache left out (what the refusal advises)."""

    def forward(self, X, retain_derived=True):
        Y, Z = self._fwd(X)
        return Y


class SquaredError:
    def __call__(self, y, y_pred):
        return self.loss(y, y_pred)

    @staticmethod
    def loss(y, y_pred):
        return 0.5 * np.linalg.norm(y_pred - y) ** 2


class CrossEntropyML:
    def __call__(self, y, y_pred):
        return self.loss(y, y_pred)

    @staticmethod
    def loss(y, y_pred):
        eps = np.finfo(float).eps
        cross_entropy = -np.sum(y * np.log(y_pred + eps))
        return cross_entropy


def numpyml_two_layers(W1, b1, W2, b2, X, y):
    fc1 = FullyConnectedNoCache(W1, b1, LeakyReLU(0.2))
    fc2 = FullyConnectedNoCache(W2, b2, GELU())
    return SquaredError()(y, fc2.forward(fc1.forward(X)))


def numpyml_exact_gelu(W1, b1, X, y):
    fc = FullyConnectedNoCache(W1, b1, GELU(approximate=False))
    return SquaredError.loss(y, fc.forward(X, retain_derived=False))


def numpyml_softmax_ce(W1, b1, X, Y):
    fc = FullyConnectedNoCache(W1, b1, SoftPlusML())
    logits = fc.forward(X)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return CrossEntropyML()(Y, e / e.sum(axis=1, keepdims=True))


def numpyml_cached_layer(W1, b1, X, y):
    return SquaredError.loss(y, FullyConnected(W1, b1, GELU()).forward(X))


def numpyml_one_dim_input(W1, b1, x, y):
    act = LeakyReLU()
    return SquaredError.loss(y, act(x @ W1 + b1))


# ------------------------------------------------------------------ properties and hooks


class Gaussian:
    def __init__(self, mu, log_sigma):
        self.mu = mu
        self.log_sigma = log_sigma

    @property
    def sigma(self):
        return np.exp(self.log_sigma)

    @property
    def var(self):
        return self.sigma**2

    def log_prob(self, x):
        return -0.5 * ((x - self.mu) ** 2 / self.var + np.log(2 * math.pi * self.var))

    @classmethod
    def standard(cls, shape):
        return cls(np.zeros(shape), np.zeros(shape))

    def kl(self, other):
        return (
            other.log_sigma
            - self.log_sigma
            + (self.var + (self.mu - other.mu) ** 2) / (2 * other.var)
            - 0.5
        )


class StudentT(Gaussian):
    nu = 4.0

    def log_prob(self, x):
        z = (x - self.mu) / self.sigma
        return -0.5 * (self.nu + 1) * np.log1p(z**2 / self.nu) - self.log_sigma


def distributions_with_properties(mu, log_sigma, x):
    q = Gaussian(mu, log_sigma)
    prior = Gaussian.standard(mu.shape)
    robust = StudentT(mu, log_sigma)
    return -np.sum(q.log_prob(x)) + np.sum(q.kl(prior)) - np.sum(robust.log_prob(x))


X8 = r(8, 3)
Y8 = np.eye(2)[R.integers(0, 2, 8)]
yr = r(8, 2)
MASK = (R.uniform(size=(8, 4)) > 0.25) / 0.75

CASES = [
    Case(
        "mlfs_network_class",
        mlfs_network,
        (r(3, 4), r(4), r(4, 2), r(2), X8, Y8),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "mlfs_activation_registry",
        mlfs_every_activation,
        (r(3, 2), r(2), X8, yr),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "mlfs_batchnorm_dropout_layers",
        mlfs_batchnorm_dropout,
        (r(3, 4), r(4), 1 + 0.1 * r(4), r(4), X8, r(8, 4), MASK),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("mlfs_gradient_method_as_value", mlfs_sigmoid_gradient_as_value, (r(5),), order=2),
    Case(
        "numpyml_two_layers",
        numpyml_two_layers,
        (r(3, 4), r(4), r(4, 2), r(2), X8, yr),
        wrt=(0, 1, 2, 3),
    ),
    Case(
        "numpyml_exact_gelu_local_import",
        numpyml_exact_gelu,
        (r(3, 2), r(2), X8, yr),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "numpyml_softmax_cross_entropy",
        numpyml_softmax_ce,
        (r(3, 2), r(2), X8, Y8),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "numpyml_one_dim_reshaped",
        numpyml_one_dim_input,
        (r(3, 2), r(2), r(3), r(1, 2)),
        wrt=(0, 1),
    ),
    Case(
        "properties_classmethod_subclass",
        distributions_with_properties,
        (r(4), 0.3 * r(4), r(4)),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_library_layers(case):
    check(case)


def test_layer_appending_to_its_cache_is_refused_at_its_line():
    """numpy-ml's ``self.X.append(X)`` changes a list the object holds: refused at that
    line of the method, the way out saying the cache is not needed."""
    for _ in range(2):
        with pytest.raises(sg.UnsupportedSyntaxError) as info:
            sg.grad(numpyml_cached_layer)(r(3, 2), r(2), X8, yr)
        where = f"{__file__}:{marked_line(FullyConnected.forward)}: "
        assert str(info.value).startswith(where), str(info.value)
        assert "leave it out of the code you differentiate" in str(info.value)
