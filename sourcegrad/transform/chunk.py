"""Compatibility alias: this module is :mod:`sourcegrad.transform.optimize.chunk` (the same
module object, so settings patched through either name are one setting). To be removed once
every import names the new path."""

import sys

from .optimize import chunk as _moved

sys.modules[__name__] = _moved
