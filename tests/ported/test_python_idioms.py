"""Python idioms around the numerics: higher-order builtins (map, filter and functools.reduce
lowered to comprehensions and loops; sorted refused), lambdas and closures built in comprehensions, methods and static methods, printing,
f-strings, assert, getattr, default and keyword-only arguments, recursion over dicts. Ported in
spirit from HIPS/autograd tests/test_builtins.py and test_graphs.py (enclosing scope), JAX's
api_test.py (closures, python callables) and the PyTorch "defining new autograd functions"
tutorial's plain-Python losses."""

from __future__ import annotations

import functools
import sys

import numpy as np
import numpy as onp
import pytest

import sourcegrad as sg

from .harness import Case, assert_tree_close, check, numerical, params

R = np.random.default_rng(71)
X = R.standard_normal(3)
Y = R.standard_normal(3)
M = R.standard_normal((3, 3))
GW = np.arange(3.0)


def use_map(xs):
    return sum(map(np.sum, xs))


def use_filter(x):
    return sum(v * v for v in filter(lambda v: v > 0, x))


def use_reduce(x):
    return functools.reduce(lambda a, b: a * b, x)


def sorted_key(xs):
    s = sorted(xs, key=lambda v: np.sum(v))
    return np.sum(s[0] * 2.0 + s[1])


def tolist_call(x):
    lst = x.tolist()
    return lst[0] * x[1]


def any_all(x):
    if any(x > 2.0) or all(x < -2.0):
        return np.sum(x)
    return np.sum(x**2)


def item_call(x):
    return x[0].item() * x[1]


def np_float64_cast(x):
    return np.float64(np.sum(x)) ** 2


def print_inside(x):
    y = np.sum(x**2)
    print("loss", y)
    return y


def getattr_np(x):
    fn = getattr(np, "tanh")  # noqa: B009
    return np.sum(fn(x))


def fstring(x):
    s = f"{np.sum(x):.3f}"
    return np.sum(x) * len(s)


def keyword_np(x):
    return np.sum(a=x**2, axis=0)


def default_mutable(x, opts={"k": 2.0}):  # noqa: B006
    return np.sum(x * opts["k"])


def kwonly_default(x, *, k=3.0):
    return np.sum(x**2) * k


def closure_factory_local(x):
    def make(k):
        return lambda v: v * k

    f = make(3.0)
    return np.sum(f(x) ** 2)


def lambda_immediate(x):
    return np.sum((lambda v: v**3)(x))


def lambdas_in_comprehension(x):
    fs = [lambda v, k=k: v * k for k in range(1, 4)]
    return np.sum(fs[0](x)) + np.sum(fs[2](x))


def lambdas_in_comprehension_sum(x):
    fs = [lambda v, k=k: v * k for k in range(1, 4)]
    return sum(np.sum(f(x)) for f in fs)


def lambdas_in_comprehension_renamed(x):
    fs = [lambda v, j=k: v * j for k in range(1, 4)]
    return np.sum(fs[0](x)) + np.sum(fs[2](x))


def lambdas_appended_in_loop(x):
    fs = []
    for k in range(1, 4):
        fs.append(lambda v, k=k: v * k)
    return np.sum(fs[0](x)) + np.sum(fs[2](x))


def lambda_shadows_local(x):
    k = 2.0
    k = k + 1.0
    g = lambda v, k=1.0: v * k  # noqa: E731
    return np.sum(g(x)) * k


def comprehension_shadows_local(x):
    i = 10.0
    s = sum(x[i] for i in range(3))
    return s * i


class Model:
    def __init__(self, k):
        self.k = k

    def loss(self, x):
        return np.sum(np.tanh(x) * self.k)


class _Util:
    @staticmethod
    def sq(v):
        return np.sum(v * v)


def method_of_new_object(x):
    return Model(2.0).loss(x)


def static_method(x):
    return _Util.sq(x)


def conditional_expression_chain(x):
    a = np.sum(x)
    return a * 2.0 if a > 1 else (a * 3.0 if a > 0 else a * 4.0)


def assert_with_message(x):
    assert np.all(np.isfinite(x)), "bad"
    return np.sum(x**2)


def pass_statement(x):
    if np.sum(x) > 100:
        pass
    return np.sum(x**2)


