"""Builds that call the derivative of one of the user's functions kept on disk (issue 17 item
4): a loss calling a helper, a helper calling a helper, a method of a layer object, an
``sg.model`` network. A later process's first call runs the optimized build read from disk,
with no transformation (of the loss nor of its callees), and gives the earlier process's
numbers bit for bit. The callee's derivative is made again from its recipe (its function found
by module and name, its source checked); an edited helper or a corrupt entry is built again,
never trusted."""

import functools
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import disk_cache, kept
from sourcegrad.util import tree_leaves

ROOT = Path(__file__).resolve().parents[1]

#: one process: ``name calls out folder``; prints, per call, the builds made (the function
#: transformed, True where specialised to shapes) and whether the loss's build that ran was
#: the optimized one; saves each call's value and gradient leaves
PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sourcegrad as sg
    from sourcegrad.derivative import Transformed
    from sourcegrad.pipeline import Pipeline
    from sourcegrad.util import tree_leaves
    sys.path.insert(0, sys.argv[4])
    import models

    made, ran = [], []
    build, entry_of = Pipeline._build, Transformed._entry
    Pipeline._build = lambda self, *a: made.append([self.fn.__qualname__, bool(a[1])]) or build(
        self, *a
    )
    def entry(self, *a):
        got = entry_of(self, *a)
        if self.f.__name__.startswith("loss"):
            ran.append(got)
        return got
    Transformed._entry = entry
    name, calls, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    args = models.example_args(name)
    df = sg.value_and_grad(getattr(models, name))
    report, saved = [], {}
    for i in range(calls):
        made.clear()
        value, grads = df(*args)
        optimized = ran[-1].pure is not None and not ran[-1].provisional
        report.append([made[:], optimized])
        saved[f"value{i}"] = np.asarray(value)
        for k, leaf in enumerate(tree_leaves(grads)):
            saved[f"grad{i}_{k}"] = np.asarray(leaf)
    np.savez(out, **saved)
    print(json.dumps(report))
    """)

HELPERS = """
import numpy as np


def dense(p, x):
    return np.tanh(x @ p["W"] + p["b"])
"""

MODELS = """
import numpy as np

from sourcegrad import model, nn
from helpers import dense


def loss_helper(params, x):
    h = dense(params["l1"], x)
    h = dense(params["l2"], h)
    return np.sum(h * h)


def inner(p, x):
    return dense(p, x) * 2.0


def loss_nested(params, x):
    return np.sum(inner(params["l1"], x) ** 2)


class Layer:
    def __init__(self, scale):
        self.scale = scale

    def forward(self, p, x):
        return np.tanh(x @ p["W"] + p["b"]) * self.scale


LAYER = Layer(0.5)


def loss_method(params, x):
    return np.sum(LAYER.forward(params["l1"], x) ** 2)


LSTM, _ = model.RecurrentLSTMNetwork(3, 4)


def loss_lstm(params, xs):
    return np.sum(LSTM(params, xs) ** 2)


HEAD = nn.Linear(4, 3)
CRITERION = nn.CrossEntropyLoss()


def loss_model(params, xs, labels):
    return CRITERION(HEAD(params["head"], LSTM(params["lstm"], xs)), labels)


def loss_widths(params, x):
    h = dense(params["l1"], x)
    h = dense(params["l2"], h)  # the vjp along p and h at two shapes of the same ranks
    return np.sum(dense(params["l3"], h) ** 2)


