"""Deep-learning code as tutorials write it in NumPy: micrograd-style ``Neuron`` / ``Layer`` /
``MLP`` classes with ``parameters()``, PyTorch-style modules (``__init__`` storing weights,
``forward``, ``__call__``), parameter pytrees of nested dicts, lists and tuples handed through
helpers, ``**kwargs`` configs (a dict display spliced into a call), ``functools.partial``,
lambdas, comprehensions over layers, ``zip(params[::2], params[1::2])``, early stopping with
``break``, gradient clipping inside the loss, and the library itself (``sg.nn``, ``sg.model``,
``sg.loss``, ``sg.optim``) as README.md shows it, with a short training loop that must reduce
the loss. Each against Python's value and central differences on calls 1-3 (the optimized
code runs from the second call), and the HVP where smooth."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn

from .harness import Case, check, params

R = np.random.default_rng(2024)


def rn(*shape):
    return R.standard_normal(shape)


X = rn(5, 3)
Y = rn(5, 2)
LABELS = np.array([0, 1, 1, 0, 1])


# ---------------------------------------------------------------- micrograd-style classes
# (as dataclasses; plain classes built inside the loss are in test_plain_classes_in_loss.py)


@dataclasses.dataclass
class Neuron:
    w: np.ndarray
    b: float
    nonlin: bool = True

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return np.tanh(act) if self.nonlin else act

    def parameters(self):
        return [self.w, self.b]


@dataclasses.dataclass
class Layer:
    neurons: list

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


@dataclasses.dataclass
class MLP:
    layers: list

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def make_mlp(sizes, rng):
    layers = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        neurons = [
            Neuron(rng.uniform(-1, 1, sizes[i]), float(rng.uniform(-1, 1)), nonlin=not last)
            for _ in range(sizes[i + 1])
        ]
        layers.append(Layer(neurons))
    return MLP(layers)


def micrograd_loss(model, xs, ys):
    ypred = [model(x) for x in xs]
    loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
    return loss


def micrograd_svm_loss(model, xs, ys, alpha=1e-4):
    scores = list(map(model, xs))
    losses = [np.maximum(0.0, 1 + -yi * scorei) for yi, scorei in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(np.sum(p * p) for p in model.parameters())
    return data_loss + reg_loss


XS4 = [rn(3) for _ in range(4)]
YS4 = [1.0, -1.0, -1.0, 1.0]


# ---------------------------------------------------------------- PyTorch-style modules


@dataclasses.dataclass
class Linear:
    weight: np.ndarray
    bias: np.ndarray

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def __call__(self, x):
        return self.forward(x)


@dataclasses.dataclass
class ReLU:
    def __call__(self, x):
        return np.maximum(x, 0)


@dataclasses.dataclass
class Sequential:
    modules: list

    def __call__(self, x):
        for m in self.modules:
            x = m(x)
        return x


def module_mse(model, x, y):
    return np.mean((model(x) - y) ** 2)


class TwoLayerNet:
    def __init__(self, params, act=np.tanh):
        self.params = params
        self.act = act

    def forward(self, x):
        h = self.act(x @ self.params["W1"] + self.params["b1"])
        return h @ self.params["W2"] + self.params["b2"]

    def loss(self, x, y):
        logits = self.forward(x)
        logits = logits - logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()


def net_loss(params, x, y):
    return TwoLayerNet(params).loss(x, y)


def net_loss_outside(net, x, y):
    return net.loss(x, y)


class PlainNeuron:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def __call__(self, x):
        return np.tanh(self.w @ x + self.b)


def plain_neuron_loss(n, x):
    return n(x) ** 2


def p2(i, h, o):
    return {"W1": 0.5 * rn(i, h), "b1": 0.1 * rn(h), "W2": 0.5 * rn(h, o), "b2": 0.1 * rn(o)}


# ---------------------------------------------------------------- pytrees and configs


def dense(p, x, activation=None):
    y = x @ p["w"] + p["b"]
    return activation(y) if activation is not None else y


def tree_mlp(params, x, **config):
    act = config.get("activation", np.tanh)
    for layer in params["hidden"]:
        x = dense(layer, x, activation=act)
    return dense(params["head"], x)


def tree_loss(params, x, y):
    config = {"activation": np.tanh}
    pred = tree_mlp(params, x, **config)
    l2 = sum(np.sum(layer["w"] ** 2) for layer in params["hidden"])
    return np.mean((pred - y) ** 2) + 1e-3 * l2


def flat_list_loss(params, x, y):
    # params = [W1, b1, W2, b2]: weights and biases interleaved
    h = x
    pairs = list(zip(params[::2], params[1::2]))
    for i, (W, b) in enumerate(pairs):
        h = h @ W + b
        if i < len(pairs) - 1:
            h = np.maximum(h, 0.01 * h)  # leaky relu
    return np.mean((h - y) ** 2)


def tuple_tree_loss(params, x, y):
    (enc_W, enc_b), (dec_W, dec_b) = params
    z = np.tanh(x @ enc_W + enc_b)
    recon = z @ dec_W + dec_b
    return 0.5 * np.sum((recon - y) ** 2) / x.shape[0]


def partial_act_loss(W, x, y, slope=0.2):
    leaky = functools.partial(np.where, x @ W > 0)
    act = leaky(x @ W, slope * (x @ W))
    return np.mean((act - y) ** 2)


def lambda_layers_loss(params, x, y):
    layers = [lambda h, p=p: np.tanh(h @ p[0] + p[1]) for p in params]
    for f in layers:
        x = f(x)  # REFUSED
    return np.sum((x - y) ** 2)


def lambda_layers_way_out(params, x, y):
    layers = [lambda h, p: np.tanh(h @ p[0] + p[1]) for _ in params]
    for f, p in zip(layers, params):
        x = f(x, p)
    return np.sum((x - y) ** 2)


def clip_in_loss(w, x, y, max_norm=0.5):
    # gradient clipping written in the loss: scale the step by min(1, c / ||g||)
    g = x.T @ (x @ w - y) / len(y)
    norm = np.sqrt(np.sum(g**2))
    scale = min(1.0, max_norm / (norm + 1e-6))
    w_new = w - 0.1 * scale * g
    return np.mean((x @ w_new - y) ** 2)


def early_stopping_loss(w, x, y, tol=1e-3):
    losses = []
    for _ in range(20):
        r = x @ w - y
        loss = np.mean(r**2)
        if losses and losses[-1] - loss < tol:
            break
        losses.append(loss)
        w = w - 0.05 * x.T @ r / len(y)
    return loss


def dict_display_kwargs(W, x):
    # (minimal) `**cfg` of a dict display of the function's was refused
    cfg = {}
    cfg["scale"] = 0.5
    h = dense({"w": W, "b": 0.0}, x, **{"activation": np.tanh})
    return np.sum(scaled(h, **cfg) ** 2)


def scaled(h, scale=1.0, shift=0.0):
    return h * scale + shift


def unpacked_path_kwargs(params, x):
    # (minimal) `g, blocks = params["g"], params["blocks"]` then `**block` was refused
    g, blocks = params["g"], params["blocks"]
    for block in blocks:
        x = scaled(x, **block)
    return np.sum(x * g)


def listed_zip_of_slices(params, x):
    # (minimal) `list(zip(...))` of differentiated values was refused (zip has no rule)
    pairs = list(zip(params[::2], params[1::2]))
    for i, (W, b) in list(enumerate(pairs)):
        x = np.tanh(x @ W + b) * (i + 1)
    return np.sum(x**2)


@dataclasses.dataclass
class Unit:
    w: np.ndarray
    b: float


def sum_start_from_a_field(u, x):
    # (minimal) `sum(items, u.b)`: the start's gradient was dropped (0.0, a wrong number)
    return np.tanh(sum((wi * xi for wi, xi in zip(u.w, x)), u.b)) ** 2


def sum_start_from_a_dict(p, x):
    return np.sum(sum([x[0] * p["w"], x[1]], p["b"]) ** 2)


def constant_in_appended_tuples(params, x):
    # (minimal) a list of `(2.0, W)` tuples: the HVP read None as the constant's tangent
    items = [(i + 1.0, W) for i, W in enumerate(params)]
    for c, W in items:
        x = np.tanh(x @ W) * c
    return np.sum(x**2)


def split_heads_zip(W, x):
    # (minimal) `zip(*[... for part in np.split(h, 3, axis=-1)])` was refused: length unknown
    h = x @ W
    heads = [np.split(part, 2, axis=-1) for part in np.split(h, 3, axis=-1)]
    out = [q * k + v for q, k, v in zip(*heads)]
    return np.sum(np.hstack(out) ** 2)


# ---------------------------------------------------------------- the library


MODEL = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
MODEL_PARAMS = MODEL.init(np.random.default_rng(3))


def sequential_ce(params, x, labels):
    return nn.CrossEntropyLoss()(MODEL(params, x), labels)


class Block(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(3, 3)
        self.norm = nn.LayerNorm(3)

    def forward(self, params, x):
        return x + np.tanh(self.norm(params["norm"], self.fc(params["fc"], x)))


BLOCK = Block()
BLOCK_PARAMS = BLOCK.init(np.random.default_rng(4))


def block_loss(params, x, y):
    return nn.MSELoss()(BLOCK(params, x)[:, :2], y)


CNN = nn.Sequential(
    nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)
)
CNN_PARAMS = CNN.init(np.random.default_rng(5))


def cnn_loss(params, images, labels):
    return nn.CrossEntropyLoss()(CNN(params, images), labels)


F_NET, NET_PARAMS = sg.model.NeuralNetwork(
    input_features=3, hidden_features=[4], activations="Tanh", classifier=False,
    rng=np.random.default_rng(6),
)  # fmt: skip


def model_with_penalty(params, x, y):
    pred = F_NET(params, x)
    penalty = sum(np.sum(w**2) for w in sg.util.tree_leaves(params))
    return sg.loss.least_squares(pred, y) + 1e-3 * penalty


def bce_logits(W, x, t):
    return nn.BCEWithLogitsLoss()(x @ W, t)


CASES = [
    Case("micrograd_mlp", micrograd_loss, (make_mlp([3, 4, 1], R), XS4, YS4)),
    Case("micrograd_svm", micrograd_svm_loss, (make_mlp([3, 3, 1], R), XS4, YS4)),
    Case(
        "module_sequential",
        module_mse,
        (Sequential([Linear(rn(4, 3), rn(4)), ReLU(), Linear(rn(2, 4), rn(2))]), X, Y),
    ),
    Case("two_layer_net_built_inside", net_loss, (p2(3, 4, 2), X, LABELS), order=2),
    Case(
        "two_layer_net_built_outside",
        net_loss_outside,
        (TwoLayerNet(p2(3, 4, 2)), X, LABELS),
        wrt=1,
        order=2,
    ),
    Case("plain_class_as_parameters", plain_neuron_loss, (PlainNeuron(rn(3), 0.2), rn(3))),
    Case(
        "tree_mlp_kwargs",
        tree_loss,
        (
            {
                "hidden": [{"w": rn(3, 4), "b": rn(4)}, {"w": rn(4, 4), "b": rn(4)}],
                "head": {"w": rn(4, 2), "b": rn(2)},
            },
            X,
            Y,
        ),
        order=2,
    ),
    Case("flat_list_zip_slices", flat_list_loss, ([rn(3, 4), rn(4), rn(4, 2), rn(2)], X, Y)),
    Case(
        "tuple_tree_autoencoder",
        tuple_tree_loss,
        (((rn(3, 2), rn(2)), (rn(2, 3), rn(3))), X, rn(5, 3)),
        order=2,
    ),
    Case("partial_where_leaky", partial_act_loss, (rn(3, 2), X, Y)),
    Case(
        "lambda_default_layers",
        lambda_layers_loss,
        ([(rn(3, 3), rn(3)), (rn(3, 2), rn(2))], X, Y),
        refused=(sg.UnsupportedSyntaxError, "pass them to it as arguments"),
    ),
    Case(
        "lambda_layers_way_out",
        lambda_layers_way_out,
        ([(rn(3, 3), rn(3)), (rn(3, 2), rn(2))], X, Y),
        order=2,
    ),
    Case("clip_inside_loss", clip_in_loss, (rn(3, 2), X, Y)),
    Case("early_stopping_break", early_stopping_loss, (rn(3, 2), X, Y)),
    Case("sg_sequential_ce", sequential_ce, (MODEL_PARAMS, X, LABELS), order=2),
    Case("sg_module_subclass", block_loss, (BLOCK_PARAMS, X, Y), order=2),
    Case("sg_cnn", cnn_loss, (CNN_PARAMS, rn(2, 1, 4, 4), np.array([0, 2]))),
    Case("sg_model_penalty", model_with_penalty, (NET_PARAMS, X, rn(5, 1)), order=2),
    Case(
        "sg_bce_with_logits",
        bce_logits,
        (rn(3, 2), X, (R.random((5, 2)) > 0.5).astype(float)),
        order=2,
    ),
]


def blocks_built_inside(p, x):
    blocks = [{"scale": p["s"] * 2.0, "shift": p["b"]}, {"scale": 0.5, "shift": p["b"]}]
    for blk in blocks:
        x = scaled(x, **blk)
    return np.sum(x**2)


REGRESSIONS = [
    Case("dict_display_kwargs", dict_display_kwargs, (rn(3, 2), X), order=2),
    Case(
        "unpacked_path_kwargs",
        unpacked_path_kwargs,
        (
            {
                "g": rn(3),
                "blocks": [{"scale": 0.5, "shift": rn(3)}, {"scale": 2.0, "shift": rn(3)}],
            },
            rn(3),
        ),
    ),
    Case(
        "listed_zip_of_slices",
        listed_zip_of_slices,
        ([rn(3, 3), rn(3), rn(3, 2), rn(2)], X),
        order=2,
    ),
    Case("sum_start_from_a_field", sum_start_from_a_field, (Unit(rn(3), 0.3), rn(3)), order=2),
    Case("sum_start_from_a_dict", sum_start_from_a_dict, ({"w": 0.7, "b": rn(2)}, rn(2)), order=2),
    Case(
        "constant_in_appended_tuples",
        constant_in_appended_tuples,
        ([rn(3, 3), rn(3, 3)], X),
        order=2,
    ),
    Case("split_heads_zip", split_heads_zip, (rn(3, 12), rn(2, 3)), order=2),
    Case(
        "star_star_of_a_built_list_item",
        blocks_built_inside,
        ({"s": 0.7, "b": rn(3)}, rn(3)),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_deep_learning_programs(case):
    check(case)


@pytest.mark.parametrize("case", params(REGRESSIONS))
def test_minimal_programs_of_the_bugs_found(case):
    check(case)


def test_a_short_training_loop_reduces_the_loss():
    """README's library example: Adam on a small CNN through ``sg.grad``; the loss falls."""
    rng = np.random.default_rng(0)
    images, labels = rng.random((16, 1, 4, 4)), rng.integers(0, 3, 16)
    params = CNN.init(rng)
    dloss = sg.value_and_grad(cnn_loss)
    optimizer = sg.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(30):
        loss, grads = dloss(params, images, labels)
        losses.append(loss)
        optimizer.step(grads)
    assert losses[-1] < 0.7 * losses[0], losses
    assert losses[-1] == pytest.approx(cnn_loss(params, images, labels), abs=0.1)


def test_sgd_with_momentum_on_a_pytree_reduces_the_loss():
    params = {
        "hidden": [{"w": 0.5 * rn(3, 4), "b": np.zeros(4)}],
        "head": {"w": 0.5 * rn(4, 2), "b": np.zeros(2)},
    }
    optimizer = sg.optim.SGD(params, lr=0.1, momentum=0.9)
    dloss = sg.grad(tree_loss)
    first = tree_loss(params, X, Y)
    for _ in range(25):
        optimizer.step(dloss(params, X, Y))
    assert tree_loss(params, X, Y) < 0.5 * first
