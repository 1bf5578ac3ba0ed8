"""A helper that changes an argument in place (``a -= a.mean(0)``, ``a[0] = 0``, ``p["W"] =
...``, ``hs.append(h)``): the derivative calls the helper for its value but its adjoint still
reads the argument as it was, so the call gets a copy (of an array; of a differentiated list or
dict too, one level; both were wrong gradients or a crash). A caller reading the argument after
such a call has the helper inlined (tests/test_helper_argument_writes_followed.py); a function
value known only when the derivative runs (a layer from a list) is refused then."""

import importlib.util

import numpy as np
import pytest

import sourcegrad as sg
from tests.ported.harness import Case, check, check_refusal, marked_line, params

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
    layers[0](x)  # REFUSED
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


def test_a_layer_from_a_list_writing_the_callers_data_is_refused():
    """A layer known only when the derivative runs writes into the caller's array (an
    argument of the function): Python changes the caller's object, which the derivative,
    following values, would leave as it was; refused when it runs, at the call's line."""
    args = (r(4, 3), r(4, 3), [zero_row])
    check_refusal(data_through_layers, args, sg.SourcegradError, "return the new value")
    x = args[1].copy()
    with pytest.raises(sg.SourcegradError):
        sg.jvp(data_through_layers)(args[0], x, [zero_row], r(4, 3))
    np.testing.assert_array_equal(x, args[1])  # (refused before anything is written)


class Scaled:
    def __init__(self, a):
        self.a = a

    def __call__(self, h):
        h *= self.a
        return np.sum(np.sin(h))

    def forward(self, h):
        h[0] = 5.0
        return np.sum(np.sin(h))


SCALED = Scaled(2.0)


class Outer:
    def __init__(self):
        self.inner = Scaled(2.0)

    def __call__(self, h):
        return self.inner(h)  # REFUSED


OUTER = Outer()


def through_a_global_object(x):
    return SCALED(x) * 3.0  # REFUSED


def through_a_global_objects_method(x):
    return SCALED.forward(x) * 3.0  # REFUSED


def through_an_object_argument(x, layer):
    return layer(x) * 3.0  # REFUSED


def through_an_object_holding_a_layer(x):
    return OUTER(x) * 3.0


def through_a_lambda(x):
    h = lambda z: SCALED(z)  # noqa: E731  # REFUSED
    return h(x)


@pytest.mark.parametrize("make", [sg.grad, sg.hvp, sg.jvp], ids=["grad", "hvp", "jvp"])
@pytest.mark.parametrize(
    "f, extra",
    [
        (through_a_global_object, ()),
        (through_a_global_objects_method, ()),
        (through_an_object_argument, (Scaled(2.0),)),
        (through_a_lambda, ()),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_an_object_writing_into_the_callers_array_is_refused(f, extra, make):
    """Python's call changes the caller's array through the object's method; the derivative
    follows values and could not leave it so: refused at the user's line, in every mode."""
    args = (np.array([0.1, 0.2, 0.3]), *extra)
    if make is sg.grad:
        check_refusal(f, args, sg.SourcegradError, "return the new value")
        return
    x = args[0].copy()
    with pytest.raises(sg.SourcegradError) as info:
        make(f)(x, *extra, np.ones(3))
    assert str(info.value).startswith(f"{__file__}:{marked_line(f)}: ")
    np.testing.assert_array_equal(x, args[0])


def test_an_object_holding_a_writing_layer_is_refused_in_its_method():
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(through_an_object_holding_a_layer)(np.array([0.1, 0.2, 0.3]))
    assert str(info.value).startswith(f"{__file__}:{marked_line(Outer.__call__)}: ")


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
    when the derivative runs and finds that the layer writes into it (layers of two kinds:
    no one class to inline the call of). Layers of one class are inlined, and the write
    into `h` while `h2`, bound to it on the loop's last turn, shares it is the alias
    check's refusal, as written inline."""
    args = (r(4, 3), r(4, 3), [Norm(), center])
    check_refusal(read_after_a_layer, args, sg.SourcegradError, "return the new value")
    args = (r(4, 3), r(4, 3), [Norm()])
    check_refusal(read_after_a_layer, args, sg.SourcegradError, "explicit copy")


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
