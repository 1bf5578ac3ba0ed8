"""What a function value called inside a differentiated function stands for.

A call whose function is only known when the derivative runs (``layer(h)`` for a layer taken
from a list, ``self.act(z)`` with ``act`` an attribute, ``f(x)`` for ``f`` in a dict of
functions) is differentiated through :func:`sourcegrad.api.vjp_of` / ``jvp_of``, which take
the function *value*. :func:`as_function` turns that value into a plain Python function
sourcegrad can transform, plus the leading arguments the call supplies:

* a plain function (a ``def``, a lambda, a nested function): itself;
* a bound method (``obj.forward``): its function, with ``obj`` passed first;
* an object with a ``__call__`` method defined in Python: that method, with the object first;
* ``functools.partial`` of any of these: a function that calls it with the bound arguments
  (literals written into its source, other values passed first);
* a function with a derivative rule (a NumPy ufunc such as ``np.tanh``, a function declared
  with ``sourcegrad.primitive``/``defvjp``): a one-line Python function that calls it, so that
  its rule applies.

Anything else (a function from a compiled extension without a rule) is refused with the way
out.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import operator
import threading
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import rules as R
from .errors import NoRuleError, SourcegradError, UnsupportedSyntaxError
from .packing import defined
from .rules import adjoint, d, tangent
from .rules.registry import hashable_key
from .rules.scipy_stats import distribution_name, frozen_way_out, makes_frozen
from .runtime.trees import copied_array, copied_shallow, zero_adjoint
from .transform.derive import RECEIVER
from .transform.in_place import changed_in_place
from .transform.parse import is_installed, parse
from .transform.plain_classes import plain_class_maker
from .transform.rule_binding import is_user_function

_APPLIERS: dict = {}  # (callable, number of arguments) -> a plain function calling it
#: a class -> the ``__call__`` function its instances are called through (a layer's class),
#: used while the class still resolves ``__call__`` to that very function: a class patched
#: since, or another class, never reuses another's
_CLASS_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: a class -> the ``__call__`` its objects are called through (for :func:`copy_if_written`;
#: classes, like code objects, live as long as the program)
_CALLS: dict = {}
#: a function's code -> {position: whether it writes values} of the parameters it changes in place
_WRITES: dict = {}
_LOCK = threading.Lock()
_COUNTER = itertools.count()


def as_function(fn: Any, nargs: int) -> tuple[types.FunctionType, tuple]:
    """``(function, leading)``: a plain Python function and the arguments to put before the
    call's own, so that ``function(*leading, *args)`` is ``fn(*args)``."""
    call = _CLASS_CALLS.get(type(fn))  # a layer object: its class's __call__, found before
    if call is not None and type(fn).__call__ is call:
        return call, (fn,)
    if isinstance(fn, types.FunctionType) and not is_installed(fn):
        return fn, ()
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        if not is_installed(fn.__func__):
            return fn.__func__, (fn.__self__,)
    call = next(
        (k.__dict__["__call__"] for k in type(fn).__mro__ if "__call__" in k.__dict__), None
    )
    if isinstance(call, types.FunctionType) and not is_installed(call):
        _CLASS_CALLS[type(fn)] = call
        return call, (fn,)
    if isinstance(fn, functools.partial):
        return _partial_applier(fn, nargs)
    if R.lookup(fn) is not None or _constructed(fn):
        return _applier(fn, nargs), ()
    if isinstance(fn, (operator.itemgetter, operator.attrgetter)):
        raise NoRuleError(
            f"{_described(fn)} is called with a differentiated argument and has no derivative "
            'rule; index the container itself (`params["W"]`) or read the attribute '
            "(`layer.W`) where you call it"
        )
    frozen = type(getattr(fn, "__self__", None)).__name__.endswith("_frozen")
    if frozen or makes_frozen(fn):  # scipy.stats: a frozen distribution's method, or making one
        dist = distribution_name(fn.__self__ if frozen else fn)
        what = f"scipy.stats.{dist}(...)" + (f".{fn.__name__}" if frozen else "")
        raise NoRuleError(
            f"`{what}` makes or reads a frozen scipy.stats distribution, which has no "
            f"derivative rule; {frozen_way_out(dist)}"
        )
    raise NoRuleError(
        f"{_described(fn)} is called with a differentiated argument, but it is not a Python "
        "function and has no derivative rule; register one with sourcegrad.defvjp (and "
        "defjvp), or call a Python function that computes it with NumPy"
    )


