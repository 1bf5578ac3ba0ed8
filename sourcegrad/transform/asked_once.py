"""One question about the names of a function asked once per name: the answer for a name
reached again along another path is read, not computed again."""

from __future__ import annotations

import threading

__all__ = ["cut_short", "remembered"]

#: while one question about a name's class is asked: what is known of the names reached, and
#: how many times a name was not followed again (a loop leading back to it)
_ASKING = threading.local()


def remembered(key, compute):
    """``compute()`` once per name in one question: a name reached again along another path
    reads its answer, kept only where no loop was cut short while it was computed (an answer
    cut short holds for that path alone). Without it, names reached along many paths made
    one question exponential in the function's length."""
    memo = getattr(_ASKING, "memo", None)
    top = memo is None
    if top:
        memo = _ASKING.memo = {}
        _ASKING.cuts = 0
    try:
        if key in memo:
            return memo[key]
        cuts = _ASKING.cuts
        found = compute()
        if _ASKING.cuts == cuts:
            memo[key] = found
        return found
    finally:
        if top:
            _ASKING.memo = None


def cut_short() -> None:
    """Say that the question in progress met a name it was already asking about (a loop)."""
    _ASKING.cuts = getattr(_ASKING, "cuts", 0) + 1
