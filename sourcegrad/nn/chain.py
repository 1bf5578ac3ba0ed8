"""Layers applied in order (what ``Sequential`` computes) as one primitive whose backward
reuses what its forward computed.

Differentiated from its source, a loop over layer objects costs one extra forward pass per
level of calls: the derivative of the loop runs every layer once in its forward sweep, and
the derivative of each layer, called from the adjoint sweep, runs that layer again.
:func:`chain` instead runs each layer once (:meth:`Module.forward_with_residuals`) and keeps
every layer's input, output and residuals (a *trace*) for as long as the chain's output
lives; the reverse rule walks the layers backwards through the trace
(:meth:`Module.backward_from_residuals`: hand-written kernels for the built-in layers, the
layer's own derivative for any other). Where no trace is found (the output is not the array
the forward returned), the backward runs the forward again first: never a stale value.

Higher derivatives differentiate the plain loop :func:`run_layers` from its source: the
tangent rules here are forward mode over it and over its vjp, so Hessian-vector products,
``jvp`` and ``grad`` of a gradient work as before (third order is refused).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..api import jvp, vjp
from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..runtime.trees import DictPieces, Pieces, as_adjoint
from ..util.tree import Array, Tree

__all__ = [
    "run_layers",
    "chain",
    "chain_param_grads",
    "chain_input_grad",
    "chain_jvp",
    "chain_param_grads_jvp",
    "chain_input_grad_jvp",
]


def run_layers(layers, params: Tree, x: Array):
    """``x`` through ``layers`` in order, layer ``i`` with ``params[i]`` (ignored for a layer
    without parameters): plain code, differentiated from its source by higher orders."""
    for layer, p in zip(layers, params):
        if layer.has_params:
            x = layer(p, x)
        else:
            x = layer(x)
    return x


@dataclass
class Trace:
    """What one forward pass through a chain kept: each layer's input, output and residuals,
    and (``stash``) the adjoint that reached the first layer's output in the last backward,
    for the input gradient asked for after the parameters' gradients."""

    model: object
    params: object
    x: object
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    residuals: list = field(default_factory=list)
    stash: tuple | None = None
    output: object = None  # a weak reference to the chain's output, once kept

    def layer_input(self, i, z: Array):
        """Layer ``i``'s input (``z``, the chain's output, where that was it)."""
        h = self.inputs[i]
        return z if h is None else h

    def layer_output(self, i, z: Array):
        """Layer ``i``'s output (``z`` where that was the chain's output)."""
        h = self.outputs[i]
        return z if h is None else h

    def drop(self, out: Array):
        """Forget every reference to ``out``: the trace lives only as long as ``out``, so
        holding it would keep both alive forever. Raises TypeError where ``out`` cannot be
        weakly referenced."""
        self.output = weakref.ref(out, _forgetting(id(out)))
        self.inputs = [None if h is out else h for h in self.inputs]
        self.outputs = [None if h is out else h for h in self.outputs]


_TRACES: dict = {}  # id(output) -> Trace, while that output lives
#: re-entrant: freeing a trace's arrays may run another output's callback in this thread
_LOCK = threading.RLock()


def _forgetting(key):
    """The callback of a trace's weak reference to its output: the trace is dropped when
    the output dies (the reference lives in the trace, so it fires while the trace is kept)."""

    def forget(_ref, traces=_TRACES, lock=_LOCK):  # (module globals are gone at exit)
        with lock:
            traces.pop(key, None)

    return forget


#: what a trace holds for the value between two layers run as one (never made)
FUSED = object()


def _forward(model, params, x) -> Trace:
    """Each layer run once (two together where the first is past the first layer and
    :meth:`Module.fused_with` joins it with the next): its input, output and residuals kept.
    A joined pair keeps :data:`FUSED` for the value between its layers, and its joint
    residuals with the second layer."""
    trace = Trace(model, params, x)
    layers = model.layers
    n = min(len(layers), len(params))
    h, i = x, 0
    while i < n:
        pair = layers[i].fused_with(layers[i + 1]) if 0 < i < n - 1 else None
        if pair is not None:
            trace.inputs += [h, FUSED]
            h, residuals = pair.forward_with_residuals(h)
            trace.outputs += [FUSED, h]
            trace.residuals += [None, (pair, residuals)]
            i += 2
            continue
        trace.inputs.append(h)
        h, residuals = layers[i].forward_with_residuals(params[i], h)
        trace.outputs.append(h)
        trace.residuals.append(residuals)
        i += 1
    return trace


def _output(trace: Trace):
    return trace.outputs[-1] if trace.outputs else trace.x


@primitive
def chain(model, params: Tree, x: Array):
    """``run_layers(model.layers, params, x)``, keeping its trace for the backward while the
    output lives (an output that is an input, or that cannot be weakly referenced, keeps
    none)."""
    trace = _forward(model, params, x)
    out = _output(trace)
    if out is not x:
        try:
            trace.drop(out)
        except TypeError:
            return out
        with _LOCK:
            _TRACES[id(out)] = trace
    return out


def _trace_of(model, params, x, z) -> Trace:
    """The trace of the forward pass that returned ``z`` for these arguments, or a new one."""
    with _LOCK:
        trace = _TRACES.get(id(z))
    if trace is not None and trace.output() is z and trace.model is model:
        if trace.params is params and trace.x is x:
            return trace
    return _forward(model, params, x)


