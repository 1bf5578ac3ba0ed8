"""The machine's own limits, measured, so that a workload's time can be read against them.

* :func:`cpu_name`: the CPU model (``/proc/cpuinfo``), :func:`blas_line`: NumPy's BLAS library,
  its kernel (the core type OpenBLAS chose) and its threads.
* :func:`stream`: STREAM-style bandwidth over arrays far larger than the caches: *copy*
  (``b[:] = a``, 16 bytes an element) and *triad* (``a = b + s * c``, 24 bytes an element;
  one pass through ``numexpr`` where it is installed, else NumPy's two passes, whose extra
  traffic is not counted, so the figure is a lower bound). The better of the two is the
  bandwidth the bounds below use.
* :func:`gemm_gflops`: the BLAS's GFLOP/s on a large square product (float64 and float32).
* :func:`bandwidth_lines` / :func:`gflops_lines`: a workload's results against those: the
  elementwise chain's least traffic per call (read ``x``, write its gradient) over the
  bandwidth, as a time, and each candidate's share of it; the MLP's floating-point work per
  call (forward and backward products) over each candidate's time, against the GEMM peak.
"""

from __future__ import annotations

import pathlib
import platform
import time

import numpy as np

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    from harness import blas_info, optional_import
except ImportError:  # pragma: no cover
    from .harness import blas_info, optional_import

STREAM_ELEMENTS = 1 << 23  # 64 MiB per float64 array: far beyond any cache
GEMM_N = 1024


def cpu_name() -> str:
    """The CPU model, as ``/proc/cpuinfo`` names it (else what ``platform`` says)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_line() -> str:
    """``library version, kernel <core>, N thread(s)`` of NumPy's BLAS."""
    b = blas_info()
    return (
        f"{b.get('library', '?')} {b.get('version') or ''}".strip()
        + f", kernel {b.get('core', '?')}, {b.get('threads', '?')} thread(s)"
    )


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def stream(threads: int, n: int = STREAM_ELEMENTS, repeats: int = 5) -> dict:
    """``{"copy": GB/s, "triad": GB/s, "triad_how": str, "best": GB/s}``, best of ``repeats``."""
    a = np.ones(n)
    b = np.full(n, 2.0)
    c = np.full(n, 0.5)
    copy = 16 * n / _best(lambda: np.copyto(b, a), repeats) / 1e9
    ne = optional_import("numexpr")
    if ne is not None:
        ne.set_num_threads(threads)
        how = f"numexpr, one pass, {threads} thread(s)"

        def triad():
            ne.evaluate("b + 3.0 * c", local_dict={"b": b, "c": c}, out=a)

    else:
        how = "NumPy, two passes (a lower bound)"

        def triad():
            np.multiply(c, 3.0, out=a)
            np.add(a, b, out=a)

    tri = 24 * n / _best(triad, repeats) / 1e9
    return {"copy": copy, "triad": tri, "triad_how": how, "best": max(copy, tri)}


def gemm_gflops(dtype, n: int = GEMM_N, repeats: int = 3) -> float:
    """GFLOP/s of ``a @ b`` for square ``n`` x ``n`` matrices of ``dtype``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    return 2.0 * n**3 / _best(lambda: np.matmul(a, b, out=out), repeats) / 1e9


def mlp_flops(sizes, batch: int) -> float:
    """Floating-point operations of the products of an MLP's loss and gradient: each layer's
    forward product, its weight gradient, and its input's gradient but for the first layer."""
    layers = [2.0 * batch * m * k for m, k in zip(sizes, sizes[1:])]
    return 3 * sum(layers) - layers[0]


def bandwidth_lines(results, gbs: float, n: int) -> list[str]:
    """Per elementwise workload: the least bytes a call moves (read x, write the gradient),
    the time that takes at ``gbs`` GB/s, and each candidate's median as a share of it."""
    out = []
    for dtype in ("float64", "float32"):
        rows = [r for r in results if r.workload == f"elementwise {dtype}"]
        if not rows:
            continue
        nbytes = 2 * n * np.dtype(dtype).itemsize
        bound_us = nbytes / (gbs * 1e9) * 1e6
        shares = ", ".join(f"{r.candidate} {100 * bound_us / r.median_us:.0f}%" for r in rows)
        out.append(
            f"elementwise {dtype}: at least {nbytes / 1e6:.0f} MB per call (x in, gradient "
            f"out) = {bound_us / 1e3:.2f} ms at {gbs:.1f} GB/s; share of that bound: {shares}"
        )
    return out


def gflops_lines(results, peaks: dict, sizes, batch: int) -> list[str]:
    """Per MLP workload (inline and helpers): each candidate's GFLOP/s against the GEMM peak."""
    flops = mlp_flops(sizes, batch)
    out = []
    for r0 in results:
        key, _, dtype = r0.workload.rpartition(" ")
        if key not in ("mlp", "mlp-helpers") or r0.candidate != "hand-written":
            continue
        peak = peaks.get(dtype)
        of_peak = f"share of the {GEMM_N}x{GEMM_N} GEMM's {peak:.1f}" if peak else "no peak"
        rows = [r for r in results if r.workload == r0.workload]
        cells = ", ".join(
            f"{r.candidate} {flops / r.median_us / 1e3:.1f}"
            + (f" ({100 * flops / r.median_us / 1e3 / peak:.0f}%)" if peak else "")
            for r in rows
        )
        out.append(
            f"{r0.workload}: {flops / 1e6:.0f} MFLOP of products per call; GFLOP/s "
            f"({of_peak}): {cells}"
        )
    return out
