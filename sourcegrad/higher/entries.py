"""The public entry points of second derivatives and Jacobians: ``hvp``, ``hessian`` and
``jacobian``, built on the towers and forward mode of :mod:`sourcegrad.higher`."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ..arguments import check_call
from ..derivative import derivative
from ..errors import SourcegradError
from ..packing import unwrapped
from ..runtime.containers import scalar_gradient
from ..transform.argument_writes import argument_writes
from . import jvp_transform, tower
from .of_derivatives import made_of, of_derivative
from .pieces import array_or_float, refuse_rerun, refused_inside, unit_vector

__all__ = ["hessian", "hvp", "jacobian"]


def hvp(f: Callable, wrt: int | tuple = 0) -> Callable:
    """Hessian-vector product: ``hvp(f)(*args, v)`` is ``H v`` with ``H`` the Hessian of
    scalar ``f`` with respect to ``args[wrt]`` (forward mode over the reverse-mode gradient).
    For a tuple ``wrt``, ``v`` is a tuple (one direction per argument) and so is the result:
    the Hessian with respect to all those arguments times ``v``, split by argument."""
    found = of_derivative("hvp", f, wrt)
    if found is not None:
        return found
    joint = isinstance(wrt, (tuple, list))
    f, bound, wrts, packing = unwrapped(f, tuple(wrt) if joint else (wrt,))
    wrt = wrts if joint else wrts[0]
    hv = tower(f, bound, [wrt], wrts, joint)

    def run(*args, **kwargs):
        if packing is not None and args:
            primal, kwargs = packing.pack(bound + args[:-1], kwargs)
            args = (*primal[len(bound) :], args[-1])
        check_call(f, args, kwargs, wrt, run.__name__, seed="the vector v", bound=bound)
        *primal, v = args
        return hv.evaluate(bound + tuple(primal), (v,), kwargs)

    run.__name__ = "hvp_" + getattr(f, "__name__", "f")
    refused_inside(run, "hvp", f)
    made_of(run, "hvp", f)
    return run


def _float_kind(*values):
    """The floating dtype of a derivative of ``values`` (float64 for ints and bools)."""
    kind = np.result_type(*(np.asarray(v).dtype for v in values))
    return kind if np.issubdtype(kind, np.inexact) else np.dtype(np.float64)


def hessian(f: Callable, wrt: int = 0) -> Callable:
    """The Hessian of scalar ``f`` with respect to ``args[wrt]`` (an array or float):
    shape ``x.shape + x.shape``, one Hessian-vector product per element of ``x``."""
    found = of_derivative("hessian", f, wrt)
    if found is not None:
        return found
    h = hvp(f, wrt)
    probe = derivative(f, wrt, "grad", False, False, {})

    def run(*args, **kwargs):
        check_call(f, args, kwargs, wrt, run.__name__)
        x = args[wrt]
        array_or_float(x, "hessian")
        if isinstance(x, (float, np.generic)):  # a float's kind: a float, a NumPy scalar
            return scalar_gradient(x, h(*args, scalar_gradient(x, 1), **kwargs))
        # a function that writes into its arguments: each column but the last is taken on a
        # copy of the values on entry, so the caller's objects are written back into once
        entry = _copies(args, kwargs) if _writes_arguments(probe, args) else None
        if np.size(x) == 0:  # no entries: nothing to differentiate along
            if entry is not None:
                f(*args, **kwargs)  # (what Python's call leaves in the arguments)
            return np.zeros(np.shape(x) + np.shape(x), dtype=_float_kind(x))
        if np.size(x) > 1:
            refuse_rerun(f, f"sg.hessian runs {_name(f)}() once per column", True)
        cols = []
        for k in range(np.size(x)):
            a, kw = (args, kwargs) if entry is None or k == np.size(x) - 1 else _copies(*entry)
            cols.append(np.asarray(h(*a, unit_vector(x, k), **kw)))
        return np.stack(cols, axis=-1).reshape(np.shape(x) + np.shape(x))

    run.__name__ = "hessian_" + getattr(f, "__name__", "f")
    refused_inside(run, "hessian", f)
    made_of(run, "hessian", f)
    return run


def _name(f) -> str:
    return getattr(f, "__name__", "the function")


def _writes_arguments(d, args) -> bool:
    """Whether the function of the derivative ``d`` writes into its arguments ``args`` in
    place (its derivative then writes them back on each call)."""
    try:
        parsed = d.parsed()
    except SourcegradError:  # (no source: refused, or run as it is, where it is called)
        return False
    return bool(argument_writes(parsed, args))


def _copies(args: tuple, kwargs: dict) -> tuple:
    return copy.deepcopy((args, kwargs))


def jacobian(f: Callable, wrt: int = 0) -> Callable:
    """The Jacobian of array-valued ``f`` with respect to ``args[wrt]``: shape
    ``f(...).shape + x.shape``. Built from forward-mode columns when ``x`` has fewer elements
    than the output, else from reverse-mode rows. Of a gradient ``grad(f)`` it is a block of
    ``f``'s Hessian, by forward-mode columns."""
    found = of_derivative("jacobian", f, wrt)
    if found is not None:
        return found
    fwd = jvp_transform(f, wrt, {})
    rev = derivative(f, wrt, "vjp", False, False, {})

    def run(*args, **kwargs):
        check_call(f, args, kwargs, wrt, run.__name__)
        x = args[wrt]
        array_or_float(x, "jacobian")
        # a function that writes into its arguments: each row or column is taken on a copy
        # of the values on entry, and the caller's objects are changed once, by f's call
        entry = _copies(args, kwargs) if _writes_arguments(rev, args) else None
        refuse_rerun(f, f"sg.jacobian runs {_name(f)}() once per row or column", True)
        at = (lambda a, kw: (a, kw)) if entry is None else (lambda a, kw: _copies(*entry))
        y = f(*args, **kwargs)
        n, m = np.size(x), np.size(y)
        ys, xs = np.shape(y), np.shape(x)
        if n == 0 or m == 0:  # an input or an output with no entries
            return np.zeros(ys + xs, dtype=_float_kind(x, y))
        if n <= m:
            cols = []
            for k in range(n):
                a, kw = at(args, kwargs)
                cols.append(np.asarray(fwd(*a, unit_vector(x, k) if xs else 1.0, **kw)[1]))
            return np.stack(cols, axis=-1).reshape(ys + xs)
        rows = []
        for k in range(m):
            a, kw = at(args, kwargs)
            seed = unit_vector(np.asarray(y, dtype=float), k) if ys else 1.0
            rows.append(np.asarray(rev(*a, seed, **kw)))
        return np.stack(rows, axis=0).reshape(ys + xs)

    run.__name__ = "jacobian_" + getattr(f, "__name__", "f")
    refused_inside(run, "jacobian", f)
    made_of(run, "jacobian", f)
    return run
