"""Pass 5 — simplify: make the derivative read as if an expert wrote it.

Guarantees to the next pass: the same function, computing the same values, with

* constants and plain copies of temporaries propagated (``dout = 1.0`` disappears);
* algebra with known constants folded (``1.0 * e`` -> ``e``, ``x ** 1`` -> ``x``);
* temporaries used once inlined where they are used (forward temporaries only within the user
  statement they came from, so evaluation order and side effects are unchanged);
* statements without side effects whose results no later statement reads removed;
* no gradient that aliases the user's data: such a result is copied.

User-named variables (``h1``, ``dh1``) keep their names.
"""

from __future__ import annotations

import functools
import numbers
import operator

import gast
import numpy as np

from ..runtime import NAMESPACE
from . import syntax as S
from .algebra import collect_like_terms, floating
from .reverse import Derivative, shape_key
from .walk import assigned_names, definition_counts, load_counts, read_parts, walk_statements

_PASSTHROUGH = {
    "reshape", "transpose", "swapaxes", "moveaxis", "broadcast_to", "ravel", "squeeze",
    "expand_dims", "asarray", "atleast_1d", "atleast_2d",
}  # fmt: skip
_PASSTHROUGH_HELPERS = {"sum_to", "unreduce", "expand_to", "gradient_like", "seed_like"}


def simplify(der: Derivative) -> Derivative:
    """Simplify ``der.node`` in place (see the module docstring) and return ``der``."""
    body = der.node.body
    keep_names = set(der.analysis.core.user_names) | set(der.analysis.core.params)
    keep_names |= {der.adj_names[n] for n in keep_names if n in der.adj_names}
    floats = set(der.analysis.active) | set(der.adj_names.values())  # for like terms
    for _ in range(20):
        changed = propagate(body, keep_names)
        changed |= _block_copies(body, keep_names, definition_counts(body))
        changed |= fold_all(body, der)
        changed |= _scalar_broadcasts(body, der)
        changed |= _inline(body, keep_names)
        changed |= collect_like_terms(body, is_adjoint, floats)
        changed |= _merge_accumulations(body)
        changed |= dead_stores(body)
        changed |= dead_tape(body)
        if not changed:
            break
    drop_unused_tape(body)
    if _inline_tests(body, der.analysis.core.conditions, load_counts(body)):
        _unread_inits(body, load_counts(body))  # `cond = None` before a loop, for its tape
    if der.mode != "jvp":
        protect_aliases(der)
    return der


# --------------------------------------------------------------------------- def/use


_COMPOUND = (gast.If, gast.For, gast.While)


def is_adjoint(stmt) -> bool:
    return getattr(stmt, "sg_adjoint", False)


def _simple_target(stmt):
    if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
        return stmt.targets[0].id
    return None


# --------------------------------------------------------------------------- propagation


def propagate(body, keep):
    defs = definition_counts(body)
    changed = False
    for stmt in list(body):
        t = _simple_target(stmt)
        if t is None or t in keep or defs.get(t) != 1 or stmt not in body:
            continue
        if getattr(stmt, "sg_keep", False):
            continue
        v = stmt.value
        ok = (
            isinstance(v, gast.Constant)
            and isinstance(v.value, numbers.Number)
            and not isinstance(v.value, bool)
        )
        ok |= (
            isinstance(v, gast.Name)
            and defs.get(v.id, 0) <= 1
            and (is_adjoint(stmt) or getattr(stmt, "sg_temp", False))
        )
        if not ok:
            continue
        if getattr(stmt, "sg_comment", None):
            _move_comment(body, stmt)
        body.remove(stmt)
        _replace_everywhere(body, {t: v})
        changed = True
    return changed


