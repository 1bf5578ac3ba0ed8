"""Idioms from micrograd-style and tutorial code where a silent wrong answer could hide: list
displays and comprehensions handed to NumPy functions (``np.linalg.norm([...])`` of
per-layer norms, ``np.square([a, b])``), helpers drawing random numbers (seeded inside them:
followed; from the global generator or one passed in: refused, since the derivative runs the
helper again), keyword-only settings with array defaults, integer and boolean arrays mixed
into float arithmetic, ``sum`` of a 2-D array, ``max`` of a 1-D array, a list of row views
read in a loop, aliasing through tuples, ``float()`` and ``.item()`` of a differentiated
scalar, a vector class with operator methods. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7104)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ list displays as operands


def global_norm(grads):
    return np.linalg.norm([np.linalg.norm(g) for g in grads])


def clip_by_global_norm_loss(ws, max_norm=1.0):
    norm = global_norm(ws)
    scale = np.minimum(1.0, max_norm / norm)
    return sum(np.sum(np.sin(w * scale)) for w in ws)


def square_of_display(x):
    return np.sum(np.square([np.sum(x), x[0] * x[1]])) + np.prod([x[0], x[2], 2.0])


def std_of_comprehension(x):
    return np.std([np.sum(row**2) for row in x]) + np.linalg.norm([x[0, 0], x[1, 1]], ord=1)


def polyval_display(x):
    return np.sum(np.polyval([x[0], x[1], 1.0], x)) + np.sum(np.exp([x[0], -x[1]]))


# ------------------------------------------------------------------ random draws in helpers


def seeded_noise(h, scale, seed=0):
    rng = np.random.default_rng(seed)
    return h + scale * rng.standard_normal(h.shape)


def seeded_helper_loss(x):
    h = seeded_noise(np.tanh(x), 0.1)
    return np.sum(h**2) + np.sum(seeded_noise(h, 0.2, seed=1) ** 3)


def noisy(h):
    return h + 0.1 * np.random.randn(*h.shape)


def block(h, W):
    return noisy(np.tanh(h @ W))


def noisy_through_two_helpers(W, x):
    h = block(x, W)  # REFUSED
    return np.sum(h**2)


def nested_def_draws(x):
    np.random.seed(0)

    def noise(h):
        return h * (np.random.rand(*h.shape) > 0.5)

    return np.sum(noise(np.sin(x)) ** 2)  # REFUSED


def lambda_draws(x):
    np.random.seed(0)
    noise = lambda h: h * (np.random.rand(*h.shape) > 0.5)  # noqa: E731
    return np.sum(noise(np.sin(x)) ** 2)  # REFUSED


def library_dropout_from_generator(x, seed):
    h = np.tanh(x)
    h = sg.nn.functional.dropout(h, 0.5, generator=np.random.default_rng(seed))  # REFUSED
    return np.sum(h**2)


def dropout_mask_drawn_in_loss(x, seed):
    rng = np.random.default_rng(seed)
    h = np.tanh(x)
    keep = rng.random(h.shape) >= 0.5
    return np.sum((h * keep / (1 - 0.5)) ** 2)


# ------------------------------------------------------------------ settings and dtypes


def kwonly_array_default(w, *, center=np.zeros(3), scale=2.0):  # noqa: B008
    return np.sum(((w - center) / scale) ** 2)


def kwonly_loss(w):
    return kwonly_array_default(w) + kwonly_array_default(w, center=np.ones(3), scale=0.5)


def int_and_bool_arrays(x, counts, keep):
    return np.sum(x * counts) + np.sum(x[keep] ** 2) + np.sum(x * keep) / counts.sum()


def builtin_sum_of_matrix(x):
    col = sum(x)  # the sum over rows: an array
    return np.sum(col**2) + max(x[0]) + abs(x[1]).sum()


def rows_listed_then_read(x):
    rows = list(x)
    total = 0.0
    for i, row in enumerate(rows):
        total = total + (i + 1) * np.sum(row**2)
    return total + np.sum(rows[0] * rows[-1])


def tuple_alias(x):
    a = x * 2.0
    pair = (a, a)
    b, c = pair
    b = b + 1.0
    return np.sum(b * c) + np.sum(pair[0])


def float_and_item(x):
    s = float(np.sum(x**2))
    m = np.mean(x).item()
    return s * m + np.float64(s) ** 0.5


def reduce_dot(mats):
    return np.sum(functools.reduce(np.dot, mats))


def walrus_and_or(x, cfg):
    scale = cfg.get("scale") or 1.0
    if (n := np.sum(x**2)) > 1.0:
        return scale * np.sqrt(n)
    return scale * n


def reverse_cumsum(x, gamma=0.9):
    discounts = gamma ** np.arange(len(x))
    return np.sum((x * discounts)[::-1].cumsum()[::-1] / discounts * x)


def while_halving(x):
    step = 1.0
    y = x
    while np.sum(y**2) > 0.5:
        y = y * 0.5
        step = step / 2
    return np.sum(np.sin(y)) * step


# ------------------------------------------------------------------ more shapes and settings


def out_into_intermediate(x, y):
    z = np.empty_like(x)
    np.add(x, y, out=z)
    np.multiply(z, x, out=z)
    return np.sum(z**2)


def row_bias_shape(W, b, x):
    return np.sum(np.tanh(x @ W + b) ** 2)


def float32_params(p, x):
    h = np.tanh(x @ p["W"] + p["b"])
    return np.sum(h * h)


@dataclasses.dataclass
class Scaled:
    gain: float

    def __call__(self, x, *, shift=0.0, power=2):
        return self.gain * (x - shift) ** power


def call_object_kwonly(x):
    f = Scaled(1.5)
    return np.sum(f(x)) + np.sum(f(x, shift=0.5, power=3))


def first_over_threshold(xs, threshold=0.0):
    for i, x in enumerate(xs):
        if np.sum(x) > threshold:
            return (i + 1) * np.sum(x**2)
    return np.sum(xs[-1])


def early_return_loop_loss(x):
    return first_over_threshold([x[:2], x[2:4], x[4:]], threshold=0.5)


def sorted_items_penalty(params):
    return sum((k + 1) * np.sum(v**2) for k, (_, v) in enumerate(sorted(params.items())))


def broadcast_outer(x, y):
    return np.sum(np.cos(x[..., None] * y[None, ...]))


def clip_method_and_axis_max(x):
    return np.sum(x.clip(0) ** 2) + np.sum(np.concatenate([x, x]).max(axis=0))


def closure_with_kwonly(x, w):
    def layer(h, *, act=np.tanh):
        return act(h * w)

    return np.sum(layer(x)) + np.sum(layer(x, act=np.sin))


# ------------------------------------------------------------------ a class with operators


@dataclasses.dataclass
class Vec:
    data: np.ndarray

    def __add__(self, other):
        other = other if isinstance(other, Vec) else Vec(other)
        return Vec(self.data + other.data)

    def __mul__(self, other):
        other = other if isinstance(other, Vec) else Vec(other)
        return Vec(self.data * other.data)

    def __rmul__(self, other):
        return Vec(other * self.data)

    def __sub__(self, other):
        return Vec(self.data - other.data)

    def dot(self, other):
        return np.sum(self.data * other.data)

    def norm(self):
        return np.sqrt(self.dot(self))


def vec_operators(a, b):
    c = Vec(a) + Vec(b)
    d = c * 2.0
    return d.dot(c)


def vec_reflected(a, b):
    u = Vec(a)
    v = 3.0 * u - Vec(np.tanh(b))
    return v.dot(u) + v.norm()


def vec_arguments(p, q):
    d = p - q
    return (d * d).dot(p) + (0.5 * q).norm()


def vec_methods_only(a, b):
    c = Vec(a).__add__(Vec(b))
    return c.__mul__(c).dot(Vec(a))


CASES = [
    Case("global_norm_list_comprehension", clip_by_global_norm_loss, ([r(2, 2), r(3)],)),
    Case("square_prod_of_display", square_of_display, (r(3),), order=2),
    Case("std_norm_of_comprehension", std_of_comprehension, (r(2, 3),), order=2),
    Case("polyval_exp_of_display", polyval_display, (r(3),), order=2),
    Case("helper_seeds_its_generator", seeded_helper_loss, (r(4),), order=2),
    Case(
        "helper_of_helper_draws",
        noisy_through_two_helpers,
        (r(3, 3), r(2, 3)),
        refused=(sg.UnsupportedSyntaxError, "noisy(), "),
    ),
    Case(
        "nested_def_draws",
        nested_def_draws,
        (r(4),),
        refused=(sg.UnsupportedSyntaxError, "seed the generator inside noise()"),
    ),
    Case(
        "lambda_draws",
        lambda_draws,
        (r(4),),
        refused=(sg.UnsupportedSyntaxError, "the derivative runs noise() again"),
    ),
    Case(
        "library_dropout_generator_made_in_loss",
        library_dropout_from_generator,
        (r(4), 0),
        refused=(sg.UnsupportedSyntaxError, "multiply by it"),
    ),
    Case("dropout_mask_drawn_in_loss", dropout_mask_drawn_in_loss, (r(4), 0), order=2),
    Case("kwonly_array_default", kwonly_loss, (r(3),), order=2),
    Case(
        "int_and_bool_arrays",
        int_and_bool_arrays,
        (r(4), np.array([1, 2, 0, 3]), np.array([True, False, True, True])),
        order=2,
    ),
    Case("builtin_sum_max_abs_of_arrays", builtin_sum_of_matrix, (r(3, 4),)),
    Case("rows_listed_then_read", rows_listed_then_read, (r(3, 2),), order=2),
    Case("tuple_alias_rebound", tuple_alias, (r(3),), order=2),
    Case("float_and_item", float_and_item, (r(3) + 1.0,), order=2),
    Case("reduce_dot", reduce_dot, ([r(2, 3), r(3, 3), r(3, 2)],), order=2),
    Case("walrus_and_or_default", walrus_and_or, (r(3), {"scale": None}), order=2),
    Case("walrus_large_branch", walrus_and_or, (2 + r(3), {"scale": 3.0}), order=2),
    Case("reverse_discounted_cumsum", reverse_cumsum, (r(5),), order=2),
    Case("while_halving", while_halving, (2 + r(3),), order=2),
    Case("out_into_intermediate", out_into_intermediate, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("row_bias_1xn", row_bias_shape, (r(3, 2), r(1, 2), r(4, 3)), wrt=(0, 1), order=2),
    Case(
        "float32_parameter_dict",
        float32_params,
        ({"W": r(3, 2).astype(np.float32), "b": r(2).astype(np.float32)}, r(4, 3)),
        rtol=2e-2,
        atol=2e-3,
    ),
    Case("layer_object_kwonly_call", call_object_kwonly, (r(3),), order=2),
    Case("early_return_in_helper_loop", early_return_loop_loss, (r(6),), order=2),
    Case("sorted_items_in_enumerate", sorted_items_penalty, ({"b": r(2), "a": r(3)},), order=2),
    Case("broadcast_outer_none", broadcast_outer, (r(3), r(2)), wrt=(0, 1), order=2),
    Case("clip_method_axis_max_ties", clip_method_and_axis_max, (r(2, 3),)),
    Case("nested_def_kwonly_function", closure_with_kwonly, (r(3), r(3)), wrt=(0, 1), order=2),
    Case(
        "vector_class_operators",
        vec_operators,
        (r(3), r(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "vector_class_dunder_calls",
        vec_methods_only,
        (r(3), r(3)),
        wrt=(0, 1),
        order=2,
    ),
    Case("vector_class_reflected_and_sub", vec_reflected, (r(3), r(3)), wrt=(0, 1), order=2),
    Case(
        "vector_objects_as_arguments",
        vec_arguments,
        (Vec(r(3)), Vec(r(3))),
        wrt=(0, 1),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_idioms(case):
    check(case)
