"""Small idioms met in user code, each a place a derivative could go quietly wrong: index
tuples from ``np.where``/``np.nonzero``, reversed-slice writes, ``@=``, chained
comparisons, starred unpacking, a namedtuple's ``_asdict``, ``dict.get`` with a
differentiated default, ``sorted(params)`` keys, a list argument written item by item,
``einsum`` traces, ``np.maximum.accumulate``, float32 in-place, walrus in a comprehension,
``itertools`` loops. Each against Python's value and central differences on calls 1-3, to
second order where smooth."""

from __future__ import annotations

import itertools
from collections import namedtuple

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(9707)


def r(*s):
    return R.standard_normal(s)


def where_indices(x):
    idx = np.where(x > 0)
    nz = np.nonzero(x < 0)[0]
    return np.sum(x[idx] ** 2) + np.sum(np.exp(x[nz]))


def reversed_slice_write(x):
    y = x.copy()
    y[::-1] += np.arange(len(x)) * x
    y[1::2] = y[1::2] ** 2
    return np.sum(y * x)


def matmul_augmented(x, W):
    h = x.copy()
    for _ in range(2):
        h @= W
        h = np.tanh(h)
    return np.sum(h)


def chained_comparison(x):
    total = 0.0
    for v in x:
        if -0.5 < v < 0.5:
            total += v**2
        elif v >= 0.5:
            total += v
    return total


def starred_unpacking(xs):
    first, *middle, last = xs
    return np.sum(first * last) + sum(np.sum(m**2) for m in middle)


Params = namedtuple("Params", ["W", "b"])


def namedtuple_asdict(p, x):
    total = 0.0
    for name, value in p._asdict().items():
        total = total + (np.sum(value**2) if name == "W" else np.sum(value))
    return total + np.sum(np.tanh(x @ p.W + p.b))


def dict_get_default(params, x):
    scale = params.get("scale", x * 0.0 + 1.0)
    shift = params.get("shift", 0.5 * x)
    return np.sum((scale * x + shift) ** 2)


def sorted_keys_penalty(params):
    total = 0.0
    for k in sorted(params):
        total = total + len(k) * np.sum(params[k] ** 2)
    return total


def list_argument_item_writes(xs):
    ys = list(xs)
    for i in range(len(ys)):
        ys[i] = ys[i] * (i + 1.0)
    return sum(np.sum(y**2) for y in ys)


def einsum_traces(A, B):
    return (
        np.einsum("ii->", A @ B) + np.einsum("ij,ij->", A, B) + np.sum(np.einsum("ii->i", A) ** 2)
    )


def running_max(x):
    m = np.maximum.accumulate(x)
    return np.sum(m * np.arange(1, len(x) + 1))


def walrus_comprehension(x):
    vals = [y for v in x if (y := v**2) > 0.1]
    return sum(vals) + len(vals)


def itertools_pairs(X):
    total = 0.0
    for i, j in itertools.combinations(range(len(X)), 2):
        total += np.exp(-np.sum((X[i] - X[j]) ** 2))
    return total


def itertools_product_grid(w):
    total = 0.0
    for a, b in itertools.product([0.5, 1.0], [-1.0, 2.0]):
        total += np.sum(np.sin(a * w + b))
    return total


def norm_keepdims(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.sum((X / n) @ np.ones((X.shape[1], 1)))


def python_max_of_floats(x):
    return max(0.0, float(np.sum(x))) + min(float(x[0]), float(x[1]), 2.0) * 0 + abs(float(x[2]))


def clip_methods(x):
    return np.sum(x.clip(0) ** 2) + np.sum(x.clip(-0.5, 0.5)) + np.sum(np.clip(x, None, 0.2))


def solve_vector(A, b):
    M = A @ A.T + np.eye(3)
    x = np.linalg.solve(M, b)
    return x @ b + np.sum(np.linalg.solve(M, np.eye(3)) ** 2)


def boolean_assign(x):
    y = np.zeros_like(x)
    mask = x > 0
    y[mask] = x[mask] ** 2
    y[~mask] = np.sin(x[~mask])
    return np.sum(y)


def dict_items_accumulate(params):
    total = 0.0
    for k, v in params.items():
        total += np.sum(v**2) * (2.0 if k.startswith("W") else 1.0)
    return total + sum(np.sum(v) for v in params.values())


CASES = [
    Case("where_and_nonzero_index_tuples", where_indices, (r(6),), order=2),
    Case("reversed_slice_writes", reversed_slice_write, (r(5),), order=2),
    Case(
        "matmul_augmented_assign", matmul_augmented, (r(2, 3), 0.5 * r(3, 3)), wrt=(0, 1), order=2
    ),
    Case("chained_comparison", chained_comparison, (np.array([0.2, -0.3, 0.9, -1.2]),), order=2),
    Case("starred_unpacking", starred_unpacking, ([r(3), r(3), r(3), r(3)],), order=2),
    Case("namedtuple_asdict", namedtuple_asdict, (Params(r(3, 2), r(2)), r(4, 3)), order=2),
    Case(
        "dict_get_differentiated_default",
        dict_get_default,
        ({"scale": r(3)}, r(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("sorted_dict_keys", sorted_keys_penalty, ({"W": r(2), "bias": r(3), "a": r(1)},), order=2),
    Case("list_copy_item_writes", list_argument_item_writes, ([r(2), r(3), r(2)],), order=2),
    Case("einsum_traces", einsum_traces, (r(3, 3), r(3, 3)), wrt=(0, 1), order=2),
    Case("maximum_accumulate", running_max, (r(6),)),
    Case(
        "walrus_in_comprehension", walrus_comprehension, (np.array([0.1, -0.9, 0.5, 1.3]),), order=2
    ),
    Case("itertools_combinations", itertools_pairs, (r(4, 2),), order=2),
    Case("itertools_product", itertools_product_grid, (r(3),), order=2),
    Case("norm_keepdims", norm_keepdims, (r(4, 3),), order=2),
    Case("python_max_min_abs_of_floats", python_max_of_floats, (np.array([0.3, 0.9, -0.4]),)),
    Case("clip_method_forms", clip_methods, (r(6),)),
    Case("solve_vector_and_matrix", solve_vector, (r(3, 3), r(3)), wrt=(0, 1), order=2),
    Case("boolean_mask_assign", boolean_assign, (r(6),), order=2),
    Case(
        "dict_items_accumulate",
        dict_items_accumulate,
        ({"W1": r(2, 2), "b1": r(2), "W2": r(2)},),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_idioms(case):
    check(case)
