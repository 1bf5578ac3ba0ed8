"""Public API behaviour: containers, dtypes, aliasing, closures, aux, custom rules."""

import linecache
import threading

import numpy as np
import pytest

import sourcegrad as sg

from . import api_cases as c
from .fd import numerical_grad
from .ported.harness import Case, check


class Tagged(np.ndarray):
    """An ndarray subclass: gradients of such inputs must come back as Tagged."""


def test_two_argument_gradient_matches_fd(rng):
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    gx, gy = sg.grad(c.quadratic, (0, 1))(x, y)
    np.testing.assert_allclose(gx, y + 2 * x)
    np.testing.assert_allclose(gy, x)


def test_globals_are_read_when_the_derivative_runs(rng):
    x = rng.standard_normal(3)
    df = sg.grad(c.uses_global)
    np.testing.assert_allclose(df(x), 4.0 * x)
    c.SCALE = 3.0
    try:
        np.testing.assert_allclose(df(x), 6.0 * x)
    finally:
        c.SCALE = 2.0


def test_closure_cells_are_shared(rng):
    x = rng.standard_normal(3)
    f = c.make_closure(2.0)
    np.testing.assert_allclose(sg.grad(f)(x), 2.0 * np.cos(2.0 * x))


def test_non_differentiable_calls_are_constants(rng, capsys):
    x = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 1])
    g = sg.grad(c.constants_inside)(x, labels)
    expected = (x > 0).astype(float)
    expected[np.arange(4), labels] += 1.0
    np.testing.assert_allclose(g, expected)
    assert "batch 4 4" in capsys.readouterr().out


