"""What a call of one of the user's functions gives, as far as the kinds of names go (part of
normalize, read by :mod:`.name_kinds`).

``h = dense(p, h)`` with ``def dense(p, h): return np.tanh(h @ p["W"] + p["b"])``: whatever
``dense`` is given, it returns an array or a number, never a container; given ``h`` of two
axes, an array of one axis or more. The callee (a function of the same module, read from its
source) is read as the caller is, its parameters holding arrays of the axes the call's
arguments surely have; every ``return`` of it must give such a value. A recursive chain, a
generator or a function whose source is not read gives nothing known.
"""

from __future__ import annotations

import types

import gast
import numpy as np

from ..errors import SourcegradError
from . import syntax as S
from .name_kinds import NameKinds
from .parse import UNRESOLVED, parse, resolve
from .writes import numpy_in_scope

__all__ = ["helper_results"]

#: (a function's code, the axes its arguments surely have) -> (whether it surely returns an
#: array or a number, the axes that surely has); None while it is being asked
_RETURNED: dict = {}
_UNKNOWN = (False, 0)


def helper_results(parsed, local_names: set):
    """``results(call, ndims)``: ``(numeric, ndim)`` of the value ``call`` (a call in
    ``parsed``'s function, whose ``local_names`` are not the module's) gives, where it calls
    a function of the same module given its arguments by position (``ndims``: the axes they
    surely have, 0 where not known); ``(False, 0)`` for any other call."""

    def results(call, ndims) -> tuple:
        if call.keywords or any(isinstance(a, gast.Starred) for a in call.args):
            return _UNKNOWN
        if not isinstance(call.func, gast.Name):
            return _UNKNOWN
        function = resolve(parsed, call.func, local_names)
        if function is UNRESOLVED or not isinstance(function, types.FunctionType):
            return _UNKNOWN
        if function.__globals__ is not parsed.globals:
            return _UNKNOWN
        return _returned_kinds(function, tuple(ndims))

    return results


def _returned_kinds(function, ndims: tuple) -> tuple:
    key = (function.__code__, ndims)
    if key in _RETURNED:
        return _RETURNED[key] or _UNKNOWN
    _RETURNED[key] = None
    try:
        parsed = parse(function)
    except (SourcegradError, OSError, TypeError):
        _RETURNED[key] = _UNKNOWN
        return _UNKNOWN
    _RETURNED[key] = _returned(parsed, ndims)
    return _RETURNED[key]


def _returned(parsed, ndims: tuple) -> tuple:
    """``(numeric, ndim)`` of every value ``parsed``'s function returns, its parameters
    holding arrays of ``ndims`` axes (those of 0: not known)."""
    node = parsed.node
    if not isinstance(node, gast.FunctionDef):
        return _UNKNOWN  # (a lambda)
    own = list(S.own_scope_nodes(node))
    if any(isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)) for n in own):
        return _UNKNOWN
    returns = [n for n in own if isinstance(n, gast.Return)]
    if not returns or any(r.value is None for r in returns):
        return _UNKNOWN
    params = [a.id for a in node.args.posonlyargs + node.args.args]
    examples = {p: np.zeros((1,) * k) for p, k in zip(params, ndims) if k}
    local = S.bound_names(node)
    numpy = numpy_in_scope(parsed, local)
    kinds = NameKinds(node, examples, numpy, helper_results(parsed, local))
    if not all(kinds.value_numeric(r, r.value) for r in returns):
        return _UNKNOWN
    return True, min(kinds.value_ndim(r, r.value) for r in returns)
