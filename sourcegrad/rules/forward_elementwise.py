"""Forward-mode (tangent) rules for NumPy's elementwise functions and Python's operators.

Each mirrors the reverse rule of the same key in ``elementwise.py`` (same parameter names).
A contribution must have the result's shape: ``broadcast_like`` where the operand alone may be
smaller than the result (``x + y`` with only ``x`` varying)."""

import numpy as np

from ..runtime.array_helpers import fill_tangents, through_cast
from ..runtime.tangent_helpers import broadcast_like, exponent_tangent
from .registry import d, diagonal, static, tangent

# ---------------------------------------------------------------- unary

# Elementwise functions of one argument: the Jacobian is diagonal, hence symmetric, so the
# tangent rule is the adjoint rule with d[x] and d[z] exchanged (see registry.diagonal).
diagonal(
    np.negative, np.positive, np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p,
    np.sqrt, np.cbrt, np.square, np.reciprocal, np.sin, np.cos, np.tan, np.arcsin, np.arccos,
    np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh, np.abs,
    np.absolute, np.fabs, abs, np.deg2rad, np.radians, np.rad2deg, np.degrees, np.copy, float,
    np.float64, np.float32, np.float16, np.sinc,
)  # fmt: skip


@tangent(np.nan_to_num)
def _nan_to_num(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[z] += d[x] * np.isfinite(x)


@tangent(np.asarray)
def _asarray(z, x, dtype=None, *args, **kwargs):
    if static(dtype is None):
        d[z] += d[x]
    else:
        d[z] += through_cast(d[x], z)


@tangent(np.array)
def _array(z, a, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    # `a` may be a nested list of values, some of them constants (their tangents None)
    if static(ndmin == 0 and dtype is None):
        d[z] += np.array(fill_tangents(d[a], a))
    else:
        d[z] += through_cast(np.reshape(np.array(fill_tangents(d[a], a)), np.shape(z)), z)


# ---------------------------------------------------------------- binary (broadcasting)


@tangent(np.add)
def _add(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += broadcast_like(d[y], z)


@tangent(np.subtract)
def _subtract(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += broadcast_like(-d[y], z)


@tangent(np.multiply)
def _multiply(z, x, y):
    d[z] += d[x] * y
    d[z] += x * d[y]


@tangent(np.true_divide, np.divide)
def _divide(z, x, y):
    d[z] += d[x] / y
    d[z] += -d[y] * z / y


@tangent(np.power)
def _power(z, x, y):
    d[z] += d[x] * y * x ** (y - 1)
    d[z] += exponent_tangent(d[y], z, x)


@tangent(exponent_tangent)
def _exponent_tangent(out, dy, z, x):
    d[out] += exponent_tangent(d[dy], z, x)
    d[out] += exponent_tangent(dy, d[z], x)
    d[out] += dy * z * d[x] / np.where(x == 0, 1, x)


# half of each operand's tangent at a tie, as the reverse rules (elementwise.py)
@tangent(np.maximum, np.fmax)
def _maximum(z, x, y):
    d[z] += d[x] * (x > y) + 0.5 * d[x] * (x == y)
    d[z] += d[y] * (x < y) + 0.5 * d[y] * (x == y)


@tangent(np.minimum, np.fmin)
def _minimum(z, x, y):
    d[z] += d[x] * (x < y) + 0.5 * d[x] * (x == y)
    d[z] += d[y] * (x > y) + 0.5 * d[y] * (x == y)


@tangent(np.arctan2)
def _arctan2(z, x1, x2):
    d[z] += d[x1] * x2 / (x1 * x1 + x2 * x2)
    d[z] += -d[x2] * x1 / (x1 * x1 + x2 * x2)


@tangent(np.hypot)
def _hypot(z, x1, x2):
    d[z] += d[x1] * x1 / z
    d[z] += d[x2] * x2 / z


@tangent(np.logaddexp)
def _logaddexp(z, x1, x2):
    d[z] += d[x1] * np.exp(x1 - z)
    d[z] += d[x2] * np.exp(x2 - z)


@tangent(np.logaddexp2)
def _logaddexp2(z, x1, x2):
    d[z] += d[x1] * np.exp2(x1 - z)
    d[z] += d[x2] * np.exp2(x2 - z)


@tangent(np.remainder, np.mod, "mod")
def _remainder(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += -d[y] * np.floor_divide(x, y)


@tangent(np.fmod)
def _fmod(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += -d[y] * np.trunc(x / y)


@tangent(np.where)
def _where(z, condition, x, y):
    d[z] += np.where(condition, d[x], 0.0) * np.ones_like(z)
    d[z] += np.where(condition, 0.0, d[y]) * np.ones_like(z)


@tangent(np.clip)
def _clip(z, a, a_min=None, a_max=None):
    d[z] += d[a] * (z == a)
    d[z] += broadcast_like(d[a_min], z) * (z == a_min) * (z != a)
    d[z] += broadcast_like(d[a_max], z) * (z == a_max) * (z != a) * (z != a_min)
