"""d2l.ai's from-scratch chapters and JAX's examples, written as there with NumPy in place of
``torch``/``jnp``: softmax regression indexing ``y_hat[range(len(y_hat)), y]``, the squared
loss reshaping ``y`` to ``y_hat.shape``, the MLP's ``relu`` through ``np.zeros_like``,
dropout drawn after a seed, the RNN, GRU and LSTM that unpack ``params`` and ``state`` tuples
and return ``(outputs, (H,))``, a model class holding ``forward_fn`` and ``init_state``;
JAX's MNIST ``predict`` over ``params[:-1]`` with ``logsumexp``, the loss unpacking a
``batch`` tuple, kernel least squares with the kernel passed as a function and its Gram
matrix built by a nested comprehension, and differentially private SGD's per-example
gradients clipped by their global norm inside the differentiated step. Each against
Python's value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

import sourcegrad as sg

from .harness import Case, check, params

R = np.random.default_rng(7103)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ d2l: linear models


def linreg(X, w, b):
    """The linear regression model."""
    return np.dot(X, w) + b


def squared_loss(y_hat, y):
    """Squared loss."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def linreg_loss(w, b, X, y):
    return squared_loss(linreg(X, w, b), y).sum() / len(y)


def softmax(X):
    X_exp = np.exp(X)
    partition = X_exp.sum(1, keepdims=True)
    return X_exp / partition  # The broadcasting mechanism is applied here


def softmax_net(X, W, b):
    return softmax(np.dot(X.reshape((-1, W.shape[0])), W) + b)


def cross_entropy(y_hat, y):
    return -np.log(y_hat[range(len(y_hat)), y])


def softmax_regression_loss(W, b, X, y):
    return cross_entropy(softmax_net(X, W, b), y).mean()


def relu(X):
    a = np.zeros_like(X)
    return np.maximum(X, a)


def mlp_net(X, params):
    W1, b1, W2, b2 = params
    num_inputs = W1.shape[0]
    X = X.reshape((-1, num_inputs))
    H = relu(X @ W1 + b1)  # Here '@' stands for matrix multiplication
    return H @ W2 + b2


def mlp_loss(params, X, y):
    return cross_entropy(softmax(mlp_net(X, params)), y).mean()


def dropout_layer(X, dropout):
    assert 0 <= dropout <= 1
    # In this case, all elements are dropped out
    if dropout == 1:
        return np.zeros_like(X)
    # In this case, all elements are kept
    if dropout == 0:
        return X
    mask = np.random.uniform(0, 1, X.shape) > dropout
    return mask.astype(np.float32) * X / (1.0 - dropout)


def dropout_mlp_loss(params, X, y, dropout1=0.2, dropout2=0.5, training=True):
    np.random.seed(3)
    W1, b1, W2, b2, W3, b3 = params
    H1 = relu(X @ W1 + b1)
    if training:
        H1 = dropout_layer(H1, dropout1)  # REFUSED
    H2 = relu(H1 @ W2 + b2)
    if training:
        H2 = dropout_layer(H2, dropout2)
    H2 = H2 + dropout_layer(H2, 0) - dropout_layer(H2, 1)
    return cross_entropy(softmax(H2 @ W3 + b3), y).mean()


def dropout_with_mask(X, mask, dropout):
    return mask.astype(np.float32) * X / (1.0 - dropout)


def dropout_mlp_masks_drawn_in_loss(params, X, y, dropout1=0.2, dropout2=0.5):
    """The way out: the masks drawn where the loss runs, the helper given them."""
    np.random.seed(3)
    W1, b1, W2, b2, W3, b3 = params
    H1 = relu(X @ W1 + b1)
    H1 = dropout_with_mask(H1, np.random.uniform(0, 1, H1.shape) > dropout1, dropout1)
    H2 = relu(H1 @ W2 + b2)
    H2 = dropout_with_mask(H2, np.random.uniform(0, 1, H2.shape) > dropout2, dropout2)
    return cross_entropy(softmax(H2 @ W3 + b3), y).mean()


def dropout_generator_argument(x, rng):
    h = np.tanh(x)
    return np.sum(dropout_rng(h, 0.5, rng) ** 2)  # REFUSED


def dropout_rng(x, p, rng):
    mask = rng.uniform(0, 1, x.shape) > p
    return mask * x / (1 - p)


def l2_penalty(w):
    return np.sum(w**2) / 2


def weight_decay_loss(w, b, X, y, lambd=3.0):
    return squared_loss(linreg(X, w, b), y).mean() + lambd * l2_penalty(w)


# ------------------------------------------------------------------ d2l: recurrent networks


def init_rnn_state(batch_size, num_hiddens):
    return (np.zeros((batch_size, num_hiddens)),)


