"""Path reads: a read of an argument through constant keys or field names
(``params["W"][0]``, ``p.enc.w``) becomes one statement, shared by every place that reads the
same path, so that the gradient collects every contribution to that part in one place (a
mixin of the normalize pass's builder); and what is known about arguments that are dicts."""

from __future__ import annotations

from dataclasses import is_dataclass

import gast
import numpy as np

from ..runtime.signature import rank_signature
from . import syntax as S
from .parse import UNRESOLVED, resolve
from .walk import listed_dict_keys

#: what :meth:`PathReads.example_value` returns for a value it cannot tell
UNKNOWN = object()

_ARRAY_ATTRIBUTES = frozenset({"T", "shape", "ndim", "size", "dtype", "real", "imag", "flat", "mT"})


class PathReads:
    """Path reads. Expects of the builder: ``p`` (the parsed function), ``fn``, ``params``,
    ``examples``, ``item_examples``, ``pending_items``, ``loop_getters``, ``names``, ``env``,
    ``local_names``, ``reassigned_params``, ``rebound_params``, ``list_names``,
    ``loop_spans``, ``paths``, ``path_of``, ``path_syntax``, ``user_vars``, ``depth``,
    ``branches``, ``out``, ``top_out``, and the methods ``emit`` and ``refuse``."""

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
        if isinstance(node, gast.Name) and node.id in self.path_of_user():
            root, prefix = self.path_of[self.env[node.id]]
        elif isinstance(node, gast.Name) and node.id not in self.env and node.id in self.path_of:
            # a temporary holding a path read: `W0, W1 = p["W"]` reads p["W"][0], p["W"][1]
            root, prefix = self.path_of[node.id]
        elif not (isinstance(node, gast.Name) and node.id in self.params):
            return None
        elif node.id in self.reassigned_params or self.env.get(node.id) != node.id:
            return None  # the argument was reassigned
        else:
            root, prefix = node.id, ()
        keys = prefix + tuple(reversed(keys))
        syntax = self.path_syntax.get((root, prefix), ()) + tuple(reversed(syntax))
        if self.depth and (self.lacks_path(root, keys) or self.array_item(root, keys)):
            return None  # read where it runs: on a branch the argument may not take, or of
            # an array under a test or in a loop that may run no times (a build serves
            # arrays of every length)
        if self.lacks_path(root, keys):  # read on every path: Python would fail there
            self.refuse(
                f"`{S.text(e)}` reads {keys[-1]!r}, which argument {root!r} does not have; "
                "check the key, or pass a value that has it",
                e,
            )
        return root, keys, syntax

    def lacks_path(self, root: str, keys: tuple) -> bool:
        """Whether the argument ``root`` the derivative is built for has no item at ``keys``
        (``node["W"]`` under ``if "W" in node:``, ``node[0]`` of a number): such a read is
        not moved before the statement it is in, where it would run on every path."""
        value = self.argument_example(root)
        for k in keys:
            if isinstance(value, np.ndarray) and type(k) is int:  # `x[3]` of a shorter array
                return value.ndim == 0 or not -len(value) <= k < len(value)
            if isinstance(value, (int, float, complex, str, type(None))):
                return True
            if not (isinstance(value, (dict, list, tuple)) or is_dataclass(value)):
                return False  # another object: what it holds is for later checks to say
            if (value := follow_keys(value, (k,), UNKNOWN)) is UNKNOWN:
                return True
        return False

    def argument_example(self, root: str):
        """The argument ``root`` the derivative is built for; :data:`UNKNOWN` without one."""
        i = self.params.index(root)
        return UNKNOWN if self.examples is None or i >= len(self.examples) else self.examples[i]

    def array_item(self, root: str, keys: tuple) -> bool:
        """Whether ``keys`` read an array's item by position (``x[3]``, ``p["W"][0]``)."""
        value = self.argument_example(root)
        for k in keys:
            if isinstance(value, np.ndarray):
                return type(k) is int
            value = follow_keys(value, (k,), None)
        return False

    def may_be_dict(self, e) -> bool:
        """Whether ``e`` is a name the function binds whose value may be a dict: not an
        argument (its example decides), not a list the function builds."""
        if not isinstance(e, gast.Name) or e.id not in self.local_names:
            return False
        if e.id in self.params and e.id not in self.rebound_params:
            return self.examples is None
        if e.id in self.list_names or e.id in self.path_of_user():
            return False
        return _may_hold_dict(self.fn, e.id)

    def last_line_run_again(self, line: int) -> int:
        """The last line of the outermost loop around ``line`` (``line`` itself outside
        loops): nothing after it runs before the statement at ``line`` does."""
        ends = [end for start, end in self.loop_spans if start <= line <= end]
        return max(ends, default=line)

    def link_holds(self, link: int, write: int, fresh: int) -> bool:
        """Whether a link of a name to another's memory made at line ``link`` may still hold
        at the write at line ``write``, given that the name was last given a new object at
        line ``fresh`` on every path to the write (0: never): a link made after the write
        reaches it only through a loop around both, and only if that loop does not give the
        name a new object first."""
        if link > self.last_line_run_again(write) or link < fresh:
            return False
        if link <= write:
            return True
        starts = [a for a, b in self.loop_spans if a <= write and link <= b]
        return not (starts and fresh >= max(starts))

    def is_dict(self, e) -> bool:
        """Whether ``e`` reads (through constant keys) an argument that is a dict in the
        arguments the derivative is built for."""
        if isinstance(e, gast.Name) and e.id in self.params:
            if e.id in self.rebound_params:
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

    def example_value(self, e):
        """The value ``e`` has in the arguments the derivative is built for, where ``e`` reads
        an unmodified argument through constant keys, field names, ``.shape`` and constant
        slices; :data:`UNKNOWN` otherwise. Only its container structure (lengths, keys, ranks) may
        be relied on: that is what every call of this build shares."""
        if self.examples is None:
            return UNKNOWN
        if isinstance(e, gast.Attribute) and e.attr == "shape":
            shape = getattr(self.example_value(e.value), "shape", None)
            return UNKNOWN if shape is None else tuple(shape)
        if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Slice):
            bounds = [_constant_int(x) for x in (e.slice.lower, e.slice.upper, e.slice.step)]
            inner = self.example_value(e.value)
            if UNKNOWN in bounds or not isinstance(inner, (tuple, list)):
                return UNKNOWN
            return inner[slice(*bounds)]
        if isinstance(e, gast.Subscript) and _constant_int(e.slice) not in (None, UNKNOWN):
            inner = self.example_value(e.value)  # `params[-1]`: a list's item from its end
            if isinstance(inner, (tuple, list)) and -len(inner) <= _constant_int(e.slice) < 0:
                return inner[_constant_int(e.slice)]
        if isinstance(e, gast.Name) and e.id in self.item_examples:
            return self.item_examples[e.id]
        if isinstance(e, gast.Name) and e.id in self.params:
            if e.id in self.reassigned_params or self.env.get(e.id) != e.id:
                return UNKNOWN
            root, keys = e.id, ()
        else:
            found = self.path(e) if isinstance(e, (gast.Subscript, gast.Attribute)) else None
            if found is None and isinstance(e, gast.Name):
                found = self.path_of.get(self.env.get(e.id, e.id))
            if found is None:
                return self.example_item(e)
            root, keys = found[0], found[1]
        i = self.params.index(root)
        if i >= len(self.examples):
            return UNKNOWN
        return follow_keys(self.examples[i], keys, UNKNOWN)

    def example_item(self, e):
        """:meth:`example_value` of ``v[k]`` or ``v.k`` (constant ``k``) where ``v`` is not
        an argument's path but its value is known (a loop's item)."""
        if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant):
            key = e.slice.value
        elif isinstance(e, gast.Attribute) and e.attr not in _ARRAY_ATTRIBUTES:
            key = e.attr
        else:
            return UNKNOWN
        inner = self.example_value(e.value)
        return UNKNOWN if inner is UNKNOWN else follow_keys(inner, (key,), UNKNOWN)

    def note_loop_item(self, name: str, it) -> None:
        """Note the structure of the items of ``for name in it`` where every item of ``it``
        in the arguments the derivative is built for has the same structure (lengths, keys,
        ranks): from the loop's own binding of ``name`` until ``name`` is bound again,
        ``*name`` and ``**name`` can be spliced (:meth:`track_binding`)."""
        items = self.example_value(it)
        self.pending_items.pop(name, None)
        keys = listed_dict_keys(self.fn, it.id) if isinstance(it, gast.Name) else None
        if keys is not None and it.id not in self.params:  # a list of dict displays
            items = [dict.fromkeys(keys, UNKNOWN)]
        if isinstance(items, (list, tuple)) and items:
            if len({repr(rank_signature(x)) for x in items}) == 1:
                self.pending_items[name] = items[0]

    def track_binding(self, target, value) -> None:
        """Keep :attr:`item_examples` true where ``target = value`` runs: the loop's own
        binding of an item (registered in :attr:`loop_getters`) makes its structure known;
        any other binding of a name, or write into it, makes it unknown."""
        name = self.loop_getters.pop(id(value), None)
        if name is not None and isinstance(target, gast.Name) and target.id == name:
            if name in self.pending_items:
                self.item_examples[name] = self.pending_items.pop(name)
                return
        for n in S.walk(target):
            if isinstance(n, gast.Name):
                self.item_examples.pop(n.id, None)

    def list_length(self, name: str, where):
        """The length of the list ``name`` the function builds, at the statement holding
        ``where`` (a node), where every call of this build gives it that length; else why not
        (a str) (:class:`ListLengths`)."""
        return ListLengths(self).at(name, getattr(where, "lineno", None) or self.lineno)

    def path_of_user(self):
        """User names that hold a path read."""
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
                return self.emit_path(ident, root, keys, syntax)
            finally:
                self.out = saved
        return self.emit_path(ident, root, keys, syntax)

    def emit_path(self, ident, root, keys, syntax):
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


