"""A function parsed again is copied from the tree kept for its code: the same tree, its own
copy, its own defaults; a changed source is parsed again. Builds pause the cyclic collector
and give it back as they found it."""

from __future__ import annotations

import gc
import linecache
import textwrap

import gast
import numpy as np

import sourcegrad as sg
from sourcegrad import pipeline
from sourcegrad.transform import parse as P
from tests.fd import numerical_grad


def _dump(parsed) -> str:
    return gast.dump(parsed.node, include_attributes=True)


def _helper(x, scale=2.0, *, shift=1.0):
    y = np.tanh(x) * scale
    return np.sum(y + shift)


def test_a_function_parsed_again_gives_the_same_tree_each_time_a_copy():
    first = P.parse(_helper)
    trees = [P.parse(_helper) for _ in range(4)]  # the second parse keeps a copy, later ones copy
    for parsed in trees:
        assert _dump(parsed) == _dump(first)
        assert parsed.node is not first.node
        assert parsed.lines == first.lines and parsed.lines is not first.lines
        assert parsed.filename == first.filename
    trees[2].node.body.clear()  # a caller rewriting its tree changes no other one
    trees[2].node.args.defaults.clear()
    trees[2].lines.clear()
    again = P.parse(_helper)
    assert _dump(again) == _dump(first) and again.lines == first.lines


def _made(scale):
    def inner(x, k=scale):
        return np.sum(x * k)

    return inner


def test_functions_of_one_code_keep_their_own_defaults_and_closures():
    fns = [_made(s) for s in (1.0, 2.0, 3.0, 4.0)]
    assert len({f.__code__ for f in fns}) == 1
    seen = []
    for f in fns:
        parsed = P.parse(f)
        (default,) = parsed.node.args.defaults
        seen.append(default.value)
        assert parsed.fn is f
    assert seen == [1.0, 2.0, 3.0, 4.0]
    x = np.linspace(-1.0, 1.0, 5)
    for f, s in zip(fns, (1.0, 2.0, 3.0, 4.0)):
        for _ in range(2):  # first call (ranks), then the build for shapes
            value, g = sg.value_and_grad(f)(x)
            assert value == f(x)
            np.testing.assert_allclose(g, np.full(5, s), rtol=1e-12)


def test_a_changed_source_is_parsed_again(tmp_path):
    path = tmp_path / "mod_reparse.py"
    text = "import numpy as np\n\ndef f(x):\n    return np.sum(x * x)\n"
    path.write_text(text)
    namespace: dict = {"__name__": "mod_reparse"}
    exec(compile(text, str(path), "exec"), namespace)
    f = namespace["f"]
    for _ in range(3):
        assert "x * x" in gast.unparse(P.parse(f).node)
    # the same code object, its file rewritten (as an editor saving it would)
    path.write_text(textwrap.dedent(text).replace("x * x", "x * x * x"))
    linecache.checkcache(str(path))
    assert "x * x * x" in gast.unparse(P.parse(f).node)


def test_gradients_of_a_helper_called_from_several_places_stay_exact():
    def loss(x):
        return _helper(x) + _helper(2.0 * x, 3.0) + _helper(x * x, shift=0.5)

    x = np.linspace(-0.9, 0.7, 6)
    df = sg.value_and_grad(loss)
    for _ in range(3):  # ranks, shapes, then the running build
        value, g = df(x)
        assert value == loss(x)
        np.testing.assert_allclose(g, numerical_grad(loss, (x,), 0), rtol=1e-6, atol=1e-8)


def test_builds_pause_the_collector_and_restore_it():
    def f(x):
        return np.sum(np.sin(x) ** 2)

    states = []
    real = pipeline.Pipeline._build

    def spy(self, *args, **kwargs):
        states.append(gc.isenabled())
        return real(self, *args, **kwargs)

    x = np.linspace(0.0, 1.0, 4)
    try:
        pipeline.Pipeline._build = spy
        assert gc.isenabled()
        sg.grad(f)(x)
        assert gc.isenabled()
        gc.disable()
        try:
            sg.grad(lambda x: np.sum(np.cos(x)))(x)
            assert not gc.isenabled()  # left off where the caller turned it off
        finally:
            gc.enable()
    finally:
        pipeline.Pipeline._build = real
    assert states and not any(states)


def test_a_failing_build_restores_the_collector():
    def bad(x):
        yield x

    assert gc.isenabled()
    try:
        sg.grad(bad)(np.ones(3))
    except sg.SourcegradError:
        pass
    assert gc.isenabled()
