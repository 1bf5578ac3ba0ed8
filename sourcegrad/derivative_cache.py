"""Builds shared by the derivatives of one function's code.

``grad(f)`` made again (in a training loop, or for another closure of the same ``def``) runs
the builds made before where the transformation would read the same objects: the same code,
``wrt``, mode and options, module settings and rule tables, and the same values behind the
names the code reads (:func:`cached_base`). The derivative kept for that key (the *base*)
holds the builds; a derivative of another function object with that code runs them rebound to
its own globals, closure cells and defaults (:func:`rebinder`, :class:`Rebound`).

A derivative also keeps the shape patterns it is called with (:class:`Patterns`): which
build serves a whole pattern, and when one is made.
"""

from __future__ import annotations

import os
import threading
import types
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import notes
from .disk_cache import is_generated
from .errors import SourcegradError
from .pipeline import Emitted, build_settings
from .runtime.signature import compile_guard, family_guard_expression, shape_pattern
from .transform.environment import EMPTY_CELL, environment

#: derivatives made by grad, value_and_grad, vjp and jvp (and for generated code by vjp_of and
#: jvp_of; the gradient an hvp or hessian of a function transforms is grad's), by the code of
#: the function and the rest that decides the transformation (see cached_base); at most
#: CODE_CACHE_SIZE of them, the least recently asked for dropped first
CODE_CACHE_SIZE = int(os.environ.get("SOURCEGRAD_CODE_CACHE", "64"))
_CODE_CACHE: OrderedDict = OrderedDict()
_CODE_LOCK = threading.Lock()
STORE_LIMIT = 64  # builds kept for the derivatives of one function (beyond: made per object)


def clear_cache() -> None:
    """Forget the derivatives kept for reuse (each derivative object keeps its own builds)."""
    with _CODE_LOCK:
        _CODE_CACHE.clear()


def cache_key(
    f: Callable, wrt: Any, mode: str, has_aux: bool, options: dict
) -> tuple[tuple, list] | None:
    """``(key, environment)`` under which the builds of a derivative of ``f`` are kept for
    reuse; None where they are not (a callable that is no plain function, an unhashable
    ``wrt`` or option, stable gradients, the cache turned off). ``grad(f)`` and
    ``value_and_grad(f)`` share their builds (both run code that returns the value too), and
    so do ``wrt=0`` and ``wrt=(0,)`` (only what the call returns differs)."""
    fn, bound = f, ()
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        fn, bound = f.__func__, (f.__self__,)
    if (
        CODE_CACHE_SIZE <= 0
        or type(fn) is not types.FunctionType
        or options.get("stable_gradients")
    ):
        return None
    try:
        seq = isinstance(wrt, (tuple, list))
        key = (tuple(wrt) if seq else (wrt,), mode, has_aux)  # (the same builds for 0, (0,))
        key += tuple(sorted(options.items())) + build_settings()
        env = environment(fn) + list(bound)
        key += tuple([id(x) for x in env])
        hash(key)
    except TypeError:  # an unhashable wrt or option: refused (or made) by Transformed
        return None
    return key, env


def cached_base(key: tuple, env: list) -> Any:
    """The base derivative kept for ``key`` (see :func:`cache_key`) where the objects it was
    made for are still those of ``env``; else None."""
    with _CODE_LOCK:
        hit = _CODE_CACHE.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], env)):
            _CODE_CACHE.move_to_end(key)
            return hit[1]
    return None


def keep_base(key: tuple, env: list, base: Any) -> None:
    """Keep ``base`` for ``key``, dropping the least recently used beyond
    :data:`CODE_CACHE_SIZE`."""
    with _CODE_LOCK:
        _CODE_CACHE[key] = (env, base)
        while len(_CODE_CACHE) > CODE_CACHE_SIZE:
            _CODE_CACHE.popitem(last=False)


class BuildStore:
    """The builds of a base derivative, made once for every derivative that runs them:
    ``key`` -> build, at most :data:`STORE_LIMIT` of them."""

    def __init__(self):
        self.builds: dict = {}
        self.lock = threading.RLock()

    def get(self, key: Any) -> Any:
        """The build ``key`` names; None where none was made."""
        return self.builds.get(key)

    def made(self, key: Any, make: Callable[[], Any]) -> Any:
        """The build ``key`` names, made by ``make()`` the first time."""
        entry = self.builds.get(key)
        if entry is None:
            with self.lock:
                entry = self.builds.get(key)
                if entry is None:
                    entry = make()
                    if len(self.builds) < STORE_LIMIT:
                        self.builds[key] = entry
                        _lighten(entry)
        return entry


def rebinder(old: Callable, new: Callable) -> Callable[[Any], Any]:
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
                if type(value) is types.FunctionType and is_generated(value.__code__.co_filename):
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
                if kwdefaults.get(k, EMPTY_CELL) is v and new.__kwdefaults__[k] is not v:
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


