"""Every refusal is a sourcegrad exception naming the user's file:line and the way out."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg

from . import refusal_cases as cases

CASES_FILE = cases.__file__


def line_of(tag: str) -> int:
    for n, line in enumerate(Path(CASES_FILE).read_text().splitlines(), start=1):
        if line.rstrip().endswith(tag):
            return n
    raise LookupError(tag)


X = np.array([0.5, -1.0, 2.0])

CASES = [
    ("no_rule", sg.NoRuleError, (X,), "defvjp"),
    ("non_scalar", sg.NonScalarOutputError, (X,), "vjp"),
    ("returns_tuple", sg.NonScalarOutputError, (X,), "has_aux"),
    ("unknown_attribute", sg.NoRuleError, (X,), "frobnicate"),
    ("opaque_expression", sg.UnsupportedSyntaxError, (X,), "a set has no order"),
    ("uses_yield", sg.UnsupportedSyntaxError, (X,), "generator"),
    ("uses_del", sg.UnsupportedSyntaxError, (X,), "drop the statement"),
    ("uses_with", sg.UnsupportedSyntaxError, (X,), "caller"),
    ("subscript_assign", sg.UnsupportedSyntaxError, (X,), "explicit copy"),
    ("uses_try", sg.UnsupportedSyntaxError, (X,), "caller"),
    ("uses_global", sg.UnsupportedSyntaxError, (X,), "argument"),
    ("no_return", sg.UnsupportedSyntaxError, (X,), "return"),
    ("missing_field", sg.UnsupportedSyntaxError, ({"w": X},), "nope"),
    # (it was left out of the derivative: the global was never written)
    ("stores_into_a_global", sg.UnsupportedSyntaxError, (X,), "local variable"),
]


@pytest.mark.parametrize("name,exc,args,hint", CASES, ids=[c[0] for c in CASES])
def test_refusal_names_file_line_and_way_out(name, exc, args, hint):
    fn = getattr(cases, name)
    with pytest.raises(exc) as info:
        sg.grad(fn)(*args)
    message = str(info.value)
    assert f"{CASES_FILE}:{line_of('REFUSE: ' + name)}:" in message
    assert hint in message
    assert info.value.filename == CASES_FILE


def test_integer_wrt_argument_is_refused():
    with pytest.raises(sg.WrtTypeError) as info:
        sg.grad(cases.int_argument, 0)(3, X)
    assert f"{CASES_FILE}:{line_of('REFUSE: int_argument')}:" in str(info.value)
    with pytest.raises(sg.WrtTypeError):
        sg.grad(cases.int_argument, 1)(2.0, np.arange(3))


def deep_loss(p):
    h = p["W"]
    for _ in range(p["depth"]):
        h = np.tanh(h)
    return np.sum(h)


def test_an_int_inside_the_parameters_is_refused_with_both_ways_out():
    with pytest.raises(sg.WrtTypeError) as info:
        sg.grad(deep_loss)({"W": X, "depth": 3})
    message = str(info.value)
    assert "['depth'] is an integer inside a differentiated argument" in message
    assert "give it a float value" in message and "as a field of a dataclass" in message
    with pytest.raises(sg.WrtTypeError, match=r"float\(n\)"):
        sg.grad(cases.int_argument, 0)(3, X)


def flagged_loss(p):
    return np.sum(np.tanh(p["W"])) if p["train"] else np.sum(p["W"])


def test_a_bool_inside_the_parameters_is_called_a_bool():
    with pytest.raises(sg.WrtTypeError) as info:
        sg.grad(flagged_loss)({"W": X, "train": True})
    assert "['train'] is a bool inside a differentiated argument" in str(info.value)
    with pytest.raises(sg.WrtTypeError, match="is a bool, so it has no gradient"):
        sg.grad(flagged_loss)(np.array([True, False]))


def test_wrt_out_of_range_is_refused():
    with pytest.raises(sg.WrtTypeError) as info:
        sg.grad(cases.non_scalar, 3)(X)
    assert "wrt=3" in str(info.value)


def test_function_without_source_is_refused():
    namespace = {"np": np}
    exec("def made(x):\n    return np.sum(x)\n", namespace)
    with pytest.raises(sg.NoSourceError) as info:
        sg.grad(namespace["made"])(X)
    assert "<string>:1:" in str(info.value)
    with pytest.raises(sg.NoSourceError):
        sg.grad(np.sum)(X)


def test_lambdas_are_differentiated_when_unambiguous():
    f = lambda x: np.sum(np.sin(x))  # noqa: E731
    np.testing.assert_allclose(sg.grad(f)(X), np.cos(X))
    g, h = lambda x: np.sum(x), lambda x: np.sum(x * x)  # noqa: E731  (told apart by column)
    np.testing.assert_allclose(sg.grad(g)(X), np.ones_like(X))
    np.testing.assert_allclose(sg.grad(h)(X), 2 * X)
    nested = lambda x: (lambda x: np.sum(np.sin(x)))(x) * 2.0  # noqa: E731
    np.testing.assert_allclose(sg.grad(nested)(X), 2.0 * np.cos(X))


def test_error_inside_generated_code_names_the_users_line():
    df = sg.grad(cases.raises_inside)
    with pytest.raises(IndexError) as info:
        df(X, 10)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert f"{CASES_FILE}:{line_of('RAISE: raises_inside')}" in notes


def test_cli_bad_target_prints_one_line_and_fails():
    env = dict(os.environ)
    for target in [f"{CASES_FILE}:no_rule", f"{CASES_FILE}:does_not_exist", "nope.py:f"]:
        run = subprocess.run(
            [sys.executable, "-m", "sourcegrad", "show", target],
            capture_output=True,
            text=True,
            env=env,
        )
        assert run.returncode != 0
        assert run.stdout == ""
        assert "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
        assert run.stderr.startswith("sourcegrad: error:")


def linspace_of_a_value(x):
    return np.sum(np.linspace(x, 1.0, 5))


def test_a_differentiated_value_passed_to_linspace_is_refused_not_zero():
    # np.linspace's values depend on its arguments: no rule, so a refusal, never a zero
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(linspace_of_a_value)(0.5)
    assert "test_refusals.py" in str(info.value)


def fortran_reshape(x):
    return np.sum(x.reshape((2, -1), order="F")[0] * np.arange(3.0))


def fortran_ravel(x):
    return np.sum(np.ravel(x, order="F")[:3] * np.arange(3.0))


@pytest.mark.parametrize("f", [fortran_reshape, fortran_ravel])
def test_a_reshape_in_fortran_order_is_refused_not_wrong(f):
    # its adjoint used to reshape back in C order: a silently wrong gradient
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(np.arange(6.0))
    assert "test_refusals.py" in str(info.value) and "order=" in str(info.value)


def real_map(x):
    return np.tanh(x) * 2.0


def real_loss(x):
    return np.sum(np.tanh(x) ** 2)


def test_a_complex_seed_for_a_real_function_is_refused():
    """The imaginary part was dropped (a ComplexWarning, then a real gradient); later the
    SeedError came after the ComplexWarning of the run that cast the seed: now alone."""
    x = np.linspace(-1.0, 1.0, 5)
    v = np.ones(5) * (1 + 1j)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # the optimized code runs from the second call on
            with pytest.raises(sg.SeedError, match="is complex, but"):
                sg.vjp(real_map)(x, g_out=v)
            with pytest.raises(sg.SeedError, match="is complex, but"):
                sg.vjp(real_loss)(x, g_out=1j)
            with pytest.raises(sg.SeedError, match="is complex, but"):
                sg.jvp(real_map)(x, np.ones(5) * 1j)
    assert not [w for w in caught if issubclass(w.category, np.exceptions.ComplexWarning)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "make",
    [
        lambda: sg.hvp(real_loss),
        lambda: sg.jvp(sg.grad(real_loss)),
        lambda: sg.vjp(sg.grad(real_loss)),
    ],
    ids=["hvp", "jvp_of_grad", "vjp_of_grad"],
)
def test_a_complex_direction_of_a_second_derivative_is_refused(make):
    """A complex direction of a Hessian-vector product of a real function: its imaginary
    part was dropped (a ComplexWarning, then the product along the real part alone)."""
    x = np.linspace(-1.0, 1.0, 5)
    for _ in range(3):
        with pytest.raises(sg.SeedError, match="is complex, but"):
            make()(x, np.ones(5) * 1j)
