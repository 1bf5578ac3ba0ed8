"""Like terms (``sourcegrad.transform.algebra``) and the algebraic folds of simplify: each
rewrite is checked on statements through the pass's entry, and through the public API
against the unsimplified meaning (central differences)."""

from __future__ import annotations

import gast
import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import collect_like_terms


def _run(code: str) -> str:
    body = gast.parse(code).body
    names = {
        n.id for n in gast.walk(gast.Module(body=body, type_ignores=[])) if isinstance(n, gast.Name)
    }
    collect_like_terms(body, lambda stmt: stmt.targets[0].id.startswith("d"), names)
    return gast.unparse(gast.Module(body=body, type_ignores=[])).strip()


def test_powers_written_through_their_names_combine():
    out = _run("s = x * x\nc = s * x\ndc = 2.0 * (dx * x) * x + s * dx")
    assert out.splitlines()[-1] == "dc = 3.0 * (s * dx)"


def test_multiples_combine_through_a_named_multiple():
    out = _run("t = 3.0 * x\ndq = 3.0 * dx * x + t * dx")
    assert out.splitlines()[-1] == "dq = 6.0 * (dx * x)"  # t is written out: no saving


def test_a_reassigned_factor_invalidates_its_product():
    code = "s = x * x\nx = x + 1.0\ndc = 2.0 * (dx * x) * x + s * dx"
    # s is no longer x * x: no like terms, only the common factor dx taken out
    assert _run(code).splitlines()[-1] == "dc = dx * (2.0 * (x * x) + s)"


def test_a_named_multiple_absorbs_its_coefficient_and_the_better_factor_is_taken_out():
    # the tangent of step = (x * x * x - a) / v, v = 3.0 * x * x: 3.0 * x * x * dx is v * dx
    # (not 3.0 * (s * dx) through s = x * x), and taking out dx then saves more than x
    code = (
        "s = x * x\nt = 3.0 * x\nv = t * x\n"
        "dq = 2.0 * (dx * x) * x + s * dx - da + -(6.0 * (dx * x)) * q"
    )
    assert _run(code).splitlines()[-1] == "dq = dx * (v - 6.0 * (q * x)) - da"


def test_nothing_to_combine_is_left_as_written():
    # x is a factor of both products (s = x * y), but taking it out saves nothing
    code = "s = x * y\nda = s * dx + x * dy - dz"
    assert _run(code).splitlines()[-1] == "da = s * dx + x * dy - dz"


def test_a_common_factor_is_taken_out_of_a_sum():
    out = _run("dx = g + e * (1.0 - t * t) * a - 2.0 * (t * e * x)")
    assert out == "dx = g + e * (a * (1.0 - t * t) - 2.0 * (t * x))"


def test_a_factor_is_taken_out_only_of_terms_whose_names_are_trusted():
    body = gast.parse("dx = e * k * k + e * s").body
    collect_like_terms(body, lambda stmt: True, {"e", "s", "dx"})
    # e * (k * k + s) would multiply the integers k first
    assert gast.unparse(body[0]).strip() == "dx = e * k * k + e * s"


def test_terms_meet_across_an_accumulation():
    out = _run("m = -x\ndx = 2.0 * dx + m * g\ndx = dx - g * x")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[-1] == "dx = 2.0 * dx - 2.0 * (g * x)"


def test_an_accumulation_read_in_between_is_not_merged():
    code = "m = -x\ndx = 2.0 * dx + m * g\ndy = dx * 3.0\ndx = dx - g * x"
    assert len(_run(code).splitlines()) == 4


def test_terms_that_cancel_are_left_as_written():
    # a cancelled term may be what broadcasts the sum to its shape: not rewritten to 0.0
    assert _run("dz = a * b - b * a + c") == "dz = a * b - b * a + c"


def cubic_newton(a):
    x = a
    for _ in range(4):
        x = x - (x * x * x - a) / (3.0 * x * x)
    return x


def chain(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


@pytest.mark.parametrize("a", [2.0, 9.0, 0.5])
def test_scalar_derivative_with_combined_terms(a):
    got = sg.grad(cubic_newton)(a)
    assert got == pytest.approx(numerical_grad(cubic_newton, (a,), 0), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_chain_with_combined_terms(dtype, rng):
    x = rng.standard_normal(50).astype(dtype)
    df = sg.value_and_grad(chain)
    df._entry((x, 0.7), True)
    running = df._entry((x, 0.7)).pretty(optimized=True)
    assert "2.0 * (dx * x)" not in running and "dout_4" not in running  # terms combined
    value, got = df(x, 0.7)
    assert got.dtype == dtype and np.asarray(value).dtype == dtype
    want = sg.grad(chain, optimize=False)(x.astype(np.float64), 0.7)
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(
        sg.grad(chain)(x.astype(np.float64), 0.7),
        numerical_grad(chain, (x.astype(np.float64), 0.7), 0),
        rtol=1e-6,
        atol=1e-8,
    )


def broadcast_product(x, b):
    return np.sum(x * b) + np.sum((x - b) * x)


def test_sums_of_products_that_broadcast_are_not_dots(rng):
    x, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    df = sg.grad(broadcast_product, 1)
    df._entry((x, b), True)
    running = df._entry((x, b)).pretty(optimized=True)
    value = sg.value_and_grad(broadcast_product, 1)
    value._entry((x, b), True)
    forward = value._entry((x, b)).pretty(optimized=True)
    assert "np.vdot(x, b)" not in forward  # x * b broadcasts: a dot would be wrong
    assert "np.vdot(" not in forward  # the value sums as the user wrote it (Python's value)
    np.testing.assert_allclose(
        df(x, b), numerical_grad(broadcast_product, (x, b), 1), rtol=1e-6, atol=1e-8
    )
    for _ in range(2):
        got_value, _ = value(x, b)
        assert got_value == broadcast_product(x, b)
    assert "sum_to(" not in running


def weighted(x, y):
    return np.sum(y * np.tanh(x)) + np.sum((x - y) ** 2)


def scaled(x, s):
    return np.sum(np.sin(s * x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sums_of_products_run_as_dots_in_float64(dtype, rng):
    x, y = rng.standard_normal(30).astype(dtype), rng.standard_normal(30).astype(dtype)
    df = sg.value_and_grad(weighted)
    df._entry((x, y), True)
    running = df._entry((x, y)).pretty(optimized=True)
    assert "np.vdot(" not in running  # the value sums as the user wrote it (Python's value)
    # the adjoint of the scale is a full sum of a product: float32 keeps NumPy's pairwise sum
    ds = sg.grad(scaled, (0, 1))
    ds._entry((x, 0.5), True)
    assert ("np.vdot(" in ds._entry((x, 0.5)).pretty(optimized=True)) == (dtype == np.float64)
    for _ in range(2):
        value, got = df(x, y)
        assert value == weighted(x, y)
    assert got.dtype == dtype
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(
        sg.grad(weighted)(x64, y64), numerical_grad(weighted, (x64, y64), 0), rtol=1e-6
    )


def test_an_accumulation_is_not_written_through_the_value_it_replaces():
    # merged across both statements, the first is dropped: "dx + g * x" would read nothing
    assert _run("dx = o * g\ndx = dx + g * x") == "dx = g * (o + x)"
    # within one statement dx still holds a * b: written through it
    assert _run("dx = a * b\ndx = dx + 2.0 * (a * b)") == "dx = a * b\ndx = 3.0 * dx"
