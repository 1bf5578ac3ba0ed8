"""Benchmark the gradient of a vanilla RNN and an LSTM, written with a Python ``for`` loop.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/recurrent.py
    python benchmarks/recurrent.py --quick              # a short run
    python benchmarks/recurrent.py --json results.json  # also dump the results
    python benchmarks/recurrent.py --source             # print sourcegrad's derivatives first

Sizes: input 64, hidden 128, batch 32, T = 50 steps, float64 and float32.

* ``rnn``: h_t = tanh(x_t @ W_x + h_{t-1} @ W_h + b), h_0 = 0; the loss is the squared error
  of every state against a target, 0.5 * sum_t |h_t - y_t|^2 / batch.
* ``lstm``: one stacked gate matrix, z = x_t @ W_x + h @ W_h + b with columns [i | f | o | g];
  i, f, o = sigmoid, g = tanh; c = f * c + i * g; h = o * tanh(c). The loss is softmax cross
  entropy of the last state against one-hot labels over the 128 hidden units, divided by batch.

Candidates, per workload:

* ``hand BPTT`` (the reference of the ratios): hand-written NumPy backpropagation through time.
  The forward sweep stores every step's state in preallocated (T, ...) arrays and works in
  place; the input projections of all steps are one GEMM before the loop, and the weight
  gradients one GEMM each after the backward loop (over reversed time), which only runs the
  recurrence.
* ``hand BPTT per-step``: the same, but the input projection and the weight-gradient
  accumulation happen inside the loops, step by step, as the loss function is written (and as
  sourcegrad's derivative does them). It separates the cost of hoisting from other overheads.
* ``sourcegrad``: ``sg.value_and_grad`` of the plain-NumPy loss (``rnn_loss`` / ``lstm_loss``).
* ``autograd``: HIPS autograd of the very same function objects' code, with ``np`` bound to
  ``autograd.numpy``. ``jax`` / ``jax.jit`` (same code, ``np`` bound to ``jax.numpy``) and
  ``torch`` (eager, written out) when importable; otherwise a note says they were skipped.

Correctness first: the hand-written gradient is compared with sourcegrad's (``np.allclose``,
rtol 1e-6 for float64, 1e-4 for float32) and then every candidate with the hand-written one;
a disagreement, or a candidate that modifies its inputs, raises ``CheckError``.

Correctness is checked with the same tolerances for every candidate; the atol part is relative
to the largest entry of the reference leaf (1e-9 of it for float64, 1e-5 for float32).

Timing and memory come from ``harness.py``: interleaved rounds (one untimed call before each
timed one, ``--rewarm``), median per call, tracemalloc peak per call (including the returned
gradient), minor page faults per call (reported in a note when any). The number of rounds is
chosen per workload from a time budget (``--budget``, 20 s; ``--rounds`` overrides it); a full
run takes about two minutes on an idle 2-core machine. sourcegrad's first call (parse,
analyse, emit, compile, then the call itself) is timed separately, with fresh
``sg.value_and_grad`` objects, and also reported minus the time of a later call.

Process state, fixed before anything is built: NumPy's BLAS runs on 1 thread unless
``--blas-threads`` says otherwise (0 leaves NumPy's own setting), and malloc's thresholds are
raised as a long-running process's would be (see ``WARM_ALLOCATOR_BYTES``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import types

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from harness import (  # noqa: E402
    Candidate,
    CheckError,
    Result,
    Workload,
    blas_info,
    compare_leaves,
    environment,
    import_jax,
    import_torch,
    jax_candidates,
    layout,
    optional_import,
    page_faults,
    run_workload,
    set_blas_threads,
    warm_allocator,
)

import sourcegrad as sg  # noqa: E402

T_STEPS, BATCH, D_IN, HIDDEN = 50, 32, 64, 128
DTYPES = (np.float64, np.float32)
REFERENCE = "hand BPTT"
# (rtol, atol as a fraction of the largest |value| of the reference leaf)
TOLERANCES = {np.dtype(np.float64): (1e-6, 1e-9), np.dtype(np.float32): (1e-4, 1e-5)}
LEAVES = ("W_x", "W_h", "b")
# glibc raises malloc's mmap threshold to the size of a freed memory-mapped block, up to 32 MiB
# (a block must not exceed that, header included), and its trim threshold to twice that. With
# 64 MiB of trim threshold no candidate here (sourcegrad's LSTM float64 peaks near 50 MiB)
# hands its memory back to the OS at every call; with harness.warm_allocator's default 16 MiB,
# that one page-faulted ~13,000 times per call in a --quick run.
WARM_ALLOCATOR_BYTES = (32 << 20) - (1 << 16)


# --------------------------------------------------------------------------- the losses
def rnn_loss(params, xs, ys):
    """Vanilla RNN over xs (T, batch, D); squared error of every state against ys (T, batch, H)."""
    h = np.zeros((xs.shape[1], params["W_h"].shape[0]), dtype=xs.dtype)
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"])
        loss = loss + np.sum((h - ys[t]) ** 2)
    return 0.5 * loss / xs.shape[1]


def lstm_loss(params, xs, y):
    """LSTM over xs (T, batch, D), gates stacked as [i | f | o | g]; softmax cross entropy of the
    last hidden state against one-hot y (batch, H)."""
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    h = np.zeros((n, H), dtype=xs.dtype)
    c = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        z = xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"]
        s = 1.0 / (1.0 + np.exp(-z[:, : 3 * H]))
        g = np.tanh(z[:, 3 * H :])
        c = s[:, H : 2 * H] * c + s[:, :H] * g
        h = s[:, 2 * H : 3 * H] * np.tanh(c)
    lse = np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return -np.sum(y * (h - lse)) / n


LOSSES = {"rnn": rnn_loss, "lstm": lstm_loss}


def rebind_numpy(fn, module, name: str):
    """``fn`` with the same code, but with the global ``np`` bound to ``module``."""
    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": module}, name)


# --------------------------------------------------------------------------- inputs
def make_inputs(model: str, dtype, seed: int = 0):
    """``(params, xs, targets)`` for ``model``; params is a dict of W_x, W_h, b."""
    rng = np.random.default_rng(seed)
    gates = 1 if model == "rnn" else 4
    params = {
        "W_x": rng.standard_normal((D_IN, gates * HIDDEN)) / np.sqrt(D_IN),
        "W_h": rng.standard_normal((HIDDEN, gates * HIDDEN)) / np.sqrt(HIDDEN),
        "b": rng.standard_normal(gates * HIDDEN) * 0.1,
    }
    if model == "lstm":
        params["b"][HIDDEN : 2 * HIDDEN] += 1.0  # the usual forget-gate bias
    xs = rng.standard_normal((T_STEPS, BATCH, D_IN))
    if model == "rnn":
        targets = 0.5 * rng.standard_normal((T_STEPS, BATCH, HIDDEN))
    else:
        targets = np.zeros((BATCH, HIDDEN))
        targets[np.arange(BATCH), rng.integers(0, HIDDEN, size=BATCH)] = 1.0
    params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
    return params, np.ascontiguousarray(xs, dtype=dtype), np.ascontiguousarray(targets, dtype)


# --------------------------------------------------------------------------- hand-written RNN
def rnn_bptt(params, xs, ys):
    """Loss and gradient of :func:`rnn_loss` by hand: hoisted input projection and weight GEMMs."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, n, d = xs.shape
    H = W_h.shape[0]
    x2 = xs.reshape(T * n, d)
    hs = np.empty((T + 1, n, H), dtype=xs.dtype)  # hs[t + 1] = h_t; hs[0] = h_0 = 0
    hs[0] = 0.0
    zs = np.matmul(x2, W_x).reshape(T, n, H)  # x_t @ W_x + b for every step at once
    zs += b
    for t in range(T):
        h = hs[t + 1]
        np.matmul(hs[t], W_h, out=h)
        h += zs[t]
        np.tanh(h, out=h)
    diff = hs[1:] - ys  # becomes d loss / d h_t (the direct part)
    loss = 0.5 * np.vdot(diff, diff) / n
    diff *= 1.0 / n
    # zs becomes 1 - h_t^2, then (in the loop) d loss / d z_t
    np.multiply(hs[1:], hs[1:], out=zs)
    np.subtract(1.0, zs, out=zs)
    dh = np.zeros((n, H), dtype=xs.dtype)
    W_hT = W_h.T
    for t in range(T - 1, -1, -1):
        dh += diff[t]
        dz = zs[t]
        dz *= dh
        if t:
            np.matmul(dz, W_hT, out=dh)
    dz = zs.reshape(T * n, H)
    dW_h = np.matmul(hs[:-1].reshape(T * n, H).T, dz)
    dW_x = np.matmul(x2.T, dz)
    db = dz.sum(axis=0)
    return loss, {"W_x": dW_x, "W_h": dW_h, "b": db}


