"""Adjoints that stay finite in the entries ``np.where`` does not take from a branch (part of
the analysis pass, reverse mode).

``np.where(x > 0, np.sqrt(x), 0.0)`` computes ``sqrt`` everywhere, as NumPy does. The where's
adjoint gives the branch a seed that is exactly zero where the branch is not taken, but
``sqrt``'s own derivative is infinite at ``x <= 0``, and ``0 * inf`` is NaN: a NaN gradient
where the function's derivative is zero. The operations that make a branch and nothing else
(each result read once, by the next of them) therefore take their adjoint as
``np.where(d[z] == 0, 0.0, <contribution>)`` where their derivative can be infinite (``log``,
``sqrt``, division, powers, ``arcsin``, ...): a zero seed contributes zero, in any entry.
Forward mode needs nothing: the where's tangent rule selects the branch's tangent, so the
non-finite entries never reach the result.
"""

from __future__ import annotations

import dataclasses

import gast
import numpy as np

from .. import rules as R
from ..runtime.helpers import sum_to
from . import syntax as S
from .walk import walk_statements

#: functions whose derivative is infinite (or NaN) at finite arguments
UNBOUNDED_DERIVATIVES = frozenset(
    {np.log, np.log2, np.log10, np.log1p, np.sqrt, np.cbrt, np.reciprocal, np.arcsin,
     np.arccos, np.arccosh, np.arctanh, np.true_divide, np.divide, np.power, np.float_power}
)  # fmt: skip

_MASKED: dict = {}  # id(rule) -> (rule, its masked form)


def mask_where_branches(core, ops: dict, ranks: dict) -> None:
    """Give every operation with an unbounded derivative that makes a branch of an
    ``np.where`` (alone) the masked form of its rule (see the module docstring): a division
    by an array, a power whose exponent is not a whole number from 1 up, or a function of
    :data:`UNBOUNDED_DERIVATIVES` of one argument (``ranks``: the names' ranks)."""
    wheres = [
        op
        for op in (ops.get(id(stmt)) for stmt in walk_statements(core.node.body))
        if op is not None and op.key is np.where and len(op.operands) == 3
    ]
    if not wheres:
        return
    uses, defs = _uses_and_definitions(core.node.body)
    seen: set = set()
    for op in wheres:
        todo = [a.id for a in op.operands[1:] if isinstance(a, gast.Name)]
        while todo:
            name = todo.pop()
            if name in seen or uses.get(name) != 1 or len(defs.get(name, ())) != 1:
                continue
            seen.add(name)
            made_by = ops.get(id(defs[name][0]))
            if made_by is None or not isinstance(made_by.rule, R.Rule):
                continue
            if _unbounded(made_by, ranks):
                made_by.rule = masked_rule(made_by.rule)
            todo.extend(a.id for a in made_by.operands if isinstance(a, gast.Name))


def _unbounded(op, ranks: dict) -> bool:
    """Whether the derivative of ``op`` may be infinite in some entries and not others."""
    try:
        if op.key not in UNBOUNDED_DERIVATIVES:
            return False
    except TypeError:  # an unhashable key
        return False
    if len(op.operands) != 2:
        return True
    second = op.operands[1]
    if op.key in (np.true_divide, np.divide):
        return not (
            isinstance(second, gast.Constant) or ranks.get(getattr(second, "id", None)) == 0
        )
    if isinstance(second, gast.Constant):  # x ** 2, x ** 3: bounded where x is
        value = second.value
        return not (isinstance(value, (int, float)) and value >= 1 and float(value).is_integer())
    return True


def masked_rule(rule):
    """``rule`` with each contribution ``d[x] += e`` made ``np.where(d[z] == 0, 0.0, e)``
    (inside ``sum_to``, so that the mask has the result's shape)."""
    found = _MASKED.get(id(rule))
    if found is None:
        body = S.clone(rule.body)
        for node in (n for stmt in body for n in S.walk(stmt)):
            if isinstance(node, gast.AugAssign) and _is_adjoint(node.target):
                node.value = _masked(node.value, rule.result)
        found = _MASKED[id(rule)] = (rule, dataclasses.replace(rule, body=body))
    return found[1]


def _is_adjoint(node) -> bool:
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == "d"
    )


def _masked(value, result: str):
    if isinstance(value, gast.Call) and getattr(value.func, "id", None) == sum_to.__name__:
        value.args[0] = _where_seed_is_zero(value.args[0], result)
        return value
    return _where_seed_is_zero(value, result)


def _where_seed_is_zero(value, result: str):
    seed = gast.Subscript(value=S.name("d"), slice=S.name(result), ctx=gast.Load())
    zero = gast.Compare(left=seed, ops=[gast.Eq()], comparators=[S.const(0)])
    where = gast.Attribute(value=S.name("np"), attr="where", ctx=gast.Load())
    return S.call(where, [zero, S.const(0.0), value])


def _uses_and_definitions(body) -> tuple:
    """``({name: how many times it is read}, {name: the statements assigning it})``."""
    uses: dict = {}
    defs: dict = {}
    for stmt in walk_statements(body):
        if isinstance(stmt, (gast.If, gast.While)):
            read = [stmt.test]
        elif isinstance(stmt, gast.For):
            read = [stmt.iter]
            for n in S.walk(stmt.target):
                if isinstance(n, gast.Name):
                    defs.setdefault(n.id, []).extend([stmt, stmt])  # never a single def
        else:
            read = [stmt]
        for part in read:
            for n in S.walk(part):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Store):
                    uses[n.id] = uses.get(n.id, 0) + 1
                elif isinstance(n, gast.Name):
                    defs.setdefault(n.id, []).append(stmt)
    return uses, defs
