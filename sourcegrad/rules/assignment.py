"""Assignment into arrays (``x[k] = v``, and ``x[k] += v`` lowered to it), list building and
Python's ``sum``: the reverse rule and the tangent rule of each, side by side."""

import numpy as np

from ..runtime.helpers import sum_to, through_write, unsum, written_part, zero_index
from ..runtime.tangent_helpers import append_tangent, assign_tangent, broadcast_like, sum_tangents
from .facts import declare, first_operand_rank
from .registry import adjoint, basic_index, d, floating, static, tangent, whole_index


@adjoint("setitem")
def _setitem(z, x, index, v):  # z is x after `x[index] = v`; into an int array v is cut
    if static(whole_index(index) and np.ndim(x) >= 0):  # every element: x's reach nothing
        if static(floating(x)):
            d[v] += sum_to(d[z], v)
        else:
            d[v] += sum_to(through_write(d[z], z), v)
    else:
        if static(floating(x) and whole_index(index)):  # d[z] itself: a 0-d's may be a number
            d[v] += sum_to(d[z], v)
        elif static(whole_index(index)):
            d[v] += sum_to(through_write(d[z], z), v)
        elif static(floating(x) and basic_index(index)):
            d[v] += sum_to(d[z][index], v)
        elif static(floating(x)):
            d[v] += sum_to(written_part(d[z], index), v)
        elif static(basic_index(index)):
            d[v] += sum_to(through_write(d[z][index], z), v)
        else:  # integer arrays or masks: only the last write to a repeated index landed
            d[v] += sum_to(through_write(written_part(d[z], index), z), v)
        d[x] += zero_index(d[z], index)


@tangent("setitem")
def _setitem_tangent(z, x, index, v):  # z is x after `x[index] = v`; the rule reads x before it
    if static(np.ndim(x) >= 0):
        d[z] += assign_tangent(d[x], index, d[v], x)
    else:  # a list's or dict's item may change its shape: a constant's zeros are v's
        d[z] += assign_tangent(d[x], index, d[v], x, v)


@adjoint("list_append")
def _list_append(z, xs, v):  # z = [*xs, v]: the list after `xs.append(v)`
    d[v] += d[z][-1]
    d[xs] += d[z][:-1]


@tangent("list_append")
def _list_append_tangent(z, xs, v):  # z = [*xs, v]
    d[z] += append_tangent(d[xs], d[v], xs, v)


@adjoint(sum)
def _builtin_sum(z, iterable, start=0):
    d[iterable] += unsum(d[z], iterable)
    d[start] += sum_to(d[z], start)


@tangent(sum)
def _builtin_sum_tangent(z, iterable, start=0):
    d[z] += broadcast_like(sum_tangents(d[iterable]), z)
    d[z] += broadcast_like(d[start], z)


declare("setitem", rank=first_operand_rank)  # x after `x[index] = v`: x's rank
