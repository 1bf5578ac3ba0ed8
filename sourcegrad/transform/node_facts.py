"""Facts the passes attach to syntax nodes, declared in one table.

A fact is stored on the node as the attribute ``sg_<name>``, so that ``syntax.clone`` copies
it with the node. Every pass reads and writes facts through :func:`get_fact` /
:func:`set_fact`, which refuse a name :data:`FACTS` does not declare (or, for
:func:`set_fact`, a value of another type).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sg_"


@dataclass(frozen=True)
class Fact:
    """A fact's type (a type or tuple of types; ``None`` is always allowed), the value a node
    without the fact has, and what the fact means."""

    kinds: type | tuple
    default: object
    meaning: str


FACTS: dict[str, Fact] = {
    # --- normalize: every core statement
    "group": Fact(int, None, "index of the user's top-level statement it was lowered from"),
    "temp": Fact(bool, False, "its target is a temporary made by normalize, not a user name"),
    "path": Fact(tuple, None, "a path read: (argument name, tuple of keys) it reads"),
    "static": Fact(bool, False, "an expression fixed at transform time (np.pi, np.tanh)"),
    "opaque": Fact(bool, False, "an expression kept whole: no pass looks inside it"),
    "item_write": Fact(str, None, "`item = xs[t]` / `xs[t] = item` around `item[k] = v`: xs"),
    "updated_item": Fact(bool, False, "`item = d[k]` before `d[k] += v`: may be a 0-d array"),
    "shared_link": Fact(str, None, "`w = z[idx]` (or `w = z`) whose writes are followed: z"),
    "view_of": Fact(str, None, "the `...` index of a followed `w = z.T`: the view's attribute"),
    "copy_in": Fact(
        str,
        None,
        "an argument the called function changes: array, shallow, unknown (differentiated)",
    ),
    "view_check": Fact(
        tuple,
        None,
        "(message, line of the write[, 'array']): the refusal where the item read is a view"
        " (with 'array': where the view followed is no array)",
    ),
    "read_after": Fact(bool, False, "a call's argument its caller reads after the call"),
    "in_place": Fact(
        str, None, "`y_1 = y + v` of `y += v`: y, the array NumPy's update writes into"
    ),
    "same_kind": Fact(
        bool, False, "`y[...] = v` of `np.copyto(y, v)` or `out=y`: NumPy casts as same_kind"
    ),
    # --- reverse / forward: statements of a derivative
    "adjoint": Fact(bool, False, "a statement of the adjoint (or tangent) code"),
    "pure": Fact(bool, False, "a forward statement without side effects (may move or go)"),
    "keep": Fact(bool, False, "a statement simplify must neither remove nor propagate"),
    "comment": Fact(str, None, 'the heading "line N: <user code>" of a block of derivative'),
    "sweep": Fact(bool, False, "a statement of the adjoint sweep (where it starts)"),
    "tape_pair": Fact(tuple, None, "(id of the statement, name): pairs a tape push and pop"),
    "made_again": Fact(bool, False, "an item read a reversed loop makes instead of a tape pop"),
    "pop": Fact(tuple, None, "placeholder for the tape pops after a statement: (names, stmt)"),
    "reordered": Fact(
        bool, False, "a call summing in another order than the user's code (a fused loop)"
    ),
    "kept": Fact(int, None, "pairs a call of a function and the call of its vjp (one per site)"),
    "tangent_params": Fact(list, (), "on a jvp FunctionDef: its tangent parameter names"),
    "interleaved": Fact(bool, False, "on a FunctionDef: tangent code interleaved with primal"),
    # --- templates
    "resolved": Fact(bool, False, "a name already of the generated code (not a template's)"),
    # --- optimize and its helpers
    "dead": Fact(bool, False, "a statement the optimize pass is about to drop"),
    "mask": Fact(str, None, "the name of a ReLU mask taken before its input is overwritten"),
    "leading_summed": Fact(int, None, "a sum_leading(g, k) call: k, for the shape inference"),
    "blocks": Fact(bool, False, "a loop over cache-sized blocks (chunk): names hold blocks"),
    "stored": Fact(tuple, None, "(epoch, names) a compound statement stores: algebra's cache"),
}

_MISSING = object()


def _declared(name: str) -> Fact:
    fact = FACTS.get(name)
    if fact is None:
        raise KeyError(f"undeclared node fact {name!r}; declare it in node_facts.FACTS")
    return fact


#: fact name -> (the attribute holding it, its declared default), filled as facts are read
_READ: dict = {}


def get_fact(node, name: str, default=_MISSING):
    """The fact ``name`` of ``node``: its declared default (or ``default``) where unset."""
    read = _READ.get(name)
    if read is None:
        read = _READ[name] = (PREFIX + name, _declared(name).default)
    attr, declared = read
    return getattr(node, attr, declared if default is _MISSING else default)


def fact_attribute(name: str) -> str:
    """The attribute the declared fact ``name`` is stored in, for a test read many times
    (``getattr(node, fact_attribute("adjoint"), False)``, without a call of
    :func:`get_fact` per read); refuses an undeclared name."""
    _declared(name)
    return PREFIX + name


def has_fact(node, name: str) -> bool:
    """Whether the fact ``name`` was set on ``node``."""
    _declared(name)
    return hasattr(node, PREFIX + name)


def set_fact(node, name: str, value) -> None:
    """Attach the fact ``name`` to ``node``; refuses undeclared names and mistyped values."""
    fact = _declared(name)
    if value is not None and not isinstance(value, fact.kinds):
        raise TypeError(f"node fact {name!r} takes {fact.kinds}, not {type(value).__name__}")
    setattr(node, PREFIX + name, value)


def copy_facts(source, target, names) -> None:
    """Copy the facts ``names`` that ``source`` has onto ``target``."""
    for name in names:
        if has_fact(source, name):
            setattr(target, PREFIX + name, getattr(source, PREFIX + name))


def copy_all_facts(source, target, skip=(), lineno: bool = False) -> None:
    """Copy every fact ``source`` has (but those in ``skip``) onto ``target``, and its line
    number with ``lineno``: for a statement a pass rewrites into another form."""
    for name, value in facts_of(source).items():
        if name not in skip:
            setattr(target, PREFIX + name, value)
    if lineno and hasattr(source, "lineno"):
        target.lineno = source.lineno


def facts_of(node) -> dict:
    """Every declared fact set on ``node``, by name (for passes that move facts between
    nodes wholesale)."""
    return {name: getattr(node, PREFIX + name) for name in FACTS if hasattr(node, PREFIX + name)}
