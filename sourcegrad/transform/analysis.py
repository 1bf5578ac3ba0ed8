"""Pass 3 — analyze: what each statement computes, and which values need adjoints.

Guarantees to the next pass (``Analysis``):

* ``ops[id(stmt)]`` classifies every assignment and expression statement: the rule key, the
  rule (or ``"constant"``), the operands bound to the rule's parameters, and whether the
  operation is free of side effects;
* ``active``: the names that depend on a ``wrt`` argument through differentiable operations
  **and** reach the output through them (activity analysis, solved as two data-flow problems
  on the control-flow graph); only these get adjoints;
* ``ranks``: the number of dimensions of each name where the argument signature fixes it;
* ``same_shape``: classes of names whose shapes are provably equal (so a broadcast reduction
  between them is the identity).

Operations on active values that have no rule are refused here, with the user's file and line.
"""

from __future__ import annotations

import inspect
import sys
import types
import weakref
from dataclasses import dataclass, field

import gast
import numpy as np

from .. import rules as R
from ..errors import NoRuleError, SourcegradError, UnsupportedSyntaxError
from ..runtime.tangent_helpers import complete_tangent
from ..runtime.trees import as_adjoint
from . import derive
from . import syntax as S
from .cfg import build_cfg, solve_backward, solve_forward
from .normalize import Core, follow_keys
from .parse import UNRESOLVED, is_installed, parse, resolve
from .walk import walk_statements, written_names


@dataclass
class Op:
    """One operation of the core language."""

    key: object
    rule: object  # Rule, "constant", or None
    bound: dict = field(default_factory=dict)  # rule parameter -> atom (or tuple of atoms)
    operands: list = field(default_factory=list)  # every atom the operation reads
    pure: bool = True
    label: str = ""  # how the operation reads in an error message
    user_call: tuple = ()  # (function, args, kwargs) for a call to the user's own function
    dynamic_call: tuple = ()  # (function name, args) for a call to a local function

    @property
    def differentiable(self) -> bool:
        return isinstance(self.rule, R.Rule)

    def diff_atoms(self):
        """Atoms whose adjoints this operation contributes to. For an operation sourcegrad
        knows nothing about, every operand: so that a differentiated value flowing through it
        is refused instead of silently getting a zero gradient."""
        if self.rule is None:
            return list(self.operands)
        if not self.differentiable:
            return []
        out = []
        for p in self.rule.differentiable:
            if p in self.bound:
                v = self.bound[p]
                out.extend(v.elts if isinstance(v, (gast.Tuple, gast.List)) else [v])
        return out


@dataclass
class Analysis:
    core: Core
    wrt: tuple
    ops: dict
    active: set
    ranks: dict
    same_shape: ShapeClasses
    output: object  # the atom whose value is differentiated
    varied_in: dict = field(default_factory=dict)  # id(stmt) -> names varied before it


def analyze(
    core: Core, wrt: tuple, example_args=None, whole_output: bool = False, mode: str = "reverse"
) -> Analysis:
    """Classify operations, run activity analysis and rank inference for ``wrt``.

    ``mode="forward"`` classifies with the forward-mode (tangent) rules instead of the
    reverse-mode ones."""
    ops = {}
    core.example_args = example_args
    core.forward = mode == "forward"
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign):
            ops[id(stmt)] = classify(core, stmt)
        elif isinstance(stmt, gast.Expr):
            # a call kept for its side effects (print, logging): its result goes nowhere
            ops[id(stmt)] = Op("effect", "constant", operands=[stmt.value], pure=False)
    wrt_names = {core.params[i] for i in wrt}
    out = core.node.body[-1].value if whole_output else _output(core)
    cfg = build_cfg(core.node.body)

    def gen_varied(stmt, varied):
        if isinstance(stmt, gast.For):
            return varied - _reads(stmt.target)  # the loop variable is a fresh integer
        op = ops.get(id(stmt))
        if op is None or not isinstance(stmt, gast.Assign):
            return varied
        hit = any(_reads(a) & varied for a in op.diff_atoms())
        targets = written_names(stmt)
        return (varied | targets) if hit else (varied - targets)

    varied = solve_forward(cfg, set(wrt_names), gen_varied)
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if isinstance(stmt, gast.Expr):
            _refuse_writing_helper(core, stmt, varied.get(("in", id(stmt)), set()))
        if op is not None and getattr(op, "dynamic_call", None):
            func, args = op.dynamic_call
            before = varied.get(("in", id(stmt)), set())
            name = func.id if isinstance(func, gast.Name) else None
            captured = _free_names(core, name) & before if name else set()
            if captured:
                raise UnsupportedSyntaxError(
                    f"the nested function `{func.id}` reads `{sorted(captured)[0]}` from the "
                    "enclosing function, and that value is being differentiated; pass it to "
                    f"`{func.id}` as an argument instead",
                    core.parsed.filename,
                    stmt.lineno,
                )
            ops[id(stmt)] = _call_dynamic(core, func, args, before)
        if op is not None and getattr(op, "user_call", None):
            # differentiate the user's function only with respect to what varies here
            fn, args, kwargs = op.user_call
            before = varied.get(("in", id(stmt)), set())
            ops[id(stmt)] = _call_user_function(core, stmt, fn, args, kwargs, op.label, before)

    def gen_useful(stmt, useful):
        if isinstance(stmt, gast.Return):
            return useful | _reads(out)
        if isinstance(stmt, gast.For):
            return useful - _reads(stmt.target)
        op = ops.get(id(stmt))
        if op is None or not isinstance(stmt, gast.Assign):
            return useful
        targets = written_names(stmt)
        if targets & useful:
            useful = useful - targets
            for a in op.diff_atoms():
                useful = useful | _reads(a)
        return useful

    useful_in = solve_backward(cfg, set(), gen_useful)
    active = set()
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign):
            v = varied.get(id(stmt), set())  # varied after the statement
            u = useful_in.get(id(stmt), set())  # useful after the statement
            for t in written_names(stmt):
                if t in v and t in u:
                    active.add(t)
    active |= {n for n in wrt_names if n in useful_in.get("entry", set())}
    _refuse_undifferentiable(core, ops, varied, useful_in)
    ranks = infer_ranks(core, ops, example_args)
    for name, message, line in core.alias_checks:
        if name is None or ranks.get(name) != 0:
            raise UnsupportedSyntaxError(message, core.parsed.filename, line)
    shapes = ShapeClasses()
    # a name assigned more than once (in a loop, in branches) may hold values of different
    # shapes: it is left out of every shape class
    defs: dict = {p: 1 for p in core.params}
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, (gast.Assign, gast.For)):
            for t in written_names(stmt) if isinstance(stmt, gast.Assign) else _reads(stmt.target):
                defs[t] = defs.get(t, 0) + 1
    shapes.multi = {n for n, k in defs.items() if k > 1}
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if op is not None and isinstance(stmt, gast.Assign):
            shapes.stmt = stmt
            _shape_facts(shapes, stmt, op, ranks)
    varied_in = {k[1]: v for k, v in varied.items() if isinstance(k, tuple)}
    return Analysis(core, tuple(wrt), ops, active, ranks, shapes, out, varied_in)


