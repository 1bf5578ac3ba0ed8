"""Chains of names sharing one array's memory are followed as Python follows them: a name
bound to a linked name (``w = z; v = w``), a view of a view (``v = z[1:]; u = v[::2]``),
each target of ``w = u = z`` and ``w, u = z, e``, and an item of a display handed on (``[z, h][0]``,
``(z, 0.5 * h)[0]``, ``{"k": z}.get("k")``, ``None or z``). A write through any name of the
chain goes on into the first base, and every name linked to it, directly or through another,
is read again. Each program is checked against Python's value and central differences in
float64 on calls 1-3, with the Hessian-vector product. A name that holds an array or a
number (never a container), whose rank is not known when the function is read, updated whole
(``w = z; w *= 0.7``) is followed where it turns out to be an array and left where a number
(Python rebinds it); so is a loop over a list or dict display's new arrays or numbers
writing into its variable in place (``for v in hs: v += 0.1``, ``for r in rows: r[0] = ...``,
``for k, v in d.items()``), as a loop over positions or keys; and a link made in a branch (``w = z if c else z[::-1]``,
or a new array on one branch), its writes going back on the branch taken, both branches
checked; where the chain starts at the
caller's argument, the caller's array must hold what Python's call leaves in it. Links a
chain cannot prove (a name of the chain handed to a call, rebound, or linked in a branch)
are still refused."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params
from .test_argument_writes_mirrored import check_mirrored

R = np.random.default_rng(4242)
X = R.standard_normal(7)
A = R.standard_normal((3, 4))


def name_of_a_name(x):
    z = np.tanh(x)
    w = z
    v = w
    v[0] = np.sin(v[1]) * 2.0
    return np.sum(z * x) + np.sum(w**2) + np.sum(v)


def three_names_whole_update(x):
    z = np.sin(x) + 0.5 * x
    w = z
    v = w
    v *= np.cos(x)
    return np.sum(z * x) + np.sum(w**3) + np.sum(v)


def view_of_a_view(x):
    z = np.tanh(x)
    v = z[1:]
    u = v[::2]
    u[0] = u[1] * 3.0
    u *= 0.5
    return np.sum(z * x) + np.sum(v**2) + np.sum(np.cos(u))


def base_written_under_a_view_of_a_view(x):
    z = x**2
    v = z[1:]
    u = v[::2]
    z[3] = np.tanh(z[0])
    z *= 1.5
    return np.sum(u * x[1::2]) + np.sum(v * x[1:]) + np.sum(z)


def middle_name_written(x):
    z = np.tanh(x)
    v = z[1:]
    u = v[::2]
    v[1:3] = v[:2] * x[:2]
    return np.sum(u * u) + np.sum(z * x)


def row_then_slice(a):
    b = a * 1.0
    row = b[1]
    tail = row[1:]
    tail -= 0.3 * np.sin(tail)
    return np.sum(b**2) + np.sum(row * a[0])


def chained_assignment(x):
    z = np.sin(x) + 0.5 * x
    w = u = z
    w *= 0.7
    u[0] = u[-1] * 2.0
    return np.sum(z * x) + np.sum(u**2) + np.sum(w)


def bound_item_by_item(x):
    z = np.tanh(x)
    w, u = z, x * 0.5
    w[0] = 2.0 * u[1]
    w -= 0.3 * u
    return np.sum(z * x) + np.sum(w * u)


def item_of_a_list_display(x):
    z = np.tanh(x)
    w = [z, x][0]
    w[-1] *= 0.5
    return np.sum(z * x) + np.sum(w)


def item_of_a_tuple_display(x):
    z = np.tanh(x)
    w = (z, 0.5 * x)[0]
    w[0] = np.sin(w[0]) + 0.1
    return np.sum(z * x) + np.sum(w)


def got_from_a_dict_display(x):
    z = np.tanh(x)
    w = {"k": z}.get("k")
    w[...] = 0.5 * w + 0.1
    return np.sum(z * x) + np.sum(w)


def none_or_name(x):
    z = np.tanh(x)
    w = None or z
    w[1:] = w[:-1] * 0.5
    return np.sum(z * x) + np.sum(w)


def chain_in_a_loop(x):
    z = np.tanh(x)
    for i in range(3):
        v = z[1:]
        u = v[::2]
        u *= 0.5 + 0.1 * i
    return np.sum(z * x)


def dense(x):
    return np.tanh(x) * 1.0


def updated_whole_rank_unknown(x):
    z = np.tanh(dense(x))
    w = z
    w *= 0.7
    return np.sum(z * x) + np.sum(w)


def number_updated_whole(x):
    t = 0.5 * np.sum(dense(x))
    s = t
    s += 1.0
    return t * s


def view_updated_whole_rank_unknown(x):
    z = np.sin(dense(x)) + 0.5 * x
    w = z[1:]
    w -= 0.2 * np.mean(x)
    return np.sum(z * x) + np.sum(w**2)


def item_updated_whole(a):
    z = np.tanh(dense(a))
    w = z[0]
    w += 0.5
    w *= 2.0
    return np.sum(z * a) + np.sum(w)


def list_items_updated_in_a_loop(x):
    hs = [np.tanh(x), 0.5 * x]
    for v in hs:
        v += 0.1 * np.cos(v)
    return sum(np.sum(v * x) for v in hs)


def dict_values_scaled_in_a_loop(x):
    d = {"a": np.tanh(x), "b": 0.5 * x}
    for v in d.values():
        v *= 0.9
    return np.sum(d["a"] * d["b"])


def dict_items_written_in_a_loop(x):
    d = {"a": np.sin(x) + 0.5 * x, "b": x**2}
    for k, v in d.items():
        v[0] = 0.2 * v[1]
        v -= 0.1 * len(k) * np.mean(x)
    return np.sum(d["a"] * x) + np.sum(d["b"])


def rows_of_lists_written_in_a_loop(x):
    rows = [[np.tanh(x)], [0.5 * x]]
    for r in rows:
        r[0] = r[0] * 0.5
    return np.sum(rows[0][0] * rows[1][0])


def numbers_updated_in_a_loop(x):
    hs = [np.sum(x), 0.5 * np.sum(x * x)]
    for v in hs:
        v += 0.1
    return hs[0] * hs[1]


def mixed_items_updated_in_a_loop(x):
    d = {"a": np.tanh(x), "bb": np.sum(x)}
    for k, v in d.items():
        v *= 1.0 + len(k)
    return np.sum(d["a"] * x) + d["bb"] * np.sum(x)


def linked_in_a_branch(x):
    z = np.tanh(dense(x))
    w = z if np.sum(x) > 0.0 else z[::-1]
    w[0] = np.sin(w[1]) + 0.1
    return np.sum(z * x) + np.sum(w**2)


def linked_or_new_in_a_branch(x):
    z = np.tanh(x)
    w = z if np.mean(x) > 0.0 else np.tanh(x * 2.0)
    w[1:] = w[:-1] * 0.5
    return np.sum(z * x) + np.sum(w)


def views_in_a_branch_base_written(x):
    z = np.sin(x) + 0.5 * x
    w = z[1:] if np.sum(x) < 0.0 else z[::2]
    z[2] = 3.0 * z[0]
    w *= 0.5
    return np.sum(z * x) + np.sum(w**2)


def chain_then_branch(x):
    z = np.tanh(x)
    w = z
    v = w if np.sum(x) > 0.0 else x * 1.0
    v[0] = 1.0
    return np.sum(z * x) + np.sum(v * w)


LOCAL = [
    Case("name_of_a_name", name_of_a_name, (X,), order=2),
    Case("three_names_whole_update", three_names_whole_update, (X,), order=2),
    Case("view_of_a_view", view_of_a_view, (X,), order=2),
    Case("base_written", base_written_under_a_view_of_a_view, (X,), order=2),
    Case("middle_name_written", middle_name_written, (X,), order=2),
    Case("row_then_slice", row_then_slice, (A,), order=2),
    Case("chained_assignment", chained_assignment, (X,), order=2),
    Case("bound_item_by_item", bound_item_by_item, (X,), order=2),
    Case("item_of_a_list_display", item_of_a_list_display, (X,), order=2),
    Case("item_of_a_tuple_display", item_of_a_tuple_display, (X,), order=2),
    Case("got_from_a_dict_display", got_from_a_dict_display, (X,), order=2),
    Case("none_or_name", none_or_name, (X,), order=2),
    Case("chain_in_a_loop", chain_in_a_loop, (X,), order=2),
    Case("updated_whole_rank_unknown", updated_whole_rank_unknown, (X,), order=2),
    Case("number_updated_whole", number_updated_whole, (X,), order=2),
    Case("view_updated_whole", view_updated_whole_rank_unknown, (X,), order=2),
    Case("row_updated_whole", item_updated_whole, (A,), order=2),
    Case("number_item_updated_whole", item_updated_whole, (X,), order=2),
    Case("list_items_updated_in_a_loop", list_items_updated_in_a_loop, (X,), order=2),
    Case("dict_values_scaled_in_a_loop", dict_values_scaled_in_a_loop, (X,), order=2),
    Case("dict_items_written_in_a_loop", dict_items_written_in_a_loop, (X,), order=2),
    Case("rows_of_lists_written_in_a_loop", rows_of_lists_written_in_a_loop, (X,), order=2),
    Case("numbers_updated_in_a_loop", numbers_updated_in_a_loop, (X,), order=2),
    Case("mixed_items_updated_in_a_loop", mixed_items_updated_in_a_loop, (X,), order=2),
]
for sign, branch in ((1.0, "true"), (-1.0, "false")):
    LOCAL += [
        Case(f"linked_in_a_branch_{branch}", linked_in_a_branch, (sign * X,), order=2),
        Case(f"linked_or_new_{branch}", linked_or_new_in_a_branch, (sign * X,), order=2),
        Case(f"views_in_a_branch_{branch}", views_in_a_branch_base_written, (sign * X,), order=2),
        Case(f"chain_then_branch_{branch}", chain_then_branch, (sign * X,), order=2),
    ]


@pytest.mark.parametrize("case", params(LOCAL))
def test_chain_followed(case):
    check(case)


# ------------------------------------------------------------------ the caller's arguments


def argument_through_two_names(x):
    h = x
    g = h
    g[g < 0] = 0.0
    return np.sum(np.sin(x) * g)


def argument_view_of_a_view(x):
    v = x[1:]
    u = v[::2]
    u *= 2.0
    return np.sum(x * x) + np.sum(v)


def argument_row_tail(a, x):
    row = a[1]
    tail = row[2:]
    tail += x[:2]
    return np.sum(np.tanh(a)) + np.sum(row)


ARGUMENTS = [
    (argument_through_two_names, lambda: (X.copy(),), 0),
    (argument_view_of_a_view, lambda: (X.copy(),), 0),
    (argument_row_tail, lambda: (A.copy(), X.copy()), (0, 1)),
]


@pytest.mark.parametrize(("f", "make", "wrt"), ARGUMENTS, ids=[a[0].__name__ for a in ARGUMENTS])
def test_callers_array_changed_as_python_changes_it(f, make, wrt):
    check_mirrored(f, make, wrt)


def test_hvp_of_a_chain_into_an_argument():
    """The Hessian-vector product of a write through ``u = v[::2]`` of ``v = x[1:]``, against
    differences of the gradient, leaving the caller's ``x`` as Python leaves it."""
    f = argument_view_of_a_view
    v = np.linspace(-0.8, 0.6, X.size)
    grad = sg.grad(f)
    want = (grad(X + 1e-5 * v) - grad(X - 1e-5 * v)) / 2e-5
    hf = sg.hvp(f)
    for call in range(3):
        x, plain = X.copy(), X.copy()
        np.testing.assert_allclose(hf(x, v), want, 1e-5, 1e-6, err_msg=f"hvp, call {call}")
        f(plain)
        np.testing.assert_array_equal(x, plain)


