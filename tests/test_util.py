"""sourcegrad.util's trees, vectors and casts; scipy.optimize.minimize over a nested model."""

import collections
import importlib.util
import pathlib

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import loss, util
from sourcegrad.errors import SourcegradError

Layer = collections.namedtuple("Layer", ["W", "b"])


def nested(rng=None, dtype=np.float64):
    rng = rng or np.random.default_rng(0)
    return {
        "layers": [Layer(rng.standard_normal((3, 4)).astype(dtype), np.zeros(4, dtype))],
        "scale": (np.ones((), dtype), np.float32(2.0)),
        "temperature": 0.5,
        "name": "mlp",
        "depth": 1,
        "unused": None,
    }


def test_leaves_structure_and_unflatten():
    tree = nested()
    leaves, treedef = util.tree_flatten(tree)
    assert len(leaves) == treedef.num_leaves == 8
    assert leaves[0] is tree["layers"][0].W and leaves[4] == 0.5
    assert [p for p, _ in util.tree_leaves_with_paths(tree)][:2] == [
        ("layers", 0, "W"),
        ("layers", 0, "b"),
    ]
    rebuilt = treedef.unflatten(leaves)
    assert type(rebuilt["layers"][0]) is Layer and rebuilt["name"] == "mlp"
    assert util.tree_structure(rebuilt) == treedef
    assert hash(util.tree_structure(rebuilt)) == hash(treedef)
    assert util.tree_structure([1, 2]) != util.tree_structure((1, 2))
    assert "Layer(W=*, b=*)" in repr(treedef)
    with pytest.raises(util.TreeStructureError, match="8 leaves"):
        treedef.unflatten(leaves[:-1])


def test_tree_map_over_several_trees_and_mismatches():
    a, b = nested(), nested(np.random.default_rng(1))
    total = util.tree_map(lambda x, y: x + y if isinstance(x, np.ndarray) else x, a, b)
    np.testing.assert_array_equal(total["layers"][0].W, a["layers"][0].W + b["layers"][0].W)
    assert type(total["layers"][0]) is Layer and total["unused"] is None
    reordered = {k: b[k] for k in reversed(list(b))}  # a dict's keys may come in another order
    util.tree_map(lambda x, y: None, a, reordered)
    b["layers"].append(b["layers"][0])
    with pytest.raises(util.TreeStructureError, match=r"at \['layers'\]"):
        util.tree_map(lambda x, y: x, a, b)
    with pytest.raises(util.TreeStructureError, match=r"\['scale'\]: a tuple .* a list"):
        util.tree_map(lambda x, y: x, {"scale": (1, 2)}, {"scale": [1, 2]})
    assert issubclass(util.TreeStructureError, SourcegradError)


def test_ravel_and_unravel_round_trip():
    tree = nested(dtype=np.float32)
    vector, unravel = util.ravel(tree)
    # float32 arrays, a float32 scalar and a Python float (float64): one float64 vector
    assert vector.shape == (3 * 4 + 4 + 1 + 1 + 1,) and vector.dtype == np.float64
    back = unravel(vector * 2.0)
    assert back["layers"][0].W.dtype == np.float32 and type(back["layers"][0]) is Layer
    np.testing.assert_array_equal(back["layers"][0].W, 2 * tree["layers"][0].W)
    assert type(back["temperature"]) is float and back["temperature"] == 1.0
    assert type(back["scale"][1]) is np.float32 and back["scale"][1] == 4.0
    assert back["name"] == "mlp" and back["depth"] == 1 and back["unused"] is None
    assert not np.shares_memory(back["layers"][0].b, vector)
    only32 = {"a": np.ones(3, np.float32)}
    assert util.ravel(only32)[0].dtype == np.float32
    with pytest.raises(util.TreeStructureError, match="shape"):
        unravel(vector[:-1])


