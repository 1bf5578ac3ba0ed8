"""``transform.source_lines.definition_lines`` (a function's lines read from its code object,
without tokenizing) gives what ``inspect.getblock`` gives, and the derivative of a function
whose end the code object does not show is still right."""

from __future__ import annotations

import importlib.util
import inspect
import json
import linecache
import textwrap
import types

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform.parse import parse
from sourcegrad.transform.source_lines import definition_lines

TRICKY = '''
import numpy as np


def ends_in_pass(x):
    if np.sum(x) > 0:
        y = x * 2.0
    else:
        pass
    return np.sum(x * x)


def ends_in_else_pass(x):
    y = np.sum(x * x)
    if y > 0:
        return y
    else:
        pass


def closing_bracket_at_column_zero(x):
    return np.sum(
        x * 3.0
)


def string_at_column_zero(x):
    return np.sum(np.sin(x)) * len("""a note
at column zero""")


def unreachable_string_last(x):
    return np.sum(x)
    """a note
that ends at column zero"""


@staticmethod
def decorated(x):
    return np.sum(x ** 3)


def one_line(x): return np.sum(np.cos(x))
def after_one_line(x):
    return np.sum(x)


def nested(x):
    def inner(u):
        return u * u
    return np.sum(inner(x) + 1.0)
'''


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    path = tmp_path_factory.mktemp("tricky") / "tricky_module.py"
    path.write_text(TRICKY)
    spec = importlib.util.spec_from_file_location("tricky_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _functions(module):
    for value in vars(module).values():
        if isinstance(value, staticmethod):
            value = value.__func__
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            yield value


def _getblock(fn):
    lines = linecache.getlines(fn.__code__.co_filename)
    return inspect.getblock(lines[fn.__code__.co_firstlineno - 1 :])


def _definition(fn):
    return definition_lines(linecache.getlines(fn.__code__.co_filename), fn.__code__)


@pytest.mark.parametrize("module", [json.decoder, inspect, textwrap])
def test_the_lines_are_getblocks_on_library_code(module):
    checked = 0
    for fn in _functions(module):
        first = linecache.getlines(fn.__code__.co_filename)[fn.__code__.co_firstlineno - 1]
        if first.lstrip().startswith(("def ", "@")):
            assert _definition(fn) == _getblock(fn), fn.__qualname__
            checked += 1
    assert checked > 3


def test_the_lines_are_getblocks_on_tricky_endings(tricky):
    for fn in _functions(tricky):
        if fn.__name__ == "unreachable_string_last":
            continue  # the code object does not show the string: parse falls back (below)
        assert _definition(fn) == _getblock(fn), fn.__name__


@pytest.mark.parametrize(
    "name",
    [
        "ends_in_pass",
        "closing_bracket_at_column_zero",
        "string_at_column_zero",
        "decorated",
        "one_line",
        "after_one_line",
        "nested",
    ],
)
def test_tricky_endings_differentiate(tricky, name):
    fn = getattr(tricky, name)
    fn = fn.__func__ if isinstance(fn, staticmethod) else fn
    x = np.linspace(0.1, 0.9, 5)
    df = sg.value_and_grad(fn)
    for _ in range(3):
        value, grad = df(x)
        assert value == fn(x)
        eps = 1e-6
        fd = [(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(5)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_parse_tokenizes_where_the_code_object_misses_the_end(tricky):
    """The last statement, a string, has no instruction: the lines read from the code object
    end before it and do not parse; ``parse`` then reads the lines as ``inspect`` does."""
    fn = tricky.unreachable_string_last
    assert _definition(fn) != _getblock(fn)
    parsed = parse(fn)
    assert len(parsed.node.body) == 2
