"""Rewrites the argument shapes decide: ``sum_to``/``unreduce``/``expand_to`` at transform
time, tape entries kept as shapes, ``unindex`` of a known shape and dtype, the derivative
through a write into an array known to be floating.

For a build that serves every shape of a pattern, :func:`symbolic_shapes` keeps only the
shapes whose lengths are constants or the same argument length in every example, and says how
the code reads those lengths at run time (:class:`Sizes`)."""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.array_helpers import in_place_result
from ...runtime.helpers import (
    expand_to,
    shape_of,
    sum_leading,
    sum_to,
    through_write,
    unindex,
    unindex_shaped,
    unreduce,
)
from .. import syntax as S
from ..forms import Analysis, Derivative
from ..node_facts import get_fact, set_fact
from ..shape_keys import shape_only_reads, shape_read
from ..shapes import (
    broadcast,
    concrete_shapes,
    expression_dtype,
    sum_to_axes,
)
from ..walk import definition_counts, walk_statements
from .expression_shapes import known_shape


class Sizes:
    """The argument lengths a build for a shape pattern reads at run time: ``lengths`` maps
    each free length of the example the build is made for to its position ``j``, ``reads``
    holds where the ``j``-th is read, ``(parameter, path, axis)`` (path steps ``("item",
    key)`` or ``("attr", name)``)."""

    def __init__(self, lengths: dict, reads: list):
        self.lengths, self.reads = lengths, reads

    def node(self, n):
        """The expression of the length ``n``: a read of an argument's shape where ``n`` is
        a free length, else the constant."""
        j = self.lengths.get(n)
        return S.const(n) if j is None else self.read(j)

    def read(self, j):
        """``params["W"].shape[1]``: the ``j``-th free length, read from its argument."""
        param, path, axis = self.reads[j]
        e = S.name(param)
        for kind, key in path:
            if kind == "attr":
                e = gast.Attribute(value=e, attr=key, ctx=gast.Load())
            else:
                e = gast.Subscript(value=e, slice=S.const(key), ctx=gast.Load())
        shape = gast.Attribute(value=e, attr="shape", ctx=gast.Load())
        return gast.Subscript(value=shape, slice=S.const(axis), ctx=gast.Load())

    def all_read(self):
        """A tuple of every free length, in order."""
        return gast.Tuple(elts=[self.read(j) for j in range(len(self.reads))], ctx=gast.Load())

    def symbolic(self, shape: tuple) -> tuple:
        """``shape`` with each free length ``j`` written ``-1 - j``."""
        return tuple(-1 - self.lengths[n] if n in self.lengths else n for n in shape)


class SymbolicShapes(dict):
    """Name -> shape, as :func:`concrete_shapes`, for a build that serves every shape of a
    pattern: ``sizes`` (:class:`Sizes`) says which lengths are free and how to read them."""

    sizes: Sizes


def with_sizes(shapes: dict, like) -> dict:
    """``shapes``, carrying ``like``'s :class:`Sizes` where it has some."""
    sizes = getattr(like, "sizes", None)
    if sizes is None:
        return shapes
    got = SymbolicShapes(shapes)
    got.sizes = sizes
    return got


def symbolic_shapes(analysis: Analysis, examples: list, lengths: list, sizes: Sizes) -> dict:
    """:func:`concrete_shapes` of ``examples[0]`` (arguments of one shape pattern, the free
    lengths of each given by ``lengths``, one list per example, ``sizes`` for the first),
    keeping only the names whose every length is, in all ``examples``, one constant or the
    same free length: what holds for every shape of the pattern as far as the examples tell
    (a length computed from a free one, ``n - 1``, is not kept)."""
    found = [concrete_shapes(analysis, ex) for ex in examples]
    kept = SymbolicShapes()
    kept.sizes = sizes
    for name, shape in found[0].items():
        others = [f.get(name) for f in found[1:]]
        if any(o is None or len(o) != len(shape) for o in others):
            continue
        ok = True
        for axis, n in enumerate(shape):
            dims = [n] + [o[axis] for o in others]
            if all(d == n for d in dims):
                continue
            free = [free_index(ls, d) for ls, d in zip(lengths, dims)]
            if free[0] is None or any(f != free[0] for f in free):
                ok = False
                break
        if ok:
            kept[name] = shape
    return kept


def free_index(lengths: list, n):
    """The position of ``n`` among the free ``lengths``, or None."""
    return lengths.index(n) if n in lengths else None


def specialise_shapes(node, der: Derivative, shapes: dict, numpy_only: bool = False) -> dict:
    """With the shapes known: ``sum_to(e, x)`` becomes ``e``, a reshape or a sum over fixed
    axes, and ``unreduce(c, x) * e`` becomes ``c * e`` where ``e`` already has the shape of
    the product. Returns ``shapes`` with those of the names the derivative assigns once. Where
    ``shapes`` has free lengths (:class:`SymbolicShapes`), a reshape reads them from the
    arguments at run time."""
    rewrite = _SumsTo(der, shapes, numpy_only)
    rewrite.visit(node)
    shapes = rewrite.shapes = assigned_shapes(node, der, with_sizes(dict(shapes), shapes))
    rewrite.visit(node)
    return shapes


