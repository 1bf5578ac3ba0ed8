"""More models in their authors' NumPy forms: ChebNet's Chebyshev recursion on the scaled
Laplacian, APPNP's personalised-PageRank propagation, a graph autoencoder's inner-product
decoder with BCE over all pairs, DeepSets and PointNet poolings, TransE and DistMult
knowledge-graph scores with margin ranking, wide & deep and DLRM-style pairwise dot
interactions by ``np.triu_indices``, a DQN TD loss against a target network's ``max``, double
DQN choosing by ``argmax`` of the online net, n-step and TD(lambda) returns, a soft
actor-critic style entropy-regularised objective, and training code keeping metrics in dicts
merged by ``|=`` and ``update`` (a ``**`` merge of a helper's dict refused with the
``update`` way out). Each against Python's value and central differences on calls 1-3, to
second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(60613)


def r(*s):
    return R.standard_normal(s)


N = 5
A = np.array(
    [
        [0, 1, 0, 0, 1],
        [1, 0, 1, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 1, 1, 0, 1],
        [1, 0, 0, 1, 0],
    ],
    dtype=float,
)
F = r(N, 3)


def scaled_laplacian(A):
    d = A.sum(axis=1)
    D_inv_sqrt = np.diag(d**-0.5)
    L = np.eye(len(A)) - D_inv_sqrt @ A @ D_inv_sqrt
    lambda_max = 2.0
    return 2 * L / lambda_max - np.eye(len(A))


def chebnet(thetas, A, X):
    L = scaled_laplacian(A)
    Tx = [X, L @ X]
    for _ in range(2, len(thetas)):
        Tx.append(2 * L @ Tx[-1] - Tx[-2])
    out = sum(T @ theta for T, theta in zip(Tx, thetas))
    return np.sum(np.tanh(out) ** 2)


def appnp(W, A, X, alpha=0.1, K=5):
    A_hat = A + np.eye(len(A))
    d = A_hat.sum(1)
    A_norm = A_hat / np.sqrt(np.outer(d, d))
    H = X @ W
    Z = H
    for _ in range(K):
        Z = (1 - alpha) * A_norm @ Z + alpha * H
    return np.sum(Z**2)


def graph_autoencoder(W, A, X):
    Z = np.tanh(A @ X @ W)
    logits = Z @ Z.T
    probs = 1 / (1 + np.exp(-logits))
    eps = 1e-9
    pos_weight = (A.size - A.sum()) / A.sum()
    bce = -(pos_weight * A * np.log(probs + eps) + (1 - A) * np.log(1 - probs + eps))
    return bce.mean()


def deep_sets(params, sets):
    outs = []
    for s in sets:
        phi = np.maximum(s @ params["phi"], 0.0)
        pooled = phi.sum(axis=0)
        outs.append(np.tanh(pooled @ params["rho"]))
    return np.sum(np.stack(outs) ** 2)


def pointnet_max(params, points):
    h = np.maximum(points @ params["W1"] + params["b1"], 0.0)
    h = h @ params["W2"]
    g = h.max(axis=0)
    return np.sum((g - 0.5) ** 2)


TRIPLES = np.array([[0, 0, 1], [1, 1, 2], [2, 0, 3]])
CORRUPT = np.array([[0, 0, 2], [3, 1, 2], [2, 0, 0]])


def transe(ent, rel, triples, corrupt, margin=1.0):
    def score(t):
        h, r_, tl = ent[t[:, 0]], rel[t[:, 1]], ent[t[:, 2]]
        return np.sqrt(np.sum((h + r_ - tl) ** 2, axis=1) + 1e-9)

    return np.mean(np.maximum(0.0, margin + score(triples) - score(corrupt)))


def distmult(ent, rel, triples, labels):
    h, r_, t = ent[triples[:, 0]], rel[triples[:, 1]], ent[triples[:, 2]]
    s = np.sum(h * r_ * t, axis=1)
    return np.mean(np.logaddexp(0.0, -labels * s))


def wide_and_deep(params, x_wide, x_deep_ids, y):
    wide = x_wide @ params["w_wide"]
    emb = params["emb"][x_deep_ids].reshape(len(x_deep_ids), -1)
    h = np.maximum(emb @ params["W1"], 0)
    deep = h @ params["w_out"]
    logit = wide + deep + params["b"]
    return np.mean(np.logaddexp(0.0, logit) - y * logit)


def dlrm_interactions(params, dense, sparse_ids):
    bottom = np.maximum(dense @ params["bot"], 0.0)
    embs = [params["tables"][j][sparse_ids[:, j]] for j in range(sparse_ids.shape[1])]
    T = np.stack([bottom] + embs, axis=1)
    Z = T @ T.transpose(0, 2, 1)
    li, lj = np.triu_indices(T.shape[1], k=1)
    inter = Z[:, li, lj]
    top = np.concatenate([bottom, inter], axis=1) @ params["top"]
    return np.mean(top**2)


def feature_columns_joined_inline(params, dense, ids):
    embs = [params["tables"][j][ids[:, j]] for j in range(ids.shape[1])]
    h = np.tanh(np.concatenate([dense @ params["W"]] + embs, axis=1))
    return np.sum(h**2) + np.sum(np.stack(embs + [dense @ params["W"]]) ** 2)


S_ = r(4, 3)
S_NEXT = r(4, 3)
ACT = np.array([0, 1, 1, 0])
REW = np.array([1.0, -0.5, 0.2, 0.0])
DONE = np.array([0.0, 0.0, 1.0, 0.0])


def q_net(W, s):
    return np.tanh(s @ W["W1"]) @ W["W2"]


def dqn_loss(online, target, s, a, r_, s2, done, gamma=0.99):
    q = q_net(online, s)[np.arange(len(a)), a]
    q_next = q_net(target, s2).max(axis=1)
    y = r_ + gamma * (1 - done) * q_next
    return np.mean((q - y) ** 2)


def double_dqn(online, target, s, a, r_, s2, done, gamma=0.9):
    q = q_net(online, s)[np.arange(len(a)), a]
    best = np.argmax(q_net(online, s2), axis=1)
    q_next = q_net(target, s2)[np.arange(len(best)), best]
    td = r_ + gamma * (1 - done) * q_next - q
    return np.mean(np.where(np.abs(td) < 1.0, 0.5 * td**2, np.abs(td) - 0.5))


def n_step_returns(values, rewards, n=2, gamma=0.9):
    T_ = len(rewards)
    returns = np.zeros(T_)
    for t in range(T_):
        G = 0.0
        for k in range(n):
            if t + k < T_:
                G += gamma**k * rewards[t + k]
        if t + n < T_:
            G += gamma**n * values[t + n]
        returns[t] = G
    return np.sum((returns - values) ** 2)


def td_lambda(values, rewards, gamma=0.9, lam=0.7):
    T_ = len(rewards)
    G = values[-1]
    targets = []
    for t in reversed(range(T_)):
        G = rewards[t] + gamma * ((1 - lam) * values[t + 1] + lam * G)
        targets.insert(0, G)
    return np.mean((np.array(targets) - values[:-1]) ** 2)


def sac_policy_objective(logits_W, q_W, s, alpha=0.2):
    logits = s @ logits_W
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    p = np.exp(logp)
    q = s @ q_W
    return np.mean(np.sum(p * (alpha * logp - q), axis=1))


# ------------------------------------------------------------------ dicts of metrics


def batch_stats(W, x):
    h = x @ W
    return {"mean": h.mean(), "sq": np.mean(h**2)}


def metrics_merged(W, x, y):
    logs = {"mse": np.mean((x @ W - y) ** 2)}
    logs |= batch_stats(W, x)
    return logs["mse"] + 0.1 * logs["sq"] - 0.05 * logs["mean"]


def metrics_updated_in_loop(W, x, y):
    logs = {}
    for i in range(2):
        logs[f"loss{i}"] = np.mean((x @ (W * (i + 1)) - y) ** 2)
        logs.update(batch_stats(W * (i + 1), x))
    return sum(v for k, v in logs.items() if k.startswith("loss")) + logs["sq"]


def metrics_star_merged(W, x, y):
    logs = {"mse": np.mean((x @ W - y) ** 2)}
    logs = {**logs, **batch_stats(W, x)}  # REFUSED
    return logs["mse"] + logs["sq"]


CASES = [
    Case("chebnet_recursion", chebnet, ([r(3, 2), r(3, 2), r(3, 2)], A, F), order=2),
    Case("appnp_propagation", appnp, (r(3, 2), A, F), order=2),
    Case("graph_autoencoder_bce", graph_autoencoder, (r(3, 2), A, F), order=2),
    Case(
        "deep_sets_sum_pool",
        deep_sets,
        ({"phi": r(2, 3), "rho": r(3, 2)}, [r(3, 2), r(2, 2), r(4, 2)]),
        order=2,
    ),
    Case("pointnet_max_pool", pointnet_max, ({"W1": r(3, 4), "b1": r(4), "W2": r(4, 3)}, r(6, 3))),
    Case("transe_margin", transe, (r(4, 3), r(2, 3), TRIPLES, CORRUPT), wrt=(0, 1)),
    Case(
        "distmult_logistic",
        distmult,
        (r(4, 3), r(2, 3), TRIPLES, np.array([1.0, -1.0, 1.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "wide_and_deep",
        wide_and_deep,
        (
            {"w_wide": r(3), "emb": r(5, 2), "W1": r(4, 3), "w_out": r(3), "b": 0.1},
            r(4, 3),
            np.array([[0, 4], [1, 1], [3, 2], [4, 0]]),
            np.array([1.0, 0.0, 0.0, 1.0]),
        ),
    ),
    Case(
        "dlrm_triu_interactions",
        dlrm_interactions,
        (
            {"bot": r(3, 2), "tables": [r(4, 2), r(3, 2)], "top": r(5, 1)},
            r(4, 3),
            np.array([[0, 1], [3, 2], [1, 0], [2, 2]]),
        ),
        order=2,
    ),
    Case(
        "list_join_inside_a_call",
        feature_columns_joined_inline,
        (
            {"tables": [r(4, 2), r(3, 2)], "W": r(3, 2)},
            r(4, 3),
            np.array([[0, 1], [3, 2], [1, 0], [2, 2]]),
        ),
        order=2,
    ),
    Case(
        "dqn_target_max",
        dqn_loss,
        (
            {"W1": r(3, 4), "W2": r(4, 2)},
            {"W1": r(3, 4), "W2": r(4, 2)},
            S_,
            ACT,
            REW,
            S_NEXT,
            DONE,
        ),
        wrt=(0, 1),
    ),
    Case(
        "double_dqn_huber",
        double_dqn,
        (
            {"W1": r(3, 4), "W2": r(4, 2)},
            {"W1": r(3, 4), "W2": r(4, 2)},
            S_,
            ACT,
            REW,
            S_NEXT,
            DONE,
        ),
    ),
    Case("n_step_returns", n_step_returns, (r(5), r(5)), wrt=(0, 1), order=2),
    Case("td_lambda_insert", td_lambda, (r(5), r(4)), wrt=(0, 1), order=2),
    Case("sac_discrete_entropy", sac_policy_objective, (r(3, 2), r(3, 2), S_), wrt=(0, 1), order=2),
    Case("metrics_dict_merge_operator", metrics_merged, (r(3, 2), S_, r(4, 2)), order=2),
    Case("metrics_dict_update_in_loop", metrics_updated_in_loop, (r(3, 2), S_, r(4, 2)), order=2),
    Case(
        "metrics_star_merge_refused",
        metrics_star_merged,
        (r(3, 2), S_, r(4, 2)),
        refused=(sg.UnsupportedSyntaxError, "d.update(batch_stats(W, x))"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_more_models(case):
    check(case)
