"""The optimize pass and the code that runs: each rewrite is visible in the running source,
leaves the shown (pure) derivative alone, and gives the results of the pure derivative
(``optimize=False``) and of central differences."""

from __future__ import annotations

import itertools
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sourcegrad as sg

from .fd import numerical_grad
from .internals import DEFAULT_TIERS, contract, uneinsum


def _running(f, *args):
    return sg.show(f, args=args, optimized=True)


def _same(a, b, rtol=1e-12):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], rtol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, rtol)
    else:
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


# ----------------------------------------------------------------- einsum as tensordot
SPECS = [
    "nchw,co->nhwo",  # a convolution tap
    "nhwo,nchw->co",  # its kernel gradient: a transposed result
    "ij,jk->ik",
    "ij,jk->ki",
    "ij,kj",  # implicit output
    "i,i->",
    "i,j->ij",
    "ij,j->i",
    "bij,bjk->bik",  # a batch axis: einsum itself
    "ii,i->i",  # a diagonal: einsum itself
    "ij,jk->i",  # k summed within one operand: einsum itself
]


@pytest.mark.parametrize("spec", SPECS)
def test_contract_is_einsum(spec, rng):
    sizes = dict(zip("bchijknow", (2, 3, 4, 5, 5, 3, 2, 4, 3)))
    ins = spec.split("->")[0].split(",")
    a, b = (rng.standard_normal([sizes[c] for c in term]) for term in ins)
    np.testing.assert_allclose(contract(spec, a, b), np.einsum(spec, a, b), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_contract_is_einsum_for_random_specs(data):
    letters = "abcde"
    ta = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(0, 3))])
    tb = "".join(data.draw(st.permutations(letters))[: data.draw(st.integers(0, 3))])
    free = sorted(set(ta) ^ set(tb))
    out = "".join(data.draw(st.permutations(free))) if free else ""
    spec = f"{ta},{tb}->{out}"
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    sizes = dict(zip(letters, (2, 3, 1, 4, 2)))
    a = rng.standard_normal([sizes[c] for c in ta])
    b = rng.standard_normal([sizes[c] for c in tb])
    np.testing.assert_allclose(contract(spec, a, b), np.einsum(spec, a, b), rtol=1e-12, atol=1e-14)


