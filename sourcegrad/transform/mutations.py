"""Calls of the user's functions that change a container argument in place (part of the
analysis pass).

``add(acc, v)`` doing ``acc.append(v)``, or ``fwd(cache, h)`` doing ``cache["h"] = h``: Python
changes the caller's list or dict, while the derivative follows values (the list each name was
given), so a read of the container after the call would see the old value in the derivative.
Such a call is refused where the caller reads the container after it (a loop around the call
counts: its statements run again after it); a container only written to (a log) is allowed.
"""

from __future__ import annotations

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from . import syntax as S
from .calls import nested_function
from .parse import parse, resolve
from .rule_binding import is_user_function, local_names
from .walk import statements_in_loops_around, walk_statements

#: the methods of lists and dicts that change them in place
MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
     "setdefault", "popitem"}
)  # fmt: skip


def refuse_container_mutations(core, ops: dict) -> None:
    """Refuse each call of a user function or nested function that changes a container
    argument in place which the caller reads after the call (see the module docstring)."""
    order = list(walk_statements(core.node.body))
    for i, stmt in enumerate(order):
        op = ops.get(id(stmt))
        if op is None:
            continue
        found = _callee(core, op) or _effect_callee(core, stmt)
        if found is None:
            continue
        (body, arguments), args, kwargs, label = found
        params = [a.id for a in arguments.posonlyargs + arguments.args]
        passed = dict(zip(params, args)) | dict(kwargs)
        for param, line in _changed_in_place(body, set(params) | set(kwargs)):
            arg = passed.get(param)
            if not isinstance(arg, gast.Name):
                continue
            later = order[i + 1 :] + statements_in_loops_around(core.node.body, stmt)
            if any(arg.id in S.names_in(s) for s in later if s is not stmt):
                raise UnsupportedSyntaxError(
                    f"{label}() writes into its argument `{param}` in place (line {line}), "
                    f"and `{arg.id}` is read after the call: sourcegrad follows values, not "
                    f"changes made in place; make {label}() return the new value and assign it "
                    f"(`{arg.id} = {label}(...)`)",
                    core.parsed.filename,
                    stmt.lineno,
                )


def _callee(core, op):
    """``((body, arguments), args, kwargs, label)`` of a call of a user function or of a
    nested function; None for other operations."""
    if op.user_call:
        fn, args, kwargs = op.user_call
        node = _parsed(fn)
        if node is None:
            return None
        return (node.body, node.args), list(args), dict(kwargs), op.label
    if op.dynamic_call:
        func, args = op.dynamic_call
        if isinstance(func, gast.Name):
            found = nested_function(core, func.id)
            if found is not None:
                return found, list(args), {}, func.id
    return None


#: a user function's code -> its parsed definition (or None where it has none to read)
_PARSED: dict = {}


def _parsed(fn):
    code = getattr(fn, "__code__", None)
    if code not in _PARSED:
        try:
            _PARSED[code] = parse(fn).node
        except SourcegradError:  # its call is refused or differentiated elsewhere
            _PARSED[code] = None
    return _PARSED[code]


def _effect_callee(core, stmt):
    """:func:`_callee` of a call made as a statement (``add(acc, v)``), kept for its effect."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)):
        return None
    kwargs = {k.arg: k.value for k in call.keywords if k.arg is not None}
    found = nested_function(core, call.func.id)
    if found is not None:
        return found, list(call.args), kwargs, call.func.id
    fn = resolve(core.parsed, call.func, local_names(core))
    node = _parsed(fn) if is_user_function(fn) else None
    if node is None:
        return None
    return (node.body, node.args), list(call.args), kwargs, call.func.id


def _changed_in_place(body, params: set) -> list:
    """``(parameter, line)`` for each parameter a function body changes in place: a method
    of :data:`MUTATORS` called on it, or an item written into it, where the body never
    rebinds the name."""
    bodies = body if isinstance(body, list) else [body]
    nodes = [n for part in bodies for n in S.walk(part)]
    rebound = {n.id for n in nodes if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    out = []
    for n in nodes:
        target = None
        if (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Attribute)
            and n.func.attr in MUTATORS
            and isinstance(n.func.value, gast.Name)
        ):
            target = n.func.value.id
        elif (
            isinstance(n, gast.Subscript)
            and isinstance(n.ctx, (gast.Store, gast.Del))
            and isinstance(n.value, gast.Name)
        ):
            target = n.value.id
        if target in params and target not in rebound:
            out.append((target, getattr(n, "lineno", None)))
    return out
