"""A random-program fuzzer for sourcegrad: programs written the way users write them.

``tests/test_random_programs.py`` draws straight-line and control-flow programs over a fixed set of
array variables. This generator writes *model-like* programs instead: parameters in the containers
users keep them in (a dict of arrays, a list of ``(W, b)`` tuples, a list of dicts, nested dicts,
namedtuples, module-level dataclasses, frozen or not, with function, int and string settings,
called as layer objects or holding a list of layers), read inline, in loops (``for W, b in
params``, ``.items()``, ``.values()``, ``enumerate``, ``zip``) and through helper functions of the
same module (with keyword arguments and defaults, ``*xs`` and ``**opts``); star calls (``dense(h,
*layer)``, ``dense(h, **p)``, ``h.reshape(*x.shape[:-1], 1, -1)``, ``np.stack([*hs, h])``); dict
copies and merges (``dict(p)``, ``dict(p, b=...)``, ``{**p, "b": ...}``, ``p | {...}``,
``p.copy()``); local lists and dicts of differentiated values (``append``, ``extend``, ``+=``,
``insert``, ``pop``, comprehensions, ``sum(... for ...)``), tuples returned from helpers and
unpacked; views and aliases (``h[1:]``, ``h.T``, ``h.reshape``), writes into local copies (``z[i] =
...``, ``z[k] += ...``), in-place updates of locals in loops; keyword-only arguments, tuple swaps,
``(-1) ** k``, negative powers of positive values, sums of masks, comparisons, ``np.where``, early
returns, bounded data-dependent ``while`` loops, ``break``/``continue``; smooth elementwise
functions, matmul, reductions over axes, broadcasting.

Every program is drawn from its own integer seed (:func:`generate`), so a failure is reproduced
by its seed alone. A program is written to a module file in a temporary directory (sourcegrad
reads source from files) and imported with importlib.

:func:`check_program` runs the checks the pytest (``tests/test_program_fuzz.py``) and the
command-line fuzzer (``benchmarks/fuzz.py``) share:

(a) the value of ``sg.value_and_grad(f)`` equals ``f(...)`` (rel 1e-10) on calls 1, 2 and 3
    (call 1 runs the rank-specialised derivative, calls 2 and 3 the shape-specialised one),
    each on fresh copies of the arguments, which each call (and the hvp's) must leave as
    Python's own call of ``f`` leaves them (a program may write into its arguments:
    ``f_alias_inputs``);
(b) the gradient has the container structure of the differentiated argument(s) and equals
    central finite differences (eps 1e-6, rtol 1e-5, atol 1e-7) on calls 1-3;
(c) for a fraction of the programs, ``sg.hvp(f)(*args, v)`` (``v`` a random tree like the
    parameters) equals central differences of the gradient along ``v`` (eps 1e-5, rtol 1e-4,
    atol 1e-6).

A :class:`sourcegrad.SourcegradError` naming a line of the program's file is a *refusal*
(counted, grouped by cause; one raised when the derivative runs, such as ``not_a_view``'s,
too); one that names no line of it is an *unlocated refusal*, a failure; any other exception
is an *internal* error. The features of memory shared between names (writes in place through
one of two names, copies that break the link, helpers writing into what they are given) are
in ``tests/program_fuzz_aliasing.py``. Values are kept of order one and
thresholds are random, so that no check sits on a kink; where the finite differences at two
step sizes disagree (a branch boundary or kink within reach of the step), the program is
counted as "near a boundary" and not compared.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import inspect
import itertools
import os
import random
import re
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import sourcegrad as sg
from tests.program_fuzz_aliasing import FEATURES as ALIASING_FEATURES

FD_EPS = 1e-6
FD_RTOL = 1e-5
FD_ATOL = 1e-7
HVP_EPS = 1e-5
HVP_RTOL = 1e-4
HVP_ATOL = 1e-6
VALUE_RTOL = 1e-10
HVP_FRACTION = 0.3
ALIASING_HVP_FRACTION = 0.5  # of programs drawing an aliasing feature
TIME_BUDGET_S = 30  # per program (all checks), in the fuzzer script

#: categories, most serious first
CATEGORIES = (
    "wrong_value",
    "wrong_gradient",
    "wrong_hvp",
    "mutated_input",
    "internal",
    "unlocated_refusal",
    "timeout",
    "refusal",
    "near_boundary",
    "invalid_program",
    "ok",
)
FAILURES = (
    "wrong_value",
    "wrong_gradient",
    "wrong_hvp",
    "mutated_input",
    "internal",
    "unlocated_refusal",
)


def program_seed(seed: int, i: int) -> int:
    """The seed of the ``i``-th program of a run with seed ``seed``."""
    return seed * 1_000_003 + i


# ----------------------------------------------------------------------------- program model


@dataclass
class NT:
    """A namedtuple in the argument tree, built from the module's own class when loaded."""

    cls: str
    fields: dict


@dataclass
class Setting:
    """A dataclass field that is a setting (a function, an int, a string): the source
    expression of its value, evaluated in the program's module when loaded."""

    expr: str


@dataclass
class DC:
    """A dataclass instance in the argument tree, built from the module's own class when loaded;
    ``fields`` in declaration order, settings as :class:`Setting`."""

    cls: str
    fields: dict


@dataclass
class Program:
    seed: int
    source: str
    params: object  # tree; NT stands for a namedtuple of the module
    x: np.ndarray
    y: np.ndarray
    kwargs: dict
    wrt: object  # 0 or (0, 1)
    hvp: bool
    hvp_v: object  # tree like params (NT included) or None
    knobs: list = field(default_factory=list)

    def with_source(self, source: str) -> Program:
        return Program(
            self.seed,
            source,
            self.params,
            self.x,
            self.y,
            self.kwargs,
            self.wrt,
            self.hvp,
            self.hvp_v,
            list(self.knobs),
        )


# ------------------------------------------------------------------------------- generator

ACTS = {
    "tanh": "np.tanh({})",
    "sin": "np.sin({})",
    "softplus": "softplus({})",
}
SOFTPLUS = "def softplus(z):\n    return np.log1p(np.exp(z))\n"


class Builder:
    """Writes one program; every random choice goes through ``self.r``."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.helpers: dict[str, str] = {}
        self.preamble: list[str] = []
        self.body: list[str] = []
        self.knobs: list[str] = []
        self.kwonly = False
        self.dict_param: tuple[str, str, str] | None = None  # a parameter dict, its W and b keys
        self.splices: list[str] = []  # statements calling norm2(W, b) with a spliced layer
        self.object_kwargs: dict[str, DC] = {}  # keyword-only object arguments (not wrt)
        self.width = 0  # the size of h's last axis

    # -- small utilities
    def p(self, prob: float) -> bool:
        return self.r.random() < prob

    def pick(self, options):
        return self.r.choice(list(options))

    def emit(self, text: str, indent: int = 0) -> None:
        for line in text.split("\n"):
            self.body.append("    " * indent + line)

    def knob(self, name: str) -> None:
        self.knobs.append(name)

    def thr(self, lo: float, hi: float) -> float:
        return round(self.r.uniform(lo, hi), 2) or 0.13

    def act(self, z: str) -> str:
        return ACTS[self.act_name].format(z)

    def steps(self) -> str:
        return "steps" if self.kwonly and self.p(0.6) else str(self.pick([1, 2, 3]))

    # -- arrays
    def weight(self, m: int, n: int) -> np.ndarray:
        return self.np.normal(0.0, 0.7, size=(m, n))

    def bias(self, n: int) -> np.ndarray:
        return self.np.normal(0.0, 0.3, size=n)

    def nudged(self, shape) -> np.ndarray:
        v = self.np.uniform(-1.0, 1.0, size=shape)
        return np.where(np.abs(v) < 0.05, np.sign(v + 1e-12) * 0.05 + v, v)


def _splice_layers(b: Builder, star: str, loop: str | None, items: list[str]) -> None:
    """Defines ``dense(h, W, b)`` and emits ``h`` through the layers, each spliced into the
    call with ``star`` (``*`` or ``**``): in a loop over ``params`` binding ``loop``, or unrolled
    over the layers' sources ``items`` when ``loop`` is None."""
    b.helpers["dense"] = f"def dense(h, W, b):\n    return {b.act('h @ W + b')}\n"
    if loop:
        b.emit(f"h = x\nfor {loop} in params:\n    h = dense(h, {star}{loop})")
    else:
        for i, item in enumerate(items):
            b.emit(f"h = dense({'h' if i else 'x'}, {star}{item})")


