"""Forward-mode (tangent) rules of matrix products, ``np.linalg`` and sourcegrad's runtime
helpers, checked against central finite differences in float64.

Every differentiated function is a module-level ``def`` (sourcegrad reads source) that returns
the operation's value itself, so that the whole tangent is compared, item by item for tuples.
:func:`check` compares ``sg.jvp`` (signature-specialised) and its rank-generic variant with
``(f(x + eps v) - f(x - eps v)) / (2 eps)`` along a random tangent ``v``. The runtime helpers
are the functions reverse-mode (and forward-mode) generated code calls: their rules are what
lets generated derivatives be differentiated again in forward mode (Hessian-vector products,
forward over forward); a few end-to-end checks of exactly that close the file.
"""

import numpy as np
import pytest

import sourcegrad as sg

from .internals import (
    Pieces,
    append_tangent,
    assign_tangent,
    batch_scale,
    broadcast_like,
    einsum_call,
    expand_to,
    gradient_like,
    item_tangent,
    lookup_tangent,
    matvec_like,
    nondiff,
    pack_tangent,
    pad_tangent,
    pieces,
    shape_of,
    slot_subscripts,
    solve_like,
    stack_slots,
    sum_to,
    tangent_items,
    tangent_slots,
    uncholesky,
    unclip,
    unconcatenate,
    undot_left,
    undot_right,
    uneinsum,
    unindex,
    unmatmul_left,
    unmatmul_right,
    unnorm,
    unpad,
    unreduce,
    unrepeat,
    unsolve_a,
    unsolve_b,
    unstack_slots,
    unsum,
    untake,
    untake_along_axis,
    untensordot_left,
    untensordot_right,
    untile,
    written_part,
    zero_adjoint,
    zero_index,
    zero_tangent,
)

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7

# ----------------------------------------------------------------------------- machinery


