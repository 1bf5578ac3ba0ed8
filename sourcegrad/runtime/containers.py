"""Gradients shaped like the arguments they belong to: the same containers, keys and leaf types."""

from __future__ import annotations

import numpy as np

from .facts import helper
from .records import is_record, is_static_leaf, rebuilt_record, record_fields, refuse_property
from .trees import add_adjoints, dict_of_kind, piece_of

# the argument guards at the end of this module: the library calls them (never generated code)


@helper(called_by="library")
def is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


@helper(called_by="library")
def is_container(x) -> bool:
    """A dict, list, tuple (namedtuples included) or record (a dataclass instance)."""
    return isinstance(x, (dict, list, tuple)) or is_record(x)


@helper(called_by="library")
def children(x):
    """``(key, child)`` pairs of a container, in a deterministic order (namedtuples and
    records by field)."""
    if isinstance(x, dict):
        return list(x.items())
    if is_namedtuple(x):
        return list(zip(x._fields, x))
    if is_record(x):
        return list(record_fields(x).items())
    return list(enumerate(x))


@helper(called_by="library")
def rebuild(like, values: dict):
    """A container of ``like``'s type and keys holding ``values[key]``."""
    if isinstance(like, dict):
        return dict_of_kind(like, ((k, values[k]) for k in like))
    if is_namedtuple(like):
        return type(like)(*[values[f] for f in like._fields])
    if is_record(like):
        return rebuilt_record(like, values)
    return type(like)([values[i] for i in range(len(like))])


def _key_of(like, key):
    """Namedtuple fields may be read by position (``p[0]``) or by name (``p.w``); a list or
    tuple item by a negative position (``p[-1]``) too."""
    if isinstance(key, int) and isinstance(like, (list, tuple)) and -len(like) <= key < 0:
        key += len(like)
    if is_namedtuple(like) and isinstance(key, int):
        return like._fields[key]
    return key


@helper(called_by="library")
def zeros_like_tree(like):
    if is_container(like):
        return rebuild(like, {k: zeros_like_tree(v) for k, v in children(like)})
    return _zero_leaf(like)


@helper(called_by="library")
def scalar_gradient(like, g):
    """The gradient ``g`` of a scalar ``like`` in ``like``'s own kind: a float for a Python
    float, a NumPy scalar of ``like``'s dtype for a NumPy scalar; None for anything else."""
    if type(like) is float:
        return float(g)
    if isinstance(like, np.generic):
        return like.dtype.type(g)
    return None


@helper(linear=("parts",), like="like", passes=True)
def gradient_like(like, parts):
    """The gradient of ``like`` assembled from ``parts``.

    ``parts`` maps a key path (a tuple of dict keys and list/array indices) to the adjoint of
    the value read at that path; ``()`` is the whole value. A plain value stands for
    ``{(): value}``. Leaves no part reaches get zeros of their shape. Float leaves get floats,
    NumPy scalars NumPy scalars of their dtype, array leaves get arrays of their own type and
    dtype. Every array returned is a fresh array owned by the caller: views and arrays returned
    twice are copied.
    """
    if type(parts) is not dict:  # an adjoint (a DictPieces too), not a map of paths
        parts = {(): parts}
    return _build(like, parts, set())


_EMPTY: dict = {}


def _build(like, parts, seen):
    if like is None or isinstance(like, (str, bytes)) or is_static_leaf(like):
        return like  # no derivative: a name, a marker in the structure, a record's setting
    whole = parts.get((), None)
    if whole is not None and len(parts) == 1 and _owned(like, whole, seen):
        return whole
    t = type(like)
    if whole is None and (t is dict or t is list):
        grouped: dict = {}
        for p, g in parts.items():
            key = _key_of(like, p[0])
            sub = grouped.get(key)
            if sub is None:
                sub = grouped[key] = {}
            sub[p[1:]] = add_adjoints(sub[p[1:]], g) if p[1:] in sub else g
        if t is dict:
            return {k: _build(v, grouped.get(k, _EMPTY), seen) for k, v in like.items()}
        return [_build(v, grouped.get(i, _EMPTY), seen) for i, v in enumerate(like)]
    if is_container(like):
        grouped = {}
        for p, g in parts.items():
            if p:
                refuse_property(like, p[0])
                sub = grouped.setdefault(_key_of(like, p[0]), {})
                sub[p[1:]] = add_adjoints(sub[p[1:]], g) if p[1:] in sub else g
        out = {}
        for key, child in children(like):
            sub = grouped.get(key, {})
            if whole is not None:
                piece = piece_of(whole, key, like)
                if piece is not None:
                    sub[()] = piece if () not in sub else add_adjoints(sub[()], piece)
            out[key] = _build(child, sub, seen)
        return rebuild(like, out)
    if not parts:
        return _zero_leaf(like)
    deeper = [(p, g) for p, g in parts.items() if p]
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, sum(parts.values()))
    if whole is not None and not deeper:
        return _fresh(like, whole, seen)
    out = np.zeros_like(like)
    if whole is not None:
        out += whole
    for path, g in deeper:
        target = out
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] += g
    seen.add(id(out))
    return out


