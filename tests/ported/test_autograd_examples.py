"""Programs in the styles of autograd's example gallery, written anew: a fluid simulation
(``np.roll``, advection by fancy indexing, in-place updates), an HMM's forward algorithm
(``sum(map(partial(f, params), data))`` with recursion), a Gaussian process's marginal
likelihood from closures, a negative-binomial fit through ``gammaln``, a weights-parser class
over a flat vector, an LSTM with ``*args`` helpers and a list of outputs, black-box variational
inference over a Bayesian network whose layers come from a generator, a LeNet-style network of
layer objects keyed in a dict, ``sg.util.ravel`` inside a loss. Each is checked against
Python's value and central differences on repeated calls, to second order where smooth."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import sourcegrad as sg

from .harness import Case, check, params

scipy_special = pytest.importorskip("scipy.special", reason="the examples use scipy.special")
logsumexp, gammaln = scipy_special.logsumexp, scipy_special.gammaln
sp_lse = logsumexp

R = np.random.default_rng(3)


# --- fluid sim style
def project(vx, vy):
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = (
        -0.5
        * h
        * (
            np.roll(vx, -1, axis=0)
            - np.roll(vx, 1, axis=0)
            + np.roll(vy, -1, axis=1)
            - np.roll(vy, 1, axis=1)
        )
    )
    for _ in range(4):
        p = (
            div
            + np.roll(p, 1, axis=0)
            + np.roll(p, -1, axis=0)
            + np.roll(p, 1, axis=1)
            + np.roll(p, -1, axis=1)
        ) / 4.0
    vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) + rw * (
        (1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix]
    )
    return np.reshape(flat_f, (rows, cols))


def simulate(vx, vy, smoke, steps):
    for _ in range(steps):
        vx_updated = advect(vx, vx, vy)
        vy_updated = advect(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect(smoke, vx, vy)
    return smoke


ROWS = 6
SMOKE = R.random((ROWS, ROWS))
TARGET = R.random((ROWS, ROWS))


def fluid_objective(params):
    vx = np.reshape(params[: ROWS * ROWS], (ROWS, ROWS))
    vy = np.reshape(params[ROWS * ROWS :], (ROWS, ROWS))
    final = simulate(vx, vy, SMOKE, 3)
    return np.mean((TARGET - final) ** 2)


# --- HMM forward
def log_partition_function(natural_params, data):
    if isinstance(data, list):
        return sum(map(partial(log_partition_function, natural_params), data))
    log_pi, log_A, log_B = natural_params
    log_alpha = log_pi
    for y in data:
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
    return logsumexp(log_alpha)


def normalize(a):
    def replace_zeros(a):
        return np.where(a > 0.0, a, 1.0)

    return a / replace_zeros(a.sum(-1, keepdims=True))


HMM_DATA = [np.array([0, 2, 1, 3]), np.array([1, 1]), np.array([3, 0, 0])]


def hmm_ll(natural_params):
    return log_partition_function(natural_params, HMM_DATA)


hmm_params = [
    np.log(normalize(R.random(3))),
    np.log(normalize(R.random((3, 3)))),
    np.log(normalize(R.random((3, 4)))),
]


# --- GP
def make_gp_funs(cov_func, num_cov_params):
    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        d = y - prior_mean
        sign, logdet = np.linalg.slogdet(cov_y_y)
        return -0.5 * (d @ np.linalg.solve(cov_y_y, d) + logdet + len(y) * np.log(2 * np.pi))

    return num_cov_params + 2, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs**2, axis=2))


NP, gp_lml = make_gp_funs(rbf_covariance, 2)
GX = R.standard_normal((7, 1))
GY = np.cos(GX[:, 0])


def gp_objective(params):
    return -gp_lml(params, GX, GY)


# --- negative binomial
def negbin_loglike(r, p, x):
    return gammaln(r + x) - gammaln(r) - gammaln(x + 1) + x * np.log(p) + r * np.log(1 - p)


def negbin_sample_loglike(params, x):
    r = np.exp(params[0])
    p = 1.0 / (1 + np.exp(-params[1]))
    return np.sum(negbin_loglike(r, p, x))


NBX = np.array([1.0, 3.0, 0.0, 7.0, 2.0])


# --- tanh higher order
def tanh(x):
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


def tanh_sum(x):
    return np.sum(tanh(x))


# --- WeightsParser style
class WeightsParser:
    def __init__(self):
        self.idxs_and_shapes = {}
        self.num_weights = 0

    def add_shape(self, name, shape):
        start = self.num_weights
        self.num_weights += int(np.prod(shape))
        self.idxs_and_shapes[name] = (slice(start, self.num_weights), shape)

    def get(self, vect, name):
        idxs, shape = self.idxs_and_shapes[name]
        return np.reshape(vect[idxs], shape)


PARSER = WeightsParser()
PARSER.add_shape("W1", (4, 5))
PARSER.add_shape("b1", (5,))
PARSER.add_shape("W2", (5, 3))
XS = R.standard_normal((6, 4))
YS = np.eye(3)[R.integers(0, 3, 6)]


def parser_loss(w):
    h = np.tanh(XS @ PARSER.get(w, "W1") + PARSER.get(w, "b1"))
    out = h @ PARSER.get(w, "W2")
    out = out - logsumexp(out, axis=1, keepdims=True)
    return -np.sum(out * YS)


# --- autograd lstm style
def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1.0)


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def lstm_predict(params, inputs):
    def update_lstm(inp, hiddens, cells):
        change = np.tanh(concat_and_multiply(params["change"], inp, hiddens))
        forget = sigmoid(concat_and_multiply(params["forget"], inp, hiddens))
        ingate = sigmoid(concat_and_multiply(params["ingate"], inp, hiddens))
        outgate = sigmoid(concat_and_multiply(params["outgate"], inp, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]
    for inp in inputs:
        hiddens, cells = update_lstm(inp, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


IN, ST, OUT = 3, 4, 3
lstm_params = {
    "init cells": R.standard_normal((1, ST)) * 0.1,
    "init hiddens": R.standard_normal((1, ST)) * 0.1,
    "change": R.standard_normal((IN + ST + 1, ST)) * 0.1,
    "forget": R.standard_normal((IN + ST + 1, ST)) * 0.1,
    "ingate": R.standard_normal((IN + ST + 1, ST)) * 0.1,
    "outgate": R.standard_normal((IN + ST + 1, ST)) * 0.1,
    "predict": R.standard_normal((ST + 1, OUT)) * 0.1,
}
LIN = R.standard_normal((5, 2, IN))
LT = np.eye(OUT)[R.integers(0, OUT, (5, 2))]

CASES_A = [
    Case("fluid", fluid_objective, (R.standard_normal(2 * ROWS * ROWS) * 0.3,), rtol=1e-4),
    Case("hmm", hmm_ll, (hmm_params,), order=2),
    Case("gp", gp_objective, (0.1 * R.standard_normal(NP),), order=2),
    Case("negbin", negbin_sample_loglike, (np.array([0.3, -0.2]), NBX), order=2),
    Case("tanh", tanh_sum, (R.standard_normal(5),), order=2),
    Case("parser", parser_loss, (R.standard_normal(PARSER.num_weights) * 0.3,), order=2),
    Case("lstm", lstm_log_likelihood, (lstm_params, LIN, LT), order=2),
]


# --- bayesian nn: generator helper, einsum over weight samples
def make_bnn_funs(layer_sizes, L2_reg, noise_variance, nonlinearity=np.tanh):
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    num_weights = sum((m + 1) * n for m, n in shapes)

    def unpack_layers(weights):
        num_weight_sets = len(weights)
        for m, n in shapes:
            yield weights[:, : m * n].reshape((num_weight_sets, m, n)), weights[
                :, m * n : m * n + n
            ].reshape((num_weight_sets, 1, n))
            weights = weights[:, (m + 1) * n :]

    def predictions(weights, inputs):
        inputs = np.expand_dims(inputs, 0)
        for W, b in unpack_layers(weights):
            outputs = np.einsum("mnd,mdo->mno", inputs, W) + b
            inputs = nonlinearity(outputs)
        return outputs

    def logprob(weights, inputs, targets):
        log_prior = -L2_reg * np.sum(weights**2, axis=1)
        preds = predictions(weights, inputs)
        log_lik = -np.sum((preds - targets) ** 2, axis=1)[:, 0] / noise_variance
        return log_prior + log_lik

    return num_weights, predictions, logprob


def rbf(x):
    return np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)


NW, bnn_pred, bnn_logprob = make_bnn_funs([1, 4, 1], 0.01, 0.1, nonlinearity=rbf)
BX = R.standard_normal((6, 1))
BT = np.cos(BX)
NOISE = R.standard_normal((3, NW))


def unpack_params(params):
    mean, log_std = params[:NW], params[NW:]
    return mean, log_std


def gaussian_entropy(log_std):
    return 0.5 * NW * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)


def svi_objective(params, noise):
    mean, log_std = unpack_params(params)
    samples = noise * np.exp(log_std) + mean
    lower_bound = gaussian_entropy(log_std) + np.mean(bnn_logprob(samples, BX, BT))
    return -lower_bound


# --- convnet style: layer objects with parsers keyed by layer objects
class LayerParser:
    def __init__(self):
        self.idxs_and_shapes = {}
        self.N = 0

    def add_weights(self, name, shape):
        start = self.N
        self.N += int(np.prod(shape))
        self.idxs_and_shapes[name] = (slice(start, self.N), shape)

    def get(self, vect, name):
        idxs, shape = self.idxs_and_shapes[name]
        return np.reshape(vect[idxs], shape)


def max_logsumexp(X, axis, keepdims=False):
    max_X = np.max(X)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=keepdims))


class conv_layer:
    def __init__(self, kernel_shape, num_filters):
        self.kernel_shape = kernel_shape
        self.num_filters = num_filters

    def forward_pass(self, inputs, param_vector):
        params = self.parser.get(param_vector, "params")
        biases = self.parser.get(param_vector, "biases")
        win = sliding_window_view(inputs, self.kernel_shape, axis=(2, 3))
        conv = np.einsum("ncyxij,coij->noyx", win, params)
        return conv + biases

    def build_weights_dict(self, input_shape):
        self.parser = LayerParser()
        self.parser.add_weights("params", (input_shape[0], self.num_filters) + self.kernel_shape)
        self.parser.add_weights("biases", (1, self.num_filters, 1, 1))
        output_shape = (self.num_filters,) + self.conv_output_shape(
            input_shape[1:], self.kernel_shape
        )
        return self.parser.N, output_shape

    def conv_output_shape(self, A, B):
        return (A[0] - B[0] + 1, A[1] - B[1] + 1)


class maxpool_layer:
    def __init__(self, pool_shape):
        self.pool_shape = pool_shape

    def build_weights_dict(self, input_shape):
        output_shape = list(input_shape)
        for i in [0, 1]:
            output_shape[i + 1] = input_shape[i + 1] // self.pool_shape[i]
        return 0, tuple(output_shape)

    def forward_pass(self, inputs, param_vector):
        new_shape = inputs.shape[:2]
        for i in [0, 1]:
            pool_width = self.pool_shape[i]
            img_width = inputs.shape[i + 2]
            new_shape += (img_width // pool_width, pool_width)
        result = inputs.reshape(new_shape)
        return np.max(np.max(result, axis=3), axis=4)


class full_layer:
    def __init__(self, size):
        self.size = size

    def build_weights_dict(self, input_shape):
        input_size = np.prod(input_shape, dtype=int)
        self.parser = LayerParser()
        self.parser.add_weights("params", (input_size, self.size))
        self.parser.add_weights("biases", (self.size,))
        return self.parser.N, (self.size,)

    def forward_pass(self, inputs, param_vector):
        params = self.parser.get(param_vector, "params")
        biases = self.parser.get(param_vector, "biases")
        if inputs.ndim > 2:
            inputs = inputs.reshape((inputs.shape[0], np.prod(inputs.shape[1:])))
        return self.nonlinearity(np.dot(inputs[:, :], params) + biases)


class tanh_layer(full_layer):
    def nonlinearity(self, x):
        return np.tanh(x)


class softmax_layer(full_layer):
    def nonlinearity(self, x):
        return x - max_logsumexp(x, axis=1, keepdims=True)


def make_cnn_funs(input_shape, layer_specs, L2_reg):
    parser = LayerParser()
    cur_shape = input_shape
    for layer in layer_specs:
        N_weights, cur_shape = layer.build_weights_dict(cur_shape)
        parser.add_weights(layer, (N_weights,))

    def predictions(W_vect, inputs):
        cur_units = inputs
        for layer in layer_specs:
            cur_weights = parser.get(W_vect, layer)
            cur_units = layer.forward_pass(cur_units, cur_weights)
        return cur_units

    def loss(W_vect, X, T):
        log_prior = -L2_reg * np.dot(W_vect, W_vect)
        log_lik = np.sum(predictions(W_vect, X) * T)
        return -log_prior - log_lik

    return parser.N, predictions, loss


SPECS = [conv_layer((3, 3), 2), maxpool_layer((2, 2)), tanh_layer(5), softmax_layer(3)]
CN, cnn_pred, cnn_loss = make_cnn_funs((1, 8, 8), SPECS, 0.1)
CX = R.standard_normal((4, 1, 8, 8))
CT = np.eye(3)[R.integers(0, 3, 4)]


# --- neural_net.py style
def init_random_params(scale, layer_sizes, rs):
    return [
        (scale * rs.standard_normal((m, n)), scale * rs.standard_normal(n))
        for m, n in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def neural_net_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - sp_lse(outputs, axis=1, keepdims=True)


def l2_norm(params):
    flat, _ = sg.util.ravel(params)
    return np.dot(flat, flat)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


NNP = init_random_params(0.3, [4, 5, 3], np.random.default_rng(1))
NX = R.standard_normal((7, 4))
NT = np.eye(3)[R.integers(0, 3, 7)]


def l2_norm_flat(params):
    return sum(np.sum(w**2) + np.sum(b**2) for w, b in params)


def log_posterior2(params, inputs, targets, L2_reg):
    return -L2_reg * l2_norm_flat(params) + np.sum(neural_net_predict(params, inputs) * targets)


# --- sinusoid: grad of grad of scalar function
def fun(x):
    return np.sin(x) * np.cos(x / 2.0) + x**2 / 10.0


# --- rosenbrock
def rosenbrock(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


CASES_B = [
    Case(
        "svi-bnn",
        svi_objective,
        (np.concatenate([R.standard_normal(NW), -2 * np.ones(NW)]), NOISE),
        order=2,
    ),
    Case("cnn-parser", cnn_loss, (R.standard_normal(CN) * 0.3, CX, CT), order=1),
    Case("nn-ravel", log_posterior, (NNP, NX, NT, 0.1), order=2),
    Case("nn-sumgen", log_posterior2, (NNP, NX, NT, 0.1), order=2),
    Case("sinusoid", fun, (0.7,), order=2),
    Case("rosenbrock", rosenbrock, (np.array([0.3, 0.8]),), order=2),
]


@pytest.mark.parametrize("case", params(CASES_A + CASES_B))
def test_autograd_example(case):
    check(case)
