"""Objects of the user's own classes as data in an export: a layer object held in a global.

A loss that reads ``LAYERS = [Dense(W1, b1), Dense(W2, b2)]`` from its module calls the
objects (``layer(h)``) in its forward sweep, and its derivative differentiates through their
methods. :class:`ObjectNamespace` writes such an object as its class, copied with its source
(decorators such as ``@dataclass`` kept, everything the class reads bound as any global is),
and the object's fields as literals: ``restored(Dense, {"W": np.array(...), "b": ...})``,
which makes the object without running ``__init__`` and sets exactly the fields it had, so the
export computes with the same numbers bit for bit. Refused, with the way out: an object of a
class that keeps its state elsewhere than in its ``__dict__`` (``__slots__``, a base class
other than ``object``, its own ``__new__`` or pickling), of a class defined inside a
function, or of one of sourcegrad's own classes.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import sys
import textwrap
import types
from typing import Any

from .export_source import ExportError, Namespace, literal, locally_bound, names_read
from .runtime.records import register_plain_class
from .transform.plain_classes import plain_class_maker

__all__ = ["ObjectNamespace", "RESTORED"]

#: the helper an export defines where it holds objects: the object with exactly those fields
RESTORED = '''def restored(cls, fields):
    """An object of cls whose __dict__ is fields (its __init__ is not run)."""
    made = object.__new__(cls)
    made.__dict__.update(fields)
    return made
'''

_OWN_PACKAGE = __name__.split(".")[0]
_RECORDS = register_plain_class.__module__


class ObjectNamespace(Namespace):
    """A :class:`~sourcegrad.export_source.Namespace` whose data may hold objects of the
    user's own classes (in lists, tuples and dicts too), each written as its class and its
    fields (see the module docstring), and functions defined at a module's top level, each
    copied and written as its name."""

    def data(self, value: Any, what: str) -> str:
        t = type(value)
        if t in (tuple, list):
            items = [self.data(v, f"{what}[{i}]") for i, v in enumerate(value)]
            if t is tuple:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if t is dict:
            parts = [
                f"{literal(k, what)}: {self.data(v, f'{what}[{k!r}]')}" for k, v in value.items()
            ]
            return "{" + ", ".join(parts) + "}"
        if type(value) is types.FunctionType and value.__qualname__ == value.__name__ != "<lambda>":
            # a function of a module's (ACTS = {"tanh": my_tanh}): copied, read by its name
            self.bind(value.__name__, value, what)
            return value.__name__
        if type(value) is types.FunctionType:
            raise ExportError(
                f"{what} is {value.__qualname__}, a lambda or a function defined inside "
                "another, which an export copies only where it is defined by def at its "
                "module's top level"
            )
        if _is_plain_object(value):
            return self.object_source(value, what)
        return literal(value, what)

    def object_source(self, value: Any, what: str) -> str:
        """``restored(Cls, {fields})``: the object ``value`` of the user's class ``Cls``,
        with that class copied into the export."""
        cls = type(value)
        refusal = _why_not_copied(cls)
        if refusal is not None:
            raise ExportError(
                f"{what} is a {cls.__module__}.{cls.__qualname__} object ({refusal}); pass it "
                "as an argument"
            )
        self.bind_class(cls, what)
        if self.claim("restored", RESTORED, what):
            self.add_block(RESTORED)
        fields = ", ".join(f"{k!r}: {self.data(v, f'{what}.{k}')}" for k, v in vars(value).items())
        return f"restored({cls.__name__}, {{{fields}}})"

    def bind(self, name: str, value: Any, what: str, module_name: str | None = None) -> None:
        if module_name is None and is_user_class(value):  # TwoLayerNet(params) in the loss
            self.bind_class(value, what)
            if name != value.__name__ and self.claim(name, value, what):
                self.add_block(f"{name} = {value.__name__}")
            return
        super().bind(name, value, what, module_name)

    def argument_class(self, cls: type, what: str) -> bool:
        """Copy the user's class ``cls`` of an object in the arguments where the derivative
        takes its objects for records, so that the export takes them (made by the caller's
        class or by its copy) for records too; whether it is such a class."""
        if not (is_user_class(cls) and _makes_records(cls)):
            return False
        self.bind_class(cls, what)
        return True

    def bind_class(self, cls: type, what: str) -> None:
        """Copy the class ``cls`` with its source, and bind every global it reads (its base
        classes copied first; a class defined in a function reads its methods' closure
        variables as globals). Where the derivative takes the class's objects for records
        (their fields the attributes ``__init__`` stores), the export says so."""
        if not self.claim(cls.__name__, cls, what):
            return
        try:
            text = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError) as exc:
            raise ExportError(
                f"the source of {cls.__qualname__} cannot be read ({exc}); an export copies "
                "a class from its class statement: define it with one (`class "
                f"{cls.__name__}(NamedTuple): ...` for a collections.namedtuple)"
            ) from None
        node = ast.parse(text).body[0]
        module = sys.modules.get(cls.__module__)
        where = f"the class {cls.__qualname__}"
        captured = _captured(cls)
        local = locally_bound(node)
        for name in names_read(node):
            if name in local:
                continue
            if name in captured:
                self.bind(name, captured[name], where)
            elif module is not None and name in vars(module):
                self.bind(name, vars(module)[name], where)
            elif not hasattr(builtins, name):
                raise ExportError(f"{where} reads {name!r}, which is not defined")
        if _makes_records(cls):
            self.bind("register_plain_class", register_plain_class, where, _RECORDS)
            known_as = (cls.__module__, cls.__qualname__)  # objects that come with the arguments
            text += f"\n\nregister_plain_class({cls.__name__}, known_as={known_as!r})\n"
        self.add_block(text)


def is_user_class(value: Any) -> bool:
    """Whether ``value`` is a class the user defined (not NumPy's, the standard library's,
    sourcegrad's or an installed package's), which an export copies with its source."""
    if not isinstance(value, type) or value.__module__ == "builtins":
        return False
    top = value.__module__.split(".")[0]
    if top in (_OWN_PACKAGE, "numpy", "cupy") or top in sys.stdlib_module_names:
        return False
    try:
        path = inspect.getfile(value)
    except (OSError, TypeError):  # no file: refused as before, where a global reads it
        return False
    return not any(part in path for part in ("site-packages", "dist-packages"))


def _makes_records(cls: type) -> bool:
    """Whether the derivative takes the objects of the user's class ``cls`` for records (as
    ``runtime/records.py`` asks ``transform/plain_classes.py``)."""
    try:
        return plain_class_maker(cls) is not None
    except (SyntaxError, OSError, TypeError, ValueError):
        return False


def _captured(cls: type) -> dict:
    """The variables the methods of ``cls`` (a class defined in a function) read from the
    enclosing function: name -> value."""
    out: dict = {}
    for member in vars(cls).values():
        fn = getattr(member, "__func__", member)
        if type(fn) is not types.FunctionType or not fn.__closure__:
            continue
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            if var != "__class__":
                try:
                    out[var] = cell.cell_contents
                except ValueError:
                    raise ExportError(
                        f"{cls.__qualname__} reads {var!r}, which is not set"
                    ) from None
    return out


def _is_plain_object(value: Any) -> bool:
    """Whether ``value`` is an object of a class defined outside NumPy and the built-ins
    (not a container, a number, an array, a function or a class)."""
    cls = type(value)
    return (
        not isinstance(value, type)
        and not callable(getattr(cls, "__get__", None))
        and cls.__module__ not in ("builtins", "numpy")
        and not cls.__module__.startswith("numpy.")
    )


def _why_not_copied(cls: type) -> str | None:
    """Why an object of ``cls`` cannot be written as its class and its ``__dict__``; None
    where it can."""
    if cls.__module__.split(".")[0] == _OWN_PACKAGE:
        return "an export does not copy sourcegrad's own classes"
    if cls.__qualname__ != cls.__name__:
        return "its class is defined inside a function or a class, and an export copies classes of a module"
    if cls.__bases__ != (object,):
        return "its class derives from another, which an export does not copy"
    if any("__slots__" in vars(k) for k in cls.__mro__):
        return "its class keeps its fields in __slots__"
    if any(m in vars(cls) for m in ("__new__", "__reduce__", "__reduce_ex__", "__setstate__")):
        return "its class makes or restores its objects itself"
    return None
