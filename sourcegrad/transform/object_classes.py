"""The class of an object a function holds, and what a method of it stores into ``self``
(read by the analysis pass's checks of methods called for their effect)."""

from __future__ import annotations

import inspect
import os
import threading
import types
from contextlib import contextmanager

import gast

from ..errors import SourcegradError
from . import syntax as S
from .asked_once import cut_short, remembered
from .calls import example_value
from .helper_results import helper_results
from .in_place import MUTATORS
from .parse import UNRESOLVED, parse, resolve
from .walk import walk_statements


def class_of(core, ops: dict, name: str):
    """The class of the object ``name`` holds: an argument's, or the class whose call made it
    in the function; None where not known."""
    example = example_value(core, name)
    if example is not UNRESOLVED and _user_class(type(example)):
        return type(example)
    for stmt in _assignments(core, name):
        op = ops.get(id(stmt))
        key = getattr(op, "key", None)
        key = getattr(key, "__sourcegrad_makes__", (key,))[0]  # a plain class's maker
        if isinstance(key, type) and _user_class(key):
            return key
    return None


#: ``current``: while :func:`assignments_indexed` is on in this thread, ``(core, name -> its
#: statements `name = ...`, in order)``
_INDEX = threading.local()


@contextmanager
def assignments_indexed(core):
    """Inside (in this thread), the lookups of a name's assignments in ``core`` read one
    index made here (one walk, not one per operand asked about); the caller adds or removes
    no statement of ``core`` inside."""
    index: dict = {}
    for stmt in walk_statements(core.node.body):
        target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
        if isinstance(target, gast.Name) and _assigns(stmt, target.id):
            index.setdefault(target.id, []).append(stmt)
        elif _item_write(stmt) is not None:
            index.setdefault((_item_write(stmt),), []).append(stmt)
    outer = getattr(_INDEX, "current", None)
    _INDEX.current = (core, index)
    try:
        yield
    finally:
        _INDEX.current = outer


def _assignments(core, name: str) -> list:
    """The statements ``name = ...`` of ``core`` (one target, the bare name), in order."""
    current = getattr(_INDEX, "current", None)
    if current is not None and current[0] is core:
        return current[1].get(name, [])
    return [stmt for stmt in walk_statements(core.node.body) if _assigns(stmt, name)]


def _item_writes(core, name: str) -> list:
    """The statements ``name[k] = ...`` of ``core`` (one target), in order."""
    current = getattr(_INDEX, "current", None)
    if current is not None and current[0] is core:
        return current[1].get((name,), [])
    return [stmt for stmt in walk_statements(core.node.body) if _item_write(stmt) == name]


def _item_write(stmt) -> str | None:
    """``name`` where ``stmt`` is ``name[k] = ...`` (one target); else None."""
    if not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return None
    target = stmt.targets[0]
    inner = target.value if isinstance(target, gast.Subscript) else None
    return inner.id if isinstance(inner, gast.Name) else None


def _assigns(stmt, name: str) -> bool:
    """Whether ``stmt`` is ``name = ...``: one target, the bare name."""
    if not isinstance(stmt, gast.Assign) or len(stmt.targets) != 1:
        return False
    target = stmt.targets[0]
    return isinstance(target, gast.Name) and target.id == name


def _user_class(cls) -> bool:
    return isinstance(cls, type) and _users(cls)


def _users(obj) -> bool:
    return (getattr(obj, "__module__", None) or "builtins").split(".")[0] not in _LIBRARIES


_LIBRARIES = {"builtins", "numpy", "sourcegrad", "scipy", "cupy", "collections", "types"}


def method_node(cls, method: str):
    """``(parsed, def node)`` of the method ``method`` of ``cls``, where it is a plain function
    whose source sourcegrad reads; else None."""
    fn = inspect.getattr_static(cls, method, None) if cls is not None else None
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        parsed = parse(fn)
    except SourcegradError:
        return None
    return parsed, parsed.node


