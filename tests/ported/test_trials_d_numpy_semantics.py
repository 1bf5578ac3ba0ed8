"""NumPy's own semantics where a derivative could silently part from them, as NumPy's
indexing documentation and user code show them: ``y[[0, 0, 1]] += x`` (a repeated index
lands once), ``y[[0, 0, 1]] = v`` (the last write wins), masks made from the array they
write, overlapping ``y[1:] += y[:-1]`` and ``y += y.T`` (NumPy copies first), a reversed
self-assignment, a swap through fancy indices, tuple assignment of two slices,
``np.add.at``; and Python idioms around them: ``np.unravel_index(np.argmax(x))``,
``max(range(n), key=...)``, a double generator, a reversed ``range``, ``any(x > 1)``,
f-string keys, ``np.unique(..., return_inverse=True)`` indices, ``a, *rest = x``,
``iter``/``next`` stepped and ``sorted`` of floats; with the refusal of ``zip(*rows)`` kept
as a value;
``np.maximum.accumulate``'s running maximum. Each against Python's value and central differences on calls
1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params


def inplace_p1(x):
    y = np.ones(3)
    y[[0, 0, 1]] += x
    return np.sum(y**2)


def inplace_p2(x):
    y = np.ones(3)
    y[[0, 0, 1]] = x * 2
    return np.sum(np.sin(y))


def inplace_p3(x):
    y = x.copy()
    y[y > 0] *= 2
    return np.sum(y**3)


def inplace_p4(x):
    y = x * 1.0
    y[1:] += y[:-1]
    return np.sum(y**2)


def inplace_p5(x):
    y = np.outer(x, x) + np.diag(x)
    y += y.T
    return np.sum(np.sin(y))


def inplace_p6(x):
    y = x * 1.0
    y[::-1] = y
    return np.sum(y * np.arange(3.0))


def inplace_p7(x):
    y = np.zeros((2, 3))
    y[..., 0] = x[:2]
    y[:, 1:] = y[:, :1] * x[2]
    return np.sum(y**2)


def inplace_p8(x):
    y = x * 1.0
    a = y[0]
    y[0] = 5.0 * y[1]
    return a * y[0] + np.sum(y)


def inplace_p9(x):
    y = x * 1.0
    y[[2, 0]] = y[[0, 2]]
    return np.sum(y * np.arange(3.0))


def inplace_p10(x):
    y = x * 1.0
    y[1:], y[:-1] = y[:-1] * 2, y[1:] * 3
    return np.sum(y * np.arange(1.0, 4.0))


def inplace_p11(x):
    y = np.zeros(4)
    np.add.at(y, [0, 0, 1], x)
    return np.sum(y**2)


def inplace_p12(x):
    y = x * 1.0
    y[np.array([True, False, True])] = y[np.array([False, True, True])]
    return np.sum(y**2 * np.arange(1.0, 4.0))


def inplace_p13(x):
    y = x * 1.0
    y *= y
    y -= y[0]
    return np.sum(y * np.arange(1.0, 4.0))


def idiom_q1(x):
    it = iter([x[0], x[1], x[2]])
    a = next(it)
    b = next(it)
    return a * b


def idiom_q2(x):
    i, j = np.unravel_index(np.argmax(x), x.shape)
    return x[i, j] ** 2 + x[j, i]


def idiom_q3(x):
    return np.sum(x[np.argsort(x)] * np.arange(4.0))


def idiom_q4(x):
    k = max(range(len(x)), key=lambda i: x[i])
    return x[k] * np.sum(x)


def idiom_q5(x):
    n = len(x)
    return sum(x[i] * x[j] for i in range(n) for j in range(i))


def idiom_q6(x):
    total = 0.0
    for i in range(len(x) - 1, -1, -1):
        total = total * 0.9 + x[i]
    return total


def idiom_q7(x):
    if any(x > 1.0):
        return np.sum(x**2)
    return np.sum(x)


def idiom_q8(x):
    p = {f"layer_{i}": x[i] for i in range(3)}
    return sum(v * (k == "layer_1") + v**2 for k, v in p.items())


def idiom_q9(x):
    rows = [x[0:2], x[2:4]]
    cols = list(zip(*rows))  # REFUSED
    return sum(a * b for a, b in cols)


def idiom_zip_star_display(x):
    cols = list(zip(*[x[0:2], x[2:4]]))
    return sum(a * b for a, b in cols)


def idiom_q10(x):
    u, inv = np.unique(np.array([2, 0, 2, 1]), return_inverse=True)
    return np.sum(x[inv] ** 2 * u[inv])


def idiom_q11(x):
    vals = sorted([float(v) for v in x])
    return vals[0] * vals[-1]


def idiom_q12(x):
    a, *rest = x
    return a * np.sum(np.array(rest) ** 2)


def idiom_q13(x):
    y = np.clip(x, a_min=None, a_max=0.5)
    return np.sum(y**2) + np.sum(np.maximum.accumulate(x) * np.arange(4.0))


def idiom_q14(x):
    return np.sum(np.diff(x, n=2) ** 2) + np.ptp(x)


X3 = np.array([0.3, -0.7, 1.1])
X4 = np.array([0.3, -0.7, 1.1, 0.5])
X22 = np.array([[0.3, -0.7], [1.1, 0.2]])

CASES = [
    Case("repeated_index_augmented", inplace_p1, (X3,), order=2),
    Case("repeated_index_last_write", inplace_p2, (X3,), order=2),
    Case("mask_from_itself", inplace_p3, (X3,)),
    Case("overlapping_slices_augmented", inplace_p4, (X3,), order=2),
    Case("plus_own_transpose", inplace_p5, (X3,), order=2),
    Case("reversed_self_assignment", inplace_p6, (X3,), order=2),
    Case("ellipsis_then_slice_from_itself", inplace_p7, (X3,), order=2),
    Case("scalar_read_then_written", inplace_p8, (X3,)),
    Case("swap_by_fancy_indices", inplace_p9, (X3,), order=2),
    Case("tuple_of_overlapping_slices", inplace_p10, (X3,), order=2),
    Case("add_at_repeated", inplace_p11, (X3,), order=2),
    Case("mask_to_mask_copy", inplace_p12, (X3,), order=2),
    Case("squared_then_minus_own_item", inplace_p13, (X3,), order=2),
    Case("unravel_argmax", idiom_q2, (X22,)),
    Case("argsort_permutation", idiom_q3, (X4,)),
    Case("max_range_key", idiom_q4, (X4,)),
    Case("double_generator", idiom_q5, (X4,), order=2),
    Case("reversed_range", idiom_q6, (X4,), order=2),
    Case("any_branch", idiom_q7, (X4,)),
    Case("fstring_dict_comprehension", idiom_q8, (X4,), order=2),
    Case("unique_inverse", idiom_q10, (X4[:3],)),
    Case("star_rest", idiom_q12, (X4,), order=2),
    Case("diff_n2_ptp", idiom_q14, (X4,), order=2),
    Case("iter_next", idiom_q1, (X4,), order=2),
    Case(
        "zip_star_as_value_refused",
        idiom_q9,
        (X4,),
        refused=(sg.NoRuleError, "loop over it directly"),
    ),
    Case("sorted_floats", idiom_q11, (X4,), order=2),
    Case("list_zip_of_star_display", idiom_zip_star_display, (X4,), order=2),
    Case("clip_none_and_running_max", idiom_q13, (X4 * 1.1,), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_numpy_semantics(case):
    check(case)
