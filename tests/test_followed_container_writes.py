"""Lists and dicts people grow and change in place inside the function they differentiate:
an inner list grown through a loop's variable (``for r in rows: r.append(v)``, ``for layer in
layers: layer["cache"].append(h)``), a dict's lists grown through a key (``d[k].append(v)``,
``d[k].extend([...])``, ``d.setdefault(k, []).append(v)``, ``groups[key] += [v]``), ``pop``,
``insert`` and ``del`` on a copy or a list of the function's own, writes inside an ``if`` in a
loop (``if k in d: d[k] += v else: d[k] = v``), a write into an argument's item under a flag.
Each against Python's value and central differences in float64 on calls 1-3, to second order;
the caller's containers after the call as Python leaves them; the shown derivative grows the
lists by appends, and what cannot be followed is refused, naming the line and a way out."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal, numerical, params

R = np.random.default_rng(1313)
X = R.standard_normal(3)


# ------------------------------------------------------------------ inner lists grown


def rows_grown_through_loop_variable(x):
    rows = [[x], [x * 2.0]]
    for r in rows:
        r.append(np.sin(x) * len(r))
    return sum(np.sum(v**2) for r in rows for v in r)


def layer_caches_grown_through_loop_variable(x):
    layers = [{"cache": [], "scale": 0.5}, {"cache": [], "scale": 2.0}]
    h = x
    for layer in layers:
        h = np.tanh(h * layer["scale"])
        layer["cache"].append(h)
    return sum(np.sum(lay["cache"][0] ** 2) for lay in layers) + np.sum(h)


def layer_caches_made_by_dict_calls(x):
    layers = [dict(cache=[]), dict(cache=[])]
    h = x
    for layer in layers:
        h = np.sin(h) + 0.1
        layer["cache"].append(h)
        layer["cache"].append(h * h)
    return sum(np.sum(v) for lay in layers for v in lay["cache"])


def rows_grown_by_plus_equals(x):
    rows = [[] for _ in range(3)]
    for r in rows:
        r += [x * len(r), np.cos(x)]
        r += [x * len(r)]
    return sum(np.sum(v**2) for r in rows for v in r)


def item_replaced_by_a_longer_array(x):
    xs = [x, 2.0 * x]
    for i in range(2):
        xs[i] = np.concatenate([xs[i], x])
    return sum(np.sum(v**2) for v in xs)


def item_overwritten_unread(x):
    xs = [x, 2.0 * x]
    xs[0] = np.ones(6) * 2.0
    return sum(np.sum(v**2) for v in xs)


def item_written_twice_unread(x):
    xs = [x, 2.0 * x]
    xs[0] = x * 3.0
    xs[0] = np.ones(5)
    return sum(np.sum(v**2) for v in xs)


def rows_grown_by_star(x):
    rows = [[x], [x * 2.0]]
    for i in range(len(rows)):
        rows[i] = [*rows[i], np.sin(x)]
    return sum(np.sum(np.stack(r) ** 2) for r in rows)


def item_cut_shorter(x):
    xs = [np.concatenate([x, x]), 2.0 * x]
    for i in range(2):
        xs[i] = xs[i][:2] * 3.0
    return sum(np.sum(v**3) for v in xs)


def item_grown_twice(x):
    xs = [x, np.sin(x)]
    xs[0] = np.concatenate([xs[0], x])
    xs[0] = np.concatenate([xs[0], xs[1]])
    return sum(np.sum(v**2) for v in xs)


def argument_items_grown(x, ys):
    ys = list(ys)
    for i in range(len(ys)):
        ys[i] = np.concatenate([ys[i], x * ys[i][:1]])
    return sum(np.sum(np.tanh(v)) for v in ys)


def dict_item_grown(x):
    d = {"a": x, "b": x * 2.0}
    for k in ("a", "b"):
        d[k] = np.concatenate([d[k], np.cos(x)])
    return sum(np.sum(v**2) for v in d.values())


def items_replaced_by_a_slice(x):
    xs = [x, 2.0 * x, x * x]
    xs[0:2] = [np.concatenate([xs[0], xs[1]]), xs[1][:1]]
    return sum(np.sum(v**2) for v in xs)


def matrix_item_grown_by_a_row(x):
    ms = [np.outer(x, x), np.eye(3)]
    for i in range(2):
        ms[i] = np.vstack([ms[i], x])
    return sum(np.sum(m[1] ** 2) + np.sum(np.tanh(m)) for m in ms)


def argument_item_overwritten(xs):
    xs = list(xs)
    xs[0] = np.ones(5)
    return sum(np.sum(v**2) for v in xs)


def item_read_then_overwritten(x):
    xs = [x, 2.0 * x]
    v = xs[0]
    xs[0] = np.ones(6)
    return np.sum(v**2) + sum(np.sum(t * 3.0) for t in xs)


def pair_item_replaced(x):
    xs = [(x, x * 2.0), (x, x)]
    xs[0] = (np.ones(2), x)
    return sum(np.sum(a) + np.sum(b**2) for a, b in xs)


def rows_grown_then_stacked(x):
    rows = [[] for _ in range(3)]
    for r in rows:
        r.append(x)
    return sum(np.sum(np.stack(r) ** 2) for r in rows)


def rows_of_constants_grown(x):
    rows = [[np.ones(3)], [np.zeros(3), np.ones(3)]]
    for r in rows:
        r.append(np.sin(x))
        r.append(x * 2.0)
    return sum(np.sum(v**2) * len(r) for r in rows for v in r)


def rows_grown_beside_an_item_update(x):
    rows = [[x], [2.0 * x]]
    acc = [0.0]
    for r in rows:
        acc[0] += np.sum(r[0] ** 3)  # (an augmented item store in the body: found by the fuzzer)
        r.append(np.cos(x))
    return acc[0] + sum(np.sum(v * v) for r in rows for v in r)


# ------------------------------------------------------------------ a dict's lists


def dict_lists_extended(x):
    d = {"a": [], "b": [x]}
    d["a"].append(x * 2.0)
    d["b"].extend([np.sin(x), x * x])
    return sum(np.sum(v) for v in d["a"]) + sum(np.sum(v**2) for v in d["b"])


def grouped_by_setdefault(x):
    d = {}
    for i, k in enumerate(["a", "b", "a"]):
        d.setdefault(k, []).append(np.sin(x) * (i + 1.0))
    return sum(np.sum(v * v) for vs in d.values() for v in vs)


def grouped_by_plus_equals(x):
    groups = {"a": [], "b": []}
    for i, key in enumerate(["a", "b", "a"]):
        groups[key] += [x * (i + 1.0)]
    return sum(np.sum(np.stack(vs) ** 3) for vs in groups.values())


def cache_grown_on_odd_steps(x):
    cache = {"h": []}
    h = x
    for i in range(4):
        h = np.tanh(h + 0.1 * i)
        if i % 2:
            cache["h"].append(h)
    return sum(np.sum(v**2) for v in cache["h"])


# ------------------------------------------------------------------ pop, insert, del


def pops_on_a_copy(x, xs):
    ls = list(xs)
    last = ls.pop()
    first = ls.pop(0)
    ls.insert(0, x)
    del ls[1]
    return np.sum(last * first) + sum(np.sum(v**2) for v in ls)


def pops_on_a_slice_copy(x, xs):
    ls = xs[:]
    ls.insert(1, np.sin(x))
    del ls[0]
    tail = ls.pop()
    return np.sum(tail * x) + sum(np.sum(v**3) for v in ls)


def pops_on_own_list(x):
    ls = [x, 2.0 * x, np.sin(x)]
    a = ls.pop()
    ls.insert(0, a)
    del ls[1]
    return sum(np.sum(v**2) for v in ls)


# ------------------------------------------------------------------ writes in branches


def appended_on_odd_steps(x):
    cache = []
    h = x
    for i in range(4):
        h = np.tanh(h)
        if i % 2:
            cache.append(h)
    return sum(np.sum(v**2) for v in cache)


def summed_by_key_in_branches(x, keys):
    d = {}
    for i, k in enumerate(keys):
        v = x * (i + 1.0)
        if k in d:
            d[k] += v
        else:
            d[k] = v
    return sum(np.sum(v**2) for v in d.values())


def grouped_by_key_in_branches(x, keys):
    d = {}
    for i, k in enumerate(keys):
        v = x * (i + 1.0)
        if k in d:
            d[k].append(v)
        else:
            d[k] = [v]
    return sum(np.sum(np.stack(vs) ** 2) for vs in d.values())


def grouped_after_a_new_list(x, keys):
    d = {}
    for i, k in enumerate(keys):
        if k not in d:
            d[k] = []
        d[k].append(np.sin(x) * (i + 1.0))
    return sum(np.sum(v**3) for vs in d.values() for v in vs)


def popped_from_a_star_copy(x, xs):
    ls = [*xs]
    ls.pop()
    ls.insert(0, x)
    return sum(np.sum(v**2) for v in ls)


def halved_under_flag(p, x, flag):
    if flag:
        p["W"] = p["W"] * 0.5
    return np.sum(np.tanh(x @ p["W"]))


CASES = [
    Case("rows_grown_through_loop_variable", rows_grown_through_loop_variable, (X,), order=2),
    Case("layer_caches", layer_caches_grown_through_loop_variable, (X,), order=2),
    Case("layer_caches_dict_calls", layer_caches_made_by_dict_calls, (X,), order=2),
    Case("rows_grown_by_plus_equals", rows_grown_by_plus_equals, (X,), order=2),
    Case("rows_grown_then_stacked", rows_grown_then_stacked, (X,), order=2),
    Case("rows_of_constants_grown", rows_of_constants_grown, (X,), order=2),
    Case("rows_grown_beside_an_item_update", rows_grown_beside_an_item_update, (X,), order=2),
    Case("item_replaced_by_a_longer_array", item_replaced_by_a_longer_array, (X,), order=2),
    Case("item_overwritten_unread", item_overwritten_unread, (X,), order=2),
    Case("item_written_twice_unread", item_written_twice_unread, (X,), order=2),
    Case("rows_grown_by_star", rows_grown_by_star, (X,), order=2),
    Case("item_cut_shorter", item_cut_shorter, (X,), order=2),
    Case("item_grown_twice", item_grown_twice, (X,), order=2),
    Case("argument_items_grown", argument_items_grown, (X, [X, 2 * X]), wrt=(0, 1)),
    Case("dict_item_grown", dict_item_grown, (X,), order=2),
    Case("items_replaced_by_a_slice", items_replaced_by_a_slice, (X,), order=2),
    Case("matrix_item_grown_by_a_row", matrix_item_grown_by_a_row, (X,), order=2),
    Case("argument_item_overwritten", argument_item_overwritten, ([X, 2 * X],)),
    Case("item_read_then_overwritten", item_read_then_overwritten, (X,), order=2),
    Case("pair_item_replaced", pair_item_replaced, (X,), order=2),
    Case("dict_lists_extended", dict_lists_extended, (X,), order=2),
    Case("grouped_by_setdefault", grouped_by_setdefault, (X,), order=2),
    Case("grouped_by_plus_equals", grouped_by_plus_equals, (X,), order=2),
    Case("cache_grown_on_odd_steps", cache_grown_on_odd_steps, (X,), order=2),
    Case("pops_on_a_copy", pops_on_a_copy, (X, [X * k for k in (1.0, 2.0, 3.0, 4.0)]), order=2),
    Case("pops_on_a_copy_list", pops_on_a_copy, (X, [X * 1.5, X, -X, X * 0.5]), wrt=1),
    Case("pops_on_a_slice_copy", pops_on_a_slice_copy, (X, [X, X * 2.0, X * 3.0]), wrt=(0, 1)),
    Case("pops_on_own_list", pops_on_own_list, (X,), order=2),
    Case("appended_on_odd_steps", appended_on_odd_steps, (X,), order=2),
    Case("grouped_by_key_in_branches", grouped_by_key_in_branches, (X, list("aba")), order=2),
    Case("grouped_after_a_new_list", grouped_after_a_new_list, (X, list("abab")), order=2),
    Case("popped_from_a_star_copy", popped_from_a_star_copy, (X, [X, 2 * X, X * X]), wrt=(0, 1)),
    Case("summed_by_key_in_branches", summed_by_key_in_branches, (X, ["a", "b", "a"]), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_followed(case):
    check(case)


@pytest.mark.parametrize("flag", [True, False])
def test_argument_item_written_under_a_flag(flag):
    """The caller's dict holds what Python's call leaves in it, call after call (the write
    halves it again on every call), with the value and gradient of the function of the
    dict's values on entry."""
    p0 = {"W": R.standard_normal((3, 3))}
    mine, pythons = copy.deepcopy(p0), copy.deepcopy(p0)
    df = sg.value_and_grad(halved_under_flag)
    for call in range(3):
        want = numerical(halved_under_flag, (copy.deepcopy(mine), X, flag), 0)
        value, g = df(mine, X, flag)
        assert value == pytest.approx(halved_under_flag(pythons, X, flag), rel=1e-12)
        np.testing.assert_allclose(g["W"], want["W"], rtol=1e-5, atol=1e-7, err_msg=str(call))
        np.testing.assert_array_equal(mine["W"], pythons["W"])
    hv = sg.hvp(halved_under_flag)
    v = {"W": R.standard_normal((3, 3))}
    eps = 1e-5
    for call in range(3):
        at = copy.deepcopy(mine)
        got = hv(at, X, flag, v)["W"]

        def grad_at(s):
            return sg.grad(halved_under_flag)({"W": mine["W"] + s * v["W"]}, X, flag)["W"]

        want = (grad_at(eps) - grad_at(-eps)) / (2 * eps)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=str(call))


