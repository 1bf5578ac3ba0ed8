"""Plain classes (no dataclass) built from the differentiated parameters inside the loss, as
tutorials write them: PyTorch-style modules with ``forward`` and ``__call__``, CS231n's
``TwoLayerNet`` with its ``self.params`` dict, ML-From-Scratch's models and activation
objects, an RNN cell, an attention head, layers built in loops and comprehensions, ``__init__``
computing its fields (scaled weights, shapes, lists of layers, a helper method) and
inheritance through ``super().__init__``. Each against Python's value and central differences
on calls 1-3, the HVP where marked ``order=2``; what sourcegrad does not follow in an
``__init__`` is refused at the line building the object, naming the reason."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(77)


def rn(*shape):
    return R.standard_normal(shape)


X = rn(5, 3)
Y = rn(5, 2)
LABELS = np.array([0, 1, 1, 0, 1])


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits, labels):
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


# ---------------------------------------------------------------- a) __init__ stores arguments


class TwoLayerNet:
    def __init__(self, params, act=np.tanh):
        self.params = params
        self.act = act

    def forward(self, x):
        h = self.act(x @ self.params["W1"] + self.params["b1"])
        return h @ self.params["W2"] + self.params["b2"]

    def loss(self, x, y):
        return cross_entropy(self.forward(x), y)


def two_layer_loss(params, x, y):
    return TwoLayerNet(params).loss(x, y)


def two_layer_relu_loss(params, x, y):
    net = TwoLayerNet(params, act=lambda z: np.maximum(z, 0.0))
    return net.loss(x, y)


def p2(i, h, o):
    return {"W1": 0.5 * rn(i, h), "b1": 0.1 * rn(h), "W2": 0.5 * rn(h, o), "b2": 0.1 * rn(o)}


class Linear:
    """PyTorch-ish module: forward and __call__."""

    def __init__(self, W, b):
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b

    def __call__(self, x):
        return self.forward(x)


def sequential_comprehension_loss(params, x, y):
    layers = [Linear(W, b) for W, b in params]
    h = x
    for layer in layers[:-1]:
        h = np.tanh(layer(h))
    return np.mean((layers[-1](h) - y) ** 2)


def linear_output(W, x):
    return Linear(W, np.zeros(W.shape[1]))(x)


class CS231nTwoLayerNet:
    """CS231n assignment 1: weights in a dict built in __init__, the loss a method."""

    def __init__(self, W1, b1, W2, b2, reg=0.0):
        self.params = {}
        self.params["W1"] = W1
        self.params["b1"] = b1
        self.params["W2"] = W2
        self.params["b2"] = b2
        self.reg = reg

    def loss(self, X, y):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        data_loss = cross_entropy(scores, y)
        return data_loss + self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))


def cs231n_loss(p, X, y):
    model = CS231nTwoLayerNet(p["W1"], p["b1"], p["W2"], p["b2"], reg=0.05)
    return model.loss(X, y)


class Sigmoid:
    """ML-From-Scratch's activation objects: no __init__, a __call__ and a gradient."""

    def __call__(self, x):
        return 1 / (1 + np.exp(-x))


class LogisticRegression:
    def __init__(self, w, b, activation=None):
        self.w = w
        self.b = b
        self.sigmoid = activation if activation is not None else Sigmoid()

    def predict_proba(self, X):
        return self.sigmoid(X.dot(self.w) + self.b)


def logistic_loss(p, X, y):
    model = LogisticRegression(p["w"], p["b"])
    prob = model.predict_proba(X)
    return -np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob))


class StoredList:
    def __init__(self, W1, W2, *, gain=1.0):
        self.weights = [W1, W2]
        self.gain = gain

    def __call__(self, x):
        for W in self.weights:
            x = np.tanh(self.gain * (x @ W))
        return x


def stored_list_loss(p, x):
    return np.sum(StoredList(p[0], p[1], gain=0.7)(x) ** 2)


# ---------------------------------------------------------------- b) __init__ computes fields


