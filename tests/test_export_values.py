"""``sg.export`` of derivatives resolved while the code runs: function values (a list of layer
objects called in a loop, a lambda activation, a nested ``def`` reading a variable of the
loss, NumPy functions from a dict) and helpers' derivatives at order 2 and up (a dict of
parameters through a helper). Each export runs in a Python that cannot import sourcegrad
(``python -I -S``) and gives the in-process numbers bit for bit; the derivatives themselves
are checked against central differences (first and later calls)."""

from __future__ import annotations

import dataclasses
import inspect
import pathlib
import shutil

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli
from sourcegrad.higher import tower

from . import export_cases as c
from . import export_value_cases as v
from .internals import DEFAULT_TIERS
from .test_export import run_isolated, same
from .test_show_callees import GOLDEN, check_golden


def isolated(tmp_path: pathlib.Path, text: str, name: str, args: tuple):
    """``run_isolated`` with the cases' module importable there (its layer objects are
    pickled), NumPy only besides."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "__init__.py").write_text("")
    shutil.copy(v.__file__, tmp_path / "tests" / "export_value_cases.py")
    return run_isolated(tmp_path, text, name, args)


def steady(df, *args):
    for _ in range(3):
        out = df(*args)
    return out


FIRST_ORDER = {
    "layer objects in a loop": (v.layers_loss, v.layers_args),
    "a method of layer objects in a loop": (v.method_loss, v.method_args),
    "lambda activation": (v.lambda_loss, v.dict_args),
    "nested def reading an argument": (v.scaled_loss, lambda: (*v.dict_args(), 0.5)),
    "NumPy functions from a dict": (v.activations_loss, v.dict_args),
    "a global closure": (c.calls_a_closure, lambda: (np.arange(3.0),)),
    "NumPy functions from a list": (c.calls_function_values, lambda: (np.arange(3.0),)),
    "a lambda": (c.calls_a_lambda, lambda: (np.arange(3.0),)),
}


@pytest.mark.parametrize("case", list(FIRST_ORDER))
def test_function_values_export_and_match_bit_for_bit(case, tmp_path):
    f, make = FIRST_ORDER[case]
    args = make()
    text = sg.export(f, *args)
    got = isolated(tmp_path, text, f"d_{f.__name__}", args)
    want = steady(sg.value_and_grad(f), *args)
    assert same(got, want), (got, want)


def test_a_closure_reads_its_variable_when_the_export_runs(tmp_path):
    """The nested ``def`` reads ``k``, an argument: the export made for ``k = 0.5`` gives the
    derivative for ``k = 2.0`` too (nothing of the exported call is baked in)."""
    params, x = v.dict_args()
    text = sg.export(v.scaled_loss, params, x, 0.5)
    got = isolated(tmp_path, text, "d_scaled_loss", (params, x, 2.0))
    assert same(got, steady(sg.value_and_grad(v.scaled_loss), params, x, 2.0))


def test_layer_gradients_are_right(tmp_path):
    """The export's numbers are the derivative: central differences of the loss."""
    layers, x = v.layers_args()
    text = sg.export(v.layers_loss, layers, x)
    value, grads = isolated(tmp_path, text, "d_layers_loss", (layers, x))
    assert value == v.layers_loss(layers, x)
    e = 1e-6
    for k, layer in enumerate(layers):
        for field in ("W", "b"):
            a = getattr(layer, field)
            for index in np.ndindex(a.shape):
                a[index] += e
                plus = v.layers_loss(layers, x)
                a[index] -= 2 * e
                minus = v.layers_loss(layers, x)
                a[index] += e
                fd = (plus - minus) / (2 * e)
                assert abs(getattr(grads[k], field)[index] - fd) < 1e-6 * max(1.0, abs(fd))


def _vector(x, rng):
    return {k: rng.standard_normal(a.shape) for k, a in x.items()}


HIGHER = {
    "helper": (c.helper_loss, c.helper_args),
    "two helpers, a dict of parameters": (v.autoencoder_loss, v.autoencoder_args),
    "a helper calling a helper": (v.nested_loss, v.nested_args),
}


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("case", list(HIGHER))
def test_a_helpers_derivative_exports_at_every_order(case, order, tmp_path):
    f, make = HIGHER[case]
    args = make()
    vec = _vector(args[0], np.random.default_rng(order))
    text = sg.export(f, *args, order=order)
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    levels = tower(f, (), [0] * (order - 1), (0,))
    for _ in range(3):
        want = levels.evaluate(args, (vec,) * (order - 1))
    assert same(got, want), (got, want)
    if order == 2:
        assert same(got, steady(sg.hvp(f), *args, vec))


