"""Python objects as the source of one standalone module: what :mod:`sourcegrad.export` writes.

A :class:`Namespace` collects module-level definitions under names. Each object it is given
becomes source: an import (NumPy, CuPy and the standard library only), a literal (numbers,
strings, NumPy arrays and scalars, tuples, lists and dicts of them, written so that they read
back bit for bit), a function or class copied with its source (a user's function with
``inspect.getsource``; a sourcegrad helper as the statement that defines it in its module),
each with everything it reads, transitively. What cannot be written so (an object of another
kind, another package's module) is refused with a :class:`~sourcegrad.errors.SourcegradError`
that names it.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import inspect
import math
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .disk_cache import is_generated
from .errors import SourcegradError

#: arrays above this many elements are not written into an export as literals
MAX_LITERAL_ELEMENTS = 1 << 16
#: the only packages an export may import besides the standard library
ALLOWED_PACKAGES = ("numpy", "cupy")
_OWN_PACKAGE = __name__.split(".")[0]
#: the modules of sourcegrad an export copies from: what generated code calls, and what that reads
COPIED_MODULES = tuple(f"{_OWN_PACKAGE}.{m}" for m in ("runtime", "errors", "outputs", "pipeline"))
#: decorators dropped when a helper of sourcegrad's is copied: they only declare its facts
_FACT_DECORATORS = ("helper",)


#: why a function that takes derivatives with sourcegrad while it runs is not exported
_TAKES_DERIVATIVES = (
    "{what} reads {name!r}, sourcegrad itself: the function takes a derivative while it runs "
    "(a gradient called inside it), which an export does not write: the derivative of that "
    "call (a Hessian-vector product through it) is built by sourcegrad from the inner "
    "function's source when the code runs, and the module holds no sourcegrad; export that "
    "derivative apart, or write the function without it"
)
#: why a function that reads a part of sourcegrad other than its library and runtime helpers
#: (an optimizer, a module of its machinery) is not exported
_LIBRARY = (
    "{what} reads {name!r}, {kind} of sourcegrad ({module}) that an export does not copy: "
    "it copies sourcegrad's runtime helpers and, of its library, what the derivative reaches "
    "of sg.nn, sg.model, sg.util and sg.loss; compute it before the export and pass the "
    "result as an argument, or differentiate with sourcegrad in process instead of exporting"
)
#: sourcegrad's modules whose objects are derivatives (made by sg.grad and the like)
_DERIVATIVES = tuple(
    f"{_OWN_PACKAGE}.{m}" for m in ("derivative", "higher", "function_values", "callables")
)
#: the way out where the function calls a derivative sourcegrad made before it runs
_INSIDE = (
    "; or take the gradient where it is called (sg.grad(f)(...) in the function, reverse "
    "mode), which an export writes"
)


class ExportError(SourcegradError):
    """Part of a derivative cannot be written as standalone source."""


# ---------------------------------------------------------------------------- literals
def literal(value: Any, what: str) -> str:
    """Python source that evaluates to ``value`` exactly (given ``import numpy as np``):
    numbers, strings, bytes, None, NumPy scalars, arrays and functions, and tuples, lists and
    dicts of them. Refused (naming ``what``) for anything else."""
    t = type(value)
    if value is None or t in (bool, int, str, bytes):
        return repr(value)
    if t is float:
        return _float(value)
    if t is complex:
        return f"complex({_float(value.real)}, {_float(value.imag)})"
    if isinstance(value, np.generic):
        dtype = value.dtype
        if dtype.kind in "fciub":
            return f"np.{dtype.name}({literal(value.item(), what)})"
    if t is np.ndarray:
        return _array(value, what)
    if t in (tuple, list):
        items = [literal(v, f"{what}[{i}]") for i, v in enumerate(value)]
        if t is tuple:
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    if t is dict:
        parts = [f"{literal(k, what)}: {literal(v, f'{what}[{k!r}]')}" for k, v in value.items()]
        return "{" + ", ".join(parts) + "}"
    alias = numpy_alias(value)  # a NumPy function (in a list or dict of functions)
    if alias is not None:
        return alias
    raise ExportError(
        f"{what} is a {t.__module__}.{t.__qualname__} object; an export holds only NumPy "
        "arrays, numbers, strings and tuples, lists and dicts of them: pass it as an argument "
        "or make it one of those"
    )


def _float(x: float) -> str:
    if math.isfinite(x):
        return repr(x)
    if math.isnan(x):
        return 'float("nan")'
    return 'float("inf")' if x > 0 else '-float("inf")'


def _array(a: np.ndarray, what: str) -> str:
    if a.dtype.kind not in "fciub":
        raise ExportError(f"{what} is an array of dtype {a.dtype}, which an export cannot hold")
    if a.size > MAX_LITERAL_ELEMENTS:
        raise ExportError(
            f"{what} is an array of {a.size} elements, too large to write into an export "
            f"(at most {MAX_LITERAL_ELEMENTS}): pass it as an argument instead"
        )
    items = literal(a.ravel().tolist(), what)
    return f"np.array({items}, dtype={a.dtype.str!r}).reshape({a.shape!r})"


# ---------------------------------------------------------------------------- source reading
@functools.lru_cache(maxsize=1024)
def loaded_globals(code: types.CodeType) -> tuple[str, ...]:
    """The global names ``code`` (and the code nested in it) reads, in order of first use."""
    names: dict = {}
    todo = [code]
    while todo:
        c = todo.pop(0)
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                names.setdefault(ins.argval, None)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return tuple(names)


def names_read(node: ast.AST) -> list[str]:
    """The names ``node`` reads (annotations left out: an export postpones them)."""
    found: dict = {}

    def visit(n):
        if isinstance(n, (ast.arg, ast.AnnAssign)):
            for field, child in ast.iter_fields(n):
                if field != "annotation" and isinstance(child, ast.AST):
                    visit(child)
            return
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept = [d for d in n.decorator_list if not _is_fact_decorator(d)]
            rest = (n.args,) if not isinstance(n, ast.ClassDef) else (*n.bases, *n.keywords)
            for child in (*kept, *rest, *n.body):
                visit(child)
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            found.setdefault(n.id, None)
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return list(found)


@functools.lru_cache(maxsize=64)
def _module_statements(module_name: str) -> tuple[dict, list[str]]:
    """``(name -> defining top-level statement, source lines)`` of a module of sourcegrad."""
    module = sys.modules[module_name]
    text = inspect.getsource(module)
    tree = ast.parse(text)
    defs: dict = {}
    for stmt in tree.body:
        for name in _bound_by(stmt):
            defs.setdefault(name, stmt)
    return defs, text.splitlines()


@functools.cache
def _outside_reads(module_name: str, name: str) -> tuple[str, ...]:
    """The names the statement of ``module_name`` defining ``name`` reads from outside
    itself, in the order it reads them."""
    stmt = _module_statements(module_name)[0][name]
    local = locally_bound(stmt) | {name}
    return tuple(read for read in names_read(stmt) if read not in local)


def _bound_by(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    return []


def _statement_text(stmt: ast.stmt, lines: list[str]) -> str:
    """The source of ``stmt``, without the decorators that only declare a helper's facts."""
    start = stmt.lineno
    if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
        kept = [d for d in stmt.decorator_list if not _is_fact_decorator(d)]
        if len(kept) != len(stmt.decorator_list):
            if kept:
                raise ExportError(f"{stmt.name} has decorators an export cannot keep")
        else:
            start = min([d.lineno for d in stmt.decorator_list] + [stmt.lineno])
    return "\n".join(lines[start - 1 : stmt.end_lineno]) + "\n"


