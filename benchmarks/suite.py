"""The benchmark workloads, each with a hand-written reference and its peers.

Every workload is a :class:`Spec`: a plain-NumPy loss (what sourcegrad, HIPS autograd, JAX and
tangent differentiate), the inputs for a dtype, a tight hand-written NumPy forward+backward of
the same loss (the reference of the ratios), and a PyTorch version. :func:`make_workload`
builds the candidates for one spec and dtype and checks every one of them against the
hand-written loss and gradient before anything is timed.

=============  ============================================================================
key            workload
=============  ============================================================================
seed-b1        the seed MLP of ``examples/mlp.py`` (100 -> 50 -> 10, tanh, log-softmax
seed-b256      loss), batch 1 and 256; reference ``workloads.hand_value_and_grad``
mlp            MLP 784 -> 512 -> 512 -> 10, ReLU, softmax cross entropy, batch 128
rnn, lstm      ``recurrent.rnn_loss`` / ``recurrent.lstm_loss`` (input 64, hidden 128,
               batch 32, T=50, a Python ``for`` loop); reference ``recurrent.rnn_bptt`` /
               ``recurrent.lstm_bptt`` (hoisted GEMMs), the ``hand BPTT`` of recurrent.py
elementwise    ``sum(tanh(x * a) * exp(-x * x) + log1p(x * x))`` over 10**6 elements,
               gradient w.r.t. ``x``
newton         the cube root of a scalar by Newton's method, a ``while`` loop whose trip
               count depends on the data, in Python floats (float32: NumPy float32
               scalars); gradient w.r.t. the input
cnn            8x8 digits (``sklearn.datasets.load_digits`` if importable, else random
               images), batch 64, NCHW; a 3x3 convolution to 8 channels written as a sum of
               9 shifted slices times weights (``np.einsum``), ReLU, a linear layer to 10
               classes, softmax cross entropy
=============  ============================================================================
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

import sourcegrad as sg

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    import recurrent
    import workloads as seed
    from harness import (
        Candidate,
        CheckError,
        Workload,
        compare_leaves,
        import_jax,
        import_torch,
        jax_candidates,
        optional_import,
    )
    from spec import (
        REFERENCE,
        Spec,
        rebind_numpy,
        torch_candidate,
        torch_leaves,
    )
except ImportError:  # pragma: no cover
    from . import recurrent
    from . import workloads as seed
    from .harness import (
        Candidate,
        CheckError,
        Workload,
        compare_leaves,
        import_jax,
        import_torch,
        jax_candidates,
        optional_import,
    )
    from .spec import (
        REFERENCE,
        Spec,
        rebind_numpy,
        torch_candidate,
        torch_leaves,
    )

DTYPES = (np.float64, np.float32)


# =========================================================================== the losses
def mlp_loss(params, x, y):
    """MLP 784 -> 512 -> 512 -> 10, ReLU, softmax cross entropy against one-hot y, batch mean."""
    W0, W1, W2 = params["W"]
    b0, b1, b2 = params["b"]
    h1 = np.maximum(x @ W0 + b0, 0.0)
    h2 = np.maximum(h1 @ W1 + b1, 0.0)
    z = h2 @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(y * (z - lse)) / x.shape[0]


def elementwise_loss(x, a):
    """A chain of ufuncs over every element of x."""
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


def newton_cbrt(a, tol):
    """The cube root of a > 0 by Newton's method, until the step is below tol relative to x."""
    if a > 1.0:
        x = a
    else:
        x = 1.0
    step = x
    while abs(step) > tol * x:
        step = (x * x * x - a) / (3.0 * x * x)
        x = x - step
    return x


def cnn_loss(params, x, y):
    """A 3x3 convolution (valid, NCHW input, K of shape (3, 3, C_in, C_out)) as 9 shifted slices
    times weights, ReLU, a linear layer, softmax cross entropy against one-hot y, batch mean."""
    K, c, W, b = params["K"], params["c"], params["W"], params["b"]
    n = x.shape[0]
    ho, wo = x.shape[2] - 2, x.shape[3] - 2
    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + ho, j : j + wo], K[i, j])
    h = np.maximum(h + c, 0.0)
    z = h.reshape(n, -1) @ W + b
    z = z - np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(y * (z - lse)) / n


