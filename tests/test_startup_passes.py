"""Start-up: the cheaper forms of the passes' common work give what the plain forms gave (no
timings here: see ``benchmarks/startup.py``).

* The build specialised to shapes starts from a copy of the core the first build normalized:
  the function is normalized once for its first two calls, and both calls are right; an
  hvp's two transforms of one gradient normalize it once for its ranks.
* simplify's fixpoint stops once every step has run on the same body without changing it:
  the same body as running whole rounds until one changes nothing, on any pattern of changes.
* ``walk_statements`` (one generator, a stack of blocks) gives the statements in the order,
  and reads each block when it reaches it, as the nested generators did.
* ``name_nodes`` / ``nodes_of`` give ``walk``'s nodes of those classes, in its order;
  ``clone`` copies a tree (facts included) into nodes of its own.
* An operation's label is unparsed only when a message reads it, and reads as before.
* Whether an operator runs a user class's method is asked of each operand's assignment found
  by name: no assignment target is unparsed per operator (it was: O(statements x operators)).
"""

import random
import textwrap

import gast
import numpy as np
import pytest

import sourcegrad as sg
from sourcegrad import pipeline
from sourcegrad.errors import SourcegradError
from sourcegrad.transform import normalize as normalize_module
from sourcegrad.transform import syntax as S
from sourcegrad.transform.node_facts import get_fact, set_fact
from sourcegrad.transform.simplify import run_to_fixpoint
from sourcegrad.transform.walk import walk_statements

from .fd import numerical_grad


def model(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    for _ in range(2):
        h = np.sin(h) * h
    return np.sum(h * h)


def model_args():
    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    return params, rng.standard_normal((5, 4))


# ---------------------------------------------------------------- one normalization
def test_shape_build_reuses_the_normalized_core(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))  # nothing read from disk
    calls = []
    real = pipeline.normalize

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "normalize", counted)
    params, x = model_args()
    sg.api.clear_cache()

    def loss(W, b):
        return model({"W": W, "b": b}, x)

    want = {k: numerical_grad(loss, [params["W"], params["b"]], i) for i, k in enumerate("Wb")}
    df = sg.grad(model)
    for k in range(3):  # rank build, shape build (optimized), the shape build again
        got = df(params, x)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-8)
        assert len(calls) == 1, f"call {k + 1} normalized the function again"


def test_shape_build_from_a_kept_core_matches_a_fresh_one(monkeypatch, tmp_path):
    """The optimized code the second call builds is the same text whether the core is the
    kept copy or normalized again."""
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path / "a"))
    params, x = model_args()
    sg.api.clear_cache()
    kept = sg.show(model, args=(params, x), optimized=True)
    monkeypatch.setattr(pipeline, "_copy_core", lambda core: None)  # no copy kept: normalize
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path / "b"))
    sg.api.clear_cache()
    assert sg.show(model, args=(params, x), optimized=True) == kept


def curved(x):
    return np.sum(np.sin(x) * x**2)


def _curved_gradient(x):
    return np.cos(x) * x**2 + 2 * x * np.sin(x)


def test_an_hvp_normalizes_its_gradient_once_per_ranks(monkeypatch, tmp_path):
    """An hvp's first call (forward mode returning the value too) and its later calls (the
    tangent alone) are two transforms of one gradient: it is normalized once for its ranks,
    again for other ranks; every call is right."""
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path))  # nothing read from disk
    generated = []
    real = normalize_module._Normalizer.run

    def counted(self):
        if self.p.filename.startswith("<sourcegrad"):
            generated.append(self.p.fn)
        return real(self)

    monkeypatch.setattr(normalize_module._Normalizer, "run", counted)
    sg.api.clear_cache()
    hv = sg.hvp(curved)
    rng = np.random.default_rng(3)
    for shape, normalized in (((4,), 1), ((3, 2), 2)):
        x, v = rng.uniform(0.2, 1.5, shape), rng.uniform(-1.0, 1.0, shape)
        eps = 1e-6
        want = (_curved_gradient(x + eps * v) - _curved_gradient(x - eps * v)) / (2 * eps)
        for _ in range(3):
            np.testing.assert_allclose(hv(x, v), want, rtol=1e-6, atol=1e-8)
        assert len(generated) == normalized, generated


# ---------------------------------------------------------------- the simplify fixpoint
def _whole_rounds(steps, rounds):
    """The plain fixpoint: whole rounds until one in which no step says it changed."""
    for _ in range(rounds):
        said = False
        for step in steps:
            said |= step()[0]
        if not said:
            return


def _model_steps(rng, n_steps, state, log):
    """Steps over an integer state: each, a deterministic function of the state, may change
    it (saying so or, as dead_stores may, not) or leave it."""
    table = {}

    def step(k):
        def run():
            key = (k, state[0])
            if key not in table:
                table[key] = rng.choice(["keep", "keep", "change", "silent"])
            kind = table[key]
            log.append(k)
            if kind == "keep":
                return False, False
            state[0] = (state[0] * 31 + k + 7) % 97
            return kind == "change", True

        return run

    return tuple(step(k) for k in range(n_steps))


