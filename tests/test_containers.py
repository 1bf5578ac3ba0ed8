"""Containers as values: parameters in dicts, lists, tuples and namedtuples, read in loops and
through helpers, and containers the function builds itself (displays, comprehensions, list
methods, dict methods). Each program is checked through the public API: the value against
Python's own, the gradient against central differences on the first three calls (the code
specialised to the arguments runs from the second), and the Hessian-vector product against
central differences of the gradient."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import sourcegrad as sg

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3))
W0, B0 = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
W1, B1 = RNG.standard_normal((4, 2)), RNG.standard_normal(2)
Layer = namedtuple("Layer", "W b")


def leaves(t):
    if isinstance(t, str):
        return []  # a name in the structure: no derivative
    if isinstance(t, dict):
        return [leaf for k in t for leaf in leaves(t[k])]
    if isinstance(t, (list, tuple)):
        return [leaf for v in t for leaf in leaves(v)]
    return [t]


def tree_map(f, *trees):
    t = trees[0]
    if isinstance(t, dict):
        return type(t)({k: tree_map(f, *[u[k] for u in trees]) for k in t})
    if isinstance(t, tuple) and hasattr(t, "_fields"):
        return type(t)(*[tree_map(f, *z) for z in zip(*trees)])
    if isinstance(t, (list, tuple)):
        return type(t)(tree_map(f, *z) for z in zip(*trees))
    if isinstance(t, str):
        return t
    return f(*trees)


def structure(t):
    return tree_map(lambda leaf: None, t)


def numerical_tree_grad(f, params, *rest, eps=1e-6):
    def at(p):
        return float(f(p, *rest))

    out = []
    flat = leaves(params)
    for i, leaf in enumerate(flat):
        g = np.zeros(np.shape(leaf))
        for idx in np.ndindex(np.shape(leaf)):

            def moved(delta, i=i, idx=idx):
                copies = [np.array(v, dtype=float, copy=True) for v in flat]
                copies[i][idx] += delta
                it = iter(copies)
                return tree_map(lambda v: _like(v, next(it)), params)

            g[idx] = (at(moved(eps)) - at(moved(-eps))) / (2 * eps)
        out.append(g)
    return out


def _like(original, value):
    return float(value) if isinstance(original, float) else value


def fresh(params):
    return tree_map(lambda v: v if isinstance(v, float) else np.array(v, copy=True), params)


# ------------------------------------------------------------------ the programs


def dense(p, h):
    return np.tanh(h @ p["W"] + p["b"])


def forward_layers(layers, x):
    for p in layers:
        x = dense(p, x)
    return x


def dict_to_helper(params, x):
    h = dense(params["l0"], x)
    return np.sum(dense(params["l1"], h) ** 2)


def for_tuples(params, x):
    h = x
    for W, b in params:
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def for_enumerate_tuples(params, x):
    h = x
    for i, (W, b) in enumerate(params):
        h = np.tanh(h @ W + b) * (i + 1.0)
    return np.sum(h**2)


def for_dicts(params, x):
    h = x
    for p in params:
        h = np.tanh(h @ p["W"] + p["b"])
    return np.sum(h**2)


def index_dicts(params, x):
    h = x
    for i in range(len(params)):
        h = np.tanh(h @ params[i]["W"] + params[i]["b"])
    return np.sum(h**2)


def for_keys(params, x):
    h = x
    for k in params:
        h = dense(params[k], h)
    return np.sum(h**2)


def for_items(params, x):
    h = x
    for _name, p in params.items():
        h = np.tanh(h @ p["W"] + p["b"])
    return np.sum(h**2)


def for_values(params, x):
    h = x
    for p in params.values():
        h = dense(p, h)
    return np.sum(h**2)


def list_to_two_helpers(params, x):
    a = forward_layers(params, x)
    b = forward_layers(params, 2.0 * x)
    return np.sum(a**2) + np.sum(a * b)


def for_namedtuples(params, x):
    h = x
    for p in params:
        h = np.tanh(h @ p.W + p.b)
    return np.sum(h**2)


def comprehension_and_decay(params, x):
    hs = [np.tanh(x @ p["W"][:, :2]) for p in params[:1]]
    decay = sum(np.sum(p["W"] ** 2) for p in params)
    return np.sum(hs[0] ** 2) + 0.1 * decay


def dict_get(params, x):
    layer = {"W": params.get("W0"), "b": params.get("b_missing", 0.5)}
    return np.sum(dense(layer, x) ** 2)


def cache_and_outputs(params, x):
    cache = {"h": x}
    outs = []
    for p in params:
        cache["h"] = dense(p, cache["h"])
        outs.append(cache["h"])
    outs.extend([x])
    return np.sum(outs[0] ** 2) + np.sum(outs[1]) + np.sum(outs[2])


def list_display_to_helper(params, x):
    return weight_decay([params[0]["W"], params[1]["W"]]) + np.sum(dense(params[0], x))


def display_with_a_constant_to_helper(params, x):
    return weight_decay([params[0]["W"], np.ones((3, 4))]) + np.sum(dense(params[0], x))


def weight_decay(Ws):
    return sum(np.sum(W**2) for W in Ws)


def nested_local_containers(params, x):
    state = {"layers": [(params[0]["W"], 2.0 * params[0]["b"]), (params[1]["W"], params[1]["b"])]}
    h = x
    for W, b in state["layers"]:
        h = np.tanh(h @ W + b)
    return np.sum(h**2)


def helper_returns_dict(params, x):
    out = two_views(params[0], x)
    return np.sum(out["h"] * out["z"])


def two_views(p, x):
    z = x @ p["W"]
    return {"h": np.tanh(z + p["b"]), "z": z}


def list_methods(params, x):
    hs = [x @ params[0]["W"]]
    hs += [np.tanh(hs[0])]
    hs.insert(0, hs[1] * 2.0)
    ys = hs + [params[0]["b"] * 1.0]
    ys.reverse()
    first = ys.pop(0)
    zs = ys * 2
    return np.sum(first * zs[0]) + np.sum(zs[3] ** 2) + np.sum(zs[-1])


def dict_built_by_keywords(params, x):
    d = dict(a=x @ params[0]["W"], b=params[0]["b"])
    d["c"] = np.tanh(d["a"] + d["b"])
    return np.sum(d["c"] ** 2)


def tuple_argument(params, x):
    W, b = params
    return np.sum(np.tanh(x @ W + b) ** 2)


def dict_comprehension(params, x):
    scaled = {name: p["W"] * (i + 1.0) for i, (name, p) in enumerate(params.items())}
    return np.sum(np.tanh(x @ scaled["l0"]) @ scaled["l1"])


def dict_of_pairs(params, x):
    p = dict([("W", params["l0"]["W"]), ("b", params["l0"]["b"])])
    q = dict(zip(["W", "b"], [params["l1"]["W"], params["l1"]["b"]]))
    return np.sum(dense(q, dense(p, x)) ** 2)


def windows(params, x):
    h = dense(params["l0"], x)  # (4, 4)
    w = sliding_window_view(h, (2, 2))  # (3, 3, 2, 2)
    return np.sum(np.tanh(np.einsum("ijkl,kl->ij", w, params["l1"]["W"][:2, :2])) ** 2)


def pairs_with_names(params, x):
    p = dict(params)
    return np.sum(dense(p, x) ** 2)


def starred_hidden_last(params, x):
    *hidden, last = params
    for p in hidden:
        x = dense(p, x)
    return np.sum((x @ last["W"] + last["b"]) ** 2)


def starred_first_rest(params, x):
    (W, b), *rest = params
    h = np.tanh(x @ W + b)
    for W2, b2 in rest:
        h = np.tanh(h @ W2 + b2)
    return np.sum(h**2) + len(rest)


def starred_middle(params, x):
    first, *middle, last = params
    return np.sum(dense(first, x)) + len(middle) + np.sum(dense(last, x[:, :1] * np.ones(4)))


DICTS = {"l0": {"W": W0, "b": B0}, "l1": {"W": W1, "b": B1}}
TUPLES = [(W0, B0), (W1, B1)]
LIST_OF_DICTS = [{"W": W0, "b": B0}, {"W": W1, "b": B1}]
NAMEDTUPLES = [Layer(W0, B0), Layer(W1, B1)]

CASES = [
    (dict_to_helper, DICTS),
    (for_tuples, TUPLES),
    (tuple_argument, (W0, B0)),
    (for_enumerate_tuples, TUPLES),
    (for_dicts, LIST_OF_DICTS),
    (index_dicts, LIST_OF_DICTS),
    (for_keys, DICTS),
    (for_items, DICTS),
    (for_values, DICTS),
    (list_to_two_helpers, LIST_OF_DICTS),
    (for_namedtuples, NAMEDTUPLES),
    (comprehension_and_decay, LIST_OF_DICTS),
    (dict_get, {"W0": W0}),
    (cache_and_outputs, LIST_OF_DICTS),
    (list_display_to_helper, LIST_OF_DICTS),
    (display_with_a_constant_to_helper, LIST_OF_DICTS),
    (nested_local_containers, LIST_OF_DICTS),
    (helper_returns_dict, LIST_OF_DICTS),
    (list_methods, LIST_OF_DICTS),
    (dict_built_by_keywords, LIST_OF_DICTS),
    (dict_comprehension, DICTS),
    (dict_of_pairs, DICTS),
    (windows, DICTS),
    (pairs_with_names, [("W", W0), ("b", B0)]),
    (starred_hidden_last, LIST_OF_DICTS),
    (starred_first_rest, TUPLES),
    (starred_first_rest, tuple(TUPLES)),
    (starred_middle, [{"W": W0, "b": B0}, {"W": W0, "b": B0}, {"W": W1 @ W1.T, "b": B0}]),
]
IDS = [f"{f.__name__}-{type(p).__name__}" for f, p in CASES]


@pytest.mark.parametrize("f,params", CASES, ids=IDS)
def test_value_and_gradient_on_every_call(f, params):
    params = fresh(params)
    want_value = f(params, X)
    want = numerical_tree_grad(f, params, X)
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, got = df(params, X)
        assert value == pytest.approx(want_value, rel=1e-12)
        assert structure(got) == structure(params)
        for g, w in zip(leaves(got), want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f,params", CASES, ids=IDS)
def test_hessian_vector_product(f, params):
    params = fresh(params)
    v = tree_map(lambda a: RNG.standard_normal(np.shape(a)), params)
    got = sg.hvp(f)(params, X, v)
    g = sg.grad(f, optimize=False)
    eps = 1e-5
    plus = g(tree_map(lambda a, b: a + eps * b, params, v), X)
    minus = g(tree_map(lambda a, b: a - eps * b, params, v), X)
    assert structure(got) == structure(params)
    for h, p, m in zip(leaves(got), leaves(plus), leaves(minus)):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-4, atol=1e-6)


def test_idioms_of_one_model_agree():
    """The same two-layer network held six ways gives one gradient."""
    got = [
        sg.grad(for_tuples)(TUPLES, X),
        sg.grad(for_dicts)(LIST_OF_DICTS, X),
        sg.grad(index_dicts)(LIST_OF_DICTS, X),
        sg.grad(for_items)(DICTS, X),
        sg.grad(for_values)(DICTS, X),
        sg.grad(for_namedtuples)(NAMEDTUPLES, X),
    ]
    first = leaves(got[0])
    for other in got[1:]:
        for a, b in zip(first, leaves(other)):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_dict_loop_iterates_over_keys_never_positions():
    """A dict whose keys are 0..n-1 would also index by position: the loop must still read
    its keys in the dict's own order."""
    params = {1: {"W": W1[:2, :2] * 0 + np.eye(2), "b": B1}, 0: {"W": W0[:2, :2], "b": B1}}
    x = X[:, :2]
    got = sg.grad(for_keys)(params, x)
    want = numerical_tree_grad(for_keys, params, x)
    for g, w in zip(leaves(got), want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def swap(w):
    a = w * 2.0
    b = np.sin(w)
    a, b = b, a
    return np.sum(a * 3.0 + b)


def walrus(w):
    if (s := np.sum(w * w)) > 0:
        s = s * 2.0
    return s


def branch_returns(w):
    if np.sum(w) > 100.0:
        return np.sum(w)
    else:
        return np.sum(w**2)


def write_last(w):
    v = w * 1.0
    v[-1] += 1.0
    return np.sum(v**2)


@pytest.mark.parametrize("f", [swap, walrus, branch_returns, write_last])
def test_python_semantics(f):
    w = np.array([0.5, -1.2, 2.0])
    want = numerical_tree_grad(f, w)[0]
    df = sg.value_and_grad(f)
    for _ in range(3):
        value, got = df(w.copy())
        assert value == pytest.approx(f(w.copy()), rel=1e-12)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def zipped_into_dict(w):
    pairs = list(zip(["a", "b"], [w * 2.0, np.sin(w)]))
    return np.sum(pairs[0][1] * pairs[1][1])


def zip_as_a_value(w):
    pairs = zip(["a", "b"], [w * 2.0, np.sin(w)])
    return np.sum(next(iter(pairs))[1])


def test_a_listed_zip_of_differentiated_values_is_differentiated_not_zero():
    """``list(zip(...))`` builds its tuples (it was refused, never a zero gradient)."""
    w = np.array([0.5, 1.0])
    want = numerical_tree_grad(zipped_into_dict, w)[0]
    df = sg.value_and_grad(zipped_into_dict)
    for _ in range(3):
        value, got = df(w.copy())
        assert value == pytest.approx(zipped_into_dict(w.copy()), rel=1e-12)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_zip_as_a_value_of_differentiated_values_is_refused_not_zero():
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(zip_as_a_value)(np.array([0.5, 1.0]))
    message = str(info.value)
    assert "test_containers.py" in message


def test_every_runtime_helper_the_derivative_calls_has_a_tangent_rule():
    """Generated code is differentiated again in forward mode: each helper it may call needs a
    tangent rule. Left out: classes, the gradient builder's own machinery, and helpers that
    only the running (optimized) code calls, which is never differentiated again."""
    from .internals import NAMESPACE, lookup_tangent

    not_called_by_pure_code = {
        "Shape", "Pieces", "DictPieces", "children", "compile_guard", "gradient_builder",
        "guard_expression", "is_container", "is_namedtuple", "rebuild", "scalar_gradient",
        "signature_guard", "zeros_like_tree", "sum_leading", "unindex_shaped", "float_gradient",
        "typed_gradient", "sum_tangents", "write_tangent", "tangent_item", "item_adjoints",
        "add_to_item", "joined_items",
    }  # fmt: skip
    missing = sorted(
        name
        for name, helper in NAMESPACE.items()
        if name not in not_called_by_pure_code and lookup_tangent(helper) is None
    )
    assert missing == []


def skips_none(params, x):
    h = x
    for p in params:
        if p is not None:
            h = np.tanh(h @ p["W"])
    return np.sum(h**2)


def test_gradcheck_and_hvp_skip_none_in_a_parameter_list():
    """A parameter-free layer's None in a list of parameters has no derivative: gradcheck
    (first and second order) and the jvp it runs take None for it."""
    params = [{"W": W0[:, :3]}, None, {"W": W1[:3]}]
    assert sg.gradcheck(skips_none, params, X, order=2)
    assert sg.grad(skips_none)(params, X)[1] is None
