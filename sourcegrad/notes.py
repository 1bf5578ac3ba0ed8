"""What a derivative says when a call goes wrong.

A call of a derivative that does not fit (arguments, a seed, a non-scalar loss, an output
``has_aux`` does not match) is refused with a :class:`~sourcegrad.errors.SourcegradError` that
names the user's function and line; an exception raised inside generated code gets a note
naming the line of the user's code it differentiates. Each function here takes the derivative
object ``d`` (a :class:`sourcegrad.derivative.Transformed`), reading its public attributes
``f``, ``__name__``, ``mode``, ``wrt``, ``has_aux``, ``checked`` and ``parsed()``.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from .arguments import is_complex, seed_problem, split_args
from .errors import ArgumentError, AuxError, NonScalarOutputError, SeedError, SourcegradError
from .pipeline import Emitted, made_here

#: what a derivative takes after the function's arguments, by mode
_THEN = {"grad": "", "vjp": ", then the output gradient", "jvp": ", then the tangent"}


def argument_error(d: Any, problem: str) -> ArgumentError:
    """The error for a call of ``d`` whose arguments do not fit: Python's ``problem`` with
    what ``d`` takes."""
    name = getattr(d.f, "__name__", "f")
    return ArgumentError(
        f"{problem} ({d.__name__}, made by sourcegrad, takes the arguments of "
        f"{name}(){_THEN[d.mode]})"
    )


def check_seed(d: Any, out: Any, g_out: Any) -> None:
    """Refuse an output gradient ``g_out`` that does not fit the output ``out`` of ``d.f``."""
    if (
        type(g_out) is np.ndarray
        and type(out) is np.ndarray
        and g_out.shape == out.shape
        and (g_out.dtype.kind != "c" or out.dtype.kind == "c")
    ):
        return
    problem = seed_problem(out, g_out, f"the output of {d.f.__name__}()", exact=False)
    if problem is not None:
        raise SeedError(f"{d.__name__}(): {problem}")


def seeded_run(d: Any, entry: Emitted, args: tuple, g_out: Any) -> Any:
    """``d.run`` of the vjp ``d`` with the output gradient ``g_out``, checked (where ``d`` is)
    against the output: a complex ``g_out`` of a real output is refused by the
    :class:`~sourcegrad.errors.SeedError` alone, without the ``ComplexWarning`` of the run
    that casts it (the run's warnings are given again where the seed fits)."""
    if not (d.checked and _holds_complex(g_out)):
        out = d.run(entry, args, g_out=g_out)
        if d.checked:
            check_seed(d, out[0], g_out)
        return out
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = d.run(entry, args, g_out=g_out)
    check_seed(d, out[0], g_out)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return out


def _holds_complex(t: Any) -> bool:
    if isinstance(t, dict):
        return any(_holds_complex(v) for v in t.values())
    if isinstance(t, (list, tuple)):
        return any(_holds_complex(v) for v in t)
    return is_complex(t)


def check_tangents(d: Any, args: tuple, tangents: Any) -> None:
    """Refuse tangents that are not shaped like the arguments (``d.wrt``) they go with."""
    names = getattr(getattr(d.f, "__code__", None), "co_varnames", ())
    for i, t in zip(d.wrt, tangents):
        x = args[i]
        if (
            type(t) is np.ndarray
            and type(x) is np.ndarray
            and t.shape == x.shape
            and (t.dtype.kind != "c" or x.dtype.kind == "c")
        ):
            continue
        name = names[i] if -len(names) <= i < len(names) else f"argument {i}"
        problem = seed_problem(x, t, name, exact=True)
        if problem is not None:
            raise SeedError(f"{d.__name__}(): {problem}")


def check_aux(d: Any, out: Any) -> None:
    """Refuse an output that is not the pair ``(loss, aux)`` ``has_aux=True`` asks for."""
    if isinstance(out, tuple) and len(out) == 2:
        return
    parsed = d.parsed()
    got = f"a tuple of {len(out)} values" if isinstance(out, tuple) else type(out).__name__
    raise AuxError(
        f"{parsed.node.name}() returned {got}; with has_aux=True it must return a pair "
        "(loss, aux): put several auxiliary values in one tuple, or leave has_aux out "
        "for a function that returns the loss alone",
        parsed.filename,
        parsed.node.body[-1].lineno,
    )


def non_scalar(d: Any, loss: Any) -> None:
    """Refuse the loss ``loss`` of a gradient: it is a tuple or an array, not a scalar."""
    parsed = d.parsed()
    if isinstance(loss, tuple):
        raise NonScalarOutputError(
            f"{parsed.node.name}() returned a tuple; grad needs a scalar. If the extra "
            "values are auxiliary outputs pass has_aux=True; for several outputs use vjp",
            parsed.filename,
            parsed.node.body[-1].lineno,
        )
    raise NonScalarOutputError(
        f"{parsed.node.name}() returned an array of shape {np.shape(loss)}; grad needs a "
        "scalar output (reduce it, e.g. with np.sum), or use sourcegrad.vjp for an "
        "array-valued function",
        parsed.filename,
        parsed.node.body[-1].lineno,
    )


def _at_the_call(exc: BaseException) -> bool:
    """Whether ``exc``, caught where a generated function is called, was raised binding the
    call's arguments: no frame of generated or user code below the one that caught it."""
    tb = exc.__traceback__
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        if not made_here(tb.tb_frame.f_code):  # the scalar-gradient wrapper is the pipeline's
            return False
        tb = tb.tb_next
    return True


def callee_binding_error(d: Any, exc: BaseException) -> TypeError | None:
    """Python's ``TypeError`` for a call of the user's function ``d.f`` whose arguments do not
    bind (``exc``, raised binding them to a half of ``d``'s build, which takes ``d.f``'s
    arguments), as calling ``d.f`` itself raises it; None where ``exc`` is not that."""
    if not (isinstance(exc, TypeError) and _at_the_call(exc)):
        return None
    name = getattr(d.f, "__qualname__", "f")
    return TypeError(re.sub(r"^[\w.<>]+\(\)", f"{name}()", str(exc), count=1))


def refuse_seed(d: Any, args: tuple, g_out: Any) -> None:
    """Raise the :class:`~sourcegrad.errors.SeedError` for an output gradient ``g_out`` that
    does not fit what the vjp ``d``'s function returns at ``args``; nothing where it fits (or
    where the function fails by itself)."""
    _refuse_what_f_does(d, args, g_out)


def _refuse_what_f_does(d: Any, args: tuple, g_out: Any) -> None:
    """Run ``d.f`` at ``args`` and refuse what it returns where the call of ``d`` cannot take
    it (a non-scalar loss, a mis-shaped output gradient); nothing where ``f`` fails itself."""
    try:
        pos, kwonly = split_args(d.f, args)
        out = d.f(*pos, **kwonly)
    except Exception:  # noqa: BLE001 - the user's function fails by itself: keep exc
        return
    if d.mode == "vjp":
        check_seed(d, out, g_out)
        return
    if d.has_aux:
        check_aux(d, out)
    loss = out[0] if d.has_aux else out
    if not isinstance(loss, tuple) and np.ndim(loss) != 0:
        non_scalar(d, loss)


def _user_line(d: Any, exc: BaseException, entry: Emitted) -> tuple[int | None, int | None]:
    """``(generated line, user line)`` of the innermost frame of ``entry``'s generated code
    in ``exc``'s traceback (None where none is)."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == entry.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line, (entry.line_map.get(line) if line is not None else None)


def refuse_located(d: Any, exc: SourcegradError, entry: Emitted) -> None:
    """Raise ``exc``, raised inside ``entry``'s generated code without a place, as the same
    error starting with the user's ``file:line`` it differentiates; return where ``exc`` has
    a place already or no line of the user's is known (the caller re-raises it)."""
    if exc.lineno is not None and exc.filename is not None:
        return
    _, user_line = _user_line(d, exc, entry)
    if exc.lineno is not None:  # a line of the user's function, given without its file
        user_line = exc.lineno
    if user_line is None:  # a line of the derivative's own (its return): the function's
        user_line = d.parsed().node.lineno
    if user_line is not None:
        place = type(exc)(exc.reason, d.parsed().filename, user_line)
        raise place.with_traceback(exc.__traceback__) from None


def explain(d: Any, exc: BaseException, entry: Emitted, args: tuple, g_out: Any = None) -> None:
    """Explain ``exc``, raised calling ``entry`` (a build of ``d``) with ``args``: raise the
    error that says what does not fit where the call does not (arguments, output, seed);
    else add a note naming the user's line that the failing generated line differentiates
    (the caller re-raises ``exc``)."""
    if isinstance(exc, TypeError) and _at_the_call(exc):  # the call itself does not fit
        problem = re.sub(r"^[\w.<>]+\(\)", f"{d.f.__qualname__}()", str(exc), count=1)
        raise argument_error(d, problem) from None
    if d.mode == "grad" or (d.mode == "vjp" and d.checked):
        _refuse_what_f_does(d, args, g_out)
    line, user_line = _user_line(d, exc, entry)
    if line is None or not hasattr(exc, "add_note"):
        return
    parsed = d.parsed()
    if user_line is None:  # a line of the derivative's own (its return): the function's
        user_line = parsed.node.lineno
    text = parsed.line_text(user_line)
    exc.add_note(raised_note(entry.name, line, parsed.filename, user_line, text))


#: how a note naming the user's line that generated code differentiates begins
RAISED_IN = "sourcegrad: raised in generated"


def raised_note(name: str, line: int, filename: str, user_line: int, text: str) -> str:
    """The note for an error raised at ``line`` of the generated function ``name``, which
    differentiates ``filename:user_line`` (whose source is ``text``)."""
    return (
        f"{RAISED_IN} {name} (line {line - 1}), which differentiates {filename}:{user_line}: {text}"
    )
