"""Workloads: the seed MLP of ``examples/mlp.py``, loss and gradient, several ways.

For each batch size (1 and 256) and dtype (float64 and float32) the candidates are:

* ``hand-written``: forward and backward written out by hand in NumPy, tight (in-place
  updates, no helper calls, no containers walked); the reference of the ratios.
* ``sourcegrad``: ``sg.value_and_grad(neural_net)``, ``neural_net`` imported from
  ``examples/mlp.py``.
* ``autograd``: HIPS autograd's ``value_and_grad`` of the same function over
  ``autograd.numpy``.
* ``jax`` / ``jax.jit`` / ``torch``: when importable (torch eager, with as many threads as
  NumPy's BLAS uses; 1 when that cannot be told). ``tangent`` is tried when installed.

Every candidate's loss and gradient are checked against the hand-written ones when the
workload is built; a disagreement raises :class:`CheckError`. The hand-written gradient is
first checked against sourcegrad's, as the brief for these benchmarks asks.
"""

from __future__ import annotations

import copy
import importlib.util
import pathlib

import numpy as np

import sourcegrad as sg

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    from harness import (
        Candidate,
        CheckError,
        Workload,
        import_jax,
        import_torch,
        jax_candidates,
        optional_import,
    )
except ImportError:  # pragma: no cover
    from .harness import (
        Candidate,
        CheckError,
        Workload,
        import_jax,
        import_torch,
        jax_candidates,
        optional_import,
    )

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load_example(name: str):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sourcegrad_bench_examples_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlp = _load_example("mlp")
neural_net = mlp.neural_net  # the seed network, exactly as the example defines it

BATCHES = (1, 256)
DTYPES = (np.float64, np.float32)
# (rtol, atol) for the correctness checks against the hand-written gradient.
TOLERANCES = {np.dtype(np.float64): (1e-9, 1e-12), np.dtype(np.float32): (2e-4, 1e-6)}


# --------------------------------------------------------------------------- inputs
def make_inputs(batch: int, dtype, seed: int = 0):
    """``(params, x, y)`` for the seed network: x (batch, 100), y one-hot (batch, 10)."""
    rng = np.random.default_rng(seed)
    params = mlp.init_params(rng)
    params["b"] = [rng.standard_normal(b.shape) * 0.1 for b in params["b"]]  # non-zero biases
    params = {k: [np.ascontiguousarray(a, dtype=dtype) for a in v] for k, v in params.items()}
    x = rng.standard_normal((batch, 100)).astype(dtype)
    y = np.zeros((batch, 10), dtype=dtype)
    y[np.arange(batch), rng.integers(0, 10, size=batch)] = 1
    return params, x, y


# --------------------------------------------------------------------------- hand-written
def hand_value_and_grad(params, x, y):
    """Loss and gradient of :func:`neural_net`, by hand.

    loss = -sum((h2 - log(sum(exp(h2)))) * y) = log(s) * sum(y) - sum(h2 * y), s = sum(exp(h2))
    d loss / d h2 = exp(h2) * sum(y) / s - y
    """
    W0, W1 = params["W"]
    b0, b1 = params["b"]
    h1 = x @ W0
    h1 += b0
    np.tanh(h1, out=h1)
    h2 = h1 @ W1
    h2 += b1
    np.tanh(h2, out=h2)
    e = np.exp(h2)
    s = e.sum()
    sy = y.sum()
    loss = np.log(s) * sy - np.vdot(h2, y)
    # backward; e becomes d loss / d h2, then d loss / d (h1 @ W1 + b1)
    e *= sy / s
    e -= y
    np.multiply(h2, h2, out=h2)
    np.subtract(1, h2, out=h2)
    e *= h2
    dW1 = np.dot(h1.T, e)  # np.dot: BLAS for the outer product at batch 1, where @ is not
    db1 = e.sum(axis=0)
    dh1 = np.dot(e, W1.T)
    np.multiply(h1, h1, out=h1)
    np.subtract(1, h1, out=h1)
    dh1 *= h1
    dW0 = np.dot(x.T, dh1)
    db0 = dh1.sum(axis=0)
    return loss, {"W": [dW0, dW1], "b": [db0, db1]}


# --------------------------------------------------------------------------- autograd
def _autograd_candidate(params, x, y):
    autograd = optional_import("autograd", label="HIPS autograd")
    if autograd is None:
        return None
    anp = importlib.import_module("autograd.numpy")

    def neural_net_ag(params, x, y):
        h1 = anp.tanh(x @ params["W"][0] + params["b"][0])
        h2 = anp.tanh(h1 @ params["W"][1] + params["b"][1])
        y_hat = h2 - anp.log(anp.sum(anp.exp(h2)))
        return -anp.sum(y_hat * y)

    df = autograd.value_and_grad(neural_net_ag)
    return Candidate("autograd", lambda: df(params, x, y))


# --------------------------------------------------------------------------- jax


def _jax_candidates(params, x, y):
    jax = import_jax()
    if jax is None:
        return []
    jnp = jax.numpy

    def neural_net_jax(params, x, y):
        h1 = jnp.tanh(x @ params["W"][0] + params["b"][0])
        h2 = jnp.tanh(h1 @ params["W"][1] + params["b"][1])
        y_hat = h2 - jnp.log(jnp.sum(jnp.exp(h2)))
        return -jnp.sum(y_hat * y)

    return jax_candidates(jax, neural_net_jax, (params, x, y))


