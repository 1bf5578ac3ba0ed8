"""Pass 1b — fuse: a static loop nest that only adds two-operand ``np.einsum`` products into one
name becomes one contraction over operands stacked along a new axis.

    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])

runs nine small products and, in its derivative, nine more. Fused, it is one product each way
(the im2col a hand-written convolution does, written by the compiler)::

    h = h + np.einsum("anchw,aco->nhwo", np.stack((x[:, :, 0:ho, 0:wo], ...)), K.reshape((9, 1, 8)))

The rewrite is on the core form, before the derivative is taken, and only for the code that
runs in a build specialised to the argument shapes: the caller checks that the stacked
operands have one shape (what the argument shapes decide), and ``show`` still prints the
derivative of the loop as written. The fused product is the adjoint's only: the forward sweep
computes ``h`` as the loop does, each product by ``np.einsum`` as written and added in the
loop's order (:meth:`Fusion.keep_loop_sums`, after the derivative is taken), so the value a
derivative returns is Python's own bit for bit; the adjoint reads only the stacked operands.

A nest is fused when: every loop is ``for c in range(N)`` with a literal ``N`` (at most
:data:`MAX_UNROLLED` iterations in all, each stacked operand at most :data:`MAX_STACKED`
elements: :meth:`Fusion.pays`), without ``else``; each loop body is assignments
followed by at most one inner loop; one name is updated, once, as ``acc = acc + e`` with ``e``
an ``np.einsum`` of a literal specification and two operands computed in the nest; every other
assignment computes an index, slice, shape or arithmetic value (no call); and no name the nest
assigns (counters included), other than ``acc``, is read outside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import copy_all_facts, get_fact, set_fact
from ..parse import resolve

#: the most iterations a fused nest unrolls into (each becomes a slice in a stack)
MAX_UNROLLED = 64
#: the most elements a stacked operand may have: the forward runs the loop's own products
#: (Python's value), so fusing saves only the adjoint's calls, which a larger stack's copy
#: costs more than (a 3x3 convolution of 16x8x32x32 floats: 54 ms fused, 44 ms as a loop)
MAX_STACKED = 32768

_PURE_NODES = (
    gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Subscript, gast.Slice, gast.Tuple,
    gast.Attribute, gast.Load, gast.Store, gast.operator, gast.unaryop,
)  # fmt: skip


@dataclass
class LoopSum:
    """A fused nest's sum as the loop computes it: ``target = ((init + e_0) + e_1) + ...``
    with ``e_k = einsum(spec, *operands[k])``, the operands as the loop's iteration ``k``
    wrote them (over names assigned before the nest)."""

    target: str
    fused: str  # the fused product's name, which the replaced statement reads
    init: gast.expr
    einsum: gast.expr
    spec: gast.expr
    operands: list


@dataclass
class Fusion:
    """What :func:`fuse_contractions` did: the names of the stacked ``operands`` (the caller
    checks their shapes and dtypes) and of the fused ``products`` (their shapes), and each
    nest's :class:`LoopSum`."""

    operands: list = field(default_factory=list)
    products: list = field(default_factory=list)
    sums: list = field(default_factory=list)

    @property
    def stacked(self) -> list:
        """The stacked operands and the fused products (empty when nothing was fused)."""
        return self.operands + self.products

    def pays(self, shapes: dict) -> bool:
        """Whether every stacked operand has at most :data:`MAX_STACKED` elements, given the
        fused core's ``shapes`` (those it does not know count as small)."""
        return all(math.prod(shapes.get(n) or ()) <= MAX_STACKED for n in self.operands)

    def operands_read(self, der) -> list:
        """The stacked operands the derivative ``der`` still reads (an operand only the
        adjoint of an argument outside ``wrt`` read is gone)."""
        read = {n.id for n in S.walk(der.node) if isinstance(n, gast.Name)}
        return [name for name in self.operands if name in read]

    def keep_loop_sums(self, der) -> None:
        """In the forward sweep of ``der`` (a fused core's derivative, before it is
        simplified), compute each nest's sum as the loop does: the statement adding the fused
        product to the accumulator becomes the loop's own chain of products and additions, so
        the value is Python's bit for bit; the fused product stays the adjoint's (it is
        computed only where the adjoint reads it)."""
        for loop_sum in self.sums:
            for body, stmt in _forward_statements(der.node.body):
                if _adds_fused(stmt, loop_sum):
                    chain = _chain(loop_sum, der.refs.names, stmt)
                    at = body.index(stmt)
                    body[at:at] = chain
                    break


