import numpy as np

import sourcegrad as sg


def neural_net(params, x, y):
    h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    y_hat = h2 - np.log(np.sum(np.exp(h2)))
    return -np.sum(y_hat * y)


def make_params(rng):
    return {
        "W": [rng.standard_normal((6, 5)), rng.standard_normal((5, 3))],
        "b": [rng.standard_normal(5), rng.standard_normal(3)],
    }


def test_seed_mlp_matches_finite_differences(rng):
    params = make_params(rng)
    x = rng.standard_normal((4, 6))
    y = np.eye(3)[[0, 1, 2, 0]]
    assert sg.gradcheck(neural_net, params, x, y)


def test_gradient_mirrors_structure(rng):
    params = make_params(rng)
    g = sg.grad(neural_net)(params, rng.standard_normal((2, 6)), np.eye(3)[[0, 1]])
    assert set(g) == {"W", "b"}
    assert [a.shape for a in g["W"]] == [(6, 5), (5, 3)]
    assert [a.shape for a in g["b"]] == [(5,), (3,)]


def test_value_and_grad_returns_the_value(rng):
    params = make_params(rng)
    x, y = rng.standard_normal((2, 6)), np.eye(3)[[0, 1]]
    value, g = sg.value_and_grad(neural_net)(params, x, y)
    assert np.isclose(value, neural_net(params, x, y))
    np.testing.assert_allclose(g["W"][0], sg.grad(neural_net)(params, x, y)["W"][0])
