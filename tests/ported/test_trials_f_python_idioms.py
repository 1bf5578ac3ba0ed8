"""Python written around NumPy the way scripts write it: an ``lru_cache``d coefficient,
``itertools.product``, ``enumerate(start=1)``, ``sum(..., start=)``, sorted dict items, nested
and starred loop targets, ``while True`` with ``break``, ``.item()``, the builtin ``round``,
array methods in a row, ``functools.reduce(np.dot, ...)``, ``max(range(n), key=...)``, lists of
Python floats made back into arrays, ``math`` over ``tolist()``, ``isinstance`` tests, NumPy
scalar casts, ``np.nonzero``/``np.argwhere`` gathers, ``list.index``, f-strings, counts of
booleans, ``zip(..., strict=True)``. Each against Python's value and central differences on
calls 1-3, to second order where smooth; the iterator tools without a rule are refused at the
user's line with a way out that fits."""

from __future__ import annotations

import functools
import itertools
import math
import operator

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6306)
X5 = np.array([0.3, -1.2, 0.7, 1.5, 0.4])


def coeff(n):
    return 1.0 / math.factorial(n)


def f_lru(x):
    return sum(coeff(n) * np.sum(x**n) for n in range(4))


def f_product(x):
    return sum(x[i] * x[j] for i, j in itertools.product(range(3), repeat=2))


def f_enum_start(x):
    return sum(k * v**2 for k, v in enumerate(x, start=1))


def f_zip_strict(x):
    return sum(a * b for a, b in zip(x, x[::-1], strict=True))


def f_sum_start(x):
    return sum([x[0], x[1] ** 2], start=1.5 * x[2])


def f_sorted_items(x):
    d = {"b": x[1], "a": x[0], "c": x[2]}
    return sum(k_v[1] * i for i, k_v in enumerate(sorted(d.items())))


def f_nested_unpack(x):
    t = 0.0
    for i, (a, b) in enumerate(zip(x[:-1], x[1:])):
        t = t + i * a * b
    return t


def f_star_for(x):
    rows = [(x[0], x[1], x[2]), (x[2], x[3], x[4])]
    t = 0.0
    for first, *rest in rows:
        t = t + first * sum(rest)
    return t


def f_while_true(x):
    s = x[0]
    k = 0
    while True:
        s = np.sin(s) + x[1]
        k += 1
        if k >= 4:
            break
    return s


def f_item(x):
    return x.sum().item() ** 2


def f_builtin_round(x):
    return np.sum(x**2) * round(float(x[0]), 1)


def f_methods(x):
    M = x[:4].reshape(2, 2)
    return (
        M.trace()
        + M.diagonal().sum()
        + M.cumsum().prod()
        + M.std()
        + M.var()
        + M.min(axis=0).sum()
        + M.clip(-0.5, 0.5).sum()
        + M.flatten()[1]
        + M.squeeze().swapaxes(0, 1)[0, 1]
        + M.repeat(2, axis=0).sum()
        + M.round(1).sum() * M[0, 0]
    )


def f_reduce_dot(x):
    mats = [x[:4].reshape(2, 2), x[1:5].reshape(2, 2), np.eye(2)]
    return np.sum(functools.reduce(np.dot, mats))


def f_reduce_matmul_op(x):
    mats = [x[:4].reshape(2, 2), x[1:5].reshape(2, 2)]
    return np.sum(functools.reduce(operator.matmul, mats))


def f_sum_map(x):
    xs = [x, x**2, np.sin(x)]
    return sum(map(np.sum, xs))


def f_max_key_range(x):
    i = max(range(len(x)), key=lambda i: x[i])
    return x[i] ** 2 + x[0]


def f_array_from_floats(x):
    vals = [float(v) ** 2 for v in x]
    return np.sum(np.array(vals) * np.arange(len(vals)))


def f_list_map_float(x):
    vals = list(map(float, x))
    return sum(math.exp(-v) for v in vals)


