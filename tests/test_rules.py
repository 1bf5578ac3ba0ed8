"""First-order checks of every built-in derivative rule against central finite differences.

Every differentiated function is a module-level ``def`` (sourcegrad reads source) that takes its
inputs and, last, weights ``w`` and returns ``np.sum(w * np.sin(<result>))``: the weights are
fixed random numbers and the sine makes the reduction non-linear, so a wrong gradient cannot
cancel out. ``fd.check`` compares both the signature-specialised derivative and the
rank-generic one (``df.generic``) with central differences in float64.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, transform, weights

HYP = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HYP_REDUCTIONS = settings(HYP, max_examples=40)

# ----------------------------------------------------------------------------- inputs


def make(domain, shape, seed=0):
    """A float64 array (or a Python float for shape ``"float"``) in a well-conditioned domain.

    any: (-1.5, 1.5); away: |x| in (0.5, 1.5); pos: (0.5, 2); unit: (-0.9, 0.9);
    gt1: (1.2, 3); small: (-0.5, 0.5).
    """
    rng = np.random.default_rng(seed)
    as_float = shape == "float"
    size = () if as_float else shape
    if domain == "any":
        x = rng.uniform(-1.5, 1.5, size)
    elif domain == "away":
        x = rng.uniform(0.5, 1.5, size) * rng.choice([-1.0, 1.0], size)
    elif domain == "pos":
        x = rng.uniform(0.5, 2.0, size)
    elif domain == "unit":
        x = rng.uniform(-0.9, 0.9, size)
    elif domain == "gt1":
        x = rng.uniform(1.2, 3.0, size)
    elif domain == "small":
        x = rng.uniform(-0.5, 0.5, size)
    else:
        raise ValueError(domain)
    return float(x) if as_float else np.asarray(x, dtype=np.float64)


def well_conditioned(shape, seed=0):
    """Square matrices (or batches of them) near n * I."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return n * np.eye(n) + 0.5 * rng.standard_normal(shape)


def spd(shape, seed=0):
    rng = np.random.default_rng(seed)
    n = shape[-1]
    m = rng.standard_normal(shape)
    return m @ np.swapaxes(m, -1, -2) / n + np.eye(n)


SHAPES = [(), (5,), (3, 4), (2, 3, 2), "float"]


def _shape_id(s):
    return "float" if s == "float" else "x".join(map(str, s)) or "0d"


# ============================================================================ unary elementwise


def u_neg(x, w):
    return np.sum(w * np.sin(-x))


def u_pos(x, w):
    return np.sum(w * np.sin(+x))


def u_np_negative(x, w):
    return np.sum(w * np.sin(np.negative(x)))


def u_np_positive(x, w):
    return np.sum(w * np.sin(np.positive(x)))


def u_exp(x, w):
    return np.sum(w * np.sin(np.exp(x)))


def u_exp2(x, w):
    return np.sum(w * np.sin(np.exp2(x)))


def u_expm1(x, w):
    return np.sum(w * np.sin(np.expm1(x)))


def u_log(x, w):
    return np.sum(w * np.sin(np.log(x)))


def u_log2(x, w):
    return np.sum(w * np.sin(np.log2(x)))


def u_log10(x, w):
    return np.sum(w * np.sin(np.log10(x)))


def u_log1p(x, w):
    return np.sum(w * np.sin(np.log1p(x)))


def u_sqrt(x, w):
    return np.sum(w * np.sin(np.sqrt(x)))


def u_cbrt(x, w):
    return np.sum(w * np.sin(np.cbrt(x)))


def u_square(x, w):
    return np.sum(w * np.sin(np.square(x)))


def u_reciprocal(x, w):
    return np.sum(w * np.sin(np.reciprocal(x)))


def u_sin(x, w):
    return np.sum(w * np.sin(np.sin(x)))


def u_cos(x, w):
    return np.sum(w * np.sin(np.cos(x)))


def u_tan(x, w):
    return np.sum(w * np.sin(np.tan(x)))


def u_arcsin(x, w):
    return np.sum(w * np.sin(np.arcsin(x)))


def u_arccos(x, w):
    return np.sum(w * np.sin(np.arccos(x)))


def u_arctan(x, w):
    return np.sum(w * np.sin(np.arctan(x)))


def u_sinh(x, w):
    return np.sum(w * np.sin(np.sinh(x)))


def u_cosh(x, w):
    return np.sum(w * np.sin(np.cosh(x)))


def u_tanh(x, w):
    return np.sum(w * np.sin(np.tanh(x)))


def u_arcsinh(x, w):
    return np.sum(w * np.sin(np.arcsinh(x)))


def u_arccosh(x, w):
    return np.sum(w * np.sin(np.arccosh(x)))


def u_arctanh(x, w):
    return np.sum(w * np.sin(np.arctanh(x)))


def u_abs(x, w):
    return np.sum(w * np.sin(np.abs(x)))


def u_absolute(x, w):
    return np.sum(w * np.sin(np.absolute(x)))


def u_fabs(x, w):
    return np.sum(w * np.sin(np.fabs(x)))


def u_builtin_abs(x, w):
    return np.sum(w * np.sin(abs(x)))


def u_deg2rad(x, w):
    return np.sum(w * np.sin(np.deg2rad(50.0 * x)))


def u_radians(x, w):
    return np.sum(w * np.sin(np.radians(50.0 * x)))


def u_rad2deg(x, w):
    return np.sum(w * np.sin(np.rad2deg(0.02 * x)))


def u_degrees(x, w):
    return np.sum(w * np.sin(np.degrees(0.02 * x)))


def u_np_copy(x, w):
    return np.sum(w * np.sin(np.copy(x) * x))


def u_np_array(x, w):
    return np.sum(w * np.sin(np.array(x) * x))


def u_np_asarray(x, w):
    return np.sum(w * np.sin(np.asarray(x) * x))


def u_ascontiguousarray(x, w):
    return np.sum(w * np.sin(np.ascontiguousarray(x) * x))


def u_chain(x, w):
    # several rules in a row, each value used twice
    y = np.tanh(x) * np.exp(-x * x)
    return np.sum(w * np.sin(y + np.cos(y)))


UNARY = [
    (u_neg, "any"),
    (u_pos, "any"),
    (u_np_negative, "any"),
    (u_np_positive, "any"),
    (u_exp, "any"),
    (u_exp2, "any"),
    (u_expm1, "any"),
    (u_log, "pos"),
    (u_log2, "pos"),
    (u_log10, "pos"),
    (u_log1p, "unit"),
    (u_sqrt, "pos"),
    (u_cbrt, "away"),
    (u_square, "any"),
    (u_reciprocal, "away"),
    (u_sin, "any"),
    (u_cos, "any"),
    (u_tan, "any"),
    (u_arcsin, "unit"),
    (u_arccos, "unit"),
    (u_arctan, "any"),
    (u_sinh, "any"),
    (u_cosh, "any"),
    (u_tanh, "any"),
    (u_arcsinh, "any"),
    (u_arccosh, "gt1"),
    (u_arctanh, "unit"),
    (u_abs, "away"),
    (u_absolute, "away"),
    (u_fabs, "away"),
    (u_builtin_abs, "away"),
    (u_deg2rad, "any"),
    (u_radians, "any"),
    (u_rad2deg, "any"),
    (u_degrees, "any"),
    (u_np_copy, "any"),
    (u_np_array, "any"),
    (u_np_asarray, "any"),
    (u_ascontiguousarray, "any"),
    (u_chain, "any"),
]


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
@pytest.mark.parametrize("f,domain", UNARY, ids=[f.__name__ for f, _ in UNARY])
def test_unary(f, domain, shape):
    check(f, make(domain, shape))


# ---------------------------------------------------------------- zero-gradient functions


def z_sign(x, w):
    return np.sum(w * np.sin(x * np.sign(x)))


def z_floor(x, w):
    return np.sum(w * np.sin(x * np.floor(3.0 * x)))


def z_ceil(x, w):
    return np.sum(w * np.sin(x * np.ceil(3.0 * x)))


def z_round(x, w):
    return np.sum(w * np.sin(x * np.round(3.0 * x)))


def z_around(x, w):
    return np.sum(w * np.sin(x * np.around(3.0 * x)))


def z_rint(x, w):
    return np.sum(w * np.sin(x * np.rint(3.0 * x)))


def z_trunc(x, w):
    return np.sum(w * np.sin(x * np.trunc(3.0 * x)))


def z_fix(x, w):
    return np.sum(w * np.sin(x * np.fix(3.0 * x)))


def z_round_method(x, w):
    return np.sum(w * np.sin(x * (3.0 * x).round()))


