"""A number times an object of the user's class runs the object's ``__rmul__`` only where the
left operand is surely a number: a name a loop keeps multiplying (``lr = lr * 0.9``) is one;
a helper of the user's is one where it surely returns a number or an array (a helper
returning an object of a class with ``__mul__`` runs that method first, as in Python: the
class every ``return`` of the helper makes; where the returns make different classes, the
operator is refused)."""

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, params

R = np.random.default_rng(31)
X = R.standard_normal(4)


class Scaled:
    def __init__(self, w):
        self.w = w

    def __mul__(self, other):
        return Scaled(self.w * (other.w if isinstance(other, Scaled) else other))

    def __rmul__(self, other):
        return Scaled(self.w * other + 1.0)


def decayed_rate_times_object(x):
    lr = 0.5
    for _ in range(3):
        lr = lr * 0.9
    q = lr * Scaled(np.sin(x))
    return np.sum(q.w * x)


def rate_of(t):
    return 0.5 * np.cos(t)


def helper_number_times_object(x):
    q = rate_of(x[0]) * Scaled(np.tanh(x))
    return np.sum(q.w * q.w)


def object_of(x):
    return Scaled(2.0 * x)


def helper_object_times_object(x):
    q = object_of(x) * Scaled(np.tanh(x))
    return np.sum(q.w)


def bound_object_of(x):
    made = Scaled(np.cos(x))
    return made


def object_of_object(x):
    return object_of(x * x)


class Other:
    def __init__(self, w):
        self.w = w

    def __mul__(self, other):
        return Other(self.w - other.w)


def either(x):
    if x[0] > 0.0:
        return Scaled(x)
    return Other(x)


def bound_helper_object_times_object(x):
    q = bound_object_of(x) * Scaled(np.tanh(x))
    return np.sum(q.w * x)


def nested_helper_object_times_number(x):
    q = object_of_object(x) * 3.0
    return np.sum(q.w * q.w)


def number_times_helper_object(x):
    q = 2.0 * object_of(x)
    return np.sum(np.sin(q.w))


def helper_object_kept_multiplying(x):
    q = object_of(x)
    for _ in range(2):
        q = q * Scaled(np.tanh(x))
    return np.sum(q.w)


def either_object_times_object(x):
    q = either(x) * Scaled(np.tanh(x))  # REFUSED
    return np.sum(q.w)


CASES = [
    Case("decayed_rate_times_object", decayed_rate_times_object, (X,)),
    Case("helper_number_times_object", helper_number_times_object, (X,)),
    Case("helper_object_times_object", helper_object_times_object, (X,), order=2),
    Case("bound_helper_object", bound_helper_object_times_object, (X,), order=2),
    Case("nested_helper_object", nested_helper_object_times_number, (X,), order=2),
    Case("number_times_helper_object", number_times_helper_object, (X,), order=2),
    Case("helper_object_kept_multiplying", helper_object_kept_multiplying, (X,)),
    Case("helper_object_kept_multiplying_hvp", helper_object_kept_multiplying, (X,), order=2),
    Case(
        "either_object_times_object",
        either_object_times_object,
        (X,),
        refused=(sg.UnsupportedSyntaxError, "make `either` return objects of one class"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_number_times_object(case):
    check(case)
