"""Compatibility alias: this module is :mod:`sourcegrad.transform.optimize.pool` (the same
module object, so settings patched through either name are one setting). To be removed once
every import names the new path."""

import sys

from .optimize import pool as _moved

sys.modules[__name__] = _moved
