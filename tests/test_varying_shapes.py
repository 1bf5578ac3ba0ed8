"""Shapes that vary between calls: one optimized build serves every shape of a pattern.

A derivative called with a second argument signature of the same *shape pattern* (which
lengths are 1 and which are equal to each other) gets one build for the whole pattern, its
free lengths read from the arguments when it runs; a call of another pattern builds again.
Every call gives Python's value and the gradient the pure derivative gives (and central
differences), for each length, first and later calls alike.
"""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import derivative as derivative_module
from sourcegrad import derivative_cache
from sourcegrad.derivative_cache import clear_cache
from sourcegrad.runtime.signature import (
    compile_guard,
    family_guard_expression,
    resized,
    shape_pattern,
)

from .fd import numerical_grad
from .internals import BufferPool


# --------------------------------------------------------------------------- functions
def lstm(params, xs, y):
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    h = np.zeros((n, H))
    c = np.zeros((n, H))
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"]
        s = 1.0 / (1.0 + np.exp(-z[:, : 3 * H]))
        g = np.tanh(z[:, 3 * H :])
        c = s[:, H : 2 * H] * c + s[:, :H] * g
        h = s[:, 2 * H : 3 * H] * np.tanh(c)
    lse = np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return -np.sum(y * (h - lse)) / n


