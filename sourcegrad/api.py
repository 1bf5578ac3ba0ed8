"""The public transforms: ``grad``, ``value_and_grad``, ``vjp``, ``source``, ``show``.

A transform parses its function once. For each *argument signature* (container structure,
ranks, dtypes and array types of the arguments) it builds one derivative, so that rank-specific
rules emit plain NumPy (``dz @ W.T``); after that a call runs only the generated code plus the
signature lookup.
"""

from __future__ import annotations

import os
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any

import gast
import numpy as np

from .callables import as_function
from .errors import NonScalarOutputError, SourcegradError, WrtTypeError
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
from .transform.emit import Deferred, Emitted, emit
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
_INTERNAL_OPTIONS = {"select"}
#: the keyword a vjp's output gradient / a jvp's tangent may be passed by
_SEED_KEYWORD = {
    "vjp": "g_out",
    "jvp": "t_in",
}  # jvp of generated code: which part of the result to return


def _signature(x):
    """What a running derivative is specialised to: container structure, shapes, dtypes,
    array types."""
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char)
    if t is float:
        return "f"
    if t is dict:
        return ("d",) + tuple([(k, _signature(v)) for k, v in x.items()])
    if t is list or t is tuple:
        return (t,) + tuple([_signature(v) for v in x])
    if t is int or t is bool:
        return "i"
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, _signature(v)) for k, v in x.items()])
    shape = getattr(x, "shape", None)
    if shape is not None:
        return (t, tuple(shape), x.dtype.char)
    return t


def _rank_signature(x):
    """:func:`_signature` with ranks in place of shapes: what a derivative's rules need."""
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
    return _signature(x)


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


