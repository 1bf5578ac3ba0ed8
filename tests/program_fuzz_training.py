"""The program fuzzer's family of training loops (``benchmarks/fuzz.py --family training``;
``tests/program_fuzz.py`` draws it only there).

A user makes ``vg = sg.value_and_grad(f)`` once and calls it in a loop in which things change
between calls: the shape-specialised code runs from the second call on, and whatever is kept
from one call to the next (built code keyed on shapes and dtypes, values read from globals,
the identity of the caller's arrays) must follow. A program here is a loss ``f(params, x, y,
*, wd, train)`` whose body the default or the objects generator writes (or a recurrent cell
over a sequence of varying length), with a tail reading a global array ``SHIFT``, a global
dict ``CFG`` (a flag and a gain) and the keyword arguments ``wd`` (a hyperparameter) and
``train`` (a flag), and a schedule of steps. Each step may, before its call: change the batch
size (the last batch smaller), the sequence length, the dtype (float32 and back, of the data or
of the parameters too), the kind of ``wd`` (a Python float, a 0-d array, an ``np.float64``),
``SHIFT`` in place or rebound, ``CFG`` in place, ``train``, and grow a list of layers by one;
it calls one of the derivatives made once for the program (``value_and_grad``, ``grad``,
``grad`` with respect to ``x`` or ``(0, 1)``, ``hvp``, ``jvp``) on the caller's own objects,
and checks the value against Python's, the derivative against central differences of the
float64 twin of the arguments (``hvp``: differences of a fresh ``value_and_grad``), and the
caller's arguments against what Python's own call left of a copy of them. After the call the
parameters are updated in place (``p -= lr * g``, ``np.copyto``, ``p[...] = ``, an object's
field) or rebuilt (new containers, ``dataclasses.replace``):
``tests/program_fuzz_training_params.py``.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import sourcegrad as sg
from tests import program_fuzz as pf
from tests import program_fuzz_training_params as tp

OPS = ("vg", "grad", "grad_x", "grad_both", "hvp", "jvp", "vg_stable")
OP_WEIGHTS = (4, 2, 1, 1, 1.5, 1.5, 1)
GRADS = ("vg", "grad", "grad_x", "grad_both", "vg_stable")
UPDATES = ("sub", "copyto", "slice", "rebuild", "reordered", "optim", "random")
WD_KINDS = ("float", "array0d", "np64", "omitted")
LAYOUTS = ("c", "c", "strided", "fortran")
CALLS = ("positional", "positional", "y_keyword", "keywords")
F32_VALUE_RTOL = 2e-5
F32_RTOL, F32_ATOL = 2e-3, 5e-4


@dataclass
class TrainingProgram(pf.Program):
    """A loss and the schedule of the steps that call its derivatives (see the module)."""

    steps: list = field(default_factory=list)
    base: str = ""

    def with_source(self, source: str) -> TrainingProgram:
        return dataclasses.replace(self, source=source, knobs=list(self.knobs))


# ------------------------------------------------------------------------------- generator

SEQ_CELL = """@dataclass
class Cell:
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    Wo: np.ndarray
"""


def _seq_program(seed: int, r: random.Random) -> pf.Program:
    """A recurrent cell over ``x`` of shape ``(T, d)`` (``T`` changes between steps) with its
    weights in a dict or a dataclass, the loop written three ways."""
    rng = np.random.default_rng(seed)
    d, hid, k = r.randint(2, 3), r.randint(2, 4), r.randint(2, 3)
    ws = {
        "Wx": rng.normal(0, 0.6, (d, hid)),
        "Wh": rng.normal(0, 0.4, (hid, hid)),
        "b": rng.normal(0, 0.3, hid),
        "Wo": rng.normal(0, 0.6, (hid, k)),
    }
    preamble = []
    if r.random() < 0.5:
        params, get = dict(ws), (lambda n: f'params["{n}"]')
        holder = "dict"
    else:
        preamble = ["from dataclasses import dataclass", "", "", SEQ_CELL]
        params, get = pf.DC("Cell", dict(ws)), (lambda n: f"params.{n}")
        holder = "cell"
    step = f"np.tanh({{xt}} @ {get('Wx')} + h @ {get('Wh')} + {get('b')})"
    loop = r.choice(["range", "iter", "while", "mean"])
    body = [f"h = np.zeros({get('b')}.shape[0])"]
    if loop == "range":
        body += ["for t in range(x.shape[0]):", "    h = " + step.format(xt="x[t]")]
    elif loop == "iter":
        body += ["for xt in x:", "    h = " + step.format(xt="xt")]
    elif loop == "while":
        body += ["t = 0", "while t < len(x):", "    h = " + step.format(xt="x[t]"), "    t += 1"]
    else:
        body += ["hs = []", "for xt in x:", "    h = " + step.format(xt="xt"), "    hs.append(h)"]
        body += ["h = sum(hs) / len(hs)"]
    body += [f"h = h @ {get('Wo')}", "return np.mean((h - y) ** 2)"]
    source = "\n".join(["import numpy as np", *preamble, "", "", "def f(params, x, y):"])
    source += "\n" + "\n".join("    " + line for line in body) + "\n"
    x = rng.uniform(-1, 1, (r.randint(2, 4), d))
    y = rng.uniform(-1, 1, k)
    return pf.Program(seed, source, params, x, y, {}, 0, False, None, [f"seq:{holder}:{loop}"])


def _base_program(seed: int, r: random.Random) -> tuple[str, pf.Program]:
    base = r.choice(["default", "objects", "objects", "seq"])
    if base == "seq":
        return base, _seq_program(seed, r)
    old = pf.FAMILY
    pf.FAMILY = None if base == "default" else "objects"
    try:
        return base, pf.generate(seed)
    finally:
        pf.FAMILY = old


def _with_tail(source: str, r: random.Random, width: int) -> tuple[str, list[str]]:
    """``source`` with the globals ``SHIFT`` and ``CFG`` before ``f``, the keyword arguments
    ``wd`` and ``train`` added to ``f`` and a drawn tail before its last ``return``."""
    tail_knobs = [k for k in ("shift", "cfg", "train", "reps", "temp") if r.random() < 0.5]
    shift = np.round(np.random.default_rng(r.randrange(1 << 30)).uniform(-0.5, 0.5, width), 3)
    globals_ = (
        f"SHIFT = np.array({shift.tolist()!r})\nCFG = {{'flag': True, 'gain': 1.1}}\n"
        "REPS = 1\nTEMP = 1.0\n\n\n"
    )
    head, _, rest = source.rpartition("\ndef f(")
    sig, _, body = rest.partition("):\n")
    sig += ", wd=0.01, train=True" if "*" in sig else ", *, wd=0.01, train=True"
    lines = body.rstrip("\n").split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("    return "))
    tail = []
    if "shift" in tail_knobs:
        tail.append("h = h + SHIFT")
    if "cfg" in tail_knobs:
        tail += ['if CFG["flag"]:', '    h = h * CFG["gain"]']
    if "train" in tail_knobs:
        tail += ["if train:", "    h = 0.9 * h + 0.1 * np.tanh(h)"]
    if "reps" in tail_knobs:
        tail += ["for _ in range(REPS):", "    h = 0.8 * h + 0.1 * np.sin(h)"]
    if "temp" in tail_knobs:
        tail.append("h = h / TEMP")
    lines[last:last] = ["    " + t for t in tail]
    lines[-1] += " + wd * np.sum(h * h)"
    out = f"{head}\n{globals_}def f({sig}):\n" + "\n".join(lines) + "\n"
    return out, ["tail:" + k for k in tail_knobs]


def _schedule(r: random.Random, prog: pf.Program, base: str, knobs: list[str]) -> list[dict]:
    n = r.randint(4, 7)
    f32 = sorted(r.sample(range(1, n), 2)) if r.random() < 0.3 else None
    params32 = r.random() < 0.5
    growable = isinstance(prog.params, list) and r.random() < 0.5
    grow_at = r.randrange(1, n) if growable else None
    wd_vary = r.random() < 0.6
    updates = [r.choice(UPDATES)] if r.random() < 0.5 else list(UPDATES)
    batch0 = prog.x.shape[0] if base != "seq" and prog.x.ndim == 2 else None
    steps = []
    for k in range(n):
        s = {"op": r.choices(OPS, OP_WEIGHTS)[0], "dtype": "float64", "params32": False}
        if f32 and f32[0] <= k < f32[1]:
            s["dtype"], s["params32"] = "float32", params32
        if base == "seq":
            s["seq"] = r.randint(1, 6)
        elif batch0 is not None:
            s["batch"] = batch0 if k < n - 1 and r.random() < 0.6 else r.randint(0, batch0)
        s["wd_kind"] = r.choice(WD_KINDS) if wd_vary else "float"
        s["wd"] = round(0.01 * (1 + 0.3 * k), 4)
        if k:
            s["shift"] = r.choice([None, "inplace", "rebind"]) if "tail:shift" in knobs else None
            s["cfg"] = r.choice([None, "gain", "flag"]) if "tail:cfg" in knobs else None
            s["reps"] = r.choice([None, 0, 2]) if "tail:reps" in knobs else None
            s["temp"] = r.choice([None, 0.8, 1.3]) if "tail:temp" in knobs else None
            s["objects"] = r.choice([None, None, "scale", "act", "shift", "steps", "setting"])
            s["remake"] = r.random() < 0.2
        s["train"] = "tail:train" not in knobs or r.random() < 0.6
        s["grow"] = k == grow_at
        s["update"] = r.choice(updates)
        s["layout"] = r.choice(LAYOUTS)
        s["call"] = r.choice(CALLS) if s["op"] in GRADS else ""
        s["y_int"] = s["dtype"] == "float64" and r.random() < 0.15
        steps.append(s)
    return steps


def generate(seed: int) -> TrainingProgram:
    """The training program of ``seed`` (deterministic)."""
    r = random.Random(seed * 7919 + 17)
    base, prog = _base_program(seed, r)
    source, tail = _with_tail(prog.source, r, prog.y.shape[-1])
    knobs = [f"base:{base}", *prog.knobs, *tail]
    steps = _schedule(r, prog, base, knobs)
    knobs += sorted({f"op:{s['op']}" for s in steps})
    knobs += ["float32"] * any(s["dtype"] == "float32" for s in steps)
    knobs += ["grow"] * any(s["grow"] for s in steps)
    knobs += sorted({f"update:{s['update']}" for s in steps})
    return TrainingProgram(
        seed,
        source,
        prog.params,
        prog.x,
        prog.y,
        dict(prog.kwargs),
        0,
        False,
        None,
        knobs,
        steps=steps,
        base=base,
    )


# ------------------------------------------------------------------------------- checking


def _keywords(st, s) -> dict:
    """The step's keyword arguments (``wd`` left to its default where omitted)."""
    kw = {**st.kwargs, "train": s["train"]}
    if s["wd_kind"] != "omitted":
        kw["wd"] = {"float": float, "array0d": np.array, "np64": np.float64}[s["wd_kind"]](s["wd"])
    return kw


