"""Scatter and segment operations as graph and recommender code writes them in NumPy:
``np.bincount(index, weights=w, minlength=n)`` as a segment sum (degrees weighted by learned
edge weights, a per-node softmax over incoming edges whose denominator is a ``bincount``,
an embedding bag summed by ``bincount`` per dimension, a mean aggregation dividing by
``bincount`` counts), ``np.add.at`` scatters next to them, ``np.split`` at bag offsets,
``np.unique(..., return_inverse=True)`` group ids, ``np.repeat`` segment ids, and
``np.maximum.at`` (the gradient to the entry each maximum took). Each against Python's value
and central differences on calls 1-3 (the segment sums also as Jacobians, vjp and jvp), to
second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(4242)


def r(*s):
    return R.standard_normal(s)


SRC = np.array([0, 1, 1, 2, 3, 4, 2])
DST = np.array([1, 0, 2, 3, 4, 0, 0])
N = 5
X = r(N, 3)


def segment_sum(w, index=DST, n=N):
    return np.bincount(index, weights=w, minlength=n)


def segment_sum_positional(w):
    return np.bincount(DST, w, N) * 2.0


def weighted_degree_gcn(edge_w, X, W):
    deg = np.bincount(DST, weights=edge_w, minlength=N) + 1.0
    norm = edge_w / np.sqrt(deg[SRC] * deg[DST])
    agg = np.zeros((N, W.shape[1]))
    np.add.at(agg, DST, norm[:, None] * (X[SRC] @ W))
    return np.sum(np.tanh(agg + X @ W / deg[:, None]) ** 2)


def edge_softmax_bincount(a, X, W):
    h = X @ W
    e = np.tanh(h[SRC] @ a[:2] + h[DST] @ a[2:])
    e = e - e.max()
    ex = np.exp(e)
    alpha = ex / np.bincount(DST, weights=ex, minlength=N)[DST]
    out = np.zeros_like(h)
    np.add.at(out, DST, alpha[:, None] * h[SRC])
    return np.sum(out**2)


def embedding_bag_bincount(table, ids, bag_of, n_bags=3):
    rows = table[ids]
    pooled = np.stack(
        [np.bincount(bag_of, weights=rows[:, j], minlength=n_bags) for j in range(rows.shape[1])],
        axis=1,
    )
    counts = np.bincount(bag_of, minlength=n_bags)[:, None]
    return np.sum(np.tanh(pooled / counts))


def split_offsets_bags(table, ids, offsets):
    rows = table[ids]
    bags = np.split(rows, offsets[1:])
    pooled = np.stack([b.mean(axis=0) for b in bags])
    return np.sum(pooled[0] * pooled[1]) + np.sum(pooled**2)


def unique_inverse_groups(w, keys):
    uniq, inv = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(uniq))
    np.add.at(sums, inv, w)
    return np.sum(np.log1p(sums**2))


def repeat_segment_ids(w, lengths):
    seg = np.repeat(np.arange(len(lengths)), lengths)
    totals = np.bincount(seg, weights=w)
    return np.sum(totals**3)


def max_at_scatter(w):
    m = np.full(N, -10.0)
    np.maximum.at(m, DST, w)
    return np.sum(m)


CASES = [
    Case("bincount_weights_jacobian", segment_sum, (r(7),), kind="jac"),
    Case("bincount_positional_jacobian", segment_sum_positional, (r(7),), kind="jac"),
    Case(
        "weighted_degree_gcn",
        weighted_degree_gcn,
        (R.uniform(0.5, 1.5, 7), X, r(3, 2)),
        wrt=(0, 2),
        order=2,
    ),
    Case(
        "edge_softmax_bincount_denominator",
        edge_softmax_bincount,
        (r(4), X, r(3, 2)),
        wrt=(0, 2),
        order=2,
    ),
    Case(
        "embedding_bag_bincount_columns",
        embedding_bag_bincount,
        (r(6, 2), np.array([0, 5, 3, 3, 1, 2]), np.array([0, 0, 1, 1, 1, 2])),
        order=2,
    ),
    Case(
        "split_at_offsets",
        split_offsets_bags,
        (r(6, 2), np.array([0, 5, 3, 3, 1, 2]), np.array([0, 2, 5])),
        order=2,
    ),
    Case(
        "unique_inverse_scatter",
        unique_inverse_groups,
        (r(6), np.array([7, 3, 7, 9, 3, 3])),
        order=2,
    ),
    Case("repeat_segment_ids_bincount", repeat_segment_ids, (r(6), np.array([2, 3, 1])), order=2),
    Case("maximum_at_scatter", max_at_scatter, (r(7),)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_scatter_ops(case):
    check(case)
