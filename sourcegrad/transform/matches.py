"""``match`` statements as ``if``/``else`` chains (part of normalize).

Entered through :func:`lower_matches`, which rewrites a user function's syntax tree in place,
before its jumps are lowered, so that the passes after it see only ``if`` statements. The
patterns a dispatch on a setting is written with are lowered, each to the test Python makes:

* a literal or dotted name (``case "relu":``, ``case Mode.TRAIN:``) -> ``subject == value``
* ``None``, ``True``, ``False`` -> ``subject is value``
* alternatives (``case "a" | "b":``) -> the tests joined with ``or``
* a capture or the wildcard (``case x:``, ``case _:``) -> always taken (``x = subject`` first)
* ``P as name`` -> the test of ``P``, then ``name = subject`` in the case's body
* a guard (``case P if cond:``) -> ``test and cond``

The subject is evaluated once, before the first test. Sequence, mapping and class patterns are
refused with the way out (write the tests as ``if``/``elif``).
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
    name = None
    if isinstance(pattern, gast.MatchAs):
        pattern, name = pattern.pattern, pattern.name
        if guard is not None:
            raise UnsupportedSyntaxError(
                f"`case ... as {name} if ...` is not supported: write the tests as "
                "`if`/`elif` on the value",
                None,
                line,
            )
        body = [S.assign(name, S.name(subject), line)] + body
    test = _test(pattern, subject)
    if guard is not None:
        test = gast.BoolOp(op=gast.And(), values=[test, guard])
    return [_if(test, body, rest, line)]


def _test(pattern, subject: str):
    if isinstance(pattern, gast.MatchValue):
        return gast.Compare(left=S.name(subject), ops=[gast.Eq()], comparators=[pattern.value])
    if isinstance(pattern, gast.MatchSingleton):
        value = gast.Constant(value=pattern.value, kind=None)
        return gast.Compare(left=S.name(subject), ops=[gast.Is()], comparators=[value])
    if isinstance(pattern, gast.MatchOr):
        return gast.BoolOp(op=gast.Or(), values=[_test(p, subject) for p in pattern.patterns])
    kind = type(pattern).__name__.removeprefix("Match").lower()
    raise UnsupportedSyntaxError(
        f"a {kind} pattern in `case` is not supported: write the tests as `if`/`elif` on "
        "the value (`if len(v) == 2:` then `a, b = v`)",
        None,
        pattern.lineno,
    )


def _if(test, body: list, rest: list, line: int) -> gast.If:
    node = gast.If(test=test, body=body or [gast.Pass()], orelse=rest)
    node.lineno = line
    return node
