"""The shapes of a binding that makes one name share another's memory, as
:mod:`.shared_writes` follows them: ``w = z``, ``w = z[basic index]``, ``w = np.asarray(z)``,
the views of all of ``z`` NumPy always makes (``w = z.T``, ``z.transpose()``,
``np.transpose(z)``: ``z[...]`` with the ``view_of`` fact on its index; ``z.reshape(z.shape)``:
``z[...]``), and the forms that hand ``z`` itself on, read statically: an item of a display by a constant
index (``[z, h][0]``, ``(z, 0.5 * h)[0]``, ``{"k": z}["k"]``, ``{"k": z}.get("k")``) and
``c or z`` of a falsy constant ``c``. A chained assignment of a name (``w = u = z``) is split into one binding per
target first, which Python's evaluation of ``z`` once makes no different."""

from __future__ import annotations

import gast

from . import syntax as S
from .node_facts import get_fact, set_fact

__all__ = ["conditional_shape", "link_shape", "sliced", "split_chained_links", "written_root"]


def link_shape(stmt):
    """``(w, z, idx, converted)`` of ``w = z[idx]`` (``idx`` None for ``w = z`` and the forms
    handing ``z`` itself on; with ``converted``, ``w = np.asarray(z)``: ``z`` itself where it
    is an array), or None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    if get_fact(stmt, "item_write") is not None or get_fact(stmt, "shared_link") is not None:
        return None
    target, value = stmt.targets[0], _handed_on(stmt.value)
    if not isinstance(target, gast.Name) or getattr(stmt, "lineno", None) is None:
        return None
    if isinstance(value, gast.Name) and value.id != target.id:
        return target.id, value.id, None, False
    if (
        isinstance(value, gast.Subscript)
        and isinstance(value.value, gast.Name)
        and value.value.id != target.id
    ):
        return target.id, value.value.id, value.slice, False
    whole = _whole_view(value)
    if whole is not None and whole[0].id != target.id:
        index = S.const(Ellipsis)
        if whole[1] is not None:
            set_fact(index, "view_of", whole[1])
        return target.id, whole[0].id, index, False
    if (
        isinstance(value, gast.Call)
        and S.dotted(value.func) in ("np.asarray", "np.asanyarray")
        and len(value.args) == 1
        and not value.keywords
        and isinstance(value.args[0], gast.Name)
        and value.args[0].id != target.id
    ):
        return target.id, value.args[0].id, None, True
    return None


def _whole_view(value):
    """``(z, "T")`` of ``z.T``, ``z.transpose()`` or ``np.transpose(z)`` (a view of all of
    ``z``, its axes reversed), ``(z, None)`` of ``z.reshape(z.shape)`` (a view of all of
    ``z``, as ``z[...]``); else None. NumPy makes each a view whatever ``z``'s layout."""
    if isinstance(value, gast.Attribute) and value.attr == "T":
        owner = value.value
        return (owner, "T") if isinstance(owner, gast.Name) else None
    if not isinstance(value, gast.Call) or value.keywords:
        return None
    func, args = value.func, value.args
    if S.dotted(func) == "np.transpose" and len(args) == 1 and isinstance(args[0], gast.Name):
        return args[0], "T"
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
        return None
    owner = func.value
    if func.attr == "transpose" and not args:
        return owner, "T"
    shape = args[0] if func.attr == "reshape" and len(args) == 1 else None
    if (
        isinstance(shape, gast.Attribute)
        and shape.attr == "shape"
        and getattr(shape.value, "id", None) == owner.id
    ):
        return owner, None
    return None


