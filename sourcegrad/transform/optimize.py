"""Pass 5b — optimize: the derivative that runs, made from the one that is shown.

The simplified derivative (the *pure* one) is what ``source``/``show`` print and what higher
derivatives transform again. This pass copies it and rewrites the copy for speed, keeping its
results identical (up to rounding where a product runs through BLAS):

* zero resets of per-iteration adjoints are dropped, then values the tape kept only for a
  zero reset or a shape are dropped from it or kept as shapes (``shape_of``);
* with the argument *shapes* known (:mod:`sourcegrad.transform.shapes`), ``sum_to``,
  ``unreduce`` and ``expand_to`` are decided at transform time, and an elementwise operation
  whose operand is owned (below), dead afterwards and of the result's shape and dtype writes
  into that operand's buffer (``np.add(h1_1, b0, out=h1_1)``);
* an adjoint accumulation ``a = a + e`` becomes ``a += e`` when ``a`` holds an array that the
  derivative itself allocated and that no other name, container or tape entry can reach (an
  ownership analysis over the structured code: a value is *owned* after a statement that
  creates a new array, and stops being owned as soon as it is read where the result may share
  its memory: a plain copy, a view, a container, a call sourcegrad does not know);
* ``a @ b`` of vectors and matrices becomes ``np.dot(a, b)``: the same product, but NumPy's
  ``matmul`` takes a slow path for an outer product like ``x.T @ g`` at batch 1 (9 µs where
  ``np.dot`` takes 2);
* with the argument signature known, ``gradient_like(params, {path: value, ...})`` becomes a
  call to a builder generated for that signature's container structure
  (:func:`sourcegrad.runtime.containers.gradient_builder`), which walks no containers;
* ``np.einsum`` of two operands runs as :func:`~sourcegrad.runtime.linalg_helpers.contract`
  (``tensordot``) and ``uneinsum`` computes only the adjoints read; full sums of NumPy arrays
  run as ``np.add.reduce``;
* with shapes known and NumPy arguments only, also: a forward product computed twice is
  computed once (``_common_subexpressions``), a large temporary NumPy would not reuse is named
  so that the operation reading it runs in its buffer (``_split_temporaries``), sums of
  same-shape float64 products run as ``np.vdot``, a ReLU's mask is taken early, and a body
  that is one elementwise chain over large arrays runs block by block
  (:mod:`sourcegrad.transform.chunk`).

Guarantees to ``emit``: a ``Derivative`` computing exactly what the pure one computes.
"""

from __future__ import annotations

from collections import Counter

import gast
import numpy as np

from ..runtime import NAMESPACE
from ..runtime.buffers import BufferPool
from ..runtime.containers import gradient_builder
from . import syntax as S
from .algebra import collect_like_terms
from .analysis import follow_path
from .chunk import chunk_elementwise
from .pool import (
    FRESH_FUNCTIONS,
    FRESH_LINALG,
    FRESH_METHODS,
    apply_pool,
    out_position,
    plan_pool,
    release_dead,
)
from .reverse import Derivative, shape_only_reads, shape_read
from .shapes import (
    ARRAY_BINOPS,
    broadcast,
    expression_dtype,
    expression_kind,
    expression_shape,
    reduce_all_call,
    sum_to_axes,
)
from .simplify import (
    dead_stores,
    dead_tape,
    drop_unused_tape,
    fold_all,
    is_adjoint,
    liveness,
    propagate,
    protect_aliases,
)
from .walk import assigned_names, definition_counts, load_counts, mutated_names, walk_statements

#: NumPy functions whose result is always a new array (or an immutable scalar)
_FRESH_NUMPY = FRESH_FUNCTIONS | {
    "zeros", "ones", "full", "empty", "array", "eye", "arange", "linspace"
}  # fmt: skip
#: runtime helpers whose result holds none of their arguments (unindex of a list holds g)
_COPYING_HELPERS = ("zero_adjoint", "unindex_shaped", "zero_index", "sum_leading", "contract")
#: runtime helpers that return a new array (or an immutable value)
_FRESH_HELPERS = (
    "zero_adjoint",
    "unindex",
    "unindex_shaped",
    "zero_index",
    "sum_leading",
    "contract",
)


def optimize(
    der: Derivative, example_args=None, shapes: dict | None = None, pools: bool = True
) -> Derivative:
    """A faster copy of ``der`` computing the same results (see the module docstring);
    with ``shapes`` (:func:`~sourcegrad.transform.shapes.concrete_shapes` of the arguments),
    specialised to those shapes, and with ``pools`` its intermediates kept in buffers from
    one call to the next (:mod:`sourcegrad.transform.pool`)."""
    node = S.clone(der.node)
    np_name = der.refs.by_id.get(id(np))
    zeros = {der.refs.by_id.get(id(NAMESPACE["zero_adjoint"]))} - {None}
    _drop_zero_resets(node.body, zeros, np_name, node.body)
    numpy_only = example_args is not None and _numpy_only(example_args)
    kinds: dict = {}  # dtypes of the names, where specialised: rewrites from here on keep them
    if shapes:
        shapes = _specialise_shapes(node, der, shapes, numpy_only)
        fold_all(node.body, der)  # 1.0 * e where unreduce(1.0, x) * e was
        floats = set(der.analysis.active) | set(der.adj_names.values())
        negatable = set()
        if numpy_only:  # known floating point: negation is exact
            kinds = _dtypes(node, der, example_args, np_name)
            negatable = {
                n for n, dt in kinds.items() if isinstance(dt, np.dtype) and dt.kind in "fc"
            }
            floats |= {
                n
                for n, dt in kinds.items()
                if dt is float or (isinstance(dt, np.dtype) and dt == np.float64)
            }
        collect_like_terms(node.body, is_adjoint, floats, negatable)  # terms helpers hid
        if numpy_only:
            _shaped_unindex(node, der, shapes, kinds)
        core = der.analysis.core  # copies left where a sum_to went (dh2_1 = dh2_2)
        propagate(node.body, set(core.user_names) | set(core.params))
        # folding may leave a gradient that is an argument itself (dx = y): copy it
        protect_aliases(Derivative(node, der.refs, der.analysis, der.mode, der.adj_names))
    for stmt in node.body:  # `x = None` before a loop: only there for a tape push
        if isinstance(stmt, gast.Assign) and S.is_none(stmt.value):
            stmt.sg_pure = True
    # without the resets, values restored from the tape only for their shapes may be dead
    while dead_stores(node.body) | dead_tape(node.body):
        pass
    drop_unused_tape(node.body)
    _tape_shapes(node.body, der)
    if shapes and numpy_only:
        _repeated_values(node.body, np_name)
        _common_subexpressions(node.body, kinds, np_name)
        _sums_of_products(node, der, shapes, kinds)
        _early_masks(node.body, der, shapes)
        _split_temporaries(node.body, der, shapes)
    helpers = {der.refs.by_id.get(id(NAMESPACE[h])) for h in _FRESH_HELPERS} - {None}
    owner = _Owner(np_name, helpers)
    if shapes and numpy_only:
        owner.in_place = _InPlace(node, der, shapes, example_args)
    owner.block(node.body, set())
    _scatter_accumulations(node.body, der)
    _contractions(node, der)
    if example_args is not None:
        _builders(node, der, example_args, owner)
        _dots(node, der)
        if numpy_only:
            _sums(node, der)
            _hoist_transposes(node.body, der)
    if shapes and numpy_only:
        adj_of = {v: k for k, v in der.adj_names.items()}
        unreduce = der.refs.by_id.get(id(NAMESPACE["unreduce"]))
        dtypes = owner.in_place.dtypes
        chunk_elementwise(node.body, shapes, dtypes, adj_of, np_name, der.refs.names, unreduce)
        owner.helpers = {der.refs.by_id.get(id(NAMESPACE[h])) for h in _FRESH_HELPERS} - {None}
        # (unindex of a list holds the array itself in the gradient it makes)
        copying = {der.refs.by_id.get(id(NAMESPACE[h])) for h in _COPYING_HELPERS} - {None}
        plan = plan_pool(node.body, owner, np_name, copying) if pools else ([], [])
        release_dead(node.body, owner, {stmt.targets[0].id for stmt, *_ in plan[0]})
        apply_pool(node.body, plan, der.refs, np_name, BufferPool.of)
    return Derivative(node, der.refs, der.analysis, der.mode, der.adj_names)


