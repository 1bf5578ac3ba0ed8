"""The same generated source runs on CuPy arrays.

Skipped where CuPy or a GPU is missing (CI has neither); run on a GPU machine with
`python -m pytest tests/test_cupy.py`.
"""

import numpy as np
import pytest

import sourcegrad as sg

from . import golden_cases as cases

cupy = pytest.importorskip("cupy", reason="CuPy is not installed: these tests need a GPU")
try:
    if cupy.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)
except cupy.cuda.runtime.CUDARuntimeError:
    pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)


def tree_map(fn, tree):
    """``fn`` applied to every array leaf, the containers rebuilt around the results."""
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if hasattr(tree, "_fields"):
        return type(tree)(*[tree_map(fn, v) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, v) for v in tree)
    return fn(tree)


def to_gpu(tree):
    return tree_map(lambda v: cupy.asarray(v) if isinstance(v, np.ndarray) else v, tree)


def to_cpu(tree):
    return tree_map(lambda v: v.get() if isinstance(v, cupy.ndarray) else v, tree)


def leaves(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from leaves(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from leaves(v)
    else:
        yield tree


# `rnn` is left out: it creates its state with np.zeros, so it is NumPy-only code itself
@pytest.mark.parametrize(
    "name",
    ["neural_net", "softmax_cross_entropy", "method_forms", "nested", "branchy",
     "assign_rows", "newton_sqrt", "indexing", "rnn_like"],
)  # fmt: skip
def test_gradients_on_cupy_match_numpy(name):
    fn = rnn_like if name == "rnn_like" else getattr(cases, name)
    args = cases.example_args("rnn" if name == "rnn_like" else name)
    want = sg.grad(fn)(*args)
    gpu_args = to_gpu(args)
    got = sg.grad(fn)(*gpu_args)
    for g in leaves(got):
        if not isinstance(g, float):
            assert isinstance(g, cupy.ndarray), type(g)
    for a, b in zip(leaves(to_cpu(got)), leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def rnn_like(params, xs):
    h = np.zeros_like(params["b"])
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
        hs.append(h)
    return np.sum(np.stack(hs) ** 2)


def test_specialised_source_is_the_same_for_numpy_and_cupy():
    args = cases.example_args("neural_net")
    df = sg.grad(cases.neural_net)
    assert sg.source(df, *args) == sg.source(df, *to_gpu(args))
