"""The digits CNN of ``digits_cnn.py`` trained data-parallel with ``sourcegrad.parallel``:
each rank differentiates its shard of every batch, one allreduce averages the gradients, every
rank takes the same Adam step. The same script runs alone, under MPI and under torchrun:

    python examples/digits_parallel.py                            # one process
    mpiexec -n 2 python examples/digits_parallel.py               # 2 MPI ranks (pip install 'sourcegrad[mpi]')
    torchrun --nproc-per-node 2 examples/digits_parallel.py       # torch.distributed, gloo
    srun --mpi=pmi2 -n 8 python examples/digits_parallel.py       # a Slurm allocation
    python -m sourcegrad.parallel.launch -n 2 examples/digits_parallel.py --checkpoint run.npz

``--checkpoint run.npz`` saves every ``--every`` steps; after a failure the same command
resumes from it and ends with the parameters of an uninterrupted run. ``--quick``: 3 epochs.
"""

from __future__ import annotations

import argparse
import time

import digits_cnn as cnn  # the model, loss and data of the one-process example
import numpy as np

import sourcegrad as sg


def train(epochs, batch=64, lr=3e-3, seed=0, checkpoint=None, every=50, comm=None):
    """Train on every rank; returns ``(params, history)`` with the mean loss of each epoch (and
    the train and test accuracy at the end of each)."""
    comm = sg.parallel.init() if comm is None else comm
    x_train, y_train, x_test, y_test = cnn.load_digits(seed)
    batches = sg.parallel.Batches(x_train, y_train, batch_size=batch, seed=seed)
    trainer = sg.parallel.DataParallel(
        sg.value_and_grad(cnn.loss),
        cnn.MODEL.init(np.random.default_rng(seed)),
        lambda p: sg.optim.Adam(p, lr=lr),
        comm=comm,
        checkpoint=checkpoint,
        every=every,
    )
    history = {"loss": [], "train": [], "test": []}
    losses = []
    if comm.rank == 0:
        print(f"training on {comm.size} rank(s) ({comm.engine})", flush=True)

    def end_of_step(step, loss):
        losses.append(loss)
        if step % batches.per_epoch == 0:
            history["loss"].append(float(np.mean(losses)))
            history["train"].append(cnn.accuracy(trainer.params, x_train, y_train))
            history["test"].append(cnn.accuracy(trainer.params, x_test, y_test))
            losses.clear()
            if comm.rank == 0:
                epoch = step // batches.per_epoch
                print(f"epoch {epoch}: loss {history['loss'][-1]:.4f}, "
                      f"test accuracy {history['test'][-1]:.4f}", flush=True)  # fmt: skip

    start = time.perf_counter()
    trainer.train(batches, epochs * batches.per_epoch, end_of_step)
    seconds = time.perf_counter() - start
    if comm.rank == 0:
        print(f"{comm.size} rank(s) ({comm.engine}): test accuracy "
              f"{cnn.accuracy(trainer.params, x_test, y_test):.4f} ({seconds:.1f} s)")  # fmt: skip
    return trainer.params, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs (CI)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64, help="the whole batch over all ranks")
    parser.add_argument("--checkpoint", help="save to (and resume from) this .npz file")
    parser.add_argument("--every", type=int, default=50, help="steps between checkpoints")
    args = parser.parse_args(argv)
    comm = sg.parallel.init()
    try:
        train(3 if args.quick else args.epochs, args.batch, checkpoint=args.checkpoint,
              every=args.every, comm=comm)  # fmt: skip
    finally:
        comm.close()


if __name__ == "__main__":
    main()
