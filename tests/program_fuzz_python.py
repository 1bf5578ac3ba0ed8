"""The program fuzzer's family of Python language features (``benchmarks/fuzz.py --family
python``; ``tests/program_fuzz.py`` draws it only there).

Each generator writes a few statements with the Python people use in losses, combined with the
arithmetic of the default family: keyword-only arguments and defaults (an array default, a
``None`` default filled inside), ``*args``/``**kwargs`` helpers and calls with ``**opts``,
closures over loop variables (late binding and ``k=k``) and nested defs, lambdas kept in dicts
and lists and called, decorators (a ``functools.wraps`` wrapper, ``lru_cache`` on a shape-only
helper), a dataclass and a NamedTuple holding values (``dataclasses.replace``, ``_replace``),
starred unpacking, the walrus, conditional expressions, ``match`` on strings, tuples, mappings
and sequences, comprehensions with conditions and nested loops, generators and ``yield from``,
``zip(strict=True)``, ``enumerate(start=1)``, ``itertools.accumulate``/``pairwise``/``chain``,
``try``/``finally``, ``with np.errstate(...)``, early returns from loops in helpers, module
constants read (one through a ``global`` statement) and ``assert`` with f-strings.

Like the other features, each reads ``h`` (an array of order-one values whose last axis has
``b.width`` entries), may rebind ``h`` to an array of its shape and adds to the float ``acc``;
``b`` is the program's ``Builder``.
"""

from __future__ import annotations

BLEND = (
    "def blend(z, w=np.array([0.5]), *, shift=None, gain=1.0):\n"
    "    if shift is None:\n"
    "        shift = 0.1 * np.mean(z)\n"
    "    return np.tanh(gain * z * w + shift)\n"
)
COLLECT = (
    "def collect(z, out=None):\n"
    "    if out is None:\n"
    "        out = []\n"
    "    out.append(z)\n"
    "    return out\n"
)
MIX = (
    "def mix(*zs, **opts):\n"
    '    gain = opts.get("gain", 1.0)\n'
    "    out = sum(zs) / len(zs)\n"
    '    if "shift" in opts:\n'
    '        out = out + opts["shift"]\n'
    "    return np.tanh(gain * out)\n"
)
FORWARD = "def forward(*args, **kwargs):\n    return mix(*args, **kwargs)\n"
HALVING = (
    "def halving(fn):\n"
    "    @functools.wraps(fn)\n"
    "    def wrapper(*args, **kwargs):\n"
    "        return 0.5 * fn(*args, **kwargs)\n\n"
    "    return wrapper\n\n\n"
    "@halving\n"
    "def squash(z, gain=1.0):\n"
    "    return np.tanh(gain * z)\n"
)
RAMP = (
    "@functools.lru_cache(maxsize=None)\n"
    "def ramp(n):\n"
    "    return tuple(np.linspace(0.5, 1.5, n))\n"
)
WEIGHTS = "@functools.cache\ndef weights(n):\n    return np.linspace(1.0, 0.5, n)\n"
PAIR_CLASS = """@dataclass
class Pair:
    a: np.ndarray
    s: float = 1.0

    def out(self):
        return self.s * self.a
"""
STATE_CLASS = """class State(NamedTuple):
    z: np.ndarray
    k: float = 0.5
"""
EACH_ROW = (
    "def each_row(z):\n"
    "    for r in z.reshape(-1, z.shape[-1]):\n"
    "        yield np.tanh(r)\n\n\n"
    "def rows_then_total(z):\n"
    "    yield from each_row(z)\n"
    "    yield np.sum(z) * np.ones(z.shape[-1])\n"
)
FIRST_ABOVE = (
    "def first_above(zs, t):\n"
    "    for z in zs:\n"
    "        if np.mean(z) > t:\n"
    "            return z\n"
    "    return zs[-1]\n"
)
SCAN = (
    "def scan(z, t):\n"
    "    for i in range(3):\n"
    "        z = np.tanh(1.2 * z + 0.1)\n"
    "        if np.sum(z) > t:\n"
    "            return z, i\n"
    "    return z, -1\n"
)
SETTLE = (
    "def settle(z):\n"
    "    k = 0\n"
    "    while True:\n"
    "        z = 0.8 * z + 0.1 * np.sin(z)\n"
    "        k += 1\n"
    "        if k >= 2:\n"
    "            return z\n"
)
GUARDED = (
    "def guarded(z):\n"
    "    try:\n"
    "        return np.tanh(z)\n"
    "    finally:\n"
    "        z = None\n"
)
CONSTANTS = (
    'GAIN = 0.7\nOFFSETS = (0.1, -0.2)\nMODE = "tanh"\nTABLE = {"a": 0.5, "b": 1.5}\n'
    "BASE = np.linspace(0.5, 1.0, 4)\n"
)
GAINED = "def gained(z):\n    global GAIN\n    return GAIN * z\n"


