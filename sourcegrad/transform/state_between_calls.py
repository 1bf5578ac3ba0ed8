"""State an object keeps from call to call, read and stored by the function the user
differentiates (part of the lowering of Python's forms).

``h = np.tanh(W @ x + CELL.h); CELL.h = h`` (an RNN cell keeping its hidden state, a
running mean, a step counter ``SCHED.t += 1``, an EMA target ``TARGET.W = 0.9 * TARGET.W +
0.1 * W``): the value the object holds when the call starts is an input of this call (a
constant, unless the object is an argument differentiated), and what the call stores last is
what the object holds after it. :func:`follow_state_between_calls` rewrites the function, in
place, so that the attribute is a local variable: ``CELL_h = CELL.h`` first, each read and
store of ``CELL.h`` one of ``CELL_h``, and ``CELL.h = CELL_h`` before each ``return`` (its
value taken first; a top-level copy ``CELL_h = h`` after which neither name is bound again goes,
``CELL.h = h`` stores the value itself). The derivative then follows the values, and its forward sweep, which
runs once per call, leaves in the object what Python's call leaves.

An object is followed where it is a global or closure variable of the function, or an
argument it never binds anew, and the function reaches it only through its attributes
(no call is given it, no method of it is called: a callee would read the object itself;
a global, no function it calls names it either), and by no other name followed (as the
build's arguments show); an attribute where the function both reads and stores it and the
object holds it on entry.
Reads inside nested functions and lambdas leave the object as it is (they run later).
"""

from __future__ import annotations

import inspect
import sys
import types

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .parse import UNRESOLVED, resolve
from .walk import statement_blocks

__all__ = ["follow_state_between_calls"]


def follow_state_between_calls(fn, parsed, given: dict, names: S.NameGen) -> tuple:
    """Rewrite, in place, ``fn``'s reads and stores of the state the objects it reaches keep
    between calls (see the module); ``given``: parameter -> the example argument the build is
    for. Returns ``((receiver, attribute, line of its first use), ...)`` of what it follows
    (in generated code too: a gradient keeping state, differentiated again by ``sg.hvp``)."""
    _follow_made_objects(fn, parsed, names)
    uses = _uses(fn)
    bound = S.bound_names(fn)
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    followed, objects, numbers = [], {}, set()
    for receiver, (reads, stores, others) in sorted(uses.items()):
        if others:
            continue  # (given to a call, a method called, bound to another name)
        if receiver in params:
            if receiver in _rebound(fn):
                continue
            obj = given.get(receiver, UNRESOLVED)
        elif receiver in bound:
            continue
        else:
            obj = resolve(parsed, S.name(receiver), bound)
            if _reached_by_a_call(fn, parsed, receiver, bound):
                continue  # (a callee reading the global would see the state on entry)
        state = getattr(obj, "__dict__", None)
        if obj is UNRESOLVED or type(state) is not dict:
            continue
        for attr in sorted(reads.keys() & stores.keys() & state.keys()):
            line = min(reads[attr] + stores[attr])
            followed.append((receiver, attr, line))
            if type(state[attr]) in (int, float):  # (`n += 1` a new number: `n = n + 1`)
                numbers.add((receiver, attr))
            objects.setdefault(id(obj), set()).add(receiver)
    shared = {r for names_of in objects.values() if len(names_of) > 1 for r in names_of}
    followed = [f for f in followed if f[0] not in shared]  # (one object, two names: as is)
    if followed:
        _rewrite(fn, followed, names, numbers)
    return tuple(followed)


