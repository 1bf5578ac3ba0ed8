"""Forward mode over a gradient runs a called function's forward once: the jvp of ``h =
dense(p, x)``, ``h, th = jvp_dense(p, x, t_in=tp)``, and the jvp of its vjp in the adjoint,
``dx, tdx = jvp_of(vjp_dense, (0, 1))(p, x, dh, t_in=(tp, tdh))`` (which runs ``dense``'s
forward again), become ``h, th, kept_h = jvp_forward_kept(jvp_dense, vjp_dense, (0, 1), p,
x, t_in=(tp,))`` and ``dx, tdx = jvp_backward_kept(kept_h, dh, t_in=tdh)`` (see
:mod:`sourcegrad.higher.kept_tangents`).

A pair is two statements of one block, the second calling the vjp of the first's function
with the same arguments, none of them bound again in between. Like :mod:`.kept_calls` it runs
last, and on the first build for a signature too (``kept_calls.kept_running``)."""

from __future__ import annotations

import gast

from .. import derive
from .. import syntax as S
from ..forms import Derivative
from ..walk import assigned_names, walk_statements


def keep_tangent_sweeps(node: gast.FunctionDef, der: Derivative) -> bool:
    """Rewrite every pair in ``node`` (a forward-mode derivative) as the module docstring
    says; whether one was."""
    if der.mode != "jvp" or not derive.keeping_forward():
        return False
    makers = derive.makers()
    jvp_of = der.refs.name_of(makers.jvp_of)
    if jvp_of is None:
        return False
    found = False
    for body in _blocks(node.body):
        for i, stmt in enumerate(body):
            first = _first(stmt, der)
            if first is None:
                continue
            j = _partner(body, i, first, der, jvp_of)
            if j is not None:
                _rewrite(stmt, body[j], first, der, makers)
                found = True
    return found


def _blocks(body):
    yield body
    for stmt in walk_statements(body):
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield inner


def _made(obj, mode: str) -> bool:
    """Whether ``obj`` is a derivative of ``mode`` that sourcegrad made of a function (bound to
    no object); the running code checks it again (:mod:`sourcegrad.higher.kept_tangents`)."""
    return (
        derive.makers().is_derivative(obj)
        and getattr(obj, "mode", None) == mode
        and getattr(obj, "f", None) is not None
        and not getattr(obj, "bound_self", ())
    )


def _resolve(name: str, der: Derivative):
    refs = der.refs
    return refs.injected.get(name, refs.user_globals.get(name))


def _pair_target(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Tuple)
        and len(stmt.targets[0].elts) == 2
        and all(isinstance(e, gast.Name) for e in stmt.targets[0].elts)
        and isinstance(stmt.value, gast.Call)
    )


def _atoms(values) -> list | None:
    out = []
    for v in values:
        if isinstance(v, gast.Name):
            out.append(v.id)
        elif isinstance(v, gast.Constant):
            out.append((type(v.value), v.value))
        else:
            return None
    return out


def _first(stmt, der: Derivative) -> tuple | None:
    """``(jvp object, argument atoms, tangents)`` where ``stmt`` is ``h, th = jvp_f(args...,
    t_in=...)`` of a jvp of one of the user's functions, else None."""
    if not _pair_target(stmt) or not isinstance(stmt.value.func, gast.Name):
        return None
    call = stmt.value
    jvp = _resolve(call.func.id, der)
    if not _made(jvp, "jvp") or [k.arg for k in call.keywords] != ["t_in"]:
        return None
    atoms = _atoms(call.args)
    t_in = call.keywords[0].value
    if atoms is None:
        return None
    if jvp.wrt_tuple:
        if not isinstance(t_in, gast.Tuple):
            return None
        tangents = list(t_in.elts)
    else:
        tangents = [t_in]
    return jvp, atoms, tangents


def _partner(body, i, first, der, jvp_of: str) -> int | None:
    """The index of the statement after ``body[i]`` running the jvp of the vjp of its
    function with the same arguments, none bound again before it; else None."""
    jvp, atoms, _ = first
    rebound: set = set()
    for j in range(i + 1, len(body)):
        stmt = body[j]
        if _second_of(stmt, jvp, atoms, der, jvp_of) and not rebound & set(atoms):
            return j
        for s in walk_statements([stmt]):
            rebound |= assigned_names(s)
        if rebound & {a for a in atoms if isinstance(a, str)}:
            return None
    return None


def _second_of(stmt, jvp, atoms, der, jvp_of: str) -> bool:
    if not _pair_target(stmt) or not isinstance(stmt.value.func, gast.Call):
        return False
    call, maker = stmt.value, stmt.value.func
    if not (
        isinstance(maker.func, gast.Name)
        and maker.func.id == jvp_of
        and len(maker.args) == 2
        and isinstance(maker.args[0], gast.Name)
        and [k.arg for k in call.keywords] == ["t_in"]
        and get_wrt(maker.args[1]) is not None
    ):
        return False
    vjp = _resolve(maker.args[0].id, der)
    if not _made(vjp, "vjp") or vjp.f is not jvp.f or _atoms(call.args[:-1]) != atoms:
        return False
    n, wrt = len(atoms), get_wrt(maker.args[1])
    return tuple(i for i in wrt if i != n) == jvp.wrt and _seed_tangent(stmt, n) is not False


def get_wrt(node) -> tuple | None:
    """The argument positions a constant ``wrt`` (an index or a tuple of them) names."""
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return (node.value,)
    if isinstance(node, gast.Tuple) and all(
        isinstance(e, gast.Constant) and type(e.value) is int for e in node.elts
    ):
        return tuple(e.value for e in node.elts)
    return None


def _seed_tangent(stmt, n: int):
    """The tangent of the seed (argument ``n``) the second statement passes: an expression,
    None where it passes none, False where it cannot be told apart."""
    call, maker = stmt.value, stmt.value.func
    wrt = get_wrt(maker.args[1])
    if n not in wrt:
        return None
    t_in = call.keywords[0].value
    if not isinstance(maker.args[1], gast.Tuple):
        return t_in
    if not (isinstance(t_in, gast.Tuple) and len(t_in.elts) == len(wrt)):
        return False
    return t_in.elts[wrt.index(n)]


def _rewrite(first_stmt, second_stmt, first, der: Derivative, makers) -> None:
    _, _, tangents = first
    call = first_stmt.value
    h = first_stmt.targets[0].elts[0].id
    kept = der.refs.names.fresh(f"kept_{h}")
    maker = second_stmt.value.func
    forward = der.refs.ref(makers.jvp_forward_kept, "jvp_forward_kept")
    first_stmt.value = S.call(
        S.name(forward),
        [S.name(call.func.id), S.clone(maker.args[0]), S.clone(maker.args[1]), *call.args],
        {"t_in": gast.Tuple(elts=tangents, ctx=gast.Load())},
    )
    first_stmt.targets[0].elts.append(S.name(kept, store=True))
    n = len(call.args)
    seed_t = _seed_tangent(second_stmt, n)
    backward = der.refs.ref(makers.jvp_backward_kept, "jvp_backward_kept")
    second = second_stmt.value
    second_stmt.value = S.call(
        S.name(backward),
        [S.name(kept), second.args[-1]],
        {"t_in": S.const(None) if seed_t is None else seed_t},
    )