def _described(fn: Any) -> str:
    """``fn`` as a message names it: ``dict.setdefault``, ``math.gamma``, ``a np.vectorize
    object`` (never a repr with an address)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(fn, (types.BuiltinFunctionType, types.MethodType, types.FunctionType)):
        if owner is not None and not isinstance(owner, types.ModuleType):
            return f"the method `{type(owner).__name__}.{fn.__name__}`"
        module = fn.__module__ or ""
        where = "" if module in ("", "builtins") else module.replace("numpy", "np") + "."
        return f"`{where}{fn.__qualname__}`"
    if isinstance(fn, np.ufunc):
        return f"the ufunc `{fn.__name__}`"
    return f"a `{type(fn).__module__.replace('numpy', 'np')}.{type(fn).__qualname__}` object"


def _constructed(fn) -> bool:
    """Whether ``fn`` is a class whose call sourcegrad differentiates where the class is
    named (``Made(W, b)``: a dataclass, a namedtuple, a plain class whose ``__init__`` stores
    fields): a classmethod's ``cls(W, b)``."""
    return isinstance(fn, type) and (
        dataclasses.is_dataclass(fn)
        or (issubclass(fn, tuple) and hasattr(fn, "_fields"))
        or plain_class_maker(fn) is not None
    )


def _is_literal(v) -> bool:
    """Whether ``repr(v)`` is source for ``v`` (written into an applier's text)."""
    if type(v) is tuple:
        return all(_is_literal(x) for x in v)
    if type(v) is float:
        return v == v and v not in (float("inf"), -float("inf"))
    return type(v) in (bool, int, str, type(None))


def _partial_applier(fn: functools.partial, nargs: int) -> tuple[types.FunctionType, tuple]:
    """``(apply, leading)`` with ``apply(*leading, *args)`` calling ``fn.func`` with the
    arguments ``fn`` binds, then ``args``: literal bound values are written into ``apply``'s
    source (so that rules see constants), other values are its leading parameters."""
    as_function(fn.func, len(fn.args) + nargs)  # refuses a function it cannot differentiate
    leading, params, pos, kws = [], [], [], []
    for v in fn.args:
        if _is_literal(v):
            pos.append(repr(v))
        else:
            params.append(f"b{len(leading)}")
            pos.append(params[-1])
            leading.append(v)
    for k, v in fn.keywords.items():
        if _is_literal(v):
            kws.append(f"{k}={v!r}")
        else:
            params.append(f"b{len(leading)}")
            kws.append(f"{k}={params[-1]}")
            leading.append(v)
    own = [f"a{i}" for i in range(nargs)]
    name = getattr(fn.func, "__name__", "fn")
    name = name if name.isidentifier() else "fn"
    signature = ", ".join(params + own)
    call = ", ".join(pos + own + kws)
    text = f"def apply_{name}({signature}):\n    return {name}({call})\n"
    return compiled_applier(("partial", fn.func, text), name, fn.func, text), tuple(leading)


def compiled_applier(key, name: str, fn, text: str):
    """The function ``apply_<name>`` defined by ``text`` (with ``name`` standing for ``fn``),
    made once per ``key``."""
    key = tuple(hashable_key(k) for k in key)
    with _LOCK:
        found = _APPLIERS.get(key)
        if found is None:
            label = f"<sourcegrad call of {name}"
            found = _APPLIERS[key] = defined(text, f"apply_{name}", {name: fn}, label)
        return found


def _applier(fn, nargs: int):
    """A plain function ``apply(a0, ..., an)`` that returns ``fn(a0, ..., an)``, with source
    that sourcegrad can read (kept in ``linecache`` under a name of its own)."""
    params = ", ".join(f"a{i}" for i in range(nargs))
    name = getattr(fn, "__name__", "fn")
    name = name if name.isidentifier() else "fn"
    text = f"def apply_{name}({params}):\n    return {name}({params})\n"
    return compiled_applier((fn, nargs), name, fn, text)


