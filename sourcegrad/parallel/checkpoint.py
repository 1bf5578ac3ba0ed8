"""Checkpoints of a data-parallel run: one ``sourcegrad.util.save`` file holding the
parameters, the optimizer's state dict, the step count, the data position and the number of
ranks that wrote it.

Only rank 0 writes, atomically (a temporary file in the same folder, renamed over the old one
with ``os.replace``): a run killed at any moment leaves the previous checkpoint or the new one,
never a torn file. On resume rank 0 reads the file and broadcasts its bytes, so the other ranks
need not see the same filesystem.
"""

from __future__ import annotations

import os
import tempfile

from ..util.saving import load, save
from .comm import JOB_DIRECTORY, Communicator, write_json

__all__ = ["write_checkpoint", "read_checkpoint", "checkpoint_exists"]


def write_checkpoint(comm: Communicator, path: str, state: dict) -> None:
    """Rank 0 saves ``state`` (a tree ``sourcegrad.util.save`` accepts) to ``path``
    atomically and, under the launcher, records it as the job's last checkpoint; other ranks
    do nothing."""
    if comm.rank != 0:
        return
    save(path, state)
    folder = os.environ.get(JOB_DIRECTORY)
    if folder:
        entry = {"path": os.path.abspath(path), "step": int(state["step"])}
        write_json(os.path.join(folder, "checkpoint.json"), entry)


def checkpoint_exists(comm: Communicator, path: str) -> bool:
    """Whether rank 0 sees a checkpoint at ``path`` (the same answer on every rank)."""
    found = comm.broadcast_bytes(b"1" if comm.rank == 0 and os.path.exists(path) else b"0")
    return found == b"1"


def read_checkpoint(comm: Communicator, path: str, expected):
    """The tree saved at ``path`` (rank 0 reads the file, every rank gets its bytes), checked
    against ``expected(raw)`` as ``sourcegrad.util.load(path, like)`` checks a file against
    ``like``; ``raw`` is the tree as saved, for what ``expected`` takes from the file itself."""
    data = None
    if comm.rank == 0:
        with open(path, "rb") as f:
            data = f.read()
    data = comm.broadcast_bytes(data)
    fd, tmp = tempfile.mkstemp(suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return load(tmp, expected(load(tmp)))
    finally:
        os.unlink(tmp)
