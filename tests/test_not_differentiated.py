"""A differentiated value passed to a parameter a rule does not differentiate, where the
derivative there is not zero (a quantile's probability level, ``nan_to_num``'s replacement
values, class weights of a cross entropy, ``polygamma``'s order): refused at the user's line
in reverse and forward mode, where it was a silent zero; the same calls with constants there
are differentiated as before."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check, check_refusal


def level(w, x):
    q = 1.0 / (1.0 + np.exp(-w[0]))
    return np.quantile(x * w[1], q)  # REFUSED


def replacement(w, x):
    return np.sum(np.nan_to_num(np.log(x), neginf=w[0]) * w[1])  # REFUSED


def class_weights(w, logits, labels):
    return sg.nn.functional.cross_entropy(logits, labels, weight=np.exp(w))  # REFUSED


def constants_there(w, x):
    return np.quantile(x * w[1], 0.3) + np.sum(np.nan_to_num(np.log(x), neginf=-5.0) * w[0])


W = np.array([0.2, 1.5])
CASES = [
    (level, (W, np.linspace(0.0, 1.0, 7)), "probability level"),
    (replacement, (W, np.array([0.0, 1.0, 2.0])), "in place of NaN"),
    (
        class_weights,
        (np.zeros(3), np.linspace(-1, 1, 12).reshape(4, 3), np.array([0, 1, 2, 1])),
        "class weights",
    ),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("make", [sg.grad, sg.jvp], ids=["reverse", "forward"])
@pytest.mark.parametrize("f, args, why", CASES, ids=[c[0].__name__ for c in CASES])
def test_a_differentiated_value_where_the_rule_does_not_differentiate_is_refused(
    f, args, why, make
):
    if make is sg.jvp:
        with pytest.raises(sg.NoRuleError, match=why):
            make(f)(*args, np.ones_like(args[0]))
        return
    check_refusal(f, args, sg.NoRuleError, why)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_constants_in_those_parameters_are_differentiated():
    check(Case("constants_there", constants_there, (W, np.array([0.5, 1.0, 2.0])), order=2))


def test_polygamma_in_its_order_is_refused():
    special = pytest.importorskip("scipy.special", reason="polygamma is scipy's")

    def order_varies(w):
        return np.sum(special.polygamma(w[0], w[1:]))

    with pytest.raises(sg.SourcegradError, match="order of the derivative"):
        sg.grad(order_varies)(np.array([1.0, 2.0, 3.0]))
