"""A dataclass whose method reads a global of its own module (test_alias_links_followed_3.py
checks it is not inlined into a function of another module)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE = 3.0


@dataclass
class FarBox:
    v: np.ndarray

    def scale(self, s):
        self.v *= s * SCALE
