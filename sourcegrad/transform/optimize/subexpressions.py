"""Values computed twice computed once: repeated whole values and common subexpressions of
the forward sweep."""

from __future__ import annotations

import gast
import numpy as np

from .. import syntax as S
from ..node_facts import get_fact
from ..shapes import (
    expression_dtype,
)
from ..walk import READ_METHODS, assigned_names, definition_counts, mutated_names
from .common import pure

_SCOPES = (
    gast.Lambda,
    gast.FunctionDef,
    gast.ListComp,
    gast.SetComp,
    gast.DictComp,
    gast.GeneratorExp,
)


def _foreign_call(n, np_name, kinds) -> bool:
    """Whether ``n`` calls something other than a NumPy function or a reading method of a
    name ``kinds`` gives a NumPy dtype (``var_2.mean(axis=-1, keepdims=True)``)."""
    if not isinstance(n, gast.Call):
        return False
    f = n.func
    base = S.dotted(f.value) if isinstance(f, gast.Attribute) else None
    if base and (base == np_name or base.startswith(f"{np_name}.")):
        return False
    return not (
        isinstance(f, gast.Attribute)
        and f.attr in READ_METHODS
        and isinstance(f.value, gast.Name)
        and isinstance(kinds.get(f.value.id), np.dtype)
        and not any(k.arg == "out" for k in n.keywords)
    )


def repeated_values(body, kinds: dict, np_name) -> None:
    """A forward statement ``t = e`` whose whole value an earlier one, ``s = e``, computed
    already (``p_1 = np.exp(h)`` ... ``p_2 = np.exp(h)``, from ``np.exp(h) / np.sum(np.exp(h))``)
    is dropped and ``t`` read as ``s``: one array operation and one array fewer. Only pure
    arithmetic (operators, NumPy ufuncs) over names that nothing changes in place, ``s`` and
    ``t`` each assigned once and never changed in place, and nothing between reassigning what
    ``e`` reads."""
    if any(isinstance(n, _SCOPES) for st in body for n in S.walk(st)):
        return  # a name inside a lambda or nested function may be its own parameter
    sweep = next((i for i, st in enumerate(body) if get_fact(st, "sweep", False)), len(body))
    counts = definition_counts(body)
    mutated = mutated_names(body)
    seen: dict = {}  # gast.dump of a value -> the name that holds it
    renamed: dict = {}  # dropped name -> the name node it is read as
    keep = []
    for i, stmt in enumerate(body):
        if renamed:
            S.rename(stmt, renamed)
        if i >= sweep:
            keep.append(stmt)
            continue
        changed = set()
        for inner in S.walk(stmt) if isinstance(stmt, gast.stmt) else ():
            if isinstance(inner, gast.Assign):
                changed |= assigned_names(inner)
        if any(_foreign_call(n, np_name, kinds) for n in S.walk(stmt)):
            seen = {}  # a function that is not NumPy's may change the arrays passed to it
        if changed:  # values held by or read from a reassigned name are not the same any more
            seen = {
                k: v
                for k, v in seen.items()
                if v not in changed and not any(f"id='{c}'" in k for c in changed)
            }
        value = getattr(stmt, "value", None)
        single = (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and counts.get(stmt.targets[0].id) == 1
            and stmt.targets[0].id not in mutated
        )
        if single and isinstance(value, (gast.BinOp, gast.Call)) and pure(value, np_name):
            reads = {n.id for n in S.walk(value) if isinstance(n, gast.Name)} - {np_name}
            key = gast.dump(value)
            if not reads & mutated and key in seen:
                renamed[stmt.targets[0].id] = S.name(seen[key])
                continue
            if not reads & mutated and stmt.targets[0].id not in reads:
                seen.setdefault(key, stmt.targets[0].id)
        keep.append(stmt)
    body[:] = keep


