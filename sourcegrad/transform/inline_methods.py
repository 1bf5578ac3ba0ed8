"""Methods called for what they keep in their object, inlined at the call (part of the
lowering of Python's forms).

``self.forward(x)`` where ``forward`` stores ``self.probs = softmax(...)``, and the caller
reads ``self.probs`` after: the derivative follows values, not an object's state, so the
method's body is put in place of the call. ``self`` becomes the receiver, each parameter
the argument's name or constant (or a fresh name bound to the argument, in Python's order of
evaluation), each local of the method a fresh name, and its final ``return v`` an
assignment of ``v`` to the call's target. The stores on the object become the caller's own
stores on the receiver (run as written: Python's object holds what it holds after the call),
which :func:`~.own_attributes.read_own_stores` then follows as values. The statements keep
the method's lines (same file), so comments and errors quote them.

A call (a statement ``obj.m(...)``, ``t = obj.m(...)`` or ``return obj.m(...)``) is inlined
where its receiver is a name whose class is known (an argument's, or one the function
makes), the method (or a method of ``self`` it calls) stores a value into ``self`` that the
caller reads elsewhere (or the method reads what an inlined call stored), it does not update
what ``self`` held before the call (``self.n += v``), and its body is one that can be inlined
(same module, not recursive, one ``return`` at its end, no ``yield``, ``try`` or nested
``def``); where it cannot, :func:`obstacle` says why (the refusal of the analysis quotes it).
Calls of helpers and methods writing into the caller's names (:mod:`.inline_helpers`) are
inlined the same way, their statements at the call's line.
"""

from __future__ import annotations

import inspect
import types

import gast

from ..errors import SourcegradError
from . import syntax as S
from .inline_helpers import (
    helper_writing_arguments,
    mark_helper_updates,
    writes_given,
    written_parameters,
)
from .parse import UNRESOLVED, parse, resolve
from .self_state import (
    accumulates,
    helper_keeping_state,
    keeps_state_between_calls,
    self_attributes,
)
from .state_between_calls import calls_on, hoist_state_calls, method_of, receiver_of
from .walk import statement_blocks

__all__ = ["followed_reads", "inline_effect_methods", "obstacle"]
__all__ += ["inline_writing_helpers"]

#: (filename, line of the call, method name) -> why that call was not inlined
_OBSTACLES: dict = {}
_MOST = 64  # inlined calls per function (a bound on a chain of methods calling methods)


def obstacle(filename: str, lineno: int, method: str) -> str | None:
    """Why the call of ``method`` at ``filename:lineno`` was not inlined; None where it was
    not asked about."""
    return _OBSTACLES.get((filename, lineno, method))


def inline_effect_methods(fn, parsed, class_of, names: S.NameGen, arrays=None) -> tuple:
    """Inline, in place in ``fn``, the calls of methods whose stores into ``self`` ``fn``
    reads (see the module), and of helpers and methods writing into the arguments they are
    given (:mod:`.inline_helpers`); ``class_of(name)``: the class of the object a name of
    ``fn`` holds, or None; ``arrays(fn, name, stmt)``: whether the name surely holds an
    array where the statement ``stmt`` of ``fn`` runs. Returns ({receiver: the attributes
    the inlined statements store on it}, the statements inlined)."""
    if parsed.filename.startswith("<sourcegrad"):
        return {}, []  # (generated code: what it stores it reads as values already)
    inliner = _Inliner(fn, parsed, class_of, names)
    inliner.arrays = arrays or (lambda tree, name, stmt: False)
    hoist_state_calls(fn, inliner.keeps_state, names)
    for _ in range(_MOST):
        if not inliner.once():
            break
    return inliner.kept, inliner.inserted


def inline_writing_helpers(parsed):
    """A copy of ``parsed``'s function with the calls of helpers writing into its names
    inlined as :func:`inline_effect_methods` inlines them where no class is known (the
    writes into the function's arguments that the derivative leaves in the caller's objects
    are read from it); kept on ``parsed``."""
    if parsed.helpers_inlined is None:
        fn = S.clone(parsed.node)
        names = S.NameGen(S.names_in(fn) | set(parsed.closure))
        # (an update of an argument given the function's own: its write, whatever it holds)
        inline_effect_methods(fn, parsed, lambda name: None, names, lambda *given: True)
        parsed.helpers_inlined = fn
    return parsed.helpers_inlined


