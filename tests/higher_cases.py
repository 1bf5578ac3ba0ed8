"""Functions differentiated to higher order, in forward mode and through nested transforms
(tests/test_higher.py). Module-level because sourcegrad reads source."""

import numpy as np

import sourcegrad as sg
from sourcegrad.rules import d  # noqa: F401 - read by the templates below


def mlp_loss(w, x, y):
    """A two-layer tanh network on a flat weight vector (5 -> 3 -> 2), squared error."""
    w1 = np.reshape(w[:15], (5, 3))
    w2 = np.reshape(w[15:], (3, 2))
    h = np.tanh(x @ w1)
    out = h @ w2
    return np.sum((out - y) ** 2) / x.shape[0]


def mlp_params_loss(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"]
    return np.sum((out - y) ** 2)


def looped(x, a):
    """A loop with a data-dependent branch, differentiated twice."""
    s = x
    for i in range(4):  # noqa: B007 - the name shows in the derivative
        if np.sum(s) > 0.0:
            s = np.sin(s) * a
        else:
            s = s * s + a
    return np.sum(s * s)


def scalar_poly(x):
    return np.sin(x) * x**3


def inner_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


d_inner = sg.grad(inner_loss)


def penalised(w, x):
    """A gradient penalty: the loss plus the squared norm of its own gradient."""
    g = d_inner(w, x)
    return inner_loss(w, x) + 0.5 * np.sum(g * g)


def vector_valued(x, a):
    return np.tanh(a @ x) * np.sum(x**2)


def wide_output(x):
    return np.outer(np.sin(x), np.cos(x))


def newton(a):
    x = a
    while np.abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def softplus(x):
    return np.log1p(np.exp(x))


def softplus_tangent(z, x):
    d[z] += d[x] / (1.0 + np.exp(-x))  # noqa: F821 - `d` exists inside templates


def softplus_adjoint(z, x):
    d[x] += d[z] / (1.0 + np.exp(-x))  # noqa: F821


sg.primitive(softplus)
sg.defjvp(softplus, softplus_tangent)
sg.defvjp(softplus, softplus_adjoint)


def uses_softplus(x):
    return np.sum(softplus(x) * x)


def opaque_primitive(x):
    return x * 3.0


sg.primitive(opaque_primitive)


def uses_opaque(x):
    return np.sum(opaque_primitive(x))


def cube(x):
    return x**3


def cube_adjoint(z, x):
    d[x] += d[z] * 3.0 * x * x  # noqa: F821


def cube_wrong_tangent(z, x):
    d[z] += d[x] * 2.0 * x * x  # noqa: F821 - deliberately wrong: gradcheck must notice


sg.primitive(cube)
sg.defvjp(cube, cube_adjoint)
sg.defjvp(cube, cube_wrong_tangent)


def uses_cube(x):
    return np.sum(cube(x) * x)


def maml(w, x, y):
    """One inner gradient step, then the loss at the adapted weights (meta-learning)."""
    w_adapted = w - 0.1 * d_sq_loss(w, x, y)
    return sq_loss(w_adapted, x, y)


def sq_loss(w, x, y):
    return np.sum((np.tanh(x @ w) - y) ** 2)


d_sq_loss = sg.grad(sq_loss)


def mixed(w, x):
    """The gradient with respect to w, differentiated with respect to x."""
    return np.sum(d_inner(w, x) * w)


def hand_backward(g, x):
    return g * 2.0 * np.cos(2.0 * x)


def sin2(x):
    return np.sin(2.0 * x)


def sin2_adjoint(z, x):
    d[x] += hand_backward(d[z], x)  # noqa: F821 - a hand-written backward, called


sg.primitive(sin2)
sg.defvjp(sin2, sin2_adjoint)


def uses_sin2(x):
    return np.sum(sin2(x) ** 2)


def sums_a_list(x):
    hs = []
    for i in range(3):
        hs.append(np.sin(x * i))
    return np.sum(sum(hs) ** 2)
