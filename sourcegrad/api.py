"""The public transforms: ``grad``, ``value_and_grad``, ``vjp``, ``source``, ``show``.

A transform parses its function once. For each *argument signature* (container structure,
ranks, dtypes and array types of the arguments) it builds one derivative, so that rank-specific
rules emit plain NumPy (``dz @ W.T``); after that a call runs only the generated code plus the
signature lookup.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import re
import threading
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import gast
import numpy as np

from .callables import as_function
from .errors import (
    ArgumentError,
    AuxError,
    NonScalarOutputError,
    SeedError,
    SourcegradError,
    WrtTypeError,
)
from .runtime.containers import (
    children,
    compile_guard,
    guard_expression,
    is_container,
    scalar_gradient,
)
from .runtime.tangent_helpers import float_gradient, typed_gradient
from .transform import syntax as S
from .transform.analysis import analyze
from .transform.emit import Deferred, Emitted
from .transform.emit import emit as _emit
from .transform.forward import forward
from .transform.fuse import fuse_contractions, may_fuse
from .transform.normalize import normalize
from .transform.optimize import known_dtypes, optimize
from .transform.parse import Parsed, parse
from .transform.reverse import reverse
from .transform.shapes import concrete_shapes
from .transform.simplify import simplify

_OPTIONS = {
    "optimize", "debug_hook", "with_forward", "with_gradients", "stable_gradients", "pool_buffers"
}  # fmt: skip
#: "select": the part of a jvp's result to compute; "internal": made for generated code (vjp_of,
#: jvp_of), whose seeds are adjoints and tangents in sourcegrad's own forms, not checked
_INTERNAL_OPTIONS = {"select", "internal"}
#: the keyword a vjp's output gradient / a jvp's tangent may be passed by
_SEED_KEYWORD = {
    "vjp": "g_out",
    "jvp": "t_in",
}  # jvp of generated code: which part of the result to return


def call_signature(x):
    """What a running derivative is specialised to: container structure, shapes, dtypes,
    array types."""
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char)
    if t is float:
        return "f"
    if t is dict:
        return ("d",) + tuple([(k, call_signature(v)) for k, v in x.items()])
    if t is list or t is tuple:
        return (t,) + tuple([call_signature(v) for v in x])
    if t is int or t is bool:
        return "i"
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([call_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, call_signature(v)) for k, v in x.items()])
    shape = getattr(x, "shape", None)
    if shape is not None:
        return (t, tuple(shape), x.dtype.char)
    return t


def _rank_signature(x):
    """:func:`call_signature` with ranks in place of shapes: what a derivative's rules need."""
    t = type(x)
    if t is dict:
        return ("d",) + tuple([(k, _rank_signature(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([_rank_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, _rank_signature(v)) for k, v in x.items()])
    nd = getattr(x, "ndim", None)
    if nd is not None and not isinstance(x, (float, int)):
        return (t, nd, x.dtype.char)
    return call_signature(x)


#: a running derivative is specialised to the argument shapes on the call that sees them for
#: this many times (the first calls run the derivative specialised to ranks only, so that
#: shapes seen once cost no transformation); at most MAX_SPECIALISED shape signatures each
SPECIALISE_AFTER = int(os.environ.get("SOURCEGRAD_SPECIALISE_AFTER", "2"))
MAX_SPECIALISED = 8


def _one_scalar(args, wrt) -> bool:
    """Whether the gradient is taken with respect to a single float (a Python float, a NumPy
    floating scalar, or a 0-d floating array)."""
    if args is None or len(wrt) != 1 or wrt[0] >= len(args):
        return False
    x = args[wrt[0]]
    if type(x) is float:
        return True
    return isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0 and x.dtype.kind == "f"


def _as_gradient(x, t):
    """The tangent ``t`` of a scalar as the gradient of the scalar input ``x``, as reverse
    mode gives it (:func:`gradient_like`): a float for a float, a NumPy scalar of x's dtype
    for a NumPy scalar, else a new 0-d array of x's dtype."""
    g = scalar_gradient(x, t)
    return np.array(t, dtype=x.dtype) if g is None else g


def _has_arrays(args) -> bool:
    """Whether an argument holds an array: only then can shapes specialise anything."""
    return any(hasattr(leaf, "shape") for a in args for _, leaf in _leaves(a))


def _leaves(x, path=()):
    if is_container(x):
        for k, v in children(x):
            yield from _leaves(v, path + (k,))
    else:
        yield path, x


# ---------------------------------------------------------------- generated source in linecache
def emit(der) -> Emitted:
    """:func:`sourcegrad.transform.emit.emit`, its text dropped from ``linecache`` with the
    code compiled from it (a derivative dropped leaves no source behind)."""
    run = _emit(der)
    _forget_with_code(run)
    return run


def _forget_with_code(run: Emitted) -> None:
    code = getattr(run.fn, "__code__", None)
    if code is not None and code.co_filename == run.filename:
        weakref.finalize(code, linecache.cache.pop, run.filename, None)


class _Deferred(Deferred):
    """:class:`Deferred` whose emitted text goes from ``linecache`` with its code (see
    :func:`emit`)."""

    def __getattr__(self, attr):
        made = self._emitted is None
        value = super().__getattr__(attr)
        if made and self._emitted is not None:
            _forget_with_code(self._emitted)
        return value


# ---------------------------------------------------------------- calls that do not fit
def _quoted(names) -> str:
    """Names as Python's argument errors list them: 'a', 'a' and 'b', 'a', 'b', and 'c'."""
    q = [f"'{n}'" for n in names]
    if len(q) <= 2:
        return " and ".join(q)
    return ", ".join(q[:-1]) + ", and " + q[-1]


def _call_problem(f, nargs: int, kwnames=()) -> str | None:
    """The message of the ``TypeError`` Python raises calling ``f`` with ``nargs`` positional
    arguments and the keywords ``kwnames``; None where that call binds."""
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    argcount, posonly, kwonly = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    varargs, varkw = code.co_flags & 0x04, code.co_flags & 0x08
    names = code.co_varnames
    pos_names, kw_names = names[:argcount], names[argcount : argcount + kwonly]
    defaults = f.__defaults__ or ()
    kwdefaults = f.__kwdefaults__ or {}
    q = getattr(f, "__qualname__", getattr(f, "__name__", "f"))
    given = set(pos_names[: min(nargs, argcount)])
    kwonly_given = 0
    for k in kwnames:
        if k in pos_names[posonly:] or k in kw_names:
            if k in given:
                return f"{q}() got multiple values for argument '{k}'"
            given.add(k)
            kwonly_given += k in kw_names
        elif not varkw:
            if k in pos_names[:posonly]:
                return (
                    f"{q}() got some positional-only arguments passed as keyword arguments: "
                    f"'{k}'"
                )
            return f"{q}() got an unexpected keyword argument '{k}'"
    if nargs > argcount and not varargs:
        if defaults:
            sig, plural = f"from {argcount - len(defaults)} to {argcount}", "s"
        else:
            sig, plural = str(argcount), "s" if argcount != 1 else ""
        extra = ""
        if kwonly_given:
            extra = (
                f" positional argument{'s' if nargs != 1 else ''} (and {kwonly_given} "
                f"keyword-only argument{'s' if kwonly_given != 1 else ''})"
            )
        was = "was" if nargs == 1 and not kwonly_given else "were"
        return f"{q}() takes {sig} positional argument{plural} but {nargs}{extra} {was} given"
    for kind, wanted in (
        ("positional", pos_names[: argcount - len(defaults)]),
        ("keyword-only", [n for n in kw_names if n not in kwdefaults]),
    ):
        missing = [n for n in wanted if n not in given]
        if missing:
            s = "s" if len(missing) != 1 else ""
            return f"{q}() missing {len(missing)} required {kind} argument{s}: {_quoted(missing)}"
    return None


def _at_the_call(exc) -> bool:
    """Whether ``exc``, caught where a generated function is called, was raised binding the
    call's arguments: no frame of generated or user code below the one that caught it."""
    tb = exc.__traceback__
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:  # the scalar-gradient wrapper is ours
            return False
        tb = tb.tb_next
    return True


def check_call(f, args: tuple, kwargs: dict, wrt, who: str, seed=None, bound=()) -> None:
    """Refuse a call ``who(*args, **kwargs)`` of a derivative of ``f`` (a function, or a bound
    method) whose arguments do not fit ``f`` as Python would, or where ``wrt`` names none of
    them. With ``seed`` (what it is called), the last of ``args`` is a tangent for
    ``args[wrt]``: checked to have its shape and structure. ``bound``: arguments put first."""
    name = getattr(f, "__name__", "f")
    then = f", then {seed}" if seed else ""
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        f, bound = f.__func__, bound + (f.__self__,)
        wrt = wrt + 1 if isinstance(wrt, int) and wrt >= 0 else wrt
    if seed is not None and not args:
        raise ArgumentError(
            f"{who}() got no arguments ({who} takes the arguments of {name}(){then})"
        )
    primal = bound + tuple(args[:-1] if seed is not None else args)
    code = getattr(f, "__code__", None)
    n = len(primal)
    if code is not None and (
        kwargs
        or code.co_kwonlyargcount
        or not code.co_argcount - len(f.__defaults__ or ()) <= n <= code.co_argcount
    ):
        problem = _call_problem(f, n, tuple(kwargs))
        if problem is not None:
            raise ArgumentError(f"{problem} ({who} takes the arguments of {name}(){then})")
    for i in wrt if isinstance(wrt, (tuple, list)) else (wrt,):
        if not isinstance(i, int) or isinstance(i, bool) or not -n <= i < n:
            k = n - len(bound)
            raise WrtTypeError(
                f"wrt={i!r} does not name an argument of {name}(): {who} was given {k} "
                f"argument{'s' if k != 1 else ''} for it (wrt counts positions among them)"
            )
    if seed is not None and isinstance(wrt, int):
        x, t = primal[wrt], args[-1]
        if type(x) is np.ndarray and type(t) is np.ndarray and x.shape == t.shape:
            return
        names = getattr(code, "co_varnames", ())
        what = names[wrt] if -len(names) <= wrt < len(names) else f"argument {wrt}"
        problem = seed_problem(x, t, what, exact=True)
        if problem is not None:
            raise SeedError(f"{who}(): {problem}")


def seed_problem(x, t, what: str, exact: bool) -> str | None:
    """Why ``t`` is no output gradient (``exact=False``: broadcasting against ``x`` will do)
    or no tangent (``exact=True``: ``x``'s shape) for the value ``x``; None where it is one.
    ``what`` names ``x`` in the message."""
    if t is None:
        return f"{what} has no {'tangent' if exact else 'output gradient'} (None)"
    if is_container(x):
        if not is_container(t):
            return (
                f"{what} is a {type(x).__name__}; pass one of the same structure, not a "
                f"{type(t).__name__}"
            )
        xs, ts = dict(children(x)), dict(children(t))
        if set(xs) != set(ts):
            which = "keys" if isinstance(x, dict) else "items"
            return (
                f"{what} has {which} {sorted(xs, key=repr)}, but the one passed for it has "
                f"{sorted(ts, key=repr)}"
            )
        for k, v in xs.items():
            problem = seed_problem(v, ts[k], f"{what}[{k!r}]", exact)
            if problem is not None:
                return problem
        return None
    if x is None or isinstance(x, (str, bytes)):
        return None  # not differentiated: whatever stands for it is ignored
    if is_container(t):
        return f"{what} is not a container; pass an array or float for it, not a {type(t).__name__}"
    if not (hasattr(t, "shape") or isinstance(t, (int, float, complex, np.number))):
        return f"{what} needs an array or float, not a {type(t).__name__}"
    xshape, tshape = np.shape(x), np.shape(t)
    if xshape == tshape:
        return None
    if exact:
        return f"the tangent of {what} has shape {tshape}; pass an array of shape {xshape}"
    try:
        np.broadcast_shapes(xshape, tshape)
    except ValueError:
        return (
            f"the output gradient has shape {tshape}, which does not broadcast against the "
            f"shape {xshape} of {what}; pass an array of shape {xshape}"
        )
    return None


# ---------------------------------------------------------------- derivatives shared by code
#: derivatives made by grad, value_and_grad, vjp and jvp (and for generated code by vjp_of and
#: jvp_of), by the code of the function and the rest that decides the transformation (see
#: _derivative); at most CODE_CACHE_SIZE of them, the least recently asked for dropped first
CODE_CACHE_SIZE = int(os.environ.get("SOURCEGRAD_CODE_CACHE", "64"))
_CODE_CACHE: OrderedDict = OrderedDict()
_CODE_LOCK = threading.Lock()
_GLOBAL_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: values read as data when the derivative runs: a transformation reads only their type
_DATA_TYPES = frozenset(
    {float, int, bool, complex, str, bytes, type(None), np.ndarray, list, tuple, dict}
)
_EMPTY_CELL = object()
_STORE_LIMIT = 64  # builds kept for the derivatives of one function (beyond: made per object)


def clear_cache() -> None:
    """Forget the derivatives kept for reuse (each derivative object keeps its own builds)."""
    with _CODE_LOCK:
        _CODE_CACHE.clear()


def _settings() -> tuple:
    """The module settings and rule tables a build reads: a derivative made after one changes
    is built again (a rule added with defvjp, a test's smaller block size)."""
    from .rules import registry  # (imported once: then a lookup in sys.modules)
    from .transform import chunk, fuse, pool

    return (
        chunk.BLOCK,
        fuse.MAX_UNROLLED,
        pool.RELEASED_BYTES,
        pool.POOLED_BYTES,
        len(registry.ADJOINTS),
        len(registry.TANGENTS),
        len(registry.NONDIFFERENTIABLE),
        len(registry.PRIMITIVES),
    )


def _global_names(code) -> tuple:
    """The global names ``code`` and the code nested in it may read."""
    names = _GLOBAL_NAMES.get(code)
    if names is None:
        found, todo = set(), [code]
        while todo:
            c = todo.pop()
            found.update(c.co_names)
            todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        names = _GLOBAL_NAMES[code] = tuple(sorted(found))
    return names


def _token(value):
    """What a transformation reads of a global or closure value: data (read live when the
    derivative runs) only by its type, anything else (a function called, a module, an object
    whose methods are called) by identity."""
    t = type(value)
    return t if t in _DATA_TYPES or isinstance(value, np.generic) else value


def _environment(fn) -> list:
    """The objects a transformation of ``fn`` depends on besides its code: its globals (live
    data, but resolved names), the values of its global names and closure cells (tokens)."""
    g = fn.__globals__
    env = [fn.__code__, g]
    env.extend([_token(g.get(name, _EMPTY_CELL)) for name in _global_names(fn.__code__)])
    for cell in fn.__closure__ or ():
        try:
            env.append(_token(cell.cell_contents))
        except ValueError:
            env.append(_EMPTY_CELL)
    return env


def _derivative(f, wrt, mode: str, has_aux: bool, with_value: bool, options: dict):
    """``Transformed(f, ...)``, running the builds made before for a function with the same
    code, ``wrt``, mode and options where the transformation would read the same objects
    (:func:`_environment`): a derivative made again (``grad(f)`` in a training loop) builds
    nothing. For another function object with that code the builds are rebound to its globals,
    closure cells and defaults (what ``f`` reads when it runs is read when the derivative
    runs)."""
    fn, bound = f, ()
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        fn, bound = f.__func__, (f.__self__,)
    if (
        CODE_CACHE_SIZE <= 0
        or type(fn) is not types.FunctionType
        or options.get("stable_gradients")
    ):
        return Transformed(f, wrt, mode, has_aux, with_value, options)
    try:
        seq = isinstance(wrt, (tuple, list))
        key = (seq, tuple(wrt) if seq else wrt, mode, has_aux, with_value)
        key += tuple(sorted(options.items())) + _settings()
        env = _environment(fn) + list(bound)
        key += tuple([id(x) for x in env])
        hash(key)
    except TypeError:  # an unhashable wrt or option: refused (or made) by Transformed
        return Transformed(f, wrt, mode, has_aux, with_value, options)
    t = Transformed(f, wrt, mode, has_aux, with_value, options)
    with _CODE_LOCK:
        hit = _CODE_CACHE.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], env)):
            _CODE_CACHE.move_to_end(key)
            return t._attach(hit[1])
    base = Transformed(f, wrt, mode, has_aux, with_value, options)
    base._store, base._store_lock = {}, threading.RLock()
    with _CODE_LOCK:
        _CODE_CACHE[key] = (env, base)
        while len(_CODE_CACHE) > CODE_CACHE_SIZE:
            _CODE_CACHE.popitem(last=False)
    return t._attach(base)