def _net_list_tuples(b: Builder, dims: list[int], Ws: list, bs: list):
    """A list of ``(W, b)`` tuples; emits the lines computing ``h``."""
    n = len(Ws)
    act = b.act
    params = [(W, c) for W, c in zip(Ws, bs)]
    pattern = b.pick(
        ["for_unpack", "enumerate", "helper_loop", "helper_unrolled", "range", "zip", "inline"]
        + ["star_loop", "star_index"]
    )
    if pattern in ("star_loop", "star_index"):
        loop = "layer" if pattern == "star_loop" else None
        _splice_layers(b, "*", loop, [f"params[{i}]" for i in range(n)])
    elif pattern == "for_unpack":
        b.emit(f"h = x\nfor W, b in params:\n    h = {act('h @ W + b')}")
    elif pattern == "enumerate":
        b.emit(
            "h = x\nfor i, (W, b) in enumerate(params):\n    z = h @ W + b\n"
            f"    h = {act('z')} if i < len(params) - 1 else z"
        )
    elif pattern in ("helper_loop", "helper_unrolled"):
        b.helpers["dense"] = (
            "def dense(layer, h, act=True):\n    W, b = layer\n    z = h @ W + b\n"
            f"    if act:\n        return {act('z')}\n    return z\n"
        )
        if pattern == "helper_loop":
            b.emit("h = x\nfor layer in params:\n    h = dense(layer, h)")
        else:
            b.emit("h = dense(params[0], x)")
            for i in range(1, n):
                last = ", act=False" if i == n - 1 and b.p(0.5) else ""
                b.emit(f"h = dense(params[{i}], h{last})")
    elif pattern == "range":
        b.emit(
            f"h = x\nfor i in range(len(params)):\n    W, b = params[i]\n"
            f"    h = {act('h @ W + b')}"
        )
    elif pattern == "zip":
        b.emit(
            "Ws = [W for W, _ in params]\nbs = [layer[1] for layer in params]\nh = x\n"
            f"for W, b in zip(Ws, bs):\n    h = {act('h @ W + b')}"
        )
    else:
        b.emit(f"W0, b0 = params[0]\nh = {act('x @ W0 + b0')}")
        for i in range(1, n):
            b.emit(f"h = {act(f'h @ params[{i}][0] + params[{i}][1]')}")
    b.knob(f"net:list_tuples:{pattern}")
    reg_options = [
        "reg = sum(np.sum(W * W) for W, _ in params)",
        "reg = 0.0\nfor W, b in params:\n    reg = reg + np.sum(W ** 2) + np.sum(b ** 2)",
        "reg = sum([np.sum(layer[0] ** 2) for layer in params])",
    ]
    first_W, last_b = "params[0][0]", "params[-1][1]"
    b.splices = [
        "acc = acc + 0.01 * norm2(*params[0])",
        "for layer in params:\n    acc = acc + 0.01 * norm2(*layer)",
    ]
    return params, reg_options, first_W, last_b


def _net_list_dicts(b: Builder, dims: list[int], Ws: list, bs: list):
    """A list of ``{"W": W, "b": b}`` dicts; emits the lines computing ``h``."""
    n = len(Ws)
    act = b.act
    params = [{"W": W, "b": c} for W, c in zip(Ws, bs)]
    pattern = b.pick(["for_p", "helper_kw", "enumerate", "inline", "dstar", "merge"])
    if pattern == "dstar":
        loop = "p" if b.p(0.5) else None
        _splice_layers(b, "**", loop, [f"params[{i}]" for i in range(n)])
    elif pattern == "merge":
        merged = b.pick(
            [
                '{**p, "b": 0.5 * p["b"]}',
                'p | {"b": np.tanh(p["b"])}',
                'dict(p, b=p["b"] + 0.1)',
            ]
        )
        z = 'h @ q["W"] + q["b"]'
        b.emit(f"h = x\nfor p in params:\n    q = {merged}\n    h = {act(z)}")
    elif pattern == "for_p":
        z = 'h @ p["W"] + p["b"]'
        b.emit(f"h = x\nfor p in params:\n    h = {act(z)}")
    elif pattern == "helper_kw":
        b.helpers["dense"] = (
            "def dense(p, h, *, gain=1.0, act=True):\n"
            '    z = gain * (h @ p["W"]) + p["b"]\n'
            f"    return {act('z')} if act else z\n"
        )
        if b.p(0.5):
            gain = ", gain=0.9" if b.p(0.5) else ""
            b.emit(f"h = x\nfor p in params:\n    h = dense(p, h{gain})")
        else:
            b.emit("h = dense(params[0], x)")
            for i in range(1, n):
                last = ", act=False" if i == n - 1 and b.p(0.5) else ""
                b.emit(f"h = dense(params[{i}], h{last}, gain=1.1)")
    elif pattern == "enumerate":
        b.emit(
            'h = x\nfor i, p in enumerate(params):\n    z = h @ p["W"] + p["b"]\n'
            f"    h = {act('z')} if i + 1 < len(params) else z"
        )
    else:
        z = 'x @ params[0]["W"] + params[0]["b"]'
        b.emit(f"h = {act(z)}")
        for i in range(1, n):
            z = f'h @ params[{i}]["W"] + params[{i}]["b"]'
            b.emit(f"h = {act(z)}")
    b.knob(f"net:list_dicts:{pattern}")
    reg_options = [
        "reg = 0.0\nfor p in params:\n    for k in p:\n        reg = reg + np.sum(p[k] ** 2)",
        "reg = sum(np.sum(v * v) for p in params for v in p.values())",
        'reg = 0.0\nfor p in params:\n    for k, v in p.items():\n        if k == "W":\n'
        "            reg = reg + np.sum(v ** 2)",
    ]
    first_W, last_b = 'params[0]["W"]', 'params[-1]["b"]'
    b.dict_param = ("params[0]", "W", "b")
    b.splices = [
        "acc = acc + 0.01 * norm2(**params[0])",
        "for p in params:\n    acc = acc + 0.01 * norm2(**p)",
    ]
    return params, reg_options, first_W, last_b


def _net_dict(b: Builder, dims: list[int], Ws: list, bs: list):
    """One dict ``{"W1": ..., "b1": ..., ...}`` (sometimes with a float ``gain``); emits the lines computing ``h``."""
    n = len(Ws)
    act = b.act
    params = {}
    for i in range(n):
        params[f"W{i + 1}"] = Ws[i]
        params[f"b{i + 1}"] = bs[i]
    gain = b.p(0.4)
    if gain:
        params["gain"] = float(round(b.r.uniform(0.6, 1.4), 3))
    pattern = b.pick(["inline", "fstring", "helper_args", "helper_opts"])
    if pattern == "helper_opts":
        scaled = act('opts.get("gain", 1.0) * z')
        b.helpers["layer"] = (
            "def layer(x, W, b=None, **opts):\n    z = x @ W\n    if b is not None:\n"
            f"        z = z + b\n    return {scaled}\n"
        )
        src = "x"
        for i in range(1, n + 1):
            extra = b.pick(["", ", gain=0.9", f', gain=1.0 + 0.1 * np.mean(params["b{i}"])'])
            bias = b.pick([f', params["b{i}"]', f', b=params["b{i}"]', ""])
            b.emit(f'h = layer({src}, params["W{i}"]{bias}{extra})')
            src = "h"
    elif pattern == "inline":
        src = "x"
        for i in range(1, n + 1):
            z = f'{src} @ params["W{i}"] + params["b{i}"]'
            b.emit(f"h = {act(z)}")
            src = "h"
    elif pattern == "fstring":
        key = b.pick(['f"W{i}"', '"W" + str(i)'])
        bkey = key.replace("W", "b")
        b.emit(
            f"h = x\nfor i in range(1, {n + 1}):\n"
            f"    h = {act(f'h @ params[{key}] + params[{bkey}]')}"
        )
    else:
        b.helpers["layer"] = f"def layer(W, b, h):\n    return {act('h @ W + b')}\n"
        b.emit('h = layer(params["W1"], params["b1"], x)')
        for i in range(2, n + 1):
            if b.p(0.5):
                b.emit(f'h = layer(h=h, W=params["W{i}"], b=params["b{i}"])')
            else:
                b.emit(f'h = layer(params["W{i}"], params["b{i}"], h)')
    if gain:
        b.emit('h = params["gain"] * h')
    b.knob(f"net:dict:{pattern}" + (":float_leaf" if gain else ""))
    reg_options = [
        "reg = 0.0\nfor k in params:\n    reg = reg + np.sum(params[k] ** 2)",
        "reg = sum(np.sum(v ** 2) for v in params.values())",
        'reg = 0.0\nfor k, v in params.items():\n    if k.startswith("W"):\n'
        "        reg = reg + np.sum(v * v)",
    ]
    first_W, last_b = 'params["W1"]', f'params["b{n}"]'
    b.dict_param = ("params", "W1", "b1")
    b.splices = ['acc = acc + 0.01 * norm2(*[params["W1"], params["b1"]])']
    return params, reg_options, first_W, last_b


def _net_nested(b: Builder, dims: list[int], Ws: list, bs: list):
    """A dict of layer dicts by name (sometimes with a ``head``); emits the lines computing ``h``."""
    n = len(Ws)
    act = b.act
    names = ["enc", "mid", "dec"][3 - n :] if n < 3 else ["enc", "mid", "dec"]
    params = {name: {"W": W, "b": c} for name, W, c in zip(names, Ws, bs)}
    head = b.p(0.3)
    if head:
        params["head"] = {"w": b.nudged(dims[-1])}
    options = ["names_loop", "inline", "dstar"] + ([] if head else ["items", "values"])
    pattern = b.pick(options)
    if pattern == "dstar":
        _splice_layers(b, "**", None, [f'params["{name}"]' for name in names])
    elif pattern == "names_loop":
        b.helpers["dense"] = "def dense(p, h):\n    return " + act('h @ p["W"] + p["b"]') + "\n"
        b.emit(f"h = x\nfor name in {tuple(names)!r}:\n    h = dense(params[name], h)")
    elif pattern == "inline":
        src = "x"
        for name in names:
            z = f'{src} @ params["{name}"]["W"] + params["{name}"]["b"]'
            b.emit(f"h = {act(z)}")
            src = "h"
    elif pattern == "items":
        b.emit(
            "h = x\nfor name, layer in params.items():\n"
            "    h = " + act('h @ layer["W"] + layer["b"]')
        )
    else:
        b.emit(
            "h = x\nfor layer in params.values():\n" "    h = " + act('h @ layer["W"] + layer["b"]')
        )
    if head:
        b.emit('h = h * params["head"]["w"]')
    b.knob(f"net:nested:{pattern}" + (":head" if head else ""))
    reg_options = [
        "reg = 0.0\nfor sub in params.values():\n    for v in sub.values():\n"
        "        reg = reg + np.sum(v ** 2)",
        "reg = sum(np.sum(v ** 2) for sub in params.values() for v in sub.values())",
    ]
    first_W, last_b = f'params["{names[0]}"]["W"]', f'params["{names[-1]}"]["b"]'
    b.dict_param = (f'params["{names[0]}"]', "W", "b")
    b.splices = [f'acc = acc + 0.01 * norm2(**params["{names[0]}"])']
    return params, reg_options, first_W, last_b


