"""State an object keeps from call to call, read and stored by the function differentiated:
an RNN cell keeping ``self.h``, a KV cache growing ``self.k``, BatchNorm's running statistics,
a step counter ``self.t += 1``, an EMA target network, kept in a global, a closure variable
or an argument, read and stored in the loss itself or in a method of the object (called as
a statement, or inside an expression: given a statement of its own first).

Python's semantics: the state read when a call starts is an input of that call (a constant,
unless the object is differentiated), and the object holds after the call what the call
stored. Each derivative is checked over several calls (the optimized build runs from the
second on) against Python's own run from the same state: the value, the state left in the
objects, the gradient against central differences in float64 (each evaluation starting from
that state), and the Hessian-vector product against differences of the gradient. Where the
function would be run more than once per call (a Hessian's columns, a callee's derivative,
its gradient differentiated again), the state would advance more than once: refused."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .object_state_checks import assert_same_state, held, put_back, run_from
from .ported.harness import marked_line, numerical

R = np.random.default_rng(2026)
D = 3
W0 = R.standard_normal((D, D)) * 0.5
X0 = R.standard_normal(D)
XB = R.standard_normal((6, D))


class Cell:
    def __init__(self):
        self.h = np.zeros(D)

    def step(self, W, x):
        self.h = np.tanh(W @ x + self.h)
        return self.h


class WeightedCell:
    def __init__(self, W):
        self.W = W
        self.h = np.full(D, 0.1)

    def step(self, x):
        h = np.tanh(self.W @ x + 0.5 * self.h)
        self.h = h
        return h


class KVCache:
    def __init__(self):
        self.k = np.zeros((1, D))
        self.v = np.zeros((1, D))

    def append(self, k, v):
        self.k = np.concatenate([self.k, k[None]], axis=0)
        self.v = np.concatenate([self.v, v[None]], axis=0)
        return self.k, self.v


class BatchNorm:
    def __init__(self, n, training=True, momentum=0.9):
        self.running_mean = np.zeros(n)
        self.running_var = np.ones(n)
        self.momentum = momentum
        self.training = training

    def forward(self, x, gamma, beta):
        if self.training:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            mu = self.running_mean
            var = self.running_var
        return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta


class Schedule:
    def __init__(self):
        self.t = 0

    def rate(self):
        self.t += 1
        return 1.0 / np.sqrt(self.t)


class LoggedSchedule(Schedule):
    def __init__(self):
        super().__init__()
        self.seen = []

    def log(self, v):
        self.seen.append(v)


class Model:
    def __init__(self):
        self.h = np.zeros(D)
        self.t = 0

    def step(self, W, x):
        self.h = np.tanh(W @ x + self.h)
        self.t += 1
        return self.h

    def loss(self, W, x):
        h = self.step(W, x)
        return np.sum(h**2) / self.t


class Holder:
    def __init__(self, **fields):
        vars(self).update(fields)


class Counter:
    def __init__(self):
        self.n = 0.0

    def add(self, v):
        self.n += v


CELL = Cell()
STEPPED = Cell()
LOOPED = Cell()
INNER = Cell()
KV = KVCache()
BN = BatchNorm(D)
BN_EVAL = BatchNorm(D, training=False)
BN_EVAL.running_mean = R.standard_normal(D)
SCHEDULE = Schedule()
LOGGED_SCHEDULE = LoggedSchedule()
STEPS = Holder(t=0)
TARGET = Holder(W=W0.copy())
NORM = Holder(avg=1.0)
ACCUMULATOR = Counter()
MODEL = Model()


def rnn_cell_in_the_loss(W, x):
    h = np.tanh(W @ x + CELL.h)
    CELL.h = h
    return np.sum(h**2)


def rnn_cell_method(W, x):
    y = STEPPED.step(W, x)
    return np.sum(y**2)


def rnn_cell_argument(W, cell, x):
    y = cell.step(W @ x)
    return np.sum(y**2)


def kv_cache_attention(W, x):
    q = W @ x
    k, v = KV.append(W.T @ x, np.tanh(x @ W))
    s = k @ q
    p = np.exp(s - np.max(s))
    p = p / np.sum(p)
    return np.sum(p @ v)


def batchnorm_training(W, x):
    h = BN.forward(XB @ W, 1.0, 0.0)
    return np.sum(np.tanh(h) * x)


def batchnorm_evaluation(W, x):
    h = BN_EVAL.forward(XB @ W, 1.0, 0.0)
    return np.sum(np.tanh(h) * x)


def step_counter_method(W, x):
    lr = SCHEDULE.rate()
    return lr * np.sum((W @ x) ** 2)


def step_counter_beside_another_method(W, x):
    lr = LOGGED_SCHEDULE.rate()  # (run as written: the object is also given to `log`)
    LOGGED_SCHEDULE.log(lr)
    return lr * np.sum((W @ x) ** 2)


def step_counter_in_the_loss(W, x):
    STEPS.t += 1
    return np.sum((W @ x) ** 2) / STEPS.t


def ema_target(W, x):
    loss = np.sum((np.tanh(W @ x) - np.tanh(TARGET.W @ x)) ** 2)
    TARGET.W = 0.9 * TARGET.W + 0.1 * W
    return loss


def running_norm_read_after(W, x):
    NORM.avg = 0.9 * NORM.avg + 0.1 * np.sum(W**2)
    return np.sum((W @ x) ** 2) / NORM.avg


def state_of_an_argument(W, holder, x):
    h = np.tanh(W @ x + holder.h)
    if np.sum(h) > 0.0:
        holder.h = h
        return np.sum(h**2)
    holder.h = 0.5 * h
    return np.sum(np.sin(h))


def make_closure():
    state = Holder(h=np.zeros(D))

    def closure_state(W, x):
        h = np.tanh(W @ x + state.h)
        state.h = h
        return np.sum(h**2)

    return closure_state, state


closure_state, CLOSED = make_closure()


def steps_in_a_loop(W, xs):
    total = 0.0
    for x in xs:
        h = LOOPED.step(W, x)
        total = total + np.sum(h**2)
    return total


def steps_inside_an_expression(W, xs):
    total = 0.0
    for x in xs:
        total = total + np.sum(INNER.step(W, x) ** 2)
    return total


def counter_argument(W, x, c):
    c.add(np.sum(x * (W @ x)))
    return np.sum(W**2) + c.n


def method_state_then_read(W, x):
    ACCUMULATOR.add(np.sum((W @ x) ** 2))
    return ACCUMULATOR.n


# ------------------------------------------------------------------ checking


def _args(case, call):
    args = case[1]
    return tuple(a * (1.0 + 0.25 * call) if isinstance(a, np.ndarray) else a for a in args)


CASES = {
    "rnn cell in the loss": (rnn_cell_in_the_loss, (W0, X0), [CELL]),
    "rnn cell method": (rnn_cell_method, (W0, X0), [STEPPED]),
    "kv cache": (kv_cache_attention, (W0, X0), [KV]),
    "batchnorm training": (batchnorm_training, (W0, X0), [BN]),
    "batchnorm evaluation": (batchnorm_evaluation, (W0, X0), [BN_EVAL]),
    "step counter method": (step_counter_method, (W0, X0), [SCHEDULE]),
    "step counter in the loss": (step_counter_in_the_loss, (W0, X0), [STEPS]),
    "step counter beside another method": (
        step_counter_beside_another_method,
        (W0, X0),
        [LOGGED_SCHEDULE],
    ),
    "ema target": (ema_target, (W0, X0), [TARGET]),
    "running norm read after": (running_norm_read_after, (W0, X0), [NORM]),
    "closure": (closure_state, (W0, X0), [CLOSED]),
    "steps in a loop": (steps_in_a_loop, (W0, np.stack([X0, -X0, 0.5 * X0])), [LOOPED]),
    "method state then read": (method_state_then_read, (W0, X0), [ACCUMULATOR]),
    "steps inside an expression": (steps_inside_an_expression, (W0, np.stack([X0, -X0])), [INNER]),
    "a bound method's own state": (MODEL.loss, (W0, X0), [MODEL]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_value_gradient_and_state_as_python(name):
    f, _, objects = case = CASES[name]
    df = sg.value_and_grad(f)
    for call in range(4):
        args = _args(case, call)
        entry = held(objects)
        value, grad = df(*args)
        after = held(objects)
        want = run_from(objects, entry, f)(*args)
        python_after = held(objects)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-14, err_msg=f"call {call}")
        assert_same_state(after, python_after, f"{name}, call {call}")
        slope = numerical(run_from(objects, entry, f), args, 0)
        np.testing.assert_allclose(grad, slope, rtol=1e-5, atol=1e-7, err_msg=f"call {call}")
        put_back(objects, python_after)


@pytest.mark.parametrize("name", list(CASES))
def test_hvp_advances_the_state_once_per_call(name):
    f, _, objects = case = CASES[name]
    hvp, grad = sg.hvp(f), sg.grad(f)
    for call in range(3):
        args = _args(case, call)
        v = np.cos(np.arange(W0.size, dtype=float) + call).reshape(W0.shape)
        entry = held(objects)
        got = hvp(*args, v)
        after = held(objects)
        run_from(objects, entry, f)(*args)
        assert_same_state(after, held(objects), f"{name}, call {call}")
        e = 1e-5
        moved = [run_from(objects, entry, grad)(args[0] + s * e * v, *args[1:]) for s in (1, -1)]
        np.testing.assert_allclose(got, (moved[0] - moved[1]) / (2 * e), rtol=1e-5, atol=1e-7)
        put_back(objects, after)


def test_jvp_advances_the_state_once_per_call():
    jvp = sg.jvp(rnn_cell_in_the_loss)
    for call in range(3):
        args = _args(CASES["rnn cell in the loss"], call)
        t = np.sin(np.arange(W0.size, dtype=float)).reshape(W0.shape)
        entry = held([CELL])
        value, tangent = jvp(*args, t)
        after = held([CELL])
        want = run_from([CELL], entry, rnn_cell_in_the_loss)(*args)
        assert_same_state(after, held([CELL]), f"call {call}")
        np.testing.assert_allclose(value, want, rtol=1e-12)
        e = 1e-6
        run = run_from([CELL], entry, rnn_cell_in_the_loss)
        moved = [run(args[0] + s * e * t, args[1]) for s in (1, -1)]
        np.testing.assert_allclose(tangent, (moved[0] - moved[1]) / (2 * e), rtol=1e-5)
        put_back([CELL], after)


@pytest.mark.parametrize(
    "f, field",
    [(state_of_an_argument, None), (counter_argument, "n")],
    ids=["a holder's state, two returns", "a counter's method"],
)
def test_state_of_an_argument_not_differentiated(f, field):
    obj = Holder(h=np.full(D, 0.2)) if field is None else Counter()
    df = sg.value_and_grad(f)
    for call in range(4):
        W, x = W0 * (1.0 - 0.3 * call), X0 * (1.0 + call)
        entry = held([obj])
        value, grad = df(W, obj, x) if field is None else df(W, x, obj)
        after = held([obj])

        def run(W, x=x, entry=entry):  # (from the state on entry, in the object: no copy)
            put_back([obj], entry)
            return f(W, obj, x) if field is None else f(W, x, obj)

        want = run(W)
        assert_same_state(after, held([obj]), f"call {call}")
        np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(grad, numerical(run, (W,), 0), rtol=1e-5, atol=1e-7)
        put_back([obj], after)


def test_gradient_with_respect_to_the_state_of_a_differentiated_object():
    cell = WeightedCell(W0.copy())
    df = sg.grad(rnn_cell_argument, wrt=(0, 1))
    for call in range(3):
        x = X0 * (1.0 + call)
        entry = held([cell])
        g_W, g_cell = df(W0, cell, x)
        after = held([cell])

        def run(W, x=x, entry=entry):
            put_back([cell], entry)
            return rnn_cell_argument(W, cell, x)

        run(W0)
        assert_same_state(after, held([cell]), f"call {call}")
        for field in ("W", "h"):

            def moved(value, field=field, entry=entry, x=x):
                put_back([cell], entry)
                setattr(cell, field, value)
                return rnn_cell_argument(W0, cell, x)

            slope = numerical(moved, (entry[0][field],), 0)
            np.testing.assert_allclose(getattr(g_cell, field), slope, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(g_W, numerical(run, (W0,), 0), rtol=1e-5, atol=1e-7)
        put_back([cell], after)


# ------------------------------------------------------------------ refused


def calls_the_stateful_loss(W, x):
    return 2.0 * rnn_cell_in_the_loss(W, x)


def differentiates_its_gradient(W, x):
    g = sg.grad(rnn_cell_in_the_loss)(W, x)  # REFUSED
    return np.sum(g**2)


def step_under_a_condition(W, xs):
    total = 0.0
    for x in xs:
        total = total + (np.sum(LOOPED.step(W, x) ** 2) if total < 10.0 else 0.0)  # REFUSED
    return total


def one_object_two_names(W, cell, x):
    h = np.tanh(W @ x + CELL.h)
    CELL.h = h  # REFUSED
    cell.h = 0.5 * cell.h  # (`cell` is `CELL`: Python halves the new state)
    return np.sum(h**2)


def _refused(make, f, args, hint, line):
    entry = held([CELL, LOOPED])
    for _ in range(2):
        with pytest.raises(SourcegradError) as info:
            make(f)(*args)
        message = str(info.value)
        assert message.startswith(f"{__file__}:{line}: "), message
        assert hint in message, message
    assert_same_state(held([CELL, LOOPED]), entry, "the objects are left as they were")


def test_a_hessian_would_advance_the_state_once_per_column():
    line = marked_line(rnn_cell_in_the_loss, "CELL.h = h")
    _refused(sg.hessian, rnn_cell_in_the_loss, (W0, X0), "sg.hessian runs", line)


def test_a_jacobian_of_the_gradient_would_advance_it_once_per_column():
    line = marked_line(rnn_cell_in_the_loss, "CELL.h = h")
    hint = "keeps state in `CELL.h` from call to call"
    _refused(lambda f: sg.jacobian(sg.grad(f)), rnn_cell_in_the_loss, (W0, X0), hint, line)


def test_a_callee_keeping_state_is_refused_where_its_derivative_would_run_it_again():
    line = marked_line(rnn_cell_in_the_loss, "CELL.h)")
    hint = "read and store `CELL.h` in the function you differentiate"
    _refused(sg.grad, calls_the_stateful_loss, (W0, X0), hint, line)


def test_its_gradient_differentiated_again_is_refused():
    line = marked_line(differentiates_its_gradient)
    hint = "keeps state in `CELL.h` from call to call"
    _refused(sg.grad, differentiates_its_gradient, (W0, X0), hint, line)


def test_a_stateful_method_under_a_condition_says_to_call_it_as_a_statement():
    line = marked_line(step_under_a_condition)
    hint = "call it as a statement of its own (`y = LOOPED.step(...)`)"
    xs = np.stack([X0, -X0])
    _refused(sg.grad, step_under_a_condition, (W0, xs), hint, line)


def test_the_derivative_reads_the_state_once_and_stores_it_after_the_call():
    text = sg.source(sg.grad(ema_target), W0, X0)
    lines = [s.strip() for s in text.splitlines() if not s.strip().startswith("#")]
    assert lines[1] == "TARGET_W = TARGET.W", text
    reads = [s for s in lines if "TARGET.W" in s]
    assert reads[1:] == [f"TARGET.W = {reads[1].split()[-1]}"] and len(reads) == 2, text
    assert lines.index(reads[1]) < lines.index("dloss = 1.0"), "stored in the forward sweep"


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name, held_as", [("rnn cell method", "STEPPED"), ("kv cache", "KV")])
def test_an_export_advances_its_own_object_once_per_call(tmp_path, name, held_as, order):
    """An export holds its own copy of a global object (as of the export): each call of it
    advances that copy once, as Python's calls advance the original."""
    f, args, objects = case = CASES[name]
    path = tmp_path / f"exported_{held_as.lower()}_{order}.py"
    path.write_text(sg.export(f, *args, order=order))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    d, own = getattr(module, f"d_{f.__name__}"), getattr(module, held_as)
    before = held(objects)
    for call in range(3):
        a = _args(case, call)
        put_back(objects, held([own]))
        want = f(*a)
        got = d(*a) if order == 1 else d(*a, np.ones_like(a[0]))
        assert_same_state(held([own]), held(objects), f"call {call}")
        if order == 1:
            np.testing.assert_allclose(got[0], want, rtol=1e-12)
    put_back(objects, before)