def rnn(inputs, state, params):
    # Here `inputs` shape: (`num_steps`, `batch_size`, `vocab_size`)
    W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    # Shape of `X`: (`batch_size`, `vocab_size`)
    for X in inputs:
        H = np.tanh(np.dot(X, W_xh) + np.dot(H, W_hh) + b_h)
        Y = np.dot(H, W_hq) + b_q
        outputs.append(Y)
    return np.concatenate(outputs, axis=0), (H,)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru(inputs, state, params):
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:
        Z = sigmoid((X @ W_xz) + (H @ W_hz) + b_z)
        R_ = sigmoid((X @ W_xr) + (H @ W_hr) + b_r)
        H_tilda = np.tanh((X @ W_xh) + ((R_ * H) @ W_hh) + b_h)
        H = Z * H + (1 - Z) * H_tilda
        Y = H @ W_hq + b_q
        outputs.append(Y)
    return np.concatenate(outputs, axis=0), (H,)


def init_lstm_state(batch_size, num_hiddens):
    return (np.zeros((batch_size, num_hiddens)), np.zeros((batch_size, num_hiddens)))


def lstm(inputs, state, params):
    [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q] = params
    H, C = state
    outputs = []
    for X in inputs:
        I = sigmoid((X @ W_xi) + (H @ W_hi) + b_i)  # noqa: E741 (d2l's name)
        F = sigmoid((X @ W_xf) + (H @ W_hf) + b_f)
        O = sigmoid((X @ W_xo) + (H @ W_ho) + b_o)  # noqa: E741 (d2l's name)
        C_tilda = np.tanh((X @ W_xc) + (H @ W_hc) + b_c)
        C = F * C + I * C_tilda
        H = O * np.tanh(C)
        Y = (H @ W_hq) + b_q
        outputs.append(Y)
    return np.concatenate(outputs, axis=0), (H, C)


class RNNModelScratch:
    """A RNN Model implemented from scratch."""

    def __init__(self, vocab_size, num_hiddens, init_state, forward_fn):
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.init_state, self.forward_fn = init_state, forward_fn

    def __call__(self, X, state, params):
        X = np.eye(self.vocab_size)[X.T]
        return self.forward_fn(X, state, params)

    def begin_state(self, batch_size):
        return self.init_state(batch_size, self.num_hiddens)


def seq_loss(params, X, Y, kind):
    forward_fn, init_state = {
        "rnn": (rnn, init_rnn_state),
        "gru": (gru, init_rnn_state),
        "lstm": (lstm, init_lstm_state),
    }[kind]
    net = RNNModelScratch(4, 3, init_state, forward_fn)
    state = net.begin_state(X.shape[0])
    y_hat, state = net(X, state, params)
    y = Y.T.reshape(-1)
    return cross_entropy(softmax(y_hat), y).mean() + 0.1 * np.sum(state[0] ** 2)


def rnn_params(n_gates):
    out = []
    for _ in range(n_gates):
        out += [0.5 * r(4, 3), 0.5 * r(3, 3), 0.1 * r(3)]
    return out + [0.5 * r(3, 4), 0.1 * r(4)]


# ------------------------------------------------------------------ JAX examples


def predict(params, inputs):
    activations = inputs
    for w, b in params[:-1]:
        outputs = np.dot(activations, w) + b
        activations = np.tanh(outputs)

    final_w, final_b = params[-1]
    logits = np.dot(activations, final_w) + final_b
    return logits - logsumexp(logits, axis=1, keepdims=True)


def mnist_loss(params, batch):
    inputs, targets = batch
    preds = predict(params, inputs)
    return -np.mean(np.sum(preds * targets, axis=1))


def init_random_params(scale, layer_sizes, rng=np.random.RandomState(0)):  # noqa: B008
    return [
        (scale * rng.randn(m, n), scale * rng.randn(n))
        for m, n, in zip(layer_sizes[:-1], layer_sizes[1:])
    ]


def one_hot(x, k, dtype=np.float64):
    """Create a one-hot encoding of x of size k."""
    return np.array(x[:, None] == np.arange(k), dtype)


def gram(kernel, xs):
    return np.array([[kernel(x, y) for y in xs] for x in xs])


def kernel_lsq_objective(v, xs, ys, kernel, regularization=0.01):
    gram_mat = gram(kernel, xs)
    risk = 0.5 * np.sum((np.dot(gram_mat, v) - ys) ** 2.0)
    reg = regularization * np.sum(v**2.0)
    return risk + reg


def rbf_kernel(x, y):
    return np.exp(-np.sum((x - y) ** 2))


def kernel_lsq_rbf(v, xs, ys):
    return kernel_lsq_objective(v, xs, ys, rbf_kernel)


