"""sourcegrad's own library mixed with the user's helpers, and today's blocks as classes:
``nn.Sequential`` / ``nn.Linear`` / ``nn.LayerNorm`` / ``nn.Embedding`` layers held in globals
and in user classes (PyTorch-style ``nn.Module`` subclasses whose ``forward(self, params,
x)`` calls ``self.l1(params["l1"], x)``), ``nn.CrossEntropyLoss`` with ``label_smoothing``,
``nn.functional`` calls next to hand-written RMSNorm and rotary code, ``sg.util.log_softmax``
in a contrastive loss, an ``sg.optim``-free unrolled step; a nanoGPT ``CausalSelfAttention``
class with a ``np.triu`` mask and ``np.where(mask, -np.inf, att)``, an ``MLP`` with SwiGLU,
``Block`` with pre-norm residuals, ``GPT`` with tied embeddings (``logits = x @ self.wte.T``),
rotary embeddings by even/odd slices, a KV cache kept in lists while decoding step by step,
and a mixture of experts routing each token to ``np.argmax`` of its gate with the chosen
gate's probability scaling the expert's output. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn

from .harness import Case, check, params

R = np.random.default_rng(31337)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
LABELS = np.array([0, 1, 1, 0])

# ------------------------------------------------------------------ library mixed in

MLP_SEQ = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
SEQ_PARAMS = MLP_SEQ.init(np.random.default_rng(1))
CE_SMOOTH = nn.CrossEntropyLoss(label_smoothing=0.1)


def l2_penalty(params):
    return sum(np.sum(layer["weight"] ** 2) for layer in params if layer)


def seq_with_user_penalty(params, x, y):
    logits = MLP_SEQ(params, x)
    return CE_SMOOTH(logits, y) + 1e-2 * l2_penalty(params)


class Classifier(nn.Module):
    def __init__(self):
        self.l1 = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.l2 = nn.Linear(4, 2)

    def forward(self, params, x):
        h = self.l1(params["l1"], x)
        h = gelu_tanh(self.norm(params["norm"], h))
        return self.l2(params["l2"], h)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


CLASSIFIER = Classifier()
CLS_PARAMS = CLASSIFIER.init(np.random.default_rng(2))


def module_subclass_loss(params, x, y):
    logits = CLASSIFIER(params, x)
    return nn.functional.cross_entropy(logits, y)


def functional_mix(params, x, y):
    h = nn.functional.linear(x, params["W"], params["b"])
    h = h / np.sqrt(np.mean(h**2, axis=-1, keepdims=True) + 1e-6) * params["g"]
    return nn.functional.mse_loss(np.tanh(h), y)


EMB = nn.Embedding(6, 3)


def embedding_bag_library(params, tokens, targets):
    e = EMB(params["emb"], tokens)
    pooled = e.mean(axis=1)
    logits = pooled @ params["emb"]["weight"].T
    return -np.mean(sg.util.log_softmax(logits, axis=-1)[np.arange(len(targets)), targets])


def util_contrastive(W, x1, x2, tau=0.2):
    z1 = x1 @ W
    z2 = x2 @ W
    z1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    z2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    logp = sg.util.log_softmax(z1 @ z2.T / tau, axis=1)
    return -np.mean(np.diag(logp))


def seq_unrolled_step(params, x, y, lr=0.1):
    grads = sg.grad(seq_with_user_penalty)(params, x, y)
    new = [{k: p[k] - lr * g[k] for k in p} for p, g in zip(params, grads)]
    return seq_with_user_penalty(new, x, y)


# ------------------------------------------------------------------ nanoGPT as classes

D, H, TT, V = 4, 2, 3, 5


def rms_norm(x, g, eps=1e-6):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def rotary(x, pos):
    d = x.shape[-1]
    inv_freq = 1.0 / (10000 ** (np.arange(0, d, 2) / d))
    ang = pos[:, None] * inv_freq[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out


class CausalSelfAttention:
    def __init__(self, p, n_head, use_rope=False):
        self.c_attn = p["c_attn"]
        self.c_proj = p["c_proj"]
        self.n_head = n_head
        self.use_rope = use_rope

    def __call__(self, x):
        T_, C = x.shape
        q, k, v = np.split(x @ self.c_attn, 3, axis=-1)
        hs = C // self.n_head
        q = q.reshape(T_, self.n_head, hs).transpose(1, 0, 2)
        k = k.reshape(T_, self.n_head, hs).transpose(1, 0, 2)
        v = v.reshape(T_, self.n_head, hs).transpose(1, 0, 2)
        if self.use_rope:
            pos = np.arange(T_, dtype=float)
            q = np.stack([rotary(q[h], pos) for h in range(self.n_head)])
            k = np.stack([rotary(k[h], pos) for h in range(self.n_head)])
        att = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        mask = np.triu(np.ones((T_, T_), dtype=bool), k=1)
        att = np.where(mask, -np.inf, att)
        att = np.exp(att - att.max(axis=-1, keepdims=True))
        att = att / att.sum(axis=-1, keepdims=True)
        y = (att @ v).transpose(1, 0, 2).reshape(T_, C)
        return y @ self.c_proj


class SwiGLU:
    def __init__(self, p):
        self.w1, self.w2, self.w3 = p["w1"], p["w2"], p["w3"]

    def __call__(self, x):
        a = x @ self.w1
        return (a / (1 + np.exp(-a)) * (x @ self.w3)) @ self.w2


class Block:
    def __init__(self, p, n_head, use_rope=False):
        self.g1 = p["g1"]
        self.g2 = p["g2"]
        self.attn = CausalSelfAttention(p["attn"], n_head, use_rope)
        self.mlp = SwiGLU(p["mlp"])

    def __call__(self, x):
        x = x + self.attn(rms_norm(x, self.g1))
        x = x + self.mlp(rms_norm(x, self.g2))
        return x


class GPT:
    def __init__(self, params, n_head=H, use_rope=False):
        self.wte = params["wte"]
        self.wpe = params["wpe"]
        self.blocks = [Block(p, n_head, use_rope) for p in params["blocks"]]
        self.g_f = params["g_f"]

    def __call__(self, idx):
        x = self.wte[idx] + self.wpe[: len(idx)]
        for block in self.blocks:
            x = block(x)
        x = rms_norm(x, self.g_f)
        return x @ self.wte.T


def block_params():
    return {
        "g1": 1 + 0.1 * r(D),
        "g2": 1 + 0.1 * r(D),
        "attn": {"c_attn": 0.5 * r(D, 3 * D), "c_proj": 0.5 * r(D, D)},
        "mlp": {"w1": 0.5 * r(D, 6), "w2": 0.5 * r(6, D), "w3": 0.5 * r(D, 6)},
    }


GPT_PARAMS = {
    "wte": 0.5 * r(V, D),
    "wpe": 0.5 * r(TT, D),
    "blocks": [block_params()],
    "g_f": 1 + 0.1 * r(D),
}
IDX = np.array([1, 4, 2])
TARGETS = np.array([4, 2, 0])


def gpt_loss(params, idx, targets):
    logits = GPT(params)(idx)
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return -logp[np.arange(len(targets)), targets].mean()


def gpt_rope_loss(params, idx, targets):
    logits = GPT(params, use_rope=True)(idx)
    return nn.functional.cross_entropy(logits, targets)


def kv_cache_decode(p, xs):
    k_cache, v_cache = [], []
    outs = []
    for t in range(len(xs)):
        x = xs[t]
        q = x @ p["Wq"]
        k_cache.append(x @ p["Wk"])
        v_cache.append(x @ p["Wv"])
        K = np.stack(k_cache)
        Vv = np.stack(v_cache)
        s = K @ q / np.sqrt(q.shape[-1])
        w = np.exp(s - s.max())
        w = w / w.sum()
        outs.append(w @ Vv)
    return np.sum(np.stack(outs) ** 2)


class KVCache:
    def __init__(self):
        self.keys = []
        self.values = []

    def update(self, k, v):
        self.keys.append(k)
        self.values.append(v)
        return np.stack(self.keys), np.stack(self.values)


class RebuiltKVCache:
    def __init__(self):
        self.keys = []
        self.values = []

    def update(self, k, v):
        self.keys = [*self.keys, k]
        self.values = [*self.values, v]
        return np.stack(self.keys), np.stack(self.values)


def kv_cache_rebuilt_lists(p, xs):
    cache = RebuiltKVCache()
    total = 0.0
    for x in xs:
        K, Vv = cache.update(x @ p["Wk"], x @ p["Wv"])  # REFUSED
        s = K @ (x @ p["Wq"])
        w = np.exp(s - s.max())
        total = total + np.sum((w / w.sum()) @ Vv)
    return total


def kv_cache_object(p, xs):
    cache = KVCache()
    total = 0.0
    for x in xs:
        K, Vv = cache.update(x @ p["Wk"], x @ p["Wv"])  # REFUSED
        s = K @ (x @ p["Wq"])
        w = np.exp(s - s.max())
        total = total + np.sum((w / w.sum()) @ Vv)
    return total


def moe_argmax(params, x):
    gate_logits = x @ params["gate"]
    gate_probs = np.exp(gate_logits - gate_logits.max(1, keepdims=True))
    gate_probs = gate_probs / gate_probs.sum(1, keepdims=True)
    expert_idx = np.argmax(gate_probs, axis=1)
    out = np.zeros((x.shape[0], params["experts"][0].shape[1]))
    for e, W in enumerate(params["experts"]):
        sel = expert_idx == e
        if sel.any():
            out[sel] = np.tanh(x[sel] @ W) * gate_probs[sel, e][:, None]
    aux = np.sum(gate_probs.mean(0) ** 2) * len(params["experts"])
    return np.sum(out**2) + 0.01 * aux


def moe_token_loop(params, x):
    outs = []
    for i in range(len(x)):
        logits = x[i] @ params["gate"]
        k = int(np.argmax(logits))
        p = np.exp(logits - logits.max())
        p = p / p.sum()
        outs.append(p[k] * np.maximum(x[i] @ params["experts"][k], 0.0))
    return np.mean(np.stack(outs) ** 2)


def layer_sq(params):
    return sum(np.sum(v**2) for p in params for v in p.values())


def dict_comprehension_step(params, x, lr=0.1):
    grads = sg.grad(layer_sq)(params)
    new = [{k: p[k] - lr * g[k] for k in p} for p, g in zip(params, grads)]
    return layer_sq(new) + np.sum(x)


CASES = [
    Case(
        "sequential_ce_smoothing_user_penalty",
        seq_with_user_penalty,
        (SEQ_PARAMS, X, LABELS),
        order=2,
    ),
    Case("module_subclass_forward_params", module_subclass_loss, (CLS_PARAMS, X, LABELS), order=2),
    Case(
        "functional_linear_rmsnorm_mse",
        functional_mix,
        ({"W": r(2, 3), "b": r(2), "g": r(2)}, X, r(4, 2)),
        order=2,
    ),
    Case(
        "embedding_tied_util_log_softmax",
        embedding_bag_library,
        (
            {"emb": EMB.init(np.random.default_rng(3))},
            np.array([[0, 1], [2, 5], [3, 3]]),
            np.array([1, 0, 4]),
        ),
        order=2,
    ),
    Case(
        "util_log_softmax_contrastive", util_contrastive, (r(3, 2), X, X + 0.1 * r(4, 3)), order=2
    ),
    Case("sequential_unrolled_step", seq_unrolled_step, (SEQ_PARAMS, X, LABELS)),
    Case("nanogpt_classes_tied", gpt_loss, (GPT_PARAMS, IDX, TARGETS), order=2),
    Case("nanogpt_rope_even_odd_library_ce", gpt_rope_loss, (GPT_PARAMS, IDX, TARGETS)),
    Case(
        "kv_cache_lists_decode",
        kv_cache_decode,
        ({"Wq": r(3, 2), "Wk": r(3, 2), "Wv": r(3, 2)}, X),
        order=2,
    ),
    Case(
        "kv_cache_object_appending_refused",
        kv_cache_object,
        ({"Wq": r(3, 2), "Wk": r(3, 2), "Wv": r(3, 2)}, X),
        refused=(sg.UnsupportedSyntaxError, "or keep the state in a local variable"),
    ),
    Case(
        "kv_cache_object_rebuilt_lists",
        kv_cache_rebuilt_lists,
        ({"Wq": r(3, 2), "Wk": r(3, 2), "Wv": r(3, 2)}, X),
        order=2,
    ),
    Case(
        "comprehension_over_dicts_of_a_list",
        dict_comprehension_step,
        ([{"w": r(2)}, {}, {"w": r(3), "b": r(1)}], X),
    ),
    Case(
        "moe_argmax_mask_write",
        moe_argmax,
        ({"gate": r(3, 3), "experts": [r(3, 2) for _ in range(3)]}, r(6, 3)),
        order=2,
    ),
    Case(
        "moe_argmax_token_loop",
        moe_token_loop,
        ({"gate": r(3, 3), "experts": [r(3, 2) for _ in range(3)]}, r(5, 3)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_library_and_gpt(case):
    check(case)
