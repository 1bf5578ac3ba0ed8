"""sourcegrad.parallel on real engines: 2 MPI ranks (``mpiexec``) and torch.distributed
(``torchrun``, gloo) against the serial run, kill-and-resume from a checkpoint, a raising
rank, and functions shipped from rank 0.

The multi-rank tests start the worker scripts in ``tests/parallel_workers`` as subprocesses,
each with a timeout, so a hang fails instead of blocking the suite."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sourcegrad as sg

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKERS = ROOT / "tests" / "parallel_workers"
TIMEOUT = 120


def load_worker(name):
    spec = importlib.util.spec_from_file_location(name, WORKERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MLP = load_worker("mlp_worker")


def mpiexec() -> str:
    """The ``mpiexec`` of this environment (the mpich wheel puts it next to python)."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'sourcegrad[mpi]')")
    found = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.skip("no mpiexec on PATH (pip install mpich brings one)")
    return found


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "SLURM_"))}
    env.pop("SOURCEGRAD_PARALLEL_ENGINE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run(command, expect_ok=True):
    done = subprocess.run(
        command,
        env=environment(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    output = done.stdout + done.stderr
    if expect_ok:
        assert done.returncode == 0, output
    return done.returncode, output


def mpi(ranks, script, *args, expect_ok=True):
    return run([mpiexec(), "-n", str(ranks), sys.executable, str(script), *args], expect_ok)


def launch(ranks, script, *args, expect_ok=True):
    mpiexec()
    command = [sys.executable, "-m", "sourcegrad.parallel.launch", "-n", str(ranks)]
    return run([*command, str(script), *args], expect_ok)


def assert_params_close(got, want, rtol=1e-12):
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=1e-14, err_msg=key)


# ----- one process: the same code without any engine -----


def test_single_process_equals_the_serial_run_exactly():
    comm = sg.parallel.init("single")
    trainer = sg.parallel.DataParallel(
        sg.value_and_grad(MLP.loss), MLP.init_params(), MLP.optimizer, comm=comm
    )
    losses = trainer.train(sg.parallel.Batches(*MLP.data(), batch_size=MLP.BATCH), 10)
    params, serial_losses = MLP.serial(10)
    for key in params:
        np.testing.assert_array_equal(trainer.params[key], params[key])
    assert losses == serial_losses
    assert losses[-1] < losses[0]


def test_parameters_and_gradients_are_views_of_one_buffer_per_dtype():
    params = {"a": np.ones((2, 3)), "b": [np.zeros(4, np.float32), np.ones(2)], "n": 3}
    flat = sg.parallel.FlatTree(params, extra=1)
    flat.assign(params)
    assert sorted(str(d) for d in flat.buffers) == ["float32", "float64"]
    assert flat.buffers[np.dtype(np.float64)].size == 6 + 2 + 1
    assert np.shares_memory(flat.tree["a"], flat.buffers[np.dtype(np.float64)])
    assert np.shares_memory(flat.tree["b"][0], flat.buffers[np.dtype(np.float32)])
    assert flat.tree["n"] == 3 and flat.tree["b"][0].dtype == np.float32
    flat.assign({"a": np.full((2, 3), 2.0), "b": [np.ones(4, np.float32), np.ones(2)], "n": 3}, 0.5)
    assert flat.buffers[np.dtype(np.float64)][:6].tolist() == [1.0] * 6


def test_shards_cover_the_batch_and_are_weighted_by_their_rows():
    assert [sg.parallel.shard_bounds(51, r, 2) for r in range(2)] == [(0, 25), (25, 51)]
    assert [sg.parallel.shard_bounds(2, r, 3) for r in range(3)] == [(0, 0), (0, 1), (1, 2)]

    class Rank1Of3(sg.parallel.SingleProcess):
        rank, size = 1, 3

    trainer = sg.parallel.DataParallel(
        sg.value_and_grad(MLP.loss), MLP.init_params(), MLP.optimizer, comm=Rank1Of3()
    )
    x, y = MLP.data()
    part, weight, rows = trainer.split((x[:10], y[:10], 7.0))
    assert rows == 3 and weight == 3 / 10 and part[2] == 7.0
    np.testing.assert_array_equal(part[0], x[3:6])


def test_refusals_say_the_way_out():
    vg = sg.value_and_grad(MLP.loss)
    params = MLP.init_params()
    with pytest.raises(sg.parallel.ParallelError, match="lambda p"):
        sg.parallel.DataParallel(vg, params, sg.optim.Adam(params))
    with pytest.raises(sg.parallel.ParallelError, match="every=N"):
        sg.parallel.DataParallel(vg, params, MLP.optimizer, checkpoint="x.npz")
    with pytest.raises(sg.parallel.ParallelError, match=r"\['w'\].*int64"):
        sg.parallel.DataParallel(vg, {"w": np.arange(3)}, MLP.optimizer)
    trainer = sg.parallel.DataParallel(vg, params, MLP.optimizer)
    x, y = MLP.data()
    with pytest.raises(sg.parallel.ParallelError, match="rows"):
        trainer.step(x[:10], y[:9])


def test_a_checkpoint_of_other_parameters_is_refused_naming_it(tmp_path):
    path = tmp_path / "run.npz"
    vg = sg.value_and_grad(MLP.loss)
    first = sg.parallel.DataParallel(vg, MLP.init_params(), MLP.optimizer, checkpoint=path, every=1)
    first.train(sg.parallel.Batches(*MLP.data(), batch_size=MLP.BATCH), 2)
    other = {**MLP.init_params(), "b2": np.zeros(5)}
    with pytest.raises(sg.parallel.ParallelError, match="run.npz"):
        sg.parallel.DataParallel(vg, other, MLP.optimizer, checkpoint=path, every=1)


def test_resume_in_one_process_equals_the_uninterrupted_run(tmp_path):
    path = tmp_path / "run.npz"
    batches = sg.parallel.Batches(*MLP.data(), batch_size=MLP.BATCH)
    vg = sg.value_and_grad(MLP.loss)
    first = sg.parallel.DataParallel(vg, MLP.init_params(), MLP.optimizer, checkpoint=path, every=4)
    first.train(batches, 6)  # saved at step 4; steps 5 and 6 are lost
    again = sg.parallel.DataParallel(vg, MLP.init_params(), MLP.optimizer, checkpoint=path, every=4)
    assert again.resumed and again.steps == 4
    assert again.position == {"step": 4, "epoch": 1, "batch": 1}
    again.train(batches, 10)
    params, _ = MLP.serial(10)
    for key in params:
        np.testing.assert_array_equal(again.params[key], params[key])


def test_a_schedule_resumes_with_the_checkpoint(tmp_path):
    """The learning-rate schedule's state is in the checkpoint: a relaunch that steps the same
    schedule ends with the uninterrupted run's parameters and learning rate."""
    batches = sg.parallel.Batches(*MLP.data(), batch_size=MLP.BATCH)
    vg = sg.value_and_grad(MLP.loss)

    def trainer(path):
        return sg.parallel.DataParallel(
            vg,
            MLP.init_params(),
            MLP.optimizer,
            checkpoint=path,
            every=3,
            schedule=lambda opt: sg.optim.StepLR(opt, step_size=2, gamma=0.5),
        )

    def run(t, steps):  # the schedule steps after every optimizer step
        t.train(batches, steps, callback=lambda step, loss: t.schedule.step())

    whole = trainer(tmp_path / "whole.npz")
    run(whole, 10)
    first = trainer(tmp_path / "cut.npz")
    run(first, 7)  # saved at step 6; step 7 is lost
    again = trainer(tmp_path / "cut.npz")
    assert again.resumed and again.steps == 6
    assert again.optimizer.lr == 0.5**3 * whole.schedule.base_lr
    run(again, 10)
    assert again.optimizer.lr == whole.optimizer.lr
    for key in whole.params:
        np.testing.assert_array_equal(again.params[key], whole.params[key])


def test_the_engine_is_chosen_from_the_launcher_environment():
    detect = sg.parallel.detect_engine
    assert detect({}) == "single"
    assert detect({"PMI_RANK": "0", "PMI_SIZE": "2"}) == "mpi"
    assert detect({"OMPI_COMM_WORLD_RANK": "1"}) == "mpi"
    assert detect({"SLURM_PROCID": "0", "PMI_FD": "3"}) == "mpi"
    assert detect({"SLURM_PROCID": "0"}) == "single"  # srun without an MPI plugin
    assert detect({"TORCHELASTIC_RUN_ID": "x", "RANK": "0"}) == "torch"
    assert detect({"LOCAL_RANK": "0", "RANK": "0", "WORLD_SIZE": "2"}) == "torch"
    assert detect({"SOURCEGRAD_PARALLEL_ENGINE": "single", "PMI_RANK": "0"}) == "single"
    with pytest.raises(sg.parallel.ParallelError, match="expected one of"):
        detect({"SOURCEGRAD_PARALLEL_ENGINE": "ray"})


# ----- MPI: two ranks -----


def test_two_mpi_ranks_equal_the_serial_run_after_ten_steps(tmp_path):
    out = tmp_path / "final.npz"
    _, output = mpi(2, WORKERS / "mlp_worker.py", "--steps", "10", "--out", str(out))
    assert "rank 0 of 2 (mpi)" in output
    got = sg.util.load(out)
    params, losses = MLP.serial(10)
    assert_params_close(got["params"], params)
    np.testing.assert_allclose(got["losses"], losses, rtol=1e-12)


def test_mpi_kill_and_resume_equals_the_uninterrupted_run(tmp_path):
    worker = WORKERS / "mlp_worker.py"
    whole, resumed, checkpoint = (
        tmp_path / "whole.npz",
        tmp_path / "resumed.npz",
        tmp_path / "c.npz",
    )
    mpi(2, worker, "--steps", "10", "--out", str(whole), "--checkpoint", str(tmp_path / "w.npz"),
        "--every", "3")  # fmt: skip
    args = ["--steps", "10", "--out", str(resumed), "--checkpoint", str(checkpoint), "--every", "3"]
    status, output = launch(2, worker, *args, "--die-after", "7", expect_ok=False)
    assert status != 0 and not resumed.exists()
    assert "rank 1 (pid" in output and "died" in output, output
    assert f"last checkpoint: {checkpoint} at step 6" in output, output
    _, output = launch(2, worker, *args)
    final, reference = sg.util.load(resumed), sg.util.load(whole)
    assert final["start"] == 6 and len(final["losses"]) == 4
    for key in reference["params"]:
        np.testing.assert_array_equal(final["params"][key], reference["params"][key])
    assert_params_close(final["params"], MLP.serial(10)[0])


def test_a_raising_mpi_rank_ends_the_job_with_its_error(tmp_path):
    out = tmp_path / "never.npz"
    status, output = launch(
        2, WORKERS / "mlp_worker.py", "--out", str(out), "--raise-at", "4", expect_ok=False
    )
    assert status != 0 and not out.exists()
    assert "ValueError: a failure on rank 1 at step 4" in output
    assert "rank 1 of 2 raised" in output and "sourcegrad.parallel: rank 1 raised" in output


def test_a_loss_defined_only_on_rank_zero_is_shipped_and_differentiated_everywhere():
    _, output = mpi(2, WORKERS / "ship_worker.py")
    assert "rank 1: agree=True file=<notebook cell 3> (shipped) line=1" in output, output
    assert "rank 0: agree=True" in output


# ----- torch.distributed (gloo) under torchrun -----


def torchrun(*args, expect_ok=True):
    pytest.importorskip("torch", reason="the torch.distributed engine needs PyTorch")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node"]
    return run([*command, "2", *map(str, args)], expect_ok)


def test_two_torch_ranks_equal_the_serial_run(tmp_path):
    out = tmp_path / "final.npz"
    _, output = torchrun(WORKERS / "mlp_worker.py", "--out", out)
    assert "rank 0 of 2 (torch)" in output
    assert_params_close(sg.util.load(out)["params"], MLP.serial(10)[0])


def test_a_raising_torch_rank_ends_the_job_with_its_error(tmp_path):
    status, output = torchrun(
        WORKERS / "mlp_worker.py", "--out", tmp_path / "x.npz", "--raise-at", "3", expect_ok=False
    )
    assert status != 0 and "a failure on rank 1 at step 3" in output


def test_a_killed_torch_rank_is_named_with_the_last_checkpoint_and_resumes(tmp_path):
    pytest.importorskip("torch", reason="the torch.distributed engine needs PyTorch")
    worker, out, checkpoint = WORKERS / "mlp_worker.py", tmp_path / "r.npz", tmp_path / "c.npz"
    args = ["--steps", "10", "--out", str(out), "--checkpoint", str(checkpoint), "--every", "3"]
    command = [sys.executable, "-m", "sourcegrad.parallel.launch", "--torchrun", "-n", "2"]
    status, output = run([*command, str(worker), *args, "--die-after", "7"], False)
    assert status != 0 and not out.exists()
    assert "rank 1 (pid" in output and "SIGKILL" in output and "torchrun ended" in output, output
    assert f"last checkpoint: {checkpoint} at step 6" in output, output
    run([*command, str(worker), *args], True)
    final = sg.util.load(out)
    assert final["start"] == 6
    assert_params_close(final["params"], MLP.serial(10)[0])


# ----- the example -----


def test_the_digits_example_trains_on_two_mpi_ranks():
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (examples extra)")
    _, output = mpi(2, ROOT / "examples" / "digits_parallel.py", "--quick")
    last = output.strip().splitlines()[-1]
    assert last.startswith("2 rank(s) (mpi): test accuracy"), output
    assert float(last.split()[5]) > 0.85, output


def test_ranks_sharing_a_machine_without_a_thread_count_are_warned(recwarn):
    warn = sg.parallel.engines.warn_of_shared_cores
    comm = sg.parallel.SingleProcess()
    warn(comm, {"MPI_LOCALNRANKS": "2", "OMP_NUM_THREADS": "1"})
    warn(comm, {"MPI_LOCALNRANKS": "1"})
    assert not recwarn.list
    with pytest.warns(RuntimeWarning, match="2 ranks share this machine.*OMP_NUM_THREADS=1"):
        warn(comm, {"MPI_LOCALNRANKS": "2"})


def test_a_torch_communicator_from_a_file_rendezvous(tmp_path):
    pytest.importorskip("torch", reason="the torch.distributed engine needs PyTorch")
    comm = sg.parallel.TorchCommunicator(
        init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, size=1
    )
    try:
        assert (comm.rank, comm.size, comm.engine) == (0, 1, "torch")
        buffer = np.arange(5.0)
        comm.allreduce(buffer)
        comm.broadcast(buffer)
        assert buffer.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert comm.broadcast_bytes(b"loss source") == b"loss source"
        comm.barrier()
    finally:
        comm.close()
    import torch.distributed as dist

    assert not dist.is_initialized()
    comm.close()  # a second close does nothing
