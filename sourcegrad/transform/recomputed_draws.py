"""Calls of the user's functions that draw random numbers (part of the analysis pass).

``h = dropout_layer(h, 0.5)`` where ``dropout_layer`` draws ``np.random.uniform(0, 1,
X.shape)``: the derivative runs the callee again to differentiate it (its vjp, and at higher
orders its jvp), and each run draws anew from the generator, so the mask it differentiates is
not the one Python's call used (a silent wrong gradient). Such a call is refused where a
differentiated value is passed; a callee that seeds its generator itself
(``np.random.seed(k)``, ``np.random.default_rng(k)``) draws the same numbers each run and is
followed, and so are draws made in the function being differentiated.
"""

from __future__ import annotations

import types

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from . import syntax as S
from .calls import nested_function
from .parse import UNRESOLVED, is_library, parse, resolve
from .rule_binding import is_user_function, local_names
from .walk import walk_statements

#: numpy.random names that make or set a generator's state rather than draw from it
_SEEDS = {"seed", "default_rng", "RandomState", "Generator", "set_state", "SeedSequence"}
_STATE = {"get_state", "bit_generator"}

#: the methods of a Generator or RandomState that draw (``rng.normal(size=3)``)
_DRAWS = {
    "random", "rand", "randn", "randint", "integers", "uniform", "normal", "standard_normal",
    "choice", "permutation", "shuffle", "binomial", "poisson", "exponential", "gamma", "beta",
    "laplace", "logistic", "gumbel", "multivariate_normal", "dirichlet", "multinomial",
    "standard_exponential", "standard_gamma", "lognormal", "random_sample", "bernoulli",
}  # fmt: skip


def refuse_recomputed_draws(core, ops: dict, varied: dict) -> None:
    """Refuse each call of a user function given a differentiated value where the function
    (or one it calls) draws from a random generator it does not seed itself."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        found = _drawing_callee(core, op) if op is not None else None
        if found is None:
            continue
        fn, args = found
        before = varied.get(("in", id(stmt)), set())
        if not any(S.names_in(a) & before for a in args):
            continue
        found = unseeded_draw(fn, set()) if fn is not None else _nested_draw(core, op)
        if found is None:
            continue
        draw, where = found
        label = op.label if op.user_call else S.text(op.dynamic_call[0])
        way_out = _way_out(label, fn is not None and is_library(fn))
        raise UnsupportedSyntaxError(
            f"{label}() draws random numbers (`{draw}`, {where}) from a generator it does not "
            f"seed: the derivative runs {label}() again to differentiate it, and its draws "
            f"would not be the ones Python's call made; {way_out}",
            core.parsed.filename,
            stmt.lineno,
        )


def _way_out(label: str, library: bool) -> str:
    if library:  # sourcegrad's own (nn.functional.dropout): not the user's to seed
        return (
            "draw the mask in the function you differentiate and multiply by it "
            "(`keep = rng.random(h.shape) >= p`, then `h * keep / (1 - p)`)"
        )
    return (
        "draw them in the function you differentiate and pass them in (`mask = "
        f"np.random.uniform(0, 1, x.shape) > p`, then `{label}(x, mask)`), or seed the "
        f"generator inside {label}()"
    )


def _drawing_callee(core, op):
    """``(function, arguments)`` of a call of a user function, ``(None, arguments)`` of a call
    of a nested ``def`` or lambda of the function; None for other operations."""
    if op.user_call:
        fn, args, kwargs = op.user_call
        return fn, [*args, *dict(kwargs).values()]
    if op.dynamic_call and isinstance(op.dynamic_call[0], gast.Name):
        if nested_function(core, op.dynamic_call[0].id) is not None:
            return None, list(op.dynamic_call[1])
    return None


def _nested_draw(core, op):
    """:func:`unseeded_draw` of the nested function ``op`` calls, read in the enclosing
    function's source (its names resolved as the enclosing function's)."""
    name = op.dynamic_call[0].id
    body, _ = nested_function(core, name)
    nodes = [n for stmt in body for n in S.walk(stmt)]
    bound = local_names(core) | _stored(nodes)
    where = f"{name}(), {core.parsed.filename}"
    return _first_draw(core.parsed, nodes, bound, where, set())


def _stored(nodes) -> set:
    return {n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}


def unseeded_draw(fn, seen: set):
    """``(text of the draw, where)`` of the first draw ``fn`` makes (itself or through the
    user functions it calls) from a generator it does not seed; None where it makes none."""
    found = read_once(fn, seen)
    if found is None:
        return None
    parsed, nodes = found
    name = getattr(fn, "__qualname__", "the function")
    return _first_draw(parsed, nodes, _stored(nodes), f"{name}(), {parsed.filename}", seen)


def read_once(fn, seen: set) -> tuple | None:
    """``(parsed, its nodes)`` of ``fn``, unless its code is in ``seen`` (then added) or its
    source is not read (refused or differentiated elsewhere)."""
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return None
    seen.add(code)
    try:
        parsed = parse(fn)
    except SourcegradError:
        return None
    return parsed, list(S.walk(parsed.node))


def _first_draw(parsed, nodes, bound: set, where: str, seen: set):
    """``(text of the draw, where)`` of the first unseeded draw among ``nodes``, or in a user
    function they call; None where they seed a generator, or draw from none."""
    kinds = [(_kind(parsed, n.func, bound), n) for n in nodes if isinstance(n, gast.Call)]
    if any(kind == "seed" for kind, _ in kinds):
        return None
    for kind, call in kinds:
        if kind == "draw":
            return S.text(call.func), f"{where}:{call.lineno}"
        if isinstance(kind, types.FunctionType):
            found = unseeded_draw(kind, seen)
            if found is not None:
                return found
    return None


def _kind(parsed, func, bound: set):
    """ "seed", "draw", a user function called, or None, for the callee expression ``func``."""
    obj = resolve(parsed, func, bound)
    if obj is not UNRESOLVED:
        if is_user_function(obj):
            return obj
        module = getattr(obj, "__module__", "") or ""
        holder = repr(getattr(obj, "__self__", ""))
        from_random = module.startswith("numpy.random") or module == "random"
        if not from_random and isinstance(obj, types.BuiltinMethodType):
            from_random = "random" in holder or "Generator" in holder
        if not from_random:
            return None
        name = getattr(obj, "__name__", "")
        if name in _SEEDS:
            return "seed"
        return None if name in _STATE else "draw"
    if isinstance(func, gast.Attribute) and func.attr in _SEEDS and _is_random_module(func):
        return "seed"
    if isinstance(func, gast.Attribute) and func.attr in _DRAWS:
        return "draw"  # a generator in a local name or an argument (`rng.uniform(...)`)
    return None


def _is_random_module(func) -> bool:
    return isinstance(func.value, gast.Attribute) and func.value.attr == "random"
