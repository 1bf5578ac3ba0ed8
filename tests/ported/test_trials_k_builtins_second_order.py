"""Python's builtins over containers, differentiated to second order (``hvp``, whose forward
mode runs the builtins' tangent rules): ``sorted`` of a dict's keys and of a list by a key,
``min``/``max`` of a list of scores, ``zip`` of a dict's ``items()`` with a list, ``reversed``
of a list of arrays, ``dict(zip(...))``, ``list(d.values())``, ``sum`` with ``start``,
``enumerate`` of ``sorted(d.items())``, ``max(d, key=d.get)`` choosing a key by value,
``any``/``all`` over arrays, ``divmod`` of a float (no rule: refused at its line), ``pow``
with three forms, ``len`` of a dict built in the loss, and ``isinstance`` over a tuple of
arrays and floats. Each against Python's value and central differences on calls 1-3, the
gradient and the Hessian-vector product."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(1732)


def r(*s):
    return R.standard_normal(s)


def sorted_dict_keys(params, x):
    h = x
    for name in sorted(params):
        h = np.tanh(h * params[name])
    return np.sum(h**2)


def sorted_by_key(ws):
    ordered = sorted(ws, key=lambda w: w.shape[0])
    return sum((i + 1.0) * np.sum(w**3) for i, w in enumerate(ordered))


def min_max_scores(ws, x):
    scores = [np.sum(w * x) for w in ws]
    return max(scores) ** 2 - min(scores) * max(scores)


def zip_items_with_list(params, scales):
    total = 0.0
    for (name, w), s in zip(params.items(), scales):
        total = total + s * np.sum(np.sin(w)) * len(name)
    return total


def reversed_list(ws, x):
    h = x
    for w in reversed(ws):
        h = np.tanh(h * w + 0.1)
    return np.sum(h**2)


def dict_zip_values(a, b):
    d = dict(zip(["a", "b"], [a, b]))
    vals = list(d.values())
    return np.sum(vals[0] * vals[1]) + np.sum(d["a"] ** 3)


def sum_with_start(ws):
    return np.sum(sum(ws, np.zeros(2)) ** 2) + sum([np.sum(w) for w in ws], 1.0)


def enumerate_sorted_items(params):
    total = 0.0
    for i, (k, v) in enumerate(sorted(params.items())):
        total = total + (i + 1.0) * np.sum(v**2) * len(k)
    return total


def argmax_key_by_value(scores, x):
    d = {"a": float(np.sum(scores[0])), "b": float(np.sum(scores[1]))}
    best = max(d, key=d.get)
    idx = 0 if best == "a" else 1
    return np.sum(scores[idx] * x) ** 2


def any_all_arrays(w):
    out = np.sum(w**2)
    if any(w > 1.0):
        out = out + np.sum(w**3)
    if all(np.abs(w) < 5.0):
        out = out * 0.5
    return out


def divmod_floats(a):
    q, rem = divmod(a, 0.7)  # REFUSED
    return rem**2 + q * a


def pow_forms(a, b):
    return pow(a, 3) + pow(abs(b) + 1.0, a) + a**-1.5


def len_of_built_dict(ws):
    d = {f"w{i}": w for i, w in enumerate(ws)}
    return sum(np.sum(v**2) for v in d.values()) / len(d)


def isinstance_tuple(items):
    total = 0.0
    for it in items:
        if isinstance(it, np.ndarray):
            total = total + np.sum(np.exp(it))
        elif isinstance(it, float):
            total = total + it**4
    return total


CASES = [
    Case(
        "sorted_dict_keys",
        sorted_dict_keys,
        ({"b": r(2), "a": r(2), "c": r(2)}, r(2)),
        wrt=(0, 1),
        order=2,
    ),
    Case("sorted_by_key", sorted_by_key, ([r(3), r(1), r(2)],), order=2),
    Case("min_max_scores", min_max_scores, ([r(2), r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case(
        "zip_items_with_list",
        zip_items_with_list,
        ({"ab": r(2), "c": r(2)}, [0.5, 2.0]),
        wrt=(0, 1),
        order=2,
    ),
    Case("reversed_list", reversed_list, ([r(2), r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("dict_zip_values", dict_zip_values, (r(2), r(2)), wrt=(0, 1), order=2),
    Case("sum_with_start", sum_with_start, ([r(2), r(2)],), order=2),
    Case("enumerate_sorted_items", enumerate_sorted_items, ({"b": r(2), "a": r(3)},), order=2),
    Case("argmax_key_by_value", argmax_key_by_value, ([r(2), r(2)], r(2)), wrt=(0, 1), order=2),
    Case("any_all_arrays", any_all_arrays, (np.array([0.3, 1.4, -0.2]),), order=2),
    Case(
        "divmod_floats_refused",
        divmod_floats,
        (2.3,),
        refused=(sg.NoRuleError, "compute the value with functions sourcegrad knows"),
    ),
    Case("pow_forms", pow_forms, (1.3, -0.4), wrt=(0, 1), order=2),
    Case("len_of_built_dict", len_of_built_dict, ([r(2), r(3)],), order=2),
    Case("isinstance_tuple", isinstance_tuple, ((r(2), 0.7, r(1)),), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_builtins_second_order(case):
    check(case)
