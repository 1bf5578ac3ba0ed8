"""Forward-mode (tangent) rules of reductions and shape operations against finite differences.

Every checked function is a module-level ``def`` (sourcegrad reads source) that returns the
result of the operation under test (an array, or a list of arrays for ``np.split``), sometimes
after a nonlinear step so that the operand is an intermediate value. :func:`check_jvp` compares
``sg.jvp(f, wrt)(*args, v)`` and its rank-generic variant with central differences of ``f``
along a random direction ``v`` in float64, and checks the value, shape and dtype.
"""

import functools

import numpy as np
import pytest

import sourcegrad as sg

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7

# ----------------------------------------------------------------------------- inputs


def make(shape, seed=0, domain="any"):
    """A float64 array (a Python float for shape ``"float"``).

    any: (-1.5, 1.5); away: |x| in (0.5, 1.5)."""
    rng = np.random.default_rng(seed)
    size = () if shape == "float" else shape
    if domain == "any":
        x = rng.uniform(-1.5, 1.5, size)
    elif domain == "away":
        x = rng.uniform(0.5, 1.5, size) * rng.choice([-1.0, 1.0], size)
    else:
        raise ValueError(domain)
    return float(x) if shape == "float" else np.asarray(x, dtype=np.float64)


def direction(x, seed):
    """A random tangent shaped like ``x``."""
    rng = np.random.default_rng(1000 + seed)
    if isinstance(x, float):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _shape_id(s):
    return "float" if s == "float" else "x".join(map(str, s)) or "0d"


@functools.cache
def _jvp(f, wrt):
    """One ``sg.jvp`` per (function, wrt), so that its per-signature cache is reused."""
    return sg.jvp(f, wrt)


def _items(y):
    """The arrays of an output: ``y`` itself, or the items of a list or tuple."""
    if isinstance(y, (list, tuple)):
        return [a for item in y for a in _items(item)]
    return [y]


def check_jvp(f, *args, wrt=0, seed=0, generic=True):
    """Compare the jvp of ``f`` along a random direction with central differences."""
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    vs = tuple(direction(args[i], seed + k) for k, i in enumerate(idxs))

    def moved(step):
        a = list(args)
        for i, v in zip(idxs, vs):
            a[i] = args[i] + step * v
        return f(*a)

    expected_value = _items(f(*args))
    expected = [(p - m) / (2 * EPS) for p, m in zip(_items(moved(EPS)), _items(moved(-EPS)))]
    df = _jvp(f, wrt)
    seed_arg = vs if isinstance(wrt, tuple) else vs[0]
    variants = [("specialised", df)]
    if generic:
        variants.append(("generic", df.generic))
    for label, fn in variants:
        value, tangent = fn(*args, seed_arg)
        what = f"{f.__name__} ({label})"
        got_value, got = _items(value), _items(tangent)
        assert len(got_value) == len(expected_value), what
        assert len(got) == len(expected), f"{what}: {len(got)} tangents for {len(expected)} outputs"
        for k, (y, g, e, e_val) in enumerate(zip(got_value, got, expected, expected_value)):
            np.testing.assert_array_equal(y, e_val, err_msg=f"{what}: value {k}")
            assert np.shape(g) == np.shape(
                e_val
            ), f"{what}: tangent {k} has shape {np.shape(g)}, the output {np.shape(e_val)}"
            assert np.asarray(g).dtype == np.asarray(e_val).dtype, (
                f"{what}: tangent {k} has dtype {np.asarray(g).dtype}, "
                f"the output {np.asarray(e_val).dtype}"
            )
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg=f"{what}: tangent {k}")


# ============================================================================ reductions
# written-out calls: constant axis and keepdims, decided when the rule is inlined


def r_sum(x):
    return np.sum(x)


def r_sum_keep(x):
    return np.sum(x, keepdims=True)


def r_sum_0(x):
    return np.sum(x, axis=0)


def r_sum_m1_keep(x):
    return np.sum(x, axis=-1, keepdims=True)


def r_sum_t(x):
    return np.sum(x, axis=(0, -1))


def r_sum_method(x):
    return x.sum(axis=0, keepdims=True)


def r_sum_dtype(x):
    return np.sum(x, 0, np.float64)


def r_mean(x):
    return np.mean(x)


