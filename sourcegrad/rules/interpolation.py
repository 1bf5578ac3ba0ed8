"""Interpolation, polynomials, integrals and differences of samples: ``np.interp`` (in ``x``,
``fp``, ``left`` and ``right``), ``np.vander``, ``np.polyval`` (in ``p`` and ``x``),
``np.trapezoid`` (and ``np.trapz`` where NumPy has it; in ``y``, ``x`` and ``dx``),
``np.gradient`` (a 1-D array or one ``axis``; spacing a number or coordinates, constant) and
``np.partition`` (the values, like ``np.sort``): the reverse rule and the tangent rule of
each, side by side.

Values are NumPy's own; the rules are written with NumPy, with ``np.interp``/``np.polyval``
themselves and with the helpers of ``runtime/interpolation_helpers.py``, every one with rules,
so every order works (``np.interp`` and ``np.partition`` are piecewise: their second
derivatives are those of the piece each point lies in). Refused, with the way out, where the
derivative is asked for: ``np.interp``'s ``xp`` and ``period``, ``np.gradient`` over several
axes at once, ``np.polyval`` of 2-D coefficients."""

import numpy as np

from ..runtime.interpolation_helpers import (
    gradient_tangent,
    interp_cell,
    interp_outside,
    interp_slope,
    partition_order,
    plain_polyfit,
    polyval_derivative,
    refuse_interp_knots,
    trapezoid_x_adjoint,
    ungradient,
    untrapezoid,
    vander_derivative,
    zero_unless_none,
)
from ..runtime.shape_helpers import untake, untake_along_axis
from .registry import adjoint, d, static, tangent

# ---------------------------------------------------------------- interp


@adjoint(np.interp)
def _interp(z, x, xp, fp, left=None, right=None, period=None):
    # z = (1 - t) fp[i] + t fp[i + 1] on interval i, t clipped to [0, 1] (the ends' values
    # outside), or the fill left / right where given
    i = interp_cell(x, xp, period)
    lo = np.take(xp, i)
    width = np.take(xp, i + 1) - lo
    t = np.clip((x - lo) / width, 0.0, 1.0)
    if static(left is None):
        d[fp] += untake(d[z] * (1.0 - t), fp, i)
    else:
        d[fp] += untake(d[z] * (1.0 - t) * (x >= np.take(xp, 0)), fp, i)
    if static(right is None):
        d[fp] += untake(d[z] * t, fp, i + 1)
    else:
        d[fp] += untake(d[z] * t * (x <= np.take(xp, -1)), fp, i + 1)
    d[x] += d[z] * interp_slope(x, xp, fp, period)
    d[left] += np.sum(d[z] * interp_outside(x, xp, period, -1))
    d[right] += np.sum(d[z] * interp_outside(x, xp, period, 1))
    d[xp] += refuse_interp_knots(xp)


@tangent(np.interp)
def _interp_tangent(z, x, xp, fp, left=None, right=None, period=None):
    # no local names: a refusal is raised by a statement that carries the user's line
    d[z] += np.interp(x, xp, d[fp], zero_unless_none(left), zero_unless_none(right), period)
    d[z] += d[x] * interp_slope(x, xp, fp, period)
    d[z] += d[left] * interp_outside(x, xp, period, -1)
    d[z] += d[right] * interp_outside(x, xp, period, 1)
    d[z] += refuse_interp_knots(xp) * d[xp]


# ---------------------------------------------------------------- vander, polyval


@adjoint(np.vander)
def _vander(z, x, N=None, increasing=False):
    d[x] += np.sum(d[z] * vander_derivative(x, np.shape(z)[1], increasing, 1), axis=1)


@tangent(np.vander)
def _vander_tangent(z, x, N=None, increasing=False):
    d[z] += vander_derivative(x, np.shape(z)[1], increasing, 1) * d[x][:, None]


@tangent(vander_derivative)
def _vander_derivative_tangent(out, x, n, increasing=False, k=0):
    d[out] += vander_derivative(x, n, increasing, k + 1) * d[x][:, None]


@adjoint(np.polyval)
def _polyval(z, p, x):
    d[p] += np.reshape(
        np.ravel(np.broadcast_to(d[z], np.shape(z)))
        @ vander_derivative(np.ravel(np.broadcast_to(x, np.shape(z))), np.size(p)),
        np.shape(p),
    )
    d[x] += d[z] * polyval_derivative(p, x, 1)


