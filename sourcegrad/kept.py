"""A called function's forward sweep, kept for its adjoint: the running code of a derivative
that calls one of the user's functions (``h = dense(p, x)``) runs the callee's forward once.

The pure derivative calls the callee's vjp in its adjoint sweep (``vjp_dense(p, x,
g_out=dh)``), which computes the callee's forward again before its adjoint. The running code
instead calls :func:`forward_kept` where the forward sweep called the function: it runs the
forward half of the callee's running vjp, returning the value and what the adjoint half
reads (the *kept* state); :func:`backward_kept` runs the adjoint half on it where the vjp was
called. Both halves are cut from the callee's generated code where its adjoint sweep starts,
so the values are those of the vjp they replace.

The callee's running code pools its buffers as any build does: its first statement takes a
set from the pool and its last gives it back, so the forward half takes the set and the
adjoint half returns it. A call's kept state survives the next call's forward (a loop calling
the helper every step takes one set per step); nothing the halves return lives in a set (the
returned names escape, and escaping names are never pooled).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import sys
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import disk_cache, notes
from .arguments import full_args, split_args
from .callables import copy_if_written
from .derivative import RUN_RECORDERS, Transformed, derivative
from .errors import SourcegradError
from .transform import derive
from .transform.emit import Emitted

#: the name of the kept state's parameter in the adjoint half
_STATE = "kept__"


@dataclass(frozen=True)
class Halves:
    """The forward half (the vjp's parameters but its seed; returns ``(value, state)``) and
    the adjoint half (``(state, *, g_out)``; returns the vjp's ``(value, gradients)``)."""

    forward: types.FunctionType
    adjoint: types.FunctionType
    #: how many values the forward half takes by position (what :func:`split_args` would
    #: give it: the function's positional parameters, all of them with ``*args``)
    positional: int = 0


#: a function -> {(wrt, options, base): the twin of its vjp, whose halves run}; not by vjp,
#: as a vjp of a function value is made again on every call
_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: the attribute of a generated vjp function that holds its :class:`Halves` (None: it
#: cannot be cut), read on every kept call (an attribute, not a weak mapping's lookup)
_HALVES = "sourcegrad_halves"


def forward_kept(vjp: Callable, *args: Any, **kwargs: Any) -> tuple:
    """``(value, kept)`` of the call whose vjp is ``vjp(*args, g_out=..., **kwargs)``:
    ``value`` is what the function returns; ``kept`` is handed to :func:`backward_kept`."""
    twin = getattr(vjp, "kept_twins", _NONE).get(False)
    if twin is None:
        return _forward(vjp, args, kwargs, False)
    return _forward_half(twin, args, kwargs)


def given_forward_kept(vjp: Callable, *args: Any, **kwargs: Any) -> tuple:
    """:func:`forward_kept` of a call whose caller gives away the output gradient it passes to
    :func:`backward_kept` (no other reference of the caller's reaches it, nor reads it after):
    the adjoint half may compute in that gradient's memory and return it."""
    twin = getattr(vjp, "kept_twins", _NONE).get(True)
    if twin is None:
        return _forward(vjp, args, kwargs, True)
    return _forward_half(twin, args, kwargs)


#: the twins of a vjp that is not a :class:`Transformed` (none are kept on it)
_NONE: dict = {}


def _forward(vjp, args: tuple, kwargs: dict, given: bool) -> tuple:
    """:func:`forward_kept` (``given``: :func:`given_forward_kept`) where the twin is not found
    on ``vjp`` yet."""
    twin, leading = _twin(vjp, len(args), given)
    if twin is None:
        return _called(vjp, args, kwargs), ("call", vjp, args, kwargs)
    if not leading and isinstance(vjp, Transformed):
        vjp.kept_twins[given] = twin  # found once per vjp
    return _forward_half(twin, leading + args, kwargs)


def _forward_half(twin: Transformed, args: tuple, kwargs: dict) -> tuple:
    """:func:`forward_kept`'s result, for the derivative ``twin`` whose halves run and its
    arguments ``args`` (the leading ones first) and ``kwargs``."""
    if kwargs:
        args = full_args(twin.f, args, kwargs)
    # (what twin.emitted(args) gives, two calls fewer: a twin's function takes no *args)
    entry = twin._entry(args) if twin.packing is None else twin.emitted(args)
    halves = getattr(entry.fn, _HALVES, False)
    if halves is False:
        halves = halves_of(entry)
    if halves is None:
        return _called(twin, args, {}), ("call", twin, args, {})
    try:
        if len(args) <= halves.positional:  # (no value goes by keyword: the usual call)
            value, state = halves.forward(*args)
        else:
            pos, kwonly = split_args(twin.f, args)
            value, state = halves.forward(*pos, **kwonly)
    except Exception as exc:
        unbound = notes.callee_binding_error(twin, exc)
        if unbound is not None:  # the user's call does not fit the function it calls
            raise unbound from None
        _explain(twin, exc, entry, args)
        raise
    if RUN_RECORDERS:  # the build ran, in halves (what `show` lists as callees)
        for record in RUN_RECORDERS:
            record(twin, args, entry)
    return value, (halves.adjoint, state, twin, entry, args)


def forward_kept_of(fn: Callable, wrt: Any, *args: Any) -> tuple:
    """:func:`forward_kept` of ``vjp_of(fn, wrt)``: a function value known only when the
    derivative runs (``layer(h)``, ``model(params, x)``)."""
    vjp = derive.makers().vjp_of(fn, wrt)
    twin, leading = _twin(vjp, len(args))
    if twin is None:  # the function itself gives the value; its vjp runs in the adjoint
        given = [copy_if_written(fn, i, a, isinstance(wrt, tuple) and i in wrt or i == wrt)
                 for i, a in enumerate(args)]  # fmt: skip
        return fn(*given), ("call", vjp, args, {})
    return _forward_half(twin, leading + args, {})  # (the twin found once per call)


def backward_kept(kept: tuple, *, g_out: Any) -> Any:
    """What the vjp replaced by :func:`forward_kept` returns for the output gradient
    ``g_out``."""
    if kept[0] == "call":
        _, vjp, args, kwargs = kept
        return vjp(*args, g_out=g_out, **kwargs)
    adjoint, state, twin, entry, args = kept
    try:
        value, grads = adjoint(state, g_out=g_out)
    except Exception as exc:
        _explain(twin, exc, entry, args, g_out)
        raise
    return twin.finish(value, grads)


def _explain(twin: Transformed, exc: Exception, entry: Emitted, args: tuple, g_out=None):
    """An error raised by a half of ``entry`` explained as the whole vjp's would be: placed
    at the user's line, or with a note naming it."""
    if isinstance(exc, SourcegradError):
        notes.refuse_located(twin, exc, entry)
    else:
        notes.explain(twin, exc, entry, args, g_out)


def _called(vjp, args: tuple, kwargs: dict):
    """The value of the call a vjp (a :class:`Transformed`) differentiates."""
    if kwargs:
        args = full_args(vjp.f, vjp.bound_self + args, kwargs)
    else:
        args = vjp.bound_self + args
    pos, kwonly = split_args(vjp.f, args)
    return vjp.f(*pos, **kwonly)


def plain_vjp(vjp, nargs: int) -> tuple:
    """``(vjp, leading arguments)``: the plain vjp made by sourcegrad that a call of ``vjp``
    with ``nargs`` arguments runs (itself, or that of a callable object's function, given the
    object first), or ``(None, ())``."""
    leading = ()
    as_derivative = getattr(vjp, "as_derivative", None)
    if as_derivative is not None:
        vjp, leading = as_derivative(nargs)
    if not (
        isinstance(vjp, Transformed)
        and vjp.mode == "vjp"
        and not vjp.bound_self
        and not vjp.with_value
        and vjp.with_gradients
    ):
        return None, ()
    return vjp, leading


def _twin(vjp, nargs: int, given: bool = False) -> tuple:
    """``(twin, leading arguments)``: the derivative whose halves run for ``vjp`` (a plain
    vjp made by sourcegrad, or one of a callable object's function), or ``(None, ())``;
    ``given``: one whose adjoint may compute in the output gradient's memory."""
    vjp, leading = plain_vjp(vjp, nargs)
    if vjp is None:
        return None, ()
    wrt = vjp.wrt if vjp.wrt_tuple else vjp.wrt[0]
    key = (wrt, vjp.has_aux, tuple(sorted(vjp.options.items(), key=lambda kv: kv[0])))
    # by function (a twin runs its function's defaults) and base (the builds kept for what
    # the function reads: a helper whose globals were rebound has another base)
    key += (vjp._base, given)
    twins = _TWINS.get(vjp.f)
    if twins is None:
        twins = {}
        if vjp.f.__closure__ is None:  # a twin holds its function: made per call for closures
            _TWINS[vjp.f] = twins
    twin = twins.get(key)
    if twin is None:
        options = dict(vjp.options, given_seed=True) if given else dict(vjp.options)
        twin = twins[key] = derivative(vjp.f, wrt, "vjp", vjp.has_aux, False, options)
    return twin, leading


def halves_of(entry: Emitted) -> Halves | None:
    """The two halves of ``entry``'s function (a vjp), cut where its adjoint sweep starts;
    None where it has no such place or its forward sweep reads the seed."""
    fn = entry.fn
    halves = getattr(fn, _HALVES, False)
    if halves is False:
        halves = _cut(fn, entry.text)
        setattr(fn, _HALVES, halves)
    return halves


def _cut(fn: types.FunctionType, text: str) -> Halves | None:
    lines = text.splitlines()
    if "" not in lines:
        return None
    # parsed at the lines of fn's file (its def is the text's first line), so that no walk
    # shifts them after; emit leaves one empty line, where the adjoint starts
    shift = max(fn.__code__.co_firstlineno - 1, 0)
    start = lines.index("") + 1 + shift
    node = ast.parse("\n" * shift + text).body[0]
    if not isinstance(node, ast.FunctionDef) or "g_out" not in _kwonly(node):
        return None
    forward = [s for s in node.body if s.lineno < start]
    adjoint = [s for s in node.body if s.lineno >= start]
    last = node.body[-1]
    if not (
        forward
        and isinstance(last, ast.Return)
        and isinstance(last.value, ast.Tuple)
        and len(last.value.elts) == 2
        and isinstance(last.value.elts[0], (ast.Name, ast.Constant))
        and "g_out" not in names_read(forward)
    ):
        return None
    params = parameter_names(node)
    kept = sorted(
        names_read(adjoint) & (names_bound(forward) | params) - {"g_out"} - names_deleted(forward)
    )
    value = last.value.elts[0]
    unsure = sorted(names_bound_inside(forward) & set(kept) - params)
    module = _halves_module(node, forward, adjoint, value, kept, unsure, fn)
    if node.lineno != fn.__code__.co_firstlineno:
        _shift_lines(module, fn.__code__.co_firstlineno - node.lineno)
    code = compile(module, fn.__code__.co_filename, "exec")
    made = halves_functions(code, fn)
    forward = made[node.name + "_forward"]
    varargs = forward.__code__.co_flags & 0x04  # CO_VARARGS
    positional = sys.maxsize if varargs else forward.__code__.co_argcount
    return Halves(forward, made[node.name + "_adjoint"], positional)


def _halves_module(node, forward, adjoint, value, kept, unsure, fn) -> ast.Module:
    """``def factory(): cells...; def name_forward(...); def name_adjoint(...)``, the cells
    standing for ``fn``'s closure so the halves read the same variables."""
    state = ast.Tuple([ast.Name(n, ast.Load()) for n in kept], ast.Load())
    first = []
    if unsure:  # assigned in a branch or loop only: defined on every path the halves take
        targets = [ast.Name(n, ast.Store()) for n in unsure]
        first = [ast.Assign(targets=targets, value=ast.Constant(None))]
    fwd_args = ast.arguments(
        posonlyargs=list(node.args.posonlyargs),
        args=list(node.args.args),
        vararg=None,
        kwonlyargs=[a for a in node.args.kwonlyargs if a.arg != "g_out"],
        kw_defaults=[
            d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if a.arg != "g_out"
        ],
        kwarg=None,
        defaults=list(node.args.defaults),
    )
    ret = ast.Return(ast.Tuple([value, state], ast.Load()))
    fwd = function_def(node.name + "_forward", fwd_args, first + forward + [ret])
    adj_args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(_STATE)],
        vararg=None,
        kwonlyargs=[ast.arg("g_out")],
        kw_defaults=[None],
        kwarg=None,
        defaults=[],
    )
    unpack = []
    if kept:
        targets = ast.Tuple([ast.Name(n, ast.Store()) for n in kept], ast.Store())
        unpack = [ast.Assign(targets=[targets], value=ast.Name(_STATE, ast.Load()))]
    adj = function_def(node.name + "_adjoint", adj_args, unpack + adjoint)
    cells = [ast.Name(n, ast.Store()) for n in fn.__code__.co_freevars]
    factory_body = [ast.Assign(targets=cells, value=ast.Constant(None))] if cells else []
    factory_body += [fwd, adj]
    factory = function_def("factory__", no_arguments(), factory_body)
    for made in (fwd, adj, factory):
        ast.copy_location(made, node)
    module = ast.Module([factory], [])
    a = node.args  # what the parse made has every position: the new nodes are fixed
    parsed = [*forward, *adjoint, value, *a.posonlyargs, *a.args, *a.kwonlyargs, *a.defaults]
    _fix_missing_locations(module, {id(n) for n in parsed + a.kw_defaults}, 1, 0, 1, 0)
    return module


def halves_functions(code: types.CodeType, fn: types.FunctionType) -> dict:
    """The functions defined in the factory compiled as ``code``, made with ``fn``'s
    globals, defaults and closure cells."""
    factory = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    kwdefaults = {k: v for k, v in (fn.__kwdefaults__ or {}).items() if k != "g_out"}
    made = {}
    for c in factory.co_consts:
        if not isinstance(c, types.CodeType):
            continue
        closure = tuple(cells[n] for n in c.co_freevars) or None
        f = types.FunctionType(c, fn.__globals__, c.co_name, None, closure)
        if c.co_name.endswith("_forward"):
            f.__defaults__ = fn.__defaults__
            f.__kwdefaults__ = kwdefaults or None
        made[c.co_name] = f
    return made


def function_def(name: str, args: ast.arguments, body: list) -> ast.FunctionDef:
    return ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None)