def self_store(found) -> tuple | None:
    """``(attribute, "file:line")`` of the first change the method ``found`` (from
    :func:`method_node`) makes to ``self``: a store into ``self.<attribute>`` (``=``, ``+=``,
    an item of it), a list's or dict's method changing it in place, or a call of another
    method of ``self`` (which may store: its attribute shown as ``...``); None where none."""
    parsed, node = found
    args = node.args.posonlyargs + node.args.args
    if not args:
        return None
    this = args[0].id
    for n in S.walk(node):
        target = n.target if isinstance(n, gast.AugAssign) else None
        targets = n.targets if isinstance(n, gast.Assign) else [target] if target else []
        if isinstance(n, gast.Assign) and isinstance(n.value, gast.Constant):
            targets = []  # (a constant kept, `self.training = False`: read as one)
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute):
            owner = n.func.value
            if isinstance(owner, gast.Name) and owner.id == this:
                return "...", f"{os.path.basename(parsed.filename)}:{n.lineno}"
            if n.func.attr in MUTATORS:
                targets = [owner]
        for t in targets:
            while isinstance(t, gast.Subscript):
                t = t.value
            if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name):
                if t.value.id == this:
                    return t.attr, f"{os.path.basename(parsed.filename)}:{n.lineno}"
    return None


#: an operator's method and its reflected form (``a + b`` calls ``a.__add__(b)``)
OPERATOR_METHODS = {
    gast.Add: ("__add__", "__radd__"),
    gast.Sub: ("__sub__", "__rsub__"),
    gast.Mult: ("__mul__", "__rmul__"),
    gast.Div: ("__truediv__", "__rtruediv__"),
    gast.MatMult: ("__matmul__", "__rmatmul__"),
    gast.Pow: ("__pow__", "__rpow__"),
}


_SYMBOLS = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.MatMult: "@"}
_SYMBOLS[gast.Pow] = "**"
_UNARY_METHODS = {gast.USub: "__neg__", gast.UAdd: "__pos__"}
_OPERATOR_NAMES = {name for pair in OPERATOR_METHODS.values() for name in pair}
_OPERATOR_NAMES |= set(_UNARY_METHODS.values())


def unary_method(core, unop, following=frozenset()):
    """``(operand, method name)`` where ``-v`` (``+v``) runs ``v.__neg__()`` of a user
    class's object; None otherwise."""
    name = _UNARY_METHODS.get(type(unop.op))
    if name is not None and _defines(_made_class(core, unop.operand, following), name):
        return unop.operand, name
    return None


def operator_method(core, binop, following=frozenset()):
    """``(receiver, method name, other operand)`` where the operator ``binop`` runs a method
    of a user class's object: ``a + b`` with ``a`` an object whose class defines ``__add__``,
    or ``2.0 * v`` (a number first) with ``v``'s class defining ``__rmul__``; None
    otherwise. ``following``: the names whose assignments lead here (see :func:`_made_class`)."""
    names = OPERATOR_METHODS.get(type(binop.op))
    if names is None:
        return None
    left, right = binop.left, binop.right
    if _defines(_made_class(core, left, following), names[0]):
        return left, names[0], right
    if _defines(_made_class(core, right, following), names[1]) and _is_number(core, left):
        return right, names[1], left
    return None


def unknown_helper_operand(core, binop):
    """The call of a function of the user's whose result is an operand of ``binop`` (a
    name its one assignment binds) where the other operand is an object of a user class
    defining the operator's method, and that function neither surely returns a number or
    an array nor makes one known class's object (so which method Python runs is not known:
    ``either(x) * Scaled(w)``); None otherwise."""
    names = OPERATOR_METHODS.get(type(binop.op))
    if names is None:
        return None
    for operand, other in ((binop.left, binop.right), (binop.right, binop.left)):
        cls = _made_class(core, other)
        if not (_defines(cls, names[0]) or _defines(cls, names[1])):
            continue
        made = _assignments(core, operand.id) if isinstance(operand, gast.Name) else []
        call = made[0].value if len(made) == 1 else None
        if not isinstance(call, gast.Call) or example_value(core, operand.id) is not UNRESOLVED:
            continue
        function = resolve(core.parsed, call.func, set())
        if not (isinstance(function, types.FunctionType) and _users(function)):
            continue
        results = helper_results(core.parsed, S.bound_names(core.node))
        if returned_class(function) is None and not results(call, [0] * len(call.args))[0]:
            return call, _SYMBOLS[type(binop.op)], names[0]
    return None


