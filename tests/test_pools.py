"""Buffers kept from one call to the next (``pool_buffers``, on by default): the code that
runs from the second call on computes intermediates into per-thread pooled buffers. These
tests check that it does, and that no pooled buffer is ever seen outside the call that uses
it: not in what the call returns, not by a function it calls, not by another thread or a
call of the same derivative from inside it, not after a call that raised."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad
from .internals import DEFAULT_TIERS, BufferPool


def _running(df, *args) -> str:
    df(*args)
    df(*args)
    return df._entry(args).pretty(optimized=True)


def _in_threads(df, inputs, serial, calls) -> list:
    """Call ``df`` ``calls`` times on each of ``inputs`` at once, a thread per input; the
    calls whose results differ from ``serial``'s (exceptions included)."""
    errors: list = []

    def work(i):
        try:
            for _ in range(calls):
                for got, want in zip(df(*inputs[i]), serial[i]):
                    if not np.array_equal(got, want):
                        errors.append(i)
        except Exception as e:  # reported by the caller: a thread's exception is not the test's
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _agrees_with_unpooled(df, f, args, calls=3) -> None:
    """``df``, ``sg.value_and_grad(f)``, gives exactly what it gives without pools (whose
    value is ``f``'s), on each of ``calls`` calls after its first."""
    plain = sg.value_and_grad(f, pool_buffers=False)
    plain(*args)  # (the first call runs the pure derivative: other roundings)
    df(*args)
    want_value, want = plain(*args)
    np.testing.assert_allclose(want_value, f(*args), rtol=1e-13)
    for _ in range(calls):
        value, got = df(*args)
        assert value == want_value
        np.testing.assert_array_equal(got, want)


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


@DEFAULT_TIERS
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


@DEFAULT_TIERS
def test_arrays_whose_lifetimes_do_not_overlap_share_memory(rng):
    args = _mlp_args(rng)
    df = sg.grad(mlp, (0, 1))
    _running(df, *args)
    (pool,) = df._entry(args).held
    assert len(pool.blocks) < len(pool.views)  # some block holds two buffers
    assert df.held_bytes() == sum(pool.blocks)
    assert sum(pool.blocks) < sum(int(np.prod(s)) * d.itemsize for s, d in pool.layouts)
    buffers = pool.new()
    for i, a in enumerate(buffers):  # a buffer shares memory only with others of its block
        for j, b in enumerate(buffers):
            same = pool.views[i][0] == pool.views[j][0]
            assert np.shares_memory(a, b) == (same and a.size > 0 and b.size > 0)
        assert a.flags.c_contiguous and (a.shape, a.dtype) == pool.layouts[i]


@DEFAULT_TIERS
def test_large_arrays_are_released_rather_than_pooled(rng):
    """An array made by a top-level statement above POOLED_BYTES is deleted after its last
    use: its memory can then serve the gradients the call returns (held in a pool it would
    add to the peak)."""
    from .internals import POOLED_BYTES

    args = _mlp_args(rng, batch=POOLED_BYTES // (32 * 8) + 1)  # h over the limit
    running = _running(sg.grad(mlp, (0, 1)), *args)
    assert "h = np.tanh(np.dot(x, W0))" in running or "del h" in running
    assert not re.search(r"h = np\.tanh\(.*buffers", running)


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


@DEFAULT_TIERS
def test_threads_use_buffers_of_their_own(rng):
    args = [_mlp_args(rng, batch=64) for _ in range(8)]
    df = sg.grad(mlp, (0, 1))
    assert "buffers[" in _running(df, *args[0])
    serial = [df(*a) for a in args]
    assert not _in_threads(df, args, serial, calls=30)
    pool = df._entry(args[0]).held[0]
    assert len(pool.spare) == 1  # this thread's set; the other threads' went with them
    assert df.held_bytes() == sum(pool.blocks)


@DEFAULT_TIERS
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
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    pool = BufferPool.of([32, 12], [(0, (3,), f32), (1, (3,), f32), (0, (2, 2), f64)])
    mine = pool.new()
    assert [b.shape for b in mine] == [(3,), (3,), (2, 2)]
    assert [b.dtype for b in mine] == [f32, f32, f64]
    assert np.shares_memory(mine[0], mine[2]) and not np.shares_memory(mine[0], mine[1])
    pool.spare.append(mine)
    seen = []
    t = threading.Thread(target=lambda: seen.append(list(pool.spare)))
    t.start()
    t.join()
    assert seen == [[]]  # another thread starts with no spare set
    assert pool.held_bytes() == 32 + 12
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


def rnn(W_x, W_h, xs, ys):
    h = np.zeros((xs.shape[1], W_h.shape[0]))
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W_x + h @ W_h)
        loss = loss + np.sum((h - ys[t]) ** 2)
    return loss


