"""Dtypes of the names of a derivative, as the example arguments decide them."""

from __future__ import annotations

import builtins
import functools
import types
from dataclasses import dataclass

import gast
import numpy as np

from ...rules.facts import Facts, dtype_rule, facts_of
from ...rules.syntax_keys import METHODS
from ...runtime import NAMESPACE
from ...runtime.facts import helper_facts
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact
from ..quiet import quietly
from ..ranks import follow_path
from ..shapes import (
    ARRAY_BINOPS,
    expression_dtype,
    expression_kind,
)
from ..signatures import parameters
from ..walk import walk_statements


def known_dtypes(der: Derivative, example_args) -> dict:
    """The dtypes of the names of ``der`` that the arguments decide (see :func:`name_dtypes`)."""
    return name_dtypes(der.node, der, example_args, der.refs.name_of(np))


def same_dtype(a, b) -> bool:
    """``a == b`` for dtypes or Python number types, without NumPy's equalities of a dtype
    with None or ``float`` (both equal ``float64`` to NumPy, but None is unknown and a Python
    float is weak in promotion)."""
    if isinstance(a, np.dtype) and isinstance(b, np.dtype):
        return a == b
    return a is not None and a is b


def name_dtypes(node, der: Derivative, example_args, np_name, shapes=None) -> dict:
    """Dtypes of the names the derivative assigns: argument leaves read by path, products,
    ``np.zeros``-like arrays, elementwise expressions of names of known dtype, and other NumPy
    functions of names of known dtype and rank (the analysis's ranks, or those of the
    ``shapes`` where given: name -> shape tuple). A name
    assigned in several places gets a dtype when all its assignments agree (an optimistic
    fixed point, as for shapes); ``x = None`` and ``x = tape.pop()`` do not count."""
    core = der.analysis.core
    ranks = dict(der.analysis.ranks)
    ranks.update((n, len(sh)) for n, sh in (shapes or {}).items() if isinstance(sh, tuple))
    defs = _definitions(node, ranks)
    params = {}
    for p, a in zip(core.params, example_args):
        if type(a) is np.ndarray:
            params[p] = a.dtype
        elif type(a) in (float, int):
            params[p] = type(a)
    for p, dt in params.items():
        defs.setdefault(p, []).insert(0, dt)  # the value on entry

    callees = Callees(np_name, _typed_helpers(der.refs), der.refs)
    ranks.update((a, ranks[v]) for v, a in der.adj_names.items() if v in ranks)  # its value's
    facts = _Facts(callees, _shape_tuples(defs, np_name), ranks, der.refs)

    def of(stmt, dtypes):
        return _assigned_dtype(stmt, dtypes, core, example_args, facts)

    bad: set = set()
    for _ in range(len(defs) + 2):
        dtypes = _resolve(defs, params, bad, of)
        conflict = {
            name
            for name, stmts in defs.items()
            if name not in bad
            and (
                dtypes.get(name) is None
                or not all(same_dtype(of(st, dtypes), dtypes[name]) for st in stmts)
            )
        }
        if not conflict:
            return {k: v for k, v in dtypes.items() if v is not None}
        bad |= conflict
    return {}


def _definitions(node, ranks: dict) -> dict:
    """name -> the statements that assign it (None for one that unpacks into it or stores
    into it, but for an element write into a name ``ranks`` gives a rank: an array's);
    for a list that starts empty and grows by ``append`` alone (``hs = []``,
    ``hs.append(h)``), the appends: its items' dtype is the list's."""
    defs: dict = {}
    appends: dict = {}
    for stmt in walk_statements(node.body):
        if S.appended_list(stmt) is not None and not get_fact(stmt, "tape_pair", None):
            appends.setdefault(S.appended_list(stmt), []).append(stmt)
        if not isinstance(stmt, gast.Assign):
            continue
        if S.is_none(stmt.value) or get_fact(stmt, "tape_pair", None):
            continue
        target = stmt.targets[0]
        if isinstance(target, gast.Name):
            defs.setdefault(target.id, []).append(stmt)
        else:  # a, b = f(..): no dtype for these names, nor for lists stored into
            arrays = [n for n in _stored_into(target) if isinstance(ranks.get(n), int)]
            for n in _bound_names(target) + _stored_into(target):
                if n not in arrays:  # (an array's element write keeps its dtype)
                    defs.setdefault(n, []).append(None)
    for name, grown in appends.items():
        made = defs.get(name, [])
        if made and all(_empty_list(st) for st in made):
            defs[name] = grown
    for name, made in defs.items():  # hs = [], hs = [*hs, h]: the list of h's dtype
        grown = [st for st in made if not _empty_list(st)]
        if grown and len(grown) < len(made) and all(_grown_list(st, name) for st in grown):
            defs[name] = grown
    return defs


