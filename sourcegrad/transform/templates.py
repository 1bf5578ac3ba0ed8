"""Inline a rule template at one use: substitute operands, decide static tests, rename locals.

Entered through :func:`instantiate`, used by the reverse pass.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

import gast
import numpy as np

from ..errors import SourcegradError
from ..rules.registry import Rule
from . import syntax as S
from .node_facts import get_fact, set_fact

UNKNOWN = object()


@dataclass
class Accum:
    """``d[target] += value``: a contribution to the adjoint of ``target`` (an atom)."""

    target: object
    value: object


class Refs:
    """Objects that generated code refers to by name (NumPy, runtime helpers)."""

    def __init__(
        self, names: S.NameGen, user_globals: dict, used_by_user: set, closure=None, local=()
    ):
        self.names = names
        self.local = set(local)  # the function's own variables: they hide globals of the name
        visible = dict(user_globals)
        for name, cell in (closure or {}).items():
            try:
                visible[name] = cell.cell_contents
            except ValueError:  # an empty cell
                continue
        self.user_globals = visible
        self.used_by_user = used_by_user
        self.by_id: dict = {}
        self.injected: dict = {}  # name -> object that generated code gets through its closure

    def ref(self, obj, preferred: str) -> str:
        """The name under which generated code reaches ``obj``."""
        key = id(obj)
        if key in self.by_id:
            return self.by_id[key]
        name = None
        if self.user_globals.get(preferred) is obj and preferred not in self.local:
            name = preferred  # the user's own global of that name, e.g. their `np`
        else:
            for gname in sorted(self.used_by_user - self.local):
                if self.user_globals.get(gname) is obj:
                    name = gname  # e.g. `import numpy as onp` and the function uses `onp`
                    break
        if name is None:
            name = preferred
            if preferred in self.used_by_user or preferred in self.injected:
                name = self.names.fresh(preferred, always_suffix=True)
            self.names.reserve(name)
            self.injected[name] = obj
        self.by_id[key] = name
        return name

    def helper(self, fn) -> str:
        """The name under which generated code calls the runtime helper ``fn`` (its own name
        where that is free), referring to it if nothing did yet."""
        return self.ref(fn, fn.__name__)

    def name_of(self, obj) -> str | None:
        """The name generated code reaches ``obj`` by, or None where nothing refers to it."""
        return self.by_id.get(id(obj))

    def names_of(self, objs) -> set:
        """The names generated code reaches those of ``objs`` it refers to by."""
        return {self.by_id[id(o)] for o in objs if id(o) in self.by_id}

    def is_call_of(self, node, fn) -> bool:
        """Whether ``node`` is a call ``name(...)`` of the object ``fn`` (by identity: ``name``
        is the name generated code reaches ``fn`` by, whatever it is spelled)."""
        return (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Name)
            and id(fn) in self.by_id
            and node.func.id == self.by_id[id(fn)]
        )


def instantiate(
    rule: Rule,
    bound: dict,
    z,
    dz,
    ranks: dict,
    refs: Refs,
    names: S.NameGen,
    tangents=None,
    floating: frozenset = frozenset(),
):
    """The statements of ``rule`` for one operation.

    ``bound`` maps the rule's operand parameters to atoms, ``z`` is the result atom, ``dz`` the
    expression of its adjoint. Returns gast statements and :class:`Accum` items, in order.

    With ``tangents`` (a forward-mode rule) ``d[p]`` reads the tangent of operand ``p``:
    ``tangents`` maps a parameter to a tangent atom, a tuple of them (None for a constant item),
    or None for a constant operand; a contribution ``d[z] += e`` becomes ``Accum(z, e)``, and is
    dropped when every tangent it reads is None. ``floating``: the names surely holding
    floating values (a static ``floating(x)`` test).
    """
    env = {p: v for p, v in bound.items()}
    folded = _fold(rule.body, env, (ranks, floating))  # the branches kept, only
    local_names = set().union(*[_template_stores(s) for s in folded])
    renamed = {n: names.fresh(n, always_suffix=True) for n in sorted(local_names)}
    out = []
    for stmt in folded:  # (the substitution makes new nodes: the template stays as it is)
        if tangents is not None:
            stmt = _with_tangents(stmt, rule, tangents)
            if stmt is None:
                continue
        out.extend(_leafwise(_substitute_stmt(stmt, rule, env, z, dz, renamed, refs), names))
    return out


def _leafwise(items, names: S.NameGen) -> list:
    """``items`` with each contribution to a nested list of atoms (``d[a] += e`` for
    ``np.array([[c, -s], [s, c]])``) made one to the flat tuple of its names: ``e`` is given
    a name, and each name gets the part of it at its position (``e[1][0]``)."""
    out = []
    for item in items:
        if isinstance(item, tuple) and item[0] == "if":
            _, test, body, orelse = item
            out.append(("if", test, _leafwise(body, names), _leafwise(orelse, names)))
            continue
        target = getattr(item, "target", None)
        if not (
            isinstance(item, Accum)
            and isinstance(target, (gast.Tuple, gast.List))
            and any(isinstance(e, (gast.Tuple, gast.List)) for e in target.elts)
        ):
            out.append(item)
            continue
        whole = names.fresh("dparts", always_suffix=True)
        leaves = list(_name_leaves(target, ()))
        if not leaves:
            continue
        out.append(S.assign(whole, item.value))
        parts = []
        for _, path in leaves:
            part = S.name(whole)
            for k in path:
                key = S.clone(k) if isinstance(k, gast.AST) else S.const(k)
                part = gast.Subscript(value=part, slice=key, ctx=gast.Load())
            parts.append(part)
        out.append(
            Accum(
                gast.Tuple(elts=[S.clone(n) for n, _ in leaves], ctx=gast.Load()),
                gast.Tuple(elts=parts, ctx=gast.Load()),
            )
        )
    return out


def _with_tangents(stmt, rule, tangents):
    """``stmt`` (a template's, left as it is) made anew with every ``d[p]`` read replaced by
    the tangent of ``p``; None when the statement contributes nothing (it reads tangents and
    all of them are zero)."""
    if isinstance(stmt, gast.If):  # (its test is shared: the substitution copies it)
        body = [x for x in (_with_tangents(s, rule, tangents) for s in stmt.body) if x]
        orelse = [x for x in (_with_tangents(s, rule, tangents) for s in stmt.orelse) if x]
        if not body and not orelse:
            return None
        new = _TangentReads(tangents).copied(stmt)
        new.body, new.orelse = body, orelse
        return new
    read = [n for n in S.nodes_of(stmt, (gast.Subscript,)) if _is_d(n)]
    read = [n for n in read if isinstance(n.ctx, gast.Load)]
    if read and all(_tangent_atom(tangents.get(n.slice.id)) is None for n in read):
        return None
    if isinstance(stmt, gast.AugAssign):
        if stmt.target.slice.id != rule.result:
            raise SourcegradError(f"rule at {rule.where}: a tangent rule contributes to d[z] only")
        new = _TangentReads(tangents).copied(stmt)
        new.value = _TangentReads(tangents).visit(stmt.value)
        new.target = gast.Subscript(value=S.name("d"), slice=S.name("__result__"), ctx=gast.Store())
        return new
    return _TangentReads(tangents).visit(stmt)


class _TangentReads(S.CopyingTransformer):
    """A copy with each ``d[p]`` read replaced by the tangent of ``p`` in ``tangents`` (a
    constant None for a zero one)."""

    def __init__(self, tangents):
        self.tangents = tangents

    def visit_Subscript(self, n):
        if _is_d(n) and isinstance(n.ctx, gast.Load):
            t = _tangent_atom(self.tangents.get(n.slice.id)) or S.const(None)
            for sub in S.walk(t):
                set_fact(sub, "resolved", True)  # already a name of the generated code
            return t
        return self.generic_visit(n)


def _name_leaves(node, path):
    """``(name, position)`` for each name in a nested tuple, list or dict display of atoms
    (a position steps by index, or by key: a call's ``**kwargs`` packed as a dict)."""
    if isinstance(node, (gast.Tuple, gast.List)):
        for k, e in enumerate(node.elts):
            yield from _name_leaves(e, path + (k,))
    elif isinstance(node, gast.Dict):
        for key, e in zip(node.keys, node.values):
            step = key.value if isinstance(key, gast.Constant) else key
            yield from _name_leaves(e, path + (step,))
    elif isinstance(node, gast.Name):
        yield node, path


def _tangent_atom(t):
    """A tangent as an expression: None for zero; a tuple of tangents with None items."""
    if t is None:
        return None
    if isinstance(t, (tuple, list)):  # nested for a nested list operand
        items = [_tangent_atom(x) for x in t]
        if all(x is None for x in items):
            return None
        return gast.Tuple(
            elts=[x if x is not None else S.const(None) for x in items], ctx=gast.Load()
        )
    return S.clone(t)


# ------------------------------------------------------------------ static evaluation


def _template_stores(stmt) -> frozenset:
    """The names a statement of a template (or of :func:`_fold`'s copy of one) assigns,
    found once per template statement."""
    if isinstance(stmt, gast.If):  # (a folded copy: its branches folded too)
        test = [n.id for n in S.name_nodes(stmt.test) if isinstance(n.ctx, gast.Store)]
        return frozenset(test).union(*[_template_stores(s) for s in stmt.body + stmt.orelse])
    got = _STORES.get(id(stmt))
    if got is None or got[0] is not stmt:
        names = frozenset(n.id for n in S.name_nodes(stmt) if isinstance(n.ctx, gast.Store))
        got = _STORES[id(stmt)] = (stmt, names)
    return got[1]


#: id of a template statement -> (the statement, the names it assigns)
_STORES: dict = {}


def _fold(stmts, env, known):
    """``stmts`` (a template's, left unchanged) with each ``if`` decided at transform time
    replaced by the branch it takes; an undecided ``if`` is a new node (sharing its test)
    with its branches folded. ``known``: the ranks, and the names surely floating."""
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            is_static = _is_static_call(s.test)
            test = s.test.args[0] if is_static else s.test
            value = _truth(test, env, known)
            if value is UNKNOWN and is_static:
                value = False
            if value is UNKNOWN:
                kept = gast.If.__new__(gast.If)
                kept.__dict__.update(s.__dict__)
                kept.body = _fold(s.body, env, known)
                kept.orelse = _fold(s.orelse, env, known)
                out.append(kept)
            else:
                out.extend(_fold(s.body if value else s.orelse, env, known))
        else:
            out.append(s)
    return out


def _is_static_call(node) -> bool:
    return (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Name)
        and node.func.id == "static"
        and len(node.args) == 1
    )


def _truth(node, env, known):
    v = _value(node, env, known)
    return UNKNOWN if v is UNKNOWN else bool(v)


#: the comparisons a static test may make
_COMPARISONS = {
    gast.Eq: lambda a, b: a == b,
    gast.NotEq: lambda a, b: a != b,
    gast.Lt: lambda a, b: a < b,
    gast.LtE: lambda a, b: a <= b,
    gast.Gt: lambda a, b: a > b,
    gast.GtE: lambda a, b: a >= b,
    gast.Is: lambda a, b: a is b,
    gast.IsNot: lambda a, b: a is not b,
}


def _value(node, env, known):
    """The value of a template's test at transform time, or UNKNOWN."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Name):
        return _name_value(node, env)
    if isinstance(node, gast.BoolOp):
        vals = [_value(v, env, known) for v in node.values]
        if isinstance(node.op, gast.And):
            if any(v is not UNKNOWN and not v for v in vals):
                return False
            return UNKNOWN if UNKNOWN in vals else True
        if any(v is not UNKNOWN and v for v in vals):
            return True
        return UNKNOWN if UNKNOWN in vals else False
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.Not):
        v = _value(node.operand, env, known)
        return UNKNOWN if v is UNKNOWN else not v
    if isinstance(node, gast.Compare) and len(node.ops) == 1:
        left = _value(node.left, env, known)
        right = _value(node.comparators[0], env, known)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        fn = _COMPARISONS.get(type(node.ops[0]))
        return UNKNOWN if fn is None else fn(left, right)
    if isinstance(node, gast.Call):
        return _call_value(node, env, known)
    return UNKNOWN


def _name_value(node, env):
    """A template parameter bound to a constant (or a tuple of constants)."""
    if node.id not in env:
        return UNKNOWN
    atom = env[node.id]
    if isinstance(atom, gast.Constant):
        return atom.value
    if isinstance(atom, gast.Tuple) and all(isinstance(e, gast.Constant) for e in atom.elts):
        return tuple(e.value for e in atom.elts)
    return UNKNOWN


def _call_value(node, env, known):
    """``np.ndim(x)`` where the rank of ``x`` is known; ``basic_index(i)``,
    ``whole_index(i)``; ``floating(x)``
    where ``x`` surely holds floating values (``known``: the ranks and those names)."""
    ranks, floating = known
    if (
        S.dotted(node.func) == "np.ndim"
        and len(node.args) == 1
        and isinstance(node.args[0], gast.Name)
    ):
        atom = env.get(node.args[0].id)
        if isinstance(atom, gast.Constant):
            return np.ndim(atom.value)
        if isinstance(atom, gast.Name):
            r = ranks.get(atom.id)
            return UNKNOWN if r is None else r
        return UNKNOWN
    if (
        isinstance(node.func, gast.Name)
        and node.func.id in ("basic_index", "whole_index")
        and len(node.args) == 1
        and isinstance(node.args[0], gast.Name)
    ):
        index = env.get(node.args[0].id)
        if node.func.id == "whole_index":  # `...`, or `:` (of an array: every row)
            ellipsis = isinstance(index, gast.Constant) and index.value is Ellipsis
            bare = isinstance(index, gast.Slice) and not (index.lower or index.upper or index.step)
            return ellipsis or bare or UNKNOWN
        return _is_basic(index, ranks)
    if (
        isinstance(node.func, gast.Name)
        and node.func.id == "floating"
        and len(node.args) == 1
        and isinstance(node.args[0], gast.Name)
    ):
        atom = env.get(node.args[0].id)
        return isinstance(atom, gast.Name) and atom.id in floating or UNKNOWN
    return UNKNOWN


def _is_basic(index, ranks):
    """Whether an index atom is basic indexing (ints, slices, None, ...): it then selects
    each element at most once."""
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    for item in items:
        if isinstance(item, gast.Slice):
            continue
        if isinstance(item, gast.Constant) and (
            item.value is None or item.value is Ellipsis or type(item.value) is int
        ):
            continue
        if isinstance(item, gast.Name) and ranks.get(item.id) == 0:
            continue  # an integer variable
        return UNKNOWN
    return True


# ------------------------------------------------------------------ substitution


def _has_slice(node) -> bool:
    return isinstance(node, gast.Slice) or (
        isinstance(node, gast.Tuple) and any(isinstance(e, gast.Slice) for e in node.elts)
    )


def _is_d(node):
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == "d"
        and isinstance(node.slice, gast.Name)
    )


def _substitute_stmt(stmt, rule, env, z, dz, renamed, refs):
    if isinstance(stmt, gast.AugAssign) and _is_d(stmt.target):
        param = stmt.target.slice.id
        if param == "__result__":  # forward mode: a contribution to the result's tangent
            value = _substitute_expr(stmt.value, rule, env, z, dz, renamed, refs)
            return [Accum(z, value)]
        if param not in env:
            return []
        value = _substitute_expr(stmt.value, rule, env, z, dz, renamed, refs)
        return [Accum(env[param], value)]
    if isinstance(stmt, gast.If):
        test = _substitute_expr(stmt.test, rule, env, z, dz, renamed, refs)
        body = [x for s in stmt.body for x in _substitute_stmt(s, rule, env, z, dz, renamed, refs)]
        orelse = [
            x for s in stmt.orelse for x in _substitute_stmt(s, rule, env, z, dz, renamed, refs)
        ]
        return [("if", test, body, orelse)]
    if isinstance(stmt, gast.Assign):
        target = stmt.targets[0]
        if not isinstance(target, gast.Name):
            raise SourcegradError(f"rule at {rule.where}: assign only to plain names in templates")
        value = _substitute_expr(stmt.value, rule, env, z, dz, renamed, refs)
        return [S.assign(renamed[target.id], value)]
    raise SourcegradError(f"rule at {rule.where}: unsupported statement in a template")


def _substitute_expr(node, rule, env, z, dz, renamed, refs):
    return _Substitution(rule, env, z, dz, renamed, refs).visit(node)


class _Substitution(S.CopyingTransformer):
    """A template expression of ``rule`` for one operation, made anew (the template is left
    as it is): ``d[result]`` is ``dz``, the result ``z``, each parameter its atom of ``env``,
    each local name its new name of ``renamed``, each global of the template a reference of
    ``refs``."""

    def __init__(self, rule, env, z, dz, renamed, refs):
        self.rule, self.env, self.renamed, self.refs = rule, env, renamed, refs
        self.z, self.dz = z, dz
        self.template_globals = getattr(rule.fn, "__globals__", {})

    def visit_Subscript(self, n):
        if _is_d(n):
            if n.slice.id == self.rule.result:
                return S.clone(self.dz)
            raise SourcegradError(
                f"rule at {self.rule.where}: a template may read only d[{self.rule.result}]"
            )
        index = n.slice
        env = self.env
        if isinstance(index, gast.Name) and index.id in env and _has_slice(env[index.id]):
            m = self.copied(n)
            m.value = self.visit(n.value)
            m.slice = S.clone(env[index.id])  # x[index] with a slice: written as one
            return m
        return self.generic_visit(n)

    def visit_Name(self, n):
        if not isinstance(n.ctx, gast.Load) or get_fact(n, "resolved"):
            return S.clone(n)
        if n.id == self.rule.result:
            return S.clone(self.z)
        env = self.env
        if n.id in env:
            value = env[n.id]
            if _has_slice(value):  # an index used as a value: np.s_[1:, None]
                s_ = gast.Attribute(
                    value=S.name(self.refs.ref(np, "np")), attr="s_", ctx=gast.Load()
                )
                return gast.Subscript(value=s_, slice=S.clone(value), ctx=gast.Load())
            return S.clone(value)
        if n.id in self.renamed:
            return S.name(self.renamed[n.id])
        obj = self.template_globals.get(n.id, getattr(builtins, n.id, UNKNOWN))
        if obj is UNKNOWN:
            raise SourcegradError(
                f"rule at {self.rule.where}: unknown name {n.id!r} in the template"
            )
        if getattr(builtins, n.id, None) is obj:
            return S.clone(n)
        return S.name(self.refs.ref(obj, n.id))
