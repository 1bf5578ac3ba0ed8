"""Calls of the user's functions run their forward sweep once: ``h = dense(p, x)`` in the
forward sweep and ``vjp_dense(p, x, g_out=dh)`` in the adjoint (which runs ``dense``'s forward
again) become ``h, kept_h = forward_kept(vjp_dense, p, x)`` and ``backward_kept(kept_h,
g_out=dh)`` (see :mod:`sourcegrad.kept`).

A call inside a loop keeps one state per iteration on a list of its own (``kept_h_s``),
appended in the forward sweep and popped in the adjoint, which visits the iterations in
reverse. The rewrite runs last: every earlier rewrite saw the vjp read its arguments where the
adjoint calls it, so nothing it keeps is changed in place before then.

A top-level statement of the adjoint sweep that runs a kept adjoint half is followed by
``del`` of the computed names nothing reads afterwards (the kept states, the output
gradients, the forward values the calls were given), so that a callee's forward arrays are
freed where the adjoint is done with them, as the caller's own arrays are
(:func:`.pool.release_dead`), and not when the derivative returns.

A call whose output gradient the caller gives away runs ``given_forward_kept`` instead
(:func:`given_sites`): its adjoint half may compute in that gradient's memory and return it,
as the caller's own adjoint would (:mod:`.seeds`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import gast
import numpy as np

from ...runtime.facts import helper_functions_where
from ...runtime.helpers import not_a_view, sum_to
from ...runtime.trees import as_adjoint
from .. import derive
from .. import syntax as S
from ..emit import Emitted
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..simplify import dead_tape, liveness
from ..walk import assigned_names, walk_statements
from .kept_tangents import keep_tangent_sweeps
from .ownership import Owner


def keep_forward_sweeps(node: gast.FunctionDef, der: Derivative) -> bool:
    """Rewrite every call site marked ``kept`` whose forward statement and vjp call are both
    still in ``node`` (once each), as the module docstring says; whether one was."""
    if not derive.keeping_forward():
        return False
    statements, in_loop = _marked_statements(node)
    calls = _marked_calls(node)
    makers = derive.makers()
    given = given_sites(node, der) if statements else set()  # (a liveness pass: not for none)
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
        forward = _forward_call(call, der, makers, id(call) in given)
        if forward is None:
            continue
        check = _view_check(stmt.value, der)
        primal = stmt.value if check is None else check.args[0]
        _keep_copies(primal, forward, der.refs.name_of(makers.copy_if_written))
        kept = der.refs.names.fresh(f"kept_{target.id}")
        stmt.value = forward
        if check is not None:  # `h = not_a_view(f(x), ...)`: the check runs on what f gives
            got = der.refs.names.fresh(f"{target.id}_given")
            check.args[0] = S.name(got)
            body.insert(body.index(stmt) + 1, S.assign(target.id, check, stmt.lineno))
            target = S.name(got, store=True)
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
    backward = der.refs.name_of(makers.backward_kept)
    if stacks or backward is not None:
        _drop_dead_restores(node.body)
    _release_after_halves(node, backward)
    return backward is not None


def _drop_dead_restores(body) -> None:
    """The values a kept callee's vjp read where the adjoint called it that nothing reads
    now: their tape entries, and the reads a reversed loop makes again (``g = p["g"]``)."""
    while dead_tape(body):
        pass
    while True:
        after: dict = {}
        liveness(body, after=after)
        gone = [
            st
            for st in walk_statements(body)
            if get_fact(st, "made_again", False) and not (assigned_names(st) & after[id(st)])
        ]
        if not gone:
            return
        ids = {id(st) for st in gone}
        for st in walk_statements(body):
            for attr in ("body", "orelse"):
                block = getattr(st, attr, None)
                if block and any(id(x) in ids for x in block):
                    block[:] = [x for x in block if id(x) not in ids] or [gast.Pass()]


def kept_running(der: Derivative, emit: Callable, deferred: Callable) -> Emitted | None:
    """The running code of the pure derivative ``der``: ``emit`` (a function of a
    :class:`Derivative`) of a copy whose calls of the user's functions run their forward
    sweep once (:func:`keep_forward_sweeps`), so that a helper's side effects (a ``print``,
    an ``append`` to a global list) happen once per call on a first call too; with ``pure``
    ``deferred(der)`` (what is shown and transformed again) and ``der`` itself. None where
    ``der`` calls none of the user's functions. ``der`` and its names are left as they were:
    the builds made from it after are those made from scratch."""
    jvp = der.mode == "jvp"  # forward mode over a gradient: its pairs (kept_tangents)
    if not jvp and not any(
        get_fact(n, "kept") is not None for n in S.nodes_of(der.node, (gast.Call,))
    ):
        return None
    refs = der.refs
    taken, by_id, injected = set(refs.names.taken), dict(refs.by_id), dict(refs.injected)
    try:
        node = S.clone(der.node)
        running = Derivative(node, refs, der.analysis, der.mode, der.adj_names)
        if not (keep_tangent_sweeps if jvp else keep_forward_sweeps)(node, running):
            return None
        run = emit(running)
    finally:
        refs.names.taken.intersection_update(taken)
        refs.by_id, refs.injected = by_id, injected
    run.pure, run.der = deferred(der), der
    return run


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
            bound.extend(n for n in sorted(assigned_names(stmt)) if n not in bound)
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


def given_sites(node: gast.FunctionDef, der: Derivative) -> set:
    """The ids of the vjp calls marked ``kept`` (in top-level statements) whose output
    gradient the caller gives away: an expression making a new array (an operator, a NumPy
    function that allocates), a given call's gradient (also through ``as_adjoint`` /
    ``sum_to``, which return it or a view of it), or a name assigned once, at the top level,
    from one of those, read by this call alone, not live after it, captured by no nested
    function."""
    refs = der.refs
    fresh = helper_functions_where(allocates="new") | helper_functions_where(allocates="outer")
    owner = Owner(refs.name_of(np), refs.names_of(fresh))
    after: dict = {}
    liveness(node.body, after=after)
    reads = Counter(
        n.id for n in S.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    )
    assigns = Counter(n for st in walk_statements(node.body) for n in assigned_names(st))
    captured = S.captured_names(node)
    made: dict = {}  # name -> the top-level assignment that made it
    given: set = set()

    def passed(e):  # what as_adjoint / sum_to return (or a view of)
        while (refs.is_call_of(e, as_adjoint) or refs.is_call_of(e, sum_to)) and e.args:
            e = e.args[0]
        return e

    def owned(e, live) -> bool:
        e = passed(e)
        if id(e) in given or owner.fresh(e):
            return True
        if not isinstance(e, gast.Name) or e.id not in made or e.id in live:
            return False
        n = e.id
        if assigns[n] != 1 or reads[n] != 1 or n in captured:
            return False
        value = passed(made[n].value)
        single = isinstance(made[n].targets[0], gast.Name)
        return id(value) in given or (single and owner.fresh(value))

    for stmt in node.body:
        live = after.get(id(stmt))
        if live is not None:
            for call in _post_order(stmt):  # inner calls first: their gradients seed outer ones
                if isinstance(call, gast.Call) and get_fact(call, "kept") is not None:
                    seed = [k.value for k in call.keywords if k.arg == "g_out"]
                    if len(seed) == 1 and owned(seed[0], live):
                        given.add(id(call))
        if isinstance(stmt, gast.Assign):
            made.update((n, stmt) for n in assigned_names(stmt))
    return given


def _post_order(node):
    """The nodes under ``node``, each after those under it."""
    for child in gast.iter_child_nodes(node):
        yield from _post_order(child)
    yield node


def _forward_call(call: gast.Call, der: Derivative, makers, given: bool):
    """``forward_kept(vjp, *args)`` (``given``: ``given_forward_kept``) for the vjp call
    ``vjp(*args, g_out=g)`` of a user's function, ``forward_kept_of(fn, wrt, *args)`` for
    ``vjp_of(fn, wrt)(*args, g_out=g)``; None for another form."""
    keywords = [S.clone(k) for k in call.keywords if k.arg != "g_out"]
    args = [S.clone(a) for a in call.args]
    if len(keywords) + 1 != len(call.keywords) or any(isinstance(a, gast.Starred) for a in args):
        return None
    if isinstance(call.func, gast.Name):
        if given:
            fn = S.name(der.refs.ref(makers.given_forward_kept, "given_forward_kept"))
        else:
            fn = S.name(der.refs.ref(makers.forward_kept, "forward_kept"))
        return gast.Call(func=fn, args=[S.name(call.func.id), *args], keywords=keywords)
    inner = call.func
    if isinstance(inner, gast.Call) and len(inner.args) == 2 and not keywords:
        fn = S.name(der.refs.ref(makers.forward_kept_of, "forward_kept_of"))
        return gast.Call(func=fn, args=[S.clone(a) for a in inner.args] + args, keywords=[])
    return None


def _view_check(value, der: Derivative) -> gast.Call | None:
    """``value`` where it is ``not_a_view(call, ...)`` (the refusal of a later write in place
    into what the call gives, where that is a view), else None."""
    if (
        isinstance(value, gast.Call)
        and der.refs.is_call_of(value, not_a_view)
        and value.args
        and isinstance(value.args[0], gast.Call)
    ):
        return value
    return None


def _keep_copies(primal: gast.Call, forward: gast.Call, copy_if_written: str | None) -> None:
    """Give ``forward`` (``forward_kept_of(fn, wrt, *args)``) the ``copy_if_written`` calls
    (named so in the derivative) that the forward statement's ``primal`` call gave its
    arguments, around the same names: the function value's forward may still write into them
    (or refuse, the caller reading them after)."""
    if copy_if_written is None or len(forward.args) != len(primal.args) + 2:
        return
    for i, arg in enumerate(primal.args):
        given = forward.args[i + 2]
        if (
            isinstance(arg, gast.Call)
            and isinstance(arg.func, gast.Name)
            and arg.func.id == copy_if_written
            and isinstance(given, gast.Name)
            and S.names_in(arg.args[2]) == {given.id}
        ):
            forward.args[i + 2] = S.clone(arg)


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
