"""Statistical models as people write them: a Kalman filter with preallocated means and
covariances and a Rauch-Tung-Striebel smoother running ``for k in np.flip(np.arange(n - 1))``,
Gaussian-process marginal likelihoods (squared distances by the expansion, Cholesky with two
triangular solves, ``slogdet`` with ``solve``, SciPy's ``cho_factor``), Bayesian logistic
regression and black-box variational inference with fixed noise, mixtures with ``logsumexp``
written by hand, Hamiltonian Monte Carlo's leapfrog with the potential's gradient taken by
``sg.grad`` inside, autoregressive and smoothing models of time series. Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

scipy_linalg = pytest.importorskip("scipy.linalg", reason="the GP cases use scipy.linalg")
from scipy.special import gammaln, logsumexp  # noqa: E402
from scipy.stats import norm  # noqa: E402

R = np.random.default_rng(1206)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ Kalman filtering


def kalman_filter(F, H, Q, Rn, x0, P0, zs):
    n, dim = zs.shape[0], x0.shape[0]
    means = np.zeros((n, dim))
    covs = np.zeros((n, dim, dim))
    pred_means = np.zeros((n, dim))
    pred_covs = np.zeros((n, dim, dim))
    x, P = x0, P0
    loglik = 0.0
    for k in range(n):
        x = F @ x
        P = F @ P @ F.T + Q
        pred_means[k, :] = x
        pred_covs[k, :, :] = P
        y = zs[k] - H @ x
        S = H @ P @ H.T + Rn
        K = P @ H.T @ np.linalg.inv(S)
        x = x + K @ y
        P = (np.eye(dim) - K @ H) @ P
        means[k, :] = x
        covs[k] = P
        sign, logdet = np.linalg.slogdet(2 * np.pi * S)
        loglik += -0.5 * (logdet + y @ np.linalg.solve(S, y))
    return means, covs, pred_means, pred_covs, loglik


def rts_smoother(F, means, covs, pred_means, pred_covs):
    n = means.shape[0]
    xs = means.copy()
    Ps = covs.copy()
    for k in np.flip(np.arange(n - 1)):
        G = covs[k] @ F.T @ np.linalg.inv(pred_covs[k + 1])
        xs[k] = means[k] + G @ (xs[k + 1] - pred_means[k + 1])
        Ps[k] = covs[k] + G @ (Ps[k + 1] - pred_covs[k + 1]) @ G.T
    return xs, Ps


CV_F = np.array([[1.0, 0.1], [0.0, 1.0]])
CV_H = np.array([[1.0, 0.0]])


def kalman_nll(log_q, log_r, zs):
    Q = np.exp(log_q) * np.array([[0.1**3 / 3, 0.1**2 / 2], [0.1**2 / 2, 0.1]])
    Rn = np.exp(log_r) * np.eye(1)
    *_, loglik = kalman_filter(CV_F, CV_H, Q, Rn, np.zeros(2), np.eye(2), zs)
    return -loglik


def smoothed_fit(log_q, log_r, zs):
    Q = np.exp(log_q) * np.eye(2) * 0.01
    Rn = np.exp(log_r) * np.eye(1)
    means, covs, pm, pc, _ = kalman_filter(CV_F, CV_H, Q, Rn, np.zeros(2), np.eye(2), zs)
    xs, Ps = rts_smoother(CV_F, means, covs, pm, pc)
    return np.sum((xs[:, 0] - zs[:, 0]) ** 2) + np.sum(Ps[:, 0, 0])


def kalman_scalar_lists(a, q, r_, ys):
    """A local-level model written with lists of floats, reversed for the smoother."""
    m, p = 0.0, 1.0
    ms, ps = [], []
    for y in ys:
        p_pred = a * a * p + q
        gain = p_pred / (p_pred + r_)
        m = a * m + gain * (y - a * m)
        p = (1 - gain) * p_pred
        ms.append(m)
        ps.append(p)
    smooth = ms[-1]
    total = smooth**2
    for k in reversed(range(len(ys) - 1)):
        p_pred = a * a * ps[k] + q
        J = ps[k] * a / p_pred
        smooth = ms[k] + J * (smooth - a * ms[k])
        total += smooth**2
    return total


# ------------------------------------------------------------------ Gaussian processes


def rbf(X1, X2, lengthscale, variance):
    sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * np.dot(X1, X2.T)
    return variance * np.exp(-0.5 / lengthscale**2 * sqdist)


def gp_nll_cholesky(theta, X, y):
    ell, sf2, sn2 = np.exp(theta)
    K = rbf(X, X, ell, sf2) + sn2 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diagonal(L))) + 0.5 * len(X) * np.log(2 * np.pi)


def unpack_exp(theta):
    """Regression: `a, b, c = np.exp(theta)` was taken as a function of three results."""
    a, b, c = np.exp(theta)
    return a * b + np.sin(c)


def unpack_reductions(X):
    """Regression: unpacking the rows of a reduction's or a quantile's result."""
    mx, my = np.mean(X, axis=0)
    lo, hi = np.quantile(X[:, 0], [0.2, 0.8])
    return mx * my + hi - lo**2


def gp_nll_slogdet(params, X, y):
    K = rbf(X, X, np.exp(params["log_ell"]), np.exp(params["log_sf2"]))
    K = K + np.exp(params["log_sn2"]) * np.eye(X.shape[0])
    _, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet)


def gp_nll_scipy(theta, X, y):
    K = rbf(X, X, np.exp(theta[0]), np.exp(theta[1])) + 0.1 * np.eye(X.shape[0])
    L = scipy_linalg.cholesky(K, lower=True)
    v = scipy_linalg.solve_triangular(L, y, lower=True)
    return 0.5 * v @ v + np.log(np.diag(L)).sum()


def gp_cho_solve(theta, X, y):
    K = rbf(X, X, np.exp(theta[0]), 1.0) + np.exp(theta[1]) * np.eye(X.shape[0])
    c, low = scipy_linalg.cho_factor(K)
    alpha = scipy_linalg.cho_solve((c, low), y)
    return 0.5 * y.dot(alpha) + np.sum(np.log(np.diag(c)))


def gp_posterior_mean(X, Xs, y):
    K = rbf(X, X, 0.8, 1.0) + 0.05 * np.eye(len(X))
    Ks = rbf(Xs, X, 0.8, 1.0)
    return Ks @ np.linalg.solve(K, y)


# ------------------------------------------------------------------ Bayesian models


def log_posterior_logreg(w, X, t):
    """t in {-1, +1}; a Gaussian prior of variance 10."""
    margins = t * (X @ w)
    return -np.sum(np.logaddexp(0.0, -margins)) - 0.05 * w @ w


def bbvi_elbo(var_params, X, t, eps):
    D = X.shape[1]
    mu, log_sigma = var_params[:D], var_params[D:]
    samples = mu + np.exp(log_sigma) * eps
    logp = [log_posterior_logreg(s, X, t) for s in samples]
    entropy = np.sum(log_sigma) + 0.5 * D * (1 + np.log(2 * np.pi))
    return np.mean(logp) + entropy


def gmm_hand_logsumexp(means, log_sigmas, logits, X):
    log_w = logits - np.max(logits)
    log_w = log_w - np.log(np.sum(np.exp(log_w)))
    sig = np.exp(log_sigmas)
    a = (
        log_w[None, :]
        - 0.5 * np.sum(((X[:, None, :] - means[None, :, :]) / sig[None, :, None]) ** 2, axis=2)
        - X.shape[1] * (log_sigmas[None, :] + 0.5 * np.log(2 * np.pi))
    )
    m = np.max(a, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True))
    return -np.sum(lse)


def gmm_em_responsibilities(means, X):
    """E-step responsibilities by scipy's logsumexp, then the expected complete-data loglik."""
    d2 = np.sum((X[:, None, :] - means[None]) ** 2, axis=-1)
    logr = -0.5 * d2 - logsumexp(-0.5 * d2, axis=1, keepdims=True)
    resp = np.exp(logr)
    return np.sum(resp * d2)