def _is_fact_decorator(node: ast.expr) -> bool:
    call = node.func if isinstance(node, ast.Call) else node
    return isinstance(call, ast.Name) and call.id in _FACT_DECORATORS


def function_source(fn: types.FunctionType) -> str:
    """The source of the user's function ``fn`` as a module-level ``def``, decorators
    dropped (sourcegrad differentiates a function's own source, without them)."""
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ExportError(f"the source of {fn.__qualname__} cannot be read: {exc}") from None
    tree = ast.parse(text)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise ExportError(f"{fn.__qualname__} is not written as a def; an export copies defs")
    lines = text.splitlines()
    body = "\n".join(lines[node.lineno - 1 : node.end_lineno]) + "\n"
    if node.name != fn.__name__:
        raise ExportError(f"{fn.__qualname__}: its source does not define {fn.__name__}")
    return body


def with_literal_defaults(text: str, fn: types.FunctionType, what: str) -> str:
    """``text`` (``fn``'s ``def``, from :func:`function_source`) with each default
    expression replaced by a literal of the value ``fn`` holds for it, so that the copy
    runs with the same defaults and its ``def`` reads nothing of the user's module."""
    node = ast.parse(text).body[0]
    values = dict(zip(node.args.defaults, fn.__defaults__ or ()))
    kwdefaults = fn.__kwdefaults__ or {}
    for arg, default in zip(node.args.kwonlyargs, node.args.kw_defaults):
        if default is not None:
            values[default] = kwdefaults[arg.arg]
    lines = [line.encode() for line in text.splitlines()]  # ast's columns count UTF-8 bytes
    spans = sorted(values, key=lambda n: (n.lineno, n.col_offset), reverse=True)
    for expr in spans:
        first, last = expr.lineno - 1, expr.end_lineno - 1
        new = literal(values[expr], what).encode()
        joined = lines[first][: expr.col_offset] + new + lines[last][expr.end_col_offset :]
        lines[first : last + 1] = [joined]
    return "\n".join(line.decode() for line in lines) + "\n"


