"""Pass 2 — normalize: lower the user's function to the core language.

Guarantees to the next pass (``Core``):

* every statement is one of ``name = <simple>``, ``<simple>`` (an expression statement, kept for
  its side effects), ``assert ...`` or, last, ``return <atom or tuple of atoms>``;
* a *simple* expression applies one operation to *atoms* (names, constants, static references
  such as ``np.pi``, and tuples/lists of atoms); expressions sourcegrad does not look inside
  (``a and b``, comprehensions, ...) are kept whole and marked opaque;
* every name is assigned once (a reassigned user variable gets a versioned name ``x_1``), so
  each value the adjoint needs is still there when the adjoint runs;
* a read of an argument through constant keys (``params["W"][0]``) is one *path read*
  statement, shared by every place that reads the same path;
* every statement carries the user's line number (``lineno``), the index of the user statement
  it came from (``sg_group``) and whether its target is a temporary (``sg_temp``).

What the core cannot express is refused here with the user's file and line.
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .forms import Core
from .jumps import lower_jumps
from .lists import lower_list_operations
from .parse import UNRESOLVED, Parsed, resolve

#: names generated code may reference besides the user's own (kept free of collisions)
RUNTIME_NAMES = frozenset(
    {"np", "sum_to", "unreduce", "expand_to", "unindex", "gradient_like", "seed_like", "nondiff"}
)

_REFUSED_STATEMENTS = {
    gast.Break: "`break` outside a loop",
    gast.Continue: "`continue` outside a loop",
    gast.Try: "`try` is not supported in a differentiated function; move error handling to "
    "the caller",
    gast.With: "`with` is not supported in a differentiated function; move the context "
    "manager to the caller",
    gast.Global: "`global` is not supported; pass the value as an argument instead",
    gast.Nonlocal: "`nonlocal` is not supported; pass the value as an argument instead",
    gast.Delete: "`del` is not supported in a differentiated function; drop the statement",
    gast.AsyncFunctionDef: "async functions cannot be differentiated",
    gast.ClassDef: "class definitions are not supported inside a differentiated function",
    gast.Import: "imports inside a differentiated function are not supported; import at "
    "module level",
    gast.ImportFrom: "imports inside a differentiated function are not supported; import at "
    "module level",
    gast.Raise: "`raise` is not supported yet in a differentiated function; check inputs in "
    "the caller",
}


def normalize(parsed: Parsed, examples=None) -> Core:
    """Lower ``parsed`` to core form (see the module docstring for the guarantees).
    ``examples``, the arguments the derivative is built for, tell which arguments are dicts
    (a loop over a dict iterates its keys)."""
    return _Normalizer(parsed, examples).run()


class _Normalizer:
    def __init__(self, parsed: Parsed, examples=None):
        self.p = parsed
        self.examples = examples
        fn = parsed.node
        args = fn.args
        where = (parsed.filename, fn.lineno)
        if args.vararg is not None or args.kwarg is not None:
            raise UnsupportedSyntaxError(
                f"{fn.name}() takes *args or **kwargs; give every argument a name so that "
                "`wrt` can select it",
                *where,
            )
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.fn = fn = S.clone(fn)  # the parsed tree is shared by every build: rewrite a copy
        for node in S.walk(fn):
            if isinstance(node, (gast.Break, gast.Continue)) and not _inside_loop(fn, node):
                self.refuse(f"`{type(node).__name__.lower()}` outside a loop", node)
        lower_jumps(fn, S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure)))
        self.list_names = lower_list_operations(
            fn, S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure)), examples
        )
        stored = {
            n.id for n in S.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
        }
        nested = {n.name for n in S.walk(fn) if isinstance(n, gast.FunctionDef) and n is not fn}
        self.local_names = set(self.params) | stored | nested
        # an argument assigned anywhere is read as a value, never by path: in a loop, its
        # path read would be made once before the loop, from the value it had on entry
        self.reassigned_params = set(self.params) & stored
        self.names = S.NameGen(S.names_in(fn) | RUNTIME_NAMES | set(parsed.closure))
        self.env = {p: p for p in self.params}
        self.unversioned = _assigned_in_compound(fn.body) | S.captured_names(fn)
        self.aliases = _aliases_of_written(fn)
        self.loop_spans = [
            (
                n.lineno,
                max(
                    (getattr(m, "end_lineno", None) or getattr(m, "lineno", 0) or 0)
                    for m in S.walk(n)
                ),
            )
            for n in S.walk(fn)
            if isinstance(n, (gast.For, gast.While))
        ]
        self.element_sites = {
            (other, line) for facts in self.aliases.values() for other, line, e in facts if e
        }
        self.element_names: dict = {}  # (user name, line) -> its name in the core
        self.alias_checks: list = []  # ((user name, line), message, line of the write)
        self.depth = 0  # nesting of if/for/while around the statement being lowered
        self.paths = {}  # (param, keys) -> name
        self.path_of = {}  # name -> (param, keys)
        self.path_syntax = {}  # (param, keys) -> ("item" | "attr", ...)
        self.out: list = []
        self.top_out = self.out
        self.group = 0
        self.lineno = fn.lineno
        self.returns_tuple = False
        self.user_vars: set = set()
        self.conditions: set = set()

    # ---------------------------------------------------------------- errors
    def refuse(self, message: str, node=None):
        lineno = getattr(node, "lineno", None) or self.lineno
        raise UnsupportedSyntaxError(message, self.p.filename, lineno)

    # ---------------------------------------------------------------- driver
    def run(self) -> Core:
        fn = self.fn
        body = list(fn.body)
        for i, stmt in enumerate(body):
            self.group = i
            self.lineno = stmt.lineno
            if isinstance(stmt, gast.Return) and i != len(body) - 1:
                self.refuse("early `return` is not supported yet; return once, at the end", stmt)
            self.statement(stmt)
        if not body or not isinstance(body[-1], gast.Return):
            self.refuse(f"{fn.name}() must end with `return <value>` to be differentiated", fn)
        node = gast.FunctionDef(
            name=fn.name,
            args=fn.args,
            body=self.out,
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        node.lineno = fn.lineno
        user = {v for k, v in self.env.items()} | set(self.params)
        return Core(
            self.p,
            node,
            self.params,
            self.names,
            user_names=user | self.user_vars,
            paths=dict(self.path_of),
            returns_tuple=self.returns_tuple,
            alias_checks=[
                (self.element_names.get(site), message, line)
                for site, message, line in self.alias_checks
            ],
            conditions=set(self.conditions),
        )

    def emit(self, stmt, temp: bool, path=None):
        stmt.lineno = self.lineno
        stmt.sg_group = self.group
        stmt.sg_temp = temp
        stmt.sg_path = path
        self.out.append(stmt)

    # ------------------------------------------------------------ statements
    def statement(self, stmt):
        kind = type(stmt)
        if kind in _REFUSED_STATEMENTS:
            self.refuse(_REFUSED_STATEMENTS[kind], stmt)
        if isinstance(stmt, gast.Expr) and isinstance(stmt.value, (gast.Yield, gast.YieldFrom)):
            self.refuse(
                "generators (`yield`) cannot be differentiated; return an array (np.stack the "
                "values) instead",
                stmt,
            )
        if isinstance(stmt, gast.Assign):
            popped = _popped_list(stmt.value)
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
            if len(stmt.targets) == 1:
                self.bind_target(stmt.targets[0], stmt.value)
            else:
                value = self.atom(stmt.value, "t")
                for target in stmt.targets:
                    self.bind_target(target, value)
        elif isinstance(stmt, gast.AugAssign):
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
                self.set_item(target, gast.BinOp(left=read, op=stmt.op, right=stmt.value))
                return
            if not isinstance(stmt.target, gast.Name):
                self.refuse(
                    f"cannot update `{_text(stmt.target)}` in a differentiated function", stmt
                )
            current = S.name(stmt.target.id)
            self.bind_target(stmt.target, gast.BinOp(left=current, op=stmt.op, right=stmt.value))
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.bind_target(stmt.target, stmt.value)
        elif isinstance(stmt, gast.Expr):
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
            self.env[stmt.name] = stmt.name
            self.emit(S.clone(stmt), temp=False)
        elif isinstance(stmt, gast.If):
            self.if_(stmt)
        elif isinstance(stmt, gast.For):
            self.for_(stmt)
        elif isinstance(stmt, gast.While):
            self.while_(stmt)
        elif isinstance(stmt, gast.Assert):
            self.emit(self.opaque(stmt), temp=True)
        else:
            self.refuse(f"`{kind.__name__}` statements are not supported here", stmt)

    # --------------------------------------------------------- control flow
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
        body = self.block(stmt.body)
        orelse = self.block(stmt.orelse)
        node = gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)
        self.emit(node, temp=False)

    def for_(self, stmt):
        if stmt.orelse:
            self.refuse("`for ... else` is not supported; use a flag", stmt)
        assigned = _assigned_in(stmt.body) | _names(stmt.target)
        it = _reversed_range(self, stmt.iter) or stmt.iter
        if _is_range(self, it):
            args = []
            for a in it.args:
                atom = self.atom(a, "n")
                if isinstance(atom, gast.Name) and atom.id in assigned:
                    t = self.names.fresh(atom.id + "_start")
                    self.emit(S.assign(t, atom), temp=True)
                    atom = S.name(t)
                args.append(atom)
            if not isinstance(stmt.target, gast.Name):
                self.refuse("iterate over range() with a single loop variable", stmt)
            target = stmt.target.id
            header = S.call(S.name("range"), args)
            if _bound_otherwise(self.fn, target):
                # the name also holds other values (a dict's keys in an earlier loop, ...): the
                # counter gets a name of its own and is copied in, so that the copy, like any
                # assignment, is saved where the adjoint needs the value it overwrites
                counter = self.names.fresh(target + "_i")
                self.names.reserve(counter)
                copy = gast.Assign(
                    targets=[S.name(target, store=True)], value=S.name(counter), type_comment=None
                )
                copy.lineno = stmt.lineno
                body = self.block([copy, *stmt.body])
                target = counter
            else:
                self.env[target] = target
                body = self.block(stmt.body)
        else:
            # `for x in xs`, `zip`, `enumerate`: iterate over positions, read elements
            length, getters = self.iteration(it, stmt.target)
            target = self.names.fresh("k")
            header = S.call(S.name("range"), [length])
            body_stmts = [
                gast.Assign(targets=[tgt], value=get(S.name(target)), type_comment=None)
                for tgt, get in getters
            ]
            for b in body_stmts:
                b.lineno = stmt.lineno
            body = self.block(body_stmts + list(stmt.body))
        loop = gast.For(
            target=S.name(target, store=True),
            iter=header,
            body=body or [gast.Pass()],
            orelse=[],
            type_comment=None,
        )
        self.emit(loop, temp=False)

    def iteration(self, it, target):
        """``(length atom, [(target, index -> element expression)])`` for a loop over ``it``."""
        if (
            isinstance(it, gast.Call)
            and isinstance(it.func, gast.Name)
            and it.func.id in ("zip", "enumerate")
            and not it.keywords
        ):
            if it.func.id == "enumerate":
                if len(it.args) != 1 or not (
                    isinstance(target, gast.Tuple) and len(target.elts) == 2
                ):
                    self.refuse("use `for i, x in enumerate(xs)`", it)
                length, getters = self.iteration(it.args[0], target.elts[1])
                return length, [(target.elts[0], lambda k: k)] + getters
            if not (isinstance(target, gast.Tuple) and len(target.elts) == len(it.args)):
                self.refuse("unpack zip() into as many names as it has arguments", it)
            parts = [self.iteration(a, t) for a, t in zip(it.args, target.elts)]
            lengths = [p[0] for p in parts]
            length = lengths[0]
            if len(lengths) > 1:
                t = self.names.fresh("n")
                self.emit(S.assign(t, S.call(S.name("min"), lengths)), temp=True)
                length = S.name(t)
            return length, [g for p in parts for g in p[1]]
        if self.is_dict(it):  # a dict iterates over its keys, which have no derivative
            it = gast.Call(
                func=gast.Attribute(value=it, attr="keys", ctx=gast.Load()), args=[], keywords=[]
            )
        if _dict_view(it):
            # a dict's keys, values or items as a list, so that positions index it
            it = gast.Call(func=S.name("list"), args=[it], keywords=[])
        elif self.may_be_dict(it):
            # a name of the function's own whose kind shows only when it runs: a dict
            # iterates over its keys (`for k in p` with p a layer's dict of parameters)
            keys = gast.Attribute(value=S.clone(it), attr="keys", ctx=gast.Load())
            listed = gast.Call(
                func=S.name("list"), args=[gast.Call(func=keys, args=[], keywords=[])], keywords=[]
            )
            test = gast.Call(
                func=S.name("isinstance"), args=[S.clone(it), S.name("dict")], keywords=[]
            )
            it = gast.IfExp(test=test, body=listed, orelse=it)
        seq = self.atom(it, "seq")
        if isinstance(seq, gast.Name) and seq.id in self.unversioned:
            t = self.names.fresh(seq.id + "_seq")
            self.emit(S.assign(t, seq), temp=True)
            seq = S.name(t)
        n = self.names.fresh("n")
        self.emit(S.assign(n, S.call(S.name("len"), [seq])), temp=True)
        return S.name(n), [
            (
                target,
                lambda k, seq=seq: gast.Subscript(value=S.clone(seq), slice=k, ctx=gast.Load()),
            )
        ]

    def while_(self, stmt):
        if stmt.orelse:
            self.refuse("`while ... else` is not supported; use a flag", stmt)
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

    def comprehension(self, e) -> str:
        """``[elt for x in xs if c]`` (or a generator expression, which every caller here
        consumes at once) as the loop that builds the list: ``items = []``, then
        ``for x in xs: if c: items.append(elt)``; a dict comprehension likewise with
        ``items = {}`` and ``items[k] = v``. Its variables get names of their own, as they do
        not leak from a comprehension in Python. Returns the name of what it builds."""
        gens = [S.clone(g) for g in e.generators]
        is_dict = isinstance(e, gast.DictComp)
        elt = (
            gast.Tuple(elts=[S.clone(e.key), S.clone(e.value)], ctx=gast.Load())
            if is_dict
            else S.clone(e.elt)
        )
        mapping = {}
        for g in gens:
            for n in S.walk(g.target):
                if isinstance(n, gast.Name):
                    mapping.setdefault(n.id, self.names.fresh(n.id))
                    n.id = mapping[n.id]
        renamed = {old: S.name(new) for old, new in mapping.items()}
        elt = S.rename(elt, renamed)
        for i, g in enumerate(gens):
            g.ifs = [S.rename(c, renamed) for c in g.ifs]
            if i:  # the first iterable is evaluated where the comprehension stands
                g.iter = S.rename(g.iter, renamed)
        items = self.names.fresh("items")
        self.names.reserve(items)
        made = {items, *mapping.values()}
        self.unversioned |= made
        self.local_names |= made
        if is_dict:  # {k: v for ...}: items[k] = v
            key, value = elt.elts
            target = gast.Subscript(value=S.name(items), slice=key, ctx=gast.Store())
            stmt = gast.Assign(targets=[target], value=value, type_comment=None)
        else:
            append = gast.Attribute(value=S.name(items), attr="append", ctx=gast.Load())
            stmt = gast.Expr(value=gast.Call(func=append, args=[elt], keywords=[]))
        for g in reversed(gens):
            for c in reversed(g.ifs):
                stmt = gast.If(test=c, body=[stmt], orelse=[])
            stmt = gast.For(target=g.target, iter=g.iter, body=[stmt], orelse=[], type_comment=None)
        for n in S.walk(stmt):
            if hasattr(n, "lineno") or isinstance(n, gast.stmt):
                n.lineno = self.lineno
        empty = gast.Dict(keys=[], values=[]) if is_dict else gast.List(elts=[], ctx=gast.Load())
        self.bind(items, empty)
        self.statement(stmt)
        return items

    def bind_target(self, target, value):
        if isinstance(target, gast.Name):
            self.bind(target.id, value)
        elif isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self.refuse("starred assignment targets are not supported; index explicitly")
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts):
                atoms = [self.atom(e, _base(t)) for e, t in zip(value.elts, target.elts)]
                # `a, b = b, a` reads every value before it binds a name: a value that is
                # itself a name being bound is held in a temporary first
                bound = _names(target) | {self.env.get(n) for n in _names(target)}
                for i, a in enumerate(atoms):
                    if isinstance(a, gast.Name) and a.id in bound:
                        t = self.names.fresh(a.id, always_suffix=True)
                        self.emit(S.assign(t, a), temp=True)
                        atoms[i] = S.name(t)
                for sub, a in zip(target.elts, atoms):
                    self.bind_target(sub, a)
                return
            if isinstance(value, gast.Call) and all(isinstance(e, gast.Name) for e in target.elts):
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
            whole = self.atom(value, "t")
            for i, sub in enumerate(target.elts):
                item = gast.Subscript(value=whole, slice=S.const(i), ctx=gast.Load())
                self.bind_target(sub, item)
        elif isinstance(target, gast.Subscript):
            self.set_item(target, value)
        else:
            self.refuse(f"cannot assign to `{_text(target)}` in a differentiated function", target)

    def set_item(self, target, value):
        """``x[k] = v``: a new value of ``x`` (a copy, so that the caller's array and any value
        the adjoint still needs stay intact) with ``v`` written at ``k``."""
        if not isinstance(target.value, gast.Name):
            self.refuse(
                f"assign into a named array (`x[k] = v`), not into `{_text(target.value)}`", target
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
        generated = self.p.filename.startswith("<sourcegrad")
        for other, line, element in () if generated else self.aliases.get(user_name, ()):
            if line > self.last_line_run_again(getattr(target, "lineno", self.lineno)):
                continue  # made after this write, outside any loop around it: sees the new value
            message = (
                f"`{user_name}[...] = ...` while `{other}` may share {user_name}'s memory (they "
                f"are linked at line {line}): sourcegrad writes into a copy of {user_name}, so "
                f"`{other}` would not see the change; make the value made at line {line} an "
                f"explicit copy (add `.copy()` there), or write through one name only"
            )
            if not element:
                self.refuse(message, target)
            # allowed if `other` turns out to be a number (ranks decide, in analysis)
            self.alias_checks.append(
                ((other, line), message, getattr(target, "lineno", self.lineno))
            )
        v = self.atom(value, user_name)
        index = self.index(target.slice, user_name)
        current = S.name(self.env.get(user_name, user_name))
        copy = S.call(gast.Attribute(value=current, attr="copy", ctx=gast.Load()))
        if user_name in self.unversioned:
            new = user_name
        else:
            new = self.names.fresh(user_name) if user_name in self.env else user_name
        self.names.reserve(new)
        self.env[user_name] = new
        self.user_vars.add(new)
        self.emit(S.assign(new, copy), temp=False)
        store = gast.Subscript(value=S.name(new), slice=index, ctx=gast.Store())
        self.emit(gast.Assign(targets=[store], value=v, type_comment=None), temp=False)

    def bind(self, user_name: str, value):
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
        if (user_name, self.lineno) in self.element_sites:
            self.element_names[(user_name, self.lineno)] = new
        self.emit(S.assign(new, simple), temp=False)

    # ----------------------------------------------------------- expressions
    def atom(self, e, base: str):
        """Lower ``e`` to an atom, emitting temporaries for its parts."""
        simple = self.simple(e, base)
        if S.is_atom(simple):
            return simple
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
            and len(e.args) == 1
            and not e.keywords
        ):  # `dict(pairs)` is `{k: v for k, v in pairs}`
            k, v = self.names.fresh("k"), self.names.fresh("v")
            pair = gast.Tuple(elts=[S.name(k, store=True), S.name(v, store=True)], ctx=gast.Store())
            loop = gast.comprehension(target=pair, iter=e.args[0], ifs=[], is_async=0)
            made = gast.DictComp(key=S.name(k), value=S.name(v), generators=[loop])
            return S.name(self.comprehension(made))
        if (
            isinstance(e, gast.Call)
            and isinstance(e.func, gast.Name)
            and e.func.id == "dict"
            and "dict" not in self.local_names
            and not e.args
            and all(k.arg is not None for k in e.keywords)
        ):  # `dict(a=x, b=y)` is the display `{"a": x, "b": y}`
            display = gast.Dict(
                keys=[S.const(k.arg) for k in e.keywords], values=[k.value for k in e.keywords]
            )
            return self.simple(display, base)
        if isinstance(e, gast.NamedExpr):  # `(s := e)`: bind s, then read it
            self.bind_target(e.target, e.value)
            return self.simple(S.name(e.target.id), base)
        if isinstance(e, gast.Name):
            return S.name(self.env.get(e.id, e.id))
        if isinstance(e, gast.Constant):
            return S.const(e.value)
        if isinstance(e, (gast.Tuple, gast.List)):
            elts = [
                (
                    gast.Starred(value=self.atom(x.value, base), ctx=gast.Load())
                    if isinstance(x, gast.Starred)
                    else self.atom(x, base)
                )
                for x in e.elts
            ]
            return type(e)(elts=elts, ctx=gast.Load())
        if isinstance(e, gast.Dict) and all(
            k is not None and S.is_atom(k) and not _names(k) for k in e.keys
        ):  # a dict with constant keys (the parts of a gradient in derivative code)
            return gast.Dict(
                keys=[S.clone(k) for k in e.keys], values=[self.atom(v, base) for v in e.values]
            )
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
        if isinstance(e, gast.Attribute):
            path = self.path(e)
            if path is not None:
                return S.name(self.path_read(*path))
            if self.is_static(e):
                node = S.clone(e)
                node.sg_static = True
                return node
            return gast.Attribute(value=self.atom(e.value, base), attr=e.attr, ctx=gast.Load())
        if isinstance(e, gast.Subscript):
            path = self.path(e)
            if path is not None:
                return S.name(self.path_read(*path))
            value = self.atom(e.value, base)
            return gast.Subscript(value=value, slice=self.index(e.slice, base), ctx=gast.Load())
        if isinstance(e, gast.Call):
            return self.call(e, base)
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
            func.sg_static = True
        elif isinstance(func, gast.Attribute):
            func = gast.Attribute(
                value=self.atom(func.value, base), attr=func.attr, ctx=gast.Load()
            )
        else:
            func = self.atom(func, base)
        args = []
        for a in e.args:
            if isinstance(a, gast.Starred):
                self.refuse(
                    f"`*{_text(a.value)}` in a call is not supported; pass arguments one by one", e
                )
            args.append(self.atom(a, base))
        keywords = []
        for kw in e.keywords:
            if kw.arg is None:
                self.refuse("`**kwargs` in a call is not supported; pass keywords one by one", e)
            keywords.append(gast.keyword(arg=kw.arg, value=self.atom(kw.value, base)))
        return gast.Call(func=func, args=args, keywords=keywords)

    def index(self, s, base):
        if isinstance(s, gast.Slice):
            parts = [None if x is None else self.atom(x, base) for x in (s.lower, s.upper, s.step)]
            return gast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(s, gast.Tuple):
            return gast.Tuple(elts=[self.index(x, base) for x in s.elts], ctx=gast.Load())
        return self.atom(s, base)

    def opaque(self, e):
        mapping = {k: S.name(v) for k, v in self.env.items() if k != v}
        node = S.rename(S.clone(e), mapping)
        node.sg_opaque = True
        return node

    # ----------------------------------------------------------- path reads
    def path(self, e):
        """``(param, keys)`` when ``e`` reads an unmodified argument through constant keys
        (``p["W"][0]``) or field names (``p.enc.w`` of a namedtuple)."""
        keys = []
        syntax = []
        node = e
        while isinstance(node, (gast.Subscript, gast.Attribute)):
            if isinstance(node, gast.Attribute):
                if node.attr in _ARRAY_ATTRIBUTES:
                    return None
                keys.append(node.attr)
                syntax.append("attr")
            else:
                s = node.slice
                if not (isinstance(s, gast.Constant) and type(s.value) in (int, str)):
                    return None
                keys.append(s.value)
                syntax.append("item")
            node = node.value
        if not keys:
            return None
        keys, syntax = tuple(reversed(keys)), tuple(reversed(syntax))
        if isinstance(node, gast.Name) and node.id in self.path_of_user():
            root, prefix = self.path_of[self.env[node.id]]
            return root, prefix + keys, self.path_syntax[(root, prefix)] + syntax
        if isinstance(node, gast.Name) and node.id not in self.env and node.id in self.path_of:
            # a temporary holding a path read: `W0, W1 = p["W"]` reads p["W"][0], p["W"][1]
            root, prefix = self.path_of[node.id]
            return root, prefix + keys, self.path_syntax[(root, prefix)] + syntax
        if not (isinstance(node, gast.Name) and node.id in self.params):
            return None
        if node.id in self.reassigned_params or self.env.get(node.id) != node.id:
            return None  # the argument was reassigned
        return node.id, keys, syntax

    def may_be_dict(self, e) -> bool:
        """Whether ``e`` is a name the function binds whose value may be a dict: not an
        argument (its example decides), not a list the function builds."""
        if not isinstance(e, gast.Name) or e.id not in self.local_names:
            return False
        if e.id in self.params and e.id not in self.reassigned_params:
            return self.examples is None
        if e.id in self.list_names or e.id in self.path_of_user():
            return False
        return _may_hold_dict(self.fn, e.id)

    def last_line_run_again(self, line: int) -> int:
        """The last line of the outermost loop around ``line`` (``line`` itself outside
        loops): nothing after it runs before the statement at ``line`` does."""
        ends = [end for start, end in self.loop_spans if start <= line <= end]
        return max(ends, default=line)

    def is_dict(self, e) -> bool:
        """Whether ``e`` reads (through constant keys) an argument that is a dict in the
        arguments the derivative is built for."""
        if isinstance(e, gast.Name) and e.id in self.params:
            if e.id in self.reassigned_params:
                return False
            root, keys = e.id, ()
        else:
            found = self.path(e)
            if found is None:
                return False
            root, keys, _ = found
        examples = self.examples
        i = self.params.index(root)
        if examples is None or i >= len(examples):
            return False
        return isinstance(follow_keys(examples[i], keys, None), dict)

    def path_of_user(self):
        return {k for k, v in self.env.items() if v in self.path_of}

    def path_read(self, root: str, keys: tuple, syntax: tuple, ident: str | None = None) -> str:
        if (root, keys) in self.paths:
            return self.paths[(root, keys)]
        self.path_syntax[(root, keys)] = syntax
        if ident is None:
            ident = self.names.fresh(_path_name(root, keys))
        self.names.reserve(ident)
        self.user_vars.add(ident)
        self.paths[(root, keys)] = ident
        self.path_of[ident] = (root, keys)
        if self.depth:
            # inside if/for/while: read the argument once, before the outermost statement,
            # so that the gradient collects every iteration's contribution in one place
            saved, self.out = self.out, self.top_out
            try:
                return self._emit_path(ident, root, keys, syntax)
            finally:
                self.out = saved
        return self._emit_path(ident, root, keys, syntax)

    def _emit_path(self, ident, root, keys, syntax):
        value = S.name(root)
        for k, how in zip(keys, syntax):
            if how == "attr":
                value = gast.Attribute(value=value, attr=k, ctx=gast.Load())
            else:
                value = gast.Subscript(value=value, slice=S.const(k), ctx=gast.Load())
        self.emit(S.assign(ident, value), temp=False, path=(root, keys))
        return ident

    def is_static(self, e) -> bool:
        """True for a reference fixed at transform time: a module, or a module's attribute."""
        if S.dotted(e) is None:
            return False
        if isinstance(e, gast.Name):
            return False
        return resolve(self.p, e, self.local_names) is not UNRESOLVED


