"""A loss that writes in place into its own arguments runs as Python runs it: the derivative's
value and gradient are those of the function of the arguments' values on entry, and after
the call the caller's objects hold exactly what Python's call leaves in them (batch norm's
running statistics in ``bn_param``, the hidden states appended to a list, an array argument
after ``x += v``). Each program is checked against central differences of the function on
copies of the arguments, and the caller's objects bit for bit against those of the plain
function called on equal copies, on calls 1-3 (the optimized build runs from the second)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import assert_tree_close, marked_line, numerical

R = np.random.default_rng(4242)


def rn(*s):
    return R.standard_normal(s)


def assert_same_state(got, want, what="argument"):
    """``got`` holds what ``want`` holds, bit for bit: types, keys in order, dtypes, values."""
    assert type(got) is type(want), f"{what}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{what}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same_state(got[k], want[k], f"{what}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{what}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_state(g, w, f"{what}[{i}]")
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, what
        assert np.array_equal(got, want, equal_nan=True), f"{what}: {got} != {want}"
    else:
        assert got == want or (got != got and want != want), f"{what}: {got!r} != {want!r}"


def check_mirrored(f, make, wrt, has_aux=False):
    """``sg.grad`` and ``sg.value_and_grad`` of ``f`` (``make()`` its arguments, the same on
    each call) against central differences and Python's value, and the caller's objects
    after each call against those the plain function leaves."""
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    loss = (lambda *a: f(*a)[0]) if has_aux else f
    expected = [numerical(loss, make(), i) for i in wrts]
    vg = sg.value_and_grad(f, wrt, has_aux=has_aux)
    g = sg.grad(f, wrt, has_aux=has_aux)
    for call in range(3):
        for label, df in (("value_and_grad", vg), ("grad", g)):
            args, plain = make(), make()
            held = [id(a) for a in args]
            want = f(*plain)
            out = df(*args)
            if label == "value_and_grad":
                value, grads = out
                if has_aux:
                    np.testing.assert_allclose(value[0], want[0], rtol=1e-12, atol=1e-12)
                    assert_same_state(value[1], want[1], "aux")
                else:
                    np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
            else:
                grads = out[0] if has_aux else out
            grads = grads if isinstance(wrt, tuple) else (grads,)
            for i, gi, e in zip(wrts, grads, expected):
                assert_tree_close(gi, e, 1e-5, 1e-6, f"{label} d/darg{i}, call {call}")
            assert [id(a) for a in args] == held
            for n, (a, p) in enumerate(zip(args, plain)):
                assert_same_state(a, p, f"{label} argument {n}, call {call}")


# ------------------------------------------------------------------ arrays


def plus_equals(x, v):
    x += v * v
    return np.sum(np.sin(x) * x)


def item_written_then_read(x):
    y = x**2.0
    x[0] = y[1] * y[2]
    return np.sum(x * y)


def slice_of_running_mean(gamma, beta, x, running_mean, momentum=0.1):
    mu = x.mean(0)
    running_mean[:] = (1 - momentum) * running_mean + momentum * mu
    return np.sum((gamma * (x - mu) / np.sqrt(x.var(0) + 1e-5) + beta) ** 2)


def copied_into(p, x, y):
    np.copyto(y, 0.9 * y)
    np.multiply(x, 2.0, out=x)
    return np.sum(np.tanh(x @ p["W"] + p["b"]) * y)


def scaled_by_a_scalar(a, x):
    x *= a
    return np.sum(x**2)


def halve(a):
    a *= 0.5


def given_to_a_writer(w, y):
    out = np.sum(np.tanh(y * w))
    halve(y)
    return out


def written_in_branches(x, c):
    if np.sum(c) > 0:
        x[0] = c[0] * 3.0
    else:
        x *= c
    return np.sum(x * x)


def written_in_a_loop(x):
    for i in range(x.shape[0] - 1):
        x[i + 1] += np.sin(x[i])
    return np.sum(x**3)


def setitem_on_argument(x):
    x[2] = x[0] * x[1]
    return np.sum(x**2)


@pytest.mark.parametrize(
    "f,make,wrt",
    [
        (setitem_on_argument, lambda: (rn(3),), 0),
        (plus_equals, lambda: (rn(4), rn(4)), (0, 1)),
        (item_written_then_read, lambda: (rn(3),), 0),
        (slice_of_running_mean, lambda: (1 + rn(3), rn(3), rn(5, 3), rn(3)), (0, 1, 2, 3)),
        (copied_into, lambda: ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3), rn(4, 2)), (0, 1, 2)),
        (scaled_by_a_scalar, lambda: (0.7, rn(3)), 0),
        (scaled_by_a_scalar, lambda: (0.7, rn(3)), (0, 1)),
        (written_in_branches, lambda: (rn(3), np.abs(rn(3))), (0, 1)),
        (written_in_branches, lambda: (rn(3), -np.abs(rn(3))), (0, 1)),
        (written_in_a_loop, lambda: (rn(4),), 0),
    ],
    ids=lambda v: getattr(v, "__name__", "") if callable(v) and v.__name__ != "<lambda>" else "",
)
def test_array_arguments_written_in_place(f, make, wrt):
    state = np.random.get_state()
    np.random.seed(11)
    fixed = make()
    np.random.set_state(state)
    check_mirrored(f, lambda: copy.deepcopy(fixed), wrt)


# ------------------------------------------------------------------ containers


def batchnorm_forward(x, gamma, beta, bn_param):
    """CS231n's batchnorm_forward in training mode: the running statistics are kept in
    ``bn_param`` for the test-time pass."""
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    sample_mean = np.mean(x, axis=0)
    sample_var = np.var(x, axis=0)
    x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
    out = gamma * x_hat + beta
    running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    running_var = momentum * running_var + (1 - momentum) * sample_var
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out


def batchnorm_loss(W, gamma, beta, x, y, bn_param):
    """A ReLU layer after CS231n's batch norm, its running statistics kept in ``bn_param``."""
    a = x @ W
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(a.shape[1], dtype=a.dtype))
    running_var = bn_param.get("running_var", np.zeros(a.shape[1], dtype=a.dtype))
    sample_mean, sample_var = np.mean(a, axis=0), np.var(a, axis=0)
    h = gamma * (a - sample_mean) / np.sqrt(sample_var + 1e-5) + beta
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * sample_mean
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * sample_var
    return np.mean((np.maximum(h, 0.0) - y) ** 2)


