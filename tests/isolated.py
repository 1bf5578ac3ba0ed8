"""Code run in a Python that cannot import sourcegrad: ``python -I -S`` with only NumPy on its
path.

One such interpreter per test process imports NumPy once and forks a fresh child for each
run, which runs the given code in its own directory and exits: what one run changes (modules
imported, NumPy's state, globals) dies with its child, and a run costs a fork instead of an
interpreter's start and NumPy's import (~0.14 s of CPU each, several hundred runs a session).
"""

from __future__ import annotations

import atexit
import json
import os
import pathlib
import select
import signal
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

NUMPY_SITE = str(pathlib.Path(np.__file__).resolve().parent.parent)

#: the interpreter's loop: per line of stdin (JSON: directory, code), a child that runs the code
#: there (its stdout and stderr into files there); the child's exit code back on stdout
_SERVER = """
import json, os, sys, traceback
sys.path[:0] = [{numpy_site!r}]
import numpy
for line in sys.stdin:
    here, code = json.loads(line)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.chdir(here)
            for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
                os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
            exec(compile(code, "<isolated>", "exec"), {{"__name__": "__main__"}})
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    _, waited = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(waited), flush=True)
"""


@dataclass
class Done:
    """What a run ended with, as :func:`subprocess.run` says it."""

    returncode: int
    stdout: str
    stderr: str


class _Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _SERVER.format(numpy_site=NUMPY_SITE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": os.environ.get("PATH", "")},
            start_new_session=True,
        )

    def run(self, here: pathlib.Path, code: str, timeout: float) -> int:
        self.process.stdin.write(json.dumps([str(here), code]) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.close(kill=True)
            raise subprocess.TimeoutExpired("isolated run", timeout)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the isolated interpreter ended")
        return int(line)

    def close(self, kill: bool = False) -> None:
        if kill:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.stdin.close()
        self.process.wait()


_server: _Server | None = None


def run_code(here: pathlib.Path, code: str, timeout: float = 120) -> Done:
    """``code`` run in a fresh child of the isolated interpreter, in the directory ``here``
    (its files ``stdout.txt`` and ``stderr.txt`` written there)."""
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _Server()
        atexit.register(_server.close)
    try:
        returncode = _server.run(here, code, timeout)
    except subprocess.TimeoutExpired:
        _server = None
        raise
    return Done(returncode, (here / "stdout.txt").read_text(), (here / "stderr.txt").read_text())
