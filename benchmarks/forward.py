"""Benchmark the compiled forward (``with_gradients=False``, the seed's ``withGradients``)
against the function itself.

    python benchmarks/forward.py            # about a minute
    python benchmarks/forward.py --quick    # a short run

``sg.grad(f, with_gradients=False)`` returns ``f``'s value only. Its first call runs ``f``
in core form (one operation per statement); from the second call with the same argument
shapes on, the optimized build runs as the gradient's running code does: every array an
expression computes on the way is named, computed into a pooled buffer (small arrays) or
in place into an operand's (``np.tanh(h1_t, out=h1_t)``), ``np.dot`` for products of vectors
and matrices, ``np.add.reduce`` for full sums, arrays of 4 KiB or more deleted after their
last use; nothing it returns is a buffer. The value is checked to equal ``f``'s exactly
before timing. The table of a run is in ``benchmarks/README.md``.

Workloads (float64): the seed MLP at batch 1 and 256 (``workloads.neural_net``), the RNN and
LSTM losses of ``recurrent.py`` (T = 50 steps), and the elementwise chain of ``suite.py``
(10**6 elements). Timing and memory as in ``harness.py`` (interleaved rounds, median,
tracemalloc peak); the reference of the ratio is ``f``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import recurrent  # noqa: E402
import suite  # noqa: E402
import workloads  # noqa: E402
from harness import Candidate, Workload, print_table, run_workload, set_blas_threads  # noqa: E402

import sourcegrad as sg  # noqa: E402


def cases() -> list[tuple[str, object, tuple]]:
    """``(name, f, args)`` of every workload."""
    return [
        ("seed MLP b=1", workloads.neural_net, workloads.make_inputs(1, np.float64)),
        ("seed MLP b=256", workloads.neural_net, workloads.make_inputs(256, np.float64)),
        ("RNN T=50", recurrent.rnn_loss, recurrent.make_inputs("rnn", np.float64)),
        ("LSTM T=50", recurrent.lstm_loss, recurrent.make_inputs("lstm", np.float64)),
        ("elementwise 1e6", suite.elementwise_loss, suite.elementwise_inputs(np.float64)),
    ]


def workload(name: str, f, args: tuple) -> Workload:
    """``f`` and its compiled forward on ``args``, after checking they agree exactly."""
    fwd = sg.grad(f, with_gradients=False)
    for _ in range(3):  # through the tiers: the build that runs from then on
        value = fwd(*args)
    expected = f(*args)
    if value != expected:
        raise AssertionError(f"{name}: compiled forward gave {value!r}, f gave {expected!r}")
    return Workload(
        name,
        [
            Candidate("f", lambda: f(*args)),
            Candidate("compiled forward", lambda: fwd(*args), held=fwd.held_bytes),
        ],
        reference="f",
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run")
    opts = ap.parse_args(argv)
    set_blas_threads(1)
    rounds, warmup = (15, 3) if opts.quick else (60, 5)
    results = []
    for name, f, args in cases():
        results += run_workload(workload(name, f, args), rounds=rounds, warmup=warmup, faults=False)
    print_table(results, reference_label="f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
