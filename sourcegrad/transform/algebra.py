"""Like terms: a sum in a derivative statement whose terms are the same product up to a
numeric factor is written as one product.

The product and quotient rules leave such sums where a value is a power or a multiple of
another: for ``s = x * x`` and ``c = s * x``, the tangent of ``c`` is
``2.0 * (dx * x) * x + s * dx``, which is ``3.0 * (dx * s)``. Each term is read as a numeric
coefficient times a multiset of factors; a factor that is a name assigned a product of names
and numbers earlier in the same block (``s = x * x``, ``m = -x``, ``t = 3.0 * x``), with none of
those names assigned since, is expanded into its factors, so that terms written through
different names meet. Terms with the same factors are added, and the factors of each sum are
written back through those names where they cover them. A sum is rewritten only where terms
were combined, so every rewrite removes operations; results change by rounding only.

Booleans are not numbers: ``m1 + m2`` of two masks is their logical or, ``m1 - m2`` raises. A
term is *numeric* where it has a factor known floating point (a name of ``floats``, or an
expression of one, :func:`floating`); only numeric terms are combined, a common factor is taken
out only of terms whose rest is numeric (``e * (x > 0) + e * (x > 1)`` stays as written: it is
not ``e * ((x > 0) + (x > 1))``), and a sum that also has other terms starts with a numeric one.
"""

from __future__ import annotations

import functools
from collections import Counter

import gast
import numpy as np

from . import syntax as S
from .node_facts import get_fact, set_fact
from .walk import mutated_names


def collect_like_terms(body, rewrite, floats=frozenset(), negatable=frozenset()) -> bool:
    """Combine like terms, in place, in the values of the statements of ``body`` (nested
    blocks included) for which ``rewrite(stmt)`` is true; returns whether anything changed.

    Only products of names in ``floats`` (the differentiated values and their adjoints:
    floating point, in the precision of the result) are written through their names: a
    product of integers may have wrapped, one of float16 overflowed where the expression
    itself would not. A negation ``m = -v`` is folded (``a + m`` is ``a - v``) where ``m`` and
    ``v`` are in ``floats`` or ``negatable`` (known floating point: negation is exact there,
    not for unsigned integers). Names anything may change in place (``s.fill(0)``,
    ``s[0] = 1``, ``out=s``, ``np.copyto(s, ..)``) are never used."""
    changed = False
    _stored.epoch += 1  # statements may have changed since the last call
    mutated = mutated_names(body)
    trusted = set(floats) - mutated
    negatable = (set(negatable) | trusted) - mutated
    for block in S.blocks(body):
        products: dict = {}  # name -> (coefficient, Counter of factor names), valid here
        k = 0
        while k < len(block):
            stmt = block[k]
            if isinstance(stmt, gast.Assign) and rewrite(stmt) and _has_sum(stmt.value):
                terms = _Terms(products, trusted)
                stmt.value = terms.visit(stmt.value)
                changed |= terms.changed
                if not terms.changed and _with_previous(
                    block, k, products, rewrite, mutated, trusted
                ):
                    changed = True
                    k -= 1  # the earlier statement is gone
            for name in _stored(stmt):  # a product of a reassigned name no longer holds
                products.pop(name, None)
                for p in [p for p, (_, f) in products.items() if name in f]:
                    del products[p]
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                t = stmt.targets[0].id
                written = _product(stmt.value)  # copy or negation: as written, not expanded
                copy = written is not None and written[0] == 1.0 and sum(written[1].values()) == 1
                negation = (
                    written is not None and written[0] == -1.0 and sum(written[1].values()) == 1
                )
                allowed = negatable if negation else trusted
                if (
                    written is not None
                    and not copy  # a copy is no product
                    and t not in written[1]
                    and t in allowed
                    and all(f in allowed for f in written[1])
                ):
                    products[t] = written if negation else _expanded(written, products)
            k += 1
    return changed


def _with_previous(block, k, products, rewrite, mutated, trusted) -> bool:
    """For ``t = f(t)`` at ``block[k]``: where the value of ``t`` it reads was assigned by an
    earlier statement of the block that nothing since reads or invalidates, combine like
    terms across both (``dx = 2.0 * dx + m * g`` then ``dx = dx - g * x``, with ``m = -x``)
    and drop the earlier one; True if so."""
    stmt = block[k]
    if not isinstance(stmt.targets[0], gast.Name):
        return False
    t = stmt.targets[0].id
    if S.loaded_names(stmt.value).count(t) != 1:
        return False
    for j in range(k - 1, max(k - _LOOK_BACK, 0) - 1, -1):
        prev = block[j]
        if t in _stored(prev):
            break
        if t in S.loaded_names(prev):
            return False
    else:
        return False
    if not (
        isinstance(prev, gast.Assign)
        and rewrite(prev)
        and isinstance(prev.targets[0], gast.Name)
        and prev.targets[0].id == t
    ):
        return False
    read = set(S.loaded_names(prev.value))
    if read & mutated or any(read & _stored(s) for s in block[j + 1 : k]):
        return False
    candidate = S.rename(S.clone(stmt.value), {t: prev.value})
    terms = _Terms({n: p for n, p in products.items() if n != t}, trusted)  # prev goes
    candidate = terms.visit(candidate)
    if not terms.changed:
        return False
    stmt.value = candidate
    del block[j]
    return True


