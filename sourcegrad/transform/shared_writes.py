"""Writes through a name that surely shares another's memory, followed (part of normalize).

:func:`follow_shared_writes` rewrites a user function's syntax tree in place, before it is
lowered, where a name ``w`` is bound once, as ``w = z`` (the same object; ``np.asarray(z)``
of an array too) or ``w = z[idx]`` (basic indexing: slices, ints, ``...``, ``None``, a
constant key), and every read and write
of ``w`` comes after that binding in its block, with neither ``z`` nor a name of ``idx``
bound again in between and neither handed to a call that could keep or change it:

* a write through ``w`` (``w[k] = v``, ``w[k] += v``, ``w += v``) is followed by the write
  it makes into ``z``: ``z[idx] = w`` (with the ``item_write`` fact naming ``z``, as
  ``writes.py`` lowers ``z[idx][k] = v``); for ``w = z``, the write goes through ``z`` and
  ``w = z`` follows;
* a write through ``z`` is followed by ``w = z[idx]`` (or ``w = z``) again.

A name bound the same way to a linked name (``v = w``, ``u = w[::2]`` after ``w = z[1:]``)
is followed where it is the only other link of ``w``: its writes go on into ``z`` (``w[::2] =
u; z[1:] = w``), and every name linked to ``z``, directly or not, is read again. Where ``w``
may be a number (its rank not known) and is updated whole, but holds an array or a number,
never a container, the write back is guarded: ``if isinstance(w, np.ndarray): z[...] = w``
(Python rebinds a number and leaves ``z``). :mod:`.link_shapes` reads the bindings,
:mod:`.loop_links` makes a loop writing into its variable a loop binding ``v = hs[i]``. A
link made in a branch, ``w = z if c else z[::-1]`` (one side may make a new array), keeps
its test in a name, and its writes back and reads again take the branch taken.

The binding and each read again carry the ``shared_link`` fact (naming ``z``), so that
aliasing does not refuse the writes as a link it cannot follow; ``z``'s other links are
refused as before. Only links aliasing finds, and no other link of ``w``, are followed.
Where the rewrite is right only if ``w`` is an array (``w = z[1:]`` of a list is a copy;
``w = z[0]`` of a vector is a number), it returns a check that analysis makes with ranks:
the refusal a write through ``w`` gets otherwise, where ``w`` is not surely an array
(where its rank is not known, ``an_array`` checks it when the derivative runs).
"""

from __future__ import annotations

import gast
import numpy as np

from . import syntax as S
from .aliasing import aliases_of_written
from .link_shapes import conditional_shape, link_shape, sliced, split_chained_links, written_root
from .loop_links import display_names, index_loops, restore_loops
from .name_kinds import NameKinds, new_numeric
from .node_facts import set_fact
from .shared_rewrites import Link, rewritten

__all__ = ["follow_shared_writes"]

#: methods of an array, list or dict that read it without changing it or keeping it
_READING_METHODS = frozenset(
    {
        "copy", "sum", "mean", "max", "min", "dot", "astype", "any", "all", "std", "var",
        "prod", "item", "tolist", "get", "keys", "values", "items", "argmax", "argmin",
        "cumsum", "cumprod", "count", "index", "round", "clip", "trace",
    }
)  # fmt: skip
#: builtins that read their argument and keep no part of it
_READING_BUILTINS = frozenset({"len", "float", "int", "abs", "isinstance", "print", "round"})
#: NumPy functions that write into an argument (the others only read theirs)
_WRITING_NUMPY = frozenset({"put", "place", "putmask", "copyto", "fill_diagonal", "at"})


