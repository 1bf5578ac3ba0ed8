"""What each core statement computes: the :class:`Op` of an assignment or expression
statement (part of the analysis pass)."""

from __future__ import annotations

import operator
import types

import gast
import numpy as np

from .. import rules as R
from ..errors import UnsupportedSyntaxError
from ..rules.scipy_stats import makes_frozen
from ..runtime.facts import helper_functions_where
from ..runtime.records import built_object, is_static_leaf
from . import syntax as S
from .calls import (
    NAMEDTUPLE_ADJOINT,
    RECORD_TANGENT,
    call_dynamic,
    call_user_function,
    callable_object,
    called_attribute,
    construct_namedtuple,
    construct_record,
    is_derivative,
    is_namedtuple_class,
    is_record_class,
    user_method,
)
from .examples import class_attribute, object_attribute, reads_bound_method
from .forms import Core, Op
from .node_facts import get_fact
from .object_classes import (
    OPERATOR_METHODS,
    defines_method,
    items_class,
    operator_method,
    unary_method,
    unknown_helper_operand,
)
from .parse import UNRESOLVED, resolve
from .path_reads import follow_keys
from .plain_classes import plain_class_maker
from .rule_binding import (
    PACK_RULE,
    PATH_RULE,
    PURE_CONSTANTS,
    bind_rule,
    is_int_atom,
    is_user_function,
    local_names,
    lookup_rule,
)

#: runtime helpers that raise where what they check does not hold: never dropped as unread
CHECKING_HELPERS = helper_functions_where(checks=True)


def _is_setting(core: Core, path) -> bool:
    """Whether the argument's part at ``path`` carries no derivative in the arguments the
    build is for: a setting (an int, a string, a function) such as a record's field."""
    root, keys = path[0], path[1]
    example = core.example_args
    if example is None or root not in core.params:
        return False
    i = core.params.index(root)
    if i >= len(example):
        return False
    value = follow_keys(example[i], keys, UNRESOLVED)
    if value is UNRESOLVED:
        return False
    if reads_bound_method(core, path):
        return False
    # a class attribute (a ClassVar, a constant) or an item of one (`self.OFFSETS[0]`)
    held = any(
        class_attribute(follow_keys(example[i], keys[: j - 1], None), keys[:j])
        for j in range(1, len(keys) + 1)
    )
    return held or is_static_leaf(value)


def classify(core: Core, stmt) -> Op:
    """The :class:`Op` a core assignment or expression statement performs."""
    value = stmt.value
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
        target = stmt.targets[0]
        return bind_rule(core, stmt, "setitem", [target.value, target.slice, value], {}, "x[k] = v")
    if get_fact(value, "opaque"):
        return Op("opaque", None, operands=[value], pure=False, described=value)
    path = get_fact(stmt, "path")
    if path and _is_setting(core, path):  # a record's int, str or function field
        return Op(None, "constant", operands=[value], pure=True, described="path")
    if path:
        return Op("path", PATH_RULE, {"x": S.name(path[0])}, [value], described="path")
    if S.is_atom(value):
        return Op("copy", lookup_rule(core, "copy"), {"x": value}, [value], described="copy")
    if isinstance(value, gast.BinOp):
        return _classify_binop(core, stmt, value)
    if isinstance(value, gast.UnaryOp):
        method = unary_method(core, value)
        if method is not None:  # `-v` of a user class's object: v.__neg__()
            return _dynamic(core, gast.Attribute(method[0], method[1], gast.Load()), [])
        key = R.UNARYOPS.get(type(value.op))
        return bind_rule(core, stmt, key, [value.operand], {}, value)
    if isinstance(value, gast.Compare):
        return Op(
            "compare", "constant", operands=[value.left, *value.comparators], described="compare"
        )
    if isinstance(value, gast.Attribute):
        key = R.ATTRIBUTES.get(value.attr)
        if key is not None and object_attribute(core, value):
            key = None  # `aff.size`: a field or method of the user's object, not an array's
        if (
            key is None
            and isinstance(value.value, gast.Name)
            and value.value.id in local_names(core)
        ):
            # a field of a value the function holds (a namedtuple read in a loop)
            field = [value.value, S.const(value.attr)]
            return bind_rule(core, stmt, "field", field, {}, "." + value.attr)
        return bind_rule(core, stmt, key, [value.value], {}, "." + value.attr)
    if isinstance(value, gast.Subscript):
        key = R.subscript_key(resolve(core.parsed, value.value, local_names(core)))
        return bind_rule(core, stmt, key, [value.value, value.slice], {}, "indexing")
    if isinstance(value, gast.Dict):
        if all(k is not None and (S.is_atom(k) or S.is_literal(k)) for k in value.keys):
            return Op("pack", PACK_RULE, {"x": value}, list(value.values), described="dict")
    if isinstance(value, (gast.Tuple, gast.List)):
        return _classify_display(core, stmt, value)
    if isinstance(value, gast.Call):
        return _classify_call(core, stmt, value)
    return Op("opaque", None, operands=[value], pure=False, described=value)


