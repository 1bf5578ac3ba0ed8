"""Classic machine learning written from scratch as blog posts and courses write it: a
``LogisticRegression`` class holding ``self.W``/``self.b`` with a ``sigmoid`` staticmethod,
softmax regression with a hand-written stable log-sum-exp, cs231n's vectorised multiclass
SVM (``np.maximum(0, ...)``, the correct class zeroed by ``margins[np.arange(N), y] = 0``)
and a binary hinge read through a boolean mask, soft k-means responsibilities, PCA and a
tied-weight autoencoder, a Gaussian mixture's negative log-likelihood, a Gaussian process's
marginal likelihood by ``np.linalg.cholesky`` (noise added through
``K[np.diag_indices_from(K)] += noise``) and by ``slogdet``/``solve``, kernel ridge's
validation loss in its lengthscale, a factorization machine, ordinal (cumulative logit),
Poisson and quantile regression, t-SNE's KL divergence, masked matrix factorisation, a
triplet margin loss and focal loss. Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(9107)


def r(*s):
    return R.standard_normal(s)


N, D, K = 6, 3, 3
X = r(N, D)
Y_BIN = np.array([0, 1, 1, 0, 1, 0])
Y_CLS = np.array([0, 2, 1, 1, 0, 2])
Y_ONEHOT = np.eye(K)[Y_CLS]


# ------------------------------------------------------------------ linear classifiers


class LogisticRegression:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    @staticmethod
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def predict_proba(self, X):
        return self.sigmoid(X @ self.W + self.b)

    def loss(self, X, y, lam=0.1):
        p = self.predict_proba(X)
        eps = 1e-12
        bce = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
        return bce + lam * np.sum(self.W**2) / 2


def logreg_object_loss(model, X, y):
    return model.loss(X, y)


def softmax_regression(params, X, y_onehot, reg=1e-2):
    W, b = params["W"], params["b"]
    scores = X @ W + b
    m = scores.max(axis=1, keepdims=True)
    log_z = m + np.log(np.sum(np.exp(scores - m), axis=1, keepdims=True))
    log_probs = scores - log_z
    data_loss = -np.sum(y_onehot * log_probs) / X.shape[0]
    return data_loss + 0.5 * reg * np.sum(W * W)


def svm_loss_vectorized(W, X, y, reg=0.05):
    num_train = X.shape[0]
    scores = X.dot(W)
    correct_class_scores = scores[np.arange(num_train), y]
    margins = np.maximum(0, scores - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(num_train), y] = 0
    loss = np.sum(margins) / num_train
    loss += reg * np.sum(W * W)
    return loss


def binary_hinge_mask(w, X, y):
    t = 2 * y - 1
    margins = 1 - t * (X @ w)
    mask = margins > 0
    hinge = np.sum(margins[mask]) / len(y)
    return hinge + 0.01 * w @ w


def squared_hinge(w, X, y, C=1.0):
    t = np.where(y == 1, 1.0, -1.0)
    slack = np.maximum(0.0, 1.0 - t * X.dot(w))
    return 0.5 * np.dot(w, w) + C * np.sum(slack**2)


# ------------------------------------------------------------------ clustering and embeddings


def soft_kmeans(centroids, X, beta=2.0):
    dists = np.sum((X[:, None, :] - centroids[None, :, :]) ** 2, axis=-1)
    logits = -beta * dists
    logits -= logits.max(axis=1, keepdims=True)
    resp = np.exp(logits)
    resp /= resp.sum(axis=1, keepdims=True)
    return np.sum(resp * dists) / X.shape[0]


def pca_reconstruction(W, X):
    Xc = X - X.mean(axis=0)
    Z = Xc @ W
    X_hat = Z @ W.T
    return np.mean((Xc - X_hat) ** 2) + 0.1 * np.sum((W.T @ W - np.eye(W.shape[1])) ** 2)


class TiedAutoencoder:
    def __init__(self, W, b_enc, b_dec):
        self.W = W
        self.b_enc = b_enc
        self.b_dec = b_dec

    def encode(self, x):
        return np.tanh(x @ self.W + self.b_enc)

    def decode(self, h):
        return h @ self.W.T + self.b_dec

    def __call__(self, x):
        return self.decode(self.encode(x))


def autoencoder_loss(ae, X):
    recon = ae(X)
    return np.mean(np.sum((recon - X) ** 2, axis=1))


# ------------------------------------------------------------------ mixtures and processes


def logsumexp(a, axis=None):
    a_max = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - a_max), axis=axis, keepdims=True)) + a_max
    return np.squeeze(out, axis=axis)


def gmm_nll(params, X):
    means, log_vars, logits = params["means"], params["log_vars"], params["logits"]
    log_weights = logits - logsumexp(logits)
    n, d = X.shape
    comps = []
    for k in range(means.shape[0]):
        diff = X - means[k]
        var = np.exp(log_vars[k])
        ll = -0.5 * np.sum(diff**2 / var + log_vars[k] + np.log(2 * np.pi), axis=1)
        comps.append(ll + log_weights[k])
    log_lik = logsumexp(np.stack(comps, axis=1), axis=1)
    return -np.mean(log_lik)


def rbf_kernel(X1, X2, lengthscale, variance):
    sqdist = np.sum(X1**2, 1).reshape(-1, 1) + np.sum(X2**2, 1) - 2 * np.dot(X1, X2.T)
    return variance * np.exp(-0.5 / lengthscale**2 * sqdist)


def gp_nll_cholesky(theta, X, y):
    lengthscale, variance, noise = np.exp(theta)
    K = rbf_kernel(X, X, lengthscale, variance)
    K[np.diag_indices_from(K)] += noise
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    n = len(y)
    return 0.5 * y.dot(alpha) + np.sum(np.log(np.diagonal(L))) + 0.5 * n * np.log(2 * np.pi)


def gp_nll_slogdet(log_params, X, y):
    ell = np.exp(log_params["ell"])
    sf2 = np.exp(2 * log_params["sf"])
    sn2 = np.exp(2 * log_params["sn"])
    d = X[:, None, :] - X[None, :, :]
    K = sf2 * np.exp(-0.5 * np.sum((d / ell) ** 2, axis=-1)) + sn2 * np.eye(len(X))
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet + len(y) * np.log(2 * np.pi))


def kernel_ridge_validation(log_ell, X_tr, y_tr, X_val, y_val, lam=0.1):
    ell = np.exp(log_ell)
    K = rbf_kernel(X_tr, X_tr, ell, 1.0)
    alpha = np.linalg.solve(K + lam * np.eye(K.shape[0]), y_tr)
    pred = rbf_kernel(X_val, X_tr, ell, 1.0) @ alpha
    return np.mean((pred - y_val) ** 2)


# ------------------------------------------------------------------ regressions


def factorization_machine(params, X, y):
    w0, w, V = params["w0"], params["w"], params["V"]
    linear = w0 + X @ w
    interactions = 0.5 * np.sum((X @ V) ** 2 - (X**2) @ (V**2), axis=1)
    y_hat = linear + interactions
    return np.mean((y_hat - y) ** 2)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def ordinal_logit_nll(params, X, y):
    w, theta0, log_gaps = params["w"], params["theta0"], params["log_gaps"]
    thresholds = np.concatenate([[theta0], theta0 + np.cumsum(np.exp(log_gaps))])
    eta = X @ w
    cdf = sigmoid(thresholds[None, :] - eta[:, None])
    cdf = np.hstack([np.zeros((len(eta), 1)), cdf, np.ones((len(eta), 1))])
    probs = cdf[:, 1:] - cdf[:, :-1]
    return -np.sum(np.log(probs[np.arange(len(y)), y]))


def poisson_regression(w, X, counts):
    eta = X @ w
    mu = np.exp(eta)
    return np.sum(mu - counts * eta) / len(counts)


def quantile_loss(w, X, y, quantiles=(0.1, 0.5, 0.9)):
    total = 0.0
    for i, q in enumerate(quantiles):
        residual = y - X @ w[:, i]
        total += np.mean(np.maximum(q * residual, (q - 1) * residual))
    return total


def huber_regression(w, X, y, delta=0.5):
    r = X @ w - y
    quad = 0.5 * r**2
    lin = delta * (np.abs(r) - 0.5 * delta)
    return np.mean(np.where(np.abs(r) <= delta, quad, lin))


# ------------------------------------------------------------------ embeddings and metrics


def tsne_kl(Y, P):
    sum_Y = np.sum(np.square(Y), 1)
    num = -2.0 * np.dot(Y, Y.T)
    num = 1.0 / (1.0 + np.add(np.add(num, sum_Y).T, sum_Y))
    num[range(Y.shape[0]), range(Y.shape[0])] = 0.0
    Q = num / np.sum(num)
    Q = np.maximum(Q, 1e-12)
    return np.sum(P * np.log(P / Q))


def tsne_kl_fill_diagonal(Y, P):
    diff = Y[:, None, :] - Y[None, :, :]
    inv = 1.0 / (1.0 + np.sum(diff**2, axis=-1))
    np.fill_diagonal(inv, 0.0)
    Q = inv / inv.sum()
    mask = P > 0
    return np.sum(P[mask] * (np.log(P[mask]) - np.log(Q[mask])))


def _tsne_p():
    d = np.sum((X[:, None] - X[None]) ** 2, -1)
    p = np.exp(-d)
    np.fill_diagonal(p, 0.0)
    p = p + p.T
    return np.maximum(p / p.sum(), 1e-12)


def masked_matrix_factorization(params, R_obs, mask, lam=0.05):
    U, V = params["U"], params["V"]
    err = mask * (R_obs - U @ V.T)
    return np.sum(err**2) / mask.sum() + lam * (np.sum(U**2) + np.sum(V**2))


def triplet_loss(W, anchor, positive, negative, margin=0.5):
    a, p, n = anchor @ W, positive @ W, negative @ W
    d_pos = np.sum((a - p) ** 2, axis=1)
    d_neg = np.sum((a - n) ** 2, axis=1)
    return np.mean(np.maximum(d_pos - d_neg + margin, 0.0))


def focal_loss(W, X, y, gamma=2.0, alpha=0.25):
    p = sigmoid(X @ W)
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha)
    return np.mean(-alpha_t * (1 - p_t) ** gamma * np.log(p_t))


def label_smoothing_ce(W, X, y, eps=0.1):
    logits = X @ W
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    n_cls = logits.shape[-1]
    targets = np.full_like(logits, eps / (n_cls - 1))
    targets[np.arange(len(y)), y] = 1.0 - eps
    return -(targets * log_probs).sum(axis=-1).mean()


Y_REG = r(N)
COUNTS = np.array([0.0, 2.0, 1.0, 3.0, 0.0, 1.0])
Y_ORD = np.array([0, 3, 1, 2, 2, 0])
MASK = (R.uniform(size=(5, 4)) > 0.3).astype(float)
X_VAL = r(3, D)

CASES = [
    Case(
        "logreg_object",
        logreg_object_loss,
        (LogisticRegression(0.5 * r(D), 0.1), X, Y_BIN),
        order=2,
    ),
    Case(
        "softmax_regression", softmax_regression, ({"W": r(D, K), "b": r(K)}, X, Y_ONEHOT), order=2
    ),
    Case("svm_vectorized", svm_loss_vectorized, (r(D, K), X, Y_CLS), order=2),
    Case("binary_hinge_mask", binary_hinge_mask, (r(D), X, Y_BIN), order=2),
    Case("squared_hinge", squared_hinge, (r(D), X, Y_BIN), order=2),
    Case("soft_kmeans", soft_kmeans, (r(K, D), X), order=2),
    Case("pca_reconstruction", pca_reconstruction, (r(D, 2), X), order=2),
    Case(
        "tied_autoencoder",
        autoencoder_loss,
        (TiedAutoencoder(0.5 * r(D, 2), r(2), r(D)), X),
        order=2,
    ),
    Case(
        "gmm_nll",
        gmm_nll,
        ({"means": r(K, D), "log_vars": 0.3 * r(K, D), "logits": r(K)}, X),
        order=2,
    ),
    Case("gp_nll_cholesky", gp_nll_cholesky, (np.array([0.2, 0.1, -1.0]), X, Y_REG), order=2),
    Case(
        "gp_nll_slogdet",
        gp_nll_slogdet,
        ({"ell": 0.3 * r(D), "sf": 0.1, "sn": -0.8}, X, Y_REG),
        order=2,
    ),
    Case("kernel_ridge", kernel_ridge_validation, (0.3, X, Y_REG, X_VAL, r(3)), order=2),
    Case(
        "factorization_machine",
        factorization_machine,
        ({"w0": 0.1, "w": r(D), "V": r(D, 2)}, X, Y_REG),
        order=2,
    ),
    Case(
        "ordinal_logit",
        ordinal_logit_nll,
        ({"w": 0.5 * r(D), "theta0": -1.0, "log_gaps": np.array([0.0, -0.2])}, X, Y_ORD),
        order=2,
    ),
    Case("poisson_regression", poisson_regression, (0.3 * r(D), X, COUNTS), order=2),
    Case("quantile_loss", quantile_loss, (r(D, 3), X, Y_REG)),
    Case("huber_regression", huber_regression, (r(D), X, Y_REG), order=2),
    Case("tsne_kl", tsne_kl, (r(N, 2), _tsne_p()), order=2),
    Case("tsne_kl_fill_diagonal", tsne_kl_fill_diagonal, (r(N, 2), _tsne_p()), order=2),
    Case(
        "masked_mf",
        masked_matrix_factorization,
        ({"U": r(5, 2), "V": r(4, 2)}, r(5, 4), MASK),
        order=2,
    ),
    Case("triplet_loss", triplet_loss, (r(D, 2), X, r(N, D), r(N, D))),
    Case("focal_loss", focal_loss, (r(D), X, Y_BIN), order=2),
    Case("label_smoothing", label_smoothing_ce, (r(D, K), X, Y_CLS), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_ml_from_scratch(case):
    check(case)