def r_mean_keep(x):
    return np.mean(x, keepdims=True)


def r_mean_0_keep(x):
    return np.mean(x, axis=0, keepdims=True)


def r_mean_m1(x):
    return np.mean(x, axis=-1)


def r_mean_t_keep(x):
    return np.mean(x, axis=(0, -1), keepdims=True)


def r_mean_method(x):
    return x.mean(-1)


def r_prod(x):
    return np.prod(x)


def r_prod_keep(x):
    return np.prod(x, keepdims=True)


def r_prod_0(x):
    return np.prod(x, axis=0)


def r_prod_m1_keep(x):
    return np.prod(x, axis=-1, keepdims=True)


def r_prod_t(x):
    return np.prod(x, axis=(0, -1))


def r_prod_method(x):
    return x.prod(axis=0)


def r_max(x):
    return np.max(x)


def r_max_keep(x):
    return np.max(x, keepdims=True)


def r_max_0(x):
    return np.max(x, axis=0)


def r_max_m1_keep(x):
    return np.max(x, axis=-1, keepdims=True)


def r_max_t(x):
    return np.max(x, axis=(0, -1))


def r_max_method(x):
    return x.max(axis=-1)


def r_amax(x):
    return np.amax(x)


def r_amax_0_keep(x):
    return np.amax(x, axis=0, keepdims=True)


def r_min(x):
    return np.min(x)


def r_min_0(x):
    return np.min(x, axis=0)


def r_min_m1_keep(x):
    return np.min(x, axis=-1, keepdims=True)


def r_min_t_keep(x):
    return np.min(x, axis=(0, -1), keepdims=True)


def r_min_method(x):
    return x.min(0)


def r_amin(x):
    return np.amin(x)


def r_amin_m1(x):
    return np.amin(x, axis=-1)


def r_var(x):
    return np.var(x)


def r_var_keep(x):
    return np.var(x, keepdims=True)


def r_var_0(x):
    return np.var(x, axis=0)


def r_var_m1_keep(x):
    return np.var(x, axis=-1, keepdims=True)


def r_var_t(x):
    return np.var(x, axis=(0, -1))


def r_var_ddof(x):
    return np.var(x, ddof=1)


def r_var_0_ddof_keep(x):
    return np.var(x, axis=0, ddof=1, keepdims=True)


def r_var_method(x):
    return x.var(axis=-1)


def r_std(x):
    return np.std(x)


def r_std_keep(x):
    return np.std(x, keepdims=True)


def r_std_0(x):
    return np.std(x, axis=0)


def r_std_m1_keep(x):
    return np.std(x, axis=-1, keepdims=True)


def r_std_t(x):
    return np.std(x, axis=(0, -1))


def r_std_ddof(x):
    return np.std(x, ddof=1)


def r_std_m1_ddof(x):
    return np.std(x, axis=-1, ddof=1)


def r_std_method(x):
    return x.std(axis=0, keepdims=True)


def r_cumsum(x):
    return np.cumsum(x)


def r_cumsum_0(x):
    return np.cumsum(x, axis=0)


def r_cumsum_m1(x):
    return np.cumsum(x, axis=-1)


def r_cumsum_method(x):
    return x.cumsum(0)


def r_chain(x):
    # reductions of intermediate values, feeding nonlinear functions
    y = np.sin(x) * x
    m = np.max(y, axis=0, keepdims=True)
    s = np.std(y - m, axis=0)
    return np.exp(np.mean(y - m, axis=0)) * s + np.prod(np.cos(x), axis=0)


def _axes_needed(f):
    name = f.__name__
    if "_t" in name.replace("_keep", ""):
        return 2
    if "_0" in name or "_m1" in name or "_method" in name or "_dtype" in name:
        return 1
    return 0


