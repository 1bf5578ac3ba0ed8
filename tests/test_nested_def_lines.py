"""A refusal met inside a nested ``def`` (transformed while the derivative runs, from the
generated code that holds its copy) names the exact line of the user's file, not the line of
the ``def``."""

import numpy as np
import pytest

import sourcegrad as sg


def sorts_inside(x):
    def inner(y):
        z = y * 2.0
        w = np.sum(z)
        w2 = np.histogram(z)[0][0]  # REFUSED HERE
        return w * w2

    return inner(x) + np.sum(x)


def deeper(x):
    def outer(y):
        def inner(z):
            t = np.tanh(z)
            return np.sum(np.histogram(t)[0][0] * t)  # REFUSED HERE

        return inner(y * 2.0)

    return outer(x)


def _line(f) -> int:
    lines, first = open(__file__).read().splitlines(), f.__code__.co_firstlineno
    return next(k for k in range(first, len(lines) + 1) if "# REFUSED HERE" in lines[k - 1])


@pytest.mark.parametrize("f", [sorts_inside, deeper])
def test_the_exact_line_of_a_nested_def(f):
    x = np.linspace(0.1, 1.0, 4)
    for _ in range(2):
        with pytest.raises(sg.SourcegradError) as info:
            sg.grad(f)(x)
        assert info.value.filename == __file__ and info.value.lineno == _line(f)
        assert f"test_nested_def_lines.py:{_line(f)}: " in str(info.value)
        assert "histogram(" in str(info.value)


def scaled(x):
    def inner(y):
        a = y * 3.0
        return np.sum(np.sin(a) * a)

    return inner(x) * 2.0


def test_a_nested_def_read_at_user_lines_is_still_differentiated_exactly():
    x = np.linspace(-1.0, 1.0, 5)
    value, grad = sg.value_and_grad(scaled)(x)
    assert value == scaled(x)
    assert sg.gradcheck(scaled, x, order=2)