def conditional_shape(stmt):
    """``(w, z, [branch, branch])`` of ``w = a if c else b`` where ``a`` or ``b`` is ``z`` or
    ``z[idx]`` and the other one too, or something else (each branch: None for ``z``, the
    index, or the expression itself); else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not isinstance(target, gast.Name) or not isinstance(value, gast.IfExp):
        return None
    if get_fact(stmt, "shared_link") is not None or getattr(stmt, "lineno", None) is None:
        return None
    bases, branches = set(), []
    for branch in (value.body, value.orelse):
        if isinstance(branch, gast.Name):
            bases.add(branch.id)
            branches.append(None)
        elif isinstance(branch, gast.Subscript) and isinstance(branch.value, gast.Name):
            bases.add(branch.value.id)
            branches.append(branch.slice)
        else:
            branches.append(branch)
    if len(bases) != 1 or target.id in bases:
        return None
    return target.id, bases.pop(), branches


def _handed_on(value):
    """The name ``value`` surely evaluates to, by a form that hands an existing object on
    (see the module docstring); else ``value`` itself."""
    if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Constant):
        item = _display_item(value.value, value.slice.value)
    elif (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "get"
        and len(value.args) == 1
        and not value.keywords
        and isinstance(value.args[0], gast.Constant)
    ):
        item = _display_item(value.func.value, value.args[0].value)
    elif (
        isinstance(value, gast.BoolOp)
        and isinstance(value.op, gast.Or)
        and len(value.values) == 2
        and isinstance(value.values[0], gast.Constant)
        and not value.values[0].value
    ):
        item = value.values[1]
    else:
        item = None
    return item if isinstance(item, gast.Name) else value


def _display_item(display, key):
    """The item of a list, tuple or dict display at the constant ``key``, or None."""
    if isinstance(display, (gast.List, gast.Tuple)) and type(key) is int:
        elts = display.elts
        if any(isinstance(e, gast.Starred) for e in elts) or not -len(elts) <= key < len(elts):
            return None
        return elts[key]
    if isinstance(display, gast.Dict) and None not in display.keys:
        keys = [k.value if isinstance(k, gast.Constant) else k for k in display.keys]
        if all(type(k) in (str, int) for k in keys) and key in keys:
            return display.values[len(keys) - 1 - keys[::-1].index(key)]  # (the last wins)
    return None


def split_chained_links(body: list) -> None:
    """Split, in place, each ``w = u = z`` binding names to a name into ``w = z; u = z``, and
    each ``w, u = z, e`` binding a name to a name, where no value reads a name it binds, into
    ``w = z; u = e`` (nested blocks too, not nested functions)."""
    out = []
    for stmt in body:
        if not isinstance(stmt, gast.FunctionDef):
            for attr in ("body", "orelse"):
                inner = getattr(stmt, attr, None)
                if inner and isinstance(inner[0], gast.stmt):
                    split_chained_links(inner)
        pairs = _split_pairs(stmt)
        for target, value in pairs or ():
            made = gast.Assign(targets=[target], value=value, type_comment=None)
            out.append(gast.copy_location(made, stmt))
        if not pairs:
            out.append(stmt)
    body[:] = out


def _split_pairs(stmt) -> list | None:
    """``[(target, value)]`` of the bindings ``stmt`` splits into (see
    :func:`split_chained_links`), or None."""
    if not isinstance(stmt, gast.Assign) or get_fact(stmt, "shared_link") is not None:
        return None
    targets, value = stmt.targets, stmt.value
    if len(targets) == 1 and isinstance(targets[0], gast.Tuple) and isinstance(value, gast.Tuple):
        targets, values = targets[0].elts, value.elts
    elif len(targets) > 1:
        values = [S.clone(value) for _ in targets]
    else:
        return None
    if len(targets) != len(values) or not all(isinstance(t, gast.Name) for t in targets):
        return None
    if any(isinstance(v, gast.Starred) for v in values):
        return None
    bound = {t.id for t in targets}
    if len(bound) < len(targets) or any(S.names_in(v) & bound for v in values):
        return None  # (a value read before every name is bound)
    if not any(isinstance(v, gast.Name) for v in values):
        return None
    return list(zip(targets, values))


def sliced(index) -> bool:
    """Whether ``index`` (None for none) has a slice, ``...`` or ``None`` among its parts:
    an array's view, never an item of a container (nor a number)."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return index is not None and any(
        isinstance(p, gast.Slice) or (isinstance(p, gast.Constant) and p.value in (None, ...))
        for p in parts
    )


def written_root(stmt) -> str | None:
    """The name ``stmt`` writes into: ``y`` of ``y[k] = v``, ``y[k] += v`` or ``y += v``."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
    elif isinstance(stmt, gast.AugAssign):
        target = stmt.target
        if isinstance(target, gast.Name):
            return target.id
    else:
        return None
    if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
        return target.value.id
    return None