def f_tolist_loop(x):
    t = 0.0
    for v in x.tolist():
        t += math.tanh(v) ** 2
    return t


def f_isinstance_float(x):
    s = float(np.sum(x))
    if isinstance(s, float):
        return s**2
    return 0.0


def f_np_float64(x):
    return np.float64(x[0]) * 3.0 + np.float32(2.0) * x[1]


def f_any_all(x):
    if np.any(x > 2.0) or not np.all(np.isfinite(x)):
        return np.sum(x)
    return np.sum(x**2)


def f_dict_keys_setops(x):
    p = {"a": x[0], "b": x[1], "c": x[2]}
    return sum(p[k] ** 2 for k in sorted(p.keys() - {"b"}))


def f_divmod_int(x):
    q, r_ = divmod(7, 3)
    return x[q] * x[r_]


def f_nonzero(x):
    idx = np.nonzero(x > 0)[0]
    return np.sum(x[idx] ** 2)


def f_argwhere(x):
    idx = np.argwhere(x > 0).ravel()
    return np.sum(x[idx] ** 3)


def f_list_index(x):
    names = ["a", "b", "c"]
    vals = [x[0], x[1] * 2, x[2] ** 2]
    return vals[names.index("c")] + vals[names.index("b")]


def f_tuple_count(x):
    t = (x[0], x[1])
    return len(t) * t[0] + t[-1]


def f_str_format(x):
    msg = f"{float(x[0]):.3f}"
    return x[0] * len(msg)


def f_enumerate_reversed(x):
    t = 0.0
    for i, v in reversed(list(enumerate(x))):
        t = t * 0.5 + i * v
    return t


def f_min_of_generator(x):
    return min(v**2 + 1 for v in x)


def f_sum_of_bools(x):
    n_pos = sum(v > 0 for v in x)
    return n_pos * np.sum(x)


def zip_strict_loop(x, ys):
    t = 0.0
    for a, b in zip(x, ys, strict=True):
        t = t + a * b**2
    return t


def pairwise_steps(x):
    return sum(np.sum((b - a) ** 2) for a, b in itertools.pairwise(x))


def vectorized_branch(x):
    ramp = np.vectorize(lambda v: v**2 if v > 0 else 0.0)
    return np.sum(ramp(x))  # REFUSED


SMOOTH = {"f_lru", "f_product", "f_enum_start", "f_sum_start", "f_sorted_items",
          "f_nested_unpack", "f_star_for", "f_while_true", "f_item", "f_reduce_dot",
          "f_reduce_matmul_op", "f_sum_map", "f_array_from_floats", "f_list_map_float",
          "f_tolist_loop", "f_isinstance_float", "f_np_float64", "f_any_all",
          "f_dict_keys_setops", "f_divmod_int", "f_list_index", "f_tuple_count",
          "f_str_format", "f_enumerate_reversed", "f_zip_strict"}  # fmt: skip
FUNCTIONS = [v for k, v in dict(globals()).items() if k.startswith("f_")]

CASES = [
    *[Case(f.__name__[2:], f, (X5,), order=2 if f.__name__ in SMOOTH else 1) for f in FUNCTIONS],
    Case("zip_strict_two_arguments", zip_strict_loop, (X5, R.standard_normal(5)), wrt=(0, 1)),
    Case("pairwise", pairwise_steps, (X5,), order=2),
    Case("vectorize_refused", vectorized_branch, (X5,), refused=(sg.NoRuleError, "np.vectorize")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_idioms(case):
    check(case)


def test_zip_strict_raises_pythons_error():
    """``zip(..., strict=True)`` over arguments of different lengths raises Python's
    ValueError from the derivative too, and the next call is unharmed."""
    df = sg.grad(zip_strict_loop)
    with pytest.raises(ValueError):
        zip_strict_loop(X5, X5[:3])
    for _ in range(2):
        with pytest.raises(ValueError, match="different lengths"):
            df(X5, X5[:3])
        np.testing.assert_allclose(df(X5, X5), X5**2)