#: how many statements back an accumulation looks for the one it continues
_LOOK_BACK = 8


def _has_sum(e) -> bool:
    return any(isinstance(n.op, (gast.Add, gast.Sub)) for n in S.nodes_of(e, (gast.BinOp,)))


def _stored(stmt) -> set:
    """Names ``stmt`` (a compound one: anywhere inside) assigns."""
    if isinstance(stmt, gast.Assign):
        target = stmt.targets[0]
        return {target.id} if isinstance(target, gast.Name) else _stores_in(target)
    got = get_fact(stmt, "stored", None)  # a loop or branch: walked once per statement
    if got is None or got[0] != _stored.epoch:
        got = (_stored.epoch, _stores_in(stmt))
        set_fact(stmt, "stored", got)
    return got[1]


_stored.epoch = 0


def _stores_in(stmt) -> set:
    return {n.id for n in S.name_nodes(stmt) if isinstance(n.ctx, gast.Store)}


def _number(e) -> bool:
    return (
        isinstance(e, gast.Constant)
        and isinstance(e.value, (int, float))
        and not isinstance(e.value, bool)
    )


def _product(e):
    """``(coefficient, Counter of names)`` for a product of names and numbers (with minus
    signs), else None."""
    if _number(e):
        return float(e.value), Counter()
    if isinstance(e, gast.Name):
        return 1.0, Counter({e.id: 1})
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        inner = _product(e.operand)
        return None if inner is None else (-inner[0], inner[1])
    if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
        a, b = _product(e.left), _product(e.right)
        if a is None or b is None:
            return None
        return a[0] * b[0], a[1] + b[1]
    return None


def _expanded(got, products):
    """``got`` (a product's coefficient and factor names) with each factor that names a
    product itself replaced by that product's factors (``c = s * x`` with ``s = 3.0 * x`` is
    ``3.0 * x * x``), so that a term covers ``c`` however it was written."""
    if got is None or not any(f in products for f in got[1]):
        return got
    coef, factors = got[0], Counter()
    for name, n in got[1].items():
        inner = products.get(name)
        if inner is None:
            factors[name] += n
        else:
            coef *= inner[0] ** n
            for f, m in inner[1].items():
                factors[f] += m * n
    return coef, factors


