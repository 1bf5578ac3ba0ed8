"""A user's function that the differentiated function calls runs once per call of the
derivative, as it does where Python calls it: its side effects (a ``print``, an ``append`` to
a global list) happen once on the first call (the pure build, which runs kept calls too), and
on the calls after it (the optimized build); in a loop, nested (a helper calling a helper), as
a method, in forward mode (``jvp``) and in a ``vjp``. Each against Python's value and central
differences on calls 1-3. A method that counts its calls in an attribute of its object counts
once per call (its state followed). Forward mode over a gradient (``hvp``, ``jvp(grad(f))``, ``grad(grad(f))``) runs each
helper once per call too, in a loop, nested, as an object called as a function, and on the
first call, whose scalar output is checked from the value it computes; a Hessian (and the
Jacobian of a gradient) runs them once per column. The derivative of a gradient penalty
(a function calling ``grad``) runs its helpers again in the adjoint sweep (forward mode over
the inner gradient along a seed known only there): a helper changing state outside it is
refused, naming the line; helpers without effects are right."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import assert_value, numerical

LOG: list = []


def printing(x):
    print("printing ran")
    return np.tanh(x)


def print_loss(x):
    return np.sum(printing(x) ** 2)


def logging(x):
    LOG.append("logging")
    return np.sin(x) * 2.0


def logged_loss(x):
    h = logging(x)
    return np.sum(h**2) + np.sum(h)


def inlined_loss(x):  # the helper's value read once, inside an expression
    return np.sum(logging(x) * 3.0)


def mean_loss(x):
    return np.mean((logging(x) - 1.0) ** 2)


def loop_loss(x):
    h = x
    for _ in range(3):
        h = logging(h)
    return np.sum(h**2)


def inner(x):
    LOG.append("inner")
    return np.tanh(x)


def outer(x):
    LOG.append("outer")
    return inner(x) * inner(2.0 * x)


def nested_loss(x):
    return np.sum(outer(x) ** 2)


class Model:
    def __init__(self, W):
        self.W = W

    def forward(self, x):
        LOG.append("forward")
        return np.tanh(x @ self.W)


def method_loss(x, model):
    return np.sum(model.forward(x) ** 2)


def vector(x):
    return logging(x) * x


class Counter:
    def __init__(self):
        self.calls = 0

    def apply(self, x):
        self.calls += 1  # REFUSED
        return np.tanh(x)


def counted_loss(x, counter):
    return np.sum(counter.apply(x) ** 2)


def _x():
    return np.random.default_rng(3).normal(size=4) * 0.5


def _args(f):
    if f is method_loss:
        return (_x(), Model(np.random.default_rng(4).normal(size=(4, 4)) * 0.5))
    return (_x(),)


LOSSES = [logged_loss, inlined_loss, mean_loss, loop_loss, nested_loss, method_loss]


def _in_python(f, args):
    """``f(*args)`` and what it appended to :data:`LOG`."""
    LOG.clear()
    value = f(*args)
    appended = list(LOG)
    LOG.clear()
    return value, appended


@pytest.mark.parametrize("f", LOSSES, ids=lambda f: f.__name__)
def test_a_gradient_runs_each_helper_once_per_call(f):
    args = _args(f)
    want, appended = _in_python(f, args)
    assert appended  # (the program does append)
    slopes = numerical(f, args, 0)
    df = sg.value_and_grad(f)
    for call in range(1, 4):
        LOG.clear()
        value, g = df(*args)
        assert LOG == appended, f"call {call}"
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(g, slopes, rtol=1e-5, atol=1e-7, err_msg=f"call {call}")


def test_a_print_in_a_helper_prints_once_per_call(capsys):
    x = _x()
    want = print_loss(x)
    assert capsys.readouterr().out == "printing ran\n"
    slopes = numerical(print_loss, (x,), 0)
    capsys.readouterr()
    df = sg.grad(print_loss)
    for call in range(1, 4):
        g = df(x)
        assert capsys.readouterr().out == "printing ran\n", f"call {call}"
        np.testing.assert_allclose(g, slopes, rtol=1e-5, atol=1e-7, err_msg=f"call {call}")
    value, _ = sg.value_and_grad(print_loss)(x)
    assert capsys.readouterr().out == "printing ran\n"
    assert_value(value, want, "value")


def test_a_vjp_and_a_jvp_run_the_helper_once_per_call():
    x = _x()
    want, appended = _in_python(vector, (x,))
    jac = numerical(vector, (x,), 0)
    g = np.linspace(-1.0, 1.0, 4)
    t = np.linspace(0.5, 2.0, 4)
    vjp, jvp = sg.vjp(vector), sg.jvp(vector)
    for call in range(1, 4):
        LOG.clear()
        got = vjp(x, g)
        assert LOG == appended, f"vjp call {call}"
        np.testing.assert_allclose(got, g @ jac, rtol=1e-5, atol=1e-7)
        LOG.clear()
        value, tangent = jvp(x, t)
        assert LOG == appended, f"jvp call {call}"
        assert_value(value, want, f"jvp value, call {call}")
        np.testing.assert_allclose(tangent, jac @ t, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", LOSSES, ids=lambda f: f.__name__)
def test_a_jvp_of_a_loss_runs_each_helper_once_per_call(f):
    args = _args(f)
    want, appended = _in_python(f, args)
    t = np.linspace(0.5, 2.0, 4)
    slope = numerical(f, args, 0) @ t
    jvp = sg.jvp(f)
    for call in range(1, 4):
        LOG.clear()
        value, tangent = jvp(*args, t)
        assert LOG == appended, f"call {call}"
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(tangent, slope, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", LOSSES, ids=lambda f: f.__name__)
def test_a_hessian_vector_product_through_helpers_is_right(f):
    args = _args(f)
    v = np.linspace(-1.0, 1.0, 4)
    df = sg.grad(f)
    eps = 1e-5
    x = args[0]
    want = (df(x + eps * v, *args[1:]) - df(x - eps * v, *args[1:])) / (2 * eps)
    hvp = sg.hvp(f)
    for call in range(1, 4):
        np.testing.assert_allclose(hvp(*args, v), want, rtol=1e-5, atol=1e-6, err_msg=str(call))


# each second derivative below differentiates functions of its own, so that its first call
# is the first of their towers (a tower is made once per function)


def hv_inner(x):
    LOG.append("hv_inner")
    return np.tanh(x)


def hv_outer(x):
    LOG.append("hv_outer")
    return hv_inner(x) * hv_inner(2.0 * x)


def hv_nested(x):
    return np.sum(hv_outer(x) ** 2)


def hv_logged(x):
    h = logging(x)
    return np.sum(h**2) + np.sum(h)


def hv_loop(x):
    h = x
    for _ in range(3):
        h = hv_inner(h)
    return np.sum(h**2)


class Layer:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        LOG.append("layer")
        return np.tanh(x @ self.W)


def hv_called(x, layer):
    return np.sum(layer(x) ** 2)


def hv_two(x, y):
    return np.sum(hv_inner(x) * y**2) + np.sum(hv_inner(y) * x)


def hv_method(x, model):
    return np.sum(model.forward(x) ** 2)


def hv_parts(x):
    LOG.append("hv_parts")
    return np.sin(x), np.cos(x) * x


def hv_split(x):  # a helper returning a tuple
    a, b = hv_parts(x)
    return np.sum(a * b)


def hv_power(x, k=3):
    LOG.append("hv_power")
    return x**k


def hv_defaults(x):  # a call leaving a default out, and one giving it
    return np.sum(hv_power(x) + hv_power(x, 2))


def hv_scaled(x, *, s=2.0):
    LOG.append("hv_scaled")
    return np.tanh(s * x)


def hv_keywords(x):  # a keyword-only parameter given by keyword
    return np.sum(hv_scaled(x, s=3.0) ** 2)


def hv_norm(x):
    LOG.append("hv_norm")
    return np.sum(x**2)


def hv_ranks(x):  # helpers whose values' ranks are not their argument's
    return hv_norm(x) ** 2 + np.sum(np.outer(x, hv_inner(x)) ** 2)


def _hv_args(f):
    x = _x()
    if f is hv_called:
        return (x, Layer(np.random.default_rng(5).normal(size=(4, 4)) * 0.5))
    if f is hv_method:
        return (x, Model(np.random.default_rng(6).normal(size=(4, 4)) * 0.5))
    if f is hv_two:
        return (x, np.linspace(0.3, 0.9, 4))
    return (x,)


def _hessian_of(f, args, i=0):
    """The Hessian block of ``f`` along ``args[i]``: central differences of sourcegrad's
    gradient (checked against those of ``f`` itself elsewhere)."""
    return numerical(lambda *a: sg.grad(f, i)(*a), args, i)


@pytest.mark.parametrize(
    "f",
    [
        *(hv_logged, hv_nested, hv_loop, hv_called, hv_method),
        *(hv_split, hv_defaults, hv_keywords, hv_ranks),
    ],
    ids=lambda f: f.__name__,
)
def test_a_hessian_vector_product_runs_each_helper_once_per_call(f):
    args = _hv_args(f)
    _, appended = _in_python(f, args)
    v = np.linspace(-1.0, 1.0, 4)
    want = _hessian_of(f, args) @ v
    hvp = sg.hvp(f)
    for call in range(1, 4):  # the first: the pure build, its output checked to be a scalar
        LOG.clear()
        got = hvp(*args, v)
        assert LOG == appended, f"call {call}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def hv_fib(x, n):  # two recursive calls, one taking no gradient's tangent
    LOG.append("hv_fib")
    if n <= 1:
        return x
    return hv_fib(x, n - 1) * 0.5 + np.sin(hv_fib(x, n - 2))


def hv_recursive(x):  # (linear in hv_fib's value: its gradient's tangent is zero)
    return np.sum(hv_fib(x, 4))


def hv_fib_swapped(x, n):  # the adjoint meets the call with no gradient's tangent first
    LOG.append("hv_fib_swapped")
    if n <= 1:
        return x
    return np.sin(hv_fib_swapped(x, n - 2)) + hv_fib_swapped(x, n - 1) * 0.5


def hv_recursive_swapped(x):
    return np.sum(hv_fib_swapped(x, 4))


def hv_recursive_squared(x):
    return np.sum(hv_fib(x, 4) ** 2)


def hv_even(x, n):
    LOG.append("hv_even")
    return np.tanh(x) if n == 0 else np.sin(hv_odd(x * 1.5, n - 1)) * x


def hv_odd(x, n):
    LOG.append("hv_odd")
    return np.cos(x) * 0.5 if n == 0 else hv_even(x, n - 1) ** 2 + x


def hv_mutual(x):
    return np.sum(hv_even(x, 3) * hv_odd(x, 2))


def hv_wrapped(x):  # hv_inner called inside a helper and by the loss itself
    return hv_inner(x) * 2.0 + x


def hv_depths(x):
    return np.sum(hv_wrapped(x) * hv_inner(x) + hv_wrapped(hv_inner(x)))


def hv_linear_once(x):  # one call's gradient has a tangent, the other's has none
    return np.sum(hv_inner(x)) + np.sum(hv_inner(x * 2.0) ** 2)


def hv_linear_last(x):  # the adjoint meets the call whose gradient has no tangent first
    return np.sum(hv_inner(x * 2.0) ** 2) + np.sum(hv_inner(x))


@pytest.mark.parametrize(
    "f",
    [
        hv_recursive,
        hv_recursive_swapped,
        hv_recursive_squared,
        hv_mutual,
        hv_depths,
        hv_linear_once,
        hv_linear_last,
    ],
    ids=lambda f: f.__name__,
)
def test_a_hessian_vector_product_through_recursion_is_right(f):
    """Each call's jvp is paired with the jvp of its own vjp, at every depth of a recursion,
    where the calls of one helper differ in whether their gradient's tangent is zero."""
    x = _x()
    _, appended = _in_python(f, (x,))
    for v in (np.linspace(-1.0, 1.0, 4), np.array([0.3, -2.0, 0.5, 1.0])):
        want = _hessian_of(f, (x,)) @ v
        hvp = sg.hvp(f)
        for call in range(1, 4):
            LOG.clear()
            got = hvp(x, v)
            assert LOG == appended, f"call {call}"
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")
        jvp = sg.jvp(sg.grad(f))
        for call in range(1, 4):
            got = jvp(x, v)[1]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def hv_jvp_of_grad(x):
    return np.sum(hv_outer(x) * x)


