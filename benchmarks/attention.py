"""A transformer block as a user writes it in plain NumPy, inline and with helper functions, and
its gradient by hand.

The block (pre-layer-norm, as in GPT-2): ``x1 = x + attention(ln1(x))``, ``out = x1 +
mlp(ln2(x1))``; multi-head self-attention with a causal mask (softmax over the keys of the
current and earlier positions only), GELU in its tanh form in the MLP (width 4C). The loss is
half the squared error of the block's output against a target, divided by the batch size.
Sizes: batch 16, sequence 64, width 128, 4 heads of 32.

* :func:`transformer_loss`: written inline, one function.
* :func:`transformer_helpers_loss`: the same operations through helper functions
  (``layer_norm``, ``attention``, ``gelu``, ``mlp``), the way a model is usually organised.
* :func:`transformer_hand`: loss and gradient by hand (the reference of the ratios), written
  with 2-D GEMMs over the flattened batch and batched ``matmul`` for the attention.
* :func:`torch_transformer`: the same loss in PyTorch eager (written out, not ``nn`` modules).
"""

from __future__ import annotations

import numpy as np

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    from harness import import_torch
except ImportError:  # pragma: no cover
    from .harness import import_torch

BATCH, SEQ, WIDTH, HEADS = 16, 64, 128, 4
EPS = 1e-5
GELU_C = 0.7978845608028654  # sqrt(2 / pi)
PARAM_NAMES = (
    "ln1_g", "ln1_b", "W_qkv", "b_qkv", "W_o", "b_o", "ln2_g", "ln2_b", "W_1", "b_1", "W_2", "b_2",
)  # fmt: skip


# =========================================================================== the losses
def transformer_loss(params, x, y):
    """One pre-LN transformer block over x (B, T, C), written inline; squared error against y."""
    B, T, C = x.shape
    nh = 4
    hd = C // nh
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    h = xc / np.sqrt(var + 1e-5) * params["ln1_g"] + params["ln1_b"]
    qkv = h @ params["W_qkv"] + params["b_qkv"]
    q = qkv[:, :, :C].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    k = qkv[:, :, C : 2 * C].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    v = qkv[:, :, 2 * C :].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    s = q @ np.swapaxes(k, -1, -2) / hd**0.5
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -1e9)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    a = e / np.sum(e, axis=-1, keepdims=True)
    o = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    x1 = x + o @ params["W_o"] + params["b_o"]
    mu2 = np.mean(x1, axis=-1, keepdims=True)
    xc2 = x1 - mu2
    var2 = np.mean(xc2 * xc2, axis=-1, keepdims=True)
    h2 = xc2 / np.sqrt(var2 + 1e-5) * params["ln2_g"] + params["ln2_b"]
    u = h2 @ params["W_1"] + params["b_1"]
    g = 0.5 * u * (1.0 + np.tanh(0.7978845608028654 * (u + 0.044715 * u**3)))
    out = x1 + g @ params["W_2"] + params["b_2"]
    return 0.5 * np.sum((out - y) ** 2) / B


def layer_norm(x, gain, bias):
    """Normalise over the last axis, then scale and shift."""
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + 1e-5) * gain + bias


def split_heads(t, nh):
    """(B, T, C) -> (B, nh, T, C // nh)."""
    B, T, C = t.shape
    return t.reshape(B, T, nh, C // nh).transpose(0, 2, 1, 3)


def causal_softmax(s):
    """Softmax over the last axis, each position seeing itself and the positions before it."""
    T = s.shape[-1]
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -1e9)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    return e / np.sum(e, axis=-1, keepdims=True)


