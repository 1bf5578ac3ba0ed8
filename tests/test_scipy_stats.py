"""The rules of ``sourcegrad/rules/scipy_stats.py``: the ``scipy.stats`` distributions autograd
users write losses with (``t``, ``multivariate_normal``, ``poisson``, ``gamma``, ``beta``,
``chi2``, ``dirichlet``, ``expon``, ``laplace``, ``logistic``).

Each method, in each argument it is differentiated in, through the public API against central
differences in float64: :func:`tests.fd.check` (``grad``, its rank-generic build, ``jvp`` and
``hvp`` against differences of gradients), and ``value_and_grad`` / ``jvp`` on calls 1-3 (the
shape-specialised code runs from the second call on), whose values are exactly Python's
(scipy's own call runs). Parameters broadcast (a vector ``loc`` with a scalar ``scale``). What
the rules do not compute is refused at the user's line with the way out. Without scipy these
tests skip, saying why."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, weights
from .test_rules_scipy import run_program

try:
    import scipy.stats as stats
except ImportError:  # pragma: no cover - scipy is optional
    stats = None

pytestmark = pytest.mark.skipif(
    stats is None,
    reason="scipy is not installed: the scipy.stats rules register only where it imports",
)

R = np.random.default_rng(29)
X = R.uniform(-1.8, 1.8, (3, 4))
POS = R.uniform(0.4, 2.5, (3, 4))
UNIT = R.uniform(0.15, 0.85, (3, 4))
ROW = R.uniform(0.5, 1.5, 4)
COUNTS = R.integers(0, 6, (3, 4)).astype(float)


# ---------------------------------------------------------------- t


def t_logpdf(x, df, loc, scale, w):
    return np.sum(w * np.sin(stats.t.logpdf(x, df, loc, scale)))


def t_pdf(x, df, loc, scale, w):
    return np.sum(w * np.sin(stats.t.pdf(x, df=df, loc=loc, scale=scale)))


def t_cdf(x, df, loc, scale, w):
    return np.sum(w * np.sin(stats.t.cdf(x, df, loc, scale)))


def t_ica(weights_, latents, noise_std, observed, w):
    # autograd's ICA example: a Student-t likelihood around the observations
    preds = np.dot(weights_, latents)
    return np.sum(w * stats.t.logpdf(preds, 2.4, observed, noise_std))


# ---------------------------------------------------------------- other univariate


def gamma_logpdf(x, a, loc, scale, w):
    return np.sum(w * np.sin(stats.gamma.logpdf(x, a, loc, scale)))


def gamma_pdf(x, a, scale, w):
    return np.sum(w * np.sin(stats.gamma.pdf(x, a, scale=scale)))


def beta_logpdf(x, a, b, loc, scale, w):
    return np.sum(w * np.sin(stats.beta.logpdf(x, a, b, loc, scale)))


def beta_pdf(x, a, b, w):
    return np.sum(w * np.sin(stats.beta.pdf(x, a, b)))


def chi2_logpdf(x, df, loc, scale, w):
    return np.sum(w * np.sin(stats.chi2.logpdf(x, df, loc, scale)))


def chi2_pdf(x, df, w):
    return np.sum(w * np.sin(stats.chi2.pdf(x, df)))


def loc_scale_logpdfs(x, loc, scale, w):
    # (expon's support: x > loc)
    logpdfs = (
        stats.expon.logpdf(x + 2.0, loc, scale)
        + stats.laplace.logpdf(x, loc, scale)
        + stats.logistic.logpdf(x, loc=loc, scale=scale)
    )
    return np.sum(w * np.sin(logpdfs))


def loc_scale_pdfs(x, loc, scale, w):
    pdfs = (
        stats.expon.pdf(x + 2.0, loc, scale)
        + stats.laplace.pdf(x, loc, scale)
        + stats.logistic.pdf(x, loc, scale)
    )
    return np.sum(w * np.sin(pdfs))


def poisson_logpmf(k, mu, w):
    return np.sum(w * np.sin(stats.poisson.logpmf(k, mu)))


def poisson_pmf(k, mu, w):
    return np.sum(w * np.sin(stats.poisson.pmf(k, mu)))


# ---------------------------------------------------------------- multivariate


def mvn_logpdf(x, mean, a, w):
    cov = a @ a.T + 0.5 * np.eye(3)  # symmetric, built from parameters
    return np.sum(w * np.sin(stats.multivariate_normal.logpdf(x, mean, cov)))


def mvn_pdf(x, mean, a, w):
    cov = a @ a.T + 0.5 * np.eye(3)
    return np.sum(w * np.sin(stats.multivariate_normal.pdf(x, mean, cov)))


def mvn_no_mean(x, a, w):
    cov = a @ a.T + 0.5 * np.eye(3)
    return np.sum(w * np.sin(stats.multivariate_normal.logpdf(x, cov=cov)))


def mvn_diagonal(x, mean, s, w):
    return np.sum(w * np.sin(stats.multivariate_normal.logpdf(x, mean, s * s + 0.1)))


def mvn_scalar(x, mean, c, w):
    return np.sum(w * np.sin(stats.multivariate_normal.logpdf(x, mean, c)))


GP_INPUTS = np.linspace(-2.0, 2.0, 5)
GP_Y = np.cos(GP_INPUTS) + 0.1 * R.normal(size=5)


def gp_marginal(params, w):
    # autograd's Gaussian-process example: a kernel matrix, the targets as one point
    mean, log_length, log_noise = params[0], params[1], params[2]
    diffs = (GP_INPUTS[:, None] - GP_INPUTS[None, :]) / np.exp(log_length)
    cov = np.exp(-0.5 * diffs**2) + np.exp(log_noise) * np.eye(len(GP_Y))
    prior_mean = mean * np.ones(len(GP_Y))
    return w * stats.multivariate_normal.logpdf(GP_Y, prior_mean, cov)


def softmax(t):
    e = np.exp(t - np.max(t, axis=0))
    return e / np.sum(e, axis=0)


def dirichlet_logpdf(t, alpha, w):
    # x on the simplex: central differences in t stay on it
    return np.sum(w * np.sin(stats.dirichlet.logpdf(softmax(t), alpha)))


def dirichlet_pdf(t, alpha, w):
    return np.sum(w * np.sin(stats.dirichlet.pdf(softmax(t), alpha)))


def dirichlet_short(x, alpha, w):
    # all components but the last, which is 1 - their sum
    return np.sum(w * np.sin(stats.dirichlet.logpdf(x, alpha)))


ALPHA = np.array([1.6, 2.3, 3.1])

# (function, arguments without w, wrt)
CASES = [
    (t_logpdf, (X, 2.4, ROW - 1.0, 1.3), (0, 1, 2, 3)),
    (t_logpdf, (X, 2.0 + ROW, 0.3, POS), (0, 1, 2, 3)),
    (t_pdf, (X, 3.1, ROW - 1.0, 1.3), (0, 1, 2, 3)),
    (t_cdf, (X, 2.4, ROW - 1.0, 1.3), (0, 2, 3)),
    (t_ica, (R.normal(size=(3, 2)), R.normal(size=(2, 4)), 0.7, X), (0, 1, 2)),
    (gamma_logpdf, (POS, 1.5 + ROW, 0.1, 1.3), (0, 1, 2, 3)),
    (gamma_pdf, (POS, 2.5, ROW), (0, 1, 2)),
    (beta_logpdf, (UNIT, 1.5 + ROW, 2.2, -0.1, 1.3), (0, 1, 2, 3, 4)),
    (beta_pdf, (UNIT, 1.5, 2.0 + ROW), (0, 1, 2)),
    (chi2_logpdf, (POS, 3.0 + ROW, 0.1, 1.2), (0, 1, 2, 3)),
    (chi2_pdf, (POS, 3.5), (0, 1)),
    (loc_scale_logpdfs, (X, ROW - 1.0, 1.3), (0, 1, 2)),
    (loc_scale_pdfs, (X, 0.2, ROW), (0, 1, 2)),
    (poisson_logpmf, (COUNTS, 3.0 * POS), 1),
    (poisson_pmf, (COUNTS, 1.7), 1),
    (mvn_logpdf, (R.normal(size=(5, 3)), R.normal(size=3), R.normal(size=(3, 3))), (0, 1, 2)),
    (mvn_logpdf, (R.normal(size=3), R.normal(size=3), R.normal(size=(3, 3))), (0, 1, 2)),
    (mvn_pdf, (0.5 * R.normal(size=(2, 3)), R.normal(size=3), R.normal(size=(3, 3))), (0, 1, 2)),
    (mvn_no_mean, (R.normal(size=(4, 3)), R.normal(size=(3, 3))), (0, 1)),
    (mvn_diagonal, (R.normal(size=(4, 3)), R.normal(size=3), ROW[:3]), (0, 1, 2)),
    (mvn_scalar, (R.normal(size=(4, 3)), R.normal(size=3), 1.7), (0, 1, 2)),
    (mvn_scalar, (R.normal(size=5), 0.4, 1.7), (0, 1, 2)),  # 5 points of one dimension
    (gp_marginal, (np.array([0.1, -0.3, -1.5]),), 0),
    (dirichlet_logpdf, (R.normal(size=(3, 4)), ALPHA), (0, 1)),
    (dirichlet_logpdf, (R.normal(size=3), ALPHA), (0, 1)),
    (dirichlet_pdf, (R.normal(size=(3, 2)), ALPHA), (0, 1)),
    (dirichlet_short, (R.uniform(0.1, 0.4, (2, 4)), ALPHA), (0, 1)),
]


def _id(case):
    f, args, _ = case
    return f"{f.__name__}-{'-'.join('x'.join(map(str, np.shape(a))) or 'float' for a in args)}"


IDS = [_id(c) for c in CASES]


@pytest.mark.parametrize("f, args, wrt", CASES, ids=IDS)
def test_rule_to_second_order(f, args, wrt):
    check(f, *args, wrt=wrt)


def _expected(f, full, wrt):
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    return idxs, [numerical_grad(f, full, i) for i in idxs]


@pytest.mark.parametrize("f, args, wrt", CASES, ids=IDS)
def test_value_and_gradient_on_calls_1_to_3(f, args, wrt):
    """The value is exactly Python's (scipy computes it); the gradient that of central
    differences on the first call and on the shape-specialised calls after it."""
    full = (*args, weights(output_shape(f, args), seed=3))
    idxs, expected = _expected(f, full, wrt)
    df = sg.value_and_grad(f, wrt)
    for call in range(3):
        value, got = df(*full)
        assert value == f(*full), f"call {call}: {value!r} != {f(*full)!r}"
        got = got if isinstance(wrt, tuple) else (got,)
        for i, g, e in zip(idxs, got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7, err_msg=f"call {call} d{i}")


@pytest.mark.parametrize("f, args, wrt", CASES, ids=IDS)
def test_jvp_on_calls_1_to_3(f, args, wrt):
    """Forward mode, each differentiated argument along a direction: the tangent is the
    central differences' gradient times the direction, on every call."""
    full = (*args, weights(output_shape(f, args), seed=3))
    idxs, expected = _expected(f, full, wrt)
    rng = np.random.default_rng(5)
    for i, e in zip(idxs, expected):
        v = rng.uniform(-1.0, 1.0, np.shape(full[i]))
        v = float(v) if isinstance(full[i], float) else v
        jvp = sg.jvp(f, i)
        for call in range(3):
            value, tangent = jvp(*full, v)
            assert value == f(*full), f"call {call}"
            np.testing.assert_allclose(
                tangent, np.sum(e * v), rtol=1e-5, atol=1e-7, err_msg=f"call {call} d{i}"
            )


