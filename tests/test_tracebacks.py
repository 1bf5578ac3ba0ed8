"""Generated code lives in files: a plain ``python`` traceback shows the
generated line and the user's ``file:line``; ``linecache`` stays the fallback where the cache
directory cannot be written; code read again (higher orders) keeps its ``<sourcegrad ...>``
name."""

import inspect
import linecache
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import sourcegrad as sg
from sourcegrad import disk_cache

from . import golden_cases as cases

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import numpy as np
    import sourcegrad as sg

    def f(A):
        return np.sum(np.linalg.inv(A) * 2.0)

    sg.grad(f)(np.zeros((2, 2)))
    """)


def test_an_uncaught_exception_shows_the_generated_line_and_the_users_line(tmp_path):
    script = tmp_path / "singular.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode != 0
    err = done.stderr
    assert "LinAlgError" in err
    code_dir = str(tmp_path / "cache" / "code")
    frame = next(line for line in err.splitlines() if code_dir in line)
    assert ", in d_f" in frame
    shown = err.splitlines()[err.splitlines().index(frame) + 1]
    assert "np.linalg.inv(A)" in shown and "return" not in shown  # the generated line itself
    assert f"differentiates {script}:6: return np.sum(np.linalg.inv(A) * 2.0)" in err


def test_generated_code_is_a_file_in_the_cache_directory(rng):
    args = cases.example_args("neural_net")
    df = sg.grad(cases.neural_net)
    df(*args)
    entry = df._entry(args)
    path = Path(entry.filename)
    assert path.is_file() and path.parent == disk_cache.cache_dir() / "code"
    assert entry.fn.__code__.co_filename == entry.filename
    assert path.read_text().splitlines()[1].strip().startswith("def d_neural_net(")
    assert "def d_neural_net(" in inspect.getsource(entry.fn)
    assert any("def d_neural_net(" in line for line in linecache.getlines(entry.filename))
    assert disk_cache.is_generated(entry.filename)
    # the same text and user lines give the same file (named by their hash), other lines another
    text = path.read_text()
    same = disk_cache.source_file(text, "d_neural_net", "golden_cases.py:[(2, 12)]")
    assert disk_cache.source_file(text, "d_neural_net", "golden_cases.py:[(2, 12)]") == same
    assert disk_cache.source_file(text, "d_neural_net", "mlp.py:[(2, 12)]") != same
    assert Path(same).read_text() == text


def test_code_read_again_keeps_its_generated_name(rng):
    args = cases.example_args("neural_net")
    df = sg.grad(cases.neural_net)
    df(*args)
    source_fn = df._entry(args).source_fn
    assert source_fn.__code__.co_filename.startswith("<sourcegrad")
    assert inspect.getsource(source_fn).startswith("    def d_neural_net(")
    g = source_fn(*args)[1]
    np.testing.assert_array_equal(g["W"][0], df(*args)["W"][0])


def test_linecache_is_the_fallback_where_the_directory_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(blocker / "cache"))
    assert disk_cache.cache_dir() is None
    df = sg.grad(cases.softmax_cross_entropy, optimize=False)
    args = cases.example_args("softmax_cross_entropy")
    df(*args)
    entry = df._entry(args)
    assert entry.filename.startswith("<sourcegrad")
    assert any(
        "def d_softmax_cross_entropy(" in line for line in linecache.getlines(entry.filename)
    )


def test_the_default_directory_is_under_the_user_cache_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCEGRAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert disk_cache.cache_dir() == tmp_path / "xdg" / "sourcegrad"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert disk_cache.cache_dir() == tmp_path / "home" / ".cache" / "sourcegrad"


def test_tests_write_into_a_temporary_cache_directory(sourcegrad_cache_dir):
    assert disk_cache.cache_dir() == sourcegrad_cache_dir
    assert Path(os.environ["SOURCEGRAD_CACHE_DIR"]) == sourcegrad_cache_dir
