"""Derivatives inside the loss, written the way meta-learning and physics-informed tutorials
write them with a grad function at hand (``jax.grad`` / ``torch.autograd.grad`` spelled
``sg.grad``): MAML's inner steps (``fast = params - lr * sg.grad(inner)(params, x)``, one
and two steps, dict parameters, first-order variant by a stopped copy is not written),
Reptile-style averaged task losses, a physics-informed loss with ``sg.grad`` of the network
with respect to its input (an ODE residual and a Laplacian from second derivatives), a WGAN
gradient penalty on interpolates, an input-gradient (double backprop) regulariser, and
implicit layers solved by a fixed-point loop (deep-equilibrium style). Each against Python's
value and central differences on calls 1-3."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(6123)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ MAML


def task_loss(w, x, y):
    return np.mean((np.tanh(x @ w) - y) ** 2)


def maml_one_step(w, xs, ys, xq, yq, inner_lr=0.1):
    fast = w - inner_lr * sg.grad(task_loss)(w, xs, ys)
    return task_loss(fast, xq, yq)


def maml_two_steps(w, xs, ys, xq, yq, inner_lr=0.1, steps=2):
    fast = w
    for _ in range(steps):
        g = sg.grad(task_loss)(fast, xs, ys)
        fast = fast - inner_lr * g
    return task_loss(fast, xq, yq)


def mlp(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return h @ params["W2"] + params["b2"]


def mse(params, x, y):
    return np.mean((mlp(params, x) - y) ** 2)


def maml_dict(params, tasks, alpha=0.05):
    meta_loss = 0.0
    for xs, ys, xq, yq in tasks:
        grads = sg.grad(mse)(params, xs, ys)
        fast = {k: params[k] - alpha * grads[k] for k in params}
        meta_loss = meta_loss + mse(fast, xq, yq)
    return meta_loss / len(tasks)


def maml_tree_map(params, tasks, alpha=0.05):
    losses = []
    for xs, ys, xq, yq in tasks:
        grads = sg.grad(mse)(params, xs, ys)
        fast = sg.util.tree_map(lambda p, g: p - alpha * g, params, grads)
        losses.append(mse(fast, xq, yq))
    return np.mean(np.array(losses))


def maml_learned_lr(lrs, w, xs, ys, xq, yq):
    g = sg.grad(task_loss)(w, xs, ys)
    fast = w - lrs * g  # Meta-SGD: a learned step per parameter
    return task_loss(fast, xq, yq)


W = r(3, 2) * 0.5
XS, YS, XQ, YQ = r(4, 3), r(4, 2), r(4, 3), r(4, 2)
MLP = {"W1": r(2, 5) * 0.5, "b1": np.zeros(5), "W2": r(5, 1) * 0.5, "b2": np.zeros(1)}
TASKS = [(r(4, 2), r(4, 1), r(4, 2), r(4, 1)) for _ in range(2)]


# ------------------------------------------------------------------ physics-informed


def u_net(x, params):
    h = np.tanh(params["W1"] * x + params["b1"])
    return np.sum(h * params["W2"]) + params["b2"]


def pinn_ode_loss(params, xs):
    # u' + u = 0, u(0) = 1
    du = sg.grad(u_net)
    res = 0.0
    for x in xs:
        res = res + (du(x, params) + u_net(x, params)) ** 2
    bc = (u_net(0.0, params) - 1.0) ** 2
    return res / len(xs) + bc


def pinn_poisson_loss(params, xs):
    # u'' = -pi^2 sin(pi x)
    d2u = sg.grad(sg.grad(u_net))
    total = 0.0
    for x in xs:
        total = total + (d2u(x, params) + np.pi**2 * np.sin(np.pi * x)) ** 2
    return total / len(xs) + u_net(0.0, params) ** 2 + u_net(1.0, params) ** 2


def u_xy(p, q, params):
    h = np.tanh(params["A"] @ np.array([p, q]) + params["c"])
    return params["v"] @ h


def pinn_laplace_loss(params, pts):
    u_pp = sg.grad(sg.grad(u_xy, wrt=0), wrt=0)
    u_qq = sg.grad(sg.grad(u_xy, wrt=1), wrt=1)
    loss = 0.0
    for p, q in pts:
        loss = loss + (u_pp(p, q, params) + u_qq(p, q, params)) ** 2
    return loss


PINN = {"W1": r(4) * 0.8, "b1": r(4) * 0.3, "W2": r(4) * 0.5, "b2": 0.1}
XS_PDE = [0.1, 0.4, 0.7]
LAPL = {"A": r(4, 2) * 0.7, "c": r(4) * 0.2, "v": r(4) * 0.5}
PTS = [(0.2, 0.3), (0.6, -0.1)]


# ------------------------------------------------------------------ gradient penalties


def critic(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.sum(h @ params["w2"])


def wgan_gp_loss(params, real, fake, eps, lam=10.0):
    interp = eps[:, None] * real + (1 - eps[:, None]) * fake
    penalty = 0.0
    for x in interp:
        g = sg.grad(critic, wrt=1)(params, x[None, :])
        penalty = penalty + (np.sqrt(np.sum(g**2)) - 1.0) ** 2
    gp = lam * penalty / len(interp)
    return critic(params, fake) / len(fake) - critic(params, real) / len(real) + gp


def critic_batch(params, x):
    return np.sum(np.tanh(x @ params["W1"] + params["b1"]) @ params["w2"])


def wgan_gp_batched(params, real, fake, eps, lam=10.0):
    x_hat = eps[:, None] * real + (1 - eps[:, None]) * fake
    grads = sg.grad(critic_batch, wrt=1)(params, x_hat)  # rows are independent
    norms = np.linalg.norm(grads, axis=1)
    gp = lam * np.mean((norms - 1.0) ** 2)
    d_loss = np.mean(np.tanh(fake @ params["W1"] + params["b1"]) @ params["w2"])
    d_loss -= np.mean(np.tanh(real @ params["W1"] + params["b1"]) @ params["w2"])
    return d_loss + gp


def double_backprop(params, x, y, lam=0.1):
    def loss(xx):
        return mse(params, xx, y)

    gx = sg.grad(loss)(x)
    return loss(x) + lam * np.sum(gx**2)


def double_backprop_lambda(params, x, y, lam=0.1):
    gx = sg.grad(lambda xx: mse(params, xx, y))(x)
    return mse(params, x, y) + lam * np.sum(gx**2)


def pinn_closure_residual(params, xs):
    def u(x):
        h = np.tanh(params["W1"] * x + params["b1"])
        return np.sum(h * params["W2"]) + params["b2"]

    u_x = sg.grad(u)
    u_xx = sg.grad(sg.grad(u))
    res = [u_xx(x) + u(x) for x in xs]
    return sum(r_**2 for r_ in res) / len(xs) + (u(0.0) - 1.0) ** 2 + (u_x(0.0) - 0.0) ** 2


def input_gradient_bound(w, x):
    def loss(xx):
        return np.sum(np.tanh(xx @ w) ** 2)

    dloss = sg.grad(loss)
    g = dloss(x)
    return np.sum(g**2) + np.sum(dloss(2.0 * x) * x)


def input_gradient_value(params, x, y):
    def loss(xx, scale):
        return scale * mse(params, xx, y)

    value, gx = sg.value_and_grad(loss, wrt=(0, 1))(x, 2.0)  # REFUSED
    return value + np.sum(gx[0] ** 2) + gx[1] ** 2


def input_gradient_both(params, x, y):
    def loss(xx, scale):
        return scale * mse(params, xx, y)

    gx = sg.grad(loss)(x, 2.0)
    gs = sg.grad(loss, 1)(x, 2.0)
    gs2 = sg.grad(loss, wrt=1)(x, 3.0)
    return loss(x, 2.0) + np.sum(gx**2) + gs**2 + gs2


def input_gradient_tuple(params, x, y):
    def loss(xx, scale):
        return scale * mse(params, xx, y)

    gx, gs = sg.grad(loss, (0, 1))(x, 2.0)  # REFUSED
    return np.sum(gx**2) + gs**2


def maml_closure_inner(params, xs, ys, xq, yq, alpha=0.05):
    def inner_loss(p):
        return mse(p, xs, ys) + 1e-2 * sum(np.sum(w**2) for w in params.values())

    grads = sg.grad(inner_loss)(params)
    fast = {k: params[k] - alpha * grads[k] for k in params}
    return mse(fast, xq, yq)


def double_backprop_arguments(params, x, y, lam=0.1):
    def loss(xx, p):
        return mse(p, xx, y)

    gx = sg.grad(loss)(x, params)
    return loss(x, params) + lam * np.sum(gx**2)


CRIT = {"W1": r(3, 4) * 0.6, "b1": r(4) * 0.1, "w2": r(4) * 0.6}
REAL, FAKE = r(3, 3), r(3, 3)
EPS_MIX = np.array([0.2, 0.5, 0.9])


# ------------------------------------------------------------------ implicit layers


def fixed_point_layer(W, U, x, iters=30):
    z = np.zeros(W.shape[0])
    for _ in range(iters):
        z = np.tanh(W @ z + U @ x)
    return z


def deq_loss(W, U, x, y):
    z = fixed_point_layer(W, U, x)
    return np.sum((z - y) ** 2)


def deq_tolerance_loop(W, U, x, y, tol=1e-10, max_iter=200):
    z = np.zeros(W.shape[0])
    for _ in range(max_iter):
        z_next = np.tanh(W @ z + U @ x)
        if np.linalg.norm(z_next - z) < tol:
            break
        z = z_next
    return np.sum((z_next - y) ** 2)


def deq_while(W, U, x, y):
    z = np.zeros(W.shape[0])
    diff, it = 1.0, 0
    while diff > 1e-9 and it < 100:
        z_new = 0.5 * z + 0.5 * np.tanh(W @ z + U @ x)
        diff = np.max(np.abs(z_new - z))
        z = z_new
        it += 1
    return np.sum(z * y)


WD = r(3, 3) * 0.2  # a contraction: the loop converges
UD = r(3, 2)
XD, YD = r(2), r(3)


CASES = [
    Case("maml_one_step", maml_one_step, (W, XS, YS, XQ, YQ), order=2),
    Case("maml_two_steps_loop", maml_two_steps, (W, XS, YS, XQ, YQ)),
    Case("maml_dict_comprehension", maml_dict, (MLP, TASKS)),
    Case("maml_tree_map", maml_tree_map, (MLP, TASKS)),
    Case("meta_sgd_learned_lr", maml_learned_lr, (np.full((3, 2), 0.1), W, XS, YS, XQ, YQ)),
    Case("meta_sgd_both", maml_learned_lr, (np.full((3, 2), 0.1), W, XS, YS, XQ, YQ), wrt=(0, 1)),
    Case("pinn_ode_residual", pinn_ode_loss, (PINN, XS_PDE)),
    Case("pinn_poisson_second", pinn_poisson_loss, (PINN, XS_PDE), rtol=1e-4),
    Case("pinn_closures_bound_to_names", pinn_closure_residual, (PINN, XS_PDE), rtol=1e-4),
    Case("input_gradient_bound_to_a_name", input_gradient_bound, (r(3, 2), r(2, 3)), order=2),
    Case("pinn_laplace_2d", pinn_laplace_loss, (LAPL, PTS), rtol=1e-4),
    Case("wgan_gp_rows", wgan_gp_loss, (CRIT, REAL, FAKE, EPS_MIX)),
    Case("wgan_gp_batched", wgan_gp_batched, (CRIT, REAL, FAKE, EPS_MIX), order=2),
    Case("double_backprop_closure", double_backprop, (MLP, r(3, 2), r(3, 1)), order=2),
    Case("double_backprop_inline_lambda", double_backprop_lambda, (MLP, r(3, 2), r(3, 1))),
    Case(
        "value_and_grad_inside_refused",
        input_gradient_value,
        (MLP, r(3, 2), r(3, 1)),
        refused=(sg.SourcegradError, "`loss(...)` for the value and `sg.grad(loss)(...)`"),
    ),
    Case("grad_of_closure_wrt_each", input_gradient_both, (MLP, r(3, 2), r(3, 1)), order=2),
    Case(
        "grad_of_closure_wrt_tuple_refused",
        input_gradient_tuple,
        (MLP, r(3, 2), r(3, 1)),
        refused=(sg.SourcegradError, "use one gradient per argument"),
    ),
    Case("maml_inner_closure_reads_params", maml_closure_inner, (MLP, *TASKS[0])),
    Case("double_backprop_arguments", double_backprop_arguments, (MLP, r(3, 2), r(3, 1))),
    Case("deq_fixed_iters", deq_loss, (WD, UD, XD, YD), wrt=(0, 1), order=2),
    Case("deq_tolerance_break", deq_tolerance_loop, (WD, UD, XD, YD), wrt=(0, 1)),
    Case("deq_while_damped", deq_while, (WD, UD, XD, YD)),
]


@pytest.mark.parametrize("case", params(CASES))
def test_meta(case):
    check(case)


@pytest.mark.parametrize("f", [double_backprop, double_backprop_lambda], ids=lambda f: f.__name__)
def test_exported_gradient_of_a_closure(f):
    """The export of a function taking a gradient of a nested function or of a lambda
    (named ``grad_lambda_``) compiles and gives sourcegrad's value and gradient."""
    args = (MLP, r(3, 2), r(3, 1))
    module: dict = {}
    exec(compile(sg.export(f, *args), "exported", "exec"), module)
    want_value, want = sg.value_and_grad(f)(*args)
    for _ in range(3):
        value, got = module["d_" + f.__name__](*args)
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12, err_msg=k)