def _net_namedtuple(b: Builder, dims: list[int], Ws: list, bs: list):
    """A list of ``Layer`` namedtuples (sometimes wrapped in a ``Net``); emits the lines computing ``h``."""
    n = len(Ws)
    act = b.act
    b.preamble.append("from collections import namedtuple")
    b.preamble.append('Layer = namedtuple("Layer", ["W", "b"])')
    layers = [NT("Layer", {"W": W, "b": c}) for W, c in zip(Ws, bs)]
    wrapped = b.p(0.35)
    if wrapped:
        b.preamble.append('Net = namedtuple("Net", ["layers", "out"])')
        params = NT("Net", {"layers": layers, "out": b.nudged(dims[-1])})
        seq = "params.layers"
    else:
        params = layers
        seq = "params"
    pattern = b.pick(["attr_loop", "unpack", "helper", "inline"])
    if pattern == "attr_loop":
        b.emit(f"h = x\nfor layer in {seq}:\n    h = {act('h @ layer.W + layer.b')}")
    elif pattern == "unpack":
        b.emit(f"h = x\nfor W, b in {seq}:\n    h = {act('h @ W + b')}")
    elif pattern == "helper":
        b.helpers["dense"] = f"def dense(layer, h):\n    return {act('h @ layer.W + layer.b')}\n"
        b.emit(f"h = x\nfor layer in {seq}:\n    h = dense(layer, h)")
    else:
        src = "x"
        for i in range(n):
            b.emit(f"h = {act(f'{src} @ {seq}[{i}].W + {seq}[{i}].b')}")
            src = "h"
    if wrapped:
        b.emit("h = h + 0.5 * params.out")
    b.knob(f"net:namedtuple:{pattern}" + (":wrapped" if wrapped else ""))
    reg_options = [
        f"reg = sum(np.sum(l.W ** 2) + np.sum(l.b ** 2) for l in {seq})",
        f"reg = 0.0\nfor layer in {seq}:\n    for v in layer:\n        reg = reg + np.sum(v * v)",
    ]
    first_W, last_b = f"{seq}[0].W", f"{seq}[-1].b"
    b.splices = [
        f"acc = acc + 0.01 * norm2(*{seq}[0])",
        f"for layer in {seq}:\n    acc = acc + 0.01 * norm2(*layer)",
    ]
    return params, reg_options, first_W, last_b


def _network(b: Builder, struct: str, dims: list[int]):
    """Parameters of ``struct`` for layer widths ``dims``; emits the lines computing ``h``;
    returns them, the statements that may compute ``reg``, and the sources of the first
    layer's weight and the last layer's bias."""
    n = len(dims) - 1
    Ws = [b.weight(dims[i], dims[i + 1]) for i in range(n)]
    bs = [b.bias(dims[i + 1]) for i in range(n)]
    networks = _objects().NETWORKS if struct.startswith("objects_") else NETWORKS
    return networks[struct](b, dims, Ws, bs)


DENSE_CLASS = """@dataclass{frozen}
class Dense:
    W: np.ndarray
    b: np.ndarray
    act: Callable = np.tanh
    n: int = 1
    name: str = "dense"

    def __call__(self, h):
        return self.act(h @ self.W + self.b) / self.n
"""
MODEL_CLASS = """@dataclass{frozen}
class Model:
    layers: list
    out: np.ndarray
    scale: float = 1.0
    name: str = "model"
"""
ACT_SOURCES = {"tanh": "np.tanh", "sin": "np.sin", "softplus": "softplus"}


def _net_dataclass(b: Builder, dims: list[int], Ws: list, bs: list):
    """Parameters in module-level dataclasses (layers with a function, an int and a string
    setting; optionally a model holding the list of layers); emits the lines computing ``h``."""
    n = len(Ws)
    b.preamble += ["from dataclasses import dataclass", "from typing import Callable"]
    frozen = "(frozen=True)" if b.p(0.5) else ""
    b.helpers["class Dense"] = DENSE_CLASS.format(frozen=frozen)
    act_options = ["np.tanh", "np.sin"] + (["softplus"] if "softplus" in b.helpers else [])
    layers = [
        DC(
            "Dense",
            {
                "W": W,
                "b": c,
                "act": Setting(b.pick(act_options)),
                "n": Setting(str(b.pick([1, 1, 2]))),
                "name": Setting(repr(f"layer{i}")),
            },
        )
        for i, (W, c) in enumerate(zip(Ws, bs))
    ]
    wrapped = b.p(0.35)
    if wrapped:
        b.helpers["class Model"] = MODEL_CLASS.format(frozen="" if b.p(0.5) else "(frozen=True)")
        scale = float(round(b.r.uniform(0.6, 1.4), 3))
        out = b.nudged(dims[-1])
        params = DC("Model", {"layers": layers, "out": out, "scale": scale, "name": Setting("'m'")})
        seq = "params.layers"
    else:
        params = layers
        seq = "params"
    pattern = b.pick(["call_loop", "call_inline", "attr_loop", "act_field", "helper"])
    if pattern == "call_loop":
        b.emit(f"h = x\nfor layer in {seq}:\n    h = layer(h)")
    elif pattern == "call_inline":
        for i in range(n):
            b.emit(f"h = {seq}[{i}]({'h' if i else 'x'})")
    elif pattern == "attr_loop":
        b.emit(f"h = x\nfor layer in {seq}:\n    h = {b.act('h @ layer.W + layer.b')}")
    elif pattern == "act_field":
        b.emit(f"h = x\nfor p in {seq}:\n    h = p.act(h @ p.W + p.b) / p.n")
    else:
        b.helpers["dense"] = f"def dense(layer, h):\n    return {b.act('h @ layer.W + layer.b')}\n"
        b.emit(f"h = x\nfor layer in {seq}:\n    h = dense(layer, h)")
    if wrapped:
        b.emit("h = params.scale * h + 0.5 * params.out")
    b.knob(f"net:dataclass:{pattern}" + (":wrapped" if wrapped else ""))
    reg_options = [
        f"reg = sum(np.sum(l.W ** 2) + np.sum(l.b ** 2) for l in {seq})",
        f"reg = 0.0\nfor layer in {seq}:\n    reg = reg + np.sum(layer.W * layer.W)",
    ]
    b.splices = [f"acc = acc + 0.01 * norm2(*[{seq}[0].W, {seq}[0].b])"]
    return params, reg_options, f"{seq}[0].W", f"{seq}[-1].b"


NETWORKS = {
    "list_tuples": _net_list_tuples,
    "list_dicts": _net_list_dicts,
    "dict": _net_dict,
    "nested": _net_nested,
    "namedtuple": _net_namedtuple,
    "dataclass": _net_dataclass,
}


# ----------------------------------------------------------------------------------- features
# Each feature reads ``h`` (and ``x``, ``params``), may rebind ``h`` to an array of the same
# shape and values of order one, and may add to the float accumulator ``acc``.


def f_list(b: Builder, nd: int) -> None:
    n = 0
    start = b.pick(["hs = [h]", "hs = []", "hs = [0.5 * h]"])
    lines = [start]
    n += start != "hs = []"
    ops = [
        ("hs.append(np.tanh(h))", 1),
        ("hs.extend([0.5 * h, np.sin(h)])", 2),
        ("hs += [h * h]", 1),
        ("hs = hs + [np.cos(h)]", 1),
        ("hs.insert(0, 0.3 * h)", 1),
        ("hs.reverse()", 0),
        ("for i in range(3):\n    hs.append(np.tanh(h * (i + 1) * 0.5))", 3),
    ]
    popped = False
    for _ in range(b.r.randint(2, 4)):
        text, k = b.pick(ops)
        lines.append(text)
        n += k
        if not popped and n >= 2 and b.p(0.3):
            lines.append("last = hs.pop()")
            n -= 1
            popped = True
    if n == 0:
        lines.append("hs.append(np.tanh(h))")
    lines.append(
        b.pick(
            [
                "acc = acc + 0.1 * sum(np.sum(t) for t in hs)",
                "h = np.mean(np.stack(hs), axis=0)",
                "acc = acc + 0.1 * np.sum(sum(hs))",
                "for t in hs:\n    acc = acc + 0.1 * np.mean(t * h)",
                "acc = acc + np.mean(hs[-1] * hs[0])",
            ]
        )
    )
    if popped:
        lines.append("acc = acc + 0.2 * np.sum(last)")
    b.emit("\n".join(lines))


def f_dict(b: Builder, nd: int) -> None:
    if b.p(0.2):
        lines = ['d = {k: np.tanh(w * h) for k, w in (("a", 0.5), ("b", 1.5))}']
    else:
        lines = ['d = {"a": h, "b": np.tanh(h)}']
    if b.p(0.6):
        lines.append('d["c"] = d["a"] * d["b"]')
    if b.p(0.3):
        lines.append('d["a"] = np.sin(d["a"])')
    lines.append(
        b.pick(
            [
                "for k in d:\n    acc = acc + 0.1 * np.sum(d[k])",
                "for k, v in d.items():\n    acc = acc + 0.1 * np.mean(v * h)",
                "for v in d.values():\n    acc = acc + 0.1 * np.sum(v ** 2)",
                'acc = acc + np.sum(d["b"] * d["a"])',
                'h = 0.5 * (d["a"] + d["b"])',
            ]
        )
    )
    b.emit("\n".join(lines))