def _grown_list(stmt, name: str) -> bool:
    """Whether ``stmt`` is ``name = [*name, e, ...]``."""
    v = stmt.value if isinstance(stmt, gast.Assign) else None
    if not isinstance(v, gast.List) or not v.elts:
        return False
    head = v.elts[0]
    return (
        isinstance(head, gast.Starred)
        and isinstance(head.value, gast.Name)
        and head.value.id == name
        and not any(isinstance(e, gast.Starred) for e in v.elts[1:])
    )


def _empty_list(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign) and isinstance(stmt.value, gast.List) and not stmt.value.elts
    )


def _stored_into(target) -> list:
    """The names whose items or attributes an assignment to ``target`` writes (``xs[k] = v``:
    ``xs``)."""
    return [
        n.value.id
        for n in S.walk(target)
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.value, gast.Name)
    ]


def _bound_names(target) -> list:
    """The names an assignment to ``target`` binds: not those of an item or attribute written
    (``dW[:, k:] = ...`` keeps the array ``dW`` and its dtype, and only reads ``k``)."""
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for elt in target.elts for n in _bound_names(elt)]
    if isinstance(target, gast.Starred):
        return _bound_names(target.value)
    return []


def _resolve(defs: dict, params: dict, bad: set, of) -> dict:
    """One optimistic round: each name not in ``bad`` gets the dtype of its first
    assignment that resolves (``of(stmt, dtypes)``), later names with earlier ones."""
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
    return dtypes


@dataclass(frozen=True)
class Callees:
    """How the derivative reaches the functions whose result dtypes calls are known by:
    ``np_name``, the name of NumPy, ``helpers``, name -> each runtime helper it refers to
    that declares a dtype, and ``refs``, what its other names are (a global, a module's
    attribute)."""

    np_name: str | None
    helpers: dict
    refs: object = None

    def of(self, v):
        """``(key, operands)`` of the call ``v``: a NumPy function (``np.f(a, b)``: its
        arguments), a runtime helper (``sum_to(g, x)``: the same), a function that a global
        name or a module's attribute holds (``F.linear(x, w)``, ``linear_weight_grad(g, x)``:
        the same), an array method (``x.f(a)``: the receiver, then its arguments; its key in
        :data:`~sourcegrad.rules.syntax_keys.METHODS`), else ``(None, [])``."""
        if isinstance(v.func, gast.Name):
            found = self.helpers.get(v.func.id)
            return (found if found is not None else self.named(v.func)), list(v.args)
        if not isinstance(v.func, gast.Attribute):
            return None, []
        receiver, attr, np_name = v.func.value, v.func.attr, self.np_name
        dotted = S.dotted(receiver) if np_name is not None else None
        if dotted == np_name and dotted is not None:
            return getattr(np, attr, None), list(v.args)
        module = self.named(receiver)
        if isinstance(module, types.ModuleType):  # F.linear(x, w): F a module
            return getattr(module, attr, None), list(v.args)
        if attr in METHODS and not (dotted or "").startswith(f"{np_name}."):  # not np.linalg.f
            return METHODS[attr][0], [receiver, *v.args]
        return None, []

    def named(self, e):
        """The object the name or module attribute ``e`` (``F``, ``sg.nn``) holds where the
        derivative reads it as a global (not one of its own variables) or an object
        generated code refers to, else None."""
        refs = self.refs
        if refs is None:
            return None
        if isinstance(e, gast.Attribute):
            inner = self.named(e.value)
            return getattr(inner, e.attr, None) if isinstance(inner, types.ModuleType) else None
        if not isinstance(e, gast.Name) or e.id in refs.local:
            return None
        if e.id in refs.injected:
            return refs.injected[e.id]
        return refs.user_globals.get(e.id)


def _typed_helpers(refs) -> dict:
    """name -> helper, of the runtime helpers ``refs`` names that declare a dtype rule."""
    out = {}
    for fn in NAMESPACE.values():
        facts = helper_facts(fn)
        typed = facts is not None and facts.dtype is not None
        if typed and refs.name_of(fn) is not None:
            out[refs.name_of(fn)] = fn
    return out