def z_floordiv_mod(x, w):
    return np.sum(w * np.sin(x * (x // 0.3) + (x % 0.3) * 0.0 + x))


def z_comparison(x, w):
    return np.sum(w * np.sin(x * (x > 0.1)))


def z_only_floor(x, w):
    return np.sum(w * np.sin(np.floor(3.0 * x) + np.sign(x)))


ZERO_GRAD = [
    z_sign,
    z_floor,
    z_ceil,
    z_round,
    z_around,
    z_rint,
    z_trunc,
    z_fix,
    z_floordiv_mod,
    z_comparison,
]


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), "float"], ids=_shape_id)
@pytest.mark.parametrize("f", ZERO_GRAD, ids=lambda f: f.__name__)
def test_zero_gradient_functions(f, shape):
    check(f, make("away", shape, seed=3))


@pytest.mark.parametrize("shape", [(7,), (3, 4)], ids=_shape_id)
def test_round_method(shape):
    check(z_round_method, make("away", shape, seed=3))


@pytest.mark.parametrize("shape", [(), (7,), (3, 4)], ids=_shape_id)
def test_only_nondifferentiable_path_gives_zeros(shape):
    x = make("away", shape, seed=3)
    g = check(z_only_floor, x)
    assert np.all(g == 0)


# ============================================================================ binary operators


def b_add(x, y, w):
    return np.sum(w * np.sin(x + y))


def b_sub(x, y, w):
    return np.sum(w * np.sin(x - y))


def b_mul(x, y, w):
    return np.sum(w * np.sin(x * y))


def b_div(x, y, w):
    return np.sum(w * np.sin(x / y))


def b_pow(x, y, w):
    return np.sum(w * np.sin(x**y))


def b_np_add(x, y, w):
    return np.sum(w * np.sin(np.add(x, y)))


def b_np_subtract(x, y, w):
    return np.sum(w * np.sin(np.subtract(x, y)))


def b_np_multiply(x, y, w):
    return np.sum(w * np.sin(np.multiply(x, y)))


def b_np_divide(x, y, w):
    return np.sum(w * np.sin(np.divide(x, y)))


def b_np_true_divide(x, y, w):
    return np.sum(w * np.sin(np.true_divide(x, y)))


def b_np_power(x, y, w):
    return np.sum(w * np.sin(np.power(x, y)))


def b_arctan2(x, y, w):
    return np.sum(w * np.sin(np.arctan2(x, y)))


def b_hypot(x, y, w):
    return np.sum(w * np.sin(np.hypot(x, y)))


def b_logaddexp(x, y, w):
    return np.sum(w * np.sin(np.logaddexp(x, y)))


def b_maximum(x, y, w):
    return np.sum(w * np.sin(np.maximum(x, y)))


def b_minimum(x, y, w):
    return np.sum(w * np.sin(np.minimum(x, y)))


def b_fmax(x, y, w):
    return np.sum(w * np.sin(np.fmax(x, y)))


def b_fmin(x, y, w):
    return np.sum(w * np.sin(np.fmin(x, y)))


def b_same_operand(x, y, w):
    # x reaches the result along several paths
    return np.sum(w * np.sin(x * x + x / y - x**y))


BINARY = [
    (b_add, "any", "any"),
    (b_sub, "any", "any"),
    (b_mul, "any", "any"),
    (b_div, "any", "away"),
    (b_pow, "pos", "any"),
    (b_np_add, "any", "any"),
    (b_np_subtract, "any", "any"),
    (b_np_multiply, "any", "any"),
    (b_np_divide, "any", "away"),
    (b_np_true_divide, "any", "away"),
    (b_np_power, "pos", "any"),
    (b_arctan2, "away", "away"),
    (b_hypot, "away", "away"),
    (b_logaddexp, "any", "any"),
    (b_maximum, "any", "any"),
    (b_minimum, "any", "any"),
    (b_fmax, "any", "any"),
    (b_fmin, "any", "any"),
    (b_same_operand, "pos", "pos"),
]
BINARY_IDS = [f.__name__ for f, _, _ in BINARY]

BROADCAST_PAIRS = [
    ((), ()),
    ((4,), (4,)),
    ((3, 4), (3, 4)),
    ((), (3,)),
    ((3,), ()),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((1, 4), (3, 1)),
    ((2, 1, 3), (4, 1)),
    ((4, 1), (2, 1, 3)),
    ((1,), (2, 3)),
    ((2, 3), (1, 1, 1)),
    ("float", (3,)),
    ((3,), "float"),
    ("float", "float"),
    ("float", ()),
]


@pytest.mark.parametrize("xs,ys", BROADCAST_PAIRS, ids=lambda s: _shape_id(s))
@pytest.mark.parametrize("f,xd,yd", BINARY, ids=BINARY_IDS)
def test_binary_broadcasting(f, xd, yd, xs, ys):
    x = make(xd, xs, seed=1)
    y = make(yd, ys, seed=2)
    check(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f,xd,yd", BINARY, ids=BINARY_IDS)
@HYP
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_hypothesis(f, xd, yd, shapes, seed):
    xs, ys = shapes.input_shapes
    check(f, make(xd, xs, seed), make(yd, ys, seed + 1), wrt=(0, 1))


@pytest.mark.parametrize("f,xd,yd", BINARY, ids=BINARY_IDS)
def test_binary_single_wrt(f, xd, yd):
    x = make(xd, (3, 1), seed=1)
    y = make(yd, (4,), seed=2)
    check(f, x, y, wrt=0)
    check(f, x, y, wrt=1)


# ---------------------------------------------------------------- operators with constants


def c_add(x, w):
    return np.sum(w * np.sin(x + 1.5))


def c_radd(x, w):
    return np.sum(w * np.sin(1.5 + x))


def c_sub(x, w):
    return np.sum(w * np.sin(x - 1.5))


def c_rsub(x, w):
    return np.sum(w * np.sin(1.5 - x))


def c_mul(x, w):
    return np.sum(w * np.sin(x * 3.0))


def c_rmul(x, w):
    return np.sum(w * np.sin(3.0 * x))


def c_div(x, w):
    return np.sum(w * np.sin(x / 3.0))


def c_rdiv(x, w):
    return np.sum(w * np.sin(3.0 / x))


def c_pow2(x, w):
    return np.sum(w * np.sin(x**2))


def c_pow3(x, w):
    return np.sum(w * np.sin(x**3))


def c_pow_half(x, w):
    return np.sum(w * np.sin(x**0.5))


def c_pow_neg(x, w):
    return np.sum(w * np.sin(x**-1.5))


def c_rpow(x, w):
    return np.sum(w * np.sin(2.0**x))


def c_np_power_int(x, w):
    return np.sum(w * np.sin(np.power(x, 3)))


def c_int_constants(x, w):
    return np.sum(w * np.sin(2 * x + 1 - x / 2))


CONSTANT_OPS = [
    (c_add, "any"),
    (c_radd, "any"),
    (c_sub, "any"),
    (c_rsub, "any"),
    (c_mul, "any"),
    (c_rmul, "any"),
    (c_div, "any"),
    (c_rdiv, "away"),
    (c_pow2, "any"),
    (c_pow3, "any"),
    (c_pow_half, "pos"),
    (c_pow_neg, "pos"),
    (c_rpow, "any"),
    (c_np_power_int, "any"),
    (c_int_constants, "any"),
]


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
@pytest.mark.parametrize("f,domain", CONSTANT_OPS, ids=[f.__name__ for f, _ in CONSTANT_OPS])
def test_operator_with_constant(f, domain, shape):
    check(f, make(domain, shape, seed=4))


# ---------------------------------------------------------------- where, clip


def w_where_const(c, x, y, w):
    return np.sum(w * np.sin(np.where(c, x, y)))


def w_where_self(x, w):
    return np.sum(w * np.sin(np.where(x > 0, x, 0.1 * x)))


def w_where_scalar_branch(x, w):
    return np.sum(w * np.sin(np.where(x > 0, x * x, 0.0)))


def w_where_scalar_first(x, w):
    return np.sum(w * np.sin(np.where(x < 0, -1.0, np.exp(x))))


@pytest.mark.parametrize(
    "cs,xs,ys",
    [((4,), (4,), (4,)), ((3, 4), (4,), (3, 1)), ((3, 1), (1, 4), ()), ((), (3,), (2, 3))],
    ids=str,
)
def test_where_broadcasting(cs, xs, ys):
    rng = np.random.default_rng(5)
    c = rng.random(cs) > 0.5
    check(w_where_const, c, make("any", xs, 1), make("any", ys, 2), wrt=(1, 2))


@HYP
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
    seed=st.integers(0, 2**16),
)
def test_where_broadcasting_hypothesis(shapes, seed):
    cs, xs, ys = shapes.input_shapes
    c = np.random.default_rng(seed).random(cs) > 0.5
    check(w_where_const, c, make("any", xs, seed), make("any", ys, seed + 1), wrt=(1, 2))