class _Inliner:
    def __init__(self, fn, parsed, class_of, names):
        self.fn, self.parsed, self.class_of, self.names = fn, parsed, class_of, names
        self.kept: dict = {}  # receiver -> attributes inlined statements store on it
        self.inserted: list = []  # the statements put in place of calls
        self.stateful: dict = {}  # (receiver, method) -> whether it keeps state

    def once(self) -> bool:
        """Inline the first call that needs it; whether there was one."""
        for block in statement_blocks(self.fn.body):
            for i, stmt in enumerate(block):
                found = self.candidate(stmt)
                if found is None:
                    continue
                body = self.inlined(stmt, *found)
                if body is not None:
                    block[i : i + 1] = body
                    hoist_state_calls(self.fn, self.keeps_state, self.names)  # (a helper's)
                    return True
        return False

    def candidate(self, stmt):
        """``(call, function, receiver, attributes it stores in self, whether it writes into
        what the call gives it)`` where ``stmt`` calls a method whose stores into ``self`` the
        function reads (or which reads what an inlined call stored), or a helper or method
        writing into the caller's names (:mod:`.inline_helpers`); ``receiver``: the node
        standing for ``self`` (None for a helper)."""
        call = _call_of(stmt)
        if call is None:
            return None
        if isinstance(call.func, gast.Name):
            helper = helper_writing_arguments(self.parsed, self.fn, stmt, call)
            if helper is not None:
                return call, helper, None, set(), True
            helper = self.helper_keeping_state(call)
            if helper is not None:  # (the state call inlined becomes the caller's own)
                return call, helper, None, set(), False
            receiver, name = call.func, "__call__"  # (`layer(h)` of an object)
        elif isinstance(call.func, gast.Attribute):
            receiver, name = call.func.value, call.func.attr
        else:
            return None
        cls = self.class_of(receiver.id if isinstance(receiver, gast.Name) else receiver)
        if cls is None and isinstance(receiver, gast.Name):
            cls = _global_class(self.parsed, self.fn, receiver)
            named = False  # (a global object: its writes alone)
        else:
            named = isinstance(receiver, gast.Name) and name != "__call__"
        method = inspect.getattr_static(cls, name, None) if cls is not None else None
        if not isinstance(method, types.FunctionType):
            return None
        stores, reads = self_attributes(method)
        between_calls = stores is not None and accumulates(method)
        made_here = between_calls and self.made_here(receiver, cls)
        if stores is None or (between_calls and not made_here and not self.followed(receiver, cls)):
            return None  # (`self.n += v` on an object kept elsewhere: refused by the analysis)
        init = inspect.getattr_static(cls, "__init__", None)
        if isinstance(init, types.FunctionType) and name in (self_attributes(init)[0] or ()):
            return None  # (`self.forward = ...` in __init__: the object's own, not the class's)
        stores = stores | _stored_through(cls, method, {method.__name__})
        writes = writes_given(method, (self.fn, stmt, call), 1)
        if between_calls:  # (its state followed as values: :mod:`.state_between_calls`; an
            # object made here dies with the call: its updates are the caller's stores)
            return call, method, receiver, stores, writes
        if not named:  # (`blocks[0].inner(buf)`, `layer(h)`: its writes alone)
            return (call, method, receiver, stores, writes) if writes and not stores else None
        if not (stores & self.read_after(stmt, receiver.id) or reads & self.kept_on(receiver)):
            if not writes:
                return None
        return call, method, receiver, stores, writes

    def helper_keeping_state(self, call):
        """The helper of the same module ``call`` runs, where it calls a method keeping state
        on what it is given or on a global object (:func:`~.self_state.helper_keeping_state`);
        else None."""
        local = S.bound_names(self.fn) | set(self.parsed.closure)
        if call.func.id in local:
            return None
        function = resolve(self.parsed, call.func, local)
        if not isinstance(function, types.FunctionType):
            return None
        if function.__globals__ is not self.parsed.globals:
            return None

        def class_of(arg):
            if isinstance(arg, gast.Name) and arg.id not in local:
                return _global_class(self.parsed, self.fn, arg)
            return self.class_of(arg.id if isinstance(arg, gast.Name) else arg)

        return function if helper_keeping_state(function, call, class_of) else None

    def keeps_state(self, call) -> bool:
        """Whether ``call`` is ``obj.m(...)`` of a method keeping state in ``obj`` from call
        to call (``self.h = f(self.h)``, ``self.t += 1``), any method of an object the
        function makes (:meth:`made_here`) whose class has such a method, or a helper making
        such a call (:meth:`helper_keeping_state`)."""
        if isinstance(call.func, gast.Name) and self.helper_keeping_state(call) is not None:
            return True  # (`apply(LAYER, h)`: its state call inlined with it)
        key = (receiver_of(call), method_of(call))
        if key not in self.stateful:  # (asked once per receiver and method)
            receiver = S.name(key[0])
            cls = self.class_of(receiver.id) or _global_class(self.parsed, self.fn, receiver)
            method = inspect.getattr_static(cls, key[1], None) if cls else None
            function = isinstance(method, types.FunctionType)
            stores = self_attributes(method)[0] if function else None
            kept = stores is not None and accumulates(method)
            # (any method of an object made here that keeps state: its reads follow it)
            made = function and self.made_here(receiver, cls) and keeps_state_between_calls(cls)
            self.stateful[key] = kept or made
        return self.stateful[key]

    def made_here(self, receiver, cls) -> bool:
        """Whether ``receiver`` names an object the function makes, ``obj = Cls(...)``, its
        one binding, and reaches only through its attributes and methods (its state lives
        only while the function runs, and no callee sees it)."""
        if not isinstance(receiver, gast.Name):
            return False
        held = {id(n.value) for n in S.walk(self.fn) if isinstance(n, gast.Attribute)}
        held |= {id(n.func) for n in S.walk(self.fn) if isinstance(n, gast.Call)}  # (`k(h)`)
        reads = [n for n in S.name_nodes(self.fn) if n.id == receiver.id]
        if any(isinstance(n.ctx, gast.Load) and id(n) not in held for n in reads):
            return False
        bound = [
            n
            for n in S.walk(self.fn)
            if isinstance(n, gast.Name) and n.id == receiver.id and not isinstance(n.ctx, gast.Load)
        ]
        made = [
            n.value
            for n in S.walk(self.fn)
            if isinstance(n, gast.Assign)
            and [getattr(t, "id", None) for t in n.targets] == [receiver.id]
        ]
        return (
            len(bound) == 1
            and len(made) == 1
            and isinstance(made[0], gast.Call)
            and resolve(self.parsed, made[0].func, S.bound_names(self.fn)) is cls
        )

    def followed(self, receiver, cls) -> bool:
        """Whether the state ``receiver`` keeps from call to call can be followed once its
        methods are inlined (:mod:`.state_between_calls`): an object the function does not
        make nor bind, reached only through its attributes and calls, as statements, of
        methods keeping state."""
        calls = calls_on(self.fn, receiver.id) if isinstance(receiver, gast.Name) else None
        if calls is None:
            return False
        statements = {id(_call_of(s)) for block in statement_blocks(self.fn.body) for s in block}
        for call in calls:
            method = inspect.getattr_static(cls, method_of(call), None)
            if id(call) not in statements or not isinstance(method, types.FunctionType):
                return False
            if self_attributes(method)[0] is None or not accumulates(method):
                return False
        return True

    def read_after(self, stmt, receiver: str) -> set:
        """The attributes of ``receiver`` the function reads outside ``stmt``."""
        inside = {id(n) for n in S.walk(stmt)}
        return {
            n.attr
            for n in S.walk(self.fn)
            if isinstance(n, gast.Attribute)
            and isinstance(n.ctx, gast.Load)
            and isinstance(n.value, gast.Name)
            and n.value.id == receiver
            and id(n) not in inside
        }

    def kept_on(self, receiver) -> set:
        return self.kept.get(receiver.id, set())

    def inlined(self, stmt, call, method, receiver, stores, writes: bool) -> list | None:
        """The statements that replace ``stmt``; None (the reason kept for the refusal)
        where the method cannot be inlined. Where it ``writes`` into what the call gives it,
        the statements take the call's line: the links between names are ordered by line."""
        skipped = int(receiver is not None)  # (a method's `self`)
        chain = getattr(stmt, "inlined_from", ())
        why = _refusal(method, call, self.parsed, chain)
        node = None
        if why is None:
            node = S.clone(parse(method).node)
            why = _body_refusal(node, method, self.fn, self.parsed, skipped)
        key = (self.parsed.filename, stmt.lineno, method.__name__)
        if why is not None:
            _OBSTACLES[key] = why
            return None
        at = (stmt.lineno, skipped, lambda name: self.arrays(self.fn, name, stmt))
        bindings, substitute = _bind(method, node, call, self.names, at)
        if bindings is None:
            _OBSTACLES[key] = substitute
            return None
        given = {b.targets[0].id: b.value for b in bindings}  # (a fresh name: its argument)
        fresh = {p: given[v] for p, v in substitute.items() if isinstance(v, str) and v in given}
        mark_helper_updates(node.body, method, stmt, fresh)
        if skipped and not isinstance(receiver, gast.Name):  # (bound once, first)
            held = self.names.fresh(method.__name__.strip("_") or "receiver")
            bindings.insert(0, S.assign(held, receiver, stmt.lineno))
            substitute[node.args.args[0].id] = S.name(held)
        elif skipped:
            substitute[node.args.args[0].id] = S.name(receiver.id)
            self.kept.setdefault(receiver.id, set()).update(stores)
        body = _renamed(node, substitute, self.names)
        updated = {v for v in substitute.values() if isinstance(v, str)} & S.bound_names(self.fn)
        body = bindings + _final(body, stmt, call, self.names, updated if writes else None)
        for s in body:
            for n in S.walk(s):
                if isinstance(n, gast.stmt):
                    n.inlined_from = (*chain, method)
                if writes and hasattr(n, "lineno"):
                    n.lineno = n.end_lineno = stmt.lineno
        self.parsed.lines.update(parse(method).lines)
        self.inserted.extend(S.clone(s) for s in body)  # (as written: lowering rewrites them)
        return body


