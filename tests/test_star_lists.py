"""``f(*xs)`` where the function builds ``xs`` itself: spliced where its length is fixed when
the derivative is built (displays, comprehensions without ``if`` over ``range(N)`` or an
argument, ``append`` in ``for`` loops of a known number of steps, constant slices), refused
naming the line and the way out otherwise."""

import numpy as np
import pytest

import sourcegrad as sg
from tests import star_list_cases as c

from .fd import numerical_grad

RNG = np.random.default_rng(3)
X = RNG.normal(size=(4, 6))
W = RNG.normal(size=(6, 6)) * 0.5
B = RNG.normal(size=6)
V = RNG.normal(size=5)

CASES = [
    (c.display_built_here, (W, B, X)),
    (c.comprehension_over_argument, ((W, B), X)),
    (c.comprehension_over_range, (V,)),
    (c.appends_in_static_loop, (V,)),
    (c.appends_in_nested_loops, (V, [0.5, -1.5])),
    (c.extended_and_sliced, (V,)),
    (c.tuple_built_here, (V, V[::-1].copy())),
    (c.spliced_in_a_later_loop, (V,)),
    (c.passed_to_a_helper, (V,)),  # (grow is inlined: its append is the caller's own)
]


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_value_and_gradient_to_second_order(f, args):
    df = sg.value_and_grad(f)
    for _ in range(3):  # the optimized code runs from the second call on
        value, grad = df(*args)
        assert value == f(*args)
        if isinstance(args[0], np.ndarray):
            np.testing.assert_allclose(grad, numerical_grad(f, args, 0), rtol=1e-6, atol=1e-8)
    assert sg.gradcheck(f, *args, order=2)


@pytest.mark.parametrize(
    "f,args,words",
    [
        (c.grows_in_while_loop, (V,), "changes in a `while` loop"),
        (c.grows_under_if, (V, 1.0), "depends on an `if`"),
        (c.filtered_comprehension, (V,), "comprehension with an `if`"),
        (c.grows_in_the_loop_of_the_call, (V,), "changes in the loop or branch around"),
    ],
)
def test_refused_naming_the_line_and_why(f, args, words):
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(*args)
    message = str(info.value)
    assert "`*parts` in a call" in message and words in message
    line = next(
        k
        for k, text in enumerate(open(c.__file__).read().splitlines(), 1)
        if k > f.__code__.co_firstlineno and "mix(*parts)" in text
    )
    assert f"star_list_cases.py:{line}" in message
