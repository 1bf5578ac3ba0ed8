"""Generator functions defined inside the differentiated function, the way a loss walks its
layers (`def layers(): for w in ws: yield w`): a nested generator only ever called runs to
its end as a list, as module-level ones do; one stepped by `next` is refused with its line."""

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

rng = np.random.default_rng(53)


def r(*s):
    return rng.standard_normal(s)


def layer_generator(ws, x):
    def layers():
        for w in ws:  # noqa: UP028 (written as users write it)
            yield w

    h = x
    for w in layers():
        h = np.tanh(h @ w)
    return np.sum(h)


def captured_scales(w, x):
    def scaled():
        for k in range(3):
            yield w * (k + 1)

    return sum(np.sum(np.sin(v * x)) for v in scaled())


def yield_from_then_one_more(ws, x):
    def all_layers():
        yield from ws
        yield ws[0]

    h = x
    for w in all_layers():
        h = np.tanh(h * w)
    return np.sum(h)


def neighbour_pairs(ws, x):
    def pairs():
        for i in range(len(ws) - 1):
            yield ws[i], ws[i + 1]

    return sum(np.sum(a * b * x) for a, b in pairs())


def listed_generator(ws, x):
    def gen():
        for w in ws:
            yield w**2

    vals = list(gen())
    return np.sum(np.stack(vals) * x)


def stepped_by_next(ws, x):
    def gen():
        for w in ws:
            yield w * 2

    g = gen()
    a = next(g)  # REFUSED
    b = next(g)
    return np.sum(a * b * x)


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("layer_generator", layer_generator, ([r(3, 3), r(3, 2)], r(2, 3)), order=2),
            Case("captured_scales", captured_scales, (r(3), r(3)), order=2),
            Case("yield_from", yield_from_then_one_more, ([r(3), r(3)], r(3)), order=2),
            Case("neighbour_pairs", neighbour_pairs, ([r(3), r(3), r(3)], r(3)), order=2),
            Case("listed_generator", listed_generator, ([r(3), r(3)], r(3)), order=2),
            Case("stepped_by_next", stepped_by_next, ([r(3), r(3)], r(3)),
                 refused=(sg.SourcegradError, "loop over the items")),
        ]
    ),
)  # fmt: skip
def test_nested_generators(case):
    check(case)