def _global_class(parsed, fn, name):
    """The class of the user's of the global object ``name`` reads (``SCALED`` of ``SCALED =
    Scaled(2.0)``); None for another name."""
    if name.id in S.bound_names(fn) or name.id in parsed.closure:
        return None
    found = resolve(parsed, name, set())
    cls = type(found)
    if found is UNRESOLVED or isinstance(found, (type, types.FunctionType, types.ModuleType)):
        return None
    return cls if cls.__module__ == getattr(parsed.fn, "__module__", None) else None


def followed_reads(fn, kept: dict) -> frozenset:
    """``(receiver, attribute)`` of what inlined calls stored (``kept``, from
    :func:`inline_effect_methods`) that ``fn`` no longer reads from the object (each read
    follows the value: :func:`~.own_attributes.read_own_stores` has run)."""
    if not kept:
        return frozenset()
    left = {
        (n.value.id, n.attr)
        for n in S.walk(fn)
        if isinstance(n, gast.Attribute)
        and isinstance(n.ctx, gast.Load)
        and isinstance(n.value, gast.Name)
    }
    return frozenset((r, a) for r, attrs in kept.items() for a in attrs if (r, a) not in left)


def _call_of(stmt):
    """The call ``stmt`` is: ``obj.m(...)``, ``t = obj.m(...)``, ``return obj.m(...)``."""
    if isinstance(stmt, gast.Expr) or (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        value = stmt.value
    elif isinstance(stmt, gast.Return):
        value = stmt.value
    else:
        return None
    return value if isinstance(value, gast.Call) else None


def _stored_through(cls, method, seen: set) -> set:
    """What the methods of ``self`` that ``method`` calls (and those they call) store in
    ``self``."""
    try:
        node = parse(method).node
    except (SourcegradError, OSError, TypeError):
        return set()
    me = node.args.args[0].id if node.args.args else None
    out: set = set()
    for n in S.walk(node):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)):
            continue
        if getattr(n.func.value, "id", None) != me or n.func.attr in seen:
            continue
        seen.add(n.func.attr)
        inner = inspect.getattr_static(cls, n.func.attr, None)
        if isinstance(inner, types.FunctionType):
            out |= (self_attributes(inner)[0] or set()) | _stored_through(cls, inner, seen)
    return out


