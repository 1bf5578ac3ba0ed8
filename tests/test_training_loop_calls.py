"""Derivatives called the way a training loop calls them (what the training family of the
program fuzzer, ``tests/program_fuzz_training.py``, draws): made once, called step after step
while the parameters are updated in place or rebuilt and the batch size, the dtype, a
hyperparameter's kind and the globals the loss reads change between calls; ``value_and_grad``,
``grad`` with another ``wrt``, ``hvp`` and ``jvp`` of the same function mixed. Every step
against Python's value and central differences in float64.

Found by the fuzzer: a runtime check that the gradient's code makes where a rank is not
known when it is built (``v = d.get(k, z)`` then ``v += 1``, refused where ``v`` turns out to
be ``z``'s array) was dropped as an unread value when the gradient was differentiated again,
so ``hvp``, ``jvp(grad(f))`` and ``hessian`` gave a silently wrong result where ``grad``
refuses; refused now, naming the user's line."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, check_refusal, numerical

R = np.random.default_rng(2026)
SHIFT = np.array([0.2, -0.1])
CFG = {"flag": True, "gain": 1.1}


# ------------------------------------------------ a check of the gradient, differentiated again


def aliased_get(h):
    z = h * 1.0
    d = {"a": z, "b": 0.5 * h}
    e = d.copy()
    v = e.get("c", z)
    v += 0.1
    return np.sum(d["a"] * z) + np.sum(np.sin(h) * z)


def aliased_get_in_a_branch(h):
    z = h * 1.0
    d = {"a": z, "b": 0.5 * h}
    e = d.copy()
    v = e.get("c", z)
    if h[0] > -10.0:
        v += 0.1  # REFUSED
    return np.sum(d["a"] * z) + np.sum(np.sin(h) * z)


def number_get(h):
    z = h * 1.0
    d = {"a": z, "b": 0.5 * h}
    v = d.get("c", 0.25)
    v += 0.1
    return np.sum(d["a"] * z) * v + np.sum(np.sin(h) * z)


H = np.array([0.3, -0.2, 0.5])
V = np.array([1.0, 0.5, -0.3])
WAY_OUT = "explicit copy"


def _hvp(f, wrt):
    return lambda *args: sg.hvp(f, wrt)(*args, V)


def _jvp_of_grad(f, wrt):
    return lambda *args: sg.jvp(sg.grad(f, wrt))(*args, V)


@pytest.mark.parametrize(
    "make",
    [sg.grad, _hvp, _jvp_of_grad, sg.hessian],
    ids=["grad", "hvp", "jvp_of_grad", "hessian"],
)
def test_second_order_refuses_what_the_gradient_refuses(make):
    # (a write in a branch is left to the run-time check that `v` is no array of `z`'s)
    check_refusal(aliased_get_in_a_branch, (H,), sg.UnsupportedSyntaxError, WAY_OUT, make=make)


def test_the_item_got_and_updated_is_followed_at_every_order():
    """The same program without the branch: `e`, a copy of `d`, holds `z` under "a", and
    `v = e.get("c", z); v += 0.1` changes `z` in place, which `d["a"]` shows."""
    check(Case("aliased_get", aliased_get, (H,), order=2))
    want = numerical(sg.grad(aliased_get), (H,), 0)
    np.testing.assert_allclose(sg.hessian(aliased_get)(H), want, rtol=1e-5, atol=1e-6)


def test_the_check_passes_where_the_item_is_a_number():
    check(Case("number_get", number_get, (H,), order=2))


# ------------------------------------------------------------------------- training loops


def mlp(params, x, y, *, wd=0.01, train=True):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    h = h + SHIFT
    if CFG["flag"]:
        h = h * CFG["gain"]
    if train:
        h = 0.9 * h + 0.1 * np.tanh(h)
    return np.mean((h - y) ** 2) + wd * sum(np.sum(W * W) for W, _ in params)


def _layers():
    return [
        (R.normal(0, 0.7, (3, 2)), R.normal(0, 0.3, 2)),
        (R.normal(0, 0.7, (2, 2)), np.zeros(2)),
    ]


def _data(batch, dtype=np.float64):
    return R.uniform(-1, 1, (batch, 3)).astype(dtype), R.uniform(-1, 1, (batch, 2)).astype(dtype)


def _close(got, want, rtol):
    flat = lambda t: np.concatenate([np.ravel(a) for pair in t for a in pair])  # noqa: E731
    np.testing.assert_allclose(flat(got), flat(want), rtol=rtol, atol=rtol * 1e-2)


STEPS = [  # batch, dtype, wd, train, a change of the globals before the step
    (4, np.float64, 0.01, True, None),
    (4, np.float64, np.array(0.02), True, "shift"),
    (4, np.float32, np.float64(0.03), False, "flag"),
    (4, np.float64, 0.04, True, "gain"),
    (1, np.float64, np.array(0.05), True, "flag"),
]


@pytest.mark.parametrize("update", ["in_place", "copyto", "rebuilt"])
def test_value_and_grad_in_a_loop_follows_what_changes_between_calls(update, monkeypatch):
    monkeypatch.setattr(f"{__name__}.SHIFT", SHIFT.copy())
    monkeypatch.setitem(CFG, "flag", True)
    monkeypatch.setitem(CFG, "gain", 1.1)
    params = _layers()
    vg = sg.value_and_grad(mlp)
    for batch, dtype, wd, train, change in STEPS:
        if change == "shift":
            SHIFT[:] = -SHIFT  # (a global array changed in place)
        elif change:
            CFG[change] = not CFG[change] if change == "flag" else 0.9
        x, y = _data(batch, dtype)
        value, g = vg(params, x, y, wd=wd, train=train)
        want = mlp(params, x, y, wd=wd, train=train)
        rtol = 1e-5 if dtype == np.float32 else 1e-10
        assert value == pytest.approx(want, rel=rtol)
        twin = (params, x.astype(np.float64), y.astype(np.float64))
        expected = numerical(functools.partial(mlp, wd=wd, train=train), twin, 0)
        _close(g, expected, 1e-3 if dtype == np.float32 else 1e-5)
        if update == "rebuilt":
            params = [(W - 0.1 * gW, b - 0.1 * gb) for (W, b), (gW, gb) in zip(params, g)]
        for (W, b), (gW, gb) in zip(params if update != "rebuilt" else (), g):
            if update == "in_place":
                W -= 0.1 * gW
                b -= 0.1 * gb
            else:
                np.copyto(W, W - 0.1 * gW)
                np.copyto(b, b - 0.1 * gb)


def test_grad_hvp_and_jvp_of_one_function_mixed_in_a_loop_with_a_layer_added():
    params = _layers()
    grad_p, grad_x, grad_both = sg.grad(mlp), sg.grad(mlp, 1), sg.grad(mlp, (0, 1))
    hvp, jvp, vg = sg.hvp(mlp), sg.jvp(mlp), sg.value_and_grad(mlp)
    for step, batch in enumerate([3, 3, 2, 3, 1]):
        if step == 3:
            params.append((R.normal(0, 0.5, (2, 2)), R.normal(0, 0.2, 2)))
        x, y = _data(batch)
        fd_p = numerical(mlp, (params, x, y), 0)
        _close(grad_p(params, x, y), fd_p, 1e-5)
        np.testing.assert_allclose(grad_x(params, x, y), numerical(mlp, (params, x, y), 1), 1e-5)
        _close(grad_both(params, x, y)[0], fd_p, 1e-5)
        v = [(R.normal(size=W.shape), R.normal(size=b.shape)) for W, b in params]
        dot = sum(np.sum(a * b) for pair, vpair in zip(fd_p, v) for a, b in zip(pair, vpair))
        value, tangent = jvp(params, x, y, v)
        assert value == pytest.approx(mlp(params, x, y), rel=1e-10)
        assert tangent == pytest.approx(dot, rel=1e-5)
        eps = 1e-5
        moved = [[(W + s * a, b + s * c) for (W, b), (a, c) in zip(params, v)] for s in (eps, -eps)]
        fd_hv = [
            tuple((p - m) / (2 * eps) for p, m in zip(gp, gm))
            for gp, gm in zip(vg(moved[0], x, y)[1], vg(moved[1], x, y)[1])
        ]
        _close(hvp(params, x, y, v), fd_hv, 1e-4)
