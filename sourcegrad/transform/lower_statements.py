"""Lowering statements to core form: assignments (plain, augmented, unpacking, into an
item), expression statements, branches, ``while`` loops and the final ``return`` (a mixin of
the normalize pass's builder)."""

from __future__ import annotations

import gast
import numpy as np

from ..rules.facts import unpacks_one_array
from . import syntax as S
from .aliasing import bound_values
from .fresh_values import (
    fresh_display_items,
    fresh_rebinding_line,
    is_fresh,
    link_dropped,
    number_item,
)
from .in_place import cast_write, mark_in_place
from .inline_helpers import helper_write_message
from .link_refusals import LinkRefusals
from .lists import popped_list
from .lower_attributes import AttributeStores
from .node_facts import get_fact, set_fact
from .parse import resolve
from .statement_refusals import FINALLY, REFUSED_STATEMENTS
from .value_sources import source_name


class StatementLowering(LinkRefusals, AttributeStores):
    """Statements. Expects of the builder: ``p`` (the parsed function), ``names``, ``env``,
    ``fn`` (the function being lowered), ``out``, ``lineno``, ``depth``, ``local_names``, ``unversioned``, ``user_vars``,
    ``conditions``, ``aliases``, ``augmented_aliases``, ``alias_checks``, ``element_sites``,
    ``element_names``, ``returns_tuple``, and the methods ``refuse``, ``emit``, ``atom``,
    ``simple``, ``index``, ``opaque``, ``path``, ``path_read``, ``last_line_run_again`` and ``for_``.
    """

    def statement(self, stmt):
        """Lower one user statement, appending core statements to ``out``."""
        kind = type(stmt)
        if kind is gast.Try and not stmt.handlers:
            self.refuse(FINALLY, stmt)
        if kind is gast.Global and not _stores_any(self.fn, set(stmt.names)):
            return  # names only read: they resolve to the module's without the declaration
        if kind in REFUSED_STATEMENTS:
            self.refuse(REFUSED_STATEMENTS[kind], stmt)
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, (gast.Yield, gast.YieldFrom)):
            self.refuse(
                "generators (`yield`) cannot be differentiated; return an array (np.stack the "
                "values) instead",
                stmt,
            )
        if isinstance(stmt, gast.Assign):
            self.assign_statement(stmt)
        elif isinstance(stmt, gast.AugAssign):
            self.augmented_assign(stmt)
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.bind_target(stmt.target, stmt.value)
        elif isinstance(stmt, gast.Expr):
            self.expression_statement(stmt)
        elif isinstance(stmt, gast.Return):
            self.ret(stmt)
        elif isinstance(stmt, gast.Pass):
            return
        elif isinstance(stmt, gast.FunctionDef):
            # a nested helper: defined as written; calls to it differentiate through its vjp
            if stmt.decorator_list:
                self.refuse(
                    "decorated nested functions are not supported; define it at " "module level",
                    stmt,
                )
            for inner in S.nodes_of(stmt, (gast.FunctionDef, gast.ClassDef)):
                for node in S.own_scope_nodes(inner):
                    if isinstance(node, (gast.Nonlocal, gast.Global)):
                        self.refuse(_outer_write_message(node, inner.name), node)
            self.env[stmt.name] = stmt.name
            self.emit(S.clone(stmt), temp=False)
        elif isinstance(stmt, gast.If):
            self.if_(stmt)
        elif isinstance(stmt, gast.For):
            self.for_(self.sorted_items_as_keys(stmt))
        elif isinstance(stmt, gast.While):
            self.while_(stmt)
        elif isinstance(stmt, (gast.Assert, gast.Raise)):
            # input checks: kept in the forward code as written (a raise ends the call there)
            self.emit(self.opaque(stmt), temp=True)
        else:
            self.refuse(f"`{kind.__name__}` statements are not supported here", stmt)

    def assign_statement(self, stmt):
        popped = popped_list(stmt.value, most_args=0)
        if popped is not None and popped in self.local_names and len(stmt.targets) == 1:
            # `x = xs.pop()` is `x = xs[-1]` and the new list `xs[:-1]`
            last = gast.Subscript(value=S.name(popped), slice=S.const(-1), ctx=gast.Load())
            self.bind_target(stmt.targets[0], last)
            rest = gast.Subscript(
                value=S.name(popped),
                slice=gast.Slice(lower=None, upper=S.const(-1), step=None),
                ctx=gast.Load(),
            )
            self.bind(popped, rest)
            return
        if get_fact(stmt, "item_write") and isinstance(stmt.targets[0], gast.Subscript):
            # `xs[t] = item` after `item[k] = v`: Python's write changed the item in place
            self.track_binding(stmt.targets[0], stmt.value)
            self.refuse_item_of_tuple(stmt.targets[0])
            self.set_item(stmt.targets[0], stmt.value, through_item=True)
        elif len(stmt.targets) == 1:
            value = stmt.value
            if get_fact(stmt, "same_kind"):  # np.copyto(y, v), out=y: NumPy casts v into y
                value = cast_write(self, stmt.targets[0], value)
            self.bind_target(stmt.targets[0], value)
        else:
            value = self.atom(stmt.value, "t")
            for target in stmt.targets:
                self.bind_target(target, value)

    def links(self, user_name: str, through_item: bool) -> list:
        """The names that may share ``user_name``'s memory (``through_item``: or its items')."""
        items = self.item_aliases.get(user_name, ()) if through_item else ()
        return [*self.aliases.get(user_name, ()), *items]

    def carry_dict_keys(self, user_name: str, old: str, new: str, index) -> None:
        """``d[k] = v`` made ``new`` from ``old``: the keys ``old`` is known to hold, and a
        constant string ``k`` (:attr:`dict_keys`), are ``new``'s."""
        keys = self.dict_keys.pop(old, None)
        key = index.value if isinstance(index, gast.Constant) else None
        if keys is not None and type(key) is str and user_name not in self.unversioned:
            self.dict_keys[new] = keys if key in keys else [*keys, key]

    def named_path_read(self, name, value, target) -> bool:
        """Whether ``value``, bound to ``name`` by the unpacking ``target = ...``, is a path
        read that ``bind`` names after ``name`` (``W = params["W"]``): its root is no name
        the unpacking binds."""
        if not (
            isinstance(name, gast.Name) and isinstance(value, (gast.Subscript, gast.Attribute))
        ):
            return False
        if name.id in self.env or name.id in self.unversioned:
            return False
        path = self.path(value)
        return path is not None and path[0] not in S.names_in(target)

    def refuse_item_of_tuple(self, target):
        """``t[i][k] = v`` with ``t`` a tuple (a display of the function's, or an argument
        that is one): sourcegrad follows the write as a new ``t`` holding the new item, which
        only a list or a dict can be."""
        name = getattr(target.value, "id", None)
        example = None
        if name in self.params and self.params.index(name) < len(self.examples or ()):
            example = self.examples[self.params.index(name)]
        made = any(isinstance(v, gast.Tuple) for v in bound_values(self.fn, name))
        if isinstance(example, tuple) or made:
            self.refuse(
                f"`{S.text(target)}[...] = ...` writes into an item of the tuple `{name}`, "
                f"which sourcegrad follows only in a list or a dict: make `{name}` a list, or "
                "build the new item and a new tuple whole",
                target,
            )

    def augmented_assign(self, stmt):
        self.track_binding(stmt.target, stmt.value)
        if isinstance(stmt.target, gast.Subscript):
            # the index is evaluated once, as Python does: `y[f()] += v` calls f once
            base = getattr(stmt.target.value, "id", "k")
            target = gast.Subscript(
                value=stmt.target.value,
                slice=self.index(stmt.target.slice, base),
                ctx=gast.Store(),
            )
            read = gast.Subscript(
                value=S.clone(target.value), slice=S.clone(target.slice), ctx=gast.Load()
            )
            # (into a list's or dict's item: Python changes the item itself in place, unless
            # the item was given a new array before: `p["W"] = p["W"] * 1.0`)
            name, key = getattr(stmt.target.value, "id", None), _key(stmt.target.slice)
            deep = name in self.item_aliases and (name, key) not in self.fresh_items
            start = len(self.out)
            item = self.atom(read, base) if deep else None  # (changed in place if an array)
            if item is not None and len(self.out) > start and not number_item(self.fn, name, key):
                set_fact(self.out[-1], "updated_item", True)
            value = gast.BinOp(left=item or read, op=stmt.op, right=stmt.value)
            self.set_item(target, value, deep, updated=item)
            self.mark_in_place(start, self.out[-1].value)
            return
        if isinstance(stmt.target, gast.Attribute):
            self.refuse_attribute_write(stmt.target, _SIGNS.get(type(stmt.op), "+") + "=")
        if not isinstance(stmt.target, gast.Name):
            self.refuse(f"cannot update `{S.text(stmt.target)}` in a differentiated function", stmt)
        self.check_augmented_aliases(stmt)
        current = S.name(stmt.target.id)
        start = len(self.out)
        self.bind_target(stmt.target, gast.BinOp(left=current, op=stmt.op, right=stmt.value))
        self.mark_in_place(start, S.name(self.env.get(stmt.target.id, stmt.target.id)))

    def display_link(self, name: str, key):
        """``(display, line)``: the link of ``name`` to the display that put a new array at
        ``key`` (``d = {"a": z, "b": 2.0 * z}``: ``d["b"]`` is no ``z``), where the write runs
        once; else None. A name the item is read into later is linked apart."""
        return self.display_items.get((name, key)) if self.depth == 0 else None

    def mark_in_place(self, start: int, result):
        if not self.p.filename.startswith("<sourcegrad"):  # (the user's updates only)
            mark_in_place(self.out[start:], result)

    def check_augmented_aliases(self, stmt):
        """``z += v`` changes an array in place, so every other name of its memory too
        (``z = y`` before it): allowed only where ``z`` turns out to be a number (ranks
        decide, in analysis)."""
        name = stmt.target.id
        if self.p.filename.startswith("<sourcegrad"):
            return
        for other, line, _ in self.augmented_aliases.get(name, ()):
            if not self.link_holds(
                line, stmt.lineno, fresh_rebinding_line(self.fn, name, stmt.lineno)
            ):
                continue  # made after this update, or `name` holds a new array since
            if link_dropped(self.fn, other, line, stmt.lineno):
                continue  # `h = x`, then `h = np.sin(h)`: `h` holds a new array since
            sign = _SIGNS.get(type(stmt.op), "+")
            message = helper_write_message(stmt) or (
                f"`{S.text(stmt)}` changes `{name}` in place while `{self.shown(other)}` "
                f"may share its memory (they are linked at line {line}): Python changes "
                f"`{self.shown(other)}` too, which sourcegrad does not follow; "
                + self.way_out_of_link(
                    name,
                    other,
                    line,
                    f"write `{name} = {name} {sign} ...` (a new array), or make the value made "
                    f"at line {line} an explicit copy (`.copy()`)",
                )
            )
            current = self.env.get(name, name)
            site = (current, stmt.lineno)
            self.element_names[site] = current
            self.alias_checks.append((site, message, stmt.lineno))

    def expression_statement(self, stmt):
        if isinstance(stmt.value, gast.Constant):
            return  # docstring or bare constant
        v = stmt.value
        if (
            isinstance(v, gast.Call)
            and isinstance(v.func, gast.Attribute)
            and v.func.attr == "append"
            and isinstance(v.func.value, gast.Name)
            and v.func.value.id in self.local_names
            and len(v.args) == 1
            and not v.keywords
            and not self.other_container(v.func.value.id)
        ):
            # `hs.append(h)` is the new list `[*hs, h]`: earlier lists stay intact
            name = v.func.value.id
            grown = gast.List(
                elts=[gast.Starred(value=S.name(name), ctx=gast.Load()), v.args[0]],
                ctx=gast.Load(),
            )
            self.bind(name, grown)
            return
        self.emit(gast.Expr(value=self.simple(stmt.value, "t")), temp=True)

    def other_container(self, name: str) -> bool:
        """Whether ``name`` is bound to an object of a class other than list (a
        ``collections.deque(maxlen=2)``, whose ``append`` is its own)."""
        for v in bound_values(self.fn, name):
            cls = resolve(self.p, v.func, self.local_names) if isinstance(v, gast.Call) else None
            if isinstance(cls, type) and cls is not list:
                return True
        return False

    def block(self, stmts) -> list:
        """Lower a nested statement list; returns the core statements."""
        saved, saved_line = self.out, self.lineno
        self.out = []
        self.depth += 1
        for sub in stmts:
            self.lineno = sub.lineno
            if isinstance(sub, gast.Return):
                self.refuse(
                    "`return` inside `if`/`for`/`while` is not supported yet; assign "
                    "the result to a variable and return it at the end",
                    sub,
                )
            self.statement(sub)
        self.depth -= 1
        out, self.out, self.lineno = self.out, saved, saved_line
        return out

    def condition(self, test):
        """The test of an if/while as a temporary that nothing else assigns."""
        simple = self.simple(test, "cond")
        t = self.names.fresh("cond")
        self.emit(S.assign(t, simple), temp=False)
        self.user_vars.add(t)
        self.conditions.add(t)
        return S.name(t)

    def if_(self, stmt):
        test = self.condition(stmt.test)
        self.branches += 1
        body = self.block(stmt.body)
        orelse = self.block(stmt.orelse)
        self.branches -= 1
        node = gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)
        self.emit(node, temp=False)

    def while_(self, stmt):
        if stmt.orelse:
            self.refuse(
                "the `else` of this `while` loop breaks out of (or continues) the enclosing loop, "
                "which is not supported; set a flag in it and test the flag after the loop",
                stmt,
            )
        test = self.condition(stmt.test)
        body = self.block(stmt.body)
        saved, self.out = self.out, body
        self.depth += 1
        self.lineno = stmt.lineno
        simple = self.simple(stmt.test, "cond")
        self.emit(S.assign(test.id, simple), temp=False)
        self.depth -= 1
        self.out = saved
        loop = gast.While(test=S.clone(test), body=body, orelse=[])
        self.emit(loop, temp=False)

    def ret(self, stmt):
        if stmt.value is None:
            self.refuse("a differentiated function must return a value", stmt)
        if isinstance(stmt.value, gast.Tuple):
            self.returns_tuple = True
            elts = [self.atom(e, "out" if i == 0 else "aux") for i, e in enumerate(stmt.value.elts)]
            self.emit(gast.Return(value=gast.Tuple(elts=elts, ctx=gast.Load())), temp=True)
            return
        value = self.simple(stmt.value, "out")
        if not S.is_atom(value):
            t = self.names.fresh("out")
            self.emit(S.assign(t, value), temp=True)
            value = S.name(t)
        self.emit(gast.Return(value=value), temp=True)

    def bind_target(self, target, value):
        self.track_binding(target, value)
        if isinstance(target, gast.Name):
            self.bind(target.id, value)
        elif isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self.bind_starred(target, value)
                return
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts):
                # `W, b = p["W"], p["b"]`: path reads named as `W = p["W"]` names them, after
                # every other value is read (none reads a name bound here before it is bound)
                atoms = [
                    e if self.named_path_read(t, e, target) else self.atom(e, _base(t))
                    for e, t in zip(value.elts, target.elts)
                ]
                self.check_views_read_after_writes(target.elts, value.elts, atoms)
                # `a, b = b, a` reads every value before it binds a name: a value that is
                # itself a name being bound is held in a temporary first
                bound = S.names_in(target) | {self.env.get(n) for n in S.names_in(target)}
                for i, a in enumerate(atoms):
                    if isinstance(a, gast.Name) and a.id in bound:
                        t = self.names.fresh(a.id, always_suffix=True)
                        self.emit(S.assign(t, a), temp=True)
                        atoms[i] = S.name(t)
                for sub, a in zip(target.elts, atoms):
                    self.bind_target(sub, a)
                return
            several = isinstance(value, gast.Call) and not self.unpacks_one_array(value)
            if several and all(isinstance(e, gast.Name) for e in target.elts):
                # `a, b = f(x)`: one operation with several results
                names = [e.id for e in target.elts]
                if len(set(names)) == len(names) and not set(names) & self.unversioned:
                    simple = self.simple(value, names[0])
                    new = []
                    for n in names:
                        v = self.names.fresh(n) if n in self.env else n
                        self.names.reserve(v)
                        self.env[n] = v
                        self.user_vars.add(v)
                        new.append(S.name(v, store=True))
                    multi = gast.Assign(
                        targets=[gast.Tuple(elts=new, ctx=gast.Store())],
                        value=simple,
                        type_comment=None,
                    )
                    self.emit(multi, temp=False)
                    return
            base = value.attr if isinstance(value, gast.Attribute) else _base(target)
            whole = self.atom(value, base)  # `shape_1 = x.shape`, `W_b_1 = params[k]`
            for i, sub in enumerate(target.elts):
                item = gast.Subscript(value=whole, slice=S.const(i), ctx=gast.Load())
                self.bind_target(sub, item)
        elif isinstance(target, gast.Subscript):
            self.set_item(target, value)
        elif isinstance(target, gast.Attribute):
            self.store_attribute(target, value)
        else:
            self.refuse(f"cannot assign to `{S.text(target)}` in a differentiated function", target)

    def unpacks_one_array(self, call) -> bool:
        """Whether ``call``'s result is one array (``a, b = np.exp(t)`` takes its rows):
        a NumPy or SciPy function known to return one (:func:`~..rules.facts.unpacks_one_array`)."""
        return unpacks_one_array(resolve(self.p, call.func, self.local_names))

    def check_views_read_after_writes(self, targets, values, atoms):
        """``y[:, 0], y[:, 1] = y[:, 1], y[:, 0]``: Python reads the views on the right
        first, then writes ``y[:, 0]``, which the view ``y[:, 0]`` then shows before the second
        write reads it (nothing is swapped); sourcegrad writes into a copy. Refused where such
        a view turns out to be an array (ranks decide, in analysis; numbers are copies)."""
        written = {}
        for i, t in enumerate(targets):
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                written.setdefault(t.value.id, i)
        for j, (value, atom) in enumerate(zip(values, atoms)):
            viewed = source_name(value)
            if viewed not in written or written[viewed] >= j or not isinstance(atom, gast.Name):
                continue
            message = (
                f"`{S.text(values[j])}` on the right is a view of `{viewed}`, which the "
                f"assignment to `{S.text(targets[written[viewed]])}` before it changes: Python "
                f"reads the changed values there, sourcegrad the old ones; to swap, copy the "
                f"view (`{S.text(values[j])}.copy()`)"
            )
            site = (atom.id, self.lineno)
            self.element_names[site] = atom.id
            self.alias_checks.append((site, message, self.lineno))

    def bind_starred(self, target, value):
        """``a, *b, c = v``: ``a = v[0]``, ``b = list(v[1:-1])``, ``c = v[-1]`` (a starred name
        always holds a list, as in Python)."""
        stars = [i for i, e in enumerate(target.elts) if isinstance(e, gast.Starred)]
        if len(stars) > 1:
            self.refuse("an assignment can have only one starred target", target)
        s, n = stars[0], len(target.elts)
        whole = self.atom(value, "t")
        for i, sub in enumerate(target.elts):
            if i == s:
                after = n - s - 1
                part = gast.Slice(
                    lower=S.const(s) if s else None,
                    upper=S.const(-after) if after else None,
                    step=None,
                )
                rest = gast.Subscript(value=whole, slice=part, ctx=gast.Load())
                self.bind_target(sub.value, S.call(S.name("list"), [rest]))
            else:
                index = i if i < s else i - n
                item = gast.Subscript(value=whole, slice=S.const(index), ctx=gast.Load())
                self.bind_target(sub, item)

    def set_item(self, target, value, through_item=False, updated=None):
        """``x[k] = v``: a new value of ``x`` (a copy, so that the caller's array and any value
        the adjoint still needs stay intact) with ``v`` written at ``k``; ``through_item``:
        ``v`` is ``x[k]`` written into (``x[k][j] = w``), which Python changes in place, so
        every other name of its memory is refused too; ``updated``: the name of the item
        ``x[k] += w`` updates, which Python changes in place only where it is an array."""
        if not isinstance(target.value, gast.Name):
            self.refuse(
                f"assign into a named array (`x[k] = v`), not into `{S.text(target.value)}`", target
            )
        user_name = target.value.id
        if user_name not in self.local_names:
            self.refuse(
                f"`{user_name}[...] = ...` writes into `{user_name}`, which this function does "
                f"not make (a global or enclosing variable): sourcegrad writes into a copy, "
                f"so `{user_name}` would not change; keep the value in a local variable and "
                f"return it (has_aux=True)",
                target,
            )
        # sourcegrad's own derivative code writes only into arrays it has just copied, so a
        # view of one is always taken after the write: nothing to check there
        key = _key(target.slice)
        if not self.p.filename.startswith("<sourcegrad"):
            own = self.display_link(user_name, key)
            links = [ln for ln in self.links(user_name, through_item) if ln[:2] != own]
            self.refuse_shared_links(user_name, target, links, through_item, updated)
        if not through_item:  # (else the item written into is put back)
            for item in [i for i in self.display_items if i[0] == user_name]:
                if key in (item[1], None):
                    del self.display_items[item]
        if self.depth == 0 and key is not None and is_fresh(value):
            self.fresh_items.add((user_name, key))
        v = self.atom(value, user_name)
        index = self.index(target.slice, user_name)
        current = S.name(self.env.get(user_name, user_name))
        copy = S.call(gast.Attribute(value=current, attr="copy", ctx=gast.Load()))
        whole = isinstance(index, gast.Constant) and index.value is Ellipsis
        if whole and resolve(self.p, S.name("np"), self.local_names) is np:
            # (every element written: a new array of its shape and dtype, not a copy)
            copy = S.call(S.attr_chain("np.empty_like"), [current])
            set_fact(copy.func, "static", True)  # (NumPy's, resolved when it is classified)
        if user_name in self.unversioned:
            new = user_name
        else:
            new = self.names.fresh(user_name) if user_name in self.env else user_name
        self.names.reserve(new)
        self.env[user_name] = new
        self.user_vars.add(new)
        self.carry_dict_keys(user_name, current.id, new, index)
        self.emit(S.assign(new, copy), temp=False)
        store = gast.Subscript(value=S.name(new), slice=index, ctx=gast.Store())
        self.emit(gast.Assign(targets=[store], value=v, type_comment=None), temp=False)

    def bind(self, user_name: str, value):
        self.fresh_items -= {item for item in self.fresh_items if item[0] == user_name}
        path = self.path(value) if isinstance(value, (gast.Subscript, gast.Attribute)) else None
        if path is not None and user_name not in self.env and user_name not in self.unversioned:
            # `W = params["W"]`: the user's own name for a path read.
            self.env[user_name] = self.path_read(*path, ident=user_name)
            return
        simple = self.simple(value, user_name)
        if (
            user_name in self.unversioned
            and user_name in S.names_in(simple)
            and not S.is_atom(simple)
        ):
            # `x = f(x)` overwrites an input of its own operation; computing into a temporary
            # first keeps both values reachable for the adjoint
            t = self.names.fresh(user_name, always_suffix=True)
            self.emit(S.assign(t, simple), temp=True)
            simple = S.name(t)
        if user_name in self.unversioned:
            new = user_name  # assigned inside control flow: one name, overwritten in place
        else:
            new = self.names.fresh(user_name) if user_name in self.env else user_name
        self.names.reserve(new)
        self.env[user_name] = new
        self.user_vars.add(new)
        self.dict_keys.pop(new, None)
        if new != user_name or user_name not in self.unversioned:
            keys = _display_keys(value)
            if keys is not None:
                self.dict_keys[new] = keys
        if (user_name, self.lineno) in self.element_sites:
            self.element_names[(user_name, self.lineno)] = new
        made = {(user_name, k): (S.text(value), self.lineno) for k in fresh_display_items(value)}
        self.display_items = made | {
            i: v for i, v in self.display_items.items() if i[0] != user_name
        }
        self.emit(S.assign(new, simple), temp=False)


