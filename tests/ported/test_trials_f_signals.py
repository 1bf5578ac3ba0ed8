"""Signal and image processing, and backward inductions, written with arrays filled in loops
as their textbooks write them: IIR filters (``y[n] = ... y[n - 1]``, the previous output
read through ``y[n - 1] if n > 0 else 0.0``), an FIR filter's double loop with ``+=``, a
binomial option tree rolled back in place, total variation, Sobel gradients, row-wise
blurring by ``np.convolve``, a Rauch-Tung-Striebel smoother writing its filtered means and
variances per step, a running sum written in place, hidden states written as rows. Each
against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6309)
X5 = np.array([0.3, -1.2, 0.7, 1.5, 0.4])


def f_iir(x, a=0.8):
    y = np.zeros_like(x)
    y[0] = x[0]
    for n in range(1, len(x)):
        y[n] = (1 - a) * x[n] + a * y[n - 1]
    return np.sum(y**2)


def f_iir_param(p, x):
    a, b = p
    y = np.zeros(len(x))
    for n in range(len(x)):
        prev = y[n - 1] if n > 0 else 0.0
        y[n] = b * x[n] + a * prev
    return np.sum((y - 0.5) ** 2)


def f_fir(h, x):
    y = np.zeros(len(x))
    for n in range(len(x)):
        for k in range(len(h)):
            if n - k >= 0:
                y[n] += h[k] * x[n - k]
    return np.sum(y**2)


def f_binomial_tree(sigma, S0=100.0, K=100.0, r=0.01, T=1.0, steps=6):
    dt = T / steps
    u = np.exp(sigma * np.sqrt(dt))
    d = 1 / u
    p = (np.exp(r * dt) - d) / (u - d)
    disc = np.exp(-r * dt)
    V = np.array([max(S0 * u**j * d ** (steps - j) - K, 0.0) for j in range(steps + 1)])
    for i in range(steps - 1, -1, -1):
        for j in range(i + 1):
            V[j] = disc * (p * V[j + 1] + (1 - p) * V[j])
    return V[0]


def f_total_variation(img):
    dx = img[:, 1:] - img[:, :-1]
    dy = img[1:, :] - img[:-1, :]
    return np.sum(np.sqrt(dx[:-1, :] ** 2 + dy[:, :-1] ** 2 + 1e-6))


def f_sobel(img):
    gx = (
        img[:-2, 2:]
        + 2 * img[1:-1, 2:]
        + img[2:, 2:]
        - img[:-2, :-2]
        - 2 * img[1:-1, :-2]
        - img[2:, :-2]
    )
    gy = (
        img[2:, :-2]
        + 2 * img[2:, 1:-1]
        + img[2:, 2:]
        - img[:-2, :-2]
        - 2 * img[:-2, 1:-1]
        - img[:-2, 2:]
    )
    return np.sum(np.hypot(gx, gy))


def f_blur_rows(img):
    k = np.array([0.25, 0.5, 0.25])
    out = np.zeros_like(img)
    for i in range(img.shape[0]):
        out[i] = np.convolve(img[i], k, mode="same")
    return np.sum(out**2)


def f_rts_smoother(q, ys, A=0.9, R=0.5):
    T = len(ys)
    m = np.zeros(T)
    P = np.zeros(T)
    mp = np.zeros(T)
    Pp = np.zeros(T)
    mean, var = 0.0, 1.0
    for t in range(T):
        mp[t] = A * mean
        Pp[t] = A * var * A + q
        K = Pp[t] / (Pp[t] + R)
        mean = mp[t] + K * (ys[t] - mp[t])
        var = (1 - K) * Pp[t]
        m[t], P[t] = mean, var
    ms = m.copy()
    for t in range(T - 2, -1, -1):
        G = P[t] * A / Pp[t + 1]
        ms[t] = m[t] + G * (ms[t + 1] - mp[t + 1])
    return np.sum(ms**2)


def f_cumulative_inplace(x, decay=0.9):
    out = x.copy()
    for i in range(1, len(out)):
        out[i] += decay * out[i - 1]
    return np.sum(out**2)


def f_matrix_rows_written(W):
    H = np.zeros((4, 3))
    h = np.zeros(3)
    for t in range(4):
        h = np.tanh(W @ h + t)
        H[t, :] = h
    return np.sum(H[1:] * H[:-1])


def rows_chosen_by_ifexp(p, x):
    Y = np.zeros((len(x), 2))
    for n in range(len(x)):
        prev = Y[n - 1] if n > 0 else np.zeros(2)
        Y[n] = p[1] * x[n] + p[0] * prev  # REFUSED
    return np.sum((Y - 0.5) ** 2)


CASES = [
    Case("iir_in_place", f_iir, (X5,), order=2),
    Case("iir_previous_by_ifexp", f_iir_param, (np.array([0.5, 1.2]), X5), wrt=(0, 1), order=2),
    Case("fir_double_loop", f_fir, (np.array([0.5, 0.3, 0.2]), X5), wrt=(0, 1), order=2),
    Case("binomial_tree_rollback", f_binomial_tree, (0.2,)),
    Case("total_variation", f_total_variation, (R.standard_normal((4, 5)),), order=2),
    Case("sobel_magnitude", f_sobel, (R.standard_normal((5, 5)),), order=2),
    Case("blur_rows_convolve", f_blur_rows, (R.standard_normal((3, 6)),), order=2),
    Case("rts_smoother", f_rts_smoother, (0.3, X5), wrt=(0, 1), order=2),
    Case("running_sum_in_place", f_cumulative_inplace, (X5,), order=2),
    Case("rows_written", f_matrix_rows_written, (0.5 * R.standard_normal((3, 3)),), order=2),
    Case(
        "row_view_by_ifexp_refused",
        rows_chosen_by_ifexp,
        (np.array([0.5, 1.2]), X5),
        refused=(sg.UnsupportedSyntaxError, "add `.copy()` there"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_signals(case):
    check(case)
