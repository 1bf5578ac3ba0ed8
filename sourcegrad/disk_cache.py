"""Generated code on disk: files tracebacks can show, and builds kept across processes.

The directory is ``$SOURCEGRAD_CACHE_DIR``, else ``sourcegrad`` under the user cache directory
(``$XDG_CACHE_HOME``, else ``~/.cache``). Where it cannot be written, nothing is written and
generated code is registered with ``linecache`` only.

* ``code/``: each emitted function's text, one file per text, named by its content hash
  (:func:`source_file`). Code is compiled from that file's name, so a traceback, ``pdb``, an
  IDE and coverage read the generated lines.
* ``builds/``: a build (:func:`store`) of a derivative for one argument signature, keyed by
  :func:`build_key` (the function's source, file and line, what its global names and closure
  cells hold, sourcegrad's own source files by name, size and modification time, the mode,
  ``wrt``, options and signature). What a name holds is described as a transformation reads
  it: data by type, a function by its own such text, a module by name (and a user module by
  its file's content), a class by the name and file of each class it derives from, an object
  (a layer, a model network) by its class and what each attribute holds. An entry is
  JSON holding the generated text and what its free names are bound to, with a checksum;
  written atomically (a temporary file renamed), read back only where the checksum, the key
  and every reference check out (:func:`load`), else built again and overwritten. A build is
  kept only where every free name of its function is one of the user's closure cells or an
  object with a *recipe* (:func:`recipe`) that makes it again exactly in another process:
  an importable module-level object (sourcegrad's runtime helpers, NumPy) by its name, NumPy's
  or sourcegrad's modules by name, a buffer pool of an optimized build by its plan (the
  blocks, and each buffer's block, shape and dtype), a generated gradient-container builder by
  its source text, and what a layer above adds (:func:`add_recipe`): the derivative of a
  user's function that the build calls (a helper's, a method's), found again by the
  function's module, name and source (``sourcegrad.kept``), its own builds kept under their
  own keys. Anything else (a nested function's derivative, a module such as ``numexpr``)
  keeps the build off disk. Optimized builds (specialised to the argument shapes: what runs
  from the second call on; and the build for a rank signature, optimized when a second shape
  signature of those ranks comes) are kept too, without the pure derivative they were
  optimized from: the process that reads one gives it its own pure build (:func:`load`'s
  ``pure``). Code objects are not kept: the text is compiled again in each process.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import itertools
import json
import linecache
import os
import re
import sys
import types
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GENERATED_LINES, register_generated
from .rules import registry
from .runtime.buffers import BufferPool
from .runtime.containers import gradient_builder
from .transform.emit import Emitted
from .transform.source_lines import definition_lines

#: the version of the builds on disk: sourcegrad's own source (see _own_hash)
_OWN_HASH: list = []
#: the code directories written in this process (generated code lives there)
_CODE_DIRS: set = set()
#: (the environment variables that name it) -> the cache directory, or False: not writable
_WRITABLE: dict = {}
_SOURCES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: classes a signature may name without their definition in the key
_KNOWN_CLASS = re.compile(r"(numpy\.[\w.]+|list|tuple|dict|float|int|bool|complex|NoneType)$")
_COUNTER = itertools.count()
_FIXED_MODULES = frozenset(
    "numpy math cmath builtins sourcegrad functools operator itertools collections".split()
    + ["cupy", "scipy"]
)
#: kind -> (describe, make): recipes of objects the layers above make (:func:`add_recipe`)
_RECIPES: dict = {}
_DATA = (float, int, bool, complex, str, bytes, type(None), np.ndarray, np.generic)


def cache_dir() -> Path | None:
    """The cache directory (made if missing); None where it cannot be written."""
    given = os.environ.get("SOURCEGRAD_CACHE_DIR")
    home = None if given else os.environ.get("XDG_CACHE_HOME")
    where = (given, home, None if given or home else os.environ.get("HOME"))
    found = _WRITABLE.get(where)  # (a build asks several times: no Path made then)
    if found is not None:
        return found or None
    if given:
        path = Path(given)
    else:
        base = home or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "sourcegrad"
    try:
        (path / "code").mkdir(parents=True, exist_ok=True)
        (path / "builds").mkdir(exist_ok=True)
        ok = os.access(path / "code", os.W_OK) and os.access(path / "builds", os.W_OK)
    except OSError:
        ok = False
    _WRITABLE[where] = path if ok else False
    return path if ok else None


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: another process sees the old file or the whole new one."""
    tmp = os.path.join(path.parent, f".tmp-{os.getpid()}-{next(_COUNTER)}{path.suffix}")
    try:
        with open(tmp, "wb", opener=lambda p, flags: os.open(p, flags, 0o600)) as out:
            out.write(text.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def source_file(text: str, name: str, origin: str = "") -> str | None:
    """The path of a file holding exactly ``text`` (made where missing, its lines put in
    ``linecache``), to compile ``text`` from; None where the cache directory cannot be written.
    ``origin`` (the user's file and lines the text maps to) is part of the file's name."""
    root = cache_dir()
    if root is None:
        return None
    digest = hashlib.sha256(f"{origin}\0{text}".encode()).hexdigest()[:24]
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in name[:60])  # (as `\W`)
    path, size = str(root / "code" / f"{stem}_{digest}.py"), len(text.encode())
    try:  # the name holds the content's hash: a file of the same size holds the text
        if not os.path.exists(path) or os.path.getsize(path) != size:
            _write_atomically(Path(path), text)
    except OSError:
        return None
    _CODE_DIRS.add(os.path.dirname(path))
    linecache.cache[path] = (size, None, io.StringIO(text, newline=None).readlines(), path)
    return path


