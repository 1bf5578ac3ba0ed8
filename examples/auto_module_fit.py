"""Fit ``y = exp(alpha * x)`` with modules made from plain functions: the seed's AutoModule
example, ``sourcegrad.nn.AutoModule`` and ``AutoCriterion`` in a ``Sequential`` trained the
PyTorch way (``zero_grad``, ``forward``, ``backward``, an SGD step).

    python examples/auto_module_fit.py             # 2000 steps, a few seconds
    python examples/auto_module_fit.py --quick     # 300 steps (what CI runs)

``linear_relu``, ``linear`` and ``squared_error`` are the user's NumPy functions; each module
calls its function, and sourcegrad differentiates it from its source when the module's
``backward`` asks for the gradient. ``alpha`` is one fixed random factor per input feature, so
the network learns a different exponential on each of its outputs.
"""

from __future__ import annotations

import argparse

import numpy as np

import sourcegrad as sg
from sourcegrad import nn

FEATURES, HIDDEN = 10, 64


def linear(x, weight, bias):
    return x @ weight.T + bias


def linear_relu(x, weight, bias):
    y = x @ weight.T + bias
    return (np.abs(y) + y) * 0.5


def squared_error(input, target):
    buffer = input - target
    return buffer * buffer


AutoLinearReLU = nn.AutoModule("AutoLinearReLU")(linear_relu, (HIDDEN, FEATURES), (HIDDEN,))
AutoLinear = nn.AutoModule("AutoLinear")(linear, (FEATURES, HIDDEN), (FEATURES,))
AutoMSE = nn.AutoCriterion("AutoMSE")(squared_error)


def fit(steps, batch=32, lr=0.05, momentum=0.9, seed=0, every=250, plot=""):
    """Train for ``steps`` SGD steps on fresh random batches (a progress bar shows the mean
    squared error; ``plot``: a file for the loss curve); returns the model and the losses."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.0, 1.0, FEATURES)
    model = nn.Sequential(AutoLinearReLU(), AutoLinear())
    criterion = AutoMSE()
    params = model.parameters(rng)  # held by the model: the updates below change them
    optimizer = sg.optim.SGD(params, lr=lr, momentum=momentum)
    losses = []
    for i in (bar := tqdm(range(steps), desc="AutoModule fit")):
        x = rng.uniform(-1.0, 1.0, (batch, FEATURES))
        target = np.exp(alpha * x)
        model.zero_grad()
        output = model.forward(x)
        losses.append(float(criterion.forward(output, target)))
        model.backward(criterion.backward())
        optimizer.step(model.grads)
        if i % every == 0 or i == steps - 1:
            bar.set_postfix(mse=f"{np.mean(losses[-every:]):.5f}")
    print(f"mse {np.mean(losses[-every:]):.5f} after {steps} steps")
    if plot:
        from curves import save_loss_curve

        save_loss_curve(losses, plot, "exp(alpha * x) by AutoModule")
    return model, losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 steps (CI)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--plot", default="auto_module_fit.png", help="'' for no plot")
    args = parser.parse_args(argv)
    fit(300 if args.quick else args.steps, lr=args.lr, plot=args.plot)


if __name__ == "__main__":
    main()
