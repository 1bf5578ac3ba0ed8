"""Objectives as they are handed to ``scipy.optimize.minimize``, written the way their
tutorials write them: a flat parameter vector unpacked by slicing, ``args=`` tuples, a data
dict, GP marginal likelihood through Cholesky, GMM and mixture log-likelihoods with
log-sum-exp, Poisson and negative binomial regression, t-SNE's KL objective, matrix
factorisation with observed-entry masks, word2vec skip-gram with negative sampling,
Bayesian linear regression's evidence, a Kalman filter's log-likelihood, a probit and an
ordinal model. Each against Python's value and central differences on calls 1-3, to second
order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(9202)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ classics


def rosen(x):
    """scipy.optimize.rosen, as scipy writes it."""
    x = np.asarray(x)
    r = np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)
    return r


def rosen_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return total


def himmelblau(p):
    x, y = p
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def logistic_l2(theta, *args):
    X, y, lam = args
    m = len(y)
    h = 1 / (1 + np.exp(-X @ theta))
    reg = lam / (2 * m) * np.sum(theta[1:] ** 2)
    return -1 / m * np.sum(y * np.log(h) + (1 - y) * np.log(1 - h)) + reg


def softmax_regression_flat(w, X, y, n_classes, alpha=1e-2):
    W = w.reshape(X.shape[1], n_classes)
    scores = X @ W
    scores -= scores.max(axis=1, keepdims=True)
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean() + 0.5 * alpha * np.sum(W**2)


def poisson_nll(beta, X, counts):
    eta = X.dot(beta)
    mu = np.exp(eta)
    return np.sum(mu - counts * eta)


def negbin_nll(params, X, y):
    beta, log_alpha = params[:-1], params[-1]
    alpha = np.exp(log_alpha)
    mu = np.exp(X @ beta)
    r_ = 1.0 / alpha
    from scipy.special import gammaln

    ll = (
        gammaln(y + r_)
        - gammaln(r_)
        - gammaln(y + 1)
        + r_ * np.log(r_ / (r_ + mu))
        + y * np.log(mu / (r_ + mu))
    )
    return -ll.sum()


def huber(theta, X, y, delta=1.0):
    resid = y - X @ theta
    abs_r = np.abs(resid)
    quad = np.minimum(abs_r, delta)
    lin = abs_r - quad
    return np.sum(0.5 * quad**2 + delta * lin)


def probit_nll(beta, X, y):
    from scipy.stats import norm

    p = norm.cdf(X @ beta)
    p = np.clip(p, 1e-10, 1 - 1e-10)
    return -np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))


def ordinal_logit(params, X, y, n_levels):
    """Cumulative-logit model: the cut points are made increasing by cumsum of exp."""
    k = X.shape[1]
    beta = params[:k]
    cuts = np.cumsum(np.concatenate([params[k : k + 1], np.exp(params[k + 1 :])]))
    eta = X @ beta
    ll = 0.0
    for i in range(len(y)):
        upper = 1.0 if y[i] == n_levels - 1 else 1 / (1 + np.exp(-(cuts[y[i]] - eta[i])))
        lower = 0.0 if y[i] == 0 else 1 / (1 + np.exp(-(cuts[y[i] - 1] - eta[i])))
        ll += np.log(upper - lower)
    return -ll


# ------------------------------------------------------------------ Gaussian processes


def rbf_kernel(X1, X2, length_scale=1.0, sigma_f=1.0):
    sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * np.dot(X1, X2.T)
    return sigma_f**2 * np.exp(-0.5 / length_scale**2 * sqdist)


def gp_nll_naive(theta, X_train, Y_train, noise):
    """Krasser's GP tutorial, ``nll_fn(..., naive=True)``'s body."""
    K = rbf_kernel(X_train, X_train, length_scale=theta[0], sigma_f=theta[1]) + noise**2 * np.eye(
        len(X_train)
    )
    return (
        0.5 * np.log(np.linalg.det(K))
        + 0.5 * Y_train.dot(np.linalg.inv(K).dot(Y_train))
        + 0.5 * len(X_train) * np.log(2 * np.pi)
    )


def gp_nll_stable(theta, X_train, Y_train, noise):
    """The same, through Cholesky and triangular solves (scipy.linalg)."""
    from scipy.linalg import solve_triangular

    K = rbf_kernel(X_train, X_train, length_scale=theta[0], sigma_f=theta[1]) + noise**2 * np.eye(
        len(X_train)
    )
    L = np.linalg.cholesky(K)
    S1 = solve_triangular(L, Y_train, lower=True)
    S2 = solve_triangular(L.T, S1, lower=False)
    return (
        np.sum(np.log(np.diagonal(L)))
        + 0.5 * Y_train.dot(S2)
        + 0.5 * len(X_train) * np.log(2 * np.pi)
    )


def gp_log_params(log_params, data):
    """Hyperparameters in logs, data in a dict, the kernel a nested function."""
    ell, sf, sn = np.exp(log_params)

    def k(a, b):
        d = a[:, None, :] - b[None, :, :]
        return sf**2 * np.exp(-0.5 * np.sum(d**2, axis=-1) / ell**2)

    X, y = data["X"], data["y"]
    K = k(X, X) + (sn**2 + 1e-8) * np.eye(X.shape[0])
    sign, logdet = np.linalg.slogdet(K)
    alpha = np.linalg.solve(K, y)
    return 0.5 * y @ alpha + 0.5 * logdet + 0.5 * len(y) * math.log(2 * math.pi)


def kern(a, b, ell):
    return np.exp(-0.5 * np.sum((a - b) ** 2) / ell**2)


def gp_kernel_by_item_writes(theta, X, y):
    """The kernel matrix filled entry by entry, mirrored across the diagonal."""
    ell, noise = np.exp(theta)
    n = len(X)
    K = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            K[i, j] = kern(X[i], X[j], ell)
            K[j, i] = K[i, j]
    K += noise**2 * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L)))


def weighted_pair_distances(X, w):
    D = np.empty((len(X), len(X)))
    for i, xi in enumerate(X):
        for j, xj in enumerate(X):
            D[i][j] = np.dot(xi - xj, w * (xi - xj))
    return np.sum(np.exp(-D))


# ------------------------------------------------------------------ mixtures


def gmm_loglik(params, x, K):
    """A 1-d GMM with unconstrained parameters: logits, means, log standard deviations."""
    logits, mu, log_sigma = params[:K], params[K : 2 * K], params[2 * K :]
    log_w = logits - np.log(np.sum(np.exp(logits)))
    sigma = np.exp(log_sigma)
    comp = (
        log_w[None, :]
        - 0.5 * np.log(2 * np.pi)
        - log_sigma[None, :]
        - 0.5 * ((x[:, None] - mu[None, :]) / sigma[None, :]) ** 2
    )
    m = comp.max(axis=1, keepdims=True)
    return -np.sum(m[:, 0] + np.log(np.sum(np.exp(comp - m), axis=1)))


def gmm_full_cov(params, X):
    """A 2-d GMM with Cholesky factors built from parameters, components in a list of dicts."""
    total = np.zeros(len(X))
    for comp in params:
        L = np.tril(comp["L"])
        cov = L @ L.T + 1e-3 * np.eye(2)
        diff = X - comp["mean"]
        sol = np.linalg.solve(cov, diff.T).T
        maha = np.sum(diff * sol, axis=1)
        norm = 1.0 / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
        total = total + comp["weight"] ** 2 * norm * np.exp(-0.5 * maha)
    return -np.sum(np.log(total))


# ------------------------------------------------------------------ embeddings


def tsne_kl(Y_flat, P, n, dim=2):
    Y = Y_flat.reshape(n, dim)
    sum_Y = np.sum(np.square(Y), 1)
    num = -2.0 * np.dot(Y, Y.T)
    num = 1.0 / (1.0 + np.add(np.add(num, sum_Y).T, sum_Y))
    num[range(n), range(n)] = 0.0
    Q = num / np.sum(num)
    Q = np.maximum(Q, 1e-12)
    return np.sum(P * np.log(P / Q))


def matrix_factorisation(params, R_obs, mask, k, lam=0.1):
    n, m = R_obs.shape
    U = params[: n * k].reshape(n, k)
    V = params[n * k :].reshape(m, k)
    err = (R_obs - U @ V.T) * mask
    return np.sum(err**2) + lam * (np.sum(U**2) + np.sum(V**2))


def mf_loop_over_ratings(U, V, ratings, lam=0.05):
    loss = 0.0
    for i, j, rating in ratings:
        pred = U[i].dot(V[j])
        loss += (rating - pred) ** 2
    return loss + lam * (np.linalg.norm(U) ** 2 + np.linalg.norm(V) ** 2)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def skipgram_neg_sampling(W_in, W_out, pairs, negatives):
    loss = 0.0
    for (center, context), negs in zip(pairs, negatives):
        v = W_in[center]
        u = W_out[context]
        loss -= np.log(sigmoid(u @ v))
        for neg in negs:
            loss -= np.log(sigmoid(-W_out[neg] @ v))
    return loss / len(pairs)


def skipgram_vectorised(W_in, W_out, centers, contexts, negs):
    v = W_in[centers]
    u = W_out[contexts]
    pos = np.log(sigmoid(np.sum(u * v, axis=1)))
    u_neg = W_out[negs]
    neg = np.sum(np.log(sigmoid(-np.einsum("bkd,bd->bk", u_neg, v))), axis=1)
    return -np.mean(pos + neg)


# ------------------------------------------------------------------ Bayesian / state space


def blr_log_evidence(log_hyper, Phi, t):
    """Bishop 3.86: the evidence of Bayesian linear regression in (log alpha, log beta)."""
    alpha, beta = np.exp(log_hyper)
    N, M = Phi.shape
    A = alpha * np.eye(M) + beta * Phi.T @ Phi
    m_N = beta * np.linalg.solve(A, Phi.T @ t)
    E_mN = beta / 2 * np.sum((t - Phi @ m_N) ** 2) + alpha / 2 * m_N @ m_N
    _, logdetA = np.linalg.slogdet(A)
    return -(
        M / 2 * np.log(alpha)
        + N / 2 * np.log(beta)
        - E_mN
        - 0.5 * logdetA
        - N / 2 * np.log(2 * np.pi)
    )


def kalman_loglik(theta, ys):
    """A local-level model: log-variances in ``theta``, the filter run forward in a loop."""
    q, r_ = np.exp(theta[0]), np.exp(theta[1])
    m, P = 0.0, 10.0
    ll = 0.0
    for y in ys:
        P = P + q
        S = P + r_
        K = P / S
        v = y - m
        ll += -0.5 * (np.log(2 * np.pi * S) + v**2 / S)
        m = m + K * v
        P = (1 - K) * P
    return -ll


def kalman_2d(log_q, A, H, ys, R_):
    """A constant-velocity model in matrices; the state and covariance are arrays."""
    Q = np.exp(log_q) * np.array([[0.25, 0.5], [0.5, 1.0]])
    x = np.zeros(2)
    P = np.eye(2)
    nll = 0.0
    for y in ys:
        x = A @ x
        P = A @ P @ A.T + Q
        S = H @ P @ H.T + R_
        K = P @ H.T @ np.linalg.inv(S)
        innov = y - H @ x
        nll += 0.5 * (np.linalg.slogdet(S)[1] + innov @ np.linalg.solve(S, innov))
        x = x + K @ innov
        P = (np.eye(2) - K @ H) @ P
    return nll


def ar2_conditional_nll(params, series):
    c, phi1, phi2, log_sigma = params
    sigma2 = np.exp(2 * log_sigma)
    resid = series[2:] - c - phi1 * series[1:-1] - phi2 * series[:-2]
    n = len(resid)
    return 0.5 * n * np.log(2 * np.pi * sigma2) + np.sum(resid**2) / (2 * sigma2)


def vae_elbo(enc, dec, x, eps):
    """A VAE's negative ELBO with the noise drawn outside (reparameterisation)."""
    h = np.tanh(x @ enc["W"] + enc["b"])
    mu, logvar = h @ enc["Wmu"], h @ enc["Wlv"]
    z = mu + np.exp(0.5 * logvar) * eps
    logits = np.tanh(z @ dec["W1"]) @ dec["W2"]
    rec = np.sum(np.logaddexp(0, logits) - x * logits)
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    return (rec + kl) / x.shape[0]


