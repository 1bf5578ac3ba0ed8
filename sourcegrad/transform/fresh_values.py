"""Which values are new objects, sharing memory with no name (``x.copy()``, arithmetic, a
NumPy function that allocates), and where a name was last given one before a line: a link of
the name to another's memory made before that line no longer holds (part of aliasing)."""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S
from .new_value_reads import only_read

#: calls whose result is a new array, never a view of an operand
_FRESH_FUNCTIONS = frozenset(
    {
        "copy", "array", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
        "empty_like", "full_like", "concatenate", "stack", "vstack", "hstack", "dot", "matmul",
        "einsum", "outer", "where", "clip", "cumsum", "cumprod", "sum", "mean", "prod",
    }
)  # fmt: skip


def is_fresh(value) -> bool:
    """Whether ``value`` is always a new object, sharing no memory with any name: arithmetic,
    a constant, a display, ``x.copy()``, a NumPy ufunc or allocating function."""
    if isinstance(value, (gast.BinOp, gast.Constant, gast.List, gast.Tuple, gast.Dict)):
        return True
    if isinstance(value, (gast.ListComp, gast.DictComp, gast.SetComp, gast.Set)):
        return True
    if isinstance(value, gast.UnaryOp):
        return True  # -x, +x and ~x of an array are new arrays; `not x` a bool
    if not isinstance(value, gast.Call) or not isinstance(value.func, gast.Attribute):
        return False
    owner, name = value.func.value, value.func.attr
    if name == "copy":
        return True
    if not (isinstance(owner, gast.Name) and owner.id in ("np", "numpy")):
        return False
    return name in _FRESH_FUNCTIONS or isinstance(getattr(np, name, None), np.ufunc)


_CONTAINERS = (gast.List, gast.Tuple, gast.Dict, gast.Set, gast.ListComp, gast.DictComp)


def fresh_display_items(value) -> set:
    """The constant keys (positions from the start, for a list) at which the list or dict
    display ``value`` holds a new array, no container of other values (:func:`is_fresh`)."""
    if isinstance(value, gast.List) and not any(isinstance(e, gast.Starred) for e in value.elts):
        pairs = list(enumerate(value.elts))  # (`append` moves the positions from the end)
    elif isinstance(value, gast.Dict) and all(isinstance(k, gast.Constant) for k in value.keys):
        pairs = list({k.value: v for k, v in zip(value.keys, value.values)}.items())
    else:
        return set()
    return {k for k, e in pairs if is_fresh(e) and not isinstance(e, _CONTAINERS)}


def fresh_rebinding_line(fn, name: str, line: int) -> int:
    """The line of the last ``name = <a new object>`` that runs on every path to the
    statement at ``line`` (a statement before it in its block, or before a compound statement
    around it, :func:`_is_fresh`), 0 where none: a link of ``name`` to another name's memory
    made before that line no longer holds at ``line``."""
    block, found = fn.body, 0
    while block:
        inner = None
        for stmt in block:
            first, last = _span(stmt)
            if first <= line <= last:
                inner = stmt
                break
            if (
                isinstance(stmt, gast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name)
                and stmt.targets[0].id == name
                and is_fresh(stmt.value)
                and getattr(stmt, "lineno", None) is not None
            ):
                found = stmt.lineno
        if inner is None or not isinstance(inner, (gast.If, gast.For, gast.While)):
            return found
        block = next(
            (
                b
                for b in (inner.body, inner.orelse)
                if b and _span(b[0])[0] <= line <= _span(b[-1])[1]
            ),
            None,
        )
    return found


def rebound_before_read(fn, name: str, line: int) -> bool:
    """Whether, after the statement at ``line``, ``name`` is given a new value (one that does
    not read it) before anything reads it, on every path: a later statement of the innermost
    block holding that line binds it, and the statements in between neither mention it nor
    leave the block early (``break``, ``continue``, ``return``, ``raise``). A link of ``name``
    to another name's memory is then dead at the statement at ``line`` (``keys =
    cache_k[:t + 1]`` made at the end of a loop's body, the write into ``cache_k`` at its start).
    False where a function nested in ``fn`` mentions ``name`` (it may read it at any time)."""
    if name in S.captured_names(fn):
        return False
    block, index = fn.body, None
    while block:
        index = next((i for i, s in enumerate(block) if _span(s)[0] <= line <= _span(s)[1]), None)
        if index is None or not isinstance(block[index], (gast.If, gast.For, gast.While)):
            break
        inner = block[index]
        if _span(inner)[0] == line:
            return False  # the write is the test or the loop's header
        block = next((b for b in (inner.body, inner.orelse) if b and _contains(b, line)), None)
    if not block or index is None or hasattr(block[index], "body"):
        return False  # (a `with` holding the write: the rest of its body is not looked at)
    for stmt in block[index + 1 :]:
        if any(isinstance(n, _LEAVING) for n in S.walk(stmt)):
            return False
        if _span(stmt)[0] <= line:  # (the write's line: its statements may run before it)
            if name in S.names_in(stmt):
                return False
            continue
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            bound = [target] if isinstance(target, gast.Name) else getattr(target, "elts", [])
            if name in {getattr(t, "id", None) for t in bound} and all(
                isinstance(t, gast.Name) for t in bound
            ):
                return name not in S.names_in(stmt.value)
        if name in S.names_in(stmt):
            return False
    return False


