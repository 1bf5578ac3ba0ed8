"""A small benchmark harness: interleaved timing, tracemalloc peaks and a fixed-width table.

Every candidate is a zero-argument callable that computes "loss and gradient" for one workload
(its inputs are bound in a closure). :func:`run_workload` times all candidates of a workload
*interleaved*: after a warm-up, each round times one call of every candidate (the starting
candidate rotates from round to round), for many rounds, so that drifts in machine load,
frequency and cache state hit every candidate alike. Each timed call is preceded, in the same
slot, by ``rewarm`` untimed calls of the same candidate (default 2; see
:func:`time_interleaved` for why). Each call is timed on its own with
``time.perf_counter_ns`` (or, with ``clock="cpu"``, the thread's CPU time); the reported
figure is the median over rounds. The ratio is that
median divided by the median of the designated reference candidate of the same workload.

Peak memory is measured afterwards, separately (``tracemalloc`` slows every allocation, so it
never runs while timing): one warm-up call, then for a few calls the peak of traced memory
during the call minus the traced memory just before it; the median of those is reported. It
counts what Python objects and NumPy array buffers take (NumPy reports its buffers to
``tracemalloc``), including the returned gradient, plus what the candidate says it keeps from
one call to the next (``Candidate.held``: sourcegrad's buffer pools). Libraries that allocate through their own
allocators (torch, XLA/jax) are invisible to it: their candidates say so with
``memory_tracked=False`` and the table shows ``n/a``.
"""

from __future__ import annotations

import ctypes
import gc
import glob
import importlib
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Candidate:
    """One way of computing loss and gradient for a workload."""

    name: str
    fn: Callable[[], Any]
    # Turns fn()'s result into (loss, grads) with NumPy leaves, for the correctness check.
    to_numpy: Callable[[Any], Any] | None = None
    # False when the library allocates outside tracemalloc's view (torch, XLA).
    memory_tracked: bool = True
    note: str = ""
    # Untimed calls before each timed call; None: time_interleaved's ``rewarm`` argument.
    rewarm: int | None = None
    # Take part in every ``every``-th round only (a slow peer, so that the fast candidates get
    # many rounds within a time budget); 1: every round.
    every: int = 1
    # Bytes the candidate keeps from one call to the next (sourcegrad's buffer pools), added to
    # the peak of a call: memory allocated before the call is not in tracemalloc's peak.
    held: Callable[[], int] | None = None


@dataclass
class Result:
    workload: str
    candidate: str
    median_us: float
    ratio: float | None  # median / reference median, same workload
    peak_kib: float | None  # None: not measured, or not visible to tracemalloc
    rounds: int
    min_us: float
    p10_us: float
    p90_us: float
    peak_kib_untracked: float | None = None  # what tracemalloc saw when memory_tracked=False
    faults_per_call: float | None = None  # minor page faults per call (None: not measured)
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Workload:
    """A named set of candidates computing the same loss and gradient."""

    name: str
    candidates: list[Candidate]
    reference: str  # the name of the candidate that ratios are relative to
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- optional peers
_reported_missing: set[str] = set()


