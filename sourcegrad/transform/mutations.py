"""Calls of the user's functions that change a container argument in place (part of the
analysis pass).

``add(acc, v)`` doing ``acc.append(v)``, or ``fwd(cache, h)`` doing ``cache["h"] = h``: Python
changes the caller's list or dict, while the derivative follows values (the list each name was
given), so a read of the container after the call would see the old value in the derivative.
Such a call is refused where the caller reads the container after it (a loop around the call
counts: its statements run again after it); a container only written to (a log) is allowed,
and so is ``h = center(h)``, whose later reads see the value the call returns (the check is
liveness: is the name read again before it is given a new value?). An array the
function writes into (``a -= m``, ``a[k] = v``) is the same case: the derivative's call of the
function gets a copy of it (:mod:`.in_place`).
"""

from __future__ import annotations

import inspect
import re

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from . import syntax as S
from .calls import nested_function
from .cfg import solve_backward
from .in_place import changed_in_place, mark_unknown_callee
from .inline_methods import obstacle
from .node_facts import set_fact
from .object_classes import class_of, method_node
from .parse import UNRESOLVED, parse, resolve
from .rule_binding import is_user_function, local_names
from .value_sources import source_name
from .walk import walk_statements
from .writes import unmodelled_write


def refuse_container_mutations(core, ops: dict, cfg, varied: dict) -> list:
    """Refuse each call of a user function or nested function that changes a container
    argument in place which the caller reads after the call (see the module docstring);
    ``cfg`` is the core's control-flow graph. sourcegrad's own derivative code is not
    checked: its calls were checked in the user's. Returns the checks, as
    ``Core.alias_checks`` holds them, of each argument changed in place that is an item or a
    view of a name read after the call (``halve(z[0])``): refused where it is more than a
    number (ranks decide)."""
    checks: list = []
    if core.parsed.filename.startswith("<sourcegrad"):
        return checks
    live: list = []  # the liveness, solved where a call first needs it (most cores: never)
    own = _own_parameters(core)
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if op is None:
            continue
        _refuse_method_effect(core, stmt, (live, cfg), ops, varied)
        found = _callee(core, op) or _effect_callee(core, stmt)
        if found is None:  # a function value: asked when the derivative runs
            _refuse_method_default(core, stmt, ops)
            args = op.dynamic_call[1] if op.dynamic_call else _unknown_effect(core, stmt)
            _mark_read_after(stmt, args, live, cfg, own)
            continue
        (body, arguments), args, kwargs, label = found
        params = [a.id for a in arguments.posonlyargs + arguments.args]
        passed = dict(zip(params, args)) | dict(kwargs)
        keyword_only = {a.id for a in arguments.kwonlyargs}
        written = changed_in_place(body, set(params) | set(kwargs) | keyword_only)
        function = user_function_of(op.user_call[0])[0] if op.user_call else None
        _refuse_written_default(core, stmt, (function, passed, written), label)
        for param, line, values in written:
            arg = passed.get(param)
            if not isinstance(arg, gast.Name) or _is_receiver(function, params, param):
                continue  # (what a method keeps in its object: method_state.py, replayed_state.py)
            if arg.id in own and (values or arg.id in varied.get(("in", id(stmt)), ())):
                given = (arg.id, core.node.name, _not_inlined(core, stmt, label))
                why = _given_message(label, param, line, given)
                checks.append((arg.id, why, stmt.lineno))  # (a number is rebound, not changed)
            if not live:
                live.append(solve_backward(cfg, set(), names_read_later))
            if arg.id in live[0].get(id(stmt), ()):  # (none in a nested def: analysed apart)
                raise UnsupportedSyntaxError(
                    f"{label}() writes into its argument `{param}` in place (line {line}), "
                    f"and `{arg.id}` is read after the call{_not_inlined(core, stmt, label)}: "
                    f"sourcegrad follows values, not "
                    f"changes made in place; make {label}() return the new value and assign it "
                    f"(`{arg.id} = {label}(...)`)",
                    core.parsed.filename,
                    stmt.lineno,
                )
            viewed = _viewed_name(core, arg.id, live[0].get(id(stmt), ()))
            if viewed is not None:
                checks.append((arg.id, _view_message(label, param, line, viewed), stmt.lineno))
    return checks