def hmc_trajectory(q0, p0, prec, eps, n_leap):
    def U(q):
        return 0.5 * q @ prec @ q + np.sum(np.log(np.cosh(q)))

    grad_U = sg.grad(U)
    q, p = q0, p0
    p = p - 0.5 * eps * grad_U(q)
    for i in range(n_leap):
        q = q + eps * p
        if i != n_leap - 1:
            p = p - eps * grad_U(q)
    p = p - 0.5 * eps * grad_U(q)
    return U(q) + 0.5 * p @ p


def hmc_hand_gradient(q0, p0, prec):
    q, p = q0.copy(), p0.copy()
    eps = 0.1
    for _ in range(10):
        p -= 0.5 * eps * (prec @ q)
        q += eps * p
        p -= 0.5 * eps * (prec @ q)
    H0 = 0.5 * q0 @ prec @ q0 + 0.5 * p0 @ p0
    H1 = 0.5 * q @ prec @ q + 0.5 * p @ p
    return np.minimum(0.0, H0 - H1) + np.sum(q)


def ar1_loglik(phi, log_sigma, y):
    sigma2 = np.exp(2 * log_sigma)
    resid = y[1:] - phi * y[:-1]
    n = resid.size
    ll = -0.5 * n * np.log(2 * np.pi * sigma2) - 0.5 * np.sum(resid**2) / sigma2
    ll += norm.logpdf(y[0], 0.0, np.sqrt(sigma2 / (1 - phi**2)))
    return -ll


def holt_linear(alpha, beta, y):
    level, trend = y[0], y[1] - y[0]
    sse = 0.0
    for t in range(1, len(y)):
        forecast = level + trend
        sse += (y[t] - forecast) ** 2
        new_level = alpha * y[t] + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return sse