def _follow_made_objects(fn, parsed, names: S.NameGen) -> None:
    """Rewrite, in place, the attributes ``fn`` both reads and stores on an object it makes
    (``m = Meter()``, the name's one binding, at the top level; the name used otherwise
    only through its attributes, the methods it calls inlined): ``m_total = m.total`` after
    the object is made, each use of ``m.total`` one of ``m_total``. The object dies with
    the call, so nothing is stored back."""
    bound = S.bound_names(fn)
    for receiver, (reads, stores, others) in sorted(_uses(fn).items()):
        attrs = sorted(reads.keys() & stores.keys())
        if not attrs or len(others) != 1 or not isinstance(others[0].ctx, gast.Store):
            continue
        made = [
            i
            for i, stmt in enumerate(fn.body)
            if isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and stmt.targets[0] is others[0]
            and isinstance(stmt.value, gast.Call)
        ]
        cls = resolve(parsed, fn.body[made[0]].value.func, bound) if made else None
        if not (isinstance(cls, type) and _users(cls)):
            continue
        local = {(receiver, a): names.fresh(f"{receiver}_{a}") for a in attrs}
        _replace_attributes(fn, local)
        line = fn.body[made[0]].lineno
        first = [S.assign(local[receiver, a], _attribute(receiver, a), line) for a in attrs]
        for stmt in first:
            stmt.value.state_on_entry = True  # (what the object was made with)
        fn.body[made[0] + 1 : made[0] + 1] = first


def hoist_state_calls(fn, keeps_state, names: S.NameGen) -> None:
    """Give each call ``obj.m(...)`` or ``obj(...)`` inside an expression of a simple
    statement of ``fn`` whose method keeps state from call to call (``keeps_state(call)``),
    a statement of its own just before, ``step = obj.m(...)`` (so that it can be inlined and
    its state followed), in the order Python runs them (``k(k(h))``: the inner call first),
    where Python runs them there too: not under a conditional part (``a if c else b``,
    ``and``/``or``, a comprehension or lambda), the statement reading each such ``obj``
    nowhere else."""
    simple = (gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.AnnAssign)
    for block in statement_blocks(fn.body):
        for i in reversed(range(len(block))):
            stmt = block[i]
            if not isinstance(stmt, simple) or stmt.value is None:
                continue
            hoisted = []
            for call in _inner_state_calls(stmt, keeps_state):
                held = names.fresh(method_of(call).strip("_") or "result")
                _replace(stmt, call, gast.copy_location(S.name(held), call))
                hoisted.append(S.assign(held, call, stmt.lineno))
            block[i:i] = hoisted