def _refusal(method, call, parsed, chain) -> str | None:
    """Why ``method`` cannot be inlined into ``parsed``'s function, before reading its
    body."""
    name = method.__name__
    if method in chain or any(m.__code__ is method.__code__ for m in chain):
        return f"{name}() calls itself (through its own methods): it is recursive"
    if method.__code__.co_filename != parsed.filename or method.__globals__ is not parsed.globals:
        return f"{name}() is defined in another file ({method.__code__.co_filename})"
    if any(isinstance(n, gast.NamedExpr) for n in S.walk(call)):
        return f"the call of {name}() assigns a name in its arguments (`:=`)"
    if method.__code__.co_freevars:
        return f"{name}() reads variables of an enclosing function (or calls super())"
    if any(isinstance(a, gast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return f"the call of {name}() spreads its arguments (`*args`, `**kwargs`)"
    return None


def _body_refusal(node, method, fn, parsed, skipped: int) -> str | None:
    """Why the body of ``node`` (the method's, ``skipped`` 1; a function's: 0) cannot be
    inlined into ``fn``."""
    name = method.__name__
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        return f"{name}() takes *args, **kwargs or keyword-only arguments"
    if len(args.args) < skipped:
        return f"{name}() takes no `self`"
    me = args.args[0].id if skipped else None
    returns = [n for n in S.own_scope_nodes(node) if isinstance(n, gast.Return)]
    if any(r is not node.body[-1] for r in returns):
        return f"{name}() returns other than once, at its end"
    for n in S.walk(node):
        if isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)):
            return f"{name}() is a generator (it yields)"
        if isinstance(n, gast.Try):
            return f"{name}() has a `try` block"
        if n is not node and isinstance(n, S.NESTED_SCOPES):
            return f"{name}() defines a function or class of its own"
        if isinstance(n, (gast.Global, gast.Nonlocal)):
            return f"{name}() declares global or nonlocal names"
        if isinstance(n, gast.Name) and n.id == me and isinstance(n.ctx, (gast.Store, gast.Del)):
            return f"{name}() binds `{me}` to another object"
        if isinstance(n, gast.Attribute) and n.attr == method.__name__:
            if isinstance(n.value, gast.Name) and n.value.id == me:
                return f"{name}() calls itself: it is recursive"
    for p in sorted(written_parameters(method) & _rebound(node.body)):
        return f"{name}() writes into its parameter `{p}` and binds `{p}` to another object"
    local = S.bound_names(node)
    caller = S.bound_names(fn) | set(parsed.closure)
    shadowed = sorted({n for n in S.loaded_names(node) if n not in local} & caller)
    if shadowed:
        return f"{name}() reads the global `{shadowed[0]}`, a local variable of the caller"
    return None


