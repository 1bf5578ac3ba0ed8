"""Derivatives of derivatives: forward mode over generated code, and the symmetric trick.

Every function sourcegrad makes runs *generated source*, so it can be transformed again. Only
forward mode is ever applied to generated code: a Jacobian-vector product of a derivative is
the forward-mode transform of that derivative's own source (``Jvp``). Reverse mode over a
gradient uses the symmetry of second derivatives instead of differentiating the reverse sweep:
the vector-Jacobian product of ``x -> grad f(x)`` with ``u`` is the Jacobian-vector product of
``grad f`` along ``u`` (Hessian-vector product, forward over reverse). So ``grad(grad(f))``,
``grad`` of a function that calls ``grad`` (gradient penalties), ``hvp`` and ``hessian`` are
all forward-mode transforms of the pure reverse derivative (``Tower``); third order applies
forward mode twice.

Every derivative object exposes ``source_call(args) -> (fn, values, post)``: ``fn`` is a
generated function with source, ``values`` its arguments in parameter order (positional, then
keyword-only) and ``post(fn(...))`` is what calling the object with ``args`` returns.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..arguments import check_call, nonzero_tangents, refuse_complex, with_defaults
from ..derivative import Transformed, derivative
from ..errors import NonScalarOutputError, SourcegradError
from ..runtime.containers import gradient_like
from ..runtime.records import is_record
from ..runtime.signature import call_signature
from .pieces import (
    as_indices,
    call_generated,
    defined_at,
    direction_indices,
    located,
    narrowed_over,
    not_a_gradient_inside,
    note_raised_at,
    refuse_non_scalar,
    refuse_non_scalar_value,
    refuse_rerun,
)

_LOCK = threading.RLock()
#: (generated function, wrt, select) -> Transformed jvp of it; the _KEPT most recently used
_JVPS: OrderedDict = OrderedDict()
_KEPT = 256


def _kept(cache: OrderedDict, key, make):
    """``cache[key]``, made by ``make()`` where missing; ``cache`` keeps the :data:`_KEPT` most
    recently used (what it holds is freed once no derivative uses it)."""
    found = cache.get(key)
    if found is not None:
        with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
            cache.move_to_end(key)
        return found
    with _LOCK:
        found = cache.get(key)
        if found is None:
            found = cache[key] = make()
            while len(cache) > _KEPT:
                cache.popitem(last=False)
    return found


#: ``record(jvp, args, fn, values)`` for each call of a :class:`Jvp` (forward mode over a
#: derivative, resolved while generated code runs): its arguments, the function it runs and
#: that function's arguments; ``record(vjp, args, None, ())`` for a :class:`GradientVjp`'s
JVP_RECORDERS: list = []


@contextlib.contextmanager
def recording_jvps(record: Callable[[Any, tuple, Callable, tuple], None]) -> Iterator[None]:
    """Inside, ``record(jvp, args, fn, values)`` is told of every call of a :class:`Jvp`."""
    JVP_RECORDERS.append(record)
    try:
        yield
    finally:
        JVP_RECORDERS.remove(record)


def is_derivative(obj: Any) -> bool:
    """Whether sourcegrad made ``obj`` (it is differentiated through its generated source)."""
    return isinstance(obj, (Transformed, Jvp, Tower, NestedGrad, GradientVjp))


def jvp_of_generated(fn, wrt: tuple, select: tuple = (), options: dict | None = None):
    """The jvp transform of generated function ``fn``; ``select`` picks one part of its
    ``(value, tangent)`` result (a path of tuple positions) so the rest is never computed;
    ``options``: more options of the transform."""
    options = {"select": select, **(options or {})}
    return _kept(
        _JVPS,
        (fn, wrt, tuple(sorted(options.items()))),
        lambda: Transformed(fn, wrt, "jvp", False, True, options),
    )


def _offset(obj) -> int:
    return len(getattr(obj, "bound_self", ()) or ())


def as_values(d: Any, args: tuple, i: int, x: Any) -> tuple:
    """The values of the generated function of the derivative ``d`` (called with ``args``,
    its seed last) that ``x`` is in the place of argument ``i``: ``(x,)``, one value per
    tangent where ``d`` takes a tuple of tangents apart there (a jvp along several arguments,
    and forward mode over one, at every level), or the seed a vjp of a gradient takes."""
    n = len(args)
    if isinstance(d, Jvp):
        if i % n == n - 1:  # its tangent
            return d.flat_tangents(args[:-1], x)
        return as_values(d.base, args[:-1], i, x)
    if getattr(d, "mode", None) == "jvp" and d.wrt_tuple and i % n == n - 1:
        return tuple(x)
    if isinstance(d, GradientVjp) and i % n == n - 1:  # g_out, as the tower's seed takes it
        seeds = d.seeds(x, d.bound_self + tuple(args[:-1]))[d.units :]
        return tuple(seeds[0]) if isinstance(d.tower.dirs[-1], tuple) else seeds  # joint
    return (x,)


def value_positions(d: Any, args: tuple, nvalues: int) -> list[list[int]]:
    """For each argument of the call of derivative ``d`` with ``args``, the positions of the
    ``nvalues`` values of its generated function that it is (the leading object of a method
    and the defaults the call leaves out belong to no argument)."""
    if isinstance(d, Jvp):
        *primal, t = args
        n_t = len(d.flat_tangents(tuple(primal), t))
        return value_positions(d.base, tuple(primal), nvalues - n_t) + [
            list(range(nvalues - n_t, nvalues))
        ]
    off, m = _offset(d), len(args)
    seeded = getattr(d, "mode", None) in ("vjp", "jvp") and m > 0
    width = len(as_values(d, args, m - 1, args[-1])) if seeded else 0
    given = m - (1 if width else 0)
    positions = [[off + k] for k in range(given)]
    if width:  # the seeds come last, after the defaults the call left out
        positions.append(list(range(nvalues - width, nvalues)))
    return positions


class Jvp:
    """``Jvp(d, wrt)(*args, t)``: ``(d(*args), tangent of d(*args) along t)`` for a derivative
    object ``d``, by forward mode over ``d``'s generated source."""

    def __init__(self, base: Any, wrt: Any, inside: bool = True):
        self.base = base
        #: over a gradient a function being differentiated calls (see ``forward``'s
        #: ``inside``); not for the user's own ``jvp(grad(f))``, run once per call
        self.inside = inside
        self.wrt_tuple = isinstance(wrt, (tuple, list))
        self.wrt = tuple(wrt) if self.wrt_tuple else (wrt,)
        self.__name__ = "jvp_" + getattr(base, "__name__", "f")

    def flat_tangents(self, primal, t) -> tuple:
        """The values of the generated function that the tangent ``t`` of a call with
        arguments ``primal`` is, after the base's values: each ``wrt`` position's tangent as
        the base takes that argument apart (:func:`as_values`)."""
        ts: list = []
        for i, ti in zip(self.wrt, tuple(t) if self.wrt_tuple else (t,)):
            if ti is None:  # zeros, as many as the argument's values
                ts.extend((None,) * len(as_values(self.base, primal, i, primal[i])))
            else:
                refuse_complex(self.__name__, primal[i], ti, "tangent", f"argument {i}")
                ts.extend(as_values(self.base, primal, i, ti))
        return tuple(ts)

    def _transform(self, primal):
        """The jvp transform of the base's generated function, its arguments and the base's
        result packaging, for base arguments ``primal``."""
        fn, values, post = self.base.source_call(tuple(primal))
        positions = value_positions(self.base, tuple(primal), len(values))
        wrt = tuple(p for i in self.wrt for p in positions[i % len(primal)])
        options = {"inside": True} if self.inside else None
        return jvp_of_generated(fn, wrt, (), options), values, post

    def redirected(self, args: tuple) -> tuple | None:
        """``(jvp, args)`` of the forward mode that runs in this one's place for ``args``:
        along the nonzero tangents alone, or over the base that runs narrowed; else None."""
        *primal, t = args
        narrowed = self.wrt_tuple and nonzero_tangents(self.wrt, primal, t)
        if narrowed:  # no forward mode along a tangent seen to be zero
            return Jvp(self.base, narrowed[0], self.inside), (*primal, narrowed[1])
        base = self.base
        over = isinstance(base, Jvp) and narrowed_over(base.wrt_tuple, base.wrt, self, primal, t)
        if over:  # the base is forward mode that runs narrowed: over the one it runs
            inner = Jvp(base.base, over[0], self.inside)
            return Jvp(inner, self.wrt if self.wrt_tuple else self.wrt[0], self.inside), over[1]
        return None

    def parts(self, args: tuple) -> tuple[Transformed, tuple, tuple, Callable]:
        """``(jt, taken, values, post)`` for calling this jvp with ``args``: the transform
        that runs, its arguments (``taken``), the generated function's values (``taken``, then
        the tangents) and the base's result packaging."""
        instead = self.redirected(args)
        if instead is not None:
            return instead[0].parts(instead[1])
        *primal, t = args
        jt, values, post = self._transform(primal)
        tangents = self.flat_tangents(primal, t)
        return jt, values, values + tangents, lambda raw: (post(raw[0]), post(raw[1]))

    def source_call(self, args: tuple) -> tuple[Callable, tuple, Callable]:
        """``(fn, values, post)`` for calling this jvp with ``args`` (see the module): the
        pure code of the build for their ranks, recorded as the jvp that runs."""
        instead = self.redirected(args)
        if instead is not None:
            return instead[0].source_call(instead[1])
        jt, taken, values, post = self.parts(args)
        fn = jt.ranked(taken).source_fn
        for record in JVP_RECORDERS:
            record(self, args, fn, values)
        return fn, values, post

    def source(self, *args: Any) -> str:
        """The generated source of the jvp for arguments like ``args`` (the tangent last)."""
        jt, values, _ = self._transform(args[:-1])
        return jt.source(*values)

    def __call__(self, *args: Any, t_in: Any = None) -> Any:
        if t_in is not None:
            args = args + (t_in,)
        if JVP_RECORDERS:  # an export's trace: the pure code it writes is what runs
            fn, values, post = self.source_call(args)
        else:  # the build its calls decide: optimized from a signature's second call
            jt, taken, values, post = self.parts(args)
            fn = jt.emitted(taken).fn
        try:
            return post(call_generated(fn, values))
        except SourcegradError as exc:  # (a check of the base's code, met when it runs)
            placed = located(exc, self.user_function())
            if placed is exc:
                raise
            raise placed from None

    def user_function(self) -> Any:
        """The user's function under the derivatives this is forward mode over."""
        base = self.base
        while isinstance(base, Jvp):
            base = base.base
        return getattr(base, "f", base)