def _specialise_shapes(node, der: Derivative, shapes: dict, numpy_only: bool = False) -> dict:
    """With the shapes known: ``sum_to(e, x)`` becomes ``e``, a reshape or a sum over fixed
    axes, and ``unreduce(c, x) * e`` becomes ``c * e`` where ``e`` already has the shape of
    the product."""
    np_name = der.refs.by_id.get(id(np))
    sum_to = der.refs.by_id.get(id(NAMESPACE["sum_to"]))
    unreduce = der.refs.by_id.get(id(NAMESPACE["unreduce"]))
    expand_to = der.refs.by_id.get(id(NAMESPACE["expand_to"]))
    adj_of = {v: k for k, v in der.adj_names.items()}
    leading = der.refs.ref(NAMESPACE["sum_leading"], "sum_leading") if numpy_only else None

    def shape(e):
        return expression_shape(e, shapes, adj_of, np_name)

    def helper(e, name, nargs):
        return (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id == name
            and len(e.args) == nargs
            and not e.keywords
        )

    def method(e, attr, args, keywords=()):
        f = gast.Attribute(value=e, attr=attr, ctx=gast.Load())
        call = S.call(f, args)
        call.keywords = [gast.keyword(arg=k, value=v) for k, v in keywords]
        return call

    def axes_node(axes):
        return gast.Tuple(elts=[S.const(a) for a in axes], ctx=gast.Load())

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, e):
            self.generic_visit(e)
            if expand_to is not None and helper(e, expand_to, 4) and _true(e.args[3]):
                return e.args[0]  # expand_to(g, x, axis, True) is g
            if sum_to is None or not helper(e, sum_to, 2):
                return e
            g, x = e.args
            sg_, sx = shape(g), shape(x)
            if sg_ is None or sx is None:
                return e
            if sg_ == sx:
                return g
            axes = sum_to_axes(sg_, sx)
            if axes is None:
                return e
            lead, ones = axes
            reduced = lead + tuple(len(lead) + i for i in ones)
            target = gast.Tuple(elts=[S.const(n) for n in sx], ctx=gast.Load())
            if all(sg_[a] == 1 for a in reduced):  # only axes of length 1: a reshape
                return method(g, "reshape", [target])
            if not ones:
                if numpy_only:  # over leading axes: through BLAS where it pays
                    call = S.call(S.name(leading), [g, S.const(len(lead))])
                    call.sg_sum_leading = len(lead)  # for expression_shape
                    return call
                return method(g, "sum", [], [("axis", axes_node(lead))])
            kept = method(g, "sum", [], [("axis", axes_node(reduced)), ("keepdims", S.const(True))])
            return method(kept, "reshape", [target]) if lead else kept

        def visit_BinOp(self, e):
            self.generic_visit(e)
            if unreduce is None or not isinstance(e.op, gast.Mult):
                return e
            for side, other in (("left", e.right), ("right", e.left)):
                u = getattr(e, side)
                full = helper(u, unreduce, 2) and shape(u.args[0]) == ()
                kept = helper(u, unreduce, 4) and _true(u.args[3]) and shape(u.args[0]) is not None
                if not (full or kept):  # g broadcasts to x's shape by itself
                    continue
                so, sx = shape(other), shape(u.args[1])
                if so is not None and sx is not None and broadcast(so, sx) == so:
                    setattr(e, side, u.args[0])  # the product broadcasts the number itself
            return e

    Rewrite().visit(node)
    # names the derivative itself assigns once (hit masks, gate products) get shapes too
    counts = definition_counts(node.body)
    shapes = dict(shapes)
    for stmt in walk_statements(node.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            t = stmt.targets[0].id
            if counts[t] == 1 and t not in shapes and t not in adj_of:
                found = shape(stmt.value)
                if found is not None:
                    shapes[t] = found
    Rewrite().visit(node)
    return shapes


def _true(atom) -> bool:
    return isinstance(atom, gast.Constant) and atom.value is True


def _tape_shapes(body, der: Derivative) -> None:
    """Values the adjoint sweep restores from the tape only to read their shapes (in
    ``sum_to(g, x)`` or ``np.shape(x)``; reads that were zero resets are gone now) are saved as
    shapes, so the tape holds no array for them."""
    starts = [i for i, stmt in enumerate(body) if getattr(stmt, "sg_sweep", False)]
    if not starts:
        return
    np_name = der.refs.by_id.get(id(np))
    adjoint = body[starts[0] :]
    saved_pushes = [
        stmt
        for stmt in S.walk(gast.Module(body=body[: starts[0]], type_ignores=[]))
        if isinstance(stmt, gast.Expr)
        and getattr(stmt, "sg_tape_pair", None)
        and isinstance(stmt.value.args[0], gast.Name)
    ]
    shapes = shape_only_reads(adjoint, der.refs, np_name) & {
        stmt.sg_tape_pair[1] for stmt in saved_pushes
    }
    if not shapes:
        return
    shape_of = der.refs.ref(NAMESPACE["shape_of"], "shape_of")
    for stmt in saved_pushes:
        if stmt.sg_tape_pair[1] in shapes:
            stmt.value.args = [S.call(S.name(shape_of), stmt.value.args)]

    class Reads(gast.NodeTransformer):  # np.shape(x) of a restored Shape is not its shape
        def visit_Call(self, n):
            self.generic_visit(n)
            if isinstance(n.func, gast.Attribute) and shape_read(n, None, np_name) in shapes:
                n.func = S.name(shape_of)
            return n

    for stmt in adjoint:
        Reads().visit(stmt)


def _contractions(node, der: Derivative) -> None:
    """``np.einsum`` of two operands runs as :func:`contract` (BLAS through ``tensordot``),
    and a ``uneinsum`` computes only the adjoints that some statement reads."""
    np_name = der.refs.by_id.get(id(np))
    uneinsum = der.refs.by_id.get(id(NAMESPACE["uneinsum"]))
    read = {n.id for n in S.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}

    class Rewrite(gast.NodeTransformer):
        def visit_Assign(self, stmt):
            self.generic_visit(stmt)
            target, value = stmt.targets[0], stmt.value
            if (
                isinstance(target, gast.Tuple)
                and all(isinstance(e, gast.Name) for e in target.elts)
                and isinstance(value, gast.Call)
                and isinstance(value.func, gast.Name)
                and value.func.id == uneinsum
                and len(value.args) == 3
                and not value.keywords
            ):
                needed = [e.id in read for e in target.elts]
                if not all(needed):
                    flags = gast.Tuple(elts=[S.const(f) for f in needed], ctx=gast.Load())
                    value.args.append(flags)
            return stmt

        def visit_Call(self, e):
            self.generic_visit(e)
            if (
                _np_call(e, np_name, "einsum", 3)
                and isinstance(e.args[0], gast.Constant)
                and isinstance(e.args[0].value, str)
                and not any(isinstance(a, gast.Starred) for a in e.args)
            ):
                return S.call(S.name(der.refs.ref(NAMESPACE["contract"], "contract")), e.args)
            return e

    Rewrite().visit(node)


def _hoist_transposes(body, der: Derivative) -> None:
    """``np.dot(g, W.T)`` in a loop that does not assign ``W`` reads a contiguous copy made
    once before the loop: BLAS multiplies by a transposed (Fortran-order) matrix at about half
    the speed (a 32x128 by 128x128 float32 product: 19 µs, 10 µs contiguous)."""
    np_name = der.refs.by_id.get(id(np))
    if np_name is None:
        return
    used = {n.id for stmt in body for n in S.walk(stmt) if isinstance(n, gast.Name)}
    for i in reversed(range(len(body))):
        loop = body[i]
        if not isinstance(loop, (gast.For, gast.While)):
            continue
        assigned = {
            n.id
            for stmt in walk_statements(loop.body)
            for n in S.walk(stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt)
            if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.For))
            and isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Store)
        }
        copies: dict = {}
        _Transposes(np_name, assigned, copies, used).visit(loop)
        for x, name in sorted(copies.items(), key=lambda kv: kv[1], reverse=True):
            f = gast.Attribute(value=S.name(np_name), attr="ascontiguousarray", ctx=gast.Load())
            t = gast.Attribute(value=S.name(x), attr="T", ctx=gast.Load())
            hoisted = S.assign(name, S.call(f, [t]), getattr(loop, "lineno", None))
            body.insert(i, hoisted)