def batchnorm_layer_loss(W, gamma, beta, x, y, bn_param):
    h = batchnorm_forward(x @ W, gamma, beta, bn_param)
    return np.mean((np.maximum(h, 0.0) - y) ** 2)


def test_batchnorm_vjp_leaves_the_running_statistics():
    x, gamma, beta, g_out = rn(6, 3), 1 + rn(3), rn(3), rn(6, 3)
    bn_param, plain = {"momentum": 0.8}, {"momentum": 0.8}
    vjp = sg.vjp(batchnorm_forward, (0, 1))
    for step in range(3):
        batchnorm_forward(x, gamma, beta, plain)
        dx, dgamma = vjp(x, gamma, beta, bn_param, g_out)
        want_dgamma = numerical(
            lambda gm, x=x: np.sum(batchnorm_forward(x, gm, beta, {}) * g_out), (gamma,), 0
        )
        np.testing.assert_allclose(dgamma, want_dgamma, rtol=1e-5, atol=1e-7)
        assert_same_state(bn_param, plain, f"bn_param after step {step}")
        x = x + 0.1


def test_batchnorm_running_statistics_trained_over_steps():
    x, y, W = rn(8, 4), rn(8, 3), 0.5 * rn(4, 3)
    gamma, beta = 1 + 0.1 * rn(3), 0.1 * rn(3)
    bn_param, plain = {"mode": "train"}, {"mode": "train"}
    vg = sg.value_and_grad(batchnorm_loss, (0, 1, 2))
    for step in range(5):
        want_grads = [numerical(batchnorm_loss, (W, gamma, beta, x, y, plain), i) for i in range(3)]
        want = batchnorm_loss(W, gamma, beta, x, y, plain)
        value, (dW, dgamma, dbeta) = vg(W, gamma, beta, x, y, bn_param)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
        for got, expected in zip((dW, dgamma, dbeta), want_grads):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        assert_same_state(bn_param, plain, f"bn_param after step {step}")
        W, gamma, beta = W - 0.1 * dW, gamma - 0.1 * dgamma, beta - 0.1 * dbeta
    assert list(bn_param) == ["mode", "running_mean", "running_var"]