def f_py_defaults(b, nd: int) -> None:
    """A helper's array default, ``None`` default filled inside and keyword-only arguments;
    a list default made fresh inside."""
    if b.p(0.25):
        b.helpers["collect"] = COLLECT
        b.emit(
            "zs = collect(h)\nzs = collect(np.sin(h), zs)\n"
            + b.pick(["zs = collect(0.5 * h, out=zs)\n", ""])
            + "acc = acc + sum(np.sum(t * t) for t in zs) + 0.1 * len(collect(h))"
        )
        return
    b.helpers["blend"] = BLEND
    call = b.pick(
        [
            "blend(h)",
            "blend(h, shift=0.2)",
            "blend(h, np.array([0.8]), gain=0.9)",
            f"blend(h, shift=0.1 * {b.last_b})",
            "blend(h, gain=np.mean(h))",
            "blend(h, w=np.full(1, 1.2), shift=None)",
        ]
    )
    b.emit(b.pick([f"h = {call}", f"acc = acc + np.sum({call} * h)"]))


def f_py_varargs(b, nd: int) -> None:
    """``*zs, **opts`` helpers, called with ``*`` and ``**``, and a forwarding wrapper."""
    b.helpers["mix"] = MIX
    opts = b.pick(
        [
            'opts = {"gain": 0.7}',
            'opts = {"gain": 0.8, "shift": 0.1 * np.mean(h)}',
            f"opts = dict(shift=0.2 * {b.last_b})",
            "opts = {}",
        ]
    )
    name = "mix"
    if b.p(0.3):
        b.helpers["forward"] = FORWARD
        name = "forward"
    calls = [
        f"h = {name}(h, np.sin(h), **opts)",
        f"zs = [h, 0.5 * h]\nh = {name}(*zs, **opts)",
        f"acc = acc + np.sum({name}(h, **opts) ** 2)",
    ]
    if "gain" not in opts:
        calls.append(f"h = {name}(*(h, np.tanh(h)), gain=0.9, **opts)")
    b.emit(opts + "\n" + b.pick(calls))


def f_py_closures(b, nd: int) -> None:
    """Closures over loop variables (late binding and ``k=k``), defs in loops, a factory,
    ``nonlocal``."""
    b.emit(
        b.pick(
            [
                "fs = []\nfor k in range(3):\n    fs.append(lambda u: u * (0.2 + 0.1 * k))\n"
                "h = fs[0](h) + fs[1](np.sin(h))",
                "fs = [lambda u, k=k: np.tanh(u * (k + 1) * 0.4) for k in range(3)]\n"
                "acc = acc + sum(np.sum(g(h)) for g in fs)",
                "fs = [lambda u: u * c for c in (0.5, 1.5)]\nacc = acc + np.sum(fs[0](h))",
                "for k in range(2):\n    def step(u):\n        return np.tanh(u + 0.1 * k)\n"
                "    h = step(h)",
                "def make(a):\n    def inner(u):\n        return a * u + np.sin(u)\n\n"
                "    return inner\ng = make(np.mean(h))\nh = np.tanh(g(h))",
                "gs = [lambda u, c=c: c * u for c in (np.mean(h), np.max(h))]\n"
                "h = 0.5 * sum(g(h) for g in gs)",
                "def total_of(u):\n    total = 0.0\n\n    def add(v):\n        nonlocal total\n"
                "        total = total + np.sum(v)\n\n    add(u)\n    add(u * u)\n    return total\n"
                "acc = acc + total_of(h)",
            ]
        )
    )


