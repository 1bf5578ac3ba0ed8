"""The torch.distributed engine (gloo on CPU), for runs started by ``torchrun``.

The process group is made with ``init_method="env://"`` from the variables ``torchrun`` sets
for each (re)start (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``): after an
elastic restart every worker rendezvouses again on the new values, so a restarted job never
joins a stale group. :meth:`TorchCommunicator.close` (also run at exit) calls
``destroy_process_group()``. Buffers are shared with torch (``torch.from_numpy``), not copied.
"""

from __future__ import annotations

import atexit
import datetime
import importlib
import os

import numpy as np

from .comm import Communicator, ParallelError, check_buffer

__all__ = ["TorchCommunicator", "under_torchrun"]


def under_torchrun(environ) -> bool:
    """Whether ``environ`` is that of a worker started by ``torchrun`` (or
    ``python -m torch.distributed.run``): ``TORCHELASTIC_RUN_ID`` or ``LOCAL_RANK`` with
    ``RANK`` and ``WORLD_SIZE``."""
    if "TORCHELASTIC_RUN_ID" in environ:
        return True
    return all(name in environ for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE"))


def load_torch_distributed():
    """``(torch, torch.distributed)``, or a :class:`ParallelError` saying how to get them."""
    try:
        torch = importlib.import_module("torch")
        dist = importlib.import_module("torch.distributed")
    except ImportError as e:
        raise ParallelError(
            "the torch.distributed engine needs PyTorch: pip install torch "
            "(or run under mpiexec with pip install 'sourcegrad[mpi]')"
        ) from e
    if not dist.is_available():
        raise ParallelError("this PyTorch build has no torch.distributed")
    return torch, dist


class TorchCommunicator(Communicator):
    """The default process group of ``torch.distributed`` behind the communicator interface.
    Made here with ``backend`` (gloo: CPU) and ``init_method`` (``env://`` under torchrun, or a
    ``file://`` or ``tcp://`` address with ``rank`` and ``size`` given) unless a default group
    already exists, which is then used (and not destroyed by :meth:`close`)."""

    engine = "torch"

    def __init__(
        self,
        backend: str = "gloo",
        init_method: str = "env://",
        rank: int | None = None,
        size: int | None = None,
        timeout_s: float = 600.0,
    ):
        self.torch, self.dist = load_torch_distributed()
        self.owned = not self.dist.is_initialized()
        if self.owned:
            options = {"rank": rank, "world_size": size} if rank is not None else {}
            self.dist.init_process_group(
                backend,
                init_method=init_method,
                timeout=datetime.timedelta(seconds=timeout_s),
                **options,
            )
            atexit.register(self.close)
        self.rank = self.dist.get_rank()
        self.size = self.dist.get_world_size()
        self.local_rank = int(os.environ.get("LOCAL_RANK", self.rank))

    def tensor(self, buffer: np.ndarray):
        check_buffer(buffer)
        return self.torch.from_numpy(buffer)

    def allreduce(self, buffer: np.ndarray) -> None:
        self.dist.all_reduce(self.tensor(buffer), op=self.dist.ReduceOp.SUM)

    def broadcast(self, buffer: np.ndarray, root: int = 0) -> None:
        self.dist.broadcast(self.tensor(buffer), src=root)

    def barrier(self) -> None:
        self.dist.barrier()

    def close(self) -> None:
        """``destroy_process_group()`` once, for a group made here."""
        if self.owned and self.dist is not None and self.dist.is_initialized():
            self.dist.destroy_process_group()
        self.owned = False
