"""A function reading back what it has just stored in an attribute (part of the lowering of
Python's forms).

``self.output = np.dot(x, self.weights) + self.biases`` followed by ``return self.output``
(the layers of "Neural Networks from Scratch" are written so) reads the value the same call
stored, not state kept from an earlier call. :func:`read_own_stores` rewrites it, in place,
into ``output = ...``, ``self.output = output``, ``return output``: the store stays as
written (Python's object holds what it holds after the call), the read follows the value.

A read is rewritten only where the store runs before it on every path through the function
(in the same block, or in a branch or loop body after the store there), with no call in
between but of NumPy's or ``math``'s functions, no store of an attribute of that name on any
object (``other = self; other.output = y``), and the receiver's name not rebound. Reads
inside nested functions and lambdas are left as they are (they run later).
"""

from __future__ import annotations

import gast

from . import syntax as S

__all__ = ["read_own_stores"]

_COMPOUND = (gast.If, gast.For, gast.While, gast.Try, gast.Match)


def read_own_stores(fn: gast.FunctionDef, names: S.NameGen | None = None, harmless=None) -> bool:
    """Rewrite ``fn``'s reads of ``obj.attr`` that read what ``fn`` itself stored there before
    them (see the module); fresh local names come from ``names`` (or keep the attribute's name
    where ``names`` is None, for an analysis that only asks what is read). ``harmless(call)``,
    where given, says of a call of the user's that it changes no object (given none).
    Returns whether anything was rewritten."""
    rewriter = _Rewriter(names)
    rewriter.harmless = harmless or (lambda call: False)
    fn.body = rewriter.block(fn.body, {})
    return rewriter.changed


class _Rewriter:
    def __init__(self, names):
        self.names = names
        self.changed = False

    def block(self, body: list, known: dict) -> list:
        """``body`` rewritten, given ``known``: (receiver, attr) -> the :class:`_Store` that
        put the value there (updated in place to what holds after the block)."""
        out: list = []
        for stmt in body:
            if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
                _forget_rebound(stmt, known)
            elif isinstance(stmt, (*_COMPOUND, gast.With)):
                self.compound(stmt, known)
            else:
                self.replace_reads(stmt, known)
                _forget_changed(stmt, known, self.harmless)
                store = _attribute_store(stmt)
                if store is not None:
                    known[store] = _Store(stmt, out)
            out.append(stmt)
        return out

    def compound(self, stmt, known: dict):
        """A branch, loop, ``with`` or ``try``: its tests read what holds before it; each body
        starts from that (a loop's without what its body stores, read by a later turn), and
        after it holds what every way through it leaves."""
        heads = [getattr(stmt, f) for f in ("test", "iter", "subject") if hasattr(stmt, f)]
        heads += [item.context_expr for item in getattr(stmt, "items", ())]
        for head in heads:
            self.replace_reads(head, known)
        start = dict(known)
        if isinstance(stmt, (gast.For, gast.While)):
            _forget_changed(stmt, start, self.harmless)
        if isinstance(stmt, gast.With):
            stmt.body = self.block(stmt.body, known)
            return
        after = []
        for field in ("body", "orelse", "finalbody"):
            if getattr(stmt, field, None):
                after.append(dict(start))
                setattr(stmt, field, self.block(getattr(stmt, field), after[-1]))
        for part in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]:
            part.body = self.block(part.body, dict(start))
        _forget_changed(stmt, known, self.harmless)
        if isinstance(stmt, gast.If) and len(after) == 2 and _no_call(stmt.test, self.harmless):
            body, orelse = after  # (each branch stores it last: after the `if`, one of those)
            for key in body.keys() & orelse.keys():
                parts = (body[key], orelse[key])
                if start.get(key) not in parts and not any(isinstance(p, _Joint) for p in parts):
                    known[key] = _Joint(key[1], *parts)

    def replace_reads(self, node, known: dict) -> None:
        if not known:
            return
        for parent in S.own_scope_nodes(node):
            for field in S.walked_fields(type(parent)):
                value = getattr(parent, field, None)
                items = value if type(value) is list else [value]
                for i, child in enumerate(items):
                    store = _read_of(child, known)
                    if store is None:
                        continue
                    self.changed = True
                    new = gast.copy_location(S.name(self.local_of(store)), child)
                    if type(value) is list:
                        value[i] = new
                    else:
                        setattr(parent, field, new)

    def local_of(self, store) -> str:
        """The local holding the value ``store`` keeps: at the first read, ``obj.attr = v``
        becomes ``attr = v`` followed by ``obj.attr = attr`` (for a :class:`_Joint`, each
        branch's store gives its value to one local)."""
        if isinstance(store, _Joint) and store.local is None:
            attr = store.attr
            store.local = attr if self.names is None else self.names.fresh(attr)
            for part in store.parts:
                held = S.name(self.local_of(part))  # (`attr = v; obj.attr = attr`, then:)
                at = next(i for i, s in enumerate(part.block) if s is part.stmt) + 2
                part.block.insert(at, S.assign(store.local, held, part.stmt.lineno))
            return store.local
        if store.local is None:
            stmt = store.stmt
            target = stmt.targets[0]
            store.local = target.attr if self.names is None else self.names.fresh(target.attr)
            stmt.targets = [S.name(store.local, store=True)]
            kept = gast.Assign(targets=[target], value=S.name(store.local), type_comment=None)
            at = next(i for i, s in enumerate(store.block) if s is stmt)
            store.block.insert(at + 1, gast.copy_location(kept, stmt))
        return store.local