_SIGNS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//",
    gast.Mod: "%", gast.Pow: "**", gast.MatMult: "@", gast.BitAnd: "&", gast.BitOr: "|",
    gast.BitXor: "^", gast.LShift: "<<", gast.RShift: ">>",
}  # fmt: skip


def _outer_write_message(node, name: str) -> str:
    """The refusal of the ``global``/``nonlocal`` declaration ``node`` in the nested ``def
    name``."""
    kind, first = type(node).__name__.lower(), node.names[0]
    return (
        f"`{kind} {', '.join(node.names)}` in nested `{name}`: sourcegrad does not follow "
        "what a nested function writes into the names of another scope; pass the value in "
        f"and return the new value (`{first} = {name}({first}, ...)`)"
    )


def _stores_any(fn, names: set) -> bool:
    """Whether ``fn`` (not its nested functions) binds or deletes one of ``names``."""
    return any(
        isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and n.id in names
        for n in S.own_scope_nodes(fn)
    )


def _display_keys(value):
    """The keys of ``{"a": ..., "b": ...}`` or ``dict(a=..., b=...)``, where all are constant
    strings; else None."""
    if isinstance(value, gast.Dict) and all(
        isinstance(k, gast.Constant) and type(k.value) is str for k in value.keys
    ):
        return list(dict.fromkeys(k.value for k in value.keys))
    if (
        isinstance(value, gast.Call)
        and getattr(value.func, "id", None) == "dict"
        and not value.args
        and all(k.arg is not None for k in value.keywords)
    ):
        return [k.arg for k in value.keywords]
    return None


def _base(target) -> str:
    """The name a temporary holding what ``target`` is bound to starts with: the target's,
    the names of a tuple of two or three joined (``W_b`` for ``W, b = ...``), else ``t``."""
    if isinstance(target, gast.Name):
        return target.id
    names = [e.id for e in getattr(target, "elts", ()) if isinstance(e, gast.Name)]
    joined = "_".join(names)
    return joined if 2 <= len(names) == len(target.elts) <= 3 and len(joined) <= 16 else "t"


def _key(index):
    """The constant key of an item write (``p["W"]``, ``hs[0]``), else None."""
    return index.value if isinstance(index, gast.Constant) else None
