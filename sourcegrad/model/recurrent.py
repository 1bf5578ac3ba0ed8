"""Recurrent models: :func:`RecurrentNetwork` (Elman, tanh), :func:`RecurrentLSTMNetwork`
and :func:`RecurrentGRUNetwork`, and the cells they step.

The cells compute exactly ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` (gate layout and
equations) with PyTorch's parameter names and layouts: ``weight_ih`` ``(G * hidden, input)``,
``weight_hh`` ``(G * hidden, hidden)``, ``bias_ih`` and ``bias_hh`` ``(G * hidden,)``, the
``G`` gates stacked in PyTorch's order (LSTM: input, forget, cell, output; GRU: reset, update,
new), all drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch draws them.

A network ``f`` is a :class:`sourcegrad.nn.Module`: ``f(params, x)`` reads ``x`` (an array
``(T, N, input)`` or a list of ``(N, input)`` steps, :func:`as_sequence`), projects the input of
every step in one ``F.linear`` of the whole sequence (one GEMM, as a fast library does), then
steps its cell's recurrence with a Python ``for`` from zero states, and returns the last hidden
state ``(N, hidden)`` (``output_type="last"``) or all of them stacked, ``(T, N, hidden)``
(``output_type="all"``). sourcegrad differentiates the RNN's and GRU's loops as written: the
adjoint of the projected sequence is one ``(T, N, G * hidden)`` array that each step's adjoint
is added into, and one GEMM after the loop gives the input weights' gradient. The LSTM is one
call of the primitive :func:`sourcegrad.nn.functional.lstm` instead (the same values, exactly),
whose hand-written backward reuses the buffers of its forward and runs only the recurrence in
its loop; :func:`lstm_output` picks the network's output from its result.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from .. import nn
from ..nn import functional as F
from ..nn.backend import array_module
from ..nn.recurrent import lstm_output
from ..rules import defjvp, defvjp, primitive
from ..rules.facts import constant_rank, declare, first_operand_shape
from ..rules.registry import d
from ..runtime.array_helpers import fill_tangents
from ..util.tree import Array, Tree
from .options import generator

__all__ = [
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "init_recurrent",
    "as_sequence",
    "RNN",
    "LSTM",
    "GRU",
    "RecurrentNetwork",
    "RecurrentLSTMNetwork",
    "RecurrentGRUNetwork",
]

OUTPUT_TYPES = ("last", "all")


def init_recurrent(
    input_features: int,
    hidden_features,
    gates: int = 1,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
):
    """``{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}`` for a cell of ``gates`` stacked
    gates, drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) (PyTorch's default) in ``dtype``."""
    rng = generator(rng)
    bound = 1.0 / math.sqrt(hidden_features)
    rows = gates * hidden_features
    shapes = {
        "weight_ih": (rows, input_features),
        "weight_hh": (rows, hidden_features),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
    }
    return {k: rng.uniform(-bound, bound, shape).astype(dtype) for k, shape in shapes.items()}


class RNNCell(nn.Module):
    """``cell(params, x, h)``: the next hidden state ``tanh(x W_ih^T + b_ih + h W_hh^T +
    b_hh)``, as ``torch.nn.RNNCell``."""

    has_params = True
    gates = 1

    def __call__(self, params: Tree, x: Array, h: Array) -> Array:
        return np.tanh(
            F.linear(x, params["weight_ih"], params["bias_ih"])
            + F.linear(h, params["weight_hh"], params["bias_hh"])
        )


class LSTMCell(nn.Module):
    """``cell(params, x, h, c)``: the next ``(h, c)``, as ``torch.nn.LSTMCell``: gates
    ``i, f, g, o`` stacked in that order, ``c' = f * c + i * g``, ``h' = o * tanh(c')``."""

    has_params = True
    gates = 4

    def __call__(self, params: Tree, x: Array, h: Array, c: Array) -> tuple[Array, Array]:
        gates = F.linear(x, params["weight_ih"], params["bias_ih"]) + F.linear(
            h, params["weight_hh"], params["bias_hh"]
        )
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = F.sigmoid(f) * c + F.sigmoid(i) * np.tanh(g)
        h = F.sigmoid(o) * np.tanh(c)
        return h, c


class GRUCell(nn.Module):
    """``cell(params, x, h)``: the next hidden state, as ``torch.nn.GRUCell``: gates
    ``r, z, n`` stacked in that order, ``n = tanh(x_n + r * h_n)``, ``h' = (1 - z) * n + z *
    h``."""

    has_params = True
    gates = 3

    def __call__(self, params: Tree, x: Array, h: Array) -> Array:
        xr, xz, xn = np.split(F.linear(x, params["weight_ih"], params["bias_ih"]), 3, axis=-1)
        hr, hz, hn = np.split(F.linear(h, params["weight_hh"], params["bias_hh"]), 3, axis=-1)
        r = F.sigmoid(xr + hr)
        z = F.sigmoid(xz + hz)
        n = np.tanh(xn + r * hn)
        return (1.0 - z) * n + z * h


@primitive
def as_sequence(x: Array | list) -> Array:
    """``x`` as one ``(T, N, features)`` array: ``x`` itself (no copy) when it is an array, its
    steps stacked when it is a list or tuple of ``(N, features)`` arrays; ``ValueError`` for a
    sequence of any other rank. Its derivative hands the adjoint back in ``x``'s form."""
    if not isinstance(x, (list, tuple)):
        seq = x
    elif not x:
        raise ValueError("a recurrent network needs at least one step")
    else:
        seq = array_module(x[0]).stack(x)
    if seq.ndim != 3:
        raise ValueError(
            f"a recurrent network reads a (T, N, features) array or a list of (N, features) "
            f"steps, not an array of shape {seq.shape}"
        )
    return seq


def _as_sequence_adjoint(z, x):
    d[x] += d[z]


def _as_sequence_tangent(z, x):
    d[z] += as_sequence(fill_tangents(d[x], x))


defvjp(as_sequence, _as_sequence_adjoint)
defjvp(as_sequence, _as_sequence_tangent)
# (T, N, features) or refused; an array's own shape
declare(
    as_sequence,
    rank=constant_rank(3),
    shape=first_operand_shape,
    dtype="operand",
    allocates="view",
)


#: the cells, ready to call inside a differentiated function: ``h, c = lstm_cell(p, x, h, c)``
rnn_cell, lstm_cell, gru_cell = RNNCell(), LSTMCell(), GRUCell()


class Recurrent(nn.Module):
    """A one-layer recurrent network over the steps of ``x``: the input projections of all
    steps first, then the cell's recurrence written out in the loop (a call of the cell per
    step would make the derivative call the cell's own derivative per step, about twice as
    slow)."""

    has_params = True
    cell = rnn_cell

    def __init__(self, input_features: int, hidden_features, output_type: str = "last") -> None:
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be 'last' or 'all', not {output_type!r}")
        self.input_features, self.hidden_features = input_features, hidden_features
        self.all_states = output_type == "all"

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        gates = self.cell.gates
        return init_recurrent(self.input_features, self.hidden_features, gates, rng, dtype)


class RNN(Recurrent):
    """``torch.nn.RNN`` (tanh, one layer, zero initial state) as ``f(params, x)``: steps
    :class:`RNNCell`."""

    def __call__(self, params: Tree, x: Array) -> Array:
        bias = params["bias_ih"] + params["bias_hh"]  # both biases added once, in the GEMM
        xw = F.linear(as_sequence(x), params["weight_ih"], bias)
        h = np.zeros_like(xw[0, :, : params["weight_hh"].shape[1]])
        hs = []
        for t in range(len(xw)):
            h = np.tanh(xw[t] + F.linear(h, params["weight_hh"]))
            hs.append(h)
        if self.all_states:
            return np.stack(hs)
        return h


class LSTM(Recurrent):
    """``torch.nn.LSTM`` (one layer, zero initial ``h`` and ``c``) as ``f(params, x)``: one
    call of the primitive :func:`sourcegrad.nn.functional.lstm` (the steps of
    :class:`LSTMCell`, with a hand-written backward)."""

    cell = lstm_cell

    def __call__(self, params: Tree, x: Array) -> Array:
        result = F.lstm(
            as_sequence(x),
            params["weight_ih"],
            params["weight_hh"],
            params["bias_ih"],
            params["bias_hh"],
        )
        return lstm_output(result, self.all_states)


class GRU(Recurrent):
    """``torch.nn.GRU`` (one layer, zero initial state) as ``f(params, x)``: steps
    :class:`GRUCell`."""

    cell = gru_cell

    def __call__(self, params: Tree, x: Array) -> Array:
        xw = F.linear(as_sequence(x), params["weight_ih"], params["bias_ih"])
        h = np.zeros_like(xw[0, :, : params["weight_hh"].shape[1]])
        hs = []
        for t in range(len(xw)):
            xr, xz, xn = np.split(xw[t], 3, axis=-1)
            hr, hz, hn = np.split(F.linear(h, params["weight_hh"], params["bias_hh"]), 3, axis=-1)
            r = F.sigmoid(xr + hr)
            z = F.sigmoid(xz + hz)
            h = (1.0 - z) * np.tanh(xn + r * hn) + z * h
            hs.append(h)
        if self.all_states:
            return np.stack(hs)
        return h


def RecurrentNetwork(  # noqa: N802 - the seed's name for a model constructor
    input_features: int = 100,
    hidden_features: int = 200,
    output_type: str = "last",
    *,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
) -> tuple[RNN, Tree]:
    """``(f, params)`` of an Elman network (an :class:`RNN`; see the module's docstring),
    ``params`` drawn from ``rng`` (a generator or seed) in ``dtype``."""
    f = RNN(input_features, hidden_features, output_type)
    f.params = f.init(rng, dtype)  # held too: f.forward and f.backward use them
    return f, f.params


def RecurrentLSTMNetwork(  # noqa: N802 - the seed's name for a model constructor
    input_features: int = 100,
    hidden_features: int = 200,
    output_type: str = "last",
    *,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
) -> tuple[LSTM, Tree]:
    """``(f, params)`` of an LSTM (an :class:`LSTM`; see the module's docstring), ``params``
    drawn from ``rng`` (a generator or seed) in ``dtype``."""
    f = LSTM(input_features, hidden_features, output_type)
    f.params = f.init(rng, dtype)  # held too: f.forward and f.backward use them
    return f, f.params


def RecurrentGRUNetwork(  # noqa: N802 - the seed's name for a model constructor
    input_features: int = 100,
    hidden_features: int = 200,
    output_type: str = "last",
    *,
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
) -> tuple[GRU, Tree]:
    """``(f, params)`` of a GRU (a :class:`GRU`; see the module's docstring), ``params`` drawn
    from ``rng`` (a generator or seed) in ``dtype``."""
    f = GRU(input_features, hidden_features, output_type)
    f.params = f.init(rng, dtype)  # held too: f.forward and f.backward use them
    return f, f.params
