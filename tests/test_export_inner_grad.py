"""A loss that takes a gradient inside (MAML's inner step, once and twice in a loop) exports in
reverse mode: the module binds ``sg`` to a stand-in handing out the exported inner gradient,
whose vjp (a Hessian-vector product) the export's ``vjp_of`` finds; run by ``python -I -S``
with only NumPy it gives ``sg.value_and_grad``'s numbers bit for bit.

Forward mode, order 2 and order 3 over the inner gradient, a gradient made before the function
runs, and what is refused (at the line that reads ``sg``): tests/test_export_inner_modes.py."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli
from tests.fd import numerical_grad
from tests.test_export import run_isolated, same, steady
from tests.test_show_callees import GOLDEN, check_golden


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


def maml_tuple_wrt(p, xs, ys, xq, yq):
    (g,) = sg.grad(mse, wrt=(0,))(p, xs, ys)
    adapted = {k: p[k] - 0.1 * g[k] for k in p}
    return mse(adapted, xq, yq)


def maml_args():
    r = np.random.default_rng(0)
    p = {"w": r.normal(size=(3, 2)), "b": r.normal(size=2)}
    return (p, r.normal(size=(5, 3)), r.normal(size=(5, 2)), r.normal(size=(4, 3)))


def full_args():
    return maml_args() + (np.random.default_rng(1).normal(size=(4, 2)),)


@pytest.mark.parametrize("f", [maml, maml_two_steps, maml_tuple_wrt])
def test_maml_differentiates_in_process_on_first_and_later_calls(f):
    """The in-process derivative the export is compared with is right, from the first call
    and from the optimized build on (a tuple ``wrt``: the inner gradient a tuple of one)."""
    args = full_args()
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, grads = df(*args)
        assert value == f(*args)
        for k in args[0]:
            of_k = lambda pk, k=k: f({**args[0], k: pk}, *args[1:])  # noqa: E731
            expected = numerical_grad(of_k, (args[0][k],), 0)
            np.testing.assert_allclose(grads[k], expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [maml, maml_two_steps, maml_tuple_wrt])
def test_maml_exports_and_runs_alone_bit_for_bit(f, tmp_path):
    args = full_args()
    text = sg.export(f, *args)
    assert "import sourcegrad" not in text and "sg = Gradients()" in text
    assert same(
        run_isolated(tmp_path, text, f"d_{f.__name__}", args), steady(sg.value_and_grad(f), *args)
    )


def test_the_cli_exports_maml_two_steps(tmp_path):
    out = tmp_path / "d_maml.py"
    target = f"{__file__}:maml_two_steps"
    assert cli.main(["export", target, "--args", "full_args()", "-o", str(out)]) == 0
    args = full_args()
    assert out.read_text() == sg.export(maml_two_steps, *args)
    alone = run_isolated(tmp_path, out.read_text(), "d_maml_two_steps", args)
    assert same(alone, steady(sg.value_and_grad(maml_two_steps), *args))


def test_the_maml_export_matches_golden(monkeypatch):
    """The inner gradient, its vjp (forward mode over it) and the stand-in for ``sg``
    (``tests/golden/maml.export.py``), as the default tiers build them (buffers of the call's
    shapes; SOURCEGRAD_SPECIALISE_AFTER=1 would free every length)."""
    monkeypatch.setattr("sourcegrad.derivative.SPECIALISE_AFTER", 2)
    monkeypatch.setattr("sourcegrad.derivative_cache.SYMBOLIC_FIRST", False)
    text = sg.export(maml, *full_args()).replace(__file__, "tests/test_export_inner_grad.py")
    check_golden(text, GOLDEN / "maml.export.py")