REDUCTIONS = [f for name, f in sorted(globals().items()) if name.startswith("r_")]
DOMAIN = {"prod": "away"}


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)], ids=_shape_id)
@pytest.mark.parametrize("f", REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction(f, shape):
    if len(shape) < _axes_needed(f):
        pytest.skip("needs more dimensions")
    x = make(shape, 9, DOMAIN.get(f.__name__.split("_")[1], "any"))
    check_jvp(f, x)


SCALAR_REDUCTIONS = [
    r_sum, r_sum_keep, r_mean, r_mean_keep, r_prod, r_prod_keep, r_max, r_max_keep,
    r_amax, r_min, r_amin, r_var, r_var_keep, r_cumsum,
]  # fmt: skip


@pytest.mark.parametrize("shape", [(), "float"], ids=_shape_id)
@pytest.mark.parametrize("f", SCALAR_REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction_of_scalar(f, shape):
    check_jvp(f, make(shape, 9, "away"))


FLOAT32 = [r_sum_t, r_mean_0_keep, r_prod_m1_keep, r_max_t, r_min_0, r_var_0, r_std_m1_keep,
           r_std_ddof, r_cumsum_m1, r_chain]  # fmt: skip


@pytest.mark.parametrize("f", FLOAT32, ids=lambda f: f.__name__)
def test_reduction_float32_tangent_dtype(f):
    """With float32 inputs and tangents the tangent stays float32 (Python-number factors in
    the rules must not promote it) and agrees with the float64 tangent."""
    x = make((3, 4), 13, "away")
    v = direction(x, 13)
    value, t = _jvp(f, 0)(x.astype(np.float32), v.astype(np.float32))
    assert np.asarray(value).dtype == np.float32
    assert np.asarray(t).dtype == np.float32, np.asarray(t).dtype
    _, t64 = _jvp(f, 0)(x, v)
    np.testing.assert_allclose(t, t64, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- axis and keepdims as arguments
# not constants when the rule is inlined: the rule must work with values known only at run time


def p_sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def p_mean(x, axis, keepdims):
    return np.mean(x, axis=axis, keepdims=keepdims)


def p_prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims)


def p_max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def p_amax(x, axis, keepdims):
    return np.amax(x, axis=axis, keepdims=keepdims)


def p_min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def p_amin(x, axis, keepdims):
    return np.amin(x, axis=axis, keepdims=keepdims)


def p_var(x, axis, keepdims):
    return np.var(x, axis=axis, keepdims=keepdims)


def p_std(x, axis, keepdims):
    return np.std(x, axis=axis, ddof=1, keepdims=keepdims)


PARAM_REDUCTIONS = [p_sum, p_mean, p_prod, p_max, p_amax, p_min, p_amin, p_var, p_std]
AXES = [None, 0, -1, (0, 1), (-1, 0)]


@pytest.mark.parametrize("keepdims", [False, True], ids=["", "keep"])
@pytest.mark.parametrize("axis", AXES, ids=lambda a: repr(a).replace(" ", ""))
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)], ids=_shape_id)
@pytest.mark.parametrize("f", PARAM_REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction_axis_argument(f, shape, axis, keepdims):
    x = make(shape, 10, "away" if f is p_prod else "any")
    check_jvp(f, x, axis, keepdims)


def p_cumsum(x, axis):
    return np.cumsum(x, axis=axis)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)], ids=_shape_id)
def test_cumsum_axis_argument(shape, axis):
    check_jvp(p_cumsum, make(shape, 11), axis)


# ---------------------------------------------------------------- max/min with ties


def t_max_0(x):
    return np.max(x, axis=0)


def t_min_all(x):
    return np.min(x)


def t_max_m1_keep(x):
    return np.max(x, axis=-1, keepdims=True)


TIES = [
    (t_max_0, np.array([[1.0, 2.0, 0.5], [1.0, -1.0, 0.5], [0.0, 2.0, 0.5]])),
    (t_min_all, np.array([[0.3, -2.0], [-2.0, 1.0], [-2.0, 0.0]])),
    (t_max_m1_keep, np.array([[1.0, 1.0, 1.0], [0.0, 3.0, 3.0]])),
]


@pytest.mark.parametrize("f,x", TIES, ids=[f.__name__ for f, _ in TIES])
def test_max_min_ties_average(f, x):
    """At ties the tangent is the mean of the tangents at the extreme positions (the reverse
    rule splits the adjoint equally), so jvp and vjp are transposes of each other."""
    rng = np.random.default_rng(12)
    v = rng.standard_normal(x.shape)
    value, t = _jvp(f, 0)(x, v)
    np.testing.assert_array_equal(value, f(x))
    # the mean of v over the positions where x attains the extreme, from index sets
    reduce_axis = {t_max_0: 0, t_min_all: None, t_max_m1_keep: -1}[f]
    hit = x == (np.expand_dims(value, 0) if f is t_max_0 else value)
    expected = np.sum(v * hit, axis=reduce_axis) / np.sum(hit, axis=reduce_axis)
    np.testing.assert_allclose(t, np.reshape(expected, np.shape(value)), rtol=1e-12)
    w = rng.standard_normal(np.shape(value))
    (g,) = sg.vjp(f, (0,))(x, w)
    np.testing.assert_allclose(np.sum(t * w), np.sum(g * v), rtol=1e-12)


