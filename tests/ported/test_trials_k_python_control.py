"""Python's iteration and control forms in losses as people write them: ``enumerate`` with
``start``, ``zip`` of three, ``itertools`` (``accumulate`` with ``operator.mul`` and a lambda,
``pairwise``, ``chain``, ``chain.from_iterable``, ``starmap`` of a lambda, ``product``),
``sorted``/``reversed`` orders, ``match`` on strings, on tuples (``case ("scale", s):``,
nested, with ``*rest``, a guard reading the captures, ``as``) and on dicts (``case {"W": W,
"b": b}:``), the walrus (also in a comprehension), f-strings in asserts, ``try``/``finally``
and ``try``/``except`` (refused with their way out), ``with np.errstate(...)``, early returns
from nested loops and generators with ``yield from``. Each against Python's value and
central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(4343)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
W3 = r(3, 2)
POSP = np.array([0.2, 0.0, 0.5, 0.3])


def enumerate_start(ws, x):
    total = 0.0
    for i, w in enumerate(ws, start=1):
        total = total + i * np.sum(np.tanh(x * w))
    return total


def zip_three(ws, bs, x):
    out = x
    for w, b, s in zip(ws, bs, [1.0, 0.5]):
        out = np.tanh(out * w + b) * s
    return np.sum(out)


def accumulate_mul(xs):
    prods = list(itertools.accumulate(xs, operator.mul))
    return sum(np.sum(p) for p in prods)


def accumulate_lambda(xs):
    running = itertools.accumulate(xs, lambda a, b: 0.9 * a + b)
    return sum(np.sum(v**2) for v in running)


def pairwise_diffs(points):
    return sum(np.sum((b - a) ** 2) for a, b in itertools.pairwise(points))


def chain_params(W1, W2, b):
    return sum(np.sum(p**2) for p in itertools.chain([W1, W2], [b]))


def chain_from_iterable(groups):
    return sum(np.sum(np.sin(p)) for p in itertools.chain.from_iterable(groups))


def starmap_terms(a, b, x):
    pairs = [(a, x), (b, x * 2.0)]
    return sum(itertools.starmap(lambda w, v: np.sum(w * v), pairs))


def product_grid(w):
    total = 0.0
    for i, j in itertools.product(range(2), range(3)):
        total = total + w[i] * w[j] * (i + j)
    return total


def reversed_sorted(w):
    order = sorted(range(len(w)), key=lambda i: -i)
    total = 0.0
    for k in reversed(order):
        total = 0.5 * total + w[k] ** 2
    return total


# ------------------------------------------------------------------ control


def act_by_match(z, name):
    match name:
        case "relu":
            return np.maximum(z, 0.0)
        case "gelu" | "gelu_tanh":
            return 0.5 * z * (1.0 + np.tanh(0.79788456 * (z + 0.044715 * z**3)))
        case _:
            return z


def match_string(W, x):
    return np.sum(act_by_match(x @ W, "gelu") ** 2) + np.sum(act_by_match(x @ W, "id"))


def match_tuple(W, x, spec):
    match spec:
        case ("scale", s):
            z = x @ W * s
        case ("shift", s, t):
            z = x @ W + s * t
        case _:
            z = x @ W
    return np.sum(np.tanh(z))


def match_layer_list(layers, x):
    h = x
    for layer in layers:
        match layer:
            case [W, b]:
                h = np.tanh(h @ W + b)
            case [W]:
                h = h @ W
            case _:
                raise ValueError(f"bad layer {layer!r}")
    return np.sum(h**2)


def match_star(params, x):
    match params:
        case [first, *rest]:
            h = np.tanh(x @ first)
            for W in rest:
                h = np.tanh(h @ W)
        case []:
            h = x
    return np.sum(h)


def match_star_middle(ws):
    match ws:
        case (a, *mid, b):
            return np.sum(a * b) + sum(np.sum(m**2) for m in mid)
    return 0.0


def match_mapping(layer, x):
    match layer:
        case {"W": W, "b": b}:
            return np.sum(np.tanh(x @ W + b) ** 2)
        case {"W": W}:
            return np.sum(x @ W)
    return 0.0


def match_not_a_string(w, spec):
    match spec:
        case (a, b):
            return np.sum(w) * (a + b)
        case _:
            return np.sum(w**2)


def match_alternatives_binding(w, spec):
    match spec:
        case ("scale", c) | ("scale", c, _):  # REFUSED
            return np.sum(w * c)
    return np.sum(w)


def match_guard_capture(w, spec):
    match spec:
        case ("clip", c) if c > 0:
            return np.sum(np.clip(w, -c, c) ** 2)
        case ("pow", k):
            return np.sum(np.abs(w) ** k)
    return np.sum(w)


def match_nested_tuple(W, x, spec):
    match spec:
        case ("act", ("leaky", slope)):
            z = x @ W
            return np.sum(np.where(z > 0, z, slope * z) ** 2)
        case ("act", name) as whole if len(whole) == 2:
            return np.sum(act_by_match(x @ W, name))
    return np.sum(W)


def walrus_clip(g):
    if (n := np.linalg.norm(g)) > 1.0:
        g = g / n
    return np.sum(g * np.arange(1.0, 4.0))


def walrus_in_comprehension(w, x):
    vals = [y for v in x if (y := np.sum(v * w)) > -10.0]
    return sum(v**2 for v in vals)


def fstring_assert(W, x):
    assert x.shape[1] == W.shape[0], f"shape mismatch: {x.shape} vs {W.shape}"
    z = x @ W
    assert z.ndim == 2, f"got {z.ndim}"
    return np.sum(z**2)


def try_finally(W, x):
    count = 0
    try:
        z = np.tanh(x @ W)
        count += 1
    finally:
        count += 1
    return np.sum(z) * count


def try_except_value(w, x):
    try:  # REFUSED
        v = np.sum(w * x)
    except ValueError:
        v = 0.0
    return v**2


def errstate_log(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(p)
    return -np.sum(p * logp)


def errstate_safe_divide(a, b):
    with np.errstate(divide="ignore"):
        ratio = a / b
    return np.sum(np.tanh(ratio))


def early_return_nested(W, x):
    for i in range(3):
        for j in range(3):
            if i + j == 3:
                return np.sum(W[i, j] * x)
    return 0.0


def search_first_positive(w):
    for row in range(w.shape[0]):
        for col in range(w.shape[1]):
            if w[row, col] > 0:
                return w[row, col] ** 2 + row
    return np.sum(w)


def inner_gen(ws, x):
    for w in ws:
        yield np.sum(w * x)


def outer_gen(ws, b, x):
    yield from inner_gen(ws, x)
    yield np.sum(b**2)


def yield_from_losses(ws, b, x):
    return sum(outer_gen(ws, b, x))


def gen_pairs(xs):
    yield from zip(xs, xs[1:])


def yield_from_zip(xs):
    return sum(np.sum(a * b) for a, b in gen_pairs(xs))


CASES = [
    Case("enumerate_start", enumerate_start, ([r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("zip_three", zip_three, ([r(2), r(2)], [r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("accumulate_mul", accumulate_mul, ([r(2), r(2), r(2)],), order=2),
    Case("accumulate_lambda", accumulate_lambda, ([r(2), r(2), r(2)],), order=2),
    Case("pairwise_diffs", pairwise_diffs, ([r(2), r(2), r(2)],), order=2),
    Case("chain_params", chain_params, (r(2, 2), r(2), r(3)), wrt=(0, 1, 2), order=2),
    Case("chain_from_iterable", chain_from_iterable, ([[r(2)], [r(2), r(1)]],), order=2),
    Case("starmap_terms", starmap_terms, (r(2), r(2), r(2)), wrt=(0, 1, 2), order=2),
    Case("product_grid", product_grid, (r(3),), order=2),
    Case("reversed_sorted", reversed_sorted, (r(4),), order=2),
    Case("match_string", match_string, (W3, X), order=2),
    Case("match_tuple_scale", match_tuple, (W3, X, ("scale", 0.5)), order=2),
    Case("match_tuple_shift", match_tuple, (W3, X, ("shift", 0.5, 2.0)), order=2),
    Case("match_tuple_other", match_tuple, (W3, X, ("none",))),
    Case("match_layer_list", match_layer_list, ([[r(3, 3), r(3)], [r(3, 2)]], X), order=2),
    Case("match_star", match_star, ([r(3, 3), r(3, 2), r(2, 2)], X), order=2),
    Case("match_star_empty", match_star, ([], X), wrt=1, order=2),
    Case("match_star_middle", match_star_middle, ((r(2), r(2), r(2), r(2)),), order=2),
    Case("match_mapping_dense", match_mapping, ({"W": W3, "b": r(2)}, X)),
    Case("match_mapping_linear", match_mapping, ({"W": W3}, X), wrt=(0, 1)),
    Case("match_guard_clip", match_guard_capture, (r(4), ("clip", 0.6)), order=2),
    Case("match_guard_pow", match_guard_capture, (r(4), ("pow", 3.0)), order=2),
    Case("match_guard_fails", match_guard_capture, (r(4), ("clip", -1.0))),
    Case("match_nested_leaky", match_nested_tuple, (W3, X, ("act", ("leaky", 0.1))), order=2),
    Case("match_as_guard", match_nested_tuple, (W3, X, ("act", "gelu")), order=2),
    Case("match_str_is_no_sequence", match_not_a_string, (r(3), "ab"), order=2),
    Case("match_pair_of_numbers", match_not_a_string, (r(3), (0.5, 1.5)), wrt=(0, 1), order=2),
    Case(
        "match_alternatives_binding_refused",
        match_alternatives_binding,
        (r(3), ("scale", 2.0)),
        refused=(sg.UnsupportedSyntaxError, "write the tests as `if`/`elif`"),
    ),
    Case("walrus_clip_big", walrus_clip, (np.array([1.0, -2.0, 0.5]),), order=2),
    Case("walrus_clip_small", walrus_clip, (np.array([0.1, -0.2, 0.3]),), order=2),
    Case("walrus_in_comprehension", walrus_in_comprehension, (r(3), r(4, 3)), wrt=(0, 1)),
    Case("fstring_assert", fstring_assert, (W3, X), order=2),
    Case("try_finally", try_finally, (W3, X), order=2),
    Case(
        "try_except_refused",
        try_except_value,
        (r(3), r(3)),
        refused=(sg.UnsupportedSyntaxError, "test for the failure first"),
    ),
    Case("errstate_log", errstate_log, (np.array([0.2, 0.1, 0.5, 0.3]),), order=2),
    Case("errstate_safe_divide", errstate_safe_divide, (r(3), r(3) + 3.0), wrt=(0, 1)),
    Case("early_return_nested", early_return_nested, (r(3, 3), r(2)), wrt=(0, 1)),
    Case("search_first_positive", search_first_positive, (np.array([[-1.0, -0.5], [0.3, 2.0]]),)),
    Case("search_none_positive", search_first_positive, (-np.abs(r(2, 2)),)),
    Case("yield_from_losses", yield_from_losses, ([r(2), r(2)], r(2), r(2)), wrt=(0, 1, 2)),
    Case("yield_from_zip", yield_from_zip, ([r(2), r(2), r(2)],), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_control(case):
    check(case)
