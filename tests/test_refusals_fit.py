"""Programs that were refused with advice that did not fit them, or got wrong derivatives:
each is now differentiated (values as Python computes them, derivatives against central
differences, every derivative called more than once) or refused where it must be, with a
message that starts with the user's ``file:line`` and gives a way out that fits."""

from __future__ import annotations

import collections
import functools
import inspect
import itertools

import numpy as np
import pytest
import scipy.special

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal, numerical, params

R = np.random.default_rng(3)
X = np.array([0.5, -1.2, 2.0])
Y = np.array([0.3, 0.8, -0.4])
M = R.standard_normal((3, 4))
W = np.array([0.3, -0.2, 0.5])
Z = np.array([1.0 + 2.0j, 3.0j, 1.0 + 0.0j])
P = collections.namedtuple("P", "a b c", defaults=(2.0,))


# ------------------------------------------------------------------ functools.partial


def helper(w, x, scale=1.0):
    return np.sum(np.tanh(w * x)) * scale


SUM0 = functools.partial(np.sum, axis=0)


def partial_of_numpy(x):
    f = functools.partial(np.sum, axis=0)
    return f(x**2)


def partial_of_helper(x):
    g = functools.partial(helper, W, scale=2.0)
    return g(x) + SUM0(x**3)


def partial_without_rule(x):
    g = functools.partial(scipy.special.erfcx)
    return np.sum(g(x))  # REFUSED


# ------------------------------------------------------------------ real, conj, tolist


def real_parts(x):
    return np.sum(x.real * x) + np.sum(np.real(x) ** 3) + np.sum(x.imag * x)


def conjugates(m):
    return np.sum(m.conj() * m) + np.sum(np.conj(m) ** 3) + np.sum(m.conjugate())


def tolist_vector(x):
    lst = x.tolist()
    return lst[0] * x[1] + lst[2] ** 2


def tolist_matrix(m):
    rows = m.tolist()
    return rows[0][1] * m[1, 0] + rows[2][3] ** 2


def tolist_scalar(x):
    return np.sum(x) * np.sum(x**2).tolist()


def method_without_rule(x):
    y = x.compress([True, False, True])  # REFUSED
    return np.sum(y**2)


# ------------------------------------------------------------------ namedtuples, enumerate


def namedtuple_built(x, y):
    p = P(x, b=y)
    q = P(p.a * 2.0, 3.0, p.b)
    return np.sum(q.a * q.c * p.c) + np.sum(p[1] ** 2) + np.sum(np.sin(q[0]) * y)


def enumerate_from(xs):
    s = 0.0
    for i, v in enumerate(xs, start=2):
        s = s + i * np.sin(v)
    for i, v in enumerate(xs, 1):
        s = s + i * v**2
    return s


def where_indices(x):
    idx = np.where(x > 0)[0]
    return np.sum(idx * 1.0) + np.sum(x[idx] ** 2)


# ------------------------------------------------------------------ np.prod at zeros


def prod_all(x):
    return np.prod(x) * 1.5


def prod_axis0(m):
    return np.sum(M * np.prod(m, axis=0)[None, :])


def prod_axis1_keepdims(m):
    return np.sum(M * np.prod(m, axis=1, keepdims=True))


def prod_axes(m):
    return np.prod(m, axis=(0, 1)) * 2.0


def prod_squared(m):
    return np.sum(np.prod(m * m + m, axis=-1) ** 2)


def prod_method(m):
    return np.sum(m.prod(axis=0) * M[0])


def _with_zeros(*where):
    m = R.standard_normal((3, 4))
    for idx in where:
        m[idx] = 0.0
    return m


ZERO_LAYOUTS = {
    "none": _with_zeros(),
    "one": _with_zeros((0, 0)),
    "two_in_column": _with_zeros((0, 0), (1, 0)),
    "three_in_column": _with_zeros((0, 0), (1, 0), (2, 0)),
    "two_in_row": _with_zeros((0, 0), (0, 1)),
    "three_in_row": _with_zeros((0, 0), (0, 1), (0, 3)),
}

PROD_CASES = [
    Case(f"{f.__name__}-{name}", f, (m,), order=2)
    for f in (prod_axis0, prod_axis1_keepdims, prod_axes, prod_squared, prod_method)
    for name, m in ZERO_LAYOUTS.items()
] + [
    Case("prod_all-one_zero", prod_all, (np.array([0.0, 2.0, 3.0]),), order=2),
    Case("prod_all-two_zeros", prod_all, (np.array([0.0, 2.0, 0.0]),), order=2),
]


# ------------------------------------------------------------------ complex values


def times_imaginary(x):
    z = x * 1j  # REFUSED
    return np.sum(np.abs(z) ** 2)


