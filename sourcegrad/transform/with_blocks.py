"""``with`` statements that only quiet floating-point warnings (part of normalize).

Entered through :func:`lower_with_blocks`, which rewrites a user function's syntax tree in
place: each ``with`` whose context managers only change how floating-point errors and
warnings are reported is replaced by its body, and the lines of that body are recorded with
the contexts around them (:data:`Layers`). Emit puts every statement of the derivative made
from such a line, forward and adjoint alike, back inside the same ``with`` (the adjoint of
``np.log`` at 0 divides by zero where the log did), so no warning the user silenced escapes.

Kept: ``np.errstate`` with ``"ignore"`` or ``"warn"``; ``warnings.catch_warnings()`` with the
``warnings.simplefilter`` / ``filterwarnings`` calls that open its body; and
``contextlib.nullcontext()``. Any other context manager, and any ``as`` target, is refused
at its line with a way out.
"""

from __future__ import annotations

import contextlib
import warnings

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .parse import UNRESOLVED, Parsed, resolve

#: the contexts around a line, outermost first: each the source of the context expression,
#: then of the filter calls that open its body
Layers = tuple

_QUIET_STATES = ("ignore", "warn")
_FILTERS = (warnings.simplefilter, warnings.filterwarnings)
_WAY_OUT = (
    "enter it in the caller, around the call of the derivative " "(`with cm: g = sg.grad(f)(x)`)"
)


def lower_with_blocks(fn: gast.FunctionDef, parsed: Parsed) -> dict:
    """Replace each quiet ``with`` of ``fn`` (not of a nested function) by its body; returns
    {line of a statement in a with body: its :data:`Layers`}. Refuses other ``with``
    statements with an :class:`UnsupportedSyntaxError` at their line."""
    quiet: dict = {}
    if any(isinstance(n, gast.With) for n in S.own_scope_nodes(fn)):
        fn.body = _flatten(fn.body, (), quiet, parsed, S.bound_names(fn))
    return quiet


def _flatten(body: list, around: Layers, quiet: dict, parsed: Parsed, local: set) -> list:
    out = []
    for stmt in body:
        if isinstance(stmt, gast.With):
            layers, inner = _layers(stmt, parsed, local)
            out.extend(_flatten(inner, around + layers, quiet, parsed, local))
            continue
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            if around:  # (a with in its body is its own: refused where it is lowered)
                quiet.update((n.lineno, around) for n in S.walk(stmt) if isinstance(n, gast.stmt))
        else:
            if around:
                quiet[stmt.lineno] = around
            for attr in ("body", "orelse"):
                if getattr(stmt, attr, None):
                    inner = _flatten(getattr(stmt, attr), around, quiet, parsed, local)
                    setattr(stmt, attr, inner)
        out.append(stmt)
    return out


def _layers(stmt: gast.With, parsed: Parsed, local: set) -> tuple:
    """The layers ``stmt`` opens and the rest of its body (its opening filter calls taken
    into the layer of ``warnings.catch_warnings()``)."""
    layers, body = [], list(stmt.body)
    for item in stmt.items:
        expr = item.context_expr
        manager = _manager(expr, parsed, local)
        if item.optional_vars is not None:
            _refuse(
                f"`with {S.text(expr)} as {S.text(item.optional_vars)}` binds a value "
                "sourcegrad does not follow; drop `as ...`, or " + _WAY_OUT,
                stmt,
                parsed,
            )
        _check(manager, expr, stmt, parsed, local)
        texts = [S.text(expr)]
        if manager is warnings.catch_warnings:  # (its filters: in the with, whichever item)
            while body and _filter_call(body[0], parsed, local):
                texts.append(S.text(body.pop(0).value))
        layers.append(tuple(texts))
    return tuple(layers), body or [gast.Pass()]


def _manager(expr, parsed: Parsed, local: set):
    """The function or class ``expr`` calls (UNRESOLVED where it is no call of a static
    name)."""
    if not isinstance(expr, gast.Call):
        return UNRESOLVED
    return resolve(parsed, expr.func, local)


def _check(manager, expr, stmt, parsed: Parsed, local: set) -> None:
    text = S.text(expr)
    if manager is np.errstate:
        for kw in expr.keywords:
            value = kw.value.value if isinstance(kw.value, gast.Constant) else None
            if kw.arg is None or kw.arg == "call" or value not in _QUIET_STATES:
                _refuse(
                    f"`with {text}`: sourcegrad keeps `np.errstate` where each setting is a "
                    'literal "ignore" or "warn"; the derivative divides where your code does '
                    'not (the adjoint of `np.sqrt` at 0), so "raise" would stop it there: '
                    'use "ignore" and test the result (`np.isfinite`), or ' + _WAY_OUT,
                    stmt,
                    parsed,
                )
        if not expr.args:
            return
    elif manager is warnings.catch_warnings:
        if not any(kw.arg == "record" for kw in expr.keywords) and _static_args(
            expr, parsed, local
        ):
            return
    elif manager is contextlib.nullcontext and not expr.args and not expr.keywords:
        return
    _refuse(
        f"`with {text}` is not supported in a differentiated function: sourcegrad keeps only "
        "context managers that quiet floating-point warnings (`np.errstate`, "
        "`warnings.catch_warnings()`, `contextlib.nullcontext()`), since the derivative "
        "runs your code's lines again in its adjoint; " + _WAY_OUT,
        stmt,
        parsed,
    )


def _static_args(call, parsed: Parsed, local: set) -> bool:
    """Whether every argument of ``call`` is a literal or a global name (a warning class)."""
    values = [*call.args, *(kw.value for kw in call.keywords)]
    return all(kw.arg is not None for kw in call.keywords) and all(
        isinstance(v, gast.Constant)
        or (
            isinstance(v, (gast.Name, gast.Attribute))
            and resolve(parsed, v, local) is not UNRESOLVED
        )
        for v in values
    )


def _filter_call(stmt, parsed: Parsed, local: set) -> bool:
    """Whether ``stmt`` is ``warnings.simplefilter(...)`` / ``filterwarnings(...)`` of
    static arguments."""
    if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call)):
        return False
    return _manager(stmt.value, parsed, local) in _FILTERS and _static_args(
        stmt.value, parsed, local
    )


def _refuse(message: str, node, parsed: Parsed):
    raise UnsupportedSyntaxError(message, parsed.filename, getattr(node, "lineno", None))
