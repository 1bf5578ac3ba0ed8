"""A gradient called inside a function being differentiated (a gradient penalty, MAML's inner
step): the reverse derivative of that gradient runs its function a second time, so a function
that draws from a generator it does not seed, or makes a change outside it that a second run
would repeat (``LOG.append``, ``G.n += 1``), is refused at the user's line with the place of
the draw or change; one that seeds its generator or takes its draws as an argument is
followed. Refused too where the function draws from a generator it does not seed:
``sg.hessian`` and ``sg.jacobian`` (a run per column) and a derivative of order 3 (a run
more on its first call). Against Python's value and central differences on calls 1-3."""

from __future__ import annotations

import re

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError

from .ported.harness import assert_value, numerical

R = np.random.default_rng(2201)
W = R.standard_normal(3)
X = R.standard_normal((4, 3))
rng = np.random.default_rng(0)
LOG: list = []


class Counter:
    def __init__(self):
        self.calls = 0

    def bump(self):
        self.calls += 1


counter = Counter()


def critic_drawing(w, x):
    keep = rng.random(x.shape[-1]) > 0.3
    return np.sum(np.tanh(x @ (w * keep)))


def critic_logging(w, x):
    LOG.append(len(x))
    return np.sum(np.tanh(x @ w))


def critic_counting(w, x):
    counter.bump()
    return np.sum(np.tanh(x @ w))


def critic_seeded(w, x):
    own = np.random.default_rng(3)
    keep = own.random(x.shape[-1]) > 0.3
    return np.sum(np.tanh(x @ (w * keep)))


def critic_masked(w, x, keep):
    return np.sum(np.tanh(x @ (w * keep)))


def penalty_of(critic):
    def penalty(w, x):
        gx = sg.grad(critic, wrt=1)(w, x)
        return np.sum((np.sqrt(np.sum(gx**2, axis=1)) - 1.0) ** 2)

    return penalty


def penalty_masked(w, x, keep):
    gx = sg.grad(critic_masked, wrt=1)(w, x, keep)
    return np.sum((np.sqrt(np.sum(gx**2, axis=1)) - 1.0) ** 2)


@pytest.mark.parametrize(
    "critic, said, at",
    [
        (critic_drawing, "draws random numbers (`rng.random`)", critic_drawing),
        (critic_logging, "changes `LOG`", critic_logging),
        (critic_counting, "changes `self`", Counter.bump),
    ],
)
@pytest.mark.parametrize("make", [sg.grad, sg.value_and_grad, sg.hvp])
def test_a_critic_whose_second_run_shows_is_refused(critic, said, at, make):
    penalty = penalty_of(critic)
    args = (W, X, W) if make is sg.hvp else (W, X)
    with pytest.raises(SourcegradError, match=re.escape(said)) as caught:
        make(penalty)(*args)
    line = penalty.__code__.co_firstlineno + 1  # (the line calling the gradient)
    assert f"{__file__}:{line}" in str(caught.value)
    assert f"{__file__}:{at.__code__.co_firstlineno + 1}" in str(caught.value)


def test_a_critic_seeding_its_generator_is_followed():
    penalty = penalty_of(critic_seeded)
    want, slopes = penalty(W, X), numerical(penalty, (W, X), 0)
    df = sg.value_and_grad(penalty)
    for call in range(1, 4):
        value, g = df(W, X)
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(g, slopes, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def test_draws_passed_in_are_followed():
    keep = rng.random(3) > 0.3
    want, slopes = penalty_masked(W, X, keep), numerical(penalty_masked, (W, X, keep), 0)
    df = sg.value_and_grad(penalty_masked)
    for call in range(1, 4):
        value, g = df(W, X, keep)
        assert_value(value, want, f"value, call {call}")
        np.testing.assert_allclose(g, slopes, rtol=1e-5, atol=1e-6, err_msg=f"call {call}")


def drawing_scalar(x):
    s = rng.random() + 0.5
    return np.tanh(s * x) ** 3


def drawing_array(x):
    keep = rng.random(x.shape) > 0.3
    return np.tanh(x * keep)


@pytest.mark.parametrize(
    "make, f, args, said",
    [
        (sg.hessian, critic_drawing, (W, X), "sg.hessian runs critic_drawing() once per column"),
        (sg.jacobian, drawing_array, (W,), "sg.jacobian runs drawing_array() once per row"),
        (
            lambda f: sg.grad(sg.grad(sg.grad(f))),
            drawing_scalar,
            (0.3,),
            "a derivative of order 3 or more runs drawing_scalar() once more",
        ),
    ],
)
def test_a_derivative_running_a_drawing_function_again_is_refused(make, f, args, said):
    # (each run would draw other numbers: the columns of another function each)
    with pytest.raises(SourcegradError, match=re.escape(said)) as caught:
        make(f)(*args)
    assert caught.value.filename == __file__
    assert caught.value.lineno == f.__code__.co_firstlineno + 1  # (the draw)


def test_a_hessian_of_a_logging_function_is_followed():
    # (appending once per column is what sg.hessian is documented to do)
    h = sg.hessian(critic_logging)
    want = sg.jacobian(sg.grad(critic_logging))(W, X)
    for call in range(1, 4):
        np.testing.assert_allclose(h(W, X), want, rtol=1e-10, err_msg=f"call {call}")