class _Transposes(gast.NodeTransformer):
    """``X.T`` in ``np.dot``/``np.matmul`` calls, for ``X`` not in ``assigned``, becomes the
    name in ``copies`` (made up here, unused in the function)."""

    def __init__(self, np_name, assigned, copies, used):
        self.np_name, self.assigned, self.copies, self.used = np_name, assigned, copies, used

    def visit_Call(self, e):
        self.generic_visit(e)
        f = e.func
        if not (
            isinstance(f, gast.Attribute)
            and f.attr in ("dot", "matmul")
            and isinstance(f.value, gast.Name)
            and f.value.id == self.np_name
        ):
            return e
        for k, a in enumerate(e.args):
            if (
                isinstance(a, gast.Attribute)
                and a.attr == "T"
                and isinstance(a.value, gast.Name)
                and a.value.id not in self.assigned
            ):
                x = a.value.id
                if x not in self.copies:
                    name = f"{x}_T"
                    while name in self.used:
                        name += "_"
                    self.used.add(name)
                    self.copies[x] = name
                e.args[k] = S.name(self.copies[x])
        return e


def _np_call(e, np_name, attr: str, nargs: int) -> bool:
    """Whether ``e`` is ``np.<attr>(...)`` with ``nargs`` positional arguments, no keywords."""
    f = getattr(e, "func", None)
    return (
        isinstance(e, gast.Call)
        and isinstance(f, gast.Attribute)
        and f.attr == attr
        and isinstance(f.value, gast.Name)
        and f.value.id == np_name
        and len(e.args) == nargs
        and not e.keywords
    )


def _ufunc_call(e, np_name):
    """The ufunc of ``e`` where ``e`` is ``np.<ufunc>(...)`` with one result, its inputs as
    positional arguments and no keywords; else None."""
    if not isinstance(e, gast.Call):
        return None
    f = e.func
    if not _np_call(e, np_name, getattr(f, "attr", ""), len(e.args)):
        return None
    ufunc = getattr(np, f.attr, None)
    if isinstance(ufunc, np.ufunc) and ufunc.nin == len(e.args) and ufunc.nout == 1:
        return ufunc
    return None


def _pure(e, np_name, elementwise=False) -> bool:
    """Whether ``e`` is arithmetic on names and numbers with no effect but its value:
    operators and NumPy ufunc calls (``elementwise``: no ``@``, ufuncs of one operand)."""
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.BinOp):
        if elementwise and isinstance(e.op, gast.MatMult):
            return False
        return _pure(e.left, np_name, elementwise) and _pure(e.right, np_name, elementwise)
    if isinstance(e, gast.UnaryOp):
        return _pure(e.operand, np_name, elementwise)
    ufunc = _ufunc_call(e, np_name)
    if ufunc is None or (elementwise and ufunc.nin != 1):
        return False
    return all(_pure(a, np_name, elementwise) for a in e.args)


def _numpy_only(args) -> bool:
    """Whether no argument holds an array that is not a NumPy ``ndarray`` (a CuPy array)."""
    from ..runtime.containers import children, is_container

    def ok(x):
        if is_container(x):
            return all(ok(v) for _, v in children(x))
        return type(x) is np.ndarray or not hasattr(x, "__array_function__")

    return all(ok(a) for a in args)


def _sums(node, der: Derivative) -> None:
    """``np.sum(e)`` becomes ``np.add.reduce(e, None)``: the same reduction (NumPy's ``sum``
    calls it) without ``sum``'s dispatch, about 2 µs less per call; NumPy arguments only."""
    np_name = der.refs.by_id.get(id(np))

    class Rewrite(gast.NodeTransformer):
        def visit_Lambda(self, e):
            return e  # the user's own functions stay as written (sourcegrad may differentiate them)

        def visit_FunctionDef(self, e):
            return e if e is not node else self.generic_visit(e)

        def visit_Call(self, e):
            self.generic_visit(e)
            if _np_call(e, np_name, "sum", 1) and not isinstance(e.args[0], gast.Starred):
                add = gast.Attribute(value=S.name(np_name), attr="add", ctx=gast.Load())
                reduce = gast.Attribute(value=add, attr="reduce", ctx=gast.Load())
                return S.call(reduce, [e.args[0], S.const(None)])
            return e

    if np_name is not None:
        Rewrite().visit(node)


_SCOPES = (
    gast.Lambda,
    gast.FunctionDef,
    gast.ListComp,
    gast.SetComp,
    gast.DictComp,
    gast.GeneratorExp,
)


def _foreign_call(n, np_name) -> bool:
    """Whether ``n`` calls something other than a NumPy function."""
    if not isinstance(n, gast.Call):
        return False
    base = S.dotted(n.func.value) if isinstance(n.func, gast.Attribute) else None
    return not (base and (base == np_name or base.startswith(f"{np_name}.")))


def _repeated_values(body, np_name) -> None:
    """A forward statement ``t = e`` whose whole value an earlier one, ``s = e``, computed
    already (``p_1 = np.exp(h)`` ... ``p_2 = np.exp(h)``, from ``np.exp(h) / np.sum(np.exp(h))``)
    is dropped and ``t`` read as ``s``: one array operation and one array fewer. Only pure
    arithmetic (operators, NumPy ufuncs) over names that nothing changes in place, ``s`` and
    ``t`` each assigned once and never changed in place, and nothing between reassigning what
    ``e`` reads."""
    if any(isinstance(n, _SCOPES) for st in body for n in S.walk(st)):
        return  # a name inside a lambda or nested function may be its own parameter
    sweep = next((i for i, st in enumerate(body) if getattr(st, "sg_sweep", False)), len(body))
    counts = definition_counts(body)
    mutated = mutated_names(body)
    seen: dict = {}  # gast.dump of a value -> the name that holds it
    renamed: dict = {}  # dropped name -> the name node it is read as
    keep = []
    for i, stmt in enumerate(body):
        if renamed:
            S.rename(stmt, renamed)
        if i >= sweep:
            keep.append(stmt)
            continue
        changed = set()
        for inner in S.walk(stmt) if isinstance(stmt, gast.stmt) else ():
            if isinstance(inner, gast.Assign):
                changed |= assigned_names(inner)
        if any(_foreign_call(n, np_name) for n in S.walk(stmt)):
            seen = {}  # a function that is not NumPy's may change the arrays passed to it
        if changed:  # values held by or read from a reassigned name are not the same any more
            seen = {
                k: v
                for k, v in seen.items()
                if v not in changed and not any(f"id='{c}'" in k for c in changed)
            }
        value = getattr(stmt, "value", None)
        single = (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and counts.get(stmt.targets[0].id) == 1
            and stmt.targets[0].id not in mutated
        )
        if single and isinstance(value, (gast.BinOp, gast.Call)) and _pure(value, np_name):
            reads = {n.id for n in S.walk(value) if isinstance(n, gast.Name)} - {np_name}
            key = gast.dump(value)
            if not reads & mutated and key in seen:
                renamed[stmt.targets[0].id] = S.name(seen[key])
                continue
            if not reads & mutated and stmt.targets[0].id not in reads:
                seen.setdefault(key, stmt.targets[0].id)
        keep.append(stmt)
    body[:] = keep