def _rnn_args(rng, steps=5, batch=3):
    W_x, W_h = rng.standard_normal((4, 6)) * 0.5, rng.standard_normal((6, 6)) * 0.5
    return W_x, W_h, rng.standard_normal((steps, batch, 4)), rng.standard_normal((steps, batch, 6))


@DEFAULT_TIERS
def test_values_a_loop_saves_go_to_a_buffer_per_iteration(rng):
    """The hidden state of each step is on the tape: it is computed into its step's part of
    a pooled (steps, ...) buffer; a product read only within its step gets one buffer."""
    args = _rnn_args(rng)
    df = sg.grad(rnn, (0, 1))
    running = _running(df, *args)
    loop = running.split("for t in range(")[1].split("\n\n")[0]
    assert re.search(r"np\.dot\(\w+, W_x, buffers\[\d\]\[t\]\)", loop)  # a step's part
    assert re.search(r"np\.dot\(h, W_h, buffers\[\d\]\)", loop)  # one buffer for all steps
    (pool,) = df._entry(args).held
    assert ((5, 3, 6), np.dtype(np.float64)) in pool.layouts
    plain = sg.grad(rnn, (0, 1), pool_buffers=False)
    plain(*args)  # past the ranks' build, which sums the steps' weight gradients in order
    for a in (args, _rnn_args(rng), args):
        for got, want in zip(df(*a), plain(*a)):
            np.testing.assert_array_equal(got, want)
    for i in (0, 1):
        np.testing.assert_allclose(df(*args)[i], numerical_grad(rnn, args, i), rtol=1e-6)


def decaying(w, xs, k):
    acc = np.zeros(xs.shape[1])
    for t in range(k):  # the count is an argument: not known from the shapes
        e = np.exp(xs[t % xs.shape[0]] * w)
        acc = acc * 0.5 + e / np.sum(e)
    return np.sum(acc * acc)


def test_a_loop_whose_count_the_shapes_do_not_decide_saves_nothing_in_pooled_buffers(rng):
    w, xs = 0.3, rng.standard_normal((4, 7))
    df = sg.grad(decaying, 1)
    running = _running(df, w, xs, 3)
    assert "][t]" not in running  # no buffer per iteration: their number is not known
    plain = sg.grad(decaying, 1, pool_buffers=False)
    for k in (3, 6, 1, 0, 6):  # one shape signature, different counts
        np.testing.assert_array_equal(df(w, xs, k), plain(w, xs, k))
    np.testing.assert_allclose(
        df(w, xs, 6), numerical_grad(decaying, (w, xs, 6), 1), rtol=1e-6, atol=1e-9
    )


def carried(w, xs):
    acc = np.ones(xs.shape[1])
    for t in range(xs.shape[0]):
        prev = acc * 1.0
        acc = np.tanh(xs[t] * w) + 0.5 * prev  # prev read after the next product is made
    return np.sum(acc * acc)


def test_a_value_read_in_the_next_iteration_is_not_in_a_buffer_the_next_iteration_reuses(rng):
    w, xs = rng.standard_normal(7), rng.standard_normal((5, 7))
    df = sg.value_and_grad(carried)
    _running(df, w, xs)
    plain = sg.value_and_grad(carried, pool_buffers=False)
    for _ in range(2):
        value, got = df(w, xs)
        want_value, want = plain(w, xs)
        assert value == want_value
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(df(w, xs)[1], numerical_grad(carried, (w, xs), 0), rtol=1e-6)


def test_threads_running_a_loop_use_buffers_of_their_own(rng):
    inputs = [_rnn_args(rng, steps=20, batch=64) for _ in range(6)]
    df = sg.grad(rnn, (0, 1))
    assert "][t])" in _running(df, *inputs[0])
    serial = [df(*a) for a in inputs]
    assert not _in_threads(df, inputs, serial, calls=15)