def f_comprehension(b: Builder, nd: int) -> None:
    b.emit(
        b.pick(
            [
                "zs = [np.tanh(w * h) for w in (0.5, -1.0, 1.5)]\nacc = acc + sum(np.mean(z) for z in zs)",
                "zs = [np.tanh(w * h) for w in (0.5, -1.0, 1.5)]\nh = sum(zs) / 3.0",
                "rows = [np.sin(r) + 0.1 * i for i, r in enumerate(h)]\nh = np.stack(rows)",
                "acc = acc + sum(np.sum(t ** 2) for t in (h, np.tanh(h)))",
                "acc = acc + sum([np.mean(r) for r in h])",
                "acc = acc + np.sum([np.mean(r * r) for r in h])",
            ]
        )
    )


def f_tuple_helper(b: Builder, nd: int) -> None:
    if b.p(0.5):
        b.helpers["moments"] = (
            "def moments(z):\n    m = np.mean(z)\n    return m, np.mean((z - m) ** 2)\n"
        )
        b.emit(
            b.pick(
                [
                    "mu, var = moments(h)\nacc = acc + mu + var",
                    "mu, var = moments(h)\nh = (h - mu) / np.sqrt(var + 1.0)",
                    "stats = moments(h)\nacc = acc + stats[0] * stats[1]",
                ]
            )
        )
    else:
        b.helpers["two_acts"] = (
            "def two_acts(z, *, gain=1.0):\n    return np.tanh(gain * z), np.sin(z)\n"
        )
        b.emit(
            b.pick(
                [
                    "a, c = two_acts(h, gain=0.7)\nh = 0.5 * (a + c)",
                    "a, c = two_acts(h)\nacc = acc + np.sum(a * c)",
                    "pair = two_acts(h)\nacc = acc + np.sum(pair[0] * pair[1])",
                ]
            )
        )


def f_views(b: Builder, nd: int) -> None:
    options = [
        "v = h[1:]\nacc = acc + np.sum(v * h[:-1])",
        "t = h.T\nacc = acc + 0.1 * np.sum(t @ h)",
        "r = h.reshape(-1)\nacc = acc + np.sum(r[::2] ** 2)",
        "u = h[::-1]\nh = 0.5 * (h + u)",
        "r = h.reshape(1, -1)\nacc = acc + 0.1 * np.sum(r @ r.T)",
    ]
    if nd == 2:
        options += [
            "col = h[:, 0]\nacc = acc + np.sum(col * h[:, -1])",
            "g = h.T @ h\nacc = acc + 0.01 * np.sum(g * g)",
            "row = h[0]\nacc = acc + np.sum(row * h[-1])",
        ]
    for _ in range(b.r.randint(1, 2)):
        b.emit(b.pick(options))


def f_writes(b: Builder, nd: int) -> None:
    kind = b.pick(["copy", "loop", "index_add"])
    if kind == "copy":
        lines = [
            b.pick(["z = h.copy()", "z = np.array(h)", "z = h * 1.0", "z = np.zeros_like(h) + h"])
        ]
        ops = [
            "z[0] = np.sin(h[0])",
            "z[-1] += 0.5 * h[0]",
            "z[1:] = 0.5 * z[1:] + 0.25 * h[:-1]",
            "z[0] *= 0.5",
        ]
        if nd == 2:
            ops.append("z[:, 0] = h[:, -1]")
        lines += b.r.sample(ops, b.r.randint(1, 3))
        lines.append(
            b.pick(
                [
                    "acc = acc + np.sum(z * h)",
                    "h = np.tanh(z)",
                    "acc = acc + np.sum(z[0] * h[-1])\nh = z",
                ]
            )
        )
    elif kind == "loop":
        lines = [
            "z = np.zeros_like(h)",
            "for i in range(len(h)):",
            "    z[i] = np.tanh(h[i] * (i + 1) * 0.5)",
        ]
        if b.p(0.5):
            lines.append("    z[i] += 0.1 * h[i - 1]")
        lines.append("h = z")
    else:
        k = b.pick([0, 1, -1])
        lines = [
            "z = h.copy()",
            f"z[{k}] += np.tanh(h[{k}])",
            f"acc = acc + np.sum(z[{k}] * h[{k}])",
        ]
    b.emit("\n".join(lines))


def f_aug_loop(b: Builder, nd: int) -> None:
    steps = b.steps()
    b.emit(
        b.pick(
            [
                "s = np.zeros_like(h[0])\nfor i in range(len(h)):\n    s += h[i] * (-1) ** i\n"
                "    s *= 0.9\nacc = acc + np.sum(s ** 2)",
                f"t = 0.0 * h\nfor i in range({steps}):\n    t += np.sin(h + i)\n    t -= 0.5 * t\n"
                "h = np.tanh(t)",
                f"for i in range({steps}):\n    acc += 0.1 * np.mean(np.tanh(h * (i + 1)))",
            ]
        )
    )


def f_swap(b: Builder, nd: int) -> None:
    steps = b.steps()
    b.emit(
        b.pick(
            [
                f"a, c = np.tanh(h), np.sin(h)\nfor i in range({steps}):\n    a, c = c, 0.5 * (a + c)\nh = a",
                "a, c = h, 0.5 * h\na, c = c, a\nacc = acc + np.sum(a * np.cos(c))",
            ]
        )
    )


def f_powers(b: Builder, nd: int) -> None:
    b.emit(
        b.pick(
            [
                "acc = acc + np.sum((1.0 + h * h) ** -2)",
                "acc = acc + 0.1 * np.mean((h * h + 0.5) ** -1)",
                "for k in range(3):\n    acc = acc + (-1) ** k * np.mean(h ** (k + 1))",
                "acc = acc + 0.1 * np.sum(np.exp(0.5 * h) ** -2)",
                "h = h * (1.5 + np.tanh(h)) ** -1",
            ]
        )
    )


def f_masks(b: Builder, nd: int) -> None:
    t1 = b.thr(-0.6, 0.6)
    t2 = b.thr(-0.6, 0.6)
    if t2 == t1:
        t2 = round(t1 + 0.17, 2)
    lo, hi = min(t1, t2), max(t1, t2)
    b.emit(
        b.pick(
            [
                f"h = np.tanh(np.maximum(h, {t1}) + np.maximum(h, {t2}))",
                f"acc = acc + np.sum((h > {t1}) * h)",
                f"h = np.where(h > {t1}, np.sin(h), 0.5 * h)",
                f"acc = acc + np.sum(np.minimum(h, {t1}) ** 2)",
                f"acc = acc + np.sum(h[h > {t1}])",
                f"h = np.clip(h, {lo}, {hi})",
                f"acc = acc + 0.5 * np.sum(np.abs(h - {t1}))",
                f"m = (h > {t1}) + (h < {t2})\nacc = acc + np.sum(m * h)",
            ]
        )
    )


def f_early_return(b: Builder, nd: int) -> None:
    t = b.thr(-0.5, 0.5)
    b.emit(
        b.pick(
            [
                f"if np.mean(h) > {t}:\n    return acc + np.mean(h * h)",
                f"for i in range(3):\n    h = np.tanh(h + 0.3 * np.sin(h))\n    if np.sum(h) > {t * 2}:\n"
                "        return acc + np.mean(h * h)",
            ]
        )
    )


def f_while(b: Builder, nd: int) -> None:
    options = [
        f"k = 0\nwhile np.sum(h * h) > {b.thr(0.1, 2.0)} and k < 3:\n"
        "    h = 0.7 * h + 0.1 * np.sin(h)\n    k += 1",
        f"k = 0\nwhile k < 4:\n    k += 1\n    h = np.tanh(1.3 * h + 0.1)\n"
        f"    if np.max(h) > {b.thr(0.0, 0.9)}:\n        break\n"
        f"    if np.mean(h) < {b.thr(-0.5, 0.5)}:\n        continue\n    acc = acc + 0.1 * np.mean(h)",
        f"n = 0\nwhile np.mean(h) < {b.thr(-0.3, 0.6)} and n < 3:\n    h = h + 0.2\n    n = n + 1",
    ]
    b.emit(b.pick(options))


def f_for_jumps(b: Builder, nd: int) -> None:
    t = b.thr(-0.5, 0.5)
    b.emit(
        b.pick(
            [
                f"for i, row in enumerate(h):\n    if np.mean(row) < {t}:\n        continue\n"
                f"    acc = acc + 0.2 * np.sum(np.sin(row)) + 0.01 * i\n    if acc > {b.thr(-0.5, 1.0)}:\n"
                "        break",
                f"for i in range(len(h)):\n    if np.sum(h[i]) > {t}:\n        acc = acc + np.sum(h[i] ** 2)\n"
                "    else:\n        acc = acc - 0.5 * np.sum(h[i])",
            ]
        )
    )


def f_smooth(b: Builder, nd: int) -> None:
    options = [
        "h = np.tanh(h)",
        "h = np.sin(h)",
        "h = np.log(1.0 + h * h) - 0.3 * h",
        "h = np.exp(-h * h) * h",
        "acc = acc + 0.1 * np.sum(np.log(np.exp(h) + 1.0))",
        "h = np.sqrt(h * h + 1.0) - 1.0",
    ]
    if "softplus" in b.helpers:
        options.append("h = softplus(h) - 0.5")
    b.emit(b.pick(options))


def f_reduce(b: Builder, nd: int) -> None:
    options = [
        "h = h - np.mean(h, axis=0)",
        "h = h / (1.0 + np.sum(h * h, axis=-1, keepdims=True))",
        "acc = acc + np.sum(np.mean(h, axis=0) ** 2)",
        "acc = acc + 0.1 * np.sum(h.sum(axis=-1))",
        "acc = acc + np.max(np.sum(h, axis=0))",
    ]
    if nd == 2:
        options += [
            "h = h * np.mean(h, axis=1, keepdims=True)",
            "h = h + np.mean(h, axis=0)",
            "acc = acc + 0.1 * np.sum(h.mean(axis=1) ** 2)",
        ]
    b.emit(b.pick(options))