def import_in_branch(x, use_scipy):
    if use_scipy:
        from scipy.special import expit  # REFUSED

        return np.sum(expit(x) ** 2)
    return np.sum((1 / (1 + np.exp(-x))) ** 2)


def imports_of_every_form(x):
    import math

    import scipy.special
    from numpy import linalg as la

    return scipy.special.logsumexp(x) + la.norm(x) * math.e


# ------------------------------------------------------------------ data

Xl = np.column_stack([np.ones(10), r(10, 2)])
yl = (R.uniform(size=10) > 0.5).astype(float)
Xp = 0.3 * r(12, 3)
counts = R.poisson(2.0, size=12).astype(float)
Xs = r(9, 3)
ys_cls = np.array([0, 1, 2, 2, 1, 0, 1, 2, 0])
Xgp = np.linspace(-2, 2, 6).reshape(-1, 1)
Ygp = np.sin(Xgp).ravel() + 0.1 * r(6)
xg = np.concatenate([r(8) - 2, r(8) + 2])
Xg2 = r(10, 2)
GMM2 = [
    {"weight": 0.7, "mean": r(2), "L": np.eye(2) + 0.1 * r(2, 2)},
    {"weight": 0.5, "mean": r(2), "L": np.eye(2) + 0.1 * r(2, 2)},
]
Pt = np.abs(r(5, 5)) + 0.1
Pt = Pt + Pt.T
np.fill_diagonal(Pt, 1e-12)
Pt = Pt / Pt.sum()
Robs = r(4, 3)
Mobs = (R.uniform(size=(4, 3)) > 0.3).astype(float)
RATINGS = [(0, 1, 4.0), (1, 2, 3.0), (2, 0, 5.0), (3, 1, 1.0), (0, 1, 2.0)]
PAIRS = [(0, 1), (2, 3), (1, 0)]
NEGS = [[4, 2], [0, 5], [3, 3]]
Phi = np.column_stack([np.ones(8), r(8, 2)])
tB = r(8)
A2 = np.array([[1.0, 1.0], [0.0, 1.0]])
H2 = np.array([[1.0, 0.0]])
ys2 = [r(1) for _ in range(5)]
series = np.cumsum(r(15)) * 0.3
yo = np.array([0, 2, 1, 1, 0, 2, 1])
Xo = r(7, 2)
ENC = {"W": r(5, 4), "b": r(4), "Wmu": r(4, 2), "Wlv": 0.3 * r(4, 2)}
DEC = {"W1": r(2, 4), "W2": r(4, 5)}
xv = (R.uniform(size=(3, 5)) > 0.5).astype(float)