@pytest.mark.parametrize("case", list(HIGHER))
def test_the_third_derivative_through_a_helper_is_right(case):
    """The tower through a helper's vjp at order 3 (forward mode over forward mode over the
    vjp, a tuple of tangents among its arguments) against central differences of the HVP."""
    f, make = HIGHER[case]
    params, x = make()
    vec = _vector(params, np.random.default_rng(7))
    levels = tower(f, (), [0, 0], (0,))
    hv, e = sg.hvp(f), 1e-4
    plus = hv({k: params[k] + e * vec[k] for k in params}, x, vec)
    minus = hv({k: params[k] - e * vec[k] for k in params}, x, vec)
    for _ in range(3):  # first and later calls
        got = levels.evaluate((params, x), (vec, vec))
        for k in params:
            fd = (plus[k] - minus[k]) / (2 * e)
            assert np.linalg.norm(got[k] - fd) <= 1e-5 * max(np.linalg.norm(fd), 1.0)


def _like(x, rng):
    """Random values of ``x``'s structure and shapes (a layer object's fields too)."""
    if dataclasses.is_dataclass(x):
        fields = {f.name: _like(getattr(x, f.name), rng) for f in dataclasses.fields(x)}
        return dataclasses.replace(x, **fields)
    if isinstance(x, dict):
        return {k: _like(a, rng) for k, a in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_like(a, rng) for a in x)
    if isinstance(x, float):
        return 0.75
    return rng.standard_normal(x.shape)


@pytest.mark.parametrize("case", list(FIRST_ORDER))
def test_forward_mode_through_function_values_exports_bit_for_bit(case, tmp_path):
    """``mode="forward"``: the module's own ``jvp_of`` runs the jvp builds of the lambda,
    nested def or layer object that ``sg.jvp`` ran."""
    f, make = FIRST_ORDER[case]
    args = make()
    tangent = _like(args[0], np.random.default_rng(1))
    text = sg.export(f, *args, mode="forward")
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, tangent))
    assert same(got, steady(sg.jvp(f), *args, tangent)), got


#: order 3 through each (a method of layer objects too: its receiver's tangent is the object's)
ORDER_3 = list(FIRST_ORDER)


@pytest.mark.parametrize(
    "case, order",
    [(k, 2) for k in FIRST_ORDER]
    + [(k, 3) for k in ORDER_3]
    + [("lambda activation", 4), ("nested def reading an argument", 4)]
    + [("a lambda called by keyword", 2)],
)
def test_higher_orders_through_function_values_export_bit_for_bit(case, order, tmp_path):
    """Order 2 and 3 of a function calling function values: forward mode over their vjps
    (``VALUE_JVPS``) and their jvps, as the in-process tower runs them."""
    f, make = {**FIRST_ORDER, **DEFAULTS}[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(order))
    text = sg.export(f, *args, order=order)
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    levels = tower(f, (), [0] * (order - 1), (0,))
    for _ in range(3):
        want = levels.evaluate(args, (vec,) * (order - 1))
    assert same(got, want), (got, want)
    if order == 2:
        assert same(got, steady(sg.hvp(f), *args, vec))


def test_the_exported_hvp_through_layer_objects_is_right(tmp_path):
    """The exported Hessian-vector product through a list of layer objects against central
    differences of the gradient along v."""
    layers, x = v.layers_args()
    vec = _like(layers, np.random.default_rng(3))
    text = sg.export(v.layers_loss, layers, x, order=2)
    got = isolated(tmp_path, text, "d_layers_loss", (layers, x, vec))
    e, df = 1e-5, sg.grad(v.layers_loss)

    def moved(s):
        return [v.Dense(a.W + s * t.W, a.b + s * t.b) for a, t in zip(layers, vec)]

    plus, minus = df(moved(e), x), df(moved(-e), x)
    for k in range(len(layers)):
        for name in ("W", "b"):
            fd = (getattr(plus[k], name) - getattr(minus[k], name)) / (2 * e)
            err = np.linalg.norm(getattr(got[k], name) - fd)
            assert err <= 1e-6 * max(1.0, np.linalg.norm(fd)), (k, name, err)


