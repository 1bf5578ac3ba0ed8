"""Weight gradients of all time steps as one product after the reversed loop
(``transform/optimize/hoist.py``).

Through the public API: the value is Python's, the gradient agrees with central differences
in float64 on the first call (the build for the ranks) and later calls (the optimized build,
where the accumulations move), for loops of 0, 1 and many steps. On the rewrite itself: what
must not move does not (an accumulator read in the loop, a ``while`` loop, a nested loop, a
count the shapes do not decide, an accumulator another name reaches), and an operand changed
in place after the accumulation read it is copied as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.runtime.helpers import sum_leading, unindex_shaped
from sourcegrad.transform.optimize.hoist import hoist_accumulations
from sourcegrad.transform.optimize.ownership import Owner

from .fd import numerical_grad
from .internals import DEFAULT_TIERS

GOLDEN = Path(__file__).parent / "golden" / "gru.running.py"


def gru(params, xs, y):
    """A GRU over xs (T, n, d), gates [z | r | c] stacked in one input and one recurrent
    matrix: the adjoint adds each step's weight gradients in slices of W_h."""
    n = xs.shape[1]
    H = params["W_h"].shape[0]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    h = np.zeros((n, H), dtype=xs.dtype)
    for t in range(xs.shape[0]):
        a = xs[t] @ W_x + b
        zr = 1.0 / (1.0 + np.exp(-(a[:, : 2 * H] + h @ W_h[:, : 2 * H])))
        z = zr[:, :H]
        r = zr[:, H:]
        c = np.tanh(a[:, 2 * H :] + (r * h) @ W_h[:, 2 * H :])
        h = (1.0 - z) * h + z * c
    return np.sum(y * h) + 0.1 * np.sum(h * h)


def rnn(params, xs, ys):
    """A tanh RNN with a loss at every step, the bias summed over the batch per step."""
    h = np.zeros((xs.shape[1], params["W_h"].shape[0]))
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ params["W_x"] + h @ params["W_h"] + params["b"])
        loss = loss + np.sum((h - ys[t]) ** 2)
    return 0.5 * loss


def decayed(params, xs, ys):
    """The input weight decays each step, so its adjoint is read by every step of the
    reversed loop: its accumulation must stay in the loop."""
    W = params["W_x"]
    h = np.zeros((xs.shape[1], params["W_h"].shape[0]))
    loss = 0.0
    for t in range(xs.shape[0]):
        W = 0.9 * W
        h = np.tanh(xs[t] @ W + h @ params["W_h"])
        loss = loss + np.sum((h - ys[t]) ** 2)
    return loss


def _gru_args(steps, rng, n=3, d=4, H=5):
    params = {
        "W_x": rng.standard_normal((d, 3 * H)) / np.sqrt(d),
        "W_h": rng.standard_normal((H, 3 * H)) / np.sqrt(H),
        "b": rng.standard_normal(3 * H) * 0.1,
    }
    return params, rng.standard_normal((steps, n, d)), rng.standard_normal((n, H))


def _rnn_args(steps, rng, n=3, d=4, H=5):
    params = {
        "W_x": rng.standard_normal((d, H)) / np.sqrt(d),
        "W_h": rng.standard_normal((H, H)) / np.sqrt(H),
        "b": rng.standard_normal(H) * 0.1,
    }
    return params, rng.standard_normal((steps, n, d)), rng.standard_normal((steps, n, H))


def _numerical(f, params, xs, y) -> dict:
    """Central differences of ``f`` for each parameter."""
    out = {}
    for key in params:

        def at(p, key=key):
            return f({**params, key: p}, xs, y)

        out[key] = numerical_grad(at, (params[key],), 0)
    return out


CASES = [(gru, _gru_args), (rnn, _rnn_args)]


