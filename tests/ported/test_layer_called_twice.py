"""Layer objects that keep their input (``self.cache = x``) called more than once in one loss:
twice, three times, in a loop, two layers interleaved, inside a helper, inside a model that
calls its own layers twice, and a layer passed as the argument. After every call of the
derivative (the pure build first, the optimized one from the second), of its hvp and of an
exported module, each object holds exactly what Python's own run of the loss leaves in it
(the last call's input), and the gradients match central differences."""

import copy

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, assert_tree_close, check_grad, numerical

rng = np.random.default_rng(2024)
X = rng.standard_normal((4, 3))
CALLS = 3


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.cache = None

    def forward(self, x):
        self.cache = x
        return x @ self.W + self.b


class Squash:
    def __init__(self, s):
        self.s = s

    def forward(self, x):
        self.given = x
        out = np.tanh(self.s * x)
        self.out = out
        return out


A = Affine(0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3))
B = Squash(0.7)


class Model:
    def __init__(self):
        self.fc = Affine(0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3))
        self.act = Squash(1.3)

    def forward(self, x):
        h = self.act.forward(self.fc.forward(x))
        return self.act.forward(self.fc.forward(h))


MODEL = Model()


def twice(X):
    h = A.forward(X)
    return np.sum(A.forward(np.tanh(h)) ** 2)


def three_times(X):
    h = A.forward(X)
    h = A.forward(np.sin(h))
    h = A.forward(np.tanh(h))
    return np.sum(h**2)


def in_a_loop(X):
    h = X
    for _ in range(3):
        h = np.tanh(A.forward(h))
    return np.sum(h**2)


def over_the_rows(X):
    total = 0.0
    for x in X:
        total = total + np.sum(B.forward(A.forward(x)) ** 2)
    return total


def interleaved(X):
    h = B.forward(A.forward(X))
    h = B.forward(A.forward(h))
    return np.sum(h * h)


def block(x):
    return B.forward(A.forward(x))


def in_a_helper(X):
    return np.sum(block(block(X)) ** 2)


def model_twice(X):
    return np.sum(MODEL.forward(np.tanh(MODEL.forward(X))) ** 2)


def layer_as_argument(layer, X):
    h = layer.forward(X)
    return np.sum(layer.forward(np.tanh(h)) ** 2)


def state():
    """What the objects hold, copied."""
    objects = (A, B, MODEL.fc, MODEL.act)
    return copy.deepcopy([dict(vars(o)) for o in objects])


def scramble():
    """The attributes the losses store, set to a value no run leaves."""
    for obj, names in ((A, ("cache",)), (B, ("given", "out")), (MODEL.fc, ("cache",))):
        for name in names:
            setattr(obj, name, np.full((1,), -7.0))


def assert_same_state(got, want, what):
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w), what
        for k in w:
            np.testing.assert_array_equal(g[k], w[k], err_msg=f"{what}: {k}")


PROGRAMS = [twice, three_times, in_a_loop, over_the_rows, interleaved, in_a_helper, model_twice]


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_the_objects_hold_what_python_leaves_after_every_call(f):
    df = sg.value_and_grad(f)
    for k in range(CALLS):
        x = X * (1.0 + 0.25 * k)
        scramble()
        value, g = df(x)
        got = state()
        scramble()
        want_value = f(x)  # Python's own run
        assert_same_state(got, state(), f"{f.__name__}, call {k}")
        np.testing.assert_allclose(value, want_value, rtol=1e-12, atol=1e-12)
        assert_tree_close(g, numerical(f, (x,), 0), 1e-5, 1e-6, f"{f.__name__}, call {k}")


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_gradient_and_hvp_against_finite_differences(f):
    check_grad(Case(f.__name__, f, (X,), order=2))  # the hvp too (order 2)


@pytest.mark.parametrize("f", [twice, interleaved, in_a_helper], ids=lambda f: f.__name__)
def test_the_hvp_leaves_what_python_leaves(f):
    hf = sg.hvp(f)
    v = rng.standard_normal(X.shape)
    for k in range(CALLS):
        scramble()
        hf(X, v)
        got = state()
        scramble()
        f(X)
        assert_same_state(got, state(), f"hvp of {f.__name__}, call {k}")


