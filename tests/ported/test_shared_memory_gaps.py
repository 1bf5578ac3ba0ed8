"""Programs that share no memory where it looks as if they might, written as users write
them: a slice of a list is a new list (a slice of an array is a view: a write through it
is followed into the array); a list joined and stored back into a dict (``state["hs"] =
hs + [h]``) is a new list; ``v *= 2`` of a number read out of a dict or list rebinds ``v``
(of an array it changes the container's item: refused); ``np.add.at`` (a repeated index
adds as often as it repeats) and ``np.fill_diagonal`` as the item writes they make; ``**blk``
over a list of dict displays."""

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

rng = np.random.default_rng(83)


def r(*s):
    return rng.standard_normal(s)


# ------------------------------------------------------------------ a slice of a list


def slice_copy_then_item_write(x):
    hs = [np.sin(x), x * 2.0]
    a = hs[:]
    a[0] = np.tanh(x)
    return np.sum(a[0] * hs[0]) + np.sum(a[1] * hs[1])


def slice_copy_then_append(x):
    hs = [np.sin(x), x * 2.0]
    a = hs[:]
    a.append(np.cos(x))
    a[1] = a[2] * x
    return np.sum(a[1] * a[2]) + np.sum(hs[1]) * len(hs)


def tail_slice_then_item_write(x):
    hs = [x, x**2, np.exp(x)]
    rest = hs[1:]
    rest[0] = rest[0] * 3.0
    return np.sum(rest[0] + hs[1]) + np.sum(rest[1])


def slice_of_a_list_argument(hs, w):
    a = hs[:]
    a.append(w * 2.0)
    a[0] = np.tanh(a[0] * w)
    return np.sum(a[0] * hs[0]) + np.sum(a[-1] * hs[-1])


def copy_method_then_writes(x):
    hs = [np.sin(x), x * 2.0]
    a = hs.copy()
    a.append(x * 3.0)
    a[0] = x * 4.0
    return np.sum(a[0] * hs[0]) + np.sum(a[2])


def slice_of_an_array_written(x):
    """``a = y[:]`` of an array is a view: the write into ``a`` is followed into ``y``."""
    y = x * 2.0
    a = y[:]
    a[0] = 5.0
    return np.sum(y * x)


def item_of_a_slice_copy_written(x):
    hs = [x * 1.0, x * 2.0]
    a = hs[:]
    a[0][1] = 7.0
    return np.sum(hs[0] * x)


def item_of_a_slice_copy_updated(x):
    hs = [x * 1.0, x * 2.0]
    a = hs[:]
    a[0] += x
    return np.sum(hs[0] * x)


# ------------------------------------------------------------------ a new list stored back


def rnn_state_in_a_dict(x):
    state = {"hs": [x * 1.0], "steps": 0}
    for _ in range(3):
        hs = state["hs"]
        h = np.tanh(hs[-1] * 0.5 + x)
        state["hs"] = hs + [h]
        state["steps"] = state["steps"] + 1
    return np.sum(state["hs"][-1]) * state["steps"] + np.sum(state["hs"][1])


def rnn_state_argument_copied(x, state):
    state = dict(state)  # (the caller's dict kept as it was)
    for _ in range(3):
        hs = state["hs"]
        h = np.tanh(hs[-1] * x + 0.1)
        state["hs"] = hs + [h]
    return np.sum(state["hs"][-1] * state["hs"][0])


def old_list_kept_after_store(x):
    state = {"hs": [np.sin(x)]}
    hs = state["hs"]
    state["hs"] = hs + [x * 3.0]
    return np.sum(state["hs"][-1] * hs[-1]) + len(hs)


def list_item_extended_by_plus_equals(x, state):
    hs = state["hs"]  # REFUSED
    hs += [np.sin(x)]
    return np.sum(state["hs"][-1] * x)


def array_item_plus_a_list(x, d):
    v = d["v"]
    new = v + [1.0, 2.0]
    return np.sum(new * x)


def copied_argument_item_written_in_a_branch(x, state, c):
    state = dict(state)
    if c > 0:
        state["w"] = x * 2.0
    return np.sum(state["w"] * x)


# ------------------------------------------------------------------ numbers updated in a loop


def scale_float_values(x):
    d = {"a": float(x[0]), "b": x[1] * 2.0}
    t = 0.0
    for v in d.values():
        v *= 2.0
        t = t + v
    return t + d["a"] * x[2]


