"""Small constructors and queries for gast nodes, shared by the passes."""

from __future__ import annotations

import ast

import gast

from .fresh_names import NameGen as NameGen  # (the passes name it S.NameGen)
from .node_facts import get_fact


def name(id_: str, store: bool = False) -> gast.Name:
    ctx = gast.Store() if store else gast.Load()
    return gast.Name(id=id_, ctx=ctx, annotation=None, type_comment=None)


def const(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target: str, value, lineno: int | None = None) -> gast.Assign:
    node = gast.Assign(targets=[name(target, store=True)], value=value, type_comment=None)
    node.lineno = lineno
    return node


def call(func, args=(), keywords=None) -> gast.Call:
    kws = [gast.keyword(arg=k, value=v) for k, v in (keywords or {}).items()]
    return gast.Call(func=func, args=list(args), keywords=kws)


def attr_chain(dotted: str):
    parts = dotted.split(".")
    node = name(parts[0])
    for part in parts[1:]:
        node = gast.Attribute(value=node, attr=part, ctx=gast.Load())
    return node


def names_in(node) -> set[str]:
    """Every identifier read or written anywhere under ``node``."""
    return {n.id for n in name_nodes(node)}


def list_growth(node):
    """``node`` where it is a call ``<list>.append(v)`` or ``<list>.extend(vs)`` with one
    positional, unstarred argument; else None."""
    if (
        isinstance(node, gast.Call)
        and isinstance(node.func, gast.Attribute)
        and node.func.attr in ("append", "extend")
        and len(node.args) == 1
        and not node.keywords
        and not isinstance(node.args[0], gast.Starred)
    ):
        return node
    return None


def is_none(node) -> bool:
    """Whether ``node`` is the constant ``None``."""
    return isinstance(node, gast.Constant) and node.value is None


def captured_names(node) -> set[str]:
    """Names read or bound inside the functions and lambdas nested in ``node`` (not ``node``
    itself): such a function may run at any later time and sees those variables."""
    out: set = set()
    for inner in nodes_of(node, _SCOPES):
        if inner is not node:
            out |= {n.id for n in name_nodes(inner)}
    return out


_SCOPES = (gast.FunctionDef, gast.Lambda)
#: what opens a scope of its own inside a function: its return, yield and break are not the
#: function's
NESTED_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


def own_scope_nodes(node):
    """The nodes under ``node`` (itself included) outside the functions, lambdas and classes
    defined in it, in no particular order; expression contexts and operators are not
    visited, as :func:`walk` does (a node's children are read after it is yielded)."""
    stack = [node]
    pop, push = stack.pop, stack.append
    AST, nested = gast.AST, NESTED_SCOPES
    while stack:
        n = pop()
        yield n
        fields = _WALKED.get(type(n))
        for field in fields if fields is not None else _walked(type(n)):
            v = getattr(n, field, None)
            if v is None:
                continue
            if type(v) is list:
                stack.extend([x for x in v if isinstance(x, AST) and not isinstance(x, nested)])
            elif isinstance(v, AST) and not isinstance(v, nested):
                push(v)


def bound_names(node) -> set[str]:
    """Names ``node`` binds (assignment targets, parameters, loop variables)."""
    return {n.id for n in name_nodes(node) if isinstance(n.ctx, (gast.Store, gast.Param))}


def loaded_names(node) -> list[str]:
    """Identifiers read under ``node``, in evaluation order, with repeats."""
    return [n.id for n in name_nodes(node) if isinstance(n.ctx, gast.Load)]


def target_name(stmt) -> str | None:
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


#: the names NumPy and CuPy are imported as by convention (a syntactic reading)
ARRAY_MODULES = ("np", "numpy", "cupy", "cp")

#: the methods of a list or dict that change it in place (an array's `sort` is not among them)
CONTAINER_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "reverse", "remove", "clear", "update", "popitem",
     "setdefault"}
)  # fmt: skip


def calls_module(node, modules=ARRAY_MODULES) -> bool:
    """Whether ``node`` is a call of a function of one of ``modules`` by name (``np.exp(x)``,
    ``np.linalg.norm(x)``)."""
    name = dotted(node.func) if isinstance(node, gast.Call) else None
    return bool(name) and name.split(".")[0] in modules


def appended_list(stmt) -> str | None:
    """``xs`` where ``stmt`` is the statement ``xs.append(v)`` (one argument), else None."""
    v = stmt.value if isinstance(stmt, gast.Expr) else None
    if (
        isinstance(v, gast.Call)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "append"
        and isinstance(v.func.value, gast.Name)
        and len(v.args) == 1
        and not v.keywords
    ):
        return v.func.value.id
    return None


