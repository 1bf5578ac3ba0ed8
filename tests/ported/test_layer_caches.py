"""Layers that keep what a backward pass would need (``self.cache = x``, ``self.mask = x > 0``),
as "from scratch" courses write them, used in a loss whose derivative sourcegrad makes: the
store runs as written (after the call the layer holds what Python leaves there) and never
reads back into the derivative. Where the loss reads what a method it calls as a statement
of its own keeps (`h = layer.forward(x)`, then `layer.out`), the method is inlined and the
read is the value; where it cannot be, the derivative would read it as a constant: refused,
naming the line and the method that stores it. A flag a method the loss never calls sets (``train()`` setting
``self.training``) is read as it is."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import UnsupportedSyntaxError

from .harness import Case, check, numerical, params

rng = np.random.default_rng(101)
X = rng.standard_normal((5, 3))
Y = rng.standard_normal((5, 2))
W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
W2, b2 = rng.standard_normal((4, 2)), rng.standard_normal(2)


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.cache = None

    def forward(self, x):
        self.cache = x
        return x @ self.W + self.b

    def backward(self, dout):
        return dout @ self.W.T, self.cache.T @ dout


class ReLU:
    def forward(self, x):
        mask = x > 0
        self.mask = mask
        return x * mask


class Tanh:
    def forward(self, x):
        out = np.tanh(x)
        self.out = out
        return out

    def backward(self, dout):
        return dout * (1.0 - self.out**2)


class Flagged:
    def __init__(self, W):
        self.W = W
        self.training = False

    def train(self):
        self.training = True

    def forward(self, x):
        h = x @ self.W
        return h * 0.5 if self.training else h


class Model:
    def __init__(self, W, b):
        self.fc = Affine(W, b)

    def forward(self, x):
        return self.fc.forward(x)


def built_in_the_loss(W1, X):
    layers = [Affine(W1, b1), ReLU(), Affine(W2, b2)]
    h = X
    for layer in layers:
        h = layer.forward(h)
    return np.mean((h - Y) ** 2)


NET = [Affine(W1.copy(), b1.copy()), Tanh(), Affine(W2.copy(), b2.copy())]


def global_layers(X):
    h = X
    for layer in NET:
        h = layer.forward(h)
    return np.mean((h - Y) ** 2)


ACTIVATION = Tanh()


def layers_as_argument(layers, X):
    h = X
    for i, layer in enumerate(layers):
        h = layer.forward(h)
        if i < len(layers) - 1:
            h = ACTIVATION.forward(h)
    return np.mean((h - Y) ** 2)


FLAGGED = Flagged(W1)
FLAGGED.train()


def flag_set_outside(X):
    return np.sum(FLAGGED.forward(X) ** 2)


def reads_the_cache(W1, X):
    layer = Tanh()
    h = layer.forward(X @ W1)
    return np.sum(layer.out * h)  # (forward inlined: `layer.out` is the value it stored)


class Exp:  # a method named as NumPy's function: a library's `np.exp` keeps nothing, it does
    def exp(self, x):
        out = np.exp(x)
        self.out = out
        return out


def reads_what_a_method_named_as_numpy_s_keeps(W1, X):
    layer = Exp()
    h = np.tanh(layer.exp(np.tanh(X @ W1)))
    return np.sum(np.exp(h) * layer.out)  # REFUSED


def calls_a_method_reading_it(W1, X):
    layer = Tanh()
    h = layer.forward(X @ W1)
    return np.sum(layer.backward(h))  # REFUSED


def reads_through_a_model(W1, X):
    model = Model(W1, b1)
    h = model.forward(X)
    return np.sum(model.fc.cache * h[:, :3])  # REFUSED


class Recurrent:
    def __init__(self, W):
        self.W = W
        self.h = None

    def step(self, x):
        h = np.tanh(x @ self.W + (0.0 if self.h is None else self.h))
        self.h = h
        return h


def state_kept_in_the_object(W, X):
    cell = Recurrent(W)
    total = 0.0
    for x in X:
        total = total + np.sum(cell.step(x))
    return total


W_SQUARE = rng.standard_normal((3, 3))
CASES = [
    Case("layers built in the loss", built_in_the_loss, (W1, X), order=2),
    Case("global layers, wrt the input", global_layers, (X,), order=2),
    Case("a flag set by a method not called", flag_set_outside, (X,)),
    Case("reads the cache", reads_the_cache, (W1, X), order=2),
    Case(
        "reads what a method named as NumPy's function keeps",
        reads_what_a_method_named_as_numpy_s_keeps,
        (W1, X),
        refused=(UnsupportedSyntaxError, "Exp.exp()"),
    ),
    Case(
        "calls a method reading it",
        calls_a_method_reading_it,
        (W1, X),
        refused=(UnsupportedSyntaxError, "`layer.backward()` reads in `self."),
    ),
    Case(
        "reads through a model",
        reads_through_a_model,
        (W1, X),
        refused=(UnsupportedSyntaxError, "Affine.forward()"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_layer_caches(case):
    check(case)


def test_the_layers_hold_what_python_leaves_in_them():
    df = sg.grad(global_layers)
    for k in range(3):
        x = X * (1.0 + k)
        df(x)
        got = [NET[0].cache.copy(), NET[1].out.copy(), NET[2].cache.copy()]
        global_layers(x)  # Python's own run
        want = [NET[0].cache, NET[1].out, NET[2].cache]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_state_an_object_made_inside_keeps_is_followed():
    """``cell = Recurrent(W)`` made in the loss, its ``step`` reading back ``self.h`` an
    earlier call kept: the object dies with the call, so its state is followed as locals."""
    check(
        Case(
            "state kept in an object made inside", state_kept_in_the_object, (W_SQUARE, X), order=2
        )
    )


def test_layers_as_the_argument_get_their_gradients_and_python_s_caches():
    layers = [Affine(W1.copy(), b1.copy()), Affine(W2.copy(), b2.copy())]
    df = sg.grad(layers_as_argument)
    for _ in range(3):
        grads = df(layers, X)
        cache = layers[1].cache.copy()
        for k, layer in enumerate(layers):
            for field in ("W", "b"):
                value = getattr(layer, field)

                def moved(v, layer=layer, field=field, value=value):
                    setattr(layer, field, v)
                    try:
                        return layers_as_argument(layers, X)
                    finally:
                        setattr(layer, field, value)

                want = numerical(moved, (value,), 0)
                np.testing.assert_allclose(getattr(grads[k], field), want, rtol=1e-6, atol=1e-8)
        layers_as_argument(layers, X)  # what Python leaves in the layers
        np.testing.assert_array_equal(cache, layers[1].cache)


def test_a_kept_value_is_shown_and_exported_as_an_assignment():
    """``self.cache = x`` in the method reads as written in the derivative's source, in the
    code shown, the running code and an export (it ran as ``setattr(self, "cache", x)``)."""
    for text in (
        sg.show(built_in_the_loss, args=(W1, X)),
        sg.show(built_in_the_loss, args=(W1, X), optimized=True),
        sg.show(built_in_the_loss, args=(W1, X), order=2),
        sg.export(built_in_the_loss, W1, X),
    ):
        assert "setattr(" not in text
    shown = sg.show(built_in_the_loss, args=(W1, X))
    assert "    self.cache = x\n" in shown and "    self.mask = mask\n" in shown


SHARED = Affine(np.eye(3), np.zeros(3))


def one_layer_twice(X):
    h = SHARED.forward(X)
    h = SHARED.forward(np.tanh(h))
    return np.sum(h**2)


def test_a_layer_called_twice_keeps_its_last_input_from_the_first_call():
    one_layer_twice(X)
    want = SHARED.cache.copy()
    df = sg.grad(one_layer_twice)
    for _ in range(3):
        SHARED.cache = None
        df(X)
        np.testing.assert_array_equal(SHARED.cache, want)
