"""A vjp's output gradient in the dtype of the output, so that its adjoints' dtypes are known.

The seed of a vjp, ``dresult = seed_like(g_out, result)``, has the dtype of the ``g_out`` the
caller passes, which the build does not know: a build is made for the arguments, and a kept
callee's forward half runs before its output gradient exists. Without it, no adjoint of the
vjp has a known dtype, and the rewrites that need one (buffers, in-place operations, hoisted
accumulations) leave the whole adjoint sweep alone. :func:`typed_seeds` makes the running
code convert the seed to the output's dtype where the output is a float64 or complex128
array::

    dresult = np.asarray(seed_like(g_out, result)).astype(
        result.dtype, casting="same_kind", copy=False
    )

Guarantees: the converted seed is ``g_out`` itself where its dtype is the output's (the
usual case: the adjoint of a float64 output is float64); a narrower seed (float32, an
integer one) is converted exactly, so every value the adjoint sweep computes from it and the
output's values is NumPy's own (what is computed from the seed alone, a sum of it or the
seed passed on as a gradient, is float64 instead of the seed's dtype); a complex seed
for a real output is refused (a ``TypeError`` from NumPy) rather than having its imaginary
part dropped. Outputs of other dtypes (float32) keep their seed as given.

Where the caller gives the seed away (``given``: a kept call whose caller reads the output
gradient no more and holds no other reference to it, :mod:`sourcegrad.kept`), the seed of such
an output, and of a float32 or complex64 one, is ``dresult = given_seed(result, g_out)``
instead: the same values, in an array the vjp owns (``g_out`` itself where it is one of the
output's shape and dtype, the usual case: the caller's adjoint of a float32 value is
float32), so the adjoint sweep computes in its memory as the caller's own adjoints do. A
wider seed of a float32 output (a float64 adjoint of a value the caller promoted) is rounded
to float32 first, so that adjoint computes in float32 where the whole vjp would compute in
float64: the gradient it returns (in the argument's dtype either way) may differ by the
rounding of float32.
"""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.helpers import given_seed, seed_like
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..walk import assigned_names, walk_statements
from .dtypes import name_dtypes


def typed_seeds(node, der: Derivative, example_args, shapes: dict, given=False) -> None:
    """Convert the seed of each top-level ``d = seed_like(g_out, out)`` of ``node`` (a vjp
    specialised to shapes, its arguments NumPy arrays) whose ``out`` is a float64 or
    complex128 array of rank 1 or more to ``out``'s dtype; with ``given``, to an array the
    vjp owns (see the module docstring)."""
    refs = der.refs
    if given:
        _name_seeds(node, der)
    seeds = [
        stmt
        for stmt in node.body
        if isinstance(stmt, gast.Assign)
        and isinstance(stmt.targets[0], gast.Name)
        and refs.is_call_of(stmt.value, seed_like)
        and len(stmt.value.args) == 2
        and isinstance(stmt.value.args[1], gast.Name)
    ]
    np_name = refs.name_of(np)
    if not seeds or np_name is None:
        return
    dtypes = name_dtypes(node, der, example_args, np_name, shapes)
    ranks = dict(der.analysis.ranks)
    ranks.update((n, len(sh)) for n, sh in (shapes or {}).items() if isinstance(sh, tuple))
    defs: dict = {}
    for stmt in walk_statements(node.body):
        for name in assigned_names(stmt):
            defs.setdefault(name, []).append(stmt)
    for stmt in seeds:
        out = stmt.value.args[1].id
        dtype = dtypes.get(out)
        if not (isinstance(dtype, np.dtype) and dtype in (_GIVEN if given else _WIDEST)):
            continue
        rank = ranks.get(out)
        if (
            isinstance(rank, int)
            and rank >= 1
            or all(_array_valued(st, ranks, np_name) for st in defs.get(out, [None]))
        ):
            seed = stmt.value.args[0]
            if given:
                owned = S.name(refs.helper(given_seed))
                stmt.value = S.call(owned, [S.name(out), seed])
            else:
                stmt.value = _converted(stmt.value, out, np_name)


