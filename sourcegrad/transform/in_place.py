"""What a user's function changes in place in the arguments it is given, and the copies that
keep the caller's values intact where the derivative calls such a function.

``def center(a): a -= a.mean(0)`` changes the caller's array (for an array, ``-=`` writes into
it), as do ``a[k] = v`` and ``acc.append(v)``. The derivative calls the user's function for its
value, but its adjoint (and a helper's vjp) still reads the arguments as they were before the
call: so the call's primal is given a copy of each array argument the function writes into
(``center(copied_array(h))``), and a caller that reads the argument after the call is refused by
:mod:`.mutations`.
"""

from __future__ import annotations

import types

import gast

from ..runtime.array_helpers import in_place_result
from ..runtime.trees import copied_array, copied_shallow
from . import derive
from . import syntax as S
from .argument_changes import MUTATORS, changed_in_place
from .node_facts import get_fact, set_fact
from .parse import resolve
from .rule_binding import local_names


def item_written_line(fn_node, param: str):
    """The line of a write ``param[k] = v`` (or ``param[k] += v``) into the parameter itself,
    where the function never rebinds the name; else None."""
    rebound = any(
        isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id == param
        for n in S.walk(fn_node)
    )
    if rebound:
        return None
    for n in S.walk(fn_node):
        if (
            isinstance(n, gast.Subscript)
            and isinstance(n.ctx, gast.Store)
            and isinstance(n.value, gast.Name)
            and n.value.id == param
        ):
            return n.lineno
    return None


def mark_copied_arguments(callee_node, given: dict, varied: set) -> None:
    """Mark each argument (a name) the function ``callee_node`` changes in place, so that the
    derivative's call of the function gets a copy of it (:func:`with_copies`): of an array
    it writes into, and, where the argument is differentiated (a parameter of ``varied``), of
    a list or dict it changes too (one level: the adjoint still reads the container as it
    was), or where the function reads the container besides changing it (`idx.remove(k)`,
    then `x[idx]`: its vjp, run after the call, reads it as the call found it). A container
    only written to stays the caller's, as in Python (a log)."""
    kinds: dict = {}
    for param, _, values in changed_in_place(callee_node.body, set(given)):
        if param in varied or not values and _read_beside_changes(callee_node.body, param):
            kinds[param] = "shallow"
        elif values:
            kinds.setdefault(param, "array")
    for param, node in given.items():
        if isinstance(node, gast.Name):
            set_fact(node, "copy_in", kinds.get(param))


def _read_beside_changes(body, param: str) -> bool:
    """Whether ``body`` reads ``param`` other than to call a method of :data:`MUTATORS` on it
    (``log.append(v)`` alone is not a read)."""
    nodes = [n for part in body for n in S.walk(part)]
    owners = {
        id(n.func.value)
        for n in nodes
        if isinstance(n, gast.Call)
        and isinstance(n.func, gast.Attribute)
        and n.func.attr in MUTATORS
    }
    return any(
        isinstance(n, gast.Name)
        and n.id == param
        and isinstance(n.ctx, gast.Load)
        and id(n) not in owners
        for n in nodes
    )


def made_by_sourcegrad(core, func) -> bool:
    """Whether the function value ``func`` (a name) is only ever assigned what a function of
    sourcegrad's returns (``g = sg.grad(loss)``): a derivative, which writes into nothing."""
    if not isinstance(func, gast.Name):
        return False
    made = [
        n.value
        for n in S.walk(core.node)
        if isinstance(n, gast.Assign) and any(func.id in S.names_in(t) for t in n.targets)
    ]
    return bool(made) and all(
        isinstance(v, gast.Call)
        and (
            getattr(resolve(core.parsed, v.func, local_names(core)), "__module__", None) or ""
        ).startswith("sourcegrad.")
        for v in made
    )


