"""Adjoints of products and decompositions in their general (any rank) form.

Generated code calls these only where ranks are unknown at transform time or the plain NumPy
form would not fit on a line; where ranks are known the rules emit plain ``@`` instead.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import SourcegradError
from .helpers import sum_to


def _mT(a):
    return np.swapaxes(a, -1, -2)


def unmatmul_left(g, x1, x2):
    """Adjoint of ``x1`` in ``x1 @ x2`` for any ranks (NumPy's 1-D promotion rules)."""
    if not hasattr(g, "ndim"):
        g = np.asarray(g)
    a = x1[None, :] if np.ndim(x1) == 1 else x1
    b = x2[:, None] if np.ndim(x2) == 1 else x2
    gg = g
    if np.ndim(x2) == 1:
        gg = gg[..., None]
    if np.ndim(x1) == 1:
        gg = gg[..., None, :]
    out = sum_to(gg @ _mT(b), a)
    return np.reshape(out, np.shape(x1))


def unmatmul_right(g, x1, x2):
    """Adjoint of ``x2`` in ``x1 @ x2`` for any ranks."""
    if not hasattr(g, "ndim"):
        g = np.asarray(g)
    a = x1[None, :] if np.ndim(x1) == 1 else x1
    b = x2[:, None] if np.ndim(x2) == 1 else x2
    gg = g
    if np.ndim(x2) == 1:
        gg = gg[..., None]
    if np.ndim(x1) == 1:
        gg = gg[..., None, :]
    out = sum_to(_mT(a) @ gg, b)
    return np.reshape(out, np.shape(x2))


def undot_left(g, a, b):
    """Adjoint of ``a`` in ``np.dot(a, b)`` for any ranks."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(g * b, a)
    if np.ndim(b) <= 2:
        return unmatmul_left(g, a, b)
    return untensordot_left(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 2]))


def undot_right(g, a, b):
    """Adjoint of ``b`` in ``np.dot(a, b)`` for any ranks."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(a * g, b)
    if np.ndim(b) <= 2:
        return unmatmul_right(g, a, b)
    return untensordot_right(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 2]))


def _axes(a, b, axes):
    if isinstance(axes, int):
        return list(range(np.ndim(a) - axes, np.ndim(a))), list(range(axes))
    xa, xb = axes
    xa = [xa] if isinstance(xa, int) else list(xa)
    xb = [xb] if isinstance(xb, int) else list(xb)
    return [i % np.ndim(a) for i in xa], [i % np.ndim(b) for i in xb]


def untensordot_left(g, a, b, axes):
    """Adjoint of ``a`` in ``np.tensordot(a, b, axes)``."""
    xa, xb = _axes(a, b, axes)
    free_a = [i for i in range(np.ndim(a)) if i not in xa]
    free_b = [i for i in range(np.ndim(b)) if i not in xb]
    nfa = len(free_a)
    # g has axes free_a + free_b; contract g's free_b part with b's free axes
    t = np.tensordot(g, b, (list(range(nfa, nfa + len(free_b))), free_b))
    # t has axes free_a + xb (in b's order of xb sorted by position in b)
    xb_order = sorted(xb)
    current = free_a + [xa[xb.index(j)] for j in xb_order]
    return np.transpose(t, np.argsort(current))


def untensordot_right(g, a, b, axes):
    """Adjoint of ``b`` in ``np.tensordot(a, b, axes)``."""
    xa, xb = _axes(a, b, axes)
    free_a = [i for i in range(np.ndim(a)) if i not in xa]
    free_b = [i for i in range(np.ndim(b)) if i not in xb]
    nfa = len(free_a)
    t = np.tensordot(a, g, (free_a, list(range(nfa))))
    # t has axes (xa in a's order) + free_b
    xa_order = sorted(xa)
    current = [xb[xa.index(i)] for i in xa_order] + free_b
    return np.transpose(t, np.argsort(current))