_ARRAY_ATTRIBUTES = frozenset({"T", "shape", "ndim", "size", "dtype", "real", "imag", "flat", "mT"})


_VIEW_METHODS = frozenset(
    {"reshape", "ravel", "transpose", "squeeze", "swapaxes", "view", "T", "flat", "real", "imag"}
)


#: NumPy functions whose result may share memory with their first argument
_VIEW_FUNCTIONS = frozenset(
    {
        "flip", "fliplr", "flipud", "asarray", "asanyarray", "ascontiguousarray",
        "asfortranarray", "require", "moveaxis", "rollaxis", "swapaxes", "transpose",
        "permute_dims", "matrix_transpose", "reshape", "ravel", "squeeze", "expand_dims",
        "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to", "broadcast_arrays",
        "diagonal", "real", "imag", "split", "array_split", "hsplit", "vsplit", "dsplit",
        "unstack", "sliding_window_view", "as_strided",
    }
)  # fmt: skip


def _view_function(func) -> bool:
    """``np.flip`` and the like (by the name called; a user's own ``flip`` counts too, which
    can only make a refusal, never a wrong value)."""
    name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", None)
    return name in _VIEW_FUNCTIONS


def _aliases_of_written(fn) -> dict:
    """For each name written into (``x[k] = v``), the names that may share its memory
    (``y = x``, ``y = x[1:]``, ``y = x.T``, ``for y in x``, ``ys.append(x)``): ``(name, line,
    element)``, ``element`` when it is a plain index or iteration, which shares memory only if
    it leaves more than a number."""
    written = {
        n.value.id
        for n in S.walk(fn)
        if isinstance(n, gast.Subscript)
        and isinstance(n.ctx, gast.Store)
        and isinstance(n.value, gast.Name)
    }
    out: dict = {}

    def source_name(value):
        node = value
        while True:
            if isinstance(node, gast.Subscript):
                node = node.value
            elif isinstance(node, gast.Attribute) and node.attr in _VIEW_METHODS:
                node = node.value
            elif (
                isinstance(node, gast.Call)
                and isinstance(node.func, gast.Attribute)
                and node.func.attr in _VIEW_METHODS
            ):
                node = node.func.value
            elif isinstance(node, gast.Call) and _view_function(node.func) and node.args:
                node = node.args[0]  # np.flip(y), np.asarray(y), np.split(y, 2), ...
            else:
                break
        return node.id if isinstance(node, gast.Name) else None

    def add(name, other, line, element=False):
        out.setdefault(name, []).append((other, line, element))

    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            src = source_name(node.value)
            if src is not None and isinstance(target, (gast.Tuple, gast.List)):
                for n in S.walk(target):  # `a, b = np.split(y, 2)`: each part a view of y
                    if isinstance(n, gast.Name) and n.id != src:
                        if src in written:
                            add(src, n.id, node.lineno)
                        if n.id in written:
                            add(n.id, src, node.lineno)
            if src in written and isinstance(target, gast.Name) and target.id != src:
                # `a = y[0]` is a view only when y has more than one axis: decided with ranks
                element = isinstance(node.value, gast.Subscript) and isinstance(
                    node.value.value, gast.Name
                )
                add(src, target.id, node.lineno, element)
            if (
                isinstance(target, gast.Name)
                and target.id in written
                and src is not None
                and src != target.id
            ):
                # `z = y` (or a view of y), then `z[k] = v`: Python would change y too
                add(target.id, src, node.lineno)
        elif isinstance(node, gast.For):
            src = source_name(node.iter)
            if src in written:
                # a write inside the loop would change the elements still to come: never allowed
                inside = any(
                    isinstance(n, gast.Subscript)
                    and isinstance(n.ctx, gast.Store)
                    and isinstance(n.value, gast.Name)
                    and n.value.id == src
                    for n in S.walk(node)
                )
                element = (
                    isinstance(node.iter, gast.Name)
                    and isinstance(node.target, gast.Name)
                    and not inside
                )
                add(src, _text(node.target), node.lineno, element)
        elif (
            isinstance(node, gast.Call)
            and isinstance(node.func, gast.Attribute)
            and node.func.attr == "append"
            and node.args
            and isinstance(node.args[0], gast.Name)
            and node.args[0].id in written
        ):
            add(node.args[0].id, _text(node.func.value), node.lineno)
    return out


