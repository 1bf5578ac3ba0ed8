"""Programs as "Neural Networks from Scratch" (nnfs.io) writes them: ``Layer_Dense``,
``Activation_*`` and ``Loss_*`` classes whose ``forward`` methods keep ``self.inputs`` and
``self.output``, a ``Loss`` base class whose ``calculate`` calls the subclass's ``forward``,
regularization read from the layer's settings, the combined softmax-crossentropy object,
dropout with a mask drawn outside, the regression and binary losses. The weights are passed
in (the book draws them in ``__init__``; here ``__init__`` takes them). Each against Python's
value and central differences on calls 1-3, to second order where smooth."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .harness import Case, check, marked_line, params

R = np.random.default_rng(9101)


def r(*s):
    return R.standard_normal(s)


class Layer_Dense:
    def __init__(
        self,
        weights,
        biases,
        weight_regularizer_l1=0,
        weight_regularizer_l2=0,
        bias_regularizer_l1=0,
        bias_regularizer_l2=0,
    ):
        self.weights = weights
        self.biases = biases
        self.weight_regularizer_l1 = weight_regularizer_l1
        self.weight_regularizer_l2 = weight_regularizer_l2
        self.bias_regularizer_l1 = bias_regularizer_l1
        self.bias_regularizer_l2 = bias_regularizer_l2

    def forward(self, inputs, training=True):
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases
        return self.output


class Activation_ReLU:
    def forward(self, inputs, training=True):
        self.inputs = inputs
        self.output = np.maximum(0, inputs)
        return self.output


class Activation_Softmax:
    def forward(self, inputs, training=True):
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        probabilities = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        self.output = probabilities
        return self.output


class Activation_Sigmoid:
    def forward(self, inputs, training=True):
        self.inputs = inputs
        self.output = 1 / (1 + np.exp(-inputs))
        return self.output


class Activation_Linear:
    def forward(self, inputs, training=True):
        self.inputs = inputs
        self.output = inputs
        return self.output


class Layer_Dropout:
    def __init__(self, binary_mask):
        self.binary_mask = binary_mask

    def forward(self, inputs, training=True):
        self.inputs = inputs
        if not training:
            self.output = inputs.copy()
            return self.output
        self.output = inputs * self.binary_mask
        return self.output


class Loss:
    def regularization_loss(self, layer):
        regularization_loss = 0
        if layer.weight_regularizer_l1 > 0:
            regularization_loss += layer.weight_regularizer_l1 * np.sum(np.abs(layer.weights))
        if layer.weight_regularizer_l2 > 0:
            regularization_loss += layer.weight_regularizer_l2 * np.sum(
                layer.weights * layer.weights
            )
        if layer.bias_regularizer_l1 > 0:
            regularization_loss += layer.bias_regularizer_l1 * np.sum(np.abs(layer.biases))
        if layer.bias_regularizer_l2 > 0:
            regularization_loss += layer.bias_regularizer_l2 * np.sum(layer.biases * layer.biases)
        return regularization_loss

    def calculate(self, output, y):
        sample_losses = self.forward(output, y)
        data_loss = np.mean(sample_losses)
        return data_loss


class Loss_CategoricalCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        elif len(y_true.shape) == 2:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        negative_log_likelihoods = -np.log(correct_confidences)
        return negative_log_likelihoods


class Loss_BinaryCrossentropy(Loss):
    def forward(self, y_pred, y_true):
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        sample_losses = -(
            y_true * np.log(y_pred_clipped) + (1 - y_true) * np.log(1 - y_pred_clipped)
        )
        sample_losses = np.mean(sample_losses, axis=-1)
        return sample_losses


class Loss_MeanSquaredError(Loss):
    def forward(self, y_pred, y_true):
        sample_losses = np.mean((y_true - y_pred) ** 2, axis=-1)
        return sample_losses


class Loss_MeanAbsoluteError(Loss):
    def forward(self, y_pred, y_true):
        sample_losses = np.mean(np.abs(y_true - y_pred), axis=-1)
        return sample_losses


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def __init__(self):
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs, y_true):
        self.output = self.activation.forward(inputs)
        return self.loss.calculate(self.output, y_true)


class BookSoftmaxLoss(Activation_Softmax_Loss_CategoricalCrossentropy):
    """The book's own: the activation's output read back from the object."""

    def forward(self, inputs, y_true):
        self.activation.forward(inputs)
        self.output = self.activation.output  # REFUSED
        return self.loss.calculate(self.output, y_true)


X = r(8, 2)
y_sparse = np.array([0, 1, 2, 1, 0, 2, 2, 1])
y_onehot = np.eye(3)[y_sparse]
y_binary = (R.uniform(size=(8, 1)) > 0.5).astype(float)
y_reg = r(8, 1)
MASK = (R.uniform(size=(8, 5)) > 0.3) / 0.7


def nnfs_spiral_classifier(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    activation2 = Activation_Softmax()
    loss_function = Loss_CategoricalCrossentropy()
    out = dense1.forward(X)
    out = activation1.forward(out)
    out = dense2.forward(out)
    out = activation2.forward(out)
    return loss_function.calculate(out, y)


def nnfs_reads_output_attribute(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    dense1.forward(X)  # (each forward inlined: its stores are the function's own)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    return loss_activation.forward(dense2.output, y)


def nnfs_combined_softmax_loss(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    dense2 = Layer_Dense(W2, b2)
    activation1 = Activation_ReLU()
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    h = activation1.forward(dense1.forward(X))
    return loss_activation.forward(dense2.forward(h), y)


def nnfs_regularized(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
    dense2 = Layer_Dense(W2, b2, weight_regularizer_l1=1e-3)
    activation1 = Activation_ReLU()
    activation2 = Activation_Softmax()
    loss_function = Loss_CategoricalCrossentropy()
    h = activation1.forward(dense1.forward(X))
    out = activation2.forward(dense2.forward(h))
    data_loss = loss_function.calculate(out, y)
    regularization_loss = loss_function.regularization_loss(
        dense1
    ) + loss_function.regularization_loss(dense2)
    return data_loss + regularization_loss


def nnfs_dropout(W1, b1, W2, b2, X, y, mask):
    dense1 = Layer_Dense(W1, b1)
    activation1 = Activation_ReLU()
    dropout1 = Layer_Dropout(mask)
    dense2 = Layer_Dense(W2, b2)
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    h = dropout1.forward(activation1.forward(dense1.forward(X)))
    return loss_activation.forward(dense2.forward(h), y)


def nnfs_binary_logistic(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4)
    activation1 = Activation_ReLU()
    dense2 = Layer_Dense(W2, b2)
    activation2 = Activation_Sigmoid()
    loss_function = Loss_BinaryCrossentropy()
    out = activation2.forward(dense2.forward(activation1.forward(dense1.forward(X))))
    data_loss = loss_function.calculate(out, y)
    return data_loss + loss_function.regularization_loss(dense1)


def nnfs_regression(W1, b1, W2, b2, X, y):
    layers = [Layer_Dense(W1, b1), Activation_Sigmoid(), Layer_Dense(W2, b2), Activation_Linear()]
    out = X
    for layer in layers:
        out = layer.forward(out, training=True)
    loss_function = Loss_MeanSquaredError()
    return loss_function.calculate(out, y)


def nnfs_regression_mae_accuracy(W1, b1, W2, b2, X, y):
    dense1 = Layer_Dense(W1, b1)
    activation1 = Activation_Sigmoid()
    dense2 = Layer_Dense(W2, b2)
    out = dense2.forward(activation1.forward(dense1.forward(X)))
    accuracy_precision = np.std(y) / 250
    predictions = out
    accuracy = np.mean(np.absolute(predictions - y) < accuracy_precision)
    loss = Loss_MeanAbsoluteError().calculate(out, y)
    return loss + 0.0 * accuracy


class Model:
    """nnfs's Model: ``add`` layers, ``finalize`` links them with prev/next."""

    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers.append(layer)

    def set(self, *, loss):
        self.loss = loss

    def forward(self, X, training):
        output = X
        for layer in self.layers:
            output = layer.forward(output, training)
        return output


def nnfs_book_softmax_loss(W, b, X, y):
    return BookSoftmaxLoss().forward(Layer_Dense(W, b).forward(X), y)


def nnfs_model_class(W1, b1, W2, b2, X, y):
    model = Model()
    model.add(Layer_Dense(W1, b1))  # REFUSED
    model.add(Activation_ReLU())
    model.add(Layer_Dense(W2, b2))
    model.add(Activation_Softmax())
    model.set(loss=Loss_CategoricalCrossentropy())
    output = model.forward(X, training=True)
    return model.loss.calculate(output, y)


def nnfs_params_list(params, X, y):
    out = X
    for i, (weights, biases) in enumerate(params):
        out = Layer_Dense(weights, biases).forward(out)
        if i < len(params) - 1:
            out = Activation_ReLU().forward(out)
    return Activation_Softmax_Loss_CategoricalCrossentropy().forward(out, y)


def nnfs_optimizer_sgd_unrolled(W, b, X, y, learning_rate):
    """The book's SGD step on a linear softmax model, written with the gradient by hand, two
    steps, then the loss (differentiated through the steps)."""
    for _ in range(2):
        dense = Layer_Dense(W, b)
        probs = Activation_Softmax().forward(dense.forward(X))
        dinputs = probs.copy()
        dinputs[range(len(X)), y] -= 1
        dinputs = dinputs / len(X)
        dweights = np.dot(X.T, dinputs)
        dbiases = np.sum(dinputs, axis=0, keepdims=True)
        W = W - learning_rate * dweights
        b = b - learning_rate * dbiases
    probs = Activation_Softmax().forward(Layer_Dense(W, b).forward(X))
    return Loss_CategoricalCrossentropy().calculate(probs, y)


