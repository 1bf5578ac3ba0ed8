"""Export programs written as users write them (``tests/export_user_cases.py``): a dataclass
layer with a property and ``__call__``, dataclass blocks in a list with a ``forward`` method
and a string field, dict-of-dict parameters, ``while`` loops (a fixed count, and one until the
step is small), a closure over module constants, a ``np.random.Generator`` passed in, a list of
parameters unpacked, a helper called by keyword leaving a default out, a helper returning a
tuple in a recurrence, ``np.where`` / ``np.clip``, a plain class with ``__call__`` held in a
global. Each is exported in reverse mode, in forward mode and at order 2; each module runs by
``python -I -S`` with only NumPy and gives ``sg.value_and_grad`` / ``sg.jvp`` / ``sg.hvp``'s
numbers bit for bit (the gradients are checked against central differences, first and later
calls). Losses using ``sg.nn`` layers or an ``sg.model`` network are exported too: see
tests/test_export_library.py."""

import copy
import dataclasses
import pathlib
import shutil

import numpy as np
import pytest

import sourcegrad as sg

from . import export_user_cases as u
from .fd import numerical_grad
from .test_export import run_isolated, same, steady

CASES = {
    "a dataclass layer with a property and __call__": (u.property_loss, u.property_args),
    "dataclass blocks in a list, a forward method, a string field": (
        u.residual_loss,
        u.residual_args,
    ),
    "dict-of-dict parameters": (u.nested_dict_loss, u.nested_dict_args),
    "a while loop of fixed count": (u.while_loss, u.while_args),
    "a while loop until the step is small": (u.fixed_point_loss, u.fixed_point_args),
    "a closure over module constants": (u.closure_loss, u.closure_args),
    "a np.random.Generator passed in": (u.noisy_loss, u.noisy_args),
    "a list of parameters unpacked, integer labels": (u.unpacked_loss, u.unpacked_args),
    "zip of parameters, a helper called by keyword, a flag": (u.zipped_loss, u.zipped_args),
    "a helper returning a tuple in a recurrence": (u.recurrent_loss, u.recurrent_args),
    "np.where and np.clip": (u.where_loss, u.where_args),
    "a plain class with __call__ in a global": (u.poly_loss, u.poly_args),
}


def isolated(tmp_path: pathlib.Path, text: str, name: str, args: tuple):
    """``run_isolated`` with the cases' module importable there (its objects are pickled)."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "__init__.py").write_text("")
    shutil.copy(u.__file__, tmp_path / "tests" / "export_user_cases.py")
    return run_isolated(tmp_path, text, name, args)


def tangent(x, rng):
    """A random value of the differentiable structure of ``x`` (a dataclass's array fields)."""
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    if isinstance(x, dict):
        return {k: tangent(a, rng) for k, a in x.items()}
    if isinstance(x, list):
        return [tangent(a, rng) for a in x]
    fields = {
        f.name: tangent(getattr(x, f.name), rng)
        for f in dataclasses.fields(x)
        if isinstance(getattr(x, f.name), np.ndarray)
    }
    return dataclasses.replace(x, **fields)


@pytest.mark.parametrize("mode", ["reverse", "forward", "order 2"])
@pytest.mark.parametrize("case", list(CASES))
def test_user_programs_export_bit_for_bit(case, mode, tmp_path):
    f, make = CASES[case]
    args = make()
    t = tangent(args[0], np.random.default_rng(3))
    if mode == "reverse":
        text, extra, ref = sg.export(f, *args), (), sg.value_and_grad(f)
    elif mode == "forward":
        text, extra, ref = sg.export(f, *args, mode="forward"), (t,), sg.jvp(f)
    else:
        text, extra, ref = sg.export(f, *args, order=2), (t,), sg.hvp(f)
    assert "import sourcegrad" not in text
    here = copy.deepcopy(args)  # a generator passed in: the same draws in both
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, *extra))
    want = steady(ref, *here, *extra)
    assert same(got, want), (got, want)


def _flat(x) -> list:
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, dict):
        return [a for v in x.values() for a in _flat(v)]
    if isinstance(x, list):
        return [a for v in x for a in _flat(v)]
    return [getattr(x, f.name) for f in dataclasses.fields(x) if f.name != "act"]


@pytest.mark.parametrize(
    "case",
    [k for k in CASES if "Generator" not in k],
)
def test_user_programs_gradients_are_right_on_first_and_later_calls(case):
    """Central differences of each array of the first argument (arrays moved in place)."""
    f, make = CASES[case]
    args = make()
    df = sg.grad(f)
    expected = []
    for a in _flat(args[0]):

        def along(v, a=a):
            old = a.copy()
            a[...] = v
            try:
                return f(*args)
            finally:
                a[...] = old

        expected.append(numerical_grad(along, (a.copy(),), 0))
    for _ in range(3):
        for got, want in zip(_flat(df(*args)), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_the_hvp_draws_from_a_generator_passed_in_as_the_function_does():
    """The first call of an hvp checks the function's output on a copy of the generator: each
    call draws what one call of the function draws (the export's numbers match from the
    first call on)."""
    params, x, rng = u.noisy_args()
    v = tangent(params, np.random.default_rng(1))
    hv = sg.hvp(u.noisy_loss)
    for _ in range(3):
        mirror = copy.deepcopy(rng)
        hv(params, x, rng, v)
        mirror.standard_normal(x.shape)
        assert rng.bit_generator.state == mirror.bit_generator.state
