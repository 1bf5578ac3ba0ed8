"""Attributes that methods keep in ``self`` and a differentiated function reads (part of
the analysis pass).

``self.out = out`` in a layer's ``forward`` is stored as written (a cache for a backward pass
the derivative never runs, see ``lower_attributes.AttributeStores.store_attribute``). Where a function then
reads that attribute (``layer.out``) or calls a method that reads it (``layer.backward()``
reading ``self.out``), the derivative would read the object's state as a constant: a silent
wrong gradient. :func:`refuse_stored_attribute_reads` refuses such a read, by name: the
attributes stored outside ``__init__`` by the methods the function calls with a
differentiated value (by name, of the user's classes its module can reach: its globals, and
the classes of the user's modules among them). A method called with constants only runs as
written, and what it keeps is a constant, read as one.
"""

from __future__ import annotations

import inspect
import os
import sys
import sysconfig
import types
import weakref

import gast

from ..errors import SourcegradError, UnsupportedSyntaxError
from . import syntax as S
from .object_classes import class_of, items_class
from .own_attributes import read_own_stores
from .parse import parse
from .walk import walk_statements

_LIBRARIES = ("builtins", "numpy", "scipy", "sourcegrad", "cupy", "torch", "jax")
#: a method -> ({attribute it stores in self: "Cls.method() (file:line)"}, {attributes of
#: self it reads})
_OF_METHOD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def refuse_stored_attribute_reads(core, varied: dict, ops: dict) -> None:
    """Refuse, in the user's function of ``core``, a read of an attribute that a method it
    calls with a differentiated value (whose derivative runs its stores) keeps in ``self``,
    or a call of a method that reads one from ``self``; by name, over the user's classes
    its module reaches (over the receiver's class alone where it is known)."""
    parsed = core.parsed
    if parsed.filename.startswith("<sourcegrad"):
        return
    fn = parsed.node
    called: dict = {}  # method -> the classes of its receivers (None: not known)
    bound: list = []
    for stmt in walk_statements(core.node.body):
        before = varied.get(("in", id(stmt)), set())
        for n in S.nodes_of(stmt, (gast.Call,)):
            if isinstance(n.func, gast.Attribute):
                if _library_receiver(n, parsed, bound):
                    continue  # `np.exp(x)`: a library's function keeps nothing in an object
                operands = [n.func.value, *n.args, *(k.value for k in n.keywords)]
                if any(S.names_in(a) & before for a in operands):
                    owner = _owner(core, ops, n.func.value, n.func.attr)
                    called.setdefault(n.func.attr, set()).add(owner)
    if not called:
        return
    classes = []
    for cls in user_classes(parsed.globals):
        mine = {m for m, owners in called.items() if _may_run(cls, owners)}
        classes.append((cls, *_of_class(cls, mine)))
    stored = {a: w for _, stores, _ in classes for m in stores for a, w in stores[m].items()}
    if not stored:
        return
    readers: dict = {}  # method -> what it reads that a method called stores, its class's first
    for cls, stores, reads in classes:
        own = {a for m in stores for a in stores[m]}
        near = _stored_into(cls, classes, called)
        for m, attrs in reads.items():
            hits = sorted(attrs & own) or sorted(attrs & near)
            if hits:  # (the class whose own method stores it first)
                readers[m] = readers.get(m) if m in readers and not attrs & own else hits[0]
    for node in S.walk(fn):
        if not (isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load)):
            continue
        hit = node.attr if node.attr in stored else None
        via_method = hit is None and node.attr in readers
        if via_method:
            hit = readers[node.attr]
        if hit is None or _is_own_store(fn, node, hit):
            continue
        if not via_method and _kept_elsewhere(core, ops, node, (classes, called)):
            continue  # (`params.out` of a Net: what a Cache's method stores is another's)
        if isinstance(node.value, gast.Name) and (node.value.id, node.attr) in core.followed_reads:
            continue  # (a method inlined at its call stored it: read as the value)
        outer = isinstance(node.value, gast.Name) and node.value.id not in S.bound_names(fn)
        raise UnsupportedSyntaxError(
            _stored_read_message(node, hit, stored[hit], via_method, outer),
            parsed.filename,
            getattr(node, "lineno", None) or fn.lineno,
        )


def _kept_elsewhere(core, ops: dict, node, asked: tuple) -> bool:
    """Whether ``node``, ``obj.attr`` read in the function, reads an object of a class known
    (its receiver a name the function binds once at most) that none of the methods called
    stores ``attr`` into."""
    classes, called = asked
    if not isinstance(node.value, gast.Name):
        return False
    named = [n for n in S.name_nodes(core.parsed.node) if n.id == node.value.id]
    if sum(isinstance(n.ctx, (gast.Store, gast.Del)) for n in named) > 1:
        return False  # (the name may hold objects of two classes)
    cls = _receiver_class(core, ops, node.value)
    return cls is not None and node.attr not in _stored_into(cls, classes, called)


