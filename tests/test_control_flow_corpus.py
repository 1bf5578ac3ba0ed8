"""Control flow: every program of ``tests/cf_corpus.py`` against central finite differences.

Each case differentiates a corpus function with ``sg.grad(f, wrt)`` and checks both the
specialised derivative and ``df.generic`` against central differences in float64, leaf by leaf
(arguments may be floats, arrays, or dicts/lists/tuples of them). The expected gradient is also
computed with a second, larger step; the two must agree, which guards against inputs placed so
close to a branch boundary (or to a change of a while loop's trip count) that finite differences
cross it. Refusals of constructs that are not supported yet are checked at the end.
"""

import copy
import inspect
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg

from . import cf_corpus as c

CORPUS_FILE = c.__file__

EPS = 1e-6
EPS_COARSE = 1e-4
RTOL = 1e-5
ATOL = 1e-7

# ----------------------------------------------------------------------------- checker


def _leaves(x, path=()):
    if isinstance(x, dict):
        for k in x:
            yield from _leaves(x[k], path + (k,))
    elif isinstance(x, (list, tuple)):
        for k, v in enumerate(x):
            yield from _leaves(v, path + (k,))
    else:
        yield path, x


def _get(x, path):
    for k in path:
        x = x[k]
    return x


def _replace(x, path, value):
    if not path:
        return value
    k, rest = path[0], path[1:]
    if isinstance(x, dict):
        new = dict(x)
        new[k] = _replace(x[k], rest, value)
        return new
    items = list(x)
    items[k] = _replace(x[k], rest, value)
    return type(x)(items)


def numerical(f, args, i, eps):
    """Central differences of ``f(*args)`` w.r.t. every leaf of ``args[i]``: {path: grad}."""

    def at(leaf_path, v):
        a = copy.deepcopy(list(args))  # plain Python may write into its arguments
        a[i] = _replace(a[i], leaf_path, v)
        return float(f(*a))

    out = {}
    for path, leaf in _leaves(args[i]):
        if isinstance(leaf, float):
            out[path] = (at(path, leaf + eps) - at(path, leaf - eps)) / (2 * eps)
            continue
        x = np.asarray(leaf, dtype=np.float64)
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += eps
            xm[idx] -= eps
            g[idx] = (at(path, xp) - at(path, xm)) / (2 * eps)
        out[path] = g
    return out


def expected_gradient(f, args, wrt):
    """Central differences w.r.t. each index in ``wrt``, cross-checked with a coarser step."""
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = {i: numerical(f, args, i, EPS) for i in idxs}
    coarse = {i: numerical(f, args, i, EPS_COARSE) for i in idxs}
    for i in idxs:
        for path, e in expected[i].items():
            # test of the test: a step of 1e-4 must not change any branch decision either
            np.testing.assert_allclose(
                e,
                coarse[i][path],
                rtol=1e-3,
                atol=1e-6,
                err_msg=f"input of {f.__name__} too close to a branch/trip-count boundary",
            )
    return expected


def check(f, args, wrt, variant, expected):
    """Compare one variant of ``sg.grad(f, wrt)`` with ``expected``: "specialised" (to the
    arguments' ranks: a first call), "shapes" (to their shapes too: a repeated call) or
    "generic" (no rank known)."""
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    df = sg.grad(f, wrt)
    if variant == "shapes":
        df._entry(tuple(args), True)  # the code that a second call with these shapes runs
    fn = df.generic if variant == "generic" else df
    before = copy.deepcopy(args)
    got = fn(*args)
    for a, b in zip(_leaves(args), _leaves(before)):
        np.testing.assert_array_equal(a[1], b[1], err_msg="sourcegrad modified an argument")
    got_t = got if isinstance(wrt, tuple) else (got,)
    assert len(got_t) == len(idxs)
    for i, g in zip(idxs, got_t):
        for path, e in expected[i].items():
            what = f"{f.__name__} ({variant}) d/dargs[{i}]{list(path)}"
            leaf = _get(args[i], path)
            gl = _get(g, path)
            if isinstance(leaf, float):
                assert isinstance(gl, float), f"{what}: gradient is {type(gl).__name__}"
            else:
                assert isinstance(gl, np.ndarray), f"{what}: gradient is {type(gl).__name__}"
                assert gl.shape == np.shape(leaf), f"{what}: shape {gl.shape}"
            np.testing.assert_allclose(gl, e, rtol=RTOL, atol=ATOL, err_msg=what)


