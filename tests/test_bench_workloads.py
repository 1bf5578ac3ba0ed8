"""The benchmark workloads of issue 18 are right before they are timed: each hand-written
gradient against central finite differences and against sourcegrad (first and later calls:
the optimized code runs from the second call on), at sizes small enough for a test; and the
matrix-product adjoints those workloads run (a stack of rows times a matrix)."""

from __future__ import annotations

import pathlib
import re
import sys
import types

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.linalg_helpers import unmatmul_left, unmatmul_right

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import attention  # noqa: E402
import catalog  # noqa: E402
import gru  # noqa: E402
import spec  # noqa: E402
import suite  # noqa: E402
import varying  # noqa: E402


def finite_differences(loss, params, args, eps=1e-6):
    """d loss / d params[k] for every key, by central differences (params changed in place
    and restored)."""
    out = {}
    for k, p in params.items():
        g = np.zeros_like(p)
        for i in range(p.size):
            old = p.flat[i]
            p.flat[i] = old + eps
            up = loss(params, *args)
            p.flat[i] = old - eps
            down = loss(params, *args)
            p.flat[i] = old
            g.flat[i] = (up - down) / (2 * eps)
        out[k] = g
    return out


def leaves(tree, path=""):
    """``{path: array}`` of a dict / list nest of arrays."""
    if isinstance(tree, dict):
        return {p: v for k, sub in tree.items() for p, v in leaves(sub, f"{path}/{k}").items()}
    if isinstance(tree, (list, tuple)):
        return {p: v for i, sub in enumerate(tree) for p, v in leaves(sub, f"{path}/{i}").items()}
    return {path: tree}


def assert_close_tree(got, want, rtol, atol_frac):
    got, want = leaves(got), leaves(want)
    assert set(got) == set(want)
    for k in want:
        atol = atol_frac * float(np.max(np.abs(want[k])))
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


def agrees_with_sourcegrad(loss, hand, args, calls=3):
    """sourcegrad's value and gradient equal the hand-written ones on every one of ``calls``
    calls of one derivative (rank build, shape build, then the running code)."""
    want_value, want = hand(*args)
    vg = sg.value_and_grad(loss)
    for _ in range(calls):
        value, got = vg(*args)
        assert value == pytest.approx(want_value, rel=1e-12)
        assert_close_tree(got, want, 1e-9, 1e-12)


SMALL_TRANSFORMER = (2, 5, 8)  # batch, sequence, width (4 heads of 2)
SMALL_GRU = (4, 3, 5, 6)  # T, batch, input, hidden


def test_transformer_hand_gradient_matches_finite_differences():
    params, x, y = attention.transformer_inputs(np.float64, sizes=SMALL_TRANSFORMER)
    value, grads = attention.transformer_hand(params, x, y)
    assert value == pytest.approx(attention.transformer_loss(params, x, y), rel=1e-12)
    fd = finite_differences(attention.transformer_loss, params, (x, y))
    assert_close_tree(grads, fd, 1e-5, 1e-7)


def test_transformer_hand_gradient_matches_torch():
    """PyTorch's own layer norm, GELU and masked softmax (written independently of the NumPy
    loss) give the hand-written loss and gradient: the mask is causal in both."""
    torch = pytest.importorskip("torch")
    params, x, y = attention.transformer_inputs(np.float64, sizes=SMALL_TRANSFORMER)
    value, grads = attention.transformer_hand(params, x, y)
    leaves, loss = attention.torch_transformer(params, x, y)
    t_value = loss()
    t_grads = dict(zip(leaves, torch.autograd.grad(t_value, list(leaves.values()))))
    assert float(t_value.detach()) == pytest.approx(value, rel=1e-12)
    assert_close_tree({k: v.numpy() for k, v in t_grads.items()}, grads, 1e-9, 1e-12)


@pytest.mark.parametrize(
    "loss",
    [attention.transformer_loss, attention.transformer_helpers_loss],
    ids=["inline", "helpers"],
)
def test_transformer_sourcegrad_matches_hand(loss):
    args = attention.transformer_inputs(np.float64, sizes=SMALL_TRANSFORMER)
    agrees_with_sourcegrad(loss, attention.transformer_hand, args)


