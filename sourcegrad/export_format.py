"""Black's text of an exported module, formatted part by part.

An export is a header, imports and many top-level parts (derivatives, copied runtime helpers,
copied classes), and most parts recur from one export to the next. Black formats top-level
statements independently of each other except for the blank lines between them, and it keeps
the two blank lines the parts are joined with; so each part is formatted once (and remembered
by its text), and black's texts of the parts are joined with two blank lines.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .export_text import LINE_LENGTH

__all__ = ["formatted_module"]

#: (line length, part's text) -> black's text of it, the FORMATTED_KEPT most recently asked for
_FORMATTED: OrderedDict = OrderedDict()
_FORMATTED_LOCK = threading.Lock()
FORMATTED_KEPT = 1024


def formatted_module(parts: list[str]) -> str:
    """The text black gives for the module made of ``parts`` (each a whole number of top-level
    statements) joined by two blank lines: each part formatted alone, then joined."""
    return "\n\n".join(_formatted(p) for p in parts if p.strip())


def _formatted(text: str) -> str:
    key = (LINE_LENGTH, text)
    with _FORMATTED_LOCK:
        got = _FORMATTED.get(key)
        if got is not None:
            _FORMATTED.move_to_end(key)
            return got
    import black  # only where a module is written: `import sourcegrad` stays light

    # every export starts `from __future__ import annotations`, from which black infers the
    # versions it formats the whole module for; a part alone shows it nothing to infer from
    since_3_7 = {v for v in black.TargetVersion if v.value >= black.TargetVersion.PY37.value}
    mode = black.Mode(line_length=LINE_LENGTH, target_versions=since_3_7)
    got = black.format_str(text, mode=mode)
    with _FORMATTED_LOCK:
        _FORMATTED[key] = got
        while len(_FORMATTED) > FORMATTED_KEPT:
            _FORMATTED.popitem(last=False)
    return got
