"""Buffers kept from one call to the next (``pool_buffers``, on by default): the code that
runs from the second call on computes intermediates into per-thread pooled buffers. These
tests check that it does, and that no pooled buffer is ever seen outside the call that uses
it: not in what the call returns, not by a function it calls, not by another thread or a
call of the same derivative from inside it, not after a call that raised."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.buffers import BufferPool

from .fd import numerical_grad


def _running(df, *args) -> str:
    df(*args)
    df(*args)
    return df._entry(args).pretty(optimized=True)


def mlp(W0, W1, x, y):
    h = np.tanh(x @ W0)
    z = h @ W1
    e = np.exp(z - np.max(z))
    p = e / np.sum(e)
    return -np.sum(y * np.log(p)) + 0.01 * np.sum(W0 * W0)


def _mlp_args(rng, batch=16, dtype=np.float64):
    W0 = rng.standard_normal((8, 32)).astype(dtype) * 0.3
    W1 = rng.standard_normal((32, 5)).astype(dtype) * 0.3
    x = rng.standard_normal((batch, 8)).astype(dtype)
    y = np.eye(5, dtype=dtype)[rng.integers(0, 5, batch)]
    return W0, W1, x, y


def test_intermediates_are_computed_into_pooled_buffers(rng):
    args = _mlp_args(rng)
    df = sg.grad(mlp, (0, 1))
    running = _running(df, *args)
    assert "buffers = spare.pop() if spare else pool.new()" in running
    assert "buffers[0])" in running
    assert running.splitlines()[-2].strip() == "spare.append(buffers)"
    assert df.held_bytes() > 0
    plain = sg.grad(mlp, (0, 1), pool_buffers=False)
    assert "buffers" not in _running(plain, *args)
    assert plain.held_bytes() == 0
    for _ in range(3):  # the same operations into other memory: the same bits
        for got, want in zip(df(*args), plain(*args)):
            np.testing.assert_array_equal(got, want)
    for i in (0, 1):
        want = numerical_grad(mlp, args, i)
        np.testing.assert_allclose(df(*args)[i], want, rtol=1e-6, atol=1e-8)


def test_buffers_of_the_same_shape_are_shared_when_their_lifetimes_do_not_overlap(rng):
    args = _mlp_args(rng)
    df = sg.grad(mlp, (0, 1))
    running = _running(df, *args)
    (pool,) = df._entry(args).held
    written = running.count("buffers[")
    assert len(pool.layouts) < written  # some buffer is written by two statements
    assert df.held_bytes() == sum(int(np.prod(s)) * d.itemsize for s, d in pool.layouts)


def test_returned_gradients_and_views_are_never_pooled(rng):
    args = _mlp_args(rng)
    df = sg.value_and_grad(mlp, (0, 1))
    first = df(*args)
    second = df(*args)
    kept = [np.copy(g) for g in second[1]]
    other = tuple(a * 1.5 for a in args[:3]) + (args[3],)
    df(*other)
    df(*other)
    for g, k in zip(second[1], kept):  # a later call never writes into them
        np.testing.assert_array_equal(g, k)
    assert first[1][0] is not second[1][0]


def aux_intermediate(x, w):
    h = np.tanh(x * w)
    r = h.reshape(-1)
    return np.sum(r * r), (h, r[:3])


def test_an_auxiliary_output_made_of_an_intermediate_is_never_pooled(rng):
    x, w = rng.standard_normal((6, 5)), 0.7
    df = sg.grad(aux_intermediate, has_aux=True)
    _, (h1, r1) = df(x, w)
    _, (h2, r2) = df(x, w)
    kept = np.copy(h2), np.copy(r2)
    df(x * 2.0, w)
    df(x * 3.0, w)
    np.testing.assert_array_equal(h2, kept[0])
    np.testing.assert_array_equal(r2, kept[1])
    np.testing.assert_array_equal(h2, np.tanh(x * w))


SEEN: list = []


def remember(a):
    SEEN.append(a)
    return a


def kept_by_a_callee(x, w):
    h = np.sin(x * w)
    remember(h)  # a function of the user's that keeps its argument
    return np.sum(h * h)


def test_an_array_a_callee_keeps_is_never_pooled(rng):
    x = rng.standard_normal(40)
    df = sg.grad(kept_by_a_callee)
    SEEN.clear()
    values = [x * k for k in (1.0, 2.0, 3.0, 4.0)]
    for v in values:
        df(v, 0.3)
    assert len(SEEN) >= 4
    for v in values:  # every array the callee kept still holds the value it was given
        assert any(np.array_equal(s, np.sin(v * 0.3)) for s in SEEN)
    np.testing.assert_allclose(df(x, 0.3), numerical_grad(kept_by_a_callee, (x, 0.3), 0), rtol=1e-6)


CALLS: list = []


def call_again(x):
    """Calls the derivative in CALLS (if any) from inside the derivative's own call."""
    if CALLS:
        CALLS.pop()(x * 0.5, 0.3)
    return 0