def _stored_into(cls: type, classes: list, called: dict) -> set:
    """The attributes the methods called store into an object that a method of ``cls`` may
    run on: a receiver whose class is not known, or ``cls`` or a subclass of it (a ``Cache``
    storing ``self.out`` is no ``Net`` whose ``head`` reads its own ``self.out``)."""
    return {
        a
        for _, stores, _ in classes
        for m in stores
        if any(o is None or issubclass(o, cls) for o in called[m])
        for a in stores[m]
    }


def _stored_read_message(node, attr: str, where: str, via_method: bool, outer=False) -> str:
    """The refusal of ``node`` reading ``attr`` that the method ``where`` names keeps in the
    object; where a method reads what it kept there itself in an earlier call (a cache
    growing call by call), the way out is a call of its own (an ``outer`` object: a global
    or argument, whose state :mod:`.state_between_calls` follows) or a new object per call."""
    text = S.text(node)
    rebindable = isinstance(node.value, gast.Name)  # (`Box(W).forward(x)` is no name to rebind)
    earlier = where.startswith(f"{_type_name(where)}.{node.attr}()")
    if via_method and outer and earlier:
        return (
            f"`{text}()` reads in `self.{attr}` what an earlier call of it kept there, and is "
            "called inside an expression, where sourcegrad does not follow the state it keeps "
            f"(the derivative would read it as a constant); call it as a statement of its own "
            f"(`y = {text}(...)`), whose state sourcegrad follows from call to call"
        )
    if via_method and rebindable and earlier:
        return (
            f"`{text}()` reads in `self.{attr}` what an earlier call of it kept there: "
            "sourcegrad follows values, not the state an object keeps from call to call, so "
            f"the derivative would read it as a constant; have `{node.attr}` return a new "
            f"object holding the new state (`return {_type_name(where)}(...)`) and rebind it "
            f"(`{S.text(node.value)} = {text}(...)`), or keep the state in a local variable"
        )
    what = f"`{text}()` reads in `self.{attr}`" if via_method else f"`{text}` reads"
    return (
        f"{what} what {where} keeps in the object: sourcegrad follows values, not the state "
        "an object keeps, so the derivative would read it as a constant; return the value "
        "from the method and use what it returns"
    )


def _type_name(where: str) -> str:
    """The class a text ``Cls.method() (file:line)`` names."""
    return where.split(".", 1)[0]


def _owner(core, ops: dict, receiver, name: str):
    """The class of ``receiver`` where its method ``name`` is known to run alone: one that
    calls only functions of modules (``np.exp``) and methods of ``self`` running alone in
    turn (``self.forward(z)``), no method of another object (``self.fc.forward(x)``,
    ``layer.f(x)``, ``ENCODER.forward(x)`` may run any class's); None otherwise."""
    cls = _receiver_class(core, ops, receiver)
    return cls if cls is not None and _runs_alone(cls, name, set()) else None


def _receiver_class(core, ops: dict, receiver):
    """The class of the object the name ``receiver`` holds: :func:`~.object_classes.class_of`,
    or the class of every item of the container each of its bindings reads an item of
    (``layer = layers[k]`` of the loop over an argument's list); None where not known."""
    if not isinstance(receiver, gast.Name):
        return None
    cls = class_of(core, ops, receiver.id)
    if cls is not None:
        return cls
    bindings = [n for n in S.name_nodes(core.node) if n.id == receiver.id]
    bindings = [n for n in bindings if not isinstance(n.ctx, gast.Load)]
    assigned = [
        stmt.value
        for stmt in walk_statements(core.node.body)
        if isinstance(stmt, gast.Assign)
        and [getattr(t, "id", None) for t in stmt.targets] == [receiver.id]
    ]
    if not assigned or len(assigned) != len(bindings):
        return None
    held = {
        v.value.id if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) else None
        for v in assigned
    }
    if None in held or len(held) != 1 or any(isinstance(v.slice, gast.Slice) for v in assigned):
        return None
    return items_class(core, held.pop())


def _runs_alone(cls: type, name: str, seen: set) -> bool:
    """Whether ``cls``'s method ``name`` calls no method of an object but ``self``'s own,
    which run alone in turn (see :func:`_owner`)."""
    method = inspect.getattr_static(cls, name, None)
    static = isinstance(method, staticmethod)  # (`self.act(z)` of a staticmethod: no self)
    method = method.__func__ if static else method
    if not isinstance(method, types.FunctionType):
        return False
    if name in seen:
        return True  # (asked already, up the chain)
    seen.add(name)
    try:
        node = parse(method).node
    except (SourcegradError, OSError, TypeError, SyntaxError):
        return False
    args = node.args.posonlyargs + node.args.args
    me = args[0].id if args and not static else None
    for n in S.walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            head = n.func.value
            if isinstance(head, gast.Name) and head.id == me:
                if not _runs_alone(cls, n.func.attr, seen):
                    return False
                continue
            while isinstance(head, (gast.Attribute, gast.Subscript)):
                head = head.value
            module = method.__globals__.get(getattr(head, "id", None))
            if not isinstance(module, types.ModuleType):
                return False  # (not `np.exp(x)`: a method of an object, which may store)
    return True


