"""A refusal met while a second derivative runs names the user's line however many derivatives
the process built before: the maps from generated lines to the user's are bounded, and the
bound once dropped every map, the one of the gradient code an hvp had just built included, so
the refusal named the function's ``def`` line (seen in a long test worker)."""

import inspect

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import errors


def tall_svd(a):
    u, s, vt = np.linalg.svd(a)  # REFUSED
    return np.sum(u * u) + np.sum(s)


def refused_line() -> int:
    lines, start = inspect.getsourcelines(tall_svd)
    return next(n for n, text in enumerate(lines, start) if text.rstrip().endswith("# REFUSED"))


@pytest.fixture
def fillers():
    """Adds ownerless maps (dropped first); removes those left at the end."""
    added = []

    def fill(n):
        for _ in range(n):
            name = f"<filler {len(added)}>"
            errors.register_generated(name, "x.py", {1: 1})
            added.append(name)

    yield fill
    for name in added:
        errors.GENERATED_LINES.pop(name, None)


@pytest.mark.parametrize("room", range(6))
def test_the_refusal_names_the_line_when_the_maps_reach_their_bound(fillers, room):
    a = np.random.default_rng(0).standard_normal((4, 3))
    df = sg.hvp(tall_svd)
    with pytest.raises(sg.SourcegradError):
        df(a, np.ones_like(a))  # the builds made (and held by df)
    bound = getattr(errors, "MAX_GENERATED_MAPS", 20000)
    fillers(max(0, bound - len(errors.GENERATED_LINES) - room))
    for _ in range(3):
        with pytest.raises(sg.SourcegradError) as info:
            df(a, np.ones_like(a))
        assert str(info.value).startswith(f"{__file__}:{refused_line()}: "), str(info.value)
        fillers(bound // 3)  # past the bound: what is dropped is not df's
    assert len(errors.GENERATED_LINES) <= 2 * bound


def test_registering_a_file_again_makes_it_the_newest():
    errors.register_generated("<a>", "a.py", {1: 1})
    errors.register_generated("<b>", "b.py", {1: 1})
    errors.register_generated("<a>", "a.py", {1: 2})
    names = [n for n in errors.GENERATED_LINES if n in ("<a>", "<b>")]
    assert names == ["<b>", "<a>"] and errors.GENERATED_LINES["<a>"] == ("a.py", {1: 2})
    del errors.GENERATED_LINES["<a>"], errors.GENERATED_LINES["<b>"]
