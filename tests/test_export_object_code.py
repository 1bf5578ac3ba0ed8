"""Export derivatives that run the code of the user's objects (``tests/export_object_cases.py``):
a property's getter and a ``functools.cached_property``'s function read on an object built in
the function (keyed in the export by its copy of the class), a generator method of an argument
object called on it and through its class, an argument object iterated and indexed through its
own methods (the export copies the argument's class and takes the caller's objects of it, or
those of its copy, for records), a classmethod's ``cls(...)`` (a call of the export's copy of
the class). Each exported gradient gives ``sg.value_and_grad``'s value and gradient bit for bit
on three calls, agrees with central differences, and runs by ``python -I -S`` with only NumPy;
forward mode and order 2 give ``sg.jvp``'s and ``sg.hvp``'s numbers."""

import copy
import importlib.util
import shutil

import numpy as np
import pytest

import sourcegrad as sg

from . import export_object_cases as u
from .ported.harness import assert_tree_close, leaves, numerical
from .test_export import run_isolated

IDS = list(u.CASES)


def _exported(text: str, tmp_path, name: str):
    """The module of the export ``text``, imported from ``tmp_path``."""
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _identical(got, want, what):
    """The same structure and leaves bit for bit."""
    assert type(got) is type(want), what
    got_leaves, want_leaves = leaves(got), leaves(want)
    assert len(got_leaves) == len(want_leaves), what
    for a, b in zip(got_leaves, want_leaves):
        np.testing.assert_array_equal(a, b, err_msg=what)


def _tangent(x, rng):
    """A random value shaped like ``x`` (an object's array fields, a list's items)."""
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    if isinstance(x, list):
        return [_tangent(v, rng) for v in x]
    out = copy.copy(x)
    vars(out).update({k: _tangent(v, rng) for k, v in vars(x).items()})
    return out


@pytest.mark.parametrize("case", IDS)
def test_the_exported_gradient_is_sg_grads_and_agrees_with_finite_differences(case, tmp_path):
    f, make = u.CASES[case]
    args = make()
    text = sg.export(f, *args)
    assert "import sourcegrad" not in text
    module = _exported(text, tmp_path, "exported_reverse")
    d, reference = getattr(module, f"d_{f.__name__}"), sg.value_and_grad(f)
    fd = numerical(f, args, 0)
    for call in range(3):
        value, grad = d(*args)
        want_value, want_grad = reference(*args)
        assert value == want_value == f(*args), (call, value, want_value)
        _identical(grad, want_grad, f"call {call}")
        assert_tree_close(grad, fd, 1e-6, 1e-7, f"call {call} against central differences")


@pytest.mark.parametrize("case", IDS)
def test_the_exported_gradient_runs_with_only_numpy(case, tmp_path):
    f, make = u.CASES[case]
    args = make()
    text = sg.export(f, *args)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    shutil.copy(u.__file__, tmp_path / "tests" / "export_object_cases.py")  # args are pickled
    value, grad = run_isolated(tmp_path, text, f"d_{f.__name__}", args)
    want_value, want_grad = sg.value_and_grad(f)(*args)
    assert value == want_value
    _identical(grad, want_grad, case)


@pytest.mark.parametrize("case", [c for c in IDS if "argument" in c])
def test_objects_made_with_the_exports_own_class_are_taken_the_same(case, tmp_path):
    f, make = u.CASES[case]
    args = make()
    module = _exported(sg.export(f, *args), tmp_path, "exported_own_class")
    cls = getattr(module, type(args[0]).__name__)
    assert cls is not type(args[0])
    theirs = cls(list(vars(args[0]).values())[0])
    for _ in range(3):
        value, grad = getattr(module, f"d_{f.__name__}")(theirs, *args[1:])
        want_value, want_grad = sg.value_and_grad(f)(*args)
        assert value == want_value
        assert type(grad) is cls
        assert all(
            np.array_equal(a, b) for a, b in zip(grad.__dict__.values(), vars(want_grad).values())
        )


@pytest.mark.parametrize("mode", ["forward", "order 2"])
@pytest.mark.parametrize("case", IDS)
def test_forward_mode_and_order_2_export_too(case, mode, tmp_path):
    f, make = u.CASES[case]
    args = make()
    t = _tangent(args[0], np.random.default_rng(5))
    if mode == "forward":
        text, reference = sg.export(f, *args, mode="forward"), sg.jvp(f)
    else:
        text, reference = sg.export(f, *args, order=2), sg.hvp(f)
    d = getattr(_exported(text, tmp_path, "exported_" + mode.replace(" ", "_")), f"d_{f.__name__}")
    for call in range(3):
        got, want = d(*args, t), reference(*args, t)
        for g, w in zip(leaves([got]), leaves([want]), strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"call {call}")


def test_a_class_without_a_class_statement_called_as_a_value_is_refused_at_export_time():
    f = u.a_namedtuple_made_by_a_call
    args = u.softmax_args()
    sg.grad(f)(*args)  # differentiated in process
    with pytest.raises(sg.SourcegradError, match=r"class Made\(NamedTuple\)") as info:
        sg.export(f, *args)
    # function values are resolved after the run: the refusal names the function's line
    assert (info.value.filename, info.value.lineno) == (u.__file__, f.__code__.co_firstlineno)
