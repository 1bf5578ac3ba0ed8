"""Generative and structured models as people write them today: a VAE loss with the
reparameterisation trick (noise passed in), a GAN's generator and discriminator steps, word2vec
with negative sampling (integer index arrays), matrix factorisation with a mask, NeRF's
positional encoding and MLP, normalising flows (planar; RealNVP coupling with ``np.split`` and
``np.concatenate``), a neural ODE (fixed-step RK4 over a list of layer objects), a mixture
density network, attention with a padding mask built from lengths, a GNN's message passing, a
tree-structured recursive network. Each against Python's value and central differences on
calls 1-3 (the optimized code runs from the second call), and the HVP where smooth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(43)


def rn(*shape):
    return R.standard_normal(shape)


def dense_params(i, o):
    return {"W": 0.3 * rn(i, o), "b": 0.1 * rn(o)}


# ---------------------------------------------------------------- VAE


def vae_encode(p, x):
    h = np.tanh(x @ p["enc"]["W"] + p["enc"]["b"])
    mu = h @ p["mu"]["W"] + p["mu"]["b"]
    logvar = h @ p["lv"]["W"] + p["lv"]["b"]
    return mu, logvar


def vae_loss(p, x, eps):
    mu, logvar = vae_encode(p, x)
    z = mu + np.exp(0.5 * logvar) * eps
    xr = 1.0 / (1.0 + np.exp(-(z @ p["dec"]["W"] + p["dec"]["b"])))
    rec = -np.sum(x * np.log(xr + 1e-9) + (1 - x) * np.log(1 - xr + 1e-9))
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    return (rec + kl) / x.shape[0]


VAE = {"enc": dense_params(4, 5), "mu": dense_params(5, 2), "lv": dense_params(5, 2),
       "dec": dense_params(2, 4)}  # fmt: skip


# ---------------------------------------------------------------- GAN


def leaky_mlp(layers, x):
    for W, b in layers[:-1]:
        x = np.maximum(0.0, x @ W + b) + 0.01 * np.minimum(0.0, x @ W + b)
    W, b = layers[-1]
    return x @ W + b


def generator_loss(g_params, d_params, z):
    logits = leaky_mlp(d_params, leaky_mlp(g_params, z))
    return np.mean(np.logaddexp(0.0, -logits))


def discriminator_loss(d_params, g_params, z, real):
    fake = leaky_mlp(g_params, z)
    return np.mean(np.logaddexp(0.0, -leaky_mlp(d_params, real))) + np.mean(
        np.logaddexp(0.0, leaky_mlp(d_params, fake))
    )


GEN = [(0.5 * rn(2, 4), 0.1 * rn(4)), (0.5 * rn(4, 3), 0.1 * rn(3))]
DISC = [(0.5 * rn(3, 4), 0.1 * rn(4)), (0.5 * rn(4, 1), 0.1 * rn(1))]


# ---------------------------------------------------------------- word2vec, factorisation


def word2vec_loss(emb, ctx, centers, contexts, negatives):
    c = emb[centers]
    pos = np.sum(c * ctx[contexts], axis=1)
    neg = np.einsum("bd,bkd->bk", c, ctx[negatives])
    return -np.mean(-np.logaddexp(0, -pos) + np.sum(-np.logaddexp(0, neg), axis=1))


def factorisation_loss(UV, ratings, mask, lam):
    U, V = UV
    err = (U @ V.T - ratings) * mask
    return 0.5 * np.sum(err**2) / mask.sum() + lam * (np.sum(U**2) + np.sum(V**2))


# ---------------------------------------------------------------- NeRF


def positional_encoding(x, n_freqs):
    out = [x]
    for i in range(n_freqs):
        out.append(np.sin(2.0**i * np.pi * x))
        out.append(np.cos(2.0**i * np.pi * x))
    return np.concatenate(out, axis=-1)


def nerf_loss(layers, points, target):
    h = positional_encoding(points, 2)
    for k, layer in enumerate(layers):
        h = h @ layer["W"] + layer["b"]
        if k < len(layers) - 1:
            h = np.maximum(h, 0.0)
    rgb = 1 / (1 + np.exp(-h[:, :3]))
    sigma = np.log1p(np.exp(h[:, 3]))
    return np.mean((rgb - target) ** 2) + 0.01 * np.mean(sigma)


# ---------------------------------------------------------------- flows


def planar_flow_nll(flows, z):
    logdet = 0.0
    for u, w, b in flows:
        h = np.tanh(z @ w + b)
        z = z + np.outer(h, u)
        logdet = logdet + np.log(np.abs(1 + np.outer(1 - h**2, w) @ u))
    return np.sum(z**2) * 0.5 - np.sum(logdet)


def coupling(p, x):
    x1, x2 = np.split(x, 2, axis=1)
    h = np.tanh(x1 @ p["W"] + p["b"])
    s = h @ p["Ws"]
    y2 = x2 * np.exp(s) + h @ p["Wt"]
    return np.concatenate([x1, y2], axis=1), np.sum(s, axis=1)


def realnvp_nll(layers, x):
    logdet = 0.0
    for p in layers:
        x, ld = coupling(p, x)
        x = x[:, ::-1]
        logdet = logdet + ld
    return np.mean(0.5 * np.sum(x**2, axis=1) - logdet)


def coupling_params():
    return {"W": 0.3 * rn(2, 3), "b": 0.1 * rn(3), "Ws": 0.3 * rn(3, 2), "Wt": 0.3 * rn(3, 2)}


# ---------------------------------------------------------------- neural ODE


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, h):
        return np.tanh(h @ self.W + self.b)


def vector_field(layers, y):
    for layer in layers:
        y = layer(y)
    return y


def neural_ode_loss(layers, y0, target, steps=4):
    h = 1.0 / steps
    y = y0
    for _ in range(steps):
        k1 = vector_field(layers, y)
        k2 = vector_field(layers, y + h / 2 * k1)
        k3 = vector_field(layers, y + h / 2 * k2)
        k4 = vector_field(layers, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum((y - target) ** 2)


# ---------------------------------------------------------------- mixture density network


def mdn_nll(p, x, y):
    h = np.tanh(x @ p["W"] + p["b"])
    logits = h @ p["Wpi"]
    mu = h @ p["Wmu"]
    log_sigma = h @ p["Wsig"]
    log_pi = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    z = (y[:, None] - mu) / np.exp(log_sigma)
    a = log_pi - 0.5 * z**2 - log_sigma - 0.5 * np.log(2 * np.pi)
    m = np.max(a, axis=1, keepdims=True)
    return -np.mean(m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1)))


MDN = {"W": 0.5 * rn(1, 4), "b": 0.1 * rn(4), "Wpi": 0.5 * rn(4, 3), "Wmu": rn(4, 3),
       "Wsig": 0.3 * rn(4, 3)}  # fmt: skip


# ---------------------------------------------------------------- attention, GNN, tree


def padded_attention(p, x, lengths):
    T, D = x.shape[1], x.shape[2]
    q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
    scores = q @ np.swapaxes(k, 1, 2) / np.sqrt(D)
    mask = np.arange(T)[None, :] < lengths[:, None]
    scores = np.where(mask[:, None, :], scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=-1, keepdims=True)
    return np.sum((w @ v) * mask[:, :, None])


def multi_head_attention(p, x, n_heads=2):
    B, T, D = x.shape
    hd = D // n_heads

    def split(t):
        return t.reshape(B, T, n_heads, hd).transpose(0, 2, 1, 3)

    q, k, v = split(x @ p["Wq"]), split(x @ p["Wk"]), split(x @ p["Wv"])
    s = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(hd)
    s = s - s.max(-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(-1, keepdims=True)
    o = np.einsum("bhqk,bhkd->bhqd", a, v).transpose(0, 2, 1, 3).reshape(B, T, D)
    return np.sum((o @ p["Wo"]) ** 2)


def gnn_loss(p, A, X, y):
    deg = A.sum(axis=1, keepdims=True)
    H = X
    for W in p["layers"]:
        H = np.tanh((A @ H) / deg @ W + H @ p["self"])
    return np.sum((H.mean(axis=0) @ p["out"] - y) ** 2)


GNN_A = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1.0]])


def tree_net(W, tree):
    if isinstance(tree, tuple):
        return np.tanh(np.concatenate([tree_net(W, tree[0]), tree_net(W, tree[1])]) @ W)
    return tree


def tree_loss(W, leaves):
    t = ((leaves[0], leaves[1]), (leaves[2], (leaves[3], leaves[0])))
    return np.sum(tree_net(W, t) ** 2)


CASES = [
    Case("vae_reparameterised", vae_loss, (VAE, R.uniform(0.1, 0.9, (3, 4)), rn(3, 2)), order=2),
    Case("gan_generator_step", generator_loss, (GEN, DISC, rn(5, 2)), wrt=(0, 1)),
    Case("gan_discriminator_step", discriminator_loss, (DISC, GEN, rn(5, 2), rn(5, 3))),
    Case("word2vec_negative_sampling", word2vec_loss,
         (0.3 * rn(6, 3), 0.3 * rn(6, 3), np.array([0, 2, 2, 5]), np.array([1, 3, 0, 4]),
          np.array([[2, 3], [1, 1], [5, 4], [0, 2]])), wrt=(0, 1), order=2),
    Case("masked_matrix_factorisation", factorisation_loss,
         ((rn(5, 2), rn(4, 2)), rn(5, 4), (R.random((5, 4)) > 0.4) * 1.0, 0.01), order=2),
    Case("nerf_encoding_and_mlp", nerf_loss,
         ([dense_params(10, 6), dense_params(6, 4)], R.uniform(-1, 1, (4, 2)), R.random((4, 3)))),
    Case("planar_flow", planar_flow_nll, ([(0.3 * rn(2), 0.3 * rn(2), 0.1) for _ in range(3)],
         rn(4, 2)), wrt=(0, 1), order=2),
    Case("realnvp_coupling", realnvp_nll, ([coupling_params(), coupling_params()], rn(5, 4)),
         wrt=(0, 1), order=2),
    Case("neural_ode_rk4_over_layer_objects", neural_ode_loss,
         ([Dense(0.5 * rn(2, 3), 0.1 * rn(3)), Dense(0.5 * rn(3, 2), 0.1 * rn(2))], rn(3, 2),
          rn(3, 2)), wrt=(0, 1), order=2),
    Case("mixture_density_network", mdn_nll, (MDN, rn(6, 1), rn(6)), order=2),
    Case("attention_with_padding_mask", padded_attention,
         ({"Wq": 0.5 * rn(3, 3), "Wk": 0.5 * rn(3, 3), "Wv": 0.5 * rn(3, 3)}, rn(2, 4, 3),
          np.array([2, 4])), wrt=(0, 1), order=2),
    Case("multi_head_attention_einsum", multi_head_attention,
         ({k: 0.4 * rn(4, 4) for k in ["Wq", "Wk", "Wv", "Wo"]}, rn(2, 3, 4)), wrt=(0, 1),
         order=2),
    Case("gnn_message_passing", gnn_loss,
         ({"layers": [0.5 * rn(3, 3), 0.5 * rn(3, 3)], "self": 0.3 * rn(3, 3), "out": rn(3, 2)},
          GNN_A, rn(4, 3), rn(2)), wrt=(0, 2), order=2),
    Case("recursive_tree_network", tree_loss, (0.5 * rn(4, 2), [rn(2) for _ in range(4)]),
         wrt=(0, 1)),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_generative_and_structured_models(case):
    check(case)
