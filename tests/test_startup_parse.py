"""The fast ast -> gast conversion of the parse pass gives gast's own tree, node for node."""

from __future__ import annotations

import ast
from pathlib import Path

import gast
import pytest

from sourcegrad import gast_trees

ROOT = Path(__file__).resolve().parent.parent

SNIPPETS = [
    "def f(x, /, y: int = 1, *args, z, w=2, **kw) -> float:\n    return x\n",
    "async def g(a):\n    async with a as b:\n        await b\n    async for c in b:\n        pass\n",
    "class C(B, metaclass=M):\n    @property\n    def p(self):\n        return super().p\n",
    "try:\n    x = 1\nexcept (ValueError, KeyError) as e:\n    raise\nexcept Exception:\n    pass\n",
    "match p:\n    case [1, *rest]:\n        pass\n    case {'k': v, **kw}:\n        pass\n"
    "    case C(a, b=c) | None:\n        pass\n",
    "f = lambda a, *b, c=1, **d: (a, b, c, d)\ny = {**d, 1: 2}\nz = [i for i in x if i]\n",
    "global a, b\ndel x[1:2, ...]\nx @= y\nprint(f'{x!r:>{w}}')\nassert x, 'm'\n",
    "def h(a):  # type: (int) -> int\n    b = a  # type: int\n    return b\n",
]


def _difference(a, b) -> str | None:
    """Where two trees differ, or None: node classes (by name), the keys of every node's
    ``__dict__`` (fields, positions, in order), list lengths, and every other value by its
    ``repr``, compared as they are found (no copy of either tree is made)."""
    stack = [(a, b, None)]
    while stack:
        x, y, trail = stack.pop()
        if isinstance(x, list) or isinstance(y, list):
            if not (isinstance(x, list) and isinstance(y, list)) or len(x) != len(y):
                return _where(trail)
            stack.extend((p, q, (trail, i)) for i, (p, q) in enumerate(zip(x, y)))
        elif isinstance(x, ast.AST) or isinstance(y, ast.AST):
            if not (isinstance(x, ast.AST) and isinstance(y, ast.AST)):
                return _where(trail)
            dx, dy = x.__dict__, y.__dict__
            if type(x).__name__ != type(y).__name__ or list(dx) != list(dy):
                return _where(trail)
            stack.extend((dx[k], dy[k], (trail, k)) for k in dx)
        elif repr(x) != repr(y):
            return _where(trail)
    return None


def _where(trail) -> str:
    steps = []
    while trail is not None:
        trail, step = trail
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return "tree" + "".join(reversed(steps))


def test_a_difference_is_found_where_it_is():
    same, other = gast.parse("y = x + 1\n"), gast.parse("y = x + 2\n")
    assert _difference(same, gast.parse("y = x + 1\n")) is None
    assert _difference(same, other) == "tree.body[0].value.right.value"
    other.body[0].value.right.extra = 1  # a key gast does not set
    assert _difference(gast.parse("y = x + 2\n"), other) == "tree.body[0].value.right"


@pytest.mark.parametrize("text", SNIPPETS)
def test_snippets_convert_as_gast_does(text):
    for comments in (False, True):
        if comments:  # type comments are kept only when asked for; both ways must agree
            made = gast_trees._to_gast(ast.parse(text, type_comments=True))
            want = gast.ast_to_gast(ast.parse(text, type_comments=True))
        else:
            made, want = gast_trees.parse_gast(text), gast.parse(text)
        assert _difference(made, want) is None


#: sourcegrad's own sources by folder: one test each, so that workers share them (all of them
#: in one test held one worker for seconds, at the end of the run)
SOURCE_FOLDERS = sorted({p.parent for p in (ROOT / "sourcegrad").rglob("*.py")})


def test_own_sources_are_all_read():
    files = [p for folder in SOURCE_FOLDERS for p in folder.glob("*.py")]
    assert len(files) > 100
    assert sorted(files) == sorted((ROOT / "sourcegrad").rglob("*.py"))


@pytest.mark.parametrize("folder", SOURCE_FOLDERS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_own_sources_convert_as_gast_does(folder):
    files = sorted(folder.glob("*.py"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        where = _difference(gast_trees.parse_gast(text), gast.parse(text))
        assert where is None, f"{path}: {where}"
