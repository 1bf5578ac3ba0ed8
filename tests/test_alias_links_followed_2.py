"""Names sharing memory, the forms followed after the first set (test_alias_links_followed.py).

* A second name of one list or dict (``ls = hs``, ``ls = ms = hs``, ``ls = hs or [h]`` of a
  non-empty display, ``e = d``), bound at the top of the body with neither name bound again
  while it is used, is the same object: a change through it by the list's or dict's methods
  (``append``, ``extend``, ``insert``, ``pop``, ``ls += [v]``) or into an item of an item
  (``e["b"][0] = v``) shows through both names.
* An item a display made new (``d = {"a": z, "b": 0.5 * h}``: ``d["b"]``) is the dict's alone:
  a write into it (``d["b"][0] = v``, ``d["b"] *= 2.0``) changes no other name.
* A view of all of an array NumPy always makes (``v = W.T``, ``W.transpose()``,
  ``np.transpose(W)``, ``W.reshape(W.shape)``) is followed like ``v = W[...]``: a write through
  ``v`` goes back as ``W[...] = v.T``, a write into ``W`` reads ``v = W.T`` again.
* The objects a dict display holds, held again by a shallow copy (``{**d}``, ``dict(d)``,
  ``d.copy()``, ``d | {}``, ``{k: v for k, v in d.items()}``), by names (``v = e["a"]``,
  ``e.get``, ``e.setdefault``) and by new items (``e["c"] = z``, ``e.update(b=...)``), are
  written in place through any of them (also in a loop over the dict's values or items) and
  seen through all, numbers (rebound, not changed) included.
* A name bound to an argument (``h = x``) that takes new arrays on every path (``h =
  np.sin(h @ W)``), read in between only into new values, no longer holds the argument: a write
  into the argument changes the caller's array alone, as Python's does.

Each program is checked against Python's value and central differences in float64 on calls
1-3, with the Hessian-vector product; where the names' values after the writes are returned as
the auxiliary value, they must be Python's. What still cannot be followed stays refused: an
item a list holds too written in place, a copy written in a branch, a list whose positions
moved, a second write in a loop after the item was replaced, a reshape to another shape (a
view only where the layout allows it), a name that may have handed the argument on first
(``keep = h``) or kept it on a path."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import Case, check, check_refusal, params
from .test_argument_writes_mirrored import check_mirrored

R = np.random.default_rng(8128)
X = R.standard_normal(5)


def appended_through_second_name(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs
    ls.append(np.sin(x))
    ls.extend([x * x])
    return sum(np.sum(v * v) for v in hs) + 0.1 * len(hs) + np.sum(z * x)


def chained_names_changed_by_methods(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = ms = hs
    ls.extend([x * x])
    ms += [np.cos(x)]
    last = ls.pop()
    return sum(np.sum(v) for v in hs) + np.sum(last * x) + 0.1 * len(ms)


def or_of_a_display_hands_it_on(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = hs or [x]
    ls.insert(0, np.cos(x))
    return np.sum(hs[0] * hs[1]) + np.sum(ls[-1] ** 2) + 0.1 * len(hs)


def dict_second_name_item_of_item(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["b"][0] = 0.3
    e["b"] *= 2.0
    e["c"] = np.sin(x)
    return np.sum(d["a"] * d["b"]) + np.sum(z) + np.sum(d["c"] * x)


def display_item_of_its_own_written(x):
    z = np.sin(x)
    hs = [z, x * x]
    hs[1][0] = 0.25
    hs[1] += z
    return np.sum(hs[0] * hs[1]) + np.sum(z**2)


def unused_second_name_dropped(x):
    z = np.tanh(x)
    hs = [z]
    ls = ms = hs  # noqa: F841 (`ms` is never read: its binding goes)
    ls.append(x * z)
    return sum(np.sum(v) for v in hs) + np.sum(ls[-1])


LOCAL = [
    appended_through_second_name,
    chained_names_changed_by_methods,
    or_of_a_display_hands_it_on,
    dict_second_name_item_of_item,
    display_item_of_its_own_written,
    unused_second_name_dropped,
]


@pytest.mark.parametrize(
    "case", params([Case(f.__name__, f, (X,), order=2, rtol=1e-5, atol=1e-6) for f in LOCAL])
)
def test_second_name_followed(case):
    check(case)


def transpose_written(x):
    W = np.outer(x[:3], x[3:]) * 1.0
    v = W.T
    v[0] = np.sin(v[1])
    return np.sum(W * W) + np.sum(v * x[3:, None])


def transpose_updated_whole(x):
    z = np.tanh(np.outer(x[:2], x))
    w = z.transpose()
    w *= 2.0
    return np.sum(z * z) + np.sum(w[1:] * x[1:, None])


def base_written_under_its_transpose(x):
    W = np.outer(x[:3], x[3:]) + 0.5
    v = np.transpose(W)
    W[1] = np.cos(W[0])
    W *= 1.5
    return np.sum(v * v[::-1]) + np.sum(W[0] * x[3:])


def slice_of_a_transpose(x):
    W = np.sin(np.outer(x[:3], x[3:]))
    v = W.transpose()
    u = v[1:]
    u[0] = u[1] * 3.0
    v[-1] *= 0.5
    return np.sum(W * W) + np.sum(u) + np.sum(v[0] * x[:3])


def reshaped_to_its_own_shape(x):
    z = np.tanh(x)
    w = z.reshape(z.shape)
    w[0] = 0.3
    w[1:] += z[:-1]
    return np.sum(z * x) + np.sum(w**2)


VIEWS = [
    transpose_written,
    transpose_updated_whole,
    base_written_under_its_transpose,
    slice_of_a_transpose,
    reshaped_to_its_own_shape,
]
X6 = R.standard_normal(6)


@pytest.mark.parametrize(
    "case", params([Case(f.__name__, f, (X6,), order=2, rtol=1e-5, atol=1e-6) for f in VIEWS])
)
def test_whole_view_followed(case):
    check(case)


def transpose_names_after_writes(x):
    W = np.outer(x[:3], x[3:]) * 1.0
    v = W.T
    v[0] = np.sin(v[1])
    W[2] *= 0.5
    return np.sum(W * v.T), (W, v)


def test_transpose_names_hold_what_python_leaves():
    want_value, want_aux = transpose_names_after_writes(X6.copy())
    derivative = sg.value_and_grad(transpose_names_after_writes, has_aux=True)
    for _ in range(3):
        (value, aux), _ = derivative(X6.copy())
        assert np.isclose(value, want_value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(aux[0], want_aux[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(aux[1], want_aux[1], rtol=1e-12, atol=1e-12)


def names_after_append(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    ls = ms = hs
    ls.append(np.sin(x))
    ms += [x * x]
    return np.sum(hs[2] * hs[3]), (len(hs), len(ls), len(ms), ls is hs, ms is hs)


def names_after_item_writes(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["b"][0] = 0.3
    return np.sum(d["b"] * z), (d["b"], e["b"], z, e is d)


@pytest.mark.parametrize("f", [names_after_append, names_after_item_writes])
def test_every_name_holds_what_python_leaves(f):
    want_value, want_aux = f(X.copy())
    derivative = sg.value_and_grad(f, has_aux=True)
    for _ in range(3):
        (value, aux), _ = derivative(X.copy())
        assert np.isclose(value, want_value, rtol=1e-12, atol=1e-12)
        assert len(aux) == len(want_aux)
        for got, want in zip(aux, want_aux):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def shallow_copy_item_updated(x):
    z = np.sin(x) + 0.5 * x
    d = {"a": z, "b": 0.5 * x}
    e = {**d}
    e["a"] *= 0.5
    v = e.get("a")
    v *= 0.9
    return np.sum(d["a"] * z) + 0.1 * len(e) + np.sum(v * x)


def copied_dict_item_of_item_written(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d.copy()
    e["b"][0] = 0.3
    w = e["a"]
    w[1:] = w[:-1] * 0.5
    np.tanh(w, out=w)
    return np.sum(d["b"] * z) + 0.1 * sum(np.sum(t) for t in d.values()) + np.mean(z)


def copies_of_copies_and_defaults(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = dict(d)
    f2 = e | {}
    v = e.setdefault("a", x)
    v += 0.1
    u = e.get("c", z)
    u *= 0.5
    w = f2.setdefault("q", np.sin(x))
    w[0] = 2.0
    e.update(b=np.cos(x))
    e["b"][1] = 0.3
    acc = 0.0
    for k in f2:
        acc = acc + np.mean(f2[k] * x)
    return acc + np.sum(d["a"] * d["b"]) + sum(np.sum(t) for t in e.values())


def defaults_set_in_a_dict_and_its_copy(x):
    d = {"a": np.tanh(x)}
    d["b"] = 0.5 * x
    e = dict(d)
    v = d.setdefault("a", x)
    v *= 2.0
    w = e.setdefault("c", np.sin(x))
    w[1] = 0.5
    u = e.setdefault("b", x)
    u += 1.0
    return sum(np.sum(t * x) for t in e.values()) + np.sum(d["a"] * d["b"])


def comprehension_copies(x):
    z = np.tanh(x)
    d = {"a": z, "b": x * x}
    e = {k: v.copy() for k, v in d.items()}
    e["a"] *= 0.5
    same = {k: v for k, v in d.items()}
    same["b"][0] = 1.0
    return np.sum(d["a"] * d["b"]) + np.sum(e["a"] * z) + np.sum(same["a"])


def name_rebound_leaves_the_item(x):
    z = np.tanh(x)
    d = {"a": z}
    e = {**d}
    z = np.cos(x)
    e["a"] *= 2.0
    z *= 3.0
    return np.sum(d["a"] * z) + np.sum(e["a"])


def number_item_updated(x):
    z = np.sum(x * x)
    d = {"a": z, "b": 0.5 * x}
    e = {**d}
    e["a"] *= 0.5
    v = e["a"]
    v += 1.0
    return d["a"] * z + e["a"] * v + np.sum(d["b"])


def shared_item_written_in_place(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d
    e["a"] += 0.1
    return np.sum(d["a"] * d["b"]) + np.sum(z)


def item_replaced_then_written(x):
    z = np.tanh(x)
    d = {"a": 0.5 * x}
    d["a"] = z
    d["a"][0] = 1.0
    return np.sum(d["a"]) + np.sum(z * x)


def copy_written_in_a_loop(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = {**d}
    for v in e.values():
        v *= 0.9
    return np.sum(d["a"] * z) + np.sum(d["b"]) + np.sum(v)


def items_replaced_and_updated_in_loops(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = d.copy()
    for k, v in e.items():
        e[k] = v * 0.5
    for _k, v in d.items():
        v += 0.1 * np.mean(x)
    return np.sum(e["a"] * d["b"]) + np.sum(z)


HELD = [
    shallow_copy_item_updated,
    copied_dict_item_of_item_written,
    copies_of_copies_and_defaults,
    defaults_set_in_a_dict_and_its_copy,
    comprehension_copies,
    name_rebound_leaves_the_item,
    number_item_updated,
    shared_item_written_in_place,
    item_replaced_then_written,
    copy_written_in_a_loop,
    items_replaced_and_updated_in_loops,
]


@pytest.mark.parametrize(
    "case",
    params([Case(f.__name__, f, (X,), order=2, rtol=1e-5, atol=1e-6) for f in HELD]),
)
def test_items_held_by_copies_followed(case):
    check(case)


def held_names_after_writes(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = {**d}
    e["a"] *= 0.5
    w = e["b"]
    w[0] = 3.0
    e["c"] = z
    return np.sum(z * x), (z, d["a"], d["b"], e["a"], e["b"], e["c"], w, len(e), len(d))


def copied_after_a_write(x):
    z = np.tanh(x)
    d = {"a": z}
    z[0] = 1.0
    e = {**d}
    e["a"][1] = 2.0
    return np.sum(z * x) + np.sum(d["a"] ** 2), (z, d["a"], e["a"])


def one_object_under_two_keys(x):
    z = np.tanh(x)
    d = {"a": z, "b": z}
    d["a"][0] = 5.0
    d["b"] *= 2.0
    return np.sum(d["b"] * x) + np.sum(z), (z, d["a"], d["b"])


def int_items_rebound(x):
    n = 3
    d = {"n": n, "x": x * 1.0}
    e = {**d}
    e["n"] += 1
    m = e["n"]
    m += 1
    return np.sum(e["x"]) * (d["n"] + e["n"] + m + n), (d["n"], e["n"], m, n)


@pytest.mark.parametrize(
    "f",
    [held_names_after_writes, copied_after_a_write, one_object_under_two_keys, int_items_rebound],
)
def test_held_names_hold_what_python_leaves(f):
    want_value, want_aux = f(X.copy())
    derivative = sg.value_and_grad(f, has_aux=True)
    for _ in range(3):
        (value, aux), _ = derivative(X.copy())
        assert np.isclose(value, want_value, rtol=1e-12, atol=1e-12)
        for got, want in zip(aux, want_aux, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def copy_handed_to_a_list(x):
    z = np.tanh(x)
    d = {"a": z}
    e = {**d}
    keep = [e["a"]]
    z[0] = 2.0  # REFUSED
    return np.sum(keep[0]) + np.sum(d["a"])


def copy_written_in_a_branch(x):
    z = np.tanh(x)
    d = {"a": z, "b": 0.5 * x}
    e = {**d}
    if np.sum(x) > -100.0:
        e["a"] *= 0.9  # REFUSED
    return np.sum(d["a"] * z)


@pytest.mark.parametrize("f", [copy_handed_to_a_list, copy_written_in_a_branch])
def test_held_items_not_followed_stay_refused(f):
    check_refusal(f, (X,), SourcegradError, "")


W3 = 0.6 * np.eye(3) + 0.1 * R.standard_normal((3, 3))
X3 = R.standard_normal(3)


def argument_written_after_its_name_took_new_arrays(x, W):
    h = x
    for _ in range(2):
        h = np.sin(h @ W)
    h = h * 0.5 + 1.0
    xs = x
    xs *= 0.9
    return np.sum(h * x) + np.sum(np.cos(xs))


def argument_written_after_a_test_read_its_name(x, W):
    h = x
    if np.sum(h) > 0.0:
        W = W * 2.0
    h = np.tanh(h @ W)
    x[0] = 0.3 * np.sum(h)
    return np.sum(h * x)


def softplus(a):
    return np.log1p(np.exp(a))


def argument_written_after_a_helper_made_its_name_new(x, W):
    h = x
    for _ in range(2):
        h = softplus(h @ W + 0.1)
    h = 0.5 * h
    xs = x
    xs *= 0.9
    return np.sum(h * x)


@pytest.mark.parametrize(
    "f",
    [
        argument_written_after_its_name_took_new_arrays,
        argument_written_after_a_test_read_its_name,
        argument_written_after_a_helper_made_its_name_new,
    ],
)
def test_argument_written_once_its_other_name_is_new(f):
    check_mirrored(f, lambda: (X3.copy(), W3.copy()), (0, 1))


def name_handed_on_before_it_took_a_new_array(x, W):
    h = x
    keep = h
    h = np.sin(x @ W)
    x *= 0.9  # REFUSED
    return np.sum(keep * h)


def name_handed_to_a_helper_whole(x, W):
    h = x
    h = softplus(h)
    h = 0.5 * h
    x *= 0.9  # REFUSED
    return np.sum(h)


def name_new_on_one_path_only(x, W):
    h = x
    if np.sum(x) > 100.0:
        h = np.sin(x @ W)
    x *= 0.9  # REFUSED
    return np.sum(h)


@pytest.mark.parametrize(
    "f",
    [
        name_handed_on_before_it_took_a_new_array,
        name_handed_to_a_helper_whole,
        name_new_on_one_path_only,
    ],
)
def test_argument_written_while_its_other_name_may_hold_it_refused(f):
    check_refusal(f, (X3, W3), SourcegradError, "copy", wrt=(0, 1))


def positions_moved_by_insert(x):
    z = np.tanh(x)
    hs = [0.5 * x, 2.0 * x]
    hs.insert(0, z)
    hs[1][0] = 0.3  # REFUSED
    return np.sum(hs[0] * hs[1]) + np.sum(z)


def item_replaced_later_in_a_loop(x):
    z = np.tanh(x)
    d = {"a": 0.5 * x}
    for _ in range(2):
        d["a"][0] = 1.0  # REFUSED
        d["a"] = z
    return np.sum(d["a"]) + np.sum(z)


def reshaped_to_another_shape(x):
    z = np.tanh(x)
    w = z.reshape(2, 3)  # (a view only where z's layout allows it)
    w[0] *= 2.0  # REFUSED
    return np.sum(z * x) + np.sum(w)


@pytest.mark.parametrize(
    "f",
    [
        positions_moved_by_insert,
        item_replaced_later_in_a_loop,
        reshaped_to_another_shape,
    ],
)
def test_what_cannot_be_followed_stays_refused(f):
    check_refusal(f, (X6,), SourcegradError, "copy")


EXPORTED = [shallow_copy_item_updated, number_item_updated, chained_names_changed_by_methods]


@pytest.mark.parametrize("f", EXPORTED, ids=[f.__name__ for f in EXPORTED])
def test_jvp_and_exported_module_follow_the_write(f, tmp_path):
    """The jvp against <grad, v>, and the standalone module against the derivative."""
    v = np.linspace(0.4, -1.1, X.size)
    g = sg.grad(f)(X.copy())
    path = tmp_path / f"exported_{f.__name__}.py"
    sg.export(f, X.copy(), path=str(path))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    jf = sg.jvp(f)
    for call in range(3):
        want = f(X.copy())
        value, tangent = jf(X.copy(), v)
        np.testing.assert_allclose(value, want, 1e-12)
        np.testing.assert_allclose(tangent, g @ v, 1e-8, 1e-10, err_msg=f"jvp, call {call}")
        value, grad = getattr(module, f"d_{f.__name__}")(X.copy())
        np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(grad, g, rtol=1e-12)
