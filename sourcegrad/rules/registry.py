"""Derivative rules written as templates, and the tables that hold them.

A rule is a Python function whose body is *inlined* into the derivative with its parameters
replaced by the operation's operands::

    @adjoint(np.tanh)
    def _(z, x):          # z = np.tanh(x)
        d[x] += d[z] * (1.0 - z * z)

The first parameter names the result, the others follow the NumPy function's own signature.
``d[v]`` is the adjoint of ``v``; ``d[v] += e`` contributes ``e`` to it (dropped when ``v`` is a
constant). An ``if`` whose test depends only on constant keyword arguments or on ranks
(``np.ndim(x) == 2``) is decided at transform time when those are known, and kept as real
control flow otherwise. Names assigned inside a template are renamed apart.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import linecache
import textwrap
import threading
import types
from dataclasses import dataclass

import gast

from ..errors import SourcegradError
from ..gast_trees import parse_gast
from .shipped_trees import shipped_tree


@dataclass
class Rule:
    """A parsed adjoint template. A rule registered by :func:`adjoint`, :func:`tangent` or
    :func:`diagonal_rule` is parsed when a build first reads its parts (``body``, ``result``,
    ``params``, ``signature``, ``differentiable``), once per template however many keys share
    it: importing sourcegrad parses none of its hundreds of templates."""

    key: object
    fn: object
    body: list  # gast statements
    result: str  # name of the result parameter
    params: list  # operand parameter names, in order
    signature: inspect.Signature  # of the operands (result parameter removed)
    differentiable: frozenset  # parameters that receive d[...] contributions
    where: str  # "file:line" of the template, for error messages

    def __getattr__(self, name):
        # reached only for a part a deferred rule has not read yet
        deferred = self.__dict__.get("_deferred")
        if deferred is None or name not in _PARTS:
            raise AttributeError(name)
        parts = deferred.parts()
        self.__dict__.update(parts)
        self.__dict__.pop("_deferred", None)  # (another thread may have read it first)
        return parts[name]

    def with_key(self, key) -> Rule:
        """This rule registered for ``key`` (a deferred rule stays deferred: its parse is
        shared)."""
        deferred = self.__dict__.get("_deferred")
        if deferred is None:
            return dataclasses.replace(self, key=key)
        return deferred.rule(key)

    def operand_names(self) -> list:
        """``params``, read without parsing a deferred template (its signature says them)."""
        params = self.__dict__.get("params")
        return params if params is not None else list(inspect.signature(self.fn).parameters)[1:]


def deferred_rule(key, fn, where: str, make) -> Rule:
    """A rule of ``key`` whose parts (all but ``key``, ``fn`` and ``where``) are those of the
    :class:`Rule` that ``make()`` returns, called when a build first reads one."""
    return _Deferred(fn, make, where).rule(key)


#: the parts of a :class:`Rule` a deferred rule makes on first read
_PARTS = frozenset({"body", "result", "params", "signature", "differentiable"})
#: held while a deferred rule's parts are made (reentrant: a transpose reads its adjoint's)
_MAKING = threading.RLock()


class _Deferred:
    """The parts of the rules of one template, made by ``make()`` on first read and shared
    by every key registered with it."""

    def __init__(self, fn, make, where: str | None = None):
        self.fn, self.make, self._parts = fn, make, None
        self.where = where or _where(fn)

    def parts(self) -> dict:
        if self._parts is None:
            with _MAKING:  # one parse, whichever thread reads first
                if self._parts is None:
                    self._parts = self._made()
        return self._parts

    def _made(self) -> dict:
        try:
            rule = self.make()
        except OSError as e:  # registered from a session whose source is gone
            raise SourcegradError(
                f"the derivative rule at {self.where} has no source to read ({e}): define it "
                "in a file"
            ) from e
        return {name: getattr(rule, name) for name in _PARTS}

    def rule(self, key) -> Rule:
        """A rule of ``key`` whose parts are this template's, read when first needed."""
        if self._parts is not None:
            return Rule(key=key, fn=self.fn, where=self.where, **self._parts)
        rule = object.__new__(Rule)
        rule.__dict__.update(key=key, fn=self.fn, where=self.where, _deferred=self)
        return rule


