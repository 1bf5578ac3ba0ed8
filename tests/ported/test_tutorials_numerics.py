"""Numerical code as engineers and analysts write it: Black-Scholes prices and Greeks (SciPy's
``norm.cdf``, ``math.erf`` on floats), Monte Carlo pricing with a fixed array of normals,
bond yields, implied volatility by Newton; FIR and IIR filters, ``np.convolve`` smoothing,
autocorrelation, power spectra by FFT (refused at the user's line); polynomial fits by
``np.polyval``, Horner loops, Chebyshev recurrences and ``np.linalg.lstsq``; 0-d arrays and
Python floats mixed, boolean and integer masks, ``np.where``/``np.clip``/``np.maximum``. Each
against Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

scipy_stats = pytest.importorskip("scipy.stats", reason="Black-Scholes uses scipy.stats.norm")
norm = scipy_stats.norm
R = np.random.default_rng(612)
Z = R.standard_normal(64)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ finance


def black_scholes_call(S, K, T, rate, sigma):
    d1 = (np.log(S / K) + (rate + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    d2 = d1 - sigma * np.sqrt(T)
    return S * norm.cdf(d1) - K * np.exp(-rate * T) * norm.cdf(d2)


def phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black_scholes_put_math(S, K, T, rate, sigma):
    """The same written with the math module on Python floats."""
    sd = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (rate + sigma * sigma / 2) * T) / sd
    d2 = d1 - sd
    return K * math.exp(-rate * T) * phi(-d2) - S * phi(-d1)


def book_value(spots, strikes, vols):
    """A book of calls priced at once, array in array out."""
    return black_scholes_call(spots, strikes, 0.5, 0.01, vols)


def mc_call(S0, sigma, z, K, T, rate):
    ST = S0 * np.exp((rate - 0.5 * sigma**2) * T + sigma * np.sqrt(T) * z)
    payoff = np.maximum(ST - K, 0.0)
    return np.exp(-rate * T) * np.mean(payoff)


def mc_asian(S0, sigma, z_paths):
    n_steps = z_paths.shape[1]
    dt = 1.0 / n_steps
    log_paths = np.log(S0) + np.cumsum(
        (0.02 - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z_paths, axis=1
    )
    avg = np.exp(log_paths).mean(axis=1)
    return np.exp(-0.02) * np.mean(np.clip(avg - 100.0, 0.0, None))


def bond_price(y, coupons, times):
    return np.sum(coupons / (1 + y) ** times)


def duration_convexity(y, coupons, times):
    price = bond_price(y, coupons, times)
    dP = sg.grad(bond_price)(y, coupons, times)
    return -dP / price


def implied_vol(price, S, K, T):
    sigma = 0.3
    for _ in range(50):
        d1 = (np.log(S / K) + 0.5 * sigma**2 * T) / (sigma * np.sqrt(T))
        model = S * norm.cdf(d1) - K * norm.cdf(d1 - sigma * np.sqrt(T))
        vega = S * norm.pdf(d1) * np.sqrt(T)
        step = (model - price) / vega
        sigma = sigma - step
        if abs(step) < 1e-13:
            break
    return sigma


def portfolio_objective(logits, mu, cov, risk_aversion):
    w = np.exp(logits) / np.sum(np.exp(logits))
    ret = w @ mu
    var = w @ cov @ w
    return -(ret - 0.5 * risk_aversion * var)


def sharpe(w, returns):
    port = returns @ w
    return -np.mean(port) / np.std(port, ddof=1)


# ------------------------------------------------------------------ signals


def fir_loop(b, x):
    y = np.zeros(len(x))
    for n in range(len(x)):
        for k in range(len(b)):
            if n - k >= 0:
                y[n] += b[k] * x[n - k]
    return np.sum(y**2)


def iir_first_order(a, x):
    y = np.zeros_like(x)
    y[0] = x[0]
    for n in range(1, len(x)):
        y[n] = a * y[n - 1] + (1 - a) * x[n]
    return np.sum((y - 0.5) ** 2)


def smooth_convolve(kernel, signal, target):
    k = kernel / np.sum(kernel)
    smooth = np.convolve(signal, k, mode="same")
    return np.mean((smooth - target) ** 2)


def autocorr_energy(x):
    xc = x - x.mean()
    ac = np.correlate(xc, xc, mode="full")[len(x) - 1 :]
    ac = ac / ac[0]
    return np.sum(ac[1:4] ** 2)


def windowed_energy(x):
    w = np.hanning(len(x))
    return np.sum((w * x) ** 2) / np.sum(w**2)


def power_spectrum(x):
    X = np.fft.rfft(x)  # REFUSED
    return np.sum(np.abs(X) ** 2)


def moving_average_cumsum(x, n):
    c = np.cumsum(np.insert(x, 0, 0.0))
    ma = (c[n:] - c[:-n]) / n
    return np.sum(ma**2)


def insert_and_delete(x, v):
    """Regression: np.insert and np.delete had no rule (refused)."""
    y = np.insert(x, [1, 3], v)
    z = np.delete(y, 0)
    return np.sum(np.sin(y) * np.arange(y.size)) + np.sum(z**3)


def insert_along_axis(X, v):
    return np.sum(np.insert(X, 1, v, axis=1) ** 3) + np.sum(np.delete(X, [0, 2], axis=1) ** 2)


# ------------------------------------------------------------------ polynomials and fits


def horner(coeffs, x):
    y = np.zeros_like(x)
    for c in coeffs:
        y = y * x + c
    return y


def poly_fit_loss(coeffs, x, y):
    return np.mean((horner(coeffs, x) - y) ** 2) + np.mean((np.polyval(coeffs, x) - y) ** 2)


def chebyshev_series(c, x):
    T_prev, T = np.ones_like(x), x
    s = c[0] * T_prev + c[1] * T
    for k in range(2, len(c)):
        T_prev, T = T, 2 * x * T - T_prev
        s = s + c[k] * T
    return np.sum(s**2)


def lstsq_residual(X, y):
    coef, residuals, rank, sv = np.linalg.lstsq(X, y, rcond=None)
    return np.sum((X @ coef - y) ** 2) + np.sum(coef**2)


def lstsq_first(X, y):
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return beta[0] ** 2 + np.sum(beta)


def detrend_polyfit(x, y):
    """Regression: np.polyfit had no rule. A quadratic trend removed, then the residual's
    energy."""
    trend = np.polyval(np.polyfit(x, y, 2), x)
    return np.sum((y - trend) ** 2) + np.sum(np.polyfit(x, np.stack([y, y**2], axis=1), 1) ** 2)


def weighted_polyfit(x, y):
    c = np.polyfit(x, y, 1, w=1.0 / (1.0 + x**2))  # REFUSED
    return np.sum(c)


def vander_normal_equations(x, y):
    V = np.vander(x, 3)
    coef = np.linalg.solve(V.T @ V, V.T @ y)
    return np.sum((V @ coef - y) ** 2) + coef[0]


def ridge_validation(log_lam, Xtr, ytr, Xva, yva):
    lam = np.exp(log_lam)
    d = Xtr.shape[1]
    w = np.linalg.solve(Xtr.T @ Xtr + lam * np.eye(d), Xtr.T @ ytr)
    return np.mean((Xva @ w - yva) ** 2)


def unrolled_gd_ridge(lam, X, y):
    w = np.zeros(X.shape[1])
    for _ in range(15):
        grad = X.T @ (X @ w - y) / len(y) + lam * w
        w = w - 0.1 * grad
    return np.sum((X @ w - y) ** 2)


# ------------------------------------------------------------------ numbers, masks, dtypes


def zero_d_mix(a, b):
    """a is a 0-d array, b a Python float."""
    c = a * b + np.sin(a) / (1.0 + b**2)
    return c + float(a) ** 2 + math.exp(b)


def masked_mean(x, threshold):
    mask = x > threshold
    return np.sum(x[mask] ** 2) / max(mask.sum(), 1)


def integer_mask_pick(x, idx):
    y = np.zeros_like(x)
    y[idx] = x[idx] ** 2
    return np.sum(y) + np.sum(x[idx[::-1]] * x[: len(idx)])


def clipped_relu_like(x, lo, hi):
    return (
        np.sum(np.clip(x, lo, hi) ** 2)
        + np.sum(np.maximum(x, 0.5 * x))
        + np.sum(np.where(x > 0.0, x**3, -x))
    )


def piecewise_tax(income):
    brackets = np.array([0.0, 10.0, 40.0])
    rates = np.array([0.1, 0.2, 0.4])
    taxed = np.clip(income - brackets, 0.0, None)
    upper = np.append(np.diff(brackets), np.inf)
    return np.sum(rates * np.minimum(taxed, upper))


def arrhenius(log_A, Ea, temps, rates):
    k = np.exp(log_A) * np.exp(-Ea / (8.314e-3 * temps))
    return np.sum((np.log(k) - np.log(rates)) ** 2)


def beam_deflection(EI, loads, positions):
    L = 10.0
    x = np.linspace(0.0, L, 11)
    w = np.zeros_like(x)
    for P, a in zip(loads, positions):
        b = L - a
        left = x <= a
        w = w + np.where(
            left,
            P * b * x * (L**2 - b**2 - x**2) / (6 * L * EI),
            P * a * (L - x) * (2 * L * x - x**2 - a**2) / (6 * L * EI),
        )
    return np.max(w) + np.sum(w**2)


X_FIT = np.linspace(-1.0, 1.0, 9)
Y_FIT = np.cos(2.0 * X_FIT)

CASES = [
    Case(
        "black_scholes_call",
        black_scholes_call,
        (100.0, 95.0, 0.5, 0.02, 0.25),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "black_scholes_put_math",
        black_scholes_put_math,
        (100.0, 105.0, 1.0, 0.01, 0.3),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "book_of_calls_jacobian",
        book_value,
        (
            np.array([90.0, 100.0, 110.0]),
            np.array([100.0, 100.0, 100.0]),
            np.array([0.2, 0.25, 0.3]),
        ),
        kind="jac",
        rtol=1e-4,
    ),
    Case("monte_carlo_call", mc_call, (100.0, 0.2, Z, 100.0, 1.0, 0.03), wrt=(0, 1, 3)),
    Case("monte_carlo_asian", mc_asian, (100.0, 0.3, r(16, 5)), wrt=(0, 1)),
    Case(
        "bond_price",
        bond_price,
        (0.04, np.array([5.0, 5.0, 105.0]), np.array([1.0, 2.0, 3.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "duration_by_inner_grad",
        duration_convexity,
        (0.04, np.array([5.0, 5.0, 105.0]), np.array([1.0, 2.0, 3.0])),
        order=2,
    ),
    Case("implied_vol_newton", implied_vol, (8.0, 100.0, 100.0, 1.0), wrt=(0, 1, 2, 3), rtol=1e-4),
    Case(
        "portfolio_softmax",
        portfolio_objective,
        (r(4), 0.1 * r(4), np.eye(4) * 0.04 + 0.01, 3.0),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("sharpe_ratio", sharpe, (np.abs(r(3)), 0.01 + 0.02 * r(20, 3)), order=2),
    Case("fir_loop", fir_loop, (r(3), r(8)), wrt=(0, 1), order=2),
    Case("iir_first_order", iir_first_order, (0.7, r(10)), wrt=(0, 1), order=2),
    Case(
        "smooth_convolve", smooth_convolve, (np.abs(r(3)) + 0.5, r(10), r(10)), wrt=(0, 1), order=2
    ),
    Case("autocorrelation", autocorr_energy, (r(10),), order=2),
    Case("hanning_window", windowed_energy, (r(12),), order=2),
    Case(
        "power_spectrum_fft",
        power_spectrum,
        (r(8),),
        refused=(sg.NoRuleError, "x @ C.T"),
    ),
    Case("moving_average_cumsum", moving_average_cumsum, (r(10), 3), order=2),
    Case(
        "insert_and_delete", insert_and_delete, (r(5), np.array([0.5, -0.3])), wrt=(0, 1), order=2
    ),
    Case("insert_scalar_value", insert_and_delete, (r(5), 0.5), wrt=(0, 1), order=2),
    Case("insert_along_axis", insert_along_axis, (r(3, 4), r(3)), wrt=(0, 1), order=2),
    Case("polyval_and_horner", poly_fit_loss, (r(4), X_FIT, Y_FIT), wrt=(0, 1), order=2),
    Case("horner_jacobian", horner, (r(4), X_FIT[:4]), kind="jac"),
    Case("chebyshev_recurrence", chebyshev_series, (r(5), X_FIT), wrt=(0, 1), order=2),
    Case(
        "lstsq_unpacked",
        lstsq_residual,
        (r(7, 3), r(7)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "lstsq_index_0",
        lstsq_first,
        (r(6, 2), r(6)),
        wrt=(0, 1),
        order=2,
    ),
    Case("detrend_polyfit", detrend_polyfit, (X_FIT, Y_FIT + 0.1 * X_FIT**3), wrt=(0, 1), order=2),
    Case(
        "weighted_polyfit",
        weighted_polyfit,
        (X_FIT, Y_FIT),
        refused=(sg.SourcegradError, "np.linalg.lstsq(np.vander(x, deg + 1), y)"),
    ),
    Case("vander_normal_equations", vander_normal_equations, (X_FIT, Y_FIT), wrt=(0, 1), order=2),
    Case("ridge_hyperparameter", ridge_validation, (-1.0, r(8, 3), r(8), r(5, 3), r(5)), order=2),
    Case("unrolled_gd_ridge", unrolled_gd_ridge, (0.1, r(6, 3), r(6)), wrt=(0, 1), order=2),
    Case("zero_d_and_float", zero_d_mix, (np.array(0.4), 0.7), wrt=(0, 1), order=2),
    Case("bool_mask_threshold", masked_mean, (r(10), 0.1), order=2),
    Case("integer_index_array", integer_mask_pick, (r(6), np.array([0, 2, 3])), order=2),
    Case("clip_maximum_where", clipped_relu_like, (r(9), -0.5, 0.8), wrt=(0, 1, 2), order=2),
    Case("piecewise_tax", piecewise_tax, (55.0,), order=2),
    Case(
        "arrhenius_fit",
        arrhenius,
        (5.0, 30.0, np.array([300.0, 320.0, 350.0]), np.array([0.1, 0.3, 1.2])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "beam_deflection_where",
        beam_deflection,
        (200.0, np.array([3.0, 2.0]), np.array([3.0, 7.0])),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_numerical_program(case):
    check(case)
