"""The MPI engine, through ``mpi4py`` (``pip install sourcegrad[mpi]`` brings ``mpi4py`` and
the ``mpich`` wheel with its ``mpiexec``).

A rank that raises prints its traceback, headed by its rank, and aborts the whole job
(``MPI_Abort``): the other ranks, which would wait in their next collective for ever, end
with it, and ``mpiexec`` exits non-zero. A rank that dies (a signal, out of memory) makes
``mpiexec`` end every rank within milliseconds.
"""

from __future__ import annotations

import sys
import traceback

import numpy as np

from .comm import Communicator, ParallelError, check_buffer, record_job

__all__ = ["MPICommunicator", "under_mpi"]

#: variables that MPI launchers (MPICH/Hydra, Open MPI, Intel MPI, Slurm's PMI) set on each rank
MPI_RANK_VARIABLES = (
    "PMI_RANK",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_RANK",
    "MV2_COMM_WORLD_RANK",
    "MPI_LOCALRANKID",
)


def under_mpi(environ) -> bool:
    """Whether ``environ`` is that of a rank started by an MPI launcher: ``mpiexec``/``mpirun``
    (``PMI_RANK``, ``OMPI_COMM_WORLD_RANK``, ...) or Slurm's ``srun --mpi=pmi2``/``pmix``
    (``SLURM_PROCID`` together with ``PMI_*``/``PMIX_*`` variables)."""
    if any(name in environ for name in MPI_RANK_VARIABLES):
        return True
    return "SLURM_PROCID" in environ and any(name.startswith(("PMI_", "PMIX_")) for name in environ)


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` (or ``comm``) behind the communicator interface. Each collective is
    one MPI call on the buffer itself (``Allreduce(IN_PLACE, buffer, SUM)``, ``Bcast``)."""

    engine = "mpi"

    def __init__(self, comm=None, abort_on_error: bool = True):
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ParallelError(
                "this process was started by an MPI launcher but mpi4py is not installed: "
                "pip install 'sourcegrad[mpi]' (mpi4py and the mpich wheel with its mpiexec)"
            ) from e
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        if abort_on_error:
            install_abort_hook(self)

    def allreduce(self, buffer: np.ndarray) -> None:
        check_buffer(buffer)
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)

    def broadcast(self, buffer: np.ndarray, root: int = 0) -> None:
        check_buffer(buffer)
        self.comm.Bcast(buffer, root=root)

    def broadcast_bytes(self, data: bytes | None, root: int = 0) -> bytes:
        return self.comm.bcast(data if self.rank == root else None, root=root)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job now, with exit status ``code``."""
        self.comm.Abort(code)


def install_abort_hook(comm: MPICommunicator) -> None:
    """Make an uncaught exception on this rank print its traceback (headed ``rank R``) and
    abort the job, instead of leaving the other ranks waiting in a collective."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt) or comm.size == 1:
            previous(kind, value, tb)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"sourcegrad.parallel: rank {comm.rank} of {comm.size} raised:\n{text}")
        sys.stderr.write("sourcegrad.parallel: aborting the job (MPI_Abort)\n")
        sys.stderr.flush()
        sys.stdout.flush()
        record_job(comm, raised=f"{kind.__name__}: {value}")
        comm.abort(1)

    sys.excepthook = hook
