"""Call signatures: what a running derivative is specialised to, and the generated test that
a call has the signature of an earlier one.

A derivative is built once per *rank signature* (:func:`rank_signature`: container structure,
ranks, dtypes, array types) and, for shapes seen again, once per *call signature*
(:func:`call_signature`: the same with shapes). A repeated call checks its arguments with a
*guard* (:func:`signature_guard`), one generated boolean expression that is true exactly when
the arguments have the call signature of the ones it was made from, instead of building the
signature again.

A build may also serve every argument signature of one *shape pattern* (:func:`shape_pattern`:
which lengths are 1 and which are equal to each other), its lengths read at run time; its
guard (:func:`family_guard_expression`) tests the pattern.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .containers import children, rebuild
from .facts import declare_helpers
from .records import is_record, record_fields

declare_helpers("signature_guard", "compile_guard", "guard_expression", called_by="library")


def call_signature(x: Any) -> Any:
    """What a running derivative is specialised to: container structure, shapes, dtypes,
    array types. Equal signatures (``==``) mean the same build runs for both values."""
    t = type(x)
    if t is np.ndarray:
        return (x.shape, x.dtype.char)
    if t is float:
        return "f"
    if t is dict:
        return ("d",) + tuple([(k, call_signature(v)) for k, v in x.items()])
    if t is list or t is tuple:
        return (t,) + tuple([call_signature(v) for v in x])
    if t is int or t is bool:
        return "i"
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([call_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, call_signature(v)) for k, v in x.items()])
    if isinstance(x, np.dtype):  # has .shape and .ndim, but is a setting, not an array
        return (t, x.str)
    if isinstance(x, type):  # a class such as np.float32 (its .shape is a descriptor)
        return ("c", x)
    if is_record(x):  # before the array test: a record may have a ``shape`` property
        return ("r", t) + tuple([(k, call_signature(v)) for k, v in record_fields(x).items()])
    shape = getattr(x, "shape", None)
    if shape is not None:
        return (t, tuple(shape), x.dtype.char)
    return t


def rank_signature(x: Any) -> Any:
    """:func:`call_signature` with ranks in place of shapes: what a derivative's rules need."""
    t = type(x)
    if t is dict:
        return ("d",) + tuple([(k, rank_signature(v)) for k, v in x.items()])
    if isinstance(x, (type, np.dtype)):
        return call_signature(x)
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([rank_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, rank_signature(v)) for k, v in x.items()])
    if is_record(x):
        return ("r", t) + tuple([(k, rank_signature(v)) for k, v in record_fields(x).items()])
    nd = getattr(x, "ndim", None)
    if nd is not None and not isinstance(x, (float, int, np.dtype)):
        return (t, nd, x.dtype.char)
    return call_signature(x)


def signature_guard(args: tuple) -> Callable[[tuple], bool]:
    """A function ``same(args2)`` that is true exactly when ``args2`` has the argument
    signature of ``args`` (:func:`call_signature`: container types, lengths and keys,
    array types, shapes and dtypes, Python number types), generated as one boolean
    expression so that a repeated call checks its arguments without building the signature."""
    return compile_guard(*guard_expression(args))


def compile_guard(expr: str, namespace: dict) -> Callable[[tuple], bool]:
    """The function ``same(args)`` returning ``expr`` (from :func:`guard_expression`)."""
    text = "def same(args):\n    return " + expr + "\n"
    namespace = dict(namespace)
    exec(compile(text, "<sourcegrad signature guard>", "exec"), namespace)  # noqa: S102
    return namespace["same"]


def guard_expression(args: tuple, positional: bool = False) -> tuple[str, dict]:
    """``(expression, namespace)``: the test of :func:`signature_guard` as Python source over
    a tuple named ``args`` (with ``positional``: over one name per argument, ``a0``, ``a1``,
    ..., their count left to the caller), and the constants it reads."""
    writer = _GuardWriter()
    parts = [] if positional else [f"len(args) == {len(args)}"]
    for i, a in enumerate(args):
        parts += writer.check(a, _argument_at(i, positional))
    return " and ".join(parts) or "True", dict(writer.consts, ndarray=np.ndarray)


def _argument_at(i: int, positional: bool) -> str:
    """How a guard reads argument ``i``: ``args[i]``, or with ``positional`` the name ``ai``."""
    return f"a{i}" if positional else f"args[{i}]"


