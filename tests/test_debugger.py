"""The debugger (torch-autograd's debugHook): ``debug_hook``, ``check_finite`` and the
DOT graph of a derivative (golden file ``golden/neural_net.dot``)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import debug

from . import golden_cases as cases

GOLDEN = Path(__file__).parent / "golden"


def divide_by_zero(inputs):
    return np.sum(np.divide(inputs["W"] @ inputs["x"], 0))  # DIV ZERO!


DIV_LINE = divide_by_zero.__code__.co_firstlineno + 1


def seed_inputs():
    return {"W": np.full((32, 100), 0.5), "x": np.full(100, 0.5)}


def log_of_difference(x, y):
    d = x - y
    return np.sum(np.log(d * d))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_seeds_divide_by_zero_trips_the_hook_with_the_users_line():
    seen = []
    df = sg.grad(divide_by_zero, debug_hook=seen.append)
    grads = df(seed_inputs())
    assert len(seen) == 1  # the first non-finite value of the call only
    dbg = seen[0]
    assert isinstance(dbg, debug.Debugger)
    assert f"{__file__}:{DIV_LINE}" in dbg.message
    assert "DIV ZERO" in dbg.message or "np.divide" in dbg.message
    assert dbg.user_file == __file__ and dbg.user_line == DIV_LINE
    assert "(32,)" in dbg.message and "float64" in dbg.message and "32 inf of 32" in dbg.message
    generated = dbg.generated_source.splitlines()[dbg.generated_line - 1]
    assert "np.divide" in generated and generated.strip() in dbg.message
    assert dbg.name in generated.split("=")[0]
    assert np.isinf(dbg.value).all()
    # the inputs of the statement, by name
    assert set(dbg.inputs) <= {"inputs", "W", "x", "out_1", "out_2", "out_3"} and dbg.inputs
    assert "all finite" in dbg.message
    # the call goes on and returns what the derivative without the hook returns
    expected = sg.grad(divide_by_zero, optimize=False)(seed_inputs())
    np.testing.assert_array_equal(grads["W"], expected["W"])
    seen.clear()
    df(seed_inputs())
    assert len(seen) == 1  # once per call


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_debuggers_dot_graph_highlights_the_bad_node(tmp_path, monkeypatch):
    seen = []
    sg.grad(divide_by_zero, debug_hook=seen.append)(seed_inputs())
    dbg = seen[0]
    path = tmp_path / "result.dot"
    text = dbg.generate_dot(path)
    assert path.read_text() == text
    assert text.startswith('digraph "d_divide_by_zero"')
    assert "cluster_forward" in text and "cluster_adjoint" in text
    bad = [line for line in text.splitlines() if "fillcolor" in line]
    assert len(bad) == 1 and "np.divide" in bad[0] and "(32,) float64" in bad[0]
    assert f"line {DIV_LINE}" in bad[0]
    rendered = dbg.show_dot(view=False)
    if shutil.which("dot") is None:
        assert rendered is None  # skipped cleanly
    else:
        assert "<svg" in Path(rendered).read_text()
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no dot program: nothing rendered
    assert dbg.show_dot(view=False) is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_value_and_grad_and_vjp_take_the_hook_too(rng):
    x = rng.standard_normal(4)
    for make in (sg.value_and_grad, sg.grad):
        seen = []
        make(log_of_difference, debug_hook=seen.append)(x, x.copy())
        assert len(seen) == 1 and "np.log" in seen[0].message or "d * d" in seen[0].message
    seen = []
    out = sg.vjp(lambda_free_vjp, debug_hook=seen.append)(x, np.ones(4))
    assert len(seen) == 1 and np.isnan(out).all()


def lambda_free_vjp(x):
    return np.sqrt(x - x - 1.0)


def test_a_finite_derivative_never_calls_the_hook_and_gives_the_same_gradient(rng):
    seen = []
    args = cases.example_args("rnn")
    df = sg.grad(cases.rnn, debug_hook=seen.append)
    for _ in range(3):  # through the tiers: every build runs checked
        got = df(*args)
    assert not seen
    expected = sg.grad(cases.rnn, optimize=False)(*args)
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_check_finite_names_the_gradient_and_the_function(rng):
    params = {"W": np.ones(3), "b": np.array([0.0, 1.0, 2.0])}

    def loss(p, x):
        return np.sum(np.log(p["b"]) * x + p["W"])

    with pytest.raises(sg.SourcegradError, match=r"p\['b'\] of .*loss\(\) is not finite"):
        sg.grad(loss, check_finite=True)(params, rng.standard_normal(3))
    g = sg.grad(loss, check_finite=True)({"W": np.ones(3), "b": np.ones(3)}, np.ones(3))
    np.testing.assert_array_equal(g["b"], np.ones(3))
    with pytest.raises(sg.SourcegradError, match="x of log_of_difference"):
        sg.value_and_grad(log_of_difference, check_finite=True)(np.ones(2), np.ones(2))


def test_dot_source_of_a_derivative_matches_golden():
    text = debug.dot_source(sg.grad(cases.neural_net), *cases.example_args("neural_net"))
    path = GOLDEN / "neural_net.dot"
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_dot_source_without_arguments_has_no_shapes():
    text = debug.dot_source(sg.grad(cases.rnn))
    assert 'digraph "d_rnn"' in text and "float64" not in text
    assert "cluster_adjoint" in text
