"""Pass 4 — reverse: the derivative as a forward sweep followed by an adjoint sweep.

Guarantees to the next pass (``Derivative``): a pure Python function (no in-place updates)
that takes the user's arguments (plus the output cotangent in ``vjp`` mode) and returns
``(value, gradient)``; the forward sweep is the core-form user code; the adjoint sweep holds,
for each differentiated user statement in reverse order, the inlined rule templates of its
operations, its first statement tagged with ``sg_comment`` ("line N: <user code>"). Adjoints
are named ``d<name>``; the first contribution assigns, later ones add. The gradient of each
``wrt`` argument is assembled by ``gradient_like`` from its path reads and its whole-value
adjoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import gast
import numpy as np

from ..runtime import NAMESPACE
from . import syntax as S
from .analysis import Analysis, _targets
from .templates import Accum, Refs, instantiate


@dataclass
class Derivative:
    node: gast.FunctionDef
    refs: Refs
    analysis: Analysis
    mode: str
    adj_names: dict  # primal name -> adjoint name

    @property
    def adj_of(self) -> dict:
        return {v: k for k, v in self.adj_names.items()}


def reverse(analysis: Analysis, mode: str = "grad") -> Derivative:
    """Build the derivative of ``analysis.core`` with respect to ``analysis.wrt``."""
    return _Reverse(analysis, mode).run()


class _Reverse:
    def __init__(self, analysis: Analysis, mode: str):
        self.a = analysis
        self.core = analysis.core
        self.names = analysis.core.names
        used = S.names_in(self.core.node)
        self.refs = Refs(self.names, self.core.parsed.globals, used)
        self.mode = mode
        self.adj_names: dict = {}
        self.defined: set = set()
        self.adj_of: dict = {}  # adjoint name -> primal name
        self.parts: dict = {p: [] for p in self.core.params}

    def adjname(self, x: str) -> str:
        if x not in self.adj_names:
            n = self.names.fresh("d" + x)
            self.adj_names[x] = n
            self.adj_of[n] = x
        return self.adj_names[x]

    def run(self) -> Derivative:
        core = self.core
        body = core.node.body
        ret = body[-1]
        forward = [S.clone(s) for s in body[:-1]]
        for orig, new in zip(body[:-1], forward):
            op = self.a.ops.get(id(orig))
            new.sg_pure = isinstance(orig, gast.Assign) and op is not None and op.pure
        adjoint: list = []
        out = self.a.output
        args = S.clone(core.node.args)
        if isinstance(out, gast.Name) and out.id in self.a.active:
            if self.mode == "vjp":
                seed_name = self.names.fresh("g_out")
                args.args.append(
                    gast.Name(id=seed_name, ctx=gast.Param(), annotation=None, type_comment=None)
                )
                seed = S.name(seed_name)
            else:
                seed = S.const(1.0)
            self.accumulate(out, seed, adjoint)
        elif self.mode == "vjp":
            seed_name = self.names.fresh("g_out")
            args.args.append(
                gast.Name(id=seed_name, ctx=gast.Param(), annotation=None, type_comment=None)
            )
        for stmt in reversed(body[:-1]):
            block = self.adjoint_of(stmt)
            if block:
                text = _statement_text(self.core.parsed, stmt)
                block[0].sg_comment = f"line {stmt.lineno}: {text}"
                adjoint.extend(block)
        grads = self.gradient()
        value = S.clone(ret.value)
        result = gast.Return(value=gast.Tuple(elts=[value, grads], ctx=gast.Load()))
        name = ("d_" if self.mode == "grad" else "vjp_") + core.node.name
        fn = gast.FunctionDef(
            name=name,
            args=args,
            body=forward + adjoint + [result],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        fn.lineno = core.node.lineno
        return Derivative(fn, self.refs, self.a, self.mode, dict(self.adj_names))

    # ------------------------------------------------------------ one statement
    def adjoint_of(self, stmt) -> list:
        if not isinstance(stmt, gast.Assign):
            return []
        targets = _targets(stmt)
        if not targets & self.a.active:
            return []
        op = self.a.ops[id(stmt)]
        if not op.differentiable:
            return []
        if not any(t in self.defined for t in targets):
            return []
        target = stmt.targets[0]
        if op.key == "path":
            (t,) = targets
            root, keys = stmt.sg_path
            self.parts[root].append((keys, S.name(self.adjname(t))))
            return []
        if isinstance(target, gast.Name):
            z = S.name(target.id)
            dz = S.name(self.adjname(target.id))
        else:
            z = S.clone(target)
            for e in z.elts:
                e.ctx = gast.Load()
            z.ctx = gast.Load()
            dz = gast.Tuple(
                elts=[
                    S.name(self.adjname(e.id)) if e.id in self.defined else self._zeros_like(e.id)
                    for e in target.elts
                ],
                ctx=gast.Load(),
            )
        items = instantiate(op.rule, op.bound, z, dz, self.a.ranks, self.refs, self.names)
        block: list = []
        self.emit_items(items, block)
        for s in block:
            s.lineno = stmt.lineno
        return block

    def emit_items(self, items, block):
        for item in items:
            if isinstance(item, Accum):
                self.accumulate(item.target, item.value, block)
            elif isinstance(item, tuple) and item[0] == "if":
                self.emit_if(item, block)
            else:
                item.sg_adjoint = True
                block.append(item)

    def emit_if(self, item, block):
        _, test, body_items, orelse_items = item
        before = set(self.defined)
        body: list = []
        self.emit_items(body_items, body)
        after_body = set(self.defined)
        self.defined = set(before)
        orelse: list = []
        self.emit_items(orelse_items, orelse)
        after_else = set(self.defined)
        for x in sorted(after_body - after_else):
            orelse.append(self._mark(S.assign(self.adjname(x), self._zeros_like(x))))
        for x in sorted(after_else - after_body):
            body.append(self._mark(S.assign(self.adjname(x), self._zeros_like(x))))
        self.defined = after_body | after_else
        node = gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)
        node.sg_adjoint = True
        block.append(node)

    def _zeros_like(self, x):
        np_name = self.refs.ref(np, "np")
        return S.call(
            gast.Attribute(value=S.name(np_name), attr="zeros_like", ctx=gast.Load()), [S.name(x)]
        )

    @staticmethod
    def _mark(stmt):
        stmt.sg_adjoint = True
        return stmt

    # ------------------------------------------------------------ accumulation
    def accumulate(self, target, value, block):
        if isinstance(target, (gast.Tuple, gast.List)):
            self.distribute(target, value, block)
            return
        if not isinstance(target, gast.Name) or target.id not in self.a.active:
            return
        x = target.id
        value = self.drop_sum_to(value)
        dx = self.adjname(x)
        if x in self.defined:
            value = gast.BinOp(left=S.name(dx), op=gast.Add(), right=value)
        self.defined.add(x)
        block.append(self._mark(S.assign(dx, value)))

    def distribute(self, target, value, block):
        elts = target.elts
        if not any(isinstance(e, gast.Name) and e.id in self.a.active for e in elts):
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            for e, v in zip(elts, value.elts):
                self.accumulate(e, v, block)
            return
        temps = [
            self.names.fresh(
                "d" + (e.id if isinstance(e, gast.Name) else "part"), always_suffix=True
            )
            for e in elts
        ]
        unpack = gast.Assign(
            targets=[gast.Tuple(elts=[S.name(t, store=True) for t in temps], ctx=gast.Store())],
            value=value,
            type_comment=None,
        )
        block.append(self._mark(unpack))
        for e, t in zip(elts, temps):
            self.accumulate(e, S.name(t), block)

    def drop_sum_to(self, value):
        """``sum_to(e, x)`` is ``e`` where shapes are provably equal."""
        sum_to_name = self.refs.by_id.get(id(NAMESPACE["sum_to"]))
        if not (
            isinstance(value, gast.Call)
            and isinstance(value.func, gast.Name)
            and value.func.id == sum_to_name
            and len(value.args) == 2
        ):
            return value
        e, x = value.args
        ke, kx = self.shape_key(e), self.shape_key(x)
        if ke is not None and (ke == kx or ke == "scalar" and kx == "scalar"):
            return e
        if kx == "scalar" and isinstance(x, gast.Name):
            np_name = self.refs.ref(np, "np")
            return S.call(gast.Attribute(value=S.name(np_name), attr="sum", ctx=gast.Load()), [e])
        return value

    def shape_key(self, e):
        return shape_key(self.a, self.adj_of, e)

    # ------------------------------------------------------------ the result
    def gradient(self):
        core = self.core
        wrt = self.a.wrt
        entries = []
        for i in wrt:
            p = core.params[i]
            parts = list(reversed(self.parts[p]))  # in the order the forward sweep reads them
            if p in self.defined:
                parts.append(((), S.name(self.adjname(p))))
            entries.append((p, parts))
        gl = S.name(self.refs.ref(NAMESPACE["gradient_like"], "gradient_like"))
        if len(entries) == 1:
            p, parts = entries[0]
            return S.call(gl, [S.name(p), _parts_node(parts)])
        like = gast.Tuple(elts=[S.name(p) for p, _ in entries], ctx=gast.Load())
        merged = [((i,) + keys, v) for i, (_, parts) in enumerate(entries) for keys, v in parts]
        return S.call(gl, [like, _parts_node(merged)])


def shape_key(analysis: Analysis, adj_of: dict, e):
    """A token equal for expressions whose shapes are provably equal; ``"scalar"`` for
    numbers and 0-d values; None when unknown."""
    shapes, ranks = analysis.same_shape, analysis.ranks
    if isinstance(e, gast.Constant):
        return "scalar" if isinstance(e.value, (int, float)) else None
    if isinstance(e, gast.Name):
        x = adj_of.get(e.id, e.id)
        if ranks.get(x) == 0:
            return "scalar"
        return shapes.find(x)
    if isinstance(e, gast.UnaryOp):
        return shape_key(analysis, adj_of, e.operand)
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and e.func.attr in ("sum", "mean", "size")
        and isinstance(e.func.value, gast.Name)
        and e.func.value.id in ("np", "numpy")
        and len(e.args) == 1
        and not e.keywords
    ):
        return "scalar"  # a full reduction
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and isinstance(e.func.value, gast.Name)
        and e.func.value.id in ("np", "numpy")
        and isinstance(getattr(np, e.func.attr, None), np.ufunc)
        and getattr(np, e.func.attr).nin == 1
        and len(e.args) == 1
        and not e.keywords
    ):
        return shape_key(analysis, adj_of, e.args[0])  # an elementwise function
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a = shape_key(analysis, adj_of, e.left)
        b = shape_key(analysis, adj_of, e.right)
        if a == "scalar":
            return b
        if b == "scalar":
            return a
        return a if a == b else None
    return None


def _parts_node(parts):
    if len(parts) == 1 and parts[0][0] == ():
        return parts[0][1]
    keys = [gast.Tuple(elts=[S.const(k) for k in keys], ctx=gast.Load()) for keys, _ in parts]
    return gast.Dict(keys=keys, values=[v for _, v in parts])


def _statement_text(parsed, stmt) -> str:
    node = None
    for user_stmt in parsed.node.body:
        if user_stmt.lineno == stmt.lineno:
            node = user_stmt
            break
    end = getattr(node, "end_lineno", None) or stmt.lineno
    lines = [parsed.line_text(n) for n in range(stmt.lineno, end + 1)]
    return " ".join(line for line in lines if line)