# --------------------------------------------------------------------------- torch


def _torch_candidate(params, x, y):
    torch = import_torch()
    if torch is None:
        return None
    W = [torch.tensor(a, requires_grad=True) for a in params["W"]]
    b = [torch.tensor(a, requires_grad=True) for a in params["b"]]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    leaves = [W[0], W[1], b[0], b[1]]

    def value_and_grad():
        h1 = torch.tanh(tx @ W[0] + b[0])
        h2 = torch.tanh(h1 @ W[1] + b[1])
        y_hat = h2 - torch.log(torch.sum(torch.exp(h2)))
        loss = -torch.sum(y_hat * ty)
        dW0, dW1, db0, db1 = torch.autograd.grad(loss, leaves)
        return loss.detach(), {"W": [dW0, dW1], "b": [db0, db1]}

    def to_numpy(out):
        loss, g = out
        return loss.numpy(), {k: [t.numpy() for t in v] for k, v in g.items()}

    note = f"eager, {torch.get_num_threads()} thread(s); torch buffers not seen by tracemalloc"
    return Candidate("torch", value_and_grad, to_numpy, memory_tracked=False, note=note)


# --------------------------------------------------------------------------- tangent
def _tangent_candidate(params, x, y):
    tangent = optional_import("tangent")
    if tangent is None:
        return None
    try:
        df = tangent.grad(neural_net, wrt=(0,), preserve_result=True)
        out = df(params, x, y)
    except Exception as exc:  # noqa: BLE001 - tangent is unmaintained; report and skip
        print(f"note: tangent cannot differentiate neural_net ({type(exc).__name__}: {exc})")
        return None

    def to_numpy(out):  # preserve_result=True: (gradient, result)
        return out[-1], out[0]

    del out
    return Candidate("tangent", lambda: df(params, x, y), to_numpy)


# --------------------------------------------------------------------------- checks
def _leaves(g):
    return [g["W"][0], g["W"][1], g["b"][0], g["b"][1]]


def check(name: str, got, ref: str, want, dtype, workload: str) -> list[str]:
    """Raise CheckError unless ``got`` (from ``name``) matches ``want`` (from ``ref``);
    return notes about results whose dtype is not ``dtype``."""
    rtol, atol = TOLERANCES[np.dtype(dtype)]
    loss, grads = got
    want_loss, want_grads = want
    labels = ["loss", "dW0", "dW1", "db0", "db1"]
    notes = []
    pairs = zip(labels, [loss, *_leaves(grads)], [want_loss, *_leaves(want_grads)])
    for label, a, b in pairs:
        a_arr = np.asarray(a)
        if a_arr.shape != np.shape(b):
            raise CheckError(
                f"{workload}: {name} gives {label} the shape {a_arr.shape}; {ref} {np.shape(b)}"
            )
        if not np.allclose(a_arr, b, rtol=rtol, atol=atol):
            err = np.max(np.abs(a_arr - b))
            raise CheckError(
                f"{workload}: {name} and {ref} disagree on {label} "
                f"(max abs difference {err:.3g}; rtol={rtol}, atol={atol})"
            )
        if a_arr.dtype != np.dtype(dtype):
            notes.append(
                f"{workload}: {name} returns {label} as {a_arr.dtype}, not {dtype.__name__}"
            )
    return notes


# --------------------------------------------------------------------------- workloads
def make_workload(batch: int, dtype, *, peers: bool = True) -> Workload:
    """The seed MLP at ``batch`` and ``dtype``, every candidate checked against hand-written."""
    params, x, y = make_inputs(batch, dtype)
    pristine = copy.deepcopy((params, x, y))
    name = f"mlp b={batch} {np.dtype(dtype).name}"

    hand = Candidate("hand-written", lambda: hand_value_and_grad(params, x, y))
    dnet = sg.value_and_grad(neural_net)
    sgc = Candidate("sourcegrad", lambda: dnet(params, x, y), held=dnet.held_bytes)
    candidates = [hand, sgc]
    if peers:
        candidates.append(_autograd_candidate(params, x, y))
        candidates.extend(_jax_candidates(params, x, y))
        candidates.append(_torch_candidate(params, x, y))
        candidates.append(_tangent_candidate(params, x, y))
    candidates = [c for c in candidates if c is not None]

    # The reference is checked against sourcegrad first: the hand-written code must be right;
    # then every candidate against the reference. None may modify its inputs.
    def unchanged(who):
        now = [*_leaves(params), x, y]
        before = [*_leaves(pristine[0]), pristine[1], pristine[2]]
        if not all(np.array_equal(a, b) for a, b in zip(now, before)):
            raise CheckError(f"{name}: {who} modified its inputs")

    want = hand.fn()
    unchanged("hand-written")
    notes = check("hand-written", want, "sourcegrad", sgc.fn(), dtype, name)
    for c in candidates:
        out = c.fn()
        unchanged(c.name)
        notes += check(
            c.name, c.to_numpy(out) if c.to_numpy else out, "hand-written", want, dtype, name
        )
    return Workload(name, candidates, reference="hand-written", notes=notes)


def all_workloads(*, peers: bool = True) -> list[Workload]:
    return [make_workload(b, d, peers=peers) for d in DTYPES for b in BATCHES]
