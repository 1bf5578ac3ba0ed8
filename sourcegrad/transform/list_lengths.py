"""The lengths of the lists a function builds, where every call of one build gives them the
same length (read by the normalize pass's path reads: a list spliced into a call, a loop over
a list of known length)."""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S
from .parse import resolve

#: what :meth:`.PathReads.example_value` returns for a value it cannot tell
UNKNOWN = object()


def constant_int(node):
    """The int a slice bound is (None for an absent one); :data:`UNKNOWN` for anything else."""
    if node is None:
        return None
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        value = constant_int(node.operand)
        return UNKNOWN if value is UNKNOWN or value is None else -value
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    return UNKNOWN


class ListLengths:
    """The lengths of the lists a function builds, where they are fixed when the derivative
    is built: a name maps to its length (an int) or to why it is not known (a str). Follows the
    function's statements in order: displays, comprehensions without ``if`` over an iterable
    of known length, ``append`` (directly, or in ``for`` loops of a known number of steps),
    constant slices and copies; anything else makes a name's length unknown, saying why."""

    def __init__(self, reads):
        """``reads``: the path reads (:class:`.PathReads`) of the function being lowered."""
        self.reads = reads

    def at(self, name: str, line: int):
        """``name``'s length where the top-level statement holding ``line`` runs."""
        if name in _shared_names(self.reads.fn):
            return "a nested function or a call of a function may change it"
        state: dict = {}
        for stmt in self.reads.fn.body:
            if stmt.lineno <= line <= _end_line(stmt):
                if isinstance(stmt, (gast.For, gast.While, gast.If)) and name in _changed(
                    stmt.body + stmt.orelse
                ):
                    return "it changes in the loop or branch around this call"
                break
            self.step(stmt, state)
        return state.get(name, "it is not bound to a list before this call")

    def step(self, stmt, state: dict) -> None:
        """``state`` after ``stmt`` runs (once)."""
        if isinstance(stmt, gast.Assign):
            for t in stmt.targets:
                if isinstance(t, gast.Name):
                    state[t.id] = self.of(stmt.value, state)
                else:
                    for n in _stored_names(t):
                        state[n] = "it is bound by unpacking or an item write"
        elif S.appended_list(stmt) is not None:
            name = S.appended_list(stmt)
            if isinstance(state.get(name), int):
                state[name] += 1
        elif isinstance(stmt, gast.For):
            self.loop(stmt, state)
        elif isinstance(stmt, gast.If):
            branches = []
            for body in (stmt.body, stmt.orelse):
                inner = dict(state)
                for s in body:
                    self.step(s, inner)
                branches.append(inner)
            for name in _changed(stmt.body + stmt.orelse):
                a, b = (br.get(name) for br in branches)
                state[name] = a if a == b else "its length depends on an `if`"
        else:
            why = (
                "it changes in a `while` loop"
                if isinstance(stmt, gast.While)
                else "a statement changes it that sourcegrad does not follow"
            )
            for name in _changed([stmt]):
                state[name] = why

    def loop(self, stmt, state: dict) -> None:
        changed = _changed(stmt.body)
        steps = self.steps(stmt.iter, state, changed)
        for name in changed:
            grows = _growth(stmt.body, name, lambda it: self.steps(it, state, changed))
            if isinstance(steps, str):
                state[name] = f"it changes in a loop whose number of steps {steps}"
            elif grows is None:
                state[name] = "a loop changes it other than by `append`"
            elif isinstance(state.get(name), int):
                state[name] += grows * steps

    def steps(self, it, state: dict, changed=frozenset()):
        """How many items ``it`` yields (an int), or why it is not known (a str)."""
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and not it.keywords:
            f, args = it.func.id, it.args
            if f == "range" and 1 <= len(args) <= 3:
                bounds = [self.integer(a, state, changed) for a in args]
                if all(isinstance(b, int) for b in bounds):
                    return len(range(*bounds))
                return "is not a constant `range`"
            if f in ("zip", "enumerate") and args:
                parts = [self.steps(a, state, changed) for a in args[: 1 if f != "zip" else None]]
                known = [p for p in parts if isinstance(p, int)]
                return min(known) if len(known) == len(parts) else parts[0]
            if f in ("list", "tuple", "reversed") and len(args) == 1:
                return self.steps(args[0], state, changed)
        if isinstance(it, gast.Call) and len(it.args) >= 2 and self.splits(it.func):
            sections = self.integer(it.args[1], state, changed)  # np.split(x, 3): 3 parts
            if isinstance(sections, int):
                return sections
        if isinstance(it, gast.Name) and it.id in changed:
            return "changes in the loop"
        got = self.of(it, state)
        return got if isinstance(got, int) else "is not known when the derivative is built"

    def splits(self, func) -> bool:
        """Whether ``func`` is NumPy's ``split`` or a relative, which makes as many parts as
        an int second argument says."""
        fn = resolve(self.reads.p, func, self.reads.local_names)
        return any(fn is f for f in (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit))

    def integer(self, e, state: dict, changed):
        if isinstance(e, gast.Constant) and type(e.value) is int:
            return e.value
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            inner = self.integer(e.operand, state, changed)
            return -inner if isinstance(inner, int) else None
        if (
            isinstance(e, gast.Call)
            and getattr(e.func, "id", None) == "len"
            and len(e.args) == 1
            and not e.keywords
        ):
            got = self.steps(e.args[0], state, changed)
            return got if isinstance(got, int) else None
        return None

    def of(self, e, state: dict):
        """The length of the list or tuple ``e`` makes, or why it is not known."""
        if isinstance(e, (gast.List, gast.Tuple)):
            total = 0
            for x in e.elts:
                got = self.steps(x.value, state) if isinstance(x, gast.Starred) else 1
                if isinstance(got, str):
                    return f"`*{S.text(x.value)}` in its display {got}"
                total += got
            return total
        if isinstance(e, (gast.ListComp, gast.GeneratorExp)):
            if any(g.ifs for g in e.generators):
                return "it is a comprehension with an `if`"
            total = 1
            for g in e.generators:
                got = self.steps(g.iter, state)
                if isinstance(got, str):
                    return f"its comprehension's `{S.text(g.iter)}` {got}"
                total *= got
            return total
        if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Slice):
            inner = self.of(e.value, state)
            bounds = [constant_int(x) for x in (e.slice.lower, e.slice.upper, e.slice.step)]
            if isinstance(inner, int) and UNKNOWN not in bounds:
                return len(range(inner)[slice(*bounds)])
            return "it is a slice sourcegrad cannot size"
        if isinstance(e, gast.Name) and e.id in state:
            return state[e.id]
        if isinstance(e, gast.Call) and _copies_or_splits(e, self.splits):
            got = self.steps(e.args[0], state) if len(e.args) == 1 else None
            if len(e.args) >= 2:  # np.split(x, 3, axis=-1): 3 parts
                got = self.integer(e.args[1], state, frozenset())
            if isinstance(got, int):
                return got
        known = self.reads.example_value(e)
        if isinstance(known, (list, tuple)):
            return len(known)
        return "it is not a display, a comprehension or a copy of a list of known length"


