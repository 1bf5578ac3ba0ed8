"""Programs written to meet NumPy's and Python's semantics where a derivative could go quietly
wrong: views written through, aliases in containers, in-place updates in loops, mutable
and keyword-only defaults, int and bool arrays mixed with floats, float32 parameters,
broadcasting in-place, ``np.random.Generator`` draws made outside, objects with class
attributes, ``*args``/``**kwargs`` helpers, early returns from loops. Each against Python's
value and central differences on calls 1-3, to second order where smooth; a refusal names
the line and the way out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(9303)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ in place


def running_normalise(x):
    y = x.copy()
    y -= y.mean(axis=0)
    y /= y.std(axis=0) + 1e-3
    return np.sum(y**3)


def row_writes_in_loop(W, x):
    h = np.zeros((3, W.shape[1]))
    h[0] = np.tanh(x @ W)
    for t in range(1, 3):
        h[t] = np.tanh(h[t - 1] @ W.T @ W * 0.5 + x @ W)
    return np.sum(h**2)


def masked_update(x, thresh=0.2):
    y = x * 1.0
    y[y < thresh] *= 0.1
    return np.sum(y**2)


def column_accumulate(A):
    out = np.zeros(A.shape[0])
    for j in range(A.shape[1]):
        out += A[:, j] ** 2
    return np.sum(np.sqrt(out))


def broadcast_iadd(x, b):
    y = np.zeros((4, 3))
    y += x[:, None]
    y += b
    return np.sum(np.sin(y))


def int_array_times_float(x, counts):
    weights = counts / counts.sum()
    return np.sum(weights * x**2) + np.sum(counts * x)


def bool_mask_as_float(x):
    mask = x > 0
    return np.sum(mask * x**2) + np.mean(mask) * np.sum(x)


def float32_parameters(w, X):
    h = np.tanh(X @ w)
    return np.sum(h**2)


def cumulative_in_loop(x):
    s = 0.0
    acc = []
    for v in x:
        s = s + v
        acc.append(s)
    return np.sum(np.array(acc) ** 2)


def swap_by_copy(x):
    y = x.copy()
    y[[0, 1]] = y[[1, 0]]
    return np.sum(y * np.arange(len(y)))


def fancy_accumulate(x, idx):
    out = np.zeros(4)
    np.add.at(out, idx, x)
    return np.sum(out**2)


def diag_write(A):
    B = A @ A.T
    B[np.diag_indices(3)] += 1.0
    return np.linalg.slogdet(B)[1]


# ------------------------------------------------------------------ defaults and keywords


def loss_with_kwonly(w, X, *, reg=0.1, act=np.tanh, mean=True):
    h = act(X @ w)
    data = np.mean(h**2) if mean else np.sum(h**2)
    return data + reg * np.sum(w**2)


def calls_kwonly(w, X):
    return loss_with_kwonly(w, X, reg=0.5) + loss_with_kwonly(w, X, act=np.sin, mean=False)


def helper_star(*arrays, scale=1.0, **extras):
    total = 0.0
    for a in arrays:
        total = total + scale * np.sum(a**2)
    for k, v in extras.items():
        total = total + np.sum(v) * (2.0 if k == "double" else 1.0)
    return total


def uses_star_helper(a, b):
    return helper_star(a, b, a * b, scale=0.5, double=b, plain=a)


def vector_star(*arrays, **extras):
    out = arrays[0] * 0.0
    for a in arrays:
        out = out + a**2
    for v in extras.values():
        out = out * v
    return out


def star_kwargs_vector(a, b):
    return vector_star(a, b, w=a + 1.0, u=b)


def default_tuple_config(x, cfg=(0.5, 2)):
    alpha, power = cfg
    return np.sum(alpha * x**power)


def dict_config(x, cfg):
    y = x
    for _ in range(cfg["steps"]):
        y = y - cfg["lr"] * np.cos(y)
    return np.sum(y**2)


# ------------------------------------------------------------------ objects


class Counter:
    scale = 2.0  # a class attribute read through self

    def __init__(self, w):
        self.w = w
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return np.tanh(x * self.w) * self.scale


def object_with_class_attribute(w, x):
    c = Counter(w)
    return np.sum(c(x) ** 2) + np.sum(c(2 * x))


class Polynomial:
    def __init__(self, coeffs):
        self.coeffs = list(coeffs)

    def __call__(self, x):
        out = np.zeros_like(x)
        for c in reversed(self.coeffs):
            out = out * x + c
        return out

    def deriv(self):
        return Polynomial([i * c for i, c in enumerate(self.coeffs)][1:])


def polynomial_object(coeffs, x):
    p = Polynomial(coeffs)
    return np.sum(p(x) ** 2) + np.sum(p.deriv()(x))


class AliasedStore:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        other = self
        self.out = x * self.W
        other.out = x * 2.0
        return self.out


def store_through_an_alias(W, x):
    return np.sum(AliasedStore(W).forward(x))  # REFUSED


@dataclasses.dataclass
class FactoryLayer:
    W: np.ndarray
    b: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


def dataclass_default_factory(W, x):
    return np.sum(FactoryLayer(W)(x) ** 2)  # REFUSED


def dataclass_factory_field_given(W, x):
    return np.sum(FactoryLayer(W, b=np.zeros(2))(x) ** 2)


# ------------------------------------------------------------------ control flow


def first_negative_index_loss(x):
    for i, v in enumerate(x):
        if v < 0:
            return np.sum(x[:i] ** 2) + v
    return np.sum(x**2)


def newton_sqrt(a, tol=1e-12):
    x = a
    while True:
        nxt = 0.5 * (x + a / x)
        if abs(nxt - x) < tol:
            break
        x = nxt
    return x


def bisection_inner(c):
    """Root of x**3 + c*x - 1 by bisection: piecewise constant in c (zero gradient
    almost everywhere), as Python's float computes it."""
    lo, hi = 0.0, 2.0
    while hi - lo > 1e-3:
        mid = 0.5 * (lo + hi)
        if mid**3 + c * mid - 1 > 0:
            hi = mid
        else:
            lo = mid
    return c * lo


