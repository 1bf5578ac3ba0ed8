"""``f(*t)`` and ``f(**d)``: spliced where sourcegrad knows the length or keys when it builds
the derivative (a display, an argument read through constant keys, ``x.shape[...]``, a loop
over an argument whose items share their structure, a list the function builds with a fixed
number of items), refused naming the line otherwise."""

import numpy as np
import pytest

import sourcegrad as sg
from tests import star_call_cases as c

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 6))
W = RNG.normal(size=(6, 6)) * 0.5
B = RNG.normal(size=6)

CASES = [
    (c.tuple_argument, ((W, B), X)),
    (c.dict_of_keywords, ({"ln": {"g": B, "b": 0.5 * B}}, X)),
    (c.shape_spliced, (X,)),
    (c.loop_over_layers, ([(W, B), (0.5 * W, -B)], X)),
    (c.loop_over_norms, ([{"g": B, "b": 0.1 * B}, {"g": 1.0 + B * B, "b": B}], X)),
    (c.slice_spliced, ((W, B, 2.0 * B), X)),
    (c.display_spliced, (W, B, X)),
    (c.loop_name_bound_again, ([(W, B), (0.5 * W, -B)], X)),
    (c.list_built_here, ((W, B), X)),  # its length is the argument's (test_star_lists.py)
]


@pytest.mark.parametrize("f,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_value_and_gradient_to_second_order(f, args):
    value, _ = sg.value_and_grad(f)(*args)
    assert value == f(*args)
    assert sg.gradcheck(f, *args, order=2)


def test_keyword_only_argument_next_to_a_star_call():
    p = (W, B, 2.0 * B)
    value, grads = sg.value_and_grad(c.slice_spliced)(p, X, scale=3.0)
    assert value == c.slice_spliced(p, X, scale=3.0)
    expected = sg.grad(lambda p: c.slice_spliced(p, X, scale=3.0))(p)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_new_length_builds_again():
    df = sg.grad(c.loop_over_layers)
    for n in (1, 2, 3, 2):
        p = [(W * (k + 1) / 4, B * k) for k in range(n)]
        got = df(p, X)
        assert len(got) == n
        assert sg.gradcheck(c.loop_over_layers, p, X)


@pytest.mark.parametrize(
    "f,args,words",
    [
        (c.keyword_twice, ({"ln": {"g": B, "b": B}}, X), "'g' given twice"),
    ],
)
def test_refused_naming_the_line(f, args, words):
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f)(*args)
    message = str(info.value)
    assert words in message
    assert f"star_call_cases.py:{f.__code__.co_firstlineno + 2}" in message or (
        f"star_call_cases.py:{f.__code__.co_firstlineno + 1}" in message
    )


def test_items_of_different_structure_are_refused_not_guessed():
    p = [(W, B), (W, B, B)]  # the second layer would get three arguments: Python raises
    with pytest.raises(sg.SourcegradError, match=r"`\*layer` in a call"):
        sg.grad(c.loop_over_layers)(p, X)


def test_an_item_rebound_in_the_loop_is_no_longer_known():
    with pytest.raises(sg.SourcegradError, match=r"`\*layer` in a call"):
        sg.grad(c.loop_item_rebound_before_the_splice)([(W, B)], X)
