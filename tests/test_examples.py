"""The examples train as their docstrings say (their --quick forms, as CI runs them)."""

import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_mlp_learns_in_three_epochs(tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (examples extra)")
    pytest.importorskip("tqdm", reason="the examples show a tqdm bar (examples extra)")
    pytest.importorskip("matplotlib", reason="the examples plot (examples extra)")
    example = load("digits_mlp")
    plot = tmp_path / "curves.png"
    _, history = example.train(3, plot=str(plot))
    assert history["test"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0]
    assert plot.stat().st_size > 0
