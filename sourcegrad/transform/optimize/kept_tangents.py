"""Forward mode over a gradient runs a called function's forward once: the jvp of ``h =
dense(p, x)``, ``h, th = jvp_dense(p, x, t_in=tp)``, and the jvp of its vjp in the adjoint,
``dx, tdx = jvp_of(vjp_dense, (0, 1))(p, x, dh, t_in=(tp, tdh))`` (which runs ``dense``'s
forward again), become ``h, th, kept_h = jvp_forward_kept(jvp_dense, vjp_dense, (0, 1), p,
x, t_in=tp)`` and ``dx, tdx = jvp_backward_kept(kept_h, vjp_dense, (0, 1), p, x, dh,
t_in=(tp, tdh))`` (see :mod:`sourcegrad.higher.kept_tangents`, which runs the jvp of the vjp
whole where the adjoint's arguments are not the objects the forward was given).

Where both statements are in one block, the arguments bound again by neither in between, the
state goes by name. Otherwise (a call in a loop, whose adjoint runs in the reversed loop on
values popped from the tape) the forward appends each call's state to a list of its own
(``kept_h_s.append(kept_h)``) and the adjoint hands the list over, which pops the last state
(the adjoint visits the calls in reverse). A function value (``layer(h)``: ``jvp_of(layer,
0)`` and ``jvp_of(vjp_of(layer, 0), (0, 1))``) pairs alike, by its name. Like
:mod:`.kept_calls` this runs last, and on the first build for a signature too
(``kept_calls.kept_running``)."""

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
    names = (der.refs.name_of(makers.jvp_of), makers.vjp_of)
    if names[0] is None:
        return False
    firsts, seconds = [], []
    for body in _blocks(node.body):
        for stmt in body:
            first = _first(stmt, der, names)
            if first is not None:
                firsts.append((body, stmt, first))
            second = _second(stmt, der, names)
            if second is not None:
                seconds.append((body, stmt, second))
    paired = _pair_in_blocks(firsts, seconds, der)
    stacks = _pair_by_stacks(firsts, seconds, paired, der)
    node.body[:0] = [S.assign(s, gast.List(elts=[], ctx=gast.Load())) for s in stacks]
    return bool(paired or stacks)


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
        and all(_names(e) for e in stmt.targets[0].elts)
        and isinstance(stmt.value, gast.Call)
        and [k.arg for k in stmt.value.keywords] == ["t_in"]
    )


def _names(target) -> bool:
    """A name, or a tuple of names (the values of a call returning a tuple)."""
    return isinstance(target, gast.Name) or (
        isinstance(target, gast.Tuple) and all(isinstance(e, gast.Name) for e in target.elts)
    )


def _atoms(values, der: Derivative) -> list | None:
    """The names and constants ``values`` are (``copy_if_written(f, i, x)``: ``x``)."""
    out = []
    for v in values:
        if _calls(v, derive.makers().copy_if_written, der) and len(v.args) == 3:
            v = v.args[2]
        if isinstance(v, gast.Name):
            out.append(v.id)
        elif isinstance(v, gast.Constant):
            out.append((type(v.value), v.value))
        else:
            return None
    return out


def _first(stmt, der: Derivative, names) -> tuple | None:
    """``(callee, argument atoms, primal wrt)`` where ``stmt`` is ``h, th =
    jvp_f(args..., t_in=...)`` (or ``jvp_of(f, wrt)(...)``) of one of the user's functions,
    else None; ``callee`` names the function (``("made", f)``, ``("value", name)``)."""
    if not _pair_target(stmt):
        return None
    call, t_in = stmt.value, stmt.value.keywords[0].value
    if isinstance(call.func, gast.Name):
        jvp = _resolve(call.func.id, der)
        if not _made(jvp, "jvp"):
            return None
        callee, wrt, many = ("made", jvp.f), jvp.wrt, jvp.wrt_tuple
    else:
        maker = call.func
        if not (_is_call_of(maker, names[0]) and isinstance(maker.args[0], gast.Name)):
            return None
        wrt = get_wrt(maker.args[1])
        callee, many = ("value", maker.args[0].id), isinstance(maker.args[1], gast.Tuple)
    atoms = _atoms(call.args, der)
    if atoms is None or wrt is None or (many and not isinstance(t_in, gast.Tuple)):
        return None
    if many and len(t_in.elts) == 1:  # (one tangent in a tuple: told apart from a tuple's)
        return None
    return callee, atoms, tuple(wrt)


def _calls(node, fn, der: Derivative) -> bool:
    """Whether ``node`` is a call of the object ``fn`` by a name that reaches it."""
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and _resolve(node.func.id, der) is fn
    )


def _is_call_of(node, name: str | None) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == name
        and len(node.args) == 2
        and not node.keywords
    )


def _second(stmt, der: Derivative, names) -> tuple | None:
    """``(callee, argument atoms, wrt)`` where ``stmt`` is ``dx, tdx = jvp_of(vjp,
    wrt)(args..., seed, t_in=...)`` of the vjp of one of the user's functions, else None."""
    if not (_pair_target(stmt) and _is_call_of(stmt.value.func, names[0])):
        return None
    call, maker = stmt.value, stmt.value.func
    wrt, vjp = get_wrt(maker.args[1]), maker.args[0]
    if wrt is None or not call.args:
        return None
    if isinstance(vjp, gast.Name):
        made = _resolve(vjp.id, der)
        if not _made(made, "vjp"):
            return None
        callee = ("made", made.f)
    elif _calls(vjp, names[1], der) and len(vjp.args) == 2 and isinstance(vjp.args[0], gast.Name):
        callee = ("value", vjp.args[0].id)
    else:
        return None
    atoms = _atoms(call.args[:-1], der)
    return None if atoms is None else (callee, atoms, wrt)