def _rebinder(old, new):
    """``rebind(fn)``: ``fn``, generated from ``old``'s code, as a function that reads
    ``new``'s globals, closure cells and defaults in place of ``old``'s (itself where it reads
    none of them)."""
    cells = dict(zip(map(id, old.__closure__ or ()), new.__closure__ or ()))
    memo: dict = {}

    def rebind(fn):
        if type(fn) is not types.FunctionType:
            return fn
        got = memo.get(id(fn))
        if got is not None:
            return got[1]
        changed = False
        closure = []
        for cell in fn.__closure__ or ():
            other = cells.get(id(cell))
            if other is None:
                try:
                    value = cell.cell_contents
                except ValueError:
                    value = None
                if type(value) is types.FunctionType and value.__code__.co_filename.startswith(
                    "<sourcegrad"
                ):
                    rebound = rebind(value)  # a generated function a wrapper calls
                    if rebound is not value:
                        other = types.CellType(rebound)
            changed = changed or (other is not None and other is not cell)
            closure.append(cell if other is None else other)
        glob, defaults, kwdefaults = fn.__globals__, fn.__defaults__, fn.__kwdefaults__
        if glob is old.__globals__ and glob is not new.__globals__:
            glob, changed = new.__globals__, True
        if defaults is old.__defaults__ and defaults is not new.__defaults__:
            defaults, changed = new.__defaults__, True
        if kwdefaults and old.__kwdefaults__:
            kwdefaults = dict(kwdefaults)
            for k, v in old.__kwdefaults__.items():
                if kwdefaults.get(k, _EMPTY_CELL) is v and new.__kwdefaults__[k] is not v:
                    kwdefaults[k], changed = new.__kwdefaults__[k], True
        result = fn
        if changed:
            result = types.FunctionType(
                fn.__code__, glob, fn.__name__, defaults, tuple(closure) if closure else None
            )
            result.__kwdefaults__ = kwdefaults
            result.__qualname__ = fn.__qualname__
        memo[id(fn)] = (fn, result)  # fn kept: its id is not reused while memo lives
        return result

    return rebind


