"""The two ways the convolution and max-pooling kernels run agree with torch.nn: by a gather
index on small images and by strided copies on large ones (an index over
``sourcegrad.nn.gather.INDEX_LIMIT`` elements is never made), inside ``Sequential`` (the
layers' own backward) and called alone (the primitives' rules), in float64 to 1e-12 and in
float32 as float32."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn
from sourcegrad.nn import gather

torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
TOL = dict(rtol=1e-12, atol=1e-12)


def _torch_model(model, params, dtype):
    layers = []
    for layer, p in zip(model.layers, params):
        if isinstance(layer, nn.Conv2d):
            t = torch.nn.Conv2d(
                layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                layer.padding, layer.dilation, layer.groups, bias=layer.bias,
            )  # fmt: skip
        elif isinstance(layer, nn.MaxPool2d):
            k, s, pad, dil, ceil = layer.geometry
            t = torch.nn.MaxPool2d(k, s, pad, dil, ceil_mode=ceil)
        elif isinstance(layer, nn.ReLU):
            t = torch.nn.ReLU()
        else:
            raise AssertionError(layer)
        t = t.to(dtype)
        with torch.no_grad():
            for k, v in p.items():
                getattr(t, k).copy_(torch.from_numpy(v))
        layers.append(t)
    return torch.nn.Sequential(*layers)


def _torch_value_and_grads(model, params, x, w):
    tmodel = _torch_model(model, params, torch.from_numpy(x).dtype)
    tx = torch.tensor(x, requires_grad=True)
    out = tmodel(tx)
    (out * torch.from_numpy(w)).sum().backward()
    grads = [{k: getattr(t, k).grad.numpy() for k in p} for t, p in zip(tmodel, params)]
    return out.detach().numpy(), grads, tx.grad.numpy()


def weighted(params, x, model, w):
    return np.sum(model(params, x) * w)


def weighted_one_by_one(params, x, model, w):
    for layer, p in zip(model.layers, params):
        x = layer(p, x) if layer.has_params else layer(x)
    return np.sum(x * w)


MODELS = {
    "3x3, pool 2": lambda c: [nn.Conv2d(c, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)],
    "strided, dilated, overlapping pool": lambda c: [
        nn.Conv2d(c, 4, 3, stride=2, padding=2, dilation=2),
        nn.MaxPool2d(3, stride=1, padding=1),
    ],
    "grouped, ceil-mode pool": lambda c: [
        nn.Conv2d(c, 4, (2, 3), padding=(1, 0), groups=2, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
    ],
}
#: a small image (gathered by an index) and a large one (its index would be over the limit)
SHAPES = {"small": (3, 2, 7, 8), "large": (1, 2, 300, 500)}


def _case(name, size, seed=0):
    rng = np.random.default_rng(seed)
    shape = SHAPES[size]
    model = nn.Sequential(*MODELS[name](shape[1]))
    params, x = model.init(rng), rng.standard_normal(shape)
    w = rng.standard_normal(model(params, x).shape)
    return model, params, x, w


def test_the_large_shapes_exceed_the_index_limit():
    n, c, h, w = SHAPES["large"]
    assert n * c * h * w * 9 > gather.INDEX_LIMIT
    n, c, h, w = SHAPES["small"]
    assert n * c * h * w * 9 <= gather.INDEX_LIMIT


@pytest.mark.parametrize("size", SHAPES)
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("loss", [weighted, weighted_one_by_one])
def test_agrees_with_torch(name, size, loss):
    model, params, x, w = _case(name, size)
    out, grads, dx = _torch_value_and_grads(model, params, x, w)
    np.testing.assert_allclose(model(params, x), out, **TOL)
    df = sg.grad(loss, (0, 1))
    for _ in range(2):  # the first call, then the optimized derivative
        dparams, dxs = df(params, x, model, w)
        np.testing.assert_allclose(dxs, dx, **TOL)
        for got, want in zip(dparams, grads):
            assert set(got) == set(want)
            for k in want:
                np.testing.assert_allclose(got[k], want[k], **TOL)


@pytest.mark.parametrize("size", SHAPES)
@pytest.mark.parametrize("loss", [weighted, weighted_one_by_one])
def test_float32_stays_float32(size, loss):
    model, params, x, w = _case("strided, dilated, overlapping pool", size)
    params = [{k: v.astype(np.float32) for k, v in p.items()} for p in params]
    x, w = x.astype(np.float32), w.astype(np.float32)
    out, grads, dx = _torch_value_and_grads(model, params, x, w)
    assert model(params, x).dtype == np.float32
    np.testing.assert_allclose(model(params, x), out, rtol=1e-4, atol=1e-4)
    dparams, dxs = sg.grad(loss, (0, 1))(params, x, model, w)
    assert dxs.dtype == np.float32
    np.testing.assert_allclose(dxs, dx, rtol=1e-4, atol=1e-4)
    for got, want in zip(dparams, grads):
        for k in want:
            assert got[k].dtype == np.float32
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-4)


def test_max_pool_ties_and_nan_in_a_chain_follow_torch():
    """The first maximum of a window gets the gradient; a NaN is the maximum."""
    x = np.zeros((2, 3, 4, 6))
    x[0, 0, 0, 1] = np.nan
    x[1, 2, 2:, 2:4] = 5.0
    model = nn.Sequential(nn.MaxPool2d(2))
    w = np.random.default_rng(0).standard_normal((2, 3, 2, 3))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tx, 2)
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(model([{}], x), tout.detach().numpy())
    for _ in range(2):
        dx = sg.grad(weighted, 1)([{}], x, model, w)
        np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_conv_of_a_non_contiguous_input():
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1))
    params = model.init(rng)
    x = rng.standard_normal((5, 6, 2, 2)).transpose(2, 3, 0, 1)  # (2, 2, 5, 6), a view
    w = rng.standard_normal((2, 3, 5, 6))
    out, grads, dx = _torch_value_and_grads(model, params, np.ascontiguousarray(x), w)
    np.testing.assert_allclose(model(params, x), out, **TOL)
    dparams, dxs = sg.grad(weighted, (0, 1))(params, x, model, w)
    np.testing.assert_allclose(dxs, dx, **TOL)
    np.testing.assert_allclose(dparams[0]["weight"], grads[0]["weight"], **TOL)


def test_outputs_of_earlier_calls_are_not_overwritten():
    """Each call returns arrays of its own: a later call with other values leaves them."""
    model, params, x, w = _case("3x3, pool 2", "small")
    df = sg.value_and_grad(weighted, (0, 1))
    first = df(params, x, model, w)
    kept = (first[0], [{k: v.copy() for k, v in p.items()} for p in first[1][0]])
    kept_dx = first[1][1].copy()
    out1 = model(params, x)
    kept_out = out1.copy()
    df(params, 2.0 * x, model, w)
    model(params, -x)
    np.testing.assert_array_equal(first[1][1], kept_dx)
    for got, want in zip(first[1][0], kept[1]):
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    np.testing.assert_array_equal(out1, kept_out)


def test_max_pool_with_more_than_256_positions_per_window():
    """A window's first maximum is counted in bytes only where the count fits."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 2, 19, 18))
    x[0, 0, 16, 16] = 9.0  # the last position of the first window
    model = nn.Sequential(nn.MaxPool2d(17, stride=1))
    w = rng.standard_normal((2, 2, 3, 2))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(tx, 17, stride=1)
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(model([{}], x), tout.detach().numpy())
    dx = sg.grad(weighted, 1)([{}], x, model, w)
    np.testing.assert_array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("nan", [False, True])
