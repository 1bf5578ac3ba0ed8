"""Nested functions whose captured variables change after they are called (part of the
analysis pass, reverse mode).

The adjoint of a call ``f(x)`` of a nested function or lambda differentiates ``f`` when the
adjoint sweep runs, after the whole forward sweep: ``f`` then reads the variables it
captures as they are at that time. That is the value the call saw only if nothing assigns
the variable after the call, or in a loop around it (a loop's own counter excepted: the
adjoint's loop runs over the same counter). :func:`refuse_changed_captures` refuses the
others, with the way out: pass the value as a default argument.
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from .calls import free_names
from .walk import statements_in_loops_around, walk_statements, written_names


def refuse_changed_captures(core, ops: dict) -> None:
    """Refuse a reverse-mode call of a nested function that captures a variable assigned
    after the call or in a loop around it (see the module docstring)."""
    if core.forward:
        return
    order = list(walk_statements(core.node.body))
    for i, stmt in enumerate(order):
        op = ops.get(id(stmt))
        func = op.operands[0] if op is not None and op.key == "dynamic" and op.operands else None
        if not isinstance(func, gast.Name):
            continue
        captured = free_names(core, func.id) - {func.id}
        if not captured:
            continue
        around = statements_in_loops_around(core.node.body, stmt)
        changed = _assigned(order[i + 1 :] + around) - _counters_around(around, stmt)
        hit = sorted(captured & changed)
        if hit:
            raise UnsupportedSyntaxError(
                f"`{func.id}` reads `{hit[0]}` from the enclosing function, and `{hit[0]}` "
                "changes after this call: its derivative would see the later value; pass "
                f"the value to it as an argument (`{func.id}(..., {hit[0]})`)",
                core.parsed.filename,
                stmt.lineno,
            )


def _assigned(stmts) -> set:
    out = set()
    for stmt in stmts:
        if isinstance(stmt, gast.Assign):
            out |= written_names(stmt)
        elif isinstance(stmt, gast.For):
            out |= {n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)}
    return out


def _counters_around(around, target) -> set:
    """The counters of the loops around ``target``: the adjoint's loops run over them too,
    so they hold the value of the call's iteration again when its adjoint runs."""
    return {
        n.id
        for s in around
        if isinstance(s, gast.For) and any(t is target for t in walk_statements(s.body))
        for n in gast.walk(s.target)
        if isinstance(n, gast.Name)
    }
