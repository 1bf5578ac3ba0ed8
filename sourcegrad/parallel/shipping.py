"""Functions sent to other ranks: a function importable by name travels as its name; one
defined in ``__main__``, a notebook cell or a string of code travels as its source text and is
rebuilt on the receiving rank, where sourcegrad reads that text as it reads any source.

``pack(fn)`` makes a :class:`Shipped` (picklable); ``unpack(shipped)`` rebuilds the function;
``share(comm, fn)`` does both through a communicator (rank 0's function on every rank). Each
rank then builds its own derivative of the rebuilt function, once.

What a function rebuilt from source sees: the globals its code names, each sent as a module
name (modules), a shipped function (functions), or by pickle (anything else, e.g. arrays or
``sourcegrad.nn`` layers); closure variables by pickle; its defaults. Its source is kept under
the file name ``"<original file> (shipped)"`` with its original line numbers, so errors name
the user's file and line. What cannot be sent is refused before anything is sent, naming it.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import linecache
import pickle
import textwrap
import types

from ..errors import SourcegradError

__all__ = ["Shipped", "ShippingError", "pack", "unpack", "share"]


class ShippingError(SourcegradError):
    """A function that cannot be sent to other ranks, naming what stops it and the way out."""


@dataclasses.dataclass
class Shipped:
    """A function in transit: ``module`` and ``qualname`` (imported by name) or, for one
    rebuilt from source, its ``source``, ``filename``, ``firstlineno``, and the ``globals``,
    ``closure`` and ``defaults`` it needs."""

    module: str
    qualname: str
    source: str | None = None
    filename: str = ""
    firstlineno: int = 1
    globals: dict = dataclasses.field(default_factory=dict)
    closure: dict = dataclasses.field(default_factory=dict)
    defaults: bytes = b""


def importable(fn) -> bool:
    """Whether importing ``fn.__module__`` and following ``fn.__qualname__`` gives ``fn``."""
    if fn.__module__ in (None, "__main__") or "<locals>" in fn.__qualname__:
        return False
    try:
        found = importlib.import_module(fn.__module__)
        for part in fn.__qualname__.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return False
    return found is fn


def pack(fn: types.FunctionType, _seen: frozenset = frozenset()) -> Shipped:
    """``fn`` as a :class:`Shipped`: by name where importable, else by source (see the module
    docstring). Raises :class:`ShippingError` naming what cannot be sent."""
    if not isinstance(fn, types.FunctionType):
        raise ShippingError(f"only Python functions are shipped, not {type(fn).__name__}")
    if importable(fn):
        return Shipped(fn.__module__, fn.__qualname__)
    code = fn.__code__
    where = f"{code.co_filename}:{code.co_firstlineno}"
    try:
        lines, first = inspect.getsourcelines(code)
    except (OSError, TypeError):
        lines = linecache.getlines(code.co_filename)
        if not lines:
            raise ShippingError(
                f"{fn.__qualname__} ({where}) has no source to ship: define it in a file or "
                "a notebook cell, or in a module every rank can import"
            ) from None
        first = code.co_firstlineno
        lines = inspect.getblock(lines[first - 1 :])
    seen = _seen | {id(fn)}
    return Shipped(
        module=fn.__module__ or "__main__",
        qualname=fn.__qualname__,
        source=textwrap.dedent("".join(lines)),
        filename=code.co_filename,
        firstlineno=first,
        globals=needed_globals(fn, seen),
        closure=closure_values(fn),
        defaults=dumps((fn.__defaults__, fn.__kwdefaults__), f"the defaults of {where}"),
    )


def names_used(code: types.CodeType) -> set:
    """Every global name ``code`` and the code nested in it may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= names_used(const)
    return names


