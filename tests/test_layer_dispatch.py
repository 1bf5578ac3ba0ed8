"""Layer objects called inside a differentiated function: each call finds the derivative of its
class's ``__call__``, resolved once per class (``callables.as_function``), and reads the
object's own options when it runs. Two objects of one class with different options, an object
replaced between calls, a class whose ``__call__`` is replaced, and a subclass each get their
own derivative: gradients against central differences on calls 1-3 (from the second call on
the optimized code runs)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn
from sourcegrad.callables import as_function
from sourcegrad.nn import functional as F

from .fd import numerical_grad

RNG = np.random.default_rng(15)
X = RNG.standard_normal((2, 2, 5, 5))
LABELS = np.array([1, 0])


def assert_gradients(f, args, calls=3, rtol=1e-6, atol=1e-8):
    """``sg.value_and_grad(f)`` on ``calls`` calls: Python's value, and the gradient of the
    first argument (a list of dicts of arrays) against central differences."""
    df = sg.value_and_grad(f)
    params = args[0]
    expected = [{k: _numeric(f, args, i, k) for k in p} for i, p in enumerate(params)]
    for _ in range(calls):
        value, grads = df(*args)
        assert value == pytest.approx(f(*args), rel=1e-12, abs=1e-12)
        for g, e in zip(grads, expected):
            for k in e:
                np.testing.assert_allclose(g[k], e[k], rtol=rtol, atol=atol, err_msg=k)
    return df


def _numeric(f, args, i, key):
    def at(v):
        params = [dict(p) for p in args[0]]
        params[i][key] = v
        return f(params, *args[1:])

    return numerical_grad(at, (args[0][i][key],), 0)


# --------------------------------------------------------------- two objects of one class
CONV_A = nn.Conv2d(2, 3, 3, padding=1)
CONV_B = nn.Conv2d(3, 2, 3, stride=2, padding=0)
CE_SUM = nn.CrossEntropyLoss("sum")
CE_SMOOTH = nn.CrossEntropyLoss(label_smoothing=0.2)


def two_convs(params, x, labels):
    h = np.tanh(CONV_A(params[0], x))
    h = CONV_B(params[1], h)  # (2, 2, 2, 2)
    logits = h.reshape(2, -1)
    return CE_SUM(logits, labels) + 3.0 * CE_SMOOTH(logits, labels)


def two_convs_by_hand(params, x, labels):
    """The same loss with every option written out (no layer object)."""
    h = np.tanh(F.conv2d(x, params[0]["weight"], params[0]["bias"], 1, 1))
    h = F.conv2d(h, params[1]["weight"], params[1]["bias"], 2, 0)
    logits = h.reshape(2, -1)
    total = F.cross_entropy(logits, labels, "sum")
    return total + 3.0 * F.cross_entropy(logits, labels, "mean", None, -100, 0.2)


def test_two_objects_of_one_class_with_different_options():
    rng = np.random.default_rng(1)
    params = [CONV_A.init(rng), CONV_B.init(rng)]
    df = assert_gradients(two_convs, (params, X, LABELS))
    value, grads = df(params, X, LABELS)
    by_hand_value, by_hand = sg.value_and_grad(two_convs_by_hand)(params, X, LABELS)
    assert value == pytest.approx(by_hand_value, rel=1e-12)
    for g, h in zip(grads, by_hand):
        for k in g:
            np.testing.assert_allclose(g[k], h[k], rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------- objects of Python classes
class Scaled:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, p, h):
        return np.tanh(self.factor * (h @ p["W"]))


class Shifted(Scaled):
    def __call__(self, p, h):
        return np.sin(h @ p["W"] + self.factor)


P = [{"W": RNG.standard_normal((3, 3))}, {"W": RNG.standard_normal((3, 2))}]
H = RNG.standard_normal((4, 3))
FIRST, SECOND = Scaled(2.0), Scaled(-0.5)


def two_scaled(params, h):
    return np.sum(SECOND(params[1], FIRST(params[0], h)) ** 2)


def test_two_objects_of_a_python_class():
    assert_gradients(two_scaled, (P, H))


LAYER = Scaled(1.5)


def through_global_layer(params, h):
    return np.sum(LAYER(params[0], h) ** 2) + np.sum(params[1]["W"] ** 2)


def test_an_object_replaced_between_calls_gives_the_new_objects_derivative():
    global LAYER
    try:
        assert_gradients(through_global_layer, (P, H))
        LAYER = Scaled(-3.0)  # same class, other option
        assert_gradients(through_global_layer, (P, H))
        LAYER = Shifted(0.25)  # a subclass with a __call__ of its own
        assert_gradients(through_global_layer, (P, H))
        LAYER = Scaled(1.5)
        assert_gradients(through_global_layer, (P, H))
    finally:
        LAYER = Scaled(1.5)


def through_list(params, h, layers):
    for layer, p in zip(layers, params):
        h = layer(p, h)
    return np.sum(h**2)


def test_layers_in_a_list_replaced_between_calls():
    layers = [Scaled(0.5), Scaled(2.0)]
    df = sg.value_and_grad(through_list)
    for _ in range(2):
        df(P, H, layers)
    layers[1] = Shifted(-1.0)

    def second(w):
        return through_list([P[0], {"W": w}], H, layers)

    expected = numerical_grad(second, (P[1]["W"],), 0)
    for _ in range(3):
        value, grads = df(P, H, layers)
        assert value == pytest.approx(through_list(P, H, layers), rel=1e-12)
        np.testing.assert_allclose(grads[1]["W"], expected, rtol=1e-6, atol=1e-8)


class Patched:
    def __call__(self, p, h):
        return np.tanh(h @ p["W"])


PATCHED = Patched()


def through_patched(params, h):
    return np.sum(PATCHED(params[0], h) ** 2) + np.sum(params[1]["W"] ** 2)


def test_a_class_whose_call_is_replaced_between_calls():
    original = Patched.__call__
    try:
        assert_gradients(through_patched, (P, H))
        assert as_function(PATCHED, 2) == (original, (PATCHED,))

        def cubed(self, p, h):
            return (h @ p["W"]) ** 3

        Patched.__call__ = cubed
        assert as_function(PATCHED, 2) == (cubed, (PATCHED,))
        assert_gradients(through_patched, (P, H))
    finally:
        Patched.__call__ = original


def test_a_subclass_is_resolved_to_its_own_call():
    assert as_function(FIRST, 2) == (Scaled.__call__, (FIRST,))
    shifted = Shifted(1.0)
    assert as_function(shifted, 2) == (Shifted.__call__, (shifted,))
    assert as_function(FIRST, 2) == (Scaled.__call__, (FIRST,))


def test_a_static_call_is_not_taken_for_a_method():
    """A ``__call__`` that is a staticmethod is no method of the object: refused, every time
    (the class never enters the cache as a class of layer objects)."""

    class Static:
        __call__ = staticmethod(np.tanh)

    for _ in range(2):
        with pytest.raises(sg.SourcegradError, match="not a Python function"):
            as_function(Static(), 1)


# ------------------------------------------- a Sequential's layers reading channels-first data
# A Conv2d in a Sequential hands on its GEMM's result as it lies (channels first, seen as
# NCHW); every layer after it reads that layout. Each model: the Sequential (one primitive,
# the layers' hand-written backward) against the same layers called one by one (each a
# primitive with a contiguous result), values and gradients on calls 1-3.
STACKS = {
    "conv-relu-pool": lambda: [nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)],
    "conv-pool": lambda: [nn.Conv2d(2, 3, 3, padding=1), nn.MaxPool2d(2)],
    "conv-overlapping-pool": lambda: [nn.Conv2d(2, 3, 3, padding=1), nn.MaxPool2d(3, 1, 1)],
    "conv-conv": lambda: [nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(3, 2, 2)],
    "conv-relu-conv-last": lambda: [nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3, padding=1)],
    "conv-tanh-avgpool-flatten": lambda: [
        nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(12, 2),
    ],  # fmt: skip
    "conv-batchnorm-relu-pool": lambda: [
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
    ],  # fmt: skip
    "grouped-relu-pool": lambda: [nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten()],  # fmt: skip
}


def one_by_one(layers):
    def loss(params, x):
        h = x
        for layer, p in zip(layers, params):
            h = layer(p, h) if layer.has_params else layer(h)
        return np.sum(np.sin(h))

    return loss


@pytest.mark.parametrize("name", sorted(STACKS))
def test_a_sequential_agrees_with_its_layers_one_by_one(name):
    layers = STACKS[name]()
    model = nn.Sequential(*layers)
    params = model.init(np.random.default_rng(3))
    x = np.random.default_rng(4).standard_normal((3, 2, 5, 4))

    def loss(params, x):
        return np.sum(np.sin(model(params, x)))

    out = model(params, x)
    reference = one_by_one(layers)
    h = x
    for layer, p in zip(layers, params):
        h = layer(p, h) if layer.has_params else layer(h)
    if "batchnorm" in name:  # its statistics are summed in the order of the memory
        np.testing.assert_allclose(out, h, rtol=1e-13, atol=1e-15)
    else:  # the same products and comparisons, in the same order: the same bits
        np.testing.assert_array_equal(out, h)
    want_value, want = sg.value_and_grad(reference, (0, 1))(params, x)
    df = sg.value_and_grad(loss, (0, 1))
    for _ in range(3):
        value, (dparams, dx) = df(params, x)
        assert value == pytest.approx(want_value, rel=1e-13)
        np.testing.assert_allclose(dx, want[1], rtol=1e-12, atol=1e-13)
        for g, e in zip(dparams, want[0]):
            for k in e:
                np.testing.assert_allclose(g[k], e[k], rtol=1e-12, atol=1e-13, err_msg=k)