def _output(core: Core):
    last = core.node.body[-1]
    value = last.value
    if isinstance(value, gast.Tuple):
        return value.elts[0]
    return value


def _reads(atom) -> set:
    return {n.id for n in S.walk(atom) if isinstance(n, gast.Name)}


# ------------------------------------------------------------------------- classification


def classify(core: Core, stmt) -> Op:
    """The :class:`Op` a core assignment or expression statement performs."""
    value = stmt.value
    parsed = core.parsed
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
        target = stmt.targets[0]
        return _bind(core, stmt, "setitem", [target.value, target.slice, value], {}, "x[k] = v")
    if getattr(value, "sg_opaque", False):
        return Op("opaque", None, operands=[value], pure=False, label=_text(value))
    if getattr(stmt, "sg_path", None):
        return Op("path", _PATH_RULE, {"x": S.name(stmt.sg_path[0])}, [value], label="path")
    if S.is_atom(value):
        return Op("copy", _lookup(core, "copy"), {"x": value}, [value], label="copy")
    if isinstance(value, gast.BinOp):
        key = R.BINOPS.get(type(value.op))
        left = value.left
        if key == "mod" and isinstance(left, gast.Constant) and isinstance(left.value, str):
            key = "format"  # "loss %f" % x: string formatting, not a remainder
        return _bind(core, stmt, key, [value.left, value.right], {}, _text(value))
    if isinstance(value, gast.UnaryOp):
        key = R.UNARYOPS.get(type(value.op))
        return _bind(core, stmt, key, [value.operand], {}, _text(value))
    if isinstance(value, gast.Compare):
        return Op("compare", "constant", operands=[value.left, *value.comparators], label="compare")
    if isinstance(value, gast.Attribute):
        key = R.ATTRIBUTES.get(value.attr)
        if key is None and isinstance(value.value, gast.Name) and value.value.id in _locals(core):
            # a field of a value the function holds (a namedtuple read in a loop)
            field = [value.value, S.const(value.attr)]
            return _bind(core, stmt, "field", field, {}, "." + value.attr)
        return _bind(core, stmt, key, [value.value], {}, "." + value.attr)
    if isinstance(value, gast.Subscript):
        return _bind(core, stmt, "getitem", [value.value, value.slice], {}, "indexing")
    if isinstance(value, gast.Dict):
        if all(k is not None and S.is_atom(k) for k in value.keys):
            return Op("pack", _PACK_RULE, {"x": value}, list(value.values), label="dict")
    if isinstance(value, (gast.Tuple, gast.List)):
        starred = [isinstance(e, gast.Starred) for e in value.elts]
        if starred == [True, False]:
            return _bind(
                core, stmt, "list_append", [value.elts[0].value, value.elts[1]], {}, ".append()"
            )
        if any(starred):
            return Op("opaque", None, operands=[value], pure=True, label=_text(value))
        return Op("pack", _PACK_RULE, {"x": value}, [value], label="tuple")
    if isinstance(value, gast.Call):
        kwargs = {k.arg: k.value for k in value.keywords}
        func = value.func
        if getattr(func, "sg_static", False) or (
            isinstance(func, gast.Name) and func.id not in _locals(core)
        ):
            obj = resolve(parsed, func, _locals(core))
            label = S.dotted(func) or _text(func)
            if obj is UNRESOLVED:
                return Op(
                    None, None, operands=[*value.args, *kwargs.values()], pure=False, label=label
                )
            if (
                _lookup(core, obj) is None
                and _is_user_function(obj)
                and obj not in R.PRIMITIVES  # declared opaque: only its registered rules
            ):
                return _call_user_function(core, stmt, obj, list(value.args), kwargs, label)
            if _is_derivative(obj) and set(kwargs) <= {"g_out", "t_in"}:
                # the seed of a vjp (or tangent of a jvp) is its last positional argument
                call_args = list(value.args) + list(kwargs.values())
                op = _call_dynamic(core, func, call_args, None)
                op.dynamic_call = (func, call_args)
                return op
            if not kwargs and _lookup(core, obj) is None and _callable_object(obj):
                # a layer object or a bound method kept in a global: found when it runs
                op = _call_dynamic(core, func, list(value.args), None)
                op.dynamic_call = (func, list(value.args))
                return op
            op = _bind(core, stmt, obj, list(value.args), kwargs, label)
            module = getattr(obj, "__module__", "") or ""
            if (
                module.startswith("numpy.random")
                or isinstance(obj, types.BuiltinMethodType)
                and ("random" in repr(getattr(obj, "__self__", "")))
            ):
                op.pure = False
                op.rule = "constant"
            elif obj is print or not (isinstance(obj, np.ufunc) or op.differentiable):
                op.pure = obj in _PURE_CONSTANTS
            return op
        if isinstance(func, gast.Attribute):
            entry = R.METHODS.get(func.attr)
            label = "." + func.attr + "()"
            method = _user_method(core, func)
            if method is not None:
                label = _text(func)
                return _call_user_function(
                    core, stmt, method, [func.value, *value.args], kwargs, label
                )
            if entry is None and not kwargs and _called_attribute(core, func):
                # `layer.forward(h)`, `self.act(z)`: the function is found when the
                # derivative runs, from the object
                op = _call_dynamic(core, func, list(value.args), None)
                op.dynamic_call = (func, list(value.args))
                return op
            if entry is None:
                return Op(
                    None,
                    None,
                    operands=[func.value, *value.args, *kwargs.values()],
                    pure=False,
                    label=label,
                )
            key, packs = entry
            args = list(value.args)
            if packs and (len(args) > 1 or (len(args) == 1 and _is_int_atom(args[0]))):
                args = [gast.Tuple(elts=args, ctx=gast.Load())]
            return _bind(core, stmt, key, [func.value, *args], kwargs, label)
        if isinstance(func, gast.Name) and set(kwargs) <= {"g_out", "t_in"}:
            # a function made while the function runs (nested def, lambda, a layer object, a
            # derivative a derivative made): its vjp is found when the derivative runs, from
            # the function object itself; a derivative's seed is its last positional argument
            call_args = list(value.args) + list(kwargs.values())
            op = _call_dynamic(core, func, call_args, None)
            op.dynamic_call = (func, call_args)
            return op
        return Op(
            None,
            None,
            operands=[func, *value.args, *kwargs.values()],
            pure=False,
            label=_text(func),
        )
    return Op("opaque", None, operands=[value], pure=False, label=_text(value))


