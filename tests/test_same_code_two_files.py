"""Two files defining the same function, line for line (their code objects compare equal in
Python): each derivative names its own file, in ``show`` at every order and in a refusal.
Before, the second file's derivative named the first's (parsed trees were kept by code
object, and generated files by their text alone)."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg

SMOOTH = textwrap.dedent("""
    import numpy as np


    def loss(w, x):
        h = np.tanh(x @ w)
        return np.sum(h * h)
    """)

REFUSED = textwrap.dedent("""
    import numpy as np


    def loss(w, x):
        try:
            h = np.tanh(x @ w)
        except ValueError:
            h = x
        return np.sum(h)
    """)


def _load(path: Path, text: str, name: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pair(tmp_path: Path, text: str, tag: str):
    """The same text as ``one/model.py`` and ``two/model.py`` and as ``first.py`` and
    ``second.py`` (same base name or not)."""
    return [
        _load(tmp_path / "one" / "model.py", text, f"one_{tag}"),
        _load(tmp_path / "two" / "model.py", text, f"two_{tag}"),
        _load(tmp_path / "first.py", text, f"first_{tag}"),
        _load(tmp_path / "second.py", text, f"second_{tag}"),
    ]


@pytest.mark.parametrize("order", [2, 3])
def test_shown_derivative_names_its_own_file(tmp_path, order):
    modules = _pair(tmp_path, SMOOTH, f"smooth{order}")
    assert modules[0].loss.__code__ == modules[3].loss.__code__  # what makes the case
    for m in modules:
        shown = sg.show(m.loss, order=order)
        assert f"# {Path(m.__file__).name}:6: h = np.tanh(x @ w)" in shown
    for one, other in ((modules[0], modules[1]), (modules[2], modules[3])):
        assert sg.show(one.loss, order=order) == sg.show(other.loss, order=order).replace(
            Path(other.__file__).name, Path(one.__file__).name
        )


def test_gradients_of_both_run(tmp_path):
    modules = _pair(tmp_path, SMOOTH, "run")
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    want = 2 * x.T @ (np.tanh(x @ w) * (1 - np.tanh(x @ w) ** 2))
    for m in modules:
        df = sg.grad(m.loss)
        for _ in range(3):
            np.testing.assert_allclose(df(w, x), want, rtol=1e-12)


def test_refusal_names_its_own_file(tmp_path):
    modules = _pair(tmp_path, REFUSED, "refused")
    w, x = np.ones(3), np.ones((2, 3))
    for m in modules:
        with pytest.raises(sg.SourcegradError) as info:
            sg.grad(m.loss)(w, x)
        assert info.value.filename == m.__file__
        assert info.value.lineno == 6