def rnn_bptt_stepwise(params, xs, ys):
    """:func:`rnn_bptt` with the input projection, the loss terms and the weight gradients
    step by step inside the loops (in place, preallocated)."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, n, d = xs.shape
    H = W_h.shape[0]
    dt = xs.dtype
    hs = np.empty((T + 1, n, H), dtype=dt)
    hs[0] = 0.0
    tmp = np.empty((n, H), dtype=dt)
    loss = 0.0
    for t in range(T):
        h = hs[t + 1]
        np.matmul(xs[t], W_x, out=h)
        np.matmul(hs[t], W_h, out=tmp)
        h += tmp
        h += b
        np.tanh(h, out=h)
        np.subtract(h, ys[t], out=tmp)
        loss += np.vdot(tmp, tmp)
    loss = 0.5 * loss / n
    dW_x = np.zeros_like(W_x)
    dW_h = np.zeros_like(W_h)
    db = np.zeros_like(b)
    gx = np.empty_like(W_x)
    gh = np.empty_like(W_h)
    dh = np.zeros((n, H), dtype=dt)
    dz = np.empty((n, H), dtype=dt)
    scale = 1.0 / n
    W_hT = W_h.T
    for t in range(T - 1, -1, -1):
        h = hs[t + 1]
        np.subtract(h, ys[t], out=dz)
        dz *= scale
        dh += dz
        np.multiply(h, h, out=dz)
        np.subtract(1.0, dz, out=dz)
        dz *= dh
        db += dz.sum(axis=0)
        np.matmul(hs[t].T, dz, out=gh)
        dW_h += gh
        np.matmul(xs[t].T, dz, out=gx)
        dW_x += gx
        if t:
            np.matmul(dz, W_hT, out=dh)
    return loss, {"W_x": dW_x, "W_h": dW_h, "b": db}


# --------------------------------------------------------------------------- hand-written LSTM
def _lstm_forward_step(a, c_prev, c, tc, h, ig, H):
    """Gate activations in place in ``a`` (pre-activations on entry), then c, tanh(c), h."""
    H3 = 3 * H
    s = a[:, :H3]  # sigmoid(x) = 1 / (1 + exp(-x)), as the loss function writes it
    np.negative(s, out=s)
    np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)
    g = a[:, H3:]
    np.tanh(g, out=g)
    np.multiply(a[:, H : 2 * H], c_prev, out=c)
    np.multiply(a[:, :H], g, out=ig)
    c += ig
    np.tanh(c, out=tc)
    np.multiply(a[:, 2 * H : H3], tc, out=h)


def _lstm_loss_head(h, y, n):
    """Softmax cross entropy of h against y, divided by n, and its gradient with respect to h."""
    e = np.exp(h)
    se = e.sum(axis=1, keepdims=True)
    ysum = y.sum(axis=1, keepdims=True)
    loss = (np.vdot(ysum, np.log(se)) - np.vdot(y, h)) / n
    e *= ysum / (se * n)
    e -= y / n
    return loss, e


def lstm_bptt(params, xs, y):
    """Loss and gradient of :func:`lstm_loss` by hand: hoisted input projection and weight GEMMs;
    the gate derivatives of all steps are computed at once between the two loops."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, n, d = xs.shape
    H = W_h.shape[0]
    H2, H3 = 2 * H, 3 * H
    dt = xs.dtype
    x2 = xs.reshape(T * n, d)
    hs = np.empty((T + 1, n, H), dtype=dt)
    hs[0] = 0.0
    cs = np.empty((T + 1, n, H), dtype=dt)
    cs[0] = 0.0
    tcs = np.empty((T, n, H), dtype=dt)  # tanh(c_t)
    acts = np.matmul(x2, W_x).reshape(T, n, 4 * H)  # pre-activations, then activations
    acts += b
    zh = np.empty((n, 4 * H), dtype=dt)
    ig = np.empty((n, H), dtype=dt)
    for t in range(T):
        a = acts[t]
        np.matmul(hs[t], W_h, out=zh)
        a += zh
        _lstm_forward_step(a, cs[t], cs[t + 1], tcs[t], hs[t + 1], ig, H)
    loss, dh = _lstm_loss_head(hs[T], y, n)

    # das: the derivative of each gate's nonlinearity, all steps at once; the loop multiplies
    # each step's by the gates' adjoints, which makes it d loss / d z_t
    das = np.empty_like(acts)
    sig, dsig = acts[:, :, :H3], das[:, :, :H3]
    np.subtract(1.0, sig, out=dsig)
    dsig *= sig
    g, dg = acts[:, :, H3:], das[:, :, H3:]
    np.multiply(g, g, out=dg)
    np.subtract(1.0, dg, out=dg)
    dtcs = np.multiply(tcs, tcs)
    np.subtract(1.0, dtcs, out=dtcs)
    dc = np.zeros((n, H), dtype=dt)
    tmp = np.empty((n, H), dtype=dt)
    W_hT = W_h.T
    for t in range(T - 1, -1, -1):
        a, da = acts[t], das[t]
        # h = o * tanh(c)
        np.multiply(dh, tcs[t], out=tmp)
        da[:, H2:H3] *= tmp
        np.multiply(dh, a[:, H2:H3], out=tmp)
        tmp *= dtcs[t]
        dc += tmp
        # c = f * c_prev + i * g
        np.multiply(dc, a[:, H3:], out=tmp)
        da[:, :H] *= tmp
        np.multiply(dc, cs[t], out=tmp)
        da[:, H:H2] *= tmp
        np.multiply(dc, a[:, :H], out=tmp)
        da[:, H3:] *= tmp
        dc *= a[:, H:H2]
        if t:
            np.matmul(da, W_hT, out=dh)
    dz = das.reshape(T * n, 4 * H)
    dW_h = np.matmul(hs[:-1].reshape(T * n, H).T, dz)
    dW_x = np.matmul(x2.T, dz)
    db = dz.sum(axis=0)
    return loss, {"W_x": dW_x, "W_h": dW_h, "b": db}