def _is_number(core, e, seen=frozenset()) -> bool:
    """Whether ``e`` is a number: a literal, an argument holding an int or a float (its
    default, where the call leaves it out), arithmetic of numbers or ``math``'s functions of
    them (``lr0 * math.cos(t)``), a helper of the user's surely returning a number or an array,
    or a local name every assignment gives such a value (``lr = lr * 0.9`` in a loop too)."""
    if isinstance(e, gast.Constant):
        return isinstance(e.value, (int, float))
    if isinstance(e, gast.Attribute):
        return S.dotted(e) in ("math.pi", "math.e", "math.tau")
    if isinstance(e, gast.BinOp):
        return _is_number(core, e.left, seen) and _is_number(core, e.right, seen)
    if isinstance(e, gast.UnaryOp):
        return _is_number(core, e.operand, seen)
    if isinstance(e, gast.Call) and (S.dotted(e.func) or "").startswith("math."):
        return all(_is_number(core, a, seen) for a in e.args) and not e.keywords
    if isinstance(e, gast.Call):  # a helper of the user's (`get_lr(t)`) that surely returns a
        # number or an array (not an object whose own method would run first): Python's
        # __rmul__ runs unless it returns an array of one or more dimensions, an object array
        results = helper_results(core.parsed, S.bound_names(core.node))
        return results(e, [0] * len(e.args))[0]
    if not isinstance(e, gast.Name):
        return False
    if e.id in seen:  # (`lr = lr * 0.9`: a number where every assignment of it gives one)
        return True
    if e.id not in core.params:
        made = [stmt.value for stmt in _assignments(core, e.id)]
        counted = [n for n in S.walk(core.node) if isinstance(n, gast.For) and _counts(n, e.id)]
        stores = [
            n for n in S.name_nodes(core.node) if n.id == e.id and isinstance(n.ctx, gast.Store)
        ]
        seen = seen | {e.id}
        numbers = all(_is_number(core, v, seen) for v in made)
        return bool(stores) and len(stores) == len(made) + len(counted) and numbers
    example = example_value(core, e.id)
    if example is UNRESOLVED and core.example_args is not None:
        default = inspect.signature(core.parsed.fn).parameters.get(e.id)
        example = getattr(default, "default", None)
    return type(example) in (int, float)


def _counts(loop: gast.For, name: str) -> bool:
    """Whether ``loop`` is ``for name in range(...)``."""
    target, it = loop.target, loop.iter
    ranged = isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
    return isinstance(target, gast.Name) and target.id == name and ranged


def _gradient_argument(core, call: gast.Call):
    """The argument of ``call`` whose structure (and class) its value has, where ``call``
    calls ``sg.grad(f)`` or ``sg.grad(f, wrt=k)`` (directly or through a name bound once
    to it): ``call.args[k]``; None otherwise."""
    made = call.func
    if isinstance(made, gast.Name):
        bound = [stmt.value for stmt in _assignments(core, made.id)]
        made = bound[0] if len(bound) == 1 else None
    if not isinstance(made, gast.Call) or not made.args:
        return None
    grad = resolve(core.parsed, made.func, set())
    if getattr(grad, "__module__", None) != "sourcegrad.api" or grad.__name__ != "grad":
        return None
    keywords = {k.arg: k.value for k in made.keywords}
    wrt = made.args[1] if len(made.args) > 1 else keywords.get("wrt", S.const(0))
    if set(keywords) - {"wrt"} or not isinstance(wrt, gast.Constant):
        return None
    k = wrt.value
    if type(k) is not int or not 0 <= k < len(call.args) or call.keywords:
        return None
    return None if isinstance(call.args[k], gast.Starred) else call.args[k]


