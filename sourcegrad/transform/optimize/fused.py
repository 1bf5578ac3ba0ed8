"""Fused elementwise evaluation (option ``fuse="numexpr"``): a statement of the running
derivative that is a tree of elementwise arithmetic over large arrays becomes one call of
`numexpr`, which evaluates the whole tree in cache-sized blocks without the whole-array
temporaries NumPy makes for each operation::

    dx = ne.evaluate(
        "2.0 * (x / (1.0 + out_7)) + out_5 * (a * (1.0 - out_2 * out_2) - 2.0 * (out_2 * x))",
        local_dict={"x": x, "out_7": out_7, "out_5": out_5, "a": a, "out_2": out_2},
    )

Fused: ``+ - * /`` and unary ``-`` (operators, or the ufunc calls of the in-place rewrites,
``np.add(a, b, out=a)``), ``np.sqrt`` and ``np.abs`` (correctly rounded in both libraries),
and only where numexpr has Intel's VML (``numexpr.use_vml``) the functions of
:data:`TRANSCENDENTAL`: without VML numexpr computes those with the C library one element at a
time, 5-13x slower than NumPy's vectorised loops, so they stay NumPy calls, operands of the
tree. A statement whose value only the next one reads (``del`` statements aside) merges into
it, so a tree is as large as the code allows; an array of ones seeding a gradient
(``unreduce(1.0, out)``) is the number 1.0 in the trees. Only where:

* every operand is a float32 or float64 array of the tree's dtype (shapes broadcast as in
  NumPy) or a number, its shape and dtype known from the build;
* the result has at least :data:`MIN_ELEMENTS` elements and the tree two operations or more;
* the result dtype is NumPy's: numexpr makes ``float32 * 2.0`` a float64, NumPy a float32, so
  in a float32 tree each number is an ``np.float32`` operand, as NumPy's promotion makes it.

Results are NumPy's up to rounding: the same IEEE operations in the same order (the tree's
parentheses are kept); VML's transcendental functions differ from NumPy's in the last bit.
"""

from __future__ import annotations

import functools
import importlib
import math

import gast
import numpy as np

from ...runtime.helpers import unreduce
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts
from ..shapes import expression_kind, expression_shape
from .dtypes import same_dtype