@dataclass(frozen=True)
class _Facts:
    """What :func:`_assigned_dtype` reads besides the dtypes found so far: the ``callees``,
    the names that hold an array's shape (``t = x.shape``: ``tuples``) and the ``ranks`` of
    the core's names."""

    callees: Callees
    tuples: frozenset
    ranks: dict
    refs: object  # the derivative's Refs: what a global name is

    def named_dtype(self, e):
        """The dtype a ``dtype=`` argument names (``bool``, ``np.float32``), or None."""
        obj = None
        if isinstance(e, gast.Name) and e.id not in self.refs.local:
            default = getattr(builtins, e.id, None)
            obj = self.refs.user_globals.get(e.id, default)
        elif isinstance(e, gast.Attribute) and S.dotted(e.value) == self.callees.np_name:
            obj = getattr(np, e.attr, None)
        if isinstance(obj, np.dtype):
            return obj
        if any(obj is t for t in (bool, int, float, complex)) or (
            isinstance(obj, type) and issubclass(obj, np.generic)
        ):
            return np.dtype(obj)
        return None  # (never `obj in (...)`: a global may be an array)


def _shape_tuples(defs: dict, np_name) -> frozenset:
    """The names every assignment of which reads an array's shape (``t_1 = x.shape``, as
    normalize writes ``B, T, C = x.shape``): their items are Python ints."""

    def shape_read(stmt):
        v = getattr(stmt, "value", None)
        if isinstance(v, gast.Attribute) and v.attr == "shape":
            return True
        return (
            isinstance(v, gast.Call)
            and isinstance(v.func, gast.Attribute)
            and v.func.attr == "shape"
            and S.dotted(v.func.value) == np_name
        )

    return frozenset(
        name
        for name, stmts in defs.items()
        if all(isinstance(st, gast.Assign) and shape_read(st) for st in stmts)
    )


def _int_value(v, dtypes, facts: _Facts) -> bool:
    """Whether ``v`` is a Python int by forms the stand-ins leave undecided: an item of a
    shape (``t_1[2]``) and the floor division or remainder of two ints (``C // nh``)."""
    if isinstance(v, gast.Subscript):
        key = v.slice
        return (
            isinstance(v.value, gast.Name)
            and v.value.id in facts.tuples
            and isinstance(key, gast.Constant)
            and type(key.value) is int
        )
    if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.FloorDiv, gast.Mod)):
        np_name = facts.callees.np_name
        return all(
            _int_value(x, dtypes, facts) or expression_kind(x, dtypes, np_name) is int
            for x in (v.left, v.right)
        )
    return False


def _assigned_dtype(stmt, dtypes, core, example_args, facts: _Facts):
    """The dtype of the value ``stmt`` assigns, given ``dtypes`` of names, or None."""
    if isinstance(stmt, gast.Expr):  # xs.append(e): the list's items' dtype
        return _kind(stmt.value.args[0], dtypes, facts)
    if stmt is None or not isinstance(stmt, gast.Assign):
        return stmt  # a parameter's dtype, or None
    if _grown_list(stmt, stmt.targets[0].id if isinstance(stmt.targets[0], gast.Name) else ""):
        return _items_kind(stmt.value.elts[1:], dtypes.get(stmt.targets[0].id), dtypes, facts)
    if get_fact(stmt, "path", None):
        leaf = follow_path(core, stmt, example_args)
        if type(leaf) is np.ndarray:
            return leaf.dtype
        return type(leaf) if type(leaf) in (float, int) else None
    return _kind(stmt.value, dtypes, facts)


def _items_kind(items, known, dtypes, facts: _Facts):
    """The one dtype of the ``items`` appended to a list whose items have the dtype ``known``
    so far (None: not known yet), or None where they differ."""
    kinds = [_kind(e, dtypes, facts) for e in items]
    first = kinds[0] if known is None else known
    return first if all(same_dtype(k, first) for k in kinds) else None