_SIGNS = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.MatMult: "@"}
_SIGNS[gast.Pow] = "**"


def _classify_binop(core: Core, stmt, value) -> Op:
    """:func:`classify` of ``a op b``: a user class's operator method, or the rule of ``op``."""
    _refuse_in_place_method(core, stmt, value)
    method = operator_method(core, value)
    if method is not None:  # `a + b` of a user class's objects: a.__add__(b)
        receiver, name, other = method
        return _dynamic(core, gast.Attribute(receiver, name, gast.Load()), [other])
    _refuse_unknown_operand(core, stmt, value)
    key = R.BINOPS.get(type(value.op))
    left = value.left
    if key == "mod" and isinstance(left, gast.Constant) and isinstance(left.value, str):
        key = "format"  # "loss %f" % x: string formatting, not a remainder
    return bind_rule(core, stmt, key, [value.left, value.right], {}, value)


def _refuse_in_place_method(core: Core, stmt, binop) -> None:
    """Refuse ``x op= v`` (lowered to ``x op v``: the ``in_place`` fact) of an object whose
    class defines the in-place method (``__iadd__``): Python runs it, not the operator the
    lowered form differentiates."""
    names = OPERATOR_METHODS.get(type(binop.op))
    if names is None or not get_fact(stmt, "in_place"):
        return
    method = "__i" + names[0][2:]
    if not defines_method(core, binop.left, method):
        return
    x, sign = get_fact(stmt, "in_place"), _SIGNS[type(binop.op)]
    raise UnsupportedSyntaxError(
        f"`{x} {sign}= ...` updates an object of a class of yours that defines `{method}`: "
        f"Python runs that method, which may change the object in place, and sourcegrad "
        f"differentiates operators that return a new object; write `{x} = {x} {sign} ...` "
        f"with `{names[0]}` returning a new object",
        core.parsed.filename,
        stmt.lineno,
    )


def _refuse_unknown_operand(core: Core, stmt, binop) -> None:
    """Refuse ``binop`` where which method of a user class it runs is not known (see
    :func:`~.object_classes.unknown_helper_operand`)."""
    found = unknown_helper_operand(core, binop)
    if found is None:
        return
    call, op, method = found
    helper = S.text(call.func)
    raise UnsupportedSyntaxError(
        f"`{op}` of what `{helper}(...)` returns and an object of a class of yours: "
        f"`{helper}` does not return one class's object (nor surely a number or an array) "
        f"on every path, so which `{op}` Python runs is not known; make `{helper}` return "
        f"objects of one class (or arrays), or call the method you mean (`a.{method}(b)`)",
        core.parsed.filename,
        stmt.lineno,
    )