def test_uneinsum_computes_only_the_adjoints_asked_for(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    g = rng.standard_normal((4, 5))
    both = uneinsum(g, "ij,jk->ik", (a, b))
    only_b = uneinsum(g, "ij,jk->ik", (a, b), (False, True))
    assert only_b[0] is None
    np.testing.assert_allclose(only_b[1], both[1], rtol=1e-12)


def conv_loss(K, x):
    """Nine shifted slices of x times the taps of K: the tape keeps views and shapes."""
    h = 0.0
    for i in range(3):
        for j in range(3):
            h = h + np.einsum("nchw,co->nhwo", x[:, :, i : i + 4, j : j + 4], K[i, j])
    return np.sum(np.tanh(h))


def test_convolution_loop_runs_lean_and_agrees(rng):
    K = rng.standard_normal((3, 3, 2, 3)) * 0.3
    x = rng.standard_normal((2, 2, 6, 6))
    df = sg.grad(conv_loss)
    df(K, x)  # the first call runs the pure build for these ranks
    (ranked,) = df._ranked.values()
    assert ranked.provisional and ranked.pure is None
    # a second shape signature of the same ranks optimizes it: the loop (fused only later)
    x3 = rng.standard_normal((3, 2, 6, 6))
    _same(df(K, x3), sg.grad(conv_loss, optimize=False)(K, x3))
    (ranked,) = df._ranked.values()
    assert not ranked.provisional
    running = ranked.pretty(optimized=True)
    # the forward keeps the user's einsum (tensordot sums in another order: not Python's value)
    assert "contract(" not in running and "np.einsum(" in running
    assert "(False, True)" in running  # x's adjoint is not computed
    assert "shape_of(h_5)" in running  # the einsum results are not kept for their shapes
    assert "contract(" not in sg.show(conv_loss, args=(K, x))  # the shown code is unchanged
    got = sg.grad(conv_loss)(K, x)
    _same(got, sg.grad(conv_loss, optimize=False)(K, x), rtol=1e-10)
    np.testing.assert_allclose(got, numerical_grad(conv_loss, (K, x), 0), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- scalar inputs
def newton_cbrt(a, tol):
    if a > 1.0:
        x = a
    else:
        x = 1.0
    step = x
    while abs(step) > tol * x:
        step = (x * x * x - a) / (3.0 * x * x)
        x = x - step
    return x


@pytest.mark.parametrize(
    "a", [20.0, 0.5, np.float32(20.0), np.float64(3.0), np.array(20.0), np.array(8.0, np.float32)]
)
def test_gradient_of_one_scalar_runs_in_forward_mode(a):
    tol = 1e-6 if np.result_type(a) == np.float32 else 1e-14
    df = sg.value_and_grad(newton_cbrt)
    value, g = df(a, tol)
    pure_value, pure_g = sg.value_and_grad(newton_cbrt, optimize=False)(a, tol)
    assert type(g) is type(pure_g) or isinstance(g, type(pure_g))
    assert np.result_type(g) == np.result_type(a)
    rtol = 1e-5 if np.result_type(a) == np.float32 else 1e-12
    np.testing.assert_allclose(g, pure_g, rtol=rtol)
    np.testing.assert_allclose(value, pure_value, rtol=rtol)
    x = float(a) ** (1 / 3) if float(a) > 1.0 else None
    if x is not None:
        np.testing.assert_allclose(g, 1.0 / (3.0 * x * x), rtol=10 * rtol)
    running = _running(newton_cbrt, a, tol)
    assert running.startswith("def jvp_newton_cbrt")  # no tape: one sweep with the tangent
    assert "tape" not in running
    if isinstance(a, (float, np.floating)):  # the generated code returns the gradient itself
        helper = (
            "float_gradient(dx)" if type(a) is float else f"typed_gradient(dx, {type(a).__name__})"
        )
        assert helper in running
        assert type(g) is type(a)
    assert sg.show(newton_cbrt, args=(a, tol)).startswith("def d_newton_cbrt")


def test_forward_mode_gradient_of_a_scalar_in_a_container_call():
    def f(x, c):
        return np.sum(np.sin(x * c["w"]))

    xs = np.linspace(0.0, 1.0, 5)
    g = sg.grad(f, 1)(xs, {"w": 0.7})
    np.testing.assert_allclose(g["w"], np.sum(np.cos(xs * 0.7) * xs), rtol=1e-12)
    np.testing.assert_allclose(sg.grad(f, 0)(0.3, {"w": 0.7}), 0.7 * np.cos(0.21), rtol=1e-12)


# ----------------------------------------------------------------- containers and sums
def unpacking_mlp(params, x):
    W0, W1 = params["W"]
    b0, b1 = params["b"]
    h = np.tanh(x @ W0 + b0)
    return np.sum((h @ W1 + b1) ** 2)


def test_unpacked_list_parameters_are_read_by_path(rng):
    params = {
        "W": [rng.standard_normal((4, 3)), rng.standard_normal((3, 2))],
        "b": [rng.standard_normal(3), rng.standard_normal(2)],
    }
    x = rng.standard_normal((5, 4))
    shown = sg.show(unpacking_mlp, args=(params, x))
    assert 'params["W"][0]' in shown and "unindex" not in shown  # no zeros for other leaves
    g = sg.grad(unpacking_mlp)(params, x)
    for key, i in itertools.product(("W", "b"), (0, 1)):

        def leaf(v, key=key, i=i):
            p = {k: list(vs) for k, vs in params.items()}
            p[key][i] = v
            return unpacking_mlp(p, x)

        want = numerical_grad(leaf, (params[key][i],), 0)
        np.testing.assert_allclose(g[key][i], want, rtol=1e-6, atol=1e-8)


def test_full_sums_run_as_add_reduce_for_numpy_arguments(rng):
    def f(x):
        return np.sum(np.sin(x)) * np.sum(x * x)

    x = rng.standard_normal(6)
    running = _running(f, x)
    assert "np.add.reduce(" in running and "np.add.reduce(" not in sg.show(f, args=(x,))
    _same(sg.grad(f)(x), sg.grad(f, optimize=False)(x))
    np.testing.assert_allclose(sg.grad(f)(x), numerical_grad(f, (x,), 0), rtol=1e-6)


def test_the_adjoint_of_a_full_sum_is_never_an_array_of_ones(rng):
    def f(x, a):
        return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))

    x = rng.standard_normal(7)
    shown = sg.show(f, args=(x, 1.5))
    assert "unreduce" not in shown
    np.testing.assert_allclose(sg.grad(f)(x, 1.5), numerical_grad(f, (x, 1.5), 0), rtol=1e-6)


