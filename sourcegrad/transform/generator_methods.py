"""Generator methods called on objects whose class is not known where the derivative is built
(part of normalize, before :mod:`.iterator_calls`): ``for p in layer.parameters()`` with
``layer`` the variable of a loop over a list built in the function, or of a comprehension.

Where such a call is what a ``for`` loop or a comprehension runs over, and a class of the
user's module defines a method of that name as a generator function, the call becomes
``list(layer.parameters())``: iterating a list of the same items is iterating the generator
(run to its end at once, as :mod:`.iterator_calls` runs the generators it knows), and the list
is what the later passes differentiate. A call whose receiver's class is known is left to
:mod:`.iterator_calls`.
"""

from __future__ import annotations

import inspect

import gast

from . import syntax as S
from .parse import UNRESOLVED
from .walk import OwnNodes


def list_generator_methods(fn: gast.FunctionDef, resolve, module_globals: dict) -> None:
    """Rewrite ``fn`` in place per the module's rules."""
    iterated = [
        n.iter
        for n in S.nodes_of(fn, (gast.For, gast.comprehension))
        if _unknown_method_call(n.iter, resolve)
    ]
    if not iterated:
        return
    generators = _generator_method_names(module_globals)
    wanted = {id(c) for c in iterated if c.func.attr in generators}
    if not wanted:
        return
    OwnNodes(fn).rewrite(lambda n: S.call(S.name("list"), [n]) if id(n) in wanted else n)


def _unknown_method_call(e, resolve) -> bool:
    """``obj.m(...)`` with ``obj`` a name whose ``m`` sourcegrad does not resolve."""
    return (
        isinstance(e, gast.Call)
        and isinstance(e.func, gast.Attribute)
        and isinstance(e.func.value, gast.Name)
        and resolve(e.func) is UNRESOLVED
    )


def _generator_method_names(module_globals: dict) -> set:
    """The names of the generator methods of the classes defined in the user's module."""
    names = set()
    module = module_globals.get("__name__")
    for value in list(module_globals.values()):
        if isinstance(value, type) and value.__module__ == module:
            for klass in value.__mro__[:-1]:
                for name, attr in vars(klass).items():
                    if inspect.isgeneratorfunction(attr):
                        names.add(name)
    return names