def _fits(first, second) -> bool:
    """Whether the jvp of ``first`` and the jvp of the vjp of ``second`` are of one callee,
    along the same arguments (the seed aside)."""
    (callee, atoms, wrt), (callee2, atoms2, wrt2) = first, second
    n = len(atoms)
    return (
        callee[0] == callee2[0]
        and (callee[1] is callee2[1] if callee[0] == "made" else callee[1] == callee2[1])
        and len(atoms2) == n
        and tuple(i for i in wrt2 if i != n) == wrt
    )


def _pair_in_blocks(firsts, seconds, der) -> set:
    """Pair each first with a second of its block after it with the same arguments, none
    bound again in between; the ids of the statements paired."""
    paired: set = set()
    for body, stmt, first in firsts:
        atoms = {a for a in first[1] if isinstance(a, str)}
        rebound: set = set()
        for later in body[body.index(stmt) + 1 :]:
            found = next((s for b, st, s in seconds if st is later), None)
            if (
                found is not None
                and id(later) not in paired
                and _fits(first, found)
                and found[1] == first[1]
                and not rebound & atoms
            ):
                kept = _rewrite_first(stmt, later, first, der)
                _rewrite_second(later, S.name(kept), der)
                paired |= {id(stmt), id(later)}
                break
            for s in walk_statements([later]):
                rebound |= assigned_names(s)
            if rebound & atoms:
                break
    return paired


def _pair_by_stacks(firsts, seconds, paired: set, der) -> list:
    """Pair the firsts and seconds left of one callee through a list of states; the lists."""
    stacks = []
    for body, stmt, first in firsts:
        if id(stmt) in paired:
            continue
        mine = [(b, st) for b, st, s in seconds if id(st) not in paired and _fits(first, s)]
        if not mine:
            continue
        widest = max((st for _, st in mine), key=_along)  # (the seed's tangent too)
        kept = _rewrite_first(stmt, widest, first, der)
        stack = der.refs.names.fresh(f"{kept}_s")
        stacks.append(stack)
        append = S.call(gast.Attribute(S.name(stack), "append", gast.Load()), [S.name(kept)])
        body.insert(body.index(stmt) + 1, gast.Expr(value=append))
        paired.add(id(stmt))
        for other_body, other, other_first in firsts:  # the same callee's other calls
            if id(other) not in paired and _fits(other_first, _as_second(first)):
                other_kept = _rewrite_first(other, widest, other_first, der)
                push = S.call(
                    gast.Attribute(S.name(stack), "append", gast.Load()), [S.name(other_kept)]
                )
                other_body.insert(other_body.index(other) + 1, gast.Expr(value=push))
                paired.add(id(other))
        for _, second in mine:
            _rewrite_second(second, S.name(stack), der)
            paired.add(id(second))
    return stacks


def _along(second_stmt) -> int:
    """How many arguments the jvp of a vjp in ``second_stmt`` is along: the forward half of
    the widest serves the others, a seed's tangent left out given as zero."""
    return len(get_wrt(second_stmt.value.func.args[1]))


def _as_second(first) -> tuple:
    callee, atoms, wrt = first
    return callee, atoms, wrt + (len(atoms),)


def get_wrt(node) -> tuple | None:
    """The argument positions a constant ``wrt`` (an index or a tuple of them) names."""
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return (node.value,)
    if isinstance(node, gast.Tuple) and all(
        isinstance(e, gast.Constant) and type(e.value) is int for e in node.elts
    ):
        return tuple(e.value for e in node.elts)
    return None


def _rewrite_first(stmt, second_stmt, first, der: Derivative) -> str:
    """``h, th, kept_h = jvp_forward_kept(jvp, vjp, wrt, *args, t_in=...)`` in place of
    ``stmt``, the vjp and its ``wrt`` those ``second_stmt`` calls; the name of the state."""
    call = stmt.value
    h = stmt.targets[0].elts[0]
    h = h.id if isinstance(h, gast.Name) else h.elts[0].id
    kept = der.refs.names.fresh(f"kept_{h}")
    maker = second_stmt.value.func
    forward = der.refs.ref(derive.makers().jvp_forward_kept, "jvp_forward_kept")
    stmt.value = S.call(
        S.name(forward),
        [call.func, S.clone(maker.args[0]), S.clone(maker.args[1]), *call.args],
        {"t_in": call.keywords[0].value},
    )
    stmt.targets[0].elts.append(S.name(kept, store=True))
    return kept


def _rewrite_second(stmt, kept, der: Derivative) -> None:
    """``dx, tdx = jvp_backward_kept(kept, vjp, wrt, *args, seed, t_in=...)`` in place of
    ``jvp_of(vjp, wrt)(*args, seed, t_in=...)``."""
    call, maker = stmt.value, stmt.value.func
    backward = der.refs.ref(derive.makers().jvp_backward_kept, "jvp_backward_kept")
    call.func = S.name(backward)
    call.args = [kept, maker.args[0], maker.args[1], *call.args]
