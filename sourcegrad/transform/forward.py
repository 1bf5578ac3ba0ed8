"""Pass 4 (forward mode) — tangents: each statement followed by the statement of its tangent.

Guarantees to the next pass (a ``Derivative`` in mode ``"jvp"``): a function that takes the
user's arguments followed by one tangent argument per ``wrt`` argument (named ``d<param>``) and
returns ``(value, tangent of value)``. Control flow is the user's, unchanged: every ``if``,
``for`` and ``while`` runs once, and the tangent of each value is computed right after it, by
the forward-mode (``tangent``) rule of its operation inlined from its template. A value that
varies with a ``wrt`` argument somewhere but is assigned a constant here gets a zero tangent,
so every tangent a statement reads exists on every path. Nothing the function receives is
modified; tangents of containers are containers of the same structure.
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from ..rules.facts import facts_of
from ..runtime import NAMESPACE
from ..runtime.tangent_helpers import (
    add_tangents,
    assign_tangent,
    broadcast_like,
    pack_tangent,
    zero_tangent,
)
from . import syntax as S
from .derive import keeping_forward, makers
from .examples import reads_bound_method
from .forms import Analysis, Derivative
from .fused_calls import checked_arguments, names_or_flat_tuple, same_arguments
from .in_place import cast_in_place, with_copies
from .naming import derivative_name
from .node_facts import copy_facts, get_fact, set_fact
from .shape_keys import shape_key
from .sweep_plan import statement_text
from .tape_sweep import view_checked
from .templates import Accum, Refs, instantiate
from .walk import walk_statements, written_names
from .write_backs import refuse_transforming_write_backs, write_back_statements


def forward(analysis: Analysis, select: tuple = (), inside: bool = False) -> Derivative:
    """Build the forward-mode derivative (jvp) of ``analysis.core`` for ``analysis.wrt``.

    ``select`` (a path of tuple positions) makes the function return only that part of
    ``(value, tangent)``; what it does not need is then removed by the simplify pass.
    ``inside``: the core is a gradient that a function being differentiated calls, which runs
    it as well (a gradient writing back into its arguments is refused). Returns a new
    function: the core's statements are copied, never changed."""
    return _Forward(analysis).run(select, inside)