def _common_subexpressions(body, kinds: dict, np_name) -> None:
    """A forward statement ``n = e`` whose ``e`` an earlier forward statement also computes
    (``out_5 = np.exp(-x * x)`` ... ``out_7 = x * x``) moves before that statement, which reads
    ``n`` instead (``out_7 = x * x; out_5 = np.exp(-out_7)``): one array operation and one
    temporary fewer. ``(-a) * b`` counts as ``-(a * b)`` where ``a`` is floating point (negation
    is exact there, and rounding symmetric); nothing else is reassociated. Only values
    assigned once, from pure arithmetic over names nothing changes in place, and only across
    simple statements that assign none of those names and call nothing but NumPy."""
    sweep = next((i for i, st in enumerate(body) if getattr(st, "sg_sweep", False)), len(body))
    counts = definition_counts(body)
    mutated = mutated_names(body)

    def floating(e) -> bool:
        dt = expression_dtype(e, kinds, np_name)
        return isinstance(dt, np.dtype) and dt.kind in "fc"

    def simple(stmt) -> bool:
        if not isinstance(stmt, gast.Assign):
            return False
        for n in S.walk(stmt):
            if isinstance(n, gast.Call) and not (
                isinstance(n.func, gast.Attribute) and S.dotted(n.func.value) == np_name
            ):
                return False
        return True

    dumps: dict = {}  # id of a node -> gast.dump of it, until the next rewrite

    def dump(n) -> str:
        got = dumps.get(id(n))
        if got is None:
            got = dumps[id(n)] = gast.dump(n)
        return got

    def match(n, key):
        """``"same"`` if the BinOp ``n`` computes ``key``, ``"negated"`` if it computes minus
        it (``(-a) * b`` for ``a * b``), else None."""
        if dump(n) == key:
            return "same"
        if isinstance(n.op, gast.Mult):
            for neg, other in ((n.left, n.right), (n.right, n.left)):
                if (
                    isinstance(neg, gast.UnaryOp)
                    and isinstance(neg.op, gast.USub)
                    and floating(neg.operand)
                ):
                    pair = (neg.operand, other) if neg is n.left else (other, neg.operand)
                    if gast.dump(gast.BinOp(left=pair[0], op=n.op, right=pair[1])) == key:
                        return "negated"
        return None

    def occurs(stmt, key) -> bool:
        return any(isinstance(n, gast.BinOp) and match(n, key) for n in S.walk(stmt.value))

    def replace(stmt, key, name) -> None:
        class Swap(gast.NodeTransformer):
            def visit_BinOp(self, n):
                found = match(n, key)
                if found == "same":
                    return S.name(name)
                if found == "negated":
                    return gast.UnaryOp(op=gast.USub(), operand=S.name(name))
                return self.generic_visit(n)

        stmt.value = Swap().visit(stmt.value)

    j = 0
    while j < sweep:
        stmt = body[j]
        j += 1
        if not (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and isinstance(stmt.value, gast.BinOp)
            and counts.get(stmt.targets[0].id) == 1
            and _pure(stmt.value, np_name)
        ):
            continue
        name = stmt.targets[0].id
        reads = {n.id for n in S.walk(stmt.value) if isinstance(n, gast.Name)}
        if reads & mutated:
            continue
        key = gast.dump(stmt.value)
        first = None
        for i in range(j - 2, -1, -1):
            earlier = body[i]
            if not simple(earlier) or (assigned_names(earlier) & (reads | {name})):
                break
            if any(isinstance(n, gast.Name) and n.id == name for n in S.walk(earlier)):
                break
            if occurs(earlier, key):
                first = i
        if first is None:
            continue
        for i in range(first, j - 1):
            replace(body[i], key, name)
        body.insert(first, body.pop(j - 1))
        dumps.clear()  # rewritten nodes: ids may be reused


def _sums_of_products(node, der: Derivative, shapes: dict, dtypes: dict) -> None:
    """With shapes known, a full sum of a product of two same-shape float64 arrays (or of a
    square) is ``np.vdot``: no array is made for the product (``np.sum(y * log_p)``,
    ``np.sum((h - y) ** 2)``). A product assigned by the statement right before, read only
    here, counts as written inline. Only float64: BLAS sums float32 in float32 with fewer
    partial sums than NumPy's pairwise summation. Sums of sums are not split (a sum of a
    difference of nearly equal arrays would lose its digits)."""
    np_name = der.refs.by_id.get(id(np))
    if np_name is None:
        return
    adj_of = {v: k for k, v in der.adj_names.items()}
    uses = load_counts(node.body)

    def float64(e):
        dt = expression_dtype(e, dtypes, np_name)
        return dt is not None and dt == np.float64

    def total(e):
        """``np.add.reduce(e, None)`` as ``np.vdot``, or None."""
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            inner = total(e.operand)
            return None if inner is None else gast.UnaryOp(op=gast.USub(), operand=inner)
        if (
            isinstance(e, gast.BinOp)
            and isinstance(e.op, gast.Pow)
            and isinstance(e.right, gast.Constant)
            and type(e.right.value) in (int, float)
            and e.right.value == 2
            and isinstance(e.left, gast.Name)
        ):
            e = gast.BinOp(left=e.left, op=gast.Mult(), right=S.name(e.left.id))  # x ** 2
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
            sl = expression_shape(e.left, shapes, adj_of, np_name)
            sr = expression_shape(e.right, shapes, adj_of, np_name)
            if (
                sl is not None
                and sl == sr
                and len(sl) >= 1
                and float64(e.left)
                and float64(e.right)
            ):
                f = gast.Attribute(value=S.name(np_name), attr="vdot", ctx=gast.Load())
                return S.call(f, [e.left, e.right])
        return None

    def rewrite(block):
        for k, stmt in enumerate(block):
            if not isinstance(stmt, (gast.Assign, gast.Return)):
                continue
            before = block[k - 1] if k else None
            inline = {}
            if (
                isinstance(before, gast.Assign)
                and isinstance(before.targets[0], gast.Name)
                and uses.get(before.targets[0].id) == 1
                and isinstance(before.value, gast.BinOp)
            ):
                inline[before.targets[0].id] = before

            Sums(inline).visit(stmt)
        block[:] = [s for s in block if not getattr(s, "sg_dead", False)]

    class Sums(gast.NodeTransformer):
        def __init__(self, inline):
            self.inline = inline

        def visit_Call(self, e):
            self.generic_visit(e)
            if not (_np_call(e, np_name, "sum", 1) or reduce_all_call(e, np_name)):
                return e
            arg = e.args[0]
            source = self.inline.get(getattr(arg, "id", None))
            got = total(source.value if source is not None else arg)
            if got is None:
                return e
            if source is not None:
                source.sg_dead = True
            return got

    for block in list(S.blocks(node.body)):
        rewrite(block)


#: arrays at least this large get ``t = f(e)`` split so that ``f`` runs in ``e``'s buffer
_SPLIT_SIZE = 1 << 14


def _split_temporaries(body, der: Derivative, shapes: dict) -> None:
    """Give a large temporary a name where NumPy would otherwise allocate a third array for
    the operation reading it: ``t = np.tanh(x * a)`` becomes ``t = x * a`` then
    ``t = np.tanh(t)``, and in ``dx + e * (1.0 - t * t)`` the square is computed first as
    ``t_sq = t * t`` (NumPy reuses an unnamed temporary only as the left operand of ``-`` or
    ``/``, or as any operand of a commutative operation). The buffer reuse then runs the
    operation in the named buffer (``np.subtract(1.0, t_sq, out=t_sq)``), as a hand-written
    chain does. At most one temporary is named per statement (more could raise the peak), only
    for arrays of ``_SPLIT_SIZE`` elements or more, and only out of pure arithmetic."""
    np_name = der.refs.by_id.get(id(np))
    adj_of = {v: k for k, v in der.adj_names.items()}
    after: dict = {}
    liveness(body, after=after)

    def shape(e):
        return expression_shape(e, shapes, adj_of, np_name)

    def large(e, like) -> bool:
        got = shape(e)
        return got is not None and got == shape(like) and int(np.prod(got)) >= _SPLIT_SIZE

    def unary_ufunc(e) -> bool:
        ufunc = _ufunc_call(e, np_name)
        return ufunc is not None and ufunc.nin == 1

    def fresh(e) -> bool:
        return isinstance(e, (gast.BinOp, gast.UnaryOp)) or unary_ufunc(e)

    def candidate(e):
        """The first (in evaluation order) operand worth naming, as (parent, field), or None."""
        if isinstance(e, gast.BinOp):
            found = candidate(e.left) or candidate(e.right)
            if found is None and isinstance(e.op, (gast.Sub, gast.Div)):
                if fresh(e.right) and not fresh(e.left) and large(e.right, e):
                    found = (e, "right")
            return found
        if isinstance(e, gast.UnaryOp):
            return candidate(e.operand)
        if unary_ufunc(e):
            found = candidate(e.args[0])
            if found is None and fresh(e.args[0]) and large(e.args[0], e):
                found = (e.args, 0)
            return found
        return None

    for stmts in list(S.blocks(body)):
        for i in reversed(range(len(stmts))):
            stmt = stmts[i]
            if not (isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)):
                continue
            v = stmt.value
            if not _pure(v, np_name, elementwise=True):
                continue
            if unary_ufunc(v) and fresh(v.args[0]) and large(v.args[0], v):
                name, (parent, field) = stmt.targets[0].id, (v.args, 0)  # t = f(e): into t
                operand = v.args[0]
            else:
                where = candidate(v)
                if where is None:
                    continue
                live = after.get(id(stmt), set())
                parent, field = where
                operand = parent[field] if isinstance(field, int) else getattr(parent, field)
                inside = Counter(n.id for n in S.walk(operand) if isinstance(n, gast.Name))
                everywhere = Counter(n.id for n in S.walk(v) if isinstance(n, gast.Name))
                if any(n not in live and everywhere[n] == k for n, k in inside.items()):
                    continue  # it reads a buffer that the reuse can write it into already
                left = getattr(parent, "left", None)
                if isinstance(left, gast.Name) and left.id not in live and everywhere[left.id] == 1:
                    continue  # the reuse writes into the left operand's buffer
                name = der.refs.names.fresh(stmt.targets[0].id + "_t")
            shapes[name] = shape(operand)
            first = S.assign(name, operand, getattr(stmt, "lineno", None))
            for attr, val in stmt.__dict__.items():
                if attr.startswith("sg_") and attr != "sg_tape_pair":
                    setattr(first, attr, val)
            if isinstance(field, int):
                parent[field] = S.name(name)
            else:
                setattr(parent, field, S.name(name))
            stmts.insert(i, first)


