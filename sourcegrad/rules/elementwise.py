"""NumPy's elementwise functions, casts and Python's arithmetic operators: the reverse rule
and the tangent rule of each, side by side, and their rank, shape, dtype and allocation facts.

A tangent rule reads operand tangents ``d[x]`` and contributes ``d[z] += e`` of the result's
shape: ``broadcast_like`` where the operand alone may be smaller than the result (``x + y``
with only ``x`` varying). Functions of one argument have a diagonal Jacobian, its own
transpose: :func:`~.registry.diagonal_rule` derives their tangent rule from the reverse one.
"""

import gast
import numpy as np

from ..runtime.array_helpers import fill_tangents, through_cast
from ..runtime.helpers import sum_to, unclip
from ..runtime.tangent_helpers import broadcast_like, exponent_tangent, list_tangent
from ..runtime.trees import unlist
from .facts import (
    atom_rank,
    atom_shape,
    broadcast,
    constant_rank,
    declare,
    first_operand_rank,
    first_operand_shape,
    operand_ranks,
)
from .registry import (
    adjoint,
    d,
    diagonal_rule,
    nondifferentiable,
    not_differentiated,
    static,
    tangent,
)

# ---------------------------------------------------------------- unary


@diagonal_rule(np.negative)
def _neg(z, x):
    d[x] += -d[z]


@diagonal_rule(np.positive)
def _pos(z, x):
    d[x] += d[z]


@diagonal_rule(np.exp)
def _exp(z, x):
    d[x] += d[z] * z


@diagonal_rule(np.exp2)
def _exp2(z, x):
    d[x] += d[z] * z * np.log(2.0)


@diagonal_rule(np.expm1)
def _expm1(z, x):
    d[x] += d[z] * (z + 1.0)


@diagonal_rule(np.log)
def _log(z, x):
    d[x] += d[z] / x


@diagonal_rule(np.log2)
def _log2(z, x):
    d[x] += d[z] / (x * np.log(2.0))


@diagonal_rule(np.log10)
def _log10(z, x):
    d[x] += d[z] / (x * np.log(10.0))


@diagonal_rule(np.log1p)
def _log1p(z, x):
    d[x] += d[z] / (1.0 + x)


@diagonal_rule(np.sqrt)
def _sqrt(z, x):
    d[x] += d[z] / (2.0 * z)


@diagonal_rule(np.cbrt)
def _cbrt(z, x):
    d[x] += d[z] / (3.0 * z * z)


@diagonal_rule(np.square)
def _square(z, x):
    d[x] += d[z] * (2.0 * x)


@diagonal_rule(np.reciprocal)
def _reciprocal(z, x):
    d[x] += -d[z] * z * z


@diagonal_rule(np.sin)
def _sin(z, x):
    d[x] += d[z] * np.cos(x)


@diagonal_rule(np.cos)
def _cos(z, x):
    d[x] += -d[z] * np.sin(x)


@diagonal_rule(np.tan)
def _tan(z, x):
    d[x] += d[z] * (1.0 + z * z)


@diagonal_rule(np.arcsin)
def _arcsin(z, x):
    d[x] += d[z] / np.sqrt(1.0 - x * x)


@diagonal_rule(np.arccos)
def _arccos(z, x):
    d[x] += -d[z] / np.sqrt(1.0 - x * x)


@diagonal_rule(np.arctan)
def _arctan(z, x):
    d[x] += d[z] / (1.0 + x * x)


@diagonal_rule(np.sinh)
def _sinh(z, x):
    d[x] += d[z] * np.cosh(x)


@diagonal_rule(np.cosh)
def _cosh(z, x):
    d[x] += d[z] * np.sinh(x)


@diagonal_rule(np.tanh)
def _tanh(z, x):
    d[x] += d[z] * (1.0 - z * z)


@diagonal_rule(np.arcsinh)
def _arcsinh(z, x):
    d[x] += d[z] / np.sqrt(x * x + 1.0)


