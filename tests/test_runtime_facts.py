"""The facts runtime helpers declare where they are defined (``sourcegrad/runtime/facts.py``),
and the facts the rule families declare of NumPy's functions (``sourcegrad/rules/facts.py``)."""

import inspect
from types import SimpleNamespace

import gast
import numpy as np
import pytest

from .internals import HELPER_FACTS, HELPERS, NAMESPACE, TANGENTS, helpers_where, lookup_tangent
from .internals import facts_rules as F


def test_every_helper_generated_code_can_call_declares_its_facts():
    undeclared = sorted(name for name in NAMESPACE if name not in HELPER_FACTS)
    assert undeclared == []


def test_every_declared_helper_generated_code_calls_is_in_the_namespace():
    """A helper module missing from ``runtime``'s list leaves its helpers out of NAMESPACE (the
    forward pass and the dtype rewrite would not know them) and its tangent rules unmade."""
    missing = sorted(
        name
        for name, fn in HELPERS.items()
        if HELPER_FACTS[name].called_by != "library" and NAMESPACE.get(name) is not fn
    )
    assert missing == []


@pytest.mark.parametrize("name", sorted(NAMESPACE))
def test_helper_called_by_the_derivative_has_a_tangent_rule(name):
    """Generated code is differentiated again in forward mode: a helper the derivative calls
    needs a tangent rule (or must be declared constant)."""
    facts = HELPER_FACTS[name]
    if not facts.needs_tangent:
        pytest.skip(f"{name} is called by {facts.called_by} code only")
    assert lookup_tangent(NAMESPACE[name]) is not None, name
    ways = [bool(facts.linear), facts.constant, facts.tangent_rule]
    assert sum(ways) == 1, f"{name}: declare exactly one of linear, constant, tangent_rule"


@pytest.mark.parametrize("name", sorted(n for n, f in HELPER_FACTS.items() if f.linear))
def test_linear_helper_tangent_rule_takes_its_own_parameters(name):
    fn = HELPERS[name]
    rule = TANGENTS[fn]
    params = list(inspect.signature(fn).parameters)
    assert rule.params == params
    assert set(HELPER_FACTS[name].linear) <= set(params)
    assert rule.differentiable == frozenset(HELPER_FACTS[name].linear)
    calls = [s.value for s in rule.body]
    assert all(isinstance(c, gast.Call) and c.func.id == name for c in calls)


@pytest.mark.parametrize("name", sorted(n for n, f in HELPER_FACTS.items() if f.like))
def test_like_names_a_parameter(name):
    if name not in HELPERS:
        pytest.skip("declared by name")
    assert HELPER_FACTS[name].like in inspect.signature(HELPERS[name]).parameters


def test_helper_fact_queries_give_the_transform_modules_lists():
    """The helper lists the optimize and simplify passes query: what they were when they
    were written out by hand, so that a new declaration that changes them is noticed."""
    copying = {"zero_adjoint", "unindex_shaped", "zero_index", "sum_leading", "contract", "copied"}
    copying |= {"given_seed"}  # (its seed given away by the caller: the vjp's own array)
    copying |= {"zero_tangent"}  # (zeros of the value's shape: a tangent written into in place)
    assert helpers_where(allocates="new") == copying  # optimize._COPYING_HELPERS
    fresh = helpers_where(allocates="new") | helpers_where(allocates="outer")
    # (assign_tangent: a new array, or a new container of the tangent's items)
    assert fresh == copying | {"unindex", "picked_adjoint", "sorted_adjoint", "assign_tangent"}
    passing = {"sum_to", "unreduce", "expand_to", "gradient_like", "seed_like"}
    passing |= {"not_a_view", "write_tangent"}  # (the item checked; the tangent written into)
    passing |= {"an_array"}  # (a followed view, checked)
    passing |= {"through_write"}  # (the derivative, where the array written into is floating)
    passing |= {"in_place_result"}  # (the update's value, where it keeps the array's dtype)
    passing |= {"refuse_singular_logdet"}  # (the matrix, where it is invertible)
    assert helpers_where(passes=True) == passing  # simplify._PASSTHROUGH_HELPERS
    checking = {"not_a_view", "an_array", "in_place_result"}  # (they raise where a check fails)
    checking |= {"refuse_singular_logdet"}
    assert helpers_where(checks=True) == checking  # classify.CHECKING_HELPERS


def test_helper_tangent_of_sum_tangents_is_linear():
    from .internals import sum_tangents

    assert sum_tangents([np.ones(2), None, 2 * np.ones(2)]).tolist() == [3.0, 3.0]
    assert TANGENTS[sum_tangents].differentiable == frozenset({"ts"})


# ----------------------------------------------------------------------------- NumPy's facts

