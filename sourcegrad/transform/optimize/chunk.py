"""Pass 5c — chunk: a derivative that is one long elementwise chain over large arrays runs
block by block, so that its temporaries stay in the processor's cache.

NumPy evaluates ``np.tanh(x * a) * np.exp(-x * x)`` one whole-array operation at a time: over
10**6 elements every operation streams its operands from main memory and writes a result back,
and the derivative of such a chain makes twenty of them. When every array the derivative
computes has the same shape, its statements run the same on any slice of the elements: this
pass wraps them in a loop over blocks of ``BLOCK`` elements, where each temporary is a block
(in cache) and only the arguments are read, and the gradients written, at full size. A full sum
(``np.add.reduce(e, None)``, ``np.vdot``) becomes a sum of the blocks' sums.

The rewrite applies to the specialised code of NumPy arguments only, to a function body of
simple statements (no loop or branch) where:

* every array has the block shape (the largest one) or is a scalar: no broadcasting other than
  a scalar's, no view, no indexing;
* every statement that reads a block array is elementwise (operators, NumPy ufuncs, ``out=``
  into a block array) or a full sum of elementwise operands into a scalar;
* a full sum is read only after the loop (a statement that needs the finished sum to go on
  with the elements would need two passes: left whole).

Results change by rounding only (a sum is added in a different order).
"""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import copy_all_facts, set_fact
from ..shapes import ARRAY_BINOPS, expression_dtype, reduce_all_call

#: elements per block: 1 MiB of float64, a few temporaries of which fit in a core's L2 cache
BLOCK = 1 << 17
#: dtypes (characters) whose full sums may be added block by block: each block's sum is as
#: precise as NumPy's pairwise sum of the whole in the same dtype
_SUMMED_BY_BLOCK = "fdFD"


def chunk_elementwise(
    body: list, shapes: dict, dtypes: dict, adj_of: dict, np_name, names, unreduce=None
) -> bool:
    """Rewrite ``body`` (a function body, in place) to run block by block where that is
    exact (see the module docstring); True if it did. ``shapes``/``dtypes`` are the names'
    concrete shapes and dtypes (an adjoint, named in ``adj_of``, has its value's shape),
    ``names`` the function's fresh-name source, ``unreduce`` the name of the runtime helper
    that broadcasts a number to an array's shape."""
    if np_name is None or not body or not isinstance(body[-1], gast.Return):
        return False
    shapes = dict(shapes)
    for adjoint, primal in adj_of.items():
        if adjoint not in shapes and primal in shapes:
            shapes[adjoint] = shapes[primal]
    plan = _Plan(shapes, dtypes, np_name, unreduce)
    if not plan.read(body[:-1], body[-1], names):
        return False
    return plan.write(body, names)


