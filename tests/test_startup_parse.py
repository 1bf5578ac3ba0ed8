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


def _full(node):
    """Every key of every node's ``__dict__`` (fields, positions, in order) and its value."""
    if isinstance(node, list):
        return [_full(x) for x in node]
    if not isinstance(node, ast.AST):
        return repr(node)
    return type(node).__name__, [(k, _full(v)) for k, v in node.__dict__.items()]


@pytest.mark.parametrize("text", SNIPPETS)
def test_snippets_convert_as_gast_does(text):
    for comments in (False, True):
        if comments:  # type comments are kept only when asked for; both ways must agree
            made = gast_trees._to_gast(ast.parse(text, type_comments=True))
            want = gast.ast_to_gast(ast.parse(text, type_comments=True))
        else:
            made, want = gast_trees.parse_gast(text), gast.parse(text)
        assert _full(made) == _full(want)


def test_own_sources_convert_as_gast_does():
    files = sorted((ROOT / "sourcegrad").rglob("*.py"))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _full(gast_trees.parse_gast(text)) == _full(gast.parse(text)), path