def _defines(cls, method: str) -> bool:
    return cls is not None and isinstance(
        inspect.getattr_static(cls, method, None), types.FunctionType
    )


def _made_class(core, e, following=frozenset()):
    """The user class of the object the name ``e`` holds: an argument's (from the call the
    derivative is built for), or the class its assignments make (:func:`_value_class`). None
    for a name of ``following`` (the names whose assignments led here): in a loop, ``x_1 =
    x * 1.5`` then ``x = x_1 + 0.1`` lead back to ``x``, whose class no assignment makes."""
    if not isinstance(e, gast.Name):
        return None
    if e.id in following:
        cut_short()
        return None
    if not _may_hold_objects(core):
        return None
    return remembered(("made", e.id), lambda: _made_class_of(core, e, following))


def _may_hold_objects(core) -> bool:
    """Whether a value of ``core``'s function may be an object of a user class: an argument
    holds one, or the function calls a class or a function of the user's (asked once per
    function and tree)."""
    key = id(core.node)
    known = getattr(core, "_objects_known", None)
    if known is not None and known[0] == key:
        return known[1]
    found = any(_holds_object(v) for v in core.example_args or ())
    bound = S.bound_names(core.node)
    if not found:
        for call in S.nodes_of(core.node, (gast.Call,)):
            made = resolve(core.parsed, call.func, bound)
            user = isinstance(made, types.FunctionType) and _users(made)
            if made is UNRESOLVED or user or _user_class(made):
                found = True
                break
    if not found:  # a global or closure variable holding an object
        free = {n.id for n in S.name_nodes(core.node)} - bound
        found = any(_holds_object(resolve(core.parsed, S.name(n), set())) for n in free)
    core._objects_known = (key, found)
    return found


def _holds_object(value, depth: int = 0) -> bool:
    if _user_class(type(value)):
        return True
    if depth > 3:
        return False
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, (list, tuple, dict)):
        return any(_holds_object(v, depth + 1) for v in items)
    return False


def _made_class_of(core, e, following):
    example = example_value(core, e.id)
    if example is not UNRESOLVED:
        return type(example) if _user_class(type(example)) else None
    made = [stmt.value for stmt in _assignments(core, e.id)]
    if core.parsed.filename.startswith("<sourcegrad"):  # a derivative's own code
        made = [v for v in made if not _restored(core, v, e.id)]
    following = following | {e.id}
    classes = [_value_class(core, v, following) for v in made]
    if len(made) <= 1:
        return classes[0] if made else None
    # several: one class made, the others updates by operators (`p = P(W, b)`, then `p = p
    # - lr * g` in a loop), taken to keep it as one assignment by an operator is
    known = {c for c in classes if c is not None}
    if len(known) != 1:
        return None
    cls = known.pop()
    updates = all(
        c or isinstance(v, (gast.Name, gast.BinOp)) or _own_method_result(v, cls)
        for c, v in zip(classes, made)
    )
    return cls if updates else None


def _restored(core, value, name: str) -> bool:
    """Whether ``value`` (of ``name = value`` in a derivative's code) gives ``name`` no new
    object: the None it starts a loop with, or a pop of the tape its own values go on
    (``h = tape[-1]`` where ``tape = [*tape, h]``)."""
    if isinstance(value, gast.Constant) and value.value is None:
        return True
    if not (
        isinstance(value, gast.Subscript)
        and isinstance(value.value, gast.Name)
        and isinstance(value.slice, gast.Constant)
        and value.slice.value == -1
    ):
        return False
    return name in _pushed(core, value.value.id, set())


def _pushed(core, tape: str, seen: set) -> set:
    """The names ``tape = [*tape, name]`` puts on the list ``tape`` (through the names it
    is copied from: ``tape_1 = [*tape, h]``, then ``tape = tape_1``)."""
    seen.add(tape)
    out = set()
    for stmt in _assignments(core, tape):
        v = stmt.value
        if isinstance(v, gast.Name) and v.id not in seen:
            out |= _pushed(core, v.id, seen)
        elif isinstance(v, gast.List) and v.elts and isinstance(v.elts[-1], gast.Name):
            out.add(v.elts[-1].id)
    return out