@pytest.mark.parametrize("f", [w_where_self, w_where_scalar_branch, w_where_scalar_first])
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)], ids=_shape_id)
def test_where_forms(f, shape):
    check(f, make("away", shape, seed=6))


def cl_both(x, w):
    return np.sum(w * np.sin(np.clip(x, -0.6, 0.7)))


def cl_low_only(x, w):
    return np.sum(w * np.sin(np.clip(x, -0.6, None)))


def cl_high_only(x, w):
    return np.sum(w * np.sin(np.clip(x, None, 0.7)))


def cl_keywords(x, w):
    return np.sum(w * np.sin(np.clip(x, a_min=-0.6, a_max=0.7)))


def cl_method(x, w):
    return np.sum(w * np.sin(x.clip(-0.6, 0.7)))


@pytest.mark.parametrize("f", [cl_both, cl_low_only, cl_high_only, cl_keywords, cl_method])
@pytest.mark.parametrize("shape", [(), (9,), (3, 4)], ids=_shape_id)
def test_clip(f, shape):
    # bounds at -0.6 and 0.7; inputs spread over (-1.5, 1.5) but not within 1e-3 of a bound
    x = make("any", shape, seed=7)
    x = np.where(np.abs(np.abs(x) - 0.65) < 0.06, x + 0.2, x)
    check(f, x)


def cl_array_bounds(x, lo, hi, w):
    return np.sum(w * np.sin(np.clip(x, lo, hi)))


@pytest.mark.parametrize("xs,bs", [((5,), (5,)), ((3, 4), (4,)), ((4,), (3, 4))], ids=str)
def test_clip_array_bounds(xs, bs):
    rng = np.random.default_rng(8)
    x = rng.uniform(-2, 2, xs)
    lo = rng.uniform(-1, -0.2, bs)
    hi = rng.uniform(0.2, 1, bs)
    check(cl_array_bounds, x, lo, hi, wrt=(0, 1, 2))


# ============================================================================ reductions


def r_sum(x, w):
    return np.sum(w * np.sin(np.sum(x)))


def r_sum_keep(x, w):
    return np.sum(w * np.sin(np.sum(x, keepdims=True)))


def r_sum_0(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=0)))


def r_sum_0_keep(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=0, keepdims=True)))


def r_sum_m1(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=-1)))


def r_sum_m1_keep(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=-1, keepdims=True)))


def r_sum_t(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=(0, -1))))


def r_sum_t_keep(x, w):
    return np.sum(w * np.sin(np.sum(x, axis=(0, -1), keepdims=True)))


def r_mean(x, w):
    return np.sum(w * np.sin(np.mean(x)))


def r_mean_keep(x, w):
    return np.sum(w * np.sin(np.mean(x, keepdims=True)))


def r_mean_0(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=0)))


def r_mean_0_keep(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=0, keepdims=True)))


def r_mean_m1(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=-1)))


def r_mean_m1_keep(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=-1, keepdims=True)))


def r_mean_t(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=(0, -1))))


def r_mean_t_keep(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=(0, -1), keepdims=True)))


def r_prod(x, w):
    return np.sum(w * np.sin(np.prod(x)))


def r_prod_keep(x, w):
    return np.sum(w * np.sin(np.prod(x, keepdims=True)))


def r_prod_0(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=0)))


def r_prod_0_keep(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=0, keepdims=True)))


def r_prod_m1(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=-1)))


def r_prod_m1_keep(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=-1, keepdims=True)))


def r_prod_t(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=(0, -1))))


def r_prod_t_keep(x, w):
    return np.sum(w * np.sin(np.prod(x, axis=(0, -1), keepdims=True)))


def r_max(x, w):
    return np.sum(w * np.sin(np.max(x)))


def r_max_keep(x, w):
    return np.sum(w * np.sin(np.max(x, keepdims=True)))


def r_max_0(x, w):
    return np.sum(w * np.sin(np.max(x, axis=0)))


def r_max_0_keep(x, w):
    return np.sum(w * np.sin(np.max(x, axis=0, keepdims=True)))


def r_max_m1(x, w):
    return np.sum(w * np.sin(np.max(x, axis=-1)))


def r_max_m1_keep(x, w):
    return np.sum(w * np.sin(np.max(x, axis=-1, keepdims=True)))


def r_max_t(x, w):
    return np.sum(w * np.sin(np.max(x, axis=(0, -1))))


def r_max_t_keep(x, w):
    return np.sum(w * np.sin(np.max(x, axis=(0, -1), keepdims=True)))


def r_min(x, w):
    return np.sum(w * np.sin(np.min(x)))


def r_min_keep(x, w):
    return np.sum(w * np.sin(np.min(x, keepdims=True)))


def r_min_0(x, w):
    return np.sum(w * np.sin(np.min(x, axis=0)))


def r_min_0_keep(x, w):
    return np.sum(w * np.sin(np.min(x, axis=0, keepdims=True)))


def r_min_m1(x, w):
    return np.sum(w * np.sin(np.min(x, axis=-1)))


def r_min_m1_keep(x, w):
    return np.sum(w * np.sin(np.min(x, axis=-1, keepdims=True)))


def r_min_t(x, w):
    return np.sum(w * np.sin(np.min(x, axis=(0, -1))))


def r_min_t_keep(x, w):
    return np.sum(w * np.sin(np.min(x, axis=(0, -1), keepdims=True)))


def r_amax(x, w):
    return np.sum(w * np.sin(np.amax(x)))


def r_amax_0(x, w):
    return np.sum(w * np.sin(np.amax(x, axis=0)))


def r_amax_m1_keep(x, w):
    return np.sum(w * np.sin(np.amax(x, axis=-1, keepdims=True)))


def r_amax_t(x, w):
    return np.sum(w * np.sin(np.amax(x, axis=(0, -1))))


def r_amin(x, w):
    return np.sum(w * np.sin(np.amin(x)))


def r_amin_0_keep(x, w):
    return np.sum(w * np.sin(np.amin(x, axis=0, keepdims=True)))


def r_amin_m1(x, w):
    return np.sum(w * np.sin(np.amin(x, axis=-1)))


def r_amin_t_keep(x, w):
    return np.sum(w * np.sin(np.amin(x, axis=(0, -1), keepdims=True)))


def r_var(x, w):
    return np.sum(w * np.sin(np.var(x)))


def r_var_keep(x, w):
    return np.sum(w * np.sin(np.var(x, keepdims=True)))


def r_var_0(x, w):
    return np.sum(w * np.sin(np.var(x, axis=0)))


def r_var_0_keep(x, w):
    return np.sum(w * np.sin(np.var(x, axis=0, keepdims=True)))


def r_var_m1(x, w):
    return np.sum(w * np.sin(np.var(x, axis=-1)))


def r_var_m1_keep(x, w):
    return np.sum(w * np.sin(np.var(x, axis=-1, keepdims=True)))


def r_var_t(x, w):
    return np.sum(w * np.sin(np.var(x, axis=(0, -1))))


def r_var_t_keep(x, w):
    return np.sum(w * np.sin(np.var(x, axis=(0, -1), keepdims=True)))


def r_var_ddof(x, w):
    return np.sum(w * np.sin(np.var(x, ddof=1)))


def r_var_m1_ddof(x, w):
    return np.sum(w * np.sin(np.var(x, axis=-1, ddof=1)))


def r_std(x, w):
    return np.sum(w * np.sin(np.std(x)))


def r_std_keep(x, w):
    return np.sum(w * np.sin(np.std(x, keepdims=True)))


def r_std_0(x, w):
    return np.sum(w * np.sin(np.std(x, axis=0)))


def r_std_0_keep(x, w):
    return np.sum(w * np.sin(np.std(x, axis=0, keepdims=True)))


def r_std_m1(x, w):
    return np.sum(w * np.sin(np.std(x, axis=-1)))


def r_std_m1_keep(x, w):
    return np.sum(w * np.sin(np.std(x, axis=-1, keepdims=True)))


def r_std_t(x, w):
    return np.sum(w * np.sin(np.std(x, axis=(0, -1))))


def r_std_t_keep(x, w):
    return np.sum(w * np.sin(np.std(x, axis=(0, -1), keepdims=True)))


def r_std_ddof(x, w):
    return np.sum(w * np.sin(np.std(x, ddof=1)))


def r_std_0_ddof_keep(x, w):
    return np.sum(w * np.sin(np.std(x, axis=0, ddof=1, keepdims=True)))


def _axis_kind(f):
    name = f.__name__
    if "_t" in name.replace("_keep", ""):
        return 2  # axis=(0, -1): needs two distinct axes
    if "_0" in name or "_m1" in name:
        return 1
    return 0


REDUCTIONS = [f for name, f in sorted(globals().items()) if name.startswith("r_")]
# spread-out inputs (no ties for max/min, no zeros for prod, nonzero spread for std)
REDUCTION_DOMAIN = {"prod": "away"}


