"""sourcegrad.nn layers on CuPy arrays give NumPy's results (the kernels allocate through
the input's array module). Skipped where CuPy or a GPU is missing; run on a GPU machine with
`python -m pytest tests/test_nn_cupy.py`."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn

cupy = pytest.importorskip("cupy", reason="CuPy is not installed: these tests need a GPU")
try:
    if cupy.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)
except cupy.cuda.runtime.CUDARuntimeError:
    pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)

MODEL = nn.Sequential(
    nn.Conv2d(2, 4, 3, padding=1),
    nn.BatchNorm2d(4),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(4, 4, 3, stride=2, padding=1),
    nn.GELU(),
    nn.AvgPool2d(2),
    nn.Flatten(),
    nn.LayerNorm(4),
    nn.Linear(4, 3),
    nn.Sigmoid(),
    nn.Linear(3, 3),
)


def loss(params, x, labels):
    return nn.CrossEntropyLoss()(MODEL(params, x), labels)


def test_model_on_gpu_matches_numpy():
    rng = np.random.default_rng(0)
    params = MODEL.init(rng)
    x, labels = rng.standard_normal((3, 2, 8, 8)), np.array([0, 2, 1])
    value, grads = sg.value_and_grad(loss)(params, x, labels)
    gpu_params = [{k: cupy.asarray(v) for k, v in p.items()} for p in params]
    df = sg.value_and_grad(loss)
    for _ in range(2):
        gpu_value, gpu_grads = df(gpu_params, cupy.asarray(x), cupy.asarray(labels))
        np.testing.assert_allclose(float(gpu_value), value, rtol=1e-10)
        for g, gg in zip(grads, gpu_grads):
            for k in g:
                assert isinstance(gg[k], cupy.ndarray)
                np.testing.assert_allclose(gg[k].get(), g[k], rtol=1e-8, atol=1e-10)
