"""Programs in the styles of "Dive into Deep Learning" (an RNN from scratch: a parameter list
unpacked in the helper, ``H, = state``, outputs appended then concatenated, cross entropy by
fancy indexing; gradient clipping by the global norm inside a meta-step) and of JAX's MLP
tutorial (``for w, b in params[:-1]``, a batched ``predict`` by a comprehension, an inner SGD
step by ``[(w - lr * dw, b - lr * db) for (w, b), (dw, db) in zip(params, grads)]``).
Each against Python's value and central differences on repeated calls."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

logsumexp = pytest.importorskip("scipy.special", reason="the MLP uses scipy").logsumexp
R = np.random.default_rng(25)


def get_params(vocab_size, num_hiddens, rng):
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return rng.standard_normal(size=shape) * 0.1

    W_xh = normal((num_inputs, num_hiddens))
    W_hh = normal((num_hiddens, num_hiddens))
    b_h = np.zeros(num_hiddens)
    W_hq = normal((num_hiddens, num_outputs))
    b_q = np.zeros(num_outputs)
    params = [W_xh, W_hh, b_h, W_hq, b_q]
    return params


def init_rnn_state(batch_size, num_hiddens):
    return (np.zeros((batch_size, num_hiddens)),)


def rnn(inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:
        H = np.tanh(np.dot(X, W_xh) + np.dot(H, W_hh) + b_h)
        Y = np.dot(H, W_hq) + b_q
        outputs.append(Y)
    return np.concatenate(outputs, axis=0), (H,)


def one_hot(X, n):
    return np.eye(n)[X]


def cross_entropy(y_hat, y):
    y_hat = y_hat - y_hat.max(axis=1, keepdims=True)
    log_p = y_hat - np.log(np.exp(y_hat).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean()


def loss_fn(params, X, Y, state):
    y_hat, state = rnn(one_hot(X.T, 6), state, params)
    return cross_entropy(y_hat, Y.T.reshape(-1))


def grad_clipping(grads, theta):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    if norm > theta:
        return [g * theta / norm for g in grads]
    return grads


def clipped_loss(params, X, Y, state):
    g = sg.grad(loss_fn)(params, X, Y, state)
    g = grad_clipping(g, 0.1)
    new = [p - 0.5 * gi for p, gi in zip(params, g)]
    return loss_fn(new, X, Y, state)


P = get_params(6, 5, np.random.default_rng(0))
X = R.integers(0, 6, (2, 4))
Y = R.integers(0, 6, (2, 4))
S = init_rnn_state(2, 5)


def relu(x):
    return np.maximum(0, x)


def predict(params, image):
    activations = image
    for w, b in params[:-1]:
        outputs = np.dot(w, activations) + b
        activations = relu(outputs)
    final_w, final_b = params[-1]
    logits = np.dot(final_w, activations) + final_b
    return logits - logsumexp(logits)


def batched_predict(params, images):
    return np.stack([predict(params, im) for im in images])


def one_hot_labels(x, k, dtype=np.float64):
    return np.array(x[:, None] == np.arange(k), dtype)


def jax_loss(params, images, targets):
    preds = batched_predict(params, images)
    return -np.mean(preds * targets)


def meta_loss(params, images, targets):
    grads = sg.grad(jax_loss)(params, images, targets)
    new = [(w - 0.1 * dw, b - 0.1 * db) for (w, b), (dw, db) in zip(params, grads)]
    return jax_loss(new, images, targets)


def random_layer_params(m, n, rng, scale=1e-1):
    return scale * rng.standard_normal((n, m)), scale * rng.standard_normal((n,))


def init_network_params(sizes, rng):
    return [random_layer_params(m, n, rng) for m, n in zip(sizes[:-1], sizes[1:])]


PARAMS = init_network_params([4, 5, 3], np.random.default_rng(0))
IMGS = R.standard_normal((6, 4))
TGT = one_hot_labels(R.integers(0, 3, 6), 3)


CASES = [
    Case("d2l_rnn", loss_fn, (P, X, Y, S), order=2),
    Case("d2l_clipped_step", clipped_loss, (P, X, Y, S)),
    Case("jax_mlp", jax_loss, (PARAMS, IMGS, TGT), order=2),
    Case("jax_meta_step", meta_loss, (PARAMS, IMGS, TGT)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_tutorial_program(case):
    check(case)