def lstm_bptt_stepwise(params, xs, y):
    """:func:`lstm_bptt` with the input projection, the gate derivatives and the weight gradients
    step by step inside the loops (in place, preallocated)."""
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    T, n, d = xs.shape
    H = W_h.shape[0]
    H2, H3 = 2 * H, 3 * H
    dt = xs.dtype
    hs = np.empty((T + 1, n, H), dtype=dt)
    hs[0] = 0.0
    cs = np.empty((T + 1, n, H), dtype=dt)
    cs[0] = 0.0
    tcs = np.empty((T, n, H), dtype=dt)
    acts = np.empty((T, n, 4 * H), dtype=dt)
    zh = np.empty((n, 4 * H), dtype=dt)
    ig = np.empty((n, H), dtype=dt)
    for t in range(T):
        a = acts[t]
        np.matmul(xs[t], W_x, out=a)
        np.matmul(hs[t], W_h, out=zh)
        a += zh
        a += b
        _lstm_forward_step(a, cs[t], cs[t + 1], tcs[t], hs[t + 1], ig, H)
    loss, dh = _lstm_loss_head(hs[T], y, n)

    dW_x = np.zeros_like(W_x)
    dW_h = np.zeros_like(W_h)
    db = np.zeros_like(b)
    gx = np.empty_like(W_x)
    gh = np.empty_like(W_h)
    dc = np.zeros((n, H), dtype=dt)
    tmp = np.empty((n, H), dtype=dt)
    da = zh  # d loss / d z_t, one step at a time
    W_hT = W_h.T
    for t in range(T - 1, -1, -1):
        a, tc = acts[t], tcs[t]
        i, f, o, g = a[:, :H], a[:, H:H2], a[:, H2:H3], a[:, H3:]
        zi, zf, zo, zg = da[:, :H], da[:, H:H2], da[:, H2:H3], da[:, H3:]
        # h = o * tanh(c): dc += dh * o * (1 - tanh(c)^2); dz_o = dh * tanh(c) * o * (1 - o)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        np.subtract(1.0, o, out=zo)
        zo *= o
        zo *= tc
        zo *= dh
        # c = f * c_prev + i * g
        np.subtract(1.0, i, out=zi)
        zi *= i
        zi *= g
        zi *= dc
        np.subtract(1.0, f, out=zf)
        zf *= f
        zf *= cs[t]
        zf *= dc
        np.multiply(g, g, out=zg)
        np.subtract(1.0, zg, out=zg)
        zg *= i
        zg *= dc
        dc *= f
        db += da.sum(axis=0)
        np.matmul(hs[t].T, da, out=gh)
        dW_h += gh
        np.matmul(xs[t].T, da, out=gx)
        dW_x += gx
        if t:
            np.matmul(da, W_hT, out=dh)
    return loss, {"W_x": dW_x, "W_h": dW_h, "b": db}