def _name_seeds(node, der: Derivative) -> None:
    """``d = seed_like(g_out, out)`` before the top-level statement whose expression holds the
    one ``seed_like(g_out, out)`` of ``out`` (simplify inlines a seed read once), ``d`` the
    adjoint name of ``out`` where the function assigns no such name: a given seed is then a
    buffer the in-place rewrites may compute into."""
    refs = der.refs
    assigned = {n for st in walk_statements(node.body) for n in assigned_names(st)}
    found = [
        (i, n)
        for i, stmt in enumerate(node.body)
        if not isinstance(stmt, (gast.If, gast.For, gast.While))
        for n in S.walk(stmt)
        if refs.is_call_of(n, seed_like) and len(n.args) == 2 and isinstance(n.args[1], gast.Name)
    ]
    outs = [n.args[1].id for _, n in found]
    for i, call in reversed(found):
        out = call.args[1].id
        d = der.adj_names.get(out)
        stmt = node.body[i]
        if d is None or d in assigned or outs.count(out) != 1 or _value(stmt) is call:
            continue
        parent = S.parent_map(stmt).get(id(call))
        for field, value in gast.iter_fields(parent):
            if value is call:
                setattr(parent, field, S.name(d))
            elif isinstance(value, list) and any(v is call for v in value):
                value[[v is call for v in value].index(True)] = S.name(d)
        seed = S.assign(d, call, getattr(stmt, "lineno", None))
        for fact in ("adjoint", "sweep"):  # (the adjoint sweep starts at the seed)
            set_fact(seed, fact, get_fact(stmt, fact, False))
        set_fact(stmt, "sweep", False)
        node.body.insert(i, seed)


def _value(stmt):
    return getattr(stmt, "value", None)


#: the output dtypes whose seeds are converted: every real seed (and for complex128 every
#: complex one) converts to them exactly, and NumPy's promotion gives them anyway wherever
#: the seed meets the output's values
_WIDEST = (np.dtype(np.float64), np.dtype(np.complex128))

#: the output dtypes of a given seed (:func:`~sourcegrad.runtime.helpers.given_seed`): a
#: float32 or complex64 output's seed too, whose adjoint then computes in the output's
#: dtype as the caller's own adjoints of it do (a wider seed rounded to it first: the
#: gradient, in the argument's dtype either way, differs by that rounding alone)
_GIVEN = _WIDEST + (np.dtype(np.float32), np.dtype(np.complex64))

#: NumPy functions whose result is an array of rank 1 or more whatever their arguments
_ARRAYS = ("stack", "concatenate")


def _array_valued(stmt, ranks: dict, np_name: str) -> bool:
    """Whether ``stmt`` assigns an array of rank 1 or more (not a NumPy scalar, whose seed
    stays a number): a name of such rank, or :data:`_ARRAYS` (``None`` and tape restores
    are no values the seed is made for)."""
    if not isinstance(stmt, gast.Assign) or not isinstance(stmt.targets[0], gast.Name):
        return False
    v = stmt.value
    if S.is_none(v) or get_fact(stmt, "tape_pair", None):
        return True
    if isinstance(v, gast.Name):
        return isinstance(ranks.get(v.id), int) and ranks[v.id] >= 1
    return (
        isinstance(v, gast.Call)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr in _ARRAYS
        and S.dotted(v.func.value) == np_name
    )


def _converted(seed, out: str, np_name: str):
    """``np.asarray(seed).astype(out.dtype, casting="same_kind", copy=False)``."""
    asarray = gast.Attribute(value=S.name(np_name), attr="asarray", ctx=gast.Load())
    astype = gast.Attribute(value=S.call(asarray, [seed]), attr="astype", ctx=gast.Load())
    dtype = gast.Attribute(value=S.name(out), attr="dtype", ctx=gast.Load())
    value = S.call(astype, [dtype])
    value.keywords = [
        gast.keyword(arg="casting", value=S.const("same_kind")),
        gast.keyword(arg="copy", value=S.const(False)),
    ]
    return value
