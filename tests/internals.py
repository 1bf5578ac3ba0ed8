"""The one place the tests reach sourcegrad's internals: pass entry points, runtime helpers,
rule tables. When an internal moves, this file changes, not every test."""

# ruff: noqa: F401

# ---------------------------------------------------------------- the tiers a test checks
import pytest as _pytest  # noqa: E402

from sourcegrad.derivative_cache import SYMBOLIC_FIRST as _SYMBOLIC_FIRST  # noqa: E402
from sourcegrad.rules import ADJOINTS, TANGENTS, lookup_tangent
from sourcegrad.rules import arrangements as arrangements_rules
from sourcegrad.rules import facts as facts_rules
from sourcegrad.rules import reductions as reductions_rules
from sourcegrad.rules import shapes as shapes_rules
from sourcegrad.runtime import NAMESPACE
from sourcegrad.runtime.buffers import BufferPool
from sourcegrad.runtime.containers import gradient_like
from sourcegrad.runtime.facts import HELPER_FACTS, HELPERS, helpers_where
from sourcegrad.runtime.helpers import (
    Pieces,
    expand_to,
    nondiff,
    shape_of,
    sum_leading,
    sum_to,
    unclip,
    unindex,
    unreduce,
    unsum,
    written_part,
    zero_adjoint,
    zero_index,
)
from sourcegrad.runtime.linalg_helpers import (
    batch_scale,
    contract,
    uncholesky,
    undot_left,
    undot_right,
    uneinsum,
    unmatmul_left,
    unmatmul_right,
    unnorm,
    unsolve_a,
    unsolve_b,
    untensordot_left,
    untensordot_right,
)
from sourcegrad.runtime.shape_helpers import (
    unconcatenate,
    unpad,
    unrepeat,
    untake,
    untake_along_axis,
    untile,
)
from sourcegrad.runtime.signature import call_signature, signature_guard
from sourcegrad.runtime.tangent_helpers import (
    append_tangent,
    assign_tangent,
    broadcast_like,
    einsum_call,
    item_tangent,
    matvec_like,
    pack_tangent,
    pad_tangent,
    pieces,
    slot_subscripts,
    solve_like,
    stack_slots,
    sum_tangents,
    tangent_items,
    tangent_slots,
    unstack_slots,
    zero_tangent,
)
from sourcegrad.transform import parse as parse_module
from sourcegrad.transform.algebra import collect_like_terms
from sourcegrad.transform.analysis import analyze
from sourcegrad.transform.normalize import normalize
from sourcegrad.transform.optimize import pool
from sourcegrad.transform.optimize.chunk import BLOCK, chunk_elementwise
from sourcegrad.transform.optimize.fuse import fuse_contractions
from sourcegrad.transform.optimize.pool import POOLED_BYTES
from sourcegrad.transform.parse import parse
from sourcegrad.transform.shapes import concrete_shapes, expression_dtype

#: a test of the default tiers (a build for ranks, then one per shape signature, each with
#: buffers of its shapes); skipped where every length is free from the first specialised
#: build (SOURCEGRAD_SPECIALISE_AFTER=1 or SOURCEGRAD_SYMBOLIC_SHAPES=1)
DEFAULT_TIERS = _pytest.mark.skipif(
    _SYMBOLIC_FIRST,
    reason="checks the default tiers (one build per shape signature); with "
    "SOURCEGRAD_SPECIALISE_AFTER=1 every length is free from the first specialised build",
)
