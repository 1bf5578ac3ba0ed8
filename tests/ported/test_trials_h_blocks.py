"""Whole blocks and training losses of today's models, written as NumPy ports of nanoGPT,
Llama and Mixtral write them: a config dataclass with optional ``n_kv_heads`` and a
``head_dim`` property, fused ``qkv`` split by ``np.split``, ``masked_fill`` as a boolean-mask
write of ``-np.inf``, heads by ``reshape``/``transpose``, ``einsum`` with ellipses, a decoder
layer class holding its RMSNorms and MLP, a Mixtral-style sparse MoE looping over experts
with ``np.nonzero`` of the routing, label smoothing and z-loss, DPO's preference loss,
knowledge distillation with temperature, and a VAE's reparametrised ELBO. Each against
Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(4410)


def r(*s):
    return R.standard_normal(s)


T, D = 4, 8


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def rms_norm(x, w, eps=1e-6):
    return x * (1.0 / np.sqrt((x * x).mean(-1, keepdims=True) + eps)) * w


# ------------------------------------------------------------------ nanoGPT attention


def fused_qkv_attention(params, x, n_head=2):
    t, c = x.shape
    qkv = x @ params["c_attn"] + params["b_attn"]
    q, k, v = np.split(qkv, 3, axis=-1)
    q = q.reshape(t, n_head, c // n_head).transpose(1, 0, 2)
    k = k.reshape(t, n_head, c // n_head).transpose(1, 0, 2)
    v = v.reshape(t, n_head, c // n_head).transpose(1, 0, 2)
    att = (q @ k.transpose(0, 2, 1)) * (1.0 / np.sqrt(k.shape[-1]))
    mask = np.tril(np.ones((t, t))) == 0
    att[:, mask] = -np.inf
    att = softmax(att, axis=-1)
    y = (att @ v).transpose(1, 0, 2).reshape(t, c)
    return np.sum((y @ params["c_proj"]) ** 2)


def masked_fill_copy(params, x):
    s = (x @ params["wq"]) @ (x @ params["wk"]).T
    att = s.copy()
    att[np.triu_indices(x.shape[0], k=1)] = float("-inf")
    return np.sum(softmax(att) @ (x @ params["wv"]))


def einsum_ellipsis_attention(params, x):
    q = np.einsum("...d,dh->...h", x, params["wq"])
    k = np.einsum("...d,dh->...h", x, params["wk"])
    s = np.einsum("...qh,...kh->...qk", q[None], k[None]) / np.sqrt(q.shape[-1])
    return np.sum(np.tanh(softmax(s)[0] @ x))


NANO = {
    "c_attn": r(D, 3 * D) * 0.3,
    "b_attn": np.zeros(3 * D),
    "c_proj": r(D, D) * 0.3,
}
QKV = {"wq": r(D, 4) * 0.4, "wk": r(D, 4) * 0.4, "wv": r(D, 4) * 0.4}
X = r(T, D) * 0.6


# ------------------------------------------------------------------ Llama decoder layer


@dataclasses.dataclass
class ModelArgs:
    dim: int = D
    n_heads: int = 4
    n_kv_heads: int | None = None
    norm_eps: float = 1e-5

    @property
    def head_dim(self):
        return self.dim // self.n_heads


class DecoderLayer:
    def __init__(self, args, weights):
        self.args = args
        self.n_kv = args.n_heads if args.n_kv_heads is None else args.n_kv_heads
        self.w = weights

    def attention(self, x):
        t = x.shape[0]
        hd = self.args.head_dim
        q = (x @ self.w["wq"]).reshape(t, self.args.n_heads, hd)
        k = (x @ self.w["wk"]).reshape(t, self.n_kv, hd)
        v = (x @ self.w["wv"]).reshape(t, self.n_kv, hd)
        rep = self.args.n_heads // self.n_kv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd)
        scores = scores + np.triu(np.full((t, t), float("-inf")), k=1)
        out = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(t, -1)
        return out @ self.w["wo"]

    def feed_forward(self, x):
        a = x @ self.w["w1"]
        return (a / (1 + np.exp(-a)) * (x @ self.w["w3"])) @ self.w["w2"]

    def __call__(self, x):
        h = x + self.attention(rms_norm(x, self.w["attn_norm"], self.args.norm_eps))
        return h + self.feed_forward(rms_norm(h, self.w["ffn_norm"], self.args.norm_eps))


def layer_weights(n_kv):
    hd = D // 4
    return {
        "wq": r(D, D) * 0.3,
        "wk": r(D, n_kv * hd) * 0.3,
        "wv": r(D, n_kv * hd) * 0.3,
        "wo": r(D, D) * 0.3,
        "w1": r(D, 6) * 0.3,
        "w3": r(D, 6) * 0.3,
        "w2": r(6, D) * 0.3,
        "attn_norm": np.ones(D),
        "ffn_norm": np.ones(D),
    }


def llama_stack_loss(weights, x, n_kv_heads):
    args = ModelArgs(n_kv_heads=n_kv_heads)
    for w in weights:
        x = DecoderLayer(args, w)(x)
    return np.mean(x**2)


# ------------------------------------------------------------------ Mixtral MoE


def mixtral_moe(params, x, top_k=2):
    logits = x @ params["gate"]
    selected = np.argsort(logits, axis=-1)[:, ::-1][:, :top_k]
    weights = softmax(np.take_along_axis(logits, selected, axis=-1))
    out = np.zeros_like(x)
    for e in range(params["gate"].shape[1]):
        rows, slot = np.nonzero(selected == e)
        if len(rows) == 0:
            continue
        h = x[rows] @ params["w1"][e]
        y = (h / (1 + np.exp(-h))) @ params["w2"][e]
        out[rows] += weights[rows, slot][:, None] * y
    return np.sum(out**2)


def router_z_loss(params, x, coef=1e-3):
    logits = x @ params["gate"]
    m = logits.max(-1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(-1)) + m[:, 0]
    probs = softmax(logits)
    n_exp = logits.shape[-1]
    hard = np.argmax(logits, axis=-1)
    counts = np.bincount(hard, minlength=n_exp) / len(hard)
    balance = n_exp * np.sum(counts * probs.mean(0))
    return coef * np.mean(lse**2) + 0.01 * balance


MIX = {"gate": r(D, 4), "w1": r(4, D, 5) * 0.3, "w2": r(4, 5, D) * 0.3}


# ------------------------------------------------------------------ losses


def label_smoothing_ce(logits, targets, eps=0.1):
    n_cls = logits.shape[-1]
    logp = log_softmax(logits)
    smooth = np.full_like(logp, eps / n_cls)
    smooth[np.arange(len(targets)), targets] += 1.0 - eps
    return -np.mean(np.sum(smooth * logp, axis=-1))


def seq_ce_ignore_index(logits, targets, ignore_index=-100):
    logp = log_softmax(logits)
    valid = targets != ignore_index
    safe = np.where(valid, targets, 0)
    nll = -np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    return np.sum(nll * valid) / np.sum(valid)


def sequence_logp(logits, labels):
    logp = log_softmax(logits)
    return np.sum(logp[np.arange(len(labels)), labels])


def dpo_loss(policy, reference, chosen, rejected, beta=0.1):
    pi_c = sequence_logp(policy["chosen"], chosen)
    pi_r = sequence_logp(policy["rejected"], rejected)
    ref_c = sequence_logp(reference["chosen"], chosen)
    ref_r = sequence_logp(reference["rejected"], rejected)
    margin = beta * ((pi_c - ref_c) - (pi_r - ref_r))
    return -np.log(1.0 / (1.0 + np.exp(-margin)))


def distillation_loss(student, teacher, y, T_=2.0, alpha=0.5):
    p_t = softmax(teacher / T_)
    kl = np.sum(p_t * (np.log(p_t) - log_softmax(student / T_)), axis=-1).mean()
    ce = -np.mean(log_softmax(student)[np.arange(len(y)), y])
    return alpha * kl * T_**2 + (1 - alpha) * ce


def vae_elbo(params, x, eps):
    h = np.tanh(x @ params["enc"])
    mu, logvar = h @ params["mu"], h @ params["lv"]
    z = mu + np.exp(0.5 * logvar) * eps
    x_hat = 1 / (1 + np.exp(-(z @ params["dec"])))
    bce = -np.sum(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat))
    kld = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
    return (bce + kld) / len(x)


VAE = {"enc": r(5, 4) * 0.4, "mu": r(4, 2) * 0.4, "lv": r(4, 2) * 0.4, "dec": r(2, 5) * 0.4}
LOGITS = r(5, 6)
TARGETS = np.array([0, 3, 5, 3, 1])
SEQ = {"chosen": r(4, 6), "rejected": r(4, 6)}


CASES = [
    Case("nanogpt_fused_qkv_mask_write", fused_qkv_attention, (NANO, X), order=2),
    Case("nanogpt_wrt_input", fused_qkv_attention, (NANO, X), wrt=1),
    Case("masked_fill_triu_indices", masked_fill_copy, (QKV, X), order=2),
    Case("einsum_ellipsis", einsum_ellipsis_attention, (QKV, X), wrt=(0, 1)),
    Case("llama_layers_gqa", llama_stack_loss, ([layer_weights(2), layer_weights(2)], X, 2)),
    Case("llama_layer_mha_default", llama_stack_loss, ([layer_weights(4)], X, None), order=2),
    Case("llama_layer_input", llama_stack_loss, ([layer_weights(1)], X, 1), wrt=1),
    Case("mixtral_nonzero_routing", mixtral_moe, (MIX, X)),
    Case("mixtral_wrt_input", mixtral_moe, (MIX, X), wrt=1),
    Case("router_z_and_balance", router_z_loss, (MIX, X), order=2),
    Case("label_smoothing", label_smoothing_ce, (LOGITS, TARGETS), order=2),
    Case(
        "ce_ignore_index",
        seq_ce_ignore_index,
        (LOGITS, np.array([2, -100, 4, 0, -100])),
        order=2,
    ),
    Case("dpo_policy", dpo_loss, (SEQ, {k: r(4, 6) for k in SEQ}, TARGETS[:4], TARGETS[1:])),
    Case("dpo_hvp", dpo_loss, (SEQ, {k: r(4, 6) for k in SEQ}, TARGETS[:4], TARGETS[1:]), order=2),
    Case("distillation_both", distillation_loss, (LOGITS, r(5, 6), TARGETS), wrt=(0, 1)),
    Case("vae_reparam_elbo", vae_elbo, (VAE, (R.uniform(size=(3, 5)) > 0.5) * 1.0, r(3, 2))),
]


@pytest.mark.parametrize("case", params(CASES))
def test_block(case):
    check(case)