@pytest.mark.parametrize("f", [twice, in_a_loop], ids=lambda f: f.__name__)
def test_the_exported_module_leaves_what_python_leaves(f):
    """The exported module holds its own copy of the layer ``A``."""
    module: dict = {}
    exec(compile(sg.export(f, X), "exported", "exec"), module)
    for k in range(CALLS):
        x = X * (1.0 + 0.25 * k)
        module["A"].cache = None
        module["d_" + f.__name__](x)
        f(x)
        np.testing.assert_array_equal(module["A"].cache, A.cache, err_msg=f"call {k}")


def test_a_layer_passed_as_the_argument_called_twice():
    layer = Affine(0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3))
    df = sg.grad(layer_as_argument, (0, 1))
    for k in range(CALLS):
        x = X * (1.0 + 0.25 * k)
        layer.cache = None
        g_layer, g_x = df(layer, x)
        got = layer.cache.copy()
        layer_as_argument(layer, x)
        np.testing.assert_array_equal(got, layer.cache)
        assert_tree_close(g_x, numerical(layer_as_argument, (layer, x), 1), 1e-5, 1e-6, "dx")
        for field in ("W", "b"):
            value = getattr(layer, field)

            def moved(v, field=field, value=value, x=x):
                setattr(layer, field, v)
                try:
                    return layer_as_argument(layer, x)
                finally:
                    setattr(layer, field, value)

            want = numerical(moved, (value,), 0)
            np.testing.assert_allclose(getattr(g_layer, field), want, rtol=1e-6, atol=1e-8)


def test_a_layer_called_once_takes_nothing_back():
    """Called once, the second store of the adjoint is the same store: the derivative holds
    and puts back nothing."""
    text = sg.show(block, args=(X,))
    assert "held_state" not in text and "put_back_state" not in text
    shown = sg.show(twice, args=(X,))
    assert "held = held_state(A)" in shown and "put_back_state(held)" in shown


def once_here_once_in_the_helper(X):
    h = A.forward(X)
    return np.sum(block(np.tanh(h)) ** 2)


def test_a_layer_called_by_the_loss_and_by_its_helper():
    df = sg.grad(once_here_once_in_the_helper)
    for k in range(CALLS):
        x = X * (1.0 + 0.25 * k)
        scramble()
        g = df(x)
        got = state()
        scramble()
        once_here_once_in_the_helper(x)
        assert_same_state(got, state(), f"call {k}")
        want = numerical(once_here_once_in_the_helper, (x,), 0)
        assert_tree_close(g, want, 1e-5, 1e-6, f"call {k}")


def test_the_hvp_through_a_layer_passed_as_the_argument():
    layer = Affine(0.5 * rng.standard_normal((3, 3)), rng.standard_normal(3))
    v = rng.standard_normal(X.shape)
    grad = sg.grad(layer_as_argument, 1)
    want = (grad(layer, X + 1e-5 * v) - grad(layer, X - 1e-5 * v)) / 2e-5
    hf = sg.hvp(layer_as_argument, 1)
    for k in range(CALLS):
        layer.cache = None
        got = hf(layer, X, v)
        cache = layer.cache.copy()
        layer_as_argument(layer, X)
        np.testing.assert_array_equal(cache, layer.cache, err_msg=f"call {k}")
        assert_tree_close(got, want, 1e-5, 1e-6, f"call {k}")


SAME_TWICE = [A, A]


def one_layer_twice_in_a_list(X):
    h = X
    for layer in SAME_TWICE:
        h = np.tanh(layer.forward(h))
    return np.sum(h**2)


def test_one_layer_twice_in_a_list_of_function_values():
    """Its class is known only when the derivative runs, so its stores are not followed: the
    first call's adjoint no longer runs its forward again (kept calls), which stored the
    first input last."""
    df = sg.grad(one_layer_twice_in_a_list)
    for k in range(CALLS):
        scramble()
        df(X)
        got = state()
        scramble()
        one_layer_twice_in_a_list(X)
        assert_same_state(got, state(), f"call {k}")
