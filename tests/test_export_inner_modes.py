"""Gradients taken while the exported function runs, in every mode an export writes: MAML's
inner ``sg.grad`` in forward mode and at order 2 (forward mode over the inner gradient, and
over its vjp), a gradient made before the function runs (a global ``D = sg.grad(f)``) and
``from sourcegrad import grad``. Each export runs by ``python -I -S`` with only NumPy and gives
``sg.jvp`` / ``sg.value_and_grad`` / ``sg.hvp``'s numbers bit for bit; the derivatives
themselves are checked against central differences (first and later calls), order 3 too. An
inner gradient of a function with defaults exports in reverse and forward mode."""

import inspect
import os
import shutil
import subprocess
import sys

import black
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import cli, grad
from sourcegrad.higher import tower
from tests.fd import numerical_grad
from tests.test_export import run_isolated, same, steady
from tests.test_export_inner_grad import full_args, maml, maml_tuple_wrt, maml_two_steps


def cube(z):
    return np.sum(z**3)


D_CUBE = sg.grad(cube)


def penalty_global(x):
    return np.sum(D_CUBE(x) ** 2) + np.sum(np.sin(x))


def penalty_imported(x):
    d = grad(cube)
    return np.sum(d(x) ** 2) + np.sum(np.sin(x))


def penalty_inside(x):
    return np.sum(sg.grad(cube)(x) ** 2) + np.sum(np.sin(x))


MAML = [maml, maml_two_steps, maml_tuple_wrt]
PENALTIES = [penalty_global, penalty_imported, penalty_inside]


def _direction(p, seed=5):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=a.shape) for k, a in p.items()}


def _moved(p, v, e):
    return {k: p[k] + e * v[k] for k in p}


@pytest.mark.parametrize("f", MAML)
def test_maml_in_forward_mode_exports_bit_for_bit(f, tmp_path):
    args = full_args()
    t = _direction(args[0])
    text = sg.export(f, *args, mode="forward")
    assert "import sourcegrad" not in text and "DERIVATIVE_JVPS[(grad_mse, 0)]" in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, t))
    assert same(got, steady(sg.jvp(f), *args, t)), got


@pytest.mark.parametrize("f", MAML)
def test_maml_at_order_2_exports_bit_for_bit(f, tmp_path):
    args = full_args()
    v = _direction(args[0])
    text = sg.export(f, *args, order=2)
    assert "import sourcegrad" not in text and "VALUE_JVPS[(vjp_grad_mse, (0, 3))]" in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, v))
    assert same(got, steady(sg.hvp(f), *args, v)), got


@pytest.mark.parametrize("f", MAML)
def test_the_maml_jvp_and_hvp_are_right_on_first_and_later_calls(f):
    """What the exports are compared with: the jvp against central differences of the
    loss, the Hessian-vector product against central differences of the gradient along v
    (a tuple wrt: the inner gradient a tuple of one, g_out's tangent taken apart)."""
    args = full_args()
    p, rest = args[0], args[1:]
    v, e = _direction(p), 1e-6
    fd = (f(_moved(p, v, e), *rest) - f(_moved(p, v, -e), *rest)) / (2 * e)
    df = sg.grad(f)
    plus, minus = df(_moved(p, v, 1e-5), *rest), df(_moved(p, v, -1e-5), *rest)
    jv, hv = sg.jvp(f), sg.hvp(f)
    for _ in range(3):
        value, tangent = jv(*args, v)
        assert value == f(*args)
        assert abs(tangent - fd) <= 1e-6 * max(1.0, abs(fd))
        got = hv(*args, v)
        for k in p:
            want = (plus[k] - minus[k]) / 2e-5
            np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-7)


def test_the_cli_exports_maml_in_forward_mode_and_at_order_2(tmp_path):
    args = full_args()
    v = _direction(args[0])
    target = f"{inspect.getsourcefile(maml)}:maml"
    for options, ref in ((["--mode", "forward"], sg.jvp(maml)), (["--order", "2"], sg.hvp(maml))):
        out = tmp_path / "d_maml.py"
        assert cli.main(["export", target, "--args", "full_args()", "-o", str(out), *options]) == 0
        got = run_isolated(tmp_path, out.read_text(), "d_maml", (*args, v))
        assert same(got, steady(ref, *args, v)), options


