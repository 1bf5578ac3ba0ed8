"""The adjoint of ``np.split`` with every piece used: one concatenation of the pieces'
adjoints. The pure derivative adds the pieces' adjoints into the tuple's adjoint one piece at
a time (``dt = unindex(do, t, 3)``, ``dt += unindex(dg, t, 2)``, ...), each ``unindex``
making zeros for the other pieces, then concatenates the sum: for an LSTM's four gates,
sixteen arrays of zeros per step. Where the statements are consecutive and name each of the
``n`` pieces once, they become ``dgates = np.concatenate((di, df, dg, do), -1)``.
"""

from __future__ import annotations

import gast

from ...runtime.helpers import unindex
from .. import syntax as S
from ..forms import Derivative


def concatenate_split_adjoints(node: gast.FunctionDef, der: Derivative, np_name) -> None:
    """Rewrite every run of piece adjoints into one concatenation (see the module)."""
    names = der.refs.names_of([unindex])
    if not names or not np_name:
        return
    pieces = _split_counts(node, np_name)
    for body in S.blocks(node.body):
        i = 0
        while i < len(body):
            got = _run_at(body, i, names, pieces, np_name)
            if got is None:
                i += 1
                continue
            end, made, drop = got
            if _read_elsewhere(node, drop + [body[end]], body[i].targets[0].id):
                i += 1
                continue
            body[end] = gast.copy_location(made, body[end])
            dropped = {id(stmt) for stmt in drop}
            body[:] = [stmt for stmt in body if id(stmt) not in dropped]


def _split_counts(node, np_name) -> dict:
    """``{name: n}`` for names every ``np.split`` assignment of which makes ``n`` pieces."""
    counts: dict = {}
    for n in S.walk(node):
        if not (isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)):
            continue
        v = n.value
        if (
            isinstance(v, gast.Call)
            and S.dotted(v.func) == f"{np_name}.split"
            and len(v.args) >= 2
            and isinstance(v.args[1], gast.Constant)
            and type(v.args[1].value) is int
        ):
            counts.setdefault(n.targets[0].id, set()).add(v.args[1].value)
    return {k: next(iter(v)) for k, v in counts.items() if len(v) == 1}


def _piece(value, names, pieces):
    """``(adjoint, tuple name, index)`` of ``unindex(a, t, k)`` for a split ``t``."""
    if not (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id in names
        and len(value.args) == 3
        and not value.keywords
    ):
        return None
    a, t, k = value.args
    if not (
        isinstance(t, gast.Name)
        and t.id in pieces
        and isinstance(k, gast.Constant)
        and type(k.value) is int
    ):
        return None
    return a, t.id, k.value


def _run_at(body, i, names, pieces, np_name):
    """``(index of the concatenation, the statement replacing it, the statements to drop)``
    where a run of piece adjoints starts at ``body[i]``; else None. Statements between
    may neither mention the accumulated name nor assign a name the pieces' adjoints read
    (these are read at the concatenation instead)."""
    first = body[i]
    if not (isinstance(first, gast.Assign) and isinstance(first.targets[0], gast.Name)):
        return None
    got = _piece(first.value, names, pieces)
    if got is None:
        return None
    acc, (a, t, k) = first.targets[0].id, got
    found, drop, read = {k: a}, [first], S.names_in(a)
    for j in range(i + 1, len(body)):
        stmt = body[j]
        more = _added(stmt, acc)
        got = _piece(more, names, pieces) if more is not None else None
        if got:
            if got[1] != t or got[2] in found:
                return None
            found[got[2]] = got[0]
            drop.append(stmt)
            read |= S.names_in(got[0])
            continue
        if sorted(found) == list(range(pieces[t])):
            axis = _concatenation_of(stmt, acc, np_name)
            if axis is None:
                return None
            parts = gast.Tuple(elts=[found[k] for k in range(pieces[t])], ctx=gast.Load())
            call = S.call(S.attr_chain(f"{np_name}.concatenate"), [parts, axis])
            made = gast.Assign(targets=[stmt.targets[0]], value=call, type_comment=None)
            return j, made, drop
        mentioned = S.names_in(stmt)
        if isinstance(stmt, (gast.If, gast.For, gast.While)) or acc in mentioned:
            return None
        if _stored(stmt) & read:
            return None
    return None


def _stored(stmt) -> set:
    return {
        n.id for n in S.walk(stmt) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)
    }


def _added(stmt, acc: str):
    """``e`` of ``acc += e`` or ``acc = acc + e``; else None."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.op, gast.Add):
        if isinstance(stmt.target, gast.Name) and stmt.target.id == acc:
            return stmt.value
    if (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and stmt.targets[0].id == acc
        and isinstance(stmt.value, gast.BinOp)
        and isinstance(stmt.value.op, gast.Add)
        and isinstance(stmt.value.left, gast.Name)
        and stmt.value.left.id == acc
    ):
        return stmt.value.right
    return None


def _concatenation_of(stmt, acc: str, np_name):
    """The axis of ``x = np.concatenate(acc, axis)``; else None."""
    if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
        return None
    v = stmt.value
    if not (
        isinstance(v, gast.Call)
        and S.dotted(v.func) == f"{np_name}.concatenate"
        and v.args
        and isinstance(v.args[0], gast.Name)
        and v.args[0].id == acc
    ):
        return None
    if len(v.args) == 2 and not v.keywords:
        return v.args[1]
    if len(v.args) == 1 and len(v.keywords) == 1 and v.keywords[0].arg == "axis":
        return v.keywords[0].value
    return None


def _read_elsewhere(node, run, acc: str) -> bool:
    """Whether ``acc`` is read outside the statements ``run``."""
    inside = {id(n) for stmt in run for n in S.walk(stmt)}
    return any(
        isinstance(n, gast.Name) and n.id == acc and id(n) not in inside for n in S.walk(node)
    )