def carried_inactive(w, xs, prev):
    acc = 0.0  # (prev: an argument, so the loop's body is the only code naming it)
    for t in range(xs.shape[0]):
        x_t = xs[t]
        cur = np.exp(x_t * 0.5)  # made anew each step; the step after reads it as prev
        acc = acc + np.sum(cur * prev) + np.sum(w * x_t)
        prev = cur
    return acc


def test_a_value_the_next_iteration_reads_is_not_in_a_buffer_it_reuses(rng):
    """cur is not on the tape (the gradient does not need it), but the next step reads it as
    prev after making its own cur: one buffer for both would give a wrong value."""
    w, xs, prev = rng.standard_normal(7), rng.standard_normal((5, 7)), rng.standard_normal(7)
    df = sg.value_and_grad(carried_inactive)
    running = _running(df, w, xs, prev)
    assert "tape.append(cur)" not in running and "tape.append(prev)" not in running
    assert re.search(r"cur = np\.exp\(x_t \* 0\.5, buffers\[\d\]\[t\]\)", running)  # per step
    _agrees_with_unpooled(df, carried_inactive, (w, xs, prev))


def rnn_but_last(W_x, W_h, xs, ys):
    h = np.zeros((xs.shape[1], W_h.shape[0]))
    loss = 0.0
    for t in range(xs.shape[0] - 1):  # a count the shapes decide through arithmetic
        h = np.tanh(xs[t] @ W_x + h @ W_h)
        loss = loss + np.sum((h - ys[t]) ** 2)
    return loss


def test_a_buffer_per_iteration_has_as_many_parts_as_the_loop_runs(rng):
    args = _rnn_args(rng, steps=6)
    df = sg.grad(rnn_but_last, (0, 1))
    assert "][t])" in _running(df, *args)
    (pool,) = df._entry(args).held
    assert ((5, 3, 6), np.dtype(np.float64)) in pool.layouts
    plain = sg.grad(rnn_but_last, (0, 1), pool_buffers=False)
    plain(*args)
    for got, want in zip(df(*args), plain(*args)):
        np.testing.assert_array_equal(got, want)


def transposed_view_as_aux(x, W):
    z = np.tanh(x @ W)
    return np.sum(x * W), np.linalg.matrix_transpose(z)


def test_an_auxiliary_output_made_by_a_linalg_view_is_never_pooled(rng):
    """np.linalg.matrix_transpose returns a view (it was taken for a new array: the aux
    output of one call was overwritten by the next)."""
    args = [(rng.standard_normal((3, 3)), rng.standard_normal((3, 3))) for _ in range(4)]
    df = sg.grad(transposed_view_as_aux, (0, 1), has_aux=True)
    results = [df(*a) for a in args]
    for a, (_, aux) in zip(args, results):
        np.testing.assert_array_equal(aux, transposed_view_as_aux(*a)[1])


def kept_in_a_list(x, W):
    zs = [None, None]
    z = np.sin(x) * 2.0
    zs[0] = z  # a list keeps the array itself: not a copy
    y = np.cos(x) * 3.0
    zs[1] = y
    return np.sum(zs[0] * W) + np.sum(zs[1] * W), zs


def test_an_array_stored_in_a_list_is_not_pooled(rng):
    """Taken for a copy into another array, z and y shared one buffer (a wrong gradient in
    the same call) and the list handed out was overwritten by the next call."""
    x, W = rng.standard_normal(5), rng.standard_normal(5)
    df = sg.grad(kept_in_a_list, 1, has_aux=True)
    first = [df(x * k, W) for k in (1.0, 2.0, 3.0)]
    for k, (g, zs) in zip((1.0, 2.0, 3.0), first):
        np.testing.assert_allclose(g, 2.0 * np.sin(x * k) + 3.0 * np.cos(x * k), rtol=1e-14)
        np.testing.assert_array_equal(zs[0], np.sin(x * k) * 2.0)
        np.testing.assert_array_equal(zs[1], np.cos(x * k) * 3.0)


