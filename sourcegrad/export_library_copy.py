"""One top-level statement of a module of sourcegrad's library, rewritten as source for an
export (:mod:`sourcegrad.export_library` says what it copies and how): ``@primitive`` and
annotations dropped, ``array_module(x)`` and ``xp`` read as ``np``, a read through a module of
the library (``F.linear``) read as the copy of what it reads, a class's methods that did not
run left out, every name the statement reads resolved through the namespace that copies it.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import sys
import types
from typing import Any

from .export_source import ExportError, locally_bound

__all__ = [
    "StatementCopy",
    "SourceBytes",
    "module_statements",
    "run_at_import",
    "LIBRARY_MODULES",
    "is_library_module",
]

_OWN_PACKAGE = __name__.split(".")[0]
#: the modules of sourcegrad's library an export copies from
LIBRARY_MODULES = tuple(f"{_OWN_PACKAGE}.{m}" for m in ("nn", "model", "util", "loss"))
#: decorators dropped when a library function is copied: they only declare its rules or facts
_DROPPED_DECORATORS = ("primitive", "helper")


def is_library_module(module: types.ModuleType) -> bool:
    """Whether ``module`` is a module of sourcegrad's library."""
    return module.__name__.startswith(LIBRARY_MODULES)


@functools.lru_cache(maxsize=128)
def module_statements(module_name: str) -> tuple[dict, bytes]:
    """``(name -> the top-level statement that binds it, the module's source as bytes)``."""
    text = inspect.getsource(sys.modules[module_name])
    defs: dict = {}
    for stmt in ast.parse(text).body:
        targets: list = []
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            targets = [stmt.name]
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                elts = t.elts if isinstance(t, ast.Tuple) else [t]
                targets += [e.id for e in elts if isinstance(e, ast.Name)]
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            targets = [stmt.target.id]
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            targets = [(a.asname or a.name).split(".")[0] for a in stmt.names]
        for name in targets:
            defs.setdefault(name, stmt)
    return defs, text.encode()


