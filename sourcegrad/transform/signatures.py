"""The parameters of a library function (a NumPy function or ufunc method), by name and kind.

``inspect.signature`` reads a builtin's ``__text_signature__`` with :mod:`tokenize`, whose
patterns are compiled on first use: about 6 ms, paid by the first optimized build of a
process. Here such a text is parsed as a ``def`` by :func:`ast.parse` instead (microseconds),
with the same names, kinds and order; anything else goes through ``inspect.signature``.
"""

from __future__ import annotations

import ast
import functools
import inspect

_KINDS = inspect.Parameter


@functools.cache
def parameters(fn) -> tuple | None:
    """``((name, kind), ...)`` of ``fn``'s parameters in order (``kind`` an
    ``inspect.Parameter`` kind), as ``inspect.signature(fn)`` gives them; None where its
    signature cannot be read (not callable, no signature known)."""
    text = getattr(fn, "__text_signature__", None)
    if isinstance(text, str) and "$" not in text:  # a bound first parameter: inspect's rules
        got = _from_text(text)
        if got is not None:
            return got
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return tuple((p.name, p.kind) for p in sig.parameters.values())


def _from_text(text: str) -> tuple | None:
    """The parameters of a ``__text_signature__`` such as ``"(a, /, b=None, *, c=1)"``, or
    None where it does not parse as the parameters of a ``def``."""
    try:
        args = ast.parse(f"def f{text}: pass").body[0].args
    except (SyntaxError, ValueError, IndexError, AttributeError):
        return None
    out = [(a.arg, _KINDS.POSITIONAL_ONLY) for a in args.posonlyargs]
    out += [(a.arg, _KINDS.POSITIONAL_OR_KEYWORD) for a in args.args]
    if args.vararg is not None:
        out.append((args.vararg.arg, _KINDS.VAR_POSITIONAL))
    out += [(a.arg, _KINDS.KEYWORD_ONLY) for a in args.kwonlyargs]
    if args.kwarg is not None:
        out.append((args.kwarg.arg, _KINDS.VAR_KEYWORD))
    return tuple(out)
