"""The LSTM over a whole sequence as one primitive: :func:`lstm` (``torch.nn.LSTM``'s
equations, gate layout and parameter names; one layer, zero initial state).

Forward: the input projections of all steps are one GEMM per gate, then the recurrence runs in
place into preallocated ``(T, ...)`` buffers, each gate's block contiguous (gate-major), with
no allocation per step. The result is a tuple that keeps those buffers (:class:`LSTMResult`),
so the backward reads them instead of running the forward again.

Backward: :func:`lstm_gate_grads` gives the adjoint of every step's gate pre-activations,
``(T, N, 4 * hidden)``; its loop runs only the recurrence (the factors that do not depend on
the adjoint are computed a few steps at a time, just before the loop reads them). The weights',
biases' and input's gradients are then each one product of that array
(:func:`~.linear.linear_weight_grad`, :func:`lstm_bias_grad`, :func:`lstm_input_grad`),
primitives whose rules close under differentiation. A network's output is read from the result
by :func:`lstm_output`, whose adjoint is that one part's (no zeros made for the others).

Higher orders differentiate the plain loop :func:`lstm_reference` from its source: the tangent
rules of :func:`lstm` and :func:`lstm_gate_grads` are sourcegrad's forward mode over it and
over its vjp, so ``jvp``, ``hvp`` and a gradient's forward-mode derivative work (third order
is refused: those tangents have no rules).
"""

from __future__ import annotations

import numpy as np

from ..api import vjp
from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..runtime.trees import Pieces
from ..util.tree import Array
from .activations import sigmoid
from .backend import array_module
from .chain import along
from .linear import linear, linear_weight_grad

__all__ = [
    "LSTMResult",
    "lstm",
    "lstm_reference",
    "lstm_output",
    "lstm_output_adjoint",
    "lstm_bias_grad",
    "lstm_gate_grads",
    "lstm_input_grad",
    "lstm_previous_states",
    "lstm_next_states",
    "lstm_jvp",
    "lstm_gate_grads_jvp",
]

#: the kernels' gate order (gate-major buffers): the three sigmoid gates, then the cell gate
KERNEL_ORDER = (0, 1, 3, 2)  # PyTorch's i, f, g, o -> i, f, o, g


class LSTMResult(tuple):
    """``(hs, (h, c))`` as :func:`lstm` returns it, keeping the forward's buffers
    (``trace``) for :func:`lstm_gate_grads`: they live exactly as long as the result."""

    trace: tuple | None = None


def _sigmoid_into(a: Array, e: Array, mask: Array, xp) -> None:
    """``a`` replaced by its logistic function, in place, with exactly the values of
    :func:`sourcegrad.util.sigmoid` (``e``, ``mask``: scratch arrays of ``a``'s shape)."""
    xp.greater_equal(a, 0.0, out=mask)  # 1.0 where a >= 0
    xp.abs(a, out=e)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    xp.add(e, 1.0, out=a)
    xp.divide(1.0, a, out=a)  # s = 1 / (1 + exp(-|a|))
    xp.maximum(e, mask, out=e)  # 1 where a >= 0, exp(-|a|) where a < 0
    a *= e


