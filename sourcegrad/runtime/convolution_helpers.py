"""Helpers for the derivatives of ``np.convolve`` and ``np.correlate``: the adjoint of each
operand of a 1-D convolution is a correlation of the output's adjoint, laid out as the full
convolution (``mode="same"`` and ``"valid"`` are slices of it). Linear in ``g``."""

from __future__ import annotations

import numpy as np

from .facts import helper


def _full(g, n: int, m: int, mode: str):
    """``g``, the adjoint of ``np.convolve(a, v, mode)`` (``len(a) == n``, ``len(v) == m``),
    as the adjoint of the full convolution: zeros where ``mode`` cut the full result."""
    if mode == "full":
        return g
    small = min(n, m)
    start = (small - 1) // 2 if mode == "same" else small - 1
    full = np.zeros(n + m - 1, dtype=np.result_type(g, 1.0))
    full[start : start + np.shape(g)[0]] = g
    return full


@helper(linear=("g", "other"))
def unconvolve(g, other, n, mode="full"):
    """The adjoint of the operand of length ``n`` in ``np.convolve`` of it and ``other`` in
    ``mode``, from the adjoint ``g`` of the result."""
    full = _full(g, n, np.shape(other)[0], mode)
    return np.correlate(full, other, "valid")
