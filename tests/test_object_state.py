"""Objects whose methods keep state in ``self``, called for their effect.

An object the function makes and reaches only through its attributes and methods dies with
the call: its methods are inlined and the attributes they update followed as values
(``c.add(v)`` in a loop, then ``c.n``). Where the object is handed on (a helper reads it), a
method called as a statement given a differentiated value is refused where the object is
read after it (a later read would be a constant to the derivative: a silent zero gradient);
the way out it gives is differentiated; a method that keeps only constants, or whose object
is not read again, runs as written. (The
state of an object the function does not make, an argument's ``c.add(v)`` then ``c.n``, is
followed: tests/test_object_state_between_calls.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params


class Counter:
    def __init__(self):
        self.n = 0.0
        self.calls = 0

    def add(self, v):
        self.n += v

    def tick(self):
        self.calls += 1


class Accumulator:
    total = 0.0

    def add(self, v):
        self.total = self.total + v


class Log:
    def __init__(self):
        self.seen = []

    def record(self, v):
        self.seen.append(v)


LOG = Log()


def counted(w, x):
    c = Counter()
    for i in range(3):
        c.add(np.sum(x * w) * i)
    return c.n


def accumulated(w, x):
    a = Accumulator()
    a.add(np.sum(np.sin(x * w)))
    return a.total


def count_of(counter):
    return counter.n


def counted_and_handed_on(w, x):
    c = Counter()
    for i in range(3):
        c.add(np.sum(x * w) * i)  # REFUSED
    return count_of(c)


def counted_in_a_local(w, x):
    """The way out: the value kept in a local variable of the loss."""
    n = 0.0
    for i in range(3):
        n = n + np.sum(x * w) * i
    return n


def ticks_and_logs(w, x):
    c = Counter()
    c.tick()  # keeps a constant: runs as written
    loss = np.sum(np.tanh(x @ w))
    LOG.record(loss)  # the object is not read again in the loss
    return loss * c.calls


R = np.random.default_rng(0)
W, X = R.standard_normal(3), R.standard_normal((2, 3))
STATE = (sg.UnsupportedSyntaxError, "keep the value in a local variable")
CASES = [
    Case("counted", counted, (W, X), order=2),
    Case("accumulated", accumulated, (W, X), order=2),
    Case("counted_and_handed_on", counted_and_handed_on, (W, X), refused=STATE),
    Case("counted_in_a_local", counted_in_a_local, (W, X), order=2),
    Case("ticks_and_logs", ticks_and_logs, (W.reshape(3, 1), X), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_method_state(case):
    check(case)


def test_the_refusal_names_where_the_method_keeps_the_value():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(counted_and_handed_on)(W, X)
    line = Counter.add.__code__.co_firstlineno + 1
    assert f"`self.n` (test_object_state.py:{line})" in str(info.value)


def batchnorm_stats_as_aux(gamma, beta, x, bn_param):
    """The way out of writing running statistics into an argument: return them as aux."""
    momentum = bn_param.get("momentum", 0.9)
    mu, var = x.mean(axis=0), x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + 1e-5) + beta
    stats = {
        "running_mean": momentum * bn_param.get("running_mean", 0.0) + (1 - momentum) * mu,
        "running_var": momentum * bn_param.get("running_var", 1.0) + (1 - momentum) * var,
    }
    return np.sum(out**3), stats


def test_running_statistics_returned_as_aux_train_and_update_the_caller():
    gamma, beta, x = 1.0 + R.standard_normal(3), R.standard_normal(3), R.standard_normal((5, 3))
    bn_param = {"momentum": 0.8}
    step = sg.value_and_grad(batchnorm_stats_as_aux, (0, 1, 2), has_aux=True)
    for _ in range(3):
        (loss, stats), grads = step(gamma, beta, x, bn_param)
        bn_param.update(stats)  # what the caller does with the aux
    want = batchnorm_stats_as_aux(gamma, beta, x, {"momentum": 0.8})[0]
    assert loss == want
    assert np.allclose(bn_param["running_mean"], 0.8**3 * 0.0 + (1 - 0.8**3) * x.mean(0))

    def value(g):
        return batchnorm_stats_as_aux(g, beta, x, bn_param)[0]

    eps, numeric = 1e-6, np.zeros(3)
    for i in range(3):
        up, down = gamma.copy(), gamma.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (value(up) - value(down)) / (2 * eps)
    np.testing.assert_allclose(grads[0], numeric, rtol=1e-6, atol=1e-8)