class Rebound:
    """An :class:`Emitted` of another derivative object, its functions rebound with ``bind``
    (see :func:`rebinder`); everything else is the entry's own. ``rebound(entry)`` gives the
    rebound form of another entry of the same derivative (its pure derivative)."""

    def __init__(self, entry: Emitted, bind: Callable, rebound: Callable[[Any], Any]):
        self._entry = entry
        self._rebound = rebound
        self._bind = bind
        self.fn = bind(entry.fn)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ("_entry", "_rebound", "_bind"):
            raise AttributeError(attr)
        return getattr(self._entry, attr)

    @property
    def pure(self) -> Any:
        pure = self._entry.pure
        return None if pure is None else self._rebound(pure)

    @property
    def source_fn(self) -> Callable:
        pure = self.pure
        return pure.source_fn if pure is not None else self._bind(self._entry.source_fn)


def unbound(entry: Any) -> Any:
    """The base's own build behind ``entry`` (itself where it is not :class:`Rebound`)."""
    return entry._entry if isinstance(entry, Rebound) else entry


class _Missing:
    """The default of a direct ``__call__``'s parameters: an argument the caller left out."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no argument>"


MISSING = _Missing()


def direct_call_text(count: int, guard: str, with_value: bool, single_in_tuple: bool) -> str:
    """The source of a plain gradient's ``__call__`` for one signature of ``count`` arguments
    (``guard``: an expression over their names ``a0``, ``a1``, ..., as ``guard_expression``
    writes it with ``positional``): what ``Transformed.__call__`` does, nothing looked up, the
    arguments taken as positional parameters (none packed into a tuple, indexed and unpacked
    again); any other call (fewer or more arguments, keywords) goes to ``generic`` as it came.
    Compiled once per signature, shared by the derivatives of one base."""
    names = [f"a{i}" for i in range(count)]
    params = "".join(f"{n}=MISSING, " for n in names) + ("/, " if names else "")
    given = "".join(f"{n}, " for n in names)
    grads = "(grads,)" if single_in_tuple else "grads"
    result = f"(value, {grads})" if with_value else grads
    return (
        f"def __call__(self, {params}*args, **kwargs):\n"
        f"    if {guard} and not args and not kwargs:\n"
        "        try:\n"
        f"            value, grads = fn({', '.join(names)})\n"
        "        except SourcegradError as exc:\n"
        "            refuse_located(self, exc, entry)\n"
        "            raise\n"
        "        except Exception as exc:\n"
        f"            explain(self, exc, entry, ({given}))\n"
        "            raise\n"
        '        if type(value) is not float and getattr(value, "ndim", None) != 0:\n'
        "            if ndim(value) != 0:\n"
        "                non_scalar(self, value)\n"
        f"        return {result}\n"
        f"    given = [a for a in ({given}) if a is not MISSING]\n"
        "    return generic(self, *given, *args, **kwargs)\n"
    )


def compiled_call(text: str, namespace: dict, name: str) -> types.FunctionType:
    """The ``__call__`` of :func:`direct_call_text`'s ``text``, compiled over ``namespace``
    (its guard's constants, ``fn``, ``entry`` and ``generic``) and what the text reads."""
    namespace = dict(
        namespace,
        MISSING=MISSING,
        SourcegradError=SourcegradError,
        ndim=np.ndim,
        explain=notes.explain,
        refuse_located=notes.refuse_located,
        non_scalar=notes.non_scalar,
    )
    made = _CALLS.get(text)
    if made is None:
        if len(_CALLS) >= 256:
            _CALLS.clear()
        exec(compile(text, "<sourcegrad call>", "exec"), namespace)  # noqa: S102
        made = _CALLS[text] = namespace["__call__"]
    code = made.__code__.replace(co_filename=f"<sourcegrad call of {name}>")
    return types.FunctionType(code, namespace, "__call__", made.__defaults__)


#: direct_call_text's text -> its ``__call__`` as first compiled (a few texts recur: compiled
#: once, each derivative's made from its code over the derivative's own namespace; ~1 ms each)
_CALLS: dict = {}


def rebound_call(call: types.FunctionType, namespace: dict) -> types.FunctionType:
    """A direct ``__call__`` (:func:`direct_call_text`) reading ``namespace``: the same code
    and parameter defaults."""
    return types.FunctionType(call.__code__, namespace, "__call__", call.__defaults__)


# ---------------------------------------------------------------- builds for shape patterns
#: a build for a shape pattern (its lengths read at run time) is tried when a pattern is
#: called with SYMBOLIC_AFTER signatures (two alternating shapes, a training and a test batch,
#: keep a fully specialised build each); with SYMBOLIC_FIRST (or SOURCEGRAD_SPECIALISE_AFTER=1)
#: on the first call due for specialising, every length of 2 or more free
SYMBOLIC_AFTER = 3
SYMBOLIC_FIRST = (
    os.environ.get("SOURCEGRAD_SPECIALISE_AFTER") == "1"
    or os.environ.get("SOURCEGRAD_SYMBOLIC_SHAPES") == "1"
)
#: builds for shape patterns tried per pattern (one that fails runs the code for its shapes)
MAX_FAMILY_TRIES = 2


class Family:
    """A build that serves every call of one shape pattern, some lengths free: ``guard``
    tests the pattern, ``expression`` is its source and namespace (for a direct
    ``__call__``), made from ``(args, pattern, free)``."""

    __slots__ = ("key", "guard", "expression", "positional", "entry")

    def __init__(self, key, made_for: tuple, entry: Emitted):
        self.key, self.entry = key, entry
        self.expression = family_guard_expression(*made_for)
        self.positional = family_guard_expression(*made_for, positional=True)
        self.guard = compile_guard(*self.expression)


class Patterns:
    """The shape patterns one derivative was called with: per pattern the lengths seen, the
    builds for it (:class:`Family`, newest first) and how many were tried; ``family_of``:
    ``id(entry)`` -> the family whose build it is."""

    def __init__(self):
        self.states: dict = {}  # pattern key -> [lengths seen, families, tries]
        self.family_of: dict = {}
        self.after = SYMBOLIC_AFTER  # (as it was when the derivative was made)

    def find(self, args, due: bool, allowed: bool, make: Callable) -> Any:
        """The build for every call of ``args``' shape pattern: the one made before, or the
        one ``make(key, pattern, other lengths)`` makes (None where it cannot) where
        :meth:`plan` says one is tried now; None where there is none."""
        pattern, entry = self.lookup(args)
        if entry is not None or pattern is None:
            return entry
        plan = self.plan(pattern, due, allowed)
        if plan is None:
            return None
        key, other, free = plan
        entry = make(key, pattern, other)
        if entry is not None:
            self.add(key, (args, pattern, free), entry)
        return entry

    def lookup(self, args) -> tuple:
        """``(pattern, build)``: ``args``' shape pattern (None where it has none) and the
        build that serves it (None where there is none yet)."""
        pattern = shape_pattern(args)
        if pattern is None or not pattern.values:
            return None, None
        state = self.states.get(pattern.key)
        if state is None:
            state = self.states[pattern.key] = [{}, [], 0]
        for family in state[1]:
            if family.guard(args):
                return pattern, family.entry
        if len(state[0]) < STORE_LIMIT:
            state[0][pattern.values] = True
        return pattern, None

    def plan(self, pattern, due: bool, allowed: bool) -> tuple | None:
        """``(key, other lengths, free classes)`` of the build to try for ``pattern`` (called
        by :meth:`lookup` before): free the lengths that differed among its
        :data:`SYMBOLIC_AFTER` signatures (with :data:`SYMBOLIC_FIRST`, once ``due``, every
        length); None where none is tried now (or none is ``allowed``)."""
        state = self.states[pattern.key]
        seen, values = state[0], pattern.values
        if SYMBOLIC_FIRST and due:
            free = list(range(len(values)))
        elif len(seen) >= self.after:
            free = [k for k, v in enumerate(values) if any(o[k] != v for o in seen)]
        else:
            return None
        if state[2] >= MAX_FAMILY_TRIES or not allowed:
            return None
        state[2] += 1
        fixed = tuple(None if k in free else v for k, v in enumerate(values))
        return ("pattern", pattern.key, fixed), other_lengths(values, free), frozenset(free)

    def guard_of(self, entry, key) -> tuple:
        """``(key, guard expressions)`` a call remembers ``entry`` by: its pattern's (over
        ``args`` and over positional names) where it is the build for one, else ``(key,
        None)`` (the guard of the call's signature)."""
        family = self.family_of.get(id(entry))
        if family is None:
            return key, None
        return family.key, (family.expression, family.positional)

    def add(self, key, made_for: tuple, entry) -> None:
        """Run ``entry`` for every call of the pattern ``made_for`` (``(args, pattern,
        free)``) tells."""
        family = Family(key, made_for, entry)
        self.states[made_for[1].key][1].insert(0, family)
        self.family_of[id(entry)] = family


def other_lengths(values: tuple, free) -> tuple:
    """``values`` (a length per class of a shape pattern) with each class of ``free`` given
    another length, keeping the pattern (distinct lengths of 2 or more, none of them a length
    of ``values``): the stand-ins a build for the pattern is checked against."""
    out, used = list(values), set(values)
    for k in sorted(free, key=lambda k: values[k]):
        n = values[k] + 1
        while n in used:
            n += 1
        out[k] = n
        used.add(n)
    return tuple(out)
