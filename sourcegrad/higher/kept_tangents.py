"""Forward mode over a gradient runs a called function's forward once: the running code of
an ``hvp`` (``jvp(grad(f))``, a Hessian's columns) pairs the callee's jvp, ``h, th =
jvp_dense(p, x, t_in=tp)``, and the jvp of its vjp in the adjoint, ``dx, tdx =
jvp_of(vjp_dense, (0, 1))(p, x, dh, t_in=(tp, tdh))`` (which runs ``dense``'s forward
again), as ``h, th, kept_h = jvp_forward_kept(jvp_dense, vjp_dense, (0, 1), p, x, t_in=tp)``
and ``dx, tdx = jvp_backward_kept(kept_h, dh, t_in=(tp, tdh))``
(``transform/optimize/kept_tangents.py``).

Both halves are cut from the running code of forward mode over the callee's vjp (its pure
source, for every rank) where it first reads the output gradient or its tangent: the forward
half returns the value, its tangent and what the adjoint half reads (as
:mod:`sourcegrad.kept` cuts a vjp). That code pairs the calls of the callee's own callees
alike, so a helper calling helpers runs each once. Where the halves cannot be had, the calls
run as they were written."""

from __future__ import annotations

import ast
import dataclasses
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arguments import split_args, with_defaults
from ..errors import SourcegradError
from ..kept import (
    function_def,
    halves_functions,
    names_bound,
    names_bound_inside,
    names_deleted,
    names_read,
    no_arguments,
    parameter_names,
    plain_vjp,
)
from ..runtime.signature import rank_signature
from ..runtime.tangent_helpers import zero_tangent
from ..runtime.trees import DictPieces, Pieces
from ..transform import derive
from . import jvp_of_generated

__all__ = ["jvp_backward_kept", "jvp_forward_kept"]

#: the attribute of a generated jvp of a vjp holding its :class:`TangentHalves` (None: it
#: cannot be cut), by the seed's tangent parameter
_HALVES = "sourcegrad_tangent_halves"
_STATE = "kept__"


@dataclass(frozen=True)
class TangentHalves:
    """The forward half (the primal values, the tangents but the seed's by name; returns
    ``((value, tangent), state)``) and the adjoint half (``(state, *, g_out[, seed's
    tangent])``; returns the jvp's ``((value, gradients), (tangent, their tangents))``)."""

    forward: types.FunctionType
    adjoint: types.FunctionType
    #: the tangent parameters of the forward half, in ``wrt`` order
    tangents: tuple
    #: the name of the seed's tangent parameter (None: the seed's tangent is zero)
    seed_tangent: str | None
    #: the names the forward half hands the adjoint half, in the order it does
    kept: tuple
    #: the forward half's statements as text (halves of builds for other seeds' ranks
    #: whose forward halves read the same take each other's states)
    forward_text: str
    #: the ranks of the seed the build was made for
    seed_rank: Any = None


def jvp_forward_kept(jvp: Any, vjp: Any, wrt: Any, *args: Any, t_in: Any) -> tuple:
    """``(value, tangent, kept)`` of the call whose jvp is ``jvp(*args, t_in=t_in)`` (along
    ``wrt`` but the seed; a tuple of tangents where that is more than one) and whose vjp's jvp
    ``jvp_of(vjp, wrt)(*args, g_out, t_in=...)`` the adjoint runs later: ``kept`` is handed to
    :func:`jvp_backward_kept`."""
    plan = _plan(vjp, wrt, args)
    if plan is not None:
        seed = _SEEDS.get(plan[2])
        halves = _halves(plan, _guess(plan[1]) if seed is None else seed)
    if plan is None or halves is None:
        value, tangent = jvp(*args, t_in=t_in)
        return value, tangent, None
    ts = t_in if len(halves.tangents) != 1 else (t_in,)
    pos, kwonly = split_args(plan[3].f, plan[1])  # (keyword-only parameters by name)
    (value, tangent), state = halves.forward(*pos, **kwonly, **dict(zip(halves.tangents, ts)))
    return value, tangent, (halves, state, plan, vjp, args, _indices(wrt))


