"""State kept in objects the differentiated function does not make (globals), as users write
it: a list of activations logged in a global, ``setattr`` on a global object. Where the
function reads that object after the call, the derivative would read its state as a constant
(before: a silent wrong gradient); that is refused, naming the line. Where it does not read
it after, the call runs as written and the object holds what Python leaves there. (A global
object's attribute read and stored, ``G.h = f(G.h)``, also by its method called as a
statement, is followed: tests/test_object_state_between_calls.py.)"""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import UnsupportedSyntaxError

from .harness import Case, check, check_refusal, params

rng = np.random.default_rng(97)
X = rng.standard_normal((5, 3))
W = rng.standard_normal((3, 4))

logged: list = []


class Box:
    pass


box = Box()


def appended_then_read(x):
    logged.append(np.sin(x))  # REFUSED
    return np.sum(logged[-1] ** 2)


def set_then_read(x, name="h"):
    setattr(box, name, np.sin(x))  # REFUSED
    return np.sum(box.h**2)


def appended_in_a_loop_then_read(x):
    total = 0.0
    for row in x:
        if logged:
            total = total + np.sum(logged[-1])
        logged.append(np.tanh(row))  # REFUSED
    return total


def logged_only(x):
    h = np.tanh(x @ W)
    logged.append(h)
    return np.sum(np.tanh(h @ W.T) ** 2)


def set_only(x, name="last"):
    setattr(box, name, np.sin(x))
    return np.sum(x**2)


WAY_OUT = "keep the value in a local variable"
CASES = [
    Case("appended then read", appended_then_read, (X,), refused=(UnsupportedSyntaxError, WAY_OUT)),
    Case("setattr then read", set_then_read, (X,), refused=(UnsupportedSyntaxError, WAY_OUT)),
    Case(
        "appended in a loop, read in the next step",
        appended_in_a_loop_then_read,
        (X,),
        refused=(UnsupportedSyntaxError, WAY_OUT),
    ),
    Case("logged, not read", logged_only, (X,), order=2),
    Case("setattr, not read", set_only, (X,)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_outer_state(case):
    check(case)


def test_what_is_logged_is_what_python_logs_and_stays_so():
    df = sg.grad(logged_only)
    for k in range(4):
        logged.clear()
        x = X * (1.0 + k)
        df(x)
        held = logged[0]
        want = np.tanh(x @ W)
        np.testing.assert_array_equal(held, want)
        df(X * 7.0)  # a later call reuses its buffers, never the logged array
        np.testing.assert_array_equal(held, want)
    set_only_grad = sg.grad(set_only)
    for _ in range(3):
        set_only_grad(X)
        np.testing.assert_array_equal(box.last, np.sin(X))


def test_refused_on_the_old_code_the_gradient_was_wrong():
    """What the refusal prevents: the read after the call would be a constant."""
    check_refusal(appended_then_read, (X,), UnsupportedSyntaxError, "`logged`")
