"""``sg.export``: a derivative written out as one standalone module.

The module exported for ``f`` and example arguments holds one public function, ``d_<name>``,
that returns what ``sg.value_and_grad(f, wrt)`` returns for arguments of that signature
(``sg.jvp``'s ``(value, tangent)`` in forward mode), computed by the same code: the
*running* build, the one a derivative runs from its second call with those shapes on
(optimized, specialised to the shapes, with its buffer pools), so the numbers agree with
``value_and_grad`` bit for bit (``order=N``: the tower's, forward mode ``N - 1`` times over
the gradient; ``order=2`` is ``sg.hvp``'s Hessian-vector product). Next to it: the
generated derivative of every helper of the user's that it calls, every derivative its code
resolves while it runs (the vjps and jvps of function values, forward mode over helpers' and
function values' derivatives; :mod:`sourcegrad.export_values`; written by
:mod:`sourcegrad.export_writer`), all found by running the derivative once, the user's
functions the forward sweep calls, every runtime helper and what it reaches of sourcegrad's
library (:mod:`sourcegrad.export_library`), as source, and the globals it reads as literals. It imports NumPy (or CuPy) and the standard
library only, is formatted by black, and starts with a header that says what it
differentiates, for which argument signature, made by which sourcegrad, from which source
(:func:`source_digest`, :func:`is_stale`).
"""

from __future__ import annotations

import inspect
import os
import textwrap
import types
from collections.abc import Callable, Sequence

from . import derivative as derivative_module
from . import pipeline
from .arguments import with_defaults
from .derivative import Transformed, derivative
from .disk_cache import is_generated
from .errors import SourcegradError
from .export_format import formatted_module
from .export_header import header, is_stale, source_digest
from .export_runtime import GRADIENTS_STAND_IN
from .export_source import ALLOWED_PACKAGES, ExportError, is_standard
from .export_text import describe, import_block, packing_wrapper, public_wrapper
from .export_values import Trace, take_gradients, traced, write_gradients
from .export_writer import Writer, made_here
from .higher import Tower
from .higher.pieces import raised_at
from .outputs import not_aliasing
from .pipeline import as_gradient
from .transform import derive

__all__ = ["ExportError", "export", "is_stale", "source_digest"]

_SUPPORT = (
    "# " + "-" * 76 + "\n# What the derivative reads: sourcegrad's runtime helpers (copied from "
    "its source),\n# the functions of yours it calls and the globals it reads (their values "
    "when exported).\n"
)


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
    try:
        with derive.whole_vjps():  # each callee's vjp is written whole
            if order >= 2:
                text = _tower_module_text(f, wrt, args, order)
            else:
                text = _first_order_text(f, wrt, mode, args)
    except SourcegradError as exc:
        if exc.filename is not None:
            raise
        raise type(exc)(exc.reason, *raised_at(exc, f)) from None  # the call it met, or f
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
    return _module_text(f, df, entry, traced(call), args)


def _tower_module_text(f, wrt, args: tuple, order: int) -> str:
    """The export of the ``order``-th derivative of ``f`` along one vector ``v`` for ``args``
    (then ``v``): forward mode applied ``order - 1`` times to the pure gradient, each level
    transforming the pure code of the one below, built as :class:`sourcegrad.higher.Tower`
    builds it and run as it runs it (``order=2``: ``sg.hvp``'s Hessian-vector product). The
    outermost level is written as its running build (optimized for these shapes: lists grown
    in loops append and pop), the one the tower runs from a signature's second call on."""
    if isinstance(wrt, (tuple, list)):
        raise ExportError(
            f"order={order}: an export writes the derivative along one wrt (an argument "
            "position); export each argument's, or pack the arguments into one"
        )
    levels = Tower(f, (), [wrt] * (order - 1), (wrt,), options=_WHOLE)
    g = levels.gradient()
    values = with_defaults(f, tuple(args)) + (args[wrt],) * (order - 1)  # seeds: v's structure
    _, outer, taken = levels._below(values)
    code = outer.ranked(taken).fn.__code__  # the seeds: its last keyword-only parameters
    kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    rest = values[code.co_argcount :]  # by keyword, the last ones (as the tower calls it)
    named = dict(zip(kwonly[len(kwonly) - len(rest) :], rest))
    for _ in range(derivative_module.SPECIALISE_AFTER + 1):  # until the running build runs
        entry = outer.emitted(taken)
        entry.fn(*values[: code.co_argcount], **named)
    call = lambda: entry.fn(*values[: code.co_argcount], **named)  # noqa: E731
    writer = Writer(traced(call), f)
    take_gradients(writer, GRADIENTS_STAND_IN)
    writer.ns.argument_classes(args, f"the arguments of {f.__qualname__}")
    public = f"d_{f.__name__}"
    what = describe(g, f"derivative of order {order} (forward mode over it, {order - 1}x)")
    what = what.replace("the gradient of", "the gradient of the gradient of", 1)
    run = writer.generated(entry.fn, entry.text, f"run_{public}", what)
    seeds = ", ".join(f"{p}=v" for p in kwonly[-(order - 1) :])
    writer.ns.add_block(
        f"def {public}(*args):\n    *args, v = args\n    return {run}(*args, {seeds})\n",
        derivative=True,
    )
    writer.gradient_jvps = write_gradients(writer, writer.trace)
    writer.resolved()
    make_header = lambda: header(f, g, args, writer.user_functions, public, order)  # noqa: E731
    return _assemble(writer, make_header, public)