HAND = {"rnn": (rnn_bptt, rnn_bptt_stepwise), "lstm": (lstm_bptt, lstm_bptt_stepwise)}


# --------------------------------------------------------------------------- peers
def _autograd_candidate(model, params, xs, ys):
    autograd = optional_import("autograd", label="HIPS autograd")
    if autograd is None:
        return None
    anp = optional_import("autograd.numpy")
    f = rebind_numpy(LOSSES[model], anp, f"{model}_loss_autograd")
    vg = autograd.value_and_grad(f)
    return Candidate("autograd", lambda: vg(params, xs, ys))


def _jax_candidates(model, params, xs, ys):
    jax = import_jax()
    if jax is None:
        return []
    f = rebind_numpy(LOSSES[model], jax.numpy, f"{model}_loss_jax")
    return jax_candidates(jax, f, (params, xs, ys), "; the Python loop is unrolled at trace time")


def _torch_candidate(model, params, xs, ys):
    torch = import_torch()
    if torch is None:
        return None
    W_x, W_h, b = (torch.tensor(params[k], requires_grad=True) for k in LEAVES)
    txs, tys = torch.from_numpy(xs), torch.from_numpy(ys)
    T, n, _ = xs.shape
    H = W_h.shape[0]

    def rnn():
        h = torch.zeros((n, H), dtype=txs.dtype)
        loss = 0.0
        for t in range(T):
            h = torch.tanh(txs[t] @ W_x + h @ W_h + b)
            loss = loss + torch.sum((h - tys[t]) ** 2)
        return 0.5 * loss / n

    def lstm():
        h = torch.zeros((n, H), dtype=txs.dtype)
        c = torch.zeros((n, H), dtype=txs.dtype)
        for t in range(T):
            z = txs[t] @ W_x + h @ W_h + b
            s = torch.sigmoid(z[:, : 3 * H])
            g = torch.tanh(z[:, 3 * H :])
            c = s[:, H : 2 * H] * c + s[:, :H] * g
            h = s[:, 2 * H : 3 * H] * torch.tanh(c)
        lse = torch.logsumexp(h, dim=1, keepdim=True)
        return -torch.sum(tys * (h - lse)) / n

    loss_fn = rnn if model == "rnn" else lstm

    def value_and_grad():
        loss = loss_fn()
        grads = torch.autograd.grad(loss, [W_x, W_h, b])
        return loss.detach(), dict(zip(LEAVES, grads))

    def to_numpy(out):
        loss, g = out
        return loss.numpy(), {k: v.numpy() for k, v in g.items()}

    note = f"eager, {torch.get_num_threads()} thread(s); torch buffers not seen by tracemalloc"
    return Candidate("torch", value_and_grad, to_numpy, memory_tracked=False, note=note)


