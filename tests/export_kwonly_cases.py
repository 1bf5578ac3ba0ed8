import numpy as np


def scaled(z, *, k=0.5):
    return z * np.tanh(k * z)


def helper_kwonly_loss(params, x):
    return np.sum(scaled(x @ params["W"] + params["b"]) ** 2)


def value_kwonly_loss(params, x):
    f = scaled
    return np.sum(f(x @ params["W"] + params["b"]) ** 2)


def nested_kwonly_loss(params, x):
    def act(z, *, a=2.0):
        return np.sin(a * z)

    return np.sum(act(x @ params["W"] + params["b"]) ** 2)


def lambda_kwonly_loss(params, x):
    act = lambda z, *, a=0.3: z * np.tanh(a * z)  # noqa: E731
    return np.sum(act(x @ params["W"] + params["b"]) ** 2)


def mixed_defaults_loss(params, x):
    def act(z, c=1.5, *, a=0.7):
        return np.sin(a * z) * c

    return np.sum(act(x @ params["W"] + params["b"]) ** 2)