def f_params_use(b: Builder, nd: int) -> None:
    b.emit(
        b.pick(
            [
                f"acc = acc + 0.1 * np.sum(np.tanh(x @ {b.first_W}) ** 2)",
                f"h = h + 0.1 * {b.last_b}",
            ]
        )
    )


def f_kwonly(b: Builder, nd: int) -> None:
    b.emit(b.pick(["h = scale * h", "for i in range(steps):\n    h = np.tanh(h + 0.1 * scale)"]))


NORM2 = "def norm2(W, b):\n    return np.sum(W * W) + 0.5 * np.sum(b * b)\n"


def f_star(b: Builder, nd: int) -> None:
    """Star calls: ``*``/``**`` of a parameter path or loop item, ``*x.shape``, ``[*hs, h]``."""
    options = [
        "r = h.reshape(*x.shape[:-1], 1, -1)\nacc = acc + np.sum(np.tanh(r) * r)",
        "r = h.reshape(*x.shape[:-1], -1, 1)\nh = np.sin(r).reshape(h.shape)",
        "hs = [np.tanh(h), np.sin(h)]\nh = np.mean(np.stack([*hs, h]), axis=0)",
    ]
    if b.p(0.6):
        b.helpers["norm2"] = NORM2
        b.emit(b.pick(b.splices))
    else:
        b.emit(b.pick(options))


COMBINE = {
    "index": "def combine(*xs):\n    out = xs[0]\n    for i in range(1, len(xs)):\n"
    "        out = out + 0.5 * xs[i]\n    return out / len(xs)\n",
    "loop": "def combine(*xs):\n    s = 0.0\n    for v in xs:\n        s = s + np.tanh(v)\n"
    "    return s * (1.0 / len(xs))\n",
    "head": "def combine(z, *xs):\n    for v in xs:\n        z = z * 0.5 + 0.5 * np.sin(v)\n"
    "    return z\n",
}
SHIFTED = (
    "def shifted(z, w=None, **opts):\n"
    '    out = opts.get("gain", 1.0) * z + opts["shift"]\n'
    "    if w is not None:\n        out = out * w\n    return np.tanh(out)\n"
)


def f_varargs(b: Builder, nd: int) -> None:
    if b.p(0.5):
        b.helpers["combine"] = COMBINE[b.pick(sorted(COMBINE))]
        extras = ["np.sin(h)", "0.5 * h", "np.tanh(h) * h"][: b.r.randint(0, 2)]
        call = "combine(" + ", ".join(["h"] + extras) + ")"
        b.emit(b.pick([f"h = {call}", f"acc = acc + 0.2 * np.sum({call} ** 2)"]))
        return
    b.helpers["shifted"] = SHIFTED
    w = b.pick(["", "np.cos(h), ", "w=0.5 * h, "])
    gain = b.pick(["", "gain=0.8, ", "gain=1.0 + 0.1 * np.mean(h), "])
    shift = b.pick(["0.1", "0.2 * np.mean(h)", "np.sin(h)", f"0.1 * {b.last_b}"])
    b.emit(
        b.pick(
            [
                f"h = shifted(h, {w}{gain}shift={shift})",
                f"acc = acc + np.mean(shifted(h, {w}{gain}shift={shift}))",
            ]
        )
    )


def f_dict_copy(b: Builder, nd: int) -> None:
    if b.dict_param is not None and b.p(0.7):
        base, wk, bk = b.dict_param
        read = f'acc = acc + 0.1 * np.sum(np.tanh(x @ q["{wk}"] + q["{bk}"]) ** 2)'
    else:
        base, wk, bk = "d", "a", "c"
        b.emit('d = {"a": h, "c": np.tanh(h)}')
        read = 'acc = acc + 0.1 * np.sum(q["a"] * q["c"])'
    copies = [
        f"q = dict({base})",
        f"q = dict({base}, {bk}=0.5 * {base}[{bk!r}])",
        f"q = {{**{base}, {bk!r}: np.tanh({base}[{bk!r}])}}",
        f"q = {base} | {{{bk!r}: {base}[{bk!r}] + 0.1}}",
        f"q = {base}.copy()\nq[{wk!r}] = q[{wk!r}] * 2.0",
    ]
    b.emit(b.pick(copies).replace("'", '"'))
    b.emit(read)
    if b.p(0.5):
        b.emit(f'acc = acc + 0.05 * np.sum({base}["{wk}"] ** 2)')


def f_closures(b: Builder, nd: int) -> None:
    """Nested functions and lambdas reading differentiated values of the function."""
    b.emit(
        b.pick(
            [
                "w0 = np.mean(h)\ndef bump(u):\n    return u + w0 * np.sin(u)\nh = bump(bump(h))",
                "c0 = np.tanh(h)\nsq = lambda u: u * c0\nacc = acc + np.sum(sq(h))",
                "def rep(u, k):\n    if k == 0:\n        return u\n    return rep(np.tanh(u + w1), k - 1)"
                "\nw1 = 0.5 * h\nh = rep(h, 2)",
                "m = 0.3 * h\ndef stp(u):\n    return np.sin(u) * m\nfor i in range(2):\n"
                "    h = stp(h) + h\n    m = m * 0.5",
                "def inner(u):\n    return u * np.mean(h)\ndef outer(u):\n    return np.tanh(inner(u))"
                "\nacc = acc + np.sum(outer(h))",
            ]
        )
    )


def f_python_numbers(b: Builder, nd: int) -> None:
    """Python's own max/min, math and float on differentiated values."""
    t = b.thr(-0.5, 0.5)
    b.emit(
        b.pick(
            [
                f"acc = acc + max(np.sum(h), {t}) + min(np.mean(h), {t - 0.4})",
                f"acc = acc + max([np.sum(h), np.mean(h) * 2.0, {t}])",
                "s = float(np.sum(h * h)) + 0.5\nacc = acc + math.log(s) + math.sqrt(s) + math.exp(-s)",
                "acc = acc + min(abs(np.sum(h)), math.tanh(np.mean(h)) + 2.0)",
                "acc = acc + pow(np.mean(h * h) + 0.2, 1.5)",
            ]
        )
    )


def f_checks(b: Builder, nd: int) -> None:
    """Input checks kept in the forward code (they never fire on the programs' inputs)."""
    b.emit(
        b.pick(
            [
                "if not np.all(np.isfinite(h)):\n    raise FloatingPointError('h is not finite')",
                "assert h.ndim >= 1, 'an array expected'",
                "if np.max(np.abs(h)) > 1e6:\n    raise ValueError(f'too large: {np.max(h)}')",
            ]
        )
    )


def f_rebound_writes(b: Builder, nd: int) -> None:
    """A view given a new array, then written in place: no longer shares memory."""
    b.emit(
        b.pick(
            [
                "z = h.reshape(-1)\nz = z * 0.5\nz += 0.1\nacc = acc + np.sum(z ** 2)",
                "v = h[::2]\nv = np.tanh(v)\nv[0] = 0.3\nacc = acc + np.sum(v * v)",
                "t = h.T\nt = t - np.mean(t)\nt /= 2.0\nh = h + 0.1 * t.T",
            ]
        )
    )


def f_statement_forms(b: Builder, nd: int) -> None:
    """``match``, loops with ``else``, a list's pop inside an expression, ``min`` with
    ``key=``, an array times a list, order statistics and strided reversed loops."""
    t = b.thr(-0.5, 0.5)
    mode = b.pick(["a", "b", "c", "z"])
    b.emit(
        b.pick(
            [
                f"mode = {mode!r}\nmatch mode:\n    case 'a':\n        h = np.tanh(h)\n"
                "    case 'b' | 'c':\n        h = np.sin(h) * 0.5\n"
                "    case _:\n        acc = acc + np.sum(h * h)",
                f"for i in range(len(h)):\n    if np.sum(h[i]) > {t}:\n        break\n"
                "    acc = acc + 0.3 * np.sum(np.sin(h[i]))\nelse:\n    acc = acc * 1.5",
                f"k = 0\nwhile k < 2:\n    h = 0.8 * h + 0.1 * np.tanh(h)\n    k += 1\n"
                f"else:\n    acc = acc + np.mean(h) * {t}",
                "stack = [h * 0.5, np.sin(h)]\nwhile stack:\n"
                "    acc = acc + 0.2 * np.sum(stack.pop() ** 2)",
                "acc = acc + np.sum(min([h, h * 0.5 + 0.1], key=lambda v: float(np.sum(v))) ** 2)",
                "h = h * list(np.linspace(0.5, 1.5, h.shape[-1]))",
                f"acc = acc + np.median(h) + np.quantile(h, {abs(t):.3f}) * 0.5",
                "for i in reversed(range(0, h.shape[-1], 2)):\n"
                "    acc = acc * 0.9 + np.sum(np.tanh(h[..., i]))",
            ]
        )
    )


def f_functional_forms(b: Builder, nd: int) -> None:
    """``map``/``filter``/``functools.reduce`` with lambdas and named functions (lowered to
    comprehensions and loops) and ``np.cumprod``."""
    t = b.thr(0.5, 1.5)
    b.emit(
        b.pick(
            [
                "acc = acc + sum(map(lambda r: np.sum(np.tanh(r)), [h, h * 0.5]))",
                f"h = functools.reduce(lambda a, s: np.sin(a) * s, [{t}, 0.9], h)",
                "acc = acc + sum(np.sum(v * v) for v in filter(lambda v: v.size > 1, [h, h[:1]]))",
                "acc = acc + np.sum(np.stack(list(map(np.tanh, [h, h * 2.0]))) ** 2)",
                "acc = acc + np.sum(np.cumprod(np.tanh(h).ravel()[:4] + 1.0))",
                "acc = functools.reduce(lambda a, v: a + np.mean(v), [h, np.cos(h)], acc)",
            ]
        )
    )


