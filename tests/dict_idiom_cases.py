"""Dicts copied, merged and updated the ways people write it (read by ``test_dict_idioms.py``)."""

import numpy as np


def f_dictcopy(p, x):
    q = dict(p)
    q["W"] = q["W"] * 2.0
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_update(p, x):
    q = {"W": p["W"]}
    q.update(b=p["b"] * 3.0)
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_update_dict(p, x):
    q = {}
    q.update(p)
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_copy(p, x):
    q = p.copy()
    q["b"] = q["b"] + 1.0
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_merge(p, x):
    q = {**p, "b": p["b"] * 2.0}
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_merge_op(p, x):
    q = p | {"b": p["b"] * 2.0}
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def f_local_copy(p, x):
    q = {"W": p["W"] * 2.0, "b": p["b"]}
    r = dict(q)
    r["b"] = r["b"] * 3.0
    return np.sum(np.tanh(x @ r["W"] + r["b"])) + np.sum(q["b"])


def f_pairs(p, x):
    r = dict(zip(["W", "b"], [p["W"], p["b"]]))
    return np.sum(np.tanh(x @ r["W"] + r["b"]))


def f_local_merge(p, x):
    q = {"W": p["W"] * 2.0}
    r = {**q, "b": p["b"]}
    return np.sum(np.tanh(x @ r["W"] + r["b"]))


def f_nested_merge(p, x):
    r = {**{"W": p["W"]}, **p, "W": p["W"] * 0.5}
    return np.sum(np.tanh(x @ r["W"] + r["b"])) * len(r)


def f_kwarg_dict(p, x):
    r = dict(p, b=p["b"] * 2.0)
    return np.sum(np.tanh(x @ r["W"] + r["b"]))


def f_local_merged_second(p, x):
    q = {"W": p["W"] * 2.0}
    r = {"b": p["b"], **q}
    return np.sum(np.tanh(x @ r["W"] + r["b"]))
