"""Rules for Python's containers: ``list(x)``/``tuple(x)``, a dict's ``items()``,
``values()``, ``keys()`` and ``get()``, and a namedtuple's fields read by name. Their
adjoints are containers that add leaf by leaf (:mod:`sourcegrad.runtime.trees`)."""

import dataclasses

from ..runtime.tangent_helpers import (
    field_tangent,
    get_tangent,
    items_tangent,
    list_tangent,
    values_tangent,
)
from ..runtime.trees import default_part, unfield, unget, unitems, unlist, unvalues
from .registry import adjoint, d, nondifferentiable, tangent


@adjoint(list, tuple)
def _list(z, x):
    d[x] += unlist(d[z], x)


@tangent(list, tuple)
def _list_tangent(z, x):
    d[z] += list_tangent(d[x], x)


@adjoint("dict_items")
def _items(z, x):  # z = x.items()
    d[x] += unitems(d[z], x)


@tangent("dict_items")
def _items_tangent(z, x):
    d[z] += items_tangent(d[x], x)


@adjoint("dict_values")
def _values(z, x):  # z = x.values()
    d[x] += unvalues(d[z], x)


@tangent("dict_values")
def _values_tangent(z, x):
    d[z] += values_tangent(d[x], x)


@adjoint("dict_get")
def _get(z, x, key, default=None):
    d[x] += unget(d[z], x, key)
    d[default] += default_part(d[z], x, key, default)


@tangent("dict_get")
def _get_tangent(z, x, key, default=None):
    d[z] += get_tangent(d[x], x, key, d[default], default)


@adjoint("field")
def _field(z, x, name):  # z = x.name, a namedtuple's field
    d[x] += unfield(d[z], x, name)


@tangent("field")
def _field_tangent(z, x, name):
    d[z] += field_tangent(d[x], x, name)


nondifferentiable("dict_keys")
nondifferentiable(dataclasses.fields)  # the Field objects: names and types, no values
