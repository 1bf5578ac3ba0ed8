"""What a call of the user's function returns, known from the callee's own inference.

``h = dense(x, W, b)`` has the rank (and, in a shape-specialised build, the shape) of what
``dense`` returns for arguments like ``x``, ``W`` and ``b``: :func:`callee_analysis`
normalizes and analyzes the callee for stand-ins of its arguments (arrays of zeros of the
rank or shape known; an argument, or a read of one, as it is; numbers), and the callee's own
inference says what the name it returns holds. That holds for every call with arguments of
that signature, as the callee's inference guarantees for its own build. Where an argument is
not known, the callee takes ``*args``, keywords or is being followed already (a recursive
call), returns a tuple, or is refused for the stand-ins, nothing is assumed.
:func:`returned_rank` is the rank; ``call_shapes.returned_shape`` the shape. The analysis
pass hands ``analyze`` in (this module is below it).
"""

from __future__ import annotations

import contextvars
import inspect

import gast
import numpy as np

from ..errors import SourcegradError
from ..runtime.signature import call_signature, rank_signature
from .forms import copied_core
from .normalize import normalize
from .parse import parse
from .path_reads import follow_keys
from .walk import walk_statements, written_names

__all__ = ["MISSING", "callee_analysis", "example_read", "kept_core", "returned_rank"]

#: the functions whose result is being worked out (a recursive call is not followed)
_FOLLOWING: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "following", default=frozenset()
)
#: what a stand-in function returns for an argument it cannot stand for
MISSING = object()


def returned_rank(op, ranks: dict, core, example_args, analyze) -> int | None:
    """The rank of what the call ``op`` (of the user's function) returns, its arguments
    known by ``ranks`` or as reads of ``example_args``; None where that is not known."""

    def stand_in(atom):
        if isinstance(atom, gast.Constant):
            return atom.value
        r = ranks.get(atom.id) if isinstance(atom, gast.Name) else None
        if r is None:
            return example_read(atom, core, example_args)
        return np.zeros((2,) * r) if r else 0.5

    def read(analysis, _values):
        returned = analysis.core.node.body[-1].value
        if isinstance(returned, gast.Constant):
            return 0 if isinstance(returned.value, (int, float)) else None
        return analysis.ranks.get(returned.id) if isinstance(returned, gast.Name) else None

    return callee_analysis(op, stand_in, analyze, read)


def callee_analysis(op, stand_in, analyze, read):
    """``read(analysis, values)``: of the callee of ``op`` analyzed for the values
    ``stand_in(atom)`` gives for the call's arguments (its defaults filled in), while the
    callee is followed (a call of it inside is not); None where there is none."""
    fn, args, kwargs = op.user_call
    code = getattr(fn, "__code__", None)
    if code is None or code in _FOLLOWING.get() or kwargs:
        return None
    try:
        sig = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind not in plain for p in sig.parameters.values()):
        return None
    stand_ins = [stand_in(a) for a in args]
    if any(s is MISSING for s in stand_ins):
        return None
    try:
        bound = sig.bind(*stand_ins)
    except TypeError:
        return None
    bound.apply_defaults()
    values = tuple(bound.arguments.values())
    key = _memo_key(fn, read, values)
    known = _MEMO.get(key[0]) if key is not None else None
    if known is not None:
        return known[1]
    token = _FOLLOWING.set(_FOLLOWING.get() | {code})
    try:
        core = _normalized(fn, values, key)
        wrt = tuple(i for i, v in enumerate(values) if _floating(v))
        found = read(analyze(core, wrt, values, whole_output=True), values)
    except SourcegradError:  # refused for the stand-ins: nothing is known
        found = None
    finally:
        _FOLLOWING.reset(token)
    if key is not None:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()  # (another thread may be adding: no walk over it)
        _MEMO[key[0]] = (key[1], found)  # (the objects whose ids the key holds, kept alive)
    return found


#: (callee, what is read, arguments' signature, what the callee reads) -> (objects, found):
#: what every build asking about the same call finds again, so that a helper is analyzed
#: for stand-ins once per signature (any answer is sound, a None one only less telling)
_MEMO: dict = {}
_MEMO_SIZE = 512


#: (callee, its arguments' rank signature, what it reads) -> (objects, the core normalize
#: gave): a helper asked about for the shapes of a signature whose ranks it was asked about
#: already (a shape-specialised build after the first call's) is not normalized again
_CORES: dict = {}


