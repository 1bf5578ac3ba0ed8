"""``sg.export`` / ``sourcegrad export``: a derivative as a standalone module.

The exports of the seed MLP, an LSTM and Newton's ``while`` loop run in a Python that cannot
import sourcegrad (``python -I -S`` with a path holding only the export and NumPy) and give
``sg.value_and_grad``'s numbers bit for bit.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import pathlib
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import black
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli
from sourcegrad.export import is_stale, source_digest
from sourcegrad.export_source import Namespace, literal
from sourcegrad.higher import tower
from sourcegrad.runtime.trees import Pieces

from . import export_cases as c
from . import golden_cases as gc
from .isolated import NUMPY_SITE, run_code

ROOT = pathlib.Path(__file__).resolve().parent.parent

#: run in the isolated interpreter: the export's d_NAME on the pickled arguments, three times
#: (its buffers are reused from the second call on), the last result pickled back
_CHILD = """
import pickle, sys
sys.path[:0] = [{here!r}, {numpy_site!r}]
try:
    import sourcegrad
    found = True
except ImportError:
    found = False
import exported
with open("args.pkl", "rb") as f:
    args = pickle.load(f)
for _ in range(3):
    out = exported.{name}(*args)
with open("out.pkl", "wb") as f:
    pickle.dump((found, sorted(sys.modules), out), f)
"""


def load(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_isolated(tmp_path: pathlib.Path, text: str, name: str, args: tuple):
    """``d_NAME(*args)`` of the export ``text``, run by ``python -I -S`` in ``tmp_path``; each
    function and class of the module defined once (a second ``def`` of a name would take the
    first one's place)."""
    defined = _TOP_LEVEL_DEFINITION.findall(text)
    assert len(defined) == len(set(defined)), sorted(n for n in defined if defined.count(n) > 1)
    (tmp_path / "exported.py").write_text(text)
    with open(tmp_path / "args.pkl", "wb") as f:
        pickle.dump(args, f)
    done = run_code(tmp_path, _CHILD.format(here=str(tmp_path), numpy_site=NUMPY_SITE, name=name))
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out.pkl", "rb") as f:
        found, modules, out = pickle.load(f)
    assert not found, "sourcegrad was importable in the isolated interpreter"
    assert not any(m == "sourcegrad" or m.startswith("sourcegrad.") for m in modules)
    return out


#: a function or class statement of a black-formatted module's top level: its name
_TOP_LEVEL_DEFINITION = re.compile(r"^(?:async def|def|class) (\w+)", re.MULTILINE)


def same(a, b) -> bool:
    """Bit for bit: the same structure, types, dtypes and values (dataclass fields too)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        fields = [f.name for f in dataclasses.fields(a)]
        return type(a) is type(b) and all(same(getattr(a, n), getattr(b, n)) for n in fields)
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, np.ndarray):
        return type(b) is np.ndarray and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def steady(df, *args):
    """What ``df`` returns once it runs its final build (from the second call on)."""
    for _ in range(3):
        out = df(*args)
    return out


def seed_mlp():
    example = load(ROOT / "examples" / "mlp.py", "sourcegrad_example_mlp")
    return example.neural_net, example.example_args()


def newton_cg_loss():
    example = load(ROOT / "examples" / "newton_cg.py", "sourcegrad_example_newton_cg")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 6))
    y = (rng.standard_normal(40) > 0).astype(float)
    return example.loss, (rng.standard_normal(7) * 0.1, x, y, 1e-2)


CASES = {
    "seed_mlp": seed_mlp,
    "lstm": lambda: (c.lstm_loss, c.lstm_args()),
    "newton_while": lambda: (gc.newton_sqrt, (2.0,)),
    "newton_while_float64": lambda: (gc.newton_sqrt, (np.float64(2.0),)),
    "newton_while_0d": lambda: (gc.newton_sqrt, (np.array(2.0),)),
    "newton_cg": newton_cg_loss,
    "helper": lambda: (c.helper_loss, c.helper_args()),
    "an object of the user's class in a global": lambda: (c.reads_an_object, (np.arange(3.0),)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_export_runs_without_sourcegrad_and_matches_bit_for_bit(case, tmp_path):
    f, args = CASES[case]()
    text = sg.export(f, *args)
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", args)
    want = steady(sg.value_and_grad(f), *args)
    assert same(got, want), (got, want)


def test_export_of_a_tuple_wrt_and_of_several_helpers(tmp_path):
    rng = np.random.default_rng(1)
    params = [
        {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)},
        {"W": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)},
    ]
    x = rng.standard_normal((5, 3))
    text = sg.export(c.two_layers, params, x, wrt=(0, 1))
    got = run_isolated(tmp_path, text, "d_two_layers", (params, x))
    assert same(got, steady(sg.value_and_grad(c.two_layers, (0, 1)), params, x))
    text = sg.export(c.two_layers, params, x, wrt=(1,))
    got = run_isolated(tmp_path, text, "d_two_layers", (params, x))
    assert same(got, steady(sg.value_and_grad(c.two_layers, (1,)), params, x))


@pytest.mark.parametrize("case", ["helper", "lstm"])
def test_forward_mode_export_matches_jvp(case, tmp_path):
    f, args = CASES[case]()
    rng = np.random.default_rng(2)
    tangent = {k: rng.standard_normal(v.shape) for k, v in args[0].items()}
    text = sg.export(f, *args, mode="forward")
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, tangent))
    assert same(got, steady(sg.jvp(f), *args, tangent))


def _like(x, rng):
    """Random values of ``x``'s structure and shapes."""
    if isinstance(x, dict):
        return {k: _like(v, rng) for k, v in x.items()}
    if isinstance(x, list):
        return [_like(v, rng) for v in x]
    if isinstance(x, float):
        return 0.75
    return rng.standard_normal(x.shape)


@pytest.mark.parametrize("case", ["seed_mlp", "lstm", "newton_while", "newton_cg"])
def test_second_order_export_matches_hvp(case, tmp_path):
    f, args = CASES[case]()
    rng = np.random.default_rng(4)
    x = args[0]
    v = _like(x, rng)
    text = sg.export(f, *args, order=2)
    assert "sourcegrad.hvp(" in text.split("from __future__")[0]
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, v))
    want = sg.hvp(f)(*args, v)
    for _ in range(2):
        want = sg.hvp(f)(*args, v)
    assert same(got, want), (got, want)


