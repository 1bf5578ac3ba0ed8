"""Layers from the last two years' models, ported to NumPy the way explainer repositories
write them: QK-norm, Gemma's logit soft-capping, T5 relative-position buckets gathered from
a learned table, sliding-window masks, a selective-scan (Mamba-style) recurrence, an
RWKV-style decayed state, a Newton-Schulz orthogonalisation (Muon) inside a loss, a
MoE scatter of top-k gates with ``np.put_along_axis`` (refused with its way out: before, its
gradient was silently wrong; the index write it points to and an ``np.where`` form work), a local attention through ``sliding_window_view``, SciPy's
``softmax``/``logsumexp`` in attention and a seeded dropout drawn inside the loss. Each
against Python's value and central differences on calls 1-3."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import sourcegrad as sg

from .harness import Case, check, params

scipy_special = pytest.importorskip("scipy.special")
softmax_sp, logsumexp = scipy_special.softmax, scipy_special.logsumexp

R = np.random.default_rng(3377)


def r(*s):
    return R.standard_normal(s)


T, D = 5, 4
X = r(T, D) * 0.7


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def rms(x, w, eps=1e-6):
    return x / np.sqrt(np.mean(x**2, -1, keepdims=True) + eps) * w


def qk_norm_attention(p, x):
    q = rms(x @ p["wq"], p["q_norm"])
    k = rms(x @ p["wk"], p["k_norm"])
    s = q @ k.T / np.sqrt(q.shape[-1])
    s = np.where(np.tril(np.ones((len(x), len(x)))) > 0, s, -np.inf)
    return np.sum(softmax(s) @ (x @ p["wv"]))


def softcap_logits(W, x, cap=3.0):
    logits = x @ W
    logits = np.tanh(logits / cap) * cap
    return np.mean(logsumexp(logits, axis=-1) - logits[:, 0])


def relative_bucket(rel, num_buckets=8, max_distance=16):
    n = -rel
    half = num_buckets // 2
    ret = (n < 0).astype(int) * half
    n = np.abs(n)
    max_exact = half // 2
    is_small = n < max_exact
    large = max_exact + (
        np.log(np.maximum(n, 1) / max_exact) / np.log(max_distance / max_exact) * (half - max_exact)
    ).astype(int)
    large = np.minimum(large, half - 1)
    return ret + np.where(is_small, n, large)


def t5_bias_attention(table, wq, wk, x):
    pos = np.arange(len(x))
    buckets = relative_bucket(pos[None, :] - pos[:, None])
    bias = table[buckets]  # (T, T) gathered from the learned table
    s = (x @ wq) @ (x @ wk).T + bias
    return np.sum(softmax_sp(s, axis=-1) * np.arange(len(x)))


def sliding_window_attention(wq, wk, x, window=2):
    n = len(x)
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = (j <= i) & (i - j < window)
    s = (x @ wq) @ (x @ wk).T
    s = np.where(allowed, s, -np.inf)
    return np.sum(softmax(s) ** 2)


def selective_scan(p, x):
    A = -np.exp(p["A_log"])  # (d, n) kept negative
    h = np.zeros_like(A)
    ys = []
    for t in range(len(x)):
        dt = np.log1p(np.exp(x[t] @ p["w_dt"]))  # softplus, (d,)
        B = x[t] @ p["w_B"]  # (n,)
        C = x[t] @ p["w_C"]
        h = np.exp(dt[:, None] * A) * h + (dt * x[t])[:, None] * B[None, :]
        ys.append(h @ C + p["D"] * x[t])
    return np.sum(np.stack(ys) ** 2)


def rwkv_time_mix(p, x):
    w = np.exp(-np.exp(p["decay"]))
    num = np.zeros(x.shape[1])
    den = np.zeros(x.shape[1])
    out = 0.0
    for t in range(len(x)):
        k, v = x[t] @ p["wk"], x[t] @ p["wv"]
        wkv = (num + np.exp(p["u"] + k) * v) / (den + np.exp(p["u"] + k))
        out = out + np.sum(wkv * (1 / (1 + np.exp(-(x[t] @ p["wr"])))))
        num = w * num + np.exp(k) * v
        den = w * den + np.exp(k)
    return out


def newton_schulz(G, steps=3):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X_ = G / (np.linalg.norm(G) + 1e-7)
    for _ in range(steps):
        A = X_ @ X_.T
        B = b * A + c * A @ A
        X_ = a * X_ + B @ X_
    return X_


def orthogonalised_update_loss(G, W, x):
    W_new = W - 0.1 * newton_schulz(G)
    return np.sum(np.tanh(x @ W_new) ** 2)


def moe_put_along_axis(gate_w, x, k=2):
    probs = softmax(x @ gate_w)
    idx = np.argsort(probs, axis=-1)[:, -k:]
    top = np.take_along_axis(probs, idx, axis=-1)
    gates = np.zeros_like(probs)
    np.put_along_axis(gates, idx, top / top.sum(-1, keepdims=True), axis=-1)  # REFUSED
    return np.sum(gates * np.arange(probs.shape[1]))


def moe_index_scatter(gate_w, x, k=2):
    probs = softmax(x @ gate_w)
    idx = np.argsort(probs, axis=-1)[:, -k:]
    top = np.take_along_axis(probs, idx, axis=-1)
    gates = np.zeros_like(probs)
    gates[np.arange(len(gates))[:, None], idx] = top / top.sum(-1, keepdims=True)
    return np.sum(gates * np.arange(probs.shape[1]))


def moe_where_scatter(gate_w, x, k=2):
    probs = softmax(x @ gate_w)
    idx = np.argsort(probs, axis=-1)[:, -k:]
    chosen = np.zeros(probs.shape, dtype=bool)
    chosen[np.arange(len(x))[:, None], idx] = True
    top = np.where(chosen, probs, 0.0)
    gates = top / top.sum(-1, keepdims=True)
    return np.sum(gates * np.arange(probs.shape[1]))


def local_window_mix(w, x, width=3):
    windows = sliding_window_view(x, width, axis=0)  # (T - width + 1, D, width)
    mixed = np.einsum("tdw,w->td", windows, softmax(w))
    return np.sum(np.tanh(mixed) ** 2)


def dropout_inside(W, x, p_drop=0.3):
    rng = np.random.default_rng(0)
    h = np.tanh(x @ W)
    mask = rng.random(h.shape) > p_drop
    h = h * mask / (1 - p_drop)
    return np.sum(h**2)


QK = {
    "wq": r(D, 4) * 0.5,
    "wk": r(D, 4) * 0.5,
    "wv": r(D, 4) * 0.5,
    "q_norm": np.ones(4),
    "k_norm": np.ones(4),
}
SSM = {
    "A_log": r(D, 3) * 0.2,
    "w_dt": r(D, D) * 0.3,
    "w_B": r(D, 3) * 0.3,
    "w_C": r(D, 3) * 0.3,
    "D": np.ones(D),
}
RWKV = {
    "decay": r(D) * 0.3,
    "u": r(D) * 0.3,
    "wk": r(D, D) * 0.3,
    "wv": r(D, D) * 0.3,
    "wr": r(D, D) * 0.3,
}


CASES = [
    Case("qk_norm", qk_norm_attention, (QK, X), order=2),
    Case("gemma_softcap", softcap_logits, (r(D, 6), X), order=2),
    Case("t5_relative_buckets", t5_bias_attention, (r(8) * 0.5, r(D, 3), r(D, 3), X)),
    Case("t5_bias_wrt_projections", t5_bias_attention, (r(8), r(D, 3), r(D, 3), X), wrt=(1, 2)),
    Case("sliding_window_mask", sliding_window_attention, (r(D, 3), r(D, 3), X), wrt=(0, 1)),
    Case("mamba_selective_scan", selective_scan, (SSM, X * 0.5), order=2),
    Case("rwkv_decayed_state", rwkv_time_mix, (RWKV, X * 0.5)),
    Case("muon_newton_schulz", orthogonalised_update_loss, (r(D, 3), r(D, 3), X), wrt=(0, 1)),
    Case(
        "moe_put_along_axis_refused",
        moe_put_along_axis,
        (r(D, 5), X),
        refused=(sg.UnsupportedSyntaxError, "`gates[np.arange(len(gates))[:, None], idx] = "),
    ),
    Case("moe_index_scatter", moe_index_scatter, (r(D, 5), X), order=2),
    Case("moe_where_scatter", moe_where_scatter, (r(D, 5), X), order=2),
    Case("sliding_window_view_mix", local_window_mix, (r(3), X), order=2),
    Case("dropout_seeded_inside", dropout_inside, (r(D, 3), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_recent_layer(case):
    check(case)