def _constant_int(node):
    """The int a slice bound is (None for an absent one); :data:`UNKNOWN` for anything else."""
    if node is None:
        return None
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        value = _constant_int(node.operand)
        return UNKNOWN if value is UNKNOWN or value is None else -value
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    return UNKNOWN


def _may_hold_dict(fn, name: str) -> bool:
    """Whether some binding of ``name`` in ``fn`` may make a dict: anything but arithmetic,
    comparisons, constants, list and tuple displays, NumPy calls and array methods (a loop
    variable, an unpacked item, an item read from a container, a call of the user's)."""
    starred = {id(n.value) for n in S.walk(fn) if isinstance(n, gast.Starred)}  # lists
    for node in S.walk(fn):
        if id(node) in starred:
            continue
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
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.BitOr):
        return False  # `d | {}`: a merge of dicts (or of masks)
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


class ListLengths:
    """The lengths of the lists a function builds, where they are fixed when the derivative
    is built: a name maps to its length (an int) or to why it is not known (a str). Follows the
    function's statements in order: displays, comprehensions without ``if`` over an iterable
    of known length, ``append`` (directly, or in ``for`` loops of a known number of steps),
    constant slices and copies; anything else makes a name's length unknown, saying why."""

    def __init__(self, reads: PathReads):
        self.reads = reads

    def at(self, name: str, line: int):
        """``name``'s length where the top-level statement holding ``line`` runs."""
        if name in _shared_names(self.reads.fn):
            return "a nested function or a call of a function may change it"
        state: dict = {}
        for stmt in self.reads.fn.body:
            if stmt.lineno <= line <= _end_line(stmt):
                if isinstance(stmt, (gast.For, gast.While, gast.If)) and name in _changed(
                    stmt.body + stmt.orelse
                ):
                    return "it changes in the loop or branch around this call"
                break
            self.step(stmt, state)
        return state.get(name, "it is not bound to a list before this call")

    def step(self, stmt, state: dict) -> None:
        """``state`` after ``stmt`` runs (once)."""
        if isinstance(stmt, gast.Assign):
            for t in stmt.targets:
                if isinstance(t, gast.Name):
                    state[t.id] = self.of(stmt.value, state)
                else:
                    for n in _stored_names(t):
                        state[n] = "it is bound by unpacking or an item write"
        elif S.appended_list(stmt) is not None:
            name = S.appended_list(stmt)
            if isinstance(state.get(name), int):
                state[name] += 1
        elif isinstance(stmt, gast.For):
            self.loop(stmt, state)
        elif isinstance(stmt, gast.If):
            branches = []
            for body in (stmt.body, stmt.orelse):
                inner = dict(state)
                for s in body:
                    self.step(s, inner)
                branches.append(inner)
            for name in _changed(stmt.body + stmt.orelse):
                a, b = (br.get(name) for br in branches)
                state[name] = a if a == b else "its length depends on an `if`"
        else:
            why = (
                "it changes in a `while` loop"
                if isinstance(stmt, gast.While)
                else "a statement changes it that sourcegrad does not follow"
            )
            for name in _changed([stmt]):
                state[name] = why

    def loop(self, stmt, state: dict) -> None:
        changed = _changed(stmt.body)
        steps = self.steps(stmt.iter, state, changed)
        for name in changed:
            grows = _growth(stmt.body, name, lambda it: self.steps(it, state, changed))
            if isinstance(steps, str):
                state[name] = f"it changes in a loop whose number of steps {steps}"
            elif grows is None:
                state[name] = "a loop changes it other than by `append`"
            elif isinstance(state.get(name), int):
                state[name] += grows * steps

    def steps(self, it, state: dict, changed=frozenset()):
        """How many items ``it`` yields (an int), or why it is not known (a str)."""
        if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and not it.keywords:
            f, args = it.func.id, it.args
            if f == "range" and 1 <= len(args) <= 3:
                bounds = [self.integer(a, state, changed) for a in args]
                if all(isinstance(b, int) for b in bounds):
                    return len(range(*bounds))
                return "is not a constant `range`"
            if f in ("zip", "enumerate") and args:
                parts = [self.steps(a, state, changed) for a in args[: 1 if f != "zip" else None]]
                known = [p for p in parts if isinstance(p, int)]
                return min(known) if len(known) == len(parts) else parts[0]
            if f in ("list", "tuple", "reversed") and len(args) == 1:
                return self.steps(args[0], state, changed)
        if isinstance(it, gast.Call) and len(it.args) >= 2 and self.splits(it.func):
            sections = self.integer(it.args[1], state, changed)  # np.split(x, 3): 3 parts
            if isinstance(sections, int):
                return sections
        if isinstance(it, gast.Name) and it.id in changed:
            return "changes in the loop"
        got = self.of(it, state)
        return got if isinstance(got, int) else "is not known when the derivative is built"

    def splits(self, func) -> bool:
        """Whether ``func`` is NumPy's ``split`` or a relative, which makes as many parts as
        an int second argument says."""
        fn = resolve(self.reads.p, func, self.reads.local_names)
        return any(fn is f for f in (np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit))

    def integer(self, e, state: dict, changed):
        if isinstance(e, gast.Constant) and type(e.value) is int:
            return e.value
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
            inner = self.integer(e.operand, state, changed)
            return -inner if isinstance(inner, int) else None
        if (
            isinstance(e, gast.Call)
            and getattr(e.func, "id", None) == "len"
            and len(e.args) == 1
            and not e.keywords
        ):
            got = self.steps(e.args[0], state, changed)
            return got if isinstance(got, int) else None
        return None

    def of(self, e, state: dict):
        """The length of the list or tuple ``e`` makes, or why it is not known."""
        if isinstance(e, (gast.List, gast.Tuple)):
            total = 0
            for x in e.elts:
                got = self.steps(x.value, state) if isinstance(x, gast.Starred) else 1
                if isinstance(got, str):
                    return f"`*{S.text(x.value)}` in its display {got}"
                total += got
            return total
        if isinstance(e, (gast.ListComp, gast.GeneratorExp)):
            if any(g.ifs for g in e.generators):
                return "it is a comprehension with an `if`"
            total = 1
            for g in e.generators:
                got = self.steps(g.iter, state)
                if isinstance(got, str):
                    return f"its comprehension's `{S.text(g.iter)}` {got}"
                total *= got
            return total
        if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Slice):
            inner = self.of(e.value, state)
            bounds = [_constant_int(x) for x in (e.slice.lower, e.slice.upper, e.slice.step)]
            if isinstance(inner, int) and UNKNOWN not in bounds:
                return len(range(inner)[slice(*bounds)])
            return "it is a slice sourcegrad cannot size"
        if isinstance(e, gast.Name) and e.id in state:
            return state[e.id]
        if isinstance(e, gast.Call) and _copies_or_splits(e, self.splits):
            got = self.steps(e.args[0], state) if len(e.args) == 1 else None
            if len(e.args) >= 2:  # np.split(x, 3, axis=-1): 3 parts
                got = self.integer(e.args[1], state, frozenset())
            if isinstance(got, int):
                return got
        known = self.reads.example_value(e)
        if isinstance(known, (list, tuple)):
            return len(known)
        return "it is not a display, a comprehension or a copy of a list of known length"