CASES = [
    Case("scipy_rosen", rosen, (r(5),), order=2),
    Case("rosen_python_loop", rosen_loop, (r(4),), order=2),
    Case("rosen_list_argument", rosen, ([0.5, -0.2, 1.1],)),
    Case("himmelblau_unpacked", himmelblau, (r(2),), order=2),
    Case("logistic_l2_star_args", logistic_l2, (r(3), Xl, yl, 0.5), order=2),
    Case("softmax_regression_flat", softmax_regression_flat, (r(9), Xs, ys_cls, 3), order=2),
    Case("poisson_regression", poisson_nll, (r(3), Xp, counts), order=2),
    Case("negative_binomial", negbin_nll, (np.append(r(3) * 0.3, -0.5), Xp, counts), order=2),
    Case("huber_min_split", huber, (r(3), Xs, 2 * r(9)), order=2),
    Case("probit_scipy_norm", probit_nll, (0.5 * r(3), Xl, yl), order=2),
    Case("ordinal_logit_cutpoints", ordinal_logit, (np.array([0.3, -0.2, -0.5, 0.1]), Xo, yo, 3)),
    Case("gp_nll_det_inv", gp_nll_naive, (np.array([1.2, 0.8]), Xgp, Ygp, 0.3), order=2),
    Case("gp_nll_cholesky", gp_nll_stable, (np.array([1.2, 0.8]), Xgp, Ygp, 0.3), order=2),
    Case(
        "gp_log_params_dict_nested_kernel",
        gp_log_params,
        (np.array([0.1, -0.2, -1.0]), {"X": Xg2[:5], "y": r(5)}),
        order=2,
    ),
    Case(
        "gmm_1d_logsumexp",
        gmm_loglik,
        (np.concatenate([r(2), [-2.0, 2.0], r(2) * 0.1]), xg, 2),
        order=2,
    ),
    Case("gmm_2d_list_of_dicts", gmm_full_cov, (GMM2, Xg2), order=2),
    Case("tsne_kl_objective", tsne_kl, (r(10), Pt, 5), order=2),
    Case("matrix_factorisation_mask", matrix_factorisation, (0.5 * r(14), Robs, Mobs, 2), order=2),
    Case(
        "mf_loop_over_rating_tuples",
        mf_loop_over_ratings,
        (r(4, 2), r(3, 2), RATINGS),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "skipgram_negative_sampling",
        skipgram_neg_sampling,
        (0.3 * r(6, 3), 0.3 * r(6, 3), PAIRS, NEGS),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "skipgram_vectorised",
        skipgram_vectorised,
        (0.3 * r(6, 3), 0.3 * r(6, 3), np.array([0, 2, 1]), np.array([1, 3, 0]), np.array(NEGS)),
        wrt=(0, 1),
        order=2,
    ),
    Case("bayes_linreg_evidence", blr_log_evidence, (np.array([0.2, 0.5]), Phi, tB), order=2),
    Case("kalman_local_level", kalman_loglik, (np.array([-1.0, -0.5]), list(series[:8])), order=2),
    Case("kalman_constant_velocity", kalman_2d, (-1.0, A2, H2, ys2, np.array([[0.5]])), order=2),
    Case(
        "ar2_conditional", ar2_conditional_nll, (np.array([0.1, 0.5, 0.2, -0.3]), series), order=2
    ),
    Case(
        "gp_kernel_item_writes_mirrored",
        gp_kernel_by_item_writes,
        (np.array([0.1, -0.5]), Xg2[:4], r(4)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "pair_distances_row_item_writes",
        weighted_pair_distances,
        (Xg2[:4], np.array([0.5, 2.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case("imports_in_the_body", imports_of_every_form, (r(4),), order=2),
    Case(
        "import_in_a_branch",
        import_in_branch,
        (r(3), True),
        refused=(sg.UnsupportedSyntaxError, "import at module level"),
    ),
    Case("vae_elbo_fixed_noise", vae_elbo, (ENC, DEC, xv, r(3, 2)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_objectives(case):
    check(case)