def _shaped_unindex(node, der: Derivative, shapes: dict, dtypes: dict) -> None:
    """``unindex(g, x, idx)`` of an array ``x`` of known shape and dtype reads only those:
    ``unindex_shaped(g, (32, 512), np.float64, idx)``, so the tape need not keep ``x`` (an
    LSTM's gate pre-activations, read back only for the shape of their adjoint)."""
    unindex = der.refs.by_id.get(id(NAMESPACE["unindex"]))
    np_name = der.refs.by_id.get(id(np))
    if unindex is None or np_name is None:
        return
    shaped = der.refs.ref(NAMESPACE["unindex_shaped"], "unindex_shaped")

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, e):
            self.generic_visit(e)
            if not (
                isinstance(e.func, gast.Name)
                and e.func.id == unindex
                and len(e.args) == 3
                and not e.keywords
                and isinstance(e.args[1], gast.Name)
            ):
                return e
            x = e.args[1].id
            shape, dt = shapes.get(x), dtypes.get(x)
            if (
                shape is None
                or not isinstance(dt, np.dtype)
                or getattr(np, dt.name, None) is not dt.type
            ):
                return e
            dims = gast.Tuple(elts=[S.const(n) for n in shape], ctx=gast.Load())
            kind = gast.Attribute(value=S.name(np_name), attr=dt.name, ctx=gast.Load())
            return S.call(S.name(shaped), [e.args[0], dims, kind, e.args[2]])

    Rewrite().visit(node)


