"""The lines of a function's definition in its file, found from its code object.

``inspect.getblock`` finds them by tokenizing, and the first tokenization in a process compiles
the tokenizer's regular expressions (2 ms, a sixth of a small function's first derivative).
The code object already says where the function ends: the last line any of its instructions
(or its nested functions' instructions) spans. The lines after that one which are indented
deeper than the ``def`` (a trailing ``else: pass``, a closing bracket) belong to it too.
"""

from __future__ import annotations

import inspect
import types


def definition_lines(lines: list[str], code: types.CodeType) -> list[str]:
    """The lines of the definition of ``code`` (whose first line, ``co_firstlineno``, is its
    ``def`` or first decorator) in ``lines`` (its file's): as ``inspect.getblock`` gives them
    where the end the code object records can be read as above, else ``inspect.getblock``'s."""
    start = code.co_firstlineno - 1
    found = _by_code(lines, start, code)
    return found if found is not None else inspect.getblock(lines[start:])


def _by_code(lines: list[str], start: int, code: types.CodeType) -> list[str] | None:
    header = start
    while header < len(lines) and lines[header].lstrip().startswith("@"):
        header += 1
    if header >= len(lines) or not lines[header].lstrip().startswith(("def ", "async def ")):
        return None
    last = _last_line(code) - 1
    if last < header or last >= len(lines):
        return None
    indent = _indent(lines[header])
    end = last + 1
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > last + 1 and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _last_line(code: types.CodeType) -> int:
    """The last line any instruction of ``code`` or of the code nested in it spans."""
    last = code.co_firstlineno
    todo = [code]
    while todo:
        c = todo.pop()
        for end in _ends(c):
            if end is not None and end > last:
                last = end
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return last


def _ends(code: types.CodeType):
    """The last line of each instruction (Python 3.11 on), else the line each starts on."""
    if hasattr(code, "co_positions"):
        return (end for _, end, _, _ in code.co_positions())
    return (line for _, _, line in code.co_lines())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