@pytest.mark.parametrize("f", PENALTIES)
@pytest.mark.parametrize("mode", ["reverse", "forward", "order 2"])
def test_gradients_made_before_or_imported_export_bit_for_bit(f, mode, tmp_path):
    """``D = sg.grad(cube)`` at module level becomes ``D = grad_cube`` in the export,
    ``from sourcegrad import grad`` the stand-in's ``grad``."""
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([0.5, -1.0, 0.25])
    if mode == "reverse":
        text, extra, ref = sg.export(f, x), (), sg.value_and_grad(f)
    elif mode == "forward":
        text, extra, ref = sg.export(f, x, mode="forward"), (v,), sg.jvp(f)
    else:
        text, extra, ref = sg.export(f, x, order=2), (v,), sg.hvp(f)
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (x, *extra))
    assert same(got, steady(ref, x, *extra)), got


@pytest.mark.parametrize("f", PENALTIES)
def test_the_penalties_are_right_on_first_and_later_calls(f):
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([0.5, -1.0, 0.25])
    g, hv = sg.grad(f), sg.hvp(f)
    for _ in range(3):
        np.testing.assert_allclose(g(x), numerical_grad(f, (x,), 0), rtol=1e-6, atol=1e-8)
        fd = (g(x + 1e-5 * v) - g(x - 1e-5 * v)) / 2e-5
        np.testing.assert_allclose(hv(x, v), fd, rtol=1e-5, atol=1e-7)


ORDER_3 = [*MAML, *PENALTIES]


@pytest.mark.parametrize("f", ORDER_3)
def test_order_3_through_an_inner_gradient_exports_bit_for_bit(f, tmp_path):
    """Forward mode twice over the inner gradient (and over its vjp): ``DERIVATIVE_JVPS`` and
    ``VALUE_JVPS`` hold each level, keyed by the one below."""
    if f in MAML:
        args, v = full_args(), _direction(full_args()[0])
    else:
        args, v = (np.array([0.3, -1.2, 2.0]),), np.array([0.5, -1.0, 0.25])
    text = sg.export(f, *args, order=3)
    got = run_isolated(tmp_path, text, f"d_{f.__name__}", (*args, v))
    levels = tower(f, (), [0, 0], (0,))
    for _ in range(3):
        want = levels.evaluate(args, (v, v))
    assert same(got, want), (got, want)


@pytest.mark.parametrize("f", PENALTIES)
def test_the_third_derivative_through_an_inner_gradient_is_right(f):
    """Against central differences of the Hessian-vector product along v (calls 1 to 3)."""
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([0.5, -1.0, 0.25])
    hv, e = sg.hvp(f), 1e-5
    fd = (hv(x + e * v, v) - hv(x - e * v, v)) / (2 * e)
    levels = tower(f, (), [0, 0], (0,))
    for _ in range(3):
        np.testing.assert_allclose(levels.evaluate((x,), (v, v)), fd, rtol=1e-5, atol=1e-6)


def cube_with_power(z, p=3.0):
    return np.sum(z**p)


def penalty_with_a_default(x):
    return np.sum(sg.grad(cube_with_power)(x) ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_an_inner_gradient_with_defaults_exports_bit_for_bit(mode, tmp_path):
    """The gradient of a function with defaults exports in reverse and forward mode, the
    default the call leaves out filled in (differentiated in process all the same)."""
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([0.5, -1.0, 0.25])
    np.testing.assert_allclose(
        sg.grad(penalty_with_a_default)(x),
        numerical_grad(penalty_with_a_default, (x,), 0),
        rtol=1e-6,
        atol=1e-8,
    )
    if mode == "reverse":
        text, extra, ref = sg.export(penalty_with_a_default, x), (), sg.value_and_grad
    else:
        text, extra, ref = sg.export(penalty_with_a_default, x, mode=mode), (v,), sg.jvp
    got = run_isolated(tmp_path, text, "d_penalty_with_a_default", (x, *extra))
    assert same(got, steady(ref(penalty_with_a_default), x, *extra))


def ruff_clean(text: str, tmp_path) -> None:
    """``text`` is black-formatted and passes ruff (E, F, W, I)."""
    assert black.format_str(text, mode=black.Mode(line_length=100)) == text
    ruff = shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))
    if ruff is None:
        pytest.skip("ruff is not installed")
    path = tmp_path / "exported.py"
    path.write_text(text)
    done = subprocess.run(
        [ruff, "check", "--isolated", "--select", "E,F,W,I", "--ignore", "E501", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    "f, options",
    [
        (maml, {"mode": "forward"}),
        (maml, {"order": 2}),
        (penalty_global, {}),
        (penalty_imported, {"order": 2}),
    ],
)
def test_the_exports_are_ruff_clean(f, options, tmp_path):
    args = full_args() if f in MAML else (np.array([0.3, -1.2, 2.0]),)
    ruff_clean(sg.export(f, *args, **options), tmp_path)
