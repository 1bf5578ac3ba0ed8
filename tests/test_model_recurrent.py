"""sourcegrad.model's recurrent networks: torch.nn.RNN / LSTM / GRU's equations and gate
layout (to 1e-10 in float64, values and gradients, where torch is installed), gradients
checked against finite differences to second order, arrays and lists of steps alike."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import model

from .fd import numerical_grad
from .internals import DEFAULT_TIERS
from .lstm_loop import LoopLSTM

CONSTRUCTORS = {
    "rnn": model.RecurrentNetwork,
    "lstm": model.RecurrentLSTMNetwork,
    "gru": model.RecurrentGRUNetwork,
}
T, N, F_IN, H = 4, 2, 3, 5


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((T, N, F_IN)), rng.standard_normal((T, N, H))


def weighted(f):
    """A scalar loss of the network's output, so that no gradient can cancel out."""

    def loss(params, x, w):
        out = f(params, x)
        return np.sum(w[: len(out)] * np.tanh(out)) if out.ndim == 3 else np.sum(w[-1] * out)

    return loss


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_params_have_pytorch_names_shapes_and_bounds(kind):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    _, params = CONSTRUCTORS[kind](F_IN, H, rng=0)
    assert {k: v.shape for k, v in params.items()} == {
        "weight_ih": (gates * H, F_IN),
        "weight_hh": (gates * H, H),
        "bias_ih": (gates * H,),
        "bias_hh": (gates * H,),
    }
    bound = 1.0 / np.sqrt(H)
    assert all(np.abs(v).max() <= bound and v.dtype == np.float64 for v in params.values())
    _, p32 = CONSTRUCTORS[kind](F_IN, H, rng=0, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in p32.values())


@pytest.mark.parametrize("output_type", ["last", "all"])
@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_gradients_agree_with_finite_differences_to_second_order(kind, output_type):
    f, params = CONSTRUCTORS[kind](F_IN, H, output_type, rng=1)
    x, w = inputs()
    assert f(params, x).shape == ((T, N, H) if output_type == "all" else (N, H))
    assert sg.gradcheck(weighted(f), params, x, w, order=2)
    assert sg.gradcheck(weighted(f), params, x, w, wrt=1)


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_a_list_of_steps_is_the_same_as_an_array(kind):
    f, params = CONSTRUCTORS[kind](F_IN, H, "all", rng=2)
    x, w = inputs(1)
    np.testing.assert_array_equal(f(params, list(x)), f(params, x))
    value, grads = sg.value_and_grad(weighted(f))(params, x, w)
    value_l, grads_l = sg.value_and_grad(weighted(f))(params, list(x), w)
    assert value == value_l
    for k in grads:
        np.testing.assert_allclose(grads_l[k], grads[k], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_cells_step_inside_a_users_own_loop(kind):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    params = model.init_recurrent(F_IN, H, gates=gates, rng=3)
    x, w = inputs(2)

    def loss(params, x, w):
        h = np.zeros((N, H))
        c = np.zeros((N, H))
        for t in range(len(x)):
            if kind == "lstm":
                h, c = model.lstm_cell(params, x[t], h, c)
            elif kind == "gru":
                h = model.gru_cell(params, x[t], h)
            else:
                h = model.rnn_cell(params, x[t], h)
        return np.sum(w[-1] * h)

    f, _ = CONSTRUCTORS[kind](F_IN, H)
    assert loss(params, x, w) == pytest.approx(np.sum(w[-1] * f(params, x)), rel=1e-13)
    assert sg.gradcheck(loss, params, x[:2], w, order=2)


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_gradient_in_the_steps_on_first_and_later_calls(kind):
    f, params = CONSTRUCTORS[kind](F_IN, H, "all", rng=5)
    x, w = inputs(4)
    loss = weighted(f)
    want = numerical_grad(loss, (params, x, w), 1)
    for steps in (x, list(x), tuple(x)):
        df = sg.grad(loss, wrt=1)
        for _ in range(3):  # the build for the ranks, then the one specialised to the shapes
            got = df(params, steps, w)
            assert type(got) is type(steps)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_steps_of_another_rank_are_refused(kind):
    f, params = CONSTRUCTORS[kind](F_IN, H, rng=0)
    x, _ = inputs()
    with pytest.raises(ValueError, match=r"\(T, N, features\)"):
        f(params, x[0])
    with pytest.raises(ValueError, match="at least one step"):
        f(params, [])


@DEFAULT_TIERS
def test_the_lstms_running_derivative_adds_each_step_into_one_buffer():
    f, params = LoopLSTM(F_IN, H), model.init_recurrent(F_IN, H, gates=4, rng=6)
    x, w = inputs(5)
    shown = sg.show(weighted(f), args=(params, x, w), optimized=True)
    running = shown[shown.index("xw = F.linear(") :]  # the network's vjp, after the loss's
    assert "xw = F.linear(" in running and "dxw[t] += " in running  # in place, one buffer
    assert "unindex(" not in running and "sum_to(" not in running  # specialised to shapes
    assert running.count("linear_weight_grad(dxw, xw_1)") == 1  # one GEMM after the loop
    # the recurrent weights' too: the steps' rows of dxw against the stacked states
    assert running.count("linear_weight_grad(dxw, ") == 2


def test_an_unknown_output_type_is_refused():
    with pytest.raises(ValueError, match="output_type"):
        model.RecurrentLSTMNetwork(3, 4, output_type="mean")


# ------------------------------------------------------------------------- against torch


def torch_twin(kind, params):
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    net = cls(F_IN, H).double()
    with torch.no_grad():
        for name, value in params.items():
            getattr(net, name + "_l0").copy_(torch.from_numpy(value))
    return torch, net


@pytest.mark.parametrize("kind", sorted(CONSTRUCTORS))
def test_outputs_and_gradients_match_torch(kind):
    f, params = CONSTRUCTORS[kind](F_IN, H, "all", rng=4)
    last, _ = CONSTRUCTORS[kind](F_IN, H, "last")
    torch, net = torch_twin(kind, params)
    x, w = inputs(3)
    out, _ = net(torch.from_numpy(x))
    np.testing.assert_allclose(f(params, x), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(last(params, x), out[-1].detach().numpy(), rtol=1e-10, atol=1e-12)
    torch.sum(torch.from_numpy(w) * torch.tanh(out)).backward()
    grads = sg.grad(weighted(f))(params, x, w)
    for name in params:
        expected = getattr(net, name + "_l0").grad.numpy()
        np.testing.assert_allclose(grads[name], expected, rtol=1e-10, atol=1e-12)
