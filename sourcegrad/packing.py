"""Differentiating a function that takes ``*args`` or ``**kwargs`` (``def loss(params,
*batch)``): through its packed form (:func:`~sourcegrad.transform.parse.packed`: the
``*args`` one tuple parameter, the ``**kwargs`` one dict parameter), with each call's
arguments packed the way Python binds them."""

from __future__ import annotations

import functools
import inspect
import itertools
import linecache
import types
from typing import Any

from .errors import WrtTypeError
from .transform.parse import packed

__all__ = ["Packing", "defined", "packed", "unwrapped"]

_COUNTER = itertools.count()


class Packing:
    """How a call of ``f`` (taking ``*args`` and/or ``**kwargs``) becomes a call of its
    packed form: the positional values past ``f``'s named ones as one tuple, the keywords
    naming none of its parameters as one dict."""

    def __init__(self, f: types.FunctionType):
        params = list(inspect.signature(f, follow_wrapped=False).parameters.values())
        self.npos = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        self.star = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
        self.starstar = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        self.named = {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    @staticmethod
    def needed(f: Any) -> bool:
        """Whether ``f`` is a plain function taking ``*args`` or ``**kwargs``."""
        flags = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
        return isinstance(f, types.FunctionType) and bool(f.__code__.co_flags & flags)

    def check_wrt(self, wrt: tuple, f: types.FunctionType) -> None:
        """Refuse a ``wrt`` naming a position inside ``*args`` (its values have no parameter
        of their own to differentiate by)."""
        for i in wrt:
            if isinstance(i, int) and (i >= self.npos or i < 0):
                code = f.__code__
                raise WrtTypeError(
                    f"wrt={i} names a value of {f.__name__}()'s *{self.star or 'args'}; "
                    f"differentiate with respect to its named parameters ({self.positions()}), "
                    "or give the value a parameter of its own",
                    code.co_filename,
                    code.co_firstlineno,
                )

    def positions(self) -> str:
        """The positions of the named parameters, in words."""
        if self.npos == 0:
            return "it has none"
        return "position 0" if self.npos == 1 else f"positions 0 to {self.npos - 1}"

    def pack(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """``(args, kwargs)`` of the packed form for the call ``f(*args, **kwargs)``."""
        named = {k: v for k, v in kwargs.items() if k in self.named}
        extra = {k: v for k, v in kwargs.items() if k not in self.named}
        if self.star is not None:
            if len(args) > self.npos:
                args = (*args[: self.npos], tuple(args[self.npos :]))
            else:
                named[self.star] = ()
        if self.starstar is not None:
            named[self.starstar] = extra
        else:
            named.update(extra)  # an unknown keyword: Python's TypeError when it binds
        return tuple(args), named


def unwrapped(f: Any, wrt: tuple) -> tuple[Any, tuple, tuple, Packing | None]:
    """``(function, bound, wrt, packing)``: what a derivative of ``f`` along ``wrt`` (a
    tuple) differentiates. A bound method is its function with the object as first argument
    (``bound``, ``wrt`` shifted past it), as is an object whose class defines ``__call__``,
    and a ``functools.partial`` (its positional values bound, its keywords defaults); a function taking ``*args``/``**kwargs`` is its
    packed form, with the :class:`Packing` its calls go through (None for others)."""
    bound: tuple = ()
    if isinstance(f, functools.partial) and isinstance(f.func, types.FunctionType):
        bound, f = tuple(f.args), _calling(f)  # partial(loss, x, reg=0.1): loss, x first
        wrt = tuple(i + len(bound) if isinstance(i, int) and i >= 0 else i for i in wrt)
    call = next((k.__dict__["__call__"] for k in type(f).__mro__ if "__call__" in k.__dict__), None)
    if not isinstance(f, (types.FunctionType, types.MethodType, type)) and isinstance(
        call, types.FunctionType
    ):  # an object whose class defines __call__ (a layer, a model): that method, bound
        f = types.MethodType(call, f)
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        bound, f = (f.__self__,), f.__func__
        wrt = tuple(i + 1 if isinstance(i, int) and i >= 0 else i for i in wrt)
    packing = Packing(f) if Packing.needed(f) else None
    if packing is not None:  # def loss(params, *batch): differentiated in packed form
        packing.check_wrt(wrt, f)
        f = packed(f)
    return f, bound, wrt, packing


def _calling(p: functools.partial) -> types.FunctionType:
    """A function of source taking ``p``'s positional values, then the parameters ``p`` leaves,
    and calling ``p.func`` with them all: ``partial(loss, reg=0.1)`` is
    ``def loss_partial(W, x, *, reg): return loss(W, x, reg=reg)`` with ``reg`` defaulting
    to ``0.1``."""
    fn = p.func
    params = list(inspect.signature(fn).parameters.values())[len(p.args) :]
    bound = [f"bound{i}" for i in range(len(p.args))]
    head, call, defaults, kwdefaults = list(bound), list(bound), [], {}
    keyword_only = False
    for q in params:
        default = p.keywords.get(q.name, q.default)
        if q.kind is q.VAR_POSITIONAL:
            head.append(f"*{q.name}")
            call.append(f"*{q.name}")
            keyword_only = True
            continue
        if q.kind is q.VAR_KEYWORD:
            head.append(f"**{q.name}")
            call.append(f"**{q.name}")
            continue
        if q.kind is q.KEYWORD_ONLY or q.name in p.keywords or keyword_only:
            if not keyword_only:
                head.append("*")
                keyword_only = True
            if default is not q.empty:
                kwdefaults[q.name] = default
            head.append(q.name)
            call.append(f"{q.name}={q.name}")
            continue
        if default is not q.empty:
            defaults.append(default)
        head.append(q.name)
        call.append(q.name)
    name = f"{fn.__name__}_partial"
    text = f"def {name}({', '.join(head)}):\n    return {fn.__name__}({', '.join(call)})\n"
    made = defined(text, name, {fn.__name__: fn}, f"<sourcegrad partial of {fn.__name__}")
    made.__defaults__ = tuple(defaults) or None
    made.__kwdefaults__ = kwdefaults or None
    return made


def defined(text: str, name: str, namespace: dict, label: str) -> types.FunctionType:
    """The function ``name`` that the source ``text`` defines, run in ``namespace``, its
    source kept in ``linecache`` under a file name beginning ``label`` (sourcegrad reads it)."""
    filename = f"{label} #{next(_COUNTER)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own source
    return namespace[name]
