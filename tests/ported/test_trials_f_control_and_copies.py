"""Control flow and copies as scripts write them around NumPy: an early ``return`` from a
nested loop, ``for``/``else``, ``while`` with ``continue`` and ``break``, ``match`` on a
setting, chained conditional expressions, filtered generators, top-k by ``sorted(range(n),
key=...)`` and ``argsort``, ``defaultdict`` and ``dict.get`` accumulators, a ``Counter`` of
labels, the walrus in a loop, recursion by halving, ``*parts``/``**kw`` helpers; copies made
and written (``np.array(x)``, ``astype``, ``np.copy``, ``x[:]`` of a list), an ``Enum`` setting,
a class constant, ``np.empty`` filled, seeded generators, running maxima, one-hot by
``argmax``, tuple and boolean-mask gathers, ``ravel_multi_index``/``unravel_index``;
``K[i, j] = K[j, i] = v``, ``yield from`` a list, a ``SimpleNamespace`` config, masks
written into a copy, ``out=``, f-string keys, ``np.add.at``, strided slice writes,
``fill_diagonal``, overlapping ``+=`` of slices. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import collections
import copy
import enum
import functools
import types

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

X5 = np.array([0.3, -1.2, 0.7, 1.5, 0.4])


def f_nested_early_return(x):
    for i in range(len(x)):
        for j in range(i):
            if x[i] * x[j] < -1.0:
                return x[i] * x[j] + np.sum(x**2)
    return np.sum(x)


def f_for_else(x):
    for v in x:
        if v > 2.0:
            t = v**2
            break
    else:
        t = np.sum(x**3)
    return t


def f_while_break_continue(x):
    i = 0
    t = 0.0
    while i < len(x):
        i += 1
        if x[i - 1] < 0:
            continue
        t = t + x[i - 1] ** 2
        if t > 3.0:
            break
    return t


def f_match(x, kind="l2"):
    match kind:
        case "l1":
            return np.sum(np.abs(x))
        case "l2" | "sq":
            return np.sum(x**2)
        case _:
            return 0.0


def f_chain_ifexp(x):
    return np.sum(x**2 if x[0] > 1 else np.sin(x) if x[1] > 0 else np.cos(x))


def f_gen_filter(x):
    return sum(v**2 for v in x if v > 0)


def f_any_gen(x):
    if any(np.isnan(v) for v in x):
        return 0.0
    return np.sum(x**2)


def f_topk_sorted_range(x, k=2):
    idx = sorted(range(len(x)), key=lambda i: -x[i])[:k]
    return np.sum(x[idx] ** 2)


def f_argsort_topk(x, k=3):
    idx = np.argsort(-x)[:k]
    return np.sum(x[idx] * np.arange(k))


def f_defaultdict(x):
    acc = collections.defaultdict(float)
    for i, v in enumerate(x):
        acc[i % 2] += v**2
    return acc[0] * acc[1]


def f_dict_get_accumulate(x):
    acc = {}
    for i, v in enumerate(x):
        acc[i % 2] = acc.get(i % 2, 0.0) + v**2
    return acc[0] * acc[1]


def f_counter_const(x):
    labels = [0, 1, 1, 0, 1]
    counts = collections.Counter(labels)
    return sum(x[i] / counts[labels[i]] for i in range(len(x)))


def f_walrus_loop(x):
    t = 0.0
    for v in x:
        if (s := v**2) > 0.5:
            t = t + s
    return t


def f_nested_comprehension(x):
    M = [[x[i] * x[j] for j in range(3)] for i in range(3)]
    return sum(sum(row) for row in M)


def f_zip_dict_items(x):
    d = dict(zip(["a", "b", "c"], x[:3]))
    return sum(v**2 for k, v in sorted(d.items()) if k != "b")


def f_enumerate_filtered(x):
    return sum(i * v for i, v in enumerate(x) if i % 2 == 0)


def f_lambda_tuple(x):
    stats = lambda v: (v.mean(), v.std())  # noqa: E731
    m, s = stats(x)
    return m * s


def f_recursive_power(x, n=5):
    def power(v, k):
        if k == 0:
            return np.ones_like(v)
        half = power(v, k // 2)
        return half * half * (v if k % 2 else 1.0)

    return np.sum(power(x, n))


def f_star_args_helper(x):
    def combine(*parts):
        return sum(np.sum(p**2) for p in parts)

    return combine(x, x[:2], np.sin(x))


def f_kwargs_helper(x):
    def scaled(v, **kw):
        return v * kw.get("scale", 1.0) + kw.get("shift", 0.0)

    return np.sum(scaled(x, scale=2.0) ** 2) + np.sum(scaled(x))


def f_np_array_copy_write(x):
    y = np.array(x)
    y[0] = 0.0
    return np.sum(y**2) + np.sum(x)


def f_astype_copy_write(x):
    y = x.astype(float)
    y[1] *= 3.0
    return np.sum(y**2) + x[1]


def f_np_copy_write(x):
    y = np.copy(x)
    y[2:] = np.tanh(y[2:])
    return np.sum(y**2)


def f_softplus_logaddexp(x):
    return np.sum(np.logaddexp(0, x))


def f_norm_keepdims(x):
    M = x[:4].reshape(2, 2)
    return np.sum(M / np.linalg.norm(M, axis=1, keepdims=True))


class Mode(enum.Enum):
    TRAIN = 1
    EVAL = 2


def f_enum(x, mode=Mode.TRAIN):
    if mode is Mode.TRAIN:
        return np.sum(x**2)
    return np.sum(x)


def f_enum_eval(x):
    return f_enum(x, Mode.EVAL) + f_enum(x)


class Cfg:
    EPS = 1e-3

    def __init__(self, scale):
        self.scale = scale

    def norm(self, v):
        return v / np.sqrt(np.sum(v**2) + self.EPS)


def f_class_const(x):
    c = Cfg(2.0)
    return np.sum(c.norm(x) * c.scale)


def f_list_slice_copy(x):
    hs = [x, x * 2]
    hs2 = hs[:]
    hs2[0] = np.sin(x)
    return np.sum(hs2[0] * hs[0])


def f_dict_comprehension_update(x):
    p = {"a": x, "b": x * 2}
    g = {k: 2 * v for k, v in p.items()}
    p = {k: p[k] - 0.1 * g[k] for k in p}
    return sum(np.sum(v**2) for v in p.values())


def f_ones_like_times(x):
    return np.sum(np.ones_like(x) * x + np.zeros_like(x) + np.full_like(x, 2.0) * x)


def f_empty_fill(x):
    out = np.empty(5)
    out.fill(0.5)
    out[1:3] = x[:2]
    return np.sum(out * x)


def f_rng_passed(x, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x.shape)
    return np.sum((x + 0.1 * noise) ** 2)


def f_global_rng(x):
    noise = np.random.RandomState(3).randn(*x.shape)
    return np.sum(x * noise)


def f_maximum_accumulate(x):
    return np.sum(np.maximum.accumulate(x) ** 2)


def f_cummax_loop(x):
    best = x[0]
    out = []
    for v in x:
        best = max(best, v)
        out.append(best)
    return sum(out)


def f_argmax_onehot(x):
    onehot = np.zeros_like(x)
    onehot[np.argmax(x)] = 1.0
    return np.sum(onehot * x**2)


def f_tuple_index_into_array(x):
    M = np.outer(x, x)
    idx = (np.array([0, 1]), np.array([2, 3]))
    return np.sum(M[idx] ** 2)


def f_boolean_mask_2d(x):
    M = np.outer(x, x)
    return np.sum(M[M > 0] ** 0.5)


def f_ravel_multi_index(x):
    M = np.outer(x, x)
    flat = np.ravel_multi_index((np.array([0, 1]), np.array([2, 3])), M.shape)
    return np.sum(M.ravel()[flat])


def f_unravel_argmax(x):
    M = np.outer(x, x)
    i, j = np.unravel_index(np.argmax(M), M.shape)
    return M[i, j]


CFG = types.SimpleNamespace(scale=0.5, depth=3)


def f_chained_sub_assign(x):
    n = len(x)
    K = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            K[i, j] = K[j, i] = np.exp(-((x[i] - x[j]) ** 2))
    return np.sum(K @ x)


def f_chained_names(x):
    a = b = x * 2
    return np.sum(a * b)


def gen_layers(ws):
    yield from ws


def f_yield_from(x):
    ws = [x[:2], x[2:4]]
    return sum(np.sum(w**2) for w in gen_layers(ws))


def f_namespace(x):
    h = x
    for _ in range(CFG.depth):
        h = np.tanh(CFG.scale * h + 0.1)
    return np.sum(h)


def f_mask_on_copy(x):
    y = x.copy()
    y[y < 0] = 0.0
    y[y > 1] *= 2.0
    return np.sum(y**2)


def f_out_relu(x):
    h = x * 3.0
    np.maximum(h, 0, out=h)
    return np.sum(h**2)


def f_fstring_keys(x):
    params = {f"W{i}": x[i : i + 2] for i in range(3)}
    total = 0.0
    for i in range(3):
        total = total + np.sum(params[f"W{i}"] ** 2) * (i + 1)
    return total


def f_fib_swap(x):
    a, b = x[0], x[1]
    for _ in range(5):
        a, b = b, a + b * 0.5
    return a * b


def f_newaxis(x):
    return np.sum(x[:, np.newaxis] * x[np.newaxis, :] + x[..., None])


def f_softmax_div_inplace(x):
    z = x.reshape(1, -1)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return np.sum(e * np.arange(5.0))


def f_params_get_default(x):
    p = {"W": x}
    gamma = p.get("gamma", 1.0)
    return np.sum(gamma * p["W"] ** 2)


def f_sum_of_list_arrays(x):
    terms = [x**2, np.sin(x)]
    return np.sum(sum(terms))


def f_np_add_at(x):
    out = np.zeros(3)
    np.add.at(out, [0, 1, 0, 2, 2], x)
    return np.sum(out**2)


def f_index_assign_slice_step(x):
    y = np.zeros(10)
    y[::2] = x
    y[1::2] = x**2
    return np.sum(np.cumsum(y) ** 2)


def f_where_assign_tuple(x):
    M = np.outer(x, x)
    i, j = np.triu_indices(5, k=1)
    return np.sum(M[i, j] ** 2)


def f_fill_diag_then(x):
    M = np.outer(x, x)
    np.fill_diagonal(M, 0.0)
    return np.sum(M**2)


def f_augassign_slice(x):
    y = x.copy()
    y[1:] += y[:-1]
    return np.sum(y**2)


def f_augassign_overlap_view(x):
    y = x.copy()
    y[1:] -= 0.5 * y[:-1].copy()
    return np.sum(y**3)


def f_lambda_list(x):
    acts = [np.tanh, lambda z: np.maximum(z, 0), np.sin]
    h = x
    for act in acts:
        h = act(h) + 0.1
    return np.sum(h)


def f_nested_def_default(x, k=2):
    def poly(v, p=k):
        return v**p

    return np.sum(poly(x)) + np.sum(poly(x, 3))


def f_partial(x):
    scale = functools.partial(np.multiply, 3.0)
    return np.sum(scale(x) ** 2)


def f_reversed_enumerate_list(x):
    hs = [x * (i + 1) for i in range(3)]
    t = 0.0
    for i, h in enumerate(reversed(hs)):
        t = t + i * np.sum(h**2)
    return t


def f_tuple_return_unpack(x):
    def stats(v):
        return v.mean(), v.std()

    m, s = stats(x)
    return m / s


def f_dict_of_tuples(x):
    d = {"a": (x[0], x[1]), "b": (x[2], x[3])}
    return sum(u * v for u, v in d.values())


def f_list_of_dicts(x):
    layers = [{"w": x[i], "b": 0.1 * i} for i in range(4)]
    h = 1.0
    for L in layers:
        h = np.tanh(L["w"] * h + L["b"])
    return h


SMOOTH = {"f_gen_filter", "f_any_gen", "f_dict_get_accumulate", "f_defaultdict",
          "f_counter_const", "f_nested_comprehension", "f_zip_dict_items",
          "f_enumerate_filtered", "f_lambda_tuple", "f_recursive_power", "f_star_args_helper",
          "f_kwargs_helper", "f_softplus_logaddexp", "f_norm_keepdims", "f_enum_eval",
          "f_class_const", "f_dict_comprehension_update", "f_ones_like_times", "f_rng_passed",
          "f_global_rng", "f_chained_sub_assign", "f_chained_names", "f_yield_from",
          "f_namespace", "f_fstring_keys", "f_fib_swap", "f_newaxis", "f_softmax_div_inplace",
          "f_params_get_default", "f_sum_of_list_arrays", "f_np_add_at",
          "f_index_assign_slice_step", "f_where_assign_tuple", "f_fill_diag_then",
          "f_augassign_slice", "f_augassign_overlap_view", "f_nested_def_default",
          "f_partial", "f_reversed_enumerate_list", "f_tuple_return_unpack",
          "f_dict_of_tuples", "f_list_of_dicts", "f_match"}  # fmt: skip
FUNCTIONS = [v for k, v in dict(globals()).items() if k.startswith("f_") and k != "f_enum"]

CASES = [Case(f.__name__[2:], f, (X5,), order=2 if f.__name__ in SMOOTH else 1) for f in FUNCTIONS]


@pytest.mark.parametrize("case", params(CASES))
def test_control_and_copies(case):
    check(case)


def inner_step_deepcopy(params, x):
    fast = copy.deepcopy(params)  # REFUSED
    fast["W"] -= 0.1 * params["W"]
    return np.sum(np.tanh(x @ fast["W"]) ** 2)


def inner_step_copied_items(params, x):
    fast = {k: v.copy() for k, v in params.items()}
    fast["W"] -= 0.1 * np.outer(x, x)[:, :2] * params["b"]
    return np.sum(np.tanh(x @ fast["W"]) ** 2) + np.sum(params["b"] ** 2)


P_INNER = {"W": np.full((3, 2), 0.3) + 0.1 * np.arange(6.0).reshape(3, 2), "b": np.ones(2)}


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("inner_step_copied_items", inner_step_copied_items, (P_INNER, X5[:3]), order=2),
            Case(
                "deepcopy_refused_with_the_copy_that_works",
                inner_step_deepcopy,
                (P_INNER, X5[:3]),
                refused=(sg.NoRuleError, "`{k: v.copy() for k, v in p.items()}`"),
            ),
        ]
    ),
)
def test_copies_of_parameters(case):
    check(case)


def defaultdict_argument(p, x):
    return np.sum(np.tanh(x @ p["W"]) ** 2) + p["missing"] * 0.0 + np.sum(p["b"] ** 2)


def test_defaultdict_argument():
    """A ``defaultdict`` of parameters: its gradient is a ``defaultdict`` with the same factory
    (the read of a missing key made one, as Python's call makes it)."""
    W, b, x = np.full((3, 2), 0.3), np.ones(2), X5[:3]

    def plain(W, b):
        return defaultdict_argument(collections.defaultdict(float, {"W": W, "b": b}), x)

    eps = 1e-6
    want_W = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[idx] = eps
        want_W[idx] = (plain(W + e, b) - plain(W - e, b)) / (2 * eps)
    df = sg.grad(defaultdict_argument)
    for _ in range(3):
        p = collections.defaultdict(float, {"W": W, "b": b})
        g = df(p, x)
        assert type(g) is collections.defaultdict and g.default_factory is float
        np.testing.assert_allclose(g["W"], want_W, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g["b"], 2 * b)