def rnn_caching_state(Wx, Wh, xs, cache):
    h = cache.get("h", np.zeros(Wh.shape[0]))
    hs = []
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
        hs.append(h)
    cache["h"] = h
    cache["steps"] = cache.get("steps", 0) + xs.shape[0]
    return np.sum(np.stack(hs) ** 2)


def test_rnn_caching_its_hidden_state_in_a_passed_dict():
    Wx, Wh, xs = 0.5 * rn(3, 4), 0.5 * rn(4, 4), rn(5, 3)
    cache, plain = {}, {}
    vg = sg.value_and_grad(rnn_caching_state, (0, 1))
    for step in range(4):
        want_grads = [numerical(rnn_caching_state, (Wx, Wh, xs, plain), i) for i in range(2)]
        want = rnn_caching_state(Wx, Wh, xs, plain)
        value, grads = vg(Wx, Wh, xs, cache)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
        for got, expected in zip(grads, want_grads):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        assert_same_state(cache, plain, f"cache after step {step}")
    assert cache["steps"] == 20


def states_appended(W, x, hs):
    h = x
    for _ in range(3):
        h = np.tanh(h @ W)
        hs.append(h)
    return np.sum(h**2)


def item_replaced(p, x):
    p["b"] = p["b"] * 0.9
    return np.sum(np.tanh(x @ p["W"] + p["b"]))


def item_written_in_a_branch(x, state, c):
    if c > 0:
        state["w"] = x * 2.0
    return np.sum(state["w"] * x)


def rnn_state_argument(x, state):
    for _ in range(3):
        hs = state["hs"]
        h = np.tanh(hs[-1] * x + 0.1)
        state["hs"] = hs + [h]
    return np.sum(state["hs"][-1] * state["hs"][0])


def batchnorm_with_running_stats(gamma, beta, x, bn_param):
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.ones(x.shape[1]))
    mu, var = x.mean(axis=0), x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + 1e-5) + beta
    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var = momentum * running_var + (1 - momentum) * var
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return np.sum(out**3) + np.sum(running_mean)


def item_of_a_dict_argument(p, x):
    p["W"][0, 0] = 1.0
    return np.sum((p["W"] @ x) ** 2)


def item_of_an_item(params, x):
    params[0]["b"] = params[0]["b"] * 0.9
    params[1]["bn"]["mean"] = np.mean(x, axis=0)
    return np.sum(np.tanh(x @ params[0]["W"] + params[0]["b"]))


def counted_and_logged(W, x, log):
    loss = np.sum(np.tanh(x @ W) ** 2)
    log["calls"] = log.get("calls", 0) + 1
    log["last"] = loss
    return loss


def with_aux(W, x, state):
    h = np.tanh(x @ W)
    state["mean"] = 0.9 * state["mean"] + 0.1 * np.mean(h, axis=0)
    return np.sum(h**2), {"mean": state["mean"]}


