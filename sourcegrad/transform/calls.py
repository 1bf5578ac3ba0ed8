"""Calls to functions with no rule of their own: the user's functions (differentiated through
their own derivatives, made from their source) and function values known only when the
derivative runs (nested functions, lambdas, layer objects, derivatives sourcegrad made).

Part of the analysis pass; the derivatives come from ``derive`` (installed by the layer that
builds them).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import types

import gast
import numpy as np

from .. import rules as R
from ..errors import SourcegradError, UnsupportedSyntaxError
from ..rules.registry import TemplateNamespace
from ..runtime.tangent_helpers import complete_tangent, record_tangent
from ..runtime.trees import as_adjoint
from . import derive
from . import syntax as S
from .forms import Core, Op
from .in_place import (
    item_written_line,
    made_by_sourcegrad,
    mark_copied_arguments,
    mark_unknown_callee,
)
from .naming import derivative_name
from .node_facts import set_fact
from .parse import UNRESOLVED, packed, parse, resolve
from .path_reads import follow_keys
from .rule_binding import (
    definitions,
    is_user_function,
    local_names,
    lookup_rule,
    made_by_a_maker,
)


def user_method(core, func):
    """The plain function behind ``obj.method`` when ``obj`` is one of the user's objects:
    a global or closure variable, or an argument (its type taken from the example call)."""
    receiver = func.value
    if not isinstance(receiver, gast.Name):
        return None
    obj = UNRESOLVED
    example = core.example_args
    root, keys = receiver.id, ()
    if receiver.id in core.paths:  # self.layer: an argument's attribute
        root, keys = core.paths[receiver.id]
    if root in core.params:
        i = core.params.index(root)
        if example is not None and i < len(example):
            obj = follow_keys(example[i], keys, UNRESOLVED)
            if obj is UNRESOLVED:
                return None
    elif receiver.id not in local_names(core):
        obj = resolve(core.parsed, receiver, local_names(core))
    if obj is UNRESOLVED or isinstance(obj, (np.ndarray, np.generic, list, dict)):
        return None
    if isinstance(obj, tuple) and not hasattr(type(obj), "_fields"):
        return None  # a namedtuple's own methods are the user's (`class G(NamedTuple)`)
    if isinstance(inspect.getattr_static(type(obj), func.attr, None), staticmethod):
        return None  # a function value the class holds: called without the object
    attr = getattr(type(obj), func.attr, None)
    return attr if is_user_function(attr) else None


def called_attribute(core, func) -> bool:
    """Whether ``obj.name(...)`` calls a function value held by one of the function's own
    objects: ``obj`` a local name or an argument, ``name`` no array method (``x.cumprod()``
    stays a method without a rule, refused where it is read)."""
    receiver = func.value
    if not isinstance(receiver, gast.Name) or func.attr in _ARRAY_ATTRIBUTES:
        return False
    example = example_value(core, receiver.id)
    if example is not UNRESOLVED:  # an argument's value: its own kind decides
        if isinstance(example, (np.ndarray, np.generic, float, int, complex)):
            return False
        method = getattr(type(example), func.attr, None)
        # a library's method (a namedtuple's `_replace`) has no source of the user's to
        # transform: it stays an operation without a rule, refused at the user's line
        return not (isinstance(method, types.FunctionType) and not is_user_function(method))
    # a namedtuple's own methods are the standard library's (no rule, refused at the line)
    return receiver.id in local_names(core) and func.attr not in _NAMEDTUPLE_METHODS


#: what an array instance has (``hasattr(np.ndarray, "__call__")`` is the class's own)
_ARRAY_ATTRIBUTES = frozenset(dir(np.ndarray))
_NAMEDTUPLE_METHODS = frozenset({"_replace", "_asdict", "_make"})


def example_value(core, name: str):
    """The value an argument (or a path read from one) has in the call the derivative is
    built for; UNRESOLVED where that is not known."""
    example = core.example_args
    root, keys = core.paths[name] if name in core.paths else (name, ())
    if example is None or root not in core.params or core.params.index(root) >= len(example):
        return UNRESOLVED
    return follow_keys(example[core.params.index(root)], keys, UNRESOLVED)


def free_names(core, name: str) -> set:
    """Names a nested ``def name`` or ``name = lambda ...`` (or ``name = other`` naming one)
    of the function reads from it."""
    found = nested_function(core, name)
    if found is None:
        return set()
    inner, params = found
    own = {a.id for a in params.args + params.kwonlyargs + params.posonlyargs}
    read, bound = set(), set(own)
    for stmt in inner:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name):
                (bound if isinstance(n.ctx, gast.Store) else read).add(n.id)
    return (read - bound) & local_names(core)


def nested_function(core, name: str, seen: frozenset = frozenset()):
    """``(body, arguments)`` of the nested ``def name`` or ``name = lambda ...`` (or
    ``name = other`` naming one) of the function; None where ``name`` is neither."""
    for node in definitions(core, name):
        if isinstance(node, gast.FunctionDef):
            return node.body, node.args
        if isinstance(node.value, gast.Lambda):
            return [node.value.body], node.value.args
        if isinstance(node.value, gast.Name) and node.value.id not in seen | {name}:
            return nested_function(core, node.value.id, seen | {name})  # `f = f_def`
    return None


def is_derivative(obj) -> bool:
    """A function made by sourcegrad (grad, vjp, jvp, ...): differentiated through its own
    generated source, never its Python wrapper."""
    return derive.makers().is_derivative(obj)


#: dict and list methods that return (or keep) an item of the container
_ITEM_METHODS = frozenset({"setdefault", "popitem", "pop", "copy", "__getitem__"})


def keyword_call(core, stmt, op) -> tuple | None:
    """``(func, args, keywords)`` where ``stmt`` calls a function value with keyword arguments
    (``act(z, alpha=0.1)``, ``layer.forward(h, training=True)``, a layer object kept in a
    global): the keyword values follow the positional ones in ``args``, ``keywords`` names
    them in order. None for any other statement (a call of the user's own function binds
    its keywords when the derivative is built)."""
    call = stmt.value if isinstance(stmt, gast.Assign) else None
    if not (isinstance(call, gast.Call) and call.keywords) or op.rule is not None:
        return None
    if any(k.arg is None for k in call.keywords) or any(
        isinstance(a, gast.Starred) for a in call.args
    ):
        return None
    func = call.func
    if op.key != "keywords" and not (
        op.key is None
        and isinstance(func, gast.Attribute)
        and R.METHODS.get(func.attr) is None
        and user_method(core, func) is None
        and called_attribute(core, func)
    ):
        return None
    values = [*call.args, *(k.value for k in call.keywords)]
    return func, values, tuple(k.arg for k in call.keywords)


def call_dynamic(core, func, args, varied, stmt=None, keywords: tuple = ()) -> Op:
    """``d[args] += vjp_of(func, wrt)(*args, g_out=d[z])`` for a function ``func`` known only
    when the derivative runs (a nested function, a lambda, a function made by sourcegrad); in
    forward mode ``d[z] += jvp_of(func, wrt)(*args, t_in=d[args])[1]``. The last
    ``len(keywords)`` of ``args`` are passed by those names: ``vjp_of(func, wrt, keywords)``
    binds them to the function's parameters when it runs, as Python does."""
    vjp_of, jvp_of = derive.makers().vjp_of, derive.makers().jvp_of

    label = S.dotted(func) or S.text(func)
    receiver, wrt = _dynamic_wrt(core, func, args, varied)
    _copies_for_known_callee(core, func, args[: len(args) - len(keywords)], wrt)
    operands = [func, *args]
    if not wrt:
        if (
            isinstance(func, gast.Attribute)
            and func.attr in _ITEM_METHODS
            and (varied is None or _may_vary(func.value, varied))
        ):
            # an item of a differentiated container read by a method without a rule
            # (`d.setdefault(k)`, `d.popitem()`): refused where its result is used, never
            # taken as a constant
            return Op(None, None, operands=operands, pure=False, described="." + func.attr + "()")
        return Op(None, "constant", operands=operands, pure=False, described=label)
    params = {"fn": func, **{f"a{i}": a for i, a in enumerate(args)}}
    diff = [receiver if i == derive.RECEIVER else args[i] for i in wrt]
    params["diff"] = diff[0] if len(diff) == 1 else gast.Tuple(elts=diff, ctx=gast.Load())
    forward = core.forward
    dname = "diff" if forward else "z"
    dread = gast.Subscript(value=S.name("d"), slice=S.name(dname), ctx=gast.Load())
    if forward and _has_display(diff):
        dread = S.call(S.name(complete_tangent.__name__), [dread, S.name("diff")])
    maker = "jvp_of" if forward else "vjp_of"
    call = gast.Call(
        func=_maker_call(maker, wrt, keywords),
        args=[S.name(f"a{i}") for i in range(len(args))],
        keywords=[gast.keyword(arg="t_in" if forward else "g_out", value=dread)],
    )
    body = [_contribution(call, forward, stmt)]
    rule = R.Rule(
        key="dynamic",
        fn=TemplateNamespace(
            {
                "vjp_of": vjp_of,
                "jvp_of": jvp_of,
                as_adjoint.__name__: as_adjoint,
                complete_tangent.__name__: complete_tangent,
            }
        ),
        body=body,
        result="z",
        params=list(params),
        signature=None,
        differentiable=frozenset({"diff"}),
        where="sourcegrad.api." + maker,
    )
    return Op("dynamic", rule, params, operands, pure=made_by_a_maker(core, func), described=label)


