"""NumPy calls that write into an existing array (part of normalize and analysis).

:func:`lower_writes` rewrites a user function's syntax tree in place, before it is lowered, so
that every write it can follow exactly becomes a write into an item, which normalize lowers
like any other (a new value of the array, and a refusal where another name may share the
array's memory):

* ``f(..., out=y)`` (or a ufunc's positional output, ``np.exp(x, y)``) as a statement:
  ``y[...] = f(...)``;
* ``np.copyto(y, x)``: ``y[...] = x``;
* ``y.fill(v)``: ``y[...] = v``;
* ``np.fill_diagonal(y, c)`` with ``c`` a number written as a literal (``0.0``, ``-1``,
  ``np.inf``): ``y[np.diag_indices(min(np.shape(y)), 2) if np.ndim(y) == 2 else
  np.diag_indices_from(y)] = c``, the items NumPy writes (the leading square's diagonal of a
  matrix, every axis's for equal lengths), with NumPy's ValueError elsewhere;
* ``np.add.at(y, idx, v)`` (any ufunc of two operands): a loop over the positions ``y[idx]``
  selects, each combined in turn (a repeated index as often as it repeats);
* ``np.fill_diagonal(y, v)`` of any other ``v``: ``y[np.diag_indices(...)] = ...`` of ``v``'s
  items, repeated or cut to the diagonal's length;
* ``y.sort(...)``: ``y[...] = np.sort(y, ...)`` where ``y`` is an array when it runs (a
  branch on ``isinstance(y, np.ndarray)``; a list is sorted as written);
* ``xs[t][k] = v`` (a write into an item of an item, ``+=`` too, any depth):
  ``item = xs[t]; item[k] = v; xs[t] = item`` (the ``item_write`` fact on the first and last,
  naming ``xs``, so that aliasing checks that no other name may hold the item).

A call with ``out=`` whose result is read, whose output is not a plain name, or that also
takes ``where=`` is refused with the user's line. :func:`refuse_unmodelled_writes` refuses,
in analysis, the writes left (``np.put``, ``np.negative.at``,
``shuffle``, ``np.fill_diagonal(..., wrap=True)``, ...) where they touch a differentiated
value, or write into an array that a differentiated operation read before (its adjoint would
read the array as written).
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .item_lists import rebuilt_item_lists
from .node_facts import set_fact
from .parse import resolve
from .positional_outputs import array_method_call, method_output_by_position
from .walk import statements_in_loops_around, walk_statements, written_names

#: methods of an array that change it in place, and the way out for each
IN_PLACE_METHODS = {
    "sort": "`{y} = np.sort({y})`",
    "partition": "`{y} = np.partition({y}, k)`",
    "put": "`{y}[idx] = v`",
    "itemset": "`{y}[idx] = v`",
    "resize": "`{y} = np.resize({y}, shape)`",
    "setfield": "a new array",
    "byteswap": "`{y} = {y}.byteswap()`",
}

#: NumPy functions that write into their first argument, and the way out for each
WRITING_FUNCTIONS = {
    np.put: "`{y}[idx] = v` (on a 1-d array)",
    np.place: "`{y} = np.where(mask, values, {y})`",
    np.putmask: "`{y} = np.where(mask, values, {y})`",
    np.fill_diagonal: "`{y} = {y} * (1 - np.eye(n)) + v * np.eye(n)`",
    np.put_along_axis: (
        "`{y}[np.arange(len({y}))[:, None], idx] = values` (a 2-d array along its last axis)"
    ),
}


def lower_writes(fn, parsed, local_names: set, names: S.NameGen) -> None:
    """Rewrite, in place, the writes of ``fn``'s statements that can be followed exactly into
    writes into an item (see the module docstring); refuse ``out=`` where it cannot be.
    Nested functions are left as they are."""

    def lower(block):
        out = []
        for written in block:
            for stmt in _result_named(written, fn, parsed, local_names):
                if not isinstance(stmt, gast.FunctionDef):
                    for attr in ("body", "orelse"):
                        inner = getattr(stmt, attr, None)
                        if inner and isinstance(inner[0], gast.stmt):
                            setattr(stmt, attr, lower(inner))
                    _refuse_output_read(stmt, parsed, local_names)
                    _refuse_held_container_change(stmt, parsed, local_names)
                for lowered in _indexed(
                    _lowered(stmt, parsed, local_names), parsed, local_names, names
                ):
                    out.extend(_item_of_item(lowered, names))
        return out

    rebuilt_item_lists(fn, names)
    fn.body = lower(fn.body)


def _result_named(stmt, fn, parsed, local_names) -> list:
    """``b = np.cumsum(a, 0, out=a)``, where nothing reads ``a`` after it (a local of the
    function's body, not in a loop, not mentioned later), as ``[b = np.cumsum(a, 0)]``: the
    write into ``a`` is seen by no one. Refused where ``a`` is read later (``b`` is ``a``
    itself in Python); any other statement alone."""
    if not (
        isinstance(stmt, gast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], gast.Name)
        and isinstance(stmt.value, gast.Call)
    ):
        return [stmt]
    out = _output_of(stmt.value, parsed, local_names)
    if not isinstance(out, gast.Name) or out.id == stmt.targets[0].id:
        return [stmt]
    plain = _without_output(stmt.value, parsed, local_names)
    if not _dead_after(fn, stmt, out.id):
        name, base = stmt.targets[0].id, out.id
        _refuse(
            parsed,
            stmt,
            f"`{S.text(stmt).strip()}` writes into `{base}` and names it `{name}` too, and "
            f"`{base}` is read again: sourcegrad follows a write through one name only; write "
            f"`{base}[...] = {S.text(plain)}` and read `{base}`, or `{name} = {S.text(plain)}` "
            "(a new array)",
        )
    new = gast.Assign(targets=stmt.targets, value=plain, type_comment=None)
    return [gast.copy_location(new, stmt)]


def _dead_after(fn, stmt, name: str) -> bool:
    """Whether ``stmt``, a statement of ``fn``'s own body, is followed by no statement
    mentioning ``name``, a local of ``fn`` that no nested function captures."""
    params = {a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    if name in params or name in S.captured_names(fn) or stmt not in fn.body:
        return False
    later = fn.body[fn.body.index(stmt) + 1 :]
    return not any(name in S.names_in(s) for s in later)


def _refuse_held_container_change(stmt, parsed, local_names: set) -> None:
    """Refuse ``d["hs"].append(v)``, ``d.get("hs").append(v)`` or ``net.layers.append(v)``:
    a list's or dict's method that changes in place a container held by a local variable or
    argument (its item, its field, or what one of its methods returns). Python changes the
    holder too; the derivative would follow the values before."""
    for node in S.own_scope_nodes(stmt):
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)):
            continue
        held = root = node.func.value
        while isinstance(root, (gast.Attribute, gast.Subscript, gast.Call)):
            if isinstance(root, gast.Call) and not _may_return_held(root):
                break
            root = root.func if isinstance(root, gast.Call) else root.value
        if (
            node.func.attr not in S.CONTAINER_MUTATORS
            or held is root
            or not (isinstance(root, gast.Name) and root.id in local_names)
        ):
            continue
        text = getattr(held, "written_as", None) or S.text(held)
        raise UnsupportedSyntaxError(
            f"`{text}.{node.func.attr}(...)` changes in place a container that `{text}` "
            f"holds, which sourcegrad does not follow (it differentiates values): "
            f"{_held_way_out(held)}",
            parsed.filename,
            node.lineno,
        )


def _may_return_held(call) -> bool:
    """Whether the method call ``call`` may return an object its receiver holds (``d.get(k)``,
    ``net.layer(0)``), not a new one (``x.copy()``, ``x.tolist()``)."""
    fresh = ("copy", "tolist", "split", "keys", "values", "items")
    return isinstance(call.func, gast.Attribute) and call.func.attr not in fresh


def _held_way_out(held) -> str:
    """How to build, instead, a new container in the holder's place."""
    if hasattr(held, "written_as") or (
        isinstance(held, gast.Call) and held.func.attr in ("get", "setdefault")
    ):  # d.setdefault(k, []).append(v), d.get(k).append(v)
        d = S.text(held.value if hasattr(held, "written_as") else held.func.value)
        return f"store a new one in its place (`{d}[k] = [*{d}.get(k, []), v]`)"
    if isinstance(held, gast.Attribute) and S.text(held.value) == "self":
        return (
            "a layer's cache for a backward pass of its own is not needed (sourcegrad "
            "differentiates the forward code): leave it out of the code you differentiate, "
            "or build the list whole before you store it in the object"
        )
    if isinstance(held, gast.Attribute):
        return "build the list or dict whole before you store it in the object"
    if isinstance(held, gast.Call):
        return "keep the container in a variable of your own and build a new one (`ys = [*ys, v]`)"
    text = S.text(held)
    return f"store a new one in its place (`{text} = [*{text}, v]`)"


#: ``ufunc.at(a, idx, v)``: each position ``a[idx]`` selects, in order, combined with the item
#: of ``v`` broadcast to it (a position selected twice is combined twice, as NumPy does), and
#: cast to ``a``'s dtype as NumPy casts it (a float added into an integer array is cut, and
#: carries no derivative)
_UFUNC_AT = """
{pos} = np.arange(np.size({a})).reshape(np.shape({a}))[{idx}]
{val} = np.ravel(np.broadcast_to({v}, np.shape({pos})))
{at} = np.ravel({pos})
{flat} = {a}.flatten()
for {i} in range(len({at})):
    {j} = {at}[{i}]
    {flat}[{j}] = {ufunc}({flat}[{j}], {val}[{i}]).astype({flat}.dtype)
{a}[...] = {flat}.reshape(np.shape({a}))
"""

#: the positions ``np.fill_diagonal(a, ...)`` writes, with NumPy's ValueError where it has one
#: (an array of one dimension, or of more than two of different lengths)
_DIAGONAL = (
    "np.diag_indices(min(np.shape({a})), 2) if np.ndim({a}) == 2 else np.diag_indices_from({a})"
)

#: ``np.fill_diagonal(a, v)``: ``v``'s items, repeated or cut to the diagonal's length
_FILL_DIAGONAL = """
{val} = {v}
{pos} = {diagonal}
{a}[{pos}] = np.take({val}, np.arange(len({pos}[0])) % np.size({val}))
"""


def _indexed(stmt, parsed, local_names, names: S.NameGen) -> list:
    """``np.add.at(a, idx, v)`` (any ufunc of two operands) and ``np.fill_diagonal(a, v)``
    (``a`` a name of the function) as the item writes that compute the same ``a``
    (:data:`_UFUNC_AT`, :data:`_FILL_DIAGONAL`); ``[stmt]`` for anything else, or where
    ``np``, ``range``, ``len``, ``min`` or ``max`` are not NumPy and the builtins."""
    call = stmt.value if isinstance(stmt, gast.Expr) else None
    if not (
        isinstance(call, gast.Call)
        and call.args
        and isinstance(call.args[0], gast.Name)
        and not call.keywords
        and not any(isinstance(a, gast.Starred) for a in call.args)
        and resolve(parsed, S.name("np"), local_names) is np
        and all(
            resolve(parsed, S.name(b.__name__), local_names) is b for b in (range, len, min, max)
        )
    ):
        return [stmt]
    func = call.func
    ufunc = resolve(parsed, func.value, local_names) if isinstance(func, gast.Attribute) else None
    parts = {"a": call.args[0].id}
    if isinstance(ufunc, np.ufunc) and func.attr == "at" and ufunc.nin == 2 and len(call.args) == 3:
        template = _UFUNC_AT
        parts |= {"idx": call.args[1], "v": call.args[2], "ufunc": func.value}
    elif resolve(parsed, func, local_names) is np.fill_diagonal and len(call.args) == 2:
        template = _FILL_DIAGONAL
        parts["v"] = call.args[1]
    else:
        return [stmt]
    text = {k: v if isinstance(v, str) else f"({S.text(v)})" for k, v in parts.items()}
    fresh = {k: names.fresh(k) for k in ("pos", "val", "at", "flat", "i", "j")}
    diagonal = _DIAGONAL.format(a=text["a"])
    body = gast.parse(template.format(**text, **fresh, diagonal=diagonal)).body
    for node in body:
        for sub in S.walk(node):
            if isinstance(sub, (gast.stmt, gast.expr)):
                sub.lineno = stmt.lineno
                sub.end_lineno = getattr(stmt, "end_lineno", None) or stmt.lineno
    return body


def _item_of_item(stmt, names: S.NameGen) -> list:
    """``xs[t][k] = v`` (or ``+=``) as ``item = xs[t]; item[k] = v; xs[t] = item``, the last
    lowered again where ``xs[t]`` is itself an item of an item; ``[stmt]`` for any other
    statement. An index other than a name or a constant is evaluated once, first."""
    if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
    elif isinstance(stmt, gast.AugAssign):
        target = stmt.target
    else:
        return [stmt]
    if not (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Subscript)):
        return [stmt]
    root = target.value
    while isinstance(root, gast.Subscript):
        root = root.value
    if not isinstance(root, gast.Name):
        return [stmt]  # refused, with the user's line, where it is lowered
    holder, index = target.value.value, target.value.slice
    out = []
    if not isinstance(index, (gast.Name, gast.Constant)):
        key = names.fresh("key", always_suffix=True)
        out.append(gast.copy_location(S.assign(key, index), stmt))
        index = S.name(key)
    item = names.fresh(f"{root.id}_item")
    read = S.assign(item, gast.Subscript(value=S.clone(holder), slice=index, ctx=gast.Load()))
    if not out:  # `xs[t][k] = [*xs[t][k], v]` reads the item through its name too
        _read_through(stmt, gast.dump(read.value), item)
    target.value = S.name(item)
    back = gast.Subscript(value=S.clone(holder), slice=S.clone(index), ctx=gast.Store())
    write_back = gast.Assign(targets=[back], value=S.name(item), type_comment=None)
    for made in (read, write_back):
        gast.copy_location(made, stmt)
        set_fact(made, "item_write", root.id)
    return [*out, read, stmt, *_item_of_item(write_back, names)]


