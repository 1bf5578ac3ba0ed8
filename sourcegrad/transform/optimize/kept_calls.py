"""Calls of the user's functions run their forward sweep once: ``h = dense(p, x)`` in the
forward sweep and ``vjp_dense(p, x, g_out=dh)`` in the adjoint (which runs ``dense``'s forward
again) become ``h, kept_h = forward_kept(vjp_dense, p, x)`` and ``backward_kept(kept_h,
g_out=dh)`` (see :mod:`sourcegrad.kept`).

A call inside a loop keeps one state per iteration on a list of its own (``kept_h_s``),
appended in the forward sweep and popped in the adjoint, which visits the iterations in
reverse. A top-level statement of the adjoint sweep that runs a kept adjoint half is followed
by ``del`` of the names it reads for the last time (the kept state, the output gradient, the
forward values the call was given), so that the callee's forward arrays are freed where the
adjoint is done with them, as the caller's own arrays are (:func:`.pool.release_dead`), and
not when the derivative returns. The rewrite runs last: every earlier rewrite saw the vjp read its arguments where the
adjoint calls it, so nothing it keeps is changed in place before then.
"""

from __future__ import annotations

import gast

from .. import derive
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..simplify import liveness
from ..walk import assigned_names, walk_statements


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
    _release_after_halves(node, der.refs.name_of(makers.backward_kept))


def _release_after_halves(node: gast.FunctionDef, backward: str | None) -> None:
    """``del`` after each top-level adjoint statement calling ``backward`` (the name of
    ``backward_kept``) of the names that top-level statements computing a value (not reading
    one: a path read of an argument frees nothing) assigned before it and
    nothing reads afterwards (a kept state holds the forward arrays it reads: those are freed
    only once no name of the caller's holds them either). Not for names a nested function
    captures, that a ``del`` already names, or, in a vjp (whose adjoint sweep may run as a
    kept half of its own, handed the forward sweep's names), that its forward sweep assigns."""
    body = node.body
    sites = [i for i, st in enumerate(body) if backward and _calls(st, backward)]
    sweep = next((i for i, st in enumerate(body) if get_fact(st, "sweep", False)), len(body))
    sites = [i for i in sites if sweep <= i < len(body) - 2]
    if not sites:
        return
    after: dict = {}
    liveness(body, after=after)
    skipped = S.captured_names(node) | {
        n.id for n in S.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Del)
    }
    if any(a.id == "g_out" for a in node.args.kwonlyargs):
        skipped |= {n for st in walk_statements(body[:sweep]) for n in assigned_names(st)}
    bound: list = []  # names top-level simple statements assign, in order
    released: dict = {}
    for i, stmt in enumerate(body):
        if i in sites and after.get(id(stmt)) is not None:
            live = after[id(stmt)]
            dead = [n for n in bound if n not in live and n not in skipped]
            skipped.update(dead)
            if dead:
                released[i] = dead
        if isinstance(getattr(stmt, "value", None), _COMPUTED):  # not a read of an argument
            bound.extend(n for n in assigned_names(stmt) if n not in bound)
    for i in sorted(released, reverse=True):
        dead = gast.Delete(targets=[gast.Name(n, gast.Del(), None, None) for n in released[i]])
        dead.lineno = getattr(body[i], "lineno", None)
        set_fact(dead, "adjoint", get_fact(body[i], "adjoint", False))
        body.insert(i + 1, dead)


#: the values of assignments whose names are released: what computes a new value
_COMPUTED = (gast.Call, gast.BinOp, gast.UnaryOp, gast.Compare)


def _calls(stmt, fn: str) -> bool:
    """Whether ``stmt`` (a simple statement) calls the function the derivative names ``fn``."""
    if isinstance(stmt, (gast.If, gast.For, gast.While)):
        return False
    return any(
        isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == fn
        for n in S.walk(stmt)
    )


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
