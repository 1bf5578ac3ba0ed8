"""The public entry points given a derivative sourcegrad made instead of the user's function:
``jacobian(grad(f))`` (a Hessian block), ``hessian(grad(f))``, ``hvp(grad(f))``,
``vjp(grad(f))`` (a Hessian-vector product, by symmetry), each forward mode over the
derivative's generated source or the vjp of a gradient; and the refusals, placed at the user's
function, of what is not defined there (``value_and_grad`` of a derivative, reverse mode over
forward mode, a derivative of what ``hvp``, ``hessian`` or ``jacobian`` made)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..derivative import Transformed, derivative
from ..errors import SourcegradError
from ..transform.argument_writes import argument_writes
from . import (
    GradientVjp,
    Jvp,
    NestedGrad,
    Tower,
    derivative_vjp,
    grad_of_derivative,
    is_derivative,
)
from .pieces import array_or_float, defined_at, refuse_rerun, unit_vector

__all__ = ["made_of", "of_derivative", "user_function"]

#: the attribute of a function ``hvp``, ``hessian`` or ``jacobian`` made: ``(kind, f)``
MADE_OF = "sourcegrad_made_of"


def made_of(run: Callable, kind: str, f: Callable) -> None:
    """Mark ``run`` as the ``kind`` (hvp, hessian, jacobian) of ``f`` that sourcegrad made."""
    setattr(run, MADE_OF, (kind, f))


def user_function(d: Any) -> Any:
    """The user's function that the derivative ``d`` differentiates (at any order)."""
    while True:
        if isinstance(d, (Transformed, Tower)):
            return d.f
        if isinstance(d, (NestedGrad, GradientVjp)):
            d = d.tower
        elif isinstance(d, Jvp):
            d = d.base
        else:
            return d


def of_derivative(kind: str, d: Any, wrt: Any) -> Callable | None:
    """``kind`` (grad, value_and_grad, vjp, jvp, hvp, hessian, jacobian) of ``d`` where ``d``
    is a derivative sourcegrad made (or what ``hvp``, ``hessian`` or ``jacobian`` made:
    refused), else None."""
    made = getattr(d, MADE_OF, None)
    if made is not None:
        _refuse_again(kind, d, *made)
    if not is_derivative(d):
        return None
    if kind == "grad":
        return grad_of_derivative(d, wrt)
    if kind == "jvp":
        return Jvp(d, wrt, inside=False)
    if kind == "jacobian":
        return _jacobian(d, wrt)
    if kind in ("hvp", "hessian"):
        if isinstance(wrt, (tuple, list)) and kind == "hessian":
            raise _refusal(d, "hessian() takes one wrt argument; use hvp with a tuple wrt")
        second = grad_of_derivative(d, wrt)
        if kind == "hessian":
            return _named(_jacobian(second, wrt), "hessian", d)
        return _named(_hvp(Jvp(second, wrt, inside=False)), "hvp", d)
    if kind == "vjp" and isinstance(d, (Transformed, NestedGrad)) and _a_gradient(d):
        return _named(_vjp(derivative_vjp(d, wrt)), "vjp", d)
    how = {
        "value_and_grad": "call the derivative for its value and sg.grad of it for its "
        "derivative (or sg.jvp of it: the value and a directional derivative in one call)",
        "vjp": "forward mode over it is: use sg.jvp of it (along one direction per call), or "
        "sg.vjp of the function itself",
    }[kind]
    raise _refusal(d, f"sg.{kind}() of {_name(d)}, a derivative sourcegrad made, is not "
                      f"defined; {how}")  # fmt: skip


def _a_gradient(d) -> bool:
    if isinstance(d, NestedGrad):
        return True
    return d.mode == "grad" and not d.has_aux and not d.with_value


def _name(d) -> str:
    return getattr(d, "__name__", type(d).__name__)


def _refusal(d, reason: str) -> SourcegradError:
    return SourcegradError(reason, *defined_at(user_function(d)))


def _refuse_again(kind: str, run, made: str, f) -> None:
    raise SourcegradError(
        f"sg.{kind}() of `{_name(run)}`, the sg.{made}() of {_name(f)}: what {made}() makes "
        "is not differentiated again; differentiate the gradient instead (sg.jvp(sg.grad(f)) "
        "or sg.hvp(sg.grad(f)) for third derivatives along directions, sg.jacobian(sg.grad(f))"
        " for the Hessian)",
        *defined_at(f),
    )


def _named(run: Callable, kind: str, d) -> Callable:
    run.__name__ = f"{kind}_{_name(d)}"
    made_of(run, kind, user_function(d))
    return run


def _vjp(gv: GradientVjp) -> Callable:
    def run(*args):
        return gv(*args)

    return run


def _hvp(jv: Jvp) -> Callable:
    def run(*args):
        return jv(*args)[1]

    return run


def _jacobian(d: Any, wrt: Any) -> Callable:
    """The Jacobian of the derivative ``d`` with respect to ``args[wrt]``, one forward-mode
    column per element (``d`` returns one array or float: a gradient of one argument)."""
    if isinstance(wrt, (tuple, list)):
        raise _refusal(d, "jacobian() takes one wrt argument; take one Jacobian per argument")
    fwd = Jvp(d, wrt, inside=False)
    f = d.tower.f if isinstance(d, NestedGrad) else getattr(d, "f", None)

    def run(*args):
        x = args[wrt] if -len(args) <= wrt < len(args) else None
        array_or_float(x, "jacobian")
        if np.size(x) > 1:
            refuse_rerun(f, f"sg.jacobian runs {_name(f)}() once per column", True)
        # a function that writes into its arguments: each column but the last is taken on a
        # copy of the values on entry, so the caller's objects are written back into once
        entry = copy.deepcopy(args) if _writes(d, args) else None
        n = np.size(x)
        y, cols = None, []
        for k in range(n):
            a = args if entry is None or k == n - 1 else copy.deepcopy(entry)
            y, t = fwd(*a, unit_vector(x, k) if np.shape(x) else 1.0)
            _one_array(d, y)
            cols.append(np.asarray(t))
        if n == 0:
            y = _one_array(d, d(*args))
            kind = np.result_type(np.asarray(x).dtype, np.asarray(y).dtype, np.float64)
            return np.zeros(np.shape(y) + np.shape(x), dtype=kind)
        return np.stack(cols, axis=-1).reshape(np.shape(y) + np.shape(x))

    return _named(run, "jacobian", d)


def _one_array(d, y):
    if isinstance(y, (tuple, list, dict)):
        how = (
            "take it of the function itself (sg.jacobian(f)), or of sg.grad(f) for the Hessian"
            if isinstance(d, Jvp) or getattr(d, "mode", None) == "jvp"
            else "take it of a gradient along one argument (sg.grad(f, i)), or use sg.jvp of "
            "the derivative for one column at a time"
        )
        raise _refusal(
            d,
            f"sg.jacobian() of {_name(d)}, a derivative whose value is a {type(y).__name__}: "
            f"a Jacobian is taken of one array; {how}",
        )
    return y


def _writes(d, args: tuple) -> bool:
    """Whether the user's function of ``d`` writes into its arguments in place."""
    f = user_function(d)
    bound = d.tower.bound_self if isinstance(d, NestedGrad) else getattr(d, "bound_self", ())
    try:
        parsed = derivative(f, 0, "grad", False, False, {}).parsed()
    except SourcegradError:
        return False
    return bool(argument_writes(parsed, tuple(bound or ()) + tuple(args)))