def example_args(name):
    rng = np.random.default_rng(0)
    if name == "loss_lstm":
        return LSTM.init(np.random.default_rng(1)), rng.normal(size=(6, 2, 3))
    if name == "loss_model":
        params = {"lstm": LSTM.init(rng), "head": HEAD.init(rng)}
        return params, rng.normal(size=(6, 2, 3)), np.array([0, 2])
    if name == "loss_widths":
        layers = {
            "l1": {"W": rng.normal(size=(3, 4)) * 0.7, "b": rng.normal(size=4) * 0.1},
            "l2": {"W": rng.normal(size=(4, 5)) * 0.7, "b": rng.normal(size=5) * 0.1},
            "l3": {"W": rng.normal(size=(5, 2)) * 0.7, "b": rng.normal(size=2) * 0.1},
        }
        return layers, rng.normal(size=(5, 3))
    layers = {
        k: {"W": rng.normal(size=(3, 3)) * 0.7, "b": rng.normal(size=3) * 0.1}
        for k in ("l1", "l2")
    }
    return layers, rng.normal(size=(5, 3))
"""

#: a helper (twice), a helper calling a helper, a layer object's method, an sg.model LSTM,
#: the LSTM with a linear head and cross entropy (a backend's array module), a helper called
#: with two shapes of the same ranks (its build optimized for its ranks kept too)
NAMES = ("loss_helper", "loss_nested", "loss_method", "loss_lstm", "loss_model", "loss_widths")


@pytest.fixture
def user(tmp_path):
    """A folder holding the user's modules ``helpers`` and ``models``."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    (folder / "models.py").write_text(MODELS)
    return folder


def _process(tmp_path, folder, name, calls, tag, cache="cache"):
    """Run :data:`PROCESS` in a new Python: its report, and its numbers."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / cache))
    env.pop("SOURCEGRAD_SPECIALISE_AFTER", None)
    env.pop("SOURCEGRAD_SYMBOLIC_SHAPES", None)
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    out = tmp_path / f"{tag}.npz"
    done = subprocess.run(
        [sys.executable, str(script), name, str(calls), str(out), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), dict(np.load(out))


def _call(numbers, i):
    """The value and gradient leaves of call ``i``."""
    grads = sorted(
        (k for k in numbers if k.startswith(f"grad{i}_")), key=lambda k: int(k.split("_")[1])
    )
    return [numbers[f"value{i}"]] + [numbers[k] for k in grads]


def _same(a_numbers, i, b_numbers, j):
    for a, b in zip(_call(a_numbers, i), _call(b_numbers, j), strict=True):
        np.testing.assert_array_equal(a, b)


def _user_module(folder):
    """The user's ``models`` module as the files are now, imported here."""
    sys.path.insert(0, str(folder))
    try:
        for name in ("models", "helpers"):
            sys.modules.pop(name, None)
        import models  # noqa: PLC0415 - the module this test wrote

        return models
    finally:
        sys.path.remove(str(folder))
        for name in ("models", "helpers"):
            sys.modules.pop(name, None)


def _central_differences(folder, name):
    """The gradient of ``name`` with respect to its parameters, leaf by leaf, by central
    differences in float64 (the user's files as they are now)."""
    models = _user_module(folder)
    args = models.example_args(name)
    f = getattr(models, name)
    out = []
    for leaf in tree_leaves(args[0]):
        numeric = np.zeros_like(leaf)
        for j in np.ndindex(leaf.shape):
            old = leaf[j]
            leaf[j] = old + 1e-6
            up = f(*args)
            leaf[j] = old - 1e-6
            down = f(*args)
            leaf[j] = old
            numeric[j] = (up - down) / 2e-6
        out.append(numeric)
    return f(*args), out