def _lighten(entry) -> None:
    """Let a build kept for reuse (past the derivative that made it) hold no more of the
    user's data than it needs: the derivatives kept for more builds (``der``, the pure
    derivative not yet compiled) copied all the module's globals when they were made, and
    their analysis kept the arguments of the call it was made for."""
    if not isinstance(entry, Emitted):
        return
    for der in (entry.der, getattr(entry.pure, "_der", None)):
        refs = getattr(der, "refs", None)
        if refs is not None:
            used = refs.used_by_user
            refs.user_globals = {k: v for k, v in refs.user_globals.items() if k in used}
        core = getattr(getattr(der, "analysis", None), "core", None)
        if core is not None:  # the first call's arguments: read by the analysis only
            core.example_args = None


def _with_call(call) -> type:
    """A subclass of :class:`Transformed` whose ``__call__`` is ``call``."""
    attrs = {"__module__": __name__, "__qualname__": Transformed.__qualname__, "__call__": call}
    return type(Transformed.__name__, (Transformed,), attrs)


class _Rebound:
    """An :class:`Emitted` of another derivative object, its functions rebound (see
    :func:`_rebinder`); everything else is the entry's own."""

    def __init__(self, entry, owner):
        self._entry = entry
        self._owner = owner
        self.fn = owner._bind(entry.fn)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ("_entry", "_owner"):
            raise AttributeError(attr)
        return getattr(self._entry, attr)

    @property
    def pure(self):
        pure = self._entry.pure
        return None if pure is None else self._owner._rebound_entry(pure)

    @property
    def source_fn(self):
        return (self.pure or self).fn


