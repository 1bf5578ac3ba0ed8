"""An hvp runs a helper's forward once (``higher/kept_tangents.py``), through halves built for
the ranks of the seed the helper's vjp is given; the seed a call was given is remembered for
the helper's code, so later calls and other callers of the helper (another ``hvp``) run the
halves of that seed's build at once. Seeds of a helper returning a dict (``DictPieces``), a
tuple or a number are remembered too. Values are Python's, Hessian-vector
products those of central differences of the gradient, on calls 1-3."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import kept_tangents
from sourcegrad.runtime.signature import rank_signature
from sourcegrad.runtime.trees import DictPieces

from .ported.harness import Case, check, params

R = np.random.default_rng(4107)


def r(*s):
    return R.standard_normal(s)


def make_layer(W, b):
    return {"W": np.tanh(W), "b": b * 2.0}


def split_layer(W, b):
    return np.tanh(W), b * b


def listed_layer(W, b):
    return [np.sin(W), b * 3.0]


def scalar_penalty(W, b):
    return np.sum(W**2) * np.sum(b)


def dict_loss(W, b, x):
    p = make_layer(W, b)
    return np.sum(np.tanh(p["W"] @ x + p["b"]) ** 2)


def dict_loss_again(W, b, x):
    p = make_layer(W, b)
    return np.sum(np.cos(x @ p["W"]) * p["b"])


def tuple_loss(W, b, x):
    A, c = split_layer(W, b)
    return np.sum((A @ x + c) ** 2)


def list_loss(W, b, x):
    A, c = listed_layer(W, b)
    return np.sum(np.tanh(A @ x) * c)


def scalar_loss(W, b, x):
    return scalar_penalty(W, b) ** 2 + np.sum(x * b)


ARGS = (r(3, 3), r(3), r(3))
CASES = [
    Case(f.__name__, f, ARGS, wrt=(0, 1), order=2)
    for f in (dict_loss, dict_loss_again, tuple_loss, list_loss, scalar_loss)
]


@pytest.mark.parametrize("case", params(CASES))
def test_hvp_through_a_helper_whose_seed_is_a_container(case):
    check(case)


@pytest.mark.parametrize(
    "loss, helper, kind",
    [
        (dict_loss, make_layer, DictPieces),
        (tuple_loss, split_layer, tuple),
    ],
)
def test_the_seed_a_helper_was_given_is_remembered(loss, helper, kind):
    sg.hvp(loss, wrt=(0, 1))(*ARGS, (r(3, 3), r(3)))
    seeds = [
        s
        for key, s in list(kept_tangents._SEEDS.items())
        if key[0] is helper.__code__ and s is not None
    ]
    assert seeds and all(type(s) is kind for s in seeds), seeds
    got = [rank_signature(s) for s in seeds]
    assert all(len(g) == 3 for g in got), got  # (the type, then a part per item)
