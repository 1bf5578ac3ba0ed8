"""Random polynomial programs against central differences: named products of products
(``s0 = x * x``, ``s1 = 3.0 * s0 * y``) and sums of signed products of them, the shapes the
like-term collection and the accumulation merging of ``simplify`` rewrite most. Two of their
bugs gave silently wrong gradients on such programs (a copy of a product taken for a product,
an accumulation merged across a store in between); a review's fuzzer found them. Gradients in
reverse mode (running code and ``optimize=False``) and Hessian-vector products are checked,
for scalar variables and for arrays summed at the end. Fixed seed (``derandomize``)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sourcegrad as sg

COEFFICIENTS = ("2.0", "3.0", "0.5", "-1.0", "-3.0", "1.5", "7.0", "0.3", "2", "3")


@st.composite
def polynomial_programs(draw):
    """``(source, number of variables, arrays)``: a function ``f`` of 1-3 variables."""
    n = draw(st.integers(1, 3))
    arrays = draw(st.booleans())
    names = ["x", "y", "z"][:n]

    def product(pool):
        k = draw(st.integers(1, 4))
        factors = [draw(st.sampled_from(pool + list(COEFFICIENTS[:3]))) for _ in range(k)]
        if not any(f in pool for f in factors):
            factors.append(draw(st.sampled_from(pool)))
        return " * ".join(factors)

    lines = []
    pool = list(names)
    for i in range(draw(st.integers(0, 3))):
        lines.append(f"    s{i} = {product(pool)}")
        pool.append(f"s{i}")
    terms = [product(pool) for _ in range(draw(st.integers(2, 5)))]
    total = terms[0]
    for t in terms[1:]:
        total += draw(st.sampled_from([" + ", " - "])) + t
    ret = f"np.sum({total})" if arrays else total
    source = f"import numpy as np\n\n\ndef f({', '.join(names)}):\n"
    source += "\n".join(lines + [f"    return {ret}"]) + "\n"
    return source, n, arrays


def _load(tmp_path, source, counter=[0]):  # noqa: B006 - a module name per program
    counter[0] += 1
    path = tmp_path / f"poly_{counter[0]}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.f


def _differences(f, args, i, eps=1e-6):
    x = np.array(args[i], dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        a_up, a_down = list(args), list(args)
        a_up[i], a_down[i] = (up, down) if x.ndim else (float(up), float(down))
        g[idx] = (f(*a_up) - f(*a_down)) / (2 * eps)
    return g if x.ndim else float(g)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(polynomial_programs(), st.integers(0, 2**31 - 1))
def test_polynomial_programs_match_differences(tmp_path, program, seed):
    source, n, arrays = program
    f = _load(tmp_path, source)
    rng = np.random.default_rng(seed)
    args = [
        rng.uniform(0.5, 1.5, size=3) if arrays else float(rng.uniform(0.5, 1.5)) for _ in range(n)
    ]
    scale = max(1.0, abs(float(f(*args))))
    for i in range(n):
        want = _differences(f, args, i)
        for optimize in (True, False):
            df = sg.grad(f, i, optimize=optimize)
            for _ in range(2):
                got = df(*args)
                np.testing.assert_allclose(
                    got, want, rtol=1e-6, atol=1e-7 * scale, err_msg=f"{source}\nwrt {i}"
                )
        v = np.ones(3) if arrays else 1.0
        hv = sg.hvp(f, i)(*args, v)
        eps = 1e-5
        up, down = list(args), list(args)
        up[i], down[i] = args[i] + eps * v, args[i] - eps * v
        want_hv = (sg.grad(f, i)(*up) - sg.grad(f, i)(*down)) / (2 * eps)
        np.testing.assert_allclose(
            hv, want_hv, rtol=1e-5, atol=1e-5 * scale, err_msg=f"{source}\nhvp wrt {i}"
        )
