"""Lists of objects, tuples and dicts grown in loops run in linear time at every order
(``transform/optimize/appends.py``, ``transform/optimize/item_adjoints.py``), and no
derivative keeps an accumulator that only its own updates read (``faint_stores`` in
``transform/simplify/liveness.py``).

The pure derivative grows a list by making a new one (``items = [*items, Dense(W, b)]``), a
derivative of a derivative takes an item off by slicing (``tape = tape[:-1]``), and the
adjoint of ``layers[k]`` adds a zero adjoint for every item (``dlayers += unindex(dlayer,
layers, k)``): each is a copy of the whole list per step. The running code appends, pops and
adds into the one item instead. Through the public API: values are Python's and derivatives
agree with central differences in float64 on calls 1-3 (the optimized build runs from the
second), at orders 1, 2 and 3; on the running source: no per-step copy of a list; and the
number of adjoint helper calls grows linearly with the list's length.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower
from sourcegrad.runtime import trees

from . import cf_corpus as cf
from . import list_growth_cases as L
from .ported.harness import Case, check

GROWN = {f.__name__: f for f in L.GROWN}


def running_text(f, args, order):
    """The source of the build that runs for ``args`` at ``order`` (1: the gradient; 2: the
    Hessian-vector product; 3: forward mode over that), once the optimized build runs."""
    if order == 1:
        return sg.show(f, args=args, optimized=True)
    seeds = (args[0],) * (order - 1)
    t = tower(f, (), [0] * (order - 1), (0,), False)
    for _ in range(3):
        t.evaluate(args, seeds)
    return textwrap.dedent(inspect.getsource(t._entry(t.values(args, seeds))))


def statements(text):
    """The lines of ``text`` without its comments (which cite the pure code)."""
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]


def copies_per_step(text):
    """The statements of ``text`` that copy a list to grow or shrink it: ``x = [*x, v]``
    and ``x = x[:-1]`` of a name that holds a list (one made with ``[]`` in ``text``)."""
    tree = ast.parse(text)
    lists = {
        n.targets[0].id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        and isinstance(n.targets[0], ast.Name)
        and isinstance(n.value, ast.List)
    }
    found = []
    for n in ast.walk(tree):
        if not (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)):
            continue
        name, v = n.targets[0].id, n.value
        grows = isinstance(v, ast.List) and any(isinstance(e, ast.Starred) for e in v.elts)
        shrinks = isinstance(v, ast.Subscript) and isinstance(v.slice, ast.Slice)
        if name in lists and (grows or shrinks):
            found.append(ast.unparse(n))
    return found


# ------------------------------------------------------------------- values and derivatives
def test_layers_built_by_a_comprehension_agree():
    params, x = L.make_layers(5)
    check(Case("layered", L.layered, (params, x)))
    W, biases, x = L.make_shared_layers()
    check(Case("shared_layers", L.shared_layers, (W, biases, x), order=2))


@pytest.mark.parametrize("name", sorted(GROWN))
def test_grown_lists_agree_to_second_order(name):
    W, xs = L.make_args()
    check(Case(name, GROWN[name], (W, xs), order=2))


@pytest.mark.parametrize("name", ["shared_layers", *sorted(GROWN)])
def test_third_order_agrees_with_differences_of_the_second(name):
    """Forward mode over the Hessian-vector product, along ``v`` twice, against central
    differences of ``hvp`` along ``v``."""
    if name == "shared_layers":
        f, args = L.shared_layers, L.make_shared_layers()
    else:
        f, args = GROWN[name], L.make_args()
    v = np.random.default_rng(9).normal(size=args[0].shape)
    eps = 1e-4
    hv = sg.hvp(f)
    want = (hv(args[0] + eps * v, *args[1:], v) - hv(args[0] - eps * v, *args[1:], v)) / (2 * eps)
    t = tower(f, (), [0, 0], (0,), False)
    for _ in range(3):
        got = t.evaluate(args, (v, v))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------- no copy per step
def test_a_comprehension_of_objects_grows_in_place():
    params, x = L.make_layers(3)
    text = running_text(L.layered, (params, x), 1)
    lines = statements(text)
    # (the object is built once: its forward kept for the adjoint of its __init__)
    assert "items_1, kept_items_1 = forward_kept(vjp_make_Dense, W_1, b_1)" in lines, text
    assert "items.append(items_1)" in lines, text
    assert "dlayers = item_adjoints(dlayers, layers)" in lines, text
    assert "dlayers = add_to_item(dlayers, dlayer, layers, k_1)" in lines, text
    assert copies_per_step(text) == [], text
    pure = sg.show(L.layered, args=(params, x))
    assert "items = [*items, items_1]" in pure  # the pure derivative: one value each


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(GROWN))
def test_no_list_is_copied_per_step(name, order):
    W, xs = L.make_args()
    text = running_text(GROWN[name], (W, xs), order)
    assert copies_per_step(text) == [], text
    if order > 1:  # the tape of the gradient, and each list's tangent, grow in place
        lines = statements(text)
        assert "tape.pop()" in lines and "ttape.pop()" in lines, text
        assert not any("append_tangent(" in line for line in lines), text


def test_tangents_of_lists_of_objects_grow_in_place_at_order_two():
    text = running_text(L.shared_layers, L.make_shared_layers(), 2)
    assert copies_per_step(text) == [], text


def adjoint_helper_calls(f, args, order):
    """How many times one call of the running derivative calls the helpers that make or add
    adjoints of containers."""
    counted = {trees.zero_adjoint.__code__, trees.add_adjoints.__code__}
    if order == 1:
        df = sg.grad(f)
        call = lambda: df(*args)  # noqa: E731
    else:
        hv = sg.hvp(f)
        call = lambda: hv(*args, args[0])  # noqa: E731
    for _ in range(3):
        call()
    n = [0]

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in counted:
            n[0] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return n[0]


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name", ["cached_pairs", "cached_dicts"])
def test_adjoint_work_grows_linearly_with_the_list(name, order):
    """The adjoint of reading a list item by item made a zero adjoint of every item at every
    step: calls of ``zero_adjoint``/``add_adjoints`` grew with the square of the length."""
    W, _ = L.make_args()
    rng = np.random.default_rng(4)
    short, long = (
        adjoint_helper_calls(GROWN[name], (W, rng.normal(size=(n, 4))), order) for n in (20, 80)
    )
    assert long <= 4 * short + 40, (short, long)


def test_layer_list_adjoint_work_grows_linearly():
    short, long = (adjoint_helper_calls(L.layered, L.make_layers(n), 1) for n in (5, 20))
    assert long <= 4 * short + 40, (short, long)


# ------------------------------------------------------------- no self-feeding accumulator
def unread_accumulators(text):
    """Names a loop updates from themselves (``tda_6 = tda_6 + tda_1_1``) that nothing reads
    but those updates: no other statement of the loop, and nothing after it."""
    found = []

    def names(nodes, skip=None):
        return {
            n.id
            for node in nodes
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        } - ({skip} if skip else set())

    def block(stmts, after):
        for i, stmt in enumerate(stmts):
            later = stmts[i + 1 :] + after
            if isinstance(stmt, (ast.For, ast.While)):
                inside = [n for n in ast.walk(stmt) if isinstance(n, ast.Assign)]
                for a in inside:
                    t = a.targets[0]
                    if not (isinstance(t, ast.Name) and t.id in names([a.value])):
                        continue
                    others = [b for b in inside if not _assigns(b, t.id)]
                    heads = [stmt.iter if isinstance(stmt, ast.For) else stmt.test]
                    if t.id not in names(others + heads + later):
                        found.append(ast.unparse(a))
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    block(inner, later)

    block(ast.parse(text).body[0].body, [])
    return found


def _assigns(stmt, name):
    return isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name


def test_third_order_newton_keeps_no_accumulator_only_its_updates_read():
    text = sg.show(cf.newton_sqrt, args=(2.0,), order=3)
    assert unread_accumulators(text) == [], text
    d3 = sg.grad(sg.grad(sg.grad(cf.newton_sqrt)))
    for _ in range(3):  # d3/da3 sqrt(a) = 3/8 a**-2.5
        np.testing.assert_allclose(d3(2.0), 0.375 * 2.0**-2.5, rtol=1e-9)


def test_second_order_of_a_layer_list_keeps_no_dead_adjoint():
    """The hvp returns the tangent of the gradient: the gradient's own accumulation over the
    list (``dparams = dparams + unindex(...)``, one zero adjoint per item per step) is read by
    nothing."""
    text = running_text(L.layered, L.make_layers(3), 2)
    assert unread_accumulators(text) == [], text
