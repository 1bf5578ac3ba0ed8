"""Lowering a store into an object's attribute (``obj.attr = v``) to core form, or its
refusal (a mixin of the normalize pass's builder, through ``StatementLowering``)."""

from __future__ import annotations

import gast

from . import syntax as S
from .parse import resolve


class AttributeStores:
    """Attribute stores. Expects of the builder: ``fn`` (the function being lowered) and the
    methods ``refuse``, ``emit`` and ``simple``."""

    def store_attribute(self, target, value):
        """``obj.attr = v`` (a layer keeping its input for a backward pass it never runs
        here): stored as written, ``setattr(obj, "attr", v)`` in the core (emit prints it
        ``obj.attr = v``), where the function reads no
        attribute ``attr`` of any object (the derivative would read it as a constant);
        whoever calls this function is checked by :mod:`.method_state`. Refused otherwise."""
        root = target.value
        while isinstance(root, gast.Attribute):
            root = root.value
        if not isinstance(root, gast.Name):
            self.refuse_attribute_write(target, "=")
        reads = [n for n in S.walk(self.fn) if _reads_attribute(n, target.attr)]
        if isinstance(target.value, gast.Name) and self.made_alone(target.value.id):
            reads = [n for n in reads if not _of_another(n, target.value.id)]
        if reads:
            self.refuse(
                f"`{S.text(target)} = ...` keeps a value in an attribute that the function "
                f"reads (`.{target.attr}`): sourcegrad follows values, not the state an object "
                f"keeps; keep the value in a local variable (`{target.attr} = ...`) and read "
                "that, or keep the state outside the differentiated function",
                target,
            )
        store = S.call(S.name("setattr"), [target.value, S.const(target.attr), value])
        self.emit(gast.Expr(value=self.simple(store, "t")), temp=True)

    def made_alone(self, name: str) -> bool:
        """Whether ``name`` holds an object the function makes, ``name = Cls(...)`` (a class)
        its one binding, read only through its attributes: no other name reaches it, so
        ``other.attr`` reads another object."""
        named = [n for n in S.name_nodes(self.fn) if n.id == name]
        held = {id(n.value) for n in S.walk(self.fn) if isinstance(n, gast.Attribute)}
        if any(isinstance(n.ctx, gast.Load) and id(n) not in held for n in named):
            return False
        made = [
            s.value
            for s in S.walk(self.fn)
            if isinstance(s, gast.Assign) and [getattr(t, "id", None) for t in s.targets] == [name]
        ]
        stores = [n for n in named if not isinstance(n.ctx, gast.Load)]
        if len(made) != 1 or len(stores) != 1 or not isinstance(made[0], gast.Call):
            return False
        return isinstance(resolve(self.p, made[0].func, S.bound_names(self.fn)), type)

    def refuse_attribute_write(self, target, assign: str):
        """Refuse ``obj.attr = v`` (``assign`` "=") or ``obj.attr += v`` ("+=")."""
        self.refuse(
            f"`{S.text(target)} {assign} ...` changes an attribute of an object, which "
            "sourcegrad does not "
            "follow (it differentiates values, not the state an object keeps between calls): "
            "keep the value in a local variable (return it with `has_aux=True` if the caller "
            "needs it), or keep the state outside the differentiated function",
            target,
        )


def _of_another(node, name: str) -> bool:
    """Whether ``node`` is ``other.attr``, ``other`` a name other than ``name``."""
    value = getattr(node, "value", None) if isinstance(node, gast.Attribute) else None
    return isinstance(value, gast.Name) and value.id != name


def _reads_attribute(node, attr: str) -> bool:
    """Whether ``node`` reads the attribute ``attr`` of an object (``o.attr``, or ``getattr``
    / ``hasattr`` / ``vars`` / ``__dict__``, which may)."""
    if isinstance(node, gast.Attribute):
        if getattr(node, "state_on_entry", False):
            return False  # (`CELL_h = CELL.h` first: :mod:`.state_between_calls`)
        return isinstance(node.ctx, gast.Load) and node.attr in (attr, "__dict__")
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
        return node.func.id in ("getattr", "hasattr", "vars", "delattr")
    return False
