"""A hoisted accumulation's operand made in its step is computed into its stack's row
(``transform/optimize/stack_rows.py``): no per-step copy into the stack, no per-step array of
zeros for an ``unindex_shaped``. Values equal Python's and gradients agree with central
differences on calls 1-3, for 0, 1 and many steps; the entry function is tested on its own,
also where it must leave the code as it is."""

import ast

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.transform.optimize.stack_rows import RowContext, compute_into_row

from .fd import numerical_grad
from .internals import DEFAULT_TIERS
from .test_gru_stacks import gru_loss, inputs


def _numerical(loss, args):
    """Central differences of ``loss`` in each array argument but the last."""
    return [numerical_grad(loss, args, i) for i in range(len(args) - 1)]


def _assert_gradients(loss, args, wrt):
    """Value ``==`` Python's, gradients against central differences, calls 1 to 3."""
    want = _numerical(loss, args)
    df = sg.value_and_grad(loss, wrt)
    for _ in range(3):  # the rank build, then the build for the shapes (optimized)
        value, grads = df(*args)
        assert value == loss(*args)
        for got, w in zip(grads, want):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-8)


def carried_adjoint(W, h0, xs):
    """The adjoint of the pre-activation is also the adjoint carried to ``h0`` after the
    loop: its array is read after the loop, so the stack keeps a copy of it."""
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W + h)
    return np.sum(h * h)


def gated_slices(W, U, xs):
    """Two gates from one product, read as slices: the adjoint of the product is made from
    both slices' adjoints (``unindex_shaped`` and the rest added)."""
    n = U.shape[0]
    h = np.zeros((xs.shape[1], n))
    for t in range(xs.shape[0]):
        a = xs[t] @ W + h @ U
        h = np.tanh(a[:, :n]) * (1.0 / (1.0 + np.exp(-a[:, n:])))
    return np.sum(h * h) + np.sum(h)


def _carried_args(steps, rng):
    return (
        rng.standard_normal((3, 4)) * 0.5,
        rng.standard_normal((2, 4)),
        rng.standard_normal((steps, 2, 3)),
    )


def _gated_args(steps, rng):
    return (
        rng.standard_normal((3, 8)) * 0.5,
        rng.standard_normal((4, 8)) * 0.5,
        rng.standard_normal((steps, 2, 3)),
    )


@pytest.mark.parametrize("steps", [0, 1, 2, 7])
def test_an_adjoint_read_after_the_loop_keeps_its_copy(steps, rng):
    _assert_gradients(carried_adjoint, _carried_args(steps, rng), (0, 1))


@pytest.mark.parametrize("steps", [0, 1, 2, 7])
def test_gates_read_as_slices(steps, rng):
    _assert_gradients(gated_slices, _gated_args(steps, rng), (0, 1))


def test_new_values_each_call_see_their_own_rows(rng):
    df = sg.value_and_grad(gated_slices, (0, 1))
    for _ in range(4):  # the stacks are pooled: each call writes every row it reads
        args = _gated_args(5, rng)
        value, grads = df(*args)
        assert value == gated_slices(*args)
        for got, w in zip(grads, _numerical(gated_slices, args)):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-8)


@DEFAULT_TIERS
def test_the_gru_computes_its_adjoints_in_their_rows():
    shown = sg.show(gru_loss, args=inputs(6, 3), optimized=True)
    loop = shown[shown.index("for t in reversed(") :].split("\n    d", 1)[0]
    assert "unindex_shaped(" not in loop  # no array of zeros per step
    assert "da = da_steps[t]" in loop and "dzr = dzr_5_steps[t]" in loop
    assert "out=dc_6_steps[t]" in loop
    for copied in ("da_steps[t] = ", "dzr_5_steps[t] = ", "dc_6_steps[t] = "):
        assert copied not in loop
    assert "[...] = 0" not in loop  # both slices written: nothing left to zero