@tangent(np.polyval)
def _polyval_tangent(z, p, x):
    d[z] += np.polyval(d[p], x)
    d[z] += d[x] * polyval_derivative(p, x, 1)


# np.polyfit(x, y, deg) is the least-squares solution z = (V^T V)^-1 V^T y for the Vandermonde
# matrix V = np.vander(x, deg + 1): np.linalg.lstsq's rule with dV = vander_derivative(x) dx
@adjoint(np.polyfit)
def _polyfit(z, x, y, deg, rcond=None, full=False, w=None, cov=False):
    v = np.vander(x, deg + 1) * plain_polyfit(full, w, cov)  # refused first where it fits not
    g = np.linalg.solve(v.T @ v, d[z])
    if np.ndim(y) == 1:
        dv = np.outer(y - v @ z, g) - np.outer(v @ g, z)
    else:
        dv = (y - v @ z) @ g.T - (v @ g) @ z.T
    d[x] += np.sum(dv * vander_derivative(x, deg + 1, False, 1), axis=1)
    d[y] += v @ g


@tangent(np.polyfit)
def _polyfit_tangent(z, x, y, deg, rcond=None, full=False, w=None, cov=False):
    # (refused in the statements of the result's tangent, which carry the user's line)
    d[z] += np.linalg.solve(
        np.vander(x, deg + 1).T @ np.vander(x, deg + 1) * plain_polyfit(full, w, cov),
        (vander_derivative(x, deg + 1, False, 1) * d[x][:, None]).T
        @ (y - np.vander(x, deg + 1) @ z)
        - np.vander(x, deg + 1).T @ ((vander_derivative(x, deg + 1, False, 1) * d[x][:, None]) @ z),
    )
    d[z] += np.linalg.solve(
        np.vander(x, deg + 1).T @ np.vander(x, deg + 1) * plain_polyfit(full, w, cov),
        np.vander(x, deg + 1).T @ d[y],
    )


@tangent(polyval_derivative)
def _polyval_derivative_tangent(out, p, x, k=1):
    d[out] += polyval_derivative(d[p], x, k)
    d[out] += d[x] * polyval_derivative(p, x, k + 1)


# ---------------------------------------------------------------- trapezoid


def _trapezoid(z, y, x=None, dx=1.0, axis=-1):
    if static(x is None):
        d[y] += untrapezoid(d[z], y, None, dx, axis)
        d[dx] += np.sum(d[z] * np.trapezoid(y, None, 1.0, axis))
    else:
        d[y] += untrapezoid(d[z], y, x, 1.0, axis)
        d[x] += trapezoid_x_adjoint(d[z], y, x, axis)


def _trapezoid_tangent(z, y, x=None, dx=1.0, axis=-1):
    d[z] += np.trapezoid(d[y], x, dx, axis)
    if static(x is None):
        d[z] += d[dx] * np.trapezoid(y, None, 1.0, axis)
    else:
        d[z] += np.trapezoid(y, d[x], 1.0, axis)  # linear in x


_TRAPEZOIDS = tuple(getattr(np, name) for name in ("trapezoid", "trapz") if hasattr(np, name))
adjoint(*_TRAPEZOIDS)(_trapezoid)
tangent(*_TRAPEZOIDS)(_trapezoid_tangent)

# ---------------------------------------------------------------- gradient


@adjoint(np.gradient)
def _gradient(z, f, *varargs, axis=None, edge_order=1):
    d[f] += ungradient(d[z], f, varargs, axis, edge_order)


@tangent(np.gradient)
def _gradient_tangent(z, f, *varargs, axis=None, edge_order=1):
    d[z] += gradient_tangent(d[f], varargs, axis, edge_order)


# ---------------------------------------------------------------- partition


@adjoint(np.partition)
def _partition(z, a, kth, axis=-1, kind="introselect", order=None):
    if static(axis is None):
        d[a] += np.reshape(
            untake_along_axis(d[z], np.ravel(a), partition_order(a, z, None), 0), np.shape(a)
        )
    else:
        d[a] += untake_along_axis(d[z], a, partition_order(a, z, axis), axis)


@tangent(np.partition)
def _partition_tangent(z, a, kth, axis=-1, kind="introselect", order=None):
    if static(axis is None):
        d[z] += np.take_along_axis(np.ravel(d[a]), partition_order(a, z, None), 0)
    else:
        d[z] += np.take_along_axis(d[a], partition_order(a, z, axis), axis)
