"""Pass 3 — analyze: what each statement computes, and which values need adjoints.

Guarantees to the next pass (``Analysis``):

* ``ops[id(stmt)]`` classifies every assignment and expression statement: the rule key, the
  rule (or ``"constant"``), the operands bound to the rule's parameters, and whether the
  operation is free of side effects;
* ``active``: the names that depend on a ``wrt`` argument through differentiable operations
  **and** reach the output through them (activity analysis, solved as two data-flow problems
  on the control-flow graph); only these get adjoints;
* ``ranks``: the number of dimensions of each name where the argument signature fixes it;
* ``same_shape``: classes of names whose shapes are provably equal (so a broadcast reduction
  between them is the identity).

Operations on active values that have no rule are refused here, with the user's file and line.
"""

from __future__ import annotations

import gast
import numpy as np

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .activity import (
    active_names,
    closure_transfer,
    refuse_undifferentiable,
    resolve_calls,
    useful_transfer,
    varied_transfer,
)
from .attribute_state import refuse_stored_attribute_reads
from .call_ranks import returned_rank
from .captures import refuse_changed_captures
from .cfg import build_cfg, solve_backward, solve_forward
from .classify import classify
from .floating import floating_names
from .forms import Analysis, Core, Op, ShapeClasses
from .in_place_casts import in_place_casts, may_be_a_0d_array
from .masked_branches import mask_where_branches
from .method_state import refuse_method_state, refuse_outer_state
from .mutations import refuse_container_mutations
from .node_facts import set_fact
from .object_classes import assignments_indexed, defines_method, operator_method
from .ranks import infer_ranks
from .recomputed_draws import refuse_recomputed_draws
from .rule_binding import definitions_indexed, local_names
from .walk import walk_statements, written_names
from .writes import refuse_unmodelled_writes

__all__ = ["analyze"]


def analyze(
    core: Core, wrt: tuple, example_args=None, whole_output: bool = False, mode: str = "reverse"
) -> Analysis:
    """Classify operations, run activity analysis and rank inference for ``wrt``.

    Returns a new :class:`Analysis` of ``core``; the core's tree is not changed, but
    ``core.example_args`` and ``core.forward`` are set to this analysis' arguments and mode.
    ``mode="forward"`` classifies with the forward-mode (tangent) rules instead of the
    reverse-mode ones."""
    core.example_args = example_args
    core.forward = mode == "forward"
    with definitions_indexed(core):  # (nested functions and their names looked up)
        return _analyze(core, wrt, example_args, whole_output)


def _analyze(core: Core, wrt: tuple, example_args, whole_output: bool) -> Analysis:
    ops = _classify_all(core)
    wrt_names = {core.params[i] for i in wrt}
    out = core.node.body[-1].value if whole_output else _output(core)
    cfg = build_cfg(core.node.body)
    varied = solve_forward(cfg, set(wrt_names), varied_transfer(ops))
    view_checks = refuse_container_mutations(core, ops, cfg, varied)
    refuse_method_state(core, ops, varied, cfg)
    refuse_outer_state(core, varied, cfg)
    refuse_stored_attribute_reads(core, varied, ops)
    refuse_recomputed_draws(core, ops, varied)
    resolve_calls(core, ops, varied, solve_forward(cfg, set(), closure_transfer(core, varied, ops)))
    refuse_changed_captures(core, ops)
    useful_in = solve_backward(cfg, set(), useful_transfer(ops, out))
    active = active_names(core, varied, useful_in, wrt_names)
    refuse_undifferentiable(core, ops, varied, useful_in)
    returned = _returned_ranks(core, example_args)
    ranks = infer_ranks(core, ops, example_args, returned=returned)
    if not core.forward:
        mask_where_branches(core, ops, ranks)
    refuse_unmodelled_writes(core, (ops, varied, active, ranks, local_names(core)))
    deep: list = []  # the ranks through containers' items, worked out where needed
    for name, message, line in [*core.alias_checks, *view_checks]:
        if _rebinds_an_object(core, name, line):
            continue
        if name is not None and ranks.get(name) is None:
            if not deep:
                deep.append(infer_ranks(core, ops, example_args, True, returned))
            if deep[0].get(name) == 0:
                if may_be_a_0d_array(core, name):  # (`d[k] += v` of a 0-d array item)
                    _checked_when_run(core, name, (message, line))
                continue  # a number read out of a container (`for v in d.values()`)
            if _checked_when_run(core, name, (message, line)):
                continue
        if name is None or ranks.get(name) != 0:
            raise UnsupportedSyntaxError(message, core.parsed.filename, line)
        if may_be_a_0d_array(core, name):  # a number of rank 0 is rebound; a 0-d array not
            _checked_when_run(core, name, (message, line))
    for name, message, line in core.array_checks:  # a write followed through a view
        rank = ranks.get(name)
        if rank is None and name is not None:
            if not deep:
                deep.append(infer_ranks(core, ops, example_args, True, returned))
            rank = deep[0].get(name)
            if rank is None and _checked_when_run(core, name, (message, line, "array")):
                continue
        if not (isinstance(rank, int) and rank >= 1):
            raise UnsupportedSyntaxError(message, core.parsed.filename, line)
    shapes = _shape_classes(core, ops, ranks)
    varied_in = {k[1]: v for k, v in varied.items() if isinstance(k, tuple)}
    floating = floating_names(core, ops)
    casts = in_place_casts(core, floating, ranks)
    return Analysis(
        *(core, tuple(wrt), ops, active, ranks, shapes, out, varied_in),
        floating=floating,
        in_place_casts=casts,
    )


