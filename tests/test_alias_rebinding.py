"""A name linked to another's memory (``y = x.reshape(...)``) and then given a new array
(``y = y - m``) no longer shares it: writing into it (``y /= s``, ``y[0] = v``) is differentiated,
not refused. A new array given only on some paths, or before the link, keeps the refusal."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check_running_code


def standardize_in_place(x):
    y = x.reshape(2, -1)
    y = y - y.mean(axis=1, keepdims=True)
    y /= y.std(axis=1, keepdims=True) + 1e-5
    return np.sum(y**3)


def scaled_then_shifted(x):
    y = x.reshape(2, -1)
    y = y * 2.0
    y += 1.0
    return np.sum(np.sin(y))


def written_after_new_array(x):
    y = x[1:]
    y = np.exp(y)
    y[0] = y[0] * 3.0
    return np.sum(y * x[1:])


def new_array_in_the_loop_body(x):
    total = 0.0
    for k in range(3):
        y = x.T
        y = y.copy()
        y *= k + 1.0
        total = total + np.sum(y * y)
    return total


def negated_then_written(x):
    y = x[::2]
    y = -y
    y[1] = 0.5
    return np.sum(y * y) + np.sum(x)


def stencil_steps(x):
    u = x.copy()
    for _ in range(3):
        new = u.copy()
        for i in range(1, u.shape[0] - 1):
            new[i] = u[i] + 0.2 * (u[i + 1] - 2 * u[i] + u[i - 1])
        u = new  # links u and new, but the next step gives new a new array before writing
    return np.sum(u**2)


def scaled_copy_each_step(x):
    y = x.copy()
    total = 0.0
    for k in range(3):
        z = y.copy()
        z *= k + 1.0
        total = total + np.sum(np.sin(z))
        y = z
    return total


ACCEPTED = [
    stencil_steps,
    scaled_copy_each_step,
    standardize_in_place,
    scaled_then_shifted,
    written_after_new_array,
    new_array_in_the_loop_body,
    negated_then_written,
]


@pytest.mark.parametrize("f", ACCEPTED)
def test_accepted_and_right(f):
    x = np.linspace(-0.8, 1.1, 6)
    kept = x.copy()
    check_running_code(f, x)
    np.testing.assert_array_equal(x, kept)


def new_array_on_one_path(x, flag):
    y = x.reshape(2, -1)
    if flag:
        y = y * 2.0
    y += 1.0
    return np.sum(y)


def new_array_before_the_link(x):
    y = x * 2.0
    y = x.reshape(2, -1)
    y += 1.0
    return np.sum(y)


def linked_at_the_end_of_the_loop(x):
    y = x.copy()
    z = x * 2.0
    for _ in range(2):
        z[0] = 1.0  # z is y from the second step on: Python changes y too
        z = y
    return np.sum(y * x)


def source_given_a_new_array(x):
    y = x[1:]
    x = x * 2.0
    y[0] = 1.0
    return np.sum(y) + np.sum(x)


@pytest.mark.parametrize(
    "f, args",
    [
        (new_array_on_one_path, (True,)),
        (new_array_before_the_link, ()),
        (source_given_a_new_array, ()),
        (linked_at_the_end_of_the_loop, ()),
    ],
)
def test_still_refused_where_the_memory_may_be_shared(f, args):
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(np.linspace(-0.8, 1.1, 6), *args)
    assert "may share" in str(info.value)
    assert "test_alias_rebinding.py" in str(info.value)


def after_an_early_return(x):
    if np.sum(x) > 100.0:
        return np.sum(x)
    t = x.reshape(2, -1).T
    t = t - np.mean(t)
    t /= 2.0
    return np.sum(np.sin(t))


def test_a_new_array_after_an_early_return():
    """The statements after an early return sit in a guard the passes add: the new array
    still counts (it was refused)."""
    x = np.linspace(-0.8, 1.1, 6)
    check_running_code(after_an_early_return, x)


def mask_then_value_in_a_loop(x):
    """A name holding a mask, then a differentiated value updated in a loop: the tangent the
    tape hands back for the mask is a zero, not None (the HVP raised a TypeError)."""
    m = x > 0.5
    acc = np.sum(m * x)
    m = 0.3 * x
    for _ in range(2):
        x = np.sin(x) * m + x
        m = m * 0.5
    return np.sum(x**2) + acc


def test_hvp_of_a_name_that_held_a_mask():
    x = np.array([0.3, -0.5, 0.8, 1.2])
    assert sg.gradcheck(mask_then_value_in_a_loop, x, order=2)
    check_running_code(mask_then_value_in_a_loop, x)
