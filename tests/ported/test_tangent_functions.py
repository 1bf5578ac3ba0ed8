"""google/tangent's tests/functions.py: small functions with control flow, overwritten names,
subscripts, calls and containers, ported to sourcegrad. (Tangent-specific ones, those using its
stack or ``insert_grad_of``, and the TensorFlow ones are left out.) Functions named
``test_*`` there are ``t_*`` here so that pytest does not collect them. Scalar functions are
checked at several points so that every branch runs."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params


def id_(a):
    return a


def unary_sub(a):
    return -a


def sum_(x):
    return np.sum(x)


def cast_sum_(x):
    return np.sum(np.array(x))


def overwrite_call(x):
    x = np.sum(x)
    x = x * x
    return x


def tanh(a):
    return np.tanh(a)


def I_assign(a):
    b = a
    return b


def increment(a):
    return a + 1


def saxpy(a, b, c):
    return a * b + c


def mul(a, b):
    return a * b


def add(a, b):
    return a + b


def saxpy_call(a, b, c):
    return add(mul(a, b), c)


def saxpy_anf(a, b, c):
    t1 = a * b
    t2 = t1 + c
    return t2


def saxpy_overwrite(a, b, c):
    t = a * b
    t = t + c
    return t


def gradname_aliasing(a):
    da = a * a
    return da


def overwrite_if(a):
    if a > 0:
        a = a * 3.0
    else:
        a = a * 2.0
    return a


def t_binop_mul1(a):
    return a * 3.0


def t_binop_mul2(a):
    return 3.0 * a


def t_binop_mul3(a):
    return a * a


def t_binop_div1(a):
    return a / 3.0


def t_binop_div2(a):
    return 3.0 / a


def t_binop_div3(a):
    return a / a


def t_binop_sub1(a):
    return a - 3.0


def t_binop_sub2(a):
    return 3.0 - a


def t_binop_sub3(a):
    return a - a


def t_binop_add1(a):
    return a + 3.0


def t_binop_add2(a):
    return 3.0 + a


def t_binop_add3(a):
    return a + a


def nested_if(a):
    if a > 0:
        if a < 10:
            a = a * a
    else:
        a = 3.0 * a
    return a


def multiarg_if(a):
    if a * a / 3.0 > 0:
        b = 3.0
    else:
        b = 4.0
    a = a * b
    if a < b - a * b:
        a = a * a
    elif a > b + 3.0 * a:
        if a / 2.0 < 0:
            a = a / b
        else:
            a = a * b
    else:
        a = -a
    return a


def fn_multiply(a):
    return np.multiply(a, 3.0)


def fn_multiple_return(a):
    return 2 * a, a  # REFUSED


def t_anf_list(a):
    b = [1, a * a, 2]
    return np.sum(b)


def t_deep_anf_list(x):
    b = [1, x[0] * x[1] * x[2], 3]
    return np.sum(b)


def t_subscript1(x):
    a = x[0]
    b = x[1]
    return a * b


def t_list_and_subscript(a):
    x = [1.0, a, 3.0]
    return x[0] * x[1]


def serial_if(a):
    if a > 0:
        a = a * a
    a = a + a
    if a < 0:
        a = 3.0 * a
    return a


def multivar_if(a, b):
    if a > b:
        a = a * a
    else:
        a = a * b
    return a


def serial_for(a, n):
    for _i in range(n):
        a = a * a
    a = 2.0 * a
    for _i in range(n + 1):
        a = a * 3.0
    return a


def serial_ifthenfor(a, n):
    if a > 0:
        a = a * a
    a = 2.0 * a
    for _i in range(n):
        a = a * a
    return a


def serial_forthenif(a, n):
    for _i in range(n):
        a = a * a
    a = 2.0 * a
    if a > 0:
        a = a * a
    return a


def devilish_nested_if(a):
    if a > 0:
        a = a * 3.0
        if a < 10:
            a = a * a
        else:
            a = a * 2.0
    return a


def overwrite_ifelse(a):
    if a > 0:
        a = a * 3.0
    elif 0 > a:
        a = a * 2.0
    else:
        a = 1.0 * a
    return a


def overwrite_arg(a):
    a = a * 3.0
    return a


def overwrite_non_arg(a):
    b = a
    b = b * 3.0
    return b


def third_pow(a):
    return a * a * a


def direct_third_pow(a):
    return a**3


def iter_third_pow1(a):
    out = 1
    for _i in range(3):
        out = out * a
    return out


def iter_third_pow2(a):
    out = a
    for _i in range(3 - 1):
        out = out * a
    return out


def iterpower_static(a):
    for _i in range(3):
        a = a * a
    return a


def iterpower(a, n):
    for _i in range(n):
        a = a * a
    return a


def cond_iterpower1(a):
    for _i in range(3):
        if a < 20:
            a = a * a
    return a


def cond_iterpower2(a):
    if a < 20:
        for _i in range(3):
            a = a * a
    return a


def superfor_iterpower(a):
    for _i in range(2):
        for _j in range(3):
            a = a * a
    return a


def super_iterpower(a):
    for _i in range(3):
        a = a * a * a
    return a


def numpy_sum(x):
    return np.sum(x)


def numpy_mean(x):
    return np.mean(x)


def numpy_exp(a):
    return np.exp(a)


def numpy_exp2(a):
    return np.exp(np.exp(a))


def numpy_sqrt(a):
    return np.sqrt(a)


def logistic_regression(input, label, W, b):
    h1 = np.dot(input, W) + b
    prediction = 0.5 * (np.tanh(h1) + 1)
    label_probabilities = prediction * label + (1 - prediction) * (1 - label)
    loss = -np.sum(np.log(label_probabilities))
    return loss


def _inner_fn(a, b):
    return a * b


def mul_with_call(a, b):
    return _inner_fn(a, b)


def if_mul_with_call(a, b):
    if a > b:
        o = _inner_fn(a, b)
    else:
        o = _inner_fn(b, a)
    return o


def iterpower_with_call(a, n):
    for _i in range(n):
        a = _inner_fn(a, a)
    return a


def nested_call(a, b):
    return mul_with_call(a, b)


def iterpower_with_nested_def(a, n):
    def _fn(a, n):
        return a * n

    for _i in range(n):
        a = _fn(a, a)
    return a


def unpacking_args_saxpy(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a * b + c


def dict_saxpy(val):
    return val["a"] * val["b"] + val["c"]


def dict_wrapper(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return dict_saxpy(dict(a=a, b=b, c=c))


def passthru_pack(a, b, c, i):
    x = a, b, c
    return x[i]


def passthru_unpack(abc_packed_in_tuple):
    a, b, c = abc_packed_in_tuple
    return a


def cart2polar(a, b):
    r = np.sqrt(a**2.0 + b**2.0)
    theta = np.arctan2(b, a)
    return r * theta


def listcomp(a):
    return np.sum([i * 3 for i in a])


def while_big(a):
    while np.abs(a) > 0.1:
        a = a * 0.5
    return a


def active_subscript(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i]
    return np.sum(y)


def init_array_grad_maybe_active(x):
    h = np.zeros((len(x), 3))
    for t in range(len(h)):
        h[t] = x[t]
    return np.sum(h)


def slicing(x):
    return np.sum(x[1:])


def rnn(inputs, W):
    h = np.zeros((4, 3))
    for t in range(3):
        h[t + 1] = np.dot(inputs[t], W) + h[t]
    return np.sum(h[1:])


def augassign(a):
    x = a * a
    x *= x
    return x


def bilinear(x, h, U, W, b):
    y = np.dot(x, W)
    y = y + np.dot(h, U)
    y = y + b
    y = np.tanh(y)
    return np.sum(y)


def gradgrad_pow(a, b):
    a = a**b
    return a


def gradgrad_pow_twice(a):
    a = a * a
    y = a * a
    return y


def gradgrad_chain_of_mults(a):
    b = a
    b = a * a
    c = b * b
    d = c * c
    return d


def gradgrad_chain_of_multcalls(a):
    b = mul(a, a)
    c = mul(b, b)
    d = mul(c, c)
    return d


def nested_dict(p):
    return p["i"]["j"] * p["i"]["k"]


def extended_slice(x):
    return np.sum(x[::2, np.newaxis])


R = np.random.default_rng(5)
X3 = R.standard_normal(3)
X4 = R.standard_normal(4)
POINTS = (0.7, -1.3, 4.0, 12.0)


def scalar_cases(name, f, points=POINTS, order=2, **kw):
    return [Case(f"{name}[{p}]", f, (p,), order=order, **kw) for p in points if _defined(f, p)]


def _defined(f, p):
    try:
        return np.isfinite(f(p))
    except ZeroDivisionError:
        return False


SCALAR = [
    id_,
    unary_sub,
    tanh,
    I_assign,
    increment,
    gradname_aliasing,
    overwrite_if,
    t_binop_mul1,
    t_binop_mul2,
    t_binop_mul3,
    t_binop_div1,
    t_binop_div2,
    t_binop_div3,
    t_binop_sub1,
    t_binop_sub2,
    t_binop_sub3,
    t_binop_add1,
    t_binop_add2,
    t_binop_add3,
    nested_if,
    multiarg_if,
    fn_multiply,
    t_anf_list,
    t_list_and_subscript,
    serial_if,
    devilish_nested_if,
    overwrite_ifelse,
    overwrite_arg,
    overwrite_non_arg,
    third_pow,
    direct_third_pow,
    iter_third_pow1,
    iter_third_pow2,
    cond_iterpower1,
    cond_iterpower2,
    numpy_exp,
    numpy_exp2,
    while_big,
    augassign,
    gradgrad_pow_twice,
]
SMALL = (0.7, -1.3)
CASES = [c for f in SCALAR for c in scalar_cases(f.__name__, f)]
CASES += scalar_cases("iterpower_static", iterpower_static, SMALL)
CASES += scalar_cases("superfor_iterpower", superfor_iterpower, (0.9, -1.02))
CASES += scalar_cases("super_iterpower", super_iterpower, (0.9, -1.02))
CASES += scalar_cases("gradgrad_chain_of_mults", gradgrad_chain_of_mults, SMALL)
CASES += scalar_cases("gradgrad_chain_of_multcalls", gradgrad_chain_of_multcalls, SMALL)
CASES += scalar_cases("numpy_sqrt", numpy_sqrt, (0.7, 4.0))
CASES += [
    Case("sum_", sum_, (X3,), order=2),
    Case("cast_sum_", cast_sum_, (X3,)),
    Case("overwrite_call", overwrite_call, (X3,), order=2),
    Case("saxpy", saxpy, (0.7, -1.3, 2.1), wrt=(0, 1, 2), order=2),
    Case("saxpy_call", saxpy_call, (0.7, -1.3, 2.1), wrt=(0, 1, 2), order=2),
    Case("saxpy_anf", saxpy_anf, (0.7, -1.3, 2.1), wrt=(0, 1, 2)),
    Case("saxpy_overwrite", saxpy_overwrite, (0.7, -1.3, 2.1), wrt=(0, 1, 2)),
    Case("multivar_if[a>b]", multivar_if, (0.7, -1.3), wrt=(0, 1), order=2),
    Case("multivar_if[a<b]", multivar_if, (-1.3, 0.7), wrt=(0, 1), order=2),
    Case(
        "fn_multiple_return", fn_multiple_return, (0.7,), refused=(sg.NonScalarOutputError, "vjp")
    ),
    Case("deep_anf_list", t_deep_anf_list, (X3,), order=2),
    Case("subscript1", t_subscript1, (X3,), order=2),
    Case("serial_for", serial_for, (0.9, 2), order=2),
    Case("serial_ifthenfor", serial_ifthenfor, (-0.9, 2), order=2),
    Case("serial_forthenif", serial_forthenif, (0.9, 2), order=2),
    Case("iterpower_n0", iterpower, (0.9, 0), order=2),
    Case("iterpower_n3", iterpower, (0.9, 3), order=2),
    Case("numpy_sum", numpy_sum, (X4,)),
    Case("numpy_mean", numpy_mean, (X4,)),
    Case(
        "logistic_regression",
        logistic_regression,
        (R.standard_normal((5, 3)), np.array([0.0, 1.0, 1.0, 0.0, 1.0]), R.standard_normal(3), 0.1),
        wrt=(0, 2, 3),
        order=2,
    ),
    Case("mul_with_call", mul_with_call, (0.7, -1.3), wrt=(0, 1), order=2),
    Case("if_mul_with_call[a>b]", if_mul_with_call, (0.7, -1.3), wrt=(0, 1), order=2),
    Case("if_mul_with_call[a<b]", if_mul_with_call, (-1.3, 0.7), wrt=(0, 1), order=2),
    Case("iterpower_with_call", iterpower_with_call, (0.9, 3), order=2),
    Case("nested_call", nested_call, (0.7, -1.3), wrt=(0, 1), order=2),
    Case("iterpower_with_nested_def", iterpower_with_nested_def, (0.9, 3), order=2),
    Case("unpacking_args_saxpy", unpacking_args_saxpy, ((0.7, -1.3, 2.1),), order=2),
    Case("dict_saxpy", dict_saxpy, ({"a": 0.7, "b": -1.3, "c": 2.1},), order=2),
    Case("dict_wrapper", dict_wrapper, ((0.7, -1.3, 2.1),), order=2),
    Case("passthru_pack", passthru_pack, (0.7, -1.3, 2.1, 1), wrt=(0, 1, 2)),
    Case("passthru_unpack", passthru_unpack, ((0.7, -1.3, 2.1),)),
    Case("cart2polar", cart2polar, (0.7, -1.3), wrt=(0, 1), order=2),
    Case("listcomp", listcomp, (X4,), order=2),
    Case("active_subscript", active_subscript, (X4,), order=2),
    Case("init_array_grad_maybe_active", init_array_grad_maybe_active, (X4,)),
    Case("slicing", slicing, (X4,)),
    Case(
        "rnn",
        rnn,
        (R.standard_normal((3, 2)), R.standard_normal((2, 3))),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "bilinear",
        bilinear,
        (
            R.standard_normal(3),
            R.standard_normal(2),
            R.standard_normal((2, 4)),
            R.standard_normal((3, 4)),
            R.standard_normal(4),
        ),
        wrt=(0, 1, 2, 3, 4),
        order=2,
    ),
    Case("gradgrad_pow", gradgrad_pow, (0.7, 2.5), wrt=(0, 1), order=2),
    Case("nested_dict", nested_dict, ({"i": {"j": 0.7, "k": -1.3}},), order=2),
    Case("extended_slice", extended_slice, (R.standard_normal((4, 3)),)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_tangent_function(case):
    check(case)
