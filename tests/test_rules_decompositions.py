"""The rules of ``sourcegrad/rules/decompositions.py`` (``np.linalg.svd``, ``svdvals``, ``qr``,
``eig``, ``eigvals``, ``eigvalsh``, ``matrix_power``; the fields of NumPy 2's result
namedtuples, ``eigh``'s and ``slogdet``'s too) and every order of ``np.linalg.norm``,
through the public API against central differences in float64: the gradient (shape-specialised
and rank-generic builds), ``jvp`` and ``hvp`` (second order) through :func:`tests.fd.check`,
then ``value_and_grad`` called three times (the code specialised to the shapes runs from the
second call on) and a ``hessian``.

Each loss reads every output of the decomposition through a function its sign (gauge) does not
change: ``u * u`` and ``(u * c) @ vt`` for singular vectors, ``v * v`` for eigenvectors.
Refusals (the full SVD of a non-square matrix, the QR decomposition of a wide matrix, complex
eigenvalues) start with the user's file and line and say what to do.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, weights

R = np.random.default_rng(41)


def rnd(*shape):
    return R.standard_normal(shape)


def fixed(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


def with_eigenvalues(values, batch=(), seed=0):
    """A non-symmetric real matrix with the given (real, distinct) eigenvalues."""
    rng = np.random.default_rng(seed)
    n = len(values)
    basis = rng.standard_normal((*batch, n, n)) + 2.0 * np.eye(n)
    return basis @ (np.asarray(values)[:, None] * np.linalg.inv(basis))


def symmetric(n, batch=(), seed=0):
    m = np.random.default_rng(seed).standard_normal((*batch, n, n))
    return m + np.swapaxes(m, -1, -2)


C_U = fixed(4, 4, seed=1)
C_V = fixed(4, 4, seed=2)
C_S = fixed(4, seed=3)


# ============================================================================ svd


def s_svd(a, w):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    k = s.shape[-1]
    return (
        np.sum(w * np.sin((u * C_S[:k]) @ vt))
        + np.sum(C_U[: u.shape[-2], :k] * u * u)
        + np.sum(np.cos(s) * C_S[:k])
        + np.sum(C_V[:k, : vt.shape[-1]] * vt * vt)
    )


def s_svd_reconstruct(a, w):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum(w * np.sin(u @ (s[..., :, None] * vt)))


def s_svd_square_default(a, w):
    u, s, vt = np.linalg.svd(a)  # full_matrices=True: the same as the reduced SVD here
    return np.sum(w * np.sin(u * u + s[..., None, :])) + np.sum(C_V[:3, :3] * vt * vt)


def s_svd_values(a, w):
    return np.sum(w * np.sin(np.linalg.svd(a, compute_uv=False)))


def s_svdvals(a, w):
    return np.sum(w * np.sin(np.linalg.svdvals(a)))


def s_svd_only_u(a, w):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return np.sum(w * (u * u))


# ============================================================================ qr


def q_qr(a, w):
    q, r = np.linalg.qr(a)
    return np.sum(w * np.sin(q)) + np.sum(np.cos(r) * C_V[: r.shape[-2], : r.shape[-1]])


def q_qr_r(a, w):
    return np.sum(w * np.sin(np.linalg.qr(a, mode="r")))


def q_qr_only_r(a, w):
    q, r = np.linalg.qr(a)
    return np.sum(w * r * r)


# ============================================================================ eigenvalues


def e_eig(a, w):
    vals, vecs = np.linalg.eig(a)
    return np.sum(w * np.sin(vals)) + np.sum(C_U[:3, :3] * vecs * vecs)


def e_eig_vectors(a, w):
    vals, vecs = np.linalg.eig(a)
    return np.sum(w * np.sin(vecs * vecs))


def e_eigvals(a, w):
    return np.sum(w * np.sin(np.linalg.eigvals(a)))


def e_eigvalsh(a, w):
    return np.sum(w * np.sin(np.linalg.eigvalsh(a)))


def e_eigvalsh_upper(a, w):
    return np.sum(w * np.sin(np.linalg.eigvalsh(a, UPLO="U")))


# ============================================================================ matrix_power


def p_power_0(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, 0)))


def p_power_1(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, 1)))


def p_power_2(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, 2)))


def p_power_3(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, 3)))


def p_power_m1(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, -1)))


def p_power_m2(a, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, -2)))


POWERS = {0: p_power_0, 1: p_power_1, 2: p_power_2, 3: p_power_3, -1: p_power_m1, -2: p_power_m2}


def p_power_variable(a, n, w):
    return np.sum(w * np.sin(np.linalg.matrix_power(a, n)))


# ============================================================================ result fields
# NumPy 2 returns namedtuples (SVDResult, QRResult, EigResult, EighResult, SlogdetResult):
# their fields are read by name, in forward mode too (the tangent has the result's type)


def f_svd_fields(a, w):
    res = np.linalg.svd(a, full_matrices=False)
    return np.sum(w * np.sin(res.S)) + np.sum(np.cos((res.U * res.S) @ res.Vh))


def f_qr_fields(a, w):
    res = np.linalg.qr(a)
    return np.sum(w * np.sin(res.Q)) + np.sum(res.R**2)


def f_eig_fields(a, w):
    res = np.linalg.eig(a)
    return np.sum(w * np.sin(res.eigenvalues)) + np.sum(0.3 * res.eigenvectors**2)


def f_eigh_fields(a, w):
    res = np.linalg.eigh(a)
    return np.sum(w * np.sin(res.eigenvalues)) + np.sum(0.3 * res.eigenvectors**4)


def f_slogdet_fields(a, w):
    res = np.linalg.slogdet(a)
    return np.sum(w * np.sin(res.logabsdet)) * res.sign


DIAG3 = np.diag([1.0, 2.0, 3.5])
CASES = [
    (s_svd, (rnd(4, 3),)),
    (s_svd, (rnd(3, 4),)),
    (s_svd, (rnd(3, 3),)),
    (s_svd, (rnd(2, 4, 3),)),
    (s_svd_reconstruct, (rnd(4, 3),)),
    (s_svd_reconstruct, (rnd(2, 3, 4),)),
    (s_svd_square_default, (rnd(3, 3),)),
    (s_svd_values, (rnd(4, 3),)),
    (s_svd_values, (rnd(2, 3, 4),)),
    (s_svdvals, (rnd(3, 4),)),
    (s_svd_only_u, (rnd(4, 3),)),
    (q_qr, (rnd(4, 3),)),
    (q_qr, (rnd(3, 3),)),
    (q_qr, (rnd(2, 4, 3),)),
    (q_qr_r, (rnd(4, 3),)),
    (q_qr_only_r, (rnd(3, 3),)),
    (e_eig, (with_eigenvalues([1.0, 2.0, 3.5]),)),
    (e_eig, (with_eigenvalues([-1.0, 0.5, 2.0], batch=(2,), seed=1),)),
    (e_eig_vectors, (with_eigenvalues([1.0, -2.0, 3.0], seed=2),)),
    (e_eigvals, (with_eigenvalues([1.0, 2.0, 3.5], seed=3),)),
    (e_eigvalsh, (symmetric(4),)),
    (e_eigvalsh, (rnd(4, 4),)),  # reads the lower triangle only
    (e_eigvalsh_upper, (rnd(4, 4),)),
    (e_eigvalsh, (symmetric(3, batch=(2,)),)),
    *[(POWERS[n], (rnd(3, 3) + 2.0 * np.eye(3),)) for n in POWERS],
    (POWERS[3], (rnd(2, 3, 3),)),
    (f_svd_fields, (rnd(4, 3),)),
    (f_qr_fields, (rnd(4, 3),)),
    (f_eig_fields, (with_eigenvalues([1.0, 2.0, 3.5], seed=4),)),
    (f_eigh_fields, (symmetric(3),)),
    (f_slogdet_fields, (rnd(3, 3) + 2.0 * np.eye(3),)),
]


def _id(case):
    f, args = case
    return f"{f.__name__}-{'x'.join(map(str, np.shape(args[0])))}"


def later_calls(f, args, wrt=0):
    """``value_and_grad`` called three times (the second call builds the code specialised to
    the shapes, the third runs it), each against central differences."""
    w = weights(output_shape(f, args), seed=3)
    full = (*args, w)
    df = sg.value_and_grad(f, wrt)
    expected = numerical_grad(f, full, wrt)
    for _ in range(3):
        value, got = df(*full)
        np.testing.assert_allclose(value, f(*full), rtol=1e-12)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f, args", CASES, ids=[_id(c) for c in CASES])
def test_rule_to_second_order(f, args):
    check(f, *args)


@pytest.mark.parametrize("f, args", CASES, ids=[_id(c) for c in CASES])
def test_rule_on_later_calls(f, args):
    later_calls(f, args)


@pytest.mark.parametrize("f", [s_svd_reconstruct, q_qr, e_eig, POWERS[-2]])
def test_hessian_against_differences_of_the_gradient(f):
    a = with_eigenvalues([1.0, 2.0, 3.5]) if f is e_eig else rnd(3, 3) + 2.0 * np.eye(3)
    w = weights(output_shape(f, (a,)))
    hess = sg.hessian(f)(a, w)
    grad = sg.grad(f)
    eps = 1e-5
    for idx in [(0, 0), (1, 2), (2, 1)]:
        e = np.zeros_like(a)
        e[idx] = eps
        column = (grad(a + e, w) - grad(a - e, w)) / (2 * eps)
        np.testing.assert_allclose(hess[..., idx[0], idx[1]], column, rtol=1e-4, atol=1e-6)


def test_matrix_power_with_an_integer_variable():
    a = rnd(3, 3) + 2.0 * np.eye(3)
    for n in (3, -1, 0):
        w = weights((3, 3))
        g = sg.grad(p_power_variable)(a, n, w)
        np.testing.assert_allclose(
            g, numerical_grad(p_power_variable, (a, n, w), 0), rtol=1e-5, atol=1e-7
        )


# ============================================================================ refusals


def r_svd_full_tall(a):
    u, s, vt = np.linalg.svd(a)  # REFUSED
    return np.sum(u * u) + np.sum(s)


def r_qr_wide(a):
    q, r = np.linalg.qr(a)  # REFUSED
    return np.sum(r * r)


def r_eig_complex(a):
    vals, vecs = np.linalg.eig(a)  # REFUSED
    return np.sum(vals * vals)


def r_eigvals_complex(a):
    return np.sum(np.linalg.eigvals(a) ** 2)  # REFUSED


def r_svd_hermitian(a):
    return np.sum(np.linalg.svd(a, hermitian=True)[1])  # REFUSED


def marked_line(f):
    lines, start = inspect.getsourcelines(f)
    return next(n for n, line in enumerate(lines, start) if line.rstrip().endswith("# REFUSED"))


ROTATION = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
REFUSALS = [
    (r_svd_full_tall, rnd(4, 3), "pass full_matrices=False"),
    (r_svd_full_tall, rnd(3, 5), "pass full_matrices=False"),
    (r_qr_wide, rnd(3, 4), "square and tall matrices"),
    (r_eig_complex, ROTATION, "use np.linalg.eigh"),
    (r_eigvals_complex, ROTATION, "real values only"),
    (r_svd_hermitian, symmetric(3), "hermitian"),
]


@pytest.mark.parametrize(
    "f, a, hint", REFUSALS, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(REFUSALS)]
)
@pytest.mark.parametrize("make", ["grad", "hvp"])
def test_refused_with_the_users_line(f, a, hint, make):
    where = f"{inspect.getsourcefile(f)}:{marked_line(f)}: "
    for _ in range(2):  # the refusal is stable: asked twice
        with pytest.raises(sg.SourcegradError) as info:
            if make == "grad":
                sg.grad(f)(a)
            else:
                sg.hvp(f)(a, np.ones_like(a))
        assert str(info.value).startswith(where), str(info.value)
        assert hint in str(info.value)


@pytest.mark.parametrize("f, a, hint", REFUSALS[:4], ids=[f.__name__ for f, _, _ in REFUSALS[:4]])
def test_refused_in_forward_mode(f, a, hint):
    with pytest.raises(sg.SourcegradError, match=hint):
        sg.jvp(f)(a, np.ones_like(a))


# ============================================================================ norms


def n_norm(x, ord, w):
    """The order as a value known when the derivative runs."""
    return np.sum(w * np.sin(np.linalg.norm(x, ord)))


def n_default(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x)))


def n_fro(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "fro")))


def n_nuc(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "nuc")))


def n_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, np.inf)))


def n_minus_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -np.inf)))


def n_1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 1)))


def n_minus_1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -1)))


def n_2(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 2)))


def n_minus_2(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -2)))


def n_3(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 3)))


def n_half(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 0.5)))


def n_0(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 0) * x))


def n_axis_3(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 3, axis=-1)))


def n_axis_minus_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -np.inf, axis=0, keepdims=True)))


def n_axes_nuc(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "nuc", axis=(0, 2), keepdims=True)))


def n_axes_minus_1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, -1, axis=(2, 0))))


def n_axes_2(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 2, axis=(1, 2))))


MATRIX_NORMS = [n_default, n_fro, n_nuc, n_inf, n_minus_inf, n_1, n_minus_1, n_2, n_minus_2]
VECTOR_NORMS = [n_default, n_1, n_2, n_3, n_half, n_inf, n_minus_inf, n_minus_1, n_minus_2, n_0]
AXES_NORMS = [n_axis_3, n_axis_minus_inf, n_axes_nuc, n_axes_minus_1, n_axes_2]
#: their second derivative is refused (the SVD inside the norm's gradient would have to be
#: differentiated again), never wrong
SVD_NORMS = (n_nuc, n_2, n_minus_2, n_axes_nuc, n_axes_2)


def away(*shape, seed=5):
    """Entries bounded away from 0 and from each other (no ties for max/min norms)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = 0.5 + rng.permutation(n) * (2.0 / n)
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape)


