"""Run the sourcegrad benchmarks and print one table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py
    python benchmarks/run.py --quick                # a smoke run, a few minutes
    python benchmarks/run.py --only mlp,newton      # some workloads (keys or prefixes)
    python benchmarks/run.py --no-peers             # hand-written and sourcegrad only
    python benchmarks/run.py --threads all          # NumPy's BLAS and every peer on all cores
    python benchmarks/run.py --extras none          # no machine lines, steps or varying T
    python benchmarks/run.py --json results.json    # also dump every number

Workloads (each in float64 and float32): seed-b1, seed-b256, mlp, mlp-helpers, rnn, lstm,
elementwise, newton, cnn, gru, transformer, transformer-helpers; see suite.py and catalog.py.
Candidates: hand-written (the reference), sourcegrad, and where installed autograd, jax,
jax.jit, torch and tangent. Extras (all by default, none with --only unless --extras names
them): ``machine`` (CPU, BLAS kernel, STREAM bandwidth and GEMM peak, and the elementwise
chain's and the MLP's figures against them), ``steps`` (the training steps of training.py and
training_lstm.py as rows of the table), ``varying`` (LSTM with T fixed vs T from 5..35, and
sourcegrad's builds). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _all_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _reexec_for_all_cores(argv: list[str]) -> None:
    """With ``--threads all``, run again with every thread-count variable at the number of
    cores where one is set lower: a BLAS reads them once, when NumPy is imported."""
    if "--threads=all" not in argv and "--threads all" not in " ".join(argv):
        return
    n = _all_cores()
    low = [v for v in THREAD_VARIABLES if os.environ.get(v, str(n)) != str(n)]
    if low:
        env = {**os.environ, **{v: str(n) for v in low}}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__":
    _reexec_for_all_cores(sys.argv[1:])

import catalog  # noqa: E402
import machine  # noqa: E402
import numpy as np  # noqa: E402
import recurrent  # noqa: E402
import steps  # noqa: E402
import suite  # noqa: E402
import varying  # noqa: E402
from harness import (  # noqa: E402
    Result,
    blas_info,
    candidate_peak_kib,
    environment,
    layout,
    optional_import,
    page_faults,
    run_workload,
    set_blas_threads,
    warm_allocator,
)

import sourcegrad as sg  # noqa: E402

DTYPE_NAMES = {"float64": np.float64, "float32": np.float32}
# Share of a workload's time budget per candidate: the reference and sourcegrad count double.
WEIGHTS = {suite.REFERENCE: 2.0, "sourcegrad": 2.0}
PEER_DISTS = {
    "autograd": "autograd",
    "jax": "jax",
    "torch": "torch",
    "tangent": "tangent-ad",
}


def call_seconds(fn, calls: int = 2) -> float:
    """The fastest of ``calls`` calls (after one warm-up call), in seconds. One untimed call
    comes first: sourcegrad's second call builds the derivative specialised to shapes, which
    on a loaded machine takes long enough to pass for the call's own cost."""
    fn()
    t0 = time.perf_counter()
    fn()
    best = time.perf_counter() - t0
    if best > 0.2:  # slow enough: the call just made stands for itself
        return best
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def plan(workload, secs, *, budget, min_samples, max_rounds, rewarm, rounds=None):
    """Rounds for ``workload`` and each candidate's ``rewarm`` and ``every`` (set in place).

    Every candidate gets a share of ``budget`` (the reference and sourcegrad twice a peer's);
    its number of samples is its share over the cost of one timed call with its untimed ones,
    within [min_samples, max_rounds]. The workload runs as many rounds as the candidate with
    the most samples needs; a candidate with fewer takes part in every k-th round only.
    Untimed calls before a timed one: ``rewarm`` below 1 ms, at most 1 below 10 ms, else none.
    """
    cands = workload.candidates
    for c in cands:
        t = secs[c.name]
        c.rewarm = rewarm if t < 1e-3 else min(rewarm, 1) if t < 1e-2 else 0
    if rounds is not None:
        for c in cands:
            c.every = 1
        return rounds
    total_weight = sum(WEIGHTS.get(c.name, 1.0) for c in cands)
    samples = {}
    for c in cands:
        share = budget * WEIGHTS.get(c.name, 1.0) / total_weight
        per_sample = secs[c.name] * (1 + c.rewarm)
        samples[c.name] = int(max(min_samples, min(max_rounds, share / max(per_sample, 1e-9))))
    n_rounds = max(samples.values())
    for c in cands:
        c.every = max(1, round(n_rounds / samples[c.name]))
    return n_rounds


