"""Start-up: what a first call does and does not pay for (no timings here: see
``benchmarks/startup.py``).

* A gradient call never formats text with black (only ``show``/``source``/``pretty`` do).
* ``import sourcegrad`` parses no rule template: a template is parsed when a build first
  reads its rule, once per template, not once per key it is registered for, and reading a
  template from the lines its code spans gives exactly the tree that parsing
  ``inspect.getsource`` gives (a template ending in a statement that compiles to nothing, a
  multi-line expression, a lambda refused as before).
"""

import ast
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad.errors import SourcegradError
from sourcegrad.rules import registry
from sourcegrad.rules.registry import d

ROOT = Path(__file__).resolve().parent.parent


def mlp(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h * h)


def mlp_args():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    return params, rng.standard_normal((2, 4))


def numerical(f, params, x, eps=1e-6):
    out = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][i] += eps
            minus[key][i] -= eps
            g[i] = (f(plus, x) - f(minus, x)) / (2 * eps)
        out[key] = g
    return out


# ---------------------------------------------------------------- black only for people
def test_gradient_calls_never_format_with_black(monkeypatch):
    """The first call (pure build) and the second (optimized, shape-specialised build) run
    without black; the derivative is still right on both."""
    import black

    def refuse(*args, **kwargs):
        raise AssertionError("black.format_str called while building a derivative")

    monkeypatch.setattr(black, "format_str", refuse)
    sg.api.clear_cache()
    params, x = mlp_args()
    want = numerical(mlp, params, x)
    df = sg.grad(mlp)
    for _ in range(3):  # first, optimizing and later calls
        got = df(params, x)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-8)


_WITHOUT_BLACK = textwrap.dedent("""
    import sys
    sys.modules["black"] = None  # any `import black` now raises ImportError
    import numpy as np
    import sourcegrad as sg

    def f(x):
        return np.sum(np.tanh(x) * x)

    x = np.linspace(-1.0, 1.0, 5)
    df = sg.grad(f)
    want = np.tanh(x) + x * (1.0 - np.tanh(x) ** 2)
    for _ in range(3):
        assert np.allclose(df(x), want)
    print("ok")
    """)


def test_import_and_gradients_run_without_black(tmp_path):
    script = tmp_path / "without_black.py"  # a file: sourcegrad reads the function's source
    script.write_text(_WITHOUT_BLACK)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


# ---------------------------------------------------------------- templates parsed once
def test_keys_of_one_template_share_its_parse():
    """``@diagonal_rule(np.abs, np.absolute, np.fabs, abs)``: one parse, four keys."""
    keys = (np.abs, np.absolute, np.fabs, abs)
    adjoints = [registry.ADJOINTS[k] for k in keys]
    assert all(r.body is adjoints[0].body for r in adjoints)
    assert [r.key for r in adjoints] == list(keys)
    tangents = [registry.TANGENTS[k] for k in keys]
    assert all(r.body is tangents[0].body for r in tangents)
    assert tangents[0].body is not adjoints[0].body  # the transpose is a tree of its own


_COUNT_PARSED = textwrap.dedent("""
    import numpy as np
    import sourcegrad as sg
    from sourcegrad.rules import registry

    def parsed():  # of the rules registered from a template (not made by code)
        rules = list(registry.ADJOINTS.values()) + list(registry.TANGENTS.values())
        templates = [r for r in rules if hasattr(r.fn, "__code__")]
        return sum("_deferred" not in r.__dict__ for r in templates), len(templates)

    print(*parsed())
    body = registry.ADJOINTS[np.tanh].body  # one template, read: its keys share the parse
    print(*parsed())
    """)


def test_import_parses_no_template_and_a_read_parses_one():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_PARSED], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (before, total), (after, _) = [map(int, line.split()) for line in done.stdout.split("\n")[:2]]
    assert total > 400
    assert before < total // 20  # (a few library rules shared under a second name are read)
    assert 1 <= after - before <= 4  # np.tanh's adjoint (keys of its template read later)


_OPTIONAL_AFTER = textwrap.dedent("""
    import sys
    import numpy as np
    import sourcegrad as sg

    print(sorted(m for m in ("scipy", "numexpr", "black", "graphviz") if m in sys.modules))
    import scipy.linalg  # imported after sourcegrad: its rules registered now, their
    import scipy.special  # templates reading the package as `scipy`

    def f(x):
        a = np.outer(x, x) + 3.0 * np.eye(3)
        return np.sum(scipy.special.gammaln(x * x + 1.0)) + np.sum(scipy.linalg.cholesky(a))

    x = np.array([0.3, 1.2, 2.0])
    df = sg.grad(f)
    eps = 1e-6
    want = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)]
    for _ in range(3):
        assert np.allclose(df(x), want, rtol=1e-6, atol=1e-8), (df(x), want)
    print("ok")
    """)