# ------------------------------------------------------------------ still refused


def linked_in_a_branch_to_a_helpers_result(x):
    z = dense(x)  # (an array: what dense() returns is read as it is written)
    w = z if np.sum(x) > 0.0 else z[::-1]
    w[0] = 1.0
    return np.sum(z * x)


LAYERS = [dense]


def linked_in_a_branch_to_unknown(x):
    z = LAYERS[0](x)  # (a function known only when the derivative runs)
    w = z if np.sum(x) > 0.0 else z[::-1]
    w[0] = 1.0  # REFUSED
    return np.sum(z * x)


def chain_member_handed_on(x):
    z = np.tanh(x)
    w = z
    v = w
    keep = [v]
    v[0] = 2.0
    return np.sum(z * x) + np.sum(keep[0])


def chain_member_rebound(x):
    z = np.tanh(x)
    v = z[1:]
    u = v[::2]
    u[0] = 2.0
    v = x * 1.0
    u[1] = 3.0  # REFUSED
    return np.sum(z * x) + np.sum(v) + np.sum(u)


def swapped(x):
    a = np.tanh(x)
    b = x * 2.0
    a, b = b, a
    a[0] = 3.0  # REFUSED
    return np.sum(a * x) + np.sum(b)


def loop_items_held_by_another_name(x):
    z = np.tanh(x)
    hs = [z, 0.5 * x]
    for v in hs:
        v *= 0.5
    return np.sum(z * x) + np.sum(hs[1])