def _early_masks(body, der: Derivative, shapes: dict) -> None:
    """A value read, after some point, only to compare it with numbers (``h1_2 > 0.0`` and
    ``h1_2 == 0.0``, the masks of a ReLU's derivative) has each comparison made once, before
    its last other read: the backward pass keeps boolean masks (one byte an element each, at
    most :data:`_MASKS_PER_VALUE` of them) instead of the value, and the value's buffer is free
    for the operation that reads it last (the ReLU itself, in place)."""
    counts = definition_counts(body)
    where: dict = {}  # name -> top-level index of its one assignment
    for k, stmt in enumerate(body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            where.setdefault(stmt.targets[0].id, k)
    compares: dict = {}  # name -> [(index, Compare node)]
    others: dict = {}  # name -> last index of another read
    for k, stmt in enumerate(body):
        masked = set()
        for n in _in_order(stmt):  # masks named in the order the comparisons are written
            if (
                isinstance(n, gast.Compare)
                and len(n.ops) == 1
                and isinstance(n.left, gast.Name)
                and isinstance(n.comparators[0], gast.Constant)
                and isinstance(n.comparators[0].value, (int, float))
            ):
                compares.setdefault(n.left.id, []).append((k, n))
                masked.add(id(n.left))
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in masked:
                others[n.id] = k
    inserts = []
    for name, found in compares.items():
        k0 = where.get(name)
        last = others.get(name)
        if k0 is None or counts.get(name) != 1 or last is None or last <= k0:
            continue
        forms: dict = {}  # (operator, number) -> the comparisons of that form, in order
        for _, c in found:
            value = c.comparators[0].value
            forms.setdefault((type(c.ops[0]), type(value), value), []).append(c)
        if len(forms) > _MASKS_PER_VALUE or min(k for k, _ in found) <= last:
            continue
        for same in forms.values():
            mask = der.refs.names.fresh(name + "_mask")
            c = same[0]
            cmp = gast.Compare(
                left=S.name(name), ops=[c.ops[0]], comparators=[S.clone(c.comparators[0])]
            )
            inserts.append((last, S.assign(mask, cmp)))
            if name in shapes:
                shapes[mask] = shapes[name]
            for node in same:
                node.sg_mask = mask

    class Replace(gast.NodeTransformer):
        def visit_Compare(self, n):
            mask = getattr(n, "sg_mask", None)
            return S.name(mask) if mask is not None else self.generic_visit(n)

    if inserts:
        Replace().visit(gast.Module(body=body, type_ignores=[]))
        for k, stmt in reversed(sorted(inserts, key=lambda kv: kv[0])):  # (stable: in order)
            body.insert(k, stmt)


def _in_order(node):
    """The nodes under ``node`` (itself included), each before its children, children in the
    order of their fields (``left`` before ``right``)."""
    yield node
    for child in gast.iter_child_nodes(node):
        yield from _in_order(child)


#: the most masks :func:`_early_masks` keeps in place of one value (a ReLU's derivative reads
#: two: ``h > 0.0``, and ``h == 0.0`` where the tie shares the gradient)
_MASKS_PER_VALUE = 2


def _dots(node, der: Derivative) -> None:
    ranks = der.analysis.ranks
    primal_of = {v: k for k, v in der.adj_names.items()}
    sum_to = der.refs.by_id.get(id(NAMESPACE["sum_to"]))

    def rank(e):
        if isinstance(e, gast.Name):
            return ranks.get(primal_of.get(e.id, e.id))
        if isinstance(e, gast.Attribute) and e.attr == "T":
            return rank(e.value)
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == sum_to:
            return rank(e.args[1])  # reduced to the shape of its second argument
        return None

    class Rewrite(gast.NodeTransformer):
        def visit_BinOp(self, e):
            self.generic_visit(e)
            if (
                isinstance(e.op, gast.MatMult)
                and rank(e.left) in (1, 2)
                and rank(e.right)
                in (
                    1,
                    2,
                )
            ):
                dot = gast.Attribute(
                    value=S.name(der.refs.ref(np, "np")), attr="dot", ctx=gast.Load()
                )
                return S.call(dot, [e.left, e.right])
            return e

    Rewrite().visit(node)


# ------------------------------------------------------------------ in-place accumulation


class _Owner:
    def __init__(self, np_name, helpers):
        self.np_name = np_name
        self.helpers = helpers
        self.in_place = None  # an _InPlace, where shapes and dtypes are known
        self.returned: set = set()  # names owned when the function returns
        #: t -> s for ``t = s.reshape(..)`` of an owned s: t is the only name the function
        #: returns that reaches the buffer while neither is copied, changed or reassigned
        self.views: dict = {}

    def fresh(self, e) -> bool:
        """Whether ``e`` evaluates to a new array (or an immutable number)."""
        if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True  # operators make new arrays (comparisons: masks, or bools)
        source = self.reshaped(e)
        if source is not None and self.fresh(source):
            return True  # a view of memory nothing else reaches (or a copy)
        if isinstance(e, gast.Call) and not any(k.arg == "out" for k in e.keywords):
            at = out_position(e, self.np_name)
            if at is not None and len(e.args) > at:
                return False  # written into an array passed by position
            f = e.func
            if isinstance(f, gast.Name):
                return f.id in self.helpers
            if isinstance(f, gast.Attribute):
                base = S.dotted(f.value)
                if base == self.np_name or base == f"{self.np_name}.linalg":
                    obj = getattr(np.linalg if base.endswith("linalg") else np, f.attr, None)
                    if f.attr == "einsum":  # of one operand it may return a view of it
                        return len(e.args) >= 3
                    if base.endswith("linalg"):  # (matrix_transpose, diagonal: views)
                        return f.attr in FRESH_LINALG
                    return isinstance(obj, np.ufunc) or f.attr in _FRESH_NUMPY
                if f.attr == "reduce" and base and base.startswith(f"{self.np_name}."):
                    return True  # np.add.reduce(e, None): a new array (or NumPy scalar)
                return f.attr in FRESH_METHODS and base != self.np_name
        return False

    def track_views(self, stmt, owned) -> None:
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            self.views.clear()  # kept simple: only straight-line code
            return
        value = getattr(stmt, "value", None)
        touched = mutated_names([stmt]) | assigned_names(stmt)
        if value is not None and not isinstance(stmt, gast.Return):
            touched |= self.aliases(value)
        for t, src in list(self.views.items()):
            if {t, src} & touched:
                del self.views[t]
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            source = self.reshaped(value)
            t = stmt.targets[0].id
            if isinstance(source, gast.Name) and source.id in owned and source.id != t:
                self.views[t] = source.id

    def reshaped(self, e):
        """``s`` for ``np.reshape(s, ..)`` or ``s.reshape(..)``, else None."""
        if not (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)):
            return None
        if e.func.attr != "reshape":
            return None
        if S.dotted(e.func.value) == self.np_name:
            return e.args[0] if e.args else None
        return e.func.value

    def moved(self, stmt, owned) -> bool:
        """Whether ``t = s`` hands over an owned buffer: ``s`` is owned and nothing reads
        it afterwards (known where the liveness of the specialised code is)."""
        v = self.reshaped(stmt.value) or stmt.value
        if self.in_place is None or not isinstance(v, gast.Name) or v.id not in owned:
            return False
        live = self.in_place.after.get(id(stmt))
        return live is not None and v.id not in live

    def aliases(self, e) -> set:
        """Names whose memory the value of ``e`` may share (or keep a reference to)."""
        if isinstance(e, gast.Name):
            return {e.id}
        if isinstance(e, gast.Constant) or self.fresh(e):
            return set()
        if isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
            return self.aliases(e.value)
        if isinstance(e, (gast.Tuple, gast.List)):
            return set().union(*[self.aliases(x) for x in e.elts])
        return {n.id for n in S.walk(e) if isinstance(n, gast.Name)}

    def escapes(self, stmts) -> set:
        """Names that statements (at any depth) let other references reach, or rebind to a
        value that is not new."""
        out = set()
        for stmt in stmts:
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                out |= self.escapes(stmt.body) | self.escapes(stmt.orelse)
                continue
            value = getattr(stmt, "value", None)
            if value is not None:
                out |= self.aliases(value)
            if isinstance(stmt, gast.Assign):
                target = stmt.targets[0]
                if isinstance(target, gast.Name):
                    if not (self.fresh(value) or _accumulation(stmt)):
                        out.add(target.id)
                elif not isinstance(target, gast.Subscript):
                    out |= {n.id for n in S.walk(target) if isinstance(n, gast.Name)}
        return out

    def block(self, stmts, owned: set) -> set:
        for i, stmt in enumerate(stmts):
            if isinstance(stmt, gast.Return):  # what the gradient builder may hand out as is
                returned = S.names_in(stmt)
                views = {t for t, src in self.views.items() if src not in returned}
                self.returned = set(owned) | views
            self.track_views(stmt, owned)
            if isinstance(stmt, gast.If):
                a = self.block(stmt.body, set(owned))
                b = self.block(stmt.orelse, set(owned))
                owned = a & b
                continue
            if isinstance(stmt, (gast.For, gast.While)):
                escaped = self.escapes(stmt.body)
                self.block(stmt.body, owned - escaped)
                owned = owned - escaped
                continue
            value = getattr(stmt, "value", None)
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                t = stmt.targets[0].id
                if _accumulation(stmt) and t in owned and getattr(stmt, "sg_adjoint", False):
                    if self.in_place is not None:  # the added term computed in place too
                        self.in_place.rewrite(stmt, owned - {t}, accumulated=True)
                    new = gast.AugAssign(
                        target=S.name(t, store=True), op=gast.Add(), value=stmt.value.right
                    )
                    for attr, v in stmt.__dict__.items():
                        if attr.startswith("sg_") or attr == "lineno":
                            setattr(new, attr, v)
                    stmts[i] = new
                    owned -= self.aliases(stmt.value.right)
                    continue
                reused = self.in_place is not None and self.in_place.rewrite(stmt, owned)
                moved = self.moved(stmt, owned)
                owned -= self.aliases(value)
                if self.fresh(value) or reused or moved:
                    owned.add(t)  # reused: t holds a buffer nothing else reaches
                else:
                    owned.discard(t)
                continue
            if value is not None:
                owned -= self.aliases(value)
            if isinstance(stmt, gast.Assign):
                owned -= {n.id for n in S.walk(stmt.targets[0]) if isinstance(n, gast.Name)}
        return owned


class _InPlace:
    """Elementwise operations computed into the buffer of an operand that is owned, read
    nowhere else in the statement and dead after it, with the result's shape and dtype:
    ``h1 = np.tanh(h1_1 + b0)`` becomes ``h1 = np.tanh(np.add(h1_1, b0, out=h1_1),
    out=h1_1)``, as a hand-written gradient would do it."""

    def __init__(self, node, der: Derivative, shapes: dict, example_args):
        self.np_name = der.refs.by_id.get(id(np))
        self.adj_of = {v: k for k, v in der.adj_names.items()}
        self.shapes = shapes
        self.after: dict = {}
        liveness(node.body, after=self.after)
        self.dtypes = _dtypes(node, der, example_args, self.np_name)

    def shape(self, e):
        return expression_shape(e, self.shapes, self.adj_of, self.np_name)

    def dtype(self, e):
        return expression_dtype(e, self.dtypes, self.np_name)

    def rewrite(self, stmt, owned, accumulated=False) -> bool:
        """Rewrite ``stmt`` (``t = e``; with ``accumulated``, ``t = t + e``: only ``e``) to
        compute into free buffers; True if its value ends up in one."""
        live = self.after.get(id(stmt))
        if live is None or self.np_name is None:
            return False
        t = stmt.targets[0].id
        reads: dict = {}
        for n in S.walk(stmt.value):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                reads[n.id] = reads.get(n.id, 0) + 1
        self.reads = reads
        self.free = {  # arrays, not 0-d: a NumPy scalar is no buffer
            a
            for a in owned
            if a in reads
            and (a not in live or a == t)
            and isinstance(self.dtypes.get(a), np.dtype)
            and self.shapes_of(a)
        }
        if not self.free:
            return False
        self.parents = {
            id(child): parent
            for parent in S.walk(stmt.value)
            for child in gast.iter_child_nodes(parent)
        }
        if accumulated:
            stmt.value.right = self.visit(stmt.value.right)[0]
            return False
        value, buffer = self.visit(stmt.value)
        if buffer is None:
            return False
        stmt.value = value
        return True

    def visit(self, e):
        """``(e', buffer)``: e rewritten, and the free buffer its value is in (or None)."""
        if isinstance(e, gast.Name):
            return e, (e.id if e.id in self.free else None)
        if isinstance(e, gast.BinOp) and type(e.op) in ARRAY_BINOPS:
            ufunc, operands = ARRAY_BINOPS[type(e.op)].__name__, [e.left, e.right]
        elif isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            ufunc, operands = "negative", [e.operand]
        elif _ufunc_call(e, self.np_name) is not None:
            ufunc, operands = e.func.attr, list(e.args)
        else:
            return e, None
        shape, dtype = self.shape(e), self.dtype(e)
        visited = [self.visit(o) for o in operands]
        args = [v for v, _ in visited]
        for _, buffer in visited:
            if (
                buffer is not None
                and self._all_reads_in(e, buffer)  # none left to read it once written
                and shape is not None
                and dtype is not None
                and self.shapes_of(buffer) == shape
                and _same_dtype(self.dtypes.get(buffer), dtype)
            ):
                f = gast.Attribute(value=S.name(self.np_name), attr=ufunc, ctx=gast.Load())
                call = S.call(f, args)
                call.keywords = [gast.keyword(arg="out", value=S.name(buffer))]
                return call, buffer
        if isinstance(e, gast.BinOp):
            e.left, e.right = args
        elif isinstance(e, gast.UnaryOp):
            e.operand = args[0]
        else:
            e.args = args
        return e, None

    def shapes_of(self, name):
        return self.shape(S.name(name))

    def _all_reads_in(self, e, name) -> bool:
        """Whether writing ``e``'s result into ``name``'s buffer leaves no read of it to come:
        every other read of ``name`` in the statement is inside an operand evaluated before
        ``e`` whose value is a new array (``dx - 2.0 * (t * e) + e * (1.0 - t * t)`` may
        overwrite ``t`` and ``e`` in its second term, not in its first)."""
        total = self.reads[name]
        seen = _count_reads(e, name)
        node = e
        while seen < total and id(node) in self.parents:
            parent = self.parents[id(node)]
            for sibling in gast.iter_child_nodes(parent):
                if sibling is node:
                    break
                count = _count_reads(sibling, name)
                if count and not _new_array(sibling, self.np_name):
                    return False
                seen += count
            node = parent
        return seen == total


