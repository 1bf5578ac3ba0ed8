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

import inspect
import types
from collections.abc import Callable
from typing import Any

from .callables import as_function
from .derivative import derivative
from .errors import UnsupportedSyntaxError
from .higher import Jvp, derivative_vjp, is_derivative
from .kept import backward_kept, forward_kept, forward_kept_of
from .rules import adjoint, d, tangent
from .runtime.trees import zero_adjoint
from .transform import derive
from .transform.parse import packed


def vjp_of(fn: Callable, wrt: Any) -> Callable:
    """The vjp of a function object made at run time (a nested ``def`` or a lambda).

    Functions with the same code share one transform; each call runs it with the closure of
    the function object it is given, so every instance sees its own captured variables.
    ``wrt`` may hold :data:`~sourcegrad.transform.derive.RECEIVER`: the object ``fn`` is
    bound to (a method's ``self``, a callable object), differentiated too.
    """
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
            t = _without_receiver(t_in, self.wrt, self.single)
            return jvp_of(self.fn, self.rest)(*args, t_in=t)
        if self.rest == ():
            return None if self.single else (None,) * len(self.wrt)
        return self.with_receiver(vjp_of(self.fn, self.rest)(*args, g_out=g_out))

    def with_receiver(self, grads):
        """The parts ``grads`` of :attr:`rest` with None (a zero) in the receiver's place."""
        count = len(self.rest) if isinstance(self.rest, tuple) else 1
        return _with_receiver(grads, count, self.wrt, self.single)

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
            t = None if self.single else _without_receiver(t, ws, self.single)
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
        bound = _bound(self.fn, leading) and not drop
        n = len(leading)
        inner = tuple(
            0 if i == derive.RECEIVER else i + n for i in self.wrt if bound or i != derive.RECEIVER
        )
        return function, leading, bound, inner

    def __call__(self, *args, g_out=None, t_in=None):
        zero = self.mode == "jvp" and _receiver_tangent(t_in, self.wrt, self.single) is None
        function, leading, bound, inner = self._plan(len(args), drop=zero)
        if self.mode == "jvp" and not bound:  # the receiver's tangent goes nowhere
            t_in = _without_receiver(t_in, self.wrt, self.single)
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
        return _with_receiver(grads, count, self.wrt, self.single)

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

    def __call__(self, *args, t_in=None):
        of = self.of
        function, leading, bound, inner = of._plan(len(args) - 1)  # the seed comes last
        if bound:
            ws, t_in, single = _drop_zero_receiver(self.wrt, t_in, self.single)
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
            t = _without_receiver(t_in, self.wrt, self.single)
            grads, tangent = jvp_of(vjp, outer if len(outer) > 1 else outer[0])(
                *leading, *args, t_in=t
            )
        else:  # only the receiver varies, and it is bound to nothing
            grads = vjp(*leading, *args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        return of.with_receiver(grads, len(inner)), of.with_receiver(tangent, len(inner))


def _with_receiver(grads, count: int, wrt: tuple, single: bool):
    """``grads`` (one part, or a tuple of ``count``) for the positions of ``wrt`` other than
    the receiver, with None (a zero) in the receiver's place; one part for a ``single`` wrt."""
    parts = list(grads) if count > 1 else [grads]
    full = tuple(None if i == derive.RECEIVER else parts.pop(0) for i in wrt)
    return full[0] if single else full


def _receiver_tangent(t_in, wrt, single):
    """The receiver's part of the tangents ``t_in`` along ``wrt``."""
    if derive.RECEIVER not in wrt:
        return ()
    return t_in if single else t_in[wrt.index(derive.RECEIVER)]


def _drop_zero_receiver(wrt, t_in, single):
    """``(wrt, t_in, single)`` without the receiver where its tangent is None: an object
    that only seems to vary (restored from a tape that holds varying values) contributes
    nothing, and need not be a container sourcegrad differentiates."""
    if derive.RECEIVER not in wrt or _receiver_tangent(t_in, wrt, single) is not None:
        return wrt, t_in, single
    t_in = None if single else _without_receiver(t_in, wrt, single)
    wrt = tuple(i for i in wrt if i != derive.RECEIVER)
    return wrt, t_in, len(wrt) == 1


def _without_receiver(t_in, wrt, single):
    if single:
        return None
    kept = tuple(t for i, t in zip(wrt, t_in) if i != derive.RECEIVER)
    return kept if len(kept) > 1 else kept[0]


def _dynamic(fn, wrt, mode):
    if not isinstance(fn, types.FunctionType):
        return _Called(fn, wrt, mode)
    if fn.__code__.co_flags & inspect.CO_VARKEYWORDS:
        raise UnsupportedSyntaxError(
            f"{fn.__name__}() takes **kwargs and is made while the derivative runs (a nested "
            "def or lambda); sourcegrad differentiates calls of such a function only when it "
            "is defined at module level: move it there, or give every argument a name"
        )
    if fn.__code__.co_flags & inspect.CO_VARARGS:
        return _Packed(fn, wrt, mode)
    # functions with the same code (and what their transformation reads) share the builds,
    # each run with its own closure (sourcegrad.derivative.derivative)
    options = {"internal": True} if derive.keeping_forward() else _WHOLE
    return derivative(fn, wrt, mode, False, mode == "jvp", options)


#: the options of a callee's derivative made for an export (see derive.whole_vjps)
_WHOLE = {"internal": True, "keep_forward": False}


class _Packed:
    """The vjp or jvp of a function value taking ``*args``: the derivative of its
    :func:`~sourcegrad.transform.parse.packed` form, the arguments past the named ones passed
    as one tuple; the tuple's gradient (tangent) goes back to the positions it packs."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt
        self.named = fn.__code__.co_argcount

    def inner(self, nargs: int) -> tuple:
        """The positions of the packed form's arguments ``wrt`` names (the tuple's once)."""
        last = min(nargs, self.named)
        return tuple(dict.fromkeys(min(i, last) for i in self.wrt))

    def regroup(self, parts, inner: tuple, nargs: int):
        """The packed form's parts for ``inner`` as this derivative's for ``wrt``."""
        by = dict(zip(inner, (parts,) if len(inner) == 1 else parts))
        last = min(nargs, self.named)
        out = tuple(by[i] if i < last else by[last][i - last] for i in self.wrt)
        return out[0] if self.single else out

    def derivative(self, inner: tuple, mode: str):
        return _dynamic(packed(self.fn), inner if len(inner) > 1 else inner[0], mode)

    def __call__(self, *args, g_out=None, t_in=None):
        n = min(len(args), self.named)
        head, rest, inner = args[:n], tuple(args[n:]), self.inner(len(args))
        t = self.derivative(inner, self.mode)
        if self.mode == "vjp":
            return self.regroup(t(*head, rest, g_out=g_out), inner, len(args))
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tangents = tuple(packed_tangent(given, rest, n) if i == n else given[i] for i in inner)
        return t(*head, rest, t_in=tangents[0] if len(inner) == 1 else tangents)

    def jvp(self, wrt):
        """Forward mode over this vjp, along its arguments ``wrt`` (the seed last)."""
        return _PackedJvp(self, wrt)


class _PackedJvp:
    """``jvp_of`` a :class:`_Packed` vjp: the jvp of the packed form's vjp, its arguments and
    tangents packed the same way, its value and tangent regrouped."""

    def __init__(self, of: _Packed, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, nargs = self.of, len(args) - 1  # the seed last
        n = min(nargs, of.named)
        head, rest, seed = args[:n], tuple(args[n:nargs]), args[-1]
        inner = of.inner(nargs)
        vjp = of.derivative(inner, "vjp")
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        outer = tuple(dict.fromkeys(i if i < n else (n + 1 if i == nargs else n) for i in self.wrt))
        tangents = tuple(
            packed_tangent(given, rest, n) if j == n else given[nargs if j == n + 1 else j]
            for j in outer
        )
        t = jvp_of(vjp, outer[0] if len(outer) == 1 else outer)
        value, tangent = t(*head, rest, seed, t_in=tangents[0] if len(outer) == 1 else tangents)
        return of.regroup(value, inner, nargs), of.regroup(tangent, inner, nargs)


def packed_tangent(given: dict, rest: tuple, first: int) -> tuple:
    """The tangent of the packed tuple ``rest`` (its items at positions ``first`` on): the
    tangents ``given`` by position, zeros for the others."""
    return tuple(given.get(i, zero_adjoint(a)) for i, a in enumerate(rest, first))


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

    def __call__(self, *args, t_in=None):
        c = self.called
        function, leading = as_function(c.fn, len(args) - 1)  # the seed comes last
        n = len(leading)
        inner = tuple(i + n for i in c.wrt) if isinstance(c.wrt, tuple) else c.wrt + n
        single = not isinstance(self.wrt, tuple)
        ws = (self.wrt,) if single else self.wrt
        if derive.RECEIVER in ws and _bound(c.fn, leading):
            ws, t_in, single = _drop_zero_receiver(ws, t_in, single)
        elif derive.RECEIVER in ws:
            # a function value restored from a tape varies with it, but holds nothing
            t_in = _without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != derive.RECEIVER)
            single = len(ws) == 1
        if not ws:
            value = c(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        wrt = tuple(0 if i == derive.RECEIVER else i + n for i in ws)
        wrt = wrt[0] if single else wrt
        return jvp_of(_dynamic(function, inner, c.mode), wrt)(*leading, *args, t_in=t_in)


def _bound(fn, leading: tuple) -> bool:
    """Whether ``leading`` (from :func:`as_function`) is the one object ``fn`` is bound to."""
    return len(leading) == 1 and (isinstance(fn, types.MethodType) or leading[0] is fn)


def jvp_of(fn: Callable, wrt: Any) -> Callable:
    """The jvp of a function known only when the derivative runs: a nested ``def``, a lambda,
    or a function made by sourcegrad. Called as ``jvp_of(fn, wrt)(*args, t_in=t)``."""
    if isinstance(fn, (_Called, _OfReceiver, _Unbound, _Packed)):
        return fn.jvp(wrt)
    if _has_receiver(wrt):
        return _Unbound(fn, wrt, "jvp") if _bound_to_nothing(fn) else _OfReceiver(fn, wrt, "jvp")
    if is_derivative(fn):
        return Jvp(fn, wrt)
    return _dynamic(fn, wrt, "jvp")


# the passes differentiate calls of function values through these (they never import upward)
derive.install(
    derive.Makers(
        vjp_of=vjp_of,
        jvp_of=jvp_of,
        is_derivative=is_derivative,
        forward_kept=forward_kept,
        forward_kept_of=forward_kept_of,
        backward_kept=backward_kept,
    )
)


# A derivative that calls `vjp_of(layer, "self")` is itself differentiated (a Hessian-vector
# product) with the layer object varying: the derivative function made holds the layer, so
# its tangent is the layer's, read by `jvp_of` of it as its receiver's.
@adjoint(vjp_of)
def _vjp_of(z, fn, wrt):
    d[fn] += d[z]


@tangent(vjp_of)
def _vjp_of_tangent(z, fn, wrt):
    d[z] += d[fn]


@adjoint(jvp_of)
def _jvp_of(z, fn, wrt):
    d[fn] += d[z]


@tangent(jvp_of)
def _jvp_of_tangent(z, fn, wrt):
    d[z] += d[fn]
