"""Start-up time: ``import sourcegrad``, and the first calls of a fresh derivative, by phase.

    python benchmarks/startup.py                 # seed MLP, LSTM, helper MLP, model LSTM: 5 each
    python benchmarks/startup.py --samples 9     # more processes per workload
    python benchmarks/startup.py --cpu           # CPU time of the measured thread, not wall
    python benchmarks/startup.py --profile lstm  # cProfile of the LSTM's first two calls

Every sample runs in a new process in which numpy, gast and sourcegrad are already imported
(black is not: a gradient call never formats text, and the report says whether the calls
imported it), with ``SOURCEGRAD_CACHE_DIR`` pointing at a new empty directory: the first call
is cold (nothing built in this process nor kept on disk). The workloads: ``mlp``, the seed MLP
(batch 1); ``lstm``, the benchmark LSTM written inline; ``helpers``, the MLP written with helper
functions (``catalog.mlp_helpers_loss``: its derivative calls theirs); ``model``, the training
benchmark's loss, ``sg.model``'s LSTM and a linear head (layer objects, ``training_lstm.loss``).
Per workload it prints, median over the processes, in ms:

* ``first``: the first call of a fresh ``sg.value_and_grad`` (parse, normalize, analyze,
  reverse, simplify, emit, compile, run), and ``transform``: the first call minus a later one;
  ``all phases``: the time in the timed phases (the transformation itself), and ``outside the
  phases``: the rest of the first call, mostly running the derivative built for the ranks
  (pure, not optimized: slower than the third call's code, and run cold); ``pure build,
  warm``: a later call of that same pure derivative (``optimize=False``), the part of the
  first call no transformation work can remove;
* ``second``: the second call, which builds the code specialised to the shapes (optimize);
* ``create + 3 calls``: making the derivative and calling it three times;
* ``collector``: the time Python's cyclic garbage collector runs in the first call (builds
  pause it; its first collection after a build walks every object the build left alive);
* ``faults``: minor page faults in the first and the third call (memory the process
  touches for the first time: the first run of a build page-faults in its tape and
  temporaries, about 2 µs per 4 KiB page), and in a warm call of the pure build (malloc
  gives a freed tape back to the system, so each call of it faults its tape in again);
* each phase's own time (time in nested phases counted there) in the first and second calls;
* ``warm disk``: the same calls in a second new process that reads the disk cache the first
  one wrote (same source, same sourcegrad, same arguments): its first call loads the build
  the first process specialised to these shapes and optimized, where that can be kept.

``import sourcegrad`` is timed in new processes too (after numpy and gast), with and without
bytecode caches (``PYTHONDONTWRITEBYTECODE`` set, as on some machines, recompiles every module
at each import). NumPy's BLAS runs one thread. Timings vary with the machine's load: compare runs
made side by side; on a busy machine ``--cpu`` (the measured thread's CPU time, and the import's
process CPU time) is steadier than wall time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: the phases timed, as (label, module, attribute): each attribute is wrapped by a timer
PHASES = (
    ("parse", "sourcegrad.derivative", "parse"),
    ("normalize", "sourcegrad.pipeline", "normalize"),
    ("analyze", "sourcegrad.pipeline", "analyze"),
    ("shapes", "sourcegrad.pipeline", "concrete_shapes"),
    ("reverse", "sourcegrad.pipeline", "reverse"),
    ("forward", "sourcegrad.pipeline", "forward"),
    ("simplify", "sourcegrad.pipeline", "simplify"),
    ("optimize", "sourcegrad.pipeline", "optimize"),
    ("emit+compile", "sourcegrad.pipeline", "emit_source"),
    ("disk cache", "sourcegrad.disk_cache", "build_key"),
    ("disk cache", "sourcegrad.disk_cache", "load"),
    ("disk cache", "sourcegrad.disk_cache", "store"),
)
WORKLOADS = ("mlp", "lstm", "helpers", "model")


# ---------------------------------------------------------------- in the measured process
def _workload(name: str):
    """``(function, args)`` of a workload: the seed MLP (batch 1) or the benchmark LSTM."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    if name == "mlp":
        import workloads

        return workloads.neural_net, workloads.make_inputs(1, np.float64)
    if name == "helpers":
        import catalog
        import suite

        return catalog.mlp_helpers_loss, suite.mlp_inputs(np.float64)
    if name == "model":
        import training_lstm

        return training_lstm.loss, training_lstm.make_inputs()
    import recurrent

    return recurrent.lstm_loss, recurrent.make_inputs("lstm", np.float64)


class CollectorTimer:
    """A ``gc.callbacks`` entry adding up the time of the collections it sees on ``clock``."""

    def __init__(self, clock=time.perf_counter):
        self.clock, self.spent, self._started = clock, 0.0, None

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = self.clock()
        elif self._started is not None:
            self.spent += self.clock() - self._started
            self._started = None

    def take(self) -> float:
        out, self.spent = self.spent, 0.0
        return out


