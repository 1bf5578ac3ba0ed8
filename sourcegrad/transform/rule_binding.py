"""Binding an operation to its derivative rule: the rule table a pass uses, the names a
function binds, and the internal rules of path reads and displays.

Shared floor of ``classify`` and ``calls`` (part of the analysis pass).
"""

from __future__ import annotations

import sys
import threading
import types
from contextlib import contextmanager

import gast
import numpy as np

from .. import rules as R
from ..errors import NoRuleError
from . import derive
from . import syntax as S
from .forms import Core, Op
from .parse import is_installed, is_library, resolve


def local_names(core: Core) -> set:
    """Names the function binds: its arguments, assigned names and nested functions
    (computed once, then kept on the core)."""
    cached = core.bound_locals
    if cached is None:
        cached = set(core.params) | {
            n.id for n in S.name_nodes(core.node) if isinstance(n.ctx, gast.Store)
        }
        cached |= {n.name for n in S.walk(core.node) if isinstance(n, gast.FunctionDef)} - {
            core.node.name
        }
        core.bound_locals = cached
    return cached


#: ``current``: while :func:`definitions_indexed` is on in this thread, ``(core, name ->
#: its definitions in walk order, name -> (its stores, the values of its assignments))``
_DEFINITIONS = threading.local()


@contextmanager
def definitions_indexed(core: Core):
    """Inside (in this thread), :func:`definitions` and :func:`made_by_a_maker` read one index
    of ``core`` made here (one walk, not one per call asked about); the caller adds or removes
    no statement of ``core`` inside."""
    defs: dict = {}
    stores: dict = {}
    for node in S.walk(core.node):
        cls = type(node)
        if cls is gast.FunctionDef and node is not core.node:
            defs.setdefault(node.name, []).append(node)
        elif cls is gast.Name and not isinstance(node.ctx, gast.Load):
            stores.setdefault(node.id, [0, []])[0] += 1
        elif cls is gast.Assign and isinstance(node.targets[0], gast.Name):
            defs.setdefault(node.targets[0].id, []).append(node)
            if len(node.targets) == 1 and not isinstance(node.targets[0].ctx, gast.Load):
                stores.setdefault(node.targets[0].id, [0, []])[1].append(node)
    outer = getattr(_DEFINITIONS, "current", None)
    _DEFINITIONS.current = (core, defs, stores)
    try:
        yield
    finally:
        _DEFINITIONS.current = outer


def _index(core: Core):
    current = getattr(_DEFINITIONS, "current", None)
    return current if current is not None and current[0] is core else None


def definitions(core: Core, name: str) -> list:
    """The nested ``def name`` and the assignments ``name = ...`` (first target the bare
    name) of the function, in the order :func:`~.syntax.walk` gives them."""
    index = _index(core)
    if index is not None:
        return index[1].get(name, [])
    return [
        node
        for node in S.walk(core.node)
        if (isinstance(node, gast.FunctionDef) and node.name == name and node is not core.node)
        or (
            isinstance(node, gast.Assign)
            and isinstance(node.targets[0], gast.Name)
            and node.targets[0].id == name
        )
    ]


def _stores(core: Core, name: str) -> tuple[int, list]:
    """How many times the function binds ``name`` (assigned, a parameter, deleted), and the
    values of its assignments ``name = value`` (one target)."""
    index = _index(core)
    if index is not None:
        count, assigns = index[2].get(name, (0, []))
        return count, [stmt.value for stmt in assigns]
    stores = [
        n
        for n in S.walk(core.node)
        if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)
    ]
    values = [
        n.value
        for n in S.walk(core.node)
        if isinstance(n, gast.Assign)
        and len(n.targets) == 1
        and any(n.targets[0] is store for store in stores)
    ]
    return len(stores), values


def made_by_a_maker(core: Core, func) -> bool:
    """Whether ``func`` names, everywhere the function assigns it, what ``vjp_of(...)`` or
    ``jvp_of(...)`` returned (generated code differentiated again): a derivative sourcegrad
    made, whose call has no effect but its result, so an unused one may go."""
    if not isinstance(func, gast.Name):
        return False
    count, calls = _stores(core, func.id)
    makers = (derive.makers().vjp_of, derive.makers().jvp_of)
    return (
        count > 0
        and len(calls) == count
        and all(
            isinstance(c, gast.Call) and resolve(core.parsed, c.func, local_names(core)) in makers
            for c in calls
        )
    )