# ---------------------------------------------------------------------------- the namespace
def global_read_line(fn: Callable, name: str) -> int | None:
    """The first line of ``fn`` (or of a function it defines) that reads the global
    ``name``; None where none does."""
    todo = [fn.__code__]
    while todo:
        code = todo.pop(0)
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name:
                return ins.positions.lineno
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return None


class Namespace:
    """The module-level names of an export, each bound once, with the source that binds it.

    ``blocks`` holds the definitions in an order where each statement that runs at import
    follows what it reads, ``derived`` the functions of the derivative itself (in the order
    made: callees first); ``imports`` the import lines."""

    def __init__(self):
        self.bound: dict[str, Any] = {}
        self.blocks: list[str] = []
        self.derived: list[str] = []
        self.imports: dict[str, None] = {}
        self.reserved: set[str] = set()
        #: the function exported (where a refusal of a global it reads points)
        self.user: Callable | None = None
        #: where set, the source of ``Gradients``, which stands in for the sourcegrad module
        #: the exported function reads (to take gradients while it runs), else None: refused
        self.stand_in: str | None = None
        #: id of a gradient made by sourcegrad before the function runs (a global) -> the
        #: name of the function the export writes for it
        self.gradients: dict[int, str] = {}

    # ------------------------------------------------------------------ names
    def free_name(self, base: str, value: Any) -> str:
        """``base``, or ``base_2``, ``base_3``...: the first that is free or bound to
        ``value`` already."""
        name, k = base, 1
        while name in self.reserved or (name in self.bound and self.bound[name] is not value):
            k += 1
            name = f"{base}_{k}"
        return name

    def claim(self, name: str, value: Any, what: str) -> bool:
        """Bind ``name`` to ``value``; False where it is bound to it already. Refused where
        ``name`` is bound to another object (``what`` says where it is read)."""
        if name in self.bound:
            if self.bound[name] is value or _same_value(self.bound[name], value):
                return False
            raise ExportError(
                f"{what} reads {name!r}, which another part of the export reads as another "
                "object; rename one of them"
            )
        if name in self.reserved:
            raise ExportError(f"{what} reads {name!r}, a name the export itself defines")
        self.bound[name] = value
        return True

    def add_block(self, text: str, derivative: bool = False) -> None:
        """Append a definition (its source); ``derivative``: a function of the derivative
        itself (a ``def`` that reads nothing when it is defined), printed first."""
        (self.derived if derivative else self.blocks).append(text.rstrip("\n") + "\n")

    # ------------------------------------------------------------------ objects
    def bind(self, name: str, value: Any, what: str, module_name: str | None = None) -> None:
        """Make ``name`` (as read by code of module ``module_name``; ``what`` names the
        reader in errors) evaluate to ``value`` in the export."""
        if getattr(builtins, name, _MISSING) is value:
            return
        if module_name is None and isinstance(value, (type, types.FunctionType)):
            own = getattr(value, "__module__", None) or ""
            if own.split(".")[0] == _OWN_PACKAGE:  # one of sourcegrad's, copied from its module
                if value.__name__ != name:
                    raise ExportError(f"{what} reads {own}.{value.__name__} as {name!r}")
                module_name = own
        if self.stand_in is not None and is_public_grad(value):  # from sourcegrad import grad
            if self.claim(name, value, what):
                self.add_block(f"{name} = {self.stand_in_name()}.grad")
            return
        if module_name is not None and module_name.split(".")[0] == _OWN_PACKAGE:
            self._bind_own(name, module_name, what)
            return
        if not self.claim(name, value, what):
            return
        if isinstance(value, types.ModuleType):
            self._bind_module(name, value, what)
        elif is_standard(value):  # a function or class of the standard library: imported
            line = (
                f"from {_public_module(value.__module__, value.__name__)} import {value.__name__}"
            )
            self.imports.setdefault(line + ("" if value.__name__ == name else f" as {name}"), None)
        elif type(value) is types.FunctionType:
            self.bind_function(name, value, what)
        else:
            alias = numpy_alias(value)
            if alias is not None:
                self.imports.setdefault("import numpy as np", None)
                if alias != name:
                    self.add_block(f"{name} = {alias}")
                return
            if id(value) in self.gradients:  # a gradient made before the function runs
                self.add_block(f"{name} = {self.gradients[id(value)]}")
                return
            own = type(value).__module__
            if own.startswith(_DERIVATIVES):
                raise self.at_read(name, _TAKES_DERIVATIVES.format(what=what, name=name) + _INSIDE)
            if own.split(".")[0] == _OWN_PACKAGE:
                kind = f"a {type(value).__qualname__} object"
                raise self.at_read(
                    name, _LIBRARY.format(what=what, name=name, kind=kind, module=own)
                )
            self.imports.setdefault("import numpy as np", None)
            try:
                text = self.data(value, f"{what}: the global {name!r}")
            except ExportError as exc:
                raise self.global_refused(name, exc) from None
            self.add_block(f"{name} = {text}")

    def data(self, value: Any, what: str) -> str:
        """Source that evaluates to ``value`` exactly in the export (see :func:`literal`)."""
        return literal(value, what)

    def global_refused(self, name: str, exc: ExportError) -> ExportError:
        """The refusal ``exc`` of the global ``name`` (no literal holds it), with the way
        out, at the line of the exported function that reads it."""
        user = self.user
        if user is None or global_read_line(user, name) is None:
            return exc
        detail = exc.reason.partition("the global ")[2].partition(";")[0] or exc.reason
        return self.at_read(
            name,
            f"{user.__qualname__} reads the global {name!r}, which an export cannot write: "
            f"{detail}, and an export holds only NumPy arrays, numbers, strings, objects of "
            "your classes (their fields), functions defined at a module's top level and "
            "tuples, lists and dicts of them as globals: pass "
            f"it as an argument ({name} to "
            f"{user.__name__}: it is then an argument of the exported d_{user.__name__}, "
            "which can be differentiated)",
        )

    def at_read(self, name: str, message: str) -> ExportError:
        """An :class:`ExportError` saying ``message``, placed at the first line of the
        exported function that reads the global ``name`` (where one does)."""
        line = None if self.user is None else global_read_line(self.user, name)
        if line is None:
            return ExportError(message)
        return ExportError(message, self.user.__code__.co_filename, line)

    def _bind_module(self, name: str, module: types.ModuleType, what: str) -> None:
        full = module.__name__
        top = full.split(".")[0]
        if full == _OWN_PACKAGE and self.stand_in is not None:
            self.add_block(f"{name} = {self.stand_in_name()}()")
            return
        if full == _OWN_PACKAGE:
            raise self.at_read(name, _TAKES_DERIVATIVES.format(what=what, name=name))
        if top == _OWN_PACKAGE:
            text = _LIBRARY.format(what=what, name=name, kind="a module", module=full)
            raise self.at_read(name, text)
        if top not in ALLOWED_PACKAGES and top not in sys.stdlib_module_names:
            raise ExportError(
                f"{what} reads the module {full}; an export imports only NumPy, CuPy and "
                "the standard library"
            )
        if "." in full:
            parent, _, leaf = full.rpartition(".")
            line = f"from {parent} import {leaf}" + ("" if leaf == name else f" as {name}")
        else:
            line = f"import {full}" + ("" if full == name else f" as {name}")
        self.imports.setdefault(line, None)

    def stand_in_name(self) -> str:
        """The name of the class standing in for sourcegrad (:attr:`stand_in`), written once."""
        if "Gradients" not in self.bound:
            self.bound["Gradients"] = self.stand_in
            self.add_block(self.stand_in)
        return "Gradients"

    def bind_function(self, name: str, fn: types.FunctionType, what: str) -> None:
        """Copy the user's function ``fn`` (bound under ``name``) and what it reads."""
        if fn.__code__.co_filename.startswith("<") or is_generated(fn.__code__.co_filename):
            raise ExportError(f"{what} reads {fn.__qualname__}, a function without a source file")
        text = function_source(fn)
        if fn.__defaults__ or fn.__kwdefaults__:
            text = with_literal_defaults(text, fn, f"{what}: a default of {fn.__qualname__}")
        if fn.__closure__:
            text = self._closure(name, fn, text, what)
        elif fn.__name__ != name:
            text += f"\n\n{name} = {fn.__name__}\n"
            self.claim(fn.__name__, fn, what)
        self.read_globals(fn, f"{fn.__qualname__} ({fn.__code__.co_filename})")
        self.add_block(text)

    def _closure(self, name: str, fn: types.FunctionType, text: str, what: str) -> str:
        """``name = closure_of_f(<values>)``: the global function ``fn`` made by an enclosing
        function, as a factory of the variables it reads from there, called with their
        values (literals: a global's closure is made once, when its module is imported)."""
        factory = self.free_name(f"closure_of_{fn.__name__}", fn)
        self.claim(factory, fn, what)
        values = []
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                value = cell.cell_contents
            except ValueError:
                raise ExportError(f"{what}: {fn.__qualname__} reads {var!r}, not set") from None
            values.append(literal(value, f"{what}: the variable {var!r} {fn.__qualname__} reads"))
        params = ", ".join(fn.__code__.co_freevars)
        body = textwrap.indent(text, "    ")
        return (
            f"def {factory}({params}):\n{body}    return {fn.__name__}\n\n\n"
            f"{name} = {factory}({', '.join(values)})\n"
        )

    def read_globals(self, fn: types.FunctionType, what: str) -> None:
        """Bind every global name the (copied or generated) function ``fn`` reads."""
        for name in loaded_globals(fn.__code__):
            if name in fn.__globals__:
                self.bind(name, fn.__globals__[name], what)
            elif not hasattr(builtins, name):
                raise ExportError(f"{what} reads {name!r}, which is not defined")

    def _bind_own(self, name: str, module_name: str, what: str) -> None:
        """Copy the statement of sourcegrad's module ``module_name`` that defines ``name``,
        and what it reads."""
        if not module_name.startswith(COPIED_MODULES):
            raise ExportError(
                f"{what} reads {name!r} of {module_name}, which an export does not copy"
            )
        defs, lines = _module_statements(module_name)
        stmt = defs.get(name)
        if stmt is None:
            raise ExportError(f"{what} reads {name!r}, which {module_name} does not define")
        if isinstance(stmt, ast.ImportFrom):
            self._bind_imported(name, stmt, module_name, what)
            return
        if isinstance(stmt, ast.Import):
            value = sys.modules[module_name].__dict__[name]
            if self.claim(name, value, what):
                self._bind_module(name, value, what)
            return
        if not self.claim(name, sys.modules[module_name].__dict__.get(name, stmt), what):
            return
        where = f"{module_name}.{name}"
        for read in _outside_reads(module_name, name):
            if read in defs:
                self._bind_own(read, module_name, where)
            elif not hasattr(builtins, read):
                raise ExportError(f"{where} reads {read!r}, which is not defined")
        self.add_block(_statement_text(stmt, lines))

    def _bind_imported(self, name: str, stmt: ast.ImportFrom, module_name: str, what: str):
        if stmt.module == "__future__":
            return
        value = sys.modules[module_name].__dict__[name]
        source = getattr(value, "__module__", None)
        if isinstance(value, types.ModuleType):
            if self.claim(name, value, what):
                self._bind_module(name, value, what)
        elif source and source.split(".")[0] == _OWN_PACKAGE:
            self._bind_own(name, source, what)
        elif source and source.split(".")[0] in sys.stdlib_module_names:
            if self.claim(name, value, what):
                self.imports.setdefault(f"from {_public_module(source, name)} import {name}", None)
        else:
            self.bind(name, value, what)