def _own_method_result(value, cls) -> bool:
    """Whether ``value`` calls a method of ``cls`` (``(h @ W + b).tanh()``) that surely
    returns an object of ``cls``: taken, as an operator is, to keep the class."""
    func = value.func if isinstance(value, gast.Call) else None
    return isinstance(func, gast.Attribute) and _returned_class(cls, func.attr) is cls


def _value_class(core, value, following):
    """The user class of the object ``value`` (a name's assignment) makes, as
    :func:`_made_class` says; None where not known."""
    if isinstance(value, gast.Name):
        return _made_class(core, value, following)
    if isinstance(value, gast.BinOp):
        # `c = a + b` by a.__add__: taken to be of a's class (its method found when it runs)
        method = operator_method(core, value, following)
        return _made_class(core, method[0], following) if method is not None else None
    if isinstance(value, gast.UnaryOp):
        method = unary_method(core, value, following)
        return _made_class(core, method[0], following) if method is not None else None
    if isinstance(value, gast.Subscript) and not isinstance(value.slice, gast.Slice):
        return _item_class(core, value.value, following)  # `v = vs[0]`, `v = vs[k]`
    if not isinstance(value, gast.Call):
        return None
    func = value.func
    if isinstance(func, gast.Attribute) and func.attr in _OPERATOR_NAMES:
        return _made_class(core, func.value, following)  # `a.__add__(b)`, as `a + b`
    given = _gradient_argument(core, value)  # `g = sg.grad(loss)(p, x)`: p's class
    if given is not None:
        return _made_class(core, given, following)
    cls = resolve(core.parsed, func, set())
    if cls is sum and len(value.args) == 2:  # `sum(vs, Value(0.0))`: start + ...
        return _value_class(core, value.args[1], following)
    if isinstance(cls, types.FunctionType) and _users(cls):
        return returned_class(cls)  # `q = object_of(x)`: the class every return makes
    if _user_class(cls):
        return cls
    if isinstance(func, gast.Attribute):  # `u = v.tanh()`, each return `Value(...)`
        return _returned_class(_made_class(core, func.value, following), func.attr)
    return None


def _returned_class(cls, method: str):
    """The user class every ``return`` of ``cls``'s method ``method`` makes by a call of a
    class it names (``return Value(np.tanh(self.data))``); None where not known."""
    found = method_node(cls, method)
    if found is None:
        return None
    made = set()
    for r in S.nodes_of(found[1], (gast.Return,)):
        call = r.value
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)):
            return None
        made.add(found[0].globals.get(call.func.id))
    out = made.pop() if len(made) == 1 else None
    return out if _user_class(out) else None


def _item_class(core, e, following):
    """The user class of every item of the list (or dict) the name ``e`` holds, where each of
    its assignments is a display of objects of that class (``vs = [*vs, v]`` growing it in a
    loop included, ``{"a": Value(a)}``), another such list, or the keys of a dict
    (``list(d.keys())``, none an object); None where not known."""
    classes = _item_classes(core, e, following)
    return classes.pop() if len(classes) == 1 else None


def _item_classes(core, e, following) -> set:
    """The classes (None: not known) of the items of the list ``e`` names, as
    :func:`_item_class` reads them; a name of ``following`` adds none."""
    if not isinstance(e, gast.Name):
        return {None}
    example = example_value(core, e.id)
    if example is not UNRESOLVED:  # an argument's (or a path read from one): its items' class
        kinds = {type(v) for v in example} if isinstance(example, (list, tuple)) else {None}
        cls = kinds.pop() if len(kinds) == 1 else None
        return {cls if _user_class(cls) else None}
    if e.id in core.params:
        return {None}
    if e.id in following:
        cut_short()
        return set()
    key = ("items", e.id)
    return set(remembered(key, lambda: _item_classes_of(core, e, following | {e.id})))