def optional_import(module: str, *, label: str | None = None):
    """Import ``module`` if it is installed; otherwise print a note (once) and return None."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if module not in _reported_missing:
            _reported_missing.add(module)
            print(f"note: {label or module} not installed ({exc}); skipping it")
        return None
    except Exception as exc:  # noqa: BLE001 - a broken install is reported and skipped
        if module not in _reported_missing:
            _reported_missing.add(module)
            print(f"note: {label or module} failed to import ({type(exc).__name__}: {exc})")
        return None


# --------------------------------------------------------------------------- timing
CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


def _clock_overhead(clock) -> int:
    """Median nanoseconds that reading ``clock`` twice around nothing reports."""
    xs = []
    for _ in range(2001):
        t0 = clock()
        xs.append(clock() - t0)
    return int(statistics.median(xs))


def time_interleaved(
    candidates: Sequence[Candidate],
    *,
    rounds: int,
    warmup: int,
    rewarm: int = 2,
    clock: str = "wall",
) -> dict[str, list[int]]:
    """Per-call times in nanoseconds, up to ``rounds`` samples per candidate, round-robin.

    Each round times one call of every candidate; the candidate that starts the round rotates.
    Before its timed call, each candidate is called ``rewarm`` times untimed in the same slot.
    Right after a slow neighbour a microsecond-scale call runs cold (caches, branch predictors,
    clock): on the 2-core development VM the hand-written batch-1 gradient took 20 µs next to
    sourcegrad alone, 25 µs with autograd in the rotation, 37 µs with jax.jit, 50 µs after a
    4 ms sleep and 73 µs with eager jax, so every ratio would depend on which peers happen to
    be installed. Two untimed calls bring those to 19-21 µs. ``rewarm=0`` measures the cold
    call. A candidate's own ``rewarm`` field, when set, overrides the argument for it.

    A candidate whose ``every`` field is k > 1 takes part in one round out of k (its warm-up
    too): ``rounds // k`` samples instead of ``rounds``. ``run.py`` uses it for peers that are
    much slower than the hand-written code, so that the reference and sourcegrad get many
    rounds within a time budget while every candidate is still timed among the others.

    ``clock="wall"`` (the default) reads ``time.perf_counter_ns``. ``clock="cpu"`` reads the
    calling thread's CPU time (``time.thread_time_ns``), less the clock's own overhead
    (about 1 µs, a system call): it leaves out the time the process waited for a CPU, so it
    holds up on a loaded machine, but it also leaves out work done on other threads (BLAS
    with more than one thread, torch, XLA), so use it with single-threaded NumPy only.
    """
    n = len(candidates)
    fns = [c.fn for c in candidates]
    rewarms = [rewarm if c.rewarm is None else c.rewarm for c in candidates]
    every = [max(1, c.every) for c in candidates]
    for k in range(warmup):
        for i, fn in enumerate(fns):
            if k < max(1, warmup // every[i]):
                fn()
    samples: list[list[int]] = [[] for _ in range(n)]
    read = CLOCKS[clock]
    overhead = _clock_overhead(read) if clock == "cpu" else 0
    gc.collect()
    for r in range(rounds):
        # a candidate with every=k takes part in one round out of k; the offsets differ, so
        # that slow candidates do not all land in the same rounds
        present = [i for i in range(n) if (r + i) % every[i] == 0]
        m = len(present)
        for j in range(m):
            i = present[(r + j) % m]  # rotate who goes first, so no one always follows another
            fn = fns[i]
            for _ in range(rewarms[i]):
                fn()
            t0 = read()
            fn()
            samples[i].append(max(0, read() - t0 - overhead))
    return {c.name: s for c, s in zip(candidates, samples)}


def peak_memory(fn: Callable[[], Any], *, repeats: int = 5) -> int:
    """Median over ``repeats`` calls of the peak traced bytes allocated during one call."""
    fn()  # warm-up: caches, lazily built code and the like are not counted
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        fn()  # one traced call, not counted, so tracemalloc's own tables are warm
        peaks = []
        for _ in range(repeats):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            out = fn()
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
            del out
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return int(statistics.median(peaks))


def candidate_peak_kib(c: Candidate, *, repeats: int = 5) -> float:
    """:func:`peak_memory` of a call of ``c``, plus what ``c`` keeps from one call to the
    next (``c.held``), in KiB."""
    peak = peak_memory(c.fn, repeats=repeats)
    return (peak + (c.held() if c.held is not None else 0)) / 1024


def page_faults(fn: Callable[[], Any], *, calls: int = 50) -> float | None:
    """Minor page faults per call, over ``calls`` calls after one warm-up call.

    Nonzero means the call's memory went back to the operating system and came back (see
    :func:`warm_allocator`). None where ``resource`` is not available.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def warm_allocator(nbytes: int = 16 << 20) -> None:
    """Allocate and free one large array, as a long-running process has usually done.

    With glibc, freeing a memory-mapped block raises malloc's mmap and trim thresholds to
    its size (dynamically, up to 32 MiB). Until that happens, a call whose temporaries add
    up to more than 128 KiB at the top of the heap hands them back to the operating system
    when it returns and page-faults them in again on the next call: on the development VM
    that put 68 page faults and about 300 µs on each batch-256 float64 sourcegrad call, and
    none on the hand-written one, whose temporaries are fewer. Which state a benchmark
    process is in depends on its history (imports, earlier workloads), so ``run.py`` fixes
    it with this call.
    """
    import numpy as np

    block = np.ones(nbytes // 8)
    del block


def _quantile(sorted_xs: list[float], q: float) -> float:
    if not sorted_xs:
        return float("nan")
    k = min(len(sorted_xs) - 1, max(0, round(q * (len(sorted_xs) - 1))))
    return sorted_xs[k]


def run_workload(
    workload: Workload,
    *,
    rounds: int,
    warmup: int,
    rewarm: int = 2,
    memory: bool = True,
    mem_repeats: int = 5,
    faults: bool = True,
    clock: str = "wall",
) -> list[Result]:
    """Time (interleaved) and measure (tracemalloc) every candidate of ``workload``."""
    names = [c.name for c in workload.candidates]
    if workload.reference not in names:
        raise ValueError(f"reference {workload.reference!r} is not among candidates {names}")
    times = time_interleaved(
        workload.candidates, rounds=rounds, warmup=warmup, rewarm=rewarm, clock=clock
    )
    medians = {name: statistics.median(ts) / 1e3 for name, ts in times.items()}
    ref = medians[workload.reference]
    results = []
    for c in workload.candidates:
        ts = sorted(t / 1e3 for t in times[c.name])
        peak = candidate_peak_kib(c, repeats=mem_repeats) if memory else None
        results.append(
            Result(
                workload=workload.name,
                candidate=c.name,
                median_us=medians[c.name],
                ratio=medians[c.name] / ref if ref > 0 else None,
                peak_kib=peak if c.memory_tracked else None,
                peak_kib_untracked=None if c.memory_tracked else peak,
                faults_per_call=page_faults(c.fn) if faults else None,
                rounds=len(ts),
                min_us=ts[0],
                p10_us=_quantile(ts, 0.10),
                p90_us=_quantile(ts, 0.90),
                note=c.note,
            )
        )
    return results


# --------------------------------------------------------------------------- checks
class CheckError(AssertionError):
    """A candidate's loss or gradient disagrees with the reference, or it changed its inputs."""


def compare_leaves(pairs, *, name, ref, dtype, workload, rtol, atol_frac) -> list[str]:
    """Raise CheckError unless every ``(label, got, want)`` of ``pairs`` agrees: the same shape,
    finite, ``np.allclose`` with ``rtol`` and ``atol = atol_frac * max |want|``. Returns notes
    about results whose dtype is not ``dtype``."""
    notes = []
    for label, a, b in pairs:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise CheckError(f"{workload}: {name} gives {label} shape {a.shape}; {ref} {b.shape}")
        atol = atol_frac * float(np.max(np.abs(b))) if b.size else 0.0
        if not np.all(np.isfinite(a)) or not np.allclose(a, b, rtol=rtol, atol=atol):
            err = np.max(np.abs(a.astype(np.float64) - b))
            raise CheckError(
                f"{workload}: {name} and {ref} disagree on {label} (max abs difference "
                f"{err:.3g}, max |{ref}| {np.max(np.abs(b)):.3g}; rtol={rtol}, atol={atol:.3g})"
            )
        if a.dtype != np.dtype(dtype):
            notes.append(f"{workload}: {name} returns {label} as {a.dtype}, not {np.dtype(dtype)}")
    return notes


# --------------------------------------------------------------------------- reporting
def layout(headers: Sequence[str], rows: Sequence[Sequence[str]], groups: Sequence) -> str:
    """A fixed-width table: the first two columns left-aligned, the others right-aligned, a
    blank line wherever ``groups`` (one key per row) changes."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(
            c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    for k, row in enumerate(rows):
        if k and groups[k] != groups[k - 1]:
            out.append("")
        out.append(line(row))
    return "\n".join(out)


def format_table(
    results: Sequence[Result], *, reference_label: str = "hand-written", time_label="median µs"
) -> str:
    """A fixed-width table: workload, candidate, median µs, ratio vs reference, peak KiB."""
    headers = ["workload", "candidate", time_label, f"× {reference_label}", "peak KiB"]
    rows = [
        [
            r.workload,
            r.candidate,
            f"{r.median_us:,.1f}",
            "—" if r.ratio is None else f"{r.ratio:.2f}",
            "n/a" if r.peak_kib is None else f"{r.peak_kib:,.1f}",
        ]
        for r in results
    ]
    return layout(headers, rows, [r.workload for r in results])


def print_table(results: Sequence[Result], **kwargs) -> None:
    print(format_table(results, **kwargs))


# --------------------------------------------------------------------------- environment
def _openblas():
    """``(get_num_threads, get_corename, set_num_threads)`` of the OpenBLAS NumPy loaded, or
    None (not OpenBLAS, or not found)."""
    import numpy as np

    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    paths = sorted(glob.glob(os.path.join(libs, "*openblas*")))
    try:  # any other OpenBLAS this process has loaded (system or conda NumPy)
        with open("/proc/self/maps") as maps:
            paths += sorted({ln.split()[-1] for ln in maps if "openblas" in ln.split()[-1]})
    except OSError:
        pass
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (
            ("scipy_openblas_", "64_"),
            ("scipy_openblas_", ""),
            ("openblas_", ""),
        ):
            try:
                get = getattr(lib, f"{prefix}get_num_threads{suffix}")
                core = getattr(lib, f"{prefix}get_corename{suffix}")
                put = getattr(lib, f"{prefix}set_num_threads{suffix}")
            except AttributeError:
                continue
            get.restype = ctypes.c_int
            core.restype = ctypes.c_char_p
            put.argtypes = [ctypes.c_int]
            put.restype = None
            return get, core, put
    return None


def blas_info() -> dict:
    """NumPy's BLAS: library, kernel (core type) and thread count, where they can be read."""
    info: dict = {
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:  # threadpoolctl, when it is installed, knows every BLAS
        import threadpoolctl

        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        # NumPy's own first: SciPy (imported by scikit-learn) may bring another OpenBLAS
        pools.sort(key=lambda p: "numpy" not in os.path.dirname(p.get("filepath") or ""))
        for pool in pools:
            if pool.get("user_api") == "blas":
                info.update(
                    library=pool.get("internal_api"),
                    threads=pool.get("num_threads"),
                    core=pool.get("architecture"),
                    version=pool.get("version"),
                )
                return info
    except ImportError:
        pass
    fns = _openblas()
    if fns is not None:
        get, core, _ = fns
        info.update(library="openblas", threads=get(), core=core().decode())
    return info


def set_blas_threads(n: int) -> bool:
    """Make NumPy's BLAS use ``n`` threads from now on; False when that cannot be done."""
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(limits=n, user_api="blas")  # stays until changed
        return True
    except ImportError:
        pass
    fns = _openblas()
    if fns is None:
        return False
    fns[2](n)
    return True


def numpy_blas_threads() -> int | None:
    """How many threads NumPy's BLAS uses, or None when that cannot be told."""
    threads = blas_info().get("threads")
    if isinstance(threads, int) and threads > 0:
        return threads
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


_jax = None


def import_jax():
    """JAX configured for CPU and float64 (else float64 inputs silently become float32), or
    None when it is not installed. Where NumPy's BLAS runs one thread, XLA gets one core too,
    as torch gets one thread: XLA sizes its thread pool by the CPUs the process may run on
    when it starts (``XLA_FLAGS`` thread options are not honoured by its CPU runtime), so the
    calling thread is pinned to one CPU while JAX starts, and let go afterwards."""
    global _jax
    if _jax is None:
        pin = numpy_blas_threads() == 1 and hasattr(os, "sched_setaffinity")
        cpus = os.sched_getaffinity(0) if pin else None
        if pin:
            os.sched_setaffinity(0, {min(cpus)})
        try:
            jax = optional_import("jax")
            if jax is None:
                _jax = False
                return None
            jax.config.update("jax_enable_x64", True)
            jax.config.update("jax_platforms", "cpu")
            jax.jit(lambda a: a + 1.0)(jax.numpy.ones(2)).block_until_ready()  # start XLA
        finally:
            if pin:
                os.sched_setaffinity(0, cpus)
        _jax = jax
    return _jax or None


def environment(blas, load) -> dict:
    """What a JSON result records about the machine and versions."""
    import os
    import platform

    import numpy as np

    import sourcegrad as sg

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sourcegrad": sg.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "blas": blas,
        "loadavg_1min_at_start": load,
        "loadavg_1min_at_end": os.getloadavg()[0],
    }


_torch = None


def import_torch():
    """PyTorch with as many threads as NumPy's BLAS uses (1 if that cannot be told), or None
    when it is not installed."""
    global _torch
    if _torch is None:
        torch = optional_import("torch")
        if torch is None:
            _torch = False
            return None
        threads = numpy_blas_threads()
        if threads is None:
            print("note: cannot tell how many threads NumPy's BLAS uses; torch gets 1 thread")
            threads = 1
        torch.set_num_threads(threads)
        _torch = torch
    return _torch or None


def jax_candidates(jax, loss, args, jit_note: str = "") -> list:
    """``jax`` (eager) and ``jax.jit`` candidates for ``jax.value_and_grad(loss)(*args)``."""
    import numpy as np

    on_device = jax.device_put(tuple(args))
    eager = jax.value_and_grad(loss)
    jitted = jax.jit(eager)

    def to_numpy(out):
        value, g = out
        return np.asarray(value), jax.tree_util.tree_map(np.asarray, g)

    note = "XLA buffers are not seen by tracemalloc"
    return [
        Candidate(
            "jax",
            lambda: jax.block_until_ready(eager(*on_device)),
            to_numpy,
            memory_tracked=False,
            note=note,
        ),
        Candidate(
            "jax.jit",
            lambda: jax.block_until_ready(jitted(*on_device)),
            to_numpy,
            memory_tracked=False,
            note=note + jit_note,
        ),
    ]