def f_py_lambdas(b, nd: int) -> None:
    """Lambdas and functions kept in dicts and lists, looked up and called."""
    t = b.thr(-0.5, 0.5)
    ops = 'ops = {"sin": np.sin, "sq": lambda u: u * u * 0.5, "th": lambda u: np.tanh(0.5 * u)}'
    b.emit(
        b.pick(
            [
                f'{ops}\nfor name in ("th", "sin"):\n    h = ops[name](h)',
                "fs = [np.tanh, lambda u: 0.5 * u, np.sin]\n"
                "acc = acc + sum(np.sum(fn(h)) for fn in fs)",
                f'{ops}\nh = ops.get("nope", ops["th"])(h)',
                "pipeline = [(np.tanh, 0.5), (lambda u: u * u, 0.1)]\nfor fn, w in pipeline:\n"
                "    acc = acc + w * np.sum(fn(h))",
                f'{ops}\nkey = "sin" if np.mean(h) > {t} else "th"\nh = ops[key](h)',
                f"{ops}\nacc = acc + sum(np.mean(fn(h)) for name, fn in ops.items() if name != 'sq')",
            ]
        )
    )


def f_py_decorators(b, nd: int) -> None:
    """A ``functools.wraps`` wrapper, ``lru_cache``/``cache`` on shape-only helpers."""
    if b.p(0.5):
        b.helpers["halving"] = HALVING
        b.emit(
            b.pick(
                [
                    "h = squash(h)",
                    "h = squash(h, gain=0.8)",
                    "acc = acc + np.sum(squash(h) * h)",
                    'assert squash.__name__ == "squash"\nh = 2.0 * squash(h, 1.1)',
                ]
            )
        )
        return
    if b.p(0.5):
        b.helpers["ramp"] = RAMP
        b.emit("h = h * np.array(ramp(h.shape[-1]))")
    else:
        b.helpers["weights"] = WEIGHTS
        b.emit(
            b.pick(["h = h * weights(h.shape[-1])", "acc = acc + np.sum(h @ weights(h.shape[-1]))"])
        )


def f_py_records(b, nd: int) -> None:
    """A dataclass and a NamedTuple made in the function holding values (a parameter among
    them), changed by ``dataclasses.replace`` and ``_replace``, unpacked."""
    if b.p(0.5):
        b.preamble += ["import dataclasses", "from dataclasses import dataclass"]
        b.helpers["class Pair"] = PAIR_CLASS
        b.emit(
            b.pick(
                [
                    "p = Pair(h, 0.5)\nq = dataclasses.replace(p, s=0.9)\nh = q.out() + 0.1 * p.a",
                    "p = Pair(np.tanh(h))\np = dataclasses.replace(p, a=p.a * 0.5)\n"
                    "acc = acc + np.sum(p.out())",
                    f"holder = Pair({b.last_b}, 0.2)\nh = h + holder.out()",
                    "ps = [Pair(h * c, c) for c in (0.5, 1.0)]\n"
                    "acc = acc + sum(np.sum(p.out()) for p in ps)",
                ]
            )
        )
        return
    b.preamble.append("from typing import NamedTuple")
    b.helpers["class State"] = STATE_CLASS
    b.emit(
        b.pick(
            [
                "st = State(h)\nst = st._replace(z=np.sin(st.z))\nh = st.z * st.k",
                "st = State(h, 0.3)\nz, k = st\nacc = acc + np.sum(z) * k",
                f"st = State({b.last_b})._replace(k=np.mean(h))\nh = h + st.z * st.k",
                "st = State(k=0.2, z=np.tanh(h))\nh = st[0] + st.k * h",
            ]
        )
    )