def _check_right(folder, name, numbers, i):
    value, numeric = _central_differences(folder, name)
    got = _call(numbers, i)
    np.testing.assert_allclose(got[0], value, rtol=1e-12)
    for a, b in zip(got[1:], numeric, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _entries(tmp_path, cache="cache") -> dict:
    """path -> payload of every build kept."""
    return {
        p: json.loads(json.loads(p.read_text())["payload"])
        for p in sorted((tmp_path / cache / "builds").glob("*.json"))
    }


@pytest.mark.parametrize("name", NAMES)
def test_a_later_process_runs_a_build_calling_the_users_functions_from_its_first_call(
    tmp_path, user, name
):
    report, first = _process(tmp_path, user, name, 2, "first")
    assert report[0][0] and report[1][0]  # the first process transforms (loss and callees)
    assert [optimized for _, optimized in report] == [False, True]
    kept_names = {e["name"] for e in _entries(tmp_path).values() if e["optimized"]}
    assert f"d_{name}" in kept_names  # the loss's optimized build is kept
    report, later = _process(tmp_path, user, name, 2, "later")
    # nothing transformed: neither the loss nor a callee; the optimized build from call one
    assert report == [[[], True], [[], True]]
    for i in (0, 1):
        _same(later, i, first, 1)
    _check_right(user, name, later, 0)


def test_the_callees_derivative_is_kept_by_its_recipe(tmp_path, user):
    _process(tmp_path, user, "loss_nested", 2, "first")
    refs = {
        e["name"]: [r for r in e["refs"] if r[1] == "callee"]
        for e in _entries(tmp_path).values()
        if e["optimized"]
    }
    ((_, _, module, qualname, digest, mode, wrt, keeping, exact),) = refs["d_loss_nested"]
    assert (module, qualname, mode, wrt, keeping, exact) == (
        "models",
        "inner",
        "vjp",
        0,
        True,
        True,
    )
    ((_, _, module, qualname, *_),) = refs["vjp_inner"]  # a helper calling a helper
    assert (module, qualname) == ("helpers", "dense")
    assert refs["vjp_dense"] == []
    models = _user_module(user)
    text = disk_cache.function_text(models.inner)
    assert hashlib.sha256(text.encode()).hexdigest() == digest


@pytest.mark.parametrize("name", ["loss_helper", "loss_method"])
def test_a_callee_edited_between_processes_is_built_again(tmp_path, user, name):
    _, first = _process(tmp_path, user, name, 2, "first")
    if name == "loss_helper":  # the helper, in a module of its own
        path, old, new = user / "helpers.py", "np.tanh(x @", "np.sin(x @"
    else:  # the layer's method
        path, old, new = user / "models.py", "* self.scale", "* self.scale * 3.0"
    path.write_text(path.read_text().replace(old, new))
    report, edited = _process(tmp_path, user, name, 2, "edited")
    assert report[0][0] and report[1][0]  # transformed again, not read
    _check_right(user, name, edited, 0)
    _check_right(user, name, edited, 1)
    assert not np.array_equal(_call(edited, 1)[1], _call(first, 1)[1])
    _, cold = _process(tmp_path, user, name, 2, "cold", cache="empty")
    _same(edited, 1, cold, 1)  # what a process with no disk cache computes
    report, again = _process(tmp_path, user, name, 1, "again")
    assert report == [[[], True]]  # the new builds were kept
    _same(again, 0, cold, 1)


def test_corrupt_entries_of_a_loss_and_its_callee_are_built_again(tmp_path, user):
    _, first = _process(tmp_path, user, "loss_helper", 2, "first")
    corrupted = []
    for path, entry in _entries(tmp_path).items():
        if entry["optimized"] and entry["name"] in ("d_loss_helper", "vjp_dense"):
            path.write_text(path.read_text()[:-40])  # cut short: no longer JSON
            corrupted.append(path)
    # dense's vjp along p (first call), along p and x (second), and the loss's first build
    # (it runs kept calls: its pure derivative is made again where it is shown)
    assert len(corrupted) == 4
    report, again = _process(tmp_path, user, "loss_helper", 2, "again")
    made = [fn for call in report for fn, specialised in call[0] if specialised]
    assert sorted(set(made)) == ["dense", "loss_helper"]  # both built again
    _same(again, 1, first, 1)
    _check_right(user, "loss_helper", again, 1)
    for path in corrupted:  # and written again, whole
        json.loads(json.loads(path.read_text())["payload"])
    report, last = _process(tmp_path, user, "loss_helper", 1, "last")
    assert report == [[[], True]]
    _same(last, 0, first, 1)


def test_a_recipe_whose_callee_changed_is_not_trusted(tmp_path, user):
    """A well-formed entry (checksum right) naming a callee whose source hash is not the
    loaded function's: the build is made again, not bound to the function found."""
    _, first = _process(tmp_path, user, "loss_helper", 2, "first")
    for path, entry in _entries(tmp_path).items():
        if entry["name"] == "d_loss_helper":
            for ref in entry["refs"]:
                if ref[1] == "callee":
                    ref[4] = "0" * 64
            body = json.dumps(entry, sort_keys=True)
            digest = hashlib.sha256(body.encode()).hexdigest()
            path.write_text(json.dumps({"sha256": digest, "payload": body}))
    report, again = _process(tmp_path, user, "loss_helper", 2, "again")
    assert [fn for fn, _ in report[0][0]] == ["loss_helper"]  # only the loss, built again
    _same(again, 1, first, 1)


def test_what_a_callee_recipe_cannot_name_keeps_its_caller_off_disk(fresh_dir):
    def nested(x):
        return np.sin(x) * x

    vjp_nested = sg.vjp(nested)
    assert kept.callee_recipe(vjp_nested) is None  # defined in a function: no name to find
    assert kept.callee_recipe(sg.vjp(np.sum)) is None
    assert kept.callee_recipe(object()) is None
    assert kept.callee_made("no_such_module", "f", "0" * 64, "vjp", 0, True, True) is None


def test_a_module_a_build_holds_is_kept_by_its_name_where_it_is_numpy_or_sourcegrads():
    assert disk_cache.recipe(np) == ["module", "numpy"]
    assert disk_cache.made_again("module", "numpy.linalg") is np.linalg
    assert disk_cache.recipe(json) is None  # any other module keeps the build off disk


@pytest.fixture
def fresh_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(path))
    return path


