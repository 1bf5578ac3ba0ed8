"""The adjoint sweep of a reverse-mode derivative: for each differentiated statement in
reverse order, the inlined rule templates of its operation; loops backwards, branches
replayed (a mixin of the reverse pass's builder)."""

from __future__ import annotations

import gast
import numpy as np

from ..runtime.helpers import sum_to, unreduce
from ..runtime.trees import as_adjoint, dict_piece, zero_adjoint
from . import syntax as S
from .examples import reads_bound_method
from .node_facts import get_fact, set_fact
from .shape_keys import shape_key
from .sweep_plan import statement_text
from .templates import Accum, instantiate
from .walk import walk_statements, written_names


class AdjointSweep:
    """The adjoint sweep. Expects of the builder: ``a`` (the analysis), ``core``, ``names``,
    ``refs``, ``defined``, ``adj_of``, ``parts``, ``exists_before``, ``definite``,
    ``need_init``, ``overwritable``, ``recomputed``, ``counters``, ``taped_counters``, ``loop_depth``,
    ``varied_here``, ``self_update``, ``local_shapes``, and the methods ``adjname`` and
    ``tape_name``."""

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
                    set_fact(block[0], "comment", f"line {stmt.lineno}: {text}")
                    out.extend(block)
                if targets & self.overwritable:
                    marker = gast.Expr(value=S.const(None))
                    set_fact(marker, "pop", (targets, stmt))
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
            orelse.append(self.mark(S.assign(self.adjname(x), self.zero_fill(x, stmt))))
        for x in sorted(after_else - after_body):
            body.append(self.mark(S.assign(self.adjname(x), self.zero_fill(x, stmt))))
        self.defined = after_body | after_else
        if not body and not orelse:
            return []
        node = gast.If(test=S.clone(stmt.test), body=body, orelse=orelse)
        node.lineno = stmt.lineno
        set_fact(node, "adjoint", True)
        set_fact(node, "comment", f"line {stmt.lineno}: {statement_text(self.core.parsed, stmt)}")
        return [node]

    def rev_loop(self, stmt) -> list:
        carried = self.carried(stmt)
        pre = []
        for x in sorted(carried - self.defined):
            pre.append(self.mark(S.assign(self.adjname(x), self.zeros_like(x))))
        self.defined |= carried
        entry = set(self.defined)
        self.loop_depth += 1
        body = self.rev_block(stmt.body)
        self.loop_depth -= 1
        for x in sorted(carried - self.defined):
            body.append(self.mark(S.assign(self.adjname(x), self.zeros_like(x))))
        self.defined = entry
        if isinstance(stmt, gast.For):
            target = S.clone(stmt.target)
            header = S.call(S.name("reversed"), [S.clone(stmt.iter)])
            if body:  # p = layers[k] made again, not restored from the tape
                again = [self.mark(S.clone(st)) for st in self.recomputed.get(id(stmt), ())]
                for st in again:
                    set_fact(st, "made_again", True)
                body[:0] = again
                self.reversed_loops[id(stmt)] = body
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
                restore = self.mark(S.assign(n, pop, stmt.lineno))
                set_fact(restore, "keep", True)
                pre.append(restore)
        node = gast.For(
            target=target, iter=header, body=body or [gast.Pass()], orelse=[], type_comment=None
        )
        node.lineno = stmt.lineno
        set_fact(node, "adjoint", True)
        set_fact(node, "comment", f"line {stmt.lineno}: {statement_text(self.core.parsed, stmt)}")
        if pre:
            set_fact(pre[0], "comment", get_fact(node, "comment"))
        return pre + [node]

    def carried(self, loop) -> set:
        """Adjoints that live across iterations: of names that exist before the loop and are
        read (accumulated into) or assigned in its body."""
        touched = set()
        for stmt in walk_statements(loop.body):
            if isinstance(stmt, gast.Assign):
                touched |= written_names(stmt)
                op = self.a.ops.get(id(stmt))
                if op is not None:
                    for atom in op.diff_atoms():
                        touched |= {n.id for n in S.name_nodes(atom)}
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
            root, keys = get_fact(stmt, "path")
            if reads_bound_method(self.core, (root, keys)):
                keys = keys[:-1]  # `act = self.forward`: the adjoint is the receiver's
            self.parts[root].append((keys, S.name(self.adjname(t))))
            return []
        if isinstance(target, gast.Subscript):
            target = target.value
        if isinstance(target, gast.Name):
            z = S.name(target.id)
            dz = S.name(self.adjname(target.id))
            reads = {n.id for a in op.operands for n in S.name_nodes(a)}
            if target.id in reads:
                # `x[k] = v` and friends: the statement reads the name it writes
                copy = self.names.fresh("d" + target.id, always_suffix=True)
                block.append(self.mark(S.assign(copy, dz)))
                dz = S.name(copy)
        else:
            z = S.clone(target)
            for e in z.elts:
                e.ctx = gast.Load()
            z.ctx = gast.Load()
            dz = gast.Tuple(
                elts=[
                    S.name(self.adjname(e.id)) if e.id in live else self.zeros_like(e.id)
                    for e in target.elts
                ],
                ctx=gast.Load(),
            )
        items = instantiate(
            op.rule, op.bound, z, dz, self.a.ranks, self.refs, self.names, floating=self.a.floating
        )
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
                set_fact(item, "adjoint", True)
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
            orelse.append(self.mark(S.assign(self.adjname(x), self.zeros_like(x))))
        for x in sorted(after_else - after_body):
            body.append(self.mark(S.assign(self.adjname(x), self.zeros_like(x))))
        self.defined = after_body | after_else
        node = gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)
        set_fact(node, "adjoint", True)
        block.append(node)

    def zero_fill(self, x, if_stmt):
        """A zero adjoint for ``x`` in the branch that did not touch it. Where ``x`` may be
        unassigned there, the forward sweep sets it to None first and the zero is 0.0."""
        if x in self.definite.get(id(if_stmt), ()):
            return self.zeros_like(x)
        self.need_init.add(x)
        return S.call(S.name(self.refs.helper(zero_adjoint)), [S.name(x)])

    def zeros_like(self, x):
        if self.a.ranks.get(x) == 0:  # a number (or 0-d array): a plain 0.0 adds to either
            return S.const(0.0)
        if self.a.ranks.get(x) is not None:  # an array: plain NumPy
            np_name = self.refs.ref(np, "np")
            func = gast.Attribute(value=S.name(np_name), attr="zeros_like", ctx=gast.Load())
        else:  # it may be a list or tuple
            func = S.name(self.refs.helper(zero_adjoint))
        return S.call(func, [S.name(x)])

    @staticmethod
    def mark(stmt):
        set_fact(stmt, "adjoint", True)
        return stmt

    # ------------------------------------------------------------ accumulation
    def accumulate(self, target, value, block):
        if isinstance(target, (gast.Tuple, gast.List)):
            self.distribute(target, value, block)
            return
        if isinstance(target, gast.Dict):  # d = {"a": x, ...}: each value its key's part
            piece = S.name(self.refs.helper(dict_piece))
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
        block.append(self.mark(S.assign(dx, value)))

    def drop_as_adjoint(self, x: str, value):
        """``as_adjoint(e)`` is ``e`` where ``x`` is known to be an array or a number."""
        name = self.refs.name_of(as_adjoint)
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
        if len(ids) == len(elts) and all(self.a.ranks.get(x) is not None for x in ids):
            value = self.drop_as_adjoint(ids[0], value)  # items unpacked: arrays, numbers
        # a first contribution is unpacked straight into its adjoint, the others added after
        direct = {x for x in ids if ids.count(x) == 1 and self.varies(x) and x not in self.defined}
        targets = [
            (
                self.adjname(e.id)
                if isinstance(e, gast.Name) and e.id in direct
                else self.names.fresh(
                    "d" + (e.id if isinstance(e, gast.Name) else "part"), always_suffix=True
                )
            )
            for e in elts
        ]
        unpack = gast.Assign(
            targets=[gast.Tuple(elts=[S.name(t, store=True) for t in targets], ctx=gast.Store())],
            value=value,
            type_comment=None,
        )
        block.append(self.mark(unpack))
        self.defined |= direct
        for e, t in zip(elts, targets):
            if not (isinstance(e, gast.Name) and e.id in direct):
                self.accumulate(e, S.name(t), block)

    def drop_sum_to(self, value):
        """``sum_to(e, x)`` is ``e`` where shapes are provably equal."""
        sum_to_name = self.refs.name_of(sum_to)
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
        local = {frozenset(find(n) for n in pair) for pair in self.local_shapes}
        self.a.unreduce_name = self.refs.name_of(unreduce)
        ke = shape_key(self.a, self.adj_of, e, local)
        kx = shape_key(self.a, self.adj_of, x, local)
        if ke == "scalar" and kx == "scalar":
            return e
        if isinstance(x, gast.Name) and x.id in self.self_update:
            return value
        if ke is not None and (ke == kx or frozenset((ke, kx)) in local):
            return e
        if kx == "scalar" and isinstance(x, gast.Name):
            np_name = self.refs.ref(np, "np")
            return S.call(gast.Attribute(value=S.name(np_name), attr="sum", ctx=gast.Load()), [e])
        return value

    def shape_key(self, e):
        return shape_key(self.a, self.adj_of, e)