def placed(text: str, name: str, origin: str = "") -> str:
    """The filename to compile the generated ``text`` under: a file of the cache directory
    (see :func:`source_file` for ``origin``), else a name registered with ``linecache``."""
    filename = source_file(text, name, origin)
    if filename is None:
        filename = f"<sourcegrad {name} #{next(_COUNTER)}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return filename


def is_generated(filename: str) -> bool:
    """Whether ``filename`` is that of code sourcegrad generated."""
    return filename.startswith("<sourcegrad") or os.path.dirname(filename) in _CODE_DIRS


# ---------------------------------------------------------------- keys
def _own_hash() -> str:
    """A hash of sourcegrad's own source files, by name, size and modification time (as
    Python's bytecode cache knows a changed source): builds made by other code are not read.
    Read once, when sourcegrad is imported (below): the version of the code that runs, even
    where a file changes after, and no part of a first call (0.6 ms of the seed MLP's 10);
    reading no file's content (and walking with ``os.scandir``, not ``Path.rglob``) keeps it
    at that."""
    if not _OWN_HASH:
        entries: list[str] = []
        _own_files(str(Path(__file__).parent), "", entries)
        _OWN_HASH.append(hashlib.sha256("".join(sorted(entries)).encode()).hexdigest())
    return _OWN_HASH[0]


def _own_files(folder: str, prefix: str, entries: list[str]) -> None:
    """Adds ``name:size:mtime`` of every ``.py`` file under ``folder`` to ``entries``."""
    with os.scandir(folder) as found:
        for entry in found:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _own_files(entry.path, f"{prefix}{entry.name}/", entries)
            elif entry.name.endswith(".py"):
                st = entry.stat()
                entries.append(f"{prefix}{entry.name}:{st.st_size}:{st.st_mtime_ns}\n")


_own_hash()


def _describe(value: Any, depth: int = 0) -> str | None:
    """What a transformation reads of a global or closure value, as text stable across
    processes; None where that cannot be said (then the build is not kept)."""
    if isinstance(value, _DATA) or type(value) in (list, tuple, dict):
        return f"data:{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, types.ModuleType):
        return _module_text(value)
    if isinstance(value, types.FunctionType):
        if _own_function(value):  # its source is in the version's hash (see _own_hash)
            text = f"own:{value.__module__}.{value.__qualname__}"
        elif depth > 2:
            return None
        else:
            text = function_text(value, depth + 1)
        rules = _rules_of(value)
        return None if text is None or rules is None else text + rules
    if isinstance(value, (type, types.BuiltinFunctionType, np.ufunc)):
        module = getattr(value, "__module__", None) or "builtins"
        name = getattr(value, "__qualname__", getattr(value, "__name__", None))
        if module.startswith(("numpy", "builtins", "math", "collections")):
            return f"object:{module}.{name}"
        return _class_text(value) if isinstance(value, type) else None
    return _object_text(value, depth)


