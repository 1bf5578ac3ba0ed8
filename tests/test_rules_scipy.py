"""The rules of ``sourcegrad/rules/scipy_special.py`` (``scipy.special`` and
``scipy.stats.norm``), through the public API against central differences in float64, to
second order (:func:`tests.fd.check`: gradient, ``jvp``, ``hvp``), with ``value_and_grad``
called three times (the shape-specialised code runs from the second call on). Any other scipy
function is refused, naming the user's line, never transformed from scipy's source. Without
scipy, sourcegrad imports and works, and these tests skip saying why."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sourcegrad as sg

from .fd import check, numerical_grad, output_shape, weights

try:
    import scipy.linalg
    import scipy.special as special
    import scipy.stats as stats
except ImportError:  # pragma: no cover - scipy is optional
    special = stats = None

needs_scipy = pytest.mark.skipif(
    special is None,
    reason="scipy is not installed: the scipy.special and scipy.stats.norm rules register "
    "only where it imports",
)

R = np.random.default_rng(17)
UNIT = R.uniform(0.15, 0.85, (3, 4))  # inside (0, 1): logit
POS = R.uniform(0.4, 2.5, (3, 4))
ANY = R.uniform(-1.8, 1.8, (3, 4))
ROW = R.uniform(0.5, 1.5, 4)

# the methods of the scipy.stats.norm object, as globals of their own
if stats is not None:
    PDF, LOGPDF, CDF, LOGCDF, SF = (
        stats.norm.pdf,
        stats.norm.logpdf,
        stats.norm.cdf,
        stats.norm.logcdf,
        stats.norm.sf,
    )


def u_expit(x, w):
    return np.sum(w * np.sin(special.expit(x)))


def u_logit(x, w):
    return np.sum(w * np.sin(special.logit(x)))


def u_erf(x, w):
    return np.sum(w * np.sin(special.erf(x)))


def u_erfc(x, w):
    return np.sum(w * np.sin(special.erfc(x)))


def u_gammaln(x, w):
    return np.sum(w * np.sin(special.gammaln(x)))


def u_digamma(x, w):
    return np.sum(w * np.sin(special.digamma(x)))


def u_psi(x, w):
    return np.sum(w * np.sin(special.psi(x)))


def u_polygamma(x, w):
    return np.sum(w * np.sin(special.polygamma(1, x) + special.polygamma(2, x)))


def b_xlogy(x, y, w):
    return np.sum(w * np.sin(special.xlogy(x, y)))


def b_xlog1py(x, y, w):
    return np.sum(w * np.sin(special.xlog1py(x, y)))


def r_logsumexp(x, w):
    return np.sum(w * np.sin(special.logsumexp(x)))


def r_logsumexp_axis(x, w):
    return np.sum(w * np.sin(special.logsumexp(x, axis=1)))


def r_logsumexp_keepdims(x, w):
    return np.sum(w * np.sin(special.logsumexp(x, axis=0, keepdims=True)))


def r_logsumexp_b(x, b, w):
    return np.sum(w * np.sin(special.logsumexp(x, axis=-1, b=b)))


def r_softmax(x, w):
    return np.sum(w * np.sin(special.softmax(x, axis=1)))


def r_softmax_all(x, w):
    return np.sum(w * np.sin(special.softmax(x)))


def r_log_softmax(x, w):
    return np.sum(w * np.sin(special.log_softmax(x, axis=0)))


def r_log_softmax_all(x, w):
    return np.sum(w * np.sin(special.log_softmax(x)))


def n_pdf(x, loc, scale, w):
    return np.sum(w * np.sin(PDF(x, loc, scale)))


def n_logpdf(x, loc, scale, w):
    return np.sum(w * np.sin(LOGPDF(x, loc=loc, scale=scale)))


def n_cdf(x, loc, scale, w):
    return np.sum(w * np.sin(CDF(x, loc, scale=scale)))


def n_logcdf(x, loc, scale, w):
    return np.sum(w * np.sin(LOGCDF(x, loc, scale)))


def n_sf(x, loc, scale, w):
    return np.sum(w * np.sin(SF(x, loc, scale)))


def n_standard(x, w):
    return np.sum(w * np.sin(PDF(x) + LOGPDF(x) + CDF(x) + LOGCDF(x) + SF(x)))


def n_direct(x, loc, scale, w):
    return np.sum(w * np.sin(stats.norm.pdf(x, loc, scale) + stats.norm.cdf(x, loc=loc)))


# (function, arguments without w, wrt)
CASES = [
    (u_expit, (ANY,), 0),
    (u_logit, (UNIT,), 0),
    (u_erf, (ANY,), 0),
    (u_erfc, (ANY,), 0),
    (u_gammaln, (POS,), 0),
    (u_digamma, (POS,), 0),
    (u_psi, (POS,), 0),
    (u_polygamma, (POS,), 0),
    (b_xlogy, (ANY, POS), (0, 1)),
    (b_xlogy, (ANY, ROW), (0, 1)),
    (b_xlog1py, (ANY, POS), (0, 1)),
    (r_logsumexp, (ANY,), 0),
    (r_logsumexp_axis, (ANY,), 0),
    (r_logsumexp_keepdims, (ANY,), 0),
    (r_logsumexp_b, (ANY, POS), (0, 1)),
    (r_logsumexp_b, (ANY, ROW), (0, 1)),
    (r_softmax, (ANY,), 0),
    (r_softmax_all, (ANY,), 0),
    (r_log_softmax, (ANY,), 0),
    (r_log_softmax_all, (ANY,), 0),
    (n_pdf, (ANY, ROW - 1.0, POS), (0, 1, 2)),
    (n_logpdf, (ANY, 0.3, ROW), (0, 1, 2)),
    (n_cdf, (ANY, ROW - 1.0, POS), (0, 1, 2)),
    (n_logcdf, (ANY, ROW - 1.0, POS), (0, 1, 2)),
    (n_sf, (ANY, -0.2, 1.3), (0, 1, 2)),
    (n_standard, (ANY,), 0),
]


def _id(case):
    f, args, _ = case
    return f"{f.__name__}-{'-'.join('x'.join(map(str, np.shape(a))) or 'float' for a in args)}"


@needs_scipy
@pytest.mark.parametrize("f, args, wrt", CASES, ids=[_id(c) for c in CASES])
def test_rule_to_second_order(f, args, wrt):
    check(f, *args, wrt=wrt)


@needs_scipy
@pytest.mark.parametrize("f, args, wrt", CASES, ids=[_id(c) for c in CASES])
def test_rule_on_later_calls(f, args, wrt):
    w = weights(output_shape(f, args), seed=3)
    full = (*args, w)
    idxs = wrt if isinstance(wrt, tuple) else (wrt,)
    expected = [numerical_grad(f, full, i) for i in idxs]
    df = sg.value_and_grad(f, wrt)
    for _ in range(3):
        value, got = df(*full)
        np.testing.assert_allclose(value, f(*full), rtol=1e-12)
        got = got if isinstance(wrt, tuple) else (got,)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-7)


@needs_scipy
def test_norm_methods_named_through_the_object():
    check(n_direct, ANY, ROW - 1.0, POS, wrt=(0, 1, 2))


# ============================================================================ refusals


def other_special(x):
    return np.sum(special.gamma(x))  # REFUSED


def other_linalg(a):
    return np.sum(scipy.linalg.sqrtm(a))  # REFUSED


def other_stats(x):
    return np.sum(LOGSF(x))  # REFUSED


def logsumexp_with_sign(x):
    return special.logsumexp(x, return_sign=True)[0]  # REFUSED


if stats is not None:
    LOGSF = stats.norm.logsf


def marked_line(f):
    lines, start = inspect.getsourcelines(f)
    return next(n for n, line in enumerate(lines, start) if line.rstrip().endswith("# REFUSED"))


REFUSALS = [
    (other_special, "sourcegrad.def"),
    (other_linalg, "sourcegrad.def"),
    (other_stats, "sourcegrad.def"),
    (logsumexp_with_sign, "return_sign"),
]


@needs_scipy
@pytest.mark.parametrize("f, hint", REFUSALS, ids=[f.__name__ for f, _ in REFUSALS])
@pytest.mark.parametrize("make", ["grad", "jvp"])
def test_other_scipy_functions_are_refused(f, hint, make):
    """A scipy function without a rule is refused at the user's line, with the way out
    (a rule: ``sg.defvjp``/``sg.primitive``); scipy's source is never transformed."""
    x = POS[:3, :3]
    where = f"{inspect.getsourcefile(f)}:{marked_line(f)}: "
    with pytest.raises(sg.SourcegradError) as info:
        if make == "grad":
            sg.grad(f)(x)
        else:
            sg.jvp(f)(x, np.ones_like(x))
    message = str(info.value)
    if make == "grad" or f is not other_stats:
        # (forward mode names no line for a bound method found only when the call runs)
        assert message.startswith(where), message
    assert hint in message, message


