"""Helpers writing into their arguments, inlined at the call, against programs written to
break the inlining: names of the helper's like the caller's, control flow in the helper,
defaults and keywords, calls in loops and through ``self``, rebinding, views, the same array
given twice, a slice given, writes through a local view, ``np.copyto``, ``out=``,
``a.fill``. Each followed program: the value against Python's, the gradient against
central differences in float64, the Hessian-vector product against differences of the
gradient, the caller's objects after each of three calls as Python leaves them. Each refused
one: the user's line named and a way out that fits."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import check_refusal, numerical
from .test_helper_argument_writes_followed import check_followed

X = np.array([0.7, -1.3, 0.4])
W = np.array([0.5, -1.5, 2.0])


def put(buf, i, v):
    buf[i] = v


# ------------------------------------------------------------------ names


def put_locals(buf, k, v):
    i = k + 1
    h = v * 2.0
    tmp = h + 1.0
    buf[i] = tmp


def helper_locals_named_like_the_callers(x):
    i = 0
    h = x[0] * 3.0
    tmp = x * 2.0
    buf = np.zeros(3)
    put_locals(buf, i, x[1])
    return np.sum(buf) + h + np.sum(tmp) + i


def parameters_named_like_other_arguments(x):
    v = np.zeros(3)
    buf = x[2] * 1.0
    put(v, 1, buf)
    return np.sum(v * x) + buf


def index_named_like_the_buffer_parameter(x):
    i = np.zeros(3)
    buf = 2
    put(i, buf, x[0] * x[1])
    return np.sum(i * x)


def put_comprehension(buf, v):
    buf[0] = sum([v * k for k in range(3)])


def comprehension_variable_of_the_callers(x):
    k = x[1]
    buf = np.zeros(3)
    put_comprehension(buf, x[0])
    return np.sum(buf) * k


# ------------------------------------------------------------------ control flow


def put_returning(buf, i, v):
    buf[i] = v
    return v * 2.0


def returned_value_used_after_the_write(x):
    buf = np.zeros(3)
    y = put_returning(buf, 1, x[0] ** 2)
    return np.sum(buf * x) + y


def put_signed(buf, i, v):
    if v > 0:
        buf[i] = v
    else:
        buf[i] = -v * 3.0


def write_under_a_condition(x):
    buf = np.zeros(3)
    put_signed(buf, 0, x[0])
    put_signed(buf, 1, x[1])
    return np.sum(buf * x)


def put_ramp(buf, v):
    for i in range(len(buf)):
        buf[i] = v * i


def writes_in_a_loop_of_the_helper(x):
    buf = np.zeros(3)
    put_ramp(buf, x[0])
    return np.sum(buf * x)


def put_checked(buf, i, v):
    assert i < 3
    buf[i] = v


def helper_asserting(x):
    buf = np.zeros(3)
    put_checked(buf, 2, x[2])
    return np.sum(buf * x)


# ------------------------------------------------------------------ defaults, calls


def put_scaled(buf, v, i=1, s=2.0):
    buf[i] = v * s


def defaults_and_keywords(x):
    buf = np.zeros(3)
    put_scaled(buf, x[0])
    put_scaled(buf, x[1], s=3.0, i=2)
    return np.sum(buf * x)


def called_twice_on_the_same_buffer(x):
    buf = np.zeros(3)
    put(buf, 0, x[0])
    put(buf, 0, buf[0] * x[1])
    return np.sum(buf * x)


def called_in_a_loop(x):
    buf = np.zeros(3)
    for i in range(3):
        put(buf, i, x[i] * (i + 1.0))
    return np.sum(buf * x)


def on_items_of_a_list_with_the_loop_index(x):
    blocks = [np.zeros(3), np.zeros(3)]
    for i in range(2):
        put(blocks[i], i, x[i] * 2.0)
    return np.sum(blocks[0] * x) + np.sum(blocks[1] * x)


class Scaler:
    def __init__(self, s):
        self.s = s

    def into(self, buf, i, v):
        buf[i] = v * self.s

    def run(self, x):
        buf = np.zeros(3)
        self.into(buf, 0, x[0])
        self.into(buf, 2, x[1])
        return np.sum(buf * x)


def a_method_called_through_self(x):
    return Scaler(2.0).run(x)


# ------------------------------------------------------------------ rebinding, views


def rebound_then_written(a):
    a = a * 2
    a[0] = 1.0


def a_rebinding_before_the_write_leaves_the_callers_array(x):
    z = x * 1.0
    rebound_then_written(z)
    return np.sum(z * x)


def double_first_column(a):
    a[:, 0] *= 2


def a_column_view_updated(x):
    z = np.outer(x, x)
    double_first_column(z)
    return np.sum(z)


def swap(a, b):
    t = a[0] * 1.0
    a[0] = b[1]
    b[1] = t


def the_same_array_given_twice(x):
    z = x * 1.0
    swap(z, z)
    return np.sum(z * x)


def a_slice_given(x):
    z = x * 1.0
    put(z[1:], 0, x[0] ** 2)
    return np.sum(z * x)


def first_set(buf, v):
    buf[0] = v
    return buf


def written_and_returned(x):
    z = x * 1.0
    w = first_set(z, x[1] ** 2)
    w[2] = x[0]
    return np.sum(z * x) + np.sum(w)


def into_an_int_array(x):
    n = np.zeros(3, dtype=np.int64)
    put(n, 0, x[0] * 5.0)
    return np.sum(n * x)


# ------------------------------------------------------------------ writes found anew


def nested_item(a, v):
    a[0][1] = v


def an_item_of_an_item_written(x):
    z = np.zeros((3, 3))
    nested_item(z, x[0] ** 2)
    return np.sum(z * np.outer(x, x))


def through_a_local_view(a, v):
    r = a[1]
    r[:] = v


def written_through_a_local_view(x):
    z = np.zeros((3, 3))
    through_a_local_view(z, x * 2.0)
    return np.sum(z * np.outer(x, x))


def copy_into(a, v):
    np.copyto(a, v)


def written_by_copyto(x):
    z = np.zeros(3)
    copy_into(z, x**2)
    return np.sum(z * x)


def fill_with(a, v):
    a.fill(v)


def filled(x):
    z = np.zeros(3)
    fill_with(z, x[0])
    return np.sum(z * x)


def multiply_into(a, v):
    np.multiply(a, v, out=a)


def written_as_out(x):
    z = x * 1.0
    multiply_into(z, x)
    return np.sum(z)


def fill_row(b, v):
    b[:] = v


def fill_first_row(a, v):
    fill_row(a[0], v)


def an_item_given_on_to_a_writer(x):
    z = np.zeros((3, 3))
    fill_first_row(z, x * 2.0)
    return np.sum(z * np.outer(x, x))


def fill_by_keyword(a, v):
    fill_row(v=v, b=a)


def given_on_by_keyword(x):
    z = np.zeros(3)
    fill_by_keyword(z, x * 2.0)
    return np.sum(z * x)


class Box:
    def __init__(self, w):
        self.w = w


def set_field(obj, v):
    obj.w = v


def a_field_of_an_object_set(x):
    b = Box(np.zeros(3))
    set_field(b, x * 2.0)
    return np.sum(b.w * x)


def set_first_of(d, v):
    d["a"][0] = v


def an_array_in_a_dict_written(x):
    d = {"a": np.zeros(3)}
    set_first_of(d, x[2] ** 2)
    return np.sum(d["a"] * x)


FOLLOWED = [
    helper_locals_named_like_the_callers,
    parameters_named_like_other_arguments,
    index_named_like_the_buffer_parameter,
    comprehension_variable_of_the_callers,
    returned_value_used_after_the_write,
    write_under_a_condition,
    writes_in_a_loop_of_the_helper,
    helper_asserting,
    defaults_and_keywords,
    called_twice_on_the_same_buffer,
    called_in_a_loop,
    on_items_of_a_list_with_the_loop_index,
    a_method_called_through_self,
    a_rebinding_before_the_write_leaves_the_callers_array,
    a_column_view_updated,
    the_same_array_given_twice,
    a_slice_given,
    written_and_returned,
    into_an_int_array,
]
#: silently wrong before: the helper's write was not seen, so the call ran as a pure one
FOUND_ANEW = [
    an_item_of_an_item_written,
    written_through_a_local_view,
    written_by_copyto,
    filled,
    written_as_out,
    an_item_given_on_to_a_writer,
    given_on_by_keyword,
    a_field_of_an_object_set,
    an_array_in_a_dict_written,
]


@pytest.mark.parametrize("f", FOLLOWED + FOUND_ANEW, ids=lambda f: f.__name__)
def test_an_adversarial_helper_is_followed(f):
    check_followed(f, (X.copy(),))


@pytest.mark.parametrize("f", FOUND_ANEW, ids=lambda f: f.__name__)
def test_forward_mode_follows_the_writes_found_anew(f):
    v = np.array([0.3, -0.2, 0.9])
    jv = sg.jvp(f)
    want = np.sum(numerical(f, (X.copy(),), 0) * v)
    for _ in range(3):
        value, tangent = jv(X.copy(), v)
        assert value == pytest.approx(f(X.copy()), rel=1e-12)
        assert tangent == pytest.approx(want, rel=1e-6, abs=1e-7)


# ------------------------------------------------------------------ refused


def write_then_rebind(a):
    a[0] = 1.0
    a = a * 2
    a[1] = 5.0


def written_then_rebound_in_the_helper(x):
    z = x * 1.0
    write_then_rebind(z)  # REFUSED
    return np.sum(z * x)


def rebound_under_a_branch(a, c):
    if c:
        a = a * 2
    a[0] = 7.0


def rebound_in_a_branch_not_taken(x):
    z = x * 1.0
    rebound_under_a_branch(z, False)  # REFUSED
    return np.sum(z * x)


def transpose_write(a, v):
    a.T[0] = v


def written_through_the_transpose(x):
    z = np.zeros((3, 3))
    transpose_write(z, x)  # REFUSED
    return np.sum(z * np.outer(x, x))


def push_default(v, buf=[]):  # noqa: B006 (the program under test)
    buf.append(v)
    return len(buf)


def a_mutable_default_written(x):
    n = push_default(x[0])  # REFUSED
    return x[0] * n


def push_keyword_only(v, *, buf=[]):  # noqa: B006
    buf.append(v)
    return len(buf)


def a_keyword_only_mutable_default_written(x):
    n = push_keyword_only(x[0])  # REFUSED
    return x[0] * n


class Log:
    def add(self, v, buf=[]):  # noqa: B006
        buf.append(v)
        return len(buf)


def a_methods_mutable_default_written(x):
    log = Log()
    n = log.add(x[0])  # REFUSED
    return x[0] * n


def a_mutable_default_passed_in(x):
    kept = []
    n = push_default(x[0] * 2.0, kept)
    return x[0] * n + kept[0]


def test_a_mutable_default_passed_in_is_followed():
    check_followed(a_mutable_default_passed_in, (X.copy(),))
    assert push_default.__defaults__[0] == []


def put_unless_late(buf, i, v):
    if i > 1:
        return
    buf[i] = v


def an_early_return(x):
    buf = np.zeros(3)
    put_unless_late(buf, 0, x[0])  # REFUSED
    return np.sum(buf * x)


def put_weighted(buf, i, v):
    buf[i] = v * W[i]


def a_global_named_like_a_local(x):
    W = x * 3.0
    buf = np.zeros(3)
    put_weighted(buf, 0, x[0])  # REFUSED
    return np.sum(buf * W)


def copy_unless_large(a, v):
    if v[0] > 100.0:
        return
    np.copyto(a, v)


def not_inlined_copyto_read_after(x):
    z = np.zeros(3)
    copy_unless_large(z, x**2)  # REFUSED
    return np.sum(z * x)


def fill_second_row(a, v):
    r = a[1]
    fill_row(r, v)


def a_local_view_given_on_to_a_writer(x):
    z = np.zeros((3, 3))
    fill_second_row(z, x * 2.0)  # REFUSED
    return np.sum(z * np.outer(x, x))


def set_first_of_field(obj, v):
    obj.w[0] = v


def an_item_of_a_field_written(x):
    b = Box(np.zeros(3))
    set_first_of_field(b, x[0] ** 2)  # REFUSED
    return np.sum(b.w * x)


REFUSED = [
    (written_then_rebound_in_the_helper, "binds `a` to another object"),
    (rebound_in_a_branch_not_taken, "binds `a` to another object"),
    (written_through_the_transpose, "assign into a named array"),
    (a_mutable_default_written, "pass `buf` in the call, or make its default None"),
    (a_keyword_only_mutable_default_written, "pass `buf` in the call"),
    (a_methods_mutable_default_written, "pass `buf` in the call"),
    (an_early_return, "returns other than once"),
    (a_global_named_like_a_local, "reads the global `W`, a local variable of the caller"),
    (not_inlined_copyto_read_after, "make copy_unless_large() return the new value"),
    (a_local_view_given_on_to_a_writer, "make fill_row() return the new value"),
    (an_item_of_a_field_written, "assign into a named array"),
]


@pytest.mark.parametrize("f, hint", REFUSED, ids=lambda v: getattr(v, "__name__", ""))
def test_an_adversarial_helper_is_refused_at_the_call(f, hint):
    check_refusal(f, (X.copy(),), sg.UnsupportedSyntaxError, hint)


def test_a_mutable_default_is_left_as_python_leaves_it_on_refusal():
    """The refusal comes before the helper runs: its default holds what Python's calls left."""
    held = push_default.__defaults__[0]
    before = len(held)
    with pytest.raises(sg.UnsupportedSyntaxError):
        sg.grad(a_mutable_default_written)(X.copy())
    assert len(held) == before
