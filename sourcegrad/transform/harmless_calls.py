"""Calls that change nothing: a function of the user's that only computes with NumPy's,
``math``'s and Python's own functions (``softmax(z)``), told apart so that a read of what the
caller stored before such a call still reads the stored value."""

from __future__ import annotations

import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .parse import UNRESOLVED, parse, resolve
from .positional_outputs import method_output_by_position


def harmless_call(parsed, bound: set):
    """``harmless(call)``: whether ``call`` calls a function of the user's (a global of
    ``parsed``'s function) that only calls NumPy's, ``math``'s and Python's own functions and
    stores no attribute nor global: given no object, it changes none (``softmax(z)``)."""

    def harmless(call) -> bool:
        if not isinstance(call.func, gast.Name) or call.func.id in bound:
            return False
        fn = resolve(parsed, call.func, bound)
        if fn is UNRESOLVED or not isinstance(fn, types.FunctionType):
            return False
        if fn.__code__ not in _PURE_FUNCTIONS:
            _PURE_FUNCTIONS[fn.__code__] = _only_numpy(fn)
        return _PURE_FUNCTIONS[fn.__code__]

    return harmless


_PURE_FUNCTIONS: dict = {}
#: methods of an array that change nothing
_ARRAY_READS = {"sum", "max", "min", "mean", "prod", "std", "var", "reshape", "transpose"}
_ARRAY_READS |= {"dot", "copy", "astype", "clip", "ravel", "flatten", "squeeze", "cumsum"}
_BUILTINS = {"len", "range", "max", "min", "abs", "sum", "float", "int", "tuple", "zip"}


def _only_numpy(fn) -> bool:
    try:
        node = parse(fn).node
    except (SourcegradError, OSError, TypeError):
        return False
    for n in S.walk(node):
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Lambda, gast.Yield, gast.Delete)):
            return False
        if n is not node and isinstance(n, S.NESTED_SCOPES):
            return False
        if isinstance(n, (gast.Attribute, gast.Subscript)) and isinstance(n.ctx, gast.Store):
            return False
        if isinstance(n, gast.AugAssign):
            return False
        if isinstance(n, gast.Call):
            if any(k.arg in ("out", None) for k in n.keywords):
                return False  # (`np.add(a, b, out=c)` writes into `c`)
            head = (S.dotted(n.func) or "").split(".")
            if head[0] in ("np", "numpy", "math") and fn.__globals__.get(head[0]) is not None:
                if head[-1] not in ("at", "copyto", "put", "place", "fill_diagonal"):
                    continue
            if len(head) == 1 and head[0] in _BUILTINS and head[0] not in fn.__globals__:
                continue
            if isinstance(n.func, gast.Attribute) and n.func.attr in _ARRAY_READS:
                if method_output_by_position(n, S.bound_names(node)) is None:
                    continue
            return False
    return True