@pytest.mark.parametrize(
    "f,make,wrt",
    [
        (states_appended, lambda: (0.5 * rn(3, 3), rn(3), [np.zeros(3)]), (0, 1)),
        (item_of_a_dict_argument, lambda: ({"W": rn(3, 3)}, rn(3)), (0, 1)),
        (
            item_of_an_item,
            lambda: ([{"W": rn(3, 2), "b": rn(2)}, {"bn": {"mean": rn(3)}}], rn(4, 3)),
            (0, 1),
        ),
        (counted_and_logged, lambda: (rn(3, 2), rn(4, 3), {}), 0),
        (item_replaced, lambda: ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3)), (0, 1)),
        (item_written_in_a_branch, lambda: (rn(3), {"w": rn(3)}, 1.0), (0, 1)),
        (item_written_in_a_branch, lambda: (rn(3), {"w": rn(3)}, -1.0), (0, 1)),
        (rnn_state_argument, lambda: (rn(3), {"hs": [rn(3)]}), (0, 1)),
        (
            batchnorm_with_running_stats,
            lambda: (1 + rn(4), rn(4), rn(6, 4), {"momentum": 0.8}),
            (0, 1, 2),
        ),
        (
            batchnorm_with_running_stats,
            lambda: (1 + rn(4), rn(4), rn(6, 4), {"running_mean": rn(4), "running_var": rn(4)}),
            (0, 1, 2, 3),
        ),
    ],
    ids=lambda v: getattr(v, "__name__", "") if callable(v) and v.__name__ != "<lambda>" else "",
)
def test_container_arguments_written_in_place(f, make, wrt):
    state = np.random.get_state()
    np.random.seed(12)
    fixed = make()
    np.random.set_state(state)
    check_mirrored(f, lambda: copy.deepcopy(fixed), wrt)


def test_auxiliary_output_of_a_function_writing_into_its_argument():
    fixed = (rn(3, 2), rn(4, 3), {"mean": rn(2)})
    check_mirrored(with_aux, lambda: copy.deepcopy(fixed), (0, 1), has_aux=True)


def test_an_object_changed_in_place_inside_a_container_stays_itself():
    params = [{"W": rn(3, 2), "b": rn(2)}, {"bn": {"mean": rn(3)}}]
    inner = params[1]["bn"]
    hs = [np.zeros(3)]
    sg.grad(item_of_an_item)(params, rn(4, 3))
    sg.grad(states_appended)(0.5 * rn(3, 3), rn(3), hs)
    assert params[1]["bn"] is inner and len(hs) == 4


# ------------------------------------------------------------------ refused


def written_twice(bn, x):
    bn["mean"] = np.mean(x, axis=0)
    bn["mean"] += 1.0  # REFUSED
    return np.sum(x * bn["mean"])


def sgd_step_inside(params, x):
    loss = np.sum(np.tanh(x @ params["W"] + params["b"]) ** 2)
    params["W"] -= 0.1 * params["W"]
    params["b"] *= 0.5
    return loss


def test_arrays_written_in_place_stay_the_callers_arrays():
    fixed = ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3))
    check_mirrored(sgd_step_inside, lambda: copy.deepcopy(fixed), (0, 1))
    params = copy.deepcopy(fixed[0])
    W, b = params["W"], params["b"]
    sg.grad(sgd_step_inside)(params, fixed[1])
    assert params["W"] is W and params["b"] is b
    np.testing.assert_array_equal(W, fixed[0]["W"] - 0.1 * fixed[0]["W"])


def items_by_a_computed_key(layers, x):
    for i in range(len(layers)):
        x = np.tanh(x @ layers[i]["W"])
        layers[i]["W"] -= 0.1  # REFUSED
    return np.sum(x)


def test_an_item_written_in_place_through_a_computed_key_is_refused():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(items_by_a_computed_key)([{"W": rn(3, 3)}, {"W": rn(3, 3)}], rn(3))
    message = str(info.value)
    assert f":{marked_line(items_by_a_computed_key)}:" in message
    assert "computed key" in message and "copy it first" in message


def test_a_write_into_an_object_the_function_put_there_is_refused():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(written_twice, 1)({"mean": rn(3)}, rn(4, 3))
    message = str(info.value)
    assert f":{marked_line(written_twice)}:" in message and "copy it first" in message


def scale_both(x, y):
    x *= 2.0  # REFUSED
    return np.sum(x * y)


