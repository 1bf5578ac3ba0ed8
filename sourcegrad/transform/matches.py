"""``match`` statements as ``if``/``else`` chains (part of normalize).

Entered through :func:`lower_matches`, which rewrites a user function's syntax tree in place,
before its jumps are lowered, so that the passes after it see only ``if`` statements. The
patterns a dispatch on a setting is written with are lowered, each to the test Python makes:

* a literal or dotted name (``case "relu":``, ``case Mode.TRAIN:``) -> ``subject == value``
* ``None``, ``True``, ``False`` -> ``subject is value``
* alternatives (``case "a" | "b":``) -> the tests joined with ``or``
* a capture or the wildcard (``case x:``, ``case _:``) -> always taken (``x = subject`` first)
* ``P as name`` -> the test of ``P``, then ``name = subject`` in the case's body
* a guard (``case P if cond:``) -> ``test and cond`` (``cond`` reading the values the pattern
  binds: the names are bound in the case's body)
* a sequence (``case (n,):``, ``case [a, *rest]:``) -> ``isinstance(subject, (list, tuple,
  range)) and len(subject) == 1`` (``>=`` with a star) and the items' tests on
  ``subject[i]`` (``subject[-k]`` after the star); ``n = subject[0]``, ``rest =
  list(subject[1:])`` in the body
* a mapping without ``**rest`` (``case {"kind": "a", "gain": g}:``) -> ``isinstance(subject,
  dict) and "kind" in subject and subject["kind"] == "a" and "gain" in subject``, ``g =
  subject["gain"]`` in the body

The subject is evaluated once, before the first test. Class patterns, ``**rest`` and names
bound in alternatives are refused with the way out (write the tests as ``if``/``elif``).
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
    if isinstance(pattern, gast.MatchAs) and pattern.pattern is None:  # capture or wildcard
        bind = [S.assign(pattern.name, S.name(subject), line)] if pattern.name else []
        if guard is None:
            return bind + body
        return bind + [_if(guard, body, rest, line)]
    tests, binds = _match(pattern, S.name(subject), line)
    if guard is not None:
        tests.append(_bound_in(guard, dict(binds)))
    body = [S.assign(n, v, line) for n, v in binds] + body
    return [_if(_all(tests), body, rest, line)]


def _match(pattern, subject, line: int) -> tuple[list, list]:
    """``(tests, binds)``: the tests (in order, each read only where those before it hold)
    under which ``pattern`` matches the expression ``subject``, and the ``(name, value)``
    pairs it binds."""
    if isinstance(pattern, gast.MatchAs):
        tests, binds = (
            ([], []) if pattern.pattern is None else _match(pattern.pattern, subject, line)
        )
        return tests, binds + ([(pattern.name, subject)] if pattern.name else [])
    if isinstance(pattern, gast.MatchValue):
        return [
            gast.Compare(left=S.clone(subject), ops=[gast.Eq()], comparators=[pattern.value])
        ], []
    if isinstance(pattern, gast.MatchSingleton):
        value = S.const(pattern.value)
        return [gast.Compare(left=S.clone(subject), ops=[gast.Is()], comparators=[value])], []
    if isinstance(pattern, gast.MatchOr):
        alternatives = [_match(p, subject, line) for p in pattern.patterns]
        if any(binds for _, binds in alternatives):
            _refuse("names bound in alternatives (`case (a, 1) | (1, a):`)", line)
        return [gast.BoolOp(op=gast.Or(), values=[_all(t) for t, _ in alternatives])], []
    if isinstance(pattern, gast.MatchSequence):
        return _sequence(pattern.patterns, subject, line)
    if isinstance(pattern, gast.MatchMapping) and pattern.rest is None:
        tests = [_isinstance(subject, ("dict",))]
        binds: list = []
        for key, sub in zip(pattern.keys, pattern.patterns):
            tests.append(gast.Compare(left=key, ops=[gast.In()], comparators=[S.clone(subject)]))
            item = gast.Subscript(value=S.clone(subject), slice=S.clone(key), ctx=gast.Load())
            more, bound = _match(sub, item, line)
            tests, binds = tests + more, binds + bound
        return tests, binds
    kind = type(pattern).__name__.removeprefix("Match").lower()
    _refuse(f"a {kind} pattern in `case`", line)


def _sequence(patterns: list, subject, line: int) -> tuple[list, list]:
    """:func:`_match` of a sequence pattern: a list, tuple or range (not a string, an array
    or a dict) of the length the pattern asks, each item matched by its pattern."""
    stars = [i for i, p in enumerate(patterns) if isinstance(p, gast.MatchStar)]
    n = len(patterns) - len(stars)
    length = S.call(S.name("len"), [S.clone(subject)])
    op = gast.GtE() if stars else gast.Eq()
    tests = [
        _isinstance(subject, ("list", "tuple", "range")),
        gast.Compare(left=length, ops=[op], comparators=[S.const(n)]),
    ]
    binds: list = []
    star = stars[0] if stars else len(patterns)
    for i, p in enumerate(patterns):
        if i == star:
            if p.name:
                after = len(patterns) - i - 1
                upper = S.const(-after) if after else None
                part = gast.Slice(lower=S.const(i), upper=upper, step=None)
                rest = gast.Subscript(value=S.clone(subject), slice=part, ctx=gast.Load())
                binds.append((p.name, S.call(S.name("list"), [rest])))
            continue
        k = i if i < star else i - len(patterns)
        item = gast.Subscript(value=S.clone(subject), slice=S.const(k), ctx=gast.Load())
        more, bound = _match(p, item, line)
        tests, binds = tests + more, binds + bound
    return tests, binds


def _isinstance(subject, kinds: tuple):
    types = gast.Tuple(elts=[S.name(k) for k in kinds], ctx=gast.Load())
    return S.call(S.name("isinstance"), [S.clone(subject), types if kinds[1:] else types.elts[0]])


def _all(tests: list):
    if not tests:
        return S.const(True)
    return tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)


def _bound_in(guard, binds: dict):
    """``guard`` reading the values the pattern binds in place of their names (the names are
    bound in the case's body, where the guard holds)."""
    guard = S.clone(guard)
    for n in S.walk(guard):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in binds:
            value = S.clone(binds[n.id])
            n.__class__ = value.__class__
            n.__dict__.clear()
            n.__dict__.update(value.__dict__)
    return guard


def _refuse(what: str, line: int):
    raise UnsupportedSyntaxError(
        f"{what} is not supported: write the tests as `if`/`elif` on the value (`if len(v) "
        "== 2:` then `a, b = v`)",
        None,
        line,
    )


def _if(test, body: list, rest: list, line: int) -> gast.If:
    node = gast.If(test=test, body=body or [gast.Pass()], orelse=rest)
    node.lineno = line
    return node