def _block_copies(body, keep, defs):
    """Inside each block, ``t = v`` (a temporary copy of a name) is replaced by ``v`` in the
    statements that follow it, up to the first reassignment of ``t`` or ``v``; a copy of a
    name onto itself is dropped."""
    changed = False
    for stmt in list(body):
        if isinstance(stmt, _COMPOUND):
            changed |= _block_copies(stmt.body, keep, defs) | _block_copies(stmt.orelse, keep, defs)
    for stmt in list(body):
        if stmt not in body:
            continue
        t = _simple_target(stmt)
        if t is None or getattr(stmt, "sg_keep", False) or not isinstance(stmt.value, gast.Name):
            continue
        v = stmt.value.id
        if v == t:
            body.remove(stmt)
            changed = True
            continue
        if (
            t in keep
            or defs.get(t) != 1
            or not (is_adjoint(stmt) or getattr(stmt, "sg_temp", False))
        ):
            continue
        start = body.index(stmt)
        for later in body[start + 1 :]:
            if isinstance(later, _COMPOUND) and _assigns(later) & {t, v}:
                break  # a loop or branch that reassigns either: later reads may differ
            for part in read_parts(later) if not isinstance(later, _COMPOUND) else [later]:
                if any(isinstance(n, gast.Name) and n.id == t for n in S.walk(part)):
                    changed = True
            _replace_in(later, {t: stmt.value})
            if _assigns(later) & {t, v}:
                break
    return changed


def _replace_in(stmt, mapping):
    if isinstance(stmt, _COMPOUND):
        if isinstance(stmt, (gast.If, gast.While)):
            stmt.test = S.rename(stmt.test, mapping)
        else:
            stmt.iter = S.rename(stmt.iter, mapping)
        for sub in stmt.body + stmt.orelse:
            _replace_in(sub, mapping)
    elif isinstance(stmt, (gast.Assign, gast.Return, gast.Expr)):
        stmt.value = S.rename(stmt.value, mapping)
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Subscript):
            stmt.targets[0].slice = S.rename(stmt.targets[0].slice, mapping)
            base = stmt.targets[0].value
            if base.id in mapping:
                stmt.targets[0].value = gast.Name(
                    id=mapping[base.id].id, ctx=gast.Load(), annotation=None, type_comment=None
                )


def _replace_everywhere(body, mapping):
    for stmt in walk_statements(body):
        if isinstance(stmt, gast.Assign):
            _replace_in(stmt, mapping)
        elif isinstance(stmt, (gast.If, gast.While)):
            stmt.test = S.rename(stmt.test, mapping)
        elif isinstance(stmt, gast.For):
            stmt.iter = S.rename(stmt.iter, mapping)
        elif isinstance(stmt, (gast.Return, gast.Expr)):
            stmt.value = S.rename(stmt.value, mapping)


def _move_comment(body, stmt):
    """Hand a removed statement's block comment to the next statement of its block."""
    i = body.index(stmt)
    if (
        i + 1 < len(body)
        and is_adjoint(body[i + 1])
        and not getattr(body[i + 1], "sg_comment", None)
    ):
        body[i + 1].sg_comment = stmt.sg_comment


# --------------------------------------------------------------------------- folding


def _num(node):
    return (
        isinstance(node, gast.Constant)
        and isinstance(node.value, numbers.Number)
        and not isinstance(node.value, bool)
    )