# ---------------------------------------------------------------------- gradients of gradients


class Tower:
    """``∂/∂x[d1] ... ∂/∂x[dk] grad_{read} f``: a higher derivative of ``f`` as forward mode
    applied ``k`` times to the reverse-mode gradient of ``f``.

    ``dirs`` lists argument indices; each is given a seed when the tower is evaluated, where
    None means a unit seed, which needs that argument to be a scalar (so the derivative taken
    before it had a scalar output). A direction may be a tuple of indices (a direction in
    several arguments at once, ``hvp(f, wrt=(0, 1))``): its seed is a tuple, one per index.
    The transforms are built once per tower (see :func:`tower`), whatever the seeds.
    """

    def __init__(
        self,
        f: Callable,
        bound_self: tuple,
        dirs: list,
        read: tuple,
        read_tuple: bool = False,
        options: dict | None = None,
    ):
        self.f = f
        #: options of every level's derivative (an export's: each callee's vjp written whole)
        self.options = dict(options or {})
        self.bound_self = bound_self
        self.dirs = list(dirs)
        self.read = tuple(read)
        self.read_tuple = read_tuple
        self.W = tuple(
            sorted({i for k in self.dirs for i in direction_indices(k)} | set(self.read))
        )
        self.nseeds = sum(len(direction_indices(k)) for k in self.dirs)
        self.__name__ = "d" * (len(self.dirs) + 1) + "_" + getattr(f, "__name__", "f")

    def gradient(self) -> Transformed:
        """The reverse-mode gradient the levels transform (with respect to :attr:`W`): of a
        function, one that runs the builds of ``grad(f, W)`` (made once for both)."""
        g = getattr(self, "_g", None)
        if g is None:
            if self.bound_self:
                g = Transformed(self.f, self.W, "grad", False, False, self.options)
                g.bound_self = self.bound_self
            else:
                g = derivative(self.f, self.W, "grad", False, False, self.options)
            self._g = g
        return g

    def levels(self, values=None) -> list:
        """The emitted levels for arguments like ``values`` (arguments, then one seed per
        direction), rank-generic without ``values``: the gradient, then one forward-mode
        transform per direction, each of the pure function of the level below (each returns
        only the tangent of the level below's gradient, so nothing the derivative does not
        need is computed). Each is the build for its ranks, whose pure code is what is shown
        and transformed again; making them counts as no call of any level."""
        found, outer, taken = self._below(values)
        return found + [outer.emitted() if taken is None else outer.ranked(taken)]

    def _below(self, values) -> tuple[list, Transformed, tuple | None]:
        """The levels below the outermost (see :meth:`levels`), the outermost level's
        transform and its arguments (the seeds of the levels below it included, its own not)
        for arguments like ``values`` (all of them, seeds included; None: rank-generic)."""
        n = None if values is None else len(values) - self.nseeds
        outer, found, given = self.gradient(), [], 0  # given: the seeds of the levels below
        for k, i in enumerate(self.dirs):
            taken = None if values is None else values[: n + given]
            entry = outer.emitted() if taken is None else outer.ranked(taken)
            found.append(entry)
            select = (1, 1) if k == 0 else (1,)
            outer = jvp_of_generated(entry.source_fn, direction_indices(i), select, self.options)
            given += len(direction_indices(i)) if k < len(self.dirs) - 1 else 0
        return found, outer, None if values is None else values[: n + given]

    def outermost(self, values=None):
        """The emitted outermost level (see :meth:`levels`): its pure code."""
        return self.levels(values)[-1]

    def _entry(self, values):
        """The function that runs for ``values``' signature: the outermost level's build
        that its own calls decide (pure on a signature's first call, optimized for the shapes
        from the second on, as a gradient's), kept once no later call changes it."""
        key = tuple([call_signature(v) for v in values])
        fns = self.__dict__.setdefault("_fns", {})
        fn = fns.get(key)
        if fn is None:
            with _LOCK:
                fn = fns.get(key)
                if fn is None:
                    _, outer, taken = self._below(values)
                    entry = outer.emitted(taken)
                    fn = entry.fn
                    if outer.settled(taken, entry):
                        fns[key] = fn
        return fn

    def _check(self, key: tuple, values) -> None:
        """Refuse a non-scalar output (see :func:`refuse_non_scalar`), once per signature."""
        checked = self.__dict__.setdefault("_checked", set())
        if key not in checked:
            refuse_non_scalar(self, values)
            checked.add(key)

    def _first_call(self, values) -> tuple | None:
        """``(result,)`` of the first call for ``values``' signature of a second derivative:
        forward mode over the gradient returning the value too, which is refused where it is
        not a scalar (running the gradient first to see would run the user's functions once
        more); None for a higher order (checked so) or a signature called before."""
        key = tuple([call_signature(v) for v in values])
        checked = self.__dict__.setdefault("_checked", set())
        if key in checked:
            return None
        if len(self.dirs) != 1:
            name = getattr(self.f, "__name__", "the function")
            refuse_rerun(
                self.f, f"a derivative of order 3 or more runs {name}() once more on its first call"
            )
            with _LOCK:
                self._check(key, values)
            return None
        try:
            found, _, taken = self._below(values)
        except NonScalarOutputError as exc:  # a function that returns a tuple, refused by grad
            if "returns a tuple" in exc.reason:
                refuse_non_scalar_value(self, ())
            raise
        whole = jvp_of_generated(
            found[0].source_fn, direction_indices(self.dirs[0]), (), self.options
        )
        (value, _), (_, tangent) = call_generated(whole.ranked(taken).fn, values)
        refuse_non_scalar_value(self, value)
        checked.add(key)
        return (tangent,)

    def _seeds(self, args, given=None):
        seeds = []
        for i, seed in zip(self.dirs, given or (None,) * len(self.dirs)):
            if isinstance(i, tuple):  # a joint direction: one seed per argument
                seeds.extend(seed)
                continue
            if seed is None:
                x = args[i]
                if isinstance(x, float) or (hasattr(x, "ndim") and x.ndim == 0):
                    seed = 1.0 if isinstance(x, float) else np.ones_like(x)
                else:
                    raise NonScalarOutputError(
                        "the gradient being differentiated again is not a scalar (argument "
                        f"{i} has shape {np.shape(x)}); use sourcegrad.hessian, hvp or jacobian",
                        *defined_at(self.f),
                    )
            seeds.append(seed)
        return tuple(seeds)

    def _select(self, raw):
        # one gradient per argument in W; a single argument's gradient may itself be a tuple
        grads = raw if len(self.W) > 1 else (raw,)
        picked = tuple(grads[self.W.index(i)] for i in self.read)
        return picked if self.read_tuple else picked[0]

    def values(self, args: tuple, seeds: tuple | None, kwargs: dict | None = None) -> tuple:
        """The generated function's arguments: ``args`` (defaults filled in), then seeds."""
        kwonly = getattr(getattr(self.f, "__code__", None), "co_kwonlyargcount", 0)
        if not self.bound_self or kwargs or kwonly:
            args = with_defaults(self.f, tuple(args), kwargs)
        return tuple(args) + self._seeds(args, seeds)

    def source_call(
        self, args: tuple, seeds: tuple | None = None, kwargs: dict | None = None
    ) -> tuple[Callable, tuple, Callable]:
        """``(fn, values, post)`` for evaluating the tower at ``args`` (see the module): the
        pure outermost level, which forward mode transforms again."""
        values = self.values(args, seeds, kwargs)
        with _LOCK:
            self._check(tuple([call_signature(v) for v in values]), values)
        return self.outermost(values).source_fn, values, self._select

    def evaluate(self, args: tuple, seeds: tuple | None = None, kwargs: dict | None = None) -> Any:
        """The derivative at ``args`` (and keyword arguments ``kwargs``) with ``seeds`` (one
        per direction; None: unit), by the optimized outermost level."""
        values = self.values(args, seeds, kwargs)
        try:
            first = self._first_call(values)
            if first is not None:
                return self._select(first[0])
            return self._select(call_generated(self._entry(values), values))
        except SourcegradError as exc:
            placed = located(exc, self.f)
            if placed is exc:
                raise
            raise placed from None
        except Exception as exc:  # (NumPy's, from the user's line: kept, with a note)
            note_raised_at(exc, self.f)
            raise

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.evaluate(args, None, kwargs)

    def source(self, *args: Any, seeds: tuple | None = None) -> str:
        """The generated source of the outermost forward-mode transform; rank-generic without
        ``args``."""
        if not args:
            return self.outermost().pretty()
        return self.outermost(tuple(args) + self._seeds(args, seeds)).pretty()


