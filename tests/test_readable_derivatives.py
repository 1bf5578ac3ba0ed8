"""What the shown derivative of everyday code leaves out because nothing needs it, checked on
the source and, with every derivative called several times, against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import Case, check


def affine(x, W, b):
    return x @ W + b


def affine_loss(W, b, x):
    return np.sum(np.tanh(affine(x, W, b)) ** 2)


def _affine_args():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))


def test_unpacked_arrays_need_no_as_adjoint():
    shown = sg.show(affine_loss, (0, 1), args=_affine_args(), callees=False)
    assert "dW, db = vjp_affine(" in shown, shown
    assert "as_adjoint" not in shown, shown


CASES = [Case("affine", affine_loss, _affine_args(), wrt=(0, 1))]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_derivatives(case):
    check(case)