def generator_drawn_outside(w, noise):
    return np.sum((w + noise) ** 2)


def rng_in_loss(w, seed):
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(w.shape)
    return np.sum(np.exp(w + 0.1 * eps))


# ------------------------------------------------------------------ data

W = r(3, 4)
x3 = r(3)

CASES = [
    Case("running_normalise_inplace", running_normalise, (r(5, 3),), order=2),
    Case("row_writes_in_loop", row_writes_in_loop, (0.5 * W, x3), wrt=(0, 1), order=2),
    Case("masked_inplace_update", masked_update, (r(6),), order=2),
    Case("column_accumulate", column_accumulate, (r(4, 3),), order=2),
    Case("broadcast_iadd", broadcast_iadd, (r(4), r(3)), wrt=(0, 1), order=2),
    Case("int_counts_times_float", int_array_times_float, (r(4), np.array([1, 3, 0, 2])), order=2),
    Case("bool_mask_as_float", bool_mask_as_float, (r(6),), order=2),
    Case(
        "float32_parameters",
        float32_parameters,
        (r(3).astype(np.float32), r(5, 3).astype(np.float32)),
        rtol=2e-2,
        atol=2e-3,
    ),
    Case("cumulative_list_in_loop", cumulative_in_loop, (r(5),), order=2),
    Case("swap_rows_of_copy", swap_by_copy, (r(4),), order=2),
    Case("add_at_repeated", fancy_accumulate, (r(5), np.array([0, 1, 1, 3, 0])), order=2),
    Case("diag_indices_write", diag_write, (r(3, 3),), order=2),
    Case("kwonly_defaults_and_function", calls_kwonly, (r(3), r(5, 3)), wrt=(0, 1), order=2),
    Case("star_helper_with_kwargs", uses_star_helper, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("default_tuple_config", default_tuple_config, (np.abs(r(3)) + 0.5,), order=2),
    Case("dict_config_steps", dict_config, (r(3), {"steps": 3, "lr": 0.1}), order=2),
    Case("star_kwargs_helper_jacobian", star_kwargs_vector, (r(3), r(3)), kind="jac"),
    Case(
        "read_back_after_a_store_through_an_alias",
        store_through_an_alias,
        (r(3), r(3)),
        refused=(sg.UnsupportedSyntaxError, "return the value from the method"),
    ),
    Case(
        "dataclass_default_factory",
        dataclass_default_factory,
        (r(3, 2), r(4, 3)),
        refused=(sg.NoRuleError, "give `b` where you build it"),
    ),
    Case(
        "dataclass_factory_field_given",
        dataclass_factory_field_given,
        (r(3, 2), r(4, 3)),
        order=2,
    ),
    Case("polynomial_object_deriv", polynomial_object, ([0.5, -1.0, 2.0], r(4)), wrt=(0, 1)),
    Case(
        "early_return_in_enumerate", first_negative_index_loss, (np.array([1.0, 2.0, -0.5, 3.0]),)
    ),
    Case("newton_sqrt_while_true", newton_sqrt, (2.0,), order=2),
    Case("bisection_piecewise_constant", bisection_inner, (0.7,), atol=1e-4),
    Case("generator_draws_outside", generator_drawn_outside, (r(3), R.normal(size=3)), order=2),
    Case("rng_seeded_in_loss", rng_in_loss, (r(3), 5), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_semantics(case):
    check(case)


def test_counter_kept_in_an_object_made_in_the_loss_is_followed():
    """``self.calls += 1`` in ``__call__`` of an object the loss makes and calls twice in one
    expression: the object dies with the call, its state is followed (value, gradient, order 2)."""
    check(
        Case("counter_made_inside", object_with_class_attribute, (r(3), r(3)), wrt=(0, 1), order=2)
    )