def _walk(trace: Trace, z, params, g, want_params: bool, first: int):
    """Back through layers ``last .. first``: ``(param_grads, g)`` with ``g`` the adjoint
    of layer ``first``'s input and ``param_grads[i]`` the gradient of layer ``i``'s
    parameters for the layers walked (``{}`` elsewhere, and without ``want_params``)."""
    layers = trace.model.layers
    grads = [{} for _ in layers]
    i = len(layers) - 1
    while i >= first:
        out = trace.layer_output(i, z)
        if trace.inputs[i] is FUSED:  # layers i - 1 and i, run as one (never layer 0)
            pair, residuals = trace.residuals[i]
            g = pair.backward_from_residuals(trace.layer_input(i - 1, z), out, residuals, g)
            i -= 2
            continue
        h, wants = trace.layer_input(i, z), (want_params, True)
        dp, g = layers[i].backward_from_residuals(params[i], h, out, trace.residuals[i], g, wants)
        grads[i] = dp if want_params else {}
        i -= 1
    return grads, g


def _first_layer(trace: Trace, z, params, g, wants):
    layer = trace.model.layers[0]
    args = (params[0], trace.layer_input(0, z), trace.layer_output(0, z), trace.residuals[0])
    return layer.backward_from_residuals(*args, g, wants)


@primitive
def chain_param_grads(model, params: Tree, x: Array, z: Array, g: Array):
    """The gradient of ``<g, chain(model, params, x)>`` with respect to ``params`` (``z``:
    the chain's output, whose trace it uses), as an adjoint container."""
    trace = _trace_of(model, params, x, z)
    grads, seed = _walk(trace, z, params, g, True, 1)
    if grads:
        grads[0], _ = _first_layer(trace, z, params, seed, (True, False))
    trace.stash = (g, params, seed)
    return Pieces([_layer_adjoint(dp) for dp in grads])


def _layer_adjoint(grads):
    """A layer's parameter gradients as an adjoint: :func:`as_adjoint`, without its walk
    over the leaves for the common dict of arrays."""
    if type(grads) is dict:
        for v in grads.values():
            if type(v) is not np.ndarray:
                return as_adjoint(grads)
        return DictPieces(grads)
    return as_adjoint(grads)


@primitive
def chain_input_grad(model, params: Tree, x: Array, z: Array, g: Array):
    """The gradient of ``<g, chain(model, params, x)>`` with respect to ``x``; after
    :func:`chain_param_grads` for the same ``g`` only the first layer's input gradient is
    left to compute."""
    trace = _trace_of(model, params, x, z)
    stash = trace.stash
    if model.layers and stash is not None and stash[0] is g and stash[1] is params:
        return _first_layer(trace, z, params, stash[2], (False, True))[1]
    return _walk(trace, z, params, g, False, 0)[1]


def along(f, args, tangents):
    """The tangent of ``f(*args)`` along ``tangents`` (``{position: tangent}``, None for a
    zero), by sourcegrad's forward mode; None where every tangent is zero."""
    given = {i: t for i, t in tangents.items() if t is not None}
    if not given:
        return None
    wrt = tuple(sorted(given))
    if len(wrt) == 1:
        return jvp(f, wrt[0])(*args, given[wrt[0]])[1]
    return jvp(f, wrt)(*args, tuple(given[i] for i in wrt))[1]


_VJPS: dict = {}


def _reference_vjp(wrt):
    found = _VJPS.get(wrt)
    if found is None:
        found = _VJPS[wrt] = vjp(run_layers, wrt)
    return found


@primitive
def chain_jvp(model, params: Tree, x: Array, dparams: Tree, dx):
    """The tangent of ``chain(model, params, x)`` along ``dparams`` and ``dx``."""
    return along(run_layers, (model.layers, params, x), {1: dparams, 2: dx})


@primitive
def chain_param_grads_jvp(model, params: Tree, x: Array, g: Array, dparams: Tree, dx, dg):
    """The tangent of :func:`chain_param_grads` along ``dparams``, ``dx`` and ``dg``."""
    args = (model.layers, params, x, g)
    tangent = along(_reference_vjp(1), args, {1: dparams, 2: dx, 3: dg})
    return as_adjoint(tangent)


@primitive
def chain_input_grad_jvp(model, params: Tree, x: Array, g: Array, dparams: Tree, dx, dg):
    """The tangent of :func:`chain_input_grad` along ``dparams``, ``dx`` and ``dg``."""
    return along(_reference_vjp(2), (model.layers, params, x, g), {1: dparams, 2: dx, 3: dg})


def _chain_adjoint(z, model, params, x):
    d[params] += chain_param_grads(model, params, x, z, d[z])
    d[x] += chain_input_grad(model, params, x, z, d[z])


def _chain_tangent(z, model, params, x):
    d[z] += chain_jvp(model, params, x, d[params], d[x])


def _param_grads_tangent(z, model, params, x, out, g):
    d[z] += chain_param_grads_jvp(model, params, x, g, d[params], d[x], d[g])


def _input_grad_tangent(z, model, params, x, out, g):
    d[z] += chain_input_grad_jvp(model, params, x, g, d[params], d[x], d[g])


defvjp(chain, _chain_adjoint)
defjvp(chain, _chain_tangent)
defjvp(chain_param_grads, _param_grads_tangent)
defjvp(chain_input_grad, _input_grad_tangent)
