"""Pass 5 — simplify: make the derivative read as if an expert wrote it.

Guarantees to the next pass: the same function, computing the same values, with

* constants and plain copies of temporaries propagated (``dout = 1.0`` disappears);
* algebra with known constants folded (``1.0 * e`` -> ``e``, ``x ** 1`` -> ``x``);
* temporaries used once inlined where they are used (forward temporaries only within the user
  statement they came from, so evaluation order and side effects are unchanged);
* statements without side effects whose results no later statement reads removed;
* no gradient that aliases the user's data: such a result is copied.

User-named variables (``h1``, ``dh1``) keep their names.
"""

from __future__ import annotations

from ..algebra import collect_like_terms
from ..forms import Derivative
from ..walk import definition_counts, forget_reads, load_counts, remembered_reads
from .aliases import name_copies, named_results, protect_aliases
from .conditions import inline_tests, unread_inits
from .defuse import is_adjoint
from .fold import fold_all, scalar_broadcasts
from .liveness import dead_stores, dead_tape, drop_unused_tape, liveness, prune_dead_stores
from .propagation import block_copies, inline, merge_accumulations, propagate

__all__ = [
    "dead_stores",
    "dead_tape",
    "drop_unused_tape",
    "fold_all",
    "is_adjoint",
    "liveness",
    "name_copies",
    "named_results",
    "propagate",
    "protect_aliases",
    "run_to_fixpoint",
    "simplify",
]


def simplify(der: Derivative) -> Derivative:
    """Simplify ``der.node`` in place (see the module docstring) and return ``der``."""
    body = der.node.body
    keep_names = set(der.analysis.core.user_names) | set(der.analysis.core.params)
    keep_names |= {der.adj_names[n] for n in keep_names if n in der.adj_names}
    floats = set(der.analysis.active) | set(der.adj_names.values())  # for like terms
    steps = (
        lambda: _said(propagate(body, keep_names)),
        lambda: _said(block_copies(body, keep_names, definition_counts(body))),
        lambda: _said(fold_all(body, der)),
        lambda: _said(scalar_broadcasts(body, der)),
        lambda: _said(inline(body, keep_names, quiet=der.analysis.core.quiet)),
        lambda: _said(collect_like_terms(body, is_adjoint, floats)),
        lambda: _said(merge_accumulations(body)),
        lambda: prune_dead_stores(body),
        lambda: _said(dead_tape(body)),
    )

    def changed(step: int) -> None:
        if step < len(steps) - 2:  # the last two only remove statements (or negate a test):
            forget_reads()  # what every statement left reads stays as it was

    with remembered_reads():  # each statement's reads found once while it stays the same
        run_to_fixpoint(steps, rounds=20, on_change=changed)
    drop_unused_tape(body)
    if inline_tests(body, der.analysis.core.conditions, load_counts(body)):
        unread_inits(body, load_counts(body))  # `cond = None` before a loop, for its tape
    if der.mode != "jvp":
        protect_aliases(der)
    return der


def _said(changed) -> tuple[bool, bool]:
    return bool(changed), bool(changed)


def run_to_fixpoint(steps: tuple, rounds: int, on_change=None) -> None:
    """Run ``steps`` in order, round after round, until a round in which none says it
    changed the body, or ``rounds`` rounds; the body is left as those rounds leave it. Each
    step rewrites the body in place and returns ``(says it changed it, changed it)``, and is
    a function of the body alone: once every step has run on the same body without changing
    it, the rest of the round would change nothing, and is not run. ``on_change(k)`` is
    called after each step ``steps[k]`` that changed the body (or says so), before the next
    runs."""
    n = len(steps)
    last_change, said = -1, False
    for i in range(rounds * n):
        if i % n == 0:
            if i and not said:
                return
            said = False
        if i - last_change > n:
            return
        says, changed = steps[i % n]()
        said |= says
        if says or changed:
            last_change = i
            if on_change is not None:
                on_change(i % n)