def cube(z):
    return np.sum(z**3)


D_CUBE = sg.grad(cube)


def penalty(x):
    return np.sum(D_CUBE(x) ** 2)


def penalty_made_inside(x):
    d = sg.grad(cube)
    return np.sum(d(x) ** 2)


def test_a_gradient_made_outside_the_function_exports_bit_for_bit(tmp_path):
    """The function calls a gradient sourcegrad made before (a global): the export writes
    that gradient and binds the global to it (tests/test_export_inner_modes.py)."""
    x = np.arange(3.0)
    assert np.isfinite(sg.grad(penalty)(x)).all()  # differentiated in process
    text = sg.export(penalty, x)
    assert "D_CUBE = grad_cube" in text
    alone = run_isolated(tmp_path, text, "d_penalty", (x,))
    assert same(alone, steady(sg.value_and_grad(penalty), x))


def test_a_gradient_taken_inside_the_function_exports_bit_for_bit(tmp_path):
    """A gradient penalty taken with ``sg.grad`` while the function runs: the export's
    stand-in for ``sg`` hands out the exported gradient, and its vjp is written
    (tests/test_export_inner_grad.py)."""
    x = np.arange(3.0)
    text = sg.export(penalty_made_inside, x)
    alone = run_isolated(tmp_path, text, "d_penalty_made_inside", (x,))
    assert same(alone, steady(sg.value_and_grad(penalty_made_inside), x))


@DEFAULT_TIERS
def test_an_export_through_a_lambda_at_order_2_matches_golden():
    """The lambda's vjp and jvp builds, forward mode over its vjp, and the export's own
    ``vjp_of`` / ``jvp_of`` picking them (``tests/golden/lambda_loss.order2.export.py``)."""
    text = sg.export(v.lambda_loss, *v.dict_args(), order=2)
    text = text.replace(v.__file__, "tests/export_value_cases.py")
    check_golden(text, GOLDEN / "lambda_loss.order2.export.py")


#: function values with defaults, keyword-only parameters, keyword arguments
DEFAULTS = {
    "a lambda with a default": (v.default_loss, v.dict_args),
    "lambdas with their own defaults": (v.defaults_in_a_loop_loss, v.dict_args),
    "a lambda called by keyword": (v.keyword_loss, v.dict_args),
    "a layer with a keyword-only default": (v.train_loss, v.train_args),
    "a module-level function with a default, as a function value": (
        v.value_default_loss,
        v.dict_args,
    ),
}


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("case", list(DEFAULTS))
def test_function_values_with_defaults_export_bit_for_bit(case, mode, tmp_path):
    """Each function value runs with its own defaults (read from it when the export runs:
    two lambdas of one line with different defaults share a build), as in process."""
    f, make = DEFAULTS[case]
    args = make()
    text = sg.export(f, *args, mode=mode)
    if mode == "reverse":
        got = isolated(tmp_path, text, f"d_{f.__name__}", args)
        want = steady(sg.value_and_grad(f), *args)
    else:
        tangent = _like(args[0], np.random.default_rng(1))
        got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, tangent))
        want = steady(sg.jvp(f), *args, tangent)
    assert same(got, want), (got, want)


def test_lambdas_with_defaults_have_the_right_gradient():
    """Central differences: the second lambda's default (2.0), not the first's, is used."""
    params, x = v.dict_args()
    grads = steady(sg.grad(v.defaults_in_a_loop_loss), params, x)
    e, W = 1e-6, params["W"]
    for index in np.ndindex(W.shape):
        W[index] += e
        plus = v.defaults_in_a_loop_loss(params, x)
        W[index] -= 2 * e
        minus = v.defaults_in_a_loop_loss(params, x)
        W[index] += e
        fd = (plus - minus) / (2 * e)
        assert abs(grads["W"][index] - fd) < 1e-6 * max(1.0, abs(fd))


