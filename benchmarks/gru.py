"""A GRU written as a user-written loop over time steps, and its gradient by hand.

Gates stacked as [z | r | c] in one input matrix ``W_x`` (D, 3H), one recurrent matrix ``W_h``
(H, 3H) and one bias (3H): ``z, r = sigmoid(x_t W_x[:, :2H] + h W_h[:, :2H] + b[:2H])``,
``c = tanh(x_t W_x[:, 2H:] + (r * h) W_h[:, 2H:] + b[2H:])``, ``h = (1 - z) * h + z * c``.
The loss is softmax cross entropy of the last state against one-hot labels over the H units,
divided by the batch, as for the LSTM of ``recurrent.py`` (same sizes: input 64, hidden 128,
batch 32, T = 50).
"""

from __future__ import annotations

import numpy as np

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    from harness import import_torch
    from recurrent import BATCH, D_IN, HIDDEN, T_STEPS
except ImportError:  # pragma: no cover
    from .harness import import_torch
    from .recurrent import BATCH, D_IN, HIDDEN, T_STEPS


def gru_loss(params, xs, y):
    """GRU over xs (T, batch, D); softmax cross entropy of the last state against y (batch, H)."""
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        a = xs[t] @ W_x + b
        zr = 1.0 / (1.0 + np.exp(-(a[:, : 2 * H] + h @ W_h[:, : 2 * H])))
        z = zr[:, :H]
        r = zr[:, H:]
        c = np.tanh(a[:, 2 * H :] + (r * h) @ W_h[:, 2 * H :])
        h = (1.0 - z) * h + z * c
    lse = np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return -np.sum(y * (h - lse)) / n


def gru_inputs(dtype, seed=0, sizes=(T_STEPS, BATCH, D_IN, HIDDEN)):
    """``(params, xs, y)``: params W_x (D, 3H), W_h (H, 3H), b (3H); one-hot y (batch, H)."""
    rng = np.random.default_rng(seed)
    T, n, D, H = sizes
    params = {
        "W_x": rng.standard_normal((D, 3 * H)) / np.sqrt(D),
        "W_h": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "b": rng.standard_normal(3 * H) * 0.1,
    }
    xs = rng.standard_normal((T, n, D))
    y = np.zeros((n, H))
    y[np.arange(n), rng.integers(0, H, size=n)] = 1.0
    params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
    return params, xs.astype(dtype), y.astype(dtype)


def gru_bptt(params, xs, y):
    """Loss and gradient of :func:`gru_loss` by hand: the input projections of all steps in one
    GEMM, each step's gates kept in preallocated (T, ...) arrays, the weight gradients of the
    inputs one GEMM after the backward loop."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, n, d = xs.shape
    H = W_h.shape[0]
    H2 = 2 * H
    dt = xs.dtype
    x2 = xs.reshape(T * n, d)
    acts = np.matmul(x2, W_x).reshape(T, n, 3 * H)  # pre-activations, then z | r | c
    acts += b
    hs = np.empty((T + 1, n, H), dtype=dt)
    hs[0] = 0.0
    rhs = np.empty((T, n, H), dtype=dt)  # r * h_{t-1}
    W_zr, W_c = W_h[:, :H2], W_h[:, H2:]
    for t in range(T):
        a, h = acts[t], hs[t]
        zr = a[:, :H2]
        zr += h @ W_zr
        np.negative(zr, out=zr)
        np.exp(zr, out=zr)
        zr += 1.0
        np.reciprocal(zr, out=zr)
        np.multiply(zr[:, H:], h, out=rhs[t])
        c = a[:, H2:]
        c += rhs[t] @ W_c
        np.tanh(c, out=c)
        hn = hs[t + 1]
        np.subtract(c, h, out=hn)  # h + z * (c - h)
        hn *= zr[:, :H]
        hn += h
    h = hs[T]
    e = np.exp(h)
    se = e.sum(axis=1, keepdims=True)
    ysum = y.sum(axis=1, keepdims=True)
    loss = (np.vdot(ysum, np.log(se)) - np.vdot(y, h)) / n
    e *= ysum / (se * n)
    e -= y / n
    dh = e
    das = np.empty_like(acts)  # d loss / d pre-activations
    dW_zr = np.zeros((H, H2), dtype=dt)
    dW_c = np.zeros((H, H), dtype=dt)
    tmp = np.empty((n, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        a, da, h = acts[t], das[t], hs[t]
        z, r, c = a[:, :H], a[:, H:H2], a[:, H2:]
        dz, dr, dc = da[:, :H], da[:, H:H2], da[:, H2:]
        # h_new = h + z * (c - h)
        np.subtract(c, h, out=dz)
        dz *= dh
        np.subtract(1.0, z, out=tmp)
        dz *= z
        dz *= tmp  # through the sigmoid
        np.multiply(c, c, out=dc)
        np.subtract(1.0, dc, out=dc)
        dc *= z
        dc *= dh  # through the tanh
        dh_prev = dh * tmp  # (1 - z) * dh
        dW_c += rhs[t].T @ dc
        drh = dc @ W_c.T
        np.multiply(drh, h, out=dr)
        np.subtract(1.0, r, out=tmp)
        dr *= r
        dr *= tmp
        drh *= r
        dh_prev += drh
        dzr = da[:, :H2]
        dW_zr += h.T @ dzr
        dh_prev += dzr @ W_zr.T
        dh = dh_prev
    dA = das.reshape(T * n, 3 * H)
    dW_x = x2.T @ dA
    db = dA.sum(axis=0)
    dW_h = np.concatenate([dW_zr, dW_c], axis=1)
    return loss, {"W_x": dW_x, "W_h": dW_h, "b": db}


def torch_gru(params, xs, y):
    """``(leaves, loss)`` of the same GRU in PyTorch eager, written out as above."""
    torch = import_torch()
    if torch is None:
        return None
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    txs, ty = torch.from_numpy(xs), torch.from_numpy(y)
    T, n, _ = xs.shape
    H = params["W_h"].shape[0]

    def loss():
        W_x, W_h, b = p["W_x"], p["W_h"], p["b"]
        h = torch.zeros((n, H), dtype=txs.dtype)
        for t in range(T):
            a = txs[t] @ W_x + b
            zr = torch.sigmoid(a[:, : 2 * H] + h @ W_h[:, : 2 * H])
            z, r = zr[:, :H], zr[:, H:]
            c = torch.tanh(a[:, 2 * H :] + (r * h) @ W_h[:, 2 * H :])
            h = (1.0 - z) * h + z * c
        lse = torch.logsumexp(h, dim=1, keepdim=True)
        return -torch.sum(ty * (h - lse)) / n

    return p, loss
