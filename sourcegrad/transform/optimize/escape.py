"""Where the memory of an array may outlive a statement: views, ``out=`` arguments, NumPy
functions that make new arrays, the function's own tape stacks, transposed layouts."""

from __future__ import annotations

import functools
import inspect

import gast
import numpy as np

from ...rules.facts import numpy_names
from .. import syntax as S
from ..signatures import parameters


def out_buffer(e):
    """The name of the ``out=`` buffer of the call ``e``, or None."""
    if isinstance(e, gast.Call):
        for k in e.keywords:
            if k.arg == "out" and isinstance(k.value, gast.Name):
                return k.value.id
    return None


#: attributes that read an array without keeping (or handing out) its memory
_READ_ATTRIBUTES = {"shape", "dtype", "ndim", "size", "nbytes", "itemsize"}


#: attributes and methods whose result may share the array's memory (views)
_VIEW_ATTRIBUTES = {"T", "reshape", "ravel", "transpose", "squeeze", "real", "imag"}


#: array methods whose result is a new array
FRESH_METHODS = {"copy", "sum", "mean", "prod", "dot", "cumsum", "var", "std", "max", "min"}


#: NumPy functions of arrays whose result is a new array (not ``np.array``: ``copy=False``),
#: as declared next to their rules
FRESH_FUNCTIONS = numpy_names(allocates="new")


#: np.linalg functions whose result is always a new array (matrix_power(a, 1) may be a)
FRESH_LINALG = numpy_names(np.linalg, allocates="new")


#: NumPy functions whose result may share the memory of an argument
_VIEW_FUNCTIONS = numpy_names(allocates="view")


_TRANSPOSING = {"T", "transpose", "swapaxes", "moveaxis", "matrix_transpose", "mT"}


def transposed_names(body) -> set:
    """Names some statement binds to a value that reads a transposed array (``vt = v.T``),
    directly or through such a name: NumPy lays an elementwise result out like its operands
    (order ``K``), so a C-ordered buffer in its place would change how later sums round."""
    names: set = set()
    assigns = [
        s
        for s in S.nodes_of(gast.Module(body=body, type_ignores=[]), (gast.Assign,))
        if isinstance(s.targets[0], gast.Name)
    ]
    while True:
        more = {s.targets[0].id for s in assigns if reads_transposed(s.value, names)} - names
        if not more:
            return names
        names |= more


def reads_transposed(e, transposed) -> bool:
    """Whether ``e``, where its result is laid out like its operands (not ``np.dot`` or
    ``np.matmul``: C order), transposes an array or reads a name of ``transposed``."""
    if isinstance(e, gast.Call) and getattr(e.func, "attr", None) in ("dot", "matmul"):
        return False
    for n in S.nodes_of(e, (gast.Attribute, gast.Name)):
        if n.attr in _TRANSPOSING if type(n) is gast.Attribute else n.id in transposed:
            return True
    return False


def tape_stacks(body) -> set:
    """Names of lists the function makes (``tape = []`` at its top level) and uses only as a
    stack of its own: ``tape.append(x)`` statements and ``x = tape.pop()``."""
    made = {
        id(s): s.targets[0].id
        for s in body
        if isinstance(s, gast.Assign)
        and isinstance(s.targets[0], gast.Name)
        and isinstance(s.value, gast.List)
        and not s.value.elts
    }
    ok = set(made.values())
    for stmt in S.walk(gast.Module(body=body, type_ignores=[])):
        if not isinstance(stmt, gast.stmt) or isinstance(stmt, (gast.If, gast.For, gast.While)):
            continue
        used = {n.id for n in S.name_nodes(stmt)} & ok
        if used and not (id(stmt) in made or pushed(stmt, used) or S.popped_stack(stmt) in used):
            ok -= used
    return ok


def pushed(stmt, stacks) -> set:
    """``{x}`` where ``stmt`` is ``stack.append(x)`` on one of ``stacks``, else empty."""
    v = getattr(stmt, "value", None)
    if (
        isinstance(stmt, gast.Expr)
        and isinstance(v, gast.Call)
        and isinstance(v.func, gast.Attribute)
        and v.func.attr == "append"
        and isinstance(v.func.value, gast.Name)
        and v.func.value.id in stacks
        and len(v.args) == 1
        and not v.keywords
    ):
        a = v.args[0]
        return (
            {a.id}
            if isinstance(a, gast.Name)
            else set() if isinstance(a, gast.Constant) else {None}
        )
    return set()


def escaping(body, members: dict, np_name, helpers, stacks, arrays) -> set:
    """The names of ``members`` (name -> its groups) read anywhere in ``body`` where the memory
    may be kept or handed out: anything but an operand of arithmetic or of a NumPy function
    making a new array, an index, a value written into another array (``y[k] = h``), a
    binding of a name of the same group, or a view read in one of those ways. ``y[k] = h``
    copies only where ``y`` is one of ``arrays`` (a list keeps ``h``). A name pushed
    on one of ``stacks`` (the tape) is read where it is popped into the same name."""
    unsafe = set()
    for stmt in body:
        parents = S.parent_map(stmt)
        for n in S.name_nodes(stmt):
            if n.id in members:
                parent = parents.get(id(n))
                if isinstance(n.ctx, gast.Load):
                    statement = parents.get(id(parent)) if parent is not None else None
                    if isinstance(statement, gast.Expr) and pushed(statement, stacks) == {n.id}:
                        continue  # kept on the function's own tape, popped into the name
                    if not _kept_inside(n, parents, members, np_name, helpers, arrays):
                        unsafe.add(n.id)
                elif isinstance(n.ctx, gast.Store) and not (
                    isinstance(parent, gast.Assign) and parent.targets[0] is n
                ):
                    unsafe.add(n.id)  # bound by unpacking, a loop header, ...
    return unsafe


