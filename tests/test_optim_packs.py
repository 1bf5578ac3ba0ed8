"""Small parameters are stepped together (``sourcegrad.optim.packs``): the numbers are the
ones each leaf gets alone, bit for bit, in every dtype; the state reads and restores leaf by
leaf; the parameters are the user's arrays, changed in place, and a change the user makes
between steps is seen."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.optim.packs import PACK_LEAF_LIMIT

OPTIMIZERS = [
    (sg.optim.Adam, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (sg.optim.AdamW, dict(lr=1e-2)),
    (sg.optim.SGD, dict(lr=1e-2, momentum=0.9, nesterov=True)),
    (sg.optim.RMSprop, dict(lr=1e-2, centered=True, momentum=0.5)),
    (sg.optim.Adagrad, dict(lr=1e-1, initial_accumulator_value=0.3)),
]


def _tree(rng):
    return {
        "conv": [
            {"weight": rng.standard_normal((4, 2, 3, 3)), "bias": rng.standard_normal(4)},
            {"weight": rng.standard_normal((3, 4)).astype(np.float32)},
        ],
        "scale": rng.standard_normal(()),
        "bias32": rng.standard_normal(5).astype(np.float32),
        "big": rng.standard_normal(PACK_LEAF_LIMIT + 1),
        "name": "a static leaf",
    }


def _grads(tree, rng):
    return sg.util.tree_map(
        lambda p: p if isinstance(p, str) else rng.standard_normal(p.shape).astype(p.dtype), tree
    )


def _leaves(tree):
    return [p for p in sg.util.tree_leaves(tree) if not isinstance(p, str)]


@pytest.mark.parametrize("cls, kw", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_each_leaf_gets_the_numbers_it_gets_alone(cls, kw):
    rng = np.random.default_rng(0)
    params = _tree(rng)
    alone = [p.copy() for p in _leaves(params)]
    opt = cls(params, **kw)
    assert opt._packs, "the small leaves are packed"
    singles = [cls([p], **kw) for p in alone]
    originals = [id(p) for p in _leaves(params)]
    for _ in range(5):
        grads = _grads(params, rng)
        opt.step(grads)
        for single, g in zip(singles, _leaves(grads)):
            single.step([g])
    assert [id(p) for p in _leaves(params)] == originals  # in place
    for got, want in zip(_leaves(params), alone):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cls, kw", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_state_reads_and_restores_leaf_by_leaf(cls, kw):
    rng = np.random.default_rng(1)
    params = _tree(rng)
    opt = cls(params, **kw)
    for _ in range(3):
        opt.step(_grads(params, rng))
    saved = opt.state_dict()
    twin_params = sg.util.tree_map(lambda p: p if isinstance(p, str) else p.copy(), params)
    twin = cls(twin_params, **kw)
    twin.load_state_dict(saved)
    for _ in range(3):
        grads = _grads(params, rng)
        opt.step(grads)
        twin.step(grads)
    for a, b in zip(_leaves(params), _leaves(twin_params)):
        np.testing.assert_array_equal(a, b)
    for name, tree in opt.state_dict()["state"].items():
        theirs = twin.state_dict()["state"][name]
        for a, b in zip(_leaves(tree), _leaves(theirs)):
            np.testing.assert_array_equal(a, b)


def test_a_change_to_the_parameters_between_steps_is_seen():
    rng = np.random.default_rng(2)
    params = [rng.standard_normal(3), rng.standard_normal(4)]
    opt = sg.optim.SGD(params, lr=0.5)
    grads = [np.ones(3), np.ones(4)]
    opt.step(grads)
    params[0][...] = 10.0
    opt.step(grads)
    np.testing.assert_array_equal(params[0], np.full(3, 9.5))
