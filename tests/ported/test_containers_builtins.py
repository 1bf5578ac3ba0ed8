"""Containers, builtins, scalar and binary operators, comparisons and logic, ported from
HIPS/autograd tests/test_dict.py, test_list.py, test_tuple.py, test_builtins.py,
test_scalar_ops.py, test_binary_ops.py and test_logic.py."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(31)
X = R.standard_normal(4)
Y = R.standard_normal(4)
M = R.standard_normal((3, 4))
Point = namedtuple("Point", "x y")

# ------------------------------------------------------------------ dict (test_dict.py)


def dict_fun(d):
    a = np.sum(np.sin(d["item_1"]))
    b = np.sum(np.cos(d["item_2"]))
    return a + b


def dict_iter(d):
    total = 0.0
    for k in d:
        total = total + np.sum(np.sin(d[k]))
    return total


def dict_items(d):
    total = 0.0
    for k, v in d.items():
        total = total + np.sum(v * v) * (2.0 if k == "a" else 1.0)
    return total


def dict_values(d):
    return sum(np.sum(np.tanh(v)) for v in d.values())


def dict_get(d):
    return np.sum(d.get("a") ** 2) + np.sum(d.get("missing", np.ones(4)) * d["b"])


def dict_make(x):
    d = dict(a=x, b=np.sin(x))
    return np.sum(d["a"] * d["b"])


def dict_display_result(x):
    d = {"sq": x * x, "cube": x * x * x}
    return np.sum(d["sq"]) + np.sum(d["cube"])


def dict_setitem(x):
    d = {}
    d["a"] = x * 2.0
    d["b"] = np.exp(x)
    return np.sum(d["a"] * d["b"])


def dict_comprehension(x):
    d = {i: x[i] * (i + 1.0) for i in range(len(x))}
    return d[0] * d[3] + d[1]


def dict_comprehension_unread(x):
    d = {i: x[i] for i in range(len(x))}
    return d[0] * 2.0


def dict_isinstance(d):
    if isinstance(d, dict):
        return np.sum(d["a"] ** 2)
    return 0.0


def dict_zip(x, y):
    d = dict(zip(["p", "q"], [x, y]))
    return np.sum(d["p"] * d["q"])


def dict_nested_params(params):
    h = np.tanh(params["layer"]["W"] @ params["x"] + params["layer"]["b"])
    return np.sum(h**2)


# ------------------------------------------------------------------ list (test_list.py)


def list_fun(xs):
    return np.sum(np.sin(xs[0])) + np.sum(np.cos(xs[1])) * xs[2]


def list_slices(xs):
    return sum(np.sum(v**2) for v in xs[1:])


def list_nested(xs):
    return np.sum(xs[0][0] * xs[0][1]) + np.sum(xs[1] ** 3)


def list_make(x, y):
    lst = [x, y, x * y]
    return np.sum(lst[2]) + np.sum(lst[0] ** 2)


def list_append(x):
    hs = []
    h = x
    for _ in range(3):
        h = np.tanh(h * 1.5)
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def list_extend_pop(x):
    lst = [x]
    lst.extend([x * 2.0, x * 3.0])
    last = lst.pop(1)
    return np.sum(last * lst[-1] + lst[0])


def list_negative_index(xs):
    return np.sum(xs[-1] * xs[-2])


def list_len_loop(xs):
    total = 0.0
    for i in range(len(xs)):
        total = total + np.sum(xs[i]) * i
    return total


def list_isinstance(xs):
    if isinstance(xs, list):
        return np.sum(xs[0] * xs[1])
    return 0.0


def list_mul_repeat(x):
    lst = [x] * 3
    return np.sum(np.stack(lst) ** 2)


def list_concat(x, y):
    lst = [x] + [y]
    return np.sum(lst[0] * lst[1])


def list_reverse(x, y):
    lst = [x, y * 2.0]
    lst.reverse()
    return np.sum(lst[0] ** 2 * lst[1])


def list_comprehension_filter(x):
    parts = [x[i] ** 2 for i in range(len(x)) if i % 2 == 0]
    return sum(parts)


# ------------------------------------------------------------------ tuple (test_tuple.py)


def tuple_fun(t):
    a, b = t
    return np.sum(a * np.sin(b))


def tuple_index(t):
    return np.sum(t[0] ** 2) + np.sum(t[1] * t[0])


def tuple_make(x, y):
    t = (x, y)
    return np.sum(t[0] * t[1])


def tuple_nested(t):
    (a, b), c = t
    return np.sum(a * b * c)


def tuple_swap(x, y):
    a, b = x, y * 2.0
    a, b = b, a
    return np.sum(a * np.exp(b))


def namedtuple_arg(p):
    return np.sum(p.x * np.cos(p.y))


def namedtuple_make(x, y):
    p = Point(x, y)  # REFUSED
    return np.sum(p.x * p.y)


def tuple_helper_result(x):
    a, b = _split_half(x)
    return np.sum(a * b)


def _split_half(x):
    return x[:2] * 2.0, np.sin(x[2:])


def star_unpack(xs):
    first, *rest = xs
    return np.sum(first) * np.sum(rest[0])


# ------------------------------------------------------------------ builtins (test_builtins.py)


def b_sum_list(x):
    return sum([x[0], x[1] * 2.0, x[2] ** 2])


def b_sum_generator(x):
    return sum(x[i] * x[i] for i in range(len(x)))


def b_sum_of_array(x):
    return sum(x) ** 2


def b_max_builtin(x):
    return max(x[0] * 2.0, x[1], x[2] ** 2)


def b_min_builtin(x):
    return min(x[0], x[1] * 3.0)


def b_max_of_array(x):
    return max(x) * 2.0


def b_abs_builtin(a):
    return abs(a) * a


def b_abs_array(x):
    return np.sum(abs(x) ** 1.5)


def b_pow_builtin(a):
    return pow(a, 3) + pow(a, 2.5)


def b_len(x):
    return np.sum(x) * len(x)


def b_range_step(x):
    total = 0.0
    for i in range(len(x) - 1, -1, -2):
        total = total + x[i] * (i + 1)
    return total


def b_enumerate(xs):
    total = 0.0
    for i, v in enumerate(xs):
        total = total + np.sum(v) * (i + 1.0)
    return total


def b_enumerate_start(x):
    total = 0.0
    for i, v in enumerate(x, start=1):  # REFUSED
        total = total + v * v * i
    return total


def b_zip(x, y):
    total = 0.0
    for a, b in zip(x, y):
        total = total + a * b
    return total


def b_zip_three(x, y):
    total = 0.0
    for a, b, c in zip(x, y, x * y):
        total = total + a * b * c
    return total


def b_reversed(x):
    total = 0.0
    k = 1.0
    for v in reversed(x):
        total = total + v * k
        k = k * 2.0
    return total


def b_float_cast(x):
    return float(np.sum(x)) ** 2


def b_isinstance_float(a):
    if isinstance(a, float):
        return a * a
    return a


def b_round_in_loop(x):
    n = int(round(2.6))
    return np.sum(x**n)


def b_math_fns(a):
    return math.sin(a) * math.exp(a) + math.sqrt(a * a + 1.0) + math.log(a * a + 2.0)


def b_math_pi(a):
    return math.pi * a * a


def b_divmod_const(x):
    q, r = divmod(7, 3)
    return np.sum(x * q + x * x * r)


# ------------------------------------------------------------------ scalar and binary ops


def s_abs(a):
    return np.abs(a) ** 3


def s_sqrt(a):
    return np.sqrt(a)


def s_power_arg0(a):
    return np.power(a, 3.2)


def s_power_arg1(a):
    return np.power(3.2, a)


def s_power_int(a):
    return a**3 + a**-2


def s_mod(a, b):
    return np.mod(a, b)


def s_op_mod(a, b):
    return a % b


def s_floordiv(a, b):
    return (a // b) * a + b


def s_rpow(a):
    return 2.0**a


def s_neg_pos(a):
    return -(+a) * a


def s_rdiv(a):
    return 1.0 / (1.0 + a * a)


def s_chain(a):
    return np.tanh(np.exp(np.sin(a)) * np.log(a * a + 1.0))


def s_inplace_ops(a):
    b = a
    b += 1.0
    b *= a
    b -= 2.0
    b /= 3.0
    b **= 2
    return b


def s_comparison_grads(x, y):
    return np.sum((x > y) * x + (x <= y) * y * 2.0)


def s_comparison_values(x, y):
    return np.sum(np.where(x == y, 0.0, x) + (x != y) * y)


def s_logic_fns(x, y):
    m = np.logical_and(x > 0, np.logical_not(y > 0.5))
    return np.sum(np.where(m, x * y, x))


def s_isfinite(x):
    return np.sum(np.where(np.isfinite(1.0 / x), x**2, 0.0))


def s_chained_comparison(a):
    if -1.0 < a < 1.0:
        return a * a
    return a


def s_not(a):
    if not a > 0:
        return -a
    return a**3


def s_and_or(a, b):
    return (a > 0 and b) or a * 2.0


def s_bool_mix(x):
    return np.sum(x * (x > 0).astype(float) + np.any(x > 10) * x)


def s_assert(x):
    assert x.shape == (4,)
    return np.sum(x**2)


def s_argmax_nograd(x):
    i = np.argmax(x)
    return x[i] * np.sum(x)


def s_sort(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0]))


def s_falsey(x):
    if np.sum(x) > 0:
        return np.sum(x * 2.0)
    return np.sum(x)


# ------------------------------------------------------------------ containers mixing wrt and
# non-wrt values, container methods (found while porting; same style as test_dict/test_list)


def mix_list(x, y):
    lst = [x, y]
    return np.sum(lst[0] * lst[1] ** 2)


def mix_dict(x, y):
    d = {"a": x, "b": y}
    return np.sum(d["a"] * d["b"] ** 2)


def mix_loop_over_list(x, y):
    total = 0.0
    for v in [x, y]:
        total = total + np.sum(v**2) * np.sum(x)
    return total


def mix_generator(x, y):
    return sum(np.sum(v * x) for v in [x, y])


def mix_list_ctor(x, y):
    lst = list((x, y))
    return np.sum(lst[0] * lst[1])


def dict_setitem_loop_unread(x):
    d = {}
    for i in range(len(x)):
        d[i] = x[i] * 2.0
    return d[1] ** 2


def dict_update(x):
    d = {"a": x}
    d.update({"b": x * 2.0})
    return np.sum(d["a"] * d["b"])


def dict_pop(x):
    d = {"a": x, "b": x * 2.0}
    v = d.pop("a")
    return np.sum(v * d["b"])


def list_setitem(x):
    lst = [x, x * 2.0]
    lst[0] = x * 3.0
    return np.sum(lst[0] * lst[1])


def list_setitem_loop(x):
    lst = [0.0, 0.0, 0.0]
    for i in range(3):
        lst[i] = x[i] ** 2
    return lst[0] * lst[2]


def list_slice_assign(x):
    lst = [x, x, x]
    lst[1:] = [x * 2.0, x * 3.0]
    return np.sum(lst[1] * lst[2])


def list_comp_unread(x):
    lst = [x[i] * 2.0 for i in range(len(x))]
    return lst[0] ** 2


def list_insert(x):
    lst = [x]
    lst.insert(0, x * 3.0)
    return np.sum(lst[0] * lst[1] ** 2)


def list_index_by_arg(x, i):
    lst = [x, x * 2.0, x * 3.0]
    return np.sum(lst[i] ** 2)


def helper_returns_dict(x):
    d = _make_dict(x)
    return np.sum(d["u"] ** 2)


def _make_dict(x):
    return {"u": x * 2.0, "v": x * 3.0}


def while_grows_list(x):
    hs = [x]
    while len(hs) < 4:
        hs.append(np.sin(hs[-1]))
    return np.sum(hs[-1] * hs[1])


def enumerate_dict_keys(d):
    t = 0.0
    for i, k in enumerate(d):
        t = t + np.sum(d[k]) * (i + 1.0)
    return t


def sum_with_start(xs):
    return np.sum(sum(xs, np.zeros(4)) ** 2)


def list_of_rows(m):
    rows = list(m)
    return np.sum(rows[0] * rows[1])


def tuple_of_array(x):
    t = tuple(x)
    return t[0] * t[1]


CASES = [
    Case("dict_fun", dict_fun, ({"item_1": X, "item_2": Y},), order=2),
    Case("dict_iter", dict_iter, ({"a": X, "b": Y},), order=2),
    Case("dict_items", dict_items, ({"a": X, "b": Y},), order=2),
    Case("dict_values", dict_values, ({"a": X, "b": Y},), order=2),
    Case("dict_get", dict_get, ({"a": X, "b": Y},), order=2),
    Case("dict_make", dict_make, (X,), order=2),
    Case("dict_display", dict_display_result, (X,), order=2),
    Case("dict_setitem", dict_setitem, (X,), order=2),
    Case(
        "dict_comprehension",
        dict_comprehension,
        (X,),
        order=2,
    ),
    Case(
        "dict_comprehension_unread_keys",
        dict_comprehension_unread,
        (X,),
    ),
    Case("dict_isinstance", dict_isinstance, ({"a": X},)),
    Case("dict_zip", dict_zip, (X, Y), wrt=(0, 1)),
    Case(
        "dict_zip_hvp",
        dict_zip,
        (X, Y),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "dict_nested_params",
        dict_nested_params,
        ({"layer": {"W": M, "b": R.standard_normal(3)}, "x": X},),
        order=2,
    ),
    Case("dict_float_leaves", dict_fun, ({"item_1": 0.3, "item_2": -0.4},)),
    Case("list_fun", list_fun, ([X, Y, 0.5],), order=2),
    Case("list_slices", list_slices, ([X, Y, M],), order=2),
    Case("list_nested", list_nested, ([[X, Y], M],), order=2),
    Case("list_make", list_make, (X, Y), wrt=(0, 1), order=2),
    Case("list_append", list_append, (X,), order=2),
    Case("list_extend_pop", list_extend_pop, (X,), order=2),
    Case("list_negative_index", list_negative_index, ([X, Y, X * 2],), order=2),
    Case("list_len_loop", list_len_loop, ([X, Y, M],), order=2),
    Case("list_isinstance", list_isinstance, ([X, Y],)),
    Case("list_mul_repeat", list_mul_repeat, (X,)),
    Case("list_concat", list_concat, (X, Y), wrt=(0, 1)),
    Case("list_reverse", list_reverse, (X, Y), wrt=(0, 1), order=2),
    Case("list_comprehension_filter", list_comprehension_filter, (X,), order=2),
    Case("tuple_fun", tuple_fun, ((X, Y),), order=2),
    Case("tuple_index", tuple_index, ((X, Y),), order=2),
    Case("tuple_make", tuple_make, (X, Y), wrt=(0, 1), order=2),
    Case("tuple_nested", tuple_nested, (((X, Y), 0.7),), order=2),
    Case("tuple_swap", tuple_swap, (X, Y), wrt=(0, 1), order=2),
    Case("namedtuple_arg", namedtuple_arg, (Point(X, Y),), order=2),
    Case("namedtuple_make", namedtuple_make, (X, Y), wrt=(0, 1), order=2),
    Case("tuple_helper_result", tuple_helper_result, (X,), order=2),
    Case("star_unpack", star_unpack, ([X, Y, M],), order=2),
    Case("sum_list", b_sum_list, (X,), order=2),
    Case("sum_generator", b_sum_generator, (X,), order=2),
    Case("sum_of_array", b_sum_of_array, (X,), order=2),
    Case("max_builtin", b_max_builtin, (X,), order=2),
    Case("min_builtin", b_min_builtin, (X,), order=2),
    Case("max_of_array", b_max_of_array, (X,), order=2),
    Case("abs_builtin_pos", b_abs_builtin, (0.7,), order=2),
    Case("abs_builtin_neg", b_abs_builtin, (-0.7,), order=2),
    Case("abs_builtin_array", b_abs_array, (X,), order=2),
    Case("pow_builtin", b_pow_builtin, (0.7,), order=2),
    Case("len", b_len, (X,)),
    Case("range_step", b_range_step, (X,)),
    Case("enumerate_list", b_enumerate, ([X, Y, M],), order=2),
    Case("enumerate_start", b_enumerate_start, (X,), order=2),
    Case("zip", b_zip, (X, Y), wrt=(0, 1), order=2),
    Case("zip_three", b_zip_three, (X, Y), wrt=(0, 1), order=2),
    Case("reversed", b_reversed, (X,), order=2),
    Case("float_cast", b_float_cast, (X,), order=2),
    Case("isinstance_float", b_isinstance_float, (0.7,), order=2),
    Case("round_int_const", b_round_in_loop, (X,)),
    Case("math_fns", b_math_fns, (0.7,), order=2),
    Case("math_pi", b_math_pi, (0.7,)),
    Case("divmod_const", b_divmod_const, (X,)),
    Case("scalar_abs_pos", s_abs, (0.7,), order=2),
    Case("scalar_abs_neg", s_abs, (-0.7,), order=2),
    Case("scalar_sqrt", s_sqrt, (0.7,), order=2),
    Case("power_arg0", s_power_arg0, (0.7,), order=2),
    Case("power_arg1", s_power_arg1, (0.7,), order=2),
    Case("power_int_literals", s_power_int, (0.7,), order=2),
    Case("np_mod", s_mod, (5.3, 1.7), wrt=(0, 1)),
    Case("op_mod", s_op_mod, (5.3, 1.7), wrt=(0, 1)),
    Case("op_mod_neg", s_op_mod, (-5.3, 1.7), wrt=(0, 1)),
    Case("floordiv", s_floordiv, (5.3, 1.7), wrt=(0, 1)),
    Case("rpow", s_rpow, (0.7,), order=2),
    Case("neg_pos", s_neg_pos, (0.7,), order=2),
    Case("rdiv", s_rdiv, (0.7,), order=2),
    Case("chain", s_chain, (0.7,), order=2),
    Case("inplace_scalar_ops", s_inplace_ops, (0.7,), order=2),
    Case("comparison_grads", s_comparison_grads, (X, Y), wrt=(0, 1), order=2),
    Case("comparison_values", s_comparison_values, (X, Y), wrt=(0, 1)),
    Case("logic_fns", s_logic_fns, (X, Y), wrt=(0, 1)),
    Case("isfinite", s_isfinite, (X,)),
    Case("chained_comparison_in", s_chained_comparison, (0.5,), order=2),
    Case("chained_comparison_out", s_chained_comparison, (1.5,), order=2),
    Case("not_pos", s_not, (0.7,), order=2),
    Case("not_neg", s_not, (-0.7,), order=2),
    Case("and_or_first", s_and_or, (0.7, 1.3), wrt=(0, 1)),
    Case("and_or_second", s_and_or, (-0.7, 1.3), wrt=(0, 1)),
    Case("bool_mix", s_bool_mix, (X,)),
    Case("assert", s_assert, (X,), order=2),
    Case("argmax_nograd", s_argmax_nograd, (X,), order=2),
    Case("sort", s_sort, (X,)),
    Case("falsey_branch_pos", s_falsey, (np.abs(X),)),
    Case("falsey_branch_neg", s_falsey, (-np.abs(X),)),
    Case("mix_list_first_order", mix_list, (X, Y), wrt=0),
    Case("mix_list_hvp", mix_list, (X, Y), wrt=0, order=2),
    Case("mix_dict_hvp", mix_dict, (X, Y), wrt=1, order=2),
    Case("mix_loop_over_list", mix_loop_over_list, (X, Y), wrt=0),
    Case(
        "mix_loop_over_list_hvp",
        mix_loop_over_list,
        (X, Y),
        wrt=0,
        order=2,
    ),
    Case("mix_generator", mix_generator, (X, Y), wrt=0),
    Case(
        "mix_generator_hvp",
        mix_generator,
        (X, Y),
        wrt=0,
        order=2,
    ),
    Case("mix_list_ctor", mix_list_ctor, (X, Y), wrt=(0, 1)),
    Case(
        "mix_list_ctor_hvp",
        mix_list_ctor,
        (X, Y),
        wrt=0,
        order=2,
    ),
    Case(
        "dict_setitem_loop_unread",
        dict_setitem_loop_unread,
        (X,),
    ),
    Case(
        "dict_update",
        dict_update,
        (X,),
    ),
    Case(
        "dict_pop",
        dict_pop,
        (X,),
    ),
    Case(
        "list_setitem",
        list_setitem,
        (X,),
    ),
    Case("list_setitem_loop", list_setitem_loop, (X,), order=2),
    Case(
        "list_slice_assign",
        list_slice_assign,
        (X,),
    ),
    Case("list_comp_unread", list_comp_unread, (X,), order=2),
    Case("list_insert", list_insert, (X,), order=2),
    Case("list_index_by_arg", list_index_by_arg, (X, 2), order=2),
    Case("helper_returns_dict", helper_returns_dict, (X,), order=2),
    Case("while_grows_list", while_grows_list, (X,), order=2),
    Case("enumerate_dict_keys", enumerate_dict_keys, ({"a": X, "b": Y},), order=2),
    Case("sum_with_start", sum_with_start, ([X, Y],), order=2),
    Case("list_of_rows", list_of_rows, (M,), order=2),
    Case("tuple_of_array", tuple_of_array, (X,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_containers_builtins(case):
    check(case)


def test_gradient_keeps_dict_order_and_namedtuple_type():
    g = sg.grad(namedtuple_arg)(Point(X, Y))
    assert type(g) is Point
    g = sg.grad(dict_fun)({"item_2": Y, "item_1": X})
    assert list(g) == ["item_2", "item_1"]
