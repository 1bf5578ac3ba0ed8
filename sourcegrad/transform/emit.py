"""Pass 6 — emit: source text, a live function, and black-formatted text for people.

Guarantees: the function runs the derivative exactly as the returned ``text`` says (that text
is what is compiled: from a file holding it where the caller gives one, so that tracebacks,
``pdb``, IDEs and coverage read it, else registered with ``linecache``; code transformed again
is known by its ``<sourcegrad ...>`` name, :meth:`Emitted.source_fn`); it reads the user's globals live and shares the user's closure
cells, so nothing is frozen at transform time; ``pretty()`` is the same function formatted by
black, with a comment heading each adjoint block. Output is deterministic.
"""

from __future__ import annotations

import ast
import itertools
import keyword
import linecache
import math
import types
import weakref
from dataclasses import dataclass, field

import gast

from ..errors import register_generated
from . import syntax as S
from .forms import Derivative
from .node_facts import get_fact
from .unparse import statement_text

_counter = itertools.count()


@dataclass
class Emitted:
    fn: types.FunctionType
    name: str
    text: str  # the inner function's source, as compiled (before black)
    filename: str
    line_map: dict = field(default_factory=dict)  # line in `filename` -> user's line
    tangent_params: tuple = ()  # jvp: the keyword-only tangent parameters, in wrt order
    _pretty: str | None = None
    #: the pure derivative this one was optimized from: what is shown and transformed again
    pure: Emitted | None = None
    #: whether a build specialised to the argument shapes may run faster (arrays among them)
    specialisable: bool = False
    #: the simplified derivative this one was optimized from, kept for that build
    der: object = None
    #: the normalized function ``der`` was built from, as normalizing gave it (before any
    #: analysis): the builds specialised to shapes start from a copy of it
    core: object = None
    #: a pure build for ranks that runs until the build specialised to shapes replaces it
    provisional: bool = False
    first_key: object = None  # the argument signature it was built for
    #: what the code keeps from one call to the next (buffer pools: ``held_bytes()``)
    held: tuple = ()
    #: the ``<sourcegrad ...>`` name passes know generated code by, where ``filename`` is a file
    label: str = ""
    _named: types.FunctionType | None = None

    @property
    def source_fn(self) -> types.FunctionType:
        """The function whose source higher derivatives transform (the pure derivative),
        compiled under its ``<sourcegrad ...>`` name (see :meth:`named_fn`)."""
        return (self.pure or self).named_fn()

    def named_fn(self) -> types.FunctionType:
        """``fn``, or where it was compiled from a file, the same function compiled under
        ``label`` (its text registered with ``linecache``): code read again (higher orders)
        is known as generated code by that name."""
        fn = self.fn
        code = getattr(fn, "__code__", None)
        if not self.label or code is None or code.co_filename != self.filename:
            return fn
        if self._named is None:
            lines = linecache.getlines(self.filename)
            linecache.cache[self.label] = (sum(map(len, lines)), None, lines, self.label)
            named = types.FunctionType(
                _renamed(code, self.label), fn.__globals__, fn.__name__, fn.__defaults__,
                fn.__closure__,
            )  # fmt: skip
            named.__kwdefaults__ = fn.__kwdefaults__
            named.__qualname__ = fn.__qualname__
            weakref.finalize(named.__code__, linecache.cache.pop, self.label, None)
            self._named = named
        return self._named

    def pretty(self, optimized: bool = False) -> str:
        """The derivative's source, formatted by black: the pure derivative, or with
        ``optimized`` the code that runs."""
        if self.pure is not None and not optimized:
            return self.pure.pretty()
        if self._pretty is None:
            import black

            self._pretty = black.format_str(self.text, mode=black.Mode())
        return self._pretty


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and the code nested in it with ``filename`` as their file name."""
    consts = tuple(
        _renamed(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


class Deferred:
    """An :class:`Emitted` made only when one of its attributes is first read: the pure
    derivative, which runs only where it is shown or transformed again."""

    def __init__(self, der, place=None):
        self._der = der  # a Derivative, or a function that makes one
        self._place = place
        self._emitted: Emitted | None = None

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in ("_der", "_emitted", "_place"):
            raise AttributeError(attr)
        if self._emitted is None:
            der = self._der if isinstance(self._der, Derivative) else self._der()
            self._emitted = emit(der, self._place)
        return getattr(self._emitted, attr)


def emit(der: Derivative, place=None) -> Emitted:
    """Turn a simplified derivative into source text and a function object (``der`` is
    read, not changed). ``place(text, name, origin)`` gives the filename the text is compiled
    under (a file holding it); without it, or where it gives None, the text is registered with
    ``linecache`` under a name of its own."""
    core = der.analysis.core
    parsed = core.parsed
    node = der.node
    inner, line_users = _render(node, core.quiet)
    used = {n.id for n in S.name_nodes(node)}
    free_user = sorted(n for n in parsed.closure if n in used)
    injected = sorted(n for n in der.refs.injected if n in used)
    factory_params = injected + free_user
    indented = ["    " + line if line else "" for line in inner.splitlines()]
    text = "\n".join(
        [f"def __sg_make__({', '.join(factory_params)}):", *indented, f"    return {node.name}", ""]
    )
    label = f"<sourcegrad {node.name} #{next(_counter)} of {parsed.filename}:{node.lineno}>"
    line_map = {k + 2: v for k, v in line_users.items()}  # +1 for the factory line, 1-based
    lines = {2: node.lineno, **line_map}  # line 2 is the generated def: the user's def line
    origin = f"{parsed.filename}:{sorted(lines.items())}"
    filename = place(text, node.name, origin) if place is not None else None
    if filename is None:
        filename = label
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    made = namespace["__sg_make__"](*([None] * len(factory_params)))
    cells, held = [], []
    for name in made.__code__.co_freevars:
        if name in parsed.closure:
            cells.append(parsed.closure[name])
        else:
            obj = der.refs.injected[name]
            cells.append(types.CellType(obj))
            if hasattr(obj, "held_bytes"):
                held.append(obj)
    user_fn = parsed.fn
    fn = types.FunctionType(
        made.__code__, parsed.globals, node.name, user_fn.__defaults__, tuple(cells)
    )
    fn.__kwdefaults__ = user_fn.__kwdefaults__
    fn.__qualname__ = node.name
    for name in {filename, label}:
        register_generated(name, parsed.filename, lines, owner=fn)
    tangents = tuple(get_fact(node, "tangent_params"))
    held = tuple(held)
    return Emitted(
        fn, node.name, inner + "\n", filename, line_map, tangents, held=held, label=label
    )


def _render(node, quiet: dict) -> tuple[str, dict]:
    """The function's text (comments included) and a map from its lines to user lines; the
    statements from lines inside a quiet ``with`` (``quiet``: line -> its layers) in it."""
    lines = [f"def {node.name}({_unparse(node.args)}):"]
    users: dict = {}
    state = {"adjoint": get_fact(node, "interleaved"), "comment": None}
    mixed = bool(state["adjoint"])  # tangent statements interleaved with the primal ones

    def head(stmt, indent):  # the blank line before the adjoint, the comment of a block
        adjoint = get_fact(stmt, "adjoint") or isinstance(stmt, gast.Return)
        if indent == 1 and adjoint and not state["adjoint"]:
            state["adjoint"] = True
            if len(lines) > 1:
                lines.append("")
        comment = get_fact(stmt, "comment")
        if comment and comment != state["comment"]:
            lines.append("    " * indent + "# " + comment)
            state["comment"] = comment

    def block(stmts, indent, depth):
        i = 0
        while i < len(stmts):
            stmt, pad = stmts[i], "    " * indent
            layer = _layer(quiet, stmt, depth)
            if layer is not None:
                j = i + 1
                while j < len(stmts) and _same_layer(quiet, stmts[i], stmts[j], depth, mixed):
                    j += 1
                head(stmt, indent)
                users[len(lines)] = stmt.lineno
                lines.append(f"{pad}with {layer[0]}:")
                lines.extend(pad + "    " + setup for setup in layer[1:])
                block(stmts[i:j], indent + 1, depth + 1)
                i = j
                continue
            i += 1
            head(stmt, indent)
            lineno = getattr(stmt, "lineno", None)
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                users[len(lines)] = lineno
                lines.append(pad + _header(stmt))
                block(stmt.body, indent + 1, depth)
                if stmt.orelse:
                    lines.append(pad + "else:")
                    block(stmt.orelse, indent + 1, depth)
                state["comment"] = None
                continue
            stmt = attribute_store(stmt)
            text = statement_text(stmt)  # (None: a statement only ``ast`` writes)
            for piece in (text if text is not None else _unparse(stmt)).splitlines():
                users[len(lines)] = lineno
                lines.append(pad + piece)

    block(node.body, 1, 0)
    return "\n".join(lines), users


def attribute_store(stmt):
    """``setattr(obj, "name", v)`` (an expression statement) as the assignment a person
    writes, ``obj.name = v`` (the same store: the builtin's), where ``name`` is an identifier
    that ``obj.name`` spells unchanged; any other statement as it is."""
    call = stmt.value if type(stmt) is gast.Expr else None
    if not (
        type(call) is gast.Call
        and type(call.func) is gast.Name
        and call.func.id == "setattr"
        and len(call.args) == 3
        and not call.keywords
        and type(call.args[1]) is gast.Constant
        and not any(type(a) is gast.Starred for a in call.args)
    ):
        return stmt
    obj, name, value = call.args
    attr = name.value
    if not (isinstance(attr, str) and attr.isidentifier()) or keyword.iskeyword(attr):
        return stmt
    if attr.startswith("__") and not attr.endswith("__"):
        return stmt  # (written in a class, `obj.__name` would be mangled)
    target = gast.Attribute(value=obj, attr=attr, ctx=gast.Store())
    store = gast.Assign(targets=[target], value=value, type_comment=None)
    return gast.copy_location(store, stmt)


def _layer(quiet: dict, stmt, depth: int):
    """The quiet layer ``depth`` around ``stmt`` (None where it has fewer)."""
    layers = quiet.get(getattr(stmt, "lineno", None), ()) if quiet else ()
    return layers[depth] if len(layers) > depth else None


def _same_layer(quiet: dict, first, stmt, depth: int, mixed: bool) -> bool:
    """Whether ``stmt`` goes in the ``with`` block opened for ``first``: the same layers to
    ``depth``, on the same side of the start of the adjoint (``mixed``: of any side)."""
    layers = quiet.get(getattr(stmt, "lineno", None), ())
    return (
        layers[: depth + 1] == quiet[first.lineno][: depth + 1]
        and (mixed or bool(get_fact(stmt, "adjoint")) == bool(get_fact(first, "adjoint")))
        and not isinstance(stmt, gast.Return)
    )


def _header(stmt) -> str:
    if isinstance(stmt, gast.If):
        return f"if {_unparse(stmt.test)}:"
    if isinstance(stmt, gast.While):
        return f"while {_unparse(stmt.test)}:"
    return f"for {_unparse(stmt.target)} in {_unparse(stmt.iter)}:"


def _unparse(node) -> str:
    return ast.unparse(_to_ast(node))


def _to_ast(node):
    """The ``ast`` tree of a gast tree, for ``ast.unparse`` (which reads no positions and no
    expression contexts): each node as the ``ast`` class of the same name with that class's
    fields but ``ctx``, a parameter (a gast ``Name`` in ``Param`` context) as an ``ast.arg``,
    every position line 1. Several times faster than ``gast.gast_to_ast``, which converts
    positions, contexts and type comments too."""
    if type(node) is list:
        return [_to_ast(x) for x in node]
    if type(node) is gast.Name and node.annotation is None and type(node.ctx) is not gast.Param:
        got = _NAMES.get(node.id)  # (the unparser keeps no state on a name: one serves all)
        if got is None:
            if len(_NAMES) > 4096:
                _NAMES.clear()
            got = _NAMES[node.id] = ast.Name(id=node.id)
        return got
    if not isinstance(node, gast.AST):
        return node
    if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Param):
        return ast.arg(arg=node.id, annotation=_to_ast(node.annotation), type_comment=None)
    if isinstance(node, gast.Constant) and _negative_number(node.value):
        # ``ast.unparse`` writes a negative number as its repr, unparenthesised, wherever it
        # stands: ``(-1) ** k`` would come out as ``-1 ** k``, which is ``-(1 ** k)``. As a
        # negation of a positive number it is parenthesised where precedence needs it.
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-node.value, kind=None))
    made = _AST_CLASSES.get(type(node))
    if made is None:
        made = _AST_CLASSES[type(node)] = _ast_class(type(node))
    cls, fields, positioned = made
    new = cls.__new__(cls)
    for name in fields:
        v = getattr(node, name, None)
        setattr(new, name, _to_ast(v) if isinstance(v, (gast.AST, list)) else v)
    if positioned:  # read for type comments: any line will do
        new.lineno = new.end_lineno = 1
    return new


def _ast_class(gast_class) -> tuple:
    """``(ast class, the fields to convert, whether it has a position)`` of a gast class."""
    cls = getattr(ast, gast_class.__name__)
    return cls, tuple(f for f in cls._fields if f != "ctx"), "lineno" in cls._attributes


_AST_CLASSES: dict = {}
_NAMES: dict = {}  # identifier -> its ast.Name


def _negative_number(value) -> bool:
    """Whether ``value`` is an int or float written with a leading minus (-0.0 too)."""
    if type(value) is int:
        return value < 0
    if type(value) is float:
        return math.copysign(1.0, value) < 0
    return False
