"""Exceptions raised by sourcegrad.

Every refusal is a :class:`SourcegradError` whose message starts with the user's
``file:line`` (when known), names the construct, and says what to do instead.
"""

from __future__ import annotations

import weakref

#: the attribute of a function sourcegrad made (``sg.hessian(f)``, ``sg.jacobian(f)``,
#: ``sg.hvp(f)``) holding why a function being differentiated may not call it: the reason of
#: the refusal, placed at the user's line that calls it
REFUSED_INSIDE = "sourcegrad_refused_inside"

#: generated code's file name -> (the user's file, {line of the generated file: user's line}),
#: the most recently registered last
GENERATED_LINES: dict = {}
#: generated code's file name -> a weak reference to the function running that code
_OWNERS: dict = {}
#: how many maps :data:`GENERATED_LINES` holds before those of dead code are dropped
MAX_GENERATED_MAPS = 20000
#: the size past which the next registration drops dead maps (raised while most are live)
_limit = MAX_GENERATED_MAPS


def register_generated(filename: str, user_file: str, line_map: dict, owner=None) -> None:
    """Record where the lines of the generated file ``filename`` come from, so that a refusal
    met in generated code (a nested ``def`` transformed while the derivative runs, code
    transformed again for a higher order) names the user's line. ``owner``, the function that
    runs the code, keeps the map: past the bound only maps whose owner is gone (or that have
    none) are dropped, the oldest first, so a derivative still held names its lines."""
    GENERATED_LINES.pop(filename, None)
    GENERATED_LINES[filename] = (user_file, line_map)
    _OWNERS.pop(filename, None)
    if owner is not None:
        _OWNERS[filename] = weakref.ref(owner)
    if len(GENERATED_LINES) > _limit:
        _drop_dead_maps()


def _drop_dead_maps() -> None:
    global _limit
    for name in list(GENERATED_LINES):
        if len(GENERATED_LINES) <= MAX_GENERATED_MAPS // 2:
            break
        ref = _OWNERS.get(name)
        if ref is None or ref() is None:
            del GENERATED_LINES[name]
            _OWNERS.pop(name, None)
    _limit = max(MAX_GENERATED_MAPS, 2 * len(GENERATED_LINES))


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