_TOWERS: OrderedDict = OrderedDict()  # the _KEPT most recently used


def tower(
    f: Callable,
    bound_self: tuple,
    dirs: list,
    read: tuple,
    read_tuple: bool = False,
    inside: bool = False,
) -> Tower:
    """The :class:`Tower` for these directions, made once and reused; ``inside``: the vjp of
    a gradient that a function being differentiated calls (see ``forward``'s ``inside``)."""
    key = (f, tuple(id(b) for b in bound_self), tuple(dirs), tuple(read), read_tuple, inside)
    options = {"inside": True} if inside else None
    return _kept(_TOWERS, key, lambda: Tower(f, bound_self, dirs, read, read_tuple, options))


def grad_of_derivative(d: Any, wrt: Any) -> Callable:
    """``grad(d, wrt)`` for a gradient ``d`` made by sourcegrad (its output must be a scalar)."""
    read, read_tuple = as_indices(wrt)
    if isinstance(d, Transformed) and d.mode == "grad" and not d.has_aux and not d.with_value:
        off = len(d.bound_self)
        read = tuple(i + off if i >= 0 else i for i in read)
        if len(d.wrt) != 1 or d.wrt_tuple:
            raise SourcegradError(
                "grad of a gradient with several wrt arguments: its output is a tuple; "
                "differentiate a gradient with one wrt argument"
            )
        return NestedGrad(tower(d.f, d.bound_self, [d.wrt[0]], read, read_tuple), off)
    if isinstance(d, NestedGrad):
        t = d.tower
        if len(t.read) != 1:
            raise SourcegradError("grad of a derivative with a tuple output is not defined")
        read = tuple(i + d.off if i >= 0 else i for i in read)
        return NestedGrad(tower(t.f, t.bound_self, t.dirs + [t.read[0]], read, read_tuple), d.off)
    raise SourcegradError(
        f"grad() of {getattr(d, '__name__', d)!r}: only gradients (grad(f), grad(grad(f)), ...) "
        "can be differentiated again with grad; use jvp for forward mode"
    )