@diagonal_rule(np.arccosh)
def _arccosh(z, x):
    d[x] += d[z] / np.sqrt(x * x - 1.0)


@diagonal_rule(np.arctanh)
def _arctanh(z, x):
    d[x] += d[z] / (1.0 - x * x)


@diagonal_rule(np.abs, np.absolute, np.fabs, abs)
def _abs(z, x):
    d[x] += d[z] * np.sign(x)


@adjoint(np.copysign)
def _copysign(z, x1, x2):
    # |x1| with the sign of x2: a constant in x2
    d[x1] += sum_to(d[z] * np.sign(x1) * np.copysign(1.0, x2), x1)


@tangent(np.copysign)
def _copysign_tangent(z, x1, x2):
    d[z] += broadcast_like(d[x1] * np.sign(x1) * np.copysign(1.0, x2), z)


@diagonal_rule(np.deg2rad, np.radians)
def _deg2rad(z, x):
    d[x] += d[z] * (np.pi / 180.0)


@diagonal_rule(np.rad2deg, np.degrees)
def _rad2deg(z, x):
    d[x] += d[z] * (180.0 / np.pi)


@diagonal_rule(np.sinc)
def _sinc(z, x):
    # (cos(pi x) - sinc(x)) / x, and 0 at x = 0; there the branch is the tangent line of the
    # derivative (slope -pi^2 / 3), so that the rule is also right to second order at 0
    d[x] += d[z] * np.where(
        x == 0, -(np.pi**2 / 3.0) * x, (np.cos(np.pi * x) - z) / np.where(x == 0, 1.0, x)
    )


declare(np.sinc, rank=first_operand_rank, shape=first_operand_shape)


# np.conj and np.real of the real values sourcegrad differentiates are the identity (complex
# values made from differentiated ones are refused where they are made)
@diagonal_rule(np.copy, float, np.float64, np.float32, np.float16, "copy", "item", np.conj, np.real)
def _identity(z, x, *args, **kwargs):
    d[x] += d[z]


@adjoint("tolist")
def _tolist(z, x):  # z = x.tolist(): a float for a 0-d array, else (nested) lists of floats
    if static(np.ndim(x) == 0):
        d[x] += d[z]
    else:
        d[x] += unlist(d[z], x)


@tangent("tolist")
def _tolist_tangent(z, x):
    if static(np.ndim(x) == 0):
        d[z] += d[x]
    else:
        d[z] += list_tangent(d[x], x)


