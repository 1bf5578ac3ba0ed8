"""Objectives written for ``scipy.optimize.minimize`` and for hand-rolled training loops:
``fun(x, *args)`` with a flat parameter vector unpacked inside, ``args`` tuples and
``**kwargs`` settings, keyword-only options, closures built by a factory, f-strings in
asserts, early returns, ``while`` loops that stop on a tolerance, the ``math`` module on
floats, ``for W, b in params`` over a list of pairs, ``enumerate``/``zip`` with weights, a
``functools.partial`` objective. Each against Python's value and central differences on
calls 1-3, to second order where smooth."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(7004)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ classic test functions


def rosen(x):
    """scipy.optimize.rosen, as written there."""
    x = np.asarray(x)
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0, axis=0)


def rastrigin(x, A=10):
    return A * len(x) + sum(xi**2 - A * math.cos(2 * math.pi * xi) for xi in x)


def ackley(x, a=20.0, b=0.2, c=2 * np.pi):
    d = x.size
    s1 = np.sum(x**2)
    s2 = np.sum(np.cos(c * x))
    return -a * np.exp(-b * np.sqrt(s1 / d)) - np.exp(s2 / d) + a + math.e


def beale(xy):
    x, y = xy
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def styblinski_tang(x):
    return 0.5 * np.sum(x**4 - 16 * x**2 + 5 * x)


def himmelblau_math(v):
    x, y = float(v[0]), float(v[1])
    return math.pow(x * x + y - 11, 2) + math.pow(x + y * y - 7, 2)


# ------------------------------------------------------------------ fun(x, *args)


def unpack(x, shapes):
    out, i = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(x[i : i + n].reshape(shape))
        i += n
    return out


def mlp_flat_objective(x, X, y, shapes, alpha):
    W1, b1, W2, b2 = unpack(x, shapes)
    h = np.tanh(X @ W1 + b1)
    pred = (h @ W2 + b2).ravel()
    return 0.5 * np.mean((pred - y) ** 2) + alpha * (np.sum(W1**2) + np.sum(W2**2))


def nls_residuals(p, t, y):
    a, k, c = p
    return a * np.exp(-k * t) + c - y


def nls_objective(p, *args):
    res = nls_residuals(p, *args)
    return 0.5 * res @ res


def weighted_objective(theta, X, y, **kwargs):
    w = kwargs.get("weights", np.ones(len(y)))
    reg = kwargs.get("reg", 0.0)
    pred = X @ theta
    return np.sum(w * (pred - y) ** 2) + reg * theta @ theta


def kwonly_objective(theta, X, y, *, loss="l2", delta=1.0):
    res = X @ theta - y
    if loss == "l2":
        return np.mean(res**2)
    elif loss == "l1":
        return np.mean(np.abs(res))
    absr = np.abs(res)
    quad = np.minimum(absr, delta)
    return np.mean(0.5 * quad**2 + delta * (absr - quad))


def kwonly_huber_caller(theta, X, y):
    return kwonly_objective(theta, X, y, loss="huber", delta=0.5) + kwonly_objective(
        theta, X, y, loss="l1"
    )


def make_objective(X, y, l2):
    n = len(y)

    def objective(w):
        z = X @ w
        return np.sum(np.logaddexp(0, -y * z)) / n + 0.5 * l2 * w @ w

    return objective


OBJ = make_objective(r(7, 3), np.sign(r(7)), 0.1)


def closure_objective(w):
    return OBJ(w) + OBJ(2 * w)


def partial_loss(w, X, y, power):
    return np.sum(np.abs(X @ w - y) ** power)


PARTIAL = functools.partial(partial_loss, power=3)


def partial_objective(w, X, y):
    return PARTIAL(w, X, y) + PARTIAL(w, X=X, y=-y)


# ------------------------------------------------------------------ Python idioms


def pairs_mlp(params, x, y):
    h = x
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0.01 * h)
    assert h.shape == y.shape, f"shape mismatch: {h.shape} vs {y.shape}"
    return np.mean((h - y) ** 2)


def weighted_sum_of_losses(preds, targets, weights):
    total = 0.0
    for k, (p, t, w) in enumerate(zip(preds, targets, weights)):
        total += w * np.sum((p - t) ** 2) / (k + 1)
    return total


def early_return_piecewise(x, threshold=1.0):
    n = np.linalg.norm(x)
    if n < 1e-12:
        return 0.0
    if n > threshold:
        return threshold * (2 * n - threshold)
    return n**2


def newton_sqrt(a, tol=1e-12):
    x = a if a > 1 else 1.0
    while abs(x * x - a) > tol:
        x = 0.5 * (x + a / x)
    return x


def newton_solve_use(a, b):
    return newton_sqrt(a) * b + newton_sqrt(a + b)


def fixed_point_cos(c, tol=1e-10, maxiter=200):
    """x = c cos(x) by iteration until the step is below tol: the derivative of the loop."""
    x, it = 0.0, 0
    while True:
        x_new = c * math.cos(x)
        it += 1
        if abs(x_new - x) < tol or it >= maxiter:
            break
        x = x_new
    return x_new


def bisection_root(p, lo=0.0, hi=2.0):
    """Root of x^3 + p x - 1 by bisection; the derivative passes through the comparisons only
    as the final midpoint, which does not depend on p smoothly: the value is checked alone."""
    while hi - lo > 1e-12:
        mid = 0.5 * (lo + hi)
        if mid**3 + p * mid - 1 > 0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def gradient_descent_inner(w0, X, y, lr=0.1, tol=1e-8, max_steps=100):
    w = w0
    step = 0
    while step < max_steps:
        g = X.T @ (X @ w - y) / len(y)
        if np.linalg.norm(g) < tol:
            break
        w = w - lr * g
        step += 1
    return np.sum(w**2)


def dict_comprehension_reg(params, x):
    norms = {name: np.sum(p**2) for name, p in params.items() if name.startswith("W")}
    out = np.tanh(x @ params["W1"] + params["b1"]) @ params["W2"]
    return np.sum(out**2) + 0.01 * sum(norms.values())


def sorted_keys_loss(params, x):
    h = x
    for name in sorted(params):
        h = np.tanh(h @ params[name])
    return float(np.sum(h))


def max_of_list_loss(ws, x):
    scores = [float(np.dot(w, x)) for w in ws]
    best = max(scores)
    return best + math.log(sum(math.exp(s - best) for s in scores))


def star_unpack_layers(params, x):
    *hidden, last = params
    for W in hidden:
        x = np.tanh(x @ W)
    return np.sum((x @ last) ** 2)


def string_dispatch_activation(W, x, acts=("tanh", "relu", "softplus")):
    h = x
    for act in acts:
        h = h @ W
        match act:
            case "tanh":
                h = np.tanh(h)
            case "relu":
                h = np.maximum(h, 0)
            case _:
                h = np.log1p(np.exp(h))
    return np.sum(h**2)


def walrus_accumulate(x, W):
    total = 0.0
    for row in x:
        if (s := np.sum(np.tanh(row @ W))) > -10:
            total += s**2
    return total


def lambda_table_loss(x, w):
    ops = {
        "sq": lambda v: v**2,
        "sin": np.sin,
        "soft": lambda v, beta=2.0: np.log1p(np.exp(beta * v)) / beta,
    }
    return sum(np.sum(fn(x * w)) for fn in ops.values())


def recursive_horner(coeffs, x):
    if len(coeffs) == 1:
        return coeffs[0]
    return coeffs[0] + x * recursive_horner(coeffs[1:], x)


def horner_loss(c, x):
    return np.sum(recursive_horner(c, x) ** 2)


# ------------------------------------------------------------------ cases

SHAPES = [(3, 4), (4,), (4, 1), (1,)]
NPAR = sum(int(np.prod(s)) for s in SHAPES)
T = np.linspace(0, 2, 8)
Y_NLS = 2.0 * np.exp(-1.3 * T) + 0.5 + 0.01 * r(8)
X5 = r(5, 3)

CASES = [
    Case("scipy_rosen", rosen, (np.array([-1.2, 1.0, 0.8, 1.1]),), order=2),
    Case("rastrigin_math_generator", rastrigin, (np.array([0.3, -0.7, 1.2]),)),
    Case("ackley_math_e", ackley, (r(4),), order=2),
    Case("beale_tuple_unpack", beale, (np.array([1.2, 0.4]),), order=2),
    Case("styblinski_tang", styblinski_tang, (r(5),), order=2),
    Case("himmelblau_math_pow_float", himmelblau_math, (np.array([1.5, -0.5]),), order=2),
    Case(
        "mlp_flat_vector_args_tuple",
        mlp_flat_objective,
        (0.3 * r(NPAR), r(6, 3), r(6), SHAPES, 0.01),
        order=2,
    ),
    Case("nls_star_args", nls_objective, (np.array([1.5, 1.0, 0.3]), T, Y_NLS), order=2),
    Case(
        "weighted_kwargs_get",
        weighted_objective,
        (r(3), X5, r(5)),
        order=2,
    ),
    Case("kwonly_loss_select", kwonly_huber_caller, (r(3), X5, r(5))),
    Case("closure_factory_objective", closure_objective, (r(3),), order=2),
    Case("partial_keywords", partial_objective, (r(3), X5, r(5))),
    Case(
        "enumerate_pairs_fstring_assert",
        pairs_mlp,
        ([(0.5 * r(3, 4), r(4)), (0.5 * r(4, 2), r(2))], X5, r(5, 2)),
    ),
    Case(
        "zip_three_weighted",
        weighted_sum_of_losses,
        ([r(3), r(2, 2)], [r(3), r(2, 2)], [0.5, 2.0]),
        wrt=(0, 1),
        order=2,
    ),
    Case("early_return_outer", early_return_piecewise, (np.array([1.0, 2.0, -0.5]),), order=2),
    Case("early_return_inner", early_return_piecewise, (np.array([0.1, 0.2, -0.05]),), order=2),
    Case("newton_sqrt_while_tol", newton_solve_use, (2.5, 0.7), wrt=(0, 1), rtol=1e-4),
    Case("fixed_point_while_true_break", fixed_point_cos, (0.6,), rtol=1e-4),
    Case("gd_inner_while_break", gradient_descent_inner, (r(3), X5, r(5)), wrt=(0, 2), order=2),
    Case(
        "dict_comprehension_filtered_reg",
        dict_comprehension_reg,
        ({"W1": r(3, 4), "b1": r(4), "W2": r(4, 2)}, X5),
        order=2,
    ),
    Case(
        "sorted_keys_loop",
        sorted_keys_loss,
        ({"b": 0.5 * r(3, 3), "a": 0.5 * r(3, 3)}, X5),
        order=2,
    ),
    Case(
        "max_of_list_logsumexp", max_of_list_loss, ([r(3), r(3), r(3)], r(3)), wrt=(0, 1), order=2
    ),
    Case(
        "star_unpack_hidden_last",
        star_unpack_layers,
        ([0.5 * r(3, 4), 0.5 * r(4, 4), r(4, 1)], X5),
        order=2,
    ),
    Case("match_string_activation", string_dispatch_activation, (0.5 * r(3, 3), X5), wrt=(0, 1)),
    Case("walrus_in_loop_condition", walrus_accumulate, (X5, r(3, 2)), wrt=(0, 1), order=2),
    Case("lambda_dict_default_arg", lambda_table_loss, (r(4), r(4)), wrt=(0, 1), order=2),
    Case("recursive_horner_slices", horner_loss, (r(4), r(5)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_optimize_style(case):
    check(case)


def test_bisection_value_and_zero_gradient():
    """The bisection's result is made of comparisons: Python's value, and the derivative
    the code has (its output does not depend on p through differentiable operations)."""
    import sourcegrad as sg

    for _ in range(3):
        value, g = sg.value_and_grad(bisection_root)(0.5)
        assert value == bisection_root(0.5)
        assert g == 0.0
