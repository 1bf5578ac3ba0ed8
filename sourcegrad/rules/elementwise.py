"""Rules for NumPy's elementwise functions and Python's arithmetic operators."""

import numpy as np

from ..runtime.array_helpers import through_cast
from ..runtime.helpers import sum_to, unclip
from .registry import adjoint, d, nondifferentiable, static

# ---------------------------------------------------------------- unary


@adjoint(np.negative)
def _neg(z, x):
    d[x] += -d[z]


@adjoint(np.positive)
def _pos(z, x):
    d[x] += d[z]


@adjoint(np.exp)
def _exp(z, x):
    d[x] += d[z] * z


@adjoint(np.exp2)
def _exp2(z, x):
    d[x] += d[z] * z * np.log(2.0)


@adjoint(np.expm1)
def _expm1(z, x):
    d[x] += d[z] * (z + 1.0)


@adjoint(np.log)
def _log(z, x):
    d[x] += d[z] / x


@adjoint(np.log2)
def _log2(z, x):
    d[x] += d[z] / (x * np.log(2.0))


@adjoint(np.log10)
def _log10(z, x):
    d[x] += d[z] / (x * np.log(10.0))


@adjoint(np.log1p)
def _log1p(z, x):
    d[x] += d[z] / (1.0 + x)


@adjoint(np.sqrt)
def _sqrt(z, x):
    d[x] += d[z] / (2.0 * z)


@adjoint(np.cbrt)
def _cbrt(z, x):
    d[x] += d[z] / (3.0 * z * z)


@adjoint(np.square)
def _square(z, x):
    d[x] += d[z] * (2.0 * x)


@adjoint(np.reciprocal)
def _reciprocal(z, x):
    d[x] += -d[z] * z * z


@adjoint(np.sin)
def _sin(z, x):
    d[x] += d[z] * np.cos(x)


@adjoint(np.cos)
def _cos(z, x):
    d[x] += -d[z] * np.sin(x)


@adjoint(np.tan)
def _tan(z, x):
    d[x] += d[z] * (1.0 + z * z)


@adjoint(np.arcsin)
def _arcsin(z, x):
    d[x] += d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arccos)
def _arccos(z, x):
    d[x] += -d[z] / np.sqrt(1.0 - x * x)


@adjoint(np.arctan)
def _arctan(z, x):
    d[x] += d[z] / (1.0 + x * x)


@adjoint(np.sinh)
def _sinh(z, x):
    d[x] += d[z] * np.cosh(x)


@adjoint(np.cosh)
def _cosh(z, x):
    d[x] += d[z] * np.sinh(x)


@adjoint(np.tanh)
def _tanh(z, x):
    d[x] += d[z] * (1.0 - z * z)


@adjoint(np.arcsinh)
def _arcsinh(z, x):
    d[x] += d[z] / np.sqrt(x * x + 1.0)


@adjoint(np.arccosh)
def _arccosh(z, x):
    d[x] += d[z] / np.sqrt(x * x - 1.0)


@adjoint(np.arctanh)
def _arctanh(z, x):
    d[x] += d[z] / (1.0 - x * x)


@adjoint(np.abs, np.absolute, np.fabs, abs)
def _abs(z, x):
    d[x] += d[z] * np.sign(x)


@adjoint(np.deg2rad, np.radians)
def _deg2rad(z, x):
    d[x] += d[z] * (np.pi / 180.0)


@adjoint(np.rad2deg, np.degrees)
def _rad2deg(z, x):
    d[x] += d[z] * (180.0 / np.pi)


@adjoint(np.copy, float, np.float64, np.float32, np.float16, "copy", "item")
def _identity(z, x, *args, **kwargs):
    d[x] += d[z]


@adjoint(np.sinc)
def _sinc(z, x):
    # (cos(pi x) - sinc(x)) / x, and 0 at x = 0
    d[x] += d[z] * np.where(x == 0, 0.0, (np.cos(np.pi * x) - z) / np.where(x == 0, 1.0, x))


@adjoint(np.nan_to_num)
def _nan_to_num(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[x] += d[z] * np.isfinite(x)


# A cast to an integer or boolean dtype is piecewise constant: its derivative is zero
# (through_cast decides from the result's dtype when the derivative runs).


@adjoint("astype")
def _astype(z, x, dtype, *args, **kwargs):
    d[x] += through_cast(d[z], z)


@adjoint(np.asarray)
def _asarray(z, x, dtype=None, *args, **kwargs):
    if static(dtype is None):
        d[x] += d[z]
    else:
        d[x] += through_cast(d[z], z)


@adjoint(np.array)
def _array(z, a, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    # `a` may be a nested list of values (np.array([[c, -s], [s, c]])): its items' adjoints
    # are the matching parts of d[z]
    if static(ndmin == 0 and dtype is None):
        d[a] += d[z]
    elif static(ndmin == 0):
        d[a] += through_cast(d[z], z)
    else:  # leading axes added
        d[a] += np.reshape(through_cast(d[z], z), np.shape(a))


# ---------------------------------------------------------------- binary (broadcasting)


@adjoint(np.add)
def _add(z, x, y):
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(d[z], y)


@adjoint(np.subtract)
def _subtract(z, x, y):
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z], y)


