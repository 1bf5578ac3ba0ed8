"""Training objectives of today's models written the way tutorials write them in NumPy:
a DDPM noise-prediction loss indexing a schedule array by per-sample timesteps, flow
matching (rectified flow) along straight paths, the CLIP/InfoNCE symmetric loss, word2vec
skip-gram with negative sampling by embedding gathers, matrix factorisation with user/item
lookups and biases, normalizing flows (planar with the invertibility reparametrisation,
RealNVP affine coupling with masks and log-determinant), and a mixture density network's
negative log-likelihood. Each against Python's value and central differences on calls
1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, numerical, params

R = np.random.default_rng(9120)


def r(*s):
    return R.standard_normal(s)


def softplus(x):
    return np.logaddexp(0.0, x)


def log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


# ------------------------------------------------------------------ diffusion


N_STEPS = 10
BETAS = np.linspace(1e-2, 0.2, N_STEPS)
ALPHAS = 1.0 - BETAS
ALPHAS_CUMPROD = np.cumprod(ALPHAS)
SQRT_AB = np.sqrt(ALPHAS_CUMPROD)
SQRT_1MAB = np.sqrt(1.0 - ALPHAS_CUMPROD)

X0 = r(6, 3)
NOISE = r(6, 3)
TSTEP = np.array([0, 3, 9, 3, 5, 1])


def time_embedding(t, dim=4):
    half = dim // 2
    freqs = np.exp(-np.log(10000.0) * np.arange(half) / half)
    args = t[:, None] * freqs[None]
    return np.concatenate([np.sin(args), np.cos(args)], axis=-1)


def eps_model(params, x, t):
    h = np.concatenate([x, time_embedding(t)], axis=1)
    h = np.tanh(h @ params["W1"] + params["b1"])
    return h @ params["W2"]


def ddpm_loss(params, x0, t, noise):
    a = SQRT_AB[t][:, None]
    s = SQRT_1MAB[t][:, None]
    x_t = a * x0 + s * noise
    return np.mean((noise - eps_model(params, x_t, t)) ** 2)


def ddpm_extract_loss(params, x0, t, noise):
    def extract(arr, timesteps, shape):
        out = arr[timesteps]
        return out.reshape((len(timesteps),) + (1,) * (len(shape) - 1))

    x_t = extract(SQRT_AB, t, x0.shape) * x0 + extract(SQRT_1MAB, t, x0.shape) * noise
    pred = eps_model(params, x_t, t)
    weights = 1.0 / ALPHAS_CUMPROD[t]
    return np.mean(weights * np.sum((pred - noise) ** 2, axis=1))


def ddpm_schedule_wrt_betas(betas, x0, t, noise):
    abar = np.cumprod(1.0 - betas)
    x_t = np.sqrt(abar[t])[:, None] * x0 + np.sqrt(1.0 - abar[t])[:, None] * noise
    return np.sum(x_t**2)


EPS_P = {"W1": r(7, 8) * 0.3, "b1": np.zeros(8), "W2": r(8, 3) * 0.3}


def flow_matching_loss(params, x1, x0, t):
    t = t[:, None]
    xt = (1 - t) * x0 + t * x1
    target = x1 - x0
    h = np.tanh(np.concatenate([xt, t], axis=-1) @ params["W1"] + params["b1"])
    v = h @ params["W2"]
    return np.mean(np.sum((v - target) ** 2, axis=-1))


def flow_matching_sigma(params, x1, x0, t, sigma_min=1e-2):
    mu = t[:, None] * x1
    sigma = 1 - (1 - sigma_min) * t[:, None]
    xt = mu + sigma * x0
    u = x1 - (1 - sigma_min) * x0
    h = np.tanh(np.hstack([xt, t[:, None]]) @ params["W1"] + params["b1"])
    return np.mean((h @ params["W2"] - u) ** 2)


FM_P = {"W1": r(4, 8) * 0.3, "b1": np.zeros(8), "W2": r(8, 3) * 0.3}
TFM = np.array([0.1, 0.5, 0.9, 0.3, 0.7, 0.2])


# ------------------------------------------------------------------ contrastive


def clip_loss(params, images, texts, logit_scale):
    img = images @ params["W_img"]
    txt = texts @ params["W_txt"]
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    logits = np.exp(logit_scale) * img @ txt.T
    labels = np.arange(len(logits))
    loss_i = -log_softmax(logits, axis=1)[labels, labels].mean()
    loss_t = -log_softmax(logits, axis=0)[labels, labels].mean()
    return (loss_i + loss_t) / 2


def info_nce(z1, z2, temperature=0.5):
    z = np.concatenate([z1, z2], axis=0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    sim = z @ z.T / temperature
    n = z1.shape[0]
    sim = np.where(np.eye(2 * n, dtype=bool), -np.inf, sim)
    pos = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    return -np.mean(log_softmax(sim)[np.arange(2 * n), pos])


CLIP_P = {"W_img": r(5, 4) * 0.5, "W_txt": r(6, 4) * 0.5}


# ------------------------------------------------------------------ embeddings


def sgns_loss(emb, center, context, negatives):
    v = emb["in"][center]
    u_pos = emb["out"][context]
    u_neg = emb["out"][negatives]
    pos = np.sum(v * u_pos, axis=1)
    neg = np.einsum("bd,bkd->bk", v, u_neg)
    return -np.mean(-softplus(-pos) + np.sum(-softplus(neg), axis=1))


def sgns_loop(emb, pairs, negatives):
    total = 0.0
    for (c, o), negs in zip(pairs, negatives):
        v_c = emb["in"][c]
        total -= np.log(1 / (1 + np.exp(-emb["out"][o] @ v_c)))
        for k in negs:
            total -= np.log(1 / (1 + np.exp(emb["out"][k] @ v_c)))
    return total / len(pairs)


EMB = {"in": r(7, 3) * 0.5, "out": r(7, 3) * 0.5}
CENTER = np.array([0, 2, 2, 5])
CONTEXT = np.array([1, 3, 0, 6])
NEGS = np.array([[4, 5], [1, 1], [6, 3], [2, 0]])


def mf_loss(P, Q, users, items, ratings, lam=0.1):
    pred = np.sum(P[users] * Q[items], axis=1)
    err = ratings - pred
    return np.sum(err**2) + lam * (np.sum(P**2) + np.sum(Q**2))


@dataclasses.dataclass
class MF:
    user_emb: np.ndarray
    item_emb: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    mu: float


def mf_biased(model, users, items, ratings):
    pred = (
        model.mu
        + model.user_bias[users]
        + model.item_bias[items]
        + (model.user_emb[users] * model.item_emb[items]).sum(-1)
    )
    return np.mean((pred - ratings) ** 2) + 1e-2 * np.sum(model.user_emb**2)


USERS = np.array([0, 1, 1, 3, 2, 0])
ITEMS = np.array([2, 0, 4, 4, 1, 2])
RATINGS = np.array([4.0, 3.0, 5.0, 1.0, 2.0, 4.5])
MODEL = MF(r(4, 2), r(5, 2), r(4) * 0.1, r(5) * 0.1, 3.0)


# ------------------------------------------------------------------ flows


def planar_flow_nll(params, z):
    log_det = 0.0
    for u, w, b in zip(params["u"], params["w"], params["b"]):
        wu = w @ u
        u_hat = u + (-1 + softplus(wu) - wu) * w / np.sum(w**2)
        lin = z @ w + b
        z = z + np.outer(np.tanh(lin), u_hat)
        psi = (1 - np.tanh(lin) ** 2)[:, None] * w
        log_det = log_det + np.log(np.abs(1 + psi @ u_hat))
    log_base = -0.5 * np.sum(z**2, axis=1) - np.log(2 * np.pi)
    return -np.mean(log_base + log_det)


PLANAR = {"u": [r(2), r(2)], "w": [r(2), r(2)], "b": [0.1, -0.2]}


def coupling(x, mask, p):
    x_masked = x * mask
    h = np.tanh(x_masked @ p["W"] + p["b"])
    s = np.tanh(h @ p["Ws"]) * (1 - mask)
    t = (h @ p["Wt"]) * (1 - mask)
    y = x_masked + (1 - mask) * (x * np.exp(s) + t)
    return y, np.sum(s, axis=1)


def realnvp_nll(layers, x):
    masks = [np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0, 1.0])]
    log_det_total = np.zeros(x.shape[0])
    z = x
    for i, p in enumerate(layers):
        z, log_det = coupling(z, masks[i % 2], p)
        log_det_total += log_det
    log_pz = -0.5 * np.sum(z**2, axis=1) - 0.5 * z.shape[1] * np.log(2 * np.pi)
    return -np.mean(log_pz + log_det_total)


def coupling_params():
    return {"W": r(4, 5) * 0.4, "b": np.zeros(5), "Ws": r(5, 4) * 0.3, "Wt": r(5, 4) * 0.3}


NVP = [coupling_params(), coupling_params()]


def realnvp_split_halves(params, x):
    x1, x2 = x[:, :2], x[:, 2:]
    h = np.tanh(x1 @ params["W"])
    log_s, t = np.split(h @ params["V"], 2, axis=1)
    z2 = x2 * np.exp(log_s) + t
    z = np.concatenate([x1, z2], axis=1)
    return np.mean(0.5 * np.sum(z**2, axis=1) - np.sum(log_s, axis=1))


# ------------------------------------------------------------------ mixture density


def mdn_nll(params, x, y, n_comp=3):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    logits, mu, log_sigma = out[:, :n_comp], out[:, n_comp : 2 * n_comp], out[:, 2 * n_comp :]
    log_pi = log_softmax(logits)
    sigma = np.exp(log_sigma)
    log_norm = -0.5 * ((y[:, None] - mu) / sigma) ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)
    a = log_pi + log_norm
    m = a.max(axis=1, keepdims=True)
    return -np.mean(m.squeeze(1) + np.log(np.sum(np.exp(a - m), axis=1)))


MDN = {"W1": r(2, 6) * 0.5, "b1": np.zeros(6), "W2": r(6, 9) * 0.3, "b2": np.zeros(9)}


CASES = [
    Case("ddpm_schedule_index", ddpm_loss, (EPS_P, X0, TSTEP, NOISE), order=2),
    Case("ddpm_extract_reshape", ddpm_extract_loss, (EPS_P, X0, TSTEP, NOISE)),
    Case("ddpm_wrt_betas", ddpm_schedule_wrt_betas, (BETAS, X0, TSTEP, NOISE), order=2),
    Case("ddpm_wrt_x0", ddpm_loss, (EPS_P, X0, TSTEP, NOISE), wrt=1),
    Case("flow_matching_linear", flow_matching_loss, (FM_P, r(6, 3), r(6, 3), TFM), order=2),
    Case("flow_matching_sigma_min", flow_matching_sigma, (FM_P, r(6, 3), r(6, 3), TFM)),
    Case("clip_symmetric", clip_loss, (CLIP_P, r(4, 5), r(4, 6), np.log(1 / 0.07)), order=2),
    Case("clip_logit_scale", clip_loss, (CLIP_P, r(4, 5), r(4, 6), 1.3), wrt=3),
    Case("infonce_ntxent", info_nce, (r(3, 4), r(3, 4)), wrt=(0, 1)),
    Case("sgns_gathers", sgns_loss, (EMB, CENTER, CONTEXT, NEGS), order=2),
    Case("sgns_python_loop", sgns_loop, (EMB, list(zip(CENTER, CONTEXT)), NEGS.tolist())),
    Case("mf_lookup", mf_loss, (r(4, 2), r(5, 2), USERS, ITEMS, RATINGS), wrt=(0, 1)),
    Case("mf_biased_dataclass", mf_biased, (MODEL, USERS, ITEMS, RATINGS), order=2),
    Case("planar_flow", planar_flow_nll, (PLANAR, r(5, 2)), order=2),
    Case("realnvp_masks", realnvp_nll, (NVP, r(5, 4)), order=2),
    Case("realnvp_wrt_x", realnvp_nll, (NVP, r(5, 4)), wrt=1),
    Case("realnvp_split", realnvp_split_halves, ({"W": r(2, 3), "V": r(3, 4) * 0.3}, r(5, 4))),
    Case("mdn_logsumexp", mdn_nll, (MDN, r(5, 2), r(5)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_objective(case):
    check(case)


def keyword_keys(p, x):
    h = np.tanh(x @ p["in"] + p["lambda"])
    return np.sum((h @ p["out"]) ** 2) + p["None"] ** 2


KW = {"in": r(3, 3), "lambda": r(3), "out": r(3, 2), "None": 0.5}


@pytest.mark.parametrize("order", [1, 2])
def test_keys_that_are_keywords_export(order):
    """A dict key that is a Python keyword (``emb["in"]``) names its value ``in_`` in the
    exported module, which compiles and gives the value and gradient (order 1) or the Hessian-vector
    product (order 2) that sourcegrad gives."""
    x = r(2, 3)
    text = sg.export(keyword_keys, KW, x, order=order)
    assert 'in_ = p["in"]' in text
    module: dict = {}
    exec(compile(text, "exported", "exec"), module)
    if order == 1:  # (value, gradient)
        args, want = (KW, x), numerical(keyword_keys, (KW, x), 0)
    else:
        v = {k: np.ones_like(w) for k, w in KW.items()}
        args, want = (KW, x, v), sg.hvp(keyword_keys)(KW, x, v)
    for _ in range(3):
        got = module["d_keyword_keys"](*args)
        if order == 1:
            np.testing.assert_allclose(got[0], keyword_keys(KW, x), rtol=1e-12)
            got = got[1]
        for k in KW:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
