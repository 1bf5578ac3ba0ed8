"""JAX's tests of ``jax.grad`` on Python control flow and on pytrees, ported to NumPy as they
are written there: branches on a traced float's value (``if x > 0``, ``while`` with a
data-dependent count on a non-differentiated bound, ``for`` with ``break``), recursion-free
nested helpers, ``argnums`` tuples, gradients with respect to dicts of lists of tuples,
namedtuples inside dicts, dataclasses holding lists, tuples of dicts, ``None`` leaves kept
as settings, empty containers, lists of arrays whose length sets a loop, ``has_aux`` returning
a dict, a tree-map written by hand (``{k: f(v) for k, v in tree.items()}``), a flatten/
unflatten pair, and ``hvp`` through a pytree. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(2718)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ Python control flow


def cond_on_value(x):
    if x > 0:
        return x**2
    else:
        return -3.0 * x


def cond_nested(x, y):
    if x > 0:
        if y > x:
            return x * y
        return x + y
    return np.sin(x) * y


def while_loop_value(x):
    i = 0
    while x < 10.0 and i < 20:
        x = 1.5 * x + 0.1
        i += 1
    return x


def for_loop_break(x):
    total = 0.0
    for i in range(10):
        total = total + np.sin(x * i)
        if total > 1.5:
            break
    return total


def switch_by_index(x, k):
    branches = [lambda v: v**2, lambda v: np.sin(v), lambda v: np.exp(-v)]
    return branches[k](x)


def loop_over_shape(x):
    out = 0.0
    for i in range(x.shape[0]):
        for j in range(i + 1):
            out = out + x[i] * x[j]
    return out


def early_exit_helper(x):
    def first_big(v, thresh):
        for e in v:
            if e > thresh:
                return e
        return v[-1]

    return first_big(x, 0.2) ** 2 + np.sum(x)


# ------------------------------------------------------------------ pytrees

Point = namedtuple("Point", ["x", "y"])


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    bs: list
    name: str = "dense"


def dict_of_lists_of_tuples(tree):
    total = 0.0
    for key, pairs in tree.items():
        for a, b in pairs:
            total = total + np.sum(a * b) * len(key)
    return total


def namedtuples_in_dict(tree):
    p, q = tree["p"], tree["q"]
    return np.sum((p.x - q.x) ** 2) + np.sum(np.sin(p.y * q.y))


def dataclass_holding_list(layer, x):
    h = x @ layer.W
    for b in layer.bs:
        h = np.tanh(h + b)
    return np.sum(h**2)


def tuple_of_dicts(tree, x):
    enc, dec = tree
    h = np.tanh(x @ enc["W"] + enc["b"])
    return np.sum((h @ dec["W"] + dec["b"]) ** 2)


def none_leaves(tree, x):
    out = x @ tree["W"]
    if tree["b"] is not None:
        out = out + tree["b"]
    if tree["scale"] is None:
        return np.sum(out**2)
    return np.sum(out**2) * tree["scale"]


def empty_containers(tree, x):
    total = np.sum(tree["w"] * x)
    for extra in tree["extras"]:
        total = total + np.sum(extra)
    return total + sum(tree["more"].values(), 0.0)


def list_sets_loop(Ws, x):
    h = x
    for W in Ws[:-1]:
        h = np.maximum(h @ W, 0.0) + 0.1 * h @ W
    return np.sum(h @ Ws[-1])


def tree_map_by_hand(params, grads_like):
    stepped = {k: v - 0.1 * grads_like[k] for k, v in params.items()}
    return sum(np.sum(np.tanh(v) ** 2) for v in stepped.values())


def flatten_unflatten(params, x):
    keys = sorted(params)
    flat = np.concatenate([params[k].ravel() for k in keys])
    flat = flat * 0.5 + np.tanh(flat)
    out, i = {}, 0
    for k in keys:
        n = params[k].size
        out[k] = flat[i : i + n].reshape(params[k].shape)
        i += n
    return np.sum((x @ out["W"] + out["b"]) ** 2)


def nested_mixed(tree):
    a = tree[0]["a"][1][0]
    b = tree[1].y
    c = tree[0]["c"]
    return np.sum(a * b) + c**2 * np.sum(tree[0]["a"][0])


def loss_with_aux(params, x, y):
    pred = x @ params["W"] + params["b"]
    loss = np.mean((pred - y) ** 2)
    return loss, {"pred_norm": np.linalg.norm(pred), "n": x.shape[0]}


X = r(4, 3)
Y = r(4, 2)

CASES = [
    Case("cond_on_value_pos", cond_on_value, (1.3,), order=2),
    Case("cond_on_value_neg", cond_on_value, (-0.4,), order=2),
    Case("cond_nested_a", cond_nested, (0.5, 0.9), wrt=(0, 1), order=2),
    Case("cond_nested_b", cond_nested, (0.5, 0.1), wrt=(0, 1), order=2),
    Case("cond_nested_c", cond_nested, (-0.5, 0.1), wrt=(0, 1), order=2),
    Case("while_loop_value", while_loop_value, (0.7,), order=2),
    Case("for_loop_break", for_loop_break, (0.3,), order=2),
    Case("switch_by_index_0", switch_by_index, (0.4, 0), order=2),
    Case("switch_by_index_2", switch_by_index, (0.4, 2), order=2),
    Case("loop_over_shape", loop_over_shape, (r(3),), order=2),
    Case("early_exit_helper", early_exit_helper, (np.array([0.1, 0.5, -0.3]),), order=2),
    Case(
        "dict_of_lists_of_tuples",
        dict_of_lists_of_tuples,
        ({"ab": [(r(2), r(2)), (r(1), r(1))], "c": [(r(3), r(3))]},),
        order=2,
    ),
    Case(
        "namedtuples_in_dict",
        namedtuples_in_dict,
        ({"p": Point(r(2), r(2)), "q": Point(r(2), r(2))},),
        order=2,
    ),
    Case("dataclass_holding_list", dataclass_holding_list, (Layer(r(3, 2), [r(2), r(2)]), X)),
    Case(
        "tuple_of_dicts",
        tuple_of_dicts,
        (({"W": r(3, 3), "b": r(3)}, {"W": r(3, 2), "b": r(2)}), X),
        order=2,
    ),
    Case("none_leaves_in_x", none_leaves, ({"W": r(3, 2), "b": None, "scale": None}, X), wrt=1),
    Case("none_leaves_some", none_leaves, ({"W": r(3, 2), "b": r(2), "scale": 0.5}, X), order=2),
    Case("empty_containers", empty_containers, ({"w": r(3), "extras": [], "more": {}}, r(3))),
    Case(
        "empty_containers_filled",
        empty_containers,
        ({"w": r(3), "extras": [r(2)], "more": {"a": 0.5}}, r(3)),
        order=2,
    ),
    Case("list_sets_loop", list_sets_loop, ([r(3, 3), r(3, 3), r(3, 2)], X), order=2),
    Case("list_sets_loop_short", list_sets_loop, ([r(3, 2)], X), order=2),
    Case(
        "tree_map_by_hand",
        tree_map_by_hand,
        ({"a": r(2), "b": r(2, 2)}, {"a": r(2), "b": r(2, 2)}),
        wrt=(0, 1),
        order=2,
    ),
    Case("flatten_unflatten", flatten_unflatten, ({"W": r(3, 2), "b": r(2)}, X), order=2),
    Case(
        "nested_mixed",
        nested_mixed,
        (({"a": [r(2), (r(2), r(2))], "c": 0.4}, Point(r(2), r(2))),),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_pytrees(case):
    check(case)


def test_none_leaves_kept_in_the_gradient():
    """A dict with ``None`` leaves in ``wrt`` (JAX's empty subtrees): the gradient keeps them
    ``None``, and the array leaf's gradient is right, on calls 1-3."""
    from .harness import numerical

    W = r(3, 2)
    want = numerical(lambda w, x: none_leaves({"W": w, "b": None, "scale": None}, x), (W, X), 0)
    df = sg.grad(none_leaves)
    for _ in range(3):
        g = df({"W": W, "b": None, "scale": None}, X)
        assert list(g) == ["W", "b", "scale"]
        assert g["b"] is None and g["scale"] is None
        np.testing.assert_allclose(g["W"], want, rtol=1e-5, atol=1e-6)


def test_has_aux_dict_through_pytree():
    """``value_and_grad(..., has_aux=True)`` of a loss returning ``(loss, {"pred_norm": ...,
    "n": ...})``, with respect to a dict: the aux dict as Python's, the gradient against
    central differences, on calls 1-3."""
    from .harness import assert_tree_close, numerical

    params = {"W": r(3, 2), "b": r(2)}
    want_loss, want_aux = loss_with_aux(params, X, Y)
    want = numerical(lambda p, x, y: loss_with_aux(p, x, y)[0], (params, X, Y), 0)
    vg = sg.value_and_grad(loss_with_aux, has_aux=True)
    for _ in range(3):
        (loss, aux), g = vg(params, X, Y)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
        assert aux["n"] == want_aux["n"]
        np.testing.assert_allclose(aux["pred_norm"], want_aux["pred_norm"], rtol=1e-12)
        assert_tree_close(g, want, 1e-5, 1e-6, "grad")