@pytest.mark.parametrize("seed", range(200))
def test_fixpoint_leaves_what_whole_rounds_leave(seed):
    n, rounds = 1 + seed % 9, 1 + seed % 20
    states = []
    for fixpoint in (_whole_rounds, run_to_fixpoint):
        state, log = [seed], []
        steps = _model_steps(random.Random(seed), n, state, log)
        fixpoint(steps, rounds)
        states.append((state[0], log))
    (plain, plain_log), (fast, fast_log) = states
    assert fast == plain
    assert fast_log == plain_log[: len(fast_log)]  # the same steps, the tail of a round less


def test_fixpoint_skips_the_rest_of_a_round_that_can_change_nothing():
    log = []
    changes = iter([True])  # the first step changes the body once

    def first():
        log.append(0)
        changed = next(changes, False)
        return changed, changed

    def other(k):
        return lambda: (log.append(k), (False, False))[1]

    run_to_fixpoint((first, other(1), other(2)), rounds=20)
    assert log == [0, 1, 2, 0]  # steps 1 and 2 saw this body already


# ---------------------------------------------------------------- walks
def _nested_walk(body):
    for stmt in body:
        yield stmt
        for attr in ("body", "orelse"):
            yield from _nested_walk(getattr(stmt, attr, []) or [])


_NESTED = textwrap.dedent("""
    def f(x, n):
        a = x
        for i in range(n):
            if a > 0:
                a = a - 1
                while a > 5:
                    a = a / 2
                else:
                    b = 1
            elif a < -3:
                a = -a
            else:
                for j in range(2):
                    a = a + j
                else:
                    c = 2
        def g(y):
            return y + a
        return g(a)
    """)


def test_walk_statements_order_as_nested_generators():
    fn = gast.parse(_NESTED).body[0]
    got = list(walk_statements(fn.body))
    assert got == list(_nested_walk(fn.body))
    assert len(got) == 15


def test_walk_statements_reads_a_block_when_it_reaches_it():
    """A consumer that rewrites a statement's ``orelse`` before the walk reaches it sees the
    new block, as with nested generators."""
    for walker in (walk_statements, _nested_walk):
        fn = gast.parse(_NESTED).body[0]
        loop = fn.body[1]
        branch = loop.body[0]
        seen = []
        for stmt in walker(fn.body):
            seen.append(stmt)
            if stmt is branch:
                branch.orelse = [S.assign("z", S.const(0), 1)]
        texts = [S.text(s).splitlines()[0] for s in seen]
        assert "z = 0" in texts and "a = -a" not in texts


def test_name_nodes_and_nodes_of_follow_walk():
    fn = gast.parse(_NESTED).body[0]
    names = [n for n in S.walk(fn) if isinstance(n, gast.Name)]
    assert S.name_nodes(fn) == names
    kinds = (gast.Call, gast.BinOp)
    assert S.nodes_of(fn, kinds) == [n for n in S.walk(fn) if type(n) in kinds]
    assert S.loaded_names(fn) == [n.id for n in names if isinstance(n.ctx, gast.Load)]


def test_clone_is_a_deep_copy_with_facts():
    fn = gast.parse(_NESTED).body[0]
    set_fact(fn.body[0], "group", 3)
    copy = S.clone(fn)
    assert gast.dump(copy, include_attributes=True) == gast.dump(fn, include_attributes=True)
    assert get_fact(copy.body[0], "group") == 3
    originals = {id(n) for n in gast.walk(fn)}
    assert not any(id(n) in originals for n in gast.walk(copy))


# ---------------------------------------------------------------- labels made when read
def test_label_of_an_operation_reads_as_its_code():
    def f(x):
        return np.sum(np.fft.fft(x).real + x * 2.0)

    with pytest.raises(SourcegradError) as got:
        sg.grad(f)(np.ones(3))
    assert "np.fft.fft" in str(got.value)


# ---------------------------------------------------------------- operands found by name
def _chain(steps: int, folder):
    """``loss(x)`` of ``steps`` statements ``a_k = a_{k-1} * x + a_{k-1}``, written to a
    file of ``folder`` (sourcegrad reads the source)."""
    lines = ["def loss(x):", "    a0 = x"]
    lines += [f"    a{k} = a{k - 1} * x + a{k - 1}" for k in range(1, steps + 1)]
    lines.append(f"    return np.sum(a{steps})")
    path = folder / f"chain_{steps}.py"
    path.write_text("\n".join(lines) + "\n")
    scope = {"np": np}
    exec(compile(path.read_text(), str(path), "exec"), scope)
    return scope["loss"]


def test_operator_operands_are_not_unparsed_per_statement(monkeypatch, tmp_path):
    # whether `a * x` runs a user class's method is asked of each operand's one assignment,
    # found by its target's name: building unparses no target per operator and statement
    monkeypatch.setenv("SOURCEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    real, counts = S.text, []

    def counted(node):
        counts[-1] += 1
        return real(node)

    monkeypatch.setattr(S, "text", counted)
    x = np.linspace(0.1, 0.5, 4)
    for steps in (4, 16):
        counts.append(0)
        fn = _chain(steps, tmp_path)
        df = sg.grad(fn)
        for _ in range(3):
            got = df(x)
        assert np.allclose(got, numerical_grad(fn, (x,), 0), rtol=1e-6, atol=1e-8)
    assert counts[1] == counts[0]
