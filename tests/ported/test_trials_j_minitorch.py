"""minitorch- and PyTorch-style module code over NumPy arrays, the model object handed to
``sg.grad`` itself: a ``Module`` keeping children in ``self._modules`` and parameters in
``self._parameters`` through its own ``__setattr__`` override (refused with the way out
where it is built in the loss; used as an argument it is a record), a ``Parameter`` with
``.value``, ``named_parameters`` recursing through children, modules with ``__repr__`` and
``extra_repr`` left as written, an ``nn.ModuleList``-like list subclass-free holder,
``model.train()``/``model.eval()`` flags set outside the loss, ``value_and_grad`` of a loss
whose first argument is the model object (the gradient a model of the same class),
``hvp`` along a model object, and a hand-written SGD loop over ``named_parameters`` of the
gradient. Each against Python's value and central differences on calls 1-3."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, numerical, params

R = np.random.default_rng(8086)


def r(*s):
    return R.standard_normal(s)


X = r(4, 3)
Y = r(4, 2)


class Dense:
    def __init__(self, W, b, act="tanh"):
        self.W = W
        self.b = b
        self.act = act

    def __call__(self, x):
        z = x @ self.W + self.b
        return np.tanh(z) if self.act == "tanh" else z

    def __repr__(self):
        return f"Dense({self.W.shape[0]}, {self.W.shape[1]}, act={self.act!r})"


class MLP:
    def __init__(self, layers):
        self.layers = layers
        self.training = True

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self):
        return "MLP(\n" + "\n".join(f"  {layer!r}" for layer in self.layers) + "\n)"


def mlp_loss(model, x, y):
    pred = model(x)
    return np.mean((pred - y) ** 2)


def mlp_loss_with_decay(model, x, y, wd=1e-2):
    decay = sum(np.sum(layer.W**2) for layer in model.layers)
    return mlp_loss(model, x, y) + wd * decay


def model_flag_branch(model, x, y):
    pred = model(x)
    if model.training:
        pred = pred * 0.9
    return np.mean((pred - y) ** 2)


def make_model():
    return MLP([Dense(0.5 * r(3, 4), 0.1 * r(4)), Dense(0.5 * r(4, 2), 0.1 * r(2), act="linear")])


class Parameter:
    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Parameter({self.value.shape})"


class PLinear:
    def __init__(self, W, b):
        self.weight = Parameter(W)
        self.bias = Parameter(b)

    def forward(self, x):
        return x @ self.weight.value + self.bias.value


def parameter_objects_loss(layer, x, y):
    return np.mean((np.tanh(layer.forward(x)) - y) ** 2)


class RegisteringModule:
    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})

    def __setattr__(self, name, value):
        if isinstance(value, np.ndarray):
            self._parameters[name] = value
        elif isinstance(value, RegisteringModule):
            self._modules[name] = value
        object.__setattr__(self, name, value)


class RLinear(RegisteringModule):
    def __init__(self, W, b):
        super().__init__()
        self.W = W
        self.b = b

    def __call__(self, x):
        return x @ self.W + self.b


def registering_module_built_inside(W, b, x, y):
    layer = RLinear(W, b)  # REFUSED
    return np.mean((layer(x) - y) ** 2)


def registering_module_argument(model, x, y):  # REFUSED
    return np.mean((model(x) - y) ** 2)


def named_parameters(model):
    out = {}
    for i, layer in enumerate(model.layers):
        out[f"layers.{i}.W"] = layer.W
        out[f"layers.{i}.b"] = layer.b
    return out


def named_decay_loss(model, x, y):
    named = named_parameters(model)
    decay = sum(np.sum(v**2) for k, v in named.items() if k.endswith(".W"))
    return mlp_loss(model, x, y) + 0.01 * decay


CASES = [
    Case("model_object_wrt", mlp_loss, (make_model(), X, Y), order=2),
    Case("model_object_decay_generator", mlp_loss_with_decay, (make_model(), X, Y), order=2),
    Case("model_training_flag_read", model_flag_branch, (make_model(), X, Y)),
    Case(
        "parameter_objects_value", parameter_objects_loss, (PLinear(r(3, 2), r(2)), X, Y), order=2
    ),
    Case(
        "setattr_override_built_inside_refused",
        registering_module_built_inside,
        (r(3, 2), r(2), X, Y),
        refused=(sg.NoRuleError, "__init__"),
    ),
    Case(
        "setattr_override_argument_refused",
        registering_module_argument,
        (MLP([RLinear(r(3, 2), r(2))]), X, Y),
        refused=(sg.WrtTypeError, "model.layers[0] is an object of class RLinear"),
    ),
    Case("named_parameters_fstring_keys", named_decay_loss, (make_model(), X, Y), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_minitorch(case):
    check(case)


def test_model_gradient_is_a_model_and_repr_unchanged():
    """The gradient with respect to a model object is an object of the model's class whose
    fields hold the gradients (its settings kept), so ``repr`` still works on it; a
    hand-written SGD step over the layers lowers the loss."""
    model = make_model()
    text = repr(model)
    vg = sg.value_and_grad(mlp_loss)
    want = numerical(mlp_loss, (model, X, Y), 0)
    losses = []
    for step in range(3):
        loss, g = vg(model, X, Y)
        assert type(g) is MLP and type(g.layers[0]) is Dense
        assert g.layers[1].act == "linear"
        if step == 0:
            for gl, wl in zip(g.layers, want.layers):
                np.testing.assert_allclose(gl.W, wl.W, rtol=1e-5, atol=1e-7)
                np.testing.assert_allclose(gl.b, wl.b, rtol=1e-5, atol=1e-7)
        for layer, gl in zip(model.layers, g.layers):
            layer.W = layer.W - 0.1 * gl.W
            layer.b = layer.b - 0.1 * gl.b
        losses.append(loss)
    assert repr(model) == text
    assert losses[-1] < losses[0]


def test_eval_flag_set_outside_the_loss():
    """``model.eval()``-style flags set by the caller between calls: each call's gradient is
    the one of the branch the flag takes then."""
    model = make_model()
    df = sg.grad(model_flag_branch)
    for training in (True, False, True):
        model.training = training
        want = numerical(model_flag_branch, (model, X, Y), 0)
        got = df(model, X, Y)
        np.testing.assert_allclose(got.layers[0].W, want.layers[0].W, rtol=1e-5, atol=1e-7)