def argument_lists_grown(x, d):
    d["a"].append(x * 2.0)
    d["b"] += [np.sin(x), x * x]
    return sum(np.sum(v**2) for v in d["a"]) + np.sum(d["b"][-1] * d["b"][-2])


def test_argument_lists_grown_stay_the_callers():
    """``d["a"].append(v)`` and ``d["b"] += [...]`` into an argument's lists (constant keys):
    the caller's lists are the same objects afterwards, holding what Python's call leaves in
    them, call after call; value and gradient of the function of the values on entry."""
    mine = {"a": [X * 0.5], "b": []}
    python = copy.deepcopy(mine)
    lists = (mine["a"], mine["b"])
    df = sg.value_and_grad(argument_lists_grown)
    for call in range(3):
        want = numerical(argument_lists_grown, (X, copy.deepcopy(mine)), 0)
        value, got = df(X, mine)
        assert value == pytest.approx(argument_lists_grown(X, python), rel=1e-12)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=str(call))
        assert mine["a"] is lists[0] and mine["b"] is lists[1]
        for key in ("a", "b"):
            assert len(mine[key]) == len(python[key])
            for a, b in zip(mine[key], python[key]):
                np.testing.assert_array_equal(a, b)


def test_argument_lists_grown_second_order():
    """(forward mode gave the argument's item in the list display stored a None tangent,
    which `v ** 2` over the list's items multiplied: on main too, written by hand)"""
    mine = {"a": [X * 0.5], "b": []}
    v, eps = R.standard_normal(3), 1e-5
    hv, df = sg.hvp(argument_lists_grown), sg.grad(argument_lists_grown)
    for call in range(3):
        got = hv(X, copy.deepcopy(mine), v)
        hi, lo = df(X + eps * v, copy.deepcopy(mine)), df(X - eps * v, copy.deepcopy(mine))
        np.testing.assert_allclose(
            got, (hi - lo) / (2 * eps), rtol=1e-4, atol=1e-6, err_msg=str(call)
        )


