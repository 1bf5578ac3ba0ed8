"""Statement walks and read/write queries over core-form function bodies.

The floor every pass stands on: which statements a body holds (nested ones included),
which names a statement writes, which names a body reads or changes in place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import gast

from . import syntax as S

#: functions that write into their first argument
WRITES_FIRST = {"copyto", "put", "place", "putmask", "fill_diagonal", "shuffle", "at"}
#: methods that leave their array as it was
READ_METHODS = {
    "reshape", "transpose", "sum", "mean", "max", "min", "prod", "astype", "copy", "dot",
    "ravel", "flatten", "squeeze", "swapaxes", "conj", "conjugate", "var", "std", "all", "any",
    "argmax", "argmin", "clip", "cumsum", "round", "tolist", "item", "view",
}  # fmt: skip


def walk_statements(body) -> Iterator[gast.stmt]:
    """Every statement of ``body`` in source order, those nested in branches and loops too
    (each block read when the walk reaches it, as a nested ``for`` would)."""
    stack: list = [iter(body)]  # one generator, not one per level of nesting
    while stack:
        top = stack[-1]
        if type(top) is tuple:  # (statement,) whose body is done: its else part next
            stack[-1] = iter(getattr(top[0], "orelse", None) or ())
            continue
        for stmt in top:
            yield stmt
            if hasattr(stmt, "body"):
                stack.append((stmt,))
                stack.append(iter(stmt.body or ()))
                break
        else:
            stack.pop()


def written_names(stmt) -> set:
    """Names an assignment (plain or augmented) gives a new value; ``x[k] = v`` gives ``x``
    one."""
    t = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
    if isinstance(t, gast.Subscript):
        return {t.value.id}  # x[k] = v: a new value of x
    if isinstance(t, gast.Name):
        return {t.id}
    return {e.id for e in t.elts}


def assigned_names(stmt) -> set:
    """Names a (simple) statement gives a new value; ``x[k] = v`` gives ``x`` one; empty for
    anything but an ``Assign``."""
    if not isinstance(stmt, gast.Assign):
        return set()
    target = stmt.targets[0]
    if type(target) is gast.Name:
        return {target.id}
    if isinstance(target, gast.Subscript):
        return {target.value.id}
    return {n.id for n in S.name_nodes(target)}


def definition_counts(body) -> dict:
    """How many statements of ``body`` assign each name."""
    counts: dict = {}
    for stmt in walk_statements(body):
        for name in assigned_names(stmt):
            counts[name] = counts.get(name, 0) + 1
    return counts


def read_parts(stmt) -> list:
    """The expressions a statement reads (not the bodies of a compound statement)."""
    if isinstance(stmt, gast.Assign):
        if isinstance(stmt.targets[0], gast.Subscript):
            return [stmt.value, stmt.targets[0].value, stmt.targets[0].slice]
        return [stmt.value]
    if isinstance(stmt, (gast.If, gast.While)):
        return [stmt.test]
    if isinstance(stmt, gast.For):
        return [stmt.iter]
    return [stmt]


def load_counts(body) -> dict:
    """How many times ``body`` reads each name."""
    counts: dict = {}
    for stmt in walk_statements(body):
        for name in statement_reads(stmt)[0]:
            counts[name] = counts.get(name, 0) + 1
    return counts


#: ``reads``: while :func:`remembered_reads` is on in this thread, id(statement) ->
#: ``(statement, names it reads, those names as a set)``
_MEMO = threading.local()


@contextmanager
def remembered_reads():
    """Inside (in this thread), :func:`statement_reads` finds the names a statement reads
    once and keeps them until :func:`forget_reads`: for passes over one body that each say
    whether they changed it (simplify's steps), the caller forgetting after each that did,
    and a pass forgetting a statement it changes in place before it reads others again."""
    outer = getattr(_MEMO, "reads", None)
    _MEMO.reads = {}
    try:
        yield
    finally:
        _MEMO.reads = outer


def forget_reads(stmt=None) -> None:
    """Forget the names kept for ``stmt`` (changed in place), or without it for every
    statement (the body changed)."""
    memo = getattr(_MEMO, "reads", None)
    if memo is not None:
        if stmt is None:
            memo.clear()
        else:
            memo.pop(id(stmt), None)


def statement_reads(stmt) -> tuple[list, set]:
    """The names ``stmt`` reads (in :func:`read_parts`: of a loop or branch its test or
    iterable only), in order with repeats, and as a set; kept while
    :func:`remembered_reads` is on (the caller must not change either)."""
    memo = getattr(_MEMO, "reads", None)
    if memo is not None:
        got = memo.get(id(stmt))
        if got is not None and got[0] is stmt:
            return got[1], got[2]
    names = [
        n.id
        for part in read_parts(stmt)
        for n in S.name_nodes(part)
        if isinstance(n.ctx, gast.Load)
    ]
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        names.insert(0, stmt.target.id)  # `t += v` reads t (of a number: it rebinds t)
    found = set(names)
    if memo is not None:
        memo[id(stmt)] = (stmt, names, found)
    return names, found


_MAY_MUTATE = (gast.Subscript, gast.AugAssign, gast.Call)


def mutated_names(body) -> set:
    """Names that may be changed in place anywhere in ``body``."""
    out = set()
    for n in S.nodes_of(gast.Module(body=body, type_ignores=[]), _MAY_MUTATE):
        if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store):
            out |= {m.id for m in S.name_nodes(n.value)}
        elif isinstance(n, gast.AugAssign):
            out |= {m.id for m in S.name_nodes(n.target)}
        elif isinstance(n, gast.Call):
            for k in n.keywords:
                if k.arg == "out":
                    out |= {m.id for m in S.name_nodes(k.value)}
            f = n.func
            if isinstance(f, gast.Attribute):
                if isinstance(f.value, gast.Name) and f.attr not in READ_METHODS:
                    out.add(f.value.id)  # s.fill(0), k.sort(): the receiver may change
                if f.attr in WRITES_FIRST and n.args:
                    out |= {m.id for m in S.name_nodes(n.args[0])}
    return out


def inside_loop(body, target) -> bool:
    """Whether the statement ``target`` of ``body`` is nested in a ``for`` or ``while``."""

    def visit(stmts, looping):
        for s in stmts:
            if s is target:
                return looping
            inner = looping or isinstance(s, (gast.For, gast.While))
            for attr in ("body", "orelse"):
                found = visit(getattr(s, attr, []) or [], inner)
                if found is not None:
                    return found
        return None

    return bool(visit(body, False))


def statements_in_loops_around(body, target) -> list:
    """The statements of the ``for`` and ``while`` loops of ``body`` that contain the
    statement ``target`` (they may run again after it)."""
    out: list = []

    def visit(stmts) -> bool:
        for s in stmts:
            if s is target:
                return True
            if any(visit(getattr(s, attr, None) or []) for attr in ("body", "orelse")):
                if isinstance(s, (gast.For, gast.While)):
                    out.extend(walk_statements(s.body))
                return True
        return False

    visit(body)
    return out


def rebound_names(stmts) -> set:
    """Names user-level statements give a new value anywhere inside them: assigned names,
    ``x`` of ``x[k] = v``, and ``xs`` of ``xs.append(v)`` and ``xs.pop()``."""
    out = set()
    for s in stmts:
        for n in S.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
            elif (
                isinstance(n, gast.Subscript)
                and isinstance(n.ctx, gast.Store)
                and isinstance(n.value, gast.Name)
            ):
                out.add(n.value.id)
            elif (
                isinstance(n, gast.Call)
                and isinstance(n.func, gast.Attribute)
                and n.func.attr in ("append", "pop")
                and isinstance(n.func.value, gast.Name)
            ):
                out.add(n.func.value.id)  # hs.append(h) gives hs a new value
    return out


def rebound_in_compound(stmts) -> set:
    """:func:`rebound_names` of the if/for/while statements of ``stmts`` (loop variables
    included), and the names a walrus binds inside a comprehension (``ys = [y := f(y) for _
    in range(3)]``: a loop, once lowered, that gives ``y`` a new value on each step)."""
    out = set()
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            out |= rebound_names([s])
        elif S.nodes_of(s, (gast.NamedExpr,)):
            for comp in S.nodes_of(s, _COMPREHENSIONS):
                out |= {
                    n.target.id
                    for n in S.walk(comp)
                    if isinstance(n, gast.NamedExpr) and isinstance(n.target, gast.Name)
                }
    return out


_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def rewrite_blocks(stmts, statement) -> list:
    """``stmts`` with each statement replaced by the list ``statement(s)`` returns for it,
    the blocks nested in branches and loops first (not those of nested functions); a new node
    without a line number gets the line of the statement it replaces."""
    out = []
    for s in stmts:
        for attr in ("body", "orelse"):
            inner = getattr(s, attr, None)
            if inner and not isinstance(s, gast.FunctionDef):
                setattr(s, attr, rewrite_blocks(inner, statement))
        new = statement(s)
        for n in new:
            for sub in S.walk(n):
                if isinstance(sub, (gast.stmt, gast.expr)) and not hasattr(sub, "lineno"):
                    sub.lineno = s.lineno
        out.extend(new)
    return out


class OwnNodes:
    """The nodes of a function's own scope (not of the functions, lambdas and classes it
    defines), each with the place that holds it, children before their parents and siblings
    in source order: the order a ``NodeTransformer`` visits them in. Found by one walk and
    kept for the rewrites that follow while none of them changes the tree; found again after
    one does (:meth:`changed`)."""

    def __init__(self, fn: gast.FunctionDef):
        self.fn = fn
        self._slots: list | None = None

    def changed(self) -> None:
        """The tree changed other than through :meth:`rewrite`: walk it again when asked."""
        self._slots = None

    def _found(self) -> list:
        slots = self._slots
        if slots is not None:
            return slots
        slots, stack, AST, nested = [], [(self.fn, None, None, None)], gast.AST, S.NESTED_SCOPES
        while stack:
            item = stack.pop()
            slots.append(item)
            n = item[0]
            for field in S.walked_fields(type(n)):
                v = getattr(n, field, None)
                if type(v) is list:
                    stack.extend(
                        (x, n, field, k)
                        for k, x in enumerate(v)
                        if isinstance(x, AST) and not isinstance(x, nested)
                    )
                elif isinstance(v, AST) and not isinstance(v, nested):
                    stack.append((v, n, field, None))
        slots.reverse()  # (a walk's reverse: every node after those under it)
        self._slots = slots
        return slots

    def rewrite(self, replace) -> None:
        """Each node ``n``, bottom-up, becomes ``replace(n)`` (a node)."""
        changed = False
        for node, parent, field, k in self._found():
            new = replace(node)
            if new is node or parent is None:
                continue
            if k is None:
                setattr(parent, field, new)
            else:
                getattr(parent, field)[k] = new
            changed = True
        if changed:
            self._slots = None


def listed_dict_keys(fn, name: str):
    """The constant string keys every item of the list ``name`` holds, where ``fn`` binds
    ``name`` once, to a display of dict displays that all have those keys in that order
    (``blocks = [{"w": a, "b": c}, {"w": d, "b": e}]``), and changes it nowhere else (no item
    write, method call or other binding); else None."""
    bound, keys = 0, None
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and any(name in S.names_in(t) for t in node.targets):
            bound += 1
            value = node.value
            if len(node.targets) != 1 or not isinstance(node.targets[0], gast.Name):
                return None
            if not isinstance(value, (gast.List, gast.Tuple)) or not value.elts:
                return None
            found = {repr(_constant_keys(item)) for item in value.elts}
            keys = _constant_keys(value.elts[0])
            if len(found) != 1 or keys is None:
                return None
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign, gast.For, gast.NamedExpr)):
            if name in S.names_in(node.target):
                return None
        elif (
            isinstance(node, gast.Attribute)
            and isinstance(node.value, gast.Name)
            and node.value.id == name
        ):
            return None  # `blocks.append(...)`, any method of the list
        elif isinstance(node, gast.Subscript) and not isinstance(node.ctx, gast.Load):
            if name in S.names_in(node.value):
                return None
    return keys if bound == 1 else None


def _constant_keys(value):
    """The keys of a dict display whose keys are all constant strings, else None."""
    if isinstance(value, gast.Dict) and all(
        isinstance(k, gast.Constant) and type(k.value) is str for k in value.keys
    ):
        return list(dict.fromkeys(k.value for k in value.keys))
    return None


def replace_statement(node, old, new) -> None:
    """Put ``new`` where the statement ``old`` is in ``node``'s body (any nesting of blocks,
    not nested functions)."""
    for body in S.blocks(node.body):
        for i, stmt in enumerate(body):
            if stmt is old:
                body[i] = new
                return


def statement_blocks(body: list) -> Iterator[list]:
    """``body`` and every statement list nested in it (branches, loop bodies and ``else``s,
    ``try`` parts, ``match`` cases), not in nested functions or classes; each list is read as
    it stands when it is reached, so a caller may change a list it was given."""
    yield body
    for stmt in list(body):
        if isinstance(stmt, S.NESTED_SCOPES):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from statement_blocks(inner)
        for part in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]:
            yield from statement_blocks(part.body)