@DEFAULT_TIERS
def test_the_carried_adjoint_is_copied_into_its_stack(rng):
    shown = sg.show(carried_adjoint, wrt=(0, 1), args=_carried_args(5, rng), optimized=True)
    loop = shown[shown.index("for t in reversed(") :].split("\n    d", 1)[0]
    assert "_steps[t] = " in loop


# -- the entry function on its own


def _body(source):
    return gast.parse(source).body


def _text(stmts):
    return ast.unparse(gast.gast_to_ast(gast.Module(body=stmts, type_ignores=[])))


def _rewrite(source, name, after="", unindex="unindex_shaped"):
    """``(did, text)``: compute_into_row on a loop body with the accumulation ``dW += ...``
    reading ``name`` (the stack ``S``, its row ``S[t]``)."""
    stmts = _body(source)
    at = next(i for i, s in enumerate(stmts) if _text([s]).startswith("dW +="))
    row = gast.parse("S[t]").body[0].value
    context = RowContext("np", _body(after), unindex, frozenset(), [stmts[at]])
    did = compute_into_row(stmts, name, at, row, context)
    return did, _text(stmts)


def test_entry_computes_the_making_statement_into_the_row():
    did, text = _rewrite(
        "d = z * g\nd2 = np.multiply(d, c, out=d)\nd3 = d2\ne = np.dot(d3, W.T)\n"
        "dW += np.dot(p.T, d3)",
        "d3",
    )
    assert did
    assert text.splitlines()[0] == "d = np.multiply(z, g, out=S[t])"
    assert "d2 = np.multiply(d, c, out=d)" in text  # the in-place update writes into the row


def test_entry_writes_an_unindex_into_the_row_and_the_rest_into_its_other_part():
    did, text = _rewrite(
        "da = unindex_shaped(g, (4, 6), np.float64, np.s_[:, k:])\nq = u * v\n"
        "da[:, :k] += q\ndW += np.dot(p.T, da)",
        "da",
    )
    assert did
    assert text.splitlines() == [
        "da = S[t]",
        "da[:, k:] = g",
        "q = u * v",
        "da[:, :k] = q",
        "dW += np.dot(p.T, da)",
    ]


def test_entry_zeroes_the_row_where_the_rest_is_not_written():
    did, text = _rewrite(
        "da = unindex_shaped(g, (4, 6), np.float64, np.s_[:, k:])\ndW += np.dot(p.T, da)", "da"
    )
    assert did
    assert text.splitlines()[:3] == ["da = S[t]", "da[...] = 0", "da[:, k:] = g"]


def test_entry_keeps_an_unindex_of_an_index_that_is_not_slices():
    did, _ = _rewrite(
        "da = unindex_shaped(g, (4, 6), np.float64, np.s_[i])\ndW += np.dot(p.T, da)", "da"
    )
    assert not did


@pytest.mark.parametrize(
    "source, after",
    [
        ("d = z * g\ndW += np.dot(p.T, d)", "dh0 = d"),  # read after the loop
        ("d = z * g\ntape.append(d)\ndW += np.dot(p.T, d)", ""),  # kept in a list
        ("d = z * g\nv = d[0]\ndW += np.dot(p.T, d)", ""),  # a view of it
        ("d = z * g\ndW += np.dot(p.T, d)\nd += 1.0", ""),  # changed after the read
        ("d = z * g\ndW += np.dot(p.T, d)\nq = d\nq += 1.0", ""),  # through another name
        ("d = f(z)\ndW += np.dot(p.T, d)", ""),  # made by a call it cannot write into
        ("x = y\ndW += np.dot(p.T, d)", ""),  # made in an earlier step
    ],
)
def test_entry_leaves_the_body_where_the_row_could_differ(source, after):
    did, text = _rewrite(source, "d", after)
    assert not did and text == _text(_body(source))


def test_entry_sees_a_write_in_the_next_step_before_the_array_is_made_again():
    source = "d += 1.0\nd = z * g\ndW += np.dot(p.T, d)"
    stmts = _body(source)
    row = gast.parse("S[t]").body[0].value
    context = RowContext("np", [], None, frozenset(), [stmts[2]])
    assert not compute_into_row(stmts, "d", 2, row, context)