# =========================================================================== hand-written
def _softmax_xent_head(z, y, n):
    """Softmax cross entropy of logits z (modified in place) against y, divided by n, and its
    gradient with respect to z (in z's buffer)."""
    z -= z.max(axis=1, keepdims=True)
    yz = np.vdot(y, z)
    e = np.exp(z, out=z)
    s = e.sum(axis=1, keepdims=True)
    ysum = y.sum(axis=1, keepdims=True)
    loss = (np.vdot(ysum, np.log(s)) - yz) / n
    np.divide(ysum, s, out=s)
    e *= s  # d loss / d z = (softmax(z) * sum(y) - y) / n
    e -= y
    e *= 1.0 / n
    return loss, e


def mlp_hand(params, x, y):
    """Loss and gradient of :func:`mlp_loss` by hand: in place, one mask per ReLU."""
    W0, W1, W2 = params["W"]
    b0, b1, b2 = params["b"]
    n = x.shape[0]
    h1 = x @ W0
    h1 += b0
    np.maximum(h1, 0.0, out=h1)
    h2 = h1 @ W1
    h2 += b1
    np.maximum(h2, 0.0, out=h2)
    z = h2 @ W2
    z += b2
    loss, dz = _softmax_xent_head(z, y, n)
    dW2 = h2.T @ dz
    db2 = dz.sum(axis=0)
    dh2 = dz @ W2.T
    dh2 *= h2 > 0.0
    dW1 = h1.T @ dh2
    db1 = dh2.sum(axis=0)
    dh1 = dh2 @ W1.T
    dh1 *= h1 > 0.0
    dW0 = x.T @ dh1
    db0 = dh1.sum(axis=0)
    return loss, {"W": [dW0, dW1, dW2], "b": [db0, db1, db2]}


def elementwise_hand(x, a):
    """Loss and gradient of :func:`elementwise_loss` by hand: four temporaries, all in place.

    d/dx = e * (a * (1 - t^2) - 2 x t) + 2 x / (1 + x^2), t = tanh(a x), e = exp(-x^2).
    """
    x2 = np.multiply(x, x)
    t = np.multiply(x, a)
    np.tanh(t, out=t)
    e = np.negative(x2)
    np.exp(e, out=e)
    q = np.log1p(x2)
    loss = np.vdot(t, e) + q.sum()
    g = np.multiply(t, t, out=q)  # q's buffer becomes the gradient
    g *= -a
    g += a
    t *= x
    t *= 2.0
    g -= t
    g *= e
    x2 += 1.0
    np.divide(x, x2, out=x2)
    x2 *= 2.0
    g += x2
    return loss, g


def newton_hand(a, tol):
    """:func:`newton_cbrt` and its derivative, carried forward alongside (one input, one
    output: forward mode is the tight way to write it).

    x' = x - (x^3 - a) / (3 x^2) = 2x/3 + a / (3 x^2)
    dx'/da = dx (2/3 - 2a / (3 x^3)) + 1 / (3 x^2)
    """
    if a > 1.0:
        x = a
        dx = 1.0
    else:
        x = 1.0
        dx = 0.0
    step = x
    while abs(step) > tol * x:
        inv = 1.0 / (3.0 * x * x)
        step = (x * x * x - a) * inv
        dx = dx * (2.0 / 3.0 - 2.0 * a * inv / x) + inv
        x = x - step
    return x, dx


def cnn_hand(params, x, y):
    """Loss and gradient of :func:`cnn_loss` by hand: im2col (one copy of the 9 shifted
    windows), one GEMM for the convolution and one for its kernel gradient."""
    K, c, W, b = params["K"], params["c"], params["W"], params["b"]
    n, C = x.shape[:2]
    ho, wo = x.shape[2] - 2, x.shape[3] - 2
    n_out = K.shape[3]
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # n C ho wo 3 3
    cols = windows.transpose(0, 2, 3, 4, 5, 1).reshape(n * ho * wo, 9 * C)  # rows (i, j, c)
    h = cols @ K.reshape(9 * C, n_out)
    h += c
    np.maximum(h, 0.0, out=h)
    hf = h.reshape(n, ho * wo * n_out)
    z = hf @ W
    z += b
    loss, dz = _softmax_xent_head(z, y, n)
    dW = hf.T @ dz
    db = dz.sum(axis=0)
    dh = dz @ W.T
    dh = dh.reshape(n * ho * wo, n_out)
    dh *= h > 0.0
    dc = dh.sum(axis=0)
    dK = (cols.T @ dh).reshape(K.shape)
    return loss, {"K": dK, "c": dc, "W": dW, "b": db}


