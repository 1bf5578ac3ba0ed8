"""What a name holds, as far as the syntax and the example arguments tell (part of normalize):
the names known to hold lists, ints, and numbers or arrays, for :mod:`.lists`, which rewrites
list operations only on names known to hold lists (``+`` and ``*`` on anything else keep
their meaning: arrays add, tuples concatenate)."""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S


def list_names(fn, examples) -> tuple:
    """``(lists, (ints, numbers))``: the names known to hold lists, ints and numbers or
    arrays (a list times an int repeats it, a list times anything else is NumPy's elementwise
    product; a list plus a number or array adds elementwise)."""
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    values = _assigned_values(fn)
    example = dict(zip(params, examples)) if examples is not None else {}
    # an argument's item (`d['hs']`) is known, like the argument, only from the example
    params = params + [k for k in values if "[" in k and k.split("[", 1)[0] in params]
    ints = _fixed_point(
        values, {p for p, v in example.items() if type(v) is int}, params, is_int_like
    )
    numeric_types = (np.ndarray, np.generic, float)
    arrays = {p for p, v in example.items() if isinstance(v, numeric_types)}
    arrays |= _argument_items(example, lambda v: isinstance(v, numeric_types))
    numbers = _fixed_point(values, arrays, params, lambda v, known: numeric(v, known, ints))
    list_args = {p for p, v in example.items() if type(v) is list}
    list_args |= _argument_items(example, lambda v: type(v) is list)
    kinds = (ints, numbers)
    lists = _greatest(values, list_args, params, lambda v, known: makes_list(v, known, kinds))
    return lists, kinds


def _argument_items(example: dict, holds) -> set:
    """The :func:`held_item` names of the items of the dict arguments in ``example``
    (argument name -> value) at string keys whose values ``holds(value)``."""
    return {
        f"{p}[{k!r}]"
        for p, v in example.items()
        if type(v) is dict
        for k, item in v.items()
        if type(k) is str and holds(item)
    }


def _assigned_values(fn) -> dict:
    """name -> the values assigned to it (None for one not known: an unpacked item, a loop
    variable other than a ``range``'s)."""
    values: dict = {}
    for node in S.walk(fn):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                if isinstance(t, gast.Name):
                    values.setdefault(t.id, []).append(node.value)
                elif _paired(t, node.value):  # `G, returns = 0.0, []`
                    for n, v in zip(t.elts, node.value.elts):
                        values.setdefault(n.id, []).append(v)
                else:  # (`xs[i] = v` leaves xs a list)
                    for n in S.walk(t):
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                            values.setdefault(n.id, []).append(None)  # unknown
        elif (
            isinstance(node, gast.For)
            and isinstance(node.target, gast.Name)
            and _is_range(node.iter)
        ):
            values.setdefault(node.target.id, []).append(S.const(0))  # an int
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign, gast.For, gast.NamedExpr)):
            target = node.target
            for n in S.walk(target):
                if isinstance(n, gast.Name) and not (
                    isinstance(node, gast.AugAssign) and isinstance(node.op, (gast.Add, gast.Mult))
                ):
                    values.setdefault(n.id, []).append(None)
    _held_values(fn, values)
    return values


def _paired(target, value) -> bool:
    """Whether ``target = value`` is ``a, b = x, y``: names and as many values, unstarred."""
    return (
        isinstance(target, gast.Tuple)
        and isinstance(value, gast.Tuple)
        and len(target.elts) == len(value.elts)
        and all(isinstance(n, gast.Name) for n in target.elts)
        and not any(isinstance(v, gast.Starred) for v in value.elts)
    )


def held_item(e):
    """``'d["hs"]'``, the name :func:`list_names` gives the item a constant string key
    reads out of a name (``d["hs"]``), or a constant index from the start (``hs[0]``), else
    None."""
    if (
        isinstance(e, gast.Subscript)
        and isinstance(e.value, gast.Name)
        and isinstance(e.slice, gast.Constant)
        and (type(e.slice.value) is str or type(e.slice.value) is int and e.slice.value >= 0)
    ):
        return f"{e.value.id}[{e.slice.value!r}]"
    return None


def _held_values(fn, values: dict) -> None:
    """Add to ``values`` the values put into a dict at a constant string key (``d["hs"] =
    v``, ``d = {"hs": v}``) or into a list display (``hs = [h, x]``: ``hs[0]``), under the name :func:`held_item` gives the item; None (not known)
    for an item of a name bound other than to dict displays (a global, a loop variable),
    written at a key known only when it runs, or whose method may change it. An argument's
    items are known from the example arguments, and the values put in (:func:`list_names`)."""
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    held: dict = {}
    opaque = set()
    for node in S.walk(fn):
        if (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and isinstance(node.func.value, gast.Name)
            and node.func.attr not in ("get", "keys", "values", "items", "copy")
        ):
            opaque.add(node.func.value.id)  # `d.setdefault("hs", v)`: changed by a method
        if not isinstance(node, gast.Assign):
            continue
        for t in node.targets:
            item = held_item(t)
            if item is not None:
                held.setdefault(item, []).append(node.value)
            elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                opaque.add(t.value.id)  # `d[k] = v`: any key
            elif isinstance(t, gast.Name) and isinstance(node.value, gast.List):
                for i, v in enumerate(node.value.elts):  # (a starred item: no index known)
                    if isinstance(v, gast.Starred):
                        opaque.add(t.id)
                    held.setdefault(f"{t.id}[{i}]", []).append(v)
            elif isinstance(t, gast.Name) and isinstance(node.value, gast.Dict):
                for k, v in zip(node.value.keys, node.value.values):
                    if isinstance(k, gast.Constant) and type(k.value) is str:
                        held.setdefault(f"{t.id}[{k.value!r}]", []).append(v)
                    else:
                        opaque.add(t.id)  # `**other` or a key known only when it runs
    displays = {
        name
        for name, kinds in values.items()
        if kinds and all(isinstance(v, (gast.Dict, gast.List)) for v in kinds)
    }
    for item, found in held.items():
        base = item.split("[", 1)[0]
        known = base not in opaque and (base in displays or base in params)
        values.setdefault(item, []).extend(found if known else [None])


