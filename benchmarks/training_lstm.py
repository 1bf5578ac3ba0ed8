"""A training step of ``sourcegrad.model``'s LSTM: gradient, and gradient plus Adam, one table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/training_lstm.py [--rounds N]

The model: ``sourcegrad.model.RecurrentLSTMNetwork`` (torch.nn.LSTM's gates and layout; input
64, hidden 128, a Python ``for`` over T = 50 steps, batch 32, float64), then an
``nn.Linear`` head to 10 classes on the last hidden state and cross entropy. Two workloads:
the loss and its gradient alone, and a training step (the same, then an Adam update). Each is
written four ways and timed interleaved (median of many rounds):

* ``hand-written``: NumPy by hand, the reference: the input projections of all steps in one
  GEMM, the forward loop in place into preallocated (T, ...) arrays, the backward loop over
  reversed time running only the recurrence, the weight gradients one GEMM each after it
  (Adam in place, as in ``training.py``);
* ``sourcegrad.model``: ``sg.value_and_grad`` of the loss as a user writes it with the model
  (``sg.optim.Adam``); the model is one call of the primitive ``F.lstm``, whose hand-written
  backward reuses its forward's buffers (``sourcegrad/nn/recurrent.py``);
* ``sourcegrad, inline``: the same, with the LSTM's loop written out in the loss, which
  sourcegrad differentiates from its source (pools, the hoist of the weight gradients);
* ``torch``: ``torch.nn.LSTM`` and ``nn.Linear`` in eager mode on the CPU, the same threads
  as NumPy's BLAS (``torch.optim.Adam``).

All four start from the same parameters and data; the first step's loss and gradients are
checked to agree before timing.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import (  # noqa: E402
    Candidate,
    Workload,
    blas_info,
    import_torch,
    print_table,
    run_workload,
    set_blas_threads,
)
from training import HandAdam, cpu_name  # noqa: E402

import sourcegrad as sg  # noqa: E402
from sourcegrad import model, nn  # noqa: E402
from sourcegrad.nn import functional as F  # noqa: E402

T_STEPS, BATCH, D_IN, HIDDEN, CLASSES = 50, 32, 64, 128, 10

LSTM, _ = model.RecurrentLSTMNetwork(D_IN, HIDDEN)
HEAD = nn.Linear(HIDDEN, CLASSES)
CRITERION = nn.CrossEntropyLoss()


def loss(params, xs, labels):
    """Cross entropy of the head on the LSTM's last hidden state."""
    return CRITERION(HEAD(params["head"], LSTM(params["lstm"], xs)), labels)


def inline_loss(params, xs, labels):
    """:func:`loss` with the LSTM's steps written out (what ``LSTM`` computes)."""
    p = params["lstm"]
    h = np.zeros((xs.shape[1], HIDDEN))
    c = np.zeros((xs.shape[1], HIDDEN))
    for x_t in xs:
        gates = F.linear(x_t, p["weight_ih"], p["bias_ih"]) + F.linear(
            h, p["weight_hh"], p["bias_hh"]
        )
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = F.sigmoid(f) * c + F.sigmoid(i) * np.tanh(g)
        h = F.sigmoid(o) * np.tanh(c)
    return CRITERION(HEAD(params["head"], h), labels)


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    params = {"lstm": LSTM.init(rng), "head": HEAD.init(rng)}
    xs = rng.standard_normal((T_STEPS, BATCH, D_IN))
    return params, xs, rng.integers(0, CLASSES, BATCH)