def f_py_star_unpack(b, nd: int) -> None:
    """Starred targets: ``a, *rest = xs``, ``first, *mid, last``, over arrays and shapes."""
    b.emit(
        b.pick(
            [
                "a, *rest = [h, np.sin(h), 0.5 * h]\n"
                "acc = acc + np.sum(a * rest[0]) + 0.1 * len(rest)",
                "head, *mid, tail = [np.tanh(h), h, np.cos(h), 0.5 * h]\n"
                "h = 0.5 * (head + tail) + 0.1 * sum(mid)",
                "*init, tail = h\nacc = acc + np.sum(tail) + 0.1 * sum(np.sum(v) for v in init)",
                "n, *more = h.shape\nacc = acc + 0.01 * n * np.sum(h) + len(more)",
                "(a, c), *more = [(h, 0.5), (np.sin(h), 0.2)]\n"
                "h = a * c + sum(v * w for v, w in more)",
            ]
        )
    )


def f_py_walrus(b, nd: int) -> None:
    """The walrus in conditions, expressions and comprehensions; conditional expressions."""
    t = b.thr(-0.5, 0.5)
    b.emit(
        b.pick(
            [
                f"if (m := np.mean(h)) > {t}:\n    h = h * m\nelse:\n    h = h - m",
                "acc = acc + (s := np.sum(h * h)) * 0.1 + 0.05 * s",
                f"h = np.tanh(h) if np.sum(h) > {t} else np.sin(h)",
                f"vals = [v for r in h.reshape(-1, h.shape[-1]) if (v := np.sum(r * r)) > {abs(t)}]"
                "\nacc = acc + sum(vals)",
                "acc = acc + (0.5 * np.sum(h) if (n := h.shape[-1]) > 2 else np.mean(h) * n)",
                f"k = 0\nwhile (s := np.sum(h * h)) > {abs(t)} and k < 3:\n"
                "    h = 0.8 * h\n    k += 1\nacc = acc + s",
            ]
        )
    )


def f_py_match(b, nd: int) -> None:
    """``match`` on a string (with a capture), a shape tuple with a guard, a tuple of a
    comparison and a string, a mapping and a sequence with a star."""
    t = b.thr(-0.5, 0.5)
    mode = b.pick(["tanh", "sin", "cos", "other"])
    b.emit(
        b.pick(
            [
                f'mode = "{mode}"\nmatch mode:\n    case "tanh":\n        h = np.tanh(h)\n'
                '    case "sin" | "cos":\n        h = np.sin(h) * 0.5\n'
                "    case other:\n        acc = acc + len(other) * np.mean(h)",
                "match h.shape:\n    case (n,):\n        acc = acc + np.sum(h) / n\n"
                "    case (r, c) if r > 2:\n        h = h * 0.5\n"
                "    case (r, c):\n        acc = acc + np.sum(h[0]) * c * 0.1",
                f'match (bool(np.mean(h) > {t}), "{mode}"):\n'
                '    case (True, "tanh" | "sin"):\n        h = np.tanh(h)\n'
                "    case (False, _):\n        h = 0.5 * h\n"
                "    case _:\n        acc = acc + np.sum(h)",
                f'match (np.mean(h) > {t}, "{mode}"):\n'
                "    case (True, _):\n        h = np.tanh(h)\n"
                "    case _:\n        acc = acc + 0.5 * np.sum(h)",
                f'cfg = {{"kind": "{mode}", "gain": 0.7}}\nmatch cfg:\n'
                '    case {"kind": "tanh", "gain": g}:\n        h = g * h\n'
                '    case {"kind": k}:\n        acc = acc + 0.1 * len(k) * np.mean(h)',
                "match [h, np.sin(h), 0.5 * h]:\n    case [a, *rest]:\n"
                "        acc = acc + np.sum(a * rest[-1]) + 0.1 * len(rest)",
            ]
        )
    )