def _called(d, s, args, extra, kw):
    """``d`` called the step's way: ``y`` or every argument by keyword, or positionally."""
    if s["call"] == "y_keyword":
        return d(*args[:2], y=args[2], **kw)
    if s["call"] == "keywords":
        return d(params=args[0], x=args[1], y=args[2], **kw)
    return d(*args, *extra, **kw)


def _data(prog, s, k, shape):
    """The step's ``x`` and ``y`` (a batch or a sequence of the step's size) in its dtype."""
    rng = np.random.default_rng([prog.seed, k])
    xs, ys = prog.x.shape, prog.y.shape
    if "seq" in s:
        xs = (s["seq"], *xs[1:])
    elif "batch" in s and shape == 0:  # one example, no batch axis
        xs, ys = xs[1:], ys[1:]
    elif "batch" in s and shape:
        xs, ys = (shape, *xs[1:]), (shape, *ys[1:])
    x = np.round(rng.uniform(-1, 1, xs), 3).astype(s["dtype"])
    y = np.round(rng.uniform(-1, 1, ys), 3).astype(s["dtype"])
    if s.get("y_int"):
        y = rng.integers(-1, 2, ys)
    if s.get("layout") == "strided":  # a batch sliced out of a bigger array
        big = np.zeros((2 * xs[0], *xs[1:]), dtype=x.dtype)
        big[::2] = x
        x = big[::2]
    elif s.get("layout") == "fortran":
        x = np.asfortranarray(x)
    return x, y


