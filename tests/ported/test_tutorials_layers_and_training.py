"""More tutorial code in NumPy: dropout with a seeded draw inside the loss, pooling by
reshapes, a strided convolution, ReLU written four ways, a GRU and an LSTM cell from scratch with ``np.split`` and
``np.vstack``, a bidirectional RNN, Luong attention over encoder states, bag-of-words and
skip-gram embeddings, knowledge distillation with a temperature, mixup, a highway layer,
parameters unpacked from a list (``W1, b1, W2, b2 = params``, ``*hidden, head = params``),
weight decay over ``params.items()`` filtered by name. Each against Python's value and
central differences on calls 1-3 (the optimized code runs from the second call), and the HVP
where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(77)


def rn(*shape):
    return R.standard_normal(shape)


X = rn(6, 4)
LABELS = np.array([0, 2, 1, 1, 0, 2])


def softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy(logits, y):
    p = softmax(logits)
    return -np.mean(np.log(p[range(len(y)), y]))


# ---------------------------------------------------------------- layers


def seeded_dropout(W, x, p=0.5):
    np.random.seed(231)
    h = np.maximum(0, x @ W)
    mask = (np.random.rand(*h.shape) < p) / p
    h *= mask
    return np.sum(h**2)


def relu_four_ways(W, x):
    a = x @ W
    r1 = np.maximum(a, 0)
    r2 = a * (a > 0)
    r3 = np.where(a > 0, a, 0.0)
    r4 = a.clip(min=0)
    return np.sum(r1 * r2) + np.sum(r3 * r4)


def pool_by_reshape(x):
    N, C, H, W = x.shape
    pooled = x.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=3).max(axis=4)
    avg = x.reshape(N, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5))
    return np.sum(pooled**2) + np.sum(avg * pooled)


def strided_conv(w, x, stride=2, pad=1):
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - k) // stride + 1
    Wo = (W + 2 * pad - k) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return np.sum(np.tanh(out))


def highway(p, x):
    H = np.maximum(0, x @ p["W_h"] + p["b_h"])
    T = 1 / (1 + np.exp(-(x @ p["W_t"] + p["b_t"])))
    y = H * T + x * (1.0 - T)
    return np.sum(y**2)


def stable_bce(w, x, t):
    z = x @ w
    loss = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return np.mean(loss) + 0.5 * np.sum(np.logaddexp(0, -z)) / len(t)


# ---------------------------------------------------------------- recurrent cells


def gru_cell_loss(p, xs, h0):
    h = h0
    for x in xs:
        z = 1 / (1 + np.exp(-(x @ p["Wz"] + h @ p["Uz"])))
        r = 1 / (1 + np.exp(-(x @ p["Wr"] + h @ p["Ur"])))
        h_tilde = np.tanh(x @ p["Wh"] + (r * h) @ p["Uh"])
        h = (1 - z) * h + z * h_tilde
    return np.sum(h**2)


def lstm_split_loss(W, b, xs):
    H = W.shape[1] // 4
    h, c = np.zeros(H), np.zeros(H)
    total = 0.0
    for x in xs:
        z = np.hstack((h, x)) @ W + b
        i, f, o, g = np.split(z, 4)
        i, f, o = [1 / (1 + np.exp(-v)) for v in (i, f, o)]
        c = f * c + i * np.tanh(g)
        h = o * np.tanh(c)
        total += np.sum(h)
    return total


def colah_lstm(W, xs):
    H = W.shape[0] // 4
    h, c = np.zeros((H, 1)), np.zeros((H, 1))
    for x in xs:
        z = W @ np.vstack((h, x[:, None]))
        f = 1 / (1 + np.exp(-z[:H]))
        i = 1 / (1 + np.exp(-z[H : 2 * H]))
        o = 1 / (1 + np.exp(-z[2 * H : 3 * H]))
        c = f * c + i * np.tanh(z[3 * H :])
        h = o * np.tanh(c)
    return float(np.sum(h))


def birnn(p, xs):
    T = len(xs)
    fwd, bwd = [None] * T, [None] * T
    h = np.zeros(3)
    for t in range(T):
        h = np.tanh(xs[t] @ p["Wf"] + h @ p["Uf"])
        fwd[t] = h
    h = np.zeros(3)
    for t in reversed(range(T)):
        h = np.tanh(xs[t] @ p["Wb"] + h @ p["Ub"])
        bwd[t] = h
    out = [np.concatenate([f, b]) for f, b in zip(fwd, bwd)]
    return np.sum(np.stack(out) @ p["V"])


def luong_attention_decoder(p, enc_inputs, dec_targets):
    enc_states = []
    h = np.zeros(p["U"].shape[0])
    for x in enc_inputs:
        h = np.tanh(x @ p["W"] + h @ p["U"])
        enc_states.append(h)
    H = np.array(enc_states)
    s = h
    loss = 0.0
    for y in dec_targets:
        scores = H @ s
        alpha = softmax(scores)
        context = alpha @ H
        s = np.tanh(np.concatenate([s, context]) @ p["Ws"])
        logits = s @ p["Wo"]
        loss += -np.log(softmax(logits)[y])
    return loss / len(dec_targets)


# ---------------------------------------------------------------- embeddings and training


def bag_of_words(E, W, docs, labels):
    feats = np.stack([E[doc].mean(axis=0) for doc in docs])
    return cross_entropy(feats @ W, labels)


def skip_gram(W_in, W_out, pairs):
    loss = 0.0
    for center, context in pairs:
        v = W_in[center]
        scores = W_out @ v
        loss -= scores[context] - np.log(np.sum(np.exp(scores)))
    return loss / len(pairs)


def distillation(W, x, teacher_logits, labels, T=2.0, alpha=0.7):
    student = x @ W
    p_t = softmax(teacher_logits / T)
    log_p_s = np.log(softmax(student / T))
    kd = np.sum(p_t * (np.log(p_t) - log_p_s)) / len(x) * T * T
    return alpha * kd + (1 - alpha) * cross_entropy(student, labels)


def mixup(W, x, y_onehot, lam=0.3, perm=(1, 0, 3, 2, 5, 4)):
    idx = np.array(perm)
    xm = lam * x + (1 - lam) * x[idx]
    ym = lam * y_onehot + (1 - lam) * y_onehot[idx]
    logp = np.log(softmax(xm @ W))
    return -np.sum(ym * logp) / len(x)


def unpacked_list_params(params, x, y):
    W1, b1, W2, b2 = params
    h = np.maximum(0, x @ W1 + b1)
    return cross_entropy(h @ W2 + b2, y)


def starred_head(params, x, y):
    *hidden, head = params
    for W in hidden:
        x = np.tanh(x @ W)
    return cross_entropy(x @ head, y)


def weight_decay_by_name(params, x, y, wd=1e-2):
    h = np.tanh(x @ params["W1"] + params["b1"])
    loss = cross_entropy(h @ params["W2"] + params["b2"], y)
    decay = sum(np.sum(v**2) for k, v in params.items() if k.startswith("W"))
    return loss + wd * decay


def tbptt_loss(p, xs, ys, k=2):
    # truncated BPTT as written without an autograd "detach": the state is carried through
    h = np.zeros(p["U"].shape[0])
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ p["W"] + h @ p["U"])
        loss += np.sum((h @ p["V"] - ys[t]) ** 2)
        if (t + 1) % k == 0:
            loss = loss * 1.0
    return loss


def noise_of_a_local_shape(W, x):
    # (minimal) `np.random.randn(*h.shape)` of a local h was refused (its length unknown)
    h = np.tanh(x @ W)
    np.random.seed(0)
    noise = np.random.randn(*h.shape)
    return np.sum((h + 0.1 * noise) ** 2) + np.sum((x @ W).ravel().reshape(*h.shape) * h)


def clip_with_new_keywords(W, x):
    # (minimal) `a.clip(min=0)` / `np.clip(a, min=..., max=...)` (NumPy 2.1) was refused
    a = x @ W
    return np.sum(a.clip(min=0) ** 2) + np.sum(np.clip(a, min=-0.5, max=0.5))


def P(**shapes):
    return {k: 0.5 * rn(*s) for k, s in shapes.items()}


CASES = [
    Case("seeded_dropout", seeded_dropout, (rn(4, 5), X)),
    Case("relu_four_ways", relu_four_ways, (rn(4, 3), X)),
    Case("pool_by_reshape", pool_by_reshape, (rn(2, 2, 4, 4),)),
    Case("strided_conv", strided_conv, (0.5 * rn(2, 2, 3, 3), rn(1, 2, 5, 5)), wrt=(0, 1), order=2),
    Case("highway", highway, (P(W_h=(4, 4), b_h=(4,), W_t=(4, 4), b_t=(4,)), X)),
    Case("stable_bce", stable_bce, (rn(4), X, (R.random(6) > 0.5).astype(float)), order=2),
    Case(
        "gru_cell",
        gru_cell_loss,
        (P(Wz=(4, 3), Uz=(3, 3), Wr=(4, 3), Ur=(3, 3), Wh=(4, 3), Uh=(3, 3)), rn(3, 4), rn(3)),
        wrt=(0, 2),
        order=2,
    ),
    Case(
        "lstm_hstack_split",
        lstm_split_loss,
        (0.5 * rn(7, 12), 0.1 * rn(12), rn(3, 4)),
        wrt=(0, 1),
        order=2,
    ),
    Case("colah_lstm_vstack", colah_lstm, (0.5 * rn(8, 4), rn(3, 2)), order=2),
    Case(
        "bidirectional_rnn",
        birnn,
        (P(Wf=(2, 3), Uf=(3, 3), Wb=(2, 3), Ub=(3, 3), V=(6,)), rn(4, 2)),
        order=2,
    ),
    Case(
        "luong_attention",
        luong_attention_decoder,
        (P(W=(2, 3), U=(3, 3), Ws=(6, 3), Wo=(3, 4)), rn(3, 2), [1, 3, 0]),
        order=2,
    ),
    Case(
        "bag_of_words",
        bag_of_words,
        (
            rn(7, 3),
            rn(3, 3),
            [np.array([0, 3, 3]), np.array([1, 6]), np.array([2, 4, 5, 6])],
            np.array([0, 2, 1]),
        ),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "skip_gram", skip_gram, (rn(5, 3), rn(5, 3), [(0, 1), (2, 4), (3, 3)]), wrt=(0, 1), order=2
    ),
    Case("distillation", distillation, (rn(4, 3), X, rn(6, 3), LABELS), order=2),
    Case("mixup", mixup, (rn(4, 3), X, np.eye(3)[LABELS]), order=2),
    Case(
        "unpacked_list_params",
        unpacked_list_params,
        ([rn(4, 5), rn(5), rn(5, 3), rn(3)], X, LABELS),
    ),
    Case("starred_head", starred_head, ([rn(4, 4), rn(4, 4), rn(4, 3)], X, LABELS), order=2),
    Case(
        "weight_decay_by_name",
        weight_decay_by_name,
        (P(W1=(4, 5), b1=(5,), W2=(5, 3), b2=(3,)), X, LABELS),
        order=2,
    ),
    Case(
        "truncated_bptt", tbptt_loss, (P(W=(2, 3), U=(3, 3), V=(3, 2)), rn(4, 2), rn(4, 2)), order=2
    ),
]


REGRESSIONS = [
    Case("noise_of_a_local_shape", noise_of_a_local_shape, (rn(4, 3), X), order=2),
    Case("clip_with_new_keywords", clip_with_new_keywords, (rn(4, 3), X), order=2),
]


@pytest.mark.parametrize("case", params(REGRESSIONS))
def test_minimal_programs_of_the_bugs_found(case):
    check(case)


@pytest.mark.parametrize("case", params(CASES))
def test_layers_and_training_programs(case):
    check(case)
