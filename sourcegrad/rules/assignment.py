"""Rules for assignment into arrays: ``x[k] = v`` (and ``x[k] += v``, lowered to it)."""

from ..runtime.helpers import sum_to, unsum, written_part, zero_index
from .registry import adjoint, basic_index, d, static


@adjoint("setitem")
def _setitem(z, x, index, v):  # z is x after `x[index] = v`
    if static(basic_index(index)):
        d[v] += sum_to(d[z][index], v)
    else:  # integer arrays or masks: only the last write to a repeated index landed
        d[v] += sum_to(written_part(d[z], index), v)
    d[x] += zero_index(d[z], index)


@adjoint("list_append")
def _list_append(z, xs, v):  # z = [*xs, v]: the list after `xs.append(v)`
    d[xs] += d[z][:-1]
    d[v] += d[z][-1]


@adjoint(sum)
def _builtin_sum(z, iterable, start=0):
    d[iterable] += unsum(d[z], iterable)