def times_complex_global(x):
    return np.sum(np.abs(x * Z))  # REFUSED


def times_complex_argument(x, c):
    return np.sum(np.abs(x * c))  # REFUSED


def cast_to_complex(x):
    y = x.astype(complex)  # REFUSED
    return np.sum(np.abs(y))


def complex_dtype(x):
    y = np.asarray(x, dtype=np.complex128)  # REFUSED
    return np.sum(y.real)


def complex_in_loop(x):
    s = x * 1.0
    for _ in range(3):
        s = s * (1.0 + 0.5j)  # REFUSED
    return np.sum(np.abs(s))


def power_spectrum_fft(x):
    spectrum = np.fft.rfft(x)  # REFUSED
    return np.sum(np.abs(spectrum) ** 2 * np.arange(len(spectrum)))


def power_spectrum_real_products(x):
    """The way out the FFT's refusal gives: the same spectrum from real products."""
    n = len(x)
    k, t = np.arange(n // 2 + 1), np.arange(n)
    C = np.cos(2 * np.pi * np.outer(k, t) / n)
    S = np.sin(2 * np.pi * np.outer(k, t) / n)
    re, im = x @ C.T, -(x @ S.T)
    return np.sum((re**2 + im**2) * k)


def test_the_fft_way_out_computes_the_same_spectrum():
    x = R.standard_normal(8)
    assert np.isclose(power_spectrum_real_products(x), power_spectrum_fft(x))


def real_of_complex_constants(x):
    return np.sum(np.abs(Z) * x) + np.sum(np.real(Z) * x**2) + np.sum(np.imag(Z) * np.sin(x))


# ----------------------------------------- iteration helpers: the advice is the loop to write


def pairwise_steps(x):
    xs = [x, x * 2.0, np.sin(x)]
    return sum(np.sum((b - a) ** 2) for a, b in itertools.pairwise(xs))


def reduce_as_loop(x):
    acc = x
    for w in [W, Y]:
        acc = np.tanh(acc * w)
    return acc.sum()


def sorted_keys_loop(x):
    p = {"b": x * 2.0, "a": x}
    total = 0.0
    for k in ("a", "b"):
        total = total + np.sum(p[k] ** 2)
    return total


def sorted_argument_keys(p):
    total = 0.0
    for k in sorted(p):
        total = total + np.sum(p[k] ** 2) * len(k)
    return total


def pairwise_as_positions(x):
    xs = [x, x * 2.0, np.sin(x)]
    total = 0.0
    for i in range(len(xs) - 1):
        a, b = xs[i], xs[i + 1]
        total = total + np.sum((b - a) ** 2)
    return total


COMPLEX = (sg.NoRuleError, "split into real and imaginary parts")

CASES = [
    Case("partial_of_numpy", partial_of_numpy, (X,), order=2),
    Case("partial_of_helper", partial_of_helper, (X,), order=2),
    Case("real_parts", real_parts, (X,), order=2),
    Case("conjugates", conjugates, (M,), order=2),
    Case("tolist_vector", tolist_vector, (X,), order=2),
    Case("tolist_matrix", tolist_matrix, (M,), order=2),
    Case("tolist_scalar", tolist_scalar, (X,), order=2),
    Case("namedtuple_built", namedtuple_built, (X, Y), wrt=(0, 1), order=2),
    Case("enumerate_from", enumerate_from, (X,), order=2),
    Case("enumerate_from_list", enumerate_from, ([0.5, -0.3, 1.1],)),
    Case("where_indices", where_indices, (X,), order=2),
    Case("real_of_complex_constants", real_of_complex_constants, (X,), order=2),
    *PROD_CASES,
    Case("reduce_as_loop", reduce_as_loop, (X,), order=2),
    Case("sorted_keys_loop", sorted_keys_loop, (X,), order=2),
    Case("sorted_argument_keys", sorted_argument_keys, ({"bb": X, "a": Y},), order=2),
    Case("pairwise_as_positions", pairwise_as_positions, (X,), order=2),
    Case("pairwise_steps", pairwise_steps, (X,), order=2),
    Case("fft_as_real_products", power_spectrum_real_products, (R.standard_normal(8),), order=2),
]

REFUSALS = [
    Case("partial_without_rule", partial_without_rule, (X,), refused=(sg.NoRuleError, "defvjp")),
    Case(
        "method_without_rule",
        method_without_rule,
        (X,),
        refused=(sg.NoRuleError, "move it into a function of your own"),
    ),
    Case("times_imaginary", times_imaginary, (X,), refused=COMPLEX),
    Case("times_complex_global", times_complex_global, (X,), refused=COMPLEX),
    Case("times_complex_argument", times_complex_argument, (X, Z), refused=COMPLEX),
    Case("cast_to_complex", cast_to_complex, (X,), refused=COMPLEX),
    Case("complex_dtype", complex_dtype, (X,), refused=COMPLEX),
    Case("complex_in_loop", complex_in_loop, (X,), refused=COMPLEX),
    Case("fft", power_spectrum_fft, (X,), refused=(sg.NoRuleError, "x @ C.T")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_differentiated(case):
    check(case)


@pytest.mark.parametrize("case", params(REFUSALS))
def test_refused_where_it_must_be(case):
    check(case)


def test_method_refusal_names_no_function_to_register():
    with pytest.raises(sg.NoRuleError) as info:
        sg.grad(method_without_rule)(X)
    assert "defvjp(compress" not in str(info.value)
    assert "`.compress()`" in str(info.value)


def test_complex_refusal_in_forward_mode_too():
    with pytest.raises(sg.NoRuleError) as info:
        sg.jvp(times_imaginary)(X, X)
    where = f"{inspect.getsourcefile(times_imaginary)}:{_marked(times_imaginary)}: "
    assert str(info.value).startswith(where)


def test_real_complex_argument_not_refused():
    """A real array where a complex one could be: the same function differentiates."""
    want = numerical(times_complex_argument, (X, Y), 0)
    for _ in range(3):
        np.testing.assert_allclose(sg.grad(times_complex_argument)(X, Y), want, rtol=1e-6)


def _marked(f):
    lines, start = inspect.getsourcelines(f)
    return next(n for n, line in enumerate(lines, start) if line.rstrip().endswith("# REFUSED"))


# ------------------------------------------------------------------ higher order


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


D_LOSS = sg.grad(loss)


def penalised(w, x):
    g = D_LOSS(w, x)
    return loss(w, x) + 0.5 * np.sum(g * g)


def quad(x, y):
    return np.sum(x * y) + np.sum(x**2 * y**2) + np.sum(np.sin(x) * y**3)


def test_hvp_through_an_inner_gradient():
    check(Case("penalised", penalised, (X, M.T), order=2))


def test_hvp_with_tuple_wrt_against_differences():
    v = (R.standard_normal(3), R.standard_normal(3))
    dg = sg.grad(quad, (0, 1))
    eps = 1e-5
    hi, lo = dg(X + eps * v[0], Y + eps * v[1]), dg(X - eps * v[0], Y - eps * v[1])
    want = [(a - b) / (2 * eps) for a, b in zip(hi, lo)]
    h = sg.hvp(quad, (0, 1))
    for _ in range(3):
        got = h(X, Y, v)
        assert isinstance(got, tuple) and len(got) == 2
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_hvp_with_tuple_wrt_refuses_a_single_direction():
    with pytest.raises(sg.SeedError, match="tuple of 2 directions"):
        sg.hvp(quad, (0, 1))(X, Y, X)
    with pytest.raises(sg.SeedError, match=r"shape \(3,\)"):
        sg.hvp(quad, (0, 1))(X, Y, (X, np.ones(4)))


def prod_scalar(x):
    return np.prod(np.array([x, 2.0, x, x]))


def test_prod_third_derivative_away_from_zeros_and_refused_at_them():
    d3 = sg.grad(sg.grad(sg.grad(prod_scalar)))
    for _ in range(2):
        assert d3(0.5) == pytest.approx(12.0)
    with pytest.raises(sg.SourcegradError) as info:
        d3(0.0)
    assert str(info.value).startswith(f"{inspect.getsourcefile(prod_scalar)}:")
    assert "np.prod" in str(info.value)


def test_prod_keeps_float32():
    m = ZERO_LAYOUTS["one"].astype(np.float32)
    for _ in range(3):
        g = sg.grad(prod_axis0)(m)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, numerical(prod_axis0, (m,), 0), rtol=1e-3, atol=1e-3)


# ------------------------------------------------------------------ seeds and exports


def tanh(x):
    return np.tanh(x)


def test_vjp_with_a_wrong_shaped_seed_is_a_seed_error():
    for _ in range(2):
        with pytest.raises(sg.SeedError, match=r"pass an array of shape \(3,\)"):
            sg.vjp(tanh)(X, np.ones(5))


def test_errors_the_readme_names_are_exported():
    for name in ("ArgumentError", "SeedError", "AuxError"):
        assert issubclass(getattr(sg, name), sg.SourcegradError)
        assert name in sg.__all__


def test_partial_refusal_names_the_call_line():
    check_refusal(partial_without_rule, (X,), sg.NoRuleError, "erfcx")
