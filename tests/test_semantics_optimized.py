"""The derivative computes what Python computes, on the first call (the pure derivative) and on
the later ones (the code specialised to the argument shapes, which runs from the second call):
booleans are not numbers (``m1 + m2`` of two masks is their logical or, ``m1 - m2`` raises), so
no rewrite may combine masks as if they were; negative numbers are written so that Python reads
them back as they were (``(-1) ** k`` is not ``-1 ** k``); ``np.maximum`` and ``np.minimum``
share the gradient half and half at a tie, as HIPS autograd and ``jnp.maximum`` do.

Each case compares, on calls 1, 2 and 3, the value with the function called in Python and the
gradient with central differences in float64. The last test does so for random sums and
differences of ``np.maximum``/``np.minimum``/``np.abs``/``np.where``/``np.clip`` and
comparisons used as masks.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import random
import sys

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.rules import d

from .fd import numerical_grad

X = np.array([0.5, -1.2, 2.0])
CALLS = 3  # the first call runs the pure derivative, the later ones the optimized one


def _check_calls(f, *args, wrt=0, rtol=1e-6, atol=1e-8):
    """``sg.value_and_grad(f, wrt)`` on calls 1..CALLS against Python and differences."""
    want_value = f(*args)
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    want = [numerical_grad(f, args, i) for i in idxs]
    vg = sg.value_and_grad(f, wrt)
    for call in range(1, CALLS + 1):
        value, got = vg(*args)
        got = got if isinstance(wrt, tuple) else (got,)
        what = f"{f.__name__}, call {call}"
        np.testing.assert_allclose(value, want_value, rtol=1e-12, err_msg=what + ": value")
        for i, g, w in zip(idxs, got, want):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{what}: d/darg{i}")


# ------------------------------------------------------------- masks are booleans, not numbers


def two_relus_added(w):
    return np.sum(np.maximum(w, 0) + np.maximum(w, 1))


def two_hinges(w):
    return np.sum(np.maximum(0, 1 - w) + np.maximum(0, w - 0.2))


def two_minima_subtracted(w):
    return np.sum(np.minimum(w, 0) - np.minimum(w, 1.0))


def three_relus(w):
    return np.sum(np.maximum(w, -1.0) - np.maximum(w, 0.0) + np.maximum(w, 1.0))


def relus_scaled(w):
    return np.sum(2.0 * np.maximum(w, 0) - np.maximum(w, 1) * 3.0)


def two_clips(w):
    return np.sum(np.clip(w, -1.0, 1.0) + np.clip(w, 0.0, 3.0))


def clip_minus_relu(w):
    return np.sum(np.clip(w, -1.0, 1.0) - np.maximum(w, 0.0))


def relu_of_two_arguments(w, v):
    return np.sum(np.maximum(w, v) + np.maximum(v, 1.0) - np.minimum(w, 0.0))


@pytest.mark.parametrize(
    "f",
    [
        two_relus_added,
        two_hinges,
        two_minima_subtracted,
        three_relus,
        relus_scaled,
        two_clips,
        clip_minus_relu,
    ],
)
def test_masks_of_several_rules_are_not_added_as_booleans(f):
    # the adjoint is d * (w >= 1) + d * (w >= 0): with d a number, d * ((w >= 1) + (w >= 0))
    # would be d times the logical or of the masks (or raise, for a difference)
    _check_calls(f, X)


def test_masks_of_two_arguments():
    v = np.array([1.5, -0.3, 0.7])
    _check_calls(relu_of_two_arguments, X, v, wrt=(0, 1))


def masks_the_user_adds(w):
    m = (w > 0.0) + (w > 1.0)  # the user's own logical or: stays one
    return np.sum(w * m) + np.sum(np.maximum(w, 0.0) * ((w < 1.0) + (w < -1.0)))


def test_boolean_arithmetic_in_the_function_is_kept():
    _check_calls(masks_the_user_adds, X)


# Rules written by the user (sg.defvjp) whose adjoints hold comparisons: the rewrites that fold
# and combine terms must read them as Python does (bool ** 1 and 1 * bool are integers, m + m of
# a mask m is m, m1 - m2 of masks raises) and fold numbers as Python does (2 ** -1 is 0.5).


def two_ramps(x, y):
    return np.sum(np.maximum(x, 0.0) + np.maximum(y, 0.0))


def _two_ramps_adjoint(z, x, y):
    d[x] += d[z] * (x > 0.0)
    d[y] += d[z] * (y > 0.0)


def ramps_counted_by_powers(x):
    return np.sum(np.maximum(x, 0.0) + np.maximum(x, 1.0))


def _ramps_counted_by_powers_adjoint(z, x):
    d[x] += d[z] * ((x > 0.0) ** 1 + (x > 1.0) ** 1)  # integers: 2 where both hold


def ramps_counted_by_products(x):
    return np.sum(np.maximum(x, 0.0) + np.maximum(x, 1.0))


def _ramps_counted_by_products_adjoint(z, x):
    d[x] += d[z] * (1 * (x > 0.0) + 1 * (x > 1.0))


def log_band(x):
    band = np.where(x > 0.0, np.log(np.abs(x)), 0.0) - np.where(x > 1.0, np.log(np.abs(x)), 0.0)
    return np.sum(band)


def _log_band_adjoint(z, x):
    d[x] += d[z] * ((x > 0.0) / x - (x > 1.0) / x)  # not ((x > 0.0) - (x > 1.0)) / x


def ramp_of_a_named_mask(x):
    return np.sum(np.maximum(x, 0.0))


def _ramp_of_a_named_mask_adjoint(z, x):
    m = x > 0.0
    d[x] += d[z] * (m + m) * m  # (m or m) and m: m, not 2.0 * m


def halved_sum(x):
    return np.sum(x)


def _halved_sum_adjoint(z, x):
    d[x] += d[z] * 2**-1 * 2  # 2 ** -1 is 0.5 in Python (NumPy refuses it for integers)


def big_product_sum(x):
    return np.sum(x)


def _big_product_sum_adjoint(z, x):
    d[x] += d[z] * (10**10 * 10**10 / 1e20)  # 10 ** 20 exactly: no int64 wrap-around


for _f, _rule in [
    (two_ramps, _two_ramps_adjoint),
    (ramps_counted_by_powers, _ramps_counted_by_powers_adjoint),
    (ramps_counted_by_products, _ramps_counted_by_products_adjoint),
    (log_band, _log_band_adjoint),
    (ramp_of_a_named_mask, _ramp_of_a_named_mask_adjoint),
    (halved_sum, _halved_sum_adjoint),
    (big_product_sum, _big_product_sum_adjoint),
]:
    sg.primitive(_f)
    sg.defvjp(_f, _rule)


def ramps_shifted_up(w):
    return np.sin(0.1 * two_ramps(w, w - 1.0))  # d * (w > 0) + d * (w - 1 > 0)


def ramps_mirrored(w):
    return np.sin(0.1 * two_ramps(w, 1.0 - w))  # d * (w > 0) - d * (1 - w > 0)


def counted_by_powers(w):
    return np.sin(0.1 * ramps_counted_by_powers(w))


def counted_by_products(w):
    return np.sin(0.1 * ramps_counted_by_products(w))


def in_a_log_band(w):
    return np.sin(0.1 * log_band(w))


def named_mask(w):
    return np.sin(0.1 * ramp_of_a_named_mask(w))


def halved(w):
    return np.sin(0.1 * halved_sum(w))


def big_product(w):
    return np.sin(0.1 * big_product_sum(w))


@pytest.mark.parametrize(
    "f",
    [
        ramps_shifted_up,
        ramps_mirrored,
        counted_by_powers,
        counted_by_products,
        in_a_log_band,
        named_mask,
        halved,
        big_product,
    ],
)
def test_rules_with_masks_and_numbers_keep_their_meaning(f):
    _check_calls(f, np.array([0.5, -1.2, 2.3, 1.5]))


def boolean_difference_not_taken(w, flag=False):
    s = np.sum(w * w)
    if flag:  # not run: Python never computes the boolean difference
        s = s + np.sum((w > 0.0) - (w > 1.0))
    return s


def boolean_negation_not_taken(w, flag=False):
    s = np.sum(w * w)
    if flag:
        s = s + np.sum(w * -(w > 0.0))
    return s


@pytest.mark.parametrize("f", [boolean_difference_not_taken, boolean_negation_not_taken])
def test_boolean_arithmetic_numpy_refuses_does_not_stop_the_build(f):
    # the dtypes of the names are worked out for every statement, run or not
    _check_calls(f, X)


# ---------------------------------------------------------------- negative numbers as written


def alternating_series(w):
    s = 0.0
    for k in range(3):
        s = s + (-1) ** k * np.sum(w ** (k + 1))
    return s


def negative_power(w):
    return np.sum(w**-2)


def square_of_a_negative_number(w):
    return np.sum((-2.0) ** 2 * w)


def square_of_the_negation(w):
    return np.sum((-w) ** 2)


def negated_square(w):
    return np.sum(-(w**2))


def negated_square_as_written(w):
    return np.sum(-w**2)  # fmt: skip


def negative_one_cubed(w):
    return np.sum((-1) ** 3 * w) + np.sum(-(1.0**2) * w)


def negative_base_and_exponent(w):
    return np.sum(w * (-2) ** -1 + (-0.5) ** 2 * w**3)


def minus_zero_power(w):
    return np.sum(w * (-0.0) ** 2 + w * (-1.5) ** 3)


@pytest.mark.parametrize(
    "f",
    [
        alternating_series,
        negative_power,
        square_of_a_negative_number,
        square_of_the_negation,
        negated_square,
        negated_square_as_written,
        negative_one_cubed,
        negative_base_and_exponent,
        minus_zero_power,
    ],
)
def test_negative_numbers_keep_their_meaning(f):
    _check_calls(f, X)


def scalar_alternating(a):
    s = 0.0
    for k in range(4):
        s = s + (-1) ** k * a ** (k + 1) / (k + 1)
    return s


def test_negative_numbers_of_a_float_argument():
    _check_calls(scalar_alternating, 0.3)


# ------------------------------------------------------------------- ties share the gradient


def relu(w):
    return np.sum(np.maximum(w, 0.0))


def clamp_below(w):
    return np.sum(np.minimum(w, 0.0) * 3.0)


def max_of_two(w, v):
    return np.sum(np.maximum(w, v))


def min_of_two(w, v):
    return np.sum(np.minimum(w, v) ** 2)


def max_of_mirror(w):
    return np.sum(np.maximum(w, 1.0 - w))  # a tie at w = 0.5


TIES = np.array([0.0, -1.0, 2.0, 0.0])


@pytest.mark.parametrize("f", [relu, clamp_below])
def test_a_tie_with_a_constant_gives_half(f):
    # central differences at the kink are the mean of the slopes: half for a ReLU at 0
    _check_calls(f, TIES)
    got = sg.grad(f)(TIES)
    assert got[0] in (0.5, 1.5)


@pytest.mark.parametrize("f", [max_of_two, min_of_two])
def test_a_tie_of_two_arguments_splits_the_gradient(f):
    v = np.array([0.0, 1.0, 2.0, -3.0])  # ties at 0 and 2 (differences: h / 2 off at a square)
    _check_calls(f, TIES, v, wrt=(0, 1), atol=1e-6)


def test_a_tie_of_an_argument_with_itself():
    _check_calls(max_of_mirror, np.array([0.5, 0.25, 2.0]))


@pytest.mark.parametrize("f", [relu, clamp_below, max_of_mirror])
def test_the_tangent_at_a_tie_is_the_mean_of_the_tangents(f):
    x = np.array([0.0, -1.0, 2.0, 0.5])
    t = np.array([1.0, -2.0, 0.5, 3.0])
    jf = sg.jvp(f)
    eps = 1e-6
    want = (f(x + eps * t) - f(x - eps * t)) / (2 * eps)
    for call in range(1, CALLS + 1):
        value, tangent = jf(x, t)
        assert value == f(x), call
        np.testing.assert_allclose(tangent, want, rtol=1e-6, err_msg=f"call {call}")


# -------------------------------------------------------------------------------- random fuzz

#: programs the fuzz writes; at least MIN_COMPARED of them must be compared (not skipped)
FUZZ_PROGRAMS = 120
MIN_COMPARED = 80
MIN_AT_TIES = 5  # ... and this many exactly at a tie of np.maximum or np.minimum
MARGIN = 1e-3  # a kink of a comparison at least this far from the evaluation point
RANDOM_POINTS = 12  # random points tried where FUZZ_W is too close to a kink
FUZZ_W = np.array([0.0, 0.5, -1.3, 1.0, 2.2, -0.4, 0.75, 1.6])
CONSTANTS = (0.0, 0.5, 1.0, -1.0, 0.25, 2.0, 1.5)


class _Expr:
    """An elementwise expression of ``w``: its source, its value, and its kinks (as functions
    of ``w`` whose zeros they are): ``hard`` (a comparison, ``np.abs``: must be MARGIN away)
    or ``tie`` (``np.maximum``/``np.minimum``: may also be exactly at the tie)."""

    def __init__(self, src, ev, kinks=()):
        self.src, self.ev, self.kinks = src, ev, list(kinks)


def _leaf(r: random.Random) -> _Expr:
    c = r.choice(CONSTANTS)
    k = r.choice([v for v in CONSTANTS if v != 0.0])  # (w * 0.0 would be a kink everywhere)
    options = [
        _Expr("w", lambda w: w),
        _Expr(f"(w * {k!r})", lambda w: w * k),
        _Expr(f"({c!r} - w)", lambda w: c - w),
        _Expr(f"(w + {c!r})", lambda w: w + c),
        _Expr("(w * w)", lambda w: w * w),
        _Expr("np.sin(w)", np.sin),
    ]
    return r.choice(options)


def _number(r: random.Random) -> _Expr:
    c = r.choice(CONSTANTS)
    return _Expr(repr(c), lambda w: c)


def _expr(r: random.Random, depth: int) -> _Expr:
    if depth == 0:
        return _leaf(r)
    a = _expr(r, depth - 1)
    b = _expr(r, depth - 1) if r.random() < 0.6 else _number(r)
    c = r.choice(CONSTANTS)
    kind = r.randrange(12)
    if kind <= 1:
        f = (np.maximum, np.minimum)[kind]
        first, second = (a, b) if r.random() < 0.7 else (b, a)
        return _Expr(
            f"np.{f.__name__}({first.src}, {second.src})",
            lambda w: f(first.ev(w), second.ev(w)),
            a.kinks + b.kinks + [("tie", lambda w: first.ev(w) - second.ev(w))],
        )
    if kind == 2:
        return _Expr(f"np.abs({a.src})", lambda w: np.abs(a.ev(w)), a.kinks + [("hard", a.ev)])
    if kind == 3:
        e = _expr(r, depth - 1)
        return _Expr(
            f"np.where({a.src} > {c!r}, {b.src}, {e.src})",
            lambda w: np.where(a.ev(w) > c, b.ev(w), e.ev(w)),
            a.kinks + b.kinks + e.kinks + [("hard", lambda w: a.ev(w) - c)],
        )
    if kind == 4:
        op, f = r.choice([(">", np.greater), (">=", np.greater_equal), ("<", np.less)])
        return _Expr(
            f"{a.src} * ({b.src} {op} {c!r})",
            lambda w: a.ev(w) * f(b.ev(w), c),
            a.kinks + b.kinks + [("hard", lambda w: b.ev(w) - c)],
        )
    if kind == 5:  # a mask of two expressions, on the left
        e = _expr(r, depth - 1)
        return _Expr(
            f"({b.src} <= {e.src}) * {a.src}",
            lambda w: (b.ev(w) <= e.ev(w)) * a.ev(w),
            a.kinks + b.kinks + e.kinks + [("hard", lambda w: b.ev(w) - e.ev(w))],
        )
    if kind == 6:  # two masks combined by the user (a logical or / and, as Python has it)
        c2 = r.choice(CONSTANTS)
        op, f = r.choice([("+", np.add), ("&", np.bitwise_and), ("|", np.bitwise_or)])
        return _Expr(
            f"{a.src} * (({b.src} > {c!r}) {op} (w < {c2!r}))",
            lambda w: a.ev(w) * f(b.ev(w) > c, w < c2),
            a.kinks + b.kinks + [("hard", lambda w: b.ev(w) - c), ("hard", lambda w: w - c2)],
        )
    if kind in (7, 8):
        op = "+" if kind == 7 else "-"
        sign = 1.0 if kind == 7 else -1.0
        return _Expr(
            f"({a.src} {op} {b.src})", lambda w: a.ev(w) + sign * b.ev(w), a.kinks + b.kinks
        )
    if kind == 9:
        return _Expr(f"({c!r} * {a.src})", lambda w: c * a.ev(w), a.kinks)
    if kind == 10:  # at a bound the whole gradient goes to the operand: kinks kept away
        lo, hi = sorted(r.sample(CONSTANTS, 2))
        lo_src = "None" if r.random() < 0.3 else repr(lo)
        bound = None if lo_src == "None" else lo
        return _Expr(
            f"np.clip({a.src}, {lo_src}, {hi!r})",
            lambda w: np.clip(a.ev(w), bound, hi),
            a.kinks + [("hard", lambda w: a.ev(w) - lo), ("hard", lambda w: a.ev(w) - hi)],
        )
    return _Expr(f"(-({a.src}))", lambda w: -a.ev(w), a.kinks)


def _program(r: random.Random):
    """``(source of the body's return expression, value function, kinks)``: a sum of a few
    terms, each of which is a sum or difference of rule results."""
    terms = [_expr(r, r.choice([1, 2, 2, 3])) for _ in range(r.choice([2, 2, 3, 4]))]
    src = terms[0].src
    signs = [1.0]
    for t in terms[1:]:
        op = r.choice("+-")
        signs.append(1.0 if op == "+" else -1.0)
        src += f" {op} {t.src}"
    kinks = [k for t in terms for k in t.kinks]

    def value(w):
        return sum(s * t.ev(w) for s, t in zip(signs, terms))

    extra, extra_value = "", lambda w: 0.0
    if r.random() < 0.4:  # a user rule's masks (two_ramps), times an adjoint that is a name
        a, b = _expr(r, 1), _expr(r, 1)
        extra = f" + np.sin(0.1 * two_ramps({a.src}, {b.src}))"
        kinks += a.kinks + b.kinks + [("hard", a.ev), ("hard", b.ev)]

        def extra_value(w):
            return np.sin(0.1 * two_ramps(a.ev(w), b.ev(w)))

    if r.random() < 0.5:
        return f"np.sum({src}){extra}", lambda w: float(np.sum(value(w)) + extra_value(w)), kinks
    return (
        f"np.sum({src}) * 0.5 + np.sum(w * w){extra}",
        (lambda w: float(np.sum(value(w)) * 0.5 + np.sum(w * w) + extra_value(w))),
        kinks,
    )


def _comparable(kinks, w):
    """None where central differences at ``w`` may cross a kink, else the number of
    ``np.maximum``/``np.minimum`` exactly at their tie (0 or 1: there differences give the mean
    of the two slopes, as the rule does); every comparison must be MARGIN away."""
    tied = 0
    for kind, diff in kinks:
        gap = np.abs(np.broadcast_to(diff(w), w.shape))
        close = gap < MARGIN
        if not close.any():
            continue
        if kind == "hard" or not np.all(gap[close] == 0.0):
            return None
        tied += 1
    return tied if tied <= 1 else None


def _point(kinks, r: random.Random):
    """``(w, tied)``: FUZZ_W (values on the constants' grid: ties) where the differences
    are comparable there, else a random point (some of its values on the grid) where they
    are; None if no try is."""
    candidates = [FUZZ_W] + [  # some elements on the grid, the others anywhere
        np.array(
            [r.choice(CONSTANTS) if r.random() < 0.25 else r.uniform(-2.5, 2.5) for _ in FUZZ_W]
        )
        for _ in range(RANDOM_POINTS)
    ]
    for w in candidates:
        tied = _comparable(kinks, w)
        if tied is not None:
            return w, tied
    return None


_modules = itertools.count()


def _load(directory, source: str):
    name = f"sg_semantics_fuzz_{os.getpid()}_{next(_modules)}"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.two_ramps = two_ramps  # (a primitive with a rule of this file)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_random_mask_programs_agree_with_python_and_differences(tmp_path):
    r = random.Random(20240611)
    programs = [_program(r) for _ in range(FUZZ_PROGRAMS)]
    source = "import numpy as np\n\n" + "".join(
        f"\ndef f{i}(w):\n    return {src}\n" for i, (src, _, _) in enumerate(programs)
    )
    module = _load(tmp_path, source)
    compared, at_ties, failures = 0, 0, []
    for i, (src, value, kinks) in enumerate(programs):
        found = _point(kinks, r)
        if found is None:
            continue
        w, tied = found
        compared += 1
        at_ties += tied
        f = getattr(module, f"f{i}")
        assert f(w) == pytest.approx(value(w), rel=1e-12)  # the generator's own check
        want_value = f(w)
        want = numerical_grad(f, (w,), 0)
        vg = sg.value_and_grad(f)
        for call in range(1, CALLS + 1):
            try:
                got_value, got = vg(w)
                np.testing.assert_allclose(got_value, want_value, rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            except Exception as exc:  # noqa: BLE001 - a crash is a failure to report too
                failures.append((len(src), f"call {call}: return {src}\n{type(exc).__name__}"))
                break
    assert compared >= MIN_COMPARED, f"only {compared} of {FUZZ_PROGRAMS} programs compared"
    assert at_ties >= MIN_AT_TIES, f"only {at_ties} programs compared at a tie"
    failures.sort()
    assert not failures, f"{len(failures)} of {compared} programs disagree; the shortest:\n" + (
        "\n\n".join(text for _, text in failures[:3])
    )