def _forward(x: Array, weight_ih: Array, weight_hh: Array, bias_ih, bias_hh) -> tuple:
    """``(acts, hs, cs, tcs)``: the gate activations ``(4, T, N, H)`` in
    :data:`KERNEL_ORDER`, the states ``h`` and ``c`` ``(T + 1, N, H)`` from zeros, and
    ``tanh(c_t)`` ``(T, N, H)``; every value as the plain loop :func:`lstm_reference`."""
    xp = array_module(x, weight_ih, weight_hh)
    steps, n, features = x.shape
    hidden = weight_hh.shape[1]
    dtype = xp.result_type(
        x, weight_ih, weight_hh, *[b for b in (bias_ih, bias_hh) if b is not None]
    )
    order = list(KERNEL_ORDER)
    w_ih = weight_ih.reshape(4, hidden, features)[order]
    w_hh_t = weight_hh.reshape(4, hidden, hidden)[order].transpose(0, 2, 1)
    acts = xp.empty((4, steps * n, hidden), dtype)
    rows = x.reshape(steps * n, features)
    for k in range(4):
        xp.matmul(rows, w_ih[k].T, out=acts[k])
    bias = _summed_bias(bias_ih, bias_hh)
    if bias is not None:
        acts += bias.reshape(4, 1, hidden)[order]
    acts = acts.reshape(4, steps, n, hidden)
    hs = xp.empty((steps + 1, n, hidden), dtype)
    cs = xp.empty_like(hs)
    hs[0] = 0.0
    cs[0] = 0.0
    tcs = xp.empty((steps, n, hidden), dtype)
    e, mask = xp.empty((3, n, hidden), dtype), xp.empty((3, n, hidden), dtype)
    ig, recurrent = xp.empty((n, hidden), dtype), xp.empty((4, n, hidden), dtype)
    for t in range(steps):
        a = acts[:, t]
        xp.matmul(hs[t], w_hh_t, out=recurrent)
        a += recurrent
        _sigmoid_into(a[:3], e, mask, xp)
        xp.tanh(a[3], out=a[3])
        xp.multiply(a[1], cs[t], out=cs[t + 1])
        xp.multiply(a[0], a[3], out=ig)
        cs[t + 1] += ig
        xp.tanh(cs[t + 1], out=tcs[t])
        xp.multiply(a[2], tcs[t], out=hs[t + 1])
    return acts, hs, cs, tcs


def _summed_bias(bias_ih, bias_hh):
    """``bias_ih + bias_hh`` (either may be None), added once into the input projections."""
    if bias_ih is None:
        return bias_hh
    if bias_hh is None:
        return bias_ih
    return bias_ih + bias_hh


def _checked(x: Array, weight_ih: Array, weight_hh: Array) -> None:
    """``ValueError`` unless ``x`` is ``(T, N, input)`` and the weights are PyTorch's
    ``(4 * hidden, input)`` and ``(4 * hidden, hidden)``."""
    if getattr(x, "ndim", None) != 3:
        raise ValueError(f"lstm reads a (T, N, features) array, not {getattr(x, 'shape', x)!r}")
    rows, hidden = weight_hh.shape
    if rows != 4 * hidden or weight_ih.shape != (rows, x.shape[2]):
        raise ValueError(
            f"lstm needs weight_ih (4 * hidden, {x.shape[2]}) and weight_hh (4 * hidden, "
            f"hidden), not {weight_ih.shape} and {weight_hh.shape}"
        )


@primitive
def lstm(
    x: Array,
    weight_ih: Array,
    weight_hh: Array,
    bias_ih: Array | None = None,
    bias_hh: Array | None = None,
) -> LSTMResult:
    """``torch.nn.LSTM`` (one layer, zero initial state) over ``x`` ``(T, N, input)``:
    ``(hs, (h, c))``, every step's hidden state ``(T, N, hidden)`` and the last ``h`` and ``c``
    ``(N, hidden)`` (zeros for ``T = 0``). Gates ``i, f, g, o`` stacked in PyTorch's order,
    ``c' = f * c + i * g``, ``h' = o * tanh(c')``; values exactly :func:`lstm_reference`'s.
    The three arrays are views of buffers the result keeps for the backward: read them, do not
    write into them."""
    _checked(x, weight_ih, weight_hh)
    acts, hs, cs, tcs = _forward(x, weight_ih, weight_hh, bias_ih, bias_hh)
    result = LSTMResult((hs[1:], (hs[-1], cs[-1])))
    result.trace = (x, weight_ih, weight_hh, bias_ih, bias_hh, acts, hs, cs, tcs)
    return result