# ---------------------------------------------------------------- the object a value is bound to
def with_receiver(grads, count: int, wrt: tuple, single: bool):
    """``grads`` (one part, or a tuple of ``count``) for the positions of ``wrt`` other than
    the receiver, with None (a zero) in the receiver's place; one part for a ``single`` wrt."""
    parts = list(grads) if count > 1 else [grads]
    full = tuple(None if i == RECEIVER else parts.pop(0) for i in wrt)
    return full[0] if single else full


def receiver_tangent(t_in, wrt, single):
    """The receiver's part of the tangents ``t_in`` along ``wrt``."""
    if RECEIVER not in wrt:
        return ()
    return t_in if single else t_in[wrt.index(RECEIVER)]


def drop_zero_receiver(wrt, t_in, single):
    """``(wrt, t_in, single)`` without the receiver where its tangent is None: an object
    that only seems to vary (restored from a tape that holds varying values) contributes
    nothing, and need not be a container sourcegrad differentiates."""
    if RECEIVER not in wrt or receiver_tangent(t_in, wrt, single) is not None:
        return wrt, t_in, single
    t_in = None if single else without_receiver(t_in, wrt, single)
    wrt = tuple(i for i in wrt if i != RECEIVER)
    return wrt, t_in, len(wrt) == 1


def without_receiver(t_in, wrt, single):
    if single:
        return None
    kept = tuple(t for i, t in zip(wrt, t_in) if i != RECEIVER)
    return kept if len(kept) > 1 else kept[0]


def is_bound_to(fn, leading: tuple) -> bool:
    """Whether ``leading`` (from :func:`as_function`) is the one object ``fn`` is bound to."""
    return len(leading) == 1 and (isinstance(fn, types.MethodType) or leading[0] is fn)


@dataclass
class JvpPlan:
    """How forward mode over a function value's vjp runs for one call: ``jvp(*args,
    t_in=t)`` is what it returns. ``lift(targs, tt, trecv)`` gives the tangents of ``args``
    (a list, None for a constant) and of ``t`` from the tangents of the call's own arguments
    ``targs``, of its ``t_in`` (``tt``) and of the object it is bound to (``trecv``): the
    call's arguments go to ``args`` as they are, and ``t`` is picked from ``t_in``.
    ``regroup``, where given, puts each part of what the jvp returns in the places the call
    returns it (a receiver bound to nothing: None in its place)."""

    jvp: Any
    args: tuple
    t: Any
    lift: Callable
    regroup: Callable | None = None


def picked(t, wrt: tuple, single: bool, kept: tuple, kept_single: bool):
    """The parts of the tangents ``t`` along ``wrt`` (one part for a ``single`` wrt) at the
    positions ``kept``, as one part for ``kept_single``; None for None."""
    if t is None:
        return None
    by = dict(zip((wrt,) if single else wrt, (t,) if single else tuple(t)))
    parts = tuple(by[i] for i in kept)
    return parts[0] if kept_single else parts


class ForwardOver:
    """Forward mode along ``wrt`` over ``of``, forward mode over a function value's vjp
    (order 3 through a layer object or a bound method): ``of.plan`` says which derivative
    ``of`` runs on which arguments (:class:`JvpPlan`), and forward mode over that one
    (``jvp_of``, sourcegrad's, given by the caller) runs with the tangents lifted to it. The
    call's last argument is ``of``'s ``t_in``; ``wrt`` may hold the receiver."""

    def __init__(self, of, wrt, jvp_of: Callable):
        self.of, self.jvp_of = of, jvp_of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        xargs, xt = args[:-1], args[-1]
        plan = self.of.plan(xargs, xt)
        if plan is None:
            raise NoRuleError(
                "a derivative of order 3 through a layer object along an object that only "
                "seems to vary is not built; take order 2 (sg.hvp)"
            )
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        n = len(xargs)
        targs = [given.get(i) for i in range(n)]
        tjargs, tjt = plan.lift(targs, given.get(n), given.get(RECEIVER))
        tangents = (*tjargs, tjt)
        at = tuple(k for k, t in enumerate(tangents) if t is not None)
        if not at:
            out = plan.jvp(*plan.args, t_in=plan.t)
            parts = out, zero_adjoint(out)
        else:
            ts = tangents[at[0]] if len(at) == 1 else tuple(tangents[k] for k in at)
            jvp = self.jvp_of(plan.jvp, at[0] if len(at) == 1 else at)
            parts = jvp(*plan.args, plan.t, t_in=ts)
        if plan.regroup is None:
            return parts
        return tuple(tuple(plan.regroup(g) for g in p) for p in parts)


