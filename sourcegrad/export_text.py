"""Text edits of generated source for an export: names renamed where read as variables, a
function's ``def`` line with the defaults it runs with, the test of an argument signature as
source, short descriptions of signatures, and the wrappers that call generated functions as
sourcegrad calls them (forward mode over a derivative included); :mod:`sourcegrad.export`
writes them."""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import os
import re
import sys
import tokenize
from typing import Any

import numpy as np

from .arguments import with_defaults
from .derivative import Transformed
from .export_source import ExportError, literal
from .higher import GradientVjp, NestedGrad
from .runtime.signature import guard_expression

__all__ = [
    "LINE_LENGTH", "callee_wrapper", "describe", "describe_value", "flat_values", "guard_source",
    "import_block", "jvp_key", "jvp_wrapper", "not_reached", "public_wrapper", "rename",
    "tower_result", "unused_results_dropped", "values_text", "with_def_line",
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


def unused_results_dropped(text: str) -> str:
    """``text`` (a function) with each ``name = call(...)`` whose ``name`` nothing reads (a
    derivative's primal call kept for the tangent beside it) written as the call alone: the
    same code, without the binding a linter reports."""
    used, assigned = set(), []
    for n in ast.walk(ast.parse(text)):  # (one walk)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
            used.add(n.id)
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            used.add(n.target.id)  # `t += v` reads t (of a number, it rebinds t)
        elif isinstance(n, ast.Assign) and len(n.targets) == 1:
            assigned.append(n)
    lines = text.splitlines(keepends=True)
    dropped = [
        n
        for n in assigned
        if isinstance(n.targets[0], ast.Name)
        and n.targets[0].id not in used
        and isinstance(n.value, ast.Call)
        and n.value.lineno == n.lineno
    ]
    for n in sorted(dropped, key=lambda n: n.lineno, reverse=True):
        line = lines[n.lineno - 1].encode()  # ast's columns count UTF-8 bytes
        edited = line[: n.col_offset] + line[n.value.col_offset :]
        lines[n.lineno - 1] = edited.decode()
    return "".join(lines)


def with_def_line(text: str, name: str, defaults, kwdefaults, what: str) -> str:
    """``text`` (a function, ``def`` on its first line) renamed ``name``, with the
    ``defaults`` and ``kwdefaults`` it runs with written into its ``def`` line, and without
    the annotations of its parameters (the export need not define the names they read)."""
    first, _, rest = text.partition("\n")
    node = ast.parse(first + "\n    pass\n").body[0]
    node.name = name
    arguments = node.args
    for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
        arg.annotation = None
    for arg in (arguments.vararg, arguments.kwarg):
        if arg is not None:
            arg.annotation = None
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
    by_name = {
        n: v for n, v in namespace.items() if isinstance(v, type) and not _importable_type(v)
    }
    for name, value in by_name.items():
        expr = _type_by_name(expr, name, value)
    values = {n: _guard_constant(v) for n, v in namespace.items() if n not in by_name}
    text = rename(expr, values)
    return re.sub(r" is (np\.dtype\()", r" == \1", text)


def _importable_type(value: type) -> bool:
    return (
        getattr(builtins, value.__name__, None) is value
        or getattr(np, value.__name__, None) is value
    )


def _type_by_name(expr: str, name: str, cls: type) -> str:
    """``expr`` with each ``type(X) is name`` written as a test of the type's qualified name
    and module: the user's class (of an argument, a layer object), or the export's copy of
    it (of an object a global holds, :mod:`sourcegrad.export_objects`)."""
    modules = repr((cls.__module__,))
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
        test = (
            f"(type({inner}).__qualname__ == {cls.__qualname__!r} and "
            f"type({inner}).__module__ in ({modules[1:-2]}, __name__))"
        )
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
    lines = [f"def {name}(*args, {head}, **kwargs):"] + _keyword_only_split(t.f)
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


def _keyword_only_split(f) -> list:
    """Lines that pass the values generated code gives after ``f``'s positional parameters
    by the names of its keyword-only ones (as :func:`~sourcegrad.arguments.split_args`)."""
    code = getattr(f, "__code__", None)
    if code is None or not code.co_kwonlyargcount or code.co_flags & inspect.CO_VARARGS:
        return []
    n = code.co_argcount
    names = code.co_varnames[n : n + code.co_kwonlyargcount]
    return [
        f"    kwargs = {{**dict(zip({names!r}, args[{n}:])), **kwargs}}",
        f"    args = args[:{n}]",
    ]


def packing_wrapper(public: str, run: str, packing) -> str:
    """``d_<name>`` taking the arguments of a function with ``*args``/``**kwargs`` as Python
    binds them, packed for ``run`` (its derivative's packed form) as
    :class:`sourcegrad.packing.Packing` packs a call."""
    lines = [f"def {public}(*args, **kwargs):"]
    if packing.star is not None:
        lines.append(f"    args = (*args[:{packing.npos}], tuple(args[{packing.npos}:]))")
    if packing.starstar is not None:
        names = tuple(sorted(packing.named))
        lines.append(f"    named = {{k: kwargs.pop(k) for k in {names!r} if k in kwargs}}")
        lines.append(f"    return {run}(*args, **named, {packing.starstar}=kwargs)")
    else:
        lines.append(f"    return {run}(*args, **kwargs)")
    return "\n".join(lines) + "\n"


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


# ---------------------------------------------------------------------------- forward mode over derivatives
def flat_values(jv, args: tuple) -> tuple:
    """The values the generated function of the forward mode ``jv`` runs on for its call
    with ``args`` (the tangent last), as :meth:`~sourcegrad.higher.Jvp.source_call` makes
    them where every argument is given."""
    *primal, t = args
    return _base_values(jv.base, tuple(primal)) + jv.flat_tangents(tuple(primal), t)


def _base_values(base, args: tuple) -> tuple:
    """The values of ``base``'s generated function for its call with ``args``."""
    if isinstance(base, GradientVjp):  # the gradient's arguments (defaults, unit seeds), g_out
        own = base.bound_self + tuple(args[:-1])
        return base.tower.values(own, base.seeds(args[-1], own))
    if isinstance(base, NestedGrad):  # its arguments, with defaults and unit seeds
        return base.tower.values(base.tower.bound_self + tuple(args), None)
    if isinstance(base, Transformed):
        if _fills_defaults(base) and base.mode == "grad":  # no seed: the defaults after all
            return with_defaults(base.f, tuple(args))
        if _fills_defaults(base):  # the defaults the call leaves out, as it fills them
            args = with_defaults(base.f, tuple(args[:-1])) + tuple(args[-1:])
        if base.mode == "jvp" and base.wrt_tuple:  # its own tangents: one value each
            return (*args[:-1], *args[-1])
        return tuple(args)
    return flat_values(base, args)


def values_text(jv, primal: tuple, function: bool = False) -> str:
    """Source for :func:`flat_values` of ``(*args, t_in)``, for a call like one with
    ``primal``; ``function``: of a function value's derivative, passed as ``function``
    (the defaults the call leaves out are its own, read when the export runs)."""
    base = _base_items(jv.base, primal, "args", function)
    return ", ".join(base + _tangent_items(jv, primal, "t_in"))


def _fills_defaults(base: Transformed) -> bool:
    return bool(base.f.__defaults__ or base.f.__kwdefaults__) and not base.bound_self


def _base_items(base, args: tuple, expr: str, function: bool = False) -> list:
    if isinstance(base, GradientVjp):
        f, units = base.tower.f, _units(base.tower.dirs[: base.units], args, expr)
        if function and not base.bound_self and (f.__defaults__ or f.__kwdefaults__):
            expr = f"filled(function, {expr})"  # the gradient's stand-in has f's defaults
        return [f"*{expr}[:-1]", *units, _seed_item(base, f"{expr}[-1]")]
    if isinstance(base, NestedGrad):
        f, units = base.tower.f, _units(base.tower.dirs, args, expr)
        left = with_defaults(f, tuple(args))[len(args) :]
        return [f"*{expr}", *(literal(v, f"a default of {f.__qualname__}") for v in left), *units]
    if isinstance(base, Transformed) and base.mode == "grad" and _fills_defaults(base):
        left = with_defaults(base.f, tuple(args))[len(args) :]  # no seed: the defaults last
        return [f"*{expr}", *(literal(v, f"a default of {base.f.__qualname__}") for v in left)]
    if isinstance(base, Transformed):
        seed = f"*{expr}[-1]" if base.mode == "jvp" and base.wrt_tuple else f"{expr}[-1]"
        if function and _fills_defaults(base):
            expr = f"filled(function, {expr})"
        elif _fills_defaults(base):  # a helper's: the defaults this call leaves out, as values
            own = tuple(args[:-1])
            left = with_defaults(base.f, own)[len(own) :]
            what = f"a default of {base.f.__qualname__}"
            if left:
                return [f"*{expr}[:-1]", *(literal(v, what) for v in left), seed]
        if base.mode == "jvp" and base.wrt_tuple:
            return [f"*{expr}[:-1]", f"*{expr}[-1]"]
        return [f"*{expr}"]
    primal = args[:-1]
    return _base_items(base.base, primal, f"{expr}[:-1]", function) + _tangent_items(
        base, primal, f"{expr}[-1]"
    )


def _seed_item(vjp: GradientVjp, g_out: str) -> str:
    """Source for the seeds the vjp of a gradient gives its tower for ``g_out``: the one a
    tuple holds, each of a tuple (a joint direction), or ``g_out``."""
    if isinstance(vjp.tower.dirs[-1], tuple):
        return f"*{g_out}"
    return f"{g_out}[0]" if vjp.one_seed_in_a_tuple() else g_out


def _units(dirs, args: tuple, expr: str) -> list:
    """Source for the unit seeds of a tower's directions ``dirs`` for the arguments ``args``
    (``expr``), as :meth:`~sourcegrad.higher.Tower.values` fills them in."""
    return ["1.0" if isinstance(args[i], float) else f"np.ones_like({expr}[{i}])" for i in dirs]


def _tangent_items(jv, primal: tuple, t: str) -> list:
    """Source for :meth:`~sourcegrad.higher.Jvp.flat_tangents` of ``t``."""
    items: list = []
    for k, i in enumerate(jv.wrt):
        items += _value_items(jv.base, primal, i, f"{t}[{k}]" if jv.wrt_tuple else t)
    return items


def _value_items(d, args: tuple, i: int, expr: str) -> list:
    """Source for :func:`~sourcegrad.higher.as_values` of ``expr``."""
    n = len(args)
    if isinstance(d, NestedGrad):
        return [expr]
    if isinstance(d, GradientVjp):  # g_out as the tower's seed takes it
        return [_seed_item(d, expr)] if i % n == n - 1 else [expr]
    if not isinstance(d, Transformed):
        if i % n == n - 1:
            return _tangent_items(d, args[:-1], expr)
        return _value_items(d.base, args[:-1], i, expr)
    return [f"*{expr}"] if d.mode == "jvp" and d.wrt_tuple and i % n == n - 1 else [expr]


def jvp_key(jv) -> tuple:
    """What identifies the forward mode ``jv`` in an export: the derivative it transforms (a
    helper's, or forward mode over one, by its own key) and its ``wrt`` as given."""
    base = jv.base
    inner = id(base) if isinstance(base, Transformed) else jvp_key(base)
    return ("jvp", inner, jv.wrt if jv.wrt_tuple else jv.wrt[0])


def _result(base, raw: str) -> str:
    """Source for what the derivative ``base`` returns, from its generated function's result
    ``raw`` (``post`` of :meth:`~sourcegrad.derivative.Transformed.source_call`)."""
    if isinstance(base, (GradientVjp, NestedGrad)):  # the tower's level
        return tower_result(base.tower, raw)
    if not isinstance(base, Transformed):  # forward mode: each part as its base returns it
        return f"({_result(base.base, raw + '[0]')}, {_result(base.base, raw + '[1]')})"
    if base.mode == "jvp":
        return raw
    grads = f"({raw}[1],)" if base.wrt_tuple and len(base.wrt) == 1 else f"{raw}[1]"
    return f"({raw}[0], {grads})" if base.with_value else grads


def tower_result(t, raw: str) -> str:
    """Source for what the tower ``t`` returns (:meth:`~sourcegrad.higher.Tower.evaluate`)
    from ``raw``, what its outermost level returns: the gradients along ``t.read`` among
    those along ``t.W``, a tuple where ``read`` is one."""
    if len(t.W) == 1:
        return f"({raw},)" if t.read_tuple else raw
    picked = [f"{raw}[{t.W.index(i)}]" for i in t.read]
    if not t.read_tuple:
        return picked[0]
    return f"({', '.join(picked)}{',' if len(picked) == 1 else ''})"


def jvp_wrapper(name: str, runs: list, jv, function: bool = False) -> str:
    """A function that computes forward mode over a derivative as ``jv`` does (``(what it
    returns, its tangent)``), running the build of ``runs`` (``[(source of the function, the
    arguments it ran for, the function, how many values it takes)]``) for the signature of
    its arguments; ``function``: taking the function value whose derivative it is first."""
    result = _result(jv.base, "raw")
    lines = [
        f"def {name}({'function, ' if function else ''}*args, t_in):",
        f"    values = ({values_text(jv, runs[0][1], function)},)",
        "",
        "    def post(raw):  # what the vjp returns, from its generated function's result",
        f"        return {result}",
        "",
    ]
    for k, (run, targs, ran, n) in enumerate(runs):
        code = ran.__code__
        npos = code.co_argcount
        kwnames = code.co_varnames[npos : npos + code.co_kwonlyargcount]
        keywords = kwnames[len(kwnames) - (n - npos) :]
        call = f"raw = {run}(*values[:{npos}], "
        call += ", ".join(f"{kw}=values[{npos + j}]" for j, kw in enumerate(keywords)) + ")"
        if len(runs) == 1:
            lines.append("    " + call)
            continue
        lines.append(f"    {'if' if k == 0 else 'elif'} {guard_source(targs)}:")
        lines.append("        " + call)
    if len(runs) > 1:
        lines += [
            "    else:",
            f'        raise TypeError("{name}: arguments of a signature this module was not '
            'exported for")',
        ]
    lines.append("    return post(raw[0]), post(raw[1])")
    return "\n".join(lines) + "\n"


#: the line length an export is formatted to (sourcegrad's own, so copied helpers keep theirs)
LINE_LENGTH = 100


def not_reached(name: str) -> str:
    return (
        f"def {name}(*args, **kwargs):\n"
        f'    raise NotImplementedError("{name} was not reached when this module was exported")\n'
    )


def describe(t: Transformed, what: str, prefix: str = "the ") -> str:
    f = t.f
    code = getattr(f, "__code__", None)
    where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})" if code else ""
    mode = {"grad": "gradient", "vjp": "vjp", "jvp": "jvp"}[t.mode]
    return f"{prefix}{mode} of {getattr(f, '__qualname__', f)}{where}, the {what} that runs"


