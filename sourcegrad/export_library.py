"""sourcegrad's library (``sg.nn``, ``sg.model``, ``sg.util``, ``sg.loss``) as source in an export.

A loss built with the library calls its layers' forward functions (``nn.functional.relu``), and
its derivative calls their hand-written gradient functions (``nll_loss_grad``) and the methods
of layer objects and networks. :class:`LibraryNamespace` copies each such object into the
export as the statement that defines it in its module, under a name of the export's own
(``sigmoid_2`` where another ``sigmoid`` is there already), with everything it reads in turn,
transitively, so that only what is reached is copied:

* a function as its ``def``, without ``@primitive`` (which only declares that sourcegrad uses
  its rules) and without annotations (the export defines no ``Array``);
* the array module of the layers' kernels is NumPy: ``xp = array_module(x)`` is dropped and
  ``xp.tanh`` reads ``np.tanh``; ``array_module(x).maximum`` reads ``np.maximum``;
* a read through a module (``F.linear``, ``functions.sigmoid``) reads the copy directly;
* a class with its class attributes and only the methods that ran when the export ran the
  derivative, those they call on ``self``, its properties and ``__init__`` (so that the export's classes make
  objects), its bases copied the same way; an object of it (an argument's default, a global,
  a field) as ``restored(Class, {fields})``, as objects of the user's classes are written
  (:mod:`sourcegrad.export_objects`);
* a global of the user's that is a module of the library (``from sourcegrad import nn``) as a
  ``SimpleNamespace`` holding the attributes the code reads through it
  (``nn = SimpleNamespace(functional=SimpleNamespace(relu=relu))``).

What the library does with anything but NumPy and the standard library (a PyTorch bridge,
MPI, taking a derivative with sourcegrad while it runs) cannot be exported: refused by
:class:`~sourcegrad.export_source.ExportError`, naming the library function and the way out.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import importlib.util
import inspect
import sys
import types
from typing import Any

import numpy as np

from .export_objects import RESTORED, ObjectNamespace
from .export_source import COPIED_MODULES, ExportError, literal, loaded_globals

__all__ = ["LibraryNamespace", "is_library", "attribute_chains", "LIBRARY_MODULES"]

#: the helper an export defines where it holds a NumPy generator: one in exactly that state
GENERATOR_AT = '''def generator_at(state):
    """A numpy.random.Generator whose bit generator is in exactly the state given."""
    bits = getattr(np.random, state["bit_generator"])()
    bits.state = state
    return np.random.Generator(bits)
'''
_OWN_PACKAGE = __name__.split(".")[0]
#: the modules of sourcegrad's library an export copies from
LIBRARY_MODULES = tuple(f"{_OWN_PACKAGE}.{m}" for m in ("nn", "model", "util", "loss"))
#: library modules an export refuses to copy from, with why and the way out
_REFUSED = {
    f"{_OWN_PACKAGE}.nn.torch_bridge": (
        "it runs PyTorch, which an export cannot import (it imports only NumPy)",
        "write that part with sourcegrad.nn's NumPy layers, or differentiate in process "
        "instead of exporting",
    ),
}
#: decorators dropped when a library function is copied: they only declare its rules or facts
_DROPPED_DECORATORS = ("primitive", "helper")
#: what a library object that takes derivatives with sourcegrad while it runs reads
_TAKES_DERIVATIVES = (
    "{outer}, a function of sourcegrad's library that the derivative calls, takes a derivative "
    "with sourcegrad itself while it runs ({what} calls {module}.{name}), which an export "
    "cannot write: the module holds no sourcegrad. Export this function in reverse mode "
    "(mode='reverse', order=1), whose library functions an export writes, or differentiate "
    "it with sourcegrad in process instead of exporting"
)


def is_library(value: Any) -> bool:
    """Whether ``value`` is a module, function or class of sourcegrad's library."""
    if isinstance(value, types.ModuleType):
        own = value.__name__
    elif isinstance(value, (type, types.FunctionType)):
        own = getattr(value, "__module__", None) or ""
    else:
        return False
    return own.startswith(LIBRARY_MODULES) and own.partition(".")[2] != ""


def attribute_chains(code: types.CodeType, name: str) -> set[tuple[str, ...]]:
    """The attribute chains ``code`` (and the code nested in it) reads through the global
    ``name``: ``("functional", "relu")`` for ``name.functional.relu``; ``()`` where it reads
    ``name`` itself (passes it on, or reads it through no attribute)."""
    found: set = set()
    todo = [code]
    while todo:
        c = todo.pop()
        todo += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        chain = None
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chain is not None:
                chain.append(ins.argval)
                continue
            if chain is not None:
                found.add(tuple(chain))
            chain = (
                [] if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval == name else None
            )
        if chain is not None:
            found.add(tuple(chain))
    return found