def follow_shared_writes(fn, params: list, examples, lists: set, numpy: bool, results=None):
    """Rewrite, in place, the writes through a name that surely shares memory with another
    (see the module docstring); ``numpy``: whether ``np`` is NumPy; ``results``: what calls
    of the user's functions give (:class:`~.name_kinds.NameKinds`). Returns ``(checks,
    writes)``: ``((name, line of its binding), message, line of the write)`` for each
    followed link that holds only where that name turns out to be an array, and each write
    into a base as Python makes it (``z[idx][...] = w``, ``z[k] = v``), which tells what an
    argument's caller sees changed."""
    split_chained_links(fn.body)
    if not _writes_in_place(fn):
        return [], []  # (a link is followed only where a name or its base is written into)
    loops = index_loops(fn, S.NameGen(S.names_in(fn)))
    context = _Context(fn, params, examples, lists, (numpy, results))  # (the loops' names too)
    context.keys = {loop.key for loop in loops if loop.key is not None}
    found = [
        context.link(block, pos, stmt)
        for block in _blocks(fn.body)
        for pos, stmt in enumerate(block)
    ]
    candidates = context.chained([link for link in found if link is not None])
    decided = _decided(context, candidates)
    links = {id(link.stmt): link for link, checks in decided if checks is not None}
    restore_loops(loops, set(links))
    for link in links.values():  # (marked once all are decided: aliasing skips them)
        set_fact(link.stmt, "shared_link", link.base)
    writes: list = []
    if links:
        fn.body = rewritten(fn.body, {}, links, writes)
    return [c for _, checks in decided for c in checks or ()], writes


def _writes_in_place(fn) -> bool:
    """Whether ``fn`` has a statement :func:`~.link_shapes.written_root` can name a root of
    (``y[k] = v``, ``y[k] += v``, ``y += v``): without one no link is written through."""
    return any(
        type(n) is gast.AugAssign or isinstance(n.ctx, gast.Store)
        for n in S.nodes_of(fn, (gast.AugAssign, gast.Subscript))
    )


def _decided(context, candidates: list) -> list:
    """``(link, checks)`` of each candidate link written through (its own name, its base
    or a name linked to it), and of each one not written through whose base is written:
    ``checks`` None where it is not followed (see :meth:`_Context.checks`)."""
    written = [(link, context.checks(link)) for link in candidates if link.writes]
    decided = [(link, checks) for link, checks in written if checks is not None]
    # a link written through neither name is followed where another link writes its base
    changed = {link.base for link, _ in decided} | {link.name for link, _ in decided}
    idle: list = []
    while True:  # (a link of a link re-read is re-read too)
        more = [link for link in candidates if not link.writes and link.base in changed]
        if len(more) == len(idle):
            break
        idle, changed = more, changed | {link.name for link in more}
    return decided + [(link, context.checks(link)) for link in idle]


def _children(link: Link, links: list) -> list:
    """The links of ``links`` whose base is ``link``'s name."""
    return [other for other in links if other.base == link.name and other is not link]


def _all_writes(link: Link, links: list, seen=frozenset()) -> list:
    """``link``'s writes and those through the names bound to it (transitively) among
    ``links``: a write through ``v = w`` or ``u = w[1:]`` is one through ``w``."""
    out = list(link.writes)
    for kid in _children(link, links):
        if kid.name not in seen:
            whole = kid.index is None
            inner = _all_writes(kid, links, seen | {link.name})
            out += [(s, True, w and whole) for s, own, w in inner if own]
    return out


