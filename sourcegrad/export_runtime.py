"""The export's own ``vjp_of`` / ``jvp_of``: :data:`RUNTIME`, source an export holds where its
code differentiates function values (:mod:`sourcegrad.export_values` says what they resolve
and how; the export fills the tables they read).
"""

from __future__ import annotations

import ast
import functools

from .export_receivers import RECEIVERS

__all__ = ["GRADIENTS_STAND_IN", "RUNTIME", "runtime_names"]


#: what an export holds where the function takes gradients while it runs (``sg.grad(f)(...)``):
#: ``Gradients`` stands in for the sourcegrad module, its ``grad`` handing out the gradients
#: written in the module (:func:`sourcegrad.export_values.write_gradients`)
GRADIENTS_STAND_IN = '''
#: the gradients the function takes while it runs: (the function's code, wrt) -> its gradient
GRADIENTS = {}


class Gradients:
    """Stands in for sourcegrad where the function takes a gradient while it runs: grad(f,
    wrt) is the gradient of f along wrt this module was exported with."""

    @staticmethod
    def grad(f, wrt=0):
        found = GRADIENTS.get((getattr(f, "__code__", None), wrt))
        if found is None:
            raise TypeError(
                f"the gradient of {f!r} along {wrt!r}: one this module was not exported for"
            )
        return found
'''