@functools.lru_cache(maxsize=128)
def _statements(module_name: str) -> tuple[dict, bytes]:
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


class _Source:
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


class LibraryNamespace(ObjectNamespace):
    """An :class:`~sourcegrad.export_objects.ObjectNamespace` that copies what the code reads
    of sourcegrad's library (see the module docstring)."""

    def __init__(self):
        super().__init__()
        #: (module, name) of a library object -> its name in the export
        self.library: dict[tuple[str, str], str] = {}
        #: the code objects that ran when the export ran the derivative (methods to copy)
        self.ran: set = set()
        #: the library objects being copied, outermost first (what refusals name)
        self.copying: list[str] = []
        #: a global that is a module of the library -> (module, chains read, its block)
        self.stand_ins: dict[str, tuple] = {}

    # ------------------------------------------------------------------ what reads it
    def read_globals(self, fn: types.FunctionType, what: str) -> None:
        for name in loaded_globals(fn.__code__):
            value = fn.__globals__.get(name)
            if isinstance(value, types.ModuleType) and _is_library_module(value):
                self.module_stand_in(name, value, attribute_chains(fn.__code__, name), what)
        super().read_globals(fn, what)

    def bind(self, name: str, value: Any, what: str, module_name: str | None = None) -> None:
        if is_library(value) and not isinstance(value, types.ModuleType):
            target = self.library_object(value, what)
            if target != name and self.claim(name, value, what):
                self.add_block(f"{name} = {target}")
            return
        if is_library(type(value)):  # a layer object or a network
            if self.claim(name, value, what):
                self.imports.setdefault("import numpy as np", None)
                self.add_block(f"{name} = {self.data(value, f'{what}: the global {name!r}')}")
            return
        super().bind(name, value, what, module_name)

    def data(self, value: Any, what: str) -> str:
        if type(value) is np.random.Generator:
            if self.claim("generator_at", GENERATOR_AT, what):
                self.add_block(GENERATOR_AT)
            return f"generator_at({literal(value.bit_generator.state, what)})"
        if is_library(type(value)):
            cls = self.library_object(type(value), what)
            if self.claim("restored", RESTORED, what):
                self.add_block(RESTORED)
            fields = ", ".join(
                f"{k!r}: {self.data(v, f'{what}.{k}')}" for k, v in vars(value).items()
            )
            return f"restored({cls}, {{{fields}}})"
        return super().data(value, what)

    def module_stand_in(self, name: str, module, chains: set, what: str) -> None:
        """``name = SimpleNamespace(...)``: the library module ``module`` that the code reads
        as the global ``name``, with the attributes it reads through it (``chains``, and
        those read before)."""
        if () in chains:
            raise self.at_read(
                name,
                f"{what} reads the module {module.__name__} as {name!r} other than through "
                "its attributes (nn.functional.relu); an export writes the library functions "
                "and classes read through it, not the module: read them by name",
            )
        old = self.stand_ins.get(name)
        if old is not None:
            if old[0] is not module:
                raise ExportError(f"{what} reads {name!r} as two different modules")
            if chains <= old[1]:
                return
            chains = chains | old[1]
            self.blocks.remove(old[2])
        elif not self.claim(name, module, what):
            raise ExportError(f"{what} reads {name!r}, which the export holds as another object")
        tree: dict = {}
        for chain in sorted(chains):
            place, value = tree, module
            for attr in chain:
                value = getattr(value, attr)
                if not isinstance(value, types.ModuleType):
                    place[attr] = self.library_value(value, f"{what}: {name}.{'.'.join(chain)}")
                    break
                place = place.setdefault(attr, {})
        self.imports.setdefault("from types import SimpleNamespace", None)
        block = f"{name} = {_namespace_text(tree)}\n"
        self.stand_ins[name] = (module, chains, block)
        self.add_block(block)

    def library_value(self, value: Any, what: str) -> str:
        """Source of ``value``, read through a module of the library: a copy of a library
        object's, else a literal."""
        if is_library(value):
            return self.library_object(value, what)
        if isinstance(value, (type, types.FunctionType)) or callable(value):
            own = getattr(value, "__module__", None) or ""
            if own.split(".")[0] == _OWN_PACKAGE:
                self.bind(value.__name__, value, what, own)
                return value.__name__
        return self.data(value, what)

    # ------------------------------------------------------------------ copies
    def library_object(self, value: Any, what: str) -> str:
        """The name in the export of the library function or class ``value``, copied."""
        return self.library_name(value.__module__, value.__name__, what)

    def library_name(self, module_name: str, name: str, what: str) -> str:
        """The name in the export of what the library module ``module_name`` binds as
        ``name``, copied with what it reads (once)."""
        got = self.library.get((module_name, name))
        if got is not None:
            return got
        _refuse_module(module_name, name, what)
        defs, data = _statements(module_name)
        stmt = defs.get(name)
        if stmt is None:
            raise ExportError(f"{what} reads {name!r}, which {module_name} does not define")
        value = vars(sys.modules[module_name]).get(name, stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return self.imported(module_name, name, stmt, what)
        target = self.free_name(name, value)
        self.claim(target, value, what)
        self.library[(module_name, name)] = target
        where = f"{module_name}.{name}"
        single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
        single = single and isinstance(stmt.targets[0], ast.Name)
        if isinstance(stmt, ast.Assign) and (not single or is_library(type(value))):
            self.add_block(f"{target} = {self.data(value, where)}")  # its value, as data
            return target
        self.reserved.add(target)
        copy = _Copy(self, module_name, stmt, _Source(data), where)
        self.copying.append(where)
        for part in _run_at_import(stmt):  # what runs when it is defined: defined before it
            copy.names(part)
        slot = len(self.blocks)  # what its methods read may read it in turn (a subclass)
        self.blocks.append("")
        self.blocks[slot] = copy.text(target)
        self.copying.pop()
        return target

    def imported(self, module_name: str, name: str, stmt, what: str) -> str:
        """The name in the export of ``name``, which ``module_name`` imports (``stmt``)."""
        value = vars(sys.modules[module_name])[name]
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            return name
        if isinstance(value, types.ModuleType):
            self.bind(name, value, what)
            return name
        source = None
        if isinstance(stmt, ast.ImportFrom):
            package = sys.modules[module_name].__package__
            source = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), package)
            original = next(a.name for a in stmt.names if (a.asname or a.name) == name)
            if source.startswith(LIBRARY_MODULES):
                target = self.library_name(source, original, what)
                self.library[(module_name, name)] = target
                return target
        own = source or getattr(value, "__module__", None) or ""
        if own.split(".")[0] == _OWN_PACKAGE and not own.startswith(COPIED_MODULES):
            outer = self.copying[0] if self.copying else what
            raise ExportError(
                _TAKES_DERIVATIVES.format(outer=outer, what=what, name=name, module=own)
            )
        if own.split(".")[0] == _OWN_PACKAGE:
            self.bind(name, value, what, own)
        else:
            self.bind(name, value, what)
        return name