def _peer(make, *args):
    """``make(*args)``, as a list; a peer that fails to build is reported and skipped."""
    try:
        got = make(*args)
    except Exception as exc:  # noqa: BLE001 - an optional peer's failure must not stop the run
        print(f"note: {make.__name__.strip('_')} skipped ({type(exc).__name__}: {exc})")
        return []
    if got is None:
        return []
    return got if isinstance(got, list) else [got]


# --------------------------------------------------------------------------- checks
def check(name, got, ref, want, dtype, workload):
    """Raise CheckError unless ``got`` (loss, grads) from ``name`` matches ``want`` from ``ref``.

    np.allclose with rtol from TOLERANCES and atol = (the atol fraction) * max |want leaf|.
    Returns notes about results whose dtype is not ``dtype``.
    """
    rtol, atol_frac = TOLERANCES[np.dtype(dtype)]
    loss, grads = got
    want_loss, want_grads = want
    if set(grads) != set(want_grads):
        raise CheckError(f"{workload}: {name} returns leaves {sorted(grads)}, not {LEAVES}")
    pairs = [("loss", loss, want_loss)] + [(f"d{k}", grads[k], want_grads[k]) for k in LEAVES]
    return compare_leaves(
        pairs, name=name, ref=ref, dtype=dtype, workload=workload, rtol=rtol, atol_frac=atol_frac
    )


