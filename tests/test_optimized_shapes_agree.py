"""The optimisations of the code specialised to shapes (loop fusion, like terms, sums of
products, dtype inference for buffer reuse) keep values and gradients. Each compares the code that runs (from the second call on,
specialised to the arguments' shapes) with the unoptimised derivative and with central
differences."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad


def _twice(df, *args):
    """The result of the second call (the build specialised to these shapes), after the first
    agreed with it."""
    first = df(*args)
    second = df(*args)
    pairs = zip(first, second) if isinstance(first, tuple) else [(first, second)]
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-6)
    return second


def cancelling(x, W, v):
    y = x * W
    z = W * x
    u = x * v
    w = y - z + u  # y - z cancels, but it is what broadcasts w to W's shape
    return np.sum(w)


def test_cancelled_terms_keep_the_broadcast_shape(rng):
    W, v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    for x in (0.7, np.array(0.7)):
        got = sg.grad(cancelling)(x, W, v)
        assert float(got) == pytest.approx(3 * v.sum(), rel=1e-12)


def all_cancel(x, W):
    w = x * W - W * x
    return np.sum(w[0]) + x


def test_a_tangent_whose_terms_all_cancel_is_still_an_array(rng):
    W = rng.standard_normal((3, 4))
    assert float(sg.grad(all_cancel)(0.7, W)) == pytest.approx(1.0)


def difference_sum(w, a, b):
    return np.sum(w) * np.sum(a - b)


def test_a_sum_of_a_difference_is_not_split(rng):
    a = 1e12 + rng.random(10_000)
    b = a + 1e-3
    w = np.array([1.0])
    want = np.sum(a - b)
    got = _twice(sg.grad(difference_sum, 0), w, a, b)
    np.testing.assert_allclose(got, [want], rtol=1e-12)
    a32 = rng.random(1000).astype(np.float32)
    b64 = a32.astype(np.float64) + 1e-3
    value, _ = _twice(sg.value_and_grad(difference_sum, 0), w, a32, b64)
    assert value == pytest.approx(difference_sum(w, a32, b64), rel=1e-12)


def branch_dtypes(x, b, flag):
    if flag:
        h = x * 2.0
    else:
        h = np.ones((3,), dtype=np.float32) * 1e4
    t = h + b
    return np.sum((t - 1e4) ** 2)


def branch_ints(x, b, flag):
    if flag:
        h = x * 2.0
    else:
        h = np.ones((3,), dtype=np.int64)
    t = h + b
    return np.sum(np.tanh(t))


def test_an_unknown_dtype_does_not_agree_with_float64():
    x, b = np.zeros(3), np.array([1e-4, 2e-4, 3e-4])
    got = _twice(sg.grad(branch_dtypes, 1), x, b, False)
    np.testing.assert_allclose(got, sg.grad(branch_dtypes, 1, optimize=False)(x, b, False))
    assert np.all(got != 0.0)
    got = _twice(sg.grad(branch_ints, 1), x, b, False)
    np.testing.assert_allclose(got, numerical_grad(branch_ints, (x, b, False), 1), rtol=1e-6)


def weak_then_strong(v, w0):
    s = 1.0
    for _ in range(2):
        s = s * w0  # a Python float, then a NumPy float64
    u = v * 2.0
    t = u * s
    return np.sum((t - 1e4) ** 2)


def test_a_python_float_is_not_a_float64_array():
    v = np.array([0.5, 0.5001, 0.5002], dtype=np.float32)
    w0 = np.array(100.0)
    value, got = _twice(sg.value_and_grad(weak_then_strong, 0), v, w0)
    want = sg.grad(weak_then_strong, 0, optimize=False)(v, w0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert value == pytest.approx(weak_then_strong(v, w0), rel=1e-12)
    assert np.asarray(value).dtype == np.float64


def shadowed(K, V):
    h = 0.0
    for i in range(3):
        for i in range(3):  # noqa: B007 - the inner loop reuses the counter on purpose
            h = h + np.einsum("j,j->", K[i, i], V[i])
    return h * h


def int_products(x, M):
    h = 0.0
    for i in range(3):
        h = h + np.einsum("ij,j->i", M[i], M[i, 0])
    return np.sum(x * h)


def broadcast_einsum(A, B):
    h = 0.0
    for i in range(3):
        h = h + np.einsum("ij,ij->i", A[i], B[i])
    return np.sum(h**2)


@pytest.mark.parametrize("wrt", [0, 1])
def test_a_reused_counter_is_not_fused(wrt, rng):
    K, V = rng.standard_normal((3, 3, 2)), rng.standard_normal((3, 2))
    got = _twice(sg.grad(shadowed, wrt), K, V)
    np.testing.assert_allclose(got, numerical_grad(shadowed, (K, V), wrt), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.int8, np.bool_])
def test_integer_products_are_not_summed_in_one_product(dtype):
    x = np.ones(2)
    M = np.full((3, 2, 2), 7 if dtype is np.int8 else 1, dtype=dtype)
    value, got = _twice(sg.value_and_grad(int_products, 0), x, M)
    assert value == pytest.approx(int_products(x, M))
    np.testing.assert_allclose(got, numerical_grad(int_products, (x, M), 0), rtol=1e-6)


def test_a_broadcasting_einsum_is_not_fused(rng):
    A, B = rng.standard_normal((3, 4, 1)), rng.standard_normal((3, 4, 5))
    got = _twice(sg.grad(broadcast_einsum, 1), A, B)
    np.testing.assert_allclose(got, sg.grad(broadcast_einsum, 1, optimize=False)(A, B), rtol=1e-12)


# ------------------------------------------------------------------ a second review
def square_zeroed(x, k):
    s = k * k
    s.fill(0.0)  # s no longer holds k * k
    y = x * k * k + x * k * k
    return np.sum(y) + np.sum(s)


def negation_overwritten(x, k):
    m = -k
    m.fill(1.0)
    y = 2.0 * x * k + x * m
    return np.sum(y)


def sorted_after(x, k):
    k = k.copy()  # (sorting the argument itself would change the caller's array: refused)
    m = -k
    k.sort()  # k changes in place after m was made from it
    y = 2.0 * x * k + x * m
    return np.sum(y)


def wrapping_negation(x, k):
    m = -k  # unsigned: wraps to 256 - k
    y = 2.0 * x * k + x * m
    return np.sum(y)


def wrapping_square(x, k):
    s = k * k  # int8 or float16: wraps or overflows where x * k * k does not
    y = x * s + x * k * k
    return np.sum(y)


def unused_square(x, k):
    s = k * k  # float16: overflows to inf for k = 300
    y = x * k * k + x * k * k
    return np.sum(y) + np.sum(s > 0.0) * 0.0


CASES = [
    (square_zeroed, np.array([3.0, 1.0, 2.0])),
    (negation_overwritten, np.array([3.0, 1.0, 2.0])),
    (sorted_after, np.array([3.0, 1.0, 2.0])),
    (wrapping_negation, np.array([1, 2, 200], dtype=np.uint8)),
    (wrapping_square, np.array([1, 20, 100], dtype=np.int8)),
    (unused_square, np.array([1.0, 2.0, 300.0], dtype=np.float16)),
]


@pytest.mark.parametrize("f,k", CASES, ids=[f.__name__ for f, _ in CASES])
def test_products_changed_in_place_or_in_a_narrow_dtype_are_not_reused(f, k):
    x = np.array([0.5, -1.5, 2.0])
    want = numerical_grad(lambda x, k: f(x, k.copy()), (x, k), 0)
    df, vjp = sg.grad(f, 0), sg.vjp(f, 0)
    for _ in range(3):  # the first call, then the code specialised to the shapes
        np.testing.assert_allclose(df(x, k.copy()), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(vjp(x, k.copy(), -2.0), -2.0 * want, rtol=1e-5, atol=1e-6)


def scalar_version(s, k):
    s = s * np.ones(1)  # float64 from here: float16 k is promoted, as in float64 differences
    m = -k
    y = 2.0 * s * k + s * m
    q = k * k
    return np.sum(y) + np.sum(s * q + s * k * k)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float16, np.float64])
def test_forward_mode_through_narrow_products(dtype):
    k = np.array([1, 20, 100], dtype=dtype)
    for s in (0.5, 2.0):  # the gradient w.r.t. one float runs in forward mode
        want = numerical_grad(lambda s, k: scalar_version(s, k.copy()), (s, k), 0)
        assert float(sg.grad(scalar_version, 0)(s, k.copy())) == pytest.approx(want, rel=1e-6)


def reassigned_in_branch(x, v, flag):
    if flag:
        x = x * 3.0
    return np.sum(x * v)


def reassigned_in_loop(x, v):
    for _ in range(2):
        x = x * 3.0
    return np.sum(x * v)


@pytest.mark.parametrize("optimize", [False, True])
def test_an_argument_reassigned_by_the_function_keeps_its_gradient_shape(optimize):
    # found by the second review (older than this work): the tape kept only the argument's
    # shape, and the gradient's container was built from that shape
    x, v = np.array([0.5, -1.5, 2.0]), np.array([1.0, 2.0, 3.0])
    for f, args, factor in (
        (reassigned_in_branch, (x, v, True), 3.0),
        (reassigned_in_loop, (x, v), 9.0),
    ):
        df = sg.grad(f, 0, optimize=optimize)
        for _ in range(2):
            np.testing.assert_allclose(df(*args), factor * v, rtol=1e-12)


def indexed_then_reassigned(x):
    z = 0.0
    for _ in range(2):
        z = z + x[0]
        x = x * 2.0
    return z


def sliced_then_reassigned(x):
    z = 0.0
    for _ in range(3):
        z = z + np.sum(x[0] * x[0])
        x = x[1:] * 2.0
    return z


@pytest.mark.parametrize("f", [indexed_then_reassigned, sliced_then_reassigned])
@pytest.mark.parametrize("optimize", [False, True])
def test_an_argument_indexed_in_a_loop_that_reassigns_it(f, optimize):
    # found by the second review (older than this work): x[0] was read once before the loop,
    # from the argument as passed, instead of from x as the loop leaves it
    x = np.array([0.5, -1.5, 2.0, 3.0, 1.0])
    df = sg.grad(f, optimize=optimize)
    for _ in range(2):
        np.testing.assert_allclose(df(x), numerical_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)


INDEX_CALLS = []


def _where():
    INDEX_CALLS.append(1)
    return 1


def updated_at_a_computed_index(x):
    y = x * 1.0
    y[_where()] += x[0] * x[2]
    return np.sum(y * y)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_augmented_item_update_evaluates_its_index_once(mode):
    # reported by a review (older than this work): `y[f()] += v` was lowered to
    # `y[f()] = y[f()] + v`, calling f twice
    x = np.array([0.5, -1.5, 2.0])
    INDEX_CALLS.clear()
    updated_at_a_computed_index(x)
    assert len(INDEX_CALLS) == 1
    INDEX_CALLS.clear()
    t = np.array([1.0, 0.0, 0.0])
    if mode == "reverse":
        g = sg.grad(updated_at_a_computed_index)(x) @ t
    else:
        g = sg.jvp(updated_at_a_computed_index)(x, t)[1]
    assert len(INDEX_CALLS) == 1
    expected = numerical_grad(updated_at_a_computed_index, (x,), 0) @ t
    np.testing.assert_allclose(g, expected, rtol=1e-6)


def cubed(s, scale):
    return s * s * s * scale["k"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gradient_of_a_numpy_scalar_is_a_numpy_scalar_of_its_dtype(dtype):
    # reported by a review: a NumPy float32 scalar got a 0-d array
    s, scale = dtype(2.0), {"k": dtype(0.5), "unused": dtype(3.0)}
    for df in (sg.grad(cubed), sg.grad(cubed, optimize=False)):
        for _ in range(2):
            g = df(s, scale)
            assert type(g) is dtype and g == dtype(6.0)
    gs = sg.grad(cubed, 1)(s, scale)
    assert type(gs["k"]) is dtype and gs["k"] == dtype(8.0)
    assert type(gs["unused"]) is dtype and gs["unused"] == 0
    assert type(sg.grad(cubed)(2.0, {"k": 0.5, "unused": 1.0})) is float


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_gradients_of_a_numpy_scalar(dtype):
    # third review: the scalar gradient was written into with `kept[...] = new`
    df = sg.grad(cubed, stable_gradients=True)
    for k in (0.5, 2.0):
        g = df(dtype(2.0), {"k": dtype(k), "unused": dtype(0.0)})
        assert type(g) is dtype and g == dtype(12.0 * k)


def stationary(x, a, b):
    s = np.sum(x * x)
    return s * np.sum(a * x) - np.sum(b * x)


def test_gradcheck_at_a_stationary_point():
    # third review: the first call's gradient (pure build) and the later calls' (optimized)
    # are both rounding noise around 0 there; they agree within gradcheck's tolerances
    rng = np.random.default_rng(0)
    x, a = rng.standard_normal(50), rng.standard_normal(50)
    b = 2 * x * np.sum(a * x) + np.sum(x * x) * a
    assert sg.gradcheck(stationary, x, a, b)


def cube_of(x):
    return x * x * x


def linear_in(x):
    return 3.0 * x


@pytest.mark.parametrize("f, second", [(cube_of, 12.0), (linear_in, 0.0)])
@pytest.mark.parametrize("kind", [float, np.float64, np.float32, np.array])
def test_second_derivatives_of_a_scalar_keep_its_kind(f, second, kind):
    # third review: NumPy scalars got 0-d arrays where the second derivative is 0, and
    # hessian gave a 0-d array (float32) or a Python float (float64)
    x = kind(2.0)
    seed = np.array(1.0) if kind is np.array else kind(1.0)
    for got in (sg.grad(sg.grad(f))(x), sg.hvp(f)(x, seed), sg.hessian(f)(x)):
        assert type(got) is type(x)
        assert np.result_type(got) == np.result_type(x) and got == second


def add_at_a_repeated_list(x):
    y = x * 1.0
    y[[0, 0, 1]] += x[1] * x[2]  # NumPy: the last write of y[0] wins, once
    return np.sum(y**2)


def write_at_a_repeated_list(x, v):
    y = x * 1.0
    y[[2, 0, 2]] = v * x[[0, 1, 1]]  # v[0]'s write at 2 is overwritten by v[2]'s
    return np.sum(np.sin(y))


@pytest.mark.parametrize("optimize", [True, False])
def test_writes_at_repeated_indices_of_a_list(optimize):
    # third review: a list index was taken as unique (an index array was not), so the
    # overwritten writes also got a gradient
    x, v = np.array([0.3, -0.7, 1.1]), np.array([0.5, -1.5, 2.0])
    for f, args in ((add_at_a_repeated_list, (x,)), (write_at_a_repeated_list, (x, v))):
        for i in range(len(args)):
            df = sg.grad(f, i, optimize=optimize)
            for _ in range(2):
                want = numerical_grad(f, args, i)
                np.testing.assert_allclose(df(*args), want, rtol=1e-6, atol=1e-9)


def weighted_by_position(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i] * (i + 1)  # an integer factor, kept on the tape
    return s


def test_second_order_through_an_integer_factor_on_the_tape():
    # third review: the tangent of the taped integer i + 1 was None, and `float * None`
    # crashed the Hessian-vector product
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(sg.hvp(weighted_by_position)(x, np.ones(3)), [2.0, 4.0, 6.0])
    np.testing.assert_allclose(sg.hessian(weighted_by_position)(x), np.diag([2.0, 4.0, 6.0]))


float32 = np.float32  # a global of the name the generated code would use for the type


def local_named_like_a_numpy_type(x):
    float32 = x * x  # noqa: F841 - a local named like the NumPy type the gradient is made of
    return float32 * x


def with_a_keyword_only_default(x, *, k=2.0):
    return x * x * k


def test_generated_names_do_not_collide_with_the_users_locals():
    # fifth review: the gradient with respect to a float32 returned typed_gradient(dx, float32),
    # and float32 was the user's local; a keyword-only default was replaced by the seed's
    for x in (np.float32(1.5), np.float64(1.5), 1.5):
        g = sg.grad(local_named_like_a_numpy_type)(x)
        assert type(g) is type(x) and g == pytest.approx(6.75)
        g = sg.grad(with_a_keyword_only_default)(x)
        assert type(g) is type(x) and g == pytest.approx(6.0)
