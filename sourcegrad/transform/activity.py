"""Activity: which names depend on a ``wrt`` argument (*varied*) and reach the output
(*useful*) through differentiable operations, solved as two data-flow problems on the
control-flow graph; and the refusals of differentiated values flowing where no rule is
(part of the analysis pass)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import os
import types

import gast
import numpy as np

from ..errors import REFUSED_INSIDE, NoRuleError, UnsupportedSyntaxError
from ..rules.registry import NOT_DIFFERENTIATED, hashable_key
from ..rules.scipy_stats import distribution_name, frozen_way_out, makes_frozen
from . import syntax as S
from .calls import (
    call_dynamic,
    call_user_function,
    example_value,
    free_names,
    keyword_call,
    nested_function,
    refuse_writing_helper,
)
from .examples import holds, receiver_examples
from .forms import Core
from .lift_closures import body_returns_closure, free_reads, returns_closure
from .node_facts import get_fact
from .parse import UNRESOLVED, resolve
from .plain_classes import refusal_of
from .rule_binding import local_names
from .sequence_sums import refuse_sequence_sums
from .walk import walk_statements, written_names


def varied_transfer(ops: dict):
    """The forward transfer function of *varied*: a statement's targets vary when a
    differentiable operand of it varies."""

    def gen_varied(stmt, varied):
        if isinstance(stmt, gast.For):
            return varied - S.names_in(stmt.target)  # the loop variable is a fresh integer
        function = _function_defined(stmt)
        if function is not None:  # a closure over a varied value varies: it carries it
            name, node = function
            reads = free_reads(node) | _default_reads(node)
            return (varied | {name}) if reads & varied else (varied - {name})
        op = ops.get(id(stmt))
        if op is None or not isinstance(stmt, gast.Assign):
            return varied
        hit = any(S.names_in(a) & varied for a in op.diff_atoms())
        targets = written_names(stmt)
        return (varied | targets) if hit else (varied - targets)

    return gen_varied


def closure_transfer(core: Core, varied: dict, ops: dict):
    """The forward transfer function of the names that may hold a nested function reading
    varied values (a closure carrying them): made by its ``def`` or lambda, or returned by a
    call given varied values of the user's function or of a nested one that returns a function
    it defines (``block = make_block(W)``), then passed on by any statement reading such a name
    (into a container, out of one, a loop over one)."""
    makers: dict = {}  # nested function name -> whether it returns a function it defines

    def nested_maker(op) -> bool:
        func = op.dynamic_call[0] if op is not None and op.dynamic_call else None
        if not isinstance(func, gast.Name):
            return False
        if func.id not in makers:
            found = nested_function(core, func.id)
            makers[func.id] = found is not None and body_returns_closure(found[0])
        return makers[func.id]

    def gen_closures(stmt, held):
        if isinstance(stmt, gast.For):
            targets = S.names_in(stmt.target)
            return (held | targets) if S.names_in(stmt.iter) & held else (held - targets)
        function = _function_defined(stmt)
        if function is not None:
            name, node = function
            reads = free_reads(node) | _default_reads(node)
            return (held | {name}) if reads & varied.get(("in", id(stmt)), set()) else held
        if not isinstance(stmt, gast.Assign):
            return held
        targets = written_names(stmt)
        op = ops.get(id(stmt))
        if op is not None and op.user_call and returns_closure(op.user_call[0]):
            fn, args, kwargs = op.user_call
            given = set().union(*(S.names_in(a) for a in [*args, *kwargs.values()]))
            if given & varied.get(("in", id(stmt)), set()):
                return held | targets  # a closure over what it was given
        if nested_maker(op) and S.names_in(stmt.value) & varied.get(("in", id(stmt)), set()):
            return held | targets
        return (held | targets) if S.names_in(stmt.value) & held else (held - targets)

    return gen_closures


def _function_defined(stmt):
    """``(name, node)`` of ``def name`` or ``name = lambda ...``; None for other statements."""
    if isinstance(stmt, gast.FunctionDef):
        return stmt.name, stmt
    if (
        isinstance(stmt, gast.Assign)
        and isinstance(stmt.value, gast.Lambda)
        and isinstance(stmt.targets[0], gast.Name)
    ):
        return stmt.targets[0].id, stmt.value
    return None


def _default_reads(node) -> set:
    """The names a nested function's default values read (when it is defined)."""
    args = node.args
    return {
        n.id
        for default in [*args.defaults, *args.kw_defaults]
        if default is not None
        for n in S.walk(default)
        if isinstance(n, gast.Name)
    }