def _inner_state_calls(stmt, keeps_state) -> list:
    """The calls in ``stmt``'s value (not the value itself) that :func:`hoist_state_calls`
    gives statements of their own, in the order Python makes them; none where they cannot
    be."""
    conditional = (gast.IfExp, gast.BoolOp, gast.Lambda, *S.NESTED_SCOPES)
    conditional += (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
    found = [
        n
        for n in _in_order(stmt.value)
        if n is not stmt.value
        and isinstance(n, gast.Call)
        and receiver_of(n) is not None
        and keeps_state(n)
    ]
    if not found or any(isinstance(n, conditional) for n in S.walk(stmt)):
        return []
    value = stmt.value
    if isinstance(value, gast.Call) and receiver_of(value) is not None and keeps_state(value):
        found.append(value)  # (`h = k(k(x))`: the outer call is a statement already)
    receivers = {receiver_of(n) for n in found}
    called = {id(n.func.value if isinstance(n.func, gast.Attribute) else n.func) for n in found}
    for n in S.walk(stmt):
        if isinstance(n, gast.Name) and n.id in receivers and id(n) not in called:
            return []
    return [n for n in found if n is not value]


def _in_order(node) -> list:
    """The nodes of the expression ``node``, each after those it is made of (the order
    Python evaluates them in: a call's function and arguments before the call)."""
    out = []
    for field in S.walked_fields(type(node)):
        value = getattr(node, field, None)
        for child in value if type(value) is list else [value]:
            if isinstance(child, gast.AST):
                out.extend(_in_order(child))
    out.append(node)
    return out


def _replace(tree, old, new) -> None:
    for node in S.walk(tree):
        for field in S.walked_fields(type(node)):
            value = getattr(node, field, None)
            if value is old:
                setattr(node, field, new)
            elif type(value) is list and any(v is old for v in value):
                value[[id(v) for v in value].index(id(old))] = new


def _reached_by_a_call(fn, parsed, receiver: str, bound: set) -> bool:
    """Whether a call in ``fn`` may read the global ``receiver`` itself: a function or
    method of the user's whose code (or the code of the user's functions and classes it
    names) names it; a method of an object not known, any class's of that name among the
    module's."""
    seen: set = set()
    for call in S.nodes_of(fn, (gast.Call,)):
        found = resolve(parsed, call.func, bound)
        if found is UNRESOLVED and isinstance(call.func, gast.Attribute):
            classes = [v for v in list(parsed.globals.values()) if isinstance(v, type)]
            found = [vars(c).get(call.func.attr) for c in classes]
        for target in found if isinstance(found, list) else [found]:
            if _names(target, receiver, seen):
                return True
    return False


def _names(target, name: str, seen: set) -> bool:
    """Whether the code of ``target`` (a function, method, class or callable object of the
    user's), or of the functions and classes it names in its globals, names ``name``."""
    target = getattr(target, "__func__", target)
    if not isinstance(target, (types.FunctionType, type)):
        target = inspect.getattr_static(type(target), "__call__", None)
    if not _users(target):
        return False
    if isinstance(target, type):
        members = [v for v in vars(target).values() if isinstance(v, types.FunctionType)]
        return any(_names(m, name, seen) for m in members)
    if target.__code__ in seen:
        return False
    seen.add(target.__code__)
    codes = [target.__code__]
    for code in codes:
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    names = {n for code in codes for n in code.co_names}
    return name in names or any(_names(target.__globals__.get(n), name, seen) for n in names)


def _users(value) -> bool:
    """Whether ``value`` is a function or class of the user's (not a library's)."""
    if not isinstance(value, (types.FunctionType, type)):
        return False
    top = (getattr(value, "__module__", "") or "").split(".")[0]
    return top not in _LIBRARIES and top not in sys.stdlib_module_names


#: the packages whose functions read no global object of the user's
_LIBRARIES = {"numpy", "scipy", "sourcegrad", "builtins", "gast"}


def calls_on(fn, receiver: str) -> list | None:
    """The calls ``receiver.m(...)`` in ``fn``, where the function reaches ``receiver``
    otherwise only through its attributes (where its state can be followed once these
    calls are inlined); None where it does otherwise (given to a call, bound, nested)."""
    if receiver not in _rebound(fn):
        uses = _uses(fn, every=True).get(receiver)
        if uses is None or all(isinstance(n.ctx, gast.Load) for n in uses[2]):
            calls = [
                n for n in S.walk(fn) if isinstance(n, gast.Call) and receiver_of(n) == receiver
            ]
            if len(calls) == len(uses[2] if uses else ()):
                return calls
    return None


def receiver_of(call) -> str | None:
    """``obj`` of a call ``obj.m(...)`` or ``obj(...)`` (its ``__call__``), else None."""
    func = call.func
    func = func.value if isinstance(func, gast.Attribute) else func
    return func.id if isinstance(func, gast.Name) else None


def method_of(call) -> str:
    """``m`` of a call ``obj.m(...)``; ``__call__`` of ``obj(...)``."""
    return call.func.attr if isinstance(call.func, gast.Attribute) else "__call__"


def _uses(fn, every: bool = False) -> dict:
    """receiver name -> ({attribute read: [lines]}, {attribute stored: [lines]}, the uses of
    the name otherwise), for the names whose attributes ``fn`` reads or stores in its own
    scope (``every``: for every name)."""
    nested = [d for d in S.walk(fn) if d is not fn and isinstance(d, S.NESTED_SCOPES)]
    inner = {id(n) for d in nested for n in S.walk(d)}
    updated = {id(n.target) for n in S.walk(fn) if isinstance(n, gast.AugAssign)}
    attribute_of = {}  # id of a Name -> its Attribute
    called = set()  # ids of the Attributes that are a call's function
    for n in S.walk(fn):
        if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name):
            attribute_of[id(n.value)] = n
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            called.add(id(n.func))
    uses: dict = {}
    for n in S.walk(fn):
        if not isinstance(n, gast.Name) or isinstance(n.ctx, gast.Param):
            continue
        attr = attribute_of.get(id(n))
        entry = uses.setdefault(n.id, ({}, {}, []))
        if attr is None or id(attr) in called or id(n) in inner or id(attr) in inner:
            entry[2].append(n)
        elif isinstance(attr.ctx, gast.Load):
            entry[0].setdefault(attr.attr, []).append(getattr(attr, "lineno", fn.lineno))
        elif isinstance(attr.ctx, gast.Store):
            line = getattr(attr, "lineno", fn.lineno)
            entry[1].setdefault(attr.attr, []).append(line)
            if id(attr) in updated:  # (`obj.n += 1` reads it first)
                entry[0].setdefault(attr.attr, []).append(line)
        else:
            entry[2].append(n)  # (`del obj.attr`)
    return {k: v for k, v in uses.items() if v[0] or v[1] or every}


