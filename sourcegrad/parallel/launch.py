"""``python -m sourcegrad.parallel.launch -n 2 train.py [args]``: ``mpiexec`` with a report.

It runs ``mpiexec -n N python train.py args`` (``--mpiexec`` names another launcher command,
``--`` ends its options; ``--torchrun`` runs ``torchrun --standalone --nproc-per-node N``
instead) and passes its output through. Each rank records its process id,
and rank 0 each checkpoint it writes, in a job folder; when the job fails, the launcher says
which rank died or raised (Hydra's report gives only a process id) and which checkpoint a
relaunch of the same command resumes from. Its exit status is ``mpiexec``'s.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .comm import JOB_DIRECTORY

__all__ = ["main", "failure_report"]

DIED = re.compile(r"PID (\d+) RUNNING AT (\S+)")
EXIT = re.compile(r"EXIT CODE: (-?\d+)")
#: torchrun's summary of the first failure: ``rank : 1 (local_rank: 1)``, ``exitcode : -9
#: (pid: 1234)``, ``host : name``
TORCH_RANK = re.compile(r"rank\s*:\s*(\d+)")
TORCH_EXIT = re.compile(r"exitcode\s*:\s*(-?\d+)\s*\(pid:\s*(\d+)\)")
TORCH_HOST = re.compile(r"host\s*:\s*(\S+)")
SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 11: "SIGSEGV", 6: "SIGABRT", 2: "SIGINT"}


def read_records(folder: str) -> tuple[dict, dict | None]:
    """``({pid: record}, last checkpoint record or None)`` from a job folder."""
    ranks = {}
    for path in glob.glob(os.path.join(folder, "rank-*.json")):
        with open(path) as f:
            entry = json.load(f)
        ranks[entry["pid"]] = entry
    checkpoint = None
    path = os.path.join(folder, "checkpoint.json")
    if os.path.exists(path):
        with open(path) as f:
            checkpoint = json.load(f)
    return ranks, checkpoint


def failure_report(folder: str, output: str, status: int) -> str:
    """The message for a failed job: the rank that raised or died (from the records and
    Hydra's ``PID ... RUNNING AT`` line in ``output``) and the last checkpoint."""
    ranks, checkpoint = read_records(folder)
    raised = sorted(e["rank"] for e in ranks.values() if e.get("raised"))
    died = DIED.search(output)
    cause = output[max(output.find("Root Cause"), 0) :]  # torchrun: the first failure
    torch_died = TORCH_EXIT.search(cause)
    code = EXIT.search(output)
    number = int(code.group(1)) if code else status
    # a rank killed by a signal comes first: another rank may raise only because it died
    killed = died is not None and number in SIGNALS
    if raised and not killed and not (torch_died and int(torch_died.group(1)) < 0):
        what = f"rank {', '.join(map(str, raised))} raised (its traceback is above)"
    elif torch_died and int(torch_died.group(1)) < 0:  # killed by a signal
        number, pid = -int(torch_died.group(1)), int(torch_died.group(2))
        rank = TORCH_RANK.search(cause[: torch_died.start()])
        rank = ranks.get(pid, {}).get("rank", rank.group(1) if rank else "?")
        host = TORCH_HOST.search(cause)
        how = f"signal {number}" + (f", {SIGNALS[number]}" if number in SIGNALS else "")
        on = f" on {host.group(1)}" if host else ""
        what = f"rank {rank} (pid {pid}{on}) died ({how}) and torchrun ended the job"
    elif died:
        pid, host = int(died.group(1)), died.group(2)
        how = f"exit code {number}" + (f", {SIGNALS[number]}" if number in SIGNALS else "")
        rank = ranks.get(pid, {}).get("rank", "?")
        what = f"rank {rank} (pid {pid} on {host}) died ({how}) and mpiexec ended the job"
    else:
        what = f"the job failed (mpiexec exit status {status})"
    if checkpoint:
        where = (
            f"last checkpoint: {checkpoint['path']} at step {checkpoint['step']}; run the same "
            "command again to resume from it"
        )
    else:
        where = "no checkpoint was written (DataParallel(..., checkpoint=path, every=N) keeps one)"
    return f"sourcegrad.parallel: {what}; {where}"


def _beside_python(program: str) -> str:
    """``program`` as found on the PATH, else beside this Python (a virtual environment's
    ``bin``, where pip installs ``mpich``'s ``mpiexec``, need not be on the PATH)."""
    if shutil.which(program) is not None:
        return program
    beside = Path(sys.executable).parent / program
    return str(beside) if beside.exists() else program


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sourcegrad.parallel.launch")
    parser.add_argument("-n", "--ranks", type=int, default=2, help="number of ranks")
    parser.add_argument("--mpiexec", default="mpiexec", help="the MPI launcher command")
    parser.add_argument(
        "--torchrun", action="store_true", help="launch with torchrun (torch.distributed, gloo)"
    )
    parser.add_argument("script", help="the Python script every rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    options = parser.parse_args(argv)
    if options.torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc-per-node", str(options.ranks), options.script, *options.args]
    else:
        launcher = shlex.split(options.mpiexec)
        launcher[0] = _beside_python(launcher[0])
        command = [*launcher, "-n", str(options.ranks)]
        command += [sys.executable, options.script, *options.args]
    with tempfile.TemporaryDirectory(prefix="sourcegrad-job-") as folder:
        env = {**os.environ, JOB_DIRECTORY: folder}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seen = []
        for line in process.stdout:
            sys.stdout.write(line)
            seen.append(line)
        status = process.wait()
        sys.stdout.flush()
        if status != 0:
            print(failure_report(folder, "".join(seen), status), file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
