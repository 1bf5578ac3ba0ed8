"""Comparison masks (a ReLU's) taken early, so the backward pass keeps masks, not values."""

from __future__ import annotations

import gast

from .. import syntax as S
from ..forms import Derivative
from ..node_facts import get_fact, set_fact
from ..walk import definition_counts


def early_masks(body, der: Derivative, shapes: dict) -> None:
    """A value read, after some point, only to compare it with numbers (``h1_2 > 0.0`` and
    ``h1_2 == 0.0``, the masks of a ReLU's derivative) has each comparison made once, before
    its last other read: the backward pass keeps boolean masks (one byte an element each, at
    most :data:`MASKS_PER_VALUE` of them) instead of the value, and the value's buffer is free
    for the operation that reads it last (the ReLU itself, in place)."""
    counts = definition_counts(body)
    where: dict = {}  # name -> top-level index of its one assignment
    for k, stmt in enumerate(body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            where.setdefault(stmt.targets[0].id, k)
    compares, others = _comparisons(body)
    inserts = []
    for name, found in compares.items():
        k0 = where.get(name)
        last = others.get(name)
        if k0 is None or counts.get(name) != 1 or last is None or last <= k0:
            continue
        forms: dict = {}  # (operator, number) -> the comparisons of that form, in order
        for _, c in found:
            value = c.comparators[0].value
            forms.setdefault((type(c.ops[0]), type(value), value), []).append(c)
        if len(forms) > MASKS_PER_VALUE or min(k for k, _ in found) <= last:
            continue
        for same in forms.values():
            mask = der.refs.names.fresh(name + "_mask")
            c = same[0]
            cmp = gast.Compare(
                left=S.name(name), ops=[c.ops[0]], comparators=[S.clone(c.comparators[0])]
            )
            inserts.append((last, S.assign(mask, cmp)))
            if name in shapes:
                shapes[mask] = shapes[name]
            for node in same:
                set_fact(node, "mask", mask)

    class Replace(S.Transformer):
        def visit_Compare(self, n):
            mask = get_fact(n, "mask", None)
            return S.name(mask) if mask is not None else self.generic_visit(n)

    if inserts:
        Replace().visit(gast.Module(body=body, type_ignores=[]))
        for k, stmt in reversed(sorted(inserts, key=lambda kv: kv[0])):  # (stable: in order)
            body.insert(k, stmt)


def _comparisons(body) -> tuple:
    """``(compares, others)``: name -> ``[(top-level index, Compare node)]`` of its
    comparisons with a number, and name -> the last top-level index of another read."""
    compares: dict = {}
    others: dict = {}
    for k, stmt in enumerate(body):
        masked = set()
        for n in _in_order(stmt):  # masks named in the order the comparisons are written
            if (
                isinstance(n, gast.Compare)
                and len(n.ops) == 1
                and isinstance(n.left, gast.Name)
                and isinstance(n.comparators[0], gast.Constant)
                and isinstance(n.comparators[0].value, (int, float))
            ):
                compares.setdefault(n.left.id, []).append((k, n))
                masked.add(id(n.left))
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in masked:
                others[n.id] = k
    return compares, others


def _in_order(node):
    """The nodes under ``node`` (itself included), each before its children, children in the
    order of their fields (``left`` before ``right``)."""
    yield node
    for child in gast.iter_child_nodes(node):
        yield from _in_order(child)


#: the most masks :func:`early_masks` keeps in place of one value (a ReLU's derivative reads
#: two: ``h > 0.0``, and ``h == 0.0`` where the tie shares the gradient)
MASKS_PER_VALUE = 2
