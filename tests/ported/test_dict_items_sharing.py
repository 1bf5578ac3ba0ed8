"""A dict's values share memory with the loop variables that run over them (`for v in
d.values()`, `for k, v in d.items()`): a write through the variable changes the dict in
Python: over a dict display of new values sourcegrad follows it (a loop over the keys), else
refuses it with a way out through the keys; a new dict made from
another (`{**d, ...}`, a comprehension) holds the items, not the dict, so writing a key of
either is differentiated."""

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

rng = np.random.default_rng(61)


def r(*s):
    return rng.standard_normal(s)


def write_through_values(x):
    d = {"a": np.sin(x), "b": np.cos(x)}
    for v in d.values():
        v[0] = 5.0  # (followed: a loop over the display's keys)
    return np.sum(d["a"] * x)


def write_through_items(x):
    d = {"a": np.sin(x), "b": np.cos(x)}
    for _, v in d.items():
        v[1] = 2.0  # (followed: a loop over the display's keys)
    return np.sum(d["a"] * x)


def scale_through_sorted_items(x):
    d = {"a": np.sin(x), "b": np.cos(x)}
    for _, v in sorted(d.items()):
        v *= 2.0  # REFUSED
    return np.sum(d["a"] * x)


def splat_then_key_write(x):
    d = {"a": np.sin(x), "b": x * 2}
    q = {**d, "c": x}
    d["a"] = x * 3
    return np.sum(q["a"] * x) + np.sum(d["a"])


def rebound_by_comprehension_then_key_write(x):
    d = {"a": np.sin(x)}
    q = {**d}
    d = {k: np.tanh(x * (i + 1)) for i, k in enumerate(("a", "b"))}
    d["c"] = d["a"] * d["b"]
    return np.sum(q["a"]) + np.sum(d["c"])


def read_through_items(x):
    d = {"b": np.sin(x), "a": np.cos(x)}
    t = 0.0
    for k, v in sorted(d.items()):
        t = t + np.sum(v * x) * len(k)
    return t


THROUGH_KEYS = (sg.SourcegradError, "for k in d: d[k] = ...")


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("write_through_values", write_through_values, (r(4),), order=2),
            Case("write_through_items", write_through_items, (r(4),), order=2),
            Case("scale_through_sorted_items", scale_through_sorted_items, (r(4),),
                 refused=THROUGH_KEYS),
            Case("splat_then_key_write", splat_then_key_write, (r(4),), order=2),
            Case("rebound_by_comprehension", rebound_by_comprehension_then_key_write, (r(4),),
                 order=2),
            Case("read_through_items", read_through_items, (r(4),), order=2),
        ]
    ),
)  # fmt: skip
def test_dict_items_sharing(case):
    check(case)
