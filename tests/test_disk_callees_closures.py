"""Builds read from disk run with the closure cells, globals and defaults of the derivative's
own function: two closures of one ``def`` share their builds in a process (the derivatives of
one code, ``derivative_cache``), and whichever of them reads a build from disk first, each
keeps reading its own cells, in a later process and in any order of calls."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

CLOSURES = """
import numpy as np


def make():
    scale = 1.0

    def loss(x):
        return np.sum(np.tanh(x) * x) * scale

    def set_scale(value):
        nonlocal scale
        scale = value

    return loss, set_scale


def with_default(x, scale=1.0):
    return np.sum(np.tanh(x) * x) * scale
"""

#: ``order out``: two closures made alike (their derivatives share builds), the second's cell
#: then set to 3; ``order`` says which derivative is called, in turn ("1": the first's); per
#: call, the builds made and the gradient
PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sourcegrad as sg
    from sourcegrad.pipeline import Pipeline
    sys.path.insert(0, sys.argv[2])
    import closures

    made = []
    build = Pipeline._build
    Pipeline._build = lambda self, *a: made.append(bool(a[1])) or build(self, *a)
    kind = sys.argv[3]
    if kind == "cells":
        (f1, _), (f2, set2) = closures.make(), closures.make()
        d1, d2 = sg.grad(f1), sg.grad(f2)
        set2(3.0)
    else:  # the same code with another default
        f1 = closures.with_default
        f2 = type(f1)(f1.__code__, f1.__globals__, f1.__name__, (3.0,))
        d1, d2 = sg.grad(f1), sg.grad(f2)
    x = np.linspace(-1.0, 1.0, 5)
    out = []
    for which in sys.argv[1]:
        made.clear()
        g = (d1 if which == "1" else d2)(x)
        out.append([which, made[:], g.tolist()])
    print(json.dumps(out))
    """)


def _run(tmp_path, order, kind):
    folder = tmp_path / "user"
    folder.mkdir(exist_ok=True)
    (folder / "closures.py").write_text(CLOSURES)
    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SOURCEGRAD_SPECIALISE_AFTER", None)
    env.pop("SOURCEGRAD_SYMBOLIC_SHAPES", None)
    done = subprocess.run(
        [sys.executable, str(script), order, str(folder), kind],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _right(which, gradient):
    x = np.linspace(-1.0, 1.0, 5)
    scale = 1.0 if which == "1" else 3.0
    want = scale * (np.tanh(x) + x * (1 - np.tanh(x) ** 2))
    np.testing.assert_allclose(gradient, want, rtol=1e-13, err_msg=f"derivative {which}")


@pytest.mark.parametrize("kind", ["cells", "defaults"])
@pytest.mark.parametrize("writer", ["11", "22"])
def test_closures_of_one_code_read_their_own_cells_from_disk_in_any_order(tmp_path, kind, writer):
    for which, _, gradient in _run(tmp_path, writer, kind):  # builds kept on disk
        _right(which, gradient)
    for order in ("2121", "1212", "1122", "2211"):  # later processes read them
        calls = _run(tmp_path, order, kind)
        for which, _, gradient in calls:
            _right(which, gradient)
        assert calls[0][1] == []  # read from disk, not built