class _Forward:
    def __init__(self, analysis: Analysis):
        self.a = analysis
        self.core = analysis.core
        self.names = analysis.core.names
        self.refs = Refs(
            self.names,
            self.core.parsed.globals,
            S.names_in(self.core.node),
            self.core.parsed.closure,
            S.bound_names(self.core.node),
        )
        self.tan: dict = {}  # primal name -> tangent name
        # tangents are d<name> in user code; in generated derivative code, whose names already
        # start with d, t<name> (tdx: the tangent of dx)
        self.prefix = "t" if self.core.parsed.filename.startswith("<sourcegrad") else "d"
        self.commented = None
        self.fused: set = set()  # ids of the statements of fused_call
        wrt_names = {self.core.params[i] for i in analysis.wrt}
        varied = set(wrt_names)
        for stmt in walk_statements(self.core.node.body):
            varied |= analysis.varied_in.get(id(stmt), set())
        self.varied_anywhere = varied

    def tname(self, x: str) -> str:
        if x not in self.tan:
            self.tan[x] = self.names.fresh(self.prefix + x)
        return self.tan[x]

    def helper(self, fn):
        """A name reaching the runtime helper ``fn`` in generated code."""
        return S.name(self.refs.helper(fn))

    def run(self, select=(), inside: bool = False) -> Derivative:
        core = self.core
        if inside:
            refuse_transforming_write_backs(core)
        body = core.node.body
        ret = body[-1]
        args = S.clone(core.node.args)
        start = []
        tangent_params = []
        for i in self.a.wrt:
            p = core.params[i]
            tangent_params.append(self.tname(p))
            args.kwonlyargs.append(
                gast.Name(id=self.tname(p), ctx=gast.Param(), annotation=None, type_comment=None)
            )
            args.kw_defaults.append(None)
        for p in core.params:
            if p in self.varied_anywhere and p not in self.tan:
                start.append(self.zero(p, core.node.lineno))
        main = start + self.block(body[:-1])
        first, last, _ = write_back_statements(core, self.refs, main, [])
        varied = self.a.varied_in.get(id(ret), self.varied_anywhere)
        value = S.clone(ret.value)
        tangent = self.tangent_of(value, varied)
        out = gast.Tuple(elts=[value, tangent], ctx=gast.Load())
        for i in select:
            if isinstance(out, gast.Tuple):
                out = out.elts[i]
            else:
                out = gast.Subscript(value=out, slice=S.const(i), ctx=gast.Load())
        # (at the user's return: an error its tangent raises names that line)
        result = gast.copy_location(gast.Return(value=out), ret)
        fn = gast.FunctionDef(
            name=derivative_name("jvp", core.parsed.fn, core.node.name),
            args=args,
            body=first + main + last + [result],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        fn.lineno = core.node.lineno
        set_fact(fn, "tangent_params", tangent_params)
        set_fact(fn, "interleaved", True)
        return Derivative(fn, self.refs, self.a, "jvp", dict(self.tan))

    # ------------------------------------------------------------------ statements
    def block(self, stmts) -> list:
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.Assign):
                made = self.assign(stmt)
                for m in made:  # (a rule's own statements: at the line they differentiate)
                    if getattr(m, "lineno", None) is None:
                        m.lineno = stmt.lineno
                fused = len(made) == 1 and id(made[0]) in self.fused
                if stmt.lineno != self.commented and (len(made) > 1 or fused):
                    self.commented = stmt.lineno
                    text = statement_text(self.core.parsed, stmt)
                    set_fact(made[0], "comment", f"line {stmt.lineno}: {text}")
                out.extend(made)
            elif isinstance(stmt, gast.If):
                node = gast.If(
                    test=S.clone(stmt.test),
                    body=self.block(stmt.body) or [gast.Pass()],
                    orelse=self.block(stmt.orelse),
                )
                out.append(_meta(node, stmt))
            elif isinstance(stmt, gast.For):
                node = gast.For(
                    target=S.clone(stmt.target),
                    iter=S.clone(stmt.iter),
                    body=self.block(stmt.body) or [gast.Pass()],
                    orelse=[],
                    type_comment=None,
                )
                out.append(_meta(node, stmt))
            elif isinstance(stmt, gast.While):
                node = gast.While(
                    test=S.clone(stmt.test), body=self.block(stmt.body) or [gast.Pass()], orelse=[]
                )
                out.append(_meta(node, stmt))
            else:
                new = with_copies(S.clone(stmt), self.refs)
                set_fact(new, "pure", False)
                out.append(new)
        return out

    def assign(self, stmt) -> list:
        op = self.a.ops.get(id(stmt))
        primal = view_checked(with_copies(S.clone(stmt), self.refs), stmt, self.refs)
        primal = cast_in_place(primal, stmt, self.a.in_place_casts, self.refs)
        set_fact(primal, "pure", op is not None and op.pure)
        targets = written_names(stmt)
        varied_before = self.a.varied_in.get(id(stmt), set())
        if not (targets & self.varied_anywhere):
            return [primal]
        target = stmt.targets[0]
        contributions = []
        pre = []
        rename = {}
        if op is not None and op.differentiable and _reads_any(op, varied_before):
            if not isinstance(target, gast.Subscript) and targets & _operand_names(stmt):
                rename = {t: self.names.fresh(t, always_suffix=True) for t in sorted(targets)}
            z = self.result_atom(stmt, rename)
            pre, contributions = self.contributions(stmt, op, varied_before, z)
        fused = self.fused_call(stmt, primal, op, (rename, pre, contributions))
        if fused is not None:
            return [fused]
        if not contributions:
            if isinstance(target, gast.Subscript):
                if target.value.id in varied_before:
                    return [primal]  # the tangent of x is unchanged where x[k] = constant
                return [primal, self.zero(target.value.id, stmt.lineno)]
            return [primal] + [self.zero(t, stmt.lineno) for t in sorted(targets)]
        return self.combine(stmt, primal, rename, pre, contributions)

    def fused_call(self, stmt, primal, op, made) -> gast.Assign | None:
        """``y, ty = jvp_f(x, t_in=tx)`` for ``y = f(x)``, a call of one of the user's
        functions whose tangent (``made``: the renames, statements and contributions of the
        tangent rule) is ``jvp_f(x, t_in=tx)[1]`` alone: the value and the tangent from one run
        of ``f`` (a ``print`` in it prints once), where the primal calls ``f`` with the same
        arguments as its jvp (no copy put around one). None for any other statement, and in
        an export."""
        if not keeping_forward():  # an export writes each call and its jvp (whole_vjps)
            return None
        rename, pre, values = made
        target = stmt.targets[0]
        if rename or pre or len(values) != 1 or not names_or_flat_tuple(target):
            return None
        if op is None or not (op.user_call or op.key == "dynamic"):
            return None
        if not isinstance(primal, gast.Assign):
            return None
        (value,) = self.unwrap_broadcasts(values)
        if not (
            isinstance(value, gast.Subscript)
            and isinstance(value.value, gast.Call)
            and isinstance(value.slice, gast.Constant)
            and value.slice.value == 1
            and isinstance(primal.value, gast.Call)
            and same_arguments(primal.value, value.value, self.copied(), _callee(op))
        ):
            return None
        run = checked_arguments(primal.value, value.value, self.copied())
        if isinstance(target, gast.Name):
            fused = _assign_to([target.id, self.tname(target.id)], run, stmt.lineno)
        else:  # `a, b = f(x)`: `(a, b), (ta, tb) = jvp_f(x, t_in=tx)`
            names = [e.id for e in target.elts]
            pair = [gast.Tuple(elts=[S.name(n, True) for n in ns], ctx=gast.Store())
                    for ns in (names, [self.tname(n) for n in names])]  # fmt: skip
            fused = _assign_to(["_"], run, stmt.lineno)
            fused.targets = [gast.Tuple(elts=pair, ctx=gast.Store())]
        set_fact(fused, "adjoint", False)
        set_fact(fused, "pure", False)
        copy_facts(primal, fused, ("comment", "group"))
        self.fused.add(id(fused))
        return fused

    def copied(self) -> str | None:
        """The name of ``copy_if_written`` in the generated code, where it is called."""
        return self.refs.name_of(makers().copy_if_written)

    def result_atom(self, stmt, rename):
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript):
            return S.name(target.value.id)
        if isinstance(target, gast.Name):
            return S.name(rename.get(target.id, target.id))
        return gast.Tuple(
            elts=[S.name(rename.get(e.id, e.id)) for e in target.elts], ctx=gast.Load()
        )

    def contributions(self, stmt, op, varied, z):
        if op.key == "path":
            return [], [self.path_tangent(stmt, varied)]
        displays = (gast.Tuple, gast.List, gast.Dict)
        if op.key == "pack" or (op.key == "copy" and isinstance(stmt.value, displays)):
            return [], [self.pack_tangent(stmt.value, varied)]
        tangents = {}
        raw = _read_raw(op.rule)
        for p, atom in op.bound.items():
            t = self.tangent_atoms(atom, varied)
            stored = op.key == "setitem" and p == "v"  # (kept in a container, read later)
            tangents[p] = self.completed(t, atom) if p in raw or stored else t
        items = instantiate(
            op.rule, op.bound, z, None, self.a.ranks, self.refs, self.names, tangents=tangents
        )
        pre, values = [], []
        for item in items:
            if isinstance(item, Accum):
                values.append(self.drop_broadcasts(item.value, z))
            elif isinstance(item, tuple):
                raise UnsupportedSyntaxError(
                    f"the tangent rule of {op.label} has a test it cannot decide here",
                    self.core.parsed.filename,
                    stmt.lineno,
                )
            else:
                set_fact(item, "adjoint", True)
                pre.append(item)
        return pre, values

    def combine(self, stmt, primal, rename, pre, values) -> list:
        """Primal and tangent statements, ordered so that each reads the values it means."""
        lineno = stmt.lineno
        values = self.unwrap_broadcasts(values)
        total = values[0]
        add = self.helper(add_tangents) if _several_values(self.a.ops.get(id(stmt))) else None
        for v in values[1:]:
            if add is None:
                total = gast.BinOp(left=total, op=gast.Add(), right=v)
            else:
                total = S.call(add, [total, v])
        target = stmt.targets[0]
        if isinstance(target, gast.Subscript):
            # x[k] = v: the rule reads x as it was before the write, or only its shape
            tstmt = S.assign(self.tname(target.value.id), total, lineno)
            set_fact(tstmt, "adjoint", True)
            if _of_a_constant(total, self.refs.helper(assign_tangent)):
                return [*pre, primal, tstmt]
            return [*pre, tstmt, primal]
        names = [target.id] if isinstance(target, gast.Name) else [e.id for e in target.elts]
        unpack = not isinstance(target, gast.Name)  # (g,) = f(...) unpacks a 1-tuple
        if not rename:
            tstmt = _assign_to([self.tname(n) for n in names], total, lineno, unpack)
            return [primal, *pre, tstmt]
        # x = f(x): the new value goes to a fresh name first, so the tangent rule can read the
        # old operand and the new result
        for n in S.walk(primal.targets[0]):
            if isinstance(n, gast.Name) and n.id in rename:
                n.id = rename[n.id]
        fresh_t = [self.names.fresh(self.tname(n) + "_new") for n in names]
        out = [primal, *pre, _assign_to(fresh_t, total, lineno, unpack)]
        for n, t in zip(names, fresh_t):
            back = S.assign(n, S.name(rename[n]), lineno)
            set_fact(back, "pure", True)
            out.append(back)
            out.append(_assign_to([self.tname(n)], S.name(t), lineno))
        return out

    def unwrap_broadcasts(self, values):
        """``broadcast_like(dx, z) + broadcast_like(dy, z)`` is ``dx + dy``: the tangents of
        all operands together already broadcast to the result's shape."""
        name = self.refs.name_of(broadcast_like)

        def wrapped(v):
            return (
                isinstance(v, gast.Call)
                and isinstance(v.func, gast.Name)
                and v.func.id == name
                and len(v.args) == 2
            )

        if name is None or len(values) < 2 or not all(wrapped(v) for v in values):
            return values
        return [v.args[0] for v in values]

    def drop_broadcasts(self, value, z):
        """``broadcast_like(e, z)`` is ``e`` where the shapes are provably equal."""
        name = self.refs.name_of(broadcast_like)
        if name is None or not any(
            isinstance(n.func, gast.Name) and n.func.id == name
            for n in S.nodes_of(value, (gast.Call,))
        ):
            return value
        adj_of = {t: p for p, t in self.tan.items()}
        outer = self

        class Drop(gast.NodeTransformer):
            def visit_Call(self, n):
                self.generic_visit(n)
                if isinstance(n.func, gast.Name) and n.func.id == name and len(n.args) == 2:
                    a = shape_key(outer.a, adj_of, n.args[0])
                    b = shape_key(outer.a, adj_of, n.args[1])
                    if a is not None and a == b:
                        return n.args[0]
                return n

        return Drop().visit(value)

    # ------------------------------------------------------------------ tangents of atoms
    def tangent_atoms(self, atom, varied):
        """The tangent of an atom: a Name, None (constant), or a tuple of those."""
        if isinstance(atom, gast.Name):
            if atom.id in varied:
                return S.name(self.tname(atom.id))
            return None
        if isinstance(atom, (gast.Tuple, gast.List)):
            return tuple(self.tangent_atoms(e, varied) for e in atom.elts)
        if isinstance(atom, gast.Dict) and _reads(atom, varied):
            return self.pack_tangent(atom, varied)  # a dict display: a dict of tangents
        return None

    def completed(self, t, atom):
        """A tuple of tangents ``t`` of the display ``atom`` with ``zero_tangent(item)`` for
        each constant item, so that reading an item (``(tx, ty)[k]``) never gives None; a
        tangent with no varied item stays None (the rule contributes nothing)."""
        if not isinstance(t, tuple) or not _varies(t):
            return t
        return tuple(
            (
                self.completed(ti, e)
                if ti is not None or isinstance(e, gast.Slice)  # a range: no tangent
                else S.call(self.helper(zero_tangent), [S.clone(e)])
            )
            for ti, e in zip(t, atom.elts)
        )

    def tangent_of(self, value, varied):
        """An expression for the tangent of ``value`` (zeros where it is constant): a tuple,
        list or dict display's tangent is the same display of its items' tangents."""
        if isinstance(value, gast.Name):
            if value.id in varied:
                return S.name(self.tname(value.id))
            return S.call(self.helper(zero_tangent), [S.clone(value)])
        if isinstance(value, gast.Starred):  # `[*xs, y]`: the tangents of xs' items
            return gast.Starred(value=self.tangent_of(value.value, varied), ctx=gast.Load())
        if isinstance(value, (gast.Tuple, gast.List)):
            return type(value)(
                elts=[self.tangent_of(e, varied) for e in value.elts], ctx=gast.Load()
            )
        if isinstance(value, gast.Dict) and None not in value.keys:
            return gast.Dict(
                keys=[S.clone(k) for k in value.keys],
                values=[self.tangent_of(v, varied) for v in value.values],
            )
        return S.call(self.helper(zero_tangent), [S.clone(value)])

    def pack_tangent(self, value, varied):
        """The tangent of a tuple, list or dict display, displays inside it item by item."""
        if isinstance(value, gast.Dict):
            vals = []
            for v in value.values:
                if isinstance(v, (gast.Tuple, gast.List, gast.Dict)):
                    vals.append(self.pack_tangent(v, varied))
                    continue
                t = self.tangent_atoms(v, varied)
                if t is None or isinstance(t, tuple):
                    t = S.call(self.helper(zero_tangent), [S.clone(v)])
                vals.append(t)
            return gast.Dict(keys=[S.clone(k) for k in value.keys], values=vals)
        kind = S.name("list") if isinstance(value, gast.List) else S.name("tuple")
        ts = [
            (
                (self.pack_tangent(e, varied) if _reads(e, varied) else None)
                if isinstance(e, (gast.Tuple, gast.List, gast.Dict))
                else self.tangent_atoms(e, varied)
            )
            for e in value.elts
        ]
        tangents = gast.Tuple(elts=[S.const(None) if t is None else t for t in ts], ctx=gast.Load())
        if all(t is not None and not isinstance(t, tuple) for t in ts):
            return (
                gast.Tuple(elts=list(tangents.elts), ctx=gast.Load())
                if kind.id == "tuple"
                else gast.List(elts=list(tangents.elts), ctx=gast.Load())
            )
        return S.call(
            self.helper(pack_tangent),
            [kind, tangents, gast.Tuple(elts=[S.clone(e) for e in value.elts], ctx=gast.Load())],
        )

    def path_tangent(self, stmt, varied):
        """``W0 = params["W"][0]`` -> ``dW0 = dparams["W"][0]``."""
        root = get_fact(stmt, "path")[0]
        value = S.clone(stmt.value)
        if reads_bound_method(self.core, get_fact(stmt, "path")):
            value = value.value  # `act = self.forward`: the tangent is the receiver's
        for n in S.walk(value):
            if isinstance(n, gast.Name) and n.id == root:
                n.id = self.tname(root)
        return value

    def zero(self, x: str, lineno):
        s = S.assign(self.tname(x), S.call(self.helper(zero_tangent), [S.name(x)]), lineno)
        set_fact(s, "adjoint", True)
        return s