def _kind(v, dtypes, facts: _Facts):
    """The dtype of the expression ``v`` (a Python number's type for one), or None: calls by
    their callees' dtype rules, also as operands of arithmetic (``dW + unindex_shaped(..)``),
    the rest by :func:`~sourcegrad.transform.shapes.expression_kind`."""
    if _int_value(v, dtypes, facts):
        return int
    if isinstance(v, gast.Call):
        found = _call_dtype(v, dtypes, facts)
        if found is not _UNDECIDED:
            return found
    elif isinstance(v, gast.BinOp):
        return _binop_kind(v, dtypes, facts)
    elif isinstance(v, gast.UnaryOp) and isinstance(v.op, gast.USub):
        return _kind(v.operand, dtypes, facts)  # a number stays one; an array its dtype
    return expression_kind(v, dtypes, facts.callees.np_name)


def _array_kind(v, dtypes, facts: _Facts):
    """:func:`_kind` of ``v`` where it is a NumPy dtype, else None (a Python number)."""
    found = _kind(v, dtypes, facts)
    return found if isinstance(found, np.dtype) else None


def _binop_kind(v, dtypes, facts: _Facts):
    """:func:`_kind` of an arithmetic operator: NumPy's promotion of its operands' kinds
    (Python numbers weak), on 0-d stand-ins."""
    op = type(v.op)
    kinds = [_kind(x, dtypes, facts) for x in (v.left, v.right)]
    if any(k is None for k in kinds) or (op not in ARRAY_BINOPS and op is not gast.MatMult):
        return None
    numbers = [k is int or k is float for k in kinds]  # (np.dtype(float) == float)
    if all(numbers):  # Python's own arithmetic of numbers
        ints = kinds[0] is int and kinds[1] is int
        if ints and op is gast.Pow:
            return None  # an int, or a float for a negative exponent
        return int if ints and op is not gast.Div else float
    stand_ins = [k(0) if n else np.zeros((), k) for k, n in zip(kinds, numbers)]
    if op is gast.MatMult:
        return np.result_type(*stand_ins)
    try:
        with quietly():
            return ARRAY_BINOPS[op](*stand_ins).dtype
    except TypeError:  # NumPy refuses the dtypes: no dtype
        return None


#: what :func:`_call_dtype` returns for a call whose callee declares no dtype rule it reads
_UNDECIDED = object()


def _call_dtype(v, dtypes, facts: _Facts):
    """The dtype of the call ``v`` (None where unknown), by the ``dtype`` rule
    its callee declares (:func:`sourcegrad.rules.facts.dtype_rule`), or :data:`_UNDECIDED`
    where the callee declares none read here (elementwise functions and reductions: their
    stand-ins in :func:`~sourcegrad.transform.shapes.expression_kind`; other NumPy functions,
    and functions called by name that declare ``"reduced"`` (``F.sigmoid``), evaluated on
    stand-ins of the operands' ranks, :func:`_evaluated_dtype`); ``x.astype(dtype)`` has the
    dtype it names."""
    callees = facts.callees
    key, operands = callees.of(v)
    np_name = callees.np_name
    rule = None if key is None else dtype_rule(key)
    by_rule = _BY_RULE.get(rule)
    if (
        isinstance(key, str) and key == "astype" and (v.args or v.keywords)
    ):  # x.astype(dtype): the dtype named
        given = v.args[0] if v.args else {k.arg: k.value for k in v.keywords}.get("dtype")
        return _named_or_read_dtype(given, dtypes, facts)
    if by_rule is None:
        numpy_function = _numpy_function(v, np_name)
        if rule is None and numpy_function and facts_of(key) != Facts():
            return _evaluated_dtype(key, v, dtypes, facts)
        if rule == "reduced" and not numpy_function and _called_by_name(v, callees):
            return _evaluated_dtype(key, v, dtypes, facts)  # F.sigmoid(x): on a stand-in
        return _UNDECIDED
    given = {k.arg: k.value for k in v.keywords}.get("dtype")
    at = _dtype_position(key)
    if given is None and at is not None and at < len(operands):
        given = operands[at]
    if given is not None:  # dtype=x.dtype, dtype=bool, else not known here
        return _named_or_read_dtype(given, dtypes, facts)
    return by_rule(operands, lambda e: _array_kind(e, dtypes, facts))


def _named_or_read_dtype(given, dtypes, facts: _Facts):
    """The dtype the expression ``given`` names: ``x.dtype`` (``x``'s), ``bool``,
    ``np.float32``; None where not known here."""
    if given is None:
        return None
    if isinstance(given, gast.Attribute) and given.attr == "dtype":
        return expression_dtype(given.value, dtypes, facts.callees.np_name)
    return facts.named_dtype(given)


