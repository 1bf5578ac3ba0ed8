"""Calls of a derivative checked against the function it differentiates.

A derivative takes the arguments of ``f`` (then, for a vjp or jvp, a seed). A call that
does not fit ``f`` is refused with the message Python gives calling ``f`` so (an
:class:`~sourcegrad.errors.ArgumentError`), a seed that does not fit its value with a
:class:`~sourcegrad.errors.SeedError`; :func:`full_args` and :func:`split_args` convert
between a call and the one tuple of values, in ``f``'s parameter order, that derivatives are
built for.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .errors import ArgumentError, SeedError, WrtTypeError
from .runtime.containers import children, is_container
from .runtime.records import is_static_leaf


def quoted(names: Iterable[str]) -> str:
    """Names as Python's argument errors list them: 'a', 'a' and 'b', 'a', 'b', and 'c'."""
    q = [f"'{n}'" for n in names]
    if len(q) <= 2:
        return " and ".join(q)
    return ", ".join(q[:-1]) + ", and " + q[-1]


def call_problem(f: Callable, nargs: int, kwnames: tuple = ()) -> str | None:
    """The message of the ``TypeError`` Python raises calling ``f`` with ``nargs`` positional
    arguments and the keywords ``kwnames``; None where that call binds."""
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    argcount, posonly, kwonly = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    varargs, varkw = code.co_flags & 0x04, code.co_flags & 0x08
    names = code.co_varnames
    pos_names, kw_names = names[:argcount], names[argcount : argcount + kwonly]
    defaults = f.__defaults__ or ()
    kwdefaults = f.__kwdefaults__ or {}
    q = getattr(f, "__qualname__", getattr(f, "__name__", "f"))
    given = set(pos_names[: min(nargs, argcount)])
    kwonly_given = 0
    for k in kwnames:
        if k in pos_names[posonly:] or k in kw_names:
            if k in given:
                return f"{q}() got multiple values for argument '{k}'"
            given.add(k)
            kwonly_given += k in kw_names
        elif not varkw:
            if k in pos_names[:posonly]:
                return (
                    f"{q}() got some positional-only arguments passed as keyword arguments: "
                    f"'{k}'"
                )
            return f"{q}() got an unexpected keyword argument '{k}'"
    if nargs > argcount and not varargs:
        if defaults:
            sig, plural = f"from {argcount - len(defaults)} to {argcount}", "s"
        else:
            sig, plural = str(argcount), "s" if argcount != 1 else ""
        extra = ""
        if kwonly_given:
            extra = (
                f" positional argument{'s' if nargs != 1 else ''} (and {kwonly_given} "
                f"keyword-only argument{'s' if kwonly_given != 1 else ''})"
            )
        was = "was" if nargs == 1 and not kwonly_given else "were"
        return f"{q}() takes {sig} positional argument{plural} but {nargs}{extra} {was} given"
    for kind, wanted in (
        ("positional", pos_names[: argcount - len(defaults)]),
        ("keyword-only", [n for n in kw_names if n not in kwdefaults]),
    ):
        missing = [n for n in wanted if n not in given]
        if missing:
            s = "s" if len(missing) != 1 else ""
            return f"{q}() missing {len(missing)} required {kind} argument{s}: {quoted(missing)}"
    return None


def arity_problem(f: Callable, n: int, checked: bool) -> str | None:
    """The message of the ``TypeError`` Python raises calling ``f`` with ``n`` positional
    arguments (``checked``: False for a call from generated code, which passes keyword-only
    values after the positional ones, see :func:`split_args`); None where that call binds."""
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    argcount, kwonly = code.co_argcount, code.co_kwonlyargcount
    most = argcount if checked else argcount + kwonly
    if argcount - len(f.__defaults__ or ()) <= n and (n <= most or code.co_flags & 0x04):
        if not kwonly or not checked:
            return None
        names = code.co_varnames[argcount : argcount + kwonly]
        if all(name in (f.__kwdefaults__ or {}) for name in names):
            return None
    return call_problem(f, n)


def tangent_tuple(name: str, n: int, wrt_tuple: bool, t_in: Any) -> tuple:
    """The tangents of the jvp ``name`` along ``n`` arguments given as ``t_in`` (a tuple of
    them with ``wrt_tuple``), one per argument; refused where they are not."""
    if wrt_tuple and not isinstance(t_in, (tuple, list)):
        raise ArgumentError(
            f"{name}() needs a tuple of {n} tangents, one per wrt argument, got a "
            f"{type(t_in).__name__}"
        )
    ts = tuple(t_in) if wrt_tuple else (t_in,)
    if len(ts) != n:
        raise ArgumentError(f"{name}() needs one tangent per wrt argument ({n}), got {len(ts)}")
    return ts


