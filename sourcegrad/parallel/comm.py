"""The communicator interface every engine implements, and the single-process one.

A communicator is what an SPMD training loop needs from a distributed engine: the rank of this
process, the number of processes, an in-place sum of one flat buffer over all ranks
(``allreduce``), an in-place copy of rank ``root``'s buffer to every rank (``broadcast``), a
broadcast of bytes, and a barrier. Buffers are contiguous one-dimensional NumPy arrays of a
floating-point dtype; every rank passes a buffer of the same size and dtype, in the same order
of calls.
"""

from __future__ import annotations

import json
import os
import socket

import numpy as np

from ..errors import SourcegradError

__all__ = ["Communicator", "ParallelError", "SingleProcess", "JOB_DIRECTORY", "record_job"]

#: the environment variable naming the folder where ranks record themselves for the launcher
JOB_DIRECTORY = "SOURCEGRAD_PARALLEL_JOB"


class ParallelError(SourcegradError):
    """A distributed run that cannot go on (a missing engine, buffers that differ between
    ranks, a checkpoint that does not fit), with the way out."""


class Communicator:
    """The interface: ``rank``, ``size``, ``engine`` (a name) and the collective operations.
    Every rank must call the same collectives in the same order."""

    rank: int = 0
    size: int = 1
    engine: str = "single"

    def allreduce(self, buffer: np.ndarray) -> None:
        """Replace ``buffer`` on every rank by the sum over ranks of their ``buffer``s."""
        raise NotImplementedError

    def broadcast(self, buffer: np.ndarray, root: int = 0) -> None:
        """Replace ``buffer`` on every rank by rank ``root``'s ``buffer``."""
        raise NotImplementedError

    def broadcast_bytes(self, data: bytes | None, root: int = 0) -> bytes:
        """Rank ``root``'s ``data`` on every rank (the others pass anything, ``None``)."""
        size = np.array([len(data) if self.rank == root else 0], dtype=np.float64)
        self.broadcast(size, root)
        n = int(size[0])
        padded = np.zeros((n + 7) // 8, dtype=np.float64)
        if self.rank == root:
            padded.view(np.uint8)[:n] = np.frombuffer(data, dtype=np.uint8)
        self.broadcast(padded, root)
        return padded.view(np.uint8)[:n].tobytes()

    def barrier(self) -> None:
        """Return on every rank only once every rank has called it."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the engine (idempotent); collectives may not be called afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} rank {self.rank} of {self.size} ({self.engine})>"


class SingleProcess(Communicator):
    """One process: the sum over the one rank is the buffer itself. What
    :func:`sourcegrad.parallel.init` returns outside ``mpiexec``, ``srun`` and ``torchrun``,
    so the same script runs on a laptop."""

    engine = "single"

    def allreduce(self, buffer: np.ndarray) -> None:
        check_buffer(buffer)

    def broadcast(self, buffer: np.ndarray, root: int = 0) -> None:
        check_buffer(buffer)
        if root != 0:
            raise ParallelError(f"broadcast from rank {root} in a run of one rank")

    def broadcast_bytes(self, data: bytes | None, root: int = 0) -> bytes:
        if root != 0:
            raise ParallelError(f"broadcast from rank {root} in a run of one rank")
        return bytes(data)

    def barrier(self) -> None:
        pass


def check_buffer(buffer) -> None:
    """Refuse what an engine cannot reduce in place: anything but a contiguous writable
    one-dimensional NumPy array."""
    if not isinstance(buffer, np.ndarray) or buffer.ndim != 1:
        raise ParallelError(
            f"collectives take a one-dimensional NumPy array, got {type(buffer).__name__} "
            f"of shape {np.shape(buffer)}"
        )
    if not buffer.flags.c_contiguous or not buffer.flags.writeable:
        raise ParallelError("collectives take a contiguous, writeable array")


def record_job(comm: Communicator, **extra) -> None:
    """Where the launcher (``python -m sourcegrad.parallel.launch``) asked for it, write this
    rank's process id and host (and ``extra``) into its job folder, so that it can name a rank
    that dies or raises."""
    folder = os.environ.get(JOB_DIRECTORY)
    if not folder:
        return
    entry = {"rank": comm.rank, "pid": os.getpid(), "host": socket.gethostname(), **extra}
    write_json(os.path.join(folder, f"rank-{comm.rank}.json"), entry)


def write_json(path: str, entry: dict) -> None:
    """Write ``entry`` to ``path`` atomically (a temporary file renamed over it)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(entry, f)
    os.replace(tmp, path)
