"""Plain classes built from differentiated values (PyTorch style: ``TwoLayerNet(params)``
inside the loss).

``Cls(args)`` for a plain class (no dataclass) is differentiated as a call of its *maker*
(:func:`plain_class_maker`): a function that takes ``__init__``'s parameters (without
``self``) and, when it runs, builds the object with ``Cls.__new__`` and ``__init__``, exactly as
the call does. :func:`~.parse.parse` of a maker gives ``__init__``'s own syntax tree, at the
user's lines, rewritten so that the object's fields are local variables:

* ``self.W = W * scale`` stores the local ``self_W``, and ``self.W`` reads it;
* ``super().__init__(a)`` (or ``Base.__init__(self, a)``) calls the maker of the base class's
  ``__init__`` and reads the fields it stores;
* ``self.method(x)`` (and a class attribute ``self.scale``) reads an object holding the fields
  stored so far (``self = built_object(Cls, {...})``), where the method writes no attribute
  of its object;
* the maker returns ``built_object(Cls, {"W": self_W, ...})``, a record of the class
  (``runtime/records.py``): its adjoint is shared out field by field.

So the derivative of building the object is the derivative of a function of the user's, and
the object, a record, carries its fields' adjoints into its methods and ``__call__``. What
the rewrite cannot follow (``__init__`` writing a global or a field by a computed name,
``__slots__``, a ``return``, ``self`` handed to another function) leaves the class unlowered:
:func:`refusal_of` says why, for the refusal of a differentiated value flowing into it.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import types
import weakref

import gast

from ..errors import SourcegradError
from ..runtime.records import built_object, install_plain_class_test, register_plain_class
from . import syntax as S
from .parse import MADE_BY, UNRESOLVED, Parsed, is_installed, parse, resolve

__all__ = ["plain_class_maker", "refusal_of", "is_maker"]

#: cls -> {__init__ function: maker, or the :class:`_NotLowered` saying why there is none}
_MAKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_HELPER = "built_object"


class _NotLowered(Exception):
    """Why a class's ``__init__`` is not rewritten: the reason and the user's line."""

    def __init__(self, reason: str, lineno: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.lineno = lineno


def is_maker(fn) -> bool:
    """Whether ``fn`` is a maker made by :func:`plain_class_maker`."""
    return getattr(fn, "__sourcegrad_makes__", None) is not None


def plain_class_maker(cls) -> types.FunctionType | None:
    """The maker of ``cls(...)`` (module docstring) where ``cls`` is a plain class of the
    user's whose ``__init__`` the rewrite follows (the class is then registered as a record
    class); None otherwise (:func:`refusal_of` says why, for a class of the user's)."""
    if not _plain_user_class(cls):
        return None
    made = _maker_for(cls, cls.__init__)
    if isinstance(made, _NotLowered):
        return None
    register_plain_class(cls)
    return made


def refusal_of(cls) -> tuple[str, str | None, int | None] | None:
    """``(reason, file, line)`` where ``cls`` is a plain class of the user's whose building
    sourcegrad does not differentiate; None where it does, or for any other class."""
    if not _plain_user_class(cls):
        return None
    problem = _class_problem(cls)
    if problem:
        return problem, None, None
    made = _maker_for(cls, cls.__init__)
    if not isinstance(made, _NotLowered):
        return None
    code = cls.__init__.__code__
    return made.reason, code.co_filename, made.lineno or code.co_firstlineno


def _plain_user_class(cls) -> bool:
    """A class whose ``__init__`` is a Python function of the user's (not a dataclass, a
    namedtuple or an exception; no metaclass)."""
    init = getattr(cls, "__init__", None)
    return (
        _ordinary_class(cls)
        and isinstance(init, types.FunctionType)
        and not is_installed(init)
        and (init.__module__ or "").split(".")[0] not in ("sourcegrad", "numpy")
    )


def _class_problem(cls) -> str | None:
    """What makes ``cls``'s objects no plain holders of fields, if anything."""
    for base in cls.__mro__[:-1]:
        if vars(base).get("__slots__"):  # (abc.ABC declares empty ones)
            return f"{cls.__name__} declares __slots__ (its objects have no attribute dict)"
        if base.__module__ == "builtins":
            return f"{cls.__name__} derives from {base.__name__}"
    if cls.__new__ is not object.__new__:
        return f"{cls.__name__} defines __new__"
    if getattr(cls, "__setattr__", object.__setattr__) is not object.__setattr__:
        return f"{cls.__name__} defines __setattr__"
    return None


def _maker_for(cls, init):
    """The maker of ``cls`` running ``init`` (``cls.__init__`` or a base class's), cached;
    or the :class:`_NotLowered` saying why there is none."""
    made = _MAKERS.setdefault(cls, {})
    if init not in made:
        made[init] = _NotLowered("__init__ calls itself", None)  # a cycle stops here
        problem = _class_problem(cls)
        try:
            if problem:
                raise _NotLowered(problem)
            made[init] = _new_maker(cls, init)
        except _NotLowered as exc:
            made[init] = exc
        except SourcegradError as exc:  # no source, syntax parse refuses
            made[init] = _NotLowered(exc.reason, exc.lineno)
    return made[init]


def _new_maker(cls, init) -> types.FunctionType:
    """Rewrite ``init`` (module docstring) and make the maker whose parse gives the rewrite."""
    parsed = parse(init)
    node = parsed.node
    names = {k: _free_name(k, node) for k in (_HELPER, cls.__name__, "init_")}
    rewrite = _Rewrite(cls, init, parsed, names[_HELPER], names[cls.__name__])
    rewrite.run()
    defining = _defining_class(cls, init)
    node.name = f"make_{cls.__name__}" if defining is cls else f"{defining.__name__}_init"
    cells = {k: v for k, v in parsed.closure.items() if k != "__class__"}
    cells[names[_HELPER]] = types.CellType(built_object)
    cells[names[cls.__name__]] = types.CellType(cls)
    cells[names["init_"]] = types.CellType(init)
    cells.update({k: types.CellType(m) for k, m in rewrite.bases.items()})
    maker = _maker_function(init, node.name, cells, names[cls.__name__], names["init_"])
    kept = (node, parsed.filename, dict(parsed.lines))

    def parse_maker(fn) -> Parsed:
        tree, filename, lines = kept
        closure = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        return Parsed(fn, S.clone(tree), filename, fn.__globals__, closure, dict(lines))

    setattr(maker, MADE_BY, parse_maker)
    maker.__sourcegrad_makes__ = (cls, tuple(rewrite.fields))
    _register_built_inside(parsed, node)
    return maker


def _register_built_inside(parsed: Parsed, node) -> None:
    """Register the plain classes whose objects ``__init__`` builds (``self.layers =
    [Dense(W, b) ...]``): they are records in the object's fields from its first use, before
    the derivative of building them is made."""
    local = S.bound_names(node)
    for sub in S.walk(node):
        if isinstance(sub, gast.Call) and isinstance(sub.func, (gast.Name, gast.Attribute)):
            obj = resolve(parsed, sub.func, local)
            if obj is not UNRESOLVED and isinstance(obj, type):
                plain_class_maker(obj)


def _defining_class(cls, init) -> type:
    """The class of ``cls``'s method resolution order whose ``__init__`` is ``init``."""
    return next((c for c in cls.__mro__ if vars(c).get("__init__") is init), cls)


def _free_name(wanted: str, node) -> str:
    taken = S.names_in(node)
    name = wanted
    while name in taken:
        name += "_"
    return name


def _maker_function(init, name, cells: dict, cls_name, init_name) -> types.FunctionType:
    """A function of ``init``'s parameters but ``self`` building the object the way
    ``cls(...)`` does, holding ``cells`` as its closure (which the derivative shares)."""
    sig = inspect.signature(init)
    head, passed, star = [], [], False
    for p in list(sig.parameters.values())[1:]:
        if p.kind is p.KEYWORD_ONLY and not star:
            head.append("*")
            star = True
        mark = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        star = star or p.kind is p.VAR_POSITIONAL
        head.append(mark + p.name)
        passed.append(f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else mark + p.name)
    free = sorted(cells)
    text = (
        f"def factory__({', '.join(free)}):\n"
        f"    def {name}({', '.join(head)}):\n"
        f"        ({', '.join(free)},)\n"
        f"        obj = {cls_name}.__new__({cls_name})\n"
        f"        {init_name}({', '.join(['obj', *passed])})\n"
        f"        return obj\n"
        f"    return {name}\n"
    )
    namespace: dict = {}
    code = init.__code__
    exec(compile(text, code.co_filename, "exec"), namespace)  # noqa: S102 - our own text
    inner = namespace["factory__"](*[cells[k].cell_contents for k in free])
    made = types.FunctionType(
        inner.__code__.replace(co_firstlineno=code.co_firstlineno),
        init.__globals__,
        name,
        init.__defaults__,
        tuple(cells[k] for k in inner.__code__.co_freevars),
    )
    made.__kwdefaults__ = init.__kwdefaults__
    made.__qualname__ = name
    made.__module__ = init.__module__
    return made


_COMPOUND = (gast.If, gast.For, gast.While, gast.With, gast.Try)


class _Rewrite:
    """``__init__``'s tree rewritten in place (module docstring); ``fields``: the names of the
    fields it stores, in order; ``bases``: closure name -> maker of a base ``__init__``."""

    def __init__(self, cls, init, parsed: Parsed, helper: str, class_name: str):
        self.cls, self.init, self.parsed = cls, init, parsed
        self.node = parsed.node
        self.helper, self.class_name = helper, class_name
        self.fields: list = []
        self.base_fields: set = set()
        self.stored: set = set()
        self.bases: dict = {}
        self.me = ""

    def run(self) -> None:
        node = self.node
        args = node.args
        if args.posonlyargs:
            raise _NotLowered("its __init__ has positional-only parameters", node.lineno)
        self.me = args.args[0].id
        args.args = args.args[1:]
        self.stored = set(self._all_stores())
        body = [b for b in node.body if not (isinstance(b, gast.Expr) and S.is_literal(b.value))]
        out = []
        for stmt in body:
            self._check(stmt)
            base = self._base_call(stmt)
            if base is not None:
                out.extend(self._base_fields(stmt, *base))
                continue
            self._note_fields(stmt)
            if self._reads_object(stmt):
                out.append(self._snapshot(stmt, self._stored_before(out)))
            self._rename_fields(stmt)
            out.append(stmt)
        self._check_every_path(body)
        out.append(self._returned(self.fields, node))
        node.body = out

    def _check(self, stmt) -> None:
        """Refuse what the rewrite cannot follow in ``stmt``."""
        me = self.me
        if not isinstance(stmt, S.NESTED_SCOPES):  # a nested def's return is its own
            for sub in S.own_scope_nodes(stmt):
                if isinstance(sub, gast.Return):
                    raise _NotLowered("its __init__ has a `return`", sub.lineno)
        for sub in S.walk(stmt):
            line = getattr(sub, "lineno", None) or stmt.lineno
            if isinstance(sub, (gast.Global, gast.Nonlocal)):
                raise _NotLowered("its __init__ assigns a variable outside it (`global`)", line)
            if isinstance(sub, (gast.FunctionDef, gast.Lambda)) and me in S.names_in(sub):
                raise _NotLowered(f"a function defined in __init__ reads `{me}`", line)
            if isinstance(sub, gast.Name) and sub.id == me and not isinstance(sub.ctx, gast.Load):
                raise _NotLowered(f"its __init__ rebinds `{me}`", line)
            if isinstance(sub, gast.Attribute) and _on(sub, me):
                if isinstance(sub.ctx, gast.Del) or sub.attr == "__dict__":
                    raise _NotLowered(f"its __init__ uses `{me}.{sub.attr}` that way", line)
            if isinstance(sub, gast.Call) and any(_is_name(a, me) for a in sub.args):
                if self._base_call(gast.Expr(value=sub)) is None:
                    raise _NotLowered(_handed_on(me, S.text(sub.func)), line)

    def _note_fields(self, stmt) -> None:
        for sub in S.walk(stmt):
            if isinstance(sub, gast.Attribute) and _on(sub, self.me):
                if not isinstance(sub.ctx, gast.Store) or sub.attr in self.fields:
                    continue
                if hasattr(inspect.getattr_static(self.cls, sub.attr, None), "__set__"):
                    raise _NotLowered(
                        f"`{self.me}.{sub.attr} = ...` calls the setter of the property "
                        f"`{sub.attr}`; store the field under a name of its own",
                        sub.lineno,
                    )
                self.fields.append(sub.attr)

    def _var(self, field: str) -> str:
        return f"{self.me}_{field}"

    def _rename_fields(self, stmt) -> None:
        """``self.X`` -> the local ``self_X`` for every field ``X`` (stored anywhere)."""
        stored = self.stored | set(self.fields)
        for parent in list(S.walk(stmt)):
            for attr, value in gast.iter_fields(parent):
                if isinstance(value, list):
                    for i, v in enumerate(value):
                        if self._is_field_node(v, stored):
                            value[i] = self._name_for(v)
                elif self._is_field_node(value, stored):
                    setattr(parent, attr, self._name_for(value))

    def _is_field_node(self, v, stored) -> bool:
        return isinstance(v, gast.Attribute) and _on(v, self.me) and v.attr in stored

    def _name_for(self, v) -> gast.Name:
        new = gast.Name(id=self._var(v.attr), ctx=v.ctx, annotation=None, type_comment=None)
        return gast.copy_location(new, v)

    def _all_stores(self) -> list:
        """Every field the body stores itself (before the rewrite)."""
        out: list = []
        for sub in S.walk(self.node):
            if isinstance(sub, gast.Attribute) and _on(sub, self.me):
                if isinstance(sub.ctx, gast.Store) and sub.attr not in out:
                    out.append(sub.attr)
        return out

    def _reads_object(self, stmt) -> bool:
        """Whether ``stmt`` reads the object itself (a method call, a class attribute)."""
        stored = self.stored | set(self.fields)
        for sub in S.walk(stmt):
            if isinstance(sub, gast.Attribute) and _on(sub, self.me) and sub.attr not in stored:
                self._check_method(sub)
                return True
        return False

    def _check_method(self, sub) -> None:
        """Refuse ``self.name`` where ``name`` is a method that writes its object."""
        method = inspect.getattr_static(self.cls, sub.attr, None)
        if isinstance(method, property):
            raise _NotLowered(f"its __init__ reads the property `.{sub.attr}`", sub.lineno)
        if isinstance(method, types.FunctionType) and _writes_receiver(method):
            raise _NotLowered(
                f"its __init__ calls `.{sub.attr}()`, which stores into the object being "
                "built; return the values from the method and store them in __init__",
                sub.lineno,
            )

    def _stored_before(self, out: list) -> list:
        stores = []
        for stmt in out:
            for sub in S.walk(stmt):
                if isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Store):
                    field = sub.id[len(self.me) + 1 :]
                    if sub.id.startswith(self.me + "_") and field in self.fields:
                        stores.append(field) if field not in stores else None
        return stores

    def _snapshot(self, stmt, fields: list) -> gast.Assign:
        """``self = built_object(Cls, {fields stored so far})`` before ``stmt``."""
        if isinstance(stmt, _COMPOUND) and any(
            isinstance(s, gast.Attribute) and _on(s, self.me) and isinstance(s.ctx, gast.Store)
            for s in S.walk(stmt)
        ):
            raise _NotLowered(
                f"its __init__ calls a method of `{self.me}` in a block that also stores "
                "fields; call it in a statement of its own",
                stmt.lineno,
            )
        value = self._returned(fields, stmt).value
        return _at(S.assign(self.me, value), stmt)

    def _returned(self, fields, where) -> gast.Return:
        display = gast.Dict(
            keys=[S.const(f) for f in fields], values=[S.name(self._var(f)) for f in fields]
        )
        call = S.call(S.name(self.helper), [S.name(self.class_name), display])
        return _at(gast.Return(value=call), where)

    def _base_call(self, stmt):
        """``(base class, its __init__, args, keywords)`` where ``stmt`` is
        ``super().__init__(...)`` or ``Base.__init__(self, ...)``; else None."""
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        func = getattr(call, "func", None)
        if not (isinstance(func, gast.Attribute) and func.attr == "__init__"):
            return None
        owner, args = func.value, list(call.args)
        if isinstance(owner, gast.Call) and _is_name(owner.func, "super"):
            defining = _defining_class(self.cls, self.init)
        elif isinstance(owner, gast.Name) and args and _is_name(args[0], self.me):
            defining = self.parsed.globals.get(owner.id)
            if not isinstance(defining, type) or defining not in self.cls.__mro__:
                return None
            args = args[1:]
            defining = self.cls.__mro__[self.cls.__mro__.index(defining) - 1]
        else:
            return None
        mro = self.cls.__mro__
        rest = mro[mro.index(defining) + 1 :] if defining in mro else ()
        base = next((c for c in rest if "__init__" in vars(c)), object)
        return base, base.__init__, args, call.keywords

    def _base_fields(self, stmt, base, init, args, keywords) -> list:
        """``base_ = Base_init(...)`` and ``self_F = base_.F`` for each field ``F`` the base
        class's ``__init__`` stores."""
        if base is object:
            if args or keywords:
                raise _NotLowered("its __init__ passes arguments to object.__init__", stmt.lineno)
            return []
        if not isinstance(init, types.FunctionType):
            raise _NotLowered(f"{base.__name__}.__init__ is no Python function", stmt.lineno)
        made = _maker_for(self.cls, init)
        if isinstance(made, _NotLowered):
            raise _NotLowered(f"{base.__name__}.__init__: {made.reason}", made.lineno)
        name = _free_name(made.__name__, self.node)
        self.bases[name] = made
        held = _free_name(f"{self.me}_{base.__name__.lower()}", self.node)
        call = gast.Call(func=S.name(name), args=args, keywords=keywords)
        out = [_at(S.assign(held, call), stmt)]
        for field in made.__sourcegrad_makes__[1]:
            self.base_fields.add(field)
            if field not in self.fields:
                self.fields.append(field)
            read = gast.Attribute(value=S.name(held), attr=field, ctx=gast.Load())
            out.append(_at(S.assign(self._var(field), read), stmt))
        return out

    def _check_every_path(self, body) -> None:
        """Refuse a field stored on some paths only (the object would lack it on others)."""
        sure = set(self.base_fields)
        for stmt in body:
            sure |= self._surely_stored(stmt)
        for field in self.fields:
            if field not in sure:
                raise _NotLowered(
                    f"its __init__ stores `{self.me}.{field}` on some paths only; give it a "
                    "value before the `if` or loop (None where it has none)",
                    self._first_store(field),
                )

    def _surely_stored(self, stmt) -> set:
        if isinstance(stmt, gast.If):
            then = set().union(*[self._surely_stored(s) for s in stmt.body])
            other = set().union(*[self._surely_stored(s) for s in stmt.orelse])
            return then & other
        if isinstance(stmt, (gast.With,)):
            return set().union(*[self._surely_stored(s) for s in stmt.body])
        if isinstance(stmt, _COMPOUND):
            return set()
        prefix = self.me + "_"
        return {
            sub.id[len(prefix) :]
            for sub in S.walk(stmt)
            if isinstance(sub, gast.Name)
            and isinstance(sub.ctx, gast.Store)
            and sub.id.startswith(prefix)
        }

    def _first_store(self, field: str) -> int | None:
        for sub in S.walk(self.node):
            if isinstance(sub, gast.Name) and sub.id == self._var(field):
                return sub.lineno
        return None


