"""The array module of an input (NumPy or CuPy) and the few special functions NumPy lacks.

Every kernel of :mod:`sourcegrad.nn` allocates through :func:`array_module` of its inputs, so
CuPy arrays stay on the device. CuPy is never imported here: a CuPy array can only exist once
the caller has imported it.
"""

from __future__ import annotations

import importlib
import math
from typing import TypeAlias

import numpy as np

from ..util.tree import (
    Array,
    array_module,  # noqa: F401  (the layers' array module)
)

#: scipy.special where scipy is installed (imported at the first erf: it costs about 150 ms)
_SPECIAL: list = []


def _scipy_special():
    """``scipy.special``, or None without scipy; its vectorised erf beats ``math.erf`` run
    element by element."""
    if not _SPECIAL:
        try:
            _SPECIAL.append(importlib.import_module("scipy.special"))
        except ImportError:  # pragma: no cover - exercised only where scipy is missing
            _SPECIAL.append(None)
    return _SPECIAL[0]


#: a size for both spatial axes, or one per axis (PyTorch's ``_size_2_t``)
IntPair: TypeAlias = int | tuple[int, int]


def pair(value: IntPair) -> tuple[int, int]:
    """``(v, v)`` for an int, the pair itself for a pair (PyTorch's ``_pair``)."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    first, second = value
    return (int(first), int(second))


def erf_values(x: Array) -> Array:
    """The error function, elementwise, in ``x``'s dtype (to within an ulp of ``math.erf``)."""
    xp = array_module(x)
    if xp is not np:
        return importlib.import_module("cupyx.scipy.special").erf(x)
    special = _scipy_special()
    if special is not None:
        return special.erf(x)
    x = np.asarray(x)
    flat = np.fromiter((math.erf(v) for v in x.ravel().tolist()), np.float64, x.size)
    return flat.reshape(x.shape).astype(x.dtype, copy=False)