def _read_through(stmt, item_read: str, item: str) -> None:
    """Replace, in place, each read in ``stmt``'s value dumped as ``item_read`` (``xs[t]``)
    by ``item``, the name it was just read into (nothing changes it before the value)."""
    for node in S.walk(stmt.value):
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.Subscript) and gast.dump(value) == item_read:
                setattr(node, field, S.name(item))
            elif isinstance(value, list):
                same = [isinstance(v, gast.Subscript) and gast.dump(v) == item_read for v in value]
                value[:] = [S.name(item) if hit else v for v, hit in zip(value, same)]


def _refuse_output_read(stmt, parsed, local_names) -> None:
    """Refuse a NumPy call with ``out=`` inside an expression (its value read) in ``stmt``
    (not in the statements nested in it)."""
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call):
        parts = [*stmt.value.args, *[k.value for k in stmt.value.keywords]]
    else:
        parts = [getattr(stmt, f, None) for f in ("value", "test", "iter", "target")]
        parts += list(getattr(stmt, "targets", None) or [])
    for part in parts:
        for node in S.walk(part) if part is not None else ():
            out = _output_of(node, parsed, local_names) if isinstance(node, gast.Call) else None
            if out is not None:
                call = S.text(_without_output(node, parsed, local_names))
                _refuse(
                    parsed,
                    node,
                    f"`{S.text(node)}` writes its result into an existing array, and its value "
                    f"is read as well; write `{S.text(out)} = {call}` on a line of its own "
                    "instead of `out=`, then read it",
                )