class PhaseTimer:
    """Wraps the phase functions: each call's time on ``clock``, less the time of phases
    nested in it, is added to its label (``self.own``)."""

    def __init__(self, clock=time.perf_counter):
        self.own: dict = {}
        self._stack: list = []
        self.clock = clock

    def wrap(self, label: str, fn):
        def timed(*args, **kwargs):
            self._stack.append(0.0)
            t0 = self.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = self.clock() - t0
                nested = self._stack.pop()
                self.own[label] = self.own.get(label, 0.0) + spent - nested
                if self._stack:
                    self._stack[-1] += spent

        return timed

    def install(self) -> None:
        import importlib

        for label, module, attr in PHASES:
            mod = importlib.import_module(module)
            setattr(mod, attr, self.wrap(label, getattr(mod, attr)))

    def take(self) -> dict:
        out, self.own = self.own, {}
        return out


def child(name: str, profile: bool, cpu: bool = False, cache: str | None = None) -> dict:
    """One sample, in this (fresh) process: the first three calls of a new derivative, timed
    by wall clock or, with ``cpu``, by this thread's CPU time; the disk cache is ``cache``
    (as an earlier process left it), else a new empty directory."""
    import gast  # noqa: F401 - imported before, as in a program that uses sourcegrad
    import numpy as np  # noqa: F401

    clock = time.thread_time if cpu else time.perf_counter
    t0 = clock()
    import sourcegrad as sg

    import_s = clock() - t0
    black_loaded = "black" in sys.modules

    fn, args = _workload(name)
    os.environ["SOURCEGRAD_CACHE_DIR"] = cache or tempfile.mkdtemp(prefix="sgcache-startup-")
    timer = PhaseTimer(clock)
    if profile:
        import cProfile
        import pstats

        vg = sg.value_and_grad(fn)
        pr = cProfile.Profile()
        pr.enable()
        vg(*args)
        vg(*args)
        pr.disable()
        for key in ("cumtime", "tottime"):
            pstats.Stats(pr).sort_stats(key).print_stats(45)
        return {}
    timer.install()
    collector = CollectorTimer(clock)
    gc.callbacks.append(collector)
    t0 = clock()
    vg = sg.value_and_grad(fn)
    t1 = clock()
    faults0 = _minor_faults()
    vg(*args)
    t2 = clock()
    faults1 = _minor_faults()
    first_phases = timer.take()
    collector_first = collector.take()
    vg(*args)
    t3 = clock()
    second_phases = timer.take()
    faults2 = _minor_faults()
    vg(*args)
    t4 = clock()
    faults3 = _minor_faults()
    black_after_calls = "black" in sys.modules
    pure = sg.value_and_grad(fn, optimize=False)  # what the first call runs, here warm
    pure(*args)
    t5 = clock()
    faults4 = _minor_faults()
    pure(*args)
    t6 = clock()
    faults5 = _minor_faults()
    gc.callbacks.remove(collector)
    return {
        "import_s": import_s,
        "black_after_import": black_loaded,
        "black_after_calls": black_after_calls,
        "pure_warm": t6 - t5,
        "first": t2 - t1,
        "second": t3 - t2,
        "third": t4 - t3,
        "create_and_3": t4 - t0,
        "first_phases": first_phases,
        "second_phases": second_phases,
        "faults_first": faults1 - faults0,
        "faults_third": faults3 - faults2,
        "faults_pure_warm": faults5 - faults4,
        "collector_first": collector_first,
    }


