"""Tangents of one value along several arguments at once: ``sg.hvp(f, (0, 1))`` (one joint
direction, the Hessian's blocks between the arguments included) and ``sg.jvp(f, (0, 1))``
with a tuple of tangents.

Where a rule's result is a tuple (``np.linalg.lstsq``'s solution, residuals, rank and
singular values; a primitive of the user's returning a pair), the parts its operands
contribute to the result's tangent add item by item (``add_tangents``): ``+`` joined the two
tuples, which made ``lstsq(a, b)[0]``'s joint hvp silently wrong and unpacking its result
raise. Layer objects of a list called in a loop, along the list and the input together.
Each against Python's value and central differences of the gradient in float64, on calls 1-3.
"""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from .ported.harness import Case, check, direction, params

R = np.random.default_rng(17)


def rn(*shape):
    return R.standard_normal(shape)


# ---------------------------------------------------------------- tuple-valued rules


def lstsq_solution(a, b):
    return np.sum(np.linalg.lstsq(a, b, rcond=None)[0] ** 2)


def lstsq_unpacked(a, b, w):
    x, res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return np.sum(w * x) ** 2 + np.sum(res) + np.sum(sv**2) * np.sum(w**2)


def lstsq_in_a_loop(a, b):
    total = 0.0
    for k in range(2):
        x = np.linalg.lstsq(a + k * 0.1, b * (k + 1.0), rcond=None)[0]
        total = total + np.sum(np.sin(x))
    return total


def decompositions(a, w):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    q, r = np.linalg.qr(a)
    evals, evecs = np.linalg.eigh(a.T @ a)
    sign, logdet = np.linalg.slogdet(a.T @ a + np.eye(a.shape[1]))
    return np.sum(w * s) ** 2 + np.sum(w * np.diag(r)) * np.sum(evals) + logdet * np.sum(w**2)


def products(a, b):
    return a * b, a @ b


def uses_products(a, b):
    p, m = products(a, b)
    return np.sum(p * m) + np.sum(np.tanh(m))


def pair(x, y):
    return x * y, x + np.sin(y)


def pair_adjoint(z, x, y):
    d[x] += d[z][0] * y + d[z][1]  # noqa: F821 - `d` exists inside templates
    d[y] += d[z][0] * x + d[z][1] * np.cos(y)  # noqa: F821


def pair_tangent(z, x, y):
    d[z] += (d[x] * y, d[x])  # noqa: F821
    d[z] += (x * d[y], np.cos(y) * d[y])  # noqa: F821


sg.primitive(pair)
sg.defvjp(pair, pair_adjoint)
sg.defjvp(pair, pair_tangent)


def uses_pair(x, y):
    p, q = pair(x, y)
    return np.sum(p * q)


A = rn(6, 3)
B = rn(6)
SQUARE = rn(4, 3) + 2.0 * np.eye(4, 3)

