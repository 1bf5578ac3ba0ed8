"""Which names a value may share memory with (part of :mod:`.aliasing`): the name behind a
view, an item or a field (``y[1:]``, ``y.T``, ``np.flip(y)``, ``layer.W``), and the forms that
hand on one of several values as it is (``a if c else b``, ``d.get(k)``, ``[z, h][0]``)."""

from __future__ import annotations

import gast

_VIEW_METHODS = frozenset(
    {"reshape", "ravel", "transpose", "squeeze", "swapaxes", "view", "T", "flat", "real", "imag"}
)


#: NumPy functions whose result may share memory with their first argument
_VIEW_FUNCTIONS = frozenset(
    {
        "flip", "fliplr", "flipud", "asarray", "asanyarray", "ascontiguousarray",
        "asfortranarray", "require", "moveaxis", "rollaxis", "swapaxes", "transpose",
        "permute_dims", "matrix_transpose", "reshape", "ravel", "squeeze", "expand_dims",
        "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to", "broadcast_arrays",
        "diagonal", "real", "imag", "split", "array_split", "hsplit", "vsplit", "dsplit",
        "unstack", "sliding_window_view", "as_strided",
    }
)  # fmt: skip


#: attributes of an array that describe it, each a number, tuple or dtype of its own
_ARRAY_FACTS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"})


def _module_function(func) -> bool:
    """``np.squeeze`` and the like: a function of NumPy's module, not a method of an array."""
    return isinstance(func.value, gast.Name) and func.value.id in ("np", "numpy")


def _view_function(func) -> bool:
    """``np.flip`` and the like (by the name called; a user's own ``flip`` counts too, which
    can only make a refusal, never a wrong value)."""
    name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
    return name in _VIEW_FUNCTIONS


DISPLAYS = (gast.List, gast.Tuple, gast.Set, gast.Dict, gast.ListComp, gast.SetComp, gast.DictComp)


def source_name(value):
    """The name whose memory ``value`` may share (through indexing, views, ``np.flip`` and
    the like, an object's attributes), or None."""
    node = value
    while True:
        if isinstance(node, gast.Subscript):
            node = node.value
        elif isinstance(node, gast.Attribute) and node.attr in _ARRAY_FACTS:
            return None  # `x.shape[:2]`: a new tuple or number, whatever `x` holds
        elif isinstance(node, gast.Attribute):  # `y.T`, and an object's field: `layer.W`
            node = node.value
        elif (
            isinstance(node, gast.Call)
            and getattr(node.func, "id", None) in ("getattr", "vars")
            and node.args
        ):  # `getattr(layer, "W")`; `vars(layer)` is the object's own attribute dict
            node = node.args[0]
        elif (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr in _VIEW_METHODS
            and not _module_function(node.func)
        ):
            node = node.func.value
        elif isinstance(node, gast.Call) and _view_function(node.func) and node.args:
            node = node.args[0]  # np.flip(y), np.asarray(y), np.split(y, 2), ...
        else:
            break
    return node.id if isinstance(node, gast.Name) else None


def display_items(value) -> list:
    """The items of the container displays ``value`` makes (nested ones' items, either side
    of a choice)."""
    if isinstance(value, gast.IfExp):
        return display_items(value.body) + display_items(value.orelse)
    if isinstance(value, gast.BoolOp):
        return [i for v in value.values for i in display_items(v)]
    if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
        items = [e.value if isinstance(e, gast.Starred) else e for e in value.elts]
    elif isinstance(value, gast.Dict):
        items = [v for k, v in zip(value.keys, value.values) if k is not None]
    else:
        return []
    nested = [i for e in items for i in display_items(e)]
    return [e for e in items if not isinstance(e, DISPLAYS)] + nested


