"""What sourcegrad knows of a function besides its derivative rules, declared next to them.

A family module (``elementwise.py``, ``reductions.py``, ...) declares, for the keys whose
rules it holds, with :func:`declare`:

* ``rank(op, ranks)``: the rank of the result from the ranks of the operands (``ranks``: name
  -> rank or None), or None when they do not decide it;
* ``shape(op, known)``: the result's shape from the operands' shapes (``known``: name ->
  shape tuple), or None;
* ``dtype``: how the result's dtype follows from the operands', one of :data:`DTYPE_RULES`
  (the runtime helpers declare theirs with the same rules);
* ``allocates``: ``"new"`` (a new array, made from array arguments, that shares no memory
  with them), ``"created"`` (a new array made from shapes or values: ``np.zeros``),
  ``"view"`` (may share an argument's memory), or None (not declared);
* ``reduction``: whether it is a reduction taking ``axis`` / ``keepdims``;
* ``sums_leading``: whether its result is a sum over the leading axes (all but the last) of
  its array operands, term by term linear in each (``linear_weight_grad(g, x)``, ``g.T @ x``
  over rows): called on operands stacked along a new leading axis, it gives the sum of its
  calls on the steps, so a loop's accumulations of it can run as one call after the loop;
* ``several_results``: whether its result is a tuple or list of values (``np.linalg.eigh``,
  ``np.split``) rather than one array: ``a, b = key(x)`` then binds its results, where for
  any other NumPy or SciPy function it unpacks the rows of one array.

``op`` is the analysis's operation: ``op.key``, ``op.operands`` (syntax-tree atoms) and
``op.bound`` (the rule's parameter names -> atoms). A declaration for a *type* (``np.ufunc``)
holds for every key of that type that has no declaration of its own.

The transformer reads these through the queries below (:func:`rank_of`, :func:`shape_of`,
:func:`dtype_rule`, :func:`allocation`, :func:`is_reduction`, :func:`sums_leading`,
:func:`unpacks_one_array`, :func:`numpy_names`), never
through the family modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gast
import numpy as np

from ..runtime.facts import DTYPE_RULES, helper_facts
from .registry import Rule, hashable_key, lookup

ALLOCATIONS = ("new", "created", "view")


@dataclass(frozen=True)
class Facts:
    """The declared facts of one key (None: not declared, nothing is assumed)."""

    rank: Callable | None = None
    shape: Callable | None = None
    dtype: str | None = None
    allocates: str | None = None
    reduction: bool = False
    sums_leading: bool = False
    several_results: bool = False


#: key (or type, for every key of that type) -> :class:`Facts`
FACTS: dict = {}


def declare(
    *keys,
    rank=None,
    shape=None,
    dtype=None,
    allocates=None,
    reduction=False,
    sums_leading=False,
    several_results=False,
) -> None:
    """Declare the facts of every key in ``keys`` (see the module docstring). A key declared
    twice gets the facts of both, the later declaration winning where both give one."""
    if dtype is not None and dtype not in DTYPE_RULES:
        raise ValueError(f"dtype rule {dtype!r} is not one of {sorted(DTYPE_RULES)}")
    if allocates is not None and allocates not in ALLOCATIONS:
        raise ValueError(f"allocation {allocates!r} is not one of {ALLOCATIONS}")
    for key in keys:
        old = FACTS.get(hashable_key(key), Facts())
        FACTS[hashable_key(key)] = Facts(
            rank=rank or old.rank,
            shape=shape or old.shape,
            dtype=dtype or old.dtype,
            allocates=allocates or old.allocates,
            reduction=reduction or old.reduction,
            sums_leading=sums_leading or old.sums_leading,
            several_results=several_results or old.several_results,
        )


def facts_of(key) -> Facts:
    """The facts declared for ``key``, else for its type, else none (an empty :class:`Facts`)."""
    got = FACTS.get(hashable_key(key))
    if got is None:
        got = FACTS.get(type(key))
    return got if got is not None else Facts()


# ------------------------------------------------------------------------- queries


def rank_of(op, ranks: dict):
    """The rank of ``op``'s result where its operands' ``ranks`` decide it, else None."""
    rule = facts_of(op.key).rank
    return None if rule is None else rule(op, ranks)


def shape_of(op, known: dict):
    """The shape of ``op``'s result where its operands' ``known`` shapes decide it, else None."""
    rule = facts_of(op.key).shape
    return None if rule is None else rule(op, known)


def dtype_rule(key):
    """How ``key``'s result dtype follows from its operands' (a :data:`DTYPE_RULES` key), as
    declared here or, for a runtime helper, with its ``@helper(dtype=...)``; None where
    nothing is declared."""
    declared = facts_of(key).dtype
    if declared is None:
        helper = helper_facts(key)
        declared = None if helper is None else helper.dtype
    return declared


def allocation(key):
    """Whether ``key``'s result is ``"new"``, ``"created"`` or a ``"view"`` (or None)."""
    return facts_of(key).allocates


def is_reduction(key) -> bool:
    """Whether ``key`` is a reduction taking ``axis`` and ``keepdims``."""
    return facts_of(key).reduction


def sums_leading(key) -> bool:
    """Whether ``key`` sums over its operands' leading axes (see the module docstring)."""
    return facts_of(key).sums_leading


def unpacks_one_array(key) -> bool:
    """Whether ``a, b = key(...)`` unpacks the rows of one array: ``key`` is a NumPy or SciPy
    function with a derivative rule whose result is one array (a ufunc of one output, or any
    other not declared ``several_results``). False for everything else (the user's functions,
    sourcegrad's library, anything not resolved), whose results are bound one by one."""
    if isinstance(key, np.ufunc):
        return key.nout == 1
    module = getattr(key, "__module__", None) or ""
    if module.split(".")[0] not in ("numpy", "scipy") or facts_of(key).several_results:
        return False
    return isinstance(lookup(key), Rule)