def _maker_call(maker: str, wrt: tuple, keywords: tuple) -> gast.Call:
    """``vjp_of(fn, wrt)`` (``jvp_of``), with the names of the keyword arguments third."""
    which = (
        S.const(wrt[0])
        if len(wrt) == 1
        else gast.Tuple(elts=[S.const(i) for i in wrt], ctx=gast.Load())
    )
    args = [S.name("fn"), which]
    if keywords:
        args.append(gast.Tuple(elts=[S.const(k) for k in keywords], ctx=gast.Load()))
    return gast.Call(func=S.name(maker), args=args, keywords=[])


def _dynamic_wrt(core, func, args, varied) -> tuple:
    """``(receiver, wrt)`` of a call of a function value: the positions of the arguments
    that may vary, after :data:`~.derive.RECEIVER` where the object the function is taken
    from may (``layer(h)``, ``self.forward(h)`` with the object holding differentiated
    values)."""
    wrt = tuple(i for i, a in enumerate(args) if _may_vary(a, varied))
    receiver = func.value if isinstance(func, gast.Attribute) else func
    if (
        isinstance(receiver, gast.Name)
        and _may_vary(receiver, varied)
        and nested_function(core, receiver.id) is None  # holds nothing: its reads are checked
        and not (isinstance(func, gast.Attribute) and func.attr in _ITEM_METHODS)
    ):
        wrt = (derive.RECEIVER, *wrt)
    return receiver, wrt


