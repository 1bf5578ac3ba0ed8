"""``Sequential`` as one primitive (``sourcegrad.nn.chain``): its backward reuses the forward's
values (each layer runs once per forward pass, never again in the backward), agrees with
the layers differentiated one by one, and higher orders still work."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn
from sourcegrad.nn import chain

RNG = np.random.default_rng(0)


class CountedReLU(nn.ReLU):
    """A ReLU that counts its forward passes."""

    calls = 0

    def forward_with_residuals(self, params, x):
        CountedReLU.calls += 1
        return super().forward_with_residuals(params, x)


def _cnn(*extra):
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), CountedReLU(), nn.MaxPool2d(2), nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1, groups=2), nn.Sigmoid(), nn.AvgPool2d(2, ceil_mode=True),
        nn.Flatten(), *extra, nn.Linear(16, 3),
    )  # fmt: skip


def summed(params, x, model, w):
    return np.sum(np.sin(model(params, x)) * w)


def summed_in_x(x, params, model, w):
    return np.sum(np.sin(model(params, x)) * w)


def one_by_one(params, x, model, w):
    for layer, p in zip(model.layers, params):
        x = layer(p, x) if layer.has_params else layer(x)
    return np.sum(np.sin(x) * w)


def test_each_layer_runs_once_per_forward_pass():
    model = _cnn()
    params, x = model.init(RNG), RNG.standard_normal((2, 2, 6, 6))
    w = RNG.standard_normal((2, 3))
    df = sg.value_and_grad(summed, (0, 1))
    for _ in range(3):
        df(params, x, model, w)
    CountedReLU.calls = 0
    df(params, x, model, w)
    # once: the model's vjp keeps its forward sweep for its adjoint (the derivative of
    # `summed` calls the model's forward half, never `model(params, x)` again)
    assert CountedReLU.calls == 1


@pytest.mark.parametrize("extra", [(), (nn.BatchNorm1d(16), nn.Dropout(0.3).eval())])
def test_agrees_with_the_layers_one_by_one(extra):
    model = _cnn(*extra)
    params, x = model.init(RNG), RNG.standard_normal((2, 2, 6, 6))
    w = RNG.standard_normal((2, 3))
    value, (dp, dx) = sg.value_and_grad(summed, (0, 1))(params, x, model, w)
    ref_value, (ref_dp, ref_dx) = sg.value_and_grad(one_by_one, (0, 1))(params, x, model, w)
    np.testing.assert_allclose(value, ref_value, rtol=1e-13)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-13)
    for got, ref in zip(dp, ref_dp):
        assert set(got) == set(ref)
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-13)


def test_second_order_through_the_chain():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Sequential(nn.Linear(4, 2), nn.GELU()))
    params, x = model.init(RNG), RNG.standard_normal((5, 3))
    w = RNG.standard_normal((5, 2))
    assert sg.gradcheck(summed, params, x, model, w, order=2)
    assert sg.gradcheck(summed_in_x, x, params, model, w, order=2)


def test_dropout_backward_uses_the_forward_mask():
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5, np.random.default_rng(1)))
    params, x = model.init(RNG), RNG.standard_normal((4, 3))
    g = RNG.standard_normal((4, 8))
    out = chain.chain(model, params, x)
    dparams = chain.chain_param_grads(model, params, x, out, g)
    mask = (out != 0) * 2.0
    np.testing.assert_allclose(dparams[0]["bias"], (g * mask).sum(axis=0))


def test_a_lost_trace_runs_the_forward_again():
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    params, x = model.init(RNG), RNG.standard_normal((4, 3))
    g = RNG.standard_normal((4, 2))
    out = chain.chain(model, params, x)
    kept = chain.chain_param_grads(model, params, x, out, g)
    fresh = chain.chain_param_grads(model, params, x, out.copy(), g)
    np.testing.assert_array_equal(kept[0]["weight"], fresh[0]["weight"])
    np.testing.assert_array_equal(
        chain.chain_input_grad(model, params, x, out, g),
        chain.chain_input_grad(model, params, x, out.copy(), g),
    )


def test_empty_sequential_is_the_identity():
    model = nn.Sequential()
    x = RNG.standard_normal((2, 3))
    assert sg.grad(lambda x: np.sum(model([], x) ** 2))(x) == pytest.approx(2 * x)


@pytest.mark.parametrize("last", [nn.Tanh(), nn.Dropout(0.5).eval(), nn.Flatten()])
def test_a_trace_lives_as_long_as_its_output(last):
    model = nn.Sequential(nn.Linear(3, 2), last)
    params, x = model.init(RNG), RNG.standard_normal((4, 3))
    before = len(chain._TRACES)
    out = model(params, x)
    assert len(chain._TRACES) == before + 1
    del out
    assert len(chain._TRACES) == before
