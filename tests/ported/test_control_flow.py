"""Python control flow, nested functions, closures, lambdas, recursion and array writes, ported
from JAX's tests/api_test.py (python control flow under grad), HIPS/autograd
tests/test_graphs.py (fan-out, enclosing scope, mutation of locals) and the PyTorch tutorials
("Control flow + weight sharing", the numpy/autograd warm-ups: polynomial fit, two-layer
net)."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, check, params

R = np.random.default_rng(47)
X = R.standard_normal(5)
M = R.standard_normal((4, 3))
SCALE = 1.7

# ------------------------------------------------------------------ if / for / while


def jax_if(x):
    if x > 0.0:
        return x * x * 3.0
    return np.sin(x)


def jax_if_else_assign(x):
    if x < 3:
        y = 2.0 * x
    else:
        y = 3.0 * x**2
    return y


def jax_while(x):
    n = 0
    while n < 4:
        x = x * np.cos(x)
        n = n + 1
    return x


def while_data_dependent(x):
    steps = 0
    while x < 10.0:
        x = x * 1.5 + 0.1
        steps += 1
    return x * steps


def newton_sqrt(a):
    x = a
    for _ in range(20):
        x = 0.5 * (x + a / x)
    return x


def newton_while(a):
    x = a
    while np.abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def for_break(x):
    total = 0.0
    for i in range(len(x)):
        if x[i] > 1.0:
            break
        total = total + x[i] ** 2
    return total


def for_continue(x):
    total = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            continue
        total = total + np.sin(x[i]) * i
    return total


def while_break(x):
    i = 0
    acc = 1.0
    while True:
        acc = acc * (1.0 + x[i])
        i += 1
        if i >= 3:
            break
    return acc


def early_return_in_loop(x):
    acc = 0.0
    for v in x:
        acc = acc + v * v
        if acc > 2.0:
            return acc * 10.0
    return acc


def if_elif_chain(x):
    s = np.sum(x)
    if s > 5.0:
        out = np.sum(x**2)
    elif s > 0.0:
        out = np.sum(np.exp(x))
    elif s > -5.0:
        out = np.sum(np.sin(x))
    else:
        out = s
    return out


def nested_loops(m):
    total = 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if (i + j) % 2 == 0:
                total = total + m[i, j] * m[i, j]
            else:
                total = total - np.sin(m[i, j])
    return total


def for_over_rows(m):
    h = np.zeros(3)
    for row in m:
        h = np.tanh(h + row)
    return np.sum(h**2)


def for_over_array_elements(x):
    total = 0.0
    for v in x:
        total = total * 0.5 + np.exp(v)
    return total


def ternary(x):
    y = x * 2.0 if np.sum(x) > 0 else x * -3.0
    return np.sum(y**2)


def walrus(x):
    if (s := np.sum(x**2)) > 1.0:
        return s * 2.0
    return s


def loop_carried_array(x):
    h = x
    for _ in range(3):
        h = np.sin(h) + h * 0.5
    return np.sum(h)


def loop_accumulate_list(x):
    outs = []
    h = x
    for i in range(3):
        h = np.tanh(h * (i + 1.0))
        outs.append(np.sum(h))
    return outs[0] + outs[1] * outs[2]


def while_with_else_return(x):
    n = 0
    while n < 3 and np.sum(x) < 100.0:
        x = x * 2.0 + 1.0
        n += 1
    return np.sum(np.sin(x))


def loop_shadow_param(x):
    for x_i in x:
        x = x * x_i
    return np.sum(x)


def bool_and_or(x):
    a = np.sum(x)
    b = np.sum(x**2)
    return (a > 0 and a * b) or b


# ------------------------------------------------------------------ functions


def _helper_square(v):
    return v * v


def _helper_two_outputs(v):
    return np.sin(v), np.cos(v)


def _helper_default(v, k=2.0):
    return v * k


def _helper_kwonly(v, *, scale):
    return v * scale


def calls_helpers(x):
    a, b = _helper_two_outputs(x)
    return np.sum(_helper_square(a) + b + _helper_default(x) + _helper_default(x, k=3.0))


def calls_kwonly(x):
    return np.sum(_helper_kwonly(x, scale=3.0) ** 2)


def nested_def(x):
    def inner(v):
        return np.tanh(v) * 2.0

    return np.sum(inner(inner(x)))


def nested_def_reads_const(x):
    k = 3.0

    def inner(v):
        return v * k

    return np.sum(inner(x) ** 2)


def nested_def_reads_active(x):
    y = x * 2.0

    def inner(v):
        return v * y

    return np.sum(inner(x))


def lambda_local(x):
    sq = lambda v: v * v  # noqa: E731
    return np.sum(sq(x) + sq(np.sin(x)))


def lambda_closure_const(x):
    f = lambda v: v * SCALE  # noqa: E731
    return np.sum(f(x) ** 2)


def global_closure(x):
    return np.sum(x * SCALE) ** 2


def _make_scaler(k):
    def scale(v):
        return v * k

    return scale


SCALER = _make_scaler(2.5)


def closure_from_factory(x):
    return np.sum(SCALER(x) ** 2)


def _power_rec(x, n):
    if n == 0:
        return 1.0
    return x * _power_rec(x, n - 1)


def recursion(x):
    return _power_rec(x, 4)


def _sum_list_rec(xs):
    if len(xs) == 1:
        return np.sum(xs[0] ** 2)
    return np.sum(xs[0] ** 2) + _sum_list_rec(xs[1:])


def recursion_on_list(xs):
    return _sum_list_rec(xs)


def _fib_like(x, n):
    if n <= 1:
        return x
    return _fib_like(x, n - 1) * 0.5 + np.sin(_fib_like(x, n - 2))


def recursion_branching(x):
    return _fib_like(x, 4)


def fanout(x):
    y = np.sin(x)
    return np.sum(y * y + y)


def grad_const(x):
    return 1.0 + 0.0 * np.sum(x)


def const_function(x):
    return 5.0


def identity_sum(x):
    return np.sum(x)


ACTS = {"tanh": np.tanh, "sin": np.sin}


def function_value_from_dict(x):
    h = x
    for name in ["tanh", "sin"]:
        h = ACTS[name](h)
    return np.sum(h**2)


# ------------------------------------------------------------------ array writes


def setitem_loop(x):
    y = np.zeros(5)
    for i in range(5):
        y[i] = x[i] * x[(i + 1) % 5]
    return np.sum(y**2)


def setitem_slice(x):
    y = np.ones((2, 5))
    y[0, :] = np.sin(x)
    y[1, 1:4] = x[1:4] * 2.0
    return np.sum(y * y)


def setitem_augassign(x):
    y = x * 1.0
    y[1:3] += x[0] * 2.0
    y[0] *= 3.0
    return np.sum(y**2)


def setitem_fancy(x):
    y = np.zeros(5)
    y[[0, 2, 4]] = x[:3] ** 2
    return np.sum(y * np.arange(5.0))


def setitem_mask(x):
    y = x.copy()
    y[y < 0] = 0.0
    return np.sum(y**2)


def setitem_mask_values(x):
    y = x * 1.0
    m = x > 0
    y[m] = np.sqrt(x[m])
    return np.sum(y)


def setitem_overwrites_then_reads(x):
    y = x * 2.0
    a = np.sum(y**2)
    y[0] = 10.0
    return a + np.sum(y**3)


def setitem_row_of_matrix(m):
    out = np.zeros((4, 3))
    for i in range(4):
        out[i] = np.tanh(m[i] + out[i - 1])
    return np.sum(out**2)


def alias_view_write(x):
    """A write through a basic view is followed into its base, not refused."""
    y = x * 1.0
    z = y[1:]
    z[0] = 5.0
    return np.sum(y**2)


def cumulative_product_write(x):
    out = np.ones(5)
    for i in range(1, 5):
        out[i] = out[i - 1] * x[i]
    return np.sum(out)


def setitem_repeated_index(x):
    y = np.zeros(3)
    y[[0, 0, 1]] = x[:3]
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def augassign_repeated_index(x):
    y = x * 1.0
    y[[0, 0, 1]] += x[:3] * 2.0
    return np.sum(y**2)


def ufunc_add_at(x):
    y = np.zeros(3)
    np.add.at(y, [0, 0, 1], x[:3])
    return np.sum(y**2)


def setitem_broadcast(x):
    y = np.zeros((5, 5))
    y[:, 1] = x[0]
    y[0] = x
    return np.sum(y**2 * np.arange(25.0).reshape(5, 5))


def setitem_negative_step(x):
    y = np.zeros(5)
    y[::-2] = x[:3]
    return np.sum(y * np.arange(5.0))


def setitem_2d_fancy(m):
    y = m * 1.0
    y[[0, 2], [1, 0]] = m[1, 1] * 3.0
    return np.sum(y**2)


def swap_rows(m):
    y = m.copy()
    y[[0, 1]] = y[[1, 0]]
    return np.sum(y * np.arange(12.0).reshape(4, 3))


def setitem_shift_self(x):
    y = x * 1.0
    y[1:] = y[:-1] * 2.0
    return np.sum(y**2)


def setitem_in_while(x):
    y = np.zeros(3)
    i = 0
    while i < 3:
        y[i] = np.sum(x[: i + 1] ** 2)
        i += 1
    return np.sum(y * y)


def inplace_through_second_name(x):
    """``z += 1.0`` through a second name of ``y`` changes ``y`` too: followed, not refused."""
    y = x * 1.0
    z = y
    z += 1.0
    return np.sum(y * z)


def def_in_loop(x):
    total = 0.0
    for k in range(3):

        def f(v, k=k):
            return v * (k + 1.0)

        total = total + np.sum(f(x))
    return total


def lambda_in_loop(x):
    total = 0.0
    for k in range(3):
        g = lambda v, k=k: v * (k + 1.0)  # noqa: E731
        total = total + np.sum(g(x) ** 2)
    return total


def for_else(m):
    t = 0.0
    for i in range(m.shape[0]):
        if m[i, 0] > 5.0:
            break
        t = t + np.sum(m[i] ** 2)
    else:
        t = t * 2.0
    return t


def while_continue(x):
    i = 0
    t = 0.0
    while i < len(x):
        i += 1
        if x[i - 1] < 0:
            continue
        t = t + x[i - 1] ** 2
    return t


def return_in_nested_loops(m):
    t = 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            t = t + np.sin(m[i, j])
            if t > 1.5:
                return t * 2.0
    return t


def setitem_then_break(x):
    y = x.copy()
    for i in range(len(y)):
        y[i] = y[i] * 2.0 + y[i - 1]
        if np.sum(y) > 3.0:
            break
    return np.sum(y**2)


def dict_written_in_loop(p):
    out = {}
    for k, v in p.items():
        out[k] = np.tanh(v) * 2.0
    return sum(np.sum(v**2) for v in out.values())


def swap_in_loop(x):
    a, b = x[0], x[1]
    for _ in range(3):
        a, b = b, a * b + 1.0
    return a + b


def augassign_in_branches(x):
    t = x * 1.0
    for i in range(3):
        if i % 2:
            t += np.sin(t)
        else:
            t *= 1.5
    return np.sum(t)


def nested_while(x):
    i = 0
    t = 0.0
    while i < 3:
        j = 0
        while j < 2:
            t = t + x[i] * x[j]
            j += 1
        i += 1
    return t


def early_return_on_container(p):
    if p["flag"] > 0:
        return np.sum(p["a"] ** 2)
    return np.sum(p["b"] ** 3)


def while_on_array_state(x):
    h = x
    n = 0
    while np.max(np.abs(h)) > 0.1 and n < 50:
        h = h * 0.7
        n += 1
    return np.sum(h) * n


# ------------------------------------------------------------------ PyTorch tutorials


def torch_poly_fit(coef, xs, ys):
    a, b, c, d = coef[0], coef[1], coef[2], coef[3]
    y_pred = a + b * xs + c * xs**2 + d * xs**3
    return np.sum((y_pred - ys) ** 2)


def torch_two_layer(params, x, y):
    h = x @ params["w1"]
    h_relu = np.maximum(h, 0.0)
    y_pred = h_relu @ params["w2"]
    return np.sum((y_pred - y) ** 2)


def torch_dynamic_net(p, xs, ys, n_middle):
    y = xs * p[0] + p[1]
    for exp in range(4, n_middle + 4):
        y = y + p[2] * xs**exp
    return np.sum((y - ys) ** 2)


XS = np.linspace(-1.0, 1.0, 7)
YS = np.sin(XS)


CASES = [
    Case("jax_if_pos", jax_if, (0.7,), order=2),
    Case("jax_if_neg", jax_if, (-0.7,), order=2),
    Case("jax_if_else_assign_lo", jax_if_else_assign, (1.0,), order=2),
    Case("jax_if_else_assign_hi", jax_if_else_assign, (4.0,), order=2),
    Case("jax_while", jax_while, (0.7,), order=2),
    Case("while_data_dependent", while_data_dependent, (0.3,), order=2),
    Case("newton_sqrt", newton_sqrt, (2.0,), order=2),
    Case("newton_while", newton_while, (2.0,), order=2),
    Case("for_break", for_break, (np.array([0.3, -0.4, 0.5, 1.5, 0.2]),), order=2),
    Case("for_continue", for_continue, (X,), order=2),
    Case("while_true_break", while_break, (X,), order=2),
    Case("early_return_hit", early_return_in_loop, (np.array([0.5, 1.2, 0.9, 2.0]),), order=2),
    Case("early_return_miss", early_return_in_loop, (np.array([0.5, 0.2, 0.1]),), order=2),
    Case("if_elif_chain_0", if_elif_chain, (X + 2.0,), order=2),
    Case("if_elif_chain_1", if_elif_chain, (X * 0.0 + 0.5,), order=2),
    Case("if_elif_chain_2", if_elif_chain, (X * 0.0 - 0.5,), order=2),
    Case("if_elif_chain_3", if_elif_chain, (X * 0.0 - 2.0,)),
    Case("nested_loops", nested_loops, (M,), order=2),
    Case("for_over_rows", for_over_rows, (M,), order=2),
    Case("for_over_array_elements", for_over_array_elements, (X,), order=2),
    Case("ternary_pos", ternary, (np.abs(X),), order=2),
    Case("ternary_neg", ternary, (-np.abs(X),), order=2),
    Case("walrus", walrus, (X,), order=2),
    Case("loop_carried_array", loop_carried_array, (X,), order=2),
    Case("loop_accumulate_list", loop_accumulate_list, (X,), order=2),
    Case("while_compound_condition", while_with_else_return, (X,), order=2),
    Case("loop_shadow_param", loop_shadow_param, (X * 0.5,), order=2),
    Case("bool_and_or_pos", bool_and_or, (np.abs(X),), order=2),
    Case("bool_and_or_neg", bool_and_or, (-np.abs(X),), order=2),
    Case("calls_helpers", calls_helpers, (X,), order=2),
    Case("calls_kwonly", calls_kwonly, (X,), order=2),
    Case("nested_def", nested_def, (X,), order=2),
    Case("nested_def_reads_const", nested_def_reads_const, (X,), order=2),
    Case("nested_def_reads_active", nested_def_reads_active, (X,), order=2),
    Case("lambda_local", lambda_local, (X,), order=2),
    Case("lambda_closure_const", lambda_closure_const, (X,), order=2),
    Case("global_closure", global_closure, (X,), order=2),
    Case("closure_from_factory", closure_from_factory, (X,), order=2),
    Case("recursion", recursion, (0.7,), order=2),
    Case("recursion_on_list", recursion_on_list, ([X, M, X * 2.0],), order=2),
    Case("recursion_branching", recursion_branching, (0.7,), order=2),
    Case("fanout", fanout, (X,), order=2),
    Case("grad_const", grad_const, (X,), order=2),
    Case("const_function", const_function, (X,)),
    Case("identity_sum", identity_sum, (X,), order=2),
    Case("function_value_from_dict", function_value_from_dict, (X,), order=2),
    Case("setitem_loop", setitem_loop, (X,), order=2),
    Case("setitem_slice", setitem_slice, (X,), order=2),
    Case("setitem_augassign", setitem_augassign, (X,), order=2),
    Case("setitem_fancy", setitem_fancy, (X,), order=2),
    Case("setitem_mask", setitem_mask, (X,), order=2),
    Case("setitem_mask_values", setitem_mask_values, (X,), order=2),
    Case("setitem_overwrite_then_read", setitem_overwrites_then_reads, (X,), order=2),
    Case("setitem_row_recurrence", setitem_row_of_matrix, (M,), order=2),
    Case("alias_view_write_followed", alias_view_write, (X,), order=2),
    Case("cumulative_product_write", cumulative_product_write, (X,), order=2),
    Case("setitem_repeated_index", setitem_repeated_index, (X,), order=2),
    Case("augassign_repeated_index", augassign_repeated_index, (X,), order=2),
    Case("ufunc_add_at", ufunc_add_at, (X,), order=2),
    Case("setitem_broadcast", setitem_broadcast, (X,), order=2),
    Case("setitem_negative_step", setitem_negative_step, (X,), order=2),
    Case("setitem_2d_fancy", setitem_2d_fancy, (M,), order=2),
    Case("swap_rows", swap_rows, (M,), order=2),
    Case("setitem_shift_self", setitem_shift_self, (X,), order=2),
    Case("setitem_in_while", setitem_in_while, (X,), order=2),
    Case("inplace_through_second_name_followed", inplace_through_second_name, (X,), order=2),
    Case(
        "def_in_loop",
        def_in_loop,
        (X,),
        order=2,
    ),
    Case("lambda_in_loop", lambda_in_loop, (X,), order=2),
    Case("for_else", for_else, (M,), order=2),
    Case("for_else_broken", for_else, (M * 20.0 + 0.5,)),
    Case("while_continue", while_continue, (X,), order=2),
    Case("return_in_nested_loops", return_in_nested_loops, (np.abs(M),), order=2),
    Case("setitem_then_break", setitem_then_break, (np.abs(X),), order=2),
    Case("dict_written_in_loop", dict_written_in_loop, ({"a": X, "b": X[:2]},), order=2),
    Case("swap_in_loop", swap_in_loop, (X,), order=2),
    Case("augassign_in_branches", augassign_in_branches, (X,), order=2),
    Case("nested_while", nested_while, (X,), order=2),
    Case(
        "early_return_on_container_a",
        early_return_on_container,
        ({"flag": 1.0, "a": X, "b": X[:2]},),
        order=2,
    ),
    Case(
        "early_return_on_container_b",
        early_return_on_container,
        ({"flag": -1.0, "a": X, "b": X[:2]},),
        order=2,
    ),
    Case("while_on_array_state", while_on_array_state, (X,), order=2),
    Case("torch_poly_fit", torch_poly_fit, (R.standard_normal(4), XS, YS), order=2),
    Case(
        "torch_two_layer",
        torch_two_layer,
        (
            {"w1": R.standard_normal((3, 6)), "w2": R.standard_normal((6, 2))},
            R.standard_normal((5, 3)),
            R.standard_normal((5, 2)),
        ),
        order=2,
    ),
    Case("torch_dynamic_net_0", torch_dynamic_net, (R.standard_normal(3), XS, YS, 0), order=2),
    Case("torch_dynamic_net_2", torch_dynamic_net, (R.standard_normal(3), XS, YS, 2), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_control_flow(case):
    check(case)