# ----------------------------------------------------------------- shape specialisation
def biased(x, b, W):
    h = np.tanh(x @ W + b)
    return np.sum(h * h) + np.sum(np.exp(np.max(h, axis=1, keepdims=True) - h))


def test_running_code_is_specialised_to_shapes_after_a_repeat(rng):
    x, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    df = sg.grad(biased, (1, 2))
    for b in (rng.standard_normal(4), rng.standard_normal(4)):
        got = df(x, b, W)
        for i, g in zip((1, 2), got):
            want = numerical_grad(biased, (x, b, W), i)
            np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    running = df._entry((x, b, W)).pretty(optimized=True)
    assert "sum_to(" not in running and "unreduce(" not in running
    assert "sum_leading(" in running  # the bias gradient: a sum over the batch
    assert "sum_to(" in df._ranked[next(iter(df._ranked))].pretty(optimized=True)


@pytest.mark.parametrize("b_shape", [(4,), (1,), (1, 4), (5, 1), (5, 4), ()])
def test_specialised_code_reduces_each_broadcast(b_shape, rng):
    x, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    b = rng.standard_normal(b_shape) if b_shape else 0.3
    df = sg.grad(biased, 1)
    first = df(x, b, W)
    again = df(x, b, W)  # specialised to these shapes now
    assert np.shape(again) == np.shape(b)
    np.testing.assert_allclose(again, first, rtol=1e-12)
    np.testing.assert_allclose(again, numerical_grad(biased, (x, b, W), 1), rtol=1e-6, atol=1e-8)


def test_shapes_changing_between_calls_each_get_their_gradient(rng):
    df = sg.grad(biased, 1)
    W = rng.standard_normal((3, 4))
    for n in (5, 2, 5, 1, 2, 5, 1, 7):
        x, b = rng.standard_normal((n, 3)), rng.standard_normal(4)
        np.testing.assert_allclose(
            df(x, b, W), numerical_grad(biased, (x, b, W), 1), rtol=1e-6, atol=1e-8
        )


def test_at_most_max_specialised_shape_signatures(rng, monkeypatch):
    from sourcegrad import derivative

    monkeypatch.setattr(derivative, "MAX_SPECIALISED", 2)
    df = sg.grad(biased, 1)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    for n in (1, 1, 2, 2, 3, 3, 4, 4):
        df(rng.standard_normal((n, 3)), b, W)
    assert df._specialised == 2
    assert len({id(e) for e in df._cache.values()}) == 3  # two specialised, one by rank
    (ranked,) = df._ranked.values()
    assert not ranked.provisional  # final for the shapes not specialised to: optimized


