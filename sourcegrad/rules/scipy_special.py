"""``scipy.special`` and ``scipy.stats.norm``: the reverse rule and the tangent rule of each
function, side by side, registered only where scipy imports (scipy is not a dependency).

Covered: ``expit``, ``logit``, ``erf``, ``erfc``, ``gammaln``, ``digamma`` (``psi``),
``polygamma`` (in ``x``; ``n`` is an integer), ``xlogy``, ``xlog1py``, ``entr``,
``rel_entr``, ``logsumexp`` (``axis``, ``keepdims``, ``b``), ``softmax``, ``log_softmax``
(``axis``), and the methods ``pdf``,
``logpdf``, ``cdf``, ``logcdf``, ``sf`` of ``scipy.stats.norm`` (``loc``, ``scale``). Every rule
is written with NumPy functions and these functions themselves, so second order works.
The other ``scipy.stats`` distributions' rules are in :mod:`.scipy_stats`, registered by the
same hook. Any other scipy function has no rule: it is refused (scipy's source is never
transformed).

The templates are defined whether or not scipy imports. They are registered for
``scipy.special``'s functions when that module is imported (at once where the program has
imported it already, else by an import hook), for ``scipy.stats.norm`` when ``scipy.stats``
is: ``import sourcegrad`` does not import them (``scipy.stats`` takes about a second). The
methods of ``scipy.stats.norm`` are keyed by the bound method (``scipy.stats.norm.pdf``): bound
methods of one object compare and hash equal, so the rule is found for the method object the
user's code names.
"""

import importlib
import importlib.abc
import importlib.util
import sys

import numpy as np

from ..runtime.helpers import expand_to, sum_to
from .facts import declare, first_operand_rank
from .registry import adjoint, d, diagonal_rule, not_differentiated, static, tangent
from .scipy_stats import register_stats_distributions

#: the ``scipy`` package the templates below read (``scipy.special.digamma``), bound when
#: ``scipy.special`` is imported (:func:`register_special`): importing it here cost 20 ms
scipy = None

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
    d[x] += d[z] * scipy.special.digamma(x)


def _digamma(z, x):
    d[x] += d[z] * scipy.special.polygamma(1, x)


def _polygamma(z, n, x):
    d[x] += sum_to(d[z] * scipy.special.polygamma(n + 1, x), x)


def _polygamma_tangent(z, n, x):
    d[z] += d[x] * scipy.special.polygamma(n + 1, x)


# xlogy(0, y) is 0 for every y, so its slope in y is 0 where x is 0, y = 0 included (not 0 / 0)
def _xlogy(z, x, y):
    d[x] += sum_to(d[z] * np.log(y), x)
    d[y] += sum_to(d[z] * x / np.where(x == 0, 1, y), y)


def _xlogy_tangent(z, x, y):
    d[z] += d[x] * np.log(y)
    d[z] += d[y] * x / np.where(x == 0, 1, y)


def _xlog1py(z, x, y):
    d[x] += sum_to(d[z] * np.log1p(y), x)
    d[y] += sum_to(d[z] * x / np.where(x == 0, 1, 1.0 + y), y)


def _xlog1py_tangent(z, x, y):
    d[z] += d[x] * np.log1p(y)
    d[z] += d[y] * x / np.where(x == 0, 1, 1.0 + y)


# entr(x) = -x log x and rel_entr(x, y) = x log(x / y) (0 where x is 0): slopes -(log x + 1),
# log(x / y) + 1 and -x / y, that last 0 where x is 0
def _entr(z, x):
    d[x] += -d[z] * (np.log(x) + 1.0)


def _entr_tangent(z, x):
    d[z] += -d[x] * (np.log(x) + 1.0)


def _rel_entr(z, x, y):
    d[x] += sum_to(d[z] * (np.log(x / y) + 1.0), x)
    d[y] += sum_to(-d[z] * x / np.where(x == 0, 1, y), y)


def _rel_entr_tangent(z, x, y):
    d[z] += d[x] * (np.log(x / y) + 1.0)
    d[z] += -d[y] * x / np.where(x == 0, 1, y)


# ---------------------------------------------------------------- along an axis
# (logsumexp's return_sign=True, a pair, is refused: the rules take no such argument)


def _logsumexp(z, a, axis=None, b=None, keepdims=False):
    # z = log sum(b exp(a)): dz/da = b exp(a - z), dz/db = exp(a - z); the weights are 0
    # where z is -inf (every term -inf: no NaN from -inf - -inf)
    weight = np.exp(a - expand_to(np.where(z == -np.inf, 0.0, z), a, axis, keepdims))
    if static(b is None):
        d[a] += expand_to(d[z], a, axis, keepdims) * weight
    else:
        d[a] += sum_to(expand_to(d[z], a, axis, keepdims) * b * weight, a)
        d[b] += sum_to(expand_to(d[z], a, axis, keepdims) * weight, b)


def _logsumexp_tangent(z, a, axis=None, b=None, keepdims=False):
    weight = np.exp(a - expand_to(np.where(z == -np.inf, 0.0, z), a, axis, keepdims))
    if static(b is None):
        d[z] += np.sum(weight * d[a], axis=axis, keepdims=keepdims)
    else:
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


def register_special(special) -> None:
    """Register the templates above for the functions of the module ``scipy.special``."""
    global scipy
    scipy = importlib.import_module("scipy")
    for key, rule in (
        (special.expit, _expit),
        (special.logit, _logit),
        (special.erf, _erf),
        (special.erfc, _erfc),
        (special.gammaln, _gammaln),
        (special.digamma, _digamma),  # scipy.special.psi is the same function
    ):
        diagonal_rule(key)(rule)
    for key, rule, tangent_rule in (
        (special.polygamma, _polygamma, _polygamma_tangent),
        (special.xlogy, _xlogy, _xlogy_tangent),
        (special.xlog1py, _xlog1py, _xlog1py_tangent),
        (special.entr, _entr, _entr_tangent),
        (special.rel_entr, _rel_entr, _rel_entr_tangent),
        (special.logsumexp, _logsumexp, _logsumexp_tangent),
        (special.softmax, _softmax, _softmax_tangent),
        (special.log_softmax, _log_softmax, _log_softmax_tangent),
    ):
        adjoint(key)(rule)
        tangent(key)(tangent_rule)
    declare(special.polygamma, special.logsumexp, allocates="new")
    not_differentiated(special.polygamma, "the order of the derivative, an integer", "n")
    declare(special.softmax, special.log_softmax, rank=first_operand_rank, allocates="new")


def register_stats(stats) -> None:
    """Register the templates above for the methods of ``stats.norm`` (module ``scipy.stats``),
    and those of ``scipy_stats`` for its other distributions."""
    norm = stats.norm
    for key, rule, tangent_rule in (
        (norm.pdf, _pdf, _pdf_tangent),
        (norm.logpdf, _logpdf, _logpdf_tangent),
        (norm.cdf, _cdf, _cdf_tangent),
        (norm.sf, _sf, _sf_tangent),
        (norm.logcdf, _logcdf, _logcdf_tangent),
    ):
        adjoint(key)(rule)
        tangent(key)(tangent_rule)
    declare(norm.pdf, norm.logpdf, norm.cdf, norm.logcdf, norm.sf, allocates="new")
    register_stats_distributions(stats)


class _ThenRegister(importlib.abc.Loader):
    """A module's own loader, followed by the registration of its rules once the module has
    run (any other attribute is the wrapped loader's)."""

    def __init__(self, loader, action):
        self.loader = loader
        self.action = action

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.action(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class RegisterOnImport(importlib.abc.MetaPathFinder):
    """Registers the rules of a module right after its first import, found by the finders
    after this one: importing ``scipy.stats`` takes about a second, which ``import
    sourcegrad`` should not cost a program that never uses it. Leaves ``sys.meta_path`` once
    every action has run."""

    def __init__(self, actions: dict):
        self.actions = dict(actions)

    def find_spec(self, name, path=None, target=None):
        action = self.actions.get(name)
        if action is None:
            return None
        others = sys.meta_path[sys.meta_path.index(self) + 1 :] if self in sys.meta_path else []
        for finder in others:
            spec = getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        del self.actions[name]
        if not self.actions:
            sys.meta_path.remove(self)
        spec.loader = _ThenRegister(spec.loader, action)
        return spec


def register_now_or_on_import(actions: dict) -> None:
    """Run each action on its module where it is imported already; the others on import."""
    later = {}
    for name, action in actions.items():
        if name in sys.modules:
            action(sys.modules[name])
        else:
            later[name] = action
    if later:
        sys.meta_path.insert(0, RegisterOnImport(later))


if importlib.util.find_spec("scipy") is not None:  # (optional; found, not imported: 20 ms)
    register_now_or_on_import({"scipy.special": register_special, "scipy.stats": register_stats})