#: the fused backends an ``fuse=`` option may name
BACKENDS = ("numexpr",)
#: the fewest result elements for which a fused statement is faster than NumPy's loops (one
#: thread: equal at 2**16 elements, 1.1x at 2**17, 1.4x from 2**19 for a 4-operation tree)
MIN_ELEMENTS = 1 << 17
#: NumPy ufunc -> numexpr operator, for the calls the in-place rewrites make
_OPERATOR_CALLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "true_divide": "/"}
_OPERATORS = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/"}
_UFUNCS = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply", gast.Div: "divide"}
#: NumPy functions numexpr computes correctly rounded, as NumPy does: always fused
_EXACT_FUNCTIONS = {"sqrt": "sqrt", "abs": "abs", "absolute": "abs"}
#: NumPy functions numexpr computes with the same meaning, fused only where numexpr has VML
TRANSCENDENTAL = frozenset(
    "exp expm1 log log1p log10 tanh sinh cosh sin cos tan arctan arcsin arccos arcsinh arccosh "
    "arctanh".split()
)
#: names numexpr reads as its own (with its functions): an operand of that name is renamed
_RESERVED = TRANSCENDENTAL | set(_EXACT_FUNCTIONS) | {"True", "False", "None", "inf", "nan"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_UNARY, _ATOM = 3, 4
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def available(backend: str) -> bool:
    """Whether the fused ``backend`` can run here (its package imports)."""
    return backend == "numexpr" and _numexpr() is not None


@functools.cache
def _numexpr():
    """``numexpr``, imported on first use (an optional backend); None where it is missing."""
    try:
        return importlib.import_module("numexpr")
    except ImportError:
        return None


def fuse_elementwise(node, der: Derivative, shapes: dict, dtypes: dict) -> None:
    """Rewrite the function ``node`` (in place; the running copy of ``der``'s) so that each
    statement that is a tree of at least two elementwise operations over large float arrays
    (see the module docstring) runs as one ``numexpr.evaluate``; statements whose value only
    the next one reads merge into it, an array filled with a number (``unreduce(1.0, out)``)
    is that number. ``shapes``/``dtypes``: the names'. Values are the same up to rounding."""
    np_name, numexpr = der.refs.name_of(np), _numexpr()
    if numexpr is None or np_name is None:
        return
    adj_of = {v: k for k, v in der.adj_names.items()}
    fusing = _Fusing(der.refs, shapes, dtypes, adj_of, np_name)
    fusing.transcendental = bool(getattr(numexpr, "use_vml", False))
    fusing.fills = _fills(node, der.refs.name_of(unreduce), fusing)
    fusing.assigned = {
        stmt.targets[0].id: stmt.value
        for body in S.blocks(node.body)
        for stmt in body
        if _simple(stmt)
        and fusing.operation(stmt.value) is not None
        and _stores(node, stmt.targets[0].id) == 1
    }
    blocks = list(S.blocks(node.body))
    for body in blocks:
        fusing.bind(body)
    for body in blocks:
        _merge(body, node, fusing)
    for stmt in (stmt for body in S.blocks(node.body) for stmt in body):
        fusing.at(stmt).translate(stmt)
    for name, (stmt, _, _) in fusing.fills.items():
        if not _loads(node, name):
            for body in S.blocks(node.body):
                if stmt in body:
                    body.remove(stmt)
            _forget(node, name)


def _fills(node, unreduce_name, fusing) -> dict:
    """``name -> (statement, number, like)`` of the names assigned once, by ``name =
    unreduce(number, like)``: an array of ``like``'s shape and float dtype filled with the
    number."""
    found = {}
    for body in S.blocks(node.body):
        for stmt in body:
            if not (_simple(stmt) and isinstance(stmt.value, gast.Call)):
                continue
            call = stmt.value
            if not (isinstance(call.func, gast.Name) and call.func.id == unreduce_name):
                continue
            if call.keywords or len(call.args) != 2 or not isinstance(call.args[1], gast.Name):
                continue
            number, like = call.args
            if not (isinstance(number, gast.Constant) and type(number.value) in (int, float)):
                continue
            dtype = fusing.kind(like)
            if isinstance(dtype, np.dtype) and dtype in _FLOATS and fusing.shape(like):
                name = stmt.targets[0].id
                if _stores(node, name) == 1:
                    found[name] = (stmt, number, like)
    return found


class _Fusing:
    """What one rewrite knows: the names' shapes and dtypes, and how to write a tree."""

    def __init__(self, refs, shapes, dtypes, adj_of, np_name):
        self.refs, self.shapes, self.dtypes = refs, shapes, dtypes
        self.adj_of, self.np_name = adj_of, np_name
        self.transcendental = False  # numexpr's exp, tanh, ... fused (VML)
        self.fills: dict = {}  # name -> (statement, number, like): see _fills
        self.assigned: dict = {}  # name -> the fused tree it is assigned, once
        self.env: dict = {}  # name -> dtype of its binding at the statement rewritten
        self.envs: dict = {}  # id(statement) -> its env: bindings earlier in its block

    def at(self, stmt) -> _Fusing:
        """Ready to rewrite ``stmt``: names read as assigned earlier in its block."""
        self.env = self.envs.get(id(stmt), {})
        return self

    def bind(self, body: list) -> None:
        """Record, for each statement of ``body``, the dtypes of the names assigned before
        it in ``body`` (where the whole function's dtypes cannot say: assigned twice)."""
        env: dict = {}
        for stmt in body:
            self.envs[id(stmt)] = self.env = dict(env)
            if _simple(stmt):
                kind = self.kind(stmt.value)
                if kind is not None:
                    env[stmt.targets[0].id] = kind
                else:
                    env.pop(stmt.targets[0].id, None)
            else:
                for name in S.bound_names(stmt):
                    env.pop(name, None)

    def shape(self, e):
        """The shape of ``e``: of a fused operation, its operands' broadcast."""
        op = self.operation(e)
        if isinstance(e, gast.Name) and e.id in self.fills:
            return self.shape(self.fills[e.id][2])
        if op is None:
            return expression_shape(e, self.shapes, self.adj_of, self.np_name)
        shapes = [self.shape(a) for a in op[1]]
        if any(s is None for s in shapes):
            return None
        try:
            return np.broadcast_shapes(*shapes)
        except ValueError:
            return None

    def kind(self, e):
        """The dtype of ``e`` (``float``/``int`` for a Python number), None if unknown: of
        a fused operation, NumPy's promotion of its float operands (numbers are weak)."""
        op = self.operation(e)
        if isinstance(e, gast.Name) and e.id in self.fills:
            return self.kind(self.fills[e.id][2])
        if isinstance(e, gast.Name) and e.id in self.env:
            return self.env[e.id]
        if isinstance(e, gast.Name) and e.id not in self.dtypes and e.id in self.assigned:
            return self.kind(self.assigned.pop(e.id))  # popped: no cycle, asked once
        if op is None:
            return expression_kind(e, self.dtypes, self.np_name)
        kinds = [self.kind(a) for a in op[1]]
        arrays = [k for k in kinds if isinstance(k, np.dtype)]
        numbers = [k for k in kinds if k is float or k is int]
        if not arrays or len(arrays) + len(numbers) != len(kinds):
            return None
        if any(k not in _FLOATS for k in arrays):
            return None
        return np.result_type(*arrays)

    def operation(self, e):
        """``(symbol, operands, out)`` where ``e`` is an operation this backend fuses (out:
        the ``out=`` of a ufunc call, or None); None where it is not."""
        if isinstance(e, gast.BinOp) and type(e.op) in _OPERATORS:
            return _OPERATORS[type(e.op)], [e.left, e.right], None
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            return "neg", [e.operand], None
        if not (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)):
            return None
        if not (isinstance(e.func.value, gast.Name) and e.func.value.id == self.np_name):
            return None
        if any(k.arg != "out" for k in e.keywords) or any(
            isinstance(a, gast.Starred) for a in e.args
        ):
            return None
        out = e.keywords[0].value if e.keywords else None
        fn = e.func.attr
        if fn in _OPERATOR_CALLS and len(e.args) == 2:
            return _OPERATOR_CALLS[fn], list(e.args), out
        if fn == "negative" and len(e.args) == 1:
            return "neg", list(e.args), out
        vml = {f: f for f in TRANSCENDENTAL} if self.transcendental else {}
        functions = dict(_EXACT_FUNCTIONS, **vml)
        if fn in functions and len(e.args) == 1:
            return functions[fn] + "()", list(e.args), out
        return None

    def tree(self, value, extra_out=None):
        """The fused form of ``value`` (a :class:`_Tree`), or None where it does not pay or
        would change the result's dtype."""
        op = self.operation(value)
        if op is None:
            return None
        dtype = self.kind(value)
        shape = self.shape(value)
        if not (isinstance(dtype, np.dtype) and dtype in _FLOATS) or not shape:
            return None  # a number, or unknown: numexpr would make a 0-d array of a number
        if math.prod(shape) < MIN_ELEMENTS:
            return None
        out = op[2] if extra_out is None else extra_out
        if out is not None and self.shape(out) not in (None, shape):
            return None
        tree = _Tree(self, dtype, shape)
        text = tree.render(value)
        if text is None or tree.operations < 2:
            return None
        tree.text, tree.out = text[0], out
        return tree

    def translated(self, e):
        """``e`` with each largest tree in it that fuses as one ``numexpr.evaluate``."""
        tree = self.tree(e)
        if tree is not None:
            return tree.call(self.refs)
        op = self.operation(e)
        if op is not None:  # a tree too small or of another dtype: its operands may fuse
            for i, a in enumerate(op[1]):
                _replace_operand(e, i, self.translated(a))
            return e
        if isinstance(e, gast.Call):
            e.args = [self.translated(a) for a in e.args]
            for k in e.keywords:
                k.value = self.translated(k.value)
        elif isinstance(e, (gast.Tuple, gast.List)):
            e.elts = [self.translated(a) for a in e.elts]
        return e

    def translate(self, stmt) -> None:
        """Rewrite ``stmt`` (``t = tree`` or ``t op= tree``) to one ``numexpr.evaluate``
        where its tree fuses."""
        if isinstance(stmt, (gast.Assign, gast.Expr, gast.Return)) and stmt.value is not None:
            stmt.value = self.translated(stmt.value)
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
            if type(stmt.op) not in _OPERATORS:
                return
            target = S.name(stmt.target.id)
            whole = gast.BinOp(left=target, op=stmt.op, right=stmt.value)
            tree = self.tree(whole, extra_out=S.name(stmt.target.id))
            if tree is None or not same_dtype(self.kind(target), tree.dtype):
                return
            if self.shape(target) != tree.shape:
                return
            replaced = S.assign(stmt.target.id, tree.call(self.refs), getattr(stmt, "lineno", None))
            stmt.__class__ = gast.Assign
            stmt.__dict__.update(replaced.__dict__)


