"""Physics and engineering code as people write it for a course or a paper: a mass-spring
chain stepped by semi-implicit Euler with the state in a dict, n-body gravity with softening
by broadcasting and by double loops, a pendulum by RK4 with the derivative function passed
as an argument, explicit and Crank-Nicolson heat equations, a forward-kinematics chain of
homogeneous transforms, ODE shooting by secant iteration under a tolerance, Monte Carlo
option prices with normals drawn outside. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(7002)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ mass-spring chain


def spring_forces(x, k, rest):
    stretch = np.diff(x) - rest
    f = np.zeros_like(x)
    f[:-1] += k * stretch
    f[1:] -= k * stretch
    return f


def mass_spring_chain(k, x0, v0, *, dt=0.05, steps=20, damping=0.1):
    state = {"x": x0.copy(), "v": v0.copy()}
    rest = 1.0
    for _ in range(steps):
        a = spring_forces(state["x"], k, rest) - damping * state["v"]
        a[0] = 0.0  # the first mass is pinned
        state["v"] = state["v"] + dt * a
        state["x"] = state["x"] + dt * state["v"]
    return float(np.sum(state["x"] ** 2) + 0.5 * np.sum(state["v"] ** 2))


def spring_energy_history(k, x0):
    x, v = x0, np.zeros_like(x0)
    energies = []
    for _step in range(15):
        f = np.zeros_like(x)
        d = x[1:] - x[:-1] - 1.0
        f = f + np.concatenate([k * d, [0.0]]) - np.concatenate([[0.0], k * d])
        v = v + 0.05 * f
        x = x + 0.05 * v
        energies.append(0.5 * np.sum(v**2) + 0.5 * np.sum(k * d**2))
    return np.mean(energies) + np.std(energies)


# ------------------------------------------------------------------ n-body


def nbody_accel(pos, masses, G=1.0, softening=0.1):
    dx = pos[None, :, 0] - pos[:, None, 0]
    dy = pos[None, :, 1] - pos[:, None, 1]
    inv_r3 = (dx**2 + dy**2 + softening**2) ** (-1.5)
    ax = G * (dx * inv_r3) @ masses
    ay = G * (dy * inv_r3) @ masses
    return np.stack([ax, ay], axis=1)


def nbody_leapfrog(pos, vel, masses, dt=0.01, n_steps=10):
    acc = nbody_accel(pos, masses)
    for _i in range(n_steps):
        vel = vel + acc * dt / 2.0
        pos = pos + vel * dt
        acc = nbody_accel(pos, masses)
        vel = vel + acc * dt / 2.0
    KE = 0.5 * np.sum(np.sum(masses[:, None] * vel**2))
    return KE + np.sum(pos[:, 0])


def nbody_potential_loops(pos, masses, softening=0.05):
    N = len(masses)
    PE = 0.0
    for i in range(N):
        for j in range(i + 1, N):
            r_ij = math.sqrt(
                (pos[i, 0] - pos[j, 0]) ** 2 + (pos[i, 1] - pos[j, 1]) ** 2 + softening**2
            )
            PE -= masses[i] * masses[j] / r_ij
    return PE


# ------------------------------------------------------------------ pendulum, RK4 generic


def rk4_step(f, y, t, h, *args):
    k1 = f(t, y, *args)
    k2 = f(t + h / 2, y + h / 2 * k1, *args)
    k3 = f(t + h / 2, y + h / 2 * k2, *args)
    k4 = f(t + h, y + h * k3, *args)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def damped_pendulum(t, y, b, g_l):
    theta, omega = y[0], y[1]
    return np.array([omega, -b * omega - g_l * np.sin(theta)])


def pendulum_rk4_generic(params, y0, t_obs, theta_obs):
    b, g_l = params
    y, t, h = y0, 0.0, 0.1
    loss = 0.0
    k = 0
    for _n in range(30):
        y = rk4_step(damped_pendulum, y, t, h, b, g_l)
        t += h
        if k < len(t_obs) and abs(t - t_obs[k]) < 1e-9:
            loss += (y[0] - theta_obs[k]) ** 2
            k += 1
    return loss


def double_pendulum_energy(th, w, steps=25, dt=0.02):
    """Double pendulum with unit masses and lengths, explicit Euler on the angles."""
    th1, th2 = th
    w1, w2 = w
    for _ in range(steps):
        delta = th1 - th2
        den = 3 - np.cos(2 * delta)
        a1 = (
            -3 * np.sin(th1)
            - np.sin(th1 - 2 * th2)
            - 2 * np.sin(delta) * (w2**2 + w1**2 * np.cos(delta))
        ) / den
        a2 = (2 * np.sin(delta) * (2 * w1**2 + 2 * np.cos(th1) + w2**2 * np.cos(delta))) / den
        w1, w2 = w1 + dt * a1, w2 + dt * a2
        th1, th2 = th1 + dt * w1, th2 + dt * w2
    return th1**2 + th2**2 + 0.1 * (w1**2 + w2**2)


# ------------------------------------------------------------------ heat equation


def heat_explicit(u0, alpha, source, nt=20):
    u = u0.copy()
    dx = 1.0 / (len(u) - 1)
    dt = 0.4 * dx**2
    for _n in range(nt):
        un = u.copy()
        u[1:-1] = (
            un[1:-1] + alpha * dt / dx**2 * (un[2:] - 2 * un[1:-1] + un[:-2]) + dt * source[1:-1]
        )
        u[0], u[-1] = 0.0, 0.0
    return np.sum(u**2) * dx


def heat_crank_nicolson(u0, kappa, nt=5):
    n = len(u0)
    L = np.diag(-2 * np.ones(n)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    eye = np.eye(n)
    A = eye - 0.5 * kappa * L
    B = eye + 0.5 * kappa * L
    u = u0
    for _ in range(nt):
        u = np.linalg.solve(A, B @ u)
    return u @ u


def heat_2d_stencil(T0, k):
    T = T0
    for _ in range(6):
        lap = np.zeros_like(T)
        lap[1:-1, 1:-1] = (
            T[:-2, 1:-1] + T[2:, 1:-1] + T[1:-1, :-2] + T[1:-1, 2:] - 4 * T[1:-1, 1:-1]
        )
        T = T + k * lap
    return np.sum(T[1:-1, 1:-1] ** 2)


# ------------------------------------------------------------------ forward kinematics


def dh_transform(a, alpha, d, theta):
    ct, st = np.cos(theta), np.sin(theta)
    ca, sa = math.cos(alpha), math.sin(alpha)
    return np.array(
        [
            [ct, -st * ca, st * sa, a * ct],
            [st, ct * ca, -ct * sa, a * st],
            [0.0, sa, ca, d],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


DH_TABLE = [(0.0, math.pi / 2, 0.3), (0.4, 0.0, 0.0), (0.35, 0.0, 0.0), (0.0, math.pi / 2, 0.1)]


def fk_reach_loss(q, target):
    T = np.eye(4)
    for (a, alpha, d), theta in zip(DH_TABLE, q):
        T = T @ dh_transform(a, alpha, d, theta)
    p = T[:3, 3]
    return np.sum((p - target) ** 2)


def planar_arm_points(q, lengths):
    """Positions of every joint of a planar arm, as a list, then a smoothness penalty."""
    x, y, phi = 0.0, 0.0, 0.0
    pts = []
    for qi, li in zip(q, lengths):
        phi = phi + qi
        x = x + li * np.cos(phi)
        y = y + li * np.sin(phi)
        pts.append(np.array([x, y]))
    P = np.stack(pts)
    return np.sum(P[-1] ** 2) + 0.1 * np.sum(np.diff(P, axis=0) ** 2)


def arm_end_effector(q, lengths):
    phis = np.cumsum(q)
    return np.array([np.sum(lengths * np.cos(phis)), np.sum(lengths * np.sin(phis))])


# ------------------------------------------------------------------ shooting


def projectile_range(v0, angle, drag, dt=0.01):
    x, y = 0.0, 0.0
    vx, vy = v0 * math.cos(angle), v0 * math.sin(angle)
    while y >= 0.0:
        speed = math.sqrt(vx * vx + vy * vy)
        vx = vx - dt * drag * speed * vx
        vy = vy - dt * (9.81 + drag * speed * vy)
        x += dt * vx
        y += dt * vy
    return x


def bvp_shoot(s, k):
    """y'' = -k y, y(0)=0, y'(0)=s, Euler to t=1, returns y(1)."""
    y, yp = 0.0, s
    h = 0.05
    for _ in range(20):
        y, yp = y + h * yp, yp - h * k * y
    return y


