"""Parts of today's language models written the way from-scratch repositories write them in
NumPy (Llama/nanoGPT style, torch ops spelled as NumPy): RMSNorm with a learned gain, SwiGLU
and GeGLU MLPs, rotary embeddings by split halves (``np.concatenate([-x2, x1], -1)``) and by
interleaved pairs, ALiBi slopes, multi-query and grouped-query attention with ``np.repeat``
of the key/value heads, causal masks from ``np.triu``/``np.tril`` filled with ``-np.inf``
through ``np.where``, a KV cache kept in lists while decoding, LoRA adapters, weight tying,
and a top-k mixture of experts (``np.argsort``/``np.argpartition`` gates, gathers, a
Switch-style load-balance loss). Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(8111)


def r(*s):
    return R.standard_normal(s)


T, D, H = 4, 8, 2  # tokens, model width, heads
X = r(T, D) * 0.5


# ------------------------------------------------------------------ norms and MLPs


def rms_norm(x, weight, eps=1e-6):
    rms = np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps)
    return x / rms * weight


def rmsnorm_loss(weight, x):
    return np.sum(rms_norm(x, weight) ** 2 * np.arange(1, x.shape[-1] + 1))


def rmsnorm_input_loss(x, weight):
    return np.sum(np.tanh(rms_norm(x, weight)))


class RMSNorm:
    def __init__(self, weight, eps=1e-5):
        self.weight = weight
        self.eps = eps

    def __call__(self, x):
        variance = np.mean(np.power(x, 2), axis=-1, keepdims=True)
        x = x * (1.0 / np.sqrt(variance + self.eps))
        return self.weight * x


def rmsnorm_module_loss(weight, x):
    norm = RMSNorm(weight)
    return np.sum(norm(x) * x)


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def swiglu_mlp(params, x):
    gate = silu(x @ params["w1"])
    up = x @ params["w3"]
    return (gate * up) @ params["w2"]


def geglu_fused(params, x):
    h = x @ params["w_in"]
    a, b = np.split(h, 2, axis=-1)
    return (gelu(a) * b) @ params["w_out"]


def swiglu_loss(params, x, y):
    return np.mean((swiglu_mlp(params, x) - y) ** 2)


def geglu_loss(params, x, y):
    return np.mean((geglu_fused(params, x) - y) ** 2)


def prenorm_block_loss(params, x):
    h = x + swiglu_mlp(params, rms_norm(x, params["g"]))
    return np.sum(rms_norm(h, params["g_out"]) ** 2) / h.size


SW = {"w1": r(D, 6) * 0.3, "w3": r(D, 6) * 0.3, "w2": r(6, D) * 0.3}
GE = {"w_in": r(D, 12) * 0.3, "w_out": r(6, D) * 0.3}
BLOCK = dict(SW, g=1.0 + 0.1 * r(D), g_out=1.0 + 0.1 * r(D))


# ------------------------------------------------------------------ rotary embeddings


def rope_cache(seq_len, dim, base=10000.0):
    inv_freq = 1.0 / (base ** (np.arange(0, dim, 2) / dim))
    t = np.arange(seq_len)
    freqs = np.outer(t, inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return np.concatenate([-x2, x1], axis=-1)


def apply_rotary(q, k, cos, sin):
    q_embed = q * cos + rotate_half(q) * sin
    k_embed = k * cos + rotate_half(k) * sin
    return q_embed, k_embed


def rope_scores_loss(wq, wk, x):
    cos, sin = rope_cache(x.shape[0], wq.shape[1])
    q, k = apply_rotary(x @ wq, x @ wk, cos, sin)
    return np.sum(np.tanh(q @ k.T / np.sqrt(q.shape[-1])))


def rope_interleaved(x, theta=10000.0):
    seq, dim = x.shape
    pos = np.arange(seq)[:, None]
    freqs = pos / theta ** (np.arange(0, dim, 2)[None, :] / dim)
    x_even, x_odd = x[:, 0::2], x[:, 1::2]
    out = np.empty_like(x)
    out[:, 0::2] = x_even * np.cos(freqs) - x_odd * np.sin(freqs)
    out[:, 1::2] = x_even * np.sin(freqs) + x_odd * np.cos(freqs)
    return out


def rope_interleaved_loss(x, w):
    return np.sum(rope_interleaved(x @ w) ** 3)


# ------------------------------------------------------------------ attention


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def causal_attention_triu(wq, wk, wv, x):
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.T / np.sqrt(k.shape[-1])
    mask = np.triu(np.ones((x.shape[0], x.shape[0]), dtype=bool), k=1)
    scores = np.where(mask, -np.inf, scores)
    return np.sum(softmax(scores) @ v)


def causal_attention_tril(wq, wk, wv, x):
    n = x.shape[0]
    q, k, v = x @ wq, x @ wk, x @ wv
    att = (q @ k.T) * (1.0 / np.sqrt(k.shape[-1]))
    tril = np.tril(np.ones((n, n)))
    att = np.where(tril == 0, float("-inf"), att)
    att = softmax(att, axis=-1)
    y = att @ v
    return np.mean(y**2)


def causal_additive_mask(wq, wk, wv, x):
    n = x.shape[0]
    mask = np.triu(np.full((n, n), -1e9), 1)
    q, k, v = x @ wq, x @ wk, x @ wv
    p = softmax(q @ k.T / np.sqrt(q.shape[1]) + mask)
    return np.sum(np.sin(p @ v))


def split_heads(x, n_heads):
    t, d = x.shape
    return x.reshape(t, n_heads, d // n_heads).transpose(1, 0, 2)


def gqa_loss(params, x, n_heads=4, n_kv_heads=2):
    t = x.shape[0]
    q = split_heads(x @ params["wq"], n_heads)
    k = split_heads(x @ params["wk"], n_kv_heads)
    v = split_heads(x @ params["wv"], n_kv_heads)
    n_rep = n_heads // n_kv_heads
    k = np.repeat(k, n_rep, axis=0)
    v = np.repeat(v, n_rep, axis=0)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    mask = np.triu(np.ones((t, t)), k=1).astype(bool)
    scores = np.where(mask[None], -np.inf, scores)
    out = softmax(scores) @ v
    out = out.transpose(1, 0, 2).reshape(t, -1)
    return np.sum((out @ params["wo"]) ** 2)


def mqa_loss(params, x, n_heads=4):
    t, d = x.shape
    hd = d // n_heads
    q = (x @ params["wq"]).reshape(t, n_heads, hd)
    k = x @ params["wk"]  # one key head shared by every query head
    v = x @ params["wv"]
    scores = np.einsum("thd,sd->hts", q, k) / np.sqrt(hd)
    scores = scores + np.triu(np.full((t, t), -np.inf), 1)
    w = softmax(scores)
    out = np.einsum("hts,sd->thd", w, v).reshape(t, d)
    return np.sum(np.tanh(out @ params["wo"]))


GQA = {"wq": r(D, D) * 0.3, "wk": r(D, 4) * 0.3, "wv": r(D, 4) * 0.3, "wo": r(D, D) * 0.3}
MQA = {"wq": r(D, D) * 0.3, "wk": r(D, 2) * 0.3, "wv": r(D, 2) * 0.3, "wo": r(D, D) * 0.3}


def alibi_slopes(n_heads):
    start = 2 ** (-8 / n_heads)
    return np.array([start ** (i + 1) for i in range(n_heads)])


def alibi_attention_loss(wq, wk, wv, x, n_heads=2):
    t = x.shape[0]
    q, k, v = (split_heads(x @ w, n_heads) for w in (wq, wk, wv))
    pos = np.arange(t)
    rel = pos[None, :] - pos[:, None]
    bias = alibi_slopes(n_heads)[:, None, None] * rel[None]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]) + bias
    scores = np.where(rel[None] > 0, -np.inf, scores)
    return np.sum(softmax(scores) @ v)


def kv_cache_decode(params, x):
    k_cache, v_cache = [], []
    total = 0.0
    for t in range(x.shape[0]):
        xt = x[t]
        k_cache.append(xt @ params["wk"])
        v_cache.append(xt @ params["wv"])
        q = xt @ params["wq"]
        K = np.stack(k_cache)
        V = np.stack(v_cache)
        att = softmax(K @ q / np.sqrt(q.shape[0]))
        total = total + np.sum(np.tanh(att @ V))
    return total


def kv_cache_dict_fixed(params, x):
    cache = {"k": [], "v": []}
    outs = []
    for t in range(x.shape[0]):
        cache["k"] = [*cache["k"], x[t] @ params["wk"]]
        cache["v"] = [*cache["v"], x[t] @ params["wv"]]
        q = x[t] @ params["wq"]
        att = softmax(np.array(cache["k"]) @ q)
        outs.append(att @ np.array(cache["v"]))
    return np.sum(np.stack(outs) ** 2)


def kv_cache_dict_extend_and_log(params, x):
    cache = {name: [] for name in ("k", "v")}
    log = {"scores": []}
    total = 0.0
    for t in range(x.shape[0]):
        cache["k"].extend([x[t] @ params["wk"]])
        cache["v"].append(x[t] @ params["wv"])
        scores = np.stack(cache["k"]) @ (x[t] @ params["wq"])
        log["scores"].append(scores)
        total = total + softmax(scores) @ np.stack(cache["v"]) @ np.ones(4)
    return total + 0.1 * sum(np.sum(s_) for s_ in log["scores"]) + len(cache["k"])


def activations_in_defaultdict(params, x):
    acts = collections.defaultdict(list)
    for name in ("wq", "wk", "wv"):
        h = np.tanh(x @ params[name])
        acts[name].append(h)
        acts["all"].append(h)
    return sum(np.sum(np.stack(acts[name]) ** 2) for name in ("wq", "all"))


def kv_cache_dict_list_held(params, x):
    cache = {"k": [], "v": []}
    keys = cache["k"]
    for t in range(x.shape[0]):
        cache["k"].append(x[t] @ params["wk"])  # REFUSED
    return np.sum(np.stack(keys) ** 2)


def kv_cache_dict(params, x):
    cache = {"k": [], "v": []}
    outs = []
    for t in range(x.shape[0]):
        cache["k"].append(x[t] @ params["wk"])
        cache["v"].append(x[t] @ params["wv"])
        q = x[t] @ params["wq"]
        att = softmax(np.array(cache["k"]) @ q)
        outs.append(att @ np.array(cache["v"]))
    return np.sum(np.stack(outs) ** 2)


KV = {"wq": r(D, 4) * 0.4, "wk": r(D, 4) * 0.4, "wv": r(D, 4) * 0.4}


# ------------------------------------------------------------------ LoRA, tying


def lora_loss(lora, W, x, y, alpha=8, r_=2):
    scale = alpha / r_
    W_eff = W + lora["A"] @ lora["B"] * scale
    return np.mean((x @ W_eff - y) ** 2)


def lora_branch(lora, W, x, y, scaling=0.5):
    h = x @ W + (x @ lora["A"]) @ lora["B"] * scaling
    return np.mean((np.tanh(h) - y) ** 2)


@dataclasses.dataclass
class LoRALinear:
    weight: np.ndarray
    lora_A: np.ndarray
    lora_B: np.ndarray
    scaling: float = 2.0

    def __call__(self, x):
        return x @ self.weight.T + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling


def lora_module_loss(layer, x, y):
    return np.mean((layer(x) - y) ** 2)


LORA = {"A": r(D, 2) * 0.2, "B": r(2, 3) * 0.2}
W0 = r(D, 3) * 0.3
Y3 = r(T, 3)
LAYER = LoRALinear(r(3, D) * 0.3, r(2, D) * 0.2, r(3, 2) * 0.2)


def tied_lm_loss(params, tokens, targets):
    wte = params["wte"]
    h = wte[tokens] + params["wpe"][: len(tokens)]
    h = rms_norm(h, params["g"])
    logits = h @ wte.T
    logits = logits - logits.max(axis=-1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(len(targets)), targets])


TOK = np.array([1, 4, 2, 4])
TGT = np.array([4, 2, 4, 0])
TIED = {"wte": r(6, D) * 0.5, "wpe": r(T, D) * 0.1, "g": np.ones(D)}


# ------------------------------------------------------------------ mixture of experts


def moe_topk_argsort(params, x, k=2):
    logits = x @ params["gate"]
    probs = softmax(logits)
    topk_idx = np.argsort(-probs, axis=-1)[:, :k]
    topk_p = np.take_along_axis(probs, topk_idx, axis=-1)
    topk_p = topk_p / topk_p.sum(axis=-1, keepdims=True)
    out = np.zeros((x.shape[0], params["experts"].shape[-1]))
    for i in range(x.shape[0]):
        for j in range(k):
            e = topk_idx[i, j]
            out[i] += topk_p[i, j] * np.tanh(x[i] @ params["experts"][e])
    return np.sum(out**2)


def moe_argpartition(params, x, k=2):
    logits = x @ params["gate"]
    idx = np.argpartition(logits, -k, axis=-1)[:, -k:]
    top = np.take_along_axis(logits, idx, axis=-1)
    w = softmax(top)
    expert_out = np.einsum("td,edh->teh", x, params["experts"])
    picked = expert_out[np.arange(x.shape[0])[:, None], idx]
    return np.sum(np.sum(w[..., None] * picked, axis=1) ** 2)


def moe_load_balance(params, x, k=1, alpha=0.01):
    n_exp = params["gate"].shape[1]
    probs = softmax(x @ params["gate"])
    top1 = np.argmax(probs, axis=-1)
    dispatch = np.eye(n_exp)[top1]
    frac_tokens = dispatch.mean(axis=0)
    frac_probs = probs.mean(axis=0)
    aux = alpha * n_exp * np.sum(frac_tokens * frac_probs)
    gate_val = probs[np.arange(len(top1)), top1]
    y = gate_val[:, None] * np.tanh(np.einsum("td,tdh->th", x, params["experts"][top1]))
    return np.mean(y**2) + aux


def moe_sparse_mask(params, x, k=2):
    logits = x @ params["gate"]
    kth = np.sort(logits, axis=-1)[:, -k][:, None]
    masked = np.where(logits >= kth, logits, -np.inf)
    gates = softmax(masked)
    expert_out = np.stack([np.tanh(x @ W) for W in params["experts"]], axis=1)
    return np.sum((gates[..., None] * expert_out).sum(axis=1) ** 2)


MOE = {"gate": r(D, 4) * 0.8, "experts": r(4, D, 3) * 0.4}


CASES = [
    Case("rmsnorm_weight", rmsnorm_loss, (1.0 + 0.1 * r(D), X), order=2),
    Case("rmsnorm_input", rmsnorm_input_loss, (X, 1.0 + 0.1 * r(D)), order=2),
    Case("rmsnorm_module_class", rmsnorm_module_loss, (np.ones(D), X), order=2),
    Case("swiglu_dict", swiglu_loss, (SW, X, r(T, D)), order=2),
    Case("geglu_split_fused", geglu_loss, (GE, X, r(T, D)), order=2),
    Case("prenorm_block", prenorm_block_loss, (BLOCK, X), order=2),
    Case("rope_rotate_half", rope_scores_loss, (r(D, 4) * 0.4, r(D, 4) * 0.4, X), wrt=(0, 1)),
    Case("rope_rotate_half_hvp", rope_scores_loss, (r(D, 4) * 0.4, r(D, 4) * 0.4, X), order=2),
    Case("rope_interleaved_writes", rope_interleaved_loss, (X, r(D, 4) * 0.4), order=2),
    Case("causal_triu_neg_inf", causal_attention_triu, (r(D, 4), r(D, 4), r(D, 4), X), order=2),
    Case("causal_tril_float_inf", causal_attention_tril, (r(D, 4), r(D, 4), r(D, 4), X), wrt=2),
    Case("causal_additive_mask", causal_additive_mask, (r(D, 4), r(D, 4), r(D, 4), X), wrt=3),
    Case("gqa_repeat_kv", gqa_loss, (GQA, X), order=2),
    Case("mqa_einsum_shared_kv", mqa_loss, (MQA, X)),
    Case("alibi_bias", alibi_attention_loss, (r(D, 4), r(D, 4), r(D, 4), X), wrt=(0, 1, 2)),
    Case("kv_cache_lists", kv_cache_decode, (KV, X), order=2),
    Case("kv_cache_dict_of_lists_appended", kv_cache_dict, (KV, X), order=2),
    Case("kv_cache_dict_extend_and_log", kv_cache_dict_extend_and_log, (KV, X)),
    Case("activations_in_defaultdict", activations_in_defaultdict, (KV, X), order=2),
    Case(
        "kv_cache_dict_list_also_named",
        kv_cache_dict_list_held,
        (KV, X),
        refused=(sg.UnsupportedSyntaxError, "`cache['k'] = [*cache['k'], v]`"),
    ),
    Case("kv_cache_dict_of_lists_rebuilt", kv_cache_dict_fixed, (KV, X), order=2),
    Case("lora_merged", lora_loss, (LORA, W0, X, Y3), order=2),
    Case("lora_branch_and_base", lora_branch, (LORA, W0, X, Y3), wrt=(0, 1)),
    Case("lora_dataclass_layer", lora_module_loss, (LAYER, X, Y3), order=2),
    Case("weight_tying", tied_lm_loss, (TIED, TOK, TGT), order=2),
    Case("moe_argsort_topk_loop", moe_topk_argsort, (MOE, X)),
    Case("moe_argpartition_gather", moe_argpartition, (MOE, X), order=2),
    Case("moe_switch_load_balance", moe_load_balance, (MOE, X)),
    Case("moe_masked_softmax", moe_sparse_mask, (MOE, X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_llm_part(case):
    check(case)
