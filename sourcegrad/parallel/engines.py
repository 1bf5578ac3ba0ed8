"""``init()``: the communicator of the launcher that started this process."""

from __future__ import annotations

import os
import warnings

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
    warn_of_shared_cores(comm, os.environ)
    return comm


#: variables naming how many ranks share this machine (MPICH, Open MPI, torchrun, Slurm)
LOCAL_SIZE_VARIABLES = (
    "MPI_LOCALNRANKS",
    "OMPI_COMM_WORLD_LOCAL_SIZE",
    "LOCAL_WORLD_SIZE",
    "SLURM_NTASKS_PER_NODE",
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def warn_of_shared_cores(comm: Communicator, environ) -> None:
    """Warn (once, on rank 0) when several ranks share this machine and no BLAS thread count
    is set: each rank's BLAS would start a thread per core and they would slow each other
    down several times over."""
    local = max((int(environ[v]) for v in LOCAL_SIZE_VARIABLES if environ.get(v, "").isdigit()),
                default=1)  # fmt: skip
    if comm.rank == 0 and local > 1 and not any(v in environ for v in THREAD_VARIABLES):
        warnings.warn(
            f"{local} ranks share this machine and OMP_NUM_THREADS is not set: each rank's "
            "BLAS uses every core. Start the job with OMP_NUM_THREADS=1 (mpiexec -env "
            "OMP_NUM_THREADS 1, or export it), or set it to the cores per rank",
            RuntimeWarning,
            stacklevel=3,
        )
