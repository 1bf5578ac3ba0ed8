"""Complex intermediates of real functions (HIPS/autograd tests/test_complex.py: abs of a complex
value, real parts, conj), and functions reached through decorators, functools.partial and
caches (autograd test_wrappers.py, JAX api_test.py's wrapped callables), and the singleton
output case of autograd's test_graphs.py."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

X = np.array([1.0, 2.0, 3.0])
Xn = np.array([0.5, -1.2, 2.0])
#: a complex value made from a differentiated one: refused where it is made
COMPLEX = (sg.NoRuleError, "split into real and imaginary parts")


def abs_of_imaginary(x):
    z = x * 1j  # REFUSED
    return np.sum(np.abs(z) ** 2)


def abs_of_complex_scaled(x):
    z = x * (1.0 + 2.0j)  # REFUSED
    return np.sum(np.abs(z))


def conj_product(x):
    z = x + 1j  # REFUSED
    return np.sum((z * np.conj(z)).real)


def real_part_of_exp(x):
    z = np.exp(1j * x)  # REFUSED
    return np.sum(z.real)


def scaled(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


@scaled
def decorated_with_wraps(x):
    return np.sum(x**2)


def plain_wrapper(fn):
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


@plain_wrapper
def decorated_without_wraps(x):
    return np.sum(x**2)


REGISTRY = []


def register(fn):
    REGISTRY.append(fn)
    return fn


@register
def decorated_registering(x):
    return np.sum(x**3)


def calls_decorated(x):
    return decorated_with_wraps(x) + np.sum(x)


def partial_of_numpy(x):
    f = functools.partial(np.sum, axis=0)
    return f(x**2)


@functools.lru_cache
def _cached_constant(n):
    return float(n) * 1.5


def calls_cached_constant(x):
    return np.sum(_cached_constant(2) * x**2)


def random_draws_inside(x):
    rng = np.random.default_rng(0)
    return np.sum(rng.normal(size=3) * x**2)


def singleton_output(x):
    return np.sum(x**2, keepdims=True)  # REFUSED


def zero_d_output(x):
    return np.asarray(np.sum(x**2))


def bool_scaling(x):
    return np.sum(x * True + x * x * False)


CASES = [
    Case("abs_of_imaginary", abs_of_imaginary, (Xn,), refused=COMPLEX),
    Case("abs_of_complex_scaled", abs_of_complex_scaled, (Xn,), refused=COMPLEX),
    Case("conj_product", conj_product, (Xn,), refused=COMPLEX),
    Case("real_part_of_exp", real_part_of_exp, (Xn,), refused=COMPLEX),
    Case(
        "decorated_with_functools_wraps",
        decorated_with_wraps,
        (Xn,),
        order=2,
    ),
    Case(
        "calls_decorated_with_functools_wraps",
        calls_decorated,
        (Xn,),
        order=2,
    ),
    Case("decorated_without_wraps", decorated_without_wraps, (Xn,), order=2),
    Case("decorated_registering", decorated_registering, (Xn,), order=2),
    Case("partial_of_numpy", partial_of_numpy, (Xn,), order=2),
    Case("calls_cached_constant", calls_cached_constant, (Xn,), order=2),
    Case("random_draws_inside", random_draws_inside, (Xn,), order=2),
    Case(
        "singleton_output",
        singleton_output,
        (Xn,),
        refused=(sg.NonScalarOutputError, "vjp"),
    ),
    Case("zero_d_output", zero_d_output, (Xn,), order=2),
    Case("bool_scaling", bool_scaling, (Xn,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_complex_and_wrapped(case):
    check(case)


def global_rng_draws(x):
    return np.sum(np.random.rand(3) * x**2)


def test_global_random_state_draws_as_python_does():
    np.random.seed(0)
    want = global_rng_draws(X)
    np.random.seed(0)
    r = np.random.rand(3)
    vg = sg.value_and_grad(global_rng_draws)
    for _ in range(2):
        np.random.seed(0)
        value, g = vg(X)
        assert value == want
        np.testing.assert_allclose(g, 2 * r * X, rtol=1e-12)
