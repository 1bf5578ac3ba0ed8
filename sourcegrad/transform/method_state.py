"""Methods called for their effect that keep a differentiated value in ``self`` (part of the
analysis pass).

``c.add(v)`` as a statement, where ``add`` does ``self.n += v``: the call's result is dropped,
so the derivative does not differentiate it; Python keeps ``v`` in ``c.n``, and a later read
of ``c.n`` would be a constant to the derivative (a silent zero gradient). Such a call is
refused where a differentiated value is passed and the caller reads the object after it.
The object's class is known from the argument it was passed as, or from the call that made it
(``c = Counter()``).

The same holds for an object the function does not make (a global or enclosing variable):
``acts.append(h)``, ``setattr(box, "h", h)`` or ``layer.forward(x)`` keeping ``x`` in ``self``,
given a differentiated value, where the function reads that variable after the call.
"""

from __future__ import annotations

import io
import tokenize

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .cfg import solve_backward
from .inline_methods import obstacle
from .mutations import names_read_later
from .object_classes import class_of, method_node, self_store
from .parse import UNRESOLVED, resolve
from .rule_binding import local_names
from .walk import walk_statements


def refuse_method_state(core, ops: dict, varied: dict, cfg) -> None:
    """Refuse a statement ``obj.method(...)`` given a differentiated value (or on a
    differentiated object), where ``method``
    stores into an attribute of ``self`` and ``obj`` is read after the call."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return
    live: list = []
    for stmt in walk_statements(core.node.body):
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute)):
            continue
        receiver = call.func.value
        if not isinstance(receiver, gast.Name):
            continue
        operands = [receiver, *call.args, *(k.value for k in call.keywords)]
        before = varied.get(("in", id(stmt)), set())
        if not any(S.names_in(a) & before for a in operands):
            continue
        if receiver.id not in local_names(core):
            continue  # (:func:`refuse_outer_state`)
        found = method_node(class_of(core, ops, receiver.id), call.func.attr)
        stored = self_store(found) if found is not None else None
        if stored is None:
            continue
        if not live:
            live.append(solve_backward(cfg, set(), names_read_later))
        if receiver.id in live[0].get(id(stmt), ()):
            attr, where = stored
            method = call.func.attr
            why = obstacle(core.parsed.filename, stmt.lineno, method)
            why = f" (it is not inlined here: {why})" if why else ""
            written = _without_comment(core.parsed.line_text(stmt.lineno))  # (the user's text)
            raise UnsupportedSyntaxError(
                f"`{written}` is called for its effect: {method}() stores into `self.{attr}` "
                f"({where}), and the object is read after the call{why}; sourcegrad follows "
                f"values, not the state an object keeps: make {method}() return what it "
                f"computes and use that (`{attr} = {written}`), or keep the value in a local "
                "variable of the loss",
                core.parsed.filename,
                stmt.lineno,
            )


def refuse_outer_state(core, varied: dict, cfg) -> None:
    """Refuse a statement that keeps a differentiated value in an object the function does not
    make (``acts.append(h)``, ``setattr(box, "h", h)``, a method of a global object storing
    into ``self``) where the function reads that variable after it: the derivative would
    read the object's state as a constant."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return
    live: list = []
    for stmt in walk_statements(core.node.body):
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        held = _outer_receiver(core, call)
        if held is None:
            continue
        before = varied.get(("in", id(stmt)), set())
        if not any(S.names_in(a) & before for a in [*call.args, *(k.value for k in call.keywords)]):
            continue
        if not live:
            live.append(solve_backward(cfg, set(), names_read_later))
        if held in live[0].get(id(stmt), ()) and not _other_fields_read(core, call, held):
            raise UnsupportedSyntaxError(
                f"`{core.parsed.line_text(stmt.lineno)}` keeps a differentiated value in "
                f"`{held}`, which this function does not make (a global or enclosing "
                f"variable), and reads `{held}` after: sourcegrad follows values, not the state "
                "of objects outside the function; keep the value in a local variable (return "
                "it with `has_aux=True` where the caller needs it)",
                core.parsed.filename,
                stmt.lineno,
            )


def _other_fields_read(core, call, held: str) -> bool:
    """Whether ``call`` is ``setattr(held, "a", v)`` and the function reads of ``held``
    only its other fields (``held.W``; a cache a layer stores and never reads back here)."""
    attr = getattr(call.args[1], "value", None) if len(call.args) > 1 else None
    if not (getattr(call.func, "id", None) == "setattr" and isinstance(attr, str)):
        return False
    parents = S.parent_map(core.node)
    for node in S.name_nodes(core.node):
        if node.id != held:
            continue
        up = parents.get(id(node))
        if isinstance(up, gast.Attribute) and up.attr != attr:
            continue
        if isinstance(up, gast.Call) and getattr(up.func, "id", None) == "setattr":
            if up.args and up.args[0] is node:
                continue  # (a store)
        return False
    return True


def _outer_receiver(core, call) -> str | None:
    """The name of the global or enclosing object ``call`` changes: ``G.append(v)`` (a list's
    or dict's method), ``G.method(v)`` storing into ``self``, ``setattr(G, name, v)``."""
    if not isinstance(call, gast.Call):
        return None
    if isinstance(call.func, gast.Name) and call.func.id == "setattr" and call.args:
        target, attr = call.args[0], getattr(call.args[1], "value", None)
        if any((r, a) == (getattr(target, "id", None), attr) for r, a, _ in core.kept_state):
            return None  # (what the call leaves in the object: read as a local before)
        if isinstance(target, gast.Name) and target.id not in local_names(core):
            return target.id
        return None
    if not (isinstance(call.func, gast.Attribute) and isinstance(call.func.value, gast.Name)):
        return None
    name = call.func.value.id
    if name in local_names(core):
        return None
    if call.func.attr in S.CONTAINER_MUTATORS:
        return name
    obj = resolve(core.parsed, call.func.value, local_names(core))
    if obj is UNRESOLVED:
        return None
    found = method_node(type(obj), call.func.attr)
    return name if found is not None and self_store(found) is not None else None


def _without_comment(line: str) -> str:
    """``line`` (one line of source) without its trailing comment."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                return line[: token.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return line
