"""Cases from other autodiff tools' own test suites, ported case by case as their authors
wrote them: autograd's ``test_graphs.py`` (fan-out, constants, identity, the enclosing
scope's names, a gradient flowing through a name written twice, third derivatives by
``hvp``), ``test_dict.py``/``test_list.py``/``test_tuple.py`` (getters, ``isinstance``,
making containers in the function, iterating ``items()``), ``test_builtins.py``,
``test_scalar_ops.py`` (``np.mod``, ``np.fmod``, ``np.hypot``, ``np.arctan2``, ``np.sinc``
on floats), ``test_systems.py`` (``einsum`` and ``tensordot`` forms), micrograd's
``test_engine.py`` (its sanity and more-ops graphs on floats), and PyTorch's
``test_autograd`` gradcheck cases that make sense in NumPy. Each against Python's value and
central differences on calls 1-3, to second order where the point is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sourcegrad.errors import NoRuleError

from .harness import Case, check, params

R = np.random.default_rng(9119)


def r(*s):
    return R.standard_normal(s)


# ------------------------------------------------------------------ autograd test_graphs


def grad_fanout(x):
    y = np.sin(x)
    return np.sum(y + y * y + y)


def grad_const(x):
    y = 3.0 * x
    c = np.ones(3)
    return np.sum(y * c + 2.0)


def grad_identity(x):
    return x


def enclosing_scope_ref(x):
    nonlocal_y = 2.5

    def inner(z):
        return np.sum(z * nonlocal_y + np.tanh(z))

    return inner(x) * x[0]


def name_written_twice(x):
    y = x * 2.0
    y = np.sin(y)
    y = y * x
    return np.sum(y)


def mutating_outgrad(a, b):
    c = a * b
    d = c + a
    d = d + c
    return np.sum(d * d)


def third_order_poly(x):
    return np.sum(x**3 - 2.0 * x**2 * x[0] + np.sin(x) * x[1])


def complex_separate_real_imag(x):
    z = x[0] + 1j * x[1]  # REFUSED
    w = z * z + np.exp(z)
    return np.real(w) + np.imag(w) ** 2


def grad_and_aux_shared(x):
    h = np.tanh(x)
    reg = 0.1 * np.sum(h**2)
    return np.sum(h * x) + reg


# ------------------------------------------------------------------ autograd test_dict/list/tuple


def dict_getter(d):
    return 2.0 * np.sum(d["item_1"]) + 3.0 * np.sum(d["item_2"][0] * d["item_2"][1])


def dict_grads(d, x):
    return np.sum(d["a"] * x + d["b"] * x**2)


def dict_iter_items(d):
    total = 0.0
    for k, v in d.items():
        total = total + (len(k) * np.sum(np.sin(v)))
    return total


def dict_values_keys(d):
    total = sum(np.sum(v**2) for v in d.values())
    for k in d.keys():
        total = total + np.sum(d[k])
    return total


def dict_get_default(d, x):
    scale = d.get("scale", 1.0)
    shift = d.get("shift", np.zeros_like(x))
    return np.sum((x * scale + shift) ** 2)


def make_dict_in_function(x):
    d = dict(a=x, b=np.sin(x), c=x * x)
    return np.sum(d["a"] * d["b"]) - np.sum(d["c"])


def dict_isinstance(d):
    out = 0.0
    for v in d.values():
        if isinstance(v, dict):
            out = out + np.sum(v["w"] ** 3)
        else:
            out = out + np.sum(v)
    return out


def list_getter(xs):
    return xs[0] * np.sum(xs[1] ** 2) + np.sum(xs[2][1])


def list_slices(xs):
    head = xs[:2]
    tail = xs[2:]
    return sum(np.sum(a * a) for a in head) + sum(np.sum(np.cos(b)) for b in tail)


def nested_list(xs):
    return np.sum(xs[0][0] * xs[0][1]) + np.sum(xs[1][0])


def make_list_in_function(x):
    ys = [x, np.exp(x), x**2]
    ys.append(np.sin(ys[1]))
    return np.sum(ys[0] * ys[3]) + np.sum(ys[2])


def list_isinstance(xs):
    total = 0.0
    for v in xs:
        if isinstance(v, (list, tuple)):
            total = total + sum(np.sum(u) for u in v)
        elif isinstance(v, float):
            total = total + v**2
        else:
            total = total + np.sum(v**2)
    return total


def tuple_getter(t):
    a, b, c = t
    return np.sum(a * b) + c * np.sum(a)


def tuple_make_and_unpack(x):
    t = (x, x * 2.0, np.cos(x))
    first, *rest = t
    return np.sum(first * rest[0] * rest[1])


def tuple_of_tuples(t):
    (a, b), (c, d) = t
    return np.sum(a * d) - np.sum(b * c)


# ------------------------------------------------------------------ autograd test_builtins/scalar_ops


def builtins_isinstance_float(x, c):
    if isinstance(c, float):
        return np.sum(x * c)
    return np.sum(x)


def builtins_abs_min_max(x):
    return abs(x[0]) + max(x[1], x[2]) - min(x[0], x[2]) * x[1]


def scalar_mod(a, b):
    return np.mod(a, b) * a


def scalar_fmod(a, b):
    return np.fmod(a, b) + a * b


def scalar_hypot(a, b):
    return np.hypot(a, b) ** 2 + np.hypot(a, 2.0 * b)


def scalar_arctan2(a, b):
    return np.arctan2(a, b) * a


def scalar_sinc(a):
    return np.sinc(a) + np.sinc(2.0 * a)


def scalar_log_chain(x):
    return np.log10(x) + np.log2(x) + np.log1p(x) + np.expm1(x) * np.log(x)


def scalar_power_reverse(x):
    return np.power(2.0, x) + x ** np.abs(x)


def math_module_floats(x):
    return math.sin(x) * math.exp(-x) + math.sqrt(x) * math.log(x)


def scalar_reciprocal_cbrt(x):
    return np.sum(np.reciprocal(x) + np.cbrt(x) * np.square(x))


# ------------------------------------------------------------------ autograd test_systems


def einsum_matmult(a, b):
    return np.sum(np.einsum("ij,jk->ik", a, b) ** 2)


def einsum_covsum(a, b):
    return np.sum(np.einsum("ijk,lji->lki", a, b))


def einsum_transpose(a):
    return np.sum(np.einsum("ij->ji", a) * np.arange(6.0).reshape(3, 2))


def einsum_three_args(a, b, c):
    return np.einsum("ij,jk,k->", a, b, c)


def einsum_ellipsis(a, b):
    return np.sum(np.einsum("...ij,...jk->...ik", a, b) ** 2)


def einsum_trace_diag(a):
    return np.einsum("ii", a) + np.sum(np.einsum("ii->i", a) ** 2)


def tensordot_kwargs(a, b):
    return np.sum(np.tensordot(a, b, axes=([1, 2], [0, 1])) ** 2)


def tensordot_int_axes(a, b):
    return np.sum(np.sin(np.tensordot(a, b, axes=1)))


def outer_inner_kron(a, b):
    return np.sum(np.outer(a, b) ** 2) + np.inner(a, a) * np.sum(np.kron(a, b))


# ------------------------------------------------------------------ micrograd test_engine


def micrograd_sanity(x):
    z = 2 * x + 2 + x
    q = max(z, 0.0) + z * x
    h = max(z * z, 0.0)
    y = h + q + q * x
    return y


def micrograd_more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + max(b + a, 0.0)
    d += 3 * d + max(b - a, 0.0)
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def micrograd_tanh_neuron(w, x, b):
    n = sum(wi * xi for wi, xi in zip(w, x)) + b
    e = math.exp(2 * n)
    return (e - 1) / (e + 1)


# ------------------------------------------------------------------ PyTorch gradcheck cases


def torch_addcmul(a, b, c):
    return np.sum(a + 0.5 * b * c)


def torch_addmm(m, a, b):
    return np.sum(np.tanh(0.3 * m + 1.2 * (a @ b)))


def torch_logsumexp_dim(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(x - m), axis=1)))


def torch_cumprod_dim(x):
    return np.sum(np.cumprod(x, axis=1) * np.arange(1.0, 5.0))


def torch_norm_p(x):
    return np.linalg.norm(x, ord=3) + np.linalg.norm(x.reshape(2, 3), ord="fro")


def torch_pdist(x):
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            total = total + np.sqrt(np.sum((x[i] - x[j]) ** 2))
    return total


def torch_renorm_like(x, maxnorm=1.0):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    scale = np.where(norms > maxnorm, maxnorm / norms, 1.0)
    return np.sum((x * scale) ** 2 * np.arange(1.0, 4.0))


def torch_cdist(a, b):
    d = np.sqrt(np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1))
    return np.sum(d * d * d)


def torch_trace_of_product(a, b):
    return np.trace(a @ b) + np.trace(np.triu(a) @ np.tril(b, -1).T)


def torch_masked_fill(x, mask):
    y = np.where(mask, -1e9, x)
    e = np.exp(y - np.max(y, axis=-1, keepdims=True))
    p = e / np.sum(e, axis=-1, keepdims=True)
    return np.sum(p * x)


def torch_index_add(x, idx, src):
    out = x.copy()
    np.add.at(out, idx, src)
    return np.sum(out**2)


def torch_gather(x, idx):
    return np.sum(np.take_along_axis(x, idx, axis=1) ** 2)


def torch_lerp(start, end, w):
    return np.sum((start + w * (end - start)) ** 2)


POS = np.abs(r(3)) + 0.5
MASK = np.array([[False, True, False, False], [True, False, False, True]])

CASES = [
    # autograd test_graphs
    Case("ag_grad_fanout", grad_fanout, (r(4),), order=2),
    Case("ag_grad_const", grad_const, (r(3),)),
    Case("ag_grad_identity", grad_identity, (r(3),), kind="jac"),
    Case("ag_enclosing_scope_ref", enclosing_scope_ref, (r(3),), order=2),
    Case("ag_name_written_twice", name_written_twice, (r(4),), order=2),
    Case("ag_mutating_outgrad", mutating_outgrad, (r(3), r(3)), wrt=(0, 1), order=2),
    Case("ag_third_order_poly", third_order_poly, (r(3),), order=2),
    Case(
        "ag_complex_real_imag_refused",
        complex_separate_real_imag,
        (r(2),),
        refused=(NoRuleError, "split into real and imaginary parts"),
    ),
    Case("ag_shared_value", grad_and_aux_shared, (r(4),), order=2),
    # test_dict / test_list / test_tuple
    Case("ag_dict_getter", dict_getter, ({"item_1": r(3), "item_2": (r(2), r(2))},), order=2),
    Case("ag_dict_grads_both", dict_grads, ({"a": r(3), "b": r(3)}, r(3)), wrt=(0, 1), order=2),
    Case("ag_dict_iter_items", dict_iter_items, ({"ab": r(2), "cde": r(3)},), order=2),
    Case("ag_dict_values_keys", dict_values_keys, ({"a": r(2), "b": r(2, 2)},), order=2),
    Case("ag_dict_get_default", dict_get_default, ({"scale": 1.5}, r(3)), wrt=(0, 1), order=2),
    Case("ag_dict_get_default_missing", dict_get_default, ({"shift": r(3)}, r(3)), wrt=(0, 1)),
    Case("ag_make_dict_in_function", make_dict_in_function, (r(3),), order=2),
    Case("ag_dict_isinstance", dict_isinstance, ({"a": r(2), "n": {"w": r(3)}},), order=2),
    Case("ag_list_getter", list_getter, ([0.7, r(3), [r(2), r(2)]],), order=2),
    Case("ag_list_slices", list_slices, ([r(2), r(2), r(3), r(1)],), order=2),
    Case("ag_nested_list", nested_list, ([[r(2), r(2)], [r(3)]],), order=2),
    Case("ag_make_list_in_function", make_list_in_function, (r(3),), order=2),
    Case("ag_list_isinstance", list_isinstance, ([r(2), (r(2), r(1)), 0.4],), order=2),
    Case("ag_tuple_getter", tuple_getter, ((r(3), r(3), 0.3),), order=2),
    Case("ag_tuple_make_unpack", tuple_make_and_unpack, (r(3),), order=2),
    Case("ag_tuple_of_tuples", tuple_of_tuples, (((r(2), r(2)), (r(2), r(2))),), order=2),
    # builtins / scalar ops
    Case("ag_isinstance_float_arg", builtins_isinstance_float, (r(3), 0.6), wrt=(0, 1)),
    Case("ag_abs_min_max", builtins_abs_min_max, (np.array([-0.7, 0.3, 1.1]),)),
    Case("ag_scalar_mod", scalar_mod, (2.7, 1.3), wrt=(0, 1)),
    Case("ag_scalar_fmod", scalar_fmod, (-2.7, 1.3), wrt=(0, 1)),
    Case("ag_scalar_hypot", scalar_hypot, (0.8, -1.4), wrt=(0, 1), order=2),
    Case("ag_scalar_arctan2", scalar_arctan2, (0.8, -1.4), wrt=(0, 1), order=2),
    Case("ag_scalar_sinc", scalar_sinc, (0.37,), order=2),
    Case("ag_scalar_log_chain", scalar_log_chain, (1.7,), order=2),
    Case("ag_scalar_power_reverse", scalar_power_reverse, (0.9,), order=2),
    Case("ag_math_module_floats", math_module_floats, (1.3,), order=2),
    Case("ag_reciprocal_cbrt", scalar_reciprocal_cbrt, (POS,), order=2),
    # test_systems
    Case("ag_einsum_matmult", einsum_matmult, (r(2, 3), r(3, 2)), wrt=(0, 1), order=2),
    Case("ag_einsum_covsum", einsum_covsum, (r(2, 3, 2), r(2, 3, 2)), wrt=(0, 1)),
    Case("ag_einsum_transpose", einsum_transpose, (r(2, 3),)),
    Case("ag_einsum_three_args", einsum_three_args, (r(2, 3), r(3, 2), r(2)), wrt=(0, 1, 2)),
    Case("ag_einsum_ellipsis", einsum_ellipsis, (r(2, 2, 3), r(2, 3, 2)), wrt=(0, 1), order=2),
    Case("ag_einsum_trace_diag", einsum_trace_diag, (r(3, 3),), order=2),
    Case("ag_tensordot_kwargs", tensordot_kwargs, (r(2, 3, 2), r(3, 2, 2)), wrt=(0, 1)),
    Case("ag_tensordot_int_axes", tensordot_int_axes, (r(2, 3), r(3, 2)), wrt=(0, 1), order=2),
    Case("ag_outer_inner_kron", outer_inner_kron, (r(2), r(2)), wrt=(0, 1), order=2),
    # micrograd test_engine
    Case("mg_sanity_check", micrograd_sanity, (-4.0,), order=2),
    Case("mg_more_ops", micrograd_more_ops, (-4.0, 2.0), wrt=(0, 1), rtol=1e-4, order=2),
    Case("mg_tanh_neuron", micrograd_tanh_neuron, ([2.0, 0.0], [-3.0, 1.0], 6.88), wrt=(0, 2)),
    # PyTorch gradcheck cases
    Case("pt_addcmul", torch_addcmul, (r(3), r(3), r(3)), wrt=(1, 2)),
    Case("pt_addmm", torch_addmm, (r(2, 2), r(2, 3), r(3, 2)), wrt=(0, 1, 2), order=2),
    Case("pt_logsumexp_dim", torch_logsumexp_dim, (r(2, 4),), order=2),
    Case("pt_cumprod_dim", torch_cumprod_dim, (r(2, 4),), order=2),
    Case("pt_norm_p", torch_norm_p, (r(6),), order=2),
    Case("pt_pdist", torch_pdist, (r(4, 2),), order=2),
    Case("pt_renorm", torch_renorm_like, (r(3, 3) * 0.8,)),
    Case("pt_cdist_cubed", torch_cdist, (r(3, 2), r(2, 2)), wrt=(0, 1), order=2),
    Case("pt_trace_tri", torch_trace_of_product, (r(3, 3), r(3, 3)), wrt=(0, 1)),
    Case("pt_masked_fill_softmax", torch_masked_fill, (r(2, 4), MASK), order=2),
    Case("pt_index_add", torch_index_add, (r(4), np.array([0, 2, 2]), r(3)), wrt=(0, 2)),
    Case("pt_gather", torch_gather, (r(3, 4), np.array([[0, 3], [1, 1], [2, 0]]))),
    Case("pt_lerp", torch_lerp, (r(3), r(3), 0.3), wrt=(0, 1, 2), order=2),
]


@pytest.mark.parametrize("case", params(CASES))
def test_autograd_suite(case):
    check(case)
