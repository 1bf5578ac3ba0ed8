"""Losses using sourcegrad's library (an ``sg.nn`` Sequential and an ``sg.model`` network held
in globals, ``sg.nn`` layers made in the loss): exported with the library code they reach,
tested by tests/test_export_library.py."""

import numpy as np

import sourcegrad as sg
from sourcegrad import nn

MODEL = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
CRITERION = nn.MSELoss()


def nn_loss(params, x, y):
    return CRITERION(MODEL(params, x), y)


def nn_args(seed=0):
    rng = np.random.default_rng(seed)
    return MODEL.init(rng), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


NET, NET_PARAMS = sg.model.NeuralNetwork(3, (5, 2), "Tanh", rng=0)


def model_loss(params, x, y):
    return np.mean((NET(params, x) - y) ** 2)


def model_args(seed=0):
    rng = np.random.default_rng(seed)
    return NET_PARAMS, rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def functional_loss(params, x, labels):
    logits = nn.Linear(3, 4)(params, np.tanh(x))
    return nn.CrossEntropyLoss()(logits, labels)


def functional_args(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Linear(3, 4).init(rng), rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
