"""A gradient taken inside the loss (MAML style) of a function with default arguments (a
positional default, a keyword-only one, one given by the call), and ``sg.grad(sg.grad(f))``
taken inside a loss (issue 17): differentiated in process at orders 1, 2 and 3. The value is
Python's; the gradient agrees with central differences of the loss, the Hessian-vector
product with central differences of the gradient, the third derivative with central
differences of the Hessian-vector product, on calls 1 to 3 (the optimized code runs from the
second). The gradients with defaults export in reverse mode at orders 1, 2 and 3 and in
forward mode (run by ``python -I -S`` with only NumPy: ``sg.value_and_grad``'s, the tower's and
``sg.jvp``'s numbers bit for bit): forward mode over the inner gradient and over its vjp fills
in the defaults the call leaves out, as the in-process one does. ``grad(grad(f))`` taken inside
exports at orders 1, 2 and 3 the same way."""

import inspect

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower
from tests.fd import numerical_grad
from tests.test_export import run_isolated, same, steady


def cube_with_power(z, p=3.0):
    return np.sum(z**p)


def mse(p, x, y, scale=1.0, *, offset=0.0):
    pred = np.tanh(x @ p["w"] + p["b"]) * scale + offset
    return np.mean((pred - y) ** 2)


def quartic(s):
    return s**4 + np.sin(s)


def penalty_with_a_default(x):
    return np.sum(sg.grad(cube_with_power)(x) ** 2) + np.sum(np.sin(x))


def penalty_with_the_default_given(x):
    return np.sum(sg.grad(cube_with_power)(x, 4.0) ** 2)


def maml_with_defaults(p, xs, ys, xq, yq):
    g = sg.grad(mse)(p, xs, ys)
    adapted = {k: p[k] - 0.1 * g[k] for k in p}
    return mse(adapted, xq, yq, 0.9)


def maml_with_keyword_defaults(p, xs, ys, xq, yq):
    adapted = p
    for _ in range(2):
        g = sg.grad(mse)(adapted, xs, ys, 1.1)  # offset, keyword-only, from its default
        adapted = {k: adapted[k] - 0.1 * g[k] for k in adapted}
    return mse(adapted, xq, yq)


def grad_of_grad_inside(x):
    return np.sum(np.sin(x) * sg.grad(sg.grad(quartic))(x[0] * 1.0)) + np.sum(x**3)


def maml_args():
    r = np.random.default_rng(0)
    p = {"w": r.normal(size=(3, 2)), "b": r.normal(size=2)}
    return (
        p,
        r.normal(size=(5, 3)),
        r.normal(size=(5, 2)),
        r.normal(size=(4, 3)),
        r.normal(size=(4, 2)),
    )


X = np.array([0.3, -1.2, 2.0])
ARRAY_CASES = [penalty_with_a_default, penalty_with_the_default_given, grad_of_grad_inside]
MAML_CASES = [maml_with_defaults, maml_with_keyword_defaults]


def _moved(x, v, e):
    return {k: x[k] + e * v[k] for k in x} if isinstance(x, dict) else x + e * v


def _direction(x, seed=5):
    rng = np.random.default_rng(seed)
    if isinstance(x, dict):
        return {k: rng.normal(size=a.shape) for k, a in x.items()}
    return rng.normal(size=x.shape)


def _close(got, want, rtol, atol):
    if isinstance(want, dict):
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _central(f, x, v, rest, e):
    plus, minus = f(_moved(x, v, e), *rest), f(_moved(x, v, -e), *rest)
    if isinstance(plus, dict):
        return {k: (plus[k] - minus[k]) / (2 * e) for k in plus}
    return (plus - minus) / (2 * e)


def _args(f):
    return maml_args() if f in MAML_CASES else (X.copy(),)