def _rebound(fn) -> set:
    return {n.id for n in S.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _rewrite(fn, followed: list, names: S.NameGen, numbers: set) -> None:
    """``obj_attr = obj.attr`` first, each use of ``obj.attr`` one of ``obj_attr``, and
    ``obj.attr = obj_attr`` before each ``return``; an update of what held a number on
    entry (``numbers``) made a new number, ``obj_attr = obj_attr + v``."""
    local = {(r, a): names.fresh(f"{r}_{a}") for r, a, _ in followed}
    _new_numbers(fn, numbers)
    _replace_attributes(fn, local)
    line = min(line for _, _, line in followed)
    first = [S.assign(local[r, a], _attribute(r, a), line) for r, a, _ in followed]
    for stmt in first:
        stmt.value.state_on_entry = True  # (no read of state an earlier store left)
    at = 1 if fn.body and _is_docstring(fn.body[0]) else 0
    _store_before_returns(fn.body, local, names)
    fn.body[at:at] = first
    _drop_copies(fn.body, set(local.values()))


def _new_numbers(fn, numbers: set) -> None:
    """Each update ``obj.attr += v`` of ``fn``, ``(obj, attr)`` in ``numbers``, made
    ``obj.attr = obj.attr + v`` (a number is never changed in place: the same value)."""
    for block in statement_blocks(fn.body):
        for i, stmt in enumerate(block):
            key = _key(getattr(stmt, "target", None)) if isinstance(stmt, gast.AugAssign) else None
            if key not in numbers:
                continue
            value = gast.BinOp(left=_attribute(*key), op=stmt.op, right=stmt.value)
            new = gast.Assign(targets=[stmt.target], value=gast.copy_location(value, stmt))
            new.type_comment = None
            block[i] = gast.copy_location(new, stmt)


def _replace_attributes(fn, local: dict) -> None:
    """Each use of ``obj.attr`` in ``fn`` (a read or a store) one of the name ``local``
    gives ``(obj, attr)``."""
    for node in S.walk(fn):
        for field in S.walked_fields(type(node)):
            value = getattr(node, field, None)
            items = value if type(value) is list else [value]
            for i, child in enumerate(items):
                key = _key(child)
                if key not in local:
                    continue
                new = gast.copy_location(S.name(local[key], store=_stored(child)), child)
                if type(value) is list:
                    value[i] = new
                else:
                    setattr(node, field, new)


def _drop_copies(body: list, local: set) -> None:
    """Drop each top-level ``obj_attr = name`` (``obj.attr = h`` of a value the function
    names) after which neither name is bound again, reading ``name`` for ``obj_attr`` in the
    statements that follow: ``obj.attr = h`` before the return, not a copy of ``h``."""
    i = 0
    while i < len(body):
        stmt, rest = body[i], body[i + 1 :]
        copied = getattr(stmt, "value", None)
        if (
            isinstance(stmt, gast.Assign)
            and len(stmt.targets) == 1
            and getattr(stmt.targets[0], "id", None) in local
            and isinstance(copied, gast.Name)
            and not {stmt.targets[0].id, copied.id} & {n for s in rest for n in _bound_in(s)}
        ):
            del body[i]
            for later in rest:
                S.rename(later, {stmt.targets[0].id: copied})
            continue
        i += 1


def _bound_in(stmt) -> set:
    return {n.id for n in S.walk(stmt) if isinstance(n, gast.Name) and not _loaded(n)}


def _loaded(node) -> bool:
    return isinstance(node.ctx, gast.Load)


def _store_before_returns(body: list, local: dict, names: S.NameGen) -> None:
    """``obj.attr = obj_attr`` before each ``return`` of ``body`` (not of nested functions),
    the returned value taken first where it is not a name or a constant."""
    for block in statement_blocks(body):
        for i in reversed(range(len(block))):
            stmt = block[i]
            if not isinstance(stmt, gast.Return):
                continue
            before = []
            if stmt.value is not None and not isinstance(stmt.value, (gast.Name, gast.Constant)):
                held = names.fresh("result")
                before.append(S.assign(held, stmt.value, stmt.lineno))
                stmt.value = gast.copy_location(S.name(held), stmt.value)
            for (r, a), name in local.items():
                store = gast.Assign(targets=[_attribute(r, a, store=True)], value=S.name(name))
                store.type_comment = None
                before.append(gast.copy_location(store, stmt))
            block[i:i] = before


def _key(node):
    if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name):
        return node.value.id, node.attr
    return None


