"""Every workload ``run.py`` times: the eight of ``suite.py``, then models as people write them
now, and the same models written inline and with helper functions side by side.

=====================  =====================================================================
key                    workload
=====================  =====================================================================
mlp-helpers            ``suite.mlp_loss`` written with ``dense``, ``relu`` and
                       ``log_softmax`` helper functions (pair with ``mlp``)
gru                    ``gru.gru_loss``: a GRU, a Python ``for`` over T = 50 steps (input 64,
                       hidden 128, batch 32); reference ``gru.gru_bptt``
transformer            ``attention.transformer_loss``: a pre-LN transformer block written
                       inline (causal multi-head self-attention, layer norm, tanh-GELU MLP,
                       residuals), batch 16, sequence 64, width 128, 4 heads; reference
                       ``attention.transformer_hand``
transformer-helpers    ``attention.transformer_helpers_loss``: the same block through helper
                       functions (``layer_norm``, ``attention``, ``causal_softmax``, ``gelu``)
=====================  =====================================================================
"""

from __future__ import annotations

import numpy as np

try:  # run as a script from benchmarks/ (python benchmarks/run.py) or as a package
    import attention
    import gru
    import recurrent
    import suite
    from harness import import_torch
    from spec import Spec, torch_candidate
except ImportError:  # pragma: no cover
    from . import attention, gru, recurrent, suite
    from .harness import import_torch
    from .spec import Spec, torch_candidate


# =========================================================================== helper MLP
def dense(x, W, b):
    """An affine layer."""
    return x @ W + b


def relu(x):
    return np.maximum(x, 0.0)


def log_softmax(z):
    """Log-probabilities of the rows of z."""
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def mlp_helpers_loss(params, x, y):
    """:func:`suite.mlp_loss` written with helper functions."""
    W0, W1, W2 = params["W"]
    b0, b1, b2 = params["b"]
    h1 = relu(dense(x, W0, b0))
    h2 = relu(dense(h1, W1, b1))
    return -np.sum(y * log_softmax(dense(h2, W2, b2))) / x.shape[0]


# =========================================================================== torch
def _torch_from(make, note):
    """A torch candidate maker from ``make(*args) -> (leaves, loss closure)``."""

    def candidate(*args):
        got = make(*args)
        if got is None:
            return None
        leaves, loss = got
        return torch_candidate(import_torch(), leaves, loss, note)

    return candidate


# =========================================================================== specs
def _transformer_spec(key, loss, how):
    return Spec(
        key,
        f"transformer block ({how}): causal 4-head self-attention, layer norm, tanh-GELU "
        "MLP, residuals; batch 16, seq 64, width 128; squared error",
        loss,
        attention.transformer_inputs,
        attention.transformer_hand,
        _torch_from(attention.torch_transformer, "; F.layer_norm, F.gelu(approximate='tanh')"),
    )


NEW_SPECS = [
    Spec(
        "mlp-helpers",
        "the mlp workload written with dense / relu / log_softmax helper functions",
        mlp_helpers_loss,
        suite.mlp_inputs,
        suite.mlp_hand,
        suite.torch_mlp,
    ),
    Spec(
        "gru",
        "GRU, input 64, hidden 128, batch 32, T=50, Python for loop; gates [z|r|c]; "
        "softmax cross entropy of the last state",
        gru.gru_loss,
        gru.gru_inputs,
        gru.gru_bptt,
        _torch_from(gru.torch_gru, ""),
        jit_note="; the Python loop is unrolled at trace time",
        tolerances=recurrent.TOLERANCES,
    ),
    _transformer_spec("transformer", attention.transformer_loss, "inline"),
    _transformer_spec("transformer-helpers", attention.transformer_helpers_loss, "helpers"),
]
# table order: each helper form right after its inline form
SPECS = [*suite.SPECS[:3], NEW_SPECS[0], *suite.SPECS[3:], *NEW_SPECS[1:]]
SPEC_KEYS = [s.key for s in SPECS]


def select(only: str | None) -> list[Spec]:
    """:func:`suite.select` over every workload of this catalog."""
    return suite.select(only, SPECS)