def import_block(imports) -> str:
    """The imports, as isort orders them: ``__future__``, the standard library, then NumPy
    or CuPy; plain imports before ``from`` imports in each group."""
    groups: list[list[str]] = [[], []]
    for line in _merged(imports):
        top = line.split()[1].split(".")[0]
        groups[0 if top in sys.stdlib_module_names else 1].append(line)
    key = lambda line: (line.startswith("from"), line.split()[1])  # noqa: E731
    blocks = ["from __future__ import annotations"]
    blocks += ["\n".join(sorted(g, key=key)) for g in groups if g]
    return "\n\n".join(blocks) + "\n"


def _merged(imports) -> list[str]:
    """The import lines, the ``from`` imports of one module merged into one line, their names
    in isort's order (constants, classes, then functions)."""
    lines, names = [], {}
    for line in imports:
        words = line.split(" import ")
        if line.startswith("from ") and len(words) == 2:
            names.setdefault(words[0], []).append(words[1])
        else:
            lines.append(line)
    for source, found in names.items():
        lines.append(f"{source} import {', '.join(sorted(found, key=_isort_kind))}")
    return lines


def _isort_kind(name: str) -> tuple:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def taken_when_run(what: str, var: str, own: str, value) -> str:
    """Why generated code's call of ``var``, a part of sourcegrad that is neither a runtime
    helper nor its library, cannot be exported, and what to do instead."""
    return (
        f"{what} calls {var} ({own}.{getattr(value, '__name__', '')}), a part of sourcegrad "
        "that an export does not copy: it writes sourcegrad's runtime helpers and what the "
        "derivative reaches of its library (sg.nn, sg.model, sg.util, sg.loss). Differentiate "
        "the function without it, or with sourcegrad in process instead of exporting"
    )
