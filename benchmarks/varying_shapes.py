"""An LSTM's gradient over sequences of varying length against the same lengths kept fixed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/varying_shapes.py [--rounds N]

The loss: the LSTM of ``benchmarks/recurrent.py`` (input 64, hidden 128, batch 32, float64,
a Python ``for`` over the T steps), written out here so that this script stands alone. A
"step" is one call of ``sg.value_and_grad(loss)``. Three ways to run a sequence of lengths T
drawn from 5..35:

* ``fixed T``: one derivative per length, each called with its length only (each runs the
  build specialised to its shapes): what a fixed-length training step costs, length for
  length, the reference;
* ``varying T``: one derivative called with every length (one build serves the shape
  pattern, its lengths read at run time);
* ``varying T, per-shape builds``: the same with builds for shape patterns turned off (what
  sourcegrad did before: a build per new length, past eight of them the code for the ranks).

Printed: the time per step of each (median over rounds, each round all lengths in a new
random order, the three ways interleaved), their ratio to ``fixed T``, and the builds each
made; then the wall time of a 200-step run of random lengths from a fresh derivative, builds
included.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# every build made here, none read from an earlier run's disk cache
os.environ["SOURCEGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="sg-varying-")

from recurrent import lstm_loss  # noqa: E402  (the LSTM of the recurrent workloads)

import sourcegrad as sg  # noqa: E402
from sourcegrad import derivative_cache  # noqa: E402

BATCH, D_IN, HIDDEN = 32, 64, 128
LENGTHS = range(5, 36)


def inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = {
        "W_x": rng.standard_normal((D_IN, 4 * HIDDEN)) / np.sqrt(D_IN),
        "W_h": rng.standard_normal((HIDDEN, 4 * HIDDEN)) / np.sqrt(HIDDEN),
        "b": rng.standard_normal(4 * HIDDEN) * 0.1,
    }
    y = np.zeros((BATCH, HIDDEN))
    y[np.arange(BATCH), rng.integers(0, HIDDEN, size=BATCH)] = 1.0
    xs = {T: rng.standard_normal((T, BATCH, D_IN)) for T in LENGTHS}
    return params, xs, y


def builds(df) -> int:
    """Builds made for ``df``'s calls (its own, or those of the store it shares)."""
    kinds = ("ranks", "shapes", "pattern", "optimized")
    store = df._base._store.builds if df._base is not None else {}
    return sum(1 for key, entry in store.items() if key[0] in kinds and entry is not False)


def fresh(per_shape: bool = False):
    """``sg.value_and_grad(lstm_loss)`` sharing no builds with the derivatives made before;
    with ``per_shape``, one that never makes a build for a shape pattern (as before)."""
    derivative_cache.clear_cache()
    saved = derivative_cache.SYMBOLIC_AFTER
    if per_shape:
        derivative_cache.SYMBOLIC_AFTER = 10**9
    try:
        return sg.value_and_grad(lstm_loss)
    finally:
        derivative_cache.SYMBOLIC_AFTER = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args()
    params, xs, y = inputs()
    rng = np.random.default_rng(1)

    # fixed T: one derivative per length; each derivative shares no builds with another
    fixed = {}
    for T in LENGTHS:
        fixed[T] = fresh()
    varying = fresh()
    old = fresh(per_shape=True)

    for _ in range(3):  # warm: every build made
        for T in rng.permutation(list(LENGTHS)):
            T = int(T)
            want = fixed[T](params, xs[T], y)
            for df in (varying, old):
                got = df(params, xs[T], y)
                np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
                for k in params:
                    np.testing.assert_allclose(got[1][k], want[1][k], rtol=1e-8, atol=1e-12)

    ways = {"fixed T": lambda T: fixed[T], "varying T": lambda T: varying}
    ways["varying T, per-shape builds"] = lambda T: old
    times: dict = {name: [] for name in ways}
    for _ in range(opts.rounds):
        order = [int(T) for T in rng.permutation(list(LENGTHS))]
        for name in rng.permutation(list(ways)):
            pick = ways[name]
            start = time.perf_counter()
            for T in order:
                pick(T)(params, xs[T], y)
            times[name].append((time.perf_counter() - start) / len(order))
    base = statistics.median(times["fixed T"])
    print(f"LSTM value_and_grad, batch {BATCH}, input {D_IN}, hidden {HIDDEN}, float64")
    print(f"T drawn from {LENGTHS.start}..{LENGTHS.stop - 1}, median of {opts.rounds} rounds\n")
    print(f"{'':<30}{'ms/step':>9}{'ratio':>8}{'builds':>8}")
    made = {
        "fixed T": sum(builds(df) for df in fixed.values()),
        "varying T": builds(varying),
        "varying T, per-shape builds": builds(old),
    }
    for name in ways:
        t = statistics.median(times[name])
        print(f"{name:<30}{t * 1e3:>9.3f}{t / base:>8.3f}{made[name]:>8}")

    print("\n200 steps of random T from a fresh derivative, builds included:")
    for name, per_shape in (("varying T", False), ("varying T, per-shape builds", True)):
        df = fresh(per_shape)
        steps = [int(T) for T in rng.integers(LENGTHS.start, LENGTHS.stop, 200)]
        start = time.perf_counter()
        for T in steps:
            df(params, xs[T], y)
        wall = time.perf_counter() - start
        print(f"{name:<30}{wall:>8.2f} s{builds(df):>8} builds")


if __name__ == "__main__":
    main()
