"""The list walks the passes use in place of ``walk`` (for speed) see the same nodes in the
same order: ``name_nodes`` and ``nodes_of`` are ``walk`` filtered, and ``parent_map`` holds,
for every node ``walk`` visits below the root, the parent that a map made from
``ast.iter_child_nodes`` gives."""

import inspect
import textwrap

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform import syntax as S


def lstm_step(params, xs):
    h = np.zeros((xs.shape[1], params["W"].shape[1]))
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W"] + h @ params["U"] + params["b"]
        h = np.tanh(z[:, :4]) * (1.0 / (1.0 + np.exp(-z[:, 4:])))
    return np.sum(h * h) + sum([k * 2.0 for k in (1.0, 2.0)])


def _trees():
    rng = np.random.default_rng(0)
    params = {
        "W": rng.standard_normal((3, 8)),
        "U": rng.standard_normal((8, 8)),
        "b": rng.standard_normal(8),
    }
    args = (params, rng.standard_normal((4, 2, 3)))
    texts = [
        textwrap.dedent(inspect.getsource(lstm_step)),
        sg.show(lstm_step, args=args),
        sg.show(lstm_step, args=args, optimized=True),
    ]
    return [gast.parse(t) for t in texts]


TREES = _trees()


@pytest.mark.parametrize("k", range(len(TREES)))
def test_list_walks_agree_with_walk(k):
    tree = TREES[k]
    walked = list(S.walk(tree))
    assert S.name_nodes(tree) == [n for n in walked if isinstance(n, gast.Name)]
    classes = (gast.Call, gast.Assign, gast.BinOp)
    assert S.nodes_of(tree, classes) == [n for n in walked if type(n) in classes]


@pytest.mark.parametrize("k", range(len(TREES)))
def test_parent_map_agrees_with_iter_child_nodes(k):
    tree = TREES[k]
    expected = {}
    for parent in S.walk(tree):
        for child in gast.iter_child_nodes(parent):
            expected[id(child)] = parent
    got = S.parent_map(tree)
    visited = [n for n in S.walk(tree) if n is not tree]
    assert len(visited) > 50
    for n in visited:
        assert got[id(n)] is expected[id(n)]