def _tangent_for(x, rng):
    """A random tangent with the structure of ``x``."""
    if isinstance(x, float):
        return float(rng.standard_normal())
    if isinstance(x, dict):
        return {k: _tangent_for(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_tangent_for(v, rng) for v in x)
    return rng.standard_normal(np.shape(x))


def _step(x, t, h):
    """``x + h t`` for a structure ``x`` (and ``t`` of the same structure)."""
    if isinstance(x, dict):
        return {k: _step(v, t[k], h) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_step(v, s, h) for v, s in zip(x, t))
    if isinstance(x, float):
        return x + h * t
    return np.asarray(x + h * t)  # a 0-d array stays an array


def _leaves(v):
    """The arrays of a (nested) value, in order; None and dict keys are kept as markers."""
    if isinstance(v, dict):
        return [a for k in sorted(v, key=repr) for a in _leaves(v[k])]
    if isinstance(v, (list, tuple)):
        return [a for x in v for a in _leaves(x)]
    return [v]


def _structure(v):
    """The nesting of a value: tuples and lists (and Pieces) alike, dicts by key."""
    if isinstance(v, dict):
        return {k: _structure(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_structure(x) for x in v]
    return "leaf"


def _fd(f, args, wrt, ts, eps=EPS):
    plus, minus = list(args), list(args)
    for i, t in zip(wrt, ts):
        plus[i] = _step(args[i], t, eps)
        minus[i] = _step(args[i], t, -eps)
    hi, lo = _leaves(f(*plus)), _leaves(f(*minus))
    return [(np.asarray(a) - np.asarray(b)) / (2 * eps) for a, b in zip(hi, lo)]


def _compare(got_value, got_tangent, f, args, wrt, ts, what, rtol, atol):
    want_value = _leaves(f(*args))
    got_v = _leaves(got_value)
    assert len(got_v) == len(want_value), f"{what}: value structure"
    for a, b in zip(got_v, want_value):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"{what}: value")
    assert _structure(got_tangent) == _structure(got_value), f"{what}: tangent structure"
    expected = _fd(f, args, wrt, ts)
    got = _leaves(got_tangent)
    assert len(got) == len(expected), f"{what}: tangent has {len(got)} leaves, not {len(expected)}"
    for k, (g, e, v) in enumerate(zip(got, expected, got_v)):
        assert g is not None, f"{what}: tangent leaf {k} is None"
        assert np.shape(g) == np.shape(
            v
        ), f"{what}: tangent {k} shape {np.shape(g)} != {np.shape(v)}"
        if hasattr(v, "dtype") and np.ndim(v) > 0:
            assert np.asarray(g).dtype == v.dtype, f"{what}: tangent {k} dtype"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{what}: tangent {k}")


def check(f, *args, wrt=0, seed=0, rtol=RTOL, atol=ATOL, generic=True):
    """Compare ``sg.jvp(f, wrt)`` (and its rank-generic variant) with central differences
    along a random tangent of ``args[wrt]`` (one per index for a tuple ``wrt``)."""
    rng = np.random.default_rng(seed)
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    ts = tuple(_tangent_for(args[i], rng) for i in idxs)
    seed_arg = ts if isinstance(wrt, tuple) else ts[0]
    df = sg.jvp(f, wrt)
    variants = [("specialised", df)]
    if generic:
        variants.append(("generic", df.generic))
    out = None
    for label, fn in variants:
        value, tangent = fn(*args, seed_arg)
        _compare(value, tangent, f, args, idxs, ts, f"{f.__name__} ({label})", rtol, atol)
        out = out or (value, tangent)
    return out


def check_each(f, *args, wrt, **kw):
    """:func:`check` for the tuple ``wrt``, then for each of its indices alone (the other
    arguments constant: a rule's contributions must stand alone)."""
    check(f, *args, wrt=wrt, **kw)
    for i in wrt:
        check(f, *args, wrt=i, **kw)


def needs(*keys):
    """Skip when a forward rule that belongs to another module is not registered yet."""
    missing = [getattr(k, "__name__", str(k)) for k in keys if lookup_tangent(k) is None]
    if missing:
        pytest.skip(f"no forward rule for {', '.join(missing)} yet")


def make(shape, seed=0, low=-1.5, high=1.5):
    rng = np.random.default_rng(seed)
    if shape == "float":
        return float(rng.uniform(low, high))
    return rng.uniform(low, high, shape)


def away(shape, seed=0):
    """|x| in (0.5, 1.5), distinct magnitudes (the max-norm picks one element)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def well_conditioned(shape, seed=0):
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return n * np.eye(n) + 0.5 * rng.standard_normal(shape)


def spd(shape, seed=0):
    rng = np.random.default_rng(seed)
    n = shape[-1]
    m = rng.standard_normal(shape)
    return m @ np.swapaxes(m, -1, -2) / n + np.eye(n)


def _sid(s):
    return "float" if s == "float" else "x".join(map(str, s)) or "0d"


def _ids(pairs):
    return ["@".join(_sid(s) for s in p) for p in pairs]


# ============================================================================ products


def m_matmul(x, y):
    return x @ y


def m_np_matmul(x, y):
    return np.matmul(x, y)


def m_dot(x, y):
    return np.dot(x, y)


def m_dot_method(x, y):
    return x.dot(y)


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((2, 4), (4,)),
    ((2, 4), (4, 3)),
    ((5, 2, 4), (4, 3)),
    ((2, 4), (5, 4, 3)),
    ((5, 2, 4), (5, 4, 3)),
    ((5, 2, 4), (4,)),
    ((4,), (5, 4, 3)),
    ((1, 2, 4), (5, 4, 3)),
    ((5, 2, 4), (1, 4, 3)),
    ((6, 1, 2, 4), (5, 4, 3)),
    ((5, 2, 4), (6, 1, 4, 3)),
    ((2, 1, 2, 4), (1, 3, 4, 3)),
]
DOT_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((2, 4), (4,)),
    ((2, 4), (4, 3)),
    ((5, 2, 4), (4, 3)),
    ((5, 2, 4), (4,)),
    ((2, 4), (5, 4, 3)),
    ((4,), (5, 4, 3)),
    ((2, 2, 4), (5, 4, 3)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((), ()),
]


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES, ids=_ids(MATMUL_SHAPES))
@pytest.mark.parametrize("f", [m_matmul, m_np_matmul], ids=lambda f: f.__name__)
def test_matmul(f, xs, ys):
    check(f, make(xs, 12), make(ys, 13), wrt=(0, 1))


@pytest.mark.parametrize("xs,ys", DOT_SHAPES, ids=_ids(DOT_SHAPES))
@pytest.mark.parametrize("f", [m_dot, m_dot_method], ids=lambda f: f.__name__)
def test_dot(f, xs, ys):
    check(f, make(xs, 12), make(ys, 13), wrt=(0, 1))


@pytest.mark.parametrize("xs,ys", [((4,), (4, 3)), ((2, 4), (4, 3)), ((5, 2, 4), (4,))], ids=str)
@pytest.mark.parametrize("f", [m_matmul, m_dot], ids=lambda f: f.__name__)
def test_products_single_wrt(f, xs, ys):
    x, y = make(xs, 12), make(ys, 13)
    check(f, x, y, wrt=0)
    check(f, x, y, wrt=1)


def m_gram(x):
    return x @ x.T


def m_dot_scalar_float(x, y):
    return np.dot(x, y)


def test_matmul_same_operand():
    needs("T")
    check(m_gram, make((3, 4), 14))


def m_outer(x, y):
    return np.outer(x, y)


@pytest.mark.parametrize(
    "xs,ys", [((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,))], ids=str
)
def test_outer(xs, ys):
    check(m_outer, make(xs, 15), make(ys, 16), wrt=(0, 1))


def m_inner(x, y):
    return np.inner(x, y)


@pytest.mark.parametrize(
    "xs,ys", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,)), ((3,), (2, 4, 3))], ids=str
)
def test_inner(xs, ys):
    check(m_inner, make(xs, 15), make(ys, 16), wrt=(0, 1))


def t_default(x, y):
    return np.tensordot(x, y)


def t_axes0(x, y):
    return np.tensordot(x, y, axes=0)


def t_axes1(x, y):
    return np.tensordot(x, y, axes=1)


def t_pairs(x, y):
    return np.tensordot(x, y, axes=([1, 0], [0, 2]))


def t_pair_ints(x, y):
    return np.tensordot(x, y, (2, 1))


def t_neg(x, y):
    return np.tensordot(x, y, axes=([-1], [0]))


TENSORDOT = [
    (t_default, (2, 3, 4), (3, 4, 2)),
    (t_default, (3, 4), (3, 4)),
    (t_axes0, (2,), (3, 2)),
    (t_axes1, (2, 3), (3, 4)),
    (t_axes1, (2, 2, 3), (3, 4)),
    (t_pairs, (3, 2, 4), (2, 5, 3)),
    (t_pair_ints, (2, 3, 4), (3, 4)),
    (t_neg, (2, 3, 4), (4, 5)),
]
TD_IDS = [f"{f.__name__}-{_sid(a)}-{_sid(b)}" for f, a, b in TENSORDOT]


@pytest.mark.parametrize("f,xs,ys", TENSORDOT, ids=TD_IDS)
def test_tensordot(f, xs, ys):
    check(f, make(xs, 17), make(ys, 18), wrt=(0, 1))


def e_matmul(x, y):
    return np.einsum("ij,jk->ik", x, y)


def e_implicit(x, y):
    return np.einsum("ij,jk", x, y)


def e_transpose(x):
    return np.einsum("ij->ji", x)


def e_sum_all(x):
    return np.einsum("ij->", x)


def e_sum_rows(x):
    return np.einsum("ij->j", x)


def e_diag(x):
    return np.einsum("ii->i", x)


def e_trace(x):
    return np.einsum("ii", x)


def e_vdot(x, y):
    return np.einsum("i,i->", x, y)


def e_outer(x, y):
    return np.einsum("i,j->ij", x, y)


def e_rowdot(x, y):
    return np.einsum("ij,ij->i", x, y)


def e_batched(x, y):
    return np.einsum("bij,bjk->bik", x, y)


def e_three(x, y, z):
    return np.einsum("ij,jk,kl->il", x, y, z)


def e_same_twice(x):
    return np.einsum("ij,ij->", x, x)


def e_spaces(x, y):
    return np.einsum("ij, jk -> ik", x, y)


def e_ellipsis(x, y):
    return np.einsum("...ij,...jk", x, y)


def e_implicit_mixed_case(x, y):
    return np.einsum("aB,Bc", x, y)


EINSUM = [
    (e_matmul, [(2, 3), (3, 4)]),
    (e_implicit, [(2, 3), (3, 4)]),
    (e_transpose, [(2, 3)]),
    (e_sum_all, [(2, 3)]),
    (e_sum_rows, [(2, 3)]),
    (e_diag, [(3, 3)]),
    (e_trace, [(3, 3)]),
    (e_vdot, [(4,), (4,)]),
    (e_outer, [(3,), (4,)]),
    (e_rowdot, [(2, 3), (2, 3)]),
    (e_batched, [(2, 3, 4), (2, 4, 2)]),
    (e_three, [(2, 3), (3, 4), (4, 2)]),
    (e_same_twice, [(2, 3)]),
    (e_spaces, [(2, 3), (3, 4)]),
    (e_ellipsis, [(5, 2, 3), (5, 3, 4)]),
    (e_implicit_mixed_case, [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("f,shapes", EINSUM, ids=[f.__name__ for f, _ in EINSUM])
def test_einsum(f, shapes):
    args = [make(s, 19 + i) for i, s in enumerate(shapes)]
    check(f, *args, wrt=tuple(range(len(args))) if len(args) > 1 else 0)


@pytest.mark.parametrize("wrt", [0, 1, 2, (0, 2), (1, 2)], ids=str)
def test_einsum_some_operands_constant(wrt):
    args = [make(s, 30 + i) for i, s in enumerate([(2, 3), (3, 4), (4, 2)])]
    check(e_three, *args, wrt=wrt)


# ============================================================================ linalg


def l_inv(a):
    return np.linalg.inv(a)


def l_solve(a, b):
    return np.linalg.solve(a, b)


def l_det(a):
    return np.linalg.det(a)


def l_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign, logdet


def l_slogdet_whole(a):
    return np.linalg.slogdet(a)


def l_slogdet_index(a):
    return np.linalg.slogdet(a)[1]


def l_slogdet_product(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def l_cholesky(a):
    return np.linalg.cholesky(a)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 1, 2, 2)], ids=_sid)
def test_inv(shape):
    check(l_inv, well_conditioned(shape, 20))


SOLVE = [
    ((3, 3), (3,)),
    ((3, 3), (3, 2)),
    ((2, 3, 3), (2, 3, 2)),
    ((2, 3, 3), (3,)),
    ((2, 3, 3), (3, 2)),
    ((2, 3, 3), (1, 3, 2)),
    ((1, 3, 3), (2, 3, 2)),
    ((3, 3), (2, 3, 2)),
]


@pytest.mark.parametrize("as_,bs", SOLVE, ids=_ids(SOLVE))
@pytest.mark.parametrize("wrt", [(0, 1), 0, 1], ids=str)
def test_solve(as_, bs, wrt):
    check(l_solve, well_conditioned(as_, 21), make(bs, 22), wrt=wrt)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 2, 2, 2)], ids=_sid)
@pytest.mark.parametrize(
    "f",
    [l_det, l_slogdet, l_slogdet_whole, l_slogdet_index, l_slogdet_product],
    ids=lambda f: f.__name__,
)
def test_det(f, shape):
    a = 0.5 * well_conditioned(shape, 23)
    if f is l_det:
        a = a / shape[-1] * 1.2  # keep det(a) of order 1
    check(f, a)


def test_det_negative():
    a = well_conditioned((3, 3), 24)
    a[0] *= -1
    check(l_det, a)
    check(l_slogdet, a)
    check(l_slogdet_product, a)


def _sym_tangent_check(f, a, seed=0):
    """cholesky reads one triangle: compare along a symmetric tangent."""
    rng = np.random.default_rng(seed)
    t = rng.standard_normal(np.shape(a))
    t = t + np.swapaxes(t, -1, -2)
    for label, fn in [("specialised", sg.jvp(f)), ("generic", sg.jvp(f).generic)]:
        value, tangent = fn(a, t)
        _compare(value, tangent, f, (a,), (0,), (t,), f"{f.__name__} ({label})", RTOL, ATOL)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)], ids=_sid)
def test_cholesky(shape):
    _sym_tangent_check(l_cholesky, spd(shape, 25))


def n_default(x):
    return np.linalg.norm(x)


def n_ord2(x):
    return np.linalg.norm(x, 2)


def n_ord1(x):
    return np.linalg.norm(x, ord=1)


def n_inf(x):
    return np.linalg.norm(x, ord=np.inf)


def n_fro(x):
    return np.linalg.norm(x, "fro")


def n_axis1(x):
    return np.linalg.norm(x, axis=1)


def n_axis_m1_keep(x):
    return np.linalg.norm(x, axis=-1, keepdims=True)


def n_ord1_axis0(x):
    return np.linalg.norm(x, ord=1, axis=0)


def n_inf_axis1(x):
    return np.linalg.norm(x, ord=np.inf, axis=1)


def n_axes_pair(x):
    return np.linalg.norm(x, axis=(0, 1))


def n_keep(x):
    return np.linalg.norm(x, keepdims=True)


NORMS = [
    (n_default, (5,)),
    (n_default, (3, 4)),
    (n_default, (2, 3, 2)),
    (n_ord2, (5,)),
    (n_ord1, (5,)),
    (n_inf, (5,)),
    (n_fro, (3, 4)),
    (n_axis1, (3, 4)),
    (n_axis1, (2, 3, 4)),
    (n_axis_m1_keep, (3, 4)),
    (n_ord1_axis0, (3, 4)),
    (n_inf_axis1, (3, 4)),
    (n_axes_pair, (3, 4)),
    (n_axes_pair, (3, 4, 2)),
    (n_keep, (3, 4)),
    (n_keep, (5,)),
]


@pytest.mark.parametrize("f,shape", NORMS, ids=[f"{f.__name__}-{_sid(s)}" for f, s in NORMS])
def test_norm(f, shape):
    check(f, away(shape, 26))


def rt_norm(x, ord, axis, keepdims):
    return np.linalg.norm(x, ord, axis, keepdims)


@pytest.mark.parametrize(
    "ord,axis,keepdims",
    [
        (None, None, False),
        (None, None, True),
        (None, 0, False),
        (None, -1, True),
        (None, (0, 1), False),
        (2, 1, False),
        (1, 0, True),
        (np.inf, 1, False),
        ("fro", (0, 1), True),
    ],
    ids=str,
)
def test_norm_arguments_known_at_run_time(ord, axis, keepdims):
    check(rt_norm, away((3, 4), 61), ord, axis, keepdims)


# ============================================================================ runtime helpers
# helpers.py


def h_sum_to(g, x):
    return sum_to(g, x) * 2.0


def h_sum_to_shape(g, x):
    return sum_to(g, shape_of(x))


SUM_TO = [((3, 4), (3, 4)), ((5, 3, 4), (3, 4)), ((3, 4), (1, 4)), ((2, 3, 4), (3, 1)), ((3,), ())]


@pytest.mark.parametrize("gs,xs", SUM_TO, ids=_ids(SUM_TO))
@pytest.mark.parametrize("f", [h_sum_to, h_sum_to_shape], ids=lambda f: f.__name__)
def test_sum_to(f, gs, xs):
    check(f, make(gs, 1), make(xs, 2), wrt=(0, 1))


def h_expand_to(g, x, axis, keepdims):
    return expand_to(g, x, axis, keepdims)


def h_unreduce(g, x, axis, keepdims):
    return unreduce(g, x, axis, keepdims)


def h_unreduce_default(g, x):
    return unreduce(g, x)


REDUCED = [
    ((), None, False),
    ((1, 1, 1), None, True),
    ((3, 4), 0, False),
    ((2, 1, 4), 1, True),
    ((4,), (0, -2), False),
    ((2,), (1, 2), False),
]


@pytest.mark.parametrize("gs,axis,keepdims", REDUCED, ids=str)
@pytest.mark.parametrize("f", [h_expand_to, h_unreduce], ids=lambda f: f.__name__)
def test_expand_to_unreduce(f, gs, axis, keepdims):
    check(f, make(gs, 3), make((2, 3, 4), 4), axis, keepdims, wrt=0)


def h_unindex(g, x, idx):
    return unindex(g, x, idx)


def h_unindex_pieces(g, x, y):
    return unindex(g, [x, y], 1)


@pytest.mark.parametrize(
    "gs,idx",
    [
        ((4,), 1),
        ((2, 4), slice(0, 2)),
        ((4, 4), np.array([0, 2, 0, 1])),
        ((2,), (np.array([0, 2]), np.array([1, 3]))),
        ((), (1, 2)),
    ],
    ids=["int", "slice", "repeated", "pairs", "element"],
)
def test_unindex(gs, idx):
    check(h_unindex, make(gs, 5), make((3, 4), 6), idx, wrt=0)


def h_zero_index(g, idx):
    return zero_index(g, idx)


def h_written_part(g, idx):
    return written_part(g, idx)


@pytest.mark.parametrize(
    "idx", [1, (slice(None), 2), np.array([0, 2, 0])], ids=["int", "slice", "repeated"]
)
@pytest.mark.parametrize("f", [h_zero_index, h_written_part], ids=lambda f: f.__name__)
def test_zero_index_written_part(f, idx):
    check(f, make((3, 4), 8), idx, wrt=0)


def h_unsum(g, x, y):
    return unsum(g, [x, y])


def h_unsum_array(g, xs):
    return unsum(g, xs)


def h_unclip(g, a, lo, hi, which):
    return unclip(g, a, lo, hi, which)


@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("bounds", ["arrays", "floats"])
def test_unclip(which, bounds):
    a = make((3, 4), 12)
    lo, hi = (make((4,), 13, -1.0, -0.2), make((3, 1), 14, 0.2, 1.0))
    if bounds == "floats":
        lo, hi = -0.5, 0.5
    check(h_unclip, make((3, 4), 15), a, lo, hi, which, wrt=0)


def h_nondiff(x):
    return nondiff(x) * x


def h_zero_adjoint(x):
    return zero_adjoint(x) + x * x


def h_shape_of(x, y):
    return sum_to(y, shape_of(x)) * x


def test_constant_helpers():
    x = make((3,), 16)
    for fn in (sg.jvp(h_nondiff), sg.jvp(h_nondiff).generic):
        value, t = fn(x, np.ones(3))  # nondiff(x) is a constant c: d(c * x) = c dx
        np.testing.assert_allclose(value, x * x)
        np.testing.assert_allclose(t, x)
    check(h_zero_adjoint, x)
    check(h_shape_of, x, make((2, 3), 17), wrt=(0, 1))


# containers.py


def h_gradient_like(x, g):
    return gradient_like(x, g * 2.0)


def h_gradient_like_tuple(x, y, g):
    return gradient_like((x, y), g)


def h_gradient_like_dict_literal(x, y, gx, gy):
    return gradient_like((x, y), {(0,): gx, (1,): gy})


def h_gradient_like_parts(x, parts):
    return gradient_like(x, parts)


def test_gradient_like():
    x = make((3, 2), 18)
    check(h_gradient_like, x, make((3, 2), 19), wrt=1)
    check(h_gradient_like, 1.5, 0.25, wrt=1)
    check(
        h_gradient_like_tuple, make((2,), 1), make((3,), 2), (make((2,), 3), make((3,), 4)), wrt=2
    )


def test_gradient_like_parts_dict_argument():
    x = {"w": make((2, 3), 1), "b": make((3,), 2)}
    parts = {("w",): make((2, 3), 3), ("b",): make((3,), 4)}
    check(h_gradient_like_parts, x, parts, wrt=1)


def h_uneinsum_unpack_one(g, x):
    (gx,) = uneinsum(g, "ij->ji", (x,))
    return gx


def h_uneinsum_unpack_two(g, x, y):
    gx, gy = uneinsum(g, "ij,jk->ik", (x, y))
    return gy


# linalg_helpers.py


def h_unmatmul(g, x1, x2):
    return unmatmul_left(g, x1, x2), unmatmul_right(g, x1, x2)


def h_undot(g, a, b):
    return undot_left(g, a, b), undot_right(g, a, b)


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES, ids=_ids(MATMUL_SHAPES))
def test_unmatmul(xs, ys):
    x, y = make(xs, 40), make(ys, 41)
    g = make(np.shape(x @ y), 42)
    check_each(h_unmatmul, g, x, y, wrt=(0, 1, 2))


@pytest.mark.parametrize("xs,ys", DOT_SHAPES, ids=_ids(DOT_SHAPES))
def test_undot(xs, ys):
    x, y = make(xs, 40), make(ys, 41)
    g = make(np.shape(np.dot(x, y)), 42)
    check_each(h_undot, g, x, y, wrt=(0, 1, 2))


def h_untensordot(g, a, b, axes):
    return untensordot_left(g, a, b, axes), untensordot_right(g, a, b, axes)


TD_AXES = [
    ((2, 3, 4), (3, 4, 2), 2),
    ((2,), (3, 2), 0),
    ((2, 2, 3), (3, 4), 1),
    ((3, 2, 4), (2, 5, 3), ([1, 0], [0, 2])),
    ((2, 3, 4), (4, 5), ([-1], [0])),
]


@pytest.mark.parametrize("xs,ys,axes", TD_AXES, ids=str)
def test_untensordot(xs, ys, axes):
    x, y = make(xs, 43), make(ys, 44)
    g = make(np.shape(np.tensordot(x, y, axes)), 45)
    check_each(h_untensordot, g, x, y, axes, wrt=(0, 1, 2))


def h_uneinsum1(g, s, x):
    return uneinsum(g, s, (x,))


def h_uneinsum2(g, s, x, y):
    return uneinsum(g, s, (x, y))


def h_uneinsum3(g, s, x, y, z):
    return uneinsum(g, s, (x, y, z))


UNEINSUM = [
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,ij->i", [(2, 3), (2, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ii,ij->j", [(3, 3), (3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,j,jk->", [(2, 3), (3,), (3, 2)]),
]


@pytest.mark.parametrize("s,shapes", UNEINSUM, ids=[s for s, _ in UNEINSUM])
def test_uneinsum(s, shapes):
    f = [h_uneinsum1, h_uneinsum2, h_uneinsum3][len(shapes) - 1]
    ops = [make(sh, 46 + i) for i, sh in enumerate(shapes)]
    g = make(np.shape(np.einsum(s, *ops)), 50)
    wrt = (0, *range(2, 2 + len(ops)))
    check(f, g, s, *ops, wrt=wrt)


@pytest.mark.parametrize("wrt", [0, 2, (0, 3), (2, 4), (3, 4)], ids=str)
def test_uneinsum_some_operands_constant(wrt):
    ops = [make(sh, 46 + i) for i, sh in enumerate([(2, 3), (3, 4), (4, 2)])]
    g = make((2, 2), 50)
    check(h_uneinsum3, g, "ij,jk,kl->il", *ops, wrt=wrt)


def h_batch_scale(s, m):
    return batch_scale(s, m)


@pytest.mark.parametrize(
    "ss,ms", [((), (3, 3)), ((2,), (2, 3, 3)), ((2, 1), (2, 4, 3, 3))], ids=str
)
def test_batch_scale(ss, ms):
    check_each(h_batch_scale, make(ss, 51), make(ms, 52), wrt=(0, 1))


def h_unsolve(g, a, b, x):
    return unsolve_a(g, a, b, x), unsolve_b(g, a, b, x)


@pytest.mark.parametrize("as_,bs", SOLVE, ids=_ids(SOLVE))
def test_unsolve(as_, bs):
    a, b = well_conditioned(as_, 53), make(bs, 54)
    x = np.linalg.solve(a, b)
    g = make(np.shape(x), 55)
    check_each(h_unsolve, g, a, b, x + 0.1 * make(np.shape(x), 56), wrt=(0, 1, 3))


def h_unnorm(g, x, ord, axis, keepdims):
    z = np.linalg.norm(x, ord, axis, keepdims)
    return unnorm(g, x, z, ord, axis, keepdims)


def h_unnorm_default(g, x):
    z = np.linalg.norm(x)
    return unnorm(g, x, z, None, None, False)


def h_unnorm_ord1(g, x):
    z = np.linalg.norm(x, 1, 1)
    return unnorm(g, x, z, 1, 1, False)


def h_unnorm_fro_keep(g, x):
    z = np.linalg.norm(x, "fro", (0, 1), True)
    return unnorm(g, x, z, "fro", (0, 1), True)


def h_unnorm_free_z(g, x, z):
    return unnorm(g, x, z, None, 1, False)


UNNORM = [
    ((), None, None, False),
    ((1, 1), None, None, True),
    ((3,), None, 1, False),
    ((3, 1), 2, -1, True),
    ((4,), 1, 0, False),
    ((3,), np.inf, 1, False),
    ((), "fro", (0, 1), False),
]


@pytest.mark.parametrize("gs,ord,axis,keepdims", UNNORM, ids=str)
def test_unnorm(gs, ord, axis, keepdims):
    check_each(h_unnorm, make(gs, 57), away((3, 4), 58), ord, axis, keepdims, wrt=(0, 1))


@pytest.mark.parametrize(
    "f,gs",
    [(h_unnorm_default, ()), (h_unnorm_ord1, (3,)), (h_unnorm_fro_keep, (1, 1))],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_unnorm_ord_known(f, gs):
    check_each(f, make(gs, 57), away((3, 4), 58), wrt=(0, 1))


def test_unnorm_norm_independent():
    check_each(
        h_unnorm_free_z, make((3,), 57), away((3, 4), 58), make((3,), 59, 1, 2), wrt=(0, 1, 2)
    )


def h_uncholesky(g, low):
    return uncholesky(g, low)


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)], ids=_sid)
def test_uncholesky(shape):
    low = np.linalg.cholesky(spd(shape, 60))
    check_each(h_uncholesky, make(shape, 61), low, wrt=(0, 1))


# shape_helpers.py


def h_unconcatenate(g, x, y, axis):
    return unconcatenate(g, [x, y], axis)


def h_untile(g, a, reps):
    return untile(g, a, reps)


def h_unrepeat(g, a, repeats, axis):
    return unrepeat(g, a, repeats, axis)


def h_unpad(g, a, pad_width):
    return unpad(g, a, pad_width)


def h_untake(g, a, indices, axis):
    return untake(g, a, indices, axis)


def h_untake_along_axis(g, arr, indices, axis):
    return untake_along_axis(g, arr, indices, axis)


def test_shape_helpers():
    x, y = make((2, 3), 62), make((4, 3), 63)
    check(h_unconcatenate, make((6, 3), 64), x, y, 0, wrt=0)
    check(h_unconcatenate, make((18,), 64), x, y, None, wrt=0)
    check(h_untile, make((4, 9), 65), x, (2, 3), wrt=0)
    check(h_unrepeat, make((2, 6), 66), x, 2, 1, wrt=0)
    check(h_unrepeat, make((12,), 66), x, 2, None, wrt=0)
    check(h_unpad, make((4, 6), 67), x, ((1, 1), (2, 1)), wrt=0)
    check(h_untake, make((2, 4), 68), x, np.array([0, 2, 2, 1]), 1, wrt=0)
    check(h_untake, make((3,), 68), x, np.array([5, 0, 5]), None, wrt=0)
    idx = np.array([[0, 2, 2], [1, 1, 0]])
    check(h_untake_along_axis, make((2, 3), 69), x, idx, 1, wrt=0)


# tangent_helpers.py


def h_broadcast_like(t, z):
    return broadcast_like(t * 2.0, z)


def h_assign_tangent(dx, dv, x):
    return assign_tangent(dx, 1, dv, x)


def h_assign_tangent_none(dv, x):
    return assign_tangent(None, (slice(None), 0), dv, x)


def h_append_tangent(dxs, dv, xs, v):
    return append_tangent(dxs, dv, xs, v)


def h_pack_tangent(t0, x, y):
    return pack_tangent(tuple, (t0, None), (x, y))


def h_item_tangent(t, index):
    return item_tangent(t, index)


def h_tangent_items(t0, x, y):
    return tangent_items([t0, None], [x, y])


def h_pad_tangent(t, mode):
    return pad_tangent(t, ((1, 2), (0, 1)), mode)


def h_zero_tangent(x):
    return zero_tangent(x) + x


def test_tangent_helpers():
    x = make((3, 4), 70)
    check(h_broadcast_like, make((4,), 71), x, wrt=0)
    check(h_assign_tangent, make((3, 4), 72), make((4,), 73), x, wrt=(0, 1))
    check(h_assign_tangent, make((3, 4), 72), make((4,), 73), x, wrt=1)
    check(h_assign_tangent_none, make((3,), 74), x, wrt=0)
    xs, v = [make((2,), 75), make((3,), 76)], make((4,), 77)
    dxs, dv = [make((2,), 78), make((3,), 79)], make((4,), 80)
    check(h_append_tangent, dxs, dv, xs, v, wrt=(0, 1))
    check(h_append_tangent, dxs, dv, xs, v, wrt=1)
    check(h_pack_tangent, make((3,), 81), make((3,), 82), make((2,), 83), wrt=0)
    check(h_item_tangent, make((3, 4), 84), 2, wrt=0)
    check(h_zero_tangent, x, wrt=0)
    check(h_tangent_items, make((3,), 85), make((3,), 86), make((2,), 87), wrt=0)
    for mode in ("constant", "edge", "wrap"):
        check(h_pad_tangent, x, mode, wrt=0)


# the helpers the forward rules above call


def h_einsum_call(x, y, z):
    return einsum_call("ij,jk,kl->il", (x, y, z))


def h_stack_slots(x, y, dx, dz):
    slots = tangent_slots((dx, None, dz))
    return stack_slots((x, y, x), (dx, None, dz), slots, (x, y, x))


def h_stack_slots_einsum(x, y, dx, dy):
    slots = tangent_slots((dx, dy))
    return einsum_call(
        slot_subscripts("ij,jk", slots), stack_slots((x, y), (dx, dy), slots, (x, y))
    )


def h_unstack_slots(p, q, r):
    return unstack_slots((p, q, r), (0, 2))


def h_pieces(x, y):
    return pieces((x, y)) + pieces((y, x))


def h_matvec_like(m, v, x):
    return matvec_like(m, v, x, True) + matvec_like(m, v, x)


def h_solve_like(a, w, x):
    return solve_like(a, w, x)


def test_forward_rule_helpers():
    x, y, z = make((2, 3), 85), make((3, 4), 86), make((4, 2), 87)
    check(h_einsum_call, x, y, z, wrt=(0, 1, 2))
    check(h_einsum_call, x, y, z, wrt=1)
    dx, dy, dz = make((2, 3), 88), make((3, 4), 89), make((2, 3), 97)
    check_each(h_stack_slots, x, y, dx, dz, wrt=(0, 1, 2, 3))
    check_each(h_stack_slots_einsum, x, y, dx, dy, wrt=(0, 1, 2, 3))
    check_each(h_unstack_slots, make((2, 3), 90), make((4,), 91), make((2, 2), 92), wrt=(0, 1, 2))
    check(h_pieces, make((3,), 93), make((3,), 94), wrt=(0, 1))
    for ms, vs in [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3)), ((2, 3, 3), (2, 3, 2))]:
        a = well_conditioned(ms, 95)
        w = make(vs, 96)
        check_each(h_matvec_like, a, w, w, wrt=(0, 1))
        check_each(h_solve_like, a, w, w, wrt=(0, 1))


def test_slot_subscripts():
    assert slot_subscripts("ij,jk", ()) == "ij,jk"
    assert slot_subscripts("ij,jk", (1,)) == "ij,jk"
    assert slot_subscripts("ij,jk", (0, 1)) == "aij,ajk->ik"
    assert slot_subscripts("ab,bc->ac", (0, 1)) == "dab,dbc->ac"
    assert slot_subscripts("...ij,...jk", (0, 1)) == "a...ij,a...jk->...ik"
    assert slot_subscripts("aB,Bc", (0, 1)) == "baB,bBc->ac"
    assert tangent_slots((None, 1.0, None, np.ones(2))) == (1, 3)
    assert tangent_slots(None) == ()


def test_tuple_tangents_add_item_by_item():
    """Contributions to a tuple-valued result must be Pieces: + on tuples concatenates."""
    _, t = check(
        h_uneinsum2, make((2, 4), 1), "ij,jk->ik", make((2, 3), 2), make((3, 4), 3), wrt=(0, 2, 3)
    )
    assert isinstance(t, Pieces) and len(t) == 2


# ============================================================================ second order


def q_form(x, a):
    return x @ a @ x


def q_det(a):
    return np.linalg.det(a)


def q_logdet(a):
    return np.linalg.slogdet(a)[1]


def q_inv(a, u, v):
    return u @ np.linalg.inv(a) @ v


def q_solve(a, b, u):
    return u @ np.linalg.solve(a, b)


def q_solve_matrix(a, b, u, w):
    return u @ np.linalg.solve(a, b) @ w


def q_einsum(x, y):
    return np.einsum("ij,jk,ki->", x, y, x)


def q_tensordot(x, y):
    return np.tensordot(np.sin(x), y, axes=2)


def q_norm(x):
    return np.linalg.norm(x)


def q_cholesky(a, u, v):
    return u @ np.linalg.cholesky(a) @ v


def _hvp_check(f, args, wrt, v, rtol=1e-5, atol=1e-6):
    got = sg.hvp(f, wrt)(*args, v)
    gf = sg.grad(f, wrt)
    plus, minus = list(args), list(args)
    plus[wrt] = args[wrt] + EPS * v
    minus[wrt] = args[wrt] - EPS * v
    expected = (gf(*plus) - gf(*minus)) / (2 * EPS)
    assert np.shape(got) == np.shape(args[wrt])
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f.__name__)


HVP = [
    ("form", q_form, lambda: (make((3,), 1), make((3, 3), 2)), 0),
    ("form_matrix", q_form, lambda: (make((3,), 1), make((3, 3), 2)), 1),
    ("det", q_det, lambda: (0.5 * well_conditioned((3, 3), 3),), 0),
    ("logdet", q_logdet, lambda: (well_conditioned((3, 3), 4),), 0),
    ("inv", q_inv, lambda: (well_conditioned((3, 3), 5), make((3,), 6), make((3,), 7)), 0),
    ("solve_a", q_solve, lambda: (well_conditioned((3, 3), 8), make((3,), 9), make((3,), 10)), 0),
    ("solve_b", q_solve, lambda: (well_conditioned((3, 3), 8), make((3,), 9), make((3,), 10)), 1),
    (
        "solve_a_matrix",
        q_solve_matrix,
        lambda: (well_conditioned((3, 3), 8), make((3, 2), 9), make((3,), 10), make((2,), 11)),
        0,
    ),
    ("einsum", q_einsum, lambda: (make((3, 3), 11), make((3, 3), 12)), 0),
    ("einsum_y", q_einsum, lambda: (make((3, 3), 11), make((3, 3), 12)), 1),
    ("tensordot", q_tensordot, lambda: (make((2, 3), 13), make((2, 3), 14)), 0),
    ("norm", q_norm, lambda: (away((5,), 15),), 0),
]


@pytest.mark.parametrize("f,args,wrt", [h[1:] for h in HVP], ids=[h[0] for h in HVP])
def test_hvp_forward_over_reverse(f, args, wrt):
    args = args()
    v = np.random.default_rng(99).standard_normal(np.shape(args[wrt]))
    _hvp_check(f, args, wrt, v)


def test_hvp_cholesky():
    a = spd((3, 3), 16)
    rng = np.random.default_rng(17)
    v = rng.standard_normal((3, 3))
    _hvp_check(q_cholesky, (a, make((3,), 18), make((3,), 19)), 0, v + v.T)


def b_matmul(x, y):
    return np.sum(np.sin(x @ y))


def b_solve(a, b):
    return np.sum(np.sin(np.linalg.solve(a, b)))


def b_einsum(x, y, z):
    return np.sum(np.sin(np.einsum("bij,bjk,bkl->bil", x, y, z)))


def b_norm(x):
    return np.sum(np.sin(np.linalg.norm(x, axis=1)))


def b_det(a):
    return np.sum(np.sin(np.linalg.det(a)))


def b_cholesky(a):
    return np.sum(np.sin(np.linalg.cholesky(a)))


def b_tensordot(x, y):
    return np.sum(np.sin(np.tensordot(x, y, axes=([1, 0], [0, 2]))))


def b_two_wrt(x, y):
    return np.sum(np.sin(x @ y))


BATCHED = [
    ("matmul_x", b_matmul, lambda: (make((5, 2, 3), 1), make((3, 4), 2)), 0),
    ("matmul_y", b_matmul, lambda: (make((5, 2, 3), 1), make((3, 4), 2)), 1),
    ("matmul_vec", b_matmul, lambda: (make((3,), 1), make((5, 3, 4), 2)), 1),
    ("solve_a", b_solve, lambda: (well_conditioned((2, 3, 3), 3), make((3,), 4)), 0),
    ("solve_b", b_solve, lambda: (well_conditioned((2, 3, 3), 3), make((2, 3, 2), 4)), 1),
    ("solve_a_matrix", b_solve, lambda: (well_conditioned((2, 3, 3), 3), make((1, 3, 2), 4)), 0),
    ("einsum_x", b_einsum, lambda: (make((2, 2, 3), 5), make((2, 3, 4), 6), make((2, 4, 2), 7)), 0),
    ("einsum_y", b_einsum, lambda: (make((2, 2, 3), 5), make((2, 3, 4), 6), make((2, 4, 2), 7)), 1),
    ("norm_axis", b_norm, lambda: (away((3, 4), 8),), 0),
    ("det", b_det, lambda: (0.4 * well_conditioned((2, 3, 3), 9),), 0),
    ("tensordot", b_tensordot, lambda: (make((3, 2, 4), 10), make((2, 5, 3), 11)), 1),
]


@pytest.mark.parametrize("f,args,wrt", [c[1:] for c in BATCHED], ids=[c[0] for c in BATCHED])
def test_hvp_through_runtime_helpers(f, args, wrt):
    """Reverse mode emits the runtime helpers (unmatmul_left, unsolve_a, uneinsum, unnorm,
    batch_scale, untensordot_right, ...) for these ranks; hvp differentiates them forward."""
    needs(np.sum, np.sin)
    args = args()
    v = np.random.default_rng(98).standard_normal(np.shape(args[wrt]))
    _hvp_check(f, args, wrt, v)


def test_hvp_through_uncholesky():
    needs(np.sum, np.sin)
    a = spd((2, 3, 3), 12)
    v = np.random.default_rng(13).standard_normal((2, 3, 3))
    _hvp_check(b_cholesky, (a,), 0, v + np.swapaxes(v, -1, -2))


def test_jvp_of_gradient_with_two_wrt():
    """The gradient's parts reach gradient_like as a dict literal: its tangent is one too."""
    x, y = make((2, 3), 1), make((3, 4), 2)
    v = np.ones_like(x)
    (gx, gy), (tx, ty) = sg.jvp(sg.grad(b_two_wrt, (0, 1)), 0)(x, y, v)
    gf = sg.grad(b_two_wrt, (0, 1))
    hi, lo = gf(x + EPS * v, y), gf(x - EPS * v, y)
    np.testing.assert_allclose(tx, (hi[0] - lo[0]) / (2 * EPS), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ty, (hi[1] - lo[1]) / (2 * EPS), rtol=1e-5, atol=1e-6)


def _second_order_check(f, args, wrt, seed=0, rtol=1e-5, atol=1e-6):
    """Forward over forward: the tangent of ``x -> jvp(f)(x, v)`` along ``u`` against central
    differences of the first-order jvp (itself checked against f above)."""
    rng = np.random.default_rng(seed)
    v = _tangent_for(args[wrt], rng)
    u = _tangent_for(args[wrt], rng)
    inner = sg.jvp(f, wrt)
    outer = sg.jvp(inner, wrt)
    (value, tangent), (dvalue, dtangent) = outer(*args, v, u)

    def first(*a):
        return inner(*a, v)

    plus, minus = list(args), list(args)
    plus[wrt] = _step(args[wrt], u, EPS)
    minus[wrt] = _step(args[wrt], u, -EPS)
    hi, lo = _leaves(first(*plus)), _leaves(first(*minus))
    expected = [(np.asarray(a) - np.asarray(b)) / (2 * EPS) for a, b in zip(hi, lo)]
    got = _leaves((dvalue, dtangent))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f.__name__)