@adjoint(np.multiply)
def _multiply(z, x, y):
    d[x] += sum_to(d[z] * y, x)
    d[y] += sum_to(x * d[z], y)


@adjoint(np.true_divide, np.divide)
def _divide(z, x, y):
    d[x] += sum_to(d[z] / y, x)
    if static(x == 1):  # 1 / y: from the result alone, so y need not be kept
        d[y] += sum_to(-d[z] * z * z, y)
    else:
        d[y] += sum_to(-d[z] * z / y, y)


@adjoint(np.power)
def _power(z, x, y):
    d[x] += sum_to(d[z] * y * x ** (y - 1), x)
    d[y] += sum_to(d[z] * z * np.log(np.where(x == 0, 1, x)), y)


# At a tie (x == y) each operand gets half the gradient, as in HIPS autograd and JAX: the
# gradient is the same whichever operand is written first. (Written as two products of d[z],
# so that it stays in d[z]'s precision: 0.5 * (x == y) alone would be a float64 array.)
@adjoint(np.maximum, np.fmax)
def _maximum(z, x, y):
    d[x] += sum_to(d[z] * (x > y) + 0.5 * d[z] * (x == y), x)
    d[y] += sum_to(d[z] * (x < y) + 0.5 * d[z] * (x == y), y)


@adjoint(np.minimum, np.fmin)
def _minimum(z, x, y):
    d[x] += sum_to(d[z] * (x < y) + 0.5 * d[z] * (x == y), x)
    d[y] += sum_to(d[z] * (x > y) + 0.5 * d[z] * (x == y), y)


@adjoint(np.arctan2)
def _arctan2(z, x1, x2):
    d[x1] += sum_to(d[z] * x2 / (x1 * x1 + x2 * x2), x1)
    d[x2] += sum_to(-d[z] * x1 / (x1 * x1 + x2 * x2), x2)


@adjoint(np.hypot)
def _hypot(z, x1, x2):
    d[x1] += sum_to(d[z] * x1 / z, x1)
    d[x2] += sum_to(d[z] * x2 / z, x2)


@adjoint(np.logaddexp)
def _logaddexp(z, x1, x2):
    d[x1] += sum_to(d[z] * np.exp(x1 - z), x1)
    d[x2] += sum_to(d[z] * np.exp(x2 - z), x2)


@adjoint(np.logaddexp2)
def _logaddexp2(z, x1, x2):
    d[x1] += sum_to(d[z] * np.exp2(x1 - z), x1)
    d[x2] += sum_to(d[z] * np.exp2(x2 - z), x2)


@adjoint(np.remainder, np.mod, "mod")
def _remainder(z, x, y):
    # z = x - floor(x / y) * y, with floor(x / y) piecewise constant
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z] * np.floor_divide(x, y), y)


@adjoint(np.fmod)
def _fmod(z, x, y):
    # z = x - trunc(x / y) * y (C's fmod: the sign of x)
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z] * np.trunc(x / y), y)


@adjoint(np.where)
def _where(z, condition, x, y):
    d[x] += sum_to(np.where(condition, d[z], 0.0), x)
    d[y] += sum_to(np.where(condition, 0.0, d[z]), y)


@adjoint(np.clip)
def _clip(z, a, a_min=None, a_max=None):
    if static(a_min is None and np.ndim(a_max) == 0):
        d[a] += d[z] * (a <= a_max)
        d[a_max] += np.sum(d[z] * (a > a_max))
    elif static(a_max is None and np.ndim(a_min) == 0):
        d[a] += d[z] * (a >= a_min)
        d[a_min] += np.sum(d[z] * (a < a_min))
    elif static(np.ndim(a_min) == 0 and np.ndim(a_max) == 0):
        d[a] += d[z] * ((a >= a_min) & (a <= a_max))
        d[a_min] += np.sum(d[z] * (a < a_min))
        d[a_max] += np.sum(d[z] * (a > a_max))
    else:  # array bounds (broadcasting), or bounds known only at run time
        d[a] += unclip(d[z], a, a_min, a_max, 0)
        d[a_min] += unclip(d[z], a, a_min, a_max, 1)
        d[a_max] += unclip(d[z], a, a_min, a_max, 2)


nondifferentiable(
    np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.sign,
    np.floor_divide, np.heaviside,
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.isclose, np.allclose, np.array_equal,
    np.invert, np.bitwise_and, np.bitwise_or, np.bitwise_xor,
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
    round, int, bool, len, range, print, isinstance, type, str, repr, id, hash,
    "compare", "not", "invert", "floordiv", "format", "shape", "ndim", "size", "dtype",
)  # fmt: skip