def _lowered(stmt, parsed, local_names):
    """``stmt`` as a write into an item where it is one of the calls followed exactly."""
    if not (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Call)):
        return stmt
    call = stmt.value
    out = _output_of(call, parsed, local_names)
    if out is not None:
        if any(k.arg == "where" for k in call.keywords):
            _refuse(
                parsed,
                call,
                f"`{S.text(call)}` writes only where `where` holds, which sourcegrad does not "
                "follow; compute the new array with np.where(mask, new, old) and assign it",
            )
        if isinstance(out, gast.Tuple) and len(out.elts) == 1:
            out = out.elts[0]
        if not isinstance(out, gast.Name):
            names = out.elts if isinstance(out, gast.Tuple) else [out]
            plain = S.text(_without_output(call, parsed, local_names))
            _refuse(
                parsed,
                call,
                f"`{S.text(call)}` writes into `{S.text(out)}`, which sourcegrad does not "
                f"follow; assign the result instead: "
                f"`{', '.join(S.text(n) for n in names)} = {plain}`",
            )
        write = _write_all(out.id, _without_output(call, parsed, local_names), stmt)
        set_fact(write, "same_kind", True)
        return write
    target = _copy_or_fill(call, parsed, local_names)
    if target is not None:
        write = _write_all(target[0], target[1], stmt)
        set_fact(write, "same_kind", not _is_fill(call))  # (y.fill(v) casts as it must)
        return write
    if _fills_diagonal(call, parsed, local_names):
        y = call.args[0].id
        index = gast.parse(_DIAGONAL.format(a=y)).body[0].value
        target = gast.Subscript(value=S.name(y), slice=index, ctx=gast.Store())
        new = gast.Assign(targets=[target], value=S.clone(call.args[1]), type_comment=None)
        return gast.copy_location(new, stmt)
    if _sorts_in_place(call, parsed, local_names):
        # an array's sort as `y[...] = np.sort(y)`; a list's stays as written
        y = call.func.value.id
        test = S.call(S.name("isinstance"), [S.name(y), S.attr_chain("np.ndarray")])
        value = S.call(S.attr_chain("np.sort"), [S.name(y), *S.clone(call.args)])
        value.keywords = S.clone(call.keywords)
        branch = gast.If(test=test, body=[_write_all(y, value, stmt)], orelse=[stmt])
        return gast.copy_location(branch, stmt)
    return stmt


