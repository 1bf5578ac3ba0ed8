"""Dataclass instances as parameter trees in the library: ``sg.util`` tree functions,
``ravel``, the optimizers, ``save``/``load``; and a dataclass with a ``shape`` property taken
as a record, not as an array, when a derivative is specialised to its arguments."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.util import TreeStructureError

R = np.random.default_rng(5)


@dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"

    @property
    def shape(self):
        return self.W.shape


def layers():
    return [Dense(R.standard_normal((3, 4)), R.standard_normal(4), "relu"),
            Dense(R.standard_normal((4, 2)), R.standard_normal(2), "lin")]  # fmt: skip


def net(layers, x):
    for layer in layers:
        x = x @ layer.W + layer.b
        if layer.act == "relu":
            x = np.maximum(x, 0.0)
    return np.mean(x**2)


def test_tree_structure_and_unflatten_keep_the_class_and_settings():
    ls = layers()
    leaves, treedef = sg.util.tree_flatten(ls)
    assert len(leaves) == 6  # the `act` strings are static leaves
    back = treedef.unflatten(leaves)
    assert [type(v) for v in back] == [Dense, Dense]
    assert back[0].act == "relu" and back[1].W is ls[1].W
    assert "Dense(W=*, b=*, act=*)" in repr(treedef)


def test_ravel_round_trip():
    ls = layers()
    flat, unravel = sg.util.ravel(ls)
    assert flat.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    back = unravel(flat)
    assert back[1].act == "lin"
    np.testing.assert_array_equal(back[0].W, ls[0].W)


def test_adam_steps_a_list_of_dataclasses_in_place():
    ls, x = layers(), R.standard_normal((5, 3))
    ids = [id(layer.W) for layer in ls]
    opt = sg.optim.Adam(ls, lr=1e-2)
    before = net(ls, x)
    for _ in range(30):
        opt.step(sg.grad(net)(ls, x))
    assert net(ls, x) < before
    assert [id(layer.W) for layer in ls] == ids


def test_save_and_load_dataclasses(tmp_path):
    ls = layers()
    path = tmp_path / "layers.npz"
    sg.util.save(path, ls)
    plain = sg.util.load(path)  # no class to build: a namedtuple of the name and fields
    assert type(plain[0]).__name__ == "Dense" and plain[0].act == "relu"
    got = sg.util.load(path, like=ls)
    assert type(got[0]) is Dense and got[1].act == "lin"
    np.testing.assert_array_equal(got[1].W, ls[1].W)
    P = namedtuple("P", "W b")
    with pytest.raises(TreeStructureError, match="dataclass Dense"):
        sg.util.load(path, like=[P(ls[0].W, ls[0].b), ls[1]])


def affine_loss(m, x):
    assert m.shape[0] == x.shape[1]
    return np.sum(np.tanh(x @ m.W + m.b))


def test_a_record_with_a_shape_property_is_not_taken_for_an_array():
    m, x = Dense(R.standard_normal((3, 2)), R.standard_normal(2)), R.standard_normal((4, 3))
    df = sg.value_and_grad(affine_loss)
    for _ in range(3):  # the specialised, optimized code runs from the second call on
        value, g = df(m, x)
        assert value == affine_loss(m, x)
        assert type(g) is Dense and g.W.shape == (3, 2)
    eps, k = 1e-6, (1, 1)
    up, down = m.W.copy(), m.W.copy()
    up[k] += eps
    down[k] -= eps
    fd = (affine_loss(Dense(up, m.b), x) - affine_loss(Dense(down, m.b), x)) / (2 * eps)
    np.testing.assert_allclose(g.W[k], fd, rtol=1e-6)