def _terms(subscripts: str):
    """``([input terms], output term)`` of an einsum specification (the implicit output: the
    letters that appear once, sorted)."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins.split(","), out


@functools.lru_cache(maxsize=512)
def _contraction(subscripts: str, ndim_a: int, ndim_b: int):
    """``(axes_a, axes_b, perm)`` when ``np.einsum(subscripts, a, b)`` is
    ``np.transpose(np.tensordot(a, b, (axes_a, axes_b)), perm)`` (``perm`` None: no
    transpose); None when it is not a plain contraction (a batch or diagonal axis, an axis
    summed within one operand, ``...``)."""
    if "..." in subscripts or subscripts.count(",") != 1:
        return None
    (ta, tb), out = _terms(subscripts)
    if (len(ta), len(tb)) != (ndim_a, ndim_b):
        return None
    if len(set(ta)) != len(ta) or len(set(tb)) != len(tb) or len(set(out)) != len(out):
        return None
    shared = [c for c in ta if c in tb]
    free = [c for c in ta if c not in tb] + [c for c in tb if c not in ta]
    if any(c in out for c in shared) or sorted(free) != sorted(out):
        return None
    perm = tuple(free.index(c) for c in out)
    axes = ([ta.index(c) for c in shared], [tb.index(c) for c in shared])
    return axes[0], axes[1], (None if perm == tuple(range(len(perm))) else perm)


def contract(subscripts, a, b):
    """``np.einsum(subscripts, a, b)``, through ``np.tensordot`` (BLAS) when it is a plain
    contraction of two operands, as most are; equal up to rounding."""
    plan = _contraction(subscripts, np.ndim(a), np.ndim(b))
    if plan is None:
        return np.einsum(subscripts, a, b)
    axes_a, axes_b, perm = plan
    out = np.tensordot(a, b, (axes_a, axes_b))
    return out if perm is None else np.transpose(out, perm)


def uneinsum(g, subscripts, operands, needed=None):
    """Adjoints of the operands of ``np.einsum(subscripts, *operands)``: of every one, or of
    those whose flag in ``needed`` is true (None in the other places)."""
    if "..." in subscripts:
        raise SourcegradError(
            "the derivative of np.einsum with '...' is not supported; name every axis"
        )
    ins, out = _terms(subscripts)
    grads = []
    for i, (term, x) in enumerate(zip(ins, operands)):
        if needed is not None and not needed[i]:
            grads.append(None)
            continue
        others = [(t, o) for j, (t, o) in enumerate(zip(ins, operands)) if j != i]
        # letters of x that appear nowhere else (summed out) are restored by broadcasting
        present = set(out) | {c for t, _ in others for c in t}
        seen_term = "".join(dict.fromkeys(term))
        target = "".join(c for c in seen_term if c in present)
        expr = ",".join([out] + [t for t, _ in others]) + "->" + target
        if len(others) == 1:
            gx = contract(expr, g, others[0][1])
        else:
            gx = np.einsum(expr, g, *[o for _, o in others])
        if target != seen_term:
            gx = np.expand_dims(gx, [seen_term.index(c) for c in seen_term if c not in present])
            shape = [np.shape(x)[term.index(c)] for c in seen_term]
            gx = np.broadcast_to(gx, shape)
        if seen_term != term:  # repeated letters (a diagonal): scatter back
            full = np.zeros_like(x)
            idx = np.indices(np.shape(gx))
            pos = tuple(idx[seen_term.index(c)] for c in term)
            np.add.at(full, pos, gx)
            gx = full
        grads.append(gx)
    return tuple(grads)


def batch_scale(s, m):
    """``s * m`` for a (batch of) scalar(s) ``s`` and a (batch of) matrices ``m``."""
    return np.asarray(s)[..., None, None] * m


def _solve_adjoint(g, a, x):
    """``a^-T g``, batched like ``x``; ``x`` has one axis less than ``a`` when ``b`` was a
    (batch of) vector(s) (NumPy 1.x and 2.x decide that differently: ``x`` tells which)."""
    if np.ndim(x) == np.ndim(a) - 1:
        return np.linalg.solve(_mT(a), g[..., None])[..., 0]
    return np.linalg.solve(_mT(a), g)


def unsolve_b(g, a, b, x):
    """Adjoint of ``b`` in ``x = np.linalg.solve(a, b)`` (summed over broadcast batch axes)."""
    return sum_to(_solve_adjoint(g, a, x), b)


def unsolve_a(g, a, b, x):
    """Adjoint of ``a`` in ``x = np.linalg.solve(a, b)`` (summed over broadcast batch axes)."""
    gb = _solve_adjoint(g, a, x)
    if np.ndim(x) == np.ndim(a) - 1:
        return sum_to(-gb[..., :, None] * x[..., None, :], a)
    return sum_to(-(gb @ _mT(x)), a)


def unnorm(g, x, z, ord, axis, keepdims):
    """Adjoint of ``np.linalg.norm(x, ord, axis, keepdims)`` for the 2-norm/Frobenius norm,
    the 1-norm and the max-norm of vectors."""
    from .helpers import expand_to

    matrix = (axis is None and np.ndim(x) == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if matrix and ord not in (None, "fro"):  # spectral, nuclear, max-row/column norms
        raise SourcegradError(
            f"the derivative of np.linalg.norm(x, ord={ord!r}) of a matrix is not supported; "
            "use ord=None (Frobenius)"
        )
    ge = expand_to(g, x, axis, keepdims)
    ze = expand_to(z, x, axis, keepdims)
    if ord in (None, 2, "fro"):
        return ge / ze * x
    if ord == 1:
        return ge * np.sign(x)
    if ord == np.inf:
        hit = np.abs(x) == ze
        return ge * np.sign(x) * hit / np.sum(hit, axis, keepdims=True)
    raise SourcegradError(f"the derivative of np.linalg.norm with ord={ord!r} is not supported")


def uncholesky(g, low):
    """Adjoint of ``a`` in ``low = np.linalg.cholesky(a)`` (symmetric result)."""
    n = np.shape(low)[-1]
    phi = _mT(low) @ g
    phi = np.tril(phi) - 0.5 * np.eye(n, dtype=low.dtype) * phi
    inv_low = np.linalg.inv(low)
    s = _mT(inv_low) @ phi @ inv_low
    return 0.5 * (s + _mT(s))