# ============================================================================ shapes


def s_reshape(x):
    return np.reshape(x, (4, 3))


def s_reshape_m1(x):
    return np.reshape(x, -1)


def s_reshape_partial(x):
    return np.reshape(x * x, (2, -1))


def s_reshape_method_args(x):
    return x.reshape(4, 3)


def s_reshape_method_tuple(x):
    return x.reshape((6, 2))


def s_ravel(x):
    return np.ravel(x)


def s_ravel_method(x):
    return np.sin(x).ravel()


def s_flatten(x):
    return x.flatten()


def s_squeeze(x):
    return np.squeeze(x)


def s_squeeze_axis(x):
    return np.squeeze(x, axis=1)


def s_squeeze_method(x):
    return x.squeeze()


def s_expand_dims(x):
    return np.expand_dims(x, 0)


def s_expand_dims_neg(x):
    return np.expand_dims(x, -1)


def s_expand_dims_tuple(x):
    return np.expand_dims(x, (0, 2))


def s_atleast_1d(x):
    return np.atleast_1d(x)


def s_atleast_2d(x):
    return np.atleast_2d(x)


def s_ascontiguousarray(x):
    return np.ascontiguousarray(x.T)


def s_transpose(x):
    return np.transpose(x)


def s_transpose_axes(x):
    return np.transpose(x, (1, 2, 0))


def s_transpose_axes_kw(x):
    return np.transpose(x, axes=(2, 0, 1))


def s_T(x):
    return x.T


def s_T_of_product(x):
    return (x * np.cos(x)).T


def s_transpose_method(x):
    return x.transpose()


def s_transpose_method_args(x):
    return x.transpose(1, 0)


def s_transpose_method_tuple(x):
    return x.transpose((1, 0))


def s_swapaxes(x):
    return np.swapaxes(x, 0, 2)


def s_swapaxes_neg(x):
    return np.swapaxes(x, -1, 0)


def s_swapaxes_method(x):
    return x.swapaxes(0, 1)


def s_moveaxis(x):
    return np.moveaxis(x, 0, -1)


def s_moveaxis_tuple(x):
    return np.moveaxis(x, (0, 1), (2, 0))


def s_broadcast_to(x):
    return np.broadcast_to(x, (2, 3, 4))


def s_broadcast_to_then(x):
    return np.sin(np.broadcast_to(x, (2, 3, 4))) * 2.0


def s_flip(x):
    return np.flip(x)


def s_flip_0(x):
    return np.flip(x, 0)


def s_flip_m1(x):
    return np.flip(x, axis=-1)


def s_flip_tuple(x):
    return np.flip(x, axis=(0, 2))


def s_tile_int(x):
    return np.tile(x, 2)


def s_tile_tuple(x):
    return np.tile(x, (2, 1))


def s_tile_more(x):
    return np.tile(x, (2, 1, 3))


def s_repeat(x):
    return np.repeat(x, 2)


def s_repeat_axis(x):
    return np.repeat(x, 2, axis=1)


def s_repeat_list(x):
    return np.repeat(x, [1, 0, 3], axis=0)


def s_repeat_method(x):
    return x.repeat(3, axis=-1)


def s_pad_int(x):
    return np.pad(x, 1)


def s_pad_pair(x):
    return np.pad(x, (1, 2))


def s_pad_widths(x):
    return np.pad(x, ((1, 0), (2, 3)), mode="constant")


def s_pad_values(x):
    return np.pad(x, 2, constant_values=0.7)


def s_pad_edge(x):
    return np.pad(x, (2, 1), mode="edge")


def s_pad_wrap(x):
    return np.pad(x, 2, "wrap")


