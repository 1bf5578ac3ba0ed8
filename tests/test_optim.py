"""sourcegrad.optim: the same steps as torch.optim, in place and without allocation,
resumable exactly from a state dict."""

import collections
import copy
import tracemalloc

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import loss, optim, util

Layer = collections.namedtuple("Layer", ["W", "b"])

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.8), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, weight_decay=0.3)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, eps=1e-4)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CASES]


def make_params(rng, dtype=np.float64):
    """A nested tree: a list of namedtuple layers, a dict, a 0-d array, static leaves."""
    return {
        "layers": [
            Layer(rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)),
            Layer(rng.standard_normal((4, 3)).astype(dtype), np.zeros(3, dtype)),
        ],
        "head": {"scale": np.asarray(rng.standard_normal(), dtype=dtype), "name": "head"},
        "depth": 2,
    }


def gradient_sequence(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [
        util.tree_map(
            lambda p: rng.standard_normal(p.shape).astype(p.dtype) if hasattr(p, "shape") else p,
            params,
        )
        for _ in range(steps)
    ]


def array_leaves(tree):
    return [leaf for leaf in util.tree_leaves(tree) if isinstance(leaf, np.ndarray)]


def run_torch(name, kw, params, grads):
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(p.copy(), requires_grad=True) for p in array_leaves(params)]
    opt = getattr(torch.optim, name)(tensors, foreach=False, **kw)
    for g in grads:
        for t, gi in zip(tensors, array_leaves(g)):
            t.grad = torch.tensor(gi)
        opt.step()
    return [t.detach().numpy() for t in tensors]


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_agrees_with_torch_over_100_float64_steps(name, kw):
    params = make_params(np.random.default_rng(0))
    grads = gradient_sequence(params, 100)
    expected = run_torch(name, kw, params, grads)
    arrays = array_leaves(params)
    opt = getattr(optim, name)(params, **kw)
    for g in grads:
        opt.step(g)
    for ours, arr, theirs in zip(array_leaves(params), arrays, expected):
        assert ours is arr  # updated in place
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert params["head"]["name"] == "head" and params["depth"] == 2


@pytest.mark.parametrize("name, kw", CASES[1::3], ids=IDS[1::3])
def test_float32_stays_float32_and_agrees_with_torch(name, kw):
    params = make_params(np.random.default_rng(0), np.float32)
    grads = gradient_sequence(params, 30)
    expected = run_torch(name, kw, params, grads)
    opt = getattr(optim, name)(params, **kw)
    for g in grads:
        opt.step(g)
    for ours, theirs in zip(array_leaves(params), expected):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-5)
    state = opt.state_dict()["state"]
    assert all(a.dtype == np.float32 for tree in state.values() for a in array_leaves(tree))


@pytest.mark.parametrize(
    "name, kw",
    [
        ("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
        ("Adam", dict(amsgrad=True, weight_decay=0.1, maximize=True)),
        ("AdamW", dict(amsgrad=True)),
        ("Adagrad", dict(weight_decay=0.1)),
        ("RMSprop", dict(momentum=0.9, centered=True, weight_decay=0.1)),
    ],
)
def test_steps_after_the_first_allocate_nothing_proportional_to_the_parameters(name, kw):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((256, 256)), "b": [rng.standard_normal(256)]}
    size = 8 * (256 * 256 + 256)
    grads = gradient_sequence(params, 6)
    opt = getattr(optim, name)(params, lr=1e-3, **kw)
    opt.step(grads[0])
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for g in grads[1:]:
            opt.step(g)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < size // 50, (peak - before, size)
    assert after - before < 4096


def test_resumed_optimizer_continues_exactly(tmp_path):
    rng = np.random.default_rng(0)
    params = make_params(rng)
    grads = gradient_sequence(params, 40)
    resumed_params = None
    opt = optim.Adam(params, lr=0.01, amsgrad=True, weight_decay=0.01)
    schedule = optim.CosineAnnealingLR(opt, T_max=15, eta_min=1e-4)
    for i, g in enumerate(grads):
        if i == 20:
            util.save(tmp_path / "params.npz", params)
            util.save(tmp_path / "opt.npz", opt.state_dict())
            util.save(tmp_path / "schedule.npz", schedule.state_dict())
            resumed_params = copy.deepcopy(params)
        opt.step(g)
        schedule.step()
    # a fresh optimizer (other hyperparameters: the state dict's win) over the saved parameters
    fresh = make_params(np.random.default_rng(5))
    util.copy_into(fresh, util.load(tmp_path / "params.npz", like=fresh))
    opt2 = optim.Adam(fresh, lr=0.5, amsgrad=True)
    schedule2 = optim.CosineAnnealingLR(opt2, T_max=15, eta_min=1e-4)
    opt2.load_state_dict(util.load(tmp_path / "opt.npz", like=opt2.state_dict()))
    schedule2.load_state_dict(util.load(tmp_path / "schedule.npz"))
    for ours, saved in zip(array_leaves(fresh), array_leaves(resumed_params)):
        np.testing.assert_array_equal(ours, saved)
    for g in grads[20:]:
        opt2.step(g)
        schedule2.step()
    for a, b in zip(array_leaves(fresh), array_leaves(params)):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert opt2.lr == opt.lr and opt2.steps == opt.steps == 40


def test_state_dict_is_a_snapshot():
    params = {"w": np.ones(3)}
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    opt.step({"w": np.ones(3)})
    sd = opt.state_dict()
    kept = sd["state"]["momentum_buffer"]["w"].copy()
    opt.step({"w": np.ones(3)})
    np.testing.assert_array_equal(sd["state"]["momentum_buffer"]["w"], kept)
    assert sd["steps"] == 1 and sd["optimizer"] == "SGD"
    assert sd["hyper"]["momentum"] == 0.9


