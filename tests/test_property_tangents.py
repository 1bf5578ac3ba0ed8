"""A property read through a name bound to more than one object (``u = Unit(b); u =
Unit(2 * b); u.s``). The forward mode once read the property's tangent as a field the tangent
record does not have and gave a zero (a silently wrong jvp: 0.0 where central differences give
-0.23); then both modes refused it; now the rebound name is a fresh name from its new binding,
and the property is read through the one object it holds there."""

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check


class Unit:
    def __init__(self, w):
        self.w = w
        self.log_s = 0.1 * w

    @property
    def s(self):
        return np.exp(self.log_s)


def rebound(b, h):
    u = Unit(b)
    u = Unit(b * 2)
    return np.sum(u.s * h)


def rebound_read_first(b, h):
    u = Unit(b)
    u = Unit(np.sin(b))
    v = u.s * h
    return np.sum(v * v)


def bound_once(b, h):
    u = Unit(b * 2)
    return np.sum(u.s * h)


B, H, T = np.array([0.3, -0.5, 0.2]), np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, -1.0])


@pytest.mark.parametrize("f", [rebound, rebound_read_first])
def test_a_property_read_through_a_rebound_name_is_followed(f):
    """The name rebound to a new object is a fresh name from that binding on, so the property
    is read through the one object it then holds: jvp and gradient as central differences."""
    check(Case(f.__name__, f, (B, H), wrt=(0, 1), order=2))
    want = (f(B + 1e-6 * T, H) - f(B - 1e-6 * T, H)) / 2e-6
    jf = sg.jvp(f)
    for _ in range(3):
        np.testing.assert_allclose(jf(B, H, T)[1], want, rtol=1e-6)


def test_a_property_read_through_a_name_bound_once_has_its_tangent():
    want = (bound_once(B + 1e-6 * T, H) - bound_once(B - 1e-6 * T, H)) / 2e-6
    jf = sg.jvp(bound_once)
    for _ in range(3):
        np.testing.assert_allclose(jf(B, H, T)[1], want, rtol=1e-6)
