"""``a + b`` where a side is a tuple or list of differentiated values whose items were not
known when the function was lowered: refused (part of analysis), since ``+`` would be taken
for an array sum; a side that is an array (made by NumPy or arithmetic, or held by a dict or
list display: ``d = {"v": x * 2}; d["v"] + [1.0, 2.0]``) makes it NumPy's elementwise sum."""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .calls import example_value
from .forms import Core
from .walk import walk_statements


def refuse_sequence_sums(core: Core, varied: dict) -> None:
    """``a + b`` of differentiated values where a side is a tuple or list whose items were not
    known when the function was lowered (tuples whose items are known are joined item by item
    then, and lists grow by append): ``+`` would be taken for an array sum."""
    made: dict = {p: [S.const(None)] for p in core.params}  # an argument: not known to be one
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            made.setdefault(stmt.targets[0].id, []).append(stmt.value)

    def sequence(atom, assumed=frozenset()) -> bool:
        """Whether ``atom`` is a tuple or list: a display, ``tuple(...)``/``list(...)``, or a
        join of one with anything (``ps = ps + f(w)`` in a loop: a list on every pass)."""
        if isinstance(atom, gast.Name) and atom.id in assumed:
            return True
        values = made.get(atom.id, ()) if isinstance(atom, gast.Name) else (atom,)
        inner = assumed | {atom.id} if isinstance(atom, gast.Name) else assumed
        return bool(values) and all(
            isinstance(v, (gast.Tuple, gast.List))
            or isinstance(v, gast.Call)
            and isinstance(v.func, gast.Name)
            and v.func.id in ("tuple", "list")
            or isinstance(v, gast.Name)  # a copy: `ps = ps_2`
            and sequence(v, inner)
            or isinstance(v, gast.BinOp)
            and isinstance(v.op, gast.Add)
            and (sequence(v.left, inner) or sequence(v.right, inner))
            and not (array(v.left) or array(v.right))
            for v in values
        )

    def array(atom, depth=0) -> bool:  # made by NumPy or arithmetic: `array + [1.0, 2.0]`
        if isinstance(atom, gast.Name) and isinstance(example_value(core, atom.id), np.ndarray):
            return True  # an argument's array read by path (`v = d["v"]`)
        values = made.get(atom.id, ()) if isinstance(atom, gast.Name) else (atom,)
        return bool(values) and all(_array_valued(v) or held(v, depth) for v in values)

    def held(value, depth) -> bool:  # `d["v"]` of `d = {"v": a}`, `a` an array
        item = _displayed_item(value, made) if depth < 8 else None
        return item is not None and array(item, depth + 1)

    for stmt in walk_statements(core.node.body):
        value = stmt.value if isinstance(stmt, gast.Assign) else None
        if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add)):
            continue
        sides = (value.left, value.right)
        before = varied.get(("in", id(stmt)), set())
        joined = [a for a in sides if sequence(a)]
        if joined and all(array(b) for a, b in (sides, sides[::-1]) if sequence(a)):
            if not any(S.names_in(a) & before for a in joined):
                continue  # constants added to an array elementwise
        if any(S.names_in(a) & before for a in sides) and joined:
            raise UnsupportedSyntaxError(
                f"`{core.parsed.line_text(stmt.lineno)}` joins a tuple or list of "
                "differentiated values whose items sourcegrad does not know when it builds "
                "the derivative; unpack it into a new display (`ps = [*ps, v]`), join "
                "displays or arguments (`args + (x,)`), or build a list with append or extend "
                "(`ps.extend(f(w))`)",
                core.parsed.filename,
                stmt.lineno,
            )


def _displayed_item(value, made: dict):
    """For ``d["k"]`` (``xs[0]``) of a name every binding of which is a dict (list) display:
    the atom each display holds there, where all hold the same; else None."""
    if not (
        isinstance(value, gast.Subscript)
        and isinstance(value.value, gast.Name)
        and isinstance(value.slice, gast.Constant)
    ):
        return None
    key, held = value.slice.value, set()
    for display in made.get(value.value.id, ()):
        if isinstance(display, gast.Dict):
            items = [
                v
                for k, v in zip(display.keys, display.values)
                if isinstance(k, gast.Constant) and k.value == key
            ]
        elif isinstance(display, (gast.List, gast.Tuple)) and type(key) is int:
            n = len(display.elts)
            items = [display.elts[key]] if -n <= key < n else []
        else:
            return None
        if len(items) != 1 or not isinstance(items[0], gast.Name):
            return None
        held.add(items[0].id)
    return S.name(held.pop()) if len(held) == 1 else None


def _array_valued(value) -> bool:
    """Whether a core value is sure to be a NumPy array or number: arithmetic or a call of a
    NumPy function."""
    return isinstance(value, (gast.BinOp, gast.UnaryOp)) or S.calls_module(value)
