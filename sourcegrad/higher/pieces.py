"""Small pieces of :mod:`sourcegrad.higher`: calling a generated function with its seeds,
where a function is defined, the argument indices of a direction, unit vectors and the check
that a Hessian or Jacobian is taken of one array."""

from __future__ import annotations

import copy
import linecache

import numpy as np

from ..arguments import nonzero_tangents
from ..errors import (
    GENERATED_LINES,
    REFUSED_INSIDE,
    NonScalarOutputError,
    SourcegradError,
    user_location,
)
from ..notes import RAISED_IN, raised_note
from ..transform.rerun_effects import rerun_effect

__all__ = [
    "GENERATORS", "INSIDE_WAY_OUT", "NESTED_WAY_OUT", "refused_inside", "raised_at",
    "array_or_float", "call_generated", "defined_at", "located", "note_raised_at",
    "direction_indices", "unit_vector", "as_indices", "narrowed_over",
    "refuse_non_scalar", "refuse_non_scalar_value", "copy_for_check", "refuse_rerun",
    "not_a_gradient_inside",
]  # fmt: skip

#: random generators passed in: a check draws from a copy, so the call draws as f does
GENERATORS = (np.random.Generator, np.random.RandomState)


def not_a_gradient_inside(d) -> SourcegradError:
    """The refusal of the derivative ``d`` (no plain gradient) called inside a function
    differentiated in reverse mode, with the way out that fits what ``d`` is."""
    f = getattr(getattr(d, "f", None), "__name__", None)
    if f and getattr(d, "mode", None) == "grad" and getattr(d, "with_value", False):
        return SourcegradError(
            f"`value_and_grad({f})` is called inside a function being differentiated in "
            f"reverse mode, where only gradients are differentiated: call `{f}(...)` for the "
            f"value and `sg.grad({f})(...)` for the gradient"
        )
    if f and getattr(d, "mode", None) == "grad" and getattr(d, "has_aux", False):
        return SourcegradError(
            f"`grad({f}, has_aux=True)` is called inside a function being differentiated in "
            f"reverse mode, where only gradients are differentiated: take `sg.grad` of a "
            f"function returning the loss alone, and call `{f}(...)` for the aux"
        )
    return SourcegradError(
        f"{getattr(d, '__name__', d)!r} is called inside a function being differentiated in "
        "reverse mode; only gradients (grad(f)) can be used there"
    )


def call_generated(fn, values):
    """``fn(*values)`` for a generated function ``fn``: its own parameters by position, the
    seeds after them (its last keyword-only parameters) by name."""
    code = fn.__code__
    npos = code.co_argcount
    kwnames = code.co_varnames[npos : npos + code.co_kwonlyargcount]
    rest = values[npos:]  # the seeds: the last keyword-only parameters (after the function's own)
    return fn(*values[:npos], **dict(zip(kwnames[max(0, len(kwnames) - len(rest)) :], rest)))


def defined_at(f) -> tuple:
    """``(file, first line)`` of the function ``f``, as an error names them."""
    code = getattr(f, "__code__", None)
    return ("<unknown>", None) if code is None else (code.co_filename, code.co_firstlineno)


def raised_at(exc: BaseException, f) -> tuple:
    """``(file, line)`` of the user's that the innermost frame of generated code in ``exc``'s
    traceback differentiates (the call a refusal met while the derivative ran), else where
    ``f`` is defined."""
    filename = getattr(getattr(f, "__code__", None), "co_filename", None)
    found = _innermost_generated(exc, lambda place: place[0] == filename)
    return found[2] if found is not None else defined_at(f)


def located(exc: SourcegradError, f) -> SourcegradError:
    """``exc``, a refusal met while a derivative of ``f`` ran, where it names its place; else
    the same refusal naming the user's ``file:line`` (:func:`raised_at`, with the line a
    runtime check gives without its file: ``not_a_view``'s)."""
    if exc.lineno is not None and exc.filename is not None:
        return exc
    place = raised_at(exc, f)
    if exc.lineno is not None:
        place = (place[0], exc.lineno)
    return type(exc)(exc.reason, *place).with_traceback(exc.__traceback__)