def common_subexpressions(body, kinds: dict, np_name) -> None:
    """A forward statement ``n = e`` whose ``e`` an earlier forward statement also computes
    (``out_5 = np.exp(-x * x)`` ... ``out_7 = x * x``) moves before that statement, which reads
    ``n`` instead (``out_7 = x * x; out_5 = np.exp(-out_7)``): one array operation and one
    temporary fewer. ``(-a) * b`` counts as ``-(a * b)`` where ``a`` is floating point (negation
    is exact there, and rounding symmetric); nothing else is reassociated. Only values
    assigned once, from pure arithmetic over names nothing changes in place, and only across
    simple statements that assign none of those names and call nothing but NumPy."""
    sweep = next((i for i, st in enumerate(body) if get_fact(st, "sweep", False)), len(body))
    counts = definition_counts(body)
    mutated = mutated_names(body)
    matcher = _Matcher(kinds, np_name)
    j = 0
    while j < sweep:
        stmt = body[j]
        j += 1
        if not (
            isinstance(stmt, gast.Assign)
            and isinstance(stmt.targets[0], gast.Name)
            and isinstance(stmt.value, gast.BinOp)
            and counts.get(stmt.targets[0].id) == 1
            and pure(stmt.value, np_name)
        ):
            continue
        name = stmt.targets[0].id
        reads = {n.id for n in S.walk(stmt.value) if isinstance(n, gast.Name)}
        if reads & mutated:
            continue
        key = gast.dump(stmt.value)
        first = _first_computed(body, j - 1, key, reads | {name}, matcher)
        if first is None:
            continue
        for i in range(first, j - 1):
            matcher.replace(body[i], key, name)
        body.insert(first, body.pop(j - 1))
        matcher.dumps.clear()  # rewritten nodes: ids may be reused


def _first_computed(body, at, key, names, matcher):
    """The index of the first statement before ``body[at]`` that computes ``key``, looking
    back only across simple statements that assign none of ``names`` and do not mention
    ``body[at]``'s target (the last of ``names`` added); None if there is none."""
    name = body[at].targets[0].id
    first = None
    for i in range(at - 1, -1, -1):
        earlier = body[i]
        if not matcher.simple(earlier) or (assigned_names(earlier) & names):
            break
        if any(isinstance(n, gast.Name) and n.id == name for n in S.walk(earlier)):
            break
        if matcher.occurs(earlier, key):
            first = i
    return first


class _Matcher:
    """Where a statement computes a value (a ``gast.dump``), or minus it."""

    def __init__(self, kinds: dict, np_name):
        self.kinds, self.np_name = kinds, np_name
        self.dumps: dict = {}  # id of a node -> gast.dump of it, until the next rewrite

    def floating(self, e) -> bool:
        dt = expression_dtype(e, self.kinds, self.np_name)
        return isinstance(dt, np.dtype) and dt.kind in "fc"

    def simple(self, stmt) -> bool:
        """Whether ``stmt`` is an assignment calling nothing but NumPy."""
        if not isinstance(stmt, gast.Assign):
            return False
        for n in S.walk(stmt):
            if isinstance(n, gast.Call) and not (
                isinstance(n.func, gast.Attribute) and S.dotted(n.func.value) == self.np_name
            ):
                return False
        return True

    def dump(self, n) -> str:
        got = self.dumps.get(id(n))
        if got is None:
            got = self.dumps[id(n)] = gast.dump(n)
        return got

    def match(self, n, key):
        """``"same"`` if the BinOp ``n`` computes ``key``, ``"negated"`` if it computes minus
        it (``(-a) * b`` for ``a * b``), else None."""
        if self.dump(n) == key:
            return "same"
        if isinstance(n.op, gast.Mult):
            for neg, other in ((n.left, n.right), (n.right, n.left)):
                if (
                    isinstance(neg, gast.UnaryOp)
                    and isinstance(neg.op, gast.USub)
                    and self.floating(neg.operand)
                ):
                    pair = (neg.operand, other) if neg is n.left else (other, neg.operand)
                    if gast.dump(gast.BinOp(left=pair[0], op=n.op, right=pair[1])) == key:
                        return "negated"
        return None

    def occurs(self, stmt, key) -> bool:
        return any(isinstance(n, gast.BinOp) and self.match(n, key) for n in S.walk(stmt.value))

    def replace(self, stmt, key, name) -> None:
        """``stmt`` reading ``name`` wherever it computes ``key`` (or minus it)."""
        match = self.match

        class Swap(S.Transformer):
            def visit_BinOp(self, n):
                found = match(n, key)
                if found == "same":
                    return S.name(name)
                if found == "negated":
                    return gast.UnaryOp(op=gast.USub(), operand=S.name(name))
                return self.generic_visit(n)

        stmt.value = Swap().visit(stmt.value)