class _Terms(S.Transformer):
    def __init__(self, products, trusted=frozenset()):
        self.products = products
        self.trusted = trusted  # names that may be taken out of a sum as a common factor
        self.keys: dict = {}  # id of a factor that is no name or number -> gast.dump of it
        self.changed = False

    def visit_UnaryOp(self, e):
        self.generic_visit(e)
        v = self.negated(e.operand) if isinstance(e.op, gast.USub) else None
        if v is not None:  # -m where m = -v: v
            self.changed = True
            return v
        return e

    def negated(self, e):
        """``v`` where ``e`` is a name assigned ``-v``, else None."""
        got = self.products.get(e.id) if isinstance(e, gast.Name) else None
        if got is None or got[0] != -1.0 or sum(got[1].values()) != 1:
            return None
        return S.name(next(iter(got[1])))

    def visit_BinOp(self, e):
        if not isinstance(e.op, (gast.Add, gast.Sub)):
            self.generic_visit(e)
            return e
        e = self.sum_tree(e)  # e is the root of a sum: its terms first, then the whole
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub)):
            new = self.visit_sum(e)
            if new is not None:
                self.changed = True
                return new
        return e

    def sum_tree(self, e):
        """The sum ``e`` with its terms visited and ``a + m``, ``a - m``, ``m + a`` written
        ``a - v``, ``a + v``, ``a - v`` where ``m = -v``."""
        for side in ("left", "right"):
            child = getattr(e, side)
            if isinstance(child, gast.BinOp) and isinstance(child.op, (gast.Add, gast.Sub)):
                setattr(e, side, self.sum_tree(child))
            else:
                setattr(e, side, self.visit(child))
        v = self.negated(e.right)
        if v is not None:
            self.changed = True
            op = gast.Sub() if isinstance(e.op, gast.Add) else gast.Add()
            return gast.BinOp(left=e.left, op=op, right=v)
        v = self.negated(e.left)
        if v is not None and isinstance(e.op, gast.Add):
            self.changed = True
            return gast.BinOp(left=e.right, op=gast.Sub(), right=v)
        return e

    def visit_sum(self, e):
        """``e`` with its like terms combined, or None where there are none."""
        terms: list = []
        self.flatten(e, 1.0, terms)
        merged: dict = {}
        shapes = [(frozenset(f.items()), len(o)) for _, f, o in terms]
        if len(set(shapes)) < len(shapes):  # two terms with the same names: maybe like terms
            for k, (coef, factors, others) in enumerate(terms):
                key = (frozenset(factors.items()), tuple(sorted(self.key(o) for o in others)))
                if not self.numeric(factors, others):
                    key = (k,)  # m + m of a mask m is m, not 2.0 * m: left apart
                if key in merged:
                    merged[key][0] += coef
                else:
                    merged[key] = [coef, factors, others]
            if any(m[0] == 0.0 for m in merged.values()):
                return None  # terms that cancel may decide the sum's shape: left as written
        combined = 0 < len(merged) < len(terms)
        items = list(merged.values()) if combined else [list(t) for t in terms]
        if not combined and self.common_factor(items) is None:
            return None
        got = self.emit_sum(items)
        if got is None:
            return None  # no numeric term to start the sum with
        node, negative = got
        if not combined and _products(node) >= _products(e):
            return None  # a factor taken out only where that saves multiplications
        return gast.UnaryOp(op=gast.USub(), operand=node) if negative else node

    def numeric(self, factors, others) -> bool:
        """Whether a term with these factor names and other factors is a number, not a
        boolean, in the precision of the result: a name or other factor is floating point, or
        the term is a number alone."""
        if any(f in self.trusted for f in factors):
            return True
        if not factors and not others:
            return True
        return any(floating(o, self.trusted) for o in others)

    def common_factor(self, items):
        """The trusted name that most terms whose other names are all trusted have as a
        factor, where two or more do; else None. (In a term with an integer factor ``k``,
        ``e * k * k`` is computed in floating point; ``e * (k * k)`` would not be.)"""
        factors = self.common_factors(items)
        return factors[0] if factors else None

    def common_factors(self, items, most: int = 2):
        """Up to ``most`` names that two or more factorable terms have as a factor, the most
        shared first."""
        counts = Counter(n for _, factors, _ in items if self.factorable(factors) for n in factors)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, count in ranked[:most] if count >= 2]

    def factorable(self, factors) -> bool:
        """Whether a common factor may be taken out of a term with these factor names."""
        return all(f in self.trusted for f in factors)

    def emit_sum(self, items):
        """``(node, negative)``: the sum of ``items`` (``[coef, factors, others]``), a name
        that two or more of them have as a factor taken out of those where that saves
        multiplications (``e * a - e * b`` is ``e * (a - b)``; of the two most shared such
        names, the one that saves more), positive terms first."""
        best = self.join([(*self.emit(*item), self.numeric(*item[1:])) for item in items])
        if best is None:
            return None
        for factor in self.common_factors(items) if len(items) > 1 else ():
            parts: list = []  # (node, negative, numeric) in the order of the terms
            inner = []
            for coef, factors, others in items:
                if factors[factor] and self.factorable(factors):
                    if not inner:
                        parts.append(None)  # where the factored group goes
                    inner.append([coef, factors - Counter({factor: 1}), others])
                else:
                    numeric = self.numeric(factors, others)
                    parts.append((*self.emit(coef, factors, others), numeric))
            if not all(self.numeric(factors, others) for _, factors, others in inner):
                continue  # e * m1 + e * m2 of masks is not e * (m1 + m2): m1 + m2 is m1 or m2
            node, negative = self.emit_sum(inner)
            grouped = gast.BinOp(left=S.name(factor), op=gast.Mult(), right=node)
            parts[parts.index(None)] = (grouped, negative, True)
            factored = self.join(parts)
            if factored is not None and _products(factored[0]) < _products(best[0]):
                best = factored
        return best

    def join(self, parts):
        """``(node, negative)``: the terms ``parts`` (``(node, negative, numeric)``) added,
        the positive ones first, the first of them numeric where some term is not (a boolean
        plus a boolean is their logical or); None where no term is numeric."""
        parts = sorted(parts, key=lambda p: p[1])  # stable: each sign in the terms' order
        if not all(p[2] for p in parts):
            first = next((p for p in parts if p[2]), None)
            if first is None:
                return None
            parts.remove(first)
            parts.insert(0, first)
        out, first_negative, _ = parts[0]
        for term, negative, _ in parts[1:]:
            op = gast.Sub() if negative != first_negative else gast.Add()
            out = gast.BinOp(left=out, op=op, right=term)
        return out, first_negative

    def flatten(self, e, sign, terms) -> None:
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub)):
            self.flatten(e.left, sign, terms)
            self.flatten(e.right, sign if isinstance(e.op, gast.Add) else -sign, terms)
            return
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            self.flatten(e.operand, -sign, terms)
            return
        coef, factors, others = sign, Counter(), []
        for leaf in self.leaves(e):
            if _number(leaf):
                coef *= float(leaf.value)
            elif isinstance(leaf, gast.Name) and leaf.id in self.products:
                c, f = self.products[leaf.id]
                coef *= c
                factors += f
            elif isinstance(leaf, gast.Name):
                factors[leaf.id] += 1
            else:
                others.append(leaf)
        terms.append((coef, factors, others))

    def key(self, node) -> str:
        """What makes two factors that are no name or number the same: their structure."""
        got = self.keys.get(id(node))
        if got is None:
            got = self.keys[id(node)] = gast.dump(node)
        return got

    def leaves(self, e):
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.Mult):
            return self.leaves(e.left) + self.leaves(e.right)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            return [S.const(-1.0)] + self.leaves(e.operand)
        return [e]

    def emit(self, coef, factors, others):
        """``(product node, negative)``: the product of ``|coef|``, ``factors`` (written
        through named products of two factors or more where they cover them, the largest
        first) and ``others``."""
        left = Counter(factors)
        names = []
        # the largest first; of one size, those with a coefficient, which they may absorb
        ranked = sorted(
            self.products.items(), key=lambda kv: (-sum(kv[1][1].values()), kv[1][0] == 1)
        )
        for name, (c, f) in ranked:
            if sum(f.values()) < 2 or c == 0.0:
                continue  # a multiple of one factor saves no operation: written out
            while all(left[k] >= n for k, n in f.items()) and (coef / c).is_integer():
                left -= f
                coef /= c
                names.append(name)
        names += sorted(left.elements(), key=lambda n: (n not in self.trusted, n))
        parts = [S.name(n) for n in names] + [S.clone(o) for o in others]
        negative = coef < 0
        coef = abs(coef)
        if not parts:
            return S.const(coef), negative
        node = parts[0]
        for p in parts[1:]:
            node = gast.BinOp(left=node, op=gast.Mult(), right=p)
        if coef != 1.0:
            node = gast.BinOp(left=S.const(coef), op=gast.Mult(), right=node)
        return node, negative


