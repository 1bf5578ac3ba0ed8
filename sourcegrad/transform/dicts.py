"""Python dict methods that change the dict, as writes and a new dict (part of normalize).

Entered through :func:`lower_dict_operations`, which rewrites a user function's syntax tree in
place, before it is lowered to core form, so that a dict changes only by ``d[k] = v`` and by
being rebound to a new dict, which the core differentiates:

* ``d.update({k: v, ...}, name=w)``  -> ``d[k] = v`` for each key, in order (the display's
  keys and values evaluated first, as in the call)
* ``d.update(e)``                     -> ``for k in e: d[k] = e[k]`` where ``e`` is a dict,
  ``for k, v in e: d[k] = v`` otherwise (pairs: ``zip(...)``), decided when it runs
* ``v = d.pop(k)``                    -> ``d[k]`` (its KeyError), ``t = d.get(k); d[k] = t;
  v = t``, then ``d = {j: d[j] for j in d if j != k}`` (the write makes ``d`` a name written
  into, so that another name sharing the dict is refused as for any item assignment)
* ``v = d.pop(k, default)``           -> the same with ``t = d.get(k, default)``
* ``d.pop(k)`` (the value unused)     -> the same without ``v``
* ``v = d.setdefault(k, w)``          -> ``if k not in d: d[k] = w`` (``w`` evaluated first,
  as in the call), then ``v = d[k]``; without ``v`` the same without the read

The rewritten function computes the same values. Only names known to hold dicts are
rewritten: names every assignment of which makes a dict (a display, a comprehension,
``dict(...)`` or a name known to hold a dict), and arguments that are dicts in the call the
derivative is built for.
"""

from __future__ import annotations

import gast

from . import syntax as S
from .walk import rewrite_blocks


def lower_dict_operations(fn: gast.FunctionDef, names: S.NameGen, examples=None) -> set:
    """Rewrite ``fn`` in place so that its dicts change only by item assignment and
    rebinding; returns the names known to hold dicts."""
    dicts = _dict_names(fn, examples)
    if (
        dicts
        and any(
            n.attr in _CHANGES and getattr(n.value, "id", None) in dicts
            for n in S.nodes_of(fn, (gast.Attribute,))
        )
        or any(_merged_into(n, dicts) for n in S.nodes_of(fn, (gast.AugAssign,)))
    ):
        # (every rewrite is of a call of one of these methods of a dict's name, or `d |= e`)
        fn.body = _Lowering(names, dicts).block(fn.body)
    return dicts


#: the methods of a dict that the lowering rewrites
_CHANGES = frozenset({"update", "pop", "setdefault"})


def _dict_names(fn, examples) -> set:
    params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    values: dict = {}
    for node in S.walk(fn):
        if isinstance(node, gast.Assign):
            for t in node.targets:
                single = isinstance(t, gast.Name)
                for n in S.walk(t):  # (not `d` of `d[k] = v`, which binds no name)
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        values.setdefault(n.id, []).append(node.value if single else None)
        elif _merged_into(node, None):
            continue  # `d |= e` keeps the kind of `d` (a dict stays the same dict)
        elif isinstance(node, (gast.AugAssign, gast.AnnAssign, gast.For, gast.NamedExpr)):
            for n in S.walk(node.target):
                if isinstance(n, gast.Name):
                    values.setdefault(n.id, []).append(None)  # unknown
    dict_args = {
        p
        for i, p in enumerate(params)
        if examples is not None and i < len(examples) and type(examples[i]) is dict
    }
    known: set = set(dict_args) - set(values)
    changed = True
    while changed:  # grows to a fixed point: a name bound to a dict's name is a dict
        changed = False
        for name, made in values.items():
            if name in known or (name in params and name not in dict_args):
                continue
            if all(v is not None and _makes_dict(v, known) for v in made):
                known.add(name)
                changed = True
    return known


def _merged_into(node, dicts) -> bool:
    """Whether ``node`` is ``d |= e`` with ``d`` a name (of ``dicts``, unless None)."""
    if not (isinstance(node, gast.AugAssign) and isinstance(node.op, gast.BitOr)):
        return False
    return isinstance(node.target, gast.Name) and (dicts is None or node.target.id in dicts)


def _makes_dict(e, dicts) -> bool:
    if isinstance(e, (gast.Dict, gast.DictComp)):
        return True
    if isinstance(e, gast.Name):
        return e.id in dicts
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "dict"


def _is_zip(e) -> bool:
    return isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "zip"


def _method_call(value, dicts, method: str):
    """``(d, call)`` for ``d.method(...)`` with ``d`` a name known to hold a dict."""
    if (
        isinstance(value, gast.Call)
        and isinstance(value.func, gast.Attribute)
        and value.func.attr == method
        and isinstance(value.func.value, gast.Name)
        and value.func.value.id in dicts
    ):
        return value.func.value.id, value
    return None


