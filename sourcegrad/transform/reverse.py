"""Pass 4 — reverse: the derivative as a forward sweep followed by an adjoint sweep.

Guarantees to the next pass (``Derivative``): a function that takes the user's arguments (plus
the keyword ``g_out`` in ``vjp`` mode) and returns ``(value, gradient)``, and writes into no
array it did not create. The forward sweep is the core-form user code, plus ``tape.append``
of each value that it overwrites and the adjoint reads. The adjoint sweep holds, for each
differentiated user statement in reverse order, the inlined rule templates of its operations
(first statement with the node fact ``comment``: "line N: <user code>"), followed by ``tape.pop``
restoring what the statement overwrote; loops run backwards (``reversed(range(...))``, or a
while loop's recorded trip count) and branches replay their recorded conditions. Adjoints are
named ``d<name>``; the first contribution assigns, later ones add; adjoints that live across
loop iterations start as zeros before the loop. The gradient of each ``wrt`` argument is
assembled by ``gradient_like`` from its path reads and its whole-value adjoint.
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from ..runtime.containers import gradient_like
from ..runtime.helpers import seed_like
from . import syntax as S
from .adjoint_sweep import AdjointSweep
from .forms import Analysis, Derivative
from .naming import derivative_name
from .node_facts import set_fact
from .recomputed_reads import drop_read_elsewhere, recomputed_reads
from .replayed_state import state_statements
from .shape_keys import shape_only_reads
from .sweep_plan import (
    existence,
    hoist_invariants,
    overwritable,
    parts_node,
    share_number_arithmetic,
)
from .tape_sweep import TapeSweep
from .templates import Refs
from .write_backs import write_back_statements

__all__ = ["reverse"]


def reverse(analysis: Analysis, mode: str = "grad") -> Derivative:
    """Build the derivative of ``analysis.core`` with respect to ``analysis.wrt``.

    Returns a new function; the core's statements are copied, except that loop invariants
    are hoisted out of the core's own loops in place (and ``analysis.unreduce_name`` is set)."""
    return _Reverse(analysis, mode).run()


