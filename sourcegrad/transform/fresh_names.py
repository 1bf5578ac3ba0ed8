"""Fresh identifiers for the names the passes add to a function (shared by the passes)."""

from __future__ import annotations

import keyword


class NameGen:
    """Fresh identifiers that collide with nothing the function or the runtime uses."""

    def __init__(self, reserved):
        self.taken = set(reserved)

    def reserve(self, ident: str) -> None:
        self.taken.add(ident)

    def fresh(self, base: str, always_suffix: bool = False) -> str:
        """A new identifier made from ``base``; a keyword (a dict key ``"in"`` read as
        ``emb["in"]``) is followed by an underscore, ``in_``, as PEP 8 writes it."""
        base = base or "t"
        if keyword.iskeyword(base):
            base += "_"
        if not always_suffix and base not in self.taken:
            self.taken.add(base)
            return base
        k = 1
        while f"{base}_{k}" in self.taken:
            k += 1
        ident = f"{base}_{k}"
        self.taken.add(ident)
        return ident