class _Fold(gast.NodeTransformer):
    changed = False
    floats: frozenset = frozenset()  # names known to hold floating point values

    def float_valued(self, e) -> bool:
        """Whether the product ``e`` has a factor known to be floating point (a float
        literal, a differentiated value or an adjoint), so its result is one too."""
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
            return self.float_valued(e.left) or self.float_valued(e.right)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            return self.float_valued(e.operand)
        if isinstance(e, gast.Constant):
            return type(e.value) in (float, complex)
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Attribute)
            and isinstance(e.func.value, gast.Name)
            and e.func.value.id == self.np_name
        ):  # np.cos(..): a ufunc without an integer loop makes floats of anything
            return _makes_floats(e.func.attr)
        return isinstance(e, gast.Name) and e.id in self.floats

    def known_float(self, e) -> bool:
        """Whether ``e`` is known to be floating point (not a boolean or an integer, for which
        ``m + m``, ``1 * m`` and ``m ** 1`` are not what they are for numbers)."""
        return self.float_valued(e) or floating(e, self.floats)

    def visit_BinOp(self, n):
        self.generic_visit(n)
        left, right, op = n.left, n.right, n.op
        if _num(left) and _num(right) and isinstance(op, (gast.Add, gast.Sub, gast.Mult, gast.Pow)):
            value = _python_arithmetic(op, left.value, right.value)
            if value is not None:
                self.changed = True
                return S.const(value)
        if isinstance(op, gast.Mult):
            for a, b in ((left, right), (right, left)):
                if not (_num(a) and a.value in (1, -1)):
                    continue
                if not self.known_float(b):
                    # 1.0 * k of an integer k is a float; k alone may wrap later. 1 * m of a
                    # mask m is 0 or 1, m a boolean (m + m is m), and -1 * u of an unsigned u
                    # is not -u
                    continue
                self.changed = True
                return b if a.value == 1 else gast.UnaryOp(op=gast.USub(), operand=b)
        if isinstance(op, gast.Mult):  # 1.0 / u * v is v / u: one operation, one rounding
            for a, b in ((left, right), (right, left)):
                if isinstance(a, gast.BinOp) and isinstance(a.op, gast.Div) and _num(a.left):
                    if a.left.value == 1:
                        self.changed = True
                        return gast.BinOp(left=b, op=gast.Div(), right=a.right)
        if (
            isinstance(op, gast.Div)
            and _num(right)
            and right.value == 1
            and self.float_valued(left)
        ):
            self.changed = True
            return left
        if isinstance(op, gast.Pow) and _num(right) and right.value == 1 and self.known_float(left):
            self.changed = True  # (m ** 1 of a mask m is an integer)
            return left
        if isinstance(op, gast.Add) and _same_product(left, right) and self.known_float(left):
            self.changed = True  # the product rule of x * x: dx * x + x * dx (m + m of a mask is m)
            return gast.BinOp(left=S.const(2.0), op=gast.Mult(), right=left)
        if (
            isinstance(op, (gast.Add, gast.Sub))
            and isinstance(left, gast.BinOp)
            and isinstance(right, gast.BinOp)
            and isinstance(left.op, gast.Div)
            and isinstance(right.op, gast.Div)
            and isinstance(left.right, gast.Name)
            and isinstance(right.right, gast.Name)
            and left.right.id == right.right.id
            and (self.known_float(left.left) or self.known_float(right.left))  # not m1 - m2
        ):
            self.changed = True  # the quotient rule: dx / y - dy * z / y is (dx - dy * z) / y
            top = gast.BinOp(left=left.left, op=op, right=right.left)
            return gast.BinOp(left=top, op=gast.Div(), right=left.right)
        if isinstance(op, gast.Add):
            positive = _strip_negation(right)
            if positive is not None:
                self.changed = True
                return gast.BinOp(left=left, op=gast.Sub(), right=positive)
        return n

    def visit_UnaryOp(self, n):
        self.generic_visit(n)
        if isinstance(n.op, gast.USub):
            if _num(n.operand):
                self.changed = True
                return S.const(-n.operand.value)
            if isinstance(n.operand, gast.UnaryOp) and isinstance(n.operand.op, gast.USub):
                self.changed = True
                return n.operand.operand
        return n

    def visit_Call(self, n):
        self.generic_visit(n)
        # np.sum(c) of a number is the number
        if (
            isinstance(n.func, gast.Attribute)
            and n.func.attr == "sum"
            and len(n.args) == 1
            and not n.keywords
            and _num(n.args[0])
            and isinstance(n.func.value, gast.Name)
            and n.func.value.id == self.np_name
        ):
            self.changed = True
            return n.args[0]
        # unreduce(unreduce(c, a), b, ...) of a number c fills b with c: unreduce(c, b)
        if (
            isinstance(n.func, gast.Name)
            and n.func.id == self.unreduce_name
            and n.args
            and isinstance(n.args[0], gast.Call)
            and isinstance(n.args[0].func, gast.Name)
            and n.args[0].func.id == self.unreduce_name
            and len(n.args[0].args) == 2
            and self.is_scalar(n.args[0].args[0])
        ):
            self.changed = True
            return S.call(n.func, [n.args[0].args[0], n.args[1]])
        return n

    def visit_Subscript(self, n):
        self.generic_visit(n)
        if (
            isinstance(n.value, gast.Tuple)
            and isinstance(n.slice, gast.Constant)
            and isinstance(n.slice.value, int)
            and -len(n.value.elts) <= n.slice.value < len(n.value.elts)
        ):
            self.changed = True
            return n.value.elts[n.slice.value]
        return n


