"""Keyword-only defaults at order 2 and up: a layer whose ``__call__`` takes ``*, train=False``,
a module-level helper, a function value, a nested ``def`` and a lambda with keyword-only
defaults (and positional ones besides), each called without them. The export's ``filled``
puts the value's own defaults (keyword-only ones last) before the seed, as sourcegrad's
derivatives fill them in; each export runs by ``python -I -S`` with only NumPy and gives the
in-process tower's numbers bit for bit, and those are checked against central differences."""

import pathlib
import shutil

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from . import export_kwonly_cases as kc
from . import export_value_cases as v
from .test_export import run_isolated, same, steady
from .test_export_values import _like


def isolated(tmp_path: pathlib.Path, text: str, name: str, args: tuple):
    """``run_isolated`` with the cases' modules importable there (layer objects are pickled)."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "__init__.py").write_text("")
    for module in (kc, v):
        shutil.copy(module.__file__, tmp_path / "tests" / pathlib.Path(module.__file__).name)
    return run_isolated(tmp_path, text, name, args)


CASES = {
    "a layer whose __call__ has a keyword-only default": (v.train_loss, v.train_args),
    "a module-level helper": (kc.helper_kwonly_loss, v.dict_args),
    "a module-level function as a function value": (kc.value_kwonly_loss, v.dict_args),
    "a nested def": (kc.nested_kwonly_loss, v.dict_args),
    "a lambda": (kc.lambda_kwonly_loss, v.dict_args),
    "positional and keyword-only defaults": (kc.mixed_defaults_loss, v.dict_args),
}


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_keyword_only_defaults_export_at_order_2_and_3_bit_for_bit(case, order, tmp_path):
    f, make = CASES[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(order))
    text = sg.export(f, *args, order=order)
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    levels = tower(f, (), [0] * (order - 1), (0,))
    for _ in range(3):
        want = levels.evaluate(args, (vec,) * (order - 1))
    assert same(got, want), (got, want)
    if order == 2:
        assert same(got, steady(sg.hvp(f), *args, vec))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("case", list(CASES)[1:])
def test_keyword_only_defaults_export_at_order_1_bit_for_bit(case, mode, tmp_path):
    f, make = CASES[case]
    args = make()
    if mode == "reverse":
        got = isolated(tmp_path, sg.export(f, *args), f"d_{f.__name__}", args)
        assert same(got, steady(sg.value_and_grad(f), *args))
    else:
        t = _like(args[0], np.random.default_rng(1))
        got = isolated(tmp_path, sg.export(f, *args, mode="forward"), f"d_{f.__name__}", (*args, t))
        assert same(got, steady(sg.jvp(f), *args, t))


def _moved(x, t, e):
    if isinstance(x, dict):
        return {k: x[k] + e * t[k] for k in x}
    return [type(a)(a.W + e * b.W) for a, b in zip(x, t)]


def _parts(x) -> list:
    return list(x.values()) if isinstance(x, dict) else [a.W for a in x]


@pytest.mark.parametrize("case", list(CASES))
def test_the_hvp_with_keyword_only_defaults_is_right(case):
    """Calls 1 to 3 against central differences of the gradient along v: the defaults (not
    zeros, not another value) are the ones used."""
    f, make = CASES[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(2))
    g, hv, e = sg.grad(f), sg.hvp(f), 1e-5
    plus, minus = g(_moved(args[0], vec, e), *args[1:]), g(_moved(args[0], vec, -e), *args[1:])
    for _ in range(3):
        got = hv(*args, vec)
        for a, p, m in zip(_parts(got), _parts(plus), _parts(minus)):
            fd = (p - m) / (2 * e)
            assert np.linalg.norm(a - fd) <= 1e-6 * max(np.linalg.norm(fd), 1.0)