def _fresh(like, g, seen):
    """``g`` as a new array of ``like``'s type, shape and dtype, owned by the caller."""
    if (
        not hasattr(g, "shape")
        or isinstance(g, np.generic)  # a NumPy scalar stands for a 0-d array: make one
        or np.shape(g) != np.shape(like)
        or g.dtype != like.dtype
    ):
        out = np.zeros_like(like)
        out[...] = g
        seen.add(id(out))
        return out
    flags = g.flags
    if id(g) in seen or not flags.owndata or not getattr(flags, "writeable", True):
        g = g.copy()
    elif type(g) is not type(like) and isinstance(like, np.ndarray):
        g = g.view(type(like))
    seen.add(id(g))
    return g


def _owned(like, g, seen) -> bool:
    """The common case, decided with attribute reads only: ``g`` is a fresh array of
    ``like``'s kind that no other leaf holds (then it is recorded as held)."""
    if (
        type(g) is np.ndarray
        and type(like) is np.ndarray
        and g.shape == like.shape
        and g.dtype == like.dtype
        and g.base is None
        and id(g) not in seen
    ):
        seen.add(id(g))
        return True
    return False


def _leaf(like, g, seen):
    """One gradient leaf: ``g`` itself when it is a fresh array of ``like``'s kind."""
    if like is None or isinstance(like, (str, bytes)):
        return like
    if _owned(like, g, seen):
        return g
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, g)
    return _fresh(like, g, seen)


def _zero_leaf(like):
    if like is None or isinstance(like, (str, bytes)) or is_static_leaf(like):
        return like  # a name or a marker in the structure (a key in a list of pairs)
    if isinstance(like, (float, np.generic)):
        return scalar_gradient(like, 0)
    return np.zeros_like(like)


def _structure(x):
    """A hashable description of ``x``'s dicts, lists and tuples (leaves: None)."""
    t = type(x)
    if t is dict:
        return ("d", tuple((k, _structure(v)) for k, v in x.items()))
    if t is list or t is tuple:
        return (t.__name__, tuple(_structure(v) for v in x))
    return None if not is_container(x) else ("other", id(t))


_BUILDERS: dict = {}


@helper(called_by="running")
def gradient_builder(like, paths, known=frozenset()):
    """A function ``build(like, *values)`` equal to ``gradient_like(like, dict(zip(paths,
    values)))`` for every ``like`` of the same structure as this one (dicts with string keys,
    lists and tuples, any depth), or None when the structure or the paths are outside that.

    It is generated once per structure, paths and ``known`` (the same function for every
    derivative that needs it), so a call walks no containers and compares no keys: it only
    reads the leaves and checks each value is fresh. ``known`` holds ``(position, shape,
    dtype)`` for values the caller guarantees are new NumPy arrays of that shape and dtype
    that nothing else holds: where those are the leaf's own (a leaf of at least one
    dimension: NumPy makes scalars of 0-d results), the value is placed as it is.

    The function's attribute ``builder_source`` is the text it was compiled from (``def
    build(like, v0, ...): ...``, reading the helpers its globals hold), so that it can be
    written out (``sourcegrad.export``)."""
    try:
        key = (_structure(like), tuple(tuple(p) for p in paths), known)
        hash(key)
    except TypeError:  # unhashable keys somewhere
        return _gradient_builder(like, paths, known)
    if key not in _BUILDERS:
        _BUILDERS[key] = _gradient_builder(like, paths, known)
    return _BUILDERS[key]


def _gradient_builder(like, paths, known=frozenset()):
    index = {tuple(p): i for i, p in enumerate(paths)}
    facts = {i: (shape, dtype) for i, shape, dtype in known}
    if len(index) != len(paths):
        return None
    used = set()

    def node(x, path, expr):
        t = type(x)
        if t is dict:
            if not all(type(k) is str for k in x):
                return None
            items = [(k, node(v, path + (k,), f"{expr}[{k!r}]")) for k, v in x.items()]
            if any(v is None for _, v in items):
                return None
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in items) + "}"
        if t is list or t is tuple:
            items = [node(v, path + (i,), f"{expr}[{i}]") for i, v in enumerate(x)]
            if any(v is None for v in items):
                return None
            body = ", ".join(items)
            return f"[{body}]" if t is list else f"({body}{',' if len(items) == 1 else ''})"
        if is_container(x):
            return None  # namedtuples and other containers: the general gradient_like
        i = index.get(path)
        if i is None:
            return f"_zero_leaf({expr})"
        used.add(path)
        exact = type(x) is np.ndarray and x.ndim and facts.get(i) == (x.shape, x.dtype)
        return f"v{i}" if exact else f"_leaf({expr}, v{i}, seen)"

    body = node(like, (), "like")
    if body is None or used != set(index):
        return None  # a part that is not exactly a leaf (a slice of one, a sub-container)
    params = ", ".join(["like"] + [f"v{i}" for i in range(len(paths))])
    seen = "    seen = set()\n" if "seen" in body else ""
    text = f"def build({params}):\n{seen}    return {body}\n"
    namespace = {"_leaf": _leaf, "_zero_leaf": _zero_leaf}
    exec(compile(text, "<sourcegrad gradient builder>", "exec"), namespace)  # noqa: S102
    build = namespace["build"]
    build.builder_source = text  # what an export writes (see gradient_builder)
    return build
