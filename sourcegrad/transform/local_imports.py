"""Imports in the body of the user's function (``from scipy.special import gammaln`` as its
first line), part of the parse pass.

Python binds the name when the statement runs, to the same module or function every time.
:func:`imports_as_closure` runs such an import when the function is parsed and hands the
name over as a closure variable holding what it binds, so that calls through it resolve to
their rules (or to the user's source) as a module-level import would; the statement is
dropped from the tree. An import in a branch or loop, a starred import, one whose name the
function binds again or reads before it stays in the tree (and is refused by the lowering,
with its way out).
"""

from __future__ import annotations

import importlib
import types

import gast

from . import syntax as S

__all__ = ["imports_as_closure"]


def imports_as_closure(node: gast.FunctionDef, fn, closure: dict) -> None:
    """Drop the imports at the top level of ``node``'s body (``fn``'s tree), adding each
    name they bind to ``closure`` (name -> cell) holding what Python binds it to."""
    package = fn.__globals__.get("__package__")
    body: list = []
    for stmt in node.body:
        bound = None
        if isinstance(stmt, (gast.Import, gast.ImportFrom)):
            bound = _bindings(stmt, package)
        read_before = {n.id for s in body for n in S.name_nodes(s)}  # (Python: unbound)
        if not bound or set(bound) & read_before or _bound_elsewhere(node, stmt, set(bound)):
            body.append(stmt)
            continue
        for name, value in bound.items():
            closure[name] = types.CellType(value)
    node.body = body or node.body


def _bindings(stmt, package) -> dict | None:
    """``{name: object}`` that ``stmt`` binds, or None where it cannot be run here."""
    out = {}
    try:
        for alias in stmt.names:
            if alias.name == "*":
                return None
            if isinstance(stmt, gast.Import):
                module = importlib.import_module(alias.name)
                if alias.asname:
                    out[alias.asname] = module
                else:
                    out[alias.name.split(".")[0]] = importlib.import_module(
                        alias.name.split(".")[0]
                    )
                continue
            dots = "." * (stmt.level or 0)
            module = importlib.import_module(dots + (stmt.module or ""), package)
            value = getattr(module, alias.name, None)
            if value is None:
                value = importlib.import_module(f"{module.__name__}.{alias.name}")
            out[alias.asname or alias.name] = value
    except (ImportError, TypeError, ValueError):
        return None
    return out


def _bound_elsewhere(node, stmt, names: set) -> bool:
    """Whether a statement of ``node`` other than ``stmt`` binds one of ``names``."""
    return any(
        other is not stmt
        and (
            names & S.bound_names(other)
            or isinstance(other, (gast.Import, gast.ImportFrom))
            and names & {a.asname or a.name.split(".")[0] for a in other.names}
        )
        for other in S.walk(node)
        if isinstance(other, gast.stmt) and other is not node
    )
