"""Helpers that write into the arguments they are given (``put(buf, i, v)``, ``bump(d)``,
``push(hs, h)``, ``normalize_(x)``), followed instead of refused: the helper is inlined at the
call, so its writes land on the caller's array, list or dict (or, for the function's own
arguments, are left in its caller's objects as Python leaves them). Each program: the value
against Python's, the gradient against central differences in float64, the Hessian-vector
product against differences of the gradient, three calls each, and the caller's objects
after each call equal to those Python's call leaves."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import sourcegrad as sg

from .ported.harness import assert_tree_close, marked_line, numerical

R = np.random.default_rng(2026)


def rn(*s):
    return R.standard_normal(s)


def assert_same_tree(got, want, what):
    assert type(got) is type(want), f"{what}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), what
        for k in want:
            assert_same_tree(got[k], want[k], f"{what}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_tree(g, w, f"{what}[{i}]")
    elif isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want, err_msg=what)
    elif hasattr(want, "__dict__"):  # (an object of the user's: what it holds)
        assert_same_tree(vars(got), vars(want), f"{what} (fields)")
    else:
        assert got == want, what


def check_followed(f, args, wrt=0, hvp=True):
    """Value, gradient (central differences), hvp (differences of the gradient) and the
    caller's objects after each of three calls, each call on fresh copies of ``args``."""
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [numerical(f, copy.deepcopy(args), i) for i in wrts]
    vg = sg.value_and_grad(f, wrt)
    for call in range(3):
        given, plain = copy.deepcopy(args), copy.deepcopy(args)
        want = f(*plain)
        value, grads = vg(*given)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
        grads = grads if isinstance(wrt, tuple) else (grads,)
        for i, g, e in zip(wrts, grads, expected):
            assert_tree_close(g, e, 1e-5, 1e-6, f"d/darg{i}, call {call}")
        for n, (a, p) in enumerate(zip(given, plain)):
            assert_same_tree(a, p, f"argument {n} after call {call}")
    if not hvp:
        return
    i = wrts[0]
    v = R.standard_normal(np.shape(args[i]))
    g = sg.grad(f, i)
    eps = 1e-5

    def grad_at(s):
        moved = copy.deepcopy(args)
        moved = (*moved[:i], moved[i] + s * v, *moved[i + 1 :])
        return g(*moved)

    want = (grad_at(eps) - grad_at(-eps)) / (2 * eps)
    hf = sg.hvp(f, i)
    for call in range(3):
        given, plain = copy.deepcopy(args), copy.deepcopy(args)
        f(*plain)
        np.testing.assert_allclose(hf(*given, v), want, rtol=1e-4, atol=1e-5)
        for n, (a, p) in enumerate(zip(given, plain)):
            assert_same_tree(a, p, f"hvp: argument {n} after call {call}")


# ------------------------------------------------------------------ helpers


def put(buf, i, v):
    buf[i] = v


def bump(d, k, s=0.5):
    d[k] = d[k] * s


def push(hs, h):
    hs.append(h)
    return len(hs)


def halve(a):
    a *= 0.5


def normalize_(x):
    x -= x.mean()


def update(buf, i, row):
    put(buf, i, np.tanh(row))


def zero_row(a):
    a[0] = 0.0


def fill(cache, k, v):
    cache[k] = v


def setrow(a, v):
    a[0] = v
    return a


def halved(a):
    a *= 0.5
    return a


# ------------------------------------------------------------------ programs


def written_array_read_after(x):
    z = np.zeros((3, 4))
    for i in range(3):
        put(z, i, np.sin(x * (i + 1)))
    return np.sum(z * z) + np.sum(z[1] * x)


def written_dict_read_after(x):
    d = {"a": np.sin(x), "b": x * 2.0}
    bump(d, "a")
    bump(d, "b", s=0.9)
    return np.sum(d["a"] * d["b"])


def grown_list_read_after(x):
    hs = [np.tanh(x)]
    n = push(hs, np.sin(hs[0]))
    n = push(hs, hs[-1] * x)
    return n * sum(np.sum(h**2) for h in hs)


def item_of_an_array_halved(x):
    z = x * 1.0
    halve(z[0])
    return np.sum(z * x)


def own_argument_normalized(x, w):
    normalize_(x)
    return np.sum(np.tanh(x * w) ** 2) + np.sum(x)


def own_argument_written_after_use(w, x):
    y = np.sum(np.sin(x * w))
    zero_row(x)
    return y


def through_two_helpers(x):
    buf = np.zeros((2, 4))
    update(buf, 0, x)
    update(buf, 1, 2.0 * x)
    return np.sum(buf[0] * buf[1]) + np.sum(buf)


