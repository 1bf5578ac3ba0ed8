"""Lowering expressions to core form: a *simple* expression applies one operation to atoms;
its parts are computed first into temporaries. ``a if c else b``, ``and`` and ``or`` become
branches, so that only the operand Python would evaluate is evaluated (a mixin of the
normalize pass's builder)."""

from __future__ import annotations

import builtins

import gast
import numpy as np

from . import syntax as S
from .node_facts import set_fact
from .parse import resolve
from .path_reads import UNKNOWN
from .rule_binding import is_user_function


class ExpressionLowering:
    """Expressions. Expects of the builder: ``names``, ``env``, ``local_names``,
    ``unversioned``, ``lineno``, and the methods ``refuse``, ``emit``, ``statement``,
    ``bind_target``, ``comprehension``, ``path``, ``path_read`` and ``is_static``."""

    def atom(self, e, base: str):
        """Lower ``e`` to an atom, emitting temporaries for its parts."""
        simple = self.simple(e, base)
        if S.is_atom(simple):
            return simple
        held = held_name(simple)
        if held is not None and held not in self.names.taken:
            t = self.names.fresh(held)  # g = p["g"], W = self.W: named for what it holds
        else:
            t = self.names.fresh(base, always_suffix=True)
        self.emit(S.assign(t, simple), temp=True)
        return S.name(t)

    def simple(self, e, base: str):
        """Lower ``e`` to a simple expression: one operation over atoms."""
        if isinstance(e, (gast.ListComp, gast.GeneratorExp, gast.DictComp)):
            return S.name(self.comprehension(e))
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id == "dict"
            and "dict" not in self.local_names
        ):
            made = self.dict_call(e, base)
            if made is not None:
                return made
        e = self.python_form(e)
        if isinstance(e, gast.NamedExpr):  # `(s := e)`: bind s, then read it
            self.bind_target(e.target, e.value)
            return self.simple(S.name(e.target.id), base)
        if isinstance(e, gast.Name):
            return S.name(self.env.get(e.id, e.id))
        if isinstance(e, gast.Constant):
            return S.const(e.value)
        if isinstance(e, (gast.Tuple, gast.List)):
            elts = []
            for x in e.elts:
                if not isinstance(x, gast.Starred):
                    elts.append(self.atom(x, base))
                elif isinstance(self.example_value(x.value), (tuple, list)) or (
                    hasattr(e, "lineno")  # the user's display, not `xs.append(v)` lowered
                    and isinstance(x.value, gast.Name)
                    and x.value.id in self.local_names
                    and isinstance(self.list_length(x.value.id, e), int)
                ):
                    elts += [self.atom(item, base) for item in self.star_items(x.value, e)]
                else:  # a list the function builds: the list lowering splices it
                    elts.append(gast.Starred(value=self.atom(x.value, base), ctx=gast.Load()))
            return type(e)(elts=elts, ctx=gast.Load())
        if isinstance(e, gast.BinOp) and isinstance(e.op, gast.BitOr):
            if isinstance(e.left, gast.Dict) or isinstance(e.right, gast.Dict):
                # `a | {...}`: a dict merge (an array | a dict raises in Python)
                e = gast.Dict(keys=[None, None], values=[e.left, e.right])
        if isinstance(e, gast.Dict) and None in e.keys:
            return self.merge(e, base)
        if isinstance(e, gast.Dict) and all(
            k is not None and (S.is_literal(k) or S.is_atom(k) and not S.names_in(k))
            for k in e.keys
        ):  # a dict with constant keys (the parts of a gradient in derivative code)
            return gast.Dict(
                keys=[S.clone(k) for k in e.keys], values=[self.atom(v, base) for v in e.values]
            )
        return self.operation(e, base)

    def merge(self, e, base: str):
        """``{**a, "k": v, ...}``: a display of the merged keys (:meth:`merged_display`); where
        the first part is a dict of the function's own whose keys show only when it runs,
        ``t = a.copy()`` and then ``t[k] = v`` for the keys that follow."""
        first = e.values[0]
        if e.keys[0] is not None or not isinstance(first, gast.Name):
            return self.simple(self.merged_display(e), base)
        if isinstance(self.example_value(first), dict) or not self.may_be_dict(first):
            return self.simple(self.merged_display(e), base)
        rest = self.merged_display(gast.Dict(keys=e.keys[1:], values=e.values[1:]))
        copy = gast.Call(
            func=gast.Attribute(value=S.clone(first), attr="copy", ctx=gast.Load()),
            args=[],
            keywords=[],
        )
        if not rest.keys:
            return self.simple(copy, base)
        t = self.names.fresh(base + "_merged")
        self.local_names.add(t)
        writes = [
            gast.Assign(
                targets=[gast.Subscript(value=S.name(t), slice=k, ctx=gast.Store())],
                value=v,
                type_comment=None,
            )
            for k, v in zip(rest.keys, rest.values)
        ]
        self.lower_synthetic([S.assign(t, copy), *writes])
        return S.name(self.env[t])

    def merged_display(self, e):
        """``{**a, "k": v, **b}`` as a display of one value per key, in Python's order (a
        key's first place, its last value), where the keys of each ``**`` part are known when
        the derivative is built (a display, or a dict argument read through constant keys)."""
        merged: dict = {}
        for key, value in zip(e.keys, e.values):
            if key is not None:
                merged[_display_key(key)] = (key, value)
                continue
            for k, v in self.known_items(value, e).items():
                merged[k] = (S.const(k), v)
        return gast.Dict(
            keys=[k for k, _ in merged.values()], values=[v for _, v in merged.values()]
        )

    def known_items(self, v, where) -> dict:
        """``{key: expression}`` of a dict ``v`` whose keys are known when the derivative is
        built: a display (constant keys), an argument read through constant keys, or a name
        of a display of the function's with constant keys (:attr:`dict_keys`)."""
        if isinstance(v, gast.Dict) and None not in v.keys:
            return {_display_key(k): x for k, x in zip(v.keys, v.values)}
        if isinstance(v, gast.Dict):
            return self.known_items(self.merged_display(v), where)
        known = self.example_value(v)
        if isinstance(v, gast.Name) and self.env.get(v.id) in self.dict_keys:
            known = dict.fromkeys(self.dict_keys[self.env[v.id]])
        if not isinstance(known, dict) or not all(type(k) in (str, int) for k in known):
            self.refuse(
                f"`**{S.text(v)}` in a dict display: sourcegrad merges only dicts whose keys it "
                "knows when it builds the derivative (a display, a dict argument, or a name of a "
                "display with constant keys); copy the "
                f"dict and assign the new keys instead (`d = {S.text(v)}.copy(); d[k] = ...`), "
                f"or update a dict of yours with it (`d = {{...}}; d.update({S.text(v)})`)",
                where,
            )
        held = self.atom(v, "merged")
        return {k: gast.Subscript(value=held, slice=S.const(k), ctx=gast.Load()) for k in known}

    def dict_call(self, e, base: str):
        """``dict(d)`` (a copy), ``dict(pairs)`` (a loop) or ``dict(a=x, b=y)`` (a display);
        None for any other call of ``dict``."""
        if len(e.args) == 1 and not e.keywords:
            return self.dict_of(e.args[0], base)
        if len(e.args) <= 1 and all(k.arg is not None for k in e.keywords):
            # `dict(d, a=x, b=y)` is the display `{**d, "a": x, "b": y}`
            display = gast.Dict(
                keys=[None] * len(e.args) + [S.const(k.arg) for k in e.keywords],
                values=list(e.args) + [k.value for k in e.keywords],
            )
            return self.simple(display, base)
        return None

    def dict_of(self, arg, base: str):
        """``dict(arg)``: a copy of a dict argument as a display of its known keys; of a name
        that may hold a dict, ``arg.copy()`` when it is one when the code runs; the loop
        ``{k: v for k, v in arg}`` over pairs otherwise."""
        if isinstance(self.example_value(arg), dict) or isinstance(arg, gast.Dict):
            return self.simple(gast.Dict(keys=[None], values=[arg]), base)
        k, v = self.names.fresh("k"), self.names.fresh("v")
        pair = gast.Tuple(elts=[S.name(k, store=True), S.name(v, store=True)], ctx=gast.Store())
        loop = gast.comprehension(target=pair, iter=arg, ifs=[], is_async=0)
        pairs = gast.DictComp(key=S.name(k), value=S.name(v), generators=[loop])
        if not self.may_be_dict(arg):
            return S.name(self.comprehension(pairs))
        copy = gast.Call(
            func=gast.Attribute(value=S.clone(arg), attr="copy", ctx=gast.Load()),
            args=[],
            keywords=[],
        )
        test = gast.Call(
            func=S.name("isinstance"), args=[S.clone(arg), S.name("dict")], keywords=[]
        )
        return self.simple(gast.IfExp(test=test, body=copy, orelse=pairs), base)

    def operation(self, e, base: str):
        """An operator, attribute, subscript or call over atoms; ``e`` kept whole (opaque)
        where it is none of these."""
        if isinstance(e, gast.UnaryOp):
            if isinstance(e.operand, gast.Constant) and isinstance(e.op, gast.USub):
                return S.const(-e.operand.value)
            return gast.UnaryOp(op=e.op, operand=self.atom(e.operand, base))
        if isinstance(e, gast.BinOp):
            left = self.atom(e.left, base)
            right = self.atom(e.right, base)
            return gast.BinOp(left=left, op=e.op, right=right)
        if isinstance(e, gast.Compare) and len(e.ops) == 1:
            left = self.atom(e.left, base)
            right = self.atom(e.comparators[0], base)
            return gast.Compare(left=left, ops=e.ops, comparators=[right])
        if isinstance(e, gast.Compare):  # a < b < c: (a < b) and (b < c), b evaluated once
            left = self.atom(e.left, base)
            middle = self.atom(e.comparators[0], base)
            first = gast.Compare(left=left, ops=e.ops[:1], comparators=[middle])
            rest = gast.Compare(left=S.clone(middle), ops=e.ops[1:], comparators=e.comparators[1:])
            return self.choice(gast.BoolOp(op=gast.And(), values=[first, rest]), base)
        if isinstance(e, gast.Attribute):
            path = self.path(e)
            if path is not None:
                return S.name(self.path_read(*path))
            if self.is_static(e):
                node = S.clone(e)
                set_fact(node, "static", True)
                return node
            return gast.Attribute(value=self.atom(e.value, base), attr=e.attr, ctx=gast.Load())
        if isinstance(e, gast.Subscript):
            path = self.path(e)
            if path is not None:
                return S.name(self.path_read(*path))
            value = self.atom(e.value, base)
            return gast.Subscript(value=value, slice=self.index(e.slice, base), ctx=gast.Load())
        if isinstance(e, gast.Call):
            defaulted = self.getattr_with_default(e)
            return self.call(e, base) if defaulted is None else self.choice(defaulted, base)
        if isinstance(e, (gast.IfExp, gast.BoolOp)):
            return self.choice(e, base)
        return self.opaque(e)

    def choice(self, e, base):
        """``a if c else b``, ``a and b``, ``a or b``: an ``if`` statement assigning a new
        name, so that only the operand Python would evaluate is evaluated (and differentiated)."""
        if (
            isinstance(e, gast.IfExp)
            and type(e.body) is type(e.orelse)
            and isinstance(e.body, (gast.Tuple, gast.List))
            and len(e.body.elts) == len(e.orelse.elts)
            and not any(isinstance(x, gast.Starred) for x in e.body.elts + e.orelse.elts)
        ):  # (a, b) if c else (d, e): one choice per item, so each item has its own tangent
            names = [self.fresh_choice(base) for _ in e.body.elts]
            branches = [
                [S.assign(n, v) for n, v in zip(names, side.elts)] for side in (e.body, e.orelse)
            ]
            self.lower_synthetic([gast.If(test=e.test, body=branches[0], orelse=branches[1])])
            return type(e.body)(elts=[S.name(self.env[n]) for n in names], ctx=gast.Load())
        t = self.fresh_choice(base)
        if isinstance(e, gast.IfExp):
            stmts = [
                gast.If(test=e.test, body=[S.assign(t, e.body)], orelse=[S.assign(t, e.orelse)])
            ]
        else:  # a and b and c: t = a; if t: t = b; if t: t = c (nested), `or` with `not t`
            stmts = [S.assign(t, e.values[0])]
            inner = stmts
            for value in e.values[1:]:
                test = S.name(t)
                if isinstance(e.op, gast.Or):
                    test = gast.UnaryOp(op=gast.Not(), operand=test)
                branch = gast.If(test=test, body=[S.assign(t, value)], orelse=[])
                inner.append(branch)
                inner = branch.body
        self.lower_synthetic(stmts)
        return S.name(self.env[t])

    def getattr_with_default(self, e):
        """``getattr(obj, name, default)`` as ``getattr(obj, name) if hasattr(obj, name) else
        default`` (each branch differentiated as it runs), where ``obj`` and ``name`` are
        names, attributes or constants (read twice, as they are pure); else None."""
        pure = (gast.Name, gast.Attribute, gast.Constant)
        if not (len(e.args) == 3 and not e.keywords and isinstance(e.func, gast.Name)):
            return None
        obj, name, default = e.args
        if not all(
            isinstance(n, pure)
            for part in (obj, name)
            for n in S.walk(part)
            if isinstance(n, gast.expr)
        ):
            return None
        if resolve(self.p, e.func, self.local_names) is not getattr:
            return None
        read = gast.Call(func=S.clone(e.func), args=[S.clone(obj), S.clone(name)], keywords=[])
        test = gast.Call(func=S.name("hasattr"), args=[S.clone(obj), S.clone(name)], keywords=[])
        return gast.IfExp(test=test, body=read, orelse=default)

    def fresh_choice(self, base) -> str:
        t = self.names.fresh(base + "_choice")
        self.unversioned.add(t)  # assigned in both branches: one name
        self.local_names.add(t)
        return t

    def lower_synthetic(self, stmts) -> None:
        """Lower statements made here (every one of them at the current user line)."""
        for stmt in stmts:
            for node in S.walk(stmt):
                if isinstance(node, gast.stmt):
                    node.lineno = self.lineno
            self.statement(stmt)

    def call(self, e, base):
        func = e.func
        if self.is_static(func):
            func = S.clone(func)
            set_fact(func, "static", True)
        elif isinstance(func, gast.Attribute):
            func = gast.Attribute(
                value=self.atom(func.value, base), attr=func.attr, ctx=gast.Load()
            )
        else:
            func = self.atom(func, base)
        args = []
        for a in e.args:
            if isinstance(a, gast.Starred):  # the items named after what is spliced
                part = a.value.id if isinstance(a.value, gast.Name) else base
                args += [
                    x if isinstance(x, gast.Starred) else self.atom(x, part)
                    for x in self.star_items(a.value, e)
                ]
            else:
                args.append(self.atom(a, base))
        keywords = []
        for kw in e.keywords:
            pairs = [(kw.arg, kw.value)] if kw.arg is not None else self.star_keywords(kw.value, e)
            for name, value in pairs:
                if any(k.arg == name for k in keywords):
                    self.refuse(f"keyword argument {name!r} given twice in this call", e)
                keywords.append(gast.keyword(arg=name, value=self.atom(value, base)))
        return gast.Call(func=func, args=args, keywords=keywords)

    def star_items(self, v, call) -> list:
        """The items ``*v`` passes: a display's own items, or ``v[0]``, ..., ``v[n-1]`` where
        ``v`` reads an argument whose length every call of this build shares, or is a list
        the function builds whose length is fixed when the derivative is built
        (:meth:`list_length`)."""
        if isinstance(v, (gast.Tuple, gast.List)) and not any(
            isinstance(x, gast.Starred) for x in v.elts
        ):
            return list(v.elts)
        known = self.example_value(v)
        shape = isinstance(v, gast.Attribute) and v.attr == "shape"
        if known is UNKNOWN and shape and not self.calls_user_function(call):
            # `np.random.rand(*h.shape)`: ints, which carry no derivative, spliced as written
            return [gast.Starred(value=self.atom(v, "shape"), ctx=gast.Load())]
        if isinstance(known, (tuple, list)):
            length = len(known)
        elif isinstance(v, gast.Name) and v.id in self.local_names:
            length = self.list_length(v.id, call)
            if isinstance(length, str):
                self.refuse(
                    f"`*{v.id}` in a call: sourcegrad splices `*` of a list the function builds "
                    f"only where its length is fixed when it builds the derivative, and here "
                    f"{length}; build `{v.id}` with a fixed number of items (a display, a "
                    "comprehension without `if` over `range(N)` or over an argument, `append` "
                    "in a `for` loop over those), or pass the arguments one by one",
                    call,
                )
        else:
            named = (
                "; or build the list first, `items = [...]`, then `*items`"
                if isinstance(v, (gast.ListComp, gast.GeneratorExp))
                else ""
            )
            self.refuse(
                f"`*{S.text(v)}` in a call: sourcegrad splices `*` only of a tuple or list whose "
                "length it knows when it builds the derivative (a display, an argument read "
                "through constant keys, a list built with a fixed number of items); pass the "
                f"arguments one by one{named}",
                call,
            )
        held = self.atom(v, "star")
        return [
            gast.Subscript(value=held, slice=S.const(i), ctx=gast.Load()) for i in range(length)
        ]

    def calls_user_function(self, call) -> bool:
        """Whether ``call`` calls a function of the user's (whose parameters the derivative
        binds one by one), as far as it resolves when the derivative is built."""
        return is_user_function(resolve(self.p, call.func, self.local_names))

    def star_keywords(self, v, call) -> list:
        """The ``(name, value)`` pairs ``**v`` passes, where ``v`` reads a dict argument whose
        keys every call of this build shares, or names a dict display of the function's with
        constant string keys (:attr:`dict_keys`): ``(k, v[k])`` for each key; for a display
        itself, its items."""
        if isinstance(v, gast.Dict) and all(
            isinstance(k, gast.Constant) and type(k.value) is str for k in v.keys
        ):  # `**{"act": np.tanh}`: the display's own items
            return [(k.value, value) for k, value in zip(v.keys, v.values)]
        known = self.example_value(v)
        if isinstance(v, gast.Name) and self.env.get(v.id) in self.dict_keys:
            known = dict.fromkeys(self.dict_keys[self.env[v.id]])
        if not (isinstance(known, dict) and all(type(k) is str for k in known)):
            self.refuse(
                f"`**{S.text(v)}` in a call: sourcegrad splices `**` only of a dict whose string "
                "keys it knows when it builds the derivative (an argument read through constant "
                "keys, a display with constant keys assigned once); pass the keywords one by one",
                call,
            )
        held = self.atom(v, "star")
        return [(k, gast.Subscript(value=held, slice=S.const(k), ctx=gast.Load())) for k in known]

    def index(self, s, base):
        if isinstance(s, gast.Slice):
            parts = [None if x is None else self.atom(x, base) for x in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x, base) for x in s.elts], ctx=gast.Load())
        return self.atom(s, base)

    def python_form(self, e):
        """``e`` in the form it is differentiated in: ``max(a, b, c)`` as ``max([a, b, c])``
        (Python picks the same item), a join of tuples whose items are known as the tuple of
        them (``args + (x,)``)."""
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id in ("max", "min")
            and e.func.id not in self.local_names
            and len(e.args) > 2
            and not e.keywords
            and not any(isinstance(a, gast.Starred) for a in e.args)
        ):  # max(a, b, c) picks as max([a, b, c]) does: differentiated in that form
            e = gast.Call(func=e.func, args=[gast.List(elts=e.args, ctx=gast.Load())], keywords=[])
        if self.is_tuple_concatenation(e):  # `args + (x,)`: the tuple of both sides' items
            e = gast.Tuple(elts=_tuple_items(e.left) + _tuple_items(e.right), ctx=gast.Load())
        return e

    def is_tuple_concatenation(self, e) -> bool:
        """``a + b`` of two tuples whose items are known: tuple displays, or values that
        are tuples in the arguments the derivative is built for (``args + (x,)``)."""
        return (
            isinstance(e, gast.BinOp)
            and isinstance(e.op, gast.Add)
            and all(
                isinstance(side, gast.Tuple) or type(self.example_value(side)) is tuple
                for side in (e.left, e.right)
            )
        )

    def opaque(self, e):
        mapping = {k: S.name(v) for k, v in self.env.items() if k != v}
        node = S.rename(S.clone(e), mapping)
        set_fact(node, "opaque", True)
        return node


