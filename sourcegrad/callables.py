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

import functools
import itertools
import linecache
import threading
import types
from typing import Any

from . import rules as R
from .errors import NoRuleError
from .rules.registry import hashable_key
from .transform.parse import is_installed

_APPLIERS: dict = {}  # (callable, number of arguments) -> a plain function calling it
_LOCK = threading.Lock()
_COUNTER = itertools.count()


def as_function(fn: Any, nargs: int) -> tuple[types.FunctionType, tuple]:
    """``(function, leading)``: a plain Python function and the arguments to put before the
    call's own, so that ``function(*leading, *args)`` is ``fn(*args)``."""
    if isinstance(fn, types.FunctionType) and not is_installed(fn):
        return fn, ()
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        if not is_installed(fn.__func__):
            return fn.__func__, (fn.__self__,)
    call = next(
        (k.__dict__["__call__"] for k in type(fn).__mro__ if "__call__" in k.__dict__), None
    )
    if isinstance(call, types.FunctionType) and not is_installed(call):
        return call, (fn,)
    if isinstance(fn, functools.partial):
        return _partial_applier(fn, nargs)
    if R.lookup(fn) is not None:
        return _applier(fn, nargs), ()
    raise NoRuleError(
        f"{fn!r} is called with a differentiated argument, but it is not a Python function and "
        "has no derivative rule; register one with sourcegrad.defvjp (and defjvp), or call a "
        "Python function that computes it with NumPy"
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
            filename = f"<sourcegrad call of {name} #{next(_COUNTER)}>"
            linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
            namespace = {name: fn}
            exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own source
            found = _APPLIERS[key] = namespace[f"apply_{name}"]
        return found


def _applier(fn, nargs: int):
    """A plain function ``apply(a0, ..., an)`` that returns ``fn(a0, ..., an)``, with source
    that sourcegrad can read (kept in ``linecache`` under a name of its own)."""
    params = ", ".join(f"a{i}" for i in range(nargs))
    name = getattr(fn, "__name__", "fn")
    name = name if name.isidentifier() else "fn"
    text = f"def apply_{name}({params}):\n    return {name}({params})\n"
    return compiled_applier((fn, nargs), name, fn, text)