def _copies_for_known_callee(core, func, args, wrt) -> None:
    """A callable object or bound method held in a global, known when the derivative is built:
    its call gets a copy of each argument it changes in place, as a helper's call does
    (:func:`~.in_place.mark_copied_arguments`); one known only when the derivative runs is
    asked then (:func:`~.in_place.mark_unknown_callee`)."""
    nested = nested_function(core, func.id) if isinstance(func, gast.Name) else None
    if nested is not None:  # a nested def or lambda: its source is the function's own
        names = [a.id for a in nested[1].posonlyargs + nested[1].args]
        varied = {names[i] for i in wrt if isinstance(i, int) and i < len(names)}
        return mark_copied_arguments(gast.Module(nested[0], []), dict(zip(names, args)), varied)
    obj = resolve(core.parsed, func, local_names(core))
    if obj is UNRESOLVED and not made_by_sourcegrad(core, func):
        return mark_unknown_callee(core, args, wrt)
    if isinstance(obj, types.MethodType):
        fn = obj.__func__
    elif callable_object(obj) and not isinstance(obj, types.FunctionType):
        fn = inspect.getattr_static(type(obj), "__call__", None)
    else:
        return
    if not (isinstance(fn, types.FunctionType) and is_user_function(fn)):
        return
    try:
        node = parse(fn).node
    except SourcegradError:
        return
    names = [a.id for a in node.args.posonlyargs + node.args.args][1:]  # after self
    varied = {names[i] for i in wrt if isinstance(i, int) and i < len(names)}
    mark_copied_arguments(node, dict(zip(names, args)), varied)