def _reduction_input(f, shape, seed):
    kind = f.__name__.split("_")[1]
    x = make(REDUCTION_DOMAIN.get(kind, "any"), shape, seed)
    return x


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)], ids=_shape_id)
@pytest.mark.parametrize("f", REDUCTIONS, ids=lambda f: f.__name__)
def test_reduction(f, shape):
    if len(shape) < _axis_kind(f) or (_axis_kind(f) == 2 and len(shape) < 2):
        pytest.skip("needs more dimensions")
    check(f, _reduction_input(f, shape, seed=9))


@pytest.mark.parametrize("f", [r_sum, r_mean, r_prod, r_max, r_min, r_amax, r_amin, r_sum_keep])
@pytest.mark.parametrize("shape", [(), "float"], ids=_shape_id)
def test_reduction_of_scalar(f, shape):
    check(f, make("away", shape, seed=9))


@st.composite
def _reduction_case(draw):
    f = draw(st.sampled_from(REDUCTIONS))
    kind = _axis_kind(f)
    spread = f.__name__.split("_")[1] in ("std", "var")
    shape = draw(
        array_shapes(min_dims=max(kind, 1), max_dims=4, min_side=2 if spread else 1, max_side=3)
    )
    return f, shape, draw(st.integers(0, 2**16))


@HYP_REDUCTIONS
@given(case=_reduction_case())
def test_reduction_hypothesis(case):
    f, shape, seed = case
    check(f, _reduction_input(f, shape, seed))


def r_logsumexp(x, w):
    m = np.max(x, axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.sum(np.exp(x - m), axis=-1))
    return np.sum(w * np.sin(lse))


def r_log_softmax(x, w):
    m = np.max(x, axis=1, keepdims=True)
    shifted = x - m
    out = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return np.sum(w * np.sin(out))


def r_logsumexp_total(x, w):
    m = np.max(x)
    return np.sum(w * np.sin(m + np.log(np.sum(np.exp(x - m)))))


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)], ids=_shape_id)
def test_logsumexp(shape):
    x = 3 * make("any", shape, seed=10)
    check(r_logsumexp, x)
    check(r_logsumexp_total, x)
    if len(shape) >= 2:
        check(r_log_softmax, x)


def r_cumsum(x, w):
    return np.sum(w * np.sin(np.cumsum(x)))


def r_cumsum_0(x, w):
    return np.sum(w * np.sin(np.cumsum(x, axis=0)))


def r_cumsum_m1(x, w):
    return np.sum(w * np.sin(np.cumsum(x, axis=-1)))


def r_cumsum_1(x, w):
    return np.sum(w * np.sin(np.cumsum(x, 1)))


def r_cumsum_method(x, w):
    return np.sum(w * np.sin(x.cumsum(axis=-1)))


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)], ids=_shape_id)
@pytest.mark.parametrize("f", [r_cumsum, r_cumsum_0, r_cumsum_m1, r_cumsum_1, r_cumsum_method])
def test_cumsum(f, shape):
    if f is r_cumsum_1 and len(shape) < 2:
        pytest.skip("needs two dimensions")
    check(f, make("any", shape, seed=11))


# ============================================================================ products


def m_matmul(x, y, w):
    return np.sum(w * np.sin(x @ y))


def m_np_matmul(x, y, w):
    return np.sum(w * np.sin(np.matmul(x, y)))


def m_dot(x, y, w):
    return np.sum(w * np.sin(np.dot(x, y)))


def m_dot_method(x, y, w):
    return np.sum(w * np.sin(x.dot(y)))


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


def _ids(pairs):
    return ["@".join(_shape_id(s) for s in p) for p in pairs]


@pytest.mark.parametrize("xs,ys", MATMUL_SHAPES, ids=_ids(MATMUL_SHAPES))
@pytest.mark.parametrize("f", [m_matmul, m_np_matmul], ids=lambda f: f.__name__)
def test_matmul(f, xs, ys):
    check(f, make("any", xs, 12), make("any", ys, 13), wrt=(0, 1))


@pytest.mark.parametrize("xs,ys", DOT_SHAPES, ids=_ids(DOT_SHAPES))
@pytest.mark.parametrize("f", [m_dot, m_dot_method], ids=lambda f: f.__name__)
def test_dot(f, xs, ys):
    check(f, make("any", xs, 12), make("any", ys, 13), wrt=(0, 1))


@pytest.mark.parametrize("xs,ys", [((4,), (4, 3)), ((2, 4), (4, 3)), ((5, 2, 4), (4,))], ids=str)
def test_matmul_single_wrt(xs, ys):
    x, y = make("any", xs, 12), make("any", ys, 13)
    check(m_matmul, x, y, wrt=0)
    check(m_matmul, x, y, wrt=1)


def m_gram(x, w):
    # the same operand on both sides of @
    return np.sum(w * np.sin(x @ x.T))


@pytest.mark.parametrize("shape", [(3, 4), (4, 4)], ids=_shape_id)
def test_matmul_same_operand(shape):
    check(m_gram, make("any", shape, 14))


def m_outer(x, y, w):
    return np.sum(w * np.sin(np.outer(x, y)))


@pytest.mark.parametrize(
    "xs,ys", [((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,))], ids=str
)
def test_outer(xs, ys):
    check(m_outer, make("any", xs, 15), make("any", ys, 16), wrt=(0, 1))


def m_inner(x, y, w):
    return np.sum(w * np.sin(np.inner(x, y)))


@pytest.mark.parametrize(
    "xs,ys", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,)), ((3,), (2, 4, 3))], ids=str
)
def test_inner(xs, ys):
    check(m_inner, make("any", xs, 15), make("any", ys, 16), wrt=(0, 1))


def t_default(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y)))


def t_axes0(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y, axes=0)))


def t_axes1(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y, axes=1)))


def t_pairs(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y, axes=([1, 0], [0, 2]))))


def t_pair_ints(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y, (2, 1))))


def t_neg(x, y, w):
    return np.sum(w * np.sin(np.tensordot(x, y, axes=([-1], [0]))))


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


@pytest.mark.parametrize("f,xs,ys", TENSORDOT, ids=lambda v: getattr(v, "__name__", str(v)))
def test_tensordot(f, xs, ys):
    check(f, make("any", xs, 17), make("any", ys, 18), wrt=(0, 1))


def e_matmul(x, y, w):
    return np.sum(w * np.sin(np.einsum("ij,jk->ik", x, y)))


def e_implicit(x, y, w):
    return np.sum(w * np.sin(np.einsum("ij,jk", x, y)))


def e_transpose(x, w):
    return np.sum(w * np.sin(np.einsum("ij->ji", x)))


def e_sum_all(x, w):
    return np.sum(w * np.sin(np.einsum("ij->", x)))


def e_sum_rows(x, w):
    return np.sum(w * np.sin(np.einsum("ij->j", x)))


def e_diag(x, w):
    return np.sum(w * np.sin(np.einsum("ii->i", x)))


def e_trace(x, w):
    return np.sum(w * np.sin(np.einsum("ii", x)))


def e_vdot(x, y, w):
    return np.sum(w * np.sin(np.einsum("i,i->", x, y)))


def e_outer(x, y, w):
    return np.sum(w * np.sin(np.einsum("i,j->ij", x, y)))


def e_rowdot(x, y, w):
    return np.sum(w * np.sin(np.einsum("ij,ij->i", x, y)))


def e_batched(x, y, w):
    return np.sum(w * np.sin(np.einsum("bij,bjk->bik", x, y)))


def e_three(x, y, z, w):
    return np.sum(w * np.sin(np.einsum("ij,jk,kl->il", x, y, z)))


def e_same_twice(x, w):
    return np.sum(w * np.sin(np.einsum("ij,ij->", x, x)))


def e_spaces(x, y, w):
    return np.sum(w * np.sin(np.einsum("ij, jk -> ik", x, y)))


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
]


@pytest.mark.parametrize("f,shapes", EINSUM, ids=[f.__name__ for f, _ in EINSUM])
def test_einsum(f, shapes):
    args = [make("any", s, 19 + i) for i, s in enumerate(shapes)]
    check(f, *args, wrt=tuple(range(len(args))) if len(args) > 1 else 0)


# ============================================================================ linalg


def l_inv(a, w):
    return np.sum(w * np.sin(np.linalg.inv(a)))


def l_solve(a, b, w):
    return np.sum(w * np.sin(np.linalg.solve(a, b)))


def l_det(a, w):
    return np.sum(w * np.sin(np.linalg.det(a)))


def l_slogdet(a, w):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(w * np.sin(sign * logdet))


def l_slogdet_index(a, w):
    return np.sum(w * np.sin(np.linalg.slogdet(a)[1]))


def l_cholesky(a, w):
    # symmetrise first: cholesky reads one triangle, the rule returns the symmetric gradient
    return np.sum(w * np.sin(np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2)))))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 1, 2, 2)], ids=_shape_id)
