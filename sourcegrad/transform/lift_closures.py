"""Nested functions that read the enclosing function's variables take them as arguments
(part of the normalize pass).

A nested ``def step(h): return np.tanh(h @ W)`` reads ``W`` when it is called. Where every use
of ``step`` is a call made in the function (also from its own body, or from other nested
functions lifted the same way), ``step`` becomes ``def step(W, h)`` and each call ``step(h)``
becomes ``step(W, h)``: the same value read at the same time, now an argument, through which
the derivative flows as through any helper's. A nested function used otherwise (passed on,
stored), or whose variables a calling nested function binds itself, is left as written.
"""

from __future__ import annotations

import types
import weakref

import gast

from ..errors import SourcegradError
from . import syntax as S
from .parse import is_installed, parse, resolve


def lift_captured_variables(fn: gast.FunctionDef, parsed=None) -> None:
    """Rewrite ``fn`` in place as the module docstring says; with ``parsed`` (``fn``'s
    :class:`~.parse.Parsed`), a gradient of a nested function called where it is made is a
    call of it too (:func:`_gradient_calls`)."""
    nested = _nested_functions(fn)
    through = _gradient_calls(fn, nested, parsed) if parsed is not None else []
    if not (nested or through):
        return
    locals_ = _local_names(fn) - set(nested)
    liftable = _liftable(fn, nested, {id(chain[-1].args[0]) for _, chain in through})
    direct = {name: free_reads(node) & locals_ for name, node in nested.items()}
    captured = _captured(nested, direct, liftable)
    for name in sorted(liftable):
        if captured[name]:
            _add_parameters(nested[name], sorted(captured[name]))
    for call in S.walk(fn):
        if isinstance(call, gast.Call) and isinstance(call.func, gast.Name):
            names = sorted(captured.get(call.func.id, ())) if call.func.id in liftable else ()
            if names:
                call.args = [S.name(n) for n in names] + call.args
    for calls, chain in through:
        made = chain[-1].args[0]
        if isinstance(made, gast.Lambda):  # `sg.grad(lambda x: loss(W, x))(x)`
            names = sorted(free_reads(made) & locals_)
            _add_parameters(made, names)
        else:
            names = sorted(captured.get(made.id, ())) if made.id in liftable else ()
        if names:
            for call in calls:
                call.args = [S.name(n) for n in names] + call.args
            for transform in chain:
                _shift_wrt(transform, len(names))


def _gradient_calls(fn, nested: dict, parsed) -> list:
    """``(calls, transform)`` of each gradient ``sg.grad(step, wrt)`` in ``fn`` of a nested
    function ``step`` (or of a lambda written there), ``wrt`` a literal position or tuple of
    them (or left out), with the calls of it: called where it is made (``sg.grad(step)(h)``),
    or bound once to a name only ever called in ``fn``'s own body (``d = sg.grad(step)``,
    then ``d(h)``). Its variables lifted, it is ``sg.grad(step, wrt + k)`` called as
    ``(W, h)``: the same values read at the same time, constants of the inner gradient, now
    arguments the outer derivative flows through."""
    found = []
    bound = S.bound_names(fn)
    parents = S.parent_map(fn)
    for transform in S.walk(fn):
        chain = _chain(transform, nested, parsed, bound)
        if chain is None:
            continue
        parent = parents.get(id(transform))
        if isinstance(parent, gast.Call) and parent.func is transform:
            found.append(([parent], chain))
        elif isinstance(parent, gast.Assign):
            calls = _calls_of_bound(fn, parent)
            if calls:
                found.append((calls, chain))
    return found


def _chain(node, nested: dict, parsed, bound: set) -> list | None:
    """``[sg.grad(sg.grad(step, 0), 1), sg.grad(step, 0)]``: the gradients ``node`` takes
    one of another, down to the one of a nested function or lambda, each ``wrt`` a literal;
    None where ``node`` is not such a gradient."""
    chain = []
    while isinstance(node, gast.Call) and node.args and len(node.args) <= 2:
        if not _is_gradient(resolve(parsed, node.func, bound)):
            return None
        wrt = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "wrt")]
        if not all(_literal_positions(w) for w in wrt):
            return None
        chain.append(node)
        made = node.args[0]
        if (isinstance(made, gast.Name) and made.id in nested) or (
            isinstance(made, gast.Lambda) and not _makes_functions(made)
        ):
            return chain
        node = made
    return None


