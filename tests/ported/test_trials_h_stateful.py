"""State and dtype idioms of LLM code ported to NumPy: a preallocated KV cache written by
slices (``cache_k[start:start + n] = xk`` as in Llama's reference code), a cache object
growing by ``np.concatenate`` on ``self``, complex-number rotary embeddings (refused with
the real form as the way out), HF-style RMSNorm computing in float32 and casting back, a
LoRA weight merged by ``W += A @ B * scale`` into a copy, weight tying through an attribute
alias (``self.lm_head = self.wte``), ReLU², a Gumbel-softmax with fixed noise, Sinkhorn
routing, causal linear attention by ``np.cumsum``, PPO's clipped objective and GRPO's
group-normalised advantages. Each against Python's value and central differences on calls
1-3."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(5531)


def r(*s):
    return R.standard_normal(s)


T, D = 4, 6
X = r(T, D) * 0.6


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# ------------------------------------------------------------------ KV caches


def prealloc_cache_decode(params, x, max_seq=6):
    d = params["wk"].shape[1]
    cache_k = np.zeros((max_seq, d))
    cache_v = np.zeros((max_seq, d))
    total = 0.0
    for start_pos in range(x.shape[0]):
        xt = x[start_pos : start_pos + 1]
        cache_k[start_pos : start_pos + 1] = xt @ params["wk"]
        cache_v[start_pos : start_pos + 1] = xt @ params["wv"]
        keys = cache_k[: start_pos + 1]
        values = cache_v[: start_pos + 1]
        q = xt @ params["wq"]
        att = softmax(q @ keys.T / math.sqrt(d))
        total += np.sum((att @ values) ** 2)
    return total


def prefill_then_decode(params, x, n_prompt=2, max_seq=6):
    d = params["wk"].shape[1]
    cache_k = np.zeros((max_seq, d))
    cache_v = np.zeros((max_seq, d))
    cache_k[:n_prompt] = x[:n_prompt] @ params["wk"]
    cache_v[:n_prompt] = x[:n_prompt] @ params["wv"]
    out = 0.0
    for pos in range(n_prompt, x.shape[0]):
        cache_k[pos] = x[pos] @ params["wk"]
        cache_v[pos] = x[pos] @ params["wv"]
        w = softmax(cache_k[: pos + 1] @ (x[pos] @ params["wq"]))
        out = out + np.tanh(w @ cache_v[: pos + 1]).sum()
    return out


def stale_view_read(params, x, max_seq=6):
    cache_k = np.zeros((max_seq, params["wk"].shape[1]))
    keys = cache_k[:1]
    total = 0.0
    for t in range(x.shape[0]):
        cache_k[t] = x[t] @ params["wk"]  # REFUSED
        total = total + np.sum(keys**2)  # the view shows the write in Python
        keys = cache_k[: t + 1]
    return total


def view_rebound_in_branch(params, x, max_seq=6):
    cache_k = np.zeros((max_seq, params["wk"].shape[1]))
    keys = cache_k[:1]
    total = 0.0
    for t in range(x.shape[0]):
        cache_k[t] = x[t] @ params["wk"]  # REFUSED
        if t > 0:
            keys = cache_k[: t + 1]
        total = total + np.sum(np.tanh(keys))
    return total


class KVCache:
    def __init__(self, d):
        self.k = np.zeros((0, d))
        self.v = np.zeros((0, d))

    def update(self, k, v):
        self.k = np.concatenate([self.k, k[None]], axis=0)
        self.v = np.concatenate([self.v, v[None]], axis=0)
        return self.k, self.v


def cache_object_decode(params, x):
    cache = KVCache(params["wk"].shape[1])
    total = 0.0
    for t in range(x.shape[0]):
        keys, values = cache.update(x[t] @ params["wk"], x[t] @ params["wv"])  # REFUSED
        att = softmax(keys @ (x[t] @ params["wq"]))
        total = total + np.sum(att @ values)
    return total


class Cache:
    def __init__(self, k, v):
        self.k = k
        self.v = v

    def update(self, k, v):
        return Cache(np.concatenate([self.k, k[None]]), np.concatenate([self.v, v[None]]))


def cache_object_rebound(params, x):
    d = params["wk"].shape[1]
    cache = Cache(np.zeros((0, d)), np.zeros((0, d)))
    total = 0.0
    for t in range(x.shape[0]):
        cache = cache.update(x[t] @ params["wk"], x[t] @ params["wv"])
        att = softmax(cache.k @ (x[t] @ params["wq"]))
        total = total + np.sum(att @ cache.v)
    return total


class Recurrent:
    def __init__(self, W):
        self.W = W
        self.h = np.zeros(W.shape[1])

    def update(self, x):
        self.h = np.tanh(x @ self.W + self.h)
        return self.h


class GatedRecurrent(Recurrent):
    pass


def inherited_state_step(W, x):
    cell = GatedRecurrent(W)
    total = 0.0
    for t in range(x.shape[0]):
        total = total + np.sum(cell.update(x[t]))  # REFUSED
    return total


KV = {"wq": r(D, 4) * 0.4, "wk": r(D, 4) * 0.4, "wv": r(D, 4) * 0.4}


# ------------------------------------------------------------------ rotary, dtype


def rope_complex(x, w):
    h = x @ w
    t, d = h.shape
    freqs = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    angles = np.outer(np.arange(t), freqs)
    hc = h[:, 0::2] + 1j * h[:, 1::2]  # REFUSED
    rotated = hc * np.exp(1j * angles)
    out = np.stack([rotated.real, rotated.imag], axis=-1).reshape(t, d)
    return np.sum(out**2 * np.arange(d))


def rope_real(x, w):
    h = x @ w
    t, d = h.shape
    freqs = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    angles = np.outer(np.arange(t), freqs)
    a, b = h[:, 0::2], h[:, 1::2]
    c, s = np.cos(angles), np.sin(angles)
    out = np.stack([a * c - b * s, a * s + b * c], axis=-1).reshape(t, d)
    return np.sum(out**2 * np.arange(d))


def hf_rmsnorm(hidden_states, weight, eps=1e-6):
    input_dtype = hidden_states.dtype
    hidden_states = hidden_states.astype(np.float32)
    variance = np.mean(hidden_states**2, axis=-1, keepdims=True)
    hidden_states = hidden_states / np.sqrt(variance + eps)
    return weight * hidden_states.astype(input_dtype)


def hf_rmsnorm_loss(weight, x):
    return np.sum(hf_rmsnorm(x, weight) * np.arange(x.shape[-1]))


def lora_merge_inplace(A, B, W, x, y, alpha=4.0, rank=2):
    merged = W.copy()
    merged += A @ B * (alpha / rank)
    return np.mean((x @ merged - y) ** 2)


class TinyLM:
    def __init__(self, wte, w_mid):
        self.wte = wte
        self.lm_head = self.wte  # weight tying
        self.w_mid = w_mid

    def __call__(self, ids):
        h = np.maximum(self.wte[ids] @ self.w_mid, 0.0) ** 2  # ReLU squared
        return h @ self.lm_head.T


def tied_attribute_loss(wte, w_mid, ids, targets):
    model = TinyLM(wte, w_mid)
    logits = model(ids)
    logits = logits - logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -logp[np.arange(len(ids)), targets].mean()


IDS = np.array([0, 3, 1, 3])
NEXT = np.array([3, 1, 3, 2])


# ------------------------------------------------------------------ routing, relaxations


def gumbel_softmax_loss(logits, g, values, tau=0.5):
    y = softmax((logits + g) / tau)
    return np.sum(y @ values)


def sinkhorn_routing(logits, n_iter=5):
    P = np.exp(logits)
    for _ in range(n_iter):
        P = P / P.sum(axis=1, keepdims=True)
        P = P / P.sum(axis=0, keepdims=True)
    return np.sum(P * np.arange(P.size).reshape(P.shape))


def linear_attention_cumsum(params, x):
    phi = lambda z: np.where(z > 0, z + 1.0, np.exp(z))  # noqa: E731 (elu + 1)
    q, k, v = phi(x @ params["wq"]), phi(x @ params["wk"]), x @ params["wv"]
    kv = np.cumsum(k[:, :, None] * v[:, None, :], axis=0)
    z = np.cumsum(k, axis=0)
    num = np.einsum("td,tde->te", q, kv)
    den = np.einsum("td,td->t", q, z)[:, None]
    return np.sum((num / den) ** 2)


# ------------------------------------------------------------------ RL fine-tuning


def ppo_clip_loss(logp_new, logp_old, adv, clip=0.2):
    ratio = np.exp(logp_new - logp_old)
    surr1 = ratio * adv
    surr2 = np.clip(ratio, 1 - clip, 1 + clip) * adv
    return -np.mean(np.minimum(surr1, surr2))


def policy_logp(params, x, actions):
    logits = x @ params["W"]
    logits = logits - logits.max(-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return logp[np.arange(len(actions)), actions]


def ppo_policy_loss(params, x, actions, logp_old, adv, beta=0.01):
    logp = policy_logp(params, x, actions)
    probs = np.exp(x @ params["W"] - (x @ params["W"]).max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    entropy = -np.sum(probs * np.log(probs), axis=-1).mean()
    return ppo_clip_loss(logp, logp_old, adv) - beta * entropy


def grpo_loss(params, x, actions, rewards, group=3, kl_coef=0.05, ref_logp=None):
    adv = rewards.reshape(-1, group)
    adv = (adv - adv.mean(axis=1, keepdims=True)) / (adv.std(axis=1, keepdims=True) + 1e-4)
    adv = adv.reshape(-1)
    logp = policy_logp(params, x, actions)
    ratio = np.exp(logp - ref_logp)
    kl = ratio - (logp - ref_logp) - 1.0  # the k3 estimator
    return -np.mean(ratio * adv - kl_coef * kl)


PPO = {"W": r(D, 3) * 0.5}
XR = r(6, D) * 0.5
ACT = np.array([0, 2, 1, 1, 0, 2])


CASES = [
    Case("prealloc_kv_cache_slices", prealloc_cache_decode, (KV, X), order=2),
    Case("prealloc_kv_cache_wrt_x", prealloc_cache_decode, (KV, X), wrt=1),
    Case(
        "stale_view_read_after_write",
        stale_view_read,
        (KV, X),
        refused=(sg.UnsupportedSyntaxError, "add `.copy()` there"),
    ),
    Case(
        "view_rebound_only_in_branch",
        view_rebound_in_branch,
        (KV, X),
        refused=(sg.UnsupportedSyntaxError, "add `.copy()` there"),
    ),
    Case("prefill_then_decode", prefill_then_decode, (KV, X), order=2),
    Case(
        "kv_cache_object_kept_state",
        cache_object_decode,
        (KV, X),
        order=2,
    ),
    Case(
        "inherited_method_kept_state",
        inherited_state_step,
        (r(D, 3), X),
        order=2,
    ),
    Case("kv_cache_object_rebound", cache_object_rebound, (KV, X), order=2),
    Case(
        "rope_complex_refused",
        rope_complex,
        (X, r(D, 4)),
        wrt=1,
        refused=(sg.NoRuleError, "real and imaginary parts"),
    ),
    Case("rope_real_pairs", rope_real, (X, r(D, 4)), wrt=1, order=2),
    Case("hf_rmsnorm_float64", hf_rmsnorm_loss, (np.ones(D), X), order=2),
    Case(
        "lora_merge_inplace_copy",
        lora_merge_inplace,
        (r(D, 2), r(2, 3), r(D, 3), X, r(T, 3)),
        wrt=(0, 1),
    ),
    Case(
        "tied_attribute_alias",
        tied_attribute_loss,
        (r(5, D) * 0.5, r(D, D) * 0.5, IDS, NEXT),
        wrt=(0, 1),
    ),
    Case("gumbel_softmax_fixed_noise", gumbel_softmax_loss, (r(4, 3), r(4, 3), r(3, 2)), order=2),
    Case("sinkhorn_routing", sinkhorn_routing, (r(4, 3) * 0.5,), order=2),
    Case("linear_attention_cumsum", linear_attention_cumsum, (KV, X), order=2),
    Case("ppo_clip_on_logp", ppo_clip_loss, (r(6) * 0.1, r(6) * 0.1, r(6))),
    Case("ppo_policy_entropy", ppo_policy_loss, (PPO, XR, ACT, r(6) * 0.3 - 1.0, r(6))),
    Case(
        "grpo_group_advantages", grpo_loss, (PPO, XR, ACT, r(6), 3, 0.05, r(6) * 0.3 - 1.0), order=2
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_stateful(case):
    check(case)
