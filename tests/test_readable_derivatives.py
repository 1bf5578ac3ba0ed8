"""The running derivative reads as a person would write it: a value computed once, reads of
containers nothing writes made again in the reverse loop instead of taped, temporaries named
after what they hold. Each form checked in the emitted source and, through the public API,
against central differences (values, gradients on three calls, second order)."""

from __future__ import annotations

import numpy as np

import sourcegrad as sg

from .ported.harness import Case, check


def dense(p, x):
    return x @ p["W"] + p["b"]


def layer_norm(x, g, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return g * (x - mu) / np.sqrt(var + eps)


def mlp_ln(params, x, y):
    h = x
    for p in params["layers"]:
        h = np.maximum(dense(p, h), 0.0)
        h = layer_norm(h, p["g"])
    logits = dense(params["out"], h)
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.sum(logp * y, axis=1))


def _mlp_args():
    rng = np.random.default_rng(0)
    r = rng.standard_normal
    layers = [
        {"W": r((4, 8)), "b": r(8), "g": r(8) + 1},
        {"W": r((8, 8)), "b": r(8), "g": r(8) + 1},
    ]
    params = {"layers": layers, "out": {"W": r((8, 3)), "b": r(3)}}
    return params, r((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]


def _shown(f, args, **kw):
    return sg.show(f, args=args, optimized=True, **kw)


def _function(text, name):
    """The code of the generated function ``name`` in ``text``, without its comments."""
    start = text.index(f"def {name}(")
    end = text.find("\ndef ", start + 1)
    lines = text[start : end if end >= 0 else len(text)].splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_a_difference_read_after_a_reduction_method_is_computed_once():
    args = _mlp_args()
    ln = _function(_shown(mlp_ln, args), "vjp_layer_norm")
    assert ln.count("x - mu") + ln.count("np.subtract(x, mu") == 1, ln
    check(Case("mlp_ln", mlp_ln, args, order=2))