def poisson_regression(w, X, counts):
    eta = X @ w
    return -np.sum(counts * eta - np.exp(eta) - gammaln(counts + 1))


def softmax_regression(W, X, labels):
    logits = X @ W
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def robust_huber(w, X, y, delta):
    res = y - X @ w
    quad = np.abs(res) <= delta
    loss = np.where(quad, 0.5 * res**2, delta * (np.abs(res) - 0.5 * delta))
    return np.sum(loss)


def mvn_sampling(mu, L_raw, eps):
    L = np.tril(L_raw)
    L[np.diag_indices_from(L)] = np.exp(np.diag(L_raw))
    x = mu + eps @ L.T
    return np.mean(np.sum(x**2, axis=1)) - np.sum(np.log(np.diag(L)))


def student_t_regression(w, X, y, nu):
    resid = y - X @ w
    return -np.sum(gammaln((nu + 1) / 2) - gammaln(nu / 2) - (nu + 1) / 2 * np.log1p(resid**2 / nu))


XG = np.linspace(-1.0, 1.0, 6)[:, None]
YG = np.sin(3 * XG[:, 0])
XL, TL = r(8, 3), np.sign(r(8))
Q_PREC = np.array([[2.0, 0.3], [0.3, 1.0]])
ZS = np.cumsum(r(7, 1), axis=0)

CASES = [
    Case("kalman_nll_preallocated", kalman_nll, (-1.0, -0.5, ZS), wrt=(0, 1), order=2),
    Case("rts_smoother_flip_arange", smoothed_fit, (-0.5, -1.0, ZS), wrt=(0, 1), order=2),
    Case(
        "local_level_lists",
        kalman_scalar_lists,
        (0.9, 0.3, 0.5, list(r(6))),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("gp_cholesky", gp_nll_cholesky, (np.array([-0.5, 0.1, -2.0]), XG, YG), order=2),
    Case("unpack_exp_rows", unpack_exp, (r(3),), order=2),
    Case("unpack_reduction_rows", unpack_reductions, (r(5, 2),), order=2),
    Case(
        "gp_slogdet",
        gp_nll_slogdet,
        ({"log_ell": -0.3, "log_sf2": 0.2, "log_sn2": -2.0}, XG, YG),
        order=2,
    ),
    Case("gp_scipy_triangular", gp_nll_scipy, (np.array([-0.4, 0.0]), XG, YG), order=2),
    Case("gp_cho_solve", gp_cho_solve, (np.array([-0.4, -1.5]), XG, YG), order=2),
    Case(
        "gp_posterior_mean_in_y",
        gp_posterior_mean,
        (XG, np.array([[0.1], [0.5]]), YG),
        wrt=2,
        kind="jac",
    ),
    Case(
        "gp_posterior_mean_in_xs",
        gp_posterior_mean,
        (XG, np.array([[0.1], [0.5]]), YG),
        wrt=1,
        kind="jac",
    ),
    Case("bayes_logreg", log_posterior_logreg, (r(3), XL, TL), order=2),
    Case("bbvi_elbo_fixed_eps", bbvi_elbo, (0.1 * r(6), XL, TL, r(4, 3)), order=2),
    Case(
        "gmm_hand_logsumexp",
        gmm_hand_logsumexp,
        (r(3, 2), 0.2 * r(3), r(3), r(10, 2)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("gmm_responsibilities", gmm_em_responsibilities, (r(3, 2), r(8, 2)), order=2),
    Case("hmc_grad_inside", hmc_trajectory, (r(2), r(2), Q_PREC, 0.1, 5), wrt=(0, 1), order=2),
    Case("hmc_hand_gradient", hmc_hand_gradient, (r(2), r(2), Q_PREC), wrt=(0, 1, 2)),
    Case("ar1_loglik", ar1_loglik, (0.6, -0.3, r(12)), wrt=(0, 1), order=2),
    Case("holt_linear", holt_linear, (0.5, 0.3, np.cumsum(r(10))), wrt=(0, 1), order=2),
    Case(
        "poisson_regression",
        poisson_regression,
        (0.3 * r(3), r(9, 3), R.poisson(2.0, 9).astype(float)),
        order=2,
    ),
    Case(
        "softmax_regression_int_labels",
        softmax_regression,
        (r(3, 4), r(7, 3), R.integers(0, 4, 7)),
        order=2,
    ),
    Case("robust_huber_where", robust_huber, (r(3), r(10, 3), 2 * r(10), 1.0), order=2),
    Case("mvn_reparam_tril", mvn_sampling, (r(3), r(3, 3), r(5, 3)), wrt=(0, 1), order=2),
    Case(
        "student_t_regression",
        student_t_regression,
        (r(2), r(8, 2), r(8), 4.0),
        wrt=(0, 3),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_statistical_model(case):
    check(case)