def attention(h, params, nh):
    """Multi-head causal self-attention of h (B, T, C), with its output projection."""
    B, T, C = h.shape
    qkv = h @ params["W_qkv"] + params["b_qkv"]
    q = split_heads(qkv[:, :, :C], nh)
    k = split_heads(qkv[:, :, C : 2 * C], nh)
    v = split_heads(qkv[:, :, 2 * C :], nh)
    a = causal_softmax(q @ np.swapaxes(k, -1, -2) / (C // nh) ** 0.5)
    o = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    return o @ params["W_o"] + params["b_o"]


def gelu(u):
    """GELU, tanh approximation."""
    return 0.5 * u * (1.0 + np.tanh(0.7978845608028654 * (u + 0.044715 * u**3)))


def mlp(h, params):
    """Two dense layers with GELU between them."""
    return gelu(h @ params["W_1"] + params["b_1"]) @ params["W_2"] + params["b_2"]


def transformer_helpers_loss(params, x, y):
    """:func:`transformer_loss` written with helper functions."""
    x1 = x + attention(layer_norm(x, params["ln1_g"], params["ln1_b"]), params, 4)
    out = x1 + mlp(layer_norm(x1, params["ln2_g"], params["ln2_b"]), params)
    return 0.5 * np.sum((out - y) ** 2) / x.shape[0]


# =========================================================================== inputs
def transformer_inputs(dtype, seed=0, sizes=(BATCH, SEQ, WIDTH)):
    """``(params, x, y)``: GPT-2-like initialisation (weights N(0, 0.02)), non-trivial layer
    norm gains and biases, x and y standard normal of shape ``sizes`` (B, T, C)."""
    rng = np.random.default_rng(seed)
    B, T, C = sizes
    p = {
        "ln1_g": 1.0 + 0.1 * rng.standard_normal(C),
        "ln1_b": 0.1 * rng.standard_normal(C),
        "W_qkv": 0.02 * rng.standard_normal((C, 3 * C)) * 5,
        "b_qkv": 0.1 * rng.standard_normal(3 * C),
        "W_o": 0.02 * rng.standard_normal((C, C)),
        "b_o": 0.1 * rng.standard_normal(C),
        "ln2_g": 1.0 + 0.1 * rng.standard_normal(C),
        "ln2_b": 0.1 * rng.standard_normal(C),
        "W_1": 0.02 * rng.standard_normal((C, 4 * C)) * 5,
        "b_1": 0.1 * rng.standard_normal(4 * C),
        "W_2": 0.02 * rng.standard_normal((4 * C, C)),
        "b_2": 0.1 * rng.standard_normal(C),
    }
    params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in p.items()}
    x = rng.standard_normal((B, T, C)).astype(dtype)
    y = rng.standard_normal((B, T, C)).astype(dtype)
    return params, x, y


# =========================================================================== hand-written
def _ln_forward(x2, gain, bias):
    """``(out, xhat, rstd)`` of the layer norm of the rows of x2 (N, C)."""
    mu = x2.mean(axis=1, keepdims=True)
    xhat = x2 - mu
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None]
    var *= 1.0 / x2.shape[1]
    var += EPS
    rstd = np.sqrt(var, out=var)
    np.divide(1.0, rstd, out=rstd)
    xhat *= rstd
    out = xhat * gain
    out += bias
    return out, xhat, rstd


def _ln_backward(dout, xhat, rstd, gain):
    """``(dx, dgain, dbias)`` of :func:`_ln_forward`; ``dout`` is overwritten."""
    dgain = np.einsum("ij,ij->j", dout, xhat)
    dbias = dout.sum(axis=0)
    dout *= gain  # d xhat
    m1 = dout.mean(axis=1, keepdims=True)
    m2 = np.einsum("ij,ij->i", dout, xhat)[:, None]
    m2 *= 1.0 / xhat.shape[1]
    dout -= m1
    dout -= xhat * m2
    dout *= rstd
    return dout, dgain, dbias


def _attention_forward(h, W_qkv, b_qkv, B, T, C, nh):
    """``(o (N, C), q, k, v, a)``: the heads' outputs merged, and what the backward needs."""
    hd = C // nh
    qkv = h @ W_qkv
    qkv += b_qkv
    heads = qkv.reshape(B, T, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, B, nh, T, hd)
    q, k, v = heads[0], heads[1], heads[2]
    s = np.matmul(q, k.transpose(0, 1, 3, 2))
    s *= 1.0 / np.sqrt(hd)
    s[..., ~np.tril(np.ones((T, T), dtype=bool))] = -np.inf
    s -= s.max(axis=-1, keepdims=True)
    a = np.exp(s, out=s)
    a /= a.sum(axis=-1, keepdims=True)
    o = np.matmul(a, v).transpose(0, 2, 1, 3).reshape(B * T, C)
    return o, q, k, v, a


def _attention_backward(do, q, k, v, a, B, T, C, nh):
    """d qkv (N, 3C) from d o (N, C)."""
    hd = C // nh
    do = do.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    dheads = np.empty((3, B, nh, T, hd), dtype=do.dtype)  # dq, dk, dv
    np.matmul(a.transpose(0, 1, 3, 2), do, out=dheads[2])
    da = np.matmul(do, v.transpose(0, 1, 3, 2))
    # softmax: ds = a * (da - sum(da * a)); masked entries have a == 0, so ds == 0 there
    da -= np.einsum("bhij,bhij->bhi", da, a)[..., None]
    da *= a
    da *= 1.0 / np.sqrt(hd)
    np.matmul(da, k, out=dheads[0])
    np.matmul(da.transpose(0, 1, 3, 2), q, out=dheads[1])
    return dheads.transpose(1, 3, 0, 2, 4).reshape(B * T, 3 * C)