def _calls_of_bound(fn, stmt) -> list:
    """The calls of the name ``stmt`` (``d = transform``) binds, where it binds it once and
    every other use of it is a call in ``fn``'s own body; else none."""
    if not (len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return []
    name = stmt.targets[0].id
    uses = [n for n in S.name_nodes(fn) if n.id == name]
    calls = [
        n
        for n in S.own_scope_nodes(fn)
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == name
    ]
    if len(uses) != len(calls) + 1 or name in S.captured_names(fn):
        return []
    return calls


def _is_gradient(obj) -> bool:
    """Whether ``obj`` is ``sourcegrad.grad`` or ``sourcegrad.value_and_grad``."""
    return getattr(obj, "__module__", None) == "sourcegrad.api" and getattr(
        obj, "__name__", None
    ) in ("grad", "value_and_grad")


def _literal_positions(node) -> bool:
    parts = node.elts if isinstance(node, gast.Tuple) else [node]
    return all(isinstance(p, gast.Constant) and type(p.value) is int for p in parts)


def _shift_wrt(transform, k: int) -> None:
    """``wrt`` of the call ``sg.grad(step, wrt)`` moved ``k`` places on (``wrt=k`` where it
    was left out, its default 0)."""

    def shifted(node):
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[shifted(e) for e in node.elts], ctx=gast.Load())
        return S.const(node.value + k)

    if len(transform.args) == 2:
        transform.args[1] = shifted(transform.args[1])
        return
    given = [kw for kw in transform.keywords if kw.arg == "wrt"]
    if given:
        given[0].value = shifted(given[0].value)
    else:
        transform.keywords.append(gast.keyword(arg="wrt", value=S.const(k)))


def _nested_functions(fn) -> dict:
    """``name -> def or lambda`` of the functions defined in ``fn``'s own statements (any
    nesting of ``if``/``for``/``while``): ``def name`` and ``name = lambda ...``."""
    found: dict = {}

    def visit(block):
        for stmt in block:
            if isinstance(stmt, gast.FunctionDef):
                found[stmt.name] = stmt
            elif (
                isinstance(stmt, gast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], gast.Name)
                and isinstance(stmt.value, gast.Lambda)
            ):
                found[stmt.targets[0].id] = stmt.value
            elif isinstance(stmt, (gast.If, gast.For, gast.While)):
                visit(stmt.body)
                visit(stmt.orelse)

    visit(fn.body)
    return found


def _local_names(fn) -> set:
    """``fn``'s parameters and the names it assigns in its own scope."""
    names = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    todo = list(fn.body)
    while todo:
        node = todo.pop()
        if isinstance(node, gast.FunctionDef):
            names.add(node.name)
            continue
        if isinstance(
            node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
        ):
            continue  # their own scopes: a comprehension's variable is not the function's
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            names.add(node.id)
        todo.extend(gast.iter_child_nodes(node))
    return names


def _body(node) -> list:
    return node.body if isinstance(node, gast.FunctionDef) else [node.body]


def _bound(node) -> set:
    """Names ``node`` (a def or lambda) binds: its parameters, what its body assigns, and
    the parameters of functions inside it (a conservative over-approximation)."""
    args = node.args
    bound = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
    bound |= {a.id for a in (args.vararg, args.kwarg) if a is not None}
    for part in _body(node):
        for n in S.walk(part):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
                bound.add(n.id)
            elif isinstance(n, gast.FunctionDef):
                bound.add(n.name)
    return bound


def free_reads(node) -> set:
    """The names a nested ``def`` or lambda reads from outside itself (what it does not bind)."""
    reads = {
        n.id for part in _body(node) for n in S.name_nodes(part) if isinstance(n.ctx, gast.Load)
    }
    return reads - _bound(node)