def _tuple_items(side) -> list:
    """The items of a tuple display, or the starred tuple (spliced by its known items)."""
    return (
        side.elts if isinstance(side, gast.Tuple) else [gast.Starred(value=side, ctx=gast.Load())]
    )


def _display_key(key):
    """The value of a dict display's key: a constant, or the node itself (compared by
    identity) for a computed key."""
    return key.value if isinstance(key, gast.Constant) else key


def _singular(plural: str) -> str:
    """``x`` for ``xs``, ``loss`` for ``losses`` and for ``loss`` itself."""
    if plural.endswith("sses"):
        return plural[:-2]
    return plural if plural.endswith("ss") else plural[:-1]


def held_name(e) -> str | None:
    """The name a value read by a string key or an attribute is known by (``"g"`` for
    ``p["g"]``, ``"W"`` for ``self.W``; ``"x_t"`` for a row ``xs[t]``), where that is an identifier that names no property
    of an array (``x.T``, ``x.shape`` keep their target's name) nor a builtin; else None."""
    if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant):
        key = e.slice.value
    elif (
        isinstance(e, gast.Subscript)
        and isinstance(e.slice, gast.Name)
        and isinstance(e.value, gast.Name)
        and len(e.value.id) > 1
        and e.value.id.endswith("s")
    ):
        key = f"{_singular(e.value.id)}_{e.slice.id}"  # xs[t]: x_t; losses[g]: loss_g
    elif isinstance(e, gast.Attribute) and isinstance(e.value, gast.Name):
        key = e.attr
        if hasattr(np.ndarray, key):
            return None
    else:
        return None
    if not (isinstance(key, str) and key.isidentifier()) or key.startswith("_"):
        return None
    return None if hasattr(builtins, key) else key  # (generated code calls range, len)
