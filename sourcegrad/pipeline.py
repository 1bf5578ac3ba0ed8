"""The passes, in order, that build one derivative of one function for one argument signature.

``parse`` (once per function) → ``normalize`` → ``analyze`` → ``reverse`` (or ``forward``) →
``simplify`` → ``optimize`` → ``emit``. This is the one module above the passes that calls
them; a derivative object (:mod:`sourcegrad.derivative`) decides *which* build a call needs
(the tier), a :class:`Pipeline` makes it.

Each build normalizes the function once. Where a build needs a second core (fusing loops of
products rewrites its core, the reverse pass rewrites the core of the shown derivative while a
forward-mode gradient runs), it gets a copy of the first one instead of normalizing again. The
first (provisional) build for a rank signature keeps a copy of its core as normalizing gave it
(``Emitted.core``): the builds for those ranks that follow (specialised to shapes, to a shape
pattern) start from a copy of that, and do not normalize the function again.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import linecache
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import gast
import numpy as np

from . import debug, disk_cache
from .errors import NonScalarOutputError, SourcegradError, WrtTypeError
from .leaf_checks import argument_leaves, has_arrays, leaf_problem, one_scalar, path_text
from .rules import registry
from .runtime.buffers import BufferPool
from .runtime.containers import scalar_gradient
from .runtime.records import is_static_leaf
from .runtime.signature import Pattern, call_signature, rank_signature, resized
from .runtime.tangent_helpers import float_gradient, typed_gradient
from .transform import derive
from .transform import syntax as S
from .transform.analysis import analyze
from .transform.argument_writes import argument_writes
from .transform.call_ranks import kept_core
from .transform.emit import Deferred, Emitted
from .transform.emit import emit as emit_source
from .transform.forms import Core, copied_core
from .transform.forward import forward
from .transform.iterator_calls import refuse_generator_function
from .transform.normalize import normalize
from .transform.optimize import (
    chunk,
    fuse,
    fuse_contractions,
    known_dtypes,
    may_fuse,
    optimize,
    pool,
)
from .transform.optimize.kept_calls import kept_running
from .transform.optimize.shaped import Sizes, symbolic_shapes
from .transform.parse import Parsed, parse
from .transform.reverse import reverse
from .transform.shapes import concrete_shapes
from .transform.simplify import simplify
from .transform.state_between_calls import refuse_state_in_callee

__all__ = ["Emitted", "Parsed", "Pipeline", "build_settings", "emit", "parse"]


def build_settings() -> tuple:
    """The module settings and rule tables a build reads: a derivative made after one changes
    is built again (a rule added with defvjp, a test's smaller block size)."""
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


# ---------------------------------------------------------------- generated source in linecache
def emit(der: Any) -> Emitted:
    """:func:`sourcegrad.transform.emit.emit`, its text dropped from ``linecache`` with the
    code compiled from it (a derivative dropped leaves no source behind)."""
    run = emit_source(der, disk_cache.placed)
    _forget_with_code(run)
    return run


def _forget_with_code(run: Emitted) -> None:
    code = getattr(run.fn, "__code__", None)
    if code is not None and code.co_filename == run.filename:
        weakref.finalize(code, linecache.cache.pop, run.filename, None)


class _Deferred(Deferred):
    """:class:`Deferred` whose emitted text goes from ``linecache`` with its code (see
    :func:`emit`)."""

    def __init__(self, der):
        super().__init__(der, disk_cache.placed)

    def __getattr__(self, attr):
        made = self._emitted is None
        value = super().__getattr__(attr)
        if made and self._emitted is not None:
            _forget_with_code(self._emitted)
        return value


#: what makes a function a generator function (refused: see ``Pipeline._build``)
_YIELDS = (gast.Yield, gast.YieldFrom)


# ---------------------------------------------------------------- facts about the arguments
def as_gradient(x, t):
    """The tangent ``t`` of a scalar as the gradient of the scalar input ``x``, as reverse mode
    gives it: a float for a float, a NumPy scalar of x's dtype for one, else a new 0-d array."""
    g = scalar_gradient(x, t)
    return np.array(t, dtype=x.dtype) if g is None else g


#: a copy of a core that the passes may rewrite (:func:`~.transform.forms.copied_core`)
_copy_core = copied_core


def _normalized(parsed: Parsed, args: tuple | None, general: Any) -> Core:
    """The core of ``parsed`` for ``args``: a copy of the one kept by ``general`` (a build
    for the same ranks, which normalizing gives again), or by a caller's analysis that asked
    what the function returns for arguments of those ranks, else normalized here."""
    kept = getattr(general, "core", None)
    if kept is not None:
        return _copy_core(kept)
    asked = None if args is None else kept_core(parsed, args)  # (a helper its caller asked about)
    return asked if asked is not None else normalize(parsed, args)


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


def _scalar_gradient_call(run: Emitted, i: int, x) -> Emitted:
    """``run`` (a jvp along argument ``i``, a scalar like ``x``) called as a gradient: the
    seed tangent given, the tangent returned as the gradient of ``x``."""
    (param,) = run.tangent_params
    jvp = run.fn
    seed = x.dtype.type(1) if isinstance(x, np.generic) else None
    jvp.__kwdefaults__ = dict(jvp.__kwdefaults__ or {}, **{param: seed})

    def gradient(*a, **kw):  # kw: the function's keyword-only arguments
        x = a[i]
        if type(x) is np.ndarray:
            kw = dict(kw, **{param: np.ones_like(x)})
        value, t = jvp(*a, **kw)
        return value, as_gradient(x, t)

    run.fn = gradient
    return run


def _smallest(values: tuple, free: list) -> tuple:
    """``values`` (a length per class of a shape pattern) with the classes of ``free`` given
    the smallest lengths that keep the pattern (2 or more, distinct, in their order)."""
    taken = {v for k, v in enumerate(values) if k not in free}
    out, n = list(values), 2
    for k in sorted(free, key=lambda k: values[k]):
        while n in taken:
            n += 1
        out[k] = n
        n += 1
    return tuple(out)


def _layouts(run: Emitted) -> list:
    """The buffers' layouts of ``run``'s pools (free lengths symbolic)."""
    return [held.layouts for held in run.held if isinstance(held, BufferPool)]


def made_here(code: Any) -> bool:
    """Whether ``code`` is of this module (a wrapper a failing generated function leaves by)."""
    return code.co_filename == __file__


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Inside, Python's cyclic garbage collector does not run (it is on again after, where
    it was on). A build allocates tens of thousands of syntax nodes that live until it ends:
    each time the allocations pass the collector's threshold it would walk them and find
    almost nothing to free (it took 1.0 ms of the LSTM's first call, 0.6 ms now)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _paused(method):
    """``method`` run with :func:`collection_paused`."""

    @functools.wraps(method)
    def run(*args, **kwargs):
        with collection_paused():
            return method(*args, **kwargs)

    return run


# ---------------------------------------------------------------- the passes for one signature
class Pipeline:
    """The builds of the derivative of one function: which passes run, in which order, for
    the arguments of one call (their rank or call signature).

    ``parsed()`` returns the parsed function (parsed once, shared by every build); ``wrt``
    the argument positions differentiated; ``mode`` ``"grad"``, ``"vjp"`` or ``"jvp"``;
    ``checked``: whether arguments that cannot have a gradient are refused by their type."""

    def __init__(
        self,
        parsed: Callable[[], Parsed],
        wrt: tuple,
        mode: str,
        has_aux: bool,
        options: dict,
        checked: bool,
        fn: Any = None,
    ):
        self.parsed, self.wrt, self.mode, self.has_aux = parsed, wrt, mode, has_aux
        self.options, self.checked = options, checked
        self.fn = fn  # the function itself, for builds kept on disk (disk_cache.py); or None
        self.with_gradients = bool(options.get("with_gradients", True))
        self.reverse_mode = "vjp" if mode == "vjp" else "grad"

    @_paused
    def build(self, args: tuple | None, specialise: bool = False, general: Any = None) -> Emitted:
        """The derivative for ``args``' signature (rank-generic for None): specialised to
        ranks, or with ``specialise`` to shapes too (reusing the pure derivative of
        ``general``, the build for the same ranks, where there is one). A build kept on disk
        by another process for the same key is read instead (:mod:`sourcegrad.disk_cache`);
        one that can be kept is written there."""
        key = self._disk_key(args, specialise, general)
        run = self._loaded(key, general, args)
        if run is None:
            with derive.rounding_allowed(not self.options.get("exact", True)):
                run = self._build(args, specialise, general)
            if key is not None and (run.pure is None or specialise or run.provisional):
                disk_cache.store(key, run, self._bound_to())
        return run

    def kept_specialised(self, args: tuple, general: Emitted) -> Emitted | None:
        """The build for ``args``' shapes an earlier process kept on disk (optimized, as
        :meth:`build` makes it with ``specialise``, ``general`` its pure build), or None."""
        return self._loaded(self._disk_key(args, True, general), general)

    def _loaded(self, key: str | None, general: Any, args: Any = None) -> Emitted | None:
        """The build kept on disk under ``key`` (optimized: ``general``'s pure build its own;
        a first build running kept calls: its pure derivative made again for ``args`` if read)."""
        if key is None:
            return None
        pure = None if general is None else general.pure or general
        if general is None and args is not None:
            pure = _Deferred(lambda: self._build(args, False, None).der)
        return disk_cache.load(key, self._bound_to(), pure)

    def _bound_to(self) -> Any:
        """The function whose globals, cells and defaults a build reads, as one made here:
        the one parsed; ``fn`` itself where it holds nothing but globals (then no parse)."""
        fn = self.fn
        plain = fn.__closure__ is None and fn.__defaults__ is None and not fn.__kwdefaults__
        return fn if plain else self.parsed().fn

    def _disk_key(self, args, specialise: bool, general: Any, tier: str = "") -> str | None:
        """The key of the build for ``args`` (of ``tier``) kept on disk; None where none is (an
        optimized build only where specialised, with ``general`` the pure build to show)."""
        if self.fn is None or self.options.get("debug_hook") is not None:
            return None
        if specialise and self.options.get("optimize", True) and general is None:
            return None
        signature = rank_signature if not specialise else call_signature
        sig = None if args is None else tuple([signature(a) for a in args])
        options = tuple(sorted(self.options.items()))
        what = (self.mode, self.wrt, self.has_aux, self.checked, specialise, options, tier)
        return disk_cache.build_key(self.fn, what + (build_settings(),), sig)

    def _build(self, args: tuple | None, specialise: bool, general: Any) -> Emitted:
        parsed = self.parsed()  # (:meth:`build`, always made here)
        # a generator function the user differentiates (not a callee) is refused (one walk)
        if self.checked and S.nodes_of(parsed.node, _YIELDS):
            refuse_generator_function(parsed.node, parsed.filename)
        if self.mode == "jvp" and self.with_gradients and getattr(general, "der", None) is not None:
            run = self.emit_optimized(general.der, args)  # the same forward mode, optimized:
            run.pure = general.pure or general  # shown and transformed again as the ranks' build
            return run
        core = _normalized(parsed, args, general)
        if not self.checked:  # (a callee's derivative may run it again)
            refuse_state_in_callee(core)
        core.written = argument_writes(parsed, args, self.checked, core.followed_writes)
        wrt = self._wrt_of(parsed, core, args)
        if not self.with_gradients:
            # the function itself, compiled: the forward pass without tangents
            analysis = analyze(core, (), args, whole_output=True, mode="forward")
            shapes = concrete_shapes(analysis, args) if specialise and args is not None else None
            der = forward(analysis, (0,))
            der.node.name = "fwd_" + core.node.name
            return self._emitted(der, args, specialise, shapes)
        if self.mode == "jvp":
            analysis = analyze(core, wrt, args, whole_output=True, mode="forward")
            inside = self.options.get("inside", False)
            der = forward(analysis, self.options.get("select", ()), inside)
            return self._emitted(der, args, specialise)
        kept = _copy_core(core) if self._provisional(args, specialise) else None
        run = self._reverse(core, wrt, args, specialise, general)
        if kept is not None and run.provisional:
            run.core = kept  # what the builds specialised to shapes start from
        return run

    def _provisional(self, args: tuple | None, specialise: bool) -> bool:
        """Whether the reverse-mode build for ``args`` may be a provisional one (see
        :meth:`_emitted`): builds specialised to shapes follow it."""
        return (
            not specialise
            and args is not None
            and self.options.get("optimize", True)
            and self.options.get("debug_hook") is None
            and has_arrays(args)
        )

    def _wrt_of(self, parsed: Parsed, core: Core, args) -> tuple:
        """``wrt`` as positions among the parameters; refused where it names none of them,
        where ``grad`` meets a tuple output, or where an argument has no gradient."""
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
        return wrt

    def _check_wrt_args(self, parsed: Parsed, core: Core, wrt: tuple, args: tuple) -> None:
        for i in wrt:
            if i >= len(args):
                continue
            x = args[i]
            if self.checked and (x is None or isinstance(x, (str, bytes))):
                raise WrtTypeError(
                    f"{core.params[i]} is {type(x).__name__}, not a float, an array or a "
                    "container of them, so it has no gradient; leave it out of wrt",
                    parsed.filename,
                    parsed.node.lineno,
                )
            for path, leaf, in_record in argument_leaves(x):
                if not self.checked and is_static_leaf(leaf):
                    continue  # a callee's setting (`{"W": ..., "heads": 4}`): kept as it is
                problem = leaf_problem(leaf, in_record, nested=bool(path))
                if problem is not None:
                    where = path_text(core.params[i], x, path)
                    raise WrtTypeError(
                        problem.format(where=where), parsed.filename, parsed.node.lineno
                    )

    def _reverse(self, core: Core, wrt: tuple, args, specialise: bool, general) -> Emitted:
        """The reverse-mode build (see :meth:`build`)."""
        optimizing = self.options.get("optimize", True) and not core.written  # (writes back)
        scalar = optimizing and self.mode == "grad" and not self.has_aux and one_scalar(args, wrt)
        fusing = specialise and args is not None and may_fuse(core)
        pristine = _copy_core(core) if scalar or fusing else None  # before analysis sets it
        analysis = analyze(core, wrt, args, whole_output=self.mode == "vjp")
        shapes = None
        if specialise and args is not None:  # before reverse() rewrites the core
            shapes = concrete_shapes(analysis, args)
            fused = self._fused(_copy_core(pristine), wrt, args, shapes) if fusing else None
            if fused is not None:  # shown: the derivative of the loops as written
                if general is not None:
                    fused.pure = general.pure or general
                else:
                    fused.pure = _Deferred(lambda: simplify(reverse(analysis, self.reverse_mode)))
                return fused
            if general is not None and getattr(general, "der", None) is not None:
                # the pure derivative of these ranks is built already: optimize it again
                run = self.emit_optimized(general.der, args, shapes)
                run.pure = general.pure or general
                return run
        if scalar:
            run = self._forward_gradient(_copy_core(pristine), wrt, args)
            if run is not None:  # the reverse-mode derivative is only shown: made then
                run.pure = _Deferred(lambda: simplify(reverse(analysis, "grad")))
                return run
        return self._emitted(reverse(analysis, self.reverse_mode), args, specialise, shapes)

    def _emitted(self, der, args, specialise: bool, shapes=None) -> Emitted:
        """``der`` simplified and emitted: pure (``optimize=False``, or a first build for
        these ranks, see below), else optimized with the pure one kept to be shown."""
        simplify(der)
        if self.options.get("debug_hook") is not None:  # optimize=False with it (derivative.py)
            parsed = self.parsed()
            return debug.instrument(
                emit(der), self.options["debug_hook"], parsed.filename, parsed.line_text
            )
        if not self.options.get("optimize", True):
            return kept_running(der, emit, _Deferred) or emit(der)
        if not specialise and args is not None and has_arrays(args):
            # the build for these ranks runs once before the one specialised to these shapes
            # replaces it: it runs pure (but for kept calls), and is optimized only where it
            # is used for a second signature (see Transformed._tier); the first call pays no
            # optimize pass it would not keep
            run = kept_running(der, emit, _Deferred) or emit(der)
            run.specialisable = run.provisional = True
            run.der = der  # what the builds specialised to shapes start from
            return run
        run = emit(self._optimize(der, args, shapes))
        run.pure = _Deferred(der)  # compiled when shown or transformed again
        return run

    def emit_optimized(self, der: Any, args: tuple, shapes: dict | None = None) -> Emitted:
        """``der`` (kept for more builds) optimized for ``args`` and emitted: the names the
        pass takes (buffers, pools, masks) are given back after, so each build of ``der`` is
        the one a derivative made from scratch would make, whatever was built before."""
        refs = der.refs
        taken, by_id, injected = set(refs.names.taken), dict(refs.by_id), dict(refs.injected)
        try:
            return emit(self._optimize(der, args, shapes))
        finally:
            refs.names.taken.intersection_update(taken)
            refs.by_id, refs.injected = by_id, injected

    @_paused
    def optimized(self, general: Emitted, args: tuple) -> Emitted:
        """The provisional build ``general`` (pure) optimized for its ranks; read from disk
        where kept (without ``der`` and ``core``: made again where a later build needs them),
        so a warm start's second shapes of these ranks transform nothing."""
        key = self._disk_key(args, False, general, "optimized")
        run = self._loaded(key, general)
        if run is not None:
            return run
        der, core = general.der, general.core
        if der is None:  # read from disk: the pure derivative is made again, once
            built = self._build(args, False, None)
            der, core = built.der, built.core
        run = self.emit_optimized(der, args)
        run.specialisable = True
        run.der, run.core, run.pure = der, core, general.pure or general
        if key is not None:
            disk_cache.store(key, run, self._bound_to())
        return run

    @_paused
    def symbolic(self, general: Emitted, args: tuple, pattern: Pattern, other: tuple) -> Any:
        """The running derivative for every call whose arguments have ``args``' shape
        ``pattern`` with the lengths of the classes that ``other`` (a length per class) changes
        free: ``general``'s pure derivative optimized for ``args``' shapes, reading the free
        lengths from the arguments at run time. None where such a build cannot be had: made for
        ``args`` and for stand-ins of ``other``'s lengths, its text (and its buffers' shapes,
        free lengths symbolic) must come out the same, so nothing in it depends on a free
        length beyond the pattern; shapes computed from free lengths (``n - 1``, also checked
        against stand-ins with the smallest such lengths) are not assumed."""
        if self.mode == "jvp" or not self.with_gradients or not general.specialisable:
            return None  # (no shape-specialised rewrites to generalise there)
        der = general.der
        if der is None:  # read from disk: the pure derivative is made again (not kept: it
            der = self._build(args, False, None).der  # would keep the arguments alive)
            if der is None:
                return None
        parsed = self.parsed()
        core = _normalized(parsed, args, general)
        core.written = argument_writes(parsed, args, self.checked, core.followed_writes)
        wrt = self._wrt_of(parsed, core, args)
        if may_fuse(core) or (self.mode == "grad" and not self.has_aux and one_scalar(args, wrt)):
            return None
        analysis = analyze(core, wrt, args, whole_output=self.mode == "vjp")
        free = [k for k, (a, b) in enumerate(zip(pattern.values, other)) if a != b]
        small = _smallest(pattern.values, free)
        examples = [args, resized(args, pattern, other), resized(args, pattern, small)]
        values = [pattern.values, other, small]
        reads = [(core.params[at], path, axis) for at, path, axis in pattern.sites]
        runs = []
        for first in (0, 1):
            order = (first, 1 - first, 2)
            lengths = [[values[i][k] for k in free] for i in order]
            sizes = Sizes({n: j for j, n in enumerate(lengths[0])}, [reads[k] for k in free])
            try:  # (where this fails, the build for the call's shapes is made instead)
                shapes = symbolic_shapes(analysis, [examples[i] for i in order], lengths, sizes)
                runs.append(self.emit_optimized(der, examples[first], shapes))
            except (SourcegradError, ArithmeticError, LookupError, TypeError, ValueError):
                return None  # `x[2]` of a stand-in of length 2: not every length works
        run, check = runs
        if run.text != check.text or _layouts(run) != _layouts(check):
            return None
        run.specialisable = True
        run.pure = general.pure or general
        return run

    def _optimize(self, der, args, shapes=None):
        """``der`` optimized for ``args`` (and their ``shapes``), as the options ask."""
        return optimize(
            der,
            args,
            shapes,
            pools=self.options.get("pool_buffers", True),
            fuse=self.options.get("fuse"),
            exact=self.options.get("exact", True),
            given_seed=self.options.get("given_seed", False),
        )

    def _fused(self, core: Core, wrt: tuple, args: tuple, shapes) -> Emitted | None:
        """The running derivative of ``core`` (a fresh copy) with its loops of ``np.einsum``
        products fused into one contraction each (:mod:`sourcegrad.transform.optimize.fuse`),
        specialised to ``args``' shapes; None where nothing fuses, or where the stacked
        operands' shapes are not known to agree."""
        if not self.options.get("optimize", True):
            return None
        fusion = fuse_contractions(core, shapes)
        stacked = fusion.stacked
        if not stacked:
            return None
        analysis = analyze(core, wrt, args, whole_output=self.mode == "vjp")
        fused_shapes = concrete_shapes(analysis, args)
        if any(fused_shapes.get(name) is None for name in stacked):
            return None  # operands of different shapes, or a product that broadcasts
        if not fusion.pays(fused_shapes):
            return None  # stacks whose copy costs more than the adjoint's calls it saves
        der = reverse(analysis, self.reverse_mode)
        if self.options.get("exact", True):  # the forward sums as the loop does: Python's value
            fusion.keep_loop_sums(der)
        simplify(der)
        dtypes = known_dtypes(der, args)
        read = fusion.operands_read(der)
        if not all(getattr(dtypes.get(name), "kind", None) in ("f", "c") for name in read):
            return None  # integers or booleans summed in one product would not promote
        return emit(self._optimize(der, args, fused_shapes))

    def _forward_gradient(self, core: Core, wrt: tuple, args: tuple) -> Emitted | None:
        """The gradient with respect to one scalar, run in forward mode on ``core`` (a fresh
        copy): one sweep with its tangent alongside, no tape (what a hand-written derivative
        of a scalar function does). None where forward mode cannot be built; the
        reverse-mode derivative runs then."""
        try:
            analysis = analyze(core, wrt, args, whole_output=True, mode="forward")
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
        if scalar:  # it returns (value, kind(tangent)) itself: no call in between
            (param,) = run.tangent_params
            # the seed tangent, without a keyword per call (the function's own kept)
            run.fn.__kwdefaults__ = dict(run.fn.__kwdefaults__ or {}, **{param: kind(1)})
            return run
        return _scalar_gradient_call(run, i, x)