def popped_stack(stmt) -> str | None:
    """``xs`` where ``stmt`` is ``x = xs.pop()`` (a name popped from a name), else None."""
    v = stmt.value if isinstance(stmt, gast.Assign) else None
    if (
        isinstance(v, gast.Call)
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "pop"
        and isinstance(v.func.value, gast.Name)
        and not v.args
        and not v.keywords
    ):
        return v.func.value.id
    return None


def dotted(node) -> str | None:
    """``np.linalg.norm`` for an attribute chain of names, else None."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def clone(node):
    """A deep copy of a gast tree (with the node facts of ``node_facts`` the passes attach), much faster than
    ``copy.deepcopy``."""
    if type(node) is list:
        return [clone(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    return _clone_node(node)


def _clone_node(node):
    AST = gast.AST
    cls = type(node)
    new = cls.__new__(cls)
    d = new.__dict__
    for k, v in node.__dict__.items():
        t = type(v)
        if t is str or t is int or v is None:  # the most frequent fields: shared as they are
            d[k] = v
        elif t is list:
            d[k] = [_clone_node(x) if isinstance(x, AST) else clone(x) for x in v]
        elif isinstance(v, AST):
            if v.__dict__:
                d[k] = _clone_node(v)
            else:  # an expression context or an operator: nothing to copy inside
                d[k] = t.__new__(t)
        else:
            d[k] = v
    return new


#: per node class, the fields ``walk`` descends into: all but the expression context
#: (``Load``/``Store``) and the operator nodes, which no pass looks for by walking, and the
#: fields of the most frequent nodes that never hold a node (a name's ``id``, a constant's
#: ``value``)
_WALKED: dict = {
    gast.Constant: (),
    gast.Name: ("annotation",),
    gast.Attribute: ("value",),
    gast.keyword: ("value",),
}
_SKIPPED = frozenset({"ctx", "op", "ops"})


def _walked(cls) -> tuple:
    fields = _WALKED.get(cls)
    if fields is None:  # (none for what is no node: a name in ``global``, a None dict key)
        own = getattr(cls, "_fields", ()) if issubclass(cls, gast.AST) else ()
        fields = _WALKED[cls] = tuple(f for f in own if f not in _SKIPPED)
    return fields


def walked_fields(cls) -> tuple:
    """The fields of node class ``cls`` that :func:`walk` visits (not ``ctx`` nor ``op``)."""
    return _WALKED.get(cls) or _walked(cls)


def walk(node):
    """Every node under ``node`` (itself included), in no particular order; expression
    contexts (``n.ctx``) and operators (``n.op``) are not visited: read them as attributes."""
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    AST = gast.AST
    walked = _WALKED
    while stack:
        n = pop()
        yield n
        fields = walked.get(type(n))
        if fields is None:
            fields = _walked(type(n))
        for field in fields:
            v = getattr(n, field, None)
            if v is None:
                continue
            if type(v) is list:
                extend([x for x in v if isinstance(x, AST)])
            elif isinstance(v, AST):
                push(v)


def name_nodes(node) -> list:
    """The ``Name`` nodes under ``node`` (itself included), in the order :func:`walk` gives
    them; one list, without a generator's cost per node (the queries of names use it)."""
    out: list = []
    stack = [node]
    pop, push, extend, found = stack.pop, stack.append, stack.extend, out.append
    AST, Name = gast.AST, gast.Name
    walked = _WALKED
    while stack:
        n = pop()
        cls = type(n)
        if cls is Name:
            found(n)
            if n.annotation is None:
                continue
        fields = walked.get(cls)
        if fields is None:
            fields = _walked(cls)
        for field in fields:
            v = getattr(n, field, None)
            if v is None:
                continue
            if type(v) is list:
                extend(v)  # unfiltered: an item that is no node has no fields to walk
            elif isinstance(v, AST):
                push(v)
    return out


def parent_map(node) -> dict:
    """``id(child) -> parent`` for every node under ``node`` that :func:`walk` visits (not
    ``node`` itself; expression contexts and operators are left out): what a map made from
    ``ast.iter_child_nodes`` of each node :func:`walk` gives holds for those nodes, made in
    one pass."""
    out: dict = {}
    stack = [node]
    pop, push = stack.pop, stack.append
    AST = gast.AST
    walked = _WALKED
    while stack:
        n = pop()
        fields = walked.get(type(n))
        if fields is None:
            fields = _walked(type(n))
        for field in fields:
            v = getattr(n, field, None)
            if v is None:
                continue
            if type(v) is list:
                for x in v:
                    if isinstance(x, AST):
                        out[id(x)] = n
                        push(x)
            elif isinstance(v, AST):
                out[id(v)] = n
                push(v)
    return out