def reentered(x, a):
    h = np.tanh(x * a)
    e = np.exp(h)
    p = e / np.sum(e)
    q = p * a
    call_again(x)  # while p and q are live in this call's buffers
    return np.sum(p * q) + np.sum(e * e)


def test_a_derivative_reached_again_from_inside_itself_uses_other_buffers(rng):
    x = rng.standard_normal((12, 7))
    df = sg.grad(reentered)
    want = sg.grad(reentered, pool_buffers=False)(x, 0.7)
    running = _running(df, x, 0.7)
    assert "buffers[" in running.split("call_again(x)")[0]  # buffers live across the call
    CALLS.append(df)
    got = df(x, 0.7)
    assert not CALLS  # it was reached again
    np.testing.assert_array_equal(got, want)
    assert len(df._entry((x, 0.7)).held[0].spare) == 2  # the inner call made a second set


def raises_late(x, a):
    h = np.exp(x * a)
    p = h / np.sum(h)
    L = np.linalg.cholesky(np.outer(p, p) + a * np.eye(p.shape[0]))  # fails for a < 0
    return np.sum(L * L) + np.sum(p * p)


def test_a_call_that_raises_leaves_later_calls_right(rng):
    x = rng.standard_normal(6)
    df = sg.grad(raises_late)
    want = sg.grad(raises_late, pool_buffers=False)(x, 0.5)
    assert "buffers[" in _running(df, x, 0.5)
    with pytest.raises(np.linalg.LinAlgError):
        df(x, -0.5)
    for _ in range(2):
        np.testing.assert_array_equal(df(x, 0.5), want)


def test_threads_use_buffers_of_their_own(rng):
    args = [_mlp_args(rng, batch=256) for _ in range(8)]
    df = sg.grad(mlp, (0, 1))
    assert "buffers[" in _running(df, *args[0])
    serial = [df(*a) for a in args]
    results: list = [None] * 8
    errors: list = []

    def work(i):
        try:
            for _ in range(30):
                results[i] = df(*args[i])
                for got, want in zip(results[i], serial[i]):
                    if not np.array_equal(got, want):
                        errors.append(i)
        except Exception as e:  # reported below: a thread's exception is not the test's
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    pool = df._entry(args[0]).held[0]
    assert len(pool.spare) == 1  # this thread's set; the other threads' went with them
    assert df.held_bytes() == sum(int(np.prod(s)) * d.itemsize for s, d in pool.layouts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_signature_has_buffers_of_its_shapes_and_dtype(dtype, rng):
    df = sg.grad(mlp, (0, 1))
    small, large = _mlp_args(rng, 4, dtype), _mlp_args(rng, 64, dtype)
    plain = sg.grad(mlp, (0, 1), pool_buffers=False)
    for args in (small, large, small, large, small):
        for got, want in zip(df(*args), plain(*args)):
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, want)
    pools = [df._entry(a).held[0] for a in (small, large)]
    assert pools[0] is not pools[1]
    assert {d for p in pools for _, d in p.layouts} == {np.dtype(dtype)}
    assert any(shape[0] == 64 for shape, _ in pools[1].layouts)


def test_a_buffer_pool_gives_each_thread_its_own_sets():
    pool = BufferPool.of([((3,), np.dtype(np.float32)), ((2, 2), np.dtype(np.float64))])
    mine = pool.new()
    assert [b.shape for b in mine] == [(3,), (2, 2)]
    assert mine[0].dtype == np.float32
    pool.spare.append(mine)
    seen = []
    t = threading.Thread(target=lambda: seen.append(list(pool.spare)))
    t.start()
    t.join()
    assert seen == [[]]  # another thread starts with no spare set
    assert pool.held_bytes() == 3 * 4 + 4 * 8
    del mine
    pool.spare.clear()
    assert pool.held_bytes() == 0


def mean_cross_entropy(W0, W1, x, y):
    h = np.maximum(x @ W0, 0.0)
    z = h @ W1
    z = z - np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(y * (z - lse)) / x.shape[0]  # -(1.0 / n): a Python float, weak


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_pooled_buffers_have_the_dtype_numpy_computes_in(dtype, rng):
    """A buffer of another dtype would cast silently (float32 results kept as float64 made
    the rest of the gradient float64; a narrower one would round)."""
    args = _mlp_args(rng, 32, dtype)
    df = sg.value_and_grad(mean_cross_entropy, (0, 1))
    running = _running(df, *args)
    assert running.count("buffers[") >= 4
    (pool,) = df._entry(args).held
    assert {d for _, d in pool.layouts} == {np.dtype(dtype)}
    value, grads = df(*args)
    want_value, want = sg.value_and_grad(mean_cross_entropy, (0, 1), optimize=False)(*args)
    assert np.asarray(value).dtype == np.asarray(want_value).dtype == dtype
    for g, w in zip(grads, want):
        assert g.dtype == w.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=1e-2 if dtype == np.float16 else 1e-5, atol=1e-3)