def _copies_or_splits(call, splits) -> bool:
    """``list(xs)``/``tuple(xs)`` (as long as ``xs``) or NumPy's ``split`` and relatives."""
    if isinstance(call.func, gast.Name) and call.func.id in ("list", "tuple"):
        return len(call.args) == 1 and not call.keywords
    return len(call.args) >= 2 and splits(call.func)


def _shared_names(fn) -> set:
    """Names a nested function or lambda of ``fn`` reads, and names handed bare to a call
    other than ``len``/``range``/``zip``/``enumerate`` or NumPy's (which may change a list)."""
    names = set()
    for node in S.walk(fn):
        if node is not fn and isinstance(node, (gast.FunctionDef, gast.Lambda)):
            names |= {n.id for n in S.name_nodes(node)}
        elif isinstance(node, gast.Call) and not _keeps_lists(node.func):
            parts = [*node.args, *(k.value for k in node.keywords)]
            names |= {a.id for a in parts if isinstance(a, gast.Name)}
    return names


def _keeps_lists(func) -> bool:
    if isinstance(func, gast.Name):
        return func.id in ("len", "range", "zip", "enumerate", "list", "tuple", "reversed")
    return S.dotted(func) is not None and S.dotted(func).split(".")[0] in ("np", "numpy")


def _end_line(stmt) -> int:
    return max(
        (getattr(n, "end_lineno", None) or getattr(n, "lineno", 0) or 0) for n in S.walk(stmt)
    )


