"""Ranks: the number of dimensions of each name, where the argument signature fixes it
(part of the analysis pass)."""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from ..rules.facts import rank_of
from . import syntax as S
from .forms import Core
from .node_facts import get_fact
from .walk import walk_statements, written_names


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
