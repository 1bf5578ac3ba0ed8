"""Programs that splice a list they build themselves into a call (read by
``test_star_lists.py``; kept in their own file because sourcegrad reads their source)."""

import numpy as np


def dense(x, W, b):
    return np.tanh(x @ W + b)


def mix(*xs):
    total = 0.0
    for k, x in enumerate(xs):
        total = total + (k + 1.0) * x
    return total


def display_built_here(W, b, x):
    q = [W, 0.5 * b]
    return np.sum(dense(x, *q) ** 2)


def comprehension_over_argument(p, x):
    q = [a * 2.0 for a in p]
    return np.sum(dense(x, *q))


def comprehension_over_range(x):
    parts = [np.sin((k + 1.0) * x) for k in range(3)]
    return np.sum(mix(*parts) ** 2)


def appends_in_static_loop(x):
    parts = []
    for k in range(4):
        parts.append(x ** (k + 1))
    parts.append(np.cos(x))
    return np.sum(mix(*parts))


def appends_in_nested_loops(x, ws):
    parts = [x]
    for w in ws:
        for k in range(2):
            parts.append(np.tanh(w * x + k))
    return np.sum(np.stack([*parts]) ** 2) + np.sum(mix(*parts))


def extended_and_sliced(x):
    parts = [x, 2.0 * x]
    parts.extend([np.sin(x), np.cos(x)])
    head = parts[1:3]
    return np.sum(mix(*head) * mix(*parts))


def tuple_built_here(x, y):
    pair = (x * y, x + y)
    return np.sum(mix(*pair, x))


def spliced_in_a_later_loop(x):
    parts = [x, x * x]
    total = 0.0
    for k in range(3):
        total = total + np.sum(mix(*parts) * k)
    return total


def grows_in_while_loop(x):
    parts = []
    while len(parts) < 3:
        parts.append(x * len(parts))
    return np.sum(mix(*parts))


def grows_under_if(x, flag):
    parts = [x]
    if flag > 0:
        parts.append(2.0 * x)
    return np.sum(mix(*parts))


def filtered_comprehension(x):
    parts = [x * k for k in range(4) if k % 2]
    return np.sum(mix(*parts))


def grows_in_the_loop_of_the_call(x):
    parts = []
    total = 0.0
    for k in range(3):
        parts.append(x * k)
        total = total + np.sum(mix(*parts))
    return total


def grow(xs, x):
    xs.append(x)
    return 0.0


def passed_to_a_helper(x):
    parts = [x]
    grow(parts, 2.0 * x)
    return np.sum(mix(*parts))
