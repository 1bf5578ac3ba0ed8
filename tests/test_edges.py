"""Edges of the public API.

* Misuse (wrong argument counts, a ``wrt`` that names no float argument, ``has_aux`` that does
  not match what the function returns, a missing or mis-shaped output gradient or tangent, a
  second derivative of a function without a scalar output) is refused with a
  ``SourcegradError`` that says what was expected, never a TypeError/ValueError/IndexError from
  inside sourcegrad; wrong argument counts read like Python's own message for ``f``.
* ``sg.grad(f)`` made again (a new derivative each training step) reuses the builds made for
  ``f``'s code, while closures and globals are still read when the derivative runs.
* Derivatives that are dropped are freed: no memory grows with the number made.
"""

import dataclasses
import gc
import linecache
import tracemalloc
import weakref

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import api, derivative_cache, errors, higher

X = np.linspace(-1.0, 1.0, 3)
W = np.linspace(0.5, 1.5, 3)
P = {"a": np.ones(2), "b": np.full(2, 2.0)}


def f(x, w):
    return np.sum(np.tanh(x * w) ** 2)


def power(x, n):
    return np.sum(x**n)


def vec(x):
    return np.tanh(x) * 2.0


def two_outputs(x):
    return x * 2.0, x * 3.0


def with_aux(x):
    return np.sum(x * x), {"n": x.size}


def loss_only(x):
    return np.sum(x * x)


def three(x):
    return np.sum(x * x), 1.0, 2.0


def returns_pair(x):
    return np.sum(x), 3.0


def tree(p):
    return np.sum(p["a"] * p["b"])


def keyword_only(x, *, s=1.0):
    return np.sum(x * s)


def takes_str(x, name):
    return np.sum(x)


ARG = errors.SourcegradError  # what every refusal is, at least

