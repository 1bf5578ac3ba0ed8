"""Models written as classes the way people write them today: a layer object held in a field
and called (``self.inner(x)``: a residual wrapper, a GPT-style stack of blocks with
``__call__``), class-level hyperparameters (``ClassVar``, plain class attributes) read
through ``self``, ``super().__call__`` in an override, methods calling methods. Each against
Python's value and central differences on calls 1-3, and the HVP where smooth; refusals name
the user's line and the way out."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, marked_line, params

R = np.random.default_rng(41)


def rn(*shape):
    return R.standard_normal(shape)


@dataclasses.dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass
class Residual:
    inner: object

    def __call__(self, x):
        return x + self.inner(x)


def residual_loss(m, x):
    return np.sum(m(x) ** 2)


def stack_loss(layers, x):
    for layer in layers:
        x = layer(x)
    return np.sum(x**2)


# ---------------------------------------------------------------- a GPT-style stack


@dataclasses.dataclass
class LayerNorm:
    g: np.ndarray
    b: np.ndarray
    eps: ClassVar[float] = 1e-5

    def __call__(self, x):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return self.g * (x - mu) / np.sqrt(var + self.eps) + self.b


@dataclasses.dataclass
class CausalAttention:
    Wqkv: np.ndarray
    Wo: np.ndarray
    ln: LayerNorm
    n_heads: ClassVar[int] = 2

    def heads(self, x):
        q, k, v = np.split(self.ln(x) @ self.Wqkv, 3, axis=-1)
        hd = x.shape[1] // self.n_heads
        return [
            (q[:, h * hd : (h + 1) * hd], k[:, h * hd : (h + 1) * hd], v[:, h * hd : (h + 1) * hd])
            for h in range(self.n_heads)
        ]

    def __call__(self, x):
        T = x.shape[0]
        outs = []
        for q, k, v in self.heads(x):
            s = q @ k.T / np.sqrt(q.shape[1])
            s = np.where(np.tril(np.ones((T, T))) > 0, s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            outs.append((s / s.sum(-1, keepdims=True)) @ v)
        return np.concatenate(outs, -1) @ self.Wo


@dataclasses.dataclass
class FeedForward:
    W1: np.ndarray
    W2: np.ndarray
    ln: LayerNorm
    act: ClassVar = staticmethod(functools.partial(np.maximum, 0.0))

    def __call__(self, x):
        return self.act(self.ln(x) @ self.W1) @ self.W2


@dataclasses.dataclass
class GPT:
    blocks: list
    ln_f: LayerNorm
    head: np.ndarray

    def __call__(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.head

    def loss(self, x, targets):
        logits = self(x)
        logits = logits - logits.max(-1, keepdims=True)
        lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -lp[np.arange(len(targets)), targets].mean()


def gpt_loss(model, x, targets):
    return model.loss(x, targets)


def layer_norm(d):
    return LayerNorm(1 + 0.1 * rn(d), 0.1 * rn(d))


D = 4
GPT_MODEL = GPT(
    [
        Residual(CausalAttention(0.3 * rn(D, 3 * D), 0.3 * rn(D, D), layer_norm(D))),
        Residual(FeedForward(0.3 * rn(D, 2 * D), 0.3 * rn(2 * D, D), layer_norm(D))),
    ],
    layer_norm(D),
    0.3 * rn(D, 5),
)


# ---------------------------------------------------------------- class attributes, super()


@dataclasses.dataclass
class ScaledTanh(Linear):
    scale: ClassVar[float] = 2.0

    def __call__(self, x):
        return np.tanh(super().__call__(x)) * self.scale


@dataclasses.dataclass
class Gated(Linear):
    def forward(self, x):
        return super().__call__(x) * (1.0 / (1.0 + np.exp(-super().__call__(x))))

    def __call__(self, x):
        return self.forward(x)


@dataclasses.dataclass
class ShiftedLinear:
    W: np.ndarray
    offset: ClassVar[np.ndarray] = np.array([0.5, -0.5])

    def __call__(self, x):
        return np.tanh(x @ self.W + self.offset)


def class_attribute_loss(layer, x):
    return np.sum(layer(x) ** 2)


CASES = [
    Case("residual_of_a_layer_object", residual_loss, (Residual(Linear(rn(3, 3), rn(3))), rn(2, 3)),
         order=2),
    Case("list_of_residuals", stack_loss,
         ([Residual(Linear(rn(3, 3), rn(3))), Residual(Linear(rn(3, 3), rn(3)))], rn(2, 3)),
         wrt=(0, 1), order=2),
    Case("gpt_blocks_with_call_and_classvars", gpt_loss, (GPT_MODEL, rn(3, D), np.array([1, 4, 0])),
         wrt=(0, 1)),
    Case("super_call_with_classvar_scale", stack_loss,
         ([Linear(rn(3, 3), rn(3)), ScaledTanh(0.5 * rn(3, 2), rn(2))], rn(2, 3)), order=2),
    Case("super_call_from_a_method", class_attribute_loss, (Gated(0.5 * rn(3, 2), rn(2)), rn(2, 3)),
         order=2),
    Case("classvar_array", class_attribute_loss, (ShiftedLinear(rn(3, 2)), rn(4, 3)), order=2),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_class_models(case):
    check(case)


# ---------------------------------------------------------------- function-valued fields


def leaky(z, a=0.1):
    return np.maximum(z, a * z)


@dataclasses.dataclass
class Activated:
    W: np.ndarray
    act: Callable = np.tanh

    def __call__(self, x):
        return self.act(x @ self.W)


@pytest.mark.parametrize(
    "act",
    [np.tanh, leaky, functools.partial(leaky, a=0.2), lambda z: z * np.tanh(z)],
    ids=["ufunc", "function", "partial", "lambda"],
)
def test_a_function_in_a_field_called_through_a_held_layer(act):
    """``Residual(Activated(W, act))``: the held layer's field is a function, a setting kept
    as it is; the gradient of ``W`` against central differences on calls 1-3."""
    W, x = rn(3, 3), rn(2, 3)

    def value(W):
        return residual_loss(Residual(Activated(W, act)), x)

    eps, want = 1e-6, np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        step = np.zeros_like(W)
        step[idx] = eps
        want[idx] = (value(W + step) - value(W - step)) / (2 * eps)
    df = sg.value_and_grad(residual_loss)
    for _ in range(3):
        got_value, got = df(Residual(Activated(W, act)), x)
        assert got_value == value(W)
        assert got.inner.act is act
        np.testing.assert_allclose(got.inner.W, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- refused, with the way out


@dataclasses.dataclass
class Outer:
    block: Residual

    def __call__(self, x):
        return self.block.inner(x) + x  # REFUSED


def nested_field_loss(m, x):
    return np.sum(m(x) ** 2)


def test_a_layer_held_two_fields_down_is_refused_with_the_way_out():
    """``self.block.inner(x)``: the class of ``self.block`` is not known where the call is
    lowered, so the call would be taken as a method of ``self.block`` (its derivative given to
    ``block``: a zero gradient for ``inner``); refused at the line, with the way out."""
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(nested_field_loss)(Outer(Residual(Linear(rn(3, 3), rn(3)))), rn(2, 3))
    assert str(info.value).startswith(f"{__file__}:{marked_line(Outer.__call__)}: ")
    assert "assign it to a name first (`inner = ....inner`)" in str(info.value)


@dataclasses.dataclass
class OuterNamed:
    block: Residual

    def __call__(self, x):
        inner = self.block.inner
        return inner(x) + x


def test_the_way_out_of_that_refusal_works():
    check(Case("named", nested_field_loss, (OuterNamed(Residual(Linear(rn(3, 3), rn(3)))), rn(2, 3)),
               order=2))  # fmt: skip


@dataclasses.dataclass
class OuterActivation:
    block: Activated

    def __call__(self, x):
        return self.block.act(x @ self.block.W) + x


def test_a_function_two_fields_down_is_called_as_before():
    """``self.block.act(z)`` with ``act`` a function (a setting): not refused, and right."""
    W, x = rn(3, 3), rn(2, 3)
    g = sg.grad(nested_field_loss)(OuterActivation(Activated(W, np.sin)), x)
    want = sg.grad(lambda W, x: np.sum((np.sin(x @ W) + x) ** 2))(W, x)
    np.testing.assert_allclose(g.block.W, want, rtol=1e-12)


@dataclasses.dataclass
class Blocks:
    blocks: list

    def __call__(self, x):
        for blk in self.blocks:
            x = blk.inner(x) + x
        return x


@dataclasses.dataclass
class BlocksNamed:
    blocks: list

    def __call__(self, x):
        for blk in self.blocks:
            inner = blk.inner
            x = inner(x) + x
        return x


def first_item_loss(blocks, x):
    return np.sum(blocks[0].inner(x) ** 2)  # REFUSED


def test_a_layer_held_by_a_loop_item_is_differentiated():
    """``for blk in self.blocks: blk.inner(x)``: the held layers' gradients (it was a zero
    gradient, then a refusal at the line; the loop item's class is known now);
    ``blocks[0].inner(x)`` stays refused at its line with the way out."""
    two = [Residual(Linear(rn(3, 3), rn(3))), Residual(Linear(rn(3, 3), rn(3)))]
    check(Case("fields", nested_field_loss, (Blocks(two), rn(2, 3)), order=2))
    with pytest.raises(sg.SourcegradError) as info:  # an item's field: still refused
        sg.grad(first_item_loss)(two, rn(2, 3))
    assert str(info.value).startswith(f"{__file__}:{marked_line(first_item_loss)}: ")
    assert "assign it to a name first (`inner = ....inner`)" in str(info.value)
    check(Case("named", nested_field_loss, (BlocksNamed(two), rn(2, 3)), order=2))


# ---------------------------------------------------------------- parameters() as a list


@dataclasses.dataclass(frozen=True)
class Frozen:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b

    def parameters(self):
        return [self.W, self.b]


@dataclasses.dataclass
class Sequential:
    layers: list = dataclasses.field(default_factory=list)

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = np.tanh(x)
        return x

    def parameters(self):
        ps = []
        for layer in self.layers:
            ps.extend(layer.parameters())
        return ps


def weight_decay_loss(model, x, y):
    reg = sum(np.sum(p**2) for p in model.parameters())
    return np.mean((model(x) - y) ** 2) + 1e-2 * reg


@dataclasses.dataclass
class Pair:
    W: np.ndarray
    b: np.ndarray

    def nested(self):
        return (self.W, [self.b, self.b * 2.0])


def nested_return_loss(layer, x):
    W, (b1, b2) = layer.nested()
    return np.sum(np.tanh(x @ W + b1) ** 2) + np.sum(b2**3)


def listed(p):
    return [p["W"], p["b"] * 1.0]


def list_of_a_helper(p, x):
    ps = listed(p)
    return np.sum(ps[0] ** 3) + np.sum(ps[1] ** 3) + np.sum(x @ p["W"])


LIST_RETURNS = [
    Case("parameters_method_for_weight_decay", weight_decay_loss,
         (Sequential([Frozen(rn(3, 3), rn(3)), Frozen(rn(3, 2), rn(2))]), rn(4, 3), rn(4, 2)),
         order=2),
    Case("method_returning_a_tuple_holding_a_list", nested_return_loss,
         (Pair(rn(3, 2), rn(2)), rn(4, 3)), order=2),
    Case("helper_returning_a_list", list_of_a_helper, ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3)),
         order=2),
]  # fmt: skip


@pytest.mark.parametrize("case", params(LIST_RETURNS))
def test_helpers_returning_lists(case):
    """The tangent of a helper's ``return [a, b]`` was zero: the HVPs through it were wrong."""
    check(case)


