"""Rank 0 alone defines a loss the way a notebook cell does (source only in ``linecache``) and
``sourcegrad.parallel.share`` sends it; every rank differentiates what it got, and the ranks
check that their gradients agree (an allreduce of the gradient against ``size`` times rank 0's).

    mpiexec -n 2 python tests/parallel_workers/ship_worker.py
"""

from __future__ import annotations

import linecache
import sys

import numpy as np

import sourcegrad as sg

CELL = """\
def cell_loss(params, x, y):
    r = x @ params["w"] + OFFSET - y
    return np.mean(r**2) + helper(params["w"])
"""


def helper(w):
    return 0.5 * np.sum(w**2)


def defined_on_rank_zero():
    """``cell_loss`` as a notebook cell makes it: compiled from text under a pseudo file name."""
    filename = "<notebook cell 3>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(True), filename)
    namespace = {"np": np, "OFFSET": 0.25, "helper": helper, "__name__": "__main__"}
    exec(compile(CELL, filename, "exec"), namespace)  # noqa: S102
    return namespace["cell_loss"]


def main():
    comm = sg.parallel.init()
    loss = sg.parallel.share(comm, defined_on_rank_zero() if comm.rank == 0 else None)
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=3)}
    x, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    grad = sg.grad(loss)
    for _ in range(2):  # the first and the optimized later calls
        g = grad(params, x, y)["w"]
    total = g.copy()
    comm.allreduce(total)
    mine = g.copy()
    comm.broadcast(mine, 0)
    agree = np.allclose(total, comm.size * mine, rtol=1e-13, atol=0)
    where = loss.__code__.co_filename
    print(f"rank {comm.rank}: agree={agree} file={where} line={loss.__code__.co_firstlineno}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