def s_einsum(x, y):
    return np.einsum("ij,jk,kl->il", x, y, x @ y)


def s_einsum_const(x, y):
    return np.einsum("ij,jk->ik", x, y)


FOF = [
    ("matmul", m_matmul, lambda: (make((2, 3), 1), make((3, 4), 2)), 0),
    ("matmul_batched", m_matmul, lambda: (make((5, 2, 3), 1), make((3, 4), 2)), 1),
    ("einsum", s_einsum, lambda: (make((3, 3), 3), make((3, 3), 4)), 0),
    ("einsum_one_varies", s_einsum_const, lambda: (make((2, 3), 3), make((3, 4), 4)), 1),
    ("inv", l_inv, lambda: (well_conditioned((2, 3, 3), 5),), 0),
    ("solve_a", l_solve, lambda: (well_conditioned((2, 3, 3), 6), make((3,), 7)), 0),
    ("solve_a_2d", l_solve, lambda: (well_conditioned((3, 3), 6), make((3, 2), 7)), 0),
    ("det", l_det, lambda: (0.5 * well_conditioned((2, 3, 3), 8),), 0),
    ("slogdet", l_slogdet, lambda: (well_conditioned((3, 3), 9),), 0),
    ("tensordot", t_pairs, lambda: (make((3, 2, 4), 10), make((2, 5, 3), 11)), 0),
]


