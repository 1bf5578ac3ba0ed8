"""Statement forms people write around the numerics: ``match`` dispatch on a setting, loops
with ``else``, a list's ``pop()`` inside an expression, ``min``/``max`` with ``key=``, lists
and arrays mixed in ``*`` and ``+`` (``array * [1.0, 2.0]`` against ``[h] * n``), and
model code in the JAX tutorial's and PyTorch's styles (``for w, b in params[:-1]``, star
unpacking, named tuples, ``functools.partial``, static methods and properties). Each is
checked against Python's value and central differences on repeated calls, and to second order
where it is smooth; the forms still refused name their line and the way out."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import NoRuleError, UnsupportedSyntaxError

from .harness import Case, check, params

R = np.random.default_rng(2026)


def r(*shape):
    return R.standard_normal(shape)


X4 = r(4)
XS = [r(3) for _ in range(4)]


# ------------------------------------------------------------------ match


def match_act(x, kind):
    match kind:
        case "relu":
            y = np.maximum(x, 0.0)
        case "tanh" | "th":
            y = np.tanh(x)
        case None:
            y = x
        case other if other.startswith("s"):
            y = np.sin(x)
        case _:
            return np.sum(x**3)
    return np.sum(y**2)


def match_as(x, kind):
    match kind.lower():
        case "a" | "b" as letter:
            scale = 2.0 if letter == "a" else 3.0
        case "c":
            scale = 4.0
        case _:
            scale = 1.0
    return np.sum(np.exp(x) * scale)


def match_in_loop(xs, modes):
    total = 0.0
    for x, m in zip(xs, modes):
        match m:
            case "skip":
                continue
            case "stop":
                break
            case _:
                total = total + np.sum(x * x)
    return total


def match_sequence(x, cfg):
    match cfg:
        case (a, b):
            return np.sum(x * a + b)
    return np.sum(x)


def match_class(x, cfg):
    match cfg:
        case float(a):  # REFUSED
            return np.sum(x * a)
    return np.sum(x)


# ------------------------------------------------------------------ loops with else


def for_else(x):
    for v in x:
        if v > 10.0:
            break
    else:
        return np.sum(x**2)
    return np.sum(x)


def for_else_accumulates(x):
    total = 0.0
    for v in x:
        total = total + v * v
        if total > 1.0:
            break
    else:
        total = total * 3.0
    return total * np.sum(x)


def while_else(x):
    k = 0
    y = x
    while k < 3:
        y = np.sin(y)
        k += 1
    else:
        y = y * 2.0
    return np.sum(y)


def search_or_first(xs, t):
    for x in xs:
        if np.sum(x) > t:
            return np.sum(x**2)
    else:
        return np.sum(xs[0])


# ------------------------------------------------------------------ pop in expressions


def pop_in_expression(xs):
    stack = []
    for x in xs:
        stack.append(np.sin(x))
    total = 0.0
    while stack:
        total = total + np.sum(stack.pop() ** 2)
    return total


def pop_discarded_and_returned(xs):
    stack = list(xs)
    stack.pop()
    return np.sum(stack.pop(0) ** 3)


def pop_augmented(xs):
    stack = list(xs)
    total = np.sum(xs[0])
    total += np.sum(stack.pop(1))
    return total * 2.0


def pop_read_twice(xs):
    stack = list(xs)
    return np.sum(stack.pop() * stack.pop())  # REFUSED


# ------------------------------------------------------------------ min / max with key=


def min_by_key(xs):
    best = min(xs, key=lambda v: float(np.sum(v)))
    return np.sum(best**2)


def index_of_min(xs):
    i = min(range(len(xs)), key=lambda i: float(np.sum(xs[i])))
    return np.sum(xs[i] ** 2)


def max_of_two_by_key(a, b):
    return np.sum(max(a, b, key=np.sum) ** 2)


def max_abs(x, y):
    return max(x, y, key=abs) * 3.0


# ------------------------------------------------------------------ model code styles


class Layer(NamedTuple):
    W: np.ndarray
    b: np.ndarray


def namedtuple_layer(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def jax_tutorial_mlp(params, x):
    h = x
    for w, b in params[:-1]:
        h = np.maximum(h @ w + b, 0.0)
    final_w, final_b = params[-1]
    logits = h @ final_w + final_b
    return np.sum(logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True)))


def star_unpacked_layers(params, x):
    *hidden, last = params
    for W, b in hidden:
        x = np.tanh(x @ W + b)
    return np.sum(x @ last[0] + last[1])


def walrus(x):
    if (s := np.sum(x * x)) > 1.0:
        return s * 2.0
    return s


def partial_tensordot(x, W):
    f = functools.partial(np.tensordot, axes=1)
    return np.sum(f(W, x) ** 2)


class Net:
    scale = 0.5

    def __init__(self, sizes):
        self.sizes = sizes

    @staticmethod
    def act(z):
        return np.tanh(z)

    @property
    def depth(self):
        return len(self.sizes) - 1

    def loss(self, params, x):
        for i in range(self.depth):
            x = self.act(x @ params[i]) * self.scale
        return np.sum(x**2)


NET = Net([3, 4, 2])


def net_method(params, x):
    return NET.loss(params, x)


def keyword_only_helper(x, W):
    def layer(h, *, weight, act=np.tanh):
        return act(h @ weight)

    return np.sum(layer(x, weight=W) + layer(x, weight=W, act=np.sin))


def tree_of_layers(tree, x):
    def apply(node, h):
        if "children" in node:  # an inner node: no "W" of its own
            for child in node["children"]:
                h = apply(child, h)
            return h
        return np.tanh(h @ node["W"])

    return np.sum(apply(tree, x) ** 2)


def misspelt_key(params, x):
    h = np.tanh(x @ params["W"])
    return np.sum(h @ params["Wout"])


def array_times_list(x):
    y = np.tanh(x) * [1.0, 2.0, 3.0]  # NumPy's elementwise product, not a repetition
    return np.sum(y)


def list_plus_array(x):
    t = x * 2.0
    z = [1.0, 0.0, 2.0] + t  # elementwise
    w = t * [1.0, 2.0, 3.0]
    k = 2
    reps = [t] * k  # repetition: k is an int
    more = [t * 0.5] * 2 + reps
    return np.sum(z * w) + np.sum(more[0] * more[-1]) + len(more)


def list_joins(xs, n):
    hs = xs + [xs[0] * 2.0]
    gs = [x * 3.0 for x in xs] * (n // 2)
    return np.sum(hs[-1] * gs[-1]) + len(gs)


def pairs_by_stride(x):
    if x.ndim == 2:
        x = x.reshape(-1)
    total = 0.0
    for i in range(0, x.shape[0], 2):
        total = total + x[i] * x[i + 1] if i + 1 < x.shape[0] else total + x[i]
    return total


def reversed_strides(x):
    total = 0.0
    for i in reversed(range(0, x.shape[0], 2)):
        total = total * 0.5 + x[i] ** 2
    for j in reversed(range(x.shape[0] - 1, -1, -3)):
        total = total * 0.9 + np.sin(x[j])
    return total


ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky": lambda z: np.where(z > 0, z, 0.01 * z),
}


def settings_block(p, x):
    h = np.tanh(x @ p["W"])
    for _ in range(p["depth"]):
        h = np.tanh(h * 1.1)
    return h * p["scale"]


def settings_built_inside(W, x):
    p = {"W": W, "depth": 2, "scale": 0.5}  # an int setting handed to a helper
    return np.sum(settings_block(p, x) ** 2)


# fmt: off
SPREAD_TABLE = {
    "smooth": lambda z: np.log1p(
        np.exp(z)
    ),  # a lambda over several lines of a display
    "cube": lambda z: z ** 3,  # ünïcode before: columns count bytes
}
# fmt: on


def spread_table(W, x, name):
    return np.sum(SPREAD_TABLE[name](x @ W))


def activation_table(W, x, name):
    return np.sum(ACTIVATIONS[name](x @ W) ** 2)


TREE = {"children": [{"W": r(3, 3)}, {"children": [{"W": r(3, 3)}, {"W": r(3, 3)}]}]}
LAYERS3 = [(r(3, 4), r(4)), (r(4, 4), r(4)), (r(4, 2), r(2))]

CASES = [
    *[Case(f"match_{k}", match_act, (X4, k), order=2) for k in ("relu", "th", None, "sin", "z")],
    *[Case(f"match_as_{k}", match_as, (X4, k), order=2) for k in ("A", "b", "c", "d")],
    *[
        Case(f"match_in_loop_{i}", match_in_loop, (XS, modes), order=2)
        for i, modes in enumerate((["go", "skip", "go", "stop"], ["stop"] + ["go"] * 3))
    ],
    Case("match_sequence", match_sequence, (X4, (1.0, 2.0)), wrt=(0, 1), order=2),
    Case("match_sequence_other_length", match_sequence, (X4, (1.0, 2.0, 3.0)), order=2),
    Case("match_sequence_string", match_sequence, (X4, "ab"), order=2),
    Case(
        "match_class",
        match_class,
        (X4, 1.5),
        refused=(UnsupportedSyntaxError, "write the tests as `if`/`elif`"),
    ),
    Case("for_else_runs", for_else, (X4,), order=2),
    Case("for_else_broken", for_else, (X4 * 40.0,)),
    Case("for_else_accumulates", for_else_accumulates, (X4,), order=2),
    Case("for_else_accumulates_small", for_else_accumulates, (X4 * 0.1,), order=2),
    Case("while_else", while_else, (X4,), order=2),
    Case("search_found", search_or_first, (XS, 0.0)),
    Case("search_not_found", search_or_first, (XS, 50.0)),
    Case("pop_in_expression", pop_in_expression, (XS,), order=2),
    Case("pop_discarded_and_returned", pop_discarded_and_returned, (XS,), order=2),
    Case("pop_augmented", pop_augmented, (XS,)),
    Case(
        "pop_read_twice",
        pop_read_twice,
        (XS,),
        refused=(NoRuleError, "pop the item in a statement of its own"),
    ),
    Case("min_by_key", min_by_key, (XS,), order=2),
    Case("index_of_min", index_of_min, (XS,), order=2),
    Case("max_of_two_by_key", max_of_two_by_key, (XS[0], XS[1]), wrt=(0, 1), order=2),
    Case("max_abs", max_abs, (-0.7, 0.4), wrt=(0, 1), order=2),
    Case("namedtuple_layer", namedtuple_layer, (Layer(r(3, 4), r(4)), r(2, 3))),
    Case("jax_tutorial_mlp", jax_tutorial_mlp, (LAYERS3, r(5, 3))),
    Case("star_unpacked_layers", star_unpacked_layers, (LAYERS3, r(5, 3)), order=2),
    Case("walrus", walrus, (X4,), order=2),
    Case("partial_tensordot", partial_tensordot, (r(3), r(3, 3)), wrt=(0, 1)),
    Case("net_method", net_method, ([r(3, 4), r(4, 2)], r(2, 3)), wrt=(0, 1)),
    Case("keyword_only_helper", keyword_only_helper, (r(2, 3), r(3, 3)), wrt=(0, 1)),
    Case("tree_of_layers", tree_of_layers, (TREE, r(2, 3)), order=2),
    Case("array_times_list", array_times_list, (r(3),), order=2),
    Case("list_plus_array", list_plus_array, (r(3),), order=2),
    Case("list_joins", list_joins, ([r(3), r(3)], 5), order=2),
    Case("pairs_by_stride_even", pairs_by_stride, (r(2, 3),), order=2),
    Case("pairs_by_stride_odd", pairs_by_stride, (r(5),), order=2),
    Case("reversed_strides", reversed_strides, (r(7),), order=2),
    *[
        Case(f"spread_table_{k}", spread_table, (r(3, 3), r(2, 3), k), order=2)
        for k in SPREAD_TABLE
    ],
    Case("settings_built_inside", settings_built_inside, (r(3, 2), r(4, 3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_statement_forms(case):
    check(case)


def misspelt_key_in_branch(params, x):
    h = np.tanh(x @ params["W"])
    if np.sum(h) > -100.0:  # always taken, though sourcegrad cannot tell
        return np.sum(h @ params["Wout"])
    return np.sum(h)


def test_misspelt_key_is_refused_or_raises_keyerror_at_its_line():
    """A key the argument lacks, read on every path, is refused naming the line; read under
    a branch (which may not be taken for such an argument), it raises Python's own KeyError
    where the read runs, with a note naming the user's line."""
    args = ({"W": r(3, 3), "Wo": r(3, 2)}, r(2, 3))
    with pytest.raises(UnsupportedSyntaxError) as info:
        sg.grad(misspelt_key)(*args)
    assert "test_statement_forms.py:" in str(info.value) and "'Wout'" in str(info.value)
    df = sg.grad(misspelt_key_in_branch)
    for _ in range(2):
        with pytest.raises(KeyError) as info:
            df(*args)
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "test_statement_forms.py" in notes and 'params["Wout"]' in notes, notes