def _ord_id(o):
    return {np.inf: "inf", -np.inf: "-inf"}.get(o, repr(o))


@pytest.mark.parametrize("f", MATRIX_NORMS, ids=lambda f: f.__name__)
def test_matrix_norm(f):
    x = away(3, 4)
    check(f, x, second=f not in SVD_NORMS)
    later_calls(f, (x,))


@pytest.mark.parametrize("f", VECTOR_NORMS, ids=lambda f: f.__name__)
def test_vector_norm(f):
    x = away(5)
    check(f, x)
    later_calls(f, (x,))


@pytest.mark.parametrize("f", AXES_NORMS, ids=lambda f: f.__name__)
def test_norm_over_axes(f):
    x = away(3, 2, 4)
    check(f, x, second=f not in SVD_NORMS)
    later_calls(f, (x,))


@pytest.mark.parametrize("ord", [None, "fro", np.inf, -np.inf, 1, -1], ids=_ord_id)
def test_matrix_norm_order_known_when_it_runs(ord):
    check(n_norm, away(3, 4), ord)


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0], ids=_ord_id)
def test_vector_norm_order_known_when_it_runs(ord):
    check(n_norm, away(5), ord)


@pytest.mark.parametrize("ord", [3, 0.5, -1], ids=_ord_id)
def test_vector_p_norm_order_known_when_it_runs(ord):
    """First order is right; the second derivative of a p-norm whose p is known only when the
    derivative runs is refused (a literal p is differentiated twice, above), never wrong."""
    x = away(5)
    check(n_norm, x, ord, second=False)
    w = weights((), seed=3)
    with pytest.raises(sg.SourcegradError, match="second derivative"):
        sg.hvp(n_norm)(x, ord, w, np.ones_like(x))