def hv_grad_of_grad(a):
    return hv_inner(a) * a**3


def test_forward_mode_over_a_gradient_runs_each_helper_once_per_call():
    x, v = _x(), np.linspace(0.5, 2.0, 4)
    _, appended = _in_python(hv_jvp_of_grad, (x,))
    want = sg.grad(hv_jvp_of_grad)(x), _hessian_of(hv_jvp_of_grad, (x,)) @ v
    jvp = sg.jvp(sg.grad(hv_jvp_of_grad))
    for call in range(1, 4):
        LOG.clear()
        got = jvp(x, v)
        assert LOG == appended, f"call {call}"
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def test_a_gradient_of_a_gradient_runs_each_helper_once_per_call():
    a = 0.7
    _, appended = _in_python(hv_grad_of_grad, (a,))
    d = sg.grad(hv_grad_of_grad)
    want = (d(a + 1e-6) - d(a - 1e-6)) / 2e-6
    dd = sg.grad(sg.grad(hv_grad_of_grad))
    for call in range(1, 4):
        LOG.clear()
        got = dd(a)
        assert LOG == appended, f"call {call}"
        assert abs(got - want) < 1e-6 * max(1.0, abs(want)), f"call {call}"


def test_a_hessian_vector_product_along_two_arguments_runs_each_helper_once():
    args = _hv_args(hv_two)
    _, appended = _in_python(hv_two, args)
    u, w = np.linspace(-1.0, 1.0, 4), np.linspace(0.2, 0.8, 4)
    x, y = args
    g = sg.grad(hv_two, (0, 1))
    eps = 1e-5
    hi, lo = g(x + eps * u, y + eps * w), g(x - eps * u, y - eps * w)
    want = [(a - b) / (2 * eps) for a, b in zip(hi, lo)]
    hvp = sg.hvp(hv_two, (0, 1))
    for call in range(1, 4):
        LOG.clear()
        got = hvp(x, y, (u, w))
        assert LOG == appended, f"call {call}"
        for k in range(2):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6)