def _python_arithmetic(op, a, b):
    """``a <op> b`` of two Python numbers as Python computes it where the code runs (``2 ** -1``
    is 0.5, ``10 ** 20`` exact), or None where it raises or would be huge."""
    if isinstance(op, gast.Pow) and type(a) is int and type(b) is int and abs(b) > 64:
        return None  # 10 ** 10 ** 9 is left to run time
    try:
        return {
            gast.Add: operator.add,
            gast.Sub: operator.sub,
            gast.Mult: operator.mul,
            gast.Pow: operator.pow,
        }[type(op)](a, b)
    except (ArithmeticError, ValueError):  # 0.0 ** -1, 1e300 ** 2: raised where it runs
        return None


@functools.cache
def _makes_floats(name: str) -> bool:
    """Whether ``np.<name>`` is a ufunc without a loop giving integers or booleans."""
    f = getattr(np, name, None)
    return isinstance(f, np.ufunc) and not any(t.split("->")[1] in "bhilqBHILQ?" for t in f.types)


def _same_product(a, b) -> bool:
    """Whether ``a`` and ``b`` are the same name, or the same elementwise product of two
    names in either order (``p * q``, ``q * p``)."""

    def factors(e):
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
            if isinstance(e.left, gast.Name) and isinstance(e.right, gast.Name):
                return sorted((e.left.id, e.right.id))
        return None

    if isinstance(a, gast.Name) and isinstance(b, gast.Name):
        return a.id == b.id  # b + b
    fa = factors(a)
    return fa is not None and fa == factors(b)


def _strip_negation(e):
    """``e`` without its leading minus (``-a * b / c`` -> ``a * b / c``), or None."""
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        return e.operand
    if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Mult, gast.Div)):
        inner = _strip_negation(e.left)
        if inner is not None:
            return gast.BinOp(left=inner, op=e.op, right=e.right)
    return None


def fold_all(body, der):
    f = _Fold()
    f.floats = frozenset(der.analysis.active) | frozenset(der.adj_names.values())
    f.np_name = der.refs.by_id.get(id(np))
    f.unreduce_name = der.refs.by_id.get(id(NAMESPACE["unreduce"]))
    f.is_scalar = lambda e: shape_key(der.analysis, der.adj_of, e) == "scalar"
    for stmt in walk_statements(body):
        if is_adjoint(stmt) or isinstance(stmt, gast.Return):
            if isinstance(stmt, (gast.Assign, gast.Return)):
                stmt.value = f.visit(stmt.value)
    return f.changed


def _scalar_broadcasts(body, der):
    """``unreduce(c, x) * e`` -> ``c * e`` when ``c`` is a scalar and ``e`` has ``x``'s shape:
    the product broadcasts ``c`` by itself."""
    unreduce_name = der.refs.by_id.get(id(NAMESPACE["unreduce"]))
    if unreduce_name is None:
        return False
    adj_of = der.adj_of

    def is_scalar_unreduce(n):
        return (
            isinstance(n, gast.Call)
            and isinstance(n.func, gast.Name)
            and n.func.id == unreduce_name
            and len(n.args) == 2
            and shape_key(der.analysis, adj_of, n.args[0]) == "scalar"
        )

    def factors(n):
        if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult):
            return factors(n.left) + factors(n.right)
        return [n]

    class T(gast.NodeTransformer):
        changed = False

        def visit_BinOp(self, n):
            self.generic_visit(n)
            if isinstance(n.op, gast.Div) and is_scalar_unreduce(n.left):
                target = shape_key(der.analysis, adj_of, n.left.args[1])
                if target is not None and shape_key(der.analysis, adj_of, n.right) == target:
                    self.changed = True  # unreduce(c, x) / e -> c / e
                    n.left = n.left.args[0]
                return n
            if not isinstance(n.op, gast.Mult):
                return n
            fs = factors(n)
            for i, f in enumerate(fs):
                if not is_scalar_unreduce(f):
                    continue
                target = shape_key(der.analysis, adj_of, f.args[1])
                others = fs[:i] + fs[i + 1 :]
                if target is not None and any(
                    shape_key(der.analysis, adj_of, o) == target for o in others
                ):
                    self.changed = True
                    fs[i] = f.args[0]
                    out = fs[0]
                    for g in fs[1:]:
                        out = gast.BinOp(left=out, op=gast.Mult(), right=g)
                    return out
            return n

    t = T()
    changed = _spread_scalar_seeds(body, is_scalar_unreduce, T)
    for stmt in walk_statements(body):
        if is_adjoint(stmt) and isinstance(stmt, gast.Assign):
            stmt.value = t.visit(stmt.value)
    return t.changed or changed