class _Lowering:
    def __init__(self, names: S.NameGen, dicts: set):
        self.names = names
        self.dicts = dicts

    def block(self, stmts) -> list:
        return rewrite_blocks(stmts, self.statement)

    def statement(self, s) -> list:
        if _merged_into(s, self.dicts):  # `d |= e` changes d in place, as d.update(e)
            update = gast.Attribute(value=S.name(s.target.id), attr="update", ctx=gast.Load())
            merged = gast.Expr(value=S.call(update, [s.value]))
            merged.lineno = merged.value.lineno = s.lineno
            s = merged
        if isinstance(s, gast.Expr):
            updated = _method_call(s.value, self.dicts, "update")
            if updated is not None:
                return self.update(*updated) or [s]
            popped = _method_call(s.value, self.dicts, "pop")
            if popped is not None:
                return self.pop(None, *popped) or [s]
            defaulted = _method_call(s.value, self.dicts, "setdefault")
            if defaulted is not None:
                return self.setdefault(None, *defaulted) or [s]
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            popped = _method_call(s.value, self.dicts, "pop")
            if popped is not None:
                return self.pop(s.targets[0], *popped) or [s]
            defaulted = _method_call(s.value, self.dicts, "setdefault")
            if defaulted is not None:
                return self.setdefault(s.targets[0], *defaulted) or [s]
        if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)):
            return self.nested_pop(s)
        return [s]

    def nested_pop(self, s) -> list:
        """``y = f(d.pop(k))`` or ``d.setdefault(k, []).append(v)``: the pop (or the
        setdefault) first, where the statement evaluates it unconditionally and reads ``d``
        nowhere else (else left as written); the call's value is then a fresh name (a pop) or
        ``d[k]`` (a setdefault: the object in ``d``, which a method may change)."""
        value = s.value
        if value is None:
            return [s]
        found = [
            (n, method, hit)
            for n in _unconditional(value)
            for method in ("pop", "setdefault")
            for hit in [_method_call(n, self.dicts, method)]
            if hit is not None
        ]
        if len({hit[0] for _, _, hit in found}) != 1:
            return [s]
        d = found[0][2][0]
        reads = [n for n in S.walk(s) if isinstance(n, gast.Name) and n.id == d]
        if len(reads) != len(found) or (len(found) > 1 and not self.apart(found)):
            return [s]
        if any(c.keywords or not 1 <= len(c.args) <= 2 for _, _, (_, c) in found):
            return [s]
        lowered = []
        for node, method, (_, call) in found:  # (in the order Python evaluates them)
            name = self.names.fresh(d + "_value")
            if method == "pop":
                done = self.pop(S.name(name, store=True), d, call)
            else:
                done = self.setdefault(None, d, call)
            if method == "pop":
                new = S.name(name)
            else:  # the item read, by the key or the name the key was evaluated into
                key = call.args[0]
                key = key if isinstance(key, gast.Constant) else S.name(done[0].targets[0].id)
                new = _item(S.name(d), S.clone(key))
            new.written_as = S.text(node)  # (what a refusal of a change to ``d[k]`` quotes)
            s.value = _replaced(value, node, new)
            lowered += done
        return lowered + [s]

    @staticmethod
    def apart(found) -> bool:
        """Whether the calls ``found`` are setdefaults none of which holds another (two
        pops in one statement are left as written)."""
        calls = [hit[1] for _, _, hit in found]
        inner = {id(n) for c in calls for a in c.args for n in S.walk(a)}
        return all(m == "setdefault" for _, m, _ in found) and not inner & {id(c) for c in calls}

    def update(self, d: str, call) -> list | None:
        """The writes of ``d.update(...)``, after every key and value is evaluated, as in the
        call; None for ``**`` arguments (left as written)."""
        if len(call.args) > 1 or any(kw.arg is None for kw in call.keywords):
            return None
        pairs, evaluated, writes = [], [], []
        if call.args:
            other = call.args[0]
            if isinstance(other, gast.Dict) and all(k is not None for k in other.keys):
                pairs = list(zip(other.keys, other.values))
            elif _is_zip(other) and not call.keywords:  # pairs, iterated where they are made
                writes.append(self.copy_pairs(d, other))
            else:
                source = self.names.fresh(d + "_update")
                evaluated.append(_assign(source, other))
                writes.append(self.copy_all(d, source, _makes_dict(other, self.dicts)))
        pairs += [(S.const(kw.arg), kw.value) for kw in call.keywords]
        for key, value in pairs:
            if not isinstance(key, gast.Constant):
                k = self.names.fresh("key")
                evaluated.append(_assign(k, key))
                key = S.name(k)
            v = self.names.fresh(d + "_item")
            evaluated.append(_assign(v, value))
            writes.append(_set_item(d, key, S.name(v)))
        return evaluated + writes

    def copy_all(self, d: str, source: str, known_dict: bool):
        """``d[k] = v`` for each pair of ``source``, as ``d.update(source)`` reads it: a
        dict's items (``known_dict``: it is one), or else pairs."""
        key = self.names.fresh("key")
        from_dict = gast.For(
            target=S.name(key, store=True),
            iter=S.name(source),
            body=[_set_item(d, S.name(key), _item(S.name(source), S.name(key)))],
            orelse=[],
            type_comment=None,
        )
        if known_dict:
            return from_dict
        is_dict = S.call(S.name("isinstance"), [S.name(source), S.name("dict")])
        return gast.If(test=is_dict, body=[from_dict], orelse=[self.copy_pairs(d, S.name(source))])

    def copy_pairs(self, d: str, pairs):
        """``for k, v in pairs: d[k] = v``."""
        key, value = self.names.fresh("key"), self.names.fresh(d + "_item")
        return gast.For(
            target=gast.Tuple(
                elts=[S.name(key, store=True), S.name(value, store=True)], ctx=gast.Store()
            ),
            iter=pairs,
            body=[_set_item(d, S.name(key), S.name(value))],
            orelse=[],
            type_comment=None,
        )

    def setdefault(self, target, d: str, call) -> list | None:
        """``d.setdefault(k[, w])``: the key and ``w`` evaluated, ``d[k] = w`` where ``k`` is
        not in ``d``, then ``d[k]`` read into ``target`` (where there is one)."""
        if call.keywords or not 1 <= len(call.args) <= 2:
            return None
        key, out = call.args[0], []
        if not isinstance(key, gast.Constant):  # (a constant key stays: the dict's known keys)
            out.append(_assign(self.names.fresh("key"), key))
            key = S.name(out[0].targets[0].id)
        value = call.args[1] if len(call.args) == 2 else S.const(None)
        if not (isinstance(value, (gast.List, gast.Tuple)) and S.is_atom(value)):
            default = self.names.fresh(d + "_default")
            out.append(_assign(default, value))
            value = S.name(default)
        # (a display of names and constants made after the test is the same new container)
        missing = gast.Compare(left=S.clone(key), ops=[gast.NotIn()], comparators=[S.name(d)])
        write = _set_item(d, S.clone(key), value)
        out.append(gast.If(test=missing, body=[write], orelse=[]))
        if target is not None:
            read = _item(S.name(d), S.clone(key))
            out.append(gast.Assign(targets=[target], value=read, type_comment=None))
        return out

    def pop(self, target, d: str, call) -> list | None:
        """``d.pop(k[, default])``: the value read, written back (a write into ``d``, so that
        another name holding the same dict is refused by transform/aliasing.py, as for any
        item assignment: it would not see the key go), then ``d`` rebound without ``k``."""
        if call.keywords or not 1 <= len(call.args) <= 2:
            return None
        out = []
        key = call.args[0]
        if not isinstance(key, gast.Constant):
            k = self.names.fresh("key")
            out.append(_assign(k, key))
            key = S.name(k)
        if len(call.args) == 1:
            out.append(gast.Expr(value=_item(S.name(d), S.clone(key))))  # KeyError as pop's
        get = gast.Attribute(value=S.name(d), attr="get", ctx=gast.Load())
        popped = self.names.fresh(d + "_popped")
        out.append(_assign(popped, S.call(get, [S.clone(key), *call.args[1:]])))
        out.append(_set_item(d, S.clone(key), S.name(popped)))
        if target is not None:
            out.append(gast.Assign(targets=[target], value=S.name(popped), type_comment=None))
        j = self.names.fresh("key")
        rest = gast.DictComp(
            key=S.name(j),
            value=_item(S.name(d), S.name(j)),
            generators=[
                gast.comprehension(
                    target=S.name(j, store=True),
                    iter=S.name(d),
                    ifs=[gast.Compare(left=S.name(j), ops=[gast.NotEq()], comparators=[key])],
                    is_async=0,
                )
            ],
        )
        out.append(_assign(d, rest))
        return out