def _handed_on(me: str, what: str) -> str:
    if what in ("setattr", "getattr", "vars", "delattr"):
        return (
            f"its __init__ sets fields by computed names (`{what}({me}, ...)`); store each "
            f"with `{me}.name = value`, or keep them in one dict field (`{me}.params = p`)"
        )
    return f"its __init__ hands `{me}` to `{what}`, a side effect sourcegrad does not repeat"


def _on(node, name: str) -> bool:
    """Whether ``node`` is an attribute of the name ``name`` (``self.W``)."""
    return _is_name(node.value, name)


def _is_name(node, name: str) -> bool:
    return isinstance(node, gast.Name) and node.id == name


def _at(stmt, where):
    """``stmt`` at the line of ``where``."""
    stmt.lineno = getattr(where, "lineno", None)
    return stmt


def _writes_receiver(method: types.FunctionType, seen=None) -> bool:
    """Whether ``method`` (or a method of its object it calls) stores into its object."""
    seen = seen if seen is not None else set()
    if method in seen:
        return False
    seen.add(method)
    try:
        node = parse(method).node
    except SourcegradError:
        return True
    params = node.args.posonlyargs + node.args.args
    if not params:
        return False
    me = params[0].id
    for sub in S.walk(node):
        if isinstance(sub, gast.Attribute) and _on(sub, me):
            if not isinstance(sub.ctx, gast.Load) or sub.attr == "__dict__":
                return True
        if isinstance(sub, gast.Call) and any(_is_name(a, me) for a in sub.args):
            return True
    return False