def _locals(core: Core) -> set:
    cached = getattr(core, "_locals", None)
    if cached is None:
        cached = set(core.params) | {
            n.id
            for n in S.walk(core.node)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        cached |= {n.name for n in S.walk(core.node) if isinstance(n, gast.FunctionDef)} - {
            core.node.name
        }
        core._locals = cached
    return cached


def _is_int_atom(atom) -> bool:
    return isinstance(atom, gast.Constant) and isinstance(atom.value, int)


#: keys whose derivative rule reshapes back in C order (see rules/shapes.py RESHAPES)
_RESHAPE_KEYS = (np.reshape, np.ravel, "reshape", "ravel")


def _lookup(core, key):
    if key is None:
        return None
    return R.lookup_tangent(key) if getattr(core, "forward", False) else R.lookup(key)


def _bind(core, stmt, key, args, kwargs, label) -> Op:
    rule = _lookup(core, key)
    operands = [*args, *kwargs.values()]
    order = kwargs.get("order")
    if (
        isinstance(rule, R.Rule)
        and key in _RESHAPE_KEYS
        and order is not None
        and not (isinstance(order, gast.Constant) and order.value in ("C", "A", "K"))
    ):  # the rule reshapes the gradient back in C order
        raise NoRuleError(
            f"{label}: reshaping with order={gast.unparse(order).strip()} is not supported; "
            "transpose explicitly (x.T.reshape(...)) or reshape in C order",
            core.parsed.filename,
            stmt.lineno,
        )
    if not isinstance(rule, R.Rule):
        return Op(key, rule, operands=operands, label=label)
    try:
        bound = rule.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise NoRuleError(
            f"{label}: the derivative rule does not accept these arguments ({exc}); "
            f"the rule is defined at {rule.where}",
            core.parsed.filename,
            stmt.lineno,
        ) from None
    bound.apply_defaults()
    params = {}
    for p, v in bound.arguments.items():
        kind = rule.signature.parameters[p].kind
        if kind is kind.VAR_POSITIONAL:
            params[p] = gast.Tuple(elts=list(v), ctx=gast.Load())
        elif kind is kind.VAR_KEYWORD:
            continue
        elif isinstance(v, gast.AST):
            params[p] = v
        else:
            params[p] = S.const(v)
    return Op(key, rule, params, operands, label=label)


_PURE_CONSTANTS = {len, range, isinstance, type, int, bool, round, enumerate, zip, str}


def _user_method(core, func):
    """The plain function behind ``obj.method`` when ``obj`` is one of the user's objects:
    a global or closure variable, or an argument (its type taken from the example call)."""
    receiver = func.value
    if not isinstance(receiver, gast.Name):
        return None
    obj = UNRESOLVED
    example = getattr(core, "example_args", None)
    root, keys = receiver.id, ()
    if receiver.id in core.paths:  # self.layer: an argument's attribute
        root, keys = core.paths[receiver.id]
    if root in core.params:
        i = core.params.index(root)
        if example is not None and i < len(example):
            obj = follow_keys(example[i], keys, UNRESOLVED)
            if obj is UNRESOLVED:
                return None
    elif receiver.id not in _locals(core):
        obj = resolve(core.parsed, receiver, _locals(core))
    if obj is UNRESOLVED or isinstance(obj, (np.ndarray, np.generic, list, tuple, dict)):
        return None
    attr = getattr(type(obj), func.attr, None)
    return attr if _is_user_function(attr) else None


def _called_attribute(core, func) -> bool:
    """Whether ``obj.name(...)`` calls a function value held by one of the function's own
    objects: ``obj`` a local name or an argument, ``name`` no array method (``x.cumprod()``
    stays a method without a rule, refused where it is read)."""
    receiver = func.value
    if not isinstance(receiver, gast.Name) or hasattr(np.ndarray, func.attr):
        return False
    example = _example_value(core, receiver.id)
    if example is not UNRESOLVED:  # an argument's value: its own kind decides
        return not isinstance(example, (np.ndarray, np.generic, float, int, complex))
    return receiver.id in _locals(core)


def _example_value(core, name: str):
    """The value an argument (or a path read from one) has in the call the derivative is
    built for; UNRESOLVED where that is not known."""
    example = getattr(core, "example_args", None)
    root, keys = core.paths[name] if name in core.paths else (name, ())
    if example is None or root not in core.params or core.params.index(root) >= len(example):
        return UNRESOLVED
    return follow_keys(example[core.params.index(root)], keys, UNRESOLVED)


def _is_user_function(obj) -> bool:
    """A Python function of the user's (not NumPy's, sourcegrad's, or the standard library's)."""
    module = (getattr(obj, "__module__", "") or "").split(".")[0]
    return (
        isinstance(obj, types.FunctionType)
        and module not in ("numpy", "sourcegrad")
        and module not in sys.stdlib_module_names
        and not is_installed(obj)  # a third-party package's function needs a rule
    )


def _free_names(core, name: str) -> set:
    """Names a nested ``def name`` or ``name = lambda ...`` of the function reads from it."""
    for node in S.walk(core.node):
        if isinstance(node, gast.FunctionDef) and node.name == name and node is not core.node:
            inner, params = node.body, node.args
            break
        if (
            isinstance(node, gast.Assign)
            and isinstance(node.targets[0], gast.Name)
            and node.targets[0].id == name
            and isinstance(node.value, gast.Lambda)
        ):
            inner, params = [node.value.body], node.value.args
            break
    else:
        return set()
    own = {a.id for a in params.args + params.kwonlyargs + params.posonlyargs}
    read, bound = set(), set(own)
    for stmt in inner:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name):
                (bound if isinstance(n.ctx, gast.Store) else read).add(n.id)
    return (read - bound) & _locals(core)


