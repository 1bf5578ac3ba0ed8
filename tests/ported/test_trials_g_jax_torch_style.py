"""Models as JAX, Flax, Haiku, Optax and PyTorch tutorials write them, translated to plain
NumPy: hand-written pytree helpers (a recursive ``tree_map`` over dicts, lists and tuples,
``tree_leaves``), ``init``/``apply`` function pairs, ``params = [(W, b) for ...]`` read as
``for W, b in params[:-1]`` and ``W, b = params[-1]``, an optax-like update whose loss adds a
weight-decay sum over the leaves, a MAML-style inner step, Haiku-style nested dicts keyed by
module path, PyTorch-style modules with ``forward``, ``__call__`` and a ``parameters()``
generator, ``itertools`` (``chain``, ``product``, ``accumulate``) and
``functools.reduce``/``map``/``filter`` over layers. Each against Python's value and central
differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import functools
import inspect
import itertools

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, marked_line, params

R = np.random.default_rng(7102)


def r(*s):
    return R.standard_normal(s)


X = r(6, 3)
Y = r(6, 2)
LABELS = np.array([0, 1, 1, 0, 1, 0])


# ------------------------------------------------------------ hand-written pytrees


def tree_map(fn, tree):
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, v) for v in tree)
    return fn(tree)


def tree_leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in tree_leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in tree_leaves(v)]
    return [tree]


def mlp_apply(params, x):
    *hidden, last = params
    for layer in hidden:
        x = np.tanh(x @ layer["w"] + layer["b"])
    return x @ last["w"] + last["b"]


def weight_decay_loss(params, x, y, wd=1e-2):
    pred = mlp_apply(params, x)
    l2 = sum(np.sum(p**2) for p in tree_leaves(params))
    return np.mean((pred - y) ** 2) + wd * l2


def tree_map_scaled_loss(params, x, y):
    scaled = tree_map(lambda p: 0.5 * p, params)
    return np.mean((mlp_apply(scaled, x) - y) ** 2)


# ------------------------------------------------------------ init / apply pairs


def init_mlp(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n))
        for m, n in zip(sizes[:-1], sizes[1:])
    ]


def predict(params, x):
    h = x
    for W, b in params[:-1]:
        h = np.maximum(h @ W + b, 0.0) + 0.01 * (h @ W + b)
    W, b = params[-1]
    return h @ W + b


def log_softmax(z):
    z = z - np.max(z, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def cross_entropy(params, x, labels):
    logp = log_softmax(predict(params, x))
    return -np.mean(logp[np.arange(len(labels)), labels])


def accuracy_weighted_loss(params, x, labels):
    logits = predict(params, x)
    correct = np.argmax(logits, axis=1) == labels
    weights = np.where(correct, 0.5, 1.0)
    logp = log_softmax(logits)
    return -np.sum(weights * logp[np.arange(len(labels)), labels]) / np.sum(weights)


# ------------------------------------------------------------ optax-like updates


def sgd_update(grads, state, lr=0.1):
    return tree_map(lambda g: -lr * g, grads), state


def apply_updates(params, updates):
    return [(W + dW, b + db) for (W, b), (dW, db) in zip(params, updates)]


def inner_step_loss(params, x, labels):
    grads = sg.grad(cross_entropy)(params, x, labels)
    updates, _ = sgd_update(grads, None)
    new = apply_updates(params, updates)
    return cross_entropy(new, x, labels)


def adam_like_direction(params, m, v, x, y):
    eps = 1e-3
    direction = tree_map(lambda p: p, params)
    total = 0.0
    for (W, b), (mW, mb), (vW, vb) in zip(direction, m, v):
        total = total + np.sum(W * mW / (np.sqrt(vW) + eps)) + np.sum(b * mb / (np.sqrt(vb) + eps))
    return total + np.mean((predict(params, x) - y) ** 2)


# ------------------------------------------------------------ Haiku-style module-path dicts


def haiku_apply(params, x):
    h = x
    for i in range(2):
        mod = params[f"mlp/~/linear_{i}"]
        h = h @ mod["w"] + mod["b"]
        if i < 1:
            h = np.tanh(h)
    return h


def haiku_loss(params, x, y):
    reg = sum(np.sum(np.square(v["w"])) for k, v in params.items() if "linear" in k)
    return np.mean((haiku_apply(params, x) - y) ** 2) + 1e-3 * reg


# ------------------------------------------------------------ Flax-style: setup and __call__


class FlaxDense:
    def __init__(self, features):
        self.features = features

    def __call__(self, variables, x):
        kernel = variables["params"]["kernel"]
        assert kernel.shape[1] == self.features
        return x @ kernel + variables["params"].get("bias", 0.0)


def flax_apply(variables, x, y):
    model = FlaxDense(features=2)
    return np.mean((model(variables, x) - y) ** 2)


# ------------------------------------------------------------ PyTorch-style modules


class Module:
    def parameters(self):
        for v in vars(self).values():  # REFUSED
            if isinstance(v, np.ndarray):
                yield v
            elif isinstance(v, Module):
                yield from v.parameters()

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class Linear(Module):
    def __init__(self, weight, bias):
        self.weight = weight
        self.bias = bias

    def forward(self, x):
        return x @ self.weight.T + self.bias


class Net(Module):
    def __init__(self, fc1, fc2):
        self.fc1 = fc1
        self.fc2 = fc2

    def forward(self, x, dropout_mask=None):
        h = np.tanh(self.fc1(x))
        if dropout_mask is not None:
            h = h * dropout_mask
        return self.fc2(h)


def torch_style_loss(W1, b1, W2, b2, x, y):
    net = Net(Linear(W1, b1), Linear(W2, b2))
    out = net(x)
    l2 = sum(np.sum(p**2) for p in net.parameters())
    return np.mean((out - y) ** 2) + 1e-3 * l2


def torch_style_dropout(W1, b1, W2, b2, x, y, mask):
    net = Net(Linear(W1, b1), Linear(W2, b2))
    return np.mean((net(x, dropout_mask=mask) - y) ** 2)


def torch_net_argument(net, x, y):
    return np.mean((net(x) - y) ** 2) + 1e-3 * sum(np.sum(p**2) for p in net.parameters())


class NamedModule:
    def parameters(self):
        for name in self.param_names:
            yield getattr(self, name)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class NamedLinear(NamedModule):
    param_names = ("weight", "bias")

    def __init__(self, weight, bias):
        self.weight = weight
        self.bias = bias

    def forward(self, x):
        return x @ self.weight.T + self.bias


def torch_named_loss(W1, b1, W2, b2, x, y):
    layers = [NamedLinear(W1, b1), NamedLinear(W2, b2)]
    h = x
    for i, layer in enumerate(layers):
        h = layer(h)
        if i < len(layers) - 1:
            h = np.tanh(h)
    l2 = sum(np.sum(p**2) for layer in layers for p in layer.parameters())
    return np.mean((h - y) ** 2) + 1e-3 * l2


class TorchRNNCell(Module):
    def __init__(self, W_ih, W_hh, b):
        self.W_ih = W_ih
        self.W_hh = W_hh
        self.b = b

    def forward(self, x, h):
        return np.tanh(x @ self.W_ih.T + h @ self.W_hh.T + self.b)


def torch_rnn_loss(W_ih, W_hh, b, xs):
    cell = TorchRNNCell(W_ih, W_hh, b)
    h = np.zeros(W_hh.shape[0])
    outputs = []
    for x in xs:
        h = cell(x, h)
        outputs.append(h)
    return np.sum(np.stack(outputs) ** 2)


# ------------------------------------------------------------ itertools and functools over layers


def chain_params_l2(enc, dec):
    return sum(np.sum(p**2) for p in itertools.chain(enc, dec))


def chain_from_iterable(groups):
    return sum(np.sum(np.sin(p)) for p in itertools.chain.from_iterable(groups))


def product_pairs(ws):
    return sum(np.sum(a * b) for a, b in itertools.product(ws, ws))


def reduce_layers(Ws, x):
    return np.sum(functools.reduce(lambda h, W: np.tanh(h @ W), Ws, x) ** 2)


def map_filter_layers(Ws, x):
    hs = list(map(lambda W: np.tanh(x @ W), Ws))
    big = list(filter(lambda h: h.shape[1] > 1, hs))
    return sum(np.sum(h**2) for h in big)


def compose(*fns):
    return functools.reduce(lambda f, g: lambda v: g(f(v)), fns)


def partial_loss(W, x, y, *, reg):
    return np.mean((x @ W - y) ** 2) + reg * np.sum(W**2)


def partial_of_loss(W, x, y):
    loss = functools.partial(partial_loss, reg=0.1)
    return loss(W, x, y) + loss(0.5 * W, x, y)


P_DICTS = [{"w": r(3, 4), "b": r(4)}, {"w": r(4, 2), "b": r(2)}]
P_TUPLES = [(r(3, 4) * 0.5, r(4) * 0.1), (r(4, 2) * 0.5, r(2) * 0.1)]
HAIKU = {"mlp/~/linear_0": {"w": r(3, 4), "b": r(4)}, "mlp/~/linear_1": {"w": r(4, 2), "b": r(2)}}
M = [(r(3, 4), r(4)), (r(4, 2), r(2))]
V = [(np.abs(r(3, 4)) + 0.5, np.abs(r(4)) + 0.5), (np.abs(r(4, 2)) + 0.5, np.abs(r(2)) + 0.5)]
W1, B1, W2, B2 = r(4, 3), r(4), r(2, 4), r(2)
MASK = (R.random((6, 4)) > 0.3) / 0.7

CASES = [
    Case("weight_decay_tree_leaves", weight_decay_loss, (P_DICTS, X, Y), order=2),
    Case("tree_map_scaled", tree_map_scaled_loss, (P_DICTS, X, Y), order=2),
    Case("init_apply_ce", cross_entropy, (init_mlp([3, 5, 3]), X, LABELS)),
    Case("accuracy_weighted", accuracy_weighted_loss, (init_mlp([3, 4, 2], 1), X, LABELS)),
    Case("maml_inner_step", inner_step_loss, (P_TUPLES, X, LABELS[:6] % 2), rtol=1e-4),
    Case("adam_like_direction", adam_like_direction, (P_TUPLES, M, V, X, Y), order=2),
    Case("haiku_paths", haiku_loss, (HAIKU, X, Y), order=2),
    Case(
        "flax_variables",
        flax_apply,
        ({"params": {"kernel": r(3, 2), "bias": r(2)}}, X, Y),
        order=2,
    ),
    Case("flax_no_bias", flax_apply, ({"params": {"kernel": r(3, 2)}}, X, Y), order=2),
    Case("torch_dropout_kw", torch_style_dropout, (W1, B1, W2, B2, X, Y, MASK), wrt=(0, 2)),
    Case(
        "torch_named_parameters",
        torch_named_loss,
        (W1, B1, W2, B2, X, Y),
        wrt=(0, 3),
        order=2,
    ),
    Case("torch_rnn_cell", torch_rnn_loss, (0.5 * r(3, 3), 0.5 * r(3, 3), r(3), r(4, 3)), order=2),
    Case("chain_l2", chain_params_l2, ([r(2), r(3)], [r(2, 2)]), wrt=(0, 1), order=2),
    Case("chain_from_iterable", chain_from_iterable, ([[r(2), r(3)], [r(2, 2)]],), order=2),
    Case("product_pairs", product_pairs, ([r(2), r(2)],), order=2),
    Case("reduce_layers", reduce_layers, ([r(3, 3), r(3, 2)], X), order=2),
    Case("map_filter_layers", map_filter_layers, ([r(3, 3), r(3, 1), r(3, 2)], X), order=2),
    Case("partial_of_loss", partial_of_loss, (r(3, 2), X, Y), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_jax_torch_style(case):
    check(case)


@pytest.mark.parametrize(
    "f, args",
    [
        (torch_style_loss, (W1, B1, W2, B2, X, Y)),
        (torch_net_argument, (Net(Linear(W1, B1), Linear(W2, B2)), X, Y)),
    ],
    ids=["built_in_loss", "passed_in"],
)
def test_vars_of_self_in_parameters_is_refused_at_its_line(f, args):
    """``vars(self).values()`` in a ``parameters()`` generator is refused at that line of
    the method, with the way out of reading the fields by name."""
    where = f"{inspect.getsourcefile(Module)}:{marked_line(Module.parameters)}: "
    for _ in range(2):
        with pytest.raises(sg.NoRuleError) as info:
            sg.grad(f)(*args)
        assert str(info.value).startswith(where), str(info.value)
        assert "read the fields by name" in str(info.value)
