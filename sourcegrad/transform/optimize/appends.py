"""Lists grown in loops grow in place: the core form grows a list by making a new one,
``hs = [*hs, h]`` (every value assigned once, so the adjoint may read any of them), and a
derivative of a derivative takes an item off one the same way, ``tape = tape[:-1]``: each
copies the list at every step of a loop, quadratic in the number of steps. Where nothing but
the list's own name can reach the list it replaces, the running code changes it in place:
``hs.append(h)``, ``tape.pop()``, and for the tangent of a list (forward mode over a
gradient), ``ths.append(tangent_item(th, h))`` for ``ths = append_tangent(ths, th, hs, h)``.

A name holds a list of its own where every assignment to it makes a new list (a display,
``list(xs)``, the zero tangent of such a list), grows or shrinks it as above, or takes over
one: ``layers = items`` (a comprehension's list handed to its name), where ``items`` holds
a list of its own and is not read after; and every other read of the name only looks at
it: ``len(hs)``, ``hs[i]``, a NumPy function (``np.stack(hs)``), a runtime helper that builds
a new value from it. A read that could keep it (a plain copy, a tape entry, a container, any
other call, a return) keeps the copying form, but for one in a top-level statement after
every statement that grows or shrinks the name (``cache = {"hs": cache_hs}`` after the loop
filling ``cache_hs``, the dict ``named_item_lists`` takes apart put back): from there the
list never changes, so whatever keeps it holds what the copying form would hand it. A plain
copy (``ls = hs``) is no such read, since ``ls`` may then grow in place itself.
"""

from __future__ import annotations

import gast

from ...runtime.helpers import shape_of, unindex
from ...runtime.tangent_helpers import append_tangent, tangent_item, tangent_items, zero_tangent
from ...runtime.trees import zero_adjoint
from .. import syntax as S
from ..forms import Derivative
from ..node_facts import copy_all_facts
from ..walk import replace_statement
from .common import names_reaching

#: the arguments of ``append_tangent(dxs, dv, xs, v)`` it only looks at (``dv`` and ``v``
#: become the new item)
_LOOKED_AT_BY_APPEND_TANGENT = (0, 2)


def grow_in_place(node: gast.FunctionDef, der: Derivative, np_name: str | None) -> None:
    """Rewrite the growths and shrinks of every name whose list nothing else can reach (see
    the module docstring) as ``append`` and ``pop``."""
    grow_tangent = names_reaching(der.refs, [append_tangent])
    _merge_tangent_growths(node, grow_tangent)
    forms = _list_forms(node, grow_tangent, names_reaching(der.refs, [zero_tangent]))
    if not forms:  # no list grown or shrunk: nothing to rewrite (and no reads to walk)
        return
    params = {a.id for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
    helpers = [zero_adjoint, unindex, shape_of, zero_tangent, tangent_items]
    lookers = names_reaching(der.refs, helpers)
    reads = _Reads(node, lookers | {"len"}, np_name, grow_tangent)
    reads.looked |= _final_reads(node, forms)
    owned: set = set()
    while True:
        more = {
            name
            for name, assigned in forms.items()
            if name not in owned | params
            and all(kind != "taken" or v.id in owned for kind, v in assigned)
            and reads.only_looked_at(name)
        }
        if not more:
            break
        owned |= more
    for name in sorted(owned):
        for kind, stmt in forms[name]:
            if kind in ("grow", "shrink", "grow tangent"):
                replace_statement(node, stmt, _in_place(kind, stmt, name, der))


def _merge_tangent_growths(node, grow_tangent: set) -> None:
    """``ts_1 = append_tangent(ts, ...)``, statements that do not touch ``ts``, then ``ts =
    ts_1`` (forward mode keeps the tangent apart until the primal statement has run) as
    ``ts = append_tangent(ts, ...)`` in the first's place."""
    if not grow_tangent:  # (no tangent grown: nothing to count names for)
        return
    counts: dict = {}
    for n in S.walk(node):
        if isinstance(n, gast.Name):
            counts[n.id] = counts.get(n.id, 0) + 1
    for body in S.blocks(node.body):
        for i, stmt in enumerate(body):
            if not (_assigns_name(stmt) and _calls(stmt.value, grow_tangent)):
                continue
            grown = stmt.value.args[0]
            temp = stmt.targets[0].id
            if not isinstance(grown, gast.Name) or counts.get(temp) != 2:
                continue
            for j in range(i + 1, len(body)):
                later = body[j]
                if _assigns_name(later) and later.targets[0].id == grown.id:
                    if isinstance(later.value, gast.Name) and later.value.id == temp:
                        stmt.targets[0].id = grown.id
                        del body[j]
                    break
                if any(isinstance(n, gast.Name) and n.id == grown.id for n in S.walk(later)):
                    break


def _list_forms(node, grow_tangent: set, zeros: set) -> dict:
    """``{name: [(kind, statement or name)]}``, one entry per assignment, for the names every
    assignment of which makes, changes or takes over a list; kinds: ``new``, ``grow``,
    ``shrink``, ``grow tangent`` (with the statement), ``zeros`` (the zero tangent of a name),
    ``taken`` (a name's value, taken over where that name is not read after)."""
    forms: dict = {}
    other: set = set()
    for stmt in S.walk(node):
        if isinstance(stmt, gast.Assign) and _assigns_name(stmt):
            name = stmt.targets[0].id
            kind = _kind(stmt, name, grow_tangent, zeros)
            if kind is None:
                other.add(name)
            else:
                forms.setdefault(name, []).append(kind)
        elif isinstance(stmt, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.For)):
            targets = stmt.targets if isinstance(stmt, gast.Assign) else [stmt.target]
            other |= {n.id for t in targets for n in S.walk(t) if isinstance(n, gast.Name)}
        elif isinstance(stmt, (gast.comprehension, gast.NamedExpr)):
            other |= {n.id for n in S.walk(stmt.target) if isinstance(n, gast.Name)}
    forms = {name: kinds for name, kinds in forms.items() if name not in other}
    while True:  # a zero tangent or a name taken over is a list where its source always is
        dropped = {
            name
            for name, kinds in forms.items()
            if any(k in ("zeros", "taken") and v.id not in forms for k, v in kinds)
        }
        if not dropped:
            break
        forms = {name: kinds for name, kinds in forms.items() if name not in dropped}
    return forms


