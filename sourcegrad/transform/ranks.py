"""Ranks: the number of dimensions of each name, where the argument signature fixes it
(part of the analysis pass)."""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .forms import Core, Op
from .node_facts import get_fact
from .walk import walk_statements, written_names

REDUCTION_FUNCTIONS = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}


def _example_rank(value):
    if isinstance(value, (float, int, complex, np.number)):
        return 0
    nd = getattr(value, "ndim", None)
    return nd if isinstance(nd, int) else None


def infer_ranks(core: Core, ops: dict, example_args) -> dict:
    """Ranks of names, where the example arguments' ranks determine them."""
    ranks: dict = {}
    if example_args is not None:
        for name, value in zip(core.params, example_args):
            ranks[name] = _example_rank(value)
    # until nothing changes: in a loop, a value assigned late in the body reaches the
    # statements before it on the next iteration (a rank only ever becomes unknown)
    for _ in range(20):
        before = dict(ranks)
        _rank_sweep(core, ops, example_args, ranks)
        if ranks == before:
            break
    return ranks


def _rank_sweep(core: Core, ops: dict, example_args, ranks: dict) -> None:
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, gast.For) and isinstance(stmt.target, gast.Name):
            is_range = (
                isinstance(stmt.iter, gast.Call) and getattr(stmt.iter.func, "id", "") == "range"
            )
            ranks[stmt.target.id] = 0 if is_range else None
            continue
        if not isinstance(stmt, gast.Assign):
            continue
        op = ops[id(stmt)]
        targets = written_names(stmt)
        if len(targets) != 1:
            continue
        (t,) = targets
        r = None
        if op.key == "path" and example_args is not None:
            r = _example_rank(follow_path(core, stmt, example_args))
        else:
            r = rank_of(op, ranks)
        if t in ranks and ranks[t] != r:
            r = None  # a name assigned twice (in branches, in a loop) with different ranks
        ranks[t] = r


def follow_path(core, stmt, example_args):
    """The example value a path read reads; a missing key or field is refused here."""
    root, keys = get_fact(stmt, "path")
    i = core.params.index(root)
    if i >= len(example_args):
        return None
    value = example_args[i]
    for k in keys:
        try:
            if isinstance(value, (dict, list, tuple)) and not (
                isinstance(k, str) and hasattr(type(value), "_fields")
            ):
                value = value[k]
            elif isinstance(k, str) and hasattr(type(value), "_fields"):
                value = getattr(value, k)
            elif isinstance(k, int) and getattr(value, "ndim", 0) > 0:
                value = value[k]
            elif isinstance(k, str) and not isinstance(value, dict):
                value = getattr(value, k)  # an attribute of one of the user's objects
            else:
                return None  # an array read by index: its rank is worked out elsewhere
        except (KeyError, IndexError, AttributeError, TypeError):
            text = core.parsed.line_text(stmt.lineno)
            raise UnsupportedSyntaxError(
                f"`{S.text(stmt.value)}` reads {k!r}, which argument {root!r} does not have "
                f"(in `{text}`); check the key, or pass a value that has it",
                core.parsed.filename,
                stmt.lineno,
            ) from None
    return value


def atom_rank(atom, ranks):
    """The rank of an atom: 0 for a number, a name's inferred rank, else None."""
    if isinstance(atom, gast.Constant):
        return 0 if isinstance(atom.value, (int, float, complex)) else None
    if isinstance(atom, gast.Name):
        return ranks.get(atom.id)
    return None


_UNDECIDED = object()


def rank_of(op: Op, ranks):
    """The rank of the value ``op`` computes from the ranks of its operands (None where
    they do not decide it)."""
    for rule in (_rank_elementwise, _rank_reduction, _rank_rearranged, _rank_made):
        r = rule(op, ranks)
        if r is not _UNDECIDED:
            return r
    return None


def _rank_elementwise(op: Op, ranks):
    key = op.key
    args = [atom_rank(a, ranks) for a in op.operands]
    if key == "setitem":
        return args[0] if args else None
    if key in ("copy", "astype", "item") or key in (np.copy, np.asarray, np.array, float):
        return 0 if key in ("item", float) else (args[0] if args else None)
    if isinstance(key, np.ufunc) and key is not np.matmul:
        known = [r for r in args if r is not None]
        return max(known) if len(known) == len(args) and known else None
    if key in (np.where, np.clip):
        known = [
            atom_rank(a, ranks)
            for a in op.operands
            if not isinstance(a, gast.Constant) or a.value is not None
        ]
        return max(known) if known and None not in known else None
    return _UNDECIDED


