"""Every form that hands on an existing array rather than a new one links the two names, so
a write through one of them is refused (Python changes both; sourcegrad writes into a copy):
`a if c else b`, `a or b`, the walrus, chained assignment, tuple assignment item by item,
`d.get(k)` and `d.setdefault(k, v)` of a dict the function made (both followed: the write
shows through the dict, as in Python), `hs.pop()`, `next(iter(d.values()))`, an object's field (`layer.W`, `getattr(layer, "W")`,
`vars(layer)`), and a list or dict read from a container then changed by its own methods
(`hs = d["hs"]; hs.append(h)`). These all gave a
silently wrong value before. A key written into a dict or list after one of its items was
read (`y = d["a"]; d["a"] = 2 * y`) puts a new item there and is differentiated."""

import dataclasses

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

rng = np.random.default_rng(62)


def r(*s):
    return rng.standard_normal(s)


def conditional_expression(x):
    a = np.sin(x)
    b = np.cos(x)
    y = a if np.sum(x) > -100 else b
    y[0] = 5.0  # REFUSED
    return np.sum(a * x)


def chained_assignment(x):
    a = b = np.zeros(4)
    a[0] = 1.0  # REFUSED
    return np.sum((b + x) ** 2)


def chained_then_augmented(x):
    a = b = np.ones(4)
    a += x  # REFUSED
    return np.sum(b * x)


def dict_get(x):
    d = {"a": np.sin(x)}
    y = d.get("a")
    y[0] = 5.0
    return np.sum(d["a"] * x)


def dict_setdefault(x):
    d = {"a": np.sin(x)}
    y = d.setdefault("a", x)
    y[0] = 5.0
    return np.sum(d["a"] * x)


def walrus(x):
    a = np.sin(x)
    if (y := a) is not None:
        y[0] = 5.0  # REFUSED
    return np.sum(a * x)


def next_of_values(x):
    d = {"a": np.sin(x)}
    y = next(iter(d.values()))
    y[0] = 5.0  # REFUSED
    return np.sum(d["a"] * x)


def or_expression(x):
    a = np.sin(x)
    y = None or a
    y[0] = 5.0  # (followed: the write lands in a too)
    return np.sum(a * x)


def tuple_assignment(x):
    a = np.sin(x)
    b, c = a, np.cos(x)
    b[0] = 5.0  # (followed: the write lands in a too)
    return np.sum(a * x * c)


def popped(x):
    a = np.sin(x)
    hs = [a]
    y = hs.pop()
    y[0] = 5.0  # REFUSED
    return np.sum(a * x)


@dataclasses.dataclass
class Layer:
    W: np.ndarray


def field_read_then_written(layer, x):
    W = layer.W
    W[0] = 0.0  # REFUSED
    return np.sum(layer.W * x)


def getattr_then_written(layer, x):
    W = getattr(layer, "W")  # noqa: B009 (written as users write it)
    W[1] = 0.0  # REFUSED
    return np.sum(layer.W * x)


def vars_key_written(layer, x):
    d = vars(layer)
    d["W"] = d["W"] * 2  # REFUSED
    return np.sum(layer.W * x)


def max_of_a_list_written(x):
    hs = [np.sin(x), np.cos(x)]
    m = max(hs, key=lambda v: v[0])
    m[0] = 3.0  # REFUSED
    return np.sum(hs[0] * x) + np.sum(hs[1])


def copied_list_key_written(x):
    hs = [np.sin(x), np.cos(x)]
    c = list(hs)
    c[0] = x * 2
    return np.sum(c[0] * hs[0])


def list_in_a_dict_appended(x):
    d = {"hs": []}
    hs = d["hs"]  # REFUSED
    hs.append(np.sin(x))
    return sum(np.sum(h * x) for h in d["hs"])


def inner_list_appended(x):
    outer = [[], []]
    inner = outer[0]  # REFUSED
    inner.append(np.sin(x))
    return sum(np.sum(h * x) for h in outer[0])


