"""sourcegrad: differentiate NumPy functions by rewriting their source.

``grad(f)`` reads ``f``'s source and emits a new Python function that computes the gradient:
plain NumPy code that can be printed (``source``), reviewed and run at hand-written speed.
"""

from . import loss, model, nn, optim, parallel, util  # noqa: E402  (the library, on the API)
from .api import Transformed, export, grad, jvp, show, source, value_and_grad, vjp
from .check import gradcheck
from .errors import (
    ArgumentError,
    AuxError,
    GradcheckError,
    NonScalarOutputError,
    NoRuleError,
    NoSourceError,
    SeedError,
    SourcegradError,
    UnsupportedSyntaxError,
    WrtTypeError,
)
from .higher.entries import hessian, hvp, jacobian
from .rules import adjoint, defjvp, defvjp, nondifferentiable, primitive, tangent
from .version import __version__ as __version__

__all__ = [
    "ArgumentError",
    "AuxError",
    "GradcheckError",
    "NoRuleError",
    "NoSourceError",
    "NonScalarOutputError",
    "SeedError",
    "SourcegradError",
    "Transformed",
    "UnsupportedSyntaxError",
    "WrtTypeError",
    "adjoint",
    "defjvp",
    "defvjp",
    "export",
    "gradcheck",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "loss",
    "model",
    "nn",
    "nondifferentiable",
    "optim",
    "parallel",
    "primitive",
    "show",
    "source",
    "tangent",
    "util",
    "value_and_grad",
    "vjp",
]
