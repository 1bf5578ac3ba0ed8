"""Element writes in loops run in linear time (``transform/optimize/element_writes.py``).

The pure derivative writes ``x[k] = v`` into a copy of ``x`` and zeroes part of an adjoint
with ``zero_index`` (a copy too): a loop writing an array element by element copies it at
every step. The running code writes into an array it owns instead. Through the public API:
values are Python's and derivatives agree with central differences in float64 on calls 1-3
(the optimized build runs from the second); on the running source: no per-step copy where the
array is owned, and the copy kept where the old array is still read (the tape keeps it).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower

from .ported.harness import Case, check, params


def recurrence(x):
    n = x.shape[0]
    out = np.zeros(n)
    acc = 0.0
    for i in range(n):
        acc = acc * 0.5 + x[i]
        out[i] = acc
    return np.sum(out * out)


def rows(W, x):
    T = x.shape[0]
    hs = np.zeros((T, W.shape[0]))
    h = np.zeros(W.shape[0])
    for t in range(T):
        h = np.tanh(W @ h + x[t])
        hs[t, :] = h
    return np.sum(hs**2)


def columns(x):
    n = x.shape[0]
    out = np.zeros((3, n))
    h = np.ones(3)
    for t in range(n):
        h = np.sin(h * x[t])
        out[:, t] = h
    return np.sum(out * out)


def while_loop(x):
    n = x.shape[0]
    out = np.zeros(n)
    acc = 0.0
    i = 0
    while i < n:
        acc = acc * 0.5 + x[i]
        out[i] = acc
        i += 1
    return np.sum(out * out)


def nested(x):
    n = x.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = x[i] * x[j] + 0.1 * i
    return np.sum(np.tanh(out))


def taped(x):
    """Each step reads the whole array after its write: the tape keeps every version."""
    n = x.shape[0]
    out = np.zeros(n)
    s = 0.0
    for i in range(n):
        out[i] = x[i] * 2.0
        s = s + np.sum(out * out) * x[i]
    return s


def argument_copy(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] = out[i - 1] * 0.5 + x[i]
    return np.sum(out * out)


def rebound(x):
    """``prev`` holds the array before each write: the copy must stay for it."""
    n = x.shape[0]
    out = np.zeros(n)
    s = 0.0
    for i in range(n):
        prev = out
        out = out.copy()
        out[i] = x[i] * x[i]
        s = s + np.sum(prev * x)
    return s + np.sum(out)


def listed(x):
    """Each step's array goes into a list: every version is read after the loop."""
    n = x.shape[0]
    out = np.zeros(n)
    kept = []
    for i in range(n):
        out = out.copy()
        out[i] = np.sin(x[i])
        kept.append(out)
    return np.sum(np.stack(kept) * x)


def two_writes(x):
    n = x.shape[0]
    out = np.zeros((n, 2))
    for i in range(n):
        out[i, 0] = x[i] ** 2
        out[i, 1] = np.cos(x[i])
    return np.sum(out[:, 0] * out[:, 1])


def vector(x):
    n = x.shape[0]
    out = np.zeros(n)
    acc = 0.0
    for i in range(n):
        acc = np.sin(acc) + x[i]
        out[i] = acc
    return out


rng = np.random.default_rng(0)
X = rng.uniform(0.1, 1.0, 6)
W = rng.standard_normal((3, 3)) * 0.5
XS = rng.standard_normal((4, 3))

CASES = [
    Case("recurrence", recurrence, (X,), order=2),
    Case("rows", rows, (W, XS), wrt=(0, 1)),
    Case("rows_hvp", rows, (W, XS), order=2),
    Case("columns", columns, (X,), order=2),
    Case("while_loop", while_loop, (X,), order=2),
    Case("nested", nested, (X,), order=2),
    Case("taped", taped, (X,), order=2),
    Case("argument_copy", argument_copy, (X,), order=2),
    Case("rebound", rebound, (X,), order=2),
    Case("listed", listed, (X,), order=2),
    Case("two_writes", two_writes, (X,), order=2),
    Case("vector_jvp", vector, (X,), kind="jac"),
]


@pytest.mark.parametrize("case", params(CASES))
def test_element_writes_agree(case):
    check(case)