# =========================================================================== inputs
MLP_SIZES, MLP_BATCH = (784, 512, 512, 10), 128
ELEMENTWISE_N = 10**6
NEWTON_A = 20.0
CNN_BATCH, CNN_CHANNELS, CNN_CLASSES = 64, 8, 10


def mlp_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    sizes = MLP_SIZES
    W = [rng.standard_normal((m, k)) * np.sqrt(2.0 / m) for m, k in zip(sizes, sizes[1:])]
    b = [rng.standard_normal(k) * 0.1 for k in sizes[1:]]
    params = {"W": [w.astype(dtype) for w in W], "b": [v.astype(dtype) for v in b]}
    x = rng.standard_normal((MLP_BATCH, sizes[0])).astype(dtype)
    y = np.zeros((MLP_BATCH, sizes[-1]), dtype=dtype)
    y[np.arange(MLP_BATCH), rng.integers(0, sizes[-1], size=MLP_BATCH)] = 1
    return params, x, y


def elementwise_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(ELEMENTWISE_N).astype(dtype), 1.5


def newton_inputs(dtype, seed=0):
    """Python floats for float64; NumPy float32 scalars (a Python-float tolerance) for float32."""
    tol = 8.0 * float(np.finfo(dtype).eps)
    if np.dtype(dtype) == np.float64:
        return NEWTON_A, tol
    return dtype(NEWTON_A), tol


_digits_source: str | None = None


def digits_source() -> str:
    """Where the CNN's images come from (known after :func:`cnn_inputs` ran)."""
    return _digits_source or "not loaded"


def _digit_images(batch, rng):
    """``(images (batch, 1, 8, 8) in [0, 1], labels)``: sklearn's digits if importable, else
    random."""
    global _digits_source
    try:
        from sklearn.datasets import load_digits

        data = load_digits()
        _digits_source = "sklearn.datasets.load_digits (the first 64 images)"
        return data.images[:batch, None] / 16.0, data.target[:batch]
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken install: use random data
        _digits_source = (
            f"random 8x8 images, uniform in [0, 1), random labels "
            f"(sklearn not usable: {type(exc).__name__})"
        )
        return rng.random((batch, 1, 8, 8)), rng.integers(0, CNN_CLASSES, size=batch)


def cnn_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    images, labels = _digit_images(CNN_BATCH, rng)
    n_out, H = CNN_CHANNELS, 6 * 6 * CNN_CHANNELS
    params = {
        "K": rng.standard_normal((3, 3, 1, n_out)) / 3.0,
        "c": rng.standard_normal(n_out) * 0.1,
        "W": rng.standard_normal((H, CNN_CLASSES)) / np.sqrt(H),
        "b": rng.standard_normal(CNN_CLASSES) * 0.1,
    }
    params = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
    y = np.zeros((CNN_BATCH, CNN_CLASSES), dtype=dtype)
    y[np.arange(CNN_BATCH), labels] = 1
    return params, np.ascontiguousarray(images, dtype=dtype), y


def seed_inputs(batch):
    return lambda dtype: seed.make_inputs(batch, dtype)


def recurrent_inputs(model):
    return lambda dtype: recurrent.make_inputs(model, dtype)


# =========================================================================== torch versions
def torch_mlp(params, x, y):
    torch = import_torch()
    if torch is None:
        return None
    F = torch.nn.functional
    p = torch_leaves(torch, params)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    (W0, W1, W2), (b0, b1, b2) = p["W"], p["b"]

    def loss():
        h1 = torch.relu(tx @ W0 + b0)
        h2 = torch.relu(h1 @ W1 + b1)
        return F.cross_entropy(h2 @ W2 + b2, ty)  # probability targets: the same loss

    return torch_candidate(torch, p, loss, "; F.cross_entropy")


