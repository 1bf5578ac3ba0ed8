"""What a transformation of a function reads besides its code: the values of the global
names and closure cells it resolves when it is transformed, and the same of the functions of
the user's it calls. Two transformations of one function may share their builds only where
these are the same objects (``sourcegrad.derivative_cache``, and the derivatives of called
functions kept by ``transform.calls``)."""

from __future__ import annotations

import types
import weakref

import numpy as np

_GLOBAL_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: values read as data when the derivative runs: a transformation reads only their type
_DATA_TYPES = frozenset(
    {float, int, bool, complex, str, bytes, type(None), np.ndarray, list, tuple, dict}
)
#: stands for an empty closure cell or a global name not (yet) bound
EMPTY_CELL = object()
#: at most this many functions' environments go into one (helpers calling helpers)
_CALLEE_LIMIT = 32


def global_names(code) -> tuple:
    """The global names ``code`` and the code nested in it may read."""
    names = _GLOBAL_NAMES.get(code)
    if names is None:
        found, todo = set(), [code]
        while todo:
            c = todo.pop()
            found.update(c.co_names)
            todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        names = _GLOBAL_NAMES[code] = tuple(sorted(found))
    return names


def token(value):
    """What a transformation reads of a global or closure value: data (read live when the
    derivative runs) only by its type, anything else (a function called, a module, an object
    whose methods are called) by identity."""
    t = type(value)
    return t if t in _DATA_TYPES or isinstance(value, np.generic) else value


def environment(fn, seen=None) -> list:
    """The objects a transformation of ``fn`` depends on besides its code: its globals (live
    data, but resolved names), the values of its global names and closure cells (tokens), and
    the same of each function of the user's it calls by a global name (its derivative is
    built into ``fn``'s: a helper reading a global that was rebound needs a new one)."""
    seen = {fn} if seen is None else seen
    g = fn.__globals__
    env = [fn.__code__, g]
    values = [g.get(name, EMPTY_CELL) for name in global_names(fn.__code__)]
    env.extend([token(v) for v in values])
    for cell in fn.__closure__ or ():
        try:
            env.append(token(cell.cell_contents))
        except ValueError:
            env.append(EMPTY_CELL)
    for v in values:
        if is_user_function(v) and v not in seen and len(seen) < _CALLEE_LIMIT:
            seen.add(v)
            env.extend(environment(v, seen))
    return env


def is_user_function(value) -> bool:
    """A plain function of the user's (not sourcegrad's nor NumPy's): its source is read."""
    return type(value) is types.FunctionType and not (
        getattr(value, "__module__", None) or ""
    ).startswith(("sourcegrad", "numpy"))