def _fixed_point(values: dict, given: set, params: list, holds) -> set:
    """The names every assigned value of which ``holds(value, known)``, grown from ``given``
    to a fixed point (a list made from lists is a list); other arguments are not known."""
    known: set = set()
    changed = True
    while changed:
        changed = False
        for name in set(values) | given:
            if name in known or (name in params and name not in given):
                continue
            if all(v is not None and holds(v, known) for v in values.get(name, ())):
                known.add(name)
                changed = True
    return known


def _greatest(values: dict, given: set, params: list, holds) -> set:
    """As :func:`_fixed_point`, but shrunk from every candidate name: a name assigned from
    itself (``recent = recent[-2:]`` after ``recent = []``) holds a list where each of its
    values does, given that it does (its first assignment runs before the others)."""
    known = {n for n in set(values) | given if n not in params or n in given}
    known = {n for n in known if all(v is not None for v in values.get(n, ()))}
    changed = True
    while changed:
        changed = False
        for name in sorted(known):
            if not all(holds(v, known) for v in values.get(name, ())):
                known.discard(name)
                changed = True
    return known


def _is_range(e) -> bool:
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "range"


_INT_OPS = (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)


def is_int_like(e, ints) -> bool:
    """Whether ``e`` is sure to be an int: a literal, ``len(...)``, ``int(...)``, an item of a
    ``.shape``, a name known to hold one, and integer arithmetic of those."""
    if isinstance(e, gast.Constant):
        return type(e.value) in (int, bool)
    if isinstance(e, gast.Name):
        return e.id in ints
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Name):
        return e.func.id in ("len", "int")
    if isinstance(e, gast.Subscript) and isinstance(e.value, gast.Attribute):
        return e.value.attr == "shape"
    if isinstance(e, gast.BinOp) and isinstance(e.op, _INT_OPS):
        return is_int_like(e.left, ints) and is_int_like(e.right, ints)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        return is_int_like(e.operand, ints)
    return False


def makes_list(e, lists, kinds=(frozenset(), frozenset())) -> bool:
    """Whether ``e`` makes a list, given the names known to hold ``lists`` and the names
    ``kinds`` knows to hold ints and numbers (or arrays)."""
    ints, numbers = kinds
    if isinstance(e, (gast.List, gast.ListComp)):
        return True
    if isinstance(e, gast.Name):
        return e.id in lists
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "list":
        return True
    if held_item(e) in lists:  # `hs = d["hs"]`, where every item put there is a list
        return True
    if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Slice):
        return makes_list(e.value, lists)
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Add):
        left, right = makes_list(e.left, lists, kinds), makes_list(e.right, lists, kinds)
        # `array + [1.0, 2.0]` adds elementwise: a list joins only what may be a list
        return (left and not numeric(e.right, numbers, ints)) or (
            right and not numeric(e.left, numbers, ints)
        )
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
        # `[h] * n` repeats; `array * [1.0, 2.0]` multiplies elementwise
        return (makes_list(e.left, lists, kinds) and is_int_like(e.right, ints)) or (
            makes_list(e.right, lists, kinds) and is_int_like(e.left, ints)
        )
    return False


def numeric(e, numbers, ints=frozenset()) -> bool:
    """Whether ``e`` is sure not to be a list: a number, arithmetic, a NumPy call, a name in
    ``numbers`` or ``ints``."""
    if isinstance(e, gast.Constant):
        return isinstance(e.value, (int, float, complex))
    if isinstance(e, gast.Name):
        return e.id in numbers or e.id in ints
    if held_item(e) in numbers:  # `d["v"]`, where every item put there is a number or array
        return True
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Add):
        return numeric(e.left, numbers, ints) or numeric(e.right, numbers, ints)
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):  # not `[h] * n`
        left, right = numeric(e.left, numbers, ints), numeric(e.right, numbers, ints)
        return (left and right) or any(
            known and not is_int_like(side, ints)
            for known, side in ((left, e.left), (right, e.right))
        )
    if isinstance(e, (gast.BinOp, gast.UnaryOp)):
        return True
    return S.calls_module(e, (*S.ARRAY_MODULES, "math"))