def test_arguments_sharing_an_object_written_into_are_refused():
    x = rn(3)
    for args in [(x, x), (x, x[::-1]), (x, x[None])]:
        kept = [a.copy() for a in args]
        with pytest.raises(sg.UnsupportedSyntaxError) as info:
            sg.grad(scale_both, (0, 1))(*args)
        assert f":{marked_line(scale_both)}:" in str(info.value), str(info.value)
        assert "pass a copy" in str(info.value)
        for a, k in zip(args, kept):
            np.testing.assert_array_equal(a, k)
    W = rn(3, 3)
    with pytest.raises(sg.UnsupportedSyntaxError, match="the same object"):
        sg.grad(item_of_a_dict_argument, 1)({"W": W, "V": W}, rn(3))
    shared = {"W": W}
    with pytest.raises(sg.UnsupportedSyntaxError, match="the same object"):
        sg.grad(item_of_an_item, 1)(
            [{"W": rn(3, 2), "b": rn(2)}, {"bn": shared, "c": shared}], rn(4, 3)
        )


def test_a_helper_writing_into_an_argument_it_is_given_is_followed():
    # (the helper is inlined: its writes are the function's, written back at its end)
    w, y = rn(3), rn(3)
    check_mirrored(given_to_a_writer, lambda: (w.copy(), y.copy()), (0, 1))
    W, gamma, beta, x, t = rn(4, 3), 1 + rn(3), rn(3), rn(8, 4), rn(8, 3)
    for bn in ({}, {"momentum": 0.8, "running_mean": rn(3), "running_var": 1 + rn(3) ** 2}):
        check_mirrored(
            batchnorm_layer_loss,
            lambda bn=bn: (W.copy(), gamma.copy(), beta.copy(), x.copy(), t, copy.deepcopy(bn)),
            (0, 1, 2),
        )


def float_into_int(x, counts):
    counts += 1.5
    return np.sum(x**2)


def test_a_write_numpy_refuses_in_place_raises_numpys_type_error():
    with pytest.raises(TypeError):  # (what Python does)
        float_into_int(rn(3), np.zeros(3, dtype=int))
    for _ in range(3):
        counts = np.zeros(3, dtype=int)
        with pytest.raises(TypeError, match="same_kind"):
            sg.grad(float_into_int)(rn(3), counts)
        assert not counts.any()  # (NumPy's update raised before it wrote)


# ------------------------------------------------------------------ other transforms


def running_mean_kept(x, bn):
    bn["m"] = 0.9 * bn["m"] + 0.1 * np.mean(x)  # WRITES
    x += 1.0
    return np.sum(np.sin(x) * bn["m"])


def fresh_running_mean_args():
    return np.array([0.3, -0.5, 0.8]), {"m": np.array(0.5)}


def test_jvp_and_the_compiled_function_leave_what_python_leaves():
    t = np.array([1.0, -2.0, 0.5])
    want_tangent = numerical(running_mean_kept, fresh_running_mean_args(), 0) @ t
    jvp = sg.jvp(running_mean_kept, 0)
    compiled = sg.grad(running_mean_kept, 0, with_gradients=False)
    for _ in range(3):
        args, plain = fresh_running_mean_args(), fresh_running_mean_args()
        want = running_mean_kept(*plain)
        value, tangent = jvp(*args, t)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tangent, want_tangent, rtol=1e-6, atol=1e-8)
        assert_same_state(list(args), list(plain))
        args = fresh_running_mean_args()
        np.testing.assert_allclose(compiled(*args), want, rtol=1e-12, atol=1e-12)
        assert_same_state(list(args), list(plain))


def test_the_exported_module_leaves_what_python_leaves():
    source = sg.export(running_mean_kept, *fresh_running_mean_args())
    assert "write_back(bn, bn_5, ((),))" in source
    module: dict = {}
    exec(compile(source, "exported", "exec"), module)
    for _ in range(3):
        args, plain = fresh_running_mean_args(), fresh_running_mean_args()
        value, grad = module["d_running_mean_kept"](*args)
        want_value, want_grad = sg.value_and_grad(running_mean_kept)(*fresh_running_mean_args())
        assert value == want_value and np.array_equal(grad, want_grad)
        running_mean_kept(*plain)
        assert_same_state(list(args), list(plain))