class Dense:
    def __init__(self, W, b, scale=0.5):
        self.W = W * scale
        self.b = b
        self.n_out = W.shape[1]

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


class MLP:
    def __init__(self, params):
        self.layers = [Dense(W, b) for W, b in params]
        self.n = len(params)

    def forward(self, x):
        for i in range(self.n):
            x = self.layers[i](x)
        return x


def mlp_loss(params, x, y):
    out = MLP(params).forward(x)
    return np.mean((out - y) ** 2)


class Scaled:
    gain = 1.5

    def __init__(self, W):
        self.W = self._scaled(W)
        self.W += 0.1 * W * W

    def _scaled(self, W):
        return W * self.gain

    def __call__(self, x):
        return np.sin(x @ self.W)


def helper_method_loss(W, x):
    return np.sum(Scaled(W)(x))


class MaybeBias:
    def __init__(self, W, b=None):
        self.W = W
        if b is None:
            self.b = np.zeros(W.shape[1])
        else:
            self.b = b

    def __call__(self, x):
        return np.tanh(x @ self.W + self.b)


def maybe_bias_loss(p, x):
    return np.sum(MaybeBias(p["W"])(x) ** 2) + np.sum(MaybeBias(p["W"], p["b"])(x))


class RNNCell:
    def __init__(self, Wx, Wh, b):
        self.Wx = Wx
        self.Wh = Wh
        self.b = b
        self.hidden = Wh.shape[0]

    def __call__(self, x, h):
        return np.tanh(x @ self.Wx + h @ self.Wh + self.b)


def rnn_loss(p, xs):
    cell = RNNCell(p["Wx"], p["Wh"], p["b"])
    h = np.zeros(cell.hidden)
    for t in range(xs.shape[0]):
        h = cell(xs[t], h)
    return np.sum(h**2)


class AttentionHead:
    def __init__(self, Wq, Wk, Wv):
        self.Wq = Wq
        self.Wk = Wk
        self.Wv = Wv
        self.scale = 1.0 / np.sqrt(Wk.shape[1])

    def forward(self, x):
        q, k, v = x @ self.Wq, x @ self.Wk, x @ self.Wv
        att = softmax(q @ k.T * self.scale)
        return att @ v


def attention_loss(p, x):
    heads = [AttentionHead(*w) for w in p]
    out = np.concatenate([head.forward(x) for head in heads], axis=-1)
    return np.sum(out**2)


class Encoder:
    def __init__(self, p):
        self.l1 = Linear(p["W1"], p["b1"])
        self.l2 = Linear(p["W2"], p["b2"])

    def __call__(self, x):
        return self.l2(np.tanh(self.l1(x)))


def nested_objects_loss(p, x, y):
    return np.mean((Encoder(p)(x) - y) ** 2)


# ---------------------------------------------------------------- c) loops and inheritance


def built_in_loop_loss(p, x):
    layers = []
    for W, b in zip(p["Ws"], p["bs"]):
        layers.append(Dense(W, b, scale=1.0))
    for layer in layers:
        x = layer(x)
    return np.sum(x)


class Module:
    def __init__(self, name):
        self.name = name
        self.training = False


class LinearModule(Module):
    def __init__(self, W, b):
        super().__init__("linear")
        self.W = W
        self.b = b

    def forward(self, x):
        return x @ self.W + self.b


def inherited_loss(p, x, y):
    net = LinearModule(p["W"], p["b"])
    return np.mean((np.tanh(net.forward(x)) - y) ** 2)


class Layer:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return np.tanh(x @ self.W)


class BiasLayer(Layer):
    def __init__(self, W, b):
        Layer.__init__(self, W * 2.0)
        self.b = b

    def __call__(self, x):
        return super().__call__(x) + self.b


def explicit_base_loss(p, x):
    return np.sum(BiasLayer(p["W"], p["b"])(x) ** 2)


