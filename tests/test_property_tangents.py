"""A property read through a name bound to more than one object (``u = Unit(b); u =
Unit(2 * b); u.s``): sourcegrad cannot call the getter there. The reverse mode refused it; the
forward mode read the property's tangent as a field the tangent record does not have and gave a
zero (a silently wrong jvp: 0.0 where central differences give -0.23). Both refuse now, naming
the user's line that reads it (in forward mode too where the read is in the ``return``, whose
tangent the derivative's own ``return`` computes)."""

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import marked_line


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
    return np.sum(u.s * h)  # READ


def rebound_read_first(b, h):
    u = Unit(b)
    u = Unit(np.sin(b))
    v = u.s * h  # READ
    return np.sum(v * v)


def bound_once(b, h):
    u = Unit(b * 2)
    return np.sum(u.s * h)


B, H, T = np.array([0.3, -0.5, 0.2]), np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, -1.0])


@pytest.mark.parametrize("f", [rebound, rebound_read_first])
@pytest.mark.parametrize("mode", ["jvp", "grad"])
def test_a_property_read_through_a_rebound_name_is_refused(mode, f):
    make = (lambda: sg.jvp(f)(B, H, T)) if mode == "jvp" else lambda: sg.grad(f)(B, H)
    for _ in range(2):
        with pytest.raises(sg.SourcegradError) as caught:
            make()
        message = str(caught.value)
        assert message.startswith(f"{__file__}:{marked_line(f, '# READ')}: "), message
        assert "`.s` is a property of Unit" in message


def test_a_property_read_through_a_name_bound_once_has_its_tangent():
    want = (bound_once(B + 1e-6 * T, H) - bound_once(B - 1e-6 * T, H)) / 2e-6
    jf = sg.jvp(bound_once)
    for _ in range(3):
        np.testing.assert_allclose(jf(B, H, T)[1], want, rtol=1e-6)
