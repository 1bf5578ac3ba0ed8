"""Order 3 through a gradient taken inside the loss (MAML), once and twice in a loop: the inner
gradient is a function value restored from the tape at every step, so forward mode runs over
the jvp of its vjp with the gradient itself in a differentiated position (bound to nothing, no
tangent of its own). Checked against central differences of ``sg.hvp`` along the same
direction, on the first call and on the optimized calls after it."""

import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.higher import tower
from tests.test_export_inner_grad import full_args, maml, maml_tuple_wrt, maml_two_steps


def _direction(p, seed=5):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=a.shape) for k, a in p.items()}


@pytest.mark.parametrize("f", [maml, maml_two_steps, maml_tuple_wrt])
def test_order_3_through_inner_gradient_steps_matches_central_differences(f):
    args = full_args()
    p, rest = args[0], args[1:]
    v, e = _direction(p), 1e-5
    hv = sg.hvp(f)
    plus = hv({k: p[k] + e * v[k] for k in p}, *rest, v)
    minus = hv({k: p[k] - e * v[k] for k in p}, *rest, v)
    levels = tower(f, (), [0, 0], (0,))
    for _ in range(3):
        got = levels.evaluate(args, (v, v))
        for k in p:
            want = (plus[k] - minus[k]) / (2 * e)
            np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-6)
