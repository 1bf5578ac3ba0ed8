"""``match`` statements as ``if``/``else`` chains (part of normalize).

Entered through :func:`lower_matches`, which rewrites a user function's syntax tree in place,
before its jumps are lowered, so that the passes after it see only ``if`` statements. The
patterns a dispatch on a setting is written with are lowered, each to the test Python makes:

* a literal or dotted name (``case "relu":``, ``case Mode.TRAIN:``) -> ``subject == value``
* ``None``, ``True``, ``False`` -> ``subject is value``
* alternatives (``case "a" | "b":``) -> the tests joined with ``or``
* a capture or the wildcard (``case x:``, ``case _:``) -> always taken (``x = subject`` first)
* ``P as name`` -> the test of ``P``, then ``name = subject`` in the case's body
* a guard (``case P if cond:``) -> ``test and cond`` (``cond`` reading the pattern's names as
  the items they bind)
* a sequence (``case ("scale", s):``, ``case [first, *rest]:``) -> ``isinstance(subject,
  (list, tuple)) and len(subject) == 2 and subject[0] == "scale"``, then ``s = subject[1]``
  (``rest = list(subject[1:])``) in the case's body; a mapping without ``**rest`` (``case
  {"kind": k}:``) -> ``isinstance(subject, dict) and "kind" in subject``, then ``k =
  subject["kind"]``

The subject is evaluated once, before the first test. Class patterns, a mapping's ``**rest``
and alternatives binding names are refused with the way out (write the tests as
``if``/``elif``). A sequence pattern matches a list or a tuple (a NamedTuple too), as Python's
does; another ``collections.abc.Sequence`` (a ``range``, a ``deque``) is not matched.
"""

from __future__ import annotations

import gast

from ..errors import UnsupportedSyntaxError
from . import syntax as S
from .walk import rewrite_blocks


def lower_matches(fn: gast.FunctionDef, names: S.NameGen) -> None:
    """Rewrite ``fn`` in place so that it contains no ``match`` statement; raises
    :class:`UnsupportedSyntaxError` (without a file) for a pattern it does not lower."""
    if any(isinstance(n, gast.Match) for n in S.walk(fn)):
        fn.body = _block(fn.body, names)


def _block(stmts, names) -> list:
    return rewrite_blocks(stmts, lambda s: _lowered(s, names))


def _lowered(s, names) -> list:
    if not isinstance(s, gast.Match):
        return [s]
    subject = s.subject
    before = []
    if not isinstance(subject, gast.Name):
        value = names.fresh("subject")
        before.append(S.assign(value, subject, s.lineno))
        subject = S.name(value)
    chain: list = []
    for case in reversed(s.cases):
        chain = _case(case, subject.id, _block(case.body, names), chain)
    return before + chain


def _case(case, subject: str, body: list, rest: list) -> list:
    """The statements for ``case`` whose body is ``body``, with ``rest`` (the later cases) run
    where it does not match."""
    pattern, guard, line = case.pattern, case.guard, case.pattern.lineno
    binds: list = []
    test = _test(pattern, S.name(subject), binds)
    bind = [S.assign(name, value, line) for name, value in binds]
    if test is None:  # a capture or the wildcard: always taken, the name bound first
        return bind + (body if guard is None else [_if(guard, body, rest, line)])
    if guard is not None:
        test = _joined([test, _bound_in(guard, dict(binds))])
    return [_if(test, bind + body, rest, line)]


