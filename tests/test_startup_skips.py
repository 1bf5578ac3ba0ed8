"""Start-up: passes that find nothing return before their analyses, and a helper is
normalized once per rank signature (no timings here: see ``benchmarks/startup.py``).

* ``follow_shared_writes`` builds its context (the names' kinds, the loops' links, the
  display names) only where the function writes into something in place (an item store or
  an augmented assignment): without one no link can be written through.
* ``argument_writes`` inlines no helper and walks nothing where the function writes into
  nothing (no store into an item or attribute, no augmented assignment, no call but NumPy's
  functions given no output).
* A helper whose result's shape a shape-specialised build asks for, with arguments of ranks
  the first build asked about already, is analyzed from a copy of the core normalized then.

Each derivative is checked against central finite differences and called three times (the
optimized build runs from the second call on).
"""

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import pipeline
from sourcegrad.transform import argument_writes, call_ranks, shared_writes

from .fd import numerical_grad


def _counting(monkeypatch, module, attr):
    calls = []
    real = getattr(module, attr)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, counted)
    return calls


def mlp(params, x):
    h = np.tanh(x @ params["W"][0] + params["b"][0])
    return np.sum(np.tanh(h @ params["W"][1] + params["b"][1]) ** 2)


def sliced_update(z, c):
    w = z[1:]
    w *= c
    return np.sum(z * z)


def _mlp_args():
    rng = np.random.default_rng(3)
    params = {
        "W": [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))],
        "b": [rng.standard_normal(5), rng.standard_normal(3)],
    }
    return params, rng.standard_normal((2, 4))


def _check_mlp(df, params, x):
    def loss(W0, W1, b0, b1):
        return mlp({"W": [W0, W1], "b": [b0, b1]}, x)

    leaves = [params["W"][0], params["W"][1], params["b"][0], params["b"][1]]
    want = [numerical_grad(loss, leaves, i) for i in range(4)]
    for _ in range(3):
        got = df(params, x)
        for g, w in zip([*got["W"], *got["b"]], want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_no_write_in_place_builds_no_shared_write_context(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    sg.api.clear_cache()
    made = _counting(monkeypatch, shared_writes, "_Context")
    params, x = _mlp_args()
    _check_mlp(sg.grad(mlp), params, x)
    assert made == []


def test_a_write_through_a_view_is_still_followed(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    sg.api.clear_cache()
    made = _counting(monkeypatch, shared_writes, "_Context")
    z, c = np.random.default_rng(4).standard_normal(6), 1.7
    want = numerical_grad(lambda z: sliced_update(z.copy(), c), [z], 0)
    df = sg.grad(sliced_update)
    for _ in range(3):
        given = z.copy()
        np.testing.assert_allclose(df(given, c), want, rtol=1e-6, atol=1e-8)
        expected = z.copy()
        expected[1:] *= c
        np.testing.assert_array_equal(given, expected)  # Python's write into the caller's
    assert made, "the write through `w` was not looked at"


def test_no_write_looks_for_no_argument_write(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    sg.api.clear_cache()
    inlined = _counting(monkeypatch, argument_writes, "inline_writing_helpers")
    params, x = _mlp_args()
    _check_mlp(sg.grad(mlp), params, x)
    assert inlined == []


def written_by_numpy(x, y):
    np.copyto(y, 0.5 * y)
    return np.sum(np.tanh(x) * y)


def test_numpy_writing_into_an_argument_is_still_mirrored(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    sg.api.clear_cache()
    inlined = _counting(monkeypatch, argument_writes, "inline_writing_helpers")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    want = numerical_grad(lambda x: written_by_numpy(x, y.copy()), [x], 0)
    df = sg.grad(written_by_numpy)
    for _ in range(3):
        given = y.copy()
        np.testing.assert_allclose(df(x, given), want, rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(given, 0.5 * y)  # as Python's call leaves it
    assert inlined


def dense(x, W, b):
    return x @ W + b


def relu(x):
    return np.maximum(x, 0.0)


def helpers_loss(params, x):
    h = relu(dense(x, params["W"][0], params["b"][0]))
    return np.sum(dense(h, params["W"][1], params["b"][1]) ** 2)


@pytest.fixture
def fresh_helper_memos(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(call_ranks, "_MEMO", {})
    monkeypatch.setattr(call_ranks, "_CORES", {})
    sg.api.clear_cache()


def test_helper_normalized_once_per_rank_signature(monkeypatch, fresh_helper_memos):
    normalized = _counting(monkeypatch, call_ranks, "normalize")
    params, x = _mlp_args()

    def loss(W0, W1, b0, b1):
        return helpers_loss({"W": [W0, W1], "b": [b0, b1]}, x)

    leaves = [params["W"][0], params["W"][1], params["b"][0], params["b"][1]]
    want = [numerical_grad(loss, leaves, i) for i in range(4)]
    df = sg.grad(helpers_loss)
    counts = []
    for _ in range(3):
        got = df(params, x)
        for g, w in zip([*got["W"], *got["b"]], want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
        counts.append(len(normalized))
    # dense's two calls share a rank signature, as relu's one: one core each, from the first
    # call on; the shape builds of the second (two shapes of dense) normalize neither again
    assert counts == [2, 2, 2]


def test_helper_from_a_kept_core_gives_the_same_optimized_code(monkeypatch, tmp_path):
    params, x = _mlp_args()
    shown = []
    for kept in (True, False):
        monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path / str(kept)))
        monkeypatch.setattr(call_ranks, "_MEMO", {})
        monkeypatch.setattr(call_ranks, "_CORES", {} if kept else _Forgetful())
        sg.api.clear_cache()
        shown.append(sg.show(helpers_loss, args=(params, x), optimized=True))
    assert shown[0] == shown[1]


class _Forgetful(dict):
    """A memo that keeps nothing: every question normalizes the helper again."""

    def __setitem__(self, key, value):
        pass


def _digest_of_helpers_gradient(disabled: bool) -> str:
    """The helpers MLP's first gradient, bytes hashed, in a new process (the kept core used,
    or with ``disabled`` normalized again)."""
    script = textwrap.dedent(f"""
        import hashlib, numpy as np, sourcegrad as sg
        from sourcegrad import pipeline
        from tests.test_startup_skips import helpers_loss, _mlp_args
        if {disabled}:
            pipeline.kept_core = lambda parsed, args: None
        got = sg.grad(helpers_loss)(*_mlp_args())
        print(hashlib.sha256(b"".join(a.tobytes() for a in [*got["W"], *got["b"]])).hexdigest())
        """)
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root), SOURCEGRAD_CACHE_DIR=tempfile.mkdtemp())
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_helper_derivative_built_from_the_core_its_caller_asked_about(
    monkeypatch, fresh_helper_memos
):
    normalized = []
    real = pipeline.normalize

    def counted(parsed, args=None):
        normalized.append(parsed.fn.__name__)
        return real(parsed, args)

    monkeypatch.setattr(pipeline, "normalize", counted)
    params, x = _mlp_args()
    sg.grad(helpers_loss)(params, x)
    assert normalized == ["helpers_loss"]  # dense's and relu's builds copy a kept core
    # the same gradient, bit for bit, as where each helper is normalized again
    assert _digest_of_helpers_gradient(False) == _digest_of_helpers_gradient(True)