def _spread_scalar_seeds(body, is_scalar_unreduce, fold) -> bool:
    """``g = unreduce(c, x)`` (an array of c, e.g. the adjoint of a full sum) read by several
    statements: put the call in each of them when the scalar rules of ``fold`` then remove
    it from every one, so the array is never made."""
    changed = False
    defs = definition_counts(body)
    stmts = list(walk_statements(body))
    for stmt in stmts:
        g = _simple_target(stmt)
        if not (is_adjoint(stmt) and g and defs.get(g) == 1 and is_scalar_unreduce(stmt.value)):
            continue
        users = [u for u in stmts if u is not stmt and g in _reads_of(u)]
        if not users or not all(
            isinstance(u, gast.Assign)
            and is_adjoint(u)
            and not isinstance(u.targets[0], gast.Subscript)
            for u in users
        ):
            continue
        trials = []
        for u in users:
            value = S.rename(S.clone(u.value), {g: stmt.value})
            value = fold().visit(value)
            if any(is_scalar_unreduce(n) for n in S.walk(value)):
                break
            trials.append(value)
        else:
            for u, value in zip(users, trials):
                u.value = value
            changed = True
    return changed


# --------------------------------------------------------------------------- inlining


def _inline(body, keep, defs=None, uses=None):
    """Inline single-use temporaries into their one use, within each block (all of them in
    one call: inlining moves reads from one statement to another, so the def and use counts
    stay true for every other name)."""
    if defs is None:
        defs, uses = definition_counts(body), load_counts(body)
    changed = False
    for stmt in body:
        if isinstance(stmt, _COMPOUND):
            changed |= _inline(stmt.body, keep, defs, uses)
            changed |= _inline(stmt.orelse, keep, defs, uses)
    start = 0
    loads: dict = {}  # id(statement) -> the names it reads, while it is not rewritten
    while True:
        i = _inline_one(body, keep, defs, uses, start, loads)
        if i is None:
            return changed
        changed = True
        start = max(i - 1, 0)


def _loads(stmt, cache) -> set:
    """The names ``stmt`` reads (a compound statement: anywhere in it), cached by ``id``."""
    got = cache.get(id(stmt))
    if got is None:
        parts = [stmt] if isinstance(stmt, _COMPOUND) else read_parts(stmt)
        got = cache[id(stmt)] = {
            n.id
            for part in parts
            for n in S.walk(part)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
        }
    return got


def _inline_one(body, keep, defs, uses, start, loads):
    """Inline the first inlinable temporary from ``start``; its index, or None."""
    for i in range(start, len(body)):
        stmt = body[i]
        t = _simple_target(stmt)
        if t is None or t in keep or defs.get(t) != 1 or uses.get(t) != 1:
            continue
        forward_temp = getattr(stmt, "sg_temp", False) and not is_adjoint(stmt)
        if not (forward_temp or is_adjoint(stmt)):
            continue
        if forward_temp and not getattr(stmt, "sg_pure", False):
            continue
        j = next((k for k in range(i + 1, len(body)) if t in _loads(body[k], loads)), None)
        if j is None:
            continue
        user = body[j]
        if isinstance(user, _COMPOUND):
            continue
        if forward_temp and (
            is_adjoint(user) or getattr(user, "sg_group", None) != getattr(stmt, "sg_group", None)
        ):
            continue
        reads = {n.id for n in S.walk(stmt.value) if isinstance(n, gast.Name)}
        if any(_assigns(body[k]) & reads for k in range(i + 1, j)):
            continue
        if forward_temp and any(not getattr(body[k], "sg_pure", True) for k in range(i + 1, j)):
            continue
        if isinstance(user, (gast.Assign, gast.Return, gast.Expr)):
            _replace_in(user, {t: stmt.value})
            loads.pop(id(user), None)
        if getattr(stmt, "sg_comment", None) and not getattr(user, "sg_comment", None):
            user.sg_comment = stmt.sg_comment
        del body[i]
        loads.pop(id(stmt), None)
        defs[t] = uses[t] = 0
        return i
    return None


