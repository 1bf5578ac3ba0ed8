"""The shape of what a call of the user's function returns, for a shape-specialised build.

``h = dense(x, W, b)`` has the shape of what ``dense`` returns for arguments of the shapes
``x``, ``W`` and ``b`` have: :func:`returned_shape` normalizes and analyzes the callee for
stand-ins of those shapes (arrays of zeros; an argument or a read of one as it is; numbers)
and asks the callee's own shape inference (``concrete_shapes``, handed in) for the shape of
the name it returns. That shape holds for every call with arguments of those shapes, as the
callee's inference guarantees for its own build; where any argument's shape, the callee's
inference, or its returned value is not known (a tuple, a function with ``*args``, a
recursive call, a callee refused for the stand-ins), nothing is assumed.
"""

from __future__ import annotations

import contextvars
import inspect

import gast
import numpy as np

from ..errors import SourcegradError
from .analysis import analyze
from .normalize import normalize
from .parse import parse
from .path_reads import follow_keys
from .walk import walk_statements, written_names

__all__ = ["returned_shape"]

#: the functions whose returned shape is being worked out (a recursive call is not followed)
_FOLLOWING: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "following", default=frozenset()
)
_MISSING = object()


def returned_shape(op, env: dict, core, example_args, shapes_of) -> tuple | None:
    """``(shape, None)`` of what the call ``op`` (of the user's function) returns, its
    arguments known by ``env`` (name -> ``(shape, value)``, as ``concrete_shapes`` keeps
    them) or as reads of ``example_args``; None where that is not known."""
    fn, args, kwargs = op.user_call
    code = getattr(fn, "__code__", None)
    if code is None or code in _FOLLOWING.get() or kwargs:
        return None
    try:
        sig = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind not in plain for p in sig.parameters.values()):
        return None
    stand_ins = [_stand_in(a, env, core, example_args) for a in args]
    if any(s is _MISSING for s in stand_ins):
        return None
    try:
        bound = sig.bind(*stand_ins)
    except TypeError:
        return None
    bound.apply_defaults()
    values = tuple(bound.arguments.values())
    token = _FOLLOWING.set(_FOLLOWING.get() | {code})
    try:
        return _callee_returned(fn, values, shapes_of)
    except SourcegradError:  # refused for the stand-ins: nothing is known
        return None
    finally:
        _FOLLOWING.reset(token)


def _callee_returned(fn, values: tuple, shapes_of) -> tuple | None:
    """``(shape, None)`` of the name the callee's core returns for ``values``, or None."""
    core = normalize(parse(fn), values)
    wrt = tuple(i for i, v in enumerate(values) if _floating(v))
    analysis = analyze(core, wrt, values, whole_output=True)
    returned = core.node.body[-1]
    if not isinstance(returned, gast.Return) or not isinstance(returned.value, gast.Name):
        return None
    shape = shapes_of(analysis, values).get(returned.value.id)
    return None if shape is None else (shape, None)


def _floating(value) -> bool:
    """Whether the callee's derivative would take ``value`` along (a float, an array of
    floats, a container or object holding them: analysis decides, as for the real call)."""
    if isinstance(value, (bool, int, str)) or value is None:
        return False
    dtype = getattr(value, "dtype", None)
    return dtype is None or np.issubdtype(dtype, np.inexact)


def _stand_in(atom, env: dict, core, example_args):
    """A value standing for ``atom`` in the callee's analysis: a constant itself, zeros of a
    known shape, a number of a known kind, or the example value of an argument (or of a
    read of one) that the function never rebinds; :data:`_MISSING` where none."""
    if isinstance(atom, gast.Constant):
        return atom.value
    if not isinstance(atom, gast.Name):
        return _MISSING
    known = env.get(atom.id)
    if known is not None and (known[1] is None or type(known[1]) in (int, str)):
        shape, value = known  # value: an int, one of unknown value (a str saying so), or None
        if shape != ():
            return np.zeros(shape)
        return value if type(value) is int else 1 if value is not None else 0.5
    root, keys = core.paths.get(atom.id, (atom.id, ()))
    if root not in core.params or example_args is None:
        return _MISSING
    if atom.id not in core.paths and atom.id in _rebound(core):
        return _MISSING
    i = core.params.index(root)
    if i >= len(example_args):
        return _MISSING
    return follow_keys(example_args[i], keys, _MISSING)


def _rebound(core) -> set:
    """The names the core function assigns (a parameter among them holds other values)."""
    out: set = set()
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.For)):
            out.update(written_names(stmt))
    return out