def into_a_dict_argument(x, cache):
    h = np.tanh(x)
    fill(cache, "h", h)
    fill(cache, "n", 3)
    return np.sum(cache["h"] * x)


def helper_in_a_loop_read_after(x):
    z = x * 1.0
    for _ in range(2):
        normalize_(z)
        z = z * 2.0
    return np.sum(np.sin(z))


def returned_argument_read_under_both_names(x):
    z = x * 1.0
    w = setrow(z, np.sin(x[-1]))
    return np.sum(z * w) + np.sum(w[0] * x)


def updated_and_returned(x):
    z = x * 1.0
    w = halved(z)
    return np.sum(z * x) + np.sum(np.sin(w))


class Accumulator:
    def __init__(self, scale):
        self.scale = scale

    def add_into(self, buf, v):
        buf += self.scale * v


def a_method_writing_into_its_argument(x):
    acc = Accumulator(0.5)
    buf = np.ones(4)
    acc.add_into(buf, np.sin(x))
    acc.add_into(buf, x * x)
    return np.sum(buf**2)


X = rn(4)


@pytest.mark.parametrize(
    "f, args",
    [
        (written_array_read_after, (X,)),
        (written_dict_read_after, (X,)),
        (grown_list_read_after, (X,)),
        (item_of_an_array_halved, (rn(2, 3),)),
        (through_two_helpers, (X,)),
        (helper_in_a_loop_read_after, (X,)),
        (a_method_writing_into_its_argument, (X,)),
        (returned_argument_read_under_both_names, (rn(3, 4),)),
        (updated_and_returned, (X,)),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_write_into_a_local_the_caller_reads_after(f, args):
    check_followed(f, args)


def test_a_write_into_the_functions_own_argument_is_left_in_the_callers_array():
    check_followed(own_argument_normalized, (rn(4), rn(4)), wrt=(0, 1), hvp=False)
    check_followed(own_argument_normalized, (rn(4), rn(4)), wrt=0)
    check_followed(own_argument_written_after_use, (rn(4, 3), rn(4, 3)), wrt=(0, 1), hvp=False)


def argument_given_to_a_writer(p, x, y):
    out = np.sum(np.tanh(x @ p["W"] + p["b"]) * y)
    halve(y)
    return out


def test_an_argument_written_after_its_use_is_left_as_python_leaves_it():
    """(a fuzz find, refused before: nothing reads ``y`` after the call, but Python halves
    the caller's array)"""
    args = ({"W": rn(3, 2), "b": rn(2)}, rn(4, 3), rn(4, 2))
    for wrt in (1, 2):
        check_followed(argument_given_to_a_writer, args, wrt=wrt)


def test_a_write_into_a_dict_argument_is_left_in_the_callers_dict():
    check_followed(into_a_dict_argument, (rn(3), {}), hvp=False)
    check_followed(into_a_dict_argument, (rn(3), {"h": rn(3), "n": 0}))


def test_the_inlined_helper_reads_as_written():
    """The derivative's source holds the helper's statements in place of the call."""
    text = sg.source(sg.grad(written_array_read_after), X)
    code = [line for line in text.splitlines() if not line.strip().startswith("#")]
    assert not any("put(" in line for line in code), text
    line = written_array_read_after.__code__.co_firstlineno + 3
    assert f"# line {line}: put(z, i, np.sin(x * (i + 1)))" in text, text


# ------------------------------------------------------------------ still refused


def put_recursive(buf, i, v):
    if i > 0:
        put_recursive(buf, i - 1, v)
    buf[i] = v


def recursive_writer_read_after(x):
    z = np.zeros((3, 4))
    put_recursive(z, 2, x)  # REFUSED
    return np.sum(z * x)


def test_a_recursive_writer_is_refused_naming_why_it_is_not_inlined():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(recursive_writer_read_after)(X)
    message = str(info.value)
    assert f":{marked_line(recursive_writer_read_after)}:" in message
    assert "not inlined: put_recursive() calls itself" in message, message
    assert "return the new value" in message


def through_layers_read_after(x, layers):
    h = np.tanh(x)
    for layer in layers:
        layer(h)  # REFUSED
    return np.sum(h**2)


def test_a_function_value_writing_what_is_read_after_names_the_call_and_the_write():
    """A layer known only when the derivative runs cannot be inlined: refused then, naming
    the caller's line and the layer's write."""
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(through_layers_read_after)(X, [normalize_])
    message = str(info.value)
    assert f":{marked_line(through_layers_read_after)}:" in message, message
    write = normalize_.__code__.co_firstlineno + 1
    assert f"(`x -= x.mean()`, {__file__}:{write})" in message, message


# ------------------------------------------------------------------ receivers that are no name


class Block:
    def __init__(self, w):
        self.w = w

    def inner(self, buf, v):
        buf += self.w * v


class Subtracting:
    def __init__(self, w):
        self.w = w

    def inner(self, buf, v):
        buf -= self.w * v * v


class Net:
    def __init__(self, blocks):
        self.blocks = blocks

    def run(self, x):
        buf = np.zeros(4)
        self.blocks[0].inner(buf, np.sin(x))
        self.blocks[1].inner(buf, x)
        return np.sum(buf * buf)


def an_item_of_a_list_argument_writes(x, blocks):
    buf = np.ones(4)
    blocks[0].inner(buf, np.sin(x))
    return np.sum(buf**2) + np.sum(buf * x)


def an_object_holding_blocks(x, net):
    return net.run(x) + np.sum(x)


def test_a_method_of_an_item_writing_into_its_argument():
    """``blocks[0].inner(buf, v)``, ``self.blocks[0].inner(buf, v)``: the receiver's class
    is the argument's item's, so the method is inlined as for a name."""
    w = rn(4)
    check_followed(an_item_of_a_list_argument_writes, (X, [Block(w)]))
    check_followed(an_item_of_a_list_argument_writes, (X, [Subtracting(w)]))
    check_followed(an_object_holding_blocks, (X, Net([Block(w), Subtracting(w)])), hvp=False)


def test_the_class_of_the_item_is_asked_on_each_call():
    df = sg.value_and_grad(an_item_of_a_list_argument_writes)
    w = rn(4)
    for cls in (Block, Subtracting, Block, Subtracting):
        value, _ = df(X, [cls(w)])
        assert value == pytest.approx(an_item_of_a_list_argument_writes(X, [cls(w)]), rel=1e-12)


class Scale:
    def __init__(self, a):
        self.a = a

    def __call__(self, h):
        h *= self.a
        return np.sum(np.sin(h))


SCALE = Scale(2.0)


def an_object_called_on_a_local(x, layer):
    h = np.tanh(x)
    s = layer(h)
    return s + np.sum(h * x)


def a_global_object_called_on_a_local(x):
    h = np.tanh(x)
    s = SCALE(h)
    return s + np.sum(h * x)


def test_an_object_called_writing_into_what_it_is_given():
    check_followed(an_object_called_on_a_local, (X, Scale(0.5)))
    check_followed(a_global_object_called_on_a_local, (X,))


def test_a_hessian_leaves_the_argument_as_one_python_call_does():
    """sg.hessian takes each column on a copy where the function writes into its arguments,
    the helper's writes included (the caller's array changed once, as by one call)."""
    x, w = rn(4), rn(4)
    h = sg.hessian(own_argument_normalized)
    g = sg.grad(own_argument_normalized)
    eps = 1e-5
    want = np.stack(
        [(g(x + eps * e, w.copy()) - g(x - eps * e, w.copy())) / (2 * eps) for e in np.eye(4)],
        axis=-1,
    )
    for _ in range(3):
        given, plain = x.copy(), x.copy()
        own_argument_normalized(plain, w)
        np.testing.assert_allclose(h(given, w), want, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(given, plain)


def halve_recursive(a, n=1):
    if n > 0:
        halve_recursive(a, n - 1)
    a *= 0.5


def recursive_writer_given_an_argument(x, y):
    out = np.sum(np.tanh(x) * y)
    halve_recursive(y)  # REFUSED
    return out


def test_a_recursive_writer_given_an_argument_is_refused_naming_why():
    with pytest.raises(sg.UnsupportedSyntaxError) as info:
        sg.grad(recursive_writer_given_an_argument)(X, rn(4))
    message = str(info.value)
    assert f":{marked_line(recursive_writer_given_an_argument)}:" in message, message
    assert "not inlined: halve_recursive() calls itself" in message, message


@pytest.mark.parametrize(
    "f, args",
    [
        (written_array_read_after, (X,)),
        (through_two_helpers, (X,)),
        (own_argument_normalized, (rn(4), rn(4))),
        (an_item_of_a_list_argument_writes, (X, [Block(rn(4))])),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_forward_mode_follows_the_helpers_writes(f, args):
    v = rn(4)
    jv = sg.jvp(f)
    want_tangent = np.sum(sg.grad(f)(*copy.deepcopy(args)) * v)
    for call in range(3):
        given, plain = copy.deepcopy(args), copy.deepcopy(args)
        value, tangent = jv(*given, v)
        assert value == pytest.approx(f(*plain), rel=1e-12)
        assert tangent == pytest.approx(want_tangent, rel=1e-9)
        for n, (a, p) in enumerate(zip(given, plain)):
            assert_same_tree(a, p, f"jvp: argument {n} after call {call}")
