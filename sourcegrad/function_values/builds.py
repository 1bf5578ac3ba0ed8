"""The derivatives of plain functions called as function values, made once and kept, and a
call with keyword arguments bound to a function's parameters (:class:`Binding`): what
:mod:`sourcegrad.function_values` runs, below its ``vjp_of`` / ``jvp_of``."""

from __future__ import annotations

import functools
import types

from ..callables import as_function, compiled_applier, is_bound_to
from ..derivative import derivative
from ..errors import UnsupportedSyntaxError
from ..higher import is_derivative
from ..runtime.trees import zero_adjoint
from ..transform import derive
from ..transform.environment import environment
from ..transform.parse import call_plan, packed

__all__ = ["MADE_LIMIT", "Binding", "built", "keyword_applier"]


def built(fn: types.FunctionType, wrt, mode: str):
    """The ``mode`` derivative along ``wrt`` of the plain function ``fn`` (no ``*args`` or
    ``**kwargs`` parameter), made once while what it reads stays the same."""
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
        return built(self.target, inner[0] if len(inner) == 1 else inner, mode)

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

    def lifted(self, given: dict, seed=None, params: tuple | None = None):
        """The tangents ``given`` (:meth:`given`) lifted to the parameters: ``{parameter:
        tangent}`` for those given one; with ``params``, those parameters' tangents as one
        (a tuple of them), zeros where none was given (the vjp's seed after them)."""
        values = (*self.values, seed)
        found = tuple(dict.fromkeys(j for j, _ in given))
        by = {j: self.tangents((j,), given, seed) for j in found}
        if params is None:
            return by
        parts = tuple(by[j] if j in by else zero_adjoint(values[j]) for j in params)
        return parts[0] if len(parts) == 1 else parts


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