class _GuardWriter:
    """The conditions of one guard, and the constants they read."""

    def __init__(self):
        self.consts: dict = {}
        self.names = (f"v{i}" for i in itertools.count())

    def const(self, value) -> str:
        name = f"c{len(self.consts)}"
        self.consts[name] = value
        return name

    def bind(self, expr: str) -> tuple[str, str]:
        """``(first use, later uses)`` of ``expr``: named once (``(v3 := args[0]["W"])``) so
        that a nested container is indexed once, not once per check."""
        if expr.isidentifier():
            return expr, expr
        name = next(self.names)
        return f"({name} := {expr})", name

    def array(self, x: np.ndarray, expr: str) -> list:
        """The conditions that a value ``expr`` is an ``ndarray`` of ``x``'s shape and dtype."""
        first, v = self.bind(expr)
        return [
            f"type({first}) is ndarray",
            f"{v}.shape == {self.const(x.shape)}",
            f"{v}.dtype is {self.const(x.dtype)}",  # stricter than dtype.char: may send an
        ]  # equal dtype the slow way, never a different one the fast way

    def check(self, x, expr: str) -> list:
        """The conditions that a value ``expr`` has the call signature of ``x``."""
        t = type(x)
        if t is np.ndarray:
            return self.array(x, expr)
        if t is float:
            return [f"type({expr}) is float"]
        if t is dict or (isinstance(x, dict) and t is not dict):
            first, d = self.bind(expr)
            out = [f"type({first}) is {self.const(t)}", f"tuple({d}) == {self.const(tuple(x))}"]
            for k, v in x.items():
                out += self.check(v, f"{d}[{self.const(k)}]")
            return out
        if isinstance(x, (list, tuple)):
            first, d = self.bind(expr)
            out = [f"type({first}) is {self.const(t)}", f"len({d}) == {len(x)}"]
            for i, v in enumerate(x):
                out += self.check(v, f"{d}[{i}]")
            return out
        if t is int or t is bool:
            return [f"(type({expr}) is int or type({expr}) is bool)"]
        if is_record(x):
            first, d = self.bind(expr)
            fields = record_fields(x)
            out = [f"type({first}) is {self.const(t)}"]
            if not dataclasses.is_dataclass(t):  # (a method may have stored more since)
                out.append(f"tuple(vars({d})) == {self.const(tuple(fields))}")
            for k, v in fields.items():
                out += self.check(v, f"{d}.{k}")
            return out
        if isinstance(x, (np.number, np.bool_)):  # its type fixes its shape () and dtype
            return [f"type({expr}) is {self.const(t)}"]
        if isinstance(x, type):
            return [f"{expr} is {self.const(x)}"]
        if isinstance(x, np.dtype):
            first, v = self.bind(expr)
            return [f"type({first}) is {self.const(t)}", f"{v}.str == {x.str!r}"]
        shape = getattr(x, "shape", None)
        if shape is not None:
            first, v = self.bind(expr)
            return [
                f"type({first}) is {self.const(t)}",
                f"tuple({v}.shape) == {self.const(tuple(shape))}",
                f"{v}.dtype.char == {x.dtype.char!r}",
            ]
        return [f"type({expr}) is {self.const(t)}"]


# ---------------------------------------------------------------- shape patterns
class Pattern:
    """The *shape pattern* of arguments: their call signature with each array length of 2
    or more replaced by its *class*, the lengths equal to each other sharing one (``key``:
    class ``k`` written ``-1 - k``; lengths 0 and 1 kept, as broadcasting tells them apart);
    ``values``: each class's length; ``sites``: where each class is first met, ``(argument
    position, path, axis)`` with path steps ``("item", key)`` or ``("attr", name)``. Equal
    keys: the same broadcasting and the same reductions to an operand's shape."""

    __slots__ = ("key", "values", "sites")

    def __init__(self, key, values: tuple, sites: tuple):
        self.key, self.values, self.sites = key, values, sites


class _NoPattern(Exception):
    """An argument holds an array that is not a NumPy ``ndarray``."""