def _returned_ranks(core: Core, example_args):
    """``returned(op, ranks)`` for :func:`infer_ranks`: the rank of what a call of the
    user's function returns, from the callee's own analysis (each callee and signature of
    argument ranks analyzed once)."""
    memo: dict = {}

    def returned(op, ranks):
        key = (id(op), tuple(_rank_key(a, ranks) for a in op.user_call[1]))
        if key not in memo:
            memo[key] = returned_rank(op, ranks, core, example_args, analyze)
        return memo[key]

    return returned


def _rank_key(atom, ranks):
    return ranks.get(atom.id) if isinstance(atom, gast.Name) else None


def _rebinds_an_object(core: Core, name, line: int) -> bool:
    """Whether ``name += v`` at ``line`` (lowered to ``name = name + v``) runs a user class's
    ``__add__`` (of the operator) that has no in-place method (``__iadd__``): Python then
    binds ``name`` to the new object, changing nothing another name shares."""
    for stmt in walk_statements(core.node.body):
        value = getattr(stmt, "value", None)
        if not (
            getattr(stmt, "lineno", None) == line
            and isinstance(stmt, gast.Assign)
            and isinstance(value, gast.BinOp)
            and isinstance(value.left, gast.Name)
            and value.left.id == name
        ):
            continue
        method = operator_method(core, value)
        if method is not None and method[0] is value.left:
            return not defines_method(core, value.left, "__i" + method[1][2:])
    return False


def _checked_when_run(core: Core, name: str, refusal: tuple) -> bool:
    """Mark the assignment of ``name`` (an item read from an array written into afterwards,
    whose rank is not known) to be refused when the derivative runs where it is a view, not a
    number (``not_a_view``, with ``refusal``: the message and the line of the write); False
    where it has no one assignment."""
    found = [
        stmt
        for stmt in walk_statements(core.node.body)
        if isinstance(stmt, gast.Assign) and name in written_names(stmt)
    ]
    if len(found) != 1 or not isinstance(found[0].targets[0], gast.Name):
        return False
    set_fact(found[0], "view_check", refusal)
    return True


def _classify_all(core: Core) -> dict:
    """``id(statement) -> Op`` for every assignment and expression statement."""
    ops = {}
    with assignments_indexed(core):  # (an operator's operands: the class their one
        for stmt in walk_statements(core.node.body):  # assignment makes, looked up)
            if isinstance(stmt, gast.Assign):
                ops[id(stmt)] = classify(core, stmt)
            elif isinstance(stmt, gast.Expr):
                # a call kept for its side effects (print, logging): its result goes nowhere
                ops[id(stmt)] = Op("effect", "constant", operands=[stmt.value], pure=False)
    return ops


def _output(core: Core):
    last = core.node.body[-1]
    value = last.value
    if isinstance(value, gast.Tuple):
        return value.elts[0]
    return value


# ------------------------------------------------------------------------- shapes


def _shape_classes(core: Core, ops: dict, ranks: dict) -> ShapeClasses:
    """Classes of names whose shapes are provably equal."""
    shapes = ShapeClasses()
    # a name assigned more than once (in a loop, in branches) may hold values of different
    # shapes: it is left out of every shape class
    defs: dict = {p: 1 for p in core.params}
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, (gast.Assign, gast.For)):
            assigned = (
                written_names(stmt) if isinstance(stmt, gast.Assign) else S.names_in(stmt.target)
            )
            for t in assigned:
                defs[t] = defs.get(t, 0) + 1
    shapes.multi = {n for n, k in defs.items() if k > 1}
    for stmt in walk_statements(core.node.body):
        op = ops.get(id(stmt))
        if op is not None and isinstance(stmt, gast.Assign):
            shapes.stmt = stmt
            _shape_facts(shapes, stmt, op, ranks)
    return shapes


_ELEMENTWISE_UNARY_KEYS = ("copy", "astype")


def _is_scalar_atom(atom, ranks) -> bool:
    if isinstance(atom, gast.Constant):
        return isinstance(atom.value, (int, float))
    return isinstance(atom, gast.Name) and ranks.get(atom.id) == 0


def _shape_facts(shapes: ShapeClasses, stmt, op: Op, ranks):
    targets = written_names(stmt)
    if len(targets) != 1:
        return
    (t,) = targets
    names = [a for a in op.operands if isinstance(a, gast.Name)]
    key = op.key
    if key in _ELEMENTWISE_UNARY_KEYS or (isinstance(key, np.ufunc) and key.nin == 1):
        if names:
            shapes.union(t, names[0].id)
        return
    if (
        isinstance(key, np.ufunc)
        and key.nin == 2
        and key is not np.matmul
        and len(op.operands) == 2
    ):
        a, b = op.operands
        if _is_scalar_atom(b, ranks) and isinstance(a, gast.Name):
            shapes.union(t, a.id)
        elif _is_scalar_atom(a, ranks) and isinstance(b, gast.Name):
            shapes.union(t, b.id)
        elif isinstance(a, gast.Name) and isinstance(b, gast.Name) and shapes.same(a.id, b.id):
            shapes.union(t, a.id)
