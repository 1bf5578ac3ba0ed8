"""Ownership of arrays over the structured code: which names hold an array the derivative
allocated and nothing else reaches; adjoint accumulations into those become ``+=``."""

from __future__ import annotations

import gast
import numpy as np

from ...rules.facts import numpy_names
from .. import syntax as S
from ..node_facts import copy_all_facts, get_fact
from ..walk import assigned_names, mutated_names
from .common import accumulation
from .escape import FRESH_FUNCTIONS, FRESH_LINALG, FRESH_METHODS, out_position

#: NumPy functions whose result is always a new array (or an immutable scalar)
FRESH_NUMPY = FRESH_FUNCTIONS | numpy_names(allocates="created") | {"array"}


class Owner:
    """Which names hold an array the derivative made and nothing else reaches (*owned*), over
    the structured code; :meth:`block` turns adjoint accumulations into owned arrays into
    ``+=`` and, with :attr:`in_place`, computes elementwise operations into free buffers."""

    def __init__(self, np_name, helpers):
        self.np_name = np_name
        self.helpers = helpers
        self.in_place = None  # an InPlace, where shapes and dtypes are known
        self.writes = None  # an ElementWrites: element writes into owned arrays in place
        self.returned: set = set()  # names owned when the function returns
        #: t -> s for ``t = s.reshape(..)`` of an owned s: t is the only name the function
        #: returns that reaches the buffer while neither is copied, changed or reassigned
        self.views: dict = {}

    def fresh(self, e) -> bool:
        """Whether ``e`` evaluates to a new array (or an immutable number)."""
        if isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True  # operators make new arrays (comparisons: masks, or bools)
        source = self.reshaped(e)
        if source is not None and self.fresh(source):
            return True  # a view of memory nothing else reaches (or a copy)
        if isinstance(e, gast.Call) and not any(k.arg == "out" for k in e.keywords):
            at = out_position(e, self.np_name)
            if at is not None and len(e.args) > at:
                return False  # written into an array passed by position
            f = e.func
            if isinstance(f, gast.Name):
                return f.id in self.helpers
            if isinstance(f, gast.Attribute):
                base = S.dotted(f.value)
                if base is not None and base in (self.np_name, f"{self.np_name}.linalg"):
                    obj = getattr(np.linalg if base.endswith("linalg") else np, f.attr, None)
                    if f.attr == "einsum":  # of one operand it may return a view of it
                        return len(e.args) >= 3
                    if base.endswith("linalg"):  # (matrix_transpose, diagonal: views)
                        return f.attr in FRESH_LINALG
                    return isinstance(obj, np.ufunc) or f.attr in FRESH_NUMPY
                if f.attr == "reduce" and base and base.startswith(f"{self.np_name}."):
                    return True  # np.add.reduce(e, None): a new array (or NumPy scalar)
                return f.attr in FRESH_METHODS and base != self.np_name
        return False

    def track_views(self, stmt, owned) -> None:
        """Keep :attr:`views` true after ``stmt`` (straight-line code only)."""
        if isinstance(stmt, (gast.If, gast.For, gast.While)):
            self.views.clear()  # kept simple: only straight-line code
            return
        value = getattr(stmt, "value", None)
        if self.views:  # (what the statement touches matters only to the views kept)
            touched = mutated_names([stmt]) | assigned_names(stmt)
            if value is not None and not isinstance(stmt, gast.Return):
                touched |= self.aliases(value)
            for t, src in list(self.views.items()):
                if {t, src} & touched:
                    del self.views[t]
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
            source = self.reshaped(value)
            t = stmt.targets[0].id
            if isinstance(source, gast.Name) and source.id in owned and source.id != t:
                self.views[t] = source.id

    def reshaped(self, e):
        """``s`` for ``np.reshape(s, ..)`` or ``s.reshape(..)``, else None."""
        if not (isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute)):
            return None
        if e.func.attr != "reshape":
            return None
        if S.dotted(e.func.value) == self.np_name:
            return e.args[0] if e.args else None
        return e.func.value

    def moved(self, stmt, owned) -> bool:
        """Whether ``t = s`` hands over an owned buffer: ``s`` is owned and nothing reads
        it afterwards (known where the liveness of the specialised code is)."""
        v = self.reshaped(stmt.value) or stmt.value
        if self.in_place is None or not isinstance(v, gast.Name) or v.id not in owned:
            return False
        live = self.in_place.after.get(id(stmt))
        return live is not None and v.id not in live

    def aliases(self, e) -> set:
        """Names whose memory the value of ``e`` may share (or keep a reference to)."""
        if isinstance(e, gast.Name):
            return {e.id}
        if isinstance(e, gast.Constant) or self.fresh(e):
            return set()
        if isinstance(e, (gast.Subscript, gast.Attribute, gast.Starred)):
            return self.aliases(e.value)
        if isinstance(e, (gast.Tuple, gast.List)):
            return set().union(*[self.aliases(x) for x in e.elts])
        return {n.id for n in S.walk(e) if isinstance(n, gast.Name)}

    def escapes(self, stmts) -> set:
        """Names that statements (at any depth) let other references reach, or rebind to a
        value that is not new."""
        out = set()
        for stmt in stmts:
            if isinstance(stmt, (gast.If, gast.For, gast.While)):
                out |= self.escapes(stmt.body) | self.escapes(stmt.orelse)
                continue
            value = getattr(stmt, "value", None)
            if value is not None and not self.adds_into_array(stmt):
                out |= self.aliases(value)
            if isinstance(stmt, gast.Assign):
                target = stmt.targets[0]
                if isinstance(target, gast.Name):
                    if not (self.fresh(value) or accumulation(stmt)):
                        out.add(target.id)
                elif not isinstance(target, gast.Subscript):
                    out |= {n.id for n in S.walk(target) if isinstance(n, gast.Name)}
        return out

    def adds_into_array(self, stmt) -> bool:
        """Whether ``stmt`` is ``a += e`` (any operator) into a name that holds an array (or a
        number), so that nothing of ``e`` is kept: known only with :attr:`writes`."""
        return (
            self.writes is not None
            and isinstance(stmt, gast.AugAssign)
            and isinstance(stmt.target, gast.Name)
            and self.writes.array(stmt.target.id)
        )

    def block(self, stmts, owned: set) -> set:
        """Rewrite ``stmts`` given the names ``owned`` before them (see the class docstring);
        the names owned after them."""
        dropped = set()
        for i, stmt in enumerate(stmts):
            written = self.writes.rewrite(stmt, owned) if self.writes is not None else None
            if written is not None:  # in place: the names owned stay owned
                if written:
                    stmts[i] = written[0]
                    self.track_views(written[0], owned)
                else:
                    dropped.add(id(stmt))
                continue
            if isinstance(stmt, gast.Return):  # what the gradient builder may hand out as is
                returned = S.names_in(stmt)
                views = {t for t, src in self.views.items() if src not in returned}
                self.returned = set(owned) | views
            self.track_views(stmt, owned)
            if isinstance(stmt, gast.If):
                a = self.block(stmt.body, set(owned))
                b = self.block(stmt.orelse, set(owned))
                owned = a & b
                continue
            if isinstance(stmt, (gast.For, gast.While)):
                escaped = self.escapes(stmt.body)
                self.block(stmt.body, owned - escaped)
                owned = owned - escaped
                continue
            value = getattr(stmt, "value", None)
            if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name):
                t = stmt.targets[0].id
                if accumulation(stmt) and t in owned and get_fact(stmt, "adjoint", False):
                    if self.in_place is not None:  # the added term computed in place too
                        self.in_place.rewrite(stmt, owned - {t}, accumulated=True)
                    new = gast.AugAssign(
                        target=S.name(t, store=True), op=gast.Add(), value=stmt.value.right
                    )
                    copy_all_facts(stmt, new, lineno=True)
                    stmts[i] = new
                    if not self.adds_into_array(new):
                        owned -= self.aliases(stmt.value.right)
                    continue
                reused = self.in_place is not None and self.in_place.rewrite(stmt, owned)
                moved = self.moved(stmt, owned)
                owned -= self.aliases(value)
                if self.fresh(value) or reused or moved:
                    owned.add(t)  # reused: t holds a buffer nothing else reaches
                else:
                    owned.discard(t)
                continue
            if value is not None and not self.adds_into_array(stmt):
                owned -= self.aliases(value)
            if isinstance(stmt, gast.Assign):
                target = stmt.targets[0]
                if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
                    target = target.slice  # x[k] = v: x's memory changes, nothing new reaches it
                owned -= {n.id for n in S.walk(target) if isinstance(n, gast.Name)}
        if dropped:
            stmts[:] = [s for s in stmts if id(s) not in dropped] or [gast.Pass()]
        return owned
