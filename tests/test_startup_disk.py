"""A first call's writes to the disk cache: each generated file is written whole under a
temporary name of the process's own, then renamed (no temporary file left behind, readable by
its owner alone, as ``tempfile.mkstemp`` made it), and its lines are in ``linecache`` as
reading the file gives them (a build kept on disk holds the file's text without reading it
back)."""

import json
import linecache
import os
import stat

import numpy as np

import sourcegrad as sg
from sourcegrad import disk_cache

from .fd import numerical_grad


def _loss(W, x):
    h = np.tanh(x @ W)
    return np.sum(h * h) + 0.5 * np.sum(W**2)


def test_first_call_writes_whole_files_and_their_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    df = sg.grad(_loss)
    expected = numerical_grad(_loss, (W, x), 0)
    for _ in range(3):  # pure, then optimized builds: each writes its code and its entry
        np.testing.assert_allclose(df(W, x), expected, rtol=1e-6, atol=1e-8)
    written = sorted((tmp_path / "code").iterdir()) + sorted((tmp_path / "builds").iterdir())
    assert written and not [p.name for p in written if p.name.startswith(".tmp-")]
    for path in written:
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        if path.suffix == ".py":
            with open(path, encoding="utf-8") as f:
                assert linecache.getlines(str(path)) == f.readlines()
            assert disk_cache.is_generated(str(path))
        else:
            entry = json.loads(path.read_text(encoding="utf-8"))
            payload = json.loads(entry["payload"])
            assert payload["file_text"] and "def " in payload["file_text"]


def test_source_file_is_written_once_and_read_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))
    text = "def f(x):\r\n    return 'a\\u2028b' + x  # \u2028 \x0c\n"  # (what a file splits on)
    name = disk_cache.source_file(text, "d f/é", "here.py:[(1, 2)]")
    assert os.path.basename(name).startswith("d_f_é_")  # (a word character stays)
    with open(name, "rb") as f:
        assert f.read() == text.encode("utf-8")
    mtime = os.stat(name).st_mtime_ns
    assert disk_cache.source_file(text, "d f/é", "here.py:[(1, 2)]") == name
    assert os.stat(name).st_mtime_ns == mtime  # (the same text: not written again)
    linecache.checkcache(name)
    with open(name, encoding="utf-8") as f:
        assert linecache.getlines(name) == f.readlines() != text.splitlines(True)
