"""A helper that changes an argument in place (``a -= a.mean(0)``, ``a[0] = 0``, ``p["W"] =
...``, ``hs.append(h)``): the derivative calls the helper for its value but its adjoint still
reads the argument as it was, so the call gets a copy (of an array; of a differentiated list or
dict too, one level; both were wrong gradients or a crash); a caller reading the argument after
such a call is refused, since Python would show it changed (``h = center(h)`` is fine)."""

import importlib.util

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, check_refusal, params

R = np.random.default_rng(34)


def r(*s):
    return R.standard_normal(s)


def center(a):
    a -= a.mean(axis=0)
    return a


def scale_in_place(a, s):
    a *= s
    return a


def zero_row(a):
    a[0] = 0.0


def normalize_assign(w, x):
    h = np.tanh(x * w)
    h = center(h)
    return np.sum(h**3)


def scale_assign(w, x):
    h = np.sin(x @ w)
    h = scale_in_place(h, 2.0)
    return np.sum(h * h)


def constant_written_after_use(w, x):
    y = np.sum(np.sin(x * w))
    # (a helper's write into the function's own argument: not written back, refused)
    zero_row(x)  # REFUSED
    return y


def helper_in_loop(w, x):
    h = x
    for _ in range(3):
        h = np.tanh(h * w)
        h = center(h)
    return np.sum(h**2)


class Norm:
    def __call__(self, a):
        a -= a.mean(axis=0)
        return a


NORM = Norm()


def method_assign(w, x):
    h = np.tanh(x * w)
    h = NORM(h)
    return np.sum(h**3)


def layers_in_a_list(w, x, layers):
    h = np.tanh(x * w)
    for layer in layers:
        h = layer(h)
    return np.sum(h**3)


def data_through_layers(w, x, layers):
    y = np.sum(np.sin(x * w))
    layers[0](x)
    return y


def read_after_a_layer(w, x, layers):
    h = np.tanh(x * w)
    for layer in layers:
        h2 = layer(h)  # REFUSED
    return np.sum(h**3) + np.sum(h2)


def test_a_layer_from_a_list_writing_its_argument():
    """A layer object found only when the derivative runs (an item of a list; a plain function
    too) is called with a copy of the argument it writes into, asked of its source then: its
    in-place write does not reach the adjoint, in every mode."""
    check(Case("layers_in_a_list", layers_in_a_list, (r(4, 3), r(4, 3), [Norm(), Norm()]), order=2))
    check(Case("functions_in_a_list", layers_in_a_list, (r(4, 3), r(4, 3), [center, center])))
    w, x, v = r(4, 3), r(4, 3), r(4, 3)
    value, tangent = sg.jvp(layers_in_a_list)(w, x, [Norm()], v)
    assert value == layers_in_a_list(w, x.copy(), [Norm()])
    assert np.allclose(tangent, np.sum(sg.grad(layers_in_a_list)(w, x, [Norm()]) * v))


def test_a_layer_from_a_list_writing_data_the_adjoint_reads():
    """A constant written by a layer known only when the derivative runs: Python's value,
    and the adjoint reads the data as it was."""
    check(Case("data_through_layers", data_through_layers, (r(4, 3), r(4, 3), [zero_row])))


def read_after(w, x):
    h = np.tanh(x * w)
    center(h)  # REFUSED
    return np.sum(h**3)


def data_read_after(w, x):
    center(x)  # REFUSED
    return np.sum((x * w) ** 2)


def step(p, g):
    p["W"] = p["W"] - 0.1 * g
    return p


def dict_updated_by_a_helper(params, x):
    p = dict(params)
    for _ in range(2):
        g = np.tanh(x @ p["W"])
        p = step(p, x.T @ g)
    return np.sum(np.tanh(x @ p["W"]) ** 2)


def push(hs, h):
    hs.append(h)
    return hs


def list_grown_by_a_helper(w, x):
    hs = [x]
    for _ in range(3):
        hs = push(hs, np.tanh(hs[-1] @ w))
    return sum(np.sum(h**2) for h in hs)


CASES = [
    Case("dict_updated_by_a_helper", dict_updated_by_a_helper, ({"W": r(3, 3)}, r(4, 3)), order=2),
    Case("list_grown_by_a_helper", list_grown_by_a_helper, (0.5 * r(3, 3), r(4, 3)), order=2),
    Case("normalize_assign", normalize_assign, (r(4, 3), r(4, 3)), order=2),
    Case("scale_assign", scale_assign, (r(3, 2), r(4, 3)), order=2),
    Case(
        "constant_written_after_use",
        constant_written_after_use,
        (r(4, 3), r(4, 3)),
        refused=(sg.SourcegradError, "x = zero_row(...)"),
    ),
    Case("helper_in_loop", helper_in_loop, (r(4, 3), r(4, 3)), order=2),
    Case("method_assign", method_assign, (r(4, 3), r(4, 3)), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_helper_writing_its_argument(case):
    check(case)


@pytest.mark.parametrize("f", [normalize_assign, helper_in_loop])
def test_forward_mode_agrees(f):
    w, x, v = r(4, 3), r(4, 3), r(4, 3)
    value, tangent = sg.jvp(f)(w, x, v)
    assert value == f(w, x.copy())
    assert np.allclose(tangent, np.sum(sg.grad(f)(w, x) * v), rtol=1e-10)


def test_a_layer_from_a_list_writing_what_is_read_after_is_refused():
    """Python would show the argument changed after the call: refused, at the user's line,
    when the derivative runs and finds that the layer writes into it."""
    args = (r(4, 3), r(4, 3), [Norm()])
    check_refusal(read_after_a_layer, args, sg.SourcegradError, "return the new value")


@pytest.mark.parametrize(
    "f, hint", [(read_after, "h = center(...)"), (data_read_after, "x = center(...)")]
)
def test_read_after_a_write_is_refused(f, hint):
    check_refusal(f, (r(4, 3), r(4, 3)), sg.SourcegradError, hint)


def test_an_export_copies_what_a_layer_from_a_list_writes_into(tmp_path):
    """The exported module asks its table of what each function value writes into, as
    sourcegrad does: the gradient is sourcegrad's, bit for bit, and the arguments unchanged."""
    w, x = r(4, 3), r(4, 3)
    path = tmp_path / "exported_layers.py"
    sg.export(layers_in_a_list, w, x, [Norm(), Norm()], path=str(path))
    spec = importlib.util.spec_from_file_location("exported_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kept = x.copy()
    value, grad = module.d_layers_in_a_list(w, x, [Norm(), Norm()])
    want_value, want = sg.value_and_grad(layers_in_a_list)(w, x, [Norm(), Norm()])
    assert value == want_value and np.array_equal(grad, want)
    assert np.array_equal(x, kept)
