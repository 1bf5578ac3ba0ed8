"""A small convolutional network on scikit-learn's digits, built from ``sourcegrad.nn`` layers
and trained with ``sourcegrad.optim.Adam``.

    python examples/digits_cnn.py            # 15 epochs, well under a minute; digits_cnn.png
    python examples/digits_cnn.py --quick    # 2 epochs (what CI runs)
    sourcegrad show examples/digits_cnn.py:loss --args "example_args()"

The model is one call in the derivative; each layer's backward is hand-written NumPy (for the
convolutions an im2col gather by a cached index and one matrix product each way).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sourcegrad as sg
from sourcegrad import nn

MODEL = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(32 * 2 * 2, 10),
)
CRITERION = nn.CrossEntropyLoss()


def loss(params, images, labels):
    """Mean cross entropy of the batch (``images``: N x 1 x 8 x 8, ``labels``: integers)."""
    return CRITERION(MODEL(params, images), labels)


def load_digits(seed=0):
    """Images scaled to [0, 1] in NCHW layout, split 80/20 at random (fixed seed)."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    x = (data.images / 16.0)[:, None, :, :]
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    return x[train], data.target[train], x[test], data.target[test]


def accuracy(params, x, labels):
    return float(np.mean(np.argmax(MODEL(params, x), axis=1) == labels))


def example_args(seed=0):
    x, y, _, _ = load_digits(seed)
    return MODEL.init(np.random.default_rng(seed)), x[:32], y[:32]


def train(epochs, batch=32, lr=3e-3, seed=0, plot="digits_cnn.png"):
    from tqdm import tqdm

    x_train, y_train, x_test, y_test = load_digits(seed)
    rng = np.random.default_rng(seed)
    params = MODEL.init(rng)
    optimizer = sg.optim.Adam(params, lr=lr)
    step = sg.value_and_grad(loss)
    history = {"loss": [], "train": [], "test": []}
    start = time.perf_counter()
    for _ in (bar := tqdm(range(epochs), desc="digits CNN")):
        order = rng.permutation(len(x_train))
        order = order[: len(order) - len(order) % batch]  # full batches: one signature
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            value, grads = step(params, x_train[idx], y_train[idx])
            optimizer.step(grads)
            losses.append(value)
        history["loss"].append(float(np.mean(losses)))
        history["train"].append(accuracy(params, x_train, y_train))
        history["test"].append(accuracy(params, x_test, y_test))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", acc=f"{history['train'][-1]:.3f}")
    seconds = time.perf_counter() - start
    print(f"test accuracy: {history['test'][-1]:.4f} ({epochs} epochs, {seconds:.1f} s)")
    if plot:
        from curves import save_curves

        save_curves(history, plot, "digits CNN")
    return params, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs (CI)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--plot", default="digits_cnn.png", help="'' for no plot")
    args = parser.parse_args(argv)
    train(2 if args.quick else args.epochs, plot=args.plot)


if __name__ == "__main__":
    main()