class Transformed:
    """A derivative of ``f``: call it like ``f``; see :func:`grad` for what it returns."""

    def __init__(self, f: Callable, wrt, mode: str, has_aux: bool, with_value: bool, options: dict):
        unknown = set(options) - _OPTIONS - _INTERNAL_OPTIONS
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
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
        prefix = {"grad": "d", "vjp": "vjp", "jvp": "jvp"}[mode]
        self.__name__ = f"{prefix}_{getattr(f, '__name__', 'f')}"
        self.__doc__ = f"The {mode} of {getattr(f, '__qualname__', f)!r} (generated by sourcegrad)."

    # -------------------------------------------------------------- building
    def _parse(self) -> Parsed:
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
                        fused.pure = Deferred(lambda: simplify(reverse(analysis, mode)))
                    return fused
                if general is not None and getattr(general, "der", None) is not None:
                    # the pure derivative of these ranks is built already: optimize it again
                    run = emit(self._optimize(general.der, args, shapes))
                    run.pure = general.pure or general
                    return run
            optimizing = self.options.get("optimize", True)
            if optimizing and self.mode == "grad" and not self.has_aux and _one_scalar(args, wrt):
                run = self._forward_gradient(wrt, args)
                if run is not None:  # the reverse-mode derivative is only shown: made then

                    def shown(analysis=analysis):
                        return simplify(reverse(analysis, "grad"))

                    run.pure = Deferred(shown)
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
        run.pure = Deferred(der)  # compiled when shown or transformed again
        return run

    def _optimize(self, der, args, shapes=None):
        """``der`` optimized for ``args`` (and their ``shapes``), as the options ask."""
        return optimize(der, args, shapes, pools=self.options.get("pool_buffers", True))

    def _optimized(self, general: Emitted, args) -> Emitted:
        """The provisional build ``general`` (pure) optimized for its ranks."""
        run = emit(self._optimize(general.der, args))
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
            for path, leaf in _leaves(args[i]):
                kind = getattr(getattr(leaf, "dtype", None), "kind", None)
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
        key = tuple([_signature(a) for a in args])
        entry = self._cache.get(key)
        if entry is None:
            with self._lock:
                entry = self._cache.get(key)
                if entry is None:
                    entry = self._tier(key, args, specialise)
        if self._cache.get(key) is entry:  # final for this signature: remember it
            self._remember(key, args, entry)
        return entry

    def _remember(self, key, args, entry: Emitted) -> None:
        """Make ``args``' signature the one a call checks first: ``_last`` holds its guard, and
        a plain gradient gets a ``__call__`` of its own (on a class made for this object) that
        checks the signature inline and calls the generated function directly: one Python
        frame between the caller and the derivative, ~0.1 µs. Built once per signature."""
        got = self._remembered.get(key)
        if got is None:
            expr, namespace = guard_expression(args)
            call = self._direct_call(expr, namespace, entry) if self._plain else None
            got = self._remembered[key] = ((compile_guard(expr, namespace), entry), call)
        self._last = got[0]
        if got[1] is not None:
            cls = type(self)
            if not cls.__dict__.get("_own_class"):
                attrs = {"_own_class": True, "__module__": cls.__module__}
                cls = type(cls.__name__, (cls,), dict(attrs, __qualname__=cls.__qualname__))
                self.__class__ = cls
            cls.__call__ = got[1]

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
            general = self._ranked[rkey] = self._build(args)
            general.first_key = key
        elif general.provisional and key != general.first_key:
            # a second signature of these ranks: the build for them is worth optimizing
            general = self._ranked[rkey] = self._optimized(general, args)
        if not general.specialisable or self._specialised >= MAX_SPECIALISED:
            if general.provisional:
                general = self._ranked[rkey] = self._optimized(general, args)
            self._cache[key] = general
            return general
        seen = self._seen.get(key, 0) + 1
        if seen < SPECIALISE_AFTER and not specialise:
            self._seen[key] = seen
            return general
        entry = self._build(args, specialise=True, general=general)
        self._specialised += 1
        self._cache[key] = entry
        self._seen.pop(key, None)
        return entry

    def _generic(self) -> Emitted:
        entry = self._cache.get(None)
        if entry is None:
            with self._lock:
                entry = self._cache.get(None) or self._build(None)
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
        ts = tuple(t_in) if self.wrt_tuple else (t_in,)
        if len(ts) != len(self.wrt):
            raise TypeError(
                f"{self.__name__}() needs one tangent per wrt argument ({len(self.wrt)}), "
                f"got {len(ts)}"
            )
        return dict(zip(entry.tangent_params, ts))

    def __call__(self, *args, **kwargs):
        if self._plain and not kwargs:  # the common case, with as little work as possible
            last = self._last
            entry = last[1] if last is not None and last[0](args) else self._entry(args)
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
                what = "output gradient" if self.mode == "vjp" else "tangent"
                raise TypeError(f"{self.__name__}() needs the {what} as its last argument")
            args, kwargs = args[:-1], dict(kwargs, **{seed_kw: args[-1]})
        seed = kwargs.pop(seed_kw) if seed_kw is not None else None
        args = self.bound_self + args
        if kwargs:  # one value per parameter, keyword-only ones last (core.params' order)
            args = full_args(self.f, args, kwargs)
        entry = self._entry(args)
        if not self.with_gradients:
            return self._run(entry, args)
        if self.mode == "vjp":
            value, grads = self._run(entry, args, g_out=seed)
        elif self.mode == "jvp":
            value, grads = self._run(entry, args, **self._tangents(entry, seed))
            return value, _not_aliasing(grads, seed)
        else:
            value, grads = self._run(entry, args)
        return self._finish(value, grads)

    def _run(self, entry: Emitted, args, **kwargs):
        """``entry.fn(*args, **kwargs)``; an error that is not sourcegrad's is explained (the
        user's own function failing, a non-scalar output) before it propagates."""
        args, kwonly = split_args(self.f, args)
        try:
            return entry.fn(*args, **kwonly, **kwargs)
        except SourcegradError:
            raise
        except Exception as exc:
            self._explain(exc, entry, args)
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
        loss = value[0] if self.has_aux else value
        if np.ndim(loss) != 0:
            self._non_scalar(loss)
        if self.has_aux:
            aux = value[1] if len(value) == 2 else value[1:]
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
        key = _signature(grads)
        kept = store.get(key)
        if kept is None:
            store[key] = grads
            return grads
        return _copy_into(kept, grads)

    def _non_scalar(self, loss):
        parsed = self._parse()
        raise NonScalarOutputError(
            f"{parsed.node.name}() returned an array of shape {np.shape(loss)}; grad needs a "
            "scalar output (reduce it, e.g. with np.sum), or use sourcegrad.vjp for an "
            "array-valued function",
            parsed.filename,
            parsed.node.body[-1].lineno,
        )

    def _explain(self, exc, entry: Emitted, args):
        if self.mode == "grad":
            try:
                pos, kwonly = split_args(self.f, args)
                out = self.f(*pos, **kwonly)
            except Exception:  # noqa: BLE001 - the user's function fails by itself: keep exc
                out = None
            else:
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