def augassign_dict_entry(d):
    out = {"a": d["a"] * 1.0}
    out["a"] += d["b"]
    return np.sum(out["a"] ** 2)


def double_generator(m):
    return sum(m[i, j] ** 2 for i in range(m.shape[0]) for j in range(m.shape[1]) if i != j)


def zip_unpack_nested(d):
    t = 0.0
    for _k, (a, b) in zip(["x", "y"], [d["x"], d["y"]]):
        t = t + np.sum(a * b)
    return t


def matmul_augassign(m):
    y = m * 1.0
    y @= m
    return np.sum(y)


def global_array_read(x):
    return np.sum(x * GW)


def recursion_on_dict(d, depth):
    if depth == 0:
        return np.sum(d["w"] ** 2)
    return recursion_on_dict({"w": d["w"] * 1.5}, depth - 1) + np.sum(d["w"])


# user names that the generated code also uses (tape, d, dx, out, helpers' names)
def names_tape(x):
    tape = x * 2.0
    out = np.sum(tape**2)
    return out


def names_d(x):
    d = x * 3.0
    dx = d * x
    return np.sum(dx)


def names_helpers(x):
    sum_to = x * 2.0
    unreduce = sum_to * x
    gradient_like = np.sum(unreduce)
    return gradient_like


def names_result(x):
    result = np.sum(x)
    returned = result * 2.0
    cond = returned > 0
    value = returned * result
    if cond:
        return value
    return -value


def names_items(x):
    items = [x, x * 2.0]
    n = len(items)
    k = 0
    v = items[k]
    return np.sum(v * items[1]) * n


def names_g_out(x):
    g_out = x * 2.0
    t = np.sum(g_out**2)
    tx = t * 3.0
    return tx


def alias_numpy(x):
    return onp.sum(onp.sin(x) ** 2)


def shadow_np_local(x):
    np_ = 3.0
    return np.sum(x * np_)


def local_named_like_global(x):
    K = x * 2.0
    return np.sum(K**2)


def dx_name_arg(dx):
    return np.sum(dx**3)


def arg_named_d(d, x):
    return np.sum(d * x**2)


def name_vjp_of(x):
    vjp_of = np.sin(x)
    zero_index = vjp_of * 2.0
    unindex = zero_index + x
    return np.sum(unindex**2)


def name_through_cast(x):
    through_cast = x * 2.0
    unsum = np.sum(through_cast)
    build_gradient = unsum * 2.0
    return build_gradient


def name_tangent(x, tx):
    return np.sum(x**2 * tx)


