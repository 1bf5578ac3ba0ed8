"""``sourcegrad.util``'s tree functions inside a differentiated function, as JAX users write
them: an L2 penalty over ``tree_leaves(params)``, ``tree_flatten``/``tree_unflatten``, an
inner SGD step by ``tree_map`` over parameters and gradients (one, two and three trees, dicts
in another key order), ``ravel`` of a dict of parameters; each against Python's value and
central differences on repeated calls, to second order. A structure mismatch is Python's
TreeStructureError, differentiated or not."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.util import TreeStructureError

from .ported.harness import Case, check, params

R = np.random.default_rng(13)


def r(*s):
    return R.standard_normal(s)


def l2_leaves(params, x):
    reg = sum(np.sum(p**2) for p in sg.util.tree_leaves(params))
    return np.sum(np.tanh(x @ params["W"]) ** 2) + 0.1 * reg


def flatten_unflatten(params, x):
    leaves, treedef = sg.util.tree_flatten(params)
    again = sg.util.tree_unflatten(treedef, [2.0 * leaf for leaf in leaves])
    return sum(np.sum(v**2) for v in leaves) + np.sum(np.tanh(x @ again["W"] + again["b"]))


def sgd_inside(params, x):
    g = {"b": params["b"], "W": params["W"] * 2.0}  # another key order
    new = sg.util.tree_map(lambda p, d: p - 0.1 * d, params, g)
    return np.sum((x @ new["W"] + new["b"]) ** 2)


def _momentum(p, g, m):
    return p - 0.1 * (0.9 * m + g)


def three_trees(params, x):
    g = sg.util.tree_map(lambda p: 2.0 * p, params)
    m = sg.util.tree_map(np.tanh, params)
    new = sg.util.tree_map(_momentum, params, g, m)
    return np.sum(np.sin(x @ new["W"] + new["b"]))


def ravel_dict(params, x):
    flat, unravel = sg.util.ravel(params)
    back = unravel(flat * 0.5)
    return np.dot(flat, flat) + np.sum(np.tanh(x @ back["W"] + back["b"]))


P = {"W": r(3, 2), "b": r(2)}
CASES = [
    Case("l2_leaves", l2_leaves, (P, r(4, 3)), order=2),
    Case("flatten_unflatten", flatten_unflatten, (P, r(4, 3)), order=2),
    Case("sgd_inside", sgd_inside, (P, r(4, 3)), order=2),
    Case("three_trees", three_trees, (P, r(4, 3)), order=2),
    Case("ravel_dict", ravel_dict, (P, r(4, 3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_tree_utilities_inside_a_loss(case):
    check(case)


def mismatched(params, x):
    other = {"W": params["W"]}
    new = sg.util.tree_map(lambda p, d: p - d, params, other)
    return np.sum(x @ new["W"])


def test_a_structure_mismatch_is_the_same_error_differentiated_or_not():
    with pytest.raises(TreeStructureError, match="keys"):
        mismatched(P, r(4, 3))
    with pytest.raises(TreeStructureError, match="keys"):
        sg.grad(mismatched)(P, r(4, 3))