SHAPE_OPS = [
    (s_reshape, (3, 4)),
    (s_reshape, (12,)),
    (s_reshape_m1, (3, 4)),
    (s_reshape_m1, ()),
    (s_reshape_m1, "float"),
    (s_reshape_partial, (3, 4)),
    (s_reshape_method_args, (2, 6)),
    (s_reshape_method_tuple, (3, 4)),
    (s_ravel, (3, 4)),
    (s_ravel, ()),
    (s_ravel_method, (2, 3, 2)),
    (s_flatten, (3, 4)),
    (s_squeeze, (3, 1, 4, 1)),
    (s_squeeze_axis, (3, 1, 4)),
    (s_squeeze_method, (1, 4)),
    (s_expand_dims, (3, 4)),
    (s_expand_dims, ()),
    (s_expand_dims_neg, (3,)),
    (s_expand_dims_tuple, (3, 4)),
    (s_atleast_1d, ()),
    (s_atleast_1d, "float"),
    (s_atleast_1d, (3,)),
    (s_atleast_2d, (3,)),
    (s_atleast_2d, ()),
    (s_atleast_2d, (2, 3)),
    (s_ascontiguousarray, (3, 4)),
    (s_transpose, (3, 4)),
    (s_transpose, (2, 3, 4)),
    (s_transpose, (5,)),
    (s_transpose_axes, (2, 3, 4)),
    (s_transpose_axes_kw, (2, 3, 4)),
    (s_T, (3, 4)),
    (s_T, (2, 3, 4)),
    (s_T, (5,)),
    (s_T_of_product, (3, 4)),
    (s_transpose_method, (3, 4)),
    (s_transpose_method_args, (3, 4)),
    (s_transpose_method_tuple, (3, 4)),
    (s_swapaxes, (2, 3, 4)),
    (s_swapaxes_neg, (2, 3, 4)),
    (s_swapaxes_method, (3, 4)),
    (s_moveaxis, (2, 3, 4)),
    (s_moveaxis, (3, 4)),
    (s_moveaxis_tuple, (2, 3, 4)),
    (s_broadcast_to, (3, 1)),
    (s_broadcast_to, (4,)),
    (s_broadcast_to, ()),
    (s_broadcast_to, "float"),
    (s_broadcast_to, (1, 3, 4)),
    (s_broadcast_to_then, (3, 1)),
    (s_flip, (5,)),
    (s_flip, (2, 3, 4)),
    (s_flip_0, (3, 4)),
    (s_flip_m1, (3, 4)),
    (s_flip_tuple, (2, 3, 4)),
    (s_tile_int, (3,)),
    (s_tile_int, (2, 3)),
    (s_tile_int, ()),
    (s_tile_tuple, (2, 3)),
    (s_tile_tuple, (3,)),
    (s_tile_more, (2, 3)),
    (s_repeat, (3,)),
    (s_repeat, (2, 3)),
    (s_repeat_axis, (2, 3)),
    (s_repeat_list, (3, 2)),
    (s_repeat_method, (2, 3)),
    (s_pad_int, (3,)),
    (s_pad_int, (2, 3)),
    (s_pad_pair, (2, 3)),
    (s_pad_widths, (2, 3)),
    (s_pad_values, (2, 3)),
    (s_pad_edge, (4,)),
    (s_pad_edge, (2, 3)),
    (s_pad_wrap, (3, 2)),
]


@pytest.mark.parametrize(
    "f,shape", SHAPE_OPS, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in SHAPE_OPS]
)
def test_shape_op(f, shape):
    check_jvp(f, make(shape, 27))


def s_pad_mean(x):
    return np.pad(x, 1, mode="mean")


def test_pad_unsupported_mode_is_refused():
    with pytest.raises(sg.SourcegradError, match="np.pad"):
        sg.jvp(s_pad_mean)(make((4,), 27), np.ones(4))


def s_repeat_array(x, r):
    return np.repeat(x, r)


def s_transpose_axes_argument(x, axes):
    return np.transpose(x, axes)


def s_swapaxes_argument(x, a, b):
    return np.swapaxes(x, a, b)


def s_reshape_argument(x, shape):
    return np.reshape(x, shape)


@pytest.mark.parametrize("axes", [(1, 2, 0), (2, 1, 0), None])
def test_transpose_axes_argument(axes):
    check_jvp(s_transpose_axes_argument, make((2, 3, 4), 40), axes)


