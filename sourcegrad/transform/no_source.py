"""Why an object handed to be differentiated has no source to transform (part of parse): a
library's function (``np.sum`` itself), a ``functools.partial`` of one, a bound method of a
class without source, or another object. Plain functions, bound methods, partials of plain
functions and objects whose class defines ``__call__`` are unwrapped before parse
(``sourcegrad/packing.py``); what reaches here is refused."""

from __future__ import annotations

import functools
import types

from ..errors import NoSourceError, SourcegradError, UnsupportedSyntaxError


def no_source_refusal(fn) -> SourcegradError:
    """The refusal of parsing ``fn``, which is no plain Python function."""
    if isinstance(fn, types.MethodType):
        return UnsupportedSyntaxError(
            "bound methods are not transformed yet; differentiate a plain function that takes "
            "the object's arrays as arguments",
            *_defined_at(fn.__func__),
        )
    if isinstance(fn, functools.partial):
        name = getattr(fn.func, "__name__", "the function")
        return NoSourceError(
            f"a functools.partial of {name} is differentiated; differentiate {name} itself "
            f"and pass the bound values when you call the derivative (sg.grad({name})(params, "
            "x, y) in place of sg.grad(partial(" + name + ", x=x, y=y))(params)), or wrap the "
            "call in a function defined with `def`",
            *_defined_at(fn.func),
        )
    name = getattr(fn, "__qualname__", None) or f"a {type(fn).__qualname__} object"
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if module in ("numpy", "scipy", "math"):
        name = f"{'np' if module == 'numpy' else module}.{name}"
        return NoSourceError(
            f"`{name}` is a library function, not one of yours, so it has no source to "
            f"transform; differentiate a function that calls it "
            f"(`sourcegrad.grad(lambda x: {name}(x))`)"
        )
    return NoSourceError(
        f"`{name}` is not a Python function, so it has no source to transform; pass a "
        "function defined with `def`, or register a rule for it with sourcegrad.defvjp"
    )


def _defined_at(fn) -> tuple:
    """``(filename, line)`` of a function's ``def``, or ``(None, None)``."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else (None, None)