def _use_site(body, start, name, lineno=None):
    """The index of the first statement from ``start`` that reads ``name``; with ``lineno``,
    None as soon as a statement from another user line comes first."""
    for k in range(start, len(body)):
        if lineno is not None and getattr(body[k], "lineno", None) != lineno:
            return None
        for part in read_parts(body[k]) if not isinstance(body[k], _COMPOUND) else [body[k]]:
            if any(
                isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load)
                for n in S.walk(part)
            ):
                return k
    return None


def _assigns(stmt) -> set:
    out = set()
    for s in walk_statements([stmt]):
        out |= assigned_names(s)
    return out


def _merge_accumulations(body):
    """``a = e1`` followed (with no read or store of ``a`` between) by ``a = a + e2`` ->
    ``a = e1 + e2``."""
    for i, stmt in enumerate(body):
        t = _simple_target(stmt)
        if t is None or not is_adjoint(stmt):
            continue
        # one block per user line: the accumulation must come from the same line
        j = _use_site(body, i + 1, t, getattr(stmt, "lineno", None))
        if j is None:
            continue
        nxt = body[j]
        if not (
            _simple_target(nxt) == t
            and is_adjoint(nxt)
            and isinstance(nxt.value, gast.BinOp)
            and isinstance(nxt.value.op, gast.Add)
            and isinstance(nxt.value.left, gast.Name)
            and nxt.value.left.id == t
            and not any(isinstance(n, gast.Name) and n.id == t for n in S.walk(nxt.value.right))
        ):
            continue
        reads = {n.id for n in S.walk(stmt.value) if isinstance(n, gast.Name)}
        if any(_assigns(body[k]) & (reads | {t}) for k in range(i + 1, j)):
            continue  # (a store to a in between: a = e1 is dead, and the sum is of that store)
        nxt.value.left = stmt.value
        if getattr(stmt, "sg_comment", None):
            _move_comment(body, stmt)
        del body[i]
        return True
    return False


# --------------------------------------------------------------------------- dead code


def _removable(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and (is_adjoint(stmt) or getattr(stmt, "sg_pure", False))
        and not getattr(stmt, "sg_keep", False)
    )


#: id(statement) -> names it reads, during one liveness analysis (statements do not change
#: while it runs, and loops make it visit them many times)
_READS: dict | None = None


def _reads_of(stmt) -> set:
    cache = _READS
    if cache is not None:
        got = cache.get(id(stmt))
        if got is not None:
            return got
    reads = {
        n.id
        for part in read_parts(stmt)
        for n in S.walk(part)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    }
    if cache is not None:
        cache[id(stmt)] = reads
    return reads


def liveness(body, **kwargs) -> set:
    """:func:`_live_before` over a whole function body, with the reads of each statement
    computed once."""
    global _READS
    _READS = {}
    try:
        return _live_before(body, set(), **kwargs)
    finally:
        _READS = None


def _live_before(stmts, live, remove=False, dead_pops=None, after=None) -> set:
    """Names live before ``stmts`` given those live after (structured liveness); with
    ``remove``, also drop assignments nothing reads afterwards; with ``dead_pops`` (a set),
    collect the tape pops whose restored value nothing reads; with ``after`` (a dict), record
    the names live after each simple statement, by ``id``."""
    live = set(live)
    for stmt in reversed(list(stmts)):
        if isinstance(stmt, gast.If):
            body = _live_before(stmt.body, live, remove, dead_pops, after)
            orelse = _live_before(stmt.orelse, live, remove, dead_pops, after)
            live = body | orelse | _reads_of(stmt)
            if remove and not stmt.body:
                stmt.body.append(gast.Pass())
        elif isinstance(stmt, (gast.For, gast.While)):
            loop_live = set(live) | _reads_of(stmt)  # a while test runs after every iteration
            for _ in range(50):  # the body's start flows back to its end
                start = _live_before(stmt.body, loop_live | live)
                if start <= loop_live:
                    break
                loop_live |= start
            _live_before(stmt.body, loop_live | live, remove, dead_pops, after)
            if remove and not stmt.body:
                stmt.body.append(gast.Pass())
            live = live | loop_live | _reads_of(stmt)
        else:
            if after is not None:
                after[id(stmt)] = set(live)
            targets = assigned_names(stmt)
            pair = getattr(stmt, "sg_tape_pair", None)
            if dead_pops is not None and pair and isinstance(stmt, gast.Assign):
                if not (targets & live):
                    dead_pops.add(pair)
            if remove and _removable(stmt) and not (targets & live):
                if getattr(stmt, "sg_comment", None):
                    _move_comment(stmts, stmt)
                stmts.remove(stmt)
                continue
            if isinstance(stmt, gast.Assign) and not isinstance(stmt.targets[0], gast.Subscript):
                live -= targets
            live |= _reads_of(stmt)
    return live