def _blocks(body):
    """``body`` and the statement lists nested in it, not in nested functions."""
    yield body
    for stmt in body:
        if not isinstance(stmt, gast.FunctionDef):
            for field in ("body", "orelse"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    yield from _blocks(inner)


class _Context(NameKinds):
    """What deciding a link reads: the function, its arguments' examples, the names known
    to hold lists, the names bound in it and those surely holding an int or an array."""

    def __init__(self, fn, params: list, examples, lists: set, numpy_results: tuple):
        numpy, results = numpy_results
        super().__init__(fn, dict(zip(params, examples or ())), numpy, results)
        self.fn = fn
        self.params = params
        self.lists = lists
        self.numpy = numpy
        self.captured = S.captured_names(fn)
        self.keys: set = set()  # (key, dict) of the loops over a dict's keys made here
        self.displays = display_names(fn)
        self.names = S.NameGen(S.names_in(fn))

    def link(self, block: list, pos: int, stmt) -> Link | None:
        """The link ``stmt`` makes where it binds a name that surely shares memory with
        another and every write through either can be followed; else None."""
        shape = link_shape(stmt)
        if shape is None:
            return self.conditional_link(block, pos, stmt)
        name, base, index, converted = shape
        if converted and not (self.numpy and self.ndim_at(stmt, base)):
            return None  # (`np.asarray` of a list: a new array)
        if name in self.params or self.stores.get(name) != 1 or {name, base} & self.captured:
            return None
        keyed = isinstance(index, gast.Name) and (index.id, base) in self.keys
        if index is not None and not keyed and not self.basic(index):
            return None  # (a key a loop over the dict gives selects one item)
        uses = [k for k in range(pos + 1, len(block)) if name in S.names_in(block[k])]
        if not uses:
            return None
        container = isinstance(self.examples.get(base), (dict, list, tuple))
        link = Link(stmt, name, base, index, uses[-1], container)
        link.item = not sliced(index) and not self.ndim_at(stmt, base)  # (a slice's: an array)
        region = block[pos + 1 : link.last + 1]
        total = sum(1 for n in S.name_nodes(self.fn) if n.id == name)
        if total != 1 + sum(1 for s in region for n in S.name_nodes(s) if n.id == name):
            return None  # read or written outside the statements that follow the binding
        links = aliases_of_written(self.fn, {name}, lists=self.lists).get(name, [])
        if (base, stmt.lineno) not in {(o, line) for o, line, _ in links}:
            return None
        link.block, link.pos = block, pos
        # (the other items of a display it is read out of, `[z, h][0]`, are not `name`'s)
        passed = S.names_in(stmt.value) - {base}
        link.others = {(o, line) for o, line, _ in links if o not in passed or line != stmt.lineno}
        link.others.discard((base, stmt.lineno))
        link.writes = self.region_writes(link, region)
        return None if link.writes is None else link

    def conditional_link(self, block: list, pos: int, stmt) -> Link | None:
        """The link ``w = z if c else z[::-1]`` makes (a branch may bind a new array
        instead) where ``z`` holds an array or a number, each linked branch is ``z`` or a
        view of it, nothing else is linked to ``w``, and ``w`` is written into (or ``z``
        updated whole) only where ``z`` is surely an array; else None."""
        shape = conditional_shape(stmt)
        if shape is None or not self.numpy:
            return None
        name, base, branches = shape
        if not self.numeric_at(stmt, base) and not self.ndim_at(stmt, base):
            return None
        for k, index in enumerate(branches):
            if isinstance(index, gast.expr) and not sliced(index):
                if not new_numeric(index, self.numeric, True):
                    return None  # (neither a view of `z` nor a new array)
                branches[k] = False
            elif index is not None and not (sliced(index) and self.basic(index)):
                return None
        link = self.link(block, pos, S.assign(name, S.name(base), stmt.lineno))
        if link is None or link.others:
            return None
        if any(whole for _, _, whole in link.writes) and not self.ndim_at(stmt, base):
            return None
        link.stmt, link.branches = stmt, (self.names.fresh(f"{name}_linked"), *branches)
        return link

    def chained(self, links: list) -> list:
        """The links of ``links`` whose every other link is one of a name bound to their
        own (``v = w`` or ``u = w[1:]`` after ``w = z``), followed as far as those names
        are used; each one's writes then hold those made through the names bound to it."""
        while True:
            sites = {(link.name, link.stmt.lineno): link for link in links}
            kept = [
                link
                for link in links
                if all(sites.get(o) is not None and sites[o].base == link.name for o in link.others)
            ]
            names = {link.name for link in kept}
            dropped = {link.name for link in links} - names
            kept = [link for link in kept if link.base not in dropped]
            # (a name bound later first: its own region is extended before its base's)
            covered = {id(k) for k in sorted(kept, key=lambda k: -k.pos) if self.covers(k, kept)}
            kept = [link for link in kept if id(link) in covered]
            if len(kept) == len(links):
                writes = [_all_writes(link, kept) for link in kept]
                for link, made in zip(kept, writes):
                    link.writes = made
                return kept
            links = kept

    def covers(self, link: Link, links: list) -> bool:
        """Whether ``link``'s region, extended over the uses of the names bound to it in its
        own block, can be followed (its writes found again there)."""
        last = max([link.last] + [k.last for k in _children(link, links) if k.block is link.block])
        if last == link.last:
            return True
        link.last = last
        link.writes = self.region_writes(link, link.block[link.pos + 1 : last + 1])
        return link.writes is not None

    def basic(self, index) -> bool:
        """Whether ``index`` selects by basic indexing (or a constant key): slices, ints,
        ``...``, ``None``, a string, where each name it reads surely holds an int."""
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        for part in parts:
            if isinstance(part, gast.Slice):
                bounds = [b for b in (part.lower, part.upper, part.step) if b is not None]
                if not all(self.int_like(b) for b in bounds):
                    return False
            elif isinstance(part, gast.Constant):
                if type(part.value) is str and len(parts) == 1:
                    continue
                if part.value is not None and part.value is not Ellipsis:
                    if type(part.value) is not int:
                        return False
            elif not self.int_like(part):
                return False
        return True

    def region_writes(self, link: Link, region: list) -> list | None:
        """The writes through ``link``'s names in ``region``, the statements that follow its
        binding: ``[(statement, through the name, updated whole)]``; None where one cannot
        be followed (a name rebound, handed to a call, written in another form)."""
        name, base = link.name, link.base
        kept = set(S.names_in(link.index)) if link.index is not None else set()
        writes = []
        for stmt in (s for top in region for s in _statements(top)):
            if not isinstance(stmt, _FOLLOWED_STATEMENTS):
                return None
            root = written_root(stmt)
            if root in (name, base):
                whole = isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name)
                writes.append((stmt, root == name, whole))
            bound = _bound(stmt) - ({root} if root in (name, base) else set())
            if bound & ({name, base} | kept) or not self.calls_only_read(stmt, {name, base}):
                return None
            if _other_item_stores(stmt, {name, base}):
                return None  # `w[0], w[1] = a, b`, `del w[0]`: a write in another form
        return writes

    def calls_only_read(self, stmt, names: set) -> bool:
        """Whether every call in ``stmt`` (outside nested statements) that is given one of
        ``names`` only reads it: a NumPy function that writes into none of its arguments,
        a reading method, a reading builtin."""
        for node in _own_nodes(stmt):
            if not isinstance(node, gast.Call) or not (S.names_in(node) & names):
                continue
            func = node.func
            if any(k.arg in ("out", None) for k in node.keywords):
                return False  # (an output given, or keywords unpacked)
            if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name):
                ufunc = getattr(np, func.attr, None)
                if isinstance(ufunc, np.ufunc) and len(node.args) > ufunc.nin:
                    return False  # `np.exp(x, w)`: its output given by position
                if self.numpy and func.value.id == "np" and func.attr not in _WRITING_NUMPY:
                    continue
                if func.value.id in names and func.attr in _READING_METHODS:
                    if not any(S.names_in(a) & names for a in node.args):
                        continue
            if isinstance(func, gast.Name) and func.id in _READING_BUILTINS:
                continue
            return False
        return True

    def known_array(self, link: Link) -> bool:
        """Whether ``link``'s name surely holds an array of one axis or more, as the
        arguments' examples and the NumPy calls making the binding of its base it reads tell."""
        ndim = self.ndim_at(link.stmt, link.base)
        if link.index is None:
            return ndim >= 1
        parts = link.index.elts if isinstance(link.index, gast.Tuple) else [link.index]
        if ndim:
            return ndim > sum(1 for p in parts if self.int_like(p))
        if isinstance(link.index, gast.Constant):  # an argument's item, by its key
            return self.item_ndim(S.name(link.base), link.index.value) >= 1
        return False

    def guards(self, link: Link, through: list) -> bool:
        """Whether ``link``, whose name holds an array or a number (never a container) and
        is updated whole (``w += v``), with every write through it or a name bound to it
        (``u = w``), is followed where its name turns out to be an array, and left where a
        number."""
        return (
            self.numpy
            and (
                self.numeric_at(link.stmt, link.base)
                or (
                    link.index is not None
                    and not sliced(link.index)  # (an item, not a new list)
                    and link.base in self.numeric_items
                )
            )
            and len(through) == len(link.writes)
            and any(whole for _, whole in through)
        )

    def checks(self, link: Link) -> list | None:
        """The checks analysis makes where ``link`` is right only if its name is an array
        (none where it is right whatever the name holds); None where it may hold a number,
        which a write in place rebinds instead (``w = z[0]; w += 1``)."""
        if self.known_array(link):
            return []
        view = sliced(link.index)
        writes = link.writes
        through = [(s, whole) for s, own, whole in writes if own]
        if self.guards(link, through):
            link.guarded = True
            return []
        if link.index is None:
            if any(whole for _, _, whole in writes):
                return None  # `w = z; w += v` keeps `z` where it is a number
            return []  # one object, its items written through either name
        if through and len(through) == len(writes) and not any(w for _, w in through):
            if not view and link.base in self.displays:
                return []  # `r = rows[i]; r[0] = v`: an item of a display, itself, changed
        if not view and (not writes or len(through) < len(writes) or any(w for _, w in through)):
            return None  # `w = z[0]` may be a number, which `z[0] = v` or `w += v` leaves
        stmt, own, whole = writes[0] if writes else (link.stmt, False, False)
        message = _message(link, stmt, own, whole)
        return [((link.name, link.stmt.lineno), message, stmt.lineno)]


