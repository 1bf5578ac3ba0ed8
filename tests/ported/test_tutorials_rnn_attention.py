"""Sequence models as tutorials write them in NumPy: Karpathy's min-char-rnn (a dict of
parameters, ``xs, hs, ys, ps = {}, {}, {}, {}`` keyed by time, ``hs[-1] = np.copy(hprev)``, a
one-hot column written by ``xs[t][inputs[t]] = 1``), its LSTM variant with gate slices, a
teacher-forced seq2seq decoder, attention by hand (``softmax(q @ k.T / np.sqrt(d))`` with a
causal mask from ``np.triu`` / ``np.tril`` and ``-np.inf``), multi-head attention by reshapes,
a GPT block with positional embeddings. Each against Python's value and central differences
on calls 1-3 (the optimized code runs from the second call), and the HVP where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(1015)


def rn(*shape):
    return R.standard_normal(shape)


# ---------------------------------------------------------------- min-char-rnn

vocab_size, hidden_size = 4, 5


def char_rnn_params():
    return {
        "Wxh": 0.3 * rn(hidden_size, vocab_size),
        "Whh": 0.3 * rn(hidden_size, hidden_size),
        "Why": 0.3 * rn(vocab_size, hidden_size),
        "bh": np.zeros((hidden_size, 1)),
        "by": np.zeros((vocab_size, 1)),
    }


def lossFun(model, inputs, targets, hprev):
    Wxh, Whh, Why, bh, by = (model[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    # forward pass
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))  # encode in 1-of-k representation
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)  # hidden state
        ys[t] = np.dot(Why, hs[t]) + by  # unnormalized log probabilities for next chars
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # probabilities for next chars
        loss += -np.log(ps[t][targets[t], 0])  # softmax (cross-entropy loss)
    return loss


def lossFun_unpacked(Wxh, Whh, Why, bh, by, inputs, targets, hprev):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ys[t] = Why @ hs[t] + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


def lstm_lossFun(model, inputs, targets, hprev, cprev):
    H = hidden_size
    Wx, Wh, b, Why, by = model["Wx"], model["Wh"], model["b"], model["Why"], model["by"]
    xs, hs, cs, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    cs[-1] = np.copy(cprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        tmp = np.dot(Wx, xs[t]) + np.dot(Wh, hs[t - 1]) + b
        i = 1 / (1 + np.exp(-tmp[:H]))
        f = 1 / (1 + np.exp(-tmp[H : 2 * H]))
        o = 1 / (1 + np.exp(-tmp[2 * H : 3 * H]))
        g = np.tanh(tmp[3 * H :])
        cs[t] = f * cs[t - 1] + i * g
        hs[t] = o * np.tanh(cs[t])
    for i in range(len(targets)):
        idx = len(inputs) - len(targets) + i
        y = np.dot(Why, hs[idx]) + by
        ps[idx] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[idx][targets[i], 0])
    return loss


def lstm_params():
    H = hidden_size
    return {
        "Wx": 0.3 * rn(4 * H, vocab_size),
        "Wh": 0.3 * rn(4 * H, H),
        "b": 0.1 * rn(4 * H, 1),
        "Why": 0.3 * rn(vocab_size, H),
        "by": np.zeros((vocab_size, 1)),
    }


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    prev_h = h0
    for t in range(T):
        prev_h, _ = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
    return h, None


def word_embedding_forward(x, W):
    out = W[x, :]
    return out, (x, W)


def temporal_softmax_loss(x, y, mask):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    return loss


def captioning_loss(p, features, captions):
    captions_in = captions[:, :-1]
    captions_out = captions[:, 1:]
    mask = captions_out != 0  # NULL token
    h0 = features.dot(p["W_proj"]) + p["b_proj"]
    x, _ = word_embedding_forward(captions_in, p["W_embed"])
    h, _ = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"])
    scores = h.dot(p["W_vocab"]) + p["b_vocab"]
    return temporal_softmax_loss(scores, captions_out, mask)


def captioning_params(F, W, H, V):
    return {
        "W_proj": 0.3 * rn(F, H),
        "b_proj": np.zeros(H),
        "W_embed": 0.5 * rn(V, W),
        "Wx": 0.3 * rn(W, H),
        "Wh": 0.3 * rn(H, H),
        "b": np.zeros(H),
        "W_vocab": 0.3 * rn(H, V),
        "b_vocab": np.zeros(V),
    }


def item_read_then_new_item(W, x):
    # (minimal) `h = hs[t - 1]` then `hs[t] = ...` was refused as if h shared hs's memory
    hs = {-1: np.zeros(3)}
    for t in range(3):
        h = hs[t - 1]
        hs[t] = np.tanh(W @ h + x)
    return np.sum(hs[2])


def list_item_read_then_new_item(W, x):
    hs = [np.zeros(3)]
    for _ in range(3):
        h = hs[-1]
        hs.append(np.tanh(W @ h + x))
        hs[0] = hs[0] + 1.0
    return np.sum(hs[2]) + np.sum(h)


def one_hot_item_of_item(W, x):
    # (minimal) `xs[t][k] = 1` was refused: an item of an item written into
    xs, hs = {}, {}
    hs[-1] = np.zeros(3)
    for t in range(3):
        xs[t] = np.zeros(3)
        xs[t][t] = 1
        hs[t] = np.tanh(W @ hs[t - 1] + x * xs[t])
    return np.sum(hs[2])


def nested_items_written(W, x):
    rows = [np.zeros(3) for _ in range(2)]
    rows[0][1] += np.sum(W @ x)
    rows[1][:] = x
    grid = {"a": {"b": x * 2.0}}
    grid["a"]["b"][0] = 1.0
    return np.sum(np.stack(rows) ** 2) + np.sum(grid["a"]["b"] * x)


def item_shared_with_a_name(W, x):
    h = np.tanh(W @ x)
    hs = {}
    hs[0] = h
    hs[0][1] = 0.0  # REFUSED
    return np.sum(h)


def item_read_out_before(W, x):
    hs = {0: np.tanh(W @ x)}
    a = hs[0]
    hs[0][1] = 0.0
    return np.sum(a)


def item_updated_after_read(W, x):
    # `hs[0] += 1.0` changes the array `a` holds too, which is followed
    hs = [np.tanh(W @ x), x * 2.0]
    a = hs[0]
    hs[0] += 1.0
    return np.sum(a * x)


def item_of_a_tuple(x):
    t = (np.zeros(3), 1.0)
    t[0][1] = x[0]  # REFUSED
    return np.sum(t[0] * x)


# ---------------------------------------------------------------- seq2seq


def seq2seq_teacher_forcing(p, src, tgt, teacher_forcing=True):
    h = np.zeros(p["enc_W"].shape[1])
    for x in src:
        h = np.tanh(x @ p["enc_W"] + h @ p["enc_U"])
    dec_in = np.zeros(p["dec_W"].shape[0])  # <sos>
    loss = 0.0
    outputs = []
    for t in range(len(tgt)):
        h = np.tanh(dec_in @ p["dec_W"] + h @ p["dec_U"])
        logits = h @ p["out"]
        logp = logits - np.log(np.sum(np.exp(logits)))
        loss -= logp[tgt[t]]
        outputs.append(logits)
        if teacher_forcing:
            dec_in = np.eye(len(logits))[tgt[t]]
        else:
            dec_in = np.exp(logp)
    return loss / len(tgt)


def s2s_params(d, h, v):
    return {
        "enc_W": 0.4 * rn(d, h),
        "enc_U": 0.4 * rn(h, h),
        "dec_W": 0.4 * rn(v, h),
        "dec_U": 0.4 * rn(h, h),
        "out": 0.4 * rn(h, v),
    }


# ---------------------------------------------------------------- attention


def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def causal_self_attention(Wq, Wk, Wv, x):
    T, d = x.shape
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    scores = q @ k.T / np.sqrt(d)
    mask = np.triu(np.ones((T, T)), k=1).astype(bool)
    scores[mask] = -np.inf
    att = softmax(scores)
    return np.sum((att @ v) ** 2)


def causal_attention_tril(W, x):
    T, C = x.shape
    q, k, v = np.split(x @ W, 3, axis=1)
    wei = q @ k.T * C**-0.5
    tril = np.tril(np.ones((T, T)))
    wei = np.where(tril == 0, -np.inf, wei)
    wei = softmax(wei, axis=-1)
    out = wei @ v
    return np.mean(out**2)


def attention_mask_added(Wq, Wk, x):
    T = x.shape[0]
    mask = np.triu(np.full((T, T), -1e9), 1)
    scores = (x @ Wq) @ (x @ Wk).T / np.sqrt(Wq.shape[1]) + mask
    return np.sum(softmax(scores) * np.arange(T)[None, :])


def multi_head_attention(p, x, n_head=2):
    B, T, C = x.shape
    qkv = x @ p["c_attn"]
    q, k, v = qkv[..., :C], qkv[..., C : 2 * C], qkv[..., 2 * C :]
    hs = C // n_head
    q = q.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)
    k = k.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)
    v = v.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)
    att = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / np.sqrt(hs))
    causal = np.tril(np.ones((T, T), dtype=bool))
    att = np.where(causal[None, None], att, -np.inf)
    att = softmax(att, axis=-1)
    y = att @ v
    y = y.transpose(0, 2, 1, 3).reshape(B, T, C)
    y = y @ p["c_proj"]
    return np.sum(y * y)


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def layer_norm(x, g, b, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    variance = np.var(x, axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(variance + eps) + b


def picogpt_block(x, mlp, attn, ln_1, ln_2, n_head):
    def mha(x, c_attn, c_proj, n_head):
        x = x @ c_attn["w"] + c_attn["b"]
        qkv_heads = [np.split(part, n_head, axis=-1) for part in np.split(x, 3, axis=-1)]
        causal_mask = (1 - np.tri(x.shape[0], dtype=x.dtype)) * -1e10
        out_heads = [
            softmax(q @ k.T / np.sqrt(q.shape[-1]) + causal_mask) @ v for q, k, v in zip(*qkv_heads)
        ]
        return np.hstack(out_heads) @ c_proj["w"] + c_proj["b"]

    x = x + mha(layer_norm(x, **ln_1), **attn, n_head=n_head)
    h = gelu(layer_norm(x, **ln_2) @ mlp["c_fc"]["w"] + mlp["c_fc"]["b"])
    x = x + h @ mlp["c_proj"]["w"] + mlp["c_proj"]["b"]
    return x


def picogpt_loss(params, inputs, targets, n_head=2):
    wte, wpe, blocks, ln_f = params["wte"], params["wpe"], params["blocks"], params["ln_f"]
    x = wte[inputs] + wpe[range(len(inputs))]
    for block in blocks:
        x = picogpt_block(x, **block, n_head=n_head)
    logits = layer_norm(x, **ln_f) @ wte.T
    logp = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(len(targets)), targets])


def gpt_params(V, C, T, n_layer):
    def lin(i, o):
        return {"w": 0.3 * rn(i, o), "b": 0.05 * rn(o)}

    def ln():
        return {"g": 1 + 0.1 * rn(C), "b": 0.1 * rn(C)}

    blocks = [
        {
            "mlp": {"c_fc": lin(C, 2 * C), "c_proj": lin(2 * C, C)},
            "attn": {"c_attn": lin(C, 3 * C), "c_proj": lin(C, C)},
            "ln_1": ln(),
            "ln_2": ln(),
        }
        for _ in range(n_layer)
    ]
    return {"wte": 0.5 * rn(V, C), "wpe": 0.1 * rn(T, C), "blocks": blocks, "ln_f": ln()}


def positional_encoding(T, d):
    pos = np.arange(T)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / np.power(10000, (2 * (i // 2)) / d)
    pe = np.zeros((T, d))
    pe[:, 0::2] = np.sin(angle[:, 0::2])
    pe[:, 1::2] = np.cos(angle[:, 1::2])
    return pe


def transformer_encoder_layer(Wq, Wk, Wv, emb, tokens):
    x = emb[tokens] * np.sqrt(emb.shape[1]) + positional_encoding(len(tokens), emb.shape[1])
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    a = softmax(q @ k.T / np.sqrt(k.shape[-1]))
    return np.sum(np.tanh(a @ v))


def additive_attention(p, enc_states, dec_h):
    # Bahdanau: score = v . tanh(W1 h_enc + W2 h_dec)
    scores = np.array([p["v"] @ np.tanh(p["W1"] @ h + p["W2"] @ dec_h) for h in enc_states])
    alphas = np.exp(scores) / np.exp(scores).sum()
    context = sum(a * h for a, h in zip(alphas, enc_states))
    return np.sum(context**2)


TOKENS = np.array([1, 3, 0, 2])
CASES = [
    Case(
        "min_char_rnn",
        lossFun,
        (char_rnn_params(), [0, 1, 2, 3, 1], [1, 2, 3, 1, 0], 0.2 * rn(hidden_size, 1)),
        order=2,
    ),
    Case(
        "min_char_rnn_unpacked",
        lossFun_unpacked,
        (*char_rnn_params().values(), [2, 0, 1], [0, 1, 3], np.zeros((hidden_size, 1))),
        wrt=(0, 1, 2, 3, 4),
    ),
    Case(
        "min_char_rnn_hprev",
        lossFun,
        (char_rnn_params(), [0, 1, 2], [1, 2, 3], 0.2 * rn(hidden_size, 1)),
        wrt=3,
        order=2,
    ),
    Case(
        "min_char_lstm",
        lstm_lossFun,
        (lstm_params(), [0, 1, 2, 3], [2, 3], 0.1 * rn(hidden_size, 1), 0.1 * rn(hidden_size, 1)),
        order=2,
    ),
    Case(
        "captioning_rnn",
        captioning_loss,
        (captioning_params(3, 4, 5, 6), rn(2, 3), np.array([[1, 4, 2, 0], [1, 3, 5, 2]])),
    ),
    Case(
        "seq2seq_teacher_forcing",
        seq2seq_teacher_forcing,
        (s2s_params(3, 4, 5), rn(3, 3), [1, 4, 2]),
        order=2,
    ),
    Case(
        "seq2seq_free_running",
        seq2seq_teacher_forcing,
        (s2s_params(3, 4, 5), rn(3, 3), [1, 4, 2], False),
        order=2,
    ),
    Case(
        "causal_attention_triu_setitem",
        causal_self_attention,
        (rn(4, 4), rn(4, 4), rn(4, 4), rn(3, 4)),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "causal_attention_tril_where",
        causal_attention_tril,
        (0.5 * rn(4, 12), rn(5, 4)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "attention_additive_mask",
        attention_mask_added,
        (rn(4, 3), rn(4, 3), rn(4, 4)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "multi_head_attention_reshapes",
        multi_head_attention,
        ({"c_attn": 0.4 * rn(4, 12), "c_proj": 0.4 * rn(4, 4)}, rn(2, 3, 4)),
        order=2,
    ),
    Case("picogpt", picogpt_loss, (gpt_params(5, 4, 4, 2), TOKENS, np.array([3, 0, 2, 4]))),
    Case(
        "transformer_encoder_sinusoidal",
        transformer_encoder_layer,
        (0.5 * rn(4, 4), 0.5 * rn(4, 4), 0.5 * rn(4, 4), 0.5 * rn(5, 4), TOKENS),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case(
        "bahdanau_attention",
        additive_attention,
        ({"v": rn(3), "W1": rn(3, 4), "W2": rn(3, 4)}, rn(3, 4), rn(4)),
        wrt=(0, 1, 2),
        order=2,
    ),
]


REGRESSIONS = [
    Case(
        "item_read_then_new_item",
        item_read_then_new_item,
        (0.5 * rn(3, 3), rn(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "list_item_read_then_new_item",
        list_item_read_then_new_item,
        (0.5 * rn(3, 3), rn(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "one_hot_item_of_item", one_hot_item_of_item, (0.5 * rn(3, 3), rn(3)), wrt=(0, 1), order=2
    ),
    Case(
        "nested_items_written", nested_items_written, (0.5 * rn(3, 3), rn(3)), wrt=(0, 1), order=2
    ),
    Case(
        "item_shared_with_a_name",
        item_shared_with_a_name,
        (rn(3, 3), rn(3)),
        refused=(sg.UnsupportedSyntaxError, "explicit copy"),
    ),
    Case(
        "item_read_out_before",
        item_read_out_before,
        (rn(3, 3), rn(3)),
        order=2,
    ),
    Case(
        "item_updated_after_read",
        item_updated_after_read,
        (rn(3, 3), rn(3)),
        order=2,
    ),
    Case(
        "item_of_a_tuple",
        item_of_a_tuple,
        (rn(3),),
        refused=(sg.UnsupportedSyntaxError, "make `t` a list"),
    ),
]


@pytest.mark.parametrize("case", params(REGRESSIONS))
def test_items_of_containers_written_into(case):
    check(case)


@pytest.mark.parametrize("case", params(CASES))
def test_sequence_programs(case):
    check(case)