# ---------------------------------------------------------------- joining and splitting


def j_concat(x, y):
    return np.concatenate([x, y])


def j_concat_tuple(x, y):
    return np.concatenate((x, y), axis=0)


def j_concat_1(x, y):
    return np.concatenate([x, y], axis=1)


def j_concat_m1(x, y):
    return np.concatenate([x, y], axis=-1)


def j_concat_none(x, y):
    return np.concatenate([x, y], axis=None)


def j_concat_reuse(x, y):
    return np.concatenate([x, y, x * y], axis=0)


def j_concat_list_variable(x, y):
    parts = [np.sin(x), y]
    return np.concatenate(parts)


def j_stack(x, y):
    return np.stack([x, y])


def j_stack_1(x, y):
    return np.stack([x, y], axis=1)


def j_stack_m1(x, y):
    return np.stack((x, y, x), axis=-1)


JOIN = [
    (j_concat, (2, 3), (4, 3)),
    (j_concat, (2,), (3,)),
    (j_concat_tuple, (2, 3), (1, 3)),
    (j_concat_1, (2, 3), (2, 1)),
    (j_concat_m1, (2, 2, 3), (2, 2, 2)),
    (j_concat_none, (2, 3), (4,)),
    (j_concat_reuse, (2, 3), (2, 3)),
    (j_concat_list_variable, (2, 3), (1, 3)),
    (j_stack, (2, 3), (2, 3)),
    (j_stack, (), ()),
    (j_stack_1, (2, 3), (2, 3)),
    (j_stack_m1, (2, 3), (2, 3)),
    (j_stack_m1, (4,), (4,)),
]


@pytest.mark.parametrize("wrt", [(0, 1), 0, 1], ids=["both", "x", "y"])
@pytest.mark.parametrize(
    "f,xs,ys", JOIN, ids=[f"{f.__name__}-{_shape_id(a)}-{_shape_id(b)}" for f, a, b in JOIN]
)
def test_join(f, xs, ys, wrt):
    # wrt one argument: the other is a constant item, whose tangent is zero
    check_jvp(f, make(xs, 28), make(ys, 29), wrt=wrt)


def j_concat_const(x):
    return np.concatenate([np.ones((1,) + np.shape(x)[1:]), x, np.arange(3.0)[: np.shape(x)[0]]])


def j_stack_const(x):
    c = np.zeros_like(x) + 2.0
    return np.stack([c, x * x, c], axis=-1)


def j_concat_appended(x):
    parts = []
    for k in range(3):
        parts.append(x * k)
    return np.concatenate(parts, axis=0)


@pytest.mark.parametrize("f", [j_stack_const, j_concat_appended], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(3,), (2, 3)], ids=_shape_id)
def test_join_with_constant_items(f, shape):
    check_jvp(f, make(shape, 30))


def sp_halves(x):
    a, b = np.split(x, 2)
    return a * b + a


def sp_axis1(x):
    a, b = np.split(x, 2, axis=1)
    return a - 2.0 * b


def sp_indices(x):
    a, b, c = np.split(x, [1, 3])
    return np.concatenate([c, a * 2.0, b * b])


def sp_one_used(x):
    a, b = np.split(x, 2)
    return np.sin(b)


def sp_list(x):
    return np.split(x, 3, axis=-1)


def sp_array_split(x):
    a, b, c = np.array_split(x, 3)
    return np.concatenate([a * 3.0, b, c * c])


def sp_array_split_axis(x):
    a, b = np.array_split(x, 2, axis=-1)
    return np.sum(a, axis=-1) * np.sum(b, axis=-1)


def sp_array_split_list(x):
    return np.array_split(x, 3)


SPLITS = [
    (sp_halves, (4,)),
    (sp_halves, (4, 3)),
    (sp_axis1, (3, 4)),
    (sp_indices, (5,)),
    (sp_indices, (5, 2)),
    (sp_one_used, (6,)),
    (sp_list, (6,)),
    (sp_list, (2, 3)),
    (sp_array_split, (7,)),
    (sp_array_split_axis, (2, 5)),
    (sp_array_split_list, (5, 2)),
]


@pytest.mark.parametrize("f,shape", SPLITS, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in SPLITS])
def test_split(f, shape):
    check_jvp(f, make(shape, 30))