def test_mvn_gradient_in_cov_is_symmetric():
    """The gradient in the covariance matrix itself is autograd's symmetric one."""
    x, mean = R.normal(size=(6, 3)), R.normal(size=3)
    a = R.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3)

    def loss(cov):
        return np.sum(stats.multivariate_normal.logpdf(x, mean, cov))

    g = sg.grad(loss)(cov)
    p = np.linalg.inv(cov)
    r = x - mean
    expected = -0.5 * (len(x) * p - p @ r.T @ r @ p)
    np.testing.assert_allclose(g, expected, rtol=1e-10)
    np.testing.assert_allclose(g, g.T, rtol=1e-12, atol=1e-14)


# ============================================================================ refusals


def t_cdf_in_df(df):
    c = stats.t.cdf(np.linspace(-1.0, 1.0, 4), df, 0.5, 1.5)  # REFUSED
    return np.sum(c)


def poisson_in_k(k):
    p = stats.poisson.logpmf(k, 3.0)  # REFUSED
    return np.sum(p)


def mvn_allow_singular(x):
    p = stats.multivariate_normal.logpdf(x, np.zeros(4), np.eye(4), allow_singular=True)  # REFUSED
    return np.sum(p)


def frozen_distribution(x):
    p = stats.t(2.4, x, 1.5).logpdf(np.ones(4))  # REFUSED
    return np.sum(p)