def _is_derivative(obj) -> bool:
    """A function made by sourcegrad (grad, vjp, jvp, ...): differentiated through its own
    generated source, never its Python wrapper."""
    return derive.makers().is_derivative(obj)


def _call_dynamic(core, func, args, varied) -> Op:
    """``d[args] += vjp_of(func, wrt)(*args, g_out=d[z])`` for a function ``func`` known only
    when the derivative runs (a nested function, a lambda, a function made by sourcegrad); in
    forward mode ``d[z] += jvp_of(func, wrt)(*args, t_in=d[args])[1]``."""
    vjp_of, jvp_of = derive.makers().vjp_of, derive.makers().jvp_of

    label = S.dotted(func) or _text(func)
    wrt = tuple(i for i, a in enumerate(args) if _may_vary(a, varied))
    operands = [func, *args]
    if not wrt:
        return Op(None, "constant", operands=operands, pure=False, label=label)
    params = {"fn": func, **{f"a{i}": a for i, a in enumerate(args)}}
    diff = [args[i] for i in wrt]
    params["diff"] = diff[0] if len(diff) == 1 else gast.Tuple(elts=diff, ctx=gast.Load())
    which = (
        S.const(wrt[0])
        if len(wrt) == 1
        else gast.Tuple(elts=[S.const(i) for i in wrt], ctx=gast.Load())
    )
    forward = getattr(core, "forward", False)
    dname = "diff" if forward else "z"
    dread = gast.Subscript(value=S.name("d"), slice=S.name(dname), ctx=gast.Load())
    if forward and _has_display(args[i] for i in wrt):
        dread = S.call(S.name("complete_tangent"), [dread, S.name("diff")])
    maker = "jvp_of" if forward else "vjp_of"
    call = gast.Call(
        func=gast.Call(func=S.name(maker), args=[S.name("fn"), which], keywords=[]),
        args=[S.name(f"a{i}") for i in range(len(args))],
        keywords=[gast.keyword(arg="t_in" if forward else "g_out", value=dread)],
    )
    if forward:
        call = gast.Subscript(value=call, slice=S.const(1), ctx=gast.Load())
    else:  # a container argument's gradient, as an adjoint that adds leaf by leaf
        call = S.call(S.name("as_adjoint"), [call])
    target = "z" if forward else "diff"
    body = [
        gast.AugAssign(
            target=gast.Subscript(value=S.name("d"), slice=S.name(target), ctx=gast.Store()),
            op=gast.Add(),
            value=call,
        )
    ]
    rule = R.Rule(
        key="dynamic",
        fn=_RuleNamespace(
            {
                "vjp_of": vjp_of,
                "jvp_of": jvp_of,
                "as_adjoint": as_adjoint,
                "complete_tangent": complete_tangent,
            }
        ),
        body=body,
        result="z",
        params=list(params),
        signature=None,
        differentiable=frozenset({"diff"}),
        where="sourcegrad.api." + maker,
    )
    return Op("dynamic", rule, params, operands, pure=False, label=label)