def _is_receiver(function, params: list, param: str) -> bool:
    """Whether ``param`` is the object a method of a class is called on (``self``)."""
    qualname = getattr(function, "__qualname__", "").rsplit("<locals>.", 1)[-1]
    return bool(params) and param == params[0] and "." in qualname


def _refuse_written_default(core, stmt, called: tuple, label: str) -> None:
    """Refuse a call leaving to its default a parameter the function writes into where the
    default is an object made once, with the function (``def push(v, buf=[])``): it keeps
    what each call leaves there, state the derivative does not follow."""
    function, passed, written = called
    if function is None or any(isinstance(a, gast.Starred) for a in passed.values()):
        return
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return
    for param, line, _ in written:
        default = getattr(parameters.get(param), "default", None)
        if (
            param in passed
            or isinstance(default, _UNCHANGING)
            or default is inspect.Parameter.empty
        ):
            continue
        raise UnsupportedSyntaxError(
            f"{label}() writes into its parameter `{param}` (line {line}) left to its "
            f"default, a {type(default).__name__} made once with {label}() that keeps what "
            f"each call leaves in it: sourcegrad does not follow that state; pass `{param}` "
            f"in the call, or make its default None and a new {type(default).__name__} in "
            f"{label}()",
            core.parsed.filename,
            stmt.lineno,
        )


def _refuse_method_default(core, stmt, ops) -> None:
    """:func:`_refuse_written_default` of a method called on an object whose class is known
    (``log.add(v)`` doing ``buf.append(v)`` into ``def add(self, v, buf=[])``)."""
    call = getattr(stmt, "value", None)
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
        return
    if not isinstance(call.func.value, gast.Name) or any(k.arg is None for k in call.keywords):
        return
    cls = class_of(core, ops, call.func.value.id)
    found = method_node(cls, call.func.attr)
    if found is None:
        return
    args = found[1].args
    names = [a.id for a in args.posonlyargs + args.args]
    passed = dict(zip(names, [None, *call.args])) | {k.arg: k.value for k in call.keywords}
    written = changed_in_place(found[1].body, set(names) | {a.id for a in args.kwonlyargs})
    method = inspect.getattr_static(cls, call.func.attr)
    _refuse_written_default(core, stmt, (method, passed, written), found[1].name)


_UNCHANGING = (type(None), bool, int, float, complex, str, bytes, tuple, frozenset)


