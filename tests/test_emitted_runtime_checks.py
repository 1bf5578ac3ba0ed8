"""What the emitter writes for a runtime check, read through ``sg.show``: a number item of a
dict updated in a loop (``state["t"] += dt``, the dict display holding an argument) is checked
when it runs (``not_a_view``), the refusal's message named by a constant, not written out in
the line; values and gradients as before, the refusal still given where the item is a 0-d
array, the export and a fresh process's disk-cached build running the same code."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal
from .test_export import run_isolated, same, steady

R = np.random.default_rng(1515)


def state_number_items(c, v0, t0):
    state = {"vel": v0, "t": t0, "n": 0}
    for _ in range(3):
        state["vel"] = state["vel"] * c
        state["t"] += 0.1 * c
        state["n"] += 1
    return np.sum(state["vel"]) * state["t"] + state["n"]


def projectile(c, v0):
    state = {"pos": np.zeros(2), "vel": v0, "t": 0.0}
    dt = 0.02
    while state["t"] < 0.1:
        acc = np.array([0.0, -9.81]) - c * np.linalg.norm(state["vel"]) * state["vel"]
        state["vel"] = state["vel"] + dt * acc
        state["pos"] = state["pos"] + dt * state["vel"]
        state["t"] += dt
    return state["pos"][0] + 2.0 * state["pos"][1]


def zero_d_item(c, v0):
    s0 = np.array(0.0)
    state = {"vel": v0, "t": s0}
    for _ in range(2):
        state["t"] += c  # REFUSED
    return np.sum(state["vel"]) * state["t"] + s0


ARGS = {
    state_number_items: (0.9, R.standard_normal(3), 0.3),
    projectile: (0.4, np.array([1.0, 2.0])),
}
CASES = [Case(f.__name__, f, a, wrt=(0, 1), order=2) for f, a in ARGS.items()]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_check_reads_as_code_and_gives_the_gradient(case):
    for optimized in (False, True):
        text = sg.show(case.f, case.wrt, args=case.args, optimized=optimized)
        assert "not_a_view(" in text  # the check is there, its message is not
        assert "explicit copy" not in text and "sourcegrad" not in text
        assert all(len(line) <= 100 for line in text.splitlines()), text
    check(case)  # value, gradient (calls 1-3) and hvp against central differences


def test_the_check_still_refuses_a_zero_d_array_item_with_its_way_out():
    v0 = R.standard_normal(2)
    check_refusal(zero_d_item, (0.5, v0), sg.UnsupportedSyntaxError, "explicit copy", wrt=0)


@pytest.mark.parametrize("f", list(ARGS), ids=[f.__name__ for f in ARGS])
def test_the_export_names_the_message_once_and_runs_bit_for_bit(f, tmp_path):
    args = ARGS[f]
    text = sg.export(f, *args)
    used = set(re.findall(r"not_a_view\(.*, (refusal_\d+), \d+\)", text))
    assert used and all(text.count(f"\n{name} = ") == 1 for name in used), text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", args)
    assert same(got, steady(sg.value_and_grad(f), *args)), got


def scan_appends(W, xs, h0):
    h, ys = h0, []
    for x in xs:
        h = np.tanh(W @ h + x)
        ys.append(h)
        ys.append(0.5 * h)
    return np.sum(np.stack(ys) ** 2)


SCAN = Case(
    "scan_appends",
    scan_appends,
    (0.5 * R.standard_normal((3, 3)), R.standard_normal((4, 3)), R.standard_normal(3)),
    wrt=(0, 1, 2),
    order=2,
)


def test_an_appended_items_adjoint_is_taken_before_the_list_is_cut():
    for optimized in (False, True):
        text = sg.show(scan_appends, SCAN.wrt, args=SCAN.args, optimized=optimized)
        assert "= dys[-1]" in text and "dys = dys[:-1]" in text, text
        assert not re.search(r"^\s*dys_\d+ = dys$", text, re.M), text  # no copy of the list
    check(SCAN)


def decay(y, k):
    return -k * y + 0.1 * np.sin(y)


class Euler:
    def __init__(self, dt):
        self.dt = dt

    def step(self, f, y, k):
        return y + self.dt * f(y, k)


def euler_solver(k, y0):
    solver = Euler(0.1)
    y = y0
    for _ in range(4):
        y = solver.step(decay, y, k)
    return np.sum(y**2)


SOLVER = Case(
    "euler_solver",
    euler_solver,
    (R.uniform(0.5, 1.0, 3), R.standard_normal(3)),
    wrt=(0, 1),
    order=2,
)


def test_a_global_function_handed_to_a_function_value_is_passed_as_it_is():
    for optimized in (False, True):
        text = sg.show(euler_solver, SOLVER.wrt, args=SOLVER.args, optimized=optimized)
        assert "copy_if_written(solver.step, 0" not in text, text  # a function is no array
        assert "copy_if_written(solver.step, 1, y" in text, text  # y may be written: asked
    check(SOLVER)


def softmax_peak(s, y):
    w = np.exp(s - s.max())
    w = w / w.sum()
    return np.sum(w * y) + np.min(s * y) ** 2


SOFTMAX = Case(
    "softmax_peak", softmax_peak, (R.standard_normal(5), R.standard_normal(5)), wrt=(0, 1), order=2
)


def test_a_whole_max_broadcasts_its_number_with_no_helper():
    for optimized in (False, True):
        text = sg.show(softmax_peak, SOFTMAX.wrt, args=SOFTMAX.args, optimized=optimized)
        assert "hit_2 = s == w_1" in text and "expand_to(" not in text, text
        assert not any("hit" in line and "unreduce(" in line for line in text.splitlines())
    forward = sg.show(softmax_peak, SOFTMAX.wrt, mode="forward", args=SOFTMAX.args)
    assert "expand_to(" not in forward and "keepdims" not in forward, forward
    check(SOFTMAX)


def losses_by_group(W, x, groups):
    losses = {"a": 0.0, "b": 0.0}
    pred = x @ W
    for i, g in enumerate(groups):
        losses[g] += np.sum(pred[i] ** 2)
    return losses["a"] + 2.0 * losses["b"]


GROUPS = Case(
    "losses_by_group",
    losses_by_group,
    (R.standard_normal((3, 2)), R.standard_normal((4, 3)), ["a", "b", "a", "b"]),
    order=2,
)


def test_an_item_of_a_plural_name_is_named_in_the_singular():
    for optimized in (False, True):
        text = sg.show(losses_by_group, args=GROUPS.args, optimized=optimized)
        assert "loss_g = losses[g]" in text and "losse_g" not in text, text
    check(GROUPS)