def torch_elementwise(x, a):
    torch = import_torch()
    if torch is None:
        return None
    tx = torch.tensor(x, requires_grad=True)

    def loss():
        return torch.sum(torch.tanh(tx * a) * torch.exp(-tx * tx) + torch.log1p(tx * tx))

    return torch_candidate(torch, tx, loss, "")


def torch_newton(a, tol):
    torch = import_torch()
    if torch is None:
        return None
    ta = torch.tensor(np.asarray(a), requires_grad=True)  # 0-d; float64 for a Python float

    def loss():
        return newton_cbrt(ta, tol)  # the same code: tensors support >, abs, * and /

    return torch_candidate(torch, ta, loss, "; 0-d tensors")


def torch_cnn(params, x, y):
    torch = import_torch()
    if torch is None:
        return None
    F = torch.nn.functional
    p = torch_leaves(torch, params)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    n = x.shape[0]

    def loss():
        weight = p["K"].permute(3, 2, 0, 1)  # (3, 3, C, O) -> (O, C, 3, 3)
        h = torch.relu(F.conv2d(tx, weight, p["c"]))  # (n, O, 6, 6)
        z = h.permute(0, 2, 3, 1).reshape(n, -1) @ p["W"] + p["b"]
        return F.cross_entropy(z, ty)

    return torch_candidate(torch, p, loss, "; F.conv2d, F.cross_entropy")


def torch_seed(params, x, y):
    return seed._torch_candidate(params, x, y)


def torch_recurrent(model):
    def make(params, xs, ys):
        return recurrent._torch_candidate(model, params, xs, ys)

    return make


# =========================================================================== specs
def _recurrent_spec(model: str, describe: str) -> Spec:
    """The RNN or LSTM of ``recurrent.py``, against its hand-written BPTT."""
    return Spec(
        model,
        describe,
        getattr(recurrent, f"{model}_loss"),
        recurrent_inputs(model),
        getattr(recurrent, f"{model}_bptt"),
        torch_recurrent(model),
        jit_note="; the Python loop is unrolled at trace time",
        tolerances=recurrent.TOLERANCES,
    )


SPECS = [
    Spec(
        "seed-b1",
        "seed MLP of examples/mlp.py, 100 -> 50 -> 10 tanh, log-softmax loss, batch 1",
        seed.neural_net,
        seed_inputs(1),
        seed.hand_value_and_grad,
        torch_seed,
    ),
    Spec(
        "seed-b256",
        "the same at batch 256",
        seed.neural_net,
        seed_inputs(256),
        seed.hand_value_and_grad,
        torch_seed,
    ),
    Spec(
        "mlp",
        "MLP 784 -> 512 -> 512 -> 10, ReLU, softmax cross entropy, batch 128",
        mlp_loss,
        mlp_inputs,
        mlp_hand,
        torch_mlp,
    ),
    _recurrent_spec(
        "rnn", "vanilla RNN, input 64, hidden 128, batch 32, T=50, Python for loop; squared error"
    ),
    _recurrent_spec(
        "lstm", "LSTM, same sizes, gates stacked [i|f|o|g]; softmax cross entropy of the last state"
    ),
    Spec(
        "elementwise",
        f"sum(tanh(x * a) * exp(-x * x) + log1p(x * x)), x of {ELEMENTWISE_N:,} elements",
        elementwise_loss,
        elementwise_inputs,
        elementwise_hand,
        torch_elementwise,
    ),
    Spec(
        "newton",
        f"cube root of {NEWTON_A} by Newton, data-dependent while; scalars (Python float / "
        "np.float32)",
        newton_cbrt,
        newton_inputs,
        newton_hand,
        torch_newton,
    ),
    Spec(
        "cnn",
        "8x8 digits, batch 64, NCHW; 3x3 conv (9 shifted slices, einsum) to 8 channels, ReLU, "
        "linear to 10, softmax cross entropy",
        cnn_loss,
        cnn_inputs,
        cnn_hand,
        torch_cnn,
    ),
]
SPEC_KEYS = [s.key for s in SPECS]