def _kind(stmt, name: str, grow_tangent, zeros):
    """``(kind, node)`` of ``name = value`` (see :func:`_list_forms`), or None."""
    value = stmt.value
    if isinstance(value, gast.List):
        if not any(isinstance(e, gast.Starred) for e in value.elts):
            return ("new", stmt)
        return ("grow", stmt) if _is_growth(value, name) else None
    if _is_list_copy(value):
        return ("new", stmt)
    if _is_shrink(value, name):
        return ("shrink", stmt)
    if _calls(value, grow_tangent) and len(value.args) == 4 and _is_name(value.args[0], name):
        return ("grow tangent", stmt)
    if _calls(value, zeros) and len(value.args) == 1 and isinstance(value.args[0], gast.Name):
        return ("zeros", value.args[0])
    if isinstance(value, gast.Name):
        return ("taken", value)
    return None


def _is_list_copy(value) -> bool:
    """``list(xs)``: a new list (of the items ``xs`` holds)."""
    return (
        isinstance(value, gast.Call)
        and _is_name(value.func, "list")
        and len(value.args) <= 1
        and not value.keywords
        and not any(isinstance(a, gast.Starred) for a in value.args)
    )


def _is_growth(value, name: str) -> bool:
    """``[*name, x]``."""
    return (
        isinstance(value, gast.List)
        and len(value.elts) == 2
        and isinstance(value.elts[0], gast.Starred)
        and _is_name(value.elts[0].value, name)
        and not isinstance(value.elts[1], gast.Starred)
    )


def _is_shrink(value, name: str) -> bool:
    """``name[:-1]``."""
    if not (isinstance(value, gast.Subscript) and _is_name(value.value, name)):
        return False
    cut = value.slice
    return (
        isinstance(cut, gast.Slice)
        and cut.lower is None
        and cut.step is None
        and _minus_one(cut.upper)
    )


def _minus_one(e) -> bool:
    if isinstance(e, gast.Constant):
        return type(e.value) is int and e.value == -1
    return (
        isinstance(e, gast.UnaryOp)
        and isinstance(e.op, gast.USub)
        and isinstance(e.operand, gast.Constant)
        and type(e.operand.value) is int
        and e.operand.value == 1
    )


def _is_name(e, name: str) -> bool:
    return isinstance(e, gast.Name) and e.id == name


def _assigns_name(stmt) -> bool:
    return (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
    )


def _calls(value, funcs: set) -> bool:
    """Whether ``value`` is a call, by position, with arguments, of a function named in
    ``funcs``."""
    return (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Name)
        and value.func.id in funcs
        and not value.keywords
        and bool(value.args)
    )


