"""``sourcegrad.parallel``: data-parallel training over MPI or torch.distributed.

Every rank runs the same script (SPMD)::

    comm = sg.parallel.init()          # MPI under mpiexec/srun, torch under torchrun, else 1
    trainer = sg.parallel.DataParallel(
        sg.value_and_grad(loss), params, lambda p: sg.optim.Adam(p, lr=1e-3),
        comm=comm, checkpoint="run.npz", every=100,
    )
    trainer.train(sg.parallel.Batches(x, y, batch_size=256, seed=0), steps=10_000)

* engines (:mod:`.comm`, :mod:`.mpi`, :mod:`.torch_dist`, :func:`init`): a communicator with
  ``rank``, ``size``, in-place ``allreduce`` and ``broadcast`` of a flat buffer, ``barrier``;
* training (:mod:`.data_parallel`): :class:`DataParallel`, :class:`Batches`; parameters and
  gradients as views of one flat buffer per dtype (:class:`FlatTree`), one allreduce per
  step, checkpoints and resume (:mod:`.checkpoint`);
* code to the ranks (:mod:`.shipping`): :func:`share`, :func:`pack`, :func:`unpack`;
* ``python -m sourcegrad.parallel.launch -n 2 train.py``: ``mpiexec`` that names a rank that
  died and the checkpoint to resume from.
"""

from .comm import Communicator, ParallelError, SingleProcess
from .data_parallel import Batches, DataParallel, shard_bounds
from .engines import detect_engine, init
from .flat import FlatTree
from .mpi import MPICommunicator
from .shipping import Shipped, ShippingError, pack, share, unpack
from .torch_dist import TorchCommunicator

__all__ = [
    "Batches", "Communicator", "DataParallel", "FlatTree", "MPICommunicator", "ParallelError",
    "Shipped", "ShippingError", "SingleProcess", "TorchCommunicator", "detect_engine", "init",
    "pack", "shard_bounds", "share", "unpack",
]  # fmt: skip