class _Tree:
    """One fused expression: its numexpr text and the operands it names."""

    def __init__(self, fusing: _Fusing, dtype, shape):
        self.fusing, self.dtype, self.shape = fusing, dtype, shape
        self.operands: dict = {}  # name in the text -> the expression it stands for
        self.by_text: dict = {}  # the operand's source -> its name in the text
        self.operations = 0
        self.text = ""
        self.out = None

    def render(self, e):
        """``(text, precedence)`` of ``e`` in numexpr's syntax, or None where an operand
        cannot be fused."""
        op = self.fusing.operation(e)
        if op is None:
            return self.operand(e)
        symbol, args, _ = op  # an inner out= is a buffer of NumPy's own: not needed
        ones = [self.one(a) for a in args]
        if symbol == "*" and any(ones) or symbol == "/" and ones[1]:
            return self.render(args[1] if ones[0] else args[0])  # 1.0 * e is e, exactly
        parts = [self.render(a) for a in args]
        if any(p is None for p in parts):
            return None
        self.operations += 1
        if symbol.endswith("()"):
            return f"{symbol[:-2]}({parts[0][0]})", _ATOM
        if symbol == "neg":
            return "-" + _wrapped(parts[0], _UNARY), _UNARY
        prec = _PRECEDENCE[symbol]
        left = _wrapped(parts[0], prec)
        right = _wrapped(parts[1], prec + 1)  # a + (b + c) keeps its order: rounding
        return f"{left} {symbol} {right}", prec

    def one(self, e) -> bool:
        """Whether ``e`` is an array of ones (``unreduce(1.0, x)``) of the tree's dtype and
        shape: the seed of a gradient."""
        fill = isinstance(e, gast.Name) and self.fusing.fills.get(e.id)
        if not fill or fill[1].value != 1:
            return False
        return self.fusing.shape(e) == self.shape and self.fusing.kind(e) == self.dtype

    def operand(self, e):
        """An operand of the tree (a name, a number, an expression NumPy computes): its
        text, or None where its dtype or shape would not be NumPy's in numexpr."""
        if isinstance(e, gast.Constant):
            if type(e.value) not in (int, float) or not math.isfinite(e.value):
                return None
            if self.dtype == np.float64:
                return repr(e.value), (_UNARY if e.value < 0 else _ATOM)
            return self.named(e, self.as_dtype(e)), _ATOM
        fill = isinstance(e, gast.Name) and self.fusing.fills.get(e.id)
        if fill and self.fusing.shape(e) == self.shape and self.fusing.kind(e) == self.dtype:
            return self.operand(fill[1])  # the number, in the tree's dtype
        kind = self.fusing.kind(e)
        if kind is float or kind is int:  # a Python number: weak in NumPy's promotion
            value = e if self.dtype == np.float64 else self.as_dtype(e)
            return self.named(e, value), _ATOM
        shape = self.fusing.shape(e)
        if not same_dtype(kind, self.dtype) or shape is None:
            return None
        if len(shape) > len(self.shape) or np.broadcast_shapes(shape, self.shape) != self.shape:
            return None
        return self.named(e, e), _ATOM

    def as_dtype(self, e):
        """``e`` as a number of the tree's dtype (``np.float32(e)``)."""
        np_name = self.fusing.np_name
        return S.call(S.attr_chain(f"{np_name}.{self.dtype.name}"), [e])

    def named(self, e, value) -> str:
        """The name of the operand ``e`` (computed as ``value``) in the text."""
        source = S.text(value)
        if source in self.by_text:
            return self.by_text[source]
        if isinstance(e, gast.Name) and e is value and _plain(e.id):
            name = e.id
        else:
            name = _stem(e)
        taken = set(self.operands)
        base, k = name, 1
        while name in taken or not _plain(name):
            name, k = f"{base}_{k}", k + 1
        self.operands[name] = value
        self.by_text[source] = name
        return name

    def call(self, refs):
        """``ne.evaluate("text", local_dict={...}, out=out)``."""
        ne = refs.ref(_numexpr(), "ne")
        local = gast.Dict(
            keys=[S.const(k) for k in self.operands], values=list(self.operands.values())
        )
        keywords = {"local_dict": local}
        if self.out is not None:
            keywords["out"] = self.out
        return S.call(S.attr_chain(f"{ne}.evaluate"), [S.const(self.text)], keywords)


