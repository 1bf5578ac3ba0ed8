"""Exceptions raised by sourcegrad.

Every refusal is a :class:`SourcegradError` whose message starts with the user's
``file:line`` (when known), names the construct, and says what to do instead.
"""

from __future__ import annotations


class SourcegradError(Exception):
    """Base class of every error sourcegrad raises on purpose."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        self.filename = filename
        self.lineno = lineno
        self.reason = message
        where = f"{filename}:{lineno}: " if filename and lineno else ""
        super().__init__(where + message)


class UnsupportedSyntaxError(SourcegradError):
    """The function uses Python that sourcegrad does not differentiate."""


class NoRuleError(SourcegradError):
    """An active value flows through a function that has no derivative rule."""


class NoSourceError(SourcegradError):
    """The function's source code cannot be found."""


class NonScalarOutputError(SourcegradError):
    """``grad`` was asked to differentiate a function whose output is not a scalar."""


class WrtTypeError(SourcegradError):
    """An argument selected by ``wrt`` cannot be differentiated (integers, bad index)."""


class GradcheckError(SourcegradError):
    """``gradcheck`` found a gradient that disagrees with finite differences."""


class ArgumentError(SourcegradError, TypeError):
    """A derivative was called with arguments that do not fit the function it differentiates
    (too many, too few, an unknown keyword) or without its output gradient or tangent. It is a
    ``TypeError`` too, as Python's own error for such a call is."""


class SeedError(SourcegradError, ValueError):
    """An output gradient (``vjp``) or a tangent (``jvp``, ``hvp``) whose shape or structure
    does not fit the output or the argument it goes with."""


class AuxError(SourcegradError):
    """``has_aux=True``, but the function does not return a pair ``(loss, aux)``."""