def fuse_contractions(core, shapes: dict) -> Fusion:
    """Fuse, in place, every nest of ``core`` that the module docstring describes; returns
    the :class:`Fusion` (its ``stacked`` empty when nothing was fused). ``shapes`` (from
    :func:`~sourcegrad.transform.shapes.concrete_shapes` of the unfused core) decides where
    ``K[i, j]`` over the whole of ``K``'s leading axes is a reshape rather than a stack."""
    local = {
        n.id
        for n in S.walk(core.node)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    } | set(core.params)
    fuser = _Fuser(core, shapes, local)
    fuser.block(core.node.body)
    return fuser.fusion


def may_fuse(core) -> bool:
    """Whether ``core`` has a ``for`` loop with an ``einsum`` call inside: a cheap test before
    a core is normalized again to be fused."""
    return any(
        isinstance(n, gast.For)
        and any(isinstance(m, gast.Attribute) and m.attr == "einsum" for m in S.walk(n))
        for n in S.walk(core.node)
    )


class _Fuser:
    def __init__(self, core, shapes, local):
        self.core = core
        self.shapes = shapes
        self.local = local
        self.fusion = Fusion()

    def block(self, stmts) -> None:
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.For):
                fused = self.nest(stmt)
                if fused is not None:
                    loop_sum = self.fusion.sums[-1]
                    if out and _zero_init(out[-1], fused[-1].targets[0].id):
                        loop_sum.init = out.pop().value  # h = 0.0 before the loop: the sum is h
                        *fused, add, copy = fused  # t = h + e; h = t
                        copy.value = add.value.right
                        fused.append(copy)
                        loop_sum.target = copy.targets[0].id
                    out.extend(fused)
                    continue
            for part in ("body", "orelse"):
                inner = getattr(stmt, part, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    self.block(inner)
            out.append(stmt)
        stmts[:] = out

    def nest(self, loop):
        """The statements replacing ``loop``, or None where it is not a fusible nest."""
        levels = _levels(loop)
        found = None if levels is None else self.fusible(loop, *levels)
        parsed = None if found is None else _parse_spec(found[2].args[0])
        if parsed is None:
            return None
        counters, extents, assigns = levels
        acc, skip, einsum, p, q = found
        assigned = {s.targets[0].id for s in assigns}
        lineno = getattr(einsum, "lineno", None) or getattr(loop, "lineno", None)
        out: list = []
        operands, written = self.unroll(levels, skip, (p, q), out, lineno)
        defs = {s.targets[0].id: s.value for s in assigns}
        names = self.core.names
        a, ops, out_letters = parsed
        stacks, layouts = [], _layouts(a, ops, out_letters)
        for k, o in enumerate((p, q)):
            name = names.fresh(o + "_all")
            value = self.as_reshape(defs[o], counters, extents, assigned)
            if value is not None:
                layouts[k] = a + ops[k]
                operands[o] = written[o]  # the slices are not kept: the loop sum reads them
            else:
                order = [ops[k].index(c) for c in layouts[k] if c != a]
                parts = operands[o]
                if order != sorted(order):  # each slice transposed to the layout, stacked once
                    parts = self.transposed(o, parts, order, out, lineno)
                value = _stack_call(einsum.func.value, parts, layouts[k].index(a))
            out.append(S.assign(name, value, lineno))
            stacks.append(name)
        self.fusion.operands.extend(stacks)
        e = names.fresh(acc + "_sum")
        self.fusion.products.append(e)  # the caller checks its shape is known: no broadcasting
        spec = f"{layouts[0]},{layouts[1]}->{out_letters}"
        call = S.call(S.clone(einsum.func), [S.const(spec), *(S.name(s) for s in stacks)])
        set_fact(call, "reordered", True)  # one sum for the loop's: BLAS may sum it too
        out.append(S.assign(e, call, lineno))
        terms = (S.name(acc), S.name(e))  # + commutes; the sum goes on the right
        # into a temporary first, as the core form has it (`acc = acc + e` would overwrite the
        # operand whose shape the adjoint needs where the sum broadcasts it up)
        total = names.fresh(acc, always_suffix=True)
        out.append(
            S.assign(total, gast.BinOp(left=terms[0], op=gast.Add(), right=terms[1]), lineno)
        )
        out.append(S.assign(acc, S.name(total), lineno))
        pairs = list(zip(operands[p], operands[q]))
        self.fusion.sums.append(
            LoopSum(total, e, S.name(acc), S.clone(einsum.func), S.clone(einsum.args[0]), pairs)
        )
        return _live(out, acc)

    def fusible(self, loop, counters, extents, assigns):
        """The nest's accumulation (as :meth:`accumulation`) where the nest can be fused:
        few enough iterations, distinct counters and targets, nothing carried from one
        iteration to the next but the sum, nothing it assigns read outside it; else None."""
        total = math.prod(extents)
        if not 2 <= total <= MAX_UNROLLED or len(set(counters)) != len(counters):
            return None  # (a counter reused by an inner loop: not fused)
        found = self.accumulation(assigns, counters)
        if found is None:
            return None
        acc = found[0]
        assigned = [s.targets[0].id for s in assigns]
        if len(set(assigned)) != len(assigned):
            return None
        seen: set = set()
        for s in assigns:  # nothing carried from one iteration to the next but acc
            if (set(S.loaded_names(s.value)) & set(assigned)) - seen - {acc}:
                return None
            seen.add(s.targets[0].id)
        outside = self.names_outside(loop)
        if any(n in outside for n in set(assigned) | set(counters) if n != acc):
            return None
        return found

    def unroll(self, levels, skip, operands, out, lineno) -> tuple[dict, dict]:
        """The nest's assignments (but those in ``skip``) for every iteration, appended to
        ``out``; returns ``(values, written)``: operand name -> its value in each iteration,
        in order, as a name of ``out`` or an atom (``values``) and as the expression the
        iteration computes over names assigned before the nest (``written``)."""
        counters, extents, assigns = levels
        values_of: dict = {o: [] for o in operands}
        written: dict = {o: [] for o in operands}
        for values in _iterations(extents):
            mapping = {c: S.const(v) for c, v in zip(counters, values)}
            whole = dict(mapping)
            for s in assigns:
                if id(s) in skip:
                    continue
                t = s.targets[0].id
                whole[t] = _fold(S.rename(S.clone(s.value), whole))
                value = _fold(S.rename(S.clone(s.value), mapping))
                if S.is_atom(value) and not isinstance(value, gast.Tuple):
                    mapping[t] = value
                    continue
                fresh = self.core.names.fresh(t, always_suffix=True)
                out.append(S.assign(fresh, value, lineno))
                mapping[t] = S.name(fresh)
            for o in values_of:
                values_of[o].append(mapping[o])
                written[o].append(whole[o])
        return values_of, written

    def transposed(self, o, parts, order, out, lineno) -> list:
        """Each of ``parts`` transposed to ``order`` by a statement appended to ``out``."""
        axes = gast.Tuple(elts=[S.const(i) for i in order], ctx=gast.Load())
        names = []
        for part in parts:
            t = self.core.names.fresh(o + "_t", always_suffix=True)
            f = gast.Attribute(value=S.clone(part), attr="transpose", ctx=gast.Load())
            out.append(S.assign(t, S.call(f, [axes]), lineno))
            names.append(S.name(t))
        return names

    def accumulation(self, assigns, counters):
        """``(acc, skipped statement ids, einsum call, operand, operand)``
        for the nest's one accumulation ``acc = acc + e`` (possibly through a copy
        ``t = acc + e; acc = t``), or None."""
        by_target = {s.targets[0].id: s for s in assigns}
        reads: dict = {}
        for s in assigns:
            for n in S.loaded_names(s.value):
                reads[n] = reads.get(n, 0) + 1
        for s in assigns:
            acc = s.targets[0].id
            value, skip = s.value, {id(s)}
            if isinstance(value, gast.Name) and value.id in by_target and reads.get(value.id) == 1:
                copied = by_target[value.id]
                value, skip = copied.value, skip | {id(copied)}
            if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add)):
                continue
            sides = [value.left, value.right]
            if not all(isinstance(x, gast.Name) for x in sides):
                continue
            ids = [x.id for x in sides]
            if ids.count(acc) != 1 or reads.get(acc) != 1:
                continue
            e = ids[1] if ids[0] == acc else ids[0]
            if e not in by_target or reads.get(e) != 1:
                continue
            call = by_target[e].value
            if not self.is_einsum(call):
                continue
            p, q = (a.id for a in call.args[1:])
            if p not in by_target or q not in by_target or acc in (p, q):
                continue
            skip.add(id(by_target[e]))
            rest = [x for x in assigns if id(x) not in skip]
            if not all(_pure(x.value) and acc not in S.loaded_names(x.value) for x in rest):
                return None
            if any(x.targets[0].id in counters for x in assigns):
                return None
            return acc, skip, call, p, q
        return None

    def is_einsum(self, call) -> bool:
        return (
            isinstance(call, gast.Call)
            and isinstance(call.func, gast.Attribute)
            and call.func.attr == "einsum"
            and not call.keywords
            and len(call.args) == 3
            and isinstance(call.args[0], gast.Constant)
            and isinstance(call.args[0].value, str)
            and all(isinstance(a, gast.Name) for a in call.args[1:])
            and resolve(self.core.parsed, call.func, self.local) is np.einsum
            and resolve(
                self.core.parsed,
                gast.Attribute(value=call.func.value, attr="stack", ctx=gast.Load()),
                self.local,
            )
            is np.stack
        )

    def as_reshape(self, value, counters, extents, assigned):
        """``base.reshape((N, ...))`` where ``value`` is ``base[c1, c2, ...]`` over every
        counter in order, the counters cover ``base``'s leading axes exactly and the nest does
        not assign ``base``; else None."""
        if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name)):
            return None
        base = value.value.id
        if base in assigned:
            return None
        index = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        if [getattr(i, "id", None) for i in index] != counters:
            return None
        shape = self.shapes.get(base)
        if shape is None or tuple(shape[: len(extents)]) != tuple(extents):
            return None
        dims = (math.prod(extents),) + tuple(shape[len(extents) :])
        target = gast.Tuple(elts=[S.const(d) for d in dims], ctx=gast.Load())
        return S.call(gast.Attribute(value=S.name(base), attr="reshape", ctx=gast.Load()), [target])

    def names_outside(self, loop) -> set:
        inside = {id(n) for n in S.walk(loop)}
        return {
            n.id for n in S.walk(self.core.node) if isinstance(n, gast.Name) and id(n) not in inside
        }


