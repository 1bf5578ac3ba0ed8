"""sourcegrad.model's networks and sourcegrad.nn's layers on CuPy arrays give NumPy's values
and gradients (first and later calls), their arrays staying on the device: the recurrent
networks' zero states, batch norm's running statistics, host labels, class weights and
embedding indices all follow the input's array module. Skipped where CuPy or a GPU is
missing; run on a GPU machine with `python -m pytest tests/test_model_cupy.py`."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import model, nn, util

cupy = pytest.importorskip("cupy", reason="CuPy is not installed: these tests need a GPU")
try:
    if cupy.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)
except cupy.cuda.runtime.CUDARuntimeError:
    pytest.skip("no CUDA device: these tests need a GPU", allow_module_level=True)


def assert_same(gpu_tree, cpu_tree, rtol=1e-10, atol=1e-12):
    """Every leaf of ``gpu_tree`` is a CuPy array equal to the NumPy leaf of ``cpu_tree``."""
    gpu_leaves, cpu_leaves = util.tree_leaves(gpu_tree), util.tree_leaves(cpu_tree)
    assert len(gpu_leaves) == len(cpu_leaves)
    for g, c in zip(gpu_leaves, cpu_leaves):
        assert isinstance(g, cupy.ndarray), type(g)
        np.testing.assert_allclose(cupy.asnumpy(g), c, rtol=rtol, atol=atol)


def check_on_gpu(loss, params, *args):
    """``loss``'s value and gradient on CuPy copies of the arguments equal NumPy's, on the
    first call (rank-specialised code) and the next two (optimized code)."""
    want_value, want = sg.value_and_grad(loss)(params, *args)
    gpu = util.cast((params, *args), "cupy")
    df = sg.value_and_grad(loss)
    for _ in range(3):
        value, grads = df(*gpu)
        np.testing.assert_allclose(float(value), want_value, rtol=1e-10)
        assert_same(grads, want)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("output_type", ["last", "all"])
def test_recurrent_networks_on_gpu(kind, output_type):
    constructor = {
        "rnn": model.RecurrentNetwork,
        "lstm": model.RecurrentLSTMNetwork,
        "gru": model.RecurrentGRUNetwork,
    }[kind]
    f, params = constructor(3, 5, output_type, rng=0)  # hidden != input: the zero state's shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 3))

    def loss(params, x):
        return np.sum(np.tanh(f(params, x)))

    out = f(util.cast(params, "cupy"), cupy.asarray(x))
    assert isinstance(out, cupy.ndarray)
    check_on_gpu(loss, params, x)


def test_mlp_classifier_with_host_labels_on_gpu():
    f, params = model.NeuralNetwork(6, [8, 4], "Tanh", classifier=True, rng=0)
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((5, 6)), rng.integers(0, 4, 5)
    weight = rng.uniform(0.5, 2.0, 4)

    def loss(params, x):
        return sg.loss.cross_entropy(f(params, x), labels, weight=weight)  # host arrays

    check_on_gpu(loss, params, x)


def test_mlp_dropout_masks_follow_the_input():
    def make():
        return model.NeuralNetwork(6, [8, 4], dropout_probs=0.3, rng=0, dropout_generator=5)

    (f_cpu, params), (f_gpu, _) = make(), make()
    x = np.random.default_rng(3).standard_normal((5, 6))
    gpu_params, gpu_x = util.cast((params, x), "cupy")
    for _ in range(2):  # both generators draw the same masks, call after call
        value, grads = sg.value_and_grad(lambda p, x: np.sum(f_cpu(p, x) ** 2))(params, x)
        gpu_value, gpu_grads = sg.value_and_grad(lambda p, x: np.sum(f_gpu(p, x) ** 2))(
            gpu_params, gpu_x
        )
        np.testing.assert_allclose(float(gpu_value), value, rtol=1e-10)
        assert_same(gpu_grads, grads)


def test_spatial_network_on_gpu():
    f, params = model.SpatialNetwork(
        2, [3, 4], [2, 1], "ReLU", input_size=(6, 6), head_features=[5, 3], rng=0
    )
    rng = np.random.default_rng(4)
    x, labels = rng.standard_normal((2, 2, 6, 6)), cupy.asarray(rng.integers(0, 3, 2))

    def loss(params, x):
        return nn.CrossEntropyLoss()(f(params, x), labels)

    check_on_gpu(loss, params, x)


def test_batch_norm_running_statistics_move_to_the_device():
    layer = nn.BatchNorm1d(3)
    cpu_layer = nn.BatchNorm1d(3)
    params = layer.init(np.random.default_rng(0))
    cpu_layer.init()
    x = np.random.default_rng(5).standard_normal((6, 3))
    layer(util.cast(params, "cupy"), cupy.asarray(x))
    layer.update_running_stats()
    cpu_layer(params, x)
    cpu_layer.update_running_stats()
    assert isinstance(layer.running_mean, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(layer.running_var), cpu_layer.running_var)
    layer.eval()
    cpu_layer.eval()

    def loss(params, x):
        return np.sum(layer(params, x) ** 2)

    want = sg.grad(lambda p, x: np.sum(cpu_layer(p, x) ** 2))(params, x)
    assert_same(sg.grad(loss)(*util.cast((params, x), "cupy")), want)


def test_batch_norm_with_host_statistics_on_device_input():
    layer = nn.BatchNorm2d(2).eval()
    params = layer.init(np.random.default_rng(0))
    layer.running_mean[:] = [0.5, -1.0]  # on the host
    x = np.random.default_rng(6).standard_normal((2, 2, 3, 3))
    out = layer(util.cast(params, "cupy"), cupy.asarray(x))
    np.testing.assert_allclose(cupy.asnumpy(out), layer(params, x), rtol=1e-12)


def test_embedding_with_host_indices_on_device_weights():
    embed = nn.Embedding(7, 3)
    params = embed.init(np.random.default_rng(0))
    indices = np.array([[1, 4, 1], [6, 0, 1]])  # host indices, repeated

    def loss(params, w):
        return np.sum(w * embed(params, indices))

    check_on_gpu(loss, params, np.random.default_rng(7).standard_normal((2, 3, 3)))


def test_an_optimizer_steps_device_parameters_as_host_ones():
    f, params = model.NeuralNetwork(4, [6, 3], rng=0)
    x = np.random.default_rng(8).standard_normal((5, 4))
    gpu_params, gpu_x = util.cast((params, x), "cupy")
    step = sg.grad(lambda p, x: np.sum(f(p, x) ** 2))
    cpu_opt, gpu_opt = sg.optim.Adam(params, lr=1e-2), sg.optim.Adam(gpu_params, lr=1e-2)
    for _ in range(3):
        cpu_opt.step(step(params, x))
        gpu_opt.step(step(gpu_params, gpu_x))
    assert_same(gpu_params, params)


def test_a_functionalized_torch_module_refuses_device_arrays():
    torch = pytest.importorskip("torch", reason="the torch bridge needs torch")
    f, params = nn.functionalize(torch.nn.Linear(3, 2).double())
    with pytest.raises(sg.SourcegradError, match="CuPy"):
        f(params, cupy.zeros((4, 3)))