def hv_columns(x):
    return np.sum(hv_outer(x) ** 2)


def test_a_hessian_runs_each_helper_once_per_column():
    """One Hessian-vector product per column (the Hessian of an array of n elements runs the
    function's helpers n times, each once)."""
    x = _x()
    _, appended = _in_python(hv_columns, (x,))
    want = _hessian_of(hv_columns, (x,))
    for make in (sg.hessian(hv_columns), sg.jacobian(sg.grad(hv_columns))):
        for call in range(1, 4):
            LOG.clear()
            got = make(x)
            assert LOG == appended * x.size, f"call {call}"
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def hv_inside(x):
    return np.sum(hv_outer(x) ** 2)


def penalty(x):
    return np.sum(sg.grad(hv_inside)(x) ** 2) + np.sum(x**2)


def test_a_gradient_penalty_whose_helpers_log_is_refused():
    # the derivative of a gradient a function calls is forward mode over that gradient along
    # the output gradient, known only in the adjoint sweep: its helpers run again there, so
    # a helper that appends to a list outside it is refused (Python appends once)
    df = sg.value_and_grad(penalty)
    with pytest.raises(SourcegradError, match="changes `LOG`") as caught:
        df(_x())
    message = str(caught.value)
    assert f"{__file__}:{penalty.__code__.co_firstlineno + 1}" in message
    assert "outside hv_inside()" in message


