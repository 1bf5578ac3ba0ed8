"""sourcegrad.nn layers against torch.nn.functional: outputs and gradients (with respect to
the input and every parameter) agree to 1e-12 in float64."""

import numpy as np
import pytest

import sourcegrad as sg
import sourcegrad.nn as nn

torch = pytest.importorskip("torch", reason="torch is needed to compare with torch.nn")
TF = torch.nn.functional
TOL = dict(rtol=1e-12, atol=1e-12)


def weighted(layer, params, x, w):
    """A scalar loss of a layer with parameters, as a user would write it."""
    return np.sum(layer(params, x) * w)


def weighted_free(layer, x, w):
    """The same for a layer without parameters."""
    return np.sum(layer(x) * w)


def _torch_grads(torch_fn, params, x, w, x_grad=True):
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x, requires_grad=x_grad)
    out = torch_fn(tp, tx)
    (out * torch.tensor(w)).sum().backward()
    grads = {k: t.grad.numpy() for k, t in tp.items()}
    return out.detach().numpy(), grads, (tx.grad.numpy() if x_grad else None)


def compare(layer, torch_fn, params, x, x_grad=True, seed=1):
    """Output and gradients of ``layer`` agree with ``torch_fn(tensor_params, tensor_x)``,
    on the first call and on the second (the optimized derivative)."""
    rng = np.random.default_rng(seed)
    if layer.has_params:
        out = layer(params, x)
    else:
        out = layer(x)
    w = rng.standard_normal(out.shape)
    t_out, t_grads, t_dx = _torch_grads(torch_fn, params, x, w, x_grad)
    np.testing.assert_allclose(out, t_out, **TOL)
    for _ in range(2):
        if layer.has_params:
            wrt = (1, 2) if x_grad else 1
            grads = sg.grad(weighted, wrt)(layer, params, x, w)
            dparams, dx = grads if x_grad else (grads, None)
            assert set(dparams) == set(t_grads)
            for k in t_grads:
                np.testing.assert_allclose(dparams[k], t_grads[k], **TOL)
        else:
            dx = sg.grad(weighted_free, 1)(layer, x, w)
        if x_grad:
            np.testing.assert_allclose(dx, t_dx, **TOL)


RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    lin = nn.Linear(5, 4, bias=bias)
    params = lin.init(np.random.default_rng(0))
    assert params["weight"].shape == (4, 5)
    compare(lin, lambda p, x: TF.linear(x, p["weight"], p.get("bias")), params, _x(*shape))


CONVS = [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, padding=2, dilation=2),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0)),
    dict(kernel_size=1, bias=False),
]
GROUPED = [
    (6, 4, dict(kernel_size=3, groups=2)),
    (6, 6, dict(kernel_size=3, padding=1, groups=6)),  # depthwise
    (4, 8, dict(kernel_size=(2, 3), stride=2, dilation=(1, 2), groups=4, bias=False)),
    (6, 3, dict(kernel_size=1, groups=3)),
]
CONV_KEYS = [("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)]


def _conv_case(c_in, c_out, options):
    conv = nn.Conv2d(c_in, c_out, **options)
    params = conv.init(np.random.default_rng(0))
    o = {k: options.get(k, d) for k, d in CONV_KEYS}

    def reference(p, x):
        return TF.conv2d(x, p["weight"], p.get("bias"), **o)

    return conv, params, reference


@pytest.mark.parametrize("options", CONVS)
def test_conv2d(options):
    conv, params, reference = _conv_case(3, 4, options)
    compare(conv, reference, params, _x(2, 3, 9, 8))


@pytest.mark.parametrize("c_in, c_out, options", GROUPED)
def test_grouped_conv2d(c_in, c_out, options):
    conv, params, reference = _conv_case(c_in, c_out, options)
    assert params["weight"].shape[1] == c_in // options["groups"]
    compare(conv, reference, params, _x(2, c_in, 7, 8))


def test_grouped_conv2d_refuses_indivisible_channels():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


POOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, stride=1),
]


@pytest.mark.parametrize("options", POOLS + [dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d(options):
    compare(nn.MaxPool2d(**options), lambda p, x: TF.max_pool2d(x, **options), {}, _x(2, 3, 7, 8))


@pytest.mark.parametrize("options", POOLS)
def test_avg_pool2d(options):
    compare(nn.AvgPool2d(**options), lambda p, x: TF.avg_pool2d(x, **options), {}, _x(2, 3, 7, 8))


CEIL_POOLS = [
    dict(kernel_size=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), ceil_mode=True),
    dict(kernel_size=2, stride=3, ceil_mode=True),
]


@pytest.mark.parametrize("options", CEIL_POOLS + [dict(kernel_size=3, stride=2, dilation=2,
                                                       padding=1, ceil_mode=True)])  # fmt: skip
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 2, 6, 9)])
def test_max_pool2d_ceil_mode(options, shape):
    compare(nn.MaxPool2d(**options), lambda p, x: TF.max_pool2d(x, **options), {}, _x(*shape))