#: the statements a followed link's names may appear in after it
_FOLLOWED_STATEMENTS = (
    gast.Assign, gast.AugAssign, gast.Expr, gast.If, gast.For, gast.While, gast.Pass,
    gast.Assert, gast.Return,
)  # fmt: skip


def _message(link: Link, stmt, own: bool, whole: bool) -> str:
    """The refusal of a followed write (``own``: through the link's name, else through its
    base) where the link's name turns out not to be an array."""
    name, base, line = link.name, link.base, link.stmt.lineno
    way_out = (
        f"make the value made at line {line} an explicit copy (add `.copy()` there), or "
        "write through one name only"
    )
    if not own:
        return (
            f"`{base}[...] = ...` while `{name}` may share {base}'s memory (they are linked at "
            f"line {line}): sourcegrad follows the write into `{name}` only where `{name}` is "
            f"an array; {way_out}"
        )
    if whole:
        return (
            f"`{S.text(stmt).strip()}` changes `{name}` in place while `{base}` may share its "
            f"memory (they are linked at line {line}): Python changes `{base}` too, which "
            f"sourcegrad follows only where `{name}` is an array; write `{name} = {name} ...` "
            f"(a new array), or make the value made at line {line} an explicit copy (`.copy()`)"
        )
    return (
        f"`{name}[...] = ...` while `{base}` may share {name}'s memory (they are linked at "
        f"line {line}): sourcegrad follows the write into `{base}` only where `{name}` is an "
        f"array; {way_out}"
    )


