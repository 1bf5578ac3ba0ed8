"""Golden files hold the emitted source of the examples.

Shown code (``name.py``, ``.generic``, ``.forward``, ``.order2``) and the running, optimized
code (``.running``). To accept a deliberate change: SOURCEGRAD_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
and read the diff (git diff tests/golden) before committing.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sourcegrad as sg

from . import golden_cases as cases

GOLDEN = Path(__file__).parent / "golden"
NAMES = [
    "neural_net",
    "softmax_cross_entropy",
    "method_forms",
    "indexing",
    "nested",
    "rnn",
    "newton_sqrt",
    "branchy",
    "assign_rows",
]


def _render(name: str, specialised: bool) -> str:
    fn = getattr(cases, name)
    df = sg.grad(fn)
    args = cases.example_args(name) if specialised else ()
    return sg.source(df, *args)


@pytest.mark.parametrize("specialised", [True, False], ids=["specialised", "generic"])
@pytest.mark.parametrize("name", NAMES)
def test_emitted_source_matches_golden(name, specialised):
    text = _render(name, specialised)
    path = GOLDEN / f"{name}{'' if specialised else '.generic'}.py"
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with SOURCEGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def _check_golden(text: str, path: Path):
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with SOURCEGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_source_matches_golden(name):
    fn = getattr(cases, name)
    text = sg.show(fn, mode="forward", args=cases.example_args(name))
    _check_golden(text, GOLDEN / f"{name}.forward.py")


ORDER2 = ["neural_net", "rnn", "newton_sqrt", "branchy", "assign_rows"]


@pytest.mark.parametrize("name", ORDER2)
def test_second_order_source_matches_golden(name):
    fn = getattr(cases, name)
    text = sg.show(fn, order=2, args=cases.example_args(name))
    _check_golden(text, GOLDEN / f"{name}.order2.py")


@pytest.mark.parametrize("name", NAMES)
def test_running_source_matches_golden(name):
    """The optimized code that runs (from the second call on) is reviewed too."""
    fn = getattr(cases, name)
    text = sg.show(fn, args=cases.example_args(name), optimized=True)
    _check_golden(text, GOLDEN / f"{name}.running.py")


@pytest.mark.parametrize("name", NAMES)
def test_golden_derivatives_are_correct(name):
    fn = getattr(cases, name)
    assert sg.gradcheck(fn, *cases.example_args(name), order=2)


def test_output_is_byte_identical_across_processes():
    code = (
        "import sourcegrad as sg; from tests import golden_cases as c; "
        "print(sg.source(sg.grad(c.neural_net), *c.example_args('neural_net')))"
    )
    root = Path(__file__).parent.parent
    runs = [
        subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stdout.strip() == _render("neural_net", True).strip()