class Transformed:
    """A derivative of ``f``: call it like ``f``; see :func:`grad` for what it returns."""

    def __init__(self, f: Callable, wrt, mode: str, has_aux: bool, with_value: bool, options: dict):
        unknown = set(options) - _OPTIONS - _INTERNAL_OPTIONS
        if unknown:
            raise ArgumentError(f"unknown option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        self.wrt_tuple = isinstance(wrt, (tuple, list))
        self.wrt = tuple(wrt) if self.wrt_tuple else (wrt,)
        self.bound_self = ()
        if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
            # a bound method: differentiate its function, with the object as first argument
            self.bound_self = (f.__self__,)
            f = f.__func__
            self.wrt = tuple(i + 1 if isinstance(i, int) and i >= 0 else i for i in self.wrt)
        self.f = f
        self.mode = mode
        self.has_aux = has_aux
        self.with_value = with_value
        self.options = options
        if "with_forward" in options:  # the seed's name for returning the value too
            self.with_value = bool(options["with_forward"])
        self.with_gradients = bool(options.get("with_gradients", True))
        self.stable = bool(options.get("stable_gradients", False))
        if options.get("debug_hook") is not None:
            raise SourcegradError("debug_hook is not available yet in this version of sourcegrad")
        if self.stable:
            self._local = threading.local()  # per thread: signature -> gradient arrays
        #: a gradient of a method-less function, nothing but the gradient (and value) returned
        self._plain = (
            mode == "grad" and not has_aux and not self.stable and not self.bound_self
        ) and self.with_gradients
        self._parsed: Parsed | None = None
        self._cache: dict = {}  # shape signature -> running derivative
        self._ranked: dict = {}  # rank signature -> derivative specialised to ranks only
        self._seen: dict = {}  # shape signature -> calls so far, until specialised
        self._specialised = 0
        #: (guard, entry) of the last signature called: the guard tells, without building the
        #: signature, whether arguments have that signature
        self._last = None
        self._remembered: dict = {}  # signature -> ((guard, entry), direct __call__ or None)
        self._lock = threading.Lock()
        #: the derivative whose builds this one runs (the one kept for its code, see
        #: _derivative), and what turns them into builds of this one's function (None: they
        #: are, the same function object)
        self._base: Transformed | None = None
        self._bind = None
        self._rebound: dict = {}  # id(entry of the base) -> (that entry, it rebound)
        self._first: dict = {}  # rank signature -> the first shape signature it was built for
        #: whether calls check their output gradient or tangent (not for generated code's)
        self._checked = not (options.get("internal") or "select" in options)
        prefix = {"grad": "d", "vjp": "vjp", "jvp": "jvp"}[mode]
        self.__name__ = f"{prefix}_{getattr(f, '__name__', 'f')}"
        self.__doc__ = f"The {mode} of {getattr(f, '__qualname__', f)!r} (generated by sourcegrad)."

    def _attach(self, base: Transformed) -> Transformed:
        """Run ``base``'s builds (made once, kept in its ``_store``), rebound to this
        derivative's function where that is another function object with the same code.
        Everything else (which build a call runs, when shapes are specialised) is this
        object's own, as for a derivative made from scratch."""
        self._base = base
        if base.f is not self.f:
            self._bind = _rebinder(base.f, self.f)
        return self

    def _made(self, key, make, bind: bool = True):
        """The build ``make()`` makes, made once for every derivative of the base (``key``
        names it) and, with ``bind``, rebound to this one's function where needed."""
        base = self._base
        if base is None:
            return make()
        entry = base._store.get(key)
        if entry is None:
            with base._store_lock:
                entry = base._store.get(key)
                if entry is None:
                    entry = make()
                    if len(base._store) < _STORE_LIMIT:
                        base._store[key] = entry
                        _lighten(entry)
        return entry if self._bind is None or not bind else self._rebound_entry(entry)

    def _stored(self, key):
        """The build ``key`` names, where one was made for a derivative of the base; else
        None."""
        if self._base is None:
            return None
        entry = self._base._store.get(key)
        if entry is None or self._bind is None:
            return entry
        return self._rebound_entry(entry)

    def _rebound_entry(self, entry):
        got = self._rebound.get(id(entry))
        if got is None:
            got = self._rebound[id(entry)] = (entry, _Rebound(entry, self))
        return got[1]

    @staticmethod
    def _unbound(entry):
        """The base's own build behind ``entry``."""
        return entry._entry if isinstance(entry, _Rebound) else entry

    # -------------------------------------------------------------- building
    def _parse(self) -> Parsed:
        if self._base is not None:
            return self._base._parse()
        if self._parsed is None:
            self._parsed = parse(self.f)
        return self._parsed

    def _build(self, args, specialise: bool = False, general: Emitted | None = None) -> Emitted:
        """The derivative for ``args``' signature: specialised to ranks, or with
        ``specialise`` to shapes too (reusing the pure derivative of ``general``, the build
        for the same ranks, where there is one)."""
        parsed = self._parse()
        core = normalize(parsed, args)
        n = len(core.params)
        for i in self.wrt:
            if not isinstance(i, int) or not -n <= i < n:
                raise WrtTypeError(
                    f"wrt={i!r} does not name an argument of {parsed.node.name}() "
                    f"(it takes {n}: {', '.join(core.params)}); pass argument positions",
                    parsed.filename,
                    parsed.node.lineno,
                )
        wrt = tuple(i % n for i in self.wrt)
        if core.returns_tuple and not self.has_aux and self.mode == "grad":
            raise NonScalarOutputError(
                f"{parsed.node.name}() returns a tuple; grad needs a scalar. If the extra values "
                "are auxiliary outputs pass has_aux=True; for several outputs use vjp",
                parsed.filename,
                parsed.node.body[-1].lineno,
            )
        if args is not None:
            self._check_wrt_args(parsed, core, wrt, args)
        shapes = None
        if not self.with_gradients:
            # the function itself, compiled: the forward pass without tangents
            analysis = analyze(core, (), args, whole_output=True, mode="forward")
            der = forward(analysis, (0,))
            der.node.name = "fwd_" + core.node.name
        elif self.mode == "jvp":
            analysis = analyze(core, wrt, args, whole_output=True, mode="forward")
            der = forward(analysis, self.options.get("select", ()))
        else:
            analysis = analyze(core, wrt, args, whole_output=self.mode == "vjp")
            if specialise and args is not None:  # before reverse() rewrites the core
                shapes = concrete_shapes(analysis, args)
                fused = self._fused(wrt, args, shapes) if may_fuse(core) else None
                if fused is not None:  # shown: the derivative of the loops as written
                    if general is not None:
                        fused.pure = general.pure or general
                    else:
                        mode = "vjp" if self.mode == "vjp" else "grad"
                        fused.pure = _Deferred(lambda: simplify(reverse(analysis, mode)))
                    return fused
                if general is not None and getattr(general, "der", None) is not None:
                    # the pure derivative of these ranks is built already: optimize it again
                    run = self._emit_optimized(general.der, args, shapes)
                    run.pure = general.pure or general
                    return run
            optimizing = self.options.get("optimize", True)
            if optimizing and self.mode == "grad" and not self.has_aux and _one_scalar(args, wrt):
                run = self._forward_gradient(wrt, args)
                if run is not None:  # the reverse-mode derivative is only shown: made then

                    def shown(analysis=analysis):
                        return simplify(reverse(analysis, "grad"))

                    run.pure = _Deferred(shown)
                    return run
            der = reverse(analysis, "vjp" if self.mode == "vjp" else "grad")
        simplify(der)
        if not self.options.get("optimize", True):
            return emit(der)
        if not specialise and args is not None and _has_arrays(args):
            # the build for these ranks runs once before the one specialised to these shapes
            # replaces it: it runs pure, and is optimized only where it is used for a second
            # signature (see _tier); the first call pays no optimize pass it would not keep
            run = emit(der)
            run.specialisable = run.provisional = True
            run.der = der  # what the builds specialised to shapes start from
            return run
        run = emit(self._optimize(der, args, shapes))
        run.pure = _Deferred(der)  # compiled when shown or transformed again
        return run

    def _emit_optimized(self, der, args, shapes=None) -> Emitted:
        """``emit(self._optimize(der, ...))`` for a ``der`` kept for more builds: the names the
        pass takes (buffers, pools, masks) are given back after, so each build of ``der`` is
        the one a derivative made from scratch would make, whatever was built before."""
        refs = der.refs
        taken, by_id, injected = set(refs.names.taken), dict(refs.by_id), dict(refs.injected)
        try:
            return emit(self._optimize(der, args, shapes))
        finally:
            refs.names.taken.intersection_update(taken)
            refs.by_id, refs.injected = by_id, injected

    def _optimize(self, der, args, shapes=None):
        """``der`` optimized for ``args`` (and their ``shapes``), as the options ask."""
        return optimize(der, args, shapes, pools=self.options.get("pool_buffers", True))

    def _optimized_for(self, rkey, general, args):
        raw = self._unbound(general)
        return self._made(("optimized", rkey), lambda: self._optimized(raw, args))

    def _optimized(self, general: Emitted, args) -> Emitted:
        """The provisional build ``general`` (pure) optimized for its ranks."""
        run = self._emit_optimized(general.der, args)
        run.specialisable = True
        run.der = general.der
        run.pure = general
        return run

    def _fused(self, wrt, args, shapes) -> Emitted | None:
        """The running derivative of the core with its loops of ``np.einsum`` products fused
        into one contraction each (:mod:`sourcegrad.transform.fuse`), specialised to ``args``'
        shapes; None where nothing fuses, or where the stacked operands' shapes are not
        known to agree."""
        if not self.options.get("optimize", True):
            return None
        core = normalize(self._parse(), args)
        stacked = fuse_contractions(core, shapes)
        if not stacked:
            return None
        analysis = analyze(core, wrt, args, whole_output=self.mode == "vjp")
        fused_shapes = concrete_shapes(analysis, args)
        if any(fused_shapes.get(name) is None for name in stacked):
            return None  # operands of different shapes, or a product that broadcasts
        der = reverse(analysis, "vjp" if self.mode == "vjp" else "grad")
        simplify(der)
        dtypes = known_dtypes(der, args)
        if not all(getattr(dtypes.get(name), "kind", None) in ("f", "c") for name in stacked):
            return None  # integers or booleans summed in one product would not promote
        return emit(self._optimize(der, args, fused_shapes))

    def _forward_gradient(self, wrt, args) -> Emitted | None:
        """The gradient with respect to one scalar, run in forward mode: one sweep with its
        tangent alongside, no tape (what a hand-written derivative of a scalar function does).
        None where forward mode cannot be built; the reverse-mode derivative runs then."""
        try:  # a core of its own: the reverse pass rewrites the one it was given
            analysis = analyze(
                normalize(self._parse(), args), wrt, args, whole_output=True, mode="forward"
            )
            der = forward(analysis, ())
            simplify(der)
            fast = self._optimize(der, args)
            (i,) = wrt
            x = args[i]
            kind = float if type(x) is float else type(x) if isinstance(x, np.floating) else None
            scalar = kind is not None and _scalar_tangent(fast, kind)
            run = emit(fast)
        except SourcegradError:
            return None
        (param,) = run.tangent_params
        jvp = run.fn
        if scalar:  # it returns (value, kind(tangent)) itself: no call in between
            # the seed tangent, without a keyword per call (the function's own kept)
            jvp.__kwdefaults__ = dict(jvp.__kwdefaults__ or {}, **{param: kind(1)})
            return run
        seed = x.dtype.type(1) if isinstance(x, np.generic) else None
        jvp.__kwdefaults__ = dict(jvp.__kwdefaults__ or {}, **{param: seed})

        def gradient(*a, **kw):  # kw: the function's keyword-only arguments
            x = a[i]
            if type(x) is np.ndarray:
                kw = dict(kw, **{param: np.ones_like(x)})
            value, t = jvp(*a, **kw)
            return value, _as_gradient(x, t)

        run.fn = gradient
        return run

    def _check_wrt_args(self, parsed, core, wrt, args):
        for i in wrt:
            if i >= len(args):
                continue
            x = args[i]
            if self._checked and (x is None or isinstance(x, (str, bytes))):
                raise WrtTypeError(
                    f"{core.params[i]} is {type(x).__name__}, not a float, an array or a "
                    "container of them, so it has no gradient; leave it out of wrt",
                    parsed.filename,
                    parsed.node.lineno,
                )
            for path, leaf in _leaves(args[i]):
                kind = getattr(getattr(leaf, "dtype", None), "kind", None)
                if dataclasses.is_dataclass(leaf) and not isinstance(leaf, type):
                    where = core.params[i] + "".join(f"[{k!r}]" for k in path)
                    raise WrtTypeError(
                        f"{where} is a dataclass ({type(leaf).__name__}); gradients are built "
                        "for dicts, lists, tuples and namedtuples of arrays: pass "
                        f"dataclasses.asdict({where}) (or a namedtuple) and read its fields "
                        "from that",
                        parsed.filename,
                        parsed.node.lineno,
                    )
                if isinstance(leaf, complex) or kind == "c":
                    where = core.params[i] + "".join(f"[{k!r}]" for k in path)
                    raise WrtTypeError(
                        f"{where} is complex; sourcegrad differentiates with respect to real "
                        f"values: pass its real and imaginary parts ({where}.real, "
                        f"{where}.imag) as float arguments and build it inside the function",
                        parsed.filename,
                        parsed.node.lineno,
                    )
                integer = isinstance(leaf, (bool, int, np.integer)) or kind in ("i", "u", "b")
                if integer:
                    where = core.params[i] + "".join(f"[{k!r}]" for k in path)
                    raise WrtTypeError(
                        f"{where} is an integer, so it has no gradient; pass floats (e.g. "
                        f"{where}.astype(float)), or leave it out of wrt",
                        parsed.filename,
                        parsed.node.lineno,
                    )

    def _entry(self, args, specialise: bool = False) -> Emitted:
        last = self._last
        if last is not None and last[0](args):  # the signature of the previous call again
            return last[1]
        key = tuple([call_signature(a) for a in args])
        entry = self._cache.get(key)
        if entry is None:
            with self._lock:
                entry = self._cache.get(key)
                if entry is None:
                    entry = self._tier(key, args, specialise)
        if self._cache.get(key) is entry:  # final for this signature: remember it
            self._remember(key, args, entry)
        return entry

    def _check_arity(self, args) -> None:
        """Refuse positional arguments ``args`` where they are too many or too few for ``f``
        (as Python would, calling ``f`` with them)."""
        f = self.f
        code = getattr(f, "__code__", None)
        if code is None:
            return
        n, argcount, kwonly = len(args), code.co_argcount, code.co_kwonlyargcount
        # generated code passes keyword-only values after the positional ones (split_args)
        most = argcount if self._checked else argcount + kwonly
        if argcount - len(f.__defaults__ or ()) <= n and (n <= most or code.co_flags & 0x04):
            if not kwonly or not self._checked:
                return
            names = code.co_varnames[argcount : argcount + kwonly]
            if all(name in (f.__kwdefaults__ or {}) for name in names):
                return
        problem = _call_problem(f, n)
        if problem is not None:
            raise self._argument_error(problem)

    def _argument_error(self, problem: str) -> ArgumentError:
        name = getattr(self.f, "__name__", "f")
        then = {"grad": "", "vjp": ", then the output gradient", "jvp": ", then the tangent"}
        return ArgumentError(
            f"{problem} ({self.__name__}, made by sourcegrad, takes the arguments of "
            f"{name}(){then[self.mode]})"
        )

    def _remember(self, key, args, entry: Emitted) -> None:
        """Make ``args``' signature the one a call checks first: ``_last`` holds its guard, and
        a plain gradient gets a ``__call__`` of its own (on a class made for this object) that
        checks the signature inline and calls the generated function directly: one Python
        frame between the caller and the derivative, ~0.1 µs. Built once per signature."""
        got = self._remembered.get(key)
        if got is None:
            raw = self._unbound(entry)
            made = self._made(("call", key, id(raw)), lambda: self._guard(args, raw), bind=False)
            guard, call, _ = made
            if call is not None and raw is not entry:  # the same call of this one's function
                namespace = dict(call.__globals__, fn=entry.fn, entry=entry)
                call = types.FunctionType(call.__code__, namespace, "__call__")
            got = self._remembered[key] = ((guard, entry), call)
        self._last = got[0]
        call = got[1]
        if call is not None and type(self).__dict__.get("__call__") is not call:
            if self._base is not None:  # a class for this call, shared by the base's derivatives
                self.__class__ = self._made(("class", id(call)), lambda: _with_call(call), False)
            elif type(self) is Transformed:  # a class of its own, __call__ the last remembered
                self.__class__ = _with_call(call)
            else:
                type(self).__call__ = call

    def _guard(self, args, entry) -> tuple:
        """``(guard, direct call or None, entry)`` for ``args``' signature (see _remember)."""
        expr, namespace = guard_expression(args)
        call = self._direct_call(expr, namespace, entry) if self._plain else None
        return compile_guard(expr, namespace), call, entry

    def _direct_call(self, guard: str, namespace: dict, entry: Emitted):
        """``__call__`` for one argument signature (``guard``, an expression over ``args``):
        what :meth:`Transformed.__call__` does for a plain gradient, with nothing looked up."""
        grads = "(grads,)" if self.wrt_tuple and len(self.wrt) == 1 else "grads"
        result = f"(value, {grads})" if self.with_value else grads
        text = (
            "def __call__(self, *args, **kwargs):\n"
            f"    if not kwargs and {guard}:\n"
            "        try:\n"
            "            value, grads = fn(*args)\n"
            "        except SourcegradError:\n"
            "            raise\n"
            "        except Exception as exc:\n"
            "            self._explain(exc, entry, args)\n"
            "            raise\n"
            '        if type(value) is not float and getattr(value, "ndim", None) != 0:\n'
            "            if ndim(value) != 0:\n"
            "                self._non_scalar(value)\n"
            f"        return {result}\n"
            "    return generic(self, *args, **kwargs)\n"
        )
        namespace = dict(
            namespace,
            fn=entry.fn,
            entry=entry,
            SourcegradError=SourcegradError,
            ndim=np.ndim,
            generic=Transformed.__call__,
        )
        exec(
            compile(text, f"<sourcegrad call of {self.__name__}>", "exec"), namespace
        )  # noqa: S102
        return namespace["__call__"]

    def _tier(self, key, args, specialise: bool) -> Emitted:
        """The derivative for ``args``: the one specialised to ranks, until these shapes have
        been seen :data:`SPECIALISE_AFTER` times (or ``specialise``); then one specialised to
        the shapes too, where its code has shape-dependent helpers to remove."""
        rkey = tuple([_rank_signature(a) for a in args])
        general = self._ranked.get(rkey)
        if general is None:
            general = self._ranked[rkey] = self._made(("ranks", rkey), lambda: self._build(args))
            self._first[rkey] = key
        elif general.provisional and key != self._first.get(rkey):
            # a second signature of these ranks: the build for them is worth optimizing
            general = self._ranked[rkey] = self._optimized_for(rkey, general, args)
        if not general.specialisable or self._specialised >= MAX_SPECIALISED:
            if general.provisional:
                general = self._ranked[rkey] = self._optimized_for(rkey, general, args)
            self._cache[key] = general
            return general
        entry = self._stored(("shapes", key))  # specialised for another derivative of f
        if entry is None:
            # calls of every derivative of the base count: one made per step specialises too
            seen_by = self._seen if self._base is None else self._base._seen
            seen = seen_by.get(key, 0) + 1
            if seen < SPECIALISE_AFTER and not specialise:
                if len(seen_by) >= _STORE_LIMIT:
                    seen_by.clear()
                seen_by[key] = seen
                return general
            raw = self._unbound(general)
            entry = self._made(
                ("shapes", key), lambda: self._build(args, specialise=True, general=raw)
            )
        self._specialised += 1
        self._cache[key] = entry
        (self._seen if self._base is None else self._base._seen).pop(key, None)
        return entry

    def _generic(self) -> Emitted:
        entry = self._cache.get(None)
        if entry is None:
            with self._lock:
                entry = self._cache.get(None) or self._made(("generic",), lambda: self._build(None))
                self._cache[None] = entry
        return entry

    def generic(self, *args):
        """Call the derivative built without rank information (the code ``source(df)`` shows).

        Gives the same results as calling ``df``; it exists so that the rank-generic code path
        can be checked and timed.
        """
        if self.mode == "vjp":
            value, grads = self._generic().fn(*self.bound_self, *args[:-1], g_out=args[-1])
        elif self.mode == "jvp":
            entry = self._generic()
            value, grads = entry.fn(*self.bound_self, *args[:-1], **self._tangents(entry, args[-1]))
        else:
            value, grads = self._generic().fn(*self.bound_self, *args)
        return self._finish(value, grads)

    def held_bytes(self) -> int:
        """Bytes of the buffers this derivative keeps from one call to the next (its pools,
        in every thread; see ``pool_buffers``). They are freed with the derivative object,
        or with the thread that made them."""
        entries = list(self._cache.values()) + list(self._ranked.values())
        pools = {id(p): p for e in entries for p in getattr(e, "held", ())}
        return sum(p.held_bytes() for p in pools.values())

    def source(self, *example_args) -> str:
        """The derivative's source; specialised to ``example_args``' signature if given."""
        if example_args:
            return self._entry(self.bound_self + example_args, specialise=True).pretty()
        return self._generic().pretty()

    # -------------------------------------------------------------- calling
    def _tangents(self, entry: Emitted, t_in) -> dict:
        """The tangent keyword arguments of the generated jvp function."""
        if self.wrt_tuple and not isinstance(t_in, (tuple, list)):
            raise ArgumentError(
                f"{self.__name__}() needs a tuple of {len(self.wrt)} tangents, one per wrt "
                f"argument, got a {type(t_in).__name__}"
            )
        ts = tuple(t_in) if self.wrt_tuple else (t_in,)
        if len(ts) != len(self.wrt):
            raise ArgumentError(
                f"{self.__name__}() needs one tangent per wrt argument ({len(self.wrt)}), "
                f"got {len(ts)}"
            )
        return dict(zip(entry.tangent_params, ts))

    def __call__(self, *args, **kwargs):
        if self._plain and not kwargs:  # the common case, with as little work as possible
            last = self._last
            if last is not None and last[0](args):
                entry = last[1]
            else:
                self._check_arity(args)
                entry = self._entry(args)
            try:  # self._run, inlined: one call less on the path every call takes
                value, grads = entry.fn(*args)
            except SourcegradError:
                raise
            except Exception as exc:
                self._explain(exc, entry, args)
                raise
            if type(value) is not float and getattr(value, "ndim", None) != 0:
                if np.ndim(value) != 0:
                    self._non_scalar(value)
            if self.wrt_tuple and len(self.wrt) == 1:
                grads = (grads,)
            return (value, grads) if self.with_value else grads
        seed_kw = _SEED_KEYWORD.get(self.mode)
        if seed_kw is not None and seed_kw not in kwargs:
            if not args:
                raise self._argument_error(f"{self.__name__}() got no arguments")
            args, kwargs = args[:-1], dict(kwargs, **{seed_kw: args[-1]})
        seed = kwargs.pop(seed_kw) if seed_kw is not None else None
        if seed is None and seed_kw is not None and self._checked:
            what = "output gradient" if self.mode == "vjp" else "tangent"
            raise ArgumentError(
                f"{self.__name__}() got None for its {what} ({seed_kw}); pass an array or float "
                f"shaped like {'the output' if self.mode == 'vjp' else 'the argument'} "
                f"of {self.f.__name__}()"
            )
        args = self.bound_self + args
        if kwargs:  # one value per parameter, keyword-only ones last (core.params' order)
            try:
                args = full_args(self.f, args, kwargs)
            except TypeError:
                problem = _call_problem(self.f, len(args), tuple(kwargs))
                if problem is None:
                    raise
                raise self._argument_error(problem) from None
        else:
            self._check_arity(args)
        entry = self._entry(args)
        if not self.with_gradients:
            return self._run(entry, args)
        if self.mode == "vjp":
            value, grads = self._run(entry, args, g_out=seed)
            if self._checked:
                self._check_seed(value, seed)
        elif self.mode == "jvp":
            tangents = self._tangents(entry, seed)
            if self._checked:
                self._check_tangents(args, tangents.values())
            value, grads = self._run(entry, args, **tangents)
            return value, _not_aliasing(grads, seed)
        else:
            value, grads = self._run(entry, args)
        return self._finish(value, grads)

    def _check_seed(self, out, g_out) -> None:
        """Refuse an output gradient ``g_out`` that does not fit the output ``out``."""
        if type(g_out) is np.ndarray and type(out) is np.ndarray and g_out.shape == out.shape:
            return
        problem = seed_problem(out, g_out, f"the output of {self.f.__name__}()", exact=False)
        if problem is not None:
            raise SeedError(f"{self.__name__}(): {problem}")

    def _check_tangents(self, args, tangents) -> None:
        """Refuse tangents that are not shaped like the arguments they go with."""
        names = getattr(getattr(self.f, "__code__", None), "co_varnames", ())
        for i, t in zip(self.wrt, tangents):
            x = args[i]
            if type(t) is np.ndarray and type(x) is np.ndarray and t.shape == x.shape:
                continue
            name = names[i] if -len(names) <= i < len(names) else f"argument {i}"
            problem = seed_problem(x, t, name, exact=True)
            if problem is not None:
                raise SeedError(f"{self.__name__}(): {problem}")

    def _run(self, entry: Emitted, args, **kwargs):
        """``entry.fn(*args, **kwargs)``; an error that is not sourcegrad's is explained (the
        user's own function failing, a non-scalar output) before it propagates."""
        pos, kwonly = split_args(self.f, args)
        try:
            return entry.fn(*pos, **kwonly, **kwargs)
        except SourcegradError:
            raise
        except Exception as exc:
            self._explain(exc, entry, args, kwargs.get("g_out"))
            raise

    def _finish(self, value, grads):
        """What the call returns, from the generated function's ``(value, grads)``."""
        if self.mode == "jvp":
            return value, grads
        if self.stable:
            grads = self._stabilise(grads)
        if self.wrt_tuple and len(self.wrt) == 1:
            grads = (grads,)
        if self.mode == "vjp":
            return (value, grads) if self.with_value else grads
        if self.has_aux:
            self._check_aux(value)
        loss = value[0] if self.has_aux else value
        if isinstance(loss, tuple) or np.ndim(loss) != 0:
            self._non_scalar(loss)
        if self.has_aux:
            aux = value[1]
            if self.with_value:
                return (loss, aux), grads
            return grads, aux
        return (value, grads) if self.with_value else grads

    def _stabilise(self, grads):
        """``stable_gradients=True``: the arrays handed out by this thread's first call for this
        argument signature, overwritten with ``grads`` (float leaves are values, not buffers)."""
        store = getattr(self._local, "kept", None)
        if store is None:
            store = self._local.kept = {}
        key = call_signature(grads)
        kept = store.get(key)
        if kept is None:
            store[key] = grads
            return grads
        return _copy_into(kept, grads)

    def _check_aux(self, out) -> None:
        """Refuse an output that is not the pair ``(loss, aux)`` ``has_aux=True`` asks for."""
        if isinstance(out, tuple) and len(out) == 2:
            return
        parsed = self._parse()
        got = f"a tuple of {len(out)} values" if isinstance(out, tuple) else type(out).__name__
        raise AuxError(
            f"{parsed.node.name}() returned {got}; with has_aux=True it must return a pair "
            "(loss, aux): put several auxiliary values in one tuple, or leave has_aux out "
            "for a function that returns the loss alone",
            parsed.filename,
            parsed.node.body[-1].lineno,
        )

    def _non_scalar(self, loss):
        parsed = self._parse()
        if isinstance(loss, tuple):
            raise NonScalarOutputError(
                f"{parsed.node.name}() returned a tuple; grad needs a scalar. If the extra "
                "values are auxiliary outputs pass has_aux=True; for several outputs use vjp",
                parsed.filename,
                parsed.node.body[-1].lineno,
            )
        raise NonScalarOutputError(
            f"{parsed.node.name}() returned an array of shape {np.shape(loss)}; grad needs a "
            "scalar output (reduce it, e.g. with np.sum), or use sourcegrad.vjp for an "
            "array-valued function",
            parsed.filename,
            parsed.node.body[-1].lineno,
        )

    def _explain(self, exc, entry: Emitted, args, g_out=None):
        if isinstance(exc, TypeError) and _at_the_call(exc):  # the call itself does not fit
            problem = re.sub(r"^[\w.<>]+\(\)", f"{self.f.__qualname__}()", str(exc), count=1)
            raise self._argument_error(problem) from None
        if self.mode == "grad" or (self.mode == "vjp" and self._checked):
            try:
                pos, kwonly = split_args(self.f, args)
                out = self.f(*pos, **kwonly)
            except Exception:  # noqa: BLE001 - the user's function fails by itself: keep exc
                pass
            else:
                if self.mode == "vjp":
                    self._check_seed(out, g_out)
                else:
                    if self.has_aux:
                        self._check_aux(out)
                    loss = out[0] if self.has_aux else out
                    if not isinstance(loss, tuple) and np.ndim(loss) != 0:
                        self._non_scalar(loss)
        tb = exc.__traceback__
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == entry.filename:
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is None or not hasattr(exc, "add_note"):
            return
        parsed = self._parse()
        user_line = entry.line_map.get(line)
        text = parsed.line_text(user_line) if user_line else ""
        exc.add_note(
            f"sourcegrad: raised in generated {entry.name} (line {line - 1}), which "
            f"differentiates {parsed.filename}:{user_line}: {text}"
        )


def full_args(f, args: tuple, kwargs: dict) -> tuple:
    """The arguments of the call ``f(*args, **kwargs)`` as one tuple in the order of ``f``'s
    parameters: every positional parameter (defaults filled in), then every keyword-only one.
    This is how a derivative takes its example arguments (``core.params``' order);
    :func:`split_args` turns it back into a call. ``args`` may hold keyword-only values
    already, after the positional ones, in that order (as generated code passes them)."""
    import inspect

    args, given = split_args(f, tuple(args))
    sig = inspect.signature(f)
    bound = sig.bind(*args, **given, **kwargs)
    bound.apply_defaults()
    kwonly = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
    return tuple(bound.args) + tuple(bound.arguments[name] for name in kwonly)


def split_args(f, args: tuple) -> tuple[tuple, dict]:
    """``(positional, keyword-only)``: ``args`` (in ``f``'s parameter order, as
    :func:`full_args` makes them) as a call of ``f`` or of a derivative with ``f``'s
    parameters; the values after ``f``'s positional parameters go by keyword."""
    code = getattr(f, "__code__", None)
    if code is None or len(args) <= code.co_argcount or code.co_flags & 0x04:  # CO_VARARGS
        return args, {}
    n = code.co_argcount
    names = code.co_varnames[n : n + code.co_kwonlyargcount]
    return args[:n], dict(zip(names, args[n:]))


def _copy_into(kept, new):
    """``kept`` with ``new``'s values written into its arrays (same structure)."""
    if is_container(kept):
        from .runtime.containers import rebuild

        new_children = dict(children(new))
        return rebuild(kept, {k: _copy_into(v, new_children[k]) for k, v in children(kept)})
    if isinstance(kept, np.generic):  # a NumPy scalar is immutable, like a float
        return new
    if isinstance(kept, np.ndarray) or hasattr(kept, "__array_namespace__"):
        kept[...] = new
        return kept
    return new


def _not_aliasing(tangent, given):
    """``tangent``, copied where it is one of the caller's own tangent arrays."""
    given = given if isinstance(given, tuple) else (given,)
    ids = {id(g) for g in given if hasattr(g, "shape")}
    if id(tangent) in ids:
        return tangent.copy()
    if isinstance(tangent, tuple) and any(id(t) in ids for t in tangent):
        return type(tangent)(t.copy() if id(t) in ids else t for t in tangent)
    return tangent


def vjp_of(fn: Callable, wrt):
    """The vjp of a function object made at run time (a nested ``def`` or a lambda).

    Functions with the same code share one transform; each call runs it with the closure of
    the function object it is given, so every instance sees its own captured variables.
    """
    from .higher import derivative_vjp, is_derivative

    if is_derivative(fn):
        return derivative_vjp(fn, wrt)
    return _dynamic(fn, wrt, "vjp")


def _dynamic(fn, wrt, mode):
    if not isinstance(fn, types.FunctionType):
        return _Called(fn, wrt, mode)
    # functions with the same code (and what their transformation reads) share the builds,
    # each run with its own closure (_derivative)
    return _derivative(fn, wrt, mode, False, mode == "jvp", {"internal": True})


class _Called:
    """The vjp or jvp of a function value that is not a plain function (a bound method, an
    object with ``__call__``, a NumPy function with a rule): the plain function behind it
    (:func:`sourcegrad.callables.as_function`) with its leading arguments, looked up when the
    derivative calls it."""

    def __init__(self, fn, wrt, mode):
        self.fn, self.wrt, self.mode = fn, wrt, mode

    def __call__(self, *args, g_out=None, t_in=None):
        function, leading = as_function(self.fn, len(args))
        n = len(leading)
        wrt = tuple(i + n for i in self.wrt) if isinstance(self.wrt, tuple) else self.wrt + n
        t = _dynamic(function, wrt, self.mode)
        if self.mode == "jvp":
            return t(*leading, *args, t_in=t_in)
        return t(*leading, *args, g_out=g_out)

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
        wrt = tuple(i + n for i in self.wrt) if isinstance(self.wrt, tuple) else self.wrt + n
        return jvp_of(_dynamic(function, inner, c.mode), wrt)(*leading, *args, t_in=t_in)


def _scalar_tangent(der, kind) -> bool:
    """Make the generated jvp ``der`` return its tangent as a scalar of ``kind`` (the gradient
    with respect to a float is a float, to a NumPy scalar one of its type; zero where the
    output does not depend on it); False where its return is not ``(value, tangent)``."""
    ret = der.node.body[-1]
    if not (isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple)):
        return False
    if len(ret.value.elts) != 2:
        return False
    helper, extra = (float_gradient, []) if kind is float else (typed_gradient, [kind])
    args = [ret.value.elts[1]] + [S.name(der.refs.ref(k, k.__name__)) for k in extra]
    ret.value.elts[1] = S.call(S.name(der.refs.ref(helper, helper.__name__)), args)
    return True


def grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Transformed:
    """The gradient of scalar-valued ``f`` with respect to argument ``wrt``.

    ``grad(f)(*args)`` returns a gradient with exactly the structure of ``args[wrt]``
    (nested dict/list/tuple/namedtuple of arrays and floats; floats get floats, unused leaves
    get zeros). A tuple ``wrt`` gives a tuple of gradients. With ``has_aux=True``, ``f`` returns
    ``(loss, aux)`` and the call returns ``(gradient, aux)``. Returned arrays are fresh: the
    caller owns them, and the arguments are never modified.

    ``f`` may itself be a gradient made by sourcegrad (``grad(grad(f))``, any order) when that
    gradient is a scalar.

    Options: ``with_forward=True`` also returns the value (as :func:`value_and_grad`);
    ``with_gradients=False`` returns ``f``'s value only, from ``f`` compiled to core form;
    ``stable_gradients=True`` returns the same gradient arrays on every call (per thread and
    argument signature), overwritten in place, instead of fresh ones; ``pool_buffers=False``
    allocates the intermediates on every call (and frees each after its last use) instead of
    keeping them in per-thread buffers from one call to the next (see ``held_bytes()``).
    """
    from .higher import grad_of_derivative, is_derivative

    if is_derivative(f):
        return grad_of_derivative(f, wrt)
    return _derivative(f, wrt, "grad", has_aux, False, options)


