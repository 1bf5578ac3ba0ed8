"""The examples train as their docstrings say (their --quick forms, as CI runs them)."""

import importlib.util
import pathlib
import re

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def examples_on_path(monkeypatch):
    """``python examples/NAME.py`` puts the examples' folder on ``sys.path`` (they plot with
    ``curves.py``); so do the tests."""
    monkeypatch.syspath_prepend(str(EXAMPLES))


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


def test_digits_cnn_learns_in_two_epochs(tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (examples extra)")
    pytest.importorskip("tqdm", reason="the examples show a tqdm bar (examples extra)")
    example = load("digits_cnn")
    _, history = example.train(2, plot="")
    assert history["test"][-1] > 0.8
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lstm_loss_falls_and_it_samples(capsys, tmp_path, cell):
    pytest.importorskip("matplotlib", reason="the examples plot (examples extra)")
    example = load("char_lstm")
    _, losses, text = example.train(
        12, length=12, size=8, every=4, plot=str(tmp_path / "l.png"), cell=cell
    )
    assert (tmp_path / "l.png").stat().st_size > 0
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert text.startswith("Beautiful is ") and len(text) == len("Beautiful is ") + 120
    out = capsys.readouterr().out
    assert "sample:" in out and f"{cell.upper()} 24 -> 96" in out
    example.main(["--quick", "--cell", cell, "--plot", ""])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lstm_gradient_with_clipping(cell):
    example = load("char_lstm")
    import sourcegrad as sg

    params, chars, targets = example.example_args(cell=cell)
    small = (chars[:3, :2], targets[:3, :2])
    loss = example.LOSSES[cell]
    assert sg.gradcheck(loss, params, *small, max_elements=20)
    grads = sg.grad(loss)(params, *small)
    norm = example.clip_by_global_norm(grads, 1e-3)
    assert norm > 1e-3
    clipped = sg.util.tree_leaves(grads)
    assert np.sqrt(sum(np.sum(g * g) for g in clipped)) == pytest.approx(1e-3)


def test_auto_module_fit_learns_the_exponentials(tmp_path):
    pytest.importorskip("matplotlib", reason="the examples plot (examples extra)")
    example = load("auto_module_fit")
    _, losses = example.fit(300, every=100, plot=str(tmp_path / "fit.png"))
    assert (tmp_path / "fit.png").stat().st_size > 0
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:20])
    example.main(["--quick", "--plot", ""])


def test_transfer_learning_trains_a_new_head(capsys, tmp_path):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (examples extra)")
    pytest.importorskip("tqdm", reason="the examples show a tqdm bar (examples extra)")
    pytest.importorskip("matplotlib", reason="the examples plot (examples extra)")
    example = load("transfer_learning")
    plot = tmp_path / "curves.png"
    assert example.main(["--quick", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    if importlib.util.find_spec("torch") is None:
        assert "needs torch" in out
        return
    accuracy = float(re.search(r"test accuracy on the new digits: ([0-9.]+)", out).group(1))
    assert accuracy > 0.5  # five classes: chance is 0.2
    assert plot.stat().st_size > 0
