"""The whole derivative for review: ``sg.show`` / ``sourcegrad show`` print the vjps of the
helpers a derivative calls, show an array-valued function as its vjp, cite the user's
``file:line`` at higher order; ``sourcegrad diff`` compares two versions.

Golden files: ``tests/golden/*.callees.py`` (shown with callees) and ``*.export.py`` (an
export); SOURCEGRAD_UPDATE_GOLDEN=1 rewrites them, as for tests/test_golden.py.
"""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli

from . import export_cases as c
from . import golden_cases as gc
from .internals import DEFAULT_TIERS

GOLDEN = pathlib.Path(__file__).parent / "golden"
HERE = os.path.basename(c.__file__)


def check_golden(text: str, path: pathlib.Path) -> None:
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with SOURCEGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def test_show_prints_the_helper_vjp_after_the_derivative():
    text = sg.show(c.helper_loss, args=c.helper_args())
    main, callee = text.split("\n\n\n")
    assert main.startswith("def d_helper_loss(params, x):")
    assert "vjp_encode(params, x, g_out=dh)" in main
    line = c.encode.__code__.co_firstlineno
    assert callee.startswith(f"# vjp_encode: the vjp of encode, {HERE}:{line}\n")
    assert "def vjp_encode(params, x, *, g_out):" in callee
    assert callee.count("def ") == 1


def squash(h):
    return h / (1.0 + np.abs(h))


def nested_helpers_loss(params, x):
    return np.sum(squash(c.encode(params, x)) ** 2)


def test_a_helper_called_inside_a_helper_call_gets_a_line_of_its_own():
    """``squash(encode(...))``: the derivative calls ``vjp_squash`` then ``vjp_encode``, one
    line each (as one writes it by hand), not one call nested in the other's ``g_out=``."""
    main = sg.show(nested_helpers_loss, args=c.helper_args()).split("\n\n\n")[0]
    calls = [line for line in main.splitlines() if "vjp_" in line]
    assert len(calls) == 2, main
    assert all(line.count("vjp_") == 1 for line in calls), main
    assert re.search(r"^    (\w+) = (as_adjoint\()?vjp_squash\(", main, re.M), main


def test_without_arguments_the_rank_generic_callees_are_shown():
    text = sg.show(c.helper_loss)
    assert "def vjp_encode(params, x, *, g_out):" in text
    assert "unmatmul_right(" in text.split("def vjp_encode")[1]


def test_no_callees_prints_the_main_derivative_only():
    args = c.helper_args()
    only = sg.show(c.helper_loss, args=args, callees=False)
    assert only == sg.source(sg.grad(c.helper_loss), *args)
    assert "def vjp_encode" not in only
    assert sg.show(c.helper_loss, args=args).startswith(only)


@DEFAULT_TIERS
def test_each_signature_a_helper_is_called_with_is_shown():
    rng = np.random.default_rng(1)
    params = [
        {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)},
        {"W": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)},
    ]
    x = rng.standard_normal((5, 3))
    text = sg.show(c.two_layers, (0, 1), args=(params, x))
    assert text.count("def vjp_dense(") == 1, "the same source is shown once"
    assert f"the vjp of dense, {HERE}:" in text
    assert "(the same code serves its 2 argument shapes)" in text
    running = sg.show(c.two_layers, (0, 1), args=(params, x), optimized=True)
    shapes = re.findall(r"# vjp_dense: .*", running)
    assert running.count("def vjp_dense(") == len(shapes) >= 1


def test_the_derivatives_of_function_values_are_shown_too():
    x = np.arange(3.0)
    text = sg.show(c.calls_function_values, args=(x,))
    assert "# vjp_apply_tanh: the vjp of apply_tanh, tanh called as a function value" in text
    assert "# vjp_apply_sin: the vjp of apply_sin, sin called as a function value" in text
    text = sg.show(c.calls_a_lambda, args=(x,))
    line = c.calls_a_lambda.__code__.co_firstlineno + 1  # the line of the lambda itself
    assert f"# vjp_lambda_: the vjp of <lambda>, {HERE}:{line}\n" in text