def _where(fn) -> str:
    code = fn.__code__
    return f"{code.co_filename}:{code.co_firstlineno}"


#: key -> Rule.  Keys are live callables (np.tanh), or strings for syntax ("getitem", "T").
ADJOINTS: dict = {}
#: key -> Rule: forward-mode (tangent) templates, same keys as ADJOINTS
TANGENTS: dict = {}
#: keys whose result never carries a gradient (np.floor, np.argmax, comparisons, ...)
NONDIFFERENTIABLE: set = set()


def hashable_key(obj):
    """``obj`` where it can key a dict, else its ``id`` (a rule table's key, an applier's)."""
    try:
        hash(obj)
        return obj
    except TypeError:
        return id(obj)


def parse_template(fn, key=None) -> Rule:
    """Parse a template function into a :class:`Rule` (raises if it is malformed)."""
    node = _parsed_def(fn)
    if not isinstance(node, gast.FunctionDef):
        raise SourcegradError(f"a derivative rule must be a `def` function, got {fn!r}")
    sig = inspect.signature(fn)
    names = list(sig.parameters)
    if not names:
        raise SourcegradError(f"rule {fn.__qualname__} needs a first parameter for the result")
    result = names[0]
    operand_sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    diff = set()
    for sub in _subscripts_and_updates(node):
        if isinstance(sub, gast.AugAssign) and _is_d(sub.target):
            diff.add(sub.target.slice.id)
        if isinstance(sub, gast.Subscript) and _is_d(sub) and isinstance(sub.ctx, gast.Load):
            if sub.slice.id != result:
                diff.add(sub.slice.id)  # a tangent template reads d[operand]
    diff.discard(result)
    body = [
        s
        for s in node.body
        if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))
    ]
    return Rule(
        key=key,
        fn=fn,
        body=body,
        result=result,
        params=names[1:],
        signature=operand_sig,
        differentiable=frozenset(diff),
        where=_where(fn),
    )


def _subscripts_and_updates(node) -> list:
    """The ``Subscript`` and ``AugAssign`` nodes under ``node``, found by reading only the
    fields that can hold one (``gast.walk`` visits every field of every node, contexts and
    operators included, through ``ast.iter_child_nodes``: several times slower)."""
    out, stack = [], [node]
    AST, wanted, fields_of = gast.AST, (gast.Subscript, gast.AugAssign), _NODE_FIELDS
    while stack:
        n = stack.pop()
        cls = type(n)
        if cls in wanted:
            out.append(n)
        fields = fields_of.get(cls)
        if fields is None:
            fields = fields_of[cls] = tuple(f for f in cls._fields if f not in _LEAF_FIELDS)
        for field in fields:
            v = getattr(n, field, None)
            if type(v) is list:
                stack.extend(x for x in v if isinstance(x, AST))
            elif isinstance(v, AST):
                stack.append(v)
    return out


#: fields that hold no statement nor expression, and per node class the fields that may
_LEAF_FIELDS = frozenset({"ctx", "op", "ops", "id", "value_kind", "kind", "type_comment"})
_NODE_FIELDS: dict = {gast.Name: (), gast.Constant: ()}


def _parsed_def(fn):
    """The gast tree of ``fn``'s definition (decorators included), as parsing
    ``inspect.getsource(fn)`` gives it: shipped with sourcegrad for its own templates
    (:mod:`.shipped_trees`, in half the time), else parsed."""
    node = shipped_tree(fn)
    if isinstance(node, gast.FunctionDef) and node.name == fn.__name__:
        return node
    return parsed_def(fn)