def _rank_reduction(op: Op, ranks):
    key = op.key
    b = op.bound
    if key in REDUCTION_FUNCTIONS:
        r = atom_rank(b.get("a"), ranks)
        axis = b.get("axis")
        keep = b.get("keepdims")
        if S.is_none(axis) and isinstance(keep, gast.Constant) and not keep.value:
            return 0
        if (
            r is None
            or not isinstance(axis, (gast.Constant, gast.Tuple))
            or not isinstance(keep, gast.Constant)
        ):
            return None
        if keep.value:
            return r
        if isinstance(axis, gast.Constant):
            return 0 if axis.value is None else r - 1
        return r - len(axis.elts)
    if key in (np.matmul, np.dot):
        x, y = (atom_rank(a, ranks) for a in list(b.values())[:2])
        if x is None or y is None:
            return None
        if x == 0 or y == 0:
            return max(x, y) if key is np.dot else None
        if x == 1 and y == 1:
            return 0
        if x == 1 or y == 1:
            return max(x, y) - 1
        return max(x, y)
    return _UNDECIDED


def _rank_rearranged(op: Op, ranks):
    key = op.key
    b = op.bound
    args = [atom_rank(a, ranks) for a in op.operands]
    if key in ("T", np.transpose, np.swapaxes, np.moveaxis, np.flip):
        return args[0] if args else None
    if key is np.cumsum:
        axis = b.get("axis")
        if isinstance(axis, gast.Constant) and axis.value is None:
            return 1
        return args[0]
    if key in (np.ravel,):
        return 1
    if key is np.outer:
        return 2
    if key is np.reshape:
        # the rule takes the shape through *args: read it from the operands
        shape = op.operands[1] if len(op.operands) > 1 else None
        if isinstance(shape, gast.Tuple):
            return len(shape.elts)
        if isinstance(shape, gast.Constant) and isinstance(shape.value, int):
            return 1
        return None
    if key == "getitem":
        return _rank_indexed(op, ranks)
    return _UNDECIDED


def _rank_indexed(op: Op, ranks):
    """The rank of ``x[index]``."""
    x, index = op.operands[0], op.operands[1]
    r = atom_rank(x, ranks)
    items = index.elts if isinstance(index, gast.Tuple) else [index]
    if r is None:
        return None
    for it in items:
        if isinstance(it, gast.Slice):
            continue
        if isinstance(it, gast.Constant):
            if it.value is None:
                r += 1
            elif isinstance(it.value, int):
                r -= 1
            else:
                return None
        elif isinstance(it, gast.Name) and ranks.get(it.id) == 0:
            r -= 1  # an integer variable (a loop index)
        else:
            return None
    return r


def _rank_made(op: Op, ranks):
    key = op.key
    b = op.bound
    args = [atom_rank(a, ranks) for a in op.operands]
    if key is np.stack:
        elts = b.get("arrays")
        if isinstance(elts, (gast.Tuple, gast.List)) and elts.elts:
            r = atom_rank(elts.elts[0], ranks)
            return None if r is None else r + 1
        return None
    if key is np.concatenate:
        elts = b.get("arrays")
        if isinstance(elts, (gast.Tuple, gast.List)) and elts.elts:
            return atom_rank(elts.elts[0], ranks)
        return None
    if key is np.expand_dims:
        r = args[0] if args else None
        axis = op.operands[1] if len(op.operands) > 1 else None
        if r is not None and isinstance(axis, gast.Constant) and isinstance(axis.value, int):
            return r + 1
        return None
    if key in (np.linalg.inv, np.linalg.cholesky):
        return args[0]
    if key is np.linalg.det:
        return None if args[0] is None else args[0] - 2
    if key in (np.zeros, np.ones, np.empty, np.full) and op.operands:
        shape = op.operands[0]
        if isinstance(shape, gast.Tuple):
            return len(shape.elts)
        return 1 if atom_rank(shape, ranks) == 0 else None
    if key == "shape":
        return 1  # a tuple of ints indexes like a vector: x.shape[0] is a number
    if key in ("ndim", "size") or key in (len, int, np.ndim, np.size):
        return 0
    if key in ("dtype", "compare"):
        return None
    return None