@pytest.mark.parametrize("first", [True, False])
def test_relu_then_max_pool_run_as_one(first, nan):
    """ReLU then MaxPool2d run as max-pool then ReLU inside a Sequential (past its first
    layer): the values and gradients of the layers run one by one, where windows are all
    negative, tie at zero or at a positive value, or hold a NaN (ReLU's gradient there is
    sourcegrad's 0, not torch's pass-through); torch's without NaN."""
    x = np.random.default_rng(5).standard_normal((2, 2, 4, 6))
    x[0, 0, :2, :2] = -1.0  # all negative
    x[0, 0, :2, 2:4] = [[0.0, -1.0], [0.0, 0.0]]  # ties at zero
    x[0, 1, 2:, :2] = [[-1.0, 3.0], [3.0, 2.0]]  # ties at a positive maximum
    if nan:
        x[1, 1, 0, 5] = np.nan
    layers = [nn.ReLU(), nn.MaxPool2d(2)]
    if not first:
        layers.insert(0, nn.MaxPool2d(1))  # the identity
    model = nn.Sequential(*layers)
    params = [{} for _ in layers]
    w = np.random.default_rng(6).standard_normal((2, 2, 2, 3))
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.max_pool2d(torch.relu(tx), 2)
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_array_equal(model(params, x), tout.detach().numpy())
    for _ in range(2):
        dx = sg.grad(weighted, 1)(params, x, model, w)
        np.testing.assert_array_equal(dx, sg.grad(weighted_one_by_one, 1)(params, x, model, w))
        if not nan:
            np.testing.assert_array_equal(dx, tx.grad.numpy())