def running(f, args, mode="reverse"):
    return sg.show(f, args=args, mode=mode, optimized=True)


def loop_lines(text):
    """The statements of ``text`` inside its loops (indented deeper than the function body),
    without the comments citing the user's lines."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith(" " * 8) and not line.strip().startswith("#")
    ]


def test_recurrence_runs_without_a_copy_per_step():
    text = running(recurrence, (np.ones(50),))
    lines = loop_lines(text)
    assert "out[i] = acc" in lines
    assert "dout[i] = 0" in lines
    assert not any(".copy()" in line or "zero_index" in line for line in lines), text


def test_row_and_column_writes_run_without_a_copy_per_step():
    for f, args, zeroed in (
        (rows, (W, XS), "dhs[t, :] = 0"),
        (columns, (X,), "dout[:, t] = 0"),
    ):
        lines = loop_lines(running(f, args))
        assert zeroed in lines
        assert not any(".copy()" in line or "zero_index" in line for line in lines)


def test_a_recurrence_over_an_arguments_copy_runs_without_a_copy_per_step():
    """``out[i] = out[i - 1] * 0.5 + x[i]``: the adjoint reads ``out`` only for its shape and
    dtype (known: an element write keeps both), so the tape does not keep it."""
    lines = loop_lines(running(argument_copy, (X,)))
    assert "out[i] = out_5" in lines
    assert not any(".copy()" in line or "zero_index" in line for line in lines)


def test_a_copy_the_tape_keeps_stays():
    lines = loop_lines(running(taped, (X,)))
    assert "out = out.copy()" in lines
    assert "dout[i] = 0" in lines  # the adjoint is the sweep's own


def test_forward_mode_writes_its_tangent_in_place():
    text = running(recurrence, (X,), mode="forward")
    lines = loop_lines(text)
    assert "dout = write_tangent(dout, i, dacc, out)" in lines
    assert not any(".copy()" in line or "assign_tangent" in line for line in lines), text


def test_hvp_runs_without_a_copy_per_step():
    hvp = sg.hvp(recurrence)
    for _ in range(3):
        hvp(X, X)
    t = tower(recurrence, (), [0], (0,), False)
    fn = t._entry(t.values((X,), (X,)))
    lines = loop_lines(inspect.getsource(fn))
    assert not any(".copy()" in line or "assign_tangent" in line for line in lines)


def test_jvp_of_a_gradient_runs_without_a_copy_per_step():
    """Forward mode over a gradient (``sg.jvp(sg.grad(f))``) runs the optimized build from
    the second call, as the gradient does; its values are the Hessian-vector product's."""
    jg = sg.jvp(sg.grad(recurrence))
    want = sg.hvp(recurrence)(X, X)
    for _ in range(3):
        _, got = jg(X, X)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    jt, taken, _, _ = jg.parts((X, X))
    fn = jt.emitted(taken).fn
    lines = loop_lines(inspect.getsource(fn))
    assert not any(".copy()" in line or "assign_tangent" in line for line in lines)
    ran = set()
    sys.setprofile(lambda frame, event, arg: ran.add(frame.f_code) if event == "call" else None)
    try:
        jg(X, X)
    finally:
        sys.setprofile(None)
    assert fn.__code__ in ran  # the call runs that build


def test_write_tangent_writes_into_an_owned_array_only():
    from sourcegrad.runtime.tangent_helpers import assign_tangent, write_tangent

    x = np.zeros(4)
    dx = np.zeros(4)
    assert write_tangent(dx, 1, 2.0, x) is dx and dx[1] == 2.0
    ro = np.zeros(4)
    ro.flags.writeable = False
    got = write_tangent(ro, 2, 3.0, x)
    assert got is not ro and got[2] == 3.0 and ro[2] == 0.0
    for dxs, v in ((None, 1.0), (0.0, 1.0)):
        want = assign_tangent(None if dxs is None else np.zeros(4), 0, v, x)
        np.testing.assert_array_equal(
            write_tangent(dxs if dxs is None else np.zeros(4), 0, v, x), want
        )
    d = {"a": np.zeros(2)}
    assert write_tangent(d, "a", np.ones(2), {"a": np.zeros(2)}) is not d
