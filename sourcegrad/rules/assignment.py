"""Rules for assignment into arrays: ``x[k] = v`` (and ``x[k] += v``, lowered to it)."""

from ..runtime.helpers import sum_to, zero_index
from .registry import adjoint, d


@adjoint("setitem")
def _setitem(z, x, index, v):  # z is x after `x[index] = v`
    d[v] += sum_to(d[z][index], v)
    d[x] += zero_index(d[z], index)