def _three_calls(spec, args) -> tuple[float, float, float]:
    """The times of a fresh ``sg.value_and_grad``'s first three calls, in seconds (the
    object's making counted with the first)."""
    clock = time.perf_counter
    sg.api.clear_cache()  # a new process's first call: no build kept in memory for reuse
    t0 = clock()
    vg = sg.value_and_grad(spec.loss)
    vg(*args)
    t1 = clock()
    vg(*args)
    t2 = clock()
    vg(*args)
    t3 = clock()
    return t1 - t0, t2 - t1, t3 - t2


def first_call_times(spec, dtype, samples: int) -> list[tuple[float, float, float, float]]:
    """``(first call, first call minus a later call, second call minus a later call, first
    call with the disk cache warm)`` in seconds, per fresh ``sg.value_and_grad`` object. The
    first call parses, analyses, emits and compiles the derivative specialised to ranks; the
    second call with the same shapes builds the one specialised to shapes (no second build
    where no argument is an array); the third call runs only generated code. Each sample runs
    with an empty disk cache (``SOURCEGRAD_CACHE_DIR``, a new directory), as a new user's
    first process does; the last figure is a new object's first call in the same directory
    afterwards, as a later process's is (nothing kept in memory, the builds on disk)."""
    args = spec.inputs(dtype)
    out = []
    saved = os.environ.get("SOURCEGRAD_CACHE_DIR")
    try:
        for _ in range(samples):
            with tempfile.TemporaryDirectory(prefix="sg-first-call-") as fresh:
                os.environ["SOURCEGRAD_CACHE_DIR"] = fresh
                first, second, later = _three_calls(spec, args)
                warm_disk = _three_calls(spec, args)[0]
            out.append((first, first - later, second - later, warm_disk))
    finally:
        if saved is None:
            os.environ.pop("SOURCEGRAD_CACHE_DIR", None)
        else:
            os.environ["SOURCEGRAD_CACHE_DIR"] = saved
    return out


def _ms(us: float) -> str:
    ms = us / 1e3
    if ms < 1:
        return f"{ms:.4f}"
    if ms < 10:
        return f"{ms:.3f}"
    if ms < 100:
        return f"{ms:.2f}"
    return f"{ms:,.1f}"


def format_table(results: list[Result], time_label: str = "median ms") -> str:
    """workload, candidate, median (ms), ratio to the hand-written median, peak KiB, samples."""
    headers = ["workload", "candidate", time_label, f"× {suite.REFERENCE}", "peak KiB", "n"]
    rows = [
        [
            r.workload,
            r.candidate,
            _ms(r.median_us),
            "—" if r.ratio is None else f"{r.ratio:.2f}",
            "n/a" if r.peak_kib is None else f"{r.peak_kib:,.1f}",
            str(r.rounds),
        ]
        for r in results
    ]
    return layout(headers, rows, [r.workload for r in results])


