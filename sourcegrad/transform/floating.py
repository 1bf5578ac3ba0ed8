"""The names that surely hold floating (or complex) values, whatever the arguments' values:
``x[k] = v`` into one of them keeps ``v`` as it is, so the adjoint of the write needs no
check of ``x``'s dtype (into an integer or boolean array NumPy cuts ``v``: the rule asks
``through_write`` when the derivative runs, which reads ``x``'s dtype, so the tape keeps it).

A name is floating where every assignment of it makes a floating value (a greatest fixed
point, for the names a loop carries round): a float literal, an argument that is a float
array or number in the call the build is made for (its dtype is part of the build's
signature), a true division, arithmetic with a floating operand, ``np.zeros``
and its kin without an integer ``dtype``, a copy, a cast or a NumPy function of floating
operands whose result for floats is floating; a write into an item keeps the array's dtype.
Anything else (a name assigned by unpacking, a loop over an array, a call of the user's) is
not known to be floating."""

from __future__ import annotations

import warnings

import gast
import numpy as np

from .calls import UNRESOLVED, example_value
from .forms import Core
from .walk import walk_statements, written_names

#: NumPy functions that make a new array of float64 unless given a ``dtype``
_CREATED = frozenset({np.zeros, np.ones, np.empty, np.eye, np.identity})
#: functions and methods whose result has their first operand's dtype unless given one
_LIKE = frozenset({np.zeros_like, np.ones_like, np.empty_like, np.copy, "copy", "astype"})
#: those of them whose second positional parameter is ``dtype``
_DTYPE_SECOND = frozenset(
    {np.zeros, np.ones, np.empty, np.identity, np.zeros_like, np.ones_like, np.empty_like}
)
#: operators whose result is floating where one operand is
_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Pow, gast.MatMult, gast.FloorDiv, gast.Mod)


def floating_names(core: Core, ops: dict) -> frozenset:
    """The names of ``core`` that hold a floating or complex value wherever they are read
    (see the module docstring); ``ops``: the analysis' operation of each statement."""
    defs: dict = {}
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For)):
            names = _targets(stmt)
            for name in names:
                defs.setdefault(name, []).append(stmt if isinstance(stmt, gast.Assign) else None)
    # (an argument's dtype is part of the signature a build is made for)
    given = {p for p in core.params if _floating_argument(core, p, defs)}
    sure = given | {  # (a name only written into is an argument or a global: not known)
        name
        for name, made in defs.items()
        if None not in made
        and name not in core.params
        and any(isinstance(st.targets[0], gast.Name) for st in made)
    }
    changed = True
    while changed:
        changed = False
        for name in sorted(sure):
            made = defs.get(name, ())
            if not all(_makes_floating(st, ops.get(id(st)), sure) for st in made):
                sure.discard(name)
                changed = True
    return frozenset(sure)


def _targets(stmt) -> set:
    if isinstance(stmt, gast.For):
        return {n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)}
    return written_names(stmt)


def _floating_argument(core: Core, name: str, defs: dict) -> bool:
    value = example_value(core, name)
    if value is UNRESOLVED:
        return False
    dtype = getattr(value, "dtype", None)
    floating = isinstance(value, float) or (dtype is not None and dtype.kind in "fc")
    return floating and None not in defs.get(name, ())


def _makes_floating(stmt, op, sure: set) -> bool:
    if isinstance(stmt.targets[0], gast.Subscript):
        return True  # x[k] = v keeps x's dtype
    if not isinstance(stmt.targets[0], gast.Name):
        return False
    return _floating(stmt.value, op, sure)


#: displays and comprehensions making a list or dict (whose item writes keep the value)
_CONTAINERS = (gast.List, gast.Dict, gast.ListComp, gast.DictComp)


def _floating(e, op, sure: set) -> bool:
    if isinstance(e, _CONTAINERS):
        return True
    if isinstance(e, gast.Constant):
        return isinstance(e.value, (float, complex))
    if isinstance(e, gast.Name):
        return e.id in sure
    if isinstance(e, gast.BinOp):
        if isinstance(e.op, gast.Div):
            return True
        operands = (e.left, e.right)
        return isinstance(e.op, _ARITHMETIC) and any(_floating(x, None, sure) for x in operands)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        return _floating(e.operand, None, sure)
    if isinstance(e, gast.Call) and op is not None:
        return _floating_call(e, op.key, sure)
    return False


def _floating_call(call, key, sure: set) -> bool:
    if key in (list, dict):
        return True
    dtype = next((k.value for k in call.keywords if k.arg == "dtype"), None)
    if key == "astype":
        dtype = call.args[0] if call.args else dtype
    if dtype is not None:
        return _floating_dtype(dtype)
    operands = call.args
    if isinstance(call.func, gast.Attribute) and isinstance(key, str):
        operands = [call.func.value]  # x.copy(): its receiver's dtype
    elif len(call.args) > 1 and (key in _CREATED or key in _LIKE):
        return key in _DTYPE_SECOND and _floating_dtype(call.args[1])  # np.zeros(3, int)
    if key in _CREATED:
        return True
    if key in _LIKE:
        return bool(operands) and _floating(operands[0], None, sure)
    if isinstance(key, np.ufunc) and key.nout == 1 and len(call.args) == key.nin:
        if _floating_result(key, np.int64(1)):
            return True  # np.exp, np.tanh: floating for any numbers
        return any(_floating(x, None, sure) for x in call.args) and _floating_result(
            key, np.float64(0.5)
        )
    return False


def _floating_dtype(node) -> bool:
    """Whether the ``dtype`` argument ``node`` names a floating or complex dtype."""
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        name = node.value
    elif isinstance(node, gast.Name) and node.id in ("float", "complex"):
        return True
    elif isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
        name = node.attr if node.value.id in ("np", "numpy") else ""
    else:
        return False
    try:
        return np.dtype(name).kind in "fc"
    except TypeError:
        return False


def _floating_result(ufunc, stand_in) -> bool:
    """Whether ``ufunc`` of operands like ``stand_in`` gives a floating result (``np.exp``,
    not ``np.isnan``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = ufunc(*[stand_in] * ufunc.nin)
        except (TypeError, ValueError):
            return False
    return getattr(got, "dtype", np.dtype(bool)).kind in "fc"