def _item_classes_of(core, e, following) -> set:
    classes = set()
    for stmt in _assignments(core, e.id):
        value = stmt.value
        copied = isinstance(value, gast.Call) and not value.args and S.dotted(value.func)
        if copied and copied.endswith(".copy"):  # `d = d.copy()`: the same items
            value = value.func.value
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice):
            value = value.value  # `rest = vs[1:]`: some of the same items
        if _copy_of_list(core, value):  # `list(grads)`: the same items
            value = value.args[0]
        if isinstance(value, gast.Name):
            classes |= _item_classes(core, value, following)
        elif isinstance(value, (gast.List, gast.Tuple, gast.Dict)):
            for v in value.values if isinstance(value, gast.Dict) else value.elts:
                if isinstance(v, gast.Starred):
                    classes |= _item_classes(core, v.value, following)
                else:
                    classes.add(_value_class(core, v, following))
        elif not _dict_keys(value):
            return {None}
    for stmt in _item_writes(core, e.id):  # `d[k] = Scalar(v)`, a dict comprehension's
        classes.add(_value_class(core, stmt.value, following))
    return classes


def _copy_of_list(core, e) -> bool:
    """Whether ``e`` is ``list(name)`` or ``tuple(name)``."""
    one = isinstance(e, gast.Call) and len(e.args) == 1 and not e.keywords
    if not (one and isinstance(e.args[0], gast.Name)):
        return False
    return resolve(core.parsed, e.func, set()) in (list, tuple)


def _dict_keys(e) -> bool:
    """Whether ``e`` is ``list(d.keys())``."""
    inner = e.args[0] if isinstance(e, gast.Call) and len(e.args) == 1 else None
    keys = isinstance(inner, gast.Call) and isinstance(inner.func, gast.Attribute)
    return keys and S.dotted(e.func) == "list" and inner.func.attr == "keys"


#: a function's code -> the user class of what it returns (None: not known, or being asked)
_RETURNED: dict = {}


def returned_class(function, depth: int = 0):
    """The user class of the object every ``return`` of ``function`` (a function of the
    user's, read from its source) makes: a call of the class, a helper's call returning one,
    or a name bound only so; None where not known."""
    key = function.__code__
    if key in _RETURNED or depth > 4:
        return _RETURNED.get(key)
    _RETURNED[key] = None
    try:
        parsed = parse(function)
    except (SourcegradError, OSError, TypeError):
        return None
    node = parsed.node
    if not isinstance(node, gast.FunctionDef):
        return None
    own = list(S.own_scope_nodes(node))
    returns = [n.value for n in own if isinstance(n, gast.Return)]
    if any(isinstance(n, (gast.Yield, gast.YieldFrom)) for n in own) or None in returns:
        return None
    bound: dict = {}
    for n in own:
        if isinstance(n, gast.Assign) and len(n.targets) == 1:
            bound.setdefault(getattr(n.targets[0], "id", None), []).append(n.value)
    local = S.bound_names(node)

    def made(value, seen=frozenset()):
        if isinstance(value, gast.Name) and value.id in bound and value.id not in seen:
            classes = {made(v, seen | {value.id}) for v in bound[value.id]}
            stores = [n for n in S.name_nodes(node) if n.id == value.id]
            stores = [n for n in stores if isinstance(n.ctx, gast.Store)]
            one = len(classes) == 1 and len(stores) == len(bound[value.id])
            return classes.pop() if one else None
        if not isinstance(value, gast.Call):
            return None
        cls = resolve(parsed, value.func, local)
        if isinstance(cls, types.FunctionType) and _users(cls):
            return returned_class(cls, depth + 1)
        return cls if _user_class(cls) else None

    classes = {made(v) for v in returns}
    _RETURNED[key] = classes.pop() if len(classes) == 1 and returns else None
    return _RETURNED[key]


def items_class(core, name: str):
    """The user class of every item of the list, tuple or dict ``name`` holds (see
    :func:`_item_class`); None where not known or not one."""
    return _item_class(core, S.name(name), frozenset())


def defines_method(core, e, method: str) -> bool:
    """Whether ``e`` names an object of a user class that defines ``method`` (so that
    ``e.dot(v)`` is the class's method, not the array method of that name)."""
    return _defines(_made_class(core, e), method)