@pytest.mark.parametrize("case", ["seed_mlp", "newton_while", "lstm"])
@pytest.mark.parametrize("order", [3, 4])
def test_higher_order_export_matches_the_tower_bit_for_bit(case, order, tmp_path):
    """Order N: forward mode N - 1 times over the gradient, all along v, as sourcegrad runs
    it in process (:class:`sourcegrad.higher.Tower`)."""
    f, args = CASES[case]()
    v = _like(args[0], np.random.default_rng(5))
    text = sg.export(f, *args, order=order)
    assert f"derivative of order {order}" in text.split("from __future__")[0]
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, v))
    levels = tower(f, (), [0] * (order - 1), (0,))
    for _ in range(3):
        want = levels.evaluate(args, (v,) * (order - 1))
    assert same(got, want), (got, want)
    if order == 3:  # and it is the third derivative: the hvp's derivative along v
        hv, e = sg.hvp(f), 1e-4
        plus, minus = _shifted(args, v, e), _shifted(args, v, -e)
        fd = _tree_map(lambda a, b: (a - b) / (2 * e), hv(*plus, v), hv(*minus, v))
        _tree_map(lambda a, b: _close(a, b, 1e-4), got, fd)


def _close(a, b, tol):
    """``a`` within ``tol`` of ``b`` relative to ``b``'s norm (central differences of a
    Hessian-vector product lose digits where its entries are small)."""
    err = np.linalg.norm(np.ravel(np.asarray(a) - np.asarray(b)))
    assert err <= tol * max(np.linalg.norm(np.ravel(b)), 1.0), (a, b)


def _shifted(args, v, e):
    return (_tree_map(lambda a, b: a + e * b, args[0], v), *args[1:])


def _tree_map(fn, a, b):
    if isinstance(a, dict):
        return {k: _tree_map(fn, a[k], b[k]) for k in a}
    if isinstance(a, (list, tuple)):
        return type(a)(_tree_map(fn, x, y) for x, y in zip(a, b))
    return fn(a, b)


