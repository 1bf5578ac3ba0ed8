"""What the reverse pass decides before it writes a sweep: loop invariants to hoist, the
names assigned more than once (candidates for the tape), which names exist before each
statement; and the user's text of a statement, for the comments heading adjoint blocks."""

from __future__ import annotations

import gast

from . import syntax as S
from .forms import Analysis
from .walk import walk_statements, written_names


def hoist_invariants(body, analysis: Analysis) -> None:
    """Move constant computations that a loop repeats (``n = 3 * H`` with ``H`` never assigned
    in the loop) to just before it, so that they are computed once and never taped."""
    defs: dict = {p: 1 for p in analysis.core.params}  # an argument has a value already
    for stmt in walk_statements(body):
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
                        and not (S.names_in(sub.value) & changed)
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


def _assigned_in_loop(loop) -> set:
    out = {n.id for n in S.name_nodes(loop.target)} if isinstance(loop, gast.For) else set()
    for stmt in walk_statements(loop.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            out |= written_names(stmt)
        elif isinstance(stmt, gast.FunctionDef):
            out.add(stmt.name)  # a `def` in the loop makes a new function each time
    return out


def overwritable(stmts, params) -> set:
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


def existence(stmts, params):
    """For each statement, the names that may hold a value before it runs; and, for each
    top-level if/for/while, the names it assigns that may not exist before it (the forward
    sweep gives them a value first, so that saving the old value is always possible)."""
    exists: dict = {}
    inits: dict = {}
    known = set(params)
    sure = set(params)  # names certainly assigned on every path so far
    definite: dict = {}

    def assigned(block):
        return {
            t
            for s in walk_statements(block)
            if isinstance(s, gast.Assign)
            for t in written_names(s)
        }

    def visit(block, looping):
        for stmt in block:
            if isinstance(stmt, (gast.For, gast.While)):
                inner = assigned(stmt.body)
                if isinstance(stmt, gast.For):
                    inner |= {n.id for n in S.name_nodes(stmt.target)}
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


def parts_node(parts):
    """The gradient's parts ``[(keys, adjoint)]`` as ``gradient_like`` takes them."""
    if len(parts) == 1 and parts[0][0] == ():
        return parts[0][1]
    keys = [gast.Tuple(elts=[S.const(k) for k in keys], ctx=gast.Load()) for keys, _ in parts]
    return gast.Dict(keys=keys, values=[v for _, v in parts])


def statement_text(parsed, stmt) -> str:
    """The user's source of the statement ``stmt`` was lowered from (a compound statement's
    first line)."""
    node = None
    for user_stmt in walk_statements(parsed.node.body):
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