def useful_transfer(ops: dict, out):
    """The backward transfer function of *useful*: an operand is useful when a target of its
    statement is (the output is useful at the return)."""

    def gen_useful(stmt, useful):
        if isinstance(stmt, gast.Return):
            return useful | S.names_in(out)
        if isinstance(stmt, gast.For):
            return useful - S.names_in(stmt.target)
        op = ops.get(id(stmt))
        if op is None or not isinstance(stmt, gast.Assign):
            return useful
        targets = written_names(stmt)
        if targets & useful:
            useful = useful - targets
            for a in op.diff_atoms():
                useful = useful | S.names_in(a)
        return useful

    return gen_useful


def resolve_calls(core: Core, ops: dict, varied: dict, closures: dict) -> None:
    """Replace the op of each call of a function value or of a user's function by one that
    differentiates only with respect to the arguments that vary there; refuses helpers
    writing into differentiated arguments and nested functions reading differentiated
    values of the enclosing function."""
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        before = varied.get(("in", id(stmt)), set())
        if isinstance(stmt, gast.Expr):
            refuse_writing_helper(core, stmt, before)
        found = keyword_call(core, stmt, op) if op is not None else None
        if found is not None or (op is not None and op.dynamic_call):
            func, args, keywords = found or (*op.dynamic_call, ())
            _refuse_captured(core, stmt, func, before, closures.get(("in", id(stmt)), ()))
            name = func.id if isinstance(func, gast.Name) else S.text(func)
            _refuse_closure_arguments(core, stmt, args, before, name)
            _refuse_held_callee(core, stmt, func, before)
            ops[id(stmt)] = call_dynamic(core, func, args, before, stmt, keywords)
        if op is not None and op.user_call:
            # differentiate the user's function only with respect to what varies here
            fn, args, kwargs = op.user_call
            _refuse_closure_arguments(core, stmt, [*args, *kwargs.values()], before, op.label)
            ops[id(stmt)] = call_user_function(core, stmt, fn, args, kwargs, op.label, before)


def _refuse_held_callee(core: Core, stmt, func, varied: set) -> None:
    """Refuse ``obj.attr(...)`` where ``attr`` is an attribute of the instance ``obj`` (a layer
    object it holds) rather than a method of its class, and ``obj`` a differentiated value
    whose class normalize did not know (a field of a field, an item of a list): the callee's
    derivative would be taken as ``obj``'s. (Where ``obj`` is an argument, or the item of a
    loop over one, normalize names the callee first, and it is differentiated.)"""
    if not (
        isinstance(func, gast.Attribute)
        and isinstance(func.value, gast.Name)
        and func.value.id in varied
        and not func.attr.startswith("__")
    ):
        return
    if not any(holds(obj, func.attr) for obj in receiver_examples(core, func.value.id)):
        return
    name = func.attr
    raise UnsupportedSyntaxError(
        f"`.{name}(...)` calls an object held in the field `{name}` of an object whose class "
        "sourcegrad does not know where it builds the call (a field of a field, an item of a "
        "list), so that it cannot place the object's derivative; assign it to a name first "
        f"(`{name} = ....{name}`) and call `{name}(...)`",
        core.parsed.filename,
        stmt.lineno,
    )


def _refuse_closure_arguments(core: Core, stmt, args, varied: set, callee: str) -> None:
    """A nested function reading differentiated values, passed to another function, carries
    them where the derivative cannot follow: refused (it was a zero gradient)."""
    for a in args:
        if isinstance(a, gast.Name) and a.id in varied and free_names(core, a.id):
            raise UnsupportedSyntaxError(
                f"`{a.id}` reads differentiated values of this function "
                f"(`{sorted(free_names(core, a.id) & varied)[0]}`) and is passed to `{callee}`, "
                f"where sourcegrad cannot follow them; call `{a.id}` in this function, or pass "
                "those values to it as arguments",
                core.parsed.filename,
                stmt.lineno,
            )