def test_state_dict_of_another_optimizer_is_refused():
    params = {"w": np.ones(3)}
    with pytest.raises(optim.OptimizerStateError, match="'SGD' given to Adam"):
        optim.Adam(params).load_state_dict(optim.SGD(params).state_dict())
    damaged = optim.Adam(params, amsgrad=True).state_dict()
    del damaged["state"]["max_exp_avg_sq"]
    with pytest.raises(optim.OptimizerStateError, match="max_exp_avg_sq"):
        optim.Adam(params).load_state_dict(damaged)
    other = {"w": np.ones(4)}
    with pytest.raises(optim.OptimizerStateError, match=r"\['w'\] has shape \(4,\)"):
        optim.Adam(params).load_state_dict(optim.Adam(other).state_dict())
    with pytest.raises(optim.OptimizerStateError, match="leaves at"):
        optim.Adam(params).load_state_dict(optim.Adam({"v": np.ones(3)}).state_dict())


def test_gradients_of_another_structure_or_shape_are_refused():
    params = {"W": np.ones((2, 2)), "b": [np.zeros(2)]}
    opt = optim.SGD(params, lr=0.1)
    with pytest.raises(util.TreeStructureError, match=r"at \['b'\]"):
        opt.step({"W": np.ones((2, 2)), "b": (np.zeros(2),)})
    with pytest.raises(util.TreeStructureError, match="nothing was updated"):
        opt.step({"W": np.ones((2, 2)), "b": [np.ones(1)]})
    np.testing.assert_array_equal(params["W"], np.ones((2, 2)))
    assert opt.steps == 0
    opt.step({"b": [np.ones(2)], "W": np.ones((2, 2))})  # keys in another order pair by key
    np.testing.assert_allclose(params["b"][0], -0.1 * np.ones(2))


@pytest.mark.parametrize(
    "params, what",
    [
        ({"w": 1.0}, "float"),
        ({"w": np.float64(1.0)}, "cannot be updated in place"),
        ({"w": np.arange(3)}, "floating-point"),
        ({"w": np.ones(3), "v": None, "n": 3}, None),
    ],
)
def test_parameters_must_be_floating_arrays(params, what):
    if what is None:
        optim.Adam(params).step({"w": np.ones(3), "v": None, "n": 3})
        return
    with pytest.raises(optim.OptimizerStateError, match=what):
        optim.Adam(params)


def test_shared_or_read_only_arrays_are_refused():
    w = np.ones(3)
    with pytest.raises(optim.OptimizerStateError, match="same array"):
        optim.SGD({"a": w, "b": w})
    w.flags.writeable = False
    with pytest.raises(optim.OptimizerStateError, match="read-only"):
        optim.SGD({"a": w})


def test_invalid_hyperparameters():
    params = {"w": np.ones(2)}
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD(params, lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam(params, betas=(1.0, 0.9))


def classify(params, x, labels):
    hidden, out = params["layers"]
    h = np.tanh(x @ hidden.W + hidden.b)
    return loss.cross_entropy(h @ out.W + out.b, labels)


def test_training_with_sourcegrad_gradients():
    rng = np.random.default_rng(0)
    params = {
        "layers": [Layer(0.5 * rng.standard_normal((2, 16)), np.zeros(16)),
                   Layer(0.5 * rng.standard_normal((16, 2)), np.zeros(2))]
    }  # fmt: skip
    x = rng.standard_normal((64, 2))
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    opt = optim.Adam(params, lr=0.05)
    schedule = optim.StepLR(opt, step_size=50, gamma=0.5)
    dloss = sg.value_and_grad(classify)
    first, _ = dloss(params, x, labels)
    for _ in range(150):
        value, grads = dloss(params, x, labels)
        opt.step(grads)
        schedule.step()
    assert value < 0.5 * first
    assert opt.lr == pytest.approx(0.05 * 0.5**3)


def test_cupy_leaves_use_cupy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    params = make_params(np.random.default_rng(0))
    grads = gradient_sequence(params, 10)
    on_gpu = util.cast(params, "cupy")
    for name, kw in CASES:
        cpu, gpu = copy.deepcopy(params), copy.deepcopy(on_gpu)
        opt_cpu, opt_gpu = getattr(optim, name)(cpu, **kw), getattr(optim, name)(gpu, **kw)
        for g in grads:
            opt_cpu.step(g)
            opt_gpu.step(util.cast(g, "cupy"))
        for a, b in zip(array_leaves(cpu), util.tree_leaves(util.cast(gpu, "numpy"))):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_state_dict_loaded_without_like_and_its_options_are_taken(tmp_path):
    params = make_params(np.random.default_rng(0))
    grads = gradient_sequence(params, 6)
    opt = optim.RMSprop(params, lr=0.01, momentum=0.9, centered=True)
    for g in grads[:3]:
        opt.step(g)
    util.save(tmp_path / "opt.npz", opt.state_dict())
    twin = copy.deepcopy(params)
    opt2 = optim.RMSprop(twin)  # other options: the state dict's are taken, as PyTorch does
    opt2.load_state_dict(util.load(tmp_path / "opt.npz"))  # namedtuples re-made from the file
    assert opt2.hyper["centered"] and opt2.hyper["momentum"] == 0.9
    for g in grads[3:]:
        opt.step(g)
        opt2.step(g)
    for a, b in zip(array_leaves(params), array_leaves(twin)):
        np.testing.assert_array_equal(a, b)