def lstm_reference(x, weight_ih, weight_hh, bias_ih=None, bias_hh=None, shift=None):
    """:func:`lstm` as a plain loop (what higher orders differentiate from its source), with
    ``shift`` ``(T, N, 4 * hidden)`` (or None) added to the gate pre-activations: the adjoint
    of ``shift`` is :func:`lstm_gate_grads`."""
    bias = _summed_bias(bias_ih, bias_hh)
    xw = linear(x, weight_ih, bias)
    if shift is not None:
        xw = xw + shift
    h = np.zeros_like(xw, shape=(xw.shape[1], weight_hh.shape[1]))
    c = np.zeros_like(h)
    hs = []
    for t in range(len(xw)):
        gates = xw[t] + linear(h, weight_hh)
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    if len(xw) == 0:
        return xw[:, :, : weight_hh.shape[1]] * 0.0, (h, c)
    return np.stack(hs), (h, c)


def _trace_of(result, x, weight_ih, weight_hh, bias_ih, bias_hh) -> tuple:
    """The buffers of the forward pass that returned ``result`` for these arguments (the
    same objects), or those of a new forward pass: never a stale value."""
    trace = getattr(result, "trace", None)
    args = (x, weight_ih, weight_hh, bias_ih, bias_hh)
    if trace is not None and all(a is b for a, b in zip(trace, args)):
        return trace[5:]
    _checked(x, weight_ih, weight_hh)
    return _forward(*args)


def _output_adjoints(g) -> tuple:
    """``(dhs, dh, dc)`` from the adjoint of ``(hs, (h, c))``, None for each part not used."""
    if g is None:
        return None, None, None
    dhs, last = g[0], g[1]
    if last is None:
        return dhs, None, None
    return dhs, last[0], last[1]


#: elements of one gate's block that the backward computes its factors for at once (a few
#: steps: few calls, and the blocks stay in cache until the loop reads them)
FACTOR_BLOCK = 16384


def _step_factors(p: Array, q: Array, acts: Array, cs: Array, tcs: Array, xp) -> None:
    """The factors of steps ``t0 .. t0 + k`` of the backward that do not depend on the adjoint
    (``acts``, ``cs``, ``tcs``: those steps' gate activations, previous cell states and
    ``tanh`` of the cell states) into ``p`` ``(4, k, N, H)``, in PyTorch's gate order ``i' g``,
    ``f' c_prev``, ``(1 - g^2) i``, ``o' tanh(c)`` (``s' = s - s^2``), and ``q`` ``(k, N, H)``,
    ``o (1 - tanh(c)^2)``."""
    i, f, o, g = acts
    xp.multiply(acts[:2], acts[:2], out=p[:2])
    xp.subtract(acts[:2], p[:2], out=p[:2])
    xp.multiply(o, o, out=p[3])
    xp.subtract(o, p[3], out=p[3])
    p[0] *= g
    p[1] *= cs
    p[3] *= tcs
    xp.multiply(g, g, out=p[2])
    xp.subtract(1.0, p[2], out=p[2])
    p[2] *= i
    xp.multiply(tcs, tcs, out=q)
    xp.subtract(1.0, q, out=q)
    q *= o


def _started(part, like: Array, xp) -> Array:
    """A fresh array of ``like``'s shape and dtype holding ``part`` (zeros for None)."""
    out = xp.zeros_like(like)
    if part is not None:
        out += part
    return out