def refuse_writing_helper(core, stmt, varied) -> None:
    """``helper(y)`` as a statement, where the helper writes into an argument it is given a
    differentiated name for: Python changes ``y``, which the derivative would not follow."""
    call = stmt.value
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)):
        return
    fn = resolve(core.parsed, call.func, local_names(core))
    if not (is_user_function(fn) and lookup_rule(core, fn) is None):
        return
    try:
        callee = parse(fn)
        bound = inspect.signature(fn, follow_wrapped=False).bind(
            *call.args, **{k.arg: k.value for k in call.keywords}
        )
    except (SourcegradError, TypeError, ValueError):
        return
    mark_copied_arguments(
        callee.node,
        bound.arguments,
        {k for k, a in bound.arguments.items() if isinstance(a, gast.Name) and a.id in varied},
    )
    for name, arg in bound.arguments.items():
        differentiated = isinstance(arg, gast.Name) and arg.id in varied
        line = item_written_line(callee.node, name) if differentiated else None
        if line is not None:
            label = call.func.id
            raise UnsupportedSyntaxError(
                f"{label}() writes into its argument `{name}` ({callee.filename}:{line}); "
                "sourcegrad follows values, not changes made in place: make "
                f"{label}() return the new array and assign it (`{arg.id} = {label}(...)`)",
                core.parsed.filename,
                stmt.lineno,
            )


def callable_object(obj) -> bool:
    """An object whose class defines ``__call__`` in Python, a bound method of a Python
    function (not a class: calling it constructs an object), or a ``functools.partial``."""
    if isinstance(obj, type):
        return False
    if isinstance(obj, functools.partial):  # called with the arguments it binds
        return True
    if isinstance(obj, types.MethodType):
        return isinstance(obj.__func__, types.FunctionType)
    call = next(
        (k.__dict__["__call__"] for k in type(obj).__mro__ if "__call__" in k.__dict__), None
    )
    return isinstance(call, types.FunctionType)


def _has_display(args) -> bool:
    return any(isinstance(a, (gast.Tuple, gast.List, gast.Dict)) for a in args)


def _may_vary(arg, varied) -> bool:
    """Whether a call's argument (a name, or a tuple, list or dict display of names) may
    depend on the differentiated arguments: then the call is differentiated with respect to
    it."""
    if isinstance(arg, gast.Name):
        return varied is None or arg.id in varied
    if isinstance(arg, (gast.Tuple, gast.List, gast.Dict)):
        return any(
            isinstance(n, gast.Name) and (varied is None or n.id in varied) for n in S.walk(arg)
        )
    return False


#: (function, wrt, forward) -> its derivative, while a rule made for a call of it is alive


def call_user_function(core: Core, stmt, fn, args, kwargs, label, varied=None) -> Op:
    """A call to one of the user's own functions: its derivative is sourcegrad's ``vjp`` of
    that function, transformed from its own source (recursively, when it is first needed)."""
    where = (core.parsed.filename, stmt.lineno)
    user_fn = fn
    fn, sig, given, callee = _bind_user_call(fn, args, kwargs, label, where)
    names = list(sig.parameters)
    wrt = tuple(i for i, name in enumerate(names) if _may_vary(given.get(name), varied))
    mark_copied_arguments(callee.node, given, {names[i] for i in wrt})
    operands = [*args, *kwargs.values()]
    if not wrt:
        return Op(fn, "constant", operands=operands, pure=False, described=label)
    forward = core.forward
    derivative = _derivative_of(fn, wrt, forward)
    base = label.split(".")[-1]
    vjp_name = derivative_name(
        "jvp" if forward else "vjp", fn, base if base.isidentifier() else "fn"
    )
    params = {f"a{i}": given[name] for i, name in enumerate(names) if name in given}
    call_args, call_kwargs, defaults = derive.call_arguments(sig, given)
    dread = gast.Subscript(
        value=S.name("d"), slice=S.name("diff" if forward else "z"), ctx=gast.Load()
    )
    if forward and _has_display(given[names[i]] for i in wrt):
        # a display's constant items have no tangent: zeros in their place
        dread = S.call(S.name(complete_tangent.__name__), [dread, S.name("diff")])
    call_kwargs.append(gast.keyword(arg="t_in" if forward else "g_out", value=dread))
    diff = [given[names[i]] for i in wrt]
    params["diff"] = diff[0] if len(diff) == 1 else gast.Tuple(elts=diff, ctx=gast.Load())
    value = gast.Call(func=S.name(vjp_name), args=call_args, keywords=call_kwargs)
    rule = R.Rule(
        key=fn,
        fn=TemplateNamespace(
            {
                vjp_name: derivative,
                as_adjoint.__name__: as_adjoint,
                complete_tangent.__name__: complete_tangent,
                **defaults,
            }
        ),
        body=[_contribution(value, forward, stmt)],
        result="z",
        params=list(params),
        signature=sig,
        differentiable=frozenset({"diff"}),
        where=f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}",
    )
    op = Op(fn, rule, params, operands, pure=True, described=label)
    op.user_call = (user_fn, args, kwargs)
    return op