class _Reads:
    """Which reads of a list's name only look at the list (see the module docstring)."""

    def __init__(self, node, lookers: set, np_name: str | None, grow_tangent: set):
        self.node = node
        self.looked: set = set()  # ids of Name nodes read by a look
        for n in S.walk(node):
            if isinstance(n, gast.Assign) and isinstance(n.value, gast.List):
                self.looked |= {
                    id(e.value) for e in n.value.elts[:1] if isinstance(e, gast.Starred)
                }
            elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load):
                self.looked.add(id(n.value))
            elif isinstance(n, gast.Call) and _calls(n, grow_tangent):
                self.looked |= {
                    id(n.args[i]) for i in _LOOKED_AT_BY_APPEND_TANGENT if i < len(n.args)
                }
            elif isinstance(n, gast.Call) and _looks_only(n.func, lookers, np_name):
                self.looked |= {id(a) for a in n.args}
        self.handed = _handed_over(node)

    def only_looked_at(self, name: str) -> bool:
        """Whether every read of ``name`` looks at its list, or hands it to another name
        where ``name`` is not read after."""
        return all(
            id(n) in self.looked or id(n) in self.handed
            for n in S.walk(self.node)
            if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load)
        )


def _final_reads(node, forms: dict) -> set:
    """The ids of the reads of a name of ``forms`` in a top-level statement of ``node``
    after the last one that grows or shrinks it (see the module docstring), but for ``a =
    name``."""
    changing = ("grow", "shrink", "grow tangent")
    last: dict = {}
    for i, top in enumerate(node.body):
        inside = {id(s) for s in S.walk(top)}
        for name, kinds in forms.items():
            if any(kind in changing and id(stmt) in inside for kind, stmt in kinds):
                last[name] = i
    found: set = set()
    for i, top in enumerate(node.body):
        if _assigns_name(top) and isinstance(top.value, gast.Name):
            continue
        for n in S.name_nodes(top):
            if (
                n.id in forms
                and isinstance(n.ctx, gast.Load)
                and i > last.get(n.id, len(node.body))
            ):
                found.add(id(n))
    return found


def _handed_over(node) -> set:
    """The ids of the names read by ``a = b`` where ``b`` is read nowhere after: no later
    statement of the block mentions it, and where the block repeats (a loop's body), its
    first mention in the block makes it a new list."""
    handed: set = set()
    mentions: dict = {}
    for n in S.walk(node):
        if isinstance(n, gast.Name):
            mentions.setdefault(n.id, []).append(n)
    for body in S.blocks(node.body):
        for i, stmt in enumerate(body):
            if not (_assigns_name(stmt) and isinstance(stmt.value, gast.Name)):
                continue
            name = stmt.value.id
            inside = {id(n) for s in body[: i + 1] for n in S.walk(s) if isinstance(n, gast.Name)}
            if not all(id(n) in inside for n in mentions.get(name, ())):
                continue
            if body is node.body or _starts_new(body, name):
                handed.add(id(stmt.value))
    return handed


def _starts_new(body, name: str) -> bool:
    """Whether the first statement of ``body`` that mentions ``name`` is ``name = [...]``."""
    for stmt in body:
        if any(isinstance(n, gast.Name) and n.id == name for n in S.walk(stmt)):
            return (
                _assigns_name(stmt)
                and stmt.targets[0].id == name
                and isinstance(stmt.value, gast.List)
                and not stmt.value.elts
            )
    return False


def _looks_only(func, lookers: set, np_name: str | None) -> bool:
    if isinstance(func, gast.Name):
        return func.id in lookers
    dotted = S.dotted(func)
    return bool(np_name) and dotted is not None and dotted.split(".")[0] == np_name


def _in_place(kind: str, stmt, name: str, der: Derivative):
    """The statement that changes ``name``'s list in place as ``stmt`` makes a new one."""
    if kind == "shrink":
        call = S.call(gast.Attribute(S.name(name), "pop", gast.Load()), [])
    else:
        if kind == "grow":
            item = stmt.value.elts[1]
        else:  # append_tangent(dxs, dv, xs, v)
            dv, v = stmt.value.args[1], stmt.value.args[3]
            if isinstance(dv, gast.Constant) and dv.value is None:
                item = S.call(S.name(der.refs.helper(zero_tangent)), [v])
            else:
                item = S.call(S.name(der.refs.helper(tangent_item)), [dv, v])
        call = S.call(gast.Attribute(S.name(name), "append", gast.Load()), [item])
    new = gast.Expr(value=call)
    copy_all_facts(stmt, new, lineno=True)
    return new
