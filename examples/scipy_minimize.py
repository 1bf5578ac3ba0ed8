"""Fit a small nested model with scipy.optimize.minimize (L-BFGS-B) and sourcegrad's gradient.

python examples/scipy_minimize.py

``sourcegrad.util.flat_objective`` turns ``value_and_grad(loss)`` over a tree of parameters
into the ``fun(x, *args) -> (value, gradient vector)`` that ``minimize(..., jac=True)`` calls,
and ``unravel`` turns the solution vector back into the tree.
"""

from collections import namedtuple

import numpy as np
from scipy.optimize import minimize

import sourcegrad as sg
from sourcegrad import loss, util

Layer = namedtuple("Layer", ["W", "b"])


def predict(params, x):
    h = x
    for layer in params["hidden"]:
        h = np.tanh(h @ layer.W + layer.b)
    return h @ params["out"].W + params["out"].b


def objective(params, x, labels):
    penalty = sum(np.sum(layer.W**2) for layer in params["hidden"])
    return loss.cross_entropy(predict(params, x), labels) + 1e-3 * penalty


def init_params(rng, sizes=(2, 16, 16), classes=3):
    hidden = [
        Layer(rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n))
        for m, n in zip(sizes[:-1], sizes[1:])
    ]
    return {
        "hidden": hidden,
        "out": Layer(0.1 * rng.standard_normal((sizes[-1], classes)), np.zeros(classes)),
    }


def spirals(rng, n=100, classes=3):
    """``n`` points of each of ``classes`` interleaved spirals, and their labels."""
    t = np.linspace(0.2, 1.0, n)
    x, labels = [], []
    for k in range(classes):
        angle = 4.0 * t + 2.0 * np.pi * k / classes + 0.2 * rng.standard_normal(n)
        x.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
        labels.append(np.full(n, k))
    return np.concatenate(x), np.concatenate(labels)


def fit(params, x, labels, maxiter=300):
    x0, fun, unravel = util.flat_objective(sg.value_and_grad(objective), params)
    result = minimize(
        fun, x0, args=(x, labels), jac=True, method="L-BFGS-B", options={"maxiter": maxiter}
    )
    return unravel(result.x), result


def main():
    rng = np.random.default_rng(0)
    x, labels = spirals(rng)
    params = init_params(rng)
    print(f"initial loss {objective(params, x, labels):.4f}")
    params, result = fit(params, x, labels)
    accuracy = np.mean(np.argmax(predict(params, x), axis=1) == labels)
    print(f"L-BFGS-B: {result.nit} iterations, loss {result.fun:.4f}, accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