def test_has_aux_returns_aux_unchanged(rng):
    x = rng.standard_normal(4)
    g, aux = sg.grad(c.with_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    assert aux["n"] == 4 and np.isclose(aux["norm"], np.linalg.norm(x))
    (loss, aux2), g2 = sg.value_and_grad(c.with_aux, has_aux=True)(x)
    assert np.isclose(loss, np.sum(x**2)) and aux2["n"] == 4
    np.testing.assert_allclose(g2, g)


def test_namedtuple_gradient_keeps_its_type(rng):
    p = c.Pair(rng.standard_normal((3, 2)), rng.standard_normal(2))
    x = rng.standard_normal((4, 3))
    g = sg.grad(c.tree_loss)(p, x)
    assert type(g) is c.Pair
    assert sg.gradcheck(c.tree_loss, p, x)


def test_float_leaf_gets_float_and_unused_leaf_gets_zeros(rng):
    params = {"a": 1.5, "b": -0.5, "unused": np.ones((2, 2))}
    x = rng.standard_normal(3)
    g = sg.grad(c.float_param)(params, x)
    assert type(g["a"]) is float and type(g["b"]) is float
    assert np.isclose(g["a"], np.sum(x)) and np.isclose(g["b"], -1.0)
    assert g["unused"].shape == (2, 2) and not g["unused"].any()
    g2 = sg.grad(c.only_a)({"a": np.zeros(2), "b": [np.ones(3), 2.0]})
    assert g2["b"][1] == 0.0 and type(g2["b"][1]) is float
    np.testing.assert_array_equal(g2["b"][0], np.zeros(3))


def test_gradients_are_fresh_arrays_that_never_alias(rng):
    x, y = rng.standard_normal(()), rng.standard_normal(())
    x_arr, y_arr = np.array(x), np.array(y)
    gx, gy = sg.grad(c.identity_like, (0, 1))(x_arr, y_arr)
    assert not np.shares_memory(gx, y_arr) and not np.shares_memory(gy, x_arr)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = sg.grad(c.add_both, (0, 1))(a, b)
    assert not np.shares_memory(ga, gb)
    np.testing.assert_allclose(ga, gb)
    df = sg.grad(c.quadratic)
    first = df(a, b)
    keep = first.copy()
    df(b, a)
    np.testing.assert_array_equal(first, keep)


def test_inputs_are_never_modified(rng):
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x0, w0 = x.copy(), w.copy()
    sg.grad(c.dtype_chain, (0, 1))(x, w)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    value, (gx, gw) = sg.value_and_grad(c.dtype_chain, (0, 1))(x, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    assert np.asarray(value).dtype == np.float32


def test_ndarray_subclass_gradients_keep_the_subclass(rng):
    x = rng.standard_normal((3, 4)).view(Tagged)
    w = rng.standard_normal((4, 2)).view(Tagged)
    gx, gw = sg.grad(c.dtype_chain, (0, 1))(x, w)
    assert type(gx) is Tagged and type(gw) is Tagged
    np.testing.assert_allclose(
        np.asarray(gx),
        numerical_grad(c.dtype_chain, (x.view(np.ndarray), w.view(np.ndarray)), 0),
        rtol=1e-5,
        atol=1e-7,
    )


def test_custom_rule_with_defvjp(rng):
    def softplus_rule(z, x):
        d[x] += d[z] / (1.0 + np.exp(-x))  # noqa: F821 - template syntax

    sg.defvjp(c.softplus, softplus_rule)
    x = rng.standard_normal(4)
    df = sg.grad(c.uses_softplus)
    np.testing.assert_allclose(df(x), 1.0 / (1.0 + np.exp(-x)))
    assert "np.exp(-x)" in sg.source(df, x)


def test_changing_shapes_between_calls(rng):
    df = sg.grad(c.dtype_chain, (0, 1))
    for shape in [(3, 4), (5, 4), (1, 4)]:
        x, w = rng.standard_normal(shape), rng.standard_normal((4, 2))
        gx, gw = df(x, w)
        np.testing.assert_allclose(
            gx, numerical_grad(c.dtype_chain, (x, w), 0), rtol=1e-5, atol=1e-7
        )
        np.testing.assert_allclose(
            gw, numerical_grad(c.dtype_chain, (x, w), 1), rtol=1e-5, atol=1e-7
        )
    # rank changes too: a 1-D input takes another specialisation
    x = rng.standard_normal(4)
    w = rng.standard_normal((4, 2))
    gx, _ = df(x, w)
    np.testing.assert_allclose(gx, numerical_grad(c.dtype_chain, (x, w), 0), rtol=1e-5, atol=1e-7)


def test_generated_source_is_registered_with_linecache(rng):
    df = sg.grad(c.dtype_chain)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    df(x, w)
    entry = df._entry((x, w))
    lines = linecache.getlines(entry.filename)
    assert any("def d_dtype_chain(x, w):" in line for line in lines)
    code = entry.fn.__code__
    assert code.co_filename == entry.filename


def test_one_derivative_from_many_threads_matches_serial(rng):
    df = sg.grad(c.dtype_chain, (0, 1))
    inputs = [(rng.standard_normal((3, 4)), rng.standard_normal((4, 2))) for _ in range(8)]
    serial = [df(*a) for a in inputs]
    results = [None] * 8

    def work(i):
        for _ in range(20):
            results[i] = df(*inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_vjp_of_an_array_valued_function(rng):
    x = rng.standard_normal(4)
    g_out = rng.standard_normal(4)
    g = sg.vjp(c.array_valued)(x, g_out)
    np.testing.assert_allclose(g, g_out * 2.0 * (1.0 - np.tanh(x) ** 2))


@pytest.mark.parametrize("g_shape", [(), (4,), (1, 4), (3, 4), (2, 3, 4)])
def test_vjp_output_gradient_broadcasts_against_the_output(g_shape, rng):
    """``vjp(f)(x, y, g)`` is the gradient of ``sum(f(x, y) * g)``, also where ``g`` only
    broadcasts against the output (it was silently wrong: the seed was taken as it came)."""
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    g_out = rng.standard_normal(g_shape) if g_shape else 0.7
    vf = sg.vjp(c.broadcast_sum, 1)
    for _ in range(2):  # the rank build, then the build specialised to shapes
        got = vf(x, y, g_out)
        want = numerical_grad(lambda v: np.sum(c.broadcast_sum(x, v) * g_out), (y,), 0)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_vjp_output_gradient_of_a_shape_that_does_not_broadcast_is_refused(rng):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    with pytest.raises(sg.SourcegradError, match="does not broadcast"):
        sg.vjp(c.broadcast_sum, 1)(x, y, np.ones(5))


def test_calls_to_the_users_functions_are_differentiated(rng):
    params = {"w1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    assert sg.gradcheck(c.calls_helpers, params, x)
    assert "vjp_helper_tanh_layer(" in sg.source(sg.grad(c.calls_helpers), params, x)
    assert sg.gradcheck(c.uses_recursion, rng.standard_normal(3))


def test_methods_of_objects_and_bound_methods(rng):
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))
    assert sg.gradcheck(c.uses_global_object, w, x)
    model = c.Model()
    assert sg.gradcheck(c.uses_object_argument, model, w, x, wrt=1)
    assert sg.gradcheck(model.loss, w, x)
    np.testing.assert_allclose(
        sg.grad(model.loss)(w, x), sg.grad(c.uses_object_argument, 1)(model, w, x)
    )


def test_nested_functions_and_local_lambdas(rng):
    x, w = rng.standard_normal(3) * 0.5, rng.standard_normal(3)
    assert sg.gradcheck(c.with_nested, x, w)
    assert sg.gradcheck(c.with_nested, x, w, wrt=1)
    # the nested function reads the enclosing function's values, differentiated ones too
    np.testing.assert_allclose(
        sg.grad(c.nested_captures_differentiated)(x, w), w * (1 - np.tanh(x * w) ** 2)
    )
    np.testing.assert_allclose(
        sg.grad(c.nested_captures_differentiated, 1)(x, w), x * (1 - np.tanh(x * w) ** 2)
    )
    assert sg.gradcheck(c.nested_captures_differentiated, x, w, wrt=1, order=2)


def test_assignment_through_repeated_indices_keeps_the_last_write(rng):
    x, v = rng.standard_normal(4), rng.standard_normal(3)
    idx = np.array([0, 2, 0])
    assert sg.gradcheck(c.assign_repeated, x, v, idx, wrt=1)
    assert sg.gradcheck(c.assign_repeated, x, v, idx, wrt=0)


def test_random_draws_are_the_functions_own(rng):
    x = rng.standard_normal(5)
    value, g = sg.value_and_grad(c.random_inside)(x, 7)
    assert value == c.random_inside(x, 7)
    noise = np.random.default_rng(7).standard_normal(5)
    np.testing.assert_allclose(g, 2 * (x + 0.1 * noise))


def test_writes_into_an_array_whose_row_is_still_held_are_followed(rng):
    """``a = y[0]`` is a number for a vector and a view of y's first row for a matrix; the
    write ``y[1] = 0.0`` after it is followed (``a`` read again), not refused: Python's value,
    the gradient against differences and the hvp, on three calls."""
    for x in (rng.standard_normal(3), rng.standard_normal((3, 2))):
        check(Case(f"row_then_write_{x.ndim}d", c.row_then_write, (x,), order=2))


def test_logging_and_asserts_are_kept_as_side_effects(rng, caplog):
    x = rng.standard_normal(3)
    with caplog.at_level("INFO", logger="sourcegrad.tests"):
        g = sg.grad(c.with_logging_and_assert)(x)
    np.testing.assert_allclose(g, 2 * np.sin(x) * np.cos(x))
    assert "x is" in caplog.text
    with pytest.raises(AssertionError, match="bad shape"):
        sg.grad(c.with_logging_and_assert)(np.ones(4))


def test_reshape_into_matrices_gives_matrix_ranks(rng):
    """Regression: np.reshape(w[:15], (5, 3)) was taken for a vector, so the rank-specialised
    matmul rules produced a wrong-shaped (and, with broadcasting, possibly wrong) gradient."""
    w, x, y = rng.standard_normal(21), rng.standard_normal((4, 5)), rng.standard_normal((4, 2))
    g = sg.grad(c.flat_weights_mlp)(w, x, y)
    expected = numerical_grad(c.flat_weights_mlp, (w, x, y), 0)
    np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8)