def test_inv(shape):
    check(l_inv, well_conditioned(shape, 20))


@pytest.mark.parametrize(
    "as_,bs",
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (2, 3, 2)),
        ((2, 3, 3), (3,)),
        ((2, 3, 3), (3, 2)),
        ((2, 3, 3), (1, 3, 2)),
        ((1, 3, 3), (2, 3, 2)),
    ],
    ids=str,
)
def test_solve(as_, bs):
    check(l_solve, well_conditioned(as_, 21), make("any", bs, 22), wrt=(0, 1))


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3), (2, 2, 2, 2)], ids=_shape_id)
@pytest.mark.parametrize("f", [l_det, l_slogdet, l_slogdet_index], ids=lambda f: f.__name__)
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


@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 3, 3)], ids=_shape_id)
def test_cholesky(shape):
    check(l_cholesky, spd(shape, 25))


def n_default(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x)))


def n_ord2(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 2)))


def n_ord1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, ord=1)))


def n_inf(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, ord=np.inf)))


def n_fro(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, "fro")))


def n_axis1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, axis=1)))


def n_axis_m1_keep(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, axis=-1, keepdims=True)))


def n_ord1_axis0(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, ord=1, axis=0)))


def n_inf_axis1(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, ord=np.inf, axis=1)))


def n_axes_pair(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, axis=(0, 1))))


def n_keep(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, keepdims=True)))


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


@pytest.mark.parametrize("f,shape", NORMS, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in NORMS])
def test_norm(f, shape):
    check(f, make("away", shape, 26))


# ============================================================================ shapes


def s_reshape(x, w):
    return np.sum(w * np.sin(np.reshape(x, (4, 3))))


def s_reshape_m1(x, w):
    return np.sum(w * np.sin(np.reshape(x, -1)))


def s_reshape_partial(x, w):
    return np.sum(w * np.sin(np.reshape(x, (2, -1))))


def s_reshape_method_args(x, w):
    return np.sum(w * np.sin(x.reshape(4, 3)))


def s_reshape_method_tuple(x, w):
    return np.sum(w * np.sin(x.reshape((6, 2))))


def s_reshape_method_m1(x, w):
    return np.sum(w * np.sin(x.reshape(-1)))


def s_ravel(x, w):
    return np.sum(w * np.sin(np.ravel(x)))


def s_ravel_method(x, w):
    return np.sum(w * np.sin(x.ravel()))


def s_flatten(x, w):
    return np.sum(w * np.sin(x.flatten()))


def s_transpose(x, w):
    return np.sum(w * np.sin(np.transpose(x)))


def s_transpose_axes(x, w):
    return np.sum(w * np.sin(np.transpose(x, (1, 2, 0))))


def s_transpose_axes_kw(x, w):
    return np.sum(w * np.sin(np.transpose(x, axes=(2, 0, 1))))


def s_T(x, w):
    return np.sum(w * np.sin(x.T))


def s_transpose_method(x, w):
    return np.sum(w * np.sin(x.transpose()))


def s_transpose_method_args(x, w):
    return np.sum(w * np.sin(x.transpose(1, 0)))


def s_transpose_method_tuple(x, w):
    return np.sum(w * np.sin(x.transpose((1, 0))))


def s_transpose_method_3(x, w):
    return np.sum(w * np.sin(x.transpose(2, 0, 1)))


def s_swapaxes(x, w):
    return np.sum(w * np.sin(np.swapaxes(x, 0, 2)))


def s_swapaxes_neg(x, w):
    return np.sum(w * np.sin(np.swapaxes(x, -1, 0)))


def s_swapaxes_method(x, w):
    return np.sum(w * np.sin(x.swapaxes(0, 1)))


def s_moveaxis(x, w):
    return np.sum(w * np.sin(np.moveaxis(x, 0, -1)))


def s_moveaxis_tuple(x, w):
    return np.sum(w * np.sin(np.moveaxis(x, (0, 1), (2, 0))))


def s_squeeze(x, w):
    return np.sum(w * np.sin(np.squeeze(x)))


def s_squeeze_axis(x, w):
    return np.sum(w * np.sin(np.squeeze(x, axis=1)))


def s_squeeze_method(x, w):
    return np.sum(w * np.sin(x.squeeze()))


def s_expand_dims(x, w):
    return np.sum(w * np.sin(np.expand_dims(x, 0)))


def s_expand_dims_neg(x, w):
    return np.sum(w * np.sin(np.expand_dims(x, -1)))


def s_expand_dims_tuple(x, w):
    return np.sum(w * np.sin(np.expand_dims(x, (0, 2))))


def s_atleast_1d(x, w):
    return np.sum(w * np.sin(np.atleast_1d(x)))


def s_atleast_2d(x, w):
    return np.sum(w * np.sin(np.atleast_2d(x)))


def s_broadcast_to(x, w):
    return np.sum(w * np.sin(np.broadcast_to(x, (2, 3, 4))))


def s_full(x, w):
    return np.sum(w * np.sin(np.full((2, 3, 4), x)))


def s_full_like(x, w):
    return np.sum(w * np.sin(np.full_like(np.ones((3, 4)), x)))


def s_flip(x, w):
    return np.sum(w * np.sin(np.flip(x)))


def s_flip_0(x, w):
    return np.sum(w * np.sin(np.flip(x, 0)))


def s_flip_m1(x, w):
    return np.sum(w * np.sin(np.flip(x, axis=-1)))


def s_flip_tuple(x, w):
    return np.sum(w * np.sin(np.flip(x, axis=(0, 2))))


def s_tile_int(x, w):
    return np.sum(w * np.sin(np.tile(x, 2)))


def s_tile_tuple(x, w):
    return np.sum(w * np.sin(np.tile(x, (2, 1))))


def s_tile_more(x, w):
    return np.sum(w * np.sin(np.tile(x, (2, 1, 3))))


def s_repeat(x, w):
    return np.sum(w * np.sin(np.repeat(x, 2)))


def s_repeat_axis(x, w):
    return np.sum(w * np.sin(np.repeat(x, 2, axis=1)))


def s_repeat_list(x, w):
    return np.sum(w * np.sin(np.repeat(x, [1, 0, 3], axis=0)))


def s_repeat_method(x, w):
    return np.sum(w * np.sin(x.repeat(3, axis=-1)))


def s_pad_int(x, w):
    return np.sum(w * np.sin(np.pad(x, 1) + 0.3))


def s_pad_pair(x, w):
    return np.sum(w * np.sin(np.pad(x, (1, 2)) + 0.3))


def s_pad_widths(x, w):
    return np.sum(w * np.sin(np.pad(x, ((1, 0), (2, 3)), mode="constant") + 0.3))


SHAPE_OPS = [
    (s_reshape, (3, 4)),
    (s_reshape, (12,)),
    (s_reshape_m1, (3, 4)),
    (s_reshape_m1, ()),
    (s_reshape_partial, (3, 4)),
    (s_reshape_method_args, (2, 6)),
    (s_reshape_method_tuple, (3, 4)),
    (s_reshape_method_m1, (2, 3, 2)),
    (s_ravel, (3, 4)),
    (s_ravel_method, (2, 3, 2)),
    (s_flatten, (3, 4)),
    (s_transpose, (3, 4)),
    (s_transpose, (2, 3, 4)),
    (s_transpose, (5,)),
    (s_transpose_axes, (2, 3, 4)),
    (s_transpose_axes_kw, (2, 3, 4)),
    (s_T, (3, 4)),
    (s_T, (2, 3, 4)),
    (s_T, (5,)),
    (s_transpose_method, (3, 4)),
    (s_transpose_method_args, (3, 4)),
    (s_transpose_method_tuple, (3, 4)),
    (s_transpose_method_3, (2, 3, 4)),
    (s_swapaxes, (2, 3, 4)),
    (s_swapaxes_neg, (2, 3, 4)),
    (s_swapaxes_method, (3, 4)),
    (s_moveaxis, (2, 3, 4)),
    (s_moveaxis_tuple, (2, 3, 4)),
    (s_squeeze, (3, 1, 4, 1)),
    (s_squeeze_axis, (3, 1, 4)),
    (s_squeeze_method, (1, 4)),
    (s_expand_dims, (3, 4)),
    (s_expand_dims_neg, (3,)),
    (s_expand_dims_tuple, (3, 4)),
    (s_atleast_1d, ()),
    (s_atleast_1d, (3,)),
    (s_atleast_2d, (3,)),
    (s_atleast_2d, ()),
    (s_broadcast_to, (3, 1)),
    (s_broadcast_to, (4,)),
    (s_broadcast_to, ()),
    (s_broadcast_to, (1, 3, 4)),
    (s_full, ()),
    (s_full, (4,)),
    (s_full, (3, 1)),
    (s_full_like, ()),
    (s_full_like, (4,)),
    (s_flip, (5,)),
    (s_flip, (2, 3, 4)),
    (s_flip_0, (3, 4)),
    (s_flip_m1, (3, 4)),
    (s_flip_tuple, (2, 3, 4)),
    (s_tile_int, (3,)),
    (s_tile_int, (2, 3)),
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
]