def _copies_or_splits(call, splits) -> bool:
    """``list(xs)``/``tuple(xs)`` (as long as ``xs``) or NumPy's ``split`` and relatives."""
    if isinstance(call.func, gast.Name) and call.func.id in ("list", "tuple"):
        return len(call.args) == 1 and not call.keywords
    return len(call.args) >= 2 and splits(call.func)


def _shared_names(fn) -> set:
    """Names a nested function or lambda of ``fn`` reads, and names handed bare to a call
    other than ``len``/``range``/``zip``/``enumerate`` or NumPy's (which may change a list)."""
    names = set()
    for node in S.walk(fn):
        if node is not fn and isinstance(node, (gast.FunctionDef, gast.Lambda)):
            names |= {n.id for n in S.name_nodes(node)}
        elif isinstance(node, gast.Call) and not _keeps_lists(node.func):
            parts = [*node.args, *(k.value for k in node.keywords)]
            names |= {a.id for a in parts if isinstance(a, gast.Name)}
    return names


def _keeps_lists(func) -> bool:
    if isinstance(func, gast.Name):
        return func.id in ("len", "range", "zip", "enumerate", "list", "tuple", "reversed")
    return S.dotted(func) is not None and S.dotted(func).split(".")[0] in ("np", "numpy")


def _end_line(stmt) -> int:
    return max(
        (getattr(n, "end_lineno", None) or getattr(n, "lineno", 0) or 0) for n in S.walk(stmt)
    )


def _stored_names(target) -> list:
    return [n.id for n in S.walk(target) if isinstance(n, gast.Name)]


def _changed(body) -> set:
    """Names that ``body`` binds, writes into or calls a method of (``xs.append``)."""
    names = set()
    for stmt in body:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                names.add(n.id)
            elif isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name):
                if isinstance(n.ctx, gast.Load) and n.attr in _LIST_METHODS:
                    names.add(n.value.id)
            elif isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
                if isinstance(n.ctx, (gast.Store, gast.Del)):
                    names.add(n.value.id)
    return names


_LIST_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"}
)


def _growth(body, name: str, steps):
    """How many items one run of ``body`` appends to ``name``: unconditional ``append``s and
    those of nested ``for`` loops of a known number of steps; None where ``body`` changes
    ``name`` any other way."""
    total = 0
    for stmt in body:
        if name not in _changed([stmt]):
            continue
        if S.appended_list(stmt) == name:
            total += 1
        elif isinstance(stmt, gast.For) and name not in _stored_names(stmt.target):
            inner, count = _growth(stmt.body, name, steps), steps(stmt.iter)
            if inner is None or not isinstance(count, int) or stmt.orelse:
                return None
            total += inner * count
        else:
            return None
    return total