#: function values taking *args or **kwargs: the export binds a call to the packed form
#: (*args one tuple, **kwargs one dict) as sourcegrad does, and runs its builds
STAR_ARGS = {
    "a layer whose __call__ takes *hs": (v.pair_loss, v.pair_args),
    "a nested def taking *zs": (v.star_loss, v.dict_args),
    "loss(params, *batch) as a function value": (v.batch_step_loss, v.batch_args),
    "a helper taking *zs and **options, called by keyword": (v.options_loss, v.dict_args),
    "a lambda taking *zs, calling a helper with **options": (
        v.lambda_instead_of_partial_loss,
        v.dict_args,
    ),
}


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("case", list(STAR_ARGS))
def test_function_values_taking_star_args_export_bit_for_bit(case, mode, tmp_path):
    f, make = STAR_ARGS[case]
    args = make()
    text = sg.export(f, *args, mode=mode)
    if mode == "reverse":
        got = isolated(tmp_path, text, f"d_{f.__name__}", args)
        want = steady(sg.value_and_grad(f), *args)
    else:
        tangent = _like(args[0], np.random.default_rng(1))
        got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, tangent))
        want = steady(sg.jvp(f), *args, tangent)
    assert same(got, want), (got, want)


@pytest.mark.parametrize("case", list(STAR_ARGS))
def test_order_2_through_function_values_taking_star_args_exports_bit_for_bit(case, tmp_path):
    f, make = STAR_ARGS[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(2))
    text = sg.export(f, *args, order=2)
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    assert same(got, steady(sg.hvp(f), *args, vec)), got


def _central(f, args, e=1e-6):
    """Central differences of ``f`` along each element of ``args[0]`` (a list of objects
    with a ``W``, or a dict of arrays)."""
    first = args[0]
    arrays = [layer.W for layer in first] if isinstance(first, list) else list(first.values())
    out = []
    for a in arrays:
        fd = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            a[index] += e
            plus = f(*args)
            a[index] -= 2 * e
            minus = f(*args)
            a[index] += e
            fd[index] = (plus - minus) / (2 * e)
        out.append(fd)
    return out


@pytest.mark.parametrize("case", list(STAR_ARGS))
def test_gradients_through_star_args_are_right(case):
    """Calls 1 to 3 against central differences (first and later builds)."""
    f, make = STAR_ARGS[case]
    args = make()
    fds = _central(f, args)
    df = sg.grad(f)
    for _ in range(3):
        grads = df(*args)
        parts = [g.W for g in grads] if isinstance(grads, list) else list(grads.values())
        for got, fd in zip(parts, fds):
            assert np.linalg.norm(got - fd) <= 1e-6 * max(1.0, np.linalg.norm(fd))


def test_a_partial_called_as_a_function_value_is_refused_with_the_way_out():
    with pytest.raises(sg.SourcegradError, match=r"functools.partial of gated.*lambda"):
        sg.export(v.partial_loss, *v.dict_args())


#: calls that leave a default out at order 2 and up: the value's own defaults, filled in by
#: position when the export runs, as the in-process tower fills them in
LEFT_OUT_DEFAULTS = {
    "a lambda with a default": v.default_loss,
    "a module-level function with a default, called by name": v.helper_default_loss,
    "a module-level function with a default, as a function value": v.value_default_loss,
}


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("case", list(LEFT_OUT_DEFAULTS))
def test_higher_orders_through_defaults_left_out_export_bit_for_bit(case, order, tmp_path):
    f = LEFT_OUT_DEFAULTS[case]
    args = v.dict_args()
    vec = _like(args[0], np.random.default_rng(order))
    text = sg.export(f, *args, order=order)
    got = isolated(tmp_path, text, f"d_{f.__name__}", (*args, vec))
    levels = tower(f, (), [0] * (order - 1), (0,))
    for _ in range(3):
        want = levels.evaluate(args, (vec,) * (order - 1))
    assert same(got, want), (got, want)
    if order == 2:
        assert same(got, steady(sg.hvp(f), *args, vec))


@pytest.mark.parametrize("case", list(LEFT_OUT_DEFAULTS))
def test_the_hvp_through_defaults_left_out_is_right(case):
    """The Hessian-vector product (calls 1 to 3) against central differences of the
    gradient along v: the default (not zero, not another value) is the one used."""
    f = LEFT_OUT_DEFAULTS[case]
    params, x = v.dict_args()
    vec = _like(params, np.random.default_rng(2))
    df, hv, e = sg.grad(f), sg.hvp(f), 1e-5
    plus = df({k: params[k] + e * vec[k] for k in params}, x)
    minus = df({k: params[k] - e * vec[k] for k in params}, x)
    for _ in range(3):
        got = hv(params, x, vec)
        for k in params:
            fd = (plus[k] - minus[k]) / (2 * e)
            assert np.linalg.norm(got[k] - fd) <= 1e-6 * max(np.linalg.norm(fd), 1.0), k