def test_transformer_float32_stays_float32():
    """The workload's float32 row measures float32 code: nothing in the loss promotes."""
    params, x, y = attention.transformer_inputs(np.float32, sizes=SMALL_TRANSFORMER)
    assert np.asarray(attention.transformer_loss(params, x, y)).dtype == np.float32
    value, grads = sg.value_and_grad(attention.transformer_loss)(params, x, y)
    assert np.asarray(value).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_gru_hand_gradient_matches_finite_differences():
    params, xs, y = gru.gru_inputs(np.float64, sizes=SMALL_GRU)
    value, grads = gru.gru_bptt(params, xs, y)
    assert value == pytest.approx(gru.gru_loss(params, xs, y), rel=1e-12)
    fd = finite_differences(gru.gru_loss, params, (xs, y))
    assert_close_tree(grads, fd, 1e-5, 1e-7)


def test_gru_sourcegrad_matches_hand():
    args = gru.gru_inputs(np.float64, sizes=SMALL_GRU)
    agrees_with_sourcegrad(gru.gru_loss, gru.gru_bptt, args)


def test_mlp_helpers_sourcegrad_matches_hand():
    params, x, y = suite.mlp_inputs(np.float64)
    x, y = x[:8], y[:8]
    assert catalog.mlp_helpers_loss(params, x, y) == pytest.approx(
        suite.mlp_loss(params, x, y), rel=1e-12
    )
    agrees_with_sourcegrad(catalog.mlp_helpers_loss, suite.mlp_hand, (params, x, y))


def test_every_new_workload_is_in_the_catalog():
    assert {"mlp-helpers", "gru", "transformer", "transformer-helpers"} <= set(catalog.SPEC_KEYS)
    assert [s.key for s in catalog.select("transformer")] == ["transformer"]
    assert [s.key for s in catalog.select("transformer-h")] == ["transformer-helpers"]


def test_rebind_numpy_rebinds_helpers():
    """A peer's NumPy replaces the one of the loss and of the helpers it calls by name."""
    calls = []

    def traced(name):
        def fn(*args, **kwargs):
            calls.append(name)
            return getattr(np, name)(*args, **kwargs)

        return fn

    names = {n: getattr(np, n) for n in dir(np) if not n.startswith("_")}
    fake = types.SimpleNamespace(**{**names, "maximum": traced("maximum"), "exp": traced("exp")})
    params, x, y = suite.mlp_inputs(np.float64)
    f = spec.rebind_numpy(catalog.mlp_helpers_loss, fake, "rebound")
    assert f(params, x[:4], y[:4]) == pytest.approx(catalog.mlp_helpers_loss(params, x[:4], y[:4]))
    assert calls.count("maximum") == 2 and calls.count("exp") == 1


def test_build_counter_counts_builds():
    def f(x):
        return np.sum(np.tanh(x) ** 2)

    vg = sg.value_and_grad(f)
    with varying.BuildCounter() as count:
        vg(np.ones(3))
        vg(np.ones(4))
    assert count.builds >= 1
    assert count.transformed <= count.builds
    before = count.builds
    vg(np.ones(5))  # outside: not counted
    assert count.builds == before


# --------------------------------------------------------------------------- matmul adjoints
def stack_times_matrix(x, W):
    return np.sum(np.tanh(x @ W) ** 2)


