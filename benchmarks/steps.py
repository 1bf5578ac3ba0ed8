"""The library's training steps as rows of ``run.py``'s table: the digits CNN step of
``training.py`` and the LSTM language-model step of ``training_lstm.py`` (each: loss, gradient
and an Adam update, float64), with those scripts' candidates and first-step checks."""

from __future__ import annotations

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    import training
    import training_lstm
    from harness import Workload
except ImportError:  # pragma: no cover
    from . import training, training_lstm
    from .harness import Workload

KEYS = ("digits-cnn-step", "lstm-lm-step")


def _kept(candidates, peers: bool):
    return [c for c in candidates if peers or not c.name.startswith("torch")]


def workloads(*, peers: bool = True) -> list[Workload]:
    """The two training steps, every candidate checked on the first step (raises otherwise)."""
    params, x, labels = training.digits_cnn.example_args()
    x, labels = x[: training.BATCH], labels[: training.BATCH]
    training.check_first_step(params, x, labels)
    cnn = _kept(training.candidates(params, x, labels), peers)
    params, xs, labels = training_lstm.make_inputs()
    training_lstm.check_first_step(params, xs, labels)
    lstm = _kept(training_lstm.candidates(params, xs, labels, True), peers)
    return [
        Workload(f"{KEYS[0]} float64", cnn, "hand-written"),
        Workload(f"{KEYS[1]} float64", lstm, "hand-written"),
    ]
