"""A softmax's adjoint as it is written by hand, made only under the option ``exact=False``.

A softmax written the usual way::

    m = np.max(x, axis=-1, keepdims=True)
    s = x - m
    e = np.exp(s)
    t = np.sum(e, axis=-1, keepdims=True)
    a = e / t

has, by its rules, the adjoint ``de = da / t + unreduce(sum(-da * a / t))`` and ``ds = de *
e`` (seven passes over the array), and then the adjoint of the max, ``dx = ds + sum(-ds) *
hit / count(hit)``. By hand it is ``ds = a * (da - sum(da * a))`` (four passes), and the max
gets nothing: a softmax does not change when every entry along its axis moves by the same
amount, so ``sum(ds)`` along that axis is zero but for rounding.

:func:`softmax_adjoints` makes both rewrites where the forward sweep has that form and the
intermediates ``e`` and ``t`` (and ``s``, ``m`` for the max) are read nowhere else: the gradient
changes by rounding only.
"""

from __future__ import annotations

import gast

from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact
from ..walk import definition_counts


def softmax_adjoints(body, der: Derivative, np_name: str | None) -> None:
    """Each softmax of the top level of ``body`` (the module docstring's form) gets the
    hand-written adjoint, and the adjoint of the max it subtracts first is dropped."""
    if np_name is None or any(isinstance(stmt, _COMPOUND) for stmt in body):
        return  # (only straight-line code: a read in a loop would count once)
    adj = der.adj_names
    for a in [n for stmt in body if (n := _forward_target(stmt)) is not None]:
        defs = _definitions(body)
        if a not in defs:
            continue
        found = _softmax(defs[a].value, defs, np_name)
        if found is None:
            continue
        e, t, s, axis = found
        da, de, ds = adj.get(a), adj.get(e), adj.get(s)
        if not (da and de and ds) or definition_counts(body).get(de) != 1:
            continue
        if _replace_adjoint(body, (a, e, t, da, de, ds), axis, np_name):
            _drop_max_adjoint(body, (s, ds, axis), _definitions(body), adj, np_name)


#: statements whose bodies a read count would see once for many runs
_COMPOUND = (gast.For, gast.While, gast.If, gast.With, gast.Try)


def _forward_target(stmt):
    name = _target(stmt)
    return None if name is None or get_fact(stmt, "adjoint", False) else name


def _definitions(body) -> dict:
    """name -> its forward statement (``name = value`` at the top level)."""
    return {n: stmt for stmt in body if (n := _forward_target(stmt)) is not None}


def _target(stmt):
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


def _reads(stmt) -> set:
    return {n.id for n in S.name_nodes(stmt) if isinstance(n.ctx, gast.Load)}


def _read_only_in(body, name, stmts) -> bool:
    """Whether every read of ``name`` in ``body`` is in one of the statements ``stmts``."""
    return all(any(s is stmt for s in stmts) or name not in _reads(stmt) for stmt in body)


def _np_call(e, np_name, attr):
    return (
        isinstance(e, gast.Call)
        and S.dotted(e.func) == f"{np_name}.{attr}"
        and not any(isinstance(x, gast.Starred) for x in e.args)
    )


def _reduction(e, np_name, attr):
    """``(operand, axis)`` of ``np.<attr>(x, axis=..., keepdims=True)`` (axis an int
    constant), or None."""
    if not _np_call(e, np_name, attr) or len(e.args) not in (1, 2):
        return None
    kw = {k.arg: k.value for k in e.keywords}
    if len(e.args) == 2:
        if "axis" in kw:
            return None
        kw["axis"] = e.args[1]
    if set(kw) != {"axis", "keepdims"} or not isinstance(e.args[0], gast.Name):
        return None
    axis, keep = kw["axis"], kw["keepdims"]
    if not (isinstance(keep, gast.Constant) and keep.value is True):
        return None
    if not (isinstance(axis, gast.Constant) and type(axis.value) is int):
        return None
    return e.args[0].id, axis.value


def _names(v, op) -> tuple | None:
    """``(left, right)`` where ``v`` is ``left <op> right`` of two names, else None."""
    if (
        isinstance(v, gast.BinOp)
        and isinstance(v.op, op)
        and isinstance(v.left, gast.Name)
        and isinstance(v.right, gast.Name)
    ):
        return v.left.id, v.right.id
    return None


