"""The seed network of torch-autograd's README, in NumPy, trained with sourcegrad.

python examples/mlp.py                       # gradients, then a few SGD steps
sourcegrad show examples/mlp.py:neural_net   # the derivative, as source
sourcegrad show examples/mlp.py:neural_net --args "example_args()"
"""

import numpy as np

import sourcegrad as sg


def neural_net(params, x, y):
    h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    y_hat = h2 - np.log(np.sum(np.exp(h2)))
    return -np.sum(y_hat * y)


def init_params(rng):
    return {
        "W": [rng.standard_normal((100, 50)) * 0.1, rng.standard_normal((50, 10)) * 0.1],
        "b": [np.zeros(50), np.zeros(10)],
    }


def example_args(seed=0):
    """Parameters, one input row and a one-hot target, as in the seed's README."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 100))
    y = np.zeros((1, 10))
    y[0, 2] = 1.0
    return init_params(rng), x, y


def main():
    params, x, y = example_args()
    dneural_net = sg.value_and_grad(neural_net)
    loss, grads = dneural_net(params, x, y)
    print(f"loss: {loss:.4f}")
    for key in ("W", "b"):
        for i, g in enumerate(grads[key]):
            print(f"d{key}[{i}]: shape {g.shape}, |grad| = {np.linalg.norm(g):.4f}")
    for step in range(5):
        loss, grads = dneural_net(params, x, y)
        for key in ("W", "b"):
            for i in range(2):
                params[key][i] -= 0.1 * grads[key][i]
        print(f"step {step}: loss {loss:.4f}")
    final = neural_net(params, x, y)
    print(f"final loss: {final:.4f}")


if __name__ == "__main__":
    main()
