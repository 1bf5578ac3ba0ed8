"""The float64 elementwise chain against the machine's memory bandwidth, with and without the
fused-elementwise backend (``sg.grad(f, fuse="numexpr")``).

    python benchmarks/fused.py [--rounds 60] [--threads 1] [--n 1000000] [--dtype float64]

Candidates, timed interleaved (``harness.time_interleaved``, median of ``--rounds``):

* ``sourcegrad``: the running derivative with NumPy's own loops (block by block, ``chunk.py``);
* ``sourcegrad fuse``: the same with ``fuse="numexpr"`` (skipped where numexpr is missing);
* ``hand-written``: ``suite.elementwise_hand``, the in-place NumPy gradient;
* ``jax.jit`` where JAX is installed.

The bandwidth line is a STREAM-style copy (``np.copyto`` of an array of ``--n`` elements, 8
bytes each read and written): a call must at least read ``x`` and write the gradient, so
``bound = 2 * x.nbytes / bandwidth`` is the fastest any implementation could be if it were
limited by memory alone. ``--threads`` sets numexpr's thread pool (NumPy's elementwise loops run
on one thread whatever BLAS does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

import sourcegrad as sg
from sourcegrad.transform.optimize import fused as fused_backend

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Candidate, import_jax, time_interleaved  # noqa: E402
from suite import elementwise_hand, elementwise_loss, rebind_numpy  # noqa: E402


def copy_bandwidth(n: int, rounds: int) -> float:
    """Bytes per second of ``np.copyto`` between two arrays of ``n`` float64 (read + write),
    the median of ``rounds`` copies."""
    src, dst = np.random.default_rng(0).standard_normal(n), np.empty(n)
    np.copyto(dst, src)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return 2 * src.nbytes / float(np.median(times))


def rational(x, a):
    """An elementwise chain of arithmetic only (no exp, tanh, log): what numexpr fuses
    whole without VML."""
    return np.sum(x * (1.0 - a * x) / (1.0 + x * x) + 0.5 * a * (x * x - 1.0) * x)


def candidates(loss, x, a, hand=None, jax_too=True) -> list:
    """The implementations of ``loss``'s value and gradient, each checked against the
    hand-written one (or the first) before it is timed; ``jax_too``: jax.jit among them."""
    found = [_sourcegrad("sourcegrad", loss, x, a)]
    if hand is not None:
        found.insert(0, Candidate("hand-written", lambda: hand(x, a)))
    if fused_backend.available("numexpr"):
        found.append(_sourcegrad("sourcegrad fuse", loss, x, a, fuse="numexpr"))
    jax = import_jax() if jax_too else None
    if jax is not None:
        f = jax.jit(jax.value_and_grad(rebind_numpy(loss, jax.numpy, f"{loss.__name__}_jax")))
        xs = jax.device_put(x)
        found.append(Candidate("jax.jit", lambda: jax.block_until_ready(f(xs, a))))
    want_value, want = found[0].fn()
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    for c in found:
        value, g = c.fn()
        np.testing.assert_allclose(float(value), want_value, rtol=tol, err_msg=c.name)
        np.testing.assert_allclose(np.asarray(g), want, rtol=tol, atol=tol, err_msg=c.name)
    return found


def _sourcegrad(name: str, loss, x, a, **options) -> Candidate:
    df = sg.value_and_grad(loss, **options)
    for _ in range(3):  # the optimized build runs from the second call on
        df(x, a)
    return Candidate(name, lambda: df(x, a))


def report(title, found, times, bound) -> None:
    """One table: each candidate's median time, against the first and the bandwidth bound."""
    first = float(np.median(times[found[0].name]))
    print(title)
    print(f"{'candidate':<18}{'median ms':>10}{'x first':>9}{'x bound':>9}")
    for c in found:
        t = float(np.median(times[c.name]))
        print(f"{c.name:<18}{t / 1e6:>10.2f}{t / first:>9.2f}{t / 1e9 / bound:>9.1f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--threads", type=int, default=1, help="numexpr's threads")
    p.add_argument("--n", type=int, default=10**6)
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="cpu: the calling thread's CPU time, for a loaded machine (one thread only: "
        "without jax.jit, whose work runs on XLA's threads)",
    )
    opts = p.parse_args(argv)
    if fused_backend.available("numexpr"):
        import numexpr

        numexpr.set_num_threads(opts.threads)
    x = np.random.default_rng(0).standard_normal(opts.n).astype(opts.dtype)
    a = 1.5
    bandwidth = copy_bandwidth(opts.n, opts.rounds)
    moved = 2 * x.nbytes  # x read once, the gradient written once
    bound = moved / bandwidth
    print(f"{opts.n:,} {opts.dtype}, numexpr threads {opts.threads}, {opts.clock} clock")
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s (read + write); at least {moved / 1e6:.1f}")
    print(f"MB moved per call (x read, the gradient written): bandwidth bound {bound * 1e3:.2f} ms")
    for title, loss, hand in (
        ("elementwise chain sum(tanh(x*a) * exp(-x*x) + log1p(x*x))", elementwise_loss,
         elementwise_hand),
        ("arithmetic chain (rational)", rational, None),
    ):  # fmt: skip
        found = candidates(loss, x, a, hand, jax_too=opts.clock == "wall")  # XLA's threads
        times = time_interleaved(found, rounds=opts.rounds, warmup=3, rewarm=0, clock=opts.clock)
        report(title, found, times, bound)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
