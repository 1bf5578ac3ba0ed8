"""Calls of the user's functions run their forward sweep once: ``h = dense(p, x)`` in the
forward sweep and ``vjp_dense(p, x, g_out=dh)`` in the adjoint (which runs ``dense``'s forward
again) become ``h, kept_h = forward_kept(vjp_dense, p, x)`` and ``backward_kept(kept_h,
g_out=dh)`` (see :mod:`sourcegrad.kept`).

A call inside a loop keeps one state per iteration on a list of its own (``kept_h_s``),
appended in the forward sweep and popped in the adjoint, which visits the iterations in
reverse. The rewrite runs last: every earlier rewrite saw the vjp read its arguments where the
adjoint calls it, so nothing it keeps is changed in place before then.
"""

from __future__ import annotations

import gast

from .. import derive
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact


def keep_forward_sweeps(node: gast.FunctionDef, der: Derivative) -> None:
    """Rewrite every call site marked ``kept`` whose forward statement and vjp call are both
    still in ``node`` (once each), as the module docstring says."""
    if not derive.keeping_forward():
        return
    statements, in_loop = _marked_statements(node)
    calls = _marked_calls(node)
    makers = derive.makers()
    stacks = []
    for site, stmts in statements.items():
        vjp_calls = calls.get(site, [])
        if len(stmts) != 1 or len(vjp_calls) != 1:
            continue
        stmt, body = stmts[0]
        (call,) = vjp_calls
        target = stmt.targets[0]
        if not (isinstance(target, gast.Name) and isinstance(stmt.value, gast.Call)):
            continue
        forward = _forward_call(call, der, makers)
        if forward is None:
            continue
        kept = der.refs.names.fresh(f"kept_{target.id}")
        stmt.value = forward
        stmt.targets = [gast.Tuple(elts=[target, S.name(kept, store=True)], ctx=gast.Store())]
        state = S.name(kept)
        if in_loop[site]:
            stack = der.refs.names.fresh(f"{kept}_s")
            stacks.append(stack)
            append = S.call(gast.Attribute(S.name(stack), "append", gast.Load()), [S.name(kept)])
            body.insert(body.index(stmt) + 1, gast.Expr(value=append))
            state = S.call(gast.Attribute(S.name(stack), "pop", gast.Load()), [])
        g_out = [k for k in call.keywords if k.arg == "g_out"]
        call.func = S.name(der.refs.ref(makers.backward_kept, "backward_kept"))
        call.args = [state]
        call.keywords = g_out
    node.body[:0] = [S.assign(stack, gast.List(elts=[], ctx=gast.Load())) for stack in stacks]


def _forward_call(call: gast.Call, der: Derivative, makers):
    """``forward_kept(vjp, *args)`` for the vjp call ``vjp(*args, g_out=g)`` of a user's
    function, ``forward_kept_of(fn, wrt, *args)`` for ``vjp_of(fn, wrt)(*args, g_out=g)``;
    None for another form."""
    keywords = [S.clone(k) for k in call.keywords if k.arg != "g_out"]
    args = [S.clone(a) for a in call.args]
    if len(keywords) + 1 != len(call.keywords) or any(isinstance(a, gast.Starred) for a in args):
        return None
    if isinstance(call.func, gast.Name):
        fn = S.name(der.refs.ref(makers.forward_kept, "forward_kept"))
        return gast.Call(func=fn, args=[S.name(call.func.id), *args], keywords=keywords)
    inner = call.func
    if isinstance(inner, gast.Call) and len(inner.args) == 2 and not keywords:
        fn = S.name(der.refs.ref(makers.forward_kept_of, "forward_kept_of"))
        return gast.Call(func=fn, args=[S.clone(a) for a in inner.args] + args, keywords=[])
    return None


def _marked_statements(node) -> tuple[dict, dict]:
    """``({site: [(statement, the body holding it)]}, {site: whether in a loop})`` of the
    assignments marked ``kept``, at any depth."""
    found: dict = {}
    in_loop: dict = {}

    def visit(body, loop: bool):
        for stmt in body:
            site = get_fact(stmt, "kept")
            if site is not None and isinstance(stmt, gast.Assign):
                found.setdefault(site, []).append((stmt, body))
                in_loop[site] = loop
            if isinstance(stmt, (gast.For, gast.While)):
                visit(stmt.body, True)
                visit(stmt.orelse, True)
            elif isinstance(stmt, gast.If):
                visit(stmt.body, loop)
                visit(stmt.orelse, loop)

    visit(node.body, False)
    return found, in_loop


def _marked_calls(node) -> dict:
    """``{site: [call]}`` of the vjp calls marked ``kept``."""
    found: dict = {}
    for n in S.nodes_of(node, (gast.Call,)):
        site = get_fact(n, "kept")
        if site is not None:
            found.setdefault(site, []).append(n)
    return found