def _refuse_method_effect(core, stmt, flow: tuple, ops: dict, varied: dict) -> None:
    """Refuse ``box.scale(0.5)`` or ``box.hs.append(u)``, a method called for its effect on
    an object of the function's own (not a container method the normalizer followed), where
    the function reads the object after the call: the method may change it in place, which
    the derivative, following values, would not see. Only where a differentiated value is in
    the call (the object or an argument): otherwise its change carries no derivative."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
        return
    if not S.names_in(call) & varied.get(("in", id(stmt)), set()):
        return
    live, cfg = flow
    root = call.func.value
    while isinstance(root, (gast.Attribute, gast.Subscript)):
        root = root.value
    if not isinstance(root, gast.Name) or root.id not in local_names(core):
        return
    if root is call.func.value and method_node(class_of(core, ops, root.id), call.func.attr):
        return  # a method whose source is read: method_state.py asks what it changes
    if unmodelled_write(core.parsed, call, local_names(core)) is not None:
        return  # `y.sort()` of a list, `np.add.at`: refused in writes.py where it matters
    if not live:
        live.append(solve_backward(cfg, set(), names_read_later))
    after = live[0].get(id(stmt), ())
    # (`first = boxes[0]; first.push(u)`: the object is also an item of boxes)
    read = root.id if root.id in after else _viewed_name(core, root.id, after)
    if read is not None:
        shown = re.sub(r"_\d+$", "", read)
        raise UnsupportedSyntaxError(
            f"the method `.{call.func.attr}(...)`, called for its effect, may change `{shown}` "
            f"(or an object it holds) in place, and `{shown}` is read after the call: "
            f"sourcegrad follows values, not "
            f"changes a method makes in place; make the method return the new value (or a new "
            f"object) and assign it",
            core.parsed.filename,
            stmt.lineno,
        )


def _not_inlined(core, stmt, label: str) -> str:
    """`` (not inlined: why)`` where the call of ``label`` at ``stmt`` was asked to be put in
    place (:mod:`.inline_helpers`) and could not; else nothing."""
    why = obstacle(core.parsed.filename, stmt.lineno, label.split(".")[-1])
    return f" (not inlined: {why})" if why else ""


def _viewed_name(core, name: str, live) -> str | None:
    """A name of ``live`` whose memory ``name`` may share, as an item or a view of it made
    by the core's assignment of ``name`` (``t = z[0]``, ``t = z.T``), or of a name made so in
    turn; None where there is none."""
    made = {
        stmt.targets[0].id: stmt.value
        for stmt in walk_statements(core.node.body)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name)
    }
    seen = {name}
    while name in made and not isinstance(made[name], gast.Name):
        name = source_name(made[name])  # (a name copied is a version of a loop's variable)
        if name is None or name in seen:
            return None
        if name in live:
            return name
        seen.add(name)
    return None


def _view_message(label: str, param: str, line: int, viewed: str) -> str:
    shown = re.sub(r"_\d+$", "", viewed)
    return (
        f"{label}() writes into its argument `{param}` in place (line {line}), which is given "
        f"an item or a view of `{shown}`, and `{shown}` is read after the call: sourcegrad "
        f"follows values, not changes made in place; make {label}() return the new value and "
        f"assign it, or pass it a copy (`.copy()`)"
    )


def _mark_read_after(stmt, args, live: list, cfg, own: frozenset) -> None:
    """Mark each argument (a name) of the call ``stmt`` of a function value that the caller
    reads after the call, or that is one of its own parameters (``own``: its caller's object):
    where the function turns out to write into it, the call is refused when the derivative
    runs (:func:`~sourcegrad.callables.copy_if_written`)."""
    for arg in args:
        if isinstance(arg, gast.Name):
            if not live:
                live.append(solve_backward(cfg, set(), names_read_later))
            # a statement of a nested def is not in this graph: its own analysis marks it
            read = arg.id in own or arg.id in live[0].get(id(stmt), ())
            set_fact(arg, "read_after", read)


def _own_parameters(core) -> frozenset:
    """The parameters of the core's function: names that hold its caller's objects (until
    rebound), so that a write into one is a write Python shows the caller."""
    args = core.node.args
    return frozenset(a.id for a in args.posonlyargs + args.args + args.kwonlyargs)


def _given_message(label: str, param: str, line: int, given: tuple) -> str:
    """``given``: the caller's parameter, the caller's name, why the call was not inlined."""
    given, caller, not_inlined = given
    caller = "the lambda" if caller.startswith("lambda_") else f"{caller}()"
    return (
        f"{label}() writes into its argument `{param}` in place (line {line}), which is given "
        f"`{given}`, an argument of {caller}{not_inlined}: Python changes the object of {caller}'s caller "
        f"too, which sourcegrad does not follow; make {label}() return the new value and "
        f"assign it (`{given} = {label}(...)`), or pass it a copy (`{given}.copy()`)"
    )


def _unknown_effect(core, stmt) -> list:
    """The arguments of a call made as a statement (``layer(x)``) of a function value known
    only when the derivative runs, each marked to be copied where the function writes into
    it (:func:`~.in_place.mark_unknown_callee`); none for another statement."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if (
        not isinstance(call, gast.Call)
        or isinstance(call.func, gast.Name)
        and nested_function(core, call.func.id)
    ):
        return []
    if resolve(core.parsed, call.func, local_names(core)) is not UNRESOLVED:
        return []
    mark_unknown_callee(core, call.args, ())
    return call.args