def _forward_statements(body):
    """``(body, statement)`` for each assignment of the forward sweep, at any depth."""
    for stmt in list(body):
        if isinstance(stmt, gast.Assign) and not get_fact(stmt, "adjoint"):
            yield body, stmt
        for field_name in ("body", "orelse"):
            inner = getattr(stmt, field_name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from _forward_statements(inner)


def _adds_fused(stmt, loop_sum: LoopSum) -> bool:
    """Whether ``stmt`` is the nest's ``target = acc + fused`` (``target = fused`` where the
    nest started from zero)."""
    target, value = stmt.targets[0], stmt.value
    if not (isinstance(target, gast.Name) and target.id == loop_sum.target):
        return False
    if isinstance(value, gast.Name):
        return value.id == loop_sum.fused
    return (
        isinstance(value, gast.BinOp)
        and isinstance(value.op, gast.Add)
        and isinstance(value.right, gast.Name)
        and value.right.id == loop_sum.fused
    )


def _chain(loop_sum: LoopSum, names, stmt) -> list:
    """The statements before ``stmt`` computing the loop's sum in its order; ``stmt`` itself
    (kept, with its facts) becomes the last addition."""
    made, total = [], S.clone(loop_sum.init)
    for k, (a, b) in enumerate(loop_sum.operands):
        product = S.call(S.clone(loop_sum.einsum), [S.clone(loop_sum.spec), S.clone(a), S.clone(b)])
        term = names.fresh(loop_sum.target + "_term", always_suffix=True)
        made.append(S.assign(term, product, stmt.lineno))
        value = gast.BinOp(left=total, op=gast.Add(), right=S.name(term))
        if k == len(loop_sum.operands) - 1:
            stmt.value = value
            break
        partial = names.fresh(loop_sum.target + "_part", always_suffix=True)
        made.append(S.assign(partial, value, stmt.lineno))
        total = S.name(partial)
    for new in made:
        copy_all_facts(stmt, new, skip=("comment", "tape_pair", "pop", "kept"))
        gast.fix_missing_locations(new)
    return made


def _levels(loop):
    """``(counters, extents, assignments)`` of a nest of ``for c in range(N)`` loops with
    literal ``N``, each body simple assignments then at most one inner loop; else None."""
    counters, extents, assigns = [], [], []
    cur = loop
    while True:
        n = _literal_range(cur)
        if n is None or not isinstance(cur.target, gast.Name) or cur.orelse:
            return None
        counters.append(cur.target.id)
        extents.append(n)
        *head, last = cur.body
        inner = last if isinstance(last, gast.For) else None
        level = head if inner is not None else cur.body
        if not all(_simple_assign(s) for s in level):
            return None
        assigns.extend(level)
        if inner is None:
            return counters, extents, assigns
        cur = inner


def _stack_call(base, parts, axis):
    """``base.stack((parts...), axis=axis)`` (no keyword for axis 0)."""
    elts = gast.Tuple(elts=parts, ctx=gast.Load())
    stack = gast.Attribute(value=S.clone(base), attr="stack", ctx=gast.Load())
    set_fact(stack, "static", True)  # a reference to numpy's function, like einsum's
    value = S.call(stack, [elts])
    if axis:
        value.keywords = [gast.keyword(arg="axis", value=S.const(axis))]
    return value


def _zero_init(stmt, acc) -> bool:
    """Whether ``stmt`` is ``acc = 0`` or ``acc = 0.0``."""
    return (
        _simple_assign(stmt)
        and stmt.targets[0].id == acc
        and isinstance(stmt.value, gast.Constant)
        and type(stmt.value.value) in (int, float)
        and stmt.value.value == 0
    )


def _live(stmts, acc):
    """``stmts`` without the assignments nothing after them reads (the unrolled operands a
    reshape replaced), each with locations filled in."""
    needed, kept = {acc}, []
    for s in reversed(stmts):
        if s.targets[0].id in needed:
            needed |= set(S.loaded_names(s.value))
            kept.append(gast.fix_missing_locations(s))
    return kept[::-1]


def _literal_range(loop):
    it = loop.iter
    if (
        isinstance(loop, gast.For)
        and isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "range"  # the core's loop headers are the builtin's (normalize)
        and len(it.args) == 1
        and isinstance(it.args[0], gast.Constant)
        and type(it.args[0].value) is int
        and it.args[0].value >= 1
    ):
        return it.args[0].value
    return None


def _simple_assign(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    )


def _pure(value) -> bool:
    return all(isinstance(n, _PURE_NODES) for n in S.walk(value))


def _iterations(extents):
    if not extents:
        yield ()
        return
    for v in range(extents[0]):
        for rest in _iterations(extents[1:]):
            yield (v, *rest)


def _parse_spec(node):
    """``(a, [ops[0], ops[1]], out)`` for a two-operand specification with an explicit output
    and no ellipsis (``a`` a letter it does not use), else None."""
    spec = node.value.replace(" ", "")
    if "->" not in spec or "." in spec:
        return None
    ins, out = spec.split("->")
    ops = ins.split(",")
    if len(ops) != 2 or not all(c.isalpha() for c in "".join(ops) + out):
        return None
    free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec]
    if not free:
        return None
    return free[0], ops, out


