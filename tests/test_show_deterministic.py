"""The code sourcegrad emits does not depend on Python's string hashing: a build in a process
with another ``PYTHONHASHSEED`` shows the same text (the running code's ``del`` of the names a
kept helper call assigned listed them in a set's order)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent("""
    import numpy as np
    import sourcegrad as sg


    def dense(x, W, b):
        return x @ W + b


    def relu(x):
        return np.maximum(x, 0.0)


    def log_softmax(z):
        m = np.max(z, axis=1, keepdims=True)
        return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


    def loss(params, x, y):
        W0, W1 = params["W"]
        b0, b1 = params["b"]
        h = relu(dense(x, W0, b0))
        return -np.sum(y * log_softmax(dense(h, W1, b1))) / x.shape[0]


    rng = np.random.default_rng(0)
    params = {
        "W": [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))],
        "b": [rng.standard_normal(5), rng.standard_normal(3)],
    }
    x, y = rng.standard_normal((6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    df = sg.grad(loss)
    for _ in range(3):
        df(params, x, y)
    print(sg.show(loss, args=(params, x, y), optimized=True))
    """)


def _shown(tmp_path: Path, seed: int) -> str:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    env = dict(
        os.environ,
        PYTHONHASHSEED=str(seed),
        PYTHONPATH=str(ROOT),
        SOURCEGRAD_CACHE_DIR=str(tmp_path / f"cache-{seed}"),
    )
    done = subprocess.run(
        [sys.executable, str(program)], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_shown_code_is_the_same_under_every_hash_seed(tmp_path):
    texts = {seed: _shown(tmp_path, seed) for seed in (0, 1, 2, 3)}
    assert "del " in texts[0]  # the kept calls' names are released
    assert len(set(texts.values())) == 1, texts
