"""Geometry, graphics and robotics code as it is written in course notebooks and small
libraries: quaternion products and rotations, Rodrigues' formula with its small-angle branch,
a planar arm's forward kinematics, Bezier curves by de Casteljau, B-spline bases by the
Cox-de Boor recursion, Legendre and Hermite recurrences, a pinhole camera's reprojection
error, barycentric interpolation, bilinear sampling with floor indices, sphere tracing of a
signed distance function, a mass-spring chain, a truss's strain energy, an extended Kalman
filter's update, Procrustes alignment through the SVD. Each against Python's value and
central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(6303)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ rotations


def quat_mul(q, r_):
    w0, x0, y0, z0 = q
    w1, x1, y1, z1 = r_
    return np.array(
        [
            w0 * w1 - x0 * x1 - y0 * y1 - z0 * z1,
            w0 * x1 + x0 * w1 + y0 * z1 - z0 * y1,
            w0 * y1 - x0 * z1 + y0 * w1 + z0 * x1,
            w0 * z1 + x0 * y1 - y0 * x1 + z0 * w1,
        ]
    )


def quat_rotate(q, v):
    q = q / np.linalg.norm(q)
    qv = np.concatenate([[0.0], v])
    q_conj = q * np.array([1.0, -1.0, -1.0, -1.0])
    return quat_mul(quat_mul(q, qv), q_conj)[1:]


def quat_alignment_loss(q, points, targets):
    loss = 0.0
    for p, t in zip(points, targets):
        loss += np.sum((quat_rotate(q, p) - t) ** 2)
    return loss


def skew(w):
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def rodrigues(w):
    theta = np.linalg.norm(w)
    K = skew(w)
    if theta < 1e-8:
        return np.eye(3) + K
    K = K / theta
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def rotation_fit(w, X, Y):
    Rm = rodrigues(w)
    return np.sum((X @ Rm.T - Y) ** 2)


def planar_arm(thetas, lengths, target):
    x, y, angle = 0.0, 0.0, 0.0
    for theta, length in zip(thetas, lengths):
        angle += theta
        x += length * math.cos(angle)
        y += length * math.sin(angle)
    return (x - target[0]) ** 2 + (y - target[1]) ** 2


def planar_arm_numpy(thetas, lengths, target):
    angles = np.cumsum(thetas)
    tip = np.array([np.sum(lengths * np.cos(angles)), np.sum(lengths * np.sin(angles))])
    return np.sum((tip - target) ** 2)


# ------------------------------------------------------------------ curves


def de_casteljau(points, t):
    pts = [p for p in points]
    while len(pts) > 1:
        pts = [(1 - t) * a + t * b for a, b in zip(pts[:-1], pts[1:])]
    return pts[0]


def bezier_fit(ctrl, ts, samples):
    loss = 0.0
    for t, s in zip(ts, samples):
        loss += np.sum((de_casteljau(ctrl, t) - s) ** 2)
    return loss


def bspline_basis(i, k, t, knots):
    if k == 0:
        return 1.0 if knots[i] <= t < knots[i + 1] else 0.0
    left = right = 0.0
    if knots[i + k] != knots[i]:
        left = (t - knots[i]) / (knots[i + k] - knots[i]) * bspline_basis(i, k - 1, t, knots)
    if knots[i + k + 1] != knots[i + 1]:
        right = (
            (knots[i + k + 1] - t)
            / (knots[i + k + 1] - knots[i + 1])
            * bspline_basis(i + 1, k - 1, t, knots)
        )
    return left + right


def bspline_curve_loss(coefs, ts, ys, knots, degree=2):
    loss = 0.0
    for t, y in zip(ts, ys):
        s = 0.0
        for i in range(len(coefs)):
            s += coefs[i] * bspline_basis(i, degree, t, knots)
        loss += (s - y) ** 2
    return loss


def legendre_series(c, x):
    p_prev, p = np.ones_like(x), x
    total = c[0] * p_prev + c[1] * p
    for n in range(1, len(c) - 1):
        p_prev, p = p, ((2 * n + 1) * x * p - n * p_prev) / (n + 1)
        total = total + c[n + 1] * p
    return np.sum(total**2)


def hermite_functions(x, n_max=4):
    h = [np.pi**-0.25 * np.exp(-(x**2) / 2)]
    h.append(np.sqrt(2.0) * x * h[0])
    for n in range(2, n_max):
        h.append(np.sqrt(2.0 / n) * x * h[n - 1] - np.sqrt((n - 1) / n) * h[n - 2])
    return np.sum(np.stack(h) ** 2 * np.arange(1, n_max + 1)[:, None])


# ------------------------------------------------------------------ vision and graphics


def project(points, K, Rm, t):
    cam = points @ Rm.T + t
    uv = cam[:, :2] / cam[:, 2:3]
    return uv * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])


def reprojection_error(pose, points, observed, K):
    w, t = pose[:3], pose[3:]
    uv = project(points, K, rodrigues(w), t)
    res = uv - observed
    return 0.5 * np.sum(res**2)


def barycentric_interp(tri, p, values):
    a, b, c = tri
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = v0 @ v0, v0 @ v1, v1 @ v1
    d20, d21 = v2 @ v0, v2 @ v1
    denom = d00 * d11 - d01 * d01
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    u = 1.0 - v - w
    return u * values[0] + v * values[1] + w * values[2]


def bilinear_sample(img, coords):
    H, W = img.shape
    out = 0.0
    for x, y in coords:
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        x1, y1 = min(x0 + 1, W - 1), min(y0 + 1, H - 1)
        wx, wy = x - x0, y - y0
        top = (1 - wx) * img[y0, x0] + wx * img[y0, x1]
        bottom = (1 - wx) * img[y1, x0] + wx * img[y1, x1]
        out += (1 - wy) * top + wy * bottom
    return out


def sdf_sphere(p, center, radius):
    return np.linalg.norm(p - center) - radius


def sphere_trace(center, radius, origin, direction, max_steps=64):
    t = 0.0
    for _ in range(max_steps):
        d = sdf_sphere(origin + t * direction, center, radius)
        if d < 1e-9:
            break
        t = t + d
    hit = origin + t * direction
    return np.sum(hit**2)


# ------------------------------------------------------------------ mechanics


def spring_chain(x0, v0, k=4.0, m=1.0, dt=0.05, steps=20):
    x, v = x0.copy(), v0.copy()
    n = len(x)
    for _ in range(steps):
        f = np.zeros(n)
        for i in range(n - 1):
            stretch = x[i + 1] - x[i] - 1.0
            f[i] += k * stretch
            f[i + 1] -= k * stretch
        v = v + dt * f / m
        x = x + dt * v
    return np.sum(x**2) + 0.1 * np.sum(v**2)


def truss_energy(nodes, bars, rest, EA=10.0):
    energy = 0.0
    for (i, j), L0 in zip(bars, rest):
        L = np.linalg.norm(nodes[j] - nodes[i])
        energy += 0.5 * EA * (L - L0) ** 2 / L0
    return energy


def ekf_update(x, P, z, Rn):
    # range-bearing measurement of a 2-d position
    r_ = np.sqrt(x[0] ** 2 + x[1] ** 2)
    h = np.array([r_, np.arctan2(x[1], x[0])])
    Hj = np.array([[x[0] / r_, x[1] / r_], [-x[1] / r_**2, x[0] / r_**2]])
    S = Hj @ P @ Hj.T + Rn
    K = P @ Hj.T @ np.linalg.inv(S)
    y = z - h
    x_new = x + K @ y
    P_new = (np.eye(2) - K @ Hj) @ P
    nll = 0.5 * (y @ np.linalg.solve(S, y) + np.log(np.linalg.det(S)))
    return nll + np.sum(x_new**2) + np.trace(P_new)


def procrustes_residual(X, Y):
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    U, s, Vt = np.linalg.svd(Xc.T @ Yc)
    Rm = U @ Vt
    return np.sum((Xc @ Rm - Yc) ** 2)


# ------------------------------------------------------------------ data

PTS = r(4, 3)
Q_TRUE = np.array([0.9, 0.1, -0.3, 0.2])
TGT = np.stack([quat_rotate(Q_TRUE, p) for p in PTS]) + 0.01 * r(4, 3)
KCAM = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
WORLD = r(6, 3) + np.array([0.0, 0.0, 6.0])
OBS = project(WORLD, KCAM, rodrigues(np.array([0.05, -0.02, 0.01])), np.zeros(3)) + r(6, 2)
KNOTS = np.array([0.0, 0.0, 0.0, 0.3, 0.6, 1.0, 1.0, 1.0])
TS = np.array([0.05, 0.2, 0.45, 0.5, 0.7, 0.95])
IMG = r(5, 6)
NODES = np.array([[0.0, 0.0], [1.0, 0.1], [2.0, 0.0], [1.0, 1.0]]) + 0.05 * r(4, 2)
BARS = [(0, 1), (1, 2), (0, 3), (1, 3), (2, 3)]
REST = [1.0, 1.0, 1.4, 1.0, 1.4]


CASES = [
    Case("quaternion_alignment", quat_alignment_loss, (Q_TRUE + 0.1 * r(4), PTS, TGT), order=2),
    Case("rodrigues_fit", rotation_fit, (0.4 * r(3), PTS, TGT), order=2),
    Case("planar_arm_math", planar_arm, ([0.3, -0.5, 0.8], [1.0, 0.8, 0.5], (1.2, 0.7))),
    Case(
        "planar_arm_numpy",
        planar_arm_numpy,
        (np.array([0.3, -0.5, 0.8]), np.array([1.0, 0.8, 0.5]), np.array([1.2, 0.7])),
        wrt=(0, 1),
        order=2,
    ),
    Case("bezier_de_casteljau", bezier_fit, (r(4, 2), TS, r(6, 2)), order=2),
    Case("bspline_cox_de_boor", bspline_curve_loss, (r(5), TS, r(6), KNOTS), order=2),
    Case("legendre_recurrence", legendre_series, (r(5), R.uniform(-1, 1, 7)), wrt=(0, 1), order=2),
    Case("hermite_functions", hermite_functions, (r(6),), order=2),
    Case("reprojection_error", reprojection_error, (0.05 * r(6), WORLD, OBS, KCAM), rtol=1e-4),
    Case(
        "barycentric_interp",
        barycentric_interp,
        (np.array([[0.0, 0.0], [1.0, 0.1], [0.2, 1.0]]), np.array([0.3, 0.3]), r(3)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "bilinear_floor_indices",
        bilinear_sample,
        (IMG, np.array([[1.3, 2.6], [4.2, 0.4], [2.5, 3.1]])),
        wrt=(0, 1),
    ),
    Case(
        "sphere_trace_break",
        sphere_trace,
        (np.array([0.2, 0.1, 5.0]), 1.0, np.zeros(3), np.array([0.0, 0.0, 1.0])),
        wrt=(0, 1),
        rtol=1e-4,
        atol=1e-5,
    ),
    Case("spring_chain_forces", spring_chain, (np.array([0.0, 1.1, 2.3, 2.9]), r(4)), wrt=(0, 1)),
    Case("truss_energy", truss_energy, (NODES, BARS, REST), order=2),
    Case(
        "ekf_range_bearing",
        ekf_update,
        (
            np.array([2.0, 1.0]),
            np.array([[0.5, 0.1], [0.1, 0.3]]),
            np.array([2.3, 0.5]),
            0.1 * np.eye(2),
        ),
        wrt=(0, 1),
        order=2,
        rtol=1e-4,
    ),
    Case("procrustes_svd", procrustes_residual, (r(5, 3), r(5, 3)), wrt=(0, 1), rtol=1e-4),
]


@pytest.mark.parametrize("case", params(CASES))
def test_geometry(case):
    check(case)