P = (r(2, 5), r(1, 5), r(5, 3), r(1, 3))
PB = (r(2, 5), r(1, 5), r(5, 1), r(1, 1))

CASES = [
    Case("spiral_classifier", nnfs_spiral_classifier, (*P, X, y_sparse), wrt=(0, 1, 2, 3), order=2),
    Case(
        "reads_layer_output_attribute",
        nnfs_reads_output_attribute,
        (*P, X, y_sparse),
        wrt=(0, 1, 2, 3),
        order=2,
    ),
    Case("combined_softmax_loss", nnfs_combined_softmax_loss, (*P, X, y_onehot), wrt=(0, 2)),
    Case("l1_l2_regularized", nnfs_regularized, (*P, X, y_sparse), wrt=(0, 1, 2, 3), order=2),
    Case("dropout_given_mask", nnfs_dropout, (*P, X, y_sparse, MASK), wrt=(0, 2)),
    Case("binary_logistic", nnfs_binary_logistic, (*PB, X, y_binary), wrt=(0, 1, 2, 3), order=2),
    Case("regression_layer_list", nnfs_regression, (*PB, X, y_reg), wrt=(0, 1, 2, 3), order=2),
    Case("regression_mae", nnfs_regression_mae_accuracy, (*PB, X, y_reg), wrt=(0, 2)),
    Case(
        "model_class_add_layers",
        nnfs_model_class,
        (*P, X, y_sparse),
        refused=(sg.UnsupportedSyntaxError, "make add() return what it computes"),
    ),
    Case(
        "params_list_enumerate",
        nnfs_params_list,
        ([(P[0], P[1]), (P[2], P[3])], X, y_onehot),
        order=2,
    ),
    Case(
        "sgd_unrolled_by_hand",
        nnfs_optimizer_sgd_unrolled,
        (r(2, 3), r(1, 3), X, y_sparse, 0.5),
        wrt=(0, 1, 4),
        order=2,
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_nnfs(case):
    check(case)


def test_book_softmax_loss_reading_the_activations_output_is_refused():
    """The book's combined object reads ``self.activation.output``, kept by the call before:
    refused at that line of the method, with the way out."""
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(nnfs_book_softmax_loss)(P[0], P[1], X, y_sparse)
    where = f"{__file__}:{marked_line(BookSoftmaxLoss.forward)}: "
    assert str(info.value).startswith(where), str(info.value)
    assert "keep the value in a local variable" in str(info.value)


def test_layers_hold_what_python_leaves_in_them():
    """``self.output = ...; return self.output`` reads the value just stored: the layer
    holds Python's output after the derivative's call, as after ``f``'s."""
    relu_seen = Activation_ReLU()
    g = sg.grad(lambda W: np.sum(relu_seen.forward(Layer_Dense(W, P[1]).forward(X)) ** 2))(P[0])
    np.testing.assert_array_equal(relu_seen.output, np.maximum(0, X @ P[0] + P[1]))
    assert g.shape == P[0].shape
