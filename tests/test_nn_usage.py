"""sourcegrad.nn layers used the ways people write models: layers in globals, a loop over
``zip(layers, params)``, ``Sequential``, the PyTorch-style ``Module`` API, ``functionalize``;
float32 stays float32; running statistics and dropout masks under differentiation; and what
the derivative of a small MLP and CNN shows."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn

F = nn.functional
RNG = np.random.default_rng(0)

L1, ACT, L2 = nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)
CRITERION = nn.CrossEntropyLoss()


def mlp_loss(params, x, labels):
    h = ACT(L1(params[0], x))
    return CRITERION(L2(params[1], h), labels)


LAYERS = [nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 3)]


def looped_loss(params, x, y):
    h = x
    for layer, p in zip(LAYERS, params):
        h = np.tanh(layer(p, h))
    return nn.MSELoss()(h, y)


CNN = nn.Sequential(
    nn.Conv2d(2, 4, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(4, 4, 3, stride=2, padding=1),
    nn.BatchNorm2d(4),
    nn.GELU(),
    nn.AvgPool2d(2),
    nn.Flatten(),
    nn.Linear(4, 3),
)


def cnn_loss(params, x, labels):
    return nn.CrossEntropyLoss()(CNN(params, x), labels)


def _data(n=5):
    x = RNG.standard_normal((n, 4))
    return x, RNG.integers(0, 3, n)


def test_mlp_with_layers_in_globals():
    params = [L1.init(RNG), L2.init(RNG)]
    x, labels = _data()
    df = sg.grad(mlp_loss)
    first, second, third = df(params, x, labels), df(params, x, labels), df(params, x, labels)
    for a, b, c in zip(first, second, third):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-13)
            np.testing.assert_array_equal(b[k], c[k])
    assert sg.gradcheck(mlp_loss, params, x, labels, order=2)


def test_loop_over_zip_of_layers_and_params():
    params = [layer.init(RNG) for layer in LAYERS]
    x, y = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 3))
    assert sg.gradcheck(looped_loss, params, x, y, order=2)


def test_sequential_cnn_matches_torch_sequential():
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
    params = CNN.init(np.random.default_rng(1))
    assert [sorted(p) for p in params] == [["bias", "weight"], [], [], ["bias", "weight"]] + [
        ["bias", "weight"],
        [],
        [],
        [],
        ["bias", "weight"],
    ]
    x, labels = RNG.standard_normal((3, 2, 8, 8)), np.array([0, 2, 1])
    reference = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 4, 3, stride=2, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.GELU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 3),
    ).double()
    with torch.no_grad():
        for module, p in zip(reference, params):
            for k, v in p.items():
                getattr(module, k).copy_(torch.tensor(v))
    loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(labels))
    loss.backward()
    df = sg.value_and_grad(cnn_loss)
    for _ in range(2):
        value, grads = df(params, x, labels)
        np.testing.assert_allclose(value, loss.item(), rtol=1e-12)
        for module, g in zip(reference, grads):
            for k in g:
                np.testing.assert_allclose(g[k], getattr(module, k).grad.numpy(), atol=1e-12)
    # the three evaluations of this training batch count once, as torch's one forward pass
    nn.update_running_stats(CNN)
    np.testing.assert_allclose(CNN[4].running_mean, reference[4].running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(CNN[4].running_var, reference[4].running_var.numpy(), atol=1e-12)
    CNN.eval()
    reference.eval()
    try:
        expected = reference(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(CNN(params, x), expected, atol=1e-12)
        assert sg.gradcheck(cnn_loss, params, x, labels)
    finally:
        CNN.train()


def test_sequential_gradcheck_second_order():
    seq = nn.Sequential(nn.Linear(4, 5), nn.GELU(), nn.LayerNorm(5), nn.Linear(5, 3))
    params = seq.init(RNG)
    x, labels = _data()

    def loss(params, x, labels):
        return nn.CrossEntropyLoss()(seq(params, x), labels)

    assert sg.gradcheck(loss, params, x, labels, order=2)


LAYER_CASES = [
    (nn.Linear(4, 3), (5, 4)),
    (nn.Linear(4, 3, bias=False), (5, 4)),
    (nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    (nn.BatchNorm2d(2), (3, 2, 3, 3)),
    (nn.BatchNorm1d(2).eval(), (3, 2)),
    (nn.LayerNorm(4), (3, 4)),
    (nn.MaxPool2d(2), (2, 2, 4, 4)),
    (nn.AvgPool2d(2), (2, 2, 4, 4)),
    (nn.ReLU(), (3, 4)),
    (nn.Tanh(), (3, 4)),
    (nn.Sigmoid(), (3, 4)),
    (nn.GELU(), (3, 4)),
    (nn.GELU("tanh"), (3, 4)),
    (nn.SoftMax(), (3, 4)),
    (nn.LogSoftMax(), (3, 4)),
    (nn.Flatten(), (2, 3, 4)),
    (nn.Reshape(2, 6), (2, 3, 4)),
    (nn.Dropout(0.3, np.random.default_rng(0)), (3, 4)),
]


def sum_of_squares(params, x, layer):
    return np.sum(layer.apply(params, x) ** 2)


@pytest.mark.parametrize("layer, shape", LAYER_CASES, ids=lambda v: type(v).__name__)
def test_float32_stays_float32(layer, shape):
    params = layer.init(RNG, np.float32)
    for v in params.values():
        assert v.dtype == np.float32
    x = RNG.standard_normal(shape).astype(np.float32)
    assert layer.apply(params, x).dtype == np.float32
    for _ in range(2):
        dparams, dx = sg.grad(sum_of_squares, (0, 1))(params, x, layer)
        assert dx.dtype == np.float32
        assert all(v.dtype == np.float32 for v in dparams.values())


CRITERIA = [
    (nn.MSELoss(), np.float32),
    (nn.CrossEntropyLoss(), np.int64),
    (nn.CrossEntropyLoss("none"), np.float32),
    (nn.NLLLoss("sum"), np.int64),
    (nn.BCELoss(), np.float32),
    (nn.BCEWithLogitsLoss(), np.float32),
]


def criterion_sum(input, target, criterion):
    return np.sum(criterion(input, target))


@pytest.mark.parametrize("criterion, target_dtype", CRITERIA, ids=lambda v: type(v).__name__)
def test_float32_criteria(criterion, target_dtype):
    input = RNG.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    if target_dtype == np.int64:
        target = np.array([0, 2, 1, 1])
    else:
        target = RNG.dirichlet(np.ones(3), 4).astype(np.float32)
    assert np.asarray(criterion(input, target)).dtype == np.float32
    for _ in range(2):
        assert sg.grad(criterion_sum)(input, target, criterion).dtype == np.float32


def test_module_api_accumulates_gradients():
    lin = nn.Linear(4, 3)
    params = lin.parameters(RNG)
    assert lin.parameters() is params and params["weight"].shape == (3, 4)
    x = RNG.standard_normal((5, 4))
    y = lin.forward(x)
    g = RNG.standard_normal(y.shape)
    dx = lin.backward(g)
    np.testing.assert_allclose(dx, g @ params["weight"])
    np.testing.assert_allclose(lin.grads["weight"], g.T @ x)
    lin.backward(g)
    np.testing.assert_allclose(lin.grads["bias"], 2 * g.sum(axis=0))
    lin.zero_grad()
    assert lin.grads is None
    relu = nn.ReLU()
    relu.forward(x)
    np.testing.assert_array_equal(relu.backward(g[:, :1] + np.zeros((5, 4))), (x > 0) * g[:, :1])


def test_functionalize():
    seq = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid())
    f, params = nn.functionalize(seq, RNG)
    assert params is seq.parameters()
    x = RNG.standard_normal((2, 4))
    np.testing.assert_array_equal(f(params, x), seq(params, x))

    def loss(params, x):
        return np.sum(f(params, x) ** 2)

    assert sg.gradcheck(loss, params, x)
    relu = nn.functionalize(nn.ReLU())
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))


DROP = nn.Dropout(0.4, np.random.default_rng(5))


def dropped(x):
    return np.sum(DROP(x) * 3.0)


def test_dropout_uses_its_own_mask_and_is_the_identity_in_eval_mode():
    x = RNG.standard_normal((50, 20))
    g = sg.grad(dropped)(x)  # the mask the forward pass drew: 1 / 0.6 or 0
    assert set(np.round(np.unique(g), 12)) == {0.0, np.round(3.0 / 0.6, 12)}
    assert 0.3 < np.mean(g == 0.0) < 0.5
    assert not np.array_equal(g, sg.grad(dropped)(x))  # a fresh draw per call
    DROP.eval()
    try:
        assert np.array_equal(sg.grad(dropped)(x), np.full_like(x, 3.0))
        assert DROP(x) is x
    finally:
        DROP.train()
    with pytest.raises(ValueError, match="Generator"):
        F.dropout_mask(x, 0.5, None)


def test_batch_norm_running_stats_over_training_steps():
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
    bn, reference = nn.BatchNorm1d(3, momentum=0.2), torch.nn.BatchNorm1d(3, momentum=0.2)
    reference.double()
    params = bn.init(RNG)

    def loss(params, x):
        return np.sum(bn(params, x) ** 3)

    df = sg.grad(loss)
    for _ in range(3):
        x = 1.0 + 2.0 * RNG.standard_normal((8, 3))
        df(params, x)
        df(params, x)  # evaluating the same batch again changes nothing
        nn.update_running_stats([bn])
        reference(torch.tensor(x))
    np.testing.assert_allclose(bn.running_mean, reference.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, reference.running_var.numpy(), atol=1e-12)


def _calls_in(source, name):
    return source.count(name + "(")


def test_shown_mlp_derivative_calls_the_layers_and_their_backward_functions():
    def functional_mlp(params, x, labels):
        h = F.tanh(F.linear(x, params[0]["weight"], params[0]["bias"]))
        return F.cross_entropy(F.linear(h, params[1]["weight"], params[1]["bias"]), labels)

    params = [L1.init(RNG), L2.init(RNG)]
    x, labels = _data()
    source = sg.show(functional_mlp, args=(params, x, labels))
    forward, adjoint = source.split("\n\n", 1)
    assert _calls_in(forward, "F.linear") == 2 and _calls_in(forward, "F.tanh") == 1
    assert _calls_in(adjoint, "linear_weight_grad") == 2
    assert _calls_in(adjoint, "linear_bias_grad") == 2
    assert _calls_in(adjoint, "nll_loss_grad") == 1
    layered = sg.show(mlp_loss, args=(params, x, labels))
    assert "L1(params0, x)" in layered and "vjp_of(L1, 0)" in layered
    layer_source = sg.show(L1.__call__, args=(params[0], x))
    assert "F.linear(x, weight, bias)" in layer_source
    assert "linear_weight_grad(" in layer_source and "linear_bias_grad(" in layer_source


def test_shown_cnn_derivative_calls_the_backward_functions():
    def cnn(params, x, labels):
        h = F.relu(F.conv2d(x, params["c"], params["b"], 1, 1))
        h = F.flatten(F.max_pool2d(h, 2))
        return F.cross_entropy(F.linear(h, params["w"]), labels)

    params = {
        "c": RNG.standard_normal((3, 2, 3, 3)),
        "b": np.zeros(3),
        "w": RNG.standard_normal((2, 12)),
    }
    x, labels = RNG.standard_normal((2, 2, 4, 4)), np.array([0, 1])
    source = sg.show(cnn, args=(params, x, labels))
    forward, adjoint = source.split("\n\n", 1)
    for name in ["F.conv2d", "F.relu", "F.max_pool2d", "F.flatten", "F.linear"]:
        assert _calls_in(forward, name) == 1, name
    for name in ["conv2d_weight_grad", "max_pool2d_grad", "linear_weight_grad"]:
        assert _calls_in(adjoint, name) == 1, name
    assert "conv2d_input_grad" not in adjoint  # x is not differentiated
    assert sg.gradcheck(cnn, params, x, labels, order=2)


def scaled_tanh(x, weight, bias):
    return np.tanh(x * weight + bias)


def squared_log_error(input, target):
    return (np.log1p(input) - np.log1p(target)) ** 2


ScaledTanh = nn.AutoModule("ScaledTanh")(scaled_tanh, weight=(3,), bias=(3,))
SquaredLogError = nn.AutoCriterion("SquaredLogError")(squared_log_error)
SCALED = ScaledTanh()
SLE = SquaredLogError(reduction="sum")


def auto_loss(params, x, y):
    return SLE(1.0 + SCALED(params, x), y)


def test_auto_module_and_criterion():
    assert ScaledTanh.__name__ == "ScaledTanh" and isinstance(SCALED, nn.Module)
    params = SCALED.init(RNG)
    assert params["weight"].shape == (3,) and params["bias"].shape == (3,)
    x, y = RNG.standard_normal((4, 3)), RNG.uniform(0.5, 1.5, (4, 3))
    expected = np.sum((np.log1p(1.0 + scaled_tanh(x, **params)) - np.log1p(y)) ** 2)
    np.testing.assert_allclose(auto_loss(params, x, y), expected)
    assert sg.gradcheck(auto_loss, params, x, y, order=2)
    free = nn.AutoModule("Square")(np.square)()
    assert not free.has_params and free.init() == {}
    np.testing.assert_array_equal(free(x), x * x)
    with pytest.raises(ValueError, match="bias needs a weight"):
        nn.AutoModule("Bad")(scaled_tanh, bias=(3,))
