"""A NumPy output given by position (``np.multiply(y, 2.0, y)``, ``np.sum(a, 0, None, out)``)
writes into that argument as ``out=`` does: the derivative follows the write and leaves the
caller's arrays as Python leaves them (before, the call was read as returning a new array: a
silently wrong gradient and the caller's array unchanged)."""

import numpy as np
import pytest

import sourcegrad as sg

from .fd import numerical_grad


def summed_into(x, y):
    np.sum(x * x, 0, None, y)
    return np.sum(x * y)


def doubled_in_place(x, y):
    np.multiply(y, 2.0, y)
    return np.sum(x * y)


def scaled_in_place(x):
    h = x * 1.0
    np.multiply(h, x, h)
    np.exp(h, h)
    return np.sum(h)


def local_sum_into(x):
    s = np.zeros(())
    np.sum(x * x, 0, None, s)
    return s * x[0]


def divmod_into(x):
    q, r = np.zeros(3), np.zeros(3)
    np.divmod(x, 0.75, q, r)
    return np.sum(r * x) + np.sum(q)


def _check(f, args, given_after=None):
    df = sg.grad(f)
    want = numerical_grad(lambda x: f(x, *[a.copy() for a in args[1:]]), [args[0]], 0)
    for _ in range(3):
        given = [a.copy() for a in args]
        np.testing.assert_allclose(df(*given), want, rtol=1e-6, atol=1e-8)
        if given_after is not None:
            python = [a.copy() for a in args]
            f(*python)
            for mine, theirs in zip(given, python):
                np.testing.assert_array_equal(mine, theirs)


def test_positional_output_of_a_reduction_is_followed():
    _check(summed_into, [np.arange(3.0) + 1.0, np.zeros(())], given_after=True)


def test_positional_ufunc_output_is_left_in_the_caller():
    x, y = np.arange(3.0) + 1.0, np.ones(3)
    df = sg.grad(doubled_in_place)
    for _ in range(3):
        given = y.copy()
        np.testing.assert_allclose(df(x, given), 2.0 * y, rtol=1e-12)
        np.testing.assert_array_equal(given, 2.0 * y)  # as Python's call leaves it


@pytest.mark.parametrize("f", [scaled_in_place, local_sum_into])
def test_positional_outputs_of_local_arrays(f):
    x = np.array([0.3, -0.7, 1.1])
    df = sg.value_and_grad(f)
    want = numerical_grad(f, [x], 0)
    for _ in range(3):
        value, g = df(x.copy())
        assert value == f(x.copy())
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_the_shown_code_writes_the_output():
    shown = sg.show(doubled_in_place, args=(np.ones(3), np.ones(3)))
    assert "[...] = np.multiply(y, 2.0)" in shown
    assert "write_back(y," in shown


def test_outputs_of_two_given_by_position_are_refused_with_the_assignment_to_write():
    with pytest.raises(sg.SourcegradError) as caught:
        sg.grad(divmod_into)(np.array([0.3, -0.7, 1.1]))
    message = str(caught.value)
    assert "test_positional_outputs.py:" in message
    assert "`q, r = np.divmod(x, 0.75)`" in message


def test_a_zero_dimensional_array_argument_written_is_left_as_python_leaves_it():
    x = np.array([0.3, -0.7, 1.1])
    _check(summed_into, [x, np.zeros(())], given_after=True)
    df = sg.grad(doubled_in_place)
    for _ in range(3):
        y = np.array(1.5)
        df(x, y)
        assert y == 3.0


def method_into_expression(x, y):
    (x * x).sum(0, out=y)
    return np.sum(x * y)


def method_into_parameter(x, y):
    x.sum(0, out=y)
    return np.sum(x * y)


def method_by_position(x, y):
    z = x * x
    z.sum(0, None, y)
    return np.sum(x * y)


@pytest.mark.parametrize("f", [method_into_expression, method_into_parameter])
def test_an_array_methods_output_is_followed(f):
    # (`(x * x).sum(0, out=y)` was read as returning a new array: a wrong gradient)
    _check(f, [np.arange(6.0).reshape(2, 3) / 5.0, np.zeros(3)], given_after=True)


def test_an_array_methods_output_by_position_is_refused_with_the_keyword_to_write():
    with pytest.raises(sg.SourcegradError) as caught:
        sg.grad(method_by_position)(np.ones((2, 3)), np.zeros(3))
    message = str(caught.value)
    assert "test_positional_outputs.py:" in message and "give it as `out=y`" in message


def result_named_and_read(x):
    a = np.tanh(x) * 2.0
    b = np.cumsum(a, 0, None, a)
    return np.sum(a * x) + np.sum(b * b)


def result_named_output_dead(x):
    a = np.tanh(x) * 2.0
    b = np.cumsum(a, 0, None, a)  # (nothing reads `a` again: `b` is all there is)
    return np.sum(b * x)


def test_a_result_named_while_its_output_is_dead_is_followed():
    x = np.array([0.3, -0.7, 1.1])
    df = sg.value_and_grad(result_named_output_dead)
    want = numerical_grad(result_named_output_dead, [x], 0)
    for _ in range(3):
        value, g = df(x.copy())
        assert value == result_named_output_dead(x.copy())
        np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)


def test_a_result_named_while_its_output_is_read_again_is_refused_with_both_ways_out():
    with pytest.raises(sg.SourcegradError) as caught:
        sg.grad(result_named_and_read)(np.array([0.3, -0.7, 1.1]))
    message = str(caught.value)
    assert "test_positional_outputs.py:" in message
    assert "`a[...] = np.cumsum(a, 0, None)`" in message
    assert "`b = np.cumsum(a, 0, None)`" in message


def reduced_into(x, y):
    np.add.reduce(x * x, 0, None, y)
    return np.sum(x * y)


def reduced_into_keyword(x, y):
    np.multiply.reduce(x, 0, out=y)
    return np.sum(x * y)


def accumulated_into(x, y):
    np.add.accumulate(x * x, 0, None, y)
    return np.sum(x * y)


@pytest.mark.parametrize("f", [reduced_into, reduced_into_keyword, accumulated_into])
def test_a_ufunc_methods_output_is_followed(f):
    # (`np.add.reduce(a, 0, None, y)`, or `out=y`, was read as returning a new array: the
    # derivative took `y` as the zeros it held, a wrong gradient)
    x = np.array([0.3, -0.7, 1.1])
    _check(f, [x, np.zeros(3) if f is accumulated_into else np.zeros(())], given_after=True)


def reduced_into_a_buffer_read_again(x, c):
    buf = np.zeros(x.shape[0])
    m = np.add.reduce(c, 0, None, buf)  # m is buf
    return np.sum(np.exp(x * m)) + np.sum(x * buf) * 2.0


def test_a_ufunc_methods_result_named_while_its_buffer_is_read_again_is_refused():
    # (the call was kept as written and `buf` read as a constant: the gradient w.r.t. `c`
    # lacked the path through `buf`, 0.31 where central differences give 0.51)
    x, c = np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) / 10
    with pytest.raises(sg.SourcegradError) as caught:
        sg.grad(reduced_into_a_buffer_read_again, 1)(x, c)
    assert "`buf[...] = np.add.reduce(c, 0, None)`" in str(caught.value)