class NestedGrad:
    """A user-facing higher gradient: call it like ``f``."""

    def __init__(self, tower: Tower, off: int):
        self.tower = tower
        self.off = off
        self.__name__ = tower.__name__

    def __call__(self, *args, **kwargs):
        check_call(self.tower.f, args, kwargs, (), self.__name__, bound=self.tower.bound_self)
        return self.tower(*(self.tower.bound_self + args), **kwargs)

    def source_call(self, args: tuple) -> tuple[Callable, tuple, Callable]:
        """``(fn, values, post)`` for calling this gradient with ``args`` (see the module)."""
        return self.tower.source_call(self.tower.bound_self + tuple(args))

    def source(self, *args) -> str:
        return self.tower.source(*(self.tower.bound_self + args))


def derivative_vjp(d: Any, wrt: Any) -> Callable:
    """``vjp_of`` for a gradient made by sourcegrad: ``(*args, g_out) -> grads``, by symmetry
    (the vjp of a gradient is a Hessian-vector product)."""
    read, read_tuple = as_indices(wrt)
    refuse_rerun(d.tower.f if isinstance(d, NestedGrad) else getattr(d, "f", None))
    if isinstance(d, Transformed) and d.mode == "grad" and not d.has_aux and not d.with_value:
        off = len(d.bound_self)
        read = tuple(i + off for i in read)
        dw = d.wrt if d.wrt_tuple else d.wrt[:1]
        if len(dw) != 1:
            raise SourcegradError(
                "a gradient with several wrt arguments is called inside a function being "
                "differentiated; use one gradient per argument"
            )
        return GradientVjp(tower(d.f, d.bound_self, [dw[0]], read, read_tuple, True), 0, d)
    if isinstance(d, NestedGrad):  # its output along t.read: g_out, a joint direction there
        t = d.tower
        read2 = tuple(i + d.off for i in read)
        last = t.read[0] if len(t.read) == 1 else t.read
        higher = tower(t.f, t.bound_self, t.dirs + [last], read2, read_tuple, True)
        return GradientVjp(higher, len(t.dirs), None, d)
    raise not_a_gradient_inside(d)


