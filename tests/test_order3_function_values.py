"""Order 3 through a function value called by keyword or through ``*args`` (issue 17): a
helper passed in or held in a list or dict, a lambda, a nested ``def``, a partial, a layer
object, a method, each with defaults, keyword-only parameters, ``*args`` or ``**kwargs``.
Forward mode runs twice over the vjp of the function the call binds to (and over its jvp):
each tangent is lifted to the parameter its argument went to, and every part of the result
goes back to the call's own arguments. The third derivative is checked against central
differences of ``sg.hvp`` along the same direction on calls 1 to 3 (the optimized code runs
from the second); the exports run by ``python -I -S`` with only NumPy and give the in-process
numbers bit for bit. Order 4 through such a call stays refused, at the user's file."""

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from . import export_kwonly_cases as kc
from . import export_value_cases as v
from . import test_function_value_keywords as kw
from .test_export import same
from .test_export_kwonly import isolated
from .test_export_values import DEFAULTS, STAR_ARGS, _like


def helpers_passed_in_by_keyword(params, x, helpers):
    """A dict of helpers passed in: one taking ``*zs`` and ``**options``, called by keyword,
    one with a keyword-only default, called by keyword."""
    h = x @ params["W"]
    g = helpers["gate"](h, h + params["b"], scale=0.5)
    return np.sum(helpers["scaled"](g, k=0.7) ** 2)


def helpers_in_a_list_through_star_args(params, x, helpers):
    """Helpers held in a list, called through ``*args`` of a tuple it builds."""
    h = x @ params["W"]
    pair = (h, np.sin(h + params["b"]))
    out = h
    for f in helpers:
        out = out + f(*pair, scale=0.3)
    return np.sum(out**2)


def passed_in_args(seed=0):
    params, x = v.dict_args(seed)
    return params, x, {"gate": v.gated, "scaled": kc.scaled}


def list_args(seed=0):
    params, x = v.dict_args(seed)
    return params, x, [v.gated, v.gated]


PASSED_IN = {
    "helpers passed in a dict, called by keyword": (helpers_passed_in_by_keyword, passed_in_args),
    "helpers passed in a list, through *args": (helpers_in_a_list_through_star_args, list_args),
}
EXPORTED = {**DEFAULTS, **STAR_ARGS, **PASSED_IN}


def _direction(x, rng):
    if isinstance(x, float):
        return 0.7
    return _like(x, rng) if isinstance(x, (dict, list)) else rng.normal(size=np.shape(x))


def _moved(x, d, e):
    """``x + e * d`` leaf by leaf (a dict's items, a layer object's fields, a list's items)."""
    if dataclasses.is_dataclass(x):
        fields = {
            f.name: _moved(getattr(x, f.name), getattr(d, f.name), e) for f in dataclasses.fields(x)
        }
        return dataclasses.replace(x, **fields)
    if isinstance(x, dict):
        return {k: _moved(x[k], d[k], e) for k in x}
    if isinstance(x, list):
        return [_moved(a, b, e) for a, b in zip(x, d)]
    return x + e * d


def _leaves(tree):
    if dataclasses.is_dataclass(tree):
        return [leaf for f in dataclasses.fields(tree) for leaf in _leaves(getattr(tree, f.name))]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [np.asarray(tree, dtype=np.float64)]


def check_order_3(f, args, w, seed=3):
    """The third derivative along ``args[w]`` (forward mode twice over the gradient, both
    seeds one direction) against central differences of the Hessian-vector product."""
    d = _direction(args[w], np.random.default_rng(seed))
    e, hv = 1e-5, sg.hvp(f, w)

    def at(sign):
        moved = list(args)
        moved[w] = _moved(args[w], d, sign * e)
        return hv(*moved, d)

    plus, minus = at(1), at(-1)
    levels = tower(f, (), [w, w], (w,))
    for _ in range(3):  # the first build, then the optimized one
        got = levels.evaluate(tuple(args), (d, d))
        for g, p, m in zip(_leaves(got), _leaves(plus), _leaves(minus)):
            np.testing.assert_allclose(g, (p - m) / (2 * e), rtol=1e-5, atol=1e-6)


KEYWORD_CASES = [
    pytest.param(f, args, w, id=f"{f.__name__}-{w}")
    for f, args in kw.CASES
    for w in ([0, len(args) - 1] if isinstance(args[-1], float) else [0])
]


@pytest.mark.parametrize("f, args, w", KEYWORD_CASES)
def test_order_3_through_calls_by_keyword_matches_central_differences(f, args, w):
    """Every program of tests/test_function_value_keywords.py, along its weights and along
    a scalar passed by keyword to the function value."""
    check_order_3(f, args, w)


@pytest.mark.parametrize("case", list(EXPORTED))
def test_order_3_of_the_exported_programs_matches_central_differences(case):
    f, make = EXPORTED[case]
    check_order_3(f, make(), 0)


def test_the_values_of_the_programs_passing_helpers_in_are_pythons():
    for f, make in PASSED_IN.values():
        args = make()
        value_and_grad = sg.value_and_grad(f)
        for _ in range(3):
            assert value_and_grad(*args)[0] == f(*args)


@pytest.mark.parametrize("case", list(EXPORTED))
def test_order_3_through_calls_by_keyword_or_star_args_exports_bit_for_bit(case, tmp_path):
    f, make = EXPORTED[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(3))
    text = sg.export(f, *args, order=3)
    assert "import sourcegrad" not in text
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    levels = tower(f, (), [0, 0], (0,))
    for _ in range(3):
        want = levels.evaluate(args, (vec, vec))
    assert same(got, want), (got, want)


def test_order_4_through_a_call_by_keyword_is_refused_at_the_users_call():
    W, x, s = kw.W, kw.X, kw.S
    levels = tower(kw.kwargs_lambda, (), [2, 2, 2], (2,))
    refused = "order 4 or more through a layer object or another function value"
    with pytest.raises(sg.SourcegradError, match=refused) as info:
        levels.evaluate((W, x, s))
    call = kw.kwargs_lambda.__code__.co_firstlineno + 2  # the line that calls f
    assert (info.value.filename, info.value.lineno) == (kw.__file__, call)