def note_raised_at(exc: BaseException, f) -> None:
    """Add to ``exc`` (an error not sourcegrad's, raised while a derivative of ``f`` ran) a
    note naming the user's ``file:line`` that the innermost frame of generated code in its
    traceback differentiates, unless a note names one already."""
    notes = getattr(exc, "__notes__", ())
    if not hasattr(exc, "add_note") or any(n.startswith(RAISED_IN) for n in notes):
        return
    found = _innermost_generated(
        exc, lambda place: place[0] not in GENERATED_LINES and place[1] is not None
    )
    if found is not None:
        name, line, (file, user_line) = found
        text = linecache.getline(file, user_line).strip()
        exc.add_note(raised_note(name, line, file, user_line, text))


def _innermost_generated(exc: BaseException, wanted) -> tuple | None:
    """``(function name, generated line, (file, line))`` of the innermost frame of generated
    code in ``exc``'s traceback whose user place (the line it differentiates) is ``wanted``."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in GENERATED_LINES:
            place = user_location(code.co_filename, tb.tb_lineno)
            if wanted(place):
                found = code.co_name, tb.tb_lineno, place
        tb = tb.tb_next
    return found


def direction_indices(direction) -> tuple:
    """The argument indices of a :class:`Tower` direction (an index or a tuple of them)."""
    return direction if isinstance(direction, tuple) else (direction,)


def as_indices(wrt) -> tuple:
    """``(indices, whether wrt was a tuple)`` for a ``wrt`` (an index or a tuple of them)."""
    return (tuple(wrt), True) if isinstance(wrt, (tuple, list)) else ((wrt,), False)


def unit_vector(x, k):
    """The ``k``-th unit vector of ``x``'s shape and kind (a float: float64)."""
    dtype = np.result_type(x, np.float64) if isinstance(x, float) else x.dtype
    e = np.zeros(np.size(x), dtype=dtype)
    e[k] = 1.0
    return e.reshape(np.shape(x))


#: what takes nested parameters instead of each function that takes one array
#: why a Hessian, a Hessian-vector product or a Jacobian made by sourcegrad is refused where a
#: function being differentiated calls it (the function it makes carries the text as
#: ``REFUSED_INSIDE``), and what to write instead
INSIDE_WAY_OUT = {
    "hessian": (
        "gradients (sg.grad) are: build the Hessian's rows as gradients of the gradient's "
        "items, `np.stack([sg.grad(df_item)(x, i) for i in range(x.size)])` with `def "
        "df_item(x, i): return sg.grad(f)(x)[i]`"
    ),
    "jacobian": (
        "gradients (sg.grad) are: build the Jacobian's rows as gradients of the items, "
        "`np.stack([sg.grad(f_item)(x, i) for i in range(m)])` with `def f_item(x, i): "
        "return f(x)[i]`"
    ),
}
INSIDE_WAY_OUT["hvp"] = INSIDE_WAY_OUT["hessian"]


def refused_inside(run, kind: str, f) -> None:
    """Mark ``run``, the ``kind`` (hessian, hvp, jacobian) of ``f`` that sourcegrad made, as
    refused where a function being differentiated calls it, with the text saying why."""
    setattr(
        run,
        REFUSED_INSIDE,
        f"`{run.__name__}`, the sg.{kind}() of {getattr(f, '__name__', 'a function')}, is "
        f"called inside a function being differentiated, where it is not differentiated; "
        f"{INSIDE_WAY_OUT[kind]}",
    )


def refuse_rerun(f, runs_again: str = "", draws_only: bool = False) -> None:
    """Refuse a derivative of ``f`` that runs ``f`` again (``runs_again`` says when; by
    default, the reverse derivative of a gradient of ``f`` called inside a function being
    differentiated) where ``f`` does what its second run would show (``draws_only``: where
    it draws from a generator it does not seed)."""
    found = rerun_effect(f)
    if found is None or draws_only and not found[3]:
        return
    what, where, way_out, _ = found
    name = getattr(f, "__name__", "the function")
    runs_again_given = bool(runs_again)  # (else the call's line is named where it is run)
    runs_again = runs_again or (
        f"the gradient of {name}() is called inside a function being differentiated, and "
        f"its derivative runs {name}() a second time to differentiate that gradient"
    )
    place = () if not runs_again_given else _file_line(where)
    raise SourcegradError(
        f"{name}() {what} ({where}): {runs_again}, where Python runs it once; {way_out}", *place
    )