def f_py_comprehensions(b, nd: int) -> None:
    """Comprehensions with conditions and nested loops (list, dict, generator)."""
    b.emit(
        b.pick(
            [
                "acc = acc + sum(np.sum(r * c) for r in h.reshape(-1, h.shape[-1])"
                " for c in (0.5, 1.5) if c > 1.0)",
                "zs = [np.tanh(c * h) for c in (0.5, -1.0, 1.5) if c > 0]\nh = sum(zs) / len(zs)",
                "d = {i: np.sin(r) for i, r in enumerate(h.reshape(-1, h.shape[-1])) if i % 2 == 0}"
                "\nacc = acc + sum(np.sum(v) for v in d.values())",
                "pairs = [(i, j) for i in range(h.shape[-1]) for j in range(i)]\n"
                "acc = acc + np.sum(sum(h[..., i] * h[..., j] for i, j in pairs))",
                "grid = [[np.tanh(r[j]) for j in range(len(r)) if j != 1]"
                " for r in h.reshape(-1, h.shape[-1])]\nacc = acc + sum(sum(row) for row in grid)",
                "acc = acc + sum(np.sum(u * v) for u in (h, np.sin(h)) for v in (h, 0.5 * h)"
                " if u is not v)",
            ]
        )
    )


def f_py_generators(b, nd: int) -> None:
    """Generator functions, ``yield from``, ``next`` on a generator, generator expressions."""
    b.helpers["each_row"] = EACH_ROW
    b.emit(
        b.pick(
            [
                "acc = acc + sum(np.sum(v) for v in rows_then_total(h))",
                "h = np.stack(list(each_row(h))).reshape(h.shape)",
                "g = each_row(h)\nfirst = next(g)\n"
                "acc = acc + np.sum(first) + sum(np.sum(v * v) for v in g)",
                "acc = acc + np.sum(sum(rows_then_total(h)))",
                "gen = (np.sin(c * h) for c in (0.5, 1.0))\nh = 0.5 * sum(gen)",
            ]
        )
    )


def f_py_iteration(b, nd: int) -> None:
    """``zip(strict=True)``, ``enumerate(start=1)``, ``itertools.accumulate``/``pairwise``/
    ``chain``."""
    b.preamble.append("import itertools")
    b.emit(
        b.pick(
            [
                "for a, c in zip(h, h[::-1], strict=True):\n    acc = acc + 0.1 * np.sum(a * c)",
                "for i, r in enumerate(h.reshape(-1, h.shape[-1]), start=1):\n"
                "    acc = acc + np.sum(r) / i",
                "run = list(itertools.accumulate([np.tanh(h), h, 0.5 * h]))\nh = run[-1] / 3.0",
                "acc = acc + sum(np.sum(a * c) for a, c in itertools.pairwise([h, np.sin(h), "
                "np.cos(h)]))",
                "acc = acc + sum(np.sum(v) for v in itertools.chain([h], [np.tanh(h), 0.5 * h]))",
                "run = list(itertools.accumulate(h.reshape(-1), lambda a, v: 0.5 * a + v))\n"
                "acc = acc + sum(run)",
                "acc = acc + sum(np.mean(v) for v in itertools.chain.from_iterable([[h], "
                "[np.sin(h)]]))",
            ]
        )
    )


