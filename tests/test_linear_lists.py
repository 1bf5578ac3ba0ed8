"""Lists held inside containers and grown in loops (``cache["hs"].append(h)``,
``layer["cache"].append(h)``) grow in place in the running code at every order, as a plain
``hs.append(h)`` does (``transform/item_lists.py`` names the dict's lists;
``transform/optimize/appends.py`` appends in place where the dict is built again after the
loop, or a list is put in a container once it has stopped growing).

Through the public API: values are Python's and gradients agree with central differences in
float64 on calls 1-3 (the optimized build runs from the second), Hessian-vector products
too; on the running source at orders 1, 2 and 3: no statement copies a list to grow it; a
caller's list grows as Python's call grows it (the same object, Python's items).
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from . import linear_list_cases as C
from .ported.harness import Case, check
from .test_lists_linear_every_order import copies_per_step, running_text

GROWN = {f.__name__: f for f in C.GROWN}


@pytest.mark.parametrize("name", sorted(GROWN))
def test_values_gradients_and_hvps_agree(name):
    check(Case(name, GROWN[name], C.make_args(), order=2))


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(GROWN))
def test_no_list_copied_per_step(name, order):
    text = running_text(GROWN[name], C.make_args(), order)
    assert copies_per_step(text) == [], text


@pytest.mark.parametrize("f", C.STEPS, ids=lambda f: f.__name__)
def test_steps_values_taped_at_the_end_agree(f):
    check(Case(f.__name__, f, C.make_args(), order=2))


@pytest.mark.parametrize("f", C.STEPS[:2], ids=lambda f: f.__name__)
def test_no_placeholder_on_the_tape(f):
    """A value a loop's step makes afresh is taped itself, at the end of its step: no ``x =
    None`` before the loop for the tape's first entry."""
    text = running_text(f, C.make_args(), 1)
    assert placeholders(text) == [], text
    assert placeholders(sg.show(f, args=C.make_args())), "the pure code has them"


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("f", C.STEPS[:2], ids=lambda f: f.__name__)
def test_no_tangent_kept_for_an_entry_kept_for_its_shape(f, order):
    """A derivative of a derivative keeps the tangent of each tape entry on a tangent tape;
    an entry the adjoint reads only for its shape has none to keep (the pure code pushes
    ``zero_tangent`` of it, None, and pops it unread). (Loops in loops keep theirs.)"""
    text = running_text(f, C.make_args(), order)
    assert ".append(zero_tangent(" not in text, text
    assert [s for s in statements(text) if s.endswith(".pop()")], text


def statements(text):
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]


def placeholders(text):
    """The names ``x`` of ``text`` given ``x = None`` and pushed on a tape (``tape.append(x)``
    or of ``shape_of(x)``)."""
    tree = ast.parse(text)
    nones = {
        n.targets[0].id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        and isinstance(n.targets[0], ast.Name)
        and isinstance(n.value, ast.Constant)
        and n.value.value is None
    }
    pushed = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "append" and n.args:
            arg = n.args[0]
            if isinstance(arg, ast.Call) and arg.args:
                arg = arg.args[0]
            if isinstance(arg, ast.Name) and "tape" in ast.unparse(n.func.value):
                pushed.add(arg.id)
    return sorted(nones & pushed)


def test_the_dict_is_built_after_its_lists_and_they_append():
    text = running_text(C.layer_cache, C.make_args(), 1)
    assert "layer_cache.append(h)" in text, text
    assert 'layer = {"W": layer_W, "cache": layer_cache, "steps": layer_steps}' in text, text
    pure = sg.show(C.layer_cache, args=C.make_args())
    assert "layer_cache = [*layer_cache, h]" in pure, pure  # (the pure code: one value each)


def test_a_list_kept_then_grown_again_is_refused():
    """Python's container would see the later item; the derivative follows values."""
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(C.kept_then_grown)(*C.make_args())
    line = [i for i, t in enumerate(open(C.__file__), 1) if "box = [hs]" in t][0]
    assert f"linear_list_cases.py:{line}:" in str(info.value), str(info.value)
    assert "list(hs)" in str(info.value)


