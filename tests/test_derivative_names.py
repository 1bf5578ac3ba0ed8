"""Generated derivatives of methods are named with their class (``vjp_Linear_call`` for
``Linear.__call__``), so the vjps of two layers' ``__call__`` read apart in ``show`` and in
an export, where both were ``vjp___call__``."""

from __future__ import annotations

import numpy as np

import sourcegrad as sg
from sourcegrad.transform.naming import derivative_name


class Scale:
    def __init__(self, s):
        self.s = s

    def __call__(self, x):
        return self.s * x


class Squash:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return np.tanh(self.k * x)

    def forward(self, x):
        return self(x) ** 2


SCALE, SQUASH = Scale(2.0), Squash(0.5)


def layered(W, x):
    return np.sum(SQUASH.forward(SCALE(x @ W)))


def args():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2)), rng.standard_normal((4, 3))


def test_names_of_functions_and_methods():
    assert derivative_name("vjp", Scale.__call__) == "vjp_Scale_call"
    assert derivative_name("jvp", Squash.forward) == "jvp_Squash_forward"
    assert derivative_name("vjp", layered) == "vjp_layered"
    assert derivative_name("vjp", lambda x: x, "lambda") == "vjp_lambda"


def test_show_names_each_layers_vjp_by_its_class():
    text = sg.show(layered, args=args())
    for name in ("vjp_Scale_call", "vjp_Squash_call", "vjp_Squash_forward"):
        assert f"def {name}(self, x, *, g_out):" in text, text
    assert "vjp___call__" not in text


def test_the_export_keeps_the_names_and_the_numbers(tmp_path):
    W, x = args()
    text = sg.export(layered, W, x)
    assert "def run_vjp_Scale_call(" in text and "vjp___call__" not in text
    path = tmp_path / "exported_layers.py"
    path.write_text(text)
    namespace: dict = {"__name__": "exported_layers"}
    exec(compile(text, str(path), "exec"), namespace)
    got = namespace["d_layered"](W, x)
    want = sg.value_and_grad(layered)
    for _ in range(2):
        want(W, x)
    value, grad = want(W, x)
    assert got[0] == value and np.array_equal(got[1], grad)