#: the runtime helpers, by identity (what a template's name resolves to decides, not its spelling)
_HELPER_IDS = frozenset(id(fn) for fn in NAMESPACE.values())


def _read_raw(rule) -> set:
    """The parameters ``p`` whose tangent ``d[p]`` the tangent template ``rule`` reads other
    than as an argument of a runtime helper (helpers take a None item as a zero, and some,
    like einsum's, skip it): in an index, arithmetic or a NumPy call, where a tuple of
    tangents must hold no None. Found once per template (the rules of its keys share it)."""
    body = getattr(rule, "body", None) or ()
    got = _RAW.get(id(body))
    if got is None or got[0] is not body:
        got = _RAW[id(body)] = (body, frozenset(_raw_reads(rule, body)))
    return got[1]


#: id of a template's body -> (the body, the parameters :func:`_read_raw` finds in it)
_RAW: dict = {}


def _raw_reads(rule, body) -> set:
    template_globals = getattr(getattr(rule, "fn", None), "__globals__", {})
    helper_args = {
        id(a)
        for stmt in body
        for n in S.walk(stmt)
        if isinstance(n, gast.Call)
        and isinstance(n.func, gast.Name)
        and id(template_globals.get(n.func.id)) in _HELPER_IDS
        for a in n.args
    }
    return {
        n.slice.id
        for stmt in body
        for n in S.walk(stmt)
        if isinstance(n, gast.Subscript)
        and isinstance(n.value, gast.Name)
        and n.value.id == "d"
        and isinstance(n.slice, gast.Name)
        and isinstance(n.ctx, gast.Load)
        and id(n) not in helper_args
    }