class TreeNode:
    """Objects that build objects of their own class (recursion through the maker)."""

    def __init__(self, W, depth):
        self.W = W
        self.kids = [TreeNode(W * 0.5, depth - 1) for _ in range(2)] if depth > 0 else []

    def __call__(self, x):
        return np.sum(np.sin(x @ self.W)) + sum(kid(x) for kid in self.kids)


def tree_of_objects_loss(W, x):
    return TreeNode(W, 2)(x)


def local_class_loss_with(scale):
    class Local:  # a class defined in a function: __init__ reads a closure variable
        def __init__(self, W):
            self.W = W * scale

        def __call__(self, x):
            return np.sum(np.sin(x @ self.W))

    def local_class_loss(W, x):
        return Local(W)(x)

    return local_class_loss


# ---------------------------------------------------------------- refused

COUNT = [0]
REGISTRY = []


class Counted:
    def __init__(self, W):
        global COUNT
        COUNT = [COUNT[0] + 1]
        self.W = W


def global_loss(W, x):
    return np.sum(Counted(W).W @ x)  # REFUSED


class FromDict:
    def __init__(self, p):
        for k, v in p.items():
            setattr(self, k, v)


def setattr_loss(p, x):
    return np.sum(FromDict(p).W @ x)  # REFUSED


class Slotted:
    __slots__ = ("W",)

    def __init__(self, W):
        self.W = W


def slots_loss(W, x):
    return np.sum(Slotted(W).W @ x)  # REFUSED


class Builder:
    def __init__(self, W):
        self._build(W)

    def _build(self, W):
        self.W = W


def builder_loss(W, x):
    return np.sum(Builder(W).W @ x)  # REFUSED


class OnePath:
    def __init__(self, W, use=True):
        if use:
            self.W = W


def one_path_loss(W, x):
    return np.sum(OnePath(W).W @ x)  # REFUSED


class Registered:
    def __init__(self, W):
        self.W = W
        REGISTRY.append(self)


def registered_loss(W, x):
    return np.sum(Registered(W).W @ x)  # REFUSED


class SetterField:
    def __init__(self, W):
        self.W = W

    @property
    def W(self):
        return self._W

    @W.setter
    def W(self, value):
        self._W = 2.0 * value


def setter_loss(W, x):
    return np.sum(x @ SetterField(W).W)  # REFUSED


def mutated_after_loss(W, x):
    layer = Linear(W, np.zeros(W.shape[1]))
    layer.W = layer.W * 2.0  # REFUSED
    return np.sum(layer(x))


class Seq:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = np.tanh(layer(x))
        return x


def field_appended_loss(W, x):
    net = Seq([Linear(W, np.zeros(W.shape[1]))])
    net.layers.append(Linear(W.T, np.zeros(W.shape[0])))  # REFUSED
    return np.sum(net(x))


def handed_in_then_appended_loss(W, x):
    layers = [Linear(W, np.zeros(W.shape[1]))]
    net = Seq(layers)  # REFUSED
    layers.append(Linear(W.T, np.zeros(W.shape[0])))
    return np.sum(net(x))


def held_list_appended_loss(W, x):
    blocks = [[W]]
    blocks[0].append(W * 2.0)
    return np.sum(x @ blocks[0][1])