def jvp_backward_kept(kept: Any, vjp: Any, wrt: Any, *args: Any, t_in: Any) -> tuple:
    """What ``jvp_of(vjp, wrt)(*args, t_in=t_in)`` (``args``: the call's, then the seed)
    returns, from the state :func:`jvp_forward_kept` kept (``kept``; a list of them: the
    last, taken off), where that call was given the same objects along the same arguments
    (else run whole)."""
    if isinstance(kept, list):
        kept = kept.pop() if kept else None
    *primal, g_out = args
    if kept is None or not _same_call(kept, vjp, primal, wrt):
        return derive.makers().jvp_of(vjp, wrt)(*args, t_in=t_in)
    halves, state, plan, _, _, _ = kept
    if rank_signature(g_out) != halves.seed_rank:  # the build for another seed's ranks
        if _stand_in(g_out) is not None:
            _SEEDS[plan[2]] = _stand_in(g_out)
        other = _halves(plan, g_out)
        named = dict(zip(halves.kept, state))
        if (
            other is None
            or other.forward_text != halves.forward_text
            or set(other.kept) - set(named)
        ):
            return derive.makers().jvp_of(vjp, wrt)(*args, t_in=t_in)  # (runs it again)
        state, halves = tuple(named[n] for n in other.kept), other
    given, n = {}, len(primal)
    if halves.seed_tangent is not None:  # (a call along the primal values only: zero)
        at = _indices(wrt)
        ts = t_in if isinstance(wrt, tuple) else (t_in,)
        given[halves.seed_tangent] = ts[at.index(n)] if n in at else zero_tangent(g_out)
    elif n in _indices(wrt):  # (halves taking no seed's tangent, given one)
        return derive.makers().jvp_of(vjp, wrt)(*args, t_in=t_in)
    raw, traw = halves.adjoint(state, g_out=g_out, **given)
    finish = plan[3].finish  # (the derivative behind a function value's vjp)
    return finish(*raw), finish(*traw)


def _same_call(kept: tuple, vjp: Any, primal: list, wrt: Any) -> bool:
    """Whether the adjoint's call of ``vjp`` with ``primal`` along ``wrt`` (the seed aside)
    is the one ``kept`` is of."""
    _, _, _, vjp_then, args_then, wrt_then = kept
    if len(primal) != len(args_then) or any(a is not b for a, b in zip(primal, args_then)):
        return False
    n = len(primal)
    if tuple(i for i in _indices(wrt) if i != n) != tuple(i for i in wrt_then if i != n):
        return False
    if vjp is vjp_then:
        return True
    fn, fn_then = getattr(vjp, "fn", None), getattr(vjp_then, "fn", None)
    return (
        type(vjp) is type(vjp_then)
        and fn is not None
        and _identity(fn) == _identity(fn_then)
        and getattr(vjp, "wrt", None) == getattr(vjp_then, "wrt", None)
    )


def _identity(fn) -> tuple:
    """What tells function values apart: a bound method by its object and function."""
    if isinstance(fn, types.MethodType):
        return id(fn.__self__), id(fn.__func__)
    return (id(fn),)


#: (the callee's code, the forward mode's ``wrt``, the ranks of its primal values) -> a
#: stand-in of the seed the last call gave (its ranks and dtype: which build's halves to
#: run); by code, so that every derivative of the callee (another ``hvp`` of the caller, a
#: caller of the same callee) starts from the seed its calls were last given
_SEEDS: dict = {}


def _plan(vjp, wrt, args: tuple) -> tuple | None:
    """``(forward mode over the vjp's pure source, its primal values, the key of its seed in
    :data:`_SEEDS`, the vjp, whose ``finish`` packs what the halves return)`` for ``vjp``
    called with ``args`` along ``wrt``, or None where its halves are not cut."""
    vjp, leading = plain_vjp(vjp, len(args))
    if vjp is None or vjp.packing is not None or getattr(vjp.f, "__code__", None) is None:
        return None
    values = with_defaults(vjp.f, leading + args)
    n, m, k = len(args), len(values), len(leading)
    jwrt = tuple(i + k if i < n else m for i in _indices(wrt))  # the seed: after the defaults
    fn = vjp.ranked(values).source_fn
    jt = jvp_of_generated(fn, jwrt, (), {"inside": True})
    if len(_SEEDS) > 256:
        _SEEDS.clear()
    ranks = tuple([rank_signature(v) for v in values])
    return jt, values, (vjp.f.__code__, jwrt, ranks), vjp


def _halves(plan: tuple, seed: Any) -> TangentHalves | None:
    """The halves of the build of ``plan``'s forward mode for its values and ``seed``."""
    jt, values = plan[0], plan[1]
    try:
        entry = jt.ranked(values + (seed,))
    except SourcegradError:  # (refused for a seed of these ranks: run whole)
        return None
    halves = getattr(entry.fn, _HALVES, False)
    if halves is False:
        m = len(values)
        jwrt = jt.wrt
        name = entry.tangent_params[jwrt.index(m)] if m in jwrt else None
        halves = _cut(entry.fn, entry.text, entry.tangent_params, name)
        if halves is not None:
            halves = dataclasses.replace(halves, seed_rank=rank_signature(seed))
        setattr(entry.fn, _HALVES, halves)
    return halves


def _guess(values: tuple) -> Any:
    """A seed for a first call: like its first floating array argument, else a float."""
    for v in values:
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.inexact):
            return _stand_in(v)
    return 0.0