def item_kept_in_another_list(x):
    d = {"a": np.tanh(x), "b": 0.5 * x}
    keep = [d["a"]]
    for k, v in d.items():
        v *= 0.5 + len(k)  # REFUSED
    return np.sum(keep[0] * x)


def items_handed_on_by_a_loop(x):
    hs = [np.tanh(x), 0.5 * x]
    keep = []
    for u in hs:
        keep.append(u)
    for v in hs:
        v += 0.1  # REFUSED
    return np.sum(keep[0] * x)


def loop_variable_read_after(x):
    hs = [np.tanh(x), 0.5 * x]
    for v in hs:
        v -= 0.2 * np.mean(x)
    return np.sum(v * x) + np.sum(hs[0] ** 2)


def items_of_unknown_kind(x):
    hs = [dense(x), 0.5 * x]
    for v in hs:
        v *= 0.5  # REFUSED
    return np.sum(hs[0] * x) + np.sum(hs[1])


HINTS = {
    item_kept_in_another_list: "",
    items_handed_on_by_a_loop: "",
    linked_in_a_branch_to_unknown: ".copy()",
    items_of_unknown_kind: "through an index",
}
UNPROVEN = [
    chain_member_rebound,
    swapped,
    linked_in_a_branch_to_unknown,
    items_of_unknown_kind,
    item_kept_in_another_list,
    items_handed_on_by_a_loop,
]


