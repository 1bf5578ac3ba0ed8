"""Exceptions raised by sourcegrad.

Every refusal is a :class:`SourcegradError` whose message starts with the user's
``file:line`` (when known), names the construct, and says what to do instead.
"""

from __future__ import annotations

#: the attribute of a function sourcegrad made (``sg.hessian(f)``, ``sg.jacobian(f)``,
#: ``sg.hvp(f)``) holding why a function being differentiated may not call it: the reason of
#: the refusal, placed at the user's line that calls it
REFUSED_INSIDE = "sourcegrad_refused_inside"

#: generated code's file name -> (the user's file, {line of the generated file: user's line})
GENERATED_LINES: dict = {}


def register_generated(filename: str, user_file: str, line_map: dict) -> None:
    """Record where the lines of the generated file ``filename`` come from, so that a refusal
    met in generated code (a nested ``def`` transformed while the derivative runs, code
    transformed again for a higher order) names the user's line."""
    if len(GENERATED_LINES) > 20000:  # a bound: the oldest maps are the least likely read
        GENERATED_LINES.clear()
    GENERATED_LINES[filename] = (user_file, line_map)


def user_location(filename: str | None, lineno: int | None) -> tuple:
    """``(filename, lineno)``, or the user's file and line where they are in generated code."""
    found = GENERATED_LINES.get(filename) if filename else None
    if found is None or lineno is None:
        return filename, lineno
    user_file, line_map = found
    before = [k for k in line_map if k <= lineno]
    if not before:
        return filename, lineno
    return user_location(user_file, line_map[max(before)])


class SourcegradError(Exception):
    """Base class of every error sourcegrad raises on purpose."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None):
        filename, lineno = user_location(filename, lineno)
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