@adjoint(np.nan_to_num)
def _nan_to_num(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[x] += d[z] * np.isfinite(x)


@tangent(np.nan_to_num)
def _nan_to_num_tangent(z, x, copy=True, nan=0.0, posinf=None, neginf=None):
    d[z] += d[x] * np.isfinite(x)


# A cast to an integer or boolean dtype is piecewise constant: its derivative is zero
# (through_cast decides from the result's dtype when the derivative runs).


@adjoint("astype")
def _astype(z, x, dtype, *args, **kwargs):
    d[x] += through_cast(d[z], z)


@tangent("astype")
def _astype_tangent(z, x, dtype, *args, **kwargs):
    d[z] += through_cast(d[x], z)  # zero for a cast to an integer or boolean dtype


@adjoint(np.asarray)
def _asarray(z, x, dtype=None, *args, **kwargs):
    if static(dtype is None):
        d[x] += d[z]
    else:
        d[x] += through_cast(d[z], z)


@tangent(np.asarray)
def _asarray_tangent(z, x, dtype=None, *args, **kwargs):
    # `x` may be a list or tuple of values, some of them constants (their tangents None)
    if static(dtype is None):
        d[z] += np.asarray(fill_tangents(d[x], x))
    else:
        d[z] += through_cast(np.asarray(fill_tangents(d[x], x)), z)


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


@tangent(np.array)
def _array_tangent(z, a, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    # `a` may be a nested list of values, some of them constants (their tangents None)
    if static(ndmin == 0 and dtype is None):
        d[z] += np.array(fill_tangents(d[a], a))
    else:
        d[z] += through_cast(np.reshape(np.array(fill_tangents(d[a], a)), np.shape(z)), z)


# ---------------------------------------------------------------- binary (broadcasting)


@adjoint(np.add)
def _add(z, x, y):
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(d[z], y)


@tangent(np.add)
def _add_tangent(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += broadcast_like(d[y], z)


@adjoint(np.subtract)
def _subtract(z, x, y):
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z], y)


@tangent(np.subtract)
def _subtract_tangent(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += broadcast_like(-d[y], z)


@adjoint(np.multiply)
def _multiply(z, x, y):
    d[x] += sum_to(d[z] * y, x)
    d[y] += sum_to(x * d[z], y)


@tangent(np.multiply)
def _multiply_tangent(z, x, y):
    d[z] += d[x] * y
    d[z] += x * d[y]


@adjoint(np.true_divide, np.divide)
def _divide(z, x, y):
    d[x] += sum_to(d[z] / y, x)
    if static(x == 1):  # 1 / y: from the result alone, so y need not be kept
        d[y] += sum_to(-d[z] * z * z, y)
    else:
        d[y] += sum_to(-d[z] * z / y, y)


@tangent(np.true_divide, np.divide)
def _divide_tangent(z, x, y):
    d[z] += d[x] / y
    d[z] += -d[y] * z / y


# Constant exponents whose power rule NumPy would otherwise compute as a general power, tens of
# times slower than a product or a division (x ** -0.5 and x ** 3; x ** 2 is NumPy's square).
@adjoint(np.power)
def _power(z, x, y):
    if static(y == 0.5):
        d[x] += sum_to(d[z] * 0.5 / z, x)
    elif static(y == 4):
        d[x] += sum_to(d[z] * 4 * (x * x * x), x)
    elif static(y == 0):  # x ** 0 is 1 everywhere, 0 included
        d[x] += sum_to(d[z] * 0.0, x)
    elif static(y != 0):
        d[x] += sum_to(d[z] * y * x ** (y - 1), x)
    else:  # an exponent known when it runs: x ** 0 has slope 0 at x == 0 too, not 0 * inf
        d[x] += sum_to(d[z] * y * (x + ((x == 0) & (y == 0))) ** (y - 1), x)
    d[y] += sum_to(d[z] * z * np.log(np.where(x == 0, 1, x)), y)


@tangent(np.power)
def _power_tangent(z, x, y):
    if static(y == 0.5):
        d[z] += d[x] * 0.5 / z
    elif static(y == 4):
        d[z] += d[x] * 4 * (x * x * x)
    elif static(y == 0):
        d[z] += d[x] * 0.0
    elif static(y != 0):
        d[z] += d[x] * y * x ** (y - 1)
    else:
        d[z] += d[x] * y * (x + ((x == 0) & (y == 0))) ** (y - 1)
    d[z] += exponent_tangent(d[y], z, x)


@tangent(exponent_tangent)
def _exponent_tangent(out, dy, z, x):
    d[out] += exponent_tangent(d[dy], z, x)
    d[out] += exponent_tangent(dy, d[z], x)
    d[out] += dy * z * d[x] / np.where(x == 0, 1, x)


# At a tie (x == y) each operand gets half the gradient, as in HIPS autograd and JAX: the
# gradient is the same whichever operand is written first. (Written as two products of d[z],
# so that it stays in d[z]'s precision: 0.5 * (x == y) alone would be a float64 array.)
@adjoint(np.maximum, np.fmax)
def _maximum(z, x, y):
    d[x] += sum_to(d[z] * (x > y) + 0.5 * d[z] * (x == y), x)
    d[y] += sum_to(d[z] * (x < y) + 0.5 * d[z] * (x == y), y)


# half of each operand's tangent at a tie, as the reverse rule above
@tangent(np.maximum, np.fmax)
def _maximum_tangent(z, x, y):
    d[z] += d[x] * (x > y) + 0.5 * d[x] * (x == y)
    d[z] += d[y] * (x < y) + 0.5 * d[y] * (x == y)


@adjoint(np.minimum, np.fmin)
def _minimum(z, x, y):
    d[x] += sum_to(d[z] * (x < y) + 0.5 * d[z] * (x == y), x)
    d[y] += sum_to(d[z] * (x > y) + 0.5 * d[z] * (x == y), y)


@tangent(np.minimum, np.fmin)
def _minimum_tangent(z, x, y):
    d[z] += d[x] * (x < y) + 0.5 * d[x] * (x == y)
    d[z] += d[y] * (x > y) + 0.5 * d[y] * (x == y)


@adjoint(np.arctan2)
def _arctan2(z, x1, x2):
    d[x1] += sum_to(d[z] * x2 / (x1 * x1 + x2 * x2), x1)
    d[x2] += sum_to(-d[z] * x1 / (x1 * x1 + x2 * x2), x2)


@tangent(np.arctan2)
def _arctan2_tangent(z, x1, x2):
    d[z] += d[x1] * x2 / (x1 * x1 + x2 * x2)
    d[z] += -d[x2] * x1 / (x1 * x1 + x2 * x2)


# at hypot(0, 0) the subgradient 0, as for the norm (not 0 / 0)
@adjoint(np.hypot)
def _hypot(z, x1, x2):
    d[x1] += sum_to(d[z] * x1 / np.where(z == 0, 1, z), x1)
    d[x2] += sum_to(d[z] * x2 / np.where(z == 0, 1, z), x2)


@tangent(np.hypot)
def _hypot_tangent(z, x1, x2):
    d[z] += d[x1] * x1 / np.where(z == 0, 1, z)
    d[z] += d[x2] * x2 / np.where(z == 0, 1, z)


@adjoint(np.logaddexp)
def _logaddexp(z, x1, x2):
    # the weights exp(x - z), 0 where both are -inf (z too: no NaN from -inf - -inf)
    zf = np.where(z == -np.inf, 0.0, z)
    d[x1] += sum_to(d[z] * np.exp(x1 - zf), x1)
    d[x2] += sum_to(d[z] * np.exp(x2 - zf), x2)


@tangent(np.logaddexp)
def _logaddexp_tangent(z, x1, x2):
    zf = np.where(z == -np.inf, 0.0, z)
    d[z] += d[x1] * np.exp(x1 - zf)
    d[z] += d[x2] * np.exp(x2 - zf)


@adjoint(np.logaddexp2)
def _logaddexp2(z, x1, x2):
    zf = np.where(z == -np.inf, 0.0, z)
    d[x1] += sum_to(d[z] * np.exp2(x1 - zf), x1)
    d[x2] += sum_to(d[z] * np.exp2(x2 - zf), x2)


@tangent(np.logaddexp2)
def _logaddexp2_tangent(z, x1, x2):
    zf = np.where(z == -np.inf, 0.0, z)
    d[z] += d[x1] * np.exp2(x1 - zf)
    d[z] += d[x2] * np.exp2(x2 - zf)


@adjoint(np.remainder, np.mod, "mod")
def _remainder(z, x, y):
    # z = x - floor(x / y) * y, with floor(x / y) piecewise constant
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z] * np.floor_divide(x, y), y)