def nodes_of(node, classes: tuple) -> list:
    """The nodes under ``node`` (itself included) whose class is one of ``classes`` (exactly,
    not a subclass), in the order :func:`walk` gives them; one list, like :func:`name_nodes`."""
    out: list = []
    stack = [node]
    pop, push, extend, found = stack.pop, stack.append, stack.extend, out.append
    AST = gast.AST
    walked = _WALKED
    while stack:
        n = pop()
        cls = type(n)
        if cls in classes:
            found(n)
        fields = walked.get(cls)
        if fields is None:
            fields = _walked(cls)
        for field in fields:
            v = getattr(n, field, None)
            if v is None:
                continue
            if type(v) is list:
                extend(v)  # unfiltered: an item that is no node has no fields to walk
            elif isinstance(v, AST):
                push(v)
    return out


class Transformer(gast.NodeTransformer):
    """``gast.NodeTransformer`` that rewrites the same trees the same way, faster: each
    ``visit_<Class>`` method found once per class, and expression contexts and operators
    (``n.ctx``, ``n.op``, ``n.ops``) not visited, as :func:`walk` does. A subclass must
    not define ``visit_`` methods for those (``visit_Load``, ``visit_Add``, ...)."""

    _visitors: dict = {}  # node class -> the method visiting it; one dict per subclass

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._visitors = {}

    def visit(self, node):
        method = self._visitors.get(type(node))
        if method is None:
            cls = type(self)
            method = getattr(cls, "visit_" + type(node).__name__, None) or cls.generic_visit
            self._visitors[type(node)] = method
        return method(self, node)

    def generic_visit(self, node):
        AST = gast.AST
        fields = _WALKED.get(type(node))
        for field in fields if fields is not None else _walked(type(node)):
            old = getattr(node, field, None)
            if type(old) is list:
                new = []
                for value in old:
                    if isinstance(value, AST):
                        value = self.visit(value)
                        if value is None:
                            continue
                        if not isinstance(value, AST):
                            new.extend(value)
                            continue
                    new.append(value)
                old[:] = new
            elif isinstance(old, AST):
                value = self.visit(old)
                if value is None:
                    delattr(node, field)
                else:
                    setattr(node, field, value)
        return node


class CopyingTransformer(Transformer):
    """:class:`Transformer` that leaves the tree it reads as it is: ``visit(node)`` gives
    what ``Transformer.visit(clone(node))`` would, each node made anew as the walk reaches it
    (one walk, not a copy and then a walk). A ``visit_<Class>`` method must not change the
    node it is given: it returns a new node (:func:`clone`, :meth:`copied`) or a visited
    one."""

    def generic_visit(self, node):
        return self.copied(node, visit=True)

    def copied(self, node, visit: bool = False):
        """A new node like ``node``: its walked fields visited with ``visit``, else shared
        (for the caller to replace), everything else copied as :func:`clone` copies it."""
        AST = gast.AST
        cls = type(node)
        walked = _WALKED.get(cls)
        if walked is None:
            walked = _walked(cls)
        new = cls.__new__(cls)
        d = new.__dict__
        for k, v in node.__dict__.items():
            t = type(v)
            if k in walked and visit:
                if t is list:
                    out = []
                    for value in v:
                        if isinstance(value, AST):
                            value = self.visit(value)
                            if value is None:
                                continue
                            if not isinstance(value, AST):
                                out.extend(value)
                                continue
                        else:
                            value = clone(value)
                        out.append(value)
                    d[k] = out
                elif isinstance(v, AST):
                    value = self.visit(v)
                    if value is not None:
                        d[k] = value
                else:
                    d[k] = v
            elif k in walked or t is str or t is int or v is None:
                d[k] = v
            elif t is list:
                d[k] = [_clone_node(x) if isinstance(x, AST) else clone(x) for x in v]
            elif isinstance(v, AST):
                d[k] = _clone_node(v) if v.__dict__ else t.__new__(t)
            else:
                d[k] = v
        return new