# ---------------------------------------------------------------- gathers


def g_take(x, idx):
    return np.take(x, idx)


def g_take_axis0(x, idx):
    return np.take(x, idx, axis=0)


def g_take_axis1(x, idx):
    return np.take(x, idx, axis=1)


def g_take_axis_m1(x, idx):
    return np.take(x, idx, axis=-1)


def g_take_method(x, idx):
    return x.take(idx, axis=0)


def g_take_literal(x):
    return np.take(np.exp(x), [3, 0, 3])


TAKE = [
    (g_take, (5,), [0, 4, 4, 1]),
    (g_take, (3, 4), [11, 0, 5, 5]),
    (g_take, (3, 4), [[1, 2], [2, 1]]),
    (g_take, (3, 4), 7),
    (g_take_axis0, (4, 3), [2, 2, 0]),
    (g_take_axis1, (2, 4), [3, 1, 3]),
    (g_take_axis1, (2, 4, 2), [[0, 1], [1, 1]]),
    (g_take_axis_m1, (2, 3), [2, 2]),
    (g_take_method, (4, 2), [1, 3, 1]),
]


@pytest.mark.parametrize(
    "f,shape,idx",
    TAKE,
    ids=[f"{f.__name__}-{_shape_id(s)}-{i}" for i, (f, s, _) in enumerate(TAKE)],
)
def test_take(f, shape, idx):
    check_jvp(f, make(shape, 37), np.array(idx))


def g_tala(x, idx):
    return np.take_along_axis(x, idx, axis=1)


def g_tala_0(x, idx):
    return np.take_along_axis(x, idx, 0)


def g_tala_m1(x, idx):
    return np.take_along_axis(x, idx, axis=-1)


def g_tala_none(x, idx):
    return np.take_along_axis(x, idx, axis=None)


def g_tala_sorted(x):
    # the idiom: gather along the argsort of x itself
    return np.take_along_axis(x, np.argsort(x, axis=1), axis=1) * x


TALA = [
    (g_tala, (3, 4), [[0, 0, 3], [1, 2, 2], [3, 3, 3]]),
    (g_tala, (3, 4), [[1], [0], [3]]),
    (g_tala_0, (3, 2), [[2, 0], [2, 2]]),
    (g_tala_m1, (2, 2, 3), [[[0, 2]], [[1, 1]]]),
    (g_tala_none, (2, 3), [5, 0, 0, 3]),
]


@pytest.mark.parametrize(
    "f,shape,idx",
    TALA,
    ids=[f"{f.__name__}-{_shape_id(s)}-{i}" for i, (f, s, _) in enumerate(TALA)],
)
def test_take_along_axis(f, shape, idx):
    check_jvp(f, make(shape, 38), np.array(idx))


# ============================================================================ registration


def test_every_reverse_rule_of_these_modules_has_a_tangent_rule():
    from .internals import ADJOINTS, TANGENTS
    from .internals import arrangements_rules as arrangements
    from .internals import reductions_rules as reductions
    from .internals import shapes_rules as shapes

    here = {reductions.__file__, shapes.__file__, arrangements.__file__}
    keys = [k for k, r in ADJOINTS.items() if r.where.rsplit(":", 1)[0] in here]
    assert len(keys) > 20
    missing = [k for k in keys if k not in TANGENTS]
    assert not missing, f"no tangent rule for {missing}"
    for k in keys:
        if k == "getitem":
            continue
        assert TANGENTS[k].params == ADJOINTS[k].params, k


# ============================================================================ one-case rules
# (function, args): rules and argument forms checked on one input

ONE_CASE = [
    (s_repeat_array, (make((4,), 27), np.array([2, 0, 1, 3]))),
    (s_swapaxes_argument, (make((2, 3, 4), 41), 0, -1)),
    (s_reshape_argument, (make((2, 3, 4), 42), (4, -1))),
    (j_concat_const, (make((3,), 30),)),
    (g_take_literal, (make((4,), 37),)),
    (g_tala_sorted, (make((3, 4), 39),)),
]


@pytest.mark.parametrize("f, args", ONE_CASE, ids=[c[0].__name__ for c in ONE_CASE])
def test_one_case(f, args):
    check_jvp(f, *args)
