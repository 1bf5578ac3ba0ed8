"""The dtypes and ranks of names that lengths of shapes (``B, T, C = x.shape``, ``C // nh``) and NumPy
functions without a declared dtype rule (``np.swapaxes``, ``np.where``, ``np.tril``) decide
are known to the running code, so that the in-place rewrites apply after them (the transformer
block's attention ran every later operation into a new array, 96 MB peak against 47 MB).
Values stay Python's, gradients those of central differences and the pure derivative."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check_running_code


def attention_scores(x, w):
    """Causal softmax of scaled scores, written as a transformer block writes it."""
    B, T, C = x.shape
    hd = C // 2
    s = x @ np.swapaxes(x, -1, -2) / hd**0.5
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask, s, -1e9)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    a = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(np.tanh(a * w) * w)


def mixed_where(x, y):
    """``np.where`` of a float32 and a float64 operand: a float64 result, never written into
    the float32 operand's memory."""
    s = np.swapaxes(x * 2.0, 0, 1)
    t = np.where(s > 0.0, s, y)
    u = np.exp(t)
    return np.sum(u * u)


def _scores_args():
    rng = np.random.default_rng(3)
    return rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 5))


def test_scores_values_and_gradients():
    check_running_code(attention_scores, *_scores_args())


def test_operations_after_swapaxes_and_where_run_in_place():
    text = sg.show(attention_scores, args=_scores_args(), optimized=True)
    assert "np.exp(s_6, out=s_6)" in text, text  # after `hd = C // nh`, swapaxes, np.where


def test_softmax_adjoint_runs_in_place():
    """The adjoints' dtypes through ``unreduce`` and ``np.where`` and the shapes of reductions
    with keywords are known: the softmax and max adjoints write into their own buffers."""
    text = sg.show(attention_scores, args=_scores_args(), optimized=True)
    assert "ds_6 = np.multiply(de, e, out=de)" in text, text
    assert "out=ds_6," in text, text  # ds_6 + (-ds_6).sum(..) * hit_1 / np.sum(hit_1, ..)
    assert "ds_2 = np.divide(ds, s_3, out=ds)" in text, text


def test_batched_product_adjoints_are_plain_products():
    """The ranks after ``C // 2`` are known (no rank-generic ``unmatmul_*`` helpers), and the
    shapes of products, swapped axes and ``np.where`` (no ``sum_to`` left)."""
    text = sg.show(attention_scores, args=_scores_args(), optimized=True)
    assert "unmatmul" not in text and "sum_to(" not in text, text
    assert "ds_2 @ np.swapaxes(s_1, -1, -2)" in text, text


@pytest.mark.parametrize("calls", [1, 4])
def test_mixed_dtypes_keep_python_values(calls):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((4, 3))
    want = mixed_where(x, y)
    _, pure = sg.value_and_grad(mixed_where, 1, optimize=False)(x, y)
    vg = sg.value_and_grad(mixed_where, 1)
    for _ in range(calls):
        value, g = vg(x, y)
        assert value == want and type(value) is type(want)
        np.testing.assert_allclose(g, pure, rtol=1e-12)
    text = sg.show(mixed_where, 1, args=(x, y), optimized=True)
    assert "out=s)" not in text, text  # s is float32: no float64 result goes into it


def test_float32_scores_keep_python_values():
    x, w = (a.astype(np.float32) for a in _scores_args())
    want = attention_scores(x, w)
    _, pure = sg.value_and_grad(attention_scores, optimize=False)(x, w)
    vg = sg.value_and_grad(attention_scores)
    for _ in range(4):
        value, g = vg(x, w)
        assert value == want and value.dtype == want.dtype
        np.testing.assert_allclose(g, pure, rtol=1e-5)
    text = sg.show(attention_scores, args=(x, w), optimized=True)
    assert "np.exp(s_6, out=s_6)" in text, text  # np.where(.., -1e9) of float32: float32


H = 3


def gated_loop(W, xs):
    """A gated recurrence whose gates' adjoints are assembled with item writes
    (``dzr[:, :H] += dz``) and ``unindex_shaped``: their dtypes stay known in the loop."""
    h = np.zeros((xs.shape[1], H))
    for t in range(xs.shape[0]):
        zr = 1.0 / (1.0 + np.exp(-(xs[t] @ W)))
        z = zr[:, :H]
        r = zr[:, H:]
        h = (1.0 - z) * h + z * np.tanh(r + h)
    return np.sum(h * h)


def _gated_args():
    rng = np.random.default_rng(5)
    return rng.standard_normal((4, 2 * H)), rng.standard_normal((6, 5, 4))


def test_gated_loop_values_and_gradients():
    check_running_code(gated_loop, *_gated_args())


def test_gated_loop_adjoint_runs_in_place():
    text = sg.show(gated_loop, args=_gated_args(), optimized=True)
    adjoint = text.split("reversed(")[1]
    assert "out=dzr)" in adjoint, text


DT = np.float32


def global_dtype_mask(x):
    """``dtype=`` naming a global: its dtype is known (float32 here, as Python computes)."""
    m = np.tril(np.ones((x.shape[0], x.shape[0]), dtype=DT))
    s = np.swapaxes(x, 0, 1) @ m
    return np.sum(np.exp(s * 0.5))


def test_a_dtype_named_by_a_global_keeps_python_values():
    x = np.random.default_rng(7).standard_normal((6, 6)).astype(np.float32)
    want = global_dtype_mask(x)
    _, pure = sg.value_and_grad(global_dtype_mask, optimize=False)(x)
    vg = sg.value_and_grad(global_dtype_mask)
    for _ in range(4):
        value, g = vg(x)
        assert value == want and value.dtype == want.dtype
        np.testing.assert_allclose(g, pure, rtol=1e-5)