def _backward(trace: tuple, weight_hh: Array, g) -> Array:
    """The adjoints of every step's gate pre-activations ``(T, N, 4H)`` (PyTorch's gate
    order) for the adjoint ``g`` of ``(hs, (h, c))``: the loop runs only the recurrence."""
    acts, hs, cs, tcs = trace
    xp = array_module(acts)
    steps, n, hidden = tcs.shape
    dgates = xp.empty((steps, n, 4 * hidden), acts.dtype)
    if steps == 0:
        return dgates
    dhs, dh_last, dc_last = _output_adjoints(g)
    block = min(steps, max(1, FACTOR_BLOCK // (n * hidden)))
    p, q = xp.empty((4, block, n, hidden), acts.dtype), xp.empty((block, n, hidden), acts.dtype)
    dh, dc = _started(dh_last, hs[0], xp), _started(dc_last, hs[0], xp)
    tmp = xp.empty_like(dh)
    w_hh = weight_hh.astype(acts.dtype, copy=False)
    f = acts[1]
    for t in range(steps - 1, -1, -1):
        k = t % block
        if t == steps - 1 or k == block - 1:
            t0 = t - k
            chunk = slice(t0, t + 1)
            _step_factors(p[:, : k + 1], q[: k + 1], acts[:, chunk], cs[chunk], tcs[chunk], xp)
        if dhs is not None:
            dh += dhs[t]
        da = dgates[t]
        xp.multiply(dh, q[k], out=tmp)
        dc += tmp
        xp.multiply(dh, p[3, k], out=da[:, 3 * hidden :])
        ifg = da[:, : 3 * hidden].reshape(n, 3, hidden).transpose(1, 0, 2)
        xp.multiply(p[:3, k], dc, out=ifg)
        dc *= f[t]
        if t:
            xp.matmul(da, w_hh, out=dh)
    return dgates
    dhs, dh_last, dc_last = _output_adjoints(g)
    p, q = _step_factors(acts, cs, tcs, xp)
    dh, dc = _started(dh_last, hs[0], xp), _started(dc_last, hs[0], xp)
    tmp = xp.empty_like(dh)
    w_hh = weight_hh.astype(acts.dtype, copy=False)
    f = acts[1]
    for t in range(steps - 1, -1, -1):
        if dhs is not None:
            dh += dhs[t]
        da = dgates[t]
        xp.multiply(dh, q[t], out=tmp)
        dc += tmp
        xp.multiply(dh, p[3, t], out=da[:, 3 * hidden :])
        ifg = da[:, : 3 * hidden].reshape(n, 3, hidden).transpose(1, 0, 2)
        xp.multiply(p[:3, t], dc, out=ifg)
        dc *= f[t]
        if t:
            xp.matmul(da, w_hh, out=dh)
    return dgates


@primitive
def lstm_gate_grads(x, weight_ih, weight_hh, bias_ih, bias_hh, result, g) -> Array:
    """The adjoint of every step's gate pre-activations of ``lstm(x, weight_ih, weight_hh,
    bias_ih, bias_hh)`` (``result``, whose buffers it reads) for the adjoint ``g`` of ``(hs,
    (h, c))``: ``(T, N, 4 * hidden)``, linear in ``g``; the adjoint of :func:`lstm_reference`'s
    ``shift``."""
    trace = _trace_of(result, x, weight_ih, weight_hh, bias_ih, bias_hh)
    return _backward(trace, weight_hh, g)


@primitive
def lstm_input_grad(dgates: Array, weight_ih: Array) -> Array:
    """``dgates @ weight_ih`` over leading axes (one GEMM): the input's gradient of an LSTM
    whose gate adjoints are ``dgates``; bilinear."""
    rows = dgates.reshape(-1, dgates.shape[-1]) @ weight_ih
    return rows.reshape(dgates.shape[:-1] + weight_ih.shape[1:])


def _address(a: Array) -> int:
    """The address of ``a``'s first element (a NumPy or a CuPy array)."""
    data = a.data
    return data.ptr if hasattr(data, "ptr") else a.__array_interface__["data"][0]


@primitive
def lstm_previous_states(hs: Array) -> Array:
    """``hs`` ``(T, N, H)`` moved one step later: zeros, then ``hs[:-1]`` (the state each
    step starts from); without a copy where ``hs`` is :func:`lstm`'s, a view of its buffer."""
    base = hs.base
    xp = array_module(hs)
    if (
        isinstance(base, type(hs))
        and base.shape == (len(hs) + 1,) + hs.shape[1:]
        and base.strides == hs.strides
        and base.flags.c_contiguous
        and _address(hs) - _address(base) == base.strides[0]
        and not base[0].any()
    ):
        return base[:-1]
    return xp.concatenate([xp.zeros_like(hs[:1]), hs[:-1]])


@primitive
def lstm_next_states(g: Array) -> Array:
    """The adjoint of :func:`lstm_previous_states`: ``g[1:]``, then zeros."""
    xp = array_module(g)
    return xp.concatenate([g[1:], xp.zeros_like(g[:1])])


def _reference_args(x, weight_ih, weight_hh, bias_ih, bias_hh, g):
    """The arguments of :func:`lstm_reference`'s vjp in ``shift``: zeros ``shift``, and the
    adjoint ``g`` of ``(hs, (h, c))`` with zeros for each part not used."""
    steps, n = x.shape[:2]
    hidden = weight_hh.shape[1]
    xp = array_module(x, weight_hh)
    dtype = xp.result_type(x, weight_ih, weight_hh)
    shift = xp.zeros((steps, n, 4 * hidden), dtype)
    return (x, weight_ih, weight_hh, bias_ih, bias_hh, shift, _dense_adjoint(g, x, hidden))


def _dense_adjoint(g, x, hidden):
    """``g`` as ``(dhs, (dh, dc))`` arrays, zeros for the parts not used."""
    xp = array_module(x)
    steps, n = x.shape[:2]
    dhs, dh, dc = _output_adjoints(g)
    zeros = xp.zeros((n, hidden), x.dtype)
    return (
        xp.zeros((steps, n, hidden), x.dtype) if dhs is None else dhs,
        (zeros if dh is None else dh, zeros if dc is None else dc),
    )


_VJPS: list = []


def _reference_vjp():
    if not _VJPS:
        _VJPS.append(vjp(lstm_reference, 5))
    return _VJPS[0]


@primitive
def lstm_jvp(
    x, weight_ih, weight_hh, bias_ih, bias_hh, dx, dweight_ih, dweight_hh, dbias_ih, dbias_hh
):
    """The tangent of ``lstm(x, weight_ih, weight_hh, bias_ih, bias_hh)`` along the given
    tangents (None for zero): forward mode over :func:`lstm_reference`."""
    args = (x, weight_ih, weight_hh, bias_ih, bias_hh)
    tangents = {0: dx, 1: dweight_ih, 2: dweight_hh, 3: dbias_ih, 4: dbias_hh}
    return along(lstm_reference, args, tangents)


@primitive
def lstm_gate_grads_jvp(x, weight_ih, weight_hh, bias_ih, bias_hh, g, tangents):
    """The tangent of :func:`lstm_gate_grads` along ``tangents`` (of ``x``, the weights, the
    biases and ``g``, in that order; None for zero): forward mode over the vjp of
    :func:`lstm_reference`."""
    args = _reference_args(x, weight_ih, weight_hh, bias_ih, bias_hh, g)
    dx, dw_ih, dw_hh, db_ih, db_hh, dg = tangents
    if dg is not None:
        dg = _dense_adjoint(dg, x, weight_hh.shape[1])
    given = {0: dx, 1: dw_ih, 2: dw_hh, 3: db_ih, 4: db_hh, 6: dg}
    return along(_reference_vjp(), args, given)


@primitive
def lstm_output(result, all_states: bool):
    """``hs`` (every step's hidden state) where ``all_states``, else the last ``h``, from
    :func:`lstm`'s ``result`` ``(hs, (h, c))``: a network's output, whose adjoint is the
    adjoint of that one part (no zeros made for the others)."""
    return result[0] if all_states else result[1][0]


@primitive
def lstm_output_adjoint(g, all_states: bool) -> Pieces:
    """The adjoint of ``(hs, (h, c))`` whose part :func:`lstm_output` reads has the adjoint
    ``g`` (None for the other parts: zeros)."""
    return Pieces([g, None]) if all_states else Pieces([None, Pieces([g, None])])


@primitive
def lstm_bias_grad(dgates: Array) -> Array:
    """``dgates`` summed over its leading axes (one matrix-vector product): the gradient of
    either bias of an LSTM whose gate adjoints are ``dgates``; linear."""
    rows = dgates.reshape(-1, dgates.shape[-1])
    xp = array_module(rows)
    return xp.ones(len(rows), rows.dtype) @ rows


def _lstm_adjoint(z, x, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    dgates = lstm_gate_grads(x, weight_ih, weight_hh, bias_ih, bias_hh, z, d[z])
    d[x] += lstm_input_grad(dgates, weight_ih)
    d[weight_ih] += linear_weight_grad(dgates, x)
    d[weight_hh] += linear_weight_grad(dgates, lstm_previous_states(z[0]))
    bias = lstm_bias_grad(dgates)
    d[bias_ih] += bias
    d[bias_hh] += bias


def _lstm_tangent(z, x, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    d[z] += lstm_jvp(
        x,
        weight_ih,
        weight_hh,
        bias_ih,
        bias_hh,
        d[x],
        d[weight_ih],
        d[weight_hh],
        d[bias_ih],
        d[bias_hh],
    )


def _gate_grads_tangent(out, x, weight_ih, weight_hh, bias_ih, bias_hh, result, g):
    d[out] += lstm_gate_grads_jvp(
        x,
        weight_ih,
        weight_hh,
        bias_ih,
        bias_hh,
        g,
        (d[x], d[weight_ih], d[weight_hh], d[bias_ih], d[bias_hh], d[g]),
    )


def _input_grad_adjoint(z, dgates, weight_ih):
    d[dgates] += linear(d[z], weight_ih)
    d[weight_ih] += linear_weight_grad(dgates, d[z])


def _input_grad_tangent(z, dgates, weight_ih):
    d[z] += lstm_input_grad(d[dgates], weight_ih)
    d[z] += lstm_input_grad(dgates, d[weight_ih])


def _previous_adjoint(z, hs):
    d[hs] += lstm_next_states(d[z])


def _previous_tangent(z, hs):
    d[z] += lstm_previous_states(d[hs])


def _next_adjoint(z, g):
    d[g] += lstm_previous_states(d[z])


def _next_tangent(z, g):
    d[z] += lstm_next_states(d[g])


def _output_adjoint(z, result, all_states):
    d[result] += lstm_output_adjoint(d[z], all_states)


def _output_tangent(z, result, all_states):
    d[z] += lstm_output(d[result], all_states)


def _output_adjoint_adjoint(z, g, all_states):
    d[g] += lstm_output(d[z], all_states)


def _output_adjoint_tangent(z, g, all_states):
    d[z] += lstm_output_adjoint(d[g], all_states)


def _bias_grad_adjoint(z, dgates):
    d[dgates] += d[z] * np.ones_like(dgates)


def _bias_grad_tangent(z, dgates):
    d[z] += lstm_bias_grad(d[dgates])


defvjp(lstm_output, _output_adjoint)
defjvp(lstm_output, _output_tangent)
defvjp(lstm_output_adjoint, _output_adjoint_adjoint)
defjvp(lstm_output_adjoint, _output_adjoint_tangent)
defvjp(lstm_bias_grad, _bias_grad_adjoint)
defjvp(lstm_bias_grad, _bias_grad_tangent)
defvjp(lstm, _lstm_adjoint)
defjvp(lstm, _lstm_tangent)
defjvp(lstm_gate_grads, _gate_grads_tangent)
defvjp(lstm_input_grad, _input_grad_adjoint)
defjvp(lstm_input_grad, _input_grad_tangent)
defvjp(lstm_previous_states, _previous_adjoint)
defjvp(lstm_previous_states, _previous_tangent)
defvjp(lstm_next_states, _next_adjoint)
defjvp(lstm_next_states, _next_tangent)