@DEFAULT_TIERS
def test_the_first_call_runs_the_pure_build_until_a_second_signature(rng):
    # the build for the first call's ranks is replaced by the one for its shapes on the
    # second call: it runs pure (no optimize pass for one call) unless another shape
    # signature of the same ranks needs it again
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    df = sg.grad(biased, 1)
    x5 = rng.standard_normal((5, 3))
    first = df(x5, b, W)
    (ranked,) = df._ranked.values()
    assert ranked.provisional and ranked.pure is None
    assert ranked.pretty(optimized=True) == sg.source(df, x5, b, W)
    again = df(x5, b, W)
    np.testing.assert_allclose(again, first, rtol=1e-12)
    assert df._ranked[next(iter(df._ranked))] is ranked  # only one signature: never optimized
    x2 = rng.standard_normal((2, 3))
    got = df(x2, b, W)
    (optimized,) = df._ranked.values()
    assert not optimized.provisional and optimized.pure is ranked
    np.testing.assert_allclose(got, numerical_grad(biased, (x2, b, W), 1), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------- the signature guard
def _variants(rng):
    base = {"W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "s": 0.5, "n": 3}
    yield base
    yield {"W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "s": 1.5, "n": 4}  # same
    yield {"W": [rng.standard_normal((3, 3)), rng.standard_normal(3)], "s": 0.5, "n": 3}
    yield {"W": [rng.standard_normal((2, 3)).astype(np.float32), np.ones(3)], "s": 0.5, "n": 3}
    yield {"W": (rng.standard_normal((2, 3)), rng.standard_normal(3)), "s": 0.5, "n": 3}
    yield {"W": [rng.standard_normal((2, 3))], "s": 0.5, "n": 3}
    yield {"s": 0.5, "W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "n": 3}
    yield {"W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "s": 1, "n": 3}
    yield {"W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "s": 0.5, "n": 3.0}
    yield {"W": [rng.standard_normal((2, 3)), np.float64(2.0)], "s": 0.5, "n": 3}
    yield {"W": [rng.standard_normal((2, 3)), rng.standard_normal(3)], "s": 0.5, "n": True}


def test_signature_guard_is_true_exactly_for_the_same_signature(rng):
    from .internals import call_signature, signature_guard

    variants = list(_variants(rng))
    for a in variants:
        same = signature_guard((a, a["W"][0]))
        for b in variants:
            want = call_signature((b, b["W"][0])) == call_signature((a, a["W"][0]))
            assert same((b, b["W"][0])) == want
        assert not same((a,)) and not same((a, a["W"][0], 1.0))


def test_a_guarded_call_with_new_shapes_is_not_given_the_old_derivative(rng):
    def f(x, b):
        return np.sum(np.tanh(x + b))

    df = sg.grad(f, 1)
    x = rng.standard_normal((4, 3))
    for b in (rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal((1, 3)), 0.7):
        g = df(x, b)
        assert np.shape(g) == np.shape(b)
        np.testing.assert_allclose(g, numerical_grad(f, (x, b), 1), rtol=1e-6, atol=1e-8)


def scaled_tanh(x, b, s):
    return np.sum(np.tanh(x * s + b))


@DEFAULT_TIERS
def test_each_remembered_signature_gets_a_direct_call_built_once(rng):
    # a plain gradient's repeated signature is checked inline by a __call__ of its own
    df = sg.value_and_grad(scaled_tanh, (1, 2))
    other = sg.grad(scaled_tanh, 1)
    x, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x5 = rng.standard_normal((5, 3))
    calls = set()
    for args in [(x, b, 0.5), (x, b, 1.5), (x5, b, 0.5), (x, b, 2.0), (x5, b, 1.0)] * 2:
        value, (gb, gs) = df(*args)
        assert value == pytest.approx(scaled_tanh(*args), rel=1e-12)
        np.testing.assert_allclose(gb, numerical_grad(scaled_tanh, args, 1), rtol=1e-6)
        assert type(gs) is float and gs == pytest.approx(numerical_grad(scaled_tanh, args, 2))
        calls.add(type(df).__call__)
    assert isinstance(df, sg.api.Transformed) and type(df) is not sg.api.Transformed
    # one direct call per signature (specialised from the second call of a signature on)
    assert len(df._remembered) == 2 and len(calls) <= 4
    assert type(other) is sg.api.Transformed  # nothing shared with another derivative
    with pytest.raises(TypeError):
        df(x, b)  # a wrong number of arguments still goes the general way and fails there


def raises_inside(x, k):
    return np.sum(np.log(x)) + [1.0, 2.0][k]


def test_an_error_in_the_direct_call_names_the_users_line(rng):
    df = sg.grad(raises_inside)
    x = rng.random(3) + 0.5
    for _ in range(3):
        df(x, 1)  # the direct call for this signature is installed
    assert type(df).__call__ is not sg.api.Transformed.__call__
    with pytest.raises(IndexError) as info:
        df(x, 5)
    (note,) = info.value.__notes__
    line = raises_inside.__code__.co_firstlineno + 1
    assert f"test_optimize.py:{line}: return np.sum(np.log(x)) + [1.0, 2.0][k]" in note


# ----------------------------------------------------------------- buffers reused in place
def seed_net(params, x, y):
    h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    y_hat = h2 - np.log(np.sum(np.exp(h2)))
    return -np.sum(y_hat * y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dead_operands_are_reused_as_output_buffers(dtype, rng):
    params = {
        "W": [rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)],
        "b": [rng.standard_normal(5).astype(dtype), rng.standard_normal(3).astype(dtype)],
    }
    x = rng.standard_normal((4, 6)).astype(dtype)
    y = np.eye(3, dtype=dtype)[[0, 2, 1, 0]]
    before = [a.copy() for a in (*params["W"], *params["b"], x, y)]
    running = _running(seed_net, params, x, y)
    assert "np.tanh(np.add(h1_1, b0, out=h1_1), out=h1_1)" in running
    assert "out=" not in sg.show(seed_net, args=(params, x, y))
    df = sg.grad(seed_net)
    df._entry((params, x, y), True)
    got = df(params, x, y)
    want = sg.grad(seed_net, optimize=False)(params, x, y)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    _same(got, want, rtol=rtol)
    assert all(g.dtype == dtype for g in got["W"] + got["b"])
    for a, b in zip((*params["W"], *params["b"], x, y), before):
        np.testing.assert_array_equal(a, b)  # no argument written


def mixed(x, w, k):
    return np.sum(np.tanh(x * w + k) * (x + 0.5))


def test_no_buffer_of_another_dtype_is_reused(rng):
    x = rng.standard_normal(5).astype(np.float32)
    w = rng.standard_normal(5)  # float64: the products are float64
    k = np.arange(5)  # integers
    df = sg.grad(mixed, 1)
    df._entry((x, w, k), True)
    running = df._entry((x, w, k)).pretty(optimized=True)
    got = df(x, w, k)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, sg.grad(mixed, 1, optimize=False)(x, w, k), rtol=1e-12)
    np.testing.assert_allclose(
        got, numerical_grad(mixed, (x.astype(np.float64), w, k), 1), rtol=1e-6, atol=1e-8
    )
    assert "out=x" not in running and "out=k" not in running


# ----------------------------------------------------------------- found by review
def int_decides_shape(x, k):
    c = np.zeros((k, 1))
    m = np.sum(x + c, axis=0, keepdims=True)
    return np.sum(m * m)


def tuple_decides_shape(x, shp):
    h = x * np.ones(shp)
    return np.sum(h * h)


def test_integer_and_tuple_arguments_do_not_fix_shapes(rng):
    """Their values are not in the signature, so shapes made from them are not assumed (the
    code specialised for k=1 was reused for k=4 and failed)."""
    x = rng.standard_normal((1, 3))
    df = sg.grad(int_decides_shape)
    for k in (1, 1, 4, 4, 1):
        want = numerical_grad(int_decides_shape, (x, k), 0)
        np.testing.assert_allclose(df(x, k), want, rtol=1e-6, atol=1e-8)
    df = sg.grad(tuple_decides_shape)
    for shp in ((1, 3), (1, 3), (4, 3), (4, 3), (1, 3)):
        want = numerical_grad(tuple_decides_shape, (x, shp), 0)
        np.testing.assert_allclose(df(x, shp), want, rtol=1e-6, atol=1e-8)


def product(x, y):
    return np.sum(x * y)


def identity(x):
    return x


def test_a_gradient_is_never_the_callers_array(rng):
    """The gradient of sum(x * y) w.r.t. x is y's values, in a new array: folding the seed away
    in the specialised code returned y itself."""
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    keep = y.copy()
    df = sg.grad(product)
    for _ in range(3):
        g = df(x, y)
        assert g is not y and not np.shares_memory(g, y)
        g *= 0.0
        np.testing.assert_array_equal(y, keep)
    g_out = rng.standard_normal((3, 2))
    vf = sg.vjp(identity)
    for _ in range(3):
        got = vf(x, g_out)
        assert got is not g_out and not np.shares_memory(got, g_out)
        np.testing.assert_array_equal(got, g_out)


# ----------------------------------------------------------------- masks and in-place ReLU
def relu_net(W0, b0, W1, x):
    h = np.maximum(x @ W0 + b0, 0.0)
    return np.sum(np.tanh(h @ W1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_relu_keeps_its_mask_and_runs_in_place(dtype, rng):
    W0 = rng.standard_normal((4, 6)).astype(dtype)
    b0 = np.zeros(6, dtype)
    W1 = rng.standard_normal((6, 3)).astype(dtype)
    x = rng.standard_normal((5, 4)).astype(dtype)
    x[0] = 0.0  # a row of exact zeros before the ReLU: the tie gives the input half
    df = sg.grad(relu_net, (0, 1, 2))
    df._entry((W0, b0, W1, x), True)
    running = df._entry((W0, b0, W1, x)).pretty(optimized=True)
    assert "h_2_mask = h_2 > 0.0" in running and "h_2_mask_1 = h_2 == 0.0" in running
    assert "np.maximum(h_2, 0.0, out=h_2)" in running
    got = df(W0, b0, W1, x)
    want = sg.grad(relu_net, (0, 1, 2), optimize=False)(W0, b0, W1, x)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert np.all(got[1] != 0.0)  # the zero row's pre-activations pass their gradient


def gated(Wx, Wh, xs):
    H = Wh.shape[0]
    h = np.zeros((xs.shape[1], H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        z = xs[t] @ Wx + h @ Wh
        h = np.tanh(z[:, :H]) * (1.0 / (1.0 + np.exp(-z[:, H:])))
    return np.sum(h**2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_slices_read_back_only_for_their_adjoints_shape_are_not_kept(dtype, rng):
    Wx = (rng.standard_normal((2, 6)) * 0.5).astype(dtype)
    Wh = (rng.standard_normal((3, 6)) * 0.5).astype(dtype)
    xs = rng.standard_normal((4, 2, 2)).astype(dtype)
    df = sg.grad(gated, (0, 1))
    df._entry((Wx, Wh, xs), True)
    running = df._entry((Wx, Wh, xs)).pretty(optimized=True)
    # z's adjoint is made from z's shape alone (unindex_shaped, or the stack row it fills)
    assert "unindex(" not in running and "tape.append(z)" not in running
    got = df(Wx, Wh, xs)
    want = sg.grad(gated, (0, 1), optimize=False)(Wx, Wh, xs)
    for g, w in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-12)
    args64 = [a.astype(np.float64) for a in (Wx, Wh, xs)]
    for i, g in enumerate(sg.grad(gated, (0, 1))(*args64)):
        np.testing.assert_allclose(g, numerical_grad(gated, args64, i), rtol=1e-6, atol=1e-8)


def unary_chain(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x))


@pytest.mark.parametrize("n", [50, 1 << 15])
def test_a_function_of_a_large_product_runs_in_its_buffer(n, rng):
    x = rng.standard_normal(n)
    df = sg.grad(unary_chain)
    df._entry((x, 0.7), True)
    running = df._entry((x, 0.7)).pretty(optimized=True)
    split = "out_2 = np.tanh(out_2, out=out_2)" in running
    assert split == (n >= 1 << 14)  # small arrays: one statement, no split
    np.testing.assert_allclose(
        df(x, 0.7), sg.grad(unary_chain, optimize=False)(x, 0.7), rtol=1e-12, atol=1e-15
    )
    small = x[:20]
    np.testing.assert_allclose(
        sg.grad(unary_chain)(small, 0.7), numerical_grad(unary_chain, (small, 0.7), 0), rtol=1e-6
    )


def elementwise_chain(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


def test_a_chain_runs_with_no_temporary_it_can_do_without(rng):
    x = rng.standard_normal(1 << 15)
    df = sg.value_and_grad(elementwise_chain)
    df._entry((x, 1.5), True)
    running = df._entry((x, 1.5)).pretty(optimized=True)
    lines = [line.strip() for line in running.splitlines()]
    # x * x computed once, before the exponential that negates it
    square = lines.index("out_7 = x * x")
    assert lines[square + 1] in ("out_5 = -out_7", "out_5 = np.negative(out_7, buffers[1])")
    # the square of tanh named, so that 1.0 - t * t runs in its buffer
    assert "np.subtract(1.0, dx_t, out=dx_t)" in running
    # the common factor exp(-x * x) taken out of the two terms that have it
    assert lines.count("out_5,") == 1 and "dx += np.multiply(" in running
    value, got = df(x, 1.5)
    want_value, want = sg.value_and_grad(elementwise_chain, optimize=False)(x, 1.5)
    assert value == want_value  # the shared square is exactly the one computed twice
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    small = x[:20]
    np.testing.assert_allclose(
        sg.grad(elementwise_chain)(small, 1.5),
        numerical_grad(elementwise_chain, (small, 1.5), 0),
        rtol=1e-6,
    )


def negated_integer_product(x, k, y):
    s = np.sum(-k * y)  # -k wraps for k = -128 (int8): (-k) * y is not -(k * y)
    t = k * y
    return np.sum(x * t) + s


def test_a_negated_integer_is_not_read_as_a_negated_product(rng):
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    k = np.array([-128, 3, -2, 5, 1, -128], dtype=np.int8)
    df = sg.value_and_grad(negated_integer_product)
    want_value, want = sg.value_and_grad(negated_integer_product, optimize=False)(x, k, y)
    for _ in range(3):  # the first call, then the code specialised to the signature
        value, got = df(x, k, y)
        assert value == want_value
        np.testing.assert_allclose(got, want, rtol=1e-12)


def einsum_then_relu(x, K, c):
    h = np.einsum("ij,jk->ik", x, K)  # a new array, handed on to h by a plain copy
    h = np.maximum(h + c, 0.0)
    return np.sum(h * h)


def reshaped_product(x, W):
    h = np.maximum(x, 0.0)
    z = h.reshape(x.shape[0], -1) @ W  # its adjoint: np.reshape of a new product
    return np.sum(z * z)


@pytest.mark.parametrize(
    "f,shapes,expected",
    [
        (einsum_then_relu, [(4, 3), (3, 5), (5,)], "h_1 = np.add(h, c, out=h)"),
        (reshaped_product, [(4, 3, 2), (6, 5)], "np.multiply(0.5, dh, out=dh)"),
    ],
    ids=["einsum", "reshape"],
)
def test_new_arrays_handed_on_are_reused(f, shapes, expected, rng):
    args = tuple(rng.standard_normal(s) for s in shapes)
    assert expected in _running(f, *args)
    got = sg.grad(f, (0, 1))(*args)
    want = sg.grad(f, (0, 1), optimize=False)(*args)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12)
        np.testing.assert_allclose(g, numerical_grad(f, args, i), rtol=1e-6, atol=1e-8)


def bias_and_weight(W, b):
    return np.sum(np.tanh(W + b) * 3.0)  # db is a reshape of the buffer dW is


def tanh_layers(params, x):
    h = np.tanh(x @ params["W"][0] + params["b"][0])  # batch 1: db0 = dh.reshape((n,))
    return np.sum(np.tanh(h @ params["W"][1] + params["b"][1]))


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


@pytest.mark.parametrize("case", ["bias_and_weight", "tanh_layers"])
def test_gradients_handed_out_as_they_are_share_no_memory(case, rng):
    if case == "bias_and_weight":
        f, wrt = bias_and_weight, (0, 1)
        args = (rng.standard_normal((1, 5)), rng.standard_normal(5))
    else:
        f, wrt = tanh_layers, 0
        params = {
            "W": [rng.standard_normal((4, 6)), rng.standard_normal((6, 3))],
            "b": [rng.standard_normal(6), rng.standard_normal(3)],
        }
        args = (params, rng.standard_normal((1, 4)))
    df = sg.grad(f, wrt)
    first = df(*args)
    kept = [leaf.copy() for leaf in _leaves(first)]
    for _ in range(3):  # the code specialised to the signature from the second call on
        again = df(*args)
    leaves = _leaves(first) + _leaves(again) + _leaves(args)
    for i, a in enumerate(leaves):
        for b in leaves[i + 1 :]:
            assert not np.shares_memory(a, b)
    for leaf, copy in zip(_leaves(first), kept):
        np.testing.assert_array_equal(leaf, copy)  # not overwritten by later calls
    want = sg.grad(f, wrt, optimize=False)(*args)
    for got, w in zip(_leaves(again), _leaves(want)):
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_the_specialised_code_of_a_function_with_a_lambda(rng):
    from .api_cases import with_nested  # a nested def and a lambda among its statements

    x, w = rng.standard_normal(3) * 0.5, rng.standard_normal(3)
    df = sg.grad(with_nested)
    want = numerical_grad(with_nested, (x, w), 0)
    for _ in range(3):  # the first call, then the code specialised to the signature
        np.testing.assert_allclose(df(x, w), want, rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------------- releasing dead arrays
def two_layer(W, V, x, flag):
    h = np.tanh(x @ W)
    p = np.exp(h) / np.sum(np.exp(h))  # p and the exponentials are dead before the next layer
    q = p @ V
    if flag:
        r = np.sin(q)
    else:
        r = q * 2.0
    return np.sum(r * r) + np.sum(h)


def test_dead_arrays_are_released_before_later_allocations(rng):
    W, V = rng.standard_normal((30, 40)), rng.standard_normal((40, 30))
    x = rng.standard_normal((64, 30))
    df = sg.grad(two_layer, pool_buffers=False)  # (pooled buffers are held, not released)
    df(W, V, x, True)
    running = df._entry((W, V, x, True), True).pretty(optimized=True)
    lines = [ln.strip() for ln in running.splitlines() if not ln.strip().startswith("#")]
    dels = [ln for ln in lines if ln.startswith("del ")]
    assert dels  # at least the forward temporaries of the softmax
    released = {n.strip() for ln in dels for n in ln[4:].split(",")}
    assert "r" not in released  # assigned in a branch only: may be unbound, never deleted
    assert not {"W", "V", "x", "flag"} & released  # the caller's arguments stay bound
    for name in released:  # each deletion follows the last line that mentions the name
        at = lines.index(next(ln for ln in dels if name in ln[4:].split(", ")))
        later = " ".join(lines[at + 1 :])
        assert not re.search(rf"\b{name}\b", later), name
    df = sg.grad(two_layer, (0, 1))
    for flag in (True, False, True):
        got = df(W, V, x, flag)
        for i, g in zip((0, 1), got):
            want = numerical_grad(two_layer, (W, V, x, flag), i)
            np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_released_arrays_lower_the_peak(rng, monkeypatch):
    from .internals import pool

    W, V = rng.standard_normal((30, 400)), rng.standard_normal((400, 30))
    x = rng.standard_normal((256, 30))
    peaks = []
    for released in (False, True):
        if not released:
            monkeypatch.setattr(pool, "RELEASED_BYTES", float("inf"))
        else:
            monkeypatch.undo()
        df = sg.grad(two_layer, (0, 1), pool_buffers=False)
        df(W, V, x, True)
        df(W, V, x, True)
        assert ("del " in df._entry((W, V, x, True)).pretty(optimized=True)) is released
        tracemalloc.start()
        df(W, V, x, True)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # without the deletions, the forward arrays live until the function returns (as a
    # hand-written gradient's locals do); with them, each is freed after its last use
    assert peaks[1] < 0.9 * peaks[0], peaks


def softmax_twice_written(h, x):
    e = np.exp(h * x)
    y = x * 2.0
    x = y + 1.0  # the second np.exp(h * x) reads a new x: not the same value
    return np.sum(np.exp(h) / np.sum(np.exp(h))) + np.sum(e * np.exp(h * x))


def test_a_value_computed_twice_is_computed_once(rng):
    h, x = rng.standard_normal((8, 5)) * 0.5, rng.standard_normal((8, 5)) * 0.5
    running = _running(softmax_twice_written, h, x)
    forward = running.split("\n\n")[0]
    assert len(re.findall(r"np\.exp\(h[,)]", forward)) == 1  # np.exp(h) / np.sum(np.exp(h))
    assert forward.count("np.exp(") == 3  # but h * x before and after x changes: twice
    for i in (0, 1):
        df = sg.grad(softmax_twice_written, i)
        for _ in range(2):
            want = numerical_grad(softmax_twice_written, (h, x), i)
            np.testing.assert_allclose(df(h, x), want, rtol=1e-6, atol=1e-8)
