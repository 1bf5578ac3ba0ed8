"""Pass 4 — reverse: the derivative as a forward sweep followed by an adjoint sweep.

Guarantees to the next pass (``Derivative``): a function that takes the user's arguments (plus
the keyword ``g_out`` in ``vjp`` mode) and returns ``(value, gradient)``, and writes into no
array it did not create. The forward sweep is the core-form user code, plus ``tape.append``
of each value that it overwrites and the adjoint reads. The adjoint sweep holds, for each
differentiated user statement in reverse order, the inlined rule templates of its operations
(first statement tagged with ``sg_comment``: "line N: <user code>"), followed by ``tape.pop``
restoring what the statement overwrote; loops run backwards (``reversed(range(...))``, or a
while loop's recorded trip count) and branches replay their recorded conditions. Adjoints are
named ``d<name>``; the first contribution assigns, later ones add; adjoints that live across
loop iterations start as zeros before the loop. The gradient of each ``wrt`` argument is
assembled by ``gradient_like`` from its path reads and its whole-value adjoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from ..runtime import NAMESPACE
from . import syntax as S
from .analysis import Analysis
from .templates import Accum, Refs, instantiate
from .walk import written_names


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
        self.refs = Refs(
            self.names,
            self.core.parsed.globals,
            used,
            self.core.parsed.closure,
            S.bound_names(self.core.node),
        )
        self.mode = mode
        self.adj_names: dict = {}
        self.defined: set = set()
        self.adj_of: dict = {}  # adjoint name -> primal name
        self.parts: dict = {p: [] for p in self.core.params}
        self.counters: dict = {}  # id(while statement) -> its iteration counter
        self.taped_counters: set = set()  # ids of while loops nested in a loop
        self.loop_depth = 0
        self.varied_here = None  # names varied before the statement being differentiated

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
        main = body[:-1]
        _hoist_invariants(main, self.a)
        self.overwritable = _overwritable(main, core.params)
        self.exists_before, self.loop_inits, self.definite = _existence(main, core.params)
        self.need_init: set = set()  # names a zero adjoint is made from where they may be unset
        self.tape = None
        adjoint: list = []
        out = self.a.output
        args = S.clone(core.node.args)
        seed = S.const(1.0)
        if self.mode == "vjp":
            if "g_out" in S.names_in(core.node):
                raise UnsupportedSyntaxError(
                    f"{core.node.name}() uses the name `g_out`, which its vjp takes for the "
                    "output gradient; rename it",
                    core.parsed.filename,
                    core.node.lineno,
                )
            self.names.reserve("g_out")
            args.kwonlyargs.append(
                gast.Name(id="g_out", ctx=gast.Param(), annotation=None, type_comment=None)
            )
            args.kw_defaults.append(None)
            # g_out may broadcast against the output: the seed is the output's share of it
            seed_like = S.name(self.refs.ref(NAMESPACE["seed_like"], "seed_like"))
            seed = S.call(seed_like, [S.name("g_out"), S.clone(out)])
        if any(n.id in self.a.active for n in S.walk(out) if isinstance(n, gast.Name)):
            self.accumulate(out, seed, adjoint)
        adjoint.extend(self.rev_block(main))
        grads = self.gradient()
        # the tape keeps only what the adjoint reads and the forward sweep overwrites
        read = set()
        for stmt in adjoint:
            read |= {
                n.id
                for n in S.walk(stmt)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
            }
        in_grads = {n.id for n in S.walk(grads) if isinstance(n, gast.Name)}
        read |= in_grads
        self.recorded = (self.overwritable & read) - set(self.adj_of)
        # an argument the function reassigns is restored in full where the gradient's
        # container is built from it (gradient_like(x, dx)), not only as its shape
        self.shape_only = (self.recorded & shape_only_reads(adjoint, self.refs)) - in_grads
        forward = self.fwd_block(main, top=True)
        adjoint = self.resolve_pops(adjoint)
        for stmt in adjoint:
            stmt.sg_sweep = True  # where the adjoint sweep starts, for the optimize pass
        if self.tape is not None:
            start = S.assign(self.tape, gast.List(elts=[], ctx=gast.Load()), core.node.lineno)
            start.sg_pure = False
            forward.insert(0, start)
        value = S.clone(ret.value)
        if {n.id for n in S.walk(value) if isinstance(n, gast.Name)} & self.recorded:
            # the adjoint sweep restores overwritten names: keep the result as it was
            kept = self.names.fresh("value")
            keep = S.assign(kept, value, ret.lineno)
            keep.sg_pure = False
            keep.sg_keep = True
            forward.append(keep)
            value = S.name(kept)
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

    # ------------------------------------------------------------ forward sweep
    def tape_name(self) -> str:
        if self.tape is None:
            self.tape = self.names.fresh("tape")
        return self.tape

    def fwd_block(self, stmts, top=False) -> list:
        out = []
        for stmt in stmts:
            if top and id(stmt) in self.loop_inits:
                for x in sorted(self.loop_inits[id(stmt)] & (self.recorded | self.need_init)):
                    init = S.assign(x, S.const(None), stmt.lineno)
                    init.sg_pure = False
                    out.append(init)
            if isinstance(stmt, gast.Assign):
                for t in sorted(self.pushed(stmt)):
                    push = self.push(t, stmt.lineno)
                    push.sg_tape_pair = (id(stmt), t)
                    out.append(push)
                new = S.clone(stmt)
                op = self.a.ops.get(id(stmt))
                new.sg_pure = op is not None and op.pure
                out.append(new)
            elif isinstance(stmt, gast.If):
                node = gast.If(
                    test=S.clone(stmt.test),
                    body=self.fwd_block(stmt.body) or [gast.Pass()],
                    orelse=self.fwd_block(stmt.orelse),
                )
                out.append(self._meta(node, stmt))
            elif isinstance(stmt, gast.For):
                node = gast.For(
                    target=S.clone(stmt.target),
                    iter=S.clone(stmt.iter),
                    body=self.fwd_block(stmt.body) or [gast.Pass()],
                    orelse=[],
                    type_comment=None,
                )
                out.append(self._meta(node, stmt))
            elif isinstance(stmt, gast.While):
                n = self.counters[id(stmt)]
                out.append(self._meta(S.assign(n, S.const(0)), stmt))
                body = self.fwd_block(stmt.body)
                body.append(
                    self._meta(
                        S.assign(n, gast.BinOp(left=S.name(n), op=gast.Add(), right=S.const(1))),
                        stmt,
                    )
                )
                node = gast.While(test=S.clone(stmt.test), body=body, orelse=[])
                out.append(self._meta(node, stmt))
                if id(stmt) in self.taped_counters:
                    out.append(self.push(n, stmt.lineno))
            else:
                new = S.clone(stmt)
                new.sg_pure = False
                out.append(new)
        return out

    @staticmethod
    def _meta(node, stmt):
        node.lineno = stmt.lineno
        node.sg_pure = False
        node.sg_group = getattr(stmt, "sg_group", None)
        return node

    def pushed(self, stmt) -> set:
        """Names whose old value the forward sweep saves before ``stmt`` overwrites them."""
        if isinstance(stmt.targets[0], gast.Subscript):
            return set()  # x[k] = v follows `x = x.copy()`: the value in between is never read
        return (written_names(stmt) & self.recorded) & self.exists_before.get(id(stmt), set())

    def push(self, x, lineno):
        saved = S.name(x)
        if x in getattr(self, "shape_only", ()):
            # the adjoint reads x only for its shape (sum_to): keep the shape, not the array
            shape_of = S.name(self.refs.ref(NAMESPACE["shape_of"], "shape_of"))
            saved = S.call(shape_of, [saved])
        call = S.call(
            gast.Attribute(value=S.name(self.tape_name()), attr="append", ctx=gast.Load()),
            [saved],
        )
        node = gast.Expr(value=call)
        node.lineno = lineno
        node.sg_pure = False
        return node

    def resolve_pops(self, stmts) -> list:
        out = []
        for stmt in stmts:
            marker = getattr(stmt, "sg_pop", None)
            if marker is not None:
                names, origin = marker
                for x in sorted(self.pushed(origin)):
                    pop = S.call(
                        gast.Attribute(value=S.name(self.tape_name()), attr="pop", ctx=gast.Load())
                    )
                    node = self._mark(S.assign(x, pop, origin.lineno))
                    node.sg_keep = True
                    node.sg_tape_pair = (id(origin), x)
                    out.append(node)
                continue
            for attr in ("body", "orelse"):
                if getattr(stmt, attr, None):
                    setattr(stmt, attr, self.resolve_pops(getattr(stmt, attr)))
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                if not stmt.body and not getattr(stmt, "orelse", None):
                    continue
                if not stmt.body:
                    stmt.body = [gast.Pass()]
            out.append(stmt)
        return out

    # ------------------------------------------------------------ adjoint sweep
    def rev_block(self, stmts) -> list:
        out: list = []
        for stmt in reversed(stmts):
            if isinstance(stmt, (gast.Assign, gast.AugAssign)):
                targets = written_names(stmt)
                live = targets & self.defined
                self.defined -= targets
                block = self.adjoint_of(stmt, live)
                if block:
                    text = statement_text(self.core.parsed, stmt)
                    block[0].sg_comment = f"line {stmt.lineno}: {text}"
                    out.extend(block)
                if targets & self.overwritable:
                    marker = gast.Expr(value=S.const(None))
                    marker.sg_pop = (targets, stmt)
                    out.append(marker)
            elif isinstance(stmt, gast.If):
                out.extend(self.rev_if(stmt))
            elif isinstance(stmt, (gast.For, gast.While)):
                out.extend(self.rev_loop(stmt))
        return out

    def rev_if(self, stmt) -> list:
        before = set(self.defined)
        body = self.rev_block(stmt.body)
        after_body = set(self.defined)
        self.defined = set(before)
        orelse = self.rev_block(stmt.orelse)
        after_else = set(self.defined)
        for x in sorted(after_body - after_else):
            orelse.append(self._mark(S.assign(self.adjname(x), self._zero_fill(x, stmt))))
        for x in sorted(after_else - after_body):
            body.append(self._mark(S.assign(self.adjname(x), self._zero_fill(x, stmt))))
        self.defined = after_body | after_else
        if not body and not orelse:
            return []
        node = gast.If(test=S.clone(stmt.test), body=body, orelse=orelse)
        node.lineno = stmt.lineno
        node.sg_adjoint = True
        node.sg_comment = f"line {stmt.lineno}: {statement_text(self.core.parsed, stmt)}"
        return [node]

    def rev_loop(self, stmt) -> list:
        carried = self.carried(stmt)
        pre = []
        for x in sorted(carried - self.defined):
            pre.append(self._mark(S.assign(self.adjname(x), self._zeros_like(x))))
        self.defined |= carried
        entry = set(self.defined)
        self.loop_depth += 1
        body = self.rev_block(stmt.body)
        self.loop_depth -= 1
        for x in sorted(carried - self.defined):
            body.append(self._mark(S.assign(self.adjname(x), self._zeros_like(x))))
        self.defined = entry
        if isinstance(stmt, gast.For):
            target = S.clone(stmt.target)
            header = S.call(S.name("reversed"), [S.clone(stmt.iter)])
        else:
            n = self.names.fresh("n_iter")
            self.counters[id(stmt)] = n
            target = S.name(self.names.fresh("_", always_suffix=True), store=True)
            header = S.call(S.name("range"), [S.name(n)])
            if self.loop_depth:
                # a while loop inside a loop: each execution's trip count goes on the tape
                self.taped_counters.add(id(stmt))
                pop = S.call(
                    gast.Attribute(value=S.name(self.tape_name()), attr="pop", ctx=gast.Load())
                )
                restore = self._mark(S.assign(n, pop, stmt.lineno))
                restore.sg_keep = True
                pre.append(restore)
        node = gast.For(
            target=target, iter=header, body=body or [gast.Pass()], orelse=[], type_comment=None
        )
        node.lineno = stmt.lineno
        node.sg_adjoint = True
        node.sg_comment = f"line {stmt.lineno}: {statement_text(self.core.parsed, stmt)}"
        if pre:
            pre[0].sg_comment = node.sg_comment
        return pre + [node]

    def carried(self, loop) -> set:
        """Adjoints that live across iterations: of names that exist before the loop and are
        read (accumulated into) or assigned in its body."""
        touched = set()
        for stmt in _walk(loop.body):
            if isinstance(stmt, gast.Assign):
                touched |= written_names(stmt)
                op = self.a.ops.get(id(stmt))
                if op is not None:
                    for atom in op.diff_atoms():
                        touched |= {n.id for n in S.walk(atom) if isinstance(n, gast.Name)}
        existing = self.exists_before.get(id(loop), set()) | self.defined
        return touched & existing & self.a.active

    # ------------------------------------------------------------ one statement
    def adjoint_of(self, stmt, live) -> list:
        """The adjoint of one assignment; ``live`` holds its targets whose adjoints are
        defined (they are already forgotten: what the statement's operands receive from here
        on belongs to the values the targets had before)."""
        if not isinstance(stmt, (gast.Assign, gast.AugAssign)):
            return []
        targets = written_names(stmt)
        if not targets & self.a.active:
            return []
        op = self.a.ops[id(stmt)]
        if not op.differentiable or not live:
            return []
        # `h = h + e`: the name h stands for two values whose shapes may differ (a loop that
        # broadcasts h up), so its shape class proves nothing between them
        self.self_update = targets & {
            n.id for a in op.operands for n in S.walk(a) if isinstance(n, gast.Name)
        }
        self.local_shapes = self.a.same_shape.local.get(id(stmt), ())
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
        block: list = []
        if op.key == "path":
            (t,) = targets
            root, keys = stmt.sg_path
            self.parts[root].append((keys, S.name(self.adjname(t))))
            return []
        if isinstance(target, gast.Subscript):
            target = target.value
        if isinstance(target, gast.Name):
            z = S.name(target.id)
            dz = S.name(self.adjname(target.id))
            reads = {n.id for a in op.operands for n in S.walk(a) if isinstance(n, gast.Name)}
            if target.id in reads:
                # `x[k] = v` and friends: the statement reads the name it writes
                copy = self.names.fresh("d" + target.id, always_suffix=True)
                block.append(self._mark(S.assign(copy, dz)))
                dz = S.name(copy)
        else:
            z = S.clone(target)
            for e in z.elts:
                e.ctx = gast.Load()
            z.ctx = gast.Load()
            dz = gast.Tuple(
                elts=[
                    S.name(self.adjname(e.id)) if e.id in live else self._zeros_like(e.id)
                    for e in target.elts
                ],
                ctx=gast.Load(),
            )
        items = instantiate(op.rule, op.bound, z, dz, self.a.ranks, self.refs, self.names)
        self.varied_here = self.a.varied_in.get(id(stmt))
        self.emit_items(items, block)
        self.varied_here = None
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

    def _zero_fill(self, x, if_stmt):
        """A zero adjoint for ``x`` in the branch that did not touch it. Where ``x`` may be
        unassigned there, the forward sweep sets it to None first and the zero is 0.0."""
        if x in self.definite.get(id(if_stmt), ()):
            return self._zeros_like(x)
        self.need_init.add(x)
        return S.call(S.name(self.refs.ref(NAMESPACE["zero_adjoint"], "zero_adjoint")), [S.name(x)])

    def _zeros_like(self, x):
        if self.a.ranks.get(x) == 0:  # a number (or 0-d array): a plain 0.0 adds to either
            return S.const(0.0)
        if self.a.ranks.get(x) is not None:  # an array: plain NumPy
            np_name = self.refs.ref(np, "np")
            func = gast.Attribute(value=S.name(np_name), attr="zeros_like", ctx=gast.Load())
        else:  # it may be a list or tuple
            func = S.name(self.refs.ref(NAMESPACE["zero_adjoint"], "zero_adjoint"))
        return S.call(func, [S.name(x)])

    @staticmethod
    def _mark(stmt):
        stmt.sg_adjoint = True
        return stmt

    # ------------------------------------------------------------ accumulation
    def accumulate(self, target, value, block):
        if isinstance(target, (gast.Tuple, gast.List)):
            self.distribute(target, value, block)
            return
        if isinstance(target, gast.Dict):  # d = {"a": x, ...}: each value its key's part
            piece = S.name(self.refs.ref(NAMESPACE["dict_piece"], "dict_piece"))
            for k, v in zip(target.keys, target.values):
                if self.varies_in(v):
                    part = S.call(piece, [S.clone(value), S.clone(k), S.clone(v)])
                    self.accumulate(v, part, block)
            return
        if not isinstance(target, gast.Name) or not self.varies(target.id):
            return
        x = target.id
        value = self.drop_sum_to(self.drop_as_adjoint(x, value))
        dx = self.adjname(x)
        if x in self.defined:
            value = gast.BinOp(left=S.name(dx), op=gast.Add(), right=value)
        self.defined.add(x)
        block.append(self._mark(S.assign(dx, value)))

    def drop_as_adjoint(self, x: str, value):
        """``as_adjoint(e)`` is ``e`` where ``x`` is known to be an array or a number."""
        name = self.refs.by_id.get(id(NAMESPACE["as_adjoint"]))
        if (
            name is not None
            and self.a.ranks.get(x) is not None
            and isinstance(value, gast.Call)
            and isinstance(value.func, gast.Name)
            and value.func.id == name
        ):
            return value.args[0]
        return value

    def varies_in(self, node) -> bool:
        """Whether a name in ``node`` (a name, or a tuple, list or dict display) varies."""
        return any(isinstance(n, gast.Name) and self.varies(n.id) for n in S.walk(node))

    def varies(self, name: str) -> bool:
        """Whether ``name`` depends on ``wrt`` where the current statement reads it."""
        if name not in self.a.active:
            return False
        return self.varied_here is None or name in self.varied_here

    def distribute(self, target, value, block):
        elts = target.elts
        if not self.varies_in(target):
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
            for e, v in zip(elts, value.elts):
                self.accumulate(e, v, block)
            return
        ids = [e.id for e in elts if isinstance(e, gast.Name)]
        if len(set(ids)) == len(elts) and all(
            self.varies(x) and x not in self.defined for x in ids
        ):
            # first contributions to all of them: unpack straight into the adjoints
            targets = [S.name(self.adjname(x), store=True) for x in ids]
            unpack = gast.Assign(
                targets=[gast.Tuple(elts=targets, ctx=gast.Store())], value=value, type_comment=None
            )
            block.append(self._mark(unpack))
            self.defined |= set(ids)
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
        find = self.a.same_shape.find
        # shapes equal at this statement only, by its own operation (a name assigned more than
        # once is in no class, but its value here relates to the others)
        local = {frozenset(find(n) for n in pair) for pair in getattr(self, "local_shapes", ())}
        self.a.unreduce_name = self.refs.by_id.get(id(NAMESPACE["unreduce"]))
        ke = shape_key(self.a, self.adj_of, e, local)
        kx = shape_key(self.a, self.adj_of, x, local)
        if ke == "scalar" and kx == "scalar":
            return e
        if isinstance(x, gast.Name) and x.id in getattr(self, "self_update", ()):
            return value
        if ke is not None and (ke == kx or frozenset((ke, kx)) in local):
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


def _walk(stmts):
    for stmt in stmts:
        yield stmt
        for attr in ("body", "orelse"):
            yield from _walk(getattr(stmt, attr, []) or [])


def _hoist_invariants(body, analysis) -> None:
    """Move constant computations that a loop repeats (``n = 3 * H`` with ``H`` never assigned
    in the loop) to just before it, so that they are computed once and never taped."""
    defs: dict = {p: 1 for p in analysis.core.params}  # an argument has a value already
    for stmt in _walk(body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            for t in written_names(stmt):
                defs[t] = defs.get(t, 0) + 1

    def visit(block):
        out = []
        for stmt in block:
            for attr in ("body", "orelse"):
                inner = getattr(stmt, attr, None)
                if inner:
                    setattr(stmt, attr, visit(inner))
            if isinstance(stmt, (gast.For, gast.While)):
                changed = _assigned_in_loop(stmt)
                keep, moved = [], []
                for sub in stmt.body:
                    op = analysis.ops.get(id(sub))
                    if (
                        isinstance(sub, gast.Assign)
                        and isinstance(sub.targets[0], gast.Name)
                        and op is not None
                        and op.pure
                        and op.key not in (None, "opaque")
                        and sub.targets[0].id not in analysis.active
                        and defs.get(sub.targets[0].id) == 1
                        and not (_names_read(sub.value) & changed)
                    ):
                        moved.append(sub)
                    else:
                        keep.append(sub)
                if moved:
                    stmt.body = keep or [gast.Pass()]
                    out.extend(moved)
            out.append(stmt)
        return out

    body[:] = visit(body)


def _names_read(node) -> set:
    return {n.id for n in S.walk(node) if isinstance(n, gast.Name)}


def _assigned_in_loop(loop) -> set:
    out = (
        {n.id for n in S.walk(loop.target) if isinstance(n, gast.Name)}
        if isinstance(loop, gast.For)
        else set()
    )
    for stmt in _walk(loop.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            out |= written_names(stmt)
    return out


def shape_only_reads(stmts, refs, np_name=None) -> set:
    """Names that the statements read only as the shape argument of ``sum_to`` (or, given
    the name NumPy goes by, in ``np.shape(x)``)."""
    sum_to_name = refs.by_id.get(id(NAMESPACE["sum_to"]))
    total: dict = {}
    as_shape: dict = {}
    for stmt in stmts:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                total[n.id] = total.get(n.id, 0) + 1
            x = shape_read(n, sum_to_name, np_name)
            if x is not None:
                as_shape[x] = as_shape.get(x, 0) + 1
    return {x for x, k in as_shape.items() if total.get(x) == k}


def shape_read(n, sum_to_name, np_name):
    """``x`` when ``n`` is ``sum_to(g, x)`` or ``np.shape(x)`` (with ``np_name``)."""
    if not isinstance(n, gast.Call):
        return None
    f = n.func
    if isinstance(f, gast.Name) and f.id == sum_to_name and len(n.args) == 2:
        x = n.args[1]
    elif (
        np_name is not None
        and isinstance(f, gast.Attribute)
        and f.attr == "shape"
        and isinstance(f.value, gast.Name)
        and f.value.id == np_name
        and len(n.args) == 1
    ):
        x = n.args[0]
    else:
        return None
    return x.id if isinstance(x, gast.Name) else None


def _overwritable(stmts, params) -> set:
    """Names assigned more than once as the function runs: in a loop, or in several places
    (an argument counts as assigned once on entry)."""
    counts: dict = {p: 1 for p in params}
    in_loop = set()

    def visit(block, looping):
        for stmt in block:
            if isinstance(stmt, gast.Assign):
                for t in written_names(stmt):
                    counts[t] = counts.get(t, 0) + 1
                    if looping:
                        in_loop.add(t)
            for attr in ("body", "orelse"):
                visit(
                    getattr(stmt, attr, []) or [],
                    looping or isinstance(stmt, (gast.For, gast.While)),
                )

    visit(stmts, False)
    return in_loop | {t for t, n in counts.items() if n > 1}


def _existence(stmts, params):
    """For each statement, the names that may hold a value before it runs; and, for each
    top-level if/for/while, the names it assigns that may not exist before it (the forward
    sweep gives them a value first, so that saving the old value is always possible)."""
    exists: dict = {}
    inits: dict = {}
    known = set(params)
    sure = set(params)  # names certainly assigned on every path so far
    definite: dict = {}

    def assigned(block):
        return {t for s in _walk(block) if isinstance(s, gast.Assign) for t in written_names(s)}

    def visit(block, looping):
        for stmt in block:
            if isinstance(stmt, (gast.For, gast.While)):
                inner = assigned(stmt.body)
                if isinstance(stmt, gast.For):
                    inner |= {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
                if not looping:
                    inits[id(stmt)] = inner - known
                exists[id(stmt)] = set(known)
                known.update(inner)
                visit(stmt.body, True)
            elif isinstance(stmt, gast.If):
                definite[id(stmt)] = set(sure)
                inner = assigned(stmt.body) | assigned(stmt.orelse)
                if not looping:
                    inits[id(stmt)] = inner - known
                    known.update(inner)
                exists[id(stmt)] = set(known)
                before = set(sure)
                visit(stmt.body, looping)
                sure.clear()
                sure.update(before)
                visit(stmt.orelse, looping)
                sure.clear()
                sure.update(before)
            else:
                exists[id(stmt)] = set(known)
                if isinstance(stmt, gast.Assign):
                    known.update(written_names(stmt))
                    sure.update(written_names(stmt))

    visit(stmts, False)
    return exists, inits, definite


def shape_key(analysis: Analysis, adj_of: dict, e, local=()):
    """A token equal for expressions whose shapes are provably equal; ``"scalar"`` for
    numbers and 0-d values; None when unknown. ``local`` holds pairs of tokens known equal
    only at the statement being differentiated."""
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
    if (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Name)
        and e.func.id == getattr(analysis, "unreduce_name", None)
        and len(e.args) >= 2
    ):
        return shape_key(analysis, adj_of, e.args[1], local)  # broadcast back to x's shape
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a = shape_key(analysis, adj_of, e.left, local)
        b = shape_key(analysis, adj_of, e.right, local)
        if a == "scalar":
            return b
        if b == "scalar":
            return a
        return a if a == b or (a is not None and frozenset((a, b)) in local) else None
    return None


def _parts_node(parts):
    if len(parts) == 1 and parts[0][0] == ():
        return parts[0][1]
    keys = [gast.Tuple(elts=[S.const(k) for k in keys], ctx=gast.Load()) for keys, _ in parts]
    return gast.Dict(keys=keys, values=[v for _, v in parts])


def statement_text(parsed, stmt) -> str:
    node = None
    for user_stmt in _walk(parsed.node.body):
        if getattr(user_stmt, "lineno", None) == stmt.lineno:
            node = user_stmt
            break
    if isinstance(stmt, (gast.If, gast.For, gast.While)) or isinstance(
        node, (gast.If, gast.For, gast.While)
    ):
        return parsed.line_text(stmt.lineno)
    end = getattr(node, "end_lineno", None) or stmt.lineno
    lines = [parsed.line_text(n) for n in range(stmt.lineno, end + 1)]
    return " ".join(line for line in lines if line)