def kernel_lsq_linear(xs, v, ys):
    return kernel_lsq_objective(v, xs, ys, lambda x, y: np.dot(x, y), regularization=0.1)


def dp_loss(params, batch):
    inputs, targets = batch
    logits = predict(params, inputs)
    return -np.mean(np.sum(logits * targets, axis=1))


def clipped_grad(params, l2_norm_clip, single_example_batch):
    """Evaluate gradient for a single-example batch and clip its grad norm."""
    grads = sg.grad(dp_loss)(params, single_example_batch)
    nonempty_grads, tree_def = sg.util.tree_flatten(grads)
    total_grad_norm = np.linalg.norm([np.linalg.norm(neg.ravel()) for neg in nonempty_grads])
    divisor = np.maximum(total_grad_norm / l2_norm_clip, 1.0)
    normalized_nonempty_grads = [g / divisor for g in nonempty_grads]
    return sg.util.tree_unflatten(tree_def, normalized_nonempty_grads)


def private_step_loss(params, batch, l2_norm_clip=0.5, step_size=0.3):
    inputs, targets = batch
    total = None
    for i in range(inputs.shape[0]):
        g = clipped_grad(params, l2_norm_clip, (inputs[i : i + 1], targets[i : i + 1]))
        total = g if total is None else sg.util.tree_map(lambda a, b: a + b, total, g)
    new_params = [
        (w - step_size * gw / inputs.shape[0], b - step_size * gb / inputs.shape[0])
        for (w, b), (gw, gb) in zip(params, total)
    ]
    return dp_loss(new_params, batch)


DROP_PARAMS = [r(4, 5), 0.1 * r(5), r(5, 5), 0.1 * r(5), r(5, 3), 0.1 * r(3)]
MNIST_BATCH = (r(5, 4), one_hot(np.array([0, 2, 1, 1, 0]), 3))
SEQ_X = np.array([[0, 1, 3], [2, 2, 1]])
SEQ_Y = np.array([[1, 3, 0], [2, 1, 1]])

CASES = [
    Case("d2l_linreg_squared_loss", linreg_loss, (r(3), 0.3, r(6, 3), r(6)), wrt=(0, 1), order=2),
    Case(
        "d2l_softmax_range_index",
        softmax_regression_loss,
        (0.3 * r(4, 3), 0.1 * r(3), r(2, 2, 2), np.array([0, 2])),
        wrt=(0, 1),
        order=2,
    ),
    Case(
        "d2l_mlp_relu_zeros_like",
        mlp_loss,
        ([r(4, 5), 0.1 * r(5), r(5, 3), 0.1 * r(3)], r(6, 4), np.array([0, 1, 2, 2, 1, 0])),
        order=2,
    ),
    Case(
        "d2l_dropout_helper_draws",
        dropout_mlp_loss,
        (DROP_PARAMS, r(6, 4), np.array([0, 1, 2, 2, 1, 0])),
        refused=(sg.UnsupportedSyntaxError, "draw them in the function you differentiate"),
    ),
    Case(
        "d2l_dropout_masks_drawn_in_loss",
        dropout_mlp_masks_drawn_in_loss,
        (DROP_PARAMS, r(6, 4), np.array([0, 1, 2, 2, 1, 0])),
        order=2,
    ),
    Case(
        "dropout_generator_in_helper",
        dropout_generator_argument,
        (r(5), np.random.default_rng(0)),
        refused=(sg.UnsupportedSyntaxError, "seed the generator inside dropout_rng()"),
    ),
    Case("d2l_weight_decay", weight_decay_loss, (r(3), 0.3, r(6, 3), r(6)), wrt=(0, 1), order=2),
    Case("d2l_rnn_scratch", seq_loss, (rnn_params(1), SEQ_X, SEQ_Y, "rnn"), order=2),
    Case("d2l_gru_scratch", seq_loss, (rnn_params(3), SEQ_X, SEQ_Y, "gru"), order=2),
    Case("d2l_lstm_scratch", seq_loss, (rnn_params(4), SEQ_X, SEQ_Y, "lstm"), order=2),
    Case(
        "jax_mnist_fromscratch",
        mnist_loss,
        (init_random_params(0.5, [4, 5, 5, 3]), MNIST_BATCH),
        wrt=(0, 1),
        order=2,
    ),
    Case("jax_kernel_lsq_rbf", kernel_lsq_rbf, (r(4), r(4, 2), r(4)), wrt=(0, 1), order=2),
    Case("jax_kernel_lsq_lambda", kernel_lsq_linear, (r(4, 2), r(4), r(4)), wrt=(0, 1), order=2),
    Case(
        "jax_dp_sgd_clipped_step",
        private_step_loss,
        (init_random_params(0.5, [4, 3, 3]), MNIST_BATCH),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_d2l_and_jax_examples(case):
    check(case)
