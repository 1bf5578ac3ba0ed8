"""Exports of losses built with sourcegrad's library (issue 17, item 2): an MLP written with
``nn.functional`` (relu, softmax, log_softmax, cross_entropy), a loss over ``sg.nn`` layer
objects (Linear, Conv2d with pooling, LayerNorm, Dropout in eval mode), the library's LSTM
(``nn.functional.lstm`` and an ``sg.model`` recurrent network) and an ``sg.model``
feed-forward network. Each module copies the library functions, methods and classes its
derivative reaches as plain NumPy source, runs by ``python -I -S`` with only NumPy, and gives
``sg.value_and_grad``'s numbers bit for bit (``sg.hvp``'s at order 2 where the library
function has second derivatives); each gradient is checked against central differences, first
and later calls. What cannot be exported (a forward rule that runs sourcegrad's jvp, a PyTorch
bridge) is refused, naming the library function and the way out."""

import os
import pickle
import shutil
import subprocess
import sys

import black
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn
from sourcegrad.export_library import LibraryNamespace
from sourcegrad.nn import torch_bridge

from . import export_nn_cases as n
from . import test_export_library_cases as c
from .fd import numerical_grad
from .isolated import NUMPY_SITE, run_code
from .test_export import load, run_isolated, same, steady
from .test_show_callees import GOLDEN, check_golden

CASES = c.CASES


#: where the library's rule takes a derivative with sourcegrad while it runs (the forward
#: rules of the LSTM and of a Sequential run sourcegrad's jvp over their reference code), the
#: export is refused, naming the library function and the way out
REFUSED = {
    ("nn.functional.lstm", "forward"): "lstm_jvp",
    ("an sg.model LSTM network", "forward"): "lstm_jvp",
    ("nn.functional.lstm", "order 2"): "lstm_",
    ("an sg.model LSTM network", "order 2"): "lstm_",
    ("an sg.nn Sequential and a criterion held in globals", "forward"): "chain_jvp",
    ("an sg.nn Sequential and a criterion held in globals", "order 2"): "chain_",
}


def _export(f, args, mode, t):
    if mode == "reverse":
        return sg.export(f, *args), (), sg.value_and_grad(f)
    if mode == "forward":
        return sg.export(f, *args, mode="forward"), (t,), sg.jvp(f)
    return sg.export(f, *args, order=2), (t,), sg.hvp(f)


def _tangent(x, rng):
    if isinstance(x, dict):
        return {k: _tangent(v, rng) for k, v in x.items()}
    if isinstance(x, list):
        return [_tangent(v, rng) for v in x]
    return rng.standard_normal(np.shape(x))


@pytest.mark.parametrize("mode", ["reverse", "forward", "order 2"])
@pytest.mark.parametrize("case", list(CASES))
def test_library_losses_export_bit_for_bit(case, mode, tmp_path):
    """The module runs without sourcegrad (``python -I -S``, only NumPy on the path) and
    gives ``value_and_grad``'s, ``jvp``'s or ``hvp``'s numbers bit for bit."""
    f, make = CASES[case]
    args = make()
    t = _tangent(args[0], np.random.default_rng(3))
    if (case, mode) in REFUSED:
        with pytest.raises(sg.SourcegradError, match="takes a derivative with sourcegrad") as e:
            _export(f, args, mode, t)
        assert REFUSED[case, mode] in str(e.value) and "sourcegrad.api.jvp" in str(e.value)
        assert "mode='reverse', order=1" in str(e.value)
        assert "grad of the loss in the loss" not in str(e.value)
        assert e.value.filename == f.__code__.co_filename
        return
    text, extra, ref = _export(f, args, mode, t)
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, *extra))
    want = steady(ref, *args, *extra)
    assert same(got, want), (got, want)


def _leaves(tree) -> list:
    if isinstance(tree, dict):
        return [a for v in tree.values() for a in _leaves(v)]
    if isinstance(tree, list):
        return [a for v in tree for a in _leaves(v)]
    return [tree]


