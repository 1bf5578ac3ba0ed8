"""``DataParallel``: the SPMD training step every rank runs, and ``Batches``, a sampler whose
position is the step count (so a resumed run sees the batches the interrupted one would
have).

Each step every rank is given the same whole batch; rank ``r`` of ``p`` takes the contiguous
shard of rows ``[r*N//p, (r+1)*N//p)`` of each array argument with ``N`` rows, calls the user's
``value_and_grad(params, *shard)``, writes its gradient, scaled by its shard's weight, into a
flat buffer per dtype (the loss in one spare entry), sums the buffers over ranks (one allreduce
per dtype per step) and steps the optimizer on the sum. With ``reduction="mean"`` (a loss
that is a mean over the batch's rows) a shard's weight is its share of the rows, ``n_r / N``:
the sum is then the whole batch's mean gradient and loss even when the shards have unequal
sizes (the plain mean of per-shard means would not be). With ``reduction="sum"`` the weight
is 1. So a run on any number of ranks computes the serial run's steps, up to rounding.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import SourcegradError
from ..optim.base import Optimizer
from ..optim.schedules import LRScheduler
from .checkpoint import checkpoint_exists, read_checkpoint, write_checkpoint
from .comm import Communicator, ParallelError
from .engines import init
from .flat import FlatTree

__all__ = ["DataParallel", "Batches", "shard_bounds"]


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``n`` that rank ``rank`` of ``size`` takes: contiguous shards
    whose sizes differ by at most one and cover ``range(n)`` in rank order."""
    return rank * n // size, (rank + 1) * n // size


class Batches:
    """Minibatches of ``arrays`` (equal numbers of rows): ``batches(step)`` is the batch of
    that step, the same on every rank. Each epoch visits the rows in the order of a permutation
    drawn from ``numpy.random.default_rng([seed, epoch])``, in batches of ``batch_size`` rows
    (the last incomplete batch of an epoch is dropped: every batch has one shape). The batch of
    a step depends on the step alone, so ``position(step)`` is all a checkpoint keeps."""

    def __init__(self, *arrays, batch_size: int, seed: int = 0):
        if not arrays or len({len(a) for a in arrays}) != 1:
            raise ParallelError("Batches takes one or more arrays of the same number of rows")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.seed = seed
        self.per_epoch = len(arrays[0]) // self.batch_size
        if self.per_epoch == 0:
            raise ParallelError(f"batch_size {batch_size} is larger than the {len(arrays[0])} rows")
        self.cached: tuple = (None, None)

    def position(self, step: int) -> dict:
        """``{"step", "epoch", "batch"}``: where ``step`` is in the data."""
        epoch, batch = divmod(int(step), self.per_epoch)
        return {"step": int(step), "epoch": epoch, "batch": batch}

    def __call__(self, step: int) -> tuple:
        epoch, batch = divmod(int(step), self.per_epoch)
        if self.cached[0] != epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.arrays[0]))
            self.cached = (epoch, order)
        rows = self.cached[1][batch * self.batch_size : (batch + 1) * self.batch_size]
        return tuple(a[rows] for a in self.arrays)