def _refuse_writing_helper(core, stmt, varied) -> None:
    """``helper(y)`` as a statement, where the helper writes into an argument it is given a
    differentiated name for: Python changes ``y``, which the derivative would not follow."""
    call = stmt.value
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)):
        return
    fn = resolve(core.parsed, call.func, _locals(core))
    if not (_is_user_function(fn) and _lookup(core, fn) is None):
        return
    try:
        callee = parse(fn)
        bound = inspect.signature(fn).bind(*call.args, **{k.arg: k.value for k in call.keywords})
    except (SourcegradError, TypeError, ValueError):
        return
    for name, arg in bound.arguments.items():
        differentiated = isinstance(arg, gast.Name) and arg.id in varied
        line = _writes_into(callee.node, name) if differentiated else None
        if line is not None:
            label = call.func.id
            raise UnsupportedSyntaxError(
                f"{label}() writes into its argument `{name}` ({callee.filename}:{line}); "
                "sourcegrad follows values, not changes made in place: make "
                f"{label}() return the new array and assign it (`{arg.id} = {label}(...)`)",
                core.parsed.filename,
                stmt.lineno,
            )


def _writes_into(fn_node, param: str):
    """The line of a write ``param[k] = v`` (or ``param[k] += v``) into the parameter itself,
    where the function never rebinds the name; else None."""
    rebound = any(
        isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and n.id == param
        for n in S.walk(fn_node)
    )
    if rebound:
        return None
    for n in S.walk(fn_node):
        if (
            isinstance(n, gast.Subscript)
            and isinstance(n.ctx, gast.Store)
            and isinstance(n.value, gast.Name)
            and n.value.id == param
        ):
            return n.lineno
    return None


def _callable_object(obj) -> bool:
    """An object whose class defines ``__call__`` in Python, or a bound method of a Python
    function (not a class: calling it constructs an object)."""
    if isinstance(obj, type):
        return False
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


class _RuleNamespace:
    """Stands in for a template function: what the generated rule's names refer to."""

    def __init__(self, globals_: dict):
        self.__globals__ = globals_