def _layouts(a, ops, out):
    """The axis letters of the two stacked operands: the first as its output letters, the new
    axis ``a``, then the summed letters; the second as ``a``, the summed letters, then its
    output letters: the layouts a BLAS product reads without copying either. Where a letter
    repeats or is summed within one operand only, ``a`` before the letters as written."""
    first, second = ops
    plain = [a + first, a + second]
    letters = first + second
    if any(first.count(c) > 1 or second.count(c) > 1 for c in letters):
        return plain
    summed = [c for c in second if c not in out]
    if any(c not in first for c in summed) or any(c not in second for c in first if c not in out):
        return plain
    return [
        "".join(c for c in out if c in first) + a + "".join(summed),
        a + "".join(summed) + "".join(c for c in out if c in second),
    ]


def _fold(e):
    """Integer arithmetic on literals done (``0 + ho`` is ``ho``, ``1 + 2`` is ``3``)."""

    class Fold(gast.NodeTransformer):
        def visit_BinOp(self, b):
            self.generic_visit(b)
            lc = isinstance(b.left, gast.Constant) and type(b.left.value) is int
            rc = isinstance(b.right, gast.Constant) and type(b.right.value) is int
            if lc and rc and isinstance(b.op, (gast.Add, gast.Sub, gast.Mult)):
                x, y = b.left.value, b.right.value
                ops = {gast.Add: x + y, gast.Sub: x - y, gast.Mult: x * y}
                return S.const(ops[type(b.op)])
            if isinstance(b.op, gast.Add) and lc and b.left.value == 0:
                return b.right
            if isinstance(b.op, (gast.Add, gast.Sub)) and rc and b.right.value == 0:
                return b.left
            return b

    return Fold().visit(e)