@pytest.mark.parametrize("f,args,wrt", [c[1:] for c in FOF], ids=[c[0] for c in FOF])
def test_forward_over_forward(f, args, wrt):
    _second_order_check(f, args(), wrt)


def s_concatenate(x, y):
    return np.concatenate([np.sin(x), y]) * np.sum(x)


def s_stack(x, y):
    return np.stack([x * x, y], axis=1)


def s_pad(x):
    return np.pad(np.sin(x), ((1, 0), (2, 1)), mode="edge")


@pytest.mark.parametrize(
    "f,args",
    [
        (s_concatenate, lambda: (make((3,), 1), make((2,), 2))),
        (s_stack, lambda: (make((3,), 1), make((3,), 2))),
        (s_pad, lambda: (make((2, 3), 3),)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_forward_over_forward_through_tangent_helpers(f, args):
    """The forward rules of np.concatenate, np.stack and np.pad call tangent_items and
    pad_tangent: differentiating their tangent code again needs those helpers' rules."""
    needs(np.concatenate, np.stack, np.pad, np.sum)
    _second_order_check(f, args(), 0)


def test_forward_over_forward_norm():
    needs(np.sum)
    _second_order_check(n_axis1, (away((3, 4), 12),), 0)


def l_cholesky_symmetric(a):
    return np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2)))