def transposed_operand(W, b):
    v = np.negative(W)
    u = v.T - b  # NumPy lays the result out in Fortran order, like v.T
    return np.sum(np.sin(u)) + np.sum(v * v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_result_laid_out_like_a_transposed_operand_is_not_given_a_c_ordered_buffer(dtype, rng):
    """In a C-ordered buffer the later sums of u took another path and rounded otherwise."""
    W, b = rng.standard_normal((64, 64)).astype(dtype), rng.standard_normal(64).astype(dtype)
    df = sg.value_and_grad(transposed_operand, (0, 1))
    plain = sg.value_and_grad(transposed_operand, (0, 1), pool_buffers=False)
    for _ in range(3):
        (value, grads), (want_value, want) = df(W, b), plain(W, b)
        assert value == want_value
        for g, w in zip(grads, want):
            np.testing.assert_array_equal(g, w)


def sine_and_transposed_view(x, W):
    z = np.tanh(x @ W)
    return np.sum(np.sin(z)), np.linalg.matrix_transpose(z)


@pytest.mark.parametrize("pools", [True, False])
def test_a_linalg_view_handed_out_is_not_overwritten_in_place(pools, rng):
    """Taken for a new array, z was thought unread after its last use in the adjoint and
    squared in place (np.multiply(z, z, out=z)): the aux output was wrong from the second
    call, with or without pools (older than the pools)."""
    x, W = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    df = sg.grad(sine_and_transposed_view, (0, 1), has_aux=True, pool_buffers=pools)
    for _ in range(3):
        _, aux = df(x, W)
        np.testing.assert_array_equal(aux, sine_and_transposed_view(x, W)[1])


def read_by_its_own_statement(w, xs, q):
    acc = 0.0
    for t in range(xs.shape[0]):
        u = np.sin(xs[t] * w)
        s = np.sum(u)
        q = np.cos(q)  # reads the iteration before's q in the statement that makes q
        acc = acc + s * np.sum(q)
    return acc


def test_a_value_its_own_statement_reads_again_next_iteration_keeps_its_buffer(rng):
    """q counted as made anew in each iteration: u was written into its buffer, which still
    held the q the next iteration's np.cos(q) reads (a wrong value and gradient)."""
    w, xs, q = rng.standard_normal(4), rng.standard_normal((5, 4)), rng.standard_normal(4)
    df = sg.value_and_grad(read_by_its_own_statement)
    _agrees_with_unpooled(df, read_by_its_own_statement, (w, xs, q))


def cumsum_into_itself(x, v):
    a = np.tanh(v) * 2.0
    b = np.cumsum(a, 0, None, a)  # out=a by position: b is a's memory
    c = np.sin(v) * 3.0
    return np.sum(b * x) + np.sum((np.cos(c) + 1.0) * x)


def sum_into_another(x, v):
    a = np.tanh(v) * 2.0
    b = np.sin(v[0]) * 2.0
    s = np.sum(a, 0, None, b)  # out=b by position: s is b's memory
    c = np.cos(v[1]) * 3.0
    return np.sum(s * x[0]) + np.sum(c * x[1])


@pytest.mark.parametrize("f", [cumsum_into_itself, sum_into_another])
def test_a_result_written_into_an_out_passed_by_position_keeps_that_buffer(f, rng):
    """np.cumsum(a, 0, None, a) was taken for a new array: b, a second name of a's buffer,
    was not followed, and a later array given the same memory overwrote it."""
    x, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    df = sg.grad(f, (0, 1))
    plain = sg.grad(f, (0, 1), pool_buffers=False)
    plain(x, v)
    want = plain(x, v)
    np.testing.assert_allclose(want[1], numerical_grad(f, (x, v), 1), rtol=1e-6, atol=1e-9)
    for _ in range(3):
        for got, w in zip(df(x, v), want):
            np.testing.assert_array_equal(got, w)


def list_read_in_an_index(x):
    hs = []
    y = np.zeros(3)
    y[len(hs)] = 1.0  # the list, read where an array is written
    return np.sum(np.tanh(x) * x) + np.sum(y)


def test_a_list_read_in_the_index_of_an_array_write_is_no_tape():
    """The tape finder took every assignment mentioning a list for `name = ...` and crashed
    (AttributeError) building the second call's code."""
    x = np.linspace(-1.0, 1.0, 3)
    df = sg.grad(list_read_in_an_index)
    for _ in range(3):
        np.testing.assert_allclose(
            df(x), numerical_grad(list_read_in_an_index, (x,), 0), rtol=1e-7, atol=1e-9
        )