def test_import_leaves_optional_packages_until_used(tmp_path):
    script = tmp_path / "optional_after.py"  # a file: sourcegrad reads the function's source
    script.write_text(_OPTIONAL_AFTER)
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCEGRAD_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["[]", "ok"]


def test_deferred_rules_read_as_parsed_ones():
    """Every rule registered from a template reads, once parsed, what parsing its template
    gives (a diagonal tangent: the adjoint's transpose)."""
    for key in (np.tanh, np.matmul, np.sum, abs):
        rule, parsed = registry.ADJOINTS[key], registry.parse_template(registry.ADJOINTS[key].fn)
        assert _as_parsed(rule) == _as_parsed(parsed)
        for name in ("result", "params", "signature", "differentiable"):
            assert getattr(rule, name) == getattr(parsed, name), name
        assert rule.key is key and rule.where == parsed.where
    tangent = registry.TANGENTS[np.tanh]
    assert tangent.differentiable == frozenset({"x"})
    text = ast.unparse(gast.gast_to_ast(gast.Module(body=tangent.body, type_ignores=[])))
    assert text.startswith("d[z] +=") and "d[x]" in text


def _thrice(z, x):
    d[x] += d[z] * 3.0


def test_a_rule_read_by_threads_at_once_is_parsed_once(monkeypatch):
    import threading
    import time

    def key(x):
        return 3.0 * x

    parses = []

    def slow_parse(fn, key=None):
        parses.append(fn)
        time.sleep(0.05)  # every thread reads the rule while the first parses it
        return parse(fn, key)

    parse = registry.parse_template
    monkeypatch.setattr(registry, "parse_template", slow_parse)
    registry.adjoint(key)(_thrice)
    try:
        rule, bodies = registry.ADJOINTS[key], []
        threads = [threading.Thread(target=lambda: bodies.append(rule.body)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert parses == [_thrice] and len(bodies) == 6
        assert all(b is bodies[0] for b in bodies) and rule.differentiable == {"x"}
    finally:
        registry.ADJOINTS.pop(key, None)


def test_malformed_user_template_refused_at_registration():
    with pytest.raises(SourcegradError, match="must be a `def` function"):
        sg.defvjp(doubled, lambda z, x: None)

    def no_result():
        pass

    with pytest.raises(SourcegradError, match="needs a first parameter"):
        sg.defjvp(doubled, no_result)
    assert doubled not in registry.ADJOINTS and doubled not in registry.TANGENTS


def _as_inspect_parses(fn) -> str:
    node = gast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    body = [
        s
        for s in node.body
        if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))
    ]
    return gast.dump(gast.Module(body=body, type_ignores=[]), include_attributes=True)


def _as_parsed(rule) -> str:
    return gast.dump(gast.Module(body=rule.body, type_ignores=[]), include_attributes=True)


def test_every_registered_template_reads_as_inspect_would():
    seen = set()
    checked = 0
    for table in (registry.ADJOINTS, registry.TANGENTS):
        for rule in table.values():
            fn = rule.fn
            if not hasattr(fn, "__code__") or id(fn) in seen:
                continue
            seen.add(id(fn))
            assert _as_parsed(registry.parse_template(fn)) == _as_inspect_parses(fn), rule.where
            checked += 1
    assert checked > 150


def _ends_in_pass(z, x):
    d[x] += d[z] * 2.0
    pass


def _ends_in_string(z, x):
    d[x] += d[z] * 2.0
    "a string statement compiles to nothing"


def _multiline(z, x):
    d[x] += (
        d[z]
        * 2.0
        # a comment inside
    )


@pytest.mark.parametrize("template", [_ends_in_pass, _ends_in_string, _multiline])
def test_template_tails_read_as_inspect_would(template):
    assert _as_parsed(registry.parse_template(template)) == _as_inspect_parses(template)


def test_lambda_template_refused_as_before():
    with pytest.raises(SourcegradError, match="must be a `def` function"):
        registry.parse_template(lambda z, x: None)


def doubled(x):
    return 2.0 * x


def uses_doubled(x):
    return np.sum(doubled(x) ** 2)


def test_user_template_spanning_lines_differentiates():
    """A primitive's rule registered with defvjp, its template's last statement spanning
    lines: right on the first and later calls (the rule alone gives the derivative: the
    primitive's source is not read)."""
    sg.primitive(doubled)
    try:
        sg.defvjp(doubled, _multiline)
        sg.api.clear_cache()
        x = np.linspace(-1.0, 2.0, 4)
        df = sg.grad(uses_doubled)
        for _ in range(3):
            np.testing.assert_allclose(df(x), 8.0 * x, rtol=1e-12)
    finally:
        registry.PRIMITIVES.discard(doubled)
        registry.ADJOINTS.pop(doubled, None)
        sg.api.clear_cache()