def test_one_object_under_two_names_is_left_to_the_refusal_of_a_store_read_back():
    hint = "keeps a value in an attribute that the function reads (`.h`)"
    line = marked_line(one_object_two_names)
    _refused(sg.grad, one_object_two_names, (W0, CELL, X0), hint, line)


class Layer:
    def __init__(self, W):
        self.W = W
        self.out = None


LAYER = Layer(W0.copy())


def a_cache_read_back_in_the_same_call(W, x):
    LAYER.out = np.tanh(W @ x)
    return np.sum(LAYER.out**2)


def test_a_cache_read_back_in_the_same_call_is_no_state_for_a_hessian():
    """``LAYER.out = y`` then ``LAYER.out`` reads this call's value: a second run of the
    function gives the same, so ``sg.hessian`` (a run per column) takes it."""
    hessian = sg.hessian(a_cache_read_back_in_the_same_call)
    for call in range(3):
        x = X0 * (1.0 + call)
        got = hessian(W0, x)
        np.testing.assert_array_equal(LAYER.out, np.tanh(W0 @ x))
        grad = sg.grad(a_cache_read_back_in_the_same_call)
        e = 1e-5
        for k in range(W0.size):
            t = np.zeros(W0.size)
            t[k] = e
            t = t.reshape(W0.shape)
            column = (grad(W0 + t, x) - grad(W0 - t, x)) / (2 * e)
            np.testing.assert_allclose(got[..., k // D, k % D], column, rtol=1e-5, atol=1e-7)


def read_elsewhere():
    return np.sum(CELL.h)


def a_helper_reads_the_state_too(W, x):
    h = np.tanh(W @ x + CELL.h)
    CELL.h = h  # REFUSED
    return np.sum(h**2) + read_elsewhere()  # (Python's helper sees the new state)


def test_a_helper_reading_the_global_object_leaves_it_to_the_refusal():
    hint = "keeps a value in an attribute that the function reads (`.h`)"
    line = marked_line(a_helper_reads_the_state_too)
    _refused(sg.grad, a_helper_reads_the_state_too, (W0, X0), hint, line)