def _normalized(fn, values: tuple, key: tuple | None):
    """The core of ``fn`` normalized for ``values`` (a copy of the one kept for their ranks,
    which normalizing gives again; ``key``: the question's :func:`_memo_key`)."""
    if key is None:
        return normalize(parse(fn), values)
    (_, _, _, reads), kept = key
    ranks = (fn, tuple([rank_signature(v) for v in values]), reads)
    known = _CORES.get(ranks)
    if known is not None:
        return copied_core(known[1])
    core = normalize(parse(fn), values)
    if len(_CORES) >= _MEMO_SIZE:
        _CORES.clear()
    _CORES[ranks] = (kept, copied_core(core))  # (as normalize gave it: analysis rewrites)
    return core


def kept_core(parsed, args: tuple):
    """A copy of the core a question about ``parsed``'s function kept for arguments of the
    ranks of ``args`` (what ``normalize(parsed, args)`` gives), made ``parsed``'s; None where
    none is kept (the first build of a helper's derivative after its caller's analysis asked
    about it: not normalized again)."""
    if not _CORES or not all(_plain(v) for v in args):
        return None
    fn = parsed.fn
    reads: list = []
    _reads_of(fn, reads, 0)
    ranks = (fn, tuple([rank_signature(v) for v in args]), tuple(id(r) for r in reads))
    known = _CORES.get(ranks)
    if known is None:
        return None
    core = copied_core(known[1])
    parsed.lines.update(core.parsed.lines)  # (the lines of methods normalize inlined)
    core.parsed = parsed
    return core


def _memo_key(fn, read, values) -> tuple | None:
    """``(key, objects kept alive)`` of a question about ``fn`` (None where the values'
    signature would not tell them apart: an object of another class than NumPy's arrays,
    numbers and containers). The key holds the identities of the functions, modules and
    other values ``fn`` reads by name, and theirs in turn (three levels)."""
    if not all(_plain(v) for v in values):
        return None
    reads: list = []
    _reads_of(fn, reads, 0)
    kind = getattr(read, "__qualname__", "")
    sig = tuple(call_signature(v) for v in values)
    return (fn, kind, sig, tuple(id(r) for r in reads)), tuple(reads)


def _reads_of(fn, out: list, depth: int) -> None:
    code = getattr(fn, "__code__", None)
    if code is None or depth > 2 or any(fn is r for r in out):
        return
    out.append(fn)
    names, todo = set(), [code]
    while todo:
        c = todo.pop()
        names.update(c.co_names)
        todo.extend(k for k in c.co_consts if isinstance(k, type(code)))
    glob = getattr(fn, "__globals__", {})
    cells = [c.cell_contents for c in fn.__closure__ or () if _filled(c)]
    for value in [glob[n] for n in sorted(names) if n in glob] + cells:
        if inspect.isfunction(value):
            _reads_of(value, out, depth + 1)
        elif not any(value is r for r in out):
            out.append(value)


def _filled(cell) -> bool:
    """Whether a closure cell holds a value (one of a name not yet assigned is empty)."""
    try:
        cell.cell_contents  # noqa: B018 - reading it is the test
    except ValueError:
        return False
    return True


def _plain(value) -> bool:
    """Whether ``call_signature(value)`` tells apart every value a build treats apart."""
    t = type(value)
    if t in (dict, list, tuple):
        return all(_plain(v) for v in (value.values() if t is dict else value))
    return t in (np.ndarray, float, int, bool, complex, str, type(None)) or isinstance(
        value, np.generic
    )


def _floating(value) -> bool:
    """Whether the callee's derivative would take ``value`` along (a float, an array of
    floats, a container or object holding them: analysis decides, as for the real call)."""
    if isinstance(value, (bool, int, str)) or value is None:
        return False
    dtype = getattr(value, "dtype", None)
    return dtype is None or np.issubdtype(dtype, np.inexact)


def example_read(atom, core, example_args):
    """The example value of ``atom``: an argument the function never rebinds, or a read of
    one (``params["W"]``); :data:`MISSING` where it is neither."""
    if not isinstance(atom, gast.Name) or example_args is None:
        return MISSING
    root, keys = core.paths.get(atom.id, (atom.id, ()))
    if root not in core.params or (atom.id not in core.paths and atom.id in _rebound(core)):
        return MISSING
    i = core.params.index(root)
    if i >= len(example_args):
        return MISSING
    return follow_keys(example_args[i], keys, MISSING)


def _rebound(core) -> set:
    """The names the core function assigns (a parameter among them holds other values)."""
    out: set = set()
    for stmt in walk_statements(core.node.body):
        if isinstance(stmt, (gast.Assign, gast.AugAssign, gast.For)):
            out.update(written_names(stmt))
    return out
