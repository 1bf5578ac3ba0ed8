"""A loss that takes a gradient inside (MAML's inner step) differentiates in process and is
refused by an export, at the line of the user's file that takes the inner gradient, saying
why and the way out: the exported module holds no sourcegrad to build the inner gradient's
derivative (a Hessian-vector product through it) when it runs."""

import inspect

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli
from tests.fd import numerical_grad


def mse(p, x, y):
    pred = np.tanh(x @ p["w"] + p["b"])
    return np.mean((pred - y) ** 2)


def maml(p, xs, ys, xq, yq):
    g = sg.grad(mse)(p, xs, ys)
    adapted = {k: p[k] - 0.1 * g[k] for k in p}
    return mse(adapted, xq, yq)


def maml_two_steps(p, xs, ys, xq, yq):
    adapted = p
    for _ in range(2):
        g = sg.grad(mse)(adapted, xs, ys)
        adapted = {k: adapted[k] - 0.1 * g[k] for k in adapted}
    return mse(adapted, xq, yq)


def maml_args():
    r = np.random.default_rng(0)
    p = {"w": r.normal(size=(3, 2)), "b": r.normal(size=2)}
    return (p, r.normal(size=(5, 3)), r.normal(size=(5, 2)), r.normal(size=(4, 3)))


def full_args():
    return maml_args() + (np.random.default_rng(1).normal(size=(4, 2)),)


def _inner_line(f) -> int:
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, text in enumerate(lines) if "sg.grad(" in text)


@pytest.mark.parametrize("f", [maml, maml_two_steps])
def test_maml_differentiates_in_process_on_first_and_later_calls(f):
    """What the refusal leaves the user: the in-process derivative, right from the first
    call and from the optimized build on."""
    args = full_args()
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, grads = df(*args)
        assert value == f(*args)
        for k in args[0]:
            of_k = lambda pk, k=k: f({**args[0], k: pk}, *args[1:])  # noqa: E731
            expected = numerical_grad(of_k, (args[0][k],), 0)
            np.testing.assert_allclose(grads[k], expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [maml, maml_two_steps])
def test_an_export_of_maml_is_refused_at_the_inner_gradient_with_the_way_out(f):
    with pytest.raises(sg.SourcegradError) as info:
        sg.export(f, *full_args())
    exc = info.value
    assert (exc.filename, exc.lineno) == (__file__, _inner_line(f))
    assert "takes a derivative while it runs" in exc.reason
    assert "export that derivative apart, or write the function without it" in exc.reason


@pytest.mark.parametrize("f", [maml, maml_two_steps])
def test_the_cli_refuses_maml_at_the_inner_gradient(f, tmp_path, capsys):
    out = tmp_path / "d_maml.py"
    target = f"{__file__}:{f.__name__}"
    assert cli.main(["export", target, "--args", "full_args()", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{__file__}:{_inner_line(f)}" in err
    assert "takes a derivative while it runs" in err
    assert not out.exists()