def _refuse_captured(core: Core, stmt, func, before: set, closures) -> None:
    """Refuse a call of a nested function reading a differentiated value of the enclosing
    function (its derivative would not see that value vary), and of a function value that
    carries such a closure (``closures``: the names that may hold one)."""
    name = func.id if isinstance(func, gast.Name) else None
    captured = free_names(core, name) & before if name else set()
    if captured:
        raise UnsupportedSyntaxError(
            f"the nested function `{func.id}` reads `{sorted(captured)[0]}` from the "
            "enclosing function, and that value is being differentiated; pass it to "
            f"`{func.id}` as an argument instead",
            core.parsed.filename,
            stmt.lineno,
        )
    if name in closures:
        raise UnsupportedSyntaxError(
            f"the function called in `{core.parsed.line_text(stmt.lineno)}` carries "
            "differentiated values (a nested function reading them, from a default "
            "value or from the function that made it), which sourcegrad cannot follow "
            "into the call; pass them to it as arguments",
            core.parsed.filename,
            stmt.lineno,
        )


def active_names(core: Core, varied: dict, useful_in: dict, wrt_names: set) -> set:
    """Names both varied and useful after a statement that assigns them (and ``wrt``
    arguments useful on entry)."""
    active = set()
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.Assign):
            v = varied.get(id(stmt), set())  # varied after the statement
            u = useful_in.get(id(stmt), set())  # useful after the statement
            for t in written_names(stmt):
                if t in v and t in u:
                    active.add(t)
    active |= {n for n in wrt_names if n in useful_in.get("entry", set())}
    return active


_OPAQUE_HINTS = {
    gast.SetComp: "a set has no order: build a list ([... for v in xs]) instead",
    gast.DictComp: "build the dict with a loop (d[k] = v) or dict(zip(keys, values))",
    gast.Lambda: "define the function with `def` at module level",
    gast.List: "list the items one by one (`[a, b, c]`), or build the list with append "
    "(`ws = [W0]`, then `ws.append(w)` in a loop)",
    gast.Tuple: "list the items one by one (`(a, b, c)`), or build a list with append",
}


def _passed_to_library(ops: dict, stmt) -> str | None:
    """The way out for a function value made by ``stmt`` (a lambda reading differentiated
    values) that a call without a derivative rule takes (``solve_ivp(lambda t, y: -k * y,
    ...)``), naming that call; None where no such call takes it."""
    made = set(written_names(stmt))
    for op in ops.values():
        if op.key in (None, "opaque") or op.differentiable or op.rule == "constant":
            continue
        if any(S.names_in(a) & made for a in op.operands):
            return (
                f"it is passed to `{op.label}`, which has no derivative rule (sourcegrad does "
                "not differentiate through it): compute the value with your own functions and "
                f"NumPy (an ODE by a Runge-Kutta loop), or give `{op.label}` a rule with "
                "sourcegrad.defvjp"
            )
    return None


def refuse_undifferentiable(core: Core, ops: dict, varied: dict, useful_in: dict) -> None:
    """Refuse a varied value flowing into an operation without a rule whose result is
    useful, and a complex value made from a varied one (:func:`refuse_complex`)."""
    refuse_complex(core, ops, varied, useful_in)
    refuse_sequence_sums(core, varied)
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if op is not None and op.differentiable and isinstance(stmt, gast.Assign):
            _refuse_not_differentiated(core, stmt, op, varied, useful_in)
        if op is None or op.differentiable or op.rule == "constant":
            continue
        if not isinstance(stmt, gast.Assign):
            continue
        before = varied.get(("in", id(stmt)), set())
        after_useful = useful_in.get(id(stmt), set())
        reads = set().union(*[S.names_in(a) for a in op.operands]) if op.operands else set()
        if not (reads & before and written_names(stmt) & after_useful):
            continue
        text = core.parsed.line_text(stmt.lineno)
        if op.key == "opaque":
            made_function = isinstance(op.operands[0], gast.Lambda)
            hint = (made_function and _passed_to_library(ops, stmt)) or _OPAQUE_HINTS.get(
                type(op.operands[0]), "rewrite it with NumPy calls and operators"
            )
            raise UnsupportedSyntaxError(
                f"`{op.label}` computes a differentiated value with syntax sourcegrad does not "
                f"differentiate (in `{text}`); {hint}",
                core.parsed.filename,
                stmt.lineno,
            )
        way_out = _LIBRARY_HINTS.get(hashable_key(op.key)) or getattr(op.key, REFUSED_INSIDE, None)
        if makes_frozen(op.key):
            way_out = f"it makes a frozen distribution; {frozen_way_out(distribution_name(op.key))}"
        if way_out is None and isinstance(op.key, type) and not op.key.__module__ == "builtins":
            way_out = _class_way_out(op.key)
        way_out = way_out or (_no_rule_hint(op.label, "defjvp" if core.forward else "defvjp"))
        raise NoRuleError(
            f"`{op.label}` has no derivative rule and a differentiated value flows through it "
            f"(in `{text}`); {way_out}",
            core.parsed.filename,
            stmt.lineno,
        )


