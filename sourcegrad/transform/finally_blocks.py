"""``try``/``finally`` whose ``finally`` only sets local names (part of normalize).

Entered through :func:`lower_finally_blocks`, which rewrites a user function's syntax tree in
place: a ``try`` without handlers or ``else`` becomes its body followed by its ``finally``
statements, where the body holds no ``return``, ``break``, ``continue`` or ``yield`` (each
would run the ``finally`` statements first) but a ``return v`` ending it (``result = v``,
the ``finally`` statements, then ``return result``: Python evaluates ``v`` first), and the
``finally`` statements only bind local names from NumPy's, ``math``'s and a few builtins'
values (no item or attribute store, no other call). Where the body does not raise, that is
the order Python runs them in; where it raises, the exception leaves the function either
way, and the names the ``finally`` sets die with it. Any other ``try`` is refused where
statements are lowered, with the way out.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .walk import rewrite_blocks

#: builtins a ``finally`` may call (their results are new values; they change nothing)
_PURE_BUILTINS = {"abs", "bool", "float", "int", "len", "max", "min", "round", "sum"}
#: NumPy's functions that write into an argument
_WRITING = {"copyto", "put", "place", "putmask", "fill_diagonal", "put_along_axis"}
_JUMPS = (gast.Return, gast.Break, gast.Continue, gast.Yield, gast.YieldFrom)
_BINDS = (gast.Assign, gast.AugAssign, gast.AnnAssign)


def lower_finally_blocks(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite ``fn`` (not its nested functions) in place per the module's rule."""
    if any(isinstance(n, gast.Try) for n in S.own_scope_nodes(fn)):
        fn.body = _block(fn.body, names)


def _block(stmts: list, names: S.NameGen) -> list:
    return rewrite_blocks(stmts, lambda s: _lowered(s, names))


def _lowered(stmt, names: S.NameGen) -> list:
    if not isinstance(stmt, gast.Try) or stmt.handlers or stmt.orelse:
        return [stmt]
    final = _block(stmt.finalbody, names)
    body, last = stmt.body, stmt.body[-1]
    returned = isinstance(last, gast.Return) and last.value is not None
    if _jumps(body[:-1] if returned else body) or not all(_sets_locals(s) for s in final):
        stmt.finalbody = final
        return [stmt]
    if not returned:
        return body + final
    result = names.fresh("result")
    done = gast.copy_location(gast.Return(value=S.name(result)), last)
    return [*body[:-1], S.assign(result, last.value, last.lineno), *final, done]


def _jumps(stmts: list) -> bool:
    return any(isinstance(n, _JUMPS) for s in stmts for n in S.own_scope_nodes(s))


def _sets_locals(stmt) -> bool:
    """Whether ``stmt`` is ``pass`` or binds plain names from values whose calls change
    nothing."""
    if isinstance(stmt, gast.Pass):
        return True
    if not isinstance(stmt, _BINDS):
        return False
    targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
    if not all(isinstance(t, gast.Name) for t in targets) or stmt.value is None:
        return False
    for n in S.own_scope_nodes(stmt.value):
        if isinstance(n, (gast.NamedExpr, gast.Lambda, *_JUMPS)):
            return False
        if isinstance(n, gast.Call) and not _changes_nothing(n):
            return False
    return True


def _changes_nothing(call) -> bool:
    """Whether ``call`` is one of a NumPy or ``math`` function (not one writing into an
    array or drawing a random number) or of :data:`_PURE_BUILTINS`."""
    if isinstance(call.func, gast.Name):
        return call.func.id in _PURE_BUILTINS
    name = S.dotted(call.func) or ""
    if not (S.calls_module(call) or S.calls_module(call, ("math",))):
        return False
    writes = name.rsplit(".", 1)[-1] in _WRITING or ".random" in name
    return not writes and not any(k.arg == "out" for k in call.keywords)
