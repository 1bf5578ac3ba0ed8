"""What the arguments a derivative is built for say about the objects a core function reads:
the values a name may hold (a path read's, or the items of the list a loop takes it from),
whether an attribute is the class's rather than the instance's, whether an attribute holds an
object the instance carries (a layer called through it). Part of the analysis pass."""

from __future__ import annotations

import functools
import inspect
import types

import gast
import numpy as np

from ..runtime.records import is_bound_method
from . import syntax as S
from .calls import example_value
from .forms import Core
from .parse import UNRESOLVED, resolve
from .path_reads import follow_keys
from .rule_binding import local_names

FUNCTION_VALUES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    functools.partial,
    np.ufunc,
)


def receiver_examples(core: Core, name: str) -> list:
    """The values ``name`` may hold in the call the derivative is built for: a path read's
    value, or every item of the argument's list a loop variable is taken from
    (``blk = blocks[k]``); empty where that is not known."""
    example = example_value(core, name)
    if example is not UNRESOLVED:
        return [example]
    found = []
    for n in S.walk(core.node):
        if isinstance(n, gast.Assign) and any(
            isinstance(t, gast.Name) and t.id == name for t in n.targets
        ):
            found.append(n.value)
    if len(found) != 1 or not isinstance(found[0], gast.Subscript):
        return []
    seq = found[0].value
    items = example_value(core, seq.id) if isinstance(seq, gast.Name) else UNRESOLVED
    return list(items) if isinstance(items, (list, tuple)) else []


def holds(obj, attr: str) -> bool:
    """Whether ``obj.attr`` is an object held by the instance (a dataclass field, or an
    attribute its class does not define) that is no plain function."""
    fields = getattr(type(obj), "__dataclass_fields__", {})
    at_class = inspect.getattr_static(type(obj), attr, UNRESOLVED)
    if at_class is not UNRESOLVED and attr not in fields:
        return False
    held = getattr(obj, attr, None)
    return held is not None and not isinstance(held, FUNCTION_VALUES)


def class_attribute(owner, keys) -> bool:
    """Whether ``owner.<last key>`` reads a plain value of ``owner``'s class (a ``ClassVar``,
    a class-level hyperparameter) that the instance does not shadow: no field the gradient
    has."""
    if not keys or not isinstance(keys[-1], str) or owner is None:
        return False
    if isinstance(owner, (dict, list, tuple, np.ndarray, np.generic)):
        return False
    name = keys[-1]
    if name in getattr(owner, "__dict__", {}):
        return False
    at_class = inspect.getattr_static(type(owner), name, UNRESOLVED)
    # a property, slot or method (anything with `__get__`) computes from the instance
    return at_class is not UNRESOLVED and not hasattr(type(at_class), "__get__")


def path_owner(core: Core, path):
    """The object a path read ``(argument, keys)`` reads its last key from, in the call the
    derivative is built for; UNRESOLVED where that is not known."""
    root, keys = path
    example = core.example_args
    if not keys or example is None or root not in core.params:
        return UNRESOLVED
    i = core.params.index(root)
    if i >= len(example):
        return UNRESOLVED
    return follow_keys(example[i], keys[:-1], UNRESOLVED)


def reads_bound_method(core: Core, path) -> bool:
    """Whether the path read ends in a method bound to the object it is read from
    (``act = self.forward``): its derivative is that object's, which the method reads."""
    owner = path_owner(core, path)
    return owner is not UNRESOLVED and is_bound_method(owner, path[1][-1])


def object_attribute(core: Core, node) -> bool:
    """Whether ``obj.attr``, ``attr`` the name of an array attribute (``size``, ``T``,
    ``shape``), reads a field or method of an object of the user's class: ``obj`` holds such
    objects in the call the derivative is built for, or is bound once, to a call of the
    class (``aff = Affine(w, c)``)."""
    if not isinstance(node.value, gast.Name):
        return False
    name = node.value.id
    kinds = {type(v) for v in receiver_examples(core, name)}
    if not kinds:
        made = [
            n.value
            for n in S.walk(core.node)
            if isinstance(n, gast.Assign)
            and any(isinstance(t, gast.Name) and t.id == name for t in n.targets)
        ]
        if len(made) == 1 and isinstance(made[0], gast.Call):
            kinds = {resolve(core.parsed, made[0].func, local_names(core))}
    return bool(kinds) and all(_users_class(k) for k in kinds)


def _users_class(cls) -> bool:
    return (
        isinstance(cls, type)
        and not issubclass(cls, (np.ndarray, np.generic))
        and cls.__module__.split(".")[0] not in ("builtins", "numpy", "sourcegrad")
    )