def run_program(tmp_path, text):
    """Run ``text`` as a program of its own (a fresh interpreter); returns its output."""
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent(text))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, str(program)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_sourcegrad_works_without_scipy(tmp_path):
    """With scipy unimportable, sourcegrad imports, registers no scipy rule and
    differentiates as before."""
    out = run_program(
        tmp_path,
        """
        import sys

        sys.modules["scipy"] = None  # `import scipy` raises ImportError
        import numpy as np

        import sourcegrad as sg
        from sourcegrad.rules import scipy_special


        def f(x):
            return np.sum(np.linalg.svd(x, compute_uv=False) ** 2)


        assert scipy_special.scipy is None
        x = np.arange(6.0).reshape(2, 3)
        assert np.allclose(sg.grad(f)(x), 2 * x)
        print("ok")
        """,
    )
    assert out == "ok"


@needs_scipy
def test_rules_register_when_scipy_stats_is_imported_after_sourcegrad(tmp_path):
    """``import sourcegrad`` does not import ``scipy.stats`` (about a second); the rules of
    ``scipy.stats.norm`` are registered when the program imports it, and the import hook
    then leaves ``sys.meta_path``."""
    out = run_program(
        tmp_path,
        """
        import sys

        import numpy as np

        import sourcegrad as sg

        assert "scipy.stats" not in sys.modules
        from scipy.special import expit
        from scipy.stats import norm

        PDF = norm.pdf


        def f(x):
            return np.sum(expit(x) * PDF(x, 0.5, 2.0))


        x = np.linspace(-1.0, 1.0, 5)
        t = (x - 0.5) / 2.0
        pdf = np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi) / 2.0
        s = 1.0 / (1.0 + np.exp(-x))
        assert np.allclose(sg.grad(f)(x), s * (1 - s) * pdf - s * pdf * t / 2.0)
        assert not any(type(m).__name__ == "RegisterOnImport" for m in sys.meta_path)
        print("ok")
        """,
    )
    assert out == "ok"