def quiet_inner(x):
    return np.tanh(x)


def quiet_inside(x):
    return np.sum((quiet_inner(x) * quiet_inner(2.0 * x)) ** 2)


def quiet_penalty(x):
    return np.sum(sg.grad(quiet_inside)(x) ** 2) + np.sum(x**2)


def test_a_gradient_penalty_through_helpers_is_right():
    x = _x()
    want = quiet_penalty(x)
    slopes = numerical(quiet_penalty, (x,), 0)
    df = sg.value_and_grad(quiet_penalty)
    for call in range(1, 4):
        value, g = df(x)
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(g, slopes, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def jv_called(x, layer):
    return np.sum(layer(x) ** 2)


def test_a_jvp_runs_an_object_called_as_a_function_once_per_call():
    args = _hv_args(hv_called)
    want, appended = _in_python(jv_called, args)
    t = np.linspace(0.5, 2.0, 4)
    slope = numerical(jv_called, args, 0) @ t
    jvp = sg.jvp(jv_called)
    for call in range(1, 4):
        LOG.clear()
        value, tangent = jvp(*args, t)
        assert LOG == appended, f"call {call}"
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(tangent, slope, rtol=1e-5, atol=1e-7)


def test_a_method_counting_its_calls_in_its_object_counts_once_per_call():
    """Its count is state kept from call to call, followed (the call given a statement of its
    own and inlined): the gradient, and the hvp, count once per call, as Python does."""
    counter = Counter()
    df, hvp = sg.value_and_grad(counted_loss), sg.hvp(counted_loss)
    for call in range(1, 4):
        x = _x() * call
        value, grad = df(x, counter)
        assert counter.calls == 2 * call - 1, f"call {call}"
        assert_value(value, counted_loss(x, Counter()), f"value, call {call}")
        np.testing.assert_allclose(grad, numerical(counted_loss, (x, Counter()), 0), rtol=1e-6)
        hvp(x, counter, np.ones_like(x))
        assert counter.calls == 2 * call, f"hvp, call {call}"