def test_the_callers_list_grows_as_in_python():
    W, xs = C.make_args()
    mine = {"hs": [np.ones(3)]}
    want = C.into_argument(W, xs, mine)
    vg = sg.value_and_grad(C.into_argument)
    pure = sg.value_and_grad(C.into_argument, optimize=False)
    for call in range(3):
        theirs = {"hs": [np.ones(3)]}
        held = theirs["hs"]
        value, g = vg(W, xs, theirs)
        _, g_pure = pure(W, xs, {"hs": [np.ones(3)]})
        assert value == want, f"call {call}"
        assert theirs["hs"] is held, f"call {call}: the caller's list was replaced"
        assert len(held) == len(mine["hs"]) == len(xs) + 1
        assert all(np.array_equal(a, b) for a, b in zip(held, mine["hs"])), f"call {call}"
        np.testing.assert_allclose(g, g_pure, rtol=1e-12, atol=1e-14)
        fd = _central(lambda w: C.into_argument(w, xs, {"hs": [np.ones(3)]}), W)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_a_copy_of_the_callers_list_grows_in_place():
    W, xs = C.make_args()
    start = [np.ones(3)]
    for order in (1, 2):
        text = running_text(C.copy_of_argument, (W, xs, start), order)
        assert copies_per_step(text) == [], text
    check(Case("copy_of_argument", C.copy_of_argument, (W, xs, start), order=2))
    vg = sg.value_and_grad(C.copy_of_argument)
    for _ in range(3):
        assert vg(W, xs, start)[0] == C.copy_of_argument(W, xs, start)
        assert len(start) == 1  # (the caller's list keeps its one item)


SET_DEFAULT = {f.__name__: f for f in C.SET_DEFAULT}


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", ["set_default", "set_default_two_keys"])
def test_set_default_grows_in_place(name, order):
    """A dict made empty and grown only through ``setdefault(k, [])`` until its last growth
    holds a list per key that grows as a name's does (``transform/set_default_lists.py``)."""
    text = running_text(SET_DEFAULT[name], C.make_args(), order)
    assert copies_per_step(text) == [], text
    assert "shape_of(d" not in text, text  # (no shape of the grown list taped per step)


@pytest.mark.parametrize("name", sorted(SET_DEFAULT))
def test_set_default_agrees(name):
    W, xs = C.make_args()
    for args in [(W, xs), (W, -np.abs(xs)), (W, np.abs(xs))]:  # (a key added first or never)
        check(Case(name, SET_DEFAULT[name], args, order=2))


@pytest.mark.parametrize("name", sorted(SET_DEFAULT))
def test_set_default_third_order_agrees_with_differences_of_the_second(name):
    """Forward mode over the Hessian-vector product (a dict's tangent read at a key a
    ``setdefault`` added raised KeyError in the running code)."""
    f, (W, xs) = SET_DEFAULT[name], C.make_args()
    v = np.random.default_rng(9).normal(size=W.shape)
    eps = 1e-4
    hv = sg.hvp(f)
    want = (hv(W + eps * v, xs, v) - hv(W - eps * v, xs, v)) / (2 * eps)
    t = tower(f, (), [0, 0], (0,), False)
    for _ in range(3):
        np.testing.assert_allclose(t.evaluate((W, xs), (v, v)), want, rtol=1e-5, atol=1e-7)


def test_set_default_gradient_is_the_named_lists_bit_for_bit():
    """``d.setdefault("hs", []).append(h)`` differentiates as ``cache["hs"].append(h)``."""
    W, xs = C.make_args(steps=40)
    mine, named = sg.value_and_grad(C.set_default), sg.value_and_grad(C.cache_dict)
    for _ in range(3):
        (v1, g1), (v2, g2) = mine(W, xs), named(W, xs)
        assert v1 == v2 == C.set_default(W, xs)
        assert np.array_equal(g1, g2)


def _central(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return out