def test_export_is_black_formatted_ruff_clean_and_imports_only_numpy(tmp_path):
    f, args = c.lstm_loss, c.lstm_args()
    text = sg.export(f, *args)
    assert black.format_str(text, mode=black.Mode(line_length=100)) == text
    imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
    for line in imports:
        top = line.split()[1].split(".")[0]
        assert top in ("__future__", "numpy") or top in sys.stdlib_module_names, line
    assert "sourcegrad" not in "\n".join(imports)
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


def test_export_header_says_what_where_which_signature_version_and_digest():
    params, x = c.helper_args()
    text = sg.export(c.helper_loss, params, x)
    header = text.split("from __future__")[0]
    assert "helper_loss" in header and c.__file__ in header
    assert "params: {W: float64[3, 4], b: float64[4]}" in header
    assert "x: float64[5, 3]" in header
    assert f"sourcegrad {sg.__version__}" in header
    assert source_digest([c.helper_loss, c.encode]) in header
    assert '__all__ = ["d_helper_loss"]' in text


def test_is_stale_tells_an_export_made_from_other_source(tmp_path):
    module = tmp_path / "model.py"
    module.write_text("import numpy as np\n\n\ndef loss(x):\n    return np.sum(x**2)\n")
    first = load(module, "sourcegrad_stale_first")
    x = np.arange(3.0)
    out = tmp_path / "d_loss.py"
    sg.export(first.loss, x, path=str(out))
    assert not is_stale(out, first.loss)
    assert not is_stale(out.read_text(), first.loss)
    module.write_text("import numpy as np\n\n\ndef loss(x):\n    return np.sum(x**3)\n")
    second = load(module, "sourcegrad_stale_second")
    assert is_stale(out, second.loss)
    assert is_stale("no header here\n", first.loss)


@pytest.mark.parametrize(
    "f, needle",
    [
        (c.reads_a_local_object, "LOCAL"),
        (c.reads_a_local_object, "defined inside a function"),
        (c.reads_a_local_object, "pass it as an argument"),
    ],
)
def test_what_cannot_be_exported_is_refused_by_name(f, needle):
    with pytest.raises(sg.SourcegradError, match=needle.replace(".", r"\.")):
        sg.export(f, np.arange(3.0))


def test_export_options_are_checked():
    with pytest.raises(sg.SourcegradError, match="mode"):
        sg.export(c.helper_loss, *c.helper_args(), mode="sideways")
    with pytest.raises(sg.SourcegradError, match="order"):
        sg.export(c.helper_loss, *c.helper_args(), order=0)
    for order in (2, 3):  # a helper's derivative at every order: tests/test_export_values.py
        assert "DERIVATIVE_JVPS[(vjp_encode, (0, 2))]" in sg.export(
            c.helper_loss, *c.helper_args(), order=order
        )
    with pytest.raises(sg.SourcegradError, match="order"):
        sg.export(c.helper_loss, *c.helper_args(), order=2, mode="forward")