def _own_function(fn: types.FunctionType) -> bool:
    """Whether ``fn`` is one of sourcegrad's own functions, found by its name."""
    module = fn.__module__ or ""
    if not (module == "sourcegrad" or module.startswith("sourcegrad.")):
        return False
    return "<" not in fn.__qualname__ and _resolve(module, fn.__qualname__) is fn


def _class_text(cls: type) -> str | None:
    """A class by the name and file of each class of its method resolution order (the source
    its methods are transformed from); None for a class its name does not find (made inside
    a function, or replaced), or of a module whose file cannot be read."""
    parts = []
    for klass in cls.__mro__[:-1]:  # (all but ``object``)
        module = sys.modules.get(klass.__module__)
        text = None if module is None else _module_text(module)
        if text is None or _resolve(klass.__module__, klass.__qualname__) is not klass:
            return None
        parts.append(f"class:{klass.__module__}.{klass.__qualname__}:{text}")
    return ";".join(parts)


class _Plain:
    """A class whose instances hold everything in their ``__dict__`` (see _state_in_dict)."""


def _state_in_dict(cls: type) -> bool:
    """Whether an instance of ``cls`` holds all it holds in its ``__dict__``: its layout is a
    plain Python class's (no ``__slots__``, no C type's fields or items below it, as a
    ``functools.partial``, a bound method or a namedtuple has)."""
    return cls.__basicsize__ == _Plain.__basicsize__ and cls.__itemsize__ == 0


def _object_text(obj: Any, depth: int) -> str | None:
    """An instance of a class (a layer object, a model network whose methods a derivative
    calls) by its class and what each of its attributes holds (data by type, functions and
    objects described in turn); None where any of it cannot be described."""
    fields = getattr(obj, "__dict__", None)
    if type(fields) is not dict or depth > 2 or not _state_in_dict(type(obj)):
        return None
    parts = [_class_text(type(obj))]
    for name in sorted(fields):
        described = _describe(fields[name], depth + 1)
        parts.append(None if described is None else f"{name}={described}")
    return None if None in parts else "\n".join(parts)


def _source(code: types.CodeType) -> str | None:
    """The source lines of ``code`` (read once per code object)."""
    text = _SOURCES.get(code)
    if text is None:
        lines = linecache.getlines(code.co_filename)
        if not lines:
            return None
        try:
            text = "".join(definition_lines(lines, code))
        except (IndexError, SyntaxError, ValueError):
            return None
        _SOURCES[code] = text
    return text


def _module_text(module: types.ModuleType) -> str | None:
    """A module by name, and by its file's content where it is not NumPy's, the standard
    library's or sourcegrad's (a user module whose functions the derivative reads)."""
    name = module.__name__
    if name.split(".")[0] in _FIXED_MODULES:
        return f"module:{name}"
    path = getattr(module, "__file__", None)
    try:
        data = Path(path).read_bytes() if path else None
    except OSError:
        data = None
    if data is None:
        return None
    return f"module:{name}:{hashlib.sha256(data).hexdigest()}"


def _rules_of(fn: types.FunctionType) -> str | None:
    """The rules registered for ``fn`` (``defvjp``, ``defjvp``, ``primitive``, ...) as text;
    None where a rule's template has no source."""
    parts = []
    for table in (registry.ADJOINTS, registry.TANGENTS):
        rule = table.get(fn)
        if rule is not None:
            template = getattr(rule.fn, "__code__", None)
            source = _source(template) if template is not None else None
            if source is None:
                return None
            parts.append(f"\nrule {rule.where}\n{source}")
    if fn in registry.NONDIFFERENTIABLE:
        parts.append("\nnondifferentiable")
    if fn in registry.PRIMITIVES:
        parts.append("\nprimitive")
    return "".join(parts)