def select(only: str | None, specs: list[Spec] | None = None) -> list[Spec]:
    """The specs of ``specs`` (default :data:`SPECS`) named in ``only`` (comma-separated keys
    or key prefixes: ``seed`` is both seed MLPs); all of them when ``only`` is empty. Raises
    ValueError on an unknown name."""
    specs = SPECS if specs is None else specs
    if not only:
        return list(specs)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    chosen = []
    for w in wanted:
        hits = [s for s in specs if s.key == w] or [s for s in specs if s.key.startswith(w)]
        if not hits:
            known = ", ".join(s.key for s in specs)
            raise ValueError(f"unknown workload {w!r}; known: {known}")
        chosen += [s for s in hits if s not in chosen]
    return [s for s in specs if s in chosen]  # table order


# =========================================================================== checks
def _paths(tree, prefix=""):
    """``{path: leaf}`` of a dict / list / tuple nest (lists and tuples alike)."""
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_paths(v, f"{prefix}[{k!r}]"))
        return out
    if isinstance(tree, (list, tuple)):
        out = {}
        for i, v in enumerate(tree):
            out.update(_paths(v, f"{prefix}[{i}]"))
        return out
    return {prefix: tree}


def check(name, got, ref, want, dtype, workload, tolerances) -> list[str]:
    """Raise CheckError unless ``got`` = (loss, gradient) from ``name`` matches ``want`` from
    ``ref``: np.allclose with rtol and atol = (fraction) * max |reference leaf|, per leaf.
    Returns notes about results whose dtype is not ``dtype``."""
    rtol, atol_frac = tolerances[np.dtype(dtype)]
    have = {"loss": got[0], **{f"d{p}": v for p, v in _paths(got[1]).items()}}
    need = {"loss": want[0], **{f"d{p}": v for p, v in _paths(want[1]).items()}}
    if set(have) != set(need):
        raise CheckError(
            f"{workload}: {name} returns the leaves {sorted(have)}; {ref} {sorted(need)}"
        )
    pairs = [(label, have[label], b) for label, b in need.items()]
    return compare_leaves(
        pairs, name=name, ref=ref, dtype=dtype, workload=workload, rtol=rtol, atol_frac=atol_frac
    )


# =========================================================================== candidates
def _autograd(spec, args):
    autograd = optional_import("autograd", label="HIPS autograd")
    if autograd is None:
        return None
    f = rebind_numpy(spec.loss, optional_import("autograd.numpy"), f"{spec.key}_autograd")
    vg = autograd.value_and_grad(f)
    return Candidate("autograd", lambda: vg(*args))


def _jax(spec, args):
    jax = import_jax()
    if jax is None:
        return None
    f = rebind_numpy(spec.loss, jax.numpy, f"{spec.key}_jax")
    return jax_candidates(jax, f, args, spec.jit_note)


def _torch(spec, args):
    return spec.torch(*args) if spec.torch is not None else None


def _tangent(spec, args):
    tangent = optional_import("tangent", label="tangent (tangent-ad)")
    if tangent is None:
        return None
    with warnings.catch_warnings():  # its generated code says `if 1 is None:`
        warnings.simplefilter("ignore", SyntaxWarning)
        df = tangent.grad(spec.loss, wrt=(0,), preserve_result=True, verbose=0)

    def to_numpy(out):  # preserve_result=True: (gradient, result)
        return out[-1], out[0]

    return Candidate("tangent", lambda: df(*args), to_numpy)


PEERS = (_autograd, _jax, _torch, _tangent)
PEER_NAMES = {
    _autograd: ("autograd",),
    _jax: ("jax", "jax.jit"),
    _torch: ("torch",),
    _tangent: ("tangent",),
}


def _as_list(got):
    if got is None:
        return []
    return got if isinstance(got, list) else [got]


#: the candidate of sourcegrad with ``exact=False`` (values may change by rounding), and the
#: workloads it runs on: those whose default is held back by exact values (``u**3``, the
#: loop's own order of nine ``einsum`` products). Not transformer-helpers: the derivatives of
#: helpers are built with the default options (``gelu``'s ``u**3`` stays a power there)
INEXACT = "sourcegrad exact=False"
INEXACT_KEYS = ("transformer", "cnn")