def check_call(
    f: Callable,
    args: tuple,
    kwargs: dict,
    wrt: Any,
    who: str,
    seed: str | None = None,
    bound: tuple = (),
) -> None:
    """Refuse a call ``who(*args, **kwargs)`` of a derivative of ``f`` (a function, or a bound
    method) whose arguments do not fit ``f`` as Python would, or where ``wrt`` names none of
    them. With ``seed`` (what it is called), the last of ``args`` is a tangent for
    ``args[wrt]``: checked to have its shape and structure. ``bound``: arguments put first."""
    name = getattr(f, "__name__", "f")
    then = f", then {seed}" if seed else ""
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        f, bound = f.__func__, bound + (f.__self__,)
        wrt = wrt + 1 if isinstance(wrt, int) and wrt >= 0 else wrt
    if seed is not None and not args:
        raise ArgumentError(
            f"{who}() got no arguments ({who} takes the arguments of {name}(){then})"
        )
    primal = bound + tuple(args[:-1] if seed is not None else args)
    code = getattr(f, "__code__", None)
    n = len(primal)
    if code is not None and (
        kwargs
        or code.co_kwonlyargcount
        or not code.co_argcount - len(f.__defaults__ or ()) <= n <= code.co_argcount
    ):
        problem = call_problem(f, n, tuple(kwargs))
        if problem is not None:
            raise ArgumentError(f"{problem} ({who} takes the arguments of {name}(){then})")
    for i in wrt if isinstance(wrt, (tuple, list)) else (wrt,):
        if not isinstance(i, int) or isinstance(i, bool) or not -n <= i < n:
            k = n - len(bound)
            raise WrtTypeError(
                f"wrt={i!r} does not name an argument of {name}(): {who} was given {k} "
                f"argument{'s' if k != 1 else ''} for it (wrt counts positions among them)"
            )
    if seed is None:
        return
    if isinstance(wrt, int):
        _check_tangent(primal, wrt, args[-1], code, who)
        return
    v = args[-1]
    if not isinstance(v, (tuple, list)) or len(v) != len(wrt):
        raise SeedError(
            f"{who}(): wrt={tuple(wrt)!r} names {len(wrt)} arguments, so {seed} is a tuple of "
            f"{len(wrt)} directions, one shaped like each of them; got "
            + (f"{len(v)}" if isinstance(v, (tuple, list)) else f"a {type(v).__name__}")
        )
    for i, t in zip(wrt, v):
        _check_tangent(primal, i, t, code, who)


def _check_tangent(primal: tuple, i: int, t: Any, code: Any, who: str) -> None:
    """Refuse a tangent ``t`` not shaped like the argument ``primal[i]`` it goes with."""
    x = primal[i]
    if (
        type(x) is np.ndarray
        and type(t) is np.ndarray
        and x.shape == t.shape
        and (t.dtype.kind != "c" or x.dtype.kind == "c")
    ):
        return
    names = getattr(code, "co_varnames", ())
    what = names[i] if -len(names) <= i < len(names) else f"argument {i}"
    problem = seed_problem(x, t, what, exact=True)
    if problem is not None:
        raise SeedError(f"{who}(): {problem}")


def refuse_complex(who: str, x: Any, t: Any, kind: str, what: str) -> None:
    """Refuse the seed ``t`` (``kind``: tangent, output gradient) for the real value ``x``
    (named ``what``: an array or a number; nothing is asked of other values) where ``t`` is
    complex: its imaginary part would be dropped."""
    real = isinstance(x, (float, int)) or getattr(getattr(x, "dtype", None), "kind", "c") != "c"
    if is_complex(t) and real:
        raise SeedError(f"{who}(): {_complex_problem(kind, what)}")


def is_complex(t: Any) -> bool:
    """Whether ``t`` is a complex number or an array (a NumPy scalar) of complex dtype."""
    dtype = getattr(t, "dtype", None)
    return isinstance(t, complex) or getattr(dtype, "kind", None) == "c"


def _complex_problem(kind: str, what: str) -> str:
    return (
        f"the {kind} of {what} is complex, but {what} is real (its imaginary part would be "
        f"dropped); the derivative is linear in it: call it with the real part and with "
        f"the imaginary part, and combine the results as a + 1j * b"
    )