class _Step:
    """The state of a program's loop: its module, the caller's parameters, the derivatives."""

    def __init__(self, prog, module):
        self.prog, self.module, self.f = prog, module, module.f
        self.params = pf.realize(prog.params, module)
        self.kwargs = {
            k: pf.realize(v, module) if isinstance(v, pf.DC) else v for k, v in prog.kwargs.items()
        }
        self.made = {}
        self.optimizer = None
        self.rng = np.random.default_rng(prog.seed + 1)

    def derivative(self, op):
        if op not in self.made:
            make = {
                "vg": lambda f: sg.value_and_grad(f),
                "grad": lambda f: sg.grad(f),
                "grad_x": lambda f: sg.grad(f, 1),
                "grad_both": lambda f: sg.grad(f, (0, 1)),
                "hvp": sg.hvp,
                "jvp": sg.jvp,
                "vg_stable": lambda f: sg.value_and_grad(f, stable_gradients=True),
            }[op]
            self.made[op] = make(self.f)
        return self.made[op]

    def change_globals(self, s):
        m = self.module
        if s.get("shift") == "inplace":
            m.SHIFT *= -0.8
        elif s.get("shift") == "rebind":
            m.SHIFT = np.flip(m.SHIFT) + 0.1
        if s.get("cfg") == "gain":
            m.CFG["gain"] = round(m.CFG["gain"] * 0.9 + 0.05, 4)
        elif s.get("cfg") == "flag":
            m.CFG["flag"] = not m.CFG["flag"]
        if s.get("reps") is not None:
            m.REPS = s["reps"]
        if s.get("temp") is not None:
            m.TEMP = s["temp"]
        tp.change_objects(s.get("objects"), self.kwargs.get("cfg"), self.params)
        if s.get("remake"):
            self.made.pop(s["op"], None)

    def python(self, args, kw):
        a = copy.deepcopy(args)
        return float(self.f(*a, **kw)), a