def no_arguments() -> ast.arguments:
    return ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )


def _kwonly(node: ast.FunctionDef) -> set:
    return {a.arg for a in node.args.kwonlyargs}


def parameter_names(node: ast.FunctionDef) -> set:
    a = node.args
    return {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}


#: what :func:`_nodes` does not descend into: expression contexts and operators (no names
#: nor positions there)
_LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def _nodes(tree) -> list:
    """The nodes ``ast.walk(tree)`` gives but the contexts and operators (a node reached
    twice given twice), in another order: without ``ast.iter_child_nodes``' generators."""
    out, todo, AST = [], [tree], ast.AST
    while todo:
        n = todo.pop()
        out.append(n)
        for field in n._fields:
            v = getattr(n, field, None)
            if type(v) is list:
                todo.extend(x for x in v if isinstance(x, AST) and not isinstance(x, _LEAVES))
            elif isinstance(v, AST) and not isinstance(v, _LEAVES):
                todo.append(v)
    return out


def _shift_lines(tree, n: int) -> None:
    """``ast.increment_lineno(tree, n)``, but a node reached twice (the value both halves
    read) shifted once."""
    seen: set = set()
    for node in _nodes(tree):
        if id(node) in seen:
            continue
        seen.add(id(node))
        if "lineno" in node._attributes:
            node.lineno = getattr(node, "lineno", 0) + n
        if "end_lineno" in node._attributes and getattr(node, "end_lineno", 0) is not None:
            node.end_lineno = getattr(node, "end_lineno", 0) + n


