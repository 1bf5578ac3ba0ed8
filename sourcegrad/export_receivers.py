"""The part of an export's own ``vjp_of`` / ``jvp_of`` (:data:`~sourcegrad.export_runtime.
RUNTIME`) that differentiates an object a function value is bound to (``"self"`` in ``wrt``:
a layer object, a bound method), and forward mode over those derivatives (order 3:
``ForwardOver``), as :mod:`sourcegrad.function_values` does in process; and the export's
``copy_if_written`` (:func:`sourcegrad.callables.copy_if_written`), which reads the export's
table ``WRITTEN`` of what each function value's function changes in place.
"""

from __future__ import annotations

__all__ = ["RECEIVERS"]

#: source, the end of RUNTIME: it reads the names the part before it defines
RECEIVERS = '''

class Narrowed:
    """Forward mode along wrt over a helper's derivative fn where some tangents are zeros
    seen only when it runs (None; 0.0 for an integer): forward mode along the others, as
    sourcegrad's Jvp narrows it."""

    def __init__(self, fn, wrt):
        self.fn, self.wrt = fn, wrt

    def __call__(self, *args, t_in):
        kept = [(i, t) for i, t in zip(self.wrt, t_in) if not zero_of_integer(args[i], t)]
        found = None
        if 0 < len(kept) < len(self.wrt):
            wrt, t_in = (tuple(k) for k in zip(*kept))
            found = DERIVATIVE_JVPS.get((self.fn, wrt))
        if found is None:
            raise TypeError(
                f"forward mode along {self.wrt!r} over {self.fn!r}: one this module was not "
                "exported for"
            )
        return found(*args, t_in=t_in)

    def jvp(self, wrt):
        return NarrowedOver(self, wrt)


class NarrowedOver:
    """Forward mode along wrt (the call's arguments, its t_in last) over a Narrowed jvp: over
    the forward mode it runs, the tangent of its t_in narrowed alike."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in):
        of, (*primal, t) = self.of, args
        kept = [k for k, i in enumerate(of.wrt) if not zero_of_integer(primal[i], t[k])]
        inner = DERIVATIVE_JVPS.get((of.fn, tuple(of.wrt[k] for k in kept)))
        if inner is None or not 0 < len(kept) < len(of.wrt):
            raise TypeError(f"forward mode over {of.fn!r}: one this module was not exported for")
        ts = list((t_in,) if self.single else t_in)
        for j, i in enumerate(self.wrt):
            if i == len(primal) and ts[j] is not None:
                ts[j] = tuple(ts[j][k] for k in kept)
        t_in = ts[0] if self.single else tuple(ts)
        narrowed = tuple(t[k] for k in kept)
        return jvp_of(inner, self.wrt[0] if self.single else self.wrt)(
            *primal, narrowed, t_in=t_in
        )


def zero_of_integer(x, t):
    integer = isinstance(x, (int, np.integer)) or getattr(x, "dtype", np.dtype(float)).kind in "biu"
    return t is None or (integer and isinstance(t, float) and t == 0.0)


def picked(t, wrt, single, kept, kept_single):
    """The parts of the tangents t along wrt at the positions kept; None for None."""
    if t is None:
        return None
    by = dict(zip((wrt,) if single else wrt, (t,) if single else tuple(t)))
    parts = tuple(by[i] for i in kept)
    return parts[0] if kept_single else parts


class ForwardOver:
    """Forward mode along wrt over of, forward mode over a function value's vjp (order 3):
    forward mode over the derivative of runs (of.plan), with the tangents lifted to it."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        plan = self.of.plan(args[:-1], args[-1])
        if plan is None:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp, jargs, jt, lift, *regroup = plan
        given = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        n = len(args) - 1
        tjargs, tjt = lift([given.get(i) for i in range(n)], given.get(n), given.get(RECEIVER))
        tangents = (*tjargs, tjt)
        at = tuple(k for k, t in enumerate(tangents) if t is not None)
        if not at:
            out = jvp(*jargs, t_in=jt)
            parts = out, zero_adjoint(out)
        else:
            ts = tangents[at[0]] if len(at) == 1 else tuple(tangents[k] for k in at)
            parts = jvp_of(jvp, at[0] if len(at) == 1 else at)(*jargs, jt, t_in=ts)
        if not regroup:
            return parts
        return tuple(tuple(regroup[0](g) for g in p) for p in parts)


class OfReceiver:
    """The derivative of a call of an object (or of its bound method), the object itself
    differentiated: the function behind it with the object first."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def plan(self, drop=False):
        function, leading = plain_function(self.fn)
        bound = is_bound(self.fn, leading) and not drop
        n = len(leading)
        inner = tuple(0 if i == RECEIVER else i + n for i in self.wrt if bound or i != RECEIVER)
        return function, leading, bound, inner

    def __call__(self, *args, g_out=None, t_in=None):
        zero = self.mode == "jvp" and receiver_tangent(t_in, self.wrt, self.single) is None
        function, leading, bound, inner = self.plan(drop=zero)
        if self.mode == "jvp" and not bound:
            t_in = without_receiver(t_in, self.wrt, self.single)
        if not inner:
            if self.mode == "jvp":
                value = function(*leading, *args)
                return value, zero_adjoint(value)
            return None if self.single else (None,) * len(self.wrt)
        d = dynamic(function, inner if len(inner) > 1 else inner[0], self.mode)
        if self.mode == "jvp":
            return d(*leading, *args, t_in=t_in)
        grads = d(*leading, *args, g_out=g_out)
        return grads if bound else with_receiver(grads, len(inner), self.wrt, self.single)

    def jvp(self, wrt):
        return OfReceiverJvp(self, wrt)


class OfReceiverJvp:
    """Forward mode along wrt (the seed last) over an OfReceiver vjp."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them; None where no
        tangent reaches the object's function."""
        function, leading, bound, inner = self.of.plan()
        ws, t, single = drop_zero_receiver(self.wrt, t_in, self.single)
        if not bound or not ws:
            return None
        outer = tuple(0 if i == RECEIVER else i + len(leading) for i in ws)
        vjp = dynamic(function, inner if len(inner) > 1 else inner[0], self.of.mode)

        def lift(targs, tt, trecv):
            return [trecv] + list(targs), picked(tt, self.wrt, self.single, ws, single)

        jvp = jvp_of(vjp, outer[0] if single else outer)
        return jvp, (*leading, *args), t, lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        of = self.of
        function, leading, bound, inner = of.plan()
        vjp = dynamic(function, inner if len(inner) > 1 else inner[0], of.mode)
        if bound:
            ws, t_in, single = drop_zero_receiver(self.wrt, t_in, self.single)
            if not ws:
                value = of(*args[:-1], g_out=args[-1])
                return value, zero_adjoint(value)
            outer = tuple(0 if i == RECEIVER else i + len(leading) for i in ws)
            return jvp_of(vjp, outer[0] if single else outer)(*leading, *args, t_in=t_in)
        if not inner:
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        outer = tuple(i + len(leading) for i in self.wrt if i != RECEIVER)
        if outer:
            t = without_receiver(t_in, self.wrt, self.single)
            grads, tangent = jvp_of(vjp, outer if len(outer) > 1 else outer[0])(
                *leading, *args, t_in=t
            )
        else:
            grads = vjp(*leading, *args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        count = len(inner)
        return (
            with_receiver(grads, count, of.wrt, of.single),
            with_receiver(tangent, count, of.wrt, of.single),
        )


class Unbound:
    """The derivative of a plain function with the receiver in wrt: None (a zero) in its
    place."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.mode = fn, mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt
        rest = tuple(i for i in self.wrt if i != RECEIVER)
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
        count = len(self.rest) if isinstance(self.rest, tuple) else 1
        return with_receiver(grads, count, self.wrt, self.single)

    def jvp(self, wrt):
        return UnboundOverJvp(self, wrt) if self.mode == "jvp" else UnboundJvp(self, wrt)


class UnboundOverJvp:
    """Forward mode along wrt (the call's arguments, its t_in last) over an Unbound jvp: over
    the jvp of the function along the positions other than the receiver."""

    def __init__(self, of, wrt):
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
                jvp_of(of.fn, one(at))(*primal, t_in=given_parts(given, at))[1]
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
        return jvp_of(inner, one(at))(*primal, t, t_in=given_parts(given, at))


def given_parts(given, at):
    """The tangents given at the positions at: one, or a tuple of them."""
    return given[at[0]] if len(at) == 1 else tuple(given[i] for i in at)


class UnboundJvp:
    """Forward mode along wrt (the seed last) over an Unbound vjp."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, ws, t = self.of, self.wrt, t_in
        if RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != RECEIVER)
        if of.rest == ():
            value = of(*args[:-1], g_out=args[-1])
            return value, value
        inner = vjp_of(of.fn, of.rest)
        if not ws:
            grads = inner(*args[:-1], g_out=args[-1])
            tangent = zero_adjoint(grads)
        else:
            grads, tangent = jvp_of(inner, ws[0] if len(ws) == 1 else ws)(*args, t_in=t)
        return of.with_receiver(grads), of.with_receiver(tangent)

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift, regroup) as ForwardOver takes them; None where
        only the receiver varies."""
        of, ws, t = self.of, self.wrt, t_in
        if RECEIVER in ws:
            t = None if self.single else without_receiver(t, ws, self.single)
            ws = tuple(i for i in ws if i != RECEIVER)
        if of.rest == () or not ws:
            return None
        jvp = jvp_of(vjp_of(of.fn, of.rest), one(ws))

        def lift(targs, tt, trecv):
            return list(targs), picked(tt, self.wrt, self.single, ws, len(ws) == 1)

        return jvp, args, t, lift, of.with_receiver

    def jvp(self, wrt):
        return ForwardOver(self, wrt)


#: the derivatives that make forward mode over themselves (.jvp), besides those with a plan
FORWARD_OVER = (Built, Called, Keywords, KeywordsJvp, OfReceiver, Unbound, Narrowed)


#: what each function value's function changes in place, by its builds' key (its code, or its
#: module and qualified name): {position: whether it writes values, not only items}
WRITTEN = {}


def copy_if_written(fn, i, x, differentiated=False, read_after=False):
    """x, copied where the function value fn changes its i-th argument in place, as
    sourcegrad's copy_if_written: an array it writes into; a list or dict it changes too
    where differentiated; refused where the caller reads x after the call."""
    try:
        function, leading = plain_function(fn)
    except TypeError:  # no function of this module's: nothing it writes is known
        return x
    if not isinstance(function, types.FunctionType):  # a NumPy function: writes nothing
        return x
    keys = (function.__code__, (function.__module__, function.__qualname__))
    written = next((WRITTEN[k] for k in keys if k in WRITTEN), {})
    values = written.get(i + len(leading))
    if values is None:
        return x
    if read_after and (values or differentiated):
        raise ValueError(
            f"{function.__qualname__}() writes into its argument {i} in place, and the caller "
            "reads it after the call: make it return the new value and assign it"
        )
    if differentiated and type(x) in (list, dict):
        return type(x)(x)
    return x.copy() if hasattr(x, "__array__") and (values or differentiated) else x
'''