def scale_float_items_sorted(x):
    d = {"a": x[0] * 1.0, "b": x[1] * 3.0}
    t = 0.0
    for k, v in sorted(d.items()):
        v *= x[2]
        t = t + v * len(k)
    return t + d["b"]


def scale_float_argument_values(x, d):
    t = 0.0
    for v in d.values():
        v *= x[0]
        t = t + v
    return t + d["a"] * x[1]


def shift_floats_of_a_list(x):
    hs = [x[0] * 1.0, x[1] * 2.0]
    t = 0.0
    for h in hs:
        h += x[2]
        t = t + h * h
    return t + hs[0]


def scale_array_values(x):
    d = {"a": x[:2] * 1.0, "b": x[2:]}
    for v in d.values():
        v *= 2.0  # REFUSED
    return np.sum(d["a"]) * x[2]


def scale_mixed_values(x):
    d = {"a": x[:2] * 1.0, "b": x[2:] * 1.0}
    d["c"] = float(x[0])
    for _, v in d.items():
        v *= 2.0  # REFUSED
    return np.sum(d["a"]) * x[2]


def scale_array_argument_values(x, d):
    t = 0.0
    for v in d.values():
        v *= 2.0  # REFUSED
        t = t + np.sum(v * x)
    return t + np.sum(d["a"])


# ------------------------------------------------------------------ np.add.at, np.fill_diagonal


def histogram_by_add_at(x):
    counts = np.zeros(4)
    bins = np.array([0, 1, 1, 3, 1])
    np.add.at(counts, bins, x * x)
    return np.sum(counts * np.arange(1.0, 5.0) * counts)


def add_at_rows_and_cells(W, v):
    a = np.tanh(W)
    np.add.at(a, np.array([2, 0, 2]), v)
    np.add.at(a, (np.array([1, 1, 0]), np.array([0, 0, 2])), v[0] * 3.0)
    np.subtract.at(a, [0, 0], 0.5 * v[1])
    return np.sum(a**2)


def embedding_gradient_style(E, tokens, g):
    dE = np.zeros_like(E)
    np.add.at(dE, tokens, g * E[tokens])
    return np.sum(dE * E)


def diagonal_set_from_a_vector(x, W):
    K = np.outer(x, x) + W
    np.fill_diagonal(K, np.exp(x))
    return np.sum(K * W)


def diagonal_of_a_tall_matrix_repeated(x, W):
    a = W * x[0]
    np.fill_diagonal(a, x[1:3])  # two items along a diagonal of three: repeated
    return np.sum(a * W)


def diagonal_of_a_cube(x):
    a = np.ones((3, 3, 3)) * x[0]
    np.fill_diagonal(a, np.sin(x[1]))
    return np.sum(a * a)


def diagonal_wrapped(x):
    a = np.outer(x, x)
    np.fill_diagonal(a, 0.0, wrap=True)  # REFUSED
    return np.sum(a)


def add_at_into_a_viewed_array(x):
    a = x * 1.0
    head = a[:2]
    np.add.at(a, [0, 0], 1.0)  # REFUSED
    return np.sum(head * x[:2])


# ------------------------------------------------------------------ ** of a list's items


def scaled(h, scale=1.0, shift=0.0):
    return h * scale + shift


def blocks_of_displays(p, x):
    blocks = [{"scale": p["s"] * 2.0, "shift": p["b"]}, {"scale": 0.5, "shift": np.sin(p["b"])}]
    for blk in blocks:
        x = scaled(x, **blk)
    return np.sum(x**2)


def blocks_with_other_keys(p, x):
    blocks = [{"scale": p["s"]}, {"shift": p["b"]}]
    for blk in blocks:
        x = scaled(x, **blk)  # REFUSED
    return np.sum(x**2)


def blocks_grown(p, x):
    blocks = [{"scale": p["s"], "shift": p["b"]}]
    blocks.append({"scale": 2.0})
    for blk in blocks:
        x = scaled(x, **blk)  # REFUSED
    return np.sum(x**2)


WRITE_THROUGH = (sg.SourcegradError, "explicit copy")
KEYWORDS = (sg.SourcegradError, "pass the keywords one by one")
THROUGH_KEYS = (sg.SourcegradError, "for k in d: d[k] = ...")
P = {"s": 0.7, "b": r(3)}

