"""Simulations as tutorials write them: explicit Euler and RK4 steppers taking the
right-hand side as a function, an RK4 step returning a tuple, Lotka-Volterra, a damped
pendulum, SIR epidemics, N-body gravity with pairwise loops, a projectile integrated in a
``while y >= 0`` loop, a bouncing ball with reflections, a heat equation with an explicit
stencil, a mass-spring chain, velocity Verlet, an adaptive step with early exit, and
shooting for a boundary value. Each against Python's value and central differences on calls
1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(9404)


def r(*s):
    return R.standard_normal(s)


def euler(f, y0, t0, t1, n, *args):
    h = (t1 - t0) / n
    y = y0
    t = t0
    for _ in range(n):
        y = y + h * f(t, y, *args)
        t = t + h
    return y


def rk4_step(f, t, y, h, args=()):
    k1 = f(t, y, *args)
    k2 = f(t + h / 2, y + h / 2 * k1, *args)
    k3 = f(t + h / 2, y + h / 2 * k2, *args)
    k4 = f(t + h, y + h * k3, *args)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def rk4(f, y0, ts, args=()):
    ys = [y0]
    for i in range(len(ts) - 1):
        ys.append(rk4_step(f, ts[i], ys[-1], ts[i + 1] - ts[i], args))
    return np.array(ys)


def lotka_volterra(t, z, alpha, beta, delta, gamma):
    x, y = z
    return np.array([alpha * x - beta * x * y, delta * x * y - gamma * y])


def lv_fit_euler(theta, z0, target):
    alpha, beta, delta, gamma = theta
    z = euler(lotka_volterra, z0, 0.0, 2.0, 40, alpha, beta, delta, gamma)
    return np.sum((z - target) ** 2)


def lv_fit_rk4(theta, z0, obs):
    ts = np.linspace(0.0, 2.0, 9)
    traj = rk4(lotka_volterra, z0, ts, args=tuple(theta))
    return np.mean((traj - obs) ** 2)


def pendulum(t, state, g, L, damping):
    theta, omega = state[0], state[1]
    return np.array([omega, -(g / L) * np.sin(theta) - damping * omega])


def pendulum_final_energy(params_, state0):
    L, damping = params_
    state = state0
    dt = 0.02
    for _ in range(50):
        state = rk4_step(pendulum, 0.0, state, dt, (9.81, L, damping))
    theta, omega = state
    return 0.5 * L**2 * omega**2 + 9.81 * L * (1 - np.cos(theta))


def sir_loss(log_rates, i0, observed):
    beta, gamma = np.exp(log_rates)
    S, Inf, Rr = 1.0 - i0, i0, 0.0
    dt = 0.5
    history = []
    for _ in range(len(observed)):
        new_inf = beta * S * Inf * dt
        new_rec = gamma * Inf * dt
        S, Inf, Rr = S - new_inf, Inf + new_inf - new_rec, Rr + new_rec
        history.append(Inf)
    return np.sum((np.array(history) - observed) ** 2)


def nbody_energy_after(positions, velocities, masses, steps=5, dt=0.01, soft=0.1):
    pos = positions.copy()
    vel = velocities.copy()
    n = len(masses)
    for _ in range(steps):
        acc = np.zeros_like(pos)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                d = pos[j] - pos[i]
                dist3 = (np.sum(d**2) + soft**2) ** 1.5
                acc[i] += masses[j] * d / dist3
        vel = vel + dt * acc
        pos = pos + dt * vel
    kinetic = 0.5 * np.sum(masses[:, None] * vel**2)
    return kinetic + np.sum(pos**2)


def projectile_range(v0, angle, drag=0.1, dt=0.01):
    x, y = 0.0, 0.0
    vx, vy = v0 * np.cos(angle), v0 * np.sin(angle)
    while y >= 0.0:
        speed = np.sqrt(vx**2 + vy**2)
        vx = vx - drag * speed * vx * dt
        vy = vy - (9.81 + drag * speed * vy) * dt
        x = x + vx * dt
        y = y + vy * dt
    return x


def bouncing_ball(h0, restitution, steps=120, dt=0.01):
    y, v = h0, 0.0
    path = 0.0
    for _ in range(steps):
        v = v - 9.81 * dt
        y = y + v * dt
        if y < 0:
            y = -y * restitution
            v = -v * restitution
        path += abs(v) * dt
    return path + y


def heat_equation(u0, kappa, steps=20):
    u = u0.copy()
    dx = 1.0 / (len(u) - 1)
    dt = 0.4 * dx**2
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1] = (u[2:] - 2 * u[1:-1] + u[:-2]) / dx**2
        u = u + kappa * dt * lap
        u[0] = 0.0
        u[-1] = 0.0
    return np.sum(u**2) * dx


def spring_chain(k, x0, v0, steps=30, dt=0.05):
    """Velocity Verlet for masses joined by springs of stiffness ``k`` (one per link)."""

    def forces(x):
        stretch = np.diff(x) - 1.0
        f = np.zeros_like(x)
        f[:-1] += k * stretch
        f[1:] -= k * stretch
        return f

    x, v = x0, v0
    a = forces(x)
    for _ in range(steps):
        x = x + v * dt + 0.5 * a * dt**2
        a_new = forces(x)
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
    return np.sum(v**2) + np.sum(k * (np.diff(x) - 1.0) ** 2)


def adaptive_euler(rate, y0, t_end=1.0, tol=1e-3):
    t, y, h = 0.0, y0, 0.1
    steps = 0
    while t < t_end:
        if t + h > t_end:
            h = t_end - t
        full = y + h * (-rate * y)
        half = y + h / 2 * (-rate * y)
        half = half + h / 2 * (-rate * half)
        err = abs(full - half)
        if err > tol and h > 1e-4:
            h = h / 2
            continue
        y = half
        t = t + h
        steps += 1
        if steps > 200:
            break
    return y


def shooting(slope, target=1.0):
    """y'' = -y on [0, 1] with y(0) = 0, integrated with RK4 as a first-order system."""

    def rhs(t, s):
        return np.array([s[1], -s[0]])

    s = np.array([0.0, slope])
    h = 0.1
    for i in range(10):
        s = rk4_step(rhs, i * h, s, h)
    return (s[0] - target) ** 2


def harmonic_symplectic(q0, p0, omega):
    q, p = q0, p0
    dt = 0.1
    energies = []
    for _ in range(20):
        p = p - dt * omega**2 * q
        q = q + dt * p
        energies.append(0.5 * p**2 + 0.5 * omega**2 * q**2)
    return max(energies) - min(energies) + q


POS = r(3, 2)
VEL = 0.1 * r(3, 2)
MASS = np.array([1.0, 0.5, 2.0])
u0 = np.sin(np.linspace(0, np.pi, 8)) + 0.1 * r(8)
u0[0] = u0[-1] = 0.0

CASES = [
    Case(
        "lotka_volterra_euler_star_args",
        lv_fit_euler,
        (np.array([1.0, 0.4, 0.3, 0.8]), np.array([2.0, 1.0]), np.array([1.5, 1.2])),
        order=2,
    ),
    Case(
        "lotka_volterra_rk4_args_tuple",
        lv_fit_rk4,
        (np.array([1.0, 0.4, 0.3, 0.8]), np.array([2.0, 1.0]), np.abs(r(9, 2))),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "pendulum_rk4_energy",
        pendulum_final_energy,
        (np.array([1.2, 0.3]), np.array([0.8, 0.0])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "sir_tuple_updates",
        sir_loss,
        (np.log(np.array([0.8, 0.3])), 0.05, np.linspace(0.05, 0.2, 8)),
        wrt=(0, 1),
        order=2,
    ),
    Case("nbody_pairwise_loops", nbody_energy_after, (POS, VEL, MASS), wrt=(0, 1, 2), order=2),
    Case("projectile_while_above_ground", projectile_range, (12.0, 0.7), wrt=(0, 1), atol=1e-5),
    Case("bouncing_ball_reflection", bouncing_ball, (1.0, 0.77), wrt=(0, 1), atol=1e-5),
    Case("heat_equation_stencil", heat_equation, (u0, 0.7), wrt=(0, 1), order=2),
    Case(
        "spring_chain_verlet_nested_forces",
        spring_chain,
        (np.array([1.0, 1.5, 0.8]), np.array([0.0, 1.1, 2.0, 3.2]), np.zeros(4)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case("adaptive_euler_continue", adaptive_euler, (1.3, 1.0), wrt=(0, 1), atol=1e-5),
    Case("shooting_nested_rhs", shooting, (0.9,), order=2),
    Case("symplectic_max_min_of_list", harmonic_symplectic, (1.0, 0.5, 1.3), wrt=(0, 1, 2)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_simulations(case):
    check(case)