def test_cli_export_writes_the_module(tmp_path, capsys):
    out = tmp_path / "d_helper.py"
    target = f"{c.__file__}:helper_loss"
    assert cli.main(["export", target, "--args", "helper_args()", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    params, x = c.helper_args()
    assert out.read_text() == sg.export(c.helper_loss, params, x)
    assert cli.main(["export", target, "--args", "helper_args()"]) == 0
    assert capsys.readouterr().out == out.read_text()
    with pytest.raises(SystemExit):  # --args is required
        cli.main(["export", target])


def _ran(command: list, what: str, timeout: float) -> None:
    """Runs ``command``; a skip saying why where it fails or takes over ``timeout`` s."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{what} took over {timeout:.0f} s (no package index reachable?)")
    if done.returncode != 0:
        pytest.skip(f"{what} failed here: {(done.stderr or done.stdout).strip()[-300:]}")


def test_export_runs_in_a_fresh_venv_with_only_numpy(tmp_path):
    """A venv made by ``python -m venv`` with NumPy installed by pip from the index (the
    NumPy a user gets, not this one); skipped, saying why, where there is no ``venv`` or no
    index. The venv is made without pip and this pip installs into it (``--python``): the
    same venv holding only NumPy, without ensurepip's copy of pip (20 s of a loaded test
    machine's wall time), where pip can (22.3 on)."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    quiet = ["-q", "--disable-pip-version-check"]
    if _pip_targets_another_python():
        _ran([sys.executable, "-m", "venv", "--without-pip", str(venv)], "python -m venv", 60)
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
        _ran([*pip, "install", *quiet, "numpy"], "pip install numpy", 120)
    else:
        _ran([sys.executable, "-m", "venv", str(venv)], "python -m venv (with ensurepip)", 60)
        _ran([str(python), "-m", "pip", "install", *quiet, "numpy"], "pip install numpy", 120)
    _export_runs_in(python, tmp_path)


def _pip_targets_another_python() -> bool:
    """This environment's pip installs into another interpreter's site-packages
    (``pip --python``, pip 22.3 on)."""
    try:
        version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return False
    return tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) >= (22, 3)


def _venv_with_numpy(venv: pathlib.Path) -> pathlib.Path:
    """A new venv (no pip, no ``.pth``) whose site-packages links only this NumPy; its
    python, or a skip saying why one cannot be made here."""
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"this Python cannot make a venv: {made.stderr.strip()[-300:]}")
    (site,) = venv.glob("lib/python*/site-packages")
    here = pathlib.Path(NUMPY_SITE)
    for entry in here.iterdir():
        if entry.name == "numpy" or entry.name.startswith(("numpy.libs", "numpy-")):
            (site / entry.name).symlink_to(entry)
    return venv / "bin" / "python"


def _export_runs_in(python: pathlib.Path, tmp_path: pathlib.Path, case: str = "seed_mlp") -> None:
    """The export of ``CASES[case]`` (the seed MLP's), run by ``python`` (a venv's, without
    sourcegrad's path), gives ``sg.value_and_grad``'s numbers bit for bit, and sourcegrad,
    gast and black cannot be found there."""
    f, args = CASES[case]()
    (tmp_path / "exported.py").write_text(sg.export(f, *args))
    with open(tmp_path / "args.pkl", "wb") as file:
        pickle.dump(args, file)
    name = f.__name__
    code = textwrap.dedent(f"""
        import importlib.util, pickle, sys, exported
        args = pickle.load(open("args.pkl", "rb"))
        for _ in range(3):
            out = exported.d_{name}(*args)
        found = [m for m in ("sourcegrad", "gast", "black") if importlib.util.find_spec(m)]
        pickle.dump((found, sys.prefix != sys.base_prefix, out), open("out.pkl", "wb"))
        """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, check=True)
    with open(tmp_path / "out.pkl", "rb") as file:
        found, in_venv, got = pickle.load(file)
    assert in_venv and not found  # a venv where sourcegrad and its tools cannot be imported
    assert same(got, steady(sg.value_and_grad(f), *args))


@pytest.mark.parametrize("case", ["seed_mlp", "lstm", "newton_while"])
def test_export_runs_in_a_new_venv_holding_only_numpy(case, tmp_path):
    """A venv without pip whose site-packages links this NumPy only: runs everywhere a venv
    can be made, in about a second (issue 17: the seed MLP, the LSTM, Newton's while loop)."""
    _export_runs_in(_venv_with_numpy(tmp_path / "venv"), tmp_path, case)


def test_a_runtime_class_a_global_names_is_copied_with_what_it_reads():
    ns = Namespace()
    ns.bind("Pieces", Pieces, "test")
    text = "".join(ns.blocks)
    assert "class Pieces(tuple):" in text and "def add_adjoints(" in text
    assert "@helper" not in text


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        float("nan"),
        -float("inf"),
        np.float32(0.1),
        np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        {"a": (1, 2.5), "b": [np.int64(3), None, "s"]},
        complex(1.0, -2.0),
    ],
)
def test_literals_read_back_bit_for_bit(value):
    back = eval(literal(value, "value"), {"np": np})  # noqa: S307 - our own literal
    assert type(back) is type(value)
    if isinstance(value, dict):
        assert literal(back, "") == literal(value, "")
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value or (back != back and value != value)
