"""Derivative rules. Importing this package registers every built-in rule."""

from . import (  # noqa: F401  (registration)
    arrangements,
    assignment,
    containers,
    elementwise,
    linalg,
    reductions,
    runtime_rules,
    shapes,
)
from .registry import (
    ADJOINTS,
    NONDIFFERENTIABLE,
    PRIMITIVES,
    TANGENTS,
    Rule,
    adjoint,
    d,
    defjvp,
    defvjp,
    lookup,
    lookup_tangent,
    nondifferentiable,
    primitive,
    tangent,
)
from .syntax_keys import ATTRIBUTES, BINOPS, METHODS, UNARYOPS

__all__ = [
    "ADJOINTS",
    "ATTRIBUTES",
    "BINOPS",
    "METHODS",
    "NONDIFFERENTIABLE",
    "Rule",
    "UNARYOPS",
    "PRIMITIVES",
    "TANGENTS",
    "adjoint",
    "d",
    "defjvp",
    "defvjp",
    "lookup_tangent",
    "primitive",
    "tangent",
    "lookup",
    "nondifferentiable",
]