def shape_pattern(args: tuple) -> Pattern | None:
    """The :class:`Pattern` of ``args``; None where an array among them is not a NumPy
    ``ndarray`` (its shape is kept whole in the signature)."""
    values: list = []
    index: dict = {}
    sites: list = []

    def walk(x, at, path):
        t = type(x)
        if t is np.ndarray:
            codes = []
            for axis, n in enumerate(x.shape):
                if n < 2:
                    codes.append(n)
                    continue
                if n not in index:
                    index[n] = len(values)
                    values.append(n)
                    sites.append((at, path, axis))
                codes.append(-1 - index[n])
            return (tuple(codes), x.dtype.char)
        if t is float or t is int or t is bool or isinstance(x, (np.generic, type, np.dtype)):
            return call_signature(x)
        if isinstance(x, dict):
            tag = "d" if t is dict else t
            return (tag,) + tuple([(k, walk(v, at, path + (("item", k),))) for k, v in x.items()])
        if isinstance(x, (list, tuple)):
            return (t,) + tuple([walk(v, at, path + (("item", i),)) for i, v in enumerate(x)])
        if is_record(x):
            fields = record_fields(x).items()
            return ("r", t) + tuple([(k, walk(v, at, path + (("attr", k),))) for k, v in fields])
        if getattr(x, "shape", None) is not None:
            raise _NoPattern
        return t

    try:
        key = tuple([walk(a, i, ()) for i, a in enumerate(args)])
    except _NoPattern:
        return None
    return Pattern(key, tuple(values), tuple(sites))


def resized(args: tuple, pattern: Pattern, values: tuple) -> tuple:
    """Arguments like ``args`` (of ``pattern``) with the lengths of each class ``k`` made
    ``values[k]``: every array a read-only stand-in of no memory (all its elements one), for
    transformations that read shapes and dtypes only."""
    lengths = dict(zip(pattern.values, values))

    def stand_in(x):
        if type(x) is np.ndarray:
            shape = tuple(lengths.get(n, n) for n in x.shape)
            one = np.zeros(1, x.dtype)
            return np.lib.stride_tricks.as_strided(one, shape, (0,) * len(shape), writeable=False)
        if isinstance(x, (dict, list, tuple)) or is_record(x):
            return rebuild(x, {k: stand_in(v) for k, v in children(x)})
        return x

    return tuple([stand_in(a) for a in args])


def family_guard_expression(
    args: tuple, pattern: Pattern, varying: frozenset, positional: bool = False
) -> tuple:
    """``(expression, namespace)`` as :func:`guard_expression` (``positional`` too), true
    exactly when the arguments have ``args``' shape pattern with the lengths of the classes
    not in ``varying`` those of ``args`` (the classes in ``varying`` any lengths of 2 or more,
    distinct from each other and from the others: the same pattern)."""
    writer = _PatternGuardWriter(pattern, varying)
    parts = [] if positional else [f"len(args) == {len(args)}"]
    for i, a in enumerate(args):
        parts += writer.check(a, _argument_at(i, positional))
    bound = list(writer.bound.values())
    fixed = frozenset(v for k, v in enumerate(pattern.values) if k not in varying)
    if bound:
        found = f"{{{', '.join(bound)}}} | {writer.const(fixed)}"
        parts.append(f"len({found}) == {len(pattern.values)}")
    return " and ".join(parts) or "True", dict(writer.consts, ndarray=np.ndarray)


class _PatternGuardWriter(_GuardWriter):
    """The conditions of a guard of a shape pattern (see :func:`family_guard_expression`)."""

    def __init__(self, pattern: Pattern, varying: frozenset):
        super().__init__()
        self.index = {v: k for k, v in enumerate(pattern.values)}
        self.varying = varying
        self.bound: dict = {}  # class -> the name its length is bound to

    def array(self, x: np.ndarray, expr: str) -> list:
        first, v = self.bind(expr)
        s = next(self.names)
        out = [
            f"type({first}) is ndarray",
            f"{v}.dtype is {self.const(x.dtype)}",
            f"len(({s} := {v}.shape)) == {x.ndim}",
        ]
        for axis, n in enumerate(x.shape):
            k = self.index.get(n)
            if k is None or k not in self.varying:
                out.append(f"{s}[{axis}] == {n}")
            elif k in self.bound:
                out.append(f"{s}[{axis}] == {self.bound[k]}")
            else:
                self.bound[k] = name = next(self.names)
                out.append(f"({name} := {s}[{axis}]) >= 2")
        return out