def _fd(st, args, kw, wrt, eps):
    """Central differences of ``f`` over the arguments ``wrt`` (a tuple) at ``args``."""
    like = tuple(args[i] for i in wrt)

    def value_at(tree):
        a = list(copy.deepcopy(args))
        for i, t in zip(wrt, tree):
            a[i] = t
        return float(st.f(*a, **kw))

    return pf._fd_gradient(value_at, like, eps), value_at


def _twin(args):
    """The arguments with every array leaf in float64 (the same values)."""
    return tuple(tp.cast(a, np.float64) for a in args)


def check_program(prog: TrainingProgram, directory) -> pf.Result:
    try:
        module = pf.load(directory, prog.source)
        st = _Step(prog, module)
    except Exception as exc:  # noqa: BLE001 - a generator (or shrinker) bug
        return pf.Result(prog.seed, "invalid_program", "import", repr(exc), "import")
    try:
        for k, s in enumerate(prog.steps):
            r = _run_step(st, k, s)
            if r is not None:
                return r
    finally:
        sys.modules.pop(module.__name__, None)
    return pf.Result(prog.seed, "ok")


def _prepare(st, k, s):
    """Apply the step's changes before its call; returns (args, kwargs) or a Result."""
    st.change_globals(s)
    dtype = np.float32 if s["params32"] else np.float64
    if any(isinstance(v, np.ndarray) and v.dtype != dtype for v in pf.leaves(st.params)):
        st.params = tp.cast(st.params, dtype)
    grown = None
    if s["grow"] and isinstance(st.params, list) and st.params:
        grown = tp.grown(st.params[-1], st.rng)
        if grown is not None:
            st.params.append(grown)
    kw = _keywords(st, s)
    err = None
    plain = {**s, "y_int": False}
    for shape, drawn in ((s.get("batch"), s), (None, plain)):  # (then the first step's shapes)
        x, y = _data(st.prog, drawn, k, shape)
        try:
            ref, _ = st.python((st.params, x, y), kw)
            if np.isfinite(ref):
                st.data, st.keywords = (x, y), kw
                return (st.params, x, y), kw
        except Exception as exc:  # noqa: BLE001 - this batch size or layer does not fit f
            err = exc
        if grown is not None:
            st.params.pop()
            grown = None
    if k == 0:
        return pf.Result(st.prog.seed, "invalid_program", "f", repr(err), "f")
    return pf.Result(st.prog.seed, "invalid_program", f"step {k}", repr(err), "step")