def is_element(value) -> bool:
    """``y[k]``, ``d.get(k)``, ``hs.pop()``, ``next(iter(hs))``: one item of a container or
    array, which shares memory with it only where it is more than a number; also where a
    choice hands on such an item or a new value (``y[n - 1] if n > 0 else 0.0``)."""
    if isinstance(value, gast.IfExp):
        parts = [v for v in (value.body, value.orelse) if value_sources(v)]
        return bool(parts) and all(is_element(v) for v in parts)
    if isinstance(value, gast.Subscript):
        return isinstance(value.value, gast.Name)
    if not isinstance(value, gast.Call):
        return False
    func = value.func
    if isinstance(func, gast.Attribute):
        return func.attr in ITEM_METHODS and isinstance(func.value, gast.Name)
    return isinstance(func, gast.Name) and func.id in ONE_OF_ARGUMENTS


#: methods of a container that return one of its items (or one of their arguments)
ITEM_METHODS = frozenset({"get", "pop", "setdefault", "popitem"})


#: builtins whose result is one of their arguments or items (``max(a, b)``, ``next(it)``);
#: ``list(hs)``, ``sorted(hs)`` and the like make a new container of the same items, which a
#: name of one of the items is linked to where it is read from it (``a = c[0]``)
ONE_OF_ARGUMENTS = frozenset({"max", "min", "next"})


def value_sources(value) -> set:
    """The names whose memory ``value`` may share: :func:`source_name` and, beyond views,
    every form that hands on one of several values as it is (``a if c else b``, ``a or b``,
    ``(y := a)``, ``d.get(k)``, ``hs.pop()``, ``next(iter(d.values()))``, ``max(a, b)``).
    A value made new (arithmetic, a NumPy function that allocates) has none."""
    if isinstance(value, gast.IfExp):
        return value_sources(value.body) | value_sources(value.orelse)
    if isinstance(value, gast.BoolOp):
        return set().union(*(value_sources(v) for v in value.values))
    if isinstance(value, gast.NamedExpr):
        return value_sources(value.value) | {value.target.id}
    if isinstance(value, gast.Call):
        func = value.func
        if isinstance(func, gast.Attribute) and func.attr in ITEM_METHODS | {"values", "items"}:
            extra = value.args[1:2] if func.attr in ("get", "setdefault") else []
            return item_sources(func.value).union(*(value_sources(a) for a in extra))
        if isinstance(func, gast.Name) and func.id in ONE_OF_ARGUMENTS:
            if len(value.args) > 1:
                return set().union(*(value_sources(a) for a in value.args))
            return set().union(*(item_sources(items_source(a)) for a in value.args))
    if isinstance(value, gast.Subscript) and isinstance(value.value, DISPLAYS):
        return item_sources(value.value)  # `[z, h][0]`, `(z, 0.5 * h)[0]`
    name = source_name(value)
    return {name} if name is not None else set()


def item_sources(container) -> set:
    """The names whose memory an item of ``container`` may share: those of each item of a
    display (``[z, 0.5 * z]``, ``{"k": z}``), else :func:`value_sources` of the container."""
    if isinstance(container, (gast.List, gast.Tuple, gast.Set)):
        items = [e.value if isinstance(e, gast.Starred) else e for e in container.elts]
        return set().union(*(_item_sources_of(e) for e in items))
    if isinstance(container, gast.Dict):
        return set().union(*(_item_sources_of(v) for v in container.values))
    return value_sources(container)


def _item_sources_of(item) -> set:
    return value_sources(item) if item is not None else set()


#: calls whose items are the items of their first argument (``reversed(hs)``)
ITEMS_OF_ARGUMENT = frozenset({"list", "tuple", "reversed", "sorted", "iter"})


def items_source(iterated):
    """``iterated`` seen through the calls that hand on another value's items: ``d.values()``
    and ``d.items()`` (the dict ``d``), ``reversed(hs)``, ``sorted(...)``, ``list(...)``."""
    node = iterated
    while isinstance(node, gast.Call):
        func = node.func
        if isinstance(func, gast.Name) and func.id in ITEMS_OF_ARGUMENT and node.args:
            node = node.args[0]
        elif isinstance(func, gast.Attribute) and func.attr in ("values", "items"):
            node = func.value
        else:
            break
    return node
