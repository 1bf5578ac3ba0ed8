"""Scientific code as its authors write it, the second part: a 1-D bar and a triangle mesh
assembled with ``np.add.at`` (per element and vectorized), physics with state dicts (a spring
chain, a projectile with drag stepped by ``while state["t"] < T``, a pendulum whose history
keeps ``state.copy()``: a number item updated in place, ``state["t"] += dt``, of a dict display
holding an argument, is rebound as Python rebinds it; an array item so updated changes the
argument in place and stays refused), and robotics forward kinematics chains (a planar arm by
angle sums, homogeneous transforms multiplied in a loop, DH parameters, a Jacobian-transpose
step). Each against Python's value and central differences on calls 1-3, to second order where
smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(31338)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ finite elements


def fem_1d_bar(E, f):
    n_el = len(E)
    h = 1.0 / n_el
    K = np.zeros((n_el + 1, n_el + 1))
    F = np.zeros(n_el + 1)
    for e in range(n_el):
        ke = E[e] / h * np.array([[1.0, -1.0], [-1.0, 1.0]])
        idx = np.array([e, e + 1])
        np.add.at(K, (idx[:, None], idx[None, :]), ke)
        np.add.at(F, idx, f[e] * h / 2.0)
    u = np.zeros(n_el + 1)
    u[1:] = np.linalg.solve(K[1:, 1:], F[1:])
    return F @ u


def fem_assembly_vectorized(k, conn, n_nodes):
    K = np.zeros((n_nodes, n_nodes))
    local = k[:, None, None] * np.array([[1.0, -1.0], [-1.0, 1.0]])
    rows = np.repeat(conn, 2, axis=1).reshape(-1, 2, 2)
    cols = np.tile(conn, (1, 2)).reshape(-1, 2, 2)
    np.add.at(K, (rows, cols), local)
    K = K + np.eye(n_nodes)
    load = np.linspace(0.5, 1.5, n_nodes)
    u = np.linalg.solve(K, load)
    return load @ u


def fem_triangles_mass(nodes, tris):
    M = np.zeros(len(nodes))
    for t in tris:
        p = nodes[t]
        area = 0.5 * abs(
            (p[1, 0] - p[0, 0]) * (p[2, 1] - p[0, 1]) - (p[2, 0] - p[0, 0]) * (p[1, 1] - p[0, 1])
        )
        np.add.at(M, t, area / 3.0)
    return np.sum(M**2)


# ------------------------------------------------------------------ physics with state dicts


def spring_chain(k, state):
    s = {"x": state["x"].copy(), "v": state["v"].copy()}
    dt = 0.05
    for _ in range(4):
        stretch = np.diff(s["x"]) - 1.0
        f = np.zeros_like(s["x"])
        f[:-1] += k * stretch
        f[1:] -= k * stretch
        s["v"] = 0.98 * s["v"] + dt * f
        s["x"] = s["x"] + dt * s["v"]
    return np.sum(s["x"] ** 2) + 0.5 * np.sum(s["v"] ** 2)


def projectile_drag(c, v0):
    state = {"pos": np.zeros(2), "vel": v0, "t": 0.0}
    g = np.array([0.0, -9.81])
    dt = 0.02
    while state["t"] < 0.1:
        speed = np.linalg.norm(state["vel"])
        acc = g - c * speed * state["vel"]
        state["vel"] = state["vel"] + dt * acc
        state["pos"] = state["pos"] + dt * state["vel"]
        state["t"] += dt
    return state["pos"][0] + 2.0 * state["pos"][1]


def pendulum_energy(theta0, L):
    state = dict(theta=theta0, omega=0.0)
    history = []
    for _ in range(5):
        state["omega"] -= 0.05 * 9.81 / L * np.sin(state["theta"])
        state["theta"] += 0.05 * state["omega"]
        history.append(state.copy())
    return sum(0.5 * L**2 * h["omega"] ** 2 - 9.81 * L * np.cos(h["theta"]) for h in history)


# ------------------------------------------------------------------ robotics


def planar_arm(thetas, lengths, target):
    x, y, phi = 0.0, 0.0, 0.0
    for th, ln in zip(thetas, lengths):
        phi = phi + th
        x = x + ln * np.cos(phi)
        y = y + ln * np.sin(phi)
    return (x - target[0]) ** 2 + (y - target[1]) ** 2


def rot_trans(theta, length):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, length * c], [s, c, length * s], [0.0, 0.0, 1.0]])


def homogeneous_chain(thetas, target):
    T = np.eye(3)
    joints = []
    for i, th in enumerate(thetas):
        T = T @ rot_trans(th, 0.5 + 0.1 * i)
        joints.append(T[:2, 2])
    ee = joints[-1]
    return np.sum((ee - target) ** 2) + 0.01 * sum(np.sum(j**2) for j in joints)


def dh_matrix(a, alpha, d, theta):
    ct, st = np.cos(theta), np.sin(theta)
    ca, sa = np.cos(alpha), np.sin(alpha)
    return np.array(
        [
            [ct, -st * ca, st * sa, a * ct],
            [st, ct * ca, -ct * sa, a * st],
            [0.0, sa, ca, d],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


DH = [(0.0, np.pi / 2, 0.3), (0.4, 0.0, 0.0), (0.3, 0.0, 0.0)]


def dh_forward_kinematics(q, target):
    T = np.eye(4)
    for (a, alpha, d), qi in zip(DH, q):
        T = T @ dh_matrix(a, alpha, d, qi)
    return np.sum((T[:3, 3] - target) ** 2)


def jacobian_transpose_step(q, target):
    def fk(qq):
        return np.array(
            [np.cos(qq[0]) + np.cos(qq[0] + qq[1]), np.sin(qq[0]) + np.sin(qq[0] + qq[1])]
        )

    J = np.array(
        [
            [-np.sin(q[0]) - np.sin(q[0] + q[1]), -np.sin(q[0] + q[1])],
            [np.cos(q[0]) + np.cos(q[0] + q[1]), np.cos(q[0] + q[1])],
        ]
    )
    q_new = q + 0.1 * J.T @ (target - fk(q))
    return np.sum((fk(q_new) - target) ** 2)


def state_array_item_updated(c, v0):
    state = {"vel": v0, "t": 0.0}
    for _ in range(2):
        state["vel"] += c * state["vel"]  # REFUSED
        state["t"] += 0.1
    return np.sum(state["vel"]) + state["t"]


def state_zero_d_item_updated(c, v0):
    s0 = np.array(0.0)
    state = {"vel": v0, "t": s0}
    for _ in range(2):
        state["t"] += c  # REFUSED
    return np.sum(state["vel"]) * state["t"] + s0


def state_number_items_updated(c, v0, t0):
    state = {"vel": v0, "t": t0, "n": 0}
    for _ in range(3):
        state["vel"] = state["vel"] * c
        state["t"] += 0.1 * c
        state["n"] += 1
    return np.sum(state["vel"]) * state["t"] + state["n"]


CONN = np.array([[0, 1], [1, 2], [2, 3]])
NODES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.2]])
TRIS = [np.array([0, 1, 2]), np.array([1, 3, 2])]
CHAIN = {"x": np.array([0.0, 1.1, 2.0, 3.2]), "v": np.zeros(4)}

CASES = [
    Case("fem_1d_bar", fem_1d_bar, (1.0 + np.abs(r(3)), r(3)), wrt=(0, 1)),
    Case("fem_vectorized", fem_assembly_vectorized, (1.0 + np.abs(r(3)), CONN, 4), order=2),
    Case("fem_triangles_mass", fem_triangles_mass, (NODES, TRIS)),
    Case("spring_chain", spring_chain, (2.0, CHAIN), wrt=(0, 1), order=2),
    Case("projectile_drag", projectile_drag, (0.1, np.array([3.0, 4.0])), wrt=(0, 1), order=2),
    Case("pendulum_energy", pendulum_energy, (0.6, 1.2), wrt=(0, 1), order=2),
    Case("planar_arm", planar_arm, (r(3), [1.0, 0.8, 0.5], np.array([1.0, 1.0])), order=2),
    Case("planar_arm_lengths", planar_arm, (r(3), [1.0, 0.8, 0.5], np.array([1.0, 1.0])), wrt=1),
    Case("homogeneous_chain", homogeneous_chain, (r(3), np.array([0.5, 0.9])), order=2),
    Case(
        "dh_forward_kinematics", dh_forward_kinematics, (r(3), np.array([0.3, 0.2, 0.5])), order=2
    ),
    Case("jacobian_transpose_step", jacobian_transpose_step, (r(2), np.array([1.0, 0.8])), order=2),
    Case(
        "state_number_items_updated",
        state_number_items_updated,
        (0.7, r(2), 0.3),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "state_zero_d_item_updated_refused",
        state_zero_d_item_updated,
        (0.7, r(2)),
        refused=(sg.UnsupportedSyntaxError, "write through one name only"),
    ),
    Case(
        "state_array_item_updated_refused",
        state_array_item_updated,
        (0.7, r(2)),
        refused=(sg.UnsupportedSyntaxError, "write through one name only"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_physics_robotics(case):
    check(case)