def needed_globals(fn, seen: frozenset) -> dict:
    """``{name: ("module", name) | ("function", Shipped) | ("value", pickle)}`` for each
    global ``fn`` names that its module defines."""
    out = {}
    for name in sorted(names_used(fn.__code__)):
        if name not in fn.__globals__:
            continue
        value = fn.__globals__[name]
        if isinstance(value, types.ModuleType):
            out[name] = ("module", value.__name__)
        elif isinstance(value, types.FunctionType) and id(value) not in seen:
            out[name] = ("function", pack(value, seen))
        elif isinstance(value, types.FunctionType):
            raise ShippingError(f"{fn.__qualname__} and {name} call each other: define them "
                                "in a module every rank can import")  # fmt: skip
        else:
            out[name] = ("value", dumps(value, f"the global {name!r} of {fn.__qualname__}"))
    return out


def closure_values(fn) -> dict:
    """The closure variables of ``fn`` by name, pickled."""
    cells = fn.__closure__ or ()
    return {
        name: dumps(cell.cell_contents, f"the variable {name!r} that {fn.__qualname__} captures")
        for name, cell in zip(fn.__code__.co_freevars, cells)
    }


def dumps(value, what: str) -> bytes:
    try:
        return pickle.dumps(value)
    except Exception as e:  # noqa: BLE001 - pickling raises many kinds
        raise ShippingError(
            f"cannot send {what} to the other ranks ({type(e).__name__}: {e}): define it in a "
            "module every rank can import, or make it on every rank"
        ) from e


def unpack(shipped: Shipped) -> types.FunctionType:
    """The function ``shipped`` stands for: imported by name, or rebuilt from its source with
    the globals, closure and defaults it was sent with."""
    if shipped.source is None:
        found = importlib.import_module(shipped.module)
        for part in shipped.qualname.split("."):
            found = getattr(found, part)
        return found
    namespace = {"__name__": shipped.module, "__builtins__": builtins}
    for name, (kind, value) in shipped.globals.items():
        if kind == "module":
            namespace[name] = importlib.import_module(value)
        elif kind == "function":
            namespace[name] = unpack(value)
        else:
            namespace[name] = pickle.loads(value)  # noqa: S301 - bytes from rank 0 of this job
    filename = f"{shipped.filename} (shipped)"
    text = "\n" * (shipped.firstlineno - 1) + without_decorators(shipped.source)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    name = shipped.qualname.rsplit(".", 1)[-1]
    if shipped.closure:
        fn = rebuilt_in_closure(text, filename, name, namespace, shipped.closure)
    else:
        exec(compile(text, filename, "exec"), namespace)  # noqa: S102
        fn = namespace[name]
    fn.__defaults__, fn.__kwdefaults__ = pickle.loads(shipped.defaults)  # noqa: S301
    fn.__qualname__ = shipped.qualname
    return fn


def without_decorators(source: str) -> str:
    """``source`` (one ``def``) with its decorator lines blanked, line numbers kept."""
    tree = ast.parse(source)
    node = tree.body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.decorator_list:
        return source
    lines = source.splitlines(True)
    for i in range(node.decorator_list[0].lineno - 1, node.lineno - 1):
        lines[i] = "\n"
    return "".join(lines)


def rebuilt_in_closure(text, filename, name, namespace, closure):
    """The function defined by ``text`` inside a maker whose locals are the closure values,
    so that it captures them as cells, as the original did."""
    values = {k: pickle.loads(v) for k, v in closure.items()}  # noqa: S301
    body = textwrap.indent(text.lstrip("\n"), "    ")
    blank = text[: len(text) - len(text.lstrip("\n"))]
    names = ", ".join(values)
    maker = f"def __sourcegrad_maker__({names}):\n{body}\n    return {name}\n"
    source = blank[:-1] + maker if blank else maker
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace["__sourcegrad_maker__"](**values)


def share(comm, fn=None):
    """Rank 0's ``fn`` on every rank: rank 0 returns ``fn`` itself, the others a function
    rebuilt from what rank 0 sent (see :func:`pack`). Every rank must call it; only rank 0's
    ``fn`` is read."""
    data = pickle.dumps(pack(fn)) if comm.rank == 0 else None
    data = comm.broadcast_bytes(data)
    return fn if comm.rank == 0 else unpack(pickle.loads(data))  # noqa: S301
