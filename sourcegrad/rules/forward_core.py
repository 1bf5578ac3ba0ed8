"""Forward-mode rules for the core language's structural operations: copies, indexing,
assignment into arrays, list building."""

from ..runtime.tangent_helpers import (
    append_tangent,
    assign_tangent,
    broadcast_like,
    sum_tangents,
)
from .registry import d, tangent


@tangent("copy", "astype", "item")
def _identity(z, x, *args, **kwargs):
    d[z] += d[x]


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