@pytest.mark.parametrize("f", ARRAY_CASES + MAML_CASES)
def test_value_and_gradient_on_calls_one_to_three(f):
    args = _args(f)
    x, rest = args[0], args[1:]
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, g = df(*args)
        assert value == f(*args)
        if isinstance(x, dict):
            for k in x:
                part = lambda a, k=k: f({**x, k: a}, *rest)  # noqa: E731
                want = numerical_grad(part, (x[k],), 0)
                np.testing.assert_allclose(g[k], want, rtol=1e-6, atol=1e-8)
        else:
            np.testing.assert_allclose(g, numerical_grad(f, args, 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", ARRAY_CASES + MAML_CASES)
def test_hessian_vector_product_on_calls_one_to_three(f):
    args = _args(f)
    x, rest = args[0], args[1:]
    v = _direction(x)
    want = _central(sg.grad(f), x, v, rest, 1e-5)
    hv = sg.hvp(f)
    for _ in range(3):
        _close(hv(*args, v), want, 1e-5, 1e-7)


@pytest.mark.parametrize("f", ARRAY_CASES + MAML_CASES)
def test_order_3_on_calls_one_to_three(f):
    args = _args(f)
    x, rest = args[0], args[1:]
    v = _direction(x)
    hv = sg.hvp(f)
    want = _central(lambda *a: hv(*a, v), x, v, rest, 1e-5)
    levels = tower(f, (), [0, 0], (0,))
    for _ in range(3):
        _close(levels.evaluate(args, (v, v)), want, 1e-5, 1e-6)


def test_grad_of_grad_inside_agrees_with_the_hessian():
    """The second derivative taken inside is ``sg.hessian``'s."""
    x = X.copy()
    h = sg.hessian(quartic)(x[0] * 1.0)
    assert np.isclose(sg.grad(sg.grad(quartic))(x[0] * 1.0), h)


def _line_of(f, text: str) -> int:
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, line in enumerate(lines) if text in line)


DEFAULTS = [penalty_with_a_default, penalty_with_the_default_given, *MAML_CASES]


@pytest.mark.parametrize("f", DEFAULTS)
def test_a_gradient_with_defaults_taken_inside_exports_bit_for_bit(f, tmp_path):
    """The stand-in's gradient takes the function's defaults (positional and keyword-only),
    as does the vjp of it the export's ``vjp_of`` finds."""
    args = _args(f)
    text = sg.export(f, *args)
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", args)
    assert same(got, steady(sg.value_and_grad(f), *args)), got


@pytest.mark.parametrize("f", DEFAULTS)
@pytest.mark.parametrize("order", [2, 3, "forward"])
def test_forward_mode_over_a_gradient_with_defaults_exports_bit_for_bit(f, order, tmp_path):
    """Forward mode over the inner gradient (and over its vjp), whose call leaves defaults
    out (a positional one, a keyword-only one) or gives them."""
    args = _args(f)
    v = _direction(args[0])
    if order == "forward":
        text, want = sg.export(f, *args, mode="forward"), steady(sg.jvp(f), *args, v)
    else:
        text = sg.export(f, *args, order=order)
        levels = tower(f, (), [0] * (order - 1), (0,))
        for _ in range(3):
            want = levels.evaluate(args, (v,) * (order - 1))
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, v))
    assert same(got, want), got


def grad_of_grad_next_to_a_gradient(x):
    return np.sum(sg.grad(cube_with_power)(x, 2.0) ** 2) + np.sum(
        np.sin(x) * sg.grad(sg.grad(quartic))(x[0] * 1.0)
    )


@pytest.mark.parametrize("f", [grad_of_grad_inside, grad_of_grad_next_to_a_gradient])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_grad_of_grad_taken_inside_exports_bit_for_bit(f, order, tmp_path):
    """``sg.grad(sg.grad(quartic))`` inside: its stand-in is the order-2 derivative of
    ``quartic`` written as source (``grad_grad_quartic``, keyed by the stand-in of
    ``grad(quartic)``), its vjp the order-3 one; forward mode over both at orders 2 and 3;
    next to a gradient of another function too."""
    x = X.copy()
    v = _direction(x)
    if order == 1:
        df = sg.grad(f)
        for _ in range(3):
            want = numerical_grad(f, (x,), 0)
            np.testing.assert_allclose(df(x), want, rtol=1e-6, atol=1e-8)
        text, extra, want = sg.export(f, x), (), steady(sg.value_and_grad(f), x)
    else:
        text, extra = sg.export(f, x, order=order), (v,)
        levels = tower(f, (), [0] * (order - 1), (0,))
        for _ in range(3):
            want = levels.evaluate((x,), (v,) * (order - 1))
    assert "import sourcegrad" not in text and "def grad_grad_quartic(s):" in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (x, *extra))
    assert same(got, want), got


def maml_calling_the_gradient_by_keyword(p, xs, ys, xq, yq):
    g = sg.grad(mse)(p, xs, ys, offset=0.1)
    return mse({k: p[k] - 0.1 * g[k] for k in p}, xq, yq)


def test_a_gradient_called_by_keyword_inside_is_refused_at_its_line():
    """A derivative sourcegrad made is called by position only inside a differentiated
    function (its parameters are the generated function's)."""
    args = maml_args()
    with pytest.raises(sg.SourcegradError, match="pass its arguments by position") as info:
        sg.grad(maml_calling_the_gradient_by_keyword)(*args)
    where = (__file__, _line_of(maml_calling_the_gradient_by_keyword, "sg.grad("))
    assert (info.value.filename, info.value.lineno) == where


def mixed(a, b):
    return a**3 * b + np.sin(a * b)


def mixed_partial_inside(x):
    return np.sum(np.sin(x) * sg.grad(sg.grad(mixed), wrt=1)(x[0] * 1.0, x[1] * 1.0))


def test_a_mixed_partial_taken_inside_exports_bit_for_bit(tmp_path):
    x = X.copy()
    df = sg.grad(mixed_partial_inside)
    for _ in range(3):
        want = numerical_grad(mixed_partial_inside, (x,), 0)
        np.testing.assert_allclose(df(x), want, rtol=1e-6, atol=1e-8)
    text = sg.export(mixed_partial_inside, x)
    got = run_isolated(tmp_path, text, "d_mixed_partial_inside", (x,))
    assert same(got, steady(sg.value_and_grad(mixed_partial_inside), x))
