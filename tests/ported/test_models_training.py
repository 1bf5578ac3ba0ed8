"""Losses and training idioms as people write them today: InfoNCE, label smoothing, focal,
Huber, triplet and pairwise ranking losses, REINFORCE with integer actions, kernel ridge
through a Cholesky factor; optimizer steps inside the loss (unrolled SGD and Adam, a
dataclass-method meta step, ``tree_map`` and comprehension steps), a WGAN-GP penalty, a
power iteration with a tolerance, parameters as namedtuples / dataclasses / lists of tuples /
``f"layer{i}"`` keys, ``enumerate(reversed(layers))``, ``functools.reduce`` over layer
objects, an LSTM over a ``NamedTuple``, a GRU seq2seq, ``sg.nn`` and ``sg.model`` in a loss.
Each against Python's value and central differences on calls 1-3 (the optimized code runs
from the second call), and the HVP where smooth; refusals name the user's line and a way out
that works."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import NamedTuple

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import nn
from sourcegrad.nn import functional as F
from sourcegrad.util import tree_map

from .harness import Case, check, check_refusal, params

R = np.random.default_rng(47)


def rn(*shape):
    return R.standard_normal(shape)


# ---------------------------------------------------------------- losses


def info_nce(W, xa, xb, tau=0.5):
    za, zb = xa @ W, xb @ W
    za = za / np.linalg.norm(za, axis=1, keepdims=True)
    zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
    logits = za @ zb.T / tau
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(logp))


def label_smoothing(logits, labels, eps=0.1):
    n, k = logits.shape
    target = np.full((n, k), eps / k)
    target[np.arange(n), labels] += 1.0 - eps
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(target * logp) / n


def focal_loss(logits, y, gamma=2.0, alpha=0.25):
    p = 1 / (1 + np.exp(-logits))
    pt = np.where(y == 1, p, 1 - p)
    at = np.where(y == 1, alpha, 1 - alpha)
    return np.mean(-at * (1 - pt) ** gamma * np.log(pt))


def huber(w, x, y, delta=0.5):
    r = x @ w - y
    quad = np.minimum(np.abs(r), delta)
    return np.mean(0.5 * quad**2 + delta * (np.abs(r) - quad))


def triplet(W, a, p, n, margin=1.0):
    ea, ep, en = a @ W, p @ W, n @ W
    dp = np.sum((ea - ep) ** 2, axis=1)
    dn = np.sum((ea - en) ** 2, axis=1)
    return np.mean(np.maximum(dp - dn + margin, 0.0))


def pairwise_ranking(w, X, y):
    s = X @ w
    diff = s[:, None] - s[None, :]
    sign = np.sign(y[:, None] - y[None, :])
    mask = np.triu(np.ones_like(diff), 1)
    return np.sum(np.log1p(np.exp(-sign * diff)) * mask) / mask.sum()


def reinforce(theta, states, actions, returns):
    logits = states @ theta
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    chosen = np.take_along_axis(logp, actions[:, None], axis=1)[:, 0]
    return -np.mean(chosen * (returns - returns.mean()))


def kernel_ridge(log_ls, X, y, lam=0.1):
    d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2 / np.exp(log_ls) ** 2, axis=-1)
    K = np.exp(-0.5 * d2) + lam * np.eye(len(X))
    L = np.linalg.cholesky(K)
    return 0.5 * y @ np.linalg.solve(K, y) + np.sum(np.log(np.diag(L)))


def gumbel_softmax(logits, g, tau=0.5):
    y = (logits + g) / tau
    s = np.exp(y - y.max(-1, keepdims=True))
    return np.sum(s / s.sum(-1, keepdims=True) * np.arange(logits.shape[-1]))


def tied_embeddings(E, tokens, targets):
    logits = np.tanh(E[tokens]) @ E.T
    logits = logits - logits.max(1, keepdims=True)
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -np.mean(lp[np.arange(len(targets)), targets])


LOSSES = [
    Case("info_nce", info_nce, (rn(3, 2), rn(4, 3), rn(4, 3)), wrt=(0, 1), order=2),
    Case("label_smoothing", label_smoothing, (rn(4, 3), np.array([0, 2, 1, 2])), order=2),
    Case("focal_loss", focal_loss, (rn(6), np.array([1, 0, 1, 1, 0, 0])), order=2),
    Case("huber", huber, (rn(3), rn(5, 3), rn(5))),
    Case("triplet_margin", triplet, (rn(3, 2), rn(5, 3), rn(5, 3), rn(5, 3))),
    Case("pairwise_ranking", pairwise_ranking, (rn(3), rn(5, 3), rn(5)), order=2),
    Case("reinforce", reinforce, (rn(3, 4), rn(6, 3), np.array([0, 3, 2, 1, 1, 0]), rn(6)),
         order=2),
    Case("kernel_ridge_cholesky", kernel_ridge, (0.1 * rn(2), rn(5, 2), rn(5)), order=2),
    Case("gumbel_softmax_noise_passed_in", gumbel_softmax, (rn(2, 4), rn(2, 4)), order=2),
    Case("tied_embeddings", tied_embeddings, (rn(6, 3), np.array([0, 2, 5]), np.array([1, 1, 4])),
         order=2),
]  # fmt: skip


# ---------------------------------------------------------------- steps inside the loss


def mse(w, X, y):
    return np.mean((np.tanh(X @ w) - y) ** 2)


def unrolled_sgd(w, xs, ys, lr=0.1):
    for x, y in zip(xs, ys):
        w = w - lr * sg.grad(mse)(w, x, y)
    return mse(w, xs[-1], ys[-1])


def unrolled_adam(w, X, y, steps=3, lr=0.1, b1=0.9, b2=0.999, eps=1e-8):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = sg.grad(mse)(w, X, y)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return mse(w, X, y)


class Learner:
    lr = 0.1
    steps = 3
    l2 = 1e-2

    def inner_loss(self, w, X, y):
        return np.mean((X @ w - y) ** 2) + self.l2 * np.sum(w * w)

    def adapted(self, w, X, y):
        for _ in range(self.steps):
            w = w - self.lr * sg.grad(self.inner_loss)(w, X, y)
        return w


LEARNER = Learner()


def maml(w, Xs, ys, Xq, yq):
    return LEARNER.inner_loss(LEARNER.adapted(w, Xs, ys), Xq, yq)


def dict_mse(p, x, y):
    return np.mean((np.tanh(x @ p["W"] + p["b"]) - y) ** 2)


def tree_map_step(p, x, y, lr=0.1):
    g = sg.grad(dict_mse)(p, x, y)
    return dict_mse(tree_map(lambda a, ga: a - lr * ga, p, g), x, y)


def pairs_mse(ps, x, y):
    W, b = ps
    return np.mean((np.tanh(x @ W + b) - y) ** 2)


def two_list_steps(ps, x, y, lr=0.05):
    for _ in range(2):
        gs = sg.grad(pairs_mse)(ps, x, y)
        ps = [p - lr * g for p, g in zip(ps, gs)]
    return pairs_mse(ps, x, y)


def critic(w, x):
    return np.sum(np.tanh(x @ w))


def wgan_gp(w, real, fake, alpha):
    g = sg.grad(critic, 1)(w, alpha * real + (1 - alpha) * fake)
    return critic(w, fake) - critic(w, real) + 10.0 * (np.sqrt(np.sum(g**2)) - 1.0) ** 2


def spectral_norm(W, u, tol=1e-9):
    for _ in range(500):
        v = W.T @ u
        v = v / np.linalg.norm(v)
        u_new = W @ v
        u_new = u_new / np.linalg.norm(u_new)
        if np.linalg.norm(u_new - u) < tol:
            break
        u = u_new
    return u_new @ W @ v


def fixed_point(W, x, tol=1e-10):
    h = np.zeros(W.shape[0])
    for _ in range(200):
        h_new = np.tanh(W @ h + x)
        if np.max(np.abs(h_new - h)) < tol:
            return np.sum(h_new**2)
        h = h_new
    return np.sum(h**2)


STEPS = [
    Case("unrolled_sgd", unrolled_sgd, (rn(3), [rn(4, 3) for _ in range(3)],
         [rn(4) for _ in range(3)]), order=2),
    Case("unrolled_adam", unrolled_adam, (rn(3), rn(5, 3), rn(5)), rtol=1e-4),
    Case("maml_with_class_hyperparameters", maml, (rn(3), rn(5, 3), rn(5), rn(4, 3), rn(4)),
         order=2),
    Case("tree_map_inner_step", tree_map_step, ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3),
         rn(4, 2)), order=2),
    Case("comprehension_inner_steps", two_list_steps, ([rn(3, 2), rn(2)], rn(4, 3), rn(4, 2)),
         order=2),
    Case("wgan_gradient_penalty", wgan_gp, (rn(3), rn(4, 3), rn(4, 3), R.random((4, 1))),
         rtol=1e-4),
    Case("power_iteration_with_tolerance", spectral_norm, (rn(3, 3), rn(3)), rtol=1e-4),
    Case("fixed_point_early_return", fixed_point, (0.3 * rn(3, 3), rn(3)), wrt=(0, 1),
         rtol=1e-4),
]  # fmt: skip


# ---------------------------------------------------------------- parameter idioms


class LSTMParams(NamedTuple):
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray


def lstm_step(p, x, h, c):
    i, f, o, g = np.split(x @ p.Wx + h @ p.Wh + p.b, 4, axis=-1)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    c = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def lstm_loss(p, xs, y):
    h = np.zeros((xs.shape[1], p.Wh.shape[0]))
    c = np.zeros_like(h)
    for x in xs:
        h, c = lstm_step(p, x, h, c)
    return np.mean((h - y) ** 2)


def gru_cell(p, x, h):
    r = 1 / (1 + np.exp(-(x @ p["Wr"] + h @ p["Ur"])))
    z = 1 / (1 + np.exp(-(x @ p["Wz"] + h @ p["Uz"])))
    n = np.tanh(x @ p["Wn"] + r * (h @ p["Un"]))
    return (1 - z) * n + z * h


def seq2seq(p, src, tgt_in, tgt_out):
    h = np.zeros((src.shape[1], 3))
    for x in src:
        h = gru_cell(p["enc"], x, h)
    loss = 0.0
    for t in range(tgt_in.shape[0]):
        h = gru_cell(p["dec"], tgt_in[t], h)
        logits = h @ p["out"]
        lse = np.log(np.sum(np.exp(logits), axis=1))
        loss = loss - np.mean(logits[np.arange(len(tgt_out[t])), tgt_out[t]] - lse)
    return loss / tgt_in.shape[0]


def gru_params(i, h):
    return {k: 0.4 * rn(i if k[0] == "W" else h, h) for k in ["Wr", "Ur", "Wz", "Uz", "Wn", "Un"]}


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"

    def __call__(self, h):
        return np.tanh(h @ self.W + self.b)

    def penalty(self):
        return np.sum(self.W**2)


def dataclass_settings(layers, x):
    for layer in layers:
        z = x @ layer.W + layer.b
        x = np.tanh(z) if layer.act == "tanh" else np.maximum(z, 0)
    return np.sum(x**2)


def reduce_over_layers(layers, x):
    out = functools.reduce(lambda h, layer: layer(h), layers, x)
    return np.sum(out**2) + 0.01 * sum(layer.penalty() for layer in layers)


def reversed_enumerate(layers, x):
    for i, (W, b) in enumerate(reversed(layers)):
        x = np.tanh(x @ W.T + b) * (i + 1)
    return np.sum(x**2)


class Stack:
    def __init__(self, n):
        self.n = n

    def forward(self, p, x):
        for i in range(self.n):
            W = p[f"layer{i}"]
            x = self.elu(x @ W) if i < self.n - 1 else x @ W
        return x

    @staticmethod
    def elu(z):
        return np.where(z > 0, z, np.exp(z) - 1)


STACK = Stack(3)


def fstring_keys(p, x):
    return np.sum(STACK.forward(p, x) ** 2)


def items_with_prefix(p, x):
    reg = 0.0
    for name, v in p.items():
        if name.startswith("W"):
            reg += np.sum(v**2)
    return np.sum(np.tanh(x @ p["W1"] + p["b1"])) + 0.1 * reg


def masked_update(p, x, mask):
    p = {**p, "W": p["W"] * mask}
    return np.sum(np.tanh(x @ p["W"] + p["b"]) ** 2)


def dropout_masks(layers, x, masks, y):
    h = x
    for (W, b), m in zip(layers, masks):
        h = np.tanh(h @ W + b) * m / 0.8
    return np.sum((h - y) ** 2)


def deep_sets(p, sets):
    phi, rho = p
    pooled = [np.sum(np.tanh(s @ phi), axis=0) for s in sets]
    return sum(np.sum(np.tanh(q @ rho)) for q in pooled)


MODEL = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def nn_with_regulariser(p, x, y, lam=1e-2):
    reg = sum(np.sum(layer["weight"] ** 2) for layer in p if layer)
    return nn.CrossEntropyLoss()(MODEL(p, x), y) + lam * reg


class Net(nn.Module):
    hidden = 4
    scale = 0.5

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, self.hidden)
        self.fc2 = nn.Linear(self.hidden, 1)

    def forward(self, p, x):
        return self.fc2(p["fc2"], np.tanh(self.fc1(p["fc1"], x)) * self.scale)


NET = Net()


def module_with_class_hyperparameters(p, x, y):
    return np.mean((NET(p, x)[:, 0] - y) ** 2)


MLP, MLP_PARAMS = sg.model.NeuralNetwork(3, (4, 2), "Tanh", rng=0)


def model_constructor_loss(p, x, y):
    return np.mean((MLP(p, x) - y) ** 2)


@dataclasses.dataclass
class TinyLM:
    emb: np.ndarray
    ln_w: np.ndarray
    ln_b: np.ndarray
    W: np.ndarray
    b: np.ndarray

    def __call__(self, tokens):
        h = F.embedding(tokens, self.emb)
        h = F.gelu(F.layer_norm(h, (h.shape[-1],), self.ln_w, self.ln_b))
        return F.linear(h, self.W, self.b)

    def loss(self, tokens, targets):
        logits = self(tokens)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def functional_lm_loss(model, tokens, targets):
    return model.loss(tokens, targets)


class ResidualBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)

    def forward(self, params, x):
        return x + np.tanh(self.fc(params["fc"], self.ln(params["ln"], x)))


class BlockNet(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.blocks = [ResidualBlock(d) for _ in range(n)]
        self.head = nn.Linear(d, 3)

    def forward(self, params, x):
        for block, p in zip(self.blocks, params["blocks"]):
            x = block(p, x)
        return self.head(params["head"], x)


BLOCK_NET = BlockNet(4, 2)


def block_net_loss(params, x, y):
    return nn.CrossEntropyLoss()(BLOCK_NET(params, x), y)


IDIOMS = [
    Case("lstm_over_a_namedtuple", lstm_loss,
         (LSTMParams(0.3 * rn(2, 12), 0.3 * rn(3, 12), 0.1 * rn(12)), rn(4, 2, 2), rn(2, 3)),
         order=2),
    Case("gru_seq2seq_teacher_forcing", seq2seq,
         ({"enc": gru_params(2, 3), "dec": gru_params(2, 3), "out": rn(3, 4)}, rn(3, 2, 2),
          rn(2, 2, 2), np.array([[0, 3], [2, 1]]))),
    Case("dataclass_string_settings", dataclass_settings,
         ([Layer(rn(3, 3), rn(3)), Layer(rn(3, 2), rn(2), "relu")], rn(2, 3))),
    Case("reduce_over_layer_objects", reduce_over_layers,
         ([Layer(rn(3, 3), rn(3)), Layer(rn(3, 2), rn(2))], rn(2, 3)), order=2),
    Case("enumerate_reversed", reversed_enumerate, ([(rn(2, 3), rn(2)), (rn(3, 3), rn(3))],
         rn(2, 3)), order=2),
    Case("fstring_keys_and_staticmethod", fstring_keys, ({f"layer{i}": rn(3, 3) for i in range(3)},
         rn(2, 3))),
    Case("items_with_prefix", items_with_prefix, ({"W1": rn(3, 2), "b1": rn(2), "W2": rn(2)},
         rn(4, 3)), order=2),
    Case("dict_spread_with_mask", masked_update, ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3),
         (R.random((3, 2)) > 0.3) * 1.0), order=2),
    Case("dropout_masks_passed_in", dropout_masks, ([(rn(3, 4), rn(4)), (rn(4, 2), rn(2))],
         rn(5, 3), [(R.random((5, 4)) > 0.2) * 1.0, (R.random((5, 2)) > 0.2) * 1.0], rn(5, 2)),
         order=2),
    Case("deep_sets_ragged", deep_sets, ((rn(2, 3), rn(3, 2)), [rn(3, 2), rn(5, 2), rn(1, 2)]),
         order=2),
    Case("sg_nn_sequential_with_regulariser", nn_with_regulariser,
         (MODEL.init(np.random.default_rng(0)), rn(4, 3), np.array([0, 1, 1, 0]))),
    Case("sg_nn_module_class_hyperparameters", module_with_class_hyperparameters,
         (NET.init(np.random.default_rng(1)), rn(4, 3), rn(4)), order=2),
    Case("sg_model_constructor", model_constructor_loss, (MLP_PARAMS, rn(4, 3), rn(4, 2)),
         order=2),
    Case("sg_nn_functional_in_a_dataclass_lm", functional_lm_loss,
         (TinyLM(rn(7, 4), 1 + 0.1 * rn(4), 0.1 * rn(4), 0.3 * rn(7, 4), 0.1 * rn(7)),
          np.array([[0, 3, 6], [2, 2, 1]]), np.array([[3, 6, 1], [2, 1, 0]])), order=2),
    Case("sg_nn_module_with_a_list_of_blocks", block_net_loss,
         (BLOCK_NET.init(np.random.default_rng(2)), rn(5, 4), np.array([0, 2, 1, 1, 0]))),
]  # fmt: skip


@pytest.mark.parametrize("case", params(LOSSES + STEPS + IDIOMS))
def test_training_programs(case):
    check(case)


# ---------------------------------------------------------------- refused, with a way out


def deepcopy_then_write(p, x):
    q = copy.deepcopy(p)  # REFUSED
    q["W"] = q["W"] * 2.0
    return np.sum(np.tanh(x @ q["W"] + p["b"]))


def dict_copy_then_write(p, x):
    q = dict(p)
    q["W"] = q["W"] * 2.0
    return np.sum(np.tanh(x @ q["W"] + p["b"]))


@dataclasses.dataclass
class Affine:
    W: np.ndarray
    b: np.ndarray


def affine_mse(p, x, y):
    return np.mean((np.tanh(x @ p.W + p.b) - y) ** 2)


def replace_masked(p, x, y, mask):
    q = dataclasses.replace(p, W=p.W * mask)
    return affine_mse(q, x, y)


def rebuilt_masked(p, x, y, mask):
    return affine_mse(Affine(W=p.W * mask, b=p.b), x, y)


def rebuilt_step(p, x, y, lr=0.1):
    g = sg.grad(affine_mse)(p, x, y)
    return affine_mse(Affine(W=p.W - lr * g.W, b=p.b), x, y)


def asdict_read(p, x):
    d = dataclasses.asdict(p)  # REFUSED
    return np.sum(np.tanh(x @ d["W"] + d["b"]))


P = {"W": rn(3, 2), "b": rn(2)}
A = Affine(rn(3, 2), rn(2))
MASK = (R.random((3, 2)) > 0.3) * 1.0


@pytest.mark.parametrize(
    "f, args, hint",
    [
        (deepcopy_then_write, (P, rn(4, 3)), "copy a dict with `dict(p)`"),
        (asdict_read, (A, rn(4, 3)), "read the fields by name (`p.W`)"),
    ],
    ids=["copy.deepcopy", "dataclasses.asdict"],
)
def test_library_copies_are_refused_with_a_way_out(f, args, hint):
    check_refusal(f, args, sg.SourcegradError, hint)


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("dict_copy", dict_copy_then_write, (P, rn(4, 3)), order=2),
            Case("rebuilt_dataclass", rebuilt_masked, (A, rn(4, 3), rn(4, 2), MASK), order=2),
            Case("replaced_dataclass", replace_masked, (A, rn(4, 3), rn(4, 2), MASK), order=2),
        ]
    ),
)
def test_the_ways_out_work(case):
    check(case)


# ---------------------------------------------------------------- a list renamed each pass


def lse2(a, b):
    m = np.maximum(a, b)
    return m + np.log(np.exp(a - m) + np.exp(b - m))


def lattice_alignment(logits, labels):
    """A forward algorithm over an alignment lattice: each pass builds ``new`` afresh and
    hands it to ``alpha`` at its end (Python shares no list that changes afterwards)."""
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    alpha = [logp[0, labels[0]]] + [-1e30] * (len(labels) - 1)
    for t in range(1, logits.shape[0]):
        new = []
        for s in range(len(labels)):
            move = alpha[s - 1] if s > 0 else -1e30
            new.append(lse2(alpha[s], move) + logp[t, labels[s]])
        alpha = new
    return -alpha[-1]


def shared_then_changed(x):
    total = 0.0
    for t in range(3):
        new = []
        alias = new  # REFUSED
        new.append(x * t)
        total = total + np.sum(alias[0] ** 2)
    return total


def test_a_list_given_a_second_name_each_pass():
    check(Case("lattice", lattice_alignment, (rn(4, 3), [0, 2, 1]), order=2))
    check_refusal(shared_then_changed, (rn(3),), sg.SourcegradError, "copy it (`list(new)`)")


# ---------------------------------------------------------------- left for other owners


def zip_star_loop(layers, x):
    for W, b in zip(*layers):  # layers: [Ws, bs]
        x = np.tanh(x @ W + b)
    return np.sum(x)


def act_default(x, W, act=np.tanh, mask=None):
    return act(x @ W) * mask


def helper_with_a_function_default(W, x, m):
    return np.sum(act_default(x, W, mask=m) ** 2)


@pytest.mark.parametrize(
    "case",
    params(
        [
            Case("meta_step_over_a_dataclass", rebuilt_step, (A, rn(4, 3), rn(4, 2)), order=2),
            Case("zip_star_in_a_loop_header", zip_star_loop,
                 ([[rn(3, 3), rn(3, 2)], [rn(3), rn(2)]], rn(2, 3)), order=2),
            Case("hvp_through_a_helper_with_a_function_default", helper_with_a_function_default,
                 (rn(3, 3), rn(4, 3), rn(4, 3)), order=2),
        ]
    ),
)  # fmt: skip
def test_left_for_other_owners(case):
    check(case)


@dataclasses.dataclass(frozen=True)
class Made:
    W: np.ndarray
    b: np.ndarray

    @classmethod
    def create(cls, W, b):
        return cls(W, b)

    @classmethod
    def named(cls, W, b):
        return cls(b=b, W=W)


def built_by_a_classmethod(W, b, x):
    layer = Made.create(W, b)
    return np.sum(np.tanh(x @ layer.W + layer.b) ** 2)


def built_by_keyword(W, b, x):
    layer = Made.named(W, b)
    return np.sum(np.tanh(x @ layer.W + layer.b) ** 2)


@pytest.mark.parametrize("f", [built_by_a_classmethod, built_by_keyword])
def test_a_dataclass_built_through_cls(f):
    """``cls(W, b)`` in a classmethod is the class's call, differentiated as ``Made(W, b)``."""
    check(Case(f.__name__, f, (rn(3, 2), rn(2), rn(4, 3)), order=2))
    W, b, x, v = rn(3, 2), rn(2), rn(4, 3), rn(3, 2)
    value, tangent = sg.jvp(f)(W, b, x, v)
    assert value == f(W, b, x)
    assert np.allclose(tangent, np.sum(sg.grad(f)(W, b, x) * v))


class PlainAffine:
    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return x @ self.W + self.b


@dataclasses.dataclass
class DeclaredAffine:
    W: np.ndarray
    b: np.ndarray

    def __call__(self, x):
        return x @ self.W + self.b


def plain_layer_loss(W, b, x):
    layer = PlainAffine(W, b)
    return np.sum(np.tanh(layer(x)) ** 2)


def declared_layer_loss(W, b, x):
    layer = DeclaredAffine(W, b)
    return np.sum(np.tanh(layer(x)) ** 2)


def test_a_plain_class_built_in_the_loss_is_differentiated_as_its_dataclass():
    """A plain class (PyTorch style) built from differentiated values, whose ``__init__``
    only stores its arguments, is differentiated as the dataclass declaring those fields."""
    args = (rn(3, 2), rn(2), rn(4, 3))
    check(Case("plain_layer", plain_layer_loss, args, order=2))
    check(Case("declared_layer", declared_layer_loss, args, order=2))
    for _ in range(3):
        got, want = sg.grad(plain_layer_loss)(*args), sg.grad(declared_layer_loss)(*args)
        np.testing.assert_allclose(got, want, rtol=1e-12)
