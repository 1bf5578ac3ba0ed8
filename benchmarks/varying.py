"""The LSTM of ``recurrent.py`` trained on sequences of one length against lengths that vary.

Each candidate runs ``steps`` loss-and-gradient calls twice over: with every sequence of
length ``FIXED_T`` (20), and with lengths drawn from 5..35 (the same draw for everyone; mean
about 20). sourcegrad starts from a fresh ``sg.value_and_grad`` with its kept derivatives
forgotten (``sg.api.clear_cache()``), so its first pass pays for every build the lengths
cause; a second pass over the same lengths measures it warm. Reported per candidate: the time
per step of each pass, the varying-length time per step over the fixed-length one (per time
step: the lengths' mean is not exactly 20), and for sourcegrad the number of builds (how many
times ``Pipeline.build`` ran, and how many of those transformed the function rather than
reading the build from the disk cache).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import sourcegrad as sg
from sourcegrad import pipeline

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    import recurrent
except ImportError:  # pragma: no cover
    from . import recurrent

FIXED_T, LOW, HIGH = 20, 5, 35


class BuildCounter:
    """Counts ``Pipeline.build`` calls (builds) and ``Pipeline._build`` calls (transformations)
    while active, by wrapping the two methods; restores them on exit."""

    def __init__(self):
        self.builds = 0
        self.transformed = 0

    def __enter__(self):
        cls = pipeline.Pipeline
        self._saved = {name: cls.__dict__.get(name) for name in ("build", "_build")}
        counter = self

        def wrap(name, attr):
            original = self._saved[name]
            if original is None:
                return

            def counted(*args, **kwargs):
                setattr(counter, attr, getattr(counter, attr) + 1)
                return original(*args, **kwargs)

            setattr(cls, name, counted)

        wrap("build", "builds")
        wrap("_build", "transformed")
        return self

    def __exit__(self, *exc):
        for name, original in self._saved.items():
            if original is not None:
                setattr(pipeline.Pipeline, name, original)
        return False


def _sequences(dtype, lengths, seed=1):
    """``(params, [xs of each length], y)``: one parameter set, inputs per length."""
    params, _, y = recurrent.make_inputs("lstm", dtype, seed)
    rng = np.random.default_rng(seed)
    n, d = recurrent.BATCH, recurrent.D_IN
    pool = {T: rng.standard_normal((T, n, d)).astype(dtype) for T in sorted(set(lengths))}
    return params, [pool[T] for T in lengths], y


def _pass(fn, params, seqs, y) -> list[float]:
    times = []
    for xs in seqs:
        t0 = time.perf_counter()
        fn(params, xs, y)
        times.append(time.perf_counter() - t0)
    return times


def run(dtype=np.float64, steps: int = 200, seed: int = 0) -> dict:
    """``{candidate: {fixed_first, fixed_warm, varying_first, varying_warm (s per call lists),
    builds...}}`` and the lengths used, under ``"lengths"``."""
    rng = np.random.default_rng(seed)
    lengths = [int(t) for t in rng.integers(LOW, HIGH + 1, size=steps)]
    out = {"lengths": lengths}
    for label, make in (
        ("hand-written", lambda: recurrent.lstm_bptt),
        ("sourcegrad", lambda: sg.value_and_grad(recurrent.lstm_loss)),
    ):
        row = {}
        for kind, lens in (("fixed", [FIXED_T] * steps), ("varying", lengths)):
            params, seqs, y = _sequences(dtype, lens)
            sg.api.clear_cache()
            fn = make()
            with BuildCounter() as count:
                row[f"{kind}_first"] = _pass(fn, params, seqs, y)
                row[f"{kind}_builds"] = count.builds
                row[f"{kind}_transformed"] = count.transformed
            row[f"{kind}_warm"] = _pass(fn, params, seqs, y)
        out[label] = row
    return out


def lines(got: dict) -> list[str]:
    """The table of :func:`run`'s result, as text lines."""
    lengths = got["lengths"]
    mean_t = statistics.fmean(lengths)
    head = (
        f"{'candidate':13s} {'fixed ms/step':>13s} {'varying ms/step':>15s} "
        f"{'per time step':>13s} {'1st pass':>9s} {'builds fixed/varying':>21s}"
    )
    out = [
        f"LSTM float64, {len(lengths)} steps: T = {FIXED_T} fixed vs T drawn from {LOW}..{HIGH} "
        f"(mean {mean_t:.1f}, {len(set(lengths))} lengths). ms/step: median of the warm pass; "
        "per time step: varying / fixed, warm; 1st pass: total time of the first varying "
        "pass (builds included) over the first fixed pass",
        head,
        "-" * len(head),
    ]
    for label in ("hand-written", "sourcegrad"):
        row = got[label]
        fixed = statistics.median(row["fixed_warm"])
        varying = statistics.median(row["varying_warm"])
        per_t = (sum(row["varying_warm"]) / sum(lengths)) / (
            sum(row["fixed_warm"]) / (FIXED_T * len(lengths))
        )
        first = sum(row["varying_first"]) / sum(row["fixed_first"])
        builds = (
            f"{row['fixed_builds']}/{row['varying_builds']} "
            f"({row['fixed_transformed']}/{row['varying_transformed']} made)"
            if label == "sourcegrad"
            else "—"
        )
        out.append(
            f"{label:13s} {fixed * 1e3:13.2f} {varying * 1e3:15.2f} {per_t:13.2f} "
            f"{first:9.2f} {builds:>21s}"
        )
    return out