MISUSES = {
    # wrong argument counts and keywords
    "grad, too many": (lambda: sg.grad(f)(X, W, W), "ArgumentError", "takes 2 positional"),
    "grad, too few": (lambda: sg.grad(f)(X), "ArgumentError", "missing 1 required"),
    "grad, none": (lambda: sg.grad(f)(), "ArgumentError", "missing 2 required"),
    "grad, unknown keyword": (lambda: sg.grad(f)(X, W, z=1), "ArgumentError", "keyword"),
    "grad, keyword twice": (lambda: sg.grad(f)(X, W, x=X), "ArgumentError", "multiple"),
    "grad, keyword-only": (lambda: sg.grad(keyword_only)(X, t=2.0), "ArgumentError", "'t'"),
    "value_and_grad, too many": (
        lambda: sg.value_and_grad(f)(X, W, W),
        "ArgumentError",
        "takes 2 positional",
    ),
    "value_and_grad, too few": (
        lambda: sg.value_and_grad(f)(X),
        "ArgumentError",
        "missing 1",
    ),
    "grad, unknown option": (lambda: sg.grad(f, fast=True), "ArgumentError", "unknown option"),
    "vjp, no output gradient": (lambda: sg.vjp(vec)(X), "ArgumentError", "output gradient"),
    "vjp, nothing": (lambda: sg.vjp(vec)(), "ArgumentError", "no arguments"),
    "vjp, too many": (lambda: sg.vjp(vec)(X, X, X), "ArgumentError", "takes 1 positional"),
    "vjp, unknown keyword": (
        lambda: sg.vjp(vec)(X, g_out=X, z=1),
        "ArgumentError",
        "unexpected keyword",
    ),
    "jvp, no tangent": (lambda: sg.jvp(vec)(X), "ArgumentError", "then the tangent"),
    "jvp, nothing": (lambda: sg.jvp(vec)(), "ArgumentError", "no arguments"),
    "jvp, too many": (lambda: sg.jvp(vec)(X, X, X), "ArgumentError", "takes 1 positional"),
    "jvp, one tangent for two": (lambda: sg.jvp(f, (0, 1))(X, W, X), "ArgumentError", "tuple"),
    "hvp, too many": (lambda: sg.hvp(f)(X, W, X, X), "ArgumentError", "takes 2 positional"),
    "hvp, too few": (lambda: sg.hvp(f)(X, X), "ArgumentError", "missing 1 required"),
    "hvp, nothing": (lambda: sg.hvp(f)(), "ArgumentError", "no arguments"),
    "hvp, unknown keyword": (lambda: sg.hvp(f)(X, W, X, z=1), "ArgumentError", "keyword"),
    "hessian, too many": (lambda: sg.hessian(f)(X, W, W), "ArgumentError", "takes 2"),
    "hessian, too few": (lambda: sg.hessian(f)(X), "ArgumentError", "missing 1"),
    "hessian, nothing": (lambda: sg.hessian(f)(), "ArgumentError", "missing 2"),
    "hessian, unknown keyword": (lambda: sg.hessian(f)(X, W, z=1), "ArgumentError", "'z'"),
    "jacobian, too many": (lambda: sg.jacobian(vec)(X, X), "ArgumentError", "takes 1"),
    "jacobian, too few": (lambda: sg.jacobian(f)(X), "ArgumentError", "missing 1"),
    "jacobian, nothing": (lambda: sg.jacobian(vec)(), "ArgumentError", "missing 1"),
    "jacobian, unknown keyword": (lambda: sg.jacobian(vec)(X, z=1), "ArgumentError", "'z'"),
    "grad of grad, too many": (
        lambda: sg.grad(sg.grad(lambda a: a * a))(1.0, 2.0),
        "ArgumentError",
        "takes 1 positional",
    ),
    # wrt out of range, or naming an argument that is no float
    "grad, wrt out of range": (lambda: sg.grad(f, 2)(X, W), "WrtTypeError", "wrt=2"),
    "grad, wrt an int": (lambda: sg.grad(power, 1)(X, 2), "WrtTypeError", "integer"),
    "grad, wrt a str": (lambda: sg.grad(takes_str, 1)(X, "s"), "WrtTypeError", "str"),
    "grad, wrt None": (lambda: sg.grad(power, 1)(X, None), "WrtTypeError", "NoneType"),
    "vjp, wrt an int": (lambda: sg.vjp(power, 1)(X, 2, 1.0), "WrtTypeError", "integer"),
    "jvp, wrt an int": (lambda: sg.jvp(power, 1)(X, 2, 1), "WrtTypeError", "integer"),
    "hvp, wrt out of range": (lambda: sg.hvp(f, 5)(X, W, X), "WrtTypeError", "wrt=5"),
    "hvp, wrt an int": (lambda: sg.hvp(power, 1)(X, 2, 1), "WrtTypeError", "integer"),
    "hessian, wrt out of range": (lambda: sg.hessian(f, 5)(X, W), "WrtTypeError", "wrt=5"),
    "jacobian, wrt out of range": (lambda: sg.jacobian(vec, 3)(X), "WrtTypeError", "wrt=3"),
    # has_aux against what the function returns
    "has_aux, a scalar": (lambda: sg.grad(loss_only, has_aux=True)(X), "AuxError", "pair"),
    "has_aux, three values": (lambda: sg.grad(three, has_aux=True)(X), "AuxError", "3 values"),
    "value_and_grad has_aux, a scalar": (
        lambda: sg.value_and_grad(loss_only, has_aux=True)(X),
        "AuxError",
        "(loss, aux)",
    ),
    "no has_aux, a tuple": (lambda: sg.grad(returns_pair)(X), "NonScalarOutputError", "has_aux"),
    # output gradients of vjp
    "vjp, None": (lambda: sg.vjp(vec)(X, None), "ArgumentError", "None"),
    "vjp, shape that does not broadcast": (
        lambda: sg.vjp(vec)(X, np.ones(4)),
        "SourcegradError",
        "does not broadcast",
    ),
    "vjp, a tuple for an array": (
        lambda: sg.vjp(vec)(X, (np.ones(3), np.ones(3))),
        "SeedError",
        "not a container",
    ),
    "vjp, a tuple too short": (
        lambda: sg.vjp(two_outputs)(X, (np.ones(3),)),
        "SeedError",
        "items",
    ),
    "vjp, an array for a tuple": (
        lambda: sg.vjp(two_outputs)(X, np.ones(3)),
        "SourcegradError",
        "same structure",
    ),
    # tangents of jvp and hvp
    "jvp, None": (lambda: sg.jvp(vec)(X, None), "ArgumentError", "None"),
    "jvp, another shape": (lambda: sg.jvp(vec)(X, np.ones(4)), "SeedError", "shape (3,)"),
    "jvp, another rank": (lambda: sg.jvp(vec)(X, np.ones((3, 3))), "SeedError", "(3, 3)"),
    "jvp, a dict for an array": (lambda: sg.jvp(vec)(X, {"a": X}), "SeedError", "dict"),
    "jvp, an array for a dict": (lambda: sg.jvp(tree)(P, np.ones(2)), "SeedError", "dict"),
    "jvp, a key missing": (lambda: sg.jvp(tree)(P, {"a": np.ones(2)}), "SeedError", "keys"),
    "hvp, another shape": (lambda: sg.hvp(f)(X, W, np.ones(4)), "SeedError", "shape (3,)"),
    "hvp, another rank": (lambda: sg.hvp(f)(X, W, np.ones((3, 3))), "SeedError", "(3, 3)"),
    "hvp, a dict for an array": (lambda: sg.hvp(f)(X, W, {"a": X}), "SeedError", "dict"),
    "hvp, an array for a dict": (lambda: sg.hvp(tree)(P, np.ones(2)), "SeedError", "dict"),
    # second derivatives of functions without a scalar output
    "hvp, an array output": (lambda: sg.hvp(vec)(X, X), "NonScalarOutputError", "jacobian"),
    "hvp, a tuple output": (lambda: sg.hvp(returns_pair)(X, X), "NonScalarOutputError", "tuple"),
    "hessian, an array output": (
        lambda: sg.hessian(vec)(X),
        "NonScalarOutputError",
        "jacobian",
    ),
    "hessian, a tuple output": (
        lambda: sg.hessian(returns_pair)(X),
        "NonScalarOutputError",
        "scalar",
    ),
}


