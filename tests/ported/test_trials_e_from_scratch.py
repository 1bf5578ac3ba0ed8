"""Blog-post "from scratch in NumPy" models as their authors wrote them: a transformer block
with a parameter dict per head, scaled dot-product attention with a causal mask, layer norm
in a class, positional encodings made outside, a GRU and a vanilla RNN over a list of
one-hot inputs, a char-level model sampling nothing, a CNN with explicit loops, an
autoencoder, a mixture density network, k-means' soft assignment, a normalising flow
(planar), an energy-based model with Langevin steps unrolled, and a policy-gradient loss
with returns computed backwards. Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(9606)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ attention


def softmax(x, axis=-1):
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention(q, k, v, mask=None):
    d_k = q.shape[-1]
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    return softmax(scores) @ v


def layer_norm(x, g, b, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    variance = np.var(x, axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(variance + eps) + b


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def linear(x, w, b):
    return x @ w + b


def ffn(x, c_fc, c_proj):
    return linear(gelu(linear(x, **c_fc)), **c_proj)


def mha(x, c_attn, c_proj, n_head):
    """picoGPT's ``mha``: split qkv, split heads, a causal mask, merge heads."""
    x = linear(x, **c_attn)
    qkv = np.split(x, 3, axis=-1)
    qkv_heads = list(map(lambda t: np.split(t, n_head, axis=-1), qkv))
    causal_mask = (1 - np.tri(x.shape[0], dtype=x.dtype)) * -1e10
    out_heads = [attention_masked(q, k, v, causal_mask) for q, k, v in zip(*qkv_heads)]
    x = np.hstack(out_heads)
    return linear(x, **c_proj)


def attention_masked(q, k, v, mask):
    return softmax(q @ k.T / np.sqrt(q.shape[-1]) + mask) @ v


def transformer_block(x, mlp, attn, ln_1, ln_2, n_head):
    x = x + mha(layer_norm(x, **ln_1), **attn, n_head=n_head)
    x = x + ffn(layer_norm(x, **ln_2), **mlp)
    return x


