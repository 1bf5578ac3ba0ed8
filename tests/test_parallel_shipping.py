"""Functions sent to other ranks (``sourcegrad.parallel.pack``/``unpack``/``share``), in one
process: what a rank rebuilds computes Python's value and the right derivative, first and
later calls, and what cannot be sent is refused naming it."""

from __future__ import annotations

import linecache
import pickle
import threading

import numpy as np
import pytest

import sourcegrad as sg


def through_the_wire(fn):
    """``fn`` as another rank gets it: packed, pickled, unpickled, rebuilt."""
    return sg.parallel.unpack(pickle.loads(pickle.dumps(sg.parallel.pack(fn))))


def cell(text, filename, namespace):
    """A function defined the way a notebook cell defines it."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102
    return namespace


def finite_difference_check(f, w, *args):
    g = sg.grad(f)
    for _ in range(2):  # the first call, then the optimized code of later calls
        got = g(w, *args)
    eps = 1e-6
    want = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e.flat[i] = eps
        want.flat[i] = (f(w + e, *args) - f(w - e, *args)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_an_importable_function_travels_by_name():
    shipped = sg.parallel.pack(sg.loss.cross_entropy)
    assert shipped.source is None and shipped.module == "sourcegrad.loss"
    assert through_the_wire(sg.loss.cross_entropy) is sg.loss.cross_entropy


def test_a_notebook_function_is_rebuilt_from_its_source_with_its_globals():
    def scale(v):
        return 3.0 * v

    text = "\n\ndef cell_loss(w, x):\n    return np.sum(np.sin(x @ w) ** 2) * SCALE + scale(w[0])\n"
    ns = cell(text, "<cell 7>", {"np": np, "SCALE": 0.5, "scale": scale, "__name__": "__main__"})
    shipped = sg.parallel.pack(ns["cell_loss"])
    assert shipped.source.startswith("def cell_loss") and shipped.firstlineno == 3
    assert shipped.globals["np"] == ("module", "numpy")
    rebuilt = through_the_wire(ns["cell_loss"])
    assert rebuilt is not ns["cell_loss"] and rebuilt.__code__.co_filename == "<cell 7> (shipped)"
    assert rebuilt.__code__.co_firstlineno == 3
    w, x = np.array([0.3, -0.2]), np.random.default_rng(0).normal(size=(4, 2))
    assert rebuilt(w, x) == ns["cell_loss"](w, x)
    finite_difference_check(rebuilt, w, x)


def test_closures_defaults_and_decorators_survive_the_trip():
    power = 3

    def identity(f):
        return f

    @identity
    def loss(w, x, offset=0.5):
        return np.sum((x @ w + offset) ** power)

    rebuilt = through_the_wire(loss)
    w, x = np.array([0.3, -0.2]), np.random.default_rng(1).normal(size=(3, 2))
    assert rebuilt(w, x) == loss(w, x) and rebuilt.__defaults__ == (0.5,)
    finite_difference_check(rebuilt, w, x)


def test_what_cannot_be_sent_is_refused_naming_it():
    lock = threading.Lock()

    def uses_a_lock(w):
        with lock:
            return np.sum(w)

    with pytest.raises(sg.parallel.ShippingError, match="'lock'.*uses_a_lock"):
        sg.parallel.pack(uses_a_lock)
    ns = {"np": np}
    exec("def no_source(w):\n    return w\n", ns)  # noqa: S102  (no linecache entry)
    with pytest.raises(sg.parallel.ShippingError, match="no source to ship"):
        sg.parallel.pack(ns["no_source"])
    with pytest.raises(sg.parallel.ShippingError, match="only Python functions"):
        sg.parallel.pack(np.sum)


def test_share_in_one_process_returns_the_function_itself():
    comm = sg.parallel.init("single")
    f = sg.loss.cross_entropy
    assert sg.parallel.share(comm, f) is f