@pytest.mark.parametrize(
    "f,shape", SHAPE_OPS, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in SHAPE_OPS]
)
def test_shape_op(f, shape):
    check(f, make("any", shape, 27))


def s_repeat_array(x, r, w):
    return np.sum(w * np.sin(np.repeat(x, r)))


# ---------------------------------------------------------------- joining and splitting


def j_concat(x, y, w):
    return np.sum(w * np.sin(np.concatenate([x, y])))


def j_concat_tuple(x, y, w):
    return np.sum(w * np.sin(np.concatenate((x, y), axis=0)))


def j_concat_1(x, y, w):
    return np.sum(w * np.sin(np.concatenate([x, y], axis=1)))


def j_concat_m1(x, y, w):
    return np.sum(w * np.sin(np.concatenate([x, y], axis=-1)))


def j_concat_none(x, y, w):
    return np.sum(w * np.sin(np.concatenate([x, y], axis=None)))


def j_concat_reuse(x, y, w):
    return np.sum(w * np.sin(np.concatenate([x, y, x * y], axis=0)))


def j_stack(x, y, w):
    return np.sum(w * np.sin(np.stack([x, y])))


def j_stack_1(x, y, w):
    return np.sum(w * np.sin(np.stack([x, y], axis=1)))


def j_stack_m1(x, y, w):
    return np.sum(w * np.sin(np.stack((x, y, x), axis=-1)))


JOIN = [
    (j_concat, (2, 3), (4, 3)),
    (j_concat, (2,), (3,)),
    (j_concat_tuple, (2, 3), (1, 3)),
    (j_concat_1, (2, 3), (2, 1)),
    (j_concat_m1, (2, 2, 3), (2, 2, 2)),
    (j_concat_none, (2, 3), (4,)),
    (j_concat_reuse, (2, 3), (2, 3)),
    (j_stack, (2, 3), (2, 3)),
    (j_stack, (), ()),
    (j_stack_1, (2, 3), (2, 3)),
    (j_stack_m1, (2, 3), (2, 3)),
    (j_stack_m1, (4,), (4,)),
]


@pytest.mark.parametrize(
    "f,xs,ys", JOIN, ids=[f"{f.__name__}-{_shape_id(a)}-{_shape_id(b)}" for f, a, b in JOIN]
)
def test_join(f, xs, ys):
    check(f, make("any", xs, 28), make("any", ys, 29), wrt=(0, 1))


def sp_halves(x, w):
    a, b = np.split(x, 2)
    return np.sum(w * np.sin(a * b + a))


def sp_axis1(x, w):
    a, b = np.split(x, 2, axis=1)
    return np.sum(w * np.sin(a - 2.0 * b))


def sp_indices(x, w):
    a, b, c = np.split(x, [1, 3])
    return np.sum(w * np.sin(np.concatenate([c, a * 2.0, b * b])))


def sp_one_used(x, w):
    a, b = np.split(x, 2)
    return np.sum(w * np.sin(b))


def sp_array_split(x, w):
    a, b, c = np.array_split(x, 3)
    return np.sum(w * np.sin(np.concatenate([a * 3.0, b, c * c])))


def sp_array_split_axis(x, w):
    a, b = np.array_split(x, 2, axis=-1)
    return np.sum(w * np.sin(np.sum(a, axis=-1) * np.sum(b, axis=-1)))


SPLITS = [
    (sp_halves, (4,)),
    (sp_halves, (4, 3)),
    (sp_axis1, (3, 4)),
    (sp_indices, (5,)),
    (sp_indices, (5, 2)),
    (sp_one_used, (6,)),
    (sp_array_split, (7,)),
    (sp_array_split_axis, (2, 5)),
]


@pytest.mark.parametrize("f,shape", SPLITS, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in SPLITS])
def test_split(f, shape):
    check(f, make("any", shape, 30))


# ============================================================================ indexing


def i_int(x, w):
    return np.sum(w * np.sin(x[1]))


def i_neg_int(x, w):
    return np.sum(w * np.sin(x[-1]))


def i_slice(x, w):
    return np.sum(w * np.sin(x[1:3]))


def i_step(x, w):
    return np.sum(w * np.sin(x[::2]))


def i_reverse(x, w):
    return np.sum(w * np.sin(x[::-1]))


def i_col(x, w):
    return np.sum(w * np.sin(x[:, 1]))


def i_element(x, w):
    return np.sum(w * np.sin(x[1, 2]))


def i_none(x, w):
    return np.sum(w * np.sin(x[None]))


def i_none_mid(x, w):
    return np.sum(w * np.sin(x[:, None] * x[None, :]))


def i_ellipsis(x, w):
    return np.sum(w * np.sin(x[..., 0]))


def i_mixed(x, w):
    return np.sum(w * np.sin(x[1, None, 1:]))


def i_ellipsis_none(x, w):
    return np.sum(w * np.sin(x[..., None, ::2]))


def i_list(x, w):
    return np.sum(w * np.sin(x[[0, 2, 2, 1]]))


def i_list_col(x, w):
    return np.sum(w * np.sin(x[:, [2, 0, 2]]))


def i_int_array(x, idx, w):
    return np.sum(w * np.sin(x[idx]))


def i_int_array_rows(x, idx, w):
    return np.sum(w * np.sin(x[idx, :]))


def i_int_array_cols(x, idx, w):
    return np.sum(w * np.sin(x[:, idx]))


def i_pair_arrays(x, i, j, w):
    return np.sum(w * np.sin(x[i, j]))


def i_mask(x, mask, w):
    return np.sum(w * np.sin(x[mask]))


def i_mask_computed(x, w):
    return np.sum(w * np.sin(x[x > 0.2]))


def i_mask_rows(x, mask, w):
    return np.sum(w * np.sin(x[mask, 1:]))


def i_two_reads(x, w):
    return np.sum(w * np.sin(x[0] * x[1] + x[0]))


INDEXING = [
    (i_int, (4,)),
    (i_int, (3, 4)),
    (i_neg_int, (4,)),
    (i_neg_int, (3, 4)),
    (i_slice, (5,)),
    (i_slice, (4, 3)),
    (i_step, (5,)),
    (i_step, (5, 2)),
    (i_reverse, (5,)),
    (i_col, (3, 4)),
    (i_col, (2, 3, 4)),
    (i_element, (3, 4)),
    (i_element, (3, 4, 2)),
    (i_none, (3,)),
    (i_none, ()),
    (i_none_mid, (4,)),
    (i_ellipsis, (3, 4)),
    (i_ellipsis, (2, 3, 4)),
    (i_mixed, (3, 4)),
    (i_ellipsis_none, (2, 5)),
    (i_list, (4,)),
    (i_list, (3, 2)),
    (i_list_col, (2, 3)),
    (i_mask_computed, (7,)),
    (i_mask_computed, (3, 4)),
    (i_two_reads, (3,)),
    (i_two_reads, (2, 3)),
]


@pytest.mark.parametrize(
    "f,shape", INDEXING, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s in INDEXING]
)
def test_indexing(f, shape):
    check(f, make("any", shape, 31))