def _count_reads(e, name) -> int:
    return sum(1 for n in S.walk(e) if isinstance(n, gast.Name) and n.id == name)


def _new_array(e, np_name) -> bool:
    """Whether ``e``, an operand inside an elementwise expression, evaluates to memory of its
    own: an operator's result or a NumPy ufunc's without ``out=``."""
    if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return True
    return _ufunc_call(e, np_name) is not None


def known_dtypes(der: Derivative, example_args) -> dict:
    """The dtypes of the names of ``der`` that the arguments decide (see :func:`_dtypes`)."""
    return _dtypes(der.node, der, example_args, der.refs.by_id.get(id(np)))


def _same_dtype(a, b) -> bool:
    """``a == b`` for dtypes or Python number types, without NumPy's equalities of a dtype
    with None or ``float`` (both equal ``float64`` to NumPy, but None is unknown and a Python
    float is weak in promotion)."""
    if isinstance(a, np.dtype) and isinstance(b, np.dtype):
        return a == b
    return a is not None and a is b


def _dtypes(node, der: Derivative, example_args, np_name) -> dict:
    """Dtypes of the names the derivative assigns: argument leaves read by path, products,
    ``np.zeros``-like arrays and elementwise expressions of names of known dtype. A name
    assigned in several places gets a dtype when all its assignments agree (an optimistic
    fixed point, as for shapes); ``x = None`` and ``x = tape.pop()`` do not count."""
    core = der.analysis.core
    defs: dict = {}
    for stmt in walk_statements(node.body):
        if not isinstance(stmt, gast.Assign):
            continue
        if S.is_none(stmt.value) or getattr(stmt, "sg_tape_pair", None):
            continue
        target = stmt.targets[0]
        if isinstance(target, gast.Name):
            defs.setdefault(target.id, []).append(stmt)
        else:  # x[k] = v, a, b = f(..): no dtype for these names
            for n in S.walk(target):
                if isinstance(n, gast.Name):
                    defs.setdefault(n.id, []).append(None)
    params = {}
    for p, a in zip(core.params, example_args):
        if type(a) is np.ndarray:
            params[p] = a.dtype
        elif type(a) in (float, int):
            params[p] = type(a)
    for p, dt in params.items():
        defs.setdefault(p, []).insert(0, dt)  # the value on entry

    def of(stmt, dtypes):
        if stmt is None or not isinstance(stmt, gast.Assign):
            return stmt  # a parameter's dtype, or None
        if getattr(stmt, "sg_path", None):
            leaf = follow_path(core, stmt, example_args)
            if type(leaf) is np.ndarray:
                return leaf.dtype
            return type(leaf) if type(leaf) in (float, int) else None
        v = stmt.value
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute):
            attr = v.func.attr
            kw = {k.arg: k.value for k in v.keywords}
            if attr == "einsum" and S.dotted(v.func.value) == np_name and not kw:
                parts = [expression_dtype(a, dtypes, np_name) for a in v.args[1:]]
                return (
                    None if not parts or any(p is None for p in parts) else np.result_type(*parts)
                )
            if attr == "stack" and len(v.args) == 1 and isinstance(v.args[0], gast.Tuple):
                parts = [expression_dtype(a, dtypes, np_name) for a in v.args[0].elts]
                if not parts or set(kw) - {"axis"} or any(p is None for p in parts):
                    return None
                return np.result_type(*parts)
            if attr in ("reshape", "transpose") and S.dotted(v.func.value) != np_name:
                return expression_dtype(v.func.value, dtypes, np_name)
            if attr in ("dot", "matmul") and len(v.args) == 2:
                parts = [expression_dtype(a, dtypes, np_name) for a in v.args]
                return None if any(p is None for p in parts) else np.result_type(*parts)
            if attr in ("zeros", "ones", "empty") and len(v.args) == 1:
                d = kw.get("dtype")
                if d is None:
                    return np.dtype(float)
                if isinstance(d, gast.Attribute) and d.attr == "dtype":
                    return expression_dtype(d.value, dtypes, np_name)
                return None
            if attr in ("zeros_like", "ones_like", "empty_like") and len(v.args) == 1 and not kw:
                return expression_dtype(v.args[0], dtypes, np_name)
        return expression_kind(v, dtypes, np_name)

    bad: set = set()
    for _ in range(len(defs) + 2):
        dtypes = {}
        for name in defs:  # optimistic: the first assignment that resolves
            if name not in bad:
                dtypes[name] = params.get(name)
        for _ in range(3):  # later names first resolve with earlier ones
            for name, stmts in defs.items():
                if name in bad or dtypes.get(name) is not None:
                    continue
                for stmt in stmts:
                    dt = of(stmt, dtypes)
                    if dt is not None:
                        dtypes[name] = dt
                        break
        conflict = {
            name
            for name, stmts in defs.items()
            if name not in bad
            and (
                dtypes.get(name) is None
                or not all(_same_dtype(of(st, dtypes), dtypes[name]) for st in stmts)
            )
        }
        if not conflict:
            return {k: v for k, v in dtypes.items() if v is not None}
        bad |= conflict
    return {}


# ------------------------------------------------------------------ per-iteration adjoints


def _is_zeros(value, zeros, np_name) -> bool:
    if isinstance(value, gast.Constant):
        return value.value == 0 and type(value.value) in (int, float)
    if not isinstance(value, gast.Call):
        return False
    f = value.func
    if isinstance(f, gast.Name):
        return f.id in zeros
    return (
        isinstance(f, gast.Attribute) and f.attr == "zeros_like" and S.dotted(f.value) == (np_name)
    )


def _mentions(stmt, name, cache=None) -> bool:
    """Whether ``name`` appears in ``stmt``; with ``cache`` (a dict), each statement's names
    are collected once."""
    if cache is None:
        return any(isinstance(n, gast.Name) and n.id == name for n in S.walk(stmt))
    names = cache.get(id(stmt))
    if names is None:
        names = cache[id(stmt)] = {n.id for n in S.walk(stmt) if isinstance(n, gast.Name)}
    return name in names


