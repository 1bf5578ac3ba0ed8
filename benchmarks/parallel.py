"""Data-parallel training with ``sourcegrad.parallel`` on MPI: 1 vs 2 ranks, the allreduce
against a bare ``mpi4py`` ``Allreduce``, and an α-β projection to 8-256 nodes.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/parallel.py

The driver starts ``mpiexec -n 1`` and ``mpiexec -n 2`` runs of this file (``--worker``), one
BLAS thread per rank, and prints one table. Workload: a 784-128-10 MLP (tanh, cross entropy,
float64, 101,770 parameters) on synthetic data, Adam; the step time is the median over
``--steps`` timed steps after warm-up, of the whole batch (each rank takes its shard).

The projection uses the ring allreduce cost model ``T(p) = 2(p-1)α + 2(p-1)/p · n/β`` for
``n`` bytes on ``p`` ranks, with α (latency per message) and β (bandwidth, bytes/s) measured
here on 2 ranks (``T(2) = 2α + n/β``) from an allreduce of one float64 (α) and of 8 MB (β).
Measured through shared memory on one machine, so they are a best case for a network.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import sourcegrad as sg

SIZES = (784, 128, 10)
BATCHES = (256, 2048)
NODES = (8, 16, 32, 64, 128, 256)


def mlp_params(rng):
    i, h, o = SIZES
    return {
        "w1": rng.normal(size=(i, h)) / np.sqrt(i),
        "b1": np.zeros(h),
        "w2": rng.normal(size=(h, o)) / np.sqrt(h),
        "b2": np.zeros(o),
    }


def mlp_loss(params, x, y):
    h = np.tanh(x @ params["w1"] + params["b1"])
    return sg.loss.cross_entropy(h @ params["w2"] + params["b2"], y)


def lstm_parameter_count() -> int:
    """``sourcegrad.model.RecurrentLSTMNetwork(64, 128)`` plus a 128-10 linear head: the LSTM
    of ``benchmarks/training_lstm.py``."""
    _, params = sg.model.RecurrentLSTMNetwork(64, 128, rng=0)
    return sum(a.size for a in sg.util.tree_leaves(params)) + 128 * 10 + 10


def median_time(fn, repeats: int, comm) -> float:
    times = []
    for _ in range(repeats):
        comm.barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def step_times(comm, steps: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(max(BATCHES), SIZES[0]))
    y = rng.integers(0, SIZES[2], size=max(BATCHES))
    out = {}
    for batch in BATCHES:
        trainer = sg.parallel.DataParallel(
            sg.value_and_grad(mlp_loss), mlp_params(rng), lambda p: sg.optim.Adam(p), comm=comm
        )
        xb, yb = x[:batch], y[:batch]
        for _ in range(5):
            trainer.step(xb, yb)
        out[f"step {batch}"] = median_time(lambda: trainer.step(xb, yb), steps, comm)  # noqa: B023
        if comm.size == 1:  # the plain serial loop, without sourcegrad.parallel
            params = mlp_params(rng)
            opt, vg = sg.optim.Adam(params), sg.value_and_grad(mlp_loss)
            for _ in range(5):
                opt.step(vg(params, xb, yb)[1])
            out[f"serial {batch}"] = median_time(
                lambda: opt.step(vg(params, xb, yb)[1]), steps, comm  # noqa: B023
            )
    out["buffer"] = int(trainer.grads.buffers[np.dtype(np.float64)].size)
    return out


def allreduce_times(comm, n: int, repeats: int) -> dict:
    """Per-call medians of ``comm.allreduce`` and of a bare ``Allreduce`` on the same buffer
    (interleaved blocks), and the α-β fit."""
    from mpi4py import MPI

    world = comm.comm
    buffer = np.ones(n)

    def bare(b):
        world.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM)

    def block(fn, b, k=20):
        return median_time(lambda: [fn(b) for _ in range(k)], 1, comm) / k

    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(block(comm.allreduce, buffer))
        theirs.append(block(bare, buffer))
    small, large = np.ones(1), np.ones(1 << 20)
    t_small = float(np.median([block(bare, small, 200) for _ in range(5)]))
    t_large = float(np.median([block(bare, large, 5) for _ in range(5)]))
    alpha = t_small / 2
    beta = large.nbytes / (t_large - 2 * alpha)
    return {"ours": float(np.median(ours)), "bare": float(np.median(theirs)),
            "alpha": alpha, "beta": beta}  # fmt: skip


def worker(args) -> None:
    comm = sg.parallel.init()
    result = {"ranks": comm.size, **step_times(comm, args.steps)}
    if comm.size > 1:
        result.update(allreduce_times(comm, result["buffer"], args.rounds))
    if comm.rank == 0:
        with open(args.json, "w") as f:
            json.dump(result, f)


def ring(p: int, n_bytes: float, alpha: float, beta: float) -> float:
    """The ring allreduce cost model: ``2(p-1)α + 2(p-1)/p · n/β`` seconds."""
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes / beta


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs"


def run_ranks(ranks: int, args) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "result.json")
        command = [args.mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker"]
        command += ["--json", path, "--steps", str(args.steps), "--rounds", str(args.rounds)]
        subprocess.run(command, env=env, check=True, timeout=1200)
        with open(path) as f:
            return json.load(f)


def report(one: dict, two: dict, load: tuple) -> str:
    ms = 1e3
    lines = [f"CPU: {cpu_name()}; load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
             "", "batch  serial ms  1 rank ms  2 ranks ms  speed-up (serial / 2 ranks)"]  # fmt: skip
    for b in BATCHES:
        s, r1, r2 = one[f"serial {b}"], one[f"step {b}"], two[f"step {b}"]
        lines.append(f"{b:5d}  {s * ms:9.3f}  {r1 * ms:9.3f}  {r2 * ms:10.3f}  {s / r2:5.2f}x")
    n = two["buffer"]
    lines += ["", f"allreduce of {n} float64 ({n * 8 / 1e6:.2f} MB) on 2 ranks: "
              f"sourcegrad.parallel {two['ours'] * 1e6:.1f} µs, bare mpi4py Allreduce "
              f"{two['bare'] * 1e6:.1f} µs, ratio {two['ours'] / two['bare']:.3f}x"]  # fmt: skip
    alpha, beta = two["alpha"], two["beta"]
    lines += [f"α = {alpha * 1e6:.2f} µs, β = {beta / 1e9:.2f} GB/s (2 ranks, shared memory)", "",
              "ring allreduce T(p) = 2(p-1)α + 2(p-1)/p · n/β, ms per step:",
              "model (parameters)          " + "".join(f"{p:>9d}" for p in NODES)]  # fmt: skip
    for name, count in (("MLP 784-128-10", n - 1), ("LSTM 64-128 + head", lstm_parameter_count())):
        row = "".join(f"{ring(p, count * 8, alpha, beta) * ms:9.3f}" for p in NODES)
        label = f"{name} ({count:,})"
        lines.append(f"{label:28s}{row}")
    t = one["serial 2048"]
    row = "".join(f"{t / p * ms + ring(p, (n - 1) * 8, alpha, beta) * ms:9.3f}" for p in NODES)
    lines.append(f"{'MLP step, batch 2048*':28s}{row}")
    lines.append("* the serial step's compute divided by p plus T(p): an upper bound on speed-up")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the results here (JSON)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per batch size")
    parser.add_argument("--rounds", type=int, default=15, help="allreduce rounds")
    parser.add_argument("--mpiexec", default="mpiexec")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    load = os.getloadavg()
    one, two = run_ranks(1, args), run_ranks(2, args)
    print(report(one, two, load))
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"1": one, "2": two, "load": load}, f)


if __name__ == "__main__":
    main()
