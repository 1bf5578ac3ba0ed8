"""Block-by-block evaluation of long elementwise chains (``sourcegrad.transform.optimize.chunk``): the
running code loops over blocks where it may, gives the pure derivative's results up to the
order of a sum, and keeps whole every function it must not cut."""

from __future__ import annotations

import ast
import importlib.util

import gast
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sourcegrad as sg

from .fd import numerical_grad
from .internals import BLOCK, chunk_elementwise

LOOP = "for start in range(0, "


def _running(df, *args):
    df._entry(args, True)
    return df._entry(args).pretty(optimized=True)


def _agree(f, args, wrt=0, rtol=1e-12):
    """Value and gradient of the running code against the pure derivative (``optimize=False``:
    no blocks, no buffer reuse); returns the running source."""
    df = sg.value_and_grad(f, wrt)
    pure = sg.value_and_grad(f, wrt, optimize=False)
    want_value, want = pure(*args)
    for _ in range(2):  # the first call, then the code specialised to the signature
        value, got = df(*args)
        np.testing.assert_allclose(value, want_value, rtol=rtol)
        for g, w in zip(
            got if isinstance(wrt, tuple) else [got], want if isinstance(wrt, tuple) else [want]
        ):
            assert type(g) is type(w) and np.shape(g) == np.shape(w)
            assert getattr(g, "dtype", None) == getattr(w, "dtype", None)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * 1e-2)  # rounding near 0
    return _running(df, *args)