def _replace_operand(e, i: int, value) -> None:
    """Make ``value`` the ``i``-th operand of the operation ``e``."""
    if isinstance(e, gast.BinOp):
        if i == 0:
            e.left = value
        else:
            e.right = value
    elif isinstance(e, gast.UnaryOp):
        e.operand = value
    else:
        e.args[i] = value


def _plain(name: str) -> bool:
    """Whether numexpr reads ``name`` as a variable (not its own name nor a dunder; ASCII)."""
    own = getattr(getattr(_numexpr(), "expressions", None), "functions", ())
    return (
        name not in _RESERVED and name not in own and not name.startswith("__") and name.isascii()
    )


def _wrapped(part, least: int) -> str:
    text, prec = part
    return f"({text})" if prec < least else text


def _stem(e) -> str:
    """A readable name for an operand that is an expression: its function's or its name."""
    if isinstance(e, gast.Call):
        f = e.func
        stem = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "v")
    elif isinstance(e, gast.Name):
        stem = e.id + "_"
    elif isinstance(e, gast.Constant):
        stem = "c"
    elif isinstance(e, (gast.Subscript, gast.Attribute)):
        stem = _stem(e.value)
    else:
        stem = "v"
    stem = stem.lstrip("_")
    return stem if stem and stem.isascii() else "v"