def test_unravel_ravel_lays_out_gradients_like_the_parameters():
    params = {"W": np.ones((2, 3)), "b": np.zeros(3), "n": 3}
    _, unravel = util.ravel(params)
    grads = {"W": np.full((2, 3), 2.0), "b": np.arange(3.0), "n": np.zeros(())}
    np.testing.assert_array_equal(unravel.ravel(grads), [2.0] * 6 + [0.0, 1.0, 2.0])
    with pytest.raises(util.TreeStructureError):
        unravel.ravel({"W": np.ones((3, 2)), "b": np.zeros(3), "n": 3})


def classify(params, x, labels):
    h = x
    for layer in params["hidden"]:
        h = np.tanh(h @ layer.W + layer.b)
    return loss.cross_entropy(h @ params["out"]["W"] + params["out"]["b"], labels)


def test_scipy_minimize_takes_a_value_and_grad_of_a_nested_model():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 2))
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    params = {
        "hidden": [Layer(rng.standard_normal((2, 8)), np.zeros(8))],
        "out": {"W": 0.1 * rng.standard_normal((8, 2)), "b": np.zeros(2)},
    }
    x0, fun, unravel = util.flat_objective(sg.value_and_grad(classify), params)
    value, grad = fun(x0, x, labels)
    assert isinstance(value, float) and grad.shape == x0.shape
    assert (
        optimize.check_grad(lambda v: fun(v, x, labels)[0], lambda v: fun(v, x, labels)[1], x0)
        < 1e-5
    )
    result = optimize.minimize(fun, x0, args=(x, labels), jac=True, method="L-BFGS-B")
    fitted = unravel(result.x)
    assert type(fitted["hidden"][0]) is Layer
    assert classify(fitted, x, labels) == pytest.approx(result.fun)
    assert result.fun < 0.5 * classify(params, x, labels)


def test_example_scipy_minimize_runs():
    pytest.importorskip("scipy.optimize")
    path = pathlib.Path(__file__).parent.parent / "examples" / "scipy_minimize.py"
    spec = importlib.util.spec_from_file_location("scipy_minimize_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    rng = np.random.default_rng(0)
    x, labels = example.spirals(rng, n=20)
    params, result = example.fit(example.init_params(rng), x, labels, maxiter=30)
    assert result.fun < example.objective(example.init_params(np.random.default_rng(0)), x, labels)


def test_cast_to_dtypes():
    tree = nested()
    as32 = util.cast(tree, "float32")
    assert as32["layers"][0].W.dtype == np.float32 and type(as32["layers"][0]) is Layer
    assert as32["scale"][0].dtype == np.float32 and type(as32["scale"][1]) is np.float32
    assert as32["temperature"] == 0.5 and as32["depth"] == 1 and as32["name"] == "mlp"
    as64 = util.cast(as32, np.float64)
    assert as64["scale"][1].dtype == np.float64
    ints = {"i": np.arange(3)}
    assert util.cast(ints, "float32")["i"] is ints["i"]  # integer arrays are left alone
    same = util.cast(tree, "float64")
    assert same["layers"][0].W is tree["layers"][0].W  # already of the kind: not copied
    assert util.cast(tree, "numpy")["layers"][0].W is tree["layers"][0].W
    with pytest.raises(SourcegradError, match="kind"):
        util.cast(tree, "int32")


def test_cast_to_cupy_without_cupy_is_a_clear_error():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed")
    with pytest.raises(SourcegradError, match="CuPy"):
        util.cast(nested(), "cupy")


def test_copy_into_writes_in_place():
    dst = {"W": np.zeros((2, 2)), "n": None}
    target = dst["W"]
    out = util.copy_into(dst, {"W": np.ones((2, 2)), "n": None})
    assert out is dst and dst["W"] is target and np.all(target == 1.0)
    with pytest.raises(util.TreeStructureError, match="shape"):
        util.copy_into(dst, {"W": np.ones(2), "n": None})