def numpy_names(module=np, *, allocates=None, dtype=None) -> frozenset:
    """The attribute names in ``module`` (``np``, ``np.linalg``) of the functions declared
    with that allocation (or dtype rule): what a transform matching ``np.name(...)`` calls
    by name looks up."""
    names = set()
    for key, facts in FACTS.items():
        name = getattr(key, "__name__", None)
        if not isinstance(name, str) or getattr(module, name, None) is not key:
            continue
        if allocates is not None and facts.allocates != allocates:
            continue
        if dtype is not None and facts.dtype != dtype:
            continue
        names.add(name)
    return frozenset(names)


# ------------------------------------------------------------------------- building blocks


def is_none(atom) -> bool:
    """Whether ``atom`` is absent or the constant None."""
    return atom is None or (isinstance(atom, gast.Constant) and atom.value is None)


#: the number constants of NumPy and ``math`` a function reads as static references
_NUMBER_CONSTANTS = frozenset({"pi", "e", "tau", "inf", "nan", "euler_gamma"})


def atom_rank(atom, ranks: dict):
    """The rank of an atom: 0 for a number (``np.pi``, ``math.e`` too), a name's known rank,
    else None."""
    if isinstance(atom, gast.Constant):
        return 0 if isinstance(atom.value, (int, float, complex)) else None
    if isinstance(atom, gast.Name):
        return ranks.get(atom.id)
    if (
        isinstance(atom, gast.Attribute)
        and isinstance(atom.value, gast.Name)
        and atom.value.id in ("np", "numpy", "math")
        and atom.attr in _NUMBER_CONSTANTS
    ):
        return 0
    return None


def atom_shape(atom, known: dict):
    """The shape of an atom: () for a number, a name's known shape, else None."""
    if isinstance(atom, gast.Constant):
        return () if isinstance(atom.value, (int, float, complex)) else None
    if isinstance(atom, gast.Name):
        return known.get(atom.id)
    return None


def operand_ranks(op, ranks: dict) -> list:
    """The ranks of ``op``'s operands, in order (None where unknown)."""
    return [atom_rank(a, ranks) for a in op.operands]


def first_operand_rank(op, ranks: dict):
    """The rank of ``op``'s first operand (the result of a rank-preserving function)."""
    return atom_rank(op.operands[0], ranks) if op.operands else None


def constant_rank(rank: int) -> Callable:
    """A rank rule for results of one rank whatever the operands (``np.outer``: 2)."""

    def rule(op, ranks):
        return rank

    rule.__qualname__ = f"constant_rank({rank})"
    return rule


def broadcast(*shapes):
    """NumPy's broadcast of ``shapes``; None when one is unknown or they do not broadcast."""
    if any(s is None for s in shapes):
        return None
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def product_shape(key, a, b):
    """The shape of ``a @ b`` (or ``np.dot`` of vectors and matrices)."""
    if a is None or b is None or not a or not b:
        return None
    if key is np.dot and (len(a) > 2 or len(b) > 2):
        return None
    if a[-1] != (b[0] if len(b) == 1 else b[-2]):
        return None
    if len(a) == 1 and len(b) == 1:
        return ()
    if len(a) == 1:
        return b[:-2] + b[-1:]
    if len(b) == 1:
        return a[:-1]
    batch = broadcast(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


def _reduced_axes(axis, ndim):
    """The axes a constant ``axis`` atom names for an array of rank ``ndim``, or None."""
    if axis is None or (isinstance(axis, gast.Constant) and axis.value is None):
        return tuple(range(ndim))
    if isinstance(axis, gast.Constant) and isinstance(axis.value, int):
        return (axis.value,)
    if isinstance(axis, gast.Tuple) and all(
        isinstance(e, gast.Constant) and isinstance(e.value, int) for e in axis.elts
    ):
        return tuple(e.value for e in axis.elts)
    return None


def reduced_shape(shape, axis, keepdims):
    """The shape of a reduction of an array of ``shape`` over the constant ``axis``."""
    if shape is None:
        return None
    keep = False
    if keepdims is not None:
        if not (isinstance(keepdims, gast.Constant) and isinstance(keepdims.value, bool)):
            return None
        keep = keepdims.value
    axes = _reduced_axes(axis, len(shape))
    if axes is None or any(not -len(shape) <= a < len(shape) for a in axes):
        return None
    axes = {a % len(shape) for a in axes} if shape else set()
    if keep:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def einsum_shape(spec: str, shapes):
    """The shape of ``np.einsum(spec, *operands)`` for operands of ``shapes``, for an
    explicit output without ellipsis; None if unknown or inconsistent."""
    spec = spec.replace(" ", "")
    if "->" not in spec or "." in spec or any(s is None for s in shapes):
        return None
    ins, out = spec.split("->")
    parts = ins.split(",")
    if len(parts) != len(shapes):
        return None
    size: dict = {}
    for letters, shape in zip(parts, shapes):
        if len(letters) != len(shape):
            return None
        for c, n in zip(letters, shape):
            if size.setdefault(c, n) != n:
                return None  # no broadcasting of length-1 axes is assumed
    if any(c not in size for c in out):
        return None
    return tuple(size[c] for c in out)


def first_operand_shape(op, known: dict):
    """The shape of ``op``'s only operand (None with any other number of operands)."""
    return atom_shape(op.operands[0], known) if len(op.operands) == 1 else None
