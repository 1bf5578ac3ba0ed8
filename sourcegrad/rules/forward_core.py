"""Forward-mode rules for the core language's structural operations: copies, indexing,
assignment into arrays, list building."""

from ..runtime.array_helpers import fill_tangents, through_cast
from ..runtime.tangent_helpers import (
    append_tangent,
    assign_tangent,
    broadcast_like,
    sum_tangents,
)
from .registry import d, tangent


@tangent("copy", "item")
def _identity(z, x, *args, **kwargs):
    d[z] += d[x]


@tangent("astype")
def _astype(z, x, dtype, *args, **kwargs):
    d[z] += through_cast(d[x], z)  # zero for a cast to an integer or boolean dtype


# the helpers of runtime/array_helpers.py are linear in the derivative they map


@tangent(through_cast)
def _through_cast(out, g, z):
    d[out] += through_cast(d[g], z)


@tangent(fill_tangents)
def _fill_tangents(out, t, x):
    d[out] += fill_tangents(d[t], x)


@tangent("getitem")
def _getitem(z, x, index):
    d[z] += d[x][index]


@tangent("setitem")
def _setitem(z, x, index, v):  # z is x after `x[index] = v`; the rule reads x before it
    d[z] += assign_tangent(d[x], index, d[v], x)


@tangent("list_append")
def _list_append(z, xs, v):  # z = [*xs, v]
    d[z] += append_tangent(d[xs], d[v], xs, v)


@tangent(sum)
def _builtin_sum(z, iterable, start=0):
    d[z] += broadcast_like(sum_tangents(d[iterable]), z)
    d[z] += broadcast_like(d[start], z)
