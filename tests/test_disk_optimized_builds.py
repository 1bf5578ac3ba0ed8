"""Optimized builds kept on disk (issue 17 item 4, issue 18 item 4): a later process's first
call runs the build an earlier process specialised to the same shapes and optimized, read
from disk (no transformation, no pure run first, nothing built on the second call), and
gives the earlier process's numbers bit for bit. Its buffer pools and generated builders are
made again from their recipes; a corrupt or stale entry is built again, never trusted."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import disk_cache
from sourcegrad.pipeline import Pipeline
from sourcegrad.runtime.containers import gradient_builder
from sourcegrad.util import tree_leaves

from . import export_cases
from . import golden_cases as cases
from .internals import DEFAULT_TIERS, BufferPool, gradient_like

ROOT = Path(__file__).resolve().parents[1]

#: one process: ``name calls out``; prints, per call, the builds it made (True: specialised
#: to shapes) and whether the build that ran was optimized, and saves each call's numbers
PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sourcegrad as sg
    from sourcegrad.derivative import Transformed
    from sourcegrad.pipeline import Pipeline
    from sourcegrad.util import tree_leaves
    sys.path.insert(0, sys.argv[4])
    import cases

    made, ran = [], []
    build, entry_of = Pipeline._build, Transformed._entry
    Pipeline._build = lambda self, *a: made.append(bool(a[1])) or build(self, *a)
    Transformed._entry = lambda self, *a: ran.append(entry_of(self, *a)) or ran[-1]
    name, calls, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    args = cases.example_args(name)
    df = sg.value_and_grad(getattr(cases, name))
    report, saved = [], {}
    for i in range(calls):
        made.clear()
        value, grads = df(*args)
        entry = ran[-1]
        optimized = entry.pure is not None and not entry.provisional
        report.append([made[:], optimized, len(entry.held)])
        saved[f"value{i}"] = np.asarray(value)
        for k, leaf in enumerate(tree_leaves(grads)):
            saved[f"grad{i}_{k}"] = np.asarray(leaf)
    np.savez(out, **saved)
    print(json.dumps(report))
    """)

WORKLOADS = """
import numpy as np


def lstm(params, xs):
    h = np.zeros(params["Wh"].shape[1])
    c = np.zeros(params["Wh"].shape[1])
    total = 0.0
    for x in xs:
        z = params["Wx"] @ x + params["Wh"] @ h + params["b"]
        n = h.shape[0]
        i = 1 / (1 + np.exp(-z[:n]))
        f = 1 / (1 + np.exp(-z[n : 2 * n]))
        o = 1 / (1 + np.exp(-z[2 * n : 3 * n]))
        g = np.tanh(z[3 * n :])
        c = f * c + i * g
        h = o * np.tanh(c)
        total = total + np.sum(h * h)
    return total


def mlp(params, x, y):
    h = x
    for W, b in zip(params["W"], params["b"]):
        h = np.tanh(h @ W + b)
    return np.sum((h - y) ** 2) * SCALE


SCALE = 0.5


def example_args(name):
    rng = np.random.default_rng(0)
    if name == "lstm":
        n, d = 4, 3
        params = {
            "Wx": rng.normal(size=(4 * n, d)) * 0.5,
            "Wh": rng.normal(size=(4 * n, n)) * 0.5,
            "b": rng.normal(size=4 * n) * 0.1,
        }
        return params, rng.normal(size=(5, d))
    sizes = [3, 5, 2]
    params = {
        "W": [rng.normal(size=(a, b)) for a, b in zip(sizes, sizes[1:])],
        "b": [rng.normal(size=b) for b in sizes[1:]],
    }
    return params, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
"""


@pytest.fixture
def workloads(tmp_path):
    """A folder holding the user's module ``cases`` (the workloads), and the cache folder."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "cases.py").write_text(WORKLOADS)
    return folder


def _process(tmp_path, folder, name, calls, tag, **env_extra):
    """Run :data:`PROCESS` in a new Python: its report, and its numbers."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SOURCEGRAD_SPECIALISE_AFTER", None)
    env.update(env_extra)
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


def _entries(tmp_path) -> list:
    return [
        json.loads(json.loads(p.read_text())["payload"])
        for p in sorted((tmp_path / "cache" / "builds").glob("*.json"))
    ]


def _central_differences(folder, name):
    """The gradient of the workload ``name`` with respect to its parameters by central
    differences in float64, leaf by leaf (computed in this process, from the user's file)."""
    sys.path.insert(0, str(folder))
    try:
        import cases as user  # noqa: PLC0415 - the module this test wrote
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("cases", None)
    args = user.example_args(name)
    f = getattr(user, name)
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
    return out


