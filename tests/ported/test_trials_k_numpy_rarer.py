"""NumPy functions the earlier ports reach rarely, in losses as people write them. Followed:
a Pearson correlation written by hand, binning by ``np.digitize`` and a table lookup by
``np.searchsorted`` (constant indices, the gradient through the values they pick) and
``np.ptp``. Refused at their line with the way out (give it a rule with ``sg.defvjp``, or
write it with functions sourcegrad knows), as they have no rule: ``np.corrcoef``, ``np.cov``,
``np.ediff1d``, ``np.float_power``, ``np.polyder``, ``np.nanvar``/``np.nanstd``,
``np.linalg.cond``, ``np.modf``, ``np.ldexp``, ``np.i0`` (a von Mises likelihood),
``np.logspace`` of a learned exponent; ``np.max(..., where=)`` with the way out of reducing
the masked values. Each followed one against Python's value and central differences on calls
1-3."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(5772)


def r(*s):
    return R.standard_normal(s)


def pearson_loss(pred, target):
    return 1.0 - np.corrcoef(pred, target)[0, 1]  # REFUSED


def pearson_by_hand(pred, target):
    pc = pred - pred.mean()
    tc = target - target.mean()
    return 1.0 - np.sum(pc * tc) / np.sqrt(np.sum(pc**2) * np.sum(tc**2))


def gaussian_fit_cov(X):
    C = np.cov(X, rowvar=False)  # REFUSED
    return np.linalg.slogdet(C)[1] + np.trace(C)


def gaussian_fit_cov_bias(X):
    C = np.cov(X.T, bias=True)  # REFUSED
    return np.sum(C**2)


def smoothness_ediff1d(x):
    return np.sum(np.ediff1d(x) ** 2)  # REFUSED


def float_power_loss(x):
    return np.sum(np.float_power(np.abs(x) + 1.0, 1.5))  # REFUSED


def poly_calculus(c, x):
    d = np.polyder(c)  # REFUSED
    i = np.polyint(c)
    return np.sum(np.polyval(d, x) ** 2) + np.sum(np.polyval(i, x))


def nan_stats(x, mask):
    y = np.where(mask, np.nan, x)
    return np.nanvar(y) + np.nanstd(y)  # REFUSED


def binned_means(x, edges):
    idx = np.digitize(x, edges)
    return sum(np.sum(x[idx == k]) ** 2 for k in range(1, len(edges)))


def searchsorted_lookup(table, q, grid):
    i = np.clip(np.searchsorted(grid, q) - 1, 0, len(grid) - 2)
    t = (q - grid[i]) / (grid[i + 1] - grid[i])
    return np.sum((1 - t) * table[i] + t * table[i + 1])


def condition_regularizer(W):
    return np.linalg.cond(W)  # REFUSED


def modf_loss(x):
    frac, whole = np.modf(x)  # REFUSED
    return np.sum(frac**2) + np.sum(whole)


def ldexp_loss(x):
    return np.sum(np.ldexp(x, 3) ** 2)  # REFUSED


def von_mises_nll(log_kappa, mu, theta):
    kappa = np.exp(log_kappa)
    return -np.sum(kappa * np.cos(theta - mu) - np.log(2 * np.pi * np.i0(kappa)))  # REFUSED


def logspace_weights(e, x):
    w = np.logspace(0.0, e, num=4)  # REFUSED
    return np.sum(w * x)


def max_where_initial(x, mask):
    return np.max(x, where=mask, initial=-10.0) + np.min(x, where=mask, initial=10.0)  # REFUSED


def ptp_spread(x):
    return np.ptp(x) ** 2 + np.sum(np.ptp(x.reshape(2, 3), axis=1))


X5 = r(5, 2)
MASK = np.array([False, True, False, False, True, False])

CASES = [
    Case(
        "pearson_corrcoef_refused",
        pearson_loss,
        (r(5), r(5)),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case("pearson_by_hand", pearson_by_hand, (r(5), r(5)), order=2),
    Case(
        "gaussian_fit_cov_refused",
        gaussian_fit_cov,
        (X5,),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "gaussian_fit_cov_bias_refused",
        gaussian_fit_cov_bias,
        (X5,),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "smoothness_ediff1d_refused",
        smoothness_ediff1d,
        (r(5),),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "float_power_refused",
        float_power_loss,
        (r(4),),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "poly_calculus_refused",
        poly_calculus,
        (r(4), r(3)),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "nan_stats_refused",
        nan_stats,
        (r(6), MASK),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "binned_means",
        binned_means,
        (np.array([0.1, 0.7, 1.3, 0.4, 1.8]), np.array([0.0, 0.5, 1.0, 2.0])),
    ),
    Case(
        "searchsorted_lookup",
        searchsorted_lookup,
        (r(5), np.array([0.3, 1.7, 2.2]), np.arange(5.0)),
        wrt=(0, 1),
    ),
    Case(
        "condition_regularizer_refused",
        condition_regularizer,
        (np.eye(3) + 0.3 * r(3, 3),),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "modf_loss_refused",
        modf_loss,
        (np.array([1.3, -2.6, 0.4]),),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "ldexp_loss_refused",
        ldexp_loss,
        (r(3),),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "von_mises_nll_refused",
        von_mises_nll,
        (0.3, 0.5, r(6)),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "logspace_weights_refused",
        logspace_weights,
        (1.2, r(4)),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp"),
    ),
    Case(
        "max_where_initial_refused",
        max_where_initial,
        (r(6), ~MASK),
        refused=(sg.NoRuleError, "reduce the masked values instead"),
    ),
    Case("ptp_spread", ptp_spread, (r(6),)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_numpy_rarer(case):
    check(case)