def _varies(t) -> bool:
    """Whether the tangent atom ``t`` (a name, None or a tuple of those) has a name."""
    if isinstance(t, tuple):
        return any(_varies(x) for x in t)
    return t is not None


def _several_values(op) -> bool:
    """Whether the result of ``op`` may be a tuple, list or dict of values (``lstsq``'s, a
    ufunc's of several outputs, a function of the user's with rules of its own), whose parts
    from several operands add item by item: ``+`` would join two tuples. An operator's
    result is not (``a + b`` of two tuples joins their tangents, as it joins them)."""
    key = op.key
    if isinstance(key, str) or id(key) in _HELPER_IDS:
        return False
    if isinstance(key, np.ufunc):
        return key.nout > 1
    if isinstance(getattr(key, "__self__", None), np.ufunc):
        return False  # np.add.outer, np.maximum.accumulate, ...
    module = getattr(key, "__module__", None) or ""
    if module.split(".")[0] in _LIBRARIES:
        return facts_of(key).several_results
    return True


#: the modules whose functions' results are one value unless their facts say otherwise
_LIBRARIES = frozenset(
    {"numpy", "scipy", "builtins", "math", "operator", "_operator", "sourcegrad"}
)


def _reads_any(op, varied) -> bool:
    return any(
        isinstance(n, gast.Name) and n.id in varied for a in op.diff_atoms() for n in S.walk(a)
    )


