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


def _reverse_loop(text):
    """The code of ``text``'s first reversed loop (its header and body)."""
    start = text.index("in reversed(")
    return text[start : text.index("\n    return", start)]


def test_an_item_of_an_unwritten_container_is_read_again_in_the_reversed_loop():
    args = _mlp_args()
    for optimized in (False, True):
        text = _function(sg.show(mlp_ln, args=args, optimized=optimized), "d_mlp_ln")
        assert "tape.append(p)" not in text and "p = tape.pop()" not in text, text
        assert "p = layers[k]" in _reverse_loop(text), text


def rnn(params, xs):
    h = np.zeros(params["W"].shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
    return np.sum(h**2)


def _rnn_args():
    rng = np.random.default_rng(1)
    r = rng.standard_normal
    return {"W": r((3, 3)) * 0.5, "U": r((3, 2)), "b": r(3)}, r((4, 2))


def test_a_row_of_the_inputs_is_read_again_at_every_order():
    args = _rnn_args()
    text = _function(sg.show(rnn, args=args), "d_rnn")
    assert text.count("x_t = xs[t]") == 2 and "x_t = xs[t]" in _reverse_loop(text), text
    assert text.count("tape.append(") == 4, text  # h and the shapes of h_3, h_5, h_6
    hvp = _function(sg.show(rnn, args=args, order=2), "jvp_d_rnn")
    assert hvp.count("= xs[t]") == 2 and "append_tangent(ttape, None" in hvp, hvp
    assert hvp.count("append_tangent(") == 4, hvp
    check(Case("rnn", rnn, args, order=2))


def written_in_the_loop(w, x):
    ws = [w, 2.0 * w, 3.0 * w]
    h = x
    for k in range(3):
        v = ws[k]
        h = np.sin(h * v)
        ws[k] = h
    return np.sum(h) + np.sum(ws[0] * w)


def read_after_the_inner_loop(ws, x):
    h = x
    for _ in range(2):
        for k in range(len(ws)):
            w = ws[k]
            h = np.tanh(h * w)
        h = h + w
    return np.sum(h**2)


def test_reads_that_change_or_are_read_elsewhere_stay_on_the_tape():
    rng = np.random.default_rng(2)
    w, x = rng.standard_normal(3), rng.standard_normal(3)
    text = _function(sg.show(written_in_the_loop, args=(w, x)), "d_written_in_the_loop")
    assert "v = ws" not in _reverse_loop(text), text
    check(Case("written_in_the_loop", written_in_the_loop, (w, x), order=2))
    ws = [rng.standard_normal(3) * 0.5 for _ in range(3)]
    shown = sg.show(read_after_the_inner_loop, args=(ws, x))
    assert "tape.append(w)" in shown, shown
    check(Case("read_after_the_inner_loop", read_after_the_inner_loop, (ws, x), order=2))


def gain_taken(params, x):
    g = np.tanh(x)
    for p in params:
        g = g * layer_norm(g, p["g"])
    return np.sum(g)


def test_a_temporary_read_by_a_key_is_named_for_it_where_that_name_is_free():
    args = _mlp_args()
    text = _function(sg.show(mlp_ln, args=args), "d_mlp_ln")
    assert 'g = p["g"]' in text and 'h_2 = p["g"]' not in text, text
    rng = np.random.default_rng(3)
    params = [{"g": rng.standard_normal(4) + 1} for _ in range(2)]
    taken = (params, rng.standard_normal((3, 4)))
    shown = _function(sg.show(gain_taken, args=taken), "d_gain_taken")
    assert 'g = p["g"]' not in shown and '= p["g"]' in shown, shown
    check(Case("gain_taken", gain_taken, taken, order=2))


def builtin_keys(p, x):
    h = x
    for q in p["layers"]:
        h = np.tanh(h * q["range"] + q["len"] + p["len"])
    return np.sum(h)


def test_a_key_naming_a_builtin_names_no_temporary():
    rng = np.random.default_rng(4)
    layers = [{"range": rng.standard_normal(3), "len": rng.standard_normal(3)} for _ in "ab"]
    args = ({"layers": layers, "len": rng.standard_normal(3)}, rng.standard_normal(3))
    shown = sg.show(builtin_keys, args=args, optimized=True)
    assert " range =" not in shown and " len =" not in shown, shown
    check(Case("builtin_keys", builtin_keys, args, order=2))