def test_the_shown_gradient_writes_back_after_the_adjoint():
    text = sg.show(running_mean_kept, args=fresh_running_mean_args())
    lines = [line.strip() for line in text.splitlines()]
    assert lines.index("write_back(x, x_1, ((),))") > lines.index(
        "# line 62: x += 1.0".replace("62", str(marked_line(running_mean_kept, "# WRITES") + 1))
    )
    assert lines[1].startswith("refuse_shared_writes(")


def array_valued_with_state(x, bn):
    bn["m"] = bn["m"] + x
    return np.sin(x) * bn["m"]


def fewer_outputs_with_state(x, bn):
    bn["m"] = bn["m"] + x
    return np.sin(x[:2]) * bn["m"][:2]


@pytest.mark.parametrize("f", [array_valued_with_state, fewer_outputs_with_state])
def test_jacobian_rows_and_columns_from_the_values_on_entry(f):
    # (columns by forward mode where the outputs are as many as the inputs, else rows)
    x = rn(3)

    def make():
        return x.copy(), {"m": np.ones(3)}

    want = numerical(f, make(), 0)
    jac = sg.jacobian(f, 0)
    for _ in range(3):
        args, plain = make(), make()
        np.testing.assert_allclose(jac(*args), want, rtol=1e-6, atol=1e-8)
        f(*plain)
        assert_same_state(list(args), list(plain))


def appends_to_its_default(x, acc=[]):  # noqa: B006 - the shared default is what is tested
    acc.append(1.0)
    return np.sum(x) * len(acc)


def test_a_default_written_in_place_is_refused_and_passed_in_runs():
    """A default list is one object every call shares: Python's value grows call by call.
    Left to its default, that is refused; passed in, it is mirrored as any argument."""
    x = np.ones((2, 2))
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.value_and_grad(appends_to_its_default)(x)
    assert "left to its default" in str(info.value)
    acc, want = [], []
    vg = sg.value_and_grad(appends_to_its_default)
    for k in range(3):
        value, g = vg(x, acc)
        assert value == appends_to_its_default(x, want)
        np.testing.assert_array_equal(g, np.full((2, 2), float(k + 1)))
        assert acc == want


def centred_(h):
    h -= h.mean()
    h /= np.sqrt(np.sum(h * h))


def centred_and_returned(h):
    h -= h.mean()
    return h


def written_by_a_helper_then_rebound(W, h):
    centred_(h)  # REFUSED
    h = np.tanh(W @ h)
    return np.sum(h)


def written_then_rebound(W, h):
    h *= 0.5  # REFUSED
    h = np.tanh(W @ h)
    return np.sum(h)


@pytest.mark.parametrize("f", [written_by_a_helper_then_rebound, written_then_rebound])
def test_an_argument_written_then_given_a_new_value_is_refused(f):
    # (the caller's array was left as it was given: the write-back wrote nothing, as `h` named
    # the new value at the end)
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(f, (0, 1))(rn(3, 3), rn(3))
    message = str(info.value)
    assert f":{marked_line(f)}:" in message and "gives `h` a new value" in message, message


def rebound_to_what_the_helper_returns(W, h):
    h = centred_and_returned(h)  # REFUSED
    return np.sum(np.tanh(W @ h))


def copied_then_written_and_rebound(W, h):
    h = h.copy()
    h *= 0.5
    h = np.tanh(W @ h)
    return np.sum(h)


def test_an_argument_rebound_to_what_a_helper_writing_into_it_returns_is_refused():
    # (the caller's array was left as it was given; the helper may return it or a new array)
    with pytest.raises(sg.SourcegradError) as info:
        sg.grad(rebound_to_what_the_helper_returns, (0, 1))(rn(3, 3), rn(3))
    assert f":{marked_line(rebound_to_what_the_helper_returns)}:" in str(info.value)


def test_an_argument_copied_first_is_its_own_to_write_and_rebind():
    fixed = (rn(3, 3), rn(3))
    check_mirrored(copied_then_written_and_rebound, lambda: copy.deepcopy(fixed), (0, 1))