def _refuse_not_differentiated(core: Core, stmt, op, varied: dict, useful_in: dict) -> None:
    """Refuse a differentiated value bound to a parameter ``op``'s rules declare they do not
    differentiate (:func:`~sourcegrad.rules.registry.not_differentiated`), where the result
    is used: its derivative would be a silent zero."""
    declared = NOT_DIFFERENTIATED.get(hashable_key(op.key))
    if not declared or not written_names(stmt) & useful_in.get(id(stmt), set()):
        return
    before = varied.get(("in", id(stmt)), set())
    for param, why in declared.items():
        v = op.bound.get(param)
        atoms = v.elts if isinstance(v, (gast.Tuple, gast.List)) else [v]
        if any(isinstance(a, gast.AST) and S.names_in(a) & before for a in atoms):
            raise NoRuleError(
                f"`{op.label}` is not differentiated in its argument `{param}` ({why}), and a "
                f"differentiated value flows into it (in `{core.parsed.line_text(stmt.lineno)}`"
                "); pass a constant there (computed outside, or with sg.util.stop_gradient)",
                core.parsed.filename,
                stmt.lineno,
            )


def _no_rule_hint(label: str, define: str) -> str:
    """The way out for an operation ``label`` without a derivative rule: a function gets one
    with ``sourcegrad.defvjp``; a method or attribute (``.name()``, ``.name``) is no name to
    register, so the value is computed another way or inside a function of the user's."""
    if label == ".pop()":
        return (
            "pop the item in a statement of its own (`v = xs.pop()`), then use `v`: "
            "sourcegrad follows a list's pop where it is its own statement, or where "
            "nothing else in the statement reads the list"
        )
    if label == "._replace()":
        return (
            "build the namedtuple anew (`P(W=p.W, b=new_b)` for `p._replace(b=new_b)`): "
            "sourcegrad differentiates the construction of a namedtuple"
        )
    if not label.startswith("."):
        return (
            f"register one with sourcegrad.{define}({label}, rule), or compute the value with "
            "functions sourcegrad knows"
        )
    return (
        f"`{label}` is a method or attribute sourcegrad has no rule for: compute the value "
        "with NumPy functions sourcegrad differentiates, or move it into a function of your "
        f"own and register that function's rule with sourcegrad.{define}(your_function, rule)"
    )


_STEP_HINT = (
    "loop over the items (`for x in xs:`), or index a list of them (`list(xs)[0]`); "
    "sourcegrad follows `next(it)` of `it = iter(xs)` (a list, tuple or dict view) where "
    "each call is in a statement of its own in the block that made `it`, without a default, "
    "not in a branch"
)
_COPY_HINT = (
    "copy a dict with `dict(p)` or `{**p}` and a list with `list(xs)` (nested ones level by "
    "level), which sourcegrad follows; where the copy's arrays are then written in place "
    "(`fast[k] -= lr * g[k]`), copy them too: `{k: v.copy() for k, v in p.items()}`"
)

