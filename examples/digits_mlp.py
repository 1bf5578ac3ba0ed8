"""Train a two-layer network on scikit-learn's bundled digits (8x8 images, 10 classes).

    python examples/digits_mlp.py            # ~30 epochs, a few seconds; plot in digits_mlp.png
    python examples/digits_mlp.py --quick    # 3 epochs (what CI runs)
    sourcegrad show examples/digits_mlp.py:loss --args "example_args()"

The model is plain NumPy written the usual way: a dict of parameters handed to a helper,
layers kept in a list. sourcegrad turns ``loss`` into a gradient function once; the training
loop calls it on every minibatch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sourcegrad as sg

SIZES = [64, 128, 10]


def init_params(rng, sizes=SIZES):
    """One ``{"W", "b"}`` dict per layer, Glorot-scaled."""
    return [
        {"W": rng.normal(0.0, np.sqrt(2.0 / (m + n)), (m, n)), "b": np.zeros(n)}
        for m, n in zip(sizes[:-1], sizes[1:])
    ]


def dense(p, x):
    return x @ p["W"] + p["b"]


def predict(params, x):
    """Class scores (logits) for a batch of flattened images."""
    for p in params[:-1]:
        x = np.tanh(dense(p, x))
    return dense(params[-1], x)


def log_softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def loss(params, x, y_onehot):
    """Mean cross entropy of the batch."""
    return -np.mean(np.sum(log_softmax(predict(params, x)) * y_onehot, axis=1))


def load_digits(seed=0):
    """Digits scaled to [0, 1], split 80/20 at random (fixed seed)."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    x = data.data / 16.0
    y = data.target
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


def one_hot(labels, n=10):
    out = np.zeros((len(labels), n))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def accuracy(params, x, labels):
    return float(np.mean(np.argmax(predict(params, x), axis=1) == labels))


def example_args(seed=0):
    """Parameters and one minibatch, for ``sourcegrad show``."""
    x, y, _, _ = load_digits(seed)
    return init_params(np.random.default_rng(seed)), x[:32], one_hot(y[:32])


def train(epochs, batch=32, lr=0.1, momentum=0.9, seed=0, plot="digits_mlp.png"):
    from tqdm import tqdm

    x_train, y_train, x_test, y_test = load_digits(seed)
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    optimizer = sg.optim.SGD(params, lr=lr, momentum=momentum)  # updates params in place
    step = sg.value_and_grad(loss)
    history = {"loss": [], "train": [], "test": []}
    start = time.perf_counter()
    for _ in (bar := tqdm(range(epochs), desc="digits MLP")):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            value, grads = step(params, x_train[idx], one_hot(y_train[idx]))
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

        save_curves(history, plot, "digits MLP")
    return params, history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs (CI)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--plot", default="digits_mlp.png", help="'' for no plot")
    args = parser.parse_args(argv)
    train(3 if args.quick else args.epochs, plot=args.plot)


if __name__ == "__main__":
    main()
