"""The compiled forward (``grad(f, with_gradients=False)``) runs pooled and in place, as the
gradient's running code does, and still returns exactly ``f``'s value: nothing it returns is a
pooled buffer that a later call overwrites."""

import numpy as np
import pytest

import sourcegrad as sg

from . import golden_cases as cases


def mlp_out(W1, W2, x):
    h = np.tanh(x @ W1 + 0.5)
    z = np.tanh(h @ W2)
    return z * 2.0


def returns_an_intermediate(W1, W2, x):
    h = np.tanh(x @ W1)
    return np.sin(h @ W2) - h @ W2


def loss_with_aux(W1, W2, x):
    h = np.tanh(x @ W1 - 1.0)
    z = np.exp(h @ W2) / 3.0
    return np.sum(z), {"h": h, "z2": z * 2.0}


def returns_a_list(W1, W2, x):
    h = np.tanh(x @ W1)
    return [h, np.tanh(h @ W2) + 1.0]


def elementwise(x, a):
    return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))


def _args(seed, batch=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal((batch, 4))


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and np.array_equal(a, b)


def _arrays(x) -> list:
    if isinstance(x, dict):
        return [a for v in x.values() for a in _arrays(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _arrays(v)]
    return [x] if isinstance(x, np.ndarray) else []


@pytest.mark.parametrize(
    "f, options",
    [
        (mlp_out, {}),
        (returns_an_intermediate, {}),
        (loss_with_aux, {"has_aux": True}),
        (returns_a_list, {}),
    ],
)
def test_results_held_across_calls_stay_distinct_and_exact(f, options):
    fwd = sg.grad(f, with_gradients=False, **options)
    first, second = _args(0), _args(1)
    held = []
    for _ in range(4):  # through the tiers, to the pooled build
        held.append((first, fwd(*first)))
        held.append((second, fwd(*second)))
    for args, got in held:  # every result still holds its own call's value, bit for bit
        want = f(*args)
        if options.get("has_aux"):
            assert _same(got[0], want[0]) and _same(got[1], want[1])
        else:
            assert _same(got, want)
    arrays = [a for _, got in held for a in _arrays(got)]
    for i, a in enumerate(arrays):  # no two results share memory (no buffer handed out)
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)


def test_the_pooled_forward_runs_in_buffers_and_in_place():
    args = cases.example_args("neural_net")
    fwd = sg.grad(cases.neural_net, with_gradients=False)
    for _ in range(3):
        assert fwd(*args) == cases.neural_net(*args)
    code = fwd._last[1].pretty(optimized=True)  # the build the last call ran
    assert "buffers = spare.pop() if spare else pool.new()" in code
    assert "np.tanh(h1_t_1, out=h1_t_1)" in code  # an operation into its operand's buffer
    assert fwd.held_bytes() > 0


def test_a_long_elementwise_chain_keeps_fs_sum_exactly():
    """The gradient's running code adds such a chain block by block (a different rounding);
    the compiled forward returns ``f``'s own sum."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3 * 131072 + 17)
    fwd = sg.grad(elementwise, with_gradients=False)
    for _ in range(3):
        assert fwd(x, 0.7) == elementwise(x, 0.7)
    assert "for start in range" not in fwd._last[1].text


def test_a_forward_with_auxiliary_output_runs_from_the_second_call_on():
    """It failed on the second call before (the alias protection of gradients met a return
    without gradients)."""
    fwd = sg.value_and_grad(loss_with_aux, has_aux=True, with_gradients=False)
    args = _args(2)
    for _ in range(3):
        value, aux = fwd(*args)
        want = loss_with_aux(*args)
        assert value == want[0] and _same(aux, want[1])
