"""What a function's body changes in place in the objects its parameters hold, found on its
syntax alone (part of the analysis of calls; :mod:`.in_place` gives the copies).

Python changes the caller's object through a parameter ``a`` wherever the body writes into
``a`` or into a name that may hold a view of it, until ``a`` is bound to another object:
``a[k] = v``, ``a[k][j] = v``, ``a.T[0] = v``, ``a -= m``, ``r = a[1]; r[:] = v``,
``for row in a: row *= 2``, ``np.copyto(a, v)``, ``np.multiply(a, v, out=a)``,
``a.fill(v)``, ``a.append(v)``, a store into an object given (``obj.w = v``,
``obj.w[0] = v``); ``a[0] = 1; a = a * 2`` writes the caller's array, ``a = a * 2;
a[0] = 1`` does not (a rebinding counts where it is a statement of the body itself, not
under a branch or a loop). What is not surely another object counts: a name bound anywhere
to a view of ``a`` may hold one wherever it is written.
"""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = ["changed_in_place"]

#: the methods of lists and dicts that change them in place
MUTATORS = S.CONTAINER_MUTATORS | {"sort"}
#: the methods of an array that write into it
ARRAY_WRITERS = frozenset({"fill", "put", "itemset", "resize", "partition", "setfield"})
#: the attributes of an array that are views of it
VIEW_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "flat"})
#: the methods of an array that may return a view of it
VIEW_METHODS = frozenset({"reshape", "view", "transpose", "ravel", "squeeze", "swapaxes"})
VIEW_METHODS |= {"diagonal"}
#: NumPy's functions that may return a view of their first argument
VIEW_FUNCTIONS = VIEW_METHODS | {"asarray", "asanyarray", "moveaxis", "expand_dims"}
VIEW_FUNCTIONS |= {"atleast_1d", "atleast_2d", "atleast_3d", "real", "imag"}
#: NumPy's functions (and ``ufunc.at``) that write into their first argument
WRITING_FUNCTIONS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal", "at"})


def changed_in_place(body, params: set, called=None) -> list:
    """``(parameter, line, writes_values)`` for each write of a function body into the object
    a parameter of ``params`` holds (see the module): a method of :data:`MUTATORS` called on
    it (``writes_values`` False: the container's items change, not their values), or any
    other write (``writes_values`` True); ``called(call)``: the arguments of ``call`` (a
    function of the user's) that it writes into, where they count too."""
    bodies = body if isinstance(body, list) else [body]
    out = []
    for param in sorted(params):
        held = {param}
        for stmt in bodies:
            inside = _views_within(stmt, held)
            found = _writes(stmt, inside, called or (lambda call: ()))
            out.extend((param, line, values) for line, values in found)
            held = _after(stmt, held, inside)
    return sorted(out, key=lambda w: (w[1] or 0, w[0]))


def _after(stmt, held: set, inside: set) -> set:
    """The names that may hold the object after the statement ``stmt`` of the body itself:
    an assignment of another value to a name ends it there; within a compound statement,
    nothing ends."""
    if not isinstance(stmt, gast.Assign):
        return inside
    if all(isinstance(t, gast.Name) for t in stmt.targets):
        names = {t.id for t in stmt.targets}
        return held | names if view_roots(stmt.value) & held else held - names
    return inside


def _views_within(stmt, held: set) -> set:
    """``held`` and the names ``stmt`` binds anywhere to a view of one of them (to the
    fixed point: ``r = a[0]; s = r.T``)."""
    pairs = []
    for n in S.walk(stmt):
        if isinstance(n, gast.Assign):
            for t in n.targets:
                pairs.extend(_bound_pairs(t, n.value))
        elif isinstance(n, (gast.For, gast.comprehension)):
            pairs.extend(_bound_pairs(n.target, n.iter, item=True))
        elif isinstance(n, gast.NamedExpr):
            pairs.extend(_bound_pairs(n.target, n.value))
    out = set(held)
    while True:
        more = {name for name, value in pairs if view_roots(value) & out} - out
        if not more:
            return out
        out |= more


def _bound_pairs(target, value, item=False) -> list:
    """``(name, expression it may be a view of)`` for the names ``target`` binds."""
    if isinstance(target, gast.Name):
        return [(target.id, value)]
    if isinstance(target, (gast.Tuple, gast.List)):
        if not item and isinstance(value, (gast.Tuple, gast.List)):
            if len(value.elts) == len(target.elts):
                return [p for t, v in zip(target.elts, value.elts) for p in _bound_pairs(t, v)]
        return [(n.id, value) for n in S.name_nodes(target)]
    return []


def view_roots(node, fields=False) -> set:
    """The names whose object ``node`` may be (or be a view, an item or a row of):
    ``a``, ``a[1:]``, ``a.T``, ``a.reshape(3, 3)``, ``np.ravel(a)``, ``a if c else b``;
    ``fields``: or hold (``obj.w``, ``obj.w[0]``)."""
    if isinstance(node, gast.Name):
        return {node.id}
    if isinstance(node, (gast.Subscript, gast.Starred)):
        return view_roots(node.value, fields)
    if isinstance(node, gast.Attribute) and (fields or node.attr in VIEW_ATTRIBUTES):
        return view_roots(node.value, fields)
    if isinstance(node, gast.IfExp):
        return view_roots(node.body) | view_roots(node.orelse)
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute):
        name = node.func.attr
        if name in VIEW_METHODS:
            roots = view_roots(node.func.value)
            if roots - {"np", "numpy"}:
                return roots
        if name in VIEW_FUNCTIONS and node.args:
            return view_roots(node.args[0])
    return set()


def _writes(stmt, held: set, called) -> list:
    """``(line, writes_values)`` of each write of ``stmt`` into an object of ``held``."""
    out = []
    for n in S.walk(stmt):
        line = getattr(n, "lineno", None)
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            if n.target.id in held:
                out.append((line, True))
        elif isinstance(n, gast.Subscript) and isinstance(n.ctx, (gast.Store, gast.Del)):
            if view_roots(n.value, fields=True) & held:
                out.append((line, True))
        elif isinstance(n, gast.Attribute) and isinstance(n.ctx, (gast.Store, gast.Del)):
            if view_roots(n.value, fields=True) & held:
                out.append((line, True))
        elif isinstance(n, gast.Call):
            out.extend((line, values) for values in _call_writes(n, held))
            out.extend((line, True) for arg in called(n) if view_roots(arg) & held)
    return out


def _call_writes(call, held: set) -> list:
    """``writes_values`` of each write of ``call`` into an object of ``held``."""
    out = []
    func = call.func
    if isinstance(func, gast.Attribute) and view_roots(func.value) & held:
        if func.attr in MUTATORS and isinstance(func.value, gast.Name):
            out.append(False)
        elif func.attr in ARRAY_WRITERS | MUTATORS:
            out.append(True)
    named = isinstance(func, gast.Attribute) and func.attr in WRITING_FUNCTIONS
    if named and call.args and view_roots(call.args[0]) & held:
        out.append(True)
    for k in call.keywords:
        if k.arg == "out":
            given = k.value.elts if isinstance(k.value, (gast.Tuple, gast.List)) else [k.value]
            if any(view_roots(v) & held for v in given):
                out.append(True)
    return out