def frozen_multivariate_normal(x):
    p = stats.multivariate_normal(x, np.eye(4), allow_singular=True).logpdf(np.ones(4))  # REFUSED
    return np.sum(p)


def marked_line(f):
    lines, start = inspect.getsourcelines(f)
    return next(n for n, line in enumerate(lines, start) if line.rstrip().endswith("# REFUSED"))


REFUSALS = [
    (t_cdf_in_df, "keep df a constant"),
    (poisson_in_k, "differentiated in mu only"),
    (mvn_allow_singular, "allow_singular"),
    (frozen_distribution, "the distribution's own method"),
    (frozen_multivariate_normal, "the distribution's own method"),
]


@pytest.mark.parametrize("f, hint", REFUSALS, ids=[f.__name__ for f, _ in REFUSALS])
@pytest.mark.parametrize("make", ["grad", "jvp", "hvp"])
def test_what_the_rules_do_not_compute_is_refused(f, hint, make):
    """At the user's line, saying why and the way out, in every mode: never a zero or a
    wrong derivative."""
    x = np.linspace(0.5, 2.0, 4)
    v = np.ones(4)
    where = f"{inspect.getsourcefile(f)}:{marked_line(f)}: "
    with pytest.raises(sg.SourcegradError) as info:
        if make == "grad":
            sg.grad(f)(x)
        elif make == "jvp":
            sg.jvp(f)(x, v)
        else:
            sg.hvp(f)(x, v)
    message = str(info.value)
    assert message.startswith(where), message
    assert hint in message, message


def test_t_cdf_in_other_arguments_with_df_an_argument():
    """``df`` passed as an argument but not differentiated: the cdf's other derivatives."""
    check(t_cdf, X, 2.4, ROW - 1.0, 1.3, wrt=(0, 2, 3))


def test_rules_register_when_scipy_stats_is_imported_after_sourcegrad(tmp_path):
    """``import sourcegrad`` imports no ``scipy.stats``; importing it later registers these
    rules too."""
    out = run_program(
        tmp_path,
        """
        import sys

        import numpy as np

        import sourcegrad as sg

        assert "scipy.stats" not in sys.modules
        from scipy.stats import t


        def f(x):
            return np.sum(t.logpdf(x, 3.0, 0.5, 2.0))


        x = np.linspace(-1.0, 1.0, 5)
        u = (x - 0.5) / 2.0
        assert np.allclose(sg.grad(f)(x), -4.0 * u / (3.0 + u * u) / 2.0)
        print("ok")
        """,
    )
    assert out == "ok"