def dead_tape(body) -> bool:
    """Drop each value saved on the tape whose restored copy nothing reads: its push in the
    forward sweep and its pop in the adjoint sweep."""
    dead: set = set()
    liveness(body, dead_pops=dead)
    if not dead:
        return False

    def strip(stmts):
        for stmt in list(stmts):
            if getattr(stmt, "sg_tape_pair", None) in dead:
                stmts.remove(stmt)
            elif isinstance(stmt, _COMPOUND):
                strip(stmt.body)
                strip(stmt.orelse)
                if not stmt.body:
                    stmt.body.append(gast.Pass())

    strip(body)
    return True


def dead_stores(body) -> bool:
    """Remove side-effect-free assignments whose value no later statement reads, on any
    path (a structured liveness analysis; loops iterate to a fixed point)."""
    before = sum(1 for _ in walk_statements(body))
    liveness(body, remove=True)
    _empty_blocks(body, body)
    return sum(1 for _ in walk_statements(body)) != before


def _empty_blocks(stmts, whole) -> None:
    """Remove ``for i in range(..)`` loops (``reversed`` too) whose body does nothing and whose
    counter nothing else reads: the adjoint loop of a loop with nothing to differentiate; and
    write ``if c: pass else: ...`` as ``if not c: ...``."""
    for stmt in list(stmts):
        if isinstance(stmt, _COMPOUND):
            _empty_blocks(stmt.body, whole)
            _empty_blocks(stmt.orelse, whole)
        if isinstance(stmt, gast.If) and isinstance(stmt.test, gast.Name):
            empty = all(isinstance(b, gast.Pass) for b in stmt.body)
            if empty and not all(isinstance(b, gast.Pass) for b in stmt.orelse):
                stmt.test = gast.UnaryOp(op=gast.Not(), operand=stmt.test)
                stmt.body, stmt.orelse = stmt.orelse, []
            elif empty:  # nothing in either branch: the test is a name, nothing to evaluate
                stmts.remove(stmt)
                continue
        if not (
            isinstance(stmt, gast.For)
            and not stmt.orelse
            and all(isinstance(b, gast.Pass) for b in stmt.body)
            and isinstance(stmt.target, gast.Name)
            and _range_call(stmt.iter)
        ):
            continue
        counter = stmt.target.id
        read = any(
            isinstance(n, gast.Name) and n.id == counter and isinstance(n.ctx, gast.Load)
            for other in whole
            for n in S.walk(other)
        )
        if not read:
            stmts.remove(stmt)


def _inline_tests(stmts, conditions, uses) -> bool:
    """Put a test back where the user wrote it: ``c = e; if c:`` -> ``if e:``, and
    ``c = e; while c: ...; c = e`` -> ``while e: ...``, for a test name ``c`` that nothing
    else reads (forward mode; the primal sweep when the adjoint does not branch on ``c``).
    Evaluation is unchanged: ``e`` runs at the same points (core form has no ``continue``
    that could skip the recomputation at the end of a loop body). CPython compiles a
    comparison that jumps as one instruction: a float ``while`` loop runs ~8% faster. True
    when a test was inlined."""
    changed = False
    for stmt in stmts:
        if isinstance(stmt, _COMPOUND):
            changed |= _inline_tests(stmt.body, conditions, uses)
            changed |= _inline_tests(stmt.orelse, conditions, uses)
    for i in range(len(stmts) - 1, 0, -1):
        stmt = stmts[i]
        if not isinstance(stmt, (gast.If, gast.While)) or not isinstance(stmt.test, gast.Name):
            continue
        c = stmt.test.id
        if c not in conditions or uses.get(c) != 1:
            continue
        j = _computed_at(stmts, c, i)
        if j is None:
            continue
        before = stmts[j]
        if isinstance(stmt, gast.While):
            k = _computed_at(stmt.body, c, len(stmt.body))
            if k is None or stmt.orelse:
                continue
            if gast.dump(stmt.body[k].value) != gast.dump(before.value):
                continue
            del stmt.body[k]
        stmt.test = before.value
        if getattr(before, "sg_comment", None) and not getattr(stmt, "sg_comment", None):
            stmt.sg_comment = before.sg_comment
        del stmts[j]
        changed = True
    return changed


