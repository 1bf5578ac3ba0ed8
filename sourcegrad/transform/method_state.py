"""Methods called for their effect that keep a differentiated value in ``self`` (part of the
analysis pass).

``c.add(v)`` as a statement, where ``add`` does ``self.n += v``: the call's result is dropped,
so the derivative does not differentiate it; Python keeps ``v`` in ``c.n``, and a later read
of ``c.n`` would be a constant to the derivative (a silent zero gradient). Such a call is
refused where a differentiated value is passed and the caller reads the object after it.
The object's class is known from the argument it was passed as, or from the call that made it
(``c = Counter()``).
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .cfg import solve_backward
from .mutations import names_read_later
from .object_classes import class_of, method_node, self_store
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
        found = method_node(class_of(core, ops, receiver.id), call.func.attr)
        stored = self_store(found) if found is not None else None
        if stored is None:
            continue
        if not live:
            live.append(solve_backward(cfg, set(), names_read_later))
        if receiver.id in live[0].get(id(stmt), ()):
            attr, where = stored
            method = call.func.attr
            raise UnsupportedSyntaxError(
                f"`{core.parsed.line_text(stmt.lineno)}` is called for its effect: {method}() "
                f"keeps a differentiated value in `self.{attr}` ({where}), which is read after "
                "the call; sourcegrad follows values, not the state an object keeps: keep the "
                f"value in a local variable of the loss (`{attr} = {attr} + v`), or make "
                f"{method}() return it and use what it returns",
                core.parsed.filename,
                stmt.lineno,
            )
