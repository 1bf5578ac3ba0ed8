"""Derivative rules. Importing this package registers every built-in rule."""

from . import assignment, elementwise, linalg, reductions, shapes  # noqa: F401  (registration)
from .registry import ADJOINTS, NONDIFFERENTIABLE, Rule, adjoint, defvjp, lookup, nondifferentiable
from .syntax_keys import ATTRIBUTES, BINOPS, METHODS, UNARYOPS

__all__ = [
    "ADJOINTS",
    "ATTRIBUTES",
    "BINOPS",
    "METHODS",
    "NONDIFFERENTIABLE",
    "Rule",
    "UNARYOPS",
    "adjoint",
    "defvjp",
    "lookup",
    "nondifferentiable",
]
