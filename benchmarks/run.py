"""Run the sourcegrad benchmarks and print a table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py
    python benchmarks/run.py --quick              # a short run, fewer rounds
    python benchmarks/run.py --json results.json  # also dump the results

See benchmarks/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from harness import (  # noqa: E402
    blas_info,
    environment,
    format_table,
    run_workload,
    set_blas_threads,
    warm_allocator,
)
from workloads import all_workloads, make_inputs, neural_net  # noqa: E402

import sourcegrad as sg  # noqa: E402


def first_transform_times(samples: int) -> list[float]:
    """Seconds from ``sg.grad(neural_net)`` to its first completed call, minus one later call.

    Each sample uses a fresh ``sg.grad`` object, which parses, analyses and emits anew.
    """
    params, x, y = make_inputs(1, np.float64)
    clock = time.perf_counter
    out = []
    for _ in range(samples):
        t0 = clock()
        df = sg.grad(neural_net)
        df(params, x, y)
        t1 = clock()
        df(params, x, y)
        t2 = clock()
        out.append((t1 - t0) - (t2 - t1))
        del df
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run (fewer rounds)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    ap.add_argument(
        "--rounds", type=int, help="timed rounds per workload (default 2000; 200 quick)"
    )
    ap.add_argument(
        "--rewarm", type=int, default=2, help="untimed calls before each timed call (default 2)"
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="make NumPy's BLAS (and torch) use N threads (default: leave NumPy's setting)",
    )
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter (default); cpu: the thread's CPU time, for a loaded machine\n"
        "(implies --blas-threads 1 unless given; see README)",
    )
    ap.add_argument(
        "--cold-malloc",
        action="store_true",
        help="skip harness.warm_allocator(): keep malloc's default trim and mmap thresholds",
    )
    ap.add_argument("--no-peers", action="store_true", help="only hand-written and sourcegrad")
    args = ap.parse_args(argv)

    rounds = args.rounds or (200 if args.quick else 2000)
    warmup = 20 if args.quick else 100
    transform_samples = 5 if args.quick else 11
    mem_repeats = 3 if args.quick else 5

    if args.clock == "cpu" and args.blas_threads is None:
        args.blas_threads = 1
    if args.blas_threads is not None and not set_blas_threads(args.blas_threads):
        print(f"warning: could not set NumPy's BLAS to {args.blas_threads} thread(s)")
    if not args.cold_malloc:
        warm_allocator()
    blas = blas_info()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, sourcegrad {sg.__version__}; "
        f"{os.cpu_count()} CPUs; BLAS {blas.get('library', '?')} {blas.get('core', '?')} "
        f"with {blas.get('threads', '?')} thread(s)"
    )
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: 1-minute load average is {load:.2f}; other processes skew the timings")
    if blas.get("OPENBLAS_CORETYPE") or blas.get("OPENBLAS_L2_SIZE"):
        print(
            "warning: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and may slow NumPy's BLAS; "
            "run under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`"
        )

    workloads = all_workloads(peers=not args.no_peers)
    print(
        f"{rounds} interleaved rounds per workload after {warmup} warm-up rounds; "
        f"{args.rewarm} untimed call(s) before each timed call; {args.clock} clock\n"
    )
    results = []
    for w in workloads:
        results.extend(
            run_workload(
                w,
                rounds=rounds,
                warmup=warmup,
                rewarm=args.rewarm,
                mem_repeats=mem_repeats,
                clock=args.clock,
            )
        )

    label = "median µs" if args.clock == "wall" else "median CPU µs"
    print(format_table(results, time_label=label))
    notes = [n for w in workloads for n in w.notes]
    notes += sorted({f"{r.candidate}: {r.note}" for r in results if r.note})
    stalled = sorted({r.workload for r in results if r.p90_us > 5 * r.median_us})
    if stalled:
        hint = "a quieter machine" if blas.get("threads") == 1 else "--blas-threads 1"
        notes.append(
            f"{', '.join(stalled)}: p90 over 5x the median (calls stalled: the process or its "
            f"BLAS threads waited for a busy CPU); the medians are inflated, try {hint}"
        )
    faulting = [r for r in results if (r.faults_per_call or 0) >= 0.5]
    if faulting:
        notes.append(
            "page faults per call (memory returned to the OS and faulted back in): "
            + ", ".join(f"{r.workload} {r.candidate} {r.faults_per_call:.0f}" for r in faulting)
        )
    if any(r.peak_kib is None for r in results):
        notes.append("peak KiB n/a: the library allocates outside tracemalloc's view")
    for n in notes:
        print(f"  note: {n}")

    ft = first_transform_times(transform_samples)
    ft_ms = sorted(t * 1e3 for t in ft)
    print(
        f"\nfirst transformation of the seed MLP (sg.grad -> first call, minus a later call): "
        f"median {statistics.median(ft_ms):.2f} ms over {len(ft_ms)} fresh sg.grad objects "
        f"(min {ft_ms[0]:.2f}, max {ft_ms[-1]:.2f})"
    )

    if args.json:
        doc = {
            "environment": environment(blas, load),
            "settings": {
                "rounds": rounds,
                "warmup": warmup,
                "rewarm": args.rewarm,
                "mem_repeats": mem_repeats,
                "blas_threads": args.blas_threads,
                "clock": args.clock,
                "warm_allocator": not args.cold_malloc,
            },
            "results": [r.as_dict() for r in results],
            "notes": notes,
            "first_transform_ms": {
                "median": statistics.median(ft_ms),
                "samples": [t * 1e3 for t in ft],
            },
        }
        pathlib.Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