def make_workload(model: str, dtype, *, peers: bool = True) -> Workload:
    """``model`` at ``dtype``, every candidate checked before anything is timed."""
    params, xs, ys = make_inputs(model, dtype)
    pristine = copy.deepcopy((params, xs, ys))
    name = f"{model} {np.dtype(dtype).name}"
    hand, stepwise = HAND[model]
    vg = sg.value_and_grad(LOSSES[model])
    candidates = [
        Candidate(REFERENCE, lambda: hand(params, xs, ys)),
        Candidate("hand BPTT per-step", lambda: stepwise(params, xs, ys)),
        Candidate("sourcegrad", lambda: vg(params, xs, ys), held=vg.held_bytes),
    ]
    if peers:
        for make in (_autograd_candidate, _jax_candidates, _torch_candidate):
            candidates += _peer(make, model, params, xs, ys)

    def unchanged(who):
        now = [*(params[k] for k in LEAVES), xs, ys]
        before = [*(pristine[0][k] for k in LEAVES), pristine[1], pristine[2]]
        if not all(np.array_equal(a, b) for a, b in zip(now, before)):
            raise CheckError(f"{name}: {who} modified its inputs")

    # the hand-written gradient must agree with sourcegrad's; then everyone with it
    want = candidates[0].fn()
    unchanged(REFERENCE)
    notes = check(REFERENCE, want, "sourcegrad", vg(params, xs, ys), dtype, name)
    kept = [candidates[0]]
    for k, c in enumerate(candidates[1:], start=1):
        try:
            out = c.fn()
        except Exception as exc:
            if k < 3:  # the hand-written ones and sourcegrad must run
                raise
            print(f"note: {c.name} skipped on {name} ({type(exc).__name__}: {exc})")
            continue
        unchanged(c.name)
        notes += check(c.name, c.to_numpy(out) if c.to_numpy else out, REFERENCE, want, dtype, name)
        kept.append(c)
    return Workload(name, kept, reference=REFERENCE, notes=notes)


