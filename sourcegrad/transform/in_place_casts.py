"""Which updates ``x += v`` of arrays need NumPy's cast back to ``x``'s dtype.

NumPy's ``x += v`` writes into ``x``: ``x`` keeps its dtype (``casting="same_kind"``: a
float32 array stays float32, a float added into an integer array raises a ``TypeError``).
Normalize lowers it to ``x_1 = x + v`` and marks that statement (``in_place``); the sweeps
compute it as ``x_1 = in_place_result(x + v, x)`` unless this module proves the cast a no-op:
where ``x`` surely holds a float64 array or a number, or is an item read out of such an
array (not where it may be a 0-d array, whose arithmetic gives a NumPy scalar), ``v`` has no more axes than ``x``, and nothing in the build may hold a float of another
width or a complex value (no such argument, dtype, constant or complex-making function in the
function's code), so that ``x + v`` is float64 too. (``v`` of as many axes as ``x`` that
broadcasts it larger, ``(1, 3) += (2, 3)``, is computed where this proof holds.) The running build drops the cast where the shapes it infers prove
it a no-op (``transform/optimize/shaped.py``)."""

from __future__ import annotations

import warnings

import gast
import numpy as np

from . import syntax as S
from .calls import UNRESOLVED, example_value
from .forms import Core
from .node_facts import get_fact
from .parse import resolve
from .rule_binding import local_names
from .walk import walk_statements, written_names

#: the modules whose functions may make complex values from real ones
_COMPLEX_MODULES = ("numpy.fft", "numpy.lib.scimath", "scipy.fft", "scipy.signal")
_COMPLEX_FUNCTIONS = frozenset({np.linalg.eig, np.linalg.eigvals, np.roots})


def in_place_casts(core: Core, floating: frozenset, ranks: dict) -> frozenset:
    """The ids of the statements marked ``in_place`` whose cast back to the updated array's
    dtype is not surely a no-op (see the module docstring); ``floating``: the names surely
    holding floating values, ``ranks``: the analysis' ranks."""
    marked = [s for s in walk_statements(core.node.body) if get_fact(s, "in_place")]
    if not marked:
        return frozenset()
    if not _float64_only(core):
        return frozenset(id(s) for s in marked)
    made: dict = {}
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            made.setdefault(stmt.targets[0].id, []).append(stmt.value)

    def float64(name: str) -> bool:
        if name in floating:
            return True
        values = made.get(name, [])
        if not values or name in core.paths:  # an argument, or a path read from one
            value = example_value(core, name)
            return value is not UNRESOLVED and _float64_leaf(value) and _kind(value) == "f"
        read = values[0]
        return (
            len(values) == 1
            and isinstance(read, gast.Subscript)
            and isinstance(read.value, gast.Name)
            and isinstance(ranks.get(read.value.id), int)  # an array, not a list or dict
            and float64(read.value.id)
        )

    def kept_shape(stmt) -> bool:  # (`x += v` where v has more axes than x: NumPy raises)
        got, kept = ranks.get(stmt.targets[0].id), ranks.get(get_fact(stmt, "in_place"))
        return isinstance(got, int) and isinstance(kept, int) and got <= kept

    def zero_d(x: str) -> bool:  # (its update gives a NumPy scalar: cast back to 0-d)
        return ranks.get(x) == 0 and may_be_a_0d_array(core, x)

    return frozenset(
        id(s)
        for s in marked
        if not (float64(x := get_fact(s, "in_place")) and kept_shape(s) and not zero_d(x))
    )


def may_be_a_0d_array(core: Core, name: str) -> bool:
    """Whether ``name`` (of rank 0) may hold a 0-d array rather than a number, following
    its one assignment through plain copies (``t = s``): an argument given one, the
    result of a call or of an ``...`` index, or a container's item updated (``d[k] += v``;
    arithmetic and an array's items give NumPy scalars)."""
    seen = set()
    while name not in seen:
        seen.add(name)
        found = [
            stmt
            for stmt in walk_statements(core.node.body)
            if isinstance(stmt, gast.Assign) and name in written_names(stmt)
        ]
        if not found:
            return isinstance(example_value(core, name), np.ndarray)
        value = found[0].value
        if len(found) != 1 or isinstance(value, gast.Call):
            return True
        if isinstance(value, gast.Subscript):
            return get_fact(found[0], "updated_item") or any(
                isinstance(n, gast.Constant) and n.value is Ellipsis for n in S.walk(value.slice)
            )
        if not isinstance(value, gast.Name):
            return False
        name = value.id
    return True


def _float64_only(core: Core) -> bool:
    """Whether no floating value other than float64 (and no complex value) can come into the
    build: from its arguments, or from a dtype, constant or function its code names."""
    if core.example_args is None or not all(_float64_leaf(a) for a in core.example_args):
        return False
    local = local_names(core)
    for node in S.walk(core.node):
        if isinstance(node, gast.Constant):
            if not _float64_constant(node.value):
                return False
        elif isinstance(node, (gast.Name, gast.Attribute)) and isinstance(node.ctx, gast.Load):
            if not _float64_object(resolve(core.parsed, node, local)):
                return False
    return True


def _kind(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return dtype.kind
    return "f" if isinstance(value, float) else "?"


def _float64_leaf(value, depth: int = 0) -> bool:
    """Whether ``value`` (an argument) holds no float other than float64 and no complex."""
    if depth > 4 or value is None or isinstance(value, (bool, int, float, str)):
        return not isinstance(value, complex)
    if isinstance(value, complex):
        return False
    if isinstance(value, (type, np.dtype)):  # (a dtype kept in an object: `self.dtype`)
        return _float64_object(value)
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biu" or dtype == np.float64
    if isinstance(value, dict):
        return all(_float64_leaf(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_float64_leaf(v, depth + 1) for v in value)
    if callable(value) and not hasattr(value, "__dict__"):
        return True
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict) and not isinstance(value, type):
        return all(_float64_leaf(v, depth + 1) for v in fields.values())
    return True


def _float64_constant(value) -> bool:
    if isinstance(value, complex):
        return False
    if isinstance(value, str):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ("a": a deprecated alias)
                dtype = np.dtype(value)
        except (TypeError, ValueError):
            return True
        return dtype.kind not in "fc" or dtype == np.float64
    return True


def _float64_object(obj) -> bool:
    """Whether ``obj``, a global a function names, is no narrow or complex dtype (or an array
    or a scalar type of one) and no function that may make complex values."""
    if obj is UNRESOLVED:
        return True
    if isinstance(obj, type) and issubclass(obj, (np.generic, complex)):
        return obj is np.float64 or not issubclass(obj, (np.inexact, complex))
    if isinstance(obj, np.dtype):
        return obj.kind not in "fc" or obj == np.float64
    if isinstance(obj, (np.ndarray, np.generic, dict, list, tuple)):
        return _float64_leaf(obj)
    if any(obj is f for f in _COMPLEX_FUNCTIONS):
        return False
    return not str(getattr(obj, "__module__", None) or "").startswith(_COMPLEX_MODULES)