def transformer_hand(params, x, y):
    """Loss and gradient of :func:`transformer_loss` by hand."""
    p = params
    B, T, C = x.shape
    nh = HEADS
    N = B * T
    x2 = x.reshape(N, C)
    h, xhat1, rstd1 = _ln_forward(x2, p["ln1_g"], p["ln1_b"])
    o, q, k, v, a = _attention_forward(h, p["W_qkv"], p["b_qkv"], B, T, C, nh)
    x1 = o @ p["W_o"]
    x1 += p["b_o"]
    x1 += x2
    h2, xhat2, rstd2 = _ln_forward(x1, p["ln2_g"], p["ln2_b"])
    u = h2 @ p["W_1"]
    u += p["b_1"]
    # GELU: g = 0.5 u (1 + t), t = tanh(c (u + 0.044715 u^3))
    u2 = u * u
    t = u2 * 0.044715
    t += 1.0
    t *= u
    t *= GELU_C
    np.tanh(t, out=t)
    g = t + 1.0
    g *= u
    g *= 0.5
    out = g @ p["W_2"]
    out += p["b_2"]
    out += x1
    out -= y.reshape(N, C)
    loss = 0.5 * np.vdot(out, out) / B
    dout = out
    dout *= 1.0 / B
    # back through the MLP
    dW_2 = g.T @ dout
    db_2 = dout.sum(axis=0)
    dg = dout @ p["W_2"].T
    # dg/du = 0.5 (1 + t) + 0.5 u (1 - t^2) c (1 + 3 * 0.044715 u^2)
    du = u2
    du *= 3 * 0.044715
    du += 1.0
    du *= GELU_C * 0.5
    du *= u
    np.multiply(t, t, out=u)
    np.subtract(1.0, u, out=u)
    du *= u
    t += 1.0
    t *= 0.5
    du += t
    du *= dg
    dW_1 = h2.T @ du
    db_1 = du.sum(axis=0)
    dh2 = du @ p["W_1"].T
    dx1, dln2_g, dln2_b = _ln_backward(dh2, xhat2, rstd2, p["ln2_g"])
    dx1 += dout
    # back through the attention
    dW_o = o.T @ dx1
    db_o = dx1.sum(axis=0)
    do = dx1 @ p["W_o"].T
    dqkv = _attention_backward(do, q, k, v, a, B, T, C, nh)
    dW_qkv = h.T @ dqkv
    db_qkv = dqkv.sum(axis=0)
    dh = dqkv @ p["W_qkv"].T
    dx, dln1_g, dln1_b = _ln_backward(dh, xhat1, rstd1, p["ln1_g"])
    dx += dx1
    grads = {
        "ln1_g": dln1_g, "ln1_b": dln1_b, "W_qkv": dW_qkv, "b_qkv": db_qkv, "W_o": dW_o,
        "b_o": db_o, "ln2_g": dln2_g, "ln2_b": dln2_b, "W_1": dW_1, "b_1": db_1, "W_2": dW_2,
        "b_2": db_2,
    }  # fmt: skip
    del dx  # the gradient is w.r.t. the parameters only
    return loss, grads


# =========================================================================== torch
def torch_transformer(params, x, y):
    """The same loss in PyTorch eager, differentiated by ``torch.autograd.grad``."""
    torch = import_torch()
    if torch is None:
        return None
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    B, T, C = x.shape
    nh, hd = HEADS, C // HEADS
    mask = torch.tril(torch.ones((T, T), dtype=torch.bool))
    F = torch.nn.functional

    def loss():
        h = F.layer_norm(tx, (C,), p["ln1_g"], p["ln1_b"], eps=EPS)
        qkv = h @ p["W_qkv"] + p["b_qkv"]
        q, k, v = (t.reshape(B, T, nh, hd).transpose(1, 2) for t in qkv.split(C, dim=-1))
        s = (q @ k.transpose(-1, -2)) / hd**0.5
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(B, T, C)
        x1 = tx + o @ p["W_o"] + p["b_o"]
        h2 = F.layer_norm(x1, (C,), p["ln2_g"], p["ln2_b"], eps=EPS)
        g = F.gelu(h2 @ p["W_1"] + p["b_1"], approximate="tanh")
        out = x1 + g @ p["W_2"] + p["b_2"]
        return 0.5 * torch.sum((out - ty) ** 2) / B

    return p, loss