class SourceBytes:
    """A module's source as bytes, with the offset of each line: edits by node position."""

    def __init__(self, data: bytes):
        self.data = data
        self.starts = [0]
        for k, byte in enumerate(data):
            if byte == 10:
                self.starts.append(k + 1)

    def at(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.at(node.lineno, node.col_offset)

    def end(self, node: ast.AST) -> int:
        return self.at(node.end_lineno, node.end_col_offset)

    def lines(self, first: int, last: int) -> tuple[int, int]:
        """The span of the whole lines ``first`` to ``last`` (1-based), newline included."""
        end = self.starts[last] if last < len(self.starts) else len(self.data)
        return self.starts[first - 1], end


class StatementCopy:
    """The source of one top-level statement of a library module, rewritten for an export
    (see the module docstring): the names it reads resolved through ``ns``."""

    def __init__(self, ns: Any, module_name: str, stmt, source: SourceBytes, where):
        self.ns, self.module_name, self.stmt, self.source = ns, module_name, stmt, source
        self.where = where
        self.edits: list[tuple[int, int, str]] = []
        self.module = sys.modules[module_name]
        self.dropped: set = set()  # ids of the methods of a class left out
        self.done: set = set()  # ids of the names resolved
        self.array_modules: set | None = None  # the local names that read np (xp)

    def text(self, target: str) -> str:
        stmt, source = self.stmt, self.source
        first = stmt.lineno
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            kept = [d for d in stmt.decorator_list if not _dropped(d)]
            if kept and len(kept) != len(stmt.decorator_list):
                raise ExportError(f"{self.where} has decorators an export cannot keep")
            if kept:
                first = min(d.lineno for d in kept)
            if stmt.name != target:
                start = source.at(stmt.lineno, stmt.col_offset)
                offset = source.data.index(stmt.name.encode(), start)
                self.edits.append((offset, offset + len(stmt.name), target))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and target != self.name():
            self.edits.append((source.start(stmt.targets[0]), source.end(stmt.targets[0]), target))
        if isinstance(stmt, ast.ClassDef):
            self.class_body(stmt)
        self.annotations(stmt)
        self.names(stmt)
        start, end = source.lines(first, stmt.end_lineno)
        out, at = [], start
        for lo, hi, new in sorted(self.edits):
            if lo < at:
                continue  # inside a part already replaced (a dropped method)
            out += [source.data[at:lo], new.encode()]
            at = hi
        out.append(source.data[at:end])
        return b"".join(out).decode()

    def name(self) -> str:
        return next(n for n, s in module_statements(self.module_name)[0].items() if s is self.stmt)

    # ------------------------------------------------------------------ rewrites
    def class_body(self, cls: ast.ClassDef) -> None:
        """Drop the methods that did not run (``__init__`` and those the kept ones call on
        ``self`` are kept)."""
        value = getattr(self.module, cls.name)
        methods = {
            n.name: n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        kept = {"__init__"} & set(methods)
        for name in methods:
            member = inspect.getattr_static(value, name)
            fn = getattr(member, "fget", None) or getattr(member, "func", None) or member
            fn = getattr(fn, "__func__", fn)
            cached = isinstance(member, (property, functools.cached_property))
            if getattr(fn, "__code__", None) in self.ns.ran and name != "__new__" or cached:
                kept.add(name)  # it ran, or it is a property (its value may be cached)
        todo = list(kept)
        while todo:
            node = methods[todo.pop()]
            for n in ast.walk(node):
                called = _self_attribute(n)
                if called in methods and called not in kept:
                    kept.add(called)
                    todo.append(called)
        body_left = False
        for node in cls.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in kept:
                self.dropped.add(id(node))
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                self.edits.append((*self.source.lines(first, node.end_lineno), ""))
            else:
                body_left = True
        if not body_left:
            self.edits.append((self.source.end(cls.body[-1]), self.source.end(cls.body[-1]), ""))

    def annotations(self, stmt) -> None:
        """Drop the annotations of parameters, returns and local variables; a class's field
        annotations read ``object``."""
        source = self.source
        for node in ast.walk(stmt):
            if isinstance(node, ast.arg) and node.annotation is not None:
                lo = source.at(node.lineno, node.col_offset) + len(node.arg.encode())
                self.edits.append((lo, source.end(node.annotation), ""))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
                lo = source.data.rindex(b"->", 0, source.start(node.returns))
                lo = len(source.data[:lo].rstrip())
                self.edits.append((lo, source.end(node.returns), ""))
        for node in ast.walk(stmt):
            if isinstance(node, ast.ClassDef):
                for n in node.body:
                    if isinstance(n, ast.AnnAssign):
                        self.edits.append(
                            (source.start(n.annotation), source.end(n.annotation), "object")
                        )
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for n in ast.walk(node):
                    if isinstance(n, ast.AnnAssign) and n.value is not None:
                        lo = source.end(n.target)
                        self.edits.append((lo, source.start(n.value), " = "))

    def names(self, stmt) -> None:
        """Resolve every global name the statement reads (annotations left out)."""
        local = _locally_bound(self.stmt)
        array_modules = self.array_module_names(self.stmt)
        for node in _reads(stmt, self.dropped):
            if id(node) in self.done:
                continue
            self.done.add(id(node))
            name = node.id
            if name in local and name not in array_modules:
                continue
            if name in array_modules:
                self.ns.imports.setdefault("import numpy as np", None)
                self.edits.append((self.source.start(node), self.source.end(node), "np"))
                continue
            if name not in vars(self.module):
                if not hasattr(builtins, name):
                    raise ExportError(f"{self.where} reads {name!r}, which is not defined")
                continue
            value = vars(self.module)[name]
            if value is _array_module():
                self.array_module_call(node)
            elif isinstance(value, types.ModuleType) and is_library_module(value):
                self.through_module(node, value)
            else:
                target = self.ns.library_name(self.module_name, name, self.where)
                if target != name:
                    self.edits.append((self.source.start(node), self.source.end(node), target))

    def array_module_names(self, stmt) -> set:
        """The local names assigned ``array_module(...)`` once (``xp``), and a parameter
        ``xp`` (which callers pass their array module): they read ``np``; the assignments are
        dropped."""
        if self.array_modules is not None:
            return self.array_modules
        assigned: dict = {}
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                assigned[node.id] = assigned.get(node.id, 0) + 1
            elif isinstance(node, ast.arg):
                assigned[node.arg] = assigned.get(node.arg, 0) + 2
        names = set()
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and assigned[node.targets[0].id] == 1
                and _is_array_module_call(node.value, self.module)
            ):
                names.add(node.targets[0].id)
                self.edits.append((*self.source.lines(node.lineno, node.end_lineno), ""))
        if assigned.get("xp") == 2:  # a parameter only: the array module its caller passes
            names.add("xp")
        self.array_modules = names
        return names

    def array_module_call(self, node: ast.Name) -> None:
        """``array_module(x)`` reads ``np``."""
        call = _parent_call(self.stmt, node)
        if call is None:
            raise ExportError(
                f"{self.where} reads array_module other than by calling it; an export writes "
                "NumPy code"
            )
        self.ns.imports.setdefault("import numpy as np", None)
        self.edits.append((self.source.start(call), self.source.end(call), "np"))

    def through_module(self, node: ast.Name, module) -> None:
        """``F.linear`` (a module of the library read by an attribute) reads the copy."""
        chain = _attribute_parent(self.stmt, node)
        value, outer = module, node
        for attribute in chain:
            value = getattr(value, attribute.attr)
            outer = attribute
            if not isinstance(value, types.ModuleType):
                break
        if isinstance(value, types.ModuleType):
            raise ExportError(f"{self.where} reads the module {value.__name__} itself")
        target = self.ns.library_value(value, self.where)
        self.edits.append((self.source.start(node), self.source.end(outer), target))


def _array_module():
    return sys.modules[f"{_OWN_PACKAGE}.util.tree"].array_module


def run_at_import(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of a top-level statement that run when the module defines it (a function's
    or class's decorators and defaults, a class's bases and the statements of its body that
    are no methods, all of any other statement)."""
    if isinstance(stmt, ast.FunctionDef):
        defaults = [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]
        return [*(d for d in stmt.decorator_list if not _dropped(d)), *defaults]
    if isinstance(stmt, ast.ClassDef):
        body = [n for n in stmt.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return [*stmt.decorator_list, *stmt.bases, *stmt.keywords, *body]
    return [stmt]


def _dropped(node: ast.expr) -> bool:
    call = node.func if isinstance(node, ast.Call) else node
    return isinstance(call, ast.Name) and call.id in _DROPPED_DECORATORS


def _is_array_module_call(node: ast.expr, module) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and vars(module).get(node.func.id) is _array_module()
    )


def _self_attribute(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ("self", "cls")
    ):
        return node.attr
    return None


def _reads(stmt, dropped: set) -> list[ast.Name]:
    """The ``Name`` nodes ``stmt`` reads, annotations, dropped decorators and the nodes whose
    ids are in ``dropped`` left out."""
    found: list = []

    def visit(n):
        if isinstance(n, ast.arg) or id(n) in dropped:
            return
        if isinstance(n, ast.AnnAssign):
            for child in (n.target, n.value):
                if child is not None:
                    visit(child)
            return
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept = [d for d in n.decorator_list if not _dropped(d)]
            if isinstance(n, ast.ClassDef):
                rest = [*n.bases, *n.keywords]
            else:
                rest = [*n.args.defaults, *(d for d in n.args.kw_defaults if d is not None)]
            for child in (*kept, *rest, *n.body):
                visit(child)
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            found.append(n)
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(stmt)
    return found


def _locally_bound(stmt) -> set:
    """:func:`~.export_source.locally_bound`, and the names its imports bind."""
    imported = {
        (n.asname or n.name).split(".")[0] for n in ast.walk(stmt) if isinstance(n, ast.alias)
    }
    return locally_bound(stmt) | imported


def _parent_call(stmt, node) -> ast.Call | None:
    for n in ast.walk(stmt):
        if isinstance(n, ast.Call) and n.func is node:
            return n
    return None


def _attribute_parent(stmt, node) -> list[ast.Attribute]:
    """The attribute nodes reading through ``node``, innermost first."""
    parents = {id(child): n for n in ast.walk(stmt) for child in ast.iter_child_nodes(n)}
    chain, at = [], node
    while isinstance(parents.get(id(at)), ast.Attribute) and parents[id(at)].value is at:
        at = parents[id(at)]
        chain.append(at)
    return chain