def _stored(node) -> bool:
    return isinstance(node.ctx, gast.Store)


def _attribute(receiver: str, attr: str, store: bool = False):
    ctx = gast.Store() if store else gast.Load()
    return gast.Attribute(value=S.name(receiver), attr=attr, ctx=ctx)


def _is_docstring(stmt) -> bool:
    return isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)


def refuse_state_in_callee(core) -> None:
    """Refuse the build of a function that keeps state between calls (``core.kept_state``)
    for a function being differentiated that calls it: the caller's derivative may run its
    forward pass again (in a loop's adjoint, a second-order derivative), which would start
    from the state the first run left."""
    if not core.kept_state or core.parsed.filename.startswith("<sourcegrad"):
        return  # (a gradient's code, run once per call by the forward mode over it)
    receiver, attr, line = core.kept_state[0]
    name = core.node.name
    way_out = f"read and store `{receiver}.{attr}` in the function you differentiate"
    method = "." in getattr(core.parsed.fn, "__qualname__", name).split("<locals>.")[-1]
    if core.params[:1] == [receiver] and not method:  # (a helper given the object)
        way_out = (
            f"call it as a statement of its own (`y = {name}({receiver}, ...)`, not under a "
            f"condition, {name}() returning once, at its end), where sourcegrad puts its body "
            "in place of the call and follows the state"
        )
    elif core.params[:1] == [receiver]:  # (a method's `self`: its body can be followed there)
        call = "obj(...)" if name == "__call__" else f"obj.{name}(...)"
        way_out = (
            f"call it as a statement of its own (`y = {call}`) on an object held by a name "
            "(made in or outside the function you differentiate; not an item of a list or dict "
            "taken in a loop, whose state is not followed), where sourcegrad follows the state; "
            "keep the value in a local variable"
        )
    raise UnsupportedSyntaxError(
        f"{name}() keeps state in `{receiver}.{attr}` from call to call, and a function being "
        f"differentiated calls it: its derivative may run {name}() again, which would start "
        f"from the state the first run left; {way_out}, or pass the state to {name}() and "
        "return the new state",
        core.parsed.filename,
        line,
    )