#: the way out where a function of Python's own (an iterator kept as a value instead of looped
#: over, a copy, a dataclass helper) would carry a differentiated value
_LIBRARY_HINTS = {
    zip: "loop over it directly (`for a, b in zip(xs, ys):`) or index the lists (`xs[i]`)",
    enumerate: "loop over it directly (`for i, x in enumerate(xs):`) or index the list",
    map: "write the loop or a list comprehension (`[f(x) for x in xs]`) instead",
    filter: "write a list comprehension with a condition (`[x for x in xs if c]`) instead",
    reversed: "loop over it directly, or index the list backwards (`xs[::-1]`)",
    functools.reduce: "write the loop (`acc = x` then `for p in ps: acc = f(acc, p)`)",
    vars: "read the fields by name (`obj.W`), or loop over their names: `for name in ('W', "
    "'b'): v = getattr(obj, name)` (of a dataclass, `for f in dataclasses.fields(obj)`)",
    sorted: "sort arrays with np.sort (differentiated), or loop over the keys in the order "
    "you need (`for k in sorted(params): ... params[k]` for a dict argument, or `for k in "
    "('a', 'b'):`)",
    itertools.pairwise: "loop over positions (`for i in range(len(xs) - 1): a, b = xs[i], "
    "xs[i + 1]`)",
    itertools.chain: "join the lists with `+`, or loop over each",
    itertools.combinations: "loop over positions (`for i, j in itertools.combinations("
    "range(len(xs)), 2):` reading `xs[i]`, `xs[j]`)",
    itertools.permutations: "loop over positions (`itertools.permutations(range(len(xs)), k)`) "
    "and index the list",
    itertools.product: "loop over positions (`itertools.product(range(len(xs)), "
    "range(len(ys)))`) and index the lists",
    np.ndenumerate: "loop over `for idx in np.ndindex(x.shape):` and read `x[idx]`",
    next: _STEP_HINT,
    iter: _STEP_HINT,
    copy.copy: _COPY_HINT,
    copy.deepcopy: _COPY_HINT,
    dataclasses.replace: "build the dataclass anew (`P(W=new_W, b=p.b)` for "
    "`dataclasses.replace(p, W=new_W)`): sourcegrad differentiates the construction of a "
    "dataclass",
    dataclasses.asdict: "read the fields by name (`p.W`), or build the dict yourself "
    "(`{'W': p.W, 'b': p.b}`)",
    dataclasses.astuple: "read the fields by name (`p.W`), or build the tuple yourself "
    "(`(p.W, p.b)`)",
}
_FOURIER = "fft ifft fft2 ifft2 fftn ifftn rfft rfft2 rfftn ihfft".split()
_LIBRARY_HINTS.update(
    (
        getattr(np.fft, name),
        "its result is complex, and sourcegrad differentiates real functions "
        "only: write the transform as real products (`C = np.cos(2 * np.pi * np.outer(k, t) / n)` and "
        "`S = np.sin(...)`: the real part is `x @ C.T`, the imaginary part `-(x @ S.T)`)",
    )
    for name in _FOURIER
)


# ------------------------------------------------------------------ complex values

#: operations whose result is real (or no number) whatever their operands
_REAL_RESULTS = (
    np.real, np.imag, np.abs, np.angle, np.iscomplexobj, np.isrealobj, np.iscomplex, np.isreal,
    "shape", "ndim", "size", "dtype", "compare", len,
)  # fmt: skip


def refuse_complex(core: Core, ops: dict, varied: dict, useful_in: dict) -> None:
    """Refuse a statement that makes a complex value from a varied one where the result is
    useful: sourcegrad's rules are those of real functions (``np.abs`` of ``x * 1j`` would
    get the derivative of ``|x|`` with the wrong sign). Complex values are known at transform
    time: complex literals, complex dtypes (``astype(complex)``, ``dtype=np.complex128``,
    ``complex(x)``), complex arguments of the call the derivative is built for, and complex
    globals, followed through the operations that read them."""
    complex_names = {p for p in core.params if _is_complex(example_value(core, p))}
    changed = True
    while changed:  # to a fixed point: a loop may carry a complex value round
        changed = False
        for stmt in walk_statements(core.node.body):
            op = ops.get(id(stmt))
            targets = written_names(stmt) if isinstance(stmt, gast.Assign) else set()
            if op is None or not targets or targets <= complex_names:
                continue
            if not _makes_complex(core, stmt, op, complex_names):
                continue
            before = varied.get(("in", id(stmt)), set())
            reads = set().union(set(), *[S.names_in(a) for a in op.operands])
            if reads & before and targets & useful_in.get(id(stmt), set()):
                raise NoRuleError(
                    f"`{core.parsed.line_text(stmt.lineno)}` makes a complex value from a "
                    "differentiated one; sourcegrad differentiates real functions only: split "
                    "into real and imaginary parts (two real arrays, with the arithmetic of "
                    "complex numbers written out on them)",
                    core.parsed.filename,
                    stmt.lineno,
                )
            complex_names |= targets
            changed = True