def is_int_atom(atom) -> bool:
    return isinstance(atom, gast.Constant) and isinstance(atom.value, int)


#: keys whose derivative rule reshapes back in C order (see rules/shapes.py RESHAPES)
RESHAPE_KEYS = (np.reshape, np.ravel, "reshape", "ravel")


def lookup_rule(core: Core, key):
    """The rule of ``key`` for the mode ``core`` is analysed in (None where it has none)."""
    if key is None:
        return None
    return R.lookup_tangent(key) if core.forward else R.lookup(key)


#: np.clip's and ndarray.clip's newer keywords, as its rule's parameters name them
_CLIP_KEYWORDS = {"min": "a_min", "max": "a_max"}


def bind_rule(core: Core, stmt, key, args, kwargs, described) -> Op:
    """The :class:`Op` applying ``key``'s rule to ``args`` and ``kwargs`` (bound to the rule's
    parameters), described by ``described`` (see ``Op.described``); refuses arguments the rule
    does not accept."""
    rule = lookup_rule(core, key)
    operands = [*args, *kwargs.values()]
    order = kwargs.get("order")
    if (
        isinstance(rule, R.Rule)
        and key in RESHAPE_KEYS
        and order is not None
        and not (isinstance(order, gast.Constant) and order.value in ("C", "A", "K"))
    ):  # the rule reshapes the gradient back in C order
        raise NoRuleError(
            f"{_text(described)}: reshaping with order={gast.unparse(order).strip()} is not supported; "
            "transpose explicitly (x.T.reshape(...)) or reshape in C order",
            core.parsed.filename,
            stmt.lineno,
        )
    if not isinstance(rule, R.Rule):
        return Op(key, rule, operands=operands, described=described)
    if key is np.where and len(operands) == 1:
        # np.where(condition): the indices where it holds, no differentiated value
        return Op(key, "constant", operands=operands, described=described)
    if key is np.clip or key == "clip":  # NumPy 2.1's names: `x.clip(min=0)`
        kwargs = {_CLIP_KEYWORDS.get(k, k): v for k, v in kwargs.items()}
    try:
        bound = rule.signature.bind(*args, **kwargs)
    except TypeError as exc:
        label = _text(described)
        advice = next((a for k, a in _KEYWORD_ADVICE.items() if f"'{k}'" in str(exc)), "")
        raise NoRuleError(
            f"{label}: the derivative rule does not accept these arguments ({exc}); it is "
            f"differentiated when called as {label.strip('.()')}{rule.signature} (the rule is "
            f"defined at {rule.where}){advice}",
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
    return Op(key, rule, params, operands, described=described)


def _text(described) -> str:
    return described if isinstance(described, str) else S.text(described)


#: calls with no effect but their value (``np.empty_like``: a new array, written whole next)
PURE_CONSTANTS = {
    len,
    range,
    isinstance,
    type,
    int,
    bool,
    round,
    enumerate,
    zip,
    str,
    np.empty_like,
}


#: keyword arguments of NumPy functions without a rule, and how to say the same without them
_KEYWORD_ADVICE = {
    "where": "; for `where=`, reduce the masked values instead (`np.sum(x[mask])`, or "
    "`np.sum(x * mask)`)",
    "initial": "; for `initial=`, combine it after (`np.maximum(np.max(x), initial)`, "
    "`np.sum(x) + initial`)",
}


def is_user_function(obj) -> bool:
    """A Python function of the user's, or of sourcegrad's library (not NumPy's, sourcegrad's
    engine's, or the standard library's)."""
    if isinstance(obj, types.FunctionType) and is_library(obj):
        return True
    module = (getattr(obj, "__module__", "") or "").split(".")[0]
    return (
        isinstance(obj, types.FunctionType)
        and module not in ("numpy", "sourcegrad")
        and module not in sys.stdlib_module_names
        and not is_installed(obj)  # a third-party package's function needs a rule
    )


def _make_internal_rules():
    def path_rule(z, x):
        d[x] += d[z]  # noqa: F821 - handled by the reverse pass, never inlined

    def pack_rule(z, x):
        d[x] += d[z]  # noqa: F821

    return R.registry.parse_template(path_rule, "path"), R.registry.parse_template(
        pack_rule, "pack"
    )


PATH_RULE, PACK_RULE = _make_internal_rules()


d = R.registry.d  # used by the internal rule templates above
