"""Dict copies and merges of differentiated parameters: ``dict(p)``, ``dict(p, b=...)``,
``p.copy()``, ``{**p, "b": ...}``, ``p | {...}``, ``update``: Python's value and the right
gradient to second order, or a refusal naming the line."""

import numpy as np
import pytest

import sourcegrad as sg
from tests import dict_idiom_cases as c

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3))
P = {"W": RNG.normal(size=(3, 3)), "b": RNG.normal(size=3)}

CASES = [
    c.f_dictcopy,
    c.f_update,
    c.f_update_dict,
    c.f_copy,
    c.f_merge,
    c.f_merge_op,
    c.f_local_copy,
    c.f_pairs,
    c.f_local_merge,
    c.f_nested_merge,
    c.f_kwarg_dict,
]


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_value_and_gradient_to_second_order(f):
    df = sg.value_and_grad(f)
    for _ in range(3):  # the optimized code runs from the second call on
        value, grads = df(P, X)
        assert value == f(P, X)
        assert set(grads) == set(P)
    assert sg.gradcheck(f, P, X, order=2)


def test_the_argument_is_not_changed():
    kept = {k: v.copy() for k, v in P.items()}
    sg.grad(c.f_dictcopy)(P, X)
    sg.grad(c.f_local_merge)(P, X)
    for k in P:
        np.testing.assert_array_equal(P[k], kept[k])


def test_merging_a_local_display_after_other_keys():
    """``{"b": v, **q}`` of a display ``q`` of the function's with constant keys: merged as
    a display, in Python's order, on calls 1-3 and to second order."""
    f = c.f_local_merged_second
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, grads = df(P, X)
        assert value == f(P, X)
        assert set(grads) == set(P)
    assert sg.gradcheck(f, P, X, order=2)