def test_forward_over_forward_cholesky():
    """Cholesky's tangent rule takes the direction as symmetric (the input stays a symmetric
    matrix): checked along any direction through the symmetrised input."""
    needs(np.tril, np.swapaxes)
    _second_order_check(l_cholesky_symmetric, (spd((3, 3), 13),), 0)


def test_third_order_einsum():
    """Forward over forward over forward: einsum's tangent is an einsum of stacks."""
    x, y = make((2, 2), 20), make((2, 2), 21)
    rng = np.random.default_rng(3)
    v1, v2, v3 = (rng.standard_normal((2, 2)) for _ in range(3))
    j1 = sg.jvp(s_einsum, 0)
    j2 = sg.jvp(j1, 0)
    j3 = sg.jvp(j2, 0)
    out = j3(x, y, v1, v2, v3)
    third = out[1][1][1]

    def second(xx):
        return j2(xx, y, v1, v2)[1][1]

    expected = (second(x + EPS * v3) - second(x - EPS * v3)) / (2 * EPS)
    np.testing.assert_allclose(third, expected, rtol=1e-5, atol=1e-6)


# ============================================================================ one-case rules
# (function, args, wrt): rules and helpers checked on one input (Python floats, containers)

ONE_CASE = [
    (m_dot_scalar_float, (1.5, make((3,), 1)), (0, 1)),
    (h_sum_to, (1.5, make((3,), 2)), 0),
    (h_unreduce_default, (0.7, make((2, 3), 4)), 0),
    (h_unindex_pieces, (make((2,), 5), make((3,), 6), make((2,), 7)), 0),
    (h_unsum, (make((3,), 9), make((3,), 10), make((2, 3), 11)), 0),
    (h_unsum_array, (make((3,), 9), make((4, 3), 10)), 0),
    (
        h_gradient_like_dict_literal,
        (make((2,), 1), make((3,), 2), make((2,), 3), make((3,), 4)),
        (2, 3),
    ),
    (h_uneinsum_unpack_two, (make((2, 4), 1), make((2, 3), 2), make((3, 4), 3)), (0, 1)),
    # regression: `(gx,) = f(...)` got the tangent `dgx = <1-tuple>` (reverse code for einsum
    # with one operand has exactly this statement)
    (h_uneinsum_unpack_one, (make((3, 2), 1), make((2, 3), 2)), (0, 1)),
]


@pytest.mark.parametrize("f, args, wrt", ONE_CASE, ids=[c[0].__name__ for c in ONE_CASE])
def test_one_case(f, args, wrt):
    check(f, *args, wrt=wrt)
