"""``sg.export``: a derivative written out as one standalone module.

The module exported for ``f`` and example arguments holds one public function, ``d_<name>``,
that returns what ``sg.value_and_grad(f, wrt)`` returns for arguments of that signature
(``sg.jvp``'s ``(value, tangent)`` in forward mode), computed by the same code: the
*running* build, the one a derivative runs from its second call with those shapes on
(optimized, specialised to the shapes, with its buffer pools), so the numbers agree with
``value_and_grad`` bit for bit (``order=2``: ``sg.hvp``'s Hessian-vector product, the
forward-mode transform of the gradient that ``hvp`` runs). Next to it: the generated derivative of every helper of the
user's that it calls (found by running the derivative once), the user's functions the forward
sweep calls, every runtime helper, as source, and the globals it reads as literals
(:mod:`sourcegrad.export_source`). It imports NumPy (or CuPy) and the standard library only,
is formatted by black, and starts with a header that says what it differentiates, for which
argument signature, made by which sourcegrad, from which source (:func:`source_digest`,
:func:`is_stale`).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import io
import os
import re
import sys
import textwrap
import tokenize
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import derivative as derivative_module
from . import pipeline
from .derivative import Transformed, derivative
from .disk_cache import is_generated
from .errors import SourcegradError
from .export_source import ExportError, Namespace, builder_source, literal
from .runtime.buffers import BufferPool
from .runtime.signature import guard_expression
from .show import traced_runs
from .transform import derive

__all__ = ["ExportError", "export", "is_stale", "source_digest"]

_DIGEST_LINE = re.compile(r"^# source sha256: ([0-9a-f]{64}) of (.*)$", re.M)
_BUILDER_FILE = "<sourcegrad gradient builder>"
#: the line length an export is formatted to (sourcegrad's own, so copied helpers keep theirs)
LINE_LENGTH = 100
#: the modules of sourcegrad whose helpers generated code calls, copied into an export
_RUNTIME = __name__.rpartition(".")[0] + ".runtime"
_SUPPORT = (
    "# " + "-" * 76 + "\n# What the derivative reads: sourcegrad's runtime helpers (copied from "
    "its source),\n# the functions of yours it calls and the globals it reads (their values "
    "when exported).\n"
)


# ---------------------------------------------------------------------------- staleness
def source_digest(functions: Sequence[Callable]) -> str:
    """sha256 of the source of ``functions`` (in order): what an export's header records,
    so that a changed function makes its export stale."""
    h = hashlib.sha256()
    for fn in functions:
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):
            h.update(repr(fn).encode())
        h.update(b"\0")
    return h.hexdigest()


def is_stale(export_text_or_path: str | os.PathLike, f: Callable) -> bool:
    """Whether an export (its text, or the path of its file) was made from other source than
    ``f`` and the helpers it names have now (or records no digest)."""
    text = str(export_text_or_path)
    if "\n" not in text and os.path.exists(text):
        with open(text, encoding="utf-8") as file:
            text = file.read()
    found = _DIGEST_LINE.search(text)
    if found is None:
        return True
    names = [n.strip() for n in found.group(2).split(",")]
    functions = [f]
    for name in names[1:]:
        fn = getattr(f, "__globals__", {}).get(name)
        if fn is None:
            return True
        functions.append(fn)
    return source_digest(functions) != found.group(1)


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


# ---------------------------------------------------------------------------- the writer
class _Writer:
    """The export of one derivative: its generated functions, with what they read, in a
    :class:`Namespace`."""

    def __init__(self, runs: dict):
        self.ns = Namespace()
        self.runs = runs
        self.written: dict = {}  # id(generated function) -> its name in the export
        self.user_functions: list = []

    def generated(self, fn: types.FunctionType, text: str, name: str, what: str) -> str:
        """Write the generated function ``fn`` (its source ``text``) as ``name``."""
        got = self.written.get(id(fn))
        if got is not None:
            return got
        self.ns.reserved.add(name)
        self.written[id(fn)] = name
        renames = {}
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:
                raise ExportError(f"{what} reads {var!r}, which is not set") from None
            target = self.injected(var, value, what)
            if target != var:
                renames[var] = target
        self.ns.read_globals(fn, what)
        body = with_def_line(rename(text, renames), name, fn.__defaults__, fn.__kwdefaults__, what)
        self.ns.add_block(f"# {what}\n" + body, derivative=True)
        return name

    def injected(self, var: str, value: Any, what: str) -> str:
        """The module-level name of the object ``value`` generated code reads as ``var``."""
        if isinstance(value, Transformed):
            return self.callee(var, value)
        if isinstance(value, BufferPool):
            target = self.ns.free_name(var, value)
            self.ns.bind("BufferPool", BufferPool, what, BufferPool.__module__)
            if self.ns.claim(target, value, what):
                views = tuple((b, s, d.str) for b, s, d in value.views)
                self.ns.add_block(f"{target} = BufferPool.of({value.blocks!r}, {views!r})")
            return target
        if type(value) is types.FunctionType and value.__code__.co_filename == _BUILDER_FILE:
            return self.builder(var, value)
        if type(value) is types.FunctionType and _made_here(value.__code__.co_filename):
            raise ExportError(f"{what} calls {var}, generated code an export cannot write yet")
        own = getattr(value, "__module__", "") or ""
        if own.split(".")[0] == __name__.split(".")[0] and not own.startswith(_RUNTIME):
            raise ExportError(_taken_when_run(what, var, own, value))
        if own.split(".")[0] == __name__.split(".")[0] and hasattr(value, "__name__"):
            self.ns.bind(value.__name__, value, what, own)
            return value.__name__
        target = self.ns.free_name(var, value)
        self.ns.bind(target, value, what)
        return target

    def callee(self, var: str, t: Transformed) -> str:
        """The wrapper that calls the build of the user's helper's derivative ``t`` that ran
        (what calling ``t`` returns, from what its generated function returns)."""
        got = self.written.get(id(t))
        if got is not None:
            return got
        name = self.ns.free_name(var, t)
        self.ns.claim(name, t, var)
        self.written[id(t)] = name
        entries = self.runs.get(id(t), [])
        if t.bound_self:
            raise ExportError(f"{var}: the derivative of a method; an export cannot write it yet")
        self.user_functions.append(t.f)
        if not entries:  # never reached for the arguments exported
            self.ns.add_block(
                f"def {name}(*args, **kwargs):\n"
                f'    raise NotImplementedError("{name} was not reached when this module was '
                'exported")\n'
            )
            return name
        runs = []
        for k, (args, entry) in enumerate(entries):
            run = f"run_{name}" + (f"_{k + 1}" if k else "")
            described = _describe(t, "derivative") + (
                f", for {describe_value(args)}" if len(entries) > 1 else ""
            )
            runs.append((self.generated(entry.fn, entry.text, run, described), args))
        self.ns.add_block(_callee_wrapper(name, runs, t, entries[0][1]), derivative=True)
        if t.mode == "jvp":
            self.ns.bind("_not_aliasing", None, name, derivative_module.__name__)
        return name

    def builder(self, var: str, fn: types.FunctionType) -> str:
        """A gradient builder (:func:`~sourcegrad.runtime.containers.gradient_builder`) as
        source: the text it was made from, recovered by running it on markers."""
        name = self.ns.free_name(var, fn)
        if not self.ns.claim(name, fn, var):
            return name
        self.ns.reserved.add(name)
        text = builder_source(fn, name)
        for helper in ("_leaf", "_zero_leaf"):
            if helper in fn.__code__.co_names:
                value = fn.__globals__[helper]
                self.ns.bind(helper, value, var, value.__module__)
        self.ns.add_block(text)
        return name


def _taken_when_run(what: str, var: str, own: str, value) -> str:
    """Why the derivative ``var`` that generated code takes while it runs cannot be exported,
    and what to do instead."""
    head = f"{what} calls {var} ({own}.{getattr(value, '__name__', '')}): a derivative taken "
    if var.startswith("jvp_of"):
        return (
            head + "when the code runs, at order 2 and up, of a helper's derivative (forward "
            "mode over the helper's vjp, resolved from the objects it gets); an export writes "
            "only code built before it runs. Export order=1 (the gradient) or mode='forward', "
            "or write the helper's body into the function for a higher-order export"
        )
    return (
        head + "when the code runs, of a function value (a function from a list or a dict, a "
        "layer object, a lambda): which function it is, and the variables it reads from an "
        "enclosing function, are known only when the code runs, and an export writes only code "
        "built before. Call a module-level function by its name instead, so that its derivative "
        "is built with the function's"
    )


def _callee_wrapper(name: str, runs: list, t: Transformed, entry) -> str:
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
        tail = "    return value, _not_aliasing(tangent, t_in)\n"
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


def guard_source(args: tuple) -> str:
    """A Python expression over ``args`` that is true for arguments of ``args``' signature
    (:func:`~sourcegrad.runtime.signature.guard_expression`, its constants written out)."""
    expr, namespace = guard_expression(args)
    values = {name: _guard_constant(value) for name, value in namespace.items()}
    text = rename(expr, values)
    return re.sub(r" is (np\.dtype\()", r" == \1", text)


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


# ---------------------------------------------------------------------------- descriptions
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


def _describe(t: Transformed, what: str) -> str:
    f = t.f
    code = getattr(f, "__code__", None)
    where = f" ({os.path.basename(code.co_filename)}:{code.co_firstlineno})" if code else ""
    mode = {"grad": "gradient", "vjp": "vjp", "jvp": "jvp"}[t.mode]
    return f"the {mode} of {getattr(f, '__qualname__', f)}{where}, the {what} that runs"


# ---------------------------------------------------------------------------- export
def export(
    f: Callable,
    args: tuple,
    *,
    path: str | os.PathLike | None = None,
    wrt: int | Sequence[int] = 0,
    mode: str = "reverse",
    order: int = 1,
) -> str:
    """The source of a standalone module computing the derivative of ``f`` for arguments
    like ``args`` (see the module docstring); written to ``path`` too where given."""
    if mode not in ("reverse", "forward"):
        raise SourcegradError(f"mode={mode!r} is not available; use 'reverse' or 'forward'")
    if type(order) is not int or order < 1 or (order >= 2 and mode != "reverse"):
        raise ExportError(
            f"order={order!r}, mode={mode!r}: an export writes gradients, jvps (order=1) and, "
            "in reverse mode, derivatives of order 2 and up along a vector (order=2: "
            "Hessian-vector products)"
        )
    if not isinstance(f, types.FunctionType):
        raise ExportError(f"export takes a plain function, got {f!r}")
    args = tuple(args)
    with derive.whole_vjps():  # each callee's vjp is written whole
        if order >= 2:
            text = _tower_module_text(f, wrt, args, order)
        else:
            text = _first_order_text(f, wrt, mode, args)
    if path is not None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    return text


#: the options of an export's derivatives: builds apart from those that keep forward sweeps
_WHOLE = {"keep_forward": False}


def _first_order_text(f, wrt, mode: str, args: tuple) -> str:
    """The export of the gradient (``mode="reverse"``) or jvp of ``f`` for ``args``."""
    if mode == "reverse":
        df = derivative(f, wrt, "grad", False, True, _WHOLE)
        call = lambda: df(*args)  # noqa: E731
    else:
        df = derivative(f, wrt, "jvp", False, True, _WHOLE)
        seed = tuple(args[i] for i in df.wrt) if df.wrt_tuple else args[df.wrt[0]]
        call = lambda: df(*args, seed)  # noqa: E731
    for _ in range(derivative_module.SPECIALISE_AFTER + 1):  # until the running build runs
        call()
    entry = df.emitted(args)
    runs: dict = {}
    for t, targs, ran in traced_runs(call):
        got = runs.setdefault(id(t), [])
        if all(e is not ran for _, e in got):
            got.append((targs, ran))
    return _module_text(f, df, entry, runs, args)


def _tower_module_text(f, wrt, args: tuple, order: int) -> str:
    """The export of the ``order``-th derivative of ``f`` along one vector ``v`` for ``args``
    (then ``v``): forward mode applied ``order - 1`` times to the pure gradient, each level
    transforming the pure code of the one below, built as :class:`sourcegrad.higher.Tower`
    builds it and run as it runs it (``order=2``: ``sg.hvp``'s Hessian-vector product)."""
    if isinstance(wrt, (tuple, list)):
        raise ExportError(
            f"order={order}: an export writes the derivative along one wrt (an argument "
            "position); export each argument's, or pack the arguments into one"
        )
    g = Transformed(f, (wrt,), "grad", False, False, _WHOLE)
    entry = g.emitted(args)
    values = tuple(args)
    for k in range(order - 1):
        select = (1, 1) if k == 0 else (1,)
        jt = Transformed(entry.source_fn, (wrt,), "jvp", False, True, {"select": select, **_WHOLE})
        entry = jt.emitted(values)
        values += (args[wrt],)  # a seed of v's structure: the build does not read its values
    writer = _Writer({})
    writer.user_functions.append(f)
    public = f"d_{f.__name__}"
    what = _describe(g, f"derivative of order {order} (forward mode over it, {order - 1}x)")
    what = what.replace("the gradient of", "the gradient of the gradient of", 1)
    run = writer.generated(entry.fn, entry.text, f"run_{public}", what)
    code = entry.fn.__code__  # the seeds: its last keyword-only parameters, one per level
    kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    seeds = ", ".join(f"{p}=v" for p in kwonly[-(order - 1) :])
    writer.ns.add_block(
        f"def {public}(*args):\n    *args, v = args\n    return {run}(*args, {seeds})\n",
        derivative=True,
    )
    header = lambda: _header(f, g, args, writer.user_functions, public, order)  # noqa: E731
    return _assemble(writer, header, public)


def _module_text(f, df: Transformed, entry, runs: dict, args: tuple) -> str:
    writer = _Writer(runs)
    writer.user_functions.append(f)
    public = f"d_{f.__name__}"
    code = getattr(entry.fn, "__code__", None)
    if code is not None and code.co_filename == pipeline.__file__:
        _scalar_gradient(writer, entry.fn, public, df)
    elif code is None or not is_generated(code.co_filename):
        raise ExportError(f"the derivative of {f.__qualname__} runs through {entry.fn!r}")
    else:
        direct = df.mode == "grad" and not (df.wrt_tuple and len(df.wrt) == 1)
        main = public if direct else f"run_{public}"
        writer.generated(entry.fn, entry.text, main, _describe(df, "derivative"))
        if not direct:
            writer.ns.add_block(_public_wrapper(public, main, df, entry), derivative=True)
            if df.mode == "jvp":
                writer.ns.bind("_not_aliasing", None, public, derivative_module.__name__)
    return _assemble(writer, lambda: _header(f, df, args, writer.user_functions, public), public)


def _assemble(writer: _Writer, header: Callable[[], str], public: str) -> str:
    """The module's text: ``header``, imports, the derivative, then what it reads."""
    for fn in list(writer.ns.bound.values()):
        if type(fn) is types.FunctionType and not _made_here(fn.__code__.co_filename):
            own = (fn.__module__ or "").split(".")[0] == __name__.split(".")[0]
            if not own and fn not in writer.user_functions:
                writer.user_functions.append(fn)
    parts = [header(), _import_block(writer.ns.imports), f"__all__ = [{public!r}]\n"]
    parts += writer.ns.derived[::-1]  # the public function first, then what it calls
    parts += [_SUPPORT] + writer.ns.blocks
    text = "\n\n".join(p.rstrip("\n") + "\n" for p in parts)
    import black  # only where a module is written: `import sourcegrad` stays light

    return black.format_str(text, mode=black.Mode(line_length=LINE_LENGTH))


def _import_block(imports) -> str:
    """The imports, as isort orders them: ``__future__``, the standard library, then NumPy
    or CuPy; plain imports before ``from`` imports in each group."""
    groups: list[list[str]] = [[], []]
    for line in imports:
        top = line.split()[1].split(".")[0]
        groups[0 if top in sys.stdlib_module_names else 1].append(line)
    key = lambda line: (line.startswith("from"), line.split()[1])  # noqa: E731
    blocks = ["from __future__ import annotations"]
    blocks += ["\n".join(sorted(g, key=key)) for g in groups if g]
    return "\n\n".join(blocks) + "\n"


def _scalar_gradient(writer: _Writer, fn: types.FunctionType, public: str, df) -> None:
    """Write the gradient with respect to a 0-d array, which runs in forward mode through a
    wrapper of the pipeline's (:func:`sourcegrad.pipeline.Pipeline` calls the jvp with a
    seed of ones and returns the tangent as the gradient)."""
    try:
        closure = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
        jvp, i, param = closure["jvp"], closure["i"], closure["param"]
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"the derivative of {df.f.__qualname__} runs through {fn!r}") from None
    try:  # the generated text, registered with linecache
        inner = textwrap.dedent(inspect.getsource(jvp))
    except (OSError, TypeError):
        raise ExportError(f"the source of {jvp.__qualname__} cannot be read") from None
    run = writer.generated(jvp, inner, f"run_{public}", _describe(df, "derivative"))
    writer.ns.bind("_as_gradient", None, public, pipeline.__name__)
    writer.ns.add_block(
        f"def {public}(*args, **kwargs):\n"
        f"    x = args[{i}]\n"
        "    if type(x) is np.ndarray:\n"
        f"        kwargs = dict(kwargs, {param}=np.ones_like(x))\n"
        f"    value, tangent = {run}(*args, **kwargs)\n"
        "    return value, _as_gradient(x, tangent)\n",
        derivative=True,
    )


