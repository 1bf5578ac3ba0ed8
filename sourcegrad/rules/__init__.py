"""Derivative rules. Importing this package registers every built-in rule.

One module per family of functions holds, for each function, its reverse rule, its tangent rule
and its declared facts (:mod:`.facts`: rank, shape, dtype, allocation): ``elementwise``,
``reductions``, ``statistics`` (median, quantiles, weighted and NaN-skipping means),
``convolutions``, ``ufunc_methods`` (``np.add.reduce``, ``np.maximum.reduce``, ...), ``linalg``,
``decompositions``, ``shapes``, ``arrangements``, ``assignment``, ``containers``,
``python_numbers`` (``max``, ``min``, ``pow``, ``math``, ``operator``), ``interpolation``
(``interp``, ``polyval``, ``vander``, ``trapezoid``, ``gradient``, ``partition``),
``least_squares`` (``np.linalg.lstsq``), ``padding`` (``np.pad``), ``scipy_special``,
``scipy_stats`` (the distributions of ``scipy.stats``, hooked by ``scipy_special``) and
``scipy_linalg`` (register nothing where scipy does not import). ``runtime_rules`` makes the
tangent rules of the runtime helpers from the facts they declare
(:mod:`sourcegrad.runtime.facts`). Adding a NumPy function is a change to its family module.
"""

from . import (  # noqa: F401  (registration)
    arrangements,
    assignment,
    containers,
    convolutions,
    decompositions,
    elementwise,
    interpolation,
    least_squares,
    linalg,
    padding,
    python_numbers,
    reductions,
    runtime_rules,
    scipy_linalg,
    scipy_special,
    shapes,
    statistics,
    ufunc_methods,
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
    not_differentiated,
    primitive,
    tangent,
)
from .syntax_keys import ATTRIBUTES, BINOPS, METHODS, UNARYOPS, subscript_key

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
    "not_differentiated",
    "subscript_key",
]