def _drop_zero_resets(stmts, zeros, np_name, whole, names=None) -> None:
    """The adjoint of a value made anew in every iteration is reset to zeros at the end of the
    iteration and then accumulated into: ``a = a + e`` after ``a = zeros`` is ``a = e``. Where
    the first statement of a loop body that mentions ``a`` is that accumulation, the last is
    the reset, and every assignment to ``a`` outside the loop sets zeros, the accumulation
    becomes an assignment and the reset moves after the loop: no array of zeros is made per
    iteration, and every read outside the loop sees what it saw before."""
    names = {} if names is None else names  # statements only shrink here: a safe cache
    for k, stmt in enumerate(stmts):
        for attr in ("body", "orelse"):
            inner = getattr(stmt, attr, None)
            if inner:
                _drop_zero_resets(inner, zeros, np_name, whole, names)
        if not isinstance(stmt, (gast.For, gast.While)):
            continue
        body = stmt.body
        for i, first in enumerate(body):
            if not (isinstance(first, gast.Assign) and _accumulation(first, gast.Sub)):
                continue
            a = first.targets[0].id
            if any(_mentions(s, a, names) for s in body[:i]):
                continue
            if not _only_zeroed_outside(whole, stmt, a, zeros, np_name):
                continue
            users = [j for j, s in enumerate(body) if _mentions(s, a, names)]
            last = body[users[-1]]
            if not (
                isinstance(last, gast.Assign)
                and isinstance(last.targets[0], gast.Name)
                and last.targets[0].id == a
                and _is_zeros(last.value, zeros, np_name)
                and users[-1] > i
            ):
                continue
            if not _same_init_before(stmts[:k], last):
                continue  # the moved reset must read only names defined before the loop
            e = first.value.right
            if isinstance(first.value.op, gast.Sub):
                e = gast.UnaryOp(op=gast.USub(), operand=e)
            first.value = e
            # the reset moves after the loop: whatever reads `a` there still sees zeros
            stmts.insert(k + 1, body.pop(users[-1]))


def _same_init_before(before, reset) -> bool:
    """Whether ``before`` (the statements ahead of the loop, same block) sets the reset's
    target with exactly the reset's expression: then everything the reset reads is defined
    when the loop ends, even when it ran no iteration."""
    text = gast.dump(reset)
    return any(isinstance(s, gast.Assign) and gast.dump(s) == text for s in before)


def _only_zeroed_outside(stmts, loop, a, zeros, np_name) -> bool:
    """Whether every statement outside ``loop`` that assigns ``a`` sets it to zeros."""
    for stmt in stmts:
        if stmt is loop:
            continue
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            if _mentions_header(stmt, a):
                return False
            if not _only_zeroed_outside(stmt.body + stmt.orelse, loop, a, zeros, np_name):
                return False
            continue
        assigns = isinstance(stmt, (gast.Assign, gast.AugAssign)) and any(
            isinstance(n, gast.Name) and n.id == a
            for t in (stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target])
            for n in S.walk(t)
        )
        if assigns and not (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and stmt.targets[0].id == a
            and _is_zeros(stmt.value, zeros, np_name)
        ):
            return False
    return True


def _mentions_header(stmt, a) -> bool:
    parts = [
        getattr(stmt, "test", None),
        getattr(stmt, "iter", None),
        getattr(stmt, "target", None),
    ]
    return any(p is not None and _mentions(p, a) for p in parts)


def _accumulation(stmt, *more_ops) -> bool:
    """``a = a + e`` (or another of ``more_ops``) with ``e`` not reading ``a``."""
    v = stmt.value
    t = stmt.targets[0]
    return (
        isinstance(t, gast.Name)
        and isinstance(v, gast.BinOp)
        and isinstance(v.op, (gast.Add, *more_ops))
        and isinstance(v.left, gast.Name)
        and v.left.id == t.id
        and t.id not in {n.id for n in S.walk(v.right) if isinstance(n, gast.Name)}
    )


# ------------------------------------------------------------------ scatter-adds


def _scatter_accumulations(stmts, der: Derivative) -> None:
    """``a += unindex(g, x, idx)`` (zeros shaped like ``x`` with ``g`` at ``idx``, added to an
    array the derivative owns) is ``a[idx] += g`` for a basic index: no array of zeros."""
    unindex = der.refs.by_id.get(id(NAMESPACE["unindex"]))
    shaped = der.refs.by_id.get(id(NAMESPACE["unindex_shaped"]))
    ranks = der.analysis.ranks
    if unindex is None and shaped is None:
        return

    def basic(idx) -> bool:
        items = idx.elts if isinstance(idx, gast.Tuple) else [idx]
        for it in items:
            if isinstance(it, gast.Slice):
                if any(
                    p is not None
                    and not (isinstance(p, gast.Constant) or ranks.get(getattr(p, "id", None)) == 0)
                    for p in (it.lower, it.upper, it.step)
                ):
                    return False
                continue
            if isinstance(it, gast.Constant) and (
                it.value is None or it.value is Ellipsis or type(it.value) is int
            ):
                continue
            if isinstance(it, gast.Name) and ranks.get(it.id) == 0:
                continue
            return False
        return True

    for i, stmt in enumerate(stmts):
        for attr in ("body", "orelse"):
            inner = getattr(stmt, attr, None)
            if inner:
                _scatter_accumulations(inner, der)
        v = getattr(stmt, "value", None)
        if not (
            isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.target, gast.Name)
            and isinstance(v, gast.Call)
            and isinstance(v.func, gast.Name)
            and (
                (v.func.id == unindex and len(v.args) == 3)
                or (v.func.id == shaped and len(v.args) == 4)
            )
        ):
            continue
        if v.func.id == shaped:  # unindex_shaped(g, shape, dtype, idx): an array
            g, idx = v.args[0], v.args[3]
        else:
            g, x, idx = v.args
            if not (isinstance(x, gast.Name) and (ranks.get(x.id) or 0) >= 1):
                continue  # a list's adjoint (Pieces) is a tuple: only arrays are scattered into
        index = idx
        if (
            isinstance(idx, gast.Subscript)
            and isinstance(idx.value, gast.Attribute)
            and idx.value.attr == "s_"
        ):
            index = idx.slice  # np.s_[1:, 2] written as the subscript itself
        if not basic(index):
            continue
        new = gast.AugAssign(
            target=gast.Subscript(
                value=S.name(stmt.target.id), slice=S.clone(index), ctx=gast.Store()
            ),
            op=gast.Add(),
            value=g,
        )
        for attr, val in stmt.__dict__.items():
            if attr.startswith("sg_") or attr == "lineno":
                setattr(new, attr, val)
        stmts[i] = new


# ------------------------------------------------------------------ gradient containers


def _builders(node, der: Derivative, example_args, owner) -> None:
    """``gradient_like(params, {path: value})`` as a call of a builder generated for the
    argument's structure; a value the ``owner`` analysis found owned when the function
    returns, of known shape and dtype, is placed as it is where those are its leaf's."""
    gl_name = der.refs.by_id.get(id(NAMESPACE["gradient_like"]))
    if gl_name is None:
        return
    params = der.analysis.core.params

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, call):
            self.generic_visit(call)
            if not (isinstance(call.func, gast.Name) and call.func.id == gl_name):
                return call
            like, parts = call.args
            example = _example(like, params, example_args)
            if example is None:
                return call
            if not isinstance(parts, gast.Dict):  # the adjoint of the whole argument
                build = gradient_builder(example, [()])
                if build is None:
                    return call
                return S.call(S.name(der.refs.ref(build, "build_gradient")), [like, parts])
            paths = []
            for k in parts.keys:
                if not (
                    isinstance(k, gast.Tuple) and all(isinstance(e, gast.Constant) for e in k.elts)
                ):
                    return call
                paths.append(tuple(e.value for e in k.elts))
            values = parts.values
            names = [v.id for v in values if isinstance(v, gast.Name)]
            known = set()  # (position, shape, dtype) of values handed out as they are
            if owner.in_place is not None and len(set(names)) == len(values):  # distinct
                for i, name in enumerate(names):
                    dtype = owner.in_place.dtypes.get(name)
                    shape = owner.in_place.shapes_of(name)
                    if name in owner.returned and isinstance(dtype, np.dtype) and shape:
                        known.add((i, shape, dtype))
            build = gradient_builder(example, paths, frozenset(known))
            if build is None:
                return call
            name = der.refs.ref(build, "build_gradient")
            return S.call(S.name(name), [like, *values])

    Rewrite().visit(node)


def _example(like, params, example_args):
    def one(atom):
        if isinstance(atom, gast.Name) and atom.id in params:
            i = params.index(atom.id)
            if i < len(example_args):
                return example_args[i]
        raise LookupError

    try:
        if isinstance(like, gast.Tuple):
            return tuple(one(e) for e in like.elts)
        return one(like)
    except LookupError:
        return None
