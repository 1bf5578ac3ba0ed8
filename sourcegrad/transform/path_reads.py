"""Path reads: a read of an argument through constant keys or field names
(``params["W"][0]``, ``p.enc.w``) becomes one statement, shared by every place that reads the
same path, so that the gradient collects every contribution to that part in one place (a
mixin of the normalize pass's builder); and what is known about arguments that are dicts."""

from __future__ import annotations

import builtins
from dataclasses import is_dataclass

import gast
import numpy as np

from ..runtime.records import is_record
from ..runtime.signature import rank_signature
from . import syntax as S
from .list_lengths import UNKNOWN, ListLengths, constant_int
from .parse import UNRESOLVED, resolve
from .walk import listed_dict_keys

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
        if self.depth and (self.lacks_path(root, keys) or self.may_lack(root, keys)):
            return None  # read where it runs: on a branch the argument may not take, or
            # one that another call of this build may lack, in a loop that may run no times
        if self.lacks_path(root, keys):  # read on every path: Python would fail there
            self.refuse(
                f"`{S.text(e)}` reads {keys[-1]!r}, which argument {root!r} does not have; "
                + (
                    _unpacked_object(self.argument_example(root), keys)
                    or "check the key, or pass a value that has it"
                ),
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
                # another object: what it holds is for later checks to say, but for a field
                # a record lacks (`net.scale` under `if hasattr(net, "scale"):`)
                return isinstance(k, str) and is_record(value) and not _has_field(value, k)
            if (value := follow_keys(value, (k,), UNKNOWN)) is UNKNOWN:
                return True
        return False

    def argument_example(self, root: str):
        """The argument ``root`` the derivative is built for; :data:`UNKNOWN` without one."""
        i = self.params.index(root)
        return UNKNOWN if self.examples is None or i >= len(self.examples) else self.examples[i]

    def may_lack(self, root: str, keys: tuple) -> bool:
        """Whether another call of this build may lack the item at ``keys``, which the
        argument signature does not fix: an array's item by position (``x[3]``,
        ``p["W"][0]``: a build serves arrays of every length), an attribute of an object
        that is not a record (``obj.scale``: its signature is its class)."""
        value = self.argument_example(root)
        for k in keys:
            if isinstance(value, np.ndarray):
                return type(k) is int
            if isinstance(k, str) and not _fixed_fields(value):
                return True
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
        if e.id in self.comprehension_targets:  # (a name `fn` does not hold: as a loop's)
            return not isinstance(self.item_examples.get(e.id, {}), (list, tuple, np.ndarray))
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
            bounds = [constant_int(x) for x in (e.slice.lower, e.slice.upper, e.slice.step)]
            inner = self.example_value(e.value)
            if UNKNOWN in bounds or not isinstance(inner, (tuple, list)):
                return UNKNOWN
            return inner[slice(*bounds)]
        if isinstance(e, gast.Subscript) and constant_int(e.slice) not in (None, UNKNOWN):
            inner = self.example_value(e.value)  # `params[-1]`: a list's item from its end
            if isinstance(inner, (tuple, list)) and -len(inner) <= constant_int(e.slice) < 0:
                return inner[constant_int(e.slice)]
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


def _fixed_fields(value) -> bool:
    """Whether the argument signature of ``value`` fixes the string keys it has: a dict's
    keys, a record's fields (a namedtuple's, a dataclass's, a plain class's); true too where
    there is no value to tell (no example, or an item it lacks: :meth:`lacks_path`)."""
    if value is None or value is UNKNOWN:
        return True
    return isinstance(value, (dict, tuple, list)) or is_record(value)


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
    elif hasattr(builtins, out):  # p["len"]: p_len, never a name generated code calls
        out = f"{root}_{out}"
    if not out.isidentifier():
        out = "p_" + out
    return out


def _unpacked_object(example, keys: tuple) -> str | None:
    """The way out where ``keys`` ends with a position of an object of a class of the user's
    that defines ``__iter__`` (``a, b = obj`` unpacks it), else None."""
    obj = example
    for k in keys[:-1]:
        obj = getattr(obj, k, None) if isinstance(k, str) and not isinstance(obj, dict) else None
    if not isinstance(keys[-1], int) or obj is None or not hasattr(type(obj), "__iter__"):
        return None
    if type(obj).__module__ in ("builtins", "numpy"):
        return None
    return (
        f"unpacking an object of class {type(obj).__name__} runs its __iter__, which "
        "sourcegrad follows where it is a generator or `return iter(self.<field>)`: write "
        "it so, or read the fields by name (`W, b = layer.W, layer.b`)"
    )


def _has_field(obj, name: str) -> bool:
    """Whether the object ``obj`` has the attribute ``name`` (without running a getter)."""
    return name in getattr(obj, "__dict__", {}) or hasattr(type(obj), name)