def _unread_inits(stmts, uses) -> None:
    """Remove ``x = None`` where nothing reads ``x``."""
    for stmt in list(stmts):
        if isinstance(stmt, _COMPOUND):
            _unread_inits(stmt.body, uses)
            _unread_inits(stmt.orelse, uses)
        t = _simple_target(stmt)
        if t is not None and not uses.get(t) and S.is_none(stmt.value):
            stmts.remove(stmt)


def _computed_at(body, c, end):
    """The index of ``c = e`` in ``body[:end]`` when only statements that cannot change what
    ``e`` computes follow it there (``n_iter = n_iter + 1``, ``x_1 = None``: plain assignments
    without calls of names ``e`` does not read); None otherwise."""
    k = next((k for k in range(end - 1, -1, -1) if _simple_target(body[k]) == c), None)
    if k is None:
        return None
    reads = {n.id for n in S.walk(body[k].value) if isinstance(n, gast.Name)}
    for later in body[k + 1 : end]:
        t = _simple_target(later)
        if t is None or t in reads or any(isinstance(n, gast.Call) for n in S.walk(later.value)):
            return None
    return k


def _range_call(it) -> bool:
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "reversed":
        it = it.args[0] if len(it.args) == 1 else None
    return (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "range"
        and all(isinstance(a, (gast.Name, gast.Constant)) for a in it.args)
    )


def drop_unused_tape(body):
    """``tape = []`` goes when nothing is pushed any more."""
    first = body[0] if body else None
    if not (
        isinstance(first, gast.Assign)
        and isinstance(first.value, gast.List)
        and not first.value.elts
    ):
        return
    name = _simple_target(first)
    used = any(isinstance(n, gast.Name) and n.id == name for stmt in body[1:] for n in S.walk(stmt))
    if not used:
        body.pop(0)


# --------------------------------------------------------------------------- aliasing


def protect_aliases(der: Derivative):
    body = der.node.body
    refs = der.refs
    helper_names = {refs.by_id.get(id(NAMESPACE[h])) for h in _PASSTHROUGH_HELPERS} - {None}
    adjoint_defs = {t for s in walk_statements(body) if is_adjoint(s) for t in _assigns(s)}
    alias: dict = {}

    def of(expr) -> set:
        if isinstance(expr, gast.Name):
            return alias.get(expr.id, set()) if expr.id in adjoint_defs else {expr.id}
        if isinstance(expr, gast.Subscript):
            return of(expr.value)
        if isinstance(expr, gast.Attribute) and expr.attr == "T":
            return of(expr.value)
        if isinstance(expr, gast.Call):
            fname = (
                expr.func.attr
                if isinstance(expr.func, gast.Attribute)
                else getattr(expr.func, "id", None)
            )
            if (fname in _PASSTHROUGH or fname in helper_names) and expr.args:
                return of(expr.args[0])
        return set()

    for stmt in walk_statements(body):
        if isinstance(stmt, gast.Assign) and is_adjoint(stmt):
            t = stmt.targets[0]
            if isinstance(t, gast.Name):
                alias[t.id] = alias.get(t.id, set()) | of(stmt.value)
            else:
                for e in t.elts:
                    alias[e.id] = alias.get(e.id, set()) | of(stmt.value)
    ret = body[-1]
    grads = ret.value.elts[1]
    np_name = refs.ref(np, "np")

    def protect(v):
        if of(v):
            return S.call(gast.Attribute(value=S.name(np_name), attr="copy", ctx=gast.Load()), [v])
        return v

    parts = grads.args[1]
    if isinstance(parts, gast.Dict):
        parts.values = [protect(v) for v in parts.values]
    else:
        grads.args[1] = protect(parts)