#: (function, wrt, forward) -> its derivative, while a rule made for a call of it is alive
_VJPS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _call_user_function(core, stmt, fn, args, kwargs, label, varied=None) -> Op:
    """A call to one of the user's own functions: its derivative is sourcegrad's ``vjp`` of
    that function, transformed from its own source (recursively, when it is first needed)."""
    vjp_of, jvp_of = derive.makers().vjp_of, derive.makers().jvp_of
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UnsupportedSyntaxError(
            f"cannot match the arguments of the call to {label}() ({exc})",
            core.parsed.filename,
            stmt.lineno,
        ) from None
    try:
        callee = parse(fn)
    except SourcegradError as exc:
        raise type(exc)(
            f"{label}() is called with a differentiated argument, but {exc.reason} "
            f"({fn.__code__.co_filename}:{fn.__code__.co_firstlineno})",
            core.parsed.filename,
            stmt.lineno,
        ) from None
    names = list(sig.parameters)
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise UnsupportedSyntaxError(
                f"{label}() takes *args or **kwargs, so sourcegrad cannot differentiate calls to "
                "it; give every argument a name",
                core.parsed.filename,
                stmt.lineno,
            )
    given = {name: bound.arguments[name] for name in names if name in bound.arguments}
    wrt = tuple(i for i, name in enumerate(names) if _may_vary(given.get(name), varied))
    operands = [*args, *kwargs.values()]
    if not wrt:
        return Op(fn, "constant", operands=operands, pure=False, label=label)
    for i in wrt:
        line = _writes_into(callee.node, names[i])
        if line is not None:
            raise UnsupportedSyntaxError(
                f"{label}() writes into its argument `{names[i]}` ({callee.filename}:{line}), "
                "which is being differentiated here; sourcegrad follows values, not changes made "
                f"in place: make {label}() return the new array and assign it "
                f"(`{_text(given[names[i]])} = {label}(...)`)",
                core.parsed.filename,
                stmt.lineno,
            )
    forward = getattr(core, "forward", False)
    key = (fn, wrt, forward)
    derivative = _VJPS.get(key)
    if derivative is None:  # held by the rules that call it (_VJPS holds it weakly)
        derivative = (jvp_of if forward else vjp_of)(fn, wrt if len(wrt) > 1 else wrt[0])
        _VJPS[key] = derivative
    base = fn.__name__ if fn.__name__.isidentifier() else label.split(".")[-1]
    prefix = "jvp" if forward else "vjp"
    vjp_name = f"{prefix}_{base}" if base.isidentifier() else f"{prefix}_fn"
    params = {f"a{i}": given[name] for i, name in enumerate(names) if name in given}
    call_args, call_kwargs, gap = [], [], False
    for i, name in enumerate(names):
        if name not in given:
            default = sig.parameters[name].default
            plain = type(default) in (bool, int, float, str, type(None))
            if not gap and plain and default == default:  # (not NaN: no literal for it)
                # a left-out plain default, written out: the call stays positional, which
                # forward mode over this derivative (Hessian-vector products) needs
                call_args.append(S.const(default))
                continue
            gap = True
            continue
        if gap:
            call_kwargs.append(gast.keyword(arg=name, value=S.name(f"a{i}")))
        else:
            call_args.append(S.name(f"a{i}"))
    dread = gast.Subscript(
        value=S.name("d"), slice=S.name("diff" if forward else "z"), ctx=gast.Load()
    )
    if forward and _has_display(given[names[i]] for i in wrt):
        # a display's constant items have no tangent: zeros in their place
        dread = S.call(S.name("complete_tangent"), [dread, S.name("diff")])
    call_kwargs.append(gast.keyword(arg="t_in" if forward else "g_out", value=dread))
    diff = [given[names[i]] for i in wrt]
    params["diff"] = diff[0] if len(diff) == 1 else gast.Tuple(elts=diff, ctx=gast.Load())
    value = gast.Call(func=S.name(vjp_name), args=call_args, keywords=call_kwargs)
    if forward:
        value = gast.Subscript(value=value, slice=S.const(1), ctx=gast.Load())
    else:  # a container argument's gradient, as an adjoint that adds leaf by leaf
        value = S.call(S.name("as_adjoint"), [value])
    body = [
        gast.AugAssign(
            target=gast.Subscript(
                value=S.name("d"), slice=S.name("z" if forward else "diff"), ctx=gast.Store()
            ),
            op=gast.Add(),
            value=value,
        )
    ]
    rule = R.Rule(
        key=fn,
        fn=_RuleNamespace(
            {vjp_name: derivative, "as_adjoint": as_adjoint, "complete_tangent": complete_tangent}
        ),
        body=body,
        result="z",
        params=list(params),
        signature=sig,
        differentiable=frozenset({"diff"}),
        where=f"{fn.__code__.co_filename}:{fn.__code__.co_firstlineno}",
    )
    op = Op(fn, rule, params, operands, pure=True, label=label)
    op.user_call = (fn, args, kwargs)
    return op


def _make_internal_rules():
    def path_rule(z, x):
        d[x] += d[z]  # noqa: F821 - handled by the reverse pass, never inlined

    def pack_rule(z, x):
        d[x] += d[z]  # noqa: F821

    return R.registry.parse_template(path_rule, "path"), R.registry.parse_template(
        pack_rule, "pack"
    )


_PATH_RULE, _PACK_RULE = _make_internal_rules()


_OPAQUE_HINTS = {
    gast.SetComp: "a set has no order: build a list ([... for v in xs]) instead",
    gast.DictComp: "build the dict with a loop (d[k] = v) or dict(zip(keys, values))",
    gast.Lambda: "define the function with `def` at module level",
}


def _refuse_undifferentiable(core, ops, varied, useful_in):
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if op is None or op.differentiable or op.rule == "constant":
            continue
        if not isinstance(stmt, gast.Assign):
            continue
        before = varied.get(("in", id(stmt)), set())
        after_useful = useful_in.get(id(stmt), set())
        reads = set().union(*[_reads(a) for a in op.operands]) if op.operands else set()
        if not (reads & before and written_names(stmt) & after_useful):
            continue
        text = core.parsed.line_text(stmt.lineno)
        if op.key == "opaque":
            hint = _OPAQUE_HINTS.get(
                type(op.operands[0]), "rewrite it with NumPy calls and operators"
            )
            raise UnsupportedSyntaxError(
                f"`{op.label}` computes a differentiated value with syntax sourcegrad does not "
                f"differentiate (in `{text}`); {hint}",
                core.parsed.filename,
                stmt.lineno,
            )
        define = "defjvp" if getattr(core, "forward", False) else "defvjp"
        way_out = (_ITERATOR_HINTS.get(op.key) if isinstance(op.key, type) else None) or (
            f"register one with sourcegrad.{define}({op.label.strip('.()')}, rule), or compute "
            "the value with functions sourcegrad knows"
        )
        raise NoRuleError(
            f"`{op.label}` has no derivative rule and a differentiated value flows through it "
            f"(in `{text}`); {way_out}",
            core.parsed.filename,
            stmt.lineno,
        )


