"""Which derivatives of function values an export writes, and under which key.

Generated code resolves a call of a function *value* when it runs (``vjp_of(layer, wrt)``):
the export's tables hold each build under a key its own ``vjp_of`` finds again
(:func:`function_key`). What an export cannot write that way is refused here, naming the
user's function and line (:func:`named`) and the way out.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Callable
from typing import Any

from .derivative import Transformed
from .disk_cache import is_generated
from .export_objects import is_user_class
from .export_source import ExportError, numpy_alias
from .higher import GradientVjp, Jvp, NestedGrad
from .transform.parse import PACKS


def where_defined(f) -> str:
    """``file:line`` of the function ``f``."""
    code = getattr(f, "__code__", None)
    return f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}" if code else "?"


def named(fn, user) -> str:
    """How a message names the function value ``fn``: its name and ``file:line``, those of
    the user's source where generated code defines it (a lambda or nested ``def`` of the
    user's function ``user``, the function exported, or sourcegrad's call of a NumPy function
    or a class there)."""
    code = fn.__code__
    if not (code.co_filename.startswith("<") or is_generated(code.co_filename)):
        return f"{fn.__qualname__} ({where_defined(fn)})"
    applied = _APPLIER.match(code.co_filename)  # np.sin or a class, called as a value
    if applied is not None:
        return f"a call of {applied.group(1)} in {user.__qualname__} ({where_defined(user)})"
    here = os.path.basename(user.__code__.co_filename)
    stack = [user.__code__]
    while stack:
        inner = stack.pop()
        if inner.co_name == code.co_name and inner is not user.__code__:
            return f"the {code.co_name} in {user.__qualname__} ({here}:{inner.co_firstlineno})"
        stack += [c for c in inner.co_consts if isinstance(c, types.CodeType)]
    return f"the {code.co_name} in {user.__qualname__} ({where_defined(user)})"


_APPLIER = re.compile(r"^<sourcegrad call of (\S+) #\d+>$")


def function_key(fn: types.FunctionType, local: Callable, user: Callable, copied: Callable) -> str:
    """Source for the key under which the export finds ``fn``'s builds: a NumPy function
    with a rule or a class of the user's (called through sourcegrad's applier: a
    classmethod's ``cls(...)``; ``copied(cls)`` names the export's copy), the code object of
    a function the export defines (``local(code)`` finds it, or None), or ``(module,
    qualified name)``; the packed form of a function taking ``*args`` or ``**kwargs`` by
    that function's (``user``: the function exported, where a refusal points)."""
    found = _APPLIER.match(fn.__code__.co_filename)
    if found is not None:
        target = fn.__globals__.get(found.group(1))
        if isinstance(target, type) and is_user_class(target):
            return copied(target)
        alias = numpy_alias(target)
        if alias is None and isinstance(target, types.FunctionType):
            raise ExportError(
                f"a functools.partial of {named(target, user)} is called as a function value, "
                "which an export does not write yet (sourcegrad differentiates it through a "
                "function it makes while the code runs): call a lambda that calls "
                f"{target.__name__} with the bound arguments written out instead"
            )
        if alias is None:
            raise ExportError(
                f"{target!r} is called as a function value with its derivative rule; an "
                "export writes the rules of NumPy's functions only"
            )
        return alias
    fn = unpacked(fn)  # one taking *args, **kwargs: the export packs them as sourcegrad does
    local_key = local(fn.__code__)
    if local_key is not None:
        return local_key
    return repr((fn.__module__, fn.__qualname__))


def unpacked(fn: types.FunctionType) -> types.FunctionType:
    """The function taking ``*args`` or ``**kwargs`` whose packed form
    (:func:`~sourcegrad.transform.parse.packed`) ``fn`` is; else ``fn`` itself."""
    return getattr(fn, PACKS, fn)


def check_jvp_base(jv: Jvp, user: Callable) -> Any:
    """The derivative that the forward mode ``jv`` transforms: a helper's or a function
    value's vjp or jvp, a gradient taken while the function runs or its vjp, or forward
    mode over one (order 3 and up); refused for any other
    (``user``: the function exported, where the message points)."""
    base = jv.base
    if isinstance(base, Jvp):
        check_jvp_base(base, user)
        return base
    if isinstance(base, (GradientVjp, NestedGrad)) or (
        isinstance(base, Transformed) and base.mode == "grad"
    ):
        return base  # a gradient (of a gradient) taken while the function runs, or its vjp
    if isinstance(base, Transformed) and base.mode in ("vjp", "jvp") and not base.bound_self:
        return base
    what = getattr(base, "__name__", repr(base))
    raise ExportError(
        f"forward mode over {what} (a derivative taken while the code runs, at order 2 and up: "
        "of a function value, a method, or a gradient called inside the function) is not "
        "written by an export; export order=1 (the gradient) or mode='forward', or call a "
        "module-level function by its name for a higher-order export"
    )


def check_function_value(t: Transformed, user: Callable) -> None:
    """Refuse the derivative ``t`` of a function value where an export cannot write it
    (``user``: the function exported, where the message points)."""
    if (
        t.mode not in ("vjp", "jvp")
        or t.bound_self
        or not t.wrt
        or (t.mode == "vjp" and t.with_value)
    ):
        raise ExportError(
            f"the {t.mode} of the function value {named(t.f, user)}: an "
            "export writes the vjps and jvps of function values (a lambda, a nested def, a "
            "layer object), and no other derivative of them; call a module-level function by "
            "its name"
        )