# ---------------------------------------------------------------- merging statements
def _merge(body: list, node, fusing: _Fusing) -> None:
    """Merge each statement of ``body`` whose value only the next statement reads into that
    statement, while the merged tree still fuses."""
    i = 0
    while i + 1 < len(body):
        if _merged(body, i, node, fusing):
            i = max(i - 1, 0)  # the merged statement may take in the one before it
            while i > 0 and isinstance(body[i], gast.Delete):
                i -= 1
        else:
            i += 1


def _merged(body: list, i: int, node, fusing: _Fusing) -> bool:
    """Merge ``body[i]`` into ``body[i + 1]`` (see :func:`_merge`); True if it did."""
    j = i + 1
    while j < len(body) and isinstance(body[j], gast.Delete):
        j += 1
    if j == len(body):
        return False
    first, second, dels = body[i], body[j], body[i + 1 : j]
    if not (_simple(first) and (_simple(second) or _accumulation(second))):
        return False
    name = first.targets[0].id
    fusing.at(second)
    deleted = {t.id for d in dels for t in d.targets if isinstance(t, gast.Name)}
    target = second.target if _accumulation(second) else second.targets[0]
    if name in deleted or target.id in deleted:
        return False  # the deletions move after the merged statement
    op1, op2 = fusing.operation(first.value), fusing.operation(second.value)
    if op1 is None or op2 is None:
        return False
    if _accumulation(second) and target.id == name:
        return _merged_accumulation(body, i, j, fusing)
    out = op2[2]
    out_is_name = isinstance(out, gast.Name) and out.id == name
    if _tree_loads(fusing, second.value, name) != 1:
        return False
    if out is not None and not out_is_name and _loads(out, name):
        return False
    rebinds = target.id == name
    if not rebinds and (_loads(node, name) != _loads(second.value, name)):
        return False  # read elsewhere (its inner out= buffers go with the fused tree)
    if not rebinds and _stores(node, name) != 1:
        return False
    value = S.clone(second.value)
    keyword = _out_keyword(value)
    if keyword is not None:
        value.keywords.remove(keyword)
    value = _Substitute(name, first.value).visit(value)
    new_out = op1[2] if out_is_name else out
    if new_out is not None:
        value.keywords.append(gast.keyword(arg="out", value=new_out))
    if not _fuses(second, value, fusing):
        return False
    second.value = value
    copy_all_facts(first, second, lineno=True)  # the heading comment of the first
    body[i : j + 1] = [second, *dels]
    if not rebinds:
        _forget(node, name)
    return True


