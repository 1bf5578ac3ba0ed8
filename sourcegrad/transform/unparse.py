"""The text of a simple statement as ``ast.unparse`` writes it, written from the gast tree.

Guarantees: :func:`statement_text` returns exactly the text ``ast.unparse`` gives the same
statement converted to ``ast`` (parentheses by the same precedence rules, numbers and
strings by ``repr``), for the statements and expressions the derivative's code is made of
(assignments, returns, expression statements; names, constants, attributes, calls,
subscripts, slices, tuples, lists, unary and binary operations, comparisons, boolean
operations), several times faster than converting and unparsing; None for a statement with
anything else in it (the caller unparses that one).
"""

from __future__ import annotations

import math
import sys

import gast

# ``ast._Precedence``'s levels (the order of Python's grammar)
_TUPLE, _YIELD, _TEST, _OR, _AND, _NOT, _CMP, _EXPR = 2, 3, 4, 5, 6, 7, 8, 9
_BXOR, _BAND, _SHIFT, _ARITH, _TERM, _FACTOR, _POWER, _ATOM = 10, 11, 12, 13, 14, 15, 16, 18

_BINOPS = {
    gast.Add: ("+", _ARITH), gast.Sub: ("-", _ARITH), gast.Mult: ("*", _TERM),
    gast.MatMult: ("@", _TERM), gast.Div: ("/", _TERM), gast.Mod: ("%", _TERM),
    gast.LShift: ("<<", _SHIFT), gast.RShift: (">>", _SHIFT), gast.BitOr: ("|", _EXPR),
    gast.BitXor: ("^", _BXOR), gast.BitAnd: ("&", _BAND), gast.FloorDiv: ("//", _TERM),
    gast.Pow: ("**", _POWER),
}  # fmt: skip
_UNARY = {
    gast.Invert: ("~", _FACTOR), gast.Not: ("not ", _NOT), gast.UAdd: ("+", _FACTOR),
    gast.USub: ("-", _FACTOR),
}  # fmt: skip
_COMPARISONS = {
    gast.Eq: "==", gast.NotEq: "!=", gast.Lt: "<", gast.LtE: "<=", gast.Gt: ">",
    gast.GtE: ">=", gast.Is: "is", gast.IsNot: "is not", gast.In: "in", gast.NotIn: "not in",
}  # fmt: skip
_INFSTR = "1e" + repr(sys.float_info.max_10_exp + 1)


class _Other(Exception):
    """A node this module does not write: the statement is unparsed by ``ast``."""


def statement_text(stmt) -> str | None:
    """``ast.unparse`` of the simple statement ``stmt`` (see the module docstring); None
    where it holds a kind of node written only by ``ast``."""
    try:
        t = type(stmt)
        if t is gast.Assign:
            if stmt.type_comment is not None:
                return None
            targets = "".join(_text(e, _TUPLE) + " = " for e in stmt.targets)
            return targets + _text(stmt.value, _TEST)
        if t is gast.Return:
            return "return" if stmt.value is None else "return " + _text(stmt.value, _TEST)
        if t is gast.Expr:
            return _text(stmt.value, _YIELD)
        if t is gast.AugAssign:
            op = _BINOPS[type(stmt.op)][0]
            return f"{_text(stmt.target, _TEST)} {op}= {_text(stmt.value, _TEST)}"
    except _Other:
        return None
    return None


def _negative(value) -> bool:
    """Whether the number ``value`` is written with a leading minus (``emit`` writes it as a
    negation of a positive number)."""
    t = type(value)
    if t is int:
        return value < 0
    if t is float:
        return math.copysign(1.0, value) < 0
    return False


def _constant(value) -> str:
    if isinstance(value, (float, complex)):
        return repr(value).replace("inf", _INFSTR).replace("nan", f"({_INFSTR}-{_INFSTR})")
    if value is ... or type(value) is tuple:
        raise _Other
    return repr(value)


def _text(e, p: int) -> str:
    """``e`` written where its context has precedence ``p`` (parenthesised where its own
    binds less tightly)."""
    t = type(e)
    if t is gast.Name:
        return e.id
    if t is gast.Constant:
        if e.kind is not None:
            raise _Other
        value = e.value
        if _negative(value):  # -(positive), as a unary minus
            text = "-" + _constant(-value)
            return f"({text})" if p > _FACTOR else text
        return _constant(value)
    if t is gast.Attribute:
        inner = e.value
        space = type(inner) is gast.Constant and isinstance(inner.value, int)
        space = space and not _negative(inner.value)
        return _text(inner, _ATOM) + (" ." if space else ".") + e.attr
    if t is gast.Call:
        parts = [_text(a, _TEST) if type(a) is not gast.Starred else _starred(a) for a in e.args]
        for k in e.keywords:
            value = _text(k.value, _TEST)
            parts.append("**" + value if k.arg is None else k.arg + "=" + value)
        return _text(e.func, _ATOM) + "(" + ", ".join(parts) + ")"
    if t is gast.BinOp:
        op, q = _BINOPS[type(e.op)]
        left, right = (q + 1, q) if q == _POWER else (q, q + 1)
        text = f"{_text(e.left, left)} {op} {_text(e.right, right)}"
        return f"({text})" if p > q else text
    if t is gast.Subscript:
        index = e.slice
        if type(index) is gast.Tuple and index.elts:
            inside = _items(index.elts)
        else:
            inside = _text(index, _TEST)
        return _text(e.value, _ATOM) + "[" + inside + "]"
    return _compound(e, t, p)


def _compound(e, t, p: int) -> str:
    """:func:`_text` of the rarer kinds of node."""
    if t is gast.UnaryOp:
        op, q = _UNARY[type(e.op)]
        text = op + _text(e.operand, q)
        return f"({text})" if p > q else text
    if t is gast.Tuple:
        if not e.elts or p > _TUPLE:
            return "(" + _items(e.elts) + ")"
        return _items(e.elts)
    if t is gast.List:
        return "[" + ", ".join([_text(x, _TEST) for x in e.elts]) + "]"
    if t is gast.Slice:
        text = (_text(e.lower, _TEST) if e.lower else "") + ":"
        text += _text(e.upper, _TEST) if e.upper else ""
        return text + (":" + _text(e.step, _TEST) if e.step else "")
    if t is gast.Compare:
        parts = [_text(e.left, _CMP + 1)]
        for op, right in zip(e.ops, e.comparators):
            parts.append(f" {_COMPARISONS[type(op)]} {_text(right, _CMP + 1)}")
        text = "".join(parts)
        return f"({text})" if p > _CMP else text
    if t is gast.BoolOp:
        q = _AND if type(e.op) is gast.And else _OR
        word = " and " if q == _AND else " or "
        text = word.join([_text(v, q + 1 + k) for k, v in enumerate(e.values)])
        return f"({text})" if p > q else text
    raise _Other


def _items(elts) -> str:
    """Items separated by commas, a single one followed by a comma (a tuple's)."""
    if len(elts) == 1:
        return _text(elts[0], _TEST) + ","
    return ", ".join(
        [_text(x, _TEST) if type(x) is not gast.Starred else _starred(x) for x in elts]
    )


def _starred(e) -> str:
    return "*" + _text(e.value, _EXPR)
