"""Gradient containers built by code generated for the argument's structure."""

from __future__ import annotations

from collections import Counter

import gast
import numpy as np

from ...runtime.containers import gradient_builder, gradient_like
from ...runtime.trees import copied
from .. import syntax as S
from ..forms import Derivative


def builders(node, der: Derivative, example_args, owner) -> None:
    """``gradient_like(params, {path: value})`` as a call of a builder generated for the
    argument's structure; a value the ``owner`` analysis found owned when the function
    returns, of known shape and dtype, is placed as it is where those are its leaf's."""
    gl_name = der.refs.name_of(gradient_like)
    if gl_name is None:
        return
    params = der.analysis.core.params
    copy_names = {der.refs.name_of(copied), f"{owner.np_name}.copy"} - {None}

    class Rewrite(S.Transformer):
        def visit_Call(self, call):
            self.generic_visit(call)
            if not (isinstance(call.func, gast.Name) and call.func.id == gl_name):
                return call
            like, parts = call.args
            example = _example(like, params, example_args)
            if example is None:
                return call
            if not isinstance(parts, gast.Dict):  # the adjoint of the whole argument
                (parts,) = _uncopied([parts], copy_names, owner)
                build = gradient_builder(example, [()], _known([parts], owner))
                if build is None:
                    return call
                return S.call(S.name(der.refs.ref(build, "build_gradient")), [like, parts])
            paths = []
            for k in parts.keys:
                if not (
                    isinstance(k, gast.Tuple) and all(isinstance(e, gast.Constant) for e in k.elts)
                ):
                    return call
                paths.append(tuple(e.value for e in k.elts))
            values = _uncopied(parts.values, copy_names, owner)
            build = gradient_builder(example, paths, _known(values, owner))
            if build is None:
                return call
            name = der.refs.ref(build, "build_gradient")
            return S.call(S.name(name), [like, *values])

    Rewrite().visit(node)


def _uncopied(values: list, copy_names: set, owner) -> list:
    """``values`` with each copy of a name (``copied(db)``, ``np.copy(db)``) that the
    ``owner`` analysis found owned when the function returns, and no other value reads,
    replaced by the name: the copy protected a gradient that could alias the user's data
    (``sum_to(g_out, b)``), which the running code's array no longer does."""
    read = _read(values)
    out = []
    for v in values:
        if (
            isinstance(v, gast.Call)
            and S.dotted(v.func) in copy_names
            and len(v.args) == 1
            and not v.keywords
            and isinstance(v.args[0], gast.Name)
            and v.args[0].id in owner.returned
            and read[v.args[0].id] == 1
        ):
            v = v.args[0]
        out.append(v)
    return out


def _read(values: list) -> Counter:
    """How many times each name is read in ``values``."""
    return Counter(n.id for v in values for n in S.walk(v) if isinstance(n, gast.Name))


def _known(values: list, owner) -> frozenset:
    """``(position, shape, dtype)`` of the ``values`` handed out as they are: a name the
    ``owner`` analysis found owned when the function returns (no other name reaches its
    array), of known shape and dtype, that no other value reads (the others, copies or new
    arrays, are checked when the builder runs)."""
    if owner.in_place is None:
        return frozenset()
    read = _read(values)
    known = set()
    for i, v in enumerate(values):
        if not isinstance(v, gast.Name) or read[v.id] != 1 or v.id not in owner.returned:
            continue
        dtype = owner.in_place.dtypes.get(v.id)
        shape = owner.in_place.shapes_of(v.id)
        if isinstance(dtype, np.dtype) and shape:
            known.add((i, shape, dtype))
    return frozenset(known)


def _example(like, params, example_args):
    def one(atom):
        if isinstance(atom, gast.Name) and atom.id in params:
            i = params.index(atom.id)
            if i < len(example_args):
                return example_args[i]
        raise LookupError

    try:
        if isinstance(like, gast.Tuple):
            return tuple(one(e) for e in like.elts)
        return one(like)
    except LookupError:
        return None
