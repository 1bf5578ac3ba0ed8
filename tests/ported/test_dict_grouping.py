"""Grouping and defaults with a dict, as users write them: ``d.setdefault(k, w)`` (a
statement, assigned, or as the receiver of a method) and the ways out of changing a list a
dict holds (``d[k] = [*d.get(k, []), v]``). ``d.setdefault(k, []).append(v)`` into a dict of
new lists is followed; ``d.get(k).append(v)`` changes a list the dict holds: refused, naming the
line and a way out that is itself differentiated here (before, ``d.get(k).append(v)`` gave a gradient
that missed the appended item). Last, a callable of compiled code without a rule
(``itertools.accumulate``, ``np.vectorize``) is refused by its name, not by its repr."""

import itertools
import operator

import numpy as np
import pytest

from sourcegrad.errors import NoRuleError, UnsupportedSyntaxError

from .harness import Case, check, check_refusal, params

rng = np.random.default_rng(91)
X = rng.standard_normal((5, 3))


def setdefault_statement_and_value(x):
    d = {"a": x[0]}
    d.setdefault("e", x[3])
    d.setdefault("a", x[4] * 100.0)  # kept: "a" is there
    got = d.setdefault("f", np.sin(x[4]))
    e = d.pop("a")
    return np.sum(e) + sum(np.sum(v) for v in d.values()) + np.sum(got**2)


def setdefault_in_expression(x):
    d = {"w": x[1]}
    y = np.tanh(d.setdefault("w", x[2])) + d.setdefault("v", x[0] * 3.0)
    return np.sum(y**2) + np.sum(d["v"])


def setdefault_without_default(x):
    d = {}
    d.setdefault("none")
    d["y"] = x[0] * 2.0
    return np.sum(d["y"]) if d["none"] is None else 0.0


def grouped_by_star_display(x):
    groups = {}
    for i, row in enumerate(x):
        k = i % 2
        groups[k] = [*groups.get(k, []), row * (i + 1)]
    return sum(np.sum(np.stack(v) ** 2) for v in groups.values())


def grouped_after_membership_test(x):
    groups = {}
    for i, row in enumerate(x):
        k = i % 2
        if k not in groups:
            groups[k] = []
        groups[k] = [*groups[k], row * (i + 1)]
    return sum(np.sum(np.stack(v) ** 2) for v in groups.values())


def grouped_by_setdefault_append(x):
    groups = {}
    for i, row in enumerate(x):
        groups.setdefault(i % 2, []).append(row * (i + 1))
    return sum(np.sum(np.stack(v) ** 2) for v in groups.values())


def appended_to_what_get_returns(x):
    d = {"l": []}
    d.get("l").append(x[0])  # REFUSED
    return np.sum(np.stack(d["l"]))


def appended_to_an_item(x):
    groups = {0: [], 1: []}
    for i, row in enumerate(x):
        groups[i % 2].append(row * (i + 1))  # REFUSED
    return sum(np.sum(np.stack(v) ** 2) for v in groups.values())


def appended_to_a_copy(x):
    d = {"l": [x[0]]}
    extra = d.copy()
    rows = x.tolist()
    rows.append(1.0)
    return np.sum(np.stack(extra["l"])) + len(rows)


CASES = [
    Case("setdefault statement and value", setdefault_statement_and_value, (X,), order=2),
    Case("setdefault in an expression", setdefault_in_expression, (X,), order=2),
    Case("setdefault without a default", setdefault_without_default, (X,)),
    Case("grouped by a star display", grouped_by_star_display, (X,), order=2),
    Case("grouped after a membership test", grouped_after_membership_test, (X,)),
    Case("a method's new list changed", appended_to_a_copy, (X,)),
    Case("setdefault(k, []).append", grouped_by_setdefault_append, (X,), order=2),
    Case(
        "get(k).append",
        appended_to_what_get_returns,
        (X,),
        refused=(UnsupportedSyntaxError, "d[k] = [*d.get(k, []), v]"),
    ),
    Case(
        "an item's append",
        appended_to_an_item,
        (X,),
        refused=(UnsupportedSyntaxError, "groups[i % 2] = [*groups[i % 2], v]"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_dict_grouping(case):
    check(case)


# ------------------------------------------------------------------ what has no rule, named


def running_products(x):
    return sum(np.sum(v) for v in itertools.accumulate(x, operator.mul))


def vectorized_python_function(x):
    f = np.vectorize(lambda v: v**2 if v > 0 else -v)
    return np.sum(f(x))  # REFUSED


@pytest.mark.parametrize(
    "f, hint",
    [
        (vectorized_python_function, "a `np.vectorize` object is called"),
    ],
)
def test_what_has_no_rule_is_named_by_name(f, hint):
    check_refusal(f, (X,), NoRuleError, hint)


def test_running_products_of_accumulate_are_differentiated():
    """`itertools.accumulate(x, operator.mul)` (refused as compiled code before): its partial
    products are a list the derivative follows."""
    check(Case("running_products", running_products, (X,), order=2))