def picogpt_loss(params, inputs, targets, n_head):
    wte, wpe = params["wte"], params["wpe"]
    x = wte[inputs] + wpe[range(len(inputs))]
    for block in params["blocks"]:
        x = transformer_block(x, **block, n_head=n_head)
    x = layer_norm(x, **params["ln_f"])
    logits = x @ wte.T
    logp = (
        logits
        - np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    return -np.mean(logp[np.arange(len(targets)), targets])


def batched_causal_attention(Wq, Wk, Wv, x):
    T = x.shape[1]
    mask = np.tril(np.ones((T, T), dtype=bool))
    return np.sum(attention(x @ Wq, x @ Wk, x @ Wv, mask=mask) ** 2)


class LayerNorm:
    def __init__(self, gamma, beta, eps=1e-5):
        self.gamma, self.beta, self.eps = gamma, beta, eps

    def __call__(self, x):
        mu = x.mean(-1, keepdims=True)
        sigma = x.std(-1, keepdims=True)
        return self.gamma * (x - mu) / (sigma + self.eps) + self.beta


def sinusoidal_positions(T, d):
    pos = np.arange(T)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / np.power(10000, (2 * (i // 2)) / d)
    return np.where(i % 2 == 0, np.sin(angle), np.cos(angle))


def encoder_with_positions(p, x):
    h = x + sinusoidal_positions(*x.shape)
    ln = LayerNorm(p["g"], p["b"])
    h = ln(h + attention(h @ p["Wq"], h @ p["Wk"], h @ p["Wv"]))
    return np.sum(h[-1] ** 2)


# ------------------------------------------------------------------ recurrent


def gru_cell(x, h, P):
    z = 1 / (1 + np.exp(-(x @ P["Wz"] + h @ P["Uz"])))
    r_ = 1 / (1 + np.exp(-(x @ P["Wr"] + h @ P["Ur"])))
    h_tilde = np.tanh(x @ P["Wh"] + (r_ * h) @ P["Uh"])
    return (1 - z) * h + z * h_tilde


def gru_sequence_loss(P, xs, target):
    h = np.zeros(P["Uz"].shape[0])
    hs = {}
    hs[-1] = h
    for t, x in enumerate(xs):
        hs[t] = gru_cell(x, hs[t - 1], P)
    return np.sum((hs[len(xs) - 1] - target) ** 2)


def rnn_one_hot(Wxh, Whh, Why, bh, by, inputs, targets, vocab_size):
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.zeros((Whh.shape[0], 1))
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


# ------------------------------------------------------------------ convolution


def conv2d_loops(X, K, b):
    n, h, w = X.shape
    kh, kw = K.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            out[:, i, j] = np.sum(X[:, i : i + kh, j : j + kw] * K, axis=(1, 2)) + b
    return out


def maxpool2(X):
    n, h, w = X.shape
    return X.reshape(n, h // 2, 2, w // 2, 2).max(axis=(2, 4))


def tiny_cnn(K, b, W, X, y):
    feat = maxpool2(np.maximum(conv2d_loops(X, K, b), 0))
    logits = feat.reshape(len(X), -1) @ W
    return np.mean((logits[:, 0] - y) ** 2)


# ------------------------------------------------------------------ generative and misc


def autoencoder(params, X):
    (W1, b1), (W2, b2) = params
    code = np.tanh(X @ W1 + b1)
    recon = code @ W2 + b2
    return np.mean(np.sum((recon - X) ** 2, axis=1))


def mdn_nll(W, x, y, K=3):
    out = x @ W
    logits, mu, log_sigma = out[:, :K], out[:, K : 2 * K], out[:, 2 * K :]
    log_pi = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    log_n = (
        -0.5 * ((y[:, None] - mu) / np.exp(log_sigma)) ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)
    )
    a = log_pi + log_n
    amax = a.max(axis=1, keepdims=True)
    return -np.mean(amax[:, 0] + np.log(np.exp(a - amax).sum(axis=1)))


def soft_kmeans(centers, X, beta=2.0):
    d2 = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    resp = softmax(-beta * d2, axis=1)
    return np.sum(resp * d2)


def planar_flow(params, z0, n_layers=3):
    z = z0
    log_det = 0.0
    for k in range(n_layers):
        u, w, b = params["u"][k], params["w"][k], params["b"][k]
        a = np.tanh(z @ w + b)
        psi = (1 - a**2)[:, None] * w
        z = z + u * a[:, None]
        log_det = log_det + np.log(np.abs(1 + psi @ u))
    log_base = -0.5 * np.sum(z**2, axis=1)
    return -np.mean(log_base + log_det)


def energy(theta, x):
    return 0.5 * np.sum((x - theta["mu"]) ** 2 * np.exp(theta["log_prec"]), axis=-1)


def langevin_ebm(theta, data, x0, noise, step=0.1):
    x = x0
    for eps in noise:
        grad_e = (x - theta["mu"]) * np.exp(theta["log_prec"])
        x = x - 0.5 * step * grad_e + np.sqrt(step) * eps
    return np.mean(energy(theta, data)) - np.mean(energy(theta, x))


def policy_gradient(theta, states, actions, rewards, gamma=0.99):
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    logits = states @ theta
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.sum(logp[np.arange(len(actions)), actions] * returns)


# ------------------------------------------------------------------ data


def block_params(d, hidden):
    return {
        "mlp": {
            "c_fc": {"w": 0.3 * r(d, hidden), "b": r(hidden) * 0.1},
            "c_proj": {"w": 0.3 * r(hidden, d), "b": r(d) * 0.1},
        },
        "attn": {
            "c_attn": {"w": 0.3 * r(d, 3 * d), "b": r(3 * d) * 0.1},
            "c_proj": {"w": 0.3 * r(d, d), "b": r(d) * 0.1},
        },
        "ln_1": {"g": 1 + 0.1 * r(d), "b": 0.1 * r(d)},
        "ln_2": {"g": 1 + 0.1 * r(d), "b": 0.1 * r(d)},
    }


GPT = {
    "wte": 0.3 * r(7, 4),
    "wpe": 0.3 * r(5, 4),
    "blocks": [block_params(4, 6)],
    "ln_f": {"g": 1 + 0.1 * r(4), "b": 0.1 * r(4)},
}
ENC = {
    "g": 1 + 0.1 * r(4),
    "b": 0.1 * r(4),
    "Wq": 0.3 * r(4, 4),
    "Wk": 0.3 * r(4, 4),
    "Wv": 0.3 * r(4, 4),
}
GRU = {
    k: 0.4 * r(3, 4) if k[0] == "W" else 0.4 * r(4, 4) for k in ["Wz", "Uz", "Wr", "Ur", "Wh", "Uh"]
}
FLOW = {"u": 0.3 * r(3, 2), "w": 0.5 * r(3, 2), "b": 0.1 * r(3)}
EBM = {"mu": r(2), "log_prec": 0.2 * r(2)}

CASES = [
    Case(
        "picogpt_nested_kwargs_dicts",
        picogpt_loss,
        (GPT, np.array([1, 4, 2, 6]), np.array([4, 2, 6, 0]), 2),
        order=2,
    ),
    Case(
        "batched_causal_attention_mask",
        batched_causal_attention,
        (0.4 * r(4, 4), 0.4 * r(4, 4), 0.4 * r(4, 4), r(2, 3, 4)),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "encoder_positions_layernorm_class",
        encoder_with_positions,
        (ENC, r(3, 4)),
        wrt=(0, 1),
        order=2,
    ),
    Case("gru_dict_of_states", gru_sequence_loss, (GRU, [r(3) for _ in range(4)], r(4)), order=2),
    Case(
        "rnn_one_hot_dicts",
        rnn_one_hot,
        (
            0.3 * r(5, 4),
            0.3 * r(5, 5),
            0.3 * r(4, 5),
            np.zeros((5, 1)),
            np.zeros((4, 1)),
            [0, 2, 1, 3],
            [2, 1, 3, 0],
            4,
        ),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "cnn_explicit_loops_maxpool",
        tiny_cnn,
        (r(2, 2), 0.1, r(4, 1), r(3, 5, 5), r(3)),
        wrt=(0, 1, 2, 3),
    ),
    Case(
        "autoencoder_nested_unpack",
        autoencoder,
        ([(0.4 * r(4, 2), r(2)), (0.4 * r(2, 4), r(4))], r(5, 4)),
        order=2,
    ),
    Case("mixture_density_network", mdn_nll, (0.3 * r(2, 9), r(6, 2), r(6)), order=2),
    Case("soft_kmeans", soft_kmeans, (r(3, 2), r(7, 2)), wrt=(0, 1), order=2),
    Case("planar_flow_loop", planar_flow, (FLOW, r(5, 2)), wrt=(0, 1), order=2),
    Case(
        "langevin_ebm_unrolled",
        langevin_ebm,
        (EBM, r(6, 2), r(6, 2), [r(6, 2) for _ in range(3)]),
        wrt=(0, 2),
        order=2,
    ),
    Case(
        "policy_gradient_returns_backwards",
        policy_gradient,
        (0.3 * r(3, 2), r(6, 3), np.array([0, 1, 1, 0, 1, 0]), r(6)),
        wrt=(0, 1, 3),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_from_scratch(case):
    check(case)
