"""``gradcheck``: compare sourcegrad's gradient with central finite differences."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from .api import grad, jvp
from .errors import GradcheckError
from .higher.entries import hvp
from .runtime.containers import children, is_container, rebuild
from .runtime.records import is_static_leaf


def _leaves(x, path=()):
    """The differentiable leaves of ``x`` with their paths (``None``, strings and other markers
    in a parameter structure, a record's settings and functions have no derivative:
    skipped)."""
    if is_container(x):
        for k, v in children(x):
            yield from _leaves(v, path + (k,))
    elif not is_static_leaf(x):
        yield path, x


def _replace(x, path, value):
    if not path:
        return value
    items = dict(children(x))
    items[path[0]] = _replace(items[path[0]], path[1:], value)
    return rebuild(x, items)


def _copy(x):
    if is_container(x):
        return rebuild(x, {k: _copy(v) for k, v in children(x)})
    return np.copy(x) if isinstance(x, np.ndarray) else x


def _path_text(path) -> str:
    return "".join(f"[{k!r}]" for k in path) or "(whole argument)"


def gradcheck(
    f: Callable,
    *args: Any,
    wrt: int | tuple[int, ...] = 0,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    max_elements: int = 200,
    seed: int = 0,
    order: int = 1,
) -> bool:
    """Check ``grad(f, wrt)`` at ``args`` against central differences of ``f``.

    Every element of every leaf is checked (a random sample of ``max_elements`` per leaf when
    larger), plus one random-direction check of the whole gradient, plus determinism (two later
    calls agree exactly, and the second leaves the first's gradient unchanged; the first call,
    which runs the build for the arguments' ranks, agrees within ``rtol``/``atol``). Returns
    True, or raises :class:`GradcheckError` naming the worst leaf path, index, and both values.
    Use float64 arguments.

    ``order=2`` also checks forward mode and second order along the random direction: the
    directional derivative of ``jvp(f, wrt)`` against the gradient's, and the Hessian-vector
    product ``hvp(f, wrt)`` against central differences of the gradient along it.

    A tuple ``wrt`` checks each of its arguments in turn (the message names the argument), as
    ``grad(f, wrt)`` differentiates with respect to each.
    """
    if isinstance(wrt, tuple):
        options = dict(eps=eps, rtol=rtol, atol=atol, max_elements=max_elements, seed=seed)
        for i in wrt:
            try:
                gradcheck(f, *args, wrt=i, order=order, **options)
            except GradcheckError as e:
                raise GradcheckError(f"argument {i}: {e.reason}") from None
        return True
    df = grad(f, wrt)
    first = df(*args)  # the build for the arguments' ranks; later calls run one for their shapes
    g = df(*args)
    kept = _copy(g)
    g2 = df(*args)
    check = _Differences(f, args, wrt, eps, rtol, atol, np.random.default_rng(seed))
    worst = (0.0, None, None, None, None)
    for path, leaf in _leaves(check.x):
        gleaf = _repeatable(path, first, g, g2, kept, rtol, atol)
        found = check.worst_of_leaf(path, leaf, gleaf, max_elements)
        if found[0] > worst[0]:
            worst = found
    if worst[0] > 1.0:
        _, path, idx, num, ana = worst
        raise GradcheckError(
            f"gradient of {_path_text(path)} at index {tuple(int(i) for i in idx)}: sourcegrad "
            f"gives {ana!r}, central differences give {num!r}"
        )
    direction, moved_plus, moved_minus = check.random_direction(g)
    if order >= 2:
        _check_second_order(f, args, wrt, df, direction, moved_plus, moved_minus, eps, rtol, atol)
    return True


def _repeatable(path: tuple, first, g, g2, kept, rtol: float, atol: float):
    """The gradient ``g``'s leaf at ``path``; refused where the call after it (``g2``) gave
    another, changed it (``kept``: its copy), or the first call (``first``, the build for the
    ranks) is not within ``rtol``/``atol`` of it."""
    gleaf = dict(_leaves(g)).get(path)
    gleaf2 = dict(_leaves(g2)).get(path)
    if not np.array_equal(np.asarray(gleaf), np.asarray(gleaf2)):
        raise GradcheckError(f"gradient of {_path_text(path)} differs between two identical calls")
    if not np.array_equal(np.asarray(gleaf), np.asarray(dict(_leaves(kept)).get(path))):
        raise GradcheckError(f"gradient of {_path_text(path)} changed by the next call")
    g1 = np.asarray(dict(_leaves(first)).get(path))
    if not np.allclose(g1, np.asarray(gleaf), rtol=rtol, atol=atol):
        raise GradcheckError(
            f"gradient of {_path_text(path)} from the first call (built for the "
            "arguments' ranks) differs from the later calls' (built for their shapes)"
        )
    return gleaf


class _Differences:
    """Central differences of ``f`` at ``args`` in argument ``wrt``, against a gradient."""

    def __init__(self, f, args, wrt: int, eps: float, rtol: float, atol: float, rng):
        self.f, self.args, self.wrt = f, args, wrt
        self.x = args[wrt]
        self.eps, self.rtol, self.atol = eps, rtol, atol
        self.rng = rng

    def f_at(self, new_x) -> float:
        """``f`` with ``new_x`` in place of ``args[wrt]``, given a copy of it: a function that
        writes into its argument (``x[i] += ...``) leaves ``new_x`` as it was, for the
        second-order check that differentiates at the same points."""
        a = list(self.args)
        a[self.wrt] = copy.deepcopy(new_x)
        return float(self.f(*a))

    def worst_of_leaf(self, path: tuple, leaf, gleaf, max_elements: int) -> tuple:
        """``(error, path, index, difference, gradient)`` of the element of the leaf at
        ``path`` whose gradient ``gleaf`` is furthest from the central difference (error in
        units of the tolerance); a random sample of ``max_elements`` elements where larger."""
        eps, rtol, atol, x = self.eps, self.rtol, self.atol, self.x
        worst = (0.0, None, None, None, None)
        if isinstance(leaf, float):
            plus, minus = _replace(x, path, leaf + eps), _replace(x, path, leaf - eps)
            num = (self.f_at(plus) - self.f_at(minus)) / (2 * eps)
            err = abs(num - gleaf) / (atol + rtol * abs(num))
            return (err, path, (), num, gleaf) if err > worst[0] else worst
        arr = np.asarray(leaf, dtype=float)
        gl = np.asarray(gleaf)
        if gl.shape != arr.shape:
            raise GradcheckError(
                f"gradient of {_path_text(path)} has shape {gl.shape}, argument {arr.shape}"
            )
        flat = np.arange(arr.size)
        if arr.size > max_elements:
            flat = self.rng.choice(arr.size, max_elements, replace=False)
        for k in flat:
            idx = np.unravel_index(k, arr.shape)
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += eps
            minus[idx] -= eps
            num = (self.f_at(_replace(x, path, plus)) - self.f_at(_replace(x, path, minus))) / (
                2 * eps
            )
            err = abs(num - gl[idx]) / (atol + rtol * abs(num))
            if err > worst[0]:
                worst = (err, path, idx, num, gl[idx])
        return worst

    def random_direction(self, g) -> tuple:
        """Check the gradient ``g`` along one random direction through every leaf at once;
        ``(direction, x moved forward along it, x moved back)``."""
        eps, rtol, atol, x = self.eps, self.rtol, self.atol, self.x
        direction = []
        moved_plus, moved_minus = x, x
        for path, leaf in _leaves(x):
            v = self.rng.standard_normal(np.shape(leaf))
            direction.append((path, v))
            base = np.asarray(leaf, dtype=float)
            plus = base + eps * v
            minus = base - eps * v
            if isinstance(leaf, float):
                plus, minus = float(plus), float(minus)
            moved_plus = _replace(moved_plus, path, plus)
            moved_minus = _replace(moved_minus, path, minus)
        num = (self.f_at(moved_plus) - self.f_at(moved_minus)) / (2 * eps)
        gl = dict(_leaves(g))
        ana = sum(float(np.sum(np.asarray(gl[p]) * v)) for p, v in direction)
        if abs(num - ana) > atol + rtol * abs(num) * 10:
            raise GradcheckError(
                f"directional derivative along a random direction: sourcegrad gives {ana!r}, "
                f"central differences give {num!r}"
            )
        return direction, moved_plus, moved_minus


def _check_second_order(f, args, wrt, df, direction, plus, minus, eps, rtol, atol):
    x = args[wrt]
    v = x
    for path, d in direction:
        leaf = dict(_leaves(x))[path]
        v = _replace(
            v, path, float(d) if isinstance(leaf, float) else d.astype(np.asarray(leaf).dtype)
        )
    gl = dict(_leaves(df(*args)))
    expected = sum(float(np.sum(np.asarray(gl[p]) * d)) for p, d in direction)
    tangent = float(jvp(f, wrt)(*args, v)[1])
    if abs(tangent - expected) > atol + rtol * abs(expected) * 10:
        raise GradcheckError(
            f"forward mode along a random direction: sourcegrad's jvp gives {tangent!r}, "
            f"its gradient gives {expected!r}"
        )
    got = dict(_leaves(hvp(f, wrt)(*args, v)))

    def g_at(new_x):
        a = list(args)
        a[wrt] = new_x
        return dict(_leaves(df(*a)))

    gp, gm = g_at(plus), g_at(minus)
    for path, _ in direction:
        num = (np.asarray(gp[path]) - np.asarray(gm[path])) / (2 * eps)
        ana = np.asarray(got[path])
        bad = np.abs(num - ana) > 10 * (atol + rtol * np.abs(num)) + 1e-4 * np.max(
            np.abs(num), initial=1.0
        )
        if np.any(bad):
            idx = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(num - ana)), num.shape))
            raise GradcheckError(
                f"second order, {_path_text(path)} at index {idx}: sourcegrad's Hessian-vector "
                f"product gives {ana[idx]!r}, differences of the gradient give {num[idx]!r}"
            )
