"""A tiny MLP trained data-parallel, run by the tests under ``mpiexec -n 2``, ``torchrun``
or alone; also the serial reference the tests compare with.

    mpiexec -n 2 python tests/parallel_workers/mlp_worker.py --steps 10 --out final.npz
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import numpy as np

import sourcegrad as sg

ROWS, FEATURES, HIDDEN, CLASSES = 200, 6, 16, 3
BATCH = 51  # odd: the two ranks get 25 and 26 rows, so the shard weighting is exercised


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, FEATURES))
    y = (x[:, 0] + x[:, 1] ** 2 > 1).astype(np.int64) + (x[:, 2] > 0.5)
    return x, y


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(size=(FEATURES, HIDDEN)) / np.sqrt(FEATURES),
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(size=(HIDDEN, CLASSES)) / np.sqrt(HIDDEN),
        "b2": np.zeros(CLASSES),
    }


def loss(params, x, y):
    h = np.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    return sg.loss.cross_entropy(logits, y)


def optimizer(params):
    return sg.optim.Adam(params, lr=0.05)


def serial(steps, seed=0):
    """The reference: the same steps on the whole batch, in one process, no communicator."""
    params = init_params(seed)
    opt = optimizer(params)
    batches = sg.parallel.Batches(*data(seed), batch_size=BATCH, seed=seed)
    step = sg.value_and_grad(loss)
    losses = []
    for s in range(steps):
        value, grads = step(params, *batches(s))
        opt.step(grads)
        losses.append(float(value))
    return params, losses


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--every", type=int, default=0)
    parser.add_argument("--die-after", type=int, default=-1, help="rank 1 is killed (SIGKILL)")
    parser.add_argument("--raise-at", type=int, default=-1, help="rank 1 raises at this step")
    parser.add_argument("--engine")
    args = parser.parse_args(argv)
    comm = sg.parallel.init(args.engine)
    trainer = sg.parallel.DataParallel(
        sg.value_and_grad(loss),
        init_params(seed=comm.rank * 0),
        optimizer,
        comm=comm,
        checkpoint=args.checkpoint,
        every=args.every,
    )
    start = trainer.steps

    def callback(step, value):
        if comm.rank == 1 and step == args.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        if comm.rank == 1 and step == args.raise_at:
            raise ValueError(f"a failure on rank 1 at step {step}")

    losses = trainer.train(
        sg.parallel.Batches(*data(), batch_size=BATCH, seed=0), args.steps, callback
    )
    if comm.rank == 0:
        sg.util.save(args.out, {"params": trainer.params, "losses": losses, "start": start})
        print(f"rank 0 of {comm.size} ({comm.engine}): steps {start}..{args.steps} done")
    comm.close()


if __name__ == "__main__":
    sys.exit(main())
