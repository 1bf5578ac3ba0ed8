"""An object whose class defines ``__call__`` (a model, a layer, as PyTorch users write them)
is differentiated as its bound ``__call__``, by every transformation; a library function
handed over itself (``sg.grad(np.sum)``) is refused with a way out that names it."""

import math

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import numerical

rng = np.random.default_rng(5)
X = rng.standard_normal((4, 3))
W = rng.standard_normal((3, 2))


class Model:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, W, X):
        return self.scale * np.sum(np.tanh(X @ W) ** 2)


class Scaled(Model):  # __call__ inherited
    pass


@pytest.mark.parametrize("model", [Model(2.0), Scaled(0.5)], ids=["own", "inherited"])
def test_a_callable_object_is_differentiated_as_its_call(model):
    df, vg = sg.grad(model), sg.value_and_grad(model)
    want = numerical(model, (W, X), 0)
    for _ in range(3):
        np.testing.assert_allclose(df(W, X), want, rtol=1e-6, atol=1e-8)
        value, g = vg(W, X)
        assert value == model(W, X)
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    gx = sg.grad(model, wrt=1)(W, X)
    np.testing.assert_allclose(gx, numerical(model, (W, X), 1), rtol=1e-6, atol=1e-8)
    v = rng.standard_normal(W.shape)
    hv = sg.hvp(model)(W, X, v)
    fd = (df(W + 1e-5 * v, X) - df(W - 1e-5 * v, X)) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)
    assert "np.tanh" in sg.show(model, args=(W, X))


@pytest.mark.parametrize(
    "fn, name", [(np.sum, "np.sum"), (math.sin, "math.sin")], ids=["numpy", "math"]
)
def test_a_library_function_itself_is_refused_with_a_wrapper_to_write(fn, name):
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(fn)(X if fn is np.sum else 1.0)
    assert f"`{name}` is a library function" in str(info.value)
    assert f"sourcegrad.grad(lambda x: {name}(x))" in str(info.value)
