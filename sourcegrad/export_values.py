"""Derivatives an export meets only while its code runs: of function values, and forward mode
over a helper's vjp.

Generated code differentiates a call of a function *value* (a lambda, a nested ``def``, a layer
object from a list, a NumPy function from a dict) through ``vjp_of(fn, wrt)``, and a
derivative of order 2 and up calls ``jvp_of(vjp_helper, wrt)``: which derivative runs is
decided by the objects they get. :func:`traced` runs the derivative once and records every
build those made and ran; the export writes each one (:meth:`sourcegrad.export._Writer`) and
puts :data:`RUNTIME` in the module: ``vjp_of`` / ``jvp_of`` of its own that resolve a function
value the way :mod:`sourcegrad.function_values` does (a bound method or an object with
``__call__`` as its function with the object first, the object itself differentiated where
``wrt`` holds ``"self"``) and pick, from the tables the export fills, the build made for that
function, ``wrt`` and the arguments' signature. A function is known by its code object where
the export defines it (a lambda or nested ``def`` of the exported code, found again by its
place among the code's nested code objects, :func:`code_path`), else by its module and
qualified name (a method of the user's class, whose objects come with the arguments), and a
NumPy function by itself. The variables a function value reads from an enclosing function
are read from the value when the export runs (each build is made by a factory taking them).

Refused, naming the call: the derivative of a derivative made by sourcegrad called inside the
function (``grad`` in the loss), a function value with ``*args``, defaults or keyword-only
parameters, and forward mode over a function value's derivative (an export of order 2 and
up of a function that calls function values).
"""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .derivative import Transformed, recording_runs
from .export_source import ExportError, numpy_alias
from .export_text import guard_source
from .function_values import jvp_of, vjp_of
from .higher import Jvp, recording_jvps

__all__ = [
    "RUNTIME", "Trace", "check_jvp_base", "code_path", "flat_values", "function_key",
    "is_resolver", "jvp_key", "jvp_wrapper", "runtime_names", "traced", "values_text",
]  # fmt: skip

_APPLIER = re.compile(r"^<sourcegrad call of (\S+) #\d+>$")


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


def function_key(fn: types.FunctionType, local: Callable[[types.CodeType], str | None]) -> str:
    """Source for the key under which the export finds ``fn``'s builds: a NumPy function
    with a rule (called through sourcegrad's applier), the code object of a function the
    export defines (``local(code)`` finds it, or None), or ``(module, qualified name)``."""
    found = _APPLIER.match(fn.__code__.co_filename)
    if found is not None:
        target = fn.__globals__.get(found.group(1))
        alias = numpy_alias(target)
        if alias is None:
            raise ExportError(
                f"{target!r} is called as a function value with its derivative rule; an "
                "export writes the rules of NumPy's functions only"
            )
        return alias
    if fn.__defaults__ or fn.__kwdefaults__ or fn.__code__.co_kwonlyargcount:
        raise ExportError(
            f"{fn.__qualname__} is called as a function value and has defaults or keyword-only "
            "parameters, which an export does not write for a function value: give every "
            "argument at the call"
        )
    if fn.__code__.co_flags & 0x0C:  # *args, **kwargs
        raise ExportError(
            f"{fn.__qualname__} is called as a function value and takes *args or **kwargs, "
            "which an export does not write: call a function with named parameters"
        )
    local_key = local(fn.__code__)
    if local_key is not None:
        return local_key
    return repr((fn.__module__, fn.__qualname__))