def _inside_loop(fn, target) -> bool:
    def visit(stmts, looping):
        for s in stmts:
            if s is target:
                return looping
            inner = looping or isinstance(s, (gast.For, gast.While))
            for attr in ("body", "orelse"):
                found = visit(getattr(s, attr, []) or [], inner)
                if found is not None:
                    return found
        return None

    return bool(visit(fn.body, False))


def follow_keys(value, keys, missing):
    """``value`` read through ``keys``: a dict's or list's items, an object's attributes (a
    string key of anything but a dict); ``missing`` where one is not there."""
    for k in keys:
        try:
            value = (
                getattr(value, k)
                if isinstance(k, str) and not isinstance(value, dict)
                else value[k]
            )
        except (KeyError, IndexError, AttributeError, TypeError):
            return missing
    return value


def _may_hold_dict(fn, name: str) -> bool:
    """Whether some binding of ``name`` in ``fn`` may make a dict: anything but arithmetic,
    comparisons, constants, list and tuple displays, NumPy calls and array methods (a loop
    variable, an unpacked item, an item read from a container, a call of the user's)."""
    for node in S.walk(fn):
        if isinstance(node, gast.Assign) and any(
            isinstance(t, gast.Name) and t.id == name for t in node.targets
        ):
            if not _makes_no_dict(node.value):
                return True
        elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and node.id == name:
            parent_assign = any(
                isinstance(a, gast.Assign) and node in a.targets for a in S.walk(fn)
            )
            if not parent_assign:
                return True  # a loop variable, an unpacked item, a walrus, ...
    return False


