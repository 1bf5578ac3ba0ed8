"""Start-up: work shared between passes gives what each pass found on its own (no timings
here: see ``benchmarks/startup.py``).

* The names a statement reads, kept across simplify's steps (``walk.remembered_reads``) until
  a step changes the body: the simplified derivative is the text found without keeping them.
* A rule template substituted by a copying walk: every template is left as it was.
* ``name_nodes`` / ``nodes_of`` push a list field whole: items that are no node (a name in
  ``global``, a None key of ``{**d}``) are passed over, the nodes found as ``walk`` finds them.
"""

import contextlib

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.rules import registry
from sourcegrad.transform import simplify as simplify_pass
from sourcegrad.transform import syntax as S
from sourcegrad.transform import walk as W

from .fd import numerical_grad


def mlp(params, x):
    h = np.tanh(x @ params["W"][0] + params["b"][0])
    h = np.tanh(h @ params["W"][1] + params["b"][1])
    return -np.sum(h - np.log(np.sum(np.exp(h))))


def mlp_args():
    rng = np.random.default_rng(0)
    params = {
        "W": [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))],
        "b": [rng.standard_normal(5), rng.standard_normal(3)],
    }
    return params, rng.standard_normal((2, 4))


def recurrent(params, xs):
    h = np.zeros((xs.shape[1], 3))
    c = np.zeros((xs.shape[1], 3))
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W"] + h @ params["U"] + params["b"]
        s = 1.0 / (1.0 + np.exp(-z[:, :6]))
        c = s[:, :3] * c + s[:, 3:] * np.tanh(z[:, 6:])
        h = np.tanh(c) * c
    return np.sum(h * h) / xs.shape[1]


def recurrent_args():
    rng = np.random.default_rng(1)
    params = {
        "W": rng.standard_normal((2, 9)),
        "U": rng.standard_normal((3, 9)),
        "b": rng.standard_normal(9),
    }
    return params, rng.standard_normal((4, 2, 2))


def branches(x, y):
    s = 0.0
    for i in range(3):
        if i % 2 == 0:
            s = s + np.sum(x * y) * x[0]
        else:
            s = s - np.sum(np.sin(x)) * 2.0
    t = x * x * x + 3.0 * x * x
    return s + np.sum(t * y) + np.sum(x) * np.sum(x)


def branches_args():
    rng = np.random.default_rng(2)
    return rng.standard_normal(3), rng.standard_normal(3)


CASES = [(mlp, mlp_args), (recurrent, recurrent_args), (branches, branches_args)]


def _shown(fn, args, tmp_path, name):
    sg.api.clear_cache()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path / name))  # nothing read from disk
        return sg.show(fn, args=args), sg.show(fn, args=args, optimized=True)


@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_kept_reads_simplify_as_reads_found_again(fn, make, tmp_path, monkeypatch):
    args = make()
    kept = _shown(fn, args, tmp_path, "kept")
    monkeypatch.setattr(simplify_pass, "remembered_reads", contextlib.nullcontext)
    assert _shown(fn, args, tmp_path, "found") == kept


def _leaves(x, path=()):
    """``(path, array)`` of every array of ``x`` (dicts and lists of arrays)."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(x, list):
        for k, v in enumerate(x):
            yield from _leaves(v, path + (k,))
    else:
        yield path, x


def _replaced(x, path, value):
    if not path:
        return value
    if isinstance(x, dict):
        return {**x, path[0]: _replaced(x[path[0]], path[1:], value)}
    return [_replaced(v, path[1:], value) if k == path[0] else v for k, v in enumerate(x)]


def _at(x, path):
    for k in path:
        x = x[k]
    return x


@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_kept_reads_give_right_gradients(fn, make, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    sg.api.clear_cache()
    args = make()
    df = sg.grad(fn, wrt=0)
    for _ in range(3):  # the rank build, then the optimized build for the shapes
        got = df(*args)
        for path, value in _leaves(args[0]):

            def part(v, path=path):
                return fn(_replaced(args[0], path, v), *args[1:])

            want = numerical_grad(part, [value], 0)
            np.testing.assert_allclose(_at(got, path), want, rtol=1e-5, atol=1e-7)


def test_kept_reads_are_forgotten_when_told():
    stmt = gast.parse("a = b + c").body[0]
    with W.remembered_reads():
        assert W.statement_reads(stmt)[1] == {"b", "c"}
        stmt.value = gast.parse("d * e").body[0].value
        assert W.statement_reads(stmt)[1] == {"b", "c"}  # kept: nothing said it changed
        W.forget_reads(stmt)
        assert W.statement_reads(stmt)[1] == {"d", "e"}
        stmt.value = gast.parse("f").body[0].value
        W.forget_reads()
        assert W.statement_reads(stmt)[0] == ["f"]
    stmt.value = gast.parse("g").body[0].value
    assert W.statement_reads(stmt)[0] == ["g"]  # outside: found each time


def test_templates_are_left_as_they_were(tmp_path, monkeypatch):
    def dumps():
        return {
            key: [gast.dump(s, include_attributes=True) for s in rule.body]
            for key, rule in list(registry.ADJOINTS.items())
        }

    before = dumps()
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    for fn, make in CASES:
        sg.api.clear_cache()
        args = make()
        df = sg.value_and_grad(fn)
        df(*args)
        df(*args)
    assert dumps() == before


def test_name_walks_pass_over_items_that_are_no_nodes():
    tree = gast.parse(
        "def f(x):\n    global a, b\n    d = {**x, 1: a}\n    return [y for y in d] + [b]\n"
    )
    walked = list(S.walk(tree))
    assert S.name_nodes(tree) == [n for n in walked if isinstance(n, gast.Name)]
    kinds = (gast.Dict, gast.Name, gast.Global)
    assert S.nodes_of(tree, kinds) == [n for n in walked if type(n) in kinds]