def _stand_in(g: Any) -> Any:
    """A small value of ``g``'s ranks and dtype, of its type where that is a tuple, list or
    dict (the adjoints of one, ``Pieces`` and ``DictPieces``, included) holding such values;
    None for another value."""
    if isinstance(g, np.ndarray):
        return np.zeros((1,) * g.ndim, dtype=g.dtype)
    t = type(g)
    if t in (tuple, list, Pieces):
        items = [_stand_in(v) for v in g]
        return None if any(v is None for v in items) else t(items)
    if t in (dict, DictPieces):
        items = {k: _stand_in(v) for k, v in g.items()}
        return None if any(v is None for v in items.values()) else t(items)
    return g if isinstance(g, (float, complex, np.generic)) else None


def _indices(wrt) -> tuple:
    return tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)


def _cut(fn: types.FunctionType, text: str, tangents: tuple, seed: str | None):
    """The :class:`TangentHalves` of the jvp of a vjp ``fn`` (its source ``text``), cut
    before the first statement reading the output gradient or its tangent ``seed``."""
    node = ast.parse(text).body[0]
    if not isinstance(node, ast.FunctionDef) or node.args.vararg or node.args.kwarg:
        return None
    seeds = {"g_out"} | ({seed} if seed else set())
    body, last = node.body[:-1], node.body[-1]
    cut = next((k for k, s in enumerate(body) if names_read([s]) & seeds), None)
    if cut is None or cut == 0 or not _returns_pairs(last):
        return None
    forward, adjoint = body[:cut], body[cut:] + [last]
    params = parameter_names(node)
    (value, _), (tangent, _) = (e.elts for e in last.value.elts)
    bound = names_bound(forward) | params
    if names_read([ast.Expr(value), ast.Expr(tangent)]) - bound:
        return None
    kept = sorted(names_read(adjoint) & (bound - seeds - names_deleted(forward)))
    unsure = sorted(names_bound_inside(forward) & set(kept) - params)
    module = _module(node, forward, adjoint, (value, tangent), kept, unsure, seeds, fn)
    ast.increment_lineno(module, fn.__code__.co_firstlineno - node.lineno)
    made = halves_functions(compile(module, fn.__code__.co_filename, "exec"), fn)
    kept_tangents = tuple(t for t in tangents if t != seed)
    text = "\n".join(ast.unparse(s) for s in forward)
    forward_fn, adjoint_fn = made[node.name + "_forward"], made[node.name + "_adjoint"]
    return TangentHalves(forward_fn, adjoint_fn, kept_tangents, seed, tuple(kept), text)


def _returns_pairs(last) -> bool:
    """Whether ``last`` is ``return ((value, gradients), (tangent, their tangents))`` with
    the value and its tangent names or constants (or tuples of them)."""
    if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Tuple)):
        return False
    pairs = last.value.elts
    return len(pairs) == 2 and all(
        isinstance(p, ast.Tuple) and len(p.elts) == 2 and _plain(p.elts[0]) for p in pairs
    )


def _plain(node) -> bool:
    """A name, a constant, or a tuple of them (what a callee returning a tuple returns)."""
    if isinstance(node, ast.Tuple):
        return all(_plain(e) for e in node.elts)
    return isinstance(node, (ast.Name, ast.Constant))


def _module(node, forward, adjoint, value, kept, unsure, seeds, fn) -> ast.Module:
    """``def factory(): cells...; def name_forward(...); def name_adjoint(...)``."""
    load = ast.Load()
    state = ast.Tuple([ast.Name(n, load) for n in kept], load)
    first = []
    if unsure:  # assigned in a branch or loop only: defined on every path the halves take
        first = [ast.Assign([ast.Name(n, ast.Store()) for n in unsure], ast.Constant(None))]
    a = node.args
    fwd_args = ast.arguments(
        posonlyargs=list(a.posonlyargs),
        args=list(a.args),
        vararg=None,
        kwonlyargs=[k for k in a.kwonlyargs if k.arg not in seeds],
        kw_defaults=[d for k, d in zip(a.kwonlyargs, a.kw_defaults) if k.arg not in seeds],
        kwarg=None,
        defaults=list(a.defaults),
    )
    ret = ast.Return(ast.Tuple([ast.Tuple(list(value), load), state], load))
    fwd = function_def(node.name + "_forward", fwd_args, first + forward + [ret])
    adj_args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(_STATE)],
        vararg=None,
        kwonlyargs=[ast.arg(s) for s in sorted(seeds)],
        kw_defaults=[None] * len(seeds),
        kwarg=None,
        defaults=[],
    )
    unpack = []
    if kept:
        targets = ast.Tuple([ast.Name(n, ast.Store()) for n in kept], ast.Store())
        unpack = [ast.Assign([targets], ast.Name(_STATE, load))]
    adj = function_def(node.name + "_adjoint", adj_args, unpack + adjoint)
    cells = [ast.Name(n, ast.Store()) for n in fn.__code__.co_freevars]
    factory_body = [ast.Assign(cells, ast.Constant(None))] if cells else []
    factory = function_def("factory__", no_arguments(), factory_body + [fwd, adj])
    for made in (fwd, adj, factory):
        ast.copy_location(made, node)
    return ast.fix_missing_locations(ast.Module([factory], []))
