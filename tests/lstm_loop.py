"""An LSTM network whose loop sourcegrad differentiates from its source (what
``sourcegrad.model.LSTM`` computed before it called the primitive ``F.lstm``): the subject of
the tests of the optimize pass on a recurrent kept callee (hoist, one adjoint buffer)."""

import numpy as np

from sourcegrad.model.recurrent import LSTM, as_sequence
from sourcegrad.nn import functional as F


class LoopLSTM(LSTM):
    """``model.LSTM``'s values, by a Python loop over the steps written out."""

    def __call__(self, params, x):
        bias = params["bias_ih"] + params["bias_hh"]  # both biases added once, in the GEMM
        xw = F.linear(as_sequence(x), params["weight_ih"], bias)
        h = np.zeros_like(xw[0, :, : params["weight_hh"].shape[1]])
        c = np.zeros_like(h)
        hs = []
        for t in range(len(xw)):
            gates = xw[t] + F.linear(h, params["weight_hh"])
            i, f, g, o = np.split(gates, 4, axis=-1)
            c = F.sigmoid(f) * c + F.sigmoid(i) * np.tanh(g)
            h = F.sigmoid(o) * np.tanh(c)
            hs.append(h)
        if self.all_states:
            return np.stack(hs)
        return h