def _makes_no_dict(value) -> bool:
    if isinstance(
        value,
        (
            gast.BinOp,
            gast.UnaryOp,
            gast.Compare,
            gast.Constant,
            gast.List,
            gast.Tuple,
            gast.ListComp,
        ),
    ):
        return True
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute):
        owner = value.func.value
        if isinstance(owner, gast.Name) and owner.id in ("np", "numpy", "cp", "cupy"):
            return True
        return hasattr(np.ndarray, value.func.attr) and value.func.attr not in ("copy",)
    return False


def _bound_otherwise(fn, name: str) -> bool:
    """Whether ``name`` is bound in ``fn`` by anything but ``for name in range(...)`` (or
    ``reversed(range(...))``)."""
    counters = {id(n.target) for n in S.walk(fn) if isinstance(n, gast.For) and _counts(n.iter)}
    return any(
        isinstance(n, gast.Name)
        and isinstance(n.ctx, gast.Store)
        and n.id == name
        and id(n) not in counters
        for n in S.walk(fn)
    )


def _counts(it) -> bool:
    """``range(...)`` or ``reversed(range(...))``."""
    if isinstance(it, gast.Call) and getattr(it.func, "id", None) == "reversed" and it.args:
        it = it.args[0]
    return isinstance(it, gast.Call) and getattr(it.func, "id", None) == "range"


