"""``sourcegrad.nn`` next to the user's own code, more forms: a ``BatchNorm1d`` in eval mode
inside a user ``nn.Module`` subclass (its running statistics constants), a dropout mask drawn
by the caller and multiplied in, ``nn.Embedding`` feeding a hand-written RMSNorm and a tied
output head, ``nn.functional.layer_norm``/``gelu`` in a transformer MLP block written by hand,
``nn.BCEWithLogitsLoss`` on a two-tower score, ``nn.MSELoss`` on a neural-ODE endpoint, and a
training loop outside stepping ``sg.optim.Adam`` with gradients from ``sg.value_and_grad``
(each step's gradient checked). Each against Python's value and central differences on calls
1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn

from .harness import Case, check, numerical, params

R = np.random.default_rng(777)


def r(*s):
    return R.standard_normal(s)


X = r(5, 3)
Y = r(5, 2)
LABELS = np.array([0, 1, 1, 0, 1])


class BNNet(nn.Module):
    def __init__(self):
        self.fc1 = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, params, x):
        h = self.fc1(params["fc1"], x)
        h = self.bn(params["bn"], h)
        return self.fc2(params["fc2"], np.tanh(h))


BN_NET = BNNet()
BN_NET.eval()
BN_PARAMS = BN_NET.init(np.random.default_rng(5))


def bn_eval_loss(params, x, y):
    return np.mean((BN_NET(params, x) - y) ** 2)


MASK = (R.uniform(size=(5, 4)) > 0.3) / 0.7
LIN_A = nn.Linear(3, 4)
LIN_B = nn.Linear(4, 2)


def dropout_mask_from_caller(params, x, y, mask):
    h = np.maximum(LIN_A(params["a"], x), 0.0) * mask
    return nn.MSELoss()(LIN_B(params["b"], h), y)


EMB = nn.Embedding(7, 4)


def rms_norm(x, g, eps=1e-6):
    return x * g / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps)


def embedding_rmsnorm_tied(params, tokens, targets):
    h = EMB(params["emb"], tokens)
    h = rms_norm(h, params["g"])
    logits = h @ params["emb"]["weight"].T
    return nn.functional.cross_entropy(logits, targets)


def transformer_mlp_block(params, x):
    h = nn.functional.layer_norm(x, (x.shape[-1],), params["ln_w"], params["ln_b"])
    h = nn.functional.gelu(h @ params["W1"]) @ params["W2"]
    return np.sum((x + h) ** 2)


def two_tower_bce(params, users, items, clicks):
    u = np.tanh(params["U"][users] @ params["Wu"])
    v = np.tanh(params["I"][items] @ params["Wi"])
    logits = np.sum(u * v, axis=1)
    return nn.BCEWithLogitsLoss()(logits, clicks)


def ode_endpoint_mse(W, y0, target):
    y = y0
    for _ in range(3):
        y = y + 0.3 * np.tanh(y @ W)
    return nn.MSELoss()(y, target)


CASES = [
    Case("batchnorm_eval_in_module_subclass", bn_eval_loss, (BN_PARAMS, X, Y), order=2),
    Case(
        "dropout_mask_from_caller",
        dropout_mask_from_caller,
        (
            {"a": LIN_A.init(np.random.default_rng(1)), "b": LIN_B.init(np.random.default_rng(2))},
            X,
            Y,
            MASK,
        ),
        order=2,
    ),
    Case(
        "embedding_rmsnorm_tied_head",
        embedding_rmsnorm_tied,
        (
            {"emb": EMB.init(np.random.default_rng(3)), "g": 1 + 0.1 * r(4)},
            np.array([1, 6, 2, 2]),
            np.array([6, 2, 0, 1]),
        ),
        order=2,
    ),
    Case(
        "functional_layer_norm_gelu_block",
        transformer_mlp_block,
        ({"ln_w": 1 + 0.1 * r(3), "ln_b": 0.1 * r(3), "W1": r(3, 6), "W2": r(6, 3)}, X),
        order=2,
    ),
    Case(
        "two_tower_bce_with_logits",
        two_tower_bce,
        (
            {"U": r(3, 2), "I": r(4, 2), "Wu": r(2, 2), "Wi": r(2, 2)},
            np.array([0, 1, 2, 2]),
            np.array([3, 0, 1, 1]),
            np.array([1.0, 0.0, 0.0, 1.0]),
        ),
        order=2,
    ),
    Case("ode_endpoint_mse_loss", ode_endpoint_mse, (r(2, 2), r(3, 2), r(3, 2)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_library_more(case):
    check(case)


def test_adam_steps_outside_with_checked_gradients():
    """``sg.optim.Adam`` stepping a parameter tree with gradients from ``sg.value_and_grad``
    of a loss mixing library layers and a user helper: each step's gradient against central
    differences; the loss goes down."""
    p = {"a": LIN_A.init(np.random.default_rng(11)), "b": LIN_B.init(np.random.default_rng(12))}
    opt = sg.optim.Adam(p, lr=0.05)
    vg = sg.value_and_grad(dropout_mask_from_caller)
    losses = []
    for step in range(4):
        loss, g = vg(p, X, Y, MASK)
        if step < 2:
            want = numerical(dropout_mask_from_caller, (p, X, Y, MASK), 0)
            for k in ("a", "b"):
                for name in ("weight", "bias"):
                    np.testing.assert_allclose(g[k][name], want[k][name], rtol=1e-5, atol=1e-7)
        opt.step(g)
        losses.append(loss)
    assert losses[-1] < losses[0]
