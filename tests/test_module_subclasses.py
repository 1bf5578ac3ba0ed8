"""``sg.nn.Module`` subclassed the way PyTorch users write models: ``forward`` in place of
``__call__``, child modules in attributes (and lists) whose parameters ``init`` gathers by
attribute name, ``super().forward(...)`` in an override; and ``super()`` in the methods of
plain layer classes. Checked against Python's value and central differences on repeated
calls (the optimized code runs from the second call on)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.util import tree_leaves, tree_map

R = np.random.default_rng(3)


class TwoLayer(sg.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = sg.nn.Linear(3, 5)
        self.l2 = sg.nn.Linear(5, 1)
        self.act = sg.nn.Tanh()

    def forward(self, params, x):
        return self.l2(params["l2"], self.act(self.l1(params["l1"], x)))


class Doubled(TwoLayer):
    def forward(self, params, x):
        return 2.0 * super().forward(params, x)


class Blocks(sg.nn.Module):
    def __init__(self):
        self.blocks = [TwoLayer(), sg.nn.ReLU(), Doubled()]

    def forward(self, params, x):
        h = self.blocks[1](self.blocks[0](params["blocks"][0], x))
        return h + self.blocks[2](params["blocks"][2], x)


class Scale:
    def __init__(self, s):
        self.s = s

    def __call__(self, x):
        return self.s * np.tanh(x)


class ShiftedScale(Scale):
    def __init__(self, s, shift):
        super().__init__(s)
        self.shift = shift

    def __call__(self, x):
        return super().__call__(x) + self.shift * x


NET, DOUBLED, BLOCKS = TwoLayer(), Doubled(), Blocks()
LAYERS = [ShiftedScale(1.5, 0.5), Scale(0.5)]


def net_loss(params, x, y):
    return np.mean((NET(params, x)[:, 0] - y) ** 2)


def doubled_loss(params, x):
    return np.sum(DOUBLED(params, x) ** 2)


def blocks_loss(params, x):
    return np.sum(np.sin(BLOCKS(params, x)))


def plain_super_loss(w, x):
    h = x @ w
    for layer in LAYERS:
        h = layer(h)
    return np.sum(h**2)


def _numerical(f, tree, args, eps=1e-6):
    def along(leaf):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            old = leaf[i]
            leaf[i] = old + eps
            up = f(tree, *args)
            leaf[i] = old - eps
            down = f(tree, *args)
            leaf[i] = old
            g[i] = (up - down) / (2 * eps)
        return g

    return tree_map(along, tree)


@pytest.mark.parametrize(
    "f, module, extra",
    [
        (net_loss, NET, (R.standard_normal((6, 3)), R.standard_normal(6))),
        (doubled_loss, DOUBLED, (R.standard_normal((4, 3)),)),
        (blocks_loss, BLOCKS, (R.standard_normal((4, 3)),)),
    ],
    ids=["forward", "super_forward", "list_of_modules"],
)
def test_pytorch_style_module(f, module, extra):
    params = module.init(np.random.default_rng(0))
    want = _numerical(f, params, extra)
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, g = df(params, *extra)
        assert value == f(params, *extra)
        for a, b in zip(tree_leaves(g), tree_leaves(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_init_gathers_the_children_by_attribute_name():
    assert NET.has_params and BLOCKS.has_params
    p = BLOCKS.init(1)
    assert list(p) == ["blocks"] and p["blocks"][1] == {}
    assert set(p["blocks"][0]) == {"l1", "l2"}
    assert p["blocks"][0]["l1"]["weight"].shape == (5, 3)


def test_has_params_follows_the_name_of_forwards_first_argument():
    class Square(sg.nn.Module):
        def forward(self, x):
            return x * x

    assert not Square.has_params
    x = R.standard_normal(3)
    np.testing.assert_array_equal(Square()(x), x * x)
    seq = sg.nn.Sequential(TwoLayer(), Square())
    out = seq(seq.init(0), R.standard_normal((2, 3)))
    assert out.shape == (2, 1)


def test_a_module_without_forward_or_call_says_so():
    class Empty(sg.nn.Module):
        pass

    with pytest.raises(TypeError, match="defines neither __call__ nor forward"):
        Empty()(R.standard_normal(2))


def test_super_in_a_plain_layer_class():
    w, x = R.standard_normal((3, 2)), R.standard_normal((4, 3))
    want = _numerical(plain_super_loss, w, (x,))
    df = sg.value_and_grad(plain_super_loss)
    for _ in range(3):
        value, g = df(w, x)
        assert value == plain_super_loss(w, x)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7)