def value_and_grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Transformed:
    """Like :func:`grad`, but the call returns ``(value, gradient)``
    (``((value, aux), gradient)`` with ``has_aux``)."""
    return _derivative(f, wrt, "grad", has_aux, True, options)


def vjp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Vector-Jacobian product: ``vjp(f)(*args, g_out)`` is the gradient of
    ``sum(f(*args) * g_out)`` with respect to ``args[wrt]``; ``f`` may return an array."""
    return _derivative(f, wrt, "vjp", False, False, options)


def jvp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Jacobian-vector product (forward mode): ``jvp(f)(*args, tangent)`` returns
    ``(f(*args), directional derivative of f at args along tangent)``.

    ``tangent`` has the structure of ``args[wrt]`` (a tuple of those for a tuple ``wrt``); the
    result's tangent has the structure of ``f``'s value. The generated code keeps ``f``'s
    control flow and computes each tangent right after its value.
    """
    from .higher import Jvp, is_derivative

    if is_derivative(f):
        return Jvp(f, wrt)
    return _derivative(f, wrt, "jvp", False, True, options)


def jvp_of(fn: Callable, wrt):
    """The jvp of a function known only when the derivative runs: a nested ``def``, a lambda,
    or a function made by sourcegrad. Called as ``jvp_of(fn, wrt)(*args, t_in=t)``."""
    from .higher import Jvp, is_derivative

    if isinstance(fn, _Called):
        return fn.jvp(wrt)
    if is_derivative(fn):
        return Jvp(fn, wrt)
    return _dynamic(fn, wrt, "jvp")