def assigned_shapes(node, der: Derivative, shapes: dict) -> dict:
    """``shapes`` with those of the names the derivative itself assigns once (hit masks, gate
    products, updates whose cast was dropped) added where their values' shapes are known."""
    counts = definition_counts(node.body)
    adj_of = {v: k for k, v in der.adj_names.items()}
    np_name = der.refs.name_of(np)
    for stmt in walk_statements(node.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            t = stmt.targets[0].id
            if counts[t] == 1 and t not in shapes and t not in adj_of:
                found = known_shape(stmt.value, shapes, adj_of, np_name)
                if found is not None:
                    shapes[t] = found
    return shapes


class _SumsTo(S.Transformer):
    """The rewrites of :func:`specialise_shapes`, with the shapes in ``self.shapes``."""

    def __init__(self, der: Derivative, shapes: dict, numpy_only: bool):
        self.np_name = der.refs.name_of(np)
        self.sum_to = der.refs.name_of(sum_to)
        self.unreduce = der.refs.name_of(unreduce)
        self.expand_to = der.refs.name_of(expand_to)
        self.adj_of = {v: k for k, v in der.adj_names.items()}
        self.numpy_only = numpy_only
        self.leading = der.refs.helper(sum_leading) if numpy_only else None
        self.shapes = shapes
        sizes = getattr(shapes, "sizes", None)
        self.length = S.const if sizes is None else sizes.node

    def shape(self, e):
        return known_shape(e, self.shapes, self.adj_of, self.np_name)

    def visit_Call(self, e):
        self.generic_visit(e)
        if self.expand_to is not None and _helper(e, self.expand_to, 4) and _true(e.args[3]):
            return e.args[0]  # expand_to(g, x, axis, True) is g
        if self.sum_to is None or not _helper(e, self.sum_to, 2):
            return e
        g, x = e.args
        sg_, sx = self.shape(g), self.shape(x)
        if sg_ is None or sx is None:
            return e
        if sg_ == sx:
            return g
        axes = sum_to_axes(sg_, sx)
        return e if axes is None else self.summed(g, sg_, sx, axes)

    def summed(self, g, sg_, sx, axes):
        """``sum_to(g, x)`` as a reshape or a sum of ``g`` over fixed ``axes``."""
        lead, ones = axes
        reduced = lead + tuple(len(lead) + i for i in ones)
        target = gast.Tuple(elts=[self.length(n) for n in sx], ctx=gast.Load())
        if all(sg_[a] == 1 for a in reduced):  # only axes of length 1: a reshape
            return _method(g, "reshape", [target])
        if not ones:
            if self.numpy_only:  # over leading axes: through BLAS where it pays
                call = S.call(S.name(self.leading), [g, S.const(len(lead))])
                set_fact(call, "leading_summed", len(lead))  # for expression_shape
                return call
            return _method(g, "sum", [], [("axis", _axes_node(lead))])
        kept = _method(g, "sum", [], [("axis", _axes_node(reduced)), ("keepdims", S.const(True))])
        return _method(kept, "reshape", [target]) if lead else kept

    def visit_BinOp(self, e):
        self.generic_visit(e)
        unreduce = self.unreduce
        if unreduce is None or not isinstance(e.op, gast.Mult):
            return e
        for side, other in (("left", e.right), ("right", e.left)):
            u = getattr(e, side)
            full = _helper(u, unreduce, 2) and self.shape(u.args[0]) == ()
            kept = (
                _helper(u, unreduce, 4) and _true(u.args[3]) and self.shape(u.args[0]) is not None
            )
            if not (full or kept):  # g broadcasts to x's shape by itself
                continue
            so, sx = self.shape(other), self.shape(u.args[1])
            if so is not None and sx is not None and broadcast(so, sx) == so:
                setattr(e, side, u.args[0])  # the product broadcasts the number itself
        return e


def _helper(e, name, nargs) -> bool:
    """Whether ``e`` calls the helper ``name`` with ``nargs`` positional arguments only."""
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Name)
        and e.func.id == name
        and len(e.args) == nargs
        and not e.keywords
    )


def _method(e, attr, args, keywords=()):
    f = gast.Attribute(value=e, attr=attr, ctx=gast.Load())
    call = S.call(f, args)
    call.keywords = [gast.keyword(arg=k, value=v) for k, v in keywords]
    return call


def _axes_node(axes):
    return gast.Tuple(elts=[S.const(a) for a in axes], ctx=gast.Load())


def _true(atom) -> bool:
    return isinstance(atom, gast.Constant) and atom.value is True


