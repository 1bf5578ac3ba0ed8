"""``sourcegrad.nn.functional.lstm``: the LSTM over a sequence as one primitive with a
hand-written backward (what ``model.RecurrentLSTMNetwork`` calls).

Its values equal the plain loop ``lstm_reference`` exactly; gradients agree with central
differences in float64 on calls 1-3 (the first call runs the derivative for the ranks, the
later ones the code optimized for the shapes), Hessian-vector products with differences of
gradients; 0, 1 and many steps; the running derivative calls it once."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import model
from sourcegrad.nn import functional as F
from sourcegrad.nn import recurrent as R

from .fd import numerical_grad
from .internals import DEFAULT_TIERS

N, D, H = 2, 3, 4


def weights(hidden=H, features=D, seed=0, dtype=np.float64):
    return model.init_recurrent(features, hidden, gates=4, rng=seed, dtype=dtype)


def args_of(p, x):
    return (x, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])


def every_output(p, x, w):
    """A loss of all three outputs, weighted so that no gradient cancels out."""
    hs, (h, c) = F.lstm(x, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    return np.sum(w[: len(hs)] * np.tanh(hs)) + np.sum(w[-1] * h * h) + np.sum(np.sin(c))


def differences(f, args, i):
    """Central differences of ``f`` in ``args[i]``: an array, or a dict of arrays key by key."""
    if not isinstance(args[i], dict):
        return numerical_grad(f, args, i)
    out = {}
    for key, value in args[i].items():

        def of_one(v, *rest, key=key):
            a = list(rest)
            a.insert(i, {**args[i], key: v})
            return f(*a)

        rest = [a for j, a in enumerate(args) if j != i]
        out[key] = numerical_grad(of_one, (value, *rest), 0)
    return out


def close(got, want, rtol=1e-6, atol=1e-8):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("steps", [0, 1, 2, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_equal_the_plain_loop(steps, dtype):
    p = weights(dtype=dtype)
    x = np.random.default_rng(1).standard_normal((steps, N, D)).astype(dtype)
    hs, (h, c) = F.lstm(*args_of(p, x))
    want_hs, (want_h, want_c) = R.lstm_reference(*args_of(p, x))
    assert hs.shape == (steps, N, H) and h.shape == c.shape == (N, H)
    assert hs.dtype == h.dtype == c.dtype == dtype
    np.testing.assert_array_equal(hs, want_hs)
    np.testing.assert_array_equal(h, want_h)
    np.testing.assert_array_equal(c, want_c)
    if steps == 0:
        assert not h.any() and not c.any()


def test_values_without_biases_and_with_large_gates():
    p = weights(seed=2)
    x = 30.0 * np.random.default_rng(3).standard_normal((5, N, D))  # saturated sigmoids
    got = F.lstm(x, p["weight_ih"] * 10, p["weight_hh"])
    want = R.lstm_reference(x, p["weight_ih"] * 10, p["weight_hh"])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1][1], want[1][1])


@pytest.mark.parametrize("steps", [1, 2, 6])
def test_gradients_agree_with_central_differences_on_calls_1_to_3(steps):
    p = weights(seed=4)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((steps, N, D)), rng.standard_normal((steps, N, H))
    want_p = differences(every_output, (p, x, w), 0)
    want_x = numerical_grad(every_output, (p, x, w), 1)
    df = sg.value_and_grad(every_output, wrt=(0, 1))
    for _ in range(3):
        value, (gp, gx) = df(p, x, w)
        assert value == every_output(p, x, w)
        close(gp, want_p)
        np.testing.assert_allclose(gx, want_x, rtol=1e-6, atol=1e-8)


def test_a_loss_of_the_last_state_alone():
    p = weights(seed=6)
    x = np.random.default_rng(7).standard_normal((4, N, D))

    def last(p, x):
        _, (h, _) = F.lstm(x, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
        return np.sum(np.cos(h))

    want = differences(last, (p, x), 0)
    for _ in range(3):
        close(sg.grad(last)(p, x), want)


@pytest.mark.parametrize("steps", [0, 1, 5])
@pytest.mark.parametrize("output_type", ["last", "all"])
def test_the_model_with_0_1_or_many_steps(steps, output_type):
    f, p = model.RecurrentLSTMNetwork(D, H, output_type, rng=8)
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((steps, N, D)), rng.standard_normal((steps + 1, N, H))

    def loss(p, x, w):
        out = f(p, x)
        return (
            np.sum(w[: len(out)] * np.tanh(out)) if out.ndim == 3 else np.sum(w[-1] * np.sin(out))
        )

    hs = R.lstm_reference(*args_of(p, x))
    np.testing.assert_array_equal(f(p, x), hs[0] if output_type == "all" else hs[1][0])
    want = differences(loss, (p, x, w), 0)
    df = sg.grad(loss)
    for _ in range(3):
        close(df(p, x, w), want)


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_the_model_to_second_order_with_0_1_or_many_steps(steps):
    f, p = model.RecurrentLSTMNetwork(D, H, "all", rng=22)
    rng = np.random.default_rng(23)
    x, w = rng.standard_normal((steps, N, D)), rng.standard_normal((steps, N, H))

    def loss(p, x, w):
        return np.sum(w * np.tanh(f(p, x)))

    assert sg.gradcheck(loss, p, x, w, order=2)
    assert sg.gradcheck(loss, p, x, w, wrt=1, order=2)


@pytest.mark.parametrize("wrt", [0, 1])
def test_hessian_vector_products_agree_with_differences_of_gradients(wrt):
    p = weights(seed=10)
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((3, N, D)), rng.standard_normal((3, N, H))
    args = [p, x, w]
    if wrt == 0:
        v = {k: rng.standard_normal(a.shape) for k, a in p.items()}
    else:
        v = rng.standard_normal(x.shape)
    eps = 1e-5

    def moved(sign):
        a = list(args)
        a[wrt] = sg.util.tree_map(lambda u, dv: u + sign * eps * dv, args[wrt], v)
        return sg.grad(every_output, wrt=wrt)(*a)

    plus, minus = moved(1.0), moved(-1.0)
    want = sg.util.tree_map(lambda a, b: (a - b) / (2 * eps), plus, minus)
    hvp = sg.hvp(every_output, wrt=wrt)
    for _ in range(2):
        got = hvp(p, x, w, v)
        if wrt == 0:
            close(got, want, rtol=1e-5, atol=1e-7)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_gradcheck_to_second_order():
    p = weights(seed=12)
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal((3, N, D)), rng.standard_normal((3, N, H))
    assert sg.gradcheck(every_output, p, x, w, order=2)
    assert sg.gradcheck(every_output, p, x, w, wrt=1, order=2)


def test_a_backward_of_many_blocks_of_steps_agrees_with_the_plain_loop():
    hidden, n, steps = 64, 16, 11
    p = weights(hidden=hidden, features=5, seed=14)
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((steps, n, 5)), rng.standard_normal((steps, n, hidden))

    def plain(p, x, w):
        hs, (h, c) = R.lstm_reference(x, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
        return np.sum(w * np.tanh(hs)) + np.sum(w[-1] * h * h) + np.sum(np.sin(c))

    want = sg.grad(plain, wrt=(0, 1))(p, x, w)
    block = R.FACTOR_BLOCK
    try:
        for R.FACTOR_BLOCK in (block, 3 * n * hidden, n * hidden):  # 16, 3 and 1 steps a block
            got = sg.grad(every_output, wrt=(0, 1))(p, x, w)
            close(got[0], want[0], rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-13)
    finally:
        R.FACTOR_BLOCK = block


def test_gate_adjoints_of_a_result_it_did_not_make_run_the_forward_again():
    p = weights(seed=16)
    rng = np.random.default_rng(17)
    x, g = rng.standard_normal((4, N, D)), rng.standard_normal((4, N, H))
    result = F.lstm(*args_of(p, x))
    want = R.lstm_gate_grads(*args_of(p, x), result, (g, None))
    plain = tuple(result)  # no buffers kept
    np.testing.assert_array_equal(R.lstm_gate_grads(*args_of(p, x), plain, (g, None)), want)
    other = x + 1.0  # another input: the kept buffers are not its
    fresh = R.lstm_gate_grads(*args_of(p, other), F.lstm(*args_of(p, other)), (g, None))
    np.testing.assert_array_equal(R.lstm_gate_grads(*args_of(p, other), result, (g, None)), fresh)
    assert not np.array_equal(fresh, want)


def test_the_bias_gradients_are_separate_arrays():
    f, p = model.RecurrentLSTMNetwork(D, H, rng=18)
    x = np.random.default_rng(19).standard_normal((3, N, D))
    for _ in range(3):
        grads = sg.grad(lambda p, x: np.sum(f(p, x)))(p, x)
        assert not np.shares_memory(grads["bias_ih"], grads["bias_hh"])
        np.testing.assert_array_equal(grads["bias_ih"], grads["bias_hh"])


def test_malformed_arguments_are_refused():
    p = weights()
    x = np.zeros((3, N, D))
    with pytest.raises(ValueError, match=r"\(T, N, features\)"):
        F.lstm(x[0], p["weight_ih"], p["weight_hh"])
    with pytest.raises(ValueError, match="weight_ih"):
        F.lstm(x, p["weight_hh"], p["weight_hh"])


@DEFAULT_TIERS
def test_the_running_derivative_calls_the_primitive_once():
    f, p = model.RecurrentLSTMNetwork(D, H, rng=20)
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal((6, N, D)), rng.standard_normal((N, H))

    def loss(p, x, w):
        return np.sum(w * f(p, x))

    shown = sg.show(loss, args=(p, x, w), optimized=True)
    running = shown[shown.index("F.lstm(") :]  # the network's vjp
    assert running.count("lstm_gate_grads(") == 1
    assert "for " not in running and "zero_adjoint(" not in running
    assert running.count("linear_weight_grad(dgates") == 2  # each weight: one GEMM
