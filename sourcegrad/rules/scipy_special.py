"""``scipy.special`` and ``scipy.stats.norm``: the reverse rule and the tangent rule of each
function, side by side, registered only where scipy imports (scipy is not a dependency).

Covered: ``expit``, ``logit``, ``erf``, ``erfc``, ``gammaln``, ``digamma`` (``psi``),
``polygamma`` (in ``x``; ``n`` is an integer), ``xlogy``, ``xlog1py``, ``logsumexp`` (``axis``,
``keepdims``, ``b``), ``softmax``, ``log_softmax`` (``axis``), and the methods ``pdf``,
``logpdf``, ``cdf``, ``logcdf``, ``sf`` of ``scipy.stats.norm`` (``loc``, ``scale``). Every rule
is written with NumPy functions and these functions themselves, so second order works.
Any other scipy function has no rule: it is refused (scipy's source is never transformed).

The templates are defined whether or not scipy imports, and registered (:func:`_register`)
only where it does. The methods of ``scipy.stats.norm`` are keyed by the bound method
(``scipy.stats.norm.pdf``): bound methods of one object compare and hash equal, so the rule is
found for the method object the user's code names.
"""

import numpy as np

from ..runtime.helpers import expand_to, sum_to
from .facts import declare, first_operand_rank
from .registry import adjoint, d, diagonal_rule, static, tangent

try:
    from scipy import special, stats
except ImportError:  # pragma: no cover - scipy is optional
    special = stats = None

#: the half log of 2 pi, in the normal density
HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))
#: 2 / sqrt(pi), the derivative of erf at 0
TWO_OVER_SQRT_PI = 2.0 / float(np.sqrt(np.pi))


# ---------------------------------------------------------------- elementwise


def _expit(z, x):
    d[x] += d[z] * (z * (1.0 - z))


def _logit(z, x):
    d[x] += d[z] / (x * (1.0 - x))


def _erf(z, x):
    d[x] += d[z] * (TWO_OVER_SQRT_PI * np.exp(-(x * x)))


def _erfc(z, x):
    d[x] += d[z] * (-TWO_OVER_SQRT_PI * np.exp(-(x * x)))


def _gammaln(z, x):
    d[x] += d[z] * special.digamma(x)


def _digamma(z, x):
    d[x] += d[z] * special.polygamma(1, x)


def _polygamma(z, n, x):
    d[x] += sum_to(d[z] * special.polygamma(n + 1, x), x)


def _polygamma_tangent(z, n, x):
    d[z] += d[x] * special.polygamma(n + 1, x)


def _xlogy(z, x, y):
    d[x] += sum_to(d[z] * np.log(y), x)
    d[y] += sum_to(d[z] * x / y, y)


def _xlogy_tangent(z, x, y):
    d[z] += d[x] * np.log(y)
    d[z] += d[y] * x / y


def _xlog1py(z, x, y):
    d[x] += sum_to(d[z] * np.log1p(y), x)
    d[y] += sum_to(d[z] * x / (1.0 + y), y)


def _xlog1py_tangent(z, x, y):
    d[z] += d[x] * np.log1p(y)
    d[z] += d[y] * x / (1.0 + y)


# ---------------------------------------------------------------- along an axis
# (logsumexp's return_sign=True, a pair, is refused: the rules take no such argument)


def _logsumexp(z, a, axis=None, b=None, keepdims=False):
    # z = log sum(b exp(a)): dz/da = b exp(a - z), dz/db = exp(a - z)
    if static(b is None):
        d[a] += expand_to(d[z], a, axis, keepdims) * np.exp(a - expand_to(z, a, axis, keepdims))
    else:
        weight = np.exp(a - expand_to(z, a, axis, keepdims))
        d[a] += sum_to(expand_to(d[z], a, axis, keepdims) * b * weight, a)
        d[b] += sum_to(expand_to(d[z], a, axis, keepdims) * weight, b)


def _logsumexp_tangent(z, a, axis=None, b=None, keepdims=False):
    if static(b is None):
        d[z] += np.sum(
            np.exp(a - expand_to(z, a, axis, keepdims)) * d[a], axis=axis, keepdims=keepdims
        )
    else:
        weight = np.exp(a - expand_to(z, a, axis, keepdims))
        d[z] += np.sum(b * weight * d[a], axis=axis, keepdims=keepdims)
        d[z] += np.sum(weight * d[b], axis=axis, keepdims=keepdims)


def _softmax(z, x, axis=None):
    d[x] += z * (d[z] - np.sum(d[z] * z, axis=axis, keepdims=True))


