"""Forward-mode (tangent) rules for NumPy's elementwise functions and Python's operators.

Each mirrors the reverse rule of the same key in ``elementwise.py`` (same parameter names).
A contribution must have the result's shape: ``broadcast_like`` where the operand alone may be
smaller than the result (``x + y`` with only ``x`` varying)."""

import numpy as np

from ..runtime.tangent_helpers import broadcast_like
from .registry import d, static, tangent

# ---------------------------------------------------------------- unary


@tangent(np.negative)
def _neg(z, x):
    d[z] += -d[x]


@tangent(np.positive)
def _pos(z, x):
    d[z] += d[x]


@tangent(np.exp)
def _exp(z, x):
    d[z] += d[x] * z


@tangent(np.exp2)
def _exp2(z, x):
    d[z] += d[x] * z * np.log(2.0)


@tangent(np.expm1)
def _expm1(z, x):
    d[z] += d[x] * (z + 1.0)


@tangent(np.log)
def _log(z, x):
    d[z] += d[x] / x


@tangent(np.log2)
def _log2(z, x):
    d[z] += d[x] / (x * np.log(2.0))


@tangent(np.log10)
def _log10(z, x):
    d[z] += d[x] / (x * np.log(10.0))


@tangent(np.log1p)
def _log1p(z, x):
    d[z] += d[x] / (1.0 + x)


@tangent(np.sqrt)
def _sqrt(z, x):
    d[z] += d[x] / (2.0 * z)


@tangent(np.cbrt)
def _cbrt(z, x):
    d[z] += d[x] / (3.0 * z * z)


@tangent(np.square)
def _square(z, x):
    d[z] += d[x] * (2.0 * x)


@tangent(np.reciprocal)
def _reciprocal(z, x):
    d[z] += -d[x] * z * z


@tangent(np.sin)
def _sin(z, x):
    d[z] += d[x] * np.cos(x)


@tangent(np.cos)
def _cos(z, x):
    d[z] += -d[x] * np.sin(x)


@tangent(np.tan)
def _tan(z, x):
    d[z] += d[x] * (1.0 + z * z)


@tangent(np.arcsin)
def _arcsin(z, x):
    d[z] += d[x] / np.sqrt(1.0 - x * x)


@tangent(np.arccos)
def _arccos(z, x):
    d[z] += -d[x] / np.sqrt(1.0 - x * x)


@tangent(np.arctan)
def _arctan(z, x):
    d[z] += d[x] / (1.0 + x * x)


@tangent(np.sinh)
def _sinh(z, x):
    d[z] += d[x] * np.cosh(x)


@tangent(np.cosh)
def _cosh(z, x):
    d[z] += d[x] * np.sinh(x)


@tangent(np.tanh)
def _tanh(z, x):
    d[z] += d[x] * (1.0 - z * z)


@tangent(np.arcsinh)
def _arcsinh(z, x):
    d[z] += d[x] / np.sqrt(x * x + 1.0)


@tangent(np.arccosh)
def _arccosh(z, x):
    d[z] += d[x] / np.sqrt(x * x - 1.0)


@tangent(np.arctanh)
def _arctanh(z, x):
    d[z] += d[x] / (1.0 - x * x)


@tangent(np.abs, np.absolute, np.fabs, abs)
def _abs(z, x):
    d[z] += d[x] * np.sign(x)


@tangent(np.deg2rad, np.radians)
def _deg2rad(z, x):
    d[z] += d[x] * (np.pi / 180.0)


@tangent(np.rad2deg, np.degrees)
def _rad2deg(z, x):
    d[z] += d[x] * (180.0 / np.pi)


@tangent(np.copy, np.asarray, float)
def _identity(z, x, *args, **kwargs):
    d[z] += d[x]


@tangent(np.array)
def _array(z, a, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    if static(ndmin == 0):
        d[z] += np.array(d[a])
    else:
        d[z] += np.reshape(d[a], np.shape(z))


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
    d[z] += d[y] * z * np.log(np.where(x == 0, 1, x))


@tangent(np.maximum, np.fmax)
def _maximum(z, x, y):
    d[z] += d[x] * (x >= y)
    d[z] += d[y] * (x < y)


@tangent(np.minimum, np.fmin)
def _minimum(z, x, y):
    d[z] += d[x] * (x <= y)
    d[z] += d[y] * (x > y)


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


@tangent(np.where)
def _where(z, condition, x, y):
    d[z] += np.where(condition, d[x], 0.0) * np.ones_like(z)
    d[z] += np.where(condition, 0.0, d[y]) * np.ones_like(z)


@tangent(np.clip)
def _clip(z, a, a_min=None, a_max=None):
    d[z] += d[a] * (z == a)
    d[z] += broadcast_like(d[a_min], z) * (z == a_min) * (z != a)
    d[z] += broadcast_like(d[a_max], z) * (z == a_max) * (z != a) * (z != a_min)
