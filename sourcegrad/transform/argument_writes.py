"""Writes in place into the arguments of the function the user differentiates (``x += v`` of
an array, ``y[0] = v``, ``bn["mean"] = m``, ``params["bn"]["mean"] = m``, ``hs.append(h)``,
``np.copyto(y, v)``, ``out=y``, a helper writing into the argument it is given).

The derivative computes from copies (every write of the core form makes a new value), so its
value and gradient are those of the function of the arguments' values on entry, as Python's
function computes them; at its end it leaves in the caller's objects what Python's call leaves
there (:func:`~sourcegrad.runtime.argument_writes.write_back`, emitted by the reverse pass).
What it writes back is told by *paths*: the objects, reached from the argument by constant
keys, that Python changes in place. A path that the function also gives a new object
(``bn["mean"] = m; bn["mean"] += 1``) has no one place in the caller's objects to write back:
refused. An argument the function binds anew (``p = dict(p)``) is its own from there on.
"""

from __future__ import annotations

import inspect

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .grown_items import grown_paths
from .in_place import MUTATORS
from .inline_methods import inline_writing_helpers, obstacle
from .mutations import given_to_writers
from .shallow_copies import refuse_shared_item_writes


def argument_writes(parsed, args: tuple | None, checked: bool = True, followed=()) -> tuple:
    """``(parameter, paths, line)`` of each argument of ``parsed``'s function (built for
    ``args``: a number, a string or a tuple is never changed in place) that it writes into in
    place, ``paths`` the key tuples of the objects it changes in place (``()``: the argument
    itself), ``line`` its first write; refused where the write cannot be mirrored (see the
    module docstring). Empty for a function that is not the one the user differentiates (not
    ``checked``, or generated code: a callee's writes are :mod:`.mutations`' and
    :mod:`.in_place`'s). ``followed``: the writes normalize makes through a name sharing an
    argument's memory (``Core.followed_writes``: ``x[1:][...] = w`` of ``w = x[1:]; w *= 2``)."""
    if not checked or args is None or parsed.filename.startswith("<sourcegrad"):
        return ()
    if not followed and _writes_nothing(parsed):
        return ()
    fn = inline_writing_helpers(parsed)  # (a helper's writes into them are the function's)
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    given = dict(zip(params, args))
    refuse_shared_item_writes(parsed, given)
    nodes = [n for tree in (fn, *followed) for n in S.walk(tree)]
    augmented = {id(n.target) for n in nodes if isinstance(n, gast.AugAssign)}
    rebound: dict = {}  # name -> the first line binding it anew
    for n in S.walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in augmented:
            line = getattr(n, "lineno", None) or 0
            rebound[n.id] = min(rebound.get(n.id, line), line)
    helpers = {name: (line, callee) for name, line, callee in given_to_writers(parsed, params, fn)}
    found: dict = {name: [] for name in helpers}  # parameter -> [(path, line, replaced)]
    for node in nodes:
        if id(node) in augmented:  # (`c[k] += v`: its target is no plain store)
            continue
        for root, path, replaced in _changed(node):  # (`d[k].append(v)`: each list of d)
            for held in grown_paths(node, path, given.get(root)) if root in params else ():
                found.setdefault(root, []).append((held, node.lineno, replaced))
    out = []
    for param, writes in found.items():
        example = given.get(param)
        if param not in given and param not in rebound:
            _refuse_shared_default(parsed, param, min(w[1] for w in writes))
        if not isinstance(example, (list, dict, np.ndarray)):
            continue  # (a number: `s += 1` gives the name a new value; a 0-d array is written)
        if param in rebound:  # (`p = dict(p)` first: the writes go into the function's own)
            first = min(w[1] for w in writes)
            if rebound[param] >= first:  # (the name may hold another object at the end)
                why = f"then gives `{param}` a new value (line {rebound[param]})"
                _refuse(parsed, param, example, first, why)
            continue
        if param in helpers:
            _refuse_helper(parsed, param, example, *helpers[param])
        for path, at, _ in writes:
            if path and path[-1] is None and _items_changeable(example, path[:-1]):
                why = f"an item of {_shown(param, path[:-1])} is reached by a computed key"
                _refuse(parsed, param, example, at, why)
        paths = {path[:-1] if path[-1:] == (None,) else path for path, _, r in writes if not r}
        for path, at, replaced in writes:
            inside = [w for w in writes if replaced and not w[2] and w[0][: len(path)] == path]
            if inside:  # (the write in place goes into the new object, not the caller's)
                why = f"{_shown(param, path)} is given a new object (line {at})"
                _refuse(parsed, param, example, min(w[1] for w in inside), why)
        line = min(w[1] for w in writes)
        out.append((param, tuple(sorted(paths, key=lambda p: (len(p), repr(p)))), line))
    return tuple(out)


#: NumPy functions that write into an argument given by position (not ``out``)
_NUMPY_WRITERS = frozenset({"copyto", "put", "place", "putmask", "fill_diagonal"})


def _writes_nothing(parsed) -> bool:
    """Whether ``parsed``'s function surely writes into no object: no augmented assignment,
    no item or attribute stored or deleted, and no call but of a NumPy function (``np.tanh``,
    ``np`` NumPy and never bound in the function) given no output: no ``out=``, no unpacked
    arguments, no more operands than a ufunc takes, at most two for another function
    (``np.sum(a, 0, None, out)``), none of those writing into one (``np.copyto``)."""
    fn = parsed.node
    bound = S.bound_names(fn)
    for node in S.walk(fn):
        cls = type(node)
        if cls is gast.AugAssign:
            return False
        if cls in (gast.Subscript, gast.Attribute) and type(node.ctx) is not gast.Load:
            return False
        if cls is gast.Call and not _reads_only(node, parsed.globals, bound):
            return False
    return True