#: the way out where a Python iterator is kept as a value instead of looped over
_ITERATOR_HINTS = {
    zip: "loop over it directly (`for a, b in zip(xs, ys):`) or index the lists (`xs[i]`)",
    enumerate: "loop over it directly (`for i, x in enumerate(xs):`) or index the list",
    map: "write the loop or a list comprehension (`[f(x) for x in xs]`) instead",
    filter: "write a list comprehension with a condition (`[x for x in xs if c]`) instead",
    reversed: "loop over it directly, or index the list backwards (`xs[::-1]`)",
}


# ------------------------------------------------------------------------- ranks

REDUCTION_FUNCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}


def _example_rank(value):
    if isinstance(value, (float, int, complex, np.number)):
        return 0
    nd = getattr(value, "ndim", None)
    return nd if isinstance(nd, int) else None


def infer_ranks(core: Core, ops: dict, example_args) -> dict:
    """Ranks of names, where the example arguments' ranks determine them."""
    ranks: dict = {}
    if example_args is not None:
        for name, value in zip(core.params, example_args):
            ranks[name] = _example_rank(value)
    # until nothing changes: in a loop, a value assigned late in the body reaches the
    # statements before it on the next iteration (a rank only ever becomes unknown)
    for _ in range(20):
        before = dict(ranks)
        _rank_sweep(core, ops, example_args, ranks)
        if ranks == before:
            break
    return ranks


def _rank_sweep(core: Core, ops: dict, example_args, ranks: dict) -> None:
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.For) and isinstance(stmt.target, gast.Name):
            is_range = (
                isinstance(stmt.iter, gast.Call) and getattr(stmt.iter.func, "id", "") == "range"
            )
            ranks[stmt.target.id] = 0 if is_range else None
            continue
        if not isinstance(stmt, gast.Assign):
            continue
        op = ops[id(stmt)]
        targets = written_names(stmt)
        if len(targets) != 1:
            continue
        (t,) = targets
        r = None
        if op.key == "path" and example_args is not None:
            r = _example_rank(follow_path(core, stmt, example_args))
        else:
            r = _rank_of(op, ranks)
        if t in ranks and ranks[t] != r:
            r = None  # a name assigned twice (in branches, in a loop) with different ranks
        ranks[t] = r


def follow_path(core, stmt, example_args):
    """The example value a path read reads; a missing key or field is refused here."""
    root, keys = stmt.sg_path
    i = core.params.index(root)
    if i >= len(example_args):
        return None
    value = example_args[i]
    for k in keys:
        try:
            if isinstance(value, (dict, list, tuple)) and not (
                isinstance(k, str) and hasattr(type(value), "_fields")
            ):
                value = value[k]
            elif isinstance(k, str) and hasattr(type(value), "_fields"):
                value = getattr(value, k)
            elif isinstance(k, int) and getattr(value, "ndim", 0) > 0:
                value = value[k]
            elif isinstance(k, str) and not isinstance(value, dict):
                value = getattr(value, k)  # an attribute of one of the user's objects
            else:
                return None  # an array read by index: its rank is worked out elsewhere
        except (KeyError, IndexError, AttributeError, TypeError):
            text = core.parsed.line_text(stmt.lineno)
            raise UnsupportedSyntaxError(
                f"`{_text(stmt.value)}` reads {k!r}, which argument {root!r} does not have "
                f"(in `{text}`); check the key, or pass a value that has it",
                core.parsed.filename,
                stmt.lineno,
            ) from None
    return value


def atom_rank(atom, ranks):
    if isinstance(atom, gast.Constant):
        return 0 if isinstance(atom.value, (int, float, complex)) else None
    if isinstance(atom, gast.Name):
        return ranks.get(atom.id)
    return None