def _softmax(value, defs, np_name):
    """``(e, t, s, axis)`` where ``value`` is ``e / t``, ``t = np.sum(e, axis,
    keepdims=True)`` and ``e = np.exp(s)`` (all names), else None."""
    pair = _names(value, gast.Div)
    if pair is None or pair[0] not in defs or pair[1] not in defs:
        return None
    e, t = pair
    summed = _reduction(defs[t].value, np_name, "sum")
    if summed is None or summed[0] != e:
        return None
    exp = defs[e].value
    if not (_np_call(exp, np_name, "exp") and len(exp.args) == 1 and not exp.keywords):
        return None
    if not isinstance(exp.args[0], gast.Name):
        return None
    return e, t, exp.args[0].id, summed[1]


def _replace_adjoint(body, names, axis, np_name) -> bool:
    """``ds = de * e`` becomes ``ds = a * (da - np.sum(da * a, axis, keepdims=True))`` and
    the statement of ``de`` goes, where ``de`` reads nothing but ``da``, ``a``, ``t`` and
    ``e``, and ``e``, ``t`` and ``de`` are read nowhere else; whether it did."""
    a, e, t, da, de, ds = names
    of_de = [stmt for stmt in body if _target(stmt) == de]
    of_ds = [
        stmt
        for stmt in body
        if _target(stmt) == ds and set(_names(stmt.value, gast.Mult) or ()) == {de, e}
    ]
    defs = _definitions(body)
    if len(of_de) != 1 or len(of_ds) != 1 or body.index(of_de[0]) > body.index(of_ds[0]):
        return False
    of_de, of_ds = of_de[0], of_ds[0]
    if not _reads(of_de.value) & _assigned(body) <= {da, a, t, e}:
        return False
    if not (
        _read_only_in(body, e, (defs[t], defs[a], of_de, of_ds))
        and _read_only_in(body, t, (defs[a], of_de))
        and _read_only_in(body, de, (of_ds,))
    ):
        return False
    total = S.call(
        S.attr_chain(f"{np_name}.sum"),
        [gast.BinOp(left=S.name(da), op=gast.Mult(), right=S.name(a))],
        {"axis": S.const(axis), "keepdims": S.const(True)},
    )
    centred = gast.BinOp(left=S.name(da), op=gast.Sub(), right=total)
    of_ds.value = gast.BinOp(left=S.name(a), op=gast.Mult(), right=centred)
    gast.fix_missing_locations(of_ds)
    body.remove(of_de)
    return True


def _assigned(body) -> set:
    return {n for stmt in body if (n := _target(stmt)) is not None}


def _drop_max_adjoint(body, found, defs, adj, np_name) -> None:
    """Where ``s = x - m`` with ``m = np.max(x, axis, keepdims=True)``, ``s`` read only by the
    softmax's ``exp`` and ``m`` only by ``s``, its hit mask ``x == m`` and the max's adjoint
    ``dx = ds + <the max's share, read from ds>``: that statement becomes ``dx = ds``."""
    s, ds, axis = found
    pair = _names(defs[s].value, gast.Sub) if s in defs else None
    if pair is None:
        return
    x, m = pair
    dx = adj.get(x)
    if dx is None or m not in defs or _reduction(defs[m].value, np_name, "max") != (x, axis):
        return
    shares = [
        stmt
        for stmt in body
        if _target(stmt) == dx
        and isinstance(stmt.value, gast.BinOp)
        and isinstance(stmt.value.op, gast.Add)
        and isinstance(stmt.value.left, gast.Name)
        and stmt.value.left.id == ds
        and ds in _reads(stmt.value.right)
    ]
    hits = [
        stmt
        for stmt in body
        if _target(stmt) is not None and S.text(stmt.value).replace(" ", "") == f"{x}=={m}"
    ]
    if len(shares) != 1 or len(hits) > 1:
        return
    share = shares[0]
    hit = [_target(h) for h in hits]
    if not _reads(share.value.right) & _assigned(body) <= {ds, m, *hit}:
        return
    if not _read_only_in(body, s, [_exp_of(body, s)]):
        return
    if not _read_only_in(body, m, [defs[s], share, *hits]):
        return
    if hit and not _read_only_in(body, hit[0], [share]):
        return
    share.value = S.name(ds)


def _exp_of(body, s):
    """The forward statement reading ``s`` other than its own (the softmax's ``exp``)."""
    return next((stmt for stmt in body if _forward_target(stmt) and s in _reads(stmt)), None)
