"""Exports at order 2 and 3 write the running build, so a list grown in a loop stays
``append``/``pop`` in the exported module as in the derivative that runs (the pure code grows
it by ``hs = [*hs, h]`` and shrinks the tape by ``tape = tape[:-1]``: a copy per step).

Each export runs by ``python -I -S`` with only NumPy and gives ``sg.hvp``'s (order 2) or the
tower's (order 3) numbers bit for bit; those are checked against central differences in
``tests/test_lists_linear_every_order.py``.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from . import list_growth_cases as L
from .test_export import run_isolated, same, steady
from .test_lists_linear_every_order import copies_per_step, statements

GROWN = {f.__name__: f for f in [L.stacked, *L.GROWN]}


def exported_function(text: str, name: str) -> str:
    """The source of the function ``name`` of the exported module ``text``."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node)
    raise AssertionError(f"{name} not in the export")


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("name", sorted(GROWN))
def test_exported_higher_orders_grow_lists_in_place(name, order, tmp_path):
    f = GROWN[name]
    W, xs = L.make_args()
    v = np.random.default_rng(7).normal(size=W.shape)
    text = sg.export(f, W, xs, order=order)
    run = exported_function(text, f"run_d_{name}")
    assert copies_per_step(run) == [], run
    lines = statements(run)
    assert "tape.pop()" in lines and "ttape.pop()" in lines, run
    assert not any("append_tangent(" in line for line in lines), run
    got = run_isolated(tmp_path, text, f"d_{name}", (W, xs, v))
    if order == 2:
        want = steady(sg.hvp(f), W, xs, v)
    else:
        levels = tower(f, (), [0, 0], (0,))
        for _ in range(3):
            want = levels.evaluate((W, xs), (v, v))
    assert same(got, want), (got, want)
