"""Graph networks, recommenders and sequence losses as from-scratch repositories write them in
NumPy: a GCN layer with self-loops and ``D^-1/2 (A + I) D^-1/2`` built by ``np.diag`` of the
degrees (and by broadcasting), GraphSAGE's mean aggregation scattered by ``np.add.at`` over an
edge list and divided by ``np.bincount`` degrees, GAT attention with a per-node softmax over
incoming edges (``np.maximum.at``-free: a masked dense form), message passing classes with
``edge_index`` rows, a GIN layer with ``(1 + eps)``, a graph readout by mean and max, an
embedding bag with offsets (``np.add.at`` into bags), a two-tower recommender with dot scores
and in-batch negatives, factorisation machines' pairwise term, BPR's ranking loss, a CTC
forward recursion as course code writes it (``extend_target_with_blank``, ``skip_connect``,
``alpha[t, s]`` written cell by cell, and in log space with ``np.logaddexp``), an HMM forward
pass with scaling and a Viterbi-free log-likelihood. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(20261207)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ graphs

N_NODES = 5
EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [1, 3]])
A_ADJ = np.zeros((N_NODES, N_NODES))
A_ADJ[EDGES[:, 0], EDGES[:, 1]] = 1.0
A_ADJ = A_ADJ + A_ADJ.T
FEATS = r(N_NODES, 3)
LABELS = np.array([0, 1, 1, 0, 1])


def normalize_adjacency(A):
    A_hat = A + np.eye(A.shape[0])
    deg = A_hat.sum(axis=1)
    D_inv_sqrt = np.diag(1.0 / np.sqrt(deg))
    return D_inv_sqrt @ A_hat @ D_inv_sqrt


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy(logits, labels):
    logp = (
        logits
        - np.log(np.sum(np.exp(logits - logits.max(1, keepdims=True)), 1, keepdims=True))
        - logits.max(1, keepdims=True)
    )
    return -np.mean(logp[np.arange(len(labels)), labels])


class GCNLayer:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, A_norm, H):
        return A_norm @ H @ self.W + self.b


class GCN:
    def __init__(self, params):
        self.layers = [GCNLayer(W, b) for W, b in params]

    def __call__(self, A, X):
        A_norm = normalize_adjacency(A)
        H = X
        for i, layer in enumerate(self.layers):
            H = layer.forward(A_norm, H)
            if i < len(self.layers) - 1:
                H = np.maximum(H, 0)
        return H


def gcn_node_classification(params, A, X, y):
    model = GCN(params)
    return cross_entropy(model(A, X), y)


def gcn_broadcast_norm(W, A, X):
    A_hat = A + np.eye(len(A))
    d = A_hat.sum(1)
    norm = 1 / np.sqrt(d)
    A_norm = norm[:, None] * A_hat * norm[None, :]
    H = np.tanh(A_norm @ X @ W)
    return np.sum(H**2)


def gcn_in_adjacency_weights(edge_w, X, W):
    A = np.zeros((N_NODES, N_NODES))
    A[EDGES[:, 0], EDGES[:, 1]] = edge_w
    A[EDGES[:, 1], EDGES[:, 0]] = edge_w
    A_hat = A + np.eye(N_NODES)
    deg = A_hat.sum(axis=1)
    D = np.diag(deg**-0.5)
    return np.sum(np.tanh(D @ A_hat @ D @ X @ W))


def sage_mean_aggregate(params, X, edge_index):
    src, dst = edge_index
    agg = np.zeros_like(X)
    np.add.at(agg, dst, X[src])
    deg = np.bincount(dst, minlength=X.shape[0]).astype(float)
    deg[deg == 0] = 1.0
    agg = agg / deg[:, None]
    h = np.concatenate([X, agg], axis=1) @ params["W"]
    h = h / np.linalg.norm(h, axis=1, keepdims=True)
    return np.sum((h - 0.1) ** 2)


class MessagePassing:
    def __init__(self, W_msg, W_upd):
        self.W_msg = W_msg
        self.W_upd = W_upd

    def message(self, x_j):
        return np.tanh(x_j @ self.W_msg)

    def aggregate(self, msgs, index, n):
        out = np.zeros((n, msgs.shape[1]))
        np.add.at(out, index, msgs)
        return out

    def update(self, x, aggr):
        return np.tanh(np.concatenate([x, aggr], axis=-1) @ self.W_upd)

    def propagate(self, x, edge_index):
        msgs = self.message(x[edge_index[0]])
        aggr = self.aggregate(msgs, edge_index[1], x.shape[0])
        return self.update(x, aggr)


def mpnn_two_rounds(W_msg, W_upd, X, edge_index):
    layer = MessagePassing(W_msg, W_upd)
    h = X
    for _ in range(2):
        h = layer.propagate(h, edge_index)
    return np.mean(h.sum(axis=0) ** 2)


def gin_layer(params, A, X):
    eps = params["eps"]
    h = (1 + eps) * X + A @ X
    h = np.maximum(h @ params["W1"], 0.0) @ params["W2"]
    graph = np.concatenate([h.mean(axis=0), h.max(axis=0)])
    return np.sum(graph * params["readout"])


def gat_dense(params, A, X):
    Wh = X @ params["W"]
    f1 = Wh @ params["a_src"]
    f2 = Wh @ params["a_dst"]
    e = f1[:, None] + f2[None, :]
    e = np.where(e > 0, e, 0.2 * e)
    mask = (A + np.eye(len(A))) > 0
    e = np.where(mask, e, -9e15)
    attention = softmax(e, axis=1)
    h_prime = attention @ Wh
    return np.sum(np.where(h_prime > 0, h_prime, np.exp(h_prime) - 1.0))


def gat_edge_softmax(params, X, edge_index):
    src, dst = edge_index
    Wh = X @ params["W"]
    logits = np.tanh(Wh[src] @ params["a"][:2] + Wh[dst] @ params["a"][2:])
    ex = np.exp(logits)
    denom = np.zeros(X.shape[0])
    np.add.at(denom, dst, ex)
    alpha = ex / denom[dst]
    out = np.zeros_like(Wh)
    np.add.at(out, dst, alpha[:, None] * Wh[src])
    return np.sum(out**2)


def graph_readout_batch(W, X, graph_ids, y):
    h = np.tanh(X @ W)
    n_graphs = graph_ids.max() + 1
    pooled = np.zeros((n_graphs, h.shape[1]))
    np.add.at(pooled, graph_ids, h)
    counts = np.bincount(graph_ids)[:, None]
    pooled = pooled / counts
    return np.mean((pooled.sum(axis=1) - y) ** 2)


def link_prediction(Z, pos, neg):
    def score(e):
        return np.sum(Z[e[:, 0]] * Z[e[:, 1]], axis=1)

    pos_loss = -np.mean(np.log(1 / (1 + np.exp(-score(pos)))))
    neg_loss = -np.mean(np.log(1 - 1 / (1 + np.exp(-score(neg)))))
    return pos_loss + neg_loss


# ------------------------------------------------------------------ recommenders


def embedding_bag_mean(table, indices, offsets, w):
    n_bags = len(offsets)
    bag_ids = np.zeros(len(indices), dtype=int)
    for b in range(1, n_bags):
        bag_ids[offsets[b] :] += 1
    out = np.zeros((n_bags, table.shape[1]))
    np.add.at(out, bag_ids, table[indices])
    counts = np.bincount(bag_ids, minlength=n_bags)
    out /= counts[:, None]
    return np.sum(np.tanh(out @ w))


def embedding_bag_loop(table, indices, offsets):
    ends = list(offsets[1:]) + [len(indices)]
    bags = []
    for start, end in zip(offsets, ends):
        bags.append(table[indices[start:end]].sum(axis=0))
    pooled = np.stack(bags)
    return np.sum(pooled[0] * pooled[1]) + np.sum(pooled[-1] ** 2)


class TwoTower:
    def __init__(self, user_emb, item_emb, W_u, W_i):
        self.user_emb = user_emb
        self.item_emb = item_emb
        self.W_u = W_u
        self.W_i = W_i

    def user_tower(self, users):
        return np.tanh(self.user_emb[users] @ self.W_u)

    def item_tower(self, items):
        return np.tanh(self.item_emb[items] @ self.W_i)


def two_tower_in_batch(user_emb, item_emb, W_u, W_i, users, items, temperature=0.5):
    model = TwoTower(user_emb, item_emb, W_u, W_i)
    u = model.user_tower(users)
    v = model.item_tower(items)
    logits = u @ v.T / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_probs))


def factorization_machine(params, X, y):
    linear = params["w0"] + X @ params["w"]
    V = params["V"]
    inter = 0.5 * np.sum((X @ V) ** 2 - (X**2) @ (V**2), axis=1)
    pred = linear + inter
    return np.mean((pred - y) ** 2)


def bpr_loss(P, Q, users, pos, neg, reg=0.01):
    x_ui = np.sum(P[users] * Q[pos], axis=1)
    x_uj = np.sum(P[users] * Q[neg], axis=1)
    x_uij = x_ui - x_uj
    loss = -np.sum(np.log(1.0 / (1.0 + np.exp(-x_uij))))
    loss += reg * (np.sum(P[users] ** 2) + np.sum(Q[pos] ** 2) + np.sum(Q[neg] ** 2))
    return loss


def ncf_mlp(params, users, items, ratings):
    x = np.concatenate([params["U"][users], params["I"][items]], axis=1)
    for W, b in params["mlp"]:
        x = np.maximum(0, x @ W + b)
    gmf = params["U"][users] * params["I"][items]
    logit = np.concatenate([gmf, x], axis=1) @ params["out"]
    p = 1 / (1 + np.exp(-logit))
    return -np.mean(ratings * np.log(p) + (1 - ratings) * np.log(1 - p))


# ------------------------------------------------------------------ sequences


class CTC:
    def __init__(self, BLANK=0):
        self.BLANK = BLANK

    def extend_target_with_blank(self, target):
        extended_symbols = [self.BLANK]
        for symbol in target:
            extended_symbols.append(symbol)
            extended_symbols.append(self.BLANK)
        N = len(extended_symbols)
        skip_connect = [0] * N
        for i in range(2, N):
            if extended_symbols[i] != self.BLANK and extended_symbols[i] != extended_symbols[i - 2]:
                skip_connect[i] = 1
        return np.array(extended_symbols), np.array(skip_connect)

    def get_forward_probs(self, logits, extended_symbols, skip_connect):
        S, T = len(extended_symbols), len(logits)
        alpha = np.zeros(shape=(T, S))
        alpha[0][0] = logits[0, extended_symbols[0]]
        alpha[0][1] = logits[0, extended_symbols[1]]
        for t in range(1, T):
            alpha[t][0] = alpha[t - 1][0] * logits[t, extended_symbols[0]]
            for i in range(1, S):
                alpha[t][i] = alpha[t - 1][i - 1] + alpha[t - 1][i]
                if skip_connect[i]:
                    alpha[t][i] += alpha[t - 1][i - 2]
                alpha[t][i] *= logits[t, extended_symbols[i]]
        return alpha


def ctc_probability_space(z, target):
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    ctc = CTC()
    ext, skip = ctc.extend_target_with_blank(target)
    alpha = ctc.get_forward_probs(probs, ext, skip)
    return -np.log(alpha[-1, -1] + alpha[-1, -2])


def ctc_log_space(log_probs, target, blank=0):
    ext = [blank]
    for c in target:
        ext += [c, blank]
    S, T = len(ext), log_probs.shape[0]
    log_alpha = np.full((T, S), -np.inf)
    log_alpha[0, 0] = log_probs[0, ext[0]]
    log_alpha[0, 1] = log_probs[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            a = log_alpha[t - 1, s]
            if s > 0:
                a = np.logaddexp(a, log_alpha[t - 1, s - 1])
            if s > 1 and ext[s] != blank and ext[s] != ext[s - 2]:
                a = np.logaddexp(a, log_alpha[t - 1, s - 2])
            log_alpha[t, s] = a + log_probs[t, ext[s]]
    return -np.logaddexp(log_alpha[-1, -1], log_alpha[-1, -2])


def ctc_from_logits(z, target):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return ctc_log_space(logp, target)


def hmm_forward_scaled(log_A, log_B, log_pi, obs):
    A = softmax(log_A, axis=1)
    B = softmax(log_B, axis=1)
    pi = softmax(log_pi)
    alpha = pi * B[:, obs[0]]
    c = alpha.sum()
    alpha = alpha / c
    log_lik = np.log(c)
    for o in obs[1:]:
        alpha = (alpha @ A) * B[:, o]
        c = alpha.sum()
        alpha /= c
        log_lik += np.log(c)
    return -log_lik


def hmm_log_forward(log_A, log_B, log_pi, obs):
    lA = log_A - np.log(np.exp(log_A).sum(1, keepdims=True))
    lB = log_B - np.log(np.exp(log_B).sum(1, keepdims=True))
    la = log_pi - np.log(np.exp(log_pi).sum()) + lB[:, obs[0]]
    for t in range(1, len(obs)):
        m = la[:, None] + lA
        mx = m.max(axis=0)
        la = mx + np.log(np.exp(m - mx).sum(axis=0)) + lB[:, obs[t]]
    mx = la.max()
    return -(mx + np.log(np.sum(np.exp(la - mx))))


SRC_DST = EDGES.T.copy()
BOTH_WAYS = np.concatenate([EDGES.T, EDGES[:, ::-1].T], axis=1)

CASES = [
    Case(
        "gcn_classes_node_classification",
        gcn_node_classification,
        ([(r(3, 4), r(4)), (r(4, 2), r(2))], A_ADJ, FEATS, LABELS),
        order=2,
    ),
    Case("gcn_broadcast_normalisation", gcn_broadcast_norm, (r(3, 2), A_ADJ, FEATS), order=2),
    Case(
        "gcn_learned_edge_weights",
        gcn_in_adjacency_weights,
        (R.uniform(0.5, 1.5, len(EDGES)), FEATS, r(3, 2)),
        order=2,
    ),
    Case(
        "gcn_edge_weights_and_features",
        gcn_in_adjacency_weights,
        (R.uniform(0.5, 1.5, len(EDGES)), FEATS, r(3, 2)),
        wrt=(0, 1),
    ),
    Case(
        "sage_mean_add_at_bincount",
        sage_mean_aggregate,
        ({"W": r(6, 3)}, FEATS, BOTH_WAYS),
        order=2,
    ),
    Case("sage_features", sage_mean_aggregate, ({"W": r(6, 3)}, FEATS, SRC_DST), wrt=1),
    Case(
        "mpnn_class_two_rounds",
        mpnn_two_rounds,
        (r(3, 3), r(6, 3), FEATS, BOTH_WAYS),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "gin_eps_mean_max_readout",
        gin_layer,
        ({"eps": 0.1, "W1": r(3, 4), "W2": r(4, 3), "readout": r(6)}, A_ADJ, FEATS),
    ),
    Case(
        "gat_dense_masked",
        gat_dense,
        ({"W": r(3, 4), "a_src": r(4), "a_dst": r(4)}, A_ADJ, FEATS),
    ),
    Case(
        "gat_edge_softmax_scatter",
        gat_edge_softmax,
        ({"W": r(3, 2), "a": r(4)}, FEATS, BOTH_WAYS),
        order=2,
    ),
    Case(
        "graph_batch_readout",
        graph_readout_batch,
        (r(3, 2), FEATS, np.array([0, 0, 1, 1, 1]), r(2)),
        order=2,
    ),
    Case(
        "link_prediction_dot",
        link_prediction,
        (r(5, 3), EDGES[:3], np.array([[0, 2], [1, 4], [3, 0]])),
        order=2,
    ),
    Case(
        "embedding_bag_offsets",
        embedding_bag_mean,
        (r(6, 3), np.array([0, 2, 2, 5, 1, 3, 4]), np.array([0, 3, 5]), r(3)),
        order=2,
    ),
    Case(
        "embedding_bag_slices_loop",
        embedding_bag_loop,
        (r(6, 3), np.array([0, 2, 2, 5, 1, 3, 4]), np.array([0, 3, 5])),
        order=2,
    ),
    Case(
        "two_tower_in_batch_negatives",
        two_tower_in_batch,
        (r(4, 3), r(5, 3), r(3, 3), r(3, 3), np.array([0, 1, 3]), np.array([4, 0, 2])),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "factorization_machine",
        factorization_machine,
        ({"w0": 0.1, "w": r(4), "V": r(4, 2)}, r(5, 4), r(5)),
        order=2,
    ),
    Case(
        "bpr_repeated_users",
        bpr_loss,
        (r(3, 2), r(4, 2), np.array([0, 0, 2]), np.array([1, 2, 3]), np.array([0, 0, 1])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "ncf_gmf_plus_mlp",
        ncf_mlp,
        (
            {"U": r(3, 2), "I": r(4, 2), "mlp": [(r(4, 3), r(3)), (r(3, 2), r(2))], "out": r(4)},
            np.array([0, 1, 2, 1]),
            np.array([3, 0, 1, 1]),
            np.array([1.0, 0.0, 1.0, 0.0]),
        ),
    ),
    Case("ctc_course_class", ctc_probability_space, (r(5, 3), [1, 2])),
    Case("ctc_course_repeated_label", ctc_probability_space, (r(6, 3), [1, 1])),
    Case("ctc_log_space_logaddexp", ctc_from_logits, (r(5, 4), [1, 3, 3]), order=2),
    Case(
        "hmm_scaled_forward",
        hmm_forward_scaled,
        (r(2, 2), r(2, 3), r(2), [0, 2, 1, 1]),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "hmm_log_forward",
        hmm_log_forward,
        (r(3, 3), r(3, 2), r(3), [0, 1, 1, 0]),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_graphs_sequences(case):
    check(case)