def _unconditional(e):
    """The nodes of the expression ``e`` that evaluating it always evaluates, once: not
    inside a lambda, a comprehension, ``a if c else b``, ``a and b`` or ``a or b``."""
    yield e
    if isinstance(e, (gast.Lambda, gast.IfExp, gast.BoolOp)) or isinstance(
        e, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
    ):
        return
    for child in gast.iter_child_nodes(e):
        if isinstance(child, gast.expr):
            yield from _unconditional(child)


def _replaced(e, old, new):
    """``e`` with the node ``old`` replaced by ``new``."""
    if e is old:
        return new
    for field, value in gast.iter_fields(e):
        if value is old:
            setattr(e, field, new)
        elif isinstance(value, list):
            setattr(
                e,
                field,
                [
                    new if v is old else _replaced(v, old, new) if isinstance(v, gast.AST) else v
                    for v in value
                ],
            )
        elif isinstance(value, gast.AST):
            _replaced(value, old, new)
    return e


def _assign(name: str, value):
    return gast.Assign(targets=[S.name(name, store=True)], value=value, type_comment=None)


def _item(value, key):
    return gast.Subscript(value=value, slice=key, ctx=gast.Load())


def _set_item(d: str, key, value):
    target = gast.Subscript(value=S.name(d), slice=key, ctx=gast.Store())
    return gast.Assign(targets=[target], value=value, type_comment=None)