CASES = [
    Case("two_layer_net", two_layer_loss, (p2(3, 4, 2), X, LABELS), order=2),
    Case("two_layer_net_lambda_act", two_layer_relu_loss, (p2(3, 4, 2), X, LABELS)),
    Case(
        "sequential_comprehension",
        sequential_comprehension_loss,
        ([(rn(3, 4), rn(4)), (rn(4, 4), rn(4)), (rn(4, 2), rn(2))], X, Y),
        order=2,
    ),
    Case("linear_jacobian", linear_output, (rn(3, 2), rn(4, 3)), kind="jac"),
    Case("cs231n_two_layer_net", cs231n_loss, (p2(3, 6, 2), X, LABELS)),
    Case(
        "ml_from_scratch_logistic",
        logistic_loss,
        ({"w": rn(3), "b": 0.1}, X, (rn(5) > 0).astype(float)),
        order=2,
    ),
    Case("stored_list_keyword_only", stored_list_loss, ([rn(3, 4), rn(4, 2)], X)),
    Case("mlp_of_dense_layers", mlp_loss, ([(rn(3, 4), rn(4)), (rn(4, 2), rn(2))], X, Y)),
    Case("helper_method_in_init", helper_method_loss, (rn(3, 2), X), order=2),
    Case("bias_on_both_paths", maybe_bias_loss, ({"W": rn(3, 2), "b": rn(2)}, X)),
    Case(
        "rnn_cell",
        rnn_loss,
        ({"Wx": 0.5 * rn(3, 4), "Wh": 0.5 * rn(4, 4), "b": rn(4)}, rn(6, 3)),
        order=2,
    ),
    Case("attention_heads", attention_loss, ([(rn(3, 2), rn(3, 2), rn(3, 2))] * 2, X)),
    Case("nested_objects", nested_objects_loss, (p2(3, 4, 2), X, Y)),
    Case(
        "built_in_a_loop",
        built_in_loop_loss,
        ({"Ws": [rn(3, 4), rn(4, 2)], "bs": [rn(4), rn(2)]}, X),
    ),
    Case("super_init", inherited_loss, ({"W": rn(3, 2), "b": rn(2)}, X, Y), order=2),
    Case("explicit_base_init", explicit_base_loss, ({"W": rn(3, 2), "b": rn(2)}, X)),
    Case("tree_of_objects", tree_of_objects_loss, (rn(3, 2), X)),
    Case("class_defined_in_a_function", local_class_loss_with(0.3), (rn(3, 2), X), order=2),
    # (a silent zero gradient once, then refused; now followed: a list of new lists grown)
    Case("item_list_appended", held_list_appended_loss, (rn(3, 2), rn(4, 3)), order=2),
]


REFUSED = [
    Case("writes_a_global", global_loss, (rn(3, 2), rn(2)), refused=(sg.NoRuleError, "`global`")),
    Case(
        "setattr_computed_names",
        setattr_loss,
        ({"W": rn(3, 2)}, rn(2)),
        refused=(sg.NoRuleError, "sets fields by computed names"),
    ),
    Case("slots", slots_loss, (rn(3, 2), rn(2)), refused=(sg.NoRuleError, "__slots__")),
    Case(
        "method_stores_into_object",
        builder_loss,
        (rn(3, 2), rn(2)),
        refused=(sg.NoRuleError, "stores into the object being built"),
    ),
    Case(
        "field_on_one_path",
        one_path_loss,
        (rn(3, 2), rn(2)),
        refused=(sg.NoRuleError, "on some paths only"),
    ),
    Case(
        "registers_itself",
        registered_loss,
        (rn(3, 2), rn(2)),
        refused=(sg.NoRuleError, "hands `self` to `REGISTRY.append`, a side effect"),
    ),
    Case(
        "property_setter_in_init",
        setter_loss,
        (rn(3, 2), rn(4, 3)),
        refused=(sg.NoRuleError, "calls the setter of the property `W`"),
    ),
    Case(
        "mutated_after_building",
        mutated_after_loss,
        (rn(3, 2), rn(4, 3)),
        refused=(sg.UnsupportedSyntaxError, "keeps a value in an attribute that the function"),
    ),
    Case(
        "field_list_appended_after_building",
        field_appended_loss,
        (rn(3, 2), rn(4, 3)),
        refused=(sg.UnsupportedSyntaxError, "build the list or dict whole before you store it"),
    ),
    Case(
        "list_handed_in_then_appended",
        handed_in_then_appended_loss,
        (rn(3, 2), rn(4, 3)),
        refused=(sg.UnsupportedSyntaxError, "copy it (`list(layers)`)"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_plain_class_built_in_loss(case):
    check(case)


@pytest.mark.parametrize("case", params(REFUSED))
def test_plain_class_refused(case):
    check(case)
