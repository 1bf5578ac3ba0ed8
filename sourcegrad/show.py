"""The whole derivative of a function as source, for review: ``sg.show`` and ``sourcegrad show``.

:func:`show_source` prints the derivative of ``f`` and after it every generated function it
calls: the vjps (or jvps) of the user's helpers and methods, each headed by a comment naming
the function it differentiates and its ``file:line``. With example arguments the callees are
the builds that run for the arguments they get (found by running the derivative once);
without, the builds that assume no ranks. An array-valued ``f`` is shown as its vjp, saying
so. Derivatives of higher order cite the user's ``file:line`` in their comments (the lines of
the generated gradient they transform are mapped back). :func:`diff_source` is a unified diff
of two versions' derivatives.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .derivative import Transformed, derivative, recording_runs
from .errors import SourcegradError, user_location
from .higher import grad_of_derivative, is_derivative, jvp_transform, tower

__all__ = [
    "callee_builds", "diff_source", "higher_order_source", "show_source", "traced_runs", "where"
]  # fmt: skip

_COMMENT = re.compile(r"^(\s*)# line (\d+): .*$")


# ---------------------------------------------------------------------------- callees
def traced_runs(call: Callable[[], Any]) -> list:
    """``call()`` run once: ``[(derivative, args, build)]`` for every call of a derivative
    object made for generated code (the vjps and jvps of helpers, functions values) that it
    makes, in order (one whose forward sweep is kept for its adjoint when its forward half
    has run): the arguments it got (in parameter order) and the build that ran."""
    found: list = []

    def record(t, args, entry):
        found.append((t, args, entry))

    with recording_runs(record):
        call()
    return found


def callee_builds(df: Transformed, args: tuple | None) -> list:
    """``[(callee derivative, its build)]``: the generated functions ``df`` calls for
    ``args`` (run once to find them, with the arguments they get), or without ``args`` those
    its rank-generic build reads, transitively; each build once."""
    if args is not None:
        try:
            seed = _example_seed(df, args)
            runs = traced_runs(lambda: df(*args, *seed))
        except Exception:  # noqa: BLE001 - the derivative fails for args: its code still shows
            runs = None
        if runs is not None:
            out, seen = [], set()
            for t, targs, _ in runs:
                built = t.emitted(targs, True)
                key = id(getattr(built, "_entry", built))
                if t is not df and key not in seen:
                    seen.add(key)
                    out.append((t, built))
            return out
    return _generic_callees(df)


def _example_seed(df: Transformed, args: tuple) -> tuple:
    """The seed a call of ``df`` takes after ``args``: a vjp's output gradient, a jvp's
    tangent (any value of the right structure: the build does not depend on its values)."""
    if df.mode == "jvp":
        ts = tuple(args[i] for i in df.wrt)
        return (ts if df.wrt_tuple else ts[0],)
    if df.mode == "vjp":
        pos = df.bound_self + tuple(args)
        return (df.f(*pos),)
    return ()


def _generic_callees(df: Transformed) -> list:
    out, seen, todo = [], {id(df)}, [df]
    while todo:
        fn = todo.pop(0).emitted().fn
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, Transformed) and id(value) not in seen:
                seen.add(id(value))
                out.append((value, value.emitted()))
                todo.append(value)
    return out


def where(f: Callable) -> str:
    """``file:line`` of the function ``f`` (the file's base name); for a function made in
    generated code (a lambda, a nested ``def``), the user's function that makes it."""
    code = getattr(f, "__code__", None)
    if code is None:
        return "<unknown>"
    wrapped = _WRAPPER.match(code.co_filename)
    if wrapped is not None:  # a function with a rule, called as a value (callables.as_function)
        return f"{wrapped.group(1)} called as a function value"
    made_in = _GENERATED.match(code.co_filename)
    if made_in is not None:
        return f"{os.path.basename(made_in.group(1))}:{made_in.group(2)}"
    filename, line = user_location(code.co_filename, code.co_firstlineno)
    return f"{os.path.basename(filename)}:{line}"


_GENERATED = re.compile(r"^<sourcegrad .* of (.*):(\d+)>$")
_WRAPPER = re.compile(r"^<sourcegrad call of (\S+) #\d+>$")


def _callee_header(t: Transformed, built) -> str:
    """The comment over a callee's source: the name of the function that follows (``built``'s
    def), what it differentiates and where."""
    kind = {"vjp": "vjp", "jvp": "jvp", "grad": "gradient"}[t.mode]
    name = getattr(t.f, "__qualname__", t.__name__).rpartition(".<locals>.")[2]
    defined = getattr(built, "name", None) or t.__name__
    return f"# {defined}: the {kind} of {name}, {where(t.f)}\n"


# ---------------------------------------------------------------------------- first order
def _is_array_valued(f: Callable, args: tuple) -> bool:
    """Whether ``f`` returns an array (or a tuple) at ``args``, where it runs."""
    try:
        out = f(*args)
    except Exception:  # noqa: BLE001 - the derivative's build says what fails
        return False
    return isinstance(out, tuple) or np.ndim(out) != 0


def show_source(
    f: Callable,
    wrt: int | Sequence[int] = 0,
    *,
    mode: str = "reverse",
    args: Sequence | None = None,
    order: int = 1,
    optimized: bool = False,
    callees: bool = True,
) -> str:
    """What :func:`sourcegrad.show` returns (see there)."""
    if mode not in ("reverse", "forward"):
        raise SourcegradError(f"mode={mode!r} is not available; use 'reverse' or 'forward'")
    if not isinstance(order, int) or order < 1:
        raise SourcegradError(f"order={order!r}: pass a positive integer")
    args = tuple(args) if args else None
    if order > 1:
        if mode == "forward":
            raise SourcegradError(
                "--order above 1 is forward mode over the reverse-mode gradient; leave out "
                "--mode forward"
            )
        return higher_order_source(f, wrt, order, args or ())
    note = ""
    if is_derivative(f) and mode == "reverse":  # a derivative's own derivative: as it runs
        df = grad_of_derivative(f, wrt)
        return df.source(*(args or ()))
    if mode == "forward":
        df = jvp_transform(f, wrt, {})
    elif args is not None and _is_array_valued(f, args):
        df = derivative(f, wrt, "vjp", False, False, {})
        note = (
            f"# {getattr(f, '__name__', 'f')} returns an array, not a scalar: this is its vjp, "
            "the gradient of sum(g_out * output)\n"
        )
    else:
        df = derivative(f, wrt, "grad", False, False, {})
    full = None if args is None else df.bound_self + args
    entry = df.emitted(full, True) if full is not None else df.emitted()
    text = note + entry.pretty(optimized=optimized)
    if not callees:
        return text
    return text + _callees_text(callee_builds(df, args), optimized)


def _callees_text(builds: list, optimized: bool) -> str:
    """Each callee build's source after its header; a build whose source is the same as an
    earlier one's (a helper called at several argument shapes) is shown once, its header
    saying how many calls it serves."""
    shown: dict = {}  # (header, source) -> how many builds have it
    for t, built in builds:
        key = (_callee_header(t, built), built.pretty(optimized=optimized))
        shown[key] = shown.get(key, 0) + 1
    parts = []
    for (header, source), count in shown.items():
        if count > 1:
            header = f"{header[:-1]} (the same code serves its {count} argument shapes)\n"
        parts.append("\n\n" + header + source)
    return "".join(parts)


# ---------------------------------------------------------------------------- higher order
def _level_maps(f: Callable, w: int, order: int, args: tuple) -> list[dict]:
    """The line maps of the levels of the ``order``-th derivative (as
    :func:`_source_of_order` builds them): level ``k``'s lines to the lines
    of level ``k - 1``, level 0's (the gradient) to the user's."""
    levels = tower(f, (), [w] * (order - 1), (w,))
    values = tuple(args) + (args[w],) * (order - 1) if args else None
    return [(entry.pure or entry).line_map for entry in levels.levels(values)[:-1]]


def higher_order_source(f: Callable, wrt: Any, order: int, args: tuple) -> str:
    """The ``order``-th derivative's source, its comments citing the user's ``file:line``
    and line instead of the lines of the generated code it transforms."""
    text = _source_of_order(f, wrt, order, tuple(args))
    w = wrt[0] if isinstance(wrt, (tuple, list)) else wrt
    maps = _level_maps(f, w, order, tuple(args))
    parsed = Transformed(f, (w,), "grad", False, False, {}).parsed()
    name = os.path.basename(parsed.filename)
    out, last = [], None
    for line in text.splitlines():
        found = _COMMENT.match(line)
        if found is None:
            out.append(line)
            if line.rstrip().endswith(":"):  # a block: its first comment is kept
                last = None
            continue
        user = int(found.group(2))
        for line_map in reversed(maps):
            user = line_map.get(user) if user is not None else None
        if user is None or user == last or user == parsed.node.lineno:
            continue
        last = user
        out.append(f"{found.group(1)}# {name}:{user}: {parsed.line_text(user)}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- diff
def diff_source(old_text: str, new_text: str, old_name: str, new_name: str) -> str:
    """A unified diff of two derivatives' source (empty where they are the same)."""
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(lines)


def _source_of_order(f: Callable, wrt: Any, order: int, args: tuple) -> str:
    """The source of the ``order``-th derivative of ``f`` as sourcegrad runs it: forward mode
    applied ``order - 1`` times to the reverse-mode gradient (Hessian-vector products for 2)."""
    w = wrt[0] if isinstance(wrt, (tuple, list)) else wrt
    t = tower(f, (), [w] * (order - 1), (w,))
    if not args:
        return t.source()
    return t.source(*args, seeds=tuple(args[w] for _ in range(order - 1)))
