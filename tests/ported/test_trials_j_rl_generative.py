"""Policy gradients, generative models and contrastive objectives as tutorials write them in
NumPy: REINFORCE with discounted returns computed backwards (``for t in reversed(range(T))``,
``returns.insert(0, G)``) and a mean baseline, returns normalised by their std, an
actor-critic with a value head, GAE's backward loop (``advantages[t] = last = delta + gamma *
lam * (1 - dones[t]) * last``), an entropy bonus, a softmax policy over logits from a linear
layer; a VAE class with an encoder returning ``mu, logvar``, reparameterisation with a fixed
noise array and the closed-form KL, a beta-VAE and a conditional VAE concatenating one-hot
labels; a RealNVP-style affine coupling with its log-determinant, a stack of planar-free
triangular (autoregressive) affine flows, and a 1x1-invertible linear flow with
``slogdet``; neural ODEs by Euler and RK4 keeping a list of states; InfoNCE with a
temperature and cosine-similarity matrix, SimCLR's NT-Xent with the diagonal masked by
``np.eye(..., dtype=bool)``, triplet loss, focal loss (binary and multi-class with ``alpha``
weights), label smoothing built with ``np.full`` and ``np.put_along_axis``-free index writes.
Each against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(99173)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ policy gradients

T = 5
STATES = r(T, 3)
ACTIONS = np.array([0, 2, 1, 1, 0])
REWARDS = np.array([1.0, 0.0, -0.5, 2.0, 1.0])
DONES = np.array([0.0, 0.0, 1.0, 0.0, 0.0])


def discount_rewards(rewards, gamma=0.99):
    returns = []
    G = 0.0
    for r_t in reversed(rewards):
        G = r_t + gamma * G
        returns.insert(0, G)
    return np.array(returns)


def log_softmax(logits):
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True))


def reinforce_baseline(theta, states, actions, rewards):
    logits = states @ theta
    logp = log_softmax(logits)[np.arange(len(actions)), actions]
    returns = discount_rewards(rewards)
    baseline = returns.mean()
    returns = (returns - baseline) / (returns.std() + 1e-8)
    return -np.sum(logp * returns)


def reinforce_loop(theta, states, actions, rewards, gamma=0.9):
    T_ = len(rewards)
    G = np.zeros(T_)
    running = 0.0
    for t in reversed(range(T_)):
        running = rewards[t] + gamma * running
        G[t] = running
    loss = 0.0
    for t in range(T_):
        probs = np.exp(log_softmax(states[t] @ theta))
        loss = loss - np.log(probs[actions[t]]) * G[t]
    return loss / T_


def gae(rewards, values, dones, gamma=0.99, lam=0.95):
    T_ = len(rewards)
    advantages = np.zeros(T_)
    last = 0.0
    for t in reversed(range(T_)):
        next_value = values[t + 1]
        delta = rewards[t] + gamma * next_value * (1 - dones[t]) - values[t]
        advantages[t] = last = delta + gamma * lam * (1 - dones[t]) * last
    return advantages


def actor_critic_gae(params, states, actions, rewards, dones, last_state):
    logits = states @ params["pi"]
    all_states = np.vstack([states, last_state[None]])
    values = np.tanh(all_states @ params["v"])
    adv = gae(rewards, values, dones)
    returns = adv + values[:-1]
    logp = log_softmax(logits)
    chosen = logp[np.arange(len(actions)), actions]
    probs = np.exp(logp)
    entropy = -np.sum(probs * logp, axis=1).mean()
    policy_loss = -np.mean(chosen * adv)
    value_loss = 0.5 * np.mean((values[:-1] - returns) ** 2)
    return policy_loss + 0.5 * value_loss - 0.01 * entropy


def gae_list_append(values, rewards, dones, gamma=0.9, lam=0.8):
    advs = []
    gae_t = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * values[t + 1] * (1.0 - dones[t]) - values[t]
        gae_t = delta + gamma * lam * (1.0 - dones[t]) * gae_t
        advs.append(gae_t)
    advs = advs[::-1]
    return np.sum(np.array(advs) ** 2)


def gaussian_policy_logprob(params, states, actions_c, advantages):
    mu = states @ params["W"]
    log_std = params["log_std"]
    std = np.exp(log_std)
    logp = -0.5 * (((actions_c - mu) / std) ** 2 + 2 * log_std + np.log(2 * np.pi))
    return -np.mean(logp.sum(axis=1) * advantages)


# ------------------------------------------------------------------ VAEs

EPS_NOISE = r(4, 2)
XB = R.uniform(0.05, 0.95, (4, 5))


class VAE:
    def __init__(self, params):
        self.enc_W, self.enc_b = params["enc"]
        self.mu_W = params["mu"]
        self.lv_W = params["logvar"]
        self.dec_W, self.dec_b = params["dec"]

    def encode(self, x):
        h = np.tanh(x @ self.enc_W + self.enc_b)
        return h @ self.mu_W, h @ self.lv_W

    def reparameterize(self, mu, logvar, eps):
        std = np.exp(0.5 * logvar)
        return mu + eps * std

    def decode(self, z):
        return 1 / (1 + np.exp(-(z @ self.dec_W + self.dec_b)))

    def forward(self, x, eps):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar


def vae_loss(params, x, eps, beta=1.0):
    model = VAE(params)
    recon, mu, logvar = model.forward(x, eps)
    bce = -np.sum(x * np.log(recon) + (1 - x) * np.log(1 - recon))
    kld = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    return (bce + beta * kld) / x.shape[0]


def beta_vae(params, x, eps):
    return vae_loss(params, x, eps, beta=4.0)


def cvae_loss(params, x, labels, eps, n_classes=3):
    onehot = np.eye(n_classes)[labels]
    h = np.tanh(np.concatenate([x, onehot], axis=1) @ params["enc"])
    mu, logvar = np.split(h @ params["head"], 2, axis=1)
    z = mu + np.exp(0.5 * logvar) * eps
    recon = np.concatenate([z, onehot], axis=1) @ params["dec"]
    mse = np.sum((recon - x) ** 2, axis=1)
    kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1.0 - logvar, axis=1)
    return np.mean(mse + kl)


def vae_gaussian_decoder_logvar(params, x, eps):
    mu = x @ params["We"]
    logvar = np.clip(x @ params["Wv"], -5, 5)
    z = mu + np.exp(logvar / 2) * eps
    x_hat = z @ params["Wd"]
    log_px = -0.5 * np.sum(
        (x - x_hat) ** 2 / np.exp(params["log_sigma2"]) + params["log_sigma2"] + np.log(2 * np.pi),
        axis=1,
    )
    kl = -0.5 * np.sum(1 + logvar - np.square(mu) - np.exp(logvar), axis=-1)
    return -np.mean(log_px - kl)


# ------------------------------------------------------------------ flows

MASK = np.array([1.0, 0.0, 1.0, 0.0])


def coupling_forward(x, params, mask):
    x_masked = x * mask
    h = np.tanh(x_masked @ params["W"] + params["b"])
    s = np.tanh(h @ params["Ws"]) * (1 - mask)
    t = (h @ params["Wt"]) * (1 - mask)
    y = x_masked + (1 - mask) * (x * np.exp(s) + t)
    log_det = np.sum(s, axis=1)
    return y, log_det


def realnvp_nll(layers, x):
    log_det_total = np.zeros(x.shape[0])
    mask = MASK
    for layer in layers:
        x, log_det = coupling_forward(x, layer, mask)
        log_det_total = log_det_total + log_det
        mask = 1 - mask
    log_pz = -0.5 * np.sum(x**2, axis=1) - 0.5 * x.shape[1] * np.log(2 * np.pi)
    return -np.mean(log_pz + log_det_total)


def autoregressive_affine(params, x):
    d = x.shape[1]
    L = np.tril(params["L"], -1) + np.diag(np.exp(params["log_diag"]))
    z = x @ L.T + params["shift"]
    log_det = np.sum(params["log_diag"])
    return -np.mean(-0.5 * np.sum(z**2, axis=1) + log_det) + 0 * d


def invertible_1x1(W, x):
    z = x @ W
    sign, logabsdet = np.linalg.slogdet(W)
    return np.mean(0.5 * np.sum(z**2, axis=1)) - logabsdet


# ------------------------------------------------------------------ neural ODEs


def f_field(z, t, params):
    return np.tanh(z @ params["W"] + t * params["c"]) @ params["V"]


def euler_ode(params, z0, n_steps=4, t1=1.0):
    dt = t1 / n_steps
    states = [z0]
    t = 0.0
    for _ in range(n_steps):
        z = states[-1]
        states.append(z + dt * f_field(z, t, params))
        t += dt
    traj = np.stack(states)
    return np.sum(traj[-1] ** 2) + 0.1 * np.sum(traj**2)


def rk4_ode(params, z0, ts):
    zs = [z0]
    for i in range(len(ts) - 1):
        t, h = ts[i], ts[i + 1] - ts[i]
        z = zs[i]
        k1 = f_field(z, t, params)
        k2 = f_field(z + h * k1 / 2, t + h / 2, params)
        k3 = f_field(z + h * k2 / 2, t + h / 2, params)
        k4 = f_field(z + h * k3, t + h, params)
        zs.append(z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    return np.mean((zs[-1] - 1.0) ** 2)


# ------------------------------------------------------------------ contrastive / losses


def cosine_sim_matrix(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def info_nce(W, x1, x2, temperature=0.1):
    z1, z2 = x1 @ W, x2 @ W
    logits = cosine_sim_matrix(z1, z2) / temperature
    labels = np.arange(len(z1))
    return -np.mean(log_softmax(logits)[labels, labels])


def nt_xent(W, x1, x2, tau=0.5):
    z = np.concatenate([x1 @ W, x2 @ W], axis=0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / tau
    n = len(x1)
    mask = np.eye(2 * n, dtype=bool)
    sim = np.where(mask, -np.inf, sim)
    targets = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    logprobs = sim - np.log(np.sum(np.exp(sim), axis=1, keepdims=True))
    return -np.mean(logprobs[np.arange(2 * n), targets])


def triplet_loss(W, anchor, positive, negative, margin=1.0):
    a, p, n = anchor @ W, positive @ W, negative @ W
    d_ap = np.sum((a - p) ** 2, axis=1)
    d_an = np.sum((a - n) ** 2, axis=1)
    return np.mean(np.maximum(d_ap - d_an + margin, 0.0))


def focal_binary(logits, targets, alpha=0.25, gamma=2.0):
    p = 1 / (1 + np.exp(-logits))
    ce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return np.mean(alpha_t * (1 - p_t) ** gamma * ce)


def focal_multiclass(logits, y, alpha, gamma=2.0):
    logp = log_softmax(logits)
    logpt = logp[np.arange(len(y)), y]
    pt = np.exp(logpt)
    at = alpha[y]
    return -np.mean(at * (1 - pt) ** gamma * logpt)


def label_smoothing_ce(logits, y, smoothing=0.1):
    n_classes = logits.shape[-1]
    true_dist = np.full(logits.shape, smoothing / (n_classes - 1))
    true_dist[np.arange(len(y)), y] = 1.0 - smoothing
    return np.mean(np.sum(-true_dist * log_softmax(logits), axis=-1))


def label_smoothing_mix(logits, y, eps=0.1):
    logp = log_softmax(logits)
    nll = -logp[np.arange(len(y)), y]
    smooth = -logp.mean(axis=-1)
    return np.mean((1 - eps) * nll + eps * smooth)


XS = r(4, 3)
CASES = [
    Case(
        "reinforce_insert_returns_baseline",
        reinforce_baseline,
        (r(3, 3), STATES, ACTIONS, REWARDS),
        order=2,
    ),
    Case(
        "reinforce_reversed_range_loop",
        reinforce_loop,
        (r(3, 3), STATES, ACTIONS, REWARDS),
        order=2,
    ),
    Case(
        "actor_critic_gae_entropy",
        actor_critic_gae,
        ({"pi": r(3, 3), "v": r(3)}, STATES, ACTIONS, REWARDS, DONES, r(3)),
    ),
    Case("gae_chained_assignment_values", gae_list_append, (r(T + 1), REWARDS, DONES), order=2),
    Case(
        "gaussian_policy_log_std",
        gaussian_policy_logprob,
        ({"W": r(3, 2), "log_std": r(2)}, STATES, r(T, 2), r(T)),
        order=2,
    ),
    Case(
        "vae_class_reparameterize",
        vae_loss,
        (
            {
                "enc": (r(5, 3), r(3)),
                "mu": r(3, 2),
                "logvar": 0.3 * r(3, 2),
                "dec": (r(2, 5), r(5)),
            },
            XB,
            EPS_NOISE,
        ),
        order=2,
    ),
    Case(
        "beta_vae_keyword",
        beta_vae,
        (
            {
                "enc": (r(5, 3), r(3)),
                "mu": r(3, 2),
                "logvar": 0.3 * r(3, 2),
                "dec": (r(2, 5), r(5)),
            },
            XB,
            EPS_NOISE,
        ),
    ),
    Case(
        "cvae_onehot_split",
        cvae_loss,
        ({"enc": r(8, 4), "head": r(4, 4), "dec": r(5, 5)}, XB, np.array([0, 2, 1, 2]), EPS_NOISE),
        order=2,
    ),
    Case(
        "vae_gaussian_decoder_clip",
        vae_gaussian_decoder_logvar,
        (
            {"We": r(5, 2), "Wv": 0.2 * r(5, 2), "Wd": r(2, 5), "log_sigma2": 0.1 * r(5)},
            XB,
            EPS_NOISE,
        ),
        order=2,
    ),
    Case(
        "realnvp_alternating_masks",
        realnvp_nll,
        ([{"W": r(4, 3), "b": r(3), "Ws": r(3, 4), "Wt": r(3, 4)} for _ in range(2)], r(3, 4)),
        order=2,
    ),
    Case(
        "autoregressive_affine_tril",
        autoregressive_affine,
        ({"L": r(3, 3), "log_diag": 0.2 * r(3), "shift": r(3)}, r(4, 3)),
        order=2,
    ),
    Case("invertible_1x1_slogdet", invertible_1x1, (np.eye(3) + 0.3 * r(3, 3), r(4, 3)), order=2),
    Case(
        "neural_ode_euler_states",
        euler_ode,
        ({"W": r(2, 3), "c": r(3), "V": r(3, 2)}, r(3, 2)),
        order=2,
    ),
    Case(
        "neural_ode_rk4_times",
        rk4_ode,
        ({"W": r(2, 3), "c": r(3), "V": r(3, 2)}, r(3, 2), np.linspace(0.0, 1.0, 4)),
        wrt=(0, 1),
    ),
    Case("info_nce_cosine", info_nce, (r(3, 2), XS, XS + 0.1 * r(4, 3)), order=2),
    Case("nt_xent_masked_diagonal", nt_xent, (r(3, 2), XS, XS + 0.1 * r(4, 3)), order=2),
    Case("triplet_margin", triplet_loss, (r(3, 2), XS, XS + 0.1 * r(4, 3), r(4, 3))),
    Case("focal_binary", focal_binary, (r(6), np.array([1.0, 0, 0, 1, 1, 0])), order=2),
    Case(
        "focal_multiclass_alpha",
        focal_multiclass,
        (r(4, 3), np.array([0, 2, 1, 2]), np.array([0.25, 0.5, 0.25])),
        order=2,
    ),
    Case(
        "label_smoothing_full_write", label_smoothing_ce, (r(4, 3), np.array([0, 2, 1, 2])), order=2
    ),
    Case(
        "label_smoothing_mixture", label_smoothing_mix, (r(4, 3), np.array([0, 2, 1, 2])), order=2
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_rl_generative(case):
    check(case)
