"""Emit writes simple statements from the gast tree (``transform/unparse.py``) as
``ast.unparse`` writes them: the same text, character for character, on random statements
(every precedence, negative and special numbers, slices, tuples, keyword and starred
arguments), and on every statement of real derivatives."""

from __future__ import annotations

import random

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform import syntax as S
from sourcegrad.transform.emit import _unparse as unparse_by_ast  # the reference
from sourcegrad.transform.unparse import statement_text

_BINOPS = [
    gast.Add, gast.Sub, gast.Mult, gast.MatMult, gast.Div, gast.Mod, gast.Pow,
    gast.LShift, gast.RShift, gast.BitOr, gast.BitXor, gast.BitAnd, gast.FloorDiv,
]  # fmt: skip
_UNARY = [gast.USub, gast.UAdd, gast.Not, gast.Invert]
_CMPOPS = [
    gast.Eq, gast.NotEq, gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Is, gast.IsNot, gast.In,
    gast.NotIn,
]  # fmt: skip
_CONSTANTS = [
    0, 1, -1, 7, -12, 2.5, -2.5, 0.0, -0.0, 1e300, float("inf"), -float("inf"), float("nan"),
    1j, True, False, None, "s", "it's", 'a "q"\n', b"b", np.float64(1.5), np.float64(-2.0),
    np.int64(3), ...,
]  # fmt: skip


def _expr(rng: random.Random, depth: int):
    if depth <= 0 or rng.random() < 0.2:
        if rng.random() < 0.5:
            return S.name(rng.choice(["x", "y", "dz", "np"]))
        return S.const(rng.choice(_CONSTANTS))
    d = depth - 1
    kind = rng.randrange(12)
    if kind == 0:
        return gast.BinOp(left=_expr(rng, d), op=rng.choice(_BINOPS)(), right=_expr(rng, d))
    if kind == 1:
        return gast.UnaryOp(op=rng.choice(_UNARY)(), operand=_expr(rng, d))
    if kind == 2:
        n = rng.randint(1, 3)
        return gast.Compare(
            left=_expr(rng, d),
            ops=[rng.choice(_CMPOPS)() for _ in range(n)],
            comparators=[_expr(rng, d) for _ in range(n)],
        )
    if kind == 3:
        op = rng.choice([gast.And, gast.Or])()
        return gast.BoolOp(op=op, values=[_expr(rng, d) for _ in range(rng.randint(2, 4))])
    if kind == 4:
        return gast.Attribute(value=_expr(rng, d), attr="T", ctx=gast.Load())
    if kind == 5:
        args = [_expr(rng, d) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.3:
            args.append(gast.Starred(value=_expr(rng, d), ctx=gast.Load()))
        keywords = [gast.keyword(arg=rng.choice(["axis", None]), value=_expr(rng, d))]
        return gast.Call(func=_expr(rng, d), args=args, keywords=keywords[: rng.randint(0, 1)])
    if kind == 6:
        return gast.Subscript(value=_expr(rng, d), slice=_index(rng, d), ctx=gast.Load())
    if kind == 7:
        return gast.Tuple(elts=[_expr(rng, d) for _ in range(rng.randint(0, 3))], ctx=gast.Load())
    if kind == 8:
        return gast.List(elts=[_expr(rng, d) for _ in range(rng.randint(0, 3))], ctx=gast.Load())
    if kind == 9:
        return gast.IfExp(test=_expr(rng, d), body=_expr(rng, d), orelse=_expr(rng, d))
    if kind == 10:
        return gast.Slice(lower=_maybe(rng, d), upper=_maybe(rng, d), step=_maybe(rng, d))
    return S.name("g")


def _maybe(rng, d):
    return _expr(rng, d) if rng.random() < 0.5 else None


def _index(rng, d):
    pick = rng.randrange(4)
    if pick == 0:
        return gast.Slice(lower=_maybe(rng, d), upper=_maybe(rng, d), step=_maybe(rng, d))
    if pick == 1:
        elts = [_index(rng, d - 1) if d > 0 else S.const(None) for _ in range(rng.randint(0, 3))]
        return gast.Tuple(elts=elts, ctx=gast.Load())
    return _expr(rng, d)


def _statement(rng: random.Random):
    value = _expr(rng, rng.randint(1, 5))
    kind = rng.randrange(5)
    if kind == 0:
        return S.assign("t", value)
    if kind == 1:
        target = gast.Tuple(elts=[S.name("a", True), S.name("b", True)], ctx=gast.Store())
        return gast.Assign(targets=[target], value=value, type_comment=None)
    if kind == 2:
        return gast.Return(value=value if rng.random() < 0.9 else None)
    if kind == 3:
        return gast.Expr(value=value)
    target = gast.Subscript(value=S.name("x"), slice=_index(rng, 2), ctx=gast.Store())
    return gast.AugAssign(target=target, op=rng.choice(_BINOPS)(), value=value)


@pytest.mark.parametrize("seed", range(20))
def test_random_statements_read_as_ast_writes_them(seed):
    rng = random.Random(seed)
    written = 0
    for _ in range(300):
        stmt = _statement(rng)
        got = statement_text(stmt)
        if got is not None:
            written += 1
            assert got == unparse_by_ast(stmt), gast.dump(stmt)
    assert written > 100  # most statements are written here, not left to ast


def _model(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    s = 1.0 / (1.0 + np.exp(-h[:, :2]))
    out = s[:, ::-1] ** 2 - (-h[:, 2:]) * 3.0
    return -np.sum(out) / x.shape[0] + np.sum(h[0, 1:] ** -1.5)


def test_statements_of_derivatives_read_as_ast_writes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    sg.api.clear_cache()
    for optimized in (False, True):
        tree = gast.parse(sg.show(_model, args=(params, x), optimized=optimized))
        stmts = [s for s in S.walk(tree) if isinstance(s, (gast.Assign, gast.Return, gast.Expr))]
        assert len(stmts) > 10
        for stmt in stmts:
            got = statement_text(stmt)
            assert got is None or got == unparse_by_ast(stmt)