def _may_run(cls: type, owners: set) -> bool:
    """Whether a method of ``cls`` may run for a call on receivers of ``owners`` (their
    classes, None for one not known): ``cls`` is one of them or a base of one."""
    return any(owner is None or issubclass(owner, cls) for owner in owners)


def _library_receiver(call, parsed, bound: list) -> bool:
    """Whether ``call`` is ``np.exp(...)``: a function of a module of NumPy, SciPy or another
    library, named by a global of the function (``bound``: a list holding the names the
    function binds, found on first use)."""
    name = getattr(call.func.value, "id", None)
    value = parsed.globals.get(name) if name is not None else None
    if not isinstance(value, types.ModuleType) or name in parsed.closure:
        return False
    if value.__name__.split(".")[0] not in _LIBRARIES:
        return False
    if not bound:
        bound.append(S.bound_names(parsed.node))
    return name not in bound[0]


def _is_own_store(fn, node, attr: str) -> bool:
    """Whether ``node`` is ``self.attr`` in a method storing ``attr`` itself (refused by the
    lowering of the store, with its own message)."""
    return node.attr == attr and any(
        isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store) and n.attr == attr
        for n in S.walk(fn)
    )


_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])


def user_classes(namespace: dict):
    """The user's classes in ``namespace``, and in the user's modules it holds."""
    seen = set()
    for value in list(namespace.values()):
        found = [value] if isinstance(value, type) else []
        if isinstance(value, types.ModuleType) and is_users_module(value.__name__):
            found = [v for v in vars(value).values() if isinstance(v, type)]
        for cls in found:
            if id(cls) not in seen and is_users_module(cls.__module__):
                seen.add(id(cls))
                yield cls


def is_users_module(module: str | None) -> bool:
    """Whether the module named ``module`` is the user's: not a library's, nor the standard
    library's (``collections.UserDict.copy`` stores ``self.data``: not the ``x.copy()`` of an
    array)."""
    top = module.split(".")[0] if module else None
    if not top or top in _LIBRARIES or _is_standard_library(top):
        return False
    path = getattr(sys.modules.get(module), "__file__", None) or ""
    return "site-packages" not in path and "dist-packages" not in path


def _is_standard_library(top: str) -> bool:
    """Whether the top-level module ``top`` is Python's own (a file of the user's named like
    one, ``code.py``, is not)."""
    if top not in sys.stdlib_module_names:
        return False
    path = getattr(sys.modules.get(top), "__file__", None)
    return path is None or os.path.realpath(path).startswith(_STDLIB)


def _of_class(cls: type, called: set) -> tuple[dict, dict]:
    """``(stores, reads)`` of the methods of ``cls`` named in ``called`` (not ``__init__``):
    method -> {attribute it stores in ``self``: where}; method -> attributes it reads."""
    stores: dict = {}
    reads: dict = {}
    for name in called & set(vars(cls)) - {"__init__"}:
        method = vars(cls)[name]
        if isinstance(method, types.FunctionType):
            found = _OF_METHOD.get(method)
            if found is None:
                found = _OF_METHOD[method] = _scan(cls, name, method)
            stores[name], reads[name] = found
    return stores, reads


def _scan(cls: type, name: str, method) -> tuple[dict, set]:
    stores: dict = {}
    reads: list = []
    after: dict = {}  # attribute -> line of the first call of a method of self storing it
    try:
        node = S.clone(parse(method).node)
    except (SourcegradError, OSError, TypeError, SyntaxError):
        return stores, set()
    read_own_stores(node)  # (what it reads back of its own stores is no state kept)
    args = node.args.posonlyargs + node.args.args
    me = args[0].id if args else None
    line = method.__code__.co_firstlineno
    where = f"{cls.__name__}.{name}() ({inspect.getsourcefile(method)}:{line})"
    constants = {
        id(t)
        for n in S.walk(node)
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Constant)
        for t in n.targets
    }  # (`self.training = False`: a constant kept, read as one)
    for n in S.walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr != name:
            if isinstance(n.func.value, gast.Name) and n.func.value.id == me:
                for attr in _of_class(cls, {n.func.attr})[0].get(n.func.attr, {}):
                    stores.setdefault(attr, where)  # (what `self.forward(x)` stores)
                    after.setdefault(attr, n.lineno)
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == me:
            if id(n) in constants:
                continue
            if isinstance(n.ctx, gast.Store):
                stores.setdefault(n.attr, where)
            else:
                reads.append((n.attr, n.lineno))
    # (what it reads after its own `self.forward(x)` stored it is no state kept)
    return stores, {a for a, line in reads if not (a in after and line > after[a])}
