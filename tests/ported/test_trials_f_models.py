"""Models from papers and course notebooks not ported before, written as their authors write
them in NumPy: a GCN with a normalised adjacency, graph attention with a loop over heads, Cox
partial likelihood over risk sets, Weibull survival with censoring, Bradley-Terry and
Plackett-Luce rankings, GloVe's weighted least squares, Markowitz mean-variance, capsule
squashing with the margin loss, Hopfield and RBM energies, a mixture of experts, soft-DTW's
dynamic programme, sparsemax, RankNet, PageRank by power iteration, a linear-chain CRF.
Each against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(6301)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ graphs


def normalize_adj(A):
    A_hat = A + np.eye(A.shape[0])
    d = A_hat.sum(axis=1)
    D_inv_sqrt = np.diag(d**-0.5)
    return D_inv_sqrt @ A_hat @ D_inv_sqrt


def gcn_loss(params, A, X, labels):
    A_norm = normalize_adj(A)
    H = np.maximum(A_norm @ X @ params["W1"], 0)
    logits = A_norm @ H @ params["W2"]
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def leaky_relu(x, alpha=0.2):
    return np.where(x > 0, x, alpha * x)


def gat_layer(X, A, Ws, a_srcs, a_dsts):
    n = X.shape[0]
    heads = []
    for W, a_src, a_dst in zip(Ws, a_srcs, a_dsts):
        Wh = X @ W
        e = leaky_relu((Wh @ a_src)[:, None] + (Wh @ a_dst)[None, :])
        e = np.where(A + np.eye(n) > 0, e, -1e9)
        e = e - e.max(axis=1, keepdims=True)
        alpha = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
        heads.append(alpha @ Wh)
    return np.concatenate(heads, axis=1)


def gat_loss(Ws, a_srcs, a_dsts, X, A):
    out = gat_layer(X, A, Ws, a_srcs, a_dsts)
    return np.sum(np.tanh(out) ** 2)


def pagerank_loss(w, edges, n, damping=0.85, iters=30):
    M = np.zeros((n, n))
    for k, (i, j) in enumerate(edges):
        M[j, i] = np.exp(w[k])
    M = M / M.sum(axis=0, keepdims=True)
    p = np.ones(n) / n
    for _ in range(iters):
        p = (1 - damping) / n + damping * M @ p
    return p[0] - p[-1]


# ------------------------------------------------------------------ survival and rankings


def cox_partial_nll(beta, X, times, events):
    order = np.argsort(-times)
    X, events = X[order], events[order]
    eta = X @ beta
    log_risk = np.log(np.cumsum(np.exp(eta)))
    return -np.sum((eta - log_risk) * events)


def cox_loop(beta, X, times, events):
    eta = X @ beta
    nll = 0.0
    for i in range(len(times)):
        if events[i]:
            at_risk = times >= times[i]
            nll -= eta[i] - np.log(np.sum(np.exp(eta[at_risk])))
    return nll


def weibull_nll(params, t, observed):
    log_k, log_lam = params
    k, lam = np.exp(log_k), np.exp(log_lam)
    z = t / lam
    log_h = np.log(k) - np.log(lam) + (k - 1) * np.log(z)
    cum_h = z**k
    return -np.sum(observed * log_h - cum_h)


def bradley_terry(strengths, winners, losers):
    diff = strengths[winners] - strengths[losers]
    return np.sum(np.log1p(np.exp(-diff))) + 0.01 * np.sum(strengths**2)


def plackett_luce(scores, ranking):
    nll = 0.0
    remaining = list(ranking)
    for item in ranking:
        s = scores[remaining]
        m = s.max()
        nll -= scores[item] - (m + np.log(np.sum(np.exp(s - m))))
        remaining.remove(item)
    return nll


def ranknet(w, X, pairs):
    s = X @ w
    loss = 0.0
    for i, j in pairs:
        loss += np.log(1 + np.exp(-(s[i] - s[j])))
    return loss / len(pairs)


# ------------------------------------------------------------------ embeddings and finance


def glove_loss(W, W_tilde, b, b_tilde, X_co, x_max=10.0, alpha=0.75):
    weights = np.minimum((X_co / x_max) ** alpha, 1.0)
    nz = X_co > 0
    diff = W @ W_tilde.T + b[:, None] + b_tilde[None, :] - np.log(np.where(nz, X_co, 1.0))
    return np.sum(weights * nz * diff**2)


def markowitz(w_raw, mu, Sigma, risk_aversion=3.0):
    w = np.exp(w_raw) / np.sum(np.exp(w_raw))
    ret = w @ mu
    var = w @ Sigma @ w
    return -(ret - 0.5 * risk_aversion * var)


def sharpe_negative(w, returns):
    port = returns @ w
    return -port.mean() / port.std(ddof=1)


# ------------------------------------------------------------------ capsules, energies


def squash(s, axis=-1, eps=1e-7):
    sq = np.sum(s**2, axis=axis, keepdims=True)
    return sq / (1 + sq) * s / np.sqrt(sq + eps)


def capsule_margin(u_hat, T, iters=3):
    # u_hat: (n_in, n_out, d); dynamic routing as in Sabour et al.
    b = np.zeros(u_hat.shape[:2])
    for it in range(iters):
        c = np.exp(b) / np.exp(b).sum(axis=1, keepdims=True)
        s = np.einsum("ij,ijd->jd", c, u_hat)
        v = squash(s)
        if it < iters - 1:
            b = b + np.einsum("ijd,jd->ij", u_hat, v)
    lengths = np.linalg.norm(v, axis=-1)
    L = T * np.maximum(0, 0.9 - lengths) ** 2 + 0.5 * (1 - T) * np.maximum(0, lengths - 0.1) ** 2
    return L.sum()


def hopfield_energy(W, x):
    W = 0.5 * (W + W.T)
    np.fill_diagonal(W, 0.0)
    s = np.tanh(x)
    return -0.5 * s @ W @ s


def rbm_free_energy(W, b_vis, b_hid, v):
    wx_b = v @ W + b_hid
    vbias_term = v @ b_vis
    hidden_term = np.sum(np.log(1 + np.exp(wx_b)), axis=1)
    return np.mean(-hidden_term - vbias_term)


def mixture_of_experts(params, x, y):
    gate = x @ params["gate"]
    gate = np.exp(gate - gate.max(axis=1, keepdims=True))
    gate /= gate.sum(axis=1, keepdims=True)
    outs = np.stack([np.tanh(x @ W) @ v for W, v in params["experts"]], axis=1)
    pred = np.sum(gate * outs, axis=1)
    return np.mean((pred - y) ** 2)


# ------------------------------------------------------------------ structured losses


def softmin(a, b, c, gamma):
    vals = np.array([a, b, c]) / -gamma
    m = vals.max()
    return -gamma * (m + np.log(np.sum(np.exp(vals - m))))


def soft_dtw(x, y, gamma=0.5):
    n, m = len(x), len(y)
    D = (x[:, None] - y[None, :]) ** 2
    R_ = np.full((n + 1, m + 1), np.inf)
    R_[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            R_[i, j] = D[i - 1, j - 1] + softmin(
                R_[i - 1, j], R_[i, j - 1], R_[i - 1, j - 1], gamma
            )
    return R_[n, m]


def sparsemax(z):
    z_sorted = np.sort(z)[::-1]
    k = np.arange(1, len(z) + 1)
    cumsum = np.cumsum(z_sorted)
    support = 1 + k * z_sorted > cumsum
    k_z = k[support][-1]
    tau = (cumsum[k_z - 1] - 1) / k_z
    return np.maximum(z - tau, 0)


def sparsemax_loss(z, target):
    p = sparsemax(z)
    return np.sum((p - target) ** 2) + np.sum(p * z)


def crf_nll(transitions, emissions, tags):
    # emissions: (T, K), tags: (T,), the forward algorithm in log space
    T = emissions.shape[0]
    score = emissions[0, tags[0]]
    for t in range(1, T):
        score = score + transitions[tags[t - 1], tags[t]] + emissions[t, tags[t]]
    alpha = emissions[0]
    for t in range(1, T):
        scores = alpha[:, None] + transitions + emissions[t][None, :]
        m = scores.max(axis=0)
        alpha = m + np.log(np.sum(np.exp(scores - m), axis=0))
    m = alpha.max()
    log_z = m + np.log(np.sum(np.exp(alpha - m)))
    return log_z - score


def nmf_loss(W, H, V, lam=0.1):
    W, H = np.abs(W), np.abs(H)
    return 0.5 * np.linalg.norm(V - W @ H, "fro") ** 2 + lam * (np.sum(W) + np.sum(H))


def gumbel_softmax_loss(logits, g, target, tau=0.5):
    y = (logits + g) / tau
    y = np.exp(y - np.max(y, axis=-1, keepdims=True))
    y = y / np.sum(y, axis=-1, keepdims=True)
    return np.sum((y - target) ** 2)


# ------------------------------------------------------------------ data

A6 = (R.uniform(size=(6, 6)) > 0.5).astype(float)
A6 = np.triu(A6, 1)
A6 = A6 + A6.T
X6 = r(6, 4)
LAB6 = np.array([0, 1, 2, 0, 1, 2])
GCN = {"W1": 0.5 * r(4, 5), "W2": 0.5 * r(5, 3)}
EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 0), (1, 3), (3, 2)]
Xs = r(7, 3)
TIMES = R.uniform(1.0, 5.0, 7)
EVENTS = np.array([1, 0, 1, 1, 0, 1, 1])
T_W = R.uniform(0.5, 3.0, 8)
WIN = np.array([0, 1, 2, 0, 3, 2, 1, 3])
LOSE = np.array([1, 2, 3, 3, 0, 0, 3, 2])
CO = np.round(R.uniform(0, 20, (4, 5))) * (R.uniform(size=(4, 5)) > 0.3)
RET = 0.01 + 0.05 * r(30, 4)
SIG = np.cov(r(20, 4).T)
MOE = {"gate": r(3, 2), "experts": [(r(3, 4), r(4)), (r(3, 4), r(4))]}
T_CAP = np.array([1.0, 0.0, 0.0])


CASES = [
    Case("gcn_two_layers", gcn_loss, (GCN, A6, X6, LAB6), order=2),
    Case("gcn_wrt_features", gcn_loss, (GCN, A6, X6, LAB6), wrt=2, order=2),
    Case(
        "gat_loop_over_heads",
        gat_loss,
        ([r(4, 3), r(4, 3)], [r(3), r(3)], [r(3), r(3)], X6, A6),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("pagerank_edge_weights", pagerank_loss, (0.3 * r(7), EDGES, 4), order=2),
    Case("cox_cumsum_risk_sets", cox_partial_nll, (r(3), Xs, TIMES, EVENTS), order=2),
    Case("cox_loop_masks", cox_loop, (r(3), Xs, TIMES, EVENTS), order=2),
    Case(
        "weibull_censored",
        weibull_nll,
        (np.array([0.2, 0.4]), T_W, (R.uniform(size=8) > 0.3).astype(float)),
        order=2,
    ),
    Case("bradley_terry", bradley_terry, (r(4), WIN, LOSE), order=2),
    Case("plackett_luce_remove", plackett_luce, (r(5), [3, 0, 4, 1, 2]), order=2),
    Case("ranknet_pairs", ranknet, (r(3), Xs, [(0, 1), (2, 4), (5, 3), (6, 0)]), order=2),
    Case(
        "glove_weighted",
        glove_loss,
        (0.3 * r(4, 3), 0.3 * r(5, 3), r(4), r(5), CO),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("markowitz_softmax_weights", markowitz, (r(4), RET.mean(0), SIG), order=2),
    Case("sharpe_ratio", sharpe_negative, (R.uniform(0.1, 1.0, 4), RET), order=2),
    Case("capsule_routing", capsule_margin, (0.5 * r(4, 3, 2), T_CAP), order=2),
    Case("hopfield_fill_diagonal", hopfield_energy, (r(4, 4), r(4)), wrt=(0, 1), order=2),
    Case("rbm_free_energy", rbm_free_energy, (0.3 * r(5, 3), r(5), r(3), r(4, 5)), wrt=(0, 1, 2)),
    Case("mixture_of_experts", mixture_of_experts, (MOE, r(6, 3), r(6)), order=2),
    Case("soft_dtw", soft_dtw, (r(4), r(5)), wrt=(0, 1), order=2),
    Case("sparsemax_loss", sparsemax_loss, (np.array([1.2, 0.3, 0.9, -0.5]), np.eye(4)[0])),
    Case(
        "crf_forward", crf_nll, (r(3, 3), r(5, 3), np.array([0, 2, 1, 1, 0])), wrt=(0, 1), order=2
    ),
    Case(
        "nmf_abs",
        nmf_loss,
        (R.uniform(0.5, 1, (4, 2)), R.uniform(0.5, 1, (2, 3)), R.uniform(size=(4, 3))),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "gumbel_softmax_fixed_noise",
        gumbel_softmax_loss,
        (r(3, 4), r(3, 4), np.eye(4)[[0, 2, 1]]),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_models(case):
    check(case)
