"""Programs as students write them for CS231n's first two assignments, in NumPy: the SVM and
softmax losses with nested loops over samples and classes (``if j == y[i]: continue``, ``if
margin > 0``), their vectorized forms, affine / ReLU / batch-norm / layer-norm / dropout with a
fixed mask written as forward passes, a two-layer net with a ``reg`` term, a naive convolution
with four nested loops over a padded input, max-pooling with loops and ``np.max`` of a window,
spatial batch-norm by transposes and reshapes. Each against Python's value and central
differences on calls 1-3 (the optimized code runs from the second call), and the HVP where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(231)


def rn(*shape):
    return R.standard_normal(shape)


N, D, C = 5, 4, 3
X = rn(N, D)
Y = np.array([0, 2, 1, 1, 0])
W0 = 0.5 * rn(D, C)


# ---------------------------------------------------------------- linear classifiers


def svm_loss_naive(W, X, y, reg):
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
    loss /= num_train
    loss += reg * np.sum(W * W)
    return loss


def svm_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    scores = X.dot(W)
    correct_class_scores = scores[np.arange(num_train), y].reshape(-1, 1)
    margins = np.maximum(0, scores - correct_class_scores + 1)
    margins[np.arange(num_train), y] = 0
    loss = np.sum(margins) / num_train
    loss += reg * np.sum(W * W)
    return loss


def softmax_loss_naive(W, X, y, reg):
    loss = 0.0
    num_train = X.shape[0]
    num_classes = W.shape[1]
    for i in range(num_train):
        f = X[i].dot(W)
        f -= np.max(f)  # numeric stability
        sum_j = 0.0
        for j in range(num_classes):
            sum_j += np.exp(f[j])
        p = np.exp(f[y[i]]) / sum_j
        loss += -np.log(p)
    loss /= num_train
    loss += 0.5 * reg * np.sum(W * W)
    return loss


def softmax_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    f = X.dot(W)
    f -= np.max(f, axis=1, keepdims=True)
    sum_f = np.sum(np.exp(f), axis=1, keepdims=True)
    p = np.exp(f) / sum_f
    loss = np.sum(-np.log(p[np.arange(num_train), y]))
    loss /= num_train
    loss += 0.5 * reg * np.sum(W * W)
    return loss


def softmax_loss_onehot(W, X, y, reg):
    scores = X @ W
    scores = scores - scores.max(axis=1)[:, np.newaxis]
    probs = np.exp(scores) / np.exp(scores).sum(axis=1)[:, np.newaxis]
    onehot = np.zeros_like(probs)
    onehot[range(len(y)), y] = 1
    data_loss = -np.sum(onehot * np.log(probs)) / X.shape[0]
    return data_loss + reg * (W**2).sum()


# ---------------------------------------------------------------- layers, forward only


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def relu_forward(x):
    out = np.maximum(0, x)
    return out, x


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    return out, cache


def two_layer_net_loss(params, X, y, reg=0.05):
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    h1, _ = affine_relu_forward(X, W1, b1)
    scores, _ = affine_forward(h1, W2, b2)
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = X.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    return loss


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
    elif mode == "test":
        x_hat = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
        out = gamma * x_hat + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)  # noqa: UP031
    return out, None


def batchnorm_loss(gamma, beta, x, dout, mode):
    bn_param = {"mode": mode, "running_mean": np.zeros(x.shape[1]), "running_var": np.ones(4)}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    return np.sum(out * dout)


def batchnorm_staged(x, gamma, beta, eps=1e-5):
    # the step-by-step computational graph students draw for the backward pass
    N, D = x.shape
    mu = 1.0 / N * np.sum(x, axis=0)
    xmu = x - mu
    sq = xmu**2
    var = 1.0 / N * np.sum(sq, axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    gammax = gamma * xhat
    out = gammax + beta
    return np.sum(np.tanh(out))


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    x_t = x.T
    mean = x_t.mean(axis=0)
    var = x_t.var(axis=0)
    x_hat = ((x_t - mean) / np.sqrt(var + eps)).T
    return gamma * x_hat + beta


def layernorm_loss(x, gamma, beta):
    out = layernorm_forward(x, gamma, beta, {})
    return np.sum(out**3) / x.shape[0]


def dropout_forward(x, dropout_param, mask_draw):
    p, mode = dropout_param["p"], dropout_param["mode"]
    out = None
    if mode == "train":
        mask = (mask_draw < p) / p
        out = x * mask
    elif mode == "test":
        out = x
    out = out.astype(x.dtype, copy=False)
    return out


def dropout_net(W, x, draw):
    h = np.tanh(x @ W)
    h = dropout_forward(h, {"p": 0.5, "mode": "train"}, draw)
    return np.sum(h**2)


def fc_net_loss(params, X, y, num_layers=3, reg=0.01, use_batchnorm=True):
    # FullyConnectedNet.loss: string keys built from the layer number
    out = X
    for i in range(num_layers - 1):
        W, b = params["W" + str(i + 1)], params["b" + str(i + 1)]
        out = out @ W + b
        if use_batchnorm:
            gamma, beta = params["gamma" + str(i + 1)], params["beta" + str(i + 1)]
            mu = out.mean(axis=0)
            var = out.var(axis=0)
            out = gamma * (out - mu) / np.sqrt(var + 1e-5) + beta
        out = np.maximum(out, 0)
    W, b = params["W%d" % num_layers], params["b%d" % num_layers]  # noqa: UP031
    scores = out @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    loss = -np.mean(scores[np.arange(len(y)), y] - np.log(np.exp(scores).sum(axis=1)))
    for i in range(num_layers):
        loss += 0.5 * reg * np.sum(params["W{}".format(i + 1)] ** 2)  # noqa: UP032
    return loss


def fc_params(dims):
    p = {}
    for i in range(len(dims) - 1):
        p["W" + str(i + 1)] = 0.5 * rn(dims[i], dims[i + 1])
        p["b" + str(i + 1)] = 0.1 * rn(dims[i + 1])
        if i < len(dims) - 2:
            p["gamma" + str(i + 1)] = 1.0 + 0.1 * rn(dims[i + 1])
            p["beta" + str(i + 1)] = 0.1 * rn(dims[i + 1])
    return p


# ---------------------------------------------------------------- convolutions and pooling


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, H_out, W_out))
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


def conv_loss(w, b, x, dout):
    out = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    return np.sum(out * dout)


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = int(1 + (H - ph) / stride)
    W_out = int(1 + (W - pw) / stride)
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(
                        x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw]
                    )
    return out


def pool_loss(x, dout):
    out = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    return np.sum(out * dout)


def conv_relu_pool_loss(w, b, x, dout):
    a = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    s = np.maximum(a, 0)
    out = max_pool_forward_naive(s, {"pool_height": 2, "pool_width": 2, "stride": 2})
    return np.sum(out * dout)


def spatial_batchnorm_loss(x, gamma, beta, dout):
    N, C, H, W = x.shape
    x_flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    mu = x_flat.mean(axis=0)
    var = x_flat.var(axis=0)
    out_flat = gamma * (x_flat - mu) / np.sqrt(var + 1e-5) + beta
    out = out_flat.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return np.sum(out * dout)


def im2col_conv(w, x):
    # the "fast" layer: gather patches with a loop into a matrix, then one matmul
    N, C, H, W = x.shape
    F, _, k, _ = w.shape
    Ho, Wo = H - k + 1, W - k + 1
    cols = np.zeros((N * Ho * Wo, C * k * k))
    row = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                cols[row, :] = x[n, :, i : i + k, j : j + k].ravel()
                row += 1
    out = cols @ w.reshape(F, -1).T
    out = out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    return np.sum(np.tanh(out))


XC = rn(2, 2, 4, 4)
WC = 0.5 * rn(3, 2, 3, 3)
BC = 0.1 * rn(3)

CASES = [
    Case("svm_loss_naive", svm_loss_naive, (W0, X, Y, 0.1)),
    Case("svm_loss_vectorized", svm_loss_vectorized, (W0, X, Y, 0.1)),
    Case("softmax_loss_naive", softmax_loss_naive, (W0, X, Y, 0.1), order=2),
    Case("softmax_loss_vectorized", softmax_loss_vectorized, (W0, X, Y, 0.1), order=2),
    Case("softmax_loss_onehot", softmax_loss_onehot, (W0, X, Y, 0.1), order=2),
    Case(
        "two_layer_net",
        two_layer_net_loss,
        ({"W1": 0.5 * rn(D, 6), "b1": 0.1 * rn(6), "W2": 0.5 * rn(6, C), "b2": 0.1 * rn(C)}, X, Y),
    ),
    Case(
        "batchnorm_train",
        batchnorm_loss,
        (1 + rn(4), rn(4), X, rn(N, 4), "train"),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "batchnorm_test",
        batchnorm_loss,
        (1 + rn(4), rn(4), X, rn(N, 4), "test"),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("batchnorm_staged", batchnorm_staged, (X, 1 + rn(4), rn(4)), wrt=(0, 1, 2), order=2),
    Case("layernorm", layernorm_loss, (X, 1 + rn(4), rn(4)), wrt=(0, 1, 2), order=2),
    Case("dropout_fixed_mask", dropout_net, (rn(D, 6), X, R.random((N, 6)))),
    Case("fc_net_batchnorm", fc_net_loss, (fc_params([D, 5, 5, C]), X, Y)),
    Case("conv_naive", conv_loss, (WC, BC, XC, rn(2, 3, 4, 4)), wrt=(0, 1, 2)),
    Case("max_pool_naive", pool_loss, (XC, rn(2, 2, 2, 2))),
    Case("conv_relu_pool", conv_relu_pool_loss, (WC, BC, XC, rn(2, 3, 2, 2)), wrt=(0, 1)),
    Case(
        "spatial_batchnorm",
        spatial_batchnorm_loss,
        (XC, 1 + rn(2), rn(2), rn(2, 2, 4, 4)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("im2col_conv", im2col_conv, (WC, XC), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_cs231n_programs(case):
    check(case)