@pytest.mark.parametrize(
    "f,shape,idx",
    [
        (i_int_array, (5,), np.array([4, 0, 0, 2, 0])),
        (i_int_array, (4, 3), np.array([1, 1, 3])),
        (i_int_array, (5,), np.array([[0, 1], [1, 4]])),
        (i_int_array, (5,), np.array([-1, 0, -1])),
        (i_int_array_rows, (4, 3), np.array([3, 3, 0])),
        (i_int_array_cols, (2, 4), np.array([0, 3, 3, 3])),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_integer_array_indexing(f, shape, idx):
    check(f, make("any", shape, 32), idx)


@pytest.mark.parametrize("shape", [(6,), (3, 4)], ids=_shape_id)
def test_boolean_mask(shape):
    x = make("any", shape, 34)
    mask = np.random.default_rng(35).random(shape) > 0.4
    check(i_mask, x, mask)


def g_take(x, idx, w):
    return np.sum(w * np.sin(np.take(x, idx)))


def g_take_axis0(x, idx, w):
    return np.sum(w * np.sin(np.take(x, idx, axis=0)))


def g_take_axis1(x, idx, w):
    return np.sum(w * np.sin(np.take(x, idx, axis=1)))


def g_take_axis_m1(x, idx, w):
    return np.sum(w * np.sin(np.take(x, idx, axis=-1)))


def g_take_method(x, idx, w):
    return np.sum(w * np.sin(x.take(idx, axis=0)))


def g_take_literal(x, w):
    return np.sum(w * np.sin(np.take(x, [3, 0, 3])))


TAKE = [
    (g_take, (5,), [0, 4, 4, 1]),
    (g_take, (3, 4), [11, 0, 5, 5]),
    (g_take, (3, 4), [[1, 2], [2, 1]]),
    (g_take_axis0, (4, 3), [2, 2, 0]),
    (g_take_axis1, (2, 4), [3, 1, 3]),
    (g_take_axis1, (2, 4, 2), [[0, 1], [1, 1]]),
    (g_take_axis_m1, (2, 3), [2, 2]),
    (g_take_method, (4, 2), [1, 3, 1]),
]


@pytest.mark.parametrize(
    "f,shape,idx", TAKE, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s, _ in TAKE]
)
def test_take(f, shape, idx):
    check(f, make("any", shape, 37), np.array(idx))


def g_tala(x, idx, w):
    return np.sum(w * np.sin(np.take_along_axis(x, idx, axis=1)))


def g_tala_0(x, idx, w):
    return np.sum(w * np.sin(np.take_along_axis(x, idx, 0)))


def g_tala_m1(x, idx, w):
    return np.sum(w * np.sin(np.take_along_axis(x, idx, axis=-1)))


def g_tala_none(x, idx, w):
    return np.sum(w * np.sin(np.take_along_axis(x, idx, axis=None)))


def g_tala_sorted(x, w):
    # the idiom: gather along the argsort of x itself
    return np.sum(w * np.sin(np.take_along_axis(x, np.argsort(x, axis=1), axis=1) * x))


TALA = [
    (g_tala, (3, 4), [[0, 0, 3], [1, 2, 2], [3, 3, 3]]),
    (g_tala, (3, 4), [[1], [0], [3]]),
    (g_tala_0, (3, 2), [[2, 0], [2, 2]]),
    (g_tala_m1, (2, 2, 3), [[[0, 2]], [[1, 1]]]),
    (g_tala_none, (2, 3), [5, 0, 0, 3]),
]


@pytest.mark.parametrize(
    "f,shape,idx", TALA, ids=[f"{f.__name__}-{_shape_id(s)}" for f, s, _ in TALA]
)
def test_take_along_axis(f, shape, idx):
    check(f, make("any", shape, 38), np.array(idx))


# ============================================================================ method/attribute forms


def a_sum_axis1(x, w):
    return np.sum(w * np.sin(x.sum(axis=1)))


def a_sum_pos(x, w):
    return np.sum(w * np.sin(x.sum(0)))


def a_sum(x, w):
    return np.sum(w * np.sin(x.sum()))


def a_mean(x, w):
    return np.sum(w * np.sin(x.mean()))


def a_mean_axis(x, w):
    return np.sum(w * np.sin(x.mean(axis=-1, keepdims=True)))


def a_max(x, w):
    return np.sum(w * np.sin(x.max()))


def a_max_axis(x, w):
    return np.sum(w * np.sin(x.max(axis=0)))


def a_min(x, w):
    return np.sum(w * np.sin(x.min(axis=1)))


def a_prod(x, w):
    return np.sum(w * np.sin(x.prod(axis=0)))


def a_var(x, w):
    return np.sum(w * np.sin(x.var()))


def a_std(x, w):
    return np.sum(w * np.sin(x.std(axis=1)))


def a_copy(x, w):
    return np.sum(w * np.sin(x.copy() * x))


def a_astype(x, w):
    return np.sum(w * np.sin(x.astype(np.float64) * x))


def a_shape(x, w):
    n = x.shape[0]
    return np.sum(w * np.sin(x / n))


def a_shape_reshape(x, w):
    return np.sum(w * np.sin(x.reshape(x.shape[0], -1)))


def a_shape_zeros(x, w):
    return np.sum(w * np.sin(np.zeros(x.shape) + x * x))


def a_ndim_size_len(x, w):
    return np.sum(w * np.sin(x * (x.ndim + x.size + len(x))))


def a_np_shape(x, w):
    return np.sum(w * np.sin(x * np.shape(x)[0] / np.size(x) + np.ones_like(x)))


def a_T_matmul(x, y, w):
    return np.sum(w * np.sin(x.T @ y))


def a_dot_chain(x, y, w):
    return np.sum(w * np.sin(x.dot(y).T.dot(x)))


METHODS = [
    a_sum_axis1,
    a_sum_pos,
    a_sum,
    a_mean,
    a_mean_axis,
    a_max,
    a_max_axis,
    a_min,
    a_prod,
    a_var,
    a_std,
    a_copy,
    a_astype,
    a_shape,
    a_shape_reshape,
    a_shape_zeros,
    a_ndim_size_len,
    a_np_shape,
]


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2)], ids=_shape_id)
@pytest.mark.parametrize("f", METHODS, ids=lambda f: f.__name__)
def test_method_forms(f, shape):
    check(f, make("away", shape, 40))


def a_item(x, w):
    return np.sum(w * np.sin(x.item() * x))


def a_float(x, w):
    return np.sum(w * np.sin(float(x) * x))


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), "float"], ids=_shape_id)
def test_item(shape):
    if shape == "float":
        pytest.skip("a float has no .item()")
    check(a_item, make("away", shape, 41))


@pytest.mark.parametrize("shape", [(), "float"], ids=_shape_id)
def test_float(shape):
    check(a_float, make("away", shape, 41))


def test_method_matmul_forms():
    x, y = make("any", (3, 2), 42), make("any", (3, 3), 43)
    check(a_T_matmul, x, y, wrt=(0, 1))
    check(a_dot_chain, make("any", (3, 3), 44), y, wrt=(0, 1))


# ============================================================================ dtypes, unused args


def d_exp(x, w):
    return np.sum(w * np.sin(np.exp(x)))


def d_matmul_bias(x, y, b, w):
    return np.sum(w * np.sin(x @ y + b))


def d_reduce(x, w):
    return np.sum(w * np.sin(np.mean(x, axis=0) / 2.0 + np.max(x, axis=-1, keepdims=True)))


def d_index(x, w):
    return np.sum(w * np.sin(x[0, None, 1:] * x[[0, 0, 2], 1:]))


def d_div_pow(x, y, w):
    return np.sum(w * np.sin(x / y + x**2 - 3.0 / y))


def d_shapes(x, w):
    return np.sum(w * np.sin(np.concatenate([x.T, np.tile(x, (1, 1))[::-1]], axis=0)))


FLOAT32 = [
    (d_exp, [(3, 4)], 0),
    (d_matmul_bias, [(2, 3), (3, 4), (4,)], (0, 1, 2)),
    (d_reduce, [(3, 3)], 0),
    (d_index, [(3, 4)], 0),
    (d_div_pow, [(3, 4), (4,)], (0, 1)),
    (d_shapes, [(3, 3)], 0),
    (l_inv, [(3, 3)], 0),
]


@pytest.mark.parametrize("f,shapes,wrt", FLOAT32, ids=[f.__name__ for f, _, _ in FLOAT32])
def test_float32_stays_float32(f, shapes, wrt):
    args64 = [
        well_conditioned(s, 45) if f is l_inv else make("pos" if i else "any", s, 45 + i)
        for i, s in enumerate(shapes)
    ]
    args32 = [a.astype(np.float32) for a in args64]

    w32 = weights(output_shape(f, args32), dtype=np.float32)
    full32 = (*args32, w32)
    full64 = (*[a.astype(np.float64) for a in args32], w32.astype(np.float64))
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [numerical_grad(f, full64, i) for i in idxs]
    df = transform(f, wrt)
    for fn in (df, df.generic):
        got = fn(*full32)
        got = got if isinstance(wrt, tuple) else (got,)
        for i, g, e in zip(idxs, got, expected):
            assert g.dtype == np.float32, f"{f.__name__}: d/darg{i} is {g.dtype}"
            assert g.shape == args32[i].shape
            np.testing.assert_allclose(g, e, rtol=2e-3, atol=2e-4)


def un_second_unused(x, y, w):
    return np.sum(w * np.sin(x * 2.0))


def un_second_nondiff(x, y, w):
    return np.sum(w * np.sin(x * y.shape[0] + np.floor(y) + (y > 0)))


@pytest.mark.parametrize("f", [un_second_unused, un_second_nondiff], ids=lambda f: f.__name__)
@pytest.mark.parametrize("ys", [(3,), (2, 3), "float"], ids=_shape_id)
def test_unused_argument_gets_zeros(f, ys):
    if f is un_second_nondiff and ys == "float":
        pytest.skip("a float has no .shape")
    x, y = make("any", (3,), 46), make("away", ys, 47)
    for fn in (sg.grad(f, 1), sg.grad(f, 1).generic):
        g = fn(x, y, weights((3,)))
        if ys == "float":
            assert g == 0.0 and isinstance(g, float)
        else:
            assert isinstance(g, np.ndarray) and g.shape == y.shape and g.dtype == y.dtype
            assert np.all(g == 0)
    gx, gy = check(f, x, y, wrt=(0, 1))
    assert np.all(np.asarray(gy) == 0)