def as_dict(W, b):
    return {"a": W * 2.0, "b": np.sin(b), "c": 1.0}


def as_list(W, xs):
    return [*xs, W * 3.0]


def test_jvp_of_functions_returning_list_and_dict_displays():
    W, b, v = rn(2, 2), rn(2), rn(2, 2)
    for _ in range(3):
        value, tangent = sg.jvp(as_dict, (0, 1))(W, b, (v, np.ones(2)))
        assert value.keys() == tangent.keys() == {"a", "b", "c"}
        np.testing.assert_array_equal(tangent["a"], 2.0 * v)
        np.testing.assert_allclose(tangent["b"], np.cos(b), rtol=1e-15)
        assert tangent["c"] == 0.0
        value, tangent = sg.jvp(as_list, (0, 1))(W, [b, b], (v, [b, 2 * b]))
        assert len(tangent) == 3
        np.testing.assert_array_equal(tangent[1], 2 * b)
        np.testing.assert_array_equal(tangent[2], 3.0 * v)


def join_in_a_loop(layers, x):
    ps = []
    for layer in layers:
        ps = ps + layer.parameters()
    return sum(np.sum(p**2) for p in ps) + np.sum(x @ layers[0].W)


def extend_in_a_loop(layers, x):
    ps = []
    for layer in layers:
        ps.extend(layer.parameters())
    return sum(np.sum(p**2) for p in ps) + np.sum(x @ layers[0].W)


def test_a_list_joined_in_a_loop_is_followed():
    """``ps = ps + layer.parameters()`` in a loop was taken for an array sum (ValueError
    inside the derivative), then refused; the list's names are now known as lists."""
    layers = [Frozen(rn(3, 2), rn(2)), Frozen(rn(3, 2), rn(2))]
    check(Case("join", join_in_a_loop, (layers, rn(4, 3)), order=2))
    check(Case("extend", extend_in_a_loop, (layers, rn(4, 3)), order=2))


@dataclasses.dataclass
class Scaled:
    W: np.ndarray
    scale: ClassVar[float] = 2.0


def class_attribute_in_a_loop(layers, x):
    for layer in layers:
        x = np.tanh(x @ layer.W) * layer.scale
    return np.sum(x**2)


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("class_attribute_read_in_a_loop", class_attribute_in_a_loop,
                 ([Scaled(rn(3, 3)), Scaled(rn(3, 3))], rn(2, 3)), order=2),
        ]
    ),
)  # fmt: skip
def test_left_for_other_owners(case):
    check(case)
