"""Scientific code as people write it: an RK4 integrator looping over time and keeping a list
of states, forward Euler appending to ``states`` and reading ``states[-1]``, a shooting
method for a boundary-value problem, spring-mass chains and n-body / Lennard-Jones energies
from pairwise differences ``x[:, None] - x[None]`` with ``np.triu_indices``, heat-equation
stencils by ``np.roll`` and by slices into a copy, relaxed Ising and Hopfield energies,
an LQR rollout cost in the gain, a Kalman filter's log-likelihood in its noise levels,
bundle-adjustment reprojection residuals through Rodrigues' rotation, Bezier curves by de
Casteljau's recursion, a Catmull-Rom spline fit, velocity Verlet and a ``while t < T``
pendulum, a finite-difference Poisson solve and a brachistochrone's travel time. Each
against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(4411)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ ODE integrators


def lotka_volterra(y, t, p):
    prey, pred = y
    a, b, c, d = p
    return np.array([a * prey - b * prey * pred, -c * pred + d * prey * pred])


def rk4_step(f, y, t, dt, p):
    k1 = f(y, t, p)
    k2 = f(y + dt / 2 * k1, t + dt / 2, p)
    k3 = f(y + dt / 2 * k2, t + dt / 2, p)
    k4 = f(y + dt * k3, t + dt, p)
    return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def rk4_fit(p, y0, observed, dt=0.1):
    ys = [y0]
    t = 0.0
    for _ in range(len(observed) - 1):
        ys.append(rk4_step(lotka_volterra, ys[-1], t, dt, p))
        t += dt
    traj = np.array(ys)
    return np.sum((traj - observed) ** 2)


def euler_states(theta, y0, n_steps=6, dt=0.05):
    states = [y0]
    for _ in range(n_steps):
        y = states[-1]
        dydt = np.tanh(theta @ y)
        states.append(y + dt * dydt)
    return sum(np.sum(s**2) for s in states[1:])


def shooting(v0, g=9.81, T=1.0, n=20, target=2.0):
    dt = T / n
    y, v = 0.0, v0
    for _ in range(n):
        y, v = y + dt * v, v - dt * (g + 0.1 * v * abs(v))
    return (y - target) ** 2


def velocity_verlet(x0, v0, k, dt=0.05, n=10):
    x, v = x0, v0
    a = -k * x - 0.1 * x**3
    energies = []
    for _ in range(n):
        x = x + v * dt + 0.5 * a * dt**2
        a_new = -k * x - 0.1 * x**3
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
        energies.append(0.5 * np.sum(v**2) + 0.5 * k * np.sum(x**2) + 0.025 * np.sum(x**4))
    return energies[-1] - energies[0] + np.sum(x)


def pendulum_while(theta0, omega0, L=1.0, g=9.81, dt=0.02, T=0.3):
    t = 0.0
    theta, omega = theta0, omega0
    while t < T:
        omega = omega - g / L * np.sin(theta) * dt
        theta = theta + omega * dt
        t += dt
    return theta**2 + 0.1 * omega**2


# ------------------------------------------------------------------ energies


def spring_chain(x, k=2.0, rest=1.0):
    stretch = np.abs(x[1:] - x[:-1]) - rest
    return 0.5 * k * np.sum(stretch**2) + 0.5 * k * (x[0] ** 2)


def nbody_potential(pos, masses, G=1.0, soft=0.1):
    diff = pos[:, None, :] - pos[None, :, :]
    r = np.sqrt(np.sum(diff**2, axis=-1) + soft**2)
    i, j = np.triu_indices(len(pos), k=1)
    return -G * np.sum(masses[i] * masses[j] / r[i, j])


def lennard_jones(pos, eps=1.0, sigma=1.0):
    n = pos.shape[0]
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            r2 = np.sum((pos[i] - pos[j]) ** 2)
            sr6 = (sigma**2 / r2) ** 3
            energy += 4 * eps * (sr6**2 - sr6)
    return energy


def leapfrog_nbody(pos, vel, masses, dt=0.01, steps=4):
    def accel(p):
        d = p[None, :, :] - p[:, None, :]
        inv = (np.sum(d**2, axis=-1) + 0.05) ** -1.5
        np.fill_diagonal(inv, 0.0)
        return np.einsum("ij,ijk,j->ik", inv, d, masses)

    a = accel(pos)
    for _ in range(steps):
        vel = vel + 0.5 * dt * a
        pos = pos + dt * vel
        a = accel(pos)
        vel = vel + 0.5 * dt * a
    return np.sum(pos[0] ** 2) + np.sum(vel**2)


def relaxed_ising(h, J=1.0, beta=0.7):
    s = np.tanh(h)
    energy = -J * np.sum(s * np.roll(s, 1, axis=0)) - J * np.sum(s * np.roll(s, 1, axis=1))
    entropy = np.sum(np.log(np.cosh(h)) - h * s)
    return beta * energy - entropy


def hopfield_energy(W, s, b):
    W = 0.5 * (W + W.T)
    W = W - np.diag(np.diag(W))
    return -0.5 * s @ W @ s - b @ s


# ------------------------------------------------------------------ PDE stencils


def heat_roll(u0, alpha=0.2, steps=5):
    u = u0.copy()
    for _ in range(steps):
        u = u + alpha * (np.roll(u, 1) + np.roll(u, -1) - 2 * u)
    return np.sum(u**2 * np.arange(len(u)))


def heat_slices(u0, kappa, steps=4):
    u = u0
    for _ in range(steps):
        un = u.copy()
        un[1:-1] = u[1:-1] + kappa * (u[2:] - 2 * u[1:-1] + u[:-2])
        un[0] = un[-1] = 0.0
        u = un
    return np.sum(u**3)


def heat_2d_roll(u, D=0.1, steps=3):
    for _ in range(steps):
        lap = (
            np.roll(u, 1, axis=0)
            + np.roll(u, -1, axis=0)
            + np.roll(u, 1, axis=1)
            + np.roll(u, -1, axis=1)
            - 4 * u
        )
        u = u + D * lap
    return np.sum(np.sin(u))


def poisson_fd(f_vals, n=6):
    h = 1.0 / (n + 1)
    A = (np.diag(2 * np.ones(n)) - np.diag(np.ones(n - 1), 1) - np.diag(np.ones(n - 1), -1)) / h**2
    u = np.linalg.solve(A, f_vals)
    return np.sum(u**2) * h


# ------------------------------------------------------------------ control and estimation


def lqr_rollout(K, A, B, x0, T=8):
    Q = np.eye(A.shape[0])
    Rm = 0.1 * np.eye(B.shape[1])
    x = x0
    cost = 0.0
    for _ in range(T):
        u = -K @ x
        cost += x @ Q @ x + u @ Rm @ u
        x = A @ x + B @ u
    return cost + x @ Q @ x


def kalman_loglik(log_q, log_r, ys, F, H):
    q, rr = np.exp(log_q), np.exp(log_r)
    n = F.shape[0]
    x = np.zeros(n)
    P = np.eye(n)
    ll = 0.0
    for y in ys:
        x = F @ x
        P = F @ P @ F.T + q * np.eye(n)
        S = H @ P @ H.T + rr * np.eye(H.shape[0])
        innov = y - H @ x
        Kg = P @ H.T @ np.linalg.inv(S)
        x = x + Kg @ innov
        P = (np.eye(n) - Kg @ H) @ P
        _, logdet = np.linalg.slogdet(S)
        ll += -0.5 * (innov @ np.linalg.solve(S, innov) + logdet + len(y) * np.log(2 * np.pi))
    return -ll


def rodrigues(rvec):
    theta = np.linalg.norm(rvec)
    k = rvec / theta
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * Kx + (1 - np.cos(theta)) * Kx @ Kx


def reprojection_residuals(camera, points, observed, f=1.0):
    rvec, tvec = camera[:3], camera[3:]
    Rm = rodrigues(rvec)
    P = points @ Rm.T + tvec
    proj = f * P[:, :2] / P[:, 2:3]
    residuals = (proj - observed).ravel()
    return 0.5 * residuals @ residuals


# ------------------------------------------------------------------ curves


def de_casteljau(points, t):
    if len(points) == 1:
        return points[0]
    return de_casteljau([(1 - t) * p0 + t * p1 for p0, p1 in zip(points[:-1], points[1:])], t)


def bezier_fit(ctrl, targets):
    ts = np.linspace(0, 1, len(targets))
    curve = np.array([de_casteljau(list(ctrl), t) for t in ts])
    return np.sum((curve - targets) ** 2)


def catmull_rom(P0, P1, P2, P3, t):
    return 0.5 * (
        2 * P1
        + (-P0 + P2) * t
        + (2 * P0 - 5 * P1 + 4 * P2 - P3) * t**2
        + (-P0 + 3 * P1 - 3 * P2 + P3) * t**3
    )


def catmull_rom_fit(knots, samples):
    loss = 0.0
    idx = 0
    for seg in range(len(knots) - 3):
        for t in (0.25, 0.5, 0.75):
            pt = catmull_rom(*knots[seg : seg + 4], t)  # REFUSED
            loss += np.sum((pt - samples[idx]) ** 2)
            idx += 1
    return loss


def catmull_rom_fit_by_name(knots, samples):
    loss = 0.0
    idx = 0
    for seg in range(len(knots) - 3):
        p0, p1, p2, p3 = knots[seg : seg + 4]
        for t in (0.25, 0.5, 0.75):
            loss += np.sum((catmull_rom(p0, p1, p2, p3, t) - samples[idx]) ** 2)
            idx += 1
    return loss


def brachistochrone(y_inner, y0=1.0, x_end=1.0, g=9.81):
    y = np.concatenate([[y0], y_inner, [0.0]])
    x = np.linspace(0.0, x_end, len(y))
    ds = np.sqrt(np.diff(x) ** 2 + np.diff(y) ** 2)
    v = np.sqrt(2 * g * (y0 - y) + 1e-3)
    v_avg = 0.5 * (v[1:] + v[:-1])
    return np.sum(ds / v_avg)


LV_OBS = np.abs(r(5, 2)) + 0.5
A2 = np.array([[1.0, 0.1], [0.0, 1.0]])
B2 = np.array([[0.0], [0.1]])
F2 = np.array([[1.0, 1.0], [0.0, 1.0]])
H12 = np.array([[1.0, 0.0]])
PTS = r(5, 3) * 0.3 + np.array([0.0, 0.0, 4.0])
CAM = np.array([0.1, -0.2, 0.05, 0.1, 0.0, 0.2])
OBS = r(5, 2) * 0.05

CASES = [
    Case(
        "rk4_lotka_volterra",
        rk4_fit,
        (np.array([1.0, 0.4, 0.8, 0.3]), np.array([1.0, 0.5]), LV_OBS),
        order=2,
    ),
    Case(
        "rk4_initial_state",
        rk4_fit,
        (np.array([1.0, 0.4, 0.8, 0.3]), np.array([1.0, 0.5]), LV_OBS),
        wrt=1,
    ),
    Case("euler_states_list", euler_states, (0.5 * r(3, 3), r(3)), wrt=(0, 1), order=2),
    Case("shooting_method", shooting, (3.0,), order=2),
    Case("velocity_verlet", velocity_verlet, (r(3), r(3), 1.5), wrt=(0, 1, 2), order=2),
    Case("pendulum_while", pendulum_while, (0.4, 0.1), wrt=(0, 1), order=2),
    Case("spring_chain", spring_chain, (np.array([0.1, 1.2, 2.0, 3.3, 4.1]),), order=2),
    Case("nbody_potential", nbody_potential, (r(4, 3), np.abs(r(4)) + 0.5), wrt=(0, 1), order=2),
    Case(
        "lennard_jones",
        lennard_jones,
        (np.array([[0.0, 0, 0], [1.1, 0.1, 0], [0.2, 1.2, 0.3]]),),
        order=2,
    ),
    Case(
        "leapfrog_nbody",
        leapfrog_nbody,
        (r(3, 2), 0.3 * r(3, 2), np.abs(r(3)) + 0.5),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("relaxed_ising", relaxed_ising, (r(3, 4),), order=2),
    Case("hopfield_energy", hopfield_energy, (r(4, 4), np.tanh(r(4)), r(4)), wrt=(0, 2)),
    Case("heat_roll", heat_roll, (r(6),), order=2),
    Case("heat_slices", heat_slices, (r(6), 0.2), wrt=(0, 1), order=2),
    Case("heat_2d_roll", heat_2d_roll, (r(4, 4),), order=2),
    Case("poisson_fd", poisson_fd, (r(6),), order=2),
    Case("lqr_rollout", lqr_rollout, (np.array([[0.5, 0.8]]), A2, B2, r(2)), order=2),
    Case("kalman_loglik", kalman_loglik, (-1.0, -0.5, list(r(5, 1)), F2, H12), wrt=(0, 1), order=2),
    Case("reprojection", reprojection_residuals, (CAM, PTS, OBS), wrt=(0, 1), order=2),
    Case("bezier_de_casteljau", bezier_fit, (r(4, 2), r(5, 2)), order=2),
    Case(
        "catmull_rom_star_slice",
        catmull_rom_fit,
        (r(5, 2), r(6, 2)),
        refused=(sg.UnsupportedSyntaxError, "pass the arguments one by one"),
    ),
    Case("catmull_rom_unpacked", catmull_rom_fit_by_name, (r(5, 2), r(6, 2)), order=2),
    Case("brachistochrone", brachistochrone, (np.array([0.5, 0.2, 0.1]),), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_scientific_code(case):
    check(case)