class _Plan:
    def __init__(self, shapes, dtypes, np_name, unreduce):
        self.unreduce = unreduce
        self.shapes = shapes
        self.dtypes = dtypes
        self.np_name = np_name
        sizes = [s for s in shapes.values() if isinstance(s, tuple) and s]
        self.shape = max(sizes, key=lambda s: int(np.prod(s)), default=None)

    # ------------------------------------------------------------------ what runs where
    def read(self, stmts, ret, names) -> bool:
        """Sort ``stmts`` into those before the loop (scalars that need nothing of it), in
        it and after it (scalars computed from its sums); False where the body does not fit.
        A full sum inside a scalar expression (``out = np.vdot(a, a) + np.vdot(b, b)``) is
        taken out as a statement of its own, summed in the loop."""
        if self.shape is None or int(np.prod(self.shape)) < 2 * BLOCK:
            return False
        self.pre, self.loop, self.post = [], [], []
        self.sums: dict = {}  # names assigned a full sum in the loop (an ordered set)
        self.in_loop: set = set()  # names assigned in the loop
        self.after_loop: set = set()  # names assigned after it
        self.read_in_loop: set = set()
        work = [S.clone(stmt) for stmt in stmts]  # rewritten below: the body, only if it fits
        while work:
            stmt = work.pop(0)
            taken = self.take_sums(stmt, names)
            if taken:
                work[:0] = taken + [stmt]
                continue
            if not self.place(stmt):
                return False
        return bool(self.loop) and self.closed(ret)

    def place(self, stmt) -> bool:
        """Put ``stmt`` before, in or after the loop; False where the body does not fit."""
        if isinstance(stmt, gast.AugAssign):
            target, top = stmt.target, False
        elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
            target, top = stmt.targets[0], True
        else:
            return False
        if not isinstance(target, gast.Name):
            return False
        t = target.id
        reads = _reads(stmt)
        in_loop, after_loop = self.in_loop, self.after_loop
        if self.big(t) or self.full_sum(stmt):
            if self.big(t) and not self.elementwise(stmt.value, top=top):
                return False
            if reads & (set(self.sums) | after_loop) or t in after_loop:
                return False  # the elements need a finished sum: two passes
            if t in self.sums and t in in_loop:
                return False  # a sum assigned twice
            if self.full_sum(stmt):
                self.sums[t] = None
            self.loop.append(stmt)
            in_loop.add(t)
            self.read_in_loop |= reads
        elif reads & (in_loop | after_loop):  # a scalar from the loop's sums: after it
            if reads & in_loop - set(self.sums) or t in self.read_in_loop | in_loop:
                return False
            self.post.append(stmt)
            after_loop.add(t)
        else:  # needs nothing of the loop: before it
            if t in self.read_in_loop | in_loop | after_loop:
                return False
            self.pre.append(stmt)
        return True

    def closed(self, ret) -> bool:
        """Find the loop's outputs (read after it or by ``ret``) and inputs; False where an
        output's dtype is unknown or the loop reads a name before it assigns it."""
        in_loop = self.in_loop
        after = {n.id for s in self.post + [ret] for n in S.walk(s) if isinstance(n, gast.Name)}
        self.outputs = sorted(n for n in in_loop if self.big(n) and n in after)
        self.infer_dtypes()
        if any(not isinstance(self.dtypes.get(n), np.dtype) for n in self.outputs):
            return False
        self.inputs = sorted(n for n in self.read_in_loop if self.big(n) and n not in in_loop)
        seen: set = set()  # a name the loop reads before it assigns it: the last block's value
        for stmt in self.loop:
            if any(r in in_loop and r not in seen for r in _reads(stmt)):
                return False
            seen.add(_target(stmt))
        return True

    def infer_dtypes(self) -> None:
        """Dtypes of the names the loop assigns that ``dtypes`` lacks (adjoints), statement
        by statement; a name assigned values of two dtypes gets none."""
        known = dict(self.dtypes)
        got: dict = {}
        for stmt in self.loop:
            t = _target(stmt)
            e = stmt.value
            if isinstance(stmt, gast.AugAssign):
                e = gast.BinOp(left=S.name(t), op=stmt.op, right=e)
            if isinstance(e, gast.Call) and isinstance(e.func, gast.Name):  # unreduce(c, x)
                number = isinstance(e.args[0], gast.Constant)
                dt = known.get(e.args[1].id) if number else None
            else:
                dt = expression_dtype(e, known, self.np_name)
            if t in self.dtypes:
                continue
            if t in got and not (dt is not None and got[t] is not None and dt == got[t]):
                dt = None
            got[t] = known[t] = dt
        self.dtypes = {**self.dtypes, **{n: dt for n, dt in got.items() if dt is not None}}

    def big(self, name) -> bool:
        return self.shapes.get(name) == self.shape

    def scalar(self, name) -> bool:
        return self.shapes.get(name) == ()

    def take_sums(self, stmt, names) -> list:
        """For ``t = e`` with a scalar ``t`` and full sums of block arrays inside ``e``: the
        statements ``s = <sum>`` for each, ``e`` reading ``s`` instead; else []."""
        if not isinstance(stmt, gast.Assign) or self.full_sum(stmt):
            return []
        target = stmt.targets[0]
        if not isinstance(target, gast.Name) or self.big(target.id):
            return []
        found = []  # in the order Python evaluates them
        plan = self

        class Find(gast.NodeVisitor):
            def visit_Call(self, n):
                if plan.full_sum_value(n):
                    found.append(n)
                else:
                    self.generic_visit(n)

        Find().visit(stmt.value)
        if not found:
            return []
        taken, swap = [], {}
        for node in found:
            name = names.fresh(target.id + "_sum")
            self.shapes[name] = ()
            taken.append(S.assign(name, node, getattr(stmt, "lineno", None)))
            swap[id(node)] = name

        class Swap(gast.NodeTransformer):
            def visit_Call(self, n):
                if id(n) in swap:
                    return S.name(swap[id(n)])
                return self.generic_visit(n)

        stmt.value = Swap().visit(stmt.value)
        return taken

    def full_sum(self, stmt) -> bool:
        """``t = np.add.reduce(e, None)`` or ``t = np.vdot(a, b)`` of block-shaped
        elementwise operands, into a new scalar ``t``."""
        return isinstance(stmt, gast.Assign) and self.full_sum_value(stmt.value)

    def full_sum_value(self, v) -> bool:
        if reduce_all_call(v, self.np_name):
            operands = [v.args[0]]
        elif (
            isinstance(v, gast.Call)
            and S.dotted(v.func) == f"{self.np_name}.vdot"
            and len(v.args) == 2
            and not v.keywords
        ):
            operands = list(v.args)
        else:
            return False
        if not all(self.elementwise(o, top=True) for o in operands):
            return False
        # float16 blocks would each be rounded to float16 (NumPy sums float16 in float32)
        dtype = expression_dtype(v, self.dtypes, self.np_name)
        return isinstance(dtype, np.dtype) and dtype.char in _SUMMED_BY_BLOCK

    def elementwise(self, e, top=False) -> bool:
        """Whether ``e`` is computed element by element from block arrays and scalars (and,
        at the top, of the block shape)."""
        if top and not self.block_shaped(e):
            return False
        if isinstance(e, gast.Name):
            return self.big(e.id) or self.scalar(e.id)
        if isinstance(e, gast.Constant):
            return isinstance(e.value, (int, float, complex)) and not isinstance(e.value, bool)
        if isinstance(e, gast.BinOp):
            return (
                not isinstance(e.op, gast.MatMult)
                and self.elementwise(e.left)
                and self.elementwise(e.right)
            )
        if isinstance(e, gast.UnaryOp):
            return isinstance(e.op, (gast.USub, gast.UAdd)) and self.elementwise(e.operand)
        if isinstance(e, gast.Compare):
            return (
                len(e.ops) == 1 and self.elementwise(e.left) and self.elementwise(e.comparators[0])
            )
        if (  # a number broadcast to a block array's shape: to the block's
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id == self.unreduce
            and len(e.args) == 2
            and not e.keywords
            and not self.block_shaped(e.args[0])
            and self.elementwise(e.args[0])
            and isinstance(e.args[1], gast.Name)
            and self.big(e.args[1].id)
        ):
            return True
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute):
            ufunc = getattr(np, e.func.attr, None)
            if not (
                S.dotted(e.func.value) == self.np_name
                and isinstance(ufunc, np.ufunc)
                and ufunc.nout == 1
                and len(e.args) == ufunc.nin
            ):
                return False
            for k in e.keywords:
                if not (k.arg == "out" and isinstance(k.value, gast.Name) and self.big(k.value.id)):
                    return False
            return all(self.elementwise(a) for a in e.args)
        return False

    def block_shaped(self, e) -> bool:
        return any(isinstance(n, gast.Name) and self.big(n.id) for n in S.walk(e))

    # ------------------------------------------------------------------ the loop
    def write(self, body, names) -> bool:
        ret = body[-1]
        size = int(np.prod(self.shape))
        i = names.fresh("start")

        def window():
            stop = gast.BinOp(left=S.name(i), op=gast.Add(), right=S.const(BLOCK))
            return gast.Slice(lower=S.name(i), upper=stop, step=None)

        before, inside = [], []
        rename = self.blocks_of_inputs(names, window, before, inside)
        full = {}
        for o in self.outputs:
            full[o] = names.fresh(o + "_all")
            empty = gast.Attribute(value=S.name(self.np_name), attr="empty", ctx=gast.Load())
            dtype = gast.keyword(arg="dtype", value=S.const(str(self.dtypes[o])))
            alloc = S.call(empty, [S.const(size)])
            alloc.keywords = [dtype]
            before.append(S.assign(full[o], alloc))
        parts = {}
        for s in self.sums:
            parts[s] = names.fresh(s + "_parts")
            before.append(S.assign(parts[s], gast.List(elts=[], ctx=gast.Load())))
        self.block_statements(rename, parts, inside)
        for o in self.outputs:
            self.write_output(inside, o, full[o], window)
        loop = gast.For(
            target=S.name(i, store=True),
            iter=S.call(S.name("range"), [S.const(0), S.const(size), S.const(BLOCK)]),
            body=inside,
            orelse=[],
            type_comment=None,
        )
        # its names hold blocks: not the shapes the shape inference knows
        set_fact(loop, "blocks", True)
        after = self.gathered(parts, full)
        body[:] = self.pre + before + [loop] + after + self.post + [ret]
        return True

    def blocks_of_inputs(self, names, window, before, inside) -> dict:
        """Each input flattened before the loop and sliced to its block in it; the renaming
        of the inputs to their blocks."""
        rename = {}
        for p in self.inputs:
            flat = names.fresh(p + "_flat")
            reshape = gast.Attribute(value=S.name(p), attr="reshape", ctx=gast.Load())
            before.append(S.assign(flat, S.call(reshape, [S.const(-1)])))
            block = names.fresh(p + "_block")
            rename[p] = S.name(block)
            sliced = gast.Subscript(value=S.name(flat), slice=window(), ctx=gast.Load())
            inside.append(S.assign(block, sliced))
        return rename

    def block_statements(self, rename, parts, inside) -> None:
        """The loop's statements on blocks, a full sum appended to its list of ``parts``."""
        for stmt in self.loop:
            stmt.value = S.rename(stmt.value, rename)
            t = _target(stmt)
            if t in parts:
                append = gast.Attribute(value=S.name(parts[t]), attr="append", ctx=gast.Load())
                expr = gast.Expr(value=S.call(append, [stmt.value]))
                copy_all_facts(stmt, expr, lineno=True)
                inside.append(expr)
            else:
                inside.append(stmt)

    def gathered(self, parts, full) -> list:
        """After the loop: each sum as the sum of its parts, each output reshaped."""
        np_ = S.name(self.np_name)
        after = []
        for s, p in parts.items():
            reduce = gast.Attribute(
                value=gast.Attribute(value=np_, attr="add", ctx=gast.Load()),
                attr="reduce",
                ctx=gast.Load(),
            )
            array = S.call(gast.Attribute(value=np_, attr="array", ctx=gast.Load()), [S.name(p)])
            after.append(S.assign(s, S.call(reduce, [array, S.const(None)])))
        for o in self.outputs:
            reshape = gast.Attribute(value=S.name(full[o]), attr="reshape", ctx=gast.Load())
            shape = gast.Tuple(elts=[S.const(d) for d in self.shape], ctx=gast.Load())
            after.append(S.assign(o, S.call(reshape, [shape])))
        return after

    def write_output(self, inside, o, full, window) -> None:
        """Make the block's last assignment to ``o`` write into ``full``'s window (with
        ``out=``), or copy the block there after it."""
        where = max(k for k, st in enumerate(inside) if _target(st) == o)
        stmt = inside[where]
        out = gast.Subscript(value=S.name(full), slice=window(), ctx=gast.Load())
        np_ = S.name(self.np_name)

        def ufunc(f, args):
            call = S.call(gast.Attribute(value=np_, attr=f, ctx=gast.Load()), args)
            call.keywords = [gast.keyword(arg="out", value=out)]
            return call

        v = stmt.value
        new = None
        if isinstance(stmt, gast.AugAssign) and type(stmt.op) in ARRAY_BINOPS:
            new = ufunc(ARRAY_BINOPS[type(stmt.op)].__name__, [S.name(o), v])
        elif isinstance(v, gast.BinOp) and type(v.op) in ARRAY_BINOPS:
            new = ufunc(ARRAY_BINOPS[type(v.op)].__name__, [v.left, v.right])
        elif isinstance(v, gast.UnaryOp) and isinstance(v.op, gast.USub):
            new = ufunc("negative", [v.operand])
        elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute):
            kept = [k for k in v.keywords if k.arg != "out"]
            v.keywords = kept + [gast.keyword(arg="out", value=out)]
            new = v
        if new is None:
            target = gast.Subscript(value=S.name(full), slice=window(), ctx=gast.Store())
            inside.insert(
                where + 1, gast.Assign(targets=[target], value=S.name(o), type_comment=None)
            )
            return
        assign = S.assign(o, new, getattr(stmt, "lineno", None))
        copy_all_facts(stmt, assign)
        inside[where] = assign


def _target(stmt):
    """The name a simple statement assigns (``t = e``, ``t += e``), else None."""
    if isinstance(stmt, gast.AugAssign):
        target = stmt.target
    elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
    else:
        return None
    return target.id if isinstance(target, gast.Name) else None


def _reads(stmt) -> set:
    """Names a simple statement reads (``t += e`` reads ``t``)."""
    reads = {n.id for n in S.walk(stmt.value) if isinstance(n, gast.Name)}
    if isinstance(stmt, gast.AugAssign):
        reads.add(_target(stmt))
    return reads