def _refuse_sum_of_objects(core: Core, stmt, obj, call) -> None:
    """Refuse ``sum(xs)`` where the items of ``xs`` are objects of a user class that adds
    (its rule adds numbers and arrays; the objects' own ``__add__`` would run)."""
    if obj is not sum or len(call.args) != 1 or not isinstance(call.args[0], gast.Name):
        return  # (`sum(xs, start)` with an object's start runs the objects' `+`)
    cls = items_class(core, call.args[0].id)
    if cls is None or not any(hasattr(cls, m) for m in ("__add__", "__radd__")):
        return
    raise UnsupportedSyntaxError(
        f"`sum(...)` of objects of your class `{cls.__name__}`: sourcegrad differentiates "
        "`sum` of numbers and arrays, not the objects' own `+`; add them with it: "
        "`functools.reduce(operator.add, items)`, or a loop (`total = items[0]`, then "
        "`total = total + item` for the others)",
        core.parsed.filename,
        stmt.lineno,
    )


def _classify_display(core: Core, stmt, value) -> Op:
    """A tuple or list display; ``[*xs, x]`` is an append."""
    starred = [isinstance(e, gast.Starred) for e in value.elts]
    if starred == [True, False]:
        return bind_rule(
            core, stmt, "list_append", [value.elts[0].value, value.elts[1]], {}, ".append()"
        )
    if any(starred):
        return Op("opaque", None, operands=[value], pure=True, described=value)
    return Op("pack", PACK_RULE, {"x": value}, [value], described="tuple")


def _dynamic(core: Core, func, args) -> Op:
    """A call of a function value found when the derivative runs."""
    op = call_dynamic(core, func, args, None)
    op.dynamic_call = (func, args)
    return op


def _classify_call(core: Core, stmt, value) -> Op:
    kwargs = {k.arg: k.value for k in value.keywords}
    func = value.func
    if get_fact(func, "static") or (
        isinstance(func, gast.Name) and func.id not in local_names(core)
    ):
        return _classify_global_call(core, stmt, value, kwargs)
    if isinstance(func, gast.Attribute):
        return _classify_method_call(core, stmt, value, kwargs)
    if isinstance(func, gast.Name) and set(kwargs) <= {"g_out", "t_in"}:
        # a function made while the function runs (nested def, lambda, a layer object, a
        # derivative a derivative made): its vjp is found when the derivative runs, from
        # the function object itself; a derivative's seed is its last positional argument
        return _dynamic(core, func, list(value.args) + list(kwargs.values()))
    key = "keywords" if isinstance(func, gast.Name) else None  # a function value's keywords
    return Op(
        key,
        None,
        operands=[func, *value.args, *kwargs.values()],
        pure=False,
        described=func,
    )


#: the functions of ``operator`` that run an operator (``functools.reduce(operator.add, ...)``)
_OPERATOR_FUNCTIONS = {
    operator.add: gast.Add, operator.sub: gast.Sub, operator.mul: gast.Mult,
    operator.truediv: gast.Div, operator.matmul: gast.MatMult, operator.pow: gast.Pow,
}  # fmt: skip