def test_order_2_through_a_keyword_only_default_exports_bit_for_bit(tmp_path):
    """A layer whose ``__call__`` has a keyword-only default: the export fills it in, as
    sourcegrad does (more cases: tests/test_export_kwonly.py)."""
    args = v.train_args()
    vec = _like(args[0], np.random.default_rng(2))
    text = sg.export(v.train_loss, *args, order=2)
    got = isolated(tmp_path, text, "d_train_loss", (*args, vec))
    assert same(got, steady(sg.hvp(v.train_loss), *args, vec))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_layer_objects_held_in_a_global_export_bit_for_bit(mode, tmp_path):
    """``LAYERS = [Dense(...), ...]`` read by the loss: the export copies the class (its
    ``@dataclass`` imported) and writes each object as its fields (``restored(Dense, {...})``)."""
    (x,) = v.global_layers_args()
    text = sg.export(v.global_layers_loss, x, mode=mode)
    assert "restored(\n        Dense," in text and "class Dense:" in text
    if mode == "reverse":
        got = isolated(tmp_path, text, "d_global_layers_loss", (x,))
        want = steady(sg.value_and_grad(v.global_layers_loss), x)
    else:
        t = np.random.default_rng(1).standard_normal(x.shape)
        got = isolated(tmp_path, text, "d_global_layers_loss", (x, t))
        want = steady(sg.jvp(v.global_layers_loss), x, t)
    assert same(got, want), (got, want)


def test_layer_objects_held_in_a_global_export_at_order_2_bit_for_bit(tmp_path):
    (x,) = v.global_layers_args()
    vec = np.random.default_rng(2).standard_normal(x.shape)
    text = sg.export(v.global_layers_loss, x, order=2)
    got = isolated(tmp_path, text, "d_global_layers_loss", (x, vec))
    assert same(got, steady(sg.hvp(v.global_layers_loss), x, vec))


def test_the_gradient_through_layer_objects_in_a_global_is_right():
    """Calls 1 to 3 against central differences; the export is stale once the class changes
    its source (its digest covers the class)."""
    (x,) = v.global_layers_args()
    df, e = sg.grad(v.global_layers_loss), 1e-6
    for _ in range(3):
        grad = df(x)
        for index in np.ndindex(x.shape):
            x[index] += e
            plus = v.global_layers_loss(x)
            x[index] -= 2 * e
            minus = v.global_layers_loss(x)
            x[index] += e
            fd = (plus - minus) / (2 * e)
            assert abs(grad[index] - fd) < 1e-6 * max(1.0, abs(fd))
    text = sg.export(v.global_layers_loss, x)
    assert "of global_layers_loss, Dense" in text


@pytest.mark.parametrize("options", [{}, {"mode": "forward"}, {"order": 2}])
def test_an_object_an_export_cannot_write_is_refused_at_the_line_reading_it(options):
    """A layer keeping its fields in ``__slots__``: refused at the loss's line reading the
    global, saying why and the way out (the layers as an argument)."""
    (x,) = v.global_layers_args(seed=1)
    x = x[:, :3]
    assert np.isfinite(sg.grad(v.slotted_loss)(x)).all()  # differentiated in process
    line = v.slotted_loss.__code__.co_firstlineno + 2
    where = rf"export_value_cases.py:{line}: slotted_loss reads the global 'SLOTTED'"
    with pytest.raises(sg.SourcegradError, match=where + r".*__slots__.*as an argument"):
        sg.export(v.slotted_loss, x, **options)


def cube_method_of(z, p=3.0):
    return np.sum(z**p)


def penalty_of_defaults(x):
    return np.sum(sg.grad(cube_method_of)(x) ** 2)


D_CUBE_OF_DEFAULTS = sg.grad(cube_method_of)


def penalty_of_defaults_global(x):
    return np.sum(D_CUBE_OF_DEFAULTS(x) ** 2)


