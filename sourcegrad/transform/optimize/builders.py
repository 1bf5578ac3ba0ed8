"""Gradient containers built by code generated for the argument's structure."""

from __future__ import annotations

import gast
import numpy as np

from ...runtime.containers import gradient_builder, gradient_like
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
                build = gradient_builder(example, [()])
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
            values = parts.values
            names = [v.id for v in values if isinstance(v, gast.Name)]
            known = set()  # (position, shape, dtype) of values handed out as they are
            if owner.in_place is not None and len(set(names)) == len(values):  # distinct
                for i, name in enumerate(names):
                    dtype = owner.in_place.dtypes.get(name)
                    shape = owner.in_place.shapes_of(name)
                    if name in owner.returned and isinstance(dtype, np.dtype) and shape:
                        known.add((i, shape, dtype))
            build = gradient_builder(example, paths, frozenset(known))
            if build is None:
                return call
            name = der.refs.ref(build, "build_gradient")
            return S.call(S.name(name), [like, *values])

    Rewrite().visit(node)


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