CASES = [
    Case("slice_copy_then_item_write", slice_copy_then_item_write, (r(3),), order=2),
    Case("slice_copy_then_append", slice_copy_then_append, (r(3),), order=2),
    Case("tail_slice_then_item_write", tail_slice_then_item_write, (r(3),), order=2),
    Case("slice_of_a_list_argument", slice_of_a_list_argument, ([r(3), r(3)], r(3)), wrt=(0, 1)),
    Case("copy_method_then_writes", copy_method_then_writes, (r(3),), order=2),
    Case("slice_of_an_array_written_followed", slice_of_an_array_written, (r(3),), order=2),
    # (followed since held_items reads list displays: hs[0] holds the item written)
    Case("item_of_a_slice_copy_written", item_of_a_slice_copy_written, (r(3),), order=2),
    Case("item_of_a_slice_copy_updated", item_of_a_slice_copy_updated, (r(3),), order=2),
    Case("rnn_state_in_a_dict", rnn_state_in_a_dict, (r(3),), order=2),
    Case("rnn_state_argument_copied", rnn_state_argument_copied, (r(3), {"hs": [r(3)]}),
         wrt=(0, 1)),
    Case("old_list_kept_after_store", old_list_kept_after_store, (r(3),), order=2),
    Case("list_item_extended_by_plus_equals", list_item_extended_by_plus_equals,
         (r(3), {"hs": [r(3)]}), refused=(sg.SourcegradError, "store it back")),
    Case("array_item_plus_a_list", array_item_plus_a_list, (r(2), {"v": r(2)}), wrt=(0, 1)),
    Case("copied_argument_item_written_in_a_branch", copied_argument_item_written_in_a_branch,
         (r(3), {"w": r(3)}, 1.0), wrt=(0, 1)),
    Case("copied_argument_item_not_written", copied_argument_item_written_in_a_branch,
         (r(3), {"w": r(3)}, -1.0), wrt=(0, 1)),
    Case("scale_float_values", scale_float_values, (r(4),), order=2),
    Case("scale_float_items_sorted", scale_float_items_sorted, (r(4),), order=2),
    Case("scale_float_argument_values", scale_float_argument_values,
         (r(4), {"a": 0.5, "b": 1.5}), wrt=(0, 1)),
    Case("shift_floats_of_a_list", shift_floats_of_a_list, (r(4),), order=2),
    Case("scale_array_values", scale_array_values, (r(4),), refused=THROUGH_KEYS),
    Case("scale_mixed_values", scale_mixed_values, (r(4),), refused=THROUGH_KEYS),
    Case("scale_array_argument_values", scale_array_argument_values, (r(2), {"a": r(2)}),
         refused=THROUGH_KEYS),
    Case("histogram_by_add_at", histogram_by_add_at, (r(5),), order=2),
    Case("add_at_rows_and_cells", add_at_rows_and_cells, (r(3, 3), r(3)), wrt=(0, 1),
         order=2),
    Case("embedding_gradient_style", embedding_gradient_style,
         (r(4, 2), np.array([3, 1, 3, 3]), r(4, 2)), wrt=(0, 2)),
    Case("diagonal_set_from_a_vector", diagonal_set_from_a_vector, (r(3), r(3, 3)), wrt=(0, 1),
         order=2),
    Case("diagonal_of_a_tall_matrix_repeated", diagonal_of_a_tall_matrix_repeated,
         (r(3), r(5, 3)), wrt=(0, 1)),
    Case("diagonal_of_a_cube", diagonal_of_a_cube, (r(2),), order=2),
    Case("diagonal_wrapped", diagonal_wrapped, (r(3),),
         refused=(sg.SourcegradError, "compute the new array and assign it")),
    Case("add_at_into_a_viewed_array", add_at_into_a_viewed_array, (r(3),),
         refused=WRITE_THROUGH),
    Case("blocks_of_displays", blocks_of_displays, (P, r(3)), wrt=(0, 1)),
    Case("blocks_with_other_keys", blocks_with_other_keys, (P, r(3)), refused=KEYWORDS),
    Case("blocks_grown", blocks_grown, (P, r(3)), refused=KEYWORDS),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_shared_memory_gaps(case):
    check(case)
