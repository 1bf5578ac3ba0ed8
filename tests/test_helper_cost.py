"""A helper's adjoint computes in its output gradient's memory where the caller gives that
gradient away (``given_forward_kept``, ``given_seed``): the caller reads it no more and
nothing else of the caller's reaches it. These programs pass the same gradient to two calls,
return it as well, keep it in a list, or hand in the user's own array: if a helper ever
wrote into an array the caller still needs, the gradient would not be central differences'
(first and later calls: the running code from the second on)."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.helpers import given_seed

from .fd import check_running_code, numerical_grad


def soft(x):
    """An elementwise helper: its adjoint can be computed in its seed's memory."""
    return np.tanh(x) * x


def scaled(x):
    return 3.0 * x


def dense(x, W):
    return x @ W


def chain(x, W):
    """Each helper's seed is the gradient of the one after it: every seed is given."""
    return np.sum(soft(dense(soft(x * 2.0), W)) ** 2)


def same_seed(x, W):
    """The gradient of ``s + t`` is the seed of both calls: neither may overwrite it."""
    h = dense(x, W)
    return np.sum((soft(h) + scaled(h)) * h)


def same_seed_twice(x, W):
    """One helper called twice on one value, its two seeds the same array."""
    h = x * 1.5
    return np.sum((soft(h) + soft(h)) * dense(h, W)[:, :1])


def seed_also_returned(x, W):
    """``t``'s gradient is the seed of ``soft`` and, through ``x + ...``, the gradient of x."""
    t = x + soft(x)
    return np.sum(dense(t, W) ** 2)


def seed_in_list(x, W):
    """The gradient of ``h`` reaches a list's adjoint as well as the helper."""
    h = soft(x * 0.5)
    hs = [h, soft(h)]
    return np.sum(hs[0] * hs[1]) + np.sum(dense(hs[1], W))


def seed_in_a_loop(x, W):
    """A helper called in a loop: its seeds are not given (kept per iteration)."""
    for _ in range(3):
        x = soft(dense(x, W))
    return np.sum(x * x)


PROGRAMS = [chain, same_seed, same_seed_twice, seed_also_returned, seed_in_list, seed_in_a_loop]


def _args(seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 5)) * 0.7, rng.standard_normal((5, 5)) * 0.5


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("wrt", [0, 1])
def test_values_and_gradients_with_given_seeds(f, wrt):
    x, W = _args()
    before = (x.copy(), W.copy())
    check_running_code(f, x, W, wrt=wrt, calls=4)
    np.testing.assert_array_equal(x, before[0])  # the caller's arrays are never written
    np.testing.assert_array_equal(W, before[1])


def test_a_chain_of_helpers_gives_its_seeds_away():
    """The test above would not see a helper reusing its seed unless one did: the chain's
    running code gives every seed away, and a vjp made for a given seed computes in it."""
    x, W = _args()
    main = sg.show(chain, args=(x, W), optimized=True).split("\n\n\n", 1)[0]
    assert main.count("given_forward_kept(") == main.count("forward_kept(") == 3, main
    given = sg.vjp(soft, given_seed=True)  # (what a kept call runs: made for generated code)
    for _ in range(3):
        given(x, g_out=np.ones_like(x))
    text = given.emitted((x,)).text
    assert "given_seed(" in text and "out=dout" in text, text


def test_a_seed_read_twice_is_not_given():
    text = sg.show(same_seed, args=_args(), optimized=True).split("\n\n\n", 1)[0]
    assert text.count("given_forward_kept(") < text.count("forward_kept("), text


def test_the_users_output_gradient_is_not_written():
    """A vjp's own seed is the user's array: the helper it calls gets a copy or none."""
    x, W = _args()
    g = np.random.default_rng(1).standard_normal((4, 5))
    kept = g.copy()
    vjp = sg.vjp(lambda_free_outer)
    want = numerical_grad(lambda x, w: np.sum(lambda_free_outer(x, W) * g) * w, (x, 1.0), 0)
    for _ in range(4):
        got = vjp(x, W, g)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(g, kept)


def lambda_free_outer(x, W):
    return soft(dense(x, W))


def test_given_seed_is_the_seed_itself_only_where_the_vjp_may_own_it():
    out = np.zeros((3, 4))
    own = np.ones((3, 4))
    assert given_seed(out, own) is own
    view = np.ones((3, 8))[:, :4]
    got = given_seed(out, view)
    assert got is not view and got.base is None and np.array_equal(got, view)
    row = np.arange(4.0)
    got = given_seed(out, row)  # broadcast: a new array of the output's shape
    assert got.shape == (3, 4) and got.base is None and np.array_equal(got, np.tile(row, (3, 1)))
    narrow = np.ones((3, 4), dtype=np.float32)
    got = given_seed(out, narrow)
    assert got.dtype == np.float64 and got.flags.writeable and np.array_equal(got, narrow)
    frozen = np.ones((3, 4))
    frozen.flags.writeable = False
    got = given_seed(out, frozen)
    assert got is not frozen and got.flags.writeable
    got = given_seed(out, 2.0)
    assert got.shape == (3, 4) and got.flags.writeable and np.all(got == 2.0)
    with pytest.raises(TypeError):
        given_seed(out, np.ones((3, 4), dtype=complex))


#: a float64 weight: the caller's adjoint of a float32 helper's output is float64
WIDE = np.linspace(0.5, 1.5, 5)


def promoted(x, W):
    """``soft``'s output (float32) meets a float64 array: its given seed is float64."""
    return np.sum(soft(dense(x, W)) * WIDE)


@pytest.mark.parametrize("f", [*PROGRAMS, promoted], ids=lambda f: f.__name__)
@pytest.mark.parametrize("wrt", [0, 1])
def test_float32_helpers_compute_in_their_given_seeds(f, wrt):
    """In float32 too a helper's adjoint computes in the seed its caller gives away (a
    float64 seed rounded to float32 first): the value is Python's and the gradient the
    pure derivative's (computed in float64 from the same float32 inputs) to float32's
    rounding, on the first and the later calls; the caller's arrays are never written."""
    x, W = (a.astype(np.float32) for a in _args())
    before = (x.copy(), W.copy())
    want = f(x, W)
    _, pure = sg.value_and_grad(f, wrt, optimize=False)(x.astype(float), W.astype(float))
    vg = sg.value_and_grad(f, wrt)
    for call in range(4):
        value, g = vg(x, W)
        assert value == want, f"call {call}: value {value!r} != Python's {want!r}"
        assert g.dtype == np.float32, g.dtype
        np.testing.assert_allclose(g, pure, rtol=2e-5, atol=2e-6, err_msg=f"call {call}")
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(W, before[1])


def test_a_float32_helper_made_for_a_given_seed_computes_in_it():
    x = _args()[0].astype(np.float32)
    given = sg.vjp(soft, given_seed=True)
    for _ in range(3):
        given(x, g_out=np.ones_like(x))
    text = given.emitted((x,)).text
    assert "given_seed(" in text and "out=dout" in text, text
    want = sg.vjp(soft)(x, g_out=np.full_like(x, 2.0))
    np.testing.assert_allclose(given(x, g_out=np.full_like(x, 2.0)), want, rtol=1e-6)
