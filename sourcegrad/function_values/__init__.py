"""Derivatives of function values called inside a differentiated function.

A call whose function is only known when the derivative runs (a nested ``def``, a lambda, a
layer object, a bound method, a derivative sourcegrad made) is differentiated by the
generated code through :func:`vjp_of` / :func:`jvp_of`, which take the function *value*
(:func:`sourcegrad.callables.as_function` says what it stands for). ``wrt`` may name the
object the function is bound to (:data:`~sourcegrad.transform.derive.RECEIVER`): a layer
object holding differentiated arrays, called as ``layer(h)`` or ``layer.forward(h)``.
Importing this module installs the two makers for the passes (:mod:`.transform.derive`);
the rules of ``vjp_of`` and ``jvp_of`` themselves are in :mod:`.own_rules` (the API imports it).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

from ..callables import (
    ForwardOver,
    JvpPlan,
    as_function,
    copy_if_written,
    drop_zero_receiver,
    is_bound_to,
    picked,
    receiver_tangent,
    with_receiver,
    without_receiver,
)
from ..errors import REFUSED_INSIDE, UnsupportedSyntaxError
from ..higher import Jvp, derivative_vjp, is_derivative
from ..higher.kept_tangents import jvp_backward_kept, jvp_forward_kept
from ..kept import backward_kept, forward_kept, forward_kept_of, given_forward_kept
from ..runtime.trees import zero_adjoint
from ..transform import derive
from .builds import Binding, built


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
        """Forward mode over this vjp (a Hessian-vector product through the call), or over
        this jvp (order 3 through a function value restored from a tape)."""
        return _UnboundOverJvp(self, wrt) if self.mode == "jvp" else _UnboundJvp(self, wrt)


class _UnboundOverJvp:
    """``jvp_of`` an :class:`_Unbound` jvp along ``wrt`` (the call's arguments, its ``t_in``
    last): forward mode over the jvp of the function along the positions other than the
    receiver, which, bound to nothing, passes no tangent on."""

    def __init__(self, of: _Unbound, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, (*primal, t) = self.of, args
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        n = len(primal)
        if of.rest == ():  # the jvp along the receiver alone: the value, a zero tangent
            at = tuple(i for i in range(n) if given.get(i) is not None)
            value = of.fn(*primal)
            tangent = (
                jvp_of(of.fn, at[0] if len(at) == 1 else at)(*primal, t_in=_parts(given, at))[1]
                if at
                else zero_adjoint(value)
            )
            return (value, zero_adjoint(value)), (tangent, zero_adjoint(value))
        inner = jvp_of(of.fn, of.rest)
        t = without_receiver(t, of.wrt, of.single)
        if given.get(n) is not None:
            given[n] = without_receiver(given[n], of.wrt, of.single)
        at = tuple(i for i in range(n + 1) if given.get(i) is not None)
        if not at:
            out = inner(*primal, t_in=t)
            return out, zero_adjoint(out)
        return jvp_of(inner, at[0] if len(at) == 1 else at)(*primal, t, t_in=_parts(given, at))


def _parts(given: dict, at: tuple):
    """The tangents ``given`` at the positions ``at``: one, or a tuple of them."""
    return given[at[0]] if len(at) == 1 else tuple(given[i] for i in at)


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

    def plan(self, args: tuple, t_in) -> JvpPlan | None:
        """How this runs for ``args`` and ``t_in`` (:class:`~sourcegrad.callables.JvpPlan`):
        forward mode over the vjp of the function along the positions other than the
        receiver, each part regrouped with None in the receiver's place; None where only the
        receiver varies (no tangent reaches the function)."""
        of, ws, t = self.of, self.wrt, t_in
        if derive.RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != derive.RECEIVER)
        if of.rest == () or not ws:
            return None
        single = len(ws) == 1
        jvp = jvp_of(vjp_of(of.fn, of.rest), ws[0] if single else ws)

        def lift(targs, tt, trecv):  # the receiver, bound to nothing, has no tangent
            return list(targs), picked(tt, self.wrt, self.single, ws, single)

        return JvpPlan(jvp, args, t, lift, of.with_receiver)

    def jvp(self, wrt):
        """Forward mode over this jvp (order 3 through a function value bound to nothing)."""
        return ForwardOver(self, wrt, jvp_of)


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
    reason = getattr(fn, REFUSED_INSIDE, None)
    if reason is not None:  # placed at the user's line that calls it
        raise UnsupportedSyntaxError(reason)
    if not isinstance(fn, types.FunctionType):
        return _Called(fn, wrt, mode)
    if fn.__code__.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return Keywords(fn, wrt, (), mode)  # through its packed form
    return built(fn, wrt, mode)


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


#: why forward mode over some derivatives of function values is refused
_NOT_BUILT = (
    "a derivative of order 4 or more through a layer object or another function value "
    "(forward mode three times over its vjp), or of order 3 along an object that only seems "
    "to vary, is not built; take order 3 or less (sg.hvp for order 2), or call a module-level "
    "function by its name"
)


def jvp_of(fn: Callable, wrt: Any, keywords: tuple = ()) -> Callable:
    """The jvp of a function known only when the derivative runs: a nested ``def``, a lambda,
    or a function made by sourcegrad. Called as ``jvp_of(fn, wrt)(*args, t_in=t)``; the last
    ``len(keywords)`` arguments go by those names (:class:`Keywords`)."""
    if keywords:
        return Keywords(fn, wrt, keywords, "jvp")
    if isinstance(fn, _FORWARD_OVER):
        return fn.jvp(wrt)
    if isinstance(fn, _NOT_FORWARD_OVER):
        raise UnsupportedSyntaxError(_NOT_BUILT)
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
        """Forward mode over this vjp, along its arguments ``wrt`` (the seed last), or over
        this jvp (its ``t_in`` last)."""
        return _KeywordsJvpOverJvp(self, wrt) if self.mode == "jvp" else _KeywordsJvp(self, wrt)


class _KeywordsJvpOverJvp:
    """``jvp_of`` a :class:`Keywords` jvp along ``wrt`` (the call's arguments, then its
    ``t_in``): forward mode over the jvp of the bound function, each tangent lifted to the
    parameters its argument went to as the jvp lifts its own."""

    def __init__(self, of: Keywords, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, (*own, t) = self.of, args
        call = Binding(of.fn, tuple(own), of.keywords)
        given = call.given(of.wrt, (t,) if of.single else tuple(t))
        inner = tuple(dict.fromkeys(j for j, _ in given))
        if not inner:
            raise UnsupportedSyntaxError(_NOT_BUILT)
        jvp = call.derivative(inner, "jvp")
        tangents = call.tangents(inner, given)
        outer_given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = outer_given.pop(len(own), None)
        lifted = call.lifted(call.given(tuple(outer_given), tuple(outer_given.values())), None)
        if tt is not None:
            tgiven = call.given(of.wrt, (tt,) if of.single else tuple(tt))
            lifted[len(call.values)] = call.lifted(tgiven, None, inner)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*call.values, t_in=tangents)
            return out, zero_adjoint(out)
        ts = lifted[at[0]] if len(at) == 1 else tuple(lifted[k] for k in at)
        return jvp_of(jvp, at[0] if len(at) == 1 else at)(*call.values, tangents, t_in=ts)


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

    def jvp(self, wrt):
        """Forward mode over this jvp (order 3 through a call by keyword or through
        ``*args``)."""
        return _KeywordsOverJvp(self, wrt)


class _KeywordsOverJvp:
    """``jvp_of`` a :class:`_KeywordsJvp` along ``wrt`` (the call's arguments, the vjp's seed,
    then the jvp's ``t_in``): forward mode over the jvp of the bound function's vjp, each
    tangent lifted to the parameters its argument went to as the jvp lifts its own, and every
    part of the result regrouped to the call's arguments."""

    def __init__(self, of: _KeywordsJvp, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        kj, of = self.of, self.of.of
        *own, seed, t = args
        m = len(own)  # the seed's position; the jvp's t_in comes after it
        call = Binding(of.fn, tuple(own), of.keywords)
        inner = call.inner(of.wrt)
        given = call.given(kj.wrt, (t,) if kj.single else tuple(t), seed_at=m)
        outer = tuple(dict.fromkeys(j for j, _ in given))
        if not inner or not outer:
            raise UnsupportedSyntaxError(_NOT_BUILT)
        jvp = jvp_of(call.derivative(inner, "vjp"), outer[0] if len(outer) == 1 else outer)
        tangents = call.tangents(outer, given, seed)
        outer_given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = outer_given.pop(m + 1, None)
        lifted = call.lifted(call.given(tuple(outer_given), tuple(outer_given.values()), m), seed)
        if tt is not None:
            tgiven = call.given(kj.wrt, (tt,) if kj.single else tuple(tt), seed_at=m)
            lifted[len(call.values) + 1] = call.lifted(tgiven, seed, outer)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*call.values, seed, t_in=tangents)
            parts = out, zero_adjoint(out)
        else:
            ts = lifted[at[0]] if len(at) == 1 else tuple(lifted[k] for k in at)
            parts = jvp_of(jvp, at[0] if len(at) == 1 else at)(
                *call.values, seed, tangents, t_in=ts
            )
        return tuple(tuple(call.regroup(g, inner, of.wrt, of.single) for g in p) for p in parts)


#: the derivatives of function values that make forward mode over themselves (``.jvp``)
_FORWARD_OVER = (_Called, _OfReceiver, _Unbound, Keywords, _CalledJvp, _OfReceiverJvp, _KeywordsJvp)
_FORWARD_OVER += (_UnboundJvp,)
#: those forward mode over which is refused (:data:`_NOT_BUILT`)
_NOT_FORWARD_OVER = (_UnboundOverJvp, _KeywordsOverJvp, _KeywordsJvpOverJvp, ForwardOver)


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
        copy_if_written=copy_if_written,
        jvp_forward_kept=jvp_forward_kept,
        jvp_backward_kept=jvp_backward_kept,
    )
)
