"""Models as from-scratch courses organise them: an ``MLP`` whose ``__init__`` fills
``self.params[f"W{i}"]`` in a loop, a ``train_step`` returning new parameters and the loss
(the loss after a step differentiated), a per-component Gaussian mixture with a Cholesky of
``A @ A.T + eps * I`` per component, PCA by ``np.linalg.eigh`` of the covariance, a
low-rank fit by a thin SVD, a spectral norm by power iteration, bilinear attention by
``np.einsum``, the gradient of an unbound method ``sg.grad(Model.loss)(model, x, y)``, a
loss made by a closure factory, ``getattr(self, f"layer{i}")`` over fields stored by
name, a field read under ``if hasattr(net, "scale"):`` (absent and present), a list of
residual blocks, and SciPy's ``cdist`` (refused at the line: register a rule
or compute it with NumPy). Each against Python's value and central differences on calls 1-3, to
second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, numerical, params

R = np.random.default_rng(7719)


def r(*s):
    return R.standard_normal(s)


X = r(5, 3)
Y = r(5, 2)


class MLP:
    def __init__(self, weights, biases):
        self.params = {}
        for i, (W, b) in enumerate(zip(weights, biases)):
            self.params[f"W{i}"] = W
            self.params[f"b{i}"] = b
        self.n_layers = len(weights)

    def forward(self, x):
        h = x
        for i in range(self.n_layers):
            h = h @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self.n_layers - 1:
                h = np.tanh(h)
        return h


def mlp_params_dict(weights, biases, x, y):
    model = MLP(weights, biases)
    return np.mean((model.forward(x) - y) ** 2)


def loss_fn(params, x, y):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.mean((h @ params["V"] - y) ** 2)


def train_step(params, x, y, lr=0.1):
    loss, grads = loss_fn(params, x, y), sg.grad(loss_fn)(params, x, y)
    new_params = {k: params[k] - lr * grads[k] for k in params}
    return new_params, loss


def loss_after_two_steps(params, x, y):
    for _ in range(2):
        params, _ = train_step(params, x, y)
    return loss_fn(params, x, y)


def gmm_full_cov_nll(params, X):
    n, d = X.shape
    log_w = params["logits"] - np.log(np.sum(np.exp(params["logits"])))
    comps = []
    for k in range(len(params["means"])):
        A = params["chols"][k]
        cov = A @ A.T + 0.1 * np.eye(d)
        L = np.linalg.cholesky(cov)
        diff = X - params["means"][k]
        z = np.linalg.solve(L, diff.T)
        maha = np.sum(z**2, axis=0)
        logdet = 2 * np.sum(np.log(np.diag(L)))
        comps.append(log_w[k] - 0.5 * (maha + logdet + d * np.log(2 * np.pi)))
    ll = np.stack(comps)
    m = ll.max(axis=0)
    return -np.mean(m + np.log(np.sum(np.exp(ll - m), axis=0)))


def pca_eigh_variance(X, k=2):
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / (len(X) - 1)
    evals, evecs = np.linalg.eigh(cov)
    top = evecs[:, -k:]
    return np.sum(evals[-k:]) + np.sum((Xc @ top) ** 2) / len(X)


def low_rank_fit(A, target, k=2):
    U, S, Vt = np.linalg.svd(A, full_matrices=False)
    approx = (U[:, :k] * S[:k]) @ Vt[:k]
    return np.sum((approx - target) ** 2) + np.sum(S[k:])


def spectral_norm_penalty(W, u0, iters=5):
    u = u0
    for _ in range(iters):
        v = W.T @ u
        v = v / np.linalg.norm(v)
        u = W @ v
        u = u / np.linalg.norm(u)
    sigma = u @ W @ v
    return sigma**2 + 0.1 * np.sum(W**2)


def bilinear_attention(params, q, keys, values):
    scores = np.einsum("d,de,ne->n", q, params["Wb"], keys)
    w = np.exp(scores - scores.max())
    w = w / w.sum()
    return np.sum(np.einsum("n,nd->d", w, values) ** 2)


class LogReg:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def loss(self, X, y):
        z = X @ self.w + self.b
        return np.mean(np.logaddexp(0, z) - y * z)


def make_loss(X, y, reg):
    def loss(w):
        return np.mean((X @ w - y) ** 2) + reg * np.sum(w**2)

    return loss


def cdist_kernel(log_ell, X):
    from scipy.spatial.distance import cdist

    D = cdist(X * np.exp(-log_ell), X * np.exp(-log_ell), "sqeuclidean")  # REFUSED
    return np.sum(np.exp(-0.5 * D))


class Net:
    def __init__(self, W0, W1):
        self.layer0 = W0
        self.layer1 = W1
        self.n = 2

    def forward(self, x):
        for i in range(self.n):
            x = np.tanh(x @ getattr(self, f"layer{i}"))
        return x


def getattr_fstring_built(W0, W1, x):
    return np.sum(Net(W0, W1).forward(x) ** 2)


def getattr_fstring_arg(net, x):
    return np.sum(net.forward(x) ** 2)


def hasattr_branch(net, x):
    h = net.forward(x)
    if hasattr(net, "scale"):
        h = h * net.scale
    return np.sum(h)


class Block:
    def __init__(self, W):
        self.W = W

    def __call__(self, x):
        return x + np.tanh(x @ self.W)


class Model:
    def __init__(self, Ws):
        self.blocks = [Block(W) for W in Ws]

    def __call__(self, x):
        for i, block in enumerate(self.blocks):
            x = block(x) if i % 2 == 0 else -block(-x)
        return x


def blocks_list_model(Ws, x):
    return np.sum(Model(Ws)(x) ** 2)


def dict_of_layers_getattr(params, x, names=("enc", "dec")):
    h = x
    for name in names:
        h = np.tanh(h @ params[name]["W"] + params[name].get("b", 0.0))
    return np.sum(h**2)


WS = [0.5 * r(3, 4), 0.5 * r(4, 2)]
BS = [0.1 * r(4), 0.1 * r(2)]
NET_SCALED = Net(r(3, 3), r(3, 2))
NET_SCALED.scale = 1.5
P_LOSS = {"W": 0.5 * r(3, 4), "b": 0.1 * r(4), "V": 0.5 * r(4, 2)}

CASES = [
    Case("mlp_params_dict_in_init", mlp_params_dict, (WS, BS, X, Y), wrt=(0, 1), order=2),
    Case("loss_after_train_steps", loss_after_two_steps, (P_LOSS, X, Y), rtol=1e-4),
    Case(
        "gmm_full_covariance",
        gmm_full_cov_nll,
        (
            {
                "logits": r(2),
                "means": r(2, 3),
                "chols": [np.eye(3) + 0.2 * r(3, 3) for _ in range(2)],
            },
            X,
        ),
        order=2,
    ),
    Case("pca_eigh", pca_eigh_variance, (X,), order=2),
    Case("low_rank_svd", low_rank_fit, (r(4, 3), r(4, 3)), order=2),
    Case("spectral_norm_power_iteration", spectral_norm_penalty, (r(3, 4), r(3)), order=2),
    Case(
        "bilinear_attention", bilinear_attention, ({"Wb": r(3, 3)}, r(3), r(4, 3), r(4, 3)), order=2
    ),
    Case(
        "getattr_fstring_built", getattr_fstring_built, (r(3, 3), r(3, 2), X), wrt=(0, 1), order=2
    ),
    Case("getattr_fstring_argument", getattr_fstring_arg, (Net(r(3, 3), r(3, 2)), X), order=2),
    Case("hasattr_guard_absent", hasattr_branch, (Net(r(3, 3), r(3, 2)), X), order=2),
    Case("hasattr_guard_present", hasattr_branch, (NET_SCALED, X), order=2),
    Case("blocks_list_model", blocks_list_model, ([r(3, 3), r(3, 3), r(3, 3)], X), order=2),
    Case(
        "nested_dict_layers",
        dict_of_layers_getattr,
        ({"enc": {"W": r(3, 3), "b": r(3)}, "dec": {"W": r(3, 2)}}, X),
        order=2,
    ),
    Case(
        "scipy_cdist_refused",
        cdist_kernel,
        (0.1, X),
        refused=(sg.NoRuleError, "register one with sourcegrad.defvjp(cdist, rule)"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_models(case):
    check(case)


def test_unbound_method_gradient_is_a_model():
    """``sg.grad(LogReg.loss)(model, X, y)``: the gradient is a ``LogReg`` holding the
    fields' gradients, against central differences, on calls 1-3."""
    model = LogReg(r(3), 0.2)
    y = (R.uniform(size=5) > 0.5).astype(float)
    want = numerical(LogReg.loss, (model, X, y), 0)
    df = sg.grad(LogReg.loss)
    for _ in range(3):
        g = df(model, X, y)
        assert type(g) is LogReg
        np.testing.assert_allclose(g.w, want.w, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g.b, want.b, rtol=1e-6, atol=1e-8)


def test_closure_factory_loss():
    """``sg.grad(make_loss(X, y, reg))``: a loss closing over its data, the data read when
    the gradient runs (a new ``reg`` through a new closure gives the new gradient)."""
    y = r(5)
    w = r(3)
    for reg in (0.0, 0.5, 0.5):
        f = make_loss(X, y, reg)
        want = numerical(f, (w,), 0)
        np.testing.assert_allclose(sg.grad(f)(w), want, rtol=1e-6, atol=1e-8)
