"""Indexing as model code writes it: embedding lookups with repeated ids, ``np.take`` along an
axis, gathers by ``np.arange`` pairs (the picked log-probability), boolean masks of the
parameters, ``None`` axes and ``...``, negative steps, ``x[idx] += v`` with repeated indices
(Python keeps one write per index: no accumulation), ``np.put_along_axis``-free one-hot
picks, and ``reshape(-1, ...)``/``swapaxes`` chains. Checked against Python's value and
central differences on repeated calls."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(11)


def r(*shape):
    return R.standard_normal(shape)


IDS = np.array([[1, 3, 1], [0, 3, 3]])
LABELS = np.array([2, 0, 1, 2])


def embed_repeated(E, W):
    h = E[IDS]  # (2, 3, d) with repeated rows
    return np.sum(np.tanh(h.mean(axis=1) @ W))


def take_axis(E, x):
    return np.sum(np.take(E, IDS[0], axis=0) * x) + np.sum(np.take(E, [2, 2], axis=1) ** 2)


def picked_logprob(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(LABELS)), LABELS])


def masked_params(W, x):
    mask = np.abs(W) > 0.5
    return np.sum((x @ np.where(mask, W, 0.0)) ** 2) + np.sum(W[mask] ** 3)


def none_axes(a, b):
    d = a[:, None, :] - b[None, :, :]
    return np.sum(np.exp(-np.sum(d**2, axis=-1)))


def ellipsis_neg(x):
    return np.sum(x[..., ::-1] * x[..., 0:1]) + np.sum(x[::-2, ...] ** 2)


def repeated_setitem(x, v):
    y = x.copy()
    y[[0, 2, 0]] += v  # Python: y[0] gets v once (the last write), not twice
    return np.sum(y**2)


def reshape_chain(x, W):
    B = x.shape[0]
    h = x.reshape(B, -1, 2).swapaxes(1, 2).reshape(-1, x.shape[1] // 2)
    return np.sum(np.tanh(h @ W))


def onehot_pick(logits):
    onehot = np.eye(logits.shape[1])[LABELS]
    return -np.sum(onehot * (logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))))


def scatter_add_loop(E, grads_like):
    out = np.zeros_like(E)
    for k, i in enumerate(IDS[0]):
        out[i] = out[i] + grads_like[k] * E[i]
    return np.sum(out**2)


def argmax_select(x, W):
    k = int(np.argmax(x @ W))
    return np.sum(W[:, k] ** 2) + np.max(x @ W)


def diagonal_idx(A):
    i = np.arange(A.shape[0])
    return np.sum(A[i, i] ** 2) + np.sum(np.diag(A) * np.trace(A))


CASES = [
    Case("embed_repeated", embed_repeated, (r(4, 3), r(3, 2)), wrt=(0, 1)),
    Case("take_axis", take_axis, (r(4, 3), r(3, 3)), wrt=(0, 1)),
    Case("picked_logprob", picked_logprob, (r(4, 3),), order=2),
    Case("masked_params", masked_params, (r(3, 3), r(4, 3))),
    Case("none_axes", none_axes, (r(4, 2), r(3, 2)), wrt=(0, 1), order=2),
    Case("ellipsis_neg", ellipsis_neg, (r(3, 4),), order=2),
    Case("repeated_setitem", repeated_setitem, (r(4), r(3)), wrt=(0, 1)),
    Case("reshape_chain", reshape_chain, (r(3, 4), r(2, 2)), wrt=(0, 1)),
    Case("onehot_pick", onehot_pick, (r(4, 3),), order=2),
    Case("scatter_add_loop", scatter_add_loop, (r(4, 2), r(3, 2)), wrt=(0, 1)),
    Case("argmax_select", argmax_select, (r(3), r(3, 4)), wrt=(0, 1)),
    Case("diagonal_idx", diagonal_idx, (r(3, 3),), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_indexing_idiom(case):
    check(case)