def _rank_of(op: Op, ranks):
    key = op.key
    b = op.bound
    args = [atom_rank(a, ranks) for a in op.operands]
    if key == "setitem":
        return args[0] if args else None
    if key in ("copy", "astype", "item") or key in (np.copy, np.asarray, np.array, float):
        return 0 if key in ("item", float) else (args[0] if args else None)
    if isinstance(key, np.ufunc) and key is not np.matmul:
        known = [r for r in args if r is not None]
        return max(known) if len(known) == len(args) and known else None
    if key in (np.where, np.clip):
        known = [
            atom_rank(a, ranks)
            for a in op.operands
            if not isinstance(a, gast.Constant) or a.value is not None
        ]
        return max(known) if known and None not in known else None
    if key in REDUCTION_FUNCTIONS:
        r = atom_rank(b.get("a"), ranks)
        axis = b.get("axis")
        keep = b.get("keepdims")
        if S.is_none(axis) and isinstance(keep, gast.Constant) and not keep.value:
            return 0
        if (
            r is None
            or not isinstance(axis, (gast.Constant, gast.Tuple))
            or not isinstance(keep, gast.Constant)
        ):
            return None
        if keep.value:
            return r
        if isinstance(axis, gast.Constant):
            return 0 if axis.value is None else r - 1
        return r - len(axis.elts)
    if key in (np.matmul, np.dot):
        x, y = (atom_rank(a, ranks) for a in list(b.values())[:2])
        if x is None or y is None:
            return None
        if x == 0 or y == 0:
            return max(x, y) if key is np.dot else None
        if x == 1 and y == 1:
            return 0
        if x == 1 or y == 1:
            return max(x, y) - 1
        return max(x, y)
    if key in ("T", np.transpose, np.swapaxes, np.moveaxis, np.flip):
        return args[0] if args else None
    if key is np.cumsum:
        axis = b.get("axis")
        if isinstance(axis, gast.Constant) and axis.value is None:
            return 1
        return args[0]
    if key in (np.ravel,):
        return 1
    if key is np.outer:
        return 2
    if key is np.reshape:
        # the rule takes the shape through *args: read it from the operands
        shape = op.operands[1] if len(op.operands) > 1 else None
        if isinstance(shape, gast.Tuple):
            return len(shape.elts)
        if isinstance(shape, gast.Constant) and isinstance(shape.value, int):
            return 1
        return None
    if key == "getitem":
        x, index = op.operands[0], op.operands[1]
        r = atom_rank(x, ranks)
        items = index.elts if isinstance(index, gast.Tuple) else [index]
        if r is None:
            return None
        for it in items:
            if isinstance(it, gast.Slice):
                continue
            if isinstance(it, gast.Constant):
                if it.value is None:
                    r += 1
                elif isinstance(it.value, int):
                    r -= 1
                else:
                    return None
            elif isinstance(it, gast.Name) and ranks.get(it.id) == 0:
                r -= 1  # an integer variable (a loop index)
            else:
                return None
        return r
    if key is np.stack:
        elts = b.get("arrays")
        if isinstance(elts, (gast.Tuple, gast.List)) and elts.elts:
            r = atom_rank(elts.elts[0], ranks)
            return None if r is None else r + 1
        return None
    if key is np.concatenate:
        elts = b.get("arrays")
        if isinstance(elts, (gast.Tuple, gast.List)) and elts.elts:
            return atom_rank(elts.elts[0], ranks)
        return None
    if key is np.expand_dims:
        r = args[0] if args else None
        axis = op.operands[1] if len(op.operands) > 1 else None
        if r is not None and isinstance(axis, gast.Constant) and isinstance(axis.value, int):
            return r + 1
        return None
    if key in (np.linalg.inv, np.linalg.cholesky):
        return args[0]
    if key is np.linalg.det:
        return None if args[0] is None else args[0] - 2
    if key in (np.zeros, np.ones, np.empty, np.full) and op.operands:
        shape = op.operands[0]
        if isinstance(shape, gast.Tuple):
            return len(shape.elts)
        return 1 if atom_rank(shape, ranks) == 0 else None
    if key == "shape":
        return 1  # a tuple of ints indexes like a vector: x.shape[0] is a number
    if key in ("ndim", "size") or key in (len, int, np.ndim, np.size):
        return 0
    if key in ("dtype", "compare"):
        return None
    return None


# ------------------------------------------------------------------------- shapes


class ShapeClasses:
    """Union-find over names whose shapes are equal whatever the arguments."""

    def __init__(self):
        self.parent = {}
        self.local: dict = {}  # id(statement) -> pairs of names with equal shapes there

    def find(self, x):
        while self.parent.get(x, x) != x:
            x = self.parent[x]
        return x

    multi: set = set()
    stmt = None  # the statement whose facts are being recorded

    def union(self, a, b):
        if a in self.multi or b in self.multi:
            # true of the values this statement reads and writes only: kept for its adjoint
            self.local.setdefault(id(self.stmt), set()).add(frozenset((a, b)))
            return
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def same(self, a, b) -> bool:
        return self.find(a) == self.find(b)


_ELEMENTWISE_UNARY_KEYS = ("copy", "astype")


def _is_scalar_atom(atom, ranks) -> bool:
    if isinstance(atom, gast.Constant):
        return isinstance(atom.value, (int, float))
    return isinstance(atom, gast.Name) and ranks.get(atom.id) == 0


def _shape_facts(shapes: ShapeClasses, stmt, op: Op, ranks):
    targets = written_names(stmt)
    if len(targets) != 1:
        return
    (t,) = targets
    names = [a for a in op.operands if isinstance(a, gast.Name)]
    key = op.key
    if key in _ELEMENTWISE_UNARY_KEYS or (isinstance(key, np.ufunc) and key.nin == 1):
        if names:
            shapes.union(t, names[0].id)
        return
    if (
        isinstance(key, np.ufunc)
        and key.nin == 2
        and key is not np.matmul
        and len(op.operands) == 2
    ):
        a, b = op.operands
        if _is_scalar_atom(b, ranks) and isinstance(a, gast.Name):
            shapes.union(t, a.id)
        elif _is_scalar_atom(a, ranks) and isinstance(b, gast.Name):
            shapes.union(t, b.id)
        elif isinstance(a, gast.Name) and isinstance(b, gast.Name) and shapes.same(a.id, b.id):
            shapes.union(t, a.id)


def _text(node) -> str:
    import ast

    try:
        return ast.unparse(gast.gast_to_ast(node))
    except Exception:  # noqa: BLE001 - only used to word a message
        return type(node).__name__


d = R.registry.d  # used by the internal rule templates above