def _statements(stmt):
    """``stmt`` and every statement nested in it (not in nested functions)."""
    yield stmt
    if isinstance(stmt, gast.FunctionDef):
        return
    for attr in ("body", "orelse", "finalbody", "handlers"):
        for inner in getattr(stmt, attr, None) or ():
            if isinstance(inner, gast.stmt):
                yield from _statements(inner)


def _own_nodes(stmt):
    """The nodes of ``stmt`` outside the statements nested in it."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        yield node
        for child in gast.iter_child_nodes(node):
            if not isinstance(child, gast.stmt):
                stack.append(child)


def _other_item_stores(stmt, names: set) -> bool:
    """Whether ``stmt`` writes into an item of one of ``names`` other than as the one target
    of an assignment (``w[k] = v``, ``w[k] += v``)."""
    target = written_root(stmt) and (
        stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
    )
    for node in _own_nodes(stmt):
        if isinstance(node, gast.Subscript) and isinstance(node.ctx, (gast.Store, gast.Del)):
            root = node.value
            while isinstance(root, gast.Subscript):
                root = root.value
            if getattr(root, "id", None) in names and node is not target:
                return True
    return False


def _bound(stmt) -> set:
    """The names ``stmt`` itself binds (or deletes), outside its nested statements."""
    return {
        n.id
        for n in _own_nodes(stmt)
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))
    } | ({stmt.name} if isinstance(stmt, gast.FunctionDef) else set())


def _bound_besides_target(stmt) -> set:
    """:func:`_bound` but for the name a write into an item writes through."""
    target = stmt.targets[0] if isinstance(stmt, gast.Assign) else stmt.target
    bound = _bound(stmt)
    if isinstance(target, gast.Subscript):
        bound.discard(target.value.id)
    return bound
