"""Adjoints of products and decompositions in their general (any rank) form.

Generated code calls these only where ranks are unknown at transform time or the plain NumPy
form would not fit on a line; where ranks are known the rules emit plain ``@`` instead.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import SourcegradError
from .facts import helper
from .helpers import expand_to, sum_to
from .trees import Pieces


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _arrays(*xs):
    """``xs`` with lists and numbers as arrays (``x @ [1.0, 2.0]`` is a product in Python)."""
    return [x if hasattr(x, "ndim") else np.asarray(x) for x in xs]


@helper(linear=("g", "x2"), like="x1")
def unmatmul_left(g, x1, x2):
    """Adjoint of ``x1`` in ``x1 @ x2`` for any ranks (NumPy's 1-D promotion rules)."""
    g, x1, x2 = _arrays(g, x1, x2)
    if np.ndim(x1) > 2 and np.ndim(x2) == 2 and np.shape(g)[:-1] == np.shape(x1)[:-1]:
        # a stack of rows times one matrix: one 2-D product over the flattened stack
        return np.reshape(np.reshape(g, (-1, np.shape(x2)[1])) @ _mT(x2), np.shape(x1))
    a = x1[None, :] if np.ndim(x1) == 1 else x1
    b = x2[:, None] if np.ndim(x2) == 1 else x2
    gg = g
    if np.ndim(x2) == 1:
        gg = gg[..., None]
    if np.ndim(x1) == 1:
        gg = gg[..., None, :]
    out = sum_to(gg @ _mT(b), a)
    return np.reshape(out, np.shape(x1))


@helper(linear=("g", "x1"), like="x2")
def unmatmul_right(g, x1, x2):
    """Adjoint of ``x2`` in ``x1 @ x2`` for any ranks."""
    g, x1, x2 = _arrays(g, x1, x2)
    if np.ndim(x1) > 2 and np.ndim(x2) == 2 and np.shape(g)[:-1] == np.shape(x1)[:-1]:
        # the sum over the stack of x1's matrices is one 2-D product of the flattened stacks
        k, n = np.shape(x2)
        return _mT(np.reshape(x1, (-1, k))) @ np.reshape(g, (-1, n))
    a = x1[None, :] if np.ndim(x1) == 1 else x1
    b = x2[:, None] if np.ndim(x2) == 1 else x2
    gg = g
    if np.ndim(x2) == 1:
        gg = gg[..., None]
    if np.ndim(x1) == 1:
        gg = gg[..., None, :]
    out = sum_to(_mT(a) @ gg, b)
    return np.reshape(out, np.shape(x2))


@helper(linear=("g", "b"), like="a")
def undot_left(g, a, b):
    """Adjoint of ``a`` in ``np.dot(a, b)`` for any ranks."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return sum_to(g * b, a)
    if np.ndim(b) <= 2:
        return unmatmul_left(g, a, b)
    return untensordot_left(g, a, b, ([np.ndim(a) - 1], [np.ndim(b) - 2]))


@helper(linear=("g", "a"), like="b")
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


@helper(linear=("g", "b"), like="a")
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


@helper(linear=("g", "a"), like="b")
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
    axes = (tuple(ta.index(c) for c in shared), tuple(tb.index(c) for c in shared))
    return axes[0], axes[1], (None if perm == tuple(range(len(perm))) else perm)


@functools.lru_cache(maxsize=512)
def _tensordot_moves(shape_a: tuple, shape_b: tuple, axes_a: tuple, axes_b: tuple):
    """``(order_a, flat_a, order_b, flat_b, shape)``: what ``np.tensordot(a, b, (axes_a,
    axes_b))`` does with operands of these shapes (``a.transpose(order_a).reshape(flat_a)``
    times ``b``'s likewise, reshaped to ``shape``), worked out once; None where the summed
    lengths differ (tensordot's error is then its own)."""
    if any(shape_a[i] != shape_b[j] for i, j in zip(axes_a, axes_b)):
        return None
    rest_a = [k for k in range(len(shape_a)) if k not in axes_a]
    rest_b = [k for k in range(len(shape_b)) if k not in axes_b]
    summed = math.prod(shape_a[k] for k in axes_a)
    kept_a = [shape_a[k] for k in rest_a]
    kept_b = [shape_b[k] for k in rest_b]
    flat_a = (math.prod(kept_a), summed)
    flat_b = (summed, math.prod(kept_b))
    return (*rest_a, *axes_a), flat_a, (*axes_b, *rest_b), flat_b, (*kept_a, *kept_b)


@helper(linear=("a", "b"), allocates="new")
def contract(subscripts, a, b):
    """``np.einsum(subscripts, a, b)``, through ``np.tensordot`` (BLAS) when it is a plain
    contraction of two operands, as most are; equal up to rounding."""
    plan = _contraction(subscripts, np.ndim(a), np.ndim(b))
    if plan is None:
        return np.einsum(subscripts, a, b)
    axes_a, axes_b, perm = plan
    moves = None
    if type(a) is np.ndarray and type(b) is np.ndarray:
        moves = _tensordot_moves(a.shape, b.shape, axes_a, axes_b)
    if moves is None:
        out = np.tensordot(a, b, (axes_a, axes_b))
    else:  # np.tensordot's own steps, without working them out on every call
        order_a, flat_a, order_b, flat_b, shape = moves
        at = a.transpose(order_a).reshape(flat_a)
        out = np.dot(at, b.transpose(order_b).reshape(flat_b)).reshape(shape)
    return out if perm is None else np.transpose(out, perm)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _expand_ellipsis(subscripts, operands):
    """``(spec, wide, undo)``: ``np.einsum(subscripts, *operands)`` written with a letter for
    every axis the ``...`` stand for, its operands broadcast against each other over those
    axes (``wide``), and for each operand a function mapping an adjoint of its broadcast form
    back to its own shape (summed over the broadcast axes)."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins = spec
        letters = ins.replace(",", "").replace(".", "")
        out = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = ins.split(",")
    shapes = [np.shape(x) for x in operands]
    ell = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            pos = term.index("...")
            k = len(shape) - (len(term) - 3)
            ell.append(shape[pos : pos + k])
        else:
            ell.append(None)
    broad = np.broadcast_shapes(*[e for e in ell if e is not None])
    n = len(broad)
    fresh = [c for c in _LETTERS if c not in spec][:n]
    names = "".join(fresh)
    new_terms, wide, undo = [], [], []
    for term, x, e in zip(terms, operands, ell):
        if e is None:
            new_terms.append(term)
            wide.append(x)
            undo.append(lambda gx: gx)
            continue
        pos = term.index("...")
        shape = np.shape(x)
        k = len(e)
        padded = shape[:pos] + (1,) * (n - k) + shape[pos:]
        full = shape[:pos] + broad + shape[pos + k :]
        wide.append(np.broadcast_to(np.reshape(x, padded), full))
        new_terms.append(term.replace("...", names))
        undo.append(_unbroadcast(padded, full, shape))
    return ",".join(new_terms) + "->" + out.replace("...", names), tuple(wide), undo


def _unbroadcast(padded, full, shape):
    axes = tuple(i for i, (p, f) in enumerate(zip(padded, full)) if p == 1 and f != 1)

    def undo(gx):
        if axes:
            gx = np.sum(gx, axis=axes, keepdims=True)
        return np.reshape(gx, shape)

    return undo


def _sublist_spec(args):
    """The subscripts string of ``np.einsum(op0, sub0, op1, sub1, ..., [out])`` (``args``)."""

    def term(sub):
        return "".join("..." if i is Ellipsis else _LETTERS[i] for i in sub)

    ins = ",".join(term(sub) for sub in args[1::2][: len(args) // 2])
    if len(args) % 2:
        return ins + "->" + term(args[-1])
    return ins


@helper(constant=True)
def sublist_subscripts(first, rest):
    """The subscripts of ``np.einsum(first, *rest)`` as a string, in either form."""
    if isinstance(first, str):
        return first
    return _sublist_spec((first, *rest))


@helper(tangent_rule=True)
def sublist_operands(first, rest):
    """The operands of ``np.einsum(first, *rest)``, in either form."""
    if isinstance(first, str):
        return tuple(rest)
    return tuple((first, *rest)[0 : 2 * ((len(rest) + 1) // 2) : 2])


@helper(linear=("dfirst", "drest"), jointly=True)
def sublist_tangents(first, rest, dfirst, drest):
    """The tangents of :func:`sublist_operands` from the tangents ``dfirst`` and ``drest`` of
    ``first`` and the items of ``rest`` (None: zero). Linear in ``dfirst`` and ``drest``."""
    drest = (None,) * len(rest) if drest is None else tuple(drest)
    if isinstance(first, str):
        return drest
    return tuple((dfirst, *drest)[0 : 2 * ((len(rest) + 1) // 2) : 2])


@helper(linear=("parts",))
def sublist_scatter(parts, first, rest):
    """The adjoints of ``first`` and each item of ``rest`` from the adjoints ``parts`` of
    :func:`sublist_operands` (None for subscripts). Linear in ``parts``."""
    n = len(rest) + 1
    out = [None] * n
    if isinstance(first, str):
        out[1:] = list(parts)
    else:
        for j, p in enumerate(parts):
            out[2 * j] = p
    return Pieces(out)


@helper(tangent_rule=True)
def uneinsum(g, subscripts, operands, needed=None):
    """Adjoints of the operands of ``np.einsum(subscripts, *operands)``: of every one, or of
    those whose flag in ``needed`` is true (None in the other places)."""
    if "..." in subscripts:
        spec, wide, undo = _expand_ellipsis(subscripts, operands)
        grads = uneinsum(g, spec, wide, needed)
        return tuple(None if gx is None else u(gx) for gx, u in zip(grads, undo))
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


@helper(linear=("s", "m"))
def batch_scale(s, m):
    """``s * m`` for a (batch of) scalar(s) ``s`` and a (batch of) matrices ``m``."""
    return np.asarray(s)[..., None, None] * m


def _solve_adjoint(g, a, x):
    """``a^-T g``, batched like ``x``; ``x`` has one axis less than ``a`` when ``b`` was a
    (batch of) vector(s) (NumPy 1.x and 2.x decide that differently: ``x`` tells which)."""
    if np.ndim(x) == np.ndim(a) - 1:
        return np.linalg.solve(_mT(a), g[..., None])[..., 0]
    return np.linalg.solve(_mT(a), g)


@helper(tangent_rule=True, like="b")
def unsolve_b(g, a, b, x):
    """Adjoint of ``b`` in ``x = np.linalg.solve(a, b)`` (summed over broadcast batch axes)."""
    return sum_to(_solve_adjoint(g, a, x), b)


@helper(tangent_rule=True, like="a")
def unsolve_a(g, a, b, x):
    """Adjoint of ``a`` in ``x = np.linalg.solve(a, b)`` (summed over broadcast batch axes)."""
    gb = _solve_adjoint(g, a, x)
    if np.ndim(x) == np.ndim(a) - 1:
        return sum_to(-gb[..., :, None] * x[..., None, :], a)
    return sum_to(-(gb @ _mT(x)), a)


def _norm_axes(x, axis):
    """``(matrix, axes)``: whether ``np.linalg.norm(x, ord, axis)`` is a matrix norm, and the
    axes it reduces (normalised to non-negative)."""
    nd = np.ndim(x)
    if axis is None:
        axes = tuple(range(nd))
    elif np.ndim(axis) == 0:
        axes = (int(axis),)
    else:
        axes = tuple(axis)
    axes = tuple(a % nd for a in axes) if nd else ()
    return len(axes) == 2 and (axis is not None or nd == 2), axes


@helper(tangent_rule=True, like="x")
def unnorm(g, x, z, ord, axis, keepdims):
    """Adjoint of ``np.linalg.norm(x, ord, axis, keepdims)``, for every ``ord``: vector
    p-norms (2, 1, inf, -inf, 0 and any other p), matrix norms ('fro', 'nuc', 1, -1, 2, -2,
    inf, -inf; the spectral and nuclear ones through the SVD). At a point where the norm is
    not differentiable (a tie, a zero) it gives one subgradient."""
    matrix, axes = _norm_axes(x, axis)
    ge = expand_to(g, x, axis, keepdims)
    ze = expand_to(z, x, axis, keepdims)
    if ord is None or (isinstance(ord, str) and ord == "fro"):
        return ge / np.where(ze == 0, 1, ze) * x
    if isinstance(ord, str) and ord != "nuc":
        raise SourcegradError(f"np.linalg.norm: invalid ord {ord!r}")
    if not matrix:
        if ord == 2:
            return ge / np.where(ze == 0, 1, ze) * x
        if ord == 1:
            return ge * np.sign(x)
        if ord == 0:
            return np.zeros(np.shape(x), dtype=np.result_type(ge, x)) * ge
        if np.isinf(ord):
            hit = np.abs(x) == ze
            return ge * np.sign(x) * hit / np.sum(hit, axes, keepdims=True)
        return ge * np.sign(x) * np.abs(x) ** (ord - 1) * np.where(ze == 0, 1, ze) ** (1 - ord)
    r, c = axes
    if ord in (1, -1, np.inf, -np.inf):
        # the largest (smallest) column (1) or row (inf) sum of |x|: locally linear
        along = r if ord in (1, -1) else c
        sums = np.sum(np.abs(x), axis=along, keepdims=True)
        hit = sums == ze
        return ge * np.sign(x) * hit / np.sum(hit, axes, keepdims=True)
    if ord in ("nuc", 2, -2):
        xm = np.moveaxis(x, (r, c), (-2, -1))
        u, _, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            w = u @ vh
        elif ord == 2:
            w = u[..., :, :1] @ vh[..., :1, :]
        else:
            w = u[..., :, -1:] @ vh[..., -1:, :]
        ge = np.asarray(ge)
        if np.ndim(ge) < np.ndim(x):
            ge = np.reshape(ge, (1,) * np.ndim(x))
        gm = np.moveaxis(ge, (r, c), (-2, -1))
        return np.moveaxis(gm * w, (-2, -1), (r, c))
    raise SourcegradError(f"the derivative of np.linalg.norm with ord={ord!r} is not supported")


@helper(constant=True)
def norm_curvature(ord, x, axis):
    """How :func:`unnorm` varies with ``x`` beyond ``g``: 1.0 for the 2-norm and the Frobenius
    norm (``g / z * x``), 0.0 for the norms whose gradient is locally constant (1, inf, -inf,
    0, and the matrix 1, -1, inf, -inf); the others (p-norms, spectral and nuclear norms) are
    differentiated twice only through the rule of ``np.linalg.norm`` itself, where ``ord``
    and the ranks are known when the derivative is made."""
    matrix, _ = _norm_axes(x, axis)
    if ord is None or (isinstance(ord, str) and ord == "fro") or (not matrix and ord == 2):
        return 1.0
    if not isinstance(ord, str) and (ord in (1, -1, 0) or np.isinf(ord)) and (matrix or ord != -1):
        return 0.0
    raise SourcegradError(
        f"the second derivative of np.linalg.norm(x, ord={ord!r}) is supported only when ord "
        "is a constant and the rank of x (or the axis) is known where the norm is called"
    )


@helper(tangent_rule=True, like="low")
def uncholesky(g, low):
    """Adjoint of ``a`` in ``low = np.linalg.cholesky(a)`` (symmetric result)."""
    n = np.shape(low)[-1]
    phi = _mT(low) @ g
    phi = np.tril(phi) - 0.5 * np.eye(n, dtype=low.dtype) * phi
    inv_low = np.linalg.inv(low)
    s = _mT(inv_low) @ phi @ inv_low
    return 0.5 * (s + _mT(s))


@helper(linear=("g",))
def part_or_zeros(g, i, like):
    """Item ``i`` of the adjoint (or tangent) ``g`` of a tuple result ``like``, zeros shaped
    like ``like[i]`` where it is None (that item is not used). Linear in ``g``."""
    part = None if g is None else g[i]
    return np.zeros_like(like[i]) if part is None else part


@helper(tangent_rule=True)
def eigen_gaps(w):
    """``F[..., i, j] = 1 / (w[..., j] - w[..., i])`` off the diagonal, 0 on it (for distinct
    ``w``)."""
    gaps = w[..., None, :] - w[..., :, None]
    eye = np.eye(np.shape(w)[-1], dtype=bool)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gaps))


@helper(linear=("s",), like="s")
def triangle_of(s, UPLO="L"):
    """The adjoint of the triangle ``np.linalg.eigh`` reads (``UPLO``) from the adjoint ``s``
    of the symmetric matrix it stands for: ``s + s^T`` below (above) the diagonal, ``s`` on it."""
    st = np.swapaxes(s, -1, -2)
    if UPLO == "L":
        return np.tril(s + st, -1) + np.tril(np.triu(s))
    return np.triu(s + st, 1) + np.tril(np.triu(s))


@helper(linear=("t",), like="t")
def symmetric_from(t, UPLO="L"):
    """The symmetric matrix ``np.linalg.eigh`` sees when given ``t``: its ``UPLO`` triangle
    mirrored. Linear in ``t``."""
    if UPLO == "L":
        low = np.tril(t, -1)
    else:
        low = np.swapaxes(np.triu(t, 1), -1, -2)
    return low + np.swapaxes(low, -1, -2) + np.tril(np.triu(t))


# ------------------------------------------------------------------ decompositions


@helper(linear=("u",), like="u")
def reduced_svd_factor(u, vt):
    """``u`` itself where ``(u, s, vt)`` is a reduced SVD: ``full_matrices=False``, or a square
    matrix, whose full and reduced SVDs are one. Raises :class:`SourcegradError` for the full
    SVD of a non-square matrix: its extra singular vectors are any basis of a complement,
    which the matrix does not determine, so they have no derivative."""
    if np.shape(u)[-1] != np.shape(vt)[-2]:
        raise SourcegradError(
            "np.linalg.svd of a non-square matrix with full_matrices=True (NumPy's default) "
            "has no derivative: its extra singular vectors are not determined by the matrix; "
            "pass full_matrices=False"
        )
    return u


@helper(linear=("r",), like="r")
def square_qr_factor(r, mode):
    """``r`` itself where it is the square ``R`` factor of ``np.linalg.qr(a, mode)`` (``a``
    square or tall, ``mode`` "reduced" or "r"; "complete" of a square matrix). Raises
    :class:`SourcegradError` for a wide matrix, ``mode="complete"`` of a tall one and
    ``mode="raw"``, which the derivative rule does not cover."""
    if mode not in ("reduced", "complete", "r") or np.shape(r)[-2] != np.shape(r)[-1]:
        raise SourcegradError(
            f"np.linalg.qr with mode={mode!r} giving an R of shape {np.shape(r)} has no "
            'derivative rule: it is differentiated for square and tall matrices with mode="reduced" '
            '(or "r"); for a wide matrix, differentiate the QR decomposition of its transpose'
        )
    return r


@helper(linear=("x",), like="x")
def real_eigen(x):
    """``x`` itself where it is real: the eigenvalues (or eigenvectors) ``np.linalg.eig`` found
    for a real matrix. Raises :class:`SourcegradError` where they are complex: sourcegrad
    differentiates real values only, and a complex eigen pair of a real matrix would need
    complex adjoints."""
    if np.iscomplexobj(x):
        raise SourcegradError(
            "np.linalg.eig (or eigvals) returned complex eigenvalues for this real matrix, and "
            "sourcegrad differentiates real values only; for a symmetric matrix use "
            "np.linalg.eigh (or eigvalsh), whose eigenvalues are real"
        )
    return x


@helper(linear=("a", "e"), jointly=True)
def block_pair(a, e):
    """The block matrix ``[[a, e], [0, a]]`` (batched over leading axes; None for ``a`` or
    ``e`` is zeros). A matrix function ``f`` of it is ``[[f(a), Df(a)[e]], [0, f(a)]]``: its
    upper right block is the derivative of ``f`` at ``a`` along ``e``. Linear in ``(a, e)``."""
    like = e if a is None else a
    a = np.zeros_like(like) if a is None else a
    e = np.zeros_like(like) if e is None else e
    shape = np.broadcast_shapes(np.shape(a), np.shape(e))
    a = np.broadcast_to(a, shape)
    zero = np.zeros(shape, dtype=np.result_type(a, e))
    return np.concatenate(
        [np.concatenate([a, e], axis=-1), np.concatenate([zero, a], axis=-1)], axis=-2
    )


@helper(linear=("m",))
def corner_block(m):
    """The upper right quarter of the (batch of) square matrices ``m`` of even size: the
    derivative block of :func:`block_pair`. Linear in ``m``."""
    n = np.shape(m)[-1] // 2
    return m[..., :n, n:]


@helper(linear=("parts",))
def result_like(parts, like):
    """The tangents ``parts`` of a decomposition's items, in the type of its result ``like``:
    NumPy 2's ``SVDResult``, ``QRResult``, ``EigResult`` and ``EighResult`` are namedtuples
    whose fields the user's code may read (``res.S``); a plain tuple stays a tuple. A None part
    (a constant) is zeros like its item. Linear in ``parts``."""
    items = [np.zeros_like(x) if t is None else t for t, x in zip(parts, like)]
    return type(like)(*items) if hasattr(type(like), "_fields") else tuple(items)