# ------------------------------------------------------------------------------ inputs

X3 = np.array([0.7, -0.4, 1.3])
Y3 = np.array([0.5, 0.9, -0.2])
X4 = np.array([0.7, -0.4, 1.3, 0.2])
POS3 = np.array([0.3, 0.8, 1.1])


def _rand(seed, *shape, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


M32 = _rand(1, 3, 2)
N32 = _rand(2, 3, 2)
M43 = _rand(3, 4, 3)
W23 = _rand(4, 2, 3)
SYM = _rand(5, 3, 3)
SYM = SYM @ SYM.T + np.diag([3.0, 1.0, 0.5])


def rnn_params(seed=10):
    return {
        "Wx": _rand(seed, 2, 3, scale=0.5),
        "Wh": _rand(seed + 1, 3, 3, scale=0.5),
        "b": _rand(seed + 2, 3, scale=0.1),
    }


def mlp_params():
    return {
        "W": [_rand(20, 3, 4, scale=0.5), _rand(21, 4, 2, scale=0.5)],
        "b": [_rand(22, 4, scale=0.1), _rand(23, 2, scale=0.1)],
    }


class Case(NamedTuple):
    id: str
    fn: object
    args: tuple
    wrt: object
    xfail: dict  # variant -> reason


def case(fn, *args, wrt=0, id=None, xfail=None, xfail_generic=None):
    """A corpus case; ``xfail`` marks both variants, ``xfail_generic`` only ``df.generic``."""
    reasons = {}
    if xfail:
        reasons = {"specialised": xfail, "shapes": xfail, "generic": xfail}
    if xfail_generic:
        reasons["generic"] = xfail_generic
    return Case(id or fn.__name__, fn, args, wrt, reasons)


CASES = [
    # if / elif / else
    case(c.if_on_sum, X3, id="if_on_sum-then"),
    case(c.if_on_sum, -X3, id="if_on_sum-else"),
    case(c.if_elif_else, np.array([1.5, 2.0, 1.2]), id="if_elif_else-if"),
    case(c.if_elif_else, X3, id="if_elif_else-elif"),
    case(c.if_elif_else, np.array([-2.0, -1.5, -1.3]), id="if_elif_else-else"),
    case(c.if_without_else, X3, id="if_without_else-taken"),
    case(c.if_without_else, np.array([0.1, 0.2, -0.3]), id="if_without_else-skipped"),
    case(c.if_on_bool_flag, X3, True, id="if_on_bool_flag-true"),
    case(c.if_on_bool_flag, X3, False, id="if_on_bool_flag-false"),
    case(c.if_on_string_mode, X3, "square", id="if_on_string_mode-square"),
    case(c.if_on_string_mode, X3, "sin", id="if_on_string_mode-sin"),
    case(c.if_on_string_mode, X3, "id", id="if_on_string_mode-other"),
    case(c.if_on_int_argument, X3, 3, id="if_on_int_argument-taken"),
    case(c.if_on_int_argument, X3, 1, id="if_on_int_argument-skipped"),
    case(c.nested_if, X3, Y3, wrt=(0, 1), id="nested_if-pp"),
    case(c.nested_if, X3, -Y3, wrt=(0, 1), id="nested_if-pn"),
    case(c.nested_if, -X3, Y3, wrt=(0, 1), id="nested_if-np"),
    case(c.nested_if, -X3, -Y3, wrt=(0, 1), id="nested_if-nn"),
    case(c.if_assigns_different_names, X3, id="if_assigns_different_names-then"),
    case(c.if_assigns_different_names, -X3, id="if_assigns_different_names-else"),
    case(c.if_on_scalar_float, 1.7, 0.6, wrt=(0, 1), id="if_on_scalar_float-then"),
    case(c.if_on_scalar_float, 0.4, 0.6, wrt=(0, 1), id="if_on_scalar_float-else"),
    case(c.if_on_scalar_float, 0.4, 0.6, wrt=1, id="if_on_scalar_float-wrt1"),
    case(c.if_on_element, X3, id="if_on_element-then"),
    case(c.if_on_element, np.array([-0.2, 0.8, 0.5]), id="if_on_element-else"),
    case(c.if_on_intermediate, X3, id="if_on_intermediate-then"),
    case(c.if_on_intermediate, -X3, id="if_on_intermediate-else"),
    case(c.if_boolean_and, X3, id="if_boolean_and-then"),
    case(c.if_boolean_and, np.array([3.0, 6.0, 1.0]), id="if_boolean_and-else"),
    case(c.if_not, X3, id="if_not-taken"),
    case(c.if_not, POS3, id="if_not-skipped"),
    case(c.if_both_args, X3, Y3, wrt=(0, 1), id="if_both_args-then"),
    case(c.if_both_args, Y3, X3, wrt=(0, 1), id="if_both_args-else"),
    case(c.if_both_args, Y3, X3, wrt=1, id="if_both_args-wrt1"),
    case(c.if_overwrites_twice, X3, id="if_overwrites_twice-taken"),
    case(c.if_overwrites_twice, -X3, id="if_overwrites_twice-skipped"),
    case(c.if_reads_before_overwrite, X3, id="if_reads_before_overwrite-then"),
    case(c.if_reads_before_overwrite, -X3, id="if_reads_before_overwrite-else"),
    # overwritten variables
    case(c.overwrite_chain, X3),
    case(c.overwrite_arg_used_after, X3),
    case(c.aug_assign, X3),
    case(c.tuple_swap, X3, Y3, wrt=(0, 1)),
    case(c.overwrite_with_slices, X4),
    # for over range
    case(c.for_range_const, X3),
    case(c.for_range_arg, X3, 3),
    case(c.for_range_start_stop, X3),
    case(c.for_range_step, X3),
    case(c.for_range_len, X3),
    case(c.for_accumulate_scalar, X3),
    case(c.for_serial_loops, X3),
    case(c.for_nested, X3),
    case(c.for_nested_triangular, X3),
    case(c.for_zero_trip_arg, X3, 0, id="for_zero_trip_arg-0"),
    case(c.for_zero_trip_arg, X3, 2, id="for_zero_trip_arg-2"),
    case(c.for_zero_trip_const, X3),
    case(c.for_rows_by_index, M32, W23, wrt=(0, 1)),
    case(c.for_uses_counter_value, X3),
    case(c.for_loop_var_overwrites, X3),
    case(c.for_defines_inside, X3),
    case(c.for_read_then_overwrite, X3),
    case(c.for_two_carried, X3, Y3, wrt=(0, 1)),
    # for over arrays / lists / tuples / zip / enumerate
    case(c.for_over_rows, M43, X3, wrt=(0, 1)),
    case(c.for_over_elements, X3),
    case(c.for_over_list, [_rand(6, 3, 3), _rand(7, 2, 3)], X3, wrt=(0, 1)),
    case(
        c.for_over_list,
        [_rand(6, 3, 3), _rand(7, 3, 3)],
        X3,
        wrt=(0, 1),
        id="for_over_list-same-shapes",
    ),
    case(c.for_over_tuple, (X3, Y3), POS3, wrt=(0, 1)),
    case(c.for_zip, M32, N32, wrt=(0, 1)),
    case(c.for_enumerate, M32),
    case(c.for_zip_array_and_list, W23, [X3, Y3], wrt=(0, 1)),
    case(c.for_over_empty, np.zeros((0, 3)), X3, wrt=(0, 1)),
    case(c.horner, X3, np.array([0.5, -1.0, 2.0, 0.3]), wrt=(0, 1), id="horner-array"),
    case(c.horner, X3, [0.5, -1.0, 2.0, 0.3], wrt=(0, 1), id="horner-list-of-floats"),
    # branches in loops, loops in branches
    case(c.branch_in_loop_on_data, X3),
    case(c.branch_in_loop_on_index, X3),
    case(c.elif_in_loop, X3),
    case(c.loop_in_branch, X3, id="loop_in_branch-then"),
    case(c.loop_in_branch, -X3, id="loop_in_branch-else"),
    case(c.loops_in_both_branches, X3, 2, id="loops_in_both_branches-then"),
    case(c.loops_in_both_branches, -X3, 2, id="loops_in_both_branches-else"),
    case(c.loops_in_both_branches, -X3, 0, id="loops_in_both_branches-zero"),
    case(c.branch_in_nested_loop, X3),
    case(c.branch_in_loop_over_elements, X3),
    case(c.branch_without_else_in_loop, np.array([1.5, 2.0, 1.2])),
    # while
    case(c.newton_sqrt, 2.0),
    case(c.newton_sqrt_array, np.array([2.0, 0.5, 3.0])),
    case(c.halve_until_small, X3),
    case(c.while_counter, X3, 3, id="while_counter-3"),
    case(c.while_counter, X3, 0, id="while_counter-0"),
    case(c.while_zero_trip, X3),
    case(c.while_with_branch, X3),
    case(c.while_in_for, X3),
    case(c.fixed_point_cos, np.array([0.3, 0.5, 0.8])),
    case(c.grow_until_large, X3),
    case(c.while_data_and_counter, X3),
    case(c.while_tuple_update, X3, Y3, wrt=(0, 1)),
    # RNNs and model-like programs
    case(c.rnn, rnn_params(), _rand(11, 4, 2), _rand(12, 3, scale=0.3), id="rnn-wrt0"),
    case(c.rnn, rnn_params(), _rand(11, 4, 2), _rand(12, 3, scale=0.3), wrt=(0, 2), id="rnn-wrt02"),
    case(c.rnn, rnn_params(), np.zeros((0, 2)), _rand(12, 3), wrt=(0, 2), id="rnn-zero-steps"),
    case(c.rnn_loss_per_step, rnn_params(), _rand(13, 4, 2), _rand(14, 4, 3, scale=0.5)),
    case(c.mse_over_batch, W23.T.copy(), M43, _rand(15, 4, 2)),
    case(c.unrolled_gradient_descent, X3, Y3, wrt=(0, 1)),
    case(c.power_iteration, SYM, X3, wrt=(0, 1)),
    case(c.cumulative_product, X3),
    case(c.softmax_loop, X3, [0.5, 1.5, -1.0], wrt=(0, 1)),
    case(c.layers_in_dict_list, mlp_params(), _rand(24, 2, 3)),
    case(c.scalar_loop, 0.8, 1.3, wrt=(0, 1)),
    # assignment into arrays
    case(c.set_item_in_loop, X3),
    case(c.set_item_in_branch, X3, id="set_item_in_branch-then"),
    case(c.set_item_in_branch, -X3, id="set_item_in_branch-else"),
    case(c.aug_item_in_loop, X3),
    case(c.set_item_recurrence, X4),
    case(c.set_item_in_argument, X4, X4[::-1].copy(), wrt=(0, 1)),
    case(c.set_slice_in_while, X4),
    # break, continue, return inside blocks
    case(c.break_in_while, X3, id="break_in_while-breaks"),
    case(c.break_in_while, np.array([0.05, 0.02, -0.03]), id="break_in_while-zero-trips"),
    case(c.break_in_for, X3, id="break_in_for-breaks-last"),
    case(c.break_in_for, POS3, id="break_in_for-breaks-third"),
    case(c.break_in_for, Y3, id="break_in_for-no-break"),
    case(c.break_in_nested_loop, X3),
    case(c.newton_with_break, np.array([2.0, 0.5, 3.0])),
    case(c.continue_in_for, X3),
    case(c.continue_in_while, X3),
    case(c.return_in_if, X3, id="return_in_if-returns"),
    case(c.return_in_if, -X3, id="return_in_if-falls-through"),
    case(c.return_in_else, X3, id="return_in_else-falls-through"),
    case(c.return_in_else, -X3, id="return_in_else-returns"),
    case(c.return_in_for, X3),
    case(c.return_in_while, X3, id="return_in_while-returns"),
    case(c.return_in_while, np.array([0.04, 0.03, 0.02]), id="return_in_while-zero-trips"),
    case(c.return_in_loop_in_branch, X3, Y3, wrt=(0, 1), id="return_in_loop_in_branch-then"),
    case(c.return_in_loop_in_branch, X3, -Y3, wrt=(0, 1), id="return_in_loop_in_branch-else"),
    # the user's own helpers and nested defs, lists built with append
    case(c.helper_in_loop, X3),
    case(c.helper_in_branch, X3, id="helper_in_branch-then"),
    case(c.helper_in_branch, -X3, id="helper_in_branch-else"),
    case(c.helper_with_control_flow_in_loop, X3),
    case(c.nested_def_in_branch, X3, id="nested_def_in_branch-then"),
    case(c.nested_def_in_branch, -X3, id="nested_def_in_branch-else"),
    case(c.append_in_loop, X3),
    case(c.append_straight_line, X3),
    case(c.append_then_stack, M43, X3, wrt=(0, 1)),
    case(c.subscript_assign_nested, X3),
    # minimal reproducers of failures this corpus found on earlier revisions
    case(c.min_loop_var_shadows_active, X3),
    case(c.nested_def_captures_active, X3),
    case(c.min_while_in_for, np.array([1.5])),
    case(
        c.min_loop_over_ragged_list,
        [np.ones((2, 3)), np.ones((1, 2))],
        X3,
        wrt=(0, 1),
    ),
    case(
        c.min_index_ragged_list_in_loop,
        [np.ones((2, 3)), np.ones((1, 2))],
        X3,
        wrt=(0, 1),
    ),
    case(c.min_vector_dot, X3, Y3, wrt=(0, 1)),
    case(c.min_iterate_rebound_array, np.array([2.0, 3.0]), id="min_iterate_rebound_array"),
    case(c.min_iterate_rebound_array, X3, id="min_iterate_rebound_array-3"),
    case(c.min_value_of_output_overwritten_in_loop, 1.5),
    case(c.min_value_of_output_overwritten_in_branch, X3),
    case(c.min_helper_in_branch_reads_overwritten, X3),
    case(c.min_nested_def_in_branch_value, X3),
    case(c.min_write_then_iterate, X3),
    case(c.min_iterate_then_write, X3),
    case(c.min_element_read_then_write, X3),
    case(c.min_element_read_rebound_then_write, X3),
    case(c.set_item_through_alias, X3, id="set_item_through_alias-followed"),
    case(
        c.broadcast_up_in_loop,
        np.array([0.3, -0.2, 0.5]),
        np.linspace(-1.0, 1.0, 24).reshape(2, 4, 3),
        wrt=(0, 1),
    ),
]

BY_ID = {k.id: k for k in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
CORPUS_PROGRAMS = sorted({k.fn.__name__ for k in CASES})
VARIANTS = ("specialised", "shapes", "generic")


def _params():
    for k in CASES:
        for variant in VARIANTS:
            marks = ()
            if variant in k.xfail:
                marks = pytest.mark.xfail(strict=True, reason=k.xfail[variant])
            yield pytest.param(k.id, variant, id=f"{k.id}-{variant}", marks=marks)


_EXPECTED = {}


def _expected(k):
    if k.id not in _EXPECTED:
        _EXPECTED[k.id] = expected_gradient(k.fn, k.args, k.wrt)
    return _EXPECTED[k.id]


def test_corpus_has_at_least_60_programs():
    assert len(CORPUS_PROGRAMS) >= 60, len(CORPUS_PROGRAMS)


@pytest.mark.parametrize("case_id,variant", list(_params()))
def test_gradient_matches_finite_differences(case_id, variant):
    k = BY_ID[case_id]
    check(k.fn, k.args, k.wrt, variant, _expected(k))


def _value_params():
    for k in CASES:
        marks = ()
        if k.xfail.get("specialised"):
            marks = pytest.mark.xfail(strict=True, reason=k.xfail["specialised"])
        yield pytest.param(k.id, id=k.id, marks=marks)


@pytest.mark.parametrize("case_id", list(_value_params()))
def test_value_and_grad_value_matches_python(case_id):
    k = BY_ID[case_id]
    value, grads = sg.value_and_grad(k.fn, k.wrt)(*k.args)
    expected = k.fn(*copy.deepcopy(k.args))
    assert value is not None, "value is None"
    np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=f"{k.fn.__name__}: value")


def test_aux_overwritten_in_a_loop_is_returned_with_its_final_value():
    g, aux = sg.grad(c.min_aux_overwritten_in_loop, has_aux=True)(X3)
    np.testing.assert_allclose(aux, c.min_aux_overwritten_in_loop(X3)[1], rtol=1e-12)
    np.testing.assert_allclose(g, np.cos(np.sin(X3)) * np.cos(X3), rtol=1e-12)


# ------------------------------------------------------------------ not supported yet


def line_of(tag: str) -> int:
    for n, line in enumerate(Path(CORPUS_FILE).read_text().splitlines(), start=1):
        if line.rstrip().endswith(tag):
            return n
    raise LookupError(tag)


REFUSALS = [
    "set_item_while_iterating",
    "subscript_assign_nested_shared",
    "try_in_loop",
]


@pytest.mark.parametrize("name", ["for_else", "while_else"])
def test_loop_else_runs_after_the_loop(name):
    """A loop's ``else`` (once refused) runs where the loop ends without ``break``: Python's
    value and central differences, on the first and later calls."""
    fn = getattr(c, name)
    vg = sg.value_and_grad(fn)
    eps, x = 1e-6, X3 * 1.3  # (X3's sum halves onto the while loop's threshold)
    want = np.array([(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])
    for _ in range(3):
        value, grad = vg(x)
        assert value == fn(x)
        np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", REFUSALS)
def test_unsupported_construct_is_refused_with_file_and_line(name):
    fn = getattr(c, name)
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(fn)(X3)
    message = str(info.value)
    assert f"{CORPUS_FILE}:{line_of('REFUSE: ' + name)}:" in message, message
    assert info.value.filename == CORPUS_FILE
    assert info.value.lineno == line_of("REFUSE: " + name)


@pytest.mark.parametrize(
    "fn, line",
    [(c.min_iterate_then_write, "y[0] = 0.0"), (c.min_element_read_then_write, "y[1] = 0.0")],
)
def test_rank_generic_code_refuses_a_view_when_it_runs(fn, line):
    """Rank-generic code reads an item of an array written into afterwards where its rank is
    not known: a number (a vector's item) is differentiated; a view (a matrix's row) is refused
    when it runs, at the user's line of the write, as a build for known ranks refuses it."""
    df = sg.grad(fn)
    with pytest.raises(sg.SourcegradError) as info:
        df.generic(np.arange(6.0).reshape(3, 2))
    lines, first = inspect.getsourcelines(fn)
    at = first + next(i for i, text in enumerate(lines) if line in text)
    assert str(info.value).startswith(f"{inspect.getsourcefile(fn)}:{at}: ")
    assert "explicit copy" in str(info.value)