def _makes_complex(core: Core, stmt, op, complex_names: set) -> bool:
    """Whether the statement's result is complex: a complex dtype asked for, or a complex
    operand of an operation whose result is not real by nature."""
    if any(op.key is k for k in _REAL_RESULTS) or op.rule == "constant" and op.key != "copy":
        return _asks_complex(core, stmt.value)
    if _asks_complex(core, stmt.value):
        return True
    if get_fact(stmt, "path"):
        return _is_complex(example_value(core, next(iter(written_names(stmt)))))
    for atom in op.operands:
        for n in S.walk(atom):
            if isinstance(n, gast.Constant) and isinstance(n.value, complex):
                return True
            if isinstance(n, gast.Name) and n.id in complex_names:
                return True
            if isinstance(n, (gast.Name, gast.Attribute)) and _is_complex(
                resolve(core.parsed, n, local_names(core))
            ):
                return True
    return False


def _asks_complex(core: Core, value) -> bool:
    """``complex(x)``, ``np.complex128(x)``, ``x.astype(complex)``, ``dtype=complex``."""
    if not isinstance(value, gast.Call):
        return False
    asked = [k.value for k in value.keywords if k.arg == "dtype"] + [value.func]
    if isinstance(value.func, gast.Attribute) and value.func.attr == "astype":
        asked += value.args[:1]
    return any(_complex_dtype(core, a) for a in asked)


def _complex_dtype(core: Core, atom) -> bool:
    if isinstance(atom, gast.Constant) and isinstance(atom.value, str):
        try:
            return np.dtype(atom.value).kind == "c"
        except TypeError:
            return False
    obj = resolve(core.parsed, atom, local_names(core))
    if obj is UNRESOLVED or not isinstance(obj, (type, np.dtype)):
        return False
    try:
        return np.dtype(obj).kind == "c"
    except TypeError:
        return False


def _is_complex(value) -> bool:
    if isinstance(value, complex):
        return True
    dtype = getattr(value, "dtype", None)
    return isinstance(dtype, np.dtype) and dtype.kind == "c"


def _class_way_out(cls: type) -> str:
    """The way out for building an object of the class ``cls`` from differentiated values:
    for a plain class of the user's, what its ``__init__`` does that sourcegrad does not
    follow (``plain_classes.py``)."""
    refused = refusal_of(cls)
    if refused is not None:
        reason, filename, line = refused
        where = f" (at {os.path.basename(filename)}:{line})" if filename else ""
        return (
            f"sourcegrad differentiates building an object of a plain class whose __init__ "
            f"only computes and stores its fields, but {reason}{where}; or keep the "
            "differentiated arrays out of the object and pass them to its methods"
        )
    if not isinstance(getattr(cls, "__init__", None), types.FunctionType) and not (
        dataclasses.is_dataclass(cls)
    ):  # (a class of C code: itertools.accumulate, collections.deque)
        return (
            "it is a class of compiled code, which sourcegrad cannot read: compute its "
            "values in a loop or with NumPy functions"
        )
    made = [
        f.name
        for f in (dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ())
        if f.default_factory is not dataclasses.MISSING
    ]
    if made:  # (a new object per call, which no literal writes)
        return (
            f"its field `{made[0]}` has a default_factory, which sourcegrad does not call: "
            f"give `{made[0]}` where you build it (`{cls.__name__}(..., {made[0]}=...)`), "
            "or build the object outside and pass it in"
        )
    return (
        "it is a class sourcegrad does not build from differentiated values: make it "
        "a dataclass without __post_init__ (sourcegrad differentiates building one), "
        "or build the object outside and pass it in"
    )