@pytest.mark.parametrize(
    "f", [chain_member_handed_on, loop_items_held_by_another_name, loop_variable_read_after]
)
def test_items_of_a_list_display_followed(f):
    """(refused before: the arrays a list display holds were not followed: held_items.py)"""
    check(Case(f.__name__, f, (X,), order=2))


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["same", "reversed"])
def test_a_link_to_a_helpers_array_is_followed(sign):
    """(refused before: the kind of what a function of the user's returns was not read)"""
    f = linked_in_a_branch_to_a_helpers_result
    check(Case(f.__name__, f, (sign * X,), order=2))


@pytest.mark.parametrize("f", UNPROVEN, ids=[f.__name__ for f in UNPROVEN])
def test_unproven_links_refused(f):
    """Refused with the user's line of the write and a way out: a copy, or the container
    changed through its positions or keys."""
    check(Case(f.__name__, f, (X,), refused=(sg.UnsupportedSyntaxError, HINTS.get(f, ".copy()"))))


EXPORTED = [
    updated_whole_rank_unknown,
    view_of_a_view,
    argument_view_of_a_view,
    linked_in_a_branch,
    list_items_updated_in_a_loop,
]


@pytest.mark.parametrize("f", EXPORTED, ids=[f.__name__ for f in EXPORTED])
def test_jvp_and_exported_module_follow_the_write(f, tmp_path):
    """The jvp against <grad, v>, and the standalone module against the derivative, the
    caller's array left as Python leaves it."""
    v = np.linspace(0.4, -1.1, X.size)
    g = sg.grad(f)(X.copy())
    jf = sg.jvp(f)
    path = tmp_path / f"exported_{f.__name__}.py"
    sg.export(f, X.copy(), path=str(path))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for call in range(3):
        plain = X.copy()
        want = f(plain)
        x = X.copy()
        value, tangent = jf(x, v)
        np.testing.assert_allclose(value, want, 1e-12)
        np.testing.assert_allclose(tangent, g @ v, 1e-8, 1e-10, err_msg=f"jvp, call {call}")
        np.testing.assert_array_equal(x, plain)
        x = X.copy()
        value, grad = getattr(module, f"d_{f.__name__}")(x)
        np.testing.assert_allclose(value, want, rtol=1e-12)
        np.testing.assert_allclose(grad, g, rtol=1e-12)
        np.testing.assert_array_equal(x, plain)