def is_standard(value: Any) -> bool:
    """Whether ``value`` is a function or class its standard-library module defines."""
    if not isinstance(value, (type, types.FunctionType)):
        return False
    module = sys.modules.get(getattr(value, "__module__", None) or "")
    top = module.__name__.split(".")[0] if module is not None else ""
    return top in sys.stdlib_module_names and getattr(module, value.__name__, None) is value


def _public_module(module: str, name: str) -> str:
    """``module``, or its parent package where that exports ``name`` too (``collections.abc``
    for ``_collections_abc``)."""
    if module.startswith("_"):
        for candidate in ("collections.abc", module.lstrip("_")):
            try:
                __import__(candidate)
            except ImportError:
                continue
            if hasattr(sys.modules[candidate], name):
                return candidate
    return module


def locally_bound(stmt: ast.stmt) -> set:
    """Names ``stmt`` binds inside itself (parameters, assignments in a function body)."""
    found = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.arg):
            found.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            found.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n is not stmt:
            found.add(n.name)
    return found


def numpy_alias(value: Any) -> str | None:
    """``np.NAME`` (or ``np.SUB.NAME``) where ``value`` is that object of NumPy's; else None."""
    if isinstance(value, (np.ufunc, type)) or callable(value):
        name = getattr(value, "__name__", None)
        if name is None:
            return None
        for prefix, space in (("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft)):
            if getattr(space, name, None) is value:
                return f"{prefix}.{name}"
    return None


def is_public_grad(value: Any) -> bool:
    """Whether ``value`` is ``sourcegrad.grad`` (read as ``from sourcegrad import grad``)."""
    return (
        type(value) is types.FunctionType
        and value.__module__ == f"{_OWN_PACKAGE}.api"
        and value.__qualname__ == "grad"
    )


def _same_value(a: Any, b: Any) -> bool:
    """Whether two data values bound to one name write the same literal."""
    if type(a) is not type(b) or isinstance(a, (types.FunctionType, type, types.ModuleType)):
        return False
    try:
        return literal(a, "") == literal(b, "")
    except SourcegradError:
        return False


_MISSING = object()