def _merged_accumulation(body: list, i: int, j: int, fusing: _Fusing) -> bool:
    """``t = a`` then ``t += b`` (``b`` not reading ``t``; ``body[j]``, after ``del``
    statements only) as ``t = a + b`` where that fuses, the deletions after it."""
    first, second = body[i], body[j]
    name = first.targets[0].id
    fusing.at(first)
    if _tree_loads(fusing, second.value, name) or _loads(second.value, name):
        return False
    out = fusing.operation(first.value)[2]
    ufunc = _UFUNCS[type(second.op)]
    function = S.attr_chain(f"{fusing.np_name}.{ufunc}")
    value = S.call(function, [first.value, second.value], {"out": out} if out else None)
    if fusing.tree(value) is None:
        return False
    first.value = value
    body[i : j + 1] = [first, *body[i + 1 : j]]
    return True


def _fuses(stmt, value, fusing: _Fusing) -> bool:
    """Whether ``stmt`` with the value ``value`` is a tree that fuses."""
    if _simple(stmt):
        return fusing.tree(value) is not None
    target = S.name(stmt.target.id)
    whole = gast.BinOp(left=target, op=stmt.op, right=value)
    return fusing.tree(whole, extra_out=S.name(stmt.target.id)) is not None


def _tree_loads(fusing: _Fusing, e, name: str) -> int:
    """The reads of ``name`` in the fused tree ``e`` (the ``out=`` of its operations, which
    the fused form does not write, left out)."""
    op = fusing.operation(e)
    if op is None:
        return _loads(e, name)
    return sum(_tree_loads(fusing, a, name) for a in op[1])


def _accumulation(stmt) -> bool:
    return (
        isinstance(stmt, gast.AugAssign)
        and isinstance(stmt.target, gast.Name)
        and type(stmt.op) in _OPERATORS
    )


def _simple(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    )


def _out_keyword(call):
    if isinstance(call, gast.Call):
        for k in call.keywords:
            if k.arg == "out":
                return k
    return None


def _loads(node, name: str) -> int:
    return S.loaded_names(node).count(name)


def _stores(node, name: str) -> int:
    return sum(
        1
        for n in S.walk(node)
        if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Store)
    )


def _forget(node, name: str) -> None:
    """Drop ``name`` (merged away) from the ``del`` statements of ``node``."""
    for body in S.blocks(node.body):
        for stmt in list(body):
            if isinstance(stmt, gast.Delete):
                stmt.targets = [
                    t for t in stmt.targets if not (isinstance(t, gast.Name) and t.id == name)
                ]
                if not stmt.targets:
                    body.remove(stmt)


class _Substitute(gast.NodeTransformer):
    """Replace the read of one name by an expression."""

    def __init__(self, name: str, value):
        self.name, self.value = name, value

    def visit_Name(self, n):
        if n.id == self.name and isinstance(n.ctx, gast.Load):
            return S.clone(self.value)
        return n
