"""The same models in many parameter idioms (``tests/model_idioms.py``): sourcegrad must give
the right gradient whatever container / loop / helper style the parameters are used in.

For every (model, idiom):

1. ``value_and_grad``'s value equals the loss called directly;
2. the gradient equals central finite differences on calls 1, 2 and 3 (the shape-specialised,
   optimized code runs from the second call on), and has the structure and types of params;
3. the gradient equals that of the model's first idiom (mapped to canonical names);
4. ``hvp(loss)(params, x, y, v)`` equals central differences of the gradient along ``v``.

Cases sourcegrad does not handle yet are marked ``xfail(strict=True)`` with their cause, so the
marks fail loudly once fixed.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import sourcegrad as sg

from . import model_idioms as m

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-6
HVP_EPS = 1e-5

# ------------------------------------------------------------------------------- tree helpers


def _is_nt(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def leaves(tree, path=()):
    """``(path, leaf)`` for every numeric leaf (arrays and floats; strings are skipped)."""
    if isinstance(tree, dict):
        for k in tree:
            yield from leaves(tree[k], path + (k,))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from leaves(v, path + (i,))
    elif _is_record(tree):
        for f in dataclasses.fields(tree):
            yield from leaves(getattr(tree, f.name), path + (f.name,))
    elif isinstance(tree, (np.ndarray, float, np.floating)):
        yield path, tree


def _is_record(x):
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def get(tree, path):
    for k in path:
        tree = getattr(tree, k) if _is_record(tree) else tree[k]
    return tree


def replace(tree, path, value):
    if not path:
        return value
    k, rest = path[0], path[1:]
    if _is_record(tree):
        return dataclasses.replace(tree, **{k: replace(getattr(tree, k), rest, value)})
    if isinstance(tree, dict):
        new = type(tree)(tree)
        new[k] = replace(tree[k], rest, value)
        return new
    items = list(tree)
    items[k] = replace(tree[k], rest, value)
    if _is_nt(tree):
        return type(tree)(*items)
    return type(tree)(items)


def tree_axpy(a, v, p):
    """``p + a * v`` leaf by leaf (``v`` shaped like ``p``)."""
    out = p
    for path, leaf in leaves(p):
        out = replace(out, path, leaf + a * np.asarray(get(v, path)))
    return out


def same_structure(a, b, path="params"):
    """Assert that ``a`` and ``b`` have the same containers (types, keys, lengths)."""
    if isinstance(a, (dict, list, tuple)):
        assert type(a) is type(b), f"{path}: {type(b).__name__} where params has {type(a).__name__}"
        assert len(a) == len(b), f"{path}: length {len(b)} != {len(a)}"
        if isinstance(a, dict):
            assert list(a) == list(b), f"{path}: keys {list(b)} != {list(a)}"
            for k in a:
                same_structure(a[k], b[k], f"{path}[{k!r}]")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                same_structure(x, y, f"{path}[{i}]")
    elif _is_record(a):
        assert type(a) is type(b), f"{path}: {type(b).__name__} where params has {type(a).__name__}"
        for f in dataclasses.fields(a):
            same_structure(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert np.shape(b) == a.shape, f"{path}: shape {np.shape(b)} != {a.shape}"


def canonical(case, tree):
    """The tree (the gradient or an HVP, shaped like params) as one flat vector, canonical order."""
    base, _ = m.MODELS[case.model]
    names = list(base())
    d = case.unpack(tree)
    return np.concatenate([np.ravel(np.asarray(d[k], dtype=np.float64)) for k in names])


# ---------------------------------------------------------------------------------- fixtures


def setup(case):
    base, data = m.MODELS[case.model]
    x, y = data()
    return case.pack(base()), x, y


def direction(case):
    """A fixed random tree shaped like params, for the Hessian-vector product."""
    base, _ = m.MODELS[case.model]
    r = np.random.default_rng(99)
    b = {k: r.normal(size=np.shape(a)) for k, a in base().items()}
    return case.pack(b)


@functools.cache
def fd_grad(key):
    """Central differences of the loss w.r.t. every leaf of params, as a canonical vector."""
    case = CASES[key]
    params, x, y = setup(case)
    g = params
    for path, leaf in leaves(params):
        arr = np.array(leaf, dtype=np.float64)
        gl = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            xp, xm = arr.copy(), arr.copy()
            xp[idx] += EPS
            xm[idx] -= EPS
            fp = case.loss(replace(params, path, xp if arr.shape else float(xp)), x, y)
            fm = case.loss(replace(params, path, xm if arr.shape else float(xm)), x, y)
            gl[idx] = (fp - fm) / (2 * EPS)
        g = replace(g, path, gl)
    return canonical(case, g)


@functools.cache
def shared_grad(key):
    """One ``sg.grad`` per case for the checks that do not count calls (saves transforms)."""
    return sg.grad(CASES[key].loss)


@functools.cache
def ref_grad(model):
    ref = CASES[REF[model]]
    return canonical(ref, shared_grad(REF[model])(*setup(ref)))


# ------------------------------------------------------------------------------------- cases

CASES = {(c.model, c.name): c for c in m.IDIOMS}
# The idiom each model's others are compared with (one that passes every check).
REF = {
    "mlp": ("mlp", "flat_dict_inline"),
    "cnn": ("cnn", "list_of_dicts_inline_conv"),
    "lstm": ("lstm", "flat_dict_cell_stack"),
    "attn": ("attn", "flat_dict_helpers"),
}

# Known failures: {(model, idiom): {check: reason}} (check in "value", "grad", "agree", "hvp").

ALL = ("value", "grad", "agree", "hvp")


def _all(reason, hvp=None):
    out = {k: reason for k in ALL}
    if hvp:
        out["hvp"] = hvp
    return out


XFAIL: dict[tuple, dict[str, str]] = {}


def params_for(check):
    out = []
    for key in CASES:
        reason = XFAIL.get(key, {}).get(check)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(key, id=f"{key[0]}-{key[1]}", marks=marks))
    return out


def assert_close(got, want, rtol=RTOL, atol=ATOL, what=""):
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    if np.any(err > 0):
        k = int(np.argmax(err))
        raise AssertionError(
            f"{what}: worst element {k}: got {got[k]!r}, want {want[k]!r}; "
            f"max abs diff {np.max(np.abs(got - want)):.3g}"
        )


# -------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("key", params_for("value"))
def test_value(key):
    case = CASES[key]
    params, x, y = setup(case)
    want = case.loss(params, x, y)
    vg = sg.value_and_grad(case.loss)
    for call in (1, 2):
        value, _ = vg(params, x, y)
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=0, err_msg=f"call {call}")


@pytest.mark.parametrize("key", params_for("grad"))
def test_grad_fd(key):
    case = CASES[key]
    params, x, y = setup(case)
    want = fd_grad(key)
    df = sg.grad(case.loss)
    for call in (1, 2, 3):
        g = df(params, x, y)
        same_structure(params, g)
        assert_close(canonical(case, g), want, what=f"call {call}")


@pytest.mark.parametrize("key", params_for("agree"))
def test_idioms_agree(key):
    case = CASES[key]
    want = ref_grad(case.model)
    params, x, y = setup(case)
    df = shared_grad(key)
    for call in (1, 2):
        got = canonical(case, df(params, x, y))
        assert_close(got, want, rtol=1e-9, atol=1e-12, what=f"call {call} vs {REF[case.model][1]}")


@pytest.mark.parametrize("key", params_for("hvp"))
def test_hvp(key):
    case = CASES[key]
    params, x, y = setup(case)
    v = direction(case)
    df = shared_grad(key)
    gp = canonical(case, df(tree_axpy(HVP_EPS, v, params), x, y))
    gm = canonical(case, df(tree_axpy(-HVP_EPS, v, params), x, y))
    want = (gp - gm) / (2 * HVP_EPS)
    hv = sg.hvp(case.loss)
    for call in (1, 2):
        got = hv(params, x, y, v)
        same_structure(params, got)
        assert_close(canonical(case, got), want, rtol=1e-5, atol=1e-6, what=f"call {call}")
