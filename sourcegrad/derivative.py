"""The derivative object: call it like the function it differentiates.

A :class:`Transformed` parses its function once. For each *argument signature* (container
structure, ranks, dtypes and array types of the arguments) it builds one derivative through a
:class:`~sourcegrad.pipeline.Pipeline`, so that rank-specific rules emit plain NumPy
(``dz @ W.T``); shapes seen again get a build specialised to them too (the *tiers*, see
:meth:`Transformed._tier`). After that a call runs only the generated code plus a generated
signature guard. Builds are shared between derivatives of the same code
(:mod:`sourcegrad.derivative_cache`); what a call that goes wrong says is in :mod:`notes`."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import arguments, notes
from . import derivative_cache as cache
from .arguments import call_problem, full_args, split_args, with_defaults
from .debug import check_gradients
from .errors import ArgumentError, SourcegradError
from .outputs import kept_arrays, not_aliasing
from .packing import unwrapped
from .pipeline import Emitted, Parsed, Pipeline, parse
from .runtime.signature import call_signature, compile_guard, guard_expression, rank_signature
from .transform.naming import derivative_name

_OPTIONS = {
    "optimize", "debug_hook", "check_finite", "with_forward", "with_gradients",
    "stable_gradients", "pool_buffers", "fuse", "exact",
}  # fmt: skip
#: "select": the part of a jvp's result to compute; "internal": made for generated code, seeds
#: in sourcegrad's own forms, unchecked; "keep_forward": False: callees' vjps run whole;
#: "given_seed": a vjp whose caller gives its output gradient away (its adjoint may reuse it);
#: "inside": forward mode over a gradient a differentiated function calls (no writes back)
_INTERNAL_OPTIONS = {"select", "internal", "keep_forward", "given_seed", "inside"}
#: the keyword a vjp's output gradient / a jvp's tangent may be passed by
_SEED_KEYWORD = {"vjp": "g_out", "jvp": "t_in"}

#: a running derivative is specialised to the argument shapes on the call that sees them for
#: this many times (the first calls run the derivative specialised to ranks only, so that
#: shapes seen once cost no transformation); at most MAX_SPECIALISED shape signatures each
SPECIALISE_AFTER = int(os.environ.get("SOURCEGRAD_SPECIALISE_AFTER", "2"))
MAX_SPECIALISED = 8


#: ``record(derivative, args, build)`` for each run of a derivative made for generated code (a
#: helper's vjp, a function value's): what ran, for which arguments (see :func:`recording_runs`)
RUN_RECORDERS: list[Callable[[Any, tuple, Emitted], None]] = []


@contextlib.contextmanager
def recording_runs(record: Callable[[Any, tuple, Emitted], None]) -> Iterator[None]:
    """Inside, ``record(derivative, args, build)`` is told of every run of a derivative made
    for generated code (``args`` in parameter order, ``build`` the emitted build that ran)."""
    RUN_RECORDERS.append(record)
    try:
        yield
    finally:
        RUN_RECORDERS.remove(record)


def derivative(
    f: Callable, wrt: Any, mode: str, has_aux: bool, with_value: bool, options: dict
) -> Transformed:
    """``Transformed(f, ...)``, running the builds made before for a function with the same
    code, ``wrt``, mode and options where the transformation would read the same objects
    (:func:`sourcegrad.derivative_cache.cache_key`): a derivative made again (``grad(f)`` in a
    training loop) builds nothing. For another function object with that code the builds are
    rebound to its globals, closure cells and defaults (what ``f`` reads when it runs is read
    when the derivative runs)."""
    shared = {k: v for k, v in options.items() if k != "given_seed"}  # (see Transformed._key)
    found = cache.cache_key(f, wrt, mode, has_aux, shared)
    if found is None:
        return Transformed(f, wrt, mode, has_aux, with_value, options)
    key, env = found
    t = Transformed(f, wrt, mode, has_aux, with_value, options)
    base = cache.cached_base(key, env)
    if base is None:
        base = Transformed(f, wrt, mode, has_aux, with_value, shared)
        base._store = cache.BuildStore()
        cache.keep_base(key, env, base)
    return t._attach(base)


def _with_call(call) -> type:
    """A subclass of :class:`Transformed` whose ``__call__`` is ``call``."""
    attrs = {"__module__": __name__, "__qualname__": Transformed.__qualname__, "__call__": call}
    return type(Transformed.__name__, (Transformed,), attrs)


class Transformed:
    """A derivative of ``f``: call it like ``f`` (:func:`sourcegrad.grad` says what it returns)."""

    def __init__(
        self, f: Callable, wrt: Any, mode: str, has_aux: bool, with_value: bool, options: dict
    ):
        unknown = set(options) - _OPTIONS - _INTERNAL_OPTIONS
        if unknown:
            raise ArgumentError(f"unknown option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
        if not isinstance(options.get("exact", True), bool):
            raise ArgumentError(f"exact={options['exact']!r}: pass exact=False, or leave it out")
        self.wrt_tuple = isinstance(wrt, (tuple, list))
        f, self.bound_self, self.wrt, self.packing = unwrapped(
            f, tuple(wrt) if self.wrt_tuple else (wrt,)
        )
        self.f = f
        self.mode = mode
        self.has_aux = has_aux
        self.with_value = with_value
        if "with_forward" in options:  # the seed's name for returning the value too
            self.with_value = bool(options["with_forward"])
        self.with_gradients = bool(options.get("with_gradients", True))
        self.stable = bool(options.get("stable_gradients", False))
        if options.get("debug_hook") is not None:  # the pure derivative, checked (debug.py)
            options = dict(options, optimize=False)
        self.options = options
        if self.stable:
            self._local = threading.local()  # per thread: signature -> gradient arrays
        #: a gradient of a method-less function, nothing but the gradient (and value) returned
        self._plain = (
            (mode == "grad" and not (has_aux or self.stable or self.bound_self or self.packing))
            and self.with_gradients
            and not options.get("check_finite")
        )
        #: whether calls check their output gradient or tangent (not for generated code's)
        self.checked = not (options.get("internal") or "select" in options)
        self._init_state()
        self.__name__ = f"d_{getattr(f, '__name__', 'f')}"
        if mode != "grad":  # a callee's: a method's is named with its class
            self.__name__ = derivative_name(mode, f)
        self.__doc__ = f"The {mode} of {getattr(f, '__qualname__', f)!r} (generated by sourcegrad)."

    def _init_state(self) -> None:
        """The builds this object runs (none yet), by signature."""
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
        #: derivative()), and what turns them into builds of this one's function (None: they
        #: are, the same function object); a base keeps them in its _store
        self._base: Transformed | None = None
        self._store: cache.BuildStore | None = None
        self._bind = None
        self._rebound: dict = {}  # id(entry of the base) -> (that entry, it rebound)
        self._first: dict = {}  # rank signature -> the first shape signature it was built for
        self._patterns = cache.Patterns()  # the shape patterns called, their builds
        #: the derivatives whose kept halves run where generated code calls this vjp, by
        #: whether the caller gives its output gradient away (:mod:`sourcegrad.kept`)
        self.kept_twins: dict = {}

    # -------------------------------------------------------------- builds shared with a base
    def _attach(self, base: Transformed) -> Transformed:
        """Run ``base``'s builds (made once, kept in its ``_store``), rebound to this
        derivative's function where that is another function object with the same code.
        Everything else (which build a call runs, when shapes are specialised) is this
        object's own, as for a derivative made from scratch."""
        self._base = base
        if base.f is not self.f:
            self._bind = cache.rebinder(base.f, self.f)
        return self

    def _made(self, key, make, bind: bool = True):
        """The build ``make()`` makes, made once for every derivative of the base (``key``
        names it) and, with ``bind``, rebound to this one's function where needed."""
        base = self._base
        if base is None:
            return make()
        entry = base._store.made(self._key(key), make)
        return entry if self._bind is None or not bind else self._rebound_entry(entry)

    def _key(self, key: tuple) -> tuple:
        """The base's key of the build ``key`` names: a vjp whose seed is given away
        (``given_seed``) shares the pure builds (ranks, generic: made without the option) of
        the base, and has optimized builds of its own."""
        given = self.options.get("given_seed") and key[0] not in ("ranks", "generic")
        return ("given", *key) if given else key

    def _stored(self, key):
        """The build ``key`` names, where one was made for a derivative of the base; or None."""
        if self._base is None:
            return None
        entry = self._base._store.get(self._key(key))
        if entry is None or self._bind is None:
            return entry
        return self._rebound_entry(entry)

    def _rebound_entry(self, entry):
        got = self._rebound.get(id(entry))
        if got is None:
            rebound = cache.Rebound(entry, self._bind, self._rebound_entry)
            got = self._rebound[id(entry)] = (entry, rebound)
        return got[1]

    # -------------------------------------------------------------- building
    def parsed(self) -> Parsed:
        """The parsed function (parsed once, shared with the base)."""
        if self._base is not None:
            return self._base.parsed()
        if self._parsed is None:
            self._parsed = parse(self.f)
        return self._parsed

    def _pipeline(self, pure: bool = False) -> Pipeline:
        """What makes this derivative's builds (made per build: it refers back to this
        object, which holds none); ``pure``: one shared by every derivative of the base."""
        options = self.options
        if pure and "given_seed" in options:
            options = {k: v for k, v in options.items() if k != "given_seed"}
        p = self.parsed, self.wrt, self.mode, self.has_aux, options, self.checked
        return Pipeline(*p, fn=self.f)

    def _build(self, args, specialise: bool = False, general: Emitted | None = None) -> Emitted:
        """The derivative for ``args``' signature (see :meth:`Pipeline.build`): every build
        this object makes from its source is made here (for ranks alone: the base's)."""
        return self._pipeline(not specialise).build(args, specialise, general)

    def _optimized_for(self, rkey, general, args):
        raw = cache.unbound(general)
        return self._made(("optimized", rkey), lambda: self._pipeline().optimized(raw, args))

    def _tier(self, key, args, specialise: bool) -> Emitted:
        """The derivative for ``args``: the one specialised to ranks, until these shapes have
        been seen :data:`SPECIALISE_AFTER` times (or ``specialise``); then one specialised to
        the shapes too, where its code has shape-dependent helpers to remove. A shape pattern
        called with several signatures gets one build for all of them instead, where one can
        be made (:meth:`_family`). One an earlier process specialised (on disk) runs at once."""
        rkey = tuple([rank_signature(a) for a in args])
        general = self._ranked.get(rkey)
        if general is None:
            general = self._ranks_build(rkey, key, args)
        elif general.provisional and key != self._first.get(rkey):
            # a second signature of these ranks: the build for them is worth optimizing
            general = self._ranked[rkey] = self._optimized_for(rkey, general, args)
        if not general.specialisable or self._specialised >= MAX_SPECIALISED:
            if general.provisional:
                general = self._ranked[rkey] = self._optimized_for(rkey, general, args)
            self._cache[key] = general
            return general
        entry = self._stored(("shapes", key))  # specialised for another derivative of f
        # calls of every derivative of the base count: one made per step specialises too
        seen_by = self._seen if self._base is None else self._base._seen
        if entry is None and key not in seen_by:  # specialised by an earlier process (disk)?
            kept = self._pipeline().kept_specialised(args, cache.unbound(general))
            entry = kept and self._made(("shapes", key), lambda: kept)
        if entry is None:
            seen = seen_by.get(key, 0) + 1
            due = seen >= SPECIALISE_AFTER or specialise
            entry = None if specialise else self._family(args, general, due)
            if entry is not None:
                self._cache[key] = entry
                return entry
            if not due:
                if len(seen_by) >= cache.STORE_LIMIT:
                    seen_by.clear()
                seen_by[key] = seen
                return general
            raw = cache.unbound(general)
            entry = self._made(
                ("shapes", key), lambda: self._build(args, specialise=True, general=raw)
            )
        self._specialised += 1
        self._cache[key] = entry
        seen_by.pop(key, None)
        return entry

    def _ranks_build(self, rkey: tuple, key: tuple, args) -> Emitted:
        """The first build for ``args``' ranks ``rkey`` (made for the signature ``key``)."""
        general = self._ranked[rkey] = self._made(("ranks", rkey), lambda: self._build(args))
        self._first[rkey] = key
        return general

    def ranked(self, args: tuple) -> Emitted:
        """The build for ``args``' ranks, whose pure derivative (``source_fn``) every build
        for those ranks shows and higher orders transform; made where missing, counting as no
        call (it is not run: no build specialised to shapes is made for it)."""
        args = self._packed(args)
        rkey = tuple([rank_signature(a) for a in args])
        with self._lock:
            general = self._ranked.get(rkey)
            if general is None:
                general = self._ranks_build(rkey, tuple([call_signature(a) for a in args]), args)
        return general

    def settled(self, args: tuple, entry: Emitted) -> bool:
        """Whether ``entry`` (what :meth:`emitted` gave for ``args``) is the build that runs
        for ``args``' signature from now on: no later call builds another for it."""
        args = self._packed(args)
        return self._cache.get(tuple([call_signature(a) for a in args])) is entry

    def _family(self, args, general: Emitted, due: bool) -> Emitted | None:
        """The build for every call of ``args``' shape pattern (``due``: these shapes are due
        for specialising), see :meth:`~sourcegrad.derivative_cache.Patterns.find`."""
        raw = cache.unbound(general)

        def make(key, pattern, other):
            symbolic = self._pipeline().symbolic
            entry = self._made(key, lambda: symbolic(raw, args, pattern, other) or False, False)
            if entry is False:
                return None
            self._specialised += 1
            return entry if self._bind is None else self._rebound_entry(entry)

        return self._patterns.find(args, due, self._specialised < MAX_SPECIALISED, make)

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

    def _generic(self) -> Emitted:
        entry = self._cache.get(None)
        if entry is None:
            with self._lock:
                entry = self._cache.get(None) or self._made(("generic",), lambda: self._build(None))
                self._cache[None] = entry
        return entry

    def emitted(self, args: tuple | None = None, specialise: bool = False) -> Emitted:
        """The build that runs for ``args`` (all of them, ``bound_self`` first; with
        ``specialise``, the one specialised to their shapes at once); without ``args`` the one
        that assumes no ranks (what ``source(df)`` shows); packed where ``f`` takes ``*args``."""
        return self._generic() if args is None else self._entry(self._packed(args), specialise)

    def _packed(self, args: tuple) -> tuple:
        """``args`` in the packed form's order, where ``f`` takes ``*args``/``**kwargs``."""
        if self.packing is None:
            return args
        return full_args(self.f, *self.packing.pack(tuple(args), {}))

    # -------------------------------------------------------------- the direct __call__
    def _remember(self, key, args, entry: Emitted) -> None:
        """Make ``args``' signature the one a call checks first: ``_last`` holds its guard, and
        a plain gradient gets a ``__call__`` of its own (on a class made for this object) that
        checks the signature inline and calls the generated function directly: one Python
        frame between the caller and the derivative, ~0.1 µs. Built once per signature."""
        key, expressions = self._patterns.guard_of(entry, key)  # a pattern's build: its guard
        got = self._remembered.get(key)
        if got is None:
            raw = cache.unbound(entry)
            make = functools.partial(self._guard, args, raw, expressions)
            call_key = ("call", key, id(raw), self.with_value, self.wrt_tuple)  # (see cache_key)
            guard, call, _ = self._made(call_key, make, bind=False)
            if call is not None and raw is not entry:  # the same call of this one's function
                call = cache.rebound_call(call, dict(call.__globals__, fn=entry.fn, entry=entry))
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

    def _guard(self, args, entry, expressions: tuple | None = None) -> tuple:
        """``(guard, direct call or None, entry)`` for ``args``' signature (or ``expressions``:
        a pattern's guard over ``args`` and over positional names)."""
        over_args, positional = expressions or (guard_expression(args), None)
        if self._plain:
            positional = positional or guard_expression(args, positional=True)
            call = self._direct_call(len(args), positional, entry)
        else:
            call = None
        return compile_guard(*over_args), call, entry

    def _direct_call(self, count: int, guard: tuple, entry: Emitted):
        """``__call__`` for one signature of ``count`` arguments (``guard``: an expression over
        their positional names, and its namespace): what :meth:`Transformed.__call__` does for
        a plain gradient, with nothing looked up."""
        single = self.wrt_tuple and len(self.wrt) == 1
        text = cache.direct_call_text(count, guard[0], self.with_value, single)
        namespace = dict(guard[1], fn=entry.fn, entry=entry, generic=Transformed.__call__)
        return cache.compiled_call(text, namespace, self.__name__)

    # -------------------------------------------------------------- what users call
    def generic(self, *args: Any) -> Any:
        """Call the derivative built without rank information (the code ``source(df)`` shows):
        ``df``'s results, for checking and timing the rank-generic code."""
        entry = self._generic()
        try:
            if self.mode == "vjp":
                value, grads = entry.fn(*self.bound_self, *args[:-1], g_out=args[-1])
            elif self.mode == "jvp":
                tangents = self._tangents(entry, args[-1])
                value, grads = entry.fn(*self.bound_self, *args[:-1], **tangents)
            else:
                value, grads = entry.fn(*self.bound_self, *args)
        except SourcegradError as exc:  # one raised when it runs: placed at the user's line
            notes.refuse_located(self, exc, entry)
            raise
        return self.finish(value, grads)

    def held_bytes(self) -> int:
        """Bytes of the buffers this derivative keeps from one call to the next (its pools,
        in every thread; see ``pool_buffers``). They are freed with the derivative object,
        or with the thread that made them."""
        entries = list(self._cache.values()) + list(self._ranked.values())
        pools = {id(p): p for e in entries for p in getattr(e, "held", ())}
        return sum(p.held_bytes() for p in pools.values())

    def source(self, *example_args: Any) -> str:
        """The derivative's source; specialised to ``example_args``' signature if given."""
        if example_args:
            return self._entry(self.bound_self + example_args, specialise=True).pretty()
        return self._generic().pretty()

    def source_call(self, args: tuple) -> tuple[Callable, tuple, Callable]:
        """``(fn, values, post)`` for calling this derivative with ``args``: ``fn`` is the
        pure generated function (with source, to be transformed again), ``values`` its
        arguments in parameter order (every parameter's value, defaults filled in, then the
        seeds) and ``post(fn(*values))`` what the call returns."""
        bound = self.bound_self
        # every parameter gets its value, left-out defaults too: the seeds that follow go to the
        # generated function's last keyword-only parameters
        if self.mode == "vjp":
            primal, g = with_defaults(self.f, bound + tuple(args[:-1])), args[-1]
            entry = self._entry(primal)
            values = primal + (g,)
        elif self.mode == "jvp":
            primal, t = with_defaults(self.f, bound + tuple(args[:-1])), args[-1]
            entry = self._entry(primal)
            ts = tuple(t) if self.wrt_tuple else (t,)
            values = primal + ts
            return entry.source_fn, values, lambda raw: raw
        else:
            values = with_defaults(self.f, bound + tuple(args))
            entry = self._entry(values)
        return entry.source_fn, values, lambda raw: self.finish(*raw)

    # -------------------------------------------------------------- calling
    def _tangents(self, entry: Emitted, t_in) -> dict:
        """The tangent keyword arguments of the generated jvp function."""
        ts = arguments.tangent_tuple(self.__name__, len(self.wrt), self.wrt_tuple, t_in)
        return dict(zip(entry.tangent_params, ts))

    def _check_arity(self, args) -> None:
        """Refuse positional arguments ``args`` where they are too many or too few for ``f``
        (as Python would, calling ``f`` with them)."""
        problem = arguments.arity_problem(self.f, len(args), self.checked)
        if problem is not None:
            raise notes.argument_error(self, problem)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._plain and not kwargs:  # the common case, with as little work as possible
            last = self._last
            if last is not None and last[0](args):
                entry = last[1]
            else:
                self._check_arity(args)
                entry = self._entry(args)
            try:  # self.run, inlined: one call less on the path every call takes
                value, grads = entry.fn(*args)
            except SourcegradError as exc:
                notes.refuse_located(self, exc, entry)
                raise
            except Exception as exc:
                notes.explain(self, exc, entry, args)
                raise
            if type(value) is not float and getattr(value, "ndim", None) != 0:
                if np.ndim(value) != 0:
                    notes.non_scalar(self, value)
            if self.wrt_tuple and len(self.wrt) == 1:
                grads = (grads,)
            return (value, grads) if self.with_value else grads
        return self._seeded_call(args, kwargs)

    def _split_seed(self, args: tuple, kwargs: dict) -> tuple[tuple, dict, Any]:
        """``(args, kwargs, seed)``: the call's arguments with its seed (a vjp's output
        gradient, a jvp's tangent: the last positional argument or the seed keyword) apart;
        refused where it is missing."""
        seed_kw = _SEED_KEYWORD.get(self.mode)
        if seed_kw is not None and seed_kw not in kwargs:
            if not args:
                raise notes.argument_error(self, f"{self.__name__}() got no arguments")
            args, kwargs = args[:-1], dict(kwargs, **{seed_kw: args[-1]})
        seed = kwargs.pop(seed_kw) if seed_kw is not None else None
        if seed is None and seed_kw is not None and self.checked:
            what = "output gradient" if self.mode == "vjp" else "tangent"
            raise ArgumentError(
                f"{self.__name__}() got None for its {what} ({seed_kw}); pass an array or float "
                f"shaped like {'the output' if self.mode == 'vjp' else 'the argument'} "
                f"of {self.f.__name__}()"
            )
        return args, kwargs, seed

    def _seeded_call(self, args: tuple, kwargs: dict):
        """A call that is not the plain gradient's common case: a vjp or jvp (with a seed),
        keyword arguments, a bound method, auxiliary output, stable gradients."""
        args, kwargs, seed = self._split_seed(args, kwargs)
        args = self.bound_self + args
        args, kwargs = self.packing.pack(args, kwargs) if self.packing else (args, kwargs)
        if kwargs:  # one value per parameter, keyword-only ones last (core.params' order)
            try:
                args = full_args(self.f, args, kwargs)
            except TypeError:
                problem = call_problem(self.f, len(args), tuple(kwargs))
                if problem is None:
                    raise
                raise notes.argument_error(self, problem) from None
        else:
            self._check_arity(args)
        entry = self._entry(args)
        if not self.with_gradients:
            return self.run(entry, args)
        if self.mode == "vjp":
            value, grads = notes.seeded_run(self, entry, args, seed)
        elif self.mode == "jvp":
            tangents = self._tangents(entry, seed)
            if self.checked:
                notes.check_tangents(self, args, tangents.values())
            value, grads = self.run(entry, args, **tangents)
            return value, not_aliasing(grads, seed)
        else:
            value, grads = self.run(entry, args)
        return self.finish(value, grads)

    def run(self, entry: Emitted, args: tuple, **kwargs: Any) -> Any:
        """``entry.fn(*args, **kwargs)`` (``args`` in parameter order, see
        :func:`~sourcegrad.arguments.full_args`); an error that is not sourcegrad's is
        explained (the user's own function failing, a non-scalar output) before it
        propagates. A derivative made for generated code tells :data:`RUN_RECORDERS`."""
        if RUN_RECORDERS and not self.checked:
            for record in RUN_RECORDERS:
                record(self, args, entry)
        pos, kwonly = split_args(self.f, args)
        try:
            return entry.fn(*pos, **kwonly, **kwargs)
        except SourcegradError as exc:
            if type(exc) is SourcegradError and self.mode == "vjp" and self.checked:
                notes.refuse_seed(self, args, kwargs.get("g_out"))  # a SeedError where it is one
            notes.refuse_located(self, exc, entry)
            raise
        except Exception as exc:
            notes.explain(self, exc, entry, args, kwargs.get("g_out"))
            raise

    def finish(self, value: Any, grads: Any) -> Any:
        """What the call returns, from the generated function's ``(value, grads)``."""
        if self.mode == "jvp":
            return value, grads
        if self.options.get("check_finite"):
            check_gradients(self, grads)
        if self.stable:
            grads = self._stabilise(grads)
        if self.wrt_tuple and len(self.wrt) == 1:
            grads = (grads,)
        if self.mode == "vjp":
            return (value, grads) if self.with_value else grads
        if self.has_aux:
            notes.check_aux(self, value)
        loss = value[0] if self.has_aux else value
        if isinstance(loss, tuple) or np.ndim(loss) != 0:
            notes.non_scalar(self, loss)
        if self.has_aux:
            aux = value[1]
            if self.with_value:
                return (loss, aux), grads
            return grads, aux
        return (value, grads) if self.with_value else grads

    def _stabilise(self, grads):
        """``stable_gradients=True``: the arrays handed out by this thread's first call for this
        argument signature, overwritten with ``grads`` (see :func:`~sourcegrad.outputs.kept`)."""
        store = getattr(self._local, "kept", None)
        if store is None:
            store = self._local.kept = {}
        return kept_arrays(store, grads)
