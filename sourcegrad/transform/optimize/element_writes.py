"""Element writes in place. The pure derivative writes ``x[k] = v`` into a copy (``x =
x.copy()`` first, so that every value stays as it was made) and zeroes part of an adjoint with
``dx = zero_index(dx, k)`` (a copy with zeros at ``k``); forward mode writes a tangent with
``tx = assign_tangent(tx, k, tv, x)`` (a copy too). A loop that writes an array element by
element, as recurrences, scans and stencils do, copies the whole array at every step: time
quadratic in the steps.

Where the array is *owned* (:class:`~.ownership.Owner`: no other name, container, view or tape
entry reaches it), nothing can read the old array once the name is rebound, so the running
code writes into it (:class:`ElementWrites`, which :meth:`Owner.block` asks at each
statement, with the names owned before it):

* ``x = x.copy()`` of an owned array (a name of at least one dimension) is dropped;
* ``dx = zero_index(dx, k)`` of an owned adjoint of such a name is ``dx[k] = 0``;
* ``tx = assign_tangent(tx, k, tv, x)`` of an owned tangent is ``tx = write_tangent(tx, k,
  tv, x)``, which writes into ``tx`` where it is a writeable NumPy array of ``x``'s shape.

Forward mode copies under a name of its own first (``x_1 = x.copy(); x = x_1``); where nothing
else reads ``x_1``, :func:`merge_renamed_copies` makes that ``x = x.copy()`` before ownership is
found. Where the old array is still reachable (the tape keeps it, another name or a list holds
it, it is an argument), the name is not owned and the copy stays.
"""

from __future__ import annotations

from collections import Counter

import gast

from ...runtime.helpers import zero_index
from ...runtime.tangent_helpers import assign_tangent, write_tangent
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts


def merge_renamed_copies(node: gast.FunctionDef) -> None:
    """``t = x.copy()`` right before ``x = t``, ``t`` read nowhere else, as ``x = x.copy()``."""
    loads = Counter(
        n.id for n in S.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
    )
    for body in S.blocks(node.body):
        i = 0
        while i + 1 < len(body):
            x = _copied(body[i], None)
            after = body[i + 1]
            if (
                x is not None
                and _plain(after)
                and isinstance(after.value, gast.Name)
                and after.value.id == body[i].targets[0].id
                and after.targets[0].id == x
                and loads[after.value.id] == 1
            ):
                body[i].targets[0].id = x
                del body[i + 1]
            i += 1


def _plain(stmt) -> bool:
    """Whether ``stmt`` is ``name = value``."""
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    )


def _copied(stmt, target) -> str | None:
    """``x`` where ``stmt`` is ``t = x.copy()`` (with ``t`` the name ``target``, where one is
    given), else None."""
    if not _plain(stmt) or (target is not None and stmt.targets[0].id != target):
        return None
    v = stmt.value
    if (
        isinstance(v, gast.Call)
        and not v.args
        and not v.keywords
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "copy"
        and isinstance(v.func.value, gast.Name)
    ):
        return v.func.value.id
    return None


class ElementWrites:
    """The rewrites of the module docstring for one derivative ``der``: :meth:`rewrite` of a
    statement given the names owned before it."""

    def __init__(self, der: Derivative):
        refs = der.refs
        self.refs = refs
        self.zero_index = refs.name_of(zero_index)
        self.assign_tangent = refs.name_of(assign_tangent)
        self.ranks = der.analysis.ranks
        self.primal_of = {v: k for k, v in der.adj_names.items()}

    def array(self, name: str) -> bool:
        """Whether ``name`` (or the name it is the adjoint or tangent of) holds an array of at
        least one dimension, as the analysis ranks it."""
        rank = self.ranks.get(name)
        if rank is None and name in self.primal_of:
            rank = self.ranks.get(self.primal_of[name])
        return isinstance(rank, int) and rank >= 1

    def rewrite(self, stmt, owned: set):
        """``stmt`` rewritten to write in place (a list of statements: empty where it is
        dropped), or None where it stays."""
        if not _plain(stmt):
            return None
        t = stmt.targets[0].id
        if t not in owned:
            return None
        if _copied(stmt, t) == t:
            return [] if self.array(t) else None
        v = stmt.value
        if not (isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and not v.keywords):
            return None
        args = v.args
        if not (args and isinstance(args[0], gast.Name) and args[0].id == t):
            return None
        if v.func.id == self.zero_index and len(args) == 2 and _plain_index(args[1]):
            if not self.array(t):
                return None
            store = gast.Subscript(S.name(t), _subscript(args[1]), gast.Store())
            new = gast.Assign(targets=[store], value=gast.Constant(0, None), type_comment=None)
        elif v.func.id == self.assign_tangent and len(args) == 4:
            call = S.call(S.name(self.refs.helper(write_tangent)), [S.clone(a) for a in args])
            new = S.assign(t, call)
        else:
            return None
        copy_all_facts(stmt, new, lineno=True)
        return [new]


def _subscript(idx):
    """The subscript of ``np.s_[...]`` (``np.s_[t, :]`` is ``t, :``), else ``idx``."""
    if (
        isinstance(idx, gast.Subscript)
        and isinstance(idx.value, gast.Attribute)
        and idx.value.attr == "s_"
    ):
        return S.clone(idx.slice)
    return S.clone(idx)


def _plain_index(idx) -> bool:
    """Whether ``idx`` indexes at least one axis (not ``...`` or ``()`` alone, which a 0-d
    copy would take where the adjoint is a number)."""
    items = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    return bool(items) and not all(
        isinstance(i, gast.Constant) and i.value is Ellipsis for i in items
    )
