"""A derivative warns only where the user's function warns: what sourcegrad runs on stand-in
values to learn dtypes and shapes (one-element arrays) must not show NumPy's warnings about
those stand-ins (``np.var(x, ddof=1)`` of one element: "Degrees of freedom <= 0")."""

import warnings

import numpy as np
import pytest

import sourcegrad as sg


def spread(x):
    return np.std(x, axis=0).sum() + np.var(x, ddof=1) + np.median(x)


def centred(x):
    return np.sum((x - np.mean(x, axis=0)) ** 2) / np.var(x, ddof=2)


def log_ratio(x):
    return np.sum(np.log(x / np.max(x)) ** 2)


@pytest.mark.parametrize("f", [spread, centred, log_ratio])
def test_a_derivative_warns_only_where_the_function_does(f):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (5, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f(x)
        assert not caught, "the program itself warns: not a case for this test"
        grad = sg.grad(f)
        for _ in range(3):
            grad(x)
        sg.hvp(f)(x, np.ones_like(x))
    assert not [str(w.message) for w in caught]
