"""Running NumPy on stand-in values (one-element arrays, zeros) to learn a dtype or a shape:
what that run warns is about the stand-ins, never about the user's values, so it is silenced."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np


@contextlib.contextmanager
def quietly():
    """A context in which NumPy neither warns nor raises for floating-point errors, and Python
    warnings (``Degrees of freedom <= 0``, ``Mean of empty slice``) are not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield
