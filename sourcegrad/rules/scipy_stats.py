"""Distributions of ``scipy.stats`` beyond ``norm`` (whose rules are in ``scipy_special``): the
reverse rule and the tangent rule of each method, registered when ``scipy.stats`` is imported.

Covered, in the arguments named (``u = (x - loc) / scale``):

* ``t``: ``logpdf``, ``pdf`` in ``x``, ``df``, ``loc``, ``scale``; ``cdf`` in ``x``, ``loc``,
  ``scale`` (its derivative in ``df`` has no closed form: refused when the derivative runs);
* ``gamma`` (``x``, ``a``, ``loc``, ``scale``), ``beta`` (``x``, ``a``, ``b``, ``loc``,
  ``scale``), ``chi2`` (``x``, ``df``, ``loc``, ``scale``), ``expon``, ``laplace``, ``logistic``
  (``x``, ``loc``, ``scale``): ``logpdf`` and ``pdf``, inside the support;
* ``poisson``: ``logpmf``, ``pmf`` in ``mu`` (a differentiated ``k`` or ``loc``, counts, is
  refused);
* ``multivariate_normal``: ``logpdf``, ``pdf`` in ``x`` (``(d,)``, or points along the last
  axis), ``mean`` and ``cov`` (a matrix, a diagonal or a scalar); the gradient in ``cov`` is the
  symmetric ``-(P - P r r^T P) / 2`` summed over the points, as autograd's. ``allow_singular``
  is not accepted: the rule refuses the call at the user's line;
* ``dirichlet``: ``logpdf``, ``pdf`` in ``x`` (components along the first axis, all of them or
  all but the last) and ``alpha``.

The values are scipy's own (the call runs as written); only the derivatives are formulas,
written with NumPy and ``scipy.special`` functions that have rules, so second order works.
A frozen distribution (``stats.t(df, loc, scale).logpdf(x)``) has no rule: it is refused as a
function value without one; call the method of the distribution with the parameters instead.

Most rules are written as *partials* templates: ``d[p] += e`` there states the partial
derivative of the result in ``p``, from which :func:`partials_rules` makes the reverse rule
(``d[p] += sum_to(d[z] * e, p)``) and the tangent rule (``d[z] += d[p] * e``). A density is
the exponential of its log-density, so each ``pdf`` rule is its ``logpdf`` rule with ``d[z]``
scaled by ``z`` (:func:`exponential_rule`).
"""

import copy
import dataclasses
import importlib

import gast
import numpy as np

from ..errors import SourcegradError
from ..runtime.helpers import sum_to
from ..runtime.tangent_helpers import broadcast_like
from .facts import atom_rank, atom_shape, broadcast, declare
from .registry import (
    ADJOINTS,
    TANGENTS,
    Rule,
    d,
    hashable_key,
    nondifferentiable,
    parse_template,
    static,
)

#: the ``scipy`` package the templates below read (``scipy.special.digamma``), bound when
#: ``scipy.stats`` is imported (:func:`register_stats_distributions`; it imports
#: ``scipy.special`` first): importing it here cost ``import sourcegrad`` 20 ms
scipy = None


def derivative_refused(reason: str):
    """Refuse, when the derivative runs, a derivative the rules do not compute (``reason``
    says which and the way out). A constant for differentiation, so a higher order refuses
    the same way."""
    raise SourcegradError(reason)


nondifferentiable(derivative_refused)


# ---------------------------------------------------------------- making rules from templates


def _d_of(name: str, ctx):
    return gast.Subscript(
        value=gast.Name(id="d", ctx=gast.Load(), annotation=None, type_comment=None),
        slice=gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None),
        ctx=ctx,
    )


def _load(name: str):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _call(fn: str, *args):
    return gast.Call(func=_load(fn), args=list(args), keywords=[])


def _is_d_of(node, name=None) -> bool:
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == "d"
        and isinstance(node.slice, gast.Name)
        and (name is None or node.slice.id == name)
    )


def _add_to(target: str, value):
    return gast.AugAssign(target=_d_of(target, gast.Store()), op=gast.Add(), value=value)


def partials_rules(template) -> tuple:
    """``(reverse rule, tangent rule)`` of a partials template: its statements ``d[p] += e``
    state ``dz/dp = e`` (of the result's shape, or broadcasting to it), the others compute
    locals both rules share."""
    rule = parse_template(template)
    z = rule.result
    reverse, forward = [], []
    for stmt in rule.body:
        if isinstance(stmt, gast.AugAssign) and _is_d_of(stmt.target):
            p = stmt.target.slice.id
            scaled = gast.BinOp(left=_d_of(z, gast.Load()), op=gast.Mult(), right=stmt.value)
            reverse.append(_add_to(p, _call(sum_to.__name__, scaled, _load(p))))
            moved = gast.BinOp(
                left=_d_of(p, gast.Load()), op=gast.Mult(), right=copy.deepcopy(stmt.value)
            )
            forward.append(_add_to(z, _call(broadcast_like.__name__, moved, _load(z))))
        elif isinstance(stmt, gast.Assign):
            reverse.append(stmt)
            forward.append(copy.deepcopy(stmt))
        else:
            raise SourcegradError(f"partials template at {rule.where}: assignments only")
    return dataclasses.replace(rule, body=reverse), dataclasses.replace(rule, body=forward)


class _ScaledByResult(gast.NodeTransformer):
    """Reverse rule: each read of ``d[z]`` becomes ``d[z] * z``. Tangent rule: each
    contribution ``d[z] += e`` becomes ``d[z] += z * e``."""

    def __init__(self, z: str, tangent: bool):
        self.z, self.tangent = z, tangent

    def visit_AugAssign(self, node):
        if self.tangent and _is_d_of(node.target, self.z):
            node.value = gast.BinOp(left=_load(self.z), op=gast.Mult(), right=node.value)
            return node
        node.value = self.visit(node.value)
        return node

    def visit_Subscript(self, node):
        if not self.tangent and _is_d_of(node, self.z) and isinstance(node.ctx, gast.Load):
            return gast.BinOp(left=node, op=gast.Mult(), right=_load(self.z))
        return self.generic_visit(node)


def exponential_rule(rule: Rule, tangent: bool) -> Rule:
    """The rule of ``exp(f)`` from ``rule``, the reverse (or tangent) rule of ``f``, which
    must read its result ``z`` for its shape alone (``z`` is then ``exp(f)``'s)."""
    scale = _ScaledByResult(rule.result, tangent)
    body = [scale.visit(copy.deepcopy(stmt)) for stmt in rule.body]
    return dataclasses.replace(rule, body=body)


def broadcast_rank(op, ranks: dict):
    """The rank of an elementwise method's result: the broadcast of its operands'."""
    known = [atom_rank(a, ranks) for a in op.operands]
    return max(known) if known and None not in known else None


def broadcast_shape(op, known: dict):
    """The shape of an elementwise method's result: the broadcast of its operands'."""
    return broadcast(*(atom_shape(a, known) for a in op.operands))


def register(key, reverse: Rule, forward: Rule, elementwise: bool) -> None:
    """``reverse`` and ``forward`` as the rules of ``key``, with its facts (an
    ``elementwise`` method's result has the broadcast shape of its operands)."""
    ADJOINTS[hashable_key(key)] = dataclasses.replace(reverse, key=key)
    TANGENTS[hashable_key(key)] = dataclasses.replace(forward, key=key)
    declare(key, allocates="new")
    if elementwise:
        declare(key, rank=broadcast_rank, shape=broadcast_shape)


def register_with_density(log_key, key, reverse: Rule, forward: Rule, elementwise: bool) -> None:
    """The rules of a log-density ``log_key`` and of its density ``key``."""
    register(log_key, reverse, forward, elementwise)
    register(key, exponential_rule(reverse, False), exponential_rule(forward, True), elementwise)


# ---------------------------------------------------------------- location-scale families
# partials templates; slope is the partial in x, so the partial in loc is -slope and the one
# in scale -(slope * u + 1 / scale)


def _t_logpdf(z, x, df, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    q = df + u * u
    slope = -(df + 1.0) * u / (q * scale)
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)
    d[df] += 0.5 * (
        scipy.special.digamma(0.5 * df + 0.5)
        - scipy.special.digamma(0.5 * df)
        - np.log(q / df)
        + (u * u - 1.0) / q
    )


def _t_cdf(z, x, df, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    density = np.exp(
        scipy.special.gammaln(0.5 * df + 0.5)
        - scipy.special.gammaln(0.5 * df)
        - 0.5 * np.log(np.pi * df)
        - (0.5 * df + 0.5) * np.log1p(u * u / df)
    )
    d[x] += density / scale
    d[loc] += -density / scale
    d[scale] += -density * u / scale
    d[df] += derivative_refused(
        "the derivative of scipy.stats.t.cdf in df has no closed form and is not computed; "
        "keep df a constant, or write the cdf with functions sourcegrad differentiates"
    )


def _gamma_logpdf(z, x, a, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    slope = ((a - 1.0) / u - 1.0) / scale
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)
    d[a] += np.log(u) - scipy.special.digamma(a)


def _beta_logpdf(z, x, a, b, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    slope = ((a - 1.0) / u - (b - 1.0) / (1.0 - u)) / scale
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)
    d[a] += np.log(u) - scipy.special.digamma(a) + scipy.special.digamma(a + b)
    d[b] += np.log1p(-u) - scipy.special.digamma(b) + scipy.special.digamma(a + b)


def _chi2_logpdf(z, x, df, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    slope = ((0.5 * df - 1.0) / u - 0.5) / scale
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)
    d[df] += 0.5 * (np.log(0.5 * u) - scipy.special.digamma(0.5 * df))


def _expon_logpdf(z, x, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    d[x] += -1.0 / scale
    d[loc] += 1.0 / scale
    d[scale] += (u - 1.0) / scale


def _laplace_logpdf(z, x, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    slope = -np.sign(u) / scale
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)


def _logistic_logpdf(z, x, loc=0.0, scale=1.0):
    u = (x - loc) / scale
    slope = -np.tanh(0.5 * u) / scale
    d[x] += slope
    d[loc] += -slope
    d[scale] += -(slope * u + 1.0 / scale)


def _poisson_logpmf(z, k, mu, loc=0):
    d[mu] += (k - loc) / mu - 1.0
    d[k] += derivative_refused(
        "scipy.stats.poisson is differentiated in mu only: k and loc count events; "
        "compute them from values that are not differentiated"
    )
    d[loc] += derivative_refused(
        "scipy.stats.poisson is differentiated in mu only: k and loc count events; "
        "compute them from values that are not differentiated"
    )


# ---------------------------------------------------------------- multivariate normal
# scipy's reading of the arguments: dim from the mean (else from a matrix cov, else 1), the
# points x as rows of dim values, cov a matrix, a diagonal or a scalar times the identity;
# with r_i = x_i - mean and P = cov^-1, z_i = -(dim log 2 pi + log det cov + r_i^T P r_i) / 2


def _mvn_logpdf(z, x, mean=None, cov=1.0):
    if static(mean is None):
        dim = np.shape(cov)[0] if np.ndim(cov) == 2 else 1
        r = np.reshape(x, (-1, dim))
    else:
        dim = np.size(mean)
        r = np.reshape(x, (-1, dim)) - np.reshape(mean, (dim,))
    p = np.linalg.inv(cov if np.ndim(cov) == 2 else cov * np.eye(dim))
    pr = r @ p
    g = np.reshape(d[z], (-1, 1))
    d[x] += np.reshape(-(g * pr), np.shape(x))
    d[mean] += sum_to(np.sum(g * pr, axis=0), mean)
    # in the whole matrix: (P R^T diag(g) R P - sum(g) P) / 2
    gs = 0.5 * (np.transpose(pr) @ (g * pr) - np.sum(g) * p)
    if np.ndim(cov) == 2:
        d[cov] += gs
    elif np.ndim(cov) == 1:
        d[cov] += np.diagonal(gs)
    else:
        d[cov] += np.trace(gs)


def _mvn_logpdf_tangent(z, x, mean=None, cov=1.0):
    if static(mean is None):
        dim = np.shape(cov)[0] if np.ndim(cov) == 2 else 1
        r = np.reshape(x, (-1, dim))
    else:
        dim = np.size(mean)
        r = np.reshape(x, (-1, dim)) - np.reshape(mean, (dim,))
    p = np.linalg.inv(cov if np.ndim(cov) == 2 else cov * np.eye(dim))
    pr = r @ p
    d[z] += np.reshape(-np.sum(pr * np.reshape(d[x], (-1, dim)), axis=-1), np.shape(z))
    d[z] += np.reshape(pr @ np.reshape(d[mean], (dim,)), np.shape(z))
    # dz_i = (r_i^T P dS P r_i - tr(P dS)) / 2, for a diagonal (or scalar) dS of its diagonal
    d[z] += np.reshape(
        (
            0.5 * (np.sum((pr @ d[cov]) * pr, axis=-1) - np.sum(p * d[cov]))
            if np.ndim(cov) == 2
            else 0.5 * (np.sum(pr * pr * d[cov], axis=-1) - np.sum(np.diagonal(p) * d[cov]))
        ),
        np.shape(z),
    )


# ---------------------------------------------------------------- dirichlet
# scipy's x holds k components along its first axis: all K of alpha's, or the first K - 1
# (the last is then 1 - their sum). With xt = x.T (components along the last axis) and full
# the K components, z = gammaln(sum alpha) - sum gammaln(alpha) + sum (alpha - 1) log full;
# its partial in x_i is s_i - (K - k) s_K, with s = (alpha - 1) / full.


def _dirichlet_logpdf(z, x, alpha):
    xt = np.transpose(x)
    k = np.shape(x)[0]
    rest = 1.0 - np.sum(xt, axis=-1, keepdims=True)
    full = np.concatenate((xt, rest), axis=-1)[..., : np.shape(alpha)[0]]
    slope = (alpha - 1.0) / full
    g = np.expand_dims(np.transpose(np.reshape(d[z], np.shape(x)[1:])), -1)
    d[x] += np.transpose(g * (slope[..., :k] - (np.shape(alpha)[0] - k) * slope[..., -1:]))
    slope_alpha = scipy.special.digamma(np.sum(alpha)) - scipy.special.digamma(alpha) + np.log(full)
    d[alpha] += sum_to(g * slope_alpha, alpha)


def _dirichlet_logpdf_tangent(z, x, alpha):
    xt = np.transpose(x)
    k = np.shape(x)[0]
    rest = 1.0 - np.sum(xt, axis=-1, keepdims=True)
    full = np.concatenate((xt, rest), axis=-1)[..., : np.shape(alpha)[0]]
    slope = (alpha - 1.0) / full
    slope_x = slope[..., :k] - (np.shape(alpha)[0] - k) * slope[..., -1:]
    d[z] += np.reshape(np.transpose(np.sum(np.transpose(d[x]) * slope_x, axis=-1)), np.shape(z))
    slope_alpha = scipy.special.digamma(np.sum(alpha)) - scipy.special.digamma(alpha) + np.log(full)
    d[z] += np.reshape(np.transpose(np.sum(d[alpha] * slope_alpha, axis=-1)), np.shape(z))


# ---------------------------------------------------------------- registration


def register_stats_distributions(stats) -> None:
    """Register the rules above for the distributions of ``stats`` (module ``scipy.stats``);
    the methods are keyed by the bound method, as ``scipy_special`` keys ``norm``'s."""
    global scipy
    scipy = importlib.import_module("scipy")
    for dist, template in (
        (stats.t, _t_logpdf),
        (stats.gamma, _gamma_logpdf),
        (stats.beta, _beta_logpdf),
        (stats.chi2, _chi2_logpdf),
        (stats.expon, _expon_logpdf),
        (stats.laplace, _laplace_logpdf),
        (stats.logistic, _logistic_logpdf),
    ):
        register_with_density(dist.logpdf, dist.pdf, *partials_rules(template), True)
    register(stats.t.cdf, *partials_rules(_t_cdf), True)
    poisson = stats.poisson
    register_with_density(poisson.logpmf, poisson.pmf, *partials_rules(_poisson_logpmf), True)
    for dist, reverse, forward in (
        (stats.multivariate_normal, _mvn_logpdf, _mvn_logpdf_tangent),
        (stats.dirichlet, _dirichlet_logpdf, _dirichlet_logpdf_tangent),
    ):
        rules = parse_template(reverse), parse_template(forward)
        register_with_density(dist.logpdf, dist.pdf, *rules, False)


def makes_frozen(obj) -> bool:
    """Whether calling ``obj`` makes a frozen distribution (``scipy.stats.norm(mu, sigma)``)."""
    kind = type(obj)
    return kind.__module__.startswith("scipy.stats") and kind.__name__.endswith("_gen")


def distribution_name(obj) -> str:
    """The name of the distribution ``obj`` is, or is frozen from (``norm``)."""
    obj = getattr(obj, "dist", None) or getattr(obj, "_dist", None) or obj
    name = getattr(obj, "name", None)
    return name or type(obj).__name__.removesuffix("_gen").removesuffix("_frozen")


def frozen_way_out(name: str) -> str:
    """What to write instead of the frozen distribution ``scipy.stats.<name>(...)``."""
    return (
        "call the distribution's own method with the parameters, e.g. "
        f"scipy.stats.{name}.logpdf(x, loc, scale) for scipy.stats.{name}(loc, scale).logpdf(x)"
    )
