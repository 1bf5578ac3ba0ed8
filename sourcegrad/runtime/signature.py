"""Call signatures: what a running derivative is specialised to, and the generated test that
a call has the signature of an earlier one.

A derivative is built once per *rank signature* (:func:`rank_signature`: container structure,
ranks, dtypes, array types) and, for shapes seen again, once per *call signature*
(:func:`call_signature`: the same with shapes). A repeated call checks its arguments with a
*guard* (:func:`signature_guard`), one generated boolean expression that is true exactly when
the arguments have the call signature of the ones it was made from, instead of building the
signature again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

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
    shape = getattr(x, "shape", None)
    if shape is not None:
        return (t, tuple(shape), x.dtype.char)
    if is_record(x):
        return ("r", t) + tuple([(k, call_signature(v)) for k, v in record_fields(x).items()])
    return t


def rank_signature(x: Any) -> Any:
    """:func:`call_signature` with ranks in place of shapes: what a derivative's rules need."""
    t = type(x)
    if t is dict:
        return ("d",) + tuple([(k, rank_signature(v)) for k, v in x.items()])
    if isinstance(x, (list, tuple)):
        return (t,) + tuple([rank_signature(v) for v in x])
    if isinstance(x, dict):
        return (t,) + tuple([(k, rank_signature(v)) for k, v in x.items()])
    nd = getattr(x, "ndim", None)
    if nd is not None and not isinstance(x, (float, int)):
        return (t, nd, x.dtype.char)
    if is_record(x):
        return ("r", t) + tuple([(k, rank_signature(v)) for k, v in record_fields(x).items()])
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


def guard_expression(args: tuple) -> tuple[str, dict]:
    """``(expression, namespace)``: the test of :func:`signature_guard` as Python source over
    a tuple named ``args``, and the constants it reads."""
    writer = _GuardWriter()
    parts = [f"len(args) == {len(args)}"]
    for i, a in enumerate(args):
        parts += writer.check(a, f"args[{i}]")
    return " and ".join(parts), dict(writer.consts, ndarray=np.ndarray)


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

    def check(self, x, expr: str) -> list:
        """The conditions that a value ``expr`` has the call signature of ``x``."""
        t = type(x)
        if t is np.ndarray:
            first, v = self.bind(expr)
            return [
                f"type({first}) is ndarray",
                f"{v}.shape == {self.const(x.shape)}",
                f"{v}.dtype is {self.const(x.dtype)}",  # stricter than dtype.char: may send an
            ]  # equal dtype the slow way, never a different one the fast way
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
        shape = getattr(x, "shape", None)
        if shape is not None:
            first, v = self.bind(expr)
            return [
                f"type({first}) is {self.const(t)}",
                f"tuple({v}.shape) == {self.const(tuple(shape))}",
                f"{v}.dtype.char == {x.dtype.char!r}",
            ]
        if is_record(x):
            first, d = self.bind(expr)
            out = [f"type({first}) is {self.const(t)}"]
            for k, v in record_fields(x).items():
                out += self.check(v, f"{d}.{k}")
            return out
        return [f"type({expr}) is {self.const(t)}"]