class _Copy:
    """The source of one top-level statement of a library module, rewritten for an export
    (see the module docstring): the names it reads resolved through ``ns``."""

    def __init__(self, ns: LibraryNamespace, module_name: str, stmt, source: _Source, where):
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
        return next(n for n, s in _statements(self.module_name)[0].items() if s is self.stmt)

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
            elif isinstance(value, types.ModuleType) and _is_library_module(value):
                self.through_module(node, value)
            else:
                target = self.ns.library_name(self.module_name, name, self.where)
                if target != name:
                    self.edits.append((self.source.start(node), self.source.end(node), target))

    def array_module_names(self, stmt) -> set:
        """The local names assigned ``array_module(...)`` once (``xp``): they read ``np``;
        their assignments are dropped."""
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


# ---------------------------------------------------------------------------- helpers
def _array_module():
    return sys.modules[f"{_OWN_PACKAGE}.util.tree"].array_module


def _is_library_module(module: types.ModuleType) -> bool:
    name = module.__name__
    return name.startswith(LIBRARY_MODULES)


def _refuse_module(module_name: str, name: str, what: str) -> None:
    for prefix, (why, way_out) in _REFUSED.items():
        if module_name.startswith(prefix):
            raise ExportError(f"{what} reads {module_name}.{name}: {why}; {way_out}")


def _run_at_import(stmt: ast.stmt) -> list[ast.AST]:
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
    found = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.arg):
            found.add(n.arg)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            found.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n is not stmt:
            found.add(n.name)
        elif isinstance(n, ast.alias):
            found.add((n.asname or n.name).split(".")[0])
    return found


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


def _namespace_text(tree: dict) -> str:
    items = ", ".join(
        f"{k}={_namespace_text(v) if isinstance(v, dict) else v}" for k, v in tree.items()
    )
    return f"SimpleNamespace({items})"
