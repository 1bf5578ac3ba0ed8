"""Derivatives an export meets only while its code runs: of function values, and forward mode
over a derivative.

Generated code differentiates a call of a function *value* (a lambda, a nested ``def``, a layer
object from a list, a NumPy function from a dict) through ``vjp_of(fn, wrt)`` /
``jvp_of(fn, wrt)``, and a derivative of order 2 and up calls ``jvp_of(vjp, wrt)`` over a
helper's vjp or a function value's: which derivative runs is decided by the objects they get.
:func:`traced` runs the derivative once and records every build those made and ran; the export
writes each one (:class:`sourcegrad.export._Writer`) and puts
:data:`~sourcegrad.export_runtime.RUNTIME` in the module: ``vjp_of`` / ``jvp_of`` of its own
that resolve a function value the way :mod:`sourcegrad.function_values` does (a bound method
or an object with ``__call__`` as its function with the object first, the object itself
differentiated where ``wrt`` holds ``"self"``; a call with keyword arguments, or of a function
taking ``*args`` or ``**kwargs``, bound to the parameters, defaults filled in from the value
itself, the variable arguments packed into one tuple and one dict) and pick, from the tables
the export fills, the build made for that function, mode, ``wrt`` and the arguments'
signature (``FUNCTION_VALUES``, ``FUNCTION_JVPS``; forward mode over a function value's
derivative in ``VALUE_JVPS``, over a helper's in ``DERIVATIVE_JVPS``). A function is known by
its code object where the export defines it (a lambda or nested ``def`` of the exported code,
found again by its place among the code's nested code objects, :func:`code_path`; a function
or class of the user's the export copies), else by its module and qualified name (a method of
the user's class, whose objects come with the arguments), and a NumPy function by itself. The
variables a function value reads from an enclosing function are read from the value when the
export runs (each build is made by a factory taking them).

Refused (:mod:`sourcegrad.export_keys`), naming the user's line: forward mode over the
derivative of a function value with keyword-only defaults, a ``functools.partial`` called as a
function value, and the derivative of a derivative made by sourcegrad called inside the
function (``grad`` in the loss).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .derivative import Transformed, recording_runs
from .function_values import jvp_of, vjp_of
from .higher import recording_jvps

__all__ = [
    "Trace", "code_path", "held_derivatives", "is_resolver", "jvp_depth", "root_of", "traced",
]  # fmt: skip


@dataclass
class Trace:
    """What one run of a derivative made and ran: ``runs``, ``[(derivative, its arguments in
    parameter order, the build that ran)]`` for every derivative object generated code called
    (helpers' vjps, function values'); ``jvps``, ``[(the Jvp, the arguments it got, its
    build's pure function, the function's arguments)]`` for forward mode over a helper's vjp (order 2 and up).
    """

    runs: list = field(default_factory=list)
    jvps: list = field(default_factory=list)


def traced(call: Callable[[], Any]) -> Trace:
    """``call()`` run once, recording what it runs (see :class:`Trace`)."""
    found = Trace()

    def run(t, args, entry):
        found.runs.append((t, args, entry))

    def jvp(jv, args, fn, values):
        found.jvps.append((jv, args, fn, values))

    with recording_runs(run), recording_jvps(jvp):
        call()
    return found


def is_resolver(value: Any) -> bool:
    """Whether generated code reads ``value`` as ``vjp_of`` / ``jvp_of``: the derivative of a
    function value, resolved when the code runs."""
    return value is vjp_of or value is jvp_of


def code_path(outer: types.CodeType, inner: types.CodeType) -> tuple | None:
    """The positions, among the nested code objects at each level, that lead from ``outer`` to
    ``inner`` (``(0,)``: the first function ``outer`` defines); None where ``inner`` is not
    nested in ``outer``."""
    nested = [c for c in outer.co_consts if isinstance(c, types.CodeType)]
    for k, code in enumerate(nested):
        if code is inner:
            return (k,)
        deeper = code_path(code, inner)
        if deeper is not None:
            return (k, *deeper)
    return None


def held_derivatives(fns: list) -> set:
    """The ids of the derivatives the generated functions ``fns`` hold in their closures:
    helpers' (a function value's derivative is resolved when the code runs instead)."""
    found = set()
    for fn in fns:
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, Transformed):
                found.add(id(value))
    return found


def root_of(jv) -> Transformed:
    """The derivative at the bottom of the forward mode ``jv`` (over forward mode...)."""
    while not isinstance(jv, Transformed):
        jv = jv.base
    return jv


def jvp_depth(jv) -> int:
    return 0 if isinstance(jv, Transformed) else 1 + jvp_depth(jv.base)
