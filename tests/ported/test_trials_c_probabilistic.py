"""Probabilistic and sequence models as they appear in papers' companion code: Gaussian
process marginal likelihoods (Cholesky and triangular solves, ``slogdet``, ``scipy.linalg``'s
``cho_factor``/``cho_solve``, a covariance passed in directly), variational inference with
the reparameterization trick and the noise drawn outside, REINFORCE with sampled actions and
returns given, word2vec's skip-gram with negative sampling, masked matrix factorization,
Karpathy's min-char-rnn loss with its dict of hidden states. Each against Python's value and
central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from .harness import Case, check, params

R = np.random.default_rng(7003)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ Gaussian processes


def rbf_kernel(X1, X2, lengthscale, variance):
    sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * X1 @ X2.T
    return variance * np.exp(-0.5 / lengthscale**2 * sqdist)


def gp_neg_log_marginal(theta, X, y):
    """Rasmussen & Williams Algorithm 2.1, hyperparameters on the log scale."""
    ell, sf2, sn2 = np.exp(theta)
    K = rbf_kernel(X, X, ell, sf2) + sn2 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diagonal(L))) + 0.5 * len(X) * math.log(2 * math.pi)


def gp_nll_slogdet(log_params, X, y):
    params = dict(zip(["ell", "sf", "noise"], np.exp(log_params)))
    K = rbf_kernel(X, X, params["ell"], params["sf"] ** 2)
    K += params["noise"] * np.eye(X.shape[0])
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet)


def gp_nll_scipy(theta, X, y):
    K = rbf_kernel(X, X, math.exp(theta[0]), math.exp(theta[1])) + 0.1 * np.eye(len(y))
    c, low = scipy.linalg.cho_factor(K)
    alpha = scipy.linalg.cho_solve((c, low), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(c)))


def gp_nll_of_covariance(K, y):
    """A covariance passed in by the caller: cholesky reads its lower triangle alone."""
    L = np.linalg.cholesky(K)
    z = scipy.linalg.solve_triangular(L, y, lower=True)
    return 0.5 * z @ z + np.sum(np.log(np.diag(L)))


def upper_factor_quadratic(K, W):
    U = scipy.linalg.cholesky(K)
    return np.sum(W * U) + np.sum(np.log(np.diag(U)))


def gp_predictive_mean(theta, X, y, Xs, ys):
    ell, sf2 = np.exp(theta)
    K = rbf_kernel(X, X, ell, sf2) + 1e-2 * np.eye(len(X))
    Ks = rbf_kernel(Xs, X, ell, sf2)
    L = np.linalg.cholesky(K)
    v = scipy.linalg.solve_triangular(L, y, lower=True)
    mu = Ks @ scipy.linalg.solve_triangular(L.T, v, lower=False)
    return np.mean((mu - ys) ** 2)


# ------------------------------------------------------------------ variational inference


def gaussian_logpdf(x, mu, log_sigma):
    return -0.5 * np.log(2 * np.pi) - log_sigma - 0.5 * ((x - mu) / np.exp(log_sigma)) ** 2


def elbo_bayes_linreg(var_params, X, y, eps):
    """Mean-field Gaussian q(w), standard normal prior, unit-variance likelihood."""
    mu, log_sigma = var_params["mu"], var_params["log_sigma"]
    samples = mu + np.exp(log_sigma) * eps  # (S, D): noise drawn outside
    log_lik = np.array([np.sum(gaussian_logpdf(y, X @ w, 0.0)) for w in samples])
    log_prior = np.sum(gaussian_logpdf(samples, 0.0, 0.0), axis=1)
    entropy = np.sum(log_sigma) + 0.5 * mu.size * (1 + math.log(2 * math.pi))
    return -(np.mean(log_lik + log_prior) + entropy)


def vae_loss(enc, dec, x, eps):
    h = np.tanh(x @ enc["W"] + enc["b"])
    mu, logvar = np.split(h @ enc["W_out"], 2, axis=1)
    z = mu + np.exp(0.5 * logvar) * eps
    logits = np.tanh(z @ dec["W1"]) @ dec["W2"]
    rec = np.sum(np.logaddexp(0, logits) - x * logits)
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    return (rec + kl) / x.shape[0]


def iwae_bound(mu, log_sigma, x, eps, K=5):
    z = mu + np.exp(log_sigma) * eps[:K]
    log_w = -0.5 * (x - z) ** 2 - 0.5 * z**2 - (-0.5 * eps[:K] ** 2 - log_sigma)
    m = np.max(log_w)
    return -(m + np.log(np.mean(np.exp(log_w - m))))


# ------------------------------------------------------------------ reinforcement learning


def policy_logits(theta, states):
    return states @ theta


def reinforce_loss(theta, states, actions, rewards, gamma=0.99):
    returns = []
    G = 0.0
    for rwd in reversed(rewards):
        G = rwd + gamma * G
        returns.insert(0, G)
    returns = np.array(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    logits = policy_logits(theta, states)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    chosen = logp[np.arange(len(actions)), actions]
    return -np.sum(chosen * returns)


def ppo_clip_loss(theta, states, actions, old_logp, adv, clip=0.2):
    logits = states @ theta
    logp_all = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    logp = np.take_along_axis(logp_all, actions[:, None], axis=1)[:, 0]
    ratio = np.exp(logp - old_logp)
    clipped = np.clip(ratio, 1 - clip, 1 + clip)
    return -np.mean(np.minimum(ratio * adv, clipped * adv))


def gaussian_policy_gradient(params, states, actions, advantages):
    mean = states @ params["w"]
    log_std = params["log_std"]
    logp = -0.5 * ((actions - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return -np.mean(logp * advantages)


# ------------------------------------------------------------------ word2vec, factorization


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def skipgram_negative_sampling(W_in, W_out, pairs, negatives):
    loss = 0.0
    for (center, context), negs in zip(pairs, negatives):
        v = W_in[center]
        loss -= np.log(sigmoid(W_out[context] @ v))
        for n in negs:
            loss -= np.log(sigmoid(-W_out[n] @ v))
    return loss / len(pairs)


def skipgram_vectorized(W_in, W_out, centers, contexts, negs):
    v = W_in[centers]
    pos = np.sum(W_out[contexts] * v, axis=1)
    neg = np.einsum("bkd,bd->bk", W_out[negs], v)
    return -np.mean(np.log(sigmoid(pos)) + np.sum(np.log(sigmoid(-neg)), axis=1))


def masked_mf(U, V, R_obs, mask, lam=0.1):
    pred = U @ V.T
    err = mask * (R_obs - pred)
    return np.sum(err**2) / mask.sum() + lam * (np.sum(U**2) + np.sum(V**2))


def mf_with_biases(P, ratings, lam=0.05):
    """Ratings as (user, item, value) triples, the parameters in one dict."""
    loss = 0.0
    for u, i, rating in ratings:
        pred = P["mu"] + P["bu"][u] + P["bi"][i] + P["U"][u] @ P["V"][i]
        loss += (rating - pred) ** 2
    reg = sum(np.sum(P[k] ** 2) for k in ("bu", "bi", "U", "V"))
    return loss / len(ratings) + lam * reg


# ------------------------------------------------------------------ min-char-rnn


def min_char_rnn_loss(model, inputs, targets, hprev):
    Wxh, Whh, Why, bh, by = (model[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


def char_rnn_list_state(params, seq):
    Wxh, Whh, Why = params
    h = np.zeros(Whh.shape[0])
    total = 0.0
    for ch, nxt in zip(seq[:-1], seq[1:]):
        x = np.eye(Wxh.shape[1])[ch]
        h = np.tanh(Wxh @ x + Whh @ h)
        y = Why @ h
        total = total - (y[nxt] - np.log(np.sum(np.exp(y))))
    return total / (len(seq) - 1)


# ------------------------------------------------------------------ cases

XG = r(6, 2)
YG = np.sin(XG[:, 0]) + 0.1 * r(6)
SPD = r(4, 4)
SPD = SPD @ SPD.T + 4 * np.eye(4)
SPD_ASYM = SPD + 0.2 * np.triu(r(4, 4), 1)  # the upper triangle is never read
STATES = r(6, 3)
ACTIONS = np.array([0, 1, 1, 0, 1, 0])
EPS_S = np.random.default_rng(21).standard_normal((4, 3))
VOCAB, DIM = 7, 4
PAIRS = [(0, 1), (2, 3), (4, 1)]
NEGS = [[5, 6], [0, 6], [2, 3]]
RMASK = (np.random.default_rng(22).uniform(size=(5, 4)) > 0.4).astype(float)
MF = {"mu": 3.0, "bu": 0.1 * r(3), "bi": 0.1 * r(4), "U": 0.3 * r(3, 2), "V": 0.3 * r(4, 2)}
RATINGS = [(0, 1, 4.0), (1, 2, 3.0), (2, 0, 5.0), (0, 3, 2.0)]
RNN = {
    "Wxh": 0.3 * r(5, 4),
    "Whh": 0.3 * r(5, 5),
    "Why": 0.3 * r(4, 5),
    "bh": np.zeros((5, 1)),
    "by": np.zeros((4, 1)),
}

CASES = [
    Case("gp_rw_algorithm_2_1", gp_neg_log_marginal, (np.array([0.1, 0.2, -2.0]), XG, YG), order=2),
    Case("gp_slogdet_dict_zip", gp_nll_slogdet, (np.array([0.1, 0.2, -2.0]), XG, YG), order=2),
    Case("gp_scipy_cho_factor", gp_nll_scipy, (np.array([0.1, 0.2]), XG, YG), order=2),
    Case(
        "gp_covariance_passed_in",
        gp_nll_of_covariance,
        (SPD_ASYM, r(4)),
        wrt=(0, 1),
        order=2,
    ),
    Case("scipy_upper_factor_of_argument", upper_factor_quadratic, (SPD_ASYM.T, r(4, 4)), order=2),
    Case(
        "gp_predictive_mean_triangular",
        gp_predictive_mean,
        (np.array([0.1, 0.2]), XG, YG, r(3, 2), r(3)),
        order=2,
    ),
    Case(
        "elbo_reparam_dict",
        elbo_bayes_linreg,
        ({"mu": r(3), "log_sigma": -1 + 0.1 * r(3)}, r(5, 3), r(5), EPS_S),
        order=2,
    ),
    Case(
        "vae_split_reparam",
        vae_loss,
        (
            {"W": 0.3 * r(4, 5), "b": r(5), "W_out": 0.3 * r(5, 4)},
            {"W1": 0.3 * r(2, 5), "W2": 0.3 * r(5, 4)},
            (r(3, 4) > 0).astype(float),
            r(3, 2),
        ),
        wrt=(0, 1),
        order=2,
    ),
    Case("iwae_logmeanexp", iwae_bound, (0.3, -0.5, 1.2, r(8)), wrt=(0, 1), order=2),
    Case(
        "reinforce_returns_insert",
        reinforce_loss,
        (0.5 * r(3, 2), STATES, ACTIONS, [1.0, 0.0, 0.5, 1.0, 0.0, 2.0]),
        order=2,
    ),
    Case(
        "ppo_clip_take_along_axis",
        ppo_clip_loss,
        (0.5 * r(3, 2), STATES, ACTIONS, -np.abs(r(6)), r(6)),
    ),
    Case(
        "gaussian_policy_dict",
        gaussian_policy_gradient,
        ({"w": r(3), "log_std": -0.3}, STATES, r(6), r(6)),
        order=2,
    ),
    Case(
        "skipgram_negative_sampling_loops",
        skipgram_negative_sampling,
        (0.3 * r(VOCAB, DIM), 0.3 * r(VOCAB, DIM), PAIRS, NEGS),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "skipgram_fancy_index_einsum",
        skipgram_vectorized,
        (
            0.3 * r(VOCAB, DIM),
            0.3 * r(VOCAB, DIM),
            np.array([0, 2, 4, 0]),
            np.array([1, 3, 1, 1]),
            np.array([[5, 6], [0, 6], [2, 3], [5, 5]]),
        ),
        wrt=(0, 1),
        order=2,
    ),
    Case("masked_mf", masked_mf, (r(5, 2), r(4, 2), r(5, 4), RMASK), wrt=(0, 1), order=2),
    Case("mf_biases_dict_triples", mf_with_biases, (MF, RATINGS), order=2),
    Case(
        "min_char_rnn_dicts",
        min_char_rnn_loss,
        (RNN, [0, 1, 2, 3, 1], [1, 2, 3, 1, 0], 0.1 * r(5, 1)),
        wrt=(0, 3),
        order=2,
    ),
    Case(
        "char_rnn_tuple_params_zip_shift",
        char_rnn_list_state,
        ((0.3 * r(5, 4), 0.3 * r(5, 5), 0.3 * r(4, 5)), [0, 1, 2, 3, 1, 0]),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_probabilistic(case):
    check(case)