def _call(numbers, i):
    """The value and gradient leaves of call ``i`` saved by :data:`PROCESS`."""
    grads = sorted(
        (k for k in numbers if k.startswith(f"grad{i}_")), key=lambda k: int(k.split("_")[1])
    )
    return [numbers[f"value{i}"]] + [numbers[k] for k in grads]


@pytest.mark.parametrize("name, pools", [("lstm", 1), ("mlp", 0)])  # mlp: importables only
def test_a_later_process_runs_the_optimized_build_from_its_first_call(
    tmp_path, workloads, name, pools
):
    report, first = _process(tmp_path, workloads, name, 2, "first")
    # the first process: a pure build for the ranks runs first, the second call specialises
    assert report == [[[False], False, 0], [[True], True, pools]]
    kept = {e["optimized"]: e for e in _entries(tmp_path)}
    assert sorted(kept) == [False, True]  # the pure build of the ranks, and the optimized one
    kinds = {kind for _, kind, *_ in kept[True]["refs"]}
    # the LSTM's running code calls no importable helper (its gates' adjoint is its stack's
    # row, not an unindex_shaped): importable refs are the MLP's
    assert kinds == ({"builder", "pool"} if pools else {"ref"})
    report, later = _process(tmp_path, workloads, name, 2, "later")
    # nothing transformed: the first call already runs the optimized build (and its pool)
    assert report == [[[], True, pools], [[], True, pools]]
    for i in (0, 1):  # bit for bit the numbers of the first process's optimized call
        for a, b in zip(_call(later, i), _call(first, 1), strict=True):
            np.testing.assert_array_equal(a, b)
    numeric = _central_differences(workloads, name)
    for a, b in zip(_call(later, 0)[1 : 1 + len(numeric)], numeric, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_a_corrupt_optimized_entry_is_built_again_and_replaced(tmp_path, workloads):
    _, first = _process(tmp_path, workloads, "lstm", 2, "first")
    (path,) = [
        p
        for p in (tmp_path / "cache" / "builds").glob("*.json")
        if json.loads(json.loads(p.read_text())["payload"])["optimized"]
    ]
    text = path.read_text()
    path.write_text(text.replace("spare", "spore"))  # the checksum no longer holds
    report, again = _process(tmp_path, workloads, "lstm", 2, "again")
    assert report[0] == [[], False, 0]  # the pure build read, the optimized one not trusted
    assert report[1][0] == [True] and report[1][1]  # built again ...
    np.testing.assert_array_equal(again["grad1_0"], first["grad1_0"])
    json.loads(json.loads(path.read_text())["payload"])  # ... and written again, whole
    report, _ = _process(tmp_path, workloads, "lstm", 1, "last")
    assert report[0][:2] == [[], True]


def test_a_stale_entry_is_not_read_after_the_source_changes(tmp_path, workloads):
    _, first = _process(tmp_path, workloads, "mlp", 2, "first")
    cases_file = workloads / "cases.py"
    source = cases_file.read_text()
    cases_file.write_text(source.replace("SCALE = 0.5", "SCALE = 0.25"))
    report, halved = _process(tmp_path, workloads, "mlp", 2, "halved")
    assert report[0][0] == [] and report[1][0] == []  # a global's value is read when it runs
    for a, b in zip(_call(halved, 0), _call(first, 1), strict=True):
        np.testing.assert_allclose(a, b / 2, rtol=1e-15)
    cases_file.write_text(source.replace("** 2) * SCALE", "** 2) * SCALE * 3"))
    report, tripled = _process(tmp_path, workloads, "mlp", 2, "tripled")
    assert report[0][0] == [False] and report[1][0] == [True]  # built again, both
    for a, b in zip(_call(tripled, 1), _call(first, 1), strict=True):
        np.testing.assert_allclose(a, b * 3, rtol=1e-14)


def test_new_shapes_in_a_later_process_keep_the_specialise_after_rule(tmp_path, workloads):
    _process(tmp_path, workloads, "lstm", 2, "first")
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import sourcegrad as sg
        from sourcegrad.pipeline import Pipeline
        sys.path.insert(0, {str(workloads)!r})
        import cases

        made = []
        build = Pipeline._build
        Pipeline._build = lambda self, *a: made.append(bool(a[1])) or build(self, *a)
        params, xs = cases.example_args("lstm")
        df = sg.grad(cases.lstm)
        longer = np.concatenate([xs, xs])
        calls = []
        for x in (xs, longer, longer):
            made.clear()
            df(params, x)
            calls.append(made[:])
        print(json.dumps(calls))
        """)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SOURCEGRAD_SPECIALISE_AFTER", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    # the kept shapes need nothing; the new length is a second signature of the ranks (their
    # build is optimized: its pure derivative made again, it is not kept), and is specialised
    # to its shapes on its second call, as in any process
    assert json.loads(done.stdout.splitlines()[-1]) == [[], [False], [True]]


# ---------------------------------------------------------------- in this process
@pytest.fixture
def fresh_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(path))
    return path


@pytest.fixture
def counted(monkeypatch):
    """The builds made (not read from disk): True for one specialised to shapes."""
    made = []
    build = Pipeline._build
    monkeypatch.setattr(Pipeline, "_build", lambda self, *a: made.append(a[1]) or build(self, *a))
    sg.api.clear_cache()
    yield made
    sg.api.clear_cache()


@DEFAULT_TIERS
def test_a_read_build_shows_the_pure_derivative_and_holds_its_pool(fresh_dir, counted):
    args = cases.example_args("rnn")
    df = sg.grad(cases.rnn)
    df(*args)
    cold = df(*args)
    shown = df.source(*args)
    sg.api.clear_cache()  # a new process, but for the disk
    counted.clear()
    df = sg.grad(cases.rnn)
    warm = df(*args)
    assert counted == []
    entry = df.emitted(args)
    assert entry.pure is not None and entry.held and df.held_bytes() > 0
    assert df.source(*args) == shown  # the pure derivative, not the optimized code
    for a, b in zip(tree_leaves(cold), tree_leaves(warm)):
        np.testing.assert_array_equal(a, b)


@DEFAULT_TIERS
def test_without_optimizing_or_with_a_hook_nothing_optimized_is_kept(fresh_dir, counted):
    args = cases.example_args("neural_net")
    for options in ({"optimize": False}, {"debug_hook": lambda dbg: None}):
        df = sg.grad(cases.neural_net, **options)
        df(*args)
        df(*args)
    assert not any(e["optimized"] for e in _entries(fresh_dir.parent))


def test_a_pool_and_a_builder_are_made_again_from_their_recipes():
    pool = BufferPool.of([64, 0], [(0, (2, 4), np.float64), (1, (-1, 3), np.float32)])
    recipe = json.loads(json.dumps(disk_cache.recipe(pool)))
    again = disk_cache.made_again(*recipe)
    assert again is not pool and again.views == pool.views and again.blocks == pool.blocks
    assert again.held_bytes() == 0  # no buffers made yet
    like = {"a": [np.zeros(2), np.zeros(3)], "b": np.zeros(1)}
    parts = {("a", 1): np.ones(3)}
    recipe = disk_cache.recipe(gradient_builder(like, list(parts)))
    assert recipe is not None and recipe[0] == "builder"
    build = disk_cache.made_again(*recipe)
    got = build(like, np.ones(3))
    want = gradient_like(like, parts)
    for a, b in zip(tree_leaves(got), tree_leaves(want)):
        np.testing.assert_array_equal(a, b)


def test_an_object_without_a_recipe_keeps_the_build_off_disk():
    assert disk_cache.recipe(object()) is None
    assert disk_cache.recipe(lambda x: x) is None
    assert disk_cache.recipe(np.tanh) == ["ref", "numpy", "tanh"]

    def impostor(like, v0):  # claims a builder's text, runs other code
        return v0

    impostor.builder_source = "def build(like, v0):\n    return like\n"
    assert disk_cache.recipe(impostor) is None


SHOW = textwrap.dedent("""
    import sys
    import numpy as np
    import sourcegrad as sg
    from tests import export_cases as c

    x = np.arange(3.0)
    if sys.argv[1] == "run":
        df = sg.grad(c.calls_a_lambda)
        df(x)
        df(x)
    print([line for line in sg.show(c.calls_a_lambda, args=(x,)).splitlines() if line[:1] == "#"])
    """)


def test_a_lambda_made_by_a_read_build_names_the_users_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    script = tmp_path / "show.py"
    script.write_text(SHOW)
    shown = []
    for step in ("run", "show"):  # the second process reads the builds the first one kept
        done = subprocess.run(
            [sys.executable, str(script), step], capture_output=True, text=True, env=env, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        shown.append(done.stdout.strip().splitlines()[-1])
    line = export_cases.calls_a_lambda.__code__.co_firstlineno + 1  # the lambda's own line
    assert shown[0] == shown[1] and f"export_cases.py:{line}'" in shown[1]
