"""A recurrent model called inside a loss (a kept callee): its running vjp knows the dtypes of
its adjoints (the seed in the output's dtype, ``F.linear`` / ``F.sigmoid`` / ``np.split`` /
``as_sequence`` by their declared dtype rules), so its weight gradients accumulate as one
``linear_weight_grad`` over stacks after the reversed loop (declared ``sums_leading``).
Values equal Python's and gradients agree with central differences on calls 1-3, for 0, 1 and
many steps; the running code is checked to have moved the accumulation."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import model, nn
from sourcegrad.nn import functional as F

from .fd import numerical_grad
from .internals import DEFAULT_TIERS
from .lstm_loop import LoopLSTM

N, F_IN, H = 3, 4, 5


def elman(p, xs, h):
    """A helper with its own loop over the steps of ``xs`` (any number, 0 included)."""
    for t in range(len(xs)):
        h = np.tanh(F.linear(xs[t], p["w_ih"]) + F.linear(h, p["w_hh"], p["b"]))
    return h


def helper_loss(p, xs, h0, w):
    return np.sum(w * F.sigmoid(elman(p, xs, h0)))


def helper_inputs(steps, seed=0):
    rng = np.random.default_rng(seed)
    p = {
        "w_ih": rng.standard_normal((H, F_IN)) * 0.5,
        "w_hh": rng.standard_normal((H, H)) * 0.5,
        "b": rng.standard_normal(H) * 0.1,
    }
    return p, rng.standard_normal((steps, N, F_IN)), rng.standard_normal((N, H)), rng.random((N, H))


def numerical(loss, args, i):
    """Central differences of ``loss`` in ``args[i]``: an array, or a dict (of dicts) of
    arrays, leaf by leaf."""
    if not isinstance(args[i], dict):
        return numerical_grad(loss, args, i)
    out = {}
    for key, leaf in args[i].items():

        def at(v, *rest, key=key):
            tree = dict(args[i], **{key: v})
            return loss(*rest[:i], tree, *rest[i:])

        rest = args[:i] + args[i + 1 :]
        out[key] = numerical(at, (leaf, *rest), 0)
    return out


def assert_close(got, want):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want)
        for key in want:
            assert_close(got[key], want[key])
        return
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def assert_gradients(loss, args, wrt=(0,)):
    """Value ``==`` Python's and gradients against central differences, calls 1 to 3."""
    want = [numerical(loss, args, i) for i in wrt]
    df = sg.value_and_grad(loss, wrt=wrt)
    for _ in range(3):  # the rank build, then the build for the shapes (optimized)
        value, grads = df(*args)
        assert value == loss(*args)
        for got, expected in zip(grads, want):
            assert_close(got, expected)


@pytest.mark.parametrize("steps", [0, 1, 7])
def test_a_helpers_loop_of_0_1_or_many_steps(steps):
    assert_gradients(helper_loss, helper_inputs(steps), wrt=(0, 1, 2))


def lstm_loss_of(f, head):
    criterion = nn.CrossEntropyLoss()

    def loss(params, xs, labels):
        return criterion(head(params["head"], f(params["lstm"], xs)), labels)

    return loss


@pytest.mark.parametrize("steps", [1, 6])
def test_the_lstm_model_in_a_loss(steps):
    f, _ = model.RecurrentLSTMNetwork(F_IN, H, rng=0)
    head = nn.Linear(H, 3)
    rng = np.random.default_rng(1)
    params = {"lstm": f.init(rng), "head": head.init(rng)}
    xs = rng.standard_normal((steps, N, F_IN))
    labels = rng.integers(0, 3, N)
    assert_gradients(lstm_loss_of(f, head), (params, xs, labels), wrt=(0, 1))


@pytest.mark.parametrize("constructor", [model.RecurrentNetwork, model.RecurrentGRUNetwork])
def test_the_other_models_in_a_loss(constructor):
    f, params = constructor(F_IN, H, "all", rng=2)
    xs = np.random.default_rng(3).standard_normal((5, N, F_IN))
    w = np.random.default_rng(4).standard_normal((5, N, H))

    def loss(params, xs, w):
        return np.sum(w * f(params, xs))

    assert_gradients(loss, (params, xs, w), wrt=(0, 1))


@DEFAULT_TIERS
def test_the_kept_lstms_weight_gradients_run_after_its_loop():
    f = LoopLSTM(F_IN, H)
    head = nn.Linear(H, 3)
    rng = np.random.default_rng(1)
    params = {"lstm": f.init(rng), "head": head.init(rng)}
    args = (params, rng.standard_normal((6, N, F_IN)), rng.integers(0, 3, N))
    shown = sg.show(lstm_loss_of(f, head), args=args, optimized=True)
    running = shown[shown.index("xw = F.linear(") :]  # the network's vjp
    loop = running[running.index("for t in reversed(") : running.index("dweight_ih = ")]
    assert "dweight_hh += linear_weight_grad(" not in loop.split("\n    dweight_hh")[0]
    assert "    dweight_hh += linear_weight_grad(dxw, " in running  # after the loop, stacked
    assert "seed_like(g_out, result)).astype(" in running  # the seed in the output's dtype


def test_a_narrower_seed_gives_the_gradient_of_the_wider_one():
    p, xs, h0, _ = helper_inputs(4, seed=5)
    vjp = sg.vjp(elman)
    g64 = np.random.default_rng(6).standard_normal((N, H))
    g32 = g64.astype(np.float32)
    want = sg.vjp(elman, optimize=False)(p, xs, h0, g32.astype(np.float64))
    for _ in range(3):
        got = vjp(p, xs, h0, g32)
        np.testing.assert_allclose(got["w_hh"], want["w_hh"], rtol=1e-12, atol=1e-14)
        assert got["w_hh"].dtype == np.float64
