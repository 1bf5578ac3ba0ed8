"""What a workload of ``run.py`` is (:class:`Spec`), and what every workload's peers share: the
PyTorch candidate made from a loss closure, and a loss rebound to another NumPy (autograd's,
``jax.numpy``), helpers included.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    from harness import Candidate
except ImportError:  # pragma: no cover
    from .harness import Candidate

REFERENCE = "hand-written"
# (rtol, atol as a fraction of the largest |value| of the reference leaf), per dtype
DEFAULT_TOLERANCES = {np.dtype(np.float64): (1e-7, 1e-10), np.dtype(np.float32): (1e-4, 1e-5)}


@dataclass
class Spec:
    key: str  # the workload's name in the table, before the dtype; --only selects by it
    describe: str  # one line: sizes and what the loss is
    loss: Callable  # plain NumPy: what sourcegrad, autograd, jax and tangent differentiate
    inputs: Callable[[Any], tuple]  # dtype -> args; the gradient is w.r.t. args[0]
    hand: Callable  # args -> (loss, gradient): the reference
    torch: Callable | None = None  # args -> Candidate or None
    jit_note: str = ""
    tolerances: dict = field(default_factory=lambda: DEFAULT_TOLERANCES)


# =========================================================================== numpy rebound
def rebind_numpy(fn, module, name: str):
    """``fn`` with the same code, but with the global ``np`` bound to ``module``; so are the
    functions of ``fn``'s module that it calls by name (its helpers, and theirs)."""
    env = {**fn.__globals__, "np": module}
    todo = [fn.__code__]
    seen = set()
    while todo:
        code = todo.pop()
        for const in code.co_consts:  # nested functions and comprehensions
            if isinstance(const, types.CodeType):
                todo.append(const)
        for global_name in code.co_names:
            value = fn.__globals__.get(global_name)
            if (
                isinstance(value, types.FunctionType)
                and value.__globals__ is fn.__globals__
                and global_name not in seen
            ):
                seen.add(global_name)
                env[global_name] = types.FunctionType(
                    value.__code__, env, value.__name__, value.__defaults__
                )
                todo.append(value.__code__)
    return types.FunctionType(fn.__code__, env, name, fn.__defaults__)


# =========================================================================== torch
def torch_leaves(torch, tree):
    """The same nesting as ``tree`` (dict / list / array), as leaf tensors requiring grad."""
    if isinstance(tree, dict):
        return {k: torch_leaves(torch, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [torch_leaves(torch, v) for v in tree]
    return torch.tensor(tree, requires_grad=True)


def _flat_tensors(tree):
    if isinstance(tree, dict):
        return [t for v in tree.values() for t in _flat_tensors(v)]
    if isinstance(tree, (list, tuple)):
        return [t for v in tree for t in _flat_tensors(v)]
    return [tree]


def _unflatten(tree, flat):
    it = iter(flat)

    def build(node):
        if isinstance(node, dict):
            return {k: build(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [build(v) for v in node]
        return next(it)

    return build(tree)


def _torch_numpy(out):
    loss, grads = out

    def conv(node):
        if isinstance(node, dict):
            return {k: conv(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [conv(v) for v in node]
        return node.detach().numpy()

    return loss.detach().numpy(), conv(grads)


def torch_candidate(torch, leaves, loss_fn, note):
    """``loss_fn()`` differentiated by ``torch.autograd.grad`` w.r.t. the tree ``leaves``."""
    flat = _flat_tensors(leaves)

    def value_and_grad():
        loss = loss_fn()
        return loss.detach(), _unflatten(leaves, torch.autograd.grad(loss, flat))

    note = (
        f"eager, {torch.get_num_threads()} thread(s){note}; torch buffers not seen by tracemalloc"
    )
    return Candidate("torch", value_and_grad, _torch_numpy, memory_tracked=False, note=note)
