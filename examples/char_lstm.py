"""A character-level LSTM language model on text that ships with Python.

    python examples/char_lstm.py               # 300 steps, well under a minute
    python examples/char_lstm.py --quick       # 20 short steps (what CI runs)
    python examples/char_lstm.py --cell gru    # the same model with a GRU
    sourcegrad show examples/char_lstm.py:loss --args "example_args()"

The text is the Zen of Python (``this``, decoded from its rot13) and the docstrings of a few
standard-library modules. Each character is embedded (``sourcegrad.nn.Embedding``), read by
``sourcegrad.model.RecurrentLSTMNetwork`` (or ``RecurrentGRUNetwork`` with ``--cell gru``; a
Python ``for`` over the steps) and scored by a linear head against the next character. sourcegrad differentiates the whole loss from its
source; ``sourcegrad.optim.Adam`` updates the parameters after clipping the gradient's global
norm. At the end the model writes a few lines, one character at a time, stepping
``sourcegrad.model.lstm_cell`` (or ``gru_cell``) itself.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import io
import time

import numpy as np

import sourcegrad as sg
from sourcegrad import model, nn

DOC_MODULES = ("textwrap", "string", "json", "heapq", "bisect", "functools")


def load_text():
    """The Zen of Python and some standard-library docstrings, as one string."""
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
        this = importlib.import_module("this")
    parts = [codecs.decode(this.s, "rot13")]
    parts += [importlib.import_module(name).__doc__ or "" for name in DOC_MODULES]
    return "\n\n".join(part.strip() for part in parts)


TEXT = load_text()
CHARS = sorted(set(TEXT))
INDEX = {ch: i for i, ch in enumerate(CHARS)}
DATA = np.array([INDEX[ch] for ch in TEXT])
VOCAB, EMBED, HIDDEN = len(CHARS), 24, 96

EMBEDDING = nn.Embedding(VOCAB, EMBED)
NETWORKS = {  # each f(params, x) -> all hidden states (T, N, HIDDEN)
    "lstm": model.RecurrentLSTMNetwork(EMBED, HIDDEN, output_type="all", rng=0)[0],
    "gru": model.RecurrentGRUNetwork(EMBED, HIDDEN, output_type="all", rng=0)[0],
}
HEAD = nn.Linear(HIDDEN, VOCAB)
CRITERION = nn.CrossEntropyLoss()


def init_params(rng, cell="lstm"):
    return {
        "embed": EMBEDDING.init(rng),
        "rnn": NETWORKS[cell].init(rng),
        "head": HEAD.init(rng),
    }


def make_loss(network):
    """The training loss of the model that reads the characters with ``network``."""

    def loss(params, chars, targets):
        """Mean cross entropy of the next character; ``chars`` and ``targets`` are ``(T, N)``
        character indices."""
        hidden = network(params["rnn"], EMBEDDING(params["embed"], chars))  # (T, N, HIDDEN)
        logits = HEAD(params["head"], hidden)
        return CRITERION(logits.reshape(-1, VOCAB), targets.reshape(-1))

    return loss


LOSSES = {cell: make_loss(network) for cell, network in NETWORKS.items()}
loss = LOSSES["lstm"]  # what `sourcegrad show examples/char_lstm.py:loss` prints


def batch(rng, length, size):
    """``size`` random windows of ``length + 1`` characters: inputs and next characters,
    each ``(length, size)``."""
    starts = rng.integers(0, len(DATA) - length - 1, size)
    windows = np.stack([DATA[s : s + length + 1] for s in starts], axis=1)
    return windows[:-1], windows[1:]


def clip_by_global_norm(grads, max_norm):
    """Scale every gradient leaf in place so that their global 2-norm is at most
    ``max_norm``; returns the norm before clipping."""
    leaves = sg.util.tree_leaves(grads)
    norm = float(np.sqrt(sum(np.sum(g * g) for g in leaves)))
    if norm > max_norm:
        for g in leaves:
            g *= max_norm / norm
    return norm


def next_state(cell, params, x, h, c):
    """The cell's next ``(h, c)`` after reading ``x`` (a GRU has no ``c``: it stays None)."""
    if cell == "gru":
        return model.gru_cell(params, x, h), None
    return model.lstm_cell(params, x, h, c)


def sample(params, prompt, length, rng, temperature=0.7, cell="lstm"):
    """``prompt`` followed by ``length`` characters drawn one at a time from the model."""
    h = np.zeros((1, HIDDEN))
    c = np.zeros((1, HIDDEN))
    out = list(prompt)
    logits = None
    for ch in prompt:
        x = EMBEDDING(params["embed"], np.array([INDEX[ch]]))
        h, c = next_state(cell, params["rnn"], x, h, c)
    for _ in range(length):
        logits = HEAD(params["head"], h)[0] / temperature
        p = np.exp(logits - logits.max())
        nxt = rng.choice(VOCAB, p=p / p.sum())
        out.append(CHARS[nxt])
        x = EMBEDDING(params["embed"], np.array([nxt]))
        h, c = next_state(cell, params["rnn"], x, h, c)
    return "".join(out)


def example_args(seed=0, cell="lstm"):
    """Parameters and one batch, for ``sourcegrad show``."""
    rng = np.random.default_rng(seed)
    return (init_params(rng, cell), *batch(rng, 8, 4))


def train(steps, length=32, size=16, lr=1e-2, max_norm=1.0, seed=0, every=50, plot="", cell="lstm"):
    """Train the model with the ``cell`` ("lstm" or "gru") for ``steps`` Adam steps (a
    progress bar shows the loss; ``plot``: a file for the loss curve); returns the
    parameters, the losses and a sample."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    params = init_params(rng, cell)
    optimizer = sg.optim.Adam(params, lr=lr)
    step = sg.value_and_grad(LOSSES[cell])
    losses = []
    print(f"{len(TEXT)} characters, {VOCAB} distinct; {cell.upper()} {EMBED} -> {HIDDEN}")
    start = time.perf_counter()
    for i in (bar := tqdm(range(steps), desc=f"char {cell.upper()}")):
        value, grads = step(params, *batch(rng, length, size))
        clip_by_global_norm(grads, max_norm)
        optimizer.step(grads)
        losses.append(float(value))
        if i % every == 0 or i == steps - 1:
            bar.set_postfix(loss=f"{np.mean(losses[-every:]):.3f}")
    print(
        f"loss {np.mean(losses[-every:]):.3f} after {steps} steps, "
        f"{time.perf_counter() - start:.1f} s"
    )
    text = sample(params, "Beautiful is ", 120, rng, cell=cell)
    print("sample:", text)
    if plot:
        from curves import save_loss_curve

        save_loss_curve(losses, plot, f"character {cell.upper()}")
    return params, losses, text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 short steps (CI)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--length", type=int, default=32, help="characters per window")
    parser.add_argument("--batch", type=int, default=16, help="windows per step")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", choices=sorted(NETWORKS), default="lstm")
    parser.add_argument("--plot", help="the loss curve's file (char_CELL.png); '' for none")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.length, args.batch = 20, 12, 8
    plot = f"char_{args.cell}.png" if args.plot is None else args.plot
    train(args.steps, args.length, args.batch, args.lr, seed=args.seed, plot=plot, cell=args.cell)


if __name__ == "__main__":
    main()