# --------------------------------------------------------------------------- by hand
def sigmoid_(a):
    """``a`` replaced by ``1 / (1 + exp(-a))``, in place."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def lstm_forward(p, xs):
    """``(acts, hs, cs, tcs)``: the gate activations ``(T, N, 4H)`` (i, f, g, o), the states
    ``h`` and ``c`` ``(T + 1, N, H)`` from zeros, and ``tanh(c_t)`` ``(T, N, H)``."""
    T, n, d = xs.shape
    H = p["weight_hh"].shape[1]
    acts = np.matmul(xs.reshape(T * n, d), p["weight_ih"].T).reshape(T, n, 4 * H)
    acts += p["bias_ih"] + p["bias_hh"]
    hs, cs = np.zeros((T + 1, n, H)), np.zeros((T + 1, n, H))
    tcs, ig = np.empty((T, n, H)), np.empty((n, H))
    W_hhT = p["weight_hh"].T
    for t in range(T):
        a = acts[t]
        a += hs[t] @ W_hhT
        sigmoid_(a[:, : 2 * H])
        np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
        sigmoid_(a[:, 3 * H :])
        np.multiply(a[:, H : 2 * H], cs[t], out=cs[t + 1])
        np.multiply(a[:, :H], a[:, 2 * H : 3 * H], out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(a[:, 3 * H :], tcs[t], out=hs[t + 1])
    return acts, hs, cs, tcs


def head_loss_and_grads(hd, h, labels):
    """Cross entropy of ``h @ W^T + b`` at ``labels``, its gradients and ``d loss / d h``."""
    n = len(h)
    z = h @ hd["weight"].T + hd["bias"]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    value = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), labels]))
    e /= s * n
    e[np.arange(n), labels] -= 1.0 / n
    return value, {"weight": e.T @ h, "bias": e.sum(axis=0)}, e @ hd["weight"]


def lstm_backward(p, xs, forward, dh):
    """The LSTM's parameter gradients for ``dh``, the adjoint of the last hidden state."""
    acts, hs, cs, tcs = forward
    T, n, d = xs.shape
    H = p["weight_hh"].shape[1]
    das = np.empty_like(acts)
    dc, tmp = np.zeros((n, H)), np.empty((n, H))
    W_hh = p["weight_hh"]
    for t in range(T - 1, -1, -1):
        a, da = acts[t], das[t]
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(dh, tcs[t], out=da[:, 3 * H :])  # d o
        da[:, 3 * H :] *= o * (1.0 - o)
        np.multiply(tcs[t], tcs[t], out=tmp)  # d c += dh * o * (1 - tanh(c)^2)
        np.subtract(1.0, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        np.multiply(dc, g, out=da[:, :H])  # d i
        da[:, :H] *= i * (1.0 - i)
        np.multiply(dc, cs[t], out=da[:, H : 2 * H])  # d f
        da[:, H : 2 * H] *= f * (1.0 - f)
        np.multiply(dc, i, out=da[:, 2 * H : 3 * H])  # d g
        da[:, 2 * H : 3 * H] *= 1.0 - g * g
        dc *= f
        if t:
            dh = da @ W_hh
    dz = das.reshape(T * n, 4 * H)
    db = dz.sum(axis=0)
    return {
        "weight_ih": dz.T @ xs.reshape(T * n, d),
        "weight_hh": dz.T @ hs[:-1].reshape(T * n, H),
        "bias_ih": db,
        "bias_hh": db.copy(),
    }


def hand_loss_and_grads(params, xs, labels):
    """The loss and its gradients by hand, in the layout of ``params``."""
    forward = lstm_forward(params["lstm"], xs)
    value, dhead, dh = head_loss_and_grads(params["head"], forward[1][-1], labels)
    return value, {"lstm": lstm_backward(params["lstm"], xs, forward, dh), "head": dhead}


# --------------------------------------------------------------------------- candidates
def copy_params(params):
    return {k: {n: v.copy() for n, v in p.items()} for k, p in params.items()}


def leaves(tree):
    return [tree[k][n] for k in ("lstm", "head") for n in sorted(tree[k])]


def torch_candidates(torch, params, xs, labels):
    """``(gradient, training step)`` closures of the same model in torch eager."""
    lstm = torch.nn.LSTM(D_IN, HIDDEN).double()
    head = torch.nn.Linear(HIDDEN, CLASSES).double()
    with torch.no_grad():
        for name, value in params["lstm"].items():
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(value))
        for name, value in params["head"].items():
            getattr(head, name).copy_(torch.from_numpy(value))
    tx, ty = torch.from_numpy(xs), torch.from_numpy(labels)
    weights = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(weights, lr=1e-3)

    def torch_loss():
        out, _ = lstm(tx)
        return torch.nn.functional.cross_entropy(head(out[-1]), ty)

    def gradient():
        value = torch_loss()
        return value.detach(), torch.autograd.grad(value, weights)

    def step():
        opt.zero_grad()
        value = torch_loss()
        value.backward()
        opt.step()
        return value

    return gradient, step