def f_py_try_with(b, nd: int) -> None:
    """``try``/``finally``, ``try``/``except`` (the handler never or sometimes runs), ``with
    np.errstate(...)``, a return inside ``try`` of a helper."""
    t = b.thr(-0.5, 0.5)
    options = [
        "try:\n    h = np.tanh(h)\nfinally:\n    acc = acc + 0.1",
        'with np.errstate(divide="ignore", invalid="ignore"):\n'
        "    r = np.log(np.abs(h) + 0.5)\nacc = acc + np.sum(r)",
        "try:\n    z = h / (np.sum(h * h) + 1.0)\nexcept ZeroDivisionError:\n    z = h\nh = z + 0.5 * h",
        f"try:\n    if np.sum(h) > {t}:\n        raise ValueError('large')\n    h = np.tanh(h)\n"
        "except ValueError:\n    h = np.sin(h)",
        'with np.errstate(over="ignore"):\n    try:\n        h = np.exp(-h * h) * h\n'
        "    finally:\n        acc = acc * 0.9",
    ]
    if b.p(0.3):
        b.helpers["guarded"] = GUARDED
        options = ["h = guarded(h)"]
    b.emit(b.pick(options))


def f_py_loop_return(b, nd: int) -> None:
    """Helpers returning from inside a ``for`` or ``while True`` loop."""
    t = b.thr(-0.5, 0.5)
    kind = b.pick(["first_above", "scan", "settle"])
    if kind == "first_above":
        b.helpers[kind] = FIRST_ABOVE
        b.emit(f"h = first_above([np.tanh(h), np.sin(h), 0.5 * h], {t})")
    elif kind == "scan":
        b.helpers[kind] = SCAN
        b.emit(f"h, k = scan(h, {t})\nacc = acc + 0.1 * k")
    else:
        b.helpers[kind] = SETTLE
        b.emit("h = settle(h)")


def f_py_globals(b, nd: int) -> None:
    """Module constants read (a float, a tuple, a string, a dict, an array), one through a
    ``global`` statement."""
    b.helpers["constants"] = CONSTANTS
    options = [
        "h = GAIN * h + OFFSETS[0]",
        "for off in OFFSETS:\n    acc = acc + np.mean(np.tanh(h + off))",
        'if MODE == "tanh":\n    h = np.tanh(h)',
        "acc = acc + sum(w * np.sum(h) for w in TABLE.values())",
        "h = h * BASE[: h.shape[-1]]",
    ]
    if b.p(0.3):
        b.helpers["gained"] = GAINED
        options = ["h = gained(h)"]
    b.emit(b.pick(options))


def f_py_assert(b, nd: int) -> None:
    """``assert`` with f-string messages (never fire)."""
    b.emit(
        b.pick(
            [
                f'assert h.shape[-1] == {b.width}, f"width {{h.shape[-1]}} != {b.width}"',
                'assert np.all(np.isfinite(h)), f"not finite: {np.max(np.abs(h))=}"',
                'assert acc > -1e9, f"acc={acc:.3f}"',
                'n = len(h)\nassert n > 0, f"{n=} rows"\nacc = acc + 0.1 * n * np.mean(h)',
            ]
        )
    )


FEATURES = {
    "py_defaults": f_py_defaults,
    "py_varargs": f_py_varargs,
    "py_closures": f_py_closures,
    "py_lambdas": f_py_lambdas,
    "py_decorators": f_py_decorators,
    "py_records": f_py_records,
    "py_star_unpack": f_py_star_unpack,
    "py_walrus": f_py_walrus,
    "py_match": f_py_match,
    "py_comprehensions": f_py_comprehensions,
    "py_generators": f_py_generators,
    "py_iteration": f_py_iteration,
    "py_try_with": f_py_try_with,
    "py_loop_return": f_py_loop_return,
    "py_globals": f_py_globals,
    "py_assert": f_py_assert,
}


def feature_names(b, others: list[str]) -> list[str]:
    """One to three of the family's features, sometimes with one of ``others`` (the default
    family's arithmetic)."""
    names = b.r.sample(sorted(FEATURES), b.r.randint(1, 3))
    if b.p(0.4):
        names.insert(b.r.randint(0, len(names)), b.pick(others))
    return names