def _liftable(fn, nested: dict, differentiated: set) -> set:
    """The nested functions bound once and only ever called by name (or given, as the
    ``Name`` nodes ``differentiated`` hold, to a gradient called at once)."""
    bindings: dict = {}
    called: set = set(differentiated)
    for n in S.walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            bindings[n.id] = bindings.get(n.id, 0) + 1
        elif isinstance(n, gast.FunctionDef) and n is not fn:
            bindings[n.name] = bindings.get(n.name, 0) + 1
        elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name):
            called.add(id(n.func))
    used_otherwise = {
        n.id for n in S.name_nodes(fn) if isinstance(n.ctx, gast.Load) and id(n) not in called
    }
    return {
        name
        for name, node in nested.items()
        if bindings.get(name) == 1
        and name not in used_otherwise
        and not getattr(node, "decorator_list", None)
        and not _makes_functions(node)
    }


def _makes_functions(node) -> bool:
    """Whether a nested function defines functions (which would keep reading its lifted
    arguments after it returns: left as written)."""
    return any(
        isinstance(n, (gast.FunctionDef, gast.Lambda)) for part in _body(node) for n in S.walk(part)
    )


def _captured(nested: dict, direct: dict, liftable: set) -> dict:
    """Each nested function's variables of the enclosing function, with those of the lifted
    functions it calls; a lifted function called where one of its variables is bound to
    something else is not lifted (``liftable`` shrinks in place)."""
    calls = {
        name: {
            c.func.id
            for part in _body(node)
            for c in S.walk(part)
            if isinstance(c, gast.Call) and isinstance(c.func, gast.Name) and c.func.id in nested
        }
        for name, node in nested.items()
    }
    while True:
        captured = {name: set(direct[name]) for name in nested}
        for _ in range(len(nested) + 1):
            for name in nested:
                for callee in calls[name] & liftable:
                    captured[name] |= captured[callee] - {name}
        clash = {
            callee
            for name, node in nested.items()
            for callee in calls[name] & liftable
            if callee != name and captured[callee] & _bound(node)
        }
        if not clash:
            return captured
        liftable -= clash


def _add_parameters(node, names: list) -> None:
    params = [gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None) for n in names]
    if node.args.posonlyargs:
        node.args.posonlyargs = params + node.args.posonlyargs
    else:
        node.args.args = params + node.args.args


def returns_closure(fn) -> bool:
    """Whether the user's function ``fn`` may return a function it defines (``def
    make_block(W): def block(h): ...; return block``, or a lambda): a closure over what it
    was given."""
    if not isinstance(fn, types.FunctionType) or is_installed(fn):
        return False
    found = _RETURNS_CLOSURE.get(fn.__code__)
    if found is None:
        found = _RETURNS_CLOSURE[fn.__code__] = _returns_closure(fn)
    return found


_RETURNS_CLOSURE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # code -> answer


def _returns_closure(fn) -> bool:
    try:
        node = parse(fn).node
    except SourcegradError:
        return False
    return body_returns_closure(node.body)


def body_returns_closure(body: list) -> bool:
    """Whether a function whose body is ``body`` (a lambda's: ``[its expression]``) may
    return a function it defines there, or a lambda."""
    made = {n.name for stmt in body for n in S.walk(stmt) if isinstance(n, gast.FunctionDef)}
    made |= {
        t.id
        for stmt in body
        for n in S.walk(stmt)
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Lambda)
        for t in n.targets
        if isinstance(t, gast.Name)
    }
    if len(body) == 1 and isinstance(body[0], gast.Lambda):
        return True  # make = lambda a: lambda u: a * u
    for stmt in body:
        if isinstance(stmt, S.NESTED_SCOPES):
            continue
        for n in S.own_scope_nodes(stmt):
            if isinstance(n, gast.Return) and n.value is not None:
                if isinstance(n.value, gast.Lambda) or S.names_in(n.value) & made:
                    return True
    return False