def _test(pattern, subject, binds: list):
    """The test that ``subject`` (an expression, copied where used) matches ``pattern``, or
    None where it always does; the names the pattern binds are added to ``binds`` as
    ``(name, expression)`` pairs."""
    if isinstance(pattern, gast.MatchValue):
        return gast.Compare(left=S.clone(subject), ops=[gast.Eq()], comparators=[pattern.value])
    if isinstance(pattern, gast.MatchSingleton):
        value = gast.Constant(value=pattern.value, kind=None)
        return gast.Compare(left=S.clone(subject), ops=[gast.Is()], comparators=[value])
    if isinstance(pattern, gast.MatchAs):
        test = None if pattern.pattern is None else _test(pattern.pattern, subject, binds)
        if pattern.name:
            binds.append((pattern.name, S.clone(subject)))
        return test
    if isinstance(pattern, gast.MatchOr):
        inner: list = []
        tests = [_test(p, subject, inner) for p in pattern.patterns]
        if inner:
            raise _refused(pattern, "an alternative binding names (`case (a, 1) | (1, a):`)")
        if any(t is None for t in tests):
            return None
        return gast.BoolOp(op=gast.Or(), values=tests)
    if isinstance(pattern, gast.MatchSequence):
        return _sequence_test(pattern, subject, binds)
    if isinstance(pattern, gast.MatchMapping) and pattern.rest is None:
        tests = [_is_instance(subject, ("dict",))]
        for key, sub in zip(pattern.keys, pattern.patterns):
            tests.append(gast.Compare(left=key, ops=[gast.In()], comparators=[S.clone(subject)]))
            tests.append(_test(sub, _item(subject, S.clone(key)), binds))
        return _joined(tests)
    kind = type(pattern).__name__.removeprefix("Match").lower()
    raise _refused(pattern, f"a {kind} pattern")


def _sequence_test(pattern, subject, binds: list):
    """A sequence pattern (``case ("scale", s):``, ``case [first, *rest]:``): a list or a
    tuple of the length, each item matching its pattern."""
    items = pattern.patterns
    star = next((i for i, p in enumerate(items) if isinstance(p, gast.MatchStar)), None)
    n = len(items) if star is None else len(items) - 1
    size = S.call(S.name("len"), [S.clone(subject)])
    length = gast.Compare(
        left=size, ops=[gast.Eq() if star is None else gast.GtE()], comparators=[S.const(n)]
    )
    tests = [_is_instance(subject, ("list", "tuple")), length]
    for i, sub in enumerate(items):
        if i == star:
            if sub.name:
                stop = None if i == n else S.const(i - n)
                part = gast.Slice(lower=S.const(i), upper=stop, step=None)
                binds.append((sub.name, S.call(S.name("list"), [_item(subject, part)])))
            continue
        index = i if star is None or i < star else i - len(items)
        tests.append(_test(sub, _item(subject, S.const(index)), binds))
    return _joined(tests)


def _is_instance(subject, kinds: tuple):
    classes = gast.Tuple(elts=[S.name(k) for k in kinds], ctx=gast.Load())
    return S.call(S.name("isinstance"), [S.clone(subject), classes])


def _item(subject, index):
    return gast.Subscript(value=S.clone(subject), slice=index, ctx=gast.Load())


def _joined(tests: list):
    tests = [t for t in tests if t is not None]
    if not tests:
        return None
    return tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)


def _bound_in(guard, binds: dict):
    """``guard`` reading the expressions of the names the pattern binds (it is tested before
    the case's body binds them)."""
    for node in S.walk(guard):
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.Name) and value.id in binds:
                setattr(node, field, S.clone(binds[value.id]))
            elif isinstance(value, list):
                value[:] = [
                    S.clone(binds[v.id]) if isinstance(v, gast.Name) and v.id in binds else v
                    for v in value
                ]
    if isinstance(guard, gast.Name) and guard.id in binds:
        return S.clone(binds[guard.id])
    return guard


def _refused(pattern, what: str) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        f"{what} in `case` is not supported: write the tests as `if`/`elif` on the value "
        "(`if len(v) == 2:` then `a, b = v`)",
        None,
        pattern.lineno,
    )


def _if(test, body: list, rest: list, line: int) -> gast.If:
    node = gast.If(test=test, body=body or [gast.Pass()], orelse=rest)
    node.lineno = line
    return node