def parsed_def(fn):
    """The gast tree of ``fn``'s definition (decorators included), parsed from the lines its
    code object spans, which needs no tokenizing of the file; through ``inspect`` where those
    lines do not parse."""
    code = getattr(fn, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    end = _last_line(code) if lines else None
    if end is not None and _block_ends(lines, code.co_firstlineno, end):
        src = textwrap.dedent("".join(lines[code.co_firstlineno - 1 : end]))
        try:
            body = parse_gast(src).body
        except SyntaxError:
            body = []
        if body and isinstance(body[0], gast.FunctionDef) and body[0].name == fn.__name__:
            return body[0]
    return parse_gast(textwrap.dedent(inspect.getsource(fn))).body[0]


def own_templates() -> list:
    """The template functions of the rules of sourcegrad's rule families and library (``rules``,
    ``nn``, ``model``, ``util``, ``loss``) registered so far in the rule tables (``import
    sourcegrad`` registers them all), ordered by module and line."""
    fns = {}
    for rule in [*ADJOINTS.values(), *TANGENTS.values()]:
        fn = rule.fn
        if hasattr(fn, "__code__") and (fn.__module__ or "").startswith(_OWN_TEMPLATES):
            fns[fn.__code__] = fn
    return sorted(fns.values(), key=lambda f: (f.__module__, f.__code__.co_firstlineno))


#: the modules whose templates :func:`own_templates` gives
_OWN_TEMPLATES = tuple(
    f"sourcegrad.{name}" for name in ("rules.", "nn.", "model.", "util.", "loss")
)


def _block_ends(lines: list, first: int, end: int) -> bool:
    """Whether the indented block starting at line ``first`` ends at line ``end``: the next
    line with code (not blank, not a comment) is indented no deeper than line ``first``
    (a statement that compiles to nothing, like a final ``pass``, has no position)."""
    if not 0 < first <= end <= len(lines):
        return False
    depth = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    for line in lines[end:]:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return len(line) - len(line.lstrip()) <= depth
    return True


def _last_line(code) -> int | None:
    """The last source line of ``code`` and the code nested in it (their positions)."""
    last = None
    todo = [code]
    while todo:
        c = todo.pop()
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        for _, end, _, _ in c.co_positions():
            if end is not None and (last is None or end > last):
                last = end
    return last


def _is_d(node) -> bool:
    return (
        isinstance(node, gast.Subscript)
        and isinstance(node.value, gast.Name)
        and node.value.id == "d"
        and isinstance(node.slice, gast.Name)
    )


def adjoint(*keys):
    """Register the decorated template as the reverse-mode rule of every key in ``keys``;
    the template is parsed when a build first reads the rule, once for all its keys."""

    def register(fn):
        deferred = _deferred_template(fn)
        for key in keys:
            ADJOINTS[hashable_key(key)] = deferred.rule(key)
        return fn

    return register


def tangent(*keys):
    """Register the decorated template as the forward-mode rule of every key in ``keys``
    (parsed on first use, as :func:`adjoint`'s).

    A tangent template reads operand tangents ``d[x]`` and contributes to the result's tangent
    with ``d[z] += e``; a statement that reads the tangent of a constant operand is dropped.
    Every contribution must have the result's shape (``broadcast_like(t, z)`` where an operand
    may be smaller than the result). A local assignment that reads a tangent is dropped with
    it when that tangent is zero, so a statement that is kept must not use such a local::

        @tangent(np.tanh)
        def _(z, x):
            d[z] += d[x] * (1.0 - z * z)
    """

    def register(fn):
        deferred = _deferred_template(fn)
        for key in keys:
            TANGENTS[hashable_key(key)] = deferred.rule(key)
        return fn

    return register


def diagonal(*keys) -> None:
    """Derive the tangent rules of elementwise unary functions from their adjoint rules.

    Their Jacobian is diagonal, so it is its own transpose: ``d[x] += d[z] * f'(x)`` read
    with the roles of ``d[x]`` and ``d[z]`` exchanged is the tangent rule
    ``d[z] += d[x] * f'(x)``. Keys registered by one template share its transpose, made when
    a build first reads one of them.
    """
    swapped: dict = {}  # id(adjoint's template) -> the _Deferred of its transpose
    for key in keys:
        adj = ADJOINTS[hashable_key(key)]
        deferred = swapped.get(id(adj.fn))
        if deferred is None:
            deferred = swapped[id(adj.fn)] = _Deferred(adj.fn, lambda adj=adj: _transposed(adj))
        TANGENTS[hashable_key(key)] = deferred.rule(key)


def _transposed(adj: Rule) -> Rule:
    """The tangent rule of the elementwise unary function whose adjoint rule is ``adj``."""
    (operand,) = [p for p in adj.params if p in adj.differentiable]
    return Rule(
        key=adj.key,
        fn=adj.fn,
        body=[_swap_d(copy.deepcopy(stmt), adj.result, operand) for stmt in adj.body],
        result=adj.result,
        params=adj.params,
        signature=adj.signature,
        differentiable=frozenset({operand}),
        where=adj.where,
    )


def diagonal_rule(*keys):
    """Register the decorated template as the reverse rule of every key in ``keys``, and its
    transpose (:func:`diagonal`) as their tangent rule: for elementwise functions of one
    argument, one template gives both modes."""

    def register(fn):
        adjoint(*keys)(fn)
        diagonal(*keys)
        return fn

    return register


class TemplateNamespace:
    """Stands in for the function of a rule made without a template: what the names of its
    body refer to (``rule.fn.__globals__``)."""

    def __init__(self, globals_: dict):
        self.__globals__ = globals_


def linear_tangent(fn, linear, jointly=False) -> Rule:
    """Register (and return) the tangent rule of ``fn``, a function linear in its parameters ``linear``: each on its
    own (``d[z] += fn(d[g], x) + fn(g, d[x])`` for a bilinear ``fn(g, x)``), or all together
    with ``jointly`` (one call ``fn(d[a], d[b])``, for results that ``+`` would concatenate).
    Every parameter of ``fn`` is passed by position, in order."""
    sig = inspect.signature(fn)
    params = list(sig.parameters)
    result = "out" if "z" in params else "z"
    groups = [tuple(linear)] if jointly else [(p,) for p in linear]
    body = []
    for group in groups:
        args = [_d_of(p, gast.Load()) if p in group else _name(p) for p in params]
        call = gast.Call(func=_name(fn.__name__), args=args, keywords=[])
        body.append(gast.AugAssign(target=_d_of(result, gast.Store()), op=gast.Add(), value=call))
    rule = TANGENTS[hashable_key(fn)] = Rule(
        key=fn,
        fn=TemplateNamespace({fn.__name__: fn}),
        body=body,
        result=result,
        params=params,
        signature=sig,
        differentiable=frozenset(linear),
        where=_where(fn),
    )
    return rule


def _name(name: str):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _d_of(name: str, ctx):
    return gast.Subscript(value=_name("d"), slice=_name(name), ctx=ctx)


def _swap_d(stmt, result: str, operand: str):
    for sub in gast.walk(stmt):
        if _is_d(sub):
            sub.slice.id = operand if sub.slice.id == result else result
    return stmt


def lookup_tangent(key):
    """The forward-mode :class:`Rule` for ``key``, ``"constant"``, or None."""
    k = hashable_key(key)
    rule = TANGENTS.get(k)
    if rule is not None:
        return rule
    if k in NONDIFFERENTIABLE:
        return "constant"
    return None


#: hashable key -> {parameter: why its derivative is not computed}: a differentiated value
#: bound to one of these is refused where the function is called (never a silent zero)
NOT_DIFFERENTIATED: dict = {}


def not_differentiated(key, why: str, *params: str) -> None:
    """Declare that ``key``'s rules do not differentiate its parameters ``params`` although
    their derivative is not zero (a probability level, class weights, a replacement value):
    a differentiated value passed there is refused at the user's line, saying ``why``."""
    table = NOT_DIFFERENTIATED.setdefault(hashable_key(key), {})
    for p in params:
        table[p] = why


def nondifferentiable(*keys) -> None:
    """Declare that the results of ``keys`` are constants for differentiation."""
    for key in keys:
        NONDIFFERENTIABLE.add(hashable_key(key))


def lookup(key):
    """The :class:`Rule` for ``key``, ``"constant"`` for non-differentiable keys, else None."""
    k = hashable_key(key)
    rule = ADJOINTS.get(k)
    if rule is not None:
        return rule
    if k in NONDIFFERENTIABLE:
        return "constant"
    return None


def defvjp(fn, template) -> None:
    """Register ``template`` (a rule in the template form above) as ``fn``'s reverse rule.

    Example::

        def softplus(x):
            return np.log1p(np.exp(x))

        def softplus_rule(z, x):
            d[x] += d[z] / (1.0 + np.exp(-x))

        sourcegrad.defvjp(softplus, softplus_rule)
    """
    ADJOINTS[hashable_key(fn)] = _deferred_template(template).rule(fn)


def defjvp(fn, template) -> None:
    """Register ``template`` (a tangent template, see :func:`tangent`) as ``fn``'s
    forward-mode rule.

    Example::

        def softplus_tangent(z, x):
            d[z] += d[x] / (1.0 + np.exp(-x))

        sourcegrad.defjvp(softplus, softplus_tangent)
    """
    TANGENTS[hashable_key(fn)] = _deferred_template(template).rule(fn)


def _deferred_template(template) -> _Deferred:
    """``template``'s rules, parsed on first use; what :func:`parse_template` refuses
    without parsing (no ``def``, no parameter for the result) is refused now."""
    code = getattr(template, "__code__", None)
    if code is None or template.__name__ == "<lambda>":
        raise SourcegradError(f"a derivative rule must be a `def` function, got {template!r}")
    if not (
        code.co_argcount
        or code.co_kwonlyargcount
        or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    ):
        raise SourcegradError(
            f"rule {template.__qualname__} needs a first parameter for the result"
        )
    return _Deferred(template, lambda: parse_template(template))


#: functions the user declared opaque with :func:`primitive`: never transformed, only their
#: registered rules are used
PRIMITIVES: set = set()


def primitive(fn):
    """Declare ``fn`` opaque: sourcegrad never reads its source, and differentiates calls to it
    only with the rules given by :func:`defvjp` / :func:`defjvp` (for example a layer whose
    hand-written backward the rule calls). Returns ``fn`` itself, so it works as a decorator."""
    PRIMITIVES.add(hashable_key(fn))
    return fn


class _TemplateOnly:
    """``d`` and ``static`` exist only inside templates, which are inlined, never called."""

    def __init__(self, what):
        self.what = what

    def __getitem__(self, item):
        raise SourcegradError(f"{self.what} is only meaningful inside a derivative template")

    def __call__(self, *args):
        raise SourcegradError(f"{self.what} is only meaningful inside a derivative template")


#: ``d[x]``: the adjoint of ``x`` inside a template
d = _TemplateOnly("d[...]")
#: ``static(cond)``: decide ``cond`` at transform time; an unknown condition counts as False
static = _TemplateOnly("static(...)")
#: ``basic_index(i)``: whether index ``i`` is basic indexing (each element selected once),
#: decided at transform time; unknown counts as False under ``static``
basic_index = _TemplateOnly("basic_index(...)")
#: ``whole_index(i)``: whether index ``i`` is ``...`` or ``:`` alone (of an array, every
#: element written, a 0-d array's included), decided at transform time
whole_index = _TemplateOnly("whole_index(...)")
#: ``floating(x)``: whether ``x`` surely holds floating values (a write into it keeps the value
#: written, uncut), decided at transform time; unknown counts as False under ``static``
floating = _TemplateOnly("floating(...)")
