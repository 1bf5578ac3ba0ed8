"""autograd's examples and tests/test_graphs.py as written there (NumPy for ``autograd.numpy``,
``sg.grad`` for ``grad``): the Taylor-series sine with ``ans = currterm = x`` and a ``while``
on the term's size, logistic regression reading its data from globals, the tanh example,
black-box SVI with a generator seeded in the objective, the GAN's and VAE's networks
(``for W, b in params``, leaky ReLU, ``unpack_gaussian_params`` by ``np.shape(params)[-1]
// 2``), the VAE's sampler drawing from a generator passed in (refused, since the derivative
runs it again, with the way out), and test_graphs' fan-out, mutated intermediates, a
gradient taken inside over a closure, nested ``grad(grad(f))``. Each against Python's value
and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import numpy.random as npr
import pytest

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7105)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ examples/sinusoid.py


def taylor_sine(x):  # Taylor approximation to sine function
    ans = currterm = x
    i = 0
    while np.abs(currterm) > 0.001:
        currterm = -currterm * x**2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        i += 1
    return ans


# ------------------------------------------------------------------ examples/logistic_regression.py


def sigmoid(x):
    return 0.5 * (np.tanh(x / 2.0) + 1)


def logistic_predictions(weights, inputs):
    # Outputs probability of a label being true according to logistic model.
    return sigmoid(np.dot(inputs, weights))


inputs = np.array(
    [[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]]
)
targets = np.array([True, True, False, True])


def training_loss(weights):
    # Training loss is the negative log-likelihood of the training labels.
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities))


# ------------------------------------------------------------------ examples/tanh.py


def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


def third_derivative_of_tanh(x):
    return sg.grad(sg.grad(tanh))(x) * x


# ------------------------------------------------------------------ examples/black_box_svi.py


def log_density(x, t=0.3):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = -0.5 * log_sigma**2 - 0.5 * np.log(2 * np.pi)
    mu_density = -0.5 * mu**2 / np.exp(log_sigma) ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)
    return sigma_density + mu_density * t


def black_box_variational_objective(params, num_samples=4, D=2):
    rs = npr.RandomState(0)

    def unpack_params(params):
        # Variational dist is a diagonal Gaussian.
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    mean, log_std = unpack_params(params)
    samples = rs.randn(num_samples, D) * np.exp(log_std) + mean
    lower_bound = gaussian_entropy(log_std) + np.mean(log_density(samples))
    return -lower_bound


# ------------------------------------------------------------------ GAN and VAE


def relu(x):
    return np.maximum(0, x)


def leaky_relu(x):
    return np.where(x > 0, x, x * 0.01)


def neural_net_predict(params, inputs):
    inpts = inputs
    for W, b in params[:-1]:
        outputs = np.dot(inpts, W) + b
        inpts = leaky_relu(outputs)
    W, b = params[-1]
    return np.dot(inpts, W) + b


def logsigmoid(x):
    return x - np.logaddexp(0, x)


def gan_objective(gen_params, dsc_params, real_data, num_samples=3, noise_dim=2):
    rs = npr.RandomState(1)
    noise = rs.randn(num_samples, noise_dim)
    fake_data = neural_net_predict(gen_params, noise)
    logprobs_fake = logsigmoid(neural_net_predict(dsc_params, fake_data))
    logprobs_real = logsigmoid(neural_net_predict(dsc_params, real_data))
    return np.mean(logprobs_real) - np.mean(logprobs_fake)


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(
        -0.5 * (x - mu) ** 2 / np.exp(2 * log_std) - log_std - 0.5 * np.log(2 * np.pi), axis=-1
    )


def unpack_gaussian_params(params):
    # Params of a diagonal Gaussian.
    D = np.shape(params)[-1] // 2
    mean, log_std = params[:, :D], params[:, D:]
    return mean, log_std


def sample_diag_gaussian(mean, log_std, rs):
    return rs.randn(*mean.shape) * np.exp(log_std) + mean


def bernoulli_log_density(targets, unnormalized_logprobs):
    # unnormalized_logprobs are in R
    # Targets must be -1 or 1
    label_probabilities = -np.logaddexp(0, -unnormalized_logprobs * targets)
    return np.sum(label_probabilities, axis=-1)  # Sum across pixels.


def vae_lower_bound(gen_params, rec_params, data, rs):
    q_means, q_log_stds = unpack_gaussian_params(neural_net_predict(rec_params, data))
    latents = sample_diag_gaussian(q_means, q_log_stds, rs)  # REFUSED
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    logits = neural_net_predict(gen_params, latents)
    p_data = bernoulli_log_density(data, logits)
    return np.mean(p_latents + p_data - q_latents)


def vae_lower_bound_noise_drawn_here(gen_params, rec_params, data, seed=0):
    """The way out: the noise drawn where the objective runs, the sampler given it."""
    rs = npr.RandomState(seed)
    q_means, q_log_stds = unpack_gaussian_params(neural_net_predict(rec_params, data))
    eps = rs.randn(*q_means.shape)
    latents = eps * np.exp(q_log_stds) + q_means
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    logits = neural_net_predict(gen_params, latents)
    p_data = bernoulli_log_density(data, logits)
    return np.mean(p_latents + p_data - q_latents)


def init_net(sizes, scale=0.5):
    return [(scale * r(m, n), scale * r(n)) for m, n in zip(sizes[:-1], sizes[1:])]


# ------------------------------------------------------------------ tests/test_graphs.py


def fanout(x):
    y = np.sin(x)
    return np.sum(y + y) + np.sum(y * y)


def mutating_outgrad(a):
    b = a + 1.0
    c = b + 1.5
    d = a + b
    e = d + c
    return np.sum(e**2)


def enclosing_scope_ref(x):
    inner_fun = lambda y: x * y  # noqa: E731 (autograd's test writes it so)
    return x * sg.grad(inner_fun)(2.0)  # (x, read by the lambda, becomes its argument)


def enclosing_scope_passed(x):
    """The way out: the closed-over value passed as an argument."""
    inner_fun = lambda y, x: x * y  # noqa: E731
    return x * sg.grad(inner_fun)(2.0, x)


def nested_grads(x):
    fun = lambda y: np.sin(y) * np.cos(y)  # noqa: E731
    return sg.grad(sg.grad(fun))(x) + fun(x)


def complicated_closures(x):
    def fun(y):
        return y * x**2

    def gfun(y):
        return sg.grad(fun)(y) * x

    return gfun(x) + fun(x)


def hess_vector_inside(x, v):
    return np.sum(sg.hvp(lambda y: np.sum(np.sin(y) * y))(x, v) * x)  # REFUSED


CASES = [
    Case("taylor_sine_chained_assignment", taylor_sine, (0.7,), order=2),
    Case("logistic_regression_globals", training_loss, (r(3),), order=2),
    Case("tanh_third_derivative", third_derivative_of_tanh, (0.4,), order=2),
    Case("black_box_svi_seeded", black_box_variational_objective, (0.3 * r(4),), order=2),
    Case(
        "gan_objective",
        gan_objective,
        (init_net([2, 3, 2]), init_net([2, 3, 1]), r(4, 2)),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "vae_sampler_draws_from_argument",
        vae_lower_bound,
        (init_net([2, 3, 4]), init_net([4, 3, 4]), np.sign(r(3, 4)), npr.RandomState(0)),
        wrt=(0, 1),
        refused=(sg.UnsupportedSyntaxError, "seed the generator inside sample_diag_gaussian()"),
    ),
    Case(
        "vae_noise_drawn_in_objective",
        vae_lower_bound_noise_drawn_here,
        (init_net([2, 3, 4]), init_net([4, 3, 4]), np.sign(r(3, 4))),
        wrt=(0, 1),
        order=2,
    ),
    Case("graphs_fanout", fanout, (r(3),), order=2),
    Case("graphs_mutating_outgrad", mutating_outgrad, (r(3),), order=2),
    Case("graphs_enclosing_scope_ref", enclosing_scope_ref, (0.8,), order=2),
    Case("graphs_enclosing_scope_passed", enclosing_scope_passed, (0.8,), order=2),
    Case("graphs_nested_grads", nested_grads, (0.6,), order=2),
    Case("graphs_complicated_closures", complicated_closures, (0.9,), order=2),
    Case(
        "graphs_hvp_inside",
        hess_vector_inside,
        (r(3), r(3)),
        wrt=(0, 1),
        refused=(sg.UnsupportedSyntaxError, "build the Hessian's rows as gradients"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_autograd_examples(case):
    check(case)
