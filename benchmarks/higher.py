"""Second order on the seed MLP: Hessian-vector products and the time to build them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/higher.py [--quick]

Workload: the seed network of ``examples/mlp.py`` (100 -> 50 -> 10, tanh, log-softmax loss),
batch 1 and 256, float64. Candidates for ``H v`` (``v`` a random direction with the structure
of the parameters):

* ``hand-written``: the forward pass, the backward pass and its tangent (R-op) written out by
  hand in NumPy: the reference of the ratios;
* ``sourcegrad``: ``sg.hvp(neural_net)``: forward mode over the generated gradient;
* ``jax`` / ``jax.jit``: ``jax.jvp(jax.grad(f), (p,), (v,))`` when JAX is installed;
* ``autograd``: HIPS autograd's ``hessian_vector_product`` when installed.

Then the time to build: the first ``sg.hvp`` call (transform of the gradient, forward-mode
transform of its source, one evaluation) and ``sg.hessian`` of a 21-parameter MLP loss; and the
full Hessian of that small MLP against ``jax.hessian``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    Candidate,
    Workload,
    import_jax,
    optional_import,
    print_table,
    run_workload,
)
from workloads import make_inputs, neural_net  # noqa: E402

import sourcegrad as sg  # noqa: E402


def hand_hvp(params, x, y, v):
    """H v for the seed network, written by hand: forward, backward, and the tangent of both."""
    W0, W1 = params["W"]
    b0, b1 = params["b"]
    VW0, VW1 = v["W"]
    Vb0, Vb1 = v["b"]
    h1 = np.tanh(x @ W0 + b0)
    h2 = np.tanh(h1 @ W1 + b1)
    e = np.exp(h2)
    p = e / e.sum()
    c = -y.sum()
    # backward
    dh2 = -y - c * p
    g2 = 1.0 - h2 * h2
    da2 = dh2 * g2
    g1 = 1.0 - h1 * h1
    dh1 = da2 @ W1.T
    # tangents
    rh1 = g1 * (x @ VW0 + Vb0)
    rh2 = g2 * (rh1 @ W1 + h1 @ VW1 + Vb1)
    rp = p * (rh2 - np.sum(p * rh2))
    rda2 = -c * rp * g2 - 2.0 * dh2 * h2 * rh2
    rdh1 = rda2 @ W1.T + da2 @ VW1.T
    rda1 = rdh1 * g1 - 2.0 * dh1 * h1 * rh1
    return {
        "W": [x.T @ rda1, rh1.T @ da2 + h1.T @ rda2],
        "b": [rda1.sum(axis=0), rda2.sum(axis=0)],
    }


def _direction(params, seed=3):
    rng = np.random.default_rng(seed)
    return {k: [rng.standard_normal(a.shape) for a in v] for k, v in params.items()}


def _flat(tree):
    return np.concatenate([np.ravel(a) for k in ("W", "b") for a in tree[k]])


def hvp_workload(batch: int, peers: bool) -> Workload:
    params, x, y = make_inputs(batch, np.float64)
    v = _direction(params)
    ref = hand_hvp(params, x, y, v)
    hvp = sg.hvp(neural_net)
    got = hvp(params, x, y, v)
    np.testing.assert_allclose(_flat(got), _flat(ref), rtol=1e-9, atol=1e-12)
    cands = [
        Candidate("hand-written", lambda: hand_hvp(params, x, y, v)),
        Candidate("sourcegrad", lambda: hvp(params, x, y, v)),
    ]
    notes = []
    if peers:
        jax = import_jax()
        if jax is not None:
            import jax.numpy as jnp

            def jloss(p, x, y):
                h1 = jnp.tanh(x @ p["W"][0] + p["b"][0])
                h2 = jnp.tanh(h1 @ p["W"][1] + p["b"][1])
                y_hat = h2 - jnp.log(jnp.sum(jnp.exp(h2)))
                return -jnp.sum(y_hat * y)

            def jhvp(p, x, y, v):
                return jax.jvp(lambda q: jax.grad(jloss)(q, x, y), (p,), (v,))[1]

            jp, jx, jy, jv = jax.device_put((params, x, y, v))
            jitted = jax.jit(jhvp)
            out = jax.tree_util.tree_map(np.asarray, jitted(jp, jx, jy, jv))
            np.testing.assert_allclose(_flat(out), _flat(ref), rtol=1e-9, atol=1e-12)

            def run_eager():
                return jax.block_until_ready(jhvp(jp, jx, jy, jv))

            def run_jit():
                return jax.block_until_ready(jitted(jp, jx, jy, jv))

            note = "XLA buffers are not seen by tracemalloc"
            cands.append(Candidate("jax", run_eager, memory_tracked=False, note=note))
            cands.append(Candidate("jax.jit", run_jit, memory_tracked=False, note=note))
        ag = optional_import("autograd")
        if ag is not None:
            import autograd.numpy as anp
            from autograd.differential_operators import hessian_vector_product

            def aloss(p, x, y):
                h1 = anp.tanh(anp.dot(x, p["W"][0]) + p["b"][0])
                h2 = anp.tanh(anp.dot(h1, p["W"][1]) + p["b"][1])
                y_hat = h2 - anp.log(anp.sum(anp.exp(h2)))
                return -anp.sum(y_hat * y)

            from autograd.misc import flatten

            flat_p, unflatten = flatten(params)
            flat_v, _ = flatten(v)
            ahvp = hessian_vector_product(lambda q: aloss(unflatten(q), x, y))
            out = unflatten(ahvp(flat_p, flat_v))
            np.testing.assert_allclose(_flat(out), _flat(ref), rtol=1e-9, atol=1e-12)
            cands.append(Candidate("autograd", lambda: ahvp(flat_p, flat_v)))
    return Workload(f"seed MLP H·v, batch {batch}", cands, "hand-written", notes)


def small_mlp(w, x, y):
    w1 = np.reshape(w[:15], (5, 3))
    w2 = np.reshape(w[15:], (3, 2))
    h = np.tanh(x @ w1)
    out = h @ w2
    return np.sum((out - y) ** 2) / x.shape[0]


def build_times(samples: int) -> dict:
    """Seconds for the first call of freshly made transforms (transform + one evaluation)."""
    params, x, y = make_inputs(1, np.float64)
    v = _direction(params)
    rng = np.random.default_rng(0)
    w, xs, ys = rng.standard_normal(21), rng.standard_normal((4, 5)), rng.standard_normal((4, 2))
    import sourcegrad.higher as higher

    out = {"hvp(seed MLP)": [], "hessian(21-parameter MLP)": [], "grad(seed MLP)": []}
    for _ in range(samples):
        sg.api.clear_cache()  # nothing reused: every transform is made again
        higher._TOWERS.clear()  # nothing reused: every transform is made again
        higher._JVPS.clear()
        t0 = time.perf_counter()
        sg.hvp(neural_net)(params, x, y, v)
        out["hvp(seed MLP)"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sg.grad(neural_net)(params, x, y)
        out["grad(seed MLP)"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sg.hessian(small_mlp)(w, xs, ys)
        out["hessian(21-parameter MLP)"].append(time.perf_counter() - t0)
    return {k: statistics.median(ts) * 1e3 for k, ts in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--no-peers", action="store_true", help="only hand-written/sourcegrad")
    ns = parser.parse_args(argv)
    rounds, warmup = (30, 5) if ns.quick else (300, 30)
    results = []
    for batch in (1, 256):
        wl = hvp_workload(batch, peers=not ns.no_peers)
        results.extend(run_workload(wl, rounds=rounds, warmup=warmup, faults=False))
    print_table(results)
    print()
    print("first call (fresh transforms + one evaluation; hessian: 21 H·v), median ms:")
    for k, ms in build_times(3 if ns.quick else 9).items():
        print(f"  {k:28s} {ms:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