NR = (sg.NoRuleError, "sourcegrad.defvjp(")
CASES = [
    Case("map", use_map, ([X, Y],), order=2),
    Case("filter", use_filter, (X,), order=2),
    Case("functools_reduce", use_reduce, (X,), order=2),
    Case("sorted_with_key", sorted_key, ([X, Y],), order=2),
    Case("tolist", tolist_call, (X,), order=2),
    Case("any_all", any_all, (X,), order=2),
    Case("item", item_call, (X,), order=2),
    Case("np_float64_cast", np_float64_cast, (X,), order=2),
    Case("print_inside", print_inside, (X,), order=2),
    Case("getattr_np", getattr_np, (X,), order=2),
    Case("fstring", fstring, (X,), order=2),
    Case("keyword_array_argument", keyword_np, (X,), order=2),
    Case("mutable_default", default_mutable, (X,), order=2),
    Case("kwonly_default", kwonly_default, (X,), order=2),
    Case("closure_factory_local", closure_factory_local, (X,), order=2),
    Case("lambda_immediate", lambda_immediate, (X,), order=2),
    Case(
        "lambdas_in_comprehension",
        lambdas_in_comprehension,
        (X,),
        order=2,
    ),
    Case(
        "lambdas_in_comprehension_sum",
        lambdas_in_comprehension_sum,
        (X,),
        order=2,
    ),
    Case("lambdas_in_comprehension_renamed", lambdas_in_comprehension_renamed, (X,), order=2),
    Case("lambdas_appended_in_loop", lambdas_appended_in_loop, (X,), order=2),
    Case("lambda_shadows_local", lambda_shadows_local, (X,), order=2),
    Case("comprehension_shadows_local", comprehension_shadows_local, (X,), order=2),
    Case("method_of_new_object", method_of_new_object, (X,), order=2),
    Case("static_method", static_method, (X,), order=2),
    Case("conditional_expression_chain", conditional_expression_chain, (X,), order=2),
    Case("assert_with_message", assert_with_message, (X,), order=2),
    Case("pass_statement", pass_statement, (X,), order=2),
    Case("augassign_dict_entry", augassign_dict_entry, ({"a": X, "b": Y},), order=2),
    Case("double_generator", double_generator, (M,), order=2),
    Case("zip_unpack_nested", zip_unpack_nested, ({"x": (X, Y), "y": (Y, X)},), order=2),
    Case("matmul_augassign", matmul_augassign, (M,), order=2),
    Case("global_array_read", global_array_read, (X,), order=2),
    Case("recursion_on_dict", recursion_on_dict, ({"w": X}, 3), order=2),
    Case("names_tape_out", names_tape, (X,), order=2),
    Case("names_d_dx", names_d, (X,), order=2),
    Case("names_runtime_helpers", names_helpers, (X,), order=2),
    Case("names_result_returned_cond", names_result, (X,), order=2),
    Case("names_items_n_k_v", names_items, (X,), order=2),
    Case("names_g_out_tx", names_g_out, (X,), order=2),
    Case("numpy_alias", alias_numpy, (X,), order=2),
    Case("local_np_", shadow_np_local, (X,), order=2),
    Case("local_shadows_global", local_named_like_global, (X,), order=2),
    Case("argument_named_dx", dx_name_arg, (X,), order=2),
    Case("argument_named_d", arg_named_d, (X, Y), wrt=(0, 1), order=2),
    Case("names_vjp_of_unindex", name_vjp_of, (X,), order=2),
    Case("names_through_cast_unsum", name_through_cast, (X,), order=2),
    Case("argument_named_tx", name_tangent, (X, Y), wrt=0, order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_python_idiom(case, capsys):
    check(case)


# ------------------------------------------------------------------ calls that change what runs
# (JAX api_test's retracing tests: a derivative object called again with other shapes, other
# branches, other loop counts and changed globals must follow, never reuse the first call)

K = 2.0


def uses_global(x):
    return np.sum(np.sin(x) * K)


def branchy(x):
    if np.sum(x) > 0:
        return np.sum(x**3)
    return np.sum(np.exp(x))


def loopy(x, n):
    h = x
    for _ in range(n):
        h = np.tanh(h) * 1.5
    return np.sum(h**2)


def rank_dependent(x):
    return np.sum(x @ x.T) if x.ndim == 2 else np.sum(x * x)


def broadcast_pair(x, y):
    return np.sum((x + y) ** 2)


def _close(f, args, got, wrt=0):
    assert_tree_close(got, numerical(f, args, wrt), 1e-5, 1e-6, f.__name__)


def test_global_changed_between_calls(monkeypatch):
    df = sg.grad(uses_global)
    for k in (2.0, 2.0, 5.0, -1.0):
        monkeypatch.setattr(sys.modules[__name__], "K", k)
        _close(uses_global, (X,), df(X))


def test_branch_changes_between_calls():
    df = sg.grad(branchy)
    for x in (X, -np.abs(X), np.abs(X), -np.abs(X), 2 * X):
        _close(branchy, (x,), df(x))


def test_loop_count_changes_between_calls():
    df = sg.grad(loopy)
    for n in (2, 2, 0, 5, 1, 2):
        _close(loopy, (X, n), df(X, n))


def test_rank_changes_between_calls():
    df = sg.grad(rank_dependent)
    for x in (X, X, M[:2], M[:2], R.standard_normal(5), X):
        _close(rank_dependent, (x,), df(x))


def test_broadcast_pattern_changes_between_calls():
    df = sg.grad(broadcast_pair, (0, 1))
    pairs = [(X, 1.0), (X, 1.0), (X, Y), (X, Y), (M, X), (X, M), (0.5, X), (0.5, 0.25)]
    for a, b in pairs:
        ga, gb = df(a, b)
        _close(broadcast_pair, (a, b), ga, 0)
        _close(broadcast_pair, (a, b), gb, 1)