@pytest.mark.parametrize("case", list(CASES))
def test_library_losses_gradients_are_right_on_first_and_later_calls(case):
    """What the exports compute is right: central differences of every parameter array,
    against the first call's gradient and a later call's (the optimized build)."""
    f, make = CASES[case]
    args = make()
    df = sg.grad(f)
    firsts = [df(*args) for _ in range(3)]
    for k, a in enumerate(_leaves(args[0])):

        def along(v, a=a):
            old = a.copy()
            a[...] = v
            try:
                return f(*args)
            finally:
                a[...] = old

        want = numerical_grad(along, (a.copy(),), 0)
        for got in (firsts[0], firsts[-1]):
            np.testing.assert_allclose(_leaves(got)[k], want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", list(CASES))
def test_library_exports_are_black_formatted_ruff_clean_and_import_only_numpy(case, tmp_path):
    f, make = CASES[case]
    text = sg.export(f, *make())
    assert black.format_str(text, mode=black.Mode(line_length=100)) == text
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    for line in imports:
        top = line.split()[1].split(".")[0]
        assert top in ("__future__", "numpy") or top in sys.stdlib_module_names, line
    assert "array_module" not in text and "xp." not in text  # NumPy, written as np
    ruff = shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))
    if ruff is None:
        pytest.skip("ruff is not installed")
    path = tmp_path / "exported.py"
    path.write_text(text)
    done = subprocess.run(
        [ruff, "check", "--isolated", "--select", "E,F,W,I", "--ignore", "E501", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


def test_the_nn_functional_mlp_export_matches_golden():
    """The module of the ``nn.functional`` MLP: the derivative, then the library functions it
    calls (``relu``, ``cross_entropy``, ``nll_loss_grad``, ``softmax``...) as NumPy source, and
    ``F`` as a namespace of the two the loss reads (``tests/golden/mlp_functional.export.py``)."""
    text = sg.export(c.mlp_loss, *c.mlp_args())
    text = text.replace(c.__file__, "tests/test_export_library_cases.py")
    check_golden(text, GOLDEN / "mlp_functional.export.py")


def test_only_the_methods_that_ran_are_copied():
    """A layer class is copied with the methods the derivative ran (and ``__init__``), not its
    ``backward``, which takes a derivative with sourcegrad."""
    text = sg.export(n.nn_loss, *n.nn_args())
    assert "class Linear(Module):" in text and "def __init__(self, in_features" in text
    assert "def backward(" not in text and "def train(" not in text


def test_a_torch_bridge_is_refused_naming_it_and_the_way_out():
    """The PyTorch bridge runs torch, which an export cannot import."""
    with pytest.raises(sg.SourcegradError) as e:
        LibraryNamespace().library_object(torch_bridge.torch_call, "the loss")
    message = str(e.value)
    assert "sourcegrad.nn.torch_bridge.torch_call" in message and "PyTorch" in message
    assert "NumPy layers" in message and "grad of the loss in the loss" not in message


#: run in the isolated interpreter: the export's d_NAME with a layer made by the export's own
#: class in place of the marker "LAYER" in the pickled arguments
_CHILD_WITH_LAYER = """
import pickle, sys
sys.path[:0] = [{here!r}, {numpy_site!r}]
import exported
with open("args.pkl", "rb") as f:
    args = pickle.load(f)
layer = exported.{cls}
args = tuple(layer if isinstance(a, str) else a for a in args)
for _ in range(3):
    out = exported.{name}(*args)
with open("out.pkl", "wb") as f:
    pickle.dump((sorted(sys.modules), out), f)
"""


def layer_argument_loss(params, layer, x, y):
    return np.mean((np.tanh(layer(params, x)) - y) ** 2)


def test_a_layer_passed_as_an_argument_is_made_with_the_exports_class(tmp_path):
    """A layer object passed in (not held in a global): the export holds its class, whose
    objects (``exported.Linear(3, 2)``) its derivative runs with, bit for bit; objects of
    sourcegrad's own class work too."""
    rng = np.random.default_rng(1)
    lin = nn.Linear(3, 2)
    args = (lin.init(rng), lin, rng.standard_normal((4, 3)), rng.standard_normal((4, 2)))
    text = sg.export(layer_argument_loss, *args)
    (tmp_path / "exported.py").write_text(text)
    with open(tmp_path / "args.pkl", "wb") as f:
        pickle.dump((args[0], "LAYER", *args[2:]), f)
    code = _CHILD_WITH_LAYER.format(
        here=str(tmp_path),
        numpy_site=NUMPY_SITE,
        cls="Linear(3, 2)",
        name="d_" + "layer_argument_loss",
    )
    done = run_code(tmp_path, code)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out.pkl", "rb") as f:
        modules, got = pickle.load(f)
    assert not any(m == "sourcegrad" or m.startswith("sourcegrad.") for m in modules)
    want = steady(sg.value_and_grad(layer_argument_loss), *args)
    assert same(got, want), (got, want)
    exported = load(tmp_path / "exported.py", "sourcegrad_test_exported_layer")
    assert same(steady(exported.d_layer_argument_loss, *args), want)
