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
  derivative, those they call on ``self``, its properties and ``__init__`` (so that the
  export's classes make objects), its bases copied the same way; an object of it (an argument's default, a global,
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
import dis
import importlib.util
import sys
import types
from typing import Any

import numpy as np

from .export_library_copy import (
    LIBRARY_MODULES,
    SourceBytes,
    StatementCopy,
    is_library_module,
    module_statements,
    run_at_import,
)
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
#: library modules an export refuses to copy from, with why and the way out
_REFUSED = {
    f"{_OWN_PACKAGE}.nn.torch_bridge": (
        "it runs PyTorch, which an export cannot import (it imports only NumPy)",
        "write that part with sourcegrad.nn's NumPy layers, or differentiate in process "
        "instead of exporting",
    ),
}
#: sourcegrad's modules that take derivatives while the code runs
_DERIVATIVE_MODULES = tuple(
    f"{_OWN_PACKAGE}.{m}" for m in ("api", "derivative", "higher", "function_values", "callables")
)
#: why a library function that reads another part of sourcegrad is not exported
_NOT_COPIED = (
    "{outer}, a function of sourcegrad's library that the derivative calls, {does} ({what} "
    "reads {module}.{name}), which an export cannot write: the module holds no sourcegrad, "
    "only its runtime helpers and the library functions the derivative reaches. An export of "
    "the gradient (mode='reverse', order=1) writes the library's reverse rules; otherwise "
    "differentiate with sourcegrad in process instead of exporting"
)


def is_library(value: Any) -> bool:
    """Whether ``value`` is a module, function or class of sourcegrad's library."""
    if isinstance(value, types.ModuleType):
        own = value.__name__
    elif isinstance(value, (type, types.FunctionType)):
        own = getattr(value, "__module__", None) or ""
    else:
        return False
    return own.startswith(LIBRARY_MODULES)


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
        """Bind every global name ``fn`` reads; a module of the library (or sourcegrad, where
        ``fn`` reads only its library through it: ``sg.nn.functional.relu``) as a namespace
        of what ``fn`` reads through it."""
        package = sys.modules[_OWN_PACKAGE]
        for name in loaded_globals(fn.__code__):
            value = fn.__globals__.get(name)
            if not isinstance(value, types.ModuleType):
                continue
            chains = attribute_chains(fn.__code__, name)
            if value is package and chains:
                top = [getattr(package, c[0], None) if c else None for c in chains]
                if not all(isinstance(m, types.ModuleType) and is_library_module(m) for m in top):
                    continue  # sourcegrad's own functions (sg.grad): bound as before
            elif not is_library_module(value):
                continue
            self.module_stand_in(name, value, chains, what)
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

    def argument_classes(self, value: Any, what: str) -> None:
        """Copy the class of every object of the library's classes in the arguments
        ``value`` (in containers and objects' fields too), so that a caller of the export
        makes such objects with the export's own classes (``exported.Linear(3, 2)``), and of
        the user's classes whose objects are records (:meth:`argument_class`)."""
        if isinstance(value, (list, tuple)):
            for item in value:
                self.argument_classes(item, what)
        elif isinstance(value, dict):
            for item in value.values():
                self.argument_classes(item, what)
        elif is_library(type(value)):
            self.library_object(type(value), what)
            for item in vars(value).values():
                self.argument_classes(item, what)
        elif self.argument_class(type(value), what):
            for item in vars(value).values():
                self.argument_classes(item, what)

    def module_stand_in(self, name: str, module, chains: set, what: str) -> None:
        """``name = SimpleNamespace(...)``: the library module ``module`` (or sourcegrad) that
        the code reads as the global ``name``, with the attributes it reads through it (``chains``, and
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
        defs, data = module_statements(module_name)
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
        copy = StatementCopy(self, module_name, stmt, SourceBytes(data), where)
        self.copying.append(where)
        for part in run_at_import(stmt):  # what runs when it is defined: defined before it
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
            does = "uses a part of sourcegrad an export does not copy"
            if own.startswith(_DERIVATIVE_MODULES):
                does = "takes a derivative with sourcegrad itself while it runs"
            raise ExportError(
                _NOT_COPIED.format(outer=outer, does=does, what=what, name=name, module=own)
            )
        if own.split(".")[0] == _OWN_PACKAGE:
            self.bind(name, value, what, own)
        else:
            self.bind(name, value, what)
        return name


def _refuse_module(module_name: str, name: str, what: str) -> None:
    for prefix, (why, way_out) in _REFUSED.items():
        if module_name.startswith(prefix):
            raise ExportError(f"{what} reads {module_name}.{name}: {why}; {way_out}")


def _namespace_text(tree: dict) -> str:
    items = ", ".join(
        f"{k}={_namespace_text(v) if isinstance(v, dict) else v}" for k, v in tree.items()
    )
    return f"SimpleNamespace({items})"
