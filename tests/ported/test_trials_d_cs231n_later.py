"""The later cs231n assignments, written as there with NumPy for ``torch``: style transfer's
content loss, Gram matrix (``features.reshape(C, H * W)``, ``normalize=True``), style loss
over a list of layers with ``enumerate``, total variation loss by shifted slices; the GAN
notebook's numerically stable ``bce_loss`` and the discriminator, generator and least
squares losses; SimCLR's NT-Xent loss (the naive loop over ``k`` with ``sim(z_k, z_k+N)``,
and the vectorized one masking ``np.eye`` out of an exponentiated similarity matrix);
the transformer's multi-head attention (split heads by ``reshape``/``transpose``, a causal
mask filled with ``-inf`` by ``np.where``), its sinusoidal positional encoding written into
slices ``pe[:, 0::2]``, and fast max pooling by a 6-D reshape. Each against Python's value
and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(7106)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ style transfer


def content_loss(content_weight, content_current, content_original):
    return content_weight * np.sum((content_current - content_original) ** 2)


def gram_matrix(features, normalize=True):
    N, C, H, W = features.shape
    features = features.reshape(N, C, H * W)
    gram = features @ features.transpose(0, 2, 1)
    if normalize:
        gram /= H * W * C
    return gram


def style_loss(feats, style_layers, style_targets, style_weights):
    loss = 0
    for i, layer in enumerate(style_layers):
        gram = gram_matrix(feats[layer])
        loss += style_weights[i] * np.sum((gram - style_targets[i]) ** 2)
    return loss


def tv_loss(img, tv_weight):
    h_var = np.sum((img[:, :, 1:, :] - img[:, :, :-1, :]) ** 2)
    w_var = np.sum((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2)
    return tv_weight * (h_var + w_var)


def style_transfer_objective(img, feats, content_target, style_targets):
    c_loss = content_loss(5e-2, feats[1], content_target)
    s_loss = style_loss(feats, [0, 2], style_targets, [2.0, 0.5])
    return c_loss + s_loss + tv_loss(img, 1e-2)


# ------------------------------------------------------------------ GANs


def bce_loss(input, target):
    neg_abs = -np.abs(input)
    loss = np.clip(input, 0, None) - input * target + np.log(1 + np.exp(neg_abs))
    return loss.mean()


def discriminator_loss(logits_real, logits_fake):
    true_labels = np.ones_like(logits_real)
    loss = bce_loss(logits_real, true_labels) + bce_loss(logits_fake, 1 - true_labels)
    return loss


def generator_loss(logits_fake):
    return bce_loss(logits_fake, np.ones_like(logits_fake))


def ls_discriminator_loss(scores_real, scores_fake):
    return 0.5 * np.mean((scores_real - 1) ** 2) + 0.5 * np.mean(scores_fake**2)


def gan_losses(logits_real, logits_fake):
    return (
        discriminator_loss(logits_real, logits_fake)
        + generator_loss(logits_fake)
        + ls_discriminator_loss(logits_real, logits_fake)
    )


# ------------------------------------------------------------------ SimCLR


def sim(z_i, z_j):
    """Normalized dot product between two vectors."""
    norm_dot_product = np.dot(z_i, z_j) / (np.linalg.norm(z_i) * np.linalg.norm(z_j))
    return norm_dot_product


def simclr_loss_naive(out_left, out_right, tau):
    N = out_left.shape[0]  # total number of training examples
    # Concatenate out_left and out_right into a 2*N x D tensor.
    out = np.concatenate([out_left, out_right], axis=0)  # [2*N, D]
    total_loss = 0
    for k in range(N):  # loop through each positive pair (k, k+N)
        z_k, z_k_N = out[k], out[k + N]
        denom_k = 0.0
        denom_k_N = 0.0
        for i in range(2 * N):
            if i != k:
                denom_k += np.exp(sim(z_k, out[i]) / tau)
            if i != k + N:
                denom_k_N += np.exp(sim(z_k_N, out[i]) / tau)
        numer = np.exp(sim(z_k, z_k_N) / tau)
        total_loss += -np.log(numer / denom_k) - np.log(numer / denom_k_N)
    # In the end, we need to divide the total loss by 2N, the number of samples in the batch.
    total_loss = total_loss / (2 * N)
    return total_loss


def sim_positive_pairs(out_left, out_right):
    left = out_left / np.linalg.norm(out_left, axis=1, keepdims=True)
    right = out_right / np.linalg.norm(out_right, axis=1, keepdims=True)
    pos_pairs = np.sum(left * right, axis=1, keepdims=True)
    return pos_pairs


def compute_sim_matrix(out):
    out_norm = out / np.linalg.norm(out, axis=1, keepdims=True)
    sim_matrix = out_norm @ out_norm.T
    return sim_matrix


def simclr_loss_vectorized(out_left, out_right, tau):
    N = out_left.shape[0]
    out = np.concatenate([out_left, out_right], axis=0)  # [2*N, D]
    sim_matrix = compute_sim_matrix(out)  # [2*N, 2*N]
    exponential = np.exp(sim_matrix / tau)
    mask = ~np.eye(2 * N, dtype=bool)
    exponential = exponential[mask].reshape(2 * N, -1)  # [2*N, 2*N-1]
    denom = np.sum(exponential, axis=1, keepdims=True)
    sim_pairs = sim_positive_pairs(out_left, out_right)
    sim_pairs = np.concatenate([sim_pairs, sim_pairs], axis=0)
    numerator = np.exp(sim_pairs / tau)
    loss = np.mean(-np.log(numerator / denom))
    return loss


# ------------------------------------------------------------------ transformer


def positional_encoding(embed_dim, max_len=5000):
    pe = np.zeros((1, max_len, embed_dim))
    i = np.arange(0, max_len)[:, None]
    pows = np.power(10000, -np.arange(0, embed_dim, 2) / embed_dim)
    pe[0, :, 0::2] = np.sin(i * pows)
    pe[0, :, 1::2] = np.cos(i * pows)
    return pe


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def multi_head_attention(params, query, key, value, attn_mask=None, n_head=2):
    N, S, E = query.shape
    N, T, E = value.shape
    H = n_head
    Q = (query @ params["Wq"] + params["bq"]).reshape(N, S, H, E // H).transpose(0, 2, 1, 3)
    K = (key @ params["Wk"] + params["bk"]).reshape(N, T, H, E // H).transpose(0, 2, 1, 3)
    V = (value @ params["Wv"] + params["bv"]).reshape(N, T, H, E // H).transpose(0, 2, 1, 3)
    scores = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(E / H)
    if attn_mask is not None:
        scores = np.where(attn_mask == 0, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    attn = np.exp(scores)
    attn = attn / attn.sum(axis=-1, keepdims=True)
    Y = (attn @ V).transpose(0, 2, 1, 3).reshape(N, S, E)
    return Y @ params["Wo"] + params["bo"]


def captioning_transformer_loss(params, features, captions):
    N, T = captions.shape
    E = params["W_embed"].shape[1]
    x = params["W_embed"][captions] + positional_encoding(E, max_len=8)[:, :T]
    memory = (features @ params["W_proj"])[:, None, :]
    tgt_mask = np.tril(np.ones((T, T)))
    h = layer_norm(x + multi_head_attention(params, x, x, x, tgt_mask), 1.0, 0.0)
    h = layer_norm(h + multi_head_attention(params, h, memory, memory), 1.0, 0.0)
    scores = h @ params["W_out"]
    shifted = scores - scores.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.mean(np.take_along_axis(log_probs[:, :-1], captions[:, 1:, None], -1))


def attention_params(E=4, V=5, D=3):
    p = {f"W{k}": 0.5 * r(E, E) for k in "qkvo"}
    p.update({f"b{k}": 0.1 * r(E) for k in "qkvo"})
    p.update(W_embed=0.5 * r(V, E), W_proj=0.5 * r(D, E), W_out=0.5 * r(E, V))
    return p


def max_pool_forward_reshape(x, pool_param):
    N, C, H, W = x.shape
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    x_reshaped = x.reshape(N, C, H // pool_height, pool_height, W // pool_width, pool_width)
    out = x_reshaped.max(axis=3).max(axis=4)
    cache = (x, x_reshaped, out)
    return out, cache


def fast_pool_loss(x):
    out, _ = max_pool_forward_reshape(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    return np.sum(out**2)


CASES = [
    Case(
        "style_transfer_gram_tv",
        style_transfer_objective,
        (
            r(1, 3, 4, 4),
            [r(1, 2, 3, 3), r(1, 3, 2, 2), r(1, 2, 2, 2)],
            r(1, 3, 2, 2),
            [r(1, 2, 2), r(1, 2, 2)],
        ),
        wrt=(0, 1),
        order=2,
    ),
    Case("gan_bce_ls_losses", gan_losses, (r(4, 1), r(4, 1)), wrt=(0, 1), order=2),
    Case("simclr_naive_loops", simclr_loss_naive, (r(3, 4), r(3, 4), 0.5), wrt=(0, 1), order=2),
    Case(
        "simclr_vectorized_eye_mask",
        simclr_loss_vectorized,
        (r(3, 4), r(3, 4), 0.5),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "transformer_captioning_causal_mask",
        captioning_transformer_loss,
        (attention_params(), r(2, 3), np.array([[1, 3, 2, 0], [1, 4, 4, 2]])),
        order=2,
    ),
    Case("max_pool_fast_reshape", fast_pool_loss, (r(2, 2, 4, 4),), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_cs231n_later(case):
    check(case)
