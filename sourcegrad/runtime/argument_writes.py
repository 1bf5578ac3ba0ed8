"""What a derivative does with the caller's objects that the function it differentiates writes
into (``x += v`` of an array argument, ``bn["mean"] = m``, ``hs.append(h)``): the derivative
computes from the values the arguments hold on entry, as Python's function does, and at its
end leaves in the caller's objects what Python's call leaves in them."""

from __future__ import annotations

import copy

import numpy as np

from ..errors import UnsupportedSyntaxError
from .facts import helper


def _at(obj, path: tuple):
    for key in path:
        obj = obj[key]
    return obj


def _reachable(obj, path: tuple, out: list) -> None:
    """``(path, object)`` of each array, list and dict in ``obj`` (``obj`` included)."""
    if isinstance(obj, np.ndarray):
        out.append((path, obj))
    elif isinstance(obj, dict):
        out.append((path, obj))
        for k, v in obj.items():
            _reachable(v, path + (k,), out)
    elif isinstance(obj, (list, tuple)):
        if not isinstance(obj, tuple):
            out.append((path, obj))
        for k, v in enumerate(obj):
            _reachable(v, path + (k,), out)


def _shown(names: tuple, path: tuple) -> str:
    return names[path[0]] + "".join(f"[{k!r}]" for k in path[1:])


@helper(constant=True)
def refuse_shared_writes(args: tuple, names: tuple, written: dict, where: str) -> None:
    """Refuse (an ``UnsupportedSyntaxError`` at ``where``, ``"file:line"`` of the first write)
    a call whose arguments share an object the function writes into in place: ``written``
    maps an argument's position to the paths of the objects it changes in place (``()``: the
    argument itself). Python's write would show through the other name too, which the
    derivative, computing from each argument's own value, would not see."""
    seen: list = []
    _reachable(args, (), seen)
    for i, paths in written.items():
        for path in paths:
            own = (i, *path)
            target = _at(args, own)
            array = isinstance(target, np.ndarray)
            for other, obj in seen:
                if other[: len(own)] == own or not other:
                    continue  # (itself, an object inside it, the arguments' tuple)
                if obj is target or (
                    array
                    and isinstance(obj, np.ndarray)
                    and np.may_share_memory(target, obj)
                    and np.shares_memory(target, obj)
                ):
                    file, _, line = where.rpartition(":")
                    raise UnsupportedSyntaxError(
                        f"the function writes into `{_shown(names, own)}` in place, and "
                        f"`{_shown(names, other)}` is the same object (or shares its "
                        f"memory): Python's write would show through both, and the derivative "
                        f"computes from each argument's own value; pass a copy "
                        f"(`.copy()`) as one of them",
                        file or None,
                        int(line) if line.isdigit() else None,
                    )


@helper(constant=True)
def write_back(caller, final, paths: tuple) -> None:
    """Leave in ``caller`` (an argument as the call got it) the value ``final`` the function
    left in it: each object at one of ``paths`` (``()``: ``caller`` itself) is the one Python
    changed in place, and gets its final contents (an array its values, a list its items, a
    dict its keys and values), the rest of ``final`` is taken as it is. Deeper paths first,
    so that a container changed in place keeps the objects changed in place inside it."""
    done: dict = {}
    for path in sorted(paths, key=len, reverse=True):
        target, value = _at(caller, path), _at(final, path)
        if not isinstance(target, (np.ndarray, list, dict)):
            continue  # (a number at a path: its container takes the new one)
        if value is not target:
            _write_into(target, value, path, done)
        done[path] = target


def _write_into(target, value, path: tuple, done: dict) -> None:
    def kept(key):  # an object changed in place inside this one stays itself
        return done.get(path + (key,), value[key])

    if isinstance(target, np.ndarray):
        if np.shape(value) != target.shape or not np.can_cast(
            np.result_type(value), target.dtype, "same_kind"
        ):
            raise UnsupportedSyntaxError(
                f"a write in place into an argument's {target.dtype} array of shape "
                f"{target.shape} gives it a {np.result_type(value)} value of shape "
                f"{np.shape(value)}, which NumPy refuses in place; compute a new value instead"
            )
        np.copyto(target, value, casting="same_kind")
    elif isinstance(target, list):
        target[:] = [kept(k) for k in range(len(value))]
    elif isinstance(target, dict):
        items = [(k, kept(k)) for k in value]
        target.clear()
        target.update(items)


@helper(constant=True)
def entry_structure(arg):
    """The containers of ``arg`` (lists, dicts, tuples, nested) copied, the rest shared: the
    structure a gradient takes from an argument whose containers are written back into
    before the gradient is built."""
    if isinstance(arg, (list, dict)):
        out = copy.copy(arg)
        for k in range(len(arg)) if isinstance(arg, list) else arg:
            out[k] = entry_structure(arg[k])
        return out
    if type(arg) is tuple:
        return tuple(entry_structure(v) for v in arg)
    return arg