FEATURES = {
    "list": f_list,
    "dict": f_dict,
    "comprehension": f_comprehension,
    "tuple_helper": f_tuple_helper,
    "views": f_views,
    "writes": f_writes,
    "aug_loop": f_aug_loop,
    "swap": f_swap,
    "powers": f_powers,
    "masks": f_masks,
    "early_return": f_early_return,
    "while": f_while,
    "for_jumps": f_for_jumps,
    "smooth": f_smooth,
    "reduce": f_reduce,
    "params_use": f_params_use,
    "star": f_star,
    "varargs": f_varargs,
    "dict_copy": f_dict_copy,
    "closures": f_closures,
    "python_numbers": f_python_numbers,
    "checks": f_checks,
    "rebound_writes": f_rebound_writes,
    "statement_forms": f_statement_forms,
    "functional_forms": f_functional_forms,
}
FEATURES.update(ALIASING_FEATURES)

#: which features a program draws: None (all of FEATURES), "aliasing" (one or two of the
#: aliasing family's, sometimes with one other), "objects" (code written with objects:
#: tests/program_fuzz_objects.py, its networks and one to three of its features, sometimes
#: with one other) or "python" (Python language features: tests/program_fuzz_python.py, one
#: to three, sometimes with one other); ``benchmarks/fuzz.py --family`` sets it
FAMILY: str | None = None
OBJECTS_HVP_FRACTION = 0.4


def _objects():
    """The objects family's module (imported when drawn: it imports this one)."""
    from tests import program_fuzz_objects

    return program_fuzz_objects


def _v_like(b: Builder, tree):
    if isinstance(tree, NT):
        return NT(tree.cls, {k: _v_like(b, v) for k, v in tree.fields.items()})
    if isinstance(tree, DC):
        return DC(tree.cls, {k: _v_like(b, v) for k, v in tree.fields.items()})
    if isinstance(tree, Setting):
        return tree
    if isinstance(tree, dict):
        return {k: _v_like(b, v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_v_like(b, v) for v in tree)
    if isinstance(tree, list):
        return [_v_like(b, v) for v in tree]
    if isinstance(tree, float):
        return float(b.np.normal())
    return b.np.normal(size=np.shape(tree))


def _feature_names(b: Builder) -> list[str]:
    if FAMILY == "aliasing":
        names = b.r.sample(sorted(ALIASING_FEATURES), b.r.randint(1, 2))
        if b.p(0.4):
            others = sorted(set(FEATURES) - set(ALIASING_FEATURES))
            names.insert(b.r.randint(0, len(names)), b.pick(others))
        return names
    if FAMILY == "objects":
        return _objects().feature_names(b, sorted(FEATURES))
    if FAMILY == "python":
        return _python().feature_names(b, sorted(set(FEATURES) - set(ALIASING_FEATURES)))
    return b.r.sample(sorted(FEATURES), b.r.randint(1, 5))


def _python():
    """The Python-features family's module (imported when drawn)."""
    from tests import program_fuzz_python

    return program_fuzz_python


def _training():
    """The training family's module (imported when drawn: it imports this one)."""
    from tests import program_fuzz_training

    return program_fuzz_training


def generate(seed: int) -> Program:
    """The program of ``seed`` (deterministic)."""
    if FAMILY == "training":
        return _training().generate(seed)
    b = Builder(seed)
    b.act_name = b.pick(["tanh", "tanh", "sin", "softplus"])
    if b.act_name == "softplus":
        b.helpers["softplus"] = SOFTPLUS
    structs = ["dict", "list_tuples", "list_dicts", "nested", "namedtuple", "dataclass"]
    if FAMILY == "objects":
        structs = sorted(_objects().NETWORKS) * 2 + ["dataclass"]
    struct = b.pick(structs)
    n_layers = b.pick([1, 2, 2, 3])
    dims = [b.r.randint(2, 4) for _ in range(n_layers + 1)]
    batch = b.pick([None, 2, 3])
    nd = 1 if batch is None else 2
    x = b.nudged((dims[0],) if batch is None else (batch, dims[0]))
    b.kwonly = b.p(0.3)
    params, reg_options, b.first_W, b.last_b = _network(b, struct, dims)
    b.width = dims[-1]
    y = b.nudged((dims[-1],) if batch is None else (batch, dims[-1]))

    kwargs = {}
    if b.kwonly:
        b.knob("kwonly")
        if b.p(0.5):
            kwargs["scale"] = 0.7
        if b.p(0.5):
            kwargs["steps"] = 3
        if b.p(0.5):
            f_kwonly(b, nd)
    names = _feature_names(b)
    reg = b.p(0.35)
    if reg:
        b.emit(b.pick(reg_options))
        b.knob("reg")
    if names:
        b.emit("acc = 0.0")
    features = FEATURES
    if FAMILY == "objects":
        features = {**FEATURES, **_objects().FEATURES}
    elif FAMILY == "python":
        features = {**FEATURES, **_python().FEATURES}
    for name in names:
        b.knob(name)
        features[name](b, nd)
    loss = "np.mean((h - y) ** 2)"
    if names:
        loss += " + 0.1 * acc"
    if reg:
        loss += " + 0.01 * reg"
    b.emit(f"return {loss}")

    sig = "params, x, y, *, scale=0.8, steps=2" if b.kwonly else "params, x, y"
    if b.object_kwargs:
        sig += (", " if b.kwonly else ", *, ") + ", ".join(b.object_kwargs)
        kwargs.update(b.object_kwargs)
    parts = ["import functools", "import math", "", "import numpy as np"] + b.preamble + [""]
    for text in b.helpers.values():
        parts += ["", text]
    parts += ["", f"def f({sig}):"] + ["    " + line for line in b.body]
    source = "\n".join(parts) + "\n"
    wrt = (0, 1) if b.p(0.2) else 0
    aliasing = any(name in ALIASING_FEATURES for name in names)
    fraction = ALIASING_HVP_FRACTION if aliasing else HVP_FRACTION
    hvp = b.p(OBJECTS_HVP_FRACTION if FAMILY in ("objects", "python") else fraction)
    hvp_v = _v_like(b, params) if hvp else None
    return Program(seed, source, params, x, y, kwargs, wrt, hvp, hvp_v, b.knobs)


# ------------------------------------------------------------------------------- trees


def realize(tree, module):
    """The argument tree with NT and DC markers made into the module's namedtuples and
    dataclass instances, settings evaluated in the module (fresh arrays)."""
    if isinstance(tree, (NT, DC)):
        cls = getattr(module, tree.cls)
        return cls(**{k: realize(v, module) for k, v in tree.fields.items()})
    if isinstance(tree, Setting):
        return eval(tree.expr, vars(module))  # noqa: S307 - an expression the generator wrote
    if isinstance(tree, dict):
        return {k: realize(v, module) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(realize(v, module) for v in tree)
    if isinstance(tree, list):
        return [realize(v, module) for v in tree]
    if isinstance(tree, float):
        return tree
    return np.array(tree, dtype=np.float64)


def is_record(x) -> bool:
    """Whether ``x`` is a dataclass instance (not a class) or an object of a plain class of the
    program (its ``__init__`` written in Python, its fields its attributes)."""
    if isinstance(x, type):
        return False
    if dataclasses.is_dataclass(x):
        return True
    init = getattr(type(x), "__init__", None)
    return inspect.isfunction(init) and not isinstance(x, tuple) and hasattr(x, "__dict__")


def record_fields(x) -> dict:
    """``{name: value}`` of every field of the record ``x``, in declaration order (a plain
    object's in the order its ``__init__`` stored them)."""
    if dataclasses.is_dataclass(x):
        return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}
    return dict(vars(x))


def is_setting(x) -> bool:
    """Whether ``x``, a dataclass field, is a setting (no derivative; kept as it is)."""
    if is_record(x):
        return False
    return x is None or isinstance(x, (str, bytes, int, np.integer, np.bool_)) or callable(x)


def record_leaf_fields(x) -> dict:
    """``{name: value}`` of the record ``x``'s non-setting fields, in declaration order."""
    values = record_fields(x)
    return {k: v for k, v in values.items() if not is_setting(v)}


def leaves(tree) -> list:
    """The float and array leaves of ``tree`` in order (a record's settings skipped)."""
    if is_record(tree):
        return [leaf for v in record_leaf_fields(tree).values() for leaf in leaves(v)]
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for c in tree for leaf in leaves(c)]
    return [tree]


def unflatten(like, it):
    if is_record(like):
        out = copy.copy(like)
        for k, v in record_leaf_fields(like).items():
            object.__setattr__(out, k, unflatten(v, it))
        return out
    if isinstance(like, dict):
        return {k: unflatten(like[k], it) for k in like}
    if isinstance(like, tuple) and hasattr(like, "_fields"):
        return type(like)(*[unflatten(c, it) for c in like])
    if isinstance(like, tuple):
        return tuple(unflatten(c, it) for c in like)
    if isinstance(like, list):
        return [unflatten(c, it) for c in like]
    return next(it)


def to_vector(tree) -> np.ndarray:
    parts = [np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in leaves(tree)]
    return np.concatenate(parts) if parts else np.zeros(0)


def from_vector(like, vec: np.ndarray):
    out, o = [], 0
    for leaf in leaves(like):
        size = int(np.size(leaf))
        piece = vec[o : o + size]
        o += size
        out.append(
            float(piece[0]) if isinstance(leaf, float) else piece.reshape(np.shape(leaf)).copy()
        )
    return unflatten(like, iter(out))