def _stored_names(target) -> list:
    return [n.id for n in S.walk(target) if isinstance(n, gast.Name)]


def _changed(body) -> set:
    """Names that ``body`` binds, writes into or calls a method of (``xs.append``)."""
    names = set()
    for stmt in body:
        for n in S.walk(stmt):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                names.add(n.id)
            elif isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name):
                if isinstance(n.ctx, gast.Load) and n.attr in _LIST_METHODS:
                    names.add(n.value.id)
            elif isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
                if isinstance(n.ctx, (gast.Store, gast.Del)):
                    names.add(n.value.id)
    return names


_LIST_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort"}
)


def _growth(body, name: str, steps):
    """How many items one run of ``body`` appends to ``name``: unconditional ``append``s and
    those of nested ``for`` loops of a known number of steps; None where ``body`` changes
    ``name`` any other way."""
    total = 0
    for stmt in body:
        if name not in _changed([stmt]):
            continue
        if S.appended_list(stmt) == name:
            total += 1
        elif isinstance(stmt, gast.For) and name not in _stored_names(stmt.target):
            inner, count = _growth(stmt.body, name, steps), steps(stmt.iter)
            if inner is None or not isinstance(count, int) or stmt.orelse:
                return None
            total += inner * count
        else:
            return None
    return total