def blocks(body):
    """``body`` and every statement list nested in it (loop and branch bodies, ``else``
    parts), outer before inner."""
    yield body
    for stmt in body:
        for field in ("body", "orelse"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                yield from blocks(inner)


def rename(node, mapping: dict):
    """Replace loaded names per ``mapping`` (name -> node), in place; returns the new root."""
    if isinstance(node, gast.Name):
        if isinstance(node.ctx, gast.Load) and node.id in mapping:
            return clone(mapping[node.id])
        return node
    _rename_in(node, mapping)
    return node


def _rename_in(node, mapping: dict) -> None:
    scoped = _SCOPED.get(type(node))
    if scoped is not None:
        scoped(node, mapping)
        return
    for field in _WALKED.get(type(node)) or _walked(type(node)):
        v = getattr(node, field, None)
        if type(v) is list:
            for i, x in enumerate(v):
                if type(x) is gast.Name:
                    if x.id in mapping and isinstance(x.ctx, gast.Load):
                        v[i] = clone(mapping[x.id])
                elif isinstance(x, gast.AST):
                    _rename_in(x, mapping)
        elif type(v) is gast.Name:
            if v.id in mapping and isinstance(v.ctx, gast.Load):
                setattr(node, field, clone(mapping[v.id]))
        elif isinstance(v, gast.AST):
            _rename_in(v, mapping)


def _rename_parts(parts, mapping: dict) -> None:
    """:func:`rename` over the nodes of ``parts`` (None entries skipped)."""
    if not mapping:
        return
    holder = gast.List(elts=[p for p in parts if p is not None], ctx=gast.Load())
    _rename_in(holder, mapping)
    kept = iter(holder.elts)
    parts[:] = [p if p is None else next(kept) for p in parts]


def _parameters(args) -> set:
    params = args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
    return {a.id for a in params if a is not None}


def _without(mapping: dict, shadowed: set) -> dict:
    return {k: v for k, v in mapping.items() if k not in shadowed}


def _rename_lambda(node, mapping: dict) -> None:
    """Defaults are read where the lambda stands; its parameters shadow in its body."""
    _rename_parts(node.args.defaults, mapping)
    _rename_parts(node.args.kw_defaults, mapping)
    body = [node.body]
    _rename_parts(body, _without(mapping, _parameters(node.args)))
    node.body = body[0]


def _rename_def(node, mapping: dict) -> None:
    """Decorators and defaults are read where the ``def`` stands; its parameters and the
    names its body assigns (not declared global or nonlocal) shadow in its body."""
    _rename_parts(node.decorator_list, mapping)
    _rename_parts(node.args.defaults, mapping)
    _rename_parts(node.args.kw_defaults, mapping)
    declared = {
        n for s in walk(node) if isinstance(s, (gast.Global, gast.Nonlocal)) for n in s.names
    }
    local = {
        n.id
        for s in node.body
        for n in walk(s)
        if isinstance(n, gast.Name)
        and n.ctx is not None
        and isinstance(n.ctx, (gast.Store, gast.Del))
    }
    _rename_parts(node.body, _without(mapping, _parameters(node.args) | (local - declared)))


def _rename_comprehension(node, mapping: dict) -> None:
    """The first iterable is read where the comprehension stands; the names its ``for``
    clauses bind shadow in the rest."""
    first = [node.generators[0].iter]
    _rename_parts(first, mapping)
    node.generators[0].iter = first[0]
    bound = {n.id for g in node.generators for n in walk(g.target) if isinstance(n, gast.Name)}
    inner = _without(mapping, bound)
    if not inner:
        return
    for i, g in enumerate(node.generators):
        if i:
            it = [g.iter]
            _rename_parts(it, inner)
            g.iter = it[0]
        _rename_parts(g.ifs, inner)
    for field in ("elt", "key", "value"):
        if getattr(node, field, None) is not None:
            part = [getattr(node, field)]
            _rename_parts(part, inner)
            setattr(node, field, part[0])


_SCOPED = {
    gast.Lambda: _rename_lambda,
    gast.FunctionDef: _rename_def,
    gast.ListComp: _rename_comprehension,
    gast.SetComp: _rename_comprehension,
    gast.DictComp: _rename_comprehension,
    gast.GeneratorExp: _rename_comprehension,
}


def is_atom(node) -> bool:
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, (gast.Tuple, gast.List)):
        return all(is_atom(e) for e in node.elts)
    return get_fact(node, "static")


def is_literal(node) -> bool:
    """A constant written out: a number or string (``-1`` too), or a tuple of them (the key
    paths of a gradient's parts, ``(-1, "W")``)."""
    if isinstance(node, gast.Constant):
        return True
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return isinstance(node.operand, gast.Constant)
    if isinstance(node, gast.Tuple):
        return all(is_literal(e) for e in node.elts)
    return False


def text(node) -> str:
    """``node`` as Python source, for a message; its node type where it cannot be unparsed."""
    try:
        return ast.unparse(gast.gast_to_ast(node))
    except Exception:  # noqa: BLE001 - only used to word a message
        return type(node).__name__