def _makes_records(cls) -> bool:
    """Whether the objects of ``cls`` are records (for ``runtime/records.py``, which asks of
    every class it meets: a class whose source cannot be read or rewritten is none)."""
    try:
        return plain_class_maker(cls) is not None or _holds_no_fields(cls)
    except (SyntaxError, OSError, TypeError, ValueError):
        return False


def _holds_no_fields(cls) -> bool:
    """A class of the user's without an ``__init__`` (``class ReLU: def forward(...)``): its
    objects are records of no fields, whatever attributes their methods keep. One called like
    a function (``Sigmoid()`` with ``__call__``) is no record: it is kept as it is."""
    return (
        _ordinary_class(cls)
        and cls.__init__ is object.__init__
        and not any("__call__" in vars(k) for k in cls.__mro__[:-1])
        and (cls.__module__ or "").split(".")[0] not in ("builtins", "sourcegrad", "numpy")
        and _class_problem(cls) is None
    )


def _ordinary_class(cls) -> bool:
    """A class made by ``class`` without a metaclass (or with ``abc.ABCMeta``: an ``abc.ABC``
    base declaring abstract methods), not a dataclass, a namedtuple or an exception: one
    whose objects could be records of the fields they hold."""
    return (
        isinstance(cls, type)
        and type(cls) in (type, abc.ABCMeta)
        and not dataclasses.is_dataclass(cls)
        and not issubclass(cls, (tuple, BaseException))
    )


install_plain_class_test(_makes_records)