def _run_step(st, k, s) -> pf.Result | None:
    try:
        prepared = _prepare(st, k, s)
    except Exception as exc:  # noqa: BLE001 - a global or field the shrinker removed
        return pf.Result(st.prog.seed, "invalid_program", f"step {k}", repr(exc), "step")
    if isinstance(prepared, pf.Result):
        return prepared
    args, kw = prepared
    phase = f"step {k} {s['op']}" + (" float32" if s["dtype"] == "float32" else "")
    seed = st.prog.seed
    ref, after_py = st.python(args, kw)
    before = copy.deepcopy(args)
    op = s["op"]
    extra = ()
    if op in ("hvp", "jvp"):
        extra = (pf.from_vector(args[0], st.rng.normal(size=pf.to_vector(args[0]).size)),)
    try:
        out = _called(st.derivative(op), s, args, extra, kw)
    except pf.FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001
        return pf._exception_result(seed, exc, phase)
    changed = pf.arguments_differ(args, after_py, before)
    if changed:
        return pf.Result(seed, "mutated_input", phase, changed, changed)
    f32 = s["dtype"] == "float32" or s["params32"]
    r = _check_output(st, s, before, kw, ref, out, extra, f32, phase)
    if r is not None:
        return r
    grad = out[1] if op in ("vg", "vg_stable") else out[0] if op == "grad_both" else out
    if op in ("grad_x", "hvp", "jvp") or s["update"] == "random":
        grad = pf.from_vector(args[0], st.rng.normal(0, 0.3, size=pf.to_vector(args[0]).size))
    st.params = tp.updated(st, grad, s["update"])
    return None


def _check_output(st, s, args, kw, ref, out, extra, f32, phase):
    seed, op = st.prog.seed, s["op"]
    value = out[0] if op in ("vg", "vg_stable", "jvp") else None
    if value is not None:
        tol = F32_VALUE_RTOL if f32 else pf.VALUE_RTOL
        try:
            bad = not abs(float(value) - ref) <= tol * max(1.0, abs(ref))
        except (TypeError, ValueError):
            bad = True
        if bad:
            detail = f"value {value!r}, f gives {ref!r}"
            return pf.Result(seed, "wrong_value", phase, detail, f"wrong value ({op})")
    rtol, atol = (F32_RTOL, F32_ATOL) if f32 else (pf.FD_RTOL, pf.FD_ATOL)
    twin = _twin(args)
    if op == "hvp":
        return _check_hvp(st, twin, kw, out, extra[0], f32, phase)
    if op == "jvp":
        t = extra[0]
        _, value_at = _fd(st, twin, kw, (0,), pf.FD_EPS)
        x0 = pf.to_vector(twin[0])
        dv = pf.to_vector(t)
        exp = [
            (
                value_at((pf.from_vector(twin[0], x0 + e * dv),))
                - value_at((pf.from_vector(twin[0], x0 - e * dv),))
            )
            / (2 * e)
            for e in (pf.FD_EPS, 10 * pf.FD_EPS)
        ]
        if pf._close(float(out[1]), exp[0], rtol, atol):
            return None
        if not pf._close(exp[0], exp[1], 1e-3, 1e-5):
            return pf.Result(seed, "near_boundary", phase, "finite differences disagree")
        detail = f"jvp {out[1]!r} vs finite differences {exp[0]!r}"
        return pf.Result(seed, "wrong_gradient", phase, detail, "wrong jvp")
    wrt = {"grad_x": (1,), "grad_both": (0, 1)}.get(op, (0,))
    grad = out[1] if op in ("vg", "vg_stable") else out
    got = grad if op == "grad_both" else (grad,)
    like = tuple(args[i] for i in wrt)
    mismatch = pf.structure_mismatch(got, like) or _dtype_mismatch(got, like)
    if mismatch:
        return pf.Result(seed, "wrong_gradient", phase, mismatch, f"gradient structure ({op})")
    expected, _ = _fd(st, twin, kw, wrt, pf.FD_EPS)
    vec = pf.to_vector(got)
    if np.all(np.isfinite(vec)) and pf._close(vec, expected, rtol, atol):
        return None
    coarse, _ = _fd(st, twin, kw, wrt, 10 * pf.FD_EPS)
    if not pf._close(expected, coarse, 1e-3, 1e-5):
        return pf.Result(seed, "near_boundary", phase, "finite differences disagree")
    bad = np.flatnonzero(~np.isclose(vec, expected, rtol=rtol, atol=atol))
    detail = (
        f"gradient differs at {bad.size} of {vec.size} entries, e.g. [{bad[0]}] sourcegrad "
        f"{vec[bad[0]]!r} vs finite differences {expected[bad[0]]!r}"
    )
    return pf.Result(seed, "wrong_gradient", phase, detail, f"wrong gradient ({op})")