def copy_if_written(
    fn: Any, i: int, x: Any, differentiated: bool = False, read_after: bool = False
) -> Any:
    """``x``, the ``i``-th positional argument of a call of the function value ``fn`` (a layer
    taken from a list, known only when the derivative runs), copied where ``fn``'s source
    changes that parameter in place (``a -= m``, ``a[k] = v``, ``acc.append(v)``): an array
    it writes into; a list or dict it changes too where ``differentiated`` (one level). The
    derivative's adjoint still reads ``x`` as it was before the call, as for a helper's call
    (:mod:`~sourcegrad.transform.in_place`); anything else is ``x`` itself. Where the caller
    reads ``x`` after the call (``read_after``), such a write is refused: Python would show
    ``x`` changed, the derivative follows values."""
    t = type(fn)
    if t is types.FunctionType:
        func, skip = fn, 0
    elif t is types.MethodType:
        func, skip = fn.__func__, 1
    else:  # an object: its class's __call__, found once per class (while it stays the same)
        func, skip = _CALLS.get(t), 1
        if func is None or t.__call__ is not func:
            func = _CALLS[t] = inspect.getattr_static(t, "__call__", None)
    code = getattr(func, "__code__", None)
    if code is None:
        return x
    writes = _WRITES.get(code)
    if writes is None:
        writes = _WRITES[code] = written_positions(func)
    values = writes.get(i + skip)
    if values is None:
        return x
    if read_after and (values or differentiated):
        name = getattr(func, "__qualname__", "the called function")
        raise UnsupportedSyntaxError(
            f"{name}() writes into its argument {i} in place{_write_site(func, i + skip)}, "
            f"and the caller reads that argument after the call (or was given it by its own caller, whose object Python "
            f"changes too): sourcegrad follows values, not changes made in place; "
            f"make {name}() return the new value and assign it (`x = layer(x)`)"
        )
    return copied_shallow(x) if differentiated else copied_array(x) if values else x


def _write_site(func, position: int) -> str:
    """`` (`a -= m`, file:line)``: the first write of ``func`` into its parameter at
    ``position``, for a refusal; nothing where its source is not read."""
    try:
        parsed = parse(func)
    except SourcegradError:
        return ""
    node = parsed.node
    names = [a.id for a in node.args.posonlyargs + node.args.args]
    lines = [
        line
        for param, line, _ in changed_in_place(node.body, set(names))
        if names.index(param) == position and line is not None
    ]
    if not lines:
        return ""
    text = parsed.line_text(min(lines))
    return f" (`{text}`, {parsed.filename}:{min(lines)})"


def written_positions(func) -> dict:
    """``{position: writes values}`` of the positional parameters ``func`` changes in place
    (:func:`~sourcegrad.transform.in_place.changed_in_place`); empty where its source is not
    the user's or cannot be read."""
    if not (isinstance(func, types.FunctionType) and is_user_function(func)):
        return {}
    try:
        node = parse(func).node
    except SourcegradError:
        return {}
    names = [a.id for a in node.args.posonlyargs + node.args.args]
    out: dict = {}
    for param, _, values in changed_in_place(node.body, set(names)):
        out[names.index(param)] = out.get(names.index(param), False) or values
    return out


# generated code calling `copy_if_written` is differentiated again (a Hessian-vector product):
# its value is its argument's
@adjoint(copy_if_written)
def _copy_if_written(z, fn, i, x, differentiated=False, read_after=False):
    d[x] += d[z]


@tangent(copy_if_written)
def _copy_if_written_tangent(z, fn, i, x, differentiated=False, read_after=False):
    d[z] += d[x]