_DYNAMIC: dict = {}
_DYNAMIC_LOCK = threading.Lock()


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
    code = fn.__code__
    key = (code, wrt, mode)
    t = _DYNAMIC.get(key)
    if t is None:
        with _DYNAMIC_LOCK:
            t = _DYNAMIC.setdefault(key, Transformed(fn, wrt, mode, False, mode == "jvp", {}))
    return t if fn is t.f else _Rebound(t, fn)


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


class _Rebound:
    """A transform used for another function object with the same code."""

    def __init__(self, transform: Transformed, fn):
        self.t = transform
        self.fn = fn

    def __call__(self, *args, g_out=None, t_in=None):
        entry = self.t._entry(args)
        code = entry.fn.__code__
        own = dict(zip(self.fn.__code__.co_freevars, self.fn.__closure__ or ()))
        old = dict(zip(code.co_freevars, entry.fn.__closure__ or ()))
        cells = tuple(own.get(name, old.get(name)) for name in code.co_freevars)
        fn = types.FunctionType(code, self.fn.__globals__, entry.name, self.fn.__defaults__, cells)
        if self.t.mode == "jvp":
            return fn(*args, **self.t._tangents(entry, t_in))
        value, grads = fn(*args, g_out=g_out)
        return grads


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
    return Transformed(f, wrt, "grad", has_aux, False, options)


def value_and_grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Transformed:
    """Like :func:`grad`, but the call returns ``(value, gradient)``
    (``((value, aux), gradient)`` with ``has_aux``)."""
    return Transformed(f, wrt, "grad", has_aux, True, options)


def vjp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Vector-Jacobian product: ``vjp(f)(*args, g_out)`` is the gradient of
    ``sum(f(*args) * g_out)`` with respect to ``args[wrt]``; ``f`` may return an array."""
    return Transformed(f, wrt, "vjp", False, False, options)


def jvp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Jacobian-vector product (forward mode): ``jvp(f)(*args, tangent)`` returns
    ``(f(*args), directional derivative of f at args along tangent)``.

    ``tangent`` has the structure of ``args[wrt]`` (a tuple of those for a tuple ``wrt``); the
    result's tangent has the structure of ``f``'s value. The generated code keeps ``f``'s
    control flow and computes each tangent right after its value.
    """
    from .higher import _Jvp, is_derivative

    if is_derivative(f):
        return _Jvp(f, wrt)
    return Transformed(f, wrt, "jvp", False, True, options)


def jvp_of(fn: Callable, wrt):
    """The jvp of a function known only when the derivative runs: a nested ``def``, a lambda,
    or a function made by sourcegrad. Called as ``jvp_of(fn, wrt)(*args, t_in=t)``."""
    from .higher import _Jvp, is_derivative

    if isinstance(fn, _Called):
        return fn.jvp(wrt)
    if is_derivative(fn):
        return _Jvp(fn, wrt)
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