def shooting_secant(k, target, tol=1e-10):
    s0, s1 = 0.5, 1.5
    f0, f1 = bvp_shoot(s0, k) - target, bvp_shoot(s1, k) - target
    it = 0
    while abs(f1) > tol and it < 50:
        s0, s1 = s1, s1 - f1 * (s1 - s0) / (f1 - f0)
        f0, f1 = f1, bvp_shoot(s1, k) - target
        it += 1
    return s1**2


# ------------------------------------------------------------------ option pricing


def european_call_mc(S0, sigma, r_, T, K, Z):
    ST = S0 * np.exp((r_ - 0.5 * sigma**2) * T + sigma * math.sqrt(T) * Z)
    payoff = np.maximum(ST - K, 0.0)
    return math.exp(-r_ * T) * np.mean(payoff)


def asian_call_paths(S0, sigma, Z, K=1.0, r_=0.02, dt=1 / 12):
    n_paths, n_steps = Z.shape
    S = np.full(n_paths, S0)
    running = np.zeros(n_paths)
    for t in range(n_steps):
        S = S * np.exp((r_ - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * Z[:, t])
        running += S
    avg = running / n_steps
    return np.exp(-r_ * n_steps * dt) * np.mean(np.maximum(avg - K, 0))


def black_scholes_call(S, K, T, r_, sigma):
    d1 = (math.log(S / K) + (r_ + sigma**2 / 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    N = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    return S * N(d1) - K * math.exp(-r_ * T) * N(d2)


def basket_option_cholesky(S0, vols, corr, Z, K=1.0):
    L = np.linalg.cholesky(corr)
    W = Z @ L.T
    ST = S0 * np.exp(-0.5 * vols**2 + vols * W)
    basket = ST.mean(axis=1)
    return np.mean(np.maximum(basket - K, 0.0))


# ------------------------------------------------------------------ cases

Zmc = np.random.default_rng(11).standard_normal(200)
Zpaths = np.random.default_rng(12).standard_normal((50, 12))
Zbasket = np.random.default_rng(13).standard_normal((100, 3))
CORR = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.0]])
POS = np.array([[0.0, 0.0], [1.0, 0.2], [-0.3, 0.9], [0.5, -0.8]])
VEL = 0.1 * r(4, 2)