def mark_unknown_callee(core, args, wrt) -> None:
    """Mark each argument (a name) of a call in ``core`` of a function value known only when
    the derivative runs (a layer taken from a list): the call asks then whether the function
    changes it in place (:func:`with_copies`); ``wrt``: the positions differentiated. Not in
    generated code: its calls were given their copies in the user's; nor a global function,
    class or module (``solver.step(rhs, y)``), which no write in place changes."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return
    for i, arg in enumerate(args):
        if isinstance(arg, gast.Starred):  # the positions after it are known when it runs
            return
        if isinstance(arg, gast.Name) and not _code_object(core, arg):
            set_fact(arg, "copy_in", "unknown differentiated" if i in wrt else "unknown")


def _code_object(core, name) -> bool:
    """Whether ``name`` is a global or closure variable holding a function, class or
    module."""
    obj = resolve(core.parsed, name, local_names(core))
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType))


def with_copies(stmt, refs):
    """``stmt`` (a clone of a core statement), each argument of its call marked by
    :func:`mark_copied_arguments` given as ``copied_array(argument)`` or
    ``copied_shallow(argument)`` (the helpers named through ``refs``, the derivative's
    references); an argument of a function value known only when the derivative runs as
    ``copy_if_written(func, i, argument)``, which copies it where the function writes into
    it (``copy_in`` "unknown"; ``differentiated=True``: "unknown differentiated", a list or
    dict too; ``read_after=True``: the caller reads it after the call, and such a write is
    refused)."""
    call = stmt.value if isinstance(stmt, (gast.Assign, gast.Expr)) else None
    if not isinstance(call, gast.Call):
        return stmt
    for i, arg in enumerate(call.args):
        call.args[i] = _copy_of(arg, refs, call.func, i)
    for keyword in call.keywords:
        keyword.value = _copy_of(keyword.value, refs, None, None)
    return stmt


def _copy_of(node, refs, func, i):
    kind = get_fact(node, "copy_in")
    if kind is None:
        return node
    set_fact(node, "copy_in", None)
    if kind.startswith("unknown"):
        if func is None:
            return node
        copy_if_written = derive.makers().copy_if_written
        args = [S.clone(func), S.const(i), node]
        keywords = [
            gast.keyword(arg=k, value=S.const(True))
            for k, on in (("differentiated", kind.endswith("differentiated")),
                          ("read_after", get_fact(node, "read_after")))
            if on
        ]  # fmt: skip
        name = refs.ref(copy_if_written, copy_if_written.__name__)
        return gast.Call(func=S.name(name), args=args, keywords=keywords)
    helper = copied_shallow if kind == "shallow" else copied_array
    return S.call(S.name(refs.helper(helper)), [node])


def mark_in_place(stmts: list, result) -> None:
    """Mark the statement of ``stmts`` (those lowered from an update ``x += v``) that computes
    ``x + v``, whose value ``result`` holds, with ``x`` (``in_place``: the array, or the item
    read out of it, that NumPy's update writes into), for the sweeps to cast it back to
    ``x``'s dtype as NumPy does (:func:`cast_in_place`)."""
    if not isinstance(result, gast.Name):
        return
    made = {result.id}
    for core in reversed(stmts):
        if not (isinstance(core, gast.Assign) and isinstance(core.targets[0], gast.Name)):
            continue
        if core.targets[0].id not in made:
            continue
        if isinstance(core.value, gast.Name):
            made.add(core.value.id)  # `y = t` after `t = y + v` (a name overwritten)
        elif isinstance(core.value, gast.BinOp) and isinstance(core.value.left, gast.Name):
            set_fact(core, "in_place", core.value.left.id)
            return


def cast_in_place(new, stmt, casts: frozenset, refs):
    """``new`` (a clone of the core statement ``stmt``) assigning ``in_place_result(value,
    x)`` where ``stmt`` computes ``x + v`` of an update ``x += v`` whose cast back to ``x``'s
    dtype analysis did not prove a no-op (``casts``: the ids of those statements)."""
    if id(stmt) not in casts:
        return new
    x = S.name(get_fact(stmt, "in_place"))
    new.value = S.call(S.name(refs.helper(in_place_result)), [new.value, x])
    set_fact(new, "keep", True)  # (it raises where NumPy's update does, even if never read)
    return new


def cast_write(lowering, target, value):
    """The value of ``y[...] = value``, lowered from ``np.copyto(y, value)`` or ``f(...,
    out=y)``, which NumPy casts into ``y`` as ``same_kind``: a new name given it (by
    ``lowering``, normalize's builder), marked ``in_place`` with ``y`` for the sweeps to cast
    it as NumPy does."""
    if lowering.p.filename.startswith("<sourcegrad") or not isinstance(target.value, gast.Name):
        return value
    name = target.value.id
    current = lowering.env.get(name, name)
    made = len(lowering.out)
    atom = lowering.atom(value, name)
    last = lowering.out[-1] if len(lowering.out) > made else None
    if isinstance(last, gast.Assign) and S.names_in(last.targets[0]) == {getattr(atom, "id", 0)}:
        set_fact(last, "in_place", current)  # (the value computed here: `y_1 = f(x)`)
        return atom
    fresh = lowering.names.fresh(name, always_suffix=True)
    stmt = S.assign(fresh, atom)
    set_fact(stmt, "in_place", current)
    lowering.emit(stmt, temp=True)
    return S.name(fresh)