def _public_wrapper(public: str, run: str, df: Transformed, entry) -> str:
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
        "    return value, _not_aliasing(tangent, t_in)\n"
    )


def _header(f, df: Transformed, args: tuple, functions: list, public: str, order: int = 1) -> str:
    code = f.__code__
    params = code.co_varnames[: code.co_argcount]
    wrt = ", ".join(params[i] if 0 <= i < len(params) else str(i) for i in df.wrt)
    version = getattr(sys.modules.get(__name__.split(".")[0]), "__version__", "unknown")
    call = ", ".join(params)
    wrt_arg = df.wrt if df.wrt_tuple else df.wrt[0]
    if order == 2:
        what = (
            f"{public}({call}, v) returns the Hessian of {f.__name__} with respect to {wrt} "
            f"times v, as sourcegrad.hvp({f.__name__}, wrt={wrt_arg}) does."
        )
    elif order > 2:
        what = (
            f"{public}({call}, v) returns the derivative of order {order} of {f.__name__} with "
            f"respect to {wrt} applied {order - 1} times to v (the gradient of the "
            f"{order - 1}-th derivative of {f.__name__} along v): forward mode {order - 1} "
            f"times over the gradient, as sourcegrad.hvp({f.__name__}, wrt={wrt_arg}) is for "
            "order 2."
        )
    elif df.mode == "grad":
        what = (
            f"{public}({call}) returns ({f.__name__}({call}), its gradient with respect to "
            f"{wrt}), as sourcegrad.value_and_grad({f.__name__}, wrt={wrt_arg}) does."
        )
    else:
        what = (
            f"{public}({call}, t_in) returns ({f.__name__}({call}), its derivative along the "
            f"tangent t_in of {wrt}), as sourcegrad.jvp({f.__name__}, wrt={wrt_arg}) does."
        )
    paragraphs = [
        f"Made by sourcegrad.export from {f.__qualname__} in {code.co_filename}, line "
        f"{code.co_firstlineno}. {what}",
        "It is the code sourcegrad runs (optimized, specialised to the shapes) for arguments "
        "of this signature, and only for them: other shapes or dtypes need another export.",
    ]
    lines = [f'"""The derivative of {f.__name__}, exported by sourcegrad {version}."""', ""]
    for text in paragraphs:
        lines += textwrap.wrap(text, LINE_LENGTH - 2, initial_indent="# ", subsequent_indent="# ")
    lines += [f"#   {p}: {describe_value(a)}" for p, a in zip(params + ("*",) * len(args), args)]
    names = ", ".join(fn.__name__ for fn in functions)
    lines.append(f"# source sha256: {source_digest(functions)} of {names}")
    return "\n".join(lines) + "\n"


def _made_here(filename: str) -> bool:
    """Code with no file of the user's: generated by sourcegrad, or compiled from a string."""
    return filename.startswith("<") or is_generated(filename)