# --------------------------------------------------------------------------- measurement
def call_seconds(fn, calls: int = 3) -> float:
    """The fastest of ``calls`` calls, in seconds (to size the number of rounds)."""
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def first_call_times(model: str, dtype, samples: int) -> list[tuple[float, float]]:
    """``(first call, first call minus a later call)`` in seconds, per fresh
    ``sg.value_and_grad`` object (each parses, analyses, emits and compiles anew). The later
    call is the third: the second builds the derivative specialised to the shapes."""
    params, xs, ys = make_inputs(model, dtype)
    clock = time.perf_counter
    out = []
    for _ in range(samples):
        sg.api.clear_cache()  # a new process's first call: no build kept for reuse
        t0 = clock()
        vg = sg.value_and_grad(LOSSES[model])
        vg(params, xs, ys)
        t1 = clock()
        vg(params, xs, ys)
        t2 = clock()
        vg(params, xs, ys)
        t3 = clock()
        out.append((t1 - t0, (t1 - t0) - (t3 - t2)))
        del vg
    return out


def format_table(results: list[Result]) -> str:
    headers = ["workload", "candidate", "median ms", f"× {REFERENCE}", "p10–p90 ms", "peak KiB"]
    rows = [
        [
            r.workload,
            r.candidate,
            f"{r.median_us / 1e3:,.3f}",
            "—" if r.ratio is None else f"{r.ratio:.2f}",
            f"{r.p10_us / 1e3:,.2f}–{r.p90_us / 1e3:,.2f}",
            "n/a" if r.peak_kib is None else f"{r.peak_kib:,.0f}",
        ]
        for r in results
    ]
    return layout(headers, rows, [r.workload for r in results])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short run (small time budget)")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    ap.add_argument(
        "--budget",
        type=float,
        help="seconds of timed rounds per workload (default 20; 3 with --quick)",
    )
    ap.add_argument("--rounds", type=int, help="timed rounds per workload (overrides --budget)")
    ap.add_argument(
        "--rewarm", type=int, default=1, help="untimed calls before each timed call (default 1)"
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        metavar="N",
        help="NumPy's BLAS threads (default 1: the per-step 32x128 @ 128x512 GEMMs are just\n"
        "above OpenBLAS's threading threshold, and on a busy 2-core machine its threads\n"
        "stall each other, 5-10x on some calls); 0 leaves NumPy's setting",
    )
    ap.add_argument("--no-peers", action="store_true", help="only hand-written and sourcegrad")
    ap.add_argument("--models", default="rnn,lstm", help="comma-separated: rnn, lstm")
    ap.add_argument(
        "--source", action="store_true", help="print sourcegrad's derivatives (float64) first"
    )
    args = ap.parse_args(argv)

    budget = args.budget if args.budget is not None else (3.0 if args.quick else 20.0)
    min_rounds, max_rounds = (10, 100) if args.quick else (40, 600)
    warmup = 2 if args.quick else 5
    transform_samples = 3 if args.quick else 7
    mem_repeats = 3 if args.quick else 5
    fault_calls = 3 if args.quick else 10
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - set(LOSSES)
    if unknown:
        ap.error(f"unknown model(s) {sorted(unknown)}; known: {sorted(LOSSES)}")

    if args.blas_threads > 0 and not set_blas_threads(args.blas_threads):
        print(f"warning: could not set NumPy's BLAS to {args.blas_threads} thread(s)")
    warm_allocator(WARM_ALLOCATOR_BYTES)
    blas = blas_info()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, sourcegrad {sg.__version__}; "
        f"{os.cpu_count()} CPUs; BLAS {blas.get('library', '?')} {blas.get('core', '?')} "
        f"with {blas.get('threads', '?')} thread(s)"
    )
    print(f"T={T_STEPS}, batch={BATCH}, input={D_IN}, hidden={HIDDEN}")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: 1-minute load average is {load:.2f}; other processes skew the timings")
    if blas.get("OPENBLAS_CORETYPE") or blas.get("OPENBLAS_L2_SIZE"):
        print(
            "warning: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and may slow NumPy's BLAS; "
            "run under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`"
        )
    if args.source:
        for model in models:
            params, xs, ys = make_inputs(model, np.float64)
            print(sg.source(sg.grad(LOSSES[model]), params, xs, ys), end="\n\n")

    started = time.perf_counter()
    workloads = [make_workload(m, d, peers=not args.no_peers) for m in models for d in DTYPES]
    print(f"all candidates agree with {REFERENCE} (which agrees with sourcegrad)\n")

    results: list[Result] = []
    settings_rounds = {}
    for w in workloads:
        per_round = (1 + args.rewarm) * sum(call_seconds(c.fn) for c in w.candidates)
        rounds = args.rounds or max(min_rounds, min(max_rounds, int(budget / per_round)))
        settings_rounds[w.name] = rounds
        print(f"{w.name}: {rounds} interleaved rounds ({per_round * 1e3:.1f} ms each)", flush=True)
        got = run_workload(
            w,
            rounds=rounds,
            warmup=warmup,
            rewarm=args.rewarm,
            mem_repeats=mem_repeats,
            faults=False,  # measured below with fewer calls than harness.page_faults' 50
        )
        for c, r in zip(w.candidates, got):
            r.faults_per_call = page_faults(c.fn, calls=fault_calls)
        results.extend(got)

    print()
    print(format_table(results))
    notes = [n for w in workloads for n in w.notes]
    notes += sorted({f"{r.candidate}: {r.note}" for r in results if r.note})
    stalled = sorted({r.workload for r in results if r.p90_us > 3 * r.median_us})
    if stalled:
        notes.append(
            f"{', '.join(stalled)}: p90 over 3x the median (calls stalled on a busy CPU); "
            "the medians may be inflated"
        )
    faulting = [r for r in results if (r.faults_per_call or 0) >= 0.5]
    if faulting:
        notes.append(
            "page faults per call (memory returned to the OS and faulted back in): "
            + ", ".join(f"{r.workload} {r.candidate} {r.faults_per_call:.0f}" for r in faulting)
        )
    if any(r.peak_kib is None for r in results):
        notes.append("peak KiB n/a: the library allocates outside tracemalloc's view")
    for n in notes:
        print(f"  note: {n}")

    print("\nsourcegrad first call (fresh sg.value_and_grad: parse, analyse, emit, compile, run):")
    transform = {}
    for model in models:
        for dtype in DTYPES:
            name = f"{model} {np.dtype(dtype).name}"
            samples = first_call_times(model, dtype, transform_samples)
            first = statistics.median(s[0] for s in samples) * 1e3
            extra = sorted(s[1] * 1e3 for s in samples)
            transform[name] = {
                "first_call_ms": [s[0] * 1e3 for s in samples],
                "transform_ms": [s[1] * 1e3 for s in samples],
            }
            print(
                f"  {name:14s} first call {first:7.1f} ms; minus a later call: median "
                f"{statistics.median(extra):6.1f} ms (min {extra[0]:.1f}, max {extra[-1]:.1f}) "
                f"over {len(samples)} fresh objects"
            )
    elapsed = time.perf_counter() - started
    print(f"\ntotal {elapsed:.0f} s")

    if args.json:
        doc = {
            "environment": environment(blas, load),
            "sizes": {"T": T_STEPS, "batch": BATCH, "input": D_IN, "hidden": HIDDEN},
            "settings": {
                "rounds": settings_rounds,
                "budget_s": budget,
                "warmup": warmup,
                "rewarm": args.rewarm,
                "mem_repeats": mem_repeats,
                "blas_threads": args.blas_threads or None,
                "warm_allocator_bytes": WARM_ALLOCATOR_BYTES,
            },
            "results": [r.as_dict() for r in results],
            "notes": notes,
            "sourcegrad_first_call": transform,
        }
        pathlib.Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