def _kept_inside(n, parents, members, np_name, helpers, arrays) -> bool:
    """Whether the value read at ``n`` (or a view of it) cannot outlive the statement except
    through a name of its own group."""
    group = members[n.id][0]
    child, node = n, parents.get(id(n))
    while node is not None:
        if isinstance(node, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True
        if isinstance(node, gast.Subscript):
            if child is not node.value:
                return True  # an index
        elif isinstance(node, gast.Attribute):
            if node.attr in _READ_ATTRIBUTES:
                return True
            call = parents.get(id(node))
            method = isinstance(call, gast.Call) and call.func is node
            if method and node.attr in FRESH_METHODS:
                return True
            if node.attr not in _VIEW_ATTRIBUTES:
                return False
            if method:
                node = call  # the method's result: a view
        elif isinstance(node, gast.Call):
            if child is node.func:
                return False
            if out_buffer(node) is not None or _positional_out(node, np_name):
                if not _is_out(child, node, np_name):
                    return True  # an input of a NumPy call that writes into another array
            elif isinstance(node.func, gast.Name) and node.func.id in helpers:
                return True  # a runtime helper making a new array of its arguments' values
            elif _makes_new_array(node.func, np_name):
                return True
            elif not _numpy_function(node.func, np_name, _VIEW_FUNCTIONS):
                return False
        elif isinstance(node, gast.keyword):
            pass
        elif isinstance(node, gast.Assign):
            target = node.targets[0]
            if child is not node.value:
                return True
            if isinstance(target, gast.Subscript):  # copied into another array, or kept
                return isinstance(target.value, gast.Name) and target.value.id in arrays
            return isinstance(target, gast.Name) and group in members.get(target.id, ())
        elif isinstance(node, gast.AugAssign):
            return child is node.value or isinstance(node.target, gast.Name)
        else:
            return False  # a container, a return, a call of anything else, ...
        child, node = node, parents.get(id(node))
    return False


def _numpy_function(func, np_name, names) -> bool:
    """Whether ``func`` is ``np.<name>`` for one of ``names``."""
    return (
        isinstance(func, gast.Attribute) and func.attr in names and S.dotted(func.value) == np_name
    )


def _makes_new_array(func, np_name) -> bool:
    """Whether ``func`` is a NumPy function whose result never shares an argument's memory:
    a ufunc or a ufunc's ``reduce``, one of :data:`FRESH_FUNCTIONS`, or ``np.linalg``'s."""
    if not isinstance(func, gast.Attribute):
        return False
    base = S.dotted(func.value)
    if base == np_name:
        return func.attr in FRESH_FUNCTIONS or isinstance(getattr(np, func.attr, None), np.ufunc)
    if base == f"{np_name}.linalg":
        return func.attr in FRESH_LINALG
    if isinstance(func.value, gast.Attribute) and S.dotted(func.value.value) == np_name:
        return func.attr == "reduce" and isinstance(getattr(np, func.value.attr, None), np.ufunc)
    return False


def _is_out(child, call, np_name) -> bool:
    """Whether ``child`` is the ``out`` argument of ``call`` (by keyword or position)."""
    if isinstance(child, gast.keyword):
        return child.arg == "out"
    at = out_position(call, np_name)
    return at is not None and child in call.args and call.args.index(child) >= at


def _positional_out(call, np_name) -> bool:
    """Whether the call writes into an ``out`` array passed by position."""
    at = out_position(call, np_name)
    return at is not None and len(call.args) > at


#: where array methods take ``out`` by position (``a.sum(axis, dtype, out)``)
_METHOD_OUT = {"sum": 2, "mean": 2, "prod": 2, "cumsum": 2, "std": 2, "var": 2, "max": 1, "min": 1}


_METHOD_OUT.update(dot=1, clip=2, cumprod=2, round=1, take=2, choose=1, trace=4, any=1, all=1)


def out_position(call, np_name):
    """The position of ``call``'s ``out`` argument, where it is a NumPy ufunc, ufunc method,
    function or an array method that has one (0 for a NumPy function whose signature cannot
    be read: any positional argument may be where its result goes); None where it has none."""
    f = call.func
    if not isinstance(f, gast.Attribute):
        return None
    base = S.dotted(f.value)
    if base == np_name:
        return _numpy_out_position(f.attr)
    if (
        isinstance(f.value, gast.Attribute)
        and S.dotted(f.value.value) == np_name
        and isinstance(getattr(np, f.value.attr, None), np.ufunc)
    ):
        return {"reduce": 3, "accumulate": 3, "reduceat": 4, "outer": 2}.get(f.attr, 0)
    if base == f"{np_name}.linalg":
        return None
    return _METHOD_OUT.get(f.attr)


@functools.cache
def _numpy_out_position(attr):
    fn = getattr(np, attr, None)
    if isinstance(fn, np.ufunc):
        return fn.nin
    params = parameters(fn)
    if params is None:
        return 0  # unknown: any positional argument may be an out
    for k, (name, kind) in enumerate(params):
        if kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return None  # *operands (einsum), then keyword-only: none by position
        if name == "out":
            return k
    return None