def _reads_only(call, globals_: dict, bound: set) -> bool:
    """Whether ``call`` is one of a NumPy function that writes into none of its arguments
    (see :func:`_writes_nothing`)."""
    func = call.func
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)):
        return False
    if func.value.id in bound or globals_.get(func.value.id) is not np:
        return False
    if func.attr in _NUMPY_WRITERS or any(k.arg in ("out", None) for k in call.keywords):
        return False
    if any(isinstance(a, gast.Starred) for a in call.args):
        return False
    found = getattr(np, func.attr, None)
    most = found.nin if isinstance(found, np.ufunc) else 2
    return len(call.args) <= most


def _changed(node) -> list:
    """``(root name, path, replaced)`` for what ``node`` changes: ``replaced`` False for an
    object changed in place at ``path``, True for an item given a new object (``d[k] = v``
    replaces ``path + (k,)``, besides changing ``d`` in place)."""
    if isinstance(node, gast.AugAssign):
        root, path = _chain(node.target)
        return [(root, path, False)] + _changed_item(node.target, plain=False)
    if isinstance(node, gast.Subscript) and isinstance(node.ctx, (gast.Store, gast.Del)):
        return _changed_item(node, plain=True)
    if isinstance(node, gast.Call):
        given = [k.value for k in node.keywords if k.arg == "out"]
        if isinstance(node.func, gast.Attribute):
            if node.func.attr == "copyto" and node.args:
                given.append(node.args[0])
            if node.func.attr in MUTATORS | {"fill"}:
                given.append(node.func.value)
        return [(*_chain(g), False) for g in given]
    return []


def _changed_item(target, plain: bool) -> list:
    """An item written (``c[k] = v``, ``c[k] += v``): ``c`` changed in place, and with a
    constant key under a plain assignment the item ``c[k]`` given a new object."""
    if not isinstance(target, gast.Subscript):
        return []
    root, path = _chain(target.value)
    out = [(root, path, False)]
    whole = _chain(target)[1]
    if plain and None not in whole:
        out.append((root, whole, True))
    return out


def _chain(node) -> tuple:
    """``(root name, path)`` of ``p["bn"]["mean"]``: the name and the constant keys read
    from it, ending in None at the first key that is not a constant (``hs[t]``: an item of
    ``hs``); ``(None, ())`` where the root is no name."""
    keys = []
    while isinstance(node, gast.Subscript):
        keys.append(_key(node.slice))
        node = node.value
    if not isinstance(node, gast.Name):
        return None, ()
    keys.reverse()
    if None in keys:  # (the None kept: an item reached by a computed key)
        keys = keys[: keys.index(None) + 1]
    return node.id, tuple(keys)


def _items_changeable(example, path: tuple) -> bool:
    """Whether the object at ``path`` of ``example`` has items that a write can change in
    place (``hs[t] += v`` of a list of arrays; not ``x[i] += v`` of an array, nor of a list of
    numbers)."""
    for key in path:
        try:
            example = example[key]
        except (KeyError, IndexError, TypeError):
            return True
    if isinstance(example, np.ndarray):
        return False
    items = example.values() if isinstance(example, dict) else example
    return any(isinstance(v, (np.ndarray, list, dict)) for v in items)


def _key(node):
    if isinstance(node, gast.Constant) and isinstance(node.value, (str, int)):
        return node.value
    return None


def _shown(param: str, path: tuple) -> str:
    return param + "".join(f"[{k!r}]" for k in path)


def _refuse_shared_default(parsed, param: str, line) -> None:
    """A parameter left to its default (one object, made when the ``def`` ran) written into in
    place: Python's calls share it, each seeing what the calls before it left there."""
    default = inspect.signature(parsed.fn).parameters[param].default
    if isinstance(default, (list, dict, set, np.ndarray)):
        raise UnsupportedSyntaxError(
            f"{parsed.node.name}() writes into `{param}` in place, left to its default: one "
            f"{type(default).__name__} made when the `def` ran, which every call shares and "
            f"changes, so Python's value changes from call to call; pass `{param}` in the "
            f"call, or default it to None and make a new one (`{param} = [] if {param} is "
            "None else ...`)",
            parsed.filename,
            line,
        )


def _refuse(parsed, param: str, example, line, why: str) -> None:
    raise UnsupportedSyntaxError(
        f"{parsed.node.name}() writes into its argument `{param}` in place, and {why}: "
        f"the derivative cannot leave in the caller's {type(example).__name__} what Python's "
        f"call leaves in it; copy it first (`{param} = {param}.copy()`), or compute a new "
        f"value (`{param} = ...`)",
        parsed.filename,
        line,
    )


def _refuse_helper(parsed, param: str, example, line, callee: str) -> None:
    """A helper writing into an argument it is given, not inlined (:mod:`.inline_helpers`;
    the reason quoted): the derivative calls it with a copy (or runs its vjp, which changes
    nothing), so its write has no value to mirror."""
    why = obstacle(parsed.filename, line, callee.split(".")[-1])
    why = f" (not inlined: {why})" if why else ""
    raise UnsupportedSyntaxError(
        f"{parsed.node.name}() writes into its argument `{param}` in place through {callee}()"
        f"{why}: Python changes the caller's {type(example).__name__} too, and the derivative leaves "
        f"in the caller's objects the function's own writes only, not a helper's; make "
        f"{callee}() return the new value and assign it (`{param} = {callee}(...)`), or copy "
        f"it first (`{param} = {param}.copy()`)",
        parsed.filename,
        line,
    )