def test_shown_derivatives_grow_lists_by_appends():
    """The pure derivative grows a grown list by one value per step (``[*r, v]`` of the
    item), with no copy of the lists per step; the index loop reads like the user's."""
    text = sg.show(rows_grown_through_loop_variable, args=(X,))
    assert "rows[i] = [*rows[i]" in text or "[*rows_" in text or "[*row_i, " in text
    assert "deepcopy" not in text and "copied" not in text
    text = sg.show(grouped_by_setdefault, args=(X,))
    assert "d_default" not in text  # the new list stored as written: `d[key] = []`
    text = sg.show(cache_grown_on_odd_steps, args=(X,))  # a name per key: no dict copies
    assert "cache_h = [*cache_h, h]" in text and ".copy()" not in text
    assert 'cache = {"h": cache_h}' in text


EXPORTED = [
    (rows_grown_through_loop_variable, (X,)),
    (layer_caches_grown_through_loop_variable, (X,)),
    (grouped_by_setdefault, (X,)),
    (summed_by_key_in_branches, (X, list("aba"))),
]


@pytest.mark.parametrize("f, args", EXPORTED, ids=[f.__name__ for f, _ in EXPORTED])
def test_exported(f, args):
    """The exported module (run here from its text alone) gives the value and gradient the
    derivative gives, call after call."""
    text = sg.export(f, *copy.deepcopy(args))
    space: dict = {"__name__": "exported"}
    exec(compile(text, "exported.py", "exec"), space)
    want = sg.value_and_grad(f)(*copy.deepcopy(args))
    for _ in range(3):
        value, g = space[f"d_{f.__name__}"](*copy.deepcopy(args))
        assert value == pytest.approx(want[0], rel=1e-12)
        np.testing.assert_allclose(g, want[1], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ state in a called layer


class CountingLayer:
    def __init__(self, W):
        self.W = W
        self.calls = 0
        self.cache = None

    def __call__(self, x):
        self.calls += 1
        self.cache = x
        return np.tanh(x @ self.W)


LAYER = CountingLayer(R.standard_normal((3, 3)) * 0.5)


def global_layer_in_an_expression(x):
    return np.sum(LAYER(x) ** 2)


def argument_layer_called_twice(x, layer):
    h = layer(x)
    h = layer(h * 0.5)
    return np.sum(h**2)


def test_global_layer_keeping_state_is_followed():
    """``LAYER(x)`` inside an expression, ``__call__`` counting its calls and keeping its
    input: one step per call of each derivative, as Python's call makes one, and the input
    it keeps is the call's."""
    df, hv = sg.grad(global_layer_in_an_expression), sg.hvp(global_layer_in_an_expression)
    want = numerical(global_layer_in_an_expression, (X,), 0)
    v = R.standard_normal(3)
    eps = 1e-5
    for call in range(3):
        before = LAYER.calls
        np.testing.assert_allclose(df(X), want, rtol=1e-5, atol=1e-7, err_msg=str(call))
        assert LAYER.calls == before + 1 and LAYER.cache is not None
        np.testing.assert_array_equal(LAYER.cache, X)
        hi, lo = df(X + eps * v), df(X - eps * v)
        before = LAYER.calls
        got = hv(X, v)
        assert LAYER.calls == before + 1
        np.testing.assert_allclose(
            got, (hi - lo) / (2 * eps), rtol=1e-4, atol=1e-6, err_msg=str(call)
        )


def test_argument_layer_keeping_state_is_followed():
    layer = CountingLayer(R.standard_normal((3, 3)) * 0.5)
    python = copy.deepcopy(layer)
    df = sg.value_and_grad(argument_layer_called_twice)
    for call in range(3):
        want = numerical(argument_layer_called_twice, (X, copy.deepcopy(layer)), 0)
        value, got = df(X, layer)
        assert value == pytest.approx(argument_layer_called_twice(X, python), rel=1e-12)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7, err_msg=str(call))
        assert layer.calls == python.calls == 2 * (call + 1)
        np.testing.assert_allclose(layer.cache, python.cache, rtol=1e-13)