@pytest.mark.parametrize("name", list(MISUSES))
def test_misuse_is_refused_saying_what_was_expected(name):
    misuse, error, words = MISUSES[name]
    with pytest.raises(ARG) as info:
        misuse()
    assert isinstance(info.value, getattr(errors, error)), repr(info.value)
    assert words in str(info.value)


CALLS = {
    "too many": ((X, W, W), {}),
    "too few": ((X,), {}),
    "none": ((), {}),
    "unknown keyword": ((X, W), {"z": 1}),
    "a keyword twice": ((X, W), {"x": X}),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("make", ["grad", "value_and_grad", "hessian"])
def test_a_wrong_call_reads_like_pythons_naming_the_function(make, call):
    args, kwargs = CALLS[call]
    with pytest.raises(TypeError) as python:
        f(*args, **kwargs)
    with pytest.raises(errors.ArgumentError) as ours:
        getattr(sg, make)(f)(*args, **kwargs)
    assert str(ours.value).startswith(str(python.value))  # then what the derivative takes
    assert isinstance(ours.value, TypeError)  # as Python's own error for the call is


@pytest.mark.parametrize("make", ["vjp", "jvp", "hvp"])
def test_a_wrong_call_with_a_seed_reads_like_pythons(make):
    with pytest.raises(TypeError) as python:
        f(X, W, W)
    with pytest.raises(errors.ArgumentError) as ours:
        getattr(sg, make)(f)(X, W, W, X)
    assert str(python.value) in str(ours.value) and "then" in str(ours.value)


def test_a_derivative_still_works_after_refusing_a_call():
    df = sg.grad(f)
    want = sg.grad(f)(X, W)
    for _ in range(3):
        with pytest.raises(errors.ArgumentError):
            df(X)
        np.testing.assert_allclose(df(X, W), want)
    g, aux = sg.grad(with_aux, has_aux=True)(X)
    np.testing.assert_allclose(g, 2 * X)
    assert aux == {"n": 3}
    np.testing.assert_allclose(sg.vjp(vec)(X, 1.0), sg.vjp(vec)(X, np.ones(3)))  # broadcasts
    np.testing.assert_allclose(sg.jvp(tree)(P, {"b": np.ones(2), "a": np.zeros(2)})[1], 2.0)


# ----------------------------------------------------------------- derivatives made again
def _count_builds(monkeypatch) -> list:
    built: list = []
    build = api.Transformed._build

    def counting(self, *args, **kwargs):
        built.append(self.f)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(api.Transformed, "_build", counting)
    return built


def test_a_derivative_made_again_each_step_builds_nothing(monkeypatch, rng):
    def loss(W, x):
        return np.sum(np.tanh(x @ W) ** 2)

    built = _count_builds(monkeypatch)
    Wm, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    want = sg.grad(loss)(Wm, x)
    sg.grad(loss)(Wm, x)  # the second call of a signature specialises to its shapes
    made = len(built)
    for _ in range(5):  # a training loop writing sg.grad(loss) in each step
        np.testing.assert_allclose(sg.grad(loss)(Wm, x), want, rtol=1e-12)
        np.testing.assert_allclose(sg.value_and_grad(loss)(Wm, x)[1], want, rtol=1e-12)
    assert len(built) == made  # value_and_grad runs grad's builds
    steps = len(built)
    for _ in range(5):
        sg.grad(loss)(Wm, x)
        sg.value_and_grad(loss)(Wm, x)
    assert len(built) == steps


def test_a_tuple_wrt_and_an_hvp_run_the_builds_of_grad(monkeypatch, rng):
    def loss(W, x):
        return np.sum(np.tanh(x @ W) ** 2)

    Wm, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    want = sg.grad(loss)(Wm, x)
    sg.grad(loss)(Wm, x)  # (and the build for its shapes)
    built = _count_builds(monkeypatch)
    for _ in range(3):  # each returns its own form: a tuple, an array
        (got,) = sg.grad(loss, (0,))(Wm, x)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_allclose(sg.grad(loss)(Wm, x), want, rtol=1e-12)
    assert loss not in built
    v, eps = rng.standard_normal(Wm.shape), 1e-6
    moved = (sg.grad(loss)(Wm + eps * v, x) - sg.grad(loss)(Wm - eps * v, x)) / (2 * eps)
    for _ in range(3):
        np.testing.assert_allclose(sg.hvp(loss)(Wm, x, v), moved, rtol=1e-5, atol=1e-7)
    assert loss not in built  # the gradient the hvp transforms is grad's


def test_closures_of_the_same_code_share_builds_and_read_their_own_cells(monkeypatch, rng):
    def make(scale):
        def loss(x):
            return np.sum(np.sin(x) * scale)

        return loss

    built = _count_builds(monkeypatch)
    x = rng.standard_normal(4)
    two = make(2.0)
    np.testing.assert_allclose(sg.grad(two)(x), 2 * np.cos(x))
    np.testing.assert_allclose(sg.grad(two)(x), 2 * np.cos(x))
    made = len(built)
    three = make(3.0)
    for _ in range(3):
        np.testing.assert_allclose(sg.grad(three)(x), 3 * np.cos(x))
        np.testing.assert_allclose(sg.grad(two)(x), 2 * np.cos(x))
    assert len(built) == made  # nothing built for `three`: two's builds, rebound
    np.testing.assert_allclose(sg.vjp(three)(x, 1.0), 3 * np.cos(x))
    np.testing.assert_allclose(sg.vjp(two)(x, 1.0), 2 * np.cos(x))


def test_a_closure_changed_after_the_derivative_is_made_is_read_when_it_runs(rng):
    def make():
        scale = 1.0

        def loss(x):
            return np.sum(x * x) * scale

        def set_scale(value):
            nonlocal scale
            scale = value

        return loss, set_scale

    x = rng.standard_normal(3)
    loss, set_scale = make()
    df = sg.grad(loss)
    for value in (1.0, 5.0, -2.0):
        set_scale(value)
        np.testing.assert_allclose(df(x), 2 * value * x)
        np.testing.assert_allclose(sg.grad(loss)(x), 2 * value * x)


def test_closures_of_different_functions_are_not_confused(rng):
    def make(act):
        def loss(x):
            return np.sum(act(x))

        return loss

    x = rng.standard_normal(3)
    for _ in range(2):
        np.testing.assert_allclose(sg.grad(make(np.sin))(x), np.cos(x))
        np.testing.assert_allclose(sg.grad(make(np.tanh))(x), 1 - np.tanh(x) ** 2)


SCALE = 1.0
ACT = np.sin


def scaled(x):
    return np.sum(x * x) * SCALE


def through_a_global(x):
    return np.sum(ACT(x))


def test_globals_are_read_when_the_derivative_runs(monkeypatch, rng):
    x = rng.standard_normal(3)
    np.testing.assert_allclose(sg.grad(scaled)(x), 2 * x)
    monkeypatch.setattr(__import__(__name__, fromlist=["SCALE"]), "SCALE", 4.0)
    np.testing.assert_allclose(sg.grad(scaled)(x), 8 * x)
    np.testing.assert_allclose(sg.grad(through_a_global)(x), np.cos(x))
    monkeypatch.setattr(__import__(__name__, fromlist=["ACT"]), "ACT", np.tanh)
    np.testing.assert_allclose(sg.grad(through_a_global)(x), 1 - np.tanh(x) ** 2)


def _define(text: str, name: str, filename: str = "<test_edges source>"):
    """``name`` defined by ``text``, its source where sourcegrad reads it."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = {"np": np}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - the test's own source
    return namespace[name]


def test_a_function_redefined_with_new_source_is_built_again(rng):
    x = rng.standard_normal(3)
    try:
        first = _define("def model(x):\n    return np.sum(x ** 2)\n", "model")
        np.testing.assert_allclose(sg.grad(first)(x), 2 * x)
        np.testing.assert_allclose(sg.grad(first)(x), 2 * x)
        second = _define("def model(x):\n    return np.sum(x ** 3)\n", "model")
        np.testing.assert_allclose(sg.grad(second)(x), 3 * x * x)
        np.testing.assert_allclose(sg.grad(second)(x), 3 * x * x)
    finally:
        linecache.cache.pop("<test_edges source>", None)


# ----------------------------------------------------------------- dropped derivatives
def _closure(c):
    def loss(x, w):
        return np.sum(np.tanh(x * w) * c)

    return loss


def _new_code(i):
    return _define(f"def tiny(x, w):\n    return np.sum(np.sin(x * w) * {float(i)})\n", "tiny")


def _use_and_drop(fn, i):
    kind = i % 3
    if kind == 0:
        d = sg.grad(fn)
        d(X, W)
        d(X, W)
    elif kind == 1:
        sg.vjp(fn, 1)(X, W, 1.0)
    else:
        sg.value_and_grad(fn)(X, W)
    return weakref.ref(fn)


def test_dropped_derivatives_of_dropped_functions_are_freed(monkeypatch):
    monkeypatch.setattr(derivative_cache, "CODE_CACHE_SIZE", 4, raising=False)
    lines = len(linecache.cache)
    tracemalloc.start()
    try:
        for i in range(30):  # fills what is kept for reuse (a few functions' builds)
            _use_and_drop(_closure(float(i)), i)
            _use_and_drop(_new_code(i), i)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1000):
            _use_and_drop(_closure(float(i)), i)
        refs = [_use_and_drop(_new_code(i), i) for i in range(30)]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        linecache.cache.pop("<test_edges source>", None)
    # what stays is at most a few hundred bytes a derivative (CPython keeps the name of each
    # file compiled); a derivative kept alive, or its source, takes several kilobytes
    assert grown < 1030 * 1024, f"{grown / 1030:.0f} bytes a derivative"
    assert len(linecache.cache) <= lines + 4 * 8  # what the kept builds are compiled from
    assert sum(r() is not None for r in refs) <= 4  # the functions beyond the kept ones: freed


def test_second_derivatives_of_dropped_functions_are_freed(monkeypatch):
    monkeypatch.setattr(higher, "_KEPT", 2, raising=False)
    # the gradient an hvp transforms runs grad's builds, kept for reuse as grad's are: with
    # the function they were made for (the first closure of this code, which the others'
    # builds are rebound from)
    monkeypatch.setattr(derivative_cache, "CODE_CACHE_SIZE", 2, raising=False)
    refs = []
    for i in range(6):
        fn = _closure(float(i + 1))
        sg.hvp(fn)(X, W, np.ones(3))
        refs.append(weakref.ref(fn))
        del fn
    gc.collect()
    assert sum(r() is not None for r in refs) <= 2 + 1


def test_what_is_kept_for_reuse_holds_no_derivative_and_no_argument():
    # builds kept past their derivative hold neither the module's other globals (the
    # derivative itself, assigned to one before its first call) nor the first call's arguments
    namespace = {"np": np}
    text = "def kept(x, w):\n    return np.sum(np.cos(x * w))\n"
    linecache.cache["<test_edges kept>"] = (len(text), None, text.splitlines(True), "")
    try:
        exec(compile(text, "<test_edges kept>", "exec"), namespace)  # noqa: S102
        x, w = np.linspace(0.0, 1.0, 5), np.linspace(1.0, 2.0, 5)
        namespace["d"] = sg.grad(namespace["kept"])
        for _ in range(3):
            np.testing.assert_allclose(namespace["d"](x, w), -np.sin(x * w) * w)
        gone = [weakref.ref(namespace.pop("d")), weakref.ref(x), weakref.ref(w)]
        del x, w
        gc.collect()
        assert [r() for r in gone] == [None, None, None]
    finally:
        linecache.cache.pop("<test_edges kept>", None)


def complex_loss(z):
    return np.sum(np.abs(z * z) ** 2)


def test_a_complex_argument_is_refused_not_differentiated_wrongly():
    z = np.array([1.0 + 2.0j, 0.5 - 1.0j])
    with pytest.raises(sg.WrtTypeError, match="complex"):
        sg.grad(complex_loss)(z)


@dataclasses.dataclass
class DenseLayer:
    W: np.ndarray
    b: np.ndarray


def dataclass_loss(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2)


def test_a_dataclass_in_wrt_gets_a_gradient_of_its_own_class():
    p = DenseLayer(np.ones((3, 2)) * 0.3, np.zeros(2))
    g = sg.grad(dataclass_loss)(p, np.ones((4, 3)))
    assert type(g) is DenseLayer and g.W.shape == (3, 2) and g.b.shape == (2,)
    assert sg.gradcheck(dataclass_loss, p, np.ones((4, 3)), order=2)


def nested_def_with_try(x):
    def g(v):
        try:
            return v * 2.0
        except ValueError:
            return v

    return np.sum(g(x))


def test_a_refusal_inside_a_nested_def_names_the_users_file_not_generated_code():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(nested_def_with_try)(np.ones(3))
    first = nested_def_with_try.__code__.co_firstlineno
    assert info.value.filename == __file__
    assert first + 1 <= info.value.lineno <= first + 3  # the nested def, or the `try` in it


def mean_of_no_rows_plus_squares(x):
    return np.sum(x[:0].mean(axis=0)) + np.sum(x**2)


@pytest.mark.xfail(
    strict=True,
    reason="the mean rule's `np.size(z) / np.size(a)` divides two ints: ZeroDivisionError in "
    "the adjoint of a mean over an axis of no entries (Python gives NaN and warns)",
)
def test_a_mean_over_an_axis_of_no_entries_adds_nothing_to_the_gradient():
    x = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    df = sg.grad(mean_of_no_rows_plus_squares)
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
        for _ in range(3):  # the empty slice's adjoint is empty: 2x, the squares' alone
            np.testing.assert_allclose(df(x), 2 * x, rtol=1e-12)