class Scaled:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return x * self.w


SCALED = Scaled(np.ones(3))
HOLDS_A_LOCK = Scaled(threading.Lock())


def reads_scaled(x):
    return np.sum(SCALED(x))


def reads_a_lock(x):
    return np.sum(HOLDS_A_LOCK(x))


DOUBLE = functools.partial(np.multiply, 2.0)


def reads_a_partial(x):
    return np.sum(DOUBLE(x))


def test_a_key_describes_an_object_by_its_class_and_what_its_attributes_hold(fresh_dir):
    what = ("grad", (0,), False, True, ())
    key = disk_cache.build_key(reads_scaled, what, ("sig",))
    assert key is not None
    assert disk_cache.build_key(reads_a_lock, what, ("sig",)) is None  # a lock: no description
    # what a partial calls is held outside its __dict__: not described
    assert disk_cache.build_key(reads_a_partial, what, ("sig",)) is None
    old = SCALED.w
    try:
        SCALED.w = 2.0  # another kind of value: another key
        assert disk_cache.build_key(reads_scaled, what, ("sig",)) not in (key, None)
    finally:
        SCALED.w = old
    assert disk_cache.build_key(reads_scaled, what, ("sig",)) == key

    class Local(Scaled):  # a class made in a function: its name does not find it
        pass

    assert disk_cache.build_key(reads_scaled, what, (Scaled,)) is not None
    assert disk_cache.build_key(reads_scaled, what, (Local,)) is None


def test_one_file_imported_under_two_names_gives_two_keys(fresh_dir, tmp_path):
    """A script imported again as a module (or a file run by the CLI): a build kept for one
    copy's function names its callees' copies, so the other copy never reads it."""
    path = tmp_path / "twice.py"
    path.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(np.tanh(x))\n")
    copies = []
    for name in ("twice_a", "twice_b"):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        copies.append(module.f)
    what = ("grad", (0,), False, True, ())
    keys = [disk_cache.build_key(f, what, ("sig",)) for f in copies]
    assert None not in keys and keys[0] != keys[1]
