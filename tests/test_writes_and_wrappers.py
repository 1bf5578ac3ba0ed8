"""Writes into an existing array (``out=``, ``np.copyto``, ``y.fill``, ``y.sort()``,
``z += v`` through a second name), functions reached through a ``functools.wraps`` wrapper,
and function values made in loops and comprehensions: each gives Python's value and the
right derivative, or is refused naming the line and the way out.

Values are checked against plain Python, gradients against central differences, every
derivative is called three times (the optimized code runs from the second call) and, with
``order=2``, the Hessian-vector product against differences of the gradient
(``tests/ported/harness.py``)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

X = np.array([0.8, -2.0, 0.3])
M = np.array([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]])

# ------------------------------------------------------------------ writes followed exactly


def out_keyword(x):
    y = np.empty(3)
    np.exp(x, out=y)
    return np.sum(y * x)


def out_by_position(x):
    y = np.zeros(3)
    np.multiply(x, x, y)
    return np.sum(np.sin(y))


def out_after_old_value_read(x):
    y = np.exp(x)
    a = y * 2.0
    np.exp(-x, out=y)
    return np.sum(a * y) + np.sum(y)


def out_in_loop(x):
    y = x * 1.0
    for _ in range(3):
        np.sin(y, out=y)
        np.multiply(y, x, out=y)
    return np.sum(y)


def out_of_reduction(m):
    y = np.zeros(3)
    np.sum(m * m, axis=0, out=y)
    return np.sum(y * np.arange(3.0))


def out_as_tuple(x):
    y = np.empty(3)
    np.tanh(x, out=(y,))
    return np.sum(y**2)


def method_out(m):
    y = np.zeros(3)
    m2 = m * m
    m2.sum(axis=0, out=y)
    return np.sum(y * np.arange(3.0))


def clip_method_into_itself(x):
    y = x * 1.0
    y.clip(-0.5, 0.5, out=y)
    return np.sum(y**2)


def own_function(a, out=None):
    return a * 2.0 if out is None else a * 3.0


def own_function_taking_out(x):
    y = np.zeros(3)
    z = own_function(x, out=y)  # not NumPy's out=: the function decides what it means
    return np.sum(z * x)


def copyto_broadcast(x):
    y = np.zeros((2, 3))
    np.copyto(y, x)
    return np.sum(y * M)


def fill_then_read(x):
    y = x * 2.0
    before = np.sum(y * x)
    y.fill(1.5)
    return before + np.sum(y * x)


def sort_method(x):
    y = x * x
    y.sort()
    return np.sum(y * np.arange(3.0))


def sort_axis_in_loop(m):
    y = m * 1.0
    t = 0.0
    for _ in range(2):
        y = y * m
        y.sort(axis=0)
        t = t + np.sum(y * np.arange(6.0).reshape(2, 3))
    return t


def sort_of_constant_list(x):
    ks = [3.0, 1.0, 2.0]
    ks.sort()
    return np.sum(x * ks[0]) + np.sum(x**2 * ks[2])


def augmented_number_through_second_name(x):
    s = np.sum(x)
    t = s
    t += 2.0 * x[0]
    return s * t


# ------------------------------------------------------------------ writes refused


def out_value_read(x):
    y = np.empty(3)
    z = np.exp(x, out=y)  # (`y` is read nowhere after: `z` is all there is)
    return np.sum(z)


def out_into_item(x):
    y = np.zeros((2, 3))
    np.exp(x, out=y[0])  # REFUSED
    return np.sum(y)


def out_where(x):
    y = np.zeros(3)
    np.exp(x, out=y, where=x > 0)  # REFUSED
    return np.sum(y)


def out_into_second_name(x):
    y = x * 1.0
    z = y
    np.exp(x, out=z)  # (followed: y changes too)
    return np.sum(y)


def put_into(x):
    y = x * 1.0
    np.put(y, [0], 5.0)  # REFUSED
    return np.sum(y**2)


def add_at(x):
    y = np.zeros(3)
    np.add.at(y, [0, 0, 1], x[:3])
    return np.sum(y**2)


def fill_diagonal(x):
    y = np.outer(x, x)
    np.fill_diagonal(y, 0.0)
    return np.sum(y)


def fill_diagonal_after_a_differentiated_read(x):
    a = np.ones((3, 3))
    z = a @ x
    np.fill_diagonal(a, -2)
    return np.sum(z**2) + np.sum(a @ x)


def fill_diagonal_of_a_wide_matrix(x):
    y = np.tanh(np.outer(x, np.arange(5.0)))
    np.fill_diagonal(y, np.pi)
    return np.sum(y**2 * np.arange(15.0).reshape(3, 5))


def fill_diagonal_with_an_array(x):
    y = np.outer(x, x)
    np.fill_diagonal(y, x)
    return np.sum(y)


def fill_diagonal_with_an_array_after_a_differentiated_read(x):
    a = np.ones((3, 3))
    z = a @ x
    np.fill_diagonal(a, np.zeros(3))
    return np.sum(z**2) + np.sum(a @ x)


def put_in_loop_after_a_differentiated_read(x):
    y = np.zeros(3)
    t = 0.0
    for i in range(3):
        t = t + np.sum(y * x)
        np.put(y, [i], 1.0)  # REFUSED
    return t


def put_into_a_constant_before_it_is_read(x):
    y = np.zeros(3)
    np.put(y, [0], 1.0)
    return np.sum(y * x**2)


def shuffle_with_a_generator(x):
    y = x * 2.0
    rng = np.random.default_rng(0)
    rng.shuffle(y)  # REFUSED
    return np.sum(y * np.arange(3.0))


def sort_differentiated_list(x):
    ys = [x[0], x[1] * 2.0]
    ys.sort()
    return ys[0] * 3.0


def augmented_second_name(x):
    y = x * 1.0
    z = y
    z *= 2.0  # (followed: y changes too)
    return np.sum(y * z)


def augmented_name_read_through_another(x):
    y = x * 1.0
    w = y
    y += 1.0  # (followed: w changes too)
    return np.sum(w * y)


def augmented_second_name_in_loop(x):
    y = x * 1.0
    t = 0.0
    for _ in range(2):
        y += x  # REFUSED
        z = y
        t = t + np.sum(z)
    return t


# ------------------------------------------------------------------ wrappers


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)

    return wrapper


@doubled
def wrapped(x):
    return np.sum(np.sin(x) * x)


def calls_wrapped(x):
    return wrapped(x * x) + np.sum(x)


# ------------------------------------------------------------------ function values


def def_in_loop(x):
    total = 0.0
    for k in range(3):

        def f(v, k=k):
            return np.sin(v) * (k + 1.0)

        total = total + np.sum(f(x) ** 2)
    return total


def def_in_loop_reading_counter(x):
    total = 0.0
    for k in range(3):

        def f(v):
            return v * (k + 1.0)  # noqa: B023

        total = total + np.sum(f(x) * x)
    return total


def def_redefined(x):
    def f(v):
        return v * 2.0

    a = f(x)

    def f(v):  # noqa: F811
        return np.sin(v) * 3.0

    return np.sum(a * f(x))


def def_in_loop_with_return_in_loop(x):
    total = 0.0
    for k in range(3):

        def f(v, k=k):
            for _ in range(2):
                return v * (k + 1.0)

        total = total + np.sum(f(x) ** 2)
    return total


def lambdas_in_comprehension(x):
    fs = [lambda v, k=k: v * k for k in range(1, 4)]
    return np.sum(fs[0](x) ** 2) + np.sum(fs[2](x) * x)


def lambda_parameter_named_like_a_versioned_local(x):
    k = 2.0
    k = k * 3.0
    f = lambda v, k=1.0: v * k  # noqa: E731
    return np.sum(f(x) ** 2) * k


def comprehension_in_lambda_body(x):
    k = 5.0
    f = lambda v: sum([v * k for k in range(1, 3)])  # noqa: E731
    return np.sum(f(x) ** 2) + k


def lambda_reads_variable_changed_later(x):
    total = 0.0
    s = 1.0
    for _ in range(3):
        s = s + 1.0
        g = lambda v: v * s  # noqa: E731, B023
        total = total + np.sum(g(x) ** 2)  # s is passed to g as an argument
    return total


def def_reads_variable_changed_before(x):
    s = 1.0
    s = s * 3.0

    def g(v):
        return v * s

    return np.sum(g(x) ** 2)


def lambda_reads_variable_as_default(x):
    total = 0.0
    s = 1.0
    for _ in range(3):
        s = s + 1.0
        g = lambda v, s=s: v * s  # noqa: E731
        total = total + np.sum(g(x) ** 2)
    return total


CASES = [
    Case("out_keyword", out_keyword, (X,), order=2),
    Case("out_by_position", out_by_position, (X,), order=2),
    Case("out_after_old_value_read", out_after_old_value_read, (X,), order=2),
    Case("out_in_loop", out_in_loop, (X,), order=2),
    Case("out_of_reduction", out_of_reduction, (M,), order=2),
    Case("out_as_tuple", out_as_tuple, (X,), order=2),
    Case("method_out", method_out, (M,), order=2),
    Case("clip_method_into_itself", clip_method_into_itself, (X,), order=2),
    Case("own_function_taking_out", own_function_taking_out, (X,), order=2),
    Case("copyto_broadcast", copyto_broadcast, (X,), order=2),
    Case("fill_then_read", fill_then_read, (X,), order=2),
    Case("sort_method", sort_method, (X,), order=2),
    Case("sort_axis_in_loop", sort_axis_in_loop, (M,), order=2),
    Case("sort_of_constant_list", sort_of_constant_list, (X,), order=2),
    Case("augmented_number", augmented_number_through_second_name, (X,), order=2),
    Case("out_value_read", out_value_read, (X,), order=2),
    Case("out_into_item", out_into_item, (X,), refused=(sg.UnsupportedSyntaxError, "assign")),
    Case("out_where", out_where, (X,), refused=(sg.UnsupportedSyntaxError, "np.where")),
    Case("out_into_second_name", out_into_second_name, (X,), order=2),
    Case("put", put_into, (X,), refused=(sg.UnsupportedSyntaxError, "`y[idx] = v`")),
    Case("add_at", add_at, (X,), order=2),
    Case("fill_diagonal", fill_diagonal, (X,), order=2),
    Case(
        "fill_diagonal_after_a_differentiated_read",
        fill_diagonal_after_a_differentiated_read,
        (X,),
        order=2,
    ),
    Case("fill_diagonal_of_a_wide_matrix", fill_diagonal_of_a_wide_matrix, (X,), order=2),
    Case(
        "fill_diagonal_with_an_array",
        fill_diagonal_with_an_array,
        (X,),
        order=2,
    ),
    Case(
        "fill_diagonal_with_an_array_after_a_differentiated_read",
        fill_diagonal_with_an_array_after_a_differentiated_read,
        (X,),
        order=2,
    ),
    Case(
        "put_in_loop_after_a_differentiated_read",
        put_in_loop_after_a_differentiated_read,
        (X,),
        refused=(sg.UnsupportedSyntaxError, "`y[idx] = v`"),
    ),
    Case(
        "shuffle_with_a_generator",
        shuffle_with_a_generator,
        (X,),
        refused=(sg.UnsupportedSyntaxError, "rng.permutation(y)"),
    ),
    Case("put_into_a_constant", put_into_a_constant_before_it_is_read, (X,), order=2),
    Case("sort_differentiated_list", sort_differentiated_list, (X,), order=2),
    Case("augmented_second_name", augmented_second_name, (X,), order=2),
    Case("augmented_name_read_through_another", augmented_name_read_through_another, (X,), order=2),
    Case(
        "augmented_second_name_in_loop",
        augmented_second_name_in_loop,
        (X,),
        refused=(sg.UnsupportedSyntaxError, ".copy()"),
    ),
    Case("wraps_decorated", wrapped, (X,), order=2),
    Case("calls_wraps_decorated", calls_wrapped, (X,), order=2),
    Case("def_in_loop", def_in_loop, (X,), order=2),
    Case("def_in_loop_reading_counter", def_in_loop_reading_counter, (X,), order=2),
    Case("def_redefined", def_redefined, (X,), order=2),
    Case("def_with_return_in_loop", def_in_loop_with_return_in_loop, (X,), order=2),
    Case("lambda_reads_variable_changed_later", lambda_reads_variable_changed_later, (X,), order=2),
    Case("def_reads_variable_changed_before", def_reads_variable_changed_before, (X,), order=2),
    Case("lambda_reads_variable_as_default", lambda_reads_variable_as_default, (X,), order=2),
    Case("lambdas_in_comprehension", lambdas_in_comprehension, (X,), order=2),
    Case("lambda_parameter_shadows", lambda_parameter_named_like_a_versioned_local, (X,), order=2),
    Case("comprehension_in_lambda_body", comprehension_in_lambda_body, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_write_or_wrapper(case):
    check(case)


def test_a_wraps_wrapper_is_differentiated_from_its_own_code():
    """The wrapper doubles: the value and gradient are twice the wrapped function's."""
    value, g = sg.value_and_grad(wrapped)(X)
    assert value == pytest.approx(2.0 * np.sum(np.sin(X) * X))
    np.testing.assert_allclose(g, 2.0 * (np.cos(X) * X + np.sin(X)), rtol=1e-12)