def copied_appended_stored_back(x):
    d = {"hs": []}
    hs = d["hs"].copy()
    hs.append(np.sin(x))
    d["hs"] = hs
    return sum(np.sum(h * x) for h in d["hs"])


def rebound_before_append(x):
    d = {"hs": [np.cos(x)]}
    hs = d["hs"]
    hs = list(hs)
    hs.append(np.sin(x))
    return sum(np.sum(h * x) for h in hs) + np.sum(d["hs"][0])


def get_then_key_write(x):
    d = {"a": np.sin(x)}
    y = d.get("a")
    d["a"] = y * 2
    return np.sum(d["a"] * x) + np.sum(y)


def read_then_key_write(x):
    d = {"a": np.sin(x)}
    y = d["a"]
    d["a"] = y * 2
    return np.sum(d["a"] * x) + np.sum(y)


def state_dict_step(W, xs):
    state = {"h": np.zeros(W.shape[0])}
    hs = [state["h"]]
    for x in xs:
        h = state["h"]
        state["h"] = np.tanh(W @ h + x)
        hs[0] = h
    return np.sum(state["h"] ** 2) + np.sum(hs[0])


def new_array_either_way(x):
    y = np.zeros(4) if np.sum(x) > -100 else np.ones(4)
    y[0] = x[1]
    return np.sum(y * x)


def walrus_new_array(x):
    if (y := np.tanh(x)).sum() > -100:
        y[0] = 1.0
    return np.sum(y * x)


def swap_then_write_a_product(x):
    a, b = np.sin(x), np.cos(x)
    a, b = b, a
    c = a * 2
    c[0] = 0.0
    return np.sum(c * b)


COPY = (sg.SourcegradError, "copy")
NEW = (sg.SourcegradError, "a new array")


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("conditional_expression", conditional_expression, (r(4),), refused=COPY),
            Case("chained_assignment", chained_assignment, (r(4),), refused=COPY),
            Case("chained_then_augmented", chained_then_augmented, (r(4),), refused=NEW),
            Case("dict_get", dict_get, (r(4),), order=2),
            Case("dict_setdefault", dict_setdefault, (r(4),), order=2),
            Case("walrus", walrus, (r(4),), refused=COPY),
            Case("next_of_values", next_of_values, (r(4),), refused=COPY),
            Case("or_expression", or_expression, (r(4),), order=2),
            Case("tuple_assignment", tuple_assignment, (r(4),), order=2),
            Case("popped", popped, (r(4),), refused=COPY),
            Case("field_read_then_written", field_read_then_written, (Layer(r(4)), r(4)),
                 refused=COPY),
            Case("getattr_then_written", getattr_then_written, (Layer(r(4)), r(4)),
                 refused=COPY),
            Case("vars_key_written", vars_key_written, (Layer(r(4)), r(4)), refused=COPY),
            Case("max_of_a_list_written", max_of_a_list_written, (r(4),), refused=COPY),
            Case("copied_list_key_written", copied_list_key_written, (r(4),), order=2),
            Case("list_in_a_dict_appended", list_in_a_dict_appended, (r(4),),
                 refused=(sg.SourcegradError, "store it back")),
            Case("inner_list_appended", inner_list_appended, (r(4),),
                 refused=(sg.SourcegradError, "store it back")),
            Case("copied_appended_stored_back", copied_appended_stored_back, (r(4),), order=2),
            Case("rebound_before_append", rebound_before_append, (r(4),), order=2),
            Case("get_then_key_write", get_then_key_write, (r(4),), order=2),
            Case("read_then_key_write", read_then_key_write, (r(4),), order=2),
            Case("state_dict_step", state_dict_step, (0.5 * r(3, 3), [r(3), r(3)]), order=2),
            Case("new_array_either_way", new_array_either_way, (r(4),), order=2),
            Case("walrus_new_array", walrus_new_array, (r(4),), order=2),
            Case("swap_then_write", swap_then_write_a_product, (r(4),), order=2),
        ]
    ),
)  # fmt: skip
def test_value_sharing_forms(case):
    check(case)
