"""The header of an export (:mod:`sourcegrad.export`): what it differentiates, for which
argument signature, made by which sourcegrad, and the sha256 of the source it was made from,
with which :func:`is_stale` tells an export made from other source."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import textwrap
from collections.abc import Callable, Sequence

from .derivative import Transformed
from .export_text import LINE_LENGTH, describe_value
from .version import __version__

__all__ = ["header", "is_stale", "source_digest"]

_DIGEST_LINE = re.compile(r"^# source sha256: ([0-9a-f]{64}) of (.*)$", re.M)


def source_digest(functions: Sequence[Callable]) -> str:
    """sha256 of the source of ``functions`` (in order): what an export's header records,
    so that a changed function makes its export stale."""
    h = hashlib.sha256()
    for fn in functions:
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):
            h.update(repr(fn).encode())
        h.update(b"\0")
    return h.hexdigest()


def is_stale(export_text_or_path: str | os.PathLike, f: Callable) -> bool:
    """Whether an export (its text, or the path of its file) was made from other source than
    ``f`` and the helpers it names have now (or records no digest)."""
    text = str(export_text_or_path)
    if "\n" not in text and os.path.exists(text):
        with open(text, encoding="utf-8") as file:
            text = file.read()
    found = _DIGEST_LINE.search(text)
    if found is None:
        return True
    names = [n.strip() for n in found.group(2).split(",")]
    functions = [f]
    for name in names[1:]:
        fn = getattr(f, "__globals__", {}).get(name)
        if fn is None:
            return True
        functions.append(fn)
    return source_digest(functions) != found.group(1)


def header(f, df: Transformed, args: tuple, functions: list, public: str, order: int = 1) -> str:
    code = f.__code__
    params = code.co_varnames[: code.co_argcount]
    wrt = ", ".join(params[i] if 0 <= i < len(params) else str(i) for i in df.wrt)
    version = __version__
    call = ", ".join(params)
    wrt_arg = df.wrt if df.wrt_tuple else df.wrt[0]
    if order == 2:
        what = (
            f"{public}({call}, v) returns the Hessian of {f.__name__} with respect to {wrt} "
            f"times v, as sourcegrad.hvp({f.__name__}, wrt={wrt_arg}) does."
        )
    elif order > 2:
        what = (
            f"{public}({call}, v) returns the derivative of order {order} of {f.__name__} with "
            f"respect to {wrt} applied {order - 1} times to v (the gradient of the "
            f"{order - 1}-th derivative of {f.__name__} along v): forward mode {order - 1} "
            f"times over the gradient, as sourcegrad.hvp({f.__name__}, wrt={wrt_arg}) is for "
            "order 2."
        )
    elif df.mode == "grad":
        what = (
            f"{public}({call}) returns ({f.__name__}({call}), its gradient with respect to "
            f"{wrt}), as sourcegrad.value_and_grad({f.__name__}, wrt={wrt_arg}) does."
        )
    else:
        what = (
            f"{public}({call}, t_in) returns ({f.__name__}({call}), its derivative along the "
            f"tangent t_in of {wrt}), as sourcegrad.jvp({f.__name__}, wrt={wrt_arg}) does."
        )
    paragraphs = [
        what,
        "It is the code sourcegrad runs (optimized, specialised to the shapes) for arguments "
        "of this signature, and only for them: other shapes or dtypes need another export.",
    ]
    lines = [f'"""The derivative of {f.__name__}, exported by sourcegrad {version}."""', ""]
    # a line of its own, never wrapped: the words after a path do not move with its length
    lines.append(
        f"# Made by sourcegrad.export from {f.__qualname__} in {code.co_filename}, line "
        f"{code.co_firstlineno}."
    )
    for text in paragraphs:
        lines += textwrap.wrap(text, LINE_LENGTH - 2, initial_indent="# ", subsequent_indent="# ")
    lines += [f"#   {p}: {describe_value(a)}" for p, a in zip(params + ("*",) * len(args), args)]
    functions = _by_name(functions)
    names = ", ".join(fn.__name__ for fn in functions)
    lines.append(f"# source sha256: {source_digest(functions)} of {names}")
    return "\n".join(lines) + "\n"


def _by_name(functions: list) -> list:
    """``functions`` (the first, the function exported, kept as it is), each replaced by the
    global of the exported function's module that holds its source (:func:`is_stale` finds
    it by name): a method by its class, a plain class's maker by the class, a function or
    class defined in a function by that function; once each, those it cannot name left out."""
    out = functions[:1]
    names = getattr(out[0], "__globals__", {}) if out else {}
    for fn in functions[1:]:
        made = getattr(fn, "__sourcegrad_makes__", None)
        fn = made[0] if made is not None else fn
        top = names.get(getattr(fn, "__qualname__", "").split(".")[0])
        if top is not None and top not in out and inspect.getmodule(top) is inspect.getmodule(fn):
            out.append(top)
    return out
