"""A ``torch.nn.Module`` as a function sourcegrad differentiates: its forward and backward
run in torch (CPU, float32 or float64), called through primitives.

``TorchFunction(module)(params, x)``: ``params`` maps the module's parameter names to NumPy
arrays (:meth:`TorchFunction.init` gives views of the module's own parameters, no copies).
The call concatenates them into one flat vector (the one copy the bridge makes; its gradient
flows back to each array through NumPy's rules) and hands it and ``x`` to torch with
``torch.from_numpy`` (no copies): ``torch.func.functional_call`` computes the output, the
reverse rule runs ``torch.autograd.grad``, the forward rule ``torch.autograd.grad`` twice. The backward
kernels have no rules of their own: first order only.

Torch is never imported here: a torch module can only exist once the caller imported torch.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from numpy.typing import DTypeLike

from ..errors import SourcegradError
from ..rules import defjvp, defvjp, primitive
from ..rules.registry import d
from ..util.tree import Array, Tree
from .backend import array_module
from .modules import Module

__all__ = [
    "TorchFunction",
    "is_torch_module",
    "torch_call",
    "torch_vjp_params",
    "torch_vjp_input",
    "torch_jvp",
]


def is_torch_module(obj) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (False where torch was never imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


class TorchBridge:
    """A torch module with the layout of its parameters in one flat vector."""

    def __init__(self, module) -> None:
        self.module = module
        named = list(module.named_parameters())
        self.names = [name for name, _ in named]
        self.sizes = [math.prod(p.shape) for _, p in named]
        self.param_shapes = [tuple(p.shape) for _, p in named]

    def run(self, flat: Array, x: Array):
        """The module's output for the torch tensors ``flat`` (all parameters) and ``x``."""
        torch = sys.modules["torch"]
        tensors, offset = {}, 0
        for name, size, shape in zip(self.names, self.sizes, self.param_shapes):
            tensors[name] = flat[offset : offset + size].view(shape)
            offset += size
        return torch.func.functional_call(self.module, tensors, (x,))


def _tensor(a, requires_grad=False):
    if array_module(a) is not np:
        raise SourcegradError(
            "a functionalized torch module runs on the CPU, on NumPy arrays; got a CuPy "
            "array: hand it sourcegrad.util.cast(x, 'numpy')"
        )
    torch = sys.modules["torch"]
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.requires_grad_() if requires_grad else t


@primitive
def torch_call(bridge, flat: Array, x: Array):
    """The module's output (a NumPy array) at the flat parameter vector ``flat``."""
    torch = sys.modules["torch"]
    with torch.no_grad():
        return bridge.run(_tensor(flat), _tensor(x)).numpy()


def _pulled_back(bridge, flat, x, g, wrt_input):
    torch = sys.modules["torch"]
    tflat = _tensor(flat, not wrt_input)
    tx = _tensor(x, wrt_input)
    with torch.enable_grad():
        out = bridge.run(tflat, tx)
        (grad,) = torch.autograd.grad(out, tx if wrt_input else tflat, _tensor(g))
    return grad.numpy()


@primitive
def torch_vjp_params(bridge, flat: Array, x: Array, g: Array):
    """The gradient with respect to ``flat`` of ``sum(output * g)``, by torch.autograd."""
    return _pulled_back(bridge, flat, x, g, wrt_input=False)


@primitive
def torch_vjp_input(bridge, flat: Array, x: Array, g: Array):
    """The gradient with respect to ``x`` of ``sum(output * g)``, by torch.autograd."""
    return _pulled_back(bridge, flat, x, g, wrt_input=True)


@primitive
def torch_jvp(bridge, flat: Array, x: Array, dflat, dx):
    """The output's tangent along ``dflat`` and ``dx`` (None for zero): the vjp of the vjp,
    by torch.autograd (``J t`` is the gradient of ``<J^T u, t>`` with respect to ``u``)."""
    torch = sys.modules["torch"]
    pairs = [(_tensor(flat, dflat is not None), dflat), (_tensor(x, dx is not None), dx)]
    wrt = [(p, _tensor(t)) for p, t in pairs if t is not None]
    with torch.enable_grad():
        out = bridge.run(pairs[0][0], pairs[1][0])
        u = torch.zeros_like(out, requires_grad=True)
        pulled = torch.autograd.grad(out, [p for p, _ in wrt], u, create_graph=True)
        (tangent,) = torch.autograd.grad(pulled, u, [t for _, t in wrt])
    return tangent.numpy()


def _torch_call_adjoint(z, bridge, flat, x):
    d[flat] += torch_vjp_params(bridge, flat, x, d[z])
    d[x] += torch_vjp_input(bridge, flat, x, d[z])


def _torch_call_tangent(z, bridge, flat, x):
    d[z] += torch_jvp(bridge, flat, x, d[flat], d[x])


defvjp(torch_call, _torch_call_adjoint)
defjvp(torch_call, _torch_call_tangent)


class TorchFunction(Module):
    """A torch module as a :class:`Module`: ``TorchFunction(module)(params, x)``."""

    has_params = True

    def __init__(self, module) -> None:
        self.bridge = TorchBridge(module)
        self.names = list(self.bridge.names)

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike | None = None
    ) -> Tree:
        """The module's own parameters as NumPy arrays sharing their memory (``rng`` and
        ``dtype`` are ignored: the module is already initialised)."""
        return {n: p.detach().numpy() for n, p in self.bridge.module.named_parameters()}

    def __call__(self, params: Tree, x: Array) -> Array:
        flat = np.concatenate([np.ravel(params[name]) for name in self.names])
        return torch_call(self.bridge, flat, x)
