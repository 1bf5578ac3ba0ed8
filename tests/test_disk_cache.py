"""Builds kept on disk across processes: a second process skips the transform;
a stale or corrupt entry is built again, never trusted; what cannot be kept safely is not."""

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
from sourcegrad.derivative import SPECIALISE_AFTER
from sourcegrad.pipeline import Pipeline

from . import golden_cases as cases
from .internals import DEFAULT_TIERS

ROOT = Path(__file__).resolve().parents[1]

PROCESS = textwrap.dedent("""
    import sys
    import numpy as np
    from sourcegrad.pipeline import Pipeline
    from tests import golden_cases as cases
    import sourcegrad as sg

    made = []
    build = Pipeline._build
    Pipeline._build = lambda self, *a: made.append(1) or build(self, *a)
    args = cases.example_args("rnn")
    df = sg.grad(cases.rnn)
    first = df(*args)
    print(len(made))
    np.savez(sys.argv[1], **first)
    """)


def _run(tmp_path, out, cache):
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(cache))
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    done = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@DEFAULT_TIERS
def test_a_second_process_runs_the_first_call_without_transforming(tmp_path):
    cache = tmp_path / "cache"
    assert _run(tmp_path, tmp_path / "cold.npz", cache) == 1
    assert len(list((cache / "builds").glob("*.json"))) == 1
    assert _run(tmp_path, tmp_path / "warm.npz", cache) == 0  # read from disk
    cold, warm = np.load(tmp_path / "cold.npz"), np.load(tmp_path / "warm.npz")
    for k in cold.files:
        np.testing.assert_array_equal(cold[k], warm[k])  # bit for bit
    assert not [p for p in (cache / "builds").iterdir() if p.name.startswith(".tmp")]


@pytest.fixture
def counted(monkeypatch):
    """The builds made (not read from disk), counted; every derivative made afresh."""
    made = []
    build = Pipeline._build

    def counting(self, *a):
        made.append(a)
        return build(self, *a)

    monkeypatch.setattr(Pipeline, "_build", counting)
    sg.api.clear_cache()
    yield made
    sg.api.clear_cache()


@pytest.fixture
def fresh_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(path))
    return path


def _first_call(name):
    sg.api.clear_cache()
    args = cases.example_args(name)
    return sg.grad(getattr(cases, name))(*args)


@DEFAULT_TIERS
def test_a_build_read_from_disk_gives_the_same_gradients_and_is_optimized_later(fresh_dir, counted):
    cold = _first_call("neural_net")
    assert len(counted) == 1
    sg.api.clear_cache()  # a new process, but for the disk
    df = sg.grad(cases.neural_net)
    args = cases.example_args("neural_net")
    warm = df(*args)
    assert len(counted) == 1  # read from disk
    for a, b in zip(cold["W"], warm["W"]):
        np.testing.assert_array_equal(a, b)
    for _ in range(3):  # the tiers go on: specialised to shapes, built here
        again = df(*args)
    np.testing.assert_allclose(again["W"][0], cold["W"][0], rtol=1e-12)
    assert df.source(*args) == sg.show(cases.neural_net, args=args)
    other = {k: [v * 2 for v in vs] for k, vs in args[0].items()}
    df(other, args[1][:2], args[2][:2])  # a second signature of the ranks: optimized
    assert "def d_neural_net" in df.emitted((other, args[1][:2], args[2][:2])).pretty(True)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: "not json",
        lambda text: text.replace("np.tanh", "np.sinh"),  # payload changed: bad checksum
    ],
    ids=["truncated", "garbage", "tampered"],
)
@DEFAULT_TIERS
def test_a_corrupt_entry_is_built_again_and_replaced(fresh_dir, counted, spoil):
    cold = _first_call("neural_net")
    (entry,) = (fresh_dir / "builds").glob("*.json")
    entry.write_text(spoil(entry.read_text()))
    warm = _first_call("neural_net")
    assert len(counted) == 2  # not trusted: built again
    np.testing.assert_array_equal(cold["b"][1], warm["b"][1])
    json.loads(entry.read_text())  # and written again, whole
    _first_call("neural_net")
    assert len(counted) == 2


def test_an_entry_under_another_key_is_not_trusted(fresh_dir, counted):
    _first_call("neural_net")
    (entry,) = (fresh_dir / "builds").glob("*.json")
    other = entry.with_name("0" * 64 + ".json")
    entry.rename(other)  # a well-formed entry whose key is not its name
    assert disk_cache.load("0" * 64, cases.neural_net) is None


def _scaled(x, scale=2.0):
    return np.sum(np.tanh(x) * scale)


def test_the_key_follows_the_source_options_signature_and_sourcegrad_itself(fresh_dir):
    what = ("grad", (0,), False, True, ())
    key = disk_cache.build_key(_scaled, what, ("sig",))
    assert key == disk_cache.build_key(_scaled, what, ("sig",))
    assert key != disk_cache.build_key(_scaled, what, ("other",))
    assert key != disk_cache.build_key(_scaled, ("grad", (0,), False, True, ("o",)), ("sig",))
    assert key != disk_cache.build_key(cases.neural_net, what, ("sig",))
    assert disk_cache.build_key(_scaled, what + (print,), ("sig",)) is None  # an object option


class Layer:
    def __init__(self, w):
        self.w = w


LAYER = Layer(np.ones(3))


def uses_an_object(x):
    return np.sum(x * LAYER.w)


def helper(x):
    return np.sin(x) * x


def calls_a_helper(x):
    return np.sum(helper(x) ** 2)


def test_what_cannot_be_kept_safely_is_not_kept(fresh_dir, rng):
    x = rng.standard_normal(3)
    sg.grad(uses_an_object)(x)  # an object whose attributes the derivative reads
    sg.grad(_scaled, debug_hook=print)(x)  # a hook: the instrumented build
    for _ in range(3):
        sg.grad(calls_a_helper)(x)  # the helper's vjp is an object made at transform time
    kept = list((fresh_dir / "builds").glob("*.json"))
    texts = [json.loads(json.loads(p.read_text())["payload"])["text"] for p in kept]
    assert not [t for t in texts if "_scaled" in t]
    # an object by its class and what its attributes hold (read when the derivative runs)
    assert [t for t in texts if "def d_uses_an_object(" in t]
    # the helper's vjp by its recipe (its function, source and options): the caller is kept,
    # unoptimized and optimized (optimized alone where the first call specialises), and so
    # is the helper's own vjp
    builds = 1 if SPECIALISE_AFTER == 1 else 2
    assert len([t for t in texts if "def d_calls_a_helper(" in t]) == builds
    assert [t for t in texts if "def vjp_helper(" in t]
    np.testing.assert_allclose(
        sg.grad(calls_a_helper)(x), 2 * helper(x) * (np.cos(x) * x + np.sin(x))
    )


def test_a_kept_build_runs_with_this_functions_closure(fresh_dir, counted, rng):
    def make(scale):
        def scaled(x):
            return np.sum(np.tanh(x) * scale)

        return scaled

    x = rng.standard_normal(4)
    np.testing.assert_allclose(sg.grad(make(2.0))(x), 2.0 * (1 - np.tanh(x) ** 2))
    sg.api.clear_cache()
    np.testing.assert_allclose(sg.grad(make(3.0))(x), 3.0 * (1 - np.tanh(x) ** 2))