def structure_mismatch(got, like, path="") -> str | None:
    """Why ``got`` does not have the structure (containers, keys, leaf kinds/shapes) of ``like``;
    a record must be of ``like``'s class with the same settings."""
    if is_record(like):
        if type(got) is not type(like):
            return f"{path or 'root'}: {type(got).__name__} for {type(like).__name__}"
        got_fields = record_fields(got)
        for name, c in record_fields(like).items():
            g = got_fields.get(name)
            if is_setting(c):
                if g is not c and g != c:
                    return f"{path}.{name}: setting {g!r} for {c!r}"
                continue
            m = structure_mismatch(g, c, f"{path}.{name}")
            if m:
                return m
        return None
    if isinstance(like, dict):
        if not isinstance(got, dict) or list(got) != list(like):
            return f"{path or 'root'}: {type(got).__name__} {list(got) if isinstance(got, dict) else ''} for dict {list(like)}"
        for k in like:
            m = structure_mismatch(got[k], like[k], f"{path}[{k!r}]")
            if m:
                return m
        return None
    if isinstance(like, (list, tuple)):
        if type(got) is not type(like) or len(got) != len(like):
            return (
                f"{path or 'root'}: {type(got).__name__} for {type(like).__name__} of {len(like)}"
            )
        for i, (g, c) in enumerate(zip(got, like)):
            m = structure_mismatch(g, c, f"{path}[{i}]")
            if m:
                return m
        return None
    if isinstance(like, float):
        if not isinstance(got, float):
            return f"{path}: {type(got).__name__} for a float leaf"
        return None
    if not isinstance(got, np.ndarray) or got.shape != np.shape(like):
        return f"{path}: {type(got).__name__} of shape {np.shape(got)} for shape {np.shape(like)}"
    return None


def arguments_differ(got, python, before) -> str | None:
    """Why the arguments ``got`` after a call of the derivative are not what Python's own call
    left (``python``; ``before``: the arguments before either call), or None."""
    mismatch = structure_mismatch(got, python)
    if mismatch is None and trees_close(got, python):
        return None
    if trees_equal(python, before):
        return "the derivative modified the arguments"
    if trees_equal(got, before):
        return "the function modifies its arguments; the derivative left them as they were"
    return "the derivative modified the arguments other than the function does"


def trees_close(a, b) -> bool:
    la, lb = leaves(a), leaves(b)
    return len(la) == len(lb) and all(
        np.shape(u) == np.shape(v) and np.allclose(u, v, rtol=VALUE_RTOL, atol=0.0)
        for u, v in zip(la, lb)
    )


def trees_equal(a, b) -> bool:
    la, lb = leaves(a), leaves(b)
    return len(la) == len(lb) and all(
        type(u) is type(v) and np.shape(u) == np.shape(v) and np.array_equal(u, v)
        for u, v in zip(la, lb)
    )


# ------------------------------------------------------------------------------- checking


class FuzzTimeout(BaseException):
    """Raised by the alarm when a program runs past its budget (a BaseException, so that no
    ``except Exception`` inside sourcegrad swallows it)."""


@dataclass
class Result:
    seed: int
    category: str
    phase: str = ""  # "call 1", "call 2", "hvp", ...
    detail: str = ""
    cause: str = ""  # key to deduplicate by

    @property
    def failed(self) -> bool:
        return self.category in FAILURES


_modules = itertools.count()


def load(directory: Path, source: str, stem: str = "sg_fuzz"):
    name = f"{stem}_{os.getpid()}_{next(_modules)}"
    path = Path(directory) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def normalize_message(text: str) -> str:
    """A refusal/exception message without the file:line, names, numbers and shapes."""
    text = text.strip().split("\n")[0]
    text = re.sub(r"^\S+\.py:\d+:\s*", "", text)
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r'"[^"]*"', '"…"', text)
    text = re.sub(r"\([^()]*\)", "(…)", text)
    text = re.sub(r"\b\w+'s\b", "X's", text)
    text = re.sub(r"\b(copy of|index) [A-Za-z_]\w*\b", r"\1 X", text)
    text = re.sub(r"\d+", "N", text)
    return text[:140]


#: the directory of the sourcegrad package under test, with a trailing slash
_PACKAGE = os.path.dirname(os.path.abspath(sg.__file__)).replace("\\", "/") + "/"


def classify_exception(exc: BaseException) -> str:
    if isinstance(exc, FuzzTimeout):
        return "timeout"
    if isinstance(exc, sg.SourcegradError):
        # (one raised when the derivative runs, `not_a_view`, is a refusal too; whether it
        # names the user's line is checked by check_program)
        return "refusal"
    return "internal"


def _exception_result(seed, exc, phase) -> Result:
    category = classify_exception(exc)
    message = getattr(exc, "reason", None) or str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    if tb:
        frame = tb[-1]
        fname = frame.filename.replace("\\", "/")
        if fname.startswith(_PACKAGE):  # a line of the library (not generated code in a cache)
            where = f" at sourcegrad/{fname[len(_PACKAGE):]}:{frame.lineno} ({frame.name})"
        else:  # generated code (its line numbers depend on the program)
            where = f" in generated {frame.name.split('_')[0]}"
    detail = f"{type(exc).__name__}: {str(exc)[:2000]}{where if category != 'refusal' else ''}"
    if category == "refusal":
        cause = normalize_message(message)
    else:
        cause = f"{type(exc).__name__}: {normalize_message(str(exc))}{where}"
    return Result(seed, category, phase, detail, cause)


def _close(a, b, rtol, atol) -> bool:
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _fd_gradient(fun, like, eps):
    x0 = to_vector(like)
    g = np.zeros_like(x0)
    for j in range(x0.size):
        xp, xm = x0.copy(), x0.copy()
        xp[j] += eps
        xm[j] -= eps
        g[j] = (fun(from_vector(like, xp)) - fun(from_vector(like, xm))) / (2 * eps)
    return g


def check_program(prog: Program, directory, *, do_hvp: bool | None = None) -> Result:
    if getattr(prog, "steps", None) is not None:  # a training loop (its own steps)
        return _training().check_program(prog, directory)
    try:
        module = load(directory, prog.source)
        module.f  # noqa: B018
        realize(prog.params, module)  # the shrinker may have removed a namedtuple class
    except Exception as exc:  # noqa: BLE001 - a generator (or shrinker) bug
        return Result(
            prog.seed,
            "invalid_program",
            "import",
            f"{type(exc).__name__}: {exc}",
            f"import: {type(exc).__name__}",
        )
    try:
        r = check_module(prog, module, do_hvp=prog.hvp if do_hvp is None else do_hvp)
    finally:
        sys.modules.pop(module.__name__, None)
    if r.category == "refusal" and not re.search(re.escape(module.__file__) + r":\d+", r.detail):
        r = Result(r.seed, "unlocated_refusal", r.phase, r.detail, r.cause)
    return r


def check_module(prog: Program, module, *, do_hvp: bool) -> Result:
    seed = prog.seed
    f = module.f
    params = realize(prog.params, module)
    base_args = (params, prog.x.copy(), prog.y.copy())
    kwargs = {k: realize(v, module) if isinstance(v, DC) else v for k, v in prog.kwargs.items()}
    idxs = prog.wrt if isinstance(prog.wrt, tuple) else (prog.wrt,)

    def fresh():
        return copy.deepcopy(base_args)

    # the program itself must run, return a finite scalar and leave its arguments alone
    try:
        args = fresh()
        ref = f(*args, **kwargs)
        ref = float(ref)
    except FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - a generator bug
        return Result(
            seed,
            "invalid_program",
            "f",
            f"{type(exc).__name__}: {exc}",
            f"{type(exc).__name__}: {normalize_message(str(exc))}",
        )
    if not np.isfinite(ref):
        return Result(seed, "invalid_program", "f", f"value {ref}", "non-finite value")
    after_f = args  # what Python leaves of the arguments (a program may write into them)

    like = tuple(base_args[i] for i in idxs)

    def value_at(tree):
        a = list(fresh())
        for i, t in zip(idxs, tree):
            a[i] = t
        return float(f(*a, **kwargs))

    expected = _fd_gradient(value_at, like, FD_EPS)
    expected_coarse = None

    try:
        vg = sg.value_and_grad(f, prog.wrt)
    except FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_result(seed, exc, "value_and_grad(f)")

    wrong_value, wrong_grad, shape_bad = [], [], []
    details = []
    for call in (1, 2, 3):
        args = fresh()
        try:
            value, grad = vg(*args, **kwargs)
        except FuzzTimeout:
            raise
        except Exception as exc:  # noqa: BLE001
            return _exception_result(seed, exc, f"call {call}")
        changed = arguments_differ(args, after_f, base_args)
        if changed:
            return Result(seed, "mutated_input", f"call {call}", changed, changed)
        try:
            value = float(value)
        except Exception as exc:  # noqa: BLE001
            return Result(
                seed, "internal", f"call {call}", f"value {value!r}: {exc}", "value is not a scalar"
            )
        if not abs(value - ref) <= VALUE_RTOL * max(1.0, abs(ref)):
            wrong_value.append(call)
            details.append(f"call {call}: value {value!r}, f gives {ref!r}")
        got = grad if isinstance(prog.wrt, tuple) else (grad,)
        mismatch = structure_mismatch(got, like)
        if mismatch:
            shape_bad.append(call)
            details.append(f"call {call}: gradient structure: {mismatch}")
            continue
        vec = to_vector(got)
        if not np.all(np.isfinite(vec)) or not _close(vec, expected, FD_RTOL, FD_ATOL):
            if expected_coarse is None:
                expected_coarse = _fd_gradient(value_at, like, 10 * FD_EPS)
            if not _close(expected, expected_coarse, 1e-3, 1e-5):
                return Result(seed, "near_boundary", f"call {call}", "finite differences disagree")
            wrong_grad.append(call)
            bad = np.flatnonzero(~np.isclose(vec, expected, rtol=FD_RTOL, atol=FD_ATOL))
            details.append(
                f"call {call}: gradient differs at {bad.size} of {vec.size} entries, e.g. "
                f"[{bad[0]}] sourcegrad {vec[bad[0]]!r} vs finite differences {expected[bad[0]]!r}"
            )
    calls = lambda cs: ",".join(map(str, cs))  # noqa: E731
    if wrong_value:
        return Result(
            seed,
            "wrong_value",
            f"calls {calls(wrong_value)}",
            "\n".join(details),
            f"wrong value on calls {calls(wrong_value)}",
        )
    if shape_bad:
        return Result(
            seed,
            "wrong_gradient",
            f"calls {calls(shape_bad)}",
            "\n".join(details),
            f"gradient structure on calls {calls(shape_bad)}",
        )
    if wrong_grad:
        return Result(
            seed,
            "wrong_gradient",
            f"calls {calls(wrong_grad)}",
            "\n".join(details),
            f"wrong gradient on calls {calls(wrong_grad)}",
        )

    if do_hvp:
        return _check_hvp(prog, module, base_args, after_f, kwargs, vg if prog.wrt == 0 else None)
    return Result(seed, "ok")