def function_text(fn: types.FunctionType, depth: int = 0) -> str | None:
    """The source, place and environment of ``fn`` as text (what a transformation of it
    reads: the same text in two processes means the same transformation); None where not
    describable."""
    code = fn.__code__
    source = _source(code)
    if source is None:
        return None
    parts = [f"fn:{fn.__module__}:{code.co_filename}:{code.co_firstlineno}:{fn.__qualname__}"]
    parts.append(source)
    # two lambdas on one line share all of the above: where the code starts tells them apart
    starts = [(line, col) for line, _, col, _ in code.co_positions() if line and col]
    parts.append(f"at:{min(starts, default=None)}:{code.co_names}")
    names = set()
    todo = [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    glob = fn.__globals__
    for name in sorted(names):
        if name in glob:
            described = _describe(glob[name], depth)
            if described is None:
                return None
            parts.append(f"{name}={described}")
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            described = _describe(cell.cell_contents, depth)
        except ValueError:
            described = "empty"
        if described is None:
            return None
        parts.append(f"cell {name}={described}")
    for default in (fn.__defaults__ or ()) + tuple((fn.__kwdefaults__ or {}).values()):
        described = _describe(default, depth)
        if described is None:
            return None
        parts.append(f"default={described}")
    return "\n".join(parts)


def build_key(fn: Any, what: tuple, signature: Any) -> str | None:
    """The key of a build of ``fn`` (a plain function): ``what`` (mode, ``wrt`` and the
    rest that decides the transformation: numbers, strings, booleans, None and tuples of
    them) and ``signature`` (the arguments' rank or call signature); None where the build is
    not kept (see the module's docstring)."""
    if type(fn) is not types.FunctionType or fn.__code__.co_filename.startswith("<"):
        return None  # generated code (transformed again: higher orders) is not kept
    if cache_dir() is None:
        return None
    text = function_text(fn, 0)
    sig = repr(signature)
    if text is None or " at 0x" in sig:
        return None
    classes = _classes_in(signature, set())
    if any(c is None for c in classes):
        return None
    sig += "".join(classes)
    try:
        spec = json.dumps([repr(w) for w in what])
    except TypeError:
        return None
    if " at 0x" in spec or "<" in spec:  # an option that is an object (a hook, a callable)
        return None
    return hashlib.sha256("\n".join([_own_hash(), text, spec, sig]).encode()).hexdigest()


def _classes_in(signature: Any, seen: set) -> list:
    """The description (:func:`_class_text`) of each class a signature names beyond NumPy's
    and the containers' (a layer object's class: a method's argument ``self``)."""
    out = []
    if isinstance(signature, tuple):
        for part in signature:
            out += _classes_in(part, seen)
    elif isinstance(signature, type) and signature not in seen:
        seen.add(signature)
        name = f"{signature.__module__}.{signature.__qualname__}".removeprefix("builtins.")
        if not _KNOWN_CLASS.match(name):
            out.append(_class_text(signature))
    return out


# ---------------------------------------------------------------- builds
def _references(run: Emitted, fn: types.FunctionType) -> list | None:
    """What each free name of ``run``'s function is bound to: ``[name, "cell"]`` for a
    closure cell of ``fn``, else the recipe :func:`recipe` gives; None where any has none."""
    user = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    refs = []
    for name, cell in zip(run.fn.__code__.co_freevars, run.fn.__closure__ or ()):
        how = ["cell"] if user.get(name) is cell else recipe(cell.cell_contents)
        if how is None:
            return None
        refs.append([name, *how])
    return refs


def recipe(obj: Any) -> list | None:
    """How another process makes ``obj`` again exactly, as JSON (see :func:`made_again`):
    ``["pool", plan]`` for a buffer pool (its blocks and views, no buffers), ``["builder",
    text]`` for a generated gradient builder, ``["ref", module, qualname]`` for an importable
    object of sourcegrad or NumPy, ``["module", name]`` for NumPy, SciPy, ``math`` or
    sourcegrad's modules (a backend's array module); None for anything else."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
        known = name.split(".")[0] in ("numpy", "scipy", "math", "cmath", "sourcegrad")
        return ["module", name] if known and sys.modules.get(name) is obj else None
    if type(obj) is BufferPool:
        plan = _pool_plan(obj)
        return None if plan is None else ["pool", plan]
    for kind, (describe, _) in _RECIPES.items():
        where = describe(obj)
        if where is not None:
            return [kind, *where]
    text = getattr(obj, "builder_source", None)
    if type(obj) is types.FunctionType and isinstance(text, str):
        again = _builder(text)  # made from its text alone: kept only where that is the same
        return ["builder", text] if _same_function(again, obj) else None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not (module and qualname) or not module.startswith(("sourcegrad.", "numpy")):
        return None
    if _resolve(module, qualname) is not obj:
        return None
    return ["ref", module, qualname]


def add_recipe(kind: str, describe: Callable[[Any], list | None], make: Callable) -> None:
    """Let :func:`recipe` give ``[kind, *describe(obj)]`` for an object ``describe`` knows
    (None for any other, JSON otherwise), made again by ``make(*where)`` (None where it
    cannot be): what a layer above this one makes, such as a callee's derivative."""
    _RECIPES[kind] = (describe, make)


def _pool_plan(pool: BufferPool) -> list | None:
    """A pool's blocks and views as JSON (``BufferPool.of`` makes it again from them); None
    where a dtype is not named exactly by its string."""
    views = []
    for block, shape, dtype in pool.views:
        if dtype.fields is not None or np.dtype(dtype.str) != dtype:
            return None
        views.append([int(block), [int(n) for n in shape], dtype.str])
    return [[int(b) for b in pool.blocks], views]


def _builder(text: str) -> types.FunctionType:
    """The gradient builder whose ``builder_source`` is ``text``, compiled as
    :func:`~sourcegrad.runtime.containers.gradient_builder` compiles one: reading the helpers
    a builder made in this process reads (:func:`recipe` checks the result is the same
    function as the one kept, so a change there keeps builds off disk, never wrong)."""
    helpers = gradient_builder([0.0], [(0,)]).__globals__
    namespace = {k: v for k, v in helpers.items() if k not in ("build", "__builtins__")}
    exec(compile(text, "<sourcegrad gradient builder>", "exec"), namespace)  # noqa: S102
    build = namespace["build"]
    build.builder_source = text
    return build


def _same_function(a: types.FunctionType, b: types.FunctionType) -> bool:
    """Whether ``a`` and ``b`` run the same code reading the same globals (their own names
    aside) and no closure cells."""
    if a.__code__ != b.__code__ or a.__closure__ or b.__closure__:
        return False
    ga, gb = a.__globals__, b.__globals__
    own = {a.__name__, b.__name__}
    return ga.keys() == gb.keys() and all(ga[k] is gb[k] for k in ga if k not in own)


def made_again(kind: str, *where: Any) -> Any:
    """The object the recipe ``[kind, *where]`` of :func:`recipe` describes, made again;
    None where it is gone."""
    if kind == "pool":
        blocks, views = where[0]
        return BufferPool.of(blocks, views)
    if kind == "builder":
        return _builder(where[0])
    if kind == "ref":
        return _resolve(*where)
    if kind == "module":
        return _resolve(where[0], "")
    if kind in _RECIPES:
        return _RECIPES[kind][1](*where)
    return None


def _resolve(module: str, qualname: str) -> Any:
    try:
        obj = sys.modules.get(module) or importlib.import_module(module)
        for part in qualname.split(".") if qualname else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def store(key: str, run: Emitted, fn: Any) -> bool:
    """Keep ``run``, a build of ``fn``, under ``key`` where it can be kept (the generated
    function itself, with ``fn``'s defaults, its free names ``fn``'s cells or objects with a
    recipe, see :func:`recipe`); whether it was kept. An optimized build (``run.pure`` set)
    is kept without its pure derivative: :func:`load` is given that."""
    root = cache_dir()
    if root is None or type(run.fn) is not types.FunctionType:
        return False
    code = run.fn.__code__
    if not is_generated(code.co_filename) or code.co_name != run.name:
        return False
    if set(run.fn.__kwdefaults__ or ()) != set(fn.__kwdefaults__ or ()):
        return False  # a seed tangent given as a default (a gradient in forward mode)
    if len(run.fn.__defaults__ or ()) != len(fn.__defaults__ or ()):
        return False
    refs = _references(run, fn)
    origin = GENERATED_LINES.get(code.co_filename)
    if refs is None or origin is None:
        return False
    payload = {
        "key": key,
        "name": run.name,
        "text": run.text,
        "file_text": "".join(linecache.getlines(code.co_filename)),
        "refs": refs,
        "line_map": sorted(run.line_map.items(), key=lambda kv: kv[0]),
        "tangent_params": list(run.tangent_params),
        "specialisable": run.specialisable,
        "provisional": run.provisional,
        "optimized": run.pure is not None,
        "origin": [origin[0], sorted(origin[1].items())],  # lines nested code is made from
    }
    if not payload["file_text"]:
        return False
    body = json.dumps(payload, sort_keys=True)
    entry = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": body})
    try:
        _write_atomically(root / "builds" / f"{key}.json", entry)
    except OSError:
        return False
    return True


def load(key: str, fn: types.FunctionType, pure: Any = None) -> Emitted | None:
    """The build kept under ``key``, bound to ``fn``'s globals, closure cells and defaults,
    every other free name's object made again from its recipe (a new buffer pool, a builder
    compiled again); an optimized build gets ``pure`` as its pure derivative. None where there
    is none, where it does not check out (the caller builds it again), or where it is
    optimized and no ``pure`` is given."""
    root = cache_dir()
    if root is None:
        return None
    try:
        entry = json.loads((root / "builds" / f"{key}.json").read_text(encoding="utf-8"))
        body = entry["payload"]
        if hashlib.sha256(body.encode()).hexdigest() != entry["sha256"]:
            return None
        payload = json.loads(body)
        if payload["key"] != key or (payload["optimized"] and pure is None):
            return None
        run = _compiled(payload, fn)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return None
    if run is not None and payload["optimized"]:
        run.pure = pure
    return run


def _compiled(payload: dict, fn: types.FunctionType) -> Emitted | None:
    """The :class:`Emitted` of a checked ``payload``; None where a reference is gone."""
    user = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    cells = {}
    for name, kind, *where in payload["refs"]:
        if kind == "cell":
            if name not in user:
                return None
            cells[name] = user[name]
        else:
            obj = made_again(kind, *where)
            if obj is None:
                return None
            cells[name] = types.CellType(obj)
    text, name = payload["file_text"], payload["name"]
    user_file, lines = payload["origin"]
    filename = placed(text, name, f"{user_file}:{sorted(tuple(kv) for kv in lines)}")
    namespace: dict = {}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - checked generated code
    made = namespace["__sg_make__"](*([None] * len(cells)))
    if set(made.__code__.co_freevars) != set(cells):
        return None
    closure = tuple(cells[n] for n in made.__code__.co_freevars)
    new = types.FunctionType(made.__code__, fn.__globals__, name, fn.__defaults__, closure)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = name
    line_map = {int(k): v for k, v in payload["line_map"]}
    label = f"<sourcegrad {name} #d{next(_COUNTER)} of {fn.__code__.co_filename}>"
    for where in (filename, label):  # a lambda made by the build names the user's line
        register_generated(where, user_file, {int(k): v for k, v in lines}, owner=new)
    tangents = tuple(payload["tangent_params"])
    held = tuple(c.cell_contents for c in closure if type(c.cell_contents) is BufferPool)
    run = Emitted(new, name, payload["text"], filename, line_map, tangents, held=held, label=label)
    run.specialisable, run.provisional = payload["specialisable"], payload["provisional"]
    return run
