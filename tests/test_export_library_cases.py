"""Losses built with sourcegrad's library, exported by tests/test_export_library.py: an MLP
written with ``nn.functional``, the same read through ``sg``, ``sg.nn`` layer objects held in
globals, ``nn.functional.lstm``, ``sg.model`` recurrent and feed-forward networks, and the
losses of tests/export_nn_cases.py (a Sequential, a network, layers made in the loss)."""

import numpy as np

import sourcegrad as sg
from sourcegrad import nn

from . import export_nn_cases as n

F = nn.functional


# ---------------------------------------------------------------------------- the losses
def mlp_loss(params, x, labels):
    h = F.relu(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    p = F.softmax(logits, 1)
    logp = F.log_softmax(logits, 1)
    return F.cross_entropy(logits, labels) + 0.1 * np.sum(p * logp)


def mlp_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.standard_normal((4, 6)),
        "b1": rng.standard_normal(6),
        "W2": rng.standard_normal((6, 3)),
        "b2": rng.standard_normal(3),
    }
    return params, rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])


def sg_read_loss(params, x, labels):
    h = sg.nn.functional.sigmoid(x @ params["W1"] + params["b1"])
    return sg.loss.cross_entropy(h @ params["W2"] + params["b2"], labels)


CONV = nn.Conv2d(2, 3, 3, padding=1)
POOL = nn.MaxPool2d(2)
NORM = nn.LayerNorm(12)
DROP = nn.Dropout(0.5).eval()
HEAD = nn.Linear(12, 4)


def layers_loss(params, x, labels):
    h = POOL(CONV(params["conv"], x))
    h = np.tanh(h.reshape(h.shape[0], -1))
    h = DROP(NORM(params["norm"], h))
    return nn.CrossEntropyLoss()(HEAD(params["head"], h), labels)


def layers_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {"conv": CONV.init(rng), "norm": NORM.init(rng), "head": HEAD.init(rng)}
    return params, rng.standard_normal((3, 2, 4, 4)), np.array([0, 3, 1])


def lstm_loss(params, x):
    hs, (h, c) = F.lstm(x, params["w_ih"], params["w_hh"], params["b_ih"], params["b_hh"])
    return np.sum(hs * hs) + np.sum(h * c)


def lstm_args(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "w_ih": 0.5 * rng.standard_normal((12, 2)),
        "w_hh": 0.5 * rng.standard_normal((12, 3)),
        "b_ih": rng.standard_normal(12),
        "b_hh": rng.standard_normal(12),
    }
    return params, rng.standard_normal((4, 2, 2))


LSTM_NET, LSTM_PARAMS = sg.model.RecurrentLSTMNetwork(2, 3, rng=0)


def lstm_net_loss(params, x, y):
    return np.mean((LSTM_NET(params, x) - y) ** 2)


def lstm_net_args(seed=0):
    rng = np.random.default_rng(seed)
    return LSTM_PARAMS, rng.standard_normal((4, 2, 2)), rng.standard_normal((2, 3))


NET, NET_PARAMS = sg.model.NeuralNetwork(3, (5, 2), "Tanh", rng=0)


def net_loss(params, x, y):
    return np.mean((NET(params, x) - y) ** 2)


def net_args(seed=0):
    rng = np.random.default_rng(seed)
    return NET_PARAMS, rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


CASES = {
    "an MLP with nn.functional": (mlp_loss, mlp_args),
    "sg.nn.functional and sg.loss read through sg": (sg_read_loss, mlp_args),
    "sg.nn layer objects: Conv2d, MaxPool2d, LayerNorm, Dropout (eval), Linear": (
        layers_loss,
        layers_args,
    ),
    "nn.functional.lstm": (lstm_loss, lstm_args),
    "an sg.model LSTM network": (lstm_net_loss, lstm_net_args),
    "an sg.model feed-forward network": (net_loss, net_args),
    "an sg.nn Sequential and a criterion held in globals": (n.nn_loss, n.nn_args),
    "an sg.model network held in a global": (n.model_loss, n.model_args),
    "sg.nn layers made in the loss": (n.functional_loss, n.functional_args),
}