def geomean(xs) -> float:
    xs = list(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def peer_versions() -> dict[str, str | None]:
    out = {}
    for name, dist in PEER_DISTS.items():
        try:
            out[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


EXTRAS = ("machine", "steps", "varying")


def choose_extras(extras: str | None, only: str | None) -> set[str]:
    """The extras named in ``extras`` (all by default; none by default with ``only``)."""
    if extras is None:
        return set() if only else set(EXTRAS)
    chosen = {e.strip() for e in extras.split(",") if e.strip()} - {"none"}
    unknown = chosen - set(EXTRAS)
    if unknown:
        raise ValueError(f"unknown extras {sorted(unknown)}; known: {', '.join(EXTRAS)}, none")
    return chosen


def machine_limits(threads: int) -> dict:
    """STREAM bandwidth and GEMM peaks, measured now (before any workload is timed)."""
    got = {"cpu": machine.cpu_name(), "blas": machine.blas_line()}
    got["stream"] = machine.stream(threads)
    got["gemm_gflops"] = {
        np.dtype(d).name: machine.gemm_gflops(d) for d in (np.float64, np.float32)
    }
    return got


def machine_lines(limits: dict, results: list[Result]) -> list[str]:
    """The machine's lines, then each workload's figures against them."""
    st, peaks = limits["stream"], limits["gemm_gflops"]
    out = [
        f"machine: {limits['cpu']}; BLAS {limits['blas']}",
        f"STREAM: copy {st['copy']:.1f} GB/s, triad {st['triad']:.1f} GB/s ({st['triad_how']})",
        f"GEMM {machine.GEMM_N}x{machine.GEMM_N}: "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items()),
    ]
    out += machine.bandwidth_lines(results, st["best"], suite.ELEMENTWISE_N)
    out += machine.gflops_lines(results, peaks, suite.MLP_SIZES, suite.MLP_BATCH)
    return out


PAIRS = (("mlp-helpers", "mlp"), ("transformer-helpers", "transformer"))


def pair_lines(results: list[Result]) -> list[str]:
    """sourcegrad's time for each model written with helpers over the same model inline."""
    med = {(r.workload, r.candidate): r.median_us for r in results}
    out = []
    for helpers, inline in PAIRS:
        for (w, c), t in med.items():
            key, _, dtype = w.rpartition(" ")
            twin = med.get((f"{inline} {dtype}", c))
            if key == helpers and c == "sourcegrad" and twin:
                out.append(f"{helpers} / {inline} {dtype}, {c}: {t / twin:.2f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: small budgets (~1 min)")
    ap.add_argument(
        "--only", metavar="NAME[,NAME]", help="workloads: " + ", ".join(catalog.SPEC_KEYS)
    )
    ap.add_argument(
        "--extras",
        metavar="NAME[,NAME]",
        help="machine, steps, varying, or none (default: all; none with --only)",
    )
    ap.add_argument(
        "--threads",
        choices=("1", "all"),
        help="all: NumPy's BLAS, torch, jax and numexpr on every core (overrides --blas-threads)",
    )
    ap.add_argument("--dtypes", default="float64,float32", help="default: float64,float32")
    ap.add_argument("--no-peers", action="store_true", help="only hand-written and sourcegrad")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    ap.add_argument(
        "--budget",
        type=float,
        help="seconds of timed calls per workload and dtype (default 14; 1 with --quick)",
    )
    ap.add_argument(
        "--rounds", type=int, help="timed rounds per workload, every candidate in every round"
    )
    ap.add_argument(
        "--rewarm",
        type=int,
        default=2,
        help="untimed calls before each timed call of a candidate under 1 ms (default 2;\n"
        "at most 1 under 10 ms, none above)",
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        metavar="N",
        help="NumPy's BLAS (and torch) threads (default 1: on a busy 2-core machine\n"
        "OpenBLAS's threads stall each other, 5-20x on some calls); 0 leaves NumPy's",
    )
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter (default); cpu: the thread's CPU time (single-threaded only)",
    )
    ap.add_argument(
        "--cold-malloc",
        action="store_true",
        help="skip harness.warm_allocator(): keep malloc's default trim and mmap thresholds",
    )
    args = ap.parse_args(argv)

    try:
        specs = catalog.select(args.only)
        extras = choose_extras(args.extras, args.only)
    except ValueError as exc:
        ap.error(str(exc))
    if args.threads:
        args.blas_threads = _all_cores() if args.threads == "all" else 1
    try:
        dtypes = [DTYPE_NAMES[d.strip()] for d in args.dtypes.split(",") if d.strip()]
    except KeyError as exc:
        ap.error(f"unknown dtype {exc}; known: float64, float32")
    quick = args.quick
    budget = args.budget if args.budget is not None else (1.0 if quick else 14.0)
    min_samples, max_rounds = (3, 200) if quick else (9, 2000)
    mem_repeats = 1 if quick else 5
    first_samples = 2 if quick else 5
    started = time.perf_counter()

    if args.clock == "cpu" and args.blas_threads == 0:
        ap.error("--clock cpu needs single-threaded BLAS; leave --blas-threads at 1")
    if args.blas_threads > 0 and not set_blas_threads(args.blas_threads):
        print(f"warning: could not set NumPy's BLAS to {args.blas_threads} thread(s)")
    if not args.cold_malloc:
        warm_allocator(recurrent.WARM_ALLOCATOR_BYTES)
    ne = optional_import("numexpr")
    if ne is not None:  # for sourcegrad's fused backend where it uses numexpr, and STREAM
        ne.set_num_threads(max(1, args.blas_threads or _all_cores()))
    blas = blas_info()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, sourcegrad {sg.__version__}; "
        f"{os.cpu_count()} CPUs: {machine.cpu_name()}; BLAS {machine.blas_line()}"
    )
    versions = peer_versions()
    if args.no_peers:
        print("peers: none (--no-peers)")
    else:
        print(
            "peers: "
            + ", ".join(f"{k} {v}" if v else f"{k} not installed" for k, v in versions.items())
        )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: 1-minute load average is {load:.2f}; other processes skew the timings")
    if blas.get("OPENBLAS_CORETYPE") or blas.get("OPENBLAS_L2_SIZE"):
        print(
            "warning: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and may slow NumPy's BLAS; "
            "run under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`"
        )
    print("\nworkloads:")
    for s in specs:
        print(f"  {s.key:19s} {s.describe}")
    limits = machine_limits(args.blas_threads or _all_cores()) if "machine" in extras else {}

    # ------------------------------------------------------------------ build and check
    workloads = []
    for s in specs:
        # jax compiles the 50-step loops for several seconds per dtype: not in a smoke run
        exclude = {"jax", "jax.jit"} if quick and s.key in ("rnn", "lstm") else set()
        for d in dtypes:
            workloads.append(suite.make_workload(s, d, peers=not args.no_peers, exclude=exclude))
    if "steps" in extras:
        workloads += steps.workloads(peers=not args.no_peers)
    if any(s.key == "cnn" for s in specs):
        print(f"cnn data: {suite.digits_source()}")
    print(
        f"every candidate kept agrees with {suite.REFERENCE} (checked against sourcegrad first); "
        f"built in {time.perf_counter() - started:.0f} s\n"
    )

    # ------------------------------------------------------------------ time and measure
    results: list[Result] = []
    plans = {}
    for w in workloads:
        t0 = time.perf_counter()
        secs = {c.name: call_seconds(c.fn, calls=1 if quick else 2) for c in w.candidates}
        n_rounds = plan(
            w,
            secs,
            budget=budget,
            min_samples=min_samples,
            max_rounds=max_rounds,
            rewarm=args.rewarm,
            rounds=args.rounds,
        )
        warmup = max(2, min(100 if not quick else 20, n_rounds // 10))
        got = run_workload(
            w,
            rounds=n_rounds,
            warmup=warmup,
            rewarm=args.rewarm,
            memory=False,
            faults=False,
            clock=args.clock,
        )
        for c, r in zip(w.candidates, got):
            t = secs[c.name]
            if c.memory_tracked:
                reps = mem_repeats if t < 0.05 else max(1, mem_repeats // 2)
                r.peak_kib = candidate_peak_kib(c, repeats=reps)
            calls = int(max(1 if quick else 2, min(50, (0.1 if quick else 0.3) / max(t, 1e-9))))
            r.faults_per_call = page_faults(c.fn, calls=calls)
        results.extend(got)
        slow = ", ".join(f"{c.name} 1/{c.every}" for c in w.candidates if c.every > 1)
        plans[w.name] = {
            "rounds": n_rounds,
            "warmup": warmup,
            "every": {c.name: c.every for c in w.candidates},
            "rewarm": {c.name: c.rewarm for c in w.candidates},
        }
        print(
            f"timed {w.name}: {n_rounds} rounds{f' (rounds taken: {slow})' if slow else ''}, "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )

    # ------------------------------------------------------------------ report
    print()
    label = "median ms" if args.clock == "wall" else "median CPU ms"
    print(format_table(results, time_label=label))

    print()
    sg_ratios = {r.workload: r.ratio for r in results if r.candidate == "sourcegrad" and r.ratio}
    by_dtype = {}
    for d in dtypes:
        name = np.dtype(d).name
        xs = [v for k, v in sg_ratios.items() if k.endswith(" " + name)]
        by_dtype[name] = geomean(xs) if xs else None
        if xs:
            print(
                f"sourcegrad / hand-written, geometric mean over {len(xs)} workloads, {name}: "
                f"{by_dtype[name]:.2f}"
            )
    overall = geomean(sg_ratios.values()) if sg_ratios else None
    if overall is not None:
        print(f"sourcegrad / hand-written, geometric mean over all {len(sg_ratios)}: {overall:.2f}")
    for line in pair_lines(results):
        print(line)
    missing = [
        w.name
        for w in workloads
        if w.name not in sg_ratios and w.name.rpartition(" ")[0] not in steps.KEYS
    ]
    if missing:
        print(f"  (sourcegrad missing from: {', '.join(missing)})")
    candidates = []
    for r in results:
        if r.candidate not in candidates and r.candidate not in (
            suite.REFERENCE,
            "sourcegrad",
            suite.INEXACT,
        ):
            candidates.append(r.candidate)
    peer_means = {}
    for name in candidates:
        xs = [r.ratio for r in results if r.candidate == name and r.ratio]
        peer_means[name] = (geomean(xs), len(xs))
    if peer_means:
        print(
            "peers / hand-written, geometric mean over the workloads each ran: "
            + ", ".join(f"{k} {v:.2f} ({n})" for k, (v, n) in peer_means.items())
        )

    notes = [n for w in workloads for n in w.notes]
    by_note: dict[tuple[str, str], list[str]] = {}  # (candidate, note) -> workloads
    for r in results:
        if r.note:
            key = r.workload.split()[0]
            seen = by_note.setdefault((r.candidate, r.note), [])
            if key not in seen:
                seen.append(key)
    notes += [f"{c} ({', '.join(ws)}): {n}" for (c, n), ws in sorted(by_note.items())]
    stalled = sorted({r.workload for r in results if r.p90_us > 3 * r.median_us})
    if stalled:
        notes.append(
            f"{', '.join(stalled)}: p90 over 3x the median (calls stalled on a busy CPU); "
            "the medians may be inflated"
        )
    faulting = [r for r in results if (r.faults_per_call or 0) >= 0.5]
    if faulting:
        notes.append(
            "page faults per call (memory returned to the OS and faulted back in): "
            + ", ".join(f"{r.workload} {r.candidate} {r.faults_per_call:.0f}" for r in faulting)
        )
    if any(r.peak_kib is None for r in results):
        notes.append("peak KiB n/a: the library allocates outside tracemalloc's view")
    if notes:
        print("\nnotes:")
    for n in notes:
        print(f"  {n}")

    print(
        "\nsourcegrad first call (a fresh sg.value_and_grad, empty disk cache: parse, analyse, "
        "emit, compile, run), its transform (first call minus a later call), the shape "
        "specialisation of the second call (second minus a later call), and a first call with "
        f"the builds on disk (a later process), median of {first_samples}, ms:"
    )
    first = {}
    header = "  ".join(
        f"{np.dtype(d).name:>8s} first  transform  2nd: shapes  disk warm" for d in dtypes
    )
    print(f"  {'workload':19s}  {header}")
    for s in specs:
        cells = []
        for d in dtypes:
            name = f"{s.key} {np.dtype(d).name}"
            try:
                samples = first_call_times(s, d, first_samples)
            except Exception as exc:  # noqa: BLE001 - reported in the table already
                cells.append(f"{'failed':>14s}  {type(exc).__name__:>33s}")
                continue
            a, b, c, w = (statistics.median(x[k] for x in samples) * 1e3 for k in range(4))
            first[name] = {
                "first_call_ms": [x[0] * 1e3 for x in samples],
                "transform_ms": [x[1] * 1e3 for x in samples],
                "shape_specialisation_ms": [x[2] * 1e3 for x in samples],
                "first_call_disk_warm_ms": [x[3] * 1e3 for x in samples],
            }
            cells.append(f"{a:14.1f}  {b:9.1f}  {c:11.1f}  {w:9.1f}")
        print(f"  {s.key:19s}  " + "  ".join(cells))

    if limits:
        print()
        for line in machine_lines(limits, results):
            print(line)
    varied = None
    if "varying" in extras:
        varied = varying.run(steps=60 if quick else 200)
        print()
        print("\n".join(varying.lines(varied)))

    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.0f} s")

    if args.json:
        doc = {
            "environment": environment(blas, load),
            "peers": versions,
            "settings": {
                "quick": quick,
                "budget_s": budget,
                "min_samples": min_samples,
                "max_rounds": max_rounds,
                "rewarm": args.rewarm,
                "blas_threads": args.blas_threads or None,
                "clock": args.clock,
                "warm_allocator": not args.cold_malloc,
                "plans": plans,
            },
            "cnn_data": suite.digits_source(),
            "results": [r.as_dict() for r in results],
            "sourcegrad_geomean": {**by_dtype, "overall": overall},
            "notes": notes,
            "sourcegrad_first_call": first,
            "machine": limits,
            "varying_length": varied,
            "total_s": elapsed,
        }
        pathlib.Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
