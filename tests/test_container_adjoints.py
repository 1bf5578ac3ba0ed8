"""Adjoints and tangents of containers the function changes or builds: ``dict.pop`` and
``dict.update``, dict entries never read, item and slice assignment on lists, displays that mix
a differentiated argument with one that is not (Hessian-vector products), ``np.r_`` /
``np.c_`` and ``np.meshgrid``. Each program is checked through the public API with the ported
corpus's checks: the value against Python's own, the gradient against central differences on
the first three calls (the code specialised to the arguments runs from the second), and the
Hessian-vector product against central differences of the gradient."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

RNG = np.random.default_rng(11)
X = RNG.standard_normal(4)
Y = RNG.standard_normal(4)
X3, Y3 = RNG.standard_normal(3), RNG.standard_normal(3)
M = RNG.standard_normal((3, 2))


# ------------------------------------------------------------------ dict methods


def dict_pop(x):
    d = {"a": x, "b": x * 2.0, "c": np.sin(x)}
    v = d.pop("a")
    return np.sum(v * d["b"] * d["c"])


def dict_pop_default(x):
    d = {"a": x, "b": x * 2.0}
    v = d.pop("z", x**2)
    w = d.pop("a", 1.0)
    return np.sum(v * w * d["b"])


def dict_pop_unused(x):
    d = {"a": np.exp(x), "b": x * 2.0}
    d.pop("a")
    return np.sum(sum(d.values()) ** 2)


def dict_pop_in_expression(x):
    d = {"a": x, "b": x * 2.0}
    y = np.sin(d.pop("a")) * 2.0
    return np.sum(y * d["b"]) * len(d)


def dict_pop_in_loop(x):
    d = {0: x, 1: x * 2.0, 2: np.cos(x)}
    total = 0.0
    for k in [2, 0]:
        total = total + np.sum(d.pop(k) * x)
    return total * np.sum(d[1])


def dict_pop_key_in_name(x):
    d = {"a": x, "b": x * 3.0}
    k = "b"
    v = d.pop(k)
    return np.sum(v * d["a"] * len(d))


def dict_pop_argument(p):
    p = dict(p)  # (pop on the argument itself would change the caller's dict: refused)
    w = p.pop("w")
    return np.sum(np.tanh(w * p["b"]))


def dict_update(x):
    d = {"a": x}
    d.update({"b": x * 2.0})
    return np.sum(d["a"] * d["b"])


def dict_update_overwrites(x):
    d = {"a": x, "b": np.ones(4)}
    d.update({"b": np.sin(x), "c": x * x}, a=x * 3.0)
    return np.sum(d["a"] * d["b"] + d["c"])


def dict_update_from_dict(x):
    d = {"a": x}
    e = {"b": x * 2.0, "a": np.cos(x)}
    d.update(e)
    return np.sum(d["a"] * d["b"])


def dict_update_pairs(x):
    d = {"a": x}
    d.update(zip(["b", "a"], [x * 2.0, np.exp(x)]))
    return np.sum(d["a"] * d["b"])


def dict_update_unknown(x, e):
    d = {"a": x}
    d.update(e)
    return np.sum(d["a"] * d["b"] * x)


def dict_update_in_loop(x):
    d = {"s": x}
    for i in range(3):
        d.update(s=d["s"] * x + i)
    return np.sum(d["s"])


# ------------------------------------------------------------------ entries never read


def dict_comprehension_one_read(x):
    d = {i: x[i] for i in range(3)}
    return d[0] * 3.0


def dict_loop_one_read(x):
    d = {}
    for i in range(3):
        d[i] = x[i] * 2.0
    return d[1] ** 3


def dict_arrays_one_read(x):
    d = {k: x * (k + 1.0) for k in range(3)}
    return np.sum(np.tanh(d[2]))


def dict_overwritten_entry(x):
    d = {"a": x, "b": x}
    d["a"] = x * 5.0
    d["a"] = np.sin(d["a"])
    return np.sum(d["a"] * d["b"])


# ------------------------------------------------------------------ lists


def list_setitem(x):
    lst = [x, x * 2.0]
    lst[0] = x * 3.0
    return np.sum(lst[0] * lst[1])


def list_setitem_negative(x):
    lst = [x, x * 2.0, np.exp(x)]
    lst[-1] = lst[0] * lst[1]
    return np.sum(lst[2] * lst[0])


def list_slice_assign(x):
    lst = [x, x, x]
    lst[1:] = [x * 2.0, x * 3.0]
    return np.sum(lst[1] * lst[2] * lst[0])


def list_slice_assign_middle(x):
    lst = [x, np.sin(x), x * x, x]
    lst[1:3] = [np.cos(lst[1]), lst[2] * 2.0]
    return np.sum(lst[0] * lst[1] + lst[2] * lst[3])


# ------------------------------------------------------------------ mixed displays (hvp)


def mix_loop_over_list(x, y):
    total = 0.0
    for v in [x, y]:
        total = total + np.sum(v**2) * np.sum(x)
    return total


def mix_generator(x, y):
    return sum(np.sum(v * x * x) for v in [x, y])


def mix_list_ctor(x, y):
    lst = list((x, y))
    return np.sum(lst[0] * lst[1] * lst[0])


def mix_dict_zip(x, y):
    d = dict(zip(["p", "q"], [x, y]))
    return np.sum(d["p"] ** 2 * d["q"])


def mix_asarray(x, y):
    return np.sum(np.asarray((x, y)) ** 2 * x)


def mix_concatenate_einsum(x, y):
    z = np.concatenate([x, y])
    return np.einsum("i,i->", z, np.concatenate([y, x])) * np.sum(x**2)


def mix_tuple_index(x, y, k):
    return np.sum(np.sin((x, y)[k]) * x)


# ------------------------------------------------------------------ np.r_, np.c_, np.meshgrid


def r_pair(x, y):
    return np.sum(np.r_[x, y] ** 3)


def r_scalar_and_range(x, y):
    return np.sum(np.r_[x, 2.0, 0:2, y] ** 3 * np.arange(9.0))


def r_single(x):
    return np.sum(np.r_[x] ** 3)


def c_pair(x, y):
    return np.sum(np.c_[x, y] ** 3 @ np.array([1.0, -2.0]))


def c_matrix(m, y):
    return np.sum(np.sin(np.c_[m, y]))


def meshgrid_xy(x, y):
    a, b = np.meshgrid(x, y[:2])
    return np.sum(a * b**2)


def meshgrid_ij(x, y):
    a, b = np.meshgrid(x, y[:2], indexing="ij")
    return np.sum(np.sin(a) * b)


def meshgrid_three(x, y):
    a, b, c = np.meshgrid(x, y[:2], x[:1] * 2.0)
    return np.sum(a * b * c + c)


def meshgrid_sparse(x, y):
    a, b = np.meshgrid(x, y, sparse=True)
    return np.sum(np.cos(a + b))


def meshgrid_one_output(x, y):
    grids = np.meshgrid(x, y)
    return np.sum(grids[1] ** 2)


CASES = [
    Case("dict_pop", dict_pop, (X,), order=2),
    Case("dict_pop_default", dict_pop_default, (X,), order=2),
    Case("dict_pop_unused", dict_pop_unused, (X,), order=2),
    Case("dict_pop_in_expression", dict_pop_in_expression, (X,), order=2),
    Case("dict_pop_in_loop", dict_pop_in_loop, (X,), order=2),
    Case("dict_pop_key_in_name", dict_pop_key_in_name, (X,), order=2),
    Case("dict_pop_argument", dict_pop_argument, ({"w": X, "b": Y},), order=2),
    Case("dict_update", dict_update, (X,), order=2),
    Case("dict_update_overwrites", dict_update_overwrites, (X,), order=2),
    Case("dict_update_from_dict", dict_update_from_dict, (X,), order=2),
    Case("dict_update_pairs", dict_update_pairs, (X,), order=2),
    Case("dict_update_unknown_dict", dict_update_unknown, (X, {"b": Y}), wrt=(0, 1), order=2),
    Case("dict_update_unknown_pairs", dict_update_unknown, (X, [("b", Y)]), wrt=0, order=2),
    Case("dict_update_in_loop", dict_update_in_loop, (X,), order=2),
    Case("dict_comprehension_one_read", dict_comprehension_one_read, (X,), order=2),
    Case("dict_loop_one_read", dict_loop_one_read, (X,), order=2),
    Case("dict_arrays_one_read", dict_arrays_one_read, (X,), order=2),
    Case("dict_overwritten_entry", dict_overwritten_entry, (X,), order=2),
    Case("list_setitem", list_setitem, (X,), order=2),
    Case("list_setitem_negative", list_setitem_negative, (X,), order=2),
    Case("list_slice_assign", list_slice_assign, (X,), order=2),
    Case("list_slice_assign_middle", list_slice_assign_middle, (X,), order=2),
    Case("mix_loop_over_list_x", mix_loop_over_list, (X, Y), wrt=0, order=2),
    Case("mix_loop_over_list_y", mix_loop_over_list, (X, Y), wrt=1, order=2),
    Case("mix_generator", mix_generator, (X, Y), wrt=0, order=2),
    Case("mix_list_ctor", mix_list_ctor, (X, Y), wrt=0, order=2),
    Case("mix_dict_zip_x", mix_dict_zip, (X, Y), wrt=0, order=2),
    Case("mix_dict_zip_y", mix_dict_zip, (X, Y), wrt=1, order=2),
    Case("mix_asarray", mix_asarray, (X, Y), wrt=0, order=2),
    Case("mix_concatenate_einsum", mix_concatenate_einsum, (X, Y), wrt=0, order=2),
    Case("mix_tuple_index", mix_tuple_index, (X, Y, 1), wrt=0, order=2),
    Case("r_pair", r_pair, (X3, Y3), wrt=(0, 1), order=2),
    Case("r_scalar_and_range", r_scalar_and_range, (X3, Y3), wrt=(0, 1), order=2),
    Case("r_single", r_single, (X3,), order=2),
    Case("c_pair", c_pair, (X3, Y3), wrt=(0, 1), order=2),
    Case("c_matrix", c_matrix, (M, Y3), wrt=(0, 1), order=2),
    Case("meshgrid_xy", meshgrid_xy, (X3, Y3), wrt=(0, 1), order=2),
    Case("meshgrid_ij", meshgrid_ij, (X3, Y3), wrt=(0, 1), order=2),
    Case("meshgrid_three", meshgrid_three, (X3, Y3), wrt=(0, 1), order=2),
    Case("meshgrid_sparse", meshgrid_sparse, (X3, Y3), wrt=(0, 1), order=2),
    Case("meshgrid_one_output", meshgrid_one_output, (X3, Y3), wrt=(0, 1), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_container_adjoints(case):
    check(case)


def test_meshgrid_jacobian_and_jvp():
    check(Case("meshgrid_jac", lambda_free_meshgrid, (X3,), kind="jac"))


def lambda_free_meshgrid(x):
    a, b = np.meshgrid(x, x[:2] * 3.0, indexing="ij")
    return a * b


def r_directive(x):
    return np.sum(np.r_["0,2", x, x])


def test_np_r_directive_string_is_refused():
    """Refused when the derivative runs (the items are known only then), saying what to use
    instead; never a zero gradient."""
    for _ in range(2):
        with pytest.raises(sg.SourcegradError, match="np.concatenate"):
            sg.grad(r_directive)(X3)


def setdefault_of_argument(d, x):
    d = dict(d)
    v = d.setdefault("a", 0.0)
    return np.sum(v * x)


def popitem_of_argument(d, x):
    d = dict(d)
    _, v = d.popitem()
    return np.sum(v * x)


@pytest.mark.parametrize("f", [popitem_of_argument])
def test_method_of_a_differentiated_dict_without_a_rule_is_refused(f):
    """Its result used to be taken as a constant: a zero gradient, silently."""
    with pytest.raises(
        sg.NoRuleError, match=r"test_container_adjoints.py:\d+: `\.(setdefault|popitem)\(\)`"
    ):
        sg.grad(f)({"a": np.array([3.0, 4.0])}, np.array([1.0, 2.0]))


def test_setdefault_of_a_differentiated_dict_reads_the_item():
    """``d.setdefault(k, w)`` is a membership test and an item write: the item's gradient."""
    d, x = {"a": np.array([3.0, 4.0])}, np.array([1.0, 2.0])
    df = sg.grad(setdefault_of_argument)
    for _ in range(3):
        np.testing.assert_array_equal(df(d, x)["a"], x)