@pytest.mark.parametrize("options", CEIL_POOLS + [dict(kernel_size=2)])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 7, 8), (1, 2, 6, 9)])
def test_avg_pool2d_ceil_mode_and_padding_count(options, count_include_pad, shape):
    o = dict(options, count_include_pad=count_include_pad)
    compare(nn.AvgPool2d(**o), lambda p, x: TF.avg_pool2d(x, **o), {}, _x(*shape))


def test_max_pool2d_ties_and_nan_follow_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = np.nan
    compare(nn.MaxPool2d(2), lambda p, t: TF.max_pool2d(t, 2), {}, np.where(np.isnan(x), 0, x))
    out = nn.MaxPool2d(2)(x)
    assert np.isnan(out[0, 0, 0, 0]) and (out.ravel()[1:] == 0).all()


ACTIVATIONS = [
    (nn.ReLU(), TF.relu),
    (nn.Tanh(), torch.tanh),
    (nn.Sigmoid(), torch.sigmoid),
    (nn.GELU(), TF.gelu),
    (nn.GELU(approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    (nn.SoftMax(dim=1), lambda x: TF.softmax(x, dim=1)),
    (nn.LogSoftMax(), lambda x: TF.log_softmax(x, dim=-1)),
    (nn.Flatten(), lambda x: torch.flatten(x, 1)),
    (nn.Flatten(0, 1), lambda x: torch.flatten(x, 0, 1)),
    (nn.Reshape(20), lambda x: x.reshape(x.shape[0], 20)),
]


@pytest.mark.parametrize("layer, reference", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activation(layer, reference):
    x = 3.0 * _x(3, 4, 5)
    x[0, 0, :2] = 0.0  # the ReLU's gradient at 0 is 0, as torch's
    x[1, 1, 0] = 40.0  # large arguments: no overflow
    x[1, 1, 1] = -40.0
    compare(layer, lambda p, t: reference(t), {}, x)


def _torch_batch_norm(layer, mean, var, training):
    def reference(p, x):
        return TF.batch_norm(
            x, mean, var, p.get("weight"), p.get("bias"), training, layer.momentum, layer.eps
        )

    return reference


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(shape, training):
    layer = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(3)
    rng = np.random.default_rng(0)
    params = layer.init(rng)
    params = {k: v + 0.3 * rng.standard_normal(3) for k, v in params.items()}
    layer.running_mean[:] = rng.standard_normal(3)
    layer.running_var[:] = rng.uniform(0.5, 2.0, 3)
    layer.train(training)
    mean, var = torch.tensor(layer.running_mean), torch.tensor(layer.running_var)
    x = 2.0 + _x(*shape)
    compare(layer, _torch_batch_norm(layer, mean.clone(), var.clone(), training), params, x)
    # the layer and its derivative ran 3 times on this batch: it counts once
    layer.update_running_stats().update_running_stats()
    expected_mean, expected_var = mean.clone(), var.clone()
    TF.batch_norm(torch.tensor(x), expected_mean, expected_var, training=training)
    np.testing.assert_allclose(layer.running_mean, expected_mean.numpy(), **TOL)
    np.testing.assert_allclose(layer.running_var, expected_var.numpy(), **TOL)


def test_batch_norm_without_affine_or_running_stats():
    layer = nn.BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    assert layer.init() == {} and layer.uses_batch_stats
    reference = lambda p, x: TF.batch_norm(x, None, None, training=True)  # noqa: E731
    compare(layer, reference, {}, _x(3, 3, 2, 2))


@pytest.mark.parametrize("normalized_shape", [(5,), (4, 5)])
def test_layer_norm(normalized_shape):
    layer = nn.LayerNorm(normalized_shape)
    rng = np.random.default_rng(0)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in layer.init(rng).items()}

    def reference(p, x):
        return TF.layer_norm(x, normalized_shape, p["weight"], p["bias"], layer.eps)

    compare(layer, reference, params, _x(3, 4, 5))


def test_embedding():
    layer = nn.Embedding(7, 3)
    params = layer.init(np.random.default_rng(0))
    indices = np.array([[0, 2, 2], [6, 0, 1]])
    compare(layer, lambda p, i: TF.embedding(i, p["weight"]), params, indices, x_grad=False)