def _called_by_name(v, callees: Callees) -> bool:
    """Whether the call ``v`` calls a function by a name or a module's attribute, not a
    method of an array (``F.sigmoid(x)``, not ``x.sum()``)."""
    f = v.func
    return isinstance(f, gast.Name) or isinstance(callees.named(f.value), types.ModuleType)


def _numpy_function(v, np_name) -> bool:
    """Whether the call ``v`` is ``np.f(...)`` of a function that is no ufunc."""
    f = v.func
    return (
        isinstance(f, gast.Attribute)
        and np_name is not None
        and S.dotted(f.value) == np_name
        and not isinstance(getattr(np, f.attr, None), np.ufunc)
    )


def _evaluated_dtype(key, v, dtypes, facts: _Facts):
    """The dtype of ``np.f(...)`` (``v``, no declared dtype rule, but other facts declared
    beside its rules: an array function without side effects) found by calling ``f`` on
    one-element stand-ins of its operands: an array of the operand's dtype and rank, a Python
    number of its type, a constant as written; :data:`_UNDECIDED` where an operand has none
    (or ``f`` refuses the stand-ins). NumPy's result dtypes follow from the operands' dtypes
    and ranks, never from their values or lengths."""
    args = [_unit_stand_in(a, dtypes, facts) for a in v.args]
    kwargs = {k.arg: _unit_stand_in(k.value, dtypes, facts) for k in v.keywords}
    if None in kwargs or any(a is _UNDECIDED for a in [*args, *kwargs.values()]):
        return _UNDECIDED  # (None: ``**kw``)
    try:
        with quietly():
            got = key(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a refusal of the stand-ins: the dtype is not known
        return _UNDECIDED
    if isinstance(got, (np.ndarray, np.generic)):
        return got.dtype
    return type(got) if type(got) in (int, float) else _UNDECIDED  # np.size(x): an int


def _unit_stand_in(e, dtypes, facts: _Facts):
    """A one-element value like ``e`` for :func:`_evaluated_dtype`, or :data:`_UNDECIDED`."""
    if isinstance(e, gast.Constant):
        return e.value
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        inner = _unit_stand_in(e.operand, dtypes, facts)
        return -inner if type(inner) in (int, float) else _UNDECIDED
    if isinstance(e, gast.Tuple):
        elts = [_unit_stand_in(x, dtypes, facts) for x in e.elts]
        return _UNDECIDED if any(x is _UNDECIDED for x in elts) else tuple(elts)
    dt = expression_dtype(e, dtypes, facts.callees.np_name)
    rank = _expression_rank(e, facts.ranks)
    if isinstance(dt, np.dtype) and isinstance(rank, int):
        return np.zeros((1,) * rank, dt)
    return _UNDECIDED


def _expression_rank(e, ranks: dict):
    """The rank of a name, or of an elementwise operator's result (``x * 2.0``), or None."""
    if isinstance(e, gast.Name):
        return ranks.get(e.id)
    if isinstance(e, gast.Constant):
        return 0
    if isinstance(e, gast.UnaryOp):
        return _expression_rank(e.operand, ranks)
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a, b = _expression_rank(e.left, ranks), _expression_rank(e.right, ranks)
        return None if a is None or b is None else max(a, b)
    return None


def _promoted(operands, dtype_of):
    """``np.result_type`` of the array operands (``np.stack((a, b))``: of ``a`` and ``b``)."""
    if len(operands) == 1 and isinstance(operands[0], (gast.Tuple, gast.List)):
        operands = operands[0].elts
    parts = [
        dtype_of(a)
        for a in operands
        if not (isinstance(a, gast.Constant) and isinstance(a.value, str))  # einsum's spec
    ]
    return None if not parts or any(p is None for p in parts) else np.result_type(*parts)


#: the declared dtype rules read here, each a function of the operands and a dtype query
_BY_RULE = {
    "promote": _promoted,
    "operand": lambda operands, dtype_of: dtype_of(operands[0]) if operands else None,
    "creation": lambda operands, dtype_of: np.dtype(float),  # no dtype given
}


@functools.cache
def _dtype_position(key):
    """The position of ``key``'s ``dtype`` parameter (``np.zeros(shape, dtype)``: 1), or None
    where its signature has none or is not known (a string key)."""
    params = parameters(key)
    if params is None:
        return None
    names = [name for name, _ in params]
    return names.index("dtype") if "dtype" in names else None
