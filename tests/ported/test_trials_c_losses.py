"""Losses and likelihoods from papers' and courses' code, as written there: an HMM forward
pass with ``scipy.special.logsumexp`` (also a left-to-right HMM whose log transition matrix
holds -inf, and a CTC-style recursion started from -inf, whose log-sum-exp of only -inf terms
has a zero, not NaN, derivative), a Kalman filter's log likelihood, a Gaussian mixture, label
smoothing, focal, triplet and InfoNCE losses, KL and entropy with ``xlogy``, a sorted 1-D
Wasserstein distance, Poisson and negative binomial GLMs with ``gammaln``, PCA by ``eigh``,
low rank by ``svd``, ``lstsq``, ``polyfit``, ``interp``, unrolled Newton for logistic
regression, a Viterbi score. Each against Python's value and central differences on calls
1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp

from .harness import Case, check, params

R = np.random.default_rng(7007)


def r(*s):
    return R.standard_normal(s)


def hmm_forward(log_A, log_pi, log_B, obs):
    alpha = log_pi + log_B[:, obs[0]]
    for t in range(1, len(obs)):
        alpha = sp.logsumexp(alpha[:, None] + log_A, axis=0) + log_B[:, obs[t]]
    return -sp.logsumexp(alpha)


def kalman_loglik(q, r_, ys, F, H):
    n = F.shape[0]
    x, P = np.zeros(n), np.eye(n)
    ll = 0.0
    for y in ys:
        x = F @ x
        P = F @ P @ F.T + q * np.eye(n)
        S = H @ P @ H.T + r_
        K = P @ H.T / S
        v = y - H @ x
        x = x + K * v
        P = P - np.outer(K, H @ P)
        ll += -0.5 * (math.log(2 * math.pi) + np.log(S) + v**2 / S)
    return -ll


def gmm_loglik(means, log_sigmas, logits, x):
    logw = logits - sp.logsumexp(logits)
    comp = (
        -0.5 * ((x[:, None] - means) / np.exp(log_sigmas)) ** 2
        - log_sigmas
        - 0.5 * np.log(2 * np.pi)
    )
    return -np.sum(sp.logsumexp(logw + comp, axis=1))


def label_smoothing_ce(logits, y, eps=0.1):
    K = logits.shape[1]
    t = np.full_like(logits, eps / (K - 1))
    t[np.arange(len(y)), y] = 1 - eps
    logp = logits - sp.logsumexp(logits, axis=1, keepdims=True)
    return -np.mean(np.sum(t * logp, axis=1))


def focal_loss(z, y, gamma=2.0, alpha=0.25):
    p = sp.expit(z)
    pt = np.where(y == 1, p, 1 - p)
    at = np.where(y == 1, alpha, 1 - alpha)
    return -np.mean(at * (1 - pt) ** gamma * np.log(pt))


def triplet_loss(emb, anchors, pos, neg, margin=0.5):
    d_ap = np.sum((emb[anchors] - emb[pos]) ** 2, axis=1)
    d_an = np.sum((emb[anchors] - emb[neg]) ** 2, axis=1)
    return np.mean(np.maximum(d_ap - d_an + margin, 0.0))


def info_nce(za, zb, tau=0.5):
    za = za / np.linalg.norm(za, axis=1, keepdims=True)
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
    logits = za @ zb.T / tau
    return -np.mean(np.diag(logits) - sp.logsumexp(logits, axis=1))


def kl_categorical(logits, p):
    q = sp.softmax(logits)
    return np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0.0))


def entropy_xlogy(logits):
    p = sp.softmax(logits, axis=-1)
    return -np.sum(sp.xlogy(p, p))


def wasserstein_sorted(x, y):
    return np.mean(np.abs(np.sort(x) - np.sort(y)))


def poisson_glm(w, X, y):
    eta = X @ w
    return np.sum(np.exp(eta) - y * eta + sp.gammaln(y + 1))


def negbin_nll(log_mu, log_r, y):
    mu, rr = np.exp(log_mu), np.exp(log_r)
    return -np.sum(
        sp.gammaln(y + rr)
        - sp.gammaln(rr)
        - sp.gammaln(y + 1)
        + rr * np.log(rr / (rr + mu))
        + y * np.log(mu / (rr + mu))
    )


def pca_recon(X, k=2):
    Xc = X - X.mean(axis=0)
    C = Xc.T @ Xc / (len(X) - 1)
    w, V = np.linalg.eigh(C)
    Vk = V[:, -k:]
    return np.sum((Xc - Xc @ Vk @ Vk.T) ** 2)


def lowrank_svd(A, k=2):
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return np.sum(s[:k]) + np.sum((U[:, :k] * s[:k]) @ Vt[:k] - A) ** 2


def lstsq_residual(A, b):
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return np.sum((A @ x - b) ** 2) + np.sum(x**2)


def polyfit_curvature(y):
    t = np.linspace(0, 1, len(y))
    c = np.polyfit(t, y, 2)
    return c[0] ** 2 + np.sum(np.polyval(c, t))


def interp_loss(yp, x):
    xp = np.linspace(0, 1, len(yp))
    return np.sum(np.interp(x, xp, yp) ** 2)


def cosine_sim_matrix(E):
    n = np.linalg.norm(E, axis=1)
    S = (E @ E.T) / np.outer(n, n)
    return np.sum(np.triu(S, 1) ** 2)


def logistic_newton_unrolled(w, X, y, steps=3):
    for _ in range(steps):
        p = sp.expit(X @ w)
        g = X.T @ (p - y)
        Hs = X.T @ (X * (p * (1 - p))[:, None]) + np.eye(len(w))
        w = w - np.linalg.solve(Hs, g)
    return np.sum(w**2)


def viterbi_score(emis, trans):
    T, K = emis.shape
    delta = emis[0]
    for t in range(1, T):
        delta = np.max(delta[:, None] + trans, axis=0) + emis[t]
    return np.max(delta)


def hmm_structural_zeros(log_B, obs):
    log_A = np.log(np.array([[0.7, 0.3, 0.0], [0.0, 0.6, 0.4], [0.0, 0.0, 1.0]]))
    alpha = np.array([0.0, -np.inf, -np.inf]) + log_B[:, obs[0]]
    for t in range(1, len(obs)):
        alpha = sp.logsumexp(alpha[:, None] + log_A, axis=0) + log_B[:, obs[t]]
    return -sp.logsumexp(alpha)


def reduce_lae(x):
    y = np.concatenate([np.full((2, 1), -np.inf), x], axis=1)
    y = np.concatenate([y, np.full((1, 3), -np.inf)], axis=0)
    return np.sum(np.exp(np.logaddexp.reduce(y, axis=1)) ** 2)


def ctc_from_minus_inf(logp):
    """A CTC-style forward recursion started from -inf: logaddexp of two -inf entries."""
    T, S = logp.shape
    a = np.full(S, -np.inf)
    a[0] = logp[0, 0]
    for t in range(1, T):
        prev = a
        shifted = np.concatenate([[-np.inf], prev[:-1]])
        a = np.logaddexp(prev, shifted) + logp[t]
    return -a[-1]


def logaddexp2_of_minus_inf(x):
    a = np.concatenate([[-np.inf], x])
    b = np.concatenate([[-np.inf], 2 * x])
    return np.sum(np.exp(np.logaddexp2(a, b)))


def logaddexp_reduce_rows_of_minus_inf(x):
    y = np.concatenate([np.full((2, 1), -np.inf), x], axis=1)
    y = np.concatenate([y, np.full((1, 3), -np.inf)], axis=0)
    return np.sum(np.exp(np.logaddexp.reduce(y, axis=1)) ** 2)


def log_softmax_rows(z):
    return np.log(sp.softmax(z, axis=1))


CASES = [
    Case(
        "hmm_forward_logsumexp",
        hmm_forward,
        (
            np.log(sp.softmax(r(3, 3), axis=1)),
            np.log(np.ones(3) / 3),
            np.log(sp.softmax(r(3, 4), axis=1)),
            [0, 2, 1, 3],
        ),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("hmm_structural_zeros_minus_inf", hmm_structural_zeros, (r(3, 4), [0, 1, 3, 2]), order=2),
    Case("ctc_from_minus_inf", ctc_from_minus_inf, (log_softmax_rows(r(4, 3)),), order=2),
    Case("logaddexp2_of_minus_inf", logaddexp2_of_minus_inf, (r(3),), order=2),
    Case(
        "logaddexp_reduce_minus_inf_rows", logaddexp_reduce_rows_of_minus_inf, (r(2, 2),), order=2
    ),
    Case(
        "kalman_filter_loglik",
        kalman_loglik,
        (0.1, 0.5, list(r(5)), np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([1.0, 0.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case("gmm_logsumexp", gmm_loglik, (r(3), 0.1 * r(3), r(3), r(6)), wrt=(0, 1, 2, 3), order=2),
    Case(
        "label_smoothing_full_like", label_smoothing_ce, (r(4, 3), np.array([0, 2, 1, 1])), order=2
    ),
    Case("focal_loss_where", focal_loss, (r(6), np.array([1, 0, 1, 1, 0, 0])), order=2),
    Case(
        "triplet_fancy_index",
        triplet_loss,
        (r(5, 3), np.array([0, 1]), np.array([2, 3]), np.array([4, 0])),
    ),
    Case("info_nce_normalized", info_nce, (r(4, 3), r(4, 3)), wrt=(0, 1), order=2),
    Case(
        "kl_categorical_where_zero", kl_categorical, (r(4), np.array([0.5, 0.5, 0.0, 0.0])), order=2
    ),
    Case("entropy_xlogy", entropy_xlogy, (r(2, 4),), order=2),
    Case("wasserstein_sorted", wasserstein_sorted, (r(5), r(5)), wrt=(0, 1)),
    Case(
        "poisson_glm_gammaln",
        poisson_glm,
        (0.3 * r(3), r(6, 3), np.array([0.0, 1, 2, 3, 1, 0])),
        order=2,
    ),
    Case("negbin_gammaln", negbin_nll, (r(4), 0.3, np.array([0.0, 1, 4, 2])), wrt=(0, 1), order=2),
    Case("pca_eigh_reconstruction", pca_recon, (r(6, 3),), order=2),
    Case("lowrank_svd", lowrank_svd, (r(4, 3),), order=2),
    Case(
        "lstsq_star_rest",
        lstsq_residual,
        (r(5, 3), r(5)),
        wrt=(0, 1),
        order=2,
    ),
    Case("polyfit_polyval", polyfit_curvature, (r(6),), order=2),
    Case("interp_values_and_points", interp_loss, (r(5), np.array([0.1, 0.35, 0.8])), wrt=(0, 1)),
    Case("cosine_similarity_triu", cosine_sim_matrix, (r(4, 3),), order=2),
    Case(
        "logistic_newton_unrolled",
        logistic_newton_unrolled,
        (0.1 * r(3), r(8, 3), (r(8) > 0).astype(float)),
        wrt=(0, 1),
        order=2,
    ),
    Case("viterbi_max_score", viterbi_score, (r(4, 3), r(3, 3)), wrt=(0, 1)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_losses(case):
    with np.errstate(divide="ignore"):  # log(0) of a structural zero is -inf, as meant
        check(case)
