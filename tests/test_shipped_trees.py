"""The rule templates' trees shipped with sourcegrad (``sourcegrad/rules/template_trees.pickle``)
are the trees parsing their source gives, the table holds every built-in template as its file
reads now, and a template whose file changed since is parsed, not read from the table.

After changing a rule module: SOURCEGRAD_UPDATE_GOLDEN=1 python -m pytest
tests/test_shipped_trees.py writes the table again; commit it with the change.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.rules import elementwise, registry, shipped_trees

from .fd import numerical_grad

UPDATE = "SOURCEGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_shipped_trees.py"


def _dump(tree) -> str:
    return gast.dump(tree, include_attributes=True)


def _shipped() -> dict:
    return shipped_trees.read_table()


#: the packages whose rules are registered when they are imported (where installed)
OPTIONAL = ("scipy.special", "scipy.stats", "scipy.linalg")


def _every_template() -> list:
    """Every built-in template this installation has: the optional packages' rules are
    registered on their import, so the table does not depend on which tests ran before."""
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # not installed: its rules are not registered, nor needed here
    return registry.own_templates()


def test_table_holds_every_template_as_its_file_reads():
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        shipped_trees.write(_every_template(), registry.parsed_def)
    made = shipped_trees.made_table(_every_template(), registry.parsed_def)
    shipped = _shipped()
    if shipped["python"] != made["python"]:
        pytest.skip(f"the table was made under Python {shipped['python']}: unused here")
    stale = sorted(
        name for name, entry in made["modules"].items() if shipped["modules"].get(name) != entry
    )
    assert not stale, f"template_trees.pickle is stale for {stale}: run {UPDATE}"
    assert set(made["modules"]) <= set(shipped["modules"]), f"run {UPDATE}"
    for name in set(shipped["modules"]) - set(made["modules"]):  # an optional package's only
        assert name.startswith("sourcegrad.rules.scipy_"), f"{name}: run {UPDATE}"
        assert importlib.util.find_spec("scipy") is None
    for name, fields in made["classes"].items():
        assert shipped["classes"].get(name) == fields


@pytest.mark.skipif(
    _shipped()["python"] != tuple(sys.version_info[:2]), reason="the table is for another Python"
)
def test_every_shipped_tree_is_the_parsed_tree():
    fns = _every_template()
    assert len(fns) > 300  # every family's templates, not a few
    for fn in fns:
        tree = shipped_trees.shipped_tree(fn)
        assert tree is not None, f"{fn.__module__}.{fn.__qualname__} is not shipped: run {UPDATE}"
        assert _dump(tree) == _dump(registry.parsed_def(fn)), fn.__qualname__
        assert shipped_trees.shipped_tree(fn) is not tree  # a new copy each time


def test_an_edited_file_is_parsed_not_read_from_the_table(monkeypatch):
    table = dict(
        shipped_trees._table if shipped_trees._table is not None else shipped_trees._load()
    )
    _, trees = table[elementwise.__name__]
    table[elementwise.__name__] = (b"\0" * 16, trees)  # as if the file had been edited since
    monkeypatch.setattr(shipped_trees, "_table", table)
    monkeypatch.setattr(shipped_trees, "_trees_of_file", {})
    assert shipped_trees.shipped_tree(elementwise._add) is None
    assert _dump(registry._parsed_def(elementwise._add)) == _dump(
        registry.parsed_def(elementwise._add)
    )


def test_a_table_for_another_python_or_gast_is_not_used():
    made = _shipped()
    assert shipped_trees._fits(made) == (made["python"] == tuple(sys.version_info[:2]))
    assert not shipped_trees._fits(dict(made, python=(2, 7)))
    other = dict(made["classes"], Name=(("id",), ()))
    assert not shipped_trees._fits(dict(made, classes=other))


def test_rules_read_from_the_table_differentiate_right():
    def f(x, w):
        return np.sum(np.tanh(x @ w) * np.exp(-x[:, :1]) - np.log(1.0 + w[0] ** 2))

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    df = sg.grad(f, wrt=(0, 1))
    want = numerical_grad(f, (x, w), 0), numerical_grad(f, (x, w), 1)
    for _ in range(3):
        got = df(x, w)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-8)