CASES = [
    Case(
        "mass_spring_state_dict_kwonly",
        mass_spring_chain,
        (0.8, np.arange(5.0) * 1.1, 0.1 * r(5)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "spring_energy_history",
        spring_energy_history,
        (1.3, np.arange(4.0) + 0.1 * r(4)),
        wrt=(0, 1),
    ),
    Case(
        "nbody_leapfrog_softened",
        nbody_leapfrog,
        (POS, VEL, np.abs(r(4)) + 0.5),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "nbody_potential_double_loop",
        nbody_potential_loops,
        (POS, np.abs(r(4)) + 0.5),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "pendulum_rk4_star_args_observations",
        pendulum_rk4_generic,
        ((0.3, 9.0), np.array([0.5, 0.0]), [0.5, 1.0, 2.0], [0.2, -0.1, 0.05]),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "double_pendulum_euler",
        double_pendulum_energy,
        ((0.4, -0.2), (0.1, 0.3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("heat_explicit_slices", heat_explicit, (r(9), 0.7, r(9)), wrt=(0, 1, 2), order=2),
    Case("heat_crank_nicolson_solve", heat_crank_nicolson, (r(6), 0.3), wrt=(0, 1), order=2),
    Case("heat_2d_laplacian_write", heat_2d_stencil, (r(5, 6), 0.15), wrt=(0, 1), order=2),
    Case("dh_forward_kinematics", fk_reach_loss, (r(4), np.array([0.3, 0.2, 0.5])), order=2),
    Case(
        "planar_arm_joint_list",
        planar_arm_points,
        (r(3), np.array([1.0, 0.7, 0.4])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "arm_end_effector_jacobian", arm_end_effector, (r(3), np.array([1.0, 0.7, 0.4])), kind="jac"
    ),
    Case("projectile_range_while", projectile_range, (10.0, 0.7, 0.05), wrt=(0, 1, 2)),
    Case("shooting_secant_tolerance", shooting_secant, (2.0, 0.4), wrt=(0, 1)),
    Case(
        "european_call_mc", european_call_mc, (1.0, 0.2, 0.03, 1.0, 1.05, Zmc), wrt=(0, 1, 2, 3, 4)
    ),
    Case("asian_call_paths", asian_call_paths, (1.0, 0.25, Zpaths), wrt=(0, 1)),
    Case(
        "black_scholes_lambda_math",
        black_scholes_call,
        (1.1, 1.0, 0.5, 0.02, 0.3),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case(
        "basket_option_cholesky",
        basket_option_cholesky,
        (np.array([1.0, 1.1, 0.9]), np.array([0.2, 0.3, 0.25]), CORR, Zbasket),
        wrt=(0, 1, 2),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_physics(case):
    check(case)
