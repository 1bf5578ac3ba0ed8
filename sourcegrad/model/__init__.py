"""``sourcegrad.model``: constructors of standard models, the seed's model primitives.

Each returns ``(f, params)``: ``f`` is a :class:`sourcegrad.nn.Module` whose
``f(params, x)`` is plain code over NumPy and :mod:`sourcegrad.nn` layers, which
``sourcegrad.grad`` differentiates from its source wherever ``f`` is called; ``params`` are its
parameters (dicts and lists of arrays, initialised as PyTorch initialises the same layers).
``f`` holds ``params`` too (``f.parameters()``), so the module API (``f.forward(x)``,
``f.backward(g)``, ``f.grads``) uses them::

    f, params = sourcegrad.model.NeuralNetwork(
        input_features=10, hidden_features=[100, 10], activations="ReLU", classifier=True
    )
    grads = sourcegrad.grad(lambda p, x, y: sourcegrad.loss.cross_entropy(f(p, x), y))(...)

* :func:`NeuralNetwork`: an MLP (sizes, activation, dropout);
* :func:`SpatialNetwork`: convolutions and max-pooling over NCHW images, optional MLP head;
* :func:`RecurrentNetwork`, :func:`RecurrentLSTMNetwork`, :func:`RecurrentGRUNetwork`:
  ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (one layer) stepped by a Python loop, returning the
  last hidden state or all of them; their cells ``rnn_cell``, ``lstm_cell``, ``gru_cell``
  (instances of :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`) and
  :func:`init_recurrent`, for code that steps a cell itself.
"""

from .feedforward import MLP, ConvNet, NeuralNetwork, SpatialNetwork
from .options import ACTIVATIONS
from .recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    RecurrentGRUNetwork,
    RecurrentLSTMNetwork,
    RecurrentNetwork,
    RNNCell,
    gru_cell,
    init_recurrent,
    lstm_cell,
    rnn_cell,
)

__all__ = [
    "ACTIVATIONS",
    "NeuralNetwork",
    "SpatialNetwork",
    "RecurrentNetwork",
    "RecurrentLSTMNetwork",
    "RecurrentGRUNetwork",
    "MLP",
    "ConvNet",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "init_recurrent",
]
