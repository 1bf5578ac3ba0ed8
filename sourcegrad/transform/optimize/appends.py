"""Lists grown in loops grow in place: the core form grows a list by making a new one,
``hs = [*hs, h]`` (every value assigned once, so the adjoint may read any of them), which
copies the list at every step of a loop: quadratic in the number of steps. Where nothing but
the list's own name can reach the list it replaces, the running code appends instead:
``hs.append(h)``.

Nothing else reaches the list where every assignment to the name makes a new list (a display)
or grows it (``[*hs, x]``), and every other read of the name only looks at it: ``len(hs)``,
``hs[i]``, a NumPy function (``np.stack(hs)``), a runtime helper that builds a new value from
it. A read that could keep it (a plain copy, a tape entry, a container, any other call, a
return) keeps the copying form.
"""

from __future__ import annotations

import gast

from ...runtime.helpers import shape_of, unindex
from ...runtime.trees import zero_adjoint
from .. import syntax as S
from ..forms import Derivative


def grow_in_place(node: gast.FunctionDef, der: Derivative, np_name: str | None) -> None:
    """Rewrite ``hs = [*hs, x]`` as ``hs.append(x)`` for every name ``hs`` whose list
    nothing else can reach (see the module docstring)."""
    lookers = der.refs.names_of([zero_adjoint, unindex, shape_of]) | {"len"}
    params = {a.id for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
    grown = _grown(node)
    for name in sorted(set(grown) - params):
        if _only_looked_at(node, name, lookers, np_name):
            for stmt in grown[name]:
                append = gast.Attribute(S.name(name), "append", gast.Load())
                new = gast.Expr(value=S.call(append, [stmt.value.elts[1]]))
                _replace(node, stmt, gast.copy_location(new, stmt))


def _grown(node) -> dict:
    """``{name: [statements hs = [*hs, x]]}`` for the names every assignment of which is a
    list display or such a growth."""
    grown: dict = {}
    other: set = set()
    for stmt in S.walk(node):
        if isinstance(stmt, (gast.AugAssign, gast.AnnAssign)):
            other |= {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
        elif isinstance(stmt, gast.For):
            other |= {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
        elif isinstance(stmt, gast.Assign):
            target = stmt.targets[0]
            if len(stmt.targets) != 1 or not isinstance(target, gast.Name):
                other |= {n.id for t in stmt.targets for n in S.walk(t) if isinstance(n, gast.Name)}
            elif _is_growth(stmt.value, target.id):
                grown.setdefault(target.id, []).append(stmt)
            elif not _is_new_list(stmt.value):
                other.add(target.id)
        elif isinstance(stmt, (gast.comprehension, gast.NamedExpr)):
            other |= {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
    return {name: stmts for name, stmts in grown.items() if name not in other}


def _is_growth(value, name: str) -> bool:
    return (
        isinstance(value, gast.List)
        and len(value.elts) == 2
        and isinstance(value.elts[0], gast.Starred)
        and isinstance(value.elts[0].value, gast.Name)
        and value.elts[0].value.id == name
        and not isinstance(value.elts[1], gast.Starred)
    )


def _is_new_list(value) -> bool:
    return isinstance(value, gast.List) and not any(isinstance(e, gast.Starred) for e in value.elts)


def _only_looked_at(node, name: str, lookers: set, np_name: str | None) -> bool:
    """Whether every read of ``name`` but its own growths only looks at the list."""
    allowed: set = set()
    for n in S.walk(node):
        if isinstance(n, gast.Assign) and _is_growth(n.value, name):
            allowed.add(id(n.value.elts[0].value))
        elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load):
            allowed.add(id(n.value))
        elif isinstance(n, gast.Call) and _looks_only(n.func, lookers, np_name):
            allowed |= {id(a) for a in n.args}
    return all(
        id(n) in allowed
        for n in S.walk(node)
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load)
    )


def _looks_only(func, lookers: set, np_name: str | None) -> bool:
    if isinstance(func, gast.Name):
        return func.id in lookers
    dotted = S.dotted(func)
    return bool(np_name) and dotted is not None and dotted.split(".")[0] == np_name


def _replace(node, old, new) -> None:
    for body in S.blocks(node.body):
        for i, stmt in enumerate(body):
            if stmt is old:
                body[i] = new
                return
