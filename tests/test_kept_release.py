"""A helper's vjp whose adjoint sweep releases (``del``) large arrays runs in two halves (its
forward sweep kept, see ``sourcegrad.kept``): the adjoint half never deletes a name the
forward half hands over (it raised UnboundLocalError once the arrays of a causal softmax had
known dtypes). Values stay Python's, gradients those of central differences."""

from __future__ import annotations

import numpy as np

import sourcegrad as sg

from .fd import check_running_code


def causal_softmax(s):
    """Softmax over the last axis, each position seeing itself and the positions before it."""
    T = s.shape[-1]
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -1e9)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    return e / np.sum(e, axis=-1, keepdims=True)


def attention_weights(x, w):
    return np.sum(causal_softmax(x @ np.swapaxes(x, -1, -2) / 4.0) * w)


def _args():
    rng = np.random.default_rng(6)
    return rng.standard_normal((2, 3, 24, 8)), rng.standard_normal((2, 3, 24, 24))


def test_helper_with_released_arrays_values_and_gradients():
    check_running_code(attention_weights, *_args())


def test_the_helper_runs_its_forward_once():
    text = sg.show(attention_weights, args=_args(), optimized=True)
    assert "forward_kept(" in text and "backward_kept(" in text, text