#: the module-level definitions an export holds where its code calls ``vjp_of`` / ``jvp_of``
RUNTIME = '''
RECEIVER = "self"
#: the builds of the derivatives of function values: (function key, wrt) -> its wrapper
FUNCTION_VALUES = {}
FUNCTION_JVPS = {}
#: forward mode over the derivative of a function value: (its wrapper, wrt) -> the wrapper
VALUE_JVPS = {}
#: the NumPy functions (by their rules) and the classes called as function values
RULE_FUNCTIONS = set()
#: forward mode over the derivatives this module defines: (derivative, wrt) -> its wrapper
DERIVATIVE_JVPS = {}
PLAIN = (types.FunctionType, types.BuiltinMethodType, types.MethodWrapperType)
PACKING = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def vjp_of(fn, wrt, keywords=()):
    """The vjp of the function value fn along wrt, as sourcegrad's vjp_of: one of the builds
    this module was exported with; the last len(keywords) arguments go by those names."""
    return Keywords(fn, wrt, keywords, "vjp") if keywords else of_value(fn, wrt, "vjp")


def jvp_of(fn, wrt, keywords=()):
    """The jvp of the function value fn along wrt, or forward mode over a derivative (a
    helper's or a function value's, order 2 and up), as sourcegrad's jvp_of."""
    if keywords:
        return Keywords(fn, wrt, keywords, "jvp")
    if isinstance(fn, FORWARD_OVER) or hasattr(fn, "plan"):
        return fn.jvp(wrt)
    try:
        found = DERIVATIVE_JVPS.get((fn, wrt))
    except TypeError:
        found = None
    if found is None and isinstance(wrt, tuple) and any(k[0] is fn for k in DERIVATIVE_JVPS):
        return Narrowed(fn, wrt)  # a tangent seen to be zero when it runs: along the others
    return of_value(fn, wrt, "jvp") if found is None else found


def of_value(fn, wrt, mode):
    if has_receiver(wrt):
        return Unbound(fn, wrt, mode) if isinstance(fn, PLAIN) else OfReceiver(fn, wrt, mode)
    return dynamic(fn, wrt, mode)


def has_receiver(wrt):
    return wrt == RECEIVER or (isinstance(wrt, tuple) and RECEIVER in wrt)


def dynamic(fn, wrt, mode):
    """The mode derivative of fn along wrt (positions of its arguments)."""
    if isinstance(fn, types.FunctionType) and fn.__code__.co_flags & PACKING:
        return Keywords(fn, wrt, (), mode)  # its *args one tuple, its **kwargs one dict
    if is_rule_function(fn) or isinstance(fn, types.FunctionType):
        return Built(fn, wrt, mode)
    return Called(fn, wrt, mode)


def is_rule_function(fn):
    try:
        return fn in RULE_FUNCTIONS
    except TypeError:
        return False


def build_of(function, wrt, mode):
    """The wrapper of the builds of function's derivative (mode) along wrt."""
    if isinstance(function, types.FunctionType) and not is_rule_function(function):
        keys = (function.__code__, (function.__module__, function.__qualname__))
    else:
        keys = (function,)
    table = FUNCTION_VALUES if mode == "vjp" else FUNCTION_JVPS
    for key in keys:
        found = table.get((key, wrt))
        if found is not None:
            return found
    raise TypeError(
        f"the {mode} of {function!r} along {wrt!r}: a function value this module was not "
        "exported for"
    )


class Built:
    """The derivative (mode) of the plain function fn along wrt, by the build this module
    holds for it; with of, forward mode along wrt over the derivative of."""

    def __init__(self, fn, wrt, mode, of=None):
        self.fn, self.wrt, self.mode, self.of = fn, wrt, mode, of

    def wrapper(self):
        if self.of is None:
            return build_of(self.fn, self.wrt, self.mode)
        found = VALUE_JVPS.get((self.of.wrapper(), self.wrt))
        if found is None:
            raise TypeError(
                f"forward mode along {self.wrt!r} over a derivative of {self.fn!r}: one this "
                "module was not exported for"
            )
        return found

    def __call__(self, *args, **kwargs):
        if self.of is None and isinstance(self.fn, types.FunctionType):
            args, kwargs = with_defaults(self.fn, args, kwargs)
        return self.wrapper()(self.fn, *args, **kwargs)

    def jvp(self, wrt):
        return BoundToNothing(self, wrt) if has_receiver(wrt) else Built(self.fn, wrt, "jvp", self)


class BoundToNothing:
    """Forward mode along wrt (the seed last) over the derivative of, a plain function's:
    the receiver in wrt varies (restored from a tape), but has no tangent to pass on."""

    def __init__(self, of, wrt):
        self.of, self.wrt = of, wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them."""
        single = not isinstance(self.wrt, tuple)
        ws = () if single else tuple(i for i in self.wrt if i != RECEIVER)
        if not ws:
            return None
        jvp = Built(self.of.fn, ws[0] if len(ws) == 1 else ws, "jvp", self.of)

        def lift(targs, tt, trecv):
            return list(targs), picked(tt, self.wrt, single, ws, len(ws) == 1)

        return jvp, args, without_receiver(t_in, self.wrt, single), lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        single = not isinstance(self.wrt, tuple)
        ws = () if single else tuple(i for i in self.wrt if i != RECEIVER)
        if not ws:
            value = self.of(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        t = without_receiver(t_in, self.wrt, single)
        return Built(self.of.fn, ws[0] if len(ws) == 1 else ws, "jvp", self.of)(*args, t_in=t)


def with_defaults(function, args, kwargs):
    """args and kwargs of a call of function with its defaults added by name (its own, as
    sourcegrad's derivative of it reads them)."""
    code = function.__code__
    n = code.co_argcount
    defaults = function.__defaults__ or ()
    names = code.co_varnames[n - len(defaults) : n]
    added = {p: d for p, d in zip(names, defaults) if p not in code.co_varnames[: len(args)]}
    return args, {**added, **(function.__kwdefaults__ or {}), **kwargs}


def filled(function, args):
    """args (the function's own, then a seed) with the defaults of the parameters they leave
    out put before the seed, keyword-only ones last, as sourcegrad's derivatives fill them in."""
    code, defaults = function.__code__, function.__defaults__ or ()
    own, n = args[:-1], code.co_argcount
    first = n - len(defaults)
    if len(own) < first:
        return args
    if len(own) < n:
        own = own + tuple(defaults[len(own) - first :])
    names = code.co_varnames[n : n + code.co_kwonlyargcount]
    kwdefaults = function.__kwdefaults__ or {}
    return own + tuple(kwdefaults[k] for k in names[len(own) - n :]) + args[-1:]


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


def shifted(wrt, n):
    return tuple(i + n for i in wrt) if isinstance(wrt, tuple) else wrt + n


def is_bound(fn, leading):
    """Whether leading (from plain_function) is the one object fn is bound to."""
    return len(leading) == 1 and (isinstance(fn, types.MethodType) or leading[0] is fn)


def with_receiver(grads, count, wrt, single):
    """grads of the positions of wrt other than the receiver, None in the receiver's place."""
    parts = list(grads) if count > 1 else [grads]
    full = tuple(None if i == RECEIVER else parts.pop(0) for i in wrt)
    return full[0] if single else full


def receiver_tangent(t_in, wrt, single):
    if RECEIVER not in wrt:
        return ()
    return t_in if single else t_in[wrt.index(RECEIVER)]


def without_receiver(t_in, wrt, single):
    if single:
        return None
    kept = tuple(t for i, t in zip(wrt, t_in) if i != RECEIVER)
    return kept if len(kept) > 1 else kept[0]


def drop_zero_receiver(wrt, t_in, single):
    """(wrt, t_in, single) without the receiver where its tangent is None."""
    if RECEIVER not in wrt or receiver_tangent(t_in, wrt, single) is not None:
        return wrt, t_in, single
    t_in = None if single else without_receiver(t_in, wrt, single)
    wrt = tuple(i for i in wrt if i != RECEIVER)
    return wrt, t_in, len(wrt) == 1


class Keywords:
    """The derivative of a call of the function value fn whose last len(keywords) arguments
    go by those names, or of one taking *args or **kwargs: the function behind fn with every
    parameter given (defaults filled in, its *args one tuple and its **kwargs one dict), as
    sourcegrad binds the call; the parts go back to the call's own arguments."""

    def __init__(self, fn, wrt, keywords, mode):
        self.fn, self.keywords, self.mode = fn, tuple(keywords), mode
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def bind(self, args):
        """(function, its values by parameter, how many go by position, where each argument
        went: (parameter, item), item its place in a packed *args tuple or **kwargs dict)."""
        function, leading = plain_function(self.fn)
        params = list(inspect.signature(function).parameters.values())
        marks = list(range(len(leading) + len(args)))
        n = len(marks) - len(self.keywords)
        bound = inspect.signature(function).bind(
            *marks[:n], **dict(zip(self.keywords, marks[n:]))
        ).arguments
        given = (*leading, *args)
        values, places = [], {}
        for j, p in enumerate(params):
            if p.kind is p.VAR_POSITIONAL:
                ks = bound.get(p.name, ())
                values.append(tuple(given[k] for k in ks))
                places.update((k, (j, item)) for item, k in enumerate(ks))
            elif p.kind is p.VAR_KEYWORD:
                items = bound.get(p.name, {})
                values.append({key: given[k] for key, k in items.items()})
                places.update((k, (j, key)) for key, k in items.items())
            elif p.name in bound:
                values.append(given[bound[p.name]])
                places[bound[p.name]] = (j, None)
            else:
                values.append(p.default)
        npos = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                   for p in params)
        where = {i: places[len(leading) + i] for i in range(len(args))}
        if is_bound(self.fn, leading):
            where[RECEIVER] = (0, None)
        names = [p.name for p in params]
        return function, values, npos, where, names

    def __call__(self, *args, g_out=None, t_in=None):
        function, values, npos, where, names = self.bind(args)
        call = dict(zip(names[npos:], values[npos:]))
        if self.mode == "jvp":
            ts = (t_in,) if self.single else tuple(t_in)
            given = {where[i]: t for i, t in zip(self.wrt, ts) if i in where and t is not None}
            inner = tuple(dict.fromkeys(j for j, _ in given))
            if not inner:
                value = self.fn(*args[: len(args) - len(self.keywords)],
                                **dict(zip(self.keywords, args[len(args) - len(self.keywords):])))
                return value, zero_adjoint(value)
            call["t_in"] = packed_tangents(inner, given, values)
        else:
            inner = tuple(dict.fromkeys(where[i][0] for i in self.wrt if i in where))
            if not inner:
                return None if self.single else (None,) * len(self.wrt)
            call["g_out"] = g_out
        derivative = Built(function, inner[0] if len(inner) == 1 else inner, self.mode)
        out = derivative(*values[:npos], **call)
        if self.mode == "jvp":
            return out
        return self.regroup(out, inner, where)

    def regroup(self, out, inner, where):
        """The parts out of the parameters inner as the call's arguments'."""
        by = dict(zip(inner, (out,) if len(inner) == 1 else out))
        parts = []
        for i in self.wrt:
            loc = where.get(i)
            part = None if loc is None else by[loc[0]]
            parts.append(part if loc is None or loc[1] is None else part[loc[1]])
        return parts[0] if self.single else tuple(parts)

    def jvp(self, wrt):
        return KeywordsJvpOverJvp(self, wrt) if self.mode == "jvp" else KeywordsJvp(self, wrt)


def placed(where, wrt, ts, seed_at, nvalues):
    """{(parameter, item): tangent} of the call's arguments wrt (the argument seed_at is a
    vjp's seed, after every parameter); a receiver's left out where it is None."""
    given = {}
    for i, t in zip(wrt, ts):
        at = (nvalues, None) if i == seed_at else where.get(i)
        if at is not None and not (i == RECEIVER and t is None):
            given[at] = t
    return given


def lifted_tangents(given, values, params=None):
    """The tangents given lifted to the parameters: {parameter: tangent}; with params, those
    parameters' tangents as one (a tuple of them), zeros where none was given."""
    by = {j: packed_tangents((j,), given, values) for j in dict.fromkeys(j for j, _ in given)}
    if params is None:
        return by
    parts = tuple(by[j] if j in by else zero_adjoint(values[j]) for j in params)
    return parts[0] if len(parts) == 1 else parts


def one(positions):
    return positions[0] if len(positions) == 1 else positions


def packed_tangents(params, given, values):
    """The tangents of the parameters params: those given by (parameter, item), a packed
    tuple's or dict's completed with zeros for its constant items."""
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


class KeywordsJvp:
    """Forward mode along wrt (the seed last) over a Keywords vjp: over the vjp of the
    function behind it, along the parameters the arguments went to, regrouped the same way."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, seed = self.of, args[-1]
        function, values, npos, where, names = of.bind(args[:-1])
        inner = tuple(dict.fromkeys(where[i][0] for i in of.wrt if i in where))
        if not inner:
            value = of(*args[:-1], g_out=seed)
            return value, value
        vjp = Built(function, one(inner), "vjp")
        ts = (t_in,) if self.single else tuple(t_in)
        given = placed(where, self.wrt, ts, len(args) - 1, len(values))
        if not given:  # only a receiver that holds nothing varies
            grads = vjp(*values[:npos], g_out=seed, **dict(zip(names[npos:], values[npos:])))
            tangent = zero_adjoint(grads)
        else:
            outer = tuple(dict.fromkeys(j for j, _ in given))
            ts = packed_tangents(outer, given, (*values, seed))
            grads, tangent = jvp_of(vjp, one(outer))(*values, seed, t_in=ts)
        return of.regroup(grads, inner, where), of.regroup(tangent, inner, where)

    def jvp(self, wrt):
        return KeywordsOverJvp(self, wrt)


class KeywordsOverJvp:
    """Forward mode along wrt (the call's arguments, the seed, then t_in) over a KeywordsJvp
    (order 3): over the jvp of the vjp of the function behind it, each tangent lifted to the
    parameters, each part of the result regrouped to the call's arguments."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        kj, of = self.of, self.of.of
        *own, seed, t = args
        m = len(own)
        function, values, npos, where, names = of.bind(tuple(own))
        inner = tuple(dict.fromkeys(where[i][0] for i in of.wrt if i in where))
        full = (*values, seed)
        given = placed(where, kj.wrt, (t,) if kj.single else tuple(t), m, len(values))
        outer = tuple(dict.fromkeys(j for j, _ in given))
        if not inner or not outer:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp = jvp_of(Built(function, one(inner), "vjp"), one(outer))
        tangents = packed_tangents(outer, given, full)
        more = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = more.pop(m + 1, None)
        moved = placed(where, tuple(more), tuple(more.values()), m, len(values))
        lifted = lifted_tangents(moved, full)
        if tt is not None:
            tgiven = placed(where, kj.wrt, (tt,) if kj.single else tuple(tt), m, len(values))
            lifted[len(full)] = lifted_tangents(tgiven, full, outer)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*values, seed, t_in=tangents)
            parts = out, zero_adjoint(out)
        else:
            ts = tuple(lifted[k] for k in at)
            parts = jvp_of(jvp, one(at))(*values, seed, tangents, t_in=one(ts))
        return tuple(tuple(of.regroup(g, inner, where) for g in p) for p in parts)


class KeywordsJvpOverJvp:
    """Forward mode along wrt (the call's arguments, then t_in) over a Keywords jvp: over the
    jvp of the function behind it, each tangent lifted to the parameters."""

    def __init__(self, of, wrt):
        self.of = of
        self.single = not isinstance(wrt, tuple)
        self.wrt = (wrt,) if self.single else wrt

    def __call__(self, *args, t_in=None):
        of, (*own, t) = self.of, args
        function, values, npos, where, names = of.bind(tuple(own))
        given = placed(where, of.wrt, (t,) if of.single else tuple(t), None, len(values))
        inner = tuple(dict.fromkeys(j for j, _ in given))
        if not inner:
            raise TypeError("forward mode over a derivative this module was not exported for")
        jvp = Built(function, one(inner), "jvp")
        tangents = packed_tangents(inner, given, values)
        more = dict(zip(self.wrt, (t_in,) if self.single else tuple(t_in)))
        tt = more.pop(len(own), None)
        lifted = lifted_tangents(placed(where, tuple(more), tuple(more.values()), None, 0), values)
        if tt is not None:
            tgiven = placed(where, of.wrt, (tt,) if of.single else tuple(tt), None, 0)
            lifted[len(values)] = lifted_tangents(tgiven, values, inner)
        at = tuple(sorted(k for k, x in lifted.items() if x is not None))
        if not at:
            out = jvp(*values[:npos], **dict(zip(names[npos:], values[npos:])), t_in=tangents)
            return out, zero_adjoint(out)
        ts = tuple(lifted[k] for k in at)
        return jvp_of(jvp, one(at))(*values, tangents, t_in=one(ts))


class Called:
    """The derivative of a function value that is not a plain function: the function behind
    it, its leading arguments first."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.wrt, self.mode = fn, wrt, mode

    def __call__(self, *args, **kwargs):
        function, leading = plain_function(self.fn)
        derivative = dynamic(function, shifted(self.wrt, len(leading)), self.mode)
        return derivative(*leading, *args, **kwargs)

    def jvp(self, wrt):
        return CalledJvp(self, wrt)


class CalledJvp:
    """Forward mode along wrt (the seed last) over a Called derivative."""

    def __init__(self, called, wrt):
        self.called, self.wrt = called, wrt

    def plan(self, args, t_in):
        """(jvp, its arguments, its t_in, lift) as ForwardOver takes them; None where no
        tangent reaches the function."""
        c = self.called
        function, leading = plain_function(c.fn)
        n, whole = len(leading), not isinstance(self.wrt, tuple)
        ws, single, bound = (self.wrt,) if whole else self.wrt, whole, is_bound(c.fn, leading)
        if RECEIVER in ws and bound:
            ws, t, single = drop_zero_receiver(ws, t_in, single)
        elif RECEIVER in ws:
            t = without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != RECEIVER)
            single = len(ws) == 1
        else:
            t = t_in
        if not ws:
            return None
        wrt = tuple(0 if i == RECEIVER else i + n for i in ws)
        inner = dynamic(function, shifted(c.wrt, n), c.mode)

        def lift(targs, tt, trecv):
            head = [trecv if bound else None] + [None] * (n - 1) if n else []
            return head + list(targs), picked(tt, self.wrt, whole, ws, single)

        return jvp_of(inner, wrt[0] if single else wrt), (*leading, *args), t, lift

    def jvp(self, wrt):
        return ForwardOver(self, wrt)

    def __call__(self, *args, t_in=None):
        c = self.called
        function, leading = plain_function(c.fn)
        n = len(leading)
        single = not isinstance(self.wrt, tuple)
        ws = (self.wrt,) if single else self.wrt
        if RECEIVER in ws and is_bound(c.fn, leading):
            ws, t_in, single = drop_zero_receiver(ws, t_in, single)
        elif RECEIVER in ws:
            t_in = without_receiver(t_in, ws, single)
            ws = tuple(i for i in ws if i != RECEIVER)
            single = len(ws) == 1
        if not ws:
            value = c(*args[:-1], g_out=args[-1])
            return value, zero_adjoint(value)
        wrt = tuple(0 if i == RECEIVER else i + n for i in ws)
        inner = dynamic(function, shifted(c.wrt, n), c.mode)
        return jvp_of(inner, wrt[0] if single else wrt)(*leading, *args, t_in=t_in)


''' + RECEIVERS


@functools.cache
def runtime_names() -> tuple[str, ...]:
    """The module-level names :data:`RUNTIME` defines."""
    names = []
    for stmt in ast.parse(RUNTIME).body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            names.append(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return tuple(names)