TUPLE_CASES = [
    Case("lstsq_solution", lstsq_solution, (A, B), wrt=(0, 1), order=2),
    Case("lstsq_matrix_rhs", lstsq_solution, (A, rn(6, 2)), wrt=(0, 1), order=2),
    Case("lstsq_unpacked_three", lstsq_unpacked, (A, B, rn(3)), wrt=(0, 1, 2), order=2),
    Case("lstsq_unpacked_a_and_w", lstsq_unpacked, (A, B, rn(3)), wrt=(0, 2), order=2),
    Case("lstsq_in_a_loop", lstsq_in_a_loop, (A, B), wrt=(0, 1), order=2),
    Case("svd_qr_eigh_slogdet", decompositions, (SQUARE, rn(3)), wrt=(0, 1), order=2),
    Case("helper_returning_a_tuple", uses_products, (rn(3, 3), rn(3, 3)), wrt=(0, 1), order=2),
    Case("primitive_returning_a_pair", uses_pair, (rn(4), rn(4)), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(TUPLE_CASES))
def test_joint_hvp_of_tuple_valued_results(case):
    check(case)


def lstsq_coefficients(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


def test_jvp_along_both_operands_of_lstsq():
    """``jvp`` with a tuple of tangents is the sum of the jvps along each, and the
    difference quotient of the value along both."""
    ta, tb = direction(A), direction(B, seed=3)
    jv = sg.jvp(lstsq_coefficients, (0, 1))
    eps = 1e-6
    want = (
        lstsq_coefficients(A + eps * ta, B + eps * tb)
        - lstsq_coefficients(A - eps * ta, B - eps * tb)
    ) / (2 * eps)
    for call in range(3):
        value, tangent = jv(A, B, (ta, tb))
        np.testing.assert_allclose(value, lstsq_coefficients(A, B), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tangent, want, rtol=1e-6, atol=1e-8, err_msg=f"call {call}")
        _, along_a = sg.jvp(lstsq_coefficients, 0)(A, B, ta)
        _, along_b = sg.jvp(lstsq_coefficients, 1)(A, B, tb)
        np.testing.assert_allclose(tangent, along_a + along_b, rtol=1e-10, atol=1e-12)


def test_export_of_the_jvp_along_both_operands_of_lstsq(tmp_path):
    """The export writes ``add_tangents`` as source with the code calling it."""
    ta, tb = direction(A), direction(B, seed=3)
    path = tmp_path / "joint_lstsq.py"
    text = sg.export(lstsq_solution, A, B, wrt=(0, 1), mode="forward", path=str(path))
    assert "def add_tangents(" in text
    spec = importlib.util.spec_from_file_location("joint_lstsq", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    want = sg.jvp(lstsq_solution, (0, 1))(A, B, (ta, tb))
    for _ in range(3):
        np.testing.assert_allclose(module.d_lstsq_solution(A, B, (ta, tb)), want, rtol=1e-12)


def test_tuple_tangents_add_item_by_item_and_array_tangents_with_plus():
    """The emitted hvp adds lstsq's two tangents with ``add_tangents`` and an array's with
    ``+`` (the helper appears only where the value may be a tuple)."""
    text = tower(lstsq_solution, (), [(0, 1)], (0, 1), True).source(A, B, seeds=((A, B),))
    assert "add_tangents(" in text
    text = tower(uses_products, (), [(0, 1)], (0, 1), True).source(
        *(rn(3, 3), rn(3, 3)), seeds=((rn(3, 3), rn(3, 3)),)
    )
    assert "add_tangents(" not in text


def test_third_order_along_both_operands_of_lstsq():
    """Forward mode over the hvp (which calls ``add_tangents``) in both arguments against
    central differences of the hvp."""
    v, u = (direction(A), direction(B)), (direction(A, seed=2), direction(B, seed=3))
    third = tower(lstsq_solution, (), [(0, 1), (0, 1)], (0, 1), True)
    hf = sg.hvp(lstsq_solution, (0, 1))
    eps = 1e-5
    hi = hf(A + eps * u[0], B + eps * u[1], v)
    lo = hf(A - eps * u[0], B - eps * u[1], v)
    for call in range(3):
        got = third.evaluate((A, B), seeds=(v, u))
        for g, p, q in zip(got, hi, lo):
            np.testing.assert_allclose(
                g, (p - q) / (2 * eps), rtol=1e-5, atol=1e-5, err_msg=f"call {call}"
            )


# ---------------------------------------------------------------- layer lists in loops


@dataclasses.dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass
class Residual:
    inner: object

    def __call__(self, x):
        return x + np.tanh(self.inner(x))


class Scaled:
    def __init__(self, layer, s):
        self.layer = layer
        self.s = s

    def __call__(self, x):
        return self.s * self.layer(x)


def stack_loss(layers, x):
    for layer in layers:
        x = layer(x)
    return np.sum(x**2)


def stack_loss_with_targets(layers, x, y):
    h = x
    for k, layer in enumerate(layers):
        h = layer(h) * (k + 1.0)
    return np.sum((h - y) ** 2) + 0.1 * np.sum(y**4)


def residuals(n):
    return [Residual(Linear(0.5 * rn(3, 3), rn(3))) for _ in range(n)]


LAYER_CASES = [
    Case("residual_list", stack_loss, (residuals(2), rn(2, 3)), wrt=(0, 1), order=2),
    Case("residual_list_of_three", stack_loss, (residuals(3), rn(4, 3)), wrt=(0, 1), order=2),
    Case(
        "list_input_and_targets",
        stack_loss_with_targets,
        (residuals(2), rn(2, 3), rn(2, 3)),
        wrt=(0, 1, 2),
        order=2,
    ),
    Case(
        "plain_objects_holding_layers",
        stack_loss,
        ([Scaled(Linear(0.5 * rn(3, 3), rn(3)), 1.5), Scaled(residuals(1)[0], 0.7)], rn(2, 3)),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(LAYER_CASES))
def test_joint_hvp_of_layer_lists_in_loops(case):
    check(case)
