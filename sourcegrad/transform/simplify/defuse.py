"""What the simplifications ask of statements, and the renamings they share."""

from __future__ import annotations

import gast

from .. import syntax as S
from ..node_facts import fact_attribute, get_fact, set_fact
from ..walk import assigned_names, walk_statements

#: statements with bodies of statements
COMPOUND = (gast.If, gast.For, gast.While)


def is_adjoint(stmt) -> bool:
    """Whether ``stmt`` is a statement the reverse pass made for an adjoint (``sg_adjoint``)."""
    return getattr(stmt, _ADJOINT, False)


_ADJOINT = fact_attribute("adjoint")


def simple_target(stmt):
    """The name ``stmt`` assigns where it is ``name = value``, else None."""
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


def assigns(stmt) -> set:
    """The names ``stmt`` assigns, at any depth."""
    out = set()
    for s in walk_statements([stmt]):
        out |= assigned_names(s)
    return out


def replace_in(stmt, mapping):
    """Replace the names of ``mapping`` (name -> expression) where ``stmt`` reads them, and
    the array a subscript assignment writes into."""
    if isinstance(stmt, COMPOUND):
        if isinstance(stmt, (gast.If, gast.While)):
            stmt.test = S.rename(stmt.test, mapping)
        else:
            stmt.iter = S.rename(stmt.iter, mapping)
        for sub in stmt.body + stmt.orelse:
            replace_in(sub, mapping)
    elif isinstance(stmt, (gast.Assign, gast.Return, gast.Expr)):
        stmt.value = S.rename(stmt.value, mapping)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            stmt.targets[0].slice = S.rename(stmt.targets[0].slice, mapping)
            base = stmt.targets[0].value
            if base.id in mapping:
                stmt.targets[0].value = gast.Name(
                    id=mapping[base.id].id, ctx=gast.Load(), annotation=None, type_comment=None
                )


def replace_everywhere(body, mapping):
    """Replace the names of ``mapping`` where any statement of ``body`` reads them."""
    for stmt in walk_statements(body):
        if isinstance(stmt, gast.Assign):
            replace_in(stmt, mapping)
        elif isinstance(stmt, (gast.If, gast.While)):
            stmt.test = S.rename(stmt.test, mapping)
        elif isinstance(stmt, gast.For):
            stmt.iter = S.rename(stmt.iter, mapping)
        elif isinstance(stmt, (gast.Return, gast.Expr)):
            stmt.value = S.rename(stmt.value, mapping)


def move_comment(body, stmt):
    """Hand a removed statement's block comment to the next statement of its block."""
    i = body.index(stmt)
    if i + 1 < len(body) and is_adjoint(body[i + 1]) and not get_fact(body[i + 1], "comment", None):
        set_fact(body[i + 1], "comment", get_fact(stmt, "comment"))
