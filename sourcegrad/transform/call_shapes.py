"""The shape of what a call of the user's function returns, for a shape-specialised build:
the callee analyzed for stand-ins of its arguments' shapes (``call_ranks.callee_analysis``),
asked for the shape of the name it returns by its own ``concrete_shapes`` (handed in)."""

from __future__ import annotations

import gast
import numpy as np

from .analysis import analyze
from .call_ranks import callee_analysis, example_read

__all__ = ["returned_shape"]


def returned_shape(op, env: dict, core, example_args, shapes_of) -> tuple | None:
    """``(shape, None)`` of what the call ``op`` (of the user's function) returns, its
    arguments known by ``env`` (name -> ``(shape, value)``, as ``concrete_shapes`` keeps
    them) or as reads of ``example_args``; None where that is not known."""

    def stand_in(atom):
        if isinstance(atom, gast.Constant):
            return atom.value
        known = env.get(atom.id) if isinstance(atom, gast.Name) else None
        if known is None or not (known[1] is None or type(known[1]) in (int, str)):
            return example_read(atom, core, example_args)
        shape, value = known  # value: an int, one of unknown value (a str saying so), or None
        if shape != ():
            return np.zeros(shape)
        return value if type(value) is int else 1 if value is not None else 0.5

    def read(analysis, values):
        returned = analysis.core.node.body[-1].value
        if not isinstance(returned, gast.Name):
            return None
        shape = shapes_of(analysis, values).get(returned.id)
        return None if shape is None else (shape, None)

    return callee_analysis(op, stand_in, analyze, read)