def _dtype_mismatch(got, like) -> str | None:
    """Where a floating array leaf of the gradient ``got`` is not of its argument's dtype."""
    for i, (g, a) in enumerate(zip(pf.leaves(got), pf.leaves(like))):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and g.dtype != a.dtype:
            return f"leaf {i}: gradient of dtype {g.dtype} for an argument of {a.dtype}"
    return None


def _check_hvp(st, twin, kw, hv, v, f32, phase):
    seed = st.prog.seed
    mismatch = pf.structure_mismatch(hv, twin[0])
    if mismatch:
        return pf.Result(seed, "wrong_hvp", phase, mismatch, "hvp structure")
    g = sg.value_and_grad(st.f)
    x0, dv = pf.to_vector(twin[0]), pf.to_vector(v)

    def grad_along(eps):
        out = []
        for e in (eps, -eps):
            a = list(copy.deepcopy(twin))
            a[0] = pf.from_vector(twin[0], x0 + e * dv)
            out.append(pf.to_vector(g(*a, **kw)[1]))
        return (out[0] - out[1]) / (2 * eps)

    try:
        fine = grad_along(pf.HVP_EPS)
    except pf.FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - hvp made where the gradient is refused
        detail = f"the gradient near the point raises {type(exc).__name__}: {exc}"[:2000]
        return pf.Result(seed, "wrong_hvp", phase, detail, "hvp where the gradient raises")
    got = pf.to_vector(hv)
    rtol, atol = (1e-2, 1e-3) if f32 else (pf.HVP_RTOL, pf.HVP_ATOL)
    if np.all(np.isfinite(got)) and pf._close(got, fine, rtol, atol):
        return None
    if not pf._close(fine, grad_along(10 * pf.HVP_EPS), 1e-2, 1e-4):
        return pf.Result(seed, "near_boundary", phase, "gradient differences disagree")
    bad = np.flatnonzero(~np.isclose(got, fine, rtol=rtol, atol=atol))
    detail = (
        f"hvp differs at {bad.size} of {got.size} entries, e.g. [{bad[0]}] sourcegrad "
        f"{got[bad[0]]!r} vs differences of the gradient {fine[bad[0]]!r}"
    )
    return pf.Result(seed, "wrong_hvp", phase, detail, "wrong hvp")


# ---------------------------------------------------------------------------- reproducers


def repro_text(prog: TrainingProgram, result: pf.Result) -> str:
    """A standalone script: the (shrunk) program, checked with the schedule of its seed."""
    lines = [
        f"# sourcegrad fuzz reproducer (training family): program seed {prog.seed}",
        f"# {result.category} ({result.phase}): {result.cause}",
        *[f"#   {line}" for line in result.detail.split("\n")[:6]],
        *[f"#   step {k}: {s}" for k, s in enumerate(prog.steps)],
        prog.source.rstrip("\n"),
        "",
        "",
        'if __name__ == "__main__":',
        "    import sys",
        f"    sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})",
        "    from tests.program_fuzz_training import check_source_file",
        f"    print(check_source_file(__file__, {prog.seed}))",
    ]
    return "\n".join(lines) + "\n"


def check_source_file(path, seed: int) -> pf.Result:
    """Re-run the steps of ``seed``'s program on the source of a reproducer."""
    import tempfile

    text = Path(path).read_text().split('\n\nif __name__ == "__main__":')[0]
    prog = generate(seed).with_source(text + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        return check_program(prog, tmp)
