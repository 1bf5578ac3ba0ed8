"""The gast trees of sourcegrad's own rule templates, shipped parsed with the package.

A first call of a derivative reads the templates of the rules it uses: reading their lines,
finding where each ends, ``ast.parse`` and the conversion to gast cost about 0.25 ms a
template, a sixth of the seed MLP's first call for its nine; unpickling the tree, a third of
that. ``template_trees.pickle`` holds the tree of every built-in template, per module, with a
digest of the file it was made from, behind an index of where each module's trees lie (a
first call reads the index and the modules of the templates it uses, not the whole file);
:func:`write` makes it (``tests/test_shipped_trees.py``
checks that it matches the templates as their files read now, and writes it again with
``SOURCEGRAD_UPDATE_GOLDEN=1``).

Guarantees: :func:`shipped_tree` returns a new copy of exactly the tree of a template's
``def`` that parsing its source gives (the same classes, fields and positions), or None: where
the template is not sourcegrad's, or its file's bytes are not those the table was made from
(edited since), or the table was made under another Python minor version or a gast whose node
classes have other fields.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import os
import pickle
import sys
import zlib
from pathlib import Path

import gast

#: the table's file, next to this module
PATH = Path(__file__).with_name("template_trees.pickle")

#: module file name -> {first line of a template: its compressed pickled tree} ({} where the
#: file is not as the table knows it)
_trees_of_file: dict = {}
#: the table as loaded (None before it is read)
_table: dict | None = None


def shipped_tree(fn):
    """The gast ``FunctionDef`` of template ``fn``'s definition (decorators included), from the
    shipped table, or None where the table cannot give it."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    trees = _trees_of_file.get(code.co_filename)
    if trees is None:
        trees = _trees_of_file[code.co_filename] = _checked_trees(fn)
    packed = trees.get(code.co_firstlineno)
    return None if packed is None else pickle.loads(zlib.decompress(packed))


def _checked_trees(fn) -> dict:
    """The table's trees of ``fn``'s module, where its file's bytes are those they were made
    from; else none."""
    shipped = (_table if _table is not None else _load()).get(fn.__module__)
    if shipped is None:
        return {}
    digest, trees = shipped
    try:
        with open(fn.__code__.co_filename, "rb") as f:
            text = f.read()
    except OSError:
        return {}
    if _digest(text) != digest:
        return {}
    trees = _module_trees(trees) if isinstance(trees, tuple) else trees
    return trees if isinstance(trees, dict) else {}


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _load() -> dict:
    """The table's modules (name -> (file digest, trees, or where they lie in the file)),
    empty where the file is missing, of another form, or made for another Python or gast.
    Only the index is read here (a few kilobytes of the file's ~400): a module's trees are
    read when a template of it is first asked for (:func:`_module_trees`)."""
    global _table
    try:
        made = _index()
    except (OSError, ValueError, TypeError, pickle.UnpicklingError, EOFError, AttributeError):
        made = None  # (an unreadable file, or one of another form)
    except ImportError:
        made = None
    try:
        _table = made["modules"] if _fits(made) else {}
    except (TypeError, KeyError, AttributeError):  # no table, or one of another form
        _table = {}
    return _table


def _index():
    """The table's index, as :func:`write` places it at the head of the file."""
    with open(PATH, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if size > os.fstat(f.fileno()).st_size:
            raise ValueError("not a table: its index would end past the file")
        return pickle.loads(f.read(size))


def _module_trees(at: tuple) -> dict | None:
    """The trees one module's entry of the index places at ``(offset, length)`` in the
    table's file; None where they cannot be read."""
    offset, length = at
    try:
        with open(PATH, "rb") as f:
            f.seek(offset)
            return pickle.loads(f.read(length))
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def read_table() -> dict:
    """The whole table as :func:`made_table` gives it (each module's trees read); one of no
    module where the file cannot be read as one."""
    try:
        made = _index()
        modules = made["modules"].items()
    except Exception:  # (any file but a table: found stale)
        return {"python": tuple(sys.version_info[:2]), "classes": {}, "modules": {}}
    made["modules"] = {name: (digest, _module_trees(at)) for name, (digest, at) in modules}
    return made


def _fits(made: dict) -> bool:
    """Whether a table was made under this Python's minor version, with gast classes of the
    same fields as this gast's (a tree unpickled from it is then the one parsing gives)."""
    if tuple(made["python"]) != tuple(sys.version_info[:2]):
        return False
    return all(_fields_of(name) == fields for name, fields in made["classes"].items())


def _fields_of(name: str):
    cls = getattr(gast, name, None)
    return None if cls is None else (tuple(cls._fields), tuple(cls._attributes))


class _NodePickler(pickle.Pickler):
    """Pickles a gast node as its class and ``__dict__``: unpickled by ``cls.__new__`` and a
    dict update, without gast's constructor (a Python call per node)."""

    def reducer_override(self, obj):
        if isinstance(obj, gast.AST):
            return copyreg.__newobj__, (type(obj),), obj.__dict__
        return NotImplemented


def _pickled(tree) -> bytes:
    out = io.BytesIO()
    _NodePickler(out, protocol=4).dump(tree)
    return zlib.compress(out.getvalue(), 9)


def made_table(fns, parse) -> dict:
    """The table of the template functions ``fns`` (what :data:`PATH` holds: sourcegrad's
    own, ``registry.own_templates()``), each tree made by ``parse(fn)``."""
    modules, classes = {}, {}
    for fn in fns:
        code = fn.__code__
        if fn.__module__ not in modules:
            with open(code.co_filename, "rb") as f:
                modules[fn.__module__] = (_digest(f.read()), {})
        tree = parse(fn)
        for node in gast.walk(tree):
            classes[type(node).__name__] = _fields_of(type(node).__name__)
        modules[fn.__module__][1][code.co_firstlineno] = _pickled(tree)
    return {
        "python": tuple(sys.version_info[:2]),
        "classes": dict(sorted(classes.items())),
        "modules": {
            name: (digest, dict(sorted(trees.items())))
            for name, (digest, trees) in sorted(modules.items())
        },
    }


def write(fns, parse) -> int:
    """Write :func:`made_table` to :data:`PATH`; returns how many trees it holds. The file is
    the index's length (8 bytes), the index (the table, each module's trees replaced by
    where they lie) and each module's pickled trees."""
    global _table
    table = made_table(fns, parse)
    blobs = [pickle.dumps(trees, protocol=4) for _, trees in table["modules"].values()]
    index = dict(table, modules={})
    while True:  # (the offsets are past the index, whose length depends on them)
        offset = 8 + len(pickle.dumps(index, protocol=4))
        modules = {}
        for (name, (digest, _)), blob in zip(table["modules"].items(), blobs):
            modules[name] = (digest, (offset, len(blob)))
            offset += len(blob)
        if modules == index["modules"]:
            break
        index["modules"] = modules
    head = pickle.dumps(index, protocol=4)
    PATH.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(blobs))
    _table = None  # read again: the trees given from now on are the new table's
    _trees_of_file.clear()
    return sum(len(trees) for _, trees in table["modules"].values())
