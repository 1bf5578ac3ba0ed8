"""Differential testing with random programs: sourcegrad against central finite differences.

A hypothesis strategy builds small random programs over a fixed set of variables: straight-line
code, ``if``/``else`` on data-dependent conditions and on an integer argument, ``for`` loops
over ``range`` (constant or argument trip counts, zero included) and over an array's elements,
``while`` loops with a data-dependent condition and an iteration bound, subscript reads
(``v[0]``, ``v[1:]``, ``v[::-1]``) and reductions. Every operation keeps values in [-3, 3], so
that nothing overflows and finite differences stay accurate.

Each program is written as source text to a fresh module in a temporary directory and imported
with importlib, so that sourcegrad can read its source. A second, instrumented copy of the same
program records every data-dependent decision (its outcome and its distance to the boundary);
the finite differences are taken through the instrumented copy, and a program is only compared
when every perturbed evaluation took exactly the decisions of the unperturbed one and every
condition was at least ``MIN_MARGIN`` away from its threshold. Such programs are counted as
"near a boundary" and skipped, not compared.

Both the specialised derivative and ``df.generic`` are compared, and every program that
disagrees or crashes inside sourcegrad is counted (none may); the counts are printed (run with
``-s``), the shortest failing programs too. A second test adds constructs sourcegrad learned
later (break/continue, early return, ``v[k] = ...``, ``list.append``).

By default the programs come from a fixed seed (``derandomize``), so the suite is reproducible;
``SOURCEGRAD_RANDOM_PROGRAMS=N`` runs N programs per test with a fresh random seed instead.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sourcegrad as sg

ENV_EXAMPLES = os.environ.get("SOURCEGRAD_RANDOM_PROGRAMS")
MAX_EXAMPLES = int(ENV_EXAMPLES) if ENV_EXAMPLES else 100
MIN_RAN = 80 if not ENV_EXAMPLES else MAX_EXAMPLES // 2
MAX_EXAMPLES_EXTENDED = int(ENV_EXAMPLES) if ENV_EXAMPLES else 30
EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-6
MIN_MARGIN = 1e-3

N = 4  # length of every array variable
ARRAYS = ("v0", "v1", "v2")
SCALARS = ("s0", "s1")

# ------------------------------------------------------------------------- program model


@dataclass
class Cond:
    """``lhs > threshold``: a data-dependent condition, rendered plain or instrumented."""

    lhs: str
    threshold: float

    def render(self, instrumented: bool) -> str:
        if instrumented:
            return f"_gt({self.lhs}, {self.threshold!r})"
        return f"{self.lhs} > {self.threshold!r}"


@dataclass
class Line:
    indent: int
    parts: list = field(default_factory=list)  # str and Cond

    def render(self, instrumented: bool) -> str:
        text = "".join(p if isinstance(p, str) else p.render(instrumented) for p in self.parts)
        return "    " * self.indent + text


@dataclass
class Program:
    lines: list
    wrt: object
    x: np.ndarray
    y: np.ndarray
    s: float
    m: int

    def source(self, instrumented: bool) -> str:
        head = ["import numpy as np", ""]
        if instrumented:
            head += [
                "TRACE = []",
                "",
                "",
                "def _gt(lhs, threshold):",
                "    TRACE.append((bool(lhs > threshold), abs(float(lhs) - threshold)))",
                "    return lhs > threshold",
                "",
            ]
        head += ["", "def f(x, y, s, m):"]
        return "\n".join(head + [ln.render(instrumented) for ln in self.lines]) + "\n"

    @property
    def args(self):
        return (self.x.copy(), self.y.copy(), self.s, self.m)


# ------------------------------------------------------------------------------ strategy

# every operation maps values in [-3, 3] to values in [-3, 3]
ARRAY_OPS = [
    "np.tanh({a})",
    "np.sin({a})",
    "np.cos({a})",
    "{a} * np.tanh({b})",
    "{a} * np.cos({b})",
    "0.5 * ({a} + {b})",
    "0.5 * ({a} - {b})",
    "0.25 * {a} * {b}",
    "0.25 * {a} * {a}",
    "np.exp(np.sin({a}))",
    "np.exp(-0.5 * {a} * {a})",
    "0.5 * {a}",
    "{a} * np.tanh({s})",
    "0.5 * ({a} + {s})",
    "{a}[::-1] * np.cos({b})",
    "np.tanh({a} * {b} + {s})",
    "{a} * np.sin({s} * {b})",
]
SCALAR_OPS = [
    "0.25 * np.sum({a})",
    "np.mean({a})",
    "{a}[{k}]",
    "{a}[{k}] * np.tanh({s})",
    "np.tanh(np.sum({a} * {b}))",
    "0.5 * ({s} + {t})",
    "np.sin({s})",
    "{s} * np.cos({t})",
    "0.3 * np.mean({a}[1:] * {b}[:-1])",
    "np.mean({a}[:2])",
    "0.25 * {s} * {t}",
    "np.exp(np.sin({s}))",
]
COND_LHS = [
    "np.sum({a})",
    "np.mean({a})",
    "{a}[{k}]",
    "{s}",
    "np.sum({a}[1:] * {b}[:-1])",
    "np.mean(np.sin({a}))",
]
# statements that use a loop variable: keep bounded whatever its value
INDEX_OPS = ["{a} * np.cos({b} + {i})", "np.sin({a} + 0.5 * {i})"]
ELEMENT_OPS = [  # in `for e in v`: e is a scalar
    ("s", "0.5 * ({t} + np.sin({e}))"),
    ("s", "{t} * np.cos({e})"),
    ("v", "{a} * np.tanh({e})"),
    ("v", "0.5 * ({a} + {e})"),
]

threshold = st.integers(-100, 100).map(lambda k: k / 100.0)


@st.composite
def fill(draw, template, **fixed):
    values = dict(fixed)
    for key in ("a", "b"):
        values.setdefault(key, draw(st.sampled_from(ARRAYS)))
    for key in ("s", "t"):
        values.setdefault(key, draw(st.sampled_from(SCALARS)))
    values.setdefault("k", draw(st.integers(0, N - 1)))
    return template.format(**values)


@dataclass(frozen=True)
class Ctx:
    """Where a block is generated."""

    depth: int = 0
    loop_vars: tuple = ()  # names of enclosing `for i in range(..)` variables
    in_loop: bool = False
    extended: bool = False  # also break/continue/early return/x[k] = v/list.append
    result: str = ""  # the final return expression (for early returns)
    # arrays the program writes into (v[k] = ..) and arrays it iterates over (for e in v),
    # shared by all blocks of one program: an array is never both (sourcegrad refuses that,
    # even where Python's semantics agree with its own, see min_write_then_iterate)
    usage: dict = field(default_factory=lambda: {"written": set(), "iterated": set()})

    def inner(self, **changes):
        return Ctx(**{**self.__dict__, "depth": self.depth + 1, **changes})


def cond(draw):
    return Cond(draw(fill(draw(st.sampled_from(COND_LHS)))), draw(threshold))


@st.composite
def block(draw, indent, ctx, counter):
    """A list of Lines; ``counter`` hands out fresh names for loop variables."""
    lines = []
    n = draw(st.integers(1, 3))
    for _ in range(n):
        kinds = ["array", "array", "scalar", "scalar"]
        if ctx.loop_vars:
            kinds.append("index")
        if ctx.depth < 2:
            kinds += ["if_data", "if_arg", "for_range", "for_arg", "for_elems", "while"]
        if ctx.extended:
            kinds += ["set_item", "append"]
            if ctx.depth > 0:
                kinds.append("return")
            if ctx.in_loop:
                kinds += ["break", "continue"]
        kind = draw(st.sampled_from(kinds))
        pad = indent
        if kind == "array":
            target = draw(st.sampled_from(ARRAYS))
            lines.append(Line(pad, [f"{target} = " + draw(fill(draw(st.sampled_from(ARRAY_OPS))))]))
        elif kind == "scalar":
            target = draw(st.sampled_from(SCALARS))
            expr = draw(fill(draw(st.sampled_from(SCALAR_OPS))))
            lines.append(Line(pad, [f"{target} = {expr}"]))
        elif kind == "index":
            target = draw(st.sampled_from(ARRAYS))
            i = draw(st.sampled_from(ctx.loop_vars))
            expr = draw(fill(draw(st.sampled_from(INDEX_OPS)), i=i))
            lines.append(Line(pad, [f"{target} = {expr}"]))
        elif kind in ("if_data", "if_arg"):
            if kind == "if_data":
                test = cond(draw)
            else:
                test = draw(st.sampled_from(["m > 0", "m == 1", "m < 2"]))
            lines.append(Line(pad, ["if ", test, ":"]))
            lines += draw(block(indent + 1, ctx.inner(), counter))
            if draw(st.booleans()):
                lines.append(Line(pad, ["else:"]))
                lines += draw(block(indent + 1, ctx.inner(), counter))
        elif kind in ("for_range", "for_arg"):
            i = f"i{next(counter)}"
            trip = str(draw(st.integers(0, 3))) if kind == "for_range" else "m"
            lines.append(Line(pad, [f"for {i} in range({trip}):"]))
            inner = ctx.inner(loop_vars=ctx.loop_vars + (i,), in_loop=True)
            lines += draw(block(indent + 1, inner, counter))
        elif kind == "for_elems":
            e = f"e{next(counter)}"
            seq = draw(st.sampled_from([a for a in ARRAYS if a not in ctx.usage["written"]]))
            ctx.usage["iterated"].add(seq)
            lines.append(Line(pad, [f"for {e} in {seq}:"]))
            # the body may rebind `seq`; the loop still runs over the array it started with
            what, template = draw(st.sampled_from(ELEMENT_OPS))
            target = draw(st.sampled_from(SCALARS if what == "s" else ARRAYS))
            expr = draw(fill(template, e=e, t=target, a=target))
            lines.append(Line(pad + 1, [f"{target} = {expr}"]))
            if draw(st.booleans()):
                inner = ctx.inner(in_loop=True)
                lines += draw(block(indent + 1, inner, counter))
        elif kind == "while":
            k = f"k{next(counter)}"
            bound = draw(st.integers(1, 4))
            lines.append(Line(pad, [f"{k} = 0"]))
            lines.append(Line(pad, ["while ", cond(draw), f" and {k} < {bound}:"]))
            lines.append(Line(pad + 1, [f"{k} = {k} + 1"]))  # first, so that `continue` is safe
            lines += draw(block(indent + 1, ctx.inner(in_loop=True), counter))
        elif kind == "set_item":
            allowed = [a for a in ARRAYS if a not in ctx.usage["iterated"]]
            if len(ctx.usage["written"]) + len(ctx.usage["iterated"]) == len(ARRAYS) - 1:
                allowed = [a for a in allowed if a in ctx.usage["written"]]  # keep one iterable
            if not allowed:  # no array may be written into: assign a whole one instead
                target = draw(st.sampled_from(ARRAYS))
                expr = draw(fill(draw(st.sampled_from(ARRAY_OPS))))
                lines.append(Line(pad, [f"{target} = {expr}"]))
                continue
            target = draw(st.sampled_from(allowed))
            ctx.usage["written"].add(target)
            if draw(st.booleans()):
                k = draw(st.integers(0, N - 1))
                expr = draw(fill(draw(st.sampled_from(SCALAR_OPS))))
                lines.append(Line(pad, [f"{target}[{k}] = {expr}"]))
            else:
                sl = draw(st.sampled_from(["1:", ":2", "::2"]))
                source = draw(st.sampled_from(ARRAYS))
                fn = draw(st.sampled_from(["np.sin", "np.tanh", "0.5 *"]))
                lines.append(Line(pad, [f"{target}[{sl}] = {fn}({source}[{sl}])"]))
        elif kind == "append":
            expr = draw(fill(draw(st.sampled_from(ARRAY_OPS))))
            lines.append(Line(pad, [f"hs.append({expr})"]))
        elif kind in ("break", "continue", "return"):
            lines.append(Line(pad, ["if ", cond(draw), ":"]))
            jump = f"return {ctx.result}" if kind == "return" else kind
            lines.append(Line(pad + 1, [jump]))
    return lines


@st.composite
def programs(draw, extended=False):
    counter = itertools.count()
    lines = [
        Line(1, ["v0 = x"]),
        Line(1, ["v1 = y"]),
        Line(1, ["v2 = x * np.tanh(y)"]),
        Line(1, ["s0 = s"]),
        Line(1, ["s1 = np.mean(x * y)"]),
    ]
    weights = [draw(st.integers(-3, 3).filter(bool)) * 0.5 for _ in range(5)]
    terms = [f"np.sum({w!r} * {v})" for w, v in zip(weights, ARRAYS)]
    terms += [f"{w!r} * {v}" for w, v in zip(weights[3:], SCALARS)]
    if extended:
        lines.append(Line(1, ["hs = [x * 0.0]"]))
        terms.append("0.5 * np.sum(np.tanh(np.stack(hs)))")
    result = " + ".join(terms)
    lines += draw(block(1, Ctx(extended=extended, result=result), counter))
    lines.append(Line(1, ["return " + result]))
    floats = st.floats(-1.5, 1.5, allow_nan=False).filter(lambda v: abs(v) > 0.05)
    x = np.array(draw(st.lists(floats, min_size=N, max_size=N)))
    y = np.array(draw(st.lists(floats, min_size=N, max_size=N)))
    s = draw(floats)
    m = draw(st.integers(0, 2))
    wrt = draw(st.sampled_from([0, 1, 2, (0, 1), (0, 1, 2), (2, 0)]))
    return Program(lines, wrt, x, y, s, m)


# ----------------------------------------------------------------------------- checking

_modules = itertools.count()


def load(directory: Path, source: str):
    name = f"sg_random_program_{os.getpid()}_{next(_modules)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def decisions(module, args):
    module.TRACE.clear()
    value = float(module.f(*copy.deepcopy(args)))
    trace = list(module.TRACE)
    return value, [t[0] for t in trace], min((t[1] for t in trace), default=np.inf)


def finite_differences(module, args, i):
    """Central differences of the instrumented program, or None when a decision changes."""
    _, base, margin = decisions(module, args)
    if margin < MIN_MARGIN:
        return None
    x = args[i]
    if isinstance(x, float):
        steps = [((), x + EPS, x - EPS)]
    else:
        steps = []
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += EPS
            xm[idx] -= EPS
            steps.append((idx, xp, xm))
    g = 0.0 if isinstance(x, float) else np.zeros_like(x)
    for idx, xp, xm in steps:
        vals = []
        for v in (xp, xm):
            a = list(args)
            a[i] = v
            value, trace, _ = decisions(module, tuple(a))
            if trace != base:
                return None
            vals.append(value)
        d = (vals[0] - vals[1]) / (2 * EPS)
        if isinstance(x, float):
            g = d
        else:
            g[idx] = d
    return g


def compare(prog: Program, directory: Path, stats: Counter):
    """'ran' or 'near boundary'; raises AssertionError describing a disagreement."""
    plain = load(directory, prog.source(False))
    instrumented = load(directory, prog.source(True))
    try:
        return _compare(prog, plain, instrumented, stats)
    finally:
        sys.modules.pop(plain.__name__, None)
        sys.modules.pop(instrumented.__name__, None)


def _compare(prog, plain, instrumented, stats):
    args = prog.args
    idxs = prog.wrt if isinstance(prog.wrt, tuple) else (prog.wrt,)
    expected = []
    for i in idxs:
        e = finite_differences(instrumented, args, i)
        if e is None:
            return "near boundary"
        expected.append(e)
    value, trace, _ = decisions(instrumented, args)
    assert float(plain.f(*prog.args)) == value
    stats["data-dependent decisions"] += len(trace)
    stats["programs with data-dependent decisions"] += bool(trace)
    df = sg.grad(plain.f, prog.wrt)
    # df's first call runs the code specialised to ranks, its second the code specialised to
    # the shapes too
    for variant, fn in (("specialised", df), ("shapes", df), ("generic", df.generic)):
        got = fn(*prog.args)
        got_t = got if isinstance(prog.wrt, tuple) else (got,)
        for i, g, e in zip(idxs, got_t, expected):
            if isinstance(args[i], float):
                assert isinstance(g, float), f"{variant}: gradient of float s is {type(g)}"
            assert np.shape(g) == np.shape(e), f"{variant} d/d{'xys'[i]}: shape {np.shape(g)}"
            if not np.allclose(g, e, rtol=RTOL, atol=ATOL):
                raise AssertionError(
                    f"{variant} d/d{'xys'[i]} (wrt={prog.wrt}):\n  sourcegrad {g!r}\n"
                    f"  finite differences {e!r}"
                )
    if stats["programs checked to second order"] < SECOND_ORDER_PROGRAMS:
        stats["programs checked to second order"] += 1
        got = df(*prog.args)
        for i, g in zip(idxs, got if isinstance(prog.wrt, tuple) else (got,)):
            _compare_second_order(plain, args, i, g, stats)
    return "ran"


#: second order costs three more transforms per program: the first programs of each run only
#: (all of them with SOURCEGRAD_RANDOM_PROGRAMS set)
SECOND_ORDER_PROGRAMS = 10**9 if ENV_EXAMPLES else 8


def _compare_second_order(plain, args, i, g, stats):
    """Forward mode against the (checked) gradient, and the Hessian-vector product against
    differences of the gradient along the same direction (when two step sizes agree, i.e. no
    branch boundary is crossed). Each call gets its own copy of the arguments: a program may
    write into ``y`` through ``v1 = y`` as Python does, which the next call must not see."""
    x = args[i]
    v = 0.7 if isinstance(x, float) else np.linspace(0.5, -0.9, np.size(x)).reshape(np.shape(x))
    _, tangent = sg.jvp(plain.f, i)(*copy.deepcopy(args), v)
    expected = float(np.sum(np.asarray(g) * v))
    if not np.isclose(tangent, expected, rtol=RTOL, atol=ATOL):
        raise AssertionError(f"jvp d/d{'xys'[i]}: sourcegrad {tangent!r}, <grad, v> {expected!r}")
    grad = sg.grad(plain.f, i)

    def along(eps):
        a = copy.deepcopy(list(args))
        a[i] = x + eps * v
        plus = np.asarray(grad(*a))
        a = copy.deepcopy(list(args))
        a[i] = x - eps * v
        return (plus - np.asarray(grad(*a))) / (2 * eps)

    fine, coarse = along(1e-5), along(1e-4)
    if not np.allclose(fine, coarse, rtol=1e-3, atol=1e-5):
        stats["hvp near a branch boundary"] += 1
        return
    hv = np.asarray(sg.hvp(plain.f, i)(*copy.deepcopy(args), v))
    if not np.allclose(hv, fine, rtol=1e-4, atol=1e-5):
        raise AssertionError(f"hvp d/d{'xys'[i]}: sourcegrad {hv!r}\n  differences {fine!r}")
    stats["second order checked"] += 1


def describe(prog: Program) -> str:
    return (
        f"{prog.source(False)}\n# x = {prog.x.tolist()!r}\n# y = {prog.y.tolist()!r}\n"
        f"# s = {prog.s!r}, m = {prog.m!r}, wrt = {prog.wrt!r}"
    )


def run_programs(strategy, max_examples, refusals_allowed=False):
    """Compare every generated program; returns (stats, {program text: failure}).

    With ``refusals_allowed``, a program sourcegrad refuses (a SourcegradError raised while
    transforming it, naming the program's file) is counted as "refused" rather than failed.
    """
    stats = Counter()
    failures = {}
    refusals = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sg_random_programs_") as tmp:
        directory = Path(tmp)

        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=not ENV_EXAMPLES,
            database=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        )
        @given(strategy)
        def run(prog):
            text = describe(prog)
            try:
                outcome = compare(prog, directory, stats)
            except sg.SourcegradError as exc:
                if not (refusals_allowed and str(exc).startswith(str(directory))):
                    failures[text] = f"{type(exc).__name__}: {exc}"
                    outcome = "failed"
                else:
                    refusals[text] = f"{type(exc).__name__}: {exc}"
                    outcome = "refused"
            except Exception as exc:  # a disagreement, or a crash inside sourcegrad
                failures[text] = f"{type(exc).__name__}: {exc}"
                outcome = "failed"
            stats[outcome] += 1

        run()
    elapsed = time.perf_counter() - start
    print(
        f"\nrandom programs: {stats['ran'] + stats['failed']} ran, {len(failures)} disagreed "
        f"or crashed, {stats['near boundary']} skipped near a branch boundary ({elapsed:.1f} s)"
    )
    print(
        f"{stats['programs with data-dependent decisions']} programs took "
        f"{stats['data-dependent decisions']} data-dependent decisions in all; second order "
        f"(jvp and hvp) checked {stats['second order checked']} times"
    )
    if refusals_allowed:
        print(f"{len(refusals)} programs refused by sourcegrad (file:line given)")
        for text in sorted(refusals, key=lambda t: t.count("\n"))[:1]:
            print(f"--- shortest refused program ---\n{text}\n{refusals[text]}")
    # the shortest failing programs are the most readable reproducers
    for text in sorted(failures, key=lambda t: t.count("\n"))[:2]:
        print(f"--- failing program ---\n{text}\n{failures[text]}")
    return stats, failures


def test_random_programs_match_finite_differences():
    stats, failures = run_programs(programs(), MAX_EXAMPLES)
    assert not failures, f"{len(failures)} programs disagree; run with -s to see them"
    assert stats["ran"] + stats["failed"] >= MIN_RAN, stats


def test_random_programs_with_jumps_item_assignment_and_append():
    """The same, with constructs added to sourcegrad after the brief of this test: ``break`` and
    ``continue`` under data-dependent conditions, early ``return``, ``v[k] = ...`` and
    ``v[a:b] = ...``, and ``hs.append(...)`` with ``np.stack(hs)`` in the result.

    sourcegrad refuses some writes ``v[k] = ...`` where another name may share v's memory, more
    often than needed (see ``min_element_read_rebound_then_write`` in tests/cf_corpus.py); a
    refusal that names the program's file:line is counted, not failed. A wrong gradient or any
    other exception fails.
    """
    stats, failures = run_programs(
        programs(extended=True), MAX_EXAMPLES_EXTENDED, refusals_allowed=True
    )
    assert not failures, f"{len(failures)} programs disagree; run with -s to see them"
    assert stats["ran"] + stats["failed"] >= MAX_EXAMPLES_EXTENDED // 2, stats
