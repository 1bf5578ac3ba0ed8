"""sourcegrad.util.save / load: structure kept, mismatches refused, writes atomic, no pickle."""

import collections
import os
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from sourcegrad import util
from sourcegrad.errors import SourcegradError

Layer = collections.namedtuple("Layer", ["W", "b"])


def tree():
    rng = np.random.default_rng(0)
    return {
        "layers": [Layer(rng.standard_normal((3, 4)), np.zeros(4, np.float32))],
        "pair": (np.arange(3), np.float32(1.5)),
        "hyper": {"lr": 0.1, "steps": 7, "nesterov": True, "name": "sgd", "tiny": 1e-300},
        "special": [float("inf"), float("nan"), None],
        3: "an int key",
    }


def assert_same(a, b):
    assert type(a) is type(b) or (type(a).__name__ == type(b).__name__ == "Layer")
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_round_trip_keeps_structure_and_values(tmp_path):
    path = tmp_path / "ckpt.npz"
    original = tree()
    util.save(path, original)
    loaded = util.load(path)
    assert_same(original, loaded)
    assert loaded["layers"][0]._fields == ("W", "b")  # a namedtuple of the same name and fields
    with_like = util.load(path, like=original)
    assert type(with_like["layers"][0]) is Layer
    assert_same(original, with_like)
    assert with_like["layers"][0].W is not original["layers"][0].W


def test_the_file_is_a_plain_npz_read_without_pickle(tmp_path):
    path = tmp_path / "ckpt.npz"
    util.save(path, tree(), compress=True)
    with np.load(path, allow_pickle=False) as npz:
        assert "__sourcegrad__" in npz.files and "0" in npz.files
    with zipfile.ZipFile(path) as z:
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in z.infolist())


def test_load_with_like_of_another_structure_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    util.save(path, tree())
    other = tree()
    other["layers"][0] = Layer(np.zeros((3, 5)), other["layers"][0].b)
    with pytest.raises(
        util.TreeStructureError, match=r"\['layers'\]\[0\]\['W'\].*\(3, 4\).*\(3, 5\)"
    ):
        util.load(path, like=other)
    other = tree()
    other["layers"].append(other["layers"][0])
    with pytest.raises(SourcegradError, match=r"at \['layers'\]: the file has a list of length 1"):
        util.load(path, like=other)
    other = tree()
    other["hyper"]["momentum"] = 0.9
    with pytest.raises(SourcegradError, match="keys"):
        util.load(path, like=other)
    other = tree()
    other["pair"] = (np.arange(3.0), np.float32(1.5))
    with pytest.raises(SourcegradError, match="int64"):
        util.load(path, like=other)
    other = tree()
    other["pair"] = (np.arange(3), 1.5)
    with pytest.raises(SourcegradError, match=r"\['pair'\]\[1\]: the file has a scalar"):
        util.load(path, like=other)
    other = tree()
    other["layers"][0] = Layer(1.0, other["layers"][0].b)
    with pytest.raises(SourcegradError, match=r"the file has an array .* `like` has a float"):
        util.load(path, like=other)


def test_numbers_strings_and_none_are_values_taken_from_the_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    util.save(path, tree())
    other = tree()
    other["hyper"] = {"lr": None, "steps": 7.5, "nesterov": 0, "name": 1, "tiny": "x"}
    loaded = util.load(path, like=other)
    assert loaded["hyper"] == tree()["hyper"]


def test_unsupported_leaves_and_keys_are_refused_before_writing(tmp_path):
    path = tmp_path / "ckpt.npz"
    for bad, what in [
        ({"f": lambda x: x}, "function"),
        ({"o": np.array([object()])}, "object array"),
        ({(1, 2): np.ones(1)}, "key"),
        ({"s": {1, 2}}, "set"),
    ]:
        with pytest.raises(util.CheckpointError, match=what):
            util.save(path, bad)
    assert os.listdir(tmp_path) == []


def test_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(util.CheckpointError, match="not a tree saved"):
        util.load(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(util.CheckpointError, match="not a readable"):
        util.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        util.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_save_loses_nothing(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.npz"
    first = {"W": np.arange(6.0).reshape(2, 3), "b": np.ones(3)}
    util.save(path, first)
    before = path.read_bytes()
    write_array = npy_format.write_array
    calls = []

    def fail_midway(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the structure and one array are written, then the write fails
            raise failure
        return write_array(*args, **kwargs)

    monkeypatch.setattr(npy_format, "write_array", fail_midway)
    with pytest.raises(type(failure)):
        util.save(path, {"W": np.zeros((2, 3)), "b": np.zeros(3), "c": np.zeros(1)})
    assert len(calls) == 3
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # and the temporary file is gone
    monkeypatch.undo()
    np.testing.assert_array_equal(util.load(path)["W"], first["W"])


def test_a_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    util.save(path, {"a": np.ones(2)})

    def no_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        util.save(path, {"a": np.zeros(2)})
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    np.testing.assert_array_equal(util.load(path)["a"], np.ones(2))


def test_overwrite_keeps_the_file_mode(tmp_path):
    path = tmp_path / "ckpt.npz"
    util.save(path, {"a": np.ones(2)})
    os.chmod(path, 0o640)
    util.save(path, {"a": np.zeros(2)})
    assert os.stat(path).st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(util.load(path)["a"], np.zeros(2))
