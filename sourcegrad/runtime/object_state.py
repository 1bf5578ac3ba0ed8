"""What the pure derivative does with the state objects keep (``self.cache = x`` in a layer's
forward): its adjoint sweep calls the vjp of each of the user's functions it called, which
runs the function's forward again, stores into objects included, in reverse order. The
objects' attributes are taken at the end of the forward sweep and put back after the
adjoint sweep, so that they hold what Python's run leaves in them (the last call's)."""

from __future__ import annotations

import types

import numpy as np

from .facts import helper

_NOT_STATE = (type, types.ModuleType, types.FunctionType, types.MethodType, np.ndarray)


@helper(constant=True)
def held_state(*objects) -> list:
    """``[(obj, its attributes)]`` of each object among ``objects`` and those they reach
    through their attributes and the lists, tuples and dicts these hold (once each): what a
    later :func:`put_back_state` restores."""
    held: list = []
    seen: set = set()
    stack = list(objects)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (_NOT_STATE, str, bytes, int, float, complex)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        else:
            state = getattr(obj, "__dict__", None)
            if type(state) is dict:
                held.append((obj, dict(state)))
                stack.extend(state.values())
    return held


@helper(constant=True)
def put_back_state(held: list) -> None:
    """Give each object of ``held`` (from :func:`held_state`) back the attributes it held."""
    for obj, state in held:
        vars(obj).update(state)