def _bind(method, node, call, names, at: tuple):
    """``(statements binding parameters to the call's arguments, parameter -> the node that
    stands for it in the body)``; ``(None, why)`` where a parameter is not bound so. ``at``:
    the call's line, the parameters it does not give (1: a method's ``self``) and
    ``arrays(name)``, whether a name of the caller's surely holds an array (a parameter only
    updated, ``a *= 0.5``, given one is that name: the update writes into it)."""
    lineno, skipped, arrays = at
    params = [a.id for a in node.args.args[skipped:]]
    try:
        bound = inspect.signature(method).bind(
            *[None] * skipped, *call.args, **{k.arg: k.value for k in call.keywords}
        )
    except TypeError as exc:
        return None, f"its call does not match {method.__name__}()'s parameters ({exc})"
    stored = S.bound_names(gast.Module(body=node.body, type_ignores=[]))
    param_of = {id(v): p for p, v in bound.arguments.items()}
    bindings, substitute = [], {}
    for arg in [*call.args, *(k.value for k in call.keywords)]:  # (in Python's order)
        if not isinstance(arg, (gast.Constant, gast.Name)) and id(arg) in param_of:
            p = param_of[id(arg)]
            substitute[p] = names.fresh(p)
            bindings.append(S.assign(substitute[p], arg, lineno))
    for p in params:
        if p in substitute:
            continue
        if p in bound.arguments:
            arg = bound.arguments[p]
        else:
            default = inspect.signature(method).parameters[p].default
            if not (default is None or isinstance(default, (bool, int, float, str))):
                return None, f"{method.__name__}() has a default for `{p}` that is not a constant"
            arg = S.const(default)
        if p not in stored:
            substitute[p] = arg  # (an atom, read as it is: the body binds neither name)
        elif isinstance(arg, gast.Name) and p in _updated_only(node.body) and arrays(arg.id):
            substitute[p] = arg.id  # (`z *= 0.5`: the same array, written in place)
        else:
            substitute[p] = names.fresh(p)
            bindings.append(S.assign(substitute[p], arg, lineno))
    return bindings, substitute


