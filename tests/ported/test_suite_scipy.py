"""``scipy.special`` and ``scipy.stats`` cases ported from JAX's ``tests/lax_scipy_test.py``
gradient checks (``xlogy``/``xlog1py`` at ``x == 0``, where JAX defines the slope in ``y`` as
0, ``entr`` and ``rel_entr``, ``logsumexp`` with ``b`` and ``keepdims``, ``softmax`` and
``log_softmax`` along negative axes) and autograd's ``tests/test_scipy.py``."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

sp = pytest.importorskip("scipy.special", reason="scipy is optional")
st = pytest.importorskip("scipy.stats", reason="scipy is optional")

X = np.array([[0.3, -1.2, 0.7, 2.0], [1.1, 0.4, -0.3, 0.9], [-0.5, 0.8, 1.5, -0.2]])
W = np.arange(1.0, 13.0).reshape(3, 4) / 10
ZERO_ONE_TWO = np.array([0.0, 1.0, 2.0])


def s_xlogy_in_y(y):
    return np.sum(sp.xlogy(ZERO_ONE_TWO, y))


def s_xlogy_in_x(x):
    return np.sum(sp.xlogy(x, np.array([0.5, 1.0, 2.0])))


def s_xlog1py_in_y(y):
    return np.sum(sp.xlog1py(ZERO_ONE_TWO, y))


def s_xlog1py_both(x):
    return np.sum(sp.xlog1py(x, x))


def s_entr(x):
    return np.sum(sp.entr(x) * np.array([1.0, 2.0, 3.0]))


def s_rel_entr(x, y):
    return np.sum(sp.rel_entr(x, y))


def s_softmax_last_axis(x):
    return np.sum(W * sp.softmax(x, axis=-1))


def s_log_softmax_first_axis(x):
    return np.sum(W * sp.log_softmax(x, axis=0))


def s_logsumexp_weights(x):
    return sp.logsumexp(x, b=np.array([1.0, 2.0, 0.5]))


def s_logsumexp_keepdims(x):
    return np.sum(W[:, :1] * sp.logsumexp(x, axis=-1, keepdims=True))


def s_expit_logit(x):
    return np.sum(sp.expit(x) * sp.logit(np.abs(x) / 3.0 + 0.1))


def s_gammaln_digamma(x):
    return np.sum(sp.gammaln(x) + sp.digamma(x))


def s_erf_erfc(x):
    return np.sum(sp.erf(x) * sp.erfc(x))


def s_norm_logpdf_scale(x, s):
    return np.sum(st.norm.logpdf(x, loc=0.5, scale=s))


def s_norm_cdf(x):
    return np.sum(st.norm.cdf(x) * W)


CASES = [
    Case("xlogy_in_y_at_zero", s_xlogy_in_y, (np.array([0.0, 1.5, 2.0]),), order=2),
    Case("xlogy_in_y", s_xlogy_in_y, (np.array([0.5, 1.5, 2.0]),), order=2),
    Case("xlogy_in_x", s_xlogy_in_x, (ZERO_ONE_TWO,), order=2),
    Case("xlog1py_in_y_at_minus_one", s_xlog1py_in_y, (np.array([-1.0, 0.5, 2.0]),)),
    Case("xlog1py_both", s_xlog1py_both, (np.array([0.2, 1.0, 2.5]),), order=2),
    Case("entr", s_entr, (np.array([0.2, 1.0, 2.5]),), order=2),
    Case(
        "rel_entr",
        s_rel_entr,
        (np.array([0.2, 1.0, 2.5]), np.array([0.2, 0.3, 0.5])),
        wrt=(0, 1),
        order=2,
    ),
    Case("rel_entr_where_x_is_zero", s_rel_entr, (ZERO_ONE_TWO, np.array([0.4, 0.3, 0.5])), wrt=1),
    Case("softmax_last_axis", s_softmax_last_axis, (X,), order=2),
    Case("log_softmax_first_axis", s_log_softmax_first_axis, (X,), order=2),
    Case("logsumexp_weights", s_logsumexp_weights, (X[0, :3],), order=2),
    Case("logsumexp_keepdims", s_logsumexp_keepdims, (X,), order=2),
    Case("expit_logit", s_expit_logit, (X,)),
    Case("gammaln_digamma", s_gammaln_digamma, (np.abs(X) + 0.5,), order=2),
    Case("erf_erfc", s_erf_erfc, (X,), order=2),
    Case("norm_logpdf_scale", s_norm_logpdf_scale, (X[0], np.abs(X[1]) + 0.5), wrt=(0, 1), order=2),
    Case("norm_cdf", s_norm_cdf, (X,)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_scipy_case(case):
    check(case)