#: the module-level definitions an export holds where its code calls ``vjp_of`` / ``jvp_of``
RUNTIME = '''
RECEIVER = "self"
#: the builds of the derivatives of function values: (function key, wrt) -> its wrapper
FUNCTION_VALUES = {}
#: the NumPy functions called as function values, differentiated by their rules
RULE_FUNCTIONS = set()
#: forward mode over the derivatives this module defines: (derivative, wrt) -> its wrapper
DERIVATIVE_JVPS = {}


def vjp_of(fn, wrt):
    """The vjp of the function value fn along wrt, as sourcegrad's vjp_of: one of the builds
    this module was exported with."""
    if wrt == RECEIVER or (isinstance(wrt, tuple) and RECEIVER in wrt):
        plain = (types.FunctionType, types.BuiltinMethodType, types.MethodWrapperType)
        return Unbound(fn, wrt) if isinstance(fn, plain) else OfReceiver(fn, wrt)
    return dynamic(fn, wrt)


def jvp_of(fn, wrt):
    """Forward mode over a derivative this module defines (a helper's vjp, order 2 and up)."""
    try:
        found = DERIVATIVE_JVPS.get((fn, wrt))
    except TypeError:
        found = None
    if found is None:
        raise TypeError(f"jvp_of({fn!r}, {wrt!r}): a derivative this module was not exported for")
    return found


def dynamic(fn, wrt):
    """The vjp of fn along wrt (positions of its arguments)."""
    if is_rule_function(fn) or isinstance(fn, types.FunctionType):

        def vjp(*args, g_out=None):
            return build_of(fn, wrt)(fn, *args, g_out=g_out)

        return vjp
    return Called(fn, wrt)


def is_rule_function(fn):
    try:
        return fn in RULE_FUNCTIONS
    except TypeError:
        return False


def build_of(function, wrt):
    """The wrapper of the builds of function's vjp along wrt."""
    if isinstance(function, types.FunctionType) and not is_rule_function(function):
        keys = (function.__code__, (function.__module__, function.__qualname__))
    else:
        keys = (function,)
    for key in keys:
        found = FUNCTION_VALUES.get((key, wrt))
        if found is not None:
            return found
    raise TypeError(
        f"the vjp of {function!r} along {wrt!r}: a function value this module was not "
        "exported for"
    )


def plain_function(fn):
    """(function, leading): the function behind the function value fn and the arguments a
    call of fn puts before its own (a bound method's object, an object with __call__)."""
    if is_rule_function(fn) or isinstance(fn, types.FunctionType):
        return fn, ()
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, (fn.__self__,)
    for k in type(fn).__mro__:
        call = k.__dict__.get("__call__")
        if isinstance(call, types.FunctionType):
            return call, (fn,)
    raise TypeError(f"{fn!r}: a function value this module was not exported for")


def closure_values(function):
    """The values of the variables function reads from an enclosing function, by name."""
    cells = getattr(function, "__closure__", None) or ()
    return {n: c.cell_contents for n, c in zip(function.__code__.co_freevars, cells)}


def code_at(code, path):
    """The code object nested in code at path (positions among nested code objects)."""
    for k in path:
        code = [c for c in code.co_consts if isinstance(c, types.CodeType)][k]
    return code


def with_receiver(grads, count, wrt, single):
    """grads of the positions of wrt other than the receiver, None in the receiver's place."""
    parts = list(grads) if count > 1 else [grads]
    full = tuple(None if i == RECEIVER else parts.pop(0) for i in wrt)
    return full[0] if single else full


class Called:
    """The vjp of a function value that is not a plain function: the function behind it."""

    def __init__(self, fn, wrt):
        self.fn, self.wrt = fn, wrt

    def __call__(self, *args, g_out=None):
        function, leading = plain_function(self.fn)
        n = len(leading)
        wrt = tuple(i + n for i in self.wrt) if isinstance(self.wrt, tuple) else self.wrt + n
        return dynamic(function, wrt)(*leading, *args, g_out=g_out)


class OfReceiver:
    """The vjp of a call of an object (or of its bound method), the object differentiated."""

    def __init__(self, fn, wrt):
        self.fn = fn
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, g_out=None):
        function, leading = plain_function(self.fn)
        n = len(leading)
        bound = n == 1 and (isinstance(self.fn, types.MethodType) or leading[0] is self.fn)
        inner = tuple(0 if i == RECEIVER else i + n for i in self.wrt if bound or i != RECEIVER)
        if not inner:
            return None if self.single else (None,) * len(self.wrt)
        vjp = dynamic(function, inner if len(inner) > 1 else inner[0])
        grads = vjp(*leading, *args, g_out=g_out)
        return grads if bound else with_receiver(grads, len(inner), self.wrt, self.single)


class Unbound:
    """The vjp of a plain function with the receiver in wrt: None (a zero) in its place."""

    def __init__(self, fn, wrt):
        self.fn = fn
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, g_out=None):
        rest = tuple(i for i in self.wrt if i != RECEIVER)
        if not rest:
            return None if self.single else (None,) * len(self.wrt)
        grads = vjp_of(self.fn, rest[0] if len(rest) == 1 else rest)(*args, g_out=g_out)
        return with_receiver(grads, len(rest), self.wrt, self.single)
'''


def check_jvp_base(jv: Jvp) -> Any:
    """The derivative that the forward mode ``jv`` transforms: a helper's vjp or jvp, or
    forward mode over one (order 3 and up); refused for any other."""
    base = jv.base
    if isinstance(base, Jvp):
        check_jvp_base(base)
        return base
    if isinstance(base, Transformed) and base.mode in ("vjp", "jvp") and not base.bound_self:
        if base.f.__defaults__ or base.f.__kwdefaults__:
            raise ExportError(
                f"forward mode over the derivative of {base.f.__qualname__}, which has "
                "defaults: an export of order 2 and up writes helpers called with every argument"
            )
        return base
    what = getattr(base, "__name__", repr(base))
    raise ExportError(
        f"forward mode over {what} (a derivative taken while the code runs, at order 2 and up: "
        "of a function value, a method, or a gradient called inside the function) is not "
        "written by an export; export order=1 (the gradient) or mode='forward', or call a "
        "module-level function by its name for a higher-order export"
    )


