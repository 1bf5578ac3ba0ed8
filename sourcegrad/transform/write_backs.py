"""The statements that leave in the caller's objects what the function the user differentiates
writes into them in place (``Core.written``, from :mod:`.argument_writes`): a check on entry
that no two arguments share an object written into, and ``write_back(x, x_1, ((),))`` at the
derivative's end, after the adjoint sweep, which therefore reads the arguments as they were on
entry."""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from ..runtime.argument_writes import entry_structure, refuse_shared_writes, write_back
from . import syntax as S
from .node_facts import set_fact
from .parse import resolve


def write_back_statements(core, refs, forward: list, later: list, grads=None) -> tuple:
    """``(first, last, kept)``: the statements the derivative runs first (the check on entry,
    and a name for an argument the derivative binds anew), those it runs last (the writes
    back), and those ending its forward sweep (a name for a final value that the adjoint
    sweep, ``later``, binds anew); ``forward``: the forward sweep. The
    gradient ``grads`` (``gradient_like(like, parts)``, built after the writes back) is
    rewritten to take its containers' structure from the arguments as they came
    (:func:`~sourcegrad.runtime.argument_writes.entry_structure`), for a container written
    into."""
    if not core.written:
        return [], [], []
    line = core.node.lineno
    bound = {
        n.id
        for stmt in forward + later
        for n in S.walk(stmt)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }
    adjoint_bound = {
        n.id
        for stmt in later
        for n in S.walk(stmt)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
    }
    first, last, kept = [], [], []
    position = {p: i for i, p in enumerate(core.params)}
    shown = ", ".join(f"{position[p]}: {paths!r}" for p, paths, _ in core.written)
    where = f"{core.parsed.filename}:{min(w[2] for w in core.written)}"
    check = (
        f"{refs.helper(refuse_shared_writes)}(({', '.join(core.params)},), "
        f"{tuple(core.params)!r}, {{{shown}}}, {where!r})"
    )
    first.append(kept_statement(gast.parse(check).body[0], line))
    likes = S.names_in(grads.args[0]) if grads is not None else set()
    for param, paths, at in core.written:
        caller, final = param, core.final_names.get(param, param)
        if param in likes and (core.example_args is None or _container(core, param)):
            first.append(_structure(core, refs, param, grads, line))
        if param in bound:
            caller = core.names.fresh(param + "_given")
            first.append(kept_statement(S.assign(caller, S.name(param), line), line))
        if final in adjoint_bound:
            held = core.names.fresh(param + "_final")
            kept.append(kept_statement(S.assign(held, S.name(final), at), at))
            final = held
        text = f"{refs.helper(write_back)}({caller}, {final}, {paths!r})"
        last.append(kept_statement(gast.parse(text).body[0], at))
    set_fact(
        last[0], "comment", f"what {core.node.name}() leaves in its arguments, as Python's call"
    )
    return first, last, kept


def _container(core, param: str) -> bool:
    examples = dict(zip(core.params, core.example_args or ()))
    return isinstance(examples.get(param), (list, dict))


def _structure(core, refs, param: str, grads, line: int):
    """``state_entry = entry_structure(state)``, and ``grads`` reading it for ``state``."""
    name = core.names.fresh(param + "_entry")
    for n in S.walk(grads.args[0]):
        if isinstance(n, gast.Name) and n.id == param:
            n.id = name
    call = S.call(S.name(refs.helper(entry_structure)), [S.name(param)])
    return kept_statement(S.assign(name, call, line), line)


def kept_statement(stmt, line: int):
    """``stmt`` at ``line``, which simplify neither removes nor propagates."""
    stmt.lineno = line
    set_fact(stmt, "pure", False)
    set_fact(stmt, "keep", True)
    return stmt


def refuse_transforming_write_backs(core) -> None:
    """Refuse forward mode over a gradient that writes back into its arguments, made for a
    function being differentiated that calls the gradient: its derivative runs the gradient
    (its forward sweep) and forward mode over it (its adjoint sweep, or its tangent), so the
    caller's objects would take the writes twice. (``hvp``, ``hessian`` and ``jvp`` of the
    gradient run it once per call: not refused.)"""
    for stmt in core.node.body:
        call = stmt.value if isinstance(stmt, gast.Expr) else None
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Name)):
            continue
        if resolve(core.parsed, call.func, set()) is not refuse_shared_writes:
            continue
        where = call.args[-1].value if isinstance(call.args[-1], gast.Constant) else ":"
        file, _, line = where.rpartition(":")
        raise UnsupportedSyntaxError(
            "the function writes into its arguments in place, which its gradient leaves in "
            "the caller's objects once per call; a function being differentiated that calls "
            "that gradient runs it again in its own derivative, writing them twice: copy the "
            "arguments first (`x = x.copy()`), or return the new values (as aux with "
            "`has_aux=True`)",
            file or None,
            int(line) if line.isdigit() else None,
        )
