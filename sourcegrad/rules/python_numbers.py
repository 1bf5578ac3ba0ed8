"""Python's own numeric functions on differentiated values: ``max`` and ``min`` (of two
operands or of one iterable), ``sorted``, ``pow``, the ``math`` module's functions of a float and the
``operator`` module's arithmetic.

The forward computes with the function the user wrote, so the value is Python's own; the
derivative of each ``math``/``operator`` function is the rule of the NumPy function that
computes the same (:data:`SAME_RULES`). ``max``/``min`` send the gradient to the operand
Python returns, found with Python's comparisons: on a tie the first, as Python picks it;
``sorted`` sends each item's gradient back to the position it came from (the order is found
again in the derivative by the same stable sort of the same keys).
"""

import math
import operator

import numpy as np

from ..runtime.python_helpers import (
    picked_adjoint,
    picked_tangent,
    sorted_adjoint,
    sorted_tangent,
    takes_first,
    takes_second,
)
from .facts import constant_rank, declare
from .registry import ADJOINTS, TANGENTS, adjoint, d, nondifferentiable, static, tangent

#: a function, and the function whose reverse and tangent rules are its rules
SAME_RULES = {
    math.exp: np.exp,
    math.expm1: np.expm1,
    math.log1p: np.log1p,
    math.log2: np.log2,
    math.log10: np.log10,
    math.sqrt: np.sqrt,
    math.sin: np.sin,
    math.cos: np.cos,
    math.tan: np.tan,
    math.asin: np.arcsin,
    math.acos: np.arccos,
    math.atan: np.arctan,
    math.sinh: np.sinh,
    math.cosh: np.cosh,
    math.tanh: np.tanh,
    math.asinh: np.arcsinh,
    math.acosh: np.arccosh,
    math.atanh: np.arctanh,
    math.fabs: np.fabs,
    math.degrees: np.degrees,
    math.radians: np.radians,
    math.atan2: np.arctan2,
    math.hypot: np.hypot,
    math.pow: np.power,
    math.fsum: sum,
    pow: np.power,
    operator.add: np.add,
    operator.sub: np.subtract,
    operator.mul: np.multiply,
    operator.truediv: np.true_divide,
    operator.neg: np.negative,
    operator.pos: np.positive,
    operator.pow: np.power,
    operator.matmul: np.matmul,
    operator.abs: abs,
}
if hasattr(math, "cbrt"):  # Python 3.11 on
    SAME_RULES[math.cbrt] = np.cbrt

for _fn, _same in SAME_RULES.items():
    ADJOINTS[_fn] = ADJOINTS[_same].with_key(_fn)
    TANGENTS[_fn] = TANGENTS[_same].with_key(_fn)


@adjoint(math.log)
def _math_log(z, x, base=None):
    if static(base is None):
        d[x] += d[z] / x
    else:
        d[x] += d[z] / (x * math.log(base))
        d[base] += -d[z] * z / (base * math.log(base))


@tangent(math.log)
def _math_log_tangent(z, x, base=None):
    if static(base is None):
        d[z] += d[x] / x
    else:
        d[z] += d[x] / (x * math.log(base))
        d[z] += -d[base] * z / (base * math.log(base))


@adjoint(math.erf)
def _math_erf(z, x):
    d[x] += d[z] * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x)


@tangent(math.erf)
def _math_erf_tangent(z, x):
    d[z] += d[x] * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x)


@adjoint(math.erfc)
def _math_erfc(z, x):
    d[x] += -d[z] * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x)


@tangent(math.erfc)
def _math_erfc_tangent(z, x):
    d[z] += -d[x] * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x)


@adjoint(max)
def _python_max(z, a, b=None, key=None):
    if static(b is None and key is None):  # max(iterable)
        d[a] += picked_adjoint(d[z], a, True)
    elif static(b is None):  # max(iterable, key=...)
        d[a] += picked_adjoint(d[z], a, True, key)
    elif static(key is None):
        d[a] += d[z] * takes_first(a, b, True)
        d[b] += d[z] * takes_second(a, b, True)
    else:
        d[a] += d[z] * takes_first(a, b, True, key)
        d[b] += d[z] * takes_second(a, b, True, key)


@tangent(max)
def _python_max_tangent(z, a, b=None, key=None):
    if static(b is None and key is None):
        d[z] += picked_tangent(d[a], a, True)
    elif static(b is None):
        d[z] += picked_tangent(d[a], a, True, key)
    elif static(key is None):
        d[z] += d[a] * takes_first(a, b, True)
        d[z] += d[b] * takes_second(a, b, True)
    else:
        d[z] += d[a] * takes_first(a, b, True, key)
        d[z] += d[b] * takes_second(a, b, True, key)


@adjoint(min)
def _python_min(z, a, b=None, key=None):
    if static(b is None and key is None):  # min(iterable)
        d[a] += picked_adjoint(d[z], a, False)
    elif static(b is None):  # min(iterable, key=...)
        d[a] += picked_adjoint(d[z], a, False, key)
    elif static(key is None):
        d[a] += d[z] * takes_first(a, b, False)
        d[b] += d[z] * takes_second(a, b, False)
    else:
        d[a] += d[z] * takes_first(a, b, False, key)
        d[b] += d[z] * takes_second(a, b, False, key)


@tangent(min)
def _python_min_tangent(z, a, b=None, key=None):
    if static(b is None and key is None):
        d[z] += picked_tangent(d[a], a, False)
    elif static(b is None):
        d[z] += picked_tangent(d[a], a, False, key)
    elif static(key is None):
        d[z] += d[a] * takes_first(a, b, False)
        d[z] += d[b] * takes_second(a, b, False)
    else:
        d[z] += d[a] * takes_first(a, b, False, key)
        d[z] += d[b] * takes_second(a, b, False, key)


@adjoint(sorted)
def _python_sorted(z, iterable, key=None, reverse=False):
    d[iterable] += sorted_adjoint(d[z], iterable, key, reverse)


@tangent(sorted)
def _python_sorted_tangent(z, iterable, key=None, reverse=False):
    d[z] += sorted_tangent(d[iterable], iterable, key, reverse)


nondifferentiable(
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose
)
declare(*(f for f in SAME_RULES if f.__module__ == "math"), rank=constant_rank(0))
declare(math.log, math.erf, math.erfc, rank=constant_rank(0))
declare(max, min, allocates="view")
