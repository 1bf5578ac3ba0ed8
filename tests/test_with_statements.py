"""`with` statements that quiet floating-point warnings inside a differentiated function.

Every test here turns a RuntimeWarning into an error: the `with` must cover the derivative's
statements of the lines it covers (forward, adjoint, tangent, at every order, pure and
optimized builds), so that no warning the user silenced escapes.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import UnsupportedSyntaxError

from .ported.harness import CALLS, Case, check, check_refusal, direction, numerical

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = p * np.log(p)
    return -np.sum(np.where(p > 0, t, 0.0))


def kl(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(p > 0, p * np.log(p / q), 0.0)
        return np.sum(r)


def log_of_scaled(x):
    s = x * 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(s)
    return np.sum(np.where(np.isfinite(y), y, 0.0) * x)


def safe_normalise(x):
    s = np.sum(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x / s
    y = np.where(np.isfinite(y), y, 0.0)
    return np.sum(y * y * np.arange(1.0, x.size + 1.0))


def quiet_all(x):
    s = np.sum(x * x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            y = np.sqrt(x) / s
    return np.sum(np.where(np.isfinite(y), y, 0.0) * x)


def one_with_two_managers(x):
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        y = np.log(np.abs(x - 0.5)) * x
    return np.sum(np.where(np.isfinite(y), y, 0.0) ** 2)


def null_context(x):
    with contextlib.nullcontext():
        e = np.exp(x - np.max(x))
    with np.errstate(divide="ignore"):
        lp = np.log(e / np.sum(e))
    return np.sum(lp * lp)


def in_a_loop(x):
    total = 0.0
    for k in range(3):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = x / (x - k)
        total = total + np.sum(np.where(np.isfinite(r), r, 0.0) ** 2)
    return total


def loop_inside(x, n):
    with np.errstate(divide="ignore", invalid="ignore"):
        h = x
        for _ in range(n):
            h = h * np.log(h + 1.0)
    return np.sum(h)


def layered(x):
    with np.errstate(divide="ignore"):
        total = 0.0
        for k in range(2):
            u = np.log(np.abs(x - k))
            with np.errstate(invalid="ignore"):
                r = u * (x - k)
            total = total + np.sum(np.where(np.isfinite(r), r, 0.0) ** 2)
    return total


P = np.array([0.2, 0.5, 0.3])
Q = np.array([0.3, 0.3, 0.4])
X = np.array([0.4, 1.3, 2.2])

CASES = [
    Case("entropy", entropy, (P,), order=2),
    Case("kl", kl, (P, Q), wrt=(0, 1), order=2),
    Case("safe_normalise", safe_normalise, (X,), order=2),
    Case("log_of_scaled", log_of_scaled, (X,), order=2),
    Case("catch_warnings_and_errstate_all", quiet_all, (X,), order=2),
    Case("nullcontext", null_context, (X,), order=2),
    Case("two_managers_in_one_with", one_with_two_managers, (X,), order=2),
    Case("with_in_a_loop", in_a_loop, (np.array([0.5, 1.5, 2.5]),), order=2),
    Case("loop_in_a_with", loop_inside, (X, 2), order=2),
    Case("with_in_a_loop_in_a_with", layered, (X,), order=2),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_against_central_differences(case):
    check(case)


def _steady(fn, *args):
    got = [fn(*args) for _ in range(CALLS)]
    return got[-1]


def test_zeros_where_the_user_silenced_them():
    """Entropy with 0 log 0, KL with p = 0, normalisation by a zero sum: Python's values, no
    warning, and the entries away from the zeros right."""
    p = np.array([0.0, 0.6, 0.4])
    value, g = _steady(sg.value_and_grad(entropy), p)
    assert value == entropy(p)
    assert np.isnan(g[0]) and np.allclose(g[1:], -np.log(p[1:]) - 1.0)
    value, (gp, gq) = _steady(sg.value_and_grad(kl, (0, 1)), p, Q)
    assert value == kl(p, Q)
    assert np.allclose(gq, -p / Q) and np.allclose(gp[1:], np.log(p[1:] / Q[1:]) + 1.0)
    value, g = _steady(sg.value_and_grad(log_of_scaled), p)  # (the adjoint's s / 0 quiet)
    assert value == log_of_scaled(p) and np.allclose(g[1:], np.log(3.0 * p[1:]) + 1.0)
    half = np.array([0.5, 1.5, 0.25])
    value, g = _steady(sg.value_and_grad(one_with_two_managers), half)
    assert value == one_with_two_managers(half) and np.isfinite(g[1])
    zeros = np.zeros(3)
    value, g = _steady(sg.value_and_grad(safe_normalise), zeros)
    assert value == safe_normalise(zeros) and np.all(np.isfinite(g) | np.isnan(g))
    assert _steady(sg.hvp(entropy), p, np.ones(3)).shape == (3,)


def test_forward_mode_and_gradient_of_gradient():
    v = direction(X)
    h = 1e-6
    want_t = (null_context(X + h * v) - null_context(X - h * v)) / (2 * h)
    for _ in range(CALLS):
        value, t = sg.jvp(null_context)(X, v)
        assert value == null_context(X) and np.isclose(t, want_t, rtol=1e-6)

    def penalty(x):
        return np.sum(sg.grad(entropy)(x) ** 2)

    want = numerical(penalty, (P,), 0)
    for _ in range(CALLS):
        assert np.allclose(sg.grad(penalty)(P), want, rtol=1e-5, atol=1e-6)
    hess = _steady(sg.hessian(kl), P, Q)
    assert np.allclose(hess, np.diag(1.0 / P), rtol=1e-6)


@pytest.mark.parametrize("optimized", [False, True])
def test_shown_code_keeps_the_with_around_forward_and_adjoint(optimized):
    text = sg.show(kl, args=(P, Q), optimized=optimized)
    derivative = text.split("\n\n\n")[0]
    forward, adjoint = derivative.split("\n\n", 1)
    quiet = 'with np.errstate(divide="ignore", invalid="ignore"):'
    assert quiet in forward and quiet in adjoint, derivative
    body = derivative.splitlines()
    log = next(i for i, line in enumerate(body) if "np.log(" in line)
    assert any(quiet in line for line in body[:log])
    shown = sg.show(quiet_all, args=(X,))
    assert shown.count("warnings.catch_warnings()") == 2
    assert shown.count('warnings.simplefilter("ignore")') == 2
    assert "with np.errstate(all=" in shown
    assert "with np.errstate" in sg.show(kl, args=(P, Q), order=2)
    body = sg.show(layered, args=(X,)).split("\n\n\n")[0].splitlines()
    for i, line in enumerate(body):
        if line.strip().startswith(("r = u * ", "du = dr * ")):
            around = _enclosing(body, i)
            assert 'with np.errstate(invalid="ignore"):' in around, (line, body)
            assert 'with np.errstate(divide="ignore"):' in around, (line, body)
    shown = sg.show(one_with_two_managers, args=(X,))
    assert shown.count("warnings.filterwarnings(") == 2, shown
    assert "with contextlib.nullcontext():" in sg.show(null_context, args=(X,), mode="forward")


def _enclosing(lines: list, i: int) -> list:
    """The headers of the blocks around ``lines[i]``, innermost first."""
    out, indent = [], len(lines[i]) - len(lines[i].lstrip())
    for line in reversed(lines[:i]):
        depth = len(line) - len(line.lstrip())
        if line.strip() and not line.strip().startswith("#") and depth < indent:
            out.append(line.strip())
            indent = depth
    return out


@pytest.mark.parametrize("mode", ["reverse", "forward", "order2"])
def test_export_keeps_the_with(mode):
    extra = {"reverse": {}, "forward": {"mode": "forward"}, "order2": {"order": 2}}[mode]
    text = sg.export(kl, P, Q, **extra)
    assert "with np.errstate(" in text
    namespace: dict = {}
    exec(compile(text, "<export>", "exec"), namespace)  # noqa: S102 - the module just made
    p = np.array([0.0, 0.6, 0.4])
    if mode == "reverse":
        got, want = namespace["d_kl"](p, Q), sg.value_and_grad(kl)(p, Q)
    elif mode == "forward":
        got, want = namespace["d_kl"](p, Q, Q), sg.jvp(kl)(p, Q, Q)
    else:
        got, want = namespace["d_kl"](p, Q, Q), sg.hvp(kl)(p, Q, Q)
    np.testing.assert_array_equal(np.hstack(got), np.hstack(want))


class Opened:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def reads_a_file(x):
    with open(__file__) as fh:  # REFUSED
        n = len(fh.readline())
    return np.sum(x) * n


def binds_a_value(x):
    with contextlib.nullcontext(x * 2.0) as y:  # REFUSED
        z = y + 1.0
    return np.sum(z)


def raises_on_zero(x):
    with np.errstate(divide="raise"):  # REFUSED
        y = np.log(x)
    return np.sum(y)


def own_manager(x):
    with Opened():  # REFUSED
        y = np.sin(x)
    return np.sum(y)


@pytest.mark.parametrize(
    "f, hint",
    [
        (reads_a_file, "enter it in the caller"),
        (binds_a_value, "drop `as ...`"),
        (raises_on_zero, 'use "ignore" and test the result'),
        (own_manager, "keeps only context managers that quiet floating-point warnings"),
    ],
)
def test_other_context_managers_refused(f, hint):
    check_refusal(f, (X,), UnsupportedSyntaxError, hint)


def test_export_imports_what_the_with_reads():
    text = sg.export(quiet_all, X, order=2)
    assert "import warnings" in text and "warnings.simplefilter(" in text
    namespace: dict = {}
    exec(compile(text, "<export>", "exec"), namespace)  # noqa: S102 - the module just made
    z = np.array([0.0, 1.0, 4.0])
    # at z[0] == 0 the chain rule meets sqrt's infinite slope outside the `with`: the hvp is
    # nan (NumPy's rules give the same), and NumPy's warning there is not what is tested
    with np.errstate(invalid="ignore"):
        got = namespace["d_quiet_all"](z, np.ones(3))
        np.testing.assert_array_equal(got, sg.hvp(quiet_all)(z, np.ones(3)))