def _file_line(where: str) -> tuple:
    """``(file, line)`` of a place written ``name(), file:line``."""
    filename, _, line = where.split(", ", 1)[-1].rpartition(":")
    return (filename, int(line)) if line.isdigit() else ()


NESTED_WAY_OUT = {
    "hessian": "hvp (any structure: one Hessian-vector product per direction)",
    "jacobian": "vjp or jvp (any structure: one row or column per call)",
}


def array_or_float(x, what: str) -> None:
    """Refuse ``x`` for ``what`` (hessian, jacobian) unless it is an array or a float."""
    if not (isinstance(x, float) or hasattr(x, "shape")):
        raise SourcegradError(
            f"{what}() takes an array or float argument, got {type(x).__name__}; for nested "
            f"parameters use {NESTED_WAY_OUT.get(what, 'hvp (any structure)')}, or make "
            "them one vector with sourcegrad.util.ravel (`flat, unravel = ravel(params)`, "
            "then differentiate `lambda flat: f(unravel(flat), ...)` written as a `def`)"
        )


def narrowed_over(base_tuple: bool, base_wrt: tuple, jv, primal: list, t) -> tuple | None:
    """``(the base's narrowed wrt, the arguments)`` of forward mode ``jv`` (along ``jv.wrt``,
    at ``primal`` with tangents ``t``) over a base, forward mode itself along ``base_wrt``,
    that narrows to the tangents it is given that may be nonzero (its own tangent, the last of
    ``primal``, and the tangent of it in ``t``, narrowed alike), so that each tangent meets
    its own value; else None."""
    *inner, bt = primal
    narrowed = base_tuple and nonzero_tangents(base_wrt, inner, bt)
    if not narrowed:
        return None
    kept = [k for k, i in enumerate(base_wrt) if i in narrowed[0]]
    ts = list(tuple(t) if jv.wrt_tuple else (t,))
    for j, i in enumerate(jv.wrt):
        if i % len(primal) == len(primal) - 1 and ts[j] is not None:
            ts[j] = tuple(ts[j][k] for k in kept)
    return narrowed[0], (*inner, narrowed[1], tuple(ts) if jv.wrt_tuple else ts[0])


def copy_for_check(v):
    if not isinstance(v, GENERATORS + (list, dict, np.ndarray)):
        return v
    try:
        return copy.deepcopy(v)
    except (TypeError, copy.Error):  # (an object that cannot be copied: passed as it is)
        return v


def refuse_non_scalar(t, values) -> None:
    """Refuse a tower of a function whose value at ``values`` (its arguments, then one seed
    per direction) is not a scalar: checked once per argument signature, when it is built."""
    n = len(values) - t.nseeds
    g = t.gradient()
    # a generator passed in draws for this check from a copy, and a list, dict or array the
    # gradient writes back into is changed by the call only (then refused): the call is f's
    primal = tuple(copy_for_check(v) for v in values[:n])
    try:
        value, _ = g.run(g.emitted(primal), primal)
    except NonScalarOutputError as exc:  # a function that returns a tuple, refused by grad
        if "returns a tuple" not in exc.reason:
            raise
        value = ()
    refuse_non_scalar_value(t, value)


def refuse_non_scalar_value(t, value) -> None:
    """Refuse the value ``value`` of the function of tower ``t`` unless it is a scalar."""
    if isinstance(value, tuple) or np.ndim(value) != 0:
        got = "a tuple" if isinstance(value, tuple) else f"an array of shape {np.shape(value)}"
        raise NonScalarOutputError(
            f"{getattr(t.f, '__name__', 'f')}() returned {got}; second derivatives (hvp, "
            "hessian, grad of grad) need a scalar output; for an array-valued function use "
            "sourcegrad.jacobian (or vjp and jvp)",
            *defined_at(t.f),
        )
