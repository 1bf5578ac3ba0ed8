"""``np.pad`` in the modes that copy entries of the array (``"constant"``, ``"edge"``,
``"wrap"``, ``"reflect"`` and ``"symmetric"``, ``reflect_type`` "even" or "odd"), in the array
and in a number ``constant_values``: the reverse rule and the tangent rule, side by side. Each
is a linear map (``runtime/padding_helpers.py``), so every order works. The other modes
(statistics and ramps) are refused where the derivative is asked for, naming the modes that
are differentiated and ``np.concatenate`` of slices as the way out."""

import numpy as np

from ..runtime.padding_helpers import pad_copies, pad_fill, unpad_copies, unpad_fill
from .registry import adjoint, d, static, tangent


@adjoint(np.pad)
def _pad(z, array, pad_width, mode="constant", constant_values=0, reflect_type="even", **kwargs):
    d[array] += unpad_copies(d[z], array, pad_width, mode, reflect_type)
    if static(mode == "constant"):
        d[constant_values] += unpad_fill(d[z], array, pad_width, constant_values)


@tangent(np.pad)
def _pad_tangent(
    z, array, pad_width, mode="constant", constant_values=0, reflect_type="even", **kwargs
):
    d[z] += pad_copies(d[array], pad_width, mode, reflect_type)
    if static(mode == "constant"):
        d[z] += pad_fill(d[constant_values], array, pad_width)
