"""Export losses that build objects of plain classes (no dataclass) from the differentiated
parameters (``TwoLayerNet(params).loss(x, y)``, tests/ported/test_plain_classes_in_loss.py):
each class is copied into the module with its source (its base classes first, a class defined
in a function with the variables its methods read from there as globals), and where the
derivative takes its objects for records it is registered as one (``register_plain_class``).
Every program ``sg.grad`` accepts there exports in reverse mode, the ones marked ``order=2``
at order 2 too; each module runs by ``python -I -S`` with only NumPy and gives
``sg.value_and_grad``'s (``sg.hvp``'s) numbers bit for bit (the gradients themselves are
checked against central differences on calls 1 to 3 by the ported test)."""

import os
import re

import numpy as np
import pytest

import sourcegrad as sg

from .ported import test_plain_classes_in_loss as pc
from .test_export import run_isolated, same, steady
from .test_show_callees import GOLDEN, check_golden

PORTED = os.path.basename(pc.__file__)

SCALAR = [c for c in pc.CASES if c.kind == "grad"]
SECOND = [c for c in SCALAR if c.order == 2]


def _like(x, rng):
    if isinstance(x, dict):
        return {k: _like(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_like(v, rng) for v in x)
    if isinstance(x, float):
        return 0.75
    return rng.standard_normal(x.shape)


@pytest.mark.parametrize("case", SCALAR, ids=[c.id for c in SCALAR])
def test_a_loss_building_plain_objects_exports_bit_for_bit(case, tmp_path):
    text = sg.export(case.f, *case.args)
    assert "import sourcegrad" not in text
    got = run_isolated(tmp_path, text, f"d_{case.f.__name__}", case.args)
    assert same(got, steady(sg.value_and_grad(case.f), *case.args)), got


@pytest.mark.parametrize("case", SECOND, ids=[c.id for c in SECOND])
def test_its_hessian_vector_product_exports_bit_for_bit(case, tmp_path):
    v = _like(case.args[0], np.random.default_rng(4))
    text = sg.export(case.f, *case.args, order=2)
    got = run_isolated(tmp_path, text, f"d_{case.f.__name__}", (*case.args, v))
    assert same(got, steady(sg.hvp(case.f), *case.args, v)), got


@pytest.mark.parametrize("case", pc.CASES, ids=[c.id for c in pc.CASES])
def test_its_jvp_exports_bit_for_bit(case, tmp_path):
    t = _like(case.args[0], np.random.default_rng(6))
    text = sg.export(case.f, *case.args, mode="forward")
    got = run_isolated(tmp_path, text, f"d_{case.f.__name__}", (*case.args, t))
    assert same(got, steady(sg.jvp(case.f), *case.args, t)), got


def test_an_array_valued_function_is_refused_in_reverse_mode_saying_why():
    (case,) = [c for c in pc.CASES if c.kind == "jac"]
    with pytest.raises(sg.NonScalarOutputError, match="use sourcegrad.vjp"):
        sg.export(case.f, *case.args)


@pytest.mark.parametrize("case", pc.REFUSED, ids=[c.id for c in pc.REFUSED])
def test_what_the_gradient_refuses_the_export_refuses_the_same_way(case):
    kind, way_out = case.refused
    with pytest.raises(kind, match=re.escape(way_out)) as info:
        sg.export(case.f, *case.args)
    assert info.value.filename == pc.__file__


def test_the_export_of_a_derived_class_matches_golden():
    """``LinearModule(Module)``: both classes copied with their source and registered as
    records, the base ``__init__``'s maker written as plain code (``Module_init``), the
    methods' derivatives in the table ``vjp_of`` reads
    (``tests/golden/plain_class_inherited.export.py``)."""
    (case,) = [c for c in pc.CASES if c.id == "super_init"]
    text = sg.export(case.f, *case.args).replace(pc.__file__, "tests/ported/" + PORTED)
    check_golden(text, GOLDEN / "plain_class_inherited.export.py")