def _dict_view(it) -> bool:
    """``x.items()``, ``x.values()`` or ``x.keys()``."""
    return (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Attribute)
        and it.func.attr in ("items", "values", "keys")
        and not it.args
        and not it.keywords
    )


def _names(target) -> set:
    return {n.id for n in S.walk(target) if isinstance(n, gast.Name)}


def _popped_list(value):
    """``xs`` for the expression ``xs.pop()``, else None."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == "pop"
        and isinstance(value.func.value, gast.Name)
        and not value.args
        and not value.keywords
    ):
        return value.func.value.id
    return None


def _assigned_in(stmts) -> set:
    out = set()
    for s in stmts:
        for n in S.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
            elif (
                isinstance(n, gast.Subscript)
                and isinstance(n.ctx, gast.Store)
                and isinstance(n.value, gast.Name)
            ):
                out.add(n.value.id)
            elif (
                isinstance(n, gast.Call)
                and isinstance(n.func, gast.Attribute)
                and n.func.attr in ("append", "pop")
                and isinstance(n.func.value, gast.Name)
            ):
                out.add(n.func.value.id)  # hs.append(h) gives hs a new value
    return out


def _assigned_in_compound(stmts) -> set:
    """Names assigned inside an if/for/while (loop variables included)."""
    out = set()
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            out |= _assigned_in([s])
    return out


def _reversed_range(self, it):
    """``range(b - 1, a - 1, -1)`` for ``reversed(range(a, b))`` (step 1), else None."""
    if not (
        isinstance(it, gast.Call)
        and isinstance(it.func, gast.Name)
        and it.func.id == "reversed"
        and len(it.args) == 1
        and not it.keywords
        and resolve(self.p, it.func, self.local_names) is reversed
        and _is_range(self, it.args[0])
        and len(it.args[0].args) in (1, 2)
    ):
        return None
    bounds = it.args[0].args
    start, stop = (S.const(0), bounds[0]) if len(bounds) == 1 else bounds

    def minus_one(e):
        if isinstance(e, gast.Constant) and isinstance(e.value, int):
            return S.const(e.value - 1)
        return gast.BinOp(left=S.clone(e), op=gast.Sub(), right=S.const(1))

    return S.call(S.name("range"), [minus_one(stop), minus_one(start), S.const(-1)])


def _is_range(self, it) -> bool:
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"):
        return False
    return resolve(self.p, it.func, self.local_names) is range and not it.keywords


def _base(target) -> str:
    return target.id if isinstance(target, gast.Name) else "t"


def _path_name(root: str, keys: tuple) -> str:
    out = ""
    for k in keys:
        if isinstance(k, int):
            out += str(k) if k >= 0 else f"_m{-k}"  # w[-1]: w_m1
        else:
            clean = "".join(c if c.isalnum() or c == "_" else "_" for c in k)
            out = f"{out}_{clean}" if out else clean
    if not out or out[0].isdigit() or out[0] == "_":
        out = root + out
    if not out.isidentifier():
        out = "p_" + out
    return out


def _text(node) -> str:
    try:
        import ast

        return ast.unparse(gast.gast_to_ast(node))
    except Exception:  # noqa: BLE001 - only used to word an error message
        return type(node).__name__
