"""The running derivative reads a copied name as the name copied: no ``dh_3 = dh_5`` chains
in the reversed loop of a recurrent network, and the gradient (and Hessian-vector product) still right.
"""

import re

import numpy as np

import sourcegrad as sg
from tests.ported.harness import Case, check_grad


def lstm_loss(params, xs):
    H = params["W_h"].shape[0]
    h = np.zeros((xs.shape[1], H))
    c = np.zeros((xs.shape[1], H))
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"]
        s = 1.0 / (1.0 + np.exp(-z[:, : 3 * H]))
        g = np.tanh(z[:, 3 * H :])
        c = s[:, H : 2 * H] * c + s[:, :H] * g
        h = s[:, 2 * H : 3 * H] * np.tanh(c)
    return np.sum(h**2)


def _args():
    rng = np.random.default_rng(3)
    H, D = 3, 2
    params = {
        "W_x": 0.5 * rng.standard_normal((D, 4 * H)),
        "W_h": 0.5 * rng.standard_normal((H, 4 * H)),
        "b": 0.1 * rng.standard_normal(4 * H),
    }
    return params, rng.standard_normal((4, 2, D))


def rnn_loss(params, xs):
    h = np.zeros(params["W"].shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
    return np.sum(h**2)


def _rnn_args():
    rng = np.random.default_rng(4)
    params = {
        "W": 0.5 * rng.standard_normal((4, 4)),
        "U": rng.standard_normal((4, 3)),
        "b": rng.standard_normal(4),
    }
    return params, rng.standard_normal((5, 3))


def test_shown_source_reads_no_copy_chain():
    # was: dh_5 = dh_6; dh_3 = dh_5, the outer products and the dot reading the copies
    source = sg.show(rnn_loss, args=_rnn_args(), optimized=True)
    copies = re.findall(r"^\s*(d\w+) = (d\w+)$", source, re.M)
    assert not copies, copies
    assert "np.dot(W_T, dh_6)" in source


def test_rnn_value_and_gradient_order_2():
    check_grad(Case("rnn name copies", rnn_loss, _rnn_args(), order=2))


def test_lstm_value_and_gradient_order_2():
    check_grad(Case("lstm name copies", lstm_loss, _args(), order=2, rtol=1e-4, atol=1e-6))


def cross_entropy(W, x, y):
    z = x @ W
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(y * (z - lse)) / x.shape[0]


def _ce_args():
    rng = np.random.default_rng(5)
    return rng.standard_normal((3, 4)), rng.standard_normal((5, 3)), np.eye(4)[[0, 1, 2, 3, 0]]


def test_a_result_copied_to_an_adjoint_is_named_for_it():
    # was: dout_1 = y * -(1.0 / n); dz = dout_1; dlse = (-dout_1).sum(...)
    source = sg.show(cross_entropy, args=_ce_args(), optimized=True)
    copies = re.findall(r"^\s*(d\w+) = (d\w+)$", source, re.M)
    assert not copies, copies


def test_cross_entropy_value_and_gradient_order_2():
    check_grad(Case("cross entropy named result", cross_entropy, _ce_args(), order=2))
