"""The derivatives of functions the passes meet inside a user's function.

A call to one of the user's own functions (or to a function value known only when the
derivative runs) is differentiated through that function's own derivative. Building one is
the job of the layer above the passes (``sourcegrad.api``), so the passes ask for it through
this module instead of importing upward: the layer that builds derivatives installs its
makers here when it is imported (:func:`install`), and the generated code calls the makers
it was handed.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gast

from . import syntax as S


@dataclass(frozen=True)
class Makers:
    """``vjp_of(fn, wrt)`` and ``jvp_of(fn, wrt)`` return a derivative of ``fn`` called as
    ``(*args, g_out=...)`` / ``(*args, t_in=...)``; ``is_derivative(obj)`` says whether
    ``obj`` was made by sourcegrad (differentiated through its generated source).

    The running code keeps a called function's forward sweep for its adjoint through
    ``forward_kept(vjp, *args)`` / ``forward_kept_of(fn, wrt, *args)`` (each ``(value,
    kept)``) and ``backward_kept(kept, g_out=...)`` (what the vjp returns);
    ``given_forward_kept(vjp, *args)`` where the caller gives the output gradient it will
    pass away (the adjoint half may compute in its memory). ``copy_if_written(fn, i, x,
    differentiated)`` is ``x``, copied where the function value ``fn`` changes its ``i``-th
    argument in place (the call's adjoint reads it as it was). Forward mode over a gradient
    keeps a call's forward for the jvp of its vjp alike: ``jvp_forward_kept(jvp, vjp, wrt,
    *args, t_in=...)`` (``(value, tangent, kept)``) and ``jvp_backward_kept(kept, g_out,
    t_in=...)`` (what the jvp of the vjp returns)."""

    vjp_of: Callable[[Callable, Any], Callable]
    jvp_of: Callable[[Callable, Any], Callable]
    is_derivative: Callable[[Any], bool]
    forward_kept: Callable[..., tuple]
    forward_kept_of: Callable[..., tuple]
    backward_kept: Callable[..., Any]
    given_forward_kept: Callable[..., tuple]
    copy_if_written: Callable[..., Any]
    jvp_forward_kept: Callable[..., tuple]
    jvp_backward_kept: Callable[..., tuple]


#: a position in the ``wrt`` of ``vjp_of``/``jvp_of``: the object the called function is
#: bound to (a method's ``self``, an object with ``__call__``), differentiated as an argument
RECEIVER = "self"

_installed: list[Makers] = []


def install(makers: Makers) -> None:
    """Make ``makers`` the ones every pass uses from now on."""
    _installed[:] = [makers]


def makers() -> Makers:
    """The installed makers (importing any part of ``sourcegrad`` imports the package, whose
    ``higher`` module installs them)."""
    if not _installed:  # importing sourcegrad.higher installs them
        raise RuntimeError("sourcegrad.higher was not imported: no derivative makers installed")
    return _installed[0]


#: whether running code keeps a callee's forward sweep for its adjoint (off while a module is
#: exported: an export writes each callee's vjp whole)
_KEEP_FORWARD: contextvars.ContextVar[bool] = contextvars.ContextVar("keep_forward", default=True)


def keeping_forward() -> bool:
    """Whether builds made now keep callees' forward sweeps (see :func:`whole_vjps`)."""
    return _KEEP_FORWARD.get()


#: whether builds made now keep every value exact (off while a derivative made with
#: ``exact=False`` is built: the callees' derivatives it makes may round differently too)
_EXACT: contextvars.ContextVar[bool] = contextvars.ContextVar("exact", default=True)


def exact_values() -> bool:
    """Whether derivatives made now keep values exact (see :func:`rounding_allowed`)."""
    return _EXACT.get()


@contextlib.contextmanager
def rounding_allowed(allowed: bool = True) -> Iterator[None]:
    """Derivatives made inside (with ``allowed``) are made with ``exact=False``: the callees
    of a derivative built with that option."""
    token = _EXACT.set(not allowed and _EXACT.get())
    try:
        yield
    finally:
        _EXACT.reset(token)


@contextlib.contextmanager
def whole_vjps() -> Iterator[None]:
    """Builds made inside call each callee's vjp whole (its forward again in the adjoint);
    derivatives made for callees inside carry the option ``keep_forward=False``, so these
    builds are kept apart from the others."""
    token = _KEEP_FORWARD.set(False)
    try:
        yield
    finally:
        _KEEP_FORWARD.reset(token)


def call_arguments(sig, given) -> tuple:
    """``(positional, keywords, defaults)``: the arguments (``a0``, ``a1``, ...) a rule passes
    on to a user function's derivative, for the parameters ``given``, by position wherever
    they can be, which forward mode over the derivative (Hessian-vector products) needs: a
    left-out default written out, as a literal (a plain number or string) or a name of
    ``defaults`` (``{name: the default object}``, ``act=np.tanh`` read as ``tanh``)."""
    call_args, call_kwargs, defaults, gap = [], [], {}, False
    for i, name in enumerate(sig.parameters):
        if name not in given:
            default = sig.parameters[name].default
            if gap:
                continue
            if type(default) in (bool, int, float, str, type(None)):
                gap = default != default  # NaN: no literal for it
                call_args += [] if gap else [S.const(default)]
                continue
            ref = getattr(default, "__name__", None)
            if not (isinstance(ref, str) and ref.isidentifier()) or ref in defaults:
                ref = f"default_{name}"
            defaults[ref] = default
            call_args.append(S.name(ref))
            continue
        if gap:
            call_kwargs.append(gast.keyword(arg=name, value=S.name(f"a{i}")))
        else:
            call_args.append(S.name(f"a{i}"))
    return call_args, call_kwargs, defaults