def _fix_missing_locations(node, complete: set, *at) -> None:
    """``ast.fix_missing_locations`` from ``node``, whose nearest parent with a position
    was at ``at``: (line, column, end line, end column); the nodes whose ids are in
    ``complete`` and every node under them have all their positions (a parse made them)."""
    attributes, at = node._attributes, list(at)
    for i, name in enumerate(("lineno", "col_offset", "end_lineno", "end_col_offset")):
        if name not in attributes:
            continue
        value = getattr(node, name, None)  # (a start missing, an end missing or None)
        if (value is None and i >= 2) or not hasattr(node, name):
            setattr(node, name, at[i])
        else:
            at[i] = value
    for field in node._fields:
        v = getattr(node, field, None)
        for child in v if type(v) is list else (v,):
            if isinstance(child, ast.AST) and not isinstance(child, _LEAVES):
                if id(child) not in complete:
                    _fix_missing_locations(child, complete, *at)


def names_read(stmts) -> set:
    """The names ``stmts`` read; ``del name`` counts (the adjoint half deletes names the
    forward half made: they must be handed over to it)."""
    return {
        n.id
        for s in stmts
        for n in _nodes(s)
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Load, ast.Del))
    }


def names_bound(stmts) -> set:
    """Names bound in ``stmts``: assigned, deleted, or named by a ``def`` or ``class``."""
    found = set()
    for s in stmts:
        for n in _nodes(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                found.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.ClassDef)):
                found.add(n.name)
    return found


