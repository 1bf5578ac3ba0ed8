"""Questions the rewrites of the running derivative ask of expressions: NumPy calls,
ufunc calls, pure arithmetic, adjoint accumulations."""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S


def np_call(e, np_name, attr: str, nargs: int) -> bool:
    """Whether ``e`` is ``np.<attr>(...)`` with ``nargs`` positional arguments, no keywords."""
    f = getattr(e, "func", None)
    return (
        isinstance(e, gast.Call)
        and isinstance(f, gast.Attribute)
        and f.attr == attr
        and isinstance(f.value, gast.Name)
        and f.value.id == np_name
        and len(e.args) == nargs
        and not e.keywords
    )


def ufunc_call(e, np_name):
    """The ufunc of ``e`` where ``e`` is ``np.<ufunc>(...)`` with one result, its inputs as
    positional arguments and no keywords; else None."""
    if not isinstance(e, gast.Call):
        return None
    f = e.func
    if not np_call(e, np_name, getattr(f, "attr", ""), len(e.args)):
        return None
    ufunc = getattr(np, f.attr, None)
    if isinstance(ufunc, np.ufunc) and ufunc.nin == len(e.args) and ufunc.nout == 1:
        return ufunc
    return None


def pure(e, np_name, elementwise=False) -> bool:
    """Whether ``e`` is arithmetic on names and numbers with no effect but its value:
    operators and NumPy ufunc calls (``elementwise``: no ``@``, ufuncs of one operand)."""
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.BinOp):
        if elementwise and isinstance(e.op, gast.MatMult):
            return False
        return pure(e.left, np_name, elementwise) and pure(e.right, np_name, elementwise)
    if isinstance(e, gast.UnaryOp):
        return pure(e.operand, np_name, elementwise)
    ufunc = ufunc_call(e, np_name)
    if ufunc is None or (elementwise and ufunc.nin != 1):
        return False
    return all(pure(a, np_name, elementwise) for a in e.args)


def accumulation(stmt, *more_ops) -> bool:
    """``a = a + e`` (or another of ``more_ops``) with ``e`` not reading ``a``."""
    v = stmt.value
    t = stmt.targets[0]
    return (
        isinstance(t, gast.Name)
        and isinstance(v, gast.BinOp)
        and isinstance(v.op, (gast.Add, *more_ops))
        and isinstance(v.left, gast.Name)
        and v.left.id == t.id
        and t.id not in {n.id for n in S.walk(v.right) if isinstance(n, gast.Name)}
    )


def names_reaching(refs, objs) -> set:
    """The names by which the derivative reaches any of ``objs``: those it refers to, and
    where it is itself generated code differentiated again, the globals it reads them by."""
    names = refs.names_of(objs)
    ids = {id(o) for o in objs}
    return names | {
        name for name in refs.used_by_user - refs.local if id(refs.user_globals.get(name)) in ids
    }
