"""sourcegrad.model's feed-forward networks: the seed's options, PyTorch's layers and
initialisation, gradients checked against finite differences to second order, dropout in
train mode only."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import model


class FixedMasks:
    """A stand-in for a ``numpy.random.Generator`` that draws the same numbers every call,
    so that a loss with dropout is a deterministic function for finite differences."""

    def random(self, shape):
        return np.random.default_rng(0).random(shape)


def weighted(f):
    def loss(params, x, w):
        return np.sum(w * f(params, x))

    return loss


def test_neural_network_layers_and_classifier_head():
    f, params = model.NeuralNetwork(4, [6, 3], "Tanh", classifier=True, rng=0)
    assert [{k: v.shape for k, v in p.items()} for p in params] == [
        {"weight": (6, 4), "bias": (6,)},
        {"weight": (3, 6), "bias": (3,)},
    ]
    assert np.abs(params[0]["weight"]).max() <= 1 / np.sqrt(4)
    x = np.random.default_rng(1).standard_normal((5, 4))
    hidden = np.tanh(x @ params[0]["weight"].T + params[0]["bias"])
    expected = hidden @ params[1]["weight"].T + params[1]["bias"]
    np.testing.assert_allclose(f(params, x), expected, rtol=1e-14)
    g, _ = model.NeuralNetwork(4, [6, 3], "Tanh", classifier=False)
    np.testing.assert_allclose(g(params, x), np.tanh(expected), rtol=1e-14)


@pytest.mark.parametrize("activation", ["Tanh", "Sigmoid", "GELU", np.sin])
def test_neural_network_gradients_to_second_order(activation):
    f, params = model.NeuralNetwork(3, [4, 2], activation, rng=2)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    assert sg.gradcheck(weighted(f), params, x, w, order=2)


def test_relu_network_gradients():
    f, params = model.NeuralNetwork(3, [4, 4, 2], "ReLU", classifier=True, rng=4)
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    assert sg.gradcheck(weighted(f), params, x, w)


def test_dropout_in_train_mode_and_not_in_eval_mode():
    f, params = model.NeuralNetwork(
        3, [8, 2], "Tanh", dropout_probs=[0.5, 0.25], dropout_generator=FixedMasks(), rng=6
    )
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    assert sg.gradcheck(weighted(f), params, x, w, order=2)
    first, _ = model.NeuralNetwork(
        3, [8, 2], "Tanh", dropout_probs=[0.5], dropout_generator=FixedMasks()
    )
    mask = (FixedMasks().random(x.shape) >= 0.5) / 0.5
    kept = first(params, x)
    first.eval()
    np.testing.assert_allclose(first(params, x * mask), kept, rtol=1e-14)
    assert not np.allclose(first(params, x), kept)
    np.testing.assert_allclose(first.train()(params, x), kept, rtol=1e-14)


def test_dropout_probabilities_per_layer():
    f, _ = model.NeuralNetwork(3, [4, 4, 2], dropout_probs=0.1)
    assert f.dropout_probs == [0.1, 0.1, 0.1]
    f, _ = model.NeuralNetwork(3, [4, 4, 2], dropout_probs=[0.5])
    assert f.dropout_probs == [0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match="dropout_probs"):
        model.NeuralNetwork(3, [4], dropout_probs=[0.5, 0.5])
    with pytest.raises(ValueError, match="activation"):
        model.NeuralNetwork(3, [4], activations="swish")


def test_spatial_network_feature_maps():
    f, params = model.SpatialNetwork(2, [3, 4], poolings=[2, 1], kernel_size=3, rng=8)
    assert params["head"] == []
    assert [p["weight"].shape for p in params["conv"]] == [(3, 2, 3, 3), (4, 3, 3, 3)]
    x = np.random.default_rng(9).standard_normal((2, 2, 6, 6))
    assert f(params, x).shape == (2, 4, 3, 3)
    w = np.random.default_rng(10).standard_normal((2, 4, 3, 3))
    assert sg.gradcheck(weighted(f), params, x, w, order=2)


def test_spatial_network_with_a_classifier_head():
    f, params = model.SpatialNetwork(
        1, [2], poolings=[2], activations="Tanh", input_size=(6, 6), head_features=[5, 3],
        dropout_probs=[0.2], dropout_generator=FixedMasks(), rng=11,
    )  # fmt: skip
    assert [p["weight"].shape for p in params["head"]] == [(5, 2 * 3 * 3), (3, 5)]
    x = np.random.default_rng(12).standard_normal((3, 1, 6, 6))
    w = np.random.default_rng(13).standard_normal((3, 3))
    assert f(params, x).shape == (3, 3)
    assert sg.gradcheck(weighted(f), params, x, w, order=2)
    with pytest.raises(ValueError, match="input_size"):
        model.SpatialNetwork(1, [2], head_features=[3])


def test_spatial_network_matches_torch():
    torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
    f, params = model.SpatialNetwork(
        1, [2, 3], [2, 2], "ReLU", input_size=(8, 8), head_features=[4], rng=14
    )
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(12, 4),
    ).double()  # fmt: skip
    layers = [net[0], net[3], net[7]]
    with torch.no_grad():
        for layer, p in zip(layers, params["conv"] + params["head"]):
            layer.weight.copy_(torch.from_numpy(p["weight"]))
            layer.bias.copy_(torch.from_numpy(p["bias"]))
    x = np.random.default_rng(15).standard_normal((2, 1, 8, 8))
    expected = net(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(f(params, x), expected, rtol=1e-10, atol=1e-12)


def test_a_model_holds_the_params_it_returns_for_the_module_api():
    f, params = model.NeuralNetwork(3, [4, 2], "Tanh", rng=16)
    assert f.parameters() is params
    x = np.random.default_rng(17).standard_normal((5, 3))
    g_out = np.random.default_rng(18).standard_normal((5, 2))
    np.testing.assert_array_equal(f.forward(x), f(params, x))
    f.backward(g_out)
    expected = sg.grad(lambda p, x, g: np.sum(g * f(p, x)))(params, x, g_out)
    for got, want in zip(f.grads, expected):
        np.testing.assert_allclose(got["weight"], want["weight"], rtol=1e-13)