def _sorts_in_place(call, parsed, local_names) -> bool:
    """``y.sort(...)`` on a name of the function, where ``np`` and ``isinstance`` are
    NumPy and the builtin."""
    return (
        isinstance(call.func, gast.Attribute)
        and call.func.attr == "sort"
        and isinstance(call.func.value, gast.Name)
        and call.func.value.id in local_names
        and numpy_in_scope(parsed, local_names)
    )


def _fills_diagonal(call, parsed, local_names) -> bool:
    """``np.fill_diagonal(y, c)`` on a name of the function, ``c`` a number written as a
    literal (an array value would be repeated along the diagonal), where ``np`` and ``min``
    are NumPy and the builtin."""
    return (
        len(call.args) == 2
        and not call.keywords
        and isinstance(call.args[0], gast.Name)
        and call.args[0].id in local_names
        and _number_literal(call.args[1], parsed, local_names)
        and resolve(parsed, call.func, local_names) is np.fill_diagonal
        and resolve(parsed, S.name("np"), local_names) is np
        and resolve(parsed, S.name("min"), local_names) is min
    )


def _number_literal(node, parsed, local_names) -> bool:
    """``node`` is a number: a constant, one negated, or ``np.inf`` / ``np.nan`` / ``np.pi``."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        node = node.operand
    if isinstance(node, gast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
    if isinstance(node, gast.Attribute):
        return isinstance(resolve(parsed, node, local_names), float)
    return False


def numpy_in_scope(parsed, local_names) -> bool:
    """Whether the function reads NumPy as ``np`` and ``isinstance`` as the builtin."""
    return (
        resolve(parsed, S.name("np"), local_names) is np
        and resolve(parsed, S.name("isinstance"), local_names) is isinstance
    )


def _copy_or_fill(call, parsed, local_names):
    """``(y, value)`` for ``np.copyto(y, value)`` or ``y.fill(value)``, else None."""
    fn = resolve(parsed, call.func, local_names)
    if (
        fn is np.copyto
        and len(call.args) == 2
        and not call.keywords
        and isinstance(call.args[0], gast.Name)
    ):
        return call.args[0].id, call.args[1]
    if (
        isinstance(call.func, gast.Attribute)
        and call.func.attr == "fill"
        and isinstance(call.func.value, gast.Name)
        and call.func.value.id in local_names
        and len(call.args) == 1
        and not call.keywords
    ):
        return call.func.value.id, call.args[0]
    return None


def _is_fill(call) -> bool:
    return isinstance(call.func, gast.Attribute) and call.func.attr == "fill"


def _write_all(name: str, value, stmt):
    target = gast.Subscript(value=S.name(name), slice=S.const(Ellipsis), ctx=gast.Store())
    new = gast.Assign(targets=[target], value=value, type_comment=None)
    return gast.copy_location(new, stmt)


def _output_of(call, parsed, local_names):
    """The output argument of a NumPy call that writes its result into it, else None."""
    given = method_output_by_position(call, local_names)
    if given is not None:
        _refuse(
            parsed,
            call,
            f"`{S.text(call)}` gives its output `{S.text(given)}` by position, which "
            f"sourcegrad does not follow there; give it as `out={S.text(given)}`",
        )
    if _is_numpy_call(call, parsed, local_names):
        for k in call.keywords:
            if k.arg == "out" and not S.is_none(k.value):
                return k.value
    return None


def _is_numpy_call(call, parsed, local_names) -> bool:
    """A call of a NumPy function or ufunc method, or of an array method that takes ``out=``
    on a value the function computes (a function of the user's own may mean something else
    by ``out``)."""
    fn = resolve(parsed, call.func, local_names)
    module = getattr(fn, "__module__", None) or ""
    if isinstance(fn, np.ufunc) or module == "numpy" or module.startswith("numpy."):
        return True
    if isinstance(getattr(fn, "__self__", None), np.ufunc):
        return True  # (a ufunc's method: `np.add.reduce(a, out=y)`)
    return array_method_call(call, local_names)


def _without_output(call, parsed, local_names):
    """A copy of ``call`` without its output argument (the parser made it a keyword)."""
    keywords = [k for k in call.keywords if k.arg != "out"]
    return gast.Call(func=S.clone(call.func), args=S.clone(call.args), keywords=S.clone(keywords))


def _refuse(parsed, node, message: str):
    raise UnsupportedSyntaxError(message, parsed.filename, getattr(node, "lineno", None))


def refuse_unmodelled_writes(core, analysis_facts) -> None:
    """Refuse a call that writes into an array in place (``y.sort()`` of a list,
    ``np.put(y, ...)``, ``np.add.at(y, ...)``) where the array or a value written into it is
    differentiated, or where a differentiated operation read the array before the write (its
    adjoint would read the array as written): the derivative would not follow the write.
    ``analysis_facts``: ``(ops, varied, active, ranks, local names)`` of the analysis."""
    if core.parsed.filename.startswith("<sourcegrad"):
        return  # derivative code: the user's own writes were checked when it was made
    ops, varied, active, ranks, local = analysis_facts
    sorts_arrays = numpy_in_scope(core.parsed, local)
    order = list(walk_statements(core.node.body))
    for i, stmt in enumerate(order):
        if not isinstance(stmt, (gast.Expr, gast.Assign)) or not isinstance(stmt.value, gast.Call):
            continue
        call = stmt.value
        found = unmodelled_write(core.parsed, call, local)
        if found is None:
            continue
        receiver = getattr(found[0], "id", None)
        if sorts_arrays and S.dotted(call.func) == f"{receiver}.sort" and ranks.get(receiver):
            continue  # the branch lower_writes made for a list, never run for an array
        before = varied.get(("in", id(stmt)), set())
        operands = [found[0]] + list(call.args) + [k.value for k in call.keywords]
        earlier = order[:i] + statements_in_loops_around(core.node.body, stmt)
        if not any(S.names_in(a) & before for a in operands) and not _read_differentiated(
            receiver, earlier, ops, active
        ):
            continue
        written, target, way_out = _as_written(core.parsed, stmt.lineno, local) or (call, *found)
        name = S.text(target)
        raise UnsupportedSyntaxError(
            f"`{S.text(written)}` writes into `{name}` in place, which sourcegrad does not "
            "follow where it meets a differentiated value; compute the new array and assign it "
            f"instead: {way_out}",
            core.parsed.filename,
            stmt.lineno,
        )


def _read_differentiated(name, stmts, ops: dict, active: set) -> bool:
    """Whether one of ``stmts`` reads ``name`` in an operation whose result is active."""
    for stmt in stmts:
        op = ops.get(id(stmt))
        if op is None or not isinstance(stmt, gast.Assign) or not written_names(stmt) & active:
            continue
        if any(name in S.names_in(a) for a in op.diff_atoms()):
            return True
    return False


def _as_written(parsed, line: int, local: set):
    """``(call, name, way out)``: :func:`unmodelled_write` of the call as the user wrote it at
    ``line`` (with the user's names), or None."""
    for stmt in walk_statements(parsed.node.body):
        if getattr(stmt, "lineno", None) != line or isinstance(stmt, gast.FunctionDef):
            continue
        for node in S.walk(stmt):
            if isinstance(node, gast.Call):
                found = unmodelled_write(parsed, node, local)
                if found is not None:
                    return (node, *found)
    return None


def unmodelled_write(parsed, call, local: set):
    """``(node written into, way out)`` for a call that writes into an array in place and
    that sourcegrad does not follow, else None."""
    func = call.func
    if isinstance(func, gast.Attribute) and func.attr == "at" and call.args:
        ufunc = resolve(parsed, func.value, local)
        if isinstance(ufunc, np.ufunc):
            y = S.text(call.args[0])
            return call.args[0], (
                f"a loop (`for i, k in enumerate(idx): {y}[k] = {y}[k] + v[i]`), since "
                f"np.{ufunc.__name__}.at applies at every repeat of an index"
            )
    if isinstance(func, gast.Attribute) and func.attr == "shuffle" and call.args:
        y = S.text(call.args[0])  # np.random.shuffle(y), rng.shuffle(y)
        return call.args[0], f"`{y} = np.random.permutation({y})` (`rng.permutation({y})`)"
    fn = resolve(parsed, func, local)
    if _is_writing_function(fn) and call.args:
        return call.args[0], WRITING_FUNCTIONS[fn].format(y=S.text(call.args[0]))
    if (
        isinstance(func, gast.Attribute)
        and func.attr in IN_PLACE_METHODS
        and isinstance(func.value, gast.Name)
        and func.value.id in local
    ):
        return func.value, IN_PLACE_METHODS[func.attr].format(y=func.value.id)
    return None


def _is_writing_function(fn) -> bool:
    try:
        return fn in WRITING_FUNCTIONS
    except TypeError:  # an unhashable value
        return False