def source(df: Transformed, *example_args) -> str:
    """The generated source of ``df`` (black-formatted).

    Without ``example_args`` the derivative makes no assumption about ranks; with them it is the
    code that runs for arguments of that signature.
    """
    if not isinstance(df, Transformed):
        raise SourcegradError(f"source() takes a function made by sourcegrad.grad, got {df!r}")
    return df.source(*example_args)


def show(
    f: Callable,
    wrt: int | Sequence[int] = 0,
    *,
    mode: str = "reverse",
    args: Sequence | None = None,
    order: int = 1,
    optimized: bool = False,
) -> str:
    """The derivative source of ``f`` as :func:`source` prints it.

    ``mode="forward"`` shows the jvp; ``order=2`` the Hessian-vector product (forward mode over
    the reverse-mode gradient), ``order=3`` forward mode over that, and so on. ``optimized``
    shows the code that runs (in-place accumulation, generated container builders) instead of
    the pure derivative.
    """
    from .higher import source_of_order

    if mode not in ("reverse", "forward"):
        raise SourcegradError(f"mode={mode!r} is not available; use 'reverse' or 'forward'")
    if not isinstance(order, int) or order < 1:
        raise SourcegradError(f"order={order!r}: pass a positive integer")
    if order == 1:
        df = grad(f, wrt) if mode == "reverse" else jvp(f, wrt)
        if optimized:
            entry = df._entry(df.bound_self + tuple(args), True) if args else df._generic()
            return entry.pretty(optimized=True)
        return df.source(*(args or ()))
    if mode == "forward":
        raise SourcegradError(
            "--order above 1 is forward mode over the reverse-mode gradient; leave out "
            "--mode forward"
        )
    return source_of_order(f, wrt, order, tuple(args or ()))
