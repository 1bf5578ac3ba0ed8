"""Logistic regression on scikit-learn's breast-cancer data by Newton-CG, with sourcegrad's
Hessian-vector products.

    python examples/newton_cg.py            # fit, print test accuracy and the iterations
    python examples/newton_cg.py --quick    # what CI runs (the same fit: it takes a second)
    sourcegrad show examples/newton_cg.py:loss --order 2 --args "example_args()"

Newton-CG never forms the Hessian: each conjugate-gradient step asks for the Hessian times a
vector, which ``sourcegrad.hvp`` computes as forward mode over the generated gradient.
"""

from __future__ import annotations

import argparse

import numpy as np

import sourcegrad as sg


def loss(w, x, y, penalty):
    """Mean logistic loss of labels ``y`` in {0, 1}, plus an L2 penalty on the weights
    (``w[-1]`` is the bias)."""
    z = x @ w[:-1] + w[-1]
    data = np.mean(np.logaddexp(0.0, z) - y * z)
    return data + 0.5 * penalty * np.sum(w[:-1] * w[:-1])


def load(seed=0):
    """Standardised features, split 80/20 at random (fixed seed)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    order = np.random.default_rng(seed).permutation(len(data.target))
    cut = int(0.8 * len(order))
    x, y = data.data[order], data.target[order].astype(float)
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
    x = (x - mean) / std
    return x[:cut], y[:cut], x[cut:], y[cut:]


def example_args():
    x, y, _, _ = load()
    return np.zeros(x.shape[1] + 1), x, y, 1e-2


def fit(penalty=1e-2):
    from scipy.optimize import minimize

    x_train, y_train, x_test, y_test = load()
    value_and_grad = sg.value_and_grad(loss)
    hvp = sg.hvp(loss)
    w0 = np.zeros(x_train.shape[1] + 1)
    result = minimize(
        lambda w: value_and_grad(w, x_train, y_train, penalty),
        w0,
        jac=True,
        hessp=lambda w, v: hvp(w, x_train, y_train, penalty, v),
        method="Newton-CG",
        options={"xtol": 1e-10},
    )
    predicted = (x_test @ result.x[:-1] + result.x[-1]) > 0.0
    accuracy = float(np.mean(predicted == (y_test > 0.5)))
    print(
        f"Newton-CG: {result.nit} iterations, {result.nhev} Hessian-vector products, "
        f"loss {result.fun:.5f}, test accuracy {accuracy:.4f}"
    )
    return result, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same fit (it is quick)")
    parser.parse_args(argv)
    fit()


if __name__ == "__main__":
    main()
