"""Lists held in an argument's dict, grown through a computed key (``for k in keys:
d[k].append(h)``, ``d[k].extend(...)``, also in a helper given the dict): the derivative
follows ``d[k]`` as the new list ``[*d[k], h]`` and leaves in the caller's own lists (the same
objects) the items Python appended. Checked through the public API over several calls: the
value and the caller's dict against Python's run from the same dict, the gradient against
central differences in float64, the Hessian-vector product against differences of the
gradient; two keys holding one list, or the list also given as another argument, refused."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import marked_line

P = np.array([0.3, 0.5, -0.2])
KEYS = ["enc", "dec", "enc"]


def grown_in_a_loop(p, cache, keys):
    h = p
    for k in keys:
        h = np.tanh(1.5 * h + 0.1)
        cache[k].append(h)
    return np.sum(h**2) + np.sum(cache["enc"][-1]) + len(cache["dec"])


def extended(p, cache, keys):
    h = p
    for i, k in enumerate(keys):
        h = np.sin(h * (1.0 + i))
        cache[k].extend([h, 2.0 * h])
    return np.sum(cache["dec"][-1] * cache["enc"][0])


def record(cache, key, h):
    cache[key].append(h)


def grown_by_a_helper(p, cache, keys):
    h = p
    for k in keys:
        h = np.tanh(h * p)
        record(cache, k, h)
    return np.sum(h) + 0.1 * np.sum(cache[keys[0]][-1] ** 2)


def two_keys_one_list(p, cache, keys):
    h = p
    for k in keys:
        h = np.tanh(h)
        cache[k].append(h)  # REFUSED
    return np.sum(h)


def _cache():
    return {"enc": [0.5 * P], "dec": []}


def _numerical(f, p, cache):
    eps = 1e-6
    out = np.zeros_like(p)
    for i in range(p.size):
        e = np.zeros_like(p)
        e[i] = eps
        hi = f(p + e, copy.deepcopy(cache), KEYS)
        lo = f(p - e, copy.deepcopy(cache), KEYS)
        out[i] = (hi - lo) / (2 * eps)
    return out


@pytest.mark.parametrize("f", [grown_in_a_loop, extended, grown_by_a_helper])
def test_value_gradient_and_the_callers_lists_as_python(f):
    df = sg.value_and_grad(f)
    cache = _cache()
    lists = {k: v for k, v in cache.items()}
    for call in range(3):
        p = P * (1.0 + 0.25 * call)
        entry = copy.deepcopy(cache)
        value, grad = df(p, cache, KEYS)
        python = copy.deepcopy(entry)
        want = f(p, python, KEYS)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        assert all(cache[k] is lists[k] for k in cache), "the caller's own lists"
        for k in python:
            assert len(cache[k]) == len(python[k]), k
            for got, item in zip(cache[k], python[k]):
                np.testing.assert_array_equal(got, item)
        np.testing.assert_allclose(grad, _numerical(f, p, entry), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", [grown_in_a_loop, extended])
def test_hvp_against_differences_of_the_gradient(f):
    v = np.array([0.4, -0.7, 0.2])
    hvp, grad = sg.hvp(f), sg.grad(f)
    eps = 1e-5
    for _ in range(3):
        cache = _cache()
        got = hvp(P, copy.deepcopy(cache), KEYS, v)
        hi = grad(P + eps * v, copy.deepcopy(cache), KEYS)
        lo = grad(P - eps * v, copy.deepcopy(cache), KEYS)
        np.testing.assert_allclose(got, (hi - lo) / (2 * eps), rtol=1e-4, atol=1e-6)


def test_two_keys_holding_one_list_are_refused():
    shared = []
    line = marked_line(two_keys_one_list)
    for _ in range(2):
        with pytest.raises(SourcegradError) as info:
            sg.grad(two_keys_one_list)(P, {"enc": shared, "dec": shared}, KEYS)
        message = str(info.value)
        assert message.startswith(f"{__file__}:{line}: "), message
        assert "is the same object" in message and "pass a copy" in message, message
    assert shared == []
