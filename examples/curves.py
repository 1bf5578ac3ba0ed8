"""The training plots the examples save (matplotlib, no display needed).

The examples import it from their own folder (``python examples/NAME.py`` puts that folder
on ``sys.path``), and only when they plot, so ``sourcegrad show`` of an example needs no
matplotlib.
"""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_curves(history, path, title=""):
    """The loss (left, log scale) and the train and test accuracy (right) per epoch of
    ``history`` (``{"loss": [...], "train": [...], "test": [...]}``), as a PNG at ``path``."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(history["loss"])
    left.set(xlabel="epoch", ylabel="training loss", yscale="log")
    right.plot(history["train"], label="train")
    right.plot(history["test"], label="test")
    right.set(xlabel="epoch", ylabel="accuracy")
    right.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"curves saved to {path}")


def save_loss_curve(losses, path, title):
    """The training loss per step (log scale), as a PNG at ``path``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(losses)
    ax.set(xlabel="step", ylabel="training loss", yscale="log", title=title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"loss curve saved to {path}")
