"""Random-program fuzzer for sourcegrad (generator and checks: tests/program_fuzz.py).

    python benchmarks/fuzz.py --programs 10000 --seed 0 [--jobs 2] [--shrink /tmp/fuzz_repros]

Runs N generated programs (program i has seed ``program_seed(seed, i)``) and prints a summary:
wrong values, wrong gradients (first order), wrong Hessian-vector products, arguments modified,
internal exceptions (an exception that is not a SourcegradError, or one raised from inside
sourcegrad/runtime), timeouts, refusals (SourcegradError) grouped by cause, and programs skipped
because a branch boundary or kink was within the finite-difference step. Every result goes to
``--out`` (JSON lines). With ``--shrink DIR``, the failures are deduplicated by cause and the
smallest program of each cause is shrunk (lines and blocks removed while it keeps failing the
same way) and written to DIR as a standalone reproducer.

``--seeds 12 345`` re-checks given program seeds and prints their source and result;
``--family aliasing`` draws the features of memory shared between names
(tests/program_fuzz_aliasing.py) alone, ``--family objects`` those of code written with
objects (tests/program_fuzz_objects.py), ``--family training`` training loops calling the
derivatives step after step while the parameters, shapes, dtypes and globals change
(tests/program_fuzz_training.py), ``--family python`` the Python language features people use
in losses (tests/program_fuzz_python.py) (give it again with ``--seeds``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "--lib" in sys.argv:  # test another copy of the library (e.g. a snapshot of HEAD)
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--lib") + 1]).resolve()))

from tests import program_fuzz as pf  # noqa: E402

_dir = None


def _init():
    global _dir
    warnings.simplefilter("ignore")
    _dir = tempfile.mkdtemp(prefix="sg_fuzz_")


def _work(task):
    seed, budget = task
    t = time.perf_counter()
    try:
        r = pf.run_one(seed, _dir, budget)
    except BaseException as exc:  # noqa: BLE001 - a bug of the fuzzer itself
        r = pf.Result(seed, "invalid_program", "fuzzer", repr(exc), f"fuzzer: {type(exc).__name__}")
    return {**r.__dict__, "seconds": time.perf_counter() - t}


def summarize(results: list[dict]) -> str:
    n = len(results)
    counts = Counter(r["category"] for r in results)
    out = [f"{n} programs", "", f"{'category':<18}{'count':>8}{'rate':>10}"]
    for cat in pf.CATEGORIES:
        out.append(
            f"{cat:<18}{counts.get(cat, 0):>8}{100.0 * counts.get(cat, 0) / max(n, 1):>9.2f}%"
        )
    for title, cats in (("failures", pf.FAILURES), ("refusals", ("refusal",))):
        causes = Counter((r["category"], r["cause"]) for r in results if r["category"] in cats)
        if not causes:
            continue
        out += ["", f"{title} by cause:", f"{'count':>7}{'rate':>9}  category: cause"]
        for (cat, cause), k in causes.most_common():
            out.append(f"{k:>7}{100.0 * k / n:>8.2f}%  {cat}: {cause}")
    secs = sorted(r["seconds"] for r in results)
    if secs:
        out += [
            "",
            f"time per program: median {secs[len(secs) // 2]:.2f} s, "
            f"max {secs[-1]:.1f} s, total {sum(secs):.0f} s",
        ]
    return "\n".join(out)


def shrink_failures(results: list[dict], directory: Path, per_cause: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    by_cause = defaultdict(list)
    for r in results:
        if r["category"] in pf.FAILURES:
            by_cause[(r["category"], r["cause"])].append(r["seed"])
    order = {c: i for i, c in enumerate(pf.CATEGORIES)}
    tmp = tempfile.mkdtemp(prefix="sg_fuzz_shrink_")
    index = []
    for n_cause, ((cat, cause), seeds) in enumerate(
        sorted(by_cause.items(), key=lambda kv: (order[kv[0][0]], -len(kv[1])))
    ):
        progs = sorted((pf.generate(s) for s in seeds), key=lambda p: p.source.count("\n"))
        # representatives with different feature sets (a coarse cause may hide several bugs)
        seen, picked = set(), []
        for p in progs:
            key = frozenset(k for k in p.knobs if not k.startswith("net:"))
            if key not in seen:
                seen.add(key)
                picked.append(p)
            if len(picked) >= per_cause:
                break
        for j, prog in enumerate(picked):
            r = pf.run_one(prog.seed, tmp, pf.TIME_BUDGET_S, program=prog)
            if r.category != cat:
                print(f"seed {prog.seed}: no longer {cat} ({r.category})", file=sys.stderr)
                continue
            t = time.perf_counter()
            small, small_r = pf.shrink(prog, r, tmp)
            name = f"{n_cause:02d}_{cat}_{j}_seed{prog.seed}.py"
            (directory / name).write_text(pf.repro_text(small, small_r))
            index.append(f"{name}: {len(seeds)} programs; {cat}: {cause}")
            print(
                f"shrunk seed {prog.seed} ({cat}) from {prog.source.count(chr(10))} to "
                f"{small.source.count(chr(10))} lines in {time.perf_counter() - t:.0f} s -> {name}",
                file=sys.stderr,
            )
    (directory / "INDEX.txt").write_text("\n".join(index) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--programs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--budget", type=float, default=pf.TIME_BUDGET_S, help="seconds per program")
    ap.add_argument("--out", default="/tmp/fuzz_results.jsonl")
    ap.add_argument("--shrink", metavar="DIR", help="write a shrunk reproducer per failure cause")
    ap.add_argument(
        "--per-cause", type=int, default=2, help="reproducers per cause (with --shrink)"
    )
    ap.add_argument(
        "--from-results", metavar="FILE", help="summarize/shrink FILE instead of running"
    )
    ap.add_argument("--lib", metavar="DIR", help="import sourcegrad from DIR/sourcegrad")
    ap.add_argument("--seeds", type=int, nargs="*", help="re-check these program seeds verbosely")
    ap.add_argument(
        "--family",
        choices=["aliasing", "objects", "python", "training"],
        help="draw the features of one family (aliasing: memory shared between names; objects: "
        "code written with classes and methods; python: the Python language features people use in losses; training: derivatives called in a loop that "
        "updates the parameters and changes shapes, dtypes and globals between calls) instead "
        "of all",
    )
    a = ap.parse_args(argv)
    pf.FAMILY = a.family
    print(f"sourcegrad from {Path(pf.sg.__file__).parent}", file=sys.stderr)

    if a.seeds:
        _init()
        for s in a.seeds:
            prog = pf.generate(s)
            r = pf.run_one(s, _dir, a.budget)
            print(
                f"# seed {s}: {r.category} ({r.phase}) {r.cause}\n{prog.source}"
                f"# wrt={prog.wrt!r} kwargs={prog.kwargs!r} hvp={prog.hvp}\n{r.detail}\n"
            )
        return 0

    if a.from_results:
        results = [
            json.loads(line) for line in Path(a.from_results).read_text().splitlines() if line
        ]
    else:
        tasks = [(pf.program_seed(a.seed, i), a.budget) for i in range(a.programs)]
        results = []
        t0 = time.perf_counter()
        with open(a.out, "w") as out:
            if a.jobs > 1:
                ctx = mp.get_context("fork")
                with ctx.Pool(a.jobs, initializer=_init, maxtasksperchild=250) as pool:
                    it = pool.imap_unordered(_work, tasks, chunksize=4)
                    for r in it:
                        results.append(r)
                        out.write(json.dumps(r) + "\n")
                        if len(results) % 500 == 0:
                            out.flush()
                            print(
                                f"{len(results)} programs, {time.perf_counter() - t0:.0f} s",
                                file=sys.stderr,
                                flush=True,
                            )
            else:
                _init()
                for task in tasks:
                    r = _work(task)
                    results.append(r)
                    out.write(json.dumps(r) + "\n")
        print(f"ran in {time.perf_counter() - t0:.0f} s with {a.jobs} processes", file=sys.stderr)
    print(summarize(results))
    if a.shrink:
        shrink_failures(results, Path(a.shrink), a.per_cause)
    n_fail = sum(r["category"] in pf.FAILURES for r in results)
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