def _operand_names(stmt) -> set:
    parts = [stmt.value]
    if isinstance(stmt.targets[0], gast.Subscript):
        parts += [stmt.targets[0].value, stmt.targets[0].slice]
    return {n.id for p in parts for n in S.name_nodes(p)}


def _reads(node, names) -> bool:
    return any(isinstance(n, gast.Name) and n.id in names for n in S.walk(node))


def _callee(op):
    """The user's function an operation calls (None for a function value)."""
    return op.user_call[0] if isinstance(op.user_call, tuple) and op.user_call else None


def _assign_to(names, value, lineno, unpack=False):
    if len(names) == 1 and not unpack:
        stmt = S.assign(names[0], value, lineno)
    else:
        stmt = gast.Assign(
            targets=[gast.Tuple(elts=[S.name(n, True) for n in names], ctx=gast.Store())],
            value=value,
            type_comment=None,
        )
        stmt.lineno = lineno
    set_fact(stmt, "adjoint", True)
    return stmt


def _meta(node, like):
    node.lineno = getattr(like, "lineno", None)
    copy_facts(like, node, ("comment", "group"))
    return node


def _of_a_constant(total, helper: str) -> bool:
    """Whether ``total`` is ``assign_tangent(tx, k, None, x)`` (or ``(tx, k, None, x, v)``):
    the tangent of ``x[k] = v`` for a ``v`` with none, which reads only ``x``'s shape and keys
    and ``v``, the same after the write.
    It goes after the write, so that a dict's tangent reads the zeros of the key written in
    the dict that holds it (a derivative of this code may write into a copy of ``x``)."""
    return (
        isinstance(total, gast.Call)
        and isinstance(total.func, gast.Name)
        and total.func.id == helper
        and len(total.args) in (4, 5)
        and S.is_none(total.args[2])
    )
