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


def test_physics_fit_recovers_the_launch_parameters(tmp_path):
    pytest.importorskip("scipy", reason="the fit uses scipy.optimize (with scikit-learn)")
    pytest.importorskip("matplotlib", reason="the examples plot (examples extra)")
    example = load("physics_fit")
    speed, drag, result = example.fit(100, plot=str(tmp_path / "fit.png"))
    assert abs(speed - 30.0) < 0.5 and abs(drag - 0.02) < 0.002, (speed, drag)


def test_physics_fit_gradient_through_the_landing_loop():
    example = load("physics_fit")
    import sourcegrad as sg

    sg.gradcheck(example.misfit, *example.example_args())


def test_newton_cg_with_hvp_classifies_breast_cancer():
    pytest.importorskip("sklearn", reason="the data come with scikit-learn (examples extra)")
    example = load("newton_cg")
    result, accuracy = example.fit()
    assert result.success and accuracy > 0.94
    import sourcegrad as sg

    w, x, y, penalty = example.example_args()
    sg.gradcheck(example.loss, w + 0.1, x[:40], y[:40], penalty, order=2)


def test_digits_cnn_learns_in_two_epochs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (examples extra)")
    pytest.importorskip("tqdm", reason="the examples show a tqdm bar (examples extra)")
    monkeypatch.syspath_prepend(str(EXAMPLES))  # it plots with digits_mlp's save_curves
    example = load("digits_cnn")
    _, history = example.train(2, plot="")
    assert history["test"][-1] > 0.8
    assert history["loss"][-1] < history["loss"][0]
