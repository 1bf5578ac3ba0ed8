"""The order of the rewrites of the running derivative: :data:`REWRITES`, each row a named
rewrite with the facts it needs (:data:`SHAPES`, :data:`ARGS`, :data:`NUMPY`, :data:`POOLS`,
:data:`FUSED`, :data:`INEXACT`).
:func:`optimize` runs, in order, every row whose facts hold for the build.

A new rewrite is a module of this package with a function of one :class:`Run` (or a
function adapted to one here) and a row in :data:`REWRITES`. A rewrite must keep what the
derivative computes (up to rounding where a product runs through BLAS) and may rely on
every row before it having run where its facts held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gast
import numpy as np

from ...errors import SourcegradError
from ...runtime.buffers import BufferPool
from ...runtime.containers import children, is_container
from ...runtime.facts import helper_functions_where
from ...runtime.helpers import sum_leading, unreduce
from ...runtime.trees import zero_adjoint
from .. import syntax as S
from ..algebra import collect_like_terms
from ..forms import Derivative
from ..node_facts import set_fact
from ..simplify import (
    dead_stores,
    dead_tape,
    drop_unused_tape,
    fold_all,
    is_adjoint,
    name_copies,
    named_results,
    propagate,
    protect_aliases,
)
from ..walk import remembered_reads
from .appends import grow_in_place
from .builders import builders
from .chunk import chunk_elementwise
from .dtypes import name_dtypes
from .einsum_products import einsum_products
from .element_writes import ElementWrites, merge_renamed_copies
from .fused import BACKENDS, available, fuse_elementwise
from .hoist import hoist_accumulations
from .inplace import InPlace
from .invariants import hoist_invariant_views
from .item_adjoints import add_items_in_place
from .kept_calls import keep_forward_sweeps
from .kept_tangents import keep_tangent_sweeps
from .masks import early_masks
from .operands import name_operands
from .ownership import Owner
from .pool import apply_pool, plan_pool, release_dead
from .products import contractions, dots, full_sums, hoist_transposes, sums_of_products
from .resets import drop_zero_resets
from .rounding import blas_forward_products, integer_powers
from .scatter import scatter_accumulations
from .seeds import typed_seeds
from .shaped import (
    assigned_shapes,
    cast_free_updates,
    floating_writes,
    shaped_unindex,
    specialise_shapes,
    tape_shapes,
)
from .signs import cancel_negations
from .softmax import softmax_adjoints
from .splits import concatenate_split_adjoints
from .step_tape import tape_at_step_end, unread_entries
from .subexpressions import common_subexpressions, repeated_values
from .temporaries import split_temporaries

#: the argument shapes are known: a build specialised to them
SHAPES = "shapes"
#: example arguments are known: their container structure, ranks and dtypes
ARGS = "args"
#: every array argument is a NumPy ``ndarray`` (not a CuPy array): implies :data:`ARGS`
NUMPY = "numpy"
#: intermediates may be kept in buffers from one call to the next (option ``pool_buffers``)
POOLS = "pools"
#: elementwise trees run fused through numexpr (option ``fuse="numexpr"``), in place of chunks
FUSED = "fused"
#: values may change by rounding (option ``exact=False``): see :mod:`.rounding`
INEXACT = "inexact"
#: a vjp whose caller gives its output gradient away (:mod:`.seeds`, :mod:`sourcegrad.kept`)
GIVEN = "given seed"

#: runtime helpers whose result holds none of their arguments (unindex of a list holds g)
_COPYING_HELPERS = helper_functions_where(allocates="new")
#: runtime helpers that return a new array (or an immutable value)
_FRESH_HELPERS = _COPYING_HELPERS | helper_functions_where(allocates="outer")


@dataclass
class Run:
    """What the rewrites of one :func:`optimize` call share: the function being rewritten
    (``node``, a copy of the pure derivative's), the build's facts, and what earlier rows
    found for later ones."""

    node: gast.FunctionDef
    der: Derivative
    example_args: tuple | None
    shapes: dict | None
    np_name: str | None
    facts: frozenset  # of SHAPES, ARGS, NUMPY, POOLS, FUSED: those that hold for this build
    kinds: dict = field(default_factory=dict)  # dtypes of names: later rewrites keep them
    in_place: InPlace | None = None
    owner: Owner | None = None
    plan: tuple = ([], [])  # the pooled buffers (plan_pool)
    stacks: list = field(default_factory=list)  # stacks of hoisted accumulations, to pool

    def helper_names(self, helpers) -> set:
        """The names the derivative calls the runtime ``helpers`` (functions) by, of those
        it refers to."""
        return self.der.refs.names_of(helpers)

    def derivative(self) -> Derivative:
        """The rewritten function as a ``Derivative`` of the same analysis."""
        der = self.der
        return Derivative(self.node, der.refs, der.analysis, der.mode, der.adj_names)


@dataclass(frozen=True)
class Rewrite:
    """A named rewrite, run where every fact of ``needs`` holds."""

    name: str
    apply: Callable[[Run], None]
    needs: frozenset = frozenset()


def _zero_resets(run: Run) -> None:
    zeros = run.helper_names([zero_adjoint])
    drop_zero_resets(run.node.body, zeros, run.np_name, run.node.body)


def _shapes(run: Run) -> None:
    numpy_only = NUMPY in run.facts  # sums over leading axes through BLAS: NumPy only
    run.shapes = specialise_shapes(run.node, run.der, run.shapes, numpy_only)
    fold_all(run.node.body, run.der)  # 1.0 * e where unreduce(1.0, x) * e was


def _kinds(run: Run) -> None:
    run.kinds = name_dtypes(run.node, run.der, run.example_args, run.np_name, run.shapes)
    # an update that keeps its array's dtype needs no cast; the name it assigns then has a
    # known dtype, which may prove the next update's cast a no-op too
    while cast_free_updates(run.node, run.der, run.kinds, run.shapes or {}, run.np_name):
        if run.shapes is not None:
            run.shapes = assigned_shapes(run.node, run.der, run.shapes)
        run.kinds = name_dtypes(run.node, run.der, run.example_args, run.np_name, run.shapes)


def _like_terms(run: Run) -> None:
    """Like terms that helpers hid, with floating point names known from the dtypes (where
    known): negation is exact for those."""
    der, kinds = run.der, run.kinds
    floats = set(der.analysis.active) | set(der.adj_names.values())
    negatable = {n for n, dt in kinds.items() if isinstance(dt, np.dtype) and dt.kind in "fc"}
    floats |= {
        n
        for n, dt in kinds.items()
        if dt is float or (isinstance(dt, np.dtype) and dt == np.float64)
    }
    collect_like_terms(run.node.body, is_adjoint, floats, negatable)


def _copies(run: Run) -> None:
    core = run.der.analysis.core  # copies left where a sum_to went (dh2_1 = dh2_2)
    propagate(run.node.body, set(core.user_names) | set(core.params))
    # folding may leave a gradient that is an argument itself (dx = y): copy it
    if not value_only(run.der):  # (a compiled forward returns no gradient)
        protect_aliases(run.derivative())


def value_only(der: Derivative) -> bool:
    """Whether ``der`` is a compiled forward (``with_gradients=False``): forward mode along
    nothing, returning what the function returns and no derivative."""
    return der.mode == "jvp" and not der.adj_names


def _dead_code(run: Run) -> None:
    """Dead stores and tape entries: without the zero resets, values restored from the tape
    only for their shapes may be dead."""
    body = run.node.body
    for stmt in body:  # `x = None` before a loop: only there for a tape push
        if isinstance(stmt, gast.Assign) and S.is_none(stmt.value):
            set_fact(stmt, "pure", True)
    with remembered_reads():  # (both only remove statements: what the rest read stays)
        while dead_stores(body) | dead_tape(body):
            pass
    drop_unused_tape(body)


def _name_copies(run: Run) -> None:
    """Copies earlier rewrites left (``dz_2 = dz``, the name an accumulation was hoisted
    from): each later read reads the name copied."""
    der = run.der
    keep = set(der.analysis.core.user_names) | set(der.analysis.core.params)
    keep |= {der.adj_names[n] for n in keep if n in der.adj_names}
    name_copies(run.node.body, keep)
    named_results(run.node.body, keep)


def _in_place(run: Run) -> None:
    run.in_place = InPlace(run.node, run.der, run.shapes, run.example_args)


def _owned_accumulations(run: Run) -> None:
    run.owner = Owner(run.np_name, run.helper_names(_FRESH_HELPERS))
    run.owner.in_place = run.in_place
    run.owner.writes = ElementWrites(run.der)
    run.owner.block(run.node.body, set())
    run.owner.writes = None  # the element writes are written: later walks only look


def _chunks(run: Run) -> None:
    if FUSED in run.facts:  # numexpr blocks the fused trees itself
        return
    if value_only(run.der):  # f's value exactly: a sum of blocks' sums would round otherwise
        return
    der = run.der
    adj_of = {v: k for k, v in der.adj_names.items()}
    unreduce_name = der.refs.name_of(unreduce)
    dtypes = run.in_place.dtypes
    body, names = run.node.body, der.refs.names
    chunk_elementwise(body, run.shapes, dtypes, adj_of, run.np_name, names, unreduce_name)


def _pool_plan(run: Run) -> None:
    run.owner.helpers = run.helper_names(_FRESH_HELPERS)
    copying = run.helper_names(_COPYING_HELPERS)
    run.plan = plan_pool(run.node.body, run.owner, run.np_name, copying, run.stacks)


def _released(run: Run) -> None:
    run.owner.helpers = run.helper_names(_FRESH_HELPERS)
    shared = run.plan[3] if len(run.plan) > 3 else []  # stacks in their rows' buffers
    pooled = {stmt.targets[0].id for stmt, *_ in [*run.plan[0], *shared]}
    split = any(a.id == "g_out" for a in run.node.args.kwonlyargs)  # a vjp: see release_dead
    release_dead(run.node.body, run.owner, pooled, split)


def _hoisted(run: Run) -> None:
    refs = run.der.refs
    helpers = {sum_leading: refs.name_of(sum_leading)}
    run.stacks = hoist_accumulations(
        run.node.body, run.owner, run.np_name, helpers, refs.names.fresh, refs
    )


def _pooled(run: Run) -> None:
    apply_pool(run.node.body, run.plan, run.der.refs, run.np_name, BufferPool.of)


def _fused(run: Run) -> None:
    fuse_elementwise(run.node, run.der, run.shapes, run.in_place.dtypes)


def _named_operands(run: Run) -> None:
    if value_only(run.der):  # the gradient's forward sweep keeps what its adjoint reads
        name_operands(run.node.body, run.shapes, run.np_name, run.der.refs.names)


def _on_node(rewrite) -> Callable[[Run], None]:
    """A rewrite of ``(node, der)`` as a rewrite of a :class:`Run`."""
    return lambda run: rewrite(run.node, run.der)


def _on_body(rewrite) -> Callable[[Run], None]:
    """A rewrite of ``(body, der)`` as a rewrite of a :class:`Run`."""
    return lambda run: rewrite(run.node.body, run.der)


#: the facts of a shape-specialised build of NumPy arguments
_SHAPES_NUMPY = frozenset({SHAPES, NUMPY})

#: the rewrites, in the order they run, with the facts each needs
REWRITES: tuple[Rewrite, ...] = (
    Rewrite("drop zero resets", _zero_resets),
    Rewrite("split adjoints", lambda r: concatenate_split_adjoints(r.node, r.der, r.np_name)),
    Rewrite("specialise shapes", _shapes, frozenset({SHAPES})),
    Rewrite(
        "typed seeds",
        lambda r: typed_seeds(r.node, r.der, r.example_args, r.shapes, GIVEN in r.facts),
        _SHAPES_NUMPY,
    ),
    Rewrite("dtypes", _kinds, _SHAPES_NUMPY),
    Rewrite("writes into floats", lambda r: floating_writes(r.node, r.der, r.kinds), _SHAPES_NUMPY),
    Rewrite(
        "integer powers as products",
        lambda r: integer_powers(r.node.body, r.kinds, r.np_name),
        _SHAPES_NUMPY | {INEXACT},
    ),
    Rewrite(
        "softmax adjoints",
        lambda r: softmax_adjoints(r.node.body, r.der, r.np_name),
        frozenset({INEXACT}),
    ),
    Rewrite(
        "forward products through BLAS",
        lambda r: blas_forward_products(r.node, r.np_name),
        frozenset({INEXACT}),
    ),
    Rewrite("like terms", _like_terms, frozenset({SHAPES})),
    Rewrite("negations", lambda r: cancel_negations(r.node.body, r.der, r.kinds), _SHAPES_NUMPY),
    Rewrite(
        "shaped unindex", lambda r: shaped_unindex(r.node, r.der, r.shapes, r.kinds), _SHAPES_NUMPY
    ),
    Rewrite("propagate copies", _copies, frozenset({SHAPES})),
    Rewrite("dead code", _dead_code),
    Rewrite("tape shapes", _on_body(tape_shapes)),
    Rewrite("invariant views", lambda r: hoist_invariant_views(r.node, r.kinds), _SHAPES_NUMPY),
    Rewrite(
        "repeated values", lambda r: repeated_values(r.node.body, r.kinds, r.np_name), _SHAPES_NUMPY
    ),
    Rewrite(
        "common subexpressions",
        lambda r: common_subexpressions(r.node.body, r.kinds, r.np_name),
        _SHAPES_NUMPY,
    ),
    Rewrite(
        "sums of products",
        lambda r: sums_of_products(r.node, r.der, r.shapes, r.kinds),
        _SHAPES_NUMPY,
    ),
    Rewrite("early masks", lambda r: early_masks(r.node.body, r.der, r.shapes), _SHAPES_NUMPY),
    Rewrite("named operands", _named_operands, _SHAPES_NUMPY),
    Rewrite(
        "split temporaries",
        lambda r: split_temporaries(r.node.body, r.der, r.shapes),
        _SHAPES_NUMPY,
    ),
    Rewrite("renamed copies", lambda r: merge_renamed_copies(r.node)),
    Rewrite("in-place operations", _in_place, _SHAPES_NUMPY),
    Rewrite("owned accumulations and element writes", _owned_accumulations),
    Rewrite("scatter accumulations", _on_body(scatter_accumulations)),
    Rewrite(
        "one-product einsums",
        lambda r: einsum_products(r.node, r.der, r.shapes, r.kinds, r.np_name),
        _SHAPES_NUMPY,
    ),
    Rewrite("contractions", _on_node(contractions)),
    Rewrite(
        "gradient builders",
        lambda r: builders(r.node, r.der, r.example_args, r.owner),
        frozenset({ARGS}),
    ),
    Rewrite("dots", _on_node(dots), frozenset({ARGS})),
    Rewrite("full sums", _on_node(full_sums), frozenset({ARGS, NUMPY})),
    Rewrite("hoist transposes", _on_body(hoist_transposes), frozenset({ARGS, NUMPY})),
    Rewrite("hoisted accumulations", _hoisted, _SHAPES_NUMPY),
    Rewrite("chunks", _chunks, _SHAPES_NUMPY),
    Rewrite("pool plan", _pool_plan, frozenset({SHAPES, NUMPY, POOLS})),
    Rewrite("released arrays", _released, _SHAPES_NUMPY),
    Rewrite("pooled buffers", _pooled, frozenset({SHAPES, NUMPY, POOLS})),
    Rewrite("lists grown in place", lambda r: grow_in_place(r.node, r.der, r.np_name)),
    Rewrite("list adjoints added item by item", lambda r: add_items_in_place(r.node, r.der)),
    Rewrite("fused elementwise", _fused, _SHAPES_NUMPY | {FUSED}),
    # last: every rewrite before saw a callee's vjp read its arguments where the adjoint
    # calls it (see kept_calls)
    Rewrite("kept forward sweeps", lambda r: keep_forward_sweeps(r.node, r.der)),
    Rewrite("kept tangent sweeps", lambda r: keep_tangent_sweeps(r.node, r.der)),
    Rewrite("name copies", _name_copies),
    Rewrite("values taped at the end of their step", lambda r: tape_at_step_end(r.node, r.der)),
    Rewrite("tape entries nothing reads", lambda r: unread_entries(r.node, r.der)),
)


def _numpy_only(args) -> bool:
    """Whether no argument holds an array that is not a NumPy ``ndarray`` (a CuPy array)."""

    def ok(x):
        if is_container(x):
            return all(ok(v) for _, v in children(x))
        return type(x) is np.ndarray or not hasattr(x, "__array_function__")

    return all(ok(a) for a in args)


def facts(example_args, shapes, pools: bool, fuse=None, exact=True, given=False) -> frozenset:
    """The facts that hold for a build with these example arguments, shapes and options
    (``fuse``: a backend of :data:`~sourcegrad.transform.optimize.fused.BACKENDS`, or None;
    refused where its package is not installed; ``exact``: True, or False to allow the
    rewrites of :mod:`.rounding`; ``given``: a vjp's output gradient is given away)."""
    if not isinstance(exact, bool):
        raise SourcegradError(f"exact={exact!r}: pass exact=True (the default) or exact=False")
    found = set() if exact else {INEXACT}
    if given:
        found.add(GIVEN)
    if fuse:
        if fuse not in BACKENDS:
            raise SourcegradError(
                f"fuse={fuse!r} is not a fused backend; pass fuse='numexpr', or leave it out"
            )
        if not available(fuse):
            raise SourcegradError(
                f"fuse={fuse!r} needs the {fuse} package: pip install {fuse} (or "
                "sourcegrad[fast]), or leave fuse out to run NumPy's own loops"
            )
        found.add(FUSED)
    if shapes:
        found.add(SHAPES)
    if example_args is not None:
        found.add(ARGS)
        if _numpy_only(example_args):
            found.add(NUMPY)
    if pools:
        found.add(POOLS)
    return frozenset(found)


def optimize(
    der: Derivative,
    example_args=None,
    shapes: dict | None = None,
    pools: bool = True,
    fuse: str | None = None,
    exact: bool = True,
    given_seed: bool = False,
) -> Derivative:
    """A faster copy of ``der`` computing the same results (see the package docstring);
    with ``shapes`` (:func:`~sourcegrad.transform.shapes.concrete_shapes` of the arguments),
    specialised to those shapes, and with ``pools`` its intermediates kept in buffers from
    one call to the next (:mod:`sourcegrad.transform.optimize.pool`), and with ``fuse``
    (``"numexpr"``) its elementwise trees over large arrays fused
    (:mod:`sourcegrad.transform.optimize.fused`); with ``exact=False`` values may change by
    rounding (:mod:`sourcegrad.transform.optimize.rounding`); with ``given_seed`` (a vjp
    whose caller gives its output gradient away) its adjoint may compute in the output
    gradient's memory (:mod:`sourcegrad.transform.optimize.seeds`). ``der`` is unchanged."""
    holding = facts(example_args, shapes, pools, fuse, exact, given_seed)
    np_name = der.refs.name_of(np)
    if np_name is None and value_only(der):
        # a compiled forward (``with_gradients=False``) reads NumPy by the user's own name;
        # the rewrites that write NumPy calls need one
        np_name = der.refs.ref(np, "np")
    run = Run(S.clone(der.node), der, example_args, shapes, np_name, holding)
    for rewrite in REWRITES:
        if rewrite.needs <= holding:
            rewrite.apply(run)
    return run.derivative()