@tangent(np.remainder, np.mod, "mod")
def _remainder_tangent(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += -d[y] * np.floor_divide(x, y)


@adjoint(np.fmod)
def _fmod(z, x, y):
    # z = x - trunc(x / y) * y (C's fmod: the sign of x)
    d[x] += sum_to(d[z], x)
    d[y] += sum_to(-d[z] * np.trunc(x / y), y)


@tangent(np.fmod)
def _fmod_tangent(z, x, y):
    d[z] += broadcast_like(d[x], z)
    d[z] += -d[y] * np.trunc(x / y)


@adjoint(np.where)
def _where(z, condition, x, y):
    d[x] += sum_to(np.where(condition, d[z], 0.0), x)
    d[y] += sum_to(np.where(condition, 0.0, d[z]), y)


@tangent(np.where)
def _where_tangent(z, condition, x, y):
    d[z] += np.where(condition, d[x], 0.0) * np.ones_like(z)
    d[z] += np.where(condition, 0.0, d[y]) * np.ones_like(z)


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


@tangent(np.clip)
def _clip_tangent(z, a, a_min=None, a_max=None):
    d[z] += d[a] * (z == a)
    d[z] += broadcast_like(d[a_min], z) * (z == a_min) * (z != a)
    d[z] += broadcast_like(d[a_max], z) * (z == a_max) * (z != a) * (z != a_min)


nondifferentiable(
    np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.sign,
    np.floor_divide, np.heaviside,
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isinf, np.isfinite, np.signbit, np.isclose, np.allclose, np.array_equal,
    np.invert, np.bitwise_and, np.bitwise_or, np.bitwise_xor,
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
    round, int, bool, len, range, print, isinstance, type, str, repr, id, hash, hasattr,
    callable,
    "compare", "not", "invert", "floordiv", "format", "shape", "ndim", "size", "dtype",
)  # fmt: skip


# ---------------------------------------------------------------- facts


def _elementwise_rank(op, ranks):
    known = [r for r in operand_ranks(op, ranks) if r is not None]
    return max(known) if len(known) == len(op.operands) and known else None


def _elementwise_shape(op, known):
    if op.key.nin == 1:
        return first_operand_shape(op, known)
    if op.key.nin == 2 and len(op.operands) == 2:
        return broadcast(*(atom_shape(a, known) for a in op.operands))
    return None


def _selection_rank(op, ranks):  # np.where, np.clip: the broadcast of the operands given
    given = [a for a in op.operands if not (isinstance(a, gast.Constant) and a.value is None)]
    if op.key is np.where and len(op.operands) == 1:
        return None  # np.where(condition): a tuple of index arrays
    known = [atom_rank(a, ranks) for a in given]
    return max(known) if known and None not in known else None


def _where_shape(op, known):  # np.where(condition, x, y): the broadcast of the three
    if op.key is not np.where or len(op.operands) != 3:
        return None
    return broadcast(*(atom_shape(a, known) for a in op.operands))


# every ufunc without facts of its own (np.matmul has its own, in linalg.py)
declare(np.ufunc, rank=_elementwise_rank, shape=_elementwise_shape, dtype="ufunc")
# `C // nh`, `i % n`: the broadcast of the operands, as np.floor_divide's and np.remainder's
declare("floordiv", "mod", rank=_elementwise_rank)
declare("copy", "astype", np.copy, np.asarray, np.array, np.real, rank=first_operand_rank)
declare("copy", "astype", np.real, shape=first_operand_shape)
declare("copy", dtype="operand")
declare("item", float, rank=constant_rank(0))
declare(np.where, np.clip, rank=_selection_rank, allocates="new")
declare(np.where, shape=_where_shape)
declare(np.copy, allocates="new")
declare(np.asarray, np.array, allocates="view")
nondifferentiable(np.imag)  # zeros, for a real value
# numbers and shapes read from arrays
declare("shape", rank=constant_rank(1))  # a tuple of ints indexes like a vector
declare("ndim", "size", len, int, np.ndim, np.size, rank=constant_rank(0))


not_differentiated(
    np.nan_to_num, "the values put in place of NaN and infinities", "nan", "posinf", "neginf"
)