def test_optimized_show_prints_the_running_callees():
    text = sg.show(c.helper_loss, args=c.helper_args(), optimized=True)
    callee = text.split("def vjp_encode")[1]
    assert "np.dot(" in callee and "build_gradient(" in callee


def test_an_array_valued_function_is_shown_as_its_vjp_and_says_so():
    text = sg.show(c.encode, args=c.helper_args())
    assert text.startswith("# encode returns an array, not a scalar: this is its vjp")
    assert "def vjp_encode(params, x, *, g_out):" in text


def test_second_order_comments_cite_the_users_file_and_line():
    text = sg.show(gc.rnn, order=2, args=gc.example_args("rnn"))
    assert not re.search(r"# line \d+:", text)
    cited = re.findall(r"# golden_cases\.py:(\d+): (.*)", text)
    lines = {int(n) for n, _ in cited}
    first = gc.rnn.__code__.co_firstlineno
    assert lines <= set(range(first + 1, first + 5)) and len(lines) >= 3
    source = pathlib.Path(gc.__file__).read_text().splitlines()
    for n, said in cited:
        assert said == source[int(n) - 1].strip()


def test_third_order_comments_cite_the_users_lines_too():
    text = sg.show(gc.newton_sqrt, order=3, args=(2.0,))
    assert text.startswith("def jvp_jvp_d_newton_sqrt(")
    assert not re.search(r"# line \d+:", text)
    assert "# golden_cases.py:57: x = 0.5 * (x + a / x)" in text
    compile(text, "<order3>", "exec")


@pytest.mark.parametrize("args", [True, False], ids=["specialised", "generic"])
def test_callee_printing_matches_golden(args):
    text = sg.show(c.helper_loss, args=c.helper_args() if args else None)
    check_golden(text, GOLDEN / f"helper_loss{'' if args else '.generic'}.callees.py")


def test_export_matches_golden():
    text = sg.export(c.helper_loss, *c.helper_args())
    text = text.replace(c.__file__, f"tests/{HERE}")
    check_golden(text, GOLDEN / "helper_loss.export.py")


# ---------------------------------------------------------------------------- the command line
def test_cli_show_prints_callees_unless_told_not_to(capsys):
    target = f"{c.__file__}:helper_loss"
    assert cli.main(["show", target, "--args", "helper_args()", "--color", "never"]) == 0
    assert "def vjp_encode(" in capsys.readouterr().out
    assert cli.main(["show", target, "--args", "helper_args()", "--no-callees"]) == 0
    assert "def vjp_encode(" not in capsys.readouterr().out


MODEL = """import numpy as np


def act(z):
    return {act}


def loss(w, x):
    return np.sum(act(x @ w) ** 2)


def example():
    return np.ones(3), np.arange(6.0).reshape(2, 3)
"""


def test_cli_diff_prints_how_the_derivative_changed(tmp_path, capsys):
    old, new = tmp_path / "old" / "model.py", tmp_path / "new" / "model.py"
    old.parent.mkdir()
    new.parent.mkdir()
    old.write_text(MODEL.format(act="np.tanh(z)"))
    new.write_text(MODEL.format(act="np.sin(z)"))
    argv = ["diff", str(old), f"{new}:loss", "--args", "example()", "--color", "never"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"--- {old}:loss\n+++ {new}:loss\n")
    changed = [line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
    assert any("np.cos(" in line for line in changed if line.startswith("+"))
    assert not any("model.py:" in line for line in changed)  # the same file name in both
    assert cli.main(["diff", str(new), f"{new}:loss", "--args", "example()"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_help_documents_callees_diff_and_export(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "sourcegrad diff" in text and "sourcegrad export" in text
    with pytest.raises(SystemExit):
        cli.main(["show", "--help"])
    assert "--no-callees" in capsys.readouterr().out


def test_cli_show_dot_prints_the_graph_with_shapes(capsys):
    target = f"{c.__file__}:helper_loss"
    assert cli.main(["show", target, "--args", "helper_args()", "--dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "d_helper_loss"')
    assert "cluster_forward" in out and "float64" in out