def make_workload(
    spec: Spec, dtype, *, peers: bool = True, exclude=frozenset(), notes_out=print
) -> Workload:
    """``spec`` at ``dtype``: the hand-written reference, sourcegrad and the installed peers,
    each called once and checked against the reference before anything is timed.

    The hand-written gradient is first checked against sourcegrad's. A candidate that raises
    is left out with a note (the hand-written one may not); so is sourcegrad when it disagrees
    with the hand-written result while a peer (autograd or jax) agrees with it. Any other
    disagreement, or a candidate that changes its inputs, raises :class:`CheckError`. Peers
    named in ``exclude`` are not built (a note says so).
    """
    args = spec.inputs(dtype)
    pristine = copy.deepcopy(args)
    name = f"{spec.key} {np.dtype(dtype).name}"
    tol = spec.tolerances
    skipped: list[str] = []

    def note(msg):
        skipped.append(msg)
        notes_out(f"note: {msg}")

    def unchanged(who):
        now, before = _paths(list(args)), _paths(list(pristine))
        if not all(np.array_equal(now[k], before[k]) for k in before):
            raise CheckError(f"{name}: {who} modified its inputs")

    hand = Candidate(REFERENCE, lambda: spec.hand(*args))
    want = hand.fn()
    unchanged(REFERENCE)

    candidates = [hand]
    try:
        vg = sg.value_and_grad(spec.loss)
        got = vg(*args)
        unchanged("sourcegrad")
        sg_candidate = Candidate("sourcegrad", lambda: vg(*args), held=vg.held_bytes)
    except Exception as exc:  # noqa: BLE001 - reported, and the workload goes on without it
        note(f"{name}: sourcegrad FAILED, left out ({type(exc).__name__}: {exc})")
        sg_candidate, got = None, None

    others = []
    if peers:
        left_out = sorted(set(exclude) & {n for names in PEER_NAMES.values() for n in names})
        if left_out:
            note(f"{name}: {', '.join(left_out)} left out of this run")
        for make in PEERS:
            if set(PEER_NAMES[make]) <= set(exclude):
                continue
            try:
                others += [c for c in _as_list(make(spec, args)) if c.name not in exclude]
            except Exception as exc:  # noqa: BLE001 - a peer that cannot be built is skipped
                label = make.__name__.strip("_")
                note(f"{name}: {label} skipped ({type(exc).__name__}: {str(exc)[:200]})")
    if spec.key in INEXACT_KEYS:  # the same loss under exact=False, checked like a peer
        vgi = sg.value_and_grad(spec.loss, exact=False)
        others.insert(0, Candidate(INEXACT, lambda: vgi(*args), held=vgi.held_bytes))
    results = {}
    for c in others:
        try:
            out = c.fn()
        except Exception as exc:  # noqa: BLE001 - e.g. jax.jit of a data-dependent while
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            note(f"{name}: {c.name} skipped ({type(exc).__name__}: {first})")
            continue
        unchanged(c.name)
        results[c.name] = c.to_numpy(out) if c.to_numpy else out

    notes: list[str] = []
    if sg_candidate is not None:
        try:
            notes += check(REFERENCE, want, "sourcegrad", got, dtype, name, tol)
            notes += check("sourcegrad", got, REFERENCE, want, dtype, name, tol)  # its dtypes
            candidates.append(sg_candidate)
        except CheckError as exc:
            witness = [k for k in ("autograd", "jax") if k in results]
            confirmed = []
            for k in witness:
                try:
                    check(k, results[k], REFERENCE, want, dtype, name, tol)
                    confirmed.append(k)
                except CheckError:
                    pass
            if not confirmed:
                raise
            verb = "agrees" if len(confirmed) == 1 else "agree"
            who = " and ".join(confirmed)
            note(f"sourcegrad WRONG, left out: {exc} ({who} {verb} with {REFERENCE})")
    for c in others:
        if c.name in results:
            notes += check(c.name, results[c.name], REFERENCE, want, dtype, name, tol)
            candidates.append(c)
    return Workload(name, candidates, reference=REFERENCE, notes=skipped + notes)