def matrix_times_stack(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


def _fd(f, args, i, eps=1e-6):
    args = [a.copy() for a in args]
    x = args[i]
    g = np.zeros_like(x)
    for k in range(x.size):
        old = x.flat[k]
        x.flat[k] = old + eps
        up = f(*args)
        x.flat[k] = old - eps
        down = f(*args)
        x.flat[k] = old
        g.flat[k] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize(
    "f, shapes",
    [
        (stack_times_matrix, [(2, 3, 4), (4, 5)]),
        (stack_times_matrix, [(2, 2, 3, 4), (4, 5)]),
        (matrix_times_stack, [(3, 4), (2, 4, 5)]),
    ],
    ids=["rank3@2", "rank4@2", "rank2@3"],
)
def test_stacked_matmul_gradient_first_and_later_calls(f, shapes, rng):
    args = [rng.standard_normal(s) for s in shapes]
    want = [_fd(f, args, i) for i in range(2)]
    df = sg.grad(f, wrt=(0, 1))
    for _ in range(3):
        got = df(*args)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_stacked_matmul_is_one_flat_product():
    """The running code of a stack times a matrix has no rank-generic helper left in it."""
    x, W = np.ones((2, 3, 4)), np.ones((4, 5))
    text = sg.source(sg.grad(stack_times_matrix, wrt=(0, 1)), x, W)
    assert "unmatmul" not in text


@pytest.mark.parametrize(
    "xs, ws", [((2, 3, 4), (4, 5)), ((3, 4), (4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (1, 4, 5))]
)
def test_unmatmul_helpers_match_the_batched_form(xs, ws, rng):
    """The flat path of the rank-generic helpers gives what the batched products give."""
    x, W = rng.standard_normal(xs), rng.standard_normal(ws)
    g = rng.standard_normal(np.shape(x @ W))
    a = x[None, :] if x.ndim == 1 else x
    b = W
    gg = g[..., None, :] if x.ndim == 1 else g
    left = np.sum(gg @ np.swapaxes(b, -1, -2), axis=tuple(range(gg.ndim - a.ndim)))
    right = np.swapaxes(a, -1, -2) @ gg
    right = np.sum(right, axis=tuple(range(right.ndim - b.ndim))) if right.ndim > b.ndim else right
    while right.shape != b.shape:  # broadcast axes of size 1 in b
        axis = next(i for i, (r, s) in enumerate(zip(right.shape, b.shape)) if r != s)
        right = np.sum(right, axis=axis, keepdims=True)
    np.testing.assert_allclose(unmatmul_left(g, x, W), np.reshape(left, x.shape), rtol=1e-12)
    np.testing.assert_allclose(unmatmul_right(g, x, W), right, rtol=1e-12)


# --------------------------------------------------------------------------- power rule
def powers(x):
    return np.sum(np.tanh(x**0.5) + 0.1 * x**4 + x**3)


def root_and_fourth(x):
    return np.sum(np.tanh(x**0.5) + 0.1 * x**4)


def scalar_powers(a):
    return a**0.5 + a**4 - a**3


def test_small_constant_powers_reverse_first_and_later_calls():
    x = np.linspace(0.5, 2.0, 7)
    want = _fd(powers, [x], 0)
    df = sg.grad(powers)
    for _ in range(3):
        np.testing.assert_allclose(df(x), want, rtol=1e-7, atol=1e-9)


def test_small_constant_powers_without_general_power_in_the_rule():
    """x ** 0.5 and x ** 4 differentiate to a division and a product, not x ** -0.5, x ** 3."""
    text = sg.source(sg.grad(root_and_fourth), np.ones(3))
    assert "0.5" in text and "-0.5" not in text
    assert "x * x * x" in text and not re.search(r"\*\* ?\(?3", text)


def test_small_constant_powers_forward_mode_and_second_order():
    a = 1.7
    first = 0.5 * a**-0.5 + 4 * a**3 - 3 * a**2
    second = -0.25 * a**-1.5 + 12 * a**2 - 6 * a
    assert sg.grad(scalar_powers)(a) == pytest.approx(first, rel=1e-12)  # forward mode
    assert sg.grad(sg.grad(scalar_powers))(a) == pytest.approx(second, rel=1e-10)


def test_fused_benchmark_runs(capsys):
    """``benchmarks/fused.py`` runs end to end at a tiny size (with or without numexpr)."""
    import fused

    fused.main(["--rounds", "2", "--n", "2000", "--clock", "cpu"])
    out = capsys.readouterr().out
    assert "copy bandwidth" in out and "sourcegrad" in out
