"""Golden files of the running code of the transformer block, the CNN and the elementwise
chain (the benchmark workloads, at small sizes), by default and under ``exact=False``, and
their values and gradients on calls 1-3 against Python's value and central differences.

To accept a deliberate change: SOURCEGRAD_UPDATE_GOLDEN=1 python -m pytest
tests/test_dense_golden.py and read the diff (git diff tests/golden) before committing.
"""

from __future__ import annotations

import os
import pathlib
import sys

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import DEFAULT_TIERS

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import attention  # noqa: E402
import suite  # noqa: E402

GOLDEN = pathlib.Path(__file__).parent / "golden"


def _elementwise_inputs():
    rng = np.random.default_rng(5)
    return rng.standard_normal(50), 0.7


WORKLOADS = {
    "transformer": (
        attention.transformer_loss,
        lambda: attention.transformer_inputs(np.float64, sizes=(2, 5, 8)),
    ),
    "cnn": (suite.cnn_loss, lambda: suite.cnn_inputs(np.float64)),
    "elementwise": (suite.elementwise_loss, _elementwise_inputs),
}


def _running(df, args) -> str:
    for _ in range(3):
        df(*args)
    return df.emitted(tuple(args), specialise=True).pretty(optimized=True)


@DEFAULT_TIERS
@pytest.mark.parametrize("exact", [True, False], ids=["exact", "inexact"])
@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_running_source_matches_golden(name, exact):
    f, inputs = WORKLOADS[name]
    text = _running(sg.value_and_grad(f, exact=exact), inputs())
    path = GOLDEN / f"{name}{'' if exact else '.inexact'}.running.py"
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with SOURCEGRAD_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def _flat(tree) -> np.ndarray:
    if isinstance(tree, dict):
        return np.concatenate([_flat(tree[k]) for k in sorted(tree)])
    return np.ravel(tree)


def _unflatten_like(tree, flat):
    out, at = {}, 0
    for k in sorted(tree):
        n = np.size(tree[k])
        out[k] = flat[at : at + n].reshape(np.shape(tree[k]))
        at += n
    return out


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "inexact"])
@pytest.mark.parametrize("name", ["transformer", "cnn"])
def test_values_and_gradients_on_three_calls(name, exact):
    f, inputs = WORKLOADS[name]
    params, *rest = inputs()
    want = f(params, *rest)
    flat = _flat(params)
    rng = np.random.default_rng(7)
    picked = rng.choice(flat.size, 12, replace=False)  # a sample of entries, each checked

    def along(entries):
        full = flat.copy()
        full[picked] = entries
        return f(_unflatten_like(params, full), *rest)

    g_fd = numerical_grad(along, (flat[picked],), 0)
    df = sg.value_and_grad(f, exact=exact)
    for _ in range(3):
        value, g = df(params, *rest)
        if exact:
            assert value == want
        else:
            np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(_flat(g)[picked], g_fd, rtol=1e-5, atol=1e-7)
