"""What the reverse pass decides before it writes a sweep: loop invariants to hoist, the
names assigned more than once (candidates for the tape), which names exist before each
statement; and the user's text of a statement, for the comments heading adjoint blocks."""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S
from .forms import Analysis, Op
from .node_facts import get_fact
from .rule_binding import lookup_rule
from .walk import walk_statements, written_names


def hoist_invariants(body, analysis: Analysis) -> None:
    """Move constant computations that a loop repeats (``n = 3 * H`` with ``H`` never assigned
    in the loop) to just before it, so that they are computed once and never taped. Where the
    loop may run no times, what may raise there (``x[3]`` of an array that a later call makes
    shorter, a division) runs only where the loop runs at least once: under ``if n > 0:``
    (the loop's own test), or, for a loop of another form, in the loop as written; what surely
    raises nothing (arithmetic of numbers, an array's shape) is moved unguarded."""
    defs = _definitions(body, analysis)

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
                    out.extend(_guarded(stmt, moved, keep, analysis))
                    stmt.body = keep or [gast.Pass()]
            out.append(stmt)
        return out

    body[:] = visit(body)


def _definitions(body, analysis: Analysis) -> dict:
    """Name -> how many statements assign it (an argument counting once: it has a value)."""
    defs: dict = {p: 1 for p in analysis.core.params}
    for stmt in walk_statements(body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign)):
            for t in written_names(stmt):
                defs[t] = defs.get(t, 0) + 1
    return defs


def share_number_arithmetic(body, analysis: Analysis) -> None:
    """Make a sum, difference or product of numbers that an earlier statement of the same
    block computes from the same names a copy of that statement's name (``v_1 = 2 * C``
    after ``k_1 = 2 * C``, two slices of one array, or loop invariants hoisted from several
    statements: ``v_1 = k_1``, which simplify propagates), where every name involved is
    assigned once and the copy is a temporary's. A number has no identity to share, so
    values are exactly as before."""
    defs = _definitions(body, analysis)
    copy_rule = lookup_rule(analysis.core, "copy")
    seen: dict = {}
    for stmt in body:
        op = analysis.ops.get(id(stmt)) if isinstance(stmt, gast.Assign) else None
        if op is None or op.key not in _NUMBER_ARITHMETIC or not get_fact(stmt, "temp", False):
            continue  # (a temporary's copy is propagated: the statement goes)
        if not _cannot_raise(stmt, analysis):
            continue
        names = {stmt.targets[0].id} | S.names_in(stmt.value) if len(stmt.targets) == 1 else {}
        if not names or any(defs.get(n) != 1 for n in names):
            continue
        key = (op.key, *(_atom_key(a) for a in op.operands))
        first = seen.setdefault(key, stmt.targets[0].id)
        if first != stmt.targets[0].id:
            stmt.value = S.name(first)
            analysis.ops[id(stmt)] = Op("copy", copy_rule, {"x": stmt.value}, [stmt.value])


def _atom_key(atom) -> tuple:
    if isinstance(atom, gast.Name):
        return ("name", atom.id)
    return ("constant", type(atom.value), repr(atom.value))  # -0.0 is not 0.0


def _guarded(loop, moved: list, keep: list, analysis: Analysis) -> list:
    """The statements ``moved`` out of ``loop`` as they run before it: those that may raise
    under the loop's trip test where it may run no times (kept in ``keep``, at the top of
    the loop's body, where it has no test sourcegrad can write)."""
    runs = _trip_test(loop)
    if runs is True:
        return moved
    # (no moved statement reads another's target: that is assigned in the loop)
    free = [sub for sub in moved if _cannot_raise(sub, analysis)]
    tested = [sub for sub in moved if not any(sub is f for f in free)]
    if not tested:
        return free
    if runs is None:
        keep[:0] = tested
        return free
    guard = gast.If(test=runs, body=tested, orelse=[])
    guard.lineno = loop.lineno
    return [*free, guard]


def _trip_test(loop):
    """The test that is true where ``loop`` runs its body at least once (a ``while``'s own
    test, ``n > 0`` for ``range(n)``); True where it surely does; None where it is not a
    ``range`` loop or a ``while``."""
    if isinstance(loop, gast.While):
        return S.clone(loop.test)
    it = loop.iter
    if not (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "range"
        and 1 <= len(it.args) <= 3
        and not it.keywords
    ):
        return None
    args = [S.clone(a) for a in it.args]
    if all(_constant_int(a) is not None for a in args):
        return True if len(range(*(_constant_int(a) for a in args))) else None
    if len(args) == 1:
        args.insert(0, S.const(0))
    step = _constant_int(args[2]) if len(args) == 3 else 1
    if step is None:
        return gast.Compare(
            left=S.call(S.name("len"), [S.call(S.name("range"), args)]),
            ops=[gast.Gt()],
            comparators=[S.const(0)],
        )
    first, last = args[:2] if step > 0 else args[1::-1]
    if isinstance(first, gast.Constant) and first.value == 0:
        return gast.Compare(left=last, ops=[gast.Gt()], comparators=[S.const(0)])
    return gast.Compare(left=first, ops=[gast.Lt()], comparators=[last])


#: operations of numbers that raise nothing whatever numbers they are given
_NUMBER_ARITHMETIC = frozenset({np.add, np.subtract, np.multiply, np.negative, np.positive})
#: what an array (rank 1 or more) surely has
_ARRAY_FACTS = frozenset({"T", "shape", "ndim", "size", "dtype", len})


def _cannot_raise(stmt, analysis: Analysis) -> bool:
    """Whether ``stmt`` surely raises nothing for any arguments of this build's signature:
    sums, differences and products of numbers (rank 0), an array's shape, transpose or
    length, and its slices by constant bounds."""
    op = analysis.ops[id(stmt)]
    ranks = analysis.ranks

    def rank(atom):
        if isinstance(atom, gast.Constant) and type(atom.value) in (int, float):
            return 0
        return ranks.get(atom.id) if isinstance(atom, gast.Name) else None

    if op.key in _NUMBER_ARITHMETIC:
        return bool(op.operands) and all(rank(a) == 0 for a in op.operands)
    if op.key in _ARRAY_FACTS:
        return len(op.operands) == 1 and (rank(op.operands[0]) or 0) >= 1
    value = stmt.value
    if op.key == "getitem" and isinstance(value, gast.Subscript):
        parts = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        return (rank(value.value) or 0) >= len(parts) and all(_constant_slice(p) for p in parts)
    return False


def _constant_slice(part) -> bool:
    """Whether ``part`` is a slice whose bounds are int constants (or absent)."""
    if not isinstance(part, gast.Slice):
        return False
    bounds = (part.lower, part.upper, part.step)
    return all(b is None or _constant_int(b) is not None for b in bounds)


def _constant_int(node) -> int | None:
    """The int ``node`` is (``3``, ``-1``); None where it is anything else."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _constant_int(node.operand)
        return None if inner is None else -inner
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    return None


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
