"""Helpers that write into the arguments they are given, chosen to be inlined at the call
(part of the lowering of Python's forms; :mod:`.inline_methods` inlines them).

``put(buf, i, v)`` doing ``buf[i] = v``, ``bump(d)`` doing ``d["n"] += 1``, ``push(hs, h)``
doing ``hs.append(h)``: Python changes the caller's object, while the derivative follows
values. Put in place of the call (its parameters the call's arguments, its locals fresh
names), the helper's writes become the caller's own writes into its own names, which the
lowering follows as it follows writes written inline: into a local array, list or dict, an
item or a view of one (``halve(z[0])``), or an argument of the function differentiated
(left in the caller's object at the end). A helper (or a method, of an object whose class
is known) is chosen where it writes into a parameter, directly or through a helper of its
module it gives it to (two levels and more), and Python shows the change: the argument's
root is a parameter of the caller or a name it reads after the call (:func:`writes_given`).
Where the body cannot be inlined (recursive, another file, an early ``return``...), the call
stays, and the analysis refuses it where the caller reads what it wrote
(:mod:`.mutations`), naming why it was not inlined.
"""

from __future__ import annotations

import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .argument_changes import changed_in_place
from .parse import UNRESOLVED, parse, resolve

__all__ = ["helper_writing_arguments", "written_parameters", "writes_given"]
__all__ += ["helper_write_message", "mark_helper_updates"]

#: a function's code -> the parameters it writes into (None while it is being asked)
_WRITTEN: dict = {}


def written_parameters(function) -> frozenset:
    """The parameters ``function`` (a user function of the same file as its callers) writes
    into in place: directly (:func:`~.argument_changes.changed_in_place`: also through a
    view of one, ``r = a[1]; r[:] = v``) or by giving one (or a view of it: ``fill(a[0])``,
    ``fill(b=a)``) to a function of its module that writes into it. Empty where its source
    is not read; a recursive chain stops at the function being asked."""
    code = getattr(function, "__code__", None)
    if code is None:
        return frozenset()
    if code in _WRITTEN:
        return _WRITTEN[code] or frozenset()
    _WRITTEN[code] = None
    try:
        node = parse(function).node
    except (SourcegradError, OSError, TypeError):
        _WRITTEN[code] = frozenset()
        return frozenset()
    params = {a.id for a in node.args.posonlyargs + node.args.args}

    def called(call) -> list:
        callee = function.__globals__.get(getattr(call.func, "id", None))
        if not _same_module(callee, function.__globals__):
            return []
        inner = parse(callee).node.args
        names = [a.id for a in inner.posonlyargs + inner.args]
        given = dict(zip(names, call.args)) | {k.arg: k.value for k in call.keywords if k.arg}
        return [given[p] for p in written_parameters(callee) if p in given]

    _WRITTEN[code] = frozenset(p for p, _, _ in changed_in_place(node.body, params, called))
    return _WRITTEN[code]


def helper_writing_arguments(parsed, fn, stmt, call):
    """The user function that ``call`` (``put(buf, i, v)``, made by the statement ``stmt`` of
    ``fn``, ``parsed``'s function or its rewritten copy) runs, where it is defined in the same
    module and writes into what :func:`writes_given` tells; else None."""
    if not isinstance(call.func, gast.Name):
        return None
    local = S.bound_names(fn) | set(parsed.closure)
    if call.func.id in local:
        return None
    function = resolve(parsed, call.func, local)
    if function is UNRESOLVED or not _same_module(function, parsed.globals):
        return None
    return function if writes_given(function, (fn, stmt, call), 0) else None


def writes_given(function, site: tuple, skipped: int) -> bool:
    """Whether ``function``, called at ``site`` (the caller's node, the statement, the call;
    ``skipped`` leading parameters not given: 1 for a method's ``self``), writes into a
    parameter given a name of the caller's (or an item, a view or an attribute of one) that
    Python shows changed: a parameter of the caller (its own caller's object), or a name the
    caller reads after the call (a loop around the call counts) other than through the
    call's own target (``h = center(h)``: the returned value is read)."""
    written = written_parameters(function)
    if not written:
        return False
    try:
        node = parse(function).node
    except (SourcegradError, OSError, TypeError):
        return False
    fn, stmt, call = site
    params = [a.id for a in node.args.posonlyargs + node.args.args][skipped:]
    given = dict(zip(params, call.args)) | {k.arg: k.value for k in call.keywords if k.arg}
    roots = {_root(given[p]) for p in written if p in given} - {None}
    own = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    return bool(roots & own) or any(_read_after(fn, stmt, r) for r in roots)


def _read_after(fn, stmt, name: str) -> bool:
    """Whether ``fn`` reads ``name`` after ``stmt`` (a later line, or a loop around
    ``stmt``), ``stmt`` not binding it."""
    if name in S.bound_names(gast.Module(body=getattr(stmt, "targets", []), type_ignores=[])):
        return False
    end = getattr(stmt, "end_lineno", None) or stmt.lineno
    loops = [
        n
        for n in S.walk(fn)
        if isinstance(n, (gast.For, gast.While)) and any(m is stmt for m in S.walk(n))
    ]
    inside = {id(n) for n in S.walk(stmt)}
    for loop in [fn, *loops]:
        for n in S.name_nodes(loop):
            if n.id != name or not isinstance(n.ctx, gast.Load) or id(n) in inside:
                continue
            if loop is not fn or (getattr(n, "lineno", 0) or 0) > end:
                return True
    return False


def _root(node):
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def _same_module(function, globals_: dict) -> bool:
    return isinstance(function, types.FunctionType) and function.__globals__ is globals_


def mark_helper_updates(body: list, function, call_stmt, fresh: dict) -> None:
    """Keep on each update ``a += v`` of ``body`` (the statements of ``function`` about to be
    inlined at ``call_stmt``, their names not yet renamed) of a parameter of ``fresh`` (one
    standing for a fresh name bound to an argument -> that argument) what the user wrote:
    its text, its line, the helper's name, the argument and the call's text (of the user's
    own call, through helpers inlined into helpers), which :func:`helper_write_message`
    quotes."""
    called = getattr(call_stmt, "called_as", None) or S.text(call_stmt).strip()
    for node in S.walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(node, gast.stmt):
            node.called_as = called
        param = getattr(node, "target", None)
        if isinstance(node, gast.AugAssign) and getattr(param, "id", None) in fresh:
            given = S.text(fresh[param.id]).strip()
            node.written_in_helper = (S.text(node).strip(), node.lineno, function.__name__, given)


def helper_write_message(stmt) -> str | None:
    """The refusal of ``stmt``, an update an inlined helper makes through the fresh name its
    parameter became, bound to the caller's argument: what the user wrote, the call and the
    helper's line; None for another update."""
    found = getattr(stmt, "written_in_helper", None)
    if found is None:
        return None
    text, line, helper, given = found
    return (
        f"`{stmt.called_as}` runs `{text}` ({helper}(), line {line}), which changes "
        f"`{given}` in place where it holds an array or a list, and rebinds a number: "
        f"sourcegrad follows it only where `{given}` surely holds an array or a number when "
        f"the call runs, and here it may hold another object; make {helper}() return the new "
        f"value and assign it (`{given} = {helper}(...)`), or make sure `{given}` holds an "
        "array there"
    )
