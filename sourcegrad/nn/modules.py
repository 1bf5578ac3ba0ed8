"""``Module``: the base of every layer and criterion; ``Sequential``; ``functionalize``.

A module is *functional* first: ``params = module.init(rng)`` makes its parameters (a dict of
arrays, ``{}`` for a module without any), and ``module(params, x)`` (``module(x)`` for one
without parameters) computes its output. That call is plain code sourcegrad differentiates
from its source, so a layer can be used inside any loss that ``sourcegrad.grad`` handles.

For code written in PyTorch's style, a module also keeps parameters of its own
(:meth:`Module.parameters`), computes with them (:meth:`Module.forward`), and accumulates
their gradients (:meth:`Module.backward`, :meth:`Module.zero_grad`).

State that is not differentiated (BatchNorm's running statistics, Dropout's generator, the
``training`` flag) lives on the module object, never in ``params``: see each layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..api import vjp
from ..runtime.containers import children, is_container, rebuild
from ..util.tree import Array, Tree
from .chain import chain

__all__ = ["Module", "Sequential", "update_running_stats", "layer_vjp"]

#: the ``forward`` functions that PyTorch-style subclasses are called through
_FROM_FORWARD: set = set()


def _tree_map(fn, tree, *rest):
    if is_container(tree):
        parts = [dict(children(r)) for r in rest]
        return rebuild(
            tree, {k: _tree_map(fn, v, *(p[k] for p in parts)) for k, v in children(tree)}
        )
    return fn(tree, *rest)


class Module:
    """The base class. Subclasses set ``has_params`` and define ``init`` and ``__call__``.

    A subclass written in PyTorch's style works too: one that defines ``forward`` and no
    ``__call__`` is called through its ``forward``; its ``has_params`` is true where
    ``forward``'s first argument after ``self`` is named ``params`` (set it yourself
    otherwise); and the default :meth:`init` gives the parameters of the modules it holds in
    attributes, by attribute name (a list or tuple of modules: a list of theirs), so that
    ``forward(self, params, x)`` calls ``self.l1(params["l1"], x)``."""

    #: whether ``__call__`` takes ``params`` first (``module(params, x)``) or not
    has_params = False
    #: train mode (batch statistics, dropout on) or eval mode; see :meth:`train`
    training = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if forward is None or not (
            cls.__call__ is Module.__call__ or cls.__call__ in _FROM_FORWARD
        ):
            return
        cls.__call__ = forward
        _FROM_FORWARD.add(forward)
        if "has_params" not in cls.__dict__:
            names = forward.__code__.co_varnames[1 : forward.__code__.co_argcount]
            cls.has_params = bool(names) and names[0] == "params"

    def __call__(self, *inputs):
        raise TypeError(
            f"{type(self).__name__} defines neither __call__ nor forward: define one of them"
        )

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        """Fresh parameters drawn from ``rng`` (a ``numpy.random.Generator``), PyTorch's
        default initialisation, in ``dtype``; ``{}`` for a module without parameters. The
        base class gives those of the modules held in attributes (see the class)."""
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        params = {}
        for name, child in vars(self).items():
            if isinstance(child, Module) and child.has_params:
                params[name] = child.init(rng, dtype)
            elif isinstance(child, (list, tuple)) and child:
                if all(isinstance(c, Module) for c in child) and any(c.has_params for c in child):
                    params[name] = [c.init(rng, dtype) for c in child]
        return params

    def apply(self, params: Tree, x: Array) -> Array:
        """The output for the input ``x`` and ``params`` (ignored without parameters): one
        calling convention for every layer, used by :class:`Sequential`."""
        if self.has_params:
            return self(params, x)
        return self(x)

    def forward_with_residuals(self, params: Tree, x: Array) -> tuple[Array, Any]:
        """``(output, residuals)``: :meth:`apply`'s output and whatever
        :meth:`backward_from_residuals` needs beyond the input and output (None here;
        layers with a hand-written backward keep a mask, for instance)."""
        return self.apply(params, x), None

    def backward_from_residuals(
        self, params: Tree, x: Array, out: Array, residuals: Any, g: Array, wants: tuple[bool, ...]
    ) -> tuple[Tree, Array | None]:
        """``(param_grads, input_grad)`` of ``sum(output * g)`` at ``params`` and ``x``
        (``out`` and ``residuals`` from :meth:`forward_with_residuals`), each computed only
        where ``wants = (params_wanted, input_wanted)`` asks for it (``{}`` and None
        otherwise). Here by the derivative of ``__call__``, which runs the forward again;
        the built-in layers override it with kernels that do not."""
        return layer_vjp(self, params, x, g, wants)

    def fused_with(self, following: Module):
        """An object that runs this layer and ``following`` as one step of a
        :class:`Sequential` (``forward_with_residuals(x)`` giving ``(output, residuals)``,
        ``backward_from_residuals(x, output, residuals, g)`` giving the input's adjoint), for
        a pair of layers without parameters whose value between them nothing else reads; None
        (the default): run each alone."""
        return None

    def _run(self, *inputs):
        if self.has_params:
            return self(self.parameters(), *inputs)
        return self(*inputs)

    def train(self, mode: bool = True) -> Module:
        """Set train mode (``mode=True``) or eval mode; returns the module."""
        self.training = mode
        return self

    def eval(self) -> Module:
        """Set eval mode; returns the module."""
        return self.train(False)

    # ------------------------------------------------------------- PyTorch-style state

    def parameters(self, rng: np.random.Generator | int | None = None) -> Tree:
        """The parameters this module holds, made by :meth:`init` on first use (from
        ``rng``, or a generator seeded with 0)."""
        if getattr(self, "params", None) is None:
            self.params = self.init(np.random.default_rng(0) if rng is None else rng)
        return self.params

    def forward(self, *inputs: Any) -> Any:
        """The output for the held parameters; the inputs are kept for :meth:`backward`."""
        self.last_inputs = inputs
        return self._run(*inputs)

    def zero_grad(self) -> None:
        """Forget the gradients accumulated by :meth:`backward`."""
        self.grads = None

    def backward(self, g_out: Array | None = None) -> Any:
        """Differentiate the last :meth:`forward`: adds the gradient of
        ``sum(output * g_out)`` (``g_out`` defaults to 1 for a scalar output) with respect
        to the held parameters into ``self.grads`` (structured like them), and returns the
        gradient with respect to the first input."""
        inputs = self.last_inputs
        if g_out is None:
            g_out = np.ones_like(self._run(*inputs))
        if not self.has_params:
            dx = vjp(self.__call__, 0)(*inputs, g_out=g_out)
            update_running_stats(self)
            return dx
        dparams, dx = vjp(self.__call__, (0, 1))(self.parameters(), *inputs, g_out=g_out)
        old = getattr(self, "grads", None)
        self.grads = dparams if old is None else _tree_map(np.add, old, dparams)
        update_running_stats(self)
        return dx


class Sequential(Module):
    """Layers applied in order: ``params = seq.init(rng)`` is the list of the layers'
    parameters (``{}`` for a layer without any), ``seq(params, x)`` the output."""

    has_params = True

    def __init__(self, *layers: Module) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers = list(layers)

    def init(
        self, rng: np.random.Generator | int | None = None, dtype: DTypeLike = np.float64
    ) -> Tree:
        rng = np.random.default_rng() if rng is None else rng
        return [layer.init(rng, dtype) for layer in self.layers]

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def __call__(self, params: Tree, x: Array) -> Array:
        # one primitive whose backward reuses the forward's values (sourcegrad.nn.chain)
        return chain(self, params, x)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, index):
        return self.layers[index]


_CALL_VJPS: dict = {}  # (class, wrt) -> the vjp of the class's __call__


def layer_vjp(layer, params: Tree, x: Array, g: Array, wants: tuple[bool, ...]):
    """``(param_grads, input_grad)`` of ``sum(layer(params, x) * g)`` (``layer(x)`` for a
    layer without parameters: ``{}`` for its parameters), by sourcegrad's derivative of the
    layer's ``__call__``; only what ``wants = (params_wanted, input_wanted)`` asks for is
    computed (``{}`` and None otherwise)."""
    cls = type(layer)
    want_params, want_input = wants
    if not layer.has_params:
        return {}, (_call_vjp(cls, 1)(layer, x, g_out=g) if want_input else None)
    if want_params and want_input:
        return _call_vjp(cls, (1, 2))(layer, params, x, g_out=g)
    if want_params:
        return _call_vjp(cls, 1)(layer, params, x, g_out=g), None
    if want_input:
        return {}, _call_vjp(cls, 2)(layer, params, x, g_out=g)
    return {}, None


def _call_vjp(cls, wrt):
    key = (cls, wrt)
    found = _CALL_VJPS.get(key)
    if found is None:
        found = _CALL_VJPS[key] = vjp(cls.__call__, wrt)
    return found


def update_running_stats(module: Module | list | tuple) -> None:
    """Apply, once, the batch statistics recorded by the train-mode calls of every
    normalization layer in ``module`` (a module, a :class:`Sequential`, or a list or tuple of
    them, nested). Call it once per training step, outside the differentiated function."""
    if isinstance(module, (list, tuple)):
        for item in module:
            update_running_stats(item)
        return
    if isinstance(module, Sequential):
        update_running_stats(module.layers)
        return
    update = getattr(module, "update_running_stats", None)
    if update is not None:
        update()