_SITES = itertools.count()


def _pair(stmt, vjp_call) -> None:
    """Mark the statement calling a function and the call of its vjp in the rule as one
    site, so the running code may keep the callee's forward sweep for its adjoint
    (``transform/optimize/kept_calls.py``)."""
    if stmt is None or not isinstance(stmt, gast.Assign):
        return
    site = next(_SITES)
    set_fact(stmt, "kept", site)
    set_fact(vjp_call, "kept", site)


def _bind_user_call(fn, args, kwargs, label, where):
    """``(function, signature, {parameter: argument given}, parsed callee)`` of a call to
    ``fn``: for a ``fn`` with ``*args`` or ``**kwargs``, its :func:`~.parse.packed` form and
    the variable arguments as one tuple and one dict display; refuses a call that does not
    match or a callee without source."""
    try:
        sig = inspect.signature(fn, follow_wrapped=False)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UnsupportedSyntaxError(
            f"cannot match the arguments of the call to {label}() ({exc})", *where
        ) from None
    try:
        callee = parse(fn)
    except SourcegradError as exc:
        raise type(exc)(
            f"{label}() is called with a differentiated argument, but {exc.reason} "
            f"({fn.__code__.co_filename}:{fn.__code__.co_firstlineno})",
            *where,
        ) from None
    names = list(sig.parameters)
    if not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
        given = {name: bound.arguments[name] for name in names if name in bound.arguments}
        return fn, sig, given, callee
    # `def f(x, *xs, **kw)`: differentiated as `f(x, xs, kw=kw)` with one tuple and one dict
    given = {}
    for p in sig.parameters.values():
        value = bound.arguments.get(p.name, {} if p.kind is p.VAR_KEYWORD else ())
        if p.kind is p.VAR_POSITIONAL:
            value = gast.Tuple(elts=list(value), ctx=gast.Load())
        elif p.kind is p.VAR_KEYWORD:
            value = gast.Dict(keys=[S.const(k) for k in value], values=list(value.values()))
        elif p.name not in bound.arguments:
            continue
        given[p.name] = value
    try:
        fn = packed(fn)
    except SourcegradError as exc:
        raise type(exc)(exc.reason, *where) from None
    return fn, inspect.signature(fn, follow_wrapped=False), given, parse(fn)


def _derivative_of(fn, wrt: tuple, forward: bool):
    """The derivative of ``fn`` for ``wrt``: the one made for it before while what it reads
    is the same (``vjp_of``/``jvp_of`` keep them by that), so a helper whose globals were
    rebound gets a new one."""
    makers = derive.makers()
    make = makers.jvp_of if forward else makers.vjp_of
    return make(fn, wrt if len(wrt) > 1 else wrt[0])


def is_namedtuple_class(obj) -> bool:
    """A class made by ``collections.namedtuple`` (or ``typing.NamedTuple``)."""
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def construct_namedtuple(core: Core, stmt, cls, args, kwargs, label) -> Op:
    """``P(x, y)`` for a namedtuple class ``P``: a container like the tuple ``(x, y)``, its
    fields in order (defaults filled in); its adjoint is shared out field by field, its
    tangent is a ``P`` of the fields' tangents."""
    values = _field_values(core, stmt, cls, cls._fields, args, kwargs, label)
    if values is None:
        return Op(cls, None, operands=[*args, *kwargs.values()], pure=True, described=label)
    display = gast.Tuple(elts=values, ctx=gast.Load())
    rule = NAMEDTUPLE_TANGENT if core.forward else NAMEDTUPLE_ADJOINT
    return Op(cls, rule, {"x": display}, [*args, *kwargs.values()], described=label)


