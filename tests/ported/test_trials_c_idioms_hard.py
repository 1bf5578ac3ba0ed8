"""The less common ways people write the same models: a Butcher tableau applied with
``sum(b * k for b, k in zip(B, ks))``, ``np.fill_diagonal`` on a pairwise matrix, stencils by
``np.convolve(..., mode="same")`` and by ``u[1:-1] += ...``, Sinkhorn iterations under a
tolerance on arrays, power iteration, a hypergradient through early-stopped training, discounted
returns by ``np.cumsum`` of a reversed array, top-k by ``argsort``, convolution through
``sliding_window_view`` and ``np.pad``, dataclass properties, classmethod constructors,
``dataclasses.replace``, ``NamedTuple`` parameters, ``**kw`` forwarded through layers, an
``rng`` seeded inside the loss. Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import pytest
import scipy.special

from .harness import Case, check, params

R = np.random.default_rng(7005)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ integrators and grids

RK4_A = [[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]]
RK4_B = [1 / 6, 1 / 3, 1 / 3, 1 / 6]
RK4_C = [0.0, 0.5, 0.5, 1.0]


def lotka_volterra(t, z, a, b, c, d):
    x, y = z[0], z[1]
    return np.array([a * x - b * x * y, d * x * y - c * y])


def explicit_rk(f, y, t, h, args):
    ks = []
    for ci, row in zip(RK4_C, RK4_A):
        yi = y + h * sum((aij * kj for aij, kj in zip(row, ks)), np.zeros_like(y))
        ks.append(f(t + ci * h, yi, *args))
    return y + h * sum(b * k for b, k in zip(RK4_B, ks))


def lotka_volterra_fit(theta, z0, obs):
    z, t = z0, 0.0
    loss = 0.0
    for target in obs:
        z = explicit_rk(lotka_volterra, z, t, 0.1, tuple(theta))
        t += 0.1
        loss += np.sum((z - target) ** 2)
    return loss


def pairwise_energy_fill_diagonal(pos, eps=0.1):
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff**2, axis=-1) + eps**2
    inv = 1.0 / np.sqrt(r2)
    np.fill_diagonal(inv, 0.0)
    return -0.5 * np.sum(inv)


def heat_convolve_same(u0, nu, steps=8):
    u = u0
    for _ in range(steps):
        u = u + nu * np.convolve(u, [1.0, -2.0, 1.0], mode="same")
    return np.sum(u**2)


def heat_augmented_slice(u0, nu, steps=8):
    u = u0.copy()
    for _ in range(steps):
        lap = u[2:] - 2 * u[1:-1] + u[:-2]
        u[1:-1] += nu * lap
    return np.sum(u**2)


# ------------------------------------------------------------------ iterations to a tolerance


def sinkhorn_cost(C, a, b, reg=0.5, tol=1e-9, max_iter=500):
    K = np.exp(-C / reg)
    u = np.ones_like(a)
    v = np.ones_like(b)
    err, it = 1.0, 0
    while err > tol and it < max_iter:
        u_prev = u
        u = a / (K @ v)
        v = b / (K.T @ u)
        err = np.max(np.abs(u - u_prev))
        it += 1
    P = u[:, None] * K * v[None, :]
    return np.sum(P * C)


def spectral_norm_power_iteration(W, v0, n_iter=30):
    v = v0 / np.linalg.norm(v0)
    for _ in range(n_iter):
        u = W @ v
        u = u / np.linalg.norm(u)
        v = W.T @ u
        v = v / np.linalg.norm(v)
    return u @ W @ v


def hypergradient_lr(lr, w0, X, y, Xv, yv, max_steps=20, tol=1e-6):
    w = w0
    prev = np.inf
    for _ in range(max_steps):
        loss = np.mean((X @ w - y) ** 2)
        if prev - loss < tol:
            break
        prev = loss
        w = w - lr * 2 * X.T @ (X @ w - y) / len(y)
    return np.mean((Xv @ w - yv) ** 2)


# ------------------------------------------------------------------ RL and ranking


def discounted_cumsum_pg(theta, states, actions, rewards, gamma=0.9):
    discounts = gamma ** np.arange(len(rewards))
    returns = np.cumsum((rewards * discounts)[::-1])[::-1] / discounts
    logits = states @ theta
    logp = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    return -np.mean(logp[np.arange(len(actions)), actions] * returns)


def topk_mean_argsort(scores, k=3):
    idx = np.argsort(scores)[::-1][:k]
    return np.mean(scores[idx] ** 2)


def listnet_loss(w, X, rel):
    s = X @ w
    p_true = scipy.special.softmax(rel)
    return -np.sum(p_true * scipy.special.log_softmax(s))


def logsumexp_weights(x, b):
    return scipy.special.logsumexp(x, b=b) + np.sum(scipy.special.expit(x))


# ------------------------------------------------------------------ convolution variants


def conv2d_sliding_window(K, img, pad=1):
    x = np.pad(img, pad)
    windows = np.lib.stride_tricks.sliding_window_view(x, K.shape)
    out = np.einsum("ijkl,kl->ij", windows, K)
    return np.sum(np.tanh(out) ** 2)


def conv1d_loops_preallocated(w, x):
    n = len(x) - len(w) + 1
    out = np.empty(n)
    for i in range(n):
        out[i] = np.dot(w, x[i : i + len(w)])
    return np.sum(np.maximum(out, 0) ** 2)


# ------------------------------------------------------------------ classes


@dataclasses.dataclass
class DiagGaussian:
    mu: np.ndarray
    log_std: np.ndarray

    @property
    def std(self):
        return np.exp(self.log_std)

    @classmethod
    def standard(cls, d):
        return cls(np.zeros(d), np.zeros(d))

    def log_prob(self, x):
        z = (x - self.mu) / self.std
        return np.sum(-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi), axis=-1)

    def kl(self, other):
        var_ratio = (self.std / other.std) ** 2
        t1 = ((self.mu - other.mu) / other.std) ** 2
        return 0.5 * np.sum(var_ratio + t1 - 1 - np.log(var_ratio))


def gaussian_property_classmethod(mu, log_std, x):
    q = DiagGaussian(mu, log_std)
    return -np.mean(q.log_prob(x)) + q.kl(DiagGaussian.standard(len(mu)))


@dataclasses.dataclass(frozen=True)
class Affine:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x, *, scale=1.0):
        return scale * (x @ self.W) + self.b


def rebuilt_then_call(layer, x):
    """What dataclasses.replace stands for, written out."""
    shrunk = Affine(W=0.5 * layer.W, b=layer.b)
    return np.sum(shrunk(x) ** 2) + np.sum(layer(x, scale=2.0))


def replace_then_call(layer, x):
    shrunk = dataclasses.replace(layer, W=0.5 * layer.W)
    return np.sum(shrunk(x) ** 2) + np.sum(layer(x, scale=2.0))


class LayerParams(NamedTuple):
    W: np.ndarray
    b: np.ndarray


def namedtuple_layers(layers, x):
    for lp in layers:
        x = np.tanh(x @ lp.W + lp.b)
    return np.sum(x**2)


@dataclasses.dataclass
class Block:
    lin: Affine

    def __call__(self, x, **kw):
        return np.tanh(self.lin(x, **kw))


def kwargs_forwarded(block, x):
    return np.sum(block(x, scale=0.5) ** 2) + np.sum(block(x))


# ------------------------------------------------------------------ randomness inside


def mc_dropout_seeded(W, x, p=0.3):
    rng = np.random.default_rng(0)
    total = 0.0
    for _ in range(4):
        mask = rng.uniform(size=x.shape) > p
        total += np.sum(np.tanh((x * mask / (1 - p)) @ W))
    return total / 4


def stochastic_elbo_rng_inside(mu, log_s):
    rng = np.random.default_rng(123)
    eps = rng.standard_normal((16, mu.size))
    z = mu + np.exp(log_s) * eps
    return np.mean(np.sum(0.5 * z**2 - np.cos(z), axis=1)) - np.sum(log_s)


# ------------------------------------------------------------------ cases

OBS = [np.array([1.0, 0.5]) + 0.05 * k for k in range(5)]
POS = np.array([[0.0, 0.0], [1.0, 0.3], [0.2, 1.1], [-0.7, 0.4]])
COST = np.abs(r(4, 5))
A_MARG = np.full(4, 0.25)
B_MARG = np.full(5, 0.2)
STATES = r(6, 3)
ACTIONS = np.array([0, 2, 1, 1, 0, 2])

CASES = [
    Case(
        "butcher_tableau_rk4",
        lotka_volterra_fit,
        (np.array([1.0, 0.4, 0.8, 0.3]), np.array([1.0, 0.5]), OBS),
        wrt=(0, 1),
        order=2,
    ),
    Case("fill_diagonal_pairwise", pairwise_energy_fill_diagonal, (POS,), order=2),
    Case("heat_convolve_same", heat_convolve_same, (r(8), 0.2), wrt=(0, 1), order=2),
    Case("heat_augmented_slice", heat_augmented_slice, (r(8), 0.2), wrt=(0, 1), order=2),
    Case("sinkhorn_while_tolerance", sinkhorn_cost, (COST, A_MARG, B_MARG), rtol=1e-4),
    Case(
        "power_iteration_spectral_norm", spectral_norm_power_iteration, (r(4, 3), r(3)), rtol=1e-4
    ),
    Case(
        "hypergradient_early_stop",
        hypergradient_lr,
        (0.05, np.zeros(3), r(8, 3), r(8), r(4, 3), r(4)),
        order=2,
    ),
    Case(
        "discounted_cumsum_reversed",
        discounted_cumsum_pg,
        (0.5 * r(3, 3), STATES, ACTIONS, np.abs(r(6))),
        order=2,
    ),
    Case("topk_argsort_gather", topk_mean_argsort, (r(7),), order=2),
    Case("listnet_scipy_softmax", listnet_loss, (r(3), r(5, 3), r(5)), order=2),
    Case("logsumexp_b_expit", logsumexp_weights, (r(5), np.abs(r(5))), wrt=(0, 1), order=2),
    Case(
        "conv2d_sliding_window_pad", conv2d_sliding_window, (r(3, 3), r(5, 6)), wrt=(0, 1), order=2
    ),
    Case("conv1d_preallocated_loop", conv1d_loops_preallocated, (r(3), r(9)), wrt=(0, 1)),
    Case(
        "dataclass_property_classmethod_kl",
        gaussian_property_classmethod,
        (r(3), 0.2 * r(3), r(5, 3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("frozen_replace", replace_then_call, (Affine(r(3, 2), r(2)), r(4, 3)), order=2),
    Case(
        "frozen_rebuilt_kwonly_call",
        rebuilt_then_call,
        (Affine(r(3, 2), r(2)), r(4, 3)),
        order=2,
    ),
    Case(
        "namedtuple_layers",
        namedtuple_layers,
        ([LayerParams(0.5 * r(3, 4), r(4)), LayerParams(0.5 * r(4, 2), r(2))], r(5, 3)),
        order=2,
    ),
    Case(
        "kwargs_forwarded_to_layer",
        kwargs_forwarded,
        (Block(Affine(r(3, 2), r(2))), r(4, 3)),
        order=2,
    ),
    Case("mc_dropout_rng_inside", mc_dropout_seeded, (r(3, 2), r(5, 3)), wrt=(0, 1), order=2),
    Case("elbo_rng_inside", stochastic_elbo_rng_inside, (r(3), 0.1 * r(3)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_idioms_hard(case):
    check(case)
