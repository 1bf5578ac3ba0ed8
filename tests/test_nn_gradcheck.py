"""sourcegrad.nn layers and criteria pass sg.gradcheck (central differences, later calls
agree exactly) with respect to the input and every parameter at once, to first order, and
to second order (jvp and Hessian-vector products) where the maths is smooth. Needs no torch."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn


def packed(both, layer, w):
    """A layer with parameters; ``both = (params, x)`` so that one gradcheck covers all."""
    params, x = both
    return np.sum(np.sin(layer(params, x)) * w)


def free(x, layer, w):
    return np.sum(np.sin(layer(x)) * w)


def criterion_of(both, criterion, target):
    input, t = both
    return np.sum(criterion(input, t) ** 2)


def criterion_of_input(input, criterion, target):
    return np.sum(criterion(input, target) ** 2)


RNG = np.random.default_rng(0)

WITH_PARAMS = [
    (nn.Linear(4, 3), (5, 4), 2),
    (nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5), 2),
    (nn.Conv2d(2, 2, (2, 3), dilation=(2, 1), bias=False), (1, 2, 5, 6), 2),
    (nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 4, 5), 2),
    (nn.Conv2d(3, 3, 2, stride=2, groups=3), (1, 3, 5, 4), 2),
    (nn.BatchNorm1d(3), (6, 3), 2),
    (nn.BatchNorm2d(2), (3, 2, 3, 3), 2),
    (nn.BatchNorm2d(2).eval(), (3, 2, 3, 3), 2),
    (nn.LayerNorm((2, 3)), (4, 2, 3), 2),
]


@pytest.mark.parametrize("layer, shape, order", WITH_PARAMS, ids=lambda v: type(v).__name__)
def test_layer_with_parameters(layer, shape, order):
    rng = np.random.default_rng(1)
    params = {k: v + 0.2 * rng.standard_normal(v.shape) for k, v in layer.init(rng).items()}
    x = rng.standard_normal(shape)
    w = rng.standard_normal(layer(params, x).shape)
    assert sg.gradcheck(packed, (params, x), layer, w, order=order)


def embedded(params, indices, layer, w):
    return np.sum(np.sin(layer(params, indices)) * w)


def test_embedding():
    layer = nn.Embedding(5, 3)
    indices = np.array([[0, 4, 4], [1, 0, 2]])
    w = RNG.standard_normal((2, 3, 3))
    assert sg.gradcheck(embedded, layer.init(RNG), indices, layer, w, order=2)


FREE = [
    (nn.ReLU(), 2),
    (nn.Tanh(), 2),
    (nn.Sigmoid(), 2),
    (nn.GELU(), 2),
    (nn.GELU("tanh"), 2),
    (nn.SoftMax(1), 2),
    (nn.LogSoftMax(), 2),
    (nn.MaxPool2d(2), 2),
    (nn.MaxPool2d(3, stride=2, padding=1), 1),
    (nn.AvgPool2d(3, stride=2, padding=1), 2),
    (nn.MaxPool2d(3, stride=2, ceil_mode=True), 1),
    (nn.AvgPool2d(3, stride=2, ceil_mode=True), 2),
    (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), 2),
    (nn.Flatten(), 2),
    (nn.Reshape(3, 24), 2),
    (nn.Dropout(0.5).eval(), 2),
]


@pytest.mark.parametrize("layer, order", FREE, ids=lambda v: type(v).__name__)
def test_layer_without_parameters(layer, order):
    x = RNG.standard_normal((2, 3, 4, 6))
    w = RNG.standard_normal(layer(x).shape)
    assert sg.gradcheck(free, x, layer, w, order=order)


LOGITS = RNG.standard_normal((4, 3))
PROBS = np.random.default_rng(2).dirichlet(np.ones(3), 4)
UNIT = np.random.default_rng(3).uniform(0.1, 0.9, (4, 3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "criterion, input, target",
    [
        (nn.MSELoss, LOGITS, PROBS),
        (nn.CrossEntropyLoss, LOGITS, PROBS),
        (nn.NLLLoss, LOGITS, PROBS),
        (nn.BCELoss, UNIT, PROBS),
        (nn.BCEWithLogitsLoss, LOGITS, PROBS),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_criterion_input_and_target(criterion, input, target, reduction):
    assert sg.gradcheck(criterion_of, (input, target), criterion(reduction), None, order=2)


@pytest.mark.parametrize("criterion", [nn.CrossEntropyLoss, nn.NLLLoss])
def test_criterion_with_labels(criterion):
    labels = np.array([2, 0, 1, 1])
    assert sg.gradcheck(criterion_of_input, LOGITS, criterion(), labels, order=2)


WEIGHT = np.array([0.5, 2.0, 1.5])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "options",
    [dict(weight=WEIGHT), dict(label_smoothing=0.2), dict(weight=WEIGHT, label_smoothing=0.1)],
)
def test_cross_entropy_options_input_and_target(reduction, options):
    criterion = nn.CrossEntropyLoss(reduction, **options)
    assert sg.gradcheck(criterion_of, (LOGITS, PROBS), criterion, None, order=2)


@pytest.mark.parametrize(
    "criterion",
    [
        nn.CrossEntropyLoss(weight=WEIGHT, ignore_index=1, label_smoothing=0.2),
        nn.CrossEntropyLoss("sum", weight=WEIGHT, ignore_index=0),
        nn.NLLLoss(weight=WEIGHT, ignore_index=2),
        nn.NLLLoss("none", weight=WEIGHT),
    ],
)
def test_criterion_options_with_labels(criterion):
    labels = np.array([2, 0, 1, 1])
    assert sg.gradcheck(criterion_of_input, LOGITS, criterion, labels, order=2)