def _minor_faults() -> int:
    """Minor page faults of this process so far (memory touched for the first time)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# ---------------------------------------------------------------- the driver
def _run_child(name: str, cpu: bool, cache: str | None = None) -> dict:
    # one BLAS thread, as benchmarks/run.py runs by default: on a busy machine a second
    # thread's spin-waits can cost the LSTM's call seconds, hiding what the transform costs
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    flags = (["--cpu"] if cpu else []) + (["--cache", cache] if cache else [])
    out = subprocess.run(
        [sys.executable, __file__, "--child", name] + flags,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def import_times(samples: int, bytecode: bool, cpu: bool) -> list[float]:
    """Seconds of ``import sourcegrad`` after numpy and gast, each in a new process (wall
    clock, or with ``cpu`` the process's CPU time); with ``bytecode`` the modules' bytecode
    is cached (in a temporary prefix), else recompiled."""
    clock = "process_time" if cpu else "perf_counter"
    code = (
        f"import time, numpy, gast; t = time.{clock}(); import sourcegrad; "
        f"print(time.{clock}() - t)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="sg-pyc-")
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = []
    for _ in range(samples):
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        )
        out.append(float(done.stdout.split()[-1]))
    return out


def _median_ms(samples: list[dict], key: str) -> float:
    return statistics.median(s[key] for s in samples) * 1e3


def _median_of(samples: list[dict], value) -> float:
    return statistics.median(value(s) for s in samples) * 1e3


def _outside_phases(sample: dict) -> float:
    """The first call's time outside every timed phase: running the code built for the
    ranks (the pure derivative, slower than the optimized code the third call runs, and cold)
    and the call's own bookkeeping."""
    return sample["first"] - sum(sample["first_phases"].values())


def _phase_rows(samples: list[dict], key: str) -> dict:
    labels = dict.fromkeys(label for label, _, _ in PHASES)
    return {
        label: statistics.median(s[key].get(label, 0.0) for s in samples) * 1e3 for label in labels
    }


def report(samples_per: int, cpu: bool) -> None:
    print(f"load average before: {os.getloadavg()}; timed: {'CPU time' if cpu else 'wall'}")
    for bytecode in (True, False):
        times = import_times(samples_per, bytecode, cpu)
        what = "bytecode cached" if bytecode else "no bytecode cache (recompiled)"
        print(
            f"import sourcegrad (after numpy, gast), {what}: median "
            f"{statistics.median(times) * 1e3:.0f} ms (min {min(times) * 1e3:.0f})"
        )
    results: dict = {name: [] for name in WORKLOADS}
    warm: dict = {name: [] for name in WORKLOADS}
    for name in WORKLOADS:
        for _ in range(samples_per):  # a cold process, then a second one on its disk cache
            cache = tempfile.mkdtemp(prefix="sgcache-startup-")
            results[name].append(_run_child(name, cpu, cache))
            warm[name].append(_run_child(name, cpu, cache))
    any_sample = results[WORKLOADS[0]][0]
    print(
        f"black imported by `import sourcegrad`: {any_sample['black_after_import']}; "
        f"by the calls: {any_sample['black_after_calls']}"
    )
    print(f"\nmedian of {samples_per} fresh processes, ms (empty disk cache):")
    header = f"  {'':22s}" + "".join(f"{name:>10s}" for name in WORKLOADS)
    print(header)
    rows = [
        ("first call", lambda s: _median_ms(s, "first")),
        ("  transform", lambda s: _median_ms(s, "first") - _median_ms(s, "third")),
        ("  all phases", lambda s: _median_of(s, lambda x: sum(x["first_phases"].values()))),
        ("  outside the phases", lambda s: _median_of(s, _outside_phases)),
        ("    collector", lambda s: _median_ms(s, "collector_first")),
        ("  pure build, warm", lambda s: _median_ms(s, "pure_warm")),
        ("second call", lambda s: _median_ms(s, "second")),
        ("  optimizing build", lambda s: _median_ms(s, "second") - _median_ms(s, "third")),
        ("third call", lambda s: _median_ms(s, "third")),
        ("create + 3 calls", lambda s: _median_ms(s, "create_and_3")),
    ]
    for label, value in rows:
        print(f"  {label:22s}" + "".join(f"{value(results[n]):10.1f}" for n in WORKLOADS))
    faults = (
        ("faults_first", "first call"),
        ("faults_third", "third call"),
        ("faults_pure_warm", "pure, warm"),
    )
    for key, label in faults:
        counts = [statistics.median(s[key] for s in results[n]) for n in WORKLOADS]
        print(f"  {'faults, ' + label:22s}" + "".join(f"{c:10.0f}" for c in counts))
    print("\nwarm disk: a second process on the first one's disk cache, median, ms:")
    print(header)
    for label, value in rows[:1] + rows[6:7] + rows[8:]:
        print(f"  {label:22s}" + "".join(f"{value(warm[n]):10.1f}" for n in WORKLOADS))
    disk = [("first_phases", "  disk cache, first"), ("second_phases", "  disk cache, second")]
    for key, label in disk:
        got = [
            _median_of(warm[n], lambda x, key=key: x[key].get("disk cache", 0.0)) for n in WORKLOADS
        ]
        print(f"  {label:22s}" + "".join(f"{v:10.1f}" for v in got))
    for key, title in (("first_phases", "first call"), ("second_phases", "second call")):
        print(f"\n  phases of the {title} (own time, ms):")
        per = {name: _phase_rows(results[name], key) for name in WORKLOADS}
        for label in per[WORKLOADS[0]]:
            print(f"    {label:20s}" + "".join(f"{per[n][label]:10.1f}" for n in WORKLOADS))
    print(f"\nload average after: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=5, help="processes per workload")
    ap.add_argument("--profile", choices=WORKLOADS, help="cProfile the first two calls")
    ap.add_argument("--cpu", action="store_true", help="time CPU use instead of wall clock")
    ap.add_argument("--child", choices=WORKLOADS, help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, profile=False, cpu=args.cpu, cache=args.cache)))
    elif args.profile:
        os.environ["SOURCEGRAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="sgcache-startup-")
        child(args.profile, profile=True)
    else:
        report(args.samples, args.cpu)


if __name__ == "__main__":
    main()
