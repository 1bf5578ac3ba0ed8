"""sourcegrad.nn.functionalize of a torch.nn.Module: torch computes the output and its
derivatives through primitives; the gradients agree with torch's own to 1e-12."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn

torch = pytest.importorskip("torch", reason="torch is needed for torch modules")

torch.manual_seed(0)
NET = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
NET_F, NET_PARAMS = nn.functionalize(NET)


def loss(params, x, y):
    return np.sum((NET_F(params, x) - y) ** 2)


def test_functionalized_torch_module_matches_torch_autograd():
    assert sorted(NET_PARAMS) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    weight = dict(NET.named_parameters())["0.weight"]
    assert np.shares_memory(NET_PARAMS["0.weight"], weight.detach().numpy())  # no copy
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    tx = torch.tensor(x, requires_grad=True)
    expected = ((NET(tx) - torch.tensor(y)) ** 2).sum()
    expected.backward()
    df = sg.value_and_grad(loss, (0, 1))
    for _ in range(2):
        value, (dparams, dx) = df(NET_PARAMS, x, y)
        np.testing.assert_allclose(value, expected.item(), rtol=1e-12)
        for name, p in NET.named_parameters():
            np.testing.assert_allclose(dparams[name], p.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    NET.zero_grad()
    assert sg.gradcheck(loss, NET_PARAMS, x, y)


def swapped(x, params, y):
    return loss(params, x, y)


def test_forward_mode_through_torch():
    rng = np.random.default_rng(1)
    x, y, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 2)), rng.standard_normal((3, 4))
    value, tangent = sg.jvp(swapped)(x, NET_PARAMS, y, v)
    g = sg.grad(swapped)(x, NET_PARAMS, y)
    np.testing.assert_allclose(tangent, np.sum(g * v), rtol=1e-10)


def test_float32_module():
    net = torch.nn.Linear(3, 2)
    f, params = nn.functionalize(net)
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)

    def loss32(params, x):
        return np.sum(f(params, x) ** 2)

    grads = sg.grad(loss32)(params, x)
    assert all(g.dtype == np.float32 for g in grads.values())
    (net(torch.from_numpy(x)) ** 2).sum().backward()
    np.testing.assert_allclose(grads["weight"], net.weight.grad.numpy(), rtol=1e-5)