def _products(e) -> int:
    return sum(1 for n in S.walk(e) if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Mult))


#: NumPy functions and methods whose result is no floating point number, whatever they read
_NOT_FLOATING = {
    "isclose", "allclose", "array_equal", "array_equiv", "any", "all", "isin", "in1d",
    "isreal", "iscomplex", "isrealobj", "iscomplexobj", "isscalar", "argmax", "argmin",
    "argsort", "nonzero", "flatnonzero", "argwhere", "count_nonzero", "searchsorted", "shape",
    "ndim", "size", "astype", "view", "len", "int", "bool",
}  # fmt: skip


def floating(e, floats) -> bool:
    """Whether ``e`` is known to compute a floating point value in the precision of a name of
    ``floats`` it reads (``dz * (x > 0)``, ``np.cos(x)``, ``x[k]``, ``sum_to(dz, x)``), not a
    boolean or an integer (``x > 0``, ``0.5 * (x > 0)``, ``np.isnan(x)``)."""
    if isinstance(e, gast.Name):
        return e.id in floats
    if isinstance(e, gast.BinOp):
        return floating(e.left, floats) or floating(e.right, floats)
    if isinstance(e, gast.UnaryOp):
        return isinstance(e.op, (gast.USub, gast.UAdd)) and floating(e.operand, floats)
    if isinstance(e, gast.Subscript):
        return floating(e.value, floats)
    if isinstance(e, gast.Attribute):
        return e.attr in ("T", "mT", "real", "imag") and floating(e.value, floats)
    if isinstance(e, gast.Call):
        f = e.func
        name = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", None)
        if name is None or name in _NOT_FLOATING or _returns_bool(name):
            return False
        if isinstance(f, gast.Attribute) and floating(f.value, floats):
            return True  # x.sum(), x.reshape(..) of a floating point x
        return any(floating(a, floats) for a in e.args if not isinstance(a, gast.Starred))
    return False


@functools.cache
def _returns_bool(name: str) -> bool:
    """Whether ``np.<name>`` is a ufunc that makes booleans of floating point numbers."""
    f = getattr(np, name, None)
    return isinstance(f, np.ufunc) and any(t.endswith("->?") and t.startswith("d") for t in f.types)
