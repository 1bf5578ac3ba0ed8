"""A call of a user function or a nested function that changes a list, dict or array argument
in place, which the caller reads after the call: the derivative follows values, so it would
not see the change (a closure appending to an enclosing list gave a zero gradient; one writing
into an enclosing dict raised inside the generated code). Refused at the call; a container
only written to (a log) is allowed."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check_running_code


def closure_appends(x):
    acc = []

    def add(v):
        acc.append(v * 2.0)

    for i in range(3):
        add(x * i)
    return np.sum(np.stack(acc) ** 2)


def closure_writes_a_dict(x):
    cache = {}

    def forward(h):
        cache["h"] = h
        return np.tanh(h)

    y = forward(x)
    return np.sum(y * cache["h"])


def record(history, v):
    history.append(v)


def helper_appends_in_a_loop(x):
    hs = []
    h = x
    for _ in range(2):
        h = np.sin(h)
        record(hs, h)
    return np.sum(hs[0] * hs[1])


@pytest.mark.parametrize("f", [closure_appends, closure_writes_a_dict])
def test_refused_at_the_call(f):
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(f)(np.array([0.3, -0.2, 0.9]))
    message = str(info.value)
    assert "test_container_mutations.py" in message
    assert "in place" in message and "is read after the call" in message


def logged(x):
    log = []
    h = np.tanh(x)
    record(log, np.sum(h))  # written to, never read: allowed
    return np.sum(h * h)


def test_a_log_only_written_to_is_allowed():
    check_running_code(logged, np.array([0.3, -0.2, 0.9]))


def test_a_helper_appending_to_a_list_read_after_is_inlined():
    check_running_code(helper_appends_in_a_loop, np.array([0.3, -0.2, 0.9]))
