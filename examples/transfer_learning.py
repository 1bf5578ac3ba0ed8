"""Transfer learning: a small ``torch.nn`` network trained on the digits 0-4 lends its
feature extractor, frozen, to a new head that sourcegrad trains on the digits 5-9.

    python examples/transfer_learning.py            # a few seconds; transfer_learning.png
    python examples/transfer_learning.py --quick    # 1 + 5 epochs (what CI runs)

The feature extractor is made a function with ``sourcegrad.nn.functionalize`` (torch computes
its output and its derivatives); the loss takes its parameters as an argument that is not
differentiated, so they stay as torch trained them. The new head is a ``sourcegrad.nn.Linear``
trained with ``sourcegrad.optim.Adam``; a progress bar shows its loss and training accuracy,
and the curves are saved to a file. Needs torch and scikit-learn; without torch the script
says so and exits.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

import sourcegrad as sg
from sourcegrad import nn

FEATURES = 32
HEAD = nn.Linear(FEATURES, 5)
CRITERION = nn.CrossEntropyLoss()


def load_digits(seed=0):
    """``{"old": (x, y), "new": (x, y), "test": (x, y)}``: images ``(N, 1, 8, 8)`` scaled to
    [0, 1]; "old" the digits 0-4, "new" and "test" the digits 5-9 (labels 0-4), split 50/50."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    x, y = (data.images / 16.0)[:, None, :, :], data.target
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    old, new = y < 5, y >= 5
    xn, yn = x[new], y[new] - 5
    half = len(xn) // 2
    return {"old": (x[old], y[old]), "new": (xn[:half], yn[:half]), "test": (xn[half:], yn[half:])}


def pretrain(torch, x, y, epochs, seed=0):
    """A torch network trained on ``x``, ``y``; returns its feature extractor (all but the
    last layer)."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    tnn = torch.nn
    net = tnn.Sequential(
        tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(8 * 4 * 4, FEATURES), tnn.ReLU(),
        tnn.Linear(FEATURES, 5),
    ).double()  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in (bar := tqdm(range(epochs), desc="pretrain (torch)")):
        for idx in torch.randperm(len(tx)).split(32):
            opt.zero_grad()
            loss = tnn.functional.cross_entropy(net(tx[idx]), ty[idx])
            loss.backward()
            opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return net[:-1].requires_grad_(False)


def make_loss(features):
    def loss(head, frozen, images, labels):
        """Cross entropy of the new head on the frozen features (only ``head`` is
        differentiated)."""
        return CRITERION(HEAD(head, features(frozen, images)), labels)

    return loss


def accuracy(features, frozen, head, x, y):
    return float(np.mean(np.argmax(HEAD(head, features(frozen, x)), axis=1) == y))


def train_head(features, frozen, data, epochs, batch=32, seed=0):
    """A new head trained with sourcegrad on the frozen features of ``data["new"]``; returns
    it and the history (loss per epoch, train and test accuracy)."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    head = HEAD.init(rng)
    optimizer = sg.optim.Adam(head, lr=1e-2)
    step = sg.value_and_grad(make_loss(features))  # with respect to the head only
    x, y = data["new"]
    history = {"loss": [], "train": [], "test": []}
    for _ in (bar := tqdm(range(epochs), desc="new head (sourcegrad)")):
        order = rng.permutation(len(x))
        order = order[: len(order) - len(order) % batch]  # full batches: one signature
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            value, grads = step(head, frozen, x[idx], y[idx])
            optimizer.step(grads)
            losses.append(value)
        history["loss"].append(float(np.mean(losses)))
        history["train"].append(accuracy(features, frozen, head, x, y))
        history["test"].append(accuracy(features, frozen, head, *data["test"]))
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", acc=f"{history['train'][-1]:.3f}")
    return head, history


def transfer(pretrain_epochs=3, epochs=10, batch=32, seed=0, plot="transfer_learning.png"):
    """Pretrain in torch, then train a new head with sourcegrad (``plot``: a file for the
    curves, '' for none); returns the history of the new head's training (its last test
    accuracy is the figure printed), or None without torch."""
    if importlib.util.find_spec("torch") is None:
        print("transfer_learning needs torch (pip install torch); skipped")
        return None
    import torch

    data = load_digits(seed)
    start = time.perf_counter()
    extractor = pretrain(torch, *data["old"], pretrain_epochs, seed)
    features, frozen = nn.functionalize(extractor)
    _, history = train_head(features, frozen, data, epochs, batch, seed)
    seconds = time.perf_counter() - start
    print(
        f"test accuracy on the new digits: {history['test'][-1]:.4f} "
        f"({pretrain_epochs} + {epochs} epochs, {seconds:.1f} s)"
    )
    if plot:
        from curves import save_curves

        save_curves(history, plot, "new head on frozen torch features")
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 + 5 epochs (CI)")
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--plot", default="transfer_learning.png", help="'' for no plot")
    args = parser.parse_args(argv)
    if args.quick:
        args.pretrain_epochs, args.epochs = 1, 5
    transfer(args.pretrain_epochs, args.epochs, plot=args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