def tape_shapes(body, der: Derivative) -> None:
    """Values the adjoint sweep restores from the tape only to read their shapes (in
    ``sum_to(g, x)`` or ``np.shape(x)``; reads that were zero resets are gone now) are saved as
    shapes, so the tape holds no array for them."""
    starts = [i for i, stmt in enumerate(body) if get_fact(stmt, "sweep", False)]
    if not starts:
        return
    np_name = der.refs.name_of(np)
    adjoint = body[starts[0] :]
    saved_pushes = [
        stmt
        for stmt in S.walk(gast.Module(body=body[: starts[0]], type_ignores=[]))
        if isinstance(stmt, gast.Expr)
        and get_fact(stmt, "tape_pair", None)
        and isinstance(stmt.value.args[0], gast.Name)
    ]
    shapes = shape_only_reads(adjoint, der.refs, np_name) & {
        get_fact(stmt, "tape_pair")[1] for stmt in saved_pushes
    }
    if not shapes:
        return
    shape_of_name = der.refs.helper(shape_of)
    for stmt in saved_pushes:
        if get_fact(stmt, "tape_pair")[1] in shapes:
            stmt.value.args = [S.call(S.name(shape_of_name), stmt.value.args)]

    class Reads(S.Transformer):  # np.shape(x) of a restored Shape is not its shape
        def visit_Call(self, n):
            self.generic_visit(n)
            if isinstance(n.func, gast.Attribute) and shape_read(n, None, np_name) in shapes:
                n.func = S.name(shape_of_name)
            return n

    for stmt in adjoint:
        Reads().visit(stmt)


def shaped_unindex(node, der: Derivative, shapes: dict, dtypes: dict) -> None:
    """``unindex(g, x, idx)`` of an array ``x`` of known shape and dtype reads only those:
    ``unindex_shaped(g, (32, 512), np.float64, idx)``, so the tape need not keep ``x`` (an
    LSTM's gate pre-activations, read back only for the shape of their adjoint); free
    lengths (see :func:`specialise_shapes`) read from the arguments."""
    np_name = der.refs.name_of(np)
    if der.refs.name_of(unindex) is None or np_name is None:
        return
    shaped = der.refs.helper(unindex_shaped)
    sizes = getattr(shapes, "sizes", None)
    length = S.const if sizes is None else sizes.node

    class Rewrite(S.Transformer):
        def visit_Call(self, e):
            self.generic_visit(e)
            if not (
                der.refs.is_call_of(e, unindex)
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
            dims = gast.Tuple(elts=[length(n) for n in shape], ctx=gast.Load())
            kind = gast.Attribute(value=S.name(np_name), attr=dt.name, ctx=gast.Load())
            return S.call(S.name(shaped), [e.args[0], dims, kind, e.args[2]])

    Rewrite().visit(node)


def floating_writes(node, der: Derivative, dtypes: dict) -> None:
    """``through_write(g, x)`` where ``x``'s dtype is known to be floating or complex is
    ``g`` itself (only an integer or boolean array cuts what is written into it)."""

    def floating(value, x: str) -> bool:
        dt = dtypes.get(x)
        return isinstance(dt, np.dtype) and dt.kind in "fc"

    _unwrap_calls(node, der, through_write, floating)


def cast_free_updates(node, der: Derivative, dtypes: dict, shapes: dict, np_name) -> bool:
    """``in_place_result(e, x)`` (an update ``x += v``, cast back to ``x``'s dtype) is ``e``
    itself where ``e`` has ``x``'s dtype and shape, both known, and ``x`` has axes (the
    update of a 0-d array gives a NumPy scalar, which the cast makes a 0-d array again):
    NumPy's update keeps the value as it is. Whether any was rewritten (the dtypes of the
    names they assign are known then)."""
    adj_of = {v: k for k, v in der.adj_names.items()}

    def kept_as_it_is(value, x: str) -> bool:
        dt, shape = dtypes.get(x), shapes.get(x)
        return (
            isinstance(dt, np.dtype)
            and isinstance(shape, tuple)
            and shape != ()
            and expression_dtype(value, dtypes, np_name) == dt
            and known_shape(value, shapes, adj_of, np_name) == shape
        )

    return _unwrap_calls(node, der, in_place_result, kept_as_it_is)


def _unwrap_calls(node, der: Derivative, helper, drops) -> bool:
    """Replace each ``helper(value, x)`` (``x`` a name) by ``value`` where ``drops(value,
    x)``; whether any was."""
    if der.refs.name_of(helper) is None:
        return False
    changed = False

    class Rewrite(S.Transformer):
        def visit_Call(self, e):
            nonlocal changed
            self.generic_visit(e)
            if (
                der.refs.is_call_of(e, helper)
                and len(e.args) == 2
                and isinstance(e.args[1], gast.Name)
                and drops(e.args[0], e.args[1].id)
            ):
                changed = True
                return e.args[0]
            return e

    Rewrite().visit(node)
    return changed
