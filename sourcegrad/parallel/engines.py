"""``init()``: the communicator of the launcher that started this process."""

from __future__ import annotations

import os

from .comm import Communicator, ParallelError, SingleProcess, record_job
from .mpi import MPICommunicator, under_mpi
from .torch_dist import TorchCommunicator, under_torchrun

__all__ = ["init", "detect_engine"]

ENGINES = ("mpi", "torch", "single")


def detect_engine(environ=None) -> str:
    """``"mpi"`` under ``mpiexec``/``mpirun``/``srun`` (see :func:`~.mpi.under_mpi`),
    ``"torch"`` under ``torchrun`` (see :func:`~.torch_dist.under_torchrun`), else
    ``"single"``. ``SOURCEGRAD_PARALLEL_ENGINE`` overrides it."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("SOURCEGRAD_PARALLEL_ENGINE")
    if chosen:
        if chosen not in ENGINES:
            raise ParallelError(
                f"SOURCEGRAD_PARALLEL_ENGINE={chosen!r}: expected one of {', '.join(ENGINES)}"
            )
        return chosen
    if under_torchrun(environ):
        return "torch"
    if under_mpi(environ):
        return "mpi"
    return "single"


def init(engine: str | None = None, **options) -> Communicator:
    """The communicator for this process, so that one script runs everywhere:

    * under ``mpiexec -n N python train.py`` or ``srun --mpi=pmi2 python train.py``: MPI
      (``mpi4py``), one rank per process;
    * under ``torchrun --nproc-per-node N train.py``: torch.distributed with gloo, rendezvous
      through the variables torchrun sets (restart-safe), destroyed at exit;
    * otherwise: a single-process communicator (rank 0 of 1).

    ``engine`` (``"mpi"``, ``"torch"``, ``"single"``) forces one; ``options`` go to its
    constructor (:class:`~.mpi.MPICommunicator`, :class:`~.torch_dist.TorchCommunicator`).
    Raises :class:`~.comm.ParallelError` when the engine's package is missing, saying how to
    install it."""
    engine = engine or detect_engine()
    if engine == "mpi":
        comm: Communicator = MPICommunicator(**options)
    elif engine == "torch":
        comm = TorchCommunicator(**options)
    elif engine == "single":
        comm = SingleProcess()
    else:
        raise ParallelError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    record_job(comm)
    return comm