def _module_text(f, df: Transformed, entry, trace: Trace, args: tuple) -> str:
    writer = Writer(trace, f)
    take_gradients(writer, GRADIENTS_STAND_IN)
    writer.ns.argument_classes(args, f"the arguments of {f.__qualname__}")
    public = f"d_{f.__name__}"
    code = getattr(entry.fn, "__code__", None)
    if code is not None and code.co_filename == pipeline.__file__:
        _scalar_gradient(writer, entry.fn, public, df)
    elif code is None or not is_generated(code.co_filename):
        raise ExportError(f"the derivative of {f.__qualname__} runs through {entry.fn!r}")
    else:
        direct = df.mode == "grad" and not (df.wrt_tuple and len(df.wrt) == 1)
        direct = direct and df.packing is None
        main = public if direct else f"run_{public}"
        writer.generated(entry.fn, entry.text, main, describe(df, "derivative"))
        if df.packing is not None and df.mode != "grad":
            raise ExportError(
                f"{f.__name__}() takes *args or **kwargs: its gradient exports (mode "
                "'reverse'); for forward mode give every argument a name",
                f.__code__.co_filename,
                f.__code__.co_firstlineno,
            )
        if df.packing is not None:  # def loss(params, *batch): called as the user calls it
            writer.ns.add_block(packing_wrapper(public, main, df.packing), derivative=True)
        elif not direct:
            writer.ns.add_block(public_wrapper(public, main, df, entry), derivative=True)
            if df.mode == "jvp":
                writer.ns.bind("not_aliasing", not_aliasing, public)
    writer.gradient_jvps = write_gradients(writer, trace)
    writer.resolved()
    return _assemble(writer, lambda: header(f, df, args, writer.user_functions, public), public)


def _assemble(writer: Writer, make_header: Callable[[], str], public: str) -> str:
    """The module's text: ``make_header()``, imports, the derivative, then what it reads."""
    for fn in list(writer.ns.bound.values()):  # the user's functions and classes it copies
        copied = isinstance(fn, type) and fn.__module__.split(".")[0] not in ALLOWED_PACKAGES
        if copied or (type(fn) is types.FunctionType and not made_here(fn.__code__.co_filename)):
            own = (fn.__module__ or "").split(".")[0] == __name__.split(".")[0]
            if not own and not is_standard(fn) and fn not in writer.user_functions:
                writer.user_functions.append(fn)
    head = [make_header(), import_block(writer.ns.imports), f"__all__ = [{public!r}]\n"]
    parts = ["\n\n".join(p.rstrip("\n") + "\n" for p in head)]  # black spaces these its own way
    parts += writer.ns.derived[::-1]  # the public function first, then what it calls
    parts += [_SUPPORT] + writer.ns.blocks
    return formatted_module(parts)


def _scalar_gradient(writer: Writer, fn: types.FunctionType, public: str, df) -> None:
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
    run = writer.generated(jvp, inner, f"run_{public}", describe(df, "derivative"))
    writer.ns.bind("as_gradient", as_gradient, public)
    writer.ns.add_block(
        f"def {public}(*args, **kwargs):\n"
        f"    x = args[{i}]\n"
        "    if type(x) is np.ndarray:\n"
        f"        kwargs = dict(kwargs, {param}=np.ones_like(x))\n"
        f"    value, tangent = {run}(*args, **kwargs)\n"
        "    return value, as_gradient(x, tangent)\n",
        derivative=True,
    )
