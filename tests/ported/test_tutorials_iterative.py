"""Iterative methods and everyday library calls in scientific scripts: conjugate gradients
under ``while np.linalg.norm(r) > tol``, Jacobi and Gauss-Seidel sweeps writing one entry at
a time, the secant method on floats, the power method normalising in place, simulations that
clamp with a mask write (``u[u < 0] = 0.0``), autoregressive paths filled into
``np.zeros_like``, SciPy's frozen distributions (``norm(mu, sigma).logpdf(x)``),
``np.fill_diagonal`` on a kernel, ``math.fsum``, ``np.einsum`` row products; and clean
refusals of what has no rule (``odeint``, ``np.vectorize``). Each
against Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

stats = pytest.importorskip("scipy.stats", reason="frozen distributions come from scipy.stats")
from scipy.integrate import odeint  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

R = np.random.default_rng(77)


def r(*s):
    return R.standard_normal(s)


def conjugate_gradient(M, b):
    """CG needs a symmetric matrix: made from M, so that every perturbation keeps it one (the
    trip count of the `while` stays that of the unperturbed solve)."""
    A = M @ M.T + np.eye(M.shape[0])
    x = np.zeros_like(b)
    res = b - A @ x
    p = res.copy()
    rs = res @ res
    while np.sqrt(rs) > 1e-10:
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x = x + alpha * p
        res = res - alpha * Ap
        rs_new = res @ res
        p = res + (rs_new / rs) * p
        rs = rs_new
    return np.sum(x**2) + x[0]


def jacobi(A, b):
    x = np.zeros_like(b)
    D = np.diag(A)
    off = A - np.diagflat(D)
    for _ in range(25):
        x = (b - off @ x) / D
    return np.sum(x * np.arange(1, b.size + 1))


def gauss_seidel(A, b):
    n = b.size
    x = np.zeros(n)
    for _ in range(10):
        for i in range(n):
            s = 0.0
            for j in range(n):
                if j != i:
                    s += A[i, j] * x[j]
            x[i] = (b[i] - s) / A[i, i]
    return np.sum(x**2)


def secant_root(a, b):
    """The root of x**3 + a x - b by the secant method, on floats."""
    x0, x1 = 0.0, 1.0
    f0 = x0**3 + a * x0 - b
    for _ in range(40):
        f1 = x1**3 + a * x1 - b
        if abs(f1 - f0) < 1e-300:
            break
        x0, x1, f0 = x1, x1 - f1 * (x1 - x0) / (f1 - f0), f1
        if abs(x1 - x0) < 1e-13:
            break
    return x1


def power_method(A):
    v = np.ones(A.shape[0])
    for _ in range(60):
        v = A @ v
        v /= np.linalg.norm(v)
    return v @ A @ v


def clamped_diffusion(u0, rate):
    u = u0.copy()
    for _ in range(6):
        u = u + rate * (np.roll(u, 1) + np.roll(u, -1) - 2 * u) - 0.3
        u[u < 0] = 0.0
    return np.sum(u**2)


def ar_path(phi, noise):
    x = np.zeros_like(noise)
    x[0] = noise[0]
    for i in range(1, len(noise)):
        x[i] = phi * x[i - 1] + noise[i]
    return np.mean(x**2)


def frozen_normal(mu, sigma, x):
    dist = stats.norm(mu, sigma)  # REFUSED
    return -np.sum(dist.logpdf(x))


def norm_method_with_parameters(mu, sigma, x):
    """The way out the refusal gives."""
    return -np.sum(stats.norm.logpdf(x, mu, sigma))


def gp_fill_diagonal(log_noise, X, y):
    K = np.exp(-0.5 * (X[:, None] - X[None, :]) ** 2)
    np.fill_diagonal(K, K.diagonal() + np.exp(log_noise))
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1]


def gp_diagonal_added(log_noise, X, y):
    """The way out the refusal gives."""
    K = np.exp(-0.5 * (X[:, None] - X[None, :]) ** 2)
    n = X.size
    K = K * (1 - np.eye(n)) + (K.diagonal() + np.exp(log_noise)) * np.eye(n)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1]


def fsum_energy(xs):
    return math.fsum([float(x) ** 2 for x in xs])


def einsum_rows(A, B):
    return np.sum(np.einsum("ij,ij->i", A, B) ** 2) + np.einsum("ii", A[:, :3] @ B[:, :3].T)


def kde_loglik(log_bw, data, x):
    bw = np.exp(log_bw)
    z = (x[:, None] - data[None, :]) / bw
    logk = -0.5 * z**2 - 0.5 * np.log(2 * np.pi) - log_bw
    return -np.sum(logsumexp(logk, axis=1, b=1.0 / data.size))


def top_k_mean(x, k):
    return np.mean(np.sort(x)[-k:])


def reorder_by_time(values, times):
    order = np.argsort(times)
    v = values[order]
    return np.sum(np.diff(v) ** 2)


def wealth_path(weights, returns):
    port = returns @ weights
    wealth = np.cumprod(1.0 + port)
    return -np.log(wealth[-1]) + 0.5 * np.var(port)


def drawdown(weights, returns):
    wealth = np.cumprod(1.0 + returns @ weights)
    peak = np.maximum.accumulate(wealth)
    return np.max((peak - wealth) / peak)


def odeint_decay(k):
    t = np.linspace(0.0, 1.0, 5)
    y = odeint(lambda y, t: -k * y, 1.0, t)  # REFUSED
    return np.sum(y)


def decay_rhs(y, t, k):
    return -k * y


def odeint_module_function(k):
    t = np.linspace(0.0, 1.0, 5)
    y = odeint(decay_rhs, 1.0, t, args=(k,))  # REFUSED
    return np.sum(y)


def vectorized_piecewise(x):
    f = np.vectorize(lambda v: v**2 if v > 0 else -v)
    return np.sum(f(x))  # REFUSED


def change_of_variables(W, z):
    x = np.tanh(z @ W)
    logdet = np.log(np.abs(np.linalg.det(W)))
    return -np.sum(x**2) + logdet


def source_term_loop(u0, amp):
    x = np.linspace(0.0, 1.0, u0.size)
    u, t, dt = u0, 0.0, 0.05
    while t < 0.5:
        u = u + dt * (amp * np.sin(np.pi * x) * np.exp(-t) - u)
        t += dt
    return np.sum(u**2)


def params_by_keyword(t, amplitude, rate, phase):
    return amplitude * np.exp(-rate * t) * np.cos(3.0 * t + phase)


def fit_keyword_model(params, t, y):
    return np.sum((params_by_keyword(t, **params) - y) ** 2)


SPD = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
DIAG_DOM = SPD + np.diag([2.0, 2.0, 2.0])
T_OBS = np.linspace(0.0, 2.0, 7)

CASES = [
    Case("conjugate_gradient_while_norm", conjugate_gradient, (SPD, r(3)), wrt=(0, 1), rtol=1e-4),
    Case("jacobi_diagflat", jacobi, (DIAG_DOM, r(3)), wrt=(0, 1), order=2),
    Case("gauss_seidel_entrywise", gauss_seidel, (DIAG_DOM, r(3)), wrt=(0, 1), order=2),
    Case("secant_root_floats", secant_root, (2.0, 4.0), wrt=(0, 1), rtol=1e-4),
    Case("power_method_inplace_normalise", power_method, (SPD,), rtol=1e-4),
    Case("clamp_by_mask_write", clamped_diffusion, (np.abs(r(8)) + 0.2, 0.2), wrt=(0, 1), order=2),
    Case("ar_path_zeros_like", ar_path, (0.7, r(9)), wrt=(0, 1), order=2),
    Case(
        "frozen_norm_logpdf",
        frozen_normal,
        (0.3, 1.4, r(6)),
        wrt=(0, 1, 2),
        refused=(sg.NoRuleError, "scipy.stats.norm.logpdf(x, loc, scale)"),
    ),
    Case(
        "norm_logpdf_with_parameters",
        norm_method_with_parameters,
        (0.3, 1.4, r(6)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "fill_diagonal_kernel",
        gp_fill_diagonal,
        (-1.0, np.linspace(0, 1, 5), r(5)),
        order=2,
    ),
    Case("diagonal_added", gp_diagonal_added, (-1.0, np.linspace(0, 1, 5), r(5)), order=2),
    Case("math_fsum", fsum_energy, (r(4),), order=2),
    Case("einsum_row_products", einsum_rows, (r(4, 3), r(4, 3)), wrt=(0, 1), order=2),
    Case("kde_logsumexp_b", kde_loglik, (-1.0, r(6), r(4)), wrt=(0, 1, 2), order=2),
    Case("top_k_mean", top_k_mean, (r(7), 3), order=2),
    Case("argsort_reorder", reorder_by_time, (r(6), r(6)), order=2),
    Case("wealth_cumprod", wealth_path, (np.full(3, 1 / 3), 0.01 * r(12, 3)), order=2),
    Case(
        "drawdown_accumulate",
        drawdown,
        (np.full(3, 1 / 3), 0.01 * r(12, 3)),
        order=2,
    ),
    Case(
        "odeint_refused",
        odeint_decay,
        (0.5,),
        refused=(
            sg.UnsupportedSyntaxError,
            "it is passed to `odeint`, which has no derivative rule",
        ),
    ),
    Case(
        "odeint_module_rhs_refused",
        odeint_module_function,
        (0.5,),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp(odeint, rule)"),
    ),
    Case(
        "np_vectorize_refused",
        vectorized_piecewise,
        (r(5),),
        refused=(sg.SourcegradError, "vectorize"),
    ),
    Case(
        "change_of_variables_det",
        change_of_variables,
        (np.eye(2) + 0.3 * r(2, 2), r(5, 2)),
        wrt=(0, 1),
        order=2,
    ),
    Case("source_term_while_t", source_term_loop, (r(6), 0.8), wrt=(0, 1), order=2),
    Case(
        "params_as_keywords",
        fit_keyword_model,
        ({"amplitude": 1.2, "rate": 0.5, "phase": 0.1}, T_OBS, r(7)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_iterative(case):
    check(case)
