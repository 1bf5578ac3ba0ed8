"""Derivatives of function values called inside a differentiated function.

A call whose function is only known when the derivative runs (a nested ``def``, a lambda, a
layer object, a bound method, a derivative sourcegrad made) is differentiated by the
generated code through :func:`vjp_of` / :func:`jvp_of`, which take the function *value*
(:func:`sourcegrad.callables.as_function` says what it stands for). ``wrt`` may name the
object the function is bound to (:data:`~sourcegrad.transform.derive.RECEIVER`): a layer
object holding differentiated arrays, called as ``layer(h)`` or ``layer.forward(h)``.
Importing this module installs the two makers for the passes (:mod:`.transform.derive`).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from typing import Any

from .callables import (
    ForwardOver,
    JvpPlan,
    as_function,
    compiled_applier,
    drop_zero_receiver,
    is_bound_to,
    picked,
    receiver_tangent,
    with_receiver,
    without_receiver,
)
from .derivative import derivative
from .errors import UnsupportedSyntaxError
from .higher import Jvp, derivative_vjp, is_derivative
from .kept import backward_kept, forward_kept, forward_kept_of, given_forward_kept
from .rules import adjoint, d, tangent
from .runtime.trees import zero_adjoint
from .transform import derive
from .transform.environment import environment
from .transform.parse import call_plan, packed


def vjp_of(fn: Callable, wrt: Any, keywords: tuple = ()) -> Callable:
    """The vjp of a function object made at run time (a nested ``def`` or a lambda).

    Functions with the same code share one transform; each call runs it with the closure of
    the function object it is given, so every instance sees its own captured variables.
    ``wrt`` may hold :data:`~sourcegrad.transform.derive.RECEIVER`: the object ``fn`` is
    bound to (a method's ``self``, a callable object), differentiated too. The last
    ``len(keywords)`` arguments of the call go by those names (:class:`Keywords`).
    """
    if keywords:
        return Keywords(fn, wrt, keywords, "vjp")
    if _has_receiver(wrt):
        return _Unbound(fn, wrt, "vjp") if _bound_to_nothing(fn) else _OfReceiver(fn, wrt, "vjp")
    if is_derivative(fn):
        return derivative_vjp(fn, wrt)
    return _dynamic(fn, wrt, "vjp")


def _bound_to_nothing(fn) -> bool:
    """A plain function, a derivative sourcegrad made, or a built-in method (``name.
    startswith``, ``params.index(p)``: the methods that return a differentiated container's
    items are refused when the derivative is built): nothing it is bound to is
    differentiated through it (a function value restored from a tape varies with the tape,
    but holds nothing)."""
    return isinstance(
        fn, (types.FunctionType, types.BuiltinMethodType, types.MethodWrapperType)
    ) or is_derivative(fn)


class _Unbound:
    """``vjp_of``/``jvp_of`` of a function bound to nothing, with a receiver in ``wrt``: the
    derivative along the other positions, a zero (None) in the receiver's place."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt
        rest = tuple(i for i in self.wrt if i != derive.RECEIVER)
        self.rest = rest[0] if len(rest) == 1 else rest

    def __call__(self, *args, g_out=None, t_in=None):
        if self.mode == "jvp":
            if self.rest == ():
                value = self.fn(*args)
                return value, zero_adjoint(value)
            t = without_receiver(t_in, self.wrt, self.single)
            return jvp_of(self.fn, self.rest)(*args, t_in=t)
        if self.rest == ():
            return None if self.single else (None,) * len(self.wrt)
        return self.with_receiver(vjp_of(self.fn, self.rest)(*args, g_out=g_out))

    def with_receiver(self, grads):
        """The parts ``grads`` of :attr:`rest` with None (a zero) in the receiver's place."""
        count = len(self.rest) if isinstance(self.rest, tuple) else 1
        return with_receiver(grads, count, self.wrt, self.single)

    def jvp(self, wrt):
        """Forward mode over this vjp (a Hessian-vector product through the call)."""
        return _UnboundJvp(self, wrt)


class _UnboundJvp:
    """``jvp_of`` an :class:`_Unbound` vjp along the call's arguments ``wrt`` (the seed
    last); its receiver, bound to nothing, has no tangent to pass on."""

    def __init__(self, of: _Unbound, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, ws, t = self.of, self.wrt, t_in
        if derive.RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != derive.RECEIVER)
        if of.rest == ():
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        inner = vjp_of(of.fn, of.rest)
        if not ws:  # along the receiver alone: no tangent
            grads = inner(*args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        else:
            grads, tangent = jvp_of(inner, ws[0] if len(ws) == 1 else ws)(*args, t_in=t)
        return of.with_receiver(grads), of.with_receiver(tangent)


def _has_receiver(wrt) -> bool:
    return wrt == derive.RECEIVER or (isinstance(wrt, tuple) and derive.RECEIVER in wrt)


class _OfReceiver:
    """The vjp or jvp of ``fn(*args)`` with respect to some of ``args`` and to the object
    ``fn`` is bound to (its receiver): the derivative of the plain function behind ``fn``
    with the receiver as its first argument. Where ``fn`` is bound to no object (a function
    stored in a field of a differentiated object, ``self.act = np.tanh``), the receiver's
    part is zero: None."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def _plan(self, nargs, drop: bool = False):
        function, leading = as_function(self.fn, nargs)
        bound = is_bound_to(self.fn, leading) and not drop
        n = len(leading)
        inner = tuple(
            0 if i == derive.RECEIVER else i + n for i in self.wrt if bound or i != derive.RECEIVER
        )
        return function, leading, bound, inner

    def __call__(self, *args, g_out=None, t_in=None):
        zero = self.mode == "jvp" and receiver_tangent(t_in, self.wrt, self.single) is None
        function, leading, bound, inner = self._plan(len(args), drop=zero)
        if self.mode == "jvp" and not bound:  # the receiver's tangent goes nowhere
            t_in = without_receiver(t_in, self.wrt, self.single)
        if not inner:  # only the receiver, bound to nothing: no derivative
            if self.mode == "jvp":
                value = function(*leading, *args)
                return value, zero_adjoint(value)
            return None if self.single else (None,) * len(self.wrt)
        d = _dynamic(function, inner if len(inner) > 1 else inner[0], self.mode)
        if self.mode == "jvp":
            return d(*leading, *args, t_in=t_in)
        grads = d(*leading, *args, g_out=g_out)
        return grads if bound else self.with_receiver(grads, len(inner))

    def with_receiver(self, grads, count: int):
        """The ``count`` parts ``grads`` of the arguments in ``wrt``, with None (a zero) in
        the receiver's place."""
        return with_receiver(grads, count, self.wrt, self.single)

    def jvp(self, wrt):
        """Forward mode over this vjp (a Hessian-vector product through the call)."""
        return _OfReceiverJvp(self, wrt)


class _OfReceiverJvp:
    """``jvp_of`` an :class:`_OfReceiver` vjp, along the call's arguments ``wrt`` (the seed
    last), the receiver included where ``wrt`` holds it."""

    def __init__(self, of: _OfReceiver, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def plan(self, args: tuple, t_in) -> JvpPlan | None:
        """How this runs for ``args`` and ``t_in`` (:class:`~sourcegrad.callables.JvpPlan`):
        forward mode over the vjp of the function behind the object, the object first;
        None where no tangent reaches it (a receiver that only seems to vary)."""
        of = self.of
        function, leading, bound, inner = of._plan(len(args) - 1)
        if not bound:
            return None
        ws, t, single = drop_zero_receiver(self.wrt, t_in, self.single)
        if not ws:
            return None
        n = len(leading)
        outer = tuple(0 if i == derive.RECEIVER else i + n for i in ws)
        vjp = _dynamic(function, inner if len(inner) > 1 else inner[0], of.mode)
        jvp = jvp_of(vjp, outer[0] if single else outer)

        def lift(targs, tt, trecv):
            return [trecv] + list(targs), picked(tt, self.wrt, self.single, ws, single)

        return JvpPlan(jvp, (*leading, *args), t, lift)

    def jvp(self, wrt):
        """Forward mode over this jvp (order 3 and up through a layer object)."""
        return ForwardOver(self, wrt, jvp_of)

    def __call__(self, *args, t_in=None):
        of = self.of
        function, leading, bound, inner = of._plan(len(args) - 1)  # the seed comes last
        if bound:
            ws, t_in, single = drop_zero_receiver(self.wrt, t_in, self.single)
            if not ws:  # along a receiver that only seems to vary: no tangent
                value = of(*args[:-1], g_out=args[-1])
                return value, zero_adjoint(value)
            n = len(leading)
            outer = tuple(0 if i == derive.RECEIVER else i + n for i in ws)
            vjp = _dynamic(function, inner if len(inner) > 1 else inner[0], of.mode)
            return jvp_of(vjp, outer[0] if single else outer)(*leading, *args, t_in=t_in)
        # bound to nothing: the receiver's parts are zero, in the vjp and in its tangent
        if not inner:
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        outer = tuple(i + len(leading) for i in self.wrt if i != derive.RECEIVER)
        vjp = _dynamic(function, inner if len(inner) > 1 else inner[0], of.mode)
        if outer:
            t = without_receiver(t_in, self.wrt, self.single)
            grads, tangent = jvp_of(vjp, outer if len(outer) > 1 else outer[0])(
                *leading, *args, t_in=t
            )
        else:  # only the receiver varies, and it is bound to nothing
            grads = vjp(*leading, *args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        return of.with_receiver(grads, len(inner)), of.with_receiver(tangent, len(inner))


def _dynamic(fn, wrt, mode):
    if not isinstance(fn, types.FunctionType):
        return _Called(fn, wrt, mode)
    if fn.__code__.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return Keywords(fn, wrt, (), mode)  # through its packed form
    # functions with the same code (and what their transformation reads) share the builds,
    # each run with its own closure (sourcegrad.derivative.derivative); the derivative of one
    # function object is made once while what it reads stays the same (a layer called every
    # step looked it up, 20 us, at every call)
    keeping, exact = derive.keeping_forward(), derive.exact_values()
    env = environment(fn)
    key = (fn, wrt, mode, keeping, exact, *map(id, env))
    found = _MADE.get(key)
    if found is not None:
        return found[1]
    options = {"internal": True} if keeping else _WHOLE
    if not exact:  # a callee of a derivative made with exact=False
        options = dict(options, exact=False)
    made = derivative(fn, wrt, mode, False, mode == "jvp", options)
    if len(_MADE) >= MADE_LIMIT:  # the oldest first (dicts keep insertion order)
        _MADE.pop(next(iter(_MADE)), None)
    _MADE[key] = (env, made)  # env kept alive with it: the ids in the key stay its own
    return made


#: (function, wrt, mode, keeping forward sweeps, exact, ids of what it reads) -> (what it reads,
#: its derivative), for the MADE_LIMIT function values made last
_MADE: dict = {}
MADE_LIMIT = 256


#: the options of a callee's derivative made for an export (see derive.whole_vjps)
_WHOLE = {"internal": True, "keep_forward": False}


class _Called:
    """The vjp or jvp of a function value that is not a plain function (a bound method, an
    object with ``__call__``, a NumPy function with a rule): the plain function behind it
    (:func:`sourcegrad.callables.as_function`) with its leading arguments, looked up when the
    derivative calls it."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.wrt, self.mode = fn, wrt, mode

    def __call__(self, *args, g_out=None, t_in=None):
        t, leading = self.as_derivative(len(args))
        if self.mode == "jvp":
            return t(*leading, *args, t_in=t_in)
        return t(*leading, *args, g_out=g_out)

    def as_derivative(self, nargs: int) -> tuple:
        """``(derivative, leading)``: the derivative of the plain function behind the call
        of ``nargs`` arguments, called with ``leading`` before them."""
        function, leading = as_function(self.fn, nargs)
        n = len(leading)
        wrt = tuple(i + n for i in self.wrt) if isinstance(self.wrt, tuple) else self.wrt + n
        return _dynamic(function, wrt, self.mode), leading

    def jvp(self, wrt):
        """Forward mode over this derivative, along its arguments ``wrt`` (positions among
        the call's arguments, the seed last)."""
        return _CalledJvp(self, wrt)


class _CalledJvp:
    """``jvp_of`` a :class:`_Called`: the jvp of the derivative of the plain function behind
    it, with the leading arguments put first."""

    def __init__(self, called: _Called, wrt):
        self.called, self.wrt = called, wrt

    def plan(self, args: tuple, t_in) -> JvpPlan | None:
        """How this runs for ``args`` and ``t_in`` (:class:`~sourcegrad.callables.JvpPlan`):
        forward mode over the derivative of the plain function behind the value, its leading
        arguments first; None where no tangent reaches it."""
        c = self.called
        function, leading = as_function(c.fn, len(args) - 1)  # the seed comes last
        n = len(leading)
        single = not isinstance(self.wrt, tuple)
        ws = (self.wrt,) if single else self.wrt
        bound = is_bound_to(c.fn, leading)
        if derive.RECEIVER in ws and bound:
            ws, t, single = drop_zero_receiver(ws, t_in, single)
        elif derive.RECEIVER in ws:
            t = without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != derive.RECEIVER)
            single = len(ws) == 1
        else:
            t = t_in
        if not ws:
            return None
        inner = tuple(i + n for i in c.wrt) if isinstance(c.wrt, tuple) else c.wrt + n
        wrt = tuple(0 if i == derive.RECEIVER else i + n for i in ws)
        jvp = jvp_of(_dynamic(function, inner, c.mode), wrt[0] if single else wrt)
        whole = not isinstance(self.wrt, tuple)

        def lift(targs, tt, trecv):
            head = [trecv if bound else None] + [None] * (n - 1) if n else []
            return head + list(targs), picked(tt, self.wrt, whole, ws, single)

        return JvpPlan(jvp, (*leading, *args), t, lift)

    def jvp(self, wrt):
        """Forward mode over this jvp (order 3 and up through a NumPy function taken from a
        container, or a method of an object held constant)."""
        return ForwardOver(self, wrt, jvp_of)

    def __call__(self, *args, t_in=None):
        plan = self.plan(args, t_in)
        if plan is None:  # along a receiver that holds nothing: no tangent
            value = self.called(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        return plan.jvp(*plan.args, t_in=plan.t)


def jvp_of(fn: Callable, wrt: Any, keywords: tuple = ()) -> Callable:
    """The jvp of a function known only when the derivative runs: a nested ``def``, a lambda,
    or a function made by sourcegrad. Called as ``jvp_of(fn, wrt)(*args, t_in=t)``; the last
    ``len(keywords)`` arguments go by those names (:class:`Keywords`)."""
    if keywords:
        return Keywords(fn, wrt, keywords, "jvp")
    if isinstance(fn, (_Called, _OfReceiver, _Unbound, Keywords, _CalledJvp, _OfReceiverJvp)):
        return fn.jvp(wrt)
    if isinstance(fn, (_UnboundJvp, _KeywordsJvp, ForwardOver)):
        raise UnsupportedSyntaxError(
            "a derivative of order 3 or more through a call with keyword arguments or "
            "*args, a function value bound to nothing in a differentiated position, or of "
            "order 4 or more through a layer object (forward mode over forward mode over its "
            "vjp) is not built; take order 2 (sg.hvp), pass the arguments by position to a "
            "function with named parameters, or call a module-level function by its name"
        )
    if _has_receiver(wrt):
        return _Unbound(fn, wrt, "jvp") if _bound_to_nothing(fn) else _OfReceiver(fn, wrt, "jvp")
    if is_derivative(fn):
        return Jvp(fn, wrt)
    return _dynamic(fn, wrt, "jvp")


class Keywords:
    """The vjp or jvp of a call of a function value with keyword arguments, or of one taking
    ``**kwargs``: ``fn(*args[:n], **dict(zip(keywords, args[n:])))``. Each call binds the
    arguments to the parameters of the function behind ``fn`` as Python does
    (:class:`Binding`: defaults filled in, keyword-only parameters, ``*args`` and ``**kwargs``
    packed into one tuple and one dict) and differentiates that function called with every
    parameter by position; the gradients (tangents) go back to the call's own arguments."""

    def __init__(self, fn, wrt, keywords, mode):
        self.fn, self.keywords, self.mode = fn, tuple(keywords), mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, g_out=None, t_in=None):
        call = Binding(self.fn, args, self.keywords)
        if self.mode == "jvp":  # along the parameters given a tangent (a receiver's may be None)
            given = call.given(self.wrt, (t_in,) if self.single else tuple(t_in))
            inner = tuple(dict.fromkeys(j for j, _ in given))
            if not inner:  # along a receiver bound to nothing (or holding nothing)
                value = call.value()
                return value, zero_adjoint(value)
            t = call.derivative(inner, "jvp")
            return t(*call.values, t_in=call.tangents(inner, given))
        inner = call.inner(self.wrt)
        if not inner:  # along a receiver bound to nothing: no derivative
            return None if self.single else (None,) * len(self.wrt)
        grads = call.derivative(inner, "vjp")(*call.values, g_out=g_out)
        return call.regroup(grads, inner, self.wrt, self.single)

    def jvp(self, wrt):
        """Forward mode over this vjp, along its arguments ``wrt`` (the seed last)."""
        return _KeywordsJvp(self, wrt)


class _KeywordsJvp:
    """``jvp_of`` a :class:`Keywords` vjp: the jvp of the bound function's vjp, along the
    parameters the call's arguments ``wrt`` went to (the seed last), regrouped the same way."""

    def __init__(self, of: Keywords, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, seed = self.of, args[-1]
        call = Binding(of.fn, args[:-1], of.keywords)
        inner = call.inner(of.wrt)
        if not inner:
            value = of(*args[:-1], g_out=seed)
            return value, value
        vjp = call.derivative(inner, "vjp")
        ts = (t_in,) if self.single else tuple(t_in)
        given = call.given(self.wrt, ts, seed_at=len(args) - 1)
        outer = tuple(dict.fromkeys(j for j, _ in given))
        if not outer:  # only a receiver that holds nothing varies
            grads = vjp(*call.values, g_out=seed)
            tangent = zero_adjoint(grads)
        else:
            tangents = call.tangents(outer, given, seed)
            jvp = jvp_of(vjp, outer[0] if len(outer) == 1 else outer)
            grads, tangent = jvp(*call.values, seed, t_in=tangents)
        regroup = call.regroup
        return regroup(grads, inner, of.wrt, of.single), regroup(tangent, inner, of.wrt, of.single)


class Binding:
    """The call ``fn(*args[:n], **dict(zip(keywords, args[n:])))`` bound to the parameters of
    the plain function behind ``fn`` (:func:`~sourcegrad.callables.as_function`, through any
    ``functools.partial``) as Python binds it, defaults filled in. ``target`` is that function
    (its :func:`~sourcegrad.transform.parse.packed` form where it takes ``*args`` or
    ``**kwargs``, or a function with a rule called by keyword through an applier) and
    ``values`` its arguments, one per parameter, keyword-only ones last: ``target(*values)``
    as a derivative takes it is the call. Raises Python's TypeError where the call does not
    bind (the call itself raised it first, in the forward sweep)."""

    def __init__(self, fn, args: tuple, keywords: tuple):
        if is_derivative(fn):
            raise UnsupportedSyntaxError(
                f"{getattr(fn, '__name__', 'a derivative')}() is a derivative sourcegrad made, "
                "called with keyword arguments on a differentiated value; pass its arguments "
                "by position"
            )
        n = len(args) - len(keywords)
        self.fn, self.args, self.n, self.keywords = fn, tuple(args), n, keywords
        pos, kw, lead = self.args[:n], dict(zip(keywords, self.args[n:])), ()
        inner = fn
        while isinstance(inner, functools.partial):  # its bound arguments come first
            lead, kw, inner = inner.args + lead, {**inner.keywords, **kw}, inner.func
        function, leading = as_function(inner, len(lead) + n)
        self.receiver = (0, None) if is_bound_to(fn, leading) else None
        self.head, self.names = len(leading) + len(lead) + n, tuple(kw)
        flat = (*leading, *lead, *pos, *kw.values())
        if function is not inner and not leading:  # a function with a rule: an applier
            self.target, self.values = keyword_applier(inner, self.head, self.names), flat
            self.places = tuple((k, None) for k in range(len(flat)))
            return
        plan = call_plan(function, self.head, self.names)
        self.values, self.places = plan.values(function, flat), plan.places
        self.target = packed(function) if plan.packs else function

    def where(self, i):
        """``(parameter, item)``: where the call's argument ``i`` went (``item`` its position
        in the packed ``*args`` tuple or its key in the packed ``**kwargs`` dict, else None);
        None for a receiver bound to nothing."""
        if i == derive.RECEIVER:
            return self.receiver
        if i < self.n:
            return self.places[self.head - self.n + i]
        return self.places[self.head + self.names.index(self.keywords[i - self.n])]

    def inner(self, wrt: tuple) -> tuple:
        """The parameters the arguments ``wrt`` went to, each once, in order."""
        found = (self.where(i) for i in wrt)
        return tuple(dict.fromkeys(loc[0] for loc in found if loc is not None))

    def derivative(self, inner: tuple, mode: str):
        """The ``mode`` derivative of :attr:`target` along the parameters ``inner``."""
        return _dynamic(self.target, inner[0] if len(inner) == 1 else inner, mode)

    def value(self):
        """What the call returns."""
        return self.fn(*self.args[: self.n], **dict(zip(self.keywords, self.args[self.n :])))

    def regroup(self, parts, inner: tuple, wrt: tuple, single: bool):
        """The parts (gradients) of the parameters ``inner`` as the call's arguments ``wrt``'s;
        None (a zero) for a receiver bound to nothing."""
        by = dict(zip(inner, (parts,) if len(inner) == 1 else parts))
        out = []
        for i in wrt:
            loc = self.where(i)
            part = None if loc is None else by[loc[0]]
            out.append(part if loc is None or loc[1] is None else part[loc[1]])
        return out[0] if single else tuple(out)

    def given(self, wrt: tuple, tangents: tuple, seed_at: int = -1) -> dict:
        """``{(parameter, item): tangent}`` of the call's arguments ``wrt`` (the argument
        ``seed_at`` is a vjp's seed, after every parameter); a receiver's tangent is left out
        where it is bound to nothing or None (an object that only seems to vary)."""
        out = {}
        for i, t in zip(wrt, tangents):
            loc = (len(self.values), None) if i == seed_at else self.where(i)
            if loc is not None and not (i == derive.RECEIVER and t is None):
                out[loc] = t
        return out

    def tangents(self, params: tuple, given: dict, seed=None):
        """The tangents of the parameters ``params`` (of the vjp's seed, after them): those
        ``given``, a packed tuple's or dict's completed with zeros for its constant items."""
        values = (*self.values, seed)
        out = []
        for j in params:
            v = values[j]
            if (j, None) in given:
                out.append(given[(j, None)])
            elif isinstance(v, dict):
                out.append({k: given.get((j, k), zero_adjoint(x)) for k, x in v.items()})
            else:
                out.append(tuple(given.get((j, k), zero_adjoint(x)) for k, x in enumerate(v)))
        return out[0] if len(out) == 1 else tuple(out)


def keyword_applier(fn, npos: int, keywords: tuple) -> types.FunctionType:
    """A plain function ``apply(a0, ..., an)`` that returns ``fn(a0, ..., k=an)``: its first
    ``npos`` parameters passed by position, the others by the names ``keywords``; with
    source sourcegrad reads (kept in ``linecache``), so that ``fn``'s rule binds them."""
    name = getattr(fn, "__name__", "fn")
    name = name if name.isidentifier() else "fn"
    params = [f"a{i}" for i in range(npos + len(keywords))]
    passed = params[:npos] + [f"{k}={a}" for k, a in zip(keywords, params[npos:])]
    text = f"def apply_{name}({', '.join(params)}):\n    return {name}({', '.join(passed)})\n"
    return compiled_applier(("keywords", fn, npos, keywords), name, fn, text)


# the passes differentiate calls of function values through these (they never import upward)
derive.install(
    derive.Makers(
        vjp_of=vjp_of,
        jvp_of=jvp_of,
        is_derivative=is_derivative,
        forward_kept=forward_kept,
        forward_kept_of=forward_kept_of,
        backward_kept=backward_kept,
        given_forward_kept=given_forward_kept,
    )
)


# A derivative that calls `vjp_of(layer, "self")` is itself differentiated (a Hessian-vector
# product) with the layer object varying: the derivative function made holds the layer, so
# its tangent is the layer's, read by `jvp_of` of it as its receiver's.
@adjoint(vjp_of)
def _vjp_of(z, fn, wrt, keywords=()):
    d[fn] += d[z]


@tangent(vjp_of)
def _vjp_of_tangent(z, fn, wrt, keywords=()):
    d[z] += d[fn]


@adjoint(jvp_of)
def _jvp_of(z, fn, wrt, keywords=()):
    d[fn] += d[z]


@tangent(jvp_of)
def _jvp_of_tangent(z, fn, wrt, keywords=()):
    d[z] += d[fn]
