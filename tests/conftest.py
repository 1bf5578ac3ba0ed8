import gc
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

#: A test session allocates millions of syntax nodes and keeps hundreds of thousands alive in
#: sourcegrad's caches of builds: at Python's default threshold (700) the collector ran a young
#: collection every few hundred allocations and a full one every few tests (10-17% of the CPU
#: time of the ported tests measured). Run less often, with what imports and collection made
#: frozen (and the cache directory below in memory), those files took a quarter less CPU; what
#: the collector frees, it frees a little later.
GC_THRESHOLD = (10_000, 10, 10)


def pytest_configure(config):
    gc.set_threshold(*GC_THRESHOLD)


def pytest_collection_finish(session):
    """What the imports and collection made lives to the end of the session: moved out of
    the collector's way (full collections then walk only what the tests made)."""
    gc.collect()
    gc.freeze()


#: tests between collections of the frozen objects too: a cycle a test dropped from a cache
#: after it was frozen (an evicted build: a generated function and its namespace) is freed then
THAW_EVERY = 500
_tests_run = 0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After each test, its cyclic garbage is collected and what is left (builds kept in
    sourcegrad's caches, module-level values) frozen too: the collections during a test walk
    only what it made, not what all tests before it left alive (test_rules.py spent 18% of its
    CPU in the collector, 7% with this; a collection after each test costs ~3 ms). Every
    THAW_EVERY tests the collection takes in the frozen objects too."""
    global _tests_run
    try:
        return (yield)
    finally:
        _tests_run += 1
        if _tests_run % THAW_EVERY == 0:
            gc.unfreeze()
        gc.collect()
        gc.freeze()


_PREFIX = "sourcegrad-test-cache-"


def _memory_backed() -> Path | None:
    """A directory held in memory (tmpfs) that this process may write into, or None."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_orphans(shm: Path) -> None:
    """Remove the cache directories of sessions that were killed before their teardown (a
    timeout): they would hold memory until the next reboot."""
    for old in shm.glob(_PREFIX + "*"):
        pid = old.name[len(_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def sourcegrad_cache_dir(tmp_path_factory):
    """Every test writes generated code and builds into a temporary SOURCEGRAD_CACHE_DIR
    (also subprocesses, which inherit it), never into the user's cache directory. A session
    writes tens of thousands of small files there: kept in memory where the system has a
    tmpfs (on disk, creating them, and pytest deleting them three sessions later, took
    seconds per test file on a loaded machine), and removed when the session ends."""
    shm = _memory_backed()
    if shm is None:
        path = tmp_path_factory.mktemp("sourcegrad-cache")
    else:
        _remove_orphans(shm)
        path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=shm))
    old = os.environ.get("SOURCEGRAD_CACHE_DIR")
    os.environ["SOURCEGRAD_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SOURCEGRAD_CACHE_DIR", None)
    else:
        os.environ["SOURCEGRAD_CACHE_DIR"] = old
    if shm is not None:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
