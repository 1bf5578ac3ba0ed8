"""Text edits of generated source for an export: names renamed where read as variables, a
function's ``def`` line with the defaults it runs with, the test of an argument signature as
source, and short descriptions of signatures (:mod:`sourcegrad.export` writes them)."""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from typing import Any

import numpy as np

from .export_source import ExportError, literal
from .runtime.signature import guard_expression

__all__ = [
    "callee_wrapper", "describe_value", "guard_source", "public_wrapper", "rename", "with_def_line",
]  # fmt: skip


# ---------------------------------------------------------------------------- text edits
def rename(text: str, names: dict) -> str:
    """``text`` with the names ``names`` maps renamed where they are read as variables (not
    attributes, not keyword arguments)."""
    if not names:
        return text
    lines = text.splitlines(keepends=True)
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    edits = []
    for k, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string not in names:
            continue
        before = tokens[k - 1].string if k else ""
        after = tokens[k + 1].string if k + 1 < len(tokens) else ""
        if before == "." or after == "=":
            continue
        edits.append((tok.start, tok.end, names[tok.string]))
    for (row, col), (_, end), new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[end:]
    return "".join(lines)


def with_def_line(text: str, name: str, defaults, kwdefaults, what: str) -> str:
    """``text`` (a function, ``def`` on its first line) renamed ``name``, with the
    ``defaults`` and ``kwdefaults`` it runs with written into its ``def`` line."""
    first, _, rest = text.partition("\n")
    node = ast.parse(first + "\n    pass\n").body[0]
    node.name = name
    if defaults:
        node.args.defaults = [_expr(v, what) for v in defaults]
    if kwdefaults:
        node.args.kw_defaults = [
            _expr(kwdefaults[a.arg], what) if a.arg in kwdefaults else None
            for a in node.args.kwonlyargs
        ]
    header = ast.unparse(node).splitlines()[0]
    return header + "\n" + rest


def _expr(value: Any, what: str):
    return ast.parse(literal(value, f"a default of {what}"), mode="eval").body


# ---------------------------------------------------------------------------- signatures
def guard_source(args: tuple) -> str:
    """A Python expression over ``args`` that is true for arguments of ``args``' signature
    (:func:`~sourcegrad.runtime.signature.guard_expression`, its constants written out)."""
    expr, namespace = guard_expression(args)
    for name, value in namespace.items():
        if isinstance(value, type) and not _importable_type(value):
            expr = _type_by_name(expr, name, value)
    values = {name: _guard_constant(value) for name, value in namespace.items()}
    text = rename(expr, values)
    return re.sub(r" is (np\.dtype\()", r" == \1", text)


def _importable_type(value: type) -> bool:
    return (
        getattr(builtins, value.__name__, None) is value
        or getattr(np, value.__name__, None) is value
    )


def _type_by_name(expr: str, name: str, cls: type) -> str:
    """``expr`` with each ``type(X) is name`` written as a test of the type's module and
    qualified name: the user's class (of an argument, a layer object) is not in the export."""
    wanted = repr((cls.__module__, cls.__qualname__))
    pattern = re.compile(rf"\) is {name}\b")
    while True:
        found = pattern.search(expr)
        if found is None:
            return expr
        end, depth = found.start(), 0
        for start in range(end, -1, -1):  # back to the "(" that the ")" closes
            depth += {")": 1, "(": -1}.get(expr[start], 0)
            if depth == 0:
                break
        if expr[start - 4 : start] != "type":
            raise ExportError(f"an argument of type {cls.__qualname__} cannot be checked")
        inner = expr[start + 1 : end]
        test = f"(type({inner}).__module__, type({inner}).__qualname__) == {wanted}"
        expr = expr[: start - 4] + test + expr[found.end() :]


def _guard_constant(value: Any) -> str:
    if isinstance(value, np.dtype):
        return f"np.dtype({value.str!r})"
    if isinstance(value, type):
        if getattr(builtins, value.__name__, None) is value:
            return value.__name__
        if getattr(np, value.__name__, None) is value:
            return f"np.{value.__name__}"
        raise ExportError(
            f"an argument of type {value.__qualname__} cannot be checked in an export"
        )
    return literal(value, "a signature")


def describe_value(x: Any) -> str:
    """A short description of an argument's signature: ``float64[3, 4]``, ``{W: ...}``."""
    if isinstance(x, np.ndarray) or hasattr(x, "__array_namespace__"):
        kind = "" if type(x) is np.ndarray else f"{type(x).__module__}.{type(x).__name__} "
        return f"{kind}{x.dtype}[{', '.join(map(str, x.shape))}]"
    if isinstance(x, np.generic):
        return f"np.{x.dtype.name}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {describe_value(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(describe_value(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner}{',' if len(x) == 1 else ''})"
    return type(x).__name__


# ---------------------------------------------------------------------------- wrappers
def callee_wrapper(name: str, runs: list, t, entry) -> str:
    """A function that calls the builds ``runs`` (``[(function name, the arguments it ran
    for)]``) of ``t`` as generated code calls ``t``: the one for the arguments' signature."""
    if t.mode == "vjp":
        grads = "(grads,)" if t.wrt_tuple and len(t.wrt) == 1 else "grads"
        result = f"(value, {grads})" if t.with_value else grads
        head, call = "g_out", "value, grads = {run}(*args, **kwargs, g_out=g_out)"
        tail = f"    return {result}\n"
    elif t.mode == "jvp":
        params = entry.tangent_params
        if t.wrt_tuple:
            head = "t_in"
            call = f"({', '.join(params)},) = t_in\n" + "value, tangent = {run}(*args, **kwargs, "
            call += ", ".join(f"{p}={p}" for p in params) + ")"
        else:
            head, call = "t_in", "value, tangent = {run}(*args, **kwargs, " + f"{params[0]}=t_in)"
        tail = "    return value, not_aliasing(tangent, t_in)\n"
    else:
        raise ExportError(f"{name}: a {t.mode} callee; an export cannot write it yet")
    lines = [f"def {name}(*args, {head}, **kwargs):"]
    if len(runs) == 1:
        lines += ["    " + part for part in call.format(run=runs[0][0]).split("\n")]
    else:
        for k, (run, args) in enumerate(runs):
            lines.append(f"    {'if' if k == 0 else 'elif'} {guard_source(args)}:")
            lines += ["        " + part for part in call.format(run=run).split("\n")]
        lines += [
            "    else:",
            f'        raise TypeError("{name}: arguments of a signature this module was not '
            'exported for")',
        ]
    return "\n".join(lines) + "\n" + tail


def public_wrapper(public: str, run: str, df, entry) -> str:
    if df.mode == "grad":  # a tuple wrt of one argument: a tuple of one gradient
        return (
            f"def {public}(*args):\n"
            f"    value, grads = {run}(*args)\n"
            "    return value, (grads,)\n"
        )
    params = entry.tangent_params
    if df.wrt_tuple:
        unpack = f"    ({', '.join(params)},) = t_in\n"
        seeds = ", ".join(f"{p}={p}" for p in params)
    else:
        unpack, seeds = "", f"{params[0]}=t_in"
    return (
        f"def {public}(*args):\n"
        "    *args, t_in = args\n"
        f"{unpack}"
        f"    value, tangent = {run}(*args, {seeds})\n"
        "    return value, not_aliasing(tangent, t_in)\n"
    )