def _updated_only(body) -> set:
    """The names ``body`` binds by updates alone (``a *= 0.5``)."""
    tree = gast.Module(body=body, type_ignores=[])
    updated = {id(n.target) for n in S.walk(tree) if isinstance(n, gast.AugAssign)}
    names = [n for n in S.name_nodes(tree) if isinstance(n.ctx, (gast.Store, gast.Del))]
    return {n.id for n in names if id(n) in updated} - {n.id for n in names if id(n) not in updated}


def _rebound(body) -> set:
    """The names ``body`` binds other than by updates (``a = a * 2``, not ``a *= 2``)."""
    tree = gast.Module(body=body, type_ignores=[])
    updated = {id(n.target) for n in S.walk(tree) if isinstance(n, gast.AugAssign)}
    stored = [n for n in S.name_nodes(tree) if isinstance(n.ctx, (gast.Store, gast.Del))]
    return {n.id for n in stored if id(n) not in updated}


def _renamed(node, substitute: dict, names) -> list:
    """The method's body, its parameters replaced per ``substitute`` (by a node, or renamed
    to the fresh name bound to the argument) and its other locals renamed fresh."""
    body = node.body
    local = S.bound_names(gast.Module(body=body, type_ignores=[])) - set(substitute)
    fresh = {n: names.fresh(n) for n in sorted(local)}
    fresh.update({p: v for p, v in substitute.items() if isinstance(v, str)})
    substitute = {p: v for p, v in substitute.items() if not isinstance(v, str)}
    for n in S.name_nodes(gast.Module(body=body, type_ignores=[])):
        if n.id in fresh:
            n.id = fresh[n.id]
    wrapper = gast.Module(body=body, type_ignores=[])
    S.rename(wrapper, substitute)
    return wrapper.body


def _final(body: list, stmt, call, names, writes=None) -> list:
    """``body`` with its final ``return v`` given to what ``stmt`` does with the call's
    value; ``writes``: where the body writes into what the call gives it, the caller's names
    its parameters stand for (:func:`_same_object_first`)."""
    last = body[-1] if body and isinstance(body[-1], gast.Return) else None
    if last is not None:
        body = body[:-1]
    value = last.value if last is not None and last.value is not None else S.const(None)
    line = last.lineno if last is not None else stmt.lineno
    if isinstance(stmt, gast.Assign):
        out = gast.copy_location(gast.Assign(stmt.targets, value, None), _at(line))
        first = writes is not None and _same_object_first(body, stmt, call, (value, writes))
        return [out, *body] if first else [*body, out]
    if isinstance(stmt, gast.Return):
        held = names.fresh(_called_name(call))
        out = S.assign(held, value, line)
        return [*body, out, gast.copy_location(gast.Return(S.name(held)), stmt)]
    if any(isinstance(n, gast.Call) for n in S.walk(value)):
        return [*body, S.assign(names.fresh(_called_name(call)), value, line)]
    return body


def _same_object_first(body: list, stmt, call, returned: tuple) -> bool:
    """Whether ``w = z`` of ``w = setrow(z, v)`` (the helper returning its argument, the
    caller's name ``z``, which its body never binds, or only updates where ``returned``'s
    names say it surely holds an array: ``z *= 0.5``) may come before the body: ``w`` is the
    same object the body writes into either way, and a link made before the writes is
    followed (the inlined statements share the call's line, where a link counts as made
    first). Not where ``w`` is read or bound in the call or the body."""
    value, updated = returned
    if not isinstance(value, gast.Name):
        return False
    held = gast.Module(body=body, type_ignores=[])
    targets = {n.id for t in stmt.targets for n in S.name_nodes(t)}
    used = S.names_in(held) | S.names_in(call)
    bound = value.id in S.bound_names(held) and value.id not in updated & _updated_only(body)
    return not bound and not targets & used


def _called_name(call) -> str:
    return call.func.attr if isinstance(call.func, gast.Attribute) else call.func.id


def _at(line: int):
    node = gast.Pass()
    node.lineno, node.col_offset = line, 0
    node.end_lineno, node.end_col_offset = line, 0
    return node