def names_deleted(stmts) -> set:
    """Names a ``del`` may leave unbound at the end of ``stmts`` (the adjoint assigns them
    before it reads them: it would fail where it read a name the forward sweep deleted)."""
    gone: set = set()
    for s in stmts:
        if isinstance(s, ast.Assign):
            gone -= names_bound([s])
        gone |= {
            t.id
            for n in _nodes(s)
            if isinstance(n, ast.Delete)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
    return gone


def names_bound_inside(stmts) -> set:
    """Names assigned inside a compound statement (a branch or a loop body may not run)."""
    return names_bound([s for s in stmts if isinstance(s, (ast.If, ast.For, ast.While))])


# ---------------------------------------------------------------- kept on disk
def callee_recipe(made: Any) -> list | None:
    """``[module, qualname, hash, mode, wrt, keeping, exact]``: how another process makes
    ``made`` again, the derivative of one of the user's functions that a build calls (a
    helper's vjp, a method's) as the transformation made it: the function found by its
    module and name, its source and environment checked by ``hash`` (of
    :func:`~sourcegrad.disk_cache.function_text`), the derivative made by the maker the
    transformation called (:func:`callee_made`, which gives ``made`` itself here); None where
    it cannot be (a nested function, a derivative with other options)."""
    fn = getattr(made, "f", None)
    if not (isinstance(made, Transformed) and type(fn) is types.FunctionType):
        return None
    if made.mode not in _MAKERS or made.bound_self or made.has_aux:
        return None
    text = disk_cache.function_text(fn)
    if text is None:
        return None
    wrt = list(made.wrt) if made.wrt_tuple else made.wrt[0]
    keeping = made.options.get("keep_forward", True) is not False
    exact = made.options.get("exact", True) is not False
    digest = hashlib.sha256(text.encode()).hexdigest()
    where = [fn.__module__, fn.__qualname__, digest, made.mode, wrt, keeping, exact]
    return where if callee_made(*where) is made else None


#: the maker of a callee's derivative (:class:`~sourcegrad.transform.derive.Makers`), by mode
_MAKERS = {"vjp": "vjp_of", "jvp": "jvp_of"}


def callee_made(
    module: str, qualname: str, digest: str, mode: str, wrt: Any, keeping: bool, exact: bool
) -> Any:
    """The derivative :func:`callee_recipe` describes, made again; None where its function is
    not loaded (a user's module is never imported here: the caller's module imported it), or
    its source or environment is not the one kept."""
    fn = sys.modules.get(module)
    for part in qualname.split("."):
        fn = getattr(fn, part, None)
    if type(fn) is not types.FunctionType or "<" in qualname or mode not in _MAKERS:
        return None
    text = disk_cache.function_text(fn)
    if text is None or hashlib.sha256(text.encode()).hexdigest() != digest:
        return None
    with contextlib.ExitStack() as scope:
        if not keeping:
            scope.enter_context(derive.whole_vjps())
        scope.enter_context(derive.rounding_allowed(not exact))
        make = getattr(derive.makers(), _MAKERS[mode])
        made = make(fn, tuple(wrt) if isinstance(wrt, list) else wrt)
    options = getattr(made, "options", {})
    if options.get("keep_forward", True) is not keeping or options.get("exact", True) is not exact:
        return None  # made inside a derivative of other options (the context above ours)
    return made


disk_cache.add_recipe("callee", callee_recipe, callee_made)
# the message of a runtime check's refusal (`not_a_view(x, refusal_12, 12)`), kept as its text
disk_cache.add_recipe("text", lambda obj: [obj] if type(obj) is str else None, str)
