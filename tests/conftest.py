import os

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def sourcegrad_cache_dir(tmp_path_factory):
    """Every test writes generated code and builds into a temporary SOURCEGRAD_CACHE_DIR
    (also subprocesses, which inherit it), never into the user's cache directory."""
    path = tmp_path_factory.mktemp("sourcegrad-cache")
    old = os.environ.get("SOURCEGRAD_CACHE_DIR")
    os.environ["SOURCEGRAD_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("SOURCEGRAD_CACHE_DIR", None)
    else:
        os.environ["SOURCEGRAD_CACHE_DIR"] = old


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
