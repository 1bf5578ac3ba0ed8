# ruff: noqa: UP031  (cs231n names its parameters with "W%d" % i)
"""cs231n assignment layers as the assignments write them (layers.py, rnn_layers.py,
cnn_layers): forward functions returning ``(out, cache)`` tuples whose cache the loss drops,
the numerically stable sigmoid that fills ``np.zeros_like`` through boolean masks, RNN and
LSTM forward passes writing each step into a preallocated ``(N, T, H)`` array, word
embeddings indexed by an integer matrix, the temporal softmax loss with its mask, naive
convolution over ``np.pad``-ded input and max pooling by windows, spatial batch norm through
transposes, the SVM loss with ``margins[np.arange(N), y] = 0``. Each against Python's value
and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(7101)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ rnn_layers.py


def sigmoid(x):
    """A numerically stable version of the logistic sigmoid function."""
    pos_mask = x >= 0
    neg_mask = x < 0
    z = np.zeros_like(x)
    z[pos_mask] = np.exp(-x[pos_mask])
    z[neg_mask] = np.exp(x[neg_mask])
    top = np.ones_like(x)
    top[neg_mask] = z[neg_mask]
    return top / (1 + z)


def stable_sigmoid_loss(x):
    return np.sum(sigmoid(x) ** 2)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    cache = []
    prev_h = h0
    for t in range(T):
        next_h, cache_t = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = next_h
        cache.append(cache_t)
        prev_h = next_h
    return h, cache


def rnn_loss(x, h0, Wx, Wh, b):
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    return np.sum(h * np.arange(h.size).reshape(h.shape) / h.size)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    _, H = prev_h.shape
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    ai, af, ao, ag = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
    i = sigmoid(ai)
    f = sigmoid(af)
    o = sigmoid(ao)
    g = np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, a, i, f, o, g, next_c, next_h)
    return next_h, next_c, cache


def lstm_forward(x, h0, Wx, Wh, b):
    h, cache = None, None
    N, T, D = x.shape
    _, H = h0.shape
    h = np.zeros((N, T, H))
    prev_h = h0
    prev_c = np.zeros_like(h0)
    cache = {}
    for t in range(T):
        prev_h, prev_c, cache[t] = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
    return h, cache


def lstm_loss(x, h0, Wx, Wh, b):
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    return np.sum(np.cos(h)) + 0.0 * len(cache)


def word_embedding_forward(x, W):
    out = W[x]
    cache = x, W
    return out, cache


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    M = b.shape[0]
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    cache = x, w, b, out
    return out, cache


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    if verbose:
        print("probs: ", probs.shape)
    return loss


def captioning_forward(features, W_proj, b_proj, W_embed, Wx, Wh, b, W_vocab, b_vocab, captions):
    captions_in = captions[:, :-1]
    captions_out = captions[:, 1:]
    mask = captions_out != 0
    h0 = features.dot(W_proj) + b_proj
    x, _ = word_embedding_forward(captions_in, W_embed)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    scores, _ = temporal_affine_forward(h, W_vocab, b_vocab)
    return temporal_softmax_loss(scores, captions_out, mask)


def caption_loss(params, features, captions):
    return captioning_forward(
        features,
        params["W_proj"],
        params["b_proj"],
        params["W_embed"],
        params["Wx"],
        params["Wh"],
        params["b"],
        params["W_vocab"],
        params["b_vocab"],
        captions,
    )


# ------------------------------------------------------------------ layers.py


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def relu_forward(x):
    out = x.copy()
    out[out < 0] = 0
    cache = x
    return out, cache


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    return loss


def softmax_loss(x, y):
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    return loss + 0.0 * probs.sum()


def two_layer_svm(w1, b1, w2, b2, X, y):
    h, _ = affine_forward(X, w1, b1)
    a, _ = relu_forward(h)
    scores, _ = affine_forward(a, w2, b2)
    return svm_loss(scores, y)


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    out = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    elif mode == "test":
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_loss(x):
    out, _ = dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 123})
    out_test, _ = dropout_forward(x, {"p": 0.6, "mode": "test"})
    return np.sum(out**2) + np.sum(np.sin(out_test))


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        sample_mean = x.mean(axis=0)
        sample_var = x.var(axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
        cache = (x, x_hat, sample_mean, sample_var, gamma, eps)
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    return out, cache


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_flat, cache = batchnorm_forward(x_flat, gamma, beta, bn_param)
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_bn_loss(x, gamma, beta):
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return np.sum(out**3)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    x_group = np.reshape(x, (N, G, C // G, H, W))
    mean = np.mean(x_group, axis=(2, 3, 4), keepdims=True)
    var = np.var(x_group, axis=(2, 3, 4), keepdims=True)
    x_groupnorm = (x_group - mean) / np.sqrt(var + eps)
    x_norm = np.reshape(x_groupnorm, (N, C, H, W))
    out = x_norm * gamma + beta
    cache = (G, x, x_norm, mean, var, gamma, beta, eps)
    return out, cache


def groupnorm_loss(x, gamma, beta):
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    return np.sum(out * np.linspace(-1, 1, out.size).reshape(out.shape) ** 2)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    pool_height = pool_param["pool_height"]
    pool_width = pool_param["pool_width"]
    stride = pool_param["stride"]
    H_out = 1 + (H - pool_height) // stride
    W_out = 1 + (W - pool_width) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            h_start, w_start = i * stride, j * stride
            window = x[:, :, h_start : h_start + pool_height, w_start : w_start + pool_width]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    cache = (x, pool_param)
    return out, cache


def conv_pool_loss(x, w, b):
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    pooled, _ = max_pool_forward_naive(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
    return np.sum(pooled**2)


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    a, fc_cache = affine_forward(x, w, b)
    a_bn, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_bn)
    cache = (fc_cache, bn_cache, relu_cache)
    return out, cache


def fc_net_bn_loss(params, X, y, num_layers=3):
    h = X
    for i in range(1, num_layers):
        h, _ = affine_bn_relu_forward(
            h,
            params["W%d" % i],
            params["b%d" % i],
            params["gamma%d" % i],
            params["beta%d" % i],
            {"mode": "train"},
        )
    scores, _ = affine_forward(h, params["W%d" % num_layers], params["b%d" % num_layers])
    data_loss = softmax_loss(scores, y)
    reg = 0.05
    reg_loss = 0.0
    for i in range(1, num_layers + 1):
        reg_loss += 0.5 * reg * np.sum(params["W%d" % i] ** 2)
    return data_loss + reg_loss


def fc_bn_params():
    dims = [5, 4, 4, 3]
    p = {}
    for i in range(1, 4):
        p["W%d" % i] = 0.5 * r(dims[i - 1], dims[i])
        p["b%d" % i] = 0.1 * r(dims[i])
        if i < 3:
            p["gamma%d" % i] = 1.0 + 0.1 * r(dims[i])
            p["beta%d" % i] = 0.1 * r(dims[i])
    return p


CAP = dict(
    W_proj=0.3 * r(4, 3),
    b_proj=0.1 * r(3),
    W_embed=0.5 * r(5, 2),
    Wx=0.5 * r(2, 3),
    Wh=0.5 * r(3, 3),
    b=0.1 * r(3),
    W_vocab=0.5 * r(3, 5),
    b_vocab=0.1 * r(5),
)

CASES = [
    Case("stable_sigmoid_masks", stable_sigmoid_loss, (r(3, 4),), order=2),
    Case(
        "rnn_forward_preallocated",
        rnn_loss,
        (r(2, 3, 4), r(2, 3), 0.5 * r(4, 3), 0.5 * r(3, 3), 0.1 * r(3)),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "lstm_forward_cache_dict",
        lstm_loss,
        (r(2, 3, 3), r(2, 2), 0.5 * r(3, 8), 0.5 * r(2, 8), 0.1 * r(8)),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "captioning_temporal_softmax",
        caption_loss,
        (CAP, r(2, 4), np.array([[1, 3, 2, 0], [1, 4, 0, 0]])),
        order=2,
    ),
    Case(
        "two_layer_svm_relu_copy",
        two_layer_svm,
        (r(3, 4), 0.1 * r(4), r(4, 3), 0.1 * r(3), r(5, 3), np.array([0, 2, 1, 1, 0])),
        wrt=(0, 1, 2, 3),
    ),
    Case("dropout_seeded_train_and_test", dropout_loss, (r(3, 4),), order=2),
    Case(
        "spatial_batchnorm_transpose",
        spatial_bn_loss,
        (r(2, 3, 2, 2), 1 + 0.1 * r(3), 0.1 * r(3)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "spatial_groupnorm",
        groupnorm_loss,
        (r(2, 4, 2, 2), 1 + 0.1 * r(1, 4, 1, 1), 0.1 * r(1, 4, 1, 1)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "conv_pad_then_max_pool",
        conv_pool_loss,
        (r(1, 2, 4, 4), 0.5 * r(2, 2, 3, 3), 0.1 * r(2)),
        wrt=(0, 1, 2),
    ),
    Case(
        "fc_net_batchnorm_string_keys",
        fc_net_bn_loss,
        (fc_bn_params(), r(6, 5), [0, 1, 2, 0, 1, 2]),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_cs231n(case):
    check(case)