def _classify_global_call(core: Core, stmt, value, kwargs) -> Op:
    """A call of a function fixed at transform time (a global, a module's attribute)."""
    func = value.func
    obj = resolve(core.parsed, func, local_names(core))
    label = S.dotted(func) or S.text(func)
    if obj is UNRESOLVED:
        return Op(None, None, operands=[*value.args, *kwargs.values()], pure=False, described=label)
    if (
        lookup_rule(core, obj) is None
        and is_user_function(obj)
        and obj not in R.PRIMITIVES  # declared opaque: only its registered rules
    ):
        return call_user_function(core, stmt, obj, list(value.args), kwargs, label)
    if is_namedtuple_class(obj):
        return construct_namedtuple(core, stmt, obj, list(value.args), kwargs, label)
    if is_record_class(obj):
        return construct_record(core, stmt, obj, list(value.args), kwargs, label)
    if obj is built_object:  # a plain class's object, in its maker (plain_classes.py)
        return construct_plain(core, list(value.args), label)
    maker = plain_class_maker(obj)
    if maker is not None:
        return call_user_function(core, stmt, maker, list(value.args), kwargs, label)
    _refuse_sum_of_objects(core, stmt, obj, value)
    operator = _OPERATOR_FUNCTIONS.get(obj) if len(value.args) == 2 and not kwargs else None
    if operator is not None:  # `operator.add(a, b)` of a user class's objects: a.__add__(b)
        method = operator_method(core, gast.BinOp(*value.args[:1], operator(), value.args[1]))
        if method is not None:
            return _dynamic(core, gast.Attribute(method[0], method[1], gast.Load()), [method[2]])
    if obj is getattr and len(value.args) == 2 and not kwargs:
        # a field read by a name computed when it runs (`getattr(net, f"layer{i}")`)
        return bind_rule(core, stmt, "field", list(value.args), {}, "getattr")
    if is_derivative(obj) and set(kwargs) <= {"g_out", "t_in"}:
        # the seed of a vjp (or tangent of a jvp) is its last positional argument
        return _dynamic(core, func, list(value.args) + list(kwargs.values()))
    if makes_frozen(obj):  # scipy.stats.norm(mu, sigma): refused where a varied value flows in
        operands = [*value.args, *kwargs.values()]
        return Op(obj, None, operands=operands, pure=False, described=label)
    if lookup_rule(core, obj) is None and callable_object(obj):
        # a layer object or a bound method kept in a global: found when it runs
        if kwargs:
            operands = [*value.args, *kwargs.values()]
            return Op("keywords", None, operands=operands, pure=False, described=label)
        return _dynamic(core, func, list(value.args))
    op = bind_rule(core, stmt, obj, list(value.args), kwargs, label)
    module = getattr(obj, "__module__", "") or ""
    if (
        module.startswith("numpy.random")
        or isinstance(obj, types.BuiltinMethodType)
        and ("random" in repr(getattr(obj, "__self__", "")))
    ):
        op.pure = False
        op.rule = "constant"
    elif obj is print or not (isinstance(obj, np.ufunc) or op.differentiable):
        op.pure = obj in PURE_CONSTANTS
    elif obj in CHECKING_HELPERS:  # (generated code transformed again: an hvp's gradient)
        op.pure = False
    return op


def construct_plain(core: Core, args, label) -> Op:
    """``built_object(Cls, fields)``: a record holding ``fields`` (a dict), its adjoint the
    fields' adjoints by name, its tangent a record of the fields' tangents."""
    fields = args[1]
    rule = RECORD_TANGENT if core.forward else NAMEDTUPLE_ADJOINT
    return Op(built_object, rule, {"x": fields}, [fields], described=label)


def _classify_method_call(core: Core, stmt, value, kwargs) -> Op:
    """``obj.name(...)``: an array method, a method of the user's, or a function value an
    object holds."""
    func = value.func
    entry = R.METHODS.get(func.attr)
    label = "." + func.attr + "()"
    method = user_method(core, func)
    if method is not None:
        label = S.text(func)
        return call_user_function(core, stmt, method, [func.value, *value.args], kwargs, label)
    if not kwargs and defines_method(core, func.value, func.attr):
        # `v.dot(w)` of a user class's object made here (`v = Vec(x)`): its own method
        return _dynamic(core, func, list(value.args))
    if entry is None and not kwargs and called_attribute(core, func):
        # `layer.forward(h)`, `self.act(z)`: the function is found when the
        # derivative runs, from the object
        return _dynamic(core, func, list(value.args))
    if entry is None:
        return Op(
            None,
            None,
            operands=[func.value, *value.args, *kwargs.values()],
            pure=False,
            described=label,
        )
    key, packs = entry
    args = list(value.args)
    if packs and (len(args) > 1 or (len(args) == 1 and is_int_atom(args[0]))):
        args = [gast.Tuple(elts=args, ctx=gast.Load())]
    return bind_rule(core, stmt, key, [func.value, *args], kwargs, label)