# ------------------------------------------------------------------ still refused


def item_named_then_grown(x):
    rows = [[x], [x * 2.0]]
    first = rows[0]
    for r in rows:  # REFUSED
        r.append(np.sin(x))
    return sum(np.sum(v) for v in first)


def loop_variable_read_after(x):
    rows = [[x], [x * 2.0]]
    for r in rows:  # REFUSED
        r.append(np.sin(x))
    last = r
    return sum(np.sum(v) for v in last)


def item_list_named_then_grown(x):
    d = {"a": [x]}
    vs = d["a"]
    d["a"].append(np.sin(x))  # REFUSED
    return sum(np.sum(v) for v in vs)


def argument_rows_grown(x, rows):
    for r in rows:  # REFUSED
        r.append(np.sin(x))
    return sum(np.sum(v) for r in rows for v in r)


REFUSED = [
    (item_named_then_grown, (X,), "rows = [[*r, v] for r in rows]"),
    (loop_variable_read_after, (X,), "rows = [[*r, v] for r in rows]"),
    (item_list_named_then_grown, (X,), "d['a'] = [*d['a'], v]"),
    (argument_rows_grown, (X, [[X], [X]]), "rows = [[*r, v] for r in rows]"),
]


@pytest.mark.parametrize("f, args, hint", REFUSED, ids=[f.__name__ for f, _, _ in REFUSED])
def test_refused_where_another_holder_would_see_the_change(f, args, hint):
    check_refusal(f, args, sg.UnsupportedSyntaxError, hint)