def names_read_later(stmt, live: set) -> set:
    """The backward transfer of liveness: the names read before ``stmt`` that a later
    statement may still read (a loop's statements run again after it)."""
    if isinstance(stmt, gast.For):
        return (live - S.names_in(stmt.target)) | S.names_in(stmt.iter)
    if isinstance(stmt, (gast.If, gast.While)):
        return live | S.names_in(stmt.test)
    names = [n for n in S.walk(stmt) if isinstance(n, gast.Name)]
    bound = {n.id for n in names if isinstance(n.ctx, gast.Store)}
    return (live - bound) | {n.id for n in names if not isinstance(n.ctx, gast.Store)}


def _callee(core, op):
    """``((body, arguments), args, kwargs, label)`` of a call of a user function or of a
    nested function; None for other operations."""
    if op.user_call:
        fn, args, kwargs = op.user_call
        function, skipped = user_function_of(fn)
        node = _parsed(function) if function is not None else None
        if node is None:
            return None
        return (node.body, node.args), [None] * skipped + list(args), dict(kwargs), op.label
    if op.dynamic_call:
        func, args = op.dynamic_call
        if isinstance(func, gast.Name):
            found = nested_function(core, func.id)
            if found is not None:
                return found, list(args), {}, func.id
            # (a global object called in a lambda's body: `lambda z: layer(z)`)
            callee = resolve(core.parsed, func, local_names(core))
            function, skipped = user_function_of(callee)
            node = _parsed(function) if function is not None else None
            if node is not None:
                return (node.body, node.args), [None] * skipped + list(args), {}, func.id
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


def given_to_writers(parsed, params, fn) -> list:
    """``(parameter, line, callee)`` for a call in ``fn`` (``parsed``'s function, its helpers
    writing into its names inlined) of a user function given a parameter of ``params``
    (never bound anew) that the function changes in place (``halve(y)`` doing ``a *= 0.5``)."""
    params = set(params)
    rebound = {
        n.id for n in S.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }
    out = []
    for call in S.walk(fn):
        if not (isinstance(call, gast.Call) and isinstance(call.func, (gast.Name, gast.Attribute))):
            continue
        given = {i: a.id for i, a in enumerate(call.args) if isinstance(a, gast.Name)}
        if not set(given.values()) & (params - rebound):
            continue
        function, skipped = _called_function(parsed, call.func, params | rebound)
        node = _parsed(function) if function is not None else None
        if node is None:
            continue
        names = [a.id for a in node.args.posonlyargs + node.args.args][skipped:]
        changed = {p for p, _, _ in changed_in_place(node.body, set(names))}
        for i, name in given.items():
            if i < len(names) and names[i] in changed and name in params - rebound:
                out.append((name, call.lineno, _dotted(call.func)))
    return out


def _dotted(func) -> str:
    """``layer.forward`` for the attribute chain ``func`` (``layer`` for a name)."""
    if isinstance(func, gast.Attribute):
        return f"{_dotted(func.value)}.{func.attr}"
    return getattr(func, "id", "...")


def _called_function(parsed, func, local: set) -> tuple:
    """``(function, skipped)``: the user's function that a call of ``func`` runs and how
    many of its parameters the call does not give (1 for ``self``: an object's
    ``__call__``, a method of an object the function reads, ``layer.forward``), or
    ``(None, 0)`` where it is none the source names."""
    if isinstance(func, gast.Attribute):
        owner = resolve(parsed, func.value, local)
        if owner is UNRESOLVED or isinstance(owner, type) or inspect.ismodule(owner):
            found = resolve(parsed, func, local)
            return (found, 0) if is_user_function(found) else (None, 0)
        method = inspect.getattr_static(type(owner), func.attr, None)
        return (method, 1) if is_user_function(method) else (None, 0)
    callee = resolve(parsed, func, local)
    return user_function_of(callee) if callee is not UNRESOLVED else (None, 0)


def user_function_of(callee) -> tuple:
    """``(function, skipped)``: the user's function a call of ``callee`` runs (a function, a
    bound method's function, an object's ``__call__``) and how many of its parameters the
    call does not give (1 for ``self``); ``(None, 0)`` for anything else."""
    if is_user_function(callee):
        return callee, 0
    if inspect.ismethod(callee) and is_user_function(callee.__func__):
        return callee.__func__, 1
    method = inspect.getattr_static(type(callee), "__call__", None)
    return (method, 1) if is_user_function(method) else (None, 0)
