"""Facts every runtime helper declares where it is defined, with :func:`helper`.

Generated derivative code calls the helpers of this package; the transformer needs to know, of
each, how to differentiate a call of it again (forward over reverse, forward over forward),
what shape its result has, and whether it allocates. A helper declares these next to its
``def``::

    @helper(linear=("g",), like="x", passes=True)
    def sum_to(g, x): ...

Nothing here imports the transformer or the rules: ``sourcegrad.rules`` turns these facts
into tangent rules.
"""

from __future__ import annotations

from dataclasses import dataclass

#: who calls a helper: the pure derivative (which higher orders transform again), only the
#: running (optimized) code, or only the library itself (never generated code)
CALLERS = ("derivative", "running", "library")
#: ``"new"``: a new array holding no argument's memory; ``"outer"``: a new object (a list,
#: an array) that may hold an argument's arrays (``unindex`` of a list holds ``g``'s items)
ALLOCATIONS = ("new", "outer")
#: how a result's dtype follows from the operands' (declared by runtime helpers with
#: ``dtype=`` and by NumPy functions in ``sourcegrad/rules``)
DTYPE_RULES = {
    "ufunc": "NumPy's own promotion of the operands (evaluated on 0-d stand-ins)",
    "promote": "np.result_type of the array operands (products: einsum, dot, matmul, stack)",
    "operand": "the dtype of the (first) array operand (reshape, transpose, zeros_like)",
    "creation": "the dtype keyword where given, else float64 (zeros, ones, empty)",
    "reduced": "the dtype of the function applied to a one-element array of the operand's",
}


@dataclass(frozen=True)
class HelperFacts:
    """What a helper declares (see :func:`helper`)."""

    linear: tuple = ()
    jointly: bool = False
    constant: bool = False
    tangent_rule: bool = False
    like: str | None = None
    allocates: str | None = None
    passes: bool = False
    checks: bool = False
    called_by: str = "derivative"
    dtype: str | None = None

    @property
    def needs_tangent(self) -> bool:
        """Whether generated code that calls the helper is differentiated again."""
        return self.called_by == "derivative"


#: helper name -> its :class:`HelperFacts`
HELPER_FACTS: dict = {}
#: helper name -> the helper, for those declared with :func:`helper`
HELPERS: dict = {}


def helper(**facts):
    """Declare the facts of the decorated helper (returned unchanged), as keywords:

    * its tangent: ``linear``, the parameters its result is linear in, each on its own (a
      product helper is bilinear: ``linear=("g", "x2")`` gives one term per parameter), or
      all together with ``jointly=True`` (one call maps all their tangents: a list or a pair
      that ``+`` would concatenate); or ``constant=True`` (a constant for differentiation: a
      shape, a marker, zeros); or ``tangent_rule=True``, a tangent template written in
      ``sourcegrad/rules/`` (``runtime_rules.py``, or next to the rule that calls it);
    * ``like``: the parameter whose shape (and rank) its result has, where one has;
    * ``allocates``: one of :data:`ALLOCATIONS`, or None where the result may be an argument;
      ``passes=True``: it may return its first argument itself;
    * ``checks=True``: it raises where what it checks does not hold, so a call of it is kept
      where its result is never read (in code transformed again too, where the statement's
      own marks are gone);
    * ``called_by``: one of :data:`CALLERS` (default ``"derivative"``);
    * ``dtype``: how its result's dtype follows from its arguments', one of
      :data:`DTYPE_RULES`, where one rule holds for every array argument.
    """
    declared = _facts(**facts)

    def declare(fn):
        HELPER_FACTS[fn.__name__] = declared
        HELPERS[fn.__name__] = fn
        return fn

    return declare


def declare_helpers(*names: str, **facts) -> None:
    """Declare the facts (keywords of :func:`helper`) of the helpers ``names``, by name: for
    helpers whose ``def`` does not carry the decorator."""
    declared = _facts(**facts)
    for name in names:
        HELPER_FACTS[name] = declared


def _facts(*, linear=(), called_by="derivative", allocates=None, **flags) -> HelperFacts:
    if called_by not in CALLERS:
        raise ValueError(f"called_by {called_by!r} is not one of {CALLERS}")
    if allocates is not None and allocates not in ALLOCATIONS:
        raise ValueError(f"allocates {allocates!r} is not one of {ALLOCATIONS}")
    if flags.get("dtype") is not None and flags["dtype"] not in DTYPE_RULES:
        raise ValueError(f"dtype rule {flags['dtype']!r} is not one of {sorted(DTYPE_RULES)}")
    return HelperFacts(linear=tuple(linear), called_by=called_by, allocates=allocates, **flags)


def helpers_where(**wanted) -> frozenset:
    """The names of the helpers whose facts have every attribute value in ``wanted``
    (``helpers_where(allocates="new")``)."""
    return frozenset(
        name
        for name, facts in HELPER_FACTS.items()
        if all(getattr(facts, k) == v for k, v in wanted.items())
    )


def helper_functions_where(**wanted) -> frozenset:
    """The helpers themselves (the functions, for generated code to be matched by identity)
    whose facts have every attribute value in ``wanted``, of those declared with
    :func:`helper`."""
    return frozenset(HELPERS[name] for name in helpers_where(**wanted) if name in HELPERS)


def helper_facts(fn) -> HelperFacts | None:
    """The facts the helper ``fn`` declared with :func:`helper` (by identity: a function of
    the same name that is not the helper has none), or None."""
    name = getattr(fn, "__name__", None)
    return HELPER_FACTS.get(name) if name in HELPERS and HELPERS[name] is fn else None