def _check_hvp(prog, module, base_args, after_f, kwargs, vg) -> Result:
    seed = prog.seed
    f = module.f
    v = realize(prog.hvp_v, module)
    like = base_args[0]
    try:
        g = vg if vg is not None else sg.value_and_grad(f, 0)
        args = copy.deepcopy(base_args)
        hv = sg.hvp(f)(*args, copy.deepcopy(v), **kwargs)
    except FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_result(seed, exc, "hvp")
    changed = arguments_differ(args, after_f, base_args)
    if changed:
        return Result(seed, "mutated_input", "hvp", changed, changed)
    mismatch = structure_mismatch(hv, like)
    if mismatch:
        return Result(seed, "wrong_hvp", "hvp", f"structure: {mismatch}", "hvp structure")
    x0, dv = to_vector(like), to_vector(v)

    def grad_along(eps):
        out = []
        for s in (eps, -eps):
            a = list(copy.deepcopy(base_args))
            a[0] = from_vector(like, x0 + s * dv)
            out.append(to_vector(g(*a, **kwargs)[1]))
        return (out[0] - out[1]) / (2 * eps)

    try:
        fine = grad_along(HVP_EPS)
    except FuzzTimeout:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_result(seed, exc, "gradient near the point")
    got = to_vector(hv)
    if np.all(np.isfinite(got)) and _close(got, fine, HVP_RTOL, HVP_ATOL):
        return Result(seed, "ok")
    coarse = grad_along(10 * HVP_EPS)
    if not _close(fine, coarse, 1e-2, 1e-4):
        return Result(seed, "near_boundary", "hvp", "gradient differences disagree")
    bad = np.flatnonzero(~np.isclose(got, fine, rtol=HVP_RTOL, atol=HVP_ATOL))
    return Result(
        seed,
        "wrong_hvp",
        "hvp",
        f"hvp differs at {bad.size} of {got.size} entries, e.g. [{bad[0]}] sourcegrad "
        f"{got[bad[0]]!r} vs differences of the gradient {fine[bad[0]]!r}",
        "wrong hvp",
    )


def _alarm(signum, frame):
    raise FuzzTimeout()


def run_one(
    seed: int, directory, budget_s: float | None = TIME_BUDGET_S, program: Program | None = None
) -> Result:
    """Generate and check the program of ``seed`` within ``budget_s`` seconds (main thread)."""
    prog = program if program is not None else generate(seed)
    use_alarm = budget_s and hasattr(signal, "SIGALRM")
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return check_program(prog, directory)
    except FuzzTimeout:
        return Result(seed, "timeout", "", f"over {budget_s} s", "timeout")
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------- reproducers


def literal(tree) -> str:
    """Python source that builds ``tree`` (NT as the module's namedtuple, DC as its
    dataclass)."""
    if isinstance(tree, Setting):
        return tree.expr
    if isinstance(tree, (NT, DC)):
        inner = ", ".join(f"{k}={literal(v)}" for k, v in tree.fields.items())
        return f"{tree.cls}({inner})"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {literal(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, tuple):
        return "(" + "".join(f"{literal(v)}, " for v in tree) + ")"
    if isinstance(tree, list):
        return "[" + ", ".join(literal(v) for v in tree) + "]"
    if isinstance(tree, float):
        return repr(tree)
    return f"np.array({np.asarray(tree).tolist()!r})"


def repro_text(prog: Program, result: Result) -> str:
    """A standalone script: the program, its arguments, and the check that fails."""
    if getattr(prog, "steps", None) is not None:
        return _training().repro_text(prog, result)
    lines = [
        f"# sourcegrad fuzz reproducer: program seed {prog.seed}",
        f"# {result.category} ({result.phase}): {result.cause}",
    ]
    lines += [f"#   {line}" for line in result.detail.split("\n")[:6]]
    lines.append(prog.source.rstrip("\n"))
    lines += [
        "",
        "",
        f"params = {literal(prog.params)}",
        f"x = {literal(prog.x)}",
        f"y = {literal(prog.y)}",
        "kwargs = {"
        + ", ".join(
            f"{k!r}: {literal(v) if isinstance(v, DC) else repr(v)}" for k, v in prog.kwargs.items()
        )
        + "}",
    ]
    if prog.hvp_v is not None and result.category == "wrong_hvp":
        lines.append(f"v = {literal(prog.hvp_v)}")
    lines += [
        "",
        'if __name__ == "__main__":',
        "    import sys",
        f"    sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})",
        "    from tests.program_fuzz import check_source_file",
        f"    print(check_source_file(__file__, wrt={prog.wrt!r}, do_hvp={result.category == 'wrong_hvp'!r}))",
    ]
    return "\n".join(lines) + "\n"


def setting_source(value) -> str:
    """The source of a setting read back from a reproducer: a NumPy ufunc as ``np.name``, a
    module function by its name, anything else by its repr."""
    if isinstance(value, np.ufunc):
        return f"np.{value.__name__}"
    if callable(value):
        return value.__name__
    return repr(value)


def check_source_file(path, wrt=0, do_hvp=False) -> Result:
    """Re-run the checks on a reproducer written by :func:`repro_text`."""
    import tempfile

    text = Path(path).read_text()
    source = text.split("\n\nparams = ")[0]
    source = "\n".join(line for line in source.split("\n") if not line.startswith("# "))
    namespace: dict = {"np": np}
    exec(compile(text.split('if __name__ == "__main__":')[0], str(path), "exec"), namespace)

    def unrealize(tree):
        if is_record(tree):
            return DC(
                type(tree).__name__,
                {k: unrealize(v) for k, v in record_fields(tree).items()},
            )
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # (one with __call__ too)
            return NT(type(tree).__name__, {k: unrealize(getattr(tree, k)) for k in tree._fields})
        if is_setting(tree):
            return Setting(setting_source(tree))
        if isinstance(tree, dict):
            return {k: unrealize(v) for k, v in tree.items()}
        if isinstance(tree, tuple):
            return tuple(unrealize(v) for v in tree)
        if isinstance(tree, list):
            return [unrealize(v) for v in tree]
        return tree

    v = namespace.get("v")
    prog = Program(
        -1,
        source.strip("\n") + "\n",
        unrealize(namespace["params"]),
        namespace["x"],
        namespace["y"],
        {k: unrealize(v) if is_record(v) else v for k, v in namespace["kwargs"].items()},
        wrt,
        do_hvp,
        unrealize(v) if v is not None else None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        return check_program(prog, tmp, do_hvp=do_hvp)


def _blocks(lines: list[str]):
    """(start, end) of every compound statement (header and its indented body)."""
    out = []
    for i, line in enumerate(lines):
        if line.rstrip().endswith(":") and line.strip():
            ind = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and (
                not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > ind
            ):
                j += 1
            out.append((i, j))
    return out


def shrink(
    prog: Program, result: Result, directory, budget_s: float = 20.0, max_tries: int = 400
) -> tuple[Program, Result]:
    """Remove lines/blocks (and unwrap compound statements) while the program keeps failing
    with the same category and cause; returns the smallest program found."""
    tries = 0

    def same(candidate_source: str):
        nonlocal tries
        tries += 1
        if "\ndef f(" not in candidate_source:
            return None
        try:
            compile(candidate_source, "<shrink>", "exec")
        except SyntaxError:
            return None
        cand = prog.with_source(candidate_source)
        cand.hvp = result.category == "wrong_hvp"
        r = run_one(prog.seed, directory, budget_s, program=cand)
        if r.category == result.category and r.cause == result.cause:
            return cand, r
        return None

    best, best_result = prog, result
    changed = True
    while changed and tries < max_tries:
        changed = False
        lines = best.source.split("\n")
        candidates = []
        for start, end in sorted(_blocks(lines), key=lambda se: se[0] - se[1]):
            candidates.append(lines[:start] + lines[end:])
            body = [ln[4:] if ln.startswith("    ") else ln for ln in lines[start + 1 : end]]
            if not lines[start].lstrip().startswith(("def ", "else", "elif")):
                candidates.append(lines[:start] + body + lines[end:])
        for i, line in enumerate(lines):
            if line.strip() and not line.lstrip().startswith(("def f(", "import ")):
                candidates.append(lines[:i] + lines[i + 1 :])
        for cand_lines in candidates:
            if tries >= max_tries:
                break
            found = same("\n".join(cand_lines))
            if found:
                best, best_result = found
                changed = True
                break
    # tidy blank lines
    text = re.sub(r"\n{3,}(?=\S)", "\n\n\n", best.source)
    best = best.with_source(text)
    return best, best_result
