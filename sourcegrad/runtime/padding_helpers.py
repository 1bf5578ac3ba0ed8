"""What the rule of ``np.pad`` calls (``sourcegrad/rules/padding.py``): its adjoint and
tangent in the modes that copy entries of the array (``"constant"``, ``"edge"``, ``"wrap"``,
``"reflect"``, ``"symmetric"``), and the derivative in a scalar ``constant_values``. Each is
linear in the derivative it maps; the other modes are refused with the way out."""

from __future__ import annotations

import numpy as np

from ..errors import SourcegradError
from .facts import helper

#: the modes whose padding is a linear map of the array
COPYING_MODES = ("constant", "edge", "wrap", "reflect", "symmetric")


def _refuse_mode(mode) -> None:
    if not (isinstance(mode, str) and mode in COPYING_MODES):
        raise SourcegradError(
            f"the derivative of np.pad(mode={mode!r}) is not supported; pad with one of the "
            f"modes {', '.join(map(repr, COPYING_MODES))}, or build the padding from slices "
            "of the array with np.concatenate"
        )


def _widths(a, pad_width):
    """``pad_width`` as one ``(before, after)`` pair of ints per axis of ``a``."""
    pairs = np.broadcast_to(np.asarray(pad_width), (np.ndim(a), 2))
    return [(int(lo), int(hi)) for lo, hi in pairs]


def _unpad_axis(g, axis, n, lo, hi, mode, reflect_type):
    """The adjoint of padding one axis of length ``n`` by ``(lo, hi)``: each padded entry's
    adjoint added into the entries it was copied (or, for ``reflect_type="odd"``, combined)
    from."""
    if lo == hi == 0:
        return g
    if mode == "constant":
        return np.take(g, np.arange(lo, lo + n), axis)
    moved = np.moveaxis(g, axis, 0)
    if reflect_type == "odd" and mode in ("reflect", "symmetric"):
        weights = np.pad(np.eye(n), ((lo, hi), (0, 0)), mode, reflect_type="odd")
        out = np.tensordot(weights, moved, axes=([0], [0]))
    else:
        source = np.pad(np.arange(n), (lo, hi), mode)
        out = np.zeros((n,) + moved.shape[1:], moved.dtype)
        np.add.at(out, source, moved)
    return np.moveaxis(out, 0, axis)


@helper(linear=("g",), like="a")
def unpad_copies(g, a, pad_width, mode="constant", reflect_type="even"):
    """The adjoint of ``np.pad(a, pad_width, mode, reflect_type=...)`` with respect to ``a``,
    for the modes of :data:`COPYING_MODES` (refused for the others). Linear in ``g``."""
    _refuse_mode(mode)
    out = np.asarray(g)
    for axis, ((lo, hi), n) in enumerate(zip(_widths(a, pad_width), np.shape(a))):
        out = _unpad_axis(out, axis, n, lo, hi, mode, reflect_type)
    return out


@helper(linear=("t",))
def pad_copies(t, pad_width, mode="constant", reflect_type="even"):
    """The tangent of ``np.pad(a, pad_width, mode, reflect_type=...)`` from the tangent ``t``
    of ``a``: ``t`` padded the same way (with zeros in constant mode; the fill's own tangent is
    :func:`pad_fill`'s). Refused for modes other than :data:`COPYING_MODES`."""
    _refuse_mode(mode)
    if mode == "constant":
        return np.pad(t, pad_width)
    if mode in ("reflect", "symmetric"):
        return np.pad(t, pad_width, mode, reflect_type=reflect_type)
    return np.pad(t, pad_width, mode)


def _fill_mask(a, pad_width):
    return np.pad(np.zeros(np.shape(a)), pad_width, constant_values=1.0)


def _refuse_fill(constant_values) -> None:
    if np.ndim(constant_values) != 0:
        raise SourcegradError(
            "the derivative of np.pad with respect to constant_values is supported for one "
            "number; pad once per side with np.concatenate for several fill values"
        )


@helper(linear=("g",))
def unpad_fill(g, a, pad_width, constant_values=0):
    """The adjoint of ``np.pad(a, pad_width, constant_values=c)`` with respect to a number
    ``c``: the sum of ``g`` over the padding. Linear in ``g``."""
    _refuse_fill(constant_values)
    return np.sum(np.asarray(g) * _fill_mask(a, pad_width))


@helper(linear=("t",))
def pad_fill(t, a, pad_width):
    """The tangent of ``np.pad(a, pad_width, constant_values=c)`` from the tangent ``t`` of a
    number ``c``: ``t`` on the padding, zero inside."""
    _refuse_fill(t)
    return t * _fill_mask(a, pad_width)