def runtime_names() -> list[str]:
    """The module-level names :data:`RUNTIME` defines."""
    names = []
    for stmt in ast.parse(RUNTIME).body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            names.append(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return names


# ---------------------------------------------------------------------------- forward mode over derivatives
def flat_values(jv, args: tuple) -> tuple:
    """The values the generated function of the forward mode ``jv`` runs on for its call
    with ``args`` (the tangent last), as :meth:`~sourcegrad.higher.Jvp.source_call` makes
    them where every argument is given."""
    *primal, t = args
    return _base_values(jv.base, tuple(primal)) + jv.flat_tangents(tuple(primal), t)


def _base_values(base, args: tuple) -> tuple:
    """The values of ``base``'s generated function for its call with ``args``."""
    if isinstance(base, Transformed):
        if base.mode == "jvp" and base.wrt_tuple:  # its own tangents: one value each
            return (*args[:-1], *args[-1])
        return tuple(args)
    return flat_values(base, args)


def values_text(jv, primal: tuple) -> str:
    """Source for :func:`flat_values` of ``(*args, t_in)``, for a call like one with
    ``primal``."""
    return ", ".join(_base_items(jv.base, primal, "args") + _tangent_items(jv, primal, "t_in"))


def _base_items(base, args: tuple, expr: str) -> list:
    if isinstance(base, Transformed):
        if base.mode == "jvp" and base.wrt_tuple:
            return [f"*{expr}[:-1]", f"*{expr}[-1]"]
        return [f"*{expr}"]
    primal = args[:-1]
    return _base_items(base.base, primal, f"{expr}[:-1]") + _tangent_items(
        base, primal, f"{expr}[-1]"
    )


def _tangent_items(jv, primal: tuple, t: str) -> list:
    """Source for :meth:`~sourcegrad.higher.Jvp.flat_tangents` of ``t``."""
    items: list = []
    for k, i in enumerate(jv.wrt):
        items += _value_items(jv.base, primal, i, f"{t}[{k}]" if jv.wrt_tuple else t)
    return items


def _value_items(d, args: tuple, i: int, expr: str) -> list:
    """Source for :func:`~sourcegrad.higher.as_values` of ``expr``."""
    n = len(args)
    if not isinstance(d, Transformed):
        if i % n == n - 1:
            return _tangent_items(d, args[:-1], expr)
        return _value_items(d.base, args[:-1], i, expr)
    return [f"*{expr}"] if d.mode == "jvp" and d.wrt_tuple and i % n == n - 1 else [expr]


def jvp_key(jv) -> tuple:
    """What identifies the forward mode ``jv`` in an export: the derivative it transforms (a
    helper's, or forward mode over one, by its own key) and its ``wrt`` as given."""
    base = jv.base
    inner = id(base) if isinstance(base, Transformed) else jvp_key(base)
    return ("jvp", inner, jv.wrt if jv.wrt_tuple else jv.wrt[0])


def _result(base, raw: str) -> str:
    """Source for what the derivative ``base`` returns, from its generated function's result
    ``raw`` (``post`` of :meth:`~sourcegrad.derivative.Transformed.source_call`)."""
    if not isinstance(base, Transformed):  # forward mode: each part as its base returns it
        return f"({_result(base.base, raw + '[0]')}, {_result(base.base, raw + '[1]')})"
    if base.mode == "jvp":
        return raw
    grads = f"({raw}[1],)" if base.wrt_tuple and len(base.wrt) == 1 else f"{raw}[1]"
    return f"({raw}[0], {grads})" if base.with_value else grads


def jvp_wrapper(name: str, runs: list, jv) -> str:
    """A function that computes forward mode over a derivative as ``jv`` does (``(what it
    returns, its tangent)``), running the build of ``runs`` (``[(function name, the arguments
    it ran for, the function, how many values it takes)]``) for the signature of its
    arguments."""
    result = _result(jv.base, "raw")
    lines = [
        f"def {name}(*args, t_in):",
        f"    values = ({values_text(jv, runs[0][1])},)",
        "",
        "    def post(raw):  # what the vjp returns, from its generated function's result",
        f"        return {result}",
        "",
    ]
    for k, (run, targs, ran, n) in enumerate(runs):
        code = ran.__code__
        npos = code.co_argcount
        kwnames = code.co_varnames[npos : npos + code.co_kwonlyargcount]
        keywords = kwnames[len(kwnames) - (n - npos) :]
        call = f"raw = {run}(*values[:{npos}], "
        call += ", ".join(f"{kw}=values[{npos + j}]" for j, kw in enumerate(keywords)) + ")"
        if len(runs) == 1:
            lines.append("    " + call)
            continue
        lines.append(f"    {'if' if k == 0 else 'elif'} {guard_source(targs)}:")
        lines.append("        " + call)
    if len(runs) > 1:
        lines += [
            "    else:",
            f'        raise TypeError("{name}: arguments of a signature this module was not '
            'exported for")',
        ]
    lines.append("    return post(raw[0]), post(raw[1])")
    return "\n".join(lines) + "\n"
