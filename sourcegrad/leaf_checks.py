"""What a differentiated argument holds, leaf by leaf, and why a leaf has no gradient: the
checks a derivative makes of the arguments it is built for (a refusal names the leaf)."""

from __future__ import annotations

import os

import numpy as np

from .runtime.containers import children, is_container
from .runtime.records import is_record, is_static_leaf
from .transform.plain_classes import refusal_of


def path_text(name: str, x, path: tuple) -> str:
    """``name`` followed by ``path`` into ``x`` as Python reads it: ``model.layers[0]``
    (a field of a record by attribute, an item of a container by index or key)."""
    text = name
    for k in path:
        record = is_record(x)
        text += f".{k}" if record and isinstance(k, str) else f"[{k!r}]"
        x = dict(children(x))[k]
    return text


def argument_leaves(x, path=(), in_record=False):
    """``(path, leaf, in_record)`` of every leaf of ``x``; ``in_record``: the leaf is a field
    of a record (a dataclass instance)."""
    if is_container(x):
        record = is_record(x)
        for k, v in children(x):
            yield from argument_leaves(v, path + (k,), record)
    else:
        yield path, x, in_record


def has_arrays(args) -> bool:
    """Whether an argument holds an array: only then can shapes specialise anything."""
    return any(hasattr(leaf, "shape") for a in args for _, leaf, _ in argument_leaves(a))


def one_scalar(args, wrt) -> bool:
    """Whether the gradient is taken with respect to a single float (a Python float, a NumPy
    floating scalar, or a 0-d floating array)."""
    if args is None or len(wrt) != 1 or wrt[0] >= len(args):
        return False
    x = args[wrt[0]]
    if type(x) is float:
        return True
    return isinstance(x, (np.generic, np.ndarray)) and x.ndim == 0 and x.dtype.kind == "f"


def _object_problem(cls) -> str:
    """Why an object of ``cls`` has no gradient: where ``cls`` is a plain class of the user's
    whose fields sourcegrad does not follow, the reason (its way out) and its line."""
    name = cls.__name__
    refused = refusal_of(cls)
    if refused is not None:
        reason, file, line = refused
        at = f" (at {os.path.basename(file)}:{line})" if file else ""
        text = f"{{where}} is an object of class {name}, whose fields sourcegrad does not follow: "
        text += f"{reason}{at}; or make {name} a dataclass, or pass its arrays in dicts, lists "
        text += "or tuples"
        return text.replace("{", "{{").replace("}", "}}").replace("{{where}}", "{where}")
    return (
        f"{{where}} is an object of class {name}; gradients are built for arrays and floats "
        "in dicts, lists, tuples, namedtuples and dataclasses: make "
        f"{name} a dataclass, or pass its arrays in one of those"
    )


def leaf_problem(leaf, in_record: bool, nested: bool = False) -> str | None:
    """Why the argument leaf ``leaf`` (named ``{where}`` in the text) has no gradient; None
    where it has one, or where it is a record's field that carries none (a number of layers,
    a name, an activation function: kept as it is in the gradient)."""
    if in_record and is_static_leaf(leaf):
        return None
    kind = getattr(getattr(leaf, "dtype", None), "kind", None)
    numeric = isinstance(leaf, (float, int, complex, np.generic)) or kind is not None
    if not numeric and leaf is not None and not isinstance(leaf, (str, bytes)):
        return _object_problem(type(leaf))
    if isinstance(leaf, complex) or kind == "c":
        return (
            "{where} is complex; sourcegrad differentiates with respect to real "
            "values: pass its real and imaginary parts ({where}.real, "
            "{where}.imag) as float arguments and build it inside the function"
        )
    if isinstance(leaf, (bool, int, np.integer)) and nested:
        kind_of = "a bool" if isinstance(leaf, (bool, np.bool_)) else "an integer"
        return (
            f"{{where}} is {kind_of} inside a differentiated argument, so it has no gradient: "
            "if it is a parameter, give it a float value (1.0, not 1); if it is a setting (a "
            "depth, a count, a flag), keep it out of the parameters: in an argument of its "
            "own, or as a field of a dataclass holding them (kept as it is in the gradient)"
        )
    if isinstance(leaf, (bool, int, np.integer)) or kind in ("i", "u", "b"):
        cast = "float({where})" if isinstance(leaf, (bool, int)) else "{where}.astype(float)"
        kind_of = "a bool" if isinstance(leaf, bool) or kind == "b" else "an integer"
        return (
            f"{{where}} is {kind_of}, so it has no gradient; pass floats (e.g. "
            + cast
            + "), or leave it out of wrt"
        )
    return None