@pytest.mark.parametrize("f", [penalty_of_defaults_global, penalty_of_defaults])
def test_an_inner_gradient_with_defaults_exports_at_order_2(f, tmp_path):
    """An inner gradient of a function with defaults, taken inside or made before (forward
    mode over it and its vjp fill in the default; every order: tests/test_inner_grad_defaults.py),
    gives ``sg.hvp``'s numbers bit for bit; the Hessian-vector product agrees with central
    differences of the gradient."""
    x, t, e = np.arange(3.0), np.array([0.5, -1.0, 0.25]), 1e-5
    fd = (sg.grad(f)(x + e * t) - sg.grad(f)(x - e * t)) / (2 * e)
    np.testing.assert_allclose(steady(sg.hvp(f), x, t), fd, rtol=1e-5, atol=1e-6)
    got = run_isolated(tmp_path, sg.export(f, x, order=2), f"d_{f.__name__}", (x, t))
    assert same(got, steady(sg.hvp(f), x, t)), got


def _moved(x, v, e):
    """``x + e * v`` for a list of layer objects or a dict of arrays."""
    if isinstance(x, dict):
        return {k: x[k] + e * v[k] for k in x}
    return [dataclasses.replace(a, W=a.W + e * t.W, b=a.b + e * t.b) for a, t in zip(x, v)]


def _parts(x) -> list:
    if isinstance(x, dict):
        return list(x.values())
    return [p for a in x for p in (a.W, a.b)]


@pytest.mark.parametrize("case", ["layer objects in a loop", "NumPy functions from a dict"])
def test_the_third_derivative_through_a_layer_object_is_right(case):
    """Forward mode over forward mode over a layer object's vjp (calls 1 to 3) against
    central differences of the Hessian-vector product along v."""
    f, make = FIRST_ORDER[case]
    args = make()
    vec = _like(args[0], np.random.default_rng(5))
    levels, hv, e = tower(f, (), [0, 0], (0,)), sg.hvp(f), 1e-4
    plus = hv(_moved(args[0], vec, e), *args[1:], vec)
    minus = hv(_moved(args[0], vec, -e), *args[1:], vec)
    for _ in range(3):
        got = levels.evaluate(args, (vec, vec))
        for a, p, m in zip(_parts(got), _parts(plus), _parts(minus)):
            fd = (p - m) / (2 * e)
            assert np.linalg.norm(a - fd) <= 1e-5 * max(np.linalg.norm(fd), 1.0)


def test_the_hvp_through_a_method_of_layers_in_a_loop_is_right():
    layers, x = v.method_args()
    rng = np.random.default_rng(5)
    vec = [dataclasses.replace(a, W=rng.standard_normal(a.W.shape), k=0.0) for a in layers]
    g, e = sg.grad(v.method_loss), 1e-5

    def moved(s):
        return [dataclasses.replace(a, W=a.W + s * t.W) for a, t in zip(layers, vec)]

    plus, minus = g(moved(e), x), g(moved(-e), x)
    got = sg.hvp(v.method_loss)(layers, x, vec)
    for k in range(len(layers)):
        fd = (plus[k].W - minus[k].W) / (2 * e)
        assert np.linalg.norm(got[k].W - fd) <= 1e-6 * max(1.0, np.linalg.norm(fd))


def test_order_4_through_a_layer_object_is_refused_at_the_users_call():
    """Forward mode three times over a layer's vjp is not built: refused at the line that
    calls the layer (``h = layer(h)``), with the way out (order 3 or less)."""
    f, make = FIRST_ORDER["layer objects in a loop"]
    args = make()
    levels = tower(f, (), [0, 0, 0], (0,))
    with pytest.raises(sg.SourcegradError, match="order 4 or more through a layer") as e:
        levels.evaluate(args, (args[0],) * 3)
    assert "take order 3 or less" in e.value.reason
    lines, first = inspect.getsourcelines(f)
    call = first + next(i for i, line in enumerate(lines) if "layer(h)" in line)
    assert (e.value.filename, e.value.lineno) == (v.__file__, call)


@pytest.mark.parametrize("options", [["--mode", "forward"], ["--order", "2"]])
def test_cli_exports_forward_mode_and_order_2_through_a_lambda(options, tmp_path):
    out = tmp_path / "d_lambda_loss.py"
    target = f"{v.__file__}:lambda_loss"
    assert cli.main(["export", target, "--args", "dict_args()", "-o", str(out), *options]) == 0
    args = v.dict_args()
    tangent = _like(args[0], np.random.default_rng(1))
    got = isolated(tmp_path, out.read_text(), "d_lambda_loss", (*args, tangent))
    if options[0] == "--mode":
        want = steady(sg.jvp(v.lambda_loss), *args, tangent)
    else:
        want = steady(sg.hvp(v.lambda_loss), *args, tangent)
    assert same(got, want), (got, want)