def chain(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_long_chain_runs_block_by_block(dtype, rng):
    x = rng.standard_normal(2 * BLOCK + 123).astype(dtype)  # a last block that is short
    running = _agree(chain, (x, 1.5), rtol=1e-12 if dtype == np.float64 else 2e-5)
    assert LOOP in running and "out=dx_all[start : start + " in running
    small = x[:30].astype(np.float64)
    np.testing.assert_allclose(
        sg.grad(chain)(small, 1.5), numerical_grad(chain, (small, 1.5), 0), rtol=1e-6
    )


def two_gradients(x, y):
    s = np.sum(np.sin(x) * y)
    return 0.5 * s + np.sum(x * x) / x.size


def test_two_gradients_a_scalar_after_the_sums_and_a_matrix(rng):
    x, y = rng.standard_normal((600, 500)), rng.standard_normal((600, 500))
    running = _agree(two_gradients, (x, y), wrt=(0, 1))
    assert LOOP in running
    xs, ys = x[:3, :4].copy(), y[:3, :4].copy()
    for i, g in enumerate(sg.grad(two_gradients, (0, 1))(xs, ys)):
        np.testing.assert_allclose(g, numerical_grad(two_gradients, (xs, ys), i), rtol=1e-6)


def test_non_contiguous_arguments(rng):
    x = rng.standard_normal((1200, 600))[:, ::2]  # a strided view: its blocks are copied
    y = np.asfortranarray(rng.standard_normal((1200, 300)))
    running = _agree(two_gradients, (x, y), wrt=(0, 1))
    assert LOOP in running


def normalised(x):
    s = np.sum(x * x)
    return np.sum(np.log1p(x * x / s))  # the elements need the finished sum


def broadcast_row(x, w):
    return np.sum(np.tanh(x * w))  # w (1, m) broadcast over the rows of x


def strided(x):
    return np.sum(np.tanh(x[::2]) * x[1::2])


def with_a_product(x, W):
    return np.sum(np.tanh(x @ W) * x)


@pytest.mark.parametrize(
    "f,shapes",
    [
        (normalised, [(2 * BLOCK,)]),
        (broadcast_row, [(1000, 600), (1, 600)]),
        (strided, [(4 * BLOCK,)]),
        (with_a_product, [(1000, 600), (600, 600)]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_functions_that_cannot_be_cut_stay_whole(f, shapes, rng):
    args = tuple(rng.standard_normal(s) for s in shapes)
    running = _agree(f, args)
    assert LOOP not in running


def test_small_arrays_stay_whole(rng):
    x = rng.standard_normal(BLOCK)
    assert LOOP not in _agree(chain, (x, 1.5))


def test_the_pass_through_its_entry():
    body = (
        gast.parse(
            "def f(x, a):\n    t = x * a\n    s = np.add.reduce(t, None)\n    u = s * 2.0\n"
            "    dx = t * u\n    return (u, dx)\n"
        )
        .body[0]
        .body
    )
    shapes = {"x": (3 * BLOCK,), "a": (), "t": (3 * BLOCK,), "s": (), "u": (), "dx": None}
    dtypes = {"dx": np.dtype("float64"), "t": np.dtype("float64"), "x": np.dtype("float64")}

    class Names:
        def fresh(self, base):
            return base

    shapes["dx"] = (3 * BLOCK,)
    # dx reads u, which needs the finished sum: left whole
    assert not chunk_elementwise(list(body), shapes, dtypes, {}, "np", Names())
    body[3] = gast.parse("dx = t * a").body[0]
    assert chunk_elementwise(body, shapes, dtypes, {}, "np", Names())
    module = gast.gast_to_ast(gast.Module(body=body, type_ignores=[]))
    text = ast.unparse(ast.fix_missing_locations(module))
    assert "s_parts.append(np.add.reduce(t, None))" in text
    assert text.index("s = np.add.reduce(np.array(s_parts), None)") < text.index("u = s * 2.0")


def mean_square(x, a):
    s = np.sum(x * x)
    m = s / x.size  # after the loop: it reads the finished sum
    return m * a  # after it too: it reads m


def sum_then_chain(x, a):
    s = np.sum(np.sin(x))
    t = s * a
    u = t + 1.0
    return u + a * a


@pytest.mark.parametrize("f", [mean_square, sum_then_chain])
def test_scalars_from_the_sums_run_after_the_loop(f, rng):
    x = rng.standard_normal(2 * BLOCK)
    assert LOOP in _agree(f, (x, 1.5))
    _agree(f, (x, 1.5), wrt=1)


# ------------------------------------------------------------ random elementwise programs
_UNARY = ["np.tanh({})", "np.sin({})", "np.exp(-{} * {})", "np.log1p({} * {})", "-{}", "({}) ** 2"]
_BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / (1.0 + {} * {})", "np.maximum({}, {})"]


@st.composite
def _programs(draw):
    """Source of ``f(x, y, a)``: a few elementwise statements over x, y, a and earlier names,
    an optional full sum used afterwards, and a scalar result."""
    names, lines = ["x", "y"], []
    for k in range(draw(st.integers(2, 5))):
        if draw(st.booleans()):
            pattern = draw(st.sampled_from(_UNARY))
            operand = draw(st.sampled_from(names))
            expr = pattern.format(*[operand] * pattern.count("{}"))
        else:
            pattern = draw(st.sampled_from(_BINARY))
            operands = [draw(st.sampled_from(names + ["a"])) for _ in range(pattern.count("{}"))]
            expr = pattern.format(*operands)
        lines.append(f"    v{k} = {expr}")
        names.append(f"v{k}")
    total = " + ".join(f"np.sum({n} * {n})" for n in names[2:][-2:])
    if draw(st.booleans()):
        lines.append(f"    s = np.sum({names[-1]})")
        total += " + s * a"
    lines.append(f"    return {total}")
    return "def f(x, y, a):\n" + "\n".join(lines) + "\n"


@settings(max_examples=15, deadline=None, derandomize=True)
@given(source=_programs())
def test_random_elementwise_programs_agree_with_the_pure_derivative(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("chunk") / "program.py"
    path.write_text("import numpy as np\n\n\n" + source)
    spec = importlib.util.spec_from_file_location(f"chunk_program_{abs(hash(source))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, 2 * BLOCK + 7), rng.uniform(-1, 1, 2 * BLOCK + 7)
    _agree(module.f, (x, y, 0.7), wrt=(0, 1), rtol=1e-9)


def two_sums(x, y):
    v = np.tanh(x) * y
    return np.sum(x * x) + 0.5 * np.sum(v * v)  # sums inside a scalar expression


def test_sums_inside_a_scalar_expression_are_summed_in_the_loop(rng):
    x, y = rng.standard_normal(2 * BLOCK + 5), rng.standard_normal(2 * BLOCK + 5)
    running = _agree(two_sums, (x, y), wrt=(0, 1))
    assert LOOP in running and running.count("_parts.append(") == 2


def weighted_tanh(x, w):
    return np.sum(np.tanh(x) * w)


def test_float16_sums_stay_whole():
    # each block's float16 sum would overflow (131072 ones), or round to a spacing of 32
    x = np.concatenate([np.ones(BLOCK), -np.ones(BLOCK), np.full(17, 0.5)]).astype(np.float16)
    w = np.ones(x.size, np.float16)
    running = _agree(weighted_tanh, (x, w), rtol=1e-3)
    assert LOOP not in running