class _Reverse(TapeSweep, AdjointSweep):
    def __init__(self, analysis: Analysis, mode: str):
        self.a = analysis
        self.core = analysis.core
        self.names = analysis.core.names
        used = S.names_in(self.core.node)
        self.refs = Refs(
            self.names,
            self.core.parsed.globals,
            used,
            self.core.parsed.closure,
            S.bound_names(self.core.node),
        )
        self.mode = mode
        self.adj_names: dict = {}
        self.defined: set = set()
        self.adj_of: dict = {}  # adjoint name -> primal name
        self.parts: dict = {p: [] for p in self.core.params}
        self.counters: dict = {}  # id(while statement) -> its iteration counter
        self.taped_counters: set = set()  # ids of while loops nested in a loop
        self.loop_depth = 0
        self.varied_here = None  # names varied before the statement being differentiated
        self.shape_only: set | tuple = ()  # taped names the adjoint reads only for their shape
        self.self_update: set | tuple = ()  # targets the statement being differentiated reads
        self.local_shapes: set | tuple = ()  # name pairs of equal shape at that statement
        self.tape = None

    def adjname(self, x: str) -> str:
        if x not in self.adj_names:
            n = self.names.fresh("d" + x)
            self.adj_names[x] = n
            self.adj_of[n] = x
        return self.adj_names[x]

    def run(self) -> Derivative:
        core = self.core
        body = core.node.body
        ret = body[-1]
        main = body[:-1]
        hoist_invariants(main, self.a)
        share_number_arithmetic(main, self.a)
        self.overwritable = overwritable(main, core.params)
        self.recomputed = recomputed_reads(main, self.a)
        self.reversed_loops: dict = {}  # id(for loop) -> its reversed body
        self.exists_before, self.loop_inits, self.definite = existence(main, core.params)
        self.need_init: set = set()  # names a zero adjoint is made from where they may be unset
        self.tape = None
        adjoint: list = []
        out = self.a.output
        args, seed = self.signature(out)
        if any(n.id in self.a.active for n in S.walk(out) if isinstance(n, gast.Name)):
            self.accumulate(out, seed, adjoint)
        adjoint.extend(self.rev_block(main))
        drop_read_elsewhere(adjoint, self.recomputed, self.reversed_loops)
        grads = self.gradient()
        self.plan_tape(adjoint, grads)
        forward = self.fwd_block(main, top=True)
        adjoint = self.resolve_pops(adjoint)
        for stmt in adjoint:
            set_fact(stmt, "sweep", True)  # where the adjoint sweep starts, for optimize
        if self.tape is not None:
            start = S.assign(self.tape, gast.List(elts=[], ctx=gast.Load()), core.node.lineno)
            set_fact(start, "pure", False)
            forward.insert(0, start)
        first, last, finals = write_back_statements(core, self.refs, forward, adjoint, grads)
        starts, held, put_back = state_statements(self.a, self.refs, self.names)
        value = S.clone(ret.value)
        if S.names_in(value) & self.recorded:
            # the adjoint sweep restores overwritten names: keep the result as it was
            kept = self.names.fresh("value")
            keep = S.assign(kept, value, ret.lineno)
            set_fact(keep, "pure", False)
            set_fact(keep, "keep", True)
            forward.append(keep)
            value = S.name(kept)
        result = gast.Return(value=gast.Tuple(elts=[value, grads], ctx=gast.Load()))
        name = "d_" + core.node.name
        if self.mode != "grad":  # a method's vjp is named with its class
            name = derivative_name("vjp", core.parsed.fn, core.node.name)
        fn = gast.FunctionDef(
            name=name,
            args=args,
            body=first + starts + forward + finals + held + adjoint + put_back + last + [result],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )
        fn.lineno = core.node.lineno
        return Derivative(fn, self.refs, self.a, self.mode, dict(self.adj_names))

    def signature(self, out) -> tuple:
        """The derivative's arguments (the user's, plus ``g_out`` for a vjp) and the seed of
        the output's adjoint."""
        core = self.core
        args = S.clone(core.node.args)
        if self.mode != "vjp":
            return args, S.const(1.0)
        if "g_out" in S.names_in(core.node):
            raise UnsupportedSyntaxError(
                f"{core.node.name}() uses the name `g_out`, which its vjp takes for the "
                "output gradient; rename it",
                core.parsed.filename,
                core.node.lineno,
            )
        self.names.reserve("g_out")
        args.kwonlyargs.append(
            gast.Name(id="g_out", ctx=gast.Param(), annotation=None, type_comment=None)
        )
        args.kw_defaults.append(None)
        # g_out may broadcast against the output: the seed is the output's share of it
        return args, S.call(S.name(self.refs.helper(seed_like)), [S.name("g_out"), S.clone(out)])

    def plan_tape(self, adjoint: list, grads) -> None:
        """Which names the tape records (``recorded``), and which of them only as shapes."""
        # the tape keeps only what the adjoint reads and the forward sweep overwrites
        read = set()
        for stmt in adjoint:
            read |= {n.id for n in S.name_nodes(stmt) if isinstance(n.ctx, gast.Load)}
        in_grads = S.names_in(grads)
        read |= in_grads
        made_again = {st.targets[0].id for sts in self.recomputed.values() for st in sts}
        self.recorded = (self.overwritable & read) - set(self.adj_of) - made_again
        # an argument the function reassigns is restored in full where the gradient's
        # container is built from it (gradient_like(x, dx)), not only as its shape
        # an array of known rank read only for its shape and dtype (unindex) too
        ranks = self.a.ranks
        arrays = {x for x in self.recorded if isinstance(ranks.get(x), int) and ranks[x] >= 1}
        only = shape_only_reads(adjoint, self.refs, arrays=arrays)
        self.shape_only = (self.recorded & only) - in_grads

    # ------------------------------------------------------------ the result
    def gradient(self):
        core = self.core
        wrt = self.a.wrt
        entries = []
        for i in wrt:
            p = core.params[i]
            parts = list(reversed(self.parts[p]))  # in the order the forward sweep reads them
            if p in self.defined:
                parts.append(((), S.name(self.adjname(p))))
            entries.append((p, parts))
        gl = S.name(self.refs.helper(gradient_like))
        if len(entries) == 1:
            p, parts = entries[0]
            return S.call(gl, [S.name(p), parts_node(parts)])
        like = gast.Tuple(elts=[S.name(p) for p, _ in entries], ctx=gast.Load())
        merged = [((i,) + keys, v) for i, (_, parts) in enumerate(entries) for keys, v in parts]
        return S.call(gl, [like, parts_node(merged)])