#: statements that leave a block before its end
_LEAVING = (gast.Break, gast.Continue, gast.Return, gast.Raise)


def _contains(block, line: int) -> bool:
    return _span(block[0])[0] <= line <= _span(block[-1])[1]


def _span(stmt) -> tuple:
    """The first and last line of ``stmt``, from the nodes in it that have lines (statements
    the passes made, such as the guard of an early return, have none of their own)."""
    lines = [
        (n.lineno, getattr(n, "end_lineno", None) or n.lineno)
        for n in S.walk(stmt)
        if getattr(n, "lineno", None) is not None
    ]
    if not lines:
        return (0, -1)
    return min(a for a, _ in lines), max(b for _, b in lines)


def link_dropped(fn, other: str, line: int, write: int) -> bool:
    """Whether ``other``, bound at ``line`` to a name's memory (``h = x``), holds a new object
    at the statement at ``write`` instead: it is given one on every path between
    (:func:`fresh_rebinding_line`), and read in between only into new values (``h = np.sin(h @
    W)``, ``h = layer(h * 1.0)``, a test: :func:`~.new_value_reads.only_read`) that keep no
    reference to it, so no other name took the link on."""
    fresh = fresh_rebinding_line(fn, other, write)
    if not line < fresh < write or other in S.captured_names(fn):
        return False
    bindings = [
        s
        for s in S.nodes_of(fn, (gast.Assign,))
        if getattr(s, "lineno", None) == line and [S.text(t) for t in s.targets] == [other]
    ]
    if not bindings:
        return False  # (the link is no binding of `other` itself: `keep = [x]`)
    for stmt in S.walk(fn):
        if not isinstance(stmt, gast.stmt) or not line < getattr(stmt, "lineno", 0) <= fresh:
            continue
        for part in _read_parts(stmt):
            if other in S.names_in(part) and not only_read(gast.Expr(value=part), {other}):
                return False
    return True


def _read_parts(stmt) -> list:
    """The expressions ``stmt`` itself reads (not those of the statements nested in it)."""
    if isinstance(stmt, (gast.If, gast.While)):
        return [stmt.test]
    if isinstance(stmt, gast.For):
        return [stmt.iter]
    if isinstance(stmt, gast.Assign):
        return [stmt.value, *(t for t in stmt.targets if not isinstance(t, gast.Name))]
    if isinstance(stmt, gast.AugAssign):
        return [stmt.value, stmt.target]
    return [n for n in gast.iter_child_nodes(stmt) if isinstance(n, gast.expr)]


_NUMBER_MAKERS = (gast.Constant, gast.BinOp, gast.UnaryOp)  # (never a 0-d array)
_READING_METHODS = frozenset({"get", "copy", "keys", "values", "items"})


def number_item(fn, name: str, key) -> bool:
    """Whether every value ``fn`` puts at ``name[key]`` is a number or an operator's result
    (a constant, ``a + b``, ``-a``: never a 0-d array, which an update changes in place):
    ``name`` is no parameter, bound only to dict displays (or its own ``.copy()``), written
    only by constant keys, and given no items by a method."""
    if name in {a.id for a in fn.args.args + fn.args.kwonlyargs} or key is None:
        return False
    for node in S.walk(fn):
        if isinstance(node, (gast.For, gast.AugAssign, gast.NamedExpr, gast.With)):
            if name in S.names_in(getattr(node, "target", None) or node):
                if not isinstance(node, gast.AugAssign) or isinstance(node.target, gast.Name):
                    return False
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute):
            owner = node.func.value
            if getattr(owner, "id", None) == name and node.func.attr not in _READING_METHODS:
                return False
        if isinstance(node, gast.Assign) and not all(_numbers_at(t, node.value, name, key)
                                                     for t in node.targets):  # fmt: skip
            return False
    return True


def _numbers_at(target, value, name: str, key) -> bool:
    if isinstance(target, gast.Name):
        if target.id != name:
            return True
        if isinstance(value, gast.Dict) and None not in value.keys:
            at = [v for k, v in zip(value.keys, value.values) if getattr(k, "value", k) == key]
            return all(isinstance(v, _NUMBER_MAKERS) for v in at)
        return S.dotted(getattr(value, "func", None)) == f"{name}.copy" and not value.args
    if isinstance(target, gast.Subscript) and getattr(target.value, "id", None) == name:
        if not isinstance(target.slice, gast.Constant):
            return False
        return target.slice.value != key or isinstance(value, _NUMBER_MAKERS)
    return name not in S.names_in(target)
