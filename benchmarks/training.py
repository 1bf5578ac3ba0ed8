"""A training step of the library: forward, gradient and optimizer update, one table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/training.py [--rounds N]

The digits CNN of ``examples/digits_cnn.py`` (conv 3x3 to 16 channels, ReLU, max-pool 2, conv
3x3 to 32, ReLU, max-pool 2, linear to 10, cross entropy; batch 32, float64), each step followed
by an Adam update, written three ways and timed interleaved (median of many rounds):

* ``hand-written``: NumPy by hand (im2col through ``sliding_window_view``, one GEMM each way,
  the max-pool's argmax kept for its backward, Adam in place): the reference;
* ``sourcegrad.nn``: ``sg.value_and_grad`` of the example's loss, ``sg.optim.Adam``;
* ``torch``: the same model in PyTorch eager on the CPU (one thread), ``torch.optim.Adam``.

All three start from the same parameters and data; the first step's loss and gradients are
checked to agree before timing.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

import digits_cnn  # noqa: E402
from harness import (  # noqa: E402
    Candidate,
    Workload,
    blas_info,
    import_torch,
    print_table,
    run_workload,
    set_blas_threads,
)
from machine import cpu_name  # noqa: E402

import sourcegrad as sg  # noqa: E402

BATCH = 32


def conv_forward(x, weight, bias, pad=1):
    """``(out, cols)``: a 3x3 convolution by im2col; ``cols`` kept for the backward."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * 9)
    out = cols @ weight.reshape(weight.shape[0], -1).T + bias
    return out.reshape(n, h, w, -1).transpose(0, 3, 1, 2), cols


def conv_backward(g, cols, x_shape, weight, pad=1):
    """Gradients of the input, weight and bias of :func:`conv_forward`."""
    n, c, h, w = x_shape
    g2 = g.transpose(0, 2, 3, 1).reshape(n * h * w, -1)
    dweight = (g2.T @ cols).reshape(weight.shape)
    dbias = g2.sum(axis=0)
    dcols = (g2 @ weight.reshape(weight.shape[0], -1)).reshape(n, h, w, c, 3, 3)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for i in range(3):
        for j in range(3):
            dxp[:, :, i : i + h, j : j + w] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad : pad + h, pad : pad + w], dweight, dbias


def pool_forward(x):
    """2x2 max-pool, stride 2, and the argmax for the backward."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, arg[..., None], axis=-1)[..., 0], arg


def pool_backward(g, arg, x_shape):
    n, c, h, w = x_shape
    blocks = np.zeros((n, c, h // 2, w // 2, 4))
    np.put_along_axis(blocks, arg[..., None], g[..., None], axis=-1)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(x_shape)


def hand_loss_and_grads(params, x, labels):
    """The digits CNN's loss and gradients, by hand (params in the example's layout)."""
    c1, _, _, c2, _, _, _, fc = params
    h1, cols1 = conv_forward(x, c1["weight"], c1["bias"])
    r1 = np.maximum(h1, 0.0)
    p1, arg1 = pool_forward(r1)
    h2, cols2 = conv_forward(p1, c2["weight"], c2["bias"])
    r2 = np.maximum(h2, 0.0)
    p2, arg2 = pool_forward(r2)
    flat = p2.reshape(len(x), -1)
    z = flat @ fc["weight"].T + fc["bias"]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = len(x)
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), labels]))
    dz = e / s
    dz[np.arange(n), labels] -= 1.0
    dz /= n
    dfc = {"weight": dz.T @ flat, "bias": dz.sum(axis=0)}
    dp2 = (dz @ fc["weight"]).reshape(p2.shape)
    dr2 = pool_backward(dp2, arg2, r2.shape) * (h2 > 0)
    dp1, dw2, db2 = conv_backward(dr2, cols2, p1.shape, c2["weight"])
    dr1 = pool_backward(dp1, arg1, r1.shape) * (h1 > 0)
    _, dw1, db1 = conv_backward(dr1, cols1, x.shape, c1["weight"])
    return loss, [
        {"weight": dw1, "bias": db1},
        {},
        {},
        {"weight": dw2, "bias": db2},
        {},
        {},
        {},
        dfc,
    ]


class HandAdam:
    """Adam (PyTorch's defaults) by hand, in place."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.leaves = [p[k] for p in params for k in sorted(p)]
        self.m = [np.zeros_like(v) for v in self.leaves]
        self.v = [np.zeros_like(v) for v in self.leaves]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, betas[0], betas[1], eps, 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1.0 - self.b1**self.t, 1.0 - self.b2**self.t
        gs = [g[k] for g in grads for k in sorted(g)]
        for p, g, m, v in zip(self.leaves, gs, self.m, self.v):
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= self.lr / c1 * m / (np.sqrt(v / c2) + self.eps)


def copy_params(params):
    return [{k: v.copy() for k, v in p.items()} for p in params]


def candidates(params, x, labels):
    out = []
    hand_params = copy_params(params)
    hand_opt = HandAdam(hand_params)

    def hand_step():
        loss, grads = hand_loss_and_grads(hand_params, x, labels)
        hand_opt.step(grads)
        return loss

    out.append(Candidate("hand-written", hand_step))
    sg_params = copy_params(params)
    sg_opt = sg.optim.Adam(sg_params, lr=1e-3)
    value_and_grad = sg.value_and_grad(digits_cnn.loss)

    def sg_step():
        loss, grads = value_and_grad(sg_params, x, labels)
        sg_opt.step(grads)
        return loss

    out.append(Candidate("sourcegrad.nn", sg_step))
    torch = import_torch()
    if torch is not None:  # as many threads as NumPy's BLAS (harness.import_torch)
        nn = torch.nn
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(128, 10),
        ).double()  # fmt: skip
        with torch.no_grad():
            for layer, p in zip(model, params):
                for k, v in p.items():
                    getattr(layer, k).copy_(torch.from_numpy(v))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

        def torch_step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(tx), ty)
            loss.backward()
            opt.step()
            return loss

        note = f"eager, {torch.get_num_threads()} thread(s)"
        out.append(Candidate("torch", torch_step, memory_tracked=False, note=note))
    return out


def check_first_step(params, x, labels):
    """The hand-written loss and gradients equal sourcegrad's on the first step."""
    loss, grads = hand_loss_and_grads(copy_params(params), x, labels)
    sg_loss, sg_grads = sg.value_and_grad(digits_cnn.loss)(copy_params(params), x, labels)
    assert abs(loss - sg_loss) < 1e-10, (loss, sg_loss)
    for g, h in zip(grads, sg_grads):
        for k in g:
            np.testing.assert_allclose(g[k], h[k], rtol=1e-8, atol=1e-12)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    set_blas_threads(1)
    params, x, labels = digits_cnn.example_args()
    x, labels = x[:BATCH], labels[:BATCH]
    check_first_step(params, x, labels)
    workload = Workload("digits CNN step", candidates(params, x, labels), "hand-written")
    results = run_workload(workload, rounds=args.rounds, warmup=5, faults=False)
    print(f"CPU: {cpu_name()}; BLAS: {blas_info()}")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