def sourcegrad_step(fn, params, xs, labels, with_adam):
    """A closure: ``sg.value_and_grad(fn)`` at the arguments, then an Adam update if asked."""
    value_and_grad = sg.value_and_grad(fn)
    opt = sg.optim.Adam(params, lr=1e-3)

    def step():
        value, grads = value_and_grad(params, xs, labels)
        if with_adam:
            opt.step(grads)
        return value

    return step


def candidates(params, xs, labels, with_adam):
    """The hand-written, sourcegrad and (when installed) torch candidates of one workload."""
    hand_params = copy_params(params)
    hand_opt = HandAdam([hand_params["lstm"], hand_params["head"]])

    def hand():
        value, grads = hand_loss_and_grads(hand_params, xs, labels)
        if with_adam:
            hand_opt.step([grads["lstm"], grads["head"]])
        return value

    out = [Candidate("hand-written", hand)]
    for name, fn in (("sourcegrad.model", loss), ("sourcegrad, inline", inline_loss)):
        out.append(Candidate(name, sourcegrad_step(fn, copy_params(params), xs, labels, with_adam)))
    torch = import_torch()
    if torch is not None:
        gradient, step = torch_candidates(torch, params, xs, labels)
        note = f"eager, {torch.get_num_threads()} thread(s)"
        out.append(
            Candidate("torch", step if with_adam else gradient, memory_tracked=False, note=note)
        )
    return out


def check_first_step(params, xs, labels):
    """The hand-written loss and gradients equal sourcegrad's (and torch's) at the start."""
    value, grads = hand_loss_and_grads(copy_params(params), xs, labels)
    for fn in (loss, inline_loss):
        sg_value, sg_grads = sg.value_and_grad(fn)(copy_params(params), xs, labels)
        assert abs(value - sg_value) < 1e-10, (value, sg_value)
        for g, h in zip(leaves(grads), leaves(sg_grads)):
            np.testing.assert_allclose(g, h, rtol=1e-8, atol=1e-12)
    torch = import_torch()
    if torch is not None:
        t_value, t_grads = torch_candidates(torch, params, xs, labels)[0]()
        assert abs(value - float(t_value)) < 1e-10, (value, float(t_value))
        torch_order = [g.numpy() for g in t_grads]  # lstm: ih, hh weights then biases; head
        by_name = [
            grads["lstm"]["weight_ih"], grads["lstm"]["weight_hh"], grads["lstm"]["bias_ih"],
            grads["lstm"]["bias_hh"], grads["head"]["weight"], grads["head"]["bias"],
        ]  # fmt: skip
        for g, h in zip(by_name, torch_order):
            np.testing.assert_allclose(g, h, rtol=1e-8, atol=1e-12)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args(argv)
    set_blas_threads(1)
    params, xs, labels = make_inputs()
    check_first_step(params, xs, labels)
    results = []
    for name, with_adam in (("LSTM gradient", False), ("LSTM step + Adam", True)):
        workload = Workload(name, candidates(params, xs, labels, with_adam), "hand-written")
        results += run_workload(workload, rounds=args.rounds, warmup=5, faults=False)
    print(f"CPU: {cpu_name()}; BLAS: {blas_info()}")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
