"""The names of generated derivative functions, as ``show`` and an export print them."""

from __future__ import annotations


def derivative_name(prefix: str, fn, fallback: str = "f") -> str:
    """``{prefix}_{name}`` for the function ``fn``: a method is named with its class
    (``vjp_Linear_call`` for ``Linear.__call__``, ``vjp_Model_forward``), so the derivatives of
    two classes' ``__call__`` are told apart; ``fallback`` where ``fn`` has no such name."""
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        return f"{prefix}_{fallback}"
    qualname = getattr(fn, "__qualname__", "") or ""
    owner, _, method = qualname.rpartition(".<locals>.")[2].rpartition(".")
    if owner.isidentifier() and method == name:
        name = f"{owner}_{name.strip('_') or name}"
    return f"{prefix}_{name}"