FRESH_FUNCTIONS = {
    "zeros_like", "ones_like", "full_like", "empty_like", "outer", "dot", "matmul", "inner",
    "tensordot", "copy", "concatenate", "stack", "where", "sum", "mean", "prod", "cumsum",
    "var", "std", "max", "min", "amax", "amin", "clip", "vdot",
    "median", "quantile", "percentile", "average", "nansum", "nanmean", "convolve", "correlate",
}  # fmt: skip
FRESH_LINALG = {
    "inv", "pinv", "solve", "lstsq", "det", "slogdet", "norm", "vector_norm", "matrix_norm",
    "cholesky", "qr", "svd", "svdvals", "eig", "eigh", "eigvals", "eigvalsh", "cond",
    "matrix_rank", "tensorinv", "tensorsolve", "multi_dot", "outer", "cross", "vecdot",
    "matmul", "tensordot", "trace",
}  # fmt: skip
VIEW_FUNCTIONS = {
    "reshape", "ravel", "transpose", "squeeze", "expand_dims", "asarray", "ascontiguousarray",
    "broadcast_to", "atleast_1d", "atleast_2d", "swapaxes", "moveaxis", "array", "einsum",
}  # fmt: skip


def test_allocation_facts_give_the_pool_lists():
    """The allocation lists the optimizer queries (escape.FRESH_FUNCTIONS, FRESH_LINALG, the
    view functions, ownership.FRESH_NUMPY): what they were when written out by hand."""
    assert F.numpy_names(allocates="new") == FRESH_FUNCTIONS
    assert F.numpy_names(np.linalg, allocates="new") == FRESH_LINALG
    assert F.numpy_names(allocates="view") == VIEW_FUNCTIONS
    created = {"zeros", "ones", "full", "empty", "eye", "arange", "linspace"}
    assert F.numpy_names(allocates="created") == created


def test_reductions():
    reductions = {np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.var, np.std}
    assert {k for k, f in F.FACTS.items() if f.reduction} == reductions
    assert F.numpy_names(dtype="reduced") == {"sum", "mean", "max", "min", "prod", "amax", "amin"}


def _op(key, *operands, **bound):
    return SimpleNamespace(key=key, operands=list(operands), bound=bound)


def _name(n):
    return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)


def _const(v):
    return gast.Constant(value=v, kind=None)


RANKS = {"x": 2, "v": 1, "s": 0, "i": 0, "u": None}


@pytest.mark.parametrize(
    "op, rank",
    [
        (_op(np.add, _name("x"), _name("v")), 2),
        (_op(np.add, _name("x"), _name("u")), None),
        (_op(np.tanh, _name("v")), 1),
        (_op("item", _name("x")), 0),
        (_op(np.sum, _name("x"), a=_name("x"), axis=_const(None), keepdims=_const(False)), 0),
        (_op(np.sum, _name("x"), a=_name("x"), axis=_const(1), keepdims=_const(False)), 1),
        (_op(np.sum, _name("x"), a=_name("x"), axis=_const(1), keepdims=_const(True)), 2),
        (_op(np.matmul, _name("x"), _name("v"), x1=_name("x"), x2=_name("v")), 1),
        (_op(np.dot, _name("s"), _name("x"), a=_name("s"), b=_name("x")), 2),
        (_op(np.matmul, _name("s"), _name("x"), x1=_name("s"), x2=_name("x")), None),
        (_op("getitem", _name("x"), gast.Tuple(elts=[_name("i"), _const(None)], ctx=None)), 2),
        (_op(np.linalg.det, _name("x")), 0),
        (_op(np.outer, _name("v"), _name("v")), 2),
        (_op(np.eye, _name("i")), 2),
        (_op(np.identity, _name("u")), 2),
        (_op(np.where, _name("x"), _name("v"), _const(None)), 2),
        (_op("shape", _name("x")), 1),
        (_op(len, _name("x")), 0),
        (_op(np.floor_divide, _name("s"), _name("s")), 0),  # every ufunc: elementwise
        (_op(np.sinh, _name("u")), None),
        (_op(print, _name("x")), None),  # no facts: nothing assumed
    ],
)
def test_rank_facts(op, rank):
    assert F.rank_of(op, RANKS) == rank


def test_shape_facts():
    known = {"x": (3, 4), "b": (4,), "m": (4, 5)}
    add = _op(np.add, _name("x"), _name("b"))
    assert F.shape_of(add, known) == (3, 4)
    matmul = _op(np.matmul, _name("x"), _name("m"))
    assert F.shape_of(matmul, known) == (3, 5)
    total = _op(np.sum, _name("x"), a=_name("x"), axis=_const(0), keepdims=_const(True))
    assert F.shape_of(total, known) == (1, 4)
    swap = _op(np.transpose, _name("x"), a=_name("x"), axes=_const(None))
    assert F.shape_of(swap, known) == (4, 3)
    assert F.shape_of(_op(np.linalg.inv, _name("x")), known) is None  # not declared


def test_declare_refuses_unknown_fact_values():
    with pytest.raises(ValueError):
        F.declare("nothing", dtype="whatever")
    with pytest.raises(ValueError):
        F.declare("nothing", allocates="sometimes")
    assert "nothing" not in F.FACTS
