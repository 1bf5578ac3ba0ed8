"""Saving trees of arrays (parameters, ``optimizer.state_dict()``) to NumPy ``.npz`` files.

What a file keeps:

* containers: dicts (keys: strings and ints; a dict subclass is saved as a dict), lists,
  tuples, namedtuples and dataclass instances (their class name and fields; loaded without
  ``like`` as a namedtuple of that name and fields, with ``like`` in ``like``'s class);
* leaves: NumPy and CuPy arrays of any non-object dtype (CuPy arrays are copied to the host),
  NumPy scalars (their dtype kept), Python floats (exactly, ``nan`` and ``inf`` included),
  ints, bools, strings and ``None``.

Anything else (other objects, object arrays) is refused before the file is touched: nothing is
pickled, and files are read with ``allow_pickle=False``. A file is an ordinary ``.npz``: one
``.npy`` entry per array leaf plus one entry ``__sourcegrad__`` holding the structure as JSON
(UTF-8 bytes).

Writes are atomic: :func:`save` writes a temporary file in the destination's folder, flushes it
to disk, then renames it over ``path`` (``os.replace``), so ``path`` holds either the old file
or the new one, whatever happens during the write. An existing file's permissions are kept;
a new file gets mode 0o644.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from ..errors import SourcegradError
from ..runtime.containers import children, is_container, is_namedtuple
from ..runtime.records import is_record, rebuilt_record
from .tree import Array, Tree, TreeStructureError, array_module, path_text

__all__ = ["CheckpointError", "load", "save"]

_ENTRY = "__sourcegrad__"
_FORMAT = "sourcegrad-tree"
_VERSION = 1


class CheckpointError(SourcegradError):
    """A tree that cannot be saved, or a file that is not a tree saved by :func:`save`."""


def save(path: str | os.PathLike, tree: Tree, *, compress: bool = False) -> None:
    """Write ``tree`` to the file ``path`` (used exactly as given: no suffix is added),
    atomically: on any failure (an error, an interrupt, a full disk) ``path`` keeps its previous
    content and the temporary file is removed. ``compress=True`` deflates the entries.
    Raises :class:`CheckpointError` for a leaf or key that cannot be saved (see the module
    docstring), before anything is written."""
    path = os.fspath(path)
    arrays: list = []
    structure = _encode(tree, arrays, ())
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "tree": structure})
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, header, arrays, compress)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_directory(directory)


def _write_npz(f, header: str, arrays: list, compress: bool) -> None:
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, mode="w", compression=mode, allowZip64=True) as z:
        entries = [(_ENTRY, np.frombuffer(header.encode("utf-8"), dtype=np.uint8))]
        entries += [(str(i), a) for i, a in enumerate(arrays)]
        for name, array in entries:
            with z.open(name + ".npy", "w", force_zip64=True) as out:
                npy_format.write_array(out, array, allow_pickle=False)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(x, arrays: list, path):
    """The JSON description of ``x``; array leaves are appended to ``arrays``."""
    if is_container(x):
        kids = [_encode(v, arrays, path + (k,)) for k, v in children(x)]
        if isinstance(x, dict):
            return {"t": "dict", "k": [_encode_key(k, path) for k in x], "c": kids}
        if is_namedtuple(x) or is_record(x):
            fields = [k for k, _ in children(x)]
            return {"t": _kind_of(x), "name": type(x).__name__, "f": fields, "c": kids}
        return {"t": "list" if isinstance(x, list) else "tuple", "c": kids}
    if x is None:
        return {"t": "none"}
    if isinstance(x, np.generic):
        kind = "scalar"
    elif type(x) in (bool, int, float, str):
        return {"t": type(x).__name__, "v": x}
    elif hasattr(x, "shape") and hasattr(x, "dtype"):
        kind = "array"
    else:
        raise CheckpointError(
            f"cannot save a leaf of type {type(x).__name__} at {path_text(path)}: "
            "save arrays, NumPy scalars, floats, ints, bools, strings or None"
        )
    host = np.asarray(_to_host(x))
    if host.dtype.hasobject:
        raise CheckpointError(
            f"cannot save an object array at {path_text(path)}: only plain dtypes are saved"
        )
    arrays.append(host)
    return {"t": kind, "i": len(arrays) - 1}


def _to_host(x):
    xp = array_module(x)
    return x if xp is np else xp.asnumpy(x)


def _encode_key(k, path):
    if type(k) is str:
        return {"s": k}
    if type(k) is int:
        return {"i": k}
    raise CheckpointError(
        f"cannot save a dict key {k!r} at {path_text(path)}: keys must be strings or ints"
    )


def load(path: str | os.PathLike, like: Array | None = None):
    """The tree saved in ``path`` by :func:`save`.

    Without ``like``: dicts, lists and tuples as saved, NumPy arrays, and namedtuples as
    instances of a namedtuple class of the saved name and fields made here (one class per name
    and fields, not the class the tree was saved from).

    With ``like`` (a tree of the structure expected: the parameters, ``opt.state_dict()``):
    the file must have exactly ``like``'s structure (container kinds, keys in order,
    namedtuple fields, lengths) and arrays (arrays and NumPy scalars of the same shape and
    dtype where ``like`` has them; Python numbers, strings and None are values, taken from the
    file whatever ``like`` holds there), else :class:`~sourcegrad.util.tree.TreeStructureError` (a ``SourcegradError``) naming the
    first place that differs. The result is built in ``like``'s own container types, with
    arrays on the device of ``like``'s arrays (CuPy where they are CuPy), as new arrays.
    ``like``'s values are not read, and not changed (``util.copy_into`` copies the result
    into existing arrays)."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _ENTRY not in npz.files:
                raise CheckpointError(f"{path} is not a tree saved by sourcegrad.util.save")
            header = json.loads(bytes(npz[_ENTRY]).decode("utf-8"))
            if header.get("format") != _FORMAT or header.get("version") != _VERSION:
                raise CheckpointError(f"{path}: unknown format {header.get('format')!r}")
            arrays = {name: npz[name] for name in npz.files if name != _ENTRY}
    except (ValueError, OSError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CheckpointError(f"{path} is not a readable sourcegrad checkpoint: {e}") from e
    if like is None:
        return _decode(header["tree"], arrays)
    return _decode_like(header["tree"], arrays, like, (), path)


_NAMEDTUPLES: dict = {}
_CONTAINERS = ("dict", "list", "tuple", "namedtuple", "dataclass")
#: leaf kinds that are values rather than structure: ``load(like=...)`` takes them from the file
_VALUES = ("none", "bool", "int", "float", "str")


def _namedtuple(name: str, fields: tuple):
    key = (name, fields)
    if key not in _NAMEDTUPLES:
        _NAMEDTUPLES[key] = collections.namedtuple(name, fields)
    return _NAMEDTUPLES[key]


def _decode_key(k):
    return k["s"] if "s" in k else k["i"]


def _decode(node, arrays):
    t = node["t"]
    if t in _CONTAINERS:
        kids = [_decode(c, arrays) for c in node["c"]]
        if t == "dict":
            return {_decode_key(k): v for k, v in zip(node["k"], kids)}
        if t == "list":
            return kids
        if t == "tuple":
            return tuple(kids)
        return _namedtuple(node["name"], tuple(node["f"]))(*kids)  # a record's too
    if t == "array":
        return arrays[str(node["i"])]
    if t == "scalar":
        return arrays[str(node["i"])][()]
    return None if t == "none" else node["v"]


def _kind_of(x) -> str:
    """The node kind :func:`_encode` gives ``x``."""
    if isinstance(x, dict):
        return "dict"
    if is_namedtuple(x):
        return "namedtuple"
    if is_record(x):
        return "dataclass"
    if isinstance(x, (list, tuple)):
        return "list" if isinstance(x, list) else "tuple"
    if x is None:
        return "none"
    if isinstance(x, np.generic):
        return "scalar"
    if type(x) in (bool, int, float, str):
        return type(x).__name__
    return "array"


def _describe(node, arrays) -> str:
    t = node["t"]
    if t in ("array", "scalar"):
        a = arrays[str(node["i"])]
        return f"{'an array' if t == 'array' else 'a scalar'} of shape {a.shape} {a.dtype}"
    if t in ("namedtuple", "dataclass"):
        return f"a {t} {node['name']}{tuple(node['f'])}"
    return _a(t) + (f" of length {len(node['c'])}" if "c" in node else "")


def _describe_like(x) -> str:
    if hasattr(x, "shape") and hasattr(x, "dtype") and not is_container(x):
        kind = "a scalar" if isinstance(x, np.generic) else "an array"
        return f"{kind} of shape {tuple(x.shape)} {np.dtype(x.dtype)}"
    if is_namedtuple(x) or is_record(x):
        fields = tuple(k for k, _ in children(x))
        return f"a {_kind_of(x)} {type(x).__name__}{fields}"
    return _a(_kind_of(x)) + (f" of length {len(x)}" if is_container(x) else "")


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _decode_like(node, arrays, like, path, filename):
    def mismatch(what=None):
        return TreeStructureError(
            f"{filename} does not match the tree given as `like` at {path_text(path)}: "
            + (what or f"the file has {_describe(node, arrays)}, `like` has {_describe_like(like)}")
        )

    kind = _kind_of(like)
    if kind in _VALUES and node["t"] in _VALUES:
        return None if node["t"] == "none" else node["v"]  # a value, not structure
    if node["t"] != kind:
        raise mismatch()
    if kind in _CONTAINERS:
        pairs = children(like)
        if kind == "dict":
            keys = [_decode_key(k) for k in node["k"]]
            if keys != [k for k, _ in pairs]:
                raise mismatch(f"the file has keys {keys}, `like` has {[k for k, _ in pairs]}")
        if len(node["c"]) != len(pairs):
            raise mismatch()
        if kind in ("namedtuple", "dataclass") and (node["name"], node["f"]) != (
            type(like).__name__,
            [k for k, _ in pairs],
        ):
            raise mismatch()
        values = [
            _decode_like(c, arrays, v, path + (k,), filename) for c, (k, v) in zip(node["c"], pairs)
        ]
        if kind == "dict":
            return type(like)(zip([k for k, _ in pairs], values))
        if kind == "namedtuple":
            return type(like)(*values)
        if kind == "dataclass":
            return rebuilt_record(like, dict(zip([k for k, _ in pairs], values)))
        return type(like)(values)
    if kind in ("array", "scalar"):
        a = arrays[str(node["i"])]
        if a.shape != tuple(like.shape) or a.dtype != np.dtype(like.dtype):
            raise mismatch()
        if kind == "scalar":
            return a[()]
        xp = array_module(like)
        return a if xp is np else xp.asarray(a)
    raise AssertionError(kind)  # pragma: no cover - every kind is handled above