class DataParallel:
    """Data-parallel training of ``params`` with the user's ``value_and_grad``.

    ``value_and_grad(params, *args)`` returns ``(loss, grads)``, ``grads`` shaped like
    ``params`` (``sourcegrad.value_and_grad(loss)``). ``optimizer(params)`` makes the
    ``sourcegrad.optim`` optimizer over the parameters it is given (``lambda p:
    sg.optim.Adam(p, lr=1e-3)``): they are views of the flat buffers, ``self.params``, and the
    optimizer updates them in place. Rank 0's initial ``params`` are broadcast, so every rank
    starts from the same values.

    ``checkpoint=path, every=N``: rank 0 saves the parameters, the optimizer's state, the step
    count and the data position every ``N`` steps, atomically; when ``path`` exists, the
    constructor resumes from it, and the next steps are those the interrupted run would have
    taken. ``shard``: per argument of :meth:`step`, whether it is split by rows (default: every
    array argument with the batch's number of rows).
    """

    def __init__(
        self,
        value_and_grad: Callable,
        params,
        optimizer: Callable[[object], Optimizer],
        *,
        comm: Communicator | None = None,
        checkpoint: str | os.PathLike | None = None,
        every: int = 0,
        reduction: str = "mean",
        shard: Sequence[bool] | None = None,
        schedule: Callable[[Optimizer], LRScheduler] | None = None,
    ):
        if isinstance(optimizer, Optimizer):
            raise ParallelError(
                "DataParallel makes the optimizer over its own flat parameters: pass a "
                "function of the parameters, e.g. optimizer=lambda p: sg.optim.Adam(p, lr=1e-3)"
            )
        if reduction not in ("mean", "sum"):
            raise ParallelError(f"reduction={reduction!r}: expected 'mean' or 'sum'")
        if checkpoint is not None and every < 1:
            raise ParallelError("checkpoint=path needs every=N (save every N steps), N >= 1")
        self.comm = init() if comm is None else comm
        self.value_and_grad = value_and_grad
        self.reduction = reduction
        self.shard = None if shard is None else tuple(shard)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.every = int(every)
        self.flat = FlatTree(params, extra=1)
        self.flat.assign(params)
        for buffer in self.flat.buffers.values():
            self.comm.broadcast(buffer, 0)
        self.params = self.flat.tree
        self.grads = self.flat.same_layout()
        self.optimizer = optimizer(self.params)
        #: the learning-rate schedule (you step it, as with PyTorch); kept in checkpoints
        self.schedule = None if schedule is None else schedule(self.optimizer)
        self.steps = 0
        self.position: dict = {"step": 0}
        self.resumed = False
        if self.checkpoint is not None and checkpoint_exists(self.comm, self.checkpoint):
            self.resume()

    def split(self, args: tuple) -> tuple[tuple, float, int]:
        """``(shard, weight, rows)``: this rank's shard of ``args``, its weight, its rows."""
        marks = self.shard or tuple(isinstance(a, np.ndarray) and a.ndim > 0 for a in args)
        if len(marks) != len(args):
            raise ParallelError(f"shard has {len(marks)} entries for {len(args)} arguments")
        sizes = {len(a) for a, m in zip(args, marks) if m}
        if len(sizes) != 1:
            raise ParallelError(
                f"the sharded arguments have {sorted(sizes)} rows: every array split by rank "
                "must have the batch's number of rows (pass shard=[...] to say which are split)"
            )
        n = sizes.pop()
        lo, hi = shard_bounds(n, self.comm.rank, self.comm.size)
        part = tuple(a[lo:hi] if m else a for a, m in zip(args, marks))
        weight = (hi - lo) / n if self.reduction == "mean" else 1.0
        return part, weight, hi - lo

    def step(self, *batch) -> float:
        """One step on the whole ``batch`` (the same on every rank): returns the loss of the
        whole batch (the weighted sum over ranks of the shards' losses), the same on every
        rank, after the parameters are updated."""
        part, weight, rows = self.split(batch)
        if rows:
            value, grads = self.value_and_grad(self.params, *part)
            self.grads.assign(grads, weight)
            self.grads.spare[0] = float(value) * weight
        else:
            self.grads.zero()  # a rank with no rows adds nothing
        for buffer in self.grads.buffers.values():
            self.comm.allreduce(buffer)
        self.optimizer.step(self.grads.tree)
        self.steps += 1
        self.position = {"step": self.steps}
        return float(self.grads.spare[0])

    def train(self, batches: Callable[[int], tuple], steps: int, callback=None) -> list:
        """Steps from ``self.steps`` (0, or where a checkpoint left off) to ``steps``, the
        batch of step ``s`` being ``batches(s)`` (a tuple of arguments; a :class:`Batches`).
        Saves a checkpoint every ``every`` steps where asked. ``callback(step, loss)`` runs
        after each step on every rank. Returns the losses of the steps taken here."""
        losses = []
        for s in range(self.steps, steps):
            loss = self.step(*batches(s))
            position = getattr(batches, "position", None)
            self.position = position(self.steps) if position else {"step": self.steps}
            losses.append(loss)
            if callback is not None:
                callback(self.steps, loss)
            if self.checkpoint is not None and self.steps % self.every == 0:
                self.save()
        return losses

    def state(self) -> dict:
        """What a checkpoint holds: ``{"params", "optimizer", "schedule", "step", "data",
        "ranks"}``."""
        return {
            "params": self.params,
            "optimizer": self.optimizer.state_dict(),
            "schedule": {} if self.schedule is None else self.schedule.state_dict(),
            "step": self.steps,
            "data": dict(self.position),
            "ranks": self.comm.size,
        }

    def save(self, path: str | os.PathLike | None = None) -> None:
        """Write a checkpoint now (rank 0 writes; every rank must call it)."""
        target = os.fspath(path) if path is not None else self.checkpoint
        if target is None:
            raise ParallelError("save() without a path in a run without checkpoint=path")
        write_checkpoint(self.comm, target, self.state())

    def resume(self, path: str | os.PathLike | None = None) -> None:
        """Load the parameters, optimizer state, step count and data position of a checkpoint
        (every rank must call it). A checkpoint written by another number of ranks resumes
        too; its later steps then agree with the uninterrupted run up to rounding."""
        source = os.fspath(path) if path is not None else self.checkpoint

        def expected(raw):
            return {**self.state(), "data": raw["data"]}

        try:
            saved = read_checkpoint(self.comm, source, expected)
        except SourcegradError as e:
            raise ParallelError(f"the checkpoint {source} does not fit this run: {e}") from e
        self.flat.assign(saved["params"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.schedule is not None:  # after the optimizer's, as PyTorch's order is
            self.schedule.load_state_dict(_plain(saved["schedule"]))
        self.steps = int(saved["step"])
        self.position = dict(saved["data"])
        self.resumed = True


def _plain(state: dict) -> dict:
    """A schedule's state as read back from a checkpoint: 0-d arrays as Python numbers."""
    return {
        k: v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v for k, v in state.items()
    }