def _softmax_tangent(z, x, axis=None):
    d[z] += z * (d[x] - np.sum(d[x] * z, axis=axis, keepdims=True))


def _log_softmax(z, x, axis=None):
    d[x] += d[z] - np.exp(z) * np.sum(d[z], axis=axis, keepdims=True)


def _log_softmax_tangent(z, x, axis=None):
    d[z] += d[x] - np.sum(np.exp(z) * d[x], axis=axis, keepdims=True)


# ---------------------------------------------------------------- scipy.stats.norm
# in x, loc and scale, with t = (x - loc) / scale


def _pdf(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[x] += sum_to(-d[z] * z * t / scale, x)
    d[loc] += sum_to(d[z] * z * t / scale, loc)
    d[scale] += sum_to(d[z] * z * (t * t - 1.0) / scale, scale)


def _pdf_tangent(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[z] += -d[x] * z * t / scale
    d[z] += d[loc] * z * t / scale
    d[z] += d[scale] * z * (t * t - 1.0) / scale


def _logpdf(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[x] += sum_to(-d[z] * t / scale, x)
    d[loc] += sum_to(d[z] * t / scale, loc)
    d[scale] += sum_to(d[z] * (t * t - 1.0) / scale, scale)


def _logpdf_tangent(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[z] += -d[x] * t / scale
    d[z] += d[loc] * t / scale
    d[z] += d[scale] * (t * t - 1.0) / scale


def _cdf(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    density = np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[x] += sum_to(d[z] * density, x)
    d[loc] += sum_to(-d[z] * density, loc)
    d[scale] += sum_to(-d[z] * density * t, scale)


def _cdf_tangent(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[z] += d[x] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[z] += -d[loc] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[z] += -d[scale] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) * t / scale


def _sf(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    density = np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[x] += sum_to(-d[z] * density, x)
    d[loc] += sum_to(d[z] * density, loc)
    d[scale] += sum_to(d[z] * density * t, scale)


def _sf_tangent(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[z] += -d[x] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[z] += d[loc] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) / scale
    d[z] += d[scale] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI) * t / scale


def _logcdf(z, x, loc=0.0, scale=1.0):
    # the density over the cdf, as exp(log density - log cdf): no overflow in the tail
    t = (x - loc) / scale
    ratio = np.exp(-0.5 * (t * t) - HALF_LOG_2PI - z) / scale
    d[x] += sum_to(d[z] * ratio, x)
    d[loc] += sum_to(-d[z] * ratio, loc)
    d[scale] += sum_to(-d[z] * ratio * t, scale)


def _logcdf_tangent(z, x, loc=0.0, scale=1.0):
    t = (x - loc) / scale
    d[z] += d[x] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI - z) / scale
    d[z] += -d[loc] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI - z) / scale
    d[z] += -d[scale] * np.exp(-0.5 * (t * t) - HALF_LOG_2PI - z) * t / scale


# ---------------------------------------------------------------- registration


def _register() -> None:
    """Register every template above for its scipy function, and their facts."""
    S, norm = special, stats.norm
    for key, rule in (
        (S.expit, _expit),
        (S.logit, _logit),
        (S.erf, _erf),
        (S.erfc, _erfc),
        (S.gammaln, _gammaln),
        (S.digamma, _digamma),  # scipy.special.psi is the same function
    ):
        diagonal_rule(key)(rule)
    for key, rule, tangent_rule in (
        (S.polygamma, _polygamma, _polygamma_tangent),
        (S.xlogy, _xlogy, _xlogy_tangent),
        (S.xlog1py, _xlog1py, _xlog1py_tangent),
        (S.logsumexp, _logsumexp, _logsumexp_tangent),
        (S.softmax, _softmax, _softmax_tangent),
        (S.log_softmax, _log_softmax, _log_softmax_tangent),
        (norm.pdf, _pdf, _pdf_tangent),
        (norm.logpdf, _logpdf, _logpdf_tangent),
        (norm.cdf, _cdf, _cdf_tangent),
        (norm.sf, _sf, _sf_tangent),
        (norm.logcdf, _logcdf, _logcdf_tangent),
    ):
        adjoint(key)(rule)
        tangent(key)(tangent_rule)
    fresh = (S.polygamma, S.logsumexp, norm.pdf, norm.logpdf, norm.cdf, norm.logcdf, norm.sf)
    declare(*fresh, allocates="new")
    declare(S.softmax, S.log_softmax, rank=first_operand_rank, allocates="new")


if special is not None:
    _register()