def rnn(params, xs):
    h = np.zeros(params["W"].shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
    return np.sum(h**2)


def mlp(W, b, x):
    h = np.tanh(x @ W + b)
    return np.sum(h * h) / x.shape[0]


def scaled(x, s):
    return np.sum(np.tanh(x * s) ** 2)


def picks(x, w):
    return x[0] * x[2] + np.sum(np.tanh(x * w) ** 2)


def neighbours(x):
    return np.sum(x[1:] * x[:-1]) + np.sum(np.sin(x))


def dense(p, x):
    return np.tanh(x @ p["W"] + p["b"])


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def classifier(params, x, y):
    h = dense(params[0], x)
    out = h @ params[1]["W"] + params[1]["b"]
    return -np.mean(log_softmax(out)[np.arange(len(y)), y])


# --------------------------------------------------------------------------- helpers
def _lstm_args(rng, T, batch=3, D=4, H=5):
    params = {
        "W_x": rng.standard_normal((D, 4 * H)) * 0.3,
        "W_h": rng.standard_normal((H, 4 * H)) * 0.3,
        "b": rng.standard_normal(4 * H) * 0.1,
    }
    xs = rng.standard_normal((T, batch, D))
    y = np.eye(H)[rng.integers(0, H, batch)]
    return params, xs, y


def _rnn_args(rng, T, D=3, H=4):
    params = {
        "W": rng.standard_normal((H, H)) * 0.5,
        "U": rng.standard_normal((H, D)),
        "b": rng.standard_normal(H),
    }
    return params, rng.standard_normal((T, D))


def _builds(df) -> int:
    """The builds ``df``'s calls have made: those kept in the store its function's
    derivatives share (or, without one, its own), of every tier."""
    base = df._base
    if base is not None:
        kinds = ("ranks", "shapes", "pattern", "optimized", "generic")
        return sum(
            1 for key, entry in base._store.builds.items() if key[0] in kinds and entry is not False
        )
    return len({id(e) for e in list(df._cache.values()) + list(df._ranked.values())})


def _close(a, b):
    if isinstance(a, dict):
        for k in a:
            _close(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        for x, y in zip(a, b):
            _close(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _agrees_with_pure(f, argsets, wrt=0):
    """Calls ``grad(f)`` (made anew, sharing no builds) with each argument set (twice each,
    interleaved) and checks each result against Python's value and the pure derivative's
    gradient."""
    clear_cache()
    df = sg.value_and_grad(f, wrt=wrt)
    pure = sg.value_and_grad(f, wrt=wrt, optimize=False)
    for args in argsets + argsets:
        value, grads = df(*args)
        np.testing.assert_allclose(value, f(*args), rtol=1e-12)
        _close(grads, pure(*args)[1])
    return df


# --------------------------------------------------------------------------- the builds
def test_thirty_sequence_lengths_make_a_few_builds(rng):
    clear_cache()
    df = sg.value_and_grad(lstm)
    params, _, y = _lstm_args(rng, 5)
    # 30 lengths, none equal to another length of the arguments (3, 4, 5, 20): one pattern
    lengths = rng.permutation([T for T in range(6, 37) if T != 20])
    for T in lengths:
        xs = rng.standard_normal((int(T), 3, 4))
        value, _ = df(params, xs, y)
        np.testing.assert_allclose(value, lstm(params, xs, y), rtol=1e-12)
    assert _builds(df) <= 3
    # and the build that serves them all runs optimized code, the length read at run time
    # (forced to free every length, H too, the slices of 3 H are not assumed and not pooled)
    if not derivative_cache.SYMBOLIC_FIRST:
        text = df.emitted((params, xs, y)).text
        assert "buffers = pool.take(spare, (xs.shape[0],))" in text


def test_lengths_and_batch_sizes_that_vary_agree_with_the_pure_derivative(rng):
    argsets = []  # (no length equal to another: D = 4, H = 5, 4 H = 20; one pattern)
    for T, batch in [(6, 2), (7, 3), (9, 10), (11, 2), (13, 3), (8, 10)]:
        params, xs, y = _lstm_args(np.random.default_rng(T * 10 + batch), T, batch)
        argsets.append((params, xs, y))
    df = _agrees_with_pure(lstm, argsets)
    assert _builds(df) <= 3
    # lengths equal to another (T = D, T = batch) are other patterns: right, built for them
    more = [(4, 3), (5, 5), (3, 7)]
    _agrees_with_pure(lstm, [_lstm_args(np.random.default_rng(T), T, b) for T, b in more])


@pytest.mark.parametrize("T", [2, 5, 11])
def test_a_new_length_agrees_with_central_differences(rng, T):
    df = sg.grad(rnn)
    for warm in (6, 7, 9):  # the pattern's build is made and running before T is called
        df(*_rnn_args(rng, warm))
    params, xs = _rnn_args(rng, T)
    for _ in range(2):  # first and later calls
        got = df(params, xs)
        for k in params:

            def f(p, k=k):
                return rnn({**params, k: p}, xs)

            np.testing.assert_allclose(got[k], numerical_grad(f, (params[k],), 0), rtol=1e-5)


def test_loops_over_a_varying_number_of_steps_agree(rng):
    argsets = [_rnn_args(np.random.default_rng(T), T) for T in (5, 8, 13, 2, 21, 6)]
    df = _agrees_with_pure(rnn, argsets)
    assert _builds(df) <= 3


def test_a_varying_length_that_becomes_one_builds_again_and_broadcasts_right(rng):
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    argsets = [(W, b, rng.standard_normal((n, 4))) for n in (5, 7, 9, 1, 6, 1)]
    df = _agrees_with_pure(mlp, argsets)
    x1 = argsets[3][2]
    want = numerical_grad(lambda W_: mlp(W_, b, x1), (W,), 0)
    for _ in range(2):
        np.testing.assert_allclose(df(W, b, x1)[1], want, rtol=1e-5)


def test_a_varying_length_where_an_operand_broadcasts_along_it(rng):
    # s is (n, 1) or (1, m) against x (n, m): the pattern's ones decide each sum
    argsets = []
    for n, m in [(3, 4), (5, 4), (3, 6), (2, 7), (1, 4), (4, 1)]:
        x = rng.standard_normal((n, m))
        argsets.append((x, rng.standard_normal((n, 1))))
        argsets.append((x, rng.standard_normal((1, m))))
    _agrees_with_pure(scaled, argsets, wrt=(0, 1))


def test_lengths_that_become_equal_to_another_make_another_pattern(rng):
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    argsets = [(W, b, rng.standard_normal((n, 4))) for n in (5, 6, 4, 3, 8)]
    _agrees_with_pure(mlp, argsets)


def test_shapes_computed_from_a_varying_length_are_not_assumed(rng):
    argsets = [(rng.standard_normal(n),) for n in (6, 9, 2, 3, 17, 2)]
    df = _agrees_with_pure(neighbours, argsets)
    x = argsets[2][0]
    np.testing.assert_allclose(df(x)[1], numerical_grad(neighbours, (x,), 0), rtol=1e-5)


def test_items_read_at_constant_positions_of_a_varying_length(rng):
    # x[2] needs a length of 3 or more: no build for every length of the pattern is made
    argsets = [(rng.standard_normal(n), rng.standard_normal(n)) for n in (5, 7, 9, 3, 4)]
    _agrees_with_pure(picks, argsets, wrt=(0, 1))


def test_every_length_free_from_the_first_call(rng, monkeypatch):
    """What SOURCEGRAD_SPECIALISE_AFTER=1 runs: the first call that specialises builds for
    its whole pattern."""
    monkeypatch.setattr(derivative_module, "SPECIALISE_AFTER", 1)
    monkeypatch.setattr(derivative_cache, "SYMBOLIC_FIRST", True)
    argsets = [_lstm_args(np.random.default_rng(T), T, b) for T, b in [(6, 2), (7, 3), (9, 10)]]
    df = _agrees_with_pure(lstm, argsets)
    assert _builds(df) <= 3


def test_helpers_run_builds_for_their_pattern_from_the_first_call(rng, monkeypatch):
    """What SOURCEGRAD_SPECIALISE_AFTER=1 forces for a loss written with helpers: on the
    first call, the loss and each helper's vjp (whose kept halves the loss runs) run a build
    for their whole shape pattern, which later batch sizes run again."""
    monkeypatch.setattr(derivative_module, "SPECIALISE_AFTER", 1)
    monkeypatch.setattr(derivative_cache, "SYMBOLIC_FIRST", True)
    params = [
        {"W": rng.standard_normal((4, 8)), "b": rng.standard_normal(8)},
        {"W": rng.standard_normal((8, 3)), "b": rng.standard_normal(3)},
    ]
    argsets = [(params, rng.standard_normal((n, 4)), rng.integers(0, 3, n)) for n in (5, 6, 9)]
    runs = []

    def record(der, args, build):
        runs.append((der._patterns.family_of.get(id(build)) is not None, id(build)))

    clear_cache()
    df = sg.value_and_grad(classifier)
    pure = sg.value_and_grad(classifier, optimize=False)
    for args in argsets + argsets:
        with derivative_module.recording_runs(record):
            value, grads = df(*args)
        np.testing.assert_allclose(value, classifier(*args), rtol=1e-12)
        _close(grads, pure(*args)[1])
        x, y = args[1:]

        def of_W(W, x=x, y=y):
            return classifier([params[0], {**params[1], "W": W}], x, y)

        np.testing.assert_allclose(
            grads[1]["W"], numerical_grad(of_W, (params[1]["W"],), 0), atol=1e-8
        )
    assert len(runs) == 2 * 2 * len(argsets)  # dense's and log_softmax's vjp, every call
    assert all(is_pattern for is_pattern, _ in runs)
    assert len({build for _, build in runs}) == 2  # one build each serves every batch size
    assert df.emitted(argsets[0]) is df.emitted(argsets[2])


@pytest.mark.skipif(
    derivative_cache.SYMBOLIC_FIRST, reason="every length free from the first call (forced)"
)
def test_fixed_shapes_still_get_the_build_for_their_shapes(rng):
    df = sg.grad(rnn)
    args = _rnn_args(rng, 5)
    df(*args)
    df(*args)
    assert "pool.new()" in df.emitted(args).text  # buffers of fixed shapes, no lengths read


# --------------------------------------------------------------------------- the pieces
def test_a_shape_pattern_tells_ones_and_equal_lengths_apart():
    a = shape_pattern(({"W": np.zeros((4, 6))}, np.zeros((5, 4)), 2.0))
    b = shape_pattern(({"W": np.zeros((4, 6))}, np.zeros((9, 4)), 2.0))
    c = shape_pattern(({"W": np.zeros((4, 6))}, np.zeros((6, 4)), 2.0))  # 6 == W's 6
    d = shape_pattern(({"W": np.zeros((4, 6))}, np.zeros((1, 4)), 2.0))
    assert a.key == b.key
    assert a.key != c.key and a.key != d.key and c.key != d.key
    assert a.values == (4, 6, 5)
    assert a.sites[2] == (1, (), 0)
    assert shape_pattern((np.float64(1.0), [np.zeros(3)])) is not None


def test_the_guard_of_a_pattern_accepts_its_shapes_only():
    args = (np.zeros((5, 4)), np.zeros((4, 3)))
    p = shape_pattern(args)
    same = compile_guard(*family_guard_expression(args, p, frozenset({0})))  # the 5 is free
    assert same(args)
    assert same((np.zeros((17, 4)), np.zeros((4, 3))))
    assert not same((np.zeros((4, 4)), np.zeros((4, 3))))  # equal to another length
    assert not same((np.zeros((3, 4)), np.zeros((4, 3))))
    assert not same((np.zeros((1, 4)), np.zeros((4, 3))))  # a one broadcasts
    assert not same((np.zeros((7, 4)), np.zeros((4, 2))))  # a fixed length changed
    assert not same((np.zeros((7, 4), np.float32), np.zeros((4, 3))))
    assert not same((np.zeros((7, 4, 1)), np.zeros((4, 3))))


def test_stand_ins_have_the_shapes_asked_and_no_memory():
    args = ({"W": np.zeros((4, 6))}, np.zeros((5, 4), np.float32))
    p = shape_pattern(args)
    W, x = resized(args, p, (7, 6, 9))
    assert W["W"].shape == (7, 6) and x.shape == (9, 7) and x.dtype == np.float32
    assert shape_pattern((W, x)).key == p.key
    assert x.strides == (0, 0)


def test_buffers_of_free_lengths_are_sized_for_each_call():
    pool = BufferPool.of([0, 0], [(0, (-1, 3), np.float64), (1, (2, -1), np.float32)])
    spare = pool.spare
    a = pool.take(spare, (4,))
    assert [v.shape for v in a] == [(4, 3), (2, 4)]
    a[0][...] = 1.0
    spare.append(a)
    b = pool.take(spare, (4,))
    assert b is a and not spare  # the same lengths: the same set
    spare.append(b)
    c = pool.take(spare, (2,))  # shorter: the same memory, buffers of the new shapes
    assert [v.shape for v in c] == [(2, 3), (2, 2)]
    spare.append(c)
    d = pool.take(spare, (40,))  # longer: new memory, never a buffer of another shape
    assert [v.shape for v in d] == [(40, 3), (2, 40)]
    assert pool.held_bytes() >= 40 * 3 * 8


def test_buffers_of_fixed_shapes_are_unchanged():
    pool = BufferPool.of([96], [(0, (4, 3), np.float64)])
    got = pool.new()
    assert [v.shape for v in got] == [(4, 3)] and got.dims == ()