def test_unused_argument_float32_zeros():
    x = make("any", (3,), 46)
    y = np.ones((2, 2), dtype=np.float32)
    g = sg.grad(un_second_unused, 1)(x, y, weights((3,)))
    assert g.dtype == np.float32 and g.shape == (2, 2) and not np.any(g)


# ============================================================================ more containers


def c_array_ndmin(x, w):
    return np.sum(w * np.sin(np.array(x, ndmin=2) * 2.0))


@pytest.mark.parametrize("shape", [(), (3,), "float"], ids=_shape_id)
def test_array_ndmin(shape):
    check(c_array_ndmin, make("any", shape, 48))


def c_split_slice(x, w):
    parts = np.split(x, [1, 3])
    rest = parts[1:]
    return np.sum(w * np.sin(np.concatenate(rest) * parts[0]))


def c_concat_twice(x, w):
    parts = np.split(x, [1, 3])
    return np.sum(w * np.sin(np.concatenate(parts) * np.concatenate(parts[::-1])))


def c_concat_list_var(x, y, w):
    xs = [x, y * y]
    return np.sum(w * np.sin(np.concatenate(xs) + np.concatenate(xs) ** 2))


@pytest.mark.parametrize("f", [c_split_slice, c_concat_twice], ids=lambda f: f.__name__)
def test_list_of_pieces(f):
    check(f, make("any", (5,), 49))


@pytest.mark.parametrize(
    "xs,idx",
    [((1, 4), [[0, 3], [1, 1], [2, 0]]), ((3, 4), [[3, 3]]), ((3, 1), [[0, 0]])],
    ids=str,
)
def test_take_along_axis_broadcasting(xs, idx):
    check(g_tala, make("any", xs, 52), np.array(idx))


def cl_low_array(x, lo, w):
    return np.sum(w * np.sin(np.clip(x, lo, None)))


def cl_high_array(x, hi, w):
    return np.sum(w * np.sin(np.clip(x, None, hi)))


@pytest.mark.parametrize("bs", [(), (4,), (3, 4), "float"], ids=_shape_id)
@pytest.mark.parametrize("f", [cl_low_array, cl_high_array], ids=lambda f: f.__name__)
def test_clip_one_bound_variable(f, bs):
    rng = np.random.default_rng(53)
    x = rng.uniform(-2, 2, (3, 4))
    b = rng.uniform(-0.5, 0.5, () if bs == "float" else bs)
    b = float(b) if bs == "float" else b
    check(f, x, b, wrt=(0, 1))


# ============================================================================ arguments known at run time
# A rule's `if` on an argument that is not a literal stays a run-time `if` in the derivative.


def rt_sum(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.sum(x, axis=axis, keepdims=keepdims)))


def rt_mean(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.mean(x, axis=axis, keepdims=keepdims)))


def rt_max(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.max(x, axis=axis, keepdims=keepdims)))


def rt_prod(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.prod(x, axis=axis, keepdims=keepdims)))


def rt_var(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.var(x, axis=axis, keepdims=keepdims)))


def rt_std(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.std(x, axis=axis, keepdims=keepdims)))


def rt_norm(x, axis, keepdims, w):
    return np.sum(w * np.sin(np.linalg.norm(x, axis=axis, keepdims=keepdims)))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize(
    "f", [rt_sum, rt_mean, rt_max, rt_prod, rt_var, rt_std, rt_norm], ids=lambda f: f.__name__
)
def test_reduction_axis_known_at_run_time(f, axis, keepdims):
    check(f, make("away", (3, 4), 54), axis, keepdims)


@st.composite
def _run_time_reduction_case(draw):
    f = draw(st.sampled_from([rt_sum, rt_mean, rt_max, rt_prod, rt_var, rt_std, rt_norm]))
    spread = f in (rt_var, rt_std)
    shape = draw(array_shapes(min_dims=1, max_dims=4, min_side=2 if spread else 1, max_side=3))
    nd = len(shape)
    axis_int = st.integers(-nd, nd - 1)
    if f is rt_norm:  # a vector norm (int axis) or a Frobenius norm (two axes)
        options = [st.none(), axis_int]
        if nd >= 2:
            options.append(
                st.lists(st.integers(0, nd - 1), min_size=2, max_size=2, unique=True).map(
                    lambda a: (a[0], a[1] - nd)
                )
            )
    else:
        options = [
            st.none(),
            axis_int,
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).flatmap(
                lambda a: st.tuples(*[st.sampled_from([i, i - nd]) for i in a])
            ),
        ]
    axis = draw(st.one_of(*options))
    return f, shape, axis, draw(st.booleans()), draw(st.integers(0, 2**16))


@HYP_REDUCTIONS
@given(case=_run_time_reduction_case())
def test_reduction_axis_known_at_run_time_hypothesis(case):
    f, shape, axis, keepdims, seed = case
    check(f, make("away", shape, seed), axis, keepdims)


def rt_cumsum(x, axis, w):
    return np.sum(w * np.sin(np.cumsum(x, axis=axis)))


def rt_stack(x, y, axis, w):
    return np.sum(w * np.sin(np.stack([x, y], axis=axis)))


def rt_transpose(x, axes, w):
    return np.sum(w * np.sin(np.transpose(x, axes)))


def rt_clip(x, lo, hi, w):
    return np.sum(w * np.sin(np.clip(x, lo, hi)))


def rt_norm_ord(x, ord, w):
    return np.sum(w * np.sin(np.linalg.norm(x, ord)))


@pytest.mark.parametrize("axis", [None, 0, -1], ids=str)
def test_cumsum_axis_known_at_run_time(axis):
    check(rt_cumsum, make("any", (3, 4), 56), axis)


@pytest.mark.parametrize("axis", [0, 1, -1], ids=str)
def test_stack_axis_known_at_run_time(axis):
    check(rt_stack, make("any", (3, 4), 57), make("any", (3, 4), 58), axis, wrt=(0, 1))


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1)], ids=str)
def test_transpose_axes_known_at_run_time(axes):
    check(rt_transpose, make("any", (2, 3, 4), 59), axes)


@pytest.mark.parametrize("lo,hi", [(-0.6, 0.7), (None, 0.7), (-0.6, None)], ids=str)
def test_clip_bounds_known_at_run_time(lo, hi):
    x = make("any", (3, 4), 60)
    x = np.where(np.abs(np.abs(x) - 0.65) < 0.06, x + 0.2, x)
    check(rt_clip, x, lo, hi)


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf], ids=str)
def test_norm_ord_known_at_run_time(ord):
    check(rt_norm_ord, make("away", (5,), 61), ord)


# ============================================================================ known bugs elsewhere


def test_one_element_wrt_tuple_gives_tuple():
    g = sg.grad(u_exp, (0,))(make("any", (3,), 55), weights((3,)))
    assert isinstance(g, tuple) and len(g) == 1


def test_max_of_float_generic():
    g = sg.grad(r_max).generic(0.3, weights(()))
    np.testing.assert_allclose(g, numerical_grad(r_max, (0.3, weights(())), 0), rtol=1e-5)


def n_spectral_axes(x, w):
    return np.sum(w * np.sin(np.linalg.norm(x, 2, axis=(0, 1))))


def test_the_spectral_norm_is_not_the_frobenius_norm():
    """Regression: ord=2 over two axes is the spectral norm; it was once differentiated as the
    Frobenius norm, silently wrong. Its gradient is u v^T of the top singular pair."""
    x = make("any", (3, 4))
    got = sg.grad(n_spectral_axes)(x, np.ones(()))
    np.testing.assert_allclose(got, numerical_grad(n_spectral_axes, (x, np.ones(())), 0), rtol=1e-5)


# ============================================================================ one-case rules
# (function, args without the weights, wrt): rules and argument forms checked on one input

ONE_CASE = [
    (s_repeat_array, (make("any", (4,), 27), np.array([2, 0, 1, 3])), 0),
    (i_pair_arrays, (make("any", (3, 4), 33), np.array([0, 2, 2, 0]), np.array([1, 3, 3, 1])), 0),
    (i_mask_rows, (make("any", (4, 3), 36), np.array([True, False, True, True])), 0),
    (g_take_literal, (make("any", (4,), 37),), 0),
    (g_tala_sorted, (make("any", (3, 4), 39),), 0),
    (c_concat_list_var, (make("any", (2, 3), 50), make("any", (1, 3), 51)), (0, 1)),
]


@pytest.mark.parametrize("f, args, wrt", ONE_CASE, ids=[c[0].__name__ for c in ONE_CASE])
def test_one_case(f, args, wrt):
    check(f, *args, wrt=wrt)