def _field_values(core: Core, stmt, cls, names, args, kwargs, label) -> list | None:
    """The values the call ``cls(*args, **kwargs)`` gives the fields ``names`` (defaults
    filled in, as constants), bound as Python binds them; None where a default is an object
    no literal writes."""
    try:
        bound = inspect.signature(cls).bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UnsupportedSyntaxError(
            f"cannot match the arguments of the call to {label}() ({exc})",
            core.parsed.filename,
            stmt.lineno,
        ) from None
    bound.apply_defaults()
    values = []
    for name in names:
        v = bound.arguments[name]
        if not isinstance(v, gast.AST):
            if type(v) not in (bool, int, float, str, type(None)):
                return None
            v = S.const(v)
        values.append(v)
    return values


def is_record_class(obj) -> bool:
    """A dataclass whose ``__init__`` is the one ``dataclasses`` writes (compiled from text,
    so its file is ``"<string>"``), setting each field from its argument (no ``__post_init__``, every field an ``__init__`` parameter).
    """
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        return False
    params = getattr(obj, "__dataclass_params__", None)
    fields = dataclasses.fields(obj)
    return (
        params is not None
        and params.init
        and not hasattr(obj, "__post_init__")
        and all(f.init for f in fields)
        and getattr(getattr(obj.__init__, "__code__", None), "co_filename", "") == "<string>"
    )


def construct_record(core: Core, stmt, cls, args, kwargs, label) -> Op:
    """``R(x, y)`` for a dataclass ``R`` (:func:`is_record_class`): a record holding its
    fields (defaults filled in); its adjoint is shared out field by field, its tangent is an
    ``R`` of the fields' tangents."""
    names = [f.name for f in dataclasses.fields(cls)]
    values = _field_values(core, stmt, cls, names, args, kwargs, label)
    if values is None:
        return Op(cls, None, operands=[*args, *kwargs.values()], pure=True, described=label)
    display = gast.Dict(keys=[S.const(n) for n in names], values=values)
    rule = RECORD_TANGENT if core.forward else NAMEDTUPLE_ADJOINT
    return Op(cls, rule, {"x": display}, [*args, *kwargs.values()], described=label)


def _make_namedtuple_rules():
    def construct(z, x):  # z = P(*x): each field's adjoint from the container's
        d[x] += d[z]  # noqa: F821

    def construct_tangent(z, x):  # zeros for the fields that are constants
        d[z] += complete_tangent(d[x], z)  # noqa: F821

    return R.registry.parse_template(construct, "namedtuple"), R.registry.parse_template(
        construct_tangent, "namedtuple"
    )


NAMEDTUPLE_ADJOINT, NAMEDTUPLE_TANGENT = _make_namedtuple_rules()


def _make_record_tangent():
    def construct_tangent(z, x):  # a record of the fields' tangents, zeros for constants
        d[z] += record_tangent(d[x], z)  # noqa: F821

    return R.registry.parse_template(construct_tangent, "record")


RECORD_TANGENT = _make_record_tangent()
d = R.registry.d  # read by the rule templates above


def _contribution(call, forward: bool, stmt=None):
    """``d[z] += call[1]`` (forward) or ``d[diff] += as_adjoint(call)`` (reverse), the vjp
    call paired with ``stmt``, the statement making the call (see :func:`_pair`)."""
    if not forward:
        _pair(stmt, call)
    if forward:
        value = gast.Subscript(value=call, slice=S.const(1), ctx=gast.Load())
    else:  # a container argument's gradient, as an adjoint that adds leaf by leaf
        value = S.call(S.name(as_adjoint.__name__), [call])
    return gast.AugAssign(
        target=gast.Subscript(
            value=S.name("d"), slice=S.name("z" if forward else "diff"), ctx=gast.Store()
        ),
        op=gast.Add(),
        value=value,
    )