class GradientVjp:
    """``(*args, g_out) -> grads``: the vjp of a ``gradient`` (or of a gradient of a gradient,
    ``nested``) made by sourcegrad, a Hessian-vector product (:class:`Tower` ``t`` with
    ``units`` unit seeds before ``g_out``). It is a derivative object itself (``source_call``):
    forward mode over it, for a function that calls a gradient, transforms its source."""

    mode = "vjp"

    def __init__(self, t: Tower, units: int, gradient: Transformed | None = None, nested=None):
        self.tower, self.units, self.gradient, self.nested = t, units, gradient, nested
        self.bound_self = t.bound_self
        self.__name__ = "vjp_" + t.__name__

    def source_call(self, args: tuple) -> tuple[Callable, tuple, Callable]:
        """``(fn, values, post)`` for calling this vjp with ``args`` (the seed last)."""
        *primal, g_out = args
        primal = self.bound_self + tuple(primal)
        return self.tower.source_call(primal, self.seeds(g_out, primal))

    def __call__(self, *args: Any, g_out: Any = None) -> Any:
        if g_out is not None:
            args = args + (g_out,)
        for record in JVP_RECORDERS:
            record(self, args, None, ())
        *primal, g_out = args
        primal = self.bound_self + tuple(primal)
        return self.tower.evaluate(primal, self.seeds(g_out, primal))

    def one_seed_in_a_tuple(self) -> bool:
        """Whether ``g_out`` is a tuple holding the one seed: the output of ``grad(f,
        wrt=(i,))`` (or of a gradient of a gradient along ``wrt=(i,)``)."""
        if self.gradient is not None:
            return self.gradient.wrt_tuple
        t = self.nested.tower
        return t.read_tuple and len(t.read) == 1

    def seeds(self, g_out, primal: tuple) -> tuple:
        """The tower's seeds for ``g_out`` (for ``grad(f, wrt=(i,))``: ``(g,)``, one tuple),
        given the arguments ``primal``: the adjoint of a record (a dataclass gradient, a
        ``DictPieces``) rebuilt as the record, which the tangent is read as."""
        seed = g_out[0] if self.one_seed_in_a_tuple() else g_out
        last = self.tower.dirs[-1]
        like = primal[last] if isinstance(last, int) and last < len(primal) else None
        refuse_complex(self.__name__, like, seed, "output gradient", "the gradient")
        if is_record(like) and seed is not None and type(seed) is not type(like):
            seed = gradient_like(like, seed)
        return (None,) * self.units + (seed,)


# ---------------------------------------------------------------------- public entry points


def jvp_transform(f: Callable, wrt: Any, options: dict) -> Callable:
    """``jvp(f, wrt, **options)``: forward mode over ``f``'s source, or over the generated
    source of ``f`` where sourcegrad made it (:class:`Jvp`)."""
    if is_derivative(f):
        return Jvp(f, wrt, inside=False)
    return derivative(f, wrt, "jvp", False, True, options)
