"""The public transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``source``, ``show``,
``export``.

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
from .export import export as export_module
from .function_values import (
    jvp_of,
    own_rules,  # noqa: F401  (registers the rules of vjp_of, jvp_of)
    vjp_of,
)
from .higher import jvp_transform
from .higher.of_derivatives import of_derivative
from .runtime.signature import call_signature
from .show import show_source

__all__ = [
    "Transformed",
    "call_signature",
    "check_call",
    "clear_cache",
    "export",
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

    ``exact=False`` lets the running code (from the second call on; not the shown code)
    compute values in another order of rounding, where that is much faster: an integer power
    ``x ** k`` of a float (``k`` in 3, 4, -1..-4; also ``np.power``) as products (``x * x *
    x``, ``1.0 / (x * x)``), ``np.einsum`` of two operands through BLAS, a loop that adds
    ``np.einsum`` products as one product (summed in BLAS's order), and a softmax's adjoint
    as written by hand (``a * (da - sum(da * a))``, nothing for the max subtracted before it,
    whose share is zero but for rounding). Values and gradients then differ from the
    default's by rounding (a few units in the last place of each operation); special values
    (inf, nan, a zero's sign in a power) and dtypes do not change. By default (``exact=True``)
    the value is ``f``'s bit for bit.
    """
    return of_derivative("grad", f, wrt) or derivative(f, wrt, "grad", has_aux, False, options)


def value_and_grad(
    f: Callable, wrt: int | Sequence[int] = 0, *, has_aux: bool = False, **options: Any
) -> Transformed:
    """Like :func:`grad`, but the call returns ``(value, gradient)``
    (``((value, aux), gradient)`` with ``has_aux``)."""
    of_derivative("value_and_grad", f, wrt)  # (refused)
    return derivative(f, wrt, "grad", has_aux, True, options)


def vjp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Transformed:
    """Vector-Jacobian product: ``vjp(f)(*args, g_out)`` is the gradient of
    ``sum(f(*args) * g_out)`` with respect to ``args[wrt]``; ``f`` may return an array.
    Of a gradient ``grad(f)`` it is a Hessian-vector product (by symmetry)."""
    return of_derivative("vjp", f, wrt) or derivative(f, wrt, "vjp", False, False, options)


def jvp(f: Callable, wrt: int | Sequence[int] = 0, **options: Any) -> Callable:
    """Jacobian-vector product (forward mode): ``jvp(f)(*args, tangent)`` returns
    ``(f(*args), directional derivative of f at args along tangent)``.

    ``tangent`` has the structure of ``args[wrt]`` (a tuple of those for a tuple ``wrt``); the
    result's tangent has the structure of ``f``'s value. The generated code keeps ``f``'s
    control flow and computes each tangent right after its value.
    """
    return of_derivative("jvp", f, wrt) or jvp_transform(f, wrt, options)


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
    callees: bool = True,
) -> str:
    """The derivative source of ``f`` as :func:`source` prints it, followed (``callees``) by
    every generated function it calls: the vjps/jvps of your helpers and methods, each headed
    by a comment naming the function and its ``file:line``.

    ``mode="forward"`` shows the jvp; ``order=2`` the Hessian-vector product (forward mode over
    the reverse-mode gradient), ``order=3`` forward mode over that, and so on; their comments
    cite your ``file:line``. ``optimized`` shows the code that runs (in-place accumulation,
    generated container builders) instead of the pure derivative. With ``args``, ``f`` and
    its derivative run once (to find the builds the callees run for the arguments they get),
    and an array-valued ``f`` is shown as its vjp (with ``g_out``), a header comment saying so.
    """
    return show_source(
        f, wrt, mode=mode, args=args, order=order, optimized=optimized, callees=callees
    )


def export(
    f: Callable,
    *args: Any,
    path: str | None = None,
    wrt: int | Sequence[int] = 0,
    mode: str = "reverse",
    order: int = 1,
) -> str:
    """The source of a standalone module computing the derivative of ``f`` for arguments
    like ``args``, also written to ``path`` where given.

    Its one public function ``d_<name>(*args)`` returns what ``value_and_grad(f, wrt)``
    returns (``mode="forward"``: ``d_<name>(*args, t)`` returns ``jvp(f, wrt)``'s
    ``(value, tangent)``; ``order=2``: ``d_<name>(*args, v)`` returns ``hvp(f, wrt)``'s
    Hessian-vector product; ``order=N``: forward mode ``N - 1`` times along ``v``), bit for
    bit: it is the code sourcegrad runs for arguments of this signature, with the derivatives
    of your helpers (at every order) and of the function values it calls (layer objects, a
    lambda, a nested ``def``: their variables read when it runs), your own functions it calls,
    the runtime helpers as source and the globals it reads as literals. It imports only
    NumPy (or CuPy) and the standard library. A header names the function, file, argument
    signature, sourcegrad version and a sha256 of the source
    (:func:`sourcegrad.export.is_stale`).
    Refused with a :class:`SourcegradError` naming what cannot be written as source.
    """
    return export_module(f, args, path=path, wrt=wrt, mode=mode, order=order)