@pytest.mark.parametrize("steps", [0, 1, 2, 7])
@pytest.mark.parametrize("f, make", CASES, ids=["gru", "rnn"])
def test_value_and_gradient_on_every_call(f, make, steps, rng):
    args = make(steps, rng)
    want = _numerical(f, *args)
    df = sg.value_and_grad(f)
    for _ in range(3):  # the ranks' build, then the optimized one twice
        value, grads = df(*args)
        assert value == f(*args)
        for key, g in grads.items():
            np.testing.assert_allclose(g, want[key], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, make", CASES, ids=["gru", "rnn"])
def test_the_running_code_computes_one_product_after_the_loop(f, make, rng):
    args = make(6, rng)
    running = sg.show(f, args=args, optimized=True)
    loop, after = running.split("for t in reversed(range(")[1].split("\n    d", 1)
    assert "_steps[t] = " in loop
    assert "np.dot(h.T" not in loop and "sum_leading" not in loop
    assert "reshape(-1, xs.shape[-1]).T" in after  # the inputs read as the stacked array
    assert "sum_leading(" in after


@DEFAULT_TIERS
def test_the_gru_running_code_matches_its_golden_file():
    """The GRU's running code, reviewed: to accept a deliberate change, run with
    SOURCEGRAD_UPDATE_GOLDEN=1 and read ``git diff tests/golden``."""
    text = sg.show(gru, args=_gru_args(5, np.random.default_rng(0), 4, 3, 6), optimized=True)
    if os.environ.get("SOURCEGRAD_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_varying_lengths_share_one_build_and_agree(rng, monkeypatch):
    """Stacks are sized for each call's count: the build for a pattern serves every length."""
    monkeypatch.setenv("SOURCEGRAD_SPECIALISE_AFTER", "1")
    df = sg.value_and_grad(gru)
    for steps in (3, 5, 4, 9, 5):
        args = _gru_args(steps, rng)
        want = _numerical(gru, *args)
        value, grads = df(*args)
        assert value == gru(*args)
        for key, g in grads.items():
            np.testing.assert_allclose(g, want[key], rtol=1e-6, atol=1e-8)


def test_an_accumulator_read_in_the_loop_stays_there(rng):
    args = _rnn_args(5, rng)
    running = sg.show(decayed, args=args, optimized=True)
    loop, after = running.split("for t in reversed(range(")[1].split("\n    dW_h += ", 1)
    assert "dW += np.dot(" in loop  # read by `dW = 0.9 * dW` in each step: stays
    assert after.startswith("np.dot(")  # the recurrent weight's: one product after the loop
    want = _numerical(decayed, *args)
    df = sg.grad(decayed)
    for _ in range(3):
        grads = df(*args)
        for key, g in grads.items():
            np.testing.assert_allclose(g, want[key], rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- the rewrite
class _InPlace:
    def __init__(self, shapes):
        self.shapes, self.dtypes = shapes, {n: np.dtype(np.float64) for n in shapes}

    def shapes_of(self, name):
        return self.shapes.get(name)


def _rewritten(source: str, shapes: dict):
    """The function of ``source`` before and after :func:`hoist_accumulations`, compiled,
    and whether anything moved."""
    node = gast.parse(source).body[0]
    owner = Owner("np", frozenset())
    owner.in_place = _InPlace(shapes)
    names = iter(f"stack{k}" for k in range(100))
    before = gast.dump(node)
    hoist_accumulations(node.body, owner, "np", HELPERS, lambda stem: next(names))
    moved = gast.dump(node) != before
    return _compiled(source), _compiled_node(node), moved


def _compiled(source):
    return _compiled_node(gast.parse(source).body[0])


def _compiled_node(node):
    import ast  # noqa: PLC0415 - only to compile the rewritten tree

    tree = ast.fix_missing_locations(gast.gast_to_ast(gast.Module(body=[node], type_ignores=[])))
    scope = {"np": np, "sum_leading": sum_leading, "unindex_shaped": unindex_shaped}
    exec(compile(tree, "<hoist-test>", "exec"), scope)  # noqa: S102 - the test's own code
    return scope[node.name]


HELPERS = {sum_leading: "sum_leading", unindex_shaped: "unindex_shaped"}
SHAPES = {"xs": (6, 3, 4), "p": (3, 4), "q": (3, 5), "acc": (4, 5), "bias": (5,)}

BASIC = """
def f(xs, qs):
    tape = []
    n = xs.shape[0]
    p = None
    for t in range(n):
        tape.append(p)
        p = xs[t]
    acc = np.zeros((4, 5))
    bias = np.zeros(5)
    for t in reversed(range(n)):
        q = qs[t] * 2.0
        acc += np.dot(p.T, q)
        bias += sum_leading(q, 1)
        p = tape.pop()
    return acc, bias
"""


def _inputs(rng, steps=6):
    return rng.standard_normal((steps, 3, 4)), rng.standard_normal((steps, 3, 5))


def _agree(before, after, *args):
    for got, want in zip(after(*args), before(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_rows_of_a_stacked_array_are_read_from_it(rng):
    before, after, moved = _rewritten(BASIC, SHAPES)
    assert moved
    _agree(before, after, *_inputs(rng))
    node = gast.parse(BASIC).body[0]
    owner = Owner("np", frozenset())
    owner.in_place = _InPlace(SHAPES)
    stacks = hoist_accumulations(node.body, owner, "np", HELPERS, lambda s: s + "_steps")
    assert [layout for _, layout in stacks] == [((6, 3, 5), np.dtype(np.float64))]  # q only


@pytest.mark.parametrize("steps", [0, 1, 6])
def test_a_loop_of_any_count_adds_the_same(steps, rng):
    shapes = {**SHAPES, "xs": (steps, 3, 4)}
    before, after, moved = _rewritten(BASIC, shapes)
    assert moved
    _agree(before, after, *_inputs(rng, steps))


CHANGED_AFTER = """
def f(xs, qs):
    n = xs.shape[0]
    acc = np.zeros((4, 5))
    for t in reversed(range(n)):
        p = xs[t] + 1.0
        q = qs[t] * 2.0
        acc += np.dot(p.T, q)
        p *= 3.0
        np.multiply(q, 5.0, out=q)
    return acc
"""


def test_operands_changed_after_the_accumulation_are_copied_as_read(rng):
    before, after, moved = _rewritten(CHANGED_AFTER, SHAPES)
    assert moved
    _agree(before, after, *_inputs(rng))


@pytest.mark.parametrize(
    "change",
    [
        ("        p = tape.pop()", "        p = tape.pop()\n        q = q + acc[0]"),  # read
        ("    for t in reversed(range(n)):", "    k = len(qs)\n    for t in reversed(range(k)):"),
        ("    acc = np.zeros((4, 5))", "    acc = np.zeros((4, 5))\n    other = acc"),  # alias
        (
            "        acc += np.dot(p.T, q)",
            "        for s in range(1):\n            acc += np.dot(p.T, q)",
        ),
        ("    acc = np.zeros((4, 5))\n", ""),
    ],
    ids=["read-in-loop", "unknown-count", "aliased", "nested-loop", "not-made-here"],
)
def test_what_may_not_move_stays(change):
    source = BASIC.replace("        bias += sum_leading(q, 1)\n", "")
    old, new = change
    assert old in source
    _, _, moved = _rewritten(source.replace(old, new), SHAPES)
    assert not moved  # only the accumulation into acc could move: it may not


def test_a_while_loop_stays():
    source = """
def f(xs, qs):
    n = xs.shape[0]
    acc = np.zeros((4, 5))
    t = n
    while t > 0:
        t = t - 1
        q = qs[t] * 2.0
        acc += np.dot(xs[t].T, q)
    return acc
"""
    _, _, moved = _rewritten(source, SHAPES)
    assert not moved


CHANGED_LATER = """
def f(xs, qs):
    n = xs.shape[0]
    acc = np.zeros((4, 5))
    for t in reversed(range(n)):
        g = qs[t, :, :3] * 2.0
        q = unindex_shaped(g, (3, 5), np.float64, np.s_[:, :3])
        q_1 = q
        q_1[:, 1:] += 1.0
        p = xs[t] + 0.0
        acc += np.dot(p.T, q_1)
    return acc
"""


@pytest.mark.parametrize(
    "later",
    ["", "        q *= 3.0\n", "        np.negative(q_1, out=q_1)\n", "        q_1.fill(1.0)\n"],
)
def test_an_adjoint_written_after_the_accumulation_is_stacked_as_read(later, rng):
    """Each step's operand is copied into its row where the accumulation read it: what the
    step writes into it afterwards is not seen."""
    source = CHANGED_LATER.replace("    return acc", later + "    return acc")
    shapes = {**SHAPES, "q_1": (3, 5), "q": (3, 5)}
    before, after, moved = _rewritten(source, shapes)
    assert moved
    _agree(before, after, *_inputs(rng))