def seed_problem(x: Any, t: Any, what: str, exact: bool) -> str | None:
    """Why ``t`` is no output gradient (``exact=False``: broadcasting against ``x`` will do)
    or no tangent (``exact=True``: ``x``'s shape) for the value ``x``; None where it is one.
    ``what`` names ``x`` in the message."""
    if x is None or is_static_leaf(x):
        return None  # not differentiated (a record's settings too): what stands for it is ignored
    if t is None:
        return f"{what} has no {'tangent' if exact else 'output gradient'} (None)"
    if is_container(x):
        if not is_container(t):
            return (
                f"{what} is a {type(x).__name__}; pass one of the same structure, not a "
                f"{type(t).__name__}"
            )
        xs, ts = dict(children(x)), dict(children(t))
        if set(xs) != set(ts):
            which = "keys" if isinstance(x, dict) else "items"
            return (
                f"{what} has {which} {sorted(xs, key=repr)}, but the one passed for it has "
                f"{sorted(ts, key=repr)}"
            )
        for k, v in xs.items():
            problem = seed_problem(v, ts[k], f"{what}[{k!r}]", exact)
            if problem is not None:
                return problem
        return None
    if is_container(t):
        return f"{what} is not a container; pass an array or float for it, not a {type(t).__name__}"
    if not (hasattr(t, "shape") or isinstance(t, (int, float, complex, np.number))):
        return f"{what} needs an array or float, not a {type(t).__name__}"
    if np.iscomplexobj(t) and not np.iscomplexobj(x):
        return _complex_problem("tangent" if exact else "output gradient", what)
    xshape, tshape = np.shape(x), np.shape(t)
    if xshape == tshape:
        return None
    if exact:
        return f"the tangent of {what} has shape {tshape}; pass an array of shape {xshape}"
    try:
        np.broadcast_shapes(xshape, tshape)
    except ValueError:
        return (
            f"the output gradient has shape {tshape}, which does not broadcast against the "
            f"shape {xshape} of {what}; pass an array of shape {xshape}"
        )
    return None


def full_args(f: Callable, args: tuple, kwargs: dict) -> tuple:
    """The arguments of the call ``f(*args, **kwargs)`` as one tuple in the order of ``f``'s
    parameters: every positional parameter (defaults filled in), then every keyword-only one.
    This is how a derivative takes its example arguments (``core.params``' order);
    :func:`split_args` turns it back into a call. ``args`` may hold keyword-only values
    already, after the positional ones, in that order (as generated code passes them)."""
    args, given = split_args(f, tuple(args))
    sig = inspect.signature(f, follow_wrapped=False)
    bound = sig.bind(*args, **given, **kwargs)
    bound.apply_defaults()
    kwonly = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
    return tuple(bound.args) + tuple(bound.arguments[name] for name in kwonly)


def split_args(f: Callable, args: tuple) -> tuple[tuple, dict]:
    """``(positional, keyword-only)``: ``args`` (in ``f``'s parameter order, as
    :func:`full_args` makes them) as a call of ``f`` or of a derivative with ``f``'s
    parameters; the values after ``f``'s positional parameters go by keyword."""
    code = getattr(f, "__code__", None)
    if code is None or len(args) <= code.co_argcount or code.co_flags & 0x04:  # CO_VARARGS
        return args, {}
    n = code.co_argcount
    names = code.co_varnames[n : n + code.co_kwonlyargcount]
    return args[:n], dict(zip(names, args[n:]))


def nonzero_tangents(wrt: tuple, primal, t) -> tuple | None:
    """``(positions, tangents)``: the ``wrt`` positions of the arguments ``primal`` whose
    tangents in ``t`` may be nonzero and those tangents, where some but not all of ``t`` are
    zeros seen only when the code runs (None, or ``zero_tangent``'s 0.0 for an integer: an
    integer array taken from a tape); else None."""
    kept = [(i, ti) for i, ti in zip(wrt, t) if not _zero_of_integer(primal[i], ti)]
    return tuple(zip(*kept)) if 0 < len(kept) < len(wrt) else None


_FLOAT = np.dtype(float)


def _zero_of_integer(x, t) -> bool:
    integer = isinstance(x, (int, np.integer)) or getattr(x, "dtype", _FLOAT).kind in "biu"
    return t is None or (integer and isinstance(t, float) and t == 0.0)


def with_defaults(f: Callable, args: tuple, kwargs: dict | None = None) -> tuple:
    """``args`` with the defaults of the positional parameters of ``f`` they leave out: the
    levels of a tower take their values by position, the seeds after the arguments. Where
    ``f`` has keyword-only parameters (or ``kwargs`` are given) every parameter gets a value,
    keyword-only ones last (:func:`~sourcegrad.arguments.full_args`): the seeds follow them."""
    code, defaults = getattr(f, "__code__", None), getattr(f, "__defaults__", None)
    if kwargs or getattr(code, "co_kwonlyargcount", 0):
        return full_args(f, args, kwargs or {})
    if code is None or not defaults or len(args) >= code.co_argcount:
        return args
    first = code.co_argcount - len(defaults)
    if len(args) < first:
        return args  # a required argument is missing: the call says so
    return args + tuple(defaults[len(args) - first :])
