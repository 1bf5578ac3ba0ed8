"""A shallow copy of a container argument (``q = dict(params)``) holds the caller's items:
an item changed in place through it changes the caller's array in Python, which the
derivative, following values, would leave as it was: refused at the line, with a new value
for the item (or a copy of it) as the way out."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import check_refusal

R = np.random.default_rng(5)


def _params():
    return {"W": R.standard_normal((3, 2)), "b": R.standard_normal(2)}


def scaled_through_dict_copy(params, x):
    q = dict(params)
    q["b"] *= 0.9  # REFUSED
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def scaled_through_copy_method(params, x):
    q = params.copy()
    q["W"][0] = 1.0  # REFUSED
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def scaled_through_unpacking(params, x):
    q = {**params}
    q["b"] -= 0.5  # REFUSED
    return np.sum(np.tanh(x @ q["W"] + q["b"]))


def rebound_argument(params, x):
    params = dict(params)
    params["b"] += 1.0  # REFUSED
    return np.sum(np.tanh(x @ params["W"] + params["b"]))


def list_copy(ws, x):
    vs = list(ws)
    vs[0] *= 2.0  # REFUSED
    return np.sum(x @ vs[0]) + np.sum(vs[1])


@pytest.mark.parametrize(
    "f",
    [
        scaled_through_dict_copy,
        scaled_through_copy_method,
        scaled_through_unpacking,
        rebound_argument,
    ],
)
def test_an_item_of_a_shallow_copy_changed_in_place_is_refused(f):
    params, x = _params(), R.standard_normal((4, 3))
    before = {k: v.copy() for k, v in params.items()}
    check_refusal(f, (params, x), sg.SourcegradError, "copy")
    for k in params:  # refused before anything ran
        np.testing.assert_array_equal(params[k], before[k])


def test_an_item_of_a_list_copy_changed_in_place_is_refused():
    ws = [R.standard_normal((3, 2)), R.standard_normal(2)]
    check_refusal(list_copy, (ws, R.standard_normal((4, 3))), sg.SourcegradError, "copy")


def copied_twice(params, x):
    q = params.copy()
    q["W"] = q["W"] * 2.0
    acc = np.sum(np.tanh(x @ q["W"] + q["b"]) ** 2)
    q = dict(params)
    q["b"] *= 0.9  # REFUSED
    return acc


def test_an_item_changed_through_a_name_copied_twice_is_refused():
    """(The random-program fuzzer's case: silently left the caller's array as it was.)"""
    params, x = _params(), R.standard_normal((4, 3))
    before = params["b"].copy()
    check_refusal(copied_twice, (params, x), sg.SourcegradError, "give the item a new value")
    np.testing.assert_array_equal(params["b"], before)
