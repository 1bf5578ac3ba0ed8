"""Probabilistic and scientific models as their tutorials write them: a Gaussian mixture's
log-likelihood through ``logsumexp``, a VAE's ELBO with the noise passed in (the
reparameterisation trick), soft k-means, REINFORCE with fixed sampled actions, a Poisson GLM
with ``gammaln``, spectral losses through ``eigh``/``svd``/``det``, a Fourier-feature
encoding. Each checked against Python's value and central differences on repeated calls, to
second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

scipy_special = pytest.importorskip("scipy.special", reason="the GMM and GLM cases use scipy")
logsumexp, gammaln = scipy_special.logsumexp, scipy_special.gammaln

R = np.random.default_rng(21)


def r(*shape):
    return R.standard_normal(shape)


def gmm_loglik(params, x):
    mu, log_sigma, logits = params["mu"], params["log_sigma"], params["logits"]
    log_w = logits - logsumexp(logits)
    d = x[:, None, :] - mu[None, :, :]
    sigma2 = np.exp(2 * log_sigma)
    comp = -0.5 * np.sum(d**2 / sigma2 + 2 * log_sigma + np.log(2 * np.pi), axis=-1)
    return -np.sum(logsumexp(comp + log_w, axis=1))


def encoder(p, x):
    h = np.tanh(x @ p["We"])
    return h @ p["Wm"], h @ p["Ws"]


def decoder(p, z):
    return 1 / (1 + np.exp(-(np.tanh(z @ p["Wd"]) @ p["Wo"])))


def vae_elbo(p, x, eps):
    mean, log_std = encoder(p, x)
    z = mean + np.exp(log_std) * eps
    xr = decoder(p, z)
    rec = -np.sum(x * np.log(xr + 1e-9) + (1 - x) * np.log(1 - xr + 1e-9))
    kl = 0.5 * np.sum(np.exp(2 * log_std) + mean**2 - 1 - 2 * log_std)
    return (rec + kl) / x.shape[0]


def soft_kmeans(centers, x, beta=2.0):
    d2 = np.sum((x[:, None, :] - centers[None]) ** 2, axis=-1)
    a = np.exp(-beta * (d2 - d2.min(axis=1, keepdims=True)))
    a = a / a.sum(axis=1, keepdims=True)
    return np.sum(a * d2) / x.shape[0]


ACTIONS = np.array([0, 2, 1, 1, 0])
RETURNS = np.array([1.0, -0.5, 2.0, 0.3, -1.0])


def reinforce(theta, states):
    logits = states @ theta
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    chosen = logp[np.arange(len(ACTIONS)), ACTIONS]
    baseline = np.mean(RETURNS)
    return -np.mean(chosen * (RETURNS - baseline))


COUNTS = np.array([0.0, 3.0, 1.0, 7.0, 2.0])


def poisson_glm(w, x):
    eta = x @ w
    return -np.sum(COUNTS * eta - np.exp(eta) - gammaln(COUNTS + 1))


def spectral(A):
    S = A @ A.T + np.eye(A.shape[0])
    evals, evecs = np.linalg.eigh(S)
    s = np.linalg.svd(A, compute_uv=False)
    return (
        np.sum(np.log(evals)) + np.sum(s**2) + np.log(np.linalg.det(S)) + np.sum(evecs[:, -1] ** 4)
    )


def fourier_features(B, x, w):
    proj = 2 * np.pi * x @ B
    feats = np.concatenate([np.sin(proj), np.cos(proj)], axis=-1)
    return np.sum((feats @ w) ** 2)


GMM = {"mu": r(3, 2), "log_sigma": 0.1 * r(3, 2), "logits": r(3)}
VAE = {"We": 0.5 * r(4, 5), "Wm": 0.5 * r(5, 2), "Ws": 0.1 * r(5, 2), "Wd": 0.5 * r(2, 5), "Wo": 0.5 * r(5, 4)}  # fmt: skip

CASES = [
    Case("gmm_loglik", gmm_loglik, (GMM, r(6, 2)), order=2),
    Case("vae_elbo", vae_elbo, (VAE, (R.random((6, 4)) > 0.5).astype(float), r(6, 2)), order=2),
    Case("soft_kmeans", soft_kmeans, (r(3, 2), r(7, 2)), order=2),
    Case("reinforce", reinforce, (r(4, 3), r(5, 4)), order=2),
    Case("poisson_glm", poisson_glm, (0.3 * r(3), r(5, 3)), order=2),
    Case("spectral", spectral, (r(3, 3),), rtol=1e-4),
    Case("fourier_features", fourier_features, (0.5 * r(2, 4), r(5, 2), r(8)), wrt=(0, 2), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_probabilistic_model(case):
    check(case)
