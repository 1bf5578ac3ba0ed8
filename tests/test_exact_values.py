"""The value a derivative returns is Python's ``f(x)`` bit for bit, on the first call (the
pure code) and on later ones (the optimized code): the forward code sums as the user wrote it,
only the adjoint and tangent code may run a sum through BLAS (``np.vdot``, ``tensordot``)."""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad


def squares(x):
    t = np.tanh(x)
    return np.sum(t * t)


def square_power(x):
    return np.sum((x - 1.0) ** 2) + np.sum(x * np.sin(x))


def contraction(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


def layers(W, x, y):
    h = np.tanh(x @ W)
    return np.sum((h @ W.T - x) ** 2) + np.mean(h * y[:, None])


def norms(x):
    return np.linalg.norm(x) + np.sum(x * x) / np.dot(x, x)


def einsum_loop(K, x):
    h = 0.0
    for i in range(3):
        h = h + np.einsum("nc,co->no", x[:, i : i + 2], K[i])
    return np.sum(np.tanh(h) * np.tanh(h))


def _args(f, rng, k):
    n = 40 + k  # a new shape each round: the running code of a new signature too
    if f is contraction:
        return rng.standard_normal((n, 30)), rng.standard_normal((30, 7))
    if f is layers:
        return rng.standard_normal((6, 9)), rng.standard_normal((n, 6)), rng.standard_normal(n)
    if f is einsum_loop:
        return rng.standard_normal((3, 2, 5)), rng.standard_normal((n, 4))
    return (rng.standard_normal(1000 + 7 * k),)


CASES = [squares, square_power, contraction, layers, norms, einsum_loop]
REVERSE = CASES[:-1]


@pytest.mark.parametrize("f", REVERSE, ids=lambda f: f.__name__)
def test_value_and_grad_returns_pythons_value_exactly(f):
    rng = np.random.default_rng(0)
    df = sg.value_and_grad(f)
    for k in range(6):
        args = _args(f, rng, k)
        for _ in range(3):  # the optimized code runs from the second call on
            value, _ = df(*args)
            assert value == f(*args)
    np.testing.assert_allclose(df(*args)[1], numerical_grad(f, args, 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_with_forward_and_jvp_return_pythons_value_exactly(f):
    rng = np.random.default_rng(1)
    with_forward, jvp = sg.grad(f, with_forward=True), sg.jvp(f)
    for k in range(3):
        args = _args(f, rng, k)
        tangent = rng.standard_normal(np.shape(args[0]))
        for _ in range(3):
            if f in REVERSE:
                assert with_forward(*args)[0] == f(*args)
            assert jvp(*args, tangent)[0] == f(*args)


def test_a_fused_loop_of_einsums_returns_pythons_value_exactly():
    """The fused contraction is the adjoint's: the forward sums the loop's products in the
    loop's order (``fuse.Fusion.keep_loop_sums``)."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        df = sg.value_and_grad(einsum_loop)
        for k in range(6):
            args = _args(einsum_loop, rng, k)
            for _ in range(3):
                assert df(*args)[0] == einsum_loop(*args)


def test_the_adjoint_still_sums_through_blas():
    """Only the forward keeps the user's sum: ``ds`` is ``np.vdot`` in the running code."""

    def scaled(x, s):
        return np.sum(np.sin(s * x))

    x = np.linspace(-1.0, 2.0, 50)
    running = sg.show(scaled, (0, 1), args=(x, 0.7), optimized=True)
    forward, adjoint = running.split("\n\n", 1)
    assert "np.vdot(" not in forward and "np.vdot(" in adjoint


def einsum_loop_in_a_loop(K, x):
    total = 0.0
    for t in range(x.shape[0]):
        h = 0.0
        for i in range(3):
            h = h + np.einsum("nc,co->no", x[t, :, i : i + 2], K[i])
        total = total + np.sum(np.tanh(h) ** 2)
    return total


def einsum_loop_from_a_start(K, x, b):
    acc = b
    for i in range(3):
        acc = acc + np.einsum("nc,co->no", x[:, i : i + 2], K[i])
    return np.sum(np.sin(acc))


@pytest.mark.parametrize(
    "f,shapes",
    [
        (einsum_loop_in_a_loop, ((3, 2, 5), (4, 7, 4))),
        (einsum_loop_from_a_start, ((3, 2, 5), (7, 4), (7, 5))),
    ],
    ids=["inside_an_outer_loop", "from_a_start"],
)
def test_fused_loops_anywhere_return_pythons_value_exactly(f, shapes):
    rng = np.random.default_rng(2)
    args = tuple(rng.standard_normal(s) for s in shapes)
    for wrt in range(len(args)):
        df = sg.value_and_grad(f, wrt)
        for _ in range(3):
            value, g = df(*args)
            assert value == f(*args)
        np.testing.assert_allclose(g, numerical_grad(f, args, wrt), rtol=1e-5, atol=1e-7)
    running = sg.show(f, args=args, optimized=True)
    assert "np.stack(" in running or ".reshape(" in running  # fused: one contraction back
