"""The public transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``source``, ``show``.

Each makes a derivative object (:class:`~sourcegrad.derivative.Transformed`, or for a function
that is itself a derivative one of :mod:`sourcegrad.higher`'s); what the derivative builds,
and when, is described in :mod:`sourcegrad.derivative`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .arguments import check_call, full_args, seed_problem, split_args
from .derivative import Transformed, derivative
from .derivative_cache import clear_cache
from .errors import SourcegradError
from .function_values import jvp_of, vjp_of
from .higher import grad_of_derivative, is_derivative, jvp_transform, source_of_order
from .runtime.signature import call_signature

__all__ = [
    "Transformed",
    "call_signature",
    "check_call",
    "clear_cache",
    "full_args",
    "grad",
    "jvp",
    "jvp_of",
    "seed_problem",
    "show",
    "source",
    "split_args",
    "value_and_grad",
    "vjp",
    "vjp_of",
]


def grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Callable:
    """The gradient of scalar-valued ``f`` with respect to argument ``wrt``.

    ``grad(f)(*args)`` returns a gradient with exactly the structure of ``args[wrt]``
    (nested dict/list/tuple/namedtuple of arrays and floats; floats get floats, unused leaves
    get zeros). A tuple ``wrt`` gives a tuple of gradients. With ``has_aux=True``, ``f`` returns
    ``(loss, aux)`` and the call returns ``(gradient, aux)``. Returned arrays are fresh: the
    caller owns them, and the arguments are never modified.

    ``f`` may itself be a gradient made by sourcegrad (``grad(grad(f))``, any order) when that
    gradient is a scalar.

    Options: ``with_forward=True`` also returns the value (as :func:`value_and_grad`);
    ``with_gradients=False`` returns ``f``'s value only, from ``f`` compiled to core form;
    ``stable_gradients=True`` returns the same gradient arrays on every call (per thread and
    argument signature), overwritten in place, instead of fresh ones; ``pool_buffers=False``
    allocates the intermediates on every call (and frees each after its last use) instead of
    keeping them in per-thread buffers from one call to the next (see ``held_bytes()``).
    """
    if is_derivative(f):
        return grad_of_derivative(f, wrt)
    return derivative(f, wrt, "grad", has_aux, False, options)


def value_and_grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Transformed:
    """Like :func:`grad`, but the call returns ``(value, gradient)``
    (``((value, aux), gradient)`` with ``has_aux``)."""
    return derivative(f, wrt, "grad", has_aux, True, options)


def vjp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Vector-Jacobian product: ``vjp(f)(*args, g_out)`` is the gradient of
    ``sum(f(*args) * g_out)`` with respect to ``args[wrt]``; ``f`` may return an array."""
    return derivative(f, wrt, "vjp", False, False, options)


def jvp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Callable:
    """Jacobian-vector product (forward mode): ``jvp(f)(*args, tangent)`` returns
    ``(f(*args), directional derivative of f at args along tangent)``.

    ``tangent`` has the structure of ``args[wrt]`` (a tuple of those for a tuple ``wrt``); the
    result's tangent has the structure of ``f``'s value. The generated code keeps ``f``'s
    control flow and computes each tangent right after its value.
    """
    return jvp_transform(f, wrt, options)


def source(df: Transformed, *example_args: Any) -> str:
    """The generated source of ``df`` (black-formatted).

    Without ``example_args`` the derivative makes no assumption about ranks; with them it is the
    code that runs for arguments of that signature.
    """
    if not isinstance(df, Transformed):
        raise SourcegradError(f"source() takes a function made by sourcegrad.grad, got {df!r}")
    return df.source(*example_args)


def show(
    f: Callable,
    wrt: int | Sequence[int] = 0,
    *,
    mode: str = "reverse",
    args: Sequence | None = None,
    order: int = 1,
    optimized: bool = False,
) -> str:
    """The derivative source of ``f`` as :func:`source` prints it.

    ``mode="forward"`` shows the jvp; ``order=2`` the Hessian-vector product (forward mode over
    the reverse-mode gradient), ``order=3`` forward mode over that, and so on. ``optimized``
    shows the code that runs (in-place accumulation, generated container builders) instead of
    the pure derivative.
    """
    if mode not in ("reverse", "forward"):
        raise SourcegradError(f"mode={mode!r} is not available; use 'reverse' or 'forward'")
    if not isinstance(order, int) or order < 1:
        raise SourcegradError(f"order={order!r}: pass a positive integer")
    if order == 1:
        df = grad(f, wrt) if mode == "reverse" else jvp(f, wrt)
        if optimized:
            entry = df.emitted(df.bound_self + tuple(args), True) if args else df.emitted()
            return entry.pretty(optimized=True)
        return df.source(*(args or ()))
    if mode == "forward":
        raise SourcegradError(
            "--order above 1 is forward mode over the reverse-mode gradient; leave out "
            "--mode forward"
        )
    return source_of_order(f, wrt, order, tuple(args or ()))