class _Joint:
    """The stores of both branches of an ``if``, one of which put the value there."""

    def __init__(self, attr: str, *parts):
        self.attr, self.parts, self.local = attr, parts, None


class _Store:
    """A statement ``obj.attr = v`` in ``block`` whose value later reads take (``local``,
    once one is read)."""

    def __init__(self, stmt, block: list):
        self.stmt, self.block, self.local = stmt, block, None


def _read_of(node, known: dict):
    if not (
        isinstance(node, gast.Attribute)
        and isinstance(node.ctx, gast.Load)
        and isinstance(node.value, gast.Name)
    ):
        return None
    return known.get((node.value.id, node.attr))


def _attribute_store(stmt):
    """``(receiver, attr)`` of ``name.attr = value``, else None."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1):
        return None
    t = stmt.targets[0]
    if isinstance(t, gast.Attribute) and isinstance(t.value, gast.Name):
        return t.value.id, t.attr
    return None


def _forget_rebound(node, known: dict) -> None:
    """Drop the attributes of names ``node`` rebinds (another object's after)."""
    rebound = S.bound_names(node)
    for key in [k for k in known if k[0] in rebound]:
        known.pop(key)


def _forget_changed(stmt, known: dict, harmless) -> None:
    """Drop what ``stmt`` may change: an attribute of that name stored on any object (another
    name may hold the same object), and everything where it calls anything but NumPy's or
    ``math``'s functions (a call may reach the object through a name of its own)."""
    if not known:
        return
    _forget_rebound(stmt, known)
    stored = {attr for _, attr in _stored_attributes(stmt)}
    for key in [k for k in known if k[1] in stored]:
        known.pop(key)
    for n in S.own_scope_nodes(stmt):
        if isinstance(n, gast.Call) and (S.dotted(n.func) or "").split(".")[0] not in _PURE:
            given = {getattr(a, "id", None) for a in [*n.args, *(k.value for k in n.keywords)]}
            if harmless(n) and not given & {k[0] for k in known}:
                continue  # (a function of NumPy's alone, not given the object)
            known.clear()
            return


def _no_call(node, harmless) -> bool:
    """Whether ``node`` calls nothing that may change an object."""
    probe: dict = {("", ""): None}
    _forget_changed(gast.Expr(value=node), probe, harmless)
    return bool(probe)


#: the modules whose functions change no object of the user's
_PURE = ("np", "numpy", "math")


def _stored_attributes(node) -> set:
    """(receiver, attr) of every attribute stored, augmented or deleted under ``node``."""
    return {
        (n.value.id, n.attr)
        for n in S.own_scope_nodes(node)
        if isinstance(n, gast.Attribute)
        and isinstance(n.ctx, (gast.Store, gast.Del))
        and isinstance(n.value, gast.Name)
    }
